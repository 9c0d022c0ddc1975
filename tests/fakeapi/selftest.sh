#!/bin/bash
# selftest.sh -- exercise fakeapi.py (plain HTTP and TLS) with curl and raw sockets.
# Prints one line per check and "N passed, N failed" at the end; exits 1 if anything failed.
# Needs /usr/bin/python3 (with python3-yaml for the YAML check), curl and openssl.
set -u

here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/fakeapi-selftest.XXXXXX)
pass=0
fail=0
pids=()
CURLX=()  # extra curl arguments for control calls (the CA when the server speaks TLS)

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   - $1"; }
nok() { fail=$((fail + 1)); echo "FAIL - $1"; }

# expect NAME ACTUAL WANTED
expect() {
	if [ "$2" = "$3" ]; then ok "$1"; else nok "$1 (got '$2', want '$3')"; fi
}

# js FILE EXPR: a Python expression over d, the JSON document in FILE.
js() {
	$PY -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(eval("(" + sys.argv[2] + "\n)"))' "$1" "$2" 2>/dev/null || echo "<cannot evaluate on $1>"
}

# jl FILE EXPR: a Python expression over evs, the JSON lines of FILE (a watch stream), and
# types, their event types joined by commas.
jl() {
	$PY -c 'import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
types = ",".join(e["type"] for e in evs)
print(eval("(" + sys.argv[2] + "\n)"))' "$1" "$2" 2>/dev/null || echo "<cannot evaluate on $1>"
}

# start NAME ARGS...: run fakeapi in the background; sets $port.
start() {
	local name=$1 i
	shift
	$PY "$here/fakeapi.py" --port-file "$tmp/$name.port" "$@" \
		>"$tmp/$name.out" 2>"$tmp/$name.err" &
	pids+=($!)
	# Python can take seconds to start on a loaded machine.
	for i in $(seq 1200); do
		[ -s "$tmp/$name.port" ] && break
		sleep 0.05
	done
	port=$(cat "$tmp/$name.port" 2>/dev/null)
}

# code OUTFILE URL [CURL ARGS...]: fetch into OUTFILE, print the HTTP status code.
code() {
	local out=$1 url=$2
	shift 2
	curl -s -o "$out" -w '%{http_code}' "$@" "$url"
}

post() { # PATH [JSON]: a control call
	curl -s "${CURLX[@]}" -X POST --data "${2:-}" "$U$1"
}

# svc NAME NAMESPACE [LABELS-JSON]: a Service object
svc() {
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"%s",' "$1" "$2"
	printf '"labels":%s},"spec":{"ports":[{"name":"http","port":80}]}}' "${3:-{\}}"
}

rm_svc() { # NAMESPACE NAME
	curl -s "${CURLX[@]}" -X DELETE "$U/_fake/objects/v1/$1/services/$2" >/dev/null
}

# Waits are for events, with deadlines far beyond what an idle machine needs (a loaded one
# runs the fake's threads late).
wait_watches() { # N [PATH-PREFIX]: wait until N watches are open; prints 200 (or 408)
	curl -s -o /dev/null -w '%{http_code}' "${CURLX[@]}" \
		"$U/_fake/watches?min=$1&timeout=60&path=${2:-}"
}

settle() { # N: wait until N watches were sent every event, then end all watches cleanly
	local c
	c=$(curl -s -o /dev/null -w '%{http_code}' "${CURLX[@]}" \
		"$U/_fake/watches?min=$1&caughtup=1&timeout=60")
	[ "$c" = 200 ] || nok "settle: $1 watches never caught up (HTTP $c)"
	post /_fake/drop-watches '{"mode":"clean"}' >/dev/null
}

