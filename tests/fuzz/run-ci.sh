#!/bin/sh
# run-ci.sh -- build the libFuzzer targets (clang, ASan+UBSan) and run each one for a while on
# a copy of its seed corpus; any crash, leak, hang or sanitizer report fails. .ci/run calls it.
#   tests/fuzz/run-ci.sh [SECONDS_PER_TARGET]   (default 30; build dir: build-fuzz)
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-30}
[ -f build-fuzz/build.ninja ] ||
	CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined \
		-Db_lundef=false
ninja -C build-fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1
failed=""
for t in wire query forward corefile k8s_json yaml; do
	mkdir "$work/$t"
	# Crash files land in the work directory, printed below when a target fails.
	if (cd "$work" && "$OLDPWD/build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$secs" \
		-max_len=4096 -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 "$t" \
		"$OLDPWD/tests/fuzz/fuzz_$t" >"$work/$t.log" 2>&1); then
		echo "ok: fuzz_$t $(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/$t.log")"
	else
		echo "FAIL: fuzz_$t"
		tail -n 60 "$work/$t.log"
		failed="$failed $t"
	fi
done
[ -z "$failed" ] || { echo "fuzz targets failed:$failed"; exit 1; }
