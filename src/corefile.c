/* corefile.c -- the Corefile lexer and parser: tokens, server blocks, snippets, imports, {$ENV}. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sextant/error.h>

#include "corefile.h"

/*
 * Reading is untrusted: every file is bounded, and imports are bounded both in
 * count (the caps CoreDNS documents) and in the tokens they produce, so a
 * small file cannot expand into an unbounded configuration.
 */
#define MAX_FILE_SIZE       (16u << 20)
#define MAX_TOKENS          (1u << 20)
#define MAX_SNIPPET_IMPORTS 10000
#define MAX_FILE_IMPORTS    100000

/* A token as lexed: text owned by its source, never changed. */
struct rtok {
	char *text;
	int line;
	int src;
	bool quoted;
};

struct tokvec {
	struct rtok *t;
	size_t n, cap;
};

/* One file read (index i is also cf->files[i]). */
struct src {
	char *dir;
	dev_t dev;
	ino_t ino;
	bool has_id;
	struct tokvec toks; /* owns the text of its tokens */
};

/* Snippet tokens borrow their text from the sources they were written in. */
struct snippet {
	char *name;
	struct tokvec toks;
};

/*
 * Each import opens an expansion; the chain of parents is what is being
 * imported right now, so an import of anything on that chain is a cycle.
 */
struct origin {
	int parent;
	int src;     /* file expansion: the source read, else -1 */
	int snippet; /* snippet expansion: its index, else -1 */
};

struct stream {
	int src, snippet; /* which token vector: one of them is >= 0 */
	size_t pos;
	int origin;
};

/* A token as the parser sees it. */
struct tok {
	const struct rtok *r;
	int origin;
	bool bol;
};

struct parser {
	struct sx_corefile *cf;
	char *err;
	size_t errlen;
	struct src *srcs; /* parallel to cf->files */
	struct snippet *snips;
	size_t nsnips;
	struct origin *origins;
	size_t norigins, origincap;
	struct stream *stack;
	size_t depth, stackcap;
	size_t snippet_imports, file_imports, ntokens;
	struct tok last; /* the last token read, for line starts and pushback */
	bool have_last, pushed;
	struct sx_cf_block *blk; /* the block being filled */
	size_t keycap, tokcap, dircap;
};

static int vperr(struct parser *p, int src, int line, const char *fmt, va_list ap)
        __attribute__((format(printf, 4, 0)));
