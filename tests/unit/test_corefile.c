/* test_corefile.c -- the Corefile lexer and parser: grammar, env, snippets, imports, errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sextant/error.h>

#include "corefile.h"

/*
 * The parse as one string: "[KEY KEY] DIRECTIVE TOKENS ; DIRECTIVE TOKENS",
 * one block a line. Quoted tokens are shown in quotes and a token starting a
 * new line inside a directive is preceded by '|'.
 */
static char *
dump(const struct sx_corefile *cf)
{
	char *buf;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	for (size_t b = 0; b < cf->nblocks; b++) {
		const struct sx_cf_block *blk = &cf->blocks[b];

		fprintf(f, "%s[", b ? "\n" : "");
		for (size_t k = 0; k < blk->nkeys; k++) {
			fprintf(f, "%s%s", k ? " " : "", blk->keys[k].text);
		}
		fprintf(f, "]");
		for (size_t d = 0; d < blk->ndirs; d++) {
			const struct sx_cf_dir *dir = &blk->dirs[d];

			fprintf(f, "%s", d ? " ;" : "");
			for (size_t i = dir->first; i < dir->first + dir->count; i++) {
				const struct sx_token *t = &blk->tokens[i];

				fprintf(f, "%s%s%s%s", i > dir->first && t->bol ? " |" : " ",
				        t->quoted ? "\"" : "", t->text, t->quoted ? "\"" : "");
			}
		}
	}
	fclose(f);
	return buf;
}

static void
expect(const char *text, const char *want)
{
	struct sx_corefile *cf;
	char err[512];
	int rc = sx_corefile_parse("Corefile", text, "/nonexistent", &cf, err, sizeof(err));

	cr_assert_eq(rc, 0, "parse of <%s> failed: %s", text, err);
	char *got = dump(cf);
	cr_assert_str_eq(got, want, "parse of <%s>", text);
	free(got);
	sx_corefile_free(cf);
}

static void
expect_err_in(const char *dir, const char *text, const char *want)
{
	struct sx_corefile *cf = (void *)1;
	char err[512];
	int rc = sx_corefile_parse("Corefile", text, dir, &cf, err, sizeof(err));

	cr_assert_lt(rc, 0, "parse of <%s> should fail with %s", text, want);
	cr_assert_null(cf);
	cr_assert_str_eq(err, want, "parse of <%s>", text);
}

static void
expect_err(const char *text, const char *want)
{
	expect_err_in("/nonexistent", text, want);
}

/* ---- temporary directories for imports ---- */