wait_lines() { # FILE PATTERN N: wait until FILE has N lines matching PATTERN (60 s at most)
	local i
	for i in $(seq 600); do
		[ "$(grep -c "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

rv_now() { # the store's current resourceVersion
	curl -s "${CURLX[@]}" "$U/_fake/state" >"$tmp/state"
	js "$tmp/state" 'd["resourceVersion"]'
}

names='[i["metadata"]["name"] for i in d["items"]]'

# ------------------------------------------------------------------------------------------
echo "# plain HTTP server"
start plain --load "$here/data/basic.json" --token sekrit --bookmark-interval 1 --history 50
U="http://127.0.0.1:$port"
AUTH=(-H "Authorization: Bearer sekrit")
SVCS="$U/api/v1/services"
TSVCS="$U/api/v1/namespaces/testns/services"
SLICES="$U/apis/discovery.k8s.io/v1/endpointslices"
expect "stdout says LISTENING <port>" "$(head -1 "$tmp/plain.out")" "LISTENING $port"

expect "/healthz is open without a token" "$(code "$tmp/h" "$U/healthz")$(cat "$tmp/h")" "200ok"
c=$(code "$tmp/v" "$U/version")
expect "/version" "$c $(js "$tmp/v" 'd["gitVersion"].startswith("v1.")')" "200 True"
code "$tmp/api" "$U/api" "${AUTH[@]}" >/dev/null
expect "/api discovery" "$(js "$tmp/api" 'd["kind"], d["versions"]')" "('APIVersions', ['v1'])"
code "$tmp/apis" "$U/apis" "${AUTH[@]}" >/dev/null
expect "/apis lists discovery.k8s.io/v1" \
	"$(js "$tmp/apis" '[v["groupVersion"] for g in d["groups"] for v in g["versions"]][0]')" \
	"discovery.k8s.io/v1"
code "$tmp/rl" "$U/apis/discovery.k8s.io/v1" "${AUTH[@]}" >/dev/null
expect "/apis/discovery.k8s.io/v1 resource list" \
	"$(js "$tmp/rl" '[r["name"] for r in d["resources"]]')" "['endpointslices']"
c=$(code "$tmp/e" "$U/api/v1" "${AUTH[@]}" -H "Accept: application/vnd.kubernetes.protobuf")
expect "Accept without JSON -> 406" "$c" "406"

# --- authentication
c=$(code "$tmp/e" "$SVCS")
expect "no token -> 401 Status" \
	"$c $(js "$tmp/e" 'd["kind"], d["status"], d["reason"], d["code"], d["message"]')" \
	"401 ('Status', 'Failure', 'Unauthorized', 401, 'Unauthorized')"
expect "wrong token -> 401" "$(code "$tmp/e" "$SVCS" -H "Authorization: Bearer wrong")" "401"
expect "wrong token -> 401 even on /healthz" \
	"$(code "$tmp/e" "$U/healthz" -H "Authorization: Bearer wrong")" "401"
expect "401 status line" "$(curl -s -i "$U/api/v1/pods" | head -1 | tr -d '\r')" \
	"HTTP/1.1 401 Unauthorized"

# --- LIST
c=$(code "$tmp/l" "$SVCS" "${AUTH[@]}")
expect "LIST services" "$c $(js "$tmp/l" 'd["kind"], d["apiVersion"], len(d["items"])')" \
	"200 ('ServiceList', 'v1', 7)"
expect "LIST resourceVersion is the store's" "$(js "$tmp/l" 'd["metadata"]["resourceVersion"]')" \
	"$(rv_now)"
expect "LIST items carry no kind/apiVersion" \
	"$(js "$tmp/l" 'any("kind" in i or "apiVersion" in i for i in d["items"])')" "False"
expect "LIST items have uid, resourceVersion, creationTimestamp" \
	"$(js "$tmp/l" 'all(i["metadata"]["uid"] and int(i["metadata"]["resourceVersion"])
		and i["metadata"]["creationTimestamp"].endswith("Z") for i in d["items"])')" "True"
expect "LIST is in namespace/name order" \
	"$(js "$tmp/l" '[i["metadata"]["namespace"] + "/" + i["metadata"]["name"] for i in d["items"]]
		== sorted(i["metadata"]["namespace"] + "/" + i["metadata"]["name"]
		for i in d["items"])')" "True"
all_names=$(js "$tmp/l" '" ".join(i["metadata"]["name"] for i in d["items"])')

code "$tmp/l" "$U/api/v1/namespaces/kube-system/services" "${AUTH[@]}" >/dev/null
expect "namespaced LIST" "$(js "$tmp/l" "$names")" "['kube-dns']"
code "$tmp/l" "$U/api/v1/namespaces" "${AUTH[@]}" >/dev/null
expect "LIST namespaces (with the metadata.name label)" \
	"$(js "$tmp/l" '[i["metadata"]["labels"]["kubernetes.io/metadata.name"]
		for i in d["items"]]')" "['default', 'kube-system', 'testns']"
c=$(code "$tmp/l" "$TSVCS/svc1" "${AUTH[@]}")
expect "GET one object carries kind/apiVersion" \
	"$c $(js "$tmp/l" 'd["kind"], d["apiVersion"]')" "200 ('Service', 'v1')"
c=$(code "$tmp/l" "$TSVCS/nope" "${AUTH[@]}")
expect "GET missing object -> 404 NotFound" "$c $(js "$tmp/l" 'd["reason"], d["message"]')" \
	"404 ('NotFound', 'services \"nope\" not found')"
expect "unknown resource -> 404" "$(code "$tmp/l" "$U/api/v1/frobs" "${AUTH[@]}")" "404"

# --- paging
c=$(code "$tmp/p1" "$SVCS?limit=3" "${AUTH[@]}")
expect "page 1" "$c $(js "$tmp/p1" 'len(d["items"]), d["metadata"]["remainingItemCount"]')" \
	"200 (3, 4)"
tok=$(js "$tmp/p1" 'd["metadata"]["continue"]')
# Changes made between pages must not show up: the pages come from one snapshot.
post /_fake/objects "$(svc zz-late testns)" >/dev/null
code "$tmp/p2" "$SVCS?limit=3&continue=$tok" "${AUTH[@]}" >/dev/null
tok=$(js "$tmp/p2" 'd["metadata"]["continue"]')
code "$tmp/p3" "$SVCS?limit=3&continue=$tok" "${AUTH[@]}" >/dev/null
expect "page 3 is the last" "$(js "$tmp/p3" 'len(d["items"]), "continue" in d["metadata"]')" \
	"(1, False)"
