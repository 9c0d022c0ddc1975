#!/usr/bin/python3
"""rawcheck.py -- send GET requests over ONE raw connection and check the HTTP/1.1 framing.

Usage: rawcheck.py [--cafile CA [--cert CRT --key KEY]] [--header 'K: V']... PORT PATH...
Each PATH is requested in turn on the same connection (so keep-alive is proven too). Every
response is parsed strictly: status line, headers, then either exactly Content-Length bytes or
chunks whose size lines are lower-case hex followed by CRLF, data of exactly that size, CRLF,
and a final 0-size chunk. Prints one JSON object per response; exits 1 on any framing error.
"""

import json
import socket
import ssl
import sys


class FramingError(Exception):
	pass


def read_line(f):
	line = f.readline(8192)
	if not line.endswith(b"\r\n"):
		raise FramingError("line not terminated by CRLF: %r" % line[:80])
	return line[:-2]


def read_exact(f, n):
	data = f.read(n)
	if len(data) != n:
		raise FramingError("short read: wanted %d bytes, got %d" % (n, len(data)))
	return data


def read_response(f):
	status = read_line(f).decode()
	version, code, reason = (status.split(" ", 2) + [""])[:3]
	if version != "HTTP/1.1" or not code.isdigit():
		raise FramingError("bad status line %r" % status)
	headers = {}
	while True:
		line = read_line(f)
		if not line:
			break
		k, sep, v = line.decode().partition(":")
		if not sep:
			raise FramingError("bad header line %r" % line)
		headers[k.strip().lower()] = v.strip()
	out = {"status": int(code), "reason": reason, "headers": headers, "chunks": []}
	if headers.get("transfer-encoding") == "chunked":
		if "content-length" in headers:
			raise FramingError("both Content-Length and chunked")
		body = b""
		while True:
			size_line = read_line(f).decode()
			if not size_line or any(c not in "0123456789abcdef" for c in size_line):
				raise FramingError("bad chunk size line %r" % size_line)
			size = int(size_line, 16)
			if size == 0:
				if read_line(f) != b"":
					raise FramingError("trailer or garbage after the last chunk")
				break
			data = read_exact(f, size)
			if read_exact(f, 2) != b"\r\n":
				raise FramingError("chunk of %d bytes not followed by CRLF" % size)
			out["chunks"].append(data.decode())
			body += data
		out["framing"] = "chunked"
	elif "content-length" in headers:
		body = read_exact(f, int(headers["content-length"]))
		out["framing"] = "length"
	else:
		raise FramingError("response without Content-Length or chunked framing")
	out["body"] = body.decode()
	return out


def main(argv):
	cafile = cert = key = None
	headers = []
	while argv and argv[0].startswith("--"):
		opt = argv.pop(0)
		if opt == "--cafile":
			cafile = argv.pop(0)
		elif opt == "--cert":
			cert = argv.pop(0)
		elif opt == "--key":
			key = argv.pop(0)
		elif opt == "--header":
			headers.append(argv.pop(0))
		else:
			raise SystemExit("unknown option " + opt)
	port, paths = int(argv[0]), argv[1:]
	sock = socket.create_connection(("127.0.0.1", port), timeout=20)
	if cafile:
		ctx = ssl.create_default_context(cafile=cafile)
		ctx.set_alpn_protocols(["h2", "http/1.1"])
		if cert:
			ctx.load_cert_chain(cert, key)
		sock = ctx.wrap_socket(sock, server_hostname="localhost")
		print(json.dumps({"alpn": sock.selected_alpn_protocol()}))
	f = sock.makefile("rb")
	try:
		for path in paths:
			req = "GET %s HTTP/1.1\r\nHost: localhost\r\n" % path
			req += "".join(h + "\r\n" for h in headers) + "\r\n"
			sock.sendall(req.encode())
			print(json.dumps(read_response(f)), flush=True)
	except (FramingError, OSError, ValueError) as e:
		print("framing error: %s" % e, file=sys.stderr)
		return 1
	return 0


if __name__ == "__main__":
	sys.exit(main(sys.argv[1:]))
