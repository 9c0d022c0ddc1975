/* log.c -- one line per query in CoreDNS's log format, with name and class filters. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sextant/plugin.h>
#include <sextant/time.h>

#define COMMON_FORMAT                                                                        \
	"{remote}:{port} - {>id} \"{type} {class} {name} {proto} {size} {>do} {>bufsize}\" " \
	"{rcode} {>rflags} {rsize} {duration}"
#define COMBINED_FORMAT COMMON_FORMAT " \"{>opcode}\""

enum field {
	F_LITERAL,
	F_REMOTE,
	F_PORT,
	F_LOCAL,
	F_ID,
	F_TYPE,
	F_CLASS,
	F_NAME,
	F_PROTO,
	F_SIZE,
	F_DO,
	F_BUFSIZE,
	F_RCODE,
	F_RFLAGS,
	F_RSIZE,
	F_DURATION,
	F_OPCODE,
	F_META, /* {/label}: the request's metadata */
	F_UNKNOWN,
};

static const struct {
	const char *name;
	enum field f;
} placeholders[] = {
	{ "{remote}", F_REMOTE },  { "{port}", F_PORT },        { "{local}", F_LOCAL },
	{ "{>id}", F_ID },         { "{type}", F_TYPE },        { "{class}", F_CLASS },
	{ "{name}", F_NAME },      { "{proto}", F_PROTO },      { "{size}", F_SIZE },
	{ "{>do}", F_DO },         { "{>bufsize}", F_BUFSIZE }, { "{rcode}", F_RCODE },
	{ "{>rflags}", F_RFLAGS }, { "{rsize}", F_RSIZE },      { "{duration}", F_DURATION },
	{ "{>opcode}", F_OPCODE },
};

struct segment {
	enum field f;
	const char *text; /* F_LITERAL: points into the rule's format; F_META: the label */
	size_t len;
};

enum {
	CLASS_SUCCESS = 1,
	CLASS_DENIAL = 2,
	CLASS_ERROR = 4,
	CLASS_ALL = 7
};

struct rule {
	struct sx_zones names;
	char *format;
	struct segment *segs;
	size_t nsegs;
	unsigned classes;
};

/*
 * One log directive. CoreDNS reads every log line of a server block into one
 * handler whose rules (one per name, in order) are tried in turn: the first
 * whose name matches logs the query, or does not by its classes, and no other
 * does. So the first instance of a block (the head) tries its own names and
 * those of the log instances after it in the same block, which pass queries on.
 */
struct logp {
	struct rule rule;
	struct logp *head;   /* NULL: this one is the head */
	struct logp **lines; /* the head's: the block's instances, in Corefile order */
	size_t nlines;
};

static size_t
put(char *buf, size_t cap, size_t n, const char *s, size_t len)
{
	if (n + len < cap) {
		memcpy(buf + n, s, len);
		return n + len;
	}
	return n;
}

static size_t
put_str(char *buf, size_t cap, size_t n, const char *s)
{
	return put(buf, cap, n, s, strlen(s));
}

static size_t put_fmt(char *buf, size_t cap, size_t n, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static size_t
put_fmt(char *buf, size_t cap, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (n >= cap) {
		return n;
	}
	va_start(ap, fmt);
	r = vsnprintf(buf + n, cap - n, fmt, ap);
	va_end(ap);
	return r > 0 && (size_t)r < cap - n ? n + (size_t)r : n;
}

static size_t
put_rflags(char *buf, size_t cap, size_t n, uint16_t flags)
{
	static const struct {
		uint16_t bit;
		const char *name;
	} names[] = {
		{ SX_FLAG_QR, "qr" }, { SX_FLAG_AA, "aa" }, { SX_FLAG_TC, "tc" },
		{ SX_FLAG_RD, "rd" }, { SX_FLAG_RA, "ra" }, { 0x0040, "z" },
		{ SX_FLAG_AD, "ad" }, { SX_FLAG_CD, "cd" },
	};
	size_t i, start = n;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (flags & names[i].bit) {
			if (n > start) {
				n = put(buf, cap, n, ",", 1);
			}
			n = put_str(buf, cap, n, names[i].name);
		}
	}
	return n > start ? n : put(buf, cap, n, "-", 1);
}

static unsigned
class_of(const struct sx_msg *msg)
{
	unsigned rcode = sx_msg_rcode(msg);

	if (rcode == SX_RCODE_NXDOMAIN ||
	    (rcode == SX_RCODE_NOERROR && sx_msg_count(msg, SX_SEC_ANSWER) == 0)) {
		return CLASS_DENIAL;
	}
	return rcode == SX_RCODE_NOERROR ? CLASS_SUCCESS : CLASS_ERROR;
}

