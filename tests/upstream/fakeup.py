#!/usr/bin/python3
"""fakeup.py -- a programmable, misbehaving DNS upstream for the forward plugin's tests.

Listens on 127.0.0.1 or another --addr in 127/8 (UDP and TCP on one port, optionally DNS
over TLS on a second one), prints the port(s) on stdout, and answers according to the first
label of the query name:

  silent     never answers                 slow       answers after 300 ms
  wrongid    a spoof with another ID first, then the answer
  wrongport  a spoof from another socket first, then the answer
  wrongq     a spoof for another question first, then the answer
  tc         UDP: an empty truncated (TC) reply; TCP: the answer
  big        100 A records (over UDP truncated when beyond the EDNS size offered)
  servfail, refused, nxdomain   that rcode
  nodata     an empty NOERROR answer
  garbage    bytes that are no DNS message (beginning with the query's ID); over TCP with a
             length prefix, and the connection stays open
  short      the answer cut in the middle of its record: over UDP without TC; over TCP after a
             length prefix that promises all of it, then the connection closes
  close      TCP: the answer, then the connection closes
  hangup     TCP: the connection closes without an answer
  echo       a TXT record describing the query as received (flags, EDNS and its options as
             CODE:HEX, case, transport)
  anything else: A 192.0.2.ID (ID from --id), other types an empty NOERROR.

Spoofs carry A 6.6.6.6. The --control file, read for every query, switches the whole
server: "silent", "refused", "servfail", "normal" (also when missing), or one of the labels
slow, tc, big, nodata, garbage, short, close, hangup (as if every query name began with it). Every query is
logged to --log as "PROTO QNAME QTYPE rd=0|1 from=SRCADDR SRCPORT" (QNAME as received).
"""
import argparse
import errno
import os
import socket
import ssl
import struct
import sys
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

SPOOF = "6.6.6.6"
MODE_LABELS = ("slow", "tc", "big", "nodata", "garbage", "short", "close", "hangup")


