/* chaos.c -- the chaos plugin: CH TXT answers for version.bind, authors.bind, hostname.bind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <sextant/plugin.h>

/*
 * The five names BIND and NSD answer in the CHAOS class, as CoreDNS answers
 * them: TXT records of class CH with TTL 0, the owner as the client wrote it,
 * no AA bit. Other names and types go on to the next plugin.
 */
#define CHAOS_MAX_AUTHORS 256
#define TXT_MAX           255

enum chaos_name {
	CHAOS_VERSION,
	CHAOS_AUTHORS,
	CHAOS_HOSTNAME,
};

static const struct {
	const uint8_t *wire;
	enum chaos_name what;
} names[] = {
	{ (const uint8_t *)"\7version\4bind", CHAOS_VERSION },
	{ (const uint8_t *)"\7version\6server", CHAOS_VERSION },
	{ (const uint8_t *)"\7authors\4bind", CHAOS_AUTHORS },
	{ (const uint8_t *)"\10hostname\4bind", CHAOS_HOSTNAME },
	{ (const uint8_t *)"\2id\6server", CHAOS_HOSTNAME },
};

struct chaos {
	uint8_t version[1 + TXT_MAX]; /* TXT rdata: one character-string */
	uint8_t **authors;            /* TXT rdatas, sorted, distinct */
	size_t nauthors;
};

/* A character-string of @s, cut at 255 bytes as CoreDNS cuts it. */
static void
txt(uint8_t out[1 + TXT_MAX], const char *s)
{
	size_t n = strlen(s);

	if (n > TXT_MAX) {
		n = TXT_MAX;
	}
	out[0] = (uint8_t)n;
	memcpy(out + 1, s, n);
}

static void
put(struct sx_msg *msg, const struct sx_query *q, const uint8_t *rdata)
{
	sx_msg_put_rr(msg, SX_SEC_ANSWER, q->qname, SX_TYPE_TXT, SX_CLASS_CH, 0, rdata,
	              (uint16_t)(rdata[0] + 1));
}

/* xorshift64 per worker thread, seeded once: authors come in a new order every time. */
static uint64_t
rnd(void)
{
	static _Thread_local uint64_t s;

	if (s == 0 && getrandom(&s, sizeof(s), 0) != sizeof(s)) {
		s = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&s;
	}
	s |= 1;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

static enum sx_verdict
chaos_handle(struct sx_req *req, void *inst)
{
	const struct chaos *c = inst;
	const struct sx_query *q = sx_req_query(req);
	struct sx_msg *msg;
	uint16_t order[CHAOS_MAX_AUTHORS];
	uint8_t host[1 + TXT_MAX];
	char hn[TXT_MAX + 2];
	size_t i;

	if (q->qclass != SX_CLASS_CH || q->qtype != SX_TYPE_TXT) {
		return SX_NEXT;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]) && !sx_dname_eq(q->lname, names[i].wire);
	     i++) {
	}
	if (i == sizeof(names) / sizeof(names[0])) {
		return SX_NEXT;
	}
	msg = sx_req_msg(req);
	switch (names[i].what) {
	case CHAOS_VERSION:
		put(msg, q, c->version);
		break;
	case CHAOS_AUTHORS:
		for (i = 0; i < c->nauthors; i++) {
			order[i] = (uint16_t)i;
		}
		for (i = c->nauthors; i > 1; i--) { /* Fisher-Yates */
			size_t j = rnd() % i;
			uint16_t t = order[i - 1];

			order[i - 1] = order[j];
			order[j] = t;
		}
		for (i = 0; i < c->nauthors; i++) {
			put(msg, q, c->authors[order[i]]);
		}
		break;
	case CHAOS_HOSTNAME:
		/* Asked each time, as the host may be renamed while we run. */
		if (gethostname(hn, sizeof(hn)) != 0) {
			strcpy(hn, "localhost");
		}
		hn[sizeof(hn) - 1] = '\0';
		txt(host, hn);
		put(msg, q, host);
		break;
	}
	return SX_DONE;
}

static int
cmp_rdata(const void *a, const void *b)
{
	const uint8_t *x = *(uint8_t *const *)a, *y = *(uint8_t *const *)b;
	int r = memcmp(x + 1, y + 1, x[0] < y[0] ? x[0] : y[0]);

	return r ? r : (int)x[0] - (int)y[0];
}

static int
add_author(struct chaos *c, const char *name)
{
	uint8_t *a = malloc(1 + TXT_MAX);

	if (!a) {
		return -ENOMEM;
	}
	txt(a, name);
	c->authors[c->nauthors++] = a;
	return 0;
}

/* chaos [VERSION] [AUTHORS...] */
static int
chaos_setup(struct sx_cf *cf, void *inst)
{
	struct chaos *c = inst;
	char dflt[64];
	int n = sx_cf_nargs(cf), rc;
	size_t i, out;

	if (n - 2 > CHAOS_MAX_AUTHORS) {
		return sx_cf_err(cf, "at most %d AUTHORS", CHAOS_MAX_AUTHORS);
	}
	snprintf(dflt, sizeof(dflt), "sextant-%s", sx_version());
	txt(c->version, n > 1 ? sx_cf_arg(cf, 1) : dflt);
	c->authors = calloc(n > 2 ? (size_t)n - 2 : 1, sizeof(*c->authors));
	if (!c->authors) {
		return -ENOMEM;
	}
	if (n <= 2) {
		return add_author(c, "The Sextant authors");
	}
	for (int a = 2; a < n; a++) {
		rc = add_author(c, sx_cf_arg(cf, a));
		if (rc < 0) {
			return rc;
		}
	}
	/* Sorted and distinct, as CoreDNS keeps them. */
	qsort(c->authors, c->nauthors, sizeof(c->authors[0]), cmp_rdata);
	for (i = 1, out = 1; i < c->nauthors; i++) {
		if (cmp_rdata(&c->authors[i], &c->authors[out - 1]) == 0) {
			free(c->authors[i]);
		} else {
			c->authors[out++] = c->authors[i];
		}
	}
	c->nauthors = out;
	return 0;
}

static void
chaos_teardown(void *inst)
{
	struct chaos *c = inst;

	for (size_t i = 0; i < c->nauthors; i++) {
		free(c->authors[i]);
	}
	free(c->authors);
}

const struct sx_plugin sx_plugin_chaos = {
	.name = "chaos",
	.flags = SX_PLUGIN_ANY_CLASS,
	.inst_size = sizeof(struct chaos),
	.setup = chaos_setup,
	.handle = chaos_handle,
	.teardown = chaos_teardown,
};
