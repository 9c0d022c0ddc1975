#!/usr/bin/python3
"""truth.py -- every name the fake API server's objects imply, and a check of a DNS server's answers.

From a set of Kubernetes objects (the fake's /_fake/objects, or a file), expected() derives what
Sextant's kubernetes plugin must answer, written from its README rather than from its code:

  <svc>.<ns>.svc.<zone>        A/AAAA: the ClusterIPs of that family (no ports: the name does
                               not exist); headless: the ready endpoint addresses (none: the
                               name does not exist); ExternalName: CNAME to the external name
  <ep>.<svc>.<ns>.svc.<zone>   A/AAAA of each ready endpoint, <ep> its hostname or its address
                               with '.'/':' written '-'
  <svc>... SRV, _<port>._<proto>.<svc>... SRV   (port, target) pairs; weights are not compared
  PTR                          ClusterIPs to the service, other ready endpoint addresses to the
                               endpoint name, one per service
  <ns>.svc.<zone>              exists (NODATA) for each namespace

Objects the plugin must refuse (an invalid cluster IP, more than 255 ports, an address of the
wrong family, ...) imply names that must not exist. So do the names given with --gone.

Usage (Debian's /usr/bin/python3, python3-dnspython):
  truth.py --server 127.0.0.1:PORT (--api URL | --objects FILE) [--zone cluster.local]
           [--gone FQDN]... [--tcp] [--wait SECONDS] [--cacert F --cert F --key F]
Queries every implied name and prints one line per wrong answer, then
  "truth: N names, M checks, K wrong"
Exits 0 when nothing is wrong; with --wait, checks again (every 0.2 s) until then.
"""

import argparse
import ipaddress
import json
import ssl
import sys
import time
import urllib.request

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.reversename

SVC_LABEL = "kubernetes.io/service-name"
PROTOS = ("TCP", "UDP", "SCTP")


class Truth:
	def __init__(self):
		self.want = {}     # (fqdn, rdtype text) -> set of rdata text (empty: NODATA)
		self.nx = set()    # fqdn that must be NXDOMAIN
		self.names = set()

	def add(self, name, rdtype, rdata=None):
		key = (name.lower(), rdtype)
		self.names.add(key[0])
		s = self.want.setdefault(key, set())
		if rdata is not None:
			s.add(rdata)

	def finish(self):
		# A name that exists for some object cannot be required not to exist.
		self.nx -= self.names
		return self


# ---- what the plugin accepts (its README and error messages) ----

def label_ok(s, limit=63):
	return (isinstance(s, str) and 0 < len(s) <= limit
		and all(c.isascii() and (c.isalnum() or c in "-_") for c in s))


def subdomain_ok(s):
	return (isinstance(s, str) and 0 < len(s) <= 253
		and all(c.isascii() and (c.isalnum() or c in "-_.") for c in s))


def ip_of(s):
	if not isinstance(s, str):
		return None
	try:
		return ipaddress.ip_address(s)
	except ValueError:
		return None


def meta(obj, name_ok=label_ok):
	md = obj.get("metadata")
	if not isinstance(md, dict):
		return None
	name, ns = md.get("name"), md.get("namespace") or "default"
	if not isinstance(name, str) or not name_ok(name) or not label_ok(ns):
		return None
	return name.lower(), ns.lower()


def ports_of(spec_ports, skip_null):
	"""[(name, proto, port)] or None when the plugin refuses the object."""
	if spec_ports is None:
		return []
	if not isinstance(spec_ports, list) or len(spec_ports) > 255:
		return None
	out = []
	for p in spec_ports:
		if not isinstance(p, dict):
			return None
		num = p.get("port")
		if num is None:
			if skip_null:
				continue
			return None
		if not isinstance(num, int) or isinstance(num, bool) or not 0 <= num <= 65535:
			return None
		proto = p.get("protocol") or "TCP"
		if proto not in PROTOS:
			return None
		name = p.get("name")
		if name is not None and (not isinstance(name, str) or len(name) > 63):
			return None
		out.append(((name or "").lower(), proto.lower(), num))
	return out