static char tmpdir[64];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
mktmp(void)
{
	strcpy(tmpdir, "/tmp/sx_test_corefile_XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void
rmtmp(void)
{
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
put(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

static void
expect_in(const char *text, const char *want)
{
	struct sx_corefile *cf;
	char err[512];
	int rc = sx_corefile_parse("Corefile", text, tmpdir, &cf, err, sizeof(err));

	cr_assert_eq(rc, 0, "parse of <%s> failed: %s", text, err);
	char *got = dump(cf);
	cr_assert_str_eq(got, want, "parse of <%s>", text);
	free(got);
	sx_corefile_free(cf);
}

/* ---- grammar ---- */

Test(corefile, server_block)
{
	expect("example.org {\n\twhoami\n}\n", "[example.org] whoami");
	expect(".:53 {\n  errors\n  log\n  whoami\n}", "[.:53] errors ; log ; whoami");
	expect("", "");
	expect("\n# only a comment\n\n", "");
}

Test(corefile, several_blocks)
{
	expect("a {\n whoami\n}\nb {\n log\n}\n", "[a] whoami\n[b] log");
	expect("a {\n}\nb {\n}", "[a]\n[b]");
}

Test(corefile, keys_on_one_line_and_with_commas)
{
	expect("a b:1053 c {\n whoami\n}", "[a b:1053 c] whoami");
	expect("a, b,\n c {\n whoami\n}", "[a b c] whoami");
	expect("a,\n\n b {\n whoami\n}", "[a b] whoami");
	expect("a , b {\n}", "[a b]");
}

Test(corefile, brace_on_the_line_after_the_keys)
{
	expect("example.org\n{\n whoami\n}", "[example.org] whoami");
}

Test(corefile, block_without_braces_takes_the_rest_of_the_file)
{
	expect(".:53\nwhoami\nlog stdout\n", "[.:53] whoami ; log stdout");
	expect("example.org", "[example.org]");
	expect("a {\n whoami\n}\nb\nlog\nerrors", "[a] whoami\n[b] log ; errors");
}

Test(corefile, directive_args_and_nested_blocks)
{
	expect(". {\n forward . 1.1.1.1 8.8.8.8 {\n  max_fails 3\n  expire 10s\n }\n cache 30\n}",
	       "[.] forward . 1.1.1.1 8.8.8.8 { |max_fails 3 |expire 10s |} ; cache 30");
	expect(". {\n a {\n  b {\n   c\n  }\n }\n}", "[.] a { |b { |c |} |}");
	expect(". {\n a { b }\n c\n}", "[.] a { b } ; c");
	expect(". {\n a {\n }\n}", "[.] a { |}");
}

Test(corefile, directives_on_the_brace_lines)
{
	expect(". { whoami\n}", "[.] whoami");
	expect(". {\n whoami }", "[.] whoami");
	expect(". { whoami }\nb { log }", "[.] whoami\n[b] log");
}

Test(corefile, quoted_tokens)
{
	expect(". {\n template \"a b\" \"\" c\n}", "[.] template \"a b\" \"\" c");
	expect(". {\n a \"say \\\"hi\\\"\"\n}", "[.] a \"say \"hi\"\"");
	/* Only \" is an escape: other backslashes stay as written. */
	expect(". {\n a \"x\\ny\\\\z\"\n}", "[.] a \"x\\ny\\\\z\"");
	/* A quoted brace is text. */
	expect(". {\n a \"{\"\n b \"}\"\n}", "[.] a \"{\" ; b \"}\"");
	/* A quote inside a word is an ordinary character. */
	expect(". {\n a b\"c\n}", "[.] a b\"c");
	/* A closing quote ends the token. */
	expect(". {\n a \"b\"c\n}", "[.] a \"b\" c");
}

Test(corefile, quoted_token_spans_lines)
{
	struct sx_corefile *cf;
	char err[256];

	cr_assert_eq(sx_corefile_parse("Corefile", ". {\n a \"x\ny\" b\n c\n}", NULL, &cf, err,
	                               sizeof(err)),
	             0, "%s", err);
	const struct sx_cf_block *b = &cf->blocks[0];
	cr_assert_eq(b->ndirs, 3);
	cr_assert_str_eq(b->tokens[1].text, "x\ny");
	cr_assert_eq(b->tokens[1].line, 2);
	/* "b" starts on line 3, so it starts a directive of its own. */
	cr_assert_str_eq(b->tokens[b->dirs[1].first].text, "b");
	cr_assert_eq(b->tokens[b->dirs[1].first].line, 3);
	cr_assert_eq(b->tokens[b->dirs[2].first].line, 4);
	sx_corefile_free(cf);
}

Test(corefile, comments)
{
	expect("# head\n. { # open\n whoami # me\n # log\n}", "[.] whoami");
	expect(". {\n foo#bar baz\n}", "[.] foo");
	expect(". {\n a \"#not a comment\"\n}", "[.] a \"#not a comment\"");
	expect(". {\n#\n}", "[.]");
}

Test(corefile, carriage_returns_and_bom)
{
	expect("\xef\xbb\xbf. {\r\n whoami\r\n log\r\n}\r\n", "[.] whoami ; log");
	expect(". {\n who\rami\n}", "[.] whoami");
}

Test(corefile, tabs_and_other_spaces)
{
	expect(".\t{\n\twhoami\t\v\f\n}", "[.] whoami");
}

Test(corefile, token_lines_and_files)
{
	struct sx_corefile *cf;
	char err[256];

	cr_assert_eq(sx_corefile_parse("my.conf", "\n\na {\n\n  whoami\n}\n", NULL, &cf, err,
	                               sizeof(err)),
	             0);
	cr_assert_eq(cf->nfiles, 1);
	cr_assert_str_eq(cf->files[0], "my.conf");
	cr_assert_eq(cf->blocks[0].keys[0].line, 3);
	cr_assert_str_eq(cf->blocks[0].keys[0].file, "my.conf");
	cr_assert_eq(cf->blocks[0].tokens[0].line, 5);
	cr_assert(cf->blocks[0].tokens[0].bol);
	sx_corefile_free(cf);
}

/* ---- environment ---- */

Test(corefile, env_substitution)
{
	setenv("SX_T_ZONE", "example.org", 1);
	setenv("SX_T_PORT", "1053", 1);
	setenv("SX_T_PLUGIN", "whoami", 1);
	unsetenv("SX_T_UNSET");
	expect("{$SX_T_ZONE}:{$SX_T_PORT} {\n {$SX_T_PLUGIN}\n prometheus localhost:{%SX_T_PORT%}\n}",
	       "[example.org:1053] \"whoami\" ; prometheus \"localhost:1053\"");
	expect(". {\n a x{$SX_T_UNSET}y \"{$SX_T_PORT}\"\n}", "[.] a \"xy\" \"1053\"");
	/* Not references: left as written. */
	expect(". {\n a {$} {%% {$SX_T_PORT\n}", "[.] a {$} {%% {$SX_T_PORT");
}

Test(corefile, env_values_are_not_rescanned)
{
	setenv("SX_T_SELF", "{$SX_T_SELF}", 1);
	expect(". {\n a {$SX_T_SELF}\n}", "[.] a \"{$SX_T_SELF}\"");
}

Test(corefile, env_brace_is_not_a_block)
{
	struct sx_corefile *cf;
	char err[256];

	setenv("SX_T_BRACE", "{", 1);
	cr_assert_eq(sx_corefile_parse("Corefile", ". {\n a {$SX_T_BRACE}\n}", NULL, &cf, err,
	                               sizeof(err)),
	             0, "%s", err);
	cr_assert_str_eq(cf->blocks[0].tokens[1].text, "{");
	cr_assert(cf->blocks[0].tokens[1].quoted);
	sx_corefile_free(cf);
}

/* ---- snippets ---- */

Test(corefile, snippets)
{
	expect("(common) {\n errors\n log\n}\n. {\n import common\n whoami\n}",
	       "[.] errors ; log ; whoami");
	/* Two imports in a row stay two sets of lines. */
	expect("(o) {\n ttl 30\n}\n. {\n k {\n  import o\n  import o\n }\n}",
	       "[.] k { |ttl 30 |ttl 30 |}");
	/* A snippet may import another one, and may hold a whole server block. */
	expect("(a) {\n log\n}\n(b) {\n import a\n whoami\n}\n. {\n import b\n}",
	       "[.] log ; whoami");
	expect("(srv) {\n x {\n  whoami\n }\n}\nimport srv", "[x] whoami");
	/* Snippet lines keep the file and line where they are written. */
	struct sx_corefile *cf;
	char err[256];
	cr_assert_eq(sx_corefile_parse("C", "(s) {\n log\n}\n. {\n import s\n}", NULL, &cf, err,
	                               sizeof(err)),
	             0);
	cr_assert_eq(cf->blocks[0].tokens[0].line, 2);
	sx_corefile_free(cf);
}

Test(corefile, snippet_errors)
{
	expect_err("(s) {\n log\n}\n(s) {\n}",
	           "Corefile:4: redeclaration of previously declared snippet (s)");
	expect_err("(s) {\n import s\n}\n. {\n import s\n}",
	           "Corefile:2: import cycle: snippet 's' is already being imported");
	expect_err("(a) {\n import b\n}\n(b) {\n import a\n}\n. {\n import a\n}",
	           "Corefile:5: import cycle: snippet 'a' is already being imported");
	expect_err("(s)\nlog", "Corefile:1: snippet (s) must be followed by '{'");
	expect_err("(s) {\n log\n", "Corefile:1: Unexpected EOF: this '{' is never closed");
}

Test(corefile, snippet_import_cap)
{
	/* Each level imports the one below twice: 2^14 expansions. */
	char text[4096];
	size_t n = (size_t)snprintf(text, sizeof(text), "(s0) {\n log\n}\n");

	for (int i = 1; i <= 13; i++) {
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		                      "(s%d) {\n import s%d\n import s%d\n}\n", i, i - 1, i - 1);
	}
	snprintf(text + n, sizeof(text) - n, ". {\n import s13\n}\n");

	struct sx_corefile *cf;
	char err[256];
	cr_assert_lt(sx_corefile_parse("Corefile", text, NULL, &cf, err, sizeof(err)), 0);
	cr_assert(strstr(err, "more than 10000 snippet imports"), "%s", err);
}

Test(corefile, file_import_cap, .init = mktmp, .fini = rmtmp)
{
	/* 40 file imports per expansion of s0, s0 expanded 4096 times: 163840 > 100000. */
	char text[4096];
	size_t n = (size_t)snprintf(text, sizeof(text), "(s0) {\n");

	put("empty", "");
	for (int i = 0; i < 40; i++) {
		n += (size_t)snprintf(text + n, sizeof(text) - n, " import empty\n");
	}
	n += (size_t)snprintf(text + n, sizeof(text) - n, "}\n");
	for (int i = 1; i <= 12; i++) {
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		                      "(s%d) {\n import s%d\n import s%d\n}\n", i, i - 1, i - 1);
	}
	snprintf(text + n, sizeof(text) - n, ". {\n import s12\n}\n");

	struct sx_corefile *cf;
	char err[256];
	cr_assert_lt(sx_corefile_parse("Corefile", text, tmpdir, &cf, err, sizeof(err)), 0);
	cr_assert(strstr(err, "more than 100000 file imports"), "%s", err);
}

/* ---- imports ---- */

Test(corefile, import_file_relative_to_importer, .init = mktmp, .fini = rmtmp)
{
	struct sx_corefile *cf;
	char err[512], path[256];

	mkdir(strcat(strcpy(path, tmpdir), "/sub"), 0755);
	put("sub/a.conf", "log\nimport b.conf\n");
	put("sub/b.conf", "errors\n");
	expect_in(". {\n import sub/a.conf\n whoami\n}", "[.] log ; errors ; whoami");

	cr_assert_eq(sx_corefile_parse("Corefile", ". {\n import sub/a.conf\n}", tmpdir, &cf, err,
	                               sizeof(err)),
	             0, "%s", err);
	cr_assert_eq(cf->nfiles, 3);
	cr_assert_str_eq(cf->files[0], "Corefile");
	snprintf(path, sizeof(path), "%s/sub/a.conf", tmpdir);
	cr_assert_str_eq(cf->files[1], path);
	cr_assert_str_eq(cf->blocks[0].tokens[0].file, path);
	cr_assert_eq(cf->blocks[0].tokens[0].line, 1);
	cr_assert_eq(cf->blocks[0].tokens[1].line, 1);
	snprintf(path, sizeof(path), "%s/sub/b.conf", tmpdir);
	cr_assert_str_eq(cf->files[2], path);
	sx_corefile_free(cf);
}

Test(corefile, import_absolute_and_top_level, .init = mktmp, .fini = rmtmp)
{
	char text[512];

	put("blocks.conf", "a {\n whoami\n}\nb {\n log\n}\n");
	snprintf(text, sizeof(text), "import %s/blocks.conf\nc {\n errors\n}", tmpdir);
	expect(text, "[a] whoami\n[b] log\n[c] errors");
}

Test(corefile, import_inside_a_nested_block, .init = mktmp, .fini = rmtmp)
{
	put("opts", "ttl 30\npods verified\n");
	expect_in(". {\n kubernetes cluster.local {\n  import opts\n  fallthrough\n }\n}",
	          "[.] kubernetes cluster.local { |ttl 30 |pods verified |fallthrough |}");
}

Test(corefile, import_keys, .init = mktmp, .fini = rmtmp)
{
	put("k", "b.org,\n");
	expect_in("a.org,\nimport k\nc.org {\n whoami\n}", "[a.org b.org c.org] whoami");
}

Test(corefile, import_glob, .init = mktmp, .fini = rmtmp)
{
	char path[256];

	mkdir(strcat(strcpy(path, tmpdir), "/conf.d"), 0755);
	put("conf.d/2.conf", "log\n");
	put("conf.d/1.conf", "errors\n");
	put("conf.d/3.txt", "bad\n");
	expect_in(". {\n import conf.d/*.conf\n whoami\n}", "[.] errors ; log ; whoami");
	expect_in(". {\n import conf.d/?.conf\n}", "[.] errors ; log");
	/* A glob matching nothing is not an error. */
	expect_in(". {\n import conf.d/*.none\n whoami\n}", "[.] whoami");
}

Test(corefile, import_same_file_twice, .init = mktmp, .fini = rmtmp)
{
	struct sx_corefile *cf;
	char err[512];

	put("x", "log\n");
	cr_assert_eq(sx_corefile_parse("C", "a {\n import x\n}\nb {\n import x\n}", tmpdir, &cf,
	                               err, sizeof(err)),
	             0, "%s", err);
	cr_assert_eq(cf->nblocks, 2);
	cr_assert_eq(cf->nfiles, 2);
	sx_corefile_free(cf);
}

Test(corefile, import_env_pattern, .init = mktmp, .fini = rmtmp)
{
	put("e.conf", "log\n");
	setenv("SX_T_IMPORT", "e.conf", 1);
	expect_in(". {\n import {$SX_T_IMPORT}\n}", "[.] log");
}

Test(corefile, import_errors, .init = mktmp, .fini = rmtmp)
{
	char want[512], path[256];

	mkdir(strcat(strcpy(path, tmpdir), "/dir"), 0755);
	put("self", "import self\n");
	put("a", "log\nimport b\n");
	put("b", "import a\n");
	expect_err_in(tmpdir, ". {\n import missing.conf\n}",
	              "Corefile:2: File to import not found: missing.conf");
	snprintf(want, sizeof(want), "Corefile:2: Could not import %s/dir: is a directory", tmpdir);
	expect_err_in(tmpdir, ". {\n import dir\n}", want);
	expect_err_in(tmpdir, ". {\n import\n}",
	              "Corefile:2: Wrong argument count or unexpected line ending after 'import'");
	expect_err_in(tmpdir, ". {\n import a b\n}",
	              "Corefile:2: import takes exactly one argument (what to import)");
	expect_err_in(tmpdir, ". {\n import \"\"\n}",
	              "Corefile:2: import requires a non-empty pattern");
	expect_err_in(tmpdir, ". {\n import *.d/*.conf\n}",
	              "Corefile:2: import pattern may hold one '*' and one '?', and no '[]': "
	              "*.d/*.conf");
	expect_err_in(tmpdir, ". {\n import [ab]\n}",
	              "Corefile:2: import pattern may hold one '*' and one '?', and no '[]': [ab]");
	snprintf(want, sizeof(want), "%s/self:1: import cycle: %s/self is already being imported",
	         tmpdir, tmpdir);
	expect_err_in(tmpdir, ". {\n import self\n}", want);
	snprintf(want, sizeof(want), "%s/b:1: import cycle: %s/a is already being imported", tmpdir,
	         tmpdir);
	expect_err_in(tmpdir, ". {\n import a\n}", want);
}

Test(corefile, import_of_the_corefile_itself, .init = mktmp, .fini = rmtmp)
{
	struct sx_corefile *cf;
	char err[512], path[256], want[600];

	put("Corefile", ". {\n import Corefile\n}\n");
	snprintf(path, sizeof(path), "%s/Corefile", tmpdir);
	cr_assert_lt(sx_corefile_load(path, &cf, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s:2: import cycle: %s is already being imported", path,
	         path);
	cr_assert_str_eq(err, want);
}

/* ---- loading ---- */

Test(corefile, load_file, .init = mktmp, .fini = rmtmp)
{
	struct sx_corefile *cf;
	char err[512], path[256];

	put("Corefile", ". {\n import part\n}\n");
	put("part", "whoami\n");
	snprintf(path, sizeof(path), "%s/Corefile", tmpdir);
	cr_assert_eq(sx_corefile_load(path, &cf, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cf->nfiles, 2);
	cr_assert_str_eq(cf->files[0], path);
	cr_assert_str_eq(cf->blocks[0].tokens[0].text, "whoami");
	sx_corefile_free(cf);
}

Test(corefile, load_errors, .init = mktmp, .fini = rmtmp)
{
	struct sx_corefile *cf;
	char err[512], path[256], want[600];

	snprintf(path, sizeof(path), "%s/nope", tmpdir);
	cr_assert_eq(sx_corefile_load(path, &cf, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	cr_assert_str_eq(err, want);
	cr_assert_eq(sx_corefile_load(tmpdir, &cf, err, sizeof(err)), -EISDIR);
	put("Corefile", "}\n");
	snprintf(path, sizeof(path), "%s/Corefile", tmpdir);
	cr_assert_eq(sx_corefile_load(path, &cf, err, sizeof(err)), SX_EINVAL);
	snprintf(want, sizeof(want), "%s:1: Unexpected '}' because no matching opening brace",
	         path);
	cr_assert_str_eq(err, want);
}

Test(corefile, load_stdin)
{
	struct sx_corefile *cf;
	const char *text = "example.org:1053 {\n whoami\n}\n";
	char err[256];
	int fds[2];

	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(write(fds[1], text, strlen(text)), (ssize_t)strlen(text));
	close(fds[1]);
	cr_assert_eq(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
	cr_assert_eq(sx_corefile_load("stdin", &cf, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cf->files[0], "stdin");
	cr_assert_str_eq(cf->blocks[0].keys[0].text, "example.org:1053");
	sx_corefile_free(cf);
}

/* ---- errors ---- */

Test(corefile, brace_errors)
{
	expect_err("}", "Corefile:1: Unexpected '}' because no matching opening brace");
	expect_err(". {\n whoami\n}\n}",
	           "Corefile:4: Unexpected '}' because no matching opening brace");
	expect_err(".\nwhoami\n}", "Corefile:3: Unexpected '}' because no matching opening brace");
	expect_err("a, }", "Corefile:1: Unexpected '}' because no matching opening brace");
	expect_err(". {\n whoami\n", "Corefile:1: Unexpected EOF: this '{' is never closed");
	expect_err(". {\n a {\n  b\n}", "Corefile:1: Unexpected EOF: this '{' is never closed");
	expect_err(". {\n a {\n  b\n", "Corefile:2: Unexpected EOF: this '{' is never closed");
	expect_err(". {\n {\n}", "Corefile:2: Unexpected '{': expected a directive name");
	expect_err(". {\n forward .\n {\n }\n}",
	           "Corefile:3: Unexpected '{': a block opens on its directive's line");
}

Test(corefile, key_errors)
{
	expect_err("a,\n{\n}", "Corefile:2: Expected another address after ',' but got '{'");
	expect_err("a,", "Corefile:1: Unexpected EOF: expected another address after ','");
	expect_err("{\n}", "Corefile:1: server block without an address");
	expect_err("\"\" {\n}", "Corefile:1: server block without an address");
}

Test(corefile, lexer_errors)
{
	expect_err(". {\n a \"open\n\n}", "Corefile:2: unterminated quoted string");
}

Test(corefile, nul_byte)
{
	struct sx_corefile *cf;
	char err[256];
	char path[] = "/tmp/sx_test_nul_XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, ". {\n a\0b\n}", 10), 10);
	close(fd);
	cr_assert_eq(sx_corefile_load(path, &cf, err, sizeof(err)), SX_EINVAL);
	unlink(path);
	cr_assert(strstr(err, ":2: NUL byte in file"), "%s", err);
}

Test(corefile, error_buffer_truncation)
{
	struct sx_corefile *cf;
	char err[8];

	cr_assert_eq(sx_corefile_parse("Corefile", "}", NULL, &cf, err, sizeof(err)), SX_EINVAL);
	cr_assert_str_eq(err, "Corefil");
}

/* Inputs built to trip a parser: each must parse or fail cleanly, never crash or leak. */
Test(corefile, hostile_inputs)
{
	static const char *inputs[] = {
		"{",
		"}",
		"{{{{",
		"}}}}",
		"\"",
		"\"\\",
		"\\\"",
		"a {",
		"a { b {",
		"a { b { } } }",
		"(",
		"()",
		"() {\n}",
		"(x) {",
		"(x) {\n import x",
		"import",
		"import \"\"",
		". {\n import (x)\n}",
		"a,,,,",
		",",
		"{$",
		"{%",
		"{$}",
		"#",
		"\xef\xbb",
		"\xef\xbb\xbf",
		"a\n{\n{\n}\n}",
		". {\n a \"{\" {\n }\n}",
		"a { b } c { d }",
		"a {\n b }\n c\n}",
	};

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct sx_corefile *cf = NULL;
		char err[256] = "";
		int rc = sx_corefile_parse("F", inputs[i], "/nonexistent", &cf, err, sizeof(err));

		if (rc == 0) {
			cr_assert_not_null(cf);
			sx_corefile_free(cf);
		} else {
			cr_assert_null(cf);
			cr_assert(strncmp(err, "F:", 2) == 0, "<%s>: %s", inputs[i], err);
		}
	}
}
