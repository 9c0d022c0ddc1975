/* acl.c -- the acl plugin: allow, block, filter or drop queries by source network and type. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

/* Extended DNS Error info codes (RFC 8914) CoreDNS puts in block and filter replies. */
#define EDE_BLOCKED  15
#define EDE_FILTERED 17
#define EDNS_EDE     15 /* option code */

static const uint8_t ede_blocked[2] = { 0, EDE_BLOCKED };
static const uint8_t ede_filtered[2] = { 0, EDE_FILTERED };

static bool
type_matches(const struct acl_policy *p, uint16_t t)
{
	size_t lo = 0, hi = p->ntypes;

	if (p->all_types) {
		return true;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->types[mid] == t) {
			return true;
		}
		if (p->types[mid] < t) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return false;
}

static enum acl_action
match(const struct acl *a, const struct sx_query *q)
{
	for (size_t i = 0; i < a->npol; i++) {
		const struct acl_policy *p = &a->pol[i];

		if (type_matches(p, q->qtype) && acl_nets_has(&p->nets, &q->client)) {
			return p->action;
		}
	}
	return ACL_NONE;
}

static enum sx_verdict
acl_handle(struct sx_req *req, void *inst)
{
	struct acl *head = inst;
	const struct sx_query *q = sx_req_query(req);
	unsigned w = sx_req_worker(req);

	if (head->head) {
		return SX_NEXT; /* the head of the block evaluated this instance's rules */
	}
	for (size_t r = 0; r < head->nrules; r++) {
		struct acl *a = head->rules[r];
		int z = sx_zones_match(&a->zones, q->lname);
		struct sx_msg *msg;

		if (z < 0) {
			continue;
		}
		switch (match(a, q)) {
		case ACL_NONE:
			continue;
		case ACL_ALLOW:
			break;
		case ACL_BLOCK:
			sx_wcounters_add(&a->c, w, (size_t)z * ACL_C_PER_ZONE + ACL_C_BLOCKED, 1);
			msg = sx_req_msg(req);
			sx_msg_set_rcode(msg, SX_RCODE_REFUSED);
			sx_msg_add_option(msg, EDNS_EDE, ede_blocked, sizeof(ede_blocked));
			return SX_DONE;
		case ACL_FILTER:
			sx_wcounters_add(&a->c, w, (size_t)z * ACL_C_PER_ZONE + ACL_C_FILTERED, 1);
			sx_msg_add_option(sx_req_msg(req), EDNS_EDE, ede_filtered,
			                  sizeof(ede_filtered));
			return SX_DONE;
		case ACL_DROP:
			sx_wcounters_add(&a->c, w, (size_t)z * ACL_C_PER_ZONE + ACL_C_DROPPED, 1);
			sx_req_drop(req);
			return SX_DONE;
		}
		break; /* allowed: no later rule is checked */
	}
	sx_wcounters_add(&head->c, w, head->zones.n * ACL_C_PER_ZONE, 1);
	return SX_NEXT;
}

static int
cmp_u16(const void *x, const void *y)
{
	return (int)*(const uint16_t *)x - (int)*(const uint16_t *)y;
}

static int
add_type(struct sx_cf *cf, struct acl_policy *p, const char *tok)
{
	uint16_t *t;
	int type;

	if (strcmp(tok, "*") == 0) {
		p->all_types = true;
		return 0;
	}
	type = sx_rrtype_from_name(tok);
	if (type < 0) {
		return sx_cf_err(cf, "unexpected token '%s'; expect legal QTYPE", tok);
	}
	t = realloc(p->types, (p->ntypes + 1) * sizeof(*t));
	if (!t) {
		return -ENOMEM;
	}
	p->types = t;
	p->types[p->ntypes++] = (uint16_t)type;
	return 0;
}

static int
add_net(struct sx_cf *cf, struct acl_policy *p, const char *tok)
{
	int rc = acl_nets_add(&p->nets, tok);

	return rc == SX_EINVAL ? sx_cf_err(cf, "illegal CIDR notation '%s'", tok) : rc;
}

