#!/bin/sh
# check-directives.sh -- fail when a plugin's option table gives a row its field with a bare
# offsetof(): rows name fields through SX_FIELD() or an SX_DIR_* macro (<sextant/plugin.h>),
# which refuse to compile when the field's type is not the one the setter writes.
set -eu
cd "$(dirname "$0")/../.."
find plugins -name '*.c' | sort | xargs awk '
/struct sx_directive [A-Za-z0-9_]+\[\] = \{/ { rows = 1 }
rows && /offsetof\(/ { print FILENAME ":" FNR ": a bare offsetof() in a directive row: use SX_FIELD() or SX_DIR_*"; bad = 1 }
rows && /^};/ { rows = 0 }
END { exit bad }' && echo "ok: directive rows name their fields through SX_FIELD() or SX_DIR_*"
