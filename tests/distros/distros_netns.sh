#!/bin/bash
# distros_netns.sh -- every distribution's default Corefile, unchanged, checked and then served.
#
# First `sextant -check` on each file in tests/distros/*/Corefile. Then, inside `unshare -n -m -u`
# (a loopback of our own: ports 53, 5353, 8080, 8181, 9153 and 9253 are ours, nothing leaves the
# machine) each Corefile is served in turn, byte for byte, in the world it was written for:
# /etc is an overlay of this namespace only, /etc/resolv.conf names a loopback upstream (knotd
# serving example.test), /etc/coredns holds the ConfigMap's keys (Corefile, NodeHosts, an empty
# custom/), 169.254.20.10 and 10.96.0.10/11 are on the loopback for NodeLocal DNSCache, and the
# kubernetes plugin finds the fake API server through the in-cluster service account. Each
# answers one cluster name, one outside name and its special blocks.
#
# Distributions whose Corefile needs a plugin Sextant does not have yet are reported as TAP
# SKIPs naming the plugin (none today). Needs root (CI runs as root).
set -u
src=${SX_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${SEXTANT_BIN:-$src/build/sextant}
distros=$src/tests/distros

if [ "$(id -u)" != 0 ]; then
	echo "1..1"
	echo "ok 1 - distros_netns # SKIP needs root (unshare -n -m -u, mounts)"
	exit 0
fi
work=$(mktemp -d /tmp/sx-distros-XXXXXX)
trap 'rm -rf "$work"' EXIT

# Plugins a distribution needs that this build may lack: "distro:plugin ...".
needs=""
compiled=$("$bin" -plugins)

"$src/tests/fakeapi/gen-certs.sh" "$work/certs" >/dev/null 2>&1 || { echo "Bail out! gen-certs"; exit 1; }
echo "sa-token-$$" >"$work/token"
cat >"$work/example.test.zone" <<'ZONE'
$ORIGIN example.test.
$TTL 300
@    SOA ns.example.test. admin.example.test. 1 3600 600 86400 300
@    NS  ns.example.test.
ns   A   127.0.0.53
www  A   198.51.100.7
ZONE
for i in $(seq 40); do echo "big  A   10.1.0.$i"; done >>"$work/example.test.zone"
cat >"$work/rev.zone" <<'ZONE'
$ORIGIN 100.51.198.in-addr.arpa.
$TTL 300
@    SOA ns.example.test. admin.example.test. 1 3600 600 86400 300
@    NS  ns.example.test.
7    PTR www.example.test.
ZONE
cat >"$work/knot.conf" <<EOF2
server:
    rundir: "$work"
    listen: 127.0.0.53@53
    tcp-reuseport: on
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "$work"
log:
  - target: stderr
    any: warning
zone:
  - domain: example.test
    file: "$work/example.test.zone"
    journal-content: none
    zonefile-sync: -1
  - domain: 100.51.198.in-addr.arpa
    file: "$work/rev.zone"
    journal-content: none
    zonefile-sync: -1
EOF2
printf 'nameserver 127.0.0.53\n' >"$work/resolv.upstream"
# The cluster DNS behind NodeLocal DNSCache (the kube-dns-upstream Service, 10.96.0.11): a helper,
# not a fixture.
cat >"$work/cluster-dns.Corefile" <<'EOF2'
.:53 {
    bind 10.96.0.11
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
}
EOF2

export work src bin distros needs compiled
exec unshare -n -m -u --propagation private /bin/bash -s <<'INNER'
set -u
n=0 fail=0
check() { # check NAME COMMAND...: one TAP line
	local name=$1; shift
	n=$((n + 1))
	echo "# $name" >>"$work/checks.log"
	if "$@" >>"$work/checks.log" 2>&1; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"; fail=$((fail + 1))
	fi
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
has() { grep -q -- "$2" <<<"$1" || { printf 'wanted: %s\nin: %s\n' "$2" "$1"; false; }; }
hasre() { grep -Eq -- "$2" <<<"$1" || { printf 'wanted: %s\nin: %s\n' "$2" "$1"; false; }; }
missing() {
	local x m=""
	for x in $needs; do
		[ "${x%%:*}" = "$1" ] || continue
		grep -q "^  dns\.${x#*:}\$" <<<"$compiled" || m="$m ${x#*:}"
	done
	echo "${m# }"
}
# waitfor SECONDS COMMAND...: poll until COMMAND succeeds (an answer, a status), up to SECONDS.
waitfor() {
	local t=$(($1 * 10)); shift
	while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; t=$((t - 1)); done
	return 1
}
http_is() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$2")" = "$1" ]; }

ip link set lo up
for a in 169.254.20.10 10.96.0.10 10.96.0.11; do ip addr add $a/32 dev lo; done
hostname dns-default-x7k2p
mkdir "$work/ov" && mount -t tmpfs tmpfs "$work/ov"
mkdir "$work/ov/upper" "$work/ov/wk"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$work/ov/upper,workdir=$work/ov/wk" /etc
cp "$work/resolv.upstream" /etc/resolv.conf
mount -t tmpfs tmpfs /run
sa=/var/run/secrets/kubernetes.io/serviceaccount
mkdir -p "$sa"
cp "$work/token" "$sa/token"
cp "$work/certs/ca.crt" "$sa/ca.crt"
echo kube-system >"$sa/namespace"

