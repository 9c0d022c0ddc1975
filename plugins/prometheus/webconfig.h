/* webconfig.h -- an exporter-toolkit web configuration file, as the OpenSSL context it asks for. */
#pragma once

#include <stddef.h>

struct ssl_ctx_st;

/**
 * Read the web configuration file @path (YAML: `tls_server_config:` with cert_file, key_file,
 * client_ca_file, client_auth_type, min_version, max_version) and build its server context.
 * Paths inside the file are relative to the file's directory. Keys Sextant does not implement
 * (basic_auth_users, http_server_config, inline cert...) are refused by name.
 * @param out gets the context, the caller's to SSL_CTX_free().
 * @param err gets "PATH: why" on failure.
 * @return 0, or a negative errno (-EINVAL for a bad file, -ENOMEM).
 */
int prom_webconfig_load(struct ssl_ctx_st **out, const char *path, char *err, size_t errlen);