pages=$($PY -c '
import json, sys
ds = [json.load(open(f)) for f in sys.argv[1:]]
print(" ".join(i["metadata"]["name"] for d in ds for i in d["items"]),
	len({d["metadata"]["resourceVersion"] for d in ds}))' "$tmp/p1" "$tmp/p2" "$tmp/p3")
expect "pages = one consistent snapshot, same resourceVersion" "$pages" "$all_names 1"
code "$tmp/l" "$SVCS?limit=2&resourceVersion=0" "${AUTH[@]}" >/dev/null
expect "resourceVersion=0 LIST: limit ignored, new object seen" \
	"$(js "$tmp/l" 'len(d["items"]), "continue" in d["metadata"]')" "(8, False)"
c=$(code "$tmp/l" "$SVCS?limit=2&continue=bm90LWEtdG9rZW4" "${AUTH[@]}")
expect "garbled continue -> 400 BadRequest" "$c $(js "$tmp/l" 'd["reason"]')" "400 BadRequest"

# --- selectors
sel() { # URL -> names of the listed items
	code "$tmp/s" "$1" "${AUTH[@]}" >/dev/null
	js "$tmp/s" "$names"
}
expect "labelSelector a=b" "$(sel "$SLICES?labelSelector=kubernetes.io/service-name%3Dhdls1")" \
	"['hdls1-d4e5f']"
expect "labelSelector in (...)" \
	"$(sel "$SLICES?labelSelector=kubernetes.io/service-name%20in%20(hdls1,svc1)")" \
	"['hdls1-d4e5f', 'svc1-a1b2c']"
q='kubernetes.io/service-name%20notin%20(svc-dual,kube-dns,kubernetes)'
expect "labelSelector notin (...)" "$(sel "$SLICES?labelSelector=$q")" \
	"['hdls1-d4e5f', 'svc-noports-g6h7i', 'svc1-a1b2c']"
expect "labelSelector !key and key!=value" "$(sel "$SVCS?labelSelector=!app,k8s-app!%3Dfoo")" \
	"['kubernetes', 'kube-dns', 'ext-svc', 'svc-noports', 'zz-late']"
expect "labelSelector key, key==value" "$(sel "$SVCS?labelSelector=app,app%3D%3Dsvc1")" "['svc1']"
expect "bad labelSelector -> 400" \
	"$(code "$tmp/s" "$SVCS?labelSelector=a%20in%20(b" "${AUTH[@]}")" "400"
c=$(code "$tmp/s" "$SVCS?limit=1&labelSelector=app" "${AUTH[@]}")
expect "paged LIST with selector has no remainingItemCount" \
	"$c $(js "$tmp/s" 'len(d["items"]), "continue" in d["metadata"],
		"remainingItemCount" in d["metadata"]')" "200 (1, True, False)"
q='status.phase!%3DSucceeded,status.phase!%3DFailed,status.phase!%3DUnknown'
expect "fieldSelector status.phase!=" "$(sel "$U/api/v1/pods?fieldSelector=$q")" \
	"['pod-hdls1-32', 'pod-svc1-11']"
c=$(code "$tmp/s" "$U/api/v1/namespaces/testns/pods/pod-svc1-11/status" "${AUTH[@]}" -X PATCH \
	-H "Content-Type: application/merge-patch+json" --data '{"status":{"phase":"Succeeded"}}')
expect "PATCH pods/NAME/status" \
	"$c $(js "$tmp/s" 'd["status"]["phase"], d["spec"]["nodeName"]')" "200 ('Succeeded', 'node1')"
expect "fieldSelector drops the Succeeded pod" "$(sel "$U/api/v1/pods?fieldSelector=$q")" \
	"['pod-hdls1-32']"
c=$(code "$tmp/s" "$U/api/v1/pods?fieldSelector=spec.bogus%3D1" "${AUTH[@]}")
expect "unsupported field -> 400" "$c $(js "$tmp/s" 'd["message"]')" \
	"400 field label not supported: spec.bogus"

# --- real API verbs
obj=$(svc verb1 testns '{"t":"1"}')
c=$(code "$tmp/s" "$TSVCS" "${AUTH[@]}" -X POST -H "Content-Type: application/json" --data "$obj")
expect "POST creates (201, clusterIP allocated)" \
	"$c $(js "$tmp/s" 'd["metadata"]["namespace"], d["spec"]["clusterIP"].startswith("10.96.")')" \
	"201 ('testns', True)"
c=$(code "$tmp/s" "$TSVCS" "${AUTH[@]}" -X POST --data "$obj")
expect "POST again -> 409 AlreadyExists" "$c $(js "$tmp/s" 'd["reason"]')" "409 AlreadyExists"
c=$(code "$tmp/s" "$U/api/v1/namespaces/nons/services" "${AUTH[@]}" -X POST \
	--data "$(svc verb1 nons)")
expect "POST into a missing namespace -> 404" "$c" "404"
obj='{"apiVersion":"v1","kind":"Service","metadata":{"name":"verb1","resourceVersion":"1"}}'
c=$(code "$tmp/s" "$TSVCS/verb1" "${AUTH[@]}" -X PUT --data "$obj")
expect "PUT with a stale resourceVersion -> 409 Conflict" "$c $(js "$tmp/s" 'd["reason"]')" \
	"409 Conflict"
obj='{"apiVersion":"v1","kind":"Service","metadata":{"name":"verb1"},'
obj+='"spec":{"ports":[{"port":81}]}}'
c=$(code "$tmp/s" "$TSVCS/verb1" "${AUTH[@]}" -X PUT --data "$obj")
expect "PUT replaces, keeping the clusterIP" \
	"$c $(js "$tmp/s" 'd["spec"]["ports"][0]["port"], d["spec"]["clusterIP"][:6]')" \
	"200 (81, '10.96.')"
c=$(code "$tmp/s" "$TSVCS/verb1" "${AUTH[@]}" -X PATCH \
	-H "Content-Type: application/json-patch+json" --data '[]')
expect "PATCH with json-patch -> 415" "$c" "415"
c=$(code "$tmp/s" "$TSVCS/verb1" "${AUTH[@]}" -X DELETE)
expect "DELETE returns the object" "$c $(js "$tmp/s" 'd["metadata"]["name"]')" "200 verb1"
expect "DELETE again -> 404" "$(code "$tmp/s" "$TSVCS/verb1" "${AUTH[@]}" -X DELETE)" "404"
svc chunky testns >"$tmp/chunky.json"
c=$(code "$tmp/s" "$U/_fake/objects" -X POST -H "Transfer-Encoding: chunked" \
	--data-binary "@$tmp/chunky.json")
expect "chunked request body" "$c $(js "$tmp/s" 'd["objects"][0]["metadata"]["name"]')" \
	"200 chunky"
c=$(code "$tmp/s" "$U/_fake/objects" -X POST -H "Expect: 100-continue" \
	--data-binary "@$tmp/chunky.json")
expect "Expect: 100-continue" "$c" "200"
rm_svc testns chunky

# --- WATCH
rv0=$(rv_now)
curl -sN -D "$tmp/w1.h" "${AUTH[@]}" \
	"$TSVCS?watch=1&resourceVersion=$rv0&allowWatchBookmarks=true&timeoutSeconds=60" >"$tmp/w1" &
w1=$!
expect "watch registered" "$(wait_watches 1)" "200"
post /_fake/objects "$(svc w1 testns)" >/dev/null
post /_fake/objects "$(svc w1 testns '{"x":"y"}')" >/dev/null
post /_fake/objects "$(svc elsewhere default)" >/dev/null
rm_svc testns w1
wait_lines "$tmp/w1" '"type":"BOOKMARK"' 2 || nok "no two periodic bookmarks within 60 s"
settle 1
wait $w1
expect "watch ended by drop-watches mode clean: curl exit 0" "$?" "0"
expect "watch response headers" "$(grep -ic -e '^transfer-encoding: chunked' \
	-e '^content-type: application/json' "$tmp/w1.h")" "2"
expect "watch events in order" \
	"$(jl "$tmp/w1" '",".join(t for t in types.split(",") if t != "BOOKMARK")')" \
	"ADDED,MODIFIED,DELETED"
expect "watch event objects carry kind, name and rising resourceVersions" \
	"$(jl "$tmp/w1" '[(e["object"]["kind"], e["object"]["metadata"]["name"],
		int(e["object"]["metadata"]["resourceVersion"]) - '"$rv0"')
		for e in evs if e["type"] != "BOOKMARK"]')" \
	"[('Service', 'w1', 1), ('Service', 'w1', 2), ('Service', 'w1', 4)]"
