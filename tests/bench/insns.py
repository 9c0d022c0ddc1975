#!/usr/bin/python3
"""insns.py -- user-space instructions per query, counted by callgrind: cluster names or cache hits.

--path cluster: the benchmark's cluster (tests/bench/run: 10,000 Services in 100 namespaces;
10,000 queries, 60% A, 20% AAAA, 20% NXDOMAIN) served by each server. --path hit: the benchmark's
cache-hit path, Sextant with its `cache` + `forward` Corefile in front of a knotd upstream on
loopback, asked the benchmark's hit queries (the same mix over 200 names); every pass but the
first is all hits, and the first is the same in both runs.
Each server runs under `valgrind --tool=callgrind`, twice: answering `dnsperf -c 1 -q 20
-n SHORT`, then `-n LONG` passes over the query file. The difference of the two totals over the
difference of the queries is the cost of one query without start-up, sync or shutdown (or, for
hits, the first pass's misses); the machine's load does not change it. --worker counts Sextant's
worker thread alone (--toggle-collect=worker_main) and --annotate prints its inclusive profile
(the longer run's). See docs/performance.md ("Instructions per query, cluster names").

  tests/bench/insns.py --sextant build-release/sextant [--knot] [--worker] [--annotate 30]
  tests/bench/insns.py --sextant build-release/sextant --path hit [--worker]
"""

import argparse
import importlib.machinery
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
bench = importlib.machinery.SourceFileLoader("bench_run", os.path.join(HERE, "run")).load_module()

QUERIES = 10000  # lines of the query file; dnsperf -n N asks them N times


class Box:
	"""What bench.knot_conf() and friends read of a server: its directory and port."""

	def __init__(self, path):
		self.dir = path
		self.port = bench.free_port()


def callgrind(argv, out, extra):
	return ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + extra + argv


def wait_ready(proc, port, namespaces, log):
	deadline = time.monotonic() + 600  # a sync under callgrind is slow
	name = bench.svc_name(7, namespaces)  # on the hit path, forwarded (and then cached)
	while time.monotonic() < deadline:
		if proc.poll() is not None:
			raise RuntimeError("server exited:\n" + open(log, errors="replace").read()[-2000:])
		if bench.dns_query(port, name, "A", timeout=0.5) == (0, 1):
			return
		time.sleep(0.2)
	raise RuntimeError("server not ready after 600 s")


def total(path):
	"""The Ir total of a callgrind output file."""
	with open(path) as f:
		for line in f:
			m = re.match(r"(?:summary|totals):\s+(\d+)", line)
			if m:
				return int(m.group(1))
	raise RuntimeError("no total in " + path)


def sextant_conf(args, work, box, upstream):
	if args.path == "hit":
		return bench.sextant_forward_conf(upstream)(box)
	return bench.sextant_cluster_conf(os.path.join(work, "manifests"))(box)


def cache_ttl(conf):
	"""The most seconds `cache` keeps an answer in Corefile text @conf."""
	return int(re.search(r"\bcache (\d+)", conf).group(1))


def one_run(kind, args, work, passes, upstream):
	d = tempfile.mkdtemp(dir=work, prefix="%s-%d-" % (kind, passes))
	box = Box(d)
	out = os.path.join(d, "callgrind.out")
	ttl = None
	if kind == "sextant":
		conf = os.path.join(d, "Corefile")
		text = sextant_conf(args, work, box, upstream)
		with open(conf, "w") as f:
			f.write(text)
		ttl = cache_ttl(text) if args.path == "hit" else None
		extra = ["--toggle-collect=worker_main"] if args.worker else []
		argv = callgrind([args.sextant, "-conf", conf, "-quiet", "-workers", "1"], out, extra)
	else:
		conf = os.path.join(d, "knot.conf")
		with open(conf, "w") as f:
			f.write(bench.knot_conf([(bench.ZONE, os.path.join(work, "zone"))])(box))
		argv = callgrind(["knotd", "-c", conf], out, [])
	log = os.path.join(d, "log")
	with open(log, "w") as logf:
		p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
		                     cwd=d, start_new_session=True)
	bench.started.append(p)
	try:
		wait_ready(p, box.port, args.namespaces, log)
		began = time.monotonic()
		r = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(box.port), "-d",
		                    os.path.join(work, "queries"), "-c", "1", "-q", "20", "-n",
		                    str(passes), "-t", "5"], capture_output=True, text=True)
		m = re.search(r"Queries completed:\s+(\d+)", r.stdout)
		if r.returncode != 0 or not m:
			raise RuntimeError("dnsperf failed:\n" + r.stdout + r.stderr)
		done = int(m.group(1))
		if ttl is not None and time.monotonic() - began >= ttl:
			# Answers cached in the first pass expired: later passes had misses too.
			print("  %s: the run took longer than the cache's %d s: not all hits" % (kind, ttl))
	finally:
		if p.poll() is None:
			os.killpg(p.pid, signal.SIGTERM)
		p.wait()
		bench.started.remove(p)
	if done != passes * QUERIES:
		print("  %s: %d of %d queries answered" % (kind, done, passes * QUERIES))
	return total(out), done, out


