#!/usr/bin/python3
"""fakeapi.py -- a fake Kubernetes API server for Sextant's integration tests.

Speaks the kube-apiserver wire protocol (JSON over HTTP/1.1, plain or TLS) for Services,
Endpoints, EndpointSlices, Namespaces, Pods, Nodes and ServiceImports: LIST with limit/continue and
selectors, chunked WATCH streams with replay, bookmarks and 410 Expired, GET/POST/PUT/PATCH/DELETE,
bearer-token and client-certificate authentication. Tests drive it through a control interface
under /_fake/. Standard library only (PyYAML for YAML manifests when installed). See README.md.
"""

import argparse
import base64
import bisect
import collections
import copy
import gzip
import ipaddress
import json
import os
import re
import select
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import cluster
import rawfault

MAX_BODY = 16 << 20
LIST_CHUNK = 4096  # Go's net/http flushes a streamed body in chunks of its 4 KiB buffer
WRITE_BATCH = 1 << 20  # bytes of a big body handed to the socket at once
WAIT_TICK = 0.25   # how often a waiting watch looks at its socket


def log(msg):
	print("fakeapi: " + msg, file=sys.stderr, flush=True)


def now_rfc3339():
	return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def parse_bool(value):
	"""Go's strconv.ParseBool; None when absent, ValueError when malformed."""
	if value is None:
		return None
	if value in ("1", "t", "T", "true", "TRUE", "True"):
		return True
	if value in ("0", "f", "F", "false", "FALSE", "False"):
		return False
	raise ValueError(value)


def dumps(obj):
	"""Compact JSON with a trailing newline, as Go's json.Encoder writes it."""
	return (json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


# ---------------------------------------------------------------------------------------------
# Errors: every failure leaves the server as a metav1.Status object
# ---------------------------------------------------------------------------------------------

REASONS = {
	400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
	405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
	415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
	503: "ServiceUnavailable", 504: "Timeout",
}


class ApiError(Exception):
	def __init__(self, code, message, reason=None, details=None, metadata=None, headers=None):
		super().__init__(message)
		self.code = code
		self.message = message
		self.reason = reason or REASONS.get(code, "")
		self.details = details
		self.metadata = metadata or {}
		self.headers = headers or {}

	def status(self):
		st = {"kind": "Status", "apiVersion": "v1", "metadata": self.metadata,
			"status": "Failure", "message": self.message, "reason": self.reason}
		if self.details is not None:
			st["details"] = self.details
		st["code"] = self.code
		return st


def bad_request(msg):
	return ApiError(400, msg)


# ---------------------------------------------------------------------------------------------
# Resource types
# ---------------------------------------------------------------------------------------------

class RType:
	def __init__(self, group, version, plural, kind, namespaced, short=(), fields=(), status=False,
			storage=None):
		self.group = group
		self.version = version
		self.api_version = group + "/" + version if group else version
		self.plural = plural
		self.kind = kind
		self.namespaced = namespaced
		self.short = list(short)
		self.fields = ("metadata.name", "metadata.namespace") + tuple(fields)
		self.has_status = status
		# Like the real server, objects are stored in one version and converted to the one a
		# client asks for.
		self.storage = storage or self

	def to_view(self, obj):
		"""A stored object (of self.storage) as this version shows it."""
		return obj

	def to_storage(self, obj):
		"""An object of this version as it is stored (a fresh copy is not needed)."""
		return obj

	@property
	def qualified(self):
		"""The name error messages use: services, endpointslices.discovery.k8s.io."""
		return self.plural + "." + self.group if self.group else self.plural

	def details(self, name=None):
		d = {}
		if name is not None:
			d["name"] = name
		if self.group:
			d["group"] = self.group
		d["kind"] = self.plural
		return d

	def not_found(self, name):
		return ApiError(404, '%s "%s" not found' % (self.qualified, name),
			details=self.details(name))

	def empty_object(self):
		"""What Go serialises for a zero object of this kind (used for bookmarks)."""
		obj = {"kind": self.kind, "apiVersion": self.api_version,
			"metadata": {"creationTimestamp": None}}
		obj.update(copy.deepcopy(EMPTY_BODIES.get(self.kind, {})))
		return obj


class SliceV1beta1(RType):
	"""discovery.k8s.io/v1beta1 EndpointSlices as Kubernetes 1.20 serves them, stored as v1:
	an endpoint's node name and zone are keys of its topology map, and the fields 1.20 drops
	with their feature gates off (nodeName, serving, terminating, hints) are left out."""

	HOST, ZONE = "kubernetes.io/hostname", "topology.kubernetes.io/zone"

	def to_view(self, obj):
		out = copy.deepcopy(obj)
		out["apiVersion"] = self.api_version
		for ep in out.get("endpoints") or []:
			topo = dict(ep.pop("deprecatedTopology", None) or {})
			if ep.get("nodeName"):
				topo[self.HOST] = ep["nodeName"]
			if ep.get("zone"):
				topo[self.ZONE] = ep["zone"]
			for field in ("nodeName", "zone", "hints"):
				ep.pop(field, None)
			for cond in ("serving", "terminating"):
				(ep.get("conditions") or {}).pop(cond, None)
			if topo:
				ep["topology"] = topo
		return out

	def to_storage(self, obj):
		out = copy.deepcopy(obj)
		out["apiVersion"] = self.storage.api_version
		for ep in out.get("endpoints") or []:
			topo = dict(ep.pop("topology", None) or {})
			if self.HOST in topo:
				ep.setdefault("nodeName", topo.pop(self.HOST))
			if self.ZONE in topo:
				ep["zone"] = topo.pop(self.ZONE)
			if topo:
				ep["deprecatedTopology"] = topo
		return out


EMPTY_BODIES = {
	"Service": {"spec": {}, "status": {"loadBalancer": {}}},
	"Pod": {"spec": {"containers": None}, "status": {}},
	"Namespace": {"spec": {}, "status": {}},
	"Node": {"spec": {}, "status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
		"nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "",
		"osImage": "", "containerRuntimeVersion": "", "kubeletVersion": "",
		"kubeProxyVersion": "", "operatingSystem": "", "architecture": ""}}},
	"EndpointSlice": {"addressType": "", "endpoints": None},
	"ServiceImport": {"spec": {"ports": None, "type": ""}, "status": {}},
}

RTYPES = [
	RType("", "v1", "namespaces", "Namespace", False, ("ns",), ("status.phase",), status=True),
	RType("", "v1", "nodes", "Node", False, ("no",), ("spec.unschedulable",), status=True),
	RType("", "v1", "services", "Service", True, ("svc",), ("spec.clusterIP", "spec.type"),
		status=True),
	RType("", "v1", "endpoints", "Endpoints", True, ("ep",)),
	RType("", "v1", "pods", "Pod", True, ("po",), ("spec.nodeName", "spec.restartPolicy",
		"spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
		"status.podIP", "status.nominatedNodeName"), status=True),
	RType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
	RType("multicluster.x-k8s.io", "v1alpha1", "serviceimports", "ServiceImport", True,
		status=True),
]
RTYPES.append(SliceV1beta1("discovery.k8s.io", "v1beta1", "endpointslices", "EndpointSlice",
	True, storage=RTYPES[5]))
BY_PATH = {(rt.api_version, rt.plural): rt for rt in RTYPES}
BY_KIND = {(rt.api_version, rt.kind): rt for rt in RTYPES}
STORED = [rt for rt in RTYPES if rt.storage is rt]
# What the API serves (--endpointslice-versions); the control interface takes every version.
SERVED = set()
GROUPS = collections.OrderedDict()


def serve_versions(slice_versions):
	"""Serve every resource type, EndpointSlices only in slice_versions (best first)."""
	SERVED.clear()
	GROUPS.clear()
	for rt in RTYPES:
		if rt.plural == "endpointslices" and rt.version not in slice_versions:
			continue
		SERVED.add(rt)
	order = {v: i for i, v in enumerate(slice_versions)}
	for rt in sorted(SERVED, key=lambda rt: (RTYPES.index(rt.storage),
			order.get(rt.version, 0))):
		GROUPS.setdefault(rt.group, collections.OrderedDict()).setdefault(rt.version,
			[]).append(rt)


def rtype_of(obj):
	if not isinstance(obj, dict):
		raise bad_request("object is not a JSON object")
	av, kind = obj.get("apiVersion"), obj.get("kind")
	rt = BY_KIND.get((av, kind))
	if rt is None:
		raise bad_request('no kind "%s" is registered for version "%s"'
			% (kind or "", av or ""))
	return rt


# ---------------------------------------------------------------------------------------------
# Selectors
# ---------------------------------------------------------------------------------------------

_NAME_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS1123_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _check_key(key):
	prefix, _, name = key.rpartition("/")
	if ("/" in key and (not prefix or len(prefix) > 253 or not _DNS1123_RE.match(prefix))) \
			or not name or len(name) > 63 or not _NAME_RE.match(name):
		raise bad_request('unable to parse requirement: invalid label key "%s"' % key)


def _check_value(value):
	if value and (len(value) > 63 or not _NAME_RE.match(value)):
		raise bad_request('unable to parse requirement: invalid label value: "%s"' % value)


