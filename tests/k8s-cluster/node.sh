#!/bin/bash
# node.sh -- one Kubernetes node, run as PID 1 of private PID, mount and network namespaces.
#
#   node.sh WORK BIN IMAGES CMD...     (cluster.sh runs it through unshare; not by hand)
#
# Starts a resolver, etcd and the control plane (tests/k8s-real/apiserver.sh, the k8s-real
# suite's fixture, reachable on the node address), the scheduler, containerd, the kubelet and
# kube-proxy, waits for the node to be Ready, runs CMD with KUBECONFIG (admin) and the SX_* variables below exported,
# then stops everything by PID and exits with CMD's status. Nothing leaves the namespaces:
#   network  an interface sx0 carries the node address and the resolver's address; the
#            cni0 bridge, veths, iptables rules, conntrack entries and net.* sysctls all live in
#            this namespace and go with it;
#   mounts   /run is a tmpfs, /var an overlay whose upper layer is WORK/var (pod logs, CNI
#            state), /etc/resolv.conf names the resolver, and the kubelet's global kernel tunables (vm.overcommit_memory,
#            kernel.panic, ...) are files bind-mounted over /proc/sys, so the kubelet reads and
#            "sets" them without touching the machine's;
#   PIDs     every process here is ours: the final sweep kills what is left by PID, and if this
#            script dies the kernel kills the namespace.
# Only cgroups are shared with the machine: the kubelet gets --cgroup-root=/CGROOT
# (SX_CGROOT) and the teardown removes that tree from every hierarchy.
set -u

work=$1 bin=$2 images=$3
shift 3
src=$(cd "$(dirname "$0")/../.." && pwd)
# The node's own addresses (the benchmarking range, inside this network namespace only).
export SX_NODE_IP=198.18.0.10 SX_RESOLVER_IP=198.18.0.53 SX_NODE_NAME=node1
export SX_WORK=$work SX_KUBE_BIN=$bin SX_CGROOT=${SX_CGROOT:?set by cluster.sh}
# The control plane's directory (apiserver.sh start): its CA, keys and admin kubeconfig.
cp=$work/control-plane
export PATH=$bin:$PATH KUBECONFIG=$cp/admin.kubeconfig TMPDIR=$work/tmp
logs=$work/logs
mkdir -p "$logs" "$work/pids" "$work/tmp"

# Seconds since T (kernel uptime), for the fixture's figures.
uptime_now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(uptime_now)" 'BEGIN { printf "%.1f", b - a }'; }
t_node=$(uptime_now)
log() { printf '%s node: %s\n' "$(date +%T)" "$*" >&2; }
die() {
	log "$*"
	teardown
	exit 1
}

# start NAME CMD...: run in the background, output to logs/NAME.log, PID to pids/NAME.
started=()
start() {
	local name=$1
	shift
	"$@" >"$logs/$name.log" 2>&1 &
	echo $! >"$work/pids/$name"
	started+=("$name")
}

# wait_for SECONDS WHAT CMD...: poll CMD (0.2 s apart) until it succeeds.
wait_for() {
	local end=$((SECONDS + $1)) what=$2
	shift 2
	while ! "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || die "timed out waiting for $what"
		sleep 0.2
	done
}