static void
log_reply(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	const struct rule *r = arg;
	const struct sx_query *q = sx_req_query(req);
	char line[2048], tmp[SX_DNAME_STRMAX], nbuf[16];
	size_t i, n = 0;
	uint64_t now;

	if (!(class_of(msg) & r->classes)) {
		return;
	}
	now = sx_now_ns();
	for (i = 0; i < r->nsegs; i++) {
		const struct segment *s = &r->segs[i];
		const struct sockaddr_in *sin = (const void *)&q->client;
		const struct sockaddr_in6 *sin6 = (const void *)&q->client;
		bool v6 = q->client.ss_family == AF_INET6;

		switch (s->f) {
		case F_LITERAL:
			n = put(line, sizeof(line), n, s->text, s->len);
			break;
		case F_REMOTE:
			inet_ntop(q->client.ss_family,
			          v6 ? (const void *)&sin6->sin6_addr
			             : (const void *)&sin->sin_addr,
			          tmp, sizeof(tmp));
			n = put_fmt(line, sizeof(line), n, v6 ? "[%s]" : "%s", tmp);
			break;
		case F_PORT:
			n = put_fmt(line, sizeof(line), n, "%u", ntohs(sin->sin_port));
			break;
		case F_LOCAL: {
			struct sockaddr_storage ss;

			if (!sx_req_local(req, &ss)) {
				n = put(line, sizeof(line), n, "-", 1);
				break;
			}
			inet_ntop(ss.ss_family,
			          ss.ss_family == AF_INET6
			                  ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
			                  : (const void *)&((struct sockaddr_in *)&ss)->sin_addr,
			          tmp, sizeof(tmp));
			n = put_fmt(line, sizeof(line), n, ss.ss_family == AF_INET6 ? "[%s]" : "%s",
			            tmp);
			break;
		}
		case F_ID:
			n = put_fmt(line, sizeof(line), n, "%u", q->id);
			break;
		case F_TYPE:
			n = put_str(line, sizeof(line), n, sx_rrtype_name(q->qtype, nbuf));
			break;
		case F_CLASS:
			n = put_str(line, sizeof(line), n, sx_class_name(q->qclass, nbuf));
			break;
		case F_NAME:
			sx_dname_to_str(tmp, sizeof(tmp), q->qname);
			n = put_str(line, sizeof(line), n, tmp);
			break;
		case F_PROTO:
			n = put_str(line, sizeof(line), n,
			            q->proto == SX_PROTO_TCP ? "tcp" : "udp");
			break;
		case F_SIZE:
			n = put_fmt(line, sizeof(line), n, "%zu", q->size);
			break;
		case F_DO:
			n = put_str(line, sizeof(line), n, q->do_bit ? "true" : "false");
			break;
		case F_BUFSIZE:
			n = put_fmt(line, sizeof(line), n, "%u", q->udp_size);
			break;
		case F_RCODE:
			n = put_str(line, sizeof(line), n, sx_rcode_name(sx_msg_rcode(msg), nbuf));
			break;
		case F_RFLAGS:
			n = put_rflags(line, sizeof(line), n, sx_msg_flags(msg));
			break;
		case F_RSIZE:
			/* The OPT record the core appends is 11 bytes. */
			n = put_fmt(line, sizeof(line), n, "%zu", msg->len + (q->edns ? 11 : 0));
			break;
		case F_DURATION:
			n = put_fmt(line, sizeof(line), n, "%.9fs",
			            (double)(now - sx_req_start_ns(req)) / 1e9);
			break;
		case F_OPCODE:
			n = put_fmt(line, sizeof(line), n, "%u", q->opcode);
			break;
		case F_META: {
			/* No value, or an empty one, prints "-" as in CoreDNS. */
			int len = sx_req_meta(req, s->text, tmp, sizeof(tmp));

			n = len > 0 ? put(line, sizeof(line), n, tmp, (size_t)len)
			            : put(line, sizeof(line), n, "-", 1);
			break;
		}
		case F_UNKNOWN:
			n = put(line, sizeof(line), n, "-", 1);
			break;
		}
	}
	line[n < sizeof(line) ? n : sizeof(line) - 1] = 0;
	sx_log(SX_LOG_INFO, "%s", line);
}

static enum sx_verdict
log_handle(struct sx_req *req, void *inst)
{
	struct logp *head = inst;
	const uint8_t *lname = sx_req_query(req)->lname;

	if (head->head) {
		return SX_NEXT; /* the head of the block tried this instance's names */
	}
	for (size_t i = 0; i < head->nlines; i++) {
		if (sx_zones_match(&head->lines[i]->rule.names, lname) >= 0) {
			if (sx_req_on_reply(req, log_reply, &head->lines[i]->rule) < 0) {
				return sx_req_error(req, SX_RCODE_SERVFAIL,
				                    "plugin/log: too many reply hooks");
			}
			break;
		}
	}
	return SX_NEXT;
}

/*
 * Split a format into literal runs and known placeholders; unknown ones print "-".
 * A {/label} placeholder has its closing brace made the end of its label, in place.
 */
