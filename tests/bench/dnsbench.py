#!/usr/bin/python3
"""dnsbench.py -- Sextant against Knot DNS, NSD and Unbound on loopback: QPS, CPU per query, memory.

Prints figures, never judges them: the exit status is 0 unless a server could not be started, or
answered with the wrong mix of rcodes, or lost more than 2% of its queries (then its figures mean
nothing: a healthy server on loopback loses none).
Every server runs on 127.0.0.1 on a free port with a configuration written to a temporary
directory, and is killed on exit, whatever happens. See docs/benchmarks.md.
"""

import argparse
import atexit
import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ZONE = "cluster.local."
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1

# Every process group started here; killed by cleanup() at exit or on a signal.
started = []


def cleanup():
	# The whole group: NSD's children outlive a killed parent otherwise.
	for p in started:
		try:
			os.killpg(p.pid, signal.SIGKILL)
		except ProcessLookupError:
			pass
		p.wait()
	started.clear()


def on_signal(signum, frame):
	cleanup()
	if signum == signal.SIGALRM:
		print("dnsbench: overall time limit reached, stopped", file=sys.stderr)
	sys.exit(1)


def env_int(name, default):
	v = os.environ.get(name)
	return int(v) if v else default


def free_port():
	"""A port free for both UDP and TCP on 127.0.0.1."""
	for _ in range(50):
		u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		u.bind(("127.0.0.1", 0))
		port = u.getsockname()[1]
		t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		try:
			t.bind(("127.0.0.1", port))
			return port
		except OSError:
			continue
		finally:
			t.close()
			u.close()
	raise RuntimeError("no free port on 127.0.0.1")


# ---------------------------------------------------------------------------------------------
# Data: a cluster-like zone and a query mix shaped like pods' lookups.

def svc_name(i):
	return "svc-%04d.ns-%02d.svc.%s" % (i, i % 20, ZONE)