# stop NAME: SIGTERM, then SIGKILL after 10 s; the control plane through apiserver.sh stop.
stop() {
	local pid
	if [ "$1" = control-plane ]; then
		"$src/tests/k8s-real/apiserver.sh" stop "$cp" 2>>"$logs/control-plane.log"
		return
	fi
	pid=$(cat "$work/pids/$1" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$work/pids/$1"
}

cgroup_dirs() {
	local h
	for h in /sys/fs/cgroup/*/; do
		[ -d "$h$SX_CGROOT" ] && echo "$h$SX_CGROOT"
	done
}

# alive PID: PID exists and is not a zombie (orphans' zombies are this PID 1's to reap; the
# kernel does when it exits).
alive() {
	local key val
	while read -r key val _; do
		[ "$key" = State: ] && { [ "$val" != Z ]; return; }
	done 2>/dev/null <"/proc/$1/status"
	return 1
}

torndown=false
teardown() {
	local i pid left
	$torndown && return
	torndown=true
	log "stopping"
	for ((i = ${#started[@]} - 1; i >= 0; i--)); do
		[ "${started[i]}" = containerd ] && break
		stop "${started[i]}"
	done
	# Containers, then their shims and containerd, then the control plane: every process
	# left in this PID namespace but this script is ours.
	for pid in $(cat $(find $(cgroup_dirs) -name cgroup.procs 2>/dev/null) 2>/dev/null); do
		kill -KILL "$pid" 2>/dev/null
	done
	for ((; i >= 0; i--)); do
		stop "${started[i]}"
	done
	for _ in $(seq 50); do
		left=""
		for d in /proc/[0-9]*; do
			pid=${d#/proc/}
			[ "$pid" != $$ ] && alive "$pid" && left="$left $pid"
		done
		[ -z "$left" ] && break
		kill -KILL $left 2>/dev/null
		sleep 0.1
	done
	[ -z "$left" ] || log "processes still alive:$left"
	# Deepest first; a cgroup whose last task just exited may refuse rmdir for a moment.
	for _ in $(seq 50); do
		find $(cgroup_dirs) -depth -type d -exec rmdir {} + 2>/dev/null
		[ -z "$(cgroup_dirs)" ] && break
		sleep 0.1
	done
	[ -z "$(cgroup_dirs)" ] || log "cgroups left: $(cgroup_dirs | tr '\n' ' ')"
}
trap 'die "signalled"' TERM INT HUP

# --- namespaces: network and mounts -------------------------------------------------------
ip link set lo up
# The node's interface: one end of a veth pair whose other end stays here too (these kernels
# have no dummy driver; an address is local either way).
ip link add sx0 type veth peer name sx0-peer
ip link set sx0-peer up
ip addr add "$SX_NODE_IP/24" dev sx0
ip addr add "$SX_RESOLVER_IP/32" dev sx0
ip link set sx0 up
ip route add default dev sx0 # components that look for "the" interface find sx0

mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p "$work/var" "$work/var.work"
mount -t overlay overlay -o "lowerdir=/var,upperdir=$work/var,workdir=$work/var.work" /var
mkdir -p "$work/sysctl"
for s in vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops \
	kernel/keys/root_maxkeys kernel/keys/root_maxbytes; do
	f=$work/sysctl/${s//\//.}
	cat "/proc/sys/$s" >"$f"
	mount --bind "$f" "/proc/sys/$s"
done

# --- cgroups: one tree of ours in every hierarchy -----------------------------------------
for h in /sys/fs/cgroup/*/; do
	case $(stat -f -c %T "$h") in
	cgroupfs | cgroup2fs) mkdir -p "$h$SX_CGROOT" || die "cannot create $h$SX_CGROOT" ;;
	esac
done
# cpuset: a new v1 cgroup starts with no CPUs and no memory nodes.
if [ -d "/sys/fs/cgroup/cpuset/$SX_CGROOT" ]; then
	cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$SX_CGROOT/cpuset.cpus"
	cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$SX_CGROOT/cpuset.mems"
fi

# --- the node's resolver: what pods with dnsPolicy Default (Sextant) forward to ---------------
mkdir -p "$work/knot"
cat >"$work/knot/example.test.zone" <<'EOF'
$ORIGIN example.test.
$TTL 300
@    SOA ns.example.test. admin.example.test. 1 3600 600 86400 300
@    NS  ns.example.test.
ns   A   198.18.0.53
www  A   198.51.100.7
EOF
cat >"$work/knot/knot.conf" <<EOF
server:
    rundir: "$work/knot"
    listen: $SX_RESOLVER_IP@53
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "$work/knot"
log:
  - target: stderr
    any: info
zone:
  - domain: example.test
    file: "$work/knot/example.test.zone"
    journal-content: none
    zonefile-sync: -1
EOF
printf 'nameserver %s\n' "$SX_RESOLVER_IP" >"$work/node-resolv.conf"
# The node's own lookups (and the kubelet's --resolv-conf) go to it, never to the machine's.
mount --bind "$work/node-resolv.conf" /etc/resolv.conf
start knotd /usr/sbin/knotd -c "$work/knot/knot.conf"

# --- etcd and the control plane: the k8s-real suite's fixture -------------------------------
# apiserver.sh makes the CA and the service-account keys, starts etcd, the API server and the
# controller manager, and writes the admin kubeconfig. For a node: the API server listens on
# every address and advertises the node's, so the kubernetes Service (10.96.0.1, in its serving
# certificate) has an endpoint pods reach; the lease reconciler keeps that endpoint; the kubelet
# is reached by its InternalIP; NodeRestriction limits what the kubelet may change. The
# controller manager runs every controller, the token controller with the signing key and CA.
log "control plane"
export SX_KUBE_BIN=$bin SX_K8S_CONTROLLERS='*'
export SX_K8S_APISERVER_ARGS="--bind-address 0.0.0.0 --advertise-address $SX_NODE_IP \
--endpoint-reconciler-type lease --kubelet-preferred-address-types InternalIP \
--enable-admission-plugins NodeRestriction"
export SX_K8S_CM_ARGS="--service-account-private-key-file $cp/pki/sa.key \
--root-ca-file $cp/pki/ca.crt --use-service-account-credentials=true \
--flex-volume-plugin-dir $work/flexvolume --profiling=false"
started+=(control-plane)
"$src/tests/k8s-real/apiserver.sh" start "$cp" 2>"$logs/control-plane.log" ||
	die "the control plane did not start"
# shellcheck disable=SC1091 # written by apiserver.sh start
. "$cp/env"
# The node's components authenticate with client certificates from the fixture's CA, as
# kubeadm's do: the kubelet as system:node:NAME in system:nodes, kube-proxy and the scheduler
# as the users their bootstrap roles are bound to.
kubeconfig() { # NAME CN [O]
	(
		cd "$cp/pki" || exit 1
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" &&
			openssl req -new -key "$1.key" -subj "/CN=$2${3:+/O=$3}" -out "$1.csr" &&
			openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
				-out "$1.crt"
	) >/dev/null 2>&1 || die "cannot make $1's certificate"
	cat >"$work/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sx
  cluster:
    server: $K8S_URL
    certificate-authority: $K8S_CA
users:
- name: $1
  user:
    client-certificate: $cp/pki/$1.crt
    client-key: $cp/pki/$1.key
contexts:
- name: sx
  context: {cluster: sx, user: $1}
current-context: sx
EOF
}
kubeconfig kubelet "system:node:$SX_NODE_NAME" system:nodes
kubeconfig kube-proxy system:kube-proxy
kubeconfig scheduler system:kube-scheduler
# The fixture authorizes with RBAC alone (no Node authorizer): nodes get the system:node role,
# as before Kubernetes 1.8; NodeRestriction still confines each kubelet to its own objects.
kubectl create clusterrolebinding sx-nodes --clusterrole=system:node --group=system:nodes \
	>/dev/null || die "cannot bind system:node"
start kube-scheduler kube-scheduler --kubeconfig="$work/scheduler.kubeconfig" \
	--leader-elect=false --port=0 --secure-port=0 --profiling=false

# --- containerd, the images, the kubelet, kube-proxy ----------------------------------------
log "node"
mkdir -p "$work/cni"
cat >"$work/cni/10-sx.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "sx-pods", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "hairpinMode": true, "ipMasq": false,
   "ipam": {"type": "host-local", "dataDir": "$work/cni-ipam",
            "ranges": [[{"subnet": "10.244.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOF
ctrd=$work/containerd
mkdir -p "$ctrd"
# restrict_oom_score_adj: without CAP_SYS_RESOURCE runc cannot lower oom_score_adj, and every
# sandbox would fail. Unprivileged ports stay privileged: Sextant binds :53 by its file
# capability, as on any cluster.
cat >"$ctrd/config.toml" <<EOF
version = 2
root = "$ctrd/root"
state = "$ctrd/state"
temp = "$work/tmp"
[grpc]
  address = "$ctrd/containerd.sock"
[ttrpc]
  address = "$ctrd/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/sx-pause:1"
  restrict_oom_score_adj = true
  enable_unprivileged_ports = false
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "10010"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$work/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.internal.v1.opt"]
  path = "$ctrd/opt"
EOF
start containerd containerd --config "$ctrd/config.toml"
ctr() { command ctr --address "$ctrd/containerd.sock" -n k8s.io "$@"; }
wait_for 30 "containerd" ctr version
for t in "$images"/*.tar; do
	ctr images import "$t" >>"$logs/images.log" 2>&1 || die "cannot import $t"
done

start kubelet kubelet --kubeconfig="$work/kubelet.kubeconfig" \
	--hostname-override="$SX_NODE_NAME" --node-ip="$SX_NODE_IP" \
	--container-runtime=remote --container-runtime-endpoint="unix://$ctrd/containerd.sock" \
	--pod-infra-container-image=localhost/sx-pause:1 --root-dir="$work/kubelet" \
	--cert-dir="$work/kubelet/pki" --volume-plugin-dir="$work/kubelet/volume-plugins" \
	--cgroup-driver=cgroupfs --cgroup-root="/$SX_CGROOT" --fail-swap-on=false \
	--oom-score-adj=0 --cluster-dns=10.96.0.10 --cluster-domain=cluster.local \
	--resolv-conf="$work/node-resolv.conf" --sync-frequency=10s --read-only-port=0 \
	--image-gc-high-threshold=100 --image-gc-low-threshold=99 \
	--eviction-hard='memory.available<1Mi' --serialize-image-pulls=false
start kube-proxy kube-proxy --kubeconfig="$work/kube-proxy.kubeconfig" \
	--hostname-override="$SX_NODE_NAME" --proxy-mode=iptables --cluster-cidr=10.244.0.0/16 \
	--conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 \
	--conntrack-tcp-timeout-close-wait=0 --oom-score-adj=0 \
	--metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256
wait_for 120 "the node to be Ready" \
	kubectl wait --for=condition=Ready "node/$SX_NODE_NAME" --timeout=1s
wait_for 60 "the default ServiceAccount" kubectl -n default get serviceaccount default
log "ready"
echo "# figure: fixture: node Ready $(since "$t_node") s after its namespaces were made (resolver, control plane, containerd and the images, kubelet, kube-proxy)"

"$@" &
cmd=$!
wait $cmd
rc=$?
t_down=$(uptime_now)
teardown
echo "# figure: fixture: teardown $(since "$t_down") s (every process stopped by PID, cgroups removed)"
exit $rc
