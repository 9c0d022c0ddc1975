/* test_k8s_yaml.c -- YAML to JSON conversion of kubeconfig and manifest files. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <sextant/error.h>

#include "../yaml2json.h"

static char err[512];

/* Parse @text and return its documents as compact JSON text (to free). */
static char *
conv(const char *text)
{
	json_t *docs;
	char *s;
	int r = k8s_yaml_parse(&docs, text, strlen(text), err, sizeof(err));

	cr_assert_eq(r, 0, "parse failed: %s", err);
	s = json_dumps(docs, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	json_decref(docs);
	return s;
}

static void
expect(const char *text, const char *json)
{
	char *s = conv(text);

	cr_assert_str_eq(s, json, "for %s", text);
	free(s);
}

static void
expect_error(const char *text, const char *fragment)
{
	json_t *docs = NULL;
	int r = k8s_yaml_parse(&docs, text, strlen(text), err, sizeof(err));

	cr_assert_neq(r, 0, "no error for %s", text);
	cr_assert_null(docs);
	cr_assert(strstr(err, fragment), "error \"%s\" lacks \"%s\"", err, fragment);
}

Test(yaml, plain_scalar_types)
{
	expect("a: 80\nb: -3\nc: +7\nd: 0x1F\ne: 0o17\nf: 1.5\ng: 2e3\nh: .5\n",
	       "[{\"a\":80,\"b\":-3,\"c\":7,\"d\":31,\"e\":15,\"f\":1.5,\"g\":2000.0,\"h\":0.5}]");
	expect("a: true\nb: False\nc: yes\nd: NO\ne: on\nf: Off\n",
	       "[{\"a\":true,\"b\":false,\"c\":true,\"d\":false,\"e\":true,\"f\":false}]");
	expect("a: ~\nb: null\nc:\nd: NULL\n", "[{\"a\":null,\"b\":null,\"c\":null,\"d\":null}]");
	/* Not numbers nor booleans: stay strings. */
	expect("a: 1.2.3\nb: 10.96.0.10\nc: .inf\nd: y\ne: 0x\nf: 12abc\ng: -x\n",
	       "[{\"a\":\"1.2.3\",\"b\":\"10.96.0.10\",\"c\":\".inf\",\"d\":\"y\",\"e\":\"0x\","
	       "\"f\":\"12abc\",\"g\":\"-x\"}]");
}

Test(yaml, quoted_scalars_stay_strings)
{
	expect("a: \"80\"\nb: 'true'\nc: \"\"\nd: 'null'\ne: \"\\u00e9\\n\"\n",
	       "[{\"a\":\"80\",\"b\":\"true\",\"c\":\"\",\"d\":\"null\",\"e\":\"\xc3\xa9\\n\"}]");
}

Test(yaml, integer_overflow_becomes_real)
{
	expect("a: 9223372036854775807\nb: 99999999999999999999\n",
	       "[{\"a\":9223372036854775807,\"b\":1e20}]");
}

Test(yaml, block_scalars)
{
	expect("a: |\n  line1\n  line2\nb: >-\n  folded\n  text\nc: |-\n  42\n",
	       "[{\"a\":\"line1\\nline2\\n\",\"b\":\"folded text\",\"c\":\"42\"}]");
}

Test(yaml, explicit_tags)
{
	expect("a: !!str 123\nb: !!int \"42\"\nc: !!bool \"yes\"\nd: !!float 1\ne: ! 12\n",
	       "[{\"a\":\"123\",\"b\":42,\"c\":true,\"d\":1.0,\"e\":\"12\"}]");
	expect_error("a: !!int abc\n", "line 1");
	expect_error("a: !!bool 3\n", "not a boolean");
}

Test(yaml, sequences_and_flow_style)
{
	expect("- 1\n- [a, \"b\", {c: d}]\n- {}\n- []\n",
	       "[[1,[\"a\",\"b\",{\"c\":\"d\"}],{},[]]]");
}

Test(yaml, multi_document_stream_skips_empty_documents)
{
	expect("---\na: 1\n---\n---\n# only a comment\n---\nb: 2\n...\n---\n- x\n",
	       "[{\"a\":1},{\"b\":2},[\"x\"]]");
	expect("", "[]");
}

Test(yaml, json_input)
{
	expect("{\"kind\": \"Service\", \"spec\": {\"ports\": [{\"port\": 53, \"name\": \"dns\"}],"
	       " \"x\": null, \"y\": false, \"z\": -1.25}}",
	       "[{\"kind\":\"Service\",\"spec\":{\"ports\":[{\"port\":53,\"name\":\"dns\"}],"
	       "\"x\":null,\"y\":false,\"z\":-1.25}}]");
}

Test(yaml, keys_are_text_of_scalars)
{
	expect("80: a\ntrue: b\n\"q\": c\n", "[{\"80\":\"a\",\"true\":\"b\",\"q\":\"c\"}]");
}

Test(yaml, anchors_aliases_are_copies)
{
	json_t *docs;
	int r = k8s_yaml_parse(&docs, "a: &x {k: v}\nb: *x\n", 19, err, sizeof(err));

	cr_assert_eq(r, 0, "%s", err);
	json_t *a = json_object_get(json_array_get(docs, 0), "a");
	json_t *b = json_object_get(json_array_get(docs, 0), "b");
	cr_assert(json_equal(a, b));
	cr_assert_neq(a, b, "an alias must be a copy, not a shared node");
	json_decref(docs);
	expect("a: &n 5\nb: [*n, *n]\n", "[{\"a\":5,\"b\":[5,5]}]");
}

Test(yaml, merge_keys)
{
	expect("base: &b {x: 1, y: 2}\nother: &o {y: 3, z: 4}\n"
	       "m:\n  y: 9\n  <<: [*b, *o]\n",
	       "[{\"base\":{\"x\":1,\"y\":2},\"other\":{\"y\":3,\"z\":4},"
	       "\"m\":{\"y\":9,\"x\":1,\"z\":4}}]");
	expect_error("a: &s 1\nb:\n  <<: *s\n", "merge key");
}

Test(yaml, anchors_are_per_document)
{
	expect_error("a: &x 1\n---\nb: *x\n", "unknown anchor \"x\"");
}

Test(yaml, alias_bomb_is_refused)
{
	char text[1024];
	int n = snprintf(text, sizeof(text), "a: &a [x, x, x, x, x, x, x, x, x, x]\n");

	for (char c = 'b'; c <= 'h'; c++) {
		n += snprintf(text + n, sizeof(text) - (size_t)n,
		              "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", c, c,
		              c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
	}
	expect_error(text, "too many nodes");
}

Test(yaml, errors_carry_line_numbers)
{
	expect_error("a: 1\nb: [1, 2\nc: 3\n", "line ");
	expect_error("a: 1\nb:\n  c: 1\n  c: 2\n", "line 4 column 6: duplicate key \"c\"");
	expect_error("a: 1\n  b: 2\n", "line 2");
	expect_error("? [a, b]\n: c\n", "mapping keys must be strings");
	expect_error("a:\n\t- b\n", "line 2");
}

Test(yaml, error_mentions_line_of_problem)
{
	json_t *docs;
	const char *t = "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n   bad: indent\n";
	int r = k8s_yaml_parse(&docs, t, strlen(t), err, sizeof(err));

	cr_assert_neq(r, 0);
	cr_assert(!strncmp(err, "line 5 ", 7), "got \"%s\"", err);
}

Test(yaml, nesting_is_bounded)
{
	char text[2048];
	size_t n = 0;

	for (int i = 0; i < 300; i++) {
		text[n++] = '[';
	}
	for (int i = 0; i < 300; i++) {
		text[n++] = ']';
	}
	text[n] = '\0';
	expect_error(text, "nested deeper than");
}

Test(yaml, load_file)
{
	char path[] = "/tmp/k8s-yaml-XXXXXX";
	int fd = mkstemp(path);
	json_t *docs;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "kind: List\nitems: []\n", 21), 21);
	close(fd);
	cr_assert_eq(k8s_yaml_load_file(&docs, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(docs, 0), "kind")),
	                 "List");
	json_decref(docs);
	unlink(path);
	cr_assert_eq(k8s_yaml_load_file(&docs, path, err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err, strerror(ENOENT));
	cr_assert_eq(k8s_yaml_load_file(&docs, "/tmp", err, sizeof(err)), -EISDIR);
}

/* `kubectl get svc,endpointslices,pods,ns -A -o yaml` and `-o json` of one cluster state. */
Test(yaml, kubectl_yaml_equals_kubectl_json)
{
	const char *root = getenv("SX_SOURCE_ROOT");
	char ypath[512], jpath[512];
	json_t *docs, *want;
	json_error_t jerr;

	cr_assert_not_null(root, "SX_SOURCE_ROOT must be set");
	snprintf(ypath, sizeof(ypath), "%s/plugins/kubernetes/tests/data/%s", root,
	         "kubectl-get-all.yaml");
	snprintf(jpath, sizeof(jpath), "%s/plugins/kubernetes/tests/data/%s", root,
	         "kubectl-get-all.json");
	cr_assert_eq(k8s_yaml_load_file(&docs, ypath, err, sizeof(err)), 0, "%s", err);
	want = json_load_file(jpath, 0, &jerr);
	cr_assert_not_null(want, "%s", jerr.text);
	cr_assert_eq(json_array_size(docs), 1);
	cr_assert_eq(json_array_size(json_object_get(want, "items")), 19);
	cr_assert(json_equal(json_array_get(docs, 0), want), "YAML and JSON differ");
	json_decref(docs);
	json_decref(want);
}