expect "periodic bookmarks (interval 1s, watch > 2s)" \
	"$(jl "$tmp/w1" 'sum(e["type"] == "BOOKMARK" for e in evs) >= 2
		and all(e["object"]["kind"] == "Service" and e["object"]["metadata"]["resourceVersion"]
		for e in evs if e["type"] == "BOOKMARK")')" "True"

t0=$(date +%s%N)
curl -sN "${AUTH[@]}" "$TSVCS?watch=true&resourceVersion=$rv0&timeoutSeconds=1" >"$tmp/w2"
rc=$?
t1=$(date +%s%N)
expect "watch ends cleanly after timeoutSeconds=1 (curl exit 0)" \
	"$rc $(((t1 - t0) >= 1000000000))" "0 1"
expect "watch from an older resourceVersion replays history" "$(jl "$tmp/w2" 'types')" \
	"ADDED,MODIFIED,DELETED"
curl -sN "${AUTH[@]}" "$U/api/v1/namespaces?watch=true&timeoutSeconds=1" >"$tmp/w3"
expect "watch without resourceVersion starts with ADDED for every object" \
	"$(jl "$tmp/w3" '[e["object"]["metadata"]["name"] for e in evs]')" \
	"['default', 'kube-system', 'testns']"
q='sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true'
curl -sN "${AUTH[@]}" "$U/api/v1/namespaces?watch=true&timeoutSeconds=1&$q" >"$tmp/w3"
expect "sendInitialEvents: ADDED... then the initial-events-end bookmark" \
	"$(jl "$tmp/w3" 'types.split(",")[:4], evs[3]["object"]["metadata"].get("annotations")')" \
	"(['ADDED', 'ADDED', 'ADDED', 'BOOKMARK'], {'k8s.io/initial-events-end': 'true'})"

# A watch with a selector sees objects enter and leave its selection as ADDED / DELETED.
curl -sN "${AUTH[@]}" "$SVCS?watch=1&labelSelector=role%3Dweb&timeoutSeconds=60" >"$tmp/w4" &
w4=$!
wait_watches 1 >/dev/null
post /_fake/objects "$(svc sel testns '{"role":"db"}')" >/dev/null
post /_fake/objects "$(svc sel testns '{"role":"web"}')" >/dev/null
post /_fake/objects "$(svc sel testns '{"role":"web","v":"2"}')" >/dev/null
post /_fake/objects "$(svc sel testns '{"role":"db"}')" >/dev/null
settle 1
wait $w4
expect "selector watch: ADDED on entering, DELETED on leaving" "$(jl "$tmp/w4" 'types')" \
	"ADDED,MODIFIED,DELETED"

# Many watches, many writes: every watch gets every event, once, in order. The version is
# read here, not in each background job, whose rv_now calls would share one state file.
cw=()
rv=$(rv_now)
for i in $(seq 8); do
	curl -sN "${AUTH[@]}" \
		"$U/api/v1/namespaces/testns/pods?watch=1&resourceVersion=$rv&timeoutSeconds=60" \
		>"$tmp/cw$i" &
	cw+=($!)
