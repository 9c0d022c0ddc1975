#!/usr/bin/python3
"""autopath.py -- what `autopath @kubernetes` saves a pod, and what its index costs Sextant.

  autopath.py mem [--pods N] [--sextant BIN]
      tests/fakeapi/fakeapi.py with a generated cluster of N Running pods (default 100000),
      then Sextant three times on it: kubernetes alone, with `autopath @kubernetes` (the pod
      address index) and with `pods verified` (the Pod store, what CoreDNS needs for autopath).
      Prints, for each, VmRSS and RssAnon a few seconds after the "synced" line, and the
      difference to the first per pod, in bytes.

  autopath.py resolve [--runs N] [--sextant BIN]          (root: makes a network namespace)
      A network namespace whose veth address (10.99.0.2) is a pod of namespace testns in the
      fake API server, with the resolv.conf kubelet writes for it (search
      testns.svc.cluster.local svc.cluster.local cluster.local, options ndots:5) pointing at
      Sextant on 10.99.0.1:53, which forwards outside names to tests/upstream/fakeup.py. glibc's
      resolver (getaddrinfo, AF_INET, in one python3 process inside the namespace) looks up an
      outside name and a Service of another namespace N times (default 50), with and without
      autopath. Prints the queries that reached Sextant per lookup (its
      coredns_dns_requests_total) and the median wall time of a lookup, then the queries of one
      `getent hosts NAME`.

Every process is killed, and the namespace removed, when the tool ends, however it ends.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FAKEAPI = os.path.join(ROOT, "tests", "fakeapi", "fakeapi.py")
FAKEUP = os.path.join(ROOT, "tests", "upstream", "fakeup.py")
NETNS = "sx-autopath"

started = []
cleanups = []


def cleanup():
	for p in started:
		if p.poll() is None:
			p.kill()
		p.wait()
	started.clear()
	for f in reversed(cleanups):
		f()
	cleanups.clear()


def on_signal(signum, frame):
	cleanup()
	sys.exit(1)


def spawn(argv, log_path, stdin=subprocess.DEVNULL):
	log = open(log_path, "w")
	p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=stdin)
	started.append(p)
	return p


def wait_for(path, pattern, secs, proc=None):
	"""The first match of regex pattern in file path within secs, else exit."""
	end = time.monotonic() + secs
	while time.monotonic() < end:
		with open(path, errors="replace") as f:
			m = re.search(pattern, f.read())
		if m:
			return m
		if proc is not None and proc.poll() is not None:
			break
		time.sleep(0.05)
	with open(path, errors="replace") as f:
		sys.exit("%s: no %r:\n%s" % (path, pattern, f.read()[-3000:]))


def status(pid):
	out = {}
	with open("/proc/%d/status" % pid) as f:
		for line in f:
			k, _, v = line.partition(":")
			if k in ("VmRSS", "RssAnon"):
				out[k] = int(v.split()[0]) * 1024
	return out


def start_fake(tmp, gen, port_name):
	port_file = os.path.join(tmp, port_name)
	fake = spawn(["/usr/bin/python3", FAKEAPI, "--generate", gen, "--port-file", port_file,
		"--bookmark-interval", "0"], os.path.join(tmp, port_name + ".log"))
	end = time.monotonic() + 600
	while not os.path.exists(port_file):
		if fake.poll() is not None or time.monotonic() > end:
			sys.exit("fakeapi did not start")
		time.sleep(0.1)
	with open(port_file) as f:
		return fake, int(f.read())


def metrics(port):
	with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
		return r.read().decode()


def mem(args):
	tmp = tempfile.mkdtemp(prefix="sx-autopath-")
	cleanups.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
	gen = "services=1000,endpoints=3000,namespaces=100,pods=%d" % args.pods
	fake, port = start_fake(tmp, gen, "api.port")
	rows = []
	for name, extra, kub in (("kubernetes alone", "", ""),
			("autopath @kubernetes", "\tautopath @kubernetes\n", ""),
			("pods verified", "", "\t\tpods verified\n")):
		cf = os.path.join(tmp, "Corefile")
		with open(cf, "w") as f:
			f.write(".:0 {\n\tbind 127.0.0.1\n%s\tkubernetes cluster.local {\n"
				"\t\tendpoint http://127.0.0.1:%d\n%s\t}\n}\n" % (extra, port, kub))
		log = os.path.join(tmp, "sextant.log")
		srv = spawn([args.sextant, "-conf", cf], log)
		m = wait_for(log, r"synced .*", 600, srv)
		time.sleep(5)  # the lists' heap is handed back after a grace period
		st = status(srv.pid)
		rows.append((name, st, m.group(0)))
		srv.kill()
		srv.wait()
	base = rows[0][1]
	print("pods: %d (fakeapi --generate %s)" % (args.pods, gen))
	for name, st, line in rows:
		print("%-22s VmRSS %6.1f MB  RssAnon %6.1f MB  per pod: RSS %+6.1f B, anon %+6.1f B"
			% (name, st["VmRSS"] / 1e6, st["RssAnon"] / 1e6,
			(st["VmRSS"] - base["VmRSS"]) / args.pods,
			(st["RssAnon"] - base["RssAnon"]) / args.pods))
		print("%22s %s" % ("", line))


def sh(*argv):
	subprocess.run(argv, check=True)


def make_netns():
	subprocess.run(["ip", "netns", "del", NETNS], stderr=subprocess.DEVNULL)
	sh("ip", "netns", "add", NETNS)
	cleanups.append(lambda: subprocess.run(["ip", "netns", "del", NETNS]))
	sh("ip", "link", "add", "sxap0", "type", "veth", "peer", "name", "sxap1")
	cleanups.append(lambda: subprocess.run(["ip", "link", "del", "sxap0"],
		stderr=subprocess.DEVNULL))
	sh("ip", "link", "set", "sxap1", "netns", NETNS)
	sh("ip", "addr", "add", "10.99.0.1/24", "dev", "sxap0")
	sh("ip", "link", "set", "sxap0", "up")
	sh("ip", "-n", NETNS, "addr", "add", "10.99.0.2/24", "dev", "sxap1")
	sh("ip", "-n", NETNS, "link", "set", "sxap1", "up")
	sh("ip", "-n", NETNS, "link", "set", "lo", "up")
	# `ip netns exec` mounts /etc/netns/NAME/resolv.conf over /etc/resolv.conf.
	d = "/etc/netns/" + NETNS
	os.makedirs(d, exist_ok=True)
	cleanups.append(lambda: shutil.rmtree(d, ignore_errors=True))
	with open(d + "/resolv.conf", "w") as f:
		f.write("search testns.svc.cluster.local svc.cluster.local cluster.local\n"
			"nameserver 10.99.0.1\noptions ndots:5\n")


LOOKUP = r"""
import socket, sys, time
name, runs = sys.argv[1], int(sys.argv[2])
t = []
for _ in range(runs):
	t0 = time.perf_counter()
	try:
		socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_DGRAM)
	except socket.gaierror as e:
		sys.exit("%s: %s" % (name, e))
	t.append(time.perf_counter() - t0)