def write_zone(path, records):
	with open(path, "w") as f:
		f.write("$ORIGIN %s\n$TTL 300\n" % ZONE)
		f.write("@ IN SOA ns.dns.%s hostmaster.%s 1 7200 1800 86400 30\n" % (ZONE, ZONE))
		f.write("@ IN NS ns.dns.%s\n" % ZONE)
		f.write("ns.dns IN A 10.96.0.10\n")
		for i in range(records):
			f.write("%s IN A 10.%d.%d.%d\n" % (svc_name(i), 96 + i // 65536,
			                                   (i // 256) % 256, i % 256))


def write_queries(path, records, count, seed=1):
	"""60% A of existing names, 20% AAAA of them (NODATA), 20% search-list misses (NXDOMAIN)."""
	rnd = random.Random(seed)
	misses = ["%s.ns-%02d.svc.%s" % (h, k, ZONE)
	          for h in ("www.example.com", "api.github.com", "registry.npmjs.org",
	                    "s3.amazonaws.com", "pypi.org")
	          for k in range(20)]
	with open(path, "w") as f:
		for _ in range(count):
			r = rnd.random()
			if r < 0.6:
				f.write("%s A\n" % svc_name(rnd.randrange(records)))
			elif r < 0.8:
				f.write("%s AAAA\n" % svc_name(rnd.randrange(records)))
			else:
				f.write("%s A\n" % rnd.choice(misses))
	return {"NOERROR": 0.8, "NXDOMAIN": 0.2}


# ---------------------------------------------------------------------------------------------
# A tiny stub client for readiness and sanity probes (stdlib only).

def dns_query(port, name, qtype, timeout=0.5):
	"""(rcode, answer count) of one UDP query to 127.0.0.1:port, or None without a reply."""
	qid = random.randrange(65536)
	wire = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
	for label in name.rstrip(".").split("."):
		wire += bytes([len(label)]) + label.encode()
	wire += b"\0" + struct.pack(">HH", {"A": 1, "AAAA": 28, "SOA": 6}[qtype], 1)
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.settimeout(timeout)
	try:
		s.sendto(wire, ("127.0.0.1", port))
		while True:
			data, _ = s.recvfrom(4096)
			if len(data) >= 12 and struct.unpack(">H", data[:2])[0] == qid:
				flags, _, an = struct.unpack(">HHH", data[2:8])
				return flags & 0xF, an
	except OSError:
		return None
	finally:
		s.close()


RCODES = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}


def probe(port):
	"""Empty string when the three kinds of answer are right, else what is wrong."""
	want = [(svc_name(7), "A", 0, True), (svc_name(7), "AAAA", 0, False),
	        ("nope.ns-01.svc." + ZONE, "A", 3, False)]
	bad = []
	for name, qtype, rcode, answer in want:
		r = dns_query(port, name, qtype)
		if r is None:
			bad.append("%s %s: no reply" % (name, qtype))
		elif r[0] != rcode or (r[1] > 0) != answer:
			bad.append("%s %s: %s with %d answers" % (name, qtype,
			           RCODES.get(r[0], r[0]), r[1]))
	return "; ".join(bad)


# ---------------------------------------------------------------------------------------------
# /proc readings of a server's process tree (NSD forks its workers; the others use threads).

def proc_tree(root):
	kids = {}
	for d in os.listdir("/proc"):
		if not d.isdigit():
			continue
		try:
			with open("/proc/%s/stat" % d) as f:
				st = f.read()
		except OSError:
			continue
		ppid = int(st[st.rindex(")") + 2:].split()[1])
		kids.setdefault(ppid, []).append(int(d))
	out, todo = [], [root]
	while todo:
		p = todo.pop()
		out.append(p)
		todo.extend(kids.get(p, []))
	return out


def cpu_ticks(root):
	total = 0
	for p in proc_tree(root):
		try:
			with open("/proc/%d/stat" % p) as f:
				st = f.read()
		except OSError:
			continue
		fields = st[st.rindex(")") + 2:].split()
		total += int(fields[11]) + int(fields[12])  # utime, stime
	return total


def ctx_switches(root):
	"""Context switches of every thread of the tree: how often the server slept and woke."""
	total = 0
	for p in proc_tree(root):
		try:
			tasks = os.listdir("/proc/%d/task" % p)
		except OSError:
			continue
		for t in tasks:
			try:
				with open("/proc/%d/task/%s/status" % (p, t)) as f:
					for line in f:
						if "ctxt_switches:" in line:  # voluntary and not
							total += int(line.split()[1])
			except OSError:
				pass
	return total


def machine_busy_ticks():
	with open("/proc/stat") as f:
		v = [int(x) for x in f.readline().split()[1:]]
	return sum(v[:8]) - v[3] - v[4]  # all but idle and iowait


def memory(root):
	"""VmRSS and VmHWM of the main process, and PSS summed over its tree, in KiB."""
	m = {"rss": 0, "hwm": 0, "pss": 0, "procs": 0}
	with open("/proc/%d/status" % root) as f:
		for line in f:
			if line.startswith("VmRSS:"):
				m["rss"] = int(line.split()[1])
			elif line.startswith("VmHWM:"):
				m["hwm"] = int(line.split()[1])
	for p in proc_tree(root):
		try:
			with open("/proc/%d/smaps_rollup" % p) as f:
				for line in f:
					if line.startswith("Pss:"):
						m["pss"] += int(line.split()[1])
			m["procs"] += 1
		except OSError:
			pass
	return m


# ---------------------------------------------------------------------------------------------
# Servers: each writes its configuration into its own directory and starts in the foreground.

class Server:
	def __init__(self, name, label, argv_fn, conf_fn, zone_file, workdir, binary=None):
		self.name, self.label, self.bin = name, label, binary
		self.dir = os.path.join(workdir, name)
		os.makedirs(self.dir)
		self.port = free_port()
		self.zone_file = zone_file
		self.conf_fn, self.argv_fn = conf_fn, argv_fn
		self.proc = None
		self.mem_loaded = self.mem_after = None

	def start(self, timeout=30):
		conf = os.path.join(self.dir, "conf")
		with open(conf, "w") as f:
			f.write(self.conf_fn(self))
		self.log = os.path.join(self.dir, "log")
		with open(self.log, "w") as logf:
			self.proc = subprocess.Popen(self.argv_fn(self, conf), stdin=subprocess.DEVNULL,
			                             stdout=logf, stderr=subprocess.STDOUT,
			                             cwd=self.dir, start_new_session=True)
		started.append(self.proc)
		deadline = time.monotonic() + timeout
		while time.monotonic() < deadline:
			if self.proc.poll() is not None:
				raise RuntimeError("%s exited with %d:\n%s" % (self.label, self.proc.returncode,
				                   self.log_tail()))
			if dns_query(self.port, "ns.dns." + ZONE, "A", 0.2) is not None:
				return
			time.sleep(0.1)
		raise RuntimeError("%s did not answer within %d s:\n%s" % (self.label, timeout,
		                   self.log_tail()))

	def stop(self):
		if self.proc and self.proc.poll() is None:
			os.killpg(self.proc.pid, signal.SIGTERM)
			try:
				self.proc.wait(10)
			except subprocess.TimeoutExpired:
				os.killpg(self.proc.pid, signal.SIGKILL)
				self.proc.wait()

	def log_tail(self):
		with open(self.log, errors="replace") as f:
			return "".join(f.readlines()[-15:])


def sextant_corefile(zone, body):
	def conf(s):
		return "%s:%d {\n\tbind 127.0.0.1\n%s}\n" % (zone, s.port, body(s))
	return conf


def sextant_argv(workers):
	def argv(s, conf):
		a = [s.bin, "-conf", conf, "-quiet"]
		return a + (["-workers", str(workers)] if workers else [])
	return argv


def knot_conf(s):
	return f"""server:
    rundir: "{s.dir}"
    listen: 127.0.0.1@{s.port}
    udp-workers: {NCPU}
    tcp-workers: 1
    background-workers: 1
control:
    listen: "{s.dir}/knot.sock"
log:
  - target: stderr
    any: warning
database:
    storage: "{s.dir}/db"
template:
  - id: default
    storage: "{s.dir}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
  - domain: {ZONE}
    file: "{s.zone_file}"
"""


def nsd_conf(s):
	return f"""server:
    ip-address: 127.0.0.1@{s.port}
    do-ip6: no
    server-count: {NCPU}
    reuseport: yes
    username: ""
    chroot: ""
    zonesdir: "{s.dir}"
    database: ""
    zonelistfile: "{s.dir}/zone.list"
    xfrdfile: "{s.dir}/xfrd.state"
    xfrdir: "{s.dir}"
    pidfile: "{s.dir}/nsd.pid"
    verbosity: 0
    hide-version: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: {ZONE}
    zonefile: "{s.zone_file}"
"""


def unbound_common(s):
	return f"""server:
    interface: 127.0.0.1@{s.port}
    port: {s.port}
    num-threads: {NCPU}
    so-reuseport: yes
    do-ip6: no
    username: ""
    chroot: ""
    directory: "{s.dir}"
    pidfile: "{s.dir}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 0
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    do-not-query-localhost: no
remote-control:
    control-enable: no
"""


def unbound_auth_conf(s):
	return unbound_common(s) + f"""auth-zone:
    name: "{ZONE}"
    zonefile: "{s.zone_file}"
    for-downstream: yes
    for-upstream: no
    fallback-enabled: no
"""


def unbound_forward_conf(upstream):
	def conf(s):
		return unbound_common(s) + f"""forward-zone:
    name: "."
    forward-addr: 127.0.0.1@{upstream.port}
"""
	return conf


PEERS = {
	"knot": ("knotd", lambda s, conf: ["knotd", "-c", conf], knot_conf),
	"nsd": ("nsd", lambda s, conf: ["nsd", "-d", "-c", conf], nsd_conf),
	"unbound": ("unbound", lambda s, conf: ["unbound", "-d", "-c", conf], unbound_auth_conf),
}


# ---------------------------------------------------------------------------------------------
# Load runs.

def dnsperf(server, qfile, args, seconds, extra=()):
	"""Run dnsperf against @server; its figures, the server's CPU and the machine's."""
	argv = ["dnsperf", "-s", "127.0.0.1", "-p", str(server.port), "-d", qfile, "-l",
	        str(seconds), "-c", str(args.clients), "-T", "1", "-q", str(args.outstanding),
	        "-t", "1"] + list(extra)
	with tempfile.TemporaryFile(mode="w+") as out:
		x0 = ctx_switches(server.proc.pid)
		c0, m0, t0 = cpu_ticks(server.proc.pid), machine_busy_ticks(), time.monotonic()
		p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
		                     stderr=subprocess.DEVNULL, start_new_session=True)
		started.append(p)
		try:
			# dnsperf stops itself after -l seconds; the overall alarm bounds a hung one.
			_, status, ru = os.wait4(p.pid, 0)
			p.returncode = os.waitstatus_to_exitcode(status)
		finally:
			if p in started:
				started.remove(p)
		c1, m1, t1 = cpu_ticks(server.proc.pid), machine_busy_ticks(), time.monotonic()
		x1 = ctx_switches(server.proc.pid)
		out.seek(0)
		text = out.read()
	r = parse_dnsperf(text)
	if r is None:
		raise RuntimeError("dnsperf against %s printed no statistics:\n%s"
		                   % (server.label, text[-2000:]))
	wall = t1 - t0
	srv = (c1 - c0) / CLK_TCK
	client = ru.ru_utime + ru.ru_stime
	r.update(wall=wall, srv_cores=srv / wall, client_cores=client / wall,
	         other_cores=max(0.0, (m1 - m0) / CLK_TCK - srv - client) / wall,
	         cpu_us=srv * 1e6 / r["completed"] if r["completed"] else float("nan"),
	         cs_per_kq=(x1 - x0) * 1000.0 / r["completed"] if r["completed"] else float("nan"),
	         text=text)
	return r


def parse_dnsperf(text):
	def num(pattern):
		m = re.search(pattern, text)
		return float(m.group(1)) if m else None
	r = {"sent": num(r"Queries sent:\s+(\d+)"), "completed": num(r"Queries completed:\s+(\d+)"),
	     "lost": num(r"Queries lost:\s+(\d+)"), "qps": num(r"Queries per second:\s+([\d.]+)"),
	     "avg": num(r"Average Latency \(s\):\s+([\d.]+)")}
	if None in r.values():
		return None
	r["rcodes"] = {k: int(v) for k, v in re.findall(r"([A-Z]+) (\d+) \(", text.split(
		"Response codes:")[1].split("\n")[0])} if "Response codes:" in text else {}
	r["latencies"] = [float(x) for x in re.findall(r"^> \S+ \S+ \S+ ([\d.]+)$", text, re.M)]
	return r


def med(xs):
	return statistics.median(xs) if xs else float("nan")


def pct(xs, p):
	if not xs:
		return float("nan")
	xs = sorted(xs)
	return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def check_mix(server, runs, expect):
	"""The rcode mix of the runs against the mix in the query file, within 3 points."""
	got = {}
	for r in runs:
		for k, v in r["rcodes"].items():
			got[k] = got.get(k, 0) + v
	total = sum(got.values())
	if not total:
		return "no answers"
	bad = [("%s %.1f%% (want %.0f%%)" % (k, 100.0 * got.get(k, 0) / total, 100 * share))
	       for k, share in expect.items() if abs(got.get(k, 0) / total - share) > 0.03]
	bad += ["%s %d" % (k, v) for k, v in got.items() if k not in expect]
	return ", ".join(bad)


def run_rounds(servers, qfile, args, expect, title):
	"""args.runs rounds of args.seconds against every server in turn, so that the machine's
	noise spreads over all of them alike; then a paced run for latency percentiles."""
	results = {s.name: [] for s in servers}
	print("\n== %s" % title)
	print("   dnsperf -c %d -T 1 -q %d -t 1 -l %d; %d rounds, servers interleaved"
	      % (args.clients, args.outstanding, args.seconds, args.runs))
	sys.stdout.flush()
	for rnd in range(args.runs):
		for s in servers:
			r = dnsperf(s, qfile, args, args.seconds)
			results[s.name].append(r)
			if args.verbose:
				print("   round %d %-22s %9.0f qps %6.2f us/q  srv %.2f cli %.2f other %.2f cores"
				      % (rnd + 1, s.label, r["qps"], r["cpu_us"], r["srv_cores"],
				         r["client_cores"], r["other_cores"]))
				sys.stdout.flush()
	lat = {}
	if args.rate:
		for s in servers:
			r = dnsperf(s, qfile, args, args.latency_seconds, ["-Q", str(args.rate), "-v"])
			lat[s.name] = r["latencies"]
	for s in servers:
		s.mem_after = memory(s.proc.pid)

	problems = []
	print("   %-22s %7s %15s %8s %13s %7s %6s %6s %5s %6s %5s"
	      % ("server", "QPS", "(min-max)", "us/query", "(min-max)", "avg ms", "lost%", "cs/kq",
	         "srv", "client", "other"))
	for s in servers:
		rs = results[s.name]
		qps = [r["qps"] for r in rs]
		cpu = [r["cpu_us"] for r in rs]
		lost = sum(r["lost"] for r in rs) * 100.0 / max(1, sum(r["sent"] for r in rs))
		print("   %-22s %7.0f %7.0f-%-7.0f %8.2f %6.2f-%-6.2f %7.3f %6.2f %6.0f %5.2f %6.2f %5.2f"
		      % (s.label, med(qps), min(qps), max(qps), med(cpu), min(cpu), max(cpu),
		         med([r["avg"] for r in rs]) * 1e3, lost, med([r["cs_per_kq"] for r in rs]),
		         med([r["srv_cores"] for r in rs]), med([r["client_cores"] for r in rs]),
		         med([r["other_cores"] for r in rs])))
		bad = check_mix(s, rs, expect)
		if lost > 2:
			bad = (bad + "; " if bad else "") + "%.0f%% of queries lost" % lost
		if bad:
			problems.append("%s: %s" % (s.label, bad))
	print("   (medians of the rounds, min-max beside them. us/query: the server's CPU time, user +"
	      " system,\n    all threads and processes, per query answered. avg ms: dnsperf's"
	      " average latency at\n    saturation. cs/kq: the server's context switches per 1000"
	      " queries. srv, client, other:\n    CPU cores used by the server, by dnsperf and by"
	      " everything else on the machine)")
	if lat:
		print("\n   latency at a paced %d queries/s for %d s (dnsperf -Q %d -v), ms:"
		      % (args.rate, args.latency_seconds, args.rate))
		print("   %-22s %8s %8s %8s %8s %8s" % ("server", "p50", "p90", "p99", "p99.9", "max"))
		for s in servers:
			xs = lat[s.name]
			print("   %-22s %8.3f %8.3f %8.3f %8.3f %8.3f" % (s.label, pct(xs, 50) * 1e3,
			      pct(xs, 90) * 1e3, pct(xs, 99) * 1e3, pct(xs, 99.9) * 1e3,
			      (max(xs) if xs else float("nan")) * 1e3))
	print_memory(servers)
	print_ratios(servers, results, lat)
	if args.profile:
		for s in servers:
			if s.name.startswith("sextant"):
				profile(s, qfile, args)
	return problems


def profile(server, qfile, args):
	"""perf record (cpu-clock) of @server under the same load; its top user-space functions."""
	data = os.path.join(server.dir, "perf.data")
	load = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(server.port), "-d", qfile,
	                         "-l", str(args.seconds + 2), "-c", str(args.clients), "-T", "1",
	                         "-q", str(args.outstanding), "-t", "1"],
	                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
	                        stderr=subprocess.DEVNULL, start_new_session=True)
	started.append(load)
	time.sleep(1)
	rec = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "1999", "-p",
	                      str(server.proc.pid), "-o", data, "--", "sleep", str(args.seconds)],
	                     stdin=subprocess.DEVNULL, capture_output=True, text=True,
	                     timeout=args.seconds + 30)
	load.wait(args.seconds + 30)
	if load in started:
		started.remove(load)
	print("\n   perf profile of %s under load (perf record -e cpu-clock):" % server.label)
	if rec.returncode != 0:
		print("   perf record failed: %s" % rec.stderr.strip().split("\n")[-1])
		return
	for what, sort, extra, n in (("share of samples by object", "dso", [], 6),
	                             ("top functions of the sextant binary", "symbol",
	                              ["--dsos", os.path.basename(server.bin)], 15)):
		rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
		                      "--sort", sort] + extra, stdin=subprocess.DEVNULL,
		                     capture_output=True, text=True, timeout=120)
		lines = [l.split("  -  ")[0].strip() for l in rep.stdout.split("\n")
		         if re.match(r"^\s+\d", l)]
		print("   %s:\n%s" % (what, "\n".join("     " + l for l in lines[:n])))


