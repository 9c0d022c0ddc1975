"""rawfault.py -- fakeapi.py's "raw" fault mode: a reply made of the test's own bytes.

A fault rule {"mode": "raw", ...} answers the request it matches with exactly what it
describes, so a test can serve what a real API server never would: truncated, garbled or
endless JSON, a body that stops in the middle, objects with missing or absurd fields, a
Content-Length that lies. The rule's fields (all optional):

  status    HTTP status, default 200
  headers   {name: value} added to the reply; Content-Type defaults to application/json
  body      the body as text (sent as UTF-8), default ""; or body64, the body's bytes in base64
  chunked   Transfer-Encoding: chunked (default true; HTTP/1.0 clients get a plain body)
  chunk     bytes per chunk, default 4096
  length    the Content-Length announced when not chunked, default the body's (a lie is fine)
  cut       send only the first `cut` bytes of the body, then do `then`
  then      what follows the body: "end" (default: the last chunk, so a cut body ends cleanly),
            "close" (shut the connection down), "rst" (reset it), "hang" (send nothing more
            until the client leaves, `seconds` pass or drop-watches with "hangs" ends it), or
            "repeat" (send `repeat` again and again, every `interval` seconds, default 0 = as
            fast as the client reads, until the client leaves or drop-watches with "hangs"),
            or "pause" (wait as "hang" does, then send the rest of the body after `cut` and
            end properly: a test acts while a client holds part of a reply)
  repeat    the text sent over and over by then=repeat
"""

import base64
import time
import uuid

MODES = ("raw",)
THEN = ("end", "close", "rst", "hang", "repeat", "pause")


def check(rule):
	"""Normalise @rule in place; @return an error message, or None."""
	then = rule.setdefault("then", "end")
	if then not in THEN:
		return "then must be one of " + ", ".join(THEN)
	if "body64" in rule:
		try:
			base64.b64decode(rule["body64"], validate=True)
		except ValueError:
			return "body64 is not base64"
	elif not isinstance(rule.get("body", ""), str):
		return "body must be a string"
	if then == "repeat" and not rule.get("repeat"):
		return "then=repeat needs a non-empty repeat"
	for key in ("cut", "length", "chunk"):
		if rule.get(key) is not None:
			rule[key] = int(rule[key])
	rule["status"] = int(rule.get("status", 200))
	rule["interval"] = float(rule.get("interval", 0))
	return None


def body_of(rule):
	if "body64" in rule:
		return base64.b64decode(rule["body64"])
	return rule.get("body", "").encode()


def apply(h, rule, waiter_class):
	"""Answer on handler @h (fakeapi.Handler) as @rule says; @waiter_class is fakeapi.Waiter."""
	body = body_of(rule)
	part = body[:rule["cut"]] if rule.get("cut") is not None else body
	chunked = rule.get("chunked", True) and h.request_version == "HTTP/1.1"
	step = max(1, rule.get("chunk") or 4096)
	headers = dict(rule.get("headers") or {})
	headers.setdefault("Content-Type", "application/json")

	h.send_response(rule["status"])
	h.send_header("Audit-Id", str(uuid.uuid4()))
	h.send_header("Cache-Control", "no-cache, private")
	for k, v in headers.items():
		h.send_header(k, str(v))
	if chunked:
		h.send_header("Transfer-Encoding", "chunked")
	else:
		h.send_header("Content-Length", str(rule.get("length", len(body))))
		h.close_connection = True
	h.end_headers()

	def send(data):
		if not chunked:
			h.wfile.write(data)
			return
		for i in range(0, len(data), step):
			h.write_chunk(data[i:i + step])
		h.wfile.flush()

	def end():
		if chunked:
			h.wfile.write(b"0\r\n\r\n")
		h.wfile.flush()

	send(part)
	then = rule["then"]
	if then == "end":
		end()
	elif then in ("close", "rst"):
		h.wfile.flush()
		h.abort(then if then == "rst" else "abrupt")
	elif then == "hang":
		h.wfile.flush()
		h.hang(rule.get("seconds"))
	elif then == "pause":
		h.wfile.flush()
		if h.hold():
			send(body[len(part):])
			end()
	else:
		repeat_until_gone(h, rule, send, waiter_class)


def repeat_until_gone(h, rule, send, waiter_class):
	"""then=repeat: the endless body. A client that goes away ends it (the write fails)."""
	app = h.app
	data = rule["repeat"].encode()
	waiter = app.add_waiter(waiter_class("hang", h.path, {}))
	try:
		while not waiter.drop:
			send(data)
			if rule["interval"] > 0:
				time.sleep(rule["interval"])
			if h.peer_gone():
				break
		h.abort("abrupt")
	finally:
		app.remove_waiter(waiter)
