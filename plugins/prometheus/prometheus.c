/* prometheus.c -- CoreDNS's per-query metrics, counted per worker, served on /metrics. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include <sextant/http.h>
#include <sextant/plugin.h>
#include <sextant/time.h>

#include "webconfig.h"

#define DEFAULT_ADDR "localhost:9153"

/* Label values of the `type` label, as CoreDNS's vars.go monitors them; the rest is "other". */
static const uint16_t monitored[] = {
	SX_TYPE_A,      SX_TYPE_AAAA,   SX_TYPE_CNAME, 48 /* DNSKEY */, SX_TYPE_DS,
	SX_TYPE_MX,     50 /* NSEC3 */, 47 /* NSEC */, SX_TYPE_NS,      SX_TYPE_PTR,
	46 /* RRSIG */, SX_TYPE_SOA,    SX_TYPE_SRV,   SX_TYPE_TXT,     65 /* HTTPS */,
	64 /* SVCB */,  SX_TYPE_IXFR,   SX_TYPE_AXFR,  SX_TYPE_ANY,
};
#define NTYPES  (sizeof(monitored) / sizeof(monitored[0]) + 1)
#define NRCODES 25 /* 0..23, then everything else */

static const double duration_bounds[] = {
	0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032,
	0.064,   0.128,  0.256, 0.512, 1.024, 2.048, 4.096, 8.192,
};
#define NDUR (sizeof(duration_bounds) / sizeof(duration_bounds[0]))
static const double size_bounds[] = {
	0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16000, 32000, 48000, 64000,
};
#define NSIZE (sizeof(size_bounds) / sizeof(size_bounds[0]))

/*
 * Counter layout for one zone of the block, per worker. Histograms hold their
 * buckets, then the count above the last bound, then the sum (ns or bytes).
 */
enum {
	OFF_REQ = 0, /* [proto][family][type] */
	OFF_DO = OFF_REQ + 2 * 2 * NTYPES,
	OFF_DUR = OFF_DO + 1,                      /* [type] x (NDUR + 2) */
	OFF_QSIZE = OFF_DUR + NTYPES * (NDUR + 2), /* [proto] x (NSIZE + 2) */
	OFF_RSIZE = OFF_QSIZE + 2 * (NSIZE + 2),   /* [proto] x (NSIZE + 2) */
	OFF_RESP = OFF_RSIZE + 2 * (NSIZE + 2),    /* [rcode][writer], writer 0 = server */
};

struct prom {
	char *addr;
	bool runtime_metrics; /* accepted for compatibility: there is no Go runtime to report */
	struct sx_zones zones;
	uint16_t *ports;
	const char **writers; /* plugin names of the block's chain, [0] = "" */
	size_t nwriters;
	size_t per_zone;
	struct sx_wcounters c;
	struct sx_runtime *rt;
	struct sx_http_route *route;
	char *tls;    /* `tls CONFIG`: the web configuration file's path, resolved; or NULL */
	SSL_CTX *ssl; /* loaded at setup, so that -check reports bad files */
	char *where;  /* "FILE:LINE" of the directive, for conflicts between blocks */
	bool listed;  /* in `pending` */
	struct prom *next_pending;
};

/*
 * Instances set up but not started: those of the configuration being read
 * (the running one's have started), among which blocks naming one address
 * must agree on its TLS. Setup runs on the main thread at first and on the
 * control thread on reload, hence the lock.
 */
static struct prom *pending;
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;

static void
unlist(struct prom *p)
{
	struct prom **pp;

	pthread_mutex_lock(&pending_lock);
	for (pp = &pending; p->listed && *pp; pp = &(*pp)->next_pending) {
		if (*pp == p) {
			*pp = p->next_pending;
			p->listed = false;
			break;
		}
	}
	pthread_mutex_unlock(&pending_lock);
}

