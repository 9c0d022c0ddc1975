/* yaml2json.c -- YAML streams (kubeconfig, manifests) to jansson values. */
#include "yaml2json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include <sextant/error.h>

#define MAX_DEPTH 256
/* Alias expansion copies nodes; this many copies at most per stream. */
#define ALIAS_BUDGET 1000000

struct yp {
	yaml_parser_t parser;
	json_t *anchors; /* anchor name -> finished node */
	size_t budget;   /* nodes alias expansion may still copy */
	char *err;
	size_t errlen;
};

static int fail(struct yp *p, const yaml_mark_t *m, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int
fail(struct yp *p, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->errlen, "line %zu column %zu: ", m->line + 1, m->column + 1);

	if (n < 0 || (size_t)n >= p->errlen) {
		return SX_EINVAL;
	}
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return SX_EINVAL;
}

static int
next_event(struct yp *p, yaml_event_t *ev)
{
	if (yaml_parser_parse(&p->parser, ev)) {
		return 0;
	}
	if (p->parser.error == YAML_MEMORY_ERROR) {
		snprintf(p->err, p->errlen, "out of memory");
		return -ENOMEM;
	}
	if (p->parser.context) {
		return fail(p, &p->parser.problem_mark, "%s %s", p->parser.problem,
		            p->parser.context);
	}
	return fail(p, &p->parser.problem_mark, "%s",
	            p->parser.problem ? p->parser.problem : "invalid YAML");
}

static bool
is_null(const char *s)
{
	return !strcmp(s, "") || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

/* @return 1 true, 0 false, -1 not a boolean. */
static int
as_bool(const char *s)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes",
		                           "YES",  "on",   "On",   "ON",  NULL };
	static const char *const no[] = { "false", "False", "FALSE", "no",  "No",
		                          "NO",    "off",   "Off",   "OFF", NULL };

	for (size_t i = 0; yes[i]; i++) {
		if (!strcmp(s, yes[i])) {
			return 1;
		}
	}
	for (size_t i = 0; no[i]; i++) {
		if (!strcmp(s, no[i])) {
			return 0;
		}
	}
	return -1;
}

static bool
all_digits(const char *s, int base)
{
	if (!*s) {
		return false;
	}
	for (; *s; s++) {
		bool ok = base == 16  ? ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
                                        (*s >= 'A' && *s <= 'F'))
		          : base == 8 ? (*s >= '0' && *s <= '7')
		                      : (*s >= '0' && *s <= '9');
		if (!ok) {
			return false;
		}
	}
	return true;
}

/*
 * Integers of the core schema. @return 1 and *@v, 0 when @s is not an
 * integer, -1 when it is one that does not fit in 64 bits.
 */
static int
as_int(const char *s, json_int_t *v)
{
	const char *d = s;
	int base = 10;
	char *end;
	long long n;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
		base = s[1] == 'x' ? 16 : 8;
		d = s + 2;
	} else if (*d == '-' || *d == '+') {
		d++;
	}
	if (!all_digits(d, base)) {
		return 0;
	}
	errno = 0;
	if (base == 10) {
		n = strtoll(s, &end, 10);
	} else {
		unsigned long long u = strtoull(d, &end, base);
		if (u > (unsigned long long)INT64_MAX) {
			return -1;
		}
		n = (long long)u;
	}
	if (errno == ERANGE) {
		return -1;
	}
	*v = n;
	return 1;
}

/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool
is_float(const char *s)
{
	size_t digits = 0;

	if (*s == '-' || *s == '+') {
		s++;
	}
	while (*s >= '0' && *s <= '9') {
		s++;
		digits++;
	}
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			s++;
			digits++;
		}
	}
	if (!digits) {
		return false;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+') {
			s++;
		}
		if (!(*s >= '0' && *s <= '9')) {
			return false;
		}
		while (*s >= '0' && *s <= '9') {
			s++;
		}
	}
	return *s == '\0';
}

/* A plain scalar, typed by the core schema. */
static json_t *
resolve_plain(const char *s)
{
	json_int_t i;
	int b;

	if (is_null(s)) {
		return json_null();
	}
	if ((b = as_bool(s)) >= 0) {
		return json_boolean(b);
	}
	switch (as_int(s, &i)) {
	case 1:
		return json_integer(i);
	case -1:
		return json_real(strtod(s, NULL));
	default:
		break;
	}
	if (is_float(s)) {
		return json_real(strtod(s, NULL));
	}
	return json_string(s);
}

