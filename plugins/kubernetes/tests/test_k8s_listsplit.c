/* test_k8s_listsplit.c -- LIST bodies cut into items, in every cut of the bytes. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../listsplit.h"

/* What the splitter handed over: the head, the items joined by '\n', then the rest. */
struct seen {
	char head[1024];
	unsigned nhead;
	char items[8192];
	size_t len;
	unsigned n;
	unsigned stop_at; /* 1-based item whose hook returns 7; 0: never */
	bool stop_head;   /* the head hook returns 8 */
	bool pause_head;  /* the head hook pauses the feed */
};

static int
on_head(void *arg, const char *json, size_t len)
{
	struct seen *s = arg;

	cr_assert_eq(strlen(json), len);
	cr_assert_eq(s->n, 0, "the head comes before the first item");
	snprintf(s->head, sizeof(s->head), "%s", json);
	s->nhead++;
	return s->stop_head ? 8 : s->pause_head ? K8S_SPLIT_PAUSE : 0;
}

static int
on_item(void *arg, const char *json, size_t len)
{
	struct seen *s = arg;

	cr_assert_lt(s->len + len + 1, sizeof(s->items));
	memcpy(s->items + s->len, json, len);
	s->len += len;
	s->items[s->len++] = '\n';
	s->items[s->len] = '\0';
	return ++s->n == s->stop_at ? 7 : 0;
}

/*
 * Feed @doc in pieces of @step bytes (0: whole), expect @items ('\n' after each) and @rest.
 * @return the first error, 0 when none.
 */
static int
split(const char *doc, size_t step, size_t max_item, struct seen *s, char *rest, size_t rest_size)
{
	struct k8s_split *sp;
	size_t len = strlen(doc);
	char *r;
	size_t rlen;
	int err = 0;

	memset(s->items, 0, sizeof(s->items));
	s->len = 0;
	s->n = 0;
	s->head[0] = '\0';
	s->nhead = 0;
	cr_assert_eq(k8s_split_new(&sp, max_item, on_item, on_head, s), 0);
	for (size_t at = 0; at < len && !err; at += step ? step : len) {
		size_t n = step && step < len - at ? step : len - at;
		/* A copy of exactly n bytes, so that reading past the piece is caught by ASan. */
		char *piece = malloc(n);
		memcpy(piece, doc + at, n);
		err = k8s_split_feed(sp, piece, n);
		if (err == K8S_SPLIT_PAUSE) {
			/* Fed again, as libcurl does after a pause, from where it stopped. */
			size_t taken = k8s_split_taken(sp);
			cr_assert_leq(taken, n);
			cr_assert_eq(piece[taken - 1], '[', "it stops right after the items open");
			err = k8s_split_feed(sp, piece + taken, n - taken);
		}
		free(piece);
	}
	if (!err) {
		err = k8s_split_end(sp, &r, &rlen);
	}
	if (!err) {
		cr_assert_eq(strlen(r), rlen);
		snprintf(rest, rest_size, "%s", r);
	} else {
		snprintf(rest, rest_size, "error: %s", k8s_split_error(sp));
	}
	k8s_split_free(sp);
	return err;
}

/* @doc gives @head (NULL: none), @items and @rest whatever the cut, paused after the head or not. */
static void
expect(const char *doc, const char *head, const char *items, const char *rest)
{
	size_t len = strlen(doc);

	for (size_t i = 0; i <= 2 * len + 1; i++) {
		size_t step = i % (len + 1);
		struct seen s = { .pause_head = i > len };
		char r[4096];

		cr_assert_eq(split(doc, step, 1 << 20, &s, r, sizeof(r)), 0, "step %zu: %s", step,
		             r);
		cr_assert_eq(s.nhead, head != NULL, "step %zu", step);
		cr_assert_str_eq(s.head, head ? head : "", "step %zu", step);
		cr_assert_str_eq(s.items, items, "step %zu", step);
		cr_assert_str_eq(r, rest, "step %zu", step);
	}
}

/* @doc fails with @err (and a message holding @why) whatever the cut. */
static void
expect_error(const char *doc, size_t max_item, int err, const char *why)
{
	size_t len = strlen(doc);

	for (size_t step = 0; step <= len; step++) {
		struct seen s = { 0 };
		char r[4096];

		cr_assert_eq(split(doc, step, max_item, &s, r, sizeof(r)), err, "step %zu: %s",
		             step, r);
		cr_assert(strstr(r, why) != NULL, "step %zu: \"%s\" lacks \"%s\"", step, r, why);
	}
}

Test(listsplit, items_and_rest)
{
	expect("{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
	       "\"42\",\"continue\":\"abc\"},\"items\":[{\"metadata\":{\"name\":\"a\"}},"
	       "{\"metadata\":{\"name\":\"b\"},\"spec\":{\"ports\":[{\"port\":80}]}}]}\n",
	       "{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
	       "\"42\",\"continue\":\"abc\"},\"items\":[]}",
	       "{\"metadata\":{\"name\":\"a\"}}\n"
	       "{\"metadata\":{\"name\":\"b\"},\"spec\":{\"ports\":[{\"port\":80}]}}\n",
	       "{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
	       "\"42\",\"continue\":\"abc\"},\"items\":[]}\n");
}

