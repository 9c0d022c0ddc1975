/* manifests.c -- a directory of YAML/JSON manifests as the source of API objects. */
#include "manifests.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include <sextant/error.h>
#include <sextant/filewatch.h>
#include <sextant/log.h>

#include "watch.h"
#include "yaml2json.h"

#define PLUGIN   "kubernetes"
#define MAX_FILE (64u << 20)

/* ---- label selectors ---- */

enum sel_op {
	SEL_EXISTS,
	SEL_NOT_EXISTS,
	SEL_IN,
	SEL_NOT_IN
};

struct sel_req {
	enum sel_op op;
	char *key;
	char **vals; /* SEL_IN / SEL_NOT_IN; "k=v" is "k in (v)" */
	size_t nvals;
};

struct k8s_selector {
	struct sel_req *reqs;
	size_t n;
};

void
k8s_selector_free(struct k8s_selector *sel)
{
	if (!sel) {
		return;
	}
	for (size_t i = 0; i < sel->n; i++) {
		free(sel->reqs[i].key);
		for (size_t j = 0; j < sel->reqs[i].nvals; j++) {
			free(sel->reqs[i].vals[j]);
		}
		free(sel->reqs[i].vals);
	}
	free(sel->reqs);
	free(sel);
}

static bool
key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '/';
}

static bool
val_char(char c)
{
	return key_char(c) && c != '/';
}

static const char *
skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t') {
		s++;
	}
	return s;
}

/* A new copy of the token of @s made of chars passing @ok; advances *@s. */
static char *
token(const char **s, bool (*ok)(char))
{
	const char *b = *s;

	while (**s && ok(**s)) {
		(*s)++;
	}
	return strndup(b, (size_t)(*s - b));
}

static int
add_val(struct sel_req *r, char *v)
{
	char **nv;

	if (!v || !(nv = realloc(r->vals, (r->nvals + 1) * sizeof(*nv)))) {
		free(v);
		return -ENOMEM;
	}
	r->vals = nv;
	r->vals[r->nvals++] = v;
	return 0;
}

/* One requirement at *@s, up to the next top-level comma. */
static int
parse_req(struct sel_req *r, const char **s, char *err, size_t errlen)
{
	const char *p = skip_ws(*s);
	bool neg = false;

	if (*p == '!') {
		neg = true;
		p = skip_ws(p + 1);
	}
	if (!key_char(*p)) {
		snprintf(err, errlen, "label selector: a label key is expected at \"%s\"", p);
		return SX_EINVAL;
	}
	if (!(r->key = token(&p, key_char))) {
		return -ENOMEM;
	}
	p = skip_ws(p);
	if (neg || *p == ',' || !*p) {
		r->op = neg ? SEL_NOT_EXISTS : SEL_EXISTS;
	} else if (*p == '=' || (p[0] == '!' && p[1] == '=')) {
		r->op = *p == '!' ? SEL_NOT_IN : SEL_IN;
		p += *p == '!' ? 2 : p[1] == '=' ? 2 : 1;
		p = skip_ws(p);
		if (add_val(r, token(&p, val_char))) {
			return -ENOMEM;
		}
	} else if (!strncmp(p, "in", 2) || !strncmp(p, "notin", 5)) {
		r->op = p[0] == 'i' ? SEL_IN : SEL_NOT_IN;
		p = skip_ws(p + (p[0] == 'i' ? 2 : 5));
		if (*p != '(') {
			snprintf(err, errlen,
			         "label selector: \"(\" expected after \"%s\"'s operator", r->key);
			return SX_EINVAL;
		}
		do {
			p = skip_ws(p + 1);
			if (add_val(r, token(&p, val_char))) {
				return -ENOMEM;
			}
			p = skip_ws(p);
		} while (*p == ',');
		if (*p != ')') {
			snprintf(err, errlen,
			         "label selector: \")\" expected in the values of \"%s\"", r->key);
			return SX_EINVAL;
		}
		p = skip_ws(p + 1);
	} else {
		snprintf(err, errlen, "label selector: unknown operator at \"%s\"", p);
		return SX_EINVAL;
	}
	if (*p && *p != ',') {
		snprintf(err, errlen, "label selector: unexpected \"%s\"", p);
		return SX_EINVAL;
	}
	*s = p;
	return 0;
}