static int perr(struct parser *p, int src, int line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int tok_err(struct parser *p, const struct tok *t, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int
vperr(struct parser *p, int src, int line, const char *fmt, va_list ap)
{
	int n;

	n = snprintf(p->err, p->errlen, "%s:%d: ", p->cf->files[src], line);
	if (n >= 0 && (size_t)n < p->errlen) {
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	}
	return SX_EINVAL;
}

static int
perr(struct parser *p, int src, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(p, src, line, fmt, ap);
	va_end(ap);
	return SX_EINVAL;
}

static int
tok_err(struct parser *p, const struct tok *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(p, t->r->src, t->r->line, fmt, ap);
	va_end(ap);
	return SX_EINVAL;
}

static void *
grow(void *arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *n;

	if (need <= *cap) {
		return arr;
	}
	ncap = *cap ? *cap * 2 : 8;
	while (ncap < need) {
		ncap *= 2;
	}
	n = reallocarray(arr, ncap, size);
	if (n) {
		*cap = ncap;
	}
	return n;
}

static int
tokvec_push(struct tokvec *v, const struct rtok *t)
{
	struct rtok *n = grow(v->t, &v->cap, v->n + 1, sizeof(*n));

	if (!n) {
		return -ENOMEM;
	}
	v->t = n;
	v->t[v->n++] = *t;
	return 0;
}

/* ---- lexer ---- */

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f';
}

/* Append one token's text to @v, copying @buf. */
static int
lex_emit(struct tokvec *v, const char *buf, size_t len, int line, int src, bool quoted)
{
	struct rtok t = { .line = line, .src = src, .quoted = quoted };

	t.text = strndup(buf, len);
	if (!t.text) {
		return -ENOMEM;
	}
	if (tokvec_push(v, &t) < 0) {
		free(t.text);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Split @text into tokens for source @src. The token buffer never grows
 * beyond the input, so it is sized once.
 */
static int
lex(struct parser *p, int src, const char *text, size_t len)
{
	struct tokvec *v = &p->srcs[src].toks;
	size_t i = 0, n = 0;
	int line = 1, tline = 1, rc = 0;
	bool quoted = false, in_tok = false, comment = false;
	char *buf;

	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		i = 3;
	}
	buf = malloc(len + 1);
	if (!buf) {
		return -ENOMEM;
	}
	for (; i < len && rc == 0; i++) {
		char c = text[i];

		if (c == '\0') {
			rc = perr(p, src, line, "NUL byte in file");
			break;
		}
		if (quoted) {
			/* Only \" is an escape; any other backslash pair is kept as written. */
			if (c == '\\' && i + 1 < len && text[i + 1] != '\0') {
				c = text[++i];
				if (c != '"') {
					buf[n++] = '\\';
				}
				line += c == '\n';
				buf[n++] = c;
				continue;
			}
			if (c == '"') {
				rc = lex_emit(v, buf, n, tline, src, true);
				quoted = in_tok = false;
				n = 0;
				continue;
			}
			if (c == '\n') {
				line++;
			}
			buf[n++] = c;
			continue;
		}
		if (c == '\r') {
			continue;
		}
		if (is_space(c)) {
			if (in_tok) {
				rc = lex_emit(v, buf, n, tline, src, false);
				in_tok = false;
				n = 0;
			}
			if (c == '\n') {
				line++;
				comment = false;
			}
			continue;
		}
		if (c == '#') {
			comment = true;
		}
		if (comment) {
			continue;
		}
		if (!in_tok) {
			in_tok = true;
			tline = line;
			if (c == '"') {
				quoted = true;
				continue;
			}
		}
		buf[n++] = c;
	}
	if (rc == 0 && quoted) {
		rc = perr(p, src, tline, "unterminated quoted string");
	} else if (rc == 0 && in_tok) {
		rc = lex_emit(v, buf, n, tline, src, false);
	}
	free(buf);
	return rc;
}

/* ---- sources ---- */

static int
read_fd(int fd, char **out, size_t *outlen)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *n;
	ssize_t r;

	for (;;) {
		if (len + 1 >= cap) {
			if (cap > MAX_FILE_SIZE) {
				free(buf);
				return -EFBIG;
			}
			n = realloc(buf, cap ? cap * 2 : 4096);
			if (!n) {
				free(buf);
				return -ENOMEM;
			}
			buf = n;
			cap = cap ? cap * 2 : 4096;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			r = -errno;
			free(buf);
			return (int)r;
		}
		if (r == 0) {
			break;
		}
		len += (size_t)r;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		return strdup(".");
	}
	if (slash == path) {
		return strdup("/");
	}
	return strndup(path, (size_t)(slash - path));
}

/* Register a source named @path (shown in messages) whose relative imports resolve in @dir. */
static int
add_src(struct parser *p, const char *path, const char *dir)
{
	struct sx_corefile *cf = p->cf;
	size_t cap = cf->nfiles;
	char **files;
	struct src *srcs;

	files = realloc(cf->files, (cap + 1) * sizeof(*files));
	if (!files) {
		return -ENOMEM;
	}
	cf->files = files;
	srcs = realloc(p->srcs, (cap + 1) * sizeof(*srcs));
	if (!srcs) {
		return -ENOMEM;
	}
	p->srcs = srcs;
	memset(&srcs[cap], 0, sizeof(*srcs));
	files[cap] = strdup(path);
	srcs[cap].dir = dir ? strdup(dir) : dir_of(path);
	if (!files[cap] || !srcs[cap].dir) {
		free(files[cap]);
		free(srcs[cap].dir);
		return -ENOMEM;
	}
	cf->nfiles++;
	return (int)cap;
}

static int
add_origin(struct parser *p, int parent, int src, int snippet)
{
	struct origin *o = grow(p->origins, &p->origincap, p->norigins + 1, sizeof(*o));

	if (!o) {
		return -ENOMEM;
	}
	p->origins = o;
	o[p->norigins] = (struct origin){ .parent = parent, .src = src, .snippet = snippet };
	return (int)p->norigins++;
}

static int
push_stream(struct parser *p, int src, int snippet, int parent)
{
	int origin = add_origin(p, parent, src, snippet);
	struct stream *s;

	if (origin < 0) {
		return origin;
	}
	s = grow(p->stack, &p->stackcap, p->depth + 1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	p->stack = s;
	s[p->depth++] = (struct stream){ .src = src, .snippet = snippet, .origin = origin };
	return 0;
}

/* ---- environment ---- */

/* Replace {$NAME} and {%NAME%} by the variable's value (unset: empty); values are not rescanned. */
static char *
envsub(const char *s, bool *changed)
{
	size_t len = strlen(s), cap = len + 1, n = 0;
	char *out = malloc(cap), *tmp;

	*changed = false;
	if (!out) {
		return NULL;
	}
	while (*s) {
		const char *end = NULL, *val = NULL;
		size_t vlen, skip = 0;

		if (s[0] == '{' && s[1] == '$') {
			end = strchr(s + 2, '}');
			skip = 1;
		} else if (s[0] == '{' && s[1] == '%') {
			end = strstr(s + 2, "%}");
			skip = 2;
		}
		if (!end || end == s + 2) {
			out[n++] = *s++;
			continue;
		}
		tmp = strndup(s + 2, (size_t)(end - s - 2));
		if (!tmp) {
			free(out);
			return NULL;
		}
		val = getenv(tmp);
		free(tmp);
		vlen = val ? strlen(val) : 0;
		s = end + skip;
		cap += vlen;
		tmp = realloc(out, cap);
		if (!tmp) {
			free(out);
			return NULL;
		}
		out = tmp;
		if (vlen) {
			memcpy(out + n, val, vlen);
		}
		n += vlen;
		*changed = true;
	}
	out[n] = '\0';
	return out;
}

/* ---- token reader ---- */

static bool
is_brace(const struct tok *t, char c)
{
	return !t->r->quoted && t->r->text[0] == c && t->r->text[1] == '\0';
}

static const struct rtok *
raw_next(struct parser *p, int *origin)
{
	while (p->depth > 0) {
		struct stream *s = &p->stack[p->depth - 1];
		const struct tokvec *v = s->src >= 0 ? &p->srcs[s->src].toks
		                                     : &p->snips[s->snippet].toks;

		if (s->pos < v->n) {
			*origin = s->origin;
			return &v->t[s->pos++];
		}
		p->depth--;
	}
	return NULL;
}

static int do_import(struct parser *p, const struct tok *imp);

/*
 * Read the next token into *@t: 1, 0 at the end, or an error. With @expand,
 * `import` at the start of a line is replaced by what it names.
 */
static int
next(struct parser *p, struct tok *t, bool expand)
{
	const struct rtok *r;
	int origin, rc;

	for (;;) {
		if (p->pushed) {
			p->pushed = false;
			*t = p->last;
		} else {
			r = raw_next(p, &origin);
			if (!r) {
				return 0;
			}
			t->r = r;
			t->origin = origin;
			t->bol = !p->have_last || p->last.origin != origin ||
			         p->last.r->src != r->src || p->last.r->line != r->line;
			p->last = *t;
			p->have_last = true;
		}
		if (!expand || !t->bol || t->r->quoted || strcmp(t->r->text, "import") != 0) {
			return 1;
		}
		rc = do_import(p, t);
		if (rc < 0) {
			return rc;
		}
	}
}

static void
unread(struct parser *p)
{
	p->pushed = true;
}

/* ---- imports ---- */

static int
import_snippet(struct parser *p, const struct tok *imp, size_t idx, const char *name)
{
	for (int o = imp->origin; o >= 0; o = p->origins[o].parent) {
		if (p->origins[o].snippet == (int)idx) {
			return tok_err(p, imp,
			               "import cycle: snippet '%s' is already being imported",
			               name);
		}
	}
	if (++p->snippet_imports > MAX_SNIPPET_IMPORTS) {
		return perr(p, imp->r->src, imp->r->line, "more than %d snippet imports",
		            MAX_SNIPPET_IMPORTS);
	}
	return push_stream(p, -1, (int)idx, imp->origin);
}

/* The source for file @path: read once, whatever the number of imports or names it has. */
static int
open_src(struct parser *p, const struct tok *imp, const char *path)
{
	struct stat st;
	char *text;
	size_t len;
	int fd, rc, s;

	for (size_t i = 1; i < p->cf->nfiles; i++) {
		if (strcmp(p->cf->files[i], path) == 0) {
			return (int)i;
		}
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		perr(p, imp->r->src, imp->r->line, "Could not import %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		perr(p, imp->r->src, imp->r->line, "Could not import %s: %s", path, strerror(-rc));
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return perr(p, imp->r->src, imp->r->line, "Could not import %s: %s", path,
		            S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
	}
	for (size_t i = 0; i < p->cf->nfiles; i++) {
		if (p->srcs[i].has_id && p->srcs[i].dev == st.st_dev &&
		    p->srcs[i].ino == st.st_ino) {
			close(fd);
			return (int)i;
		}
	}
	rc = read_fd(fd, &text, &len);
	close(fd);
	if (rc < 0) {
		perr(p, imp->r->src, imp->r->line, "Could not import %s: %s", path, strerror(-rc));
		return rc;
	}
	s = add_src(p, path, NULL);
	if (s >= 0) {
		p->srcs[s].dev = st.st_dev;
		p->srcs[s].ino = st.st_ino;
		p->srcs[s].has_id = true;
		rc = lex(p, s, text, len);
	} else {
		rc = s;
	}
	free(text);
	return rc < 0 ? rc : s;
}

static int
import_file(struct parser *p, const struct tok *imp, const char *path)
{
	int s = open_src(p, imp, path);

	if (s < 0) {
		return s;
	}
	for (int o = imp->origin; o >= 0; o = p->origins[o].parent) {
		if (p->origins[o].src == s) {
			return perr(p, imp->r->src, imp->r->line,
			            "import cycle: %s is already being imported", path);
		}
	}
	if (++p->file_imports > MAX_FILE_IMPORTS) {
		return perr(p, imp->r->src, imp->r->line, "more than %d file imports",
		            MAX_FILE_IMPORTS);
	}
	return push_stream(p, s, -1, imp->origin);
}

static size_t
count_char(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++) {
		n += *s == c;
	}
	return n;
}

static int
import_glob(struct parser *p, const struct tok *imp, const char *pattern)
{
	const char *dir = p->srcs[imp->r->src].dir;
	char *path;
	glob_t g;
	int rc = 0;

	if (pattern[0] == '/' || strcmp(dir, ".") == 0) {
		path = strdup(pattern);
	} else if (asprintf(&path, "%s/%s", dir, pattern) < 0) {
		path = NULL;
	}
	if (!path) {
		return -ENOMEM;
	}
	if (count_char(path, '*') > 1 || count_char(path, '?') > 1 || strchr(path, '[') ||
	    strchr(path, ']')) {
		rc = tok_err(p, imp, "import pattern may hold one '*' and one '?', and no '[]': %s",
		             pattern);
		free(path);
		return rc;
	}
	if (!strpbrk(path, "*?")) {
		if (access(path, F_OK) < 0 && errno == ENOENT) {
			rc = tok_err(p, imp, "File to import not found: %s", pattern);
		} else {
			rc = import_file(p, imp, path);
		}
		free(path);
		return rc;
	}
	rc = glob(path, 0, NULL, &g);
	free(path);
	if (rc == GLOB_NOMATCH) {
		return 0;
	}
	if (rc != 0) {
		return rc == GLOB_NOSPACE ? -ENOMEM
		                          : tok_err(p, imp, "cannot read files for %s", pattern);
	}
	/* The stack is last in, first out: push the matches backwards. */
	for (size_t i = g.gl_pathc; i-- > 0 && rc == 0;) {
		rc = import_file(p, imp, g.gl_pathv[i]);
	}
	globfree(&g);
	return rc;
}

static int
do_import(struct parser *p, const struct tok *imp)
{
	struct tok self = *imp, arg, extra;
	char *pattern;
	bool changed;
	int rc;

	rc = next(p, &arg, false);
	if (rc < 0) {
		return rc;
	}
	if (rc == 0 || arg.bol) {
		if (rc) {
			unread(p);
		}
		return tok_err(p, &self,
		               "Wrong argument count or unexpected line ending after 'import'");
	}
	rc = next(p, &extra, false);
	if (rc < 0) {
		return rc;
	}
	if (rc) {
		unread(p);
		if (!extra.bol) {
			return tok_err(p, &self,
			               "import takes exactly one argument (what to import)");
		}
	}
	pattern = envsub(arg.r->text, &changed);
	if (!pattern) {
		return -ENOMEM;
	}
	if (pattern[0] == '\0') {
		rc = tok_err(p, &self, "import requires a non-empty pattern");
		free(pattern);
		return rc;
	}
	size_t i = 0;

	while (i < p->nsnips && strcmp(p->snips[i].name, pattern) != 0) {
		i++;
	}
	rc = i < p->nsnips ? import_snippet(p, &self, i, pattern) : import_glob(p, &self, pattern);
	free(pattern);
	/*
	 * The token pushed back (the one after the import line) must be read
	 * after the imported ones: drop it and read it again from its stream.
	 */
	if (rc == 0 && p->pushed) {
		p->pushed = false;
		for (size_t i = p->depth; i-- > 0;) {
			if (p->stack[i].origin == extra.origin) {
				p->stack[i].pos--;
				break;
			}
		}
		p->last = arg;
	}
	return rc;
}

/* ---- output ---- */

static int
emit(struct parser *p, struct sx_token **arr, size_t *n, size_t *cap, const struct tok *t)
{
	struct sx_token *a;
	bool changed;
	char *text;

	if (++p->ntokens > MAX_TOKENS) {
		return tok_err(p, t, "more than %u tokens: imports expand too much", MAX_TOKENS);
	}
	a = grow(*arr, cap, *n + 1, sizeof(*a));
	if (!a) {
		return -ENOMEM;
	}
	*arr = a;
	text = envsub(t->r->text, &changed);
	if (!text) {
		return -ENOMEM;
	}
	a[*n] = (struct sx_token){
		.text = text,
		.file = p->cf->files[t->r->src],
		.line = t->r->line,
		.quoted = t->r->quoted || changed,
		.bol = t->bol,
	};
	(*n)++;
	return 0;
}

static int
emit_body(struct parser *p, const struct tok *t)
{
	return emit(p, &p->blk->tokens, &p->blk->ntokens, &p->tokcap, t);
}

/* ---- parser ---- */

/* One directive: its name is @t; args to the end of its line, then a { } block if opened there. */
static int
parse_directive(struct parser *p, struct tok *t)
{
	struct sx_cf_block *b = p->blk;
	struct sx_cf_dir *d;
	struct tok open = { 0 };
	int nesting = 0, rc;

	if (is_brace(t, '{')) {
		return tok_err(p, t, "Unexpected '{': expected a directive name");
	}
	d = grow(b->dirs, &p->dircap, b->ndirs + 1, sizeof(*d));
	if (!d) {
		return -ENOMEM;
	}
	b->dirs = d;
	d = &b->dirs[b->ndirs++];
	d->first = b->ntokens;
	rc = emit_body(p, t);
	while (rc == 0) {
		rc = next(p, t, true);
		if (rc <= 0) {
			break;
		}
		rc = 0;
		if (t->bol && nesting == 0) {
			if (is_brace(t, '{')) {
				return tok_err(
				        p, t,
				        "Unexpected '{': a block opens on its directive's line");
			}
			unread(p);
			break;
		}
		if (is_brace(t, '{')) {
			if (nesting++ == 0) {
				open = *t;
			}
		} else if (is_brace(t, '}')) {
			if (nesting == 0) {
				unread(p); /* closes the server block */
				break;
			}
			nesting--;
		}
		rc = emit_body(p, t);
	}
	if (rc < 0) {
		return rc;
	}
	if (nesting > 0) {
		return tok_err(p, &open, "Unexpected EOF: this '{' is never closed");
	}
	d->count = b->ntokens - d->first;
	return 0;
}

/* Directives up to the closing brace (@open set) or to the end of input (no braces). */
static int
parse_body(struct parser *p, const struct tok *open)
{
	struct tok t;
	int rc;

	for (;;) {
		rc = next(p, &t, true);
		if (rc < 0) {
			return rc;
		}
		if (rc == 0) {
			return open ? tok_err(p, open, "Unexpected EOF: this '{' is never closed")
			            : 0;
		}
		if (is_brace(&t, '}')) {
			return open ? 0
			            : tok_err(p, &t,
			                      "Unexpected '}' because no matching opening brace");
		}
		rc = parse_directive(p, &t);
		if (rc < 0) {
			return rc;
		}
	}
}

static int
define_snippet(struct parser *p, const struct tok *key, const struct tok *open)
{
	const char *k = p->blk->keys[0].text;
	struct snippet *s;
	struct tok t;
	int nesting = 0, rc;
	char *name;

	if (!open) {
		return tok_err(p, key, "snippet %s must be followed by '{'", k);
	}
	name = strndup(k + 1, strlen(k) - 2);
	if (!name) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->nsnips; i++) {
		if (strcmp(p->snips[i].name, name) == 0) {
			free(name);
			return tok_err(p, key, "redeclaration of previously declared snippet %s",
			               k);
		}
	}
	s = realloc(p->snips, (p->nsnips + 1) * sizeof(*s));
	if (!s) {
		free(name);
		return -ENOMEM;
	}
	p->snips = s;
	s = &s[p->nsnips++];
	*s = (struct snippet){ .name = name };
	for (;;) {
		rc = next(p, &t, false);
		if (rc <= 0) {
			return rc < 0 ? rc
			              : tok_err(p, open,
			                        "Unexpected EOF: this '{' is never closed");
		}
		if (is_brace(&t, '}') && nesting-- == 0) {
			return 0;
		}
		nesting += is_brace(&t, '{');
		if (++p->ntokens > MAX_TOKENS) {
			return tok_err(p, &t, "more than %u tokens in snippets", MAX_TOKENS);
		}
		if (tokvec_push(&s->toks, t.r) < 0) {
			return -ENOMEM;
		}
	}
}

static void
block_free(struct sx_cf_block *b)
{
	for (size_t i = 0; i < b->nkeys; i++) {
		free(b->keys[i].text);
	}
	for (size_t i = 0; i < b->ntokens; i++) {
		free(b->tokens[i].text);
	}
	free(b->keys);
	free(b->tokens);
	free(b->dirs);
	memset(b, 0, sizeof(*b));
}

/*
 * Keys up to a '{' or the end of their line (a key ending in ',' announces
 * another, maybe on the next line); then the body. @return 1 for a snippet.
 */
static int
parse_block(struct parser *p, struct tok *t)
{
	struct sx_cf_block *b = p->blk;
	struct tok first = *t, open;
	bool another = false, braced = false;
	size_t len;
	int rc;

	for (;;) {
		if (is_brace(t, '{')) {
			if (another) {
				return tok_err(p, t,
				               "Expected another address after ',' but got '{'");
			}
			braced = true;
			break;
		}
		if (is_brace(t, '}')) {
			return tok_err(p, t, "Unexpected '}' because no matching opening brace");
		}
		rc = emit(p, &b->keys, &b->nkeys, &p->keycap, t);
		if (rc < 0) {
			return rc;
		}
		len = strlen(b->keys[b->nkeys - 1].text);
		another = len > 0 && b->keys[b->nkeys - 1].text[len - 1] == ',';
		if (another) {
			b->keys[b->nkeys - 1].text[--len] = '\0';
		}
		if (len == 0) {
			free(b->keys[--b->nkeys].text);
		}
		rc = next(p, t, true);
		if (rc < 0) {
			return rc;
		}
		if (rc == 0) {
			if (another) {
				return tok_err(
				        p, &first,
				        "Unexpected EOF: expected another address after ','");
			}
			break;
		}
		if (!another && t->bol) {
			braced = is_brace(t, '{');
			if (!braced) {
				unread(p);
			}
			break;
		}
	}
	if (b->nkeys == 0) {
		return tok_err(p, &first, "server block without an address");
	}
	open = *t;
	len = strlen(b->keys[0].text);
	if (b->nkeys == 1 && len >= 2 && b->keys[0].text[0] == '(' &&
	    b->keys[0].text[len - 1] == ')') {
		rc = define_snippet(p, &first, braced ? &open : NULL);
		return rc < 0 ? rc : 1;
	}
	return parse_body(p, braced ? &open : NULL);
}

static int
parse_all(struct parser *p)
{
	struct sx_corefile *cf = p->cf;
	struct sx_cf_block *blocks;
	size_t cap = 0;
	struct tok t;
	int rc;

	for (;;) {
		rc = next(p, &t, true);
		if (rc <= 0) {
			return rc;
		}
		blocks = grow(cf->blocks, &cap, cf->nblocks + 1, sizeof(*blocks));
		if (!blocks) {
			return -ENOMEM;
		}
		cf->blocks = blocks;
		p->blk = &blocks[cf->nblocks++];
		memset(p->blk, 0, sizeof(*p->blk));
		p->keycap = p->tokcap = p->dircap = 0;
		rc = parse_block(p, &t);
		if (rc < 0) {
			return rc;
		}
		if (rc == 1) { /* a snippet: nothing to serve */
			block_free(p->blk);
			cf->nblocks--;
		}
	}
}

static void
parser_fini(struct parser *p)
{
	for (size_t i = 0; i < p->cf->nfiles; i++) {
		for (size_t j = 0; j < p->srcs[i].toks.n; j++) {
			free(p->srcs[i].toks.t[j].text);
		}
		free(p->srcs[i].toks.t);
		free(p->srcs[i].dir);
	}
	for (size_t i = 0; i < p->nsnips; i++) {
		free(p->snips[i].name);
		free(p->snips[i].toks.t);
	}
	free(p->srcs);
	free(p->snips);
	free(p->origins);
	free(p->stack);
}

/* Parse @text as source 0 named @name; @st identifies the file, when it is one. */
static int
parse(const char *name, const char *text, size_t len, const char *dir, const struct stat *st,
      struct sx_corefile **out, char *err, size_t errlen)
{
	struct parser p = { .err = err, .errlen = errlen };
	int rc;

	if (errlen) {
		err[0] = '\0';
	}
	*out = NULL;
	p.cf = calloc(1, sizeof(*p.cf));
	if (!p.cf) {
		return -ENOMEM;
	}
	rc = add_src(&p, name, dir);
	if (rc >= 0 && st) {
		p.srcs[0].dev = st->st_dev;
		p.srcs[0].ino = st->st_ino;
		p.srcs[0].has_id = true;
	}
	if (rc >= 0) {
		rc = lex(&p, 0, text, len);
	}
	if (rc >= 0) {
		rc = push_stream(&p, 0, -1, -1);
	}
	if (rc >= 0) {
		rc = parse_all(&p);
	}
	if (rc == -ENOMEM && errlen) {
		snprintf(err, errlen, "%s: out of memory", name);
	}
	parser_fini(&p);
	if (rc < 0) {
		sx_corefile_free(p.cf);
		return rc;
	}
	*out = p.cf;
	return 0;
}

int
sx_corefile_parse(const char *name, const char *text, const char *dir, struct sx_corefile **out,
                  char *err, size_t errlen)
{
	return parse(name, text, strlen(text), dir ? dir : ".", NULL, out, err, errlen);
}

int
sx_corefile_load(const char *path, struct sx_corefile **out, char *err, size_t errlen)
{
	struct stat st;
	bool is_stdin = strcmp(path, "stdin") == 0;
	char *text = NULL, *dir = NULL;
	size_t len;
	int fd, rc;

	*out = NULL;
	fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
	} else {
		rc = S_ISDIR(st.st_mode) ? -EISDIR : read_fd(fd, &text, &len);
	}
	if (!is_stdin) {
		close(fd);
	}
	if (rc < 0) {
		goto fail;
	}
	dir = is_stdin ? strdup(".") : dir_of(path);
	if (!dir) {
		free(text);
		rc = -ENOMEM;
		goto fail;
	}
	rc = parse(path, text, len, dir, is_stdin ? NULL : &st, out, err, errlen);
	free(dir);
	free(text);
	return rc;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	return rc;
}

void
sx_corefile_free(struct sx_corefile *cf)
{
	if (!cf) {
		return;
	}
	for (size_t i = 0; i < cf->nblocks; i++) {
		block_free(&cf->blocks[i]);
	}
	for (size_t i = 0; i < cf->nfiles; i++) {
		free(cf->files[i]);
	}
	free(cf->blocks);
	free(cf->files);
	free(cf);
}
