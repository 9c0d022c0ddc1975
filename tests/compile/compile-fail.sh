#!/bin/sh
# compile-fail.sh -- check that the compiler refuses what must not build (TAP).
#   compile-fail.sh SOURCE INCLUDE_DIR C_STD COMPILER...
# SOURCE must compile as it is, and fail with SX_FIELD's message for each "#if/#elif
# MISMATCH == N /* what */" case it holds: the control shows a refusal is the type check's,
# not a broken include or flag.
set -u
src=$1 inc=$2 std=$3
shift 3
cases=$(grep -cE '^#(el)?if MISMATCH == [0-9]+' "$src")
echo "1..$((cases + 1))"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cc_check() {
	# The warnings meson.build gives every file.
	"$@" "-std=$std" -Wall -Wextra -Werror -Wno-missing-field-initializers \
		-Wno-unused-parameter -D_GNU_SOURCE -fsyntax-only -I "$inc" "$src" >"$out" 2>&1
}
if cc_check "$@"; then
	echo "ok 1 - the rows whose fields match their setters compile"
else
	echo "not ok 1 - the rows whose fields match their setters compile"
	grep error "$out" | sed 's/^/# /'
fi
grep -E '^#(el)?if MISMATCH == [0-9]+' "$src" | while read -r _ _ _ n what; do
	what=$(echo "$what" | sed 's|^/\* *||; s| *\*/$||')
	if cc_check "$@" "-DMISMATCH=$n"; then
		echo "not ok $((n + 1)) - compiled: $what"
	elif grep -q 'is not of the type its setter writes' "$out"; then
		echo "ok $((n + 1)) - refused: $what"
	else
		echo "not ok $((n + 1)) - refused for another reason: $what"
		grep error "$out" | sed 's/^/# /'
	fi
done
