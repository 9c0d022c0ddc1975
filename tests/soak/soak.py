#!/usr/bin/python3
"""soak.py -- sextant for N minutes at half its maximum rate, Services changing every second.

On loopback: the fake API server (tests/fakeapi/fakeapi.py) with basic.json and 200 more Services,
sextant watching it, dnsperf sending queries at half the rate measured first, and meanwhile:

  churn     every second a new Service (with an EndpointSlice) is added and the one added 30 s
            before is deleted, through the fake's control interface
  reload    every minute SIGUSR1, and the reload must complete
  sample    a thread asks names whose truth has been settled for 3 s (Services never changed,
            Services added and not deleted, Services deleted) and checks every answer; an
            added one whose deletion begins before its answer is in is not judged
  memory    VmRSS every second

At the end the churn stops and every name the fake's objects imply is checked (truth.py), then
sextant gets SIGTERM and must exit 0 with no sanitizer report (an ASan build checks leaks there).

Fails (exit 1) on a crash, any wrong answer, a reload that does not complete, RSS after the
warm-up (the first fifth, 30 s at least) growing more than 5% (not judged for an ASan build, whose
quarantine holds freed memory), more than 1% of dnsperf's queries lost, or a sanitizer report. Prints its figures; --json FILE writes them too.

Usage (Debian's /usr/bin/python3 with python3-dnspython; dnsperf):
  tests/soak/soak.py [--minutes 2] [--sextant build/sextant] [--rate QPS] [--json FILE]
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "fakeapi"))
import truth  # noqa: E402

ZONE = "cluster.local"
SETTLE = 3.0  # seconds after a change before its name must answer the new way
KEEP = 30     # churned Services alive at once
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:")

procs = []


def cleanup():
	for p in procs:
		if p.poll() is None:
			p.kill()
			p.wait()


def die(msg):
	print("soak: " + msg, file=sys.stderr)
	cleanup()
	sys.exit(1)


def wait_for(pred, secs, what):
	end = time.monotonic() + secs
	while time.monotonic() < end:
		v = pred()
		if v:
			return v
		time.sleep(0.1)
	die("timed out after %d s waiting for %s" % (secs, what))


def svc(name, ip, ns="testns", headless=False):
	return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
		"spec": {"clusterIP": "None" if headless else ip,
			"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}


def slice_of(name, addr, ns="testns"):
	return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
		"metadata": {"name": name + "-s", "namespace": ns,
			"labels": {"kubernetes.io/service-name": name}},
		"addressType": "IPv4",
		"endpoints": [{"addresses": [addr], "conditions": {"ready": True}}],
		"ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}


class Fake:
	def __init__(self, tmp):
		items = json.load(open(os.path.join(ROOT, "tests/fakeapi/data/basic.json")))["items"]
		for i in range(200):
			ip = "10.97.%d.%d" % (i // 200, i % 200 + 1)
			items.append(svc("bulk-%d" % i, ip, headless=i % 10 == 0))
			items.append(slice_of("bulk-%d" % i, "10.245.%d.%d" % (i // 200, i % 200 + 1)))
		load = os.path.join(tmp, "objects.json")
		json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(load, "w"))
		portfile = os.path.join(tmp, "api.port")
		self.proc = subprocess.Popen(["/usr/bin/python3",
			os.path.join(ROOT, "tests/fakeapi/fakeapi.py"), "--load", load,
			"--port-file", portfile, "--history", "100000"],
			stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "fakeapi.log"), "w"))
		procs.append(self.proc)
		port = wait_for(lambda: os.path.exists(portfile) and open(portfile).read().strip(),
			60, "the fake API server")
		self.url = "http://127.0.0.1:%s" % port

	def call(self, method, path, body=None):
		data = json.dumps(body).encode() if body is not None else None
		req = urllib.request.Request(self.url + path, data=data, method=method,
			headers={"Content-Type": "application/json"})
		with urllib.request.urlopen(req, timeout=60) as r:
			return json.load(r)

	def objects(self):
		return self.call("GET", "/_fake/objects")["items"]


class Sextant:
	def __init__(self, binary, tmp, api):
		self.conf = os.path.join(tmp, "Corefile")
		with open(self.conf, "w") as f:
			f.write("%s in-addr.arpa ip6.arpa {\n\tbind 127.0.0.1\n\terrors\n"
				"\tkubernetes {\n\t\tendpoint %s\n\t\tpods insecure\n\t}\n}\n" % (ZONE, api))
		self.logpath = os.path.join(tmp, "sextant.log")
		self.proc = subprocess.Popen([binary, "-conf", self.conf, "-dns.port", "0"],
			stdout=open(self.logpath, "w"), stderr=subprocess.STDOUT)
		procs.append(self.proc)
		m = wait_for(lambda: re.search(r"^%s\.:(\d+) on" % ZONE, self.log(), re.M), 60,
			"sextant's banner")
		self.port = int(m.group(1))
		wait_for(lambda: "synced" in self.log(), 60, "the first sync")

	def log(self):
		with open(self.logpath, errors="replace") as f:
			return f.read()

	def rss_kb(self):
		with open("/proc/%d/status" % self.proc.pid) as f:
			for line in f:
				if line.startswith("VmRSS:"):
					return int(line.split()[1])
		return 0


def dnsperf(port, datafile, secs, rate=None):
	"""Run dnsperf; @return (qps, sent, completed, lost)."""
	cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", datafile, "-l", str(secs),
		"-c", "8", "-q", "200", "-t", "2"]
	if rate:
		cmd += ["-Q", str(rate)]
	out = subprocess.run(cmd, capture_output=True, text=True).stdout

	def num(label):
		m = re.search(label + r":\s+([\d.]+)", out)
		return float(m.group(1)) if m else 0.0
	return (num("Queries per second"), int(num("Queries sent")),
		int(num("Queries completed")), int(num("Queries lost")))


def ask(port, name, rdtype):
	q = dns.message.make_query(name, rdtype)
	for _ in range(3):
		try:
			return dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
		except dns.exception.Timeout:
			continue
	return None


class Soak:
	def __init__(self, args):
		self.args = args
		self.tmp = tempfile.mkdtemp(prefix="sx-soak-")
		self.stop = threading.Event()
		self.lock = threading.Lock()
		self.added = {}    # name -> (ip, time added)
		self.deleted = {}  # name -> time deleted
		self.wrong_at, self.reload_at = [], []
		self.figures = {"checks": 0, "wrong": 0, "servfail": 0, "unanswered": 0, "overtaken": 0,
			"churned": 0, "reloads": 0, "reload_failures": 0, "rss": [], "first_wrong": None}

	def churn(self):
		n = 0
		order = []
		while not self.stop.wait(1.0):
			name = "soak-%d" % n
			ip = "10.98.%d.%d" % (n // 250 % 250, n % 250 + 1)
			self.fake.call("POST", "/_fake/objects", {"kind": "List", "apiVersion": "v1",
				"items": [svc(name, ip), slice_of(name, "10.246.%d.%d" % (n // 250 % 250,
					n % 250 + 1))]})
			with self.lock:
				self.added[name] = (ip, time.monotonic())
			order.append(name)
			n += 1
			if len(order) > KEEP:
				old = order.pop(0)
				# Out of the sampler's sight before its DELETE: from then on either answer is
				# right until the deletion has settled.
				with self.lock:
					del self.added[old]
				self.fake.call("DELETE", "/_fake/objects/v1/testns/services/" + old)
				self.fake.call("DELETE",
					"/_fake/objects/discovery.k8s.io/v1/testns/endpointslices/%s-s" % old)
				with self.lock:
					self.deleted[old] = time.monotonic()
			self.figures["churned"] = n

	def sample(self):
		stable = [(k, v) for k, v in self.truth.want.items() if k[1] in ("A", "AAAA", "SRV")]
		rnd = random.Random(1)
		while not self.stop.wait(0.05):
			now = time.monotonic()
			with self.lock:
				settled_in = [(n, ip, t) for n, (ip, t) in self.added.items()
					if now - t > SETTLE]
				settled_out = [(n, t) for n, t in self.deleted.items() if now - t > SETTLE]
			pick = rnd.random()
			added = None  # the churned Service asked for, which must stay until answered
			if pick < 0.4 or not (settled_in or settled_out):
				(name, rdtype), want = rnd.choice(stable)
				want_rcode = dns.rcode.NOERROR
				since = ""
			elif pick < 0.7 and settled_in:
				added, ip, t = rnd.choice(settled_in)
				name, rdtype, want = "%s.testns.svc.%s." % (added, ZONE), "A", {ip}
				want_rcode = dns.rcode.NOERROR
				since = " (added %.2f s before)" % (now - t)
			elif settled_out:
				n, t = rnd.choice(settled_out)
				name, rdtype, want = "%s.testns.svc.%s." % (n, ZONE), "A", set()
				want_rcode = dns.rcode.NXDOMAIN
				since = " (deleted %.2f s before)" % (now - t)
			else:
				continue
			r = ask(self.sx.port, name, rdtype)
			if added:
				with self.lock:
					if added not in self.added:
						# Its deletion began while it was asked: not a check.
						self.figures["overtaken"] += 1
						continue
			self.figures["checks"] += 1
			if r is None:
				self.figures["unanswered"] += 1
				continue
			got = set()
			for rrset in r.answer:
				if rrset.rdtype == dns.rdatatype.from_text(rdtype):
					got.update(truth.canon(rdtype, rd) for rd in rrset)
			if r.rcode() != want_rcode or got != want:
				self.figures["wrong"] += 1
				self.wrong_at.append(time.monotonic())
				if r.rcode() == dns.rcode.SERVFAIL:
					self.figures["servfail"] += 1
				if not self.figures["first_wrong"]:
					self.figures["first_wrong"] = "%s %s%s: %s %s, wanted %s %s" % (
						name, rdtype, since, dns.rcode.to_text(r.rcode()), sorted(got),
						dns.rcode.to_text(want_rcode), sorted(want))

	def reload(self):
		while not self.stop.wait(60.0):
			before = self.sx.log().count("Reload completed")
			self.reload_at.append(time.monotonic())
			self.sx.proc.send_signal(signal.SIGUSR1)
			end = time.monotonic() + 30
			while time.monotonic() < end and self.sx.log().count("Reload completed") <= before:
				time.sleep(0.1)
			if self.sx.log().count("Reload completed") > before:
				self.figures["reloads"] += 1
			else:
				self.figures["reload_failures"] += 1

	def memory(self, t0):
		while not self.stop.wait(1.0):
			if self.sx.proc.poll() is not None:
				return
			self.figures["rss"].append((round(time.monotonic() - t0, 1), self.sx.rss_kb()))

	def run(self):
		a = self.args
		# ASan holds freed memory in quarantine: its RSS says nothing of leaks (LSan does).
		with open(a.sextant, "rb") as b:
			self.figures["asan"] = b"__asan_init" in b.read()
		self.fake = Fake(self.tmp)
		self.sx = Sextant(a.sextant, self.tmp, self.fake.url)
		self.truth = truth.expected(self.fake.objects(), ZONE)
		datafile = os.path.join(self.tmp, "queries")
		with open(datafile, "w") as f:
			for (name, rdtype) in sorted(self.truth.want):
				f.write("%s %s\n" % (name, rdtype))
			for i in range(50):
				f.write("nope-%d.testns.svc.%s. A\n" % (i, ZONE))
		rate = a.rate
		if not rate:
			qps = dnsperf(self.sx.port, datafile, 5)[0]
			rate = max(100, int(qps / 2))
			self.figures["max_qps"] = round(qps)
		self.figures["rate"] = rate
		secs = int(a.minutes * 60)
		print("soak: %d s at %d queries/s (half of %s measured), sextant %s" % (
			secs, rate, self.figures.get("max_qps", "?"), a.sextant), flush=True)
		t0 = time.monotonic()
		threads = [threading.Thread(target=f, daemon=True) for f in
			(self.churn, self.sample, self.reload, lambda: self.memory(t0))]
		for t in threads:
			t.start()
		perf = dnsperf(self.sx.port, datafile, secs, rate)
		self.stop.set()
		for t in threads:
			t.join(timeout=90)
		f = self.figures
		f["qps"], f["sent"], f["completed"], f["lost"] = perf
		f["alive"] = self.sx.proc.poll() is None
		if not f["alive"]:
			return self.report()
		# Every name the objects imply, once the churn has stopped.
		with self.lock:
			gone = ["%s.testns.svc.%s" % (n, ZONE) for n in self.deleted]
		t = truth.expected(self.fake.objects(), ZONE, gone)
		wrong = truth.check(t, "127.0.0.1", self.sx.port)
		end = time.monotonic() + 30
		while wrong and time.monotonic() < end:
			time.sleep(0.2)
			wrong = truth.check(t, "127.0.0.1", self.sx.port, only=list(wrong))
		f["truth_checks"] = len(t.want) + len(t.nx)
		f["truth_wrong"] = len(wrong)
		f["truth_first_wrong"] = "%s %s" % next(iter(wrong.items())) if wrong else None
		self.sx.proc.send_signal(signal.SIGTERM)
		try:
			f["exit"] = self.sx.proc.wait(timeout=60)
		except subprocess.TimeoutExpired:
			f["exit"] = "hung"
		log = self.sx.log()
		m = SANITIZER.search(log)
		f["sanitizer"] = log[m.start():m.start() + 2000] if m else None
		return self.report()

	def report(self):
		f, a = self.figures, self.args
		rss = f["rss"]
		warm = max(30.0, a.minutes * 60 * 0.2)
		after = [kb for t, kb in rss if t >= warm]
		fails = []
		if not f["alive"]:
			fails.append("sextant died:\n" + self.sx.log()[-3000:])
		f["wrong_after_reload"] = sum(1 for w in self.wrong_at
			if any(0 <= w - r <= 5 for r in self.reload_at))
		if f["wrong"]:
			fails.append("%d of the wrong answers came in the 5 s after a reload" %
				f["wrong_after_reload"])
			fails.append("%d wrong answers (%d SERVFAIL), the first: %s" % (f["wrong"],
				f["servfail"], f["first_wrong"]))
		if f.get("truth_wrong"):
			fails.append("after the churn, %d names not as the API says: %s" % (
				f["truth_wrong"], f["truth_first_wrong"]))
		if f["reload_failures"]:
			fails.append("%d reloads did not complete" % f["reload_failures"])
		if f.get("sent") and f["lost"] > 0.01 * f["sent"]:
			fails.append("dnsperf lost %d of %d queries" % (f["lost"], f["sent"]))
		if len(after) >= 5:
			# A trend, not a spike: a reload holds two generations for a moment.
			fifth = max(1, len(after) // 5)
			f["rss_early_kb"] = statistics.median(after[:fifth])
			f["rss_late_kb"] = statistics.median(after[-fifth:])
			f["rss_max_kb"] = max(after)
			f["rss_growth_pct"] = round(100.0 * (f["rss_late_kb"] - f["rss_early_kb"]) /
				f["rss_early_kb"], 2)
			if f["rss_growth_pct"] > 5.0 and not f["asan"]:
				fails.append("RSS grew %.1f%% after the warm-up (median %d -> %d KiB)" % (
					f["rss_growth_pct"], f["rss_early_kb"], f["rss_late_kb"]))
		if f.get("exit") not in (0, None):
			fails.append("sextant exited with %s" % f.get("exit"))
		if f.get("sanitizer"):
			fails.append("sanitizer report:\n" + f["sanitizer"])
		print("soak: dnsperf %s queries sent, %s completed, %s lost, %.0f/s" % (
			f.get("sent"), f.get("completed"), f.get("lost"), f.get("qps") or 0))
		print("soak: %d Services churned, %d reloads; %d answers sampled, %d wrong, "
			"%d unanswered (%d not judged: deleted while asked); final truth %s checks, "
			"%s wrong" % (f["churned"], f["reloads"], f["checks"], f["wrong"], f["unanswered"],
			f["overtaken"], f.get("truth_checks"), f.get("truth_wrong")))
		if "rss_growth_pct" in f:
			print("soak: RSS (medians of the first and last fifth after the %.0f s warm-up) "
				"%d -> %d KiB (%+.2f%%), at most %d" % (warm, f["rss_early_kb"],
				f["rss_late_kb"], f["rss_growth_pct"], f["rss_max_kb"]))
		print("soak: exit %s, sanitizer report: %s" % (f.get("exit"),
			"yes" if f.get("sanitizer") else "none"))
		if a.json:
			with open(a.json, "w") as out:
				json.dump(f, out, indent=1)
		for msg in fails:
			print("soak: FAIL: " + msg, file=sys.stderr)
		print("soak: %s" % ("FAIL" if fails else "ok"))
		cleanup()
		if not fails:
			shutil.rmtree(self.tmp, ignore_errors=True)
		else:
			print("soak: logs kept in " + self.tmp, file=sys.stderr)
		return 1 if fails else 0


def main():
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--minutes", type=float, default=2)
	ap.add_argument("--sextant", default=os.path.join(ROOT, "build", "sextant"))
	ap.add_argument("--rate", type=int, help="queries per second (default: half the maximum)")
	ap.add_argument("--json", help="write the figures to this file")
	args = ap.parse_args()
	if not shutil.which("dnsperf"):
		die("dnsperf is not installed")
	signal.signal(signal.SIGTERM, lambda *_: die("terminated"))
	try:
		return Soak(args).run()
	finally:
		cleanup()


if __name__ == "__main__":
	sys.exit(main())
