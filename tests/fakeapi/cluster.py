"""cluster.py -- synthetic clusters of any size for fakeapi.py, built straight into its store.

A cluster is described by a spec such as "services=100000,endpoints=199950,namespaces=1000,
slices=89993": services spread evenly over the namespaces, one in ten headless, one in a hundred
an ExternalName; the slices go to the first services that can have endpoints (not ExternalName),
one slice each, and the endpoints are spread evenly over the slices (a slice holds at most 100,
as the EndpointSlice controller's default). Every object looks as the real API server would send
it (uid, resourceVersion, creationTimestamp, labels, ownerReferences, the defaulted spec fields),
and with "managedfields=1" it also carries the managedFields a 1.20 server adds. Names and
addresses follow from the object's index alone, so two runs of one spec build the same cluster
and a client can compute what a name must resolve to:

  namespace j       ns-J (J = j, 4 digits)
  service i         svc-I in ns-(i mod namespaces); ClusterIP 10.(96 + i>>16).(i>>8 & 255).(i & 255)
                    (i mod 10 == 9: headless; i mod 100 == 99: ExternalName svc-I.example.com)
  slice k           svc-I-SUFFIX of service I = the k-th service that is not an ExternalName
  endpoint a        pod IP 10.(128 + a>>16).(a>>8 & 255).(a & 255), pod svc-I-pod-A
"""

MAX_PER_SLICE = 100
CREATED = "2024-05-01T10:00:00Z"