int
k8s_selector_parse(struct k8s_selector **out, const char *text, char *err, size_t errlen)
{
	struct k8s_selector *sel;
	const char *s = text ? skip_ws(text) : "";
	int r;

	*out = NULL;
	if (!*s) {
		return 0;
	}
	if (!(sel = calloc(1, sizeof(*sel)))) {
		return -ENOMEM;
	}
	for (;;) {
		struct sel_req *nr = realloc(sel->reqs, (sel->n + 1) * sizeof(*nr));
		if (!nr) {
			r = -ENOMEM;
			goto fail;
		}
		sel->reqs = nr;
		memset(&sel->reqs[sel->n], 0, sizeof(*nr));
		sel->n++;
		if ((r = parse_req(&sel->reqs[sel->n - 1], &s, err, errlen))) {
			goto fail;
		}
		if (*s != ',') {
			break;
		}
		s++;
	}
	*out = sel;
	return 0;
fail:
	if (r == -ENOMEM) {
		snprintf(err, errlen, "out of memory");
	}
	k8s_selector_free(sel);
	return r;
}

bool
k8s_selector_match(const struct k8s_selector *sel, const json_t *labels)
{
	if (!sel) {
		return true;
	}
	for (size_t i = 0; i < sel->n; i++) {
		const struct sel_req *r = &sel->reqs[i];
		const char *v = json_string_value(json_object_get(labels, r->key));
		bool in = false;

		for (size_t j = 0; v && j < r->nvals; j++) {
			in = in || !strcmp(v, r->vals[j]);
		}
		switch (r->op) {
		case SEL_EXISTS:
			if (!v) {
				return false;
			}
			break;
		case SEL_NOT_EXISTS:
			if (v) {
				return false;
			}
			break;
		case SEL_IN:
			if (!in) {
				return false;
			}
			break;
		case SEL_NOT_IN:
			if (in) {
				return false;
			}
			break;
		}
	}
	return true;
}

/* ---- the directory ---- */

struct mfile {
	char *name;
	/*
	 * Not marked racy: reading again costs a relist and would log an unreadable
	 * file twice (sx_file_stamp_mark_if_racy()).
	 */
	struct sx_file_stamp stamp;
	json_t *objs; /* the objects of the last good read, normalised; NULL if none */
	bool seen;
	bool unreadable; /* not a readable file (loop, FIFO, device...): reported once */
};

struct k8s_manifests {
	struct k8s_store *st;
	char *dir;
	bool watch[K8S_NKINDS];
	struct k8s_selector *labels, *ns_labels;
	struct k8s_manifests_opts opts;
	struct sx_filewatch *fw;
	struct mfile *files;
	size_t nfiles;
	char dir_err[256]; /* the directory error last logged */
};

static const struct {
	const char *api_version, *kind;
} kinds[K8S_NKINDS] = {
	[K8S_SERVICE] = { "v1", "Service" },
	[K8S_SLICE] = { "discovery.k8s.io/v1", "EndpointSlice" },
	[K8S_NAMESPACE] = { "v1", "Namespace" },
	[K8S_POD] = { "v1", "Pod" },
};

static bool
wanted_name(const char *name)
{
	size_t n = strlen(name);

	if (name[0] == '.') {
		return false;
	}
	return (n > 5 && !strcmp(name + n - 5, ".yaml")) ||
	       (n > 4 && !strcmp(name + n - 4, ".yml")) ||
	       (n > 5 && !strcmp(name + n - 5, ".json"));
}

/* The kind of @obj, or -1 for objects of other kinds (ignored). */
static int
kind_of(json_t *obj, char *err, size_t errlen)
{
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));

	if (!kind) {
		snprintf(err, errlen, "an object without kind");
		return SX_EINVAL;
	}
	for (int k = 0; k < K8S_NKINDS; k++) {
		if (strcmp(kind, kinds[k].kind)) {
			continue;
		}
		if (av && strcmp(av, kinds[k].api_version)) {
			snprintf(err, errlen, "%s of apiVersion %s (only %s is read)", kind, av,
			         kinds[k].api_version);
			return SX_ENOTSUP;
		}
		return k;
	}
	return -1;
}

