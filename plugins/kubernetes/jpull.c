/* jpull.c -- read one JSON text in place, a value at a time (a pull parser). */
#include "jpull.h"

#include <stdio.h>
#include <string.h>

#define MAX_DEPTH  64  /* containers entered */
#define SKIP_DEPTH 256 /* containers skipped at once (jansson allows 2048) */

static bool
fail(struct k8s_jp *jp, const char *why)
{
	if (jp->why == NULL) {
		jp->why = why;
		jp->err_at = (size_t)(jp->p - jp->start);
	}
	jp->p = jp->end;
	return false;
}

static void
ws(struct k8s_jp *jp)
{
	while (jp->p < jp->end &&
	       (*jp->p == ' ' || *jp->p == '\n' || *jp->p == '\t' || *jp->p == '\r')) {
		jp->p++;
	}
}

void
k8s_jp_init(struct k8s_jp *jp, const char *text, size_t len)
{
	memset(jp, 0, sizeof(*jp));
	jp->start = jp->p = text;
	jp->end = text + len;
}

enum k8s_jt
k8s_jp_peek(struct k8s_jp *jp)
{
	ws(jp);
	if (jp->why || jp->p == jp->end) {
		return K8S_JT_NONE;
	}
	switch (*jp->p) {
	case '{':
		return K8S_JT_OBJECT;
	case '[':
		return K8S_JT_ARRAY;
	case '"':
		return K8S_JT_STRING;
	case 't':
	case 'f':
		return K8S_JT_BOOL;
	case 'n':
		return K8S_JT_NULL;
	default:
		return *jp->p == '-' || (*jp->p >= '0' && *jp->p <= '9') ? K8S_JT_NUMBER
		                                                         : K8S_JT_NONE;
	}
}

static int
hex(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Four hex digits at @s (bounds checked by the caller). @return the value, or -1. */
static long
hex4(const char *s)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int d = hex(s[i]);
		if (d < 0) {
			return -1;
		}
		v = v << 4 | d;
	}
	return v;
}

/* Append one code point as UTF-8 to @buf if it fits; @n counts every byte. */
static void
put_utf8(char *buf, size_t size, size_t *n, unsigned long cp)
{
	char u[4];
	size_t k;

	if (cp < 0x80) {
		u[0] = (char)cp;
		k = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		k = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		k = 4;
	}
	for (size_t i = 0; i < k; i++, (*n)++) {
		if (buf != NULL && *n + 1 < size) {
			buf[*n] = u[i];
		}
	}
}

/*
 * The string at jp->p (its opening quote), decoded into @buf when not NULL.
 * @return its decoded length, or -1 on an error.
 */
static ssize_t
string(struct k8s_jp *jp, char *buf, size_t size)
{
	const char *p = jp->p + 1, *end = jp->end;
	size_t n = 0;

	for (;;) {
		const char *run = p;

		/* Most strings hold nothing to decode: copy them in runs. */
		while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) {
			p++;
		}
		if (buf != NULL && n + 1 < size) {
			size_t k = (size_t)(p - run) < size - 1 - n ? (size_t)(p - run)
			                                            : size - 1 - n;
			memcpy(buf + n, run, k);
		}
		n += (size_t)(p - run);
		if (p == end) {
			return fail(jp, "unterminated string"), -1;
		}
		if (*p == '"') {
			break;
		}
		if (*p != '\\') {
			return fail(jp, "control character in a string"), -1;
		}
		if (++p == end) {
			return fail(jp, "unterminated string"), -1;
		}
		static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
		const char *e = *p ? strchr(from, *p) : NULL;
		if (e != NULL) {
			if (buf != NULL && n + 1 < size) {
				buf[n] = to[e - from];
			}
			n++;
			p++;
			continue;
		}
		if (*p != 'u' || end - p < 5) {
			return fail(jp, "invalid escape in a string"), -1;
		}
		long cp = hex4(p + 1);
		p += 5;
		if (cp < 0) {
			return fail(jp, "invalid \\u escape"), -1;
		}
		if (cp >= 0xdc00 && cp <= 0xdfff) {
			return fail(jp, "invalid Unicode surrogate"), -1;
		}
		if (cp >= 0xd800 && cp <= 0xdbff) {
			long lo = end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2) : -1;
			if (lo < 0xdc00 || lo > 0xdfff) {
				return fail(jp, "invalid Unicode surrogate"), -1;
			}
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		}
		if (cp == 0) {
			return fail(jp, "\\u0000 in a string"), -1;
		}
		put_utf8(buf, size, &n, (unsigned long)cp);
	}
	if (buf != NULL && size > 0) {
		buf[n < size ? n : size - 1] = '\0';
	}
	jp->p = p + 1;
	return (ssize_t)n;
}

