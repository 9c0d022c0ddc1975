/* metadata.c -- the metadata plugin: collect the metadata other plugins provide, per query. */
#include <string.h>

#include <sextant/plugin.h>

/*
 * For a query under its zones, metadata asks every plugin of the server
 * block that provides metadata (the plugins with a metadata hook, such as
 * kubernetes) to label the request, before the rest of the chain runs. The
 * values are computed only when read, by log's {/label} for instance.
 * Without this plugin, or outside its zones, requests carry no metadata.
 */
struct metadata {
	struct sx_zones zones;
};

static enum sx_verdict
metadata_handle(struct sx_req *req, void *inst)
{
	struct metadata *m = inst;

	if (sx_zones_match(&m->zones, sx_req_query(req)->lname) >= 0) {
		sx_req_meta_collect(req);
	}
	return SX_NEXT;
}

static int
refuse_map(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	(void)d;
	(void)inst;
	return sx_cf_err(cf, "map is not supported");
}

static const struct sx_directive metadata_directives[] = {
	{ "map", 0, -1, refuse_map },
	{ NULL },
};

/* metadata [ZONES...] */
static int
metadata_setup(struct sx_cf *cf, void *inst)
{
	struct metadata *m = inst;

	return sx_cf_zones(cf, 1, sx_cf_block_zones(cf), NULL, &m->zones);
}

static void
metadata_teardown(void *inst)
{
	struct metadata *m = inst;

	sx_zones_fini(&m->zones);
}

const struct sx_plugin sx_plugin_metadata = {
	.name = "metadata",
	.inst_size = sizeof(struct metadata),
	.directives = metadata_directives,
	.setup = metadata_setup,
	.handle = metadata_handle,
	.teardown = metadata_teardown,
};