/*
 * Append the objects of document @doc to @out: Lists (kind List or FooList)
 * give their items, which get the list's kind back when they lack one.
 */
static int
flatten(json_t *out, json_t *doc, int depth, char *err, size_t errlen)
{
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	json_t *items = json_object_get(doc, "items");
	size_t n, i;
	json_t *item;
	int r;

	if (!json_is_object(doc)) {
		snprintf(err, errlen, "a document is not a mapping");
		return SX_EINVAL;
	}
	n = kind ? strlen(kind) : 0;
	if (n >= 4 && !strcmp(kind + n - 4, "List") && json_is_array(items)) {
		if (depth > 4) {
			snprintf(err, errlen, "Lists nested too deeply");
			return SX_EINVAL;
		}
		json_array_foreach(items, i, item)
		{
			if (json_is_object(item) && n > 4 && !json_object_get(item, "kind")) {
				json_t *av = json_object_get(doc, "apiVersion");
				if (json_object_set_new(item, "kind", json_stringn(kind, n - 4)) ||
				    (av && json_object_set(item, "apiVersion", av))) {
					return -ENOMEM;
				}
			}
			if ((r = flatten(out, item, depth + 1, err, errlen))) {
				return r;
			}
		}
		return 0;
	}
	return json_array_append(out, doc) ? -ENOMEM : 0;
}

/* Several JSON values may follow each other in one file. */
static int
parse_json(json_t **out, const char *text, size_t len, char *err, size_t errlen)
{
	json_t *docs = json_array();
	json_error_t jerr;
	size_t off = 0;

	if (!docs) {
		return -ENOMEM;
	}
	for (;;) {
		while (off < len && strchr(" \t\r\n", text[off])) {
			off++;
		}
		if (off == len) {
			break;
		}
		json_t *v = json_loadb(text + off, len - off, JSON_DISABLE_EOF_CHECK, &jerr);
		if (!v) {
			snprintf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column,
			         jerr.text);
			json_decref(docs);
			return SX_EINVAL;
		}
		off += jerr.position;
		if (json_array_append_new(docs, v)) {
			json_decref(docs);
			return -ENOMEM;
		}
	}
	*out = docs;
	return 0;
}

/* Read one file into a new array of its objects of the kinds we use. */
static int
read_file(json_t **out, const char *path, char *err, size_t errlen)
{
	json_t *docs = NULL, *objs, *all = NULL, *doc, *obj;
	size_t len, n = strlen(path), i;
	char *text;
	int r;

	*out = NULL;
	if ((r = k8s_read_file(&text, &len, path, MAX_FILE, err, errlen))) {
		return r;
	}
	if (n > 5 && !strcmp(path + n - 5, ".json")) {
		r = parse_json(&docs, text, len, err, errlen);
	} else {
		r = k8s_yaml_parse(&docs, text, len, err, errlen);
	}
	free(text);
	if (r) {
		return r;
	}
	if (!(all = json_array()) || !(objs = json_array())) {
		json_decref(all);
		json_decref(docs);
		return -ENOMEM;
	}
	json_array_foreach(docs, i, doc)
	{
		if ((r = flatten(all, doc, 0, err, errlen))) {
			goto fail;
		}
	}
	json_array_foreach(all, i, obj)
	{
		char why[256];
		int k = kind_of(obj, why, sizeof(why));
		json_t *md;
		if (k == -1) {
			continue;
		}
		if (k < 0) {
			sx_plog(SX_LOG_WARNING, PLUGIN, "manifests %s: object %zu skipped: %s",
			        path, i + 1, why);
			continue;
		}
		md = json_object_get(obj, "metadata");
		/* As kubectl apply: no namespace means "default". */
		if (k != K8S_NAMESPACE && json_is_object(md) &&
		    !json_string_value(json_object_get(md, "namespace")) &&
		    json_object_set_new(md, "namespace", json_string("default"))) {
			r = -ENOMEM;
			goto fail;
		}
		if (json_array_append(objs, obj)) {
			r = -ENOMEM;
			goto fail;
		}
	}
	json_decref(all);
	json_decref(docs);
	*out = objs;
	return 0;
fail:
	json_decref(objs);
	json_decref(all);
	json_decref(docs);
	return r;
}

