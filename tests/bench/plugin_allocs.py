#!/usr/bin/python3
"""plugin_allocs.py -- heap allocations per query on the paths of the small plugins (13, 12).

Starts Sextant under LD_PRELOAD=libsx_alloc_count.so with one worker and a Corefile that puts
every one of them in front of hosts, warms each path up, then sends N queries of the path over UDP
(and TCP where named) and prints the allocations the worker thread made per query. The paths
answered by a plugin itself (any, local, chaos, acl's block) and those it only inspects or
rewrites on the way (bufsize, nsid, header, minimal, acl's allow), and template's kinds of
record (groups, fixed, through ldns, AKS's NXDOMAIN and its fallthrough), rewrite's paths (no
rule matching, an exact name, a regex and a suffix with the reply rewritten back) and autopath's
(a name outside the walk, a walk found at its second name, a walk of three NXDOMAINs ended by
the bare name's SERVFAIL, as no plugin serves it there) are each
measured alone; a block with whoami alone is the baseline of each transport (what the core
costs).

usage: plugin_allocs.py [-n QUERIES] [--sextant BIN] [--lib LIBSX_ALLOC_COUNT]
"""
import argparse
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

import dns.edns
import dns.message
import dns.rdataclass
import dns.rdatatype

SLOT = struct.Struct("=iIQQQ")
COREFILE = """example.org:{port} {{
    bind 127.0.0.1
    nsid bench-1
    bufsize 1232
    local
    any
    chaos v1 a b c
    acl {{
        block type MX
        allow net 127.0.0.0/8
    }}
    header {{
        set ra
        query set rd
    }}
    minimal
    hosts {{
        192.0.2.1 www.example.org
        fallthrough
    }}
    whoami
}}
example.net:{port} {{
    bind 127.0.0.1
    whoami
}}
tpl.test:{port} internal.cloudapp.net:{port} {{
    bind 127.0.0.1
    template IN A tpl.test {{
        match "^ip-(?P<a>[0-9]+)-(?P<b>[0-9]+)-(?P<c>[0-9]+)-(?P<d>[0-9]+)[.]tpl[.]test[.]$"
        answer "{{{{ .Name }}}} 60 IN A {{{{ .Group.a }}}}.{{{{ .Group.b }}}}.{{{{ .Group.c }}}}.{{{{ .Group.d }}}}"
        fallthrough
    }}
    template IN AAAA tpl.test {{
        answer "fixed.tpl.test 60 IN AAAA 2001:db8::1"
    }}
    template IN MX tpl.test {{
        answer "{{{{ .Name }}}} 60 IN MX 10 mail.tpl.test."
    }}
    template ANY ANY internal.cloudapp.net {{
        match "^(?:[^.]+\\.){{4,}}internal\\.cloudapp\\.net\\.$"
        rcode NXDOMAIN
        fallthrough
    }}
    whoami
}}
rw.test:{port} rw.example:{port} {{
    bind 127.0.0.1
    rewrite continue ttl suffix .nowhere.test 30
    rewrite name exact alias.rw.test www.rw.example
    rewrite name regex ^(.*)[.]re[.]rw[.]test[.]$ {{1}}.rw.example answer auto
    rewrite name suffix .sfx.rw.test .rw.example answer auto
    hosts {{
        192.0.2.1 www.rw.example
        fallthrough
    }}
    whoami
}}
ap.test:{port} {{
    bind 127.0.0.1
    autopath resolv.conf
    template IN A ap.test {{
        match "^www[.]svc[.]ap[.]test[.]$"
        answer "{{{{ .Name }}}} 60 IN A 192.0.2.1"
        fallthrough
    }}
    template ANY ANY ap.test {{
        rcode NXDOMAIN
    }}
}}
localhost:{port} version.bind:{port} {{
    bind 127.0.0.1
    local
    chaos
}}
"""

# (label, qname, qtype, qclass, nsid option, tcp)
PATHS = [
    ("baseline: whoami", "x.example.net", "A", "IN", False, False),
    ("baseline, TCP", "x.example.net", "A", "IN", False, True),
    ("hosts+all hooks", "www.example.org", "A", "IN", True, False),
    ("same, TCP", "www.example.org", "A", "IN", True, True),
    ("any", "www.example.org", "ANY", "IN", False, False),
    ("acl block", "www.example.org", "MX", "IN", False, False),
    ("local", "db.localhost", "A", "IN", False, False),
    ("chaos authors", "authors.bind", "TXT", "CH", False, False),
    ("chaos hostname", "hostname.bind", "TXT", "CH", False, False),
    ("template A groups", "ip-10-1-2-3.tpl.test", "A", "IN", False, False),
    ("template fixed", "fixed.tpl.test", "AAAA", "IN", False, False),
    ("template MX (ldns)", "x.tpl.test", "MX", "IN", False, False),
    ("template AKS nx", "a.b.c.d.internal.cloudapp.net", "A", "IN", False, False),
    ("template AKS fall", "c.d.internal.cloudapp.net", "A", "IN", False, False),
    ("rewrite no match", "www.rw.example", "A", "IN", False, False),
    ("rewrite exact", "alias.rw.test", "A", "IN", False, False),
    ("rewrite regex auto", "www.re.rw.test", "A", "IN", False, False),
    ("rewrite suffix auto", "www.sfx.rw.test", "A", "IN", False, False),
    ("rewrite suffix, TCP", "www.sfx.rw.test", "A", "IN", False, True),
    ("autopath pass", "www.svc.ap.test", "A", "IN", False, False),
    ("autopath walk of 2", "www.ns1.svc.ap.test", "A", "IN", False, False),
    ("autopath walk of 4", "nx.ns1.svc.ap.test", "A", "IN", False, False),
]