class LabelSelector:
	"""Kubernetes label selector: a=b, a==b, a!=b, a in (x,y), a notin (x), a, !a, a>1, a<1."""

	_TOKEN_RE = re.compile(r"\s*(!=|==|=|!|\(|\)|,|>|<|[^\s!=(),<>]+)")

	def __init__(self, text):
		self.text = text or ""
		self.reqs = []
		toks = self._lex(self.text)
		i = 0
		while i < len(toks):
			req, i = self._requirement(toks, i)
			self.reqs.append(req)
			if i < len(toks):
				if toks[i] != ",":
					raise bad_request("found '%s', expected: ',' or 'end of string'" % toks[i])
				i += 1
				if i == len(toks):
					raise bad_request("found '', expected: identifier after ','")

	@classmethod
	def _lex(cls, text):
		toks, pos = [], 0
		text = text.rstrip()
		while pos < len(text):
			m = cls._TOKEN_RE.match(text, pos)
			if not m:
				raise bad_request("unable to parse requirement: cannot lex %r" % text[pos:])
			toks.append(m.group(1))
			pos = m.end()
		return toks

	@staticmethod
	def _ident(tok):
		return tok is not None and tok not in ("!=", "==", "=", "!", "(", ")", ",", ">", "<")

	def _requirement(self, toks, i):
		def at(j):
			return toks[j] if j < len(toks) else None
		if at(i) == "!":
			key = at(i + 1)
			if not self._ident(key):
				raise bad_request("found '%s', expected: identifier after '!'" % (key or ""))
			_check_key(key)
			return (key, "!", None), i + 2
		key = at(i)
		if not self._ident(key) or key in ("in", "notin"):
			raise bad_request("found '%s', expected: !, identifier, or 'end of string'"
				% (key or ""))
		_check_key(key)
		op = at(i + 1)
		if op is None or op == ",":
			return (key, "exists", None), i + 1
		if op in ("=", "==", "!="):
			val = at(i + 2)
			if val is None or val == ",":
				return (key, "!=" if op == "!=" else "=", ""), i + 2
			if not self._ident(val):
				raise bad_request("found '%s', expected: identifier for value" % val)
			_check_value(val)
			return (key, "!=" if op == "!=" else "=", val), i + 3
		if op in (">", "<"):
			val = at(i + 2)
			try:
				num = int(val)
			except (TypeError, ValueError):
				raise bad_request("unable to parse requirement: for 'Gt', 'Lt' operators, "
					"the value must be an integer")
			return (key, op, num), i + 3
		if op in ("in", "notin"):
			if at(i + 2) != "(":
				raise bad_request("found '%s', expected: '('" % (at(i + 2) or ""))
			j, vals = i + 3, set()
			while True:
				tok = at(j)
				if tok is None:
					raise bad_request("found '', expected: ',', or ')'")
				if tok == ")":
					if not vals:
						raise bad_request("unable to parse requirement: for 'in', 'notin' "
							"operators, values set can't be empty")
					break
				if tok == ",":
					vals.add("")
					j += 1
					continue
				_check_value(tok)
				vals.add(tok)
				j += 1
				if at(j) == ",":
					j += 1
				elif at(j) != ")":
					raise bad_request("found '%s', expected: ',', or ')'" % (at(j) or ""))
			return (key, op, vals), j + 1
		raise bad_request("found '%s', expected: in, notin, =, ==, !=, gt, lt" % op)

	def empty(self):
		return not self.reqs

	def matches(self, labels):
		labels = labels or {}
		for key, op, val in self.reqs:
			has = key in labels
			cur = labels.get(key)
			if op == "exists":
				ok = has
			elif op == "!":
				ok = not has
			elif op == "=":
				ok = has and cur == val
			elif op == "!=":
				ok = not has or cur != val
			elif op == "in":
				ok = has and cur in val
			elif op == "notin":
				ok = not has or cur not in val
			else:
				try:
					n = int(cur)
				except (TypeError, ValueError):
					return False
				ok = n > val if op == ">" else n < val
			if not ok:
				return False
		return True


class FieldSelector:
	"""Kubernetes field selector: field=value, field==value, field!=value (comma = and)."""

	def __init__(self, text, rtype):
		self.text = text or ""
		self.reqs = []
		for term in self._split(self.text, ","):
			if not term:
				continue
			m = re.match(r"^(.*?)(!=|==|=)(.*)$", term, re.S)
			if not m:
				raise bad_request("invalid selector: '%s'; can't understand '%s'"
					% (self.text, term))
			field = self._unescape(m.group(1))
			if field not in rtype.fields:
				raise bad_request('field label not supported: %s' % field)
			self.reqs.append((field, m.group(2) == "!=", self._unescape(m.group(3))))

	@staticmethod
	def _split(text, sep):
		out, cur, esc = [], "", False
		for ch in text:
			if esc:
				cur += "\\" + ch
				esc = False
			elif ch == "\\":
				esc = True
			elif ch == sep:
				out.append(cur)
				cur = ""
			else:
				cur += ch
		out.append(cur + ("\\" if esc else ""))
		return out

	@staticmethod
	def _unescape(text):
		return re.sub(r"\\(.)", r"\1", text)

	def empty(self):
		return not self.reqs

	@staticmethod
	def value(obj, field):
		cur = obj
		for part in field.split("."):
			cur = cur.get(part) if isinstance(cur, dict) else None
		if cur is None:
			return ""
		if isinstance(cur, bool):
			return "true" if cur else "false"
		return str(cur)

	def matches(self, obj):
		for field, negate, want in self.reqs:
			if (self.value(obj, field) == want) == negate:
				return False
		return True


# ---------------------------------------------------------------------------------------------
# Store: objects, global resourceVersion, bounded event history
# ---------------------------------------------------------------------------------------------

Event = collections.namedtuple("Event", "rv etype rtype key obj prev")


def sort_key(rt, ns, name):
	return ns + "/" + name if rt.namespaced else name


def obj_key(rt, obj):
	md = obj["metadata"]
	return sort_key(rt, md.get("namespace", ""), md["name"])