/* The number at jp->p. @return whether it is an integer, its value in *@v when it fits. */
static bool
number(struct k8s_jp *jp, int64_t *v, bool *fits)
{
	const char *p = jp->p, *end = jp->end;
	bool neg = false, integer = true;
	uint64_t u = 0;

	*fits = true;
	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	if (p == end || *p < '0' || *p > '9' ||
	    (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9')) {
		return fail(jp, "invalid number");
	}
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (u > (UINT64_MAX - d) / 10) {
			*fits = false;
		} else {
			u = u * 10 + d;
		}
	}
	if (p < end && *p == '.') {
		integer = false;
		if (++p == end || *p < '0' || *p > '9') {
			return fail(jp, "invalid number");
		}
		while (p < end && *p >= '0' && *p <= '9') {
			p++;
		}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		integer = false;
		if (++p < end && (*p == '+' || *p == '-')) {
			p++;
		}
		if (p == end || *p < '0' || *p > '9') {
			return fail(jp, "invalid number");
		}
		while (p < end && *p >= '0' && *p <= '9') {
			p++;
		}
	}
	jp->p = p;
	if (u > (uint64_t)INT64_MAX + neg) {
		*fits = false;
	}
	if (integer && !*fits) {
		/* As jansson: an integer is an int64, and one that is not is no JSON we read. */
		return fail(jp, "integer out of range");
	}
	if (v != NULL && *fits) {
		*v = neg ? (int64_t)(0 - u) : (int64_t)u;
	}
	return integer;
}

static bool
literal(struct k8s_jp *jp, const char *word, size_t len)
{
	if ((size_t)(jp->end - jp->p) < len || memcmp(jp->p, word, len) != 0) {
		return fail(jp, "invalid literal");
	}
	jp->p += len;
	return true;
}

/* A key and its ':', after which a value is due. */
static bool
member(struct k8s_jp *jp, char *key, size_t size)
{
	ws(jp);
	if (jp->p == jp->end || *jp->p != '"') {
		return fail(jp, "expected a key");
	}
	if (string(jp, key, size) < 0) {
		return false;
	}
	ws(jp);
	if (jp->p == jp->end || *jp->p != ':') {
		return fail(jp, "expected ':'");
	}
	jp->p++;
	return true;
}

void
k8s_jp_skip(struct k8s_jp *jp, const char **at, size_t *len)
{
	/* Containers are counted, not recursed into: bit d of @obj says level d is an object. */
	uint64_t obj[SKIP_DEPTH / 64] = { 0 };
	size_t depth = 0;
	const char *from;
	bool fits;

	ws(jp);
	from = jp->p;
	while (!jp->why) {
		/* A value is due. */
		ws(jp);
		char c = jp->p < jp->end ? *jp->p : '\0';
		if (c == '{' || c == '[') {
			if (depth == SKIP_DEPTH) {
				fail(jp, "nested too deep");
				break;
			}
			obj[depth / 64] = (obj[depth / 64] & ~(1ull << depth % 64)) |
			                  (uint64_t)(c == '{') << depth % 64;
			depth++;
			jp->p++;
			ws(jp);
			if (jp->p < jp->end && *jp->p == (c == '{' ? '}' : ']')) {
				jp->p++;
				depth--;
			} else {
				if (c == '{') {
					member(jp, NULL, 0);
				}
				continue;
			}
		} else if (c == '"') {
			string(jp, NULL, 0);
		} else if (c == 't') {
			literal(jp, "true", 4);
		} else if (c == 'f') {
			literal(jp, "false", 5);
		} else if (c == 'n') {
			literal(jp, "null", 4);
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			number(jp, NULL, &fits);
		} else {
			fail(jp, jp->p == jp->end ? "unexpected end" : "expected a value");
		}
		/* After a value: close what ends here, then the next member or element. */
		while (!jp->why && depth > 0) {
			bool is_obj = obj[(depth - 1) / 64] >> (depth - 1) % 64 & 1;
			ws(jp);
			c = jp->p < jp->end ? *jp->p : '\0';
			if (c == (is_obj ? '}' : ']')) {
				jp->p++;
				depth--;
				continue;
			}
			if (c != ',') {
				fail(jp, "expected ',' or a closing bracket");
				break;
			}
			jp->p++;
			if (is_obj) {
				member(jp, NULL, 0);
			}
			break;
		}
		if (depth == 0) {
			break;
		}
	}
	if (at != NULL) {
		*at = from;
		*len = (size_t)(jp->p - from);
	}
}

