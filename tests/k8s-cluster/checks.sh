#!/bin/bash
# checks.sh -- Sextant deployed from k8s/ as kube-dns, real pods resolving through it.
#
#   tests/k8s-cluster/cluster.sh tests/k8s-cluster/checks.sh      (meson test --suite k8s-cluster)
#
# Runs inside the node's namespaces (node.sh exports KUBECONFIG and SX_*). Applies k8s/ as
# k8s/README.md says for a 1.20 cluster without a registry, then checks from inside pods, with
# the resolv.conf the kubelet writes, through glibc (getent): every kind of name, changes seen
# within 2 s, a rollout restart losing no query, a ConfigMap edit picked up by reload, scaling,
# metrics through the Pod IP. Prints TAP lines and "# figure:" lines.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
image=localhost/sextant:ci
ns=kube-system
fail=0

ok() { echo "ok - $1"; }
notok() {
	echo "not ok - $1"
	fail=$((fail + 1))
}
# check NAME COMMAND...: one TAP line; the command's output goes to the log only on failure.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$name"
	else
		notok "$name"
		printf '%s\n' "$out" | sed 's/^/#   /'
	fi
}
# has TEXT REGEX: TEXT contains a line matching REGEX; lacks: no line does.
has() { grep -Eq -- "$2" <<<"$1" || { printf 'wanted /%s/ in:\n%s\n' "$2" "$1"; false; }; }
lacks() { ! grep -E -- "$2" <<<"$1"; }
# eventually SECONDS COMMAND...: poll COMMAND (0.2 s apart) until it succeeds.
eventually() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || break
		sleep 0.2
	done
	"$@"
}
uptime_now() { cut -d' ' -f1 /proc/uptime; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
figure() { echo "# figure: $*"; }

# pod_sh POD SCRIPT: run a busybox sh script in a test pod of the default namespace.
pod_sh() { kubectl exec "$1" -- sh -c "$2"; }
# A loop in POD running until SCRIPT succeeds (10 ms apart, LIMIT s at most), then printing
# the pod's uptime -- the same kernel clock as /proc/uptime here. Started in the background;
# returns once the loop runs (the file WHERE holds "started"), so the caller can make the change.
watch_in() { # POD SCRIPT WHERE [LIMIT]
	kubectl exec "$1" -- sh -c "echo started; end=\$((\$(cut -d. -f1 /proc/uptime) + ${4:-20}));
		until $2; do [ \$(cut -d. -f1 /proc/uptime) -lt \$end ] || exit 1; sleep 0.01; done;
		cut -d' ' -f1 /proc/uptime" >"$3" 2>&1 &
	local end=$((SECONDS + 60))
	until grep -q started "$3"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}
# seen_within WHERE PID T0 BOUND NAME [TSTART]: the loop's answer came at most BOUND s after
# T0 (when the change was made: kubectl returned); TSTART, when kubectl started, is reported too
# (kubectl itself takes a second or more on a loaded machine).
seen_within() {
	local t1 d also=""
	wait "$2"
	t1=$(tail -n 1 "$1")
	case $t1 in
	[0-9]*.[0-9]*) d=$(sub "$t1" "$3") ;;
	*)
		notok "$5 (never seen)"
		sed 's/^/#   /' "$1"
		return
		;;
	esac
	[ -n "${6:-}" ] && also=", $(sub "$t1" "$6") s after kubectl started"
	figure "$5: ${d} s$also"
	if lt "$d" "$4"; then ok "$5 within $4 s (${d} s$also)"; else notok "$5 within $4 s (${d} s$also)"; fi
}

tmp=$SX_WORK/checks
mkdir -p "$tmp"