#define TAG_PREFIX "tag:yaml.org,2002:"

static int
scalar_node(struct yp *p, const yaml_event_t *ev, json_t **out)
{
	const char *s = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	json_int_t i;
	int b;

	if (strlen(s) != ev->data.scalar.length) {
		return fail(p, &ev->start_mark, "NUL character in scalar");
	}
	if (tag && !strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX))) {
		const char *t = tag + strlen(TAG_PREFIX);
		if (!strcmp(t, "str") || !strcmp(t, "binary")) {
			*out = json_string(s);
		} else if (!strcmp(t, "null")) {
			if (!is_null(s)) {
				return fail(p, &ev->start_mark, "\"%s\" is not a null", s);
			}
			*out = json_null();
		} else if (!strcmp(t, "bool")) {
			if ((b = as_bool(s)) < 0) {
				return fail(p, &ev->start_mark, "\"%s\" is not a boolean", s);
			}
			*out = json_boolean(b);
		} else if (!strcmp(t, "int")) {
			if (as_int(s, &i) != 1) {
				return fail(p, &ev->start_mark, "\"%s\" is not a 64-bit integer",
				            s);
			}
			*out = json_integer(i);
		} else if (!strcmp(t, "float")) {
			if (!as_int(s, &i) && !is_float(s)) {
				return fail(p, &ev->start_mark, "\"%s\" is not a number", s);
			}
			*out = json_real(strtod(s, NULL));
		} else {
			*out = plain ? resolve_plain(s) : json_string(s);
		}
	} else if (tag && !strcmp(tag, "!")) {
		*out = json_string(s);
	} else {
		*out = plain ? resolve_plain(s) : json_string(s);
	}
	if (!*out) {
		/* json_string() refuses invalid UTF-8; libyaml already checked it. */
		return fail(p, &ev->start_mark, "cannot convert scalar \"%.40s\"", s);
	}
	return 0;
}

/* Nodes in @v, counting at most up to @limit + 1. */
static size_t
count_nodes(json_t *v, size_t limit)
{
	size_t n = 1;
	const char *k;
	json_t *c;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, k, c)
		{
			if (n > limit) {
				break;
			}
			n += count_nodes(c, limit - n);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, c)
		{
			if (n > limit) {
				break;
			}
			n += count_nodes(c, limit - n);
		}
	}
	return n;
}

