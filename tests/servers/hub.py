#!/usr/bin/env python3
"""A mock Hugging Face Hub (SPEC.md §16.2) and its fake CDN, standard library only.

Two HTTP servers on 127.0.0.1, each on an ephemeral port: the Hub (point the
program at it with HF_ENDPOINT=hub.url) and a CDN that serves LFS files after
the Hub's 302 redirect (hub.cdn_url). The CDN refuses, with 400, any request
carrying an Authorization header, and records it.

    from hub import MockHub, File
    with MockHub(page_size=3) as hub:
        repo = hub.add_repo("org/model", files={
            "config.json": b"{}",
            "model.safetensors": (b"weights", "lfs"),
        })
        env = {"HF_ENDPOINT": hub.url}
        ...
        hub.count("cdn", "GET")          # requests of one kind (and method)
        hub.counts[("GET", "resolve")]   # the same, as a table
        hub.requests                     # every request, with its headers

Request kinds: "revision", "tree", "resolve" (Hub), "cdn" (CDN), "other".

Faults (each one-shot unless a count is given; see the methods for details):
    hub.fail("tree", 429, count=2)       # next 2 tree requests get 429 + Retry-After: 1
    hub.fail("cdn", "drop")              # next CDN request: connection closed, no answer
    hub.drop_after("org/model", "model.safetensors", 100)  # body cut after 100 bytes
    hub.serve("org/model", "config.json", b"other")        # served bytes differ from listing
    File(data, lfs=True, served=..., size=..., lfs_oid=...) # the same, per commit
    add_commit(..., extra_entries=[file_entry("a", b"x")])  # duplicate / odd listing entries
    repo.link_loop = True                # the last tree page's next link is the first page
    hub.set_ref("org/model", "main", new_sha)               # a branch moves

Run as a script, it serves directories as repositories until interrupted:
    python3 hub.py --repo org/model=DIR [--page-size N] [--lfs-min-size N]
"""
import argparse
import base64
import hashlib
import json
import os
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = ("revision", "tree", "resolve", "cdn", "other")
RETRYABLE_DEFAULT_AFTER = {429: "1", 503: "1"}
REASONS = {
    400: "Bad request",
    401: "Invalid username or password.",
    403: "Access to this model is restricted.",
    404: "Not found",
    429: "Too many requests",
    500: "Internal Error",
    502: "Bad gateway",
    503: "Service unavailable",
}