def print_memory(servers):
	print("\n   memory, MiB: RSS/HWM of the main process; PSS summed over all its processes")
	print("   %-22s %10s %10s %10s %10s %6s" % ("server", "RSS loaded", "RSS after", "HWM after",
	                                           "PSS after", "procs"))
	for s in servers:
		a, b = s.mem_loaded, s.mem_after
		print("   %-22s %10.1f %10.1f %10.1f %10.1f %6d" % (s.label, a["rss"] / 1024.0,
		      b["rss"] / 1024.0, b["hwm"] / 1024.0, b["pss"] / 1024.0, b["procs"]))


def print_ratios(servers, results, lat):
	ours = [s for s in servers if s.name.startswith("sextant")]
	peers = [s for s in servers if not s.name.startswith("sextant")]
	if not ours or not peers:
		return
	print("\n   ratios, Sextant / peer (QPS > 1: Sextant faster; us/query, p50, PSS < 1:"
	      " Sextant cheaper)")
	for o in ours:
		for p in peers:
			qo = med([r["qps"] for r in results[o.name]])
			qp = med([r["qps"] for r in results[p.name]])
			co = med([r["cpu_us"] for r in results[o.name]])
			cp = med([r["cpu_us"] for r in results[p.name]])
			line = "   %-22s vs %-18s QPS %5.2fx  us/query %5.2fx" % (o.label, p.label,
			       qo / qp, co / cp)
			if lat and lat[o.name] and lat[p.name]:
				line += "  p50 %5.2fx" % (pct(lat[o.name], 50) / pct(lat[p.name], 50))
			line += "  PSS %5.2fx" % (o.mem_after["pss"] / p.mem_after["pss"])
			print(line)


