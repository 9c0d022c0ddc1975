#!/bin/bash
# cluster.sh -- run a command against a one-node Kubernetes 1.20 cluster, then leave no trace.
#
#   tests/k8s-cluster/cluster.sh CMD...
#
# Builds (or reuses, from $SX_KUBE_CACHE) the six Kubernetes binaries in one go, makes the
# images (Sextant's from $SEXTANT_BIN), notes the machine's state, runs node.sh in new PID,
# mount and network namespaces with CMD inside, then checks the machine is as it was. CMD's
# standard output is passed through as TAP lines ("ok - ..."/"not ok - ..."); this script adds
# the state check and the plan. Needs root (CI runs as root). Exit status: CMD's, or 1 when
# the machine was left changed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=${SX_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}
sextant=${SEXTANT_BIN:-$src/build/sextant}

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP a cluster needs root (namespaces, cgroups, containerd)"
	exit 0
fi
if [ $# -eq 0 ]; then
	sed -n '3,3s/^# \{0,1\}//p' "$0" >&2
	exit 2
fi
t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# Debian packages the node needs (./dev deps installs them; build-kube.sh its own toolchain).
need=""
for p in containerd runc containernetworking-plugins iptables conntrack busybox-static \
	libcap2-bin knot; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
	echo "not ok - Debian packages missing:$need (./dev deps installs them)"
	echo "1..1"
	exit 1
fi
bin=$("$src/tests/k8s-real/build-kube.sh" kube-apiserver kube-controller-manager kubelet \
	kube-proxy kube-scheduler kubectl) || {
	echo "not ok - building the Kubernetes binaries"
	exit 1
}
t_bin=$(elapsed)

# A run killed outright (meson's timeout ends in SIGKILL for the whole process group) loses its
# namespaces, and with them every process, mount, link and rule, but leaves its emptied cgroup
# tree, its work directory and etcd's data on /dev/shm (apiserver.sh's etcd/shm names it).
# Those of runs whose cluster.sh is gone are removed before this run notes the machine's state.
for d in /sys/fs/cgroup/*/sx-cluster-*; do
	[ -d "$d" ] && ! kill -0 "${d##*-}" 2>/dev/null || continue
	find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
done
for w in /tmp/sx-cluster-*; do
	[ -f "$w/owner" ] && ! kill -0 "$(cat "$w/owner")" 2>/dev/null || continue
	[ ! -f "$w/control-plane/etcd/shm" ] || rm -rf "$(cat "$w/control-plane/etcd/shm")"
	rm -rf "$w"
done

work=$(mktemp -d /tmp/sx-cluster-XXXXXX)
echo $$ >"$work/owner"
keep=${SX_CLUSTER_KEEP:-}
"$here/images.sh" "$sextant" "$work/images" >"$work/images.log" 2>&1 || {
	echo "not ok - building the images"
	cat "$work/images.log" >&2
	rm -rf "$work"
	exit 1
}
t_img=$(elapsed)
echo "# fixture: binaries ready after ${t_bin} s, images after ${t_img} s" >&2

# The one thing shared with the machine: the kubelet's cgroup tree, named after this process.
export SX_CGROOT=sx-cluster-$$
"$here/state.sh" "$work" >"$work/state.before"
# --kill-child: if this script is killed, the namespace's first process goes too, and the
# kernel kills everything else in the PID namespace with it.
unshare --pid --fork --kill-child --mount-proc --mount --propagation private --net \
	"$here/node.sh" "$work" "$bin" "$work/images" "$@" | tee "$work/tap.out"
rc=${PIPESTATUS[0]}
# node.sh removes it; if it was killed first, every process in it is gone now (PID namespace).
for _ in $(seq 50); do
	left=$(ls -d /sys/fs/cgroup/*/"$SX_CGROOT" 2>/dev/null) || break
	find $left -depth -type d -exec rmdir {} + 2>/dev/null
	sleep 0.1
done
"$here/state.sh" "$work" >"$work/state.after"
n=$(grep -cE '^(not )?ok ' "$work/tap.out")
if diff -u "$work/state.before" "$work/state.after" >"$work/state.diff"; then
	echo "ok - the machine is left as found (firewall, links, routes, conntrack, sysctls, mounts, cgroups, paths, processes)"
else
	echo "not ok - the machine is left as found"
	sed 's/^/# /' "$work/state.diff"
	rc=1
fi
echo "1..$((n + 1))"
echo "# fixture: total $(elapsed) s" >&2
if [ "$rc" != 0 ] || [ -n "$keep" ]; then
	for f in "$work"/logs/*.log "$work"/control-plane/*/log; do
		[ -f "$f" ] || continue
		echo "--- ${f#"$work"/} (last 30 lines)"
		tail -n 30 "$f"
	done >&2
fi
if [ -n "$keep" ]; then
	echo "# kept $work" >&2
else
	rm -rf "$work"
fi
exit "$rc"
