#!/bin/sh
# check-boundary.sh -- fail when a plugin (or a plugin's test) includes a header other than its
# own folder's, a public one (include/sextant/) or a system one other than libevent's (the core's
# loop: plugins reach it through <sextant/io.h>, time.h and http.h). The build gives plugins only
# include/ on their include path; this catches what a relative path could still reach.
set -eu
cd "$(dirname "$0")/../.."
# One line per include: FILE:LINE:#include "x" or <x>.
grep -rnE '^[[:space:]]*#[[:space:]]*include' --include='*.c' --include='*.h' plugins | awk '
{
	split($0, f, ":"); file = f[1]
	if (match($0, /"[^"]*"/)) {
		h = substr($0, RSTART + 1, RLENGTH - 2)
		# Resolve against the including file: plugins/NAME/[tests/]file.c
		n = split(file, parts, "/"); depth = n - 1
		path = ""; for (i = 1; i < n; i++) path = path parts[i] "/"
		m = split(h, hp, "/"); k = 0
		for (i = 1; i <= m; i++) {
			if (hp[i] == "..") { sub(/[^\/]*\/$/, "", path); continue }
			if (hp[i] != ".") path = path hp[i] (i < m ? "/" : "")
		}
		if (index(path, "plugins/" parts[2] "/") != 1) {
			print file ": #include \"" h "\" is outside plugins/" parts[2] "/"; bad = 1
		}
	} else if (match($0, /<[^>]*>/)) {
		h = substr($0, RSTART + 1, RLENGTH - 2)
		if (h ~ /\.\./) { print file ": #include <" h "> climbs out of the include path"; bad = 1 }
		else if (h ~ /^sextant\//) {
			if (system("test -f include/" h) != 0) {
				print file ": #include <" h "> is not a public header"; bad = 1
			}
		} else if (h ~ /^sx_/) { print file ": #include <" h "> is a generated core header"; bad = 1 }
		else if (h ~ /^event2?\// || h ~ /^evhttp|^evdns|^evutil|^event\.h$/) {
			print file ": #include <" h "> is libevent: plugins use <sextant/io.h>, time.h, http.h"
			bad = 1
		}
	}
}
END { exit bad }' && echo "ok: plugins include only their own, public and system headers, and no libevent"