/* A file of networks, one a line, '#' starting a comment, relative to the Corefile. */
static int
add_file(struct sx_cf *cf, struct acl_policy *p, const char *name)
{
	char path[4096], line[512];
	FILE *f;
	int rc = 0;

	if (name[0] == '/') {
		snprintf(path, sizeof(path), "%s", name);
	} else {
		snprintf(path, sizeof(path), "%s/%s", sx_cf_dir(cf), name);
	}
	f = fopen(path, "re");
	if (!f) {
		return sx_cf_err(cf, "unable to load networks from local file: %s: %s", name,
		                 strerror(errno));
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *s = line, *e;

		line[strcspn(line, "#\r\n")] = '\0';
		while (*s == ' ' || *s == '\t') {
			s++;
		}
		for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t'); e--) {
		}
		*e = '\0';
		if (*s) {
			rc = add_net(cf, p, s);
		}
	}
	fclose(f);
	return rc;
}

static const char *const action_names[] = {
	[ACL_ALLOW] = "allow", [ACL_BLOCK] = "block", [ACL_FILTER] = "filter", [ACL_DROP] = "drop"
};

/* ACTION [type QTYPE...] [net SOURCE...] [file FILE...], sections in any order. */
static int
set_policy(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct acl *a = inst;
	struct acl_policy *p;
	const char *section = NULL;
	bool has_type = false, has_net = false;
	int n = sx_cf_nargs(cf), i, given = 0, rc = 0;

	(void)d;
	p = realloc(a->pol, (a->npol + 1) * sizeof(*p));
	if (!p) {
		return -ENOMEM;
	}
	a->pol = p;
	p = &a->pol[a->npol++];
	memset(p, 0, sizeof(*p));
	for (i = ACL_ALLOW; i <= ACL_DROP; i++) {
		if (strcasecmp(sx_cf_arg(cf, 0), action_names[i]) == 0) {
			p->action = (enum acl_action)i;
		}
	}
	if (p->action == ACL_NONE) {
		return sx_cf_err(
		        cf, "unexpected token '%s'; expect 'allow', 'block', 'filter' or 'drop'",
		        sx_cf_arg(cf, 0));
	}
	for (i = 1; i <= n && rc == 0; i++) {
		const char *tok = i < n ? sx_cf_arg(cf, i) : NULL;

		if (!tok || !strcasecmp(tok, "type") || !strcasecmp(tok, "net") ||
		    !strcasecmp(tok, "file")) {
			if (section && given == 0) {
				return sx_cf_err(cf, "no token specified in '%s' section", section);
			}
			section = tok;
			given = 0;
			has_type |= tok && !strcasecmp(tok, "type");
			has_net |= tok && strcasecmp(tok, "type") != 0;
			continue;
		}
		if (!section) {
			return sx_cf_err(cf, "unexpected token '%s'; expect 'type | net | file'",
			                 tok);
		}
		given++;
		if (!strcasecmp(section, "type")) {
			rc = add_type(cf, p, tok);
		} else if (!strcasecmp(section, "net")) {
			rc = add_net(cf, p, tok);
		} else {
			rc = add_file(cf, p, tok);
		}
	}
	if (rc == 0 && !has_type) {
		p->all_types = true;
	}
	if (rc == 0 && !has_net) {
		rc = acl_nets_add(&p->nets, "*");
	}
	if (rc == 0) {
		if (p->ntypes > 1) {
			qsort(p->types, p->ntypes, sizeof(p->types[0]), cmp_u16);
		}
		acl_nets_seal(&p->nets);
	}
	return rc;
}

static const struct sx_directive acl_directives[] = {
	{ "*", 0, -1, set_policy, .repeat = true },
	{ NULL },
};

/* acl [ZONES...] */
static int
acl_setup(struct sx_cf *cf, void *inst)
{
	struct acl *a = inst, *head;
	int rc = sx_cf_zones(cf, 1, sx_cf_block_zones(cf), NULL, &a->zones);

	if (rc < 0) {
		return rc;
	}
	a->port = sx_cf_block_port(cf, 0);
	rc = sx_wcounters_init(&a->c, a->zones.n * ACL_C_PER_ZONE + 1, sx_cf_workers(cf));
	if (rc < 0) {
		return rc;
	}
	head = sx_cf_first_instance(cf);
	if (!head) {
		head = a;
	} else {
		a->head = head;
	}
	struct acl **r = realloc(head->rules, (head->nrules + 1) * sizeof(*r));
	if (!r) {
		return -ENOMEM;
	}
	head->rules = r;
	head->rules[head->nrules++] = a;
	return 0;
}