bool
k8s_jp_object(struct k8s_jp *jp)
{
	if (k8s_jp_peek(jp) != K8S_JT_OBJECT) {
		k8s_jp_skip(jp, NULL, NULL);
		return false;
	}
	if (jp->depth == MAX_DEPTH) {
		return fail(jp, "nested too deep");
	}
	jp->p++;
	jp->depth++;
	jp->more &= ~(1ull << (jp->depth - 1));
	return true;
}

bool
k8s_jp_array(struct k8s_jp *jp)
{
	if (k8s_jp_peek(jp) != K8S_JT_ARRAY) {
		k8s_jp_skip(jp, NULL, NULL);
		return false;
	}
	if (jp->depth == MAX_DEPTH) {
		return fail(jp, "nested too deep");
	}
	jp->p++;
	jp->depth++;
	jp->more &= ~(1ull << (jp->depth - 1));
	return true;
}

/* Before the next member or element: the closing @close, or a ',' unless it is the first. */
static bool
next(struct k8s_jp *jp, char close)
{
	uint64_t bit;

	ws(jp);
	if (jp->why || jp->depth == 0 || jp->p == jp->end) {
		return fail(jp, "unexpected end");
	}
	bit = 1ull << (jp->depth - 1);
	if (*jp->p == close) {
		jp->p++;
		jp->depth--;
		return false;
	}
	if (jp->more & bit) {
		if (*jp->p != ',') {
			return fail(jp, "expected ',' or a closing bracket");
		}
		jp->p++;
		ws(jp);
	}
	jp->more |= bit;
	return true;
}

bool
k8s_jp_key(struct k8s_jp *jp, char *key, size_t size)
{
	if (!next(jp, '}') || !member(jp, key, size)) {
		return false;
	}
	if (strlen(key) + 1 == size) {
		/* Perhaps cut: let it match nothing. */
		key[0] = '\x01';
		key[1] = '\0';
	}
	return true;
}

bool
k8s_jp_next(struct k8s_jp *jp)
{
	if (!next(jp, ']')) {
		return false;
	}
	if (jp->p == jp->end) {
		return fail(jp, "unexpected end");
	}
	return true;
}

ssize_t
k8s_jp_str(struct k8s_jp *jp, char *buf, size_t size)
{
	if (k8s_jp_peek(jp) != K8S_JT_STRING) {
		k8s_jp_skip(jp, NULL, NULL);
		return -1;
	}
	return string(jp, buf, size);
}

bool
k8s_jp_int(struct k8s_jp *jp, int64_t *v)
{
	bool fits;

	if (k8s_jp_peek(jp) != K8S_JT_NUMBER) {
		k8s_jp_skip(jp, NULL, NULL);
		return false;
	}
	return number(jp, v, &fits) && fits;
}

int
k8s_jp_bool(struct k8s_jp *jp)
{
	if (k8s_jp_peek(jp) != K8S_JT_BOOL) {
		k8s_jp_skip(jp, NULL, NULL);
		return -1;
	}
	if (*jp->p == 't') {
		return literal(jp, "true", 4) ? 1 : -1;
	}
	return literal(jp, "false", 5) ? 0 : -1;
}

bool
k8s_jp_end(struct k8s_jp *jp)
{
	ws(jp);
	if (!jp->why && jp->p != jp->end) {
		fail(jp, "data after the value");
	}
	return jp->why == NULL;
}

const char *
k8s_jp_error(const struct k8s_jp *jp, char *buf, size_t size)
{
	if (jp->why == NULL) {
		return NULL;
	}
	snprintf(buf, size, "byte %zu: %s", jp->err_at, jp->why);
	return buf;
}
