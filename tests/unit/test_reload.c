/* test_reload.c -- configuration digests, and when a changed Corefile is reloaded or not. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <urcu.h>

#include "config.h"
#include "serving.h"
#include "server.h"

static const char first[] = "example.org.:0 {\n"
                            "\tbind 127.0.0.1\n"
                            "\twhoami\n"
                            "}\n";

static char dir[64], path[128];
static int saved_stdout = -1, log_fd = -1;
static int loads;

/* Write @text to @name in the test's directory; @return its path. */
static const char *
put(const char *name, const char *text)
{
	static char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	cr_assert_not_null(f, "%s: %s", p, strerror(errno));
	fputs(text, f);
	fclose(f);
	return p;
}

/* As main()'s loader: the Corefile read anew, with the plugins compiled in. */
static int
load_conf(struct sx_config **out, char *err, size_t errlen)
{
	static const struct sx_config_opts opts = { .default_port = 53, .workers = 1 };

	loads++;
	return sx_config_load(path, &opts, out, err, errlen);
}

/*
 * The server runs @first, read from a file it may reload, as main() sets it up;
 * log lines go to a file of the test's own (they are written to stdout).
 */
static void
setup(void)
{
	struct sx_runtime *rt;
	char err[512];

	strcpy(dir, "/tmp/sx_test_reload_XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/Corefile", dir);
	put("Corefile", first);
	serving_start(serving_config(NULL, first));
	rt = sx_server_runtime();
	rt->conf_path = path;
	rt->load = load_conf;
	cr_assert_eq(sx_config_digest(path, rt->digest, err, sizeof(err)), 0, "%s", err);
	memcpy(rt->tried, rt->digest, sizeof(rt->tried));
	log_fd = memfd_create("log", 0);
	cr_assert_geq(log_fd, 0);
	saved_stdout = dup(STDOUT_FILENO);
	cr_assert_geq(dup2(log_fd, STDOUT_FILENO), 0);
}

static void
teardown(void)
{
	dup2(saved_stdout, STDOUT_FILENO);
	close(saved_stdout);
	close(log_fd);
	serving_stop();
	unlink(path);
	unlink(put("extra.conf", ""));
	rmdir(dir);
}

TestSuite(reload, .init = setup, .fini = teardown, .timeout = 60);

/* Everything logged so far. */
static const char *
logged(void)
{
	static char got[4096];
	ssize_t n = pread(log_fd, got, sizeof(got) - 1, 0);

	cr_assert_geq(n, 0);
	got[n] = '\0';
	return got;
}

static int
count(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)) != NULL; p++) {
		n++;
	}
	return n;
}

/* SHA512 of @text in hex, as a digest of files holding it. */
static const char *
sha512_hex(const char *text)
{
	static char hex[129];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	cr_assert(EVP_Digest(text, strlen(text), md, &len, EVP_sha512(), NULL));
	cr_assert_eq(len, 64);
	for (unsigned i = 0; i < len; i++) {
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	}
	return hex;
}