class Store:
	"""All objects, like etcd: every write bumps one global revision and is kept in a bounded
	history, from which watches replay and older snapshots (continue, Exact) are rebuilt.
	Stored objects are never mutated: writers store fresh copies, so readers may share them."""

	def __init__(self, history_size, initial_rv):
		self.cond = threading.Condition()
		self.rv = initial_rv
		self.floor = initial_rv  # every event with rv > floor is in history
		self.history = collections.deque()
		self.history_size = history_size
		self.objects = {rt: {} for rt in STORED}
		self.next_ip = int(ipaddress.IPv4Address("10.96.128.1"))
		# What a big LIST costs nothing to redo: each item's encoding (with the object it
		# encodes, so a replaced object is encoded again) and the sorted keys of each kind.
		self.encoded = {rt: {} for rt in RTYPES}  # per version served
		self.sorted = {}  # per stored kind
		self.version = {rt: 0 for rt in STORED}  # bumped by every write of the kind
		self.whole = {}  # version served -> (version, every item joined, in pieces): a full LIST

	# --- writes (caller holds self.cond) ---

	def _commit(self, rt, key, etype, obj, prev):
		self.rv += 1
		obj["metadata"]["resourceVersion"] = str(self.rv)
		if etype == "DELETED":
			del self.objects[rt][key]
		else:
			self.objects[rt][key] = obj
		self.version[rt] += 1
		if prev is None or etype == "DELETED":
			self.sorted.pop(rt, None)
		if etype == "DELETED":
			for view in RTYPES:
				if view.storage is rt:
					self.encoded[view].pop(key, None)
		self.history.append(Event(self.rv, etype, rt, key, obj, prev))
		while len(self.history) > self.history_size:
			self.floor = self.history.popleft().rv
		self.cond.notify_all()
		return obj

	def put(self, obj, mode, path_ns=None, subresource=None):
		"""Create or replace. mode: "control" (create or replace, always writes), "create",
		"update". Returns (http code, stored object or None when an update changed nothing)."""
		rt = rtype_of(obj)
		obj = copy.deepcopy(obj)
		if rt.storage is not rt:
			obj, rt = rt.to_storage(obj), rt.storage
		md = obj.get("metadata")
		if not isinstance(md, dict):
			md = obj["metadata"] = {}
		if not md.get("name") and md.get("generateName") and mode != "update":
			md["name"] = md["generateName"] + uuid.uuid4().hex[:5]
		name = md.get("name")
		if not isinstance(name, str) or not name:
			raise ApiError(422 if mode != "control" else 400,
				"%s %s: metadata.name: Required value: name or generateName is required"
				% (rt.kind, "" if name is None else name), details=rt.details())
		if rt.namespaced:
			ns = md.get("namespace") or path_ns or "default"
			if path_ns and ns != path_ns:
				raise bad_request("the namespace of the provided object does not match the "
					"namespace sent on the request")
			md["namespace"] = ns
			if mode != "control" and ns not in self.objects[BY_PATH[("v1", "namespaces")]]:
				raise ApiError(404, 'namespaces "%s" not found' % ns,
					details={"name": ns, "kind": "namespaces"})
		else:
			md.pop("namespace", None)
		key = obj_key(rt, obj)
		prev = self.objects[rt].get(key)
		if mode == "create" and prev is not None:
			raise ApiError(409, '%s "%s" already exists' % (rt.qualified, name),
				reason="AlreadyExists", details=rt.details(name))
		if mode == "update":
			if prev is None:
				raise rt.not_found(name)
			want = md.get("resourceVersion")
			if want and want != prev["metadata"]["resourceVersion"]:
				raise ApiError(409, 'Operation cannot be fulfilled on %s "%s": the object has '
					'been modified; please apply your changes to the latest version and try '
					'again' % (rt.qualified, name), details=rt.details(name))
			if subresource == "status":
				obj = dict(copy.deepcopy(prev), status=obj.get("status", {}))
				md = obj["metadata"]
		if prev is not None and mode != "control":
			for field in ("uid", "creationTimestamp"):
				md[field] = prev["metadata"].get(field)
		elif prev is not None:
			md.setdefault("uid", prev["metadata"].get("uid"))
			md.setdefault("creationTimestamp", prev["metadata"].get("creationTimestamp"))
		md.setdefault("uid", str(uuid.uuid4()))
		if not md.get("creationTimestamp"):
			md["creationTimestamp"] = now_rfc3339()
		self._default(rt, obj, prev)
		if mode == "update":
			a = dict(obj, metadata=dict(md, resourceVersion=None))
			b = dict(prev, metadata=dict(prev["metadata"], resourceVersion=None))
			if a == b:
				return 200, None  # a no-op update writes nothing, as in the real server
		etype = "ADDED" if prev is None else "MODIFIED"
		return (201 if prev is None else 200), self._commit(rt, key, etype, obj, prev)

	def delete(self, rt, ns, name):
		key = sort_key(rt, ns or "", name)
		prev = self.objects[rt].get(key)
		if prev is None:
			raise rt.not_found(name)
		obj = copy.deepcopy(prev)
		return self._commit(rt, key, "DELETED", obj, prev)

	def load_bulk(self, objs):
		"""Store generated objects as they are (already defaulted), without history: the
		fast path for clusters of a million objects."""
		for obj in objs:
			rt = rtype_of(obj)
			if rt.storage is not rt:
				obj, rt = rt.to_storage(obj), rt.storage
			self.rv += 1
			obj["metadata"]["resourceVersion"] = str(self.rv)
			self.objects[rt][obj_key(rt, obj)] = obj
			self.version[rt] += 1
			self.sorted.pop(rt, None)
		self.floor = self.rv
		self.history.clear()

	def compact(self, upto=None):
		upto = self.rv if upto is None else min(upto, self.rv)
		while self.history and self.history[0].rv <= upto:
			self.history.popleft()
		self.floor = max(self.floor, upto)
		self.cond.notify_all()

	def _alloc_ip(self):
		used = set()
		for svc in self.objects[BY_PATH[("v1", "services")]].values():
			used.update(svc.get("spec", {}).get("clusterIPs") or [])
		while True:
			ip = str(ipaddress.IPv4Address(self.next_ip))
			self.next_ip += 1
			if ip not in used:
				return ip

	def _default(self, rt, obj, prev):
		"""The few server-side defaults a DNS client may look at."""
		md = obj["metadata"]
		if rt.kind == "Namespace":
			md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md["name"]
			obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
			obj.setdefault("status", {}).setdefault("phase", "Active")
		elif rt.kind == "Service":
			spec = obj.setdefault("spec", {})
			stype = spec.setdefault("type", "ClusterIP")
			if stype != "ExternalName":
				old = (prev or {}).get("spec", {})
				if not spec.get("clusterIP"):
					spec["clusterIP"] = old.get("clusterIP") or self._alloc_ip()
				if not spec.get("clusterIPs"):
					spec["clusterIPs"] = [spec["clusterIP"]]
				if "ipFamilies" not in spec:
					spec["ipFamilies"] = [
						"IPv6" if ":" in ip else "IPv4" for ip in spec["clusterIPs"] if ip != "None"
					] or ["IPv4"]
				spec.setdefault("ipFamilyPolicy",
					"RequireDualStack" if len(spec["clusterIPs"]) > 1 else "SingleStack")
			spec.setdefault("sessionAffinity", "None")
			for port in spec.get("ports") or []:
				port.setdefault("protocol", "TCP")
				if stype != "ExternalName":
					port.setdefault("targetPort", port.get("port"))
			obj.setdefault("status", {"loadBalancer": {}})
		elif rt.kind == "EndpointSlice":
			obj.setdefault("endpoints", None)
			for port in obj.get("ports") or []:
				port.setdefault("protocol", "TCP")
		elif rt.kind == "Pod":
			obj.setdefault("spec", {})
			obj.setdefault("status", {}).setdefault("phase", "Pending")

	# --- reads (caller holds self.cond) ---

	def snapshot(self, rt, rv):
		"""The objects of rt as they were at revision rv (rv >= floor), rebuilt from history:
		the live objects themselves when no later event is of rt (read them under the lock)."""
		objs = self.objects[rt]
		for ev in reversed(self.history):
			if ev.rv <= rv:
				break
			if ev.rtype is not rt:
				continue
			if objs is self.objects[rt]:
				objs = dict(objs)  # a page of 500 must not copy 100,000 objects
			if ev.prev is None:
				objs.pop(ev.key, None)
			else:
				objs[ev.key] = ev.prev
		return objs

	def sorted_keys(self, rt, objs, rv):
		"""The keys of objs (the objects of rt at rv) in order; cached for the current set."""
		if any(ev.rtype is rt and (ev.prev is None or ev.etype == "DELETED")
				for ev in self.events_after(rv)):
			return sorted(objs)  # an older snapshot with other keys
		keys = self.sorted.get(rt)
		if keys is None:
			keys = self.sorted[rt] = sorted(self.objects[rt])
		return keys

	def item_bytes(self, rt, key, obj):
		"""obj (stored) as an item of a LIST of version rt (no kind/apiVersion), encoded once."""
		cache = self.encoded[rt]
		hit = cache.get(key)
		if hit is not None and hit[0] is obj:
			return hit[1]
		data = json.dumps({k: v for k, v in rt.to_view(obj).items()
				if k not in ("kind", "apiVersion")},
			separators=(",", ":"), ensure_ascii=False).encode()
		cache[key] = (obj, data)
		return data

	def whole_list(self, rt, version, keys, objs, head=None):
		"""The items of a full LIST of rt (objs at version, keys in order), joined by commas
		in pieces of about WRITE_BATCH bytes; kept until the next write of rt. With head (the
		list's JSON with empty items), the whole body gzipped, kept for that head."""
		hit = self.whole.get(rt)
		if hit is None or hit[0] != version:
			parts = []
			for key in keys:
				parts += (self.item_bytes(rt, key, objs[key]), b",")
			hit = self.whole[rt] = (version, list(batches(parts[:-1])), None, None)
		if head is None:
			return hit[1]
		if hit[2] != head:
			gz = zlib.compressobj(1, zlib.DEFLATED, 31)
			out = [gz.compress(head[:-3])] + [gz.compress(p) for p in hit[1]]
			out.append(gz.compress(head[-3:]) + gz.flush())
			hit = self.whole[rt] = (version, hit[1], head, out)
		return hit[3]

	def events_after(self, rv):
		out = []
		for ev in reversed(self.history):
			if ev.rv <= rv:
				break
			out.append(ev)
		out.reverse()
		return out

	def counts(self):
		return {rt.qualified: len(objs) for rt, objs in self.objects.items()}


def load_objects(path):
	"""Objects from a JSON (or, with PyYAML, YAML) file, or from every such file in a directory."""
	if os.path.isdir(path):
		out = []
		for name in sorted(os.listdir(path)):
			if name.endswith((".json", ".yaml", ".yml")):
				out.extend(load_objects(os.path.join(path, name)))
		return out
	with open(path, encoding="utf-8") as f:
		text = f.read()
	if path.endswith((".yaml", ".yml")):
		try:
			import yaml
		except ImportError:
			raise SystemExit("fakeapi: %s: YAML needs python3-yaml (apt-get install python3-yaml)"
				% path)
		docs = [d for d in yaml.safe_load_all(text) if d]
	else:
		docs = [json.loads(text)]
	out = []
	for doc in docs:
		out.extend(flatten(doc))
	return out


def flatten(doc):
	"""A List or typed *List becomes its items; items of a typed list get its kind back."""
	kind = doc.get("kind", "") if isinstance(doc, dict) else ""
	if kind.endswith("List") and isinstance(doc.get("items"), list):
		out = []
		for item in doc["items"]:
			if kind != "List":
				item = dict(item)
				item.setdefault("kind", kind[:-4])
				item.setdefault("apiVersion", doc.get("apiVersion"))
			out.extend(flatten(item))
		return out
	return [doc]


def list_head(rt, meta):
	"""A LIST of rt with empty items; the items go before its last 3 bytes, ']}\\n'."""
	return dumps({"kind": rt.kind + "List", "apiVersion": rt.api_version, "metadata": meta,
		"items": []})


def batches(parts):
	"""The byte strings of parts joined into pieces of about WRITE_BATCH bytes."""
	batch, size = [], 0
	for p in parts:
		batch.append(p)
		size += len(p)
		if size >= WRITE_BATCH:
			yield b"".join(batch)
			batch, size = [], 0
	if batch:
		yield b"".join(batch)


def frame(data, step):
	"""data as HTTP chunks of at most step bytes."""
	return b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + step]), data[i:i + step])
		for i in range(0, len(data), step))


# ---------------------------------------------------------------------------------------------
# Continue tokens (same shape as the real server's: base64url of {"v","rv","start"})
# ---------------------------------------------------------------------------------------------

def encode_continue(rv, start):
	raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
	return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token):
	try:
		raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
		data = json.loads(raw)
	except (ValueError, TypeError) as e:
		raise bad_request("invalid continue token: %s" % e)
	if not isinstance(data, dict) or data.get("v") != "meta.k8s.io/v1":
		raise bad_request("invalid continue token: server does not recognize this encoding")
	rv, start = data.get("rv"), data.get("start")
	if not isinstance(rv, int) or rv == 0:
		raise bad_request("invalid continue token: continue key is not valid: incorrect "
			"encoded start resourceVersion (version meta.k8s.io/v1)")
	if not isinstance(start, str) or not start:
		raise bad_request("invalid continue token: continue key is not valid: encoded start "
			"key empty")
	return rv, start


# ---------------------------------------------------------------------------------------------
# Shared server state: store, watches, fault injection, request log, credentials
# ---------------------------------------------------------------------------------------------

class Waiter:
	"""An open watch (or a request held open by a "hang" fault); drop-watches ends it."""

	def __init__(self, kind, path, query):
		self.kind = kind
		self.path = path
		self.query = query
		self.id = 0
		self.started = time.time()
		self.last_rv = None
		self.drop = None
		self.drop_status = 410
		self.closed = threading.Event()


