/* reload.c -- configuration digests and reloads on request (SIGUSR1, the reload plugin). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include <sextant/plugin.h>

#include "config.h"
#include "corefile.h"
#include "server.h"

/* Each file is hashed by content, in the order the parser read it. */
int
sx_config_digest(const char *path, char hex[129], char *err, size_t errlen)
{
	struct sx_corefile *cf;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *ctx;
	size_t fi;
	int rc = 0;

	rc = sx_corefile_load(path, &cf, err, errlen);
	if (rc < 0) {
		return rc;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha512(), NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	for (fi = 0; fi < cf->nfiles && rc == 0; fi++) {
		FILE *f = fopen(cf->files[fi], "rb");
		char buf[8192];
		size_t n;

		if (!f) {
			snprintf(err, errlen, "%s: %s", cf->files[fi], strerror(errno));
			rc = -errno;
			break;
		}
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
			EVP_DigestUpdate(ctx, buf, n);
		}
		fclose(f);
	}
	if (rc == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen)) {
		for (i = 0; i < mdlen; i++) {
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		}
	}
out:
	EVP_MD_CTX_free(ctx);
	sx_corefile_free(cf);
	return rc;
}

int
sx_server_reload_now(void)
{
	struct sx_runtime *rt = sx_server_runtime();
	struct sx_config *cfg;
	char err[1024], hex[129] = "", old[129];
	int rc;

	if (!rt->load) {
		return 0;
	}
	if (rt->conf_path) {
		sx_config_digest(rt->conf_path, hex, err, sizeof(err));
	}
	memcpy(rt->tried, hex, sizeof(hex));
	rc = rt->load(&cfg, err, sizeof(err));
	if (rc < 0) {
		goto failed;
	}
	/* The new instances read the digest as they start (reload logs it): give them theirs. */
	memcpy(old, rt->digest, sizeof(old));
	memcpy(rt->digest, hex, sizeof(hex));
	rc = sx_server_reload(cfg, err, sizeof(err));
	if (rc < 0) {
		memcpy(rt->digest, old, sizeof(old));
		goto failed;
	}
	return 0;
failed:
	rt->reload_failures++;
	sx_log(SX_LOG_ERROR, "Restart failed: %s", err);
	return rc;
}

static void
check_and_reload(evutil_socket_t fd, short what, void *arg)
{
	struct sx_runtime *rt = arg;
	char hex[129], err[1024];

	(void)fd;
	(void)what;
	if (!rt->conf_path || sx_config_digest(rt->conf_path, hex, err, sizeof(err)) < 0) {
		return; /* unreadable now: the reload attempt would fail the same way; try next time */
	}
	/* As CoreDNS: a Corefile that failed is not tried again until it changes. */
	if (strcmp(hex, rt->tried) != 0) {
		sx_plog(SX_LOG_INFO, rt->reload_by, "Corefile changed, reloading");
		sx_server_reload_now();
	}
}

void
sx_rt_reload_if_changed(struct sx_runtime *rt, const char *who)
{
	rt->reload_by = who;
	/* Not from the caller's stack: a reload tears down the plugin instance asking. */
	if (event_base_once(rt->base, -1, EV_TIMEOUT, check_and_reload, rt, NULL) < 0) {
		sx_log(SX_LOG_ERROR, "cannot schedule a configuration check");
	}
}

const char *
sx_rt_config_digest(struct sx_runtime *rt)
{
	return rt->digest;
}

uint64_t
sx_rt_reload_failures(struct sx_runtime *rt)
{
	return rt->reload_failures;
}