done
expect "8 watches open" "$(wait_watches 8)" "200"
$PY -c '
import json
items = [{"apiVersion": "v1", "kind": "Pod",
	"metadata": {"name": "burst-%02d" % i, "namespace": "testns"},
	"status": {"phase": "Running", "podIP": "10.244.9.%d" % i}} for i in range(40)]
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))' >"$tmp/burst.json"
curl -s -X POST --data-binary "@$tmp/burst.json" "$U/_fake/objects" >/dev/null
for i in $(seq 0 9); do
	curl -s -X DELETE "$U/_fake/objects/v1/testns/pods/burst-0$i" >/dev/null
done
settle 8
wait "${cw[@]}"
expect "8 concurrent watches x 50 events: all delivered in order" "$(for i in $(seq 8); do
	jl "$tmp/cw$i" 'len(evs), types.count("ADDED"), types.count("DELETED"),
		[int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
		== sorted({int(e["object"]["metadata"]["resourceVersion"]) for e in evs})'
done | sort -u)" "(50, 40, 10, True)"

# --- fault injection, drops, compaction
post /_fake/fail '{"path":"/api/v1/services","status":500,"count":1}' >/dev/null
c1=$(code "$tmp/f" "$SVCS" "${AUTH[@]}")
r1=$(js "$tmp/f" 'd["reason"]')
c2=$(code "$tmp/f" "$SVCS" "${AUTH[@]}")
expect "fail: next request 500 InternalError, then normal" "$c1 $r1 $c2" "500 InternalError 200"
post /_fake/fail '{"path":"/api/v1/services","query":"continue","status":410}' >/dev/null
code "$tmp/f" "$SVCS?limit=2" "${AUTH[@]}" >/dev/null
tok=$(js "$tmp/f" 'd["metadata"]["continue"]')
c=$(code "$tmp/f" "$SVCS?limit=2&continue=$tok" "${AUTH[@]}")
expect "fail matching a query parameter: 410 Expired on continue" \
	"$c $(js "$tmp/f" 'd["reason"]')" "410 Expired"
post /_fake/fail '{"path":"/api/v1/pods","mode":"hang","seconds":1}' >/dev/null
t0=$(date +%s%N)
curl -s -o /dev/null "${AUTH[@]}" "$U/api/v1/pods"
rc=$?
t1=$(date +%s%N)
expect "fail mode hang: held ~1s, then closed without a response (curl exit 52)" \
	"$rc $(((t1 - t0) >= 900000000))" "52 1"
post /_fake/fail '{"path":"/api/v1/services","watch":true,"mode":"watch-error","status":410}' \
	>/dev/null
curl -sN "${AUTH[@]}" "$SVCS?watch=1" >"$tmp/we"
expect "fail mode watch-error: one ERROR event" \
	"$(jl "$tmp/we" 'types, evs[0]["object"]["code"], evs[0]["object"]["reason"]')" \
	"('ERROR', 410, 'Expired')"

raw='{"path":"/api/v1/pods","mode":"raw","body":"{\"kind\":\"PodList\",\"items\":[{\"meta",'
post /_fake/fail "$raw"'"then":"close"}' >/dev/null
curl -s "${AUTH[@]}" "$U/api/v1/pods" >"$tmp/r1"
expect "fail mode raw: the body given, then the connection closes (curl exit 18)" \
	"$? $(cat "$tmp/r1")" '18 {"kind":"PodList","items":[{"meta'
post /_fake/fail "$raw"'"cut":5,"then":"end","status":202,"headers":{"X-A":"b"}}' >/dev/null
curl -s -D "$tmp/r2.h" "${AUTH[@]}" "$U/api/v1/pods" >"$tmp/r2"
expect "fail mode raw: status, headers, body cut at 5 then ended properly (curl exit 0)" \
	"$? $(head -1 "$tmp/r2.h" | tr -d '\r') $(grep -ci '^x-a: b' "$tmp/r2.h") $(cat "$tmp/r2")" \
	'0 HTTP/1.1 202 Accepted 1 {"kin'
post /_fake/fail "$raw"'"chunked":false,"length":1000,"then":"hang","seconds":1}' >/dev/null
curl -s "${AUTH[@]}" "$U/api/v1/pods" >"$tmp/r3"
expect "fail mode raw: a Content-Length that lies, a stall, then a close (curl exit 18)" \
	"$? $(wc -c <"$tmp/r3")" "18 33"
post /_fake/fail '{"path":"/api/v1/pods","mode":"raw","body":"[","then":"repeat","repeat":"1,"}' \
	>/dev/null
expect "fail mode raw: an endless body" \
	"$(curl -sN "${AUTH[@]}" "$U/api/v1/pods" | head -c 100001 | wc -c)" "100001"

curl -sN "${AUTH[@]}" "$SVCS?watch=1" >"$tmp/we2" &
we2=$!
wait_watches 1 >/dev/null
expect "drop-watches mode error" "$(post /_fake/drop-watches '{"mode":"error","status":410}')" \
	'{"dropped":1}'
wait $we2
expect "... an ERROR 410 event in the middle of the stream, then its proper end (exit 0)" \
	"$?:$(jl "$tmp/we2" 'types.split(",")[-1], evs[-1]["object"]["code"]')" "0:('ERROR', 410)"

curl -sN "${AUTH[@]}" "$SVCS?watch=1" >"$tmp/w6" &
w6=$!
wait_watches 1 >/dev/null
expect "drop-watches" "$(post /_fake/drop-watches)" '{"dropped":1}'
wait $w6
expect "dropped watch: curl sees the stream cut (exit 18)" "$?" "18"