class App:
	def __init__(self, args):
		self.args = args
		self.store = Store(args.history, args.initial_rv)
		self.lock = threading.Lock()
		self.log_cond = threading.Condition()
		self.requests = collections.deque(maxlen=args.max_requests_log)
		self.seq = 0
		self.waiters = {}
		self.waiter_id = 0
		self.rules = []
		self.rule_id = 0
		self.bookmark_epoch = 0
		self.bookmark_force = False
		self.tokens = list(args.token or [])
		# Fixed at start (and by /_fake/token): emptying the token list must not open the door.
		self.auth_on = bool(args.token or args.token_file or args.client_ca)
		self.port = 0

	def valid_tokens(self):
		with self.lock:
			tokens = set(self.tokens)
		if self.args.token_file:
			# Re-read on every request so tests can rotate the token (mv a new file in place).
			try:
				with open(self.args.token_file, encoding="utf-8") as f:
					for line in f:
						line = line.strip()
						if line and not line.startswith("#"):
							tokens.add(line.split(",", 1)[0].strip())
			except OSError:
				pass
		return tokens

	def log_request(self, entry):
		with self.log_cond:
			self.seq += 1
			entry["seq"] = self.seq
			self.requests.append(entry)
			self.log_cond.notify_all()

	def take_fault(self, method, path, query, watch):
		with self.lock:
			for rule in self.rules:
				if rule["remaining"] == 0:
					continue
				if rule.get("method") and rule["method"].upper() != method:
					continue
				if not path.startswith(rule.get("path", "/")):
					continue
				if rule.get("watch") is not None and bool(rule["watch"]) != watch:
					continue
				want = rule.get("query") or {}
				if any(k not in query or (v is not None and query[k] != v)
						for k, v in want.items()):
					continue
				if rule["remaining"] > 0:
					rule["remaining"] -= 1
				rule["hits"] += 1
				return dict(rule)
		return None

	def add_waiter(self, waiter):
		with self.store.cond:
			self.waiter_id += 1
			waiter.id = self.waiter_id
			self.waiters[waiter.id] = waiter
			self.store.cond.notify_all()
		return waiter

	def remove_waiter(self, waiter):
		with self.store.cond:
			self.waiters.pop(waiter.id, None)
			self.store.cond.notify_all()
		waiter.closed.set()


# ---------------------------------------------------------------------------------------------
# Control interface (/_fake/...): a mixin of Handler, see README.md for the calls
# ---------------------------------------------------------------------------------------------

class ControlCalls:
	"""The /_fake/ calls; uses Handler's app, json_body and send_json."""

	def dispatch_control(self, path, query):
		app = self.app
		if app.args.control_token:
			auth = self.headers.get("Authorization", "")
			if auth != "Bearer " + app.args.control_token:
				self.send_error_status(ApiError(401, "Unauthorized"))
				return
		try:
			self.route_control(path.rstrip("/"), query)
		except ApiError as e:
			self.send_error_status(e)
		except (ValueError, TypeError, KeyError, AttributeError) as e:
			self.send_error_status(bad_request("bad control call: %s" % e))

	def route_control(self, path, query):
		app, store, method = self.app, self.app.store, self.command
		route = (method, path)
		if route in (("GET", "/_fake"), ("GET", "/_fake/state")):
			with store.cond:
				state = {"resourceVersion": str(store.rv), "floor": str(store.floor),
					"history": len(store.history), "objects": store.counts(),
					"watches": sum(1 for w in app.waiters.values() if w.kind == "watch")}
			self.send_json(200, state)
		elif route == ("GET", "/_fake/objects"):
			with store.cond:
				items = [o for rt in STORED for _, o in sorted(store.objects[rt].items())]
				rv = store.rv
			self.send_json(200, {"kind": "List", "apiVersion": "v1",
				"metadata": {"resourceVersion": str(rv)}, "items": items})
		elif route == ("POST", "/_fake/objects"):
			objs = flatten(self.json_body())
			for obj in objs:
				rtype_of(obj)  # refuse the whole batch before writing any of it
			out = []
			with store.cond:
				for obj in objs:
					out.append(store.put(obj, "control")[1])
				rv = store.rv
			self.send_json(200, {"resourceVersion": str(rv), "objects": out})
		elif method == "DELETE" and re.match(r"^/_fake/objects(/|$)", path):
			targets = self.delete_targets(path[len("/_fake/objects"):])
			out = []
			with store.cond:
				for rt, ns, name in targets:
					out.append(store.delete(rt, ns, name))
				rv = store.rv
			self.send_json(200, {"resourceVersion": str(rv), "objects": out})
		elif route == ("POST", "/_fake/compact"):
			body = self.json_body() or {}
			upto = body.get("resourceVersion")
			with store.cond:
				store.compact(int(upto) if upto is not None else None)
				state = {"resourceVersion": str(store.rv), "floor": str(store.floor)}
			self.send_json(200, state)
		elif route == ("POST", "/_fake/drop-watches"):
			body = self.json_body() or {}
			mode = body.get("mode", "abrupt")
			if mode not in ("abrupt", "rst", "clean", "error"):
				raise bad_request("mode must be abrupt, rst, clean or error")
			status = int(body.get("status", 410))
			prefix = body.get("path", "")
			kinds = ("watch", "hang") if body.get("hangs") else ("watch",)
			with store.cond:
				hit = [w for w in app.waiters.values()
					if w.kind in kinds and w.path.startswith(prefix)]
				for w in hit:
					w.drop = mode
					w.drop_status = status
				store.cond.notify_all()
			for w in hit:
				w.closed.wait(5)
			self.send_json(200, {"dropped": len(hit)})
		elif route == ("POST", "/_fake/bookmark"):
			body = self.json_body() or {}
			with store.cond:
				app.bookmark_force = bool(body.get("force"))
				app.bookmark_epoch += 1
				n = sum(1 for w in app.waiters.values() if w.kind == "watch")
				store.cond.notify_all()
			self.send_json(200, {"watches": n, "resourceVersion": str(store.rv)})
		elif route == ("GET", "/_fake/watches"):
			self.send_json(*self.list_watches(query))
		elif route == ("POST", "/_fake/fail"):
			self.add_faults(self.json_body())
		elif route == ("GET", "/_fake/fail"):
			with app.lock:
				self.send_json(200, {"rules": list(app.rules)})
		elif route == ("DELETE", "/_fake/fail"):
			with app.lock:
				app.rules = []
			self.send_json(200, {"rules": []})
		elif route == ("GET", "/_fake/requests"):
			self.send_json(*self.list_requests(query))
		elif route == ("DELETE", "/_fake/requests"):
			with app.log_cond:
				app.requests.clear()
				seq = app.seq
			self.send_json(200, {"next": seq + 1})
		elif route == ("POST", "/_fake/token"):
			body = self.json_body() or {}
			tokens = body.get("tokens")
			if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
				raise bad_request('body must be {"tokens": ["..."]}')
			with app.lock:
				app.tokens = tokens
				app.auth_on = True
			self.send_json(200, {"tokens": len(tokens)})
		else:
			raise ApiError(404, "unknown control call %s %s" % (method, path))

	def delete_targets(self, rest):
		"""Objects named by /<apiVersion>/[<namespace>/]<plural>/<name> or by the body."""
		if rest.strip("/"):
			parts = rest.strip("/").split("/")
			if "." in parts[0] and len(parts) > 1:
				api_version, parts = parts[0] + "/" + parts[1], parts[2:]
			else:
				api_version, parts = parts[0], parts[1:]
			if len(parts) == 3:
				ns, plural, name = parts
			elif len(parts) == 2:
				ns, (plural, name) = None, parts
			else:
				raise bad_request("use /_fake/objects/<apiVersion>/<namespace>/<plural>/<name>")
			rt = BY_PATH.get((api_version, plural))
			if rt is None:
				raise ApiError(404, "no resource %s in %s" % (plural, api_version))
			rt = rt.storage
			if ns in ("-", "_"):
				ns = None
			if rt.namespaced and not ns:
				raise bad_request("%s are namespaced: give a namespace" % plural)
			return [(rt, ns if rt.namespaced else None, name)]
		out = []
		for obj in flatten(self.json_body()):
			rt = rtype_of(obj).storage
			md = obj.get("metadata") or {}
			if not md.get("name"):
				raise bad_request("metadata.name is required")
			out.append((rt, md.get("namespace", "default") if rt.namespaced else None,
				md["name"]))
		return out

	def add_faults(self, body):
		app = self.app
		rules = body if isinstance(body, list) else [body]
		added = []
		for rule in rules:
			if not isinstance(rule, dict):
				raise bad_request("a fault rule is a JSON object")
			rule = dict(rule)
			q = rule.get("query") or {}
			if isinstance(q, str):
				q = dict((p.split("=", 1) + [None])[:2] for p in q.split("&") if p)
			rule["query"] = {k: None if v is None else str(v) for k, v in q.items()}
			mode = rule.setdefault("mode", "status")
			if mode not in ("status", "hang", "hold", "close", "rst", "watch-error") + rawfault.MODES:
				raise bad_request("mode must be status, hang, hold, close, rst, watch-error or raw")
			if mode in rawfault.MODES:
				why = rawfault.check(rule)
				if why:
					raise bad_request(why)
			rule.setdefault("path", "/")
			rule["status"] = int(rule.get("status", 500))
			if rule.get("retryAfter") is not None:
				rule["retryAfter"] = int(rule["retryAfter"])
			if rule.get("seconds") is not None:
				rule["seconds"] = float(rule["seconds"])
			count = int(rule.get("count", 1))
			rule["remaining"] = -1 if count < 0 else count
			rule["hits"] = 0
			with app.lock:
				app.rule_id += 1
				rule["id"] = app.rule_id
				app.rules.append(rule)
			added.append(rule)
		self.send_json(200, {"rules": added})

	def list_watches(self, query):
		app, store = self.app, self.app.store
		prefix = query.get("path", "")
		want = int(query.get("min", 0))
		end = time.monotonic() + float(query.get("timeout", 0))
		caught_up = parse_bool(query.get("caughtup"))

		def current():
			# last_rv moves once a watch has written every event up to it to its socket.
			return [w for w in app.waiters.values()
				if w.kind == "watch" and w.path.startswith(prefix)
				and (not caught_up or w.last_rv >= store.rv)]
		with store.cond:
			ws = current()
			while len(ws) < want and time.monotonic() < end:
				store.cond.wait(min(WAIT_TICK, max(0.0, end - time.monotonic())))
				ws = current()
			out = [{"id": w.id, "path": w.path, "query": w.query,
				"resourceVersion": str(w.last_rv), "started": round(w.started, 3)} for w in ws]
		return (200 if len(out) >= want else 408), {"watches": out}

	def list_requests(self, query):
		app = self.app
		since = int(query.get("since", 0))
		prefix = query.get("path", "")
		want = int(query.get("min", 0))
		end = time.monotonic() + float(query.get("timeout", 0))

		def current():
			return [dict(r) for r in app.requests
				if r["seq"] >= since and r["path"].startswith(prefix)]
		with app.log_cond:
			rs = current()
			while len(rs) < want and time.monotonic() < end:
				app.log_cond.wait(max(0.0, end - time.monotonic()))
				rs = current()
			nxt = app.seq + 1
		return (200 if len(rs) >= want else 408), {"requests": rs, "next": nxt}


