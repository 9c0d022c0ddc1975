#!/bin/sh
# apiserver.sh -- a real Kubernetes control plane on loopback for tests: etcd, kube-apiserver, kube-controller-manager.
#
#   tests/k8s-real/apiserver.sh start DIR        certificates, etcd, API server(s), controller manager
#   tests/k8s-real/apiserver.sh stop DIR         stop everything started in DIR, by PID
#   tests/k8s-real/apiserver.sh kill-apiserver DIR [N]   SIGKILL API server N (default 1)
#   tests/k8s-real/apiserver.sh start-apiserver DIR [N]  start API server N again, same port
#   tests/k8s-real/apiserver.sh compact DIR      compact etcd at its current revision
#
# DIR must be empty or absent at start; everything lives there (see README.md): DIR/env is a
# KEY=VALUE file for sh and C alike, with the URLs, ports, PIDs, tokens and file names.
# Ports are picked free at run time on 127.0.0.1. Settings, from the environment at start:
#   SX_KUBE_BIN            directory of kube-apiserver and kube-controller-manager
#                          (default: what build-kube.sh prints, building them if missing)
#   SX_K8S_APISERVERS      API servers sharing the etcd, 1 or 2 (default 1); the controller
#                          manager talks to the last one
#   SX_K8S_CONTROLLERS     --controllers of the controller manager, "" for none (default:
#                          namespace,endpoint,endpointslice,endpointslicemirroring,serviceaccount)
#   SX_K8S_APISERVER_ARGS  more kube-apiserver flags
#   SX_K8S_APISERVER2_ARGS more flags for the second API server only (e.g. --watch-cache=false)
#   SX_K8S_CM_ARGS         more kube-controller-manager flags
# Nothing is left running when start fails. Needs openssl, curl, etcd (Debian's etcd-server).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}
dir=${2:-}
log() { echo "apiserver.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}
[ -n "$cmd" ] && [ -n "$dir" ] || {
	sed -n '2,8s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# A TCP port on 127.0.0.1 nobody listens on now.
free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_url URL SECONDS [CURL ARGS]: until URL answers 200.
wait_url() {
	url=$1 secs=$2
	shift 2
	i=0
	while [ "$i" -lt "$((secs * 10))" ]; do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url" 2>/dev/null)" = 200 ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# running PID: it exists and is not a zombie waiting for a parent that does not reap.
running() { [ -r "/proc/$1/stat" ] && ! sed 's/^.*) //' "/proc/$1/stat" | grep -q '^Z'; }

pid_alive() { [ -f "$1" ] && running "$(cat "$1")"; }

# stop_pid FILE SIGNAL: signal the process, wait until it is gone (after 10 s SIGKILL), remove FILE.
stop_pid() {
	f=$1 sig=$2
	[ -f "$f" ] || return 0
	p=$(cat "$f")
	if running "$p"; then
		kill "-$sig" "$p" 2>/dev/null || true
		i=0
		while running "$p"; do
			[ "$i" -eq 100 ] && kill -KILL "$p" 2>/dev/null
			[ "$i" -eq 200 ] && die "process $p ($f) does not go away"
			sleep 0.1
			i=$((i + 1))
		done
	fi
	rm -f "$f"
}

gen_pki() {
	pki=$dir/pki
	mkdir -p "$pki"
	(
		cd "$pki"
		openssl ecparam -name prime256v1 -genkey -noout -out ca.key
		openssl req -x509 -new -key ca.key -subj /CN=sextant-test-ca -days 30 -out ca.crt
		openssl ecparam -name prime256v1 -genkey -noout -out server.key
		openssl req -new -key server.key -subj /CN=kube-apiserver -out server.csr
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,IP:10.96.0.1\n' \
			>server.ext
		openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
			-extfile server.ext -out server.crt
		# Service-account tokens: RS256, as kube-apiserver signs them by default.
		openssl genrsa -out sa.key 2048
		openssl rsa -in sa.key -pubout -out sa.pub
	) >/dev/null 2>&1 || die "cannot make certificates in $pki"
}

# A random token: 32 hex characters.
token() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

write_kubeconfig() { # FILE TOKEN
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $dir/pki/ca.crt
users:
- name: user
  user:
    token: $2
contexts:
- name: test
  context: {cluster: test, user: user}
current-context: test
EOF
}

start_etcd() {
	mkdir -p "$dir/etcd"
	# Data on tmpfs when there is one: etcd fsyncs every write.
	data=$dir/etcd/data
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		data=$(mktemp -d /dev/shm/sx-etcd.XXXXXX)
		echo "$data" >"$dir/etcd/shm"
	fi
	etcd --name sx --data-dir "$data" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "sx=http://127.0.0.1:$ETCD_PEER_PORT" \
		--log-level warn >"$dir/etcd/log" 2>&1 &
	echo $! >"$dir/etcd/pid"
	wait_url "http://127.0.0.1:$ETCD_PORT/health" 30 || die "etcd did not start: $(tail -5 "$dir/etcd/log")"
}

# start_apiserver N: API server N on its port (from DIR/env), wait until /readyz.
start_apiserver() {
	n=$1
	eval "port=\$APISERVER${n}_PORT"
	extra=${SX_K8S_APISERVER_ARGS:-}
	[ "$n" = 1 ] || extra="$extra ${SX_K8S_APISERVER2_ARGS:-}"
	d=$dir/apiserver$n
	mkdir -p "$d"
	# shellcheck disable=SC2086 # $extra is a list of flags
	"$SX_KUBE_BIN/kube-apiserver" \
		--etcd-servers "http://127.0.0.1:$ETCD_PORT" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$port" \
		--tls-cert-file "$dir/pki/server.crt" --tls-private-key-file "$dir/pki/server.key" \
		--client-ca-file "$dir/pki/ca.crt" \
		--token-auth-file "$dir/tokens.csv" \
		--authorization-mode RBAC \
		--service-cluster-ip-range 10.96.0.0/12,fd00:10:96::/112 \
		--feature-gates IPv6DualStack=true \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$dir/pki/sa.pub" \
		--service-account-signing-key-file "$dir/pki/sa.key" \
		--endpoint-reconciler-type none \
		--audit-log-path "$d/audit.log" --audit-policy-file "$dir/audit-policy.yaml" \
		--profiling=false \
		$extra >>"$d/log" 2>&1 &
	echo $! >"$d/pid"
	wait_url "https://127.0.0.1:$port/readyz" 120 --cacert "$dir/pki/ca.crt" \
		-H "Authorization: Bearer $ADMIN_TOKEN" ||
		die "kube-apiserver $n did not become ready: $(tail -5 "$d/log")"
}

start_cm() {
	d=$dir/controller-manager
	mkdir -p "$d"
	# shellcheck disable=SC2086
	"$SX_KUBE_BIN/kube-controller-manager" \
		--kubeconfig "$dir/controller-manager.kubeconfig" \
		--leader-elect=false --port 0 --secure-port 0 \
		--controllers "$SX_K8S_CONTROLLERS" \
		--feature-gates IPv6DualStack=true \
		${SX_K8S_CM_ARGS:-} >"$d/log" 2>&1 &
	echo $! >"$d/pid"
}

# The PIDs of processes still running with DIR's files in their command line (etcd by its data
# directory, @1): what stopping by PID missed, e.g. a process whose PID file was overwritten.
leftovers() {
	for c in /proc/[0-9]*/cmdline; do
		a=$(tr '\0' ' ' 2>/dev/null <"$c") || continue
		case $a in
		*"$dir/pki/"* | *"$dir/controller-manager.kubeconfig"* | *"--data-dir $1 "*)
			p=${c#/proc/}
			echo "${p%/cmdline}"
			;;
		esac
	done
}

stop_all() {
	shm=$dir/etcd/data
	[ ! -f "$dir/etcd/shm" ] || shm=$(cat "$dir/etcd/shm")
	stop_pid "$dir/controller-manager/pid" TERM
	# SIGTERM keeps an API server's watches open for a long time: SIGKILL.
	for n in 1 2; do
		stop_pid "$dir/apiserver$n/pid" KILL
	done
	stop_pid "$dir/etcd/pid" TERM
	left=$(leftovers "$shm")
	if [ -n "$left" ]; then
		# shellcheck disable=SC2086 # a list of PIDs
		kill -KILL $left 2>/dev/null || true
		log "still running after stop, killed: $left"
	fi
	if [ -f "$dir/etcd/shm" ]; then
		rm -rf "$shm"
		rm -f "$dir/etcd/shm"
	fi
	[ -z "$left" ]
}

load_env() {
	[ -f "$dir/env" ] || die "$dir/env: no control plane started there"
	# shellcheck disable=SC1091
	. "$dir/env"
}

case $cmd in
start)
	[ ! -e "$dir" ] || [ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	command -v etcd >/dev/null || die "etcd not found (apt-get install etcd-server)"
	SX_KUBE_BIN=${SX_KUBE_BIN:-$("$here/build-kube.sh" kube-apiserver kube-controller-manager)}
	SX_K8S_APISERVERS=${SX_K8S_APISERVERS:-1}
	SX_K8S_CONTROLLERS=${SX_K8S_CONTROLLERS-namespace,endpoint,endpointslice,endpointslicemirroring,serviceaccount}
	trap 'stop_all' EXIT
	gen_pki
	ADMIN_TOKEN=$(token)
	CM_TOKEN=$(token)
	# CSV: token,user,uid,"groups". The controller manager runs as a master too: tests only.
	printf '%s,admin,admin,"system:masters"\n%s,system:kube-controller-manager,cm,"system:masters"\n' \
		"$ADMIN_TOKEN" "$CM_TOKEN" >"$dir/tokens.csv"
	# Every request's URI, user and status, for tests to check what a client asked.
	printf 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n' \
		>"$dir/audit-policy.yaml"
	ETCD_PORT=$(free_port)
	ETCD_PEER_PORT=$(free_port)
	APISERVER1_PORT=$(free_port)
	APISERVER2_PORT=$(free_port)
	APISERVER_PORT=$APISERVER1_PORT
	write_kubeconfig "$dir/admin.kubeconfig" "$ADMIN_TOKEN"
	[ "$SX_K8S_APISERVERS" -lt 2 ] || APISERVER_PORT=$APISERVER2_PORT
	write_kubeconfig "$dir/controller-manager.kubeconfig" "$CM_TOKEN"
	cat >"$dir/env" <<EOF
K8S_DIR=$dir
K8S_BIN=$SX_KUBE_BIN
K8S_URL=https://127.0.0.1:$APISERVER1_PORT
K8S_URL2=https://127.0.0.1:$APISERVER2_PORT
K8S_CA=$dir/pki/ca.crt
K8S_ADMIN_TOKEN=$ADMIN_TOKEN
K8S_KUBECONFIG=$dir/admin.kubeconfig
K8S_ETCD_URL=http://127.0.0.1:$ETCD_PORT
K8S_APISERVERS=$SX_K8S_APISERVERS
ADMIN_TOKEN=$ADMIN_TOKEN
ETCD_PORT=$ETCD_PORT
APISERVER1_PORT=$APISERVER1_PORT
APISERVER2_PORT=$APISERVER2_PORT
SX_KUBE_BIN=$SX_KUBE_BIN
SX_K8S_APISERVER_ARGS="${SX_K8S_APISERVER_ARGS:-}"
SX_K8S_APISERVER2_ARGS="${SX_K8S_APISERVER2_ARGS:-}"
EOF
	start_etcd
	start_apiserver 1
	[ "$SX_K8S_APISERVERS" -lt 2 ] || start_apiserver 2
	[ -z "$SX_K8S_CONTROLLERS" ] || start_cm
	trap - EXIT
	log "ready: https://127.0.0.1:$APISERVER1_PORT (etcd 127.0.0.1:$ETCD_PORT), $dir/env"
	;;
stop)
	[ -d "$dir" ] || exit 0
	dir=$(cd "$dir" && pwd)
	stop_all
	;;
kill-apiserver)
	stop_pid "$dir/apiserver${3:-1}/pid" KILL
	;;
start-apiserver)
	load_env
	pid_alive "$dir/apiserver${3:-1}/pid" && die "API server ${3:-1} is running"
	start_apiserver "${3:-1}"
	;;
compact)
	load_env
	# etcd's v3 JSON gateway: the current revision, then a compaction at it.
	rev=$(curl -s -X POST --data '{"key":"AA==","limit":1}' "$K8S_ETCD_URL/v3/kv/range" |
		/usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["header"]["revision"])')
	curl -s -f -X POST --data "{\"revision\":\"$rev\",\"physical\":true}" \
		"$K8S_ETCD_URL/v3/kv/compaction" >/dev/null || die "compaction at $rev failed"
	echo "$rev"
	;;
*)
	die "unknown command $cmd"
	;;
esac