code "$tmp/p1" "$SVCS?limit=2" "${AUTH[@]}" >/dev/null
tok=$(js "$tmp/p1" 'd["metadata"]["continue"]')
post /_fake/objects '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"late"}}' >/dev/null
post /_fake/compact >/dev/null
c=$(code "$tmp/f" "$SVCS?limit=2&continue=$tok" "${AUTH[@]}")
expect "continue token older than compaction -> 410 Expired with a new token" \
	"$c $(js "$tmp/f" 'd["reason"], d["code"], "continue" in d["metadata"]')" \
	"410 ('Expired', 410, True)"
expect "410 status line" "$(curl -s -i "${AUTH[@]}" "$SVCS?limit=2&continue=$tok" \
	| head -1 | tr -d '\r')" "HTTP/1.1 410 Gone"
curl -sN -D "$tmp/w7.h" "${AUTH[@]}" "$SVCS?watch=1&resourceVersion=$rv0" >"$tmp/w7"
expect "watch from a compacted resourceVersion: HTTP 200" \
	"$(head -1 "$tmp/w7.h" | tr -d '\r')" "HTTP/1.1 200 OK"
expect "... then one ERROR event: Status 410 Expired, and the stream ends" \
	"$(jl "$tmp/w7" 'len(evs), evs[0]["type"], evs[0]["object"]["kind"],
		evs[0]["object"]["code"], evs[0]["object"]["reason"]')" \
	"(1, 'ERROR', 'Status', 410, 'Expired')"
c=$(code "$tmp/f" "$SVCS?resourceVersion=$rv0&resourceVersionMatch=Exact" "${AUTH[@]}")
expect "Exact LIST at a compacted resourceVersion -> 410" "$c" "410"
c=$(code "$tmp/f" "$SVCS?resourceVersion=99999999" "${AUTH[@]}")
expect "LIST at a future resourceVersion -> 504 Timeout" "$c $(js "$tmp/f" 'd["reason"]')" \
	"504 Timeout"
nrv=$(rv_now)
post /_fake/objects '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"later"}}' >/dev/null
code "$tmp/f" "$U/api/v1/namespaces?resourceVersion=$nrv&resourceVersionMatch=Exact" \
	"${AUTH[@]}" >/dev/null
expect "Exact LIST rebuilds the older state" \
	"$(js "$tmp/f" 'd["metadata"]["resourceVersion"], '"$names"'[-2:]')" \
	"('$nrv', ['late', 'testns'])"

# --- the request log
curl -s "$U/_fake/requests" >"$tmp/req"
expect "request log: limit+continue, allowWatchBookmarks, token presence" \
	"$(js "$tmp/req" '
		any("continue" in r["query"] and "limit" in r["query"] for r in d["requests"]),
		any(r["query"].get("allowWatchBookmarks") == "true" and r["watch"]
			for r in d["requests"]),
		any(r["auth"] == "bearer" and r["token_ok"] for r in d["requests"]),
		any(r["auth"] == "none" and r["status"] == 401 for r in d["requests"])')" \
	"(True, True, True, True)"
expect "control calls stay out of the request log" \
	"$(js "$tmp/req" 'any(r["path"].startswith("/_fake") for r in d["requests"])')" "False"

# --- raw framing: keep-alive across Content-Length, chunked LIST and chunked WATCH responses
$PY "$here/rawcheck.py" --header "Authorization: Bearer sekrit" "$port" /healthz \
	/api/v1/services "/api/v1/namespaces?watch=1&timeoutSeconds=1" /version \
	>"$tmp/raw" 2>"$tmp/raw.err"
expect "raw socket: 4 responses on one connection, framing valid" \
	"$?:$(wc -l <"$tmp/raw")" "0:4"
expect "raw: small body uses Content-Length, big LIST is chunked" "$($PY -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
print(r[0]["framing"], r[1]["framing"], len(r[1]["chunks"]) > 1,
	json.loads(r[1]["body"])["kind"])' "$tmp/raw")" "length chunked True ServiceList"
expect "raw: each watch chunk is exactly one JSON event line" "$($PY -c '
import json, sys
w = [json.loads(l) for l in open(sys.argv[1])][2]
print(w["framing"], len(w["chunks"]), all(c.endswith("\n") and c.count("\n") == 1
	and json.loads(c)["type"] == "ADDED" for c in w["chunks"]))' "$tmp/raw")" "chunked 5 True"
kill "${pids[0]}"

# ------------------------------------------------------------------------------------------
echo "# split chunks, on-demand bookmarks, token file, anonymous, YAML"
start split --load "$here/data/basic.json" --chunk-max 7 --chunk-threshold 0
U="http://127.0.0.1:$port"
$PY "$here/rawcheck.py" "$port" /api/v1/namespaces "/api/v1/namespaces?watch=1&timeoutSeconds=1" \
	>"$tmp/raw" 2>"$tmp/raw.err"
expect "--chunk-max 7: framing valid, chunks <= 7 bytes, stream still parses" "$?:$($PY -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
print(all(len(c.encode()) <= 7 for x in r for c in x["chunks"]), json.loads(r[0]["body"])["kind"],
	[json.loads(l)["type"] for l in r[1]["body"].splitlines()])' "$tmp/raw")" \
	"0:True NamespaceList ['ADDED', 'ADDED', 'ADDED']"