static void
mfile_fini(struct mfile *f)
{
	free(f->name);
	json_decref(f->objs);
}

static struct mfile *
find_file(struct k8s_manifests *m, const char *name)
{
	for (size_t i = 0; i < m->nfiles; i++) {
		if (!strcmp(m->files[i].name, name)) {
			return &m->files[i];
		}
	}
	return NULL;
}

static int
cmp_files(const void *a, const void *b)
{
	return strcmp(((const struct mfile *)a)->name, ((const struct mfile *)b)->name);
}

/*
 * Why the entry @path (whose lstat is @sb, replaced by its target's stat when it is a
 * symlink) cannot be read as a manifest, or NULL when it can.
 */
static const char *
unreadable(const char *path, struct stat *sb)
{
	if (S_ISLNK(sb->st_mode) && stat(path, sb)) {
		return errno == ELOOP    ? "symbolic link loop"
		       : errno == ENOENT ? "dangling symbolic link"
		                         : strerror(errno);
	}
	if (S_ISREG(sb->st_mode)) {
		return NULL;
	}
	return S_ISDIR(sb->st_mode)                           ? "a directory, not a file"
	       : S_ISFIFO(sb->st_mode)                        ? "a FIFO, not a file"
	       : S_ISCHR(sb->st_mode) || S_ISBLK(sb->st_mode) ? "a device, not a file"
	       : S_ISSOCK(sb->st_mode)                        ? "a socket, not a file"
	                                                      : "not a regular file";
}

/* (Re)read @name if it changed. @return 1 when it did, 0 if not, <0 on error. */
static int
refresh_file(struct k8s_manifests *m, const char *name)
{
	struct mfile *f = find_file(m, name);
	char path[4096], why[512];
	struct stat sb;
	json_t *objs;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", m->dir, name) >= sizeof(path)) {
		return 0;
	}
	if (lstat(path, &sb)) {
		return 0; /* gone meanwhile */
	}
	const char *bad = unreadable(path, &sb);
	if (f && !sx_file_stamp_changed(&f->stamp, &sb) && f->unreadable == (bad != NULL)) {
		f->seen = true;
		return 0;
	}
	if (!f) {
		struct mfile *nf = realloc(m->files, (m->nfiles + 1) * sizeof(*nf));
		if (!nf) {
			return -ENOMEM;
		}
		m->files = nf;
		f = &m->files[m->nfiles];
		memset(f, 0, sizeof(*f));
		if (!(f->name = strdup(name))) {
			return -ENOMEM;
		}
		m->nfiles++;
	}
	f->seen = true;
	sx_file_stamp_set(&f->stamp, &sb);
	f->unreadable = bad != NULL;
	if (bad != NULL) {
		/* Logged once per change of the entry; its objects, if any, go as if it were gone. */
		sx_plog(SX_LOG_ERROR, PLUGIN, "manifests %s: skipped: %s", path, bad);
		r = f->objs != NULL;
		json_decref(f->objs);
		f->objs = NULL;
		return r;
	}
	if ((r = read_file(&objs, path, why, sizeof(why)))) {
		sx_plog(SX_LOG_ERROR, PLUGIN, "manifests %s: %s%s", path, why,
		        f->objs ? " (its previous content stays in use)" : "");
		return r == -ENOMEM ? r : 1;
	}
	json_decref(f->objs);
	f->objs = objs;
	return 1;
}