# ---------------------------------------------------------------------------------------------
# Scenarios.

def start_all(servers):
	for s in servers:
		s.start()
		bad = probe(s.port)
		if bad:
			raise RuntimeError("%s answers wrongly: %s" % (s.label, bad))
		s.mem_loaded = memory(s.proc.pid)


def scenario_auth(args, work):
	zone = os.path.join(work, "zone.db")
	qfile = os.path.join(work, "queries.txt")
	write_zone(zone, args.records)
	expect = write_queries(qfile, args.records, 10000)
	servers = []
	for w in ([0, 1] if NCPU > 1 else [0]):
		label = "sextant" if not w else "sextant -workers %d" % w
		servers.append(Server("sextant-w%d" % w, label, sextant_argv(w),
		                      sextant_corefile(ZONE, lambda s: "\tfile %s\n" % s.zone_file),
		                      zone, work, args.sextant))
	for name in args.peers:
		prog, argv, conf = PEERS[name]
		if not shutil.which(prog):
			print("   %s not installed: skipped" % prog)
			continue
		label = name if name != "unbound" else "unbound auth-zone"
		servers.append(Server(name, label, argv, conf, zone, work))
	start_all(servers)
	try:
		return run_rounds(servers, qfile, args, expect,
		                  "Authoritative: %s from a zone file, %d A records; queries 60%% A,"
		                  " 20%% AAAA (NODATA), 20%% NXDOMAIN" % (ZONE, args.records))
	finally:
		for s in servers:
			s.stop()