def start_upstream(args, work):
	"""The hit path's knotd upstream, as tests/bench/run starts it, and its query file."""
	zone = os.path.join(work, "upstream.zone")
	bench.write_zone(zone, args.services, args.namespaces, ttl=3600)
	bench.write_cluster_queries(os.path.join(work, "queries"), min(args.services, 200),
	                            args.namespaces, QUERIES, seed=2)
	up = bench.Server("upstream", "knotd upstream", "cluster", lambda s, c: ["knotd", "-c", c],
	                  bench.knot_conf([(bench.ZONE, zone)]), work, None)
	bench.start_all([up], args.namespaces)
	return up


def main():
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
	                             formatter_class=argparse.RawDescriptionHelpFormatter,
	                             epilog="\n".join(__doc__.split("\n")[2:]))
	ap.add_argument("--sextant", help="the sextant binary (a release build)")
	ap.add_argument("--path", choices=["cluster", "hit"], default="cluster",
	                help="cluster names (default) or cache hits")
	ap.add_argument("--knot", action="store_true", help="count knotd too (cluster path)")
	ap.add_argument("--worker", action="store_true", help="Sextant's worker thread only")
	ap.add_argument("--annotate", type=int, default=0, metavar="N",
	                help="print the N first lines of the worker's inclusive profile")
	ap.add_argument("--short", type=int, default=2, help="passes of the first run (default 2)")
	ap.add_argument("--long", type=int, default=4, help="passes of the second run (default 4)")
	ap.add_argument("--services", type=int, default=10000)
	ap.add_argument("--namespaces", type=int, default=100)
	ap.add_argument("--keep", action="store_true", help="keep the working directory")
	args = ap.parse_args()
	if not args.sextant and not args.knot:
		ap.error("give --sextant BIN, --knot or both")
	if args.path == "hit" and (args.knot or not args.sextant):
		ap.error("--path hit counts Sextant only: give --sextant BIN and no --knot")
	need_knot = args.knot or args.path == "hit"  # knotd is the hit path's upstream
	for tool in ["valgrind", "dnsperf"] + (["knotd"] if need_knot else []):
		if not shutil.which(tool):
			print("insns: %s missing" % tool)
			return 77
	if args.annotate:
		args.worker = True
	if args.sextant:
		args.sextant = os.path.abspath(args.sextant)
	work = tempfile.mkdtemp(prefix="sx-insns-")
	upstream = None
	try:
		if args.path == "hit":
			upstream = start_upstream(args, work)
		else:
			bench.write_cluster(os.path.join(work, "manifests"), args.services, args.namespaces)
			bench.write_zone(os.path.join(work, "zone"), args.services, args.namespaces)
			bench.write_cluster_queries(os.path.join(work, "queries"), args.services,
			                            args.namespaces, QUERIES)
		kinds = (["sextant"] if args.sextant else []) + (["knot"] if args.knot else [])
		for kind in kinds:
			t1, n1, _ = one_run(kind, args, work, args.short, upstream)
			t2, n2, out = one_run(kind, args, work, args.long, upstream)
			what = " (worker thread)" if kind == "sextant" and args.worker else ""
			what += ", cache hits" if args.path == "hit" else ""
			print("%-8s %7.0f instructions per query%s  (%d - %d over %d - %d queries)" % (
			      kind, (t2 - t1) / (n2 - n1), what, t2, t1, n2, n1))
			if kind == "sextant" and args.annotate:
				r = subprocess.run(["callgrind_annotate", "--inclusive=yes", out],
				                   capture_output=True, text=True)
				lines = [ln for ln in r.stdout.split("\n") if re.match(r"\s*[\d,]+ \(", ln)]
				print("\n".join(lines[:args.annotate]))
	finally:
		if upstream:
			upstream.stop()
		bench.cleanup()
		if args.keep:
			print("working directory kept: %s" % work)
		else:
			shutil.rmtree(work, ignore_errors=True)
	return 0


if __name__ == "__main__":
	sys.exit(main())
