"""What a hostile registry or token server can make push send, and where
(SPEC.md §18.1, §18.2): credentials go only to the registry's origin as
first contacted, a token that could carry a header is never sent, and a
weight name never leaves its place in the URL. The registry here is a
small server of this test, on 127.0.0.1, that answers just enough of the
distribution API and records every request it gets; a second one, on
another port, stands for "another origin" and records too.
"""
import hashlib
import json
import os
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from test_push import authfile, project
from wltest import expect, read, run, write


class Recorder:
    """A threading HTTP server on 127.0.0.1 that records (method, path,
    headers) and answers with `answer(handler, body) -> (status, headers, body)`."""

    def __init__(self, answer):
        self.requests = []
        self.lock = threading.Lock()
        rec = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def route(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n > 0 else b""
                with rec.lock:
                    rec.requests.append((self.command, self.path, dict(self.headers.items())))
                status, headers, out = answer(self, body)
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = route

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.host = "127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def with_header(self, name):
        with self.lock:
            return [r for r in self.requests if any(k.lower() == name.lower() for k in r[2])]


def digest_of(path):
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    return q.get("digest", [""])[0]


def basic_registry(location_for):
    """A registry that wants Basic credentials and hands out upload
    Locations made by location_for(handler)."""

    def answer(h, body):
        path = urllib.parse.urlsplit(h.path).path
        if not h.headers.get("Authorization"):
            return 401, [("WWW-Authenticate", 'Basic realm="hostile"')], b"{}"
        if h.command == "HEAD":
            return 404, [], b""
        if h.command == "POST" and path.endswith("/blobs/uploads/"):
            return 202, [("Location", location_for(h)), ("Range", "0-0")], b""
        if h.command == "PUT" and "/manifests/" in path:
            return 201, [("Docker-Content-Digest", "sha256:" + hashlib.sha256(body).hexdigest())], b""
        if h.command == "PUT":
            return 201, [("Docker-Content-Digest", digest_of(h.path))], b""
        return 404, [], b'{"errors":[{"code":"UNKNOWN","message":"no"}]}'

    return answer


def other_origin(h, body):
    if h.command == "PUT":
        return 201, [("Docker-Content-Digest", digest_of(h.path))], b""
    return 202, [("Location", h.path), ("Range", "0-0")], b""


def push_to(p, host, *extra):
    return run(["-C", p, "push", "--plain-http", "--retries", "0", "--repository", host + "/m/w",
                "--oci-layout", os.path.join(os.path.dirname(p), "layout")] + list(extra), timeout=120)


def test_an_upload_location_on_another_origin_gets_no_credentials(tmp):
    p, layout, lock = project(tmp, big=5000)
    with Recorder(other_origin) as other:
        loc = "http://%s/v2/m/w/blobs/uploads/evil?_state=x" % other.host
        with Recorder(basic_registry(lambda h: loc)) as reg:
            creds = authfile(tmp, reg.host, "alice", "secret")
            r = push_to(p, reg.host, "--authfile", creds)
            expect(other.requests, "the upload went to the Location", r)
            expect(not other.with_header("Authorization"), "credentials left the origin", other.requests)
            expect(reg.with_header("Authorization"), "the registry got them", reg.requests)
            expect(b"secret" not in r.err and b"YWxpY2U6c2VjcmV0" not in r.err, "a secret printed", r)


def test_an_upload_location_on_the_same_origin_keeps_its_credentials(tmp):
    p, layout, lock = project(tmp, big=5000)
    holder = {}
    with Recorder(basic_registry(lambda h: "http://%s/v2/m/w/blobs/uploads/ok?_state=x" % holder["host"])) as reg:
        holder["host"] = reg.host
        creds = authfile(tmp, reg.host, "alice", "secret")
        r = push_to(p, reg.host, "--authfile", creds)
        expect(r.rc == 0, "push", r)
        puts = [q for q in reg.requests if q[0] == "PUT" and "/uploads/ok" in q[1]]
        expect(puts and all("Authorization" in q[2] for q in puts), "credentials at the origin", puts)


def test_a_token_that_would_carry_a_header_is_never_sent(tmp):
    p, layout, lock = project(tmp, big=5000)
    holder = {}

    def answer(h, body):
        path = urllib.parse.urlsplit(h.path).path
        if path == "/token":
            return 200, [("Content-Type", "application/json")], json.dumps(
                {"token": "abc\r\nX-Smuggled: 1", "expires_in": 300}).encode()
        if not h.headers.get("Authorization"):
            realm = "http://%s/token" % holder["host"]
            return 401, [("WWW-Authenticate", 'Bearer realm="%s",service="hostile"' % realm)], b"{}"
        return 500, [], b""

    with Recorder(answer) as reg:
        holder["host"] = reg.host
        r = push_to(p, reg.host)
        expect(r.rc != 0, "push fails", r)
        expect(b"b64token" in r.err, "says why", r)
        expect(b"abc" not in r.err, "the token is not shown", r)
        expect(not reg.with_header("X-Smuggled"), "a header was smuggled", reg.requests)
        expect(not reg.with_header("Authorization"), "the token was sent", reg.requests)


def test_a_weight_name_never_leaves_its_place_in_the_url(tmp):
    p, layout, lock = project(tmp, big=5000)
    name = "a/../../../victim/manifests/latest?x="
    doc = json.loads(read(os.path.join(p, "weights.lock")))
    doc["weights"][0]["name"] = name
    write(os.path.join(p, "weights.lock"), json.dumps(doc, indent=2).encode())
    # The entry stays consistent but for its name: the manifest (which names
    # the weight) is projected again, so only the name can stop the push.
    m = run(["-C", p, "manifest", name])
    expect(m.rc == 0, "manifest", m)
    doc["weights"][0]["digest"] = "sha256:" + hashlib.sha256(m.out).hexdigest()
    write(os.path.join(p, "weights.lock"), json.dumps(doc, indent=2).encode())
    with Recorder(basic_registry(lambda h: "/v2/m/w/blobs/uploads/x")) as reg:
        creds = authfile(tmp, reg.host, "alice", "secret")
        r = push_to(p, reg.host, "--authfile", creds, name)
        expect(r.rc != 0, "push refuses", r)
        expect(b"invalid weight name" in r.err or b"not a valid tag" in r.err, "says why", r)
        expect(not reg.requests, "no request at all", reg.requests)