/* Scan the directory. @return 1 when some file changed, 0 if none, <0 on error. */
static int
scan(struct k8s_manifests *m)
{
	bool changed = false;
	struct dirent *de;
	DIR *d;
	int r;

	if (!(d = opendir(m->dir))) {
		int e = errno;
		if (strcmp(strerror(e), m->dir_err)) {
			sx_plog(SX_LOG_ERROR, PLUGIN,
			        "manifests %s: %s (the last objects read stay "
			        "in use)",
			        m->dir, strerror(e));
			snprintf(m->dir_err, sizeof(m->dir_err), "%s", strerror(e));
		}
		return -e;
	}
	m->dir_err[0] = '\0';
	for (size_t i = 0; i < m->nfiles; i++) {
		m->files[i].seen = false;
	}
	while ((de = readdir(d))) {
		if (!wanted_name(de->d_name)) {
			continue;
		}
		if ((r = refresh_file(m, de->d_name)) < 0) {
			closedir(d);
			return r;
		}
		changed = changed || r;
	}
	closedir(d);
	for (size_t i = 0; i < m->nfiles;) {
		if (m->files[i].seen) {
			i++;
			continue;
		}
		mfile_fini(&m->files[i]);
		m->files[i] = m->files[--m->nfiles];
		changed = true;
	}
	/* A stable order, so that a later file wins over an earlier one each time. */
	qsort(m->files, m->nfiles, sizeof(*m->files), cmp_files);
	return changed;
}

static bool
pod_finished(json_t *pod)
{
	const char *phase = json_string_value(
	        json_object_get(json_object_get(pod, "status"), "phase"));

	return phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed") ||
	                 !strcmp(phase, "Unknown"));
}

static bool
selected(struct k8s_manifests *m, int kind, json_t *obj)
{
	json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");

	if (kind == K8S_POD && pod_finished(obj)) {
		return false;
	}
	return k8s_selector_match(kind == K8S_NAMESPACE ? m->ns_labels : m->labels, labels);
}

static void
apply(struct k8s_manifests *m, const char *file, int kind, json_t *obj)
{
	char err[256] = "";
	json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));

	/* The store reads JSON text, as the API server sends it. */
	char *text = json_dumps(obj, JSON_COMPACT);
	int r = text ? k8s_store_apply(m->st, (enum k8s_kind)kind, K8S_ADDED, text, strlen(text),
	                               err, sizeof(err))
	             : -ENOMEM;

	free(text);
	if (r) {
		sx_plog(SX_LOG_WARNING, PLUGIN, "manifests %s/%s: %s %s%s%s skipped: %s", m->dir,
		        file, k8s_kind_name((enum k8s_kind)kind), ns ? ns : "", ns ? "/" : "",
		        name ? name : "?", err[0] ? err : "invalid object");
	}
}

/* Namespaces that objects are in but no manifest defines. */
static json_t *
implicit_namespaces(struct k8s_manifests *m)
{
	json_t *need = json_object(), *obj, *out;
	const char *ns;
	size_t i;

	if (!need) {
		return NULL;
	}
	for (size_t f = 0; f < m->nfiles; f++) {
		json_array_foreach(m->files[f].objs, i, obj)
		{
			json_t *md = json_object_get(obj, "metadata");
			int k = kind_of(obj, NULL, 0);
			if (k == K8S_NAMESPACE) {
				continue;
			}
			if ((ns = json_string_value(json_object_get(md, "namespace"))) &&
			    !json_object_get(need, ns)) {
				json_object_set_new(need, ns, json_true());
			}
		}
	}
	for (size_t f = 0; f < m->nfiles; f++) {
		json_array_foreach(m->files[f].objs, i, obj)
		{
			const char *name = json_string_value(
			        json_object_get(json_object_get(obj, "metadata"), "name"));
			if (kind_of(obj, NULL, 0) == K8S_NAMESPACE && name) {
				json_object_del(need, name);
			}
		}
	}
	if (!(out = json_array())) {
		json_decref(need);
		return NULL;
	}
	json_t *v;
	json_object_foreach(need, ns, v)
	{
		/* The label the API server puts on every namespace. */
		json_t *o = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion", "v1", "kind",
		                      "Namespace", "metadata", "name", ns, "labels",
		                      "kubernetes.io/metadata.name", ns);
		if (o) {
			json_array_append_new(out, o);
		}
	}
	json_decref(need);
	return out;
}