def parse_spec(text):
	"""'services=S,endpoints=E[,namespaces=N][,slices=K][,pods=P][,managedfields=0|1]
	[,loadbalancers=L]' -> dict."""
	spec = {"services": 0, "endpoints": 0, "namespaces": 0, "slices": None, "pods": 0,
		"managedfields": 0, "loadbalancers": 0}
	for part in filter(None, (p.strip() for p in text.split(","))):
		key, sep, value = part.partition("=")
		if not sep or key not in spec:
			raise ValueError("cluster spec: unknown part %r (want services=, endpoints=, "
				"namespaces=, slices=, pods=, managedfields=, loadbalancers=)" % part)
		try:
			spec[key] = int(value.replace("_", ""))
		except ValueError:
			raise ValueError("cluster spec: %s=%r is not a number" % (key, value))
	s, e = spec["services"], spec["endpoints"]
	if spec["namespaces"] <= 0:
		spec["namespaces"] = max(1, s // 100)
	eligible = s - s // 100  # services that are not ExternalName
	if spec["slices"] is None:
		spec["slices"] = min(eligible, max(1, (e + 2) // 3)) if e else 0
	k = spec["slices"]
	if s < 0 or e < 0 or k < 0 or k > eligible or (e and not k) or (k and e < k):
		raise ValueError("cluster spec: need 0 < slices <= %d services that can have "
			"endpoints, and at least one endpoint per slice" % eligible)
	if k and (e + k - 1) // k > MAX_PER_SLICE:
		raise ValueError("cluster spec: more than %d endpoints per slice: add slices"
			% MAX_PER_SLICE)
	return spec


def uid(kind, i):
	return "%08x-%04x-4000-8000-%012x" % (i, kind, i * 2654435761 % (1 << 48))


def ip(base, i):
	return "10.%d.%d.%d" % (base + (i >> 16), (i >> 8) & 255, i & 255)


def svc_kind(i):
	"""'ExternalName', 'Headless' or 'ClusterIP' for service i."""
	if i % 100 == 99:
		return "ExternalName"
	return "Headless" if i % 10 == 9 else "ClusterIP"


def managed(manager, fields, op="Update", api="v1"):
	return [{"manager": manager, "operation": op, "apiVersion": api, "time": CREATED,
		"fieldsType": "FieldsV1", "fieldsV1": fields}]


def namespace(j, spec):
	name = "ns-%04d" % j
	md = {"name": name, "uid": uid(1, j), "creationTimestamp": CREATED,
		"labels": {"kubernetes.io/metadata.name": name}}
	if spec["managedfields"]:
		md["managedFields"] = managed("kubectl-create", {"f:status": {"f:phase": {}}})
	return {"kind": "Namespace", "apiVersion": "v1", "metadata": md,
		"spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def service(i, spec):
	name, ns = "svc-%d" % i, "ns-%04d" % (i % spec["namespaces"])
	kind = svc_kind(i)
	md = {"name": name, "namespace": ns, "uid": uid(2, i), "creationTimestamp": CREATED,
		"labels": {"app": name, "tier": "backend"}}
	ports = [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}]
	if i % 3 == 0:
		ports.append({"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": 9090})
	if kind == "ExternalName":
		spec_ = {"type": "ExternalName", "externalName": "svc-%d.example.com" % i,
			"sessionAffinity": "None"}
	else:
		cip = "None" if kind == "Headless" else ip(96, i)
		spec_ = {"ports": ports, "selector": {"app": name}, "clusterIP": cip,
			"clusterIPs": [cip], "type": "ClusterIP", "sessionAffinity": "None",
			"ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"}
	if spec["managedfields"]:
		md["managedFields"] = managed("kubectl-client-side-apply", {
			"f:metadata": {"f:annotations": {".": {},
				"f:kubectl.kubernetes.io/last-applied-configuration": {}},
				"f:labels": {".": {}, "f:app": {}, "f:tier": {}}},
			"f:spec": {"f:ports": {".": {}, 'k:{"port":80,"protocol":"TCP"}': {".": {},
				"f:name": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}}},
				"f:selector": {".": {}, "f:app": {}}, "f:sessionAffinity": {}, "f:type": {}}})
	status = {"loadBalancer": {}}
	# The first L ClusterIP Services are LoadBalancers with one ingress address, as a cloud's
	# controller leaves them (k8s_external serves those).
	if kind == "ClusterIP" and i < spec["loadbalancers"]:
		spec_["type"] = "LoadBalancer"
		status = {"loadBalancer": {"ingress": [{"ip": ip(200, i), "ipMode": "VIP"}]}}
	return {"kind": "Service", "apiVersion": "v1", "metadata": md, "spec": spec_,
		"status": status}


def pod(i, spec):
	"""A Running pod with address 10.128.x.y onwards (the pod network), as kubelet reports it."""
	name, ns = "pod-%d" % i, "ns-%04d" % (i % spec["namespaces"])
	addr = ip(128, i)
	md = {"name": name, "namespace": ns, "uid": uid(4, i), "creationTimestamp": CREATED,
		"labels": {"app": "svc-%d" % (i % max(1, spec["services"]))}}
	return {"kind": "Pod", "apiVersion": "v1", "metadata": md,
		"spec": {"nodeName": "node-%d" % (i % 100), "containers": [{"name": "app",
			"image": "registry.example/app:1", "ports": [{"containerPort": 8080}]}],
			"dnsPolicy": "ClusterFirst"},
		"status": {"phase": "Running", "podIP": addr, "podIPs": [{"ip": addr}],
			"hostIP": "192.168.%d.%d" % ((i % 100) >> 8, i % 100 + 1),
			"conditions": [{"type": "Ready", "status": "True"}]}}


def eligible_services(spec):
	"""Indexes of the services that may have endpoints, in order."""
	return (i for i in range(spec["services"]) if svc_kind(i) != "ExternalName")


def endpoints_of(k, spec):
	"""(first endpoint index, count) of slice k."""
	e, n = spec["endpoints"], spec["slices"]
	base, extra = divmod(e, n)
	return k * base + min(k, extra), base + (k < extra)


def slice_(k, i, spec):
	name, ns = "svc-%d" % i, "ns-%04d" % (i % spec["namespaces"])
	first, count = endpoints_of(k, spec)
	eps = []
	for a in range(first, first + count):
		ep = {"addresses": [ip(128, a)],
			"conditions": {"ready": True, "serving": True, "terminating": False},
			"nodeName": "node-%d" % (a % 500),
			"targetRef": {"kind": "Pod", "namespace": ns, "name": "%s-pod-%d" % (name, a),
				"uid": uid(3, a)}}
		if svc_kind(i) == "Headless" and i % 20 == 19:
			ep["hostname"] = "%s-%d" % (name, a - first)  # a StatefulSet's pods
		eps.append(ep)
	md = {"name": "%s-%05x" % (name, (i * 7919) & 0xfffff), "generateName": name + "-",
		"namespace": ns, "uid": uid(4, k), "creationTimestamp": CREATED,
		"labels": {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
			"kubernetes.io/service-name": name},
		"annotations": {"endpoints.kubernetes.io/last-change-trigger-time": CREATED},
		"ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name,
			"uid": uid(2, i), "controller": True, "blockOwnerDeletion": True}]}
	if spec["managedfields"]:
		md["managedFields"] = managed("kube-controller-manager", {
			"f:addressType": {}, "f:endpoints": {},
			"f:metadata": {"f:annotations": {".": {},
				"f:endpoints.kubernetes.io/last-change-trigger-time": {}},
				"f:generateName": {}, "f:labels": {".": {},
				"f:endpointslice.kubernetes.io/managed-by": {},
				"f:kubernetes.io/service-name": {}}, "f:ownerReferences": {".": {},
				'k:{"uid":"%s"}' % uid(2, i): {".": {}, "f:apiVersion": {},
				"f:blockOwnerDeletion": {}, "f:controller": {}, "f:kind": {}, "f:name": {},
				"f:uid": {}}}},
			"f:ports": {}}, api="discovery.k8s.io/v1")
	return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1", "metadata": md,
		"addressType": "IPv4", "endpoints": eps,
		"ports": [{"name": "http", "protocol": "TCP", "port": 8080}]}


def generate(spec):
	"""Every object of the cluster: namespaces, services, slices, then pods."""
	for j in range(spec["namespaces"]):
		yield namespace(j, spec)
	for i in range(spec["services"]):
		yield service(i, spec)
	for k, i in zip(range(spec["slices"]), eligible_services(spec)):
		yield slice_(k, i, spec)
	for i in range(spec["pods"]):
		yield pod(i, spec)