def scenario_forward(args, work, plugins):
	if "dns.cache" not in plugins or "dns.forward" not in plugins:
		print("\n== Cached forwarding\n   forward/cache not built: skipped")
		return []
	if not shutil.which("knotd"):
		print("\n== Cached forwarding\n   knotd (the upstream) not installed: skipped")
		return []
	zone = os.path.join(work, "fwd-zone.db")
	qfile = os.path.join(work, "fwd-queries.txt")
	write_zone(zone, args.records)
	# Few distinct names asked over and over: after the first round all are cache hits.
	expect = write_queries(qfile, min(args.records, 200), 10000, seed=2)
	upstream = Server("upstream", "knotd upstream", PEERS["knot"][1], knot_conf, zone, work)
	start_all([upstream])
	servers = []
	try:
		servers.append(Server("sextant-cache", "sextant cache+forward", sextant_argv(0),
		                      sextant_corefile(".", lambda s: "\tcache 30\n\tforward . 127.0.0.1:%d\n"
		                                       % upstream.port), zone, work, args.sextant))
		servers.append(Server("sextant-fwd", "sextant forward only", sextant_argv(0),
		                      sextant_corefile(".", lambda s: "\tforward . 127.0.0.1:%d\n"
		                                       % upstream.port), zone, work, args.sextant))
		if shutil.which("unbound"):
			servers.append(Server("unbound-fwd", "unbound forwarder", PEERS["unbound"][1],
			                      unbound_forward_conf(upstream), zone, work))
		else:
			print("   unbound not installed: no peer for this scenario")
		start_all(servers)
		for s in servers:  # fill the caches
			dnsperf(s, qfile, args, 1)
		problems = run_rounds(servers, qfile, args, expect,
		                      "Cached forwarding: cache in front of forward to Knot DNS on"
		                      " 127.0.0.1:%d;\n   200 names asked over and over (same mix),"
		                      " all cache hits after a 1 s warm-up" % upstream.port)
		up_cpu = cpu_ticks(upstream.proc.pid) / CLK_TCK
		print("   (the upstream knotd used %.1f s of CPU in all: the forward-only row pays it"
		      " on every query)" % up_cpu)
		return problems
	finally:
		for s in servers + [upstream]:
			s.stop()