class Upstream:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()

    def mode(self):
        try:
            with open(self.args.control) as f:
                return f.read().strip() or "normal"
        except (OSError, TypeError):
            return "normal"

    def log(self, proto, q, peer):
        if not self.args.log:
            return
        question = q.question[0]
        line = "%s %s %s rd=%d from=%s %d\n" % (proto, question.name.to_text(),
                                                 dns.rdatatype.to_text(question.rdtype),
                                                 bool(q.flags & dns.flags.RD), peer[0], peer[1])
        with self.lock, open(self.args.log, "a") as f:
            f.write(line)

    def answer(self, q, proto, raw):
        """The reply to q, or None; plus the first label."""
        question = q.question[0]
        label = ""
        if question.name.labels[:-1]:
            label = question.name.labels[0].decode(errors="replace").lower()
        r = dns.message.make_response(q, our_payload=4096)
        mode = self.mode()
        if mode == "silent" or label == "silent":
            return None, label
        if mode in MODE_LABELS:
            label = mode
        if mode in ("refused", "servfail"):
            r.set_rcode(dns.rcode.from_text(mode.upper()))
            return r, label
        if label in ("servfail", "refused", "nxdomain"):
            r.set_rcode(dns.rcode.from_text(label.upper()))
            return r, label
        if label == "nodata":
            return r, label
        if label == "tc" and proto == "udp":
            r.flags |= dns.flags.TC
            return r, label
        if label == "echo":
            opt = q.edns >= 0
            desc = "rd=%d cd=%d ad=%d do=%d edns=%d size=%d proto=%s name=%s" % (
                bool(q.flags & dns.flags.RD), bool(q.flags & dns.flags.CD),
                bool(q.flags & dns.flags.AD), bool(q.ednsflags & dns.flags.DO),
                1 if opt else 0, q.payload if opt else 0, proto,
                raw_qname(raw))
            if opt and q.options:
                desc += " opts=" + ",".join(
                    "%d:%s" % (o.otype, o.to_wire().hex()) for o in q.options)
            r.answer.append(dns.rrset.from_text(question.name, 30, "IN", "TXT", '"%s"' % desc))
            return r, label
        if question.rdtype == dns.rdatatype.A:
            if label == "big":
                rrs = ["10.0.%d.%d" % (i // 250, i % 250 + 1) for i in range(100)]
                r.answer.append(dns.rrset.from_text_list(question.name, 30, "IN", "A", rrs))
            else:
                r.answer.append(dns.rrset.from_text(question.name, 30, "IN", "A",
                                                    "192.0.2.%d" % self.args.id))
        return r, label

    # ---- UDP ----
    def udp_loop(self, sock):
        while True:
            data, peer = sock.recvfrom(65535)
            try:
                q = dns.message.from_wire(data)
            except Exception:
                continue
            if not q.question:
                continue
            self.log("udp", q, peer)
            r, label = self.answer(q, "udp", data)
            if r is None:
                continue
            size = q.payload if q.edns >= 0 else 512
            wire = r.to_wire(max_size=65535)
            if len(wire) > size:
                r.answer = []
                r.flags |= dns.flags.TC
                wire = r.to_wire()
            if label in ("garbage", "short"):
                sock.sendto(mangle(label, data, wire), peer)
            elif label in ("wrongid", "wrongport", "wrongq"):
                self.spoof(sock, q, peer, label)
                threading.Timer(0.05, sock.sendto, (wire, peer)).start()
            elif label == "slow":
                threading.Timer(0.3, sock.sendto, (wire, peer)).start()
            else:
                sock.sendto(wire, peer)

    def spoof(self, sock, q, peer, label):
        question = q.question[0]
        name = question.name
        if label == "wrongq":
            name = dns.name.from_text("x" + name.to_text())
            fake = dns.message.make_query(name, question.rdtype)
            fake.id = q.id
            r = dns.message.make_response(fake)
        else:
            r = dns.message.make_response(q)
        r.answer.append(dns.rrset.from_text(name, 30, "IN", "A", SPOOF))
        if label == "wrongid":
            r.id = q.id ^ 0x5555
        wire = r.to_wire()
        if label == "wrongport":
            other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            other.bind(("127.0.0.1", 0))
            other.sendto(wire, peer)
            other.close()
        else:
            sock.sendto(wire, peer)

    # ---- TCP and TLS ----
    def stream_conn(self, conn, proto):
        peer = conn.getpeername()
        try:
            while True:
                hdr = recv_exact(conn, 2)
                if not hdr:
                    return
                data = recv_exact(conn, struct.unpack("!H", hdr)[0])
                if data is None:
                    return
                try:
                    q = dns.message.from_wire(data)
                except Exception:
                    return
                self.log(proto, q, peer)
                r, label = self.answer(q, proto, data)
                if label == "hangup":
                    return
                if r is None:
                    continue
                if label == "slow":
                    time.sleep(0.3)
                wire = r.to_wire(max_size=65535)
                if label == "short":
                    conn.sendall(struct.pack("!H", len(wire)) + mangle(label, data, wire))
                    return
                if label == "garbage":
                    wire = mangle(label, data, wire)
                conn.sendall(struct.pack("!H", len(wire)) + wire)
                if label == "close":
                    return
        except OSError:
            return
        finally:
            conn.close()

    def accept_loop(self, lsock, proto, ctx=None):
        while True:
            conn, _ = lsock.accept()
            if ctx is not None:
                try:
                    conn = ctx.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    conn.close()
                    continue
            threading.Thread(target=self.stream_conn, args=(conn, proto), daemon=True).start()


def mangle(label, query, wire):
    """A garbage reply (the query's ID, then bytes no parser takes), or @wire cut short."""
    if label == "short":
        return wire[:len(wire) - 3]
    return query[:2] + b"\xff" * 10 + os.urandom(40)


def raw_qname(raw):
    """The question name exactly as received (its case), in presentation form."""
    out, i = [], 12
    while raw[i] != 0:
        n = raw[i]
        out.append(raw[i + 1:i + 1 + n].decode(errors="replace"))
        i += 1 + n
    return ".".join(out) + "."


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def bind_pair(addr, port):
    """A UDP and a TCP socket on the same port of addr (a free one when port is 0).

    A given port is one a test just freed (an upstream coming back): until then
    a client elsewhere on the machine may hold it briefly as its ephemeral port,
    so a taken one is tried again for up to 10 s rather than failing at once.
    """
    deadline = time.monotonic() + 10
    for _ in range(1000):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            u.bind((addr, port))
            t.bind((addr, u.getsockname()[1]))
        except OSError as e:
            u.close()
            t.close()
            if port and (e.errno != errno.EADDRINUSE or time.monotonic() > deadline):
                raise
            if port:
                time.sleep(0.05)
            continue
        t.listen(64)
        return u, t
    raise OSError("no free port pair")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--id", type=int, default=1)
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log")
    ap.add_argument("--control")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = ap.parse_args()
    up = Upstream(args)
    if not args.addr.startswith("127."):
        sys.exit("fakeup.py serves on loopback only")
    u, t = bind_pair(args.addr, args.port)
    threads = [
        threading.Thread(target=up.udp_loop, args=(u,), daemon=True),
        threading.Thread(target=up.accept_loop, args=(t, "tcp"), daemon=True),
    ]
    ports = [str(u.getsockname()[1])]
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        threads.append(threading.Thread(target=up.accept_loop, args=(s, "tls", ctx), daemon=True))
        ports.append(str(s.getsockname()[1]))
    for th in threads:
        th.start()
    sys.stdout.write(" ".join(ports) + "\n")
    sys.stdout.flush()
    # Until the test closes our stdin (or kills us).
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