def service(obj):
	"""(name, ns, kind, ips, ports, external) or (name, ns, None, ...) when refused."""
	m = meta(obj)
	if m is None:
		return None
	spec = obj.get("spec")
	bad = (m[0], m[1], None, [], [], None)
	if not isinstance(spec, dict):
		return bad
	if spec.get("type") == "ExternalName":
		ext = spec.get("externalName")
		if not isinstance(ext, str) or not ext or ip_of(ext):
			return bad
		return (m[0], m[1], "external", [], [], ext.lower().rstrip(".") + ".")
	ips_in = spec.get("clusterIPs")
	if ips_in is not None and not isinstance(ips_in, list):
		return bad
	if ips_in:
		if not all(isinstance(s, str) for s in ips_in):
			return bad
	else:
		one = spec.get("clusterIP")
		ips_in = [one if isinstance(one, str) else None]
	ips, kind = [], "cluster"
	for s in ips_in:
		if not s:
			continue
		if s == "None":
			kind, ips = "headless", []
			break
		ip = ip_of(s)
		if ip is None or len(ips) == 2:
			return bad
		ips.append(ip)
	ports = ports_of(spec.get("ports"), False)
	if ports is None:
		return bad
	return (m[0], m[1], kind, ips, ports, None)


def ready(ep):
	cond = ep.get("conditions")
	r = cond.get("ready") if isinstance(cond, dict) else None
	return r is None or r is True


def endpoint_slice(obj):
	"""(ns, svc, [(epname, ip)], ports) of the ready endpoints; None: refused or ignored."""
	m = meta(obj, subdomain_ok)
	if m is None:
		return None
	labels = obj["metadata"].get("labels") or {}
	svc = labels.get(SVC_LABEL) if isinstance(labels, dict) else None
	if not svc or not label_ok(svc):
		return None
	fam = {"IPv4": 4, "IPv6": 6}.get(obj.get("addressType"))
	if fam is None:
		return None
	ports = ports_of(obj.get("ports"), True)
	eps = obj.get("endpoints")
	if ports is None or (eps is not None and not isinstance(eps, list)):
		return None
	out = []
	for ep in eps or []:
		if not isinstance(ep, dict) or not isinstance(ep.get("addresses"), list):
			return None
		host = ep.get("hostname")
		if host and not label_ok(host):
			return None
		addrs = [ip_of(a) for a in ep["addresses"]]
		if any(a is None or a.version != fam for a in addrs):
			return None
		if ready(ep):
			for a in addrs:
				out.append(((host or dashed(a)).lower(), a))
	return m[1], svc.lower(), out, ports


def dashed(ip):
	return str(ip).replace(".", "-").replace(":", "-")


def rev(ip):
	return dns.reversename.from_address(str(ip)).to_text().lower()


# ---- the names ----

def expected(objects, zone="cluster.local", gone=()):
	t = Truth()
	zone = zone.lower().rstrip(".")
	by_kind = {}
	for o in objects:
		if isinstance(o, dict):
			by_kind.setdefault(o.get("kind"), []).append(o)
	nss = set()
	for o in by_kind.get("Namespace", []):
		m = meta({"metadata": dict(o.get("metadata") or {}, namespace="x")})
		if m:
			nss.add(m[0])
	for ns in nss:
		t.add("%s.svc.%s." % (ns, zone), "A")
	svcs = {}
	for o in by_kind.get("Service", []):
		s = service(o)
		if s is None:
			continue
		fq = "%s.%s.svc.%s." % (s[0], s[1], zone)
		if s[2] is None or s[1] not in nss:
			t.nx.add(fq)
			continue
		svcs[(s[1], s[0])] = s
	slices = {}
	for o in by_kind.get("EndpointSlice", []):
		sl = endpoint_slice(o)
		if sl is not None:
			slices.setdefault((sl[0], sl[1]), []).append(sl)
	cluster_ips = set()
	for s in svcs.values():
		cluster_ips.update(s[3])
	for (ns, name), s in sorted(svcs.items()):
		fq = "%s.%s.svc.%s." % (name, ns, zone)
		kind, ips, ports = s[2], s[3], s[4]
		if kind == "external":
			t.add(fq, "CNAME", s[5])
			continue
		eps = [(ep, a, sl[3]) for sl in slices.get((ns, name), []) for ep, a in sl[2]]
		if kind == "headless" and not eps:
			t.nx.add(fq)
			continue
		if kind == "cluster":
			addrs = ips
			srv = [(pn, pr, p, fq) for pn, pr, p in ports] if ips else []
		else:
			addrs = [a for _, a, _ in eps]
			srv = [(pn, pr, p, "%s.%s" % (ep, fq)) for ep, _, sp in eps for pn, pr, p in sp]
		if kind == "cluster" and not ports:
			t.nx.add(fq)  # as CoreDNS: no ports, no service name (its endpoints still are)
			addrs, srv = [], []
		else:
			t.add(fq, "A")
			t.add(fq, "AAAA")
			t.add(fq, "SRV")
		for a in addrs:
			t.add(fq, "A" if a.version == 4 else "AAAA", str(a))
		for pn, pr, p, target in srv:
			t.add(fq, "SRV", "%d %s" % (p, target))
			if pn:
				t.add("_%s._%s.%s" % (pn, pr, fq), "SRV", "%d %s" % (p, target))
		for ip in ips:
			t.add(rev(ip), "PTR", fq)
		for ep, a, _ in eps:
			efq = "%s.%s" % (ep, fq)
			t.add(efq, "A" if a.version == 4 else "AAAA", str(a))
			if a not in cluster_ips:
				t.add(rev(a), "PTR", efq)
	for g in gone:
		t.nx.add(g.lower().rstrip(".") + ".")
	return t.finish()


