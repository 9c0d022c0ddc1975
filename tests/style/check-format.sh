#!/bin/sh
# check-format.sh -- fail when a C source or header differs from what .clang-format makes of it.
# Fix with: clang-format -i $(git ls-files '*.c' '*.h')
set -eu
cd "$(dirname "$0")/../.."
if git rev-parse --git-dir >/dev/null 2>&1; then
	files=$(git ls-files '*.c' '*.h')
else
	files=$(find src include plugins tests -name '*.[ch]')
fi
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
echo "ok: $(echo "$files" | wc -l) files formatted as .clang-format says"