expect "curl reads split chunks" \
	"$(curl -sN "$U/api/v1/namespaces?watch=1&timeoutSeconds=1" | wc -l)" "3"

# This server has no periodic bookmarks: only watches allowing them get the on-demand one.
rv1=$(rv_now)
q="watch=1&resourceVersion=$rv1&timeoutSeconds=60"
curl -sN "$U/apis/discovery.k8s.io/v1/endpointslices?$q&allowWatchBookmarks=true" >"$tmp/w5" &
w5=$!
curl -sN "$U/api/v1/pods?$q" >"$tmp/w5b" &
w5b=$!
wait_watches 2 >/dev/null
post /_fake/bookmark >"$tmp/b"
expect "POST /_fake/bookmark" "$(js "$tmp/b" 'd["watches"]')" "2"
wait_lines "$tmp/w5" BOOKMARK 1 || nok "no on-demand bookmark within 60 s"
settle 2
wait $w5 $w5b
expect "bookmark event: kind, apiVersion, resourceVersion only" \
	"$(jl "$tmp/w5" 'types, evs[0]["object"]["kind"], evs[0]["object"]["apiVersion"],
		sorted(evs[0]["object"]["metadata"].items())')" \
	"('BOOKMARK', 'EndpointSlice', 'discovery.k8s.io/v1', [('creationTimestamp', None), \
('resourceVersion', '$rv1')])"
expect "no bookmark without allowWatchBookmarks" "$(wc -c <"$tmp/w5b")" "0"

echo tok-a >"$tmp/token"
start tokfile --load "$here/data/basic.json" --token-file "$tmp/token"
U="http://127.0.0.1:$port"
c1=$(code /dev/null "$U/api/v1/namespaces" -H "Authorization: Bearer tok-a")
echo tok-b >"$tmp/token.new" && mv "$tmp/token.new" "$tmp/token"
c2=$(code /dev/null "$U/api/v1/namespaces" -H "Authorization: Bearer tok-a")
c3=$(code /dev/null "$U/api/v1/namespaces" -H "Authorization: Bearer tok-b")
expect "token file re-read on every request (rotation)" "$c1 $c2 $c3" "200 401 200"

start anon --load "$here/data/basic.json" --token t --anonymous
c=$(code "$tmp/a" "http://127.0.0.1:$port/api/v1/namespaces/testns/services")
msg='services is forbidden: User "system:anonymous" cannot list resource "services" in API group'
msg+=' "" in the namespace "testns"'
expect "--anonymous: no token -> 403 Forbidden" "$(js "$tmp/a" 'd["reason"], d["message"]')" \
	"$($PY -c 'import sys; print(("Forbidden", sys.argv[1]))' "$msg")"
expect "403 status code" "$c" "403"

cat >"$tmp/objs.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: from-yaml
---
apiVersion: v1
kind: ServiceList
items:
- metadata: {name: y1, namespace: from-yaml}
  spec: {clusterIP: 10.96.9.9, ports: [{name: dns, port: 53, protocol: UDP}]}
EOF
start yaml --load "$tmp/objs.yaml"
code "$tmp/y" "http://127.0.0.1:$port/api/v1/namespaces/from-yaml/services" >/dev/null
expect "--load YAML with a typed List" "$(js "$tmp/y" 'd["items"][0]["spec"]["clusterIPs"]')" \
	"['10.96.9.9']"

# ------------------------------------------------------------------------------------------
echo "# EndpointSlice versions: v1beta1 as Kubernetes 1.20 serves it, both, none"
start beta --load "$here/data/basic.json" --endpointslice-versions v1beta1
U="http://127.0.0.1:$port"
B=/apis/discovery.k8s.io/v1beta1
code "$tmp/g" "$U/apis/discovery.k8s.io" >/dev/null
expect "v1beta1 only: the APIGroup lists it alone" \
	"$(js "$tmp/g" '[v["version"] for v in d["versions"]], d["preferredVersion"]["version"]')" \
	"(['v1beta1'], 'v1beta1')"
expect "v1beta1 only: v1 is not found" \
	"$(code /dev/null "$U/apis/discovery.k8s.io/v1/endpointslices")" "404"
code "$tmp/l" "$U$B/namespaces/testns/endpointslices" >/dev/null
expect "v1beta1 LIST: topology instead of nodeName" \
	"$(js "$tmp/l" 'd["apiVersion"], d["items"][0]["endpoints"][0]["topology"],
		"nodeName" in d["items"][0]["endpoints"][0]')" \
	"('discovery.k8s.io/v1beta1', {'kubernetes.io/hostname': 'node1'}, False)"
rv=$(rv_now)
curl -sN "$U$B/endpointslices?watch=1&timeoutSeconds=60&resourceVersion=$rv" >"$tmp/bw" &
bw=$!
wait_watches 1 >/dev/null
slice='{"apiVersion":"discovery.k8s.io/v1beta1","kind":"EndpointSlice","metadata":{"name":"b1",'
slice+='"namespace":"testns","labels":{"kubernetes.io/service-name":"svc1"}},"addressType":"IPv4",'
slice+='"endpoints":[{"addresses":["10.244.9.1"],"topology":{"kubernetes.io/hostname":"n2",'
slice+='"topology.kubernetes.io/zone":"z1","rack":"r1"}}]}'
c=$(code "$tmp/c" "$U$B/namespaces/testns/endpointslices" -X POST --data "$slice" \
	-H 'Content-Type: application/json')
