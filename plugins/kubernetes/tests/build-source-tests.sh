#!/bin/sh
# build-source-tests.sh -- build and run the kubernetes source tests (yaml,
# kubeconfig, watch, manifests) without meson, until the plugin's meson.build
# lists the source files. Usage: build-source-tests.sh [BUILDDIR] [TEST...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
k8s=$(dirname "$here")
root=$(cd "$k8s/../.." && pwd)
out=${1:-/tmp/build-k8s-src}
[ $# -gt 0 ] && shift
tests=${*:-yaml kubeconfig watch manifests}
mkdir -p "$out"

# Stand-ins for the core's log.c/error.c and meson's sx_version.h.
cat >"$out/sx_version.h" <<'H'
#define SX_VERSION "0.1.0"
H
cat >"$out/core_stubs.c" <<'C'
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sextant/error.h>
#include <sextant/log.h>
static const char *const lv[] = { "DEBUG", "INFO", "WARNING", "ERROR", "FATAL" };
void sx_vlog(enum sx_log_level level, const char *fmt, va_list ap)
{
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "[%s] ", lv[level]);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	if (n > (int)sizeof(buf) - 2) n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(1, buf, (size_t)n);
}
void sx_log(enum sx_log_level level, const char *fmt, ...)
{ va_list ap; va_start(ap, fmt); sx_vlog(level, fmt, ap); va_end(ap); }
void sx_plog(enum sx_log_level level, const char *plugin, const char *fmt, ...)
{
	char m[3072]; va_list ap;
	va_start(ap, fmt); vsnprintf(m, sizeof(m), fmt, ap); va_end(ap);
	sx_log(level, "plugin/%s: %s", plugin, m);
}
const char *sx_strerror(int err) { return err < 0 && err > -1000 ? strerror(-err) : "error"; }
C

src=""
for f in yaml2json kubeconfig apiclient watch manifests source; do src="$src $k8s/$f.c"; done
flags="-std=gnu11 -g -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Wundef -Wmissing-prototypes
 -Wstrict-prototypes -Wno-missing-field-initializers -Wno-unused-parameter -Wpointer-arith
 -Wformat=2 -Wvla -fsanitize=address,undefined -fno-omit-frame-pointer"
deps=$(pkg-config --cflags --libs libevent_core libcurl jansson yaml-0.1 criterion)
# An archive, as meson's core library is: a test pulls in only what it uses.
objs=""
for f in $src; do
	[ -f "$f" ] || continue
	o="$out/$(basename "$f" .c).o"
	# shellcheck disable=SC2086
	gcc $flags -I"$root/include" -I"$root/src" -I"$k8s" -I"$out" \
		$(pkg-config --cflags libevent_core libcurl jansson yaml-0.1) -c -o "$o" "$f"
	objs="$objs $o"
done
gcc $flags -I"$root/include" -c -o "$out/core_stubs.o" "$out/core_stubs.c"
rm -f "$out/libk8ssrc.a"
# shellcheck disable=SC2086
ar rcs "$out/libk8ssrc.a" $objs "$out/core_stubs.o"
for t in $tests; do
	# shellcheck disable=SC2086
	gcc $flags -I"$root/include" -I"$root/src" -I"$k8s" -I"$out" -o "$out/test_k8s_$t" \
		"$here/test_k8s_$t.c" "$out/libk8ssrc.a" $deps
done
[ -n "${NORUN:-}" ] && exit 0
rc=0
for t in $tests; do
	echo "== test_k8s_$t"
	# A leak report does not fail a criterion test by itself.
	SX_SOURCE_ROOT="$root" "$out/test_k8s_$t" ${CRITERION_ARGS:-} 2>&1 \
		| tee "$out/test_k8s_$t.log" || rc=1
	grep -q "Synthesis:.*Failing: 0 | Crashing: 0" "$out/test_k8s_$t.log" || rc=1
	if grep -q "Sanitizer" "$out/test_k8s_$t.log"; then rc=1; fi
done
exit $rc
