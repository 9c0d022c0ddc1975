#!/usr/bin/python3
"""k8s_scale.py -- sync time and memory of the kubernetes plugin for a cluster of any size.

Starts tests/fakeapi/fakeapi.py with a generated cluster (--services, --endpoints, ...; see
tests/fakeapi/cluster.py), then Sextant with kubeadm's Corefile pointed at it, and prints, one
"key: value" a line (seconds and megabytes of 10^6 bytes):

  transfer:  seconds curl takes to fetch the LISTs the plugin makes, one after the other
             (what the fake costs; the plugin's own LISTs run side by side)
  sync:      seconds from the first byte of the plugin's first LIST reply to its "synced" log line
  cpu:       Sextant's CPU seconds (user + system) when synced
  hwm:       VmHWM when synced (the peak so far)
  rss:       VmRSS a few seconds after the sync (steady)
  anon:      RssAnon of the same moment (private memory; rss - anon is library pages)
  budget:    issue 9's budget, (services + endpoints) / 8000 + 8
With --relist, after the steady reading the fake forgets its history and drops the watches, so
the plugin must LIST everything again (410 Gone), and it adds:
  relist:      seconds from the drop to the relist's last watch started again
  relist_cpu:  Sextant's CPU seconds over that span
  relist_fake_cpu: the fake API server's (it competes with Sextant's workers for the cores)
  relist_hwm:  VmHWM during the relist (the peak is reset first: /proc/PID/clear_refs)
  relist_rss:  VmRSS after it
With --relists N, N relists one after the other, each printing these three. With --latency
RATE (queries per second of tests/bench/dnsload, needs --relist), the queries' latency before
and during the (last) relist:
  p99_before, p99_during (milliseconds), and p50 of each.

With --churn SECONDS, Services and EndpointSlices are added, changed and deleted at
--churn-rate events a second (a pool of 5000 extra Services, in batches every 50 ms), while
a probe changes the ClusterIP of one of ten probe Services at a time and asks Sextant for it
until the new address comes back (the Corefile then has no cache: `cache 30` would keep the
old answer up to 30 s, in CoreDNS as here). With --latency QPS, dnsload queries throughout.
It adds:
  churn_events:  events written, and churn_rate: per second achieved
  fresh_p50, fresh_p99, fresh_max:  milliseconds from the write's start to the changed answer
  fresh_n, fresh_missed:  probes, and those not seen within 5 s
  mixed:  answers that were neither the old nor the new address of the probed Service
  churn_rss:  VmRSS at the start, the highest, and at the end (churn_rss_every_10s: the line)
  churn_cpu:  Sextant's CPU over the churn, in cores
  p50_churn, p99_churn (with --latency): the queries' latency during the churn

With --fake-nice N the fake API server runs at nice N. A kube-apiserver runs on other
machines than the cluster's DNS; on a 2-core machine the fake takes a core from Sextant's
workers (0.6 of one during a relist at 100,000 Services), and nice 19 lends Sextant and dnsload
the cores first, which is nearer a cluster than sharing them evenly. --split-cpus goes
further. With "fake", the fake and this tool (the rest of the cluster: it writes objects and
polls the fake, every 10 ms during a relist) run on the last CPU, and Sextant and dnsload alone
on the others, as if the API server ran elsewhere (give --workers 1 on two cores). With
"sextant", Sextant runs alone on the last CPU, and dnsload then shares a CPU with the fake's
work and this tool's.

Every process listens on 127.0.0.1 only and is killed when the tool ends, however it ends.
Exit status 1 when something did not start or sync; the figures are never judged here.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FAKEAPI = os.path.join(ROOT, "tests", "fakeapi", "fakeapi.py")
LISTS = ("/api/v1/namespaces", "/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices")

started = []


def cleanup():
	for p in started:
		if p.poll() is None:
			p.kill()
		p.wait()
	started.clear()


def on_signal(signum, frame):
	cleanup()
	sys.exit(1)


def spawn(argv, log, nice=0, cpus=None):
	def child():
		if nice:
			os.nice(nice)
		if cpus:
			os.sched_setaffinity(0, cpus)

	p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
		preexec_fn=child if nice or cpus else None)
	started.append(p)
	return p


def wait_for(cond, timeout, what, step=0.005):
	end = time.monotonic() + timeout
	while time.monotonic() < end:
		v = cond()
		if v:
			return v
		time.sleep(step)
	raise SystemExit("k8s_scale: timed out waiting for %s" % what)


def status(pid):
	"""VmHWM, VmRSS, RssAnon (bytes) and CPU seconds of pid."""
	out = {}
	with open("/proc/%d/status" % pid) as f:
		for line in f:
			k, _, v = line.partition(":")
			if k in ("VmHWM", "VmRSS", "RssAnon"):
				out[k] = int(v.split()[0]) * 1024
	with open("/proc/%d/stat" % pid) as f:
		fields = f.read().rsplit(")", 1)[1].split()
	out["cpu"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
	return out


def fake_get(port, path):
	with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=600) as r:
		return json.loads(r.read())


def fake_post(port, path, body=b"{}"):
	req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body,
		method="POST")
	with urllib.request.urlopen(req, timeout=600) as r:
		return json.loads(r.read())


def transfer_time(port, gzip):
	"""Seconds curl takes to fetch the plugin's LISTs, one after the other."""
	total = 0.0
	for path in LISTS:
		argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}",
			"http://127.0.0.1:%d%s?limit=500" % (port, path)]
		if gzip:
			argv.insert(1, "--compressed")
		total += float(subprocess.run(argv, capture_output=True, text=True,
			check=True).stdout)
	return total