settle 1
wait $bw
expect "v1beta1 create and watch event" "$c:$(jl "$tmp/bw" 'types,
	evs[0]["object"]["apiVersion"], sorted(evs[0]["object"]["endpoints"][0]["topology"])')" \
	"201:('ADDED', 'discovery.k8s.io/v1beta1', ['kubernetes.io/hostname', 'rack', \
'topology.kubernetes.io/zone'])"
curl -s "$U/_fake/objects" >"$tmp/o"
expect "stored as v1: nodeName, zone, deprecatedTopology" "$(js "$tmp/o" '[(o["apiVersion"],
	o["endpoints"][0]) for o in d["items"] if o["metadata"]["name"] == "b1"][0]')" \
	"('discovery.k8s.io/v1', {'addresses': ['10.244.9.1'], 'nodeName': 'n2', 'zone': 'z1', \
'deprecatedTopology': {'rack': 'r1'}})"
start both --load "$here/data/basic.json" --endpointslice-versions v1,v1beta1
code "$tmp/g" "http://127.0.0.1:$port/apis/discovery.k8s.io" >/dev/null
expect "v1,v1beta1: both listed, v1 preferred" \
	"$(js "$tmp/g" '[v["version"] for v in d["versions"]], d["preferredVersion"]["version"]')" \
	"(['v1', 'v1beta1'], 'v1')"
start none --load "$here/data/basic.json" --endpointslice-versions ""
expect "none: the group is not served" \
	"$(code /dev/null "http://127.0.0.1:$port/apis/discovery.k8s.io") \
$(code "$tmp/g" "http://127.0.0.1:$port/apis"; echo " $(js "$tmp/g" '[g["name"] for g in d["groups"]]')")" \
	"404 200 ['multicluster.x-k8s.io']"

# ------------------------------------------------------------------------------------------
echo "# TLS server"
certs="$tmp/certs"
"$here/gen-certs.sh" "$certs" >/dev/null 2>&1
expect "gen-certs.sh" "$(cd "$certs" && echo *) " \
	"ca.crt ca.key client.crt client.key server.crt server.key "
start tls --load "$here/data/basic.json" --token sekrit --client-ca "$certs/ca.crt" \
	--tls-cert "$certs/server.crt" --tls-key "$certs/server.key"
U="https://127.0.0.1:$port"
TLS=(--cacert "$certs/ca.crt")
CERT=(--cert "$certs/client.crt" --key "$certs/client.key")
CURLX=("${TLS[@]}")
c=$(code "$tmp/t" "$U/api/v1/services" "${TLS[@]}" "${AUTH[@]}")
expect "TLS LIST with token" "$c $(js "$tmp/t" 'len(d["items"])')" "200 7"
expect "TLS via DNS:localhost SAN" \
	"$(code "$tmp/t" "https://localhost:$port/api/v1/services" "${TLS[@]}" "${AUTH[@]}")" "200"
expect "TLS without token or client cert -> 401" \
	"$(code "$tmp/t" "$U/api/v1/services" "${TLS[@]}")" "401"
expect "TLS client certificate authenticates" \
	"$(code "$tmp/t" "$U/api/v1/services" "${TLS[@]}" "${CERT[@]}")" "200"
expect "ALPN picks http/1.1 even when h2 is offered" \
	"$(curl -sv -o /dev/null "${TLS[@]}" "${AUTH[@]}" "$U/version" 2>&1 \
	| grep -c 'ALPN.*accepted.*http/1.1')" "1"
rv=$(rv_now)
curl -sN "${TLS[@]}" "${CERT[@]}" \
	"$U/api/v1/namespaces/testns/services?watch=1&timeoutSeconds=60&resourceVersion=$rv" \
	>"$tmp/tw" &
tw=$!
wait_watches 1 >/dev/null
post /_fake/objects "$(svc tls1 testns)" >/dev/null
settle 1
wait $tw
expect "TLS watch" "$?:$(jl "$tmp/tw" 'types, evs[0]["object"]["metadata"]["name"]')" \
	"0:('ADDED', 'tls1')"
curl -s "${TLS[@]}" "$U/_fake/requests?path=/api/v1/services" >"$tmp/req"
expect "request log records the client certificate CN" \
	"$(js "$tmp/req" 'any(r["client_cert_cn"] == "sextant-test" for r in d["requests"])')" "True"
$PY "$here/rawcheck.py" --cafile "$certs/ca.crt" --header "Authorization: Bearer sekrit" "$port" \
	/api/v1/services "/api/v1/namespaces?watch=1&timeoutSeconds=1" /healthz \
	>"$tmp/raw" 2>"$tmp/raw.err"
expect "TLS raw socket: keep-alive and chunk framing" "$?:$($PY -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
print(r[0]["alpn"], r[1]["framing"], r[2]["framing"], len(r[2]["chunks"]), r[3]["body"])' \
	"$tmp/raw")" "0:http/1.1 chunked chunked 3 ok"
kill "${pids[-1]}"

start mtls --load "$here/data/basic.json" --client-ca "$certs/ca.crt" --require-client-cert \
	--tls-cert "$certs/server.crt" --tls-key "$certs/server.key"
U="https://127.0.0.1:$port"
curl -s -o /dev/null "${TLS[@]}" "$U/api/v1/services"
rc=$?
expect "--require-client-cert: handshake fails without a certificate" \
	"$([ $rc -ne 0 ] && echo failed)" "failed"
expect "--require-client-cert: works with one" \
	"$(code /dev/null "$U/api/v1/services" "${TLS[@]}" "${CERT[@]}")" "200"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