/usr/sbin/knotd -c "$work/knot.conf" 2>"$work/knotd.log" &
knot=$!
/usr/bin/python3 "$src/tests/fakeapi/fakeapi.py" --tls-cert "$work/certs/server.crt" \
	--tls-key "$work/certs/server.key" --token-file "$sa/token" \
	--load "$src/tests/fakeapi/data/basic.json" --port-file "$work/api.port" \
	>"$work/fakeapi.log" 2>&1 &
api=$!
sx=
trap 'kill $sx $api $knot 2>/dev/null; wait 2>/dev/null' EXIT
waitfor 20 test -s "$work/api.port" || { echo "Bail out! fakeapi did not start"; exit 1; }
export KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$(cat "$work/api.port")
waitfor 10 dig @127.0.0.53 +time=1 +tries=1 +short www.example.test A ||
	{ echo "Bail out! knotd did not start"; exit 1; }

# Outside the served set: -check on every Corefile, as an operator would before switching.
for d in "$distros"/*/; do
	name=$(basename "$d")
	m=$(missing "$name")
	if [ -n "$m" ]; then
		skip "$name: sextant -check" "needs plugin(s) $m"
		continue
	fi
	check "$name: sextant -check accepts the Corefile" \
		bash -c "cd '$d' && '$bin' -check -conf Corefile"
done

# start DISTRO [FILE]: /etc/coredns becomes the distribution's ConfigMap, Sextant reads it.
start() {
	rm -rf /etc/coredns
	mkdir -p /etc/coredns/custom
	cp "$distros/$1"/* /etc/coredns/
	"$bin" -conf /etc/coredns/${2:-Corefile} >"$work/$1.log" 2>&1 &
	sx=$!
}
# stop DISTRO: SIGTERM (its lameduck included), exit status 0, no sanitizer report.
stop() {
	kill -TERM $sx
	check "$1: SIGTERM ends it with status 0" wait $sx
	check "$1: no sanitizer report" bash -c "! grep -q 'Sanitizer' '$work/$1.log'"
	sx=
}
q() { dig +time=2 +tries=1 "$@"; }
# cluster_and_outside DISTRO SERVER PORT TTL: the two names every distribution answers.
cluster_and_outside() {
	local out
	out=$(q @$2 -p $3 kubernetes.default.svc.cluster.local A)
	check "$1: cluster name kubernetes.default.svc.cluster.local" \
		hasre "$out" "svc[.]cluster[.]local[.][[:space:]]+$4[[:space:]]+IN[[:space:]]+A[[:space:]]+10[.]96[.]0[.]1\$"
	out=$(q @$2 -p $3 +short www.example.test A)
	check "$1: outside name through /etc/resolv.conf" has "$out" '^198.51.100.7$'
}
ready() { # ready DISTRO [ADDR]: /ready answers 200 within 20 s
	check "$1: /ready says OK" waitfor 20 http_is 200 "http://${2:-127.0.0.1:8181}/ready"
}

# kubeadm, kube-up, the deployment script, Helm, EKS, RKE2: one .:53 block each.
for d in kubeadm kube-up coredns-deployment helm eks rke2; do
	start $d
	ready $d
	case $d in
	kubeadm | kube-up | helm | rke2) ttl=30 ;;
	*) ttl=5 ;;
	esac
	cluster_and_outside $d 127.0.0.1 53 $ttl
	out=$(q @127.0.0.1 +short 1-2-3-4.default.pod.cluster.local A)
	if [ $d = coredns-deployment ]; then
		check "$d: no 'pods insecure': pod names are NXDOMAIN" \
			bash -c "dig @127.0.0.1 +time=2 +tries=1 1-2-3-4.default.pod.cluster.local A | grep -q 'status: NXDOMAIN'"
	else
		check "$d: pods insecure: 1-2-3-4.default.pod.cluster.local" has "$out" '^1.2.3.4$'
	fi
	out=$(q @127.0.0.1 +short -x 198.51.100.7)
	check "$d: reverse outside the cluster falls through to forward" has "$out" '^www.example.test.$'
	check "$d: metrics on :9153" bash -c \
		"curl -s http://127.0.0.1:9153/metrics | grep -q '^coredns_dns_requests_total{server=\"dns://:53\"'"
	stop $d
done

# k3s: the node names of NodeHosts through the hosts plugin (ttl 60, capped to 30 by cache 30 as
# CoreDNS's cache caps the replies it stores).
start k3s
ready k3s
cluster_and_outside k3s 127.0.0.1 53 5
out=$(q @127.0.0.1 k3s-server-1 A)
check "k3s: NodeHosts entry k3s-server-1" hasre "$out" \
	'^k3s-server-1[.][[:space:]]+30[[:space:]]+IN[[:space:]]+A[[:space:]]+192[.]0[.]2[.]21$'
out=$(q @127.0.0.1 +short -x 192.0.2.21)
check "k3s: NodeHosts reverse entry" has "$out" '^k3s-server-1.$'
stop k3s

# OpenShift: port 5353, bufsize 512, errors-only query log, and the hostname.bind chaos block.
m=$(missing openshift)
if [ -n "$m" ]; then
	skip "openshift: served" "needs plugin(s) $m"
else
	start openshift
	ready openshift
	cluster_and_outside openshift 127.0.0.1 5353 5
	out=$(q @127.0.0.1 -p 5353 +bufsize=4096 +ignore big.example.test A)
	check "openshift: bufsize 512: a 40-address answer comes truncated over UDP" \
		hasre "$out" 'flags: qr( [a-z]+)* tc'
	out=$(q @127.0.0.1 -p 5353 +short CH TXT hostname.bind)
	check "openshift: hostname.bind CH TXT is the host name" has "$out" '^"dns-default-x7k2p"$'
	q @127.0.0.1 -p 5353 nosuch.default.svc.cluster.local A >/dev/null
	q @127.0.0.1 -p 5353 +short kube-dns.kube-system.svc.cluster.local A >/dev/null
	q @127.0.0.1 -p 5353 elsewhere.invalid A >/dev/null # knotd refuses it: an error
	check "openshift: log class error: an error reply is logged" \
		waitfor 10 grep -q '"A IN elsewhere.invalid. udp .* REFUSED ' "$work/openshift.log"
	check "openshift: log class error: NXDOMAIN and NOERROR are not logged" \
		bash -c "! grep -q 'nosuch.default.svc.cluster.local\|kube-dns.kube-system' '$work/openshift.log'"
	check "openshift: metrics on 127.0.0.1:9153" bash -c \
		"curl -s http://127.0.0.1:9153/metrics | grep -q 'server=\"dns://:5353\"'"
	stop openshift
fi

# AKS: its template blocks answer NXDOMAIN for Azure's internal search suffixes.
start aks
ready aks
cluster_and_outside aks 127.0.0.1 53 30
out=$(q @127.0.0.1 a.b.c.d.internal.cloudapp.net A)
check "aks: 4+ labels under internal.cloudapp.net are NXDOMAIN" has "$out" 'status: NXDOMAIN'
out=$(q @127.0.0.1 anything.reddog.microsoft.com AAAA)
check "aks: reddog.microsoft.com is NXDOMAIN" has "$out" 'status: NXDOMAIN'
out=$(q @127.0.0.1 reddog.microsoft.com SOA)
check "aks: reddog.microsoft.com itself is NXDOMAIN" has "$out" 'status: NXDOMAIN'
out=$(q @127.0.0.1 www.example.test.internal.cloudapp.net A)
check "aks: fewer labels fall through to the upstream (no template NXDOMAIN)" \
	bash -c '! grep -q "flags: qr aa" <<<"$1"' _ "$out"
stop aks

# NodeLocal DNSCache: bound to 169.254.20.10 and 10.96.0.10 only; cluster.local and the reverse
# zones over TCP to the cluster DNS (10.96.0.11), the rest to /etc/resolv.conf.
"$bin" -conf "$work/cluster-dns.Corefile" >"$work/cluster-dns.log" 2>&1 &
cdns=$!
waitfor 20 dig @10.96.0.11 +time=1 +tries=1 +short kubernetes.default.svc.cluster.local A ||
	echo "# the cluster DNS behind node-local did not answer" >>"$work/checks.log"
start nodelocaldns
check "nodelocaldns: health on 169.254.20.10:8080" \
	waitfor 20 http_is 200 http://169.254.20.10:8080/health
cluster_and_outside nodelocaldns@169.254.20.10 169.254.20.10 53 5
cluster_and_outside nodelocaldns@10.96.0.10 10.96.0.10 53 '[1-5]' # from the cache by now
check "nodelocaldns: cluster names went to the cluster DNS over TCP" bash -c \
	"dig @169.254.20.10 +time=2 +tries=1 kube-dns.kube-system.svc.cluster.local A | grep -q 'flags: qr aa'"
out=$(q @127.0.0.1 www.example.test A)
check "nodelocaldns: nothing answers on 127.0.0.1" bash -c "! grep -q 'status:' <<<'$out'"
check "nodelocaldns: metrics on :9253" bash -c \
	"curl -s http://127.0.0.1:9253/metrics | grep -q '^coredns_dns_requests_total{server=\"dns://'"
stop nodelocaldns
kill -TERM $cdns; wait $cdns

echo "1..$n"
if [ $fail -gt 0 ]; then
	echo "# --- checks"; sed 's/^/# /' "$work/checks.log"
	for f in "$work"/*.log; do echo "# --- $f"; tail -30 "$f" | sed 's/^/# /'; done
fi
[ $fail -eq 0 ]
INNER