def git_blob_oid(data):
    """The git object id (sha1 hex) of a blob holding `data`."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256_hex, size):
    """The text of a git-lfs pointer file."""
    return ("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n"
            % (sha256_hex, size)).encode("ascii")


class File:
    """One file of a commit.

    data: the file's true bytes (the listing is computed from them).
    lfs: listed with an "lfs" object and served through the CDN.
    served: bytes actually sent instead of `data` (a short, long or wrong body).
    size: the listed size instead of len(data) (also lfs.size).
    lfs_oid: the listed lfs.oid instead of sha256(data).
    """

    def __init__(self, data, lfs=False, served=None, size=None, lfs_oid=None):
        self.data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        self.lfs = bool(lfs)
        self.served = served
        self.size = len(self.data) if size is None else size
        self.sha256 = lfs_oid or hashlib.sha256(self.data).hexdigest()

    def body(self):
        return self.data if self.served is None else bytes(self.served)

    def entry(self, path):
        """The tree-listing entry of this file at `path`."""
        if not self.lfs:
            return {"type": "file", "oid": git_blob_oid(self.data), "size": self.size, "path": path}
        pointer = lfs_pointer(self.sha256, self.size)
        return {"type": "file", "oid": git_blob_oid(pointer), "size": self.size, "path": path,
                "lfs": {"oid": self.sha256, "size": self.size, "pointerSize": len(pointer)}}


def as_file(value):
    """bytes / str (inline), (bytes, "lfs"|"inline"), or a File."""
    if isinstance(value, File):
        return value
    if isinstance(value, tuple):
        data, how = value
        if how not in ("lfs", "inline"):
            raise ValueError("file kind must be 'lfs' or 'inline', not %r" % (how,))
        return File(data, lfs=(how == "lfs"))
    return File(value)


def file_entry(path, data, lfs=False):
    """A raw listing entry for `data` at `path` (for extra_entries)."""
    return File(data, lfs=lfs).entry(path)


class Commit:
    def __init__(self, sha, files, extra_entries):
        self.sha = sha
        self.files = files
        self.extra_entries = list(extra_entries)

    def entries(self):
        """The recursive listing: directories and files sorted by path, then the extras."""
        dirs = {}
        for path in self.files:
            parts = path.split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d:
                    dirs.setdefault(d, []).append(path)
        out = [{"type": "directory", "path": d, "size": 0,
                "oid": hashlib.sha1(("tree\0" + "\0".join(sorted(kids))).encode()).hexdigest()}
               for d, kids in dirs.items()]
        out += [f.entry(p) for p, f in self.files.items()]
        out.sort(key=lambda e: e["path"])
        return out + [dict(e) for e in self.extra_entries]


class Repo:
    """A model repository. Attributes may be changed by a test at any time."""

    def __init__(self, name, private_token=None, gated=False):
        self.name = name
        self.commits = {}
        self.refs = {}
        self.private_token = private_token
        self.gated = gated
        self.link_loop = False
        self.next_link = None  # the last page's Link rel="next" target (another server)
        self.page_size = None
        self.served = {}

    @property
    def sha(self):
        """The commit `main` points at."""
        return self.refs.get("main")

    def lookup(self, ref):
        if ref in self.refs:
            return self.commits[self.refs[ref]]
        return self.commits.get(ref) if len(ref) == 40 else None


class Request:
    """One request as received: server ("hub"/"cdn"), method, raw path, query
    (dict of lists), kind, headers (dict, lower-case names), status sent
    (None for a dropped connection), body bytes sent."""

    def __init__(self, server, method, path, query, kind, headers):
        self.server, self.method, self.path, self.query = server, method, path, query
        self.kind, self.headers = kind, headers
        self.status = None
        self.sent = 0

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "Request(%s %s %s -> %s)" % (self.server, self.method, self.path, self.status)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, hub, role):
        self.hub, self.role = hub, role
        super().__init__((hub.host, 0), _Handler)


class MockHub:
    def __init__(self, page_size=1000, host="127.0.0.1"):
        self.host = host
        self.page_size = page_size
        self.repos = {}
        self._lock = threading.Lock()
        self._requests = []
        self._faults = []
        self._drops = {}
        self._cdn_links = {}
        self._servers = []
        self._threads = []
        self.url = self.cdn_url = None

    # ---- lifecycle ----
    def start(self):
        if self._servers:
            return self
        for role in ("hub", "cdn"):
            srv = _Server(self, role)
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                                 name="mockhub-" + role, daemon=True)
            self._servers.append(srv)
            self._threads.append(t)
            t.start()
        self.url = "http://%s:%d" % (self.host, self._servers[0].server_address[1])
        self.cdn_url = "http://%s:%d" % (self.host, self._servers[1].server_address[1])
        return self

    def stop(self):
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- repositories ----
    def add_repo(self, name, files=None, revisions=None, private_token=None, gated=False,
                 link_loop=False, page_size=None):
        """Creates repository `name` ("org/repo") and returns its Repo.

        files: {path: content} for the commit `main` points at (content as in as_file).
        revisions: {ref: sha or {path: content}}: tags/branches; a dict value makes a
          new commit. Without "main" in it, main is the commit of `files`.
        private_token: the repo answers 401 unless "Authorization: Bearer <token>".
        gated: True answers 403 to everyone; a token string is the one allowed in.
        """
        if name.count("/") != 1:
            raise ValueError("repository names are ORG/REPO: %r" % (name,))
        repo = Repo(name, private_token, gated)
        repo.link_loop, repo.page_size = link_loop, page_size
        with self._lock:
            self.repos[name] = repo
        if files is not None:
            self.add_commit(name, files, refs=() if revisions and "main" in revisions else ("main",))
        for ref, what in (revisions or {}).items():
            if isinstance(what, dict):
                self.add_commit(name, what, refs=(ref,))
            else:
                self.set_ref(name, ref, what)
        return repo

    def add_commit(self, name, files, refs=(), extra_entries=(), sha=None):
        """Adds a commit of `files` to repo `name`, points `refs` at it, returns its sha.

        The sha is derived from the repo name and the listing unless given.
        extra_entries: raw listing entries appended after the sorted ones.
        """
        repo = self.repos[name]
        fs = {p: as_file(v) for p, v in files.items()}
        if sha is None:
            h = hashlib.sha1(b"commit\0" + name.encode())
            for p in sorted(fs):
                h.update(json.dumps(fs[p].entry(p), sort_keys=True).encode())
            h.update(json.dumps(list(extra_entries), sort_keys=True).encode())
            sha = h.hexdigest()
        with self._lock:
            repo.commits[sha] = Commit(sha, fs, extra_entries)
            for ref in refs:
                repo.refs[ref] = sha
        return sha

    def set_ref(self, name, ref, sha):
        """Points branch or tag `ref` of repo `name` at the existing commit `sha`."""
        repo = self.repos[name]
        if sha not in repo.commits:
            raise KeyError("no commit %s in %s" % (sha, name))
        with self._lock:
            repo.refs[ref] = sha

    def repo(self, name):
        return self.repos[name]

    # ---- faults ----
    def fail(self, kind, status, count=1, retry_after=None, method=None):
        """The next `count` requests of `kind` ("any" matches every kind), and of
        `method` when given, are answered with `status` and a JSON error; status
        "drop" closes the connection without an answer. 429 and 503 carry
        Retry-After: 1 unless retry_after is given (None: the default; "" omits it)."""
        if kind != "any" and kind not in KINDS:
            raise ValueError("unknown kind %r" % (kind,))
        if retry_after is None:
            retry_after = RETRYABLE_DEFAULT_AFTER.get(status, "")
        with self._lock:
            self._faults.append({"kind": kind, "method": method, "status": status,
                                 "left": count, "retry_after": str(retry_after)})

    def drop_after(self, name, path, nbytes, count=1):
        """The next `count` GETs of the bytes of file `path` of repo `name` (inline
        from the Hub, LFS from the CDN) send the headers of the full answer, then
        `nbytes` bytes of the body, then close the connection."""
        with self._lock:
            self._drops[(name, path)] = [nbytes, count]

    def serve(self, name, path, data):
        """From now on file `path` of repo `name` is served as `data` in every commit
        (None restores the true bytes); the listing is unchanged."""
        with self._lock:
            if data is None:
                self.repos[name].served.pop(path, None)
            else:
                self.repos[name].served[path] = bytes(data)

    def clear_faults(self):
        with self._lock:
            self._faults.clear()
            self._drops.clear()

    # ---- what happened ----
    @property
    def requests(self):
        with self._lock:
            return list(self._requests)

    @property
    def counts(self):
        """{(method, kind): number of requests}."""
        out = {}
        for r in self.requests:
            out[(r.method, r.kind)] = out.get((r.method, r.kind), 0) + 1
        return out

    def count(self, kind=None, method=None, status=None):
        return sum(1 for r in self.requests if (kind is None or r.kind == kind)
                   and (method is None or r.method == method)
                   and (status is None or r.status == status))

    def cdn_authorization(self):
        """CDN requests that carried an Authorization header (each was refused)."""
        return [r for r in self.requests if r.server == "cdn" and "authorization" in r.headers]

    def reset_log(self):
        with self._lock:
            self._requests.clear()

    # ---- used by the handler ----
    def _record(self, req):
        with self._lock:
            self._requests.append(req)

    def _take_fault(self, kind, method):
        with self._lock:
            for f in self._faults:
                if f["left"] > 0 and f["kind"] in ("any", kind) and f["method"] in (None, method):
                    f["left"] -= 1
                    return dict(f)
        return None

    def _take_drop(self, name, path):
        with self._lock:
            d = self._drops.get((name, path))
            if d and d[1] > 0:
                d[1] -= 1
                return d[0]
        return None

    def _cdn_link(self, repo, commit, path, f):
        sig = hashlib.sha256(("%s\0%s\0%s" % (repo.name, commit.sha, path)).encode()).hexdigest()[:40]
        with self._lock:
            self._cdn_links[sig] = (repo, commit, path)
        return ("%s/cdn/%s?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=%s"
                % (self.cdn_url, f.sha256, sig))

    def _cdn_target(self, sig):
        with self._lock:
            return self._cdn_links.get(sig)

    def _body_of(self, repo, path, f):
        with self._lock:
            over = repo.served.get(path)
        return f.body() if over is None else over


def _classify(role, parts):
    if role == "cdn":
        return "cdn"
    if len(parts) >= 6 and parts[0] == "api" and parts[1] == "models":
        if parts[4] == "revision":
            return "revision"
        if parts[4] == "tree":
            return "tree"
    if len(parts) >= 5 and parts[2] == "resolve":
        return "resolve"
    return "other"


def _parse_range(value, total):
    """(start, end inclusive) for "bytes=N-" or "bytes=N-M"; None to ignore the
    header; "unsatisfiable" when N is past the end."""
    if not value or not value.startswith("bytes=") or "," in value:
        return None
    first, _, last = value[6:].strip().partition("-")
    if not first.isdigit() or (last and not last.isdigit()):
        return None
    start = int(first)
    end = min(int(last), total - 1) if last else total - 1
    if start >= total:
        return "unsatisfiable"
    if end < start:
        return None
    return start, end


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5
    server_version = "MockHub/1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._handle()

    def do_HEAD(self):
        self._handle()

    # ---- plumbing ----
    def _handle(self):
        hub, role = self.server.hub, self.server.role
        raw, _, qs = self.path.partition("?")
        parts = raw.lstrip("/").split("/")
        kind = _classify(role, parts)
        self.req = Request(role, self.command, self.path, urllib.parse.parse_qs(qs), kind,
                           {k.lower(): v for k, v in self.headers.items()})
        hub._record(self.req)
        fault = hub._take_fault(kind, self.command)
        if fault:
            if fault["status"] == "drop":
                return self._drop()
            extra = {"Retry-After": fault["retry_after"]} if fault["retry_after"] else {}
            return self._error(fault["status"], REASONS.get(fault["status"], "Injected fault"), extra)
        if role == "cdn":
            return self._cdn(parts)
        if kind == "other":
            return self._error(404, "Not found")
        org, name = parts[0:2] if kind == "resolve" else parts[2:4]
        repo = hub.repos.get(urllib.parse.unquote(org) + "/" + urllib.parse.unquote(name))
        if repo is None:
            return self._error(404, "Repository not found", {"X-Error-Code": "RepoNotFound"})
        if not self._allowed(repo):
            return
        if kind == "revision":
            return self._revision(repo, urllib.parse.unquote("/".join(parts[5:])))
        if kind == "tree":
            return self._tree(repo, parts)
        return self._resolve(repo, parts)

    def _allowed(self, repo):
        auth = self.headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else None
        if repo.private_token is not None and token != repo.private_token:
            self._error(401, "Invalid username or password.", {"X-Error-Code": "RepoNotFound"})
            return False
        if repo.gated is True or (repo.gated and token != repo.gated):
            self._error(403, "Access to model %s is restricted. You must have access to it "
                        "and be authenticated to access it." % repo.name,
                        {"X-Error-Code": "GatedRepo"})
            return False
        return True

    def _send(self, status, headers, body=b"", drop_at=None):
        # The record is complete before the client can see anything of the answer.
        cut = self.command == "GET" and drop_at is not None and drop_at < len(body)
        self.req.status = status
        self.req.sent = 0 if self.command == "HEAD" else drop_at if cut else len(body)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        self.wfile.write(body[:drop_at] if cut else body)
        if cut:
            self._drop(answered=True)

    def _drop(self, answered=False):
        if not answered:
            self.req.status = None
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def _json(self, status, obj, headers=None):
        h = {"Content-Type": "application/json; charset=utf-8"}
        h.update(headers or {})
        self._send(status, h, json.dumps(obj).encode("utf-8"))

    def _error(self, status, message, headers=None):
        if self.server.role == "cdn":
            body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%d</Code>"
                    "<Message>%s</Message></Error>" % (status, message)).encode("utf-8")
            h = {"Content-Type": "application/xml"}
            h.update(headers or {})
            return self._send(status, h, body)
        self._json(status, {"error": message}, headers)

    def _file_bytes(self, body, etag, extra, drop_at):
        """200 or 206 (Range) with `body`, cut after drop_at bytes when given."""
        total = len(body)
        h = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes", "ETag": etag}
        h.update(extra)
        rng = _parse_range(self.headers.get("Range"), total)
        if rng == "unsatisfiable":
            h["Content-Range"] = "bytes */%d" % total
            return self._send(416, h)
        if rng is None:
            return self._send(200, h, body, drop_at)
        start, end = rng
        h["Content-Range"] = "bytes %d-%d/%d" % (start, end, total)
        self._send(206, h, body[start:end + 1], drop_at)

    # ---- endpoints ----
    def _revision(self, repo, ref):
        commit = repo.lookup(ref)
        if commit is None:
            return self._error(404, "Revision Not Found", {"X-Error-Code": "RevisionNotFound"})
        org, _, name = repo.name.partition("/")
        self._json(200, {
            "_id": hashlib.sha1(repo.name.encode()).hexdigest()[:24],
            "id": repo.name, "modelId": repo.name, "author": org, "sha": commit.sha,
            "private": repo.private_token is not None, "gated": "manual" if repo.gated else False,
            "disabled": False, "tags": [], "downloads": 0, "likes": 0,
            "lastModified": "2024-01-01T00:00:00.000Z",
            "siblings": [{"rfilename": p} for p in sorted(commit.files)],
        })

    def _tree(self, repo, parts):
        hub = self.server.hub
        commit = repo.lookup(urllib.parse.unquote(parts[5]))
        if commit is None:
            return self._error(404, "Revision Not Found", {"X-Error-Code": "RevisionNotFound"})
        sub = "/".join(urllib.parse.unquote(p) for p in parts[6:]).strip("/")
        recursive = self.req.query.get("recursive", ["false"])[0].lower() in ("true", "1")
        entries = commit.entries()
        if sub:
            entries = [e for e in entries if e["path"].startswith(sub + "/")]
            if not entries:
                return self._error(404, "Entry not found", {"X-Error-Code": "EntryNotFound"})
        if not recursive:
            depth = sub.count("/") + 1 if sub else 0
            entries = [e for e in entries if e["path"].count("/") == depth]
        start = 0
        cursor = self.req.query.get("cursor", [None])[0]
        if cursor is not None:
            try:
                start = int(base64.urlsafe_b64decode(cursor.encode()).decode())
            except (ValueError, UnicodeDecodeError):
                return self._error(400, "Invalid cursor")
        size = repo.page_size or hub.page_size
        page = entries[start:start + size]
        base = "%s/api/models/%s/tree/%s%s" % (hub.url, repo.name, parts[5],
                                               "/" + "/".join(parts[6:]) if sub else "")
        query = {k: v[0] for k, v in self.req.query.items() if k != "cursor"}
        headers = {}
        if start + size < len(entries):
            query["cursor"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
            headers["Link"] = '<%s?%s>; rel="next"' % (base, urllib.parse.urlencode(query))
        elif repo.next_link:
            headers["Link"] = '<%s>; rel="next"' % repo.next_link
        elif repo.link_loop:
            headers["Link"] = '<%s?%s>; rel="next"' % (base, urllib.parse.urlencode(query))
        self._json(200, page, headers)

    def _resolve(self, repo, parts):
        hub = self.server.hub
        commit = repo.lookup(urllib.parse.unquote(parts[3]))
        if commit is None:
            return self._error(404, "Revision Not Found", {"X-Error-Code": "RevisionNotFound"})
        path = "/".join(urllib.parse.unquote(p) for p in parts[4:])
        f = commit.files.get(path)
        if f is None:
            return self._error(404, "Entry not found", {"X-Error-Code": "EntryNotFound"})
        extra = {"X-Repo-Commit": commit.sha}
        if f.lfs:
            extra.update({"Location": hub._cdn_link(repo, commit, path, f),
                          "X-Linked-Etag": '"%s"' % f.sha256, "X-Linked-Size": str(f.size),
                          "ETag": '"%s"' % f.entry(path)["oid"]})
            return self._send(302, extra)
        body = hub._body_of(repo, path, f)
        drop = hub._take_drop(repo.name, path) if self.command == "GET" else None
        self._file_bytes(body, '"%s"' % git_blob_oid(f.data), extra, drop)

    def _cdn(self, parts):
        hub = self.server.hub
        if "authorization" in self.req.headers:
            return self._error(400, "Only one auth mechanism allowed: the request is signed "
                               "in its query and must not carry an Authorization header")
        sig = self.req.query.get("X-Amz-Signature", [None])[0]
        target = hub._cdn_target(sig) if sig else None
        if len(parts) != 2 or parts[0] != "cdn" or target is None:
            return self._error(403, "AccessDenied")
        repo, commit, path = target
        f = commit.files[path]
        if parts[1] != f.sha256:
            return self._error(403, "AccessDenied")
        body = hub._body_of(repo, path, f)
        drop = hub._take_drop(repo.name, path) if self.command == "GET" else None
        self._file_bytes(body, '"%s"' % f.sha256, {}, drop)


def _load_dir(root, lfs_min_size):
    files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            with open(full, "rb") as fh:
                data = fh.read()
            files[rel] = File(data, lfs=len(data) >= lfs_min_size)
    return files


def main(argv=None):
    ap = argparse.ArgumentParser(description="Mock Hugging Face Hub with a fake CDN.")
    ap.add_argument("--repo", action="append", default=[], metavar="ORG/NAME=DIR",
                    help="serve DIR as repository ORG/NAME (branch main); repeatable")
    ap.add_argument("--page-size", type=int, default=1000, help="tree entries per page")
    ap.add_argument("--lfs-min-size", type=int, default=1024,
                    help="files of at least this many bytes are LFS files")
    args = ap.parse_args(argv)
    hub = MockHub(page_size=args.page_size)
    for spec in args.repo:
        name, sep, root = spec.partition("=")
        if not sep or not os.path.isdir(root):
            ap.error("--repo wants ORG/NAME=DIR, got %r" % spec)
        hub.add_repo(name, files=_load_dir(root, args.lfs_min_size))
    if not args.repo:
        hub.add_repo("mock/demo", files={"config.json": b'{"model_type": "demo"}\n',
                                         "model.safetensors": (b"\0" * 4096, "lfs")})
    with hub:
        print("HF_ENDPOINT=%s" % hub.url, flush=True)
        for name, repo in sorted(hub.repos.items()):
            print("hf://%s main=%s" % (name, repo.sha), flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