static bool
same_path(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Refuse @p when an earlier block serves its address with other TLS settings; list @p. */
static int
check_address(struct sx_cf *cf, struct prom *p)
{
	struct prom *q;
	int rc = 0;

	pthread_mutex_lock(&pending_lock);
	for (q = pending; q; q = q->next_pending) {
		if (!strcmp(q->addr, p->addr) && !same_path(q->tls, p->tls)) {
			rc = sx_cf_err(cf, "address %s is served once: its tls differs from %s",
			               p->addr, q->where);
			break;
		}
	}
	if (rc == 0) {
		p->next_pending = pending;
		pending = p;
		p->listed = true;
	}
	pthread_mutex_unlock(&pending_lock);
	return rc;
}

static size_t
type_index(uint16_t t)
{
	size_t i;

	for (i = 0; i < NTYPES - 1; i++) {
		if (monitored[i] == t) {
			return i;
		}
	}
	return NTYPES - 1;
}

static size_t
bucket(const double *bounds, size_t n, double v)
{
	size_t i;

	for (i = 0; i < n && v > bounds[i]; i++) {
	}
	return i; /* n: above the last bound */
}

static void
observe(struct prom *p, unsigned w, size_t base, const double *bounds, size_t nb, double v,
        uint64_t raw)
{
	sx_wcounters_add(&p->c, w, base + bucket(bounds, nb, v), 1);
	sx_wcounters_add(&p->c, w, base + nb + 1, raw);
}

static void
record(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	struct prom *p = arg;
	const struct sx_query *q = sx_req_query(req);
	const uint8_t *zone = sx_req_zone(req);
	unsigned w = sx_req_worker(req);
	size_t z, base, proto = q->proto == SX_PROTO_TCP, fam = q->client.ss_family == AF_INET6;
	size_t rsize = msg->len + (q->edns ? 11 : 0), writer = 0, rc, t = type_index(q->qtype);
	uint64_t ns;

	for (z = 0; z < p->zones.n && !sx_dname_eq(p->zones.z[z].wire, zone); z++) {
	}
	if (z == p->zones.n) {
		return;
	}
	base = z * p->per_zone;
	sx_wcounters_add(&p->c, w, base + OFF_REQ + (proto * 2 + fam) * NTYPES + t, 1);
	if (q->do_bit) {
		sx_wcounters_add(&p->c, w, base + OFF_DO, 1);
	}
	ns = sx_now_ns() - sx_req_start_ns(req);
	observe(p, w, base + OFF_DUR + t * (NDUR + 2), duration_bounds, NDUR, (double)ns / 1e9, ns);
	observe(p, w, base + OFF_QSIZE + proto * (NSIZE + 2), size_bounds, NSIZE, (double)q->size,
	        q->size);
	observe(p, w, base + OFF_RSIZE + proto * (NSIZE + 2), size_bounds, NSIZE, (double)rsize,
	        rsize);
	/* Writer names are the plugins' own name pointers: compare pointers, not strings. */
	for (size_t i = 1; i < p->nwriters; i++) {
		if (p->writers[i] == sx_req_writer(req)) {
			writer = i;
			break;
		}
	}
	rc = sx_msg_rcode(msg) < NRCODES - 1 ? sx_msg_rcode(msg) : NRCODES - 1;
	sx_wcounters_add(&p->c, w, base + OFF_RESP + rc * p->nwriters + writer, 1);
}

static enum sx_verdict
prom_handle(struct sx_req *req, void *inst)
{
	if (!sx_req_is_sub(req)) {
		if (sx_req_on_reply(req, record, inst) < 0) {
			return sx_req_error(req, SX_RCODE_SERVFAIL,
			                    "plugin/prometheus: too many reply hooks");
		}
	}
	return SX_NEXT;
}

static void
emit_hist(struct prom *p, struct sx_metrics *m, const char *family, const char *help,
          const char *labels, size_t base, const double *bounds, size_t nb, double scale)
{
	uint64_t counts[32], over, total = 0;
	size_t i;

	for (i = 0; i < nb; i++) {
		counts[i] = sx_wcounters_sum(&p->c, base + i);
		total += counts[i];
	}
	over = sx_wcounters_sum(&p->c, base + nb);
	if (total + over == 0) {
		return;
	}
	sx_metrics_histogram(m, family, help, labels, bounds, counts, nb, over,
	                     (double)sx_wcounters_sum(&p->c, base + nb + 1) * scale);
}

static void
prom_collect(void *inst, struct sx_metrics *m)
{
	static const char *const rcodes[NRCODES] = {
		"NOERROR", "FORMERR",  "SERVFAIL",  "NXDOMAIN",    "NOTIMP",  "REFUSED", "YXDOMAIN",
		"YXRRSET", "NXRRSET",  "NOTAUTH",   "NOTZONE",     "RCODE11", "RCODE12", "RCODE13",
		"RCODE14", "RCODE15",  "BADVERS",   "BADKEY",      "BADTIME", "BADMODE", "BADNAME",
		"BADALG",  "BADTRUNC", "BADCOOKIE", "RCODE_OTHER",
	};
	struct prom *p = inst;
	char zone[SX_DNAME_STRMAX + 8], base_l[SX_DNAME_STRMAX + 128], l[SX_DNAME_STRMAX + 256];
	char tbuf[16];
	size_t z, i, j, k;

	for (z = 0; z < p->zones.n; z++) {
		size_t base = z * p->per_zone;
		uint64_t v;

		sx_metrics_escape(p->zones.z[z].name, zone, sizeof(zone));
		snprintf(base_l, sizeof(base_l), "server=\"dns://:%u\",zone=\"%s\",view=\"\"",
		         sx_rt_port(p->rt, p->ports[z]), zone);
		for (i = 0; i < 2; i++) {
			for (j = 0; j < 2; j++) {
				for (k = 0; k < NTYPES; k++) {
					v = sx_wcounters_sum(
					        &p->c, base + OFF_REQ + (i * 2 + j) * NTYPES + k);
					if (!v) {
						continue;
					}
					snprintf(l, sizeof(l),
					         "%s,proto=\"%s\",family=\"%zu\",type=\"%s\"",
					         base_l, i ? "tcp" : "udp", j + 1,
					         k < NTYPES - 1 ? sx_rrtype_name(monitored[k], tbuf)
					                        : "other");
					sx_metrics_add(
					        m, "coredns_dns_requests_total", SX_METRIC_COUNTER,
					        "Counter of DNS requests made per zone, protocol and family.",
					        l, (double)v);
				}
			}
		}
		v = sx_wcounters_sum(&p->c, base + OFF_DO);
		if (v) {
			sx_metrics_add(m, "coredns_dns_do_requests_total", SX_METRIC_COUNTER,
			               "Counter of DNS requests with DO bit set per zone.", base_l,
			               (double)v);
		}
		for (k = 0; k < NTYPES; k++) {
			snprintf(l, sizeof(l), "%s,type=\"%s\"", base_l,
			         k < NTYPES - 1 ? sx_rrtype_name(monitored[k], tbuf) : "other");
			emit_hist(p, m, "coredns_dns_request_duration_seconds",
			          "Histogram of the time (in seconds) each request took per zone.",
			          l, base + OFF_DUR + k * (NDUR + 2), duration_bounds, NDUR, 1e-9);
		}
		for (i = 0; i < 2; i++) {
			snprintf(l, sizeof(l), "%s,proto=\"%s\"", base_l, i ? "tcp" : "udp");
			emit_hist(
			        p, m, "coredns_dns_request_size_bytes",
			        "Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.",
			        l, base + OFF_QSIZE + i * (NSIZE + 2), size_bounds, NSIZE, 1);
			emit_hist(p, m, "coredns_dns_response_size_bytes",
			          "Size of the returned response in bytes.", l,
			          base + OFF_RSIZE + i * (NSIZE + 2), size_bounds, NSIZE, 1);
		}
		for (i = 0; i < NRCODES; i++) {
			for (j = 0; j < p->nwriters; j++) {
				v = sx_wcounters_sum(&p->c, base + OFF_RESP + i * p->nwriters + j);
				if (!v) {
					continue;
				}
				snprintf(l, sizeof(l), "%s,rcode=\"%s\",plugin=\"%s\"", base_l,
				         rcodes[i], p->writers[j]);
				sx_metrics_add(m, "coredns_dns_responses_total", SX_METRIC_COUNTER,
				               "Counter of response status codes.", l, (double)v);
			}
		}
	}
}

static void
serve_metrics(struct sx_http_req *req, void *arg)
{
	struct prom *p = arg;
	size_t len;
	char *text = sx_rt_scrape(p->rt, &len);

	if (!text) {
		sx_http_reply(req, 500, "scrape failed\n", 14);
		return;
	}
	sx_http_reply_type(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

/* tls CONFIG: an exporter-toolkit web configuration file, relative to the Corefile's directory. */
static int
set_tls(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct prom *p = inst;
	const char *a = sx_cf_arg(cf, 1);
	char why[4096 + 256];

	(void)d;
	if (asprintf(&p->tls, "%s%s%s", a[0] == '/' ? "" : sx_cf_dir(cf), a[0] == '/' ? "" : "/",
	             a) < 0) {
		p->tls = NULL;
		return sx_cf_err(cf, "out of memory");
	}
	if (prom_webconfig_load(&p->ssl, p->tls, why, sizeof(why)) < 0) {
		return sx_cf_err(cf, "tls: %s", why);
	}
	return 0;
}

static const struct sx_directive prom_directives[] = {
	SX_DIR_FLAG("runtime_metrics", struct prom, runtime_metrics),
	{ "tls", 1, 1, set_tls },
	{ NULL },
};

static int
prom_setup(struct sx_cf *cf, void *inst)
{
	struct prom *p = inst;
	const struct sx_zones *zones = sx_cf_block_zones(cf);
	size_t i;

	if (sx_cf_nargs(cf) > 2) {
		return sx_cf_err(cf, "at most one address is expected");
	}
	p->addr = strdup(sx_cf_nargs(cf) == 2 ? sx_cf_arg(cf, 1) : DEFAULT_ADDR);
	p->zones.z = calloc(zones->n, sizeof(*p->zones.z));
	p->ports = calloc(zones->n, sizeof(*p->ports));
	if (!p->addr || !p->zones.z || !p->ports) {
		return sx_cf_err(cf, "out of memory");
	}
	if (!strchr(p->addr, ':')) {
		return sx_cf_err(cf, "invalid address '%s' (want [HOST]:PORT)", p->addr);
	}
	for (i = 0; i < zones->n; i++) {
		p->zones.z[i] = zones->z[i];
		p->zones.z[i].name = strdup(zones->z[i].name);
		p->zones.n++;
		if (!p->zones.z[i].name) {
			return sx_cf_err(cf, "out of memory");
		}
		p->ports[i] = sx_cf_block_port(cf, i);
	}
	if (asprintf(&p->where, "%s:%d", sx_cf_file(cf), sx_cf_line(cf)) < 0) {
		p->where = NULL;
		return sx_cf_err(cf, "out of memory");
	}
	return check_address(cf, p);
}

/* The block's chain is only known once set up; take the writers' names at start. */
static int
prom_start(void *inst, struct sx_runtime *rt)
{
	struct prom *p = inst;
	char err[256];
	size_t i;
	int rc;

	p->rt = rt;
	unlist(p);
	for (p->nwriters = 1; sx_plugins[p->nwriters - 1]; p->nwriters++) {
	}
	p->writers = calloc(p->nwriters, sizeof(*p->writers));
	if (!p->writers) {
		return -ENOMEM;
	}
	p->writers[0] = "";
	for (i = 1; i < p->nwriters; i++) {
		p->writers[i] = sx_plugins[i - 1]->name;
	}
	p->per_zone = OFF_RESP + NRCODES * p->nwriters;
	rc = sx_wcounters_init(&p->c, p->zones.n * p->per_zone, sx_rt_workers(rt));
	if (rc < 0) {
		return rc;
	}
	rc = sx_http_route_add_tls(&p->route, p->addr, "/metrics", serve_metrics, p, p->ssl, err,
	                           sizeof(err));
	if (rc < 0) {
		sx_plog(SX_LOG_ERROR, "prometheus", "%s", err);
		return rc;
	}
	return 0;
}

static void
prom_teardown(void *inst)
{
	struct prom *p = inst;

	unlist(p);
	sx_http_route_free(p->route);
	SSL_CTX_free(p->ssl);
	free(p->tls);
	free(p->where);
	sx_wcounters_fini(&p->c);
	sx_zones_fini(&p->zones);
	free(p->ports);
	free(p->writers);
	free(p->addr);
}

const struct sx_plugin sx_plugin_prometheus = {
	.name = "prometheus",
	.flags = SX_PLUGIN_EXPORTS_METRICS,
	.inst_size = sizeof(struct prom),
	.directives = prom_directives,
	.setup = prom_setup,
	.start = prom_start,
	.handle = prom_handle,
	.collect = prom_collect,
	.teardown = prom_teardown,
};