def read_counts(path):
    out = {}
    with open(path, "rb") as f:
        data = f.read()
    for off in range(0, len(data) - SLOT.size + 1, SLOT.size):
        tid, _, allocs, frees, nbytes = SLOT.unpack_from(data, off)
        if tid:
            out[tid] = (allocs, frees)
    return out


def wire(qname, qtype, qclass, nsid):
    opts = [dns.edns.GenericOption(dns.edns.NSID, b"")] if nsid else []
    m = dns.message.make_query(qname, dns.rdatatype.from_text(qtype),
                               dns.rdataclass.from_text(qclass), use_edns=0, options=opts)
    return m.to_wire()


def send(port, q, n, tcp):
    if tcp:
        s = socket.create_connection(("127.0.0.1", port))
        frame = struct.pack("!H", len(q)) + q
        for _ in range(n):
            s.sendall(frame)
            ln = struct.unpack("!H", recv_all(s, 2))[0]
            recv_all(s, ln)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        for _ in range(n):
            s.sendto(q, ("127.0.0.1", port))
            s.recv(65535)
    s.close()


def recv_all(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise OSError("closed")
        b += c
    return b


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    build = os.environ.get("MESON_BUILD_ROOT", os.path.join(here, "../../build"))
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20000, help="queries per path")
    ap.add_argument("--sextant", default=os.environ.get("SEXTANT_BIN",
                                                        os.path.join(build, "sextant")))
    ap.add_argument("--lib", default=os.path.join(build, "tests/bench/libsx_alloc_count.so"))
    a = ap.parse_args()
    if not os.path.exists(a.lib):
        print("%s not built (sanitizer build?): skipped" % a.lib)
        return 0
    work = tempfile.mkdtemp(prefix="sx-plugin-allocs-")
    port = free_port()
    conf = os.path.join(work, "Corefile")
    with open(conf, "w") as f:
        f.write(COREFILE.format(port=port))
    with open(os.path.join(work, "resolv.conf"), "w") as f:
        f.write("search ns1.svc.ap.test svc.ap.test ap.test\n")
    counts = os.path.join(work, "counts.bin")
    env = dict(os.environ, LD_PRELOAD=a.lib, SX_ALLOC_COUNT=counts)
    log = open(os.path.join(work, "log"), "w")
    p = subprocess.Popen([a.sextant, "-conf", conf, "-workers", "1"], env=env, stdout=log,
                         stderr=subprocess.STDOUT)
    try:
        q = wire("www.example.org", "A", "IN", False)
        for _ in range(100):  # up when it answers
            try:
                send(port, q, 1, False)
                break
            except OSError:
                time.sleep(0.05)
        print("== Heap allocations per query, one worker, %d queries a path, after %d warm-up"
              % (a.n, a.n // 10))
        print("   %-18s %10s %10s %12s" % ("path", "allocs", "frees", "per query"))
        worst = 0.0
        for label, name, qtype, qclass, nsid, tcp in PATHS:
            q = wire(name, qtype, qclass, nsid)
            send(port, q, a.n // 10, tcp)
            c0 = read_counts(counts)
            t0 = time.time()
            send(port, q, a.n, tcp)
            dt = time.time() - t0
            c1 = read_counts(counts)
            d = {t: (c1[t][0] - c0.get(t, (0, 0))[0], c1[t][1] - c0.get(t, (0, 0))[1])
                 for t in c1}
            allocs = sum(v[0] for v in d.values())
            frees = sum(v[1] for v in d.values())
            worst = max(worst, allocs / a.n)
            print("   %-18s %10d %10d %12.4f   (%.0f q/s, client-bound)"
                  % (label, allocs, frees, allocs / a.n, a.n / dt))
        print("   worst path: %.4f allocations per query (whole process, control thread "
              "included)" % worst)
    finally:
        p.terminate()
        p.wait(10)
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