Test(listsplit, whitespace_and_metadata_after_items)
{
	expect(" { \"items\" : [ { \"a\" : 1 } ,\n\t{ } ] , \"metadata\" : { \"items\" : [1] } } ",
	       " { \"items\" : []}", "{ \"a\" : 1 }\n{ }\n",
	       " { \"items\" : [] , \"metadata\" : { \"items\" : [1] } } ");
}

Test(listsplit, empty_and_null_items)
{
	expect("{\"items\":[]}", "{\"items\":[]}", "", "{\"items\":[]}");
	expect("{\"items\":null,\"metadata\":{}}", NULL, "", "{\"items\":null,\"metadata\":{}}");
	expect("{\"metadata\":{}}", NULL, "", "{\"metadata\":{}}");
}

Test(listsplit, strings_that_look_like_structure)
{
	/* Brackets, quotes, backslashes and a key named "items" inside strings and items. */
	expect("{\"x\":\"items\\\"[{\",\"items\":[{\"s\":\"}]\\\\\",\"items\":[\"{\"],"
	       "\"k\\\"\":\"\\u005d\"}],\"y\":\"]}\"}",
	       "{\"x\":\"items\\\"[{\",\"items\":[]}",
	       "{\"s\":\"}]\\\\\",\"items\":[\"{\"],\"k\\\"\":\"\\u005d\"}\n",
	       "{\"x\":\"items\\\"[{\",\"items\":[],\"y\":\"]}\"}");
}

Test(listsplit, managed_fields_dropped)
{
	const char *mf = "\"managedFields\":[{\"manager\":\"m\",\"fieldsV1\":{\"f:a\":{\".\":{}},"
	                 "\"k:{\\\"port\\\":80}\":{}}},{\"x\":\"],}\"}]";
	char doc[2048], items[2048];

	/* In the middle, first, last, alone, and twice. */
	snprintf(doc, sizeof(doc),
	         "{\"items\":[{\"metadata\":{\"name\":\"a\",%s,\"uid\":\"1\"}},"
	         "{\"metadata\":{%s,\"name\":\"b\"}},{\"metadata\":{\"name\":\"c\",%s}},"
	         "{\"metadata\":{%s}},{\"metadata\":{%s,%s,\"name\":\"e\",%s}}]}",
	         mf, mf, mf, mf, mf, mf, mf);
	snprintf(items, sizeof(items),
	         "{\"metadata\":{\"name\":\"a\",\"uid\":\"1\"}}\n{\"metadata\":{\"name\":\"b\"}}\n"
	         "{\"metadata\":{\"name\":\"c\"}}\n{\"metadata\":{}}\n"
	         "{\"metadata\":{\"name\":\"e\"}}\n");
	expect(doc, "{\"items\":[]}", items, "{\"items\":[]}");
}

Test(listsplit, managed_fields_kept_elsewhere)
{
	/* Only the item's own metadata loses the member; a scalar value goes too. */
	expect("{\"metadata\":{\"managedFields\":1},\"items\":[{\"spec\":{\"managedFields\":[1]},"
	       "\"metadata\":{\"labels\":{\"managedFields\":\"x\"},\"managedFields\":null}}]}",
	       "{\"metadata\":{\"managedFields\":1},\"items\":[]}",
	       "{\"spec\":{\"managedFields\":[1]},\"metadata\":{\"labels\":{\"managedFields\":"
	       "\"x\"}}}\n",
	       "{\"metadata\":{\"managedFields\":1},\"items\":[]}");
}

Test(listsplit, not_a_list)
{
	expect_error("{\"items\":[1]}", 100, -EPROTO, "not an object");
	expect_error("{\"items\":[{\"a\":1}]]}", 100, -EPROTO, "unbalanced");
	expect_error("{\"items\":[{\"a\":[1}]}", 100, -EPROTO, "unbalanced");
	expect_error("{\"items\":[{\"a\":1}", 100, -EPROTO, "cut short");
	expect_error("{\"items\":[{\"a\":\"1}]}", 100, -EPROTO, "cut short");
}

Test(listsplit, limits)
{
	/* An item of 14 bytes passes a limit of 14 and fails one of 13. */
	expect_error("{\"items\":[{\"a\":\"123456\"}]}", 13, -EMSGSIZE, "too long");
	for (size_t step = 0; step < 26; step++) {
		struct seen s = { 0 };
		char r[256];
		cr_assert_eq(split("{\"items\":[{\"a\":\"123456\"}]}", step, 14, &s, r, sizeof(r)),
		             0);
	}
	/* The rest of the document is bounded too. */
	size_t big = (1u << 20) + 16;
	char *doc = malloc(big + 32);
	struct seen s = { 0 };
	char r[256];
	memcpy(doc, "{\"kind\":\"", 9);
	memset(doc + 9, 'x', big);
	strcpy(doc + 9 + big, "\",\"items\":[]}");
	cr_assert_eq(split(doc, 4096, 100, &s, r, sizeof(r)), -EMSGSIZE);
	free(doc);
}

Test(listsplit, hook_stops)
{
	struct seen s = { .stop_at = 2 };
	char r[256];

	cr_assert_eq(split("{\"items\":[{},{},{}]}", 0, 100, &s, r, sizeof(r)), 7);
	cr_assert_eq(s.n, 2);
	s = (struct seen){ .stop_head = true };
	cr_assert_eq(split("{\"items\":[{},{},{}]}", 0, 100, &s, r, sizeof(r)), 8);
	cr_assert_eq(s.nhead, 1);
	cr_assert_eq(s.n, 0, "no item after a head that stops");
}