/*
 * The head reports for its whole block, one series per zone name (two acl
 * directives over the same zone add up, as CoreDNS's single handler counts).
 */
static void
acl_collect(void *inst, struct sx_metrics *m)
{
	static const char *const fam[ACL_C_PER_ZONE][2] = {
		{ "coredns_acl_blocked_requests_total", "Counter of DNS requests being blocked." },
		{ "coredns_acl_filtered_requests_total",
		  "Counter of DNS requests being filtered." },
		{ "coredns_acl_dropped_requests_total", "Counter of DNS requests being dropped." },
	};
	struct acl *head = inst;
	char zone[SX_DNAME_STRMAX * 2], l[sizeof(zone) + 128];

	if (head->head) {
		return;
	}
	for (size_t r = 0; r < head->nrules; r++) {
		for (size_t z = 0; z < head->rules[r]->zones.n; z++) {
			const char *name = head->rules[r]->zones.z[z].name;
			uint64_t sum[ACL_C_PER_ZONE] = { 0 };
			bool seen = false;

			/* Reported at its first appearance, with every rule's counts of it. */
			for (size_t r2 = 0; r2 <= r && !seen; r2++) {
				for (size_t z2 = 0; z2 < head->rules[r2]->zones.n; z2++) {
					if ((r2 < r || z2 < z) &&
					    !strcmp(head->rules[r2]->zones.z[z2].name, name)) {
						seen = true;
						break;
					}
				}
			}
			if (seen) {
				continue;
			}
			for (size_t r2 = r; r2 < head->nrules; r2++) {
				const struct acl *a = head->rules[r2];

				for (size_t z2 = 0; z2 < a->zones.n; z2++) {
					if (strcmp(a->zones.z[z2].name, name) != 0) {
						continue;
					}
					for (size_t k = 0; k < ACL_C_PER_ZONE; k++) {
						sum[k] += sx_wcounters_sum(&a->c,
						                           z2 * ACL_C_PER_ZONE + k);
					}
				}
			}
			sx_metrics_escape(name, zone, sizeof(zone));
			snprintf(l, sizeof(l), "server=\"%s\",zone=\"%s\",view=\"\"", head->server,
			         zone);
			for (size_t k = 0; k < ACL_C_PER_ZONE; k++) {
				sx_metrics_add(m, fam[k][0], SX_METRIC_COUNTER, fam[k][1], l,
				               (double)sum[k]);
			}
		}
	}
	snprintf(l, sizeof(l), "server=\"%s\",view=\"\"", head->server);
	sx_metrics_add(m, "coredns_acl_allowed_requests_total", SX_METRIC_COUNTER,
	               "Counter of DNS requests being allowed.", l,
	               (double)sx_wcounters_sum(&head->c, head->zones.n * ACL_C_PER_ZONE));
}

static int
acl_start(void *inst, struct sx_runtime *rt)
{
	struct acl *a = inst;

	/* Port 0 is resolved once the listeners are open. */
	snprintf(a->server, sizeof(a->server), "dns://:%u", sx_rt_port(rt, a->port));
	return 0;
}

static void
acl_teardown(void *inst)
{
	struct acl *a = inst;

	for (size_t i = 0; i < a->npol; i++) {
		free(a->pol[i].types);
		acl_nets_fini(&a->pol[i].nets);
	}
	free(a->pol);
	free(a->rules);
	sx_zones_fini(&a->zones);
	sx_wcounters_fini(&a->c);
}

const struct sx_plugin sx_plugin_acl = {
	.name = "acl",
	.inst_size = sizeof(struct acl),
	.directives = acl_directives,
	.repeat = true,
	.setup = acl_setup,
	.start = acl_start,
	.handle = acl_handle,
	.collect = acl_collect,
	.teardown = acl_teardown,
};
