/* errors.c -- log the error behind every failed request, optionally consolidated. */
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/uatomic.h>

#include <sextant/plugin.h>
#include <sextant/time.h>

#define MAX_PATTERN 10000

struct pattern {
	uint64_t period_ms;
	regex_t re;
	bool compiled;
	char *source;
	enum sx_log_level level;
	bool show_first;
	unsigned long count; /* matches in the current period */
	struct sx_timer *timer;
};

struct errors {
	struct pattern *patterns;
	size_t npatterns;
	bool stacktrace; /* accepted for compatibility: C has no stack to print */
};

static void
errors_log(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	const struct errors *e = arg;
	const char *err = sx_req_errmsg(req);
	const struct sx_query *q;
	char name[SX_DNAME_STRMAX], tbuf[16];
	size_t i;

	if (!err) {
		return;
	}
	for (i = 0; i < e->npatterns; i++) {
		struct pattern *p = &e->patterns[i];

		if (regexec(&p->re, err, 0, NULL, 0) == 0) {
			/* The first match of a period may be shown; the rest only counted. */
			if (uatomic_add_return(&p->count, 1) != 1 || !p->show_first) {
				return;
			}
			break;
		}
	}
	q = sx_req_query(req);
	sx_dname_to_str(name, sizeof(name), q->qname);
	sx_plog(i < e->npatterns ? e->patterns[i].level : SX_LOG_ERROR, "errors", "%u %s %s: %s",
	        sx_msg_rcode(msg), name, sx_rrtype_name(q->qtype, tbuf), err);
}

static enum sx_verdict
errors_handle(struct sx_req *req, void *inst)
{
	if (sx_req_on_reply(req, errors_log, inst) < 0) {
		return sx_req_error(req, SX_RCODE_SERVFAIL, "plugin/errors: too many reply hooks");
	}
	return SX_NEXT;
}

static int
parse_level(const char *s, enum sx_log_level *out)
{
	static const struct {
		const char *name;
		enum sx_log_level level;
	} levels[] = {
		{ "warning", SX_LOG_WARNING },
		{ "error", SX_LOG_ERROR },
		{ "info", SX_LOG_INFO },
		{ "debug", SX_LOG_DEBUG },
	};
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (!strcmp(s, levels[i].name)) {
			*out = levels[i].level;
			return 0;
		}
	}
	return SX_EINVAL;
}

/* consolidate DURATION REGEXP [LEVEL] [show_first] */
static int
set_consolidate(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct errors *e = inst;
	struct pattern *p, *grown;
	int i, n = sx_cf_nargs(cf);

	(void)d;
	grown = realloc(e->patterns, (e->npatterns + 1) * sizeof(*grown));
	if (!grown) {
		return sx_cf_err(cf, "out of memory");
	}
	e->patterns = grown;
	p = memset(&e->patterns[e->npatterns++], 0, sizeof(*p));
	p->level = SX_LOG_ERROR;
	if (sx_parse_duration(sx_cf_arg(cf, 1), &p->period_ms) < 0 || p->period_ms == 0) {
		return sx_cf_err(cf, "invalid duration '%s'", sx_cf_arg(cf, 1));
	}
	if (strlen(sx_cf_arg(cf, 2)) > MAX_PATTERN) {
		return sx_cf_err(cf, "regex is too long (more than %d characters)", MAX_PATTERN);
	}
	if (regcomp(&p->re, sx_cf_arg(cf, 2), REG_EXTENDED | REG_NOSUB) != 0) {
		return sx_cf_err(cf, "invalid regex '%s'", sx_cf_arg(cf, 2));
	}
	p->compiled = true;
	p->source = strdup(sx_cf_arg(cf, 2));
	for (i = 3; i < n; i++) {
		const char *a = sx_cf_arg(cf, i);

		if (!strcmp(a, "show_first")) {
			p->show_first = true;
		} else if (i == 3 && parse_level(a, &p->level) == 0) {
			continue;
		} else {
			return sx_cf_err(cf, "unknown log level or option '%s'", a);
		}
	}
	return p->source ? 0 : sx_cf_err(cf, "out of memory");
}

static const struct sx_directive errors_directives[] = {
	SX_DIR_FLAG("stacktrace", struct errors, stacktrace),
	{ "consolidate", 2, 4, set_consolidate, .repeat = true },
	{ NULL },
};

static int
errors_setup(struct sx_cf *cf, void *inst)
{
	(void)inst;
	if (sx_cf_nargs(cf) > 1) {
		return sx_cf_err(cf, "unexpected argument '%s'", sx_cf_arg(cf, 1));
	}
	return 0;
}

static void
report(void *arg)
{
	struct pattern *p = arg;
	unsigned long n = uatomic_xchg(&p->count, 0);

	if (n > 0) {
		sx_plog(p->level, "errors", "%lu errors like '%s' occurred in last %gs", n,
		        p->source, (double)p->period_ms / 1000.0);
	}
}

static int
errors_start(void *inst, struct sx_runtime *rt)
{
	struct errors *e = inst;
	size_t i;

	for (i = 0; i < e->npatterns; i++) {
		struct pattern *p = &e->patterns[i];

		p->timer = sx_timer_new(report, p);
		if (!p->timer || sx_timer_every(p->timer, p->period_ms) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

static void
errors_teardown(void *inst)
{
	struct errors *e = inst;
	size_t i;

	for (i = 0; i < e->npatterns; i++) {
		sx_timer_free(e->patterns[i].timer);
		if (e->patterns[i].compiled) {
			regfree(&e->patterns[i].re);
		}
		free(e->patterns[i].source);
	}
	free(e->patterns);
}

const struct sx_plugin sx_plugin_errors = {
	.name = "errors",
	.inst_size = sizeof(struct errors),
	.directives = errors_directives,
	.setup = errors_setup,
	.start = errors_start,
	.handle = errors_handle,
	.teardown = errors_teardown,
};
