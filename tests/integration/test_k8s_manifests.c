/* test_k8s_manifests.c -- every manifest under k8s/ parses, and every Corefile in it checks. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <yaml.h>

#include <sextant/testing.h>

static const yaml_node_t *
map_get(yaml_document_t *doc, const yaml_node_t *map, const char *key)
{
	const yaml_node_pair_t *p;

	if (!map || map->type != YAML_MAPPING_NODE) {
		return NULL;
	}
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = yaml_document_get_node(doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    !strcmp((const char *)k->data.scalar.value, key)) {
			return yaml_document_get_node(doc, p->value);
		}
	}
	return NULL;
}

static bool
scalar_is(const yaml_node_t *n, const char *v)
{
	return n && n->type == YAML_SCALAR_NODE && !strcmp((const char *)n->data.scalar.value, v);
}

/* Check one manifest file: @return documents read, after `sextant -check` of each Corefile. */
static int
check_file(const char *path, int *corefiles)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	FILE *f = fopen(path, "rb");
	int docs = 0;

	cr_assert(f, "%s", path);
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	for (;;) {
		const yaml_node_t *root, *corefile;

		cr_assert(yaml_parser_load(&parser, &doc), "%s:%zu: %s", path,
		          parser.problem_mark.line + 1, parser.problem ? parser.problem : "?");
		root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		docs++;
		cr_assert(map_get(&doc, root, "apiVersion") && map_get(&doc, root, "kind"),
		          "%s: document %d has no apiVersion/kind", path, docs);
		corefile = map_get(&doc, map_get(&doc, root, "data"), "Corefile");
		if (scalar_is(map_get(&doc, root, "kind"), "ConfigMap") && corefile) {
			struct sx_test_server *s = sx_test_prepare();
			char *out;
			int st;

			sx_test_write(s, "Corefile", (const char *)corefile->data.scalar.value);
			st = sx_test_run(&out, "-conf %s/Corefile -check", sx_test_dir(s));
			cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "Corefile of %s:\n%s",
			          path, out);
			free(out);
			sx_test_stop(s);
			(*corefiles)++;
		}
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	return docs;
}

static void
walk(const char *dir, int *files, int *docs, int *corefiles)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	cr_assert(d, "%s", dir);
	while ((e = readdir(d))) {
		char path[1024];
		size_t n = strlen(e->d_name);

		if (e->d_name[0] == '.') {
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR) {
			walk(path, files, docs, corefiles);
		} else if (n > 5 && (!strcmp(e->d_name + n - 5, ".yaml") ||
		                     !strcmp(e->d_name + n - 4, ".yml"))) {
			(*files)++;
			*docs += check_file(path, corefiles);
		}
	}
	closedir(d);
}

Test(k8s_manifests, every_manifest_parses_and_every_corefile_checks)
{
	char dir[1024];
	int files = 0, docs = 0, corefiles = 0;

	snprintf(dir, sizeof(dir), "%s/k8s", getenv("SX_SOURCE_ROOT"));
	walk(dir, &files, &docs, &corefiles);
	cr_assert_geq(files, 7, "manifest files found: %d", files);
	cr_assert_geq(docs, 15, "documents: %d", docs);
	/* kube-system's ConfigMap and the node-local one, at least. */
	cr_assert_geq(corefiles, 2, "Corefiles checked: %d", corefiles);
}