# ---------------------------------------------------------------------------------------------
# HTTP server
# ---------------------------------------------------------------------------------------------

class Server(ThreadingHTTPServer):
	daemon_threads = True
	allow_reuse_address = True
	request_queue_size = 128

	def __init__(self, addr, app, ssl_ctx):
		if ":" in addr[0]:
			self.address_family = socket.AF_INET6
		self.app = app
		self.ssl_ctx = ssl_ctx
		super().__init__(addr, Handler)

	def finish_request(self, request, client_address):
		if self.ssl_ctx is None:
			self.RequestHandlerClass(request, client_address, self)
			return
		# The handshake runs here, in the connection's own thread, not in the accept loop.
		request.settimeout(10)
		try:
			conn = self.ssl_ctx.wrap_socket(request, server_side=True)
		except (ssl.SSLError, OSError) as e:
			if self.app.args.verbose:
				log("TLS handshake with %s failed: %s" % (client_address[0], e))
			request.close()
			return
		try:
			conn.settimeout(None)
			self.RequestHandlerClass(conn, client_address, self)
		finally:
			try:
				conn.shutdown(socket.SHUT_WR)
			except OSError:
				pass
			conn.close()

	def handle_error(self, request, client_address):
		if self.app.args.verbose:
			super().handle_error(request, client_address)


