#!/bin/sh
# run.sh -- run one k8s-real test program against its own control plane (apiserver.sh).
#
#   tests/k8s-real/run.sh PROGRAM [ARGS...]
#
# Builds the Kubernetes binaries first if they are not cached (build-kube.sh: minutes when
# cold), starts etcd, the API server(s) and the controller manager in a fresh directory,
# runs PROGRAM with SX_K8S_DIR pointing there (its stdout, TAP, is this script's), then stops
# them all, whatever happened. SX_K8S_* settings of apiserver.sh pass through; so does
# SX_K8S_KEEP=1, which keeps the directory (logs, audit logs) for a look afterwards.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || {
	sed -n '2,4s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
SX_KUBE_BIN=${SX_KUBE_BIN:-$("$here/build-kube.sh" kube-apiserver kube-controller-manager)}
export SX_KUBE_BIN
dir=$(mktemp -d /tmp/sx-k8s-real.XXXXXX)
rc=0
# A process of the control plane left running fails the run: nothing may outlive a test.
cleanup() {
	st=$?
	[ "$rc" -ne 0 ] || rc=$st
	"$here/apiserver.sh" stop "$dir" || rc=1
	if [ "${SX_K8S_KEEP:-}" = 1 ]; then
		echo "run.sh: kept $dir" >&2
	else
		rm -rf "$dir"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'rc=1; exit 1' INT TERM
"$here/apiserver.sh" start "$dir"
SX_K8S_DIR=$dir "$@" || rc=$?