# ---- asking the server ----

def canon(rdtype, rd):
	if rdtype in ("A", "AAAA"):
		return str(ipaddress.ip_address(rd.address))
	if rdtype == "SRV":
		return "%d %s" % (rd.port, rd.target.to_text().lower())
	return rd.target.to_text().lower()


def ask(server, port, name, rdtype, tcp):
	q = dns.message.make_query(name, rdtype)
	for _ in range(3):
		try:
			if tcp:
				return dns.query.tcp(q, server, port=port, timeout=3)
			r = dns.query.udp(q, server, port=port, timeout=2)
			if r.flags & dns.flags.TC:
				return dns.query.tcp(q, server, port=port, timeout=3)
			return r
		except (dns.exception.Timeout, OSError):
			continue
	return None


def check_one(server, port, key, want, tcp):
	"""None when right, else what was wrong."""
	name, rdtype = key
	r = ask(server, port, name, rdtype, tcp)
	if r is None:
		return "no answer"
	if want is None:
		return None if r.rcode() == dns.rcode.NXDOMAIN else \
			"rcode %s, wanted NXDOMAIN" % dns.rcode.to_text(r.rcode())
	if r.rcode() != dns.rcode.NOERROR:
		return "rcode %s, wanted NOERROR %s" % (dns.rcode.to_text(r.rcode()), sorted(want))
	qn = dns.name.from_text(name)
	t = dns.rdatatype.from_text(rdtype)
	got = set()
	for rrset in r.answer:
		if rrset.name == qn and rrset.rdtype == t:
			got.update(canon(rdtype, rd) for rd in rrset)
	if got != want:
		return "got %s, wanted %s" % (sorted(got), sorted(want))
	return None


def check(t, server, port, tcp=False, only=None):
	"""{key: why} of the wrong answers among @only (default: all)."""
	wrong = {}
	keys = only if only is not None else \
		list(t.want) + [(n, "A") for n in sorted(t.nx)]
	for key in keys:
		want = None if key[0] in t.nx else t.want[key]
		why = check_one(server, port, key, want, tcp)
		if why:
			wrong[key] = why
	return wrong


def fetch(args):
	if args.objects:
		with open(args.objects, encoding="utf-8") as f:
			doc = json.load(f)
	else:
		ctx = None
		if args.api.startswith("https:"):
			ctx = ssl.create_default_context(cafile=args.cacert)
			if args.cert:
				ctx.load_cert_chain(args.cert, args.key)
		with urllib.request.urlopen(args.api.rstrip("/") + "/_fake/objects", timeout=30,
				context=ctx) as resp:
			doc = json.load(resp)
	return doc.get("items", []) if isinstance(doc, dict) else doc


def main():
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--server", required=True, help="ADDR:PORT of the DNS server")
	src = ap.add_mutually_exclusive_group(required=True)
	src.add_argument("--api", help="the fake API server's URL")
	src.add_argument("--objects", help="a JSON List of the objects")
	ap.add_argument("--cacert")
	ap.add_argument("--cert")
	ap.add_argument("--key")
	ap.add_argument("--zone", default="cluster.local")
	ap.add_argument("--gone", action="append", default=[])
	ap.add_argument("--tcp", action="store_true")
	ap.add_argument("--wait", type=float, default=0)
	args = ap.parse_args()
	addr, _, port = args.server.rpartition(":")
	t = expected(fetch(args), args.zone, args.gone)
	checks = len(t.want) + len(t.nx)
	deadline = time.monotonic() + args.wait
	wrong = check(t, addr, int(port), args.tcp)
	while wrong and time.monotonic() < deadline:
		time.sleep(0.2)
		wrong = check(t, addr, int(port), args.tcp, only=list(wrong))
		if not wrong:
			wrong = check(t, addr, int(port), args.tcp)  # all of it again, once right
	for (name, rdtype), why in sorted(wrong.items()):
		print("WRONG %s %s: %s" % (name, rdtype, why))
	print("truth: %d names, %d checks, %d wrong" % (len(t.names | t.nx), checks, len(wrong)))
	return 1 if wrong else 0


if __name__ == "__main__":
	sys.exit(main())