static int
alias_node(struct yp *p, const yaml_event_t *ev, json_t **out)
{
	const char *name = (const char *)ev->data.alias.anchor;
	json_t *v = json_object_get(p->anchors, name);
	size_t n;

	if (!v) {
		return fail(p, &ev->start_mark, "unknown anchor \"%s\"", name);
	}
	n = count_nodes(v, p->budget);
	if (n > p->budget) {
		return fail(p, &ev->start_mark, "aliases expand to too many nodes");
	}
	p->budget -= n;
	/* A copy, so that callers may edit one place without changing another. */
	*out = json_deep_copy(v);
	if (!*out) {
		snprintf(p->err, p->errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int parse_node(struct yp *p, yaml_event_t *ev, json_t **out, int depth);

static int
merge_into(struct yp *p, json_t *merged, json_t *v, const yaml_mark_t *m)
{
	size_t i;
	json_t *c;

	if (json_is_object(v)) {
		return json_object_update_missing(merged, v) ? -ENOMEM : 0;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, c)
		{
			if (!json_is_object(c)) {
				return fail(p, m, "merge key (<<) needs mappings");
			}
			if (json_object_update_missing(merged, c)) {
				return -ENOMEM;
			}
		}
		return 0;
	}
	return fail(p, m, "merge key (<<) needs a mapping or a list of mappings");
}

/* The key of a mapping entry: a scalar (its text) or an alias of a string. */
static int
parse_key(struct yp *p, yaml_event_t *ev, char **key, bool *merge)
{
	const char *tag;
	json_t *v;

	*merge = false;
	*key = NULL;
	if (ev->type == YAML_SCALAR_EVENT) {
		tag = (const char *)ev->data.scalar.tag;
		*merge = (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		          !strcmp((const char *)ev->data.scalar.value, "<<")) ||
		         (tag && !strcmp(tag, TAG_PREFIX "merge"));
		if (strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length) {
			return fail(p, &ev->start_mark, "NUL character in key");
		}
		*key = strdup((const char *)ev->data.scalar.value);
		return *key ? 0 : -ENOMEM;
	}
	if (ev->type == YAML_ALIAS_EVENT) {
		v = json_object_get(p->anchors, (const char *)ev->data.alias.anchor);
		if (v && json_is_string(v)) {
			*key = strdup(json_string_value(v));
			return *key ? 0 : -ENOMEM;
		}
	}
	return fail(p, &ev->start_mark, "mapping keys must be strings");
}

static int
mapping_node(struct yp *p, json_t **out, int depth)
{
	json_t *obj = json_object();
	json_t *merged = NULL;
	yaml_event_t ev;
	json_t *v;
	char *key;
	bool merge;
	int r;

	if (!obj) {
		return -ENOMEM;
	}
	for (;;) {
		if ((r = next_event(p, &ev))) {
			goto fail;
		}
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		r = parse_key(p, &ev, &key, &merge);
		yaml_event_delete(&ev);
		if (r) {
			goto fail;
		}
		if ((r = next_event(p, &ev))) {
			free(key);
			goto fail;
		}
		yaml_mark_t mark = ev.start_mark;
		r = parse_node(p, &ev, &v, depth + 1);
		if (r) {
			free(key);
			goto fail;
		}
		if (merge) {
			if (!merged && !(merged = json_object())) {
				r = -ENOMEM;
			} else {
				r = merge_into(p, merged, v, &mark);
			}
			json_decref(v);
			free(key);
			if (r) {
				goto fail;
			}
			continue;
		}
		if (json_object_get(obj, key)) {
			r = fail(p, &mark, "duplicate key \"%s\"", key);
			json_decref(v);
			free(key);
			goto fail;
		}
		r = json_object_set_new(obj, key, v) ? -ENOMEM : 0;
		free(key);
		if (r) {
			goto fail;
		}
	}
	/* Keys written in the mapping win over merged ones, wherever they stand. */
	if (merged && json_object_update_missing(obj, merged)) {
		r = -ENOMEM;
		goto fail;
	}
	json_decref(merged);
	*out = obj;
	return 0;
fail:
	json_decref(merged);
	json_decref(obj);
	return r;
}

static int
sequence_node(struct yp *p, json_t **out, int depth)
{
	json_t *arr = json_array();
	yaml_event_t ev;
	json_t *v;
	int r;

	if (!arr) {
		return -ENOMEM;
	}
	for (;;) {
		if ((r = next_event(p, &ev))) {
			goto fail;
		}
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if ((r = parse_node(p, &ev, &v, depth + 1))) {
			goto fail;
		}
		if (json_array_append_new(arr, v)) {
			r = -ENOMEM;
			goto fail;
		}
	}
	*out = arr;
	return 0;
fail:
	json_decref(arr);
	return r;
}

/* Build the node that starts with @ev, which this consumes. */
static int
parse_node(struct yp *p, yaml_event_t *ev, json_t **out, int depth)
{
	const char *anchor = NULL;
	int r;

	*out = NULL;
	if (depth > MAX_DEPTH) {
		r = fail(p, &ev->start_mark, "nested deeper than %d levels", MAX_DEPTH);
		yaml_event_delete(ev);
		return r;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		anchor = (const char *)ev->data.scalar.anchor;
		r = scalar_node(p, ev, out);
		break;
	case YAML_ALIAS_EVENT:
		r = alias_node(p, ev, out);
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = (const char *)ev->data.sequence_start.anchor;
		r = sequence_node(p, out, depth);
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = (const char *)ev->data.mapping_start.anchor;
		r = mapping_node(p, out, depth);
		break;
	default:
		r = fail(p, &ev->start_mark, "unexpected YAML event %d", (int)ev->type);
		break;
	}
	if (!r && anchor && json_object_set(p->anchors, anchor, *out)) {
		r = -ENOMEM;
	}
	if (r) {
		json_decref(*out);
		*out = NULL;
	}
	yaml_event_delete(ev);
	return r;
}

int
k8s_yaml_parse(json_t **out, const char *text, size_t len, char *err, size_t errlen)
{
	struct yp p = { .budget = ALIAS_BUDGET, .err = err, .errlen = errlen };
	json_t *docs = json_array();
	yaml_event_t ev;
	json_t *v;
	bool done = false;
	int r = -ENOMEM;

	*out = NULL;
	if (errlen) {
		err[0] = '\0';
	}
	if (!docs || !(p.anchors = json_object())) {
		snprintf(err, errlen, "out of memory");
		goto fail_alloc;
	}
	if (!yaml_parser_initialize(&p.parser)) {
		snprintf(err, errlen, "out of memory");
		goto fail_alloc;
	}
	yaml_parser_set_input_string(&p.parser, (const unsigned char *)text, len);
	while (!done) {
		if ((r = next_event(&p, &ev))) {
			goto fail_parse;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			/* Anchors are local to their document. */
			json_object_clear(p.anchors);
			break;
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		default:
			r = parse_node(&p, &ev, &v, 0);
			if (r) {
				goto fail_parse;
			}
			if (!json_is_null(v) && json_array_append(docs, v)) {
				json_decref(v);
				r = -ENOMEM;
				goto fail_parse;
			}
			json_decref(v);
			continue;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p.parser);
	json_decref(p.anchors);
	*out = docs;
	return 0;
fail_parse:
	yaml_parser_delete(&p.parser);
fail_alloc:
	if (r == -ENOMEM && errlen && !err[0]) {
		snprintf(err, errlen, "out of memory");
	}
	json_decref(p.anchors);
	json_decref(docs);
	return r;
}

int
k8s_read_file(char **out, size_t *len, const char *path, size_t max, char *err, size_t errlen)
{
	struct stat sb;
	size_t cap, n = 0;
	char *buf;
	ssize_t got;
	int fd, r;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		return r;
	}
	if (fstat(fd, &sb)) {
		r = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail_fd;
	}
	if (S_ISDIR(sb.st_mode)) {
		r = -EISDIR;
		snprintf(err, errlen, "%s", strerror(EISDIR));
		goto fail_fd;
	}
	/* Refuse a file known to be too big before reading any of it. */
	if (S_ISREG(sb.st_mode) && (uintmax_t)sb.st_size > max) {
		r = -EFBIG;
		snprintf(err, errlen, "larger than %zu bytes (%jd)", max, (intmax_t)sb.st_size);
		goto fail_fd;
	}
	/* st_size may be 0 (procfs, pipes) or grow while read: read to EOF. */
	cap = sb.st_size > 0 && (size_t)sb.st_size < max ? (size_t)sb.st_size + 1 : 4096;
	if (!(buf = malloc(cap + 1))) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail_fd;
	}
	for (;;) {
		if (n == cap) {
			char *nb;
			if (cap > max) {
				r = -EFBIG;
				snprintf(err, errlen, "larger than %zu bytes", max);
				goto fail_buf;
			}
			cap *= 2;
			if (!(nb = realloc(buf, cap + 1))) {
				r = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto fail_buf;
			}
			buf = nb;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0) {
			if (errno == EINTR) {
				continue;
			}
			r = -errno;
			snprintf(err, errlen, "%s", strerror(errno));
			goto fail_buf;
		}
		if (got == 0) {
			break;
		}
		n += (size_t)got;
	}
	if (n > max) {
		r = -EFBIG;
		snprintf(err, errlen, "larger than %zu bytes", max);
		goto fail_buf;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
fail_buf:
	free(buf);
fail_fd:
	close(fd);
	return r;
}

#define MAX_YAML_FILE (64u << 20)

int
k8s_yaml_load_file(json_t **out, const char *path, char *err, size_t errlen)
{
	size_t len;
	char *text;
	int r;

	*out = NULL;
	if ((r = k8s_read_file(&text, &len, path, MAX_YAML_FILE, err, errlen))) {
		return r;
	}
	r = k8s_yaml_parse(out, text, len, err, errlen);
	free(text);
	return r;
}