static int
compile(struct rule *r)
{
	char *p = r->format;
	size_t cap = 0;

	while (*p) {
		struct segment seg = { F_LITERAL, p, 0 };
		size_t i;

		if (*p == '{') {
			char *end = strchr(p, '}');

			if (end && p[1] == '/' && end > p + 2) {
				seg.f = F_META;
				seg.text = p + 2;
				seg.len = (size_t)(end - p) + 1;
				*end = '\0';
			} else if (end) {
				seg.f = F_UNKNOWN;
				seg.len = (size_t)(end - p) + 1;
				for (i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]);
				     i++) {
					if (strlen(placeholders[i].name) == seg.len &&
					    !memcmp(p, placeholders[i].name, seg.len)) {
						seg.f = placeholders[i].f;
					}
				}
			}
		}
		if (seg.f == F_LITERAL) {
			seg.len = 1 + strcspn(p + 1, "{");
		}
		if (r->nsegs == cap) {
			struct segment *g = realloc(r->segs,
			                            (cap = cap ? cap * 2 : 16) * sizeof(*g));

			if (!g) {
				return -ENOMEM;
			}
			r->segs = g;
		}
		r->segs[r->nsegs++] = seg;
		p += seg.len;
	}
	return 0;
}

static int
set_class(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct logp *l = inst;
	int i;

	(void)d;
	for (i = 1; i < sx_cf_nargs(cf); i++) {
		const char *c = sx_cf_arg(cf, i);

		if (!strcmp(c, "all")) {
			l->rule.classes |= CLASS_ALL;
		} else if (!strcmp(c, "success")) {
			l->rule.classes |= CLASS_SUCCESS;
		} else if (!strcmp(c, "denial")) {
			l->rule.classes |= CLASS_DENIAL;
		} else if (!strcmp(c, "error")) {
			l->rule.classes |= CLASS_ERROR;
		} else {
			return sx_cf_err(cf, "invalid log class '%s'", c);
		}
	}
	return 0;
}

static const struct sx_directive log_directives[] = {
	{ "class", 1, -1, set_class, .repeat = true },
	{ NULL },
};

/* Append @name (a presentation name) to @zs, lower-cased. */
static int
add_name(struct sx_zones *zs, const char *name)
{
	struct sx_zone *z = realloc(zs->z, (zs->n + 1) * sizeof(*z));
	int len;

	if (!z) {
		return -ENOMEM;
	}
	zs->z = z;
	z = &zs->z[zs->n];
	len = sx_dname_from_str(z->wire, name);
	if (len < 0) {
		return len;
	}
	z->len = (uint8_t)sx_dname_lower(z->wire, z->wire);
	z->name = malloc(SX_DNAME_STRMAX);
	if (!z->name) {
		return -ENOMEM;
	}
	sx_dname_to_str(z->name, SX_DNAME_STRMAX, z->wire);
	zs->n++;
	return 0;
}

/*
 * log [NAMES...] [FORMAT]: a last argument containing '{' is the format
 * ({common} and {combined} name the standard ones); NAMES default to the root.
 */
static int
log_setup(struct sx_cf *cf, void *inst)
{
	struct logp *l = inst, *head, **lines;
	int i, n = sx_cf_nargs(cf);
	const char *fmt = COMMON_FORMAT;

	if (n > 1 && strchr(sx_cf_arg(cf, n - 1), '{')) {
		fmt = sx_cf_arg(cf, n - 1);
		if (!strcmp(fmt, "{common}")) {
			fmt = COMMON_FORMAT;
		} else if (!strcmp(fmt, "{combined}")) {
			fmt = COMBINED_FORMAT;
		}
		n--;
	}
	for (i = 1; i < n || (i == 1 && l->rule.names.n == 0); i++) {
		const char *name = i < n ? sx_cf_arg(cf, i) : ".";

		if (add_name(&l->rule.names, name) < 0) {
			return sx_cf_err(cf, "invalid name '%s'", name);
		}
	}
	if (!l->rule.classes) {
		l->rule.classes = CLASS_ALL;
	}
	l->rule.format = strdup(fmt);
	if (!l->rule.format || compile(&l->rule) < 0) {
		return sx_cf_err(cf, "out of memory");
	}
	head = sx_cf_first_instance(cf);
	l->head = head;
	head = head ? head : l;
	lines = realloc(head->lines, (head->nlines + 1) * sizeof(*lines));
	if (!lines) {
		return sx_cf_err(cf, "out of memory");
	}
	head->lines = lines;
	head->lines[head->nlines++] = l;
	return 0;
}

static void
log_teardown(void *inst)
{
	struct logp *l = inst;

	free(l->lines);
	sx_zones_fini(&l->rule.names);
	free(l->rule.format);
	free(l->rule.segs);
}

const struct sx_plugin sx_plugin_log = {
	.name = "log",
	.inst_size = sizeof(struct logp),
	.directives = log_directives,
	.repeat = true, /* several lines add rules, as CoreDNS collects them */
	.setup = log_setup,
	.handle = log_handle,
	.teardown = log_teardown,
};
