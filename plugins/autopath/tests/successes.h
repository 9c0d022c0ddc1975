/* successes.h -- the autopath tests' reading of coredns_autopath_success_total. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

/* The server's coredns_autopath_success_total{server="dns://:PORT"}, or -1 when absent. */
static inline double
successes(struct sx_test_server *s)
{
	long status;
	char want[128], *m, *at;
	double v = -1;

	m = sx_test_http_get((uint16_t)sx_test_log_number(s, "serving /metrics on port "),
	                     "/metrics", &status);
	cr_assert(m);
	snprintf(want, sizeof(want), "coredns_autopath_success_total{server=\"dns://:%u\"} ",
	         sx_test_port(s));
	at = strstr(m, want);
	cr_expect(at, "want %s in\n%s", want, m);
	if (at) {
		v = strtod(at + strlen(want), NULL);
	}
	free(m);
	return v;
}
