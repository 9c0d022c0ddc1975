/* test_k8s_jpull.c -- the pull parser reads what jansson reads, and refuses what it refuses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "../jpull.h"

/* Rebuild a jansson value from the cursor, reading every value through the pull API. */
static json_t *
walk(struct k8s_jp *jp)
{
	char buf[4096], key[4096];
	const char *at;
	size_t len;
	int64_t i;
	json_t *v;

	switch (k8s_jp_peek(jp)) {
	case K8S_JT_OBJECT:
		v = json_object();
		cr_assert(k8s_jp_object(jp));
		while (k8s_jp_key(jp, key, sizeof(key))) {
			json_t *m = walk(jp);
			if (m == NULL) {
				json_decref(v);
				return NULL;
			}
			json_object_set_new(v, key, m);
		}
		break;
	case K8S_JT_ARRAY:
		v = json_array();
		cr_assert(k8s_jp_array(jp));
		while (k8s_jp_next(jp)) {
			json_t *e = walk(jp);
			if (e == NULL) {
				json_decref(v);
				return NULL;
			}
			json_array_append_new(v, e);
		}
		break;
	case K8S_JT_STRING: {
		ssize_t n = k8s_jp_str(jp, buf, sizeof(buf));
		v = n < 0 ? NULL : json_stringn_nocheck(buf, (size_t)n);
		break;
	}
	case K8S_JT_NUMBER: {
		struct k8s_jp save = *jp;
		if (k8s_jp_int(jp, &i)) {
			v = json_integer(i);
		} else {
			*jp = save;
			k8s_jp_skip(jp, &at, &len);
			snprintf(buf, sizeof(buf), "%.*s", (int)len, at);
			v = json_real(strtod(buf, NULL));
		}
		break;
	}
	case K8S_JT_BOOL:
		v = json_boolean(k8s_jp_bool(jp) == 1);
		break;
	case K8S_JT_NULL:
		k8s_jp_skip(jp, NULL, NULL);
		v = json_null();
		break;
	default:
		k8s_jp_skip(jp, NULL, NULL);
		return NULL;
	}
	if (jp->why != NULL) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/* Read @text whole with the cursor: NULL when it refuses it. */
static json_t *
pull(const char *text, size_t len)
{
	struct k8s_jp jp;
	json_t *v;

	k8s_jp_init(&jp, text, len);
	v = walk(&jp);
	if (!k8s_jp_end(&jp)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

static void
init(struct k8s_jp *jp, const char *text)
{
	k8s_jp_init(jp, text, strlen(text));
}

/* Skip @text whole: whether it is accepted. */
static bool
skips(const char *text, size_t len)
{
	struct k8s_jp jp;
	const char *at;
	size_t n;

	k8s_jp_init(&jp, text, len);
	k8s_jp_skip(&jp, &at, &n);
	return k8s_jp_end(&jp);
}

/* Both readings agree with jansson on @text: the same value, or both refuse it. */
static void
same_as_jansson(const char *text, size_t len)
{
	json_t *want = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	json_t *got = pull(text, len);

	if (want == NULL) {
		cr_assert_null(got, "accepted what jansson refuses: %.*s", (int)len, text);
		cr_assert(!skips(text, len), "skipped what jansson refuses: %.*s", (int)len, text);
		return;
	}
	cr_assert_not_null(got, "refused what jansson reads: %.*s", (int)len, text);
	cr_assert(json_equal(want, got), "read differently: %.*s", (int)len, text);
	cr_assert(skips(text, len), "could not skip: %.*s", (int)len, text);
	json_decref(want);
	json_decref(got);
}

Test(jpull, values_as_jansson_reads_them)
{
	static const char *const docs[] = {
		"{}",
		"[]",
		" { \"a\" : [ 1 , -2 , 0 , 3.5 , -0.25e3 , 1E2 , true , false , null ] } ",
		("{\"metadata\":{\"name\":\"svc-1\",\"labels\":{\"kubernetes.io/service-name\":\"x\"}},"
		 "\"spec\":{\"ports\":[{\"port\":80,\"name\":\"http\"}],\"clusterIPs\":[\"10.0.0.1\"]}}"),
		"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
		"\"\\u00e9\\u4e2d\\ud83d\\ude00 caf\xc3\xa9\"",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
		"[9223372036854775807,-9223372036854775808]",
		"{\"\":1,\"a\":{\"b\":[{\"c\":[]}]},\"d\":\"\"}",
		/* Refused by both. */
		"",
		"{",
		"{\"a\"}",
		"{\"a\":}",
		"{\"a\":1,}",
		"[1,]",
		"[1 2]",
		"{\"a\":1 \"b\":2}",
		"[01]",
		"[1.]",
		"[.5]",
		"[-]",
		"[1e]",
		"[tru]",
		"[nul]",
		"\"abc",
		"\"a\\x\"",
		"\"\\u12\"",
		"\"\\ud83d\"",
		"\"\\ude00\"",
		"\"a\nb\"",
		"{} x",
		"[1]]",
		"{\"a\":1}}",
		"[1,\"a\":2]",
		"{\"a\",1}",
		"[123456789012345678901234567890]",
		"[-9223372036854775809]",
	};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		same_as_jansson(docs[i], strlen(docs[i]));
	}
}

Test(jpull, strings_cut_to_the_buffer)
{
	struct k8s_jp jp;
	char buf[5];

	init(&jp, "[\"abcdefg\",\"\\u00e9\\u00e9\\u00e9\",\"ab\"]");
	cr_assert(k8s_jp_array(&jp));
	cr_assert(k8s_jp_next(&jp));
	cr_assert_eq(k8s_jp_str(&jp, buf, sizeof(buf)), 7);
	cr_assert_str_eq(buf, "abcd");
	cr_assert(k8s_jp_next(&jp));
	cr_assert_eq(k8s_jp_str(&jp, buf, sizeof(buf)), 6);
	cr_assert_eq(strlen(buf), 4);
	cr_assert(k8s_jp_next(&jp));
	cr_assert_eq(k8s_jp_str(&jp, buf, sizeof(buf)), 2);
	cr_assert_str_eq(buf, "ab");
	cr_assert(!k8s_jp_next(&jp));
	cr_assert(k8s_jp_end(&jp));
}

Test(jpull, long_keys_match_nothing)
{
	struct k8s_jp jp;
	char key[8];

	init(&jp, "{\"metadata\":1,\"abcdefg\":2,\"abc\":3}");
	cr_assert(k8s_jp_object(&jp));
	cr_assert(k8s_jp_key(&jp, key, sizeof(key)));
	cr_assert_str_eq(key, "\x01");
	k8s_jp_skip(&jp, NULL, NULL);
	cr_assert(k8s_jp_key(&jp, key, sizeof(key)));
	cr_assert_str_eq(key, "\x01"); /* 7 bytes fill the buffer: it might have been cut */
	k8s_jp_skip(&jp, NULL, NULL);
	cr_assert(k8s_jp_key(&jp, key, sizeof(key)));
	cr_assert_str_eq(key, "abc");
	k8s_jp_skip(&jp, NULL, NULL);
	cr_assert(!k8s_jp_key(&jp, key, sizeof(key)));
	cr_assert(k8s_jp_end(&jp));
}

Test(jpull, wrong_types_are_skipped_not_errors)
{
	struct k8s_jp jp;
	char buf[16];
	int64_t v;

	init(&jp, "[{\"a\":[1]},\"x\",1.5,99999999999999999999.0,null,1]");
	cr_assert(k8s_jp_array(&jp));
	cr_assert(k8s_jp_next(&jp));
	cr_assert_eq(k8s_jp_str(&jp, buf, sizeof(buf)), -1);
	cr_assert(k8s_jp_next(&jp));
	cr_assert(!k8s_jp_int(&jp, &v));
	cr_assert(k8s_jp_next(&jp));
	cr_assert(!k8s_jp_int(&jp, &v));
	cr_assert(k8s_jp_next(&jp));
	cr_assert(!k8s_jp_int(&jp, &v));
	cr_assert(k8s_jp_next(&jp));
	cr_assert_eq(k8s_jp_bool(&jp), -1);
	cr_assert(k8s_jp_next(&jp));
	cr_assert(!k8s_jp_object(&jp));
	cr_assert(!k8s_jp_next(&jp));
	cr_assert(k8s_jp_end(&jp));
	cr_assert_null(jp.why);
}

Test(jpull, errors_say_where)
{
	struct k8s_jp jp;
	char why[64];

	init(&jp, "{\"a\":[1,2,}");
	k8s_jp_skip(&jp, NULL, NULL);
	cr_assert(!k8s_jp_end(&jp));
	cr_assert_str_eq(k8s_jp_error(&jp, why, sizeof(why)), "byte 10: expected a value");
	init(&jp, "{}");
	k8s_jp_skip(&jp, NULL, NULL);
	cr_assert_null(k8s_jp_error(&jp, why, sizeof(why)));
}

Test(jpull, deep_values_are_skipped_until_a_limit)
{
	char doc[1200];
	size_t n = 0;

	for (int d = 0; d < 256; d++) {
		doc[n++] = '[';
	}
	for (int d = 0; d < 256; d++) {
		doc[n++] = ']';
	}
	cr_assert(skips(doc, n));
	n = 0;
	for (int d = 0; d < 257; d++) {
		doc[n++] = '[';
	}
	for (int d = 0; d < 257; d++) {
		doc[n++] = ']';
	}
	cr_assert(!skips(doc, n));
}

/* A random JSON text of ASCII strings and small numbers, so that jansson reads it too. */
static void
gen(char *out, size_t *n, size_t cap, unsigned *seed, int depth)
{
	static const char *const atoms[] = {
		"0",
		"-1",
		"42",
		"3.25",
		"-7e2",
		"true",
		"false",
		"null",
		"\"\"",
		"\"a b\"",
		"\"\\\"q\\\\\"",
		"\"\\u0041\\u00e9\"",
		"\"\\ud834\\udd1e\"",
		"\"}]{[,:\"",
	};
	int kind = depth > 4 ? 2 : rand_r(seed) % 3;

	if (*n + 64 >= cap) {
		kind = 2;
	}
	if (kind == 2) {
		const char *a = atoms[rand_r(seed) % (sizeof(atoms) / sizeof(atoms[0]))];
		size_t k = strlen(a);
		if (*n + k < cap) {
			memcpy(out + *n, a, k);
			*n += k;
		}
		return;
	}
	out[(*n)++] = kind == 0 ? '{' : '[';
	int members = rand_r(seed) % 4;
	for (int i = 0; i < members && *n + 64 < cap; i++) {
		if (i > 0) {
			out[(*n)++] = ',';
		}
		if (rand_r(seed) % 4 == 0) {
			out[(*n)++] = ' ';
		}
		if (kind == 0) {
			*n += (size_t)snprintf(out + *n, cap - *n, "\"k%d\":", rand_r(seed) % 5);
		}
		gen(out, n, cap, seed, depth + 1);
	}
	out[(*n)++] = kind == 0 ? '}' : ']';
}

Test(jpull, random_texts_and_their_mutations)
{
	static const char mutants[] = "{}[],:\"\\ 0-.etfnu";
	unsigned seed = 12345;
	char doc[2048];

	for (int round = 0; round < 3000; round++) {
		size_t n = 0;
		gen(doc, &n, sizeof(doc) - 1, &seed, 0);
		same_as_jansson(doc, n);
		/* One byte changed, dropped, or the text cut short. */
		size_t at = (size_t)rand_r(&seed) % n;
		char was = doc[at];
		doc[at] = mutants[rand_r(&seed) % (sizeof(mutants) - 1)];
		same_as_jansson(doc, n);
		doc[at] = was;
		memmove(doc + at, doc + at + 1, n - at - 1);
		same_as_jansson(doc, n - 1);
		same_as_jansson(doc, at);
	}
}
