/*
 * fuzz_corefile.c -- libFuzzer target: the Corefile parser and every plugin's setup.
 * Each input is a Corefile, read and set up as `sextant -check` does; nothing is started.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu.h>

#include "config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	rcu_register_thread();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sx_config_opts opts = { .default_port = 53, .workers = 1 };
	struct sx_config *cfg = NULL;
	char err[1024];
	char *text = malloc(size + 1);

	if (!text) {
		return 0;
	}
	memcpy(text, data, size);
	text[size] = 0;
	err[0] = 0;
	/* Relative file names are looked up in the fuzz data, not wherever it runs. */
	if (sx_config_parse("Corefile", text, FUZZ_SRC "/tests/fuzz/data", &opts, &cfg, err,
	                    sizeof(err)) == 0) {
		sx_config_free(cfg);
	} else if (!err[0]) {
		fprintf(stderr, "fuzz_corefile: an error without a message\n");
		abort();
	}
	free(text);
	return 0;
}