t.sort()
print("%.3f" % (t[len(t) // 2] * 1000))
"""


def requests_total(port):
	total = 0.0
	for line in metrics(port).splitlines():
		if line.startswith("coredns_dns_requests_total{"):
			total += float(line.rsplit(" ", 1)[1])
	return total


def resolve(args):
	tmp = tempfile.mkdtemp(prefix="sx-autopath-")
	cleanups.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
	fake, port = start_fake(tmp, "services=10,endpoints=30,namespaces=2", "api.port")
	pod = ('{"apiVersion":"v1","kind":"Pod","metadata":{"name":"client","namespace":"testns"},'
		'"spec":{"containers":[{"name":"c"}]},'
		'"status":{"phase":"Running","podIP":"10.99.0.2"}}')
	req = urllib.request.Request("http://127.0.0.1:%d/_fake/objects" % port, data=pod.encode(),
		method="POST", headers={"Content-Type": "application/json"})
	urllib.request.urlopen(req, timeout=10).read()
	# fakeup.py runs until its stdin closes.
	up = spawn(["/usr/bin/python3", FAKEUP, "--id", "7"], os.path.join(tmp, "up.log"),
		stdin=subprocess.PIPE)
	up_port = int(wait_for(os.path.join(tmp, "up.log"), r"(\d+)", 20, up).group(1))
	make_netns()
	names = (("outside name", "www.example.org"), ("other namespace's Service", "svc-1.ns-0001"))
	print("glibc getaddrinfo(AF_INET) in a pod of testns (search testns.svc.cluster.local "
		"svc.cluster.local cluster.local, ndots:5), %d lookups each" % args.runs)
	for mode, line in (("without autopath", ""), ("with autopath", "\tautopath @kubernetes\n")):
		cf = os.path.join(tmp, "Corefile")
		with open(cf, "w") as f:
			f.write(".:53 {\n\tbind 10.99.0.1\n\tprometheus 127.0.0.1:0\n%s"
				"\tkubernetes cluster.local {\n\t\tendpoint http://127.0.0.1:%d\n\t}\n"
				"\tforward . 127.0.0.1:%d\n}\n" % (line, port, up_port))
		log = os.path.join(tmp, "sextant.log")
		srv = spawn([args.sextant, "-conf", cf], log)
		mport = int(wait_for(log, r"serving /metrics on port (\d+)", 20, srv).group(1))
		wait_for(log, r"synced ", 60, srv)
		for label, name in names:
			before = requests_total(mport)
			out = subprocess.run(["ip", "netns", "exec", NETNS, "/usr/bin/python3", "-c", LOOKUP,
				name, str(args.runs)], capture_output=True, text=True)
			if out.returncode != 0:
				with open(log) as f:
					sys.exit("lookup failed: %s %s\n%s" % (out.stdout, out.stderr, f.read()))
			queries = (requests_total(mport) - before) / args.runs
			# getent hosts: glibc's gethostbyname2, AAAA then A, as a shell user sees it.
			before = requests_total(mport)
			subprocess.run(["ip", "netns", "exec", NETNS, "getent", "hosts", name], check=True,
				stdout=subprocess.DEVNULL)
			getent = requests_total(mport) - before
			print("%-17s %-26s %-16s queries/lookup %4.1f  median %s ms  getent hosts: %d queries"
				% (mode, label, name, queries, out.stdout.strip(), getent))
		srv.kill()
		srv.wait()


def main():
	p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	p.add_argument("what", choices=("mem", "resolve"))
	p.add_argument("--pods", type=int, default=100000)
	p.add_argument("--runs", type=int, default=50)
	p.add_argument("--sextant", default=os.path.join(ROOT, "build", "sextant"))
	args = p.parse_args()
	signal.signal(signal.SIGTERM, on_signal)
	signal.signal(signal.SIGINT, on_signal)
	try:
		mem(args) if args.what == "mem" else resolve(args)
	finally:
		cleanup()


if __name__ == "__main__":
	main()