class Handler(ControlCalls, BaseHTTPRequestHandler):
	protocol_version = "HTTP/1.1"
	timeout = 600
	# As Go's net/http (kube-apiserver): without it, a reply's last small write (the end of
	# a chunked body) waits for the client's delayed ACK, 40 ms a LIST page on Linux.
	disable_nagle_algorithm = True
	entry = None      # request-log entry of the API request being served
	responded = False  # a status line went out for the current request

	# --- plumbing ---

	@property
	def app(self):
		return self.server.app

	def log_message(self, fmt, *args):
		if self.app.args.verbose:
			log("%s %s" % (self.address_string(), fmt % args))

	def send_response(self, code, message=None):
		# Go's server sends Date but no Server header.
		self.log_request(code)
		self.send_response_only(code, message)
		self.send_header("Date", self.date_time_string())
		self.responded = True
		if self.entry is not None:
			self.entry["status"] = code

	def do_GET(self):
		self.dispatch()

	do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

	def read_body(self):
		if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
			parts, total = [], 0
			while True:
				line = self.rfile.readline(1024)
				try:
					size = int(line.split(b";")[0].strip(), 16)
				except ValueError:
					raise bad_request("malformed chunked request body")
				if size == 0:
					while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
						pass
					return b"".join(parts)
				total += size
				if total > MAX_BODY:
					raise ApiError(413, "request body too large", reason="RequestEntityTooLarge")
				parts.append(self.rfile.read(size))
				self.rfile.readline(3)
		length = self.headers.get("Content-Length")
		if length is None:
			return b""
		try:
			length = int(length)
		except ValueError:
			raise bad_request("invalid Content-Length")
		if length < 0 or length > MAX_BODY:
			raise ApiError(413, "request body too large", reason="RequestEntityTooLarge")
		return self.rfile.read(length)

	def json_body(self):
		try:
			return json.loads(self.body or b"null")
		except ValueError as e:
			raise bad_request("error decoding request body: %s" % e)

	def wants_gzip(self, length):
		args = self.app.args
		return (args.gzip_threshold >= 0 and length >= args.gzip_threshold
			and "gzip" in self.headers.get("Accept-Encoding", ""))

	def send_body(self, code, body, ctype="application/json", headers=None, gzipped=False):
		"""body: bytes, or a list of byte strings sent as one (a big LIST is never joined:
		on a VM every fresh page of a 100 MB buffer costs more than the copy); gzipped: the
		parts are already a gzip stream."""
		args = self.app.args
		parts = [body] if isinstance(body, (bytes, bytearray)) else body
		length = sum(len(p) for p in parts)
		self.send_response(code)
		self.send_header("Audit-Id", str(uuid.uuid4()))
		self.send_header("Cache-Control", "no-cache, private")
		self.send_header("Content-Type", ctype)
		if self.close_connection and self.request_version == "HTTP/1.1":
			self.send_header("Connection", "close")
		for k, v in (headers or {}).items():
			self.send_header(k, str(v))
		can_chunk = self.request_version == "HTTP/1.1" and args.chunk_threshold >= 0
		gz = None
		if gzipped:
			self.send_header("Content-Encoding", "gzip")
			self.send_header("Vary", "Accept-Encoding")
		elif self.wants_gzip(length):
			self.send_header("Content-Encoding", "gzip")
			self.send_header("Vary", "Accept-Encoding")
			# Level 1, as the real server compresses; streamed when chunked, as it does.
			if can_chunk:
				gz = zlib.compressobj(1, zlib.DEFLATED, 31)
			else:
				parts = [gzip.compress(b"".join(parts), compresslevel=1)]
				length = len(parts[0])
		chunked = can_chunk and (gz is not None or length > args.chunk_threshold)
		if chunked:
			self.send_header("Transfer-Encoding", "chunked")
		else:
			self.send_header("Content-Length", str(length))
		self.end_headers()
		if self.command == "HEAD":
			return
		if self.entry is not None:
			self.entry["first_byte"] = round(time.time(), 4)
		step = args.chunk_max if args.chunk_max > 0 else LIST_CHUNK
		for piece in batches(parts):
			if gz is not None:
				piece = gz.compress(piece)
			if chunked and args.chunk_max > 0:
				# One write per chunk, as a test that asks for small chunks wants them.
				for i in range(0, len(piece), step):
					self.write_chunk(piece[i:i + step])
				continue
			if chunked:
				piece = frame(piece, step)
			# Many chunks per write: a big LIST must not cost a system call per 4 KiB.
			self.wfile.write(piece)
		if gz is not None:
			self.wfile.write(frame(gz.flush(), step))
		if chunked:
			self.wfile.write(b"0\r\n\r\n")
		if self.entry is not None:
			self.entry["done"] = round(time.time(), 4)

	def write_chunk(self, data):
		self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")

	def send_json(self, code, obj, headers=None):
		self.send_body(code, dumps(obj), headers=headers)

	def send_error_status(self, err):
		self.send_json(err.code, err.status(), headers=err.headers)

	def peer_gone(self):
		try:
			readable, _, _ = select.select([self.connection], [], [], 0)
		except (OSError, ValueError):
			return True
		if not readable:
			return False
		if isinstance(self.connection, ssl.SSLSocket):
			return True  # a watching client sends nothing: readable means close_notify or EOF
		try:
			return self.connection.recv(1, socket.MSG_PEEK) == b""
		except OSError:
			return True

	def abort(self, mode="abrupt"):
		"""Drop the connection without finishing the response."""
		self.close_connection = True
		try:
			if mode == "rst":
				self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
					struct.pack("ii", 1, 0))
				self.connection.close()
			else:
				self.connection.shutdown(socket.SHUT_RDWR)
		except OSError:
			pass

	# --- request entry point ---

	def dispatch(self):
		self.entry = None
		self.responded = False
		try:
			self.dispatch_request()
		except (ConnectionError, ssl.SSLError, socket.timeout):
			self.close_connection = True
		except Exception as e:  # a bug here must not look like a protocol detail
			traceback.print_exc()
			if self.responded:
				self.close_connection = True
			else:
				self.send_error_status(ApiError(500, "fakeapi internal error: %s" % e))

	def dispatch_request(self):
		url = urlsplit(self.path)
		path = unquote(url.path)
		multi = parse_qs(url.query, keep_blank_values=True)
		query = {k: v[0] for k, v in multi.items()}  # Go's url.Values.Get: the first value
		try:
			self.body = self.read_body()
		except ApiError as e:
			self.close_connection = True
			self.send_error_status(e)
			return
		if path == "/_fake" or path.startswith("/_fake/"):
			self.dispatch_control(path, query)
			return
		try:
			watch = parse_bool(query.get("watch")) or "/watch/" in path
		except ValueError:
			watch = False
		auth = self.headers.get("Authorization")
		peer_cert = self.peer_cert()
		self.entry = {
			"seq": 0, "time": round(time.time(), 3), "method": self.command, "path": path,
			"query": query, "raw_query": url.query, "watch": watch,
			"auth": "none" if not auth else auth.split(" ", 1)[0].lower(),
			"token_ok": None, "client_cert": peer_cert is not None,
			"client_cert_cn": peer_cert, "user_agent": self.headers.get("User-Agent"),
			"accept": self.headers.get("Accept"),
			"accept_encoding": self.headers.get("Accept-Encoding"),
			"content_type": self.headers.get("Content-Type"),
			"http_version": self.request_version, "status": None, "fault": None,
		}
		self.app.log_request(self.entry)
		fault = self.app.take_fault(self.command, path, query, watch)
		if fault is not None:
			self.entry["fault"] = fault["id"]
			if fault["mode"] != "hold":
				self.apply_fault(fault)
				return
			if not self.hold():
				return
		try:
			self.authenticate(path)
			self.route(path, query, watch)
		except ApiError as e:
			self.send_error_status(e)

	def peer_cert(self):
		"""CN of a verified client certificate, or None."""
		if not isinstance(self.connection, ssl.SSLSocket):
			return None
		cert = self.connection.getpeercert()
		if not cert:
			return None
		for rdn in cert.get("subject", ()):
			for k, v in rdn:
				if k == "commonName":
					return v
		return ""

	def authenticate(self, path):
		app = self.app
		if not app.auth_on:
			return
		auth = self.headers.get("Authorization")
		cert_ok = self.entry["client_cert"]
		token_ok = None
		if auth:
			scheme, _, tok = auth.partition(" ")
			token_ok = scheme.lower() == "bearer" and tok.strip() in app.valid_tokens()
			self.entry["token_ok"] = token_ok
		if token_ok or cert_ok:
			return
		if token_ok is False:
			raise ApiError(401, "Unauthorized")
		if path in ("/healthz", "/livez", "/readyz", "/version"):
			return  # system:public-info-viewer, open to anonymous users
		if not app.args.anonymous:
			raise ApiError(401, "Unauthorized")
		target = self.parse_resource_path(path)
		if target is None:
			raise ApiError(403, 'forbidden: User "system:anonymous" cannot %s path "%s"'
				% (self.command.lower(), path), details={})
		rt, ns, name, _sub = target
		verb = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update",
			"PATCH": "patch", "DELETE": "delete"}[self.command]
		if verb == "get" and name is None:
			verb = "watch" if self.entry["watch"] else "list"
		scope = 'in the namespace "%s"' % ns if ns else "at the cluster scope"
		raise ApiError(403, '%s%s is forbidden: User "system:anonymous" cannot %s resource "%s" '
			'in API group "%s" %s' % (rt.qualified, ' "%s"' % name if name else "", verb,
			rt.plural, rt.group, scope), details=rt.details(name))

	def check_accept(self):
		"""Only JSON is spoken; a client insisting on protobuf or YAML gets 406, not a surprise."""
		accept = self.headers.get("Accept")
		if not accept:
			return
		types = [t.split(";")[0].strip() for t in accept.split(",")]
		if not any(t in ("application/json", "application/*", "*/*", "") for t in types):
			raise ApiError(406, "only the following media types are accepted: "
				"application/json")

	def apply_fault(self, fault):
		mode = fault["mode"]
		err = ApiError(fault["status"], fault.get("message") or "injected failure (fakeapi)",
			reason=fault.get("reason"))
		if fault.get("retryAfter"):
			err.headers["Retry-After"] = fault["retryAfter"]
			err.details = {"retryAfterSeconds": fault["retryAfter"]}
		if mode == "hang":
			self.hang(fault.get("seconds"))
		elif mode in ("close", "rst"):
			self.abort("rst" if mode == "rst" else "abrupt")
		elif mode in rawfault.MODES:
			rawfault.apply(self, fault, Waiter)
		elif mode == "watch-error":
			self.start_stream()
			self.write_event("ERROR", err.status())
			self.end_stream()
		else:
			self.send_error_status(err)

	def hold(self):
		"""Keep the request waiting until drop-watches (with hangs) lets it on: whether it may go
		on (not when the client left), so that a test can act between two pages of a LIST."""
		app = self.app
		waiter = app.add_waiter(Waiter("hang", self.path, {}))
		try:
			while not waiter.drop:
				with app.store.cond:
					app.store.cond.wait(WAIT_TICK)
				if self.peer_gone():
					return False
			return True
		finally:
			app.remove_waiter(waiter)

	def hang(self, seconds):
		app = self.app
		waiter = app.add_waiter(Waiter("hang", self.path, {}))
		end = time.monotonic() + float(seconds) if seconds else None
		try:
			while not waiter.drop and (end is None or time.monotonic() < end):
				with app.store.cond:
					app.store.cond.wait(WAIT_TICK)
				if self.peer_gone():
					break
			self.abort(waiter.drop if waiter.drop == "rst" else "abrupt")
		finally:
			app.remove_waiter(waiter)

	# --- API routing ---

	def route(self, path, query, watch):
		method = self.command
		if re.match(r"^/(healthz|livez|readyz)(/|$)", path):
			if method not in ("GET", "HEAD"):
				raise ApiError(405, "the server does not allow this method on the requested "
					"resource")
			self.send_body(200, b"ok", ctype="text/plain; charset=utf-8",
				headers={"X-Content-Type-Options": "nosniff"})
			return
		self.check_accept()
		static = self.discovery(path)
		if static is not None:
			if method not in ("GET", "HEAD"):
				raise ApiError(405, "the server does not allow this method on the requested "
					"resource")
			self.send_json(200, static)
			return
		target = self.parse_resource_path(path)
		if target is None:
			raise ApiError(404, "the server could not find the requested resource", details={})
		rt, ns, name, sub = target
		if method in ("GET", "HEAD"):
			if watch:
				self.serve_watch(rt, ns, name, query)
			elif name is None:
				self.serve_list(rt, ns, query)
			else:
				self.serve_get(rt, ns, name)
		elif method == "POST" and name is None:
			self.serve_write("create", rt, ns, None, None)
		elif method == "PUT" and name is not None:
			self.serve_write("update", rt, ns, name, sub)
		elif method == "PATCH" and name is not None:
			self.serve_patch(rt, ns, name, sub)
		elif method == "DELETE" and name is not None and sub is None:
			self.serve_delete(rt, ns, name)
		else:
			raise ApiError(405, "the server does not allow this method on the requested "
				"resource")

	def discovery(self, path):
		path = path.rstrip("/") or "/"
		if path == "/version":
			ver = self.app.args.k8s_version
			major, minor = ver.lstrip("v").split(".")[:2]
			return {"major": major, "minor": minor, "gitVersion": ver,
				"gitCommit": "0" * 40, "gitTreeState": "clean",
				"buildDate": "2024-01-01T00:00:00Z", "goVersion": "go1.22.0",
				"compiler": "gc", "platform": "linux/amd64"}
		if path == "/api":
			return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
				{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:%d" % self.app.port}]}
		if path == "/apis":
			groups = []
			for group, versions in GROUPS.items():
				if group:
					groups.append(self.api_group(group, versions))
			return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
		parts = path.strip("/").split("/")
		if parts[0] == "api" and len(parts) == 2 and parts[1] in GROUPS[""]:
			return self.resource_list("", parts[1])
		if parts[0] == "apis" and len(parts) == 2 and parts[1] in GROUPS and parts[1]:
			group = self.api_group(parts[1], GROUPS[parts[1]])
			return dict({"kind": "APIGroup", "apiVersion": "v1"}, **group)
		if parts[0] == "apis" and len(parts) == 3 and parts[2] in GROUPS.get(parts[1], ()) \
				and parts[1]:
			return self.resource_list(parts[1], parts[2])
		return None

	@staticmethod
	def api_group(group, versions):
		vs = [{"groupVersion": group + "/" + v, "version": v} for v in versions]
		return {"name": group, "versions": vs, "preferredVersion": vs[0]}

	@staticmethod
	def resource_list(group, version):
		verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
		res = []
		for rt in GROUPS[group][version]:
			res.append({"name": rt.plural, "singularName": rt.kind.lower(),
				"namespaced": rt.namespaced, "kind": rt.kind, "verbs": verbs,
				"shortNames": rt.short} if rt.short else {"name": rt.plural,
				"singularName": rt.kind.lower(), "namespaced": rt.namespaced, "kind": rt.kind,
				"verbs": verbs})
			if rt.has_status:
				res.append({"name": rt.plural + "/status", "singularName": "",
					"namespaced": rt.namespaced, "kind": rt.kind,
					"verbs": ["get", "patch", "update"]})
		return {"kind": "APIResourceList", "apiVersion": "v1",
			"groupVersion": group + "/" + version if group else version, "resources": res}

	@staticmethod
	def parse_resource_path(path):
		"""(rtype, namespace, name, subresource) for a resource URL, or None."""
		parts = [p for p in path.split("/") if p]
		if len(parts) >= 2 and parts[0] == "api":
			api_version, rest = parts[1], parts[2:]
		elif len(parts) >= 3 and parts[0] == "apis":
			api_version, rest = parts[1] + "/" + parts[2], parts[3:]
		else:
			return None
		if rest and rest[0] == "watch":
			rest = rest[1:]  # the deprecated /watch/ path form
		ns = None
		if len(rest) >= 3 and rest[0] == "namespaces" and (api_version, rest[2]) in BY_PATH:
			ns, rest = rest[1], rest[2:]
		if not rest or len(rest) > 3:
			return None
		rt = BY_PATH.get((api_version, rest[0]))
		if rt not in SERVED or (ns is not None and not rt.namespaced):
			return None
		name = rest[1] if len(rest) > 1 else None
		sub = rest[2] if len(rest) > 2 else None
		if sub is not None and (sub != "status" or not rt.has_status):
			return None
		if rt.namespaced and name is not None and ns is None:
			return None
		return rt, ns, name, sub

	# --- verbs ---

	def serve_get(self, rt, ns, name):
		with self.app.store.cond:
			obj = self.app.store.objects[rt.storage].get(sort_key(rt, ns or "", name))
		if obj is None:
			raise rt.not_found(name)
		self.send_json(200, rt.to_view(obj))

	def serve_write(self, mode, rt, ns, name, sub):
		obj = self.json_body()
		if not isinstance(obj, dict):
			raise bad_request("the body of the request was in an unknown format")
		obj.setdefault("apiVersion", rt.api_version)
		obj.setdefault("kind", rt.kind)
		if rtype_of(obj) is not rt:
			raise bad_request("the API version in the data (%s) does not match the expected "
				"API version (%s)" % (obj.get("apiVersion"), rt.api_version))
		if name is not None:
			md = obj.setdefault("metadata", {})
			if md.get("name") and md["name"] != name:
				raise bad_request("the name of the object (%s) does not match the name on the "
					"URL (%s)" % (md["name"], name))
			md["name"] = name
		store = self.app.store
		with store.cond:
			code, stored = store.put(obj, mode, path_ns=ns, subresource=sub)
			if stored is None:
				stored = store.objects[rt.storage][sort_key(rt, ns or "", name)]
		self.send_json(code, rt.to_view(stored))

	def serve_patch(self, rt, ns, name, sub):
		ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
		if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
			raise ApiError(415, 'the body of the request was in an unknown format - accepted '
				'media types include: application/merge-patch+json, '
				'application/strategic-merge-patch+json')
		patch = self.json_body()
		if not isinstance(patch, dict):
			raise bad_request("a merge patch must be a JSON object")
		store = self.app.store
		with store.cond:
			cur = store.objects[rt.storage].get(sort_key(rt, ns or "", name))
			if cur is None:
				raise rt.not_found(name)
			cur = rt.to_view(cur)
			new = merge_patch(cur, patch)
			if sub == "status":
				new = dict(cur, status=new.get("status", {}))
			new["metadata"] = dict(new.get("metadata") or {}, name=name)
			new["metadata"].pop("resourceVersion", None)
			_, stored = store.put(new, "update", path_ns=ns)
		self.send_json(200, cur if stored is None else rt.to_view(stored))

	def serve_delete(self, rt, ns, name):
		store = self.app.store
		with store.cond:
			obj = store.delete(rt.storage, ns, name)
		self.send_json(200, rt.to_view(obj))

	# --- LIST ---

	def serve_list(self, rt, ns, query):
		store = self.app.store
		lsel = LabelSelector(query.get("labelSelector"))
		fsel = FieldSelector(query.get("fieldSelector"), rt)
		try:
			limit = int(query.get("limit") or 0)
		except ValueError:
			raise bad_request("limit: Invalid value: %r" % query.get("limit"))
		cont = query.get("continue") or ""
		rv_s = query.get("resourceVersion") or ""
		rvm = query.get("resourceVersionMatch") or ""
		if rvm and rvm not in ("Exact", "NotOlderThan"):
			raise bad_request('resourceVersionMatch: Unsupported value: "%s": supported values: '
				'"Exact", "NotOlderThan"' % rvm)
		if rvm and not rv_s:
			raise bad_request("resourceVersionMatch is forbidden unless resourceVersion is "
				"provided")
		if cont and rvm:
			raise bad_request("resourceVersionMatch is forbidden when continue is provided")
		if cont and rv_s not in ("", "0"):
			raise bad_request("specifying resource version is not allowed when using continue")
		if rvm == "Exact" and rv_s == "0":
			raise bad_request('resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
		rv_req = None
		if rv_s:
			try:
				rv_req = int(rv_s)
			except ValueError:
				raise bad_request("invalid resource version: %s" % rv_s)
		if self.app.args.ignore_limit or (rv_s == "0" and not cont
				and not self.app.args.paginate_rv0):
			limit = 0  # served from the watch cache, which ignores limit
		start, version = "", None
		with store.cond:
			if cont:
				snap_rv, start = decode_continue(cont)
				if snap_rv < 0:
					snap_rv = store.rv
				elif snap_rv < store.floor:
					raise ApiError(410, "The provided continue parameter is too old to display "
						"a consistent list result. You can start a new list without the "
						"continue parameter, or use the continue token in this response to "
						"retrieve the remainder of the results. Continuing with the provided "
						"token results in an inconsistent list - objects that were created, "
						"modified, or deleted between the time the first chunk was returned "
						"and now may show up in the list.",
						metadata={"continue": encode_continue(-1, start)})
				elif snap_rv > store.rv:
					raise bad_request("invalid continue token: resource version is in the future")
				objs = store.snapshot(rt.storage, snap_rv)
			elif rvm == "Exact":
				if rv_req < store.floor:
					raise ApiError(410, "The resourceVersion for the provided list is too old.")
				if rv_req > store.rv:
					raise self.too_large(rv_req, store.rv)
				snap_rv, objs = rv_req, store.snapshot(rt.storage, rv_req)
			else:
				if rv_req and rv_req > store.rv:
					raise self.too_large(rv_req, store.rv)
				snap_rv, objs = store.rv, store.objects[rt.storage]
				version = store.version[rt.storage]
			parts, gzipped = self.list_body(rt, ns, objs, snap_rv, version, start, limit,
				lsel, fsel)
		self.send_body(200, parts, gzipped=gzipped)

	def list_body(self, rt, ns, objs, snap_rv, version, start, limit, lsel, fsel):
		"""The parts of a LIST reply and whether they are gzipped, built under the store's lock:
		objs may be the live objects, which writes change."""
		store = self.app.store
		keys = store.sorted_keys(rt.storage, objs, snap_rv)
		prefix = ns + "/" if ns else ""
		# Keys of the namespace lie in [prefix, prefix with '/' raised to '0').
		lo = bisect.bisect_left(keys, max(start, prefix))
		hi = bisect.bisect_left(keys, ns + "0") if ns else len(keys)
		plain = lsel.empty() and fsel.empty()
		page, more = [], False
		for i in range(lo, hi):
			key = keys[i]
			if not plain and not (lsel.matches(objs[key]["metadata"].get("labels"))
					and fsel.matches(objs[key])):
				continue
			if limit > 0 and len(page) == limit:
				more = True
				break
			page.append(key)
		meta = {"resourceVersion": str(snap_rv)}
		if more:
			# Like etcd keys: the next page starts just after the last key returned.
			meta["continue"] = encode_continue(snap_rv, page[-1] + "\x00")
			if plain:
				meta["remainingItemCount"] = hi - lo - len(page)
		head = list_head(rt, meta)
		if version is not None and plain and not more and lo == 0 and hi == len(keys):
			parts = [head[:-3]] + store.whole_list(rt, version, keys, objs)
			if self.wants_gzip(sum(len(p) for p in parts)):
				# Compressed once per version: the fake must not be what a client waits for.
				return store.whole_list(rt, version, keys, objs, head), True
		else:
			parts = [head[:-3]]
			for key in page:
				parts += (store.item_bytes(rt, key, objs[key]), b",")
			if page:
				parts.pop()
		parts.append(head[-3:])
		return parts, False

	@staticmethod
	def too_large(rv, current):
		err = ApiError(504, "Too large resource version: %d, current: %d" % (rv, current))
		err.details = {"causes": [{"reason": "ResourceVersionTooLarge",
			"message": "Too large resource version"}], "retryAfterSeconds": 1}
		return err

	# --- WATCH ---

	def start_stream(self):
		self.stream_chunked = self.request_version == "HTTP/1.1"
		self.send_response(200)
		self.send_header("Audit-Id", str(uuid.uuid4()))
		self.send_header("Cache-Control", "no-cache, private")
		self.send_header("Content-Type", "application/json")
		if self.stream_chunked:
			self.send_header("Transfer-Encoding", "chunked")
		else:
			self.close_connection = True
		self.end_headers()

	def write_event(self, etype, obj):
		data = dumps({"type": etype, "object": obj})
		if not self.stream_chunked:
			self.wfile.write(data)
			return
		step = self.app.args.chunk_max
		if step <= 0:
			self.write_chunk(data)
			return
		for i in range(0, len(data), step):
			self.write_chunk(data[i:i + step])

	def end_stream(self):
		if self.stream_chunked:
			self.wfile.write(b"0\r\n\r\n")

	def bookmark(self, rt, rv, initial_end=False):
		obj = rt.empty_object()
		md = {"resourceVersion": str(rv), "creationTimestamp": None}
		if initial_end:
			md["annotations"] = {"k8s.io/initial-events-end": "true"}
		obj["metadata"] = md
		self.write_event("BOOKMARK", obj)

	def serve_watch(self, rt, ns, name, query):
		app, store, args = self.app, self.app.store, self.app.args
		lsel = LabelSelector(query.get("labelSelector"))
		fsel = FieldSelector(query.get("fieldSelector"), rt)
		try:
			bookmarks = bool(parse_bool(query.get("allowWatchBookmarks")))
			send_initial = parse_bool(query.get("sendInitialEvents"))
		except ValueError as e:
			raise bad_request("invalid boolean value: %s" % e)
		rv_s = query.get("resourceVersion") or ""
		rvm = query.get("resourceVersionMatch") or ""
		if rvm and send_initial is None:
			raise bad_request("resourceVersionMatch is forbidden for watch unless "
				"sendInitialEvents is provided")
		if send_initial is not None and rvm != "NotOlderThan":
			raise bad_request("sendInitialEvents is forbidden for watch unless "
				"resourceVersionMatch is set to NotOlderThan")
		if send_initial and not bookmarks:
			raise bad_request("sendInitialEvents requires setting allowWatchBookmarks to true")
		try:
			timeout = float(query["timeoutSeconds"]) if query.get("timeoutSeconds") else None
		except ValueError:
			raise bad_request("invalid timeoutSeconds: %s" % query.get("timeoutSeconds"))
		if timeout is None or timeout <= 0:
			timeout = args.watch_timeout
		rv_req = None
		if rv_s not in ("", "0"):
			try:
				rv_req = int(rv_s)
			except ValueError:
				raise bad_request("invalid resource version: %s" % rv_s)
		prefix = ns + "/" if ns else ""

		def matches(obj):
			md = obj["metadata"]
			return (obj_key(rt, obj).startswith(prefix)
				and (name is None or md["name"] == name)
				and lsel.matches(md.get("labels")) and fsel.matches(obj))

		too_old = None
		with store.cond:
			want_initial = send_initial if send_initial is not None else rv_req is None
			if rv_req is not None and rv_req < store.floor and not send_initial:
				too_old = ApiError(410, "too old resource version: %d (%d)"
					% (rv_req, store.floor))
			initial = []
			if want_initial:
				initial = [o for _, o in sorted(store.objects[rt.storage].items()) if matches(o)]
			last = store.rv if (want_initial or rv_req is None) else rv_req

		waiter = app.add_waiter(Waiter("watch", self.path, query))
		waiter.last_rv = last
		try:
			self.start_stream()
			if too_old is not None:
				self.write_event("ERROR", too_old.status())
				self.end_stream()
				return
			for obj in initial:
				self.write_event("ADDED", rt.to_view(obj))
			if send_initial:
				self.bookmark(rt, last, initial_end=True)
			self.watch_loop(rt, matches, waiter, last, bookmarks, timeout)
		except (OSError, ssl.SSLError):
			self.close_connection = True
		finally:
			app.remove_waiter(waiter)

	def watch_loop(self, rt, matches, waiter, last, bookmarks, timeout):
		app, store, args = self.app, self.app.store, self.app.args
		start = time.monotonic()
		deadline = start + timeout
		interval = args.bookmark_interval if bookmarks and args.bookmark_interval > 0 else None
		next_bm = start + interval if interval else float("inf")
		with store.cond:
			bm_epoch = app.bookmark_epoch
		while True:
			events, lost, force_bm = [], False, False
			with store.cond:
				now = time.monotonic()
				if (not waiter.drop and store.rv <= last and app.bookmark_epoch == bm_epoch
						and now < deadline and now < next_bm):
					store.cond.wait(min(WAIT_TICK, deadline - now, next_bm - now))
				drop, drop_status = waiter.drop, waiter.drop_status
				if store.rv > last:
					if last < store.floor:
						lost = True
					else:
						events = store.events_after(last)
						last = store.rv
				if app.bookmark_epoch != bm_epoch:
					bm_epoch = app.bookmark_epoch
					force_bm = bookmarks or app.bookmark_force
			if drop:
				if force_bm:
					# Asked for before the drop, so it comes first (a starved thread can see
					# both at once), at what this watch has delivered: the events of this
					# round are not sent.
					self.bookmark(rt, waiter.last_rv)
				if drop == "error":
					# An ERROR event in the middle of a live watch, as the real server sends
					# when etcd compacted past it.
					err = ApiError(drop_status, "injected watch error (fakeapi)")
					if drop_status == 410:
						err = ApiError(410, "too old resource version: %d (%d)"
							% (last, store.floor))
					self.write_event("ERROR", err.status())
					self.end_stream()
				elif drop == "clean":
					self.end_stream()
				else:
					self.abort(drop)
				return
			if lost:
				# This watcher fell behind the history window; a real cacher would drop it too.
				self.write_event("ERROR", ApiError(410, "too old resource version: %d (%d)"
					% (last, store.floor)).status())
				self.end_stream()
				return
			for ev in events:
				if ev.rtype is not rt.storage:
					continue
				out = translate(ev, matches)
				if out is not None:
					self.write_event(out[0], rt.to_view(out[1]))
			waiter.last_rv = last
			now = time.monotonic()
			if force_bm or (interval and now >= next_bm):
				self.bookmark(rt, last)
				if interval:
					next_bm = now + interval
			if now >= deadline:
				self.end_stream()
				return
			if self.peer_gone():
				self.close_connection = True
				return


def translate(ev, matches):
	"""A store event as one watcher sees it: objects entering or leaving the watcher's
	selection turn into ADDED/DELETED, as the real watch cache does."""
	if ev.etype == "ADDED":
		return ("ADDED", ev.obj) if matches(ev.obj) else None
	if ev.etype == "DELETED":
		return ("DELETED", ev.obj) if matches(ev.obj) else None
	now_in, was_in = matches(ev.obj), matches(ev.prev)
	if now_in:
		return ("MODIFIED" if was_in else "ADDED", ev.obj)
	if was_in:
		gone = copy.deepcopy(ev.prev)
		gone["metadata"]["resourceVersion"] = str(ev.rv)
		return ("DELETED", gone)
	return None


def merge_patch(target, patch):
	"""RFC 7386 JSON merge patch (also used, simplified, for strategic merge patches)."""
	if not isinstance(patch, dict):
		return copy.deepcopy(patch)
	out = dict(target) if isinstance(target, dict) else {}
	for k, v in patch.items():
		if v is None:
			out.pop(k, None)
		else:
			out[k] = merge_patch(out.get(k), v)
	return out


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def parse_args(argv):
	p = argparse.ArgumentParser(prog="fakeapi.py",
		description="Fake Kubernetes API server for tests (see README.md).")
	p.add_argument("--bind", default="127.0.0.1", help="listen address (default 127.0.0.1)")
	p.add_argument("--port", type=int, default=0, help="listen port (default 0: any free port)")
	p.add_argument("--port-file", help="write the bound port to this file once listening")
	p.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
	p.add_argument("--tls-key", help="private key of --tls-cert (PEM)")
	p.add_argument("--client-ca", help="accept client certificates signed by this CA as "
		"authenticated")
	p.add_argument("--require-client-cert", action="store_true",
		help="fail the TLS handshake without a valid client certificate")
	p.add_argument("--token", action="append", help="a valid bearer token (repeatable)")
	p.add_argument("--token-file", help="file of valid bearer tokens, one per line (CSV: first "
		"field), re-read on every request")
	p.add_argument("--anonymous", action="store_true", help="requests without credentials get "
		"403 as user system:anonymous instead of 401")
	p.add_argument("--control-token", help="bearer token required on /_fake/ calls")
	p.add_argument("--load", action="append", default=[], help="JSON/YAML file or directory "
		"of initial objects (repeatable)")
	p.add_argument("--history", type=int, default=1000, help="events kept for watch replay "
		"(default 1000)")
	p.add_argument("--initial-rv", type=int, default=100, help="resourceVersion before the "
		"first write (default 100)")
	p.add_argument("--bookmark-interval", type=float, default=60, help="seconds between "
		"BOOKMARK events on watches that allow them; 0 disables (default 60)")
	p.add_argument("--watch-timeout", type=float, default=1800, help="watch length when the "
		"client gives no timeoutSeconds (default 1800)")
	p.add_argument("--chunk-max", type=int, default=0, help="split every response chunk into "
		"pieces of at most N bytes (default 0: one chunk per watch event)")
	p.add_argument("--chunk-threshold", type=int, default=2048, help="non-watch bodies larger "
		"than N bytes are sent chunked, as Go does; -1 never (default 2048)")
	p.add_argument("--gzip-threshold", type=int, default=131072, help="gzip bodies of at least "
		"N bytes when the client accepts gzip; -1 never (default 131072)")
	p.add_argument("--ignore-limit", action="store_true", help="serve every LIST in one "
		"response, as the watch cache does whatever the resourceVersion")
	p.add_argument("--generate", metavar="SPEC", help="add a synthetic cluster: "
		"services=S,endpoints=E[,namespaces=N][,slices=K][,managedfields=1] (see cluster.py)")
	p.add_argument("--paginate-rv0", action="store_true", help="honour limit on "
		"resourceVersion=0 lists (by default ignored, as the watch cache does)")
	p.add_argument("--k8s-version", default="v1.30.0", help="gitVersion reported by /version")
	p.add_argument("--endpointslice-versions", default="v1", help="comma-separated versions of "
		"discovery.k8s.io EndpointSlices served, best first: v1, v1beta1 (as Kubernetes 1.20 "
		"serves it), both, or none (empty: the group is not served); default v1")
	p.add_argument("--max-requests-log", type=int, default=10000, help="requests kept for "
		"GET /_fake/requests (default 10000)")
	p.add_argument("--verbose", action="store_true", help="log every request to stderr")
	args = p.parse_args(argv)
	if bool(args.tls_cert) != bool(args.tls_key):
		p.error("--tls-cert and --tls-key go together")
	if (args.client_ca or args.require_client_cert) and not args.tls_cert:
		p.error("--client-ca needs TLS (--tls-cert/--tls-key)")
	if args.require_client_cert and not args.client_ca:
		p.error("--require-client-cert needs --client-ca")
	if not re.match(r"^v?\d+\.\d+", args.k8s_version):
		p.error("--k8s-version must look like v1.30.0")
	if args.history < 1:
		p.error("--history must be at least 1")
	args.endpointslice_versions = [v for v in args.endpointslice_versions.split(",") if v]
	if any(v not in ("v1", "v1beta1") for v in args.endpointslice_versions):
		p.error("--endpointslice-versions: v1 and v1beta1 are known")
	if args.generate:
		try:
			args.generate = cluster.parse_spec(args.generate)
		except ValueError as e:
			p.error(str(e))
	return args


def make_ssl_context(args):
	if not args.tls_cert:
		return None
	ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
	ctx.load_cert_chain(args.tls_cert, args.tls_key)
	# Only HTTP/1.1 is spoken: ALPN keeps libcurl from choosing h2 as it would with the real server.
	ctx.set_alpn_protocols(["http/1.1"])
	if args.client_ca:
		ctx.load_verify_locations(args.client_ca)
		ctx.verify_mode = ssl.CERT_REQUIRED if args.require_client_cert else ssl.CERT_OPTIONAL
	return ctx


def main(argv):
	args = parse_args(argv)
	serve_versions(args.endpointslice_versions)
	app = App(args)
	try:
		objs = [o for path in args.load for o in load_objects(path)]
		with app.store.cond:
			for obj in objs:
				app.store.put(obj, "control")
			if args.generate:
				t0 = time.monotonic()
				app.store.load_bulk(cluster.generate(args.generate))
				# Encoded (and compressed) now, so that the first LIST costs what later ones do.
				st = app.store
				for rt in SERVED:
					objs = st.objects[rt.storage]
					head = list_head(rt, {"resourceVersion": str(st.rv)})
					keys = st.sorted_keys(rt.storage, objs, st.rv)
					st.whole_list(rt, st.version[rt.storage], keys, objs, head)
				log("generated %s in %.1f s" % (app.store.counts(), time.monotonic() - t0))
	except (OSError, ValueError, ApiError) as e:
		log("cannot load objects: %s" % e)
		return 1
	try:
		server = Server((args.bind, args.port), app, make_ssl_context(args))
	except (OSError, ssl.SSLError) as e:
		log("cannot listen on %s port %d: %s" % (args.bind, args.port, e))
		return 1
	app.port = server.server_address[1]
	if args.port_file:
		tmp = args.port_file + ".tmp"
		with open(tmp, "w", encoding="utf-8") as f:
			f.write("%d\n" % app.port)
		os.replace(tmp, args.port_file)
	print("LISTENING %d" % app.port, flush=True)
	try:
		server.serve_forever(poll_interval=0.2)
	except KeyboardInterrupt:
		pass
	finally:
		server.server_close()
	return 0


if __name__ == "__main__":
	sys.exit(main(sys.argv[1:]))
