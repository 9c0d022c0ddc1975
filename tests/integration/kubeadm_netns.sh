#!/bin/bash
# kubeadm_netns.sh -- kubeadm's default Corefile, byte for byte, in a private network namespace.
#
# Inside `unshare -n -m` (loopback only, nothing can leave the machine) ports 53, 8080, 8181 and
# 9153 are ours. /etc/resolv.conf is bind-mounted to name a loopback upstream (knotd), the
# in-cluster service-account files live on a tmpfs over /run (= /var/run), and
# KUBERNETES_SERVICE_HOST/PORT point at the fake API server over TLS. Then: cluster names,
# forwarded names, reverse names falling through to forward, the three HTTP endpoints, and a
# pod-style lookup with glibc (getent) through a search list with ndots:5.
# Needs root (CI runs as root). Prints "ok"/"not ok" lines and "N passed, N failed".
set -u
src=${SX_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${SEXTANT_BIN:-$src/build/sextant}

if [ "$(id -u)" != 0 ]; then
	echo "not ok - kubeadm_netns needs root (unshare -n -m, bind mounts)"
	echo "0 passed, 1 failed"
	exit 1
fi
work=$(mktemp -d /tmp/sx-kubeadm-XXXXXX)
trap 'rm -rf "$work"' EXIT

# The Corefile exactly as the ConfigMap (kubeadm's template with cluster.local) holds it.
/usr/bin/python3 - "$src/k8s/configmap.yaml" "$work/Corefile" <<'PY' || exit 1
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
open(sys.argv[2], "w").write(doc["data"]["Corefile"])
PY
"$src/tests/fakeapi/gen-certs.sh" "$work/certs" >/dev/null 2>&1 || { echo "not ok - gen-certs"; exit 1; }
echo "sa-token-$$" > "$work/token"

cat > "$work/example.test.zone" <<'ZONE'
$ORIGIN example.test.
$TTL 300
@    SOA ns.example.test. admin.example.test. 1 3600 600 86400 300
@    NS  ns.example.test.
ns   A   127.0.0.53
www  A   198.51.100.7
ZONE
cat > "$work/rev.zone" <<'ZONE'
$ORIGIN 100.51.198.in-addr.arpa.
$TTL 300
@    SOA ns.example.test. admin.example.test. 1 3600 600 86400 300
@    NS  ns.example.test.
7    PTR www.example.test.
ZONE
cat > "$work/knot.conf" <<EOF2
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
printf 'nameserver 127.0.0.53\n' > "$work/resolv.upstream"
printf 'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:5\n' > "$work/resolv.pod"

export work src bin
exec unshare -n -m --propagation private /bin/bash -s <<'INNER'
set -u
pass=0 fail=0
check() { # check NAME COMMAND...: one TAP-like line per check
	local name=$1; shift
	if "$@" >>"$work/checks.log" 2>&1; then
		echo "ok - $name"; pass=$((pass + 1))
	else
		echo "not ok - $name"; fail=$((fail + 1))
	fi
}
has() { grep -q -- "$2" <<<"$1" || { printf 'wanted: %s\nin: %s\n' "$2" "$1"; false; }; }
hasre() { grep -Eq -- "$2" <<<"$1" || { printf 'wanted: %s\nin: %s\n' "$2" "$1"; false; }; }
ip link set lo up

# The pod's view of the world: resolv.conf names the loopback upstream, the service account
# sits where client libraries look for it. /run is a tmpfs of this namespace only.
mount --bind "$work/resolv.upstream" /etc/resolv.conf
mount -t tmpfs tmpfs /run
sa=/var/run/secrets/kubernetes.io/serviceaccount
mkdir -p "$sa"
cp "$work/token" "$sa/token"
cp "$work/certs/ca.crt" "$sa/ca.crt"
echo default > "$sa/namespace"

/usr/sbin/knotd -c "$work/knot.conf" 2>"$work/knotd.log" &
knot=$!
/usr/bin/python3 "$src/tests/fakeapi/fakeapi.py" --tls-cert "$work/certs/server.crt" \
	--tls-key "$work/certs/server.key" --token-file "$sa/token" \
	--load "$src/tests/fakeapi/data/basic.json" --port-file "$work/api.port" \
	>"$work/fakeapi.log" 2>&1 &
api=$!
for _ in $(seq 600); do [ -s "$work/api.port" ] && break; sleep 0.1; done
export KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$(cat "$work/api.port")

"$bin" -conf "$work/Corefile" >"$work/sextant.log" 2>&1 &
sx=$!
trap 'kill $sx $api $knot 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 600); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8181/ready)" = 200 ] && break
	sleep 0.1
done

q() { dig @127.0.0.1 -p 53 +time=2 +tries=1 "$@"; }
check "ready answers 200 OK after the first sync" \
	bash -c '[ "$(curl -s http://127.0.0.1:8181/ready)" = OK ]'
check "health answers OK" bash -c '[ "$(curl -s http://127.0.0.1:8080/health)" = OK ]'
out=$(q +short kubernetes.default.svc.cluster.local A)
check "cluster name: kubernetes.default.svc.cluster.local A" has "$out" '^10.96.0.1$'
out=$(q kube-dns.kube-system.svc.cluster.local A)
check "cluster name is authoritative (aa)" has "$out" 'flags: qr aa rd;'
check "cluster name has the kubeadm ttl 30" hasre "$out" \
	'svc[.]cluster[.]local[.][[:space:]]+30[[:space:]]+IN[[:space:]]+A[[:space:]]+10[.]96[.]0[.]10'
out=$(q nosuch.default.svc.cluster.local A)
check "unknown service is NXDOMAIN" has "$out" 'status: NXDOMAIN'
out=$(q +short 1-2-3-4.default.pod.cluster.local A)
check "pods insecure: 1-2-3-4.default.pod.cluster.local" has "$out" '^1.2.3.4$'
out=$(q +short www.example.test A)
check "forwarded name through /etc/resolv.conf's upstream" has "$out" '^198.51.100.7$'
out=$(q +short -x 10.96.0.1)
check "reverse of a ClusterIP from the cluster zone" has "$out" '^kubernetes.default.svc.cluster.local.$'
out=$(q +short -x 198.51.100.7)
check "reverse name outside the cluster falls through to forward" has "$out" '^www.example.test.$'
# A headless service's EndpointSlice change, stamped by the endpoints controller: CoreDNS measures
# its DNS programming latency.
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
curl -s --cacert "$work/certs/ca.crt" -X POST -H 'Content-Type: application/json' \
	"https://127.0.0.1:$KUBERNETES_SERVICE_PORT/_fake/objects" --data @- >>"$work/checks.log" <<JSON
{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
 "metadata": {"name": "hdls1-netns", "namespace": "testns",
   "labels": {"kubernetes.io/service-name": "hdls1"},
   "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "$now"}},
 "addressType": "IPv4",
 "endpoints": [{"addresses": ["10.0.0.77"], "conditions": {"ready": true}}],
 "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
JSON
for _ in $(seq 600); do
	curl -s http://127.0.0.1:9153/metrics | grep -q dns_programming_duration_seconds_count && break
	sleep 0.1
done
out=$(curl -s http://127.0.0.1:9153/metrics)
check "metrics: requests counted" has "$out" 'coredns_dns_requests_total{server="dns://:53",zone=".",view="",proto="udp",family="1",type="A"}'
check "metrics: forward's upstream histogram" has "$out" 'coredns_proxy_request_duration_seconds_count{'
check "metrics: cache requests" has "$out" 'coredns_cache_requests_total{'
check "metrics: kubernetes programming duration" has "$out" 'coredns_kubernetes_dns_programming_duration_seconds_count{service_kind="headless_with_selector"} 1'
check "metrics: reload version" has "$out" 'coredns_reload_version_info{hash="sha512"'

# A pod: its resolv.conf names Sextant, with the cluster search list and ndots:5.
mount --bind "$work/resolv.pod" /etc/resolv.conf
out=$(getent hosts kubernetes.default)
check "glibc getent hosts kubernetes.default through the search list" has "$out" '^10.96.0.1 '
out=$(getent hosts kube-dns.kube-system)
check "glibc getent hosts kube-dns.kube-system" has "$out" '^10.96.0.10 '
out=$(getent hosts www.example.test)
check "glibc getent hosts of an outside name walks the search list, then forwards" has "$out" '^198.51.100.7 '

kill -TERM $sx
check "SIGTERM: exits 0 after the 5s lameduck" bash -c "timeout 10 tail --pid=$sx -f /dev/null"
if [ $fail -gt 0 ]; then
	echo "--- checks"; cat "$work/checks.log"
	echo "--- sextant"; cat "$work/sextant.log"
	echo "--- fakeapi"; tail -20 "$work/fakeapi.log"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
INNER
