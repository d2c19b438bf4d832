#!/usr/bin/env python3
"""A fault-injecting HTTP server for the HTTP client's tests (standard library only).

    httpd.py ROOT [--cert CERT --key KEY]

Listens on 127.0.0.1, ephemeral ports: the main origin, a second origin that
answers 400 to any request carrying Authorization, and (with --cert/--key) a
TLS origin. Prints "MAIN OTHER TLS" (TLS is 0 without a certificate) on one
line, then serves until its standard input is closed.

Routes (each request target, path and query, is counted on its own):

  /f/NAME?...     the file ROOT/NAME, with Range (bytes=N- and N-M) and If-Range;
                  query options:
                    etag=strong|weak|none   ETag form (default strong)
                    status=CODE             always answer CODE
                    fail=N&code=C           the first N requests answer C
                    retry_after=S           with Retry-After: S (for fail)
                    auth=TOKEN              401 unless "Authorization: Bearer TOKEN"
                    drop=K[&drops=N]        the first N (1) answers stop after K body bytes
                    range=ignore            answer 200 with the whole file to a Range
                    cl=D                    Content-Length is the size plus D (may be
                                            negative); the whole file is sent, then close
                    stall=S[&stall_after=K] send K body bytes, then sleep S seconds
                    hdr=Name:Value          an extra response header (repeatable)
  /redirect?to=LOC[&code=C]   answers C (302) with Location: LOC
  /loop/N         redirects to /loop/N+1, forever
  /echo           any method: the method, a newline, then the request body
  /_stats?key=K   what requests with target K did: count=, and of the last one
                  range=, if_range=, authorization=yes|no
  /_conns         connections accepted by this listener
"""
import hashlib
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATS = {}  # (listener, target) -> {"count": n, "range": ..., ...}
REALM = {}  # listener -> the token realm its /v2/ answers name
CHUNK = 16384


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root, name, rejects_auth=False, tls=None):
        self.root = root
        self.name = name
        self.rejects_auth = rejects_auth
        self.tls = tls
        self.connections = 0
        super().__init__(("127.0.0.1", 0), Handler)

    def get_request(self):
        sock, addr = super().get_request()
        with LOCK:
            self.connections += 1
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "faulty/1"

    def log_message(self, format, *args):  # quiet
        pass

    def handle(self):
        if self.server.tls is not None:
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                return
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, BrokenPipeError):
            pass

    # -- helpers --

    def send_simple(self, code, text, headers=()):
        body = text.encode()
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def record(self):
        key = (self.server.name, self.path)
        with LOCK:
            s = STATS.setdefault(key, {"count": 0})
            s["count"] += 1
            s["range"] = self.headers.get("Range", "")
            s["if_range"] = self.headers.get("If-Range", "")
            s["authorization"] = "yes" if self.headers.get("Authorization") else "no"
            s["smuggled"] = "yes" if self.headers.get("X-Smuggled") else "no"
            return s["count"]

    def hang_up(self):
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    # -- routes --

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        one = lambda name, default=None: q.get(name, [default])[0]
        if url.path == "/_stats":
            with LOCK:
                s = dict(STATS.get((self.server.name, one("key", "")), {"count": 0}))
            text = "".join("%s=%s\n" % (k, s.get(k, "")) for k in ("count", "range", "if_range", "authorization", "sent", "smuggled"))
            return self.send_simple(200, text)
        if url.path == "/_conns":
            with LOCK:
                n = self.server.connections
            return self.send_simple(200, "%d\n" % n)
        n = self.record()
        body = self.read_body() if self.command in ("PUT", "POST", "PATCH") else b""
        if self.server.rejects_auth and self.headers.get("Authorization"):
            return self.send_simple(400, "authorization sent to another origin\n")
        if url.path == "/echo":
            self.send_response(200)
            self.send_header("X-Method", self.command)
            reply = self.command.encode() + b"\n" + body
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            return self.wfile.write(reply)
        if url.path == "/redirect":
            return self.send_simple(int(one("code", "302")), "moved\n", [("Location", one("to", "/"))])
        if url.path.startswith("/v2/"):
            # A registry that wants a token from the realm set through /_realm.
            with LOCK:
                realm = REALM.get(self.server.name, "")
            return self.send_simple(401, '{"errors":[{"code":"UNAUTHORIZED","message":"token"}]}',
                                    [("WWW-Authenticate", 'Bearer realm="%s",service="test"' % realm)])
        if url.path == "/_realm":
            with LOCK:
                REALM[self.server.name] = one("to", "")
            return self.send_simple(200, "ok\n")
        if url.path == "/endless":
            # An answer whose body never ends (bounded here: at most `max`
            # bytes, 512 MiB by default); what was sent is kept in the stats.
            code = int(one("code", "404"))
            self.send_response(code)
            if one("to"):
                self.send_header("Location", one("to"))
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            sent, limit, piece = 0, int(one("max", str(512 << 20))), b"x" * 65536
            try:
                while sent < limit:
                    self.wfile.write(piece)
                    sent += len(piece)
                    with LOCK:
                        STATS[(self.server.name, self.path)]["sent"] = sent
            except OSError:
                pass
            return self.hang_up()
        if url.path == "/drip":
            # One byte every `every` seconds, `n` bytes in all: never a stall.
            n, every = int(one("n", "100")), float(one("every", "0.5"))
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            try:
                for _ in range(n):
                    self.wfile.write(b"d")
                    self.wfile.flush()
                    time.sleep(every)
            except OSError:
                pass
            return self.hang_up()
        if url.path.startswith("/loop/"):
            k = int(url.path[len("/loop/"):] or 0)
            nxt = "/loop/%d" % (k + 1) + ("?" + url.query if url.query else "")
            return self.send_simple(302, "again\n", [("Location", nxt)])
        if url.path.startswith("/f/"):
            return self.serve_file(url.path[len("/f/"):], q, one, n)
        return self.send_simple(404, "no such route\n")

    def serve_file(self, name, q, one, n):
        extra = [tuple(h.split(":", 1)) for h in q.get("hdr", []) if ":" in h]
        if one("status"):
            return self.send_simple(int(one("status")), "status %s\n" % one("status"), extra)
        if one("fail") and n <= int(one("fail")):
            hdrs = list(extra)
            if one("retry_after"):
                hdrs.append(("Retry-After", one("retry_after")))
            return self.send_simple(int(one("code", "500")), "failing on purpose\n", hdrs)
        if one("auth") is not None and self.headers.get("Authorization") != "Bearer " + one("auth"):
            return self.send_simple(401, "unauthorized\n", [("WWW-Authenticate", 'Bearer realm="test"')])
        path = os.path.join(self.server.root, os.path.basename(name))
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return self.send_simple(404, "not found\n")
        tag = hashlib.sha256(data).hexdigest()[:16]
        etag = {"strong": '"%s"' % tag, "weak": 'W/"%s"' % tag, "none": None}[one("etag", "strong")]
        start, end, partial = 0, len(data), False
        rng = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if rng and one("range") != "ignore" and (if_range is None or if_range == etag):
            spec = rng[len("bytes="):] if rng.startswith("bytes=") else ""
            first, _, last = spec.partition("-")
            if not first.isdigit() or int(first) >= len(data):
                return self.send_simple(416, "range not satisfiable\n", [("Content-Range", "bytes */%d" % len(data))])
            start = int(first)
            end = min(int(last) + 1, len(data)) if last.isdigit() else len(data)
            partial = True
        length = end - start
        close_after = False
        if one("cl"):
            length += int(one("cl"))
            close_after = True
        self.send_response(206 if partial else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if partial:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end - 1, len(data)))
        if etag:
            self.send_header("ETag", etag)
        for name_, value in extra:
            self.send_header(name_, value.strip())
        self.end_headers()
        if self.command == "HEAD":
            return
        body = data[start:end]
        if one("drop") and n <= int(one("drops", "1")):
            self.wfile.write(body[: int(one("drop"))])
            return self.hang_up()
        if one("stall"):
            k = int(one("stall_after", "0"))
            self.wfile.write(body[:k])
            self.wfile.flush()
            time.sleep(float(one("stall")))
            return self.hang_up()
        for i in range(0, len(body), CHUNK):
            self.wfile.write(body[i : i + CHUNK])
        if close_after:
            self.hang_up()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = route


def main():
    args = sys.argv[1:]
    root = args[0]
    cert = key = None
    if "--cert" in args:
        cert = args[args.index("--cert") + 1]
        key = args[args.index("--key") + 1]
    servers = [Server(root, "main"), Server(root, "other", rejects_auth=True)]
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        servers.append(Server(root, "tls", tls=ctx))
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    ports = [s.server_address[1] for s in servers] + ([] if cert else [0])
    sys.stdout.write("%d %d %d\n" % tuple(ports))
    sys.stdout.flush()
    # Serve until the test (our parent) closes our standard input or dies.
    while sys.stdin.buffer.read(1):
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
