/* yaml2json.h -- YAML streams (kubeconfig, manifests) to jansson values. */
#pragma once

#include <stddef.h>

#include <jansson.h>

/*
 * Typing of plain (unquoted) scalars follows the YAML 1.2 core schema, plus
 * the YAML 1.1 booleans yes/no/on/off that Kubernetes' YAML decoder accepts:
 *   ~, null, Null, NULL and the empty scalar          -> null
 *   true/True/TRUE, false/..., yes/no/on/off (3 cases) -> true/false
 *   [-+]?[0-9]+, 0x[0-9a-fA-F]+, 0o[0-7]+ (fit int64)  -> integer
 *   decimal fractions and exponents                    -> real
 *   anything else (.inf and .nan included)             -> string
 * Quoted and block scalars are always strings. The tags !!str, !!int,
 * !!float, !!bool and !!null force a type; other tags are ignored. Anchors
 * and aliases are expanded into copies (bounded, so alias bombs fail), and
 * merge keys (<<) are honoured. Mapping keys must be scalars and unique.
 */

/**
 * Parse every document of the YAML stream @text (@len bytes; JSON is valid
 * input too). Documents that are empty or null are left out.
 * @param out on success, a new JSON array holding one value per document.
 * @return 0, or SX_EINVAL (or -ENOMEM) with "line L column C: reason" in @err.
 */
int k8s_yaml_parse(json_t **out, const char *text, size_t len, char *err, size_t errlen);

/**
 * k8s_yaml_parse() on the contents of the file @path.
 * @return 0, -errno when the file cannot be read, or as k8s_yaml_parse();
 *         @err then holds the reason (without the file name).
 */
int k8s_yaml_load_file(json_t **out, const char *path, char *err, size_t errlen);

/**
 * Read a whole file (at most @max bytes) into a new NUL-terminated buffer.
 * @return 0, or -errno (-EFBIG when larger than @max) with the reason in @err.
 */
int k8s_read_file(char **out, size_t *len, const char *path, size_t max, char *err, size_t errlen);