def scenario_memory(args, work):
	"""Resident memory of each server holding a small and a big zone, and the cost per record."""
	sizes = (args.records, args.big_records)
	print("\n== Memory: each server started alone on a zone of %d, then of %d A records"
	      " (no load)" % sizes)
	zones = []
	for n in sizes:
		zones.append(os.path.join(work, "mem-%d.db" % n))
		write_zone(zones[-1], n)
	kinds = [("sextant", "sextant", sextant_argv(0),
	          sextant_corefile(ZONE, lambda s: "\tfile %s\n" % s.zone_file))]
	for name in args.peers:
		prog, argv, conf = PEERS[name]
		if shutil.which(prog):
			kinds.append((name, name if name != "unbound" else "unbound auth-zone", argv, conf))
	print("   %-22s %12s %12s %12s %14s" % ("server", "RSS %dk" % (sizes[0] // 1000),
	      "RSS %dk" % (sizes[1] // 1000), "PSS %dk" % (sizes[1] // 1000), "bytes/record"))
	rows = {}
	for name, label, argv, conf in kinds:
		mem = []
		for n, zone in zip(sizes, zones):
			s = Server("mem-%s-%d" % (name, n), label, argv, conf, zone, work, args.sextant)
			try:
				s.start(timeout=120)
				time.sleep(1)  # let background loading (Knot, Unbound) settle
				mem.append(memory(s.proc.pid))
			finally:
				s.stop()
		rows[name] = mem
		print("   %-22s %12.1f %12.1f %12.1f %14.0f" % (label, mem[0]["rss"] / 1024.0,
		      mem[1]["rss"] / 1024.0, mem[1]["pss"] / 1024.0,
		      (mem[1]["pss"] - mem[0]["pss"]) * 1024.0 / (sizes[1] - sizes[0])))
	print("   (MiB; RSS of the main process, PSS summed over all its processes;"
	      " bytes/record from PSS)")
	for name in rows:
		if name != "sextant":
			print("   sextant / %-18s PSS with %dk records: %5.2fx" % (name, sizes[1] // 1000,
			      rows["sextant"][1]["pss"] / rows[name][1]["pss"]))
	return []


def main():
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--sextant", default=os.environ.get("SEXTANT_BIN"),
	                help="the sextant binary (default: $SEXTANT_BIN, else ./build/sextant)")
	ap.add_argument("--runs", type=int, default=env_int("SX_BENCH_RUNS", 5))
	ap.add_argument("--seconds", type=int, default=env_int("SX_BENCH_SECONDS", 5))
	ap.add_argument("--clients", type=int, default=env_int("SX_BENCH_CLIENTS", 8))
	ap.add_argument("--outstanding", type=int, default=env_int("SX_BENCH_OUTSTANDING", 200))
	ap.add_argument("--rate", type=int, default=env_int("SX_BENCH_RATE", 5000),
	                help="queries/s of the latency run (0: no latency run)")
	ap.add_argument("--latency-seconds", type=int, default=3)
	ap.add_argument("--records", type=int, default=1000)
	ap.add_argument("--big-records", type=int, default=100000,
	                help="zone size of the second memory measurement")
	ap.add_argument("--peers", default=os.environ.get("SX_BENCH_PEERS", "knot,nsd,unbound"),
	                help="comma-separated peers for the authoritative runs")
	ap.add_argument("--scenarios",
	                default=os.environ.get("SX_BENCH_SCENARIOS", "auth,forward,memory"),
	                help="comma-separated: auth, forward, memory")
	ap.add_argument("--keep", action="store_true", help="keep the working directory")
	ap.add_argument("-v", "--verbose", action="store_true", help="print every round")
	ap.add_argument("--profile", action="store_true",
	                help="also profile each Sextant under load with perf (linux-perf)")
	args = ap.parse_args()
	args.peers = [p for p in args.peers.split(",") if p]
	for p in args.peers:
		if p not in PEERS:
			ap.error("unknown peer %s (known: %s)" % (p, ", ".join(PEERS)))
	if not args.sextant:
		args.sextant = os.path.join(os.getcwd(), "build", "sextant")
	args.sextant = os.path.abspath(args.sextant)
	if not os.access(args.sextant, os.X_OK):
		ap.error("no sextant binary at %s (set SEXTANT_BIN or --sextant)" % args.sextant)
	if not shutil.which("dnsperf"):
		print("dnsperf not installed (Debian package dnsperf): skipped")
		return 77
	if args.profile and not shutil.which("perf"):
		ap.error("--profile needs perf (Debian package linux-perf)")

	# Bound the whole run: 8 servers in rounds and latency runs, 4 profiles, about 20 start-ups
	# (30 s each at most), with a wide margin.
	budget = 8 * (args.runs * (args.seconds + 3) + args.latency_seconds + 5) + \
		4 * (args.seconds + 15) + 20 * 30 + 120
	signal.signal(signal.SIGALRM, on_signal)
	signal.alarm(budget)
	for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
		signal.signal(sig, on_signal)
	atexit.register(cleanup)

	work = tempfile.mkdtemp(prefix="sx-bench-")
	try:
		return run(args, work)
	except RuntimeError as e:
		print("dnsbench: %s" % e)
		return 1
	finally:
		cleanup()
		if args.keep:
			print("\nworking directory kept: %s" % work)
		else:
			shutil.rmtree(work, ignore_errors=True)


def version(argv, pattern=r"[^\n]+"):
	try:
		out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
	except (OSError, subprocess.TimeoutExpired):
		return "not installed"
	m = re.search(pattern, (out.stdout + out.stderr).strip())
	return m.group(0) if m else "?"


def run(args, work):
	plugins = subprocess.run([args.sextant, "-plugins"], capture_output=True, text=True,
	                         timeout=10).stdout
	print("dnsbench: %s, %d CPUs, load average %s" % (time.strftime("%Y-%m-%d %H:%M %Z"), NCPU,
	      " ".join(open("/proc/loadavg").read().split()[:3])))
	model = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read())
	print("  cpu      %s; kernel %s" % (model.group(1) if model else "?", os.uname().release))
	print("  command  %s" % " ".join(sys.argv))
	print("  sextant  %s (%s)" % (version([args.sextant, "-version"]), args.sextant))
	for name, argv, pattern in (("knotd", ["knotd", "-V"], r"[^\n]+"),
	                            ("nsd", ["nsd", "-v"], r"[^\n]+"),
	                            ("unbound", ["unbound", "-V"], r"[^\n]+"),
	                            ("dnsperf", ["dnsperf", "-h"], r"Version \S+")):
		print("  %-8s %s" % (name, version(argv, pattern)))
	problems = []
	scenarios = args.scenarios.split(",")
	if "auth" in scenarios:
		problems += scenario_auth(args, work)
	if "forward" in scenarios:
		problems += scenario_forward(args, work, plugins)
	if "memory" in scenarios:
		problems += scenario_memory(args, work)
	print("\nload average at the end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
	if problems:
		print("\nFIGURES NOT VALID (wrong answers, or more than 2% of queries lost):")
		for p in problems:
			print("  " + p)
		return 1
	return 0


if __name__ == "__main__":
	sys.exit(main())