def list_requests(port, since=0):
	return [r for r in fake_get(port, "/_fake/requests?since=%d" % since)["requests"]
		if not r["watch"] and r["path"] in LISTS]


def corefile(port, cache=True):
	return """.:0 {
	bind 127.0.0.1
	errors
	ready 127.0.0.1:0
	kubernetes cluster.local in-addr.arpa ip6.arpa {
		endpoint http://127.0.0.1:%d
		pods insecure
		fallthrough in-addr.arpa ip6.arpa
		ttl 30
	}
	forward . 127.0.0.1:9
%s	loadbalance
}
""" % (port, "\tcache 30\n" if cache else "")


def dns_port(log_path):
	m = re.search(r"^\S+:(\d+) on 127\.0\.0\.1", open(log_path).read(), re.M)
	return int(m.group(1)) if m else 0


def names_file(path, services, namespaces):
	"""Queries for dnsload: the A records of existing services, spread over the cluster."""
	step = max(1, services // 5000)
	with open(path, "w") as f:
		for i in range(0, services, step):
			f.write("svc-%d.ns-%04d.svc.cluster.local A\n" % (i, i % namespaces))


def main():
	ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
	ap.add_argument("--services", type=int, required=True)
	ap.add_argument("--endpoints", type=int, required=True)
	ap.add_argument("--namespaces", type=int, default=0, help="default: services / 100")
	ap.add_argument("--slices", type=int, help="default: one per 3 endpoints (see cluster.py)")
	ap.add_argument("--managedfields", action="store_true",
		help="objects carry managedFields, as a real API server sends them")
	ap.add_argument("--pages", action="store_true",
		help="LISTs in pages of 500 (default: one response each, as the watch cache gives)")
	ap.add_argument("--no-gzip", dest="gzip", action="store_false",
		help="the fake never compresses (default: gzip, level 1, when the client asks)")
	ap.add_argument("--sextant", default=os.environ.get("SEXTANT_BIN",
		os.path.join(ROOT, "build", "sextant")))
	ap.add_argument("--workers", type=int, default=2)
	ap.add_argument("--settle", type=float, default=3.0,
		help="seconds between the sync and the steady reading (default 3)")
	ap.add_argument("--relist", action="store_true", help="also measure a full relist (410)")
	ap.add_argument("--relists", type=int, default=1, metavar="N",
		help="with --relist: this many, one after the other (memory must stay flat)")
	ap.add_argument("--latency", type=int, default=0, metavar="QPS",
		help="with --relist: query at this rate and give the latency before and during it")
	ap.add_argument("--dnsload", default=os.environ.get("SX_DNSLOAD"),
		help="the dnsload binary (default: next to --sextant, tests/bench/dnsload)")
	ap.add_argument("--churn", type=float, default=0, metavar="SECONDS",
		help="after the sync, write Services and slices at --churn-rate for this long")
	ap.add_argument("--churn-rate", type=int, default=1000, metavar="EVENTS",
		help="watch events per second of --churn (default 1000)")
	ap.add_argument("--fake-nice", type=int, default=0, metavar="N",
		help="run the fake API server at nice N (19: as if on other machines)")
	ap.add_argument("--split-cpus", choices=("fake", "sextant"),
		help="run this one alone on the last CPU, everything else on the others")
	ap.add_argument("--keep", action="store_true", help="keep the working directory")
	args = ap.parse_args()

	signal.signal(signal.SIGTERM, on_signal)
	signal.signal(signal.SIGINT, on_signal)
	work = tempfile.mkdtemp(prefix="k8s_scale.")
	try:
		return run(args, work)
	finally:
		cleanup()
		if not args.keep:
			shutil.rmtree(work, ignore_errors=True)
		else:
			print("kept %s" % work, file=sys.stderr)


def run(args, work):
	spec = "services=%d,endpoints=%d" % (args.services, args.endpoints)
	if args.namespaces:
		spec += ",namespaces=%d" % args.namespaces
	if args.slices:
		spec += ",slices=%d" % args.slices
	if args.managedfields:
		spec += ",managedfields=1"
	namespaces = args.namespaces or max(1, args.services // 100)
	alone = {}
	args.load_cpus = None  # dnsload's CPUs, when not this tool's
	if args.split_cpus:
		cpus = sorted(os.sched_getaffinity(0))
		if len(cpus) < 2:
			raise SystemExit("k8s_scale: --split-cpus needs two CPUs")
		alone[args.split_cpus] = {cpus[-1]}
		if args.split_cpus == "fake":
			# The tool plays the rest of the cluster (it writes objects and polls the fake
			# for the end of a relist): it goes with the fake, and only Sextant and dnsload
			# are left on the other CPUs.
			alone["sextant"] = args.load_cpus = set(cpus[:-1])
			os.sched_setaffinity(0, {cpus[-1]})
		else:
			# Set before anything starts: what this tool starts, and its threads, inherit it.
			os.sched_setaffinity(0, set(cpus[:-1]))
	portfile = os.path.join(work, "port")
	fargv = ["/usr/bin/python3", FAKEAPI, "--port-file", portfile, "--bookmark-interval", "0",
		"--generate", spec, "--history", "100000"]
	if not args.pages:
		fargv.append("--ignore-limit")
	if not args.gzip:
		fargv += ["--gzip-threshold", "-1"]
	fake = spawn(fargv, open(os.path.join(work, "fakeapi.log"), "w"), args.fake_nice,
		alone.get("fake"))
	port = wait_for(lambda: os.path.exists(portfile) and int(open(portfile).read() or 0),
		3600, "the fake API server (see %s/fakeapi.log)" % work, step=0.2)
	print("cluster: %s (%s)" % (spec, "pages of 500" if args.pages else "one LIST each"))
	print("transfer: %.3f" % transfer_time(port, args.gzip))
	seq = fake_get(port, "/_fake/requests?since=0")["next"]

	conf = os.path.join(work, "Corefile")
	with open(conf, "w") as f:
		f.write(corefile(port, cache=not args.churn))
	log_path = os.path.join(work, "sextant.log")
	srv = spawn([args.sextant, "-conf", conf, "-dns.port", "0", "-workers", str(args.workers)],
		open(log_path, "w"), cpus=alone.get("sextant"))

	def synced():
		if srv.poll() is not None:
			raise SystemExit("k8s_scale: sextant exited (see %s)" % log_path)
		return "plugin/kubernetes: synced" in open(log_path).read()

	wait_for(synced, 3600, "the sync (see %s)" % log_path)
	t_synced = time.time()
	at_sync = status(srv.pid)
	reqs = list_requests(port, seq)
	first = min(r["first_byte"] for r in reqs if r.get("first_byte"))
	print("sync: %.3f" % (t_synced - first))
	print("cpu: %.2f" % at_sync["cpu"])
	print("hwm: %.1f" % (at_sync["VmHWM"] / 1e6))
	time.sleep(args.settle)
	steady = status(srv.pid)
	print("rss: %.1f" % (steady["VmRSS"] / 1e6))
	print("anon: %.1f" % (steady["RssAnon"] / 1e6))
	print("budget: %.1f" % ((args.services + args.endpoints) / 8000 + 8))
	for line in open(log_path):
		if "synced" in line:
			print("log: " + line.strip())
	if args.churn:
		churn(args, port, srv, log_path, work, namespaces)
	if args.relist:
		for i in range(args.relists):
			relist(args, port, srv, fake, log_path, work, namespaces,
				args.latency if i == args.relists - 1 else 0)
	return 0


def dns_query(name, qid):
	wire = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
	for label in name.rstrip(".").split("."):
		wire += bytes([len(label)]) + label.encode()
	return wire + b"\0" + struct.pack(">HH", 1, 1)


def dns_first_a(msg):
	"""(id, the first A record's address or None) of a reply."""
	qid, _, qd, an = struct.unpack(">HHHH", msg[:8])
	i = 12
	for _ in range(qd):
		while msg[i] and msg[i] < 0xc0:
			i += msg[i] + 1
		i += (2 if msg[i] >= 0xc0 else 1) + 4
	for _ in range(an):
		while msg[i] and msg[i] < 0xc0:
			i += msg[i] + 1
		i += 2 if msg[i] >= 0xc0 else 1
		rtype, _, _, rdlen = struct.unpack(">HHIH", msg[i:i + 10])
		i += 10
		if rtype == 1 and rdlen == 4:
			return qid, socket.inet_ntoa(msg[i:i + 4])
		i += rdlen
	return qid, None


def churn_service(name, ns, addr, port):
	return {"kind": "Service", "apiVersion": "v1", "metadata": {"name": name, "namespace": ns},
		"spec": {"type": "ClusterIP", "clusterIP": addr, "clusterIPs": [addr],
			"ports": [{"name": "http", "protocol": "TCP", "port": port}]}}


def churn_slice(name, ns, addrs):
	return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
		"metadata": {"name": name + "-churn", "namespace": ns,
			"labels": {"kubernetes.io/service-name": name}},
		"addressType": "IPv4", "ports": [{"name": "http", "protocol": "TCP", "port": 8080}],
		"endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in addrs]}


def fake_write(port, method, objs):
	req = urllib.request.Request("http://127.0.0.1:%d/_fake/objects" % port, method=method,
		data=json.dumps({"kind": "List", "apiVersion": "v1", "items": objs}).encode())
	with urllib.request.urlopen(req, timeout=600) as r:
		r.read()


def percentile(values, q):
	v = sorted(values)
	return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def churn(args, port, srv, log_path, work, namespaces):
	"""Writes at a steady rate; a probe times each change until Sextant answers it."""
	rng = random.Random(9)
	pool, present = 5000, {}
	dport = dns_port(log_path)
	probes = [("probe-%d" % j, "ns-0000") for j in range(10)]
	addr = {p: "10.250.0.%d" % (j + 1) for j, p in enumerate(probes)}
	fake_write(port, "POST", [churn_service(n, ns, addr[(n, ns)], 80) for n, ns in probes])
	sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	sock.connect(("127.0.0.1", dport))
	sock.settimeout(0.05)

	def ask(name, ns, qid):
		"""The address Sextant gives name, None when none, False when no answer came."""
		sock.send(dns_query("%s.%s.svc.cluster.local" % (name, ns), qid))
		try:
			while True:
				rid, a = dns_first_a(sock.recv(4096))
				if rid == qid:
					return a
		except socket.timeout:
			return False

	for n, ns in probes:  # synced before the churn starts
		wait_for(lambda: ask(n, ns, 1) == addr[(n, ns)], 60, "probe %s" % n)
	load = None
	if args.latency:
		load = start_load(args, work, namespaces, dport, args.latency, "dnsload.churn")
		time.sleep(3)  # phase 0: before
		load.send_signal(signal.SIGUSR1)
	stop = threading.Event()
	written, failed = [0], []

	def writer():
		try:
			write()
		except Exception as e:  # the run is void: say so instead of figures
			failed.append(e)
			stop.set()

	def write():
		per_tick = max(1, args.churn_rate // 20)
		start = time.monotonic()
		tick = 0
		while not stop.is_set():
			puts, dels, n, touched = [], [], 0, set()
			while n < per_tick:
				i = rng.randrange(pool)
				if i in touched:  # the puts go before the deletions
					continue
				touched.add(i)
				name, ns = "churn-%d" % i, "ns-%04d" % (i % namespaces)
				a = "10.251.%d.%d" % (i >> 8, i & 255)
				eps = ["10.252.%d.%d" % (rng.randrange(256), rng.randrange(256))
					for _ in range(rng.randrange(1, 4))]
				r = rng.random()
				if i not in present:
					puts += [churn_service(name, ns, a, 80), churn_slice(name, ns, eps)]
					present[i] = 80
					n += 2
				elif r < 0.4:
					present[i] = 161 - present[i]  # 80 <-> 81
					puts.append(churn_service(name, ns, a, present[i]))
					n += 1
				elif r < 0.8:
					puts.append(churn_slice(name, ns, eps))
					n += 1
				else:
					dels += [churn_service(name, ns, a, 80), churn_slice(name, ns, eps)]
					del present[i]
					n += 2
			if puts:
				fake_write(port, "POST", puts)
			if dels:
				fake_write(port, "DELETE", dels)
			written[0] += n
			tick += 1
			delay = start + tick / 20 - time.monotonic()
			if delay > 0:
				time.sleep(delay)

	rss, cpu0, t_start = [], status(srv.pid)["cpu"], time.monotonic()

	def sampler():
		while not stop.wait(1.0):
			rss.append(status(srv.pid)["VmRSS"])

	threads = [threading.Thread(target=writer, daemon=True),
		threading.Thread(target=sampler, daemon=True)]
	rss.append(status(srv.pid)["VmRSS"])
	for t in threads:
		t.start()
	fresh, missed, mixed, k, qid = [], 0, 0, 0, 2
	while time.monotonic() - t_start < args.churn and not stop.is_set():
		n, ns = probes[k % len(probes)]
		k += 1
		old, new = addr[(n, ns)], "10.250.%d.%d" % (1 + (k >> 8) % 200, k & 255)
		t0 = time.monotonic()
		fake_write(port, "POST", [churn_service(n, ns, new, 80)])
		seen = False
		while time.monotonic() - t0 < 5:
			qid = qid % 65535 + 1
			a = ask(n, ns, qid)
			if a is False:
				continue
			if a == new:
				fresh.append((time.monotonic() - t0) * 1000)
				seen = True
				break
			if a != old:
				mixed += 1
		addr[(n, ns)] = new
		missed += not seen
		time.sleep(0.02)
	elapsed = time.monotonic() - t_start
	stop.set()
	for t in threads:
		t.join()
	if failed:
		raise SystemExit("k8s_scale: the churn's writes failed: %s" % failed[0])
	cpu = status(srv.pid)["cpu"] - cpu0
	rss.append(status(srv.pid)["VmRSS"])
	print("churn_events: %d" % written[0])
	print("churn_rate: %.0f" % (written[0] / elapsed))
	print("churn_cpu: %.2f" % (cpu / elapsed))
	print("fresh_n: %d" % len(fresh))
	print("fresh_missed: %d" % missed)
	print("fresh_p50: %.1f" % percentile(fresh, 0.5))
	print("fresh_p99: %.1f" % percentile(fresh, 0.99))
	print("fresh_max: %.1f" % max(fresh or [float("nan")]))
	print("mixed: %d" % mixed)
	print("churn_rss: %.1f %.1f %.1f" % (rss[0] / 1e6, max(rss) / 1e6, rss[-1] / 1e6))
	print("churn_rss_every_10s: " + " ".join("%.1f" % (r / 1e6) for r in rss[::10]))
	if load:
		stop_load(load, os.path.join(work, "dnsload.churn"), "churn")


def start_load(args, work, namespaces, port, rate, out):
	"""dnsload asking the cluster's names at rate a second, on Sextant's side; output in work/out."""
	binary = args.dnsload or os.path.join(os.path.dirname(os.path.abspath(args.sextant)),
		"tests", "bench", "dnsload")
	qfile = os.path.join(work, "queries")
	names_file(qfile, args.services, namespaces)
	return spawn([binary, "-p", str(port), "-f", qfile, "-r", str(rate), "-t", "3600"],
		open(os.path.join(work, out), "w"), cpus=args.load_cpus)


def stop_load(load, out_path, phase1):
	"""Stop dnsload and print its latency before and during (as @phase1) the test, then its output."""
	load.send_signal(signal.SIGINT)
	load.wait(60)
	text = open(out_path).read()
	for phase, name in ((0, "before"), (1, phase1)):
		m = re.search(r"^phase %d: .*p50 ([\d.]+) .*p99 ([\d.]+)" % phase, text, re.M)
		if m:
			print("p50_%s: %s" % (name, m.group(1)))
			print("p99_%s: %s" % (name, m.group(2)))
	for line in text.splitlines():
		print("dnsload: " + line)


def relist(args, port, srv, fake, log_path, work, namespaces, latency):
	"""A 410 for every watch: the plugin lists everything again beside what it serves."""
	load = None
	if latency:
		load = start_load(args, work, namespaces, dns_port(log_path), latency, "dnsload.out")
		time.sleep(5)  # phase 0: before
	watches = len(fake_get(port, "/_fake/watches")["watches"])
	seq = fake_get(port, "/_fake/requests?since=0")["next"]
	with open("/proc/%d/clear_refs" % srv.pid, "w") as f:
		f.write("5")  # VmHWM from here on
	before, fake_before = status(srv.pid), status(fake.pid)
	if load:
		load.send_signal(signal.SIGUSR1)  # phase 1: during
	t0 = time.time()
	# One write, then no history before it: the plugin's resourceVersion is too old. Every
	# watch ends with an ERROR 410 event, as kube-apiserver ends one after a compaction: a
	# watch that merely broke would be retried from where it was, and one that had already
	# seen the write would carry on without a LIST (a relist that never ended, 2026-12-04).
	fake_post(port, "/_fake/objects", json.dumps({"apiVersion": "v1", "kind": "Namespace",
		"metadata": {"name": "k8s-scale-relist-%d" % seq}}).encode())
	fake_post(port, "/_fake/compact")
	fake_post(port, "/_fake/drop-watches", json.dumps({"mode": "error"}).encode())
	# Over when every kind is watched again, each after its LIST.
	wait_for(lambda: len(list_requests(port, seq)) >= len(LISTS) and
		len(fake_get(port, "/_fake/watches")["watches"]) >= watches, 3600, "the relist",
		step=0.01)
	t1 = time.time()
	if load:
		load.send_signal(signal.SIGUSR1)  # phase 2: after
	during, fake_during = status(srv.pid), status(fake.pid)
	time.sleep(args.settle)
	after = status(srv.pid)
	print("relist: %.3f" % (t1 - t0))
	print("relist_cpu: %.2f" % (during["cpu"] - before["cpu"]))
	print("relist_fake_cpu: %.2f" % (fake_during["cpu"] - fake_before["cpu"]))
	print("relist_hwm: %.1f" % (during["VmHWM"] / 1e6))
	print("relist_rss: %.1f" % (after["VmRSS"] / 1e6))
	if load:
		stop_load(load, os.path.join(work, "dnsload.out"), "during")


if __name__ == "__main__":
	sys.exit(main())