Test(reload, the_digest_covers_every_file_in_the_order_read)
{
	static const char main_text[] = "example.org.:0 {\n\timport extra.conf\n}\n";
	char hex[129], err[512] = "";

	put("Corefile", main_text);
	put("extra.conf", "bind 127.0.0.1\nwhoami\n");
	cr_assert_eq(sx_config_digest(path, hex, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(hex, sha512_hex("example.org.:0 {\n\timport extra.conf\n}\n"
	                                 "bind 127.0.0.1\nwhoami\n"));
	/* Only the imported file changes: so does the digest. */
	put("extra.conf", "bind 127.0.0.1\nlog\nwhoami\n");
	cr_assert_eq(sx_config_digest(path, hex, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(hex, sha512_hex("example.org.:0 {\n\timport extra.conf\n}\n"
	                                 "bind 127.0.0.1\nlog\nwhoami\n"));
}

Test(reload, a_digest_of_what_cannot_be_read_is_an_error_naming_it)
{
	char hex[129] = "", err[512] = "", missing[160];

	snprintf(missing, sizeof(missing), "%s/nothere", dir);
	cr_assert_lt(sx_config_digest(missing, hex, err, sizeof(err)), 0);
	cr_assert(strstr(err, missing) != NULL, "%s", err);
	cr_assert_str_eq(hex, "");
}

/* Ask for a check, as the reload plugin does, and let the control loop run it. */
static void
check(void)
{
	sx_rt_reload_if_changed(sx_server_runtime(), "reload");
	cr_assert_eq(event_base_loop(sx_server_control(), EVLOOP_ONCE), 0);
}

Test(reload, an_unchanged_corefile_is_not_reloaded)
{
	struct sx_gen *before;

	rcu_read_lock();
	before = sx_gen_current();
	rcu_read_unlock();
	check();
	cr_assert_eq(loads, 0);
	cr_assert_str_eq(logged(), "");
	rcu_read_lock();
	cr_assert_eq(sx_gen_current(), before);
	rcu_read_unlock();
}

Test(reload, a_changed_corefile_is_loaded_and_its_digest_kept)
{
	static const char second[] = "example.org.:0 example.net.:0 {\n"
	                             "\tbind 127.0.0.1\n"
	                             "\twhoami\n"
	                             "}\n";
	struct sx_runtime *rt = sx_server_runtime();

	put("Corefile", second);
	check();
	cr_assert_eq(loads, 1);
	cr_assert_str_eq(logged(), "[INFO] plugin/reload: Corefile changed, reloading\n");
	cr_assert_str_eq(sx_rt_config_digest(rt), sha512_hex(second));
	cr_assert_eq(sx_rt_reload_failures(rt), 0);
	rcu_read_lock();
	cr_assert_eq(sx_gen_current()->cfg->blocks[0].zones.n, 2);
	rcu_read_unlock();
	/* Taken: asking again changes nothing. */
	check();
	cr_assert_eq(loads, 1);
}

Test(reload, a_corefile_that_fails_is_tried_once_until_it_changes)
{
	static const char bad[] = "example.org.:0 {\n\tnosuchplugin\n}\n";
	struct sx_runtime *rt = sx_server_runtime();
	char running[129];

	memcpy(running, rt->digest, sizeof(running));
	put("Corefile", bad);
	check();
	cr_assert_eq(loads, 1);
	cr_assert_eq(count(logged(), "[ERROR] Restart failed: "), 1, "%s", logged());
	cr_assert(strstr(logged(), "nosuchplugin") != NULL, "%s", logged());
	cr_assert_eq(sx_rt_reload_failures(rt), 1);
	cr_assert_str_eq(sx_rt_config_digest(rt), running);

	/* Unchanged: not tried again, nothing more logged. */
	check();
	check();
	cr_assert_eq(loads, 1);
	cr_assert_eq(count(logged(), "Restart failed"), 1);
	cr_assert_eq(sx_rt_reload_failures(rt), 1);

	/* Changed, and still failing: tried once more. */
	put("Corefile", "example.org.:0 {\n\tnosuchplugin\n\twhoami\n}\n");
	check();
	cr_assert_eq(loads, 2);
	cr_assert_eq(count(logged(), "Restart failed"), 2);
	cr_assert_eq(sx_rt_reload_failures(rt), 2);
	cr_assert_str_eq(sx_rt_config_digest(rt), running);
}

Test(reload, a_configuration_that_cannot_be_served_keeps_the_running_digest)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct sx_runtime *rt = sx_server_runtime();
	char text[256], running[129], tried[129];
	int taken = socket(AF_INET, SOCK_STREAM, 0);

	/* A port this test holds (no SO_REUSEPORT): the new listener cannot have it. */
	cr_assert_geq(taken, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(taken, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(taken, 1), 0);
	cr_assert_eq(getsockname(taken, (struct sockaddr *)&a, &alen), 0);
	snprintf(text, sizeof(text), "example.org.:%u {\n\tbind 127.0.0.1\n\twhoami\n}\n",
	         ntohs(a.sin_port));
	put("Corefile", text);
	memcpy(running, rt->digest, sizeof(running));
	memcpy(tried, sha512_hex(text), sizeof(tried));

	cr_assert_lt(sx_server_reload_now(), 0);
	cr_assert_eq(loads, 1);
	cr_assert_eq(count(logged(), "[ERROR] Restart failed: "), 1, "%s", logged());
	cr_assert_eq(sx_rt_reload_failures(rt), 1);
	/* The digest names what runs; the file it tried is remembered, so not tried again. */
	cr_assert_str_eq(sx_rt_config_digest(rt), running);
	cr_assert_str_eq(rt->tried, tried);
	check();
	cr_assert_eq(loads, 1);
	close(taken);
}

Test(reload, the_built_in_configuration_is_never_reloaded)
{
	struct sx_runtime *rt = sx_server_runtime();

	rt->load = NULL;
	rt->conf_path = NULL;
	cr_assert_eq(sx_server_reload_now(), 0);
	check();
	cr_assert_eq(loads, 0);
	cr_assert_eq(sx_rt_reload_failures(rt), 0);
	cr_assert_str_eq(logged(), "");
}