/* A full relist of every watched kind from the files read. */
static void
publish(struct k8s_manifests *m)
{
	size_t counts[K8S_NKINDS] = { 0 }, i;
	json_t *implicit = m->watch[K8S_NAMESPACE] ? implicit_namespaces(m) : NULL;
	json_t *obj;

	for (int k = 0; k < K8S_NKINDS; k++) {
		if (!m->watch[k]) {
			continue;
		}
		k8s_store_relist_begin(m->st, (enum k8s_kind)k);
		for (size_t f = 0; f < m->nfiles; f++) {
			json_array_foreach(m->files[f].objs, i, obj)
			{
				if (kind_of(obj, NULL, 0) == k && selected(m, k, obj)) {
					apply(m, m->files[f].name, k, obj);
					counts[k]++;
				}
			}
		}
		if (k == K8S_NAMESPACE) {
			json_array_foreach(implicit, i, obj)
			{
				if (selected(m, k, obj)) {
					apply(m, "(implicit)", k, obj);
					counts[k]++;
				}
			}
		}
		k8s_store_relist_end(m->st, (enum k8s_kind)k);
	}
	json_decref(implicit);
	sx_plog(SX_LOG_INFO, PLUGIN,
	        "manifests %s: %zu files, %zu services, %zu endpointslices, "
	        "%zu namespaces, %zu pods",
	        m->dir, m->nfiles, counts[K8S_SERVICE], counts[K8S_SLICE], counts[K8S_NAMESPACE],
	        counts[K8S_POD]);
}

static void
changed(void *arg)
{
	struct k8s_manifests *m = arg;
	int r = scan(m);

	if (r > 0) {
		publish(m);
	} else if (r == -ENOMEM) {
		sx_plog(SX_LOG_ERROR, PLUGIN, "manifests %s: out of memory", m->dir);
	}
}

int
k8s_manifests_new(struct k8s_manifests **out, const struct k8s_source_conf *conf,
                  struct k8s_store *st, const struct k8s_manifests_opts *opts, char *err,
                  size_t errlen)
{
	struct k8s_manifests *m = calloc(1, sizeof(*m));
	char why[256];
	struct stat sb;
	int r;

	*out = NULL;
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m->st = st;
	memcpy(m->watch, conf->watch, sizeof(m->watch));
	if (opts) {
		m->opts = *opts;
	}
	if (!(m->dir = strdup(conf->manifests))) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	r = stat(m->dir, &sb) ? -errno : !S_ISDIR(sb.st_mode) ? -ENOTDIR : 0;
	if (r) {
		snprintf(err, errlen, "manifests %s: %s", m->dir, strerror(-r));
		goto fail;
	}
	if ((r = k8s_selector_parse(&m->labels, conf->labels, why, sizeof(why)))) {
		snprintf(err, errlen, "labels: %s", why);
		goto fail;
	}
	if ((r = k8s_selector_parse(&m->ns_labels, conf->namespace_labels, why, sizeof(why)))) {
		snprintf(err, errlen, "namespace_labels: %s", why);
		goto fail;
	}
	struct sx_filewatch_opts fo = {
		.poll_ms = m->opts.poll_ms > 0 ? (uint64_t)m->opts.poll_ms : 0,
		.settle_ms = m->opts.settle_ms > 0 ? (uint64_t)m->opts.settle_ms : 0,
		.poll_only = m->opts.poll,
	};
	if (!(m->fw = sx_filewatch_new(m->dir, &fo, changed, m))) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* The first load is synchronous: the files are local. */
	if ((r = scan(m)) < 0) {
		snprintf(err, errlen, "manifests %s: %s", m->dir, strerror(-r));
		goto fail;
	}
	publish(m);
	*out = m;
	return 0;
fail:
	k8s_manifests_free(m);
	return r;
}

void
k8s_manifests_free(struct k8s_manifests *m)
{
	if (!m) {
		return;
	}
	sx_filewatch_free(m->fw);
	for (size_t i = 0; i < m->nfiles; i++) {
		mfile_fini(&m->files[i]);
	}
	free(m->files);
	k8s_selector_free(m->labels);
	k8s_selector_free(m->ns_labels);
	free(m->dir);
	free(m);
}