# --- test workloads, before DNS exists ------------------------------------------------------
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {app: client}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: localhost/sx-glibc:1, imagePullPolicy: Never, command: [sleep, "100000"]}
---
# One try per query and a 2 s timeout: a lost packet is a failed lookup, not a retried one.
apiVersion: v1
kind: Pod
metadata: {name: prober}
spec:
  terminationGracePeriodSeconds: 1
  dnsConfig:
    options: [{name: attempts, value: "1"}, {name: timeout, value: "2"}]
  containers:
  - {name: c, image: localhost/sx-glibc:1, imagePullPolicy: Never, command: [sleep, "100000"]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 2
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: localhost/sx-glibc:1
        imagePullPolicy: Never
        command: [sh, -c, "touch /tmp/ready; exec sleep 100000"]
        readinessProbe:
          exec: {command: [test, -e, /tmp/ready]}
          periodSeconds: 1
          failureThreshold: 1
---
apiVersion: v1
kind: Service
metadata: {name: scaled}
spec:
  clusterIP: None
  selector: {app: scaled}
  ports: [{name: http, port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: scaled}
spec:
  replicas: 1
  selector: {matchLabels: {app: scaled}}
  template:
    metadata: {labels: {app: scaled}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: c, image: localhost/sx-glibc:1, imagePullPolicy: Never, command: [sleep, "100000"]}
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: www.example.test
EOF
eventually 60 kubectl get pod/web-0 pod/web-1 >/dev/null
check "test pods are Ready" kubectl wait --for=condition=Ready pod/client pod/prober \
	pod/web-0 pod/web-1 --timeout=180s
check "test Deployment is available" kubectl rollout status deployment/scaled --timeout=120s

# --- Sextant, applied as k8s/README.md says for 1.20 without a registry --------------------
watch_in client "getent hosts kubernetes.default >/dev/null" "$tmp/first" 120 ||
	notok "start a loop"
first=$!
t0=$(uptime_now)
(
	cd "$src" &&
		kubectl apply -f k8s/rbac.yaml -f k8s/configmap.yaml -f k8s/service.yaml &&
		sed 's|^apiVersion: policy/v1$|apiVersion: policy/v1beta1|' k8s/pdb.yaml | kubectl apply -f - &&
		sed "s|^\(  *image:\) sextant:.*|\1 $image|" k8s/deployment.yaml | kubectl apply -f -
) >"$tmp/apply.log" 2>&1
# Every Sextant pod's deletion, for the liveness check: "NAME DELETION-TIMESTAMP GRACE".
kubectl -n $ns get pods -l k8s-app=kube-dns --watch -o \
	jsonpath='{.metadata.name} {.metadata.deletionTimestamp} {.metadata.deletionGracePeriodSeconds}{"\n"}' \
	>"$tmp/sxpods.watch" 2>&1 &
podwatch=$!
check "kubectl apply of k8s/ (PodDisruptionBudget as policy/v1beta1 on 1.20)" \
	grep -q 'deployment.apps/coredns created' "$tmp/apply.log"
seen_within "$tmp/first" "$first" "$t0" 120 "kubectl apply to the first answer in a pod"
check "the Deployment rolls out: 2 replicas available" \
	kubectl -n $ns rollout status deployment/coredns --timeout=180s

# The Sextant pods running and not terminating: "NAME IP" lines.
sx_pods() {
	kubectl -n $ns get pods -l k8s-app=kube-dns --field-selector=status.phase=Running -o \
		go-template='{{range .items}}{{if not .metadata.deletionTimestamp}}{{.metadata.name}} {{.status.podIP}}{{"\n"}}{{end}}{{end}}'
}
sx_pods >"$tmp/pods"
pod1=$(head -n 1 "$tmp/pods" | cut -d' ' -f1)
# The image has dash and no coreutils: files are read with its builtins.
sx_cat() { kubectl -n $ns exec "$1" -- sh -c "while IFS= read -r l; do printf '%s\n' \"\$l\"; done <$2"; }
out=$(sx_cat "$pod1" /proc/1/status)
check "Sextant runs as uid 65532 (non-root)" has "$out" '^Uid:[[:space:]]+65532[[:space:]]'
check "Sextant runs under no_new_privs" has "$out" '^NoNewPrivs:[[:space:]]+1'
# CAP_NET_BIND_SERVICE is bit 10: effective, permitted and bounding hold it and nothing else.
check "Sextant holds only CAP_NET_BIND_SERVICE (from the file capability)" \
	has "$out" '^CapEff:[[:space:]]+0000000000000400'
check "Sextant's bounding set is only CAP_NET_BIND_SERVICE" has "$out" '^CapBnd:[[:space:]]+0000000000000400'
out=$(kubectl -n $ns exec "$pod1" -- sh -c 'echo x >/probe' 2>&1)
check "the root filesystem is read-only" has "$out" 'Read-only file system'
out=$(sx_cat "$pod1" /proc/net/udp)
check "bound to UDP port 53 (0035) in the pod" has "$out" ':0035 '
out=$(kubectl -n $ns get pod "$pod1" -o jsonpath='{range .spec.volumes[*]}{.name}{" "}{.secret.secretName}{"\n"}{end}')
check "in-cluster credentials mounted from the token controller's secret" \
	has "$out" '^coredns-token-[a-z0-9]+ coredns-token-'
out=$(kubectl -n $ns logs "$pod1")
check "the kubernetes plugin logs no API error" lacks "$out" 'could not find the requested resource|Failed to watch|forbidden' 
out=$(kubectl -n $ns get endpoints kube-dns -o jsonpath='{.subsets[*].addresses[*].ip}')
check "kube-dns endpoints list both replicas" has "$(tr ' ' '\n' <<<"$out" | sort -u | wc -l)" '^2$'

# --- names, from a pod, through glibc and the kubelet's resolv.conf ------------------------
out=$(pod_sh client 'cat /etc/resolv.conf')
check "pod resolv.conf: nameserver 10.96.0.10" has "$out" '^nameserver 10\.96\.0\.10$'
check "pod resolv.conf: the cluster search list" \
	has "$out" '^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local'
check "pod resolv.conf: ndots:5" has "$out" '^options ndots:5'
q() { pod_sh client "getent hosts $1"; }
check "short name: kubernetes" has "$(q kubernetes)" '^10\.96\.0\.1[[:space:]]'
check "<svc>.<ns>: kube-dns.kube-system" has "$(q kube-dns.kube-system)" '^10\.96\.0\.10[[:space:]]'
check "FQDN: kubernetes.default.svc.cluster.local" \
	has "$(q kubernetes.default.svc.cluster.local)" '^10\.96\.0\.1[[:space:]]'
web0=$(kubectl get pod web-0 -o jsonpath='{.status.podIP}')
web1=$(kubectl get pod web-1 -o jsonpath='{.status.podIP}')
check "headless pod name: web-0.web" has "$(q web-0.web)" "^${web0//./\\.}[[:space:]]"
out=$(pod_sh client 'getent ahosts web' | awk '{print $1}' | sort -u | tr '\n' ' ')
check "headless Service: web lists both pods" has "$out" "^($web0 $web1|$web1 $web0) $"
check "ExternalName: ext is www.example.test" has "$(q ext)" '^198\.51\.100\.7[[:space:]]'
check "a pod's dashed name: ${web0//./-}.default.pod" \
	has "$(q "${web0//./-}.default.pod")" "^${web0//./\\.}[[:space:]]"
check "reverse: 10.96.0.10 is kube-dns.kube-system.svc.cluster.local" \
	has "$(q 10.96.0.10)" '^10\.96\.0\.10[[:space:]]+kube-dns\.kube-system\.svc\.cluster\.local'
check "reverse: a headless pod's address names it" \
	has "$(q "$web0")" "[[:space:]]web-0\.web\.default\.svc\.cluster\.local"
check "outside name through forward . /etc/resolv.conf to the node's resolver" \
	has "$(q www.example.test)" '^198\.51\.100\.7[[:space:]]'

# --- changes seen from a pod within 2 s ------------------------------------------------------
watch_in client "getent hosts fresh >/dev/null" "$tmp/created" || notok "start a loop"
pid=$!
ts=$(uptime_now)
kubectl create service clusterip fresh --tcp=80:80 >/dev/null
seen_within "$tmp/created" $pid "$(uptime_now)" 2 "a new Service answers" "$ts"

count() { echo "[ \$(getent ahosts $1 | awk '{print \$1}' | sort -u | wc -l) -eq $2 ]"; }
watch_in client "$(count scaled 2)" "$tmp/scaled" || notok "start a loop"
pid=$!
kubectl scale deployment/scaled --replicas=2 >/dev/null
kubectl rollout status deployment/scaled --timeout=120s >/dev/null
t0=$(uptime_now)
seen_within "$tmp/scaled" $pid "$t0" 2 "scaled to 2: both pods answer (after the rollout reports Ready)"
watch_in client "$(count scaled 1)" "$tmp/scaled1" || notok "start a loop"
pid=$!
ts=$(uptime_now)
kubectl scale deployment/scaled --replicas=1 >/dev/null
seen_within "$tmp/scaled1" $pid "$(uptime_now)" 2 "scaled to 1: one pod answers" "$ts"

watch_in client "! getent hosts fresh >/dev/null" "$tmp/deleted" || notok "start a loop"
pid=$!
ts=$(uptime_now)
kubectl delete service fresh >/dev/null
seen_within "$tmp/deleted" $pid "$(uptime_now)" 2 "a deleted Service stops answering" "$ts"

watch_in client "! getent hosts web-1.web >/dev/null" "$tmp/unready" || notok "start a loop"
pid=$!
pod_sh web-1 'rm /tmp/ready'
kubectl wait --for=condition=Ready=false pod/web-1 --timeout=30s >/dev/null
t0=$(uptime_now)
seen_within "$tmp/unready" $pid "$t0" 2 "a Pod turned not-Ready leaves the headless answer"
pod_sh web-1 'touch /tmp/ready'

# --- a rollout restart while a pod queries in a loop -----------------------------------------
# The kube-dns endpoints as they change, "UPTIME READY...|NOT-READY..." (the loop's clock).
kubectl -n $ns get endpoints kube-dns --watch -o \
	jsonpath='{.subsets[*].addresses[*].ip}|{.subsets[*].notReadyAddresses[*].ip}{"\n"}' |
	while read -r l; do echo "$(uptime_now) $l"; done >"$tmp/endpoints.watch" 2>&1 &
epwatch=$!
# UDP flows that the node's conntrack sees start from port 53: a DNS pod's reply whose NAT
# entry kube-proxy deleted while the query was in flight (kube-proxy 1.20 clears the UDP
# entries of an endpoint it removes). Such a reply leaves from the pod's own address, not the
# Service's, and the client drops it: the answer was sent and lost after it.
stdbuf -oL conntrack -E -e NEW -p udp 2>/dev/null \
	> >(while read -r l; do echo "$(uptime_now) $l"; done >"$tmp/orphans") &
ctwatch=$!
# Each failed lookup is logged with its start and end (uptime), the counts come last.
kubectl exec prober -- sh -c 'n=0 f=0; while [ ! -e /tmp/stop ]; do n=$((n + 1));
	t=$(cut -d" " -f1 /proc/uptime);
	getent hosts kubernetes.default.svc.cluster.local. >/dev/null ||
		{ f=$((f + 1)); echo "# failed lookup from $t to $(cut -d" " -f1 /proc/uptime)"; };
	done; echo "$n $f"' >"$tmp/loop" 2>&1 &
loop=$!
old=$(cut -d' ' -f1 "$tmp/pods" | sed 's|^|pod/|')
kubectl -n $ns rollout restart deployment/coredns >/dev/null
check "rollout restart completes" kubectl -n $ns rollout status deployment/coredns --timeout=180s
# Until the old pods are gone (their 5 s lameduck, then exit), queries still reach them.
kubectl -n $ns wait --for=delete $old --timeout=120s >/dev/null 2>&1
pod_sh prober 'touch /tmp/stop'
wait $loop
kill $epwatch $ctwatch 2>/dev/null
read -r sent failed < <(tail -n 1 "$tmp/loop")
# The events whose original direction (the first tuple) starts from port 53: orphaned replies.
orphans() {
	awk 'match($0, /src=[^ ]+ dst=[^ ]+ sport=[0-9]+/) &&
		substr($0, RSTART, RLENGTH) ~ / sport=53$/' "$tmp/orphans"
}
# A failed lookup is the network's when an orphaned reply to the prober came while it waited.
prober_ip=$(kubectl get pod prober -o jsonpath='{.status.podIP}')
orphaned=0
while read -r _ _ _ _ t1 _ t2; do
	orphans | awk -v a="$t1" -v b="$t2" -v to="dst=$prober_ip " '
		$1 >= a - 0.05 && $1 <= b && index($0, to) { found = 1 }
		END { exit !found }' && orphaned=$((orphaned + 1))
done < <(grep '^# failed lookup from ' "$tmp/loop")
figure "rollout restart: ${sent:-0} lookups, ${failed:-?} failed, $orphaned of them answered" \
	"and the answer orphaned by kube-proxy's conntrack cleanup" \
	"($(orphans | wc -l) orphaned replies seen in all)"
check "rollout restart: the loop ran (${sent:-0} lookups)" test "${sent:-0}" -gt 50
if [ "${failed:-1}" = 0 ]; then
	ok "rollout restart loses no query (0 of $sent failed)"
elif [ "$failed" = "$orphaned" ]; then
	ok "rollout restart: Sextant answered every query ($failed of $sent lost after the answer: \
kube-proxy deleted the NAT entry of a removed endpoint while the reply was on its way)"
	grep '^#' "$tmp/loop"
	orphans | sed 's/^/#   orphaned reply at /'
else
	notok "rollout restart loses no query (${failed:-?} of ${sent:-0} failed, $orphaned after \
the answer)"
	grep '^#' "$tmp/loop"
	echo "# kube-dns endpoints (uptime ready|not-ready):"
	sed 's/^/#   /' "$tmp/endpoints.watch"
	orphans | sed 's/^/#   orphaned reply at /'
	curl -s http://127.0.0.1:10249/metrics | grep '^kubeproxy_sync_proxy_rules_duration_seconds_\(sum\|count\)' |
		sed 's/^/#   /'
fi
sx_pods >"$tmp/pods"
# Readiness gates the endpoints: each new replica was listed not-ready before it was ready.
gated=0
for ip in $(cut -d' ' -f2 "$tmp/pods"); do
	awk -F'|' -v ip="$ip" '
		{ sub(/^[^ ]+ /, "") }
		index(" " $2 " ", " " ip " ") && !ready { early = 1 }
		index(" " $1 " ", " " ip " ") { ready = 1 }
		END { exit !(early && ready) }' "$tmp/endpoints.watch" && gated=$((gated + 1))
done
check "readiness gates the endpoints: new replicas were not-ready before ready ($gated of 2)" \
	test $gated -eq 2

# --- the ConfigMap edited, picked up by reload in the running pods ---------------------------
kubectl -n $ns get configmap coredns -o jsonpath='{.data.Corefile}' >"$tmp/Corefile.old"
awk '{ print } /^    ready$/ { print "    hosts {\n       10.1.2.3 added.example.test\n       fallthrough\n    }" }' \
	"$tmp/Corefile.old" >"$tmp/Corefile"
hash=$(sha512sum "$tmp/Corefile" | cut -d' ' -f1)
kubectl -n $ns create configmap coredns --from-file=Corefile="$tmp/Corefile" --dry-run=client \
	-o yaml | kubectl replace -f - >/dev/null
t0=$(uptime_now)
reloaded=0
end=$((SECONDS + 180)) # the kubelet's sync (10 s here) and reload's 30 s +- 7.5 s
while [ $SECONDS -lt $end ]; do
	reloaded=0
	for p in $(cut -d' ' -f1 "$tmp/pods"); do
		kubectl -n $ns logs "$p" 2>/dev/null | grep -q "Running configuration SHA512 = $hash" &&
			reloaded=$((reloaded + 1))
	done
	[ $reloaded -eq 2 ] && break
	sleep 0.2
done
figure "ConfigMap edit to reload in both pods: $(sub "$(uptime_now)" "$t0") s"
check "both pods reloaded the edited ConfigMap and log its SHA512" test $reloaded -eq 2
check "the new hosts entry answers in a pod" has "$(q added.example.test)" '^10\.1\.2\.3[[:space:]]'
out=$(kubectl -n $ns get pods -l k8s-app=kube-dns -o jsonpath='{.items[*].status.containerStatuses[*].restartCount}')
check "reload in place: no container restarted" has "$out" '^0( 0)*$'

# --- scale to 2, each replica answers and exports metrics through its Pod IP -----------------
kubectl -n $ns scale deployment/coredns --replicas=1 >/dev/null
kubectl -n $ns rollout status deployment/coredns --timeout=120s >/dev/null
one_replica() { [ "$(sx_pods | wc -l)" -eq 1 ]; }
eventually 60 one_replica
kubectl -n $ns scale deployment/coredns --replicas=2 >/dev/null
check "kubectl scale to 2 replicas" kubectl -n $ns rollout status deployment/coredns --timeout=180s
sx_pods >"$tmp/pods"
check "two replicas run" test "$(wc -l <"$tmp/pods")" -eq 2
while read -r p ip; do
	out=$(dig @"$ip" +time=2 +tries=1 +short kubernetes.default.svc.cluster.local A)
	check "replica $p ($ip) answers" has "$out" '^10\.96\.0\.1$'
	out=$(dig @"$ip" +time=2 +tries=1 +short added.example.test A)
	check "replica $p serves the edited Corefile" has "$out" '^10\.1\.2\.3$'
	out=$(curl -s --max-time 5 "http://$ip:9153/metrics")
	check "Prometheus scrape of $p through the Pod IP" \
		has "$out" '^coredns_dns_requests_total\{server="dns://:53",'
	check "its reload metric names the edited Corefile" \
		has "$out" "^coredns_reload_version_info\\{hash=\"sha512\",value=\"$hash\"\\} 1"
done <"$tmp/pods"

# --- health over the whole run ---------------------------------------------------------------
# A liveness probe failing while a pod serves is a failure. The kubelet 1.20 also probes a pod
# being deleted, after Sextant's lameduck ended and it exited, until it notices the exit: such
# a probe is refused, and is only noted here.
kill $podwatch 2>/dev/null
bad=0
while read -r pod at msg; do
	case $msg in Liveness*) ;; *) continue ;; esac
	del="" grace=""
	read -r del grace < <(awk -v p="$pod" '$1 == p && $2 != "" { print $2, $3; exit }' \
		"$tmp/sxpods.watch")
	if [ -n "${del:-}" ] && [ $(($(date -d "$at" +%s) + 1)) -ge \
		$(($(date -d "$del" +%s) - ${grace:-0})) ]; then
		echo "# noted: $pod was being deleted ($del less ${grace}s) when at $at: $msg"
	else
		echo "#   $pod at $at: $msg"
		bad=$((bad + 1))
	fi
done < <(kubectl -n $ns get events --field-selector reason=Unhealthy -o \
	jsonpath='{range .items[*]}{.involvedObject.name} {.lastTimestamp} {.message}{"\n"}{end}')
check "liveness stayed green (no failed liveness probe while serving)" test $bad -eq 0
out=$(kubectl -n $ns get pods -l k8s-app=kube-dns -o jsonpath='{.items[*].status.containerStatuses[*].restartCount}')
check "no container restarts" has "$out" '^0( 0)*$'
pdb_ok() {
	[ "$(kubectl -n $ns get pdb coredns -o \
		jsonpath='{.status.expectedPods} {.status.disruptionsAllowed}')" = "2 1" ]
}
check "the PodDisruptionBudget covers both replicas, one disruption allowed" eventually 30 pdb_ok

[ $fail -eq 0 ]
