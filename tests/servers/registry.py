#!/usr/bin/env python3
"""A real OCI registry for the registry client's tests, standard library only.

Registry runs Debian's `docker-registry` (distribution 2.8.2) on 127.0.0.1, on a
free port, plain HTTP, with its own storage and configuration in a temporary
directory (removed by stop()).

    from registry import Registry, write_oci_layout
    with Registry() as reg:                                  # anonymous
        reg.url, reg.host                                    # http://127.0.0.1:PORT, 127.0.0.1:PORT
    with Registry(auth="htpasswd", users={"alice": "secret"}) as reg:
        ...                                                  # Basic (bcrypt htpasswd)
        reg.blob_exists("repo", digest)                      # the helpers authenticate
        reg.get_blob("repo", digest)                         # themselves: they never
        reg.get_manifest("repo", "tag")   # -> (bytes, headers)  show up in counters
        reg.tags("repo")
        reg.blob_path(digest)                                # the blob's file in storage
        reg.upload_size("repo", uuid)                        # bytes an upload session holds
        reg.log()                                            # the registry's output
    layout = write_oci_layout(DIR, "v1", [b"layer bytes"])   # for skopeo copy oci:DIR:v1
    with Registry(auth="token", users={"alice": "secret", "bob": "pw"},
                  access={"bob": ["pull"]},                  # default: pull and push
                  anonymous=None,                            # or ["pull"]
                  registry_lifetime=None) as reg:            # or seconds: see TokenServer
        reg.tokens.realm, reg.tokens.service                 # the token server (reg.tokens)
        reg.tokens.requests                                  # TokenRequest: user, creds_sent,
        reg.tokens.count(user="alice", status=200)           #   scopes, granted, status
        reg.tokens.fail(503)                                 # next token request answers 503
        reg.tokens.mint("alice", [("repository", "r", "pull")], exp=...)  # a token, uncounted

FaultProxy is an HTTP/1.1 reverse proxy (threads, keep-alive, bodies streamed
both ways, chunked request bodies accepted, Expect: 100-continue answered by the
proxy itself) in front of a registry, plus a second server on another port, the
redirect target, which answers 400 to any request carrying Authorization and
otherwise serves blob bytes (with Range) from the registry's storage (or, given a
URL only, fetched from upstream with cdn_upstream_auth).

    with Registry(auth="token") as reg, FaultProxy(reg) as px:
        px.url, px.host, px.cdn_url          # point the client at px.host
        px.drop_request(70000, "PATCH", r"/blobs/uploads/")  # body cut after 70000 bytes
        px.drop_response(1000, "GET", r"/blobs/sha256:")     # body cut after 1000 bytes
        px.fail(500, path_re=r"/manifests/", count=2)        # answered without upstream
        px.fail(429, method="POST")                          # with Retry-After: 1
        px.fail(401, method="PATCH")                         # with the registry's challenge
        px.limit_body(64 << 20)                              # 413 over 64 MiB until None
        px.delay(40, "PUT", r"/blobs/uploads/")              # held 40 s before upstream
        px.delay(40, "PUT", after_upstream=True)             # done upstream, answer held
        px.redirect_blobs(count=None)                        # 307 to the redirect target
        px.ignore_range("GET", r"/blobs/")                   # Range dropped: 200, whole body
        px.counts[("PATCH", "upload")]                       # kinds: blob manifest upload
        px.count("blob", "GET", 307)                         #   token v2 other
        px.bytes_sent["/v2/r/blobs/sha256:..."]              # response body bytes per path
        px.with_authorization("cdn")                         # requests that carried it
        px.requests                                          # ProxyRequest, with headers

Faults match a method and a regular expression searched in the path (with its
query); each is one-shot unless count is given (None: until clear_faults()).
Location headers pointing at the registry are rewritten to the proxy; with a
token registry the proxy also fronts the token server at /token and rewrites
the challenge's realm, so token requests are counted and can be faulted.

Token mode: a TokenServer (in this module, an http.server thread) implements
the Docker token protocol: GET realm?service=S&scope=repository:NAME:pull,push
(scope repeatable) with Basic credentials or none, and the OAuth2 POST form
(grant_type=password). It answers {"token", "access_token", "expires_in",
"issued_at"} with an ES256 JWT signed by `openssl dgst -sha256 -sign` (the DER
signature turned into JWS r||s here) whose header carries the self-signed P-256
certificate (x5c) that the registry's rootcertbundle trusts.

Passwords are hashed with the standard library's crypt (bcrypt, "$2b$...") when it
has it, else with `htpasswd -nbB` (Debian's apache2-utils).

Facts about this registry (each one checked by tests/cli/test_registry_server.py):
  - An OCI manifest is answered only to an Accept that lists
    application/vnd.oci.image.manifest.v1+json: with no Accept, or a Docker-only
    one, GET and HEAD by tag or by digest answer 404 MANIFEST_UNKNOWN ("OCI
    manifest found, but accept header does not support OCI manifests").
  - PUT of a manifest answers 201 with Docker-Content-Digest (the sha256 of the
    bytes sent) and Location .../manifests/<digest>. A manifest PUT with
    Content-Type application/json, or none, answers 400 MANIFEST_INVALID.
  - POST .../blobs/uploads/ answers 202, Location .../uploads/<uuid>?_state=...,
    Docker-Upload-UUID and Range: 0-0 (also when nothing was received yet).
    POST ?digest=D with a body is NOT a monolithic upload: it answers 202 and
    keeps nothing. POST ?mount=D&from=REPO answers 201 when REPO has D, else
    202 (a new upload session).
  - PATCH ignores Content-Range: the bytes are appended at the session's offset,
    whatever the header says (or without it). Chunked request bodies work.
    The answer is 202 with Range: 0-<last byte> (inclusive, no "bytes=").
  - Every PATCH returns a new Location (its _state holds the offset). A request
    to an older Location (GET, PATCH or PUT) answers 404 BLOB_UPLOAD_INVALID;
    the session itself survives and the newest Location still works.
  - GET of the newest upload Location answers 204 with Range: 0-<last byte> and
    the same Location; a session DELETEd (204) then answers 404
    BLOB_UPLOAD_UNKNOWN. A Location without its _state answers 404 BLOB_UPLOAD_INVALID.
  - PUT ?digest= with a wrong digest answers 400 DIGEST_INVALID. After a PUT that
    carried bytes (a monolithic upload) the Location is dead (404
    BLOB_UPLOAD_INVALID); after a PUT with an empty body that closes a chunked
    upload, the session survives and a PUT with the right digest then succeeds.
  - A right PUT answers 201 with Docker-Content-Digest and Location .../blobs/<digest>.
  - Blob GET honours Range: bytes=N- with 206 and Content-Range: bytes N-M/TOTAL.
  - No OCI-Chunk-Min-Length / -Max-Length header is ever sent.
  - A PATCH cut in the middle (the client's connection dropped after N body
    bytes) leaves the N bytes in the session's storage, but the Location from
    before that PATCH carries offset 0 in its _state, so GET, PATCH and PUT
    there answer 404 BLOB_UPLOAD_INVALID: the session cannot be resumed and a
    new upload must start. Cut before any body byte, the session goes on at the
    same Location (GET: 204, Range: 0-0).
  - Token auth: the challenge is Bearer realm="...",service="..." and, on a
    repository path, scope="repository:NAME:pull" (GET) or ...:pull,push. The
    registry accepts a JWT until exp + 60 s (its leeway), and
    refuses one whose access lacks the repository or action (401). Nothing
    revokes an issued token: TokenServer(registry_lifetime=N) sets exp to
    iat + N - 60 so the registry refuses it N seconds after issue (expires_in
    still reports the nominal lifetime).
  - skopeo 1.9 copies an OCI layout to this registry and back unchanged with
    --preserve-digests. Without it, an image (OCI image config) has its
    uncompressed tar layers gzipped on the way (unless its blob cache knows the
    registry has them already); a Cog weight artifact (config
    application/vnd.cog.weight.config.v1+json, artifactType
    application/vnd.cog.weight.v1, tar layers) is copied unchanged both ways.
"""
import base64
import collections
import fnmatch
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REGISTRY_BIN = os.environ.get("WL_DOCKER_REGISTRY", "/usr/bin/docker-registry")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
START_TIMEOUT = 20.0
HTTP_TIMEOUT = 10.0


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def free_port(host="127.0.0.1"):
    """A port nobody listens on right now (bind to 0, read, close)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def bcrypt_hash(password):
    """A bcrypt hash ("$2...") of `password`: crypt when Python still has it,
    else `htpasswd -nbB` of apache2-utils."""
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # removed in Python 3.13
        h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
        if h and h.startswith("$2"):
            return h
    except (ImportError, AttributeError, OSError):
        pass
    return _htpasswd_hash(password)


def _htpasswd_hash(password):
    exe = shutil.which("htpasswd")
    if exe is None:
        raise RuntimeError("no bcrypt: Python lacks crypt and htpasswd (apache2-utils) is absent")
    out = subprocess.run([exe, "-nbB", "u", password], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=30, check=True).stdout.decode()
    h = out.strip().partition(":")[2]
    if not h.startswith("$2"):
        raise RuntimeError("htpasswd gave no bcrypt hash: %r" % out)
    return h


def basic_auth(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


class _Started:
    """`with X() as x:` starts x, and stops it however the block ends."""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Registry(_Started):
    """docker-registry in a temporary directory.

    auth: None (anonymous), "htpasswd" (Basic, bcrypt entries for `users`) or
      "token" (Bearer tokens from a TokenServer: `token_server` when given, else
      one made from users / access / anonymous / expires_in / registry_lifetime,
      started and stopped with the registry, as .tokens).
    users: {name: password}. access, anonymous, expires_in, registry_lifetime:
      TokenServer options.
    workdir: where the temporary directory goes (default: the system's).
    extra_config: YAML text appended to the generated config.yml.
    """

    def __init__(self, auth=None, users=None, token_server=None, access=None, anonymous=None,
                 expires_in=300, registry_lifetime=None, workdir=None, host="127.0.0.1", start_timeout=START_TIMEOUT,
                 extra_config=""):
        if auth not in (None, "htpasswd", "token"):
            raise ValueError("auth must be None, 'htpasswd' or 'token', not %r" % (auth,))
        self.auth = auth
        self.users = dict({"alice": "secret"} if users is None else users)
        self.host_ip = host
        self.start_timeout = start_timeout
        self.extra_config = extra_config
        self._workdir = workdir
        self._token_opts = {"access": access, "anonymous": anonymous, "expires_in": expires_in,
                            "registry_lifetime": registry_lifetime}
        self.tokens = token_server
        self._own_tokens = False
        self.dir = self.proc = None
        self.url = self.host = None
        self.port = None
        # The helpers' own credentials, never seen by tests: an extra htpasswd
        # user, or tokens minted without a request.
        self._helper = ("wl-helper", hashlib.sha256(os.urandom(16)).hexdigest()[:24])

    # ---- lifecycle ----
    def start(self):
        if self.proc is not None:
            return self
        self.dir = tempfile.mkdtemp(prefix="wlreg-", dir=self._workdir)
        try:
            if self.auth == "token" and self.tokens is None:
                self.tokens = TokenServer(users=self.users, workdir=self.dir, **self._token_opts)
                self._own_tokens = True
            if self.tokens is not None and self.tokens.url is None:
                self.tokens.start()  # a given server not yet started: stopped with us
                self._own_tokens = True
            last = None
            for _ in range(3):  # the port may be taken between free_port() and bind
                self.port = free_port(self.host_ip)
                try:
                    self._launch()
                    break
                except RuntimeError as e:
                    last = e
                    if "address already in use" not in str(e):
                        raise
            else:
                raise last
        except BaseException:
            self.stop()
            raise
        return self

    def _config(self):
        storage = os.path.join(self.dir, "storage")
        os.makedirs(storage, exist_ok=True)
        lines = [
            "version: 0.1",
            "log:",
            "  level: warn",
            "  formatter: text",
            "storage:",
            "  filesystem:",
            "    rootdirectory: %s" % json.dumps(storage),
            "  delete:",
            "    enabled: true",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            "  addr: %s:%d" % (self.host_ip, self.port),
            "  secret: %s" % hashlib.sha256(os.urandom(16)).hexdigest(),
            "health:",
            "  storagedriver:",
            "    enabled: false",
        ]
        if self.auth == "htpasswd":
            path = os.path.join(self.dir, "htpasswd")
            with open(path, "w") as f:
                for user, pw in list(self.users.items()) + [self._helper]:
                    f.write("%s:%s\n" % (user, bcrypt_hash(pw)))
            lines += ["auth:", "  htpasswd:", "    realm: weightslock-test",
                      "    path: %s" % json.dumps(path)]
        elif self.auth == "token":
            t = self.tokens
            lines += ["auth:", "  token:", "    realm: %s" % json.dumps(t.realm),
                      "    service: %s" % json.dumps(t.service),
                      "    issuer: %s" % json.dumps(t.issuer),
                      "    rootcertbundle: %s" % json.dumps(t.cert_path)]
        path = os.path.join(self.dir, "config.yml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n" + self.extra_config)
        return path

    def _launch(self):
        config = self._config()
        self.log_path = os.path.join(self.dir, "registry.log")
        logf = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([REGISTRY_BIN, "serve", config], stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        finally:
            logf.close()
        self.url = "http://%s:%d" % (self.host_ip, self.port)
        self.host = "%s:%d" % (self.host_ip, self.port)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                status = self._raw("GET", "/v2/")[0]
                if status in (200, 401):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        rc = self.proc.poll()
        self._kill()
        why = ("exited with status %d" % rc) if rc is not None else \
            ("did not answer GET /v2/ within %.0f s" % self.start_timeout)
        raise RuntimeError("docker-registry on %s %s; its log:\n%s" % (self.host, why, self.log()))

    def _kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def stop(self):
        self._kill()
        if self.tokens is not None and self._own_tokens:
            self.tokens.stop()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def log(self):
        """What the registry printed (warnings, errors and its access log)."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, AttributeError):
            return ""

    # ---- helpers for tests ----
    def blob_path(self, digest):
        """The file holding blob `digest` in the registry's storage (may not exist)."""
        algo, _, hexd = digest.partition(":")
        return os.path.join(self.dir, "storage", "docker", "registry", "v2", "blobs", algo,
                            hexd[:2], hexd, "data")

    def upload_size(self, repo, uuid):
        """Bytes the registry holds for upload session `uuid` of `repo` (None: no session)."""
        path = os.path.join(self.dir, "storage", "docker", "registry", "v2", "repositories",
                            repo, "_uploads", uuid, "data")
        try:
            return os.path.getsize(path)
        except OSError:
            return None

    def _helper_auth(self, repo, actions="pull"):
        if self.auth == "htpasswd":
            return basic_auth(*self._helper)
        if self.auth == "token":
            return "Bearer " + self.tokens.mint(self._helper[0], [("repository", repo, actions)])
        return None

    def _raw(self, method, path, headers=None, body=None):
        """(status, headers, body) of one request straight to the registry."""
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers=dict(headers or {}))
        try:
            with _NO_REDIRECT.open(req, timeout=HTTP_TIMEOUT) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.headers, e.read()

    def _get(self, repo, path, headers=None, method="GET"):
        h = dict(headers or {})
        auth = self._helper_auth(repo)
        if auth:
            h["Authorization"] = auth
        return self._raw(method, "/v2/%s/%s" % (repo, path), h)

    def blob_exists(self, repo, digest):
        status, _, body = self._get(repo, "blobs/" + digest, method="HEAD")
        if status not in (200, 404):
            raise RuntimeError("HEAD blob %s: %d %r" % (digest, status, body[:200]))
        return status == 200

    def get_blob(self, repo, digest):
        status, _, body = self._get(repo, "blobs/" + digest)
        if status != 200:
            raise RuntimeError("GET blob %s: %d %r" % (digest, status, body[:200]))
        return body

    def get_manifest(self, repo, ref, accept=OCI_MANIFEST):
        """(bytes, headers) of manifest `ref` (tag or digest), asked for with `accept`."""
        status, headers, body = self._get(repo, "manifests/" + ref, {"Accept": accept})
        if status != 200:
            raise RuntimeError("GET manifest %s:%s: %d %r" % (repo, ref, status, body[:300]))
        return body, headers

    def tags(self, repo):
        """The repository's tags ([] when it has none or does not exist)."""
        status, _, body = self._get(repo, "tags/list")
        if status == 404:
            return []
        if status != 200:
            raise RuntimeError("GET tags of %s: %d %r" % (repo, status, body[:200]))
        return json.loads(body).get("tags") or []


# ---- the Docker token protocol ----

REGISTRY_LEEWAY = 60  # seconds distribution 2.8 allows past exp (and before nbf)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def der_ecdsa_to_raw(der, size=32):
    """The JWS form (r || s, `size` bytes each) of a DER ECDSA-Sig-Value."""
    def read_len(buf, i):
        n = buf[i]
        if n < 0x80:
            return n, i + 1
        k = n & 0x7F
        return int.from_bytes(buf[i + 1:i + 1 + k], "big"), i + 1 + k

    if not der or der[0] != 0x30:
        raise ValueError("not a DER SEQUENCE")
    total, i = read_len(der, 1)
    if i + total != len(der):
        raise ValueError("DER SEQUENCE length %d does not match %d bytes" % (total, len(der) - i))
    out = b""
    for _ in range(2):
        if der[i] != 0x02:
            raise ValueError("not a DER INTEGER at %d" % i)
        n, i = read_len(der, i + 1)
        value = int.from_bytes(der[i:i + n], "big")
        i += n
        out += value.to_bytes(size, "big")
    if i != len(der):
        raise ValueError("trailing bytes after the signature")
    return out


def parse_scope(scope):
    """("repository", "org/name", ["pull", "push"]) of "repository:org/name:pull,push"
    (the name may itself hold ':', as in host:port/name)."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name:
        raise ValueError("bad scope %r" % scope)
    return kind, name, [a for a in actions.split(",") if a]


class TokenRequest:
    """One request to the token server: method, user (the Basic user name, None
    without credentials), creds_sent, authenticated (the password was right),
    scopes (as sent), service, granted (the token's access claim), status."""

    def __init__(self, method, path, headers):
        self.method, self.path, self.headers = method, path, headers
        self.user = None
        self.creds_sent = self.authenticated = False
        self.scopes, self.service, self.granted, self.status = [], None, [], None

    def __repr__(self):
        return "TokenRequest(%s user=%s scopes=%s -> %s)" % (self.method, self.user, self.scopes,
                                                              self.status)


class TokenServer(_Started):
    """A Docker token server (GET realm?service=&scope=..., and the OAuth2 POST form),
    issuing ES256 JWTs signed by openssl with a self-signed P-256 certificate in
    the header's x5c. The registry trusts that certificate (rootcertbundle).

    users: {name: password}; a wrong password, or no credentials when anonymous
      is None, answers 401.
    access: {user: actions} where actions is a list (for every repository) or
      {repository or fnmatch pattern: list}; users not named get ["pull", "push"].
      A token grants, per requested scope, the requested actions the user has.
    anonymous: what a request without credentials gets (same forms), or None.
    expires_in: seconds reported, and the JWT's exp = iat + expires_in.
    registry_lifetime: when set, exp is iat + registry_lifetime - 60 instead, so that
      the registry, which accepts a token until exp + 60 s (its leeway), refuses it
      registry_lifetime seconds after it was issued. Both may be changed at any time.

    A JWT cannot be revoked: the registry checks only its signature, issuer,
    audience, times and access. To make "the token expired" happen in a test,
    use registry_lifetime (a few seconds) or a FaultProxy 401 fault.
    """

    def __init__(self, users=None, access=None, anonymous=None, expires_in=300,
                 registry_lifetime=None, service="weightslock-test-registry",
                 issuer="weightslock-test-issuer", workdir=None, host="127.0.0.1"):
        self.users = dict({"alice": "secret"} if users is None else users)
        self.access = dict(access or {})
        self.anonymous = anonymous
        self.expires_in = expires_in
        self.registry_lifetime = registry_lifetime
        self.service, self.issuer, self.host_ip = service, issuer, host
        self._workdir = workdir
        self._lock = threading.Lock()
        self._requests = []
        self._faults = []
        self._server = self._thread = None
        self._own_dir = None
        self.url = self.realm = None
        self.key_path = self.cert_path = None
        self._make_key()

    def _make_key(self):
        d = tempfile.mkdtemp(prefix="wltoken-", dir=self._workdir)
        self._own_dir = d
        self.key_path = os.path.join(d, "token.key")
        self.cert_path = os.path.join(d, "token.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=token", "-days", "2",
                        "-keyout", self.key_path, "-out", self.cert_path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30, check=True)
        with open(self.cert_path) as f:
            pem = f.read()
        body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
        self.cert_der = base64.b64decode("".join(body.split()))

    # ---- lifecycle ----
    def start(self):
        if self._server is not None:
            return self
        self._server = ThreadingHTTPServer((self.host_ip, 0), _TokenHandler)
        self._server.daemon_threads = True
        self._server.tokens = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, name="tokens", daemon=True)
        self._thread.start()
        self.url = "http://%s:%d" % (self.host_ip, self._server.server_address[1])
        self.realm = self.url + "/token"
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None
        if self._own_dir:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    # ---- tokens ----
    def sign(self, claims):
        """A compact JWS (ES256, x5c) of the claims dict."""
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key_path],
                           input=signing_input.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30, check=True)
        return signing_input + "." + b64url(der_ecdsa_to_raw(p.stdout))

    def claims(self, subject, access, now=None, exp=None):
        now = int(time.time()) if now is None else now
        if exp is None:
            life = self.registry_lifetime
            exp = now + (self.expires_in if life is None else life - REGISTRY_LEEWAY)
        return {"iss": self.issuer, "sub": subject or "", "aud": self.service, "exp": exp,
                "nbf": now, "iat": now, "jti": hashlib.sha256(os.urandom(16)).hexdigest()[:32],
                "access": access}

    def mint(self, subject, scopes, exp=None):
        """A token granting exactly `scopes` ([(type, name, actions)], actions a list
        or "a,b"), made without a request (not counted). exp: an absolute time."""
        access = [{"type": t, "name": n, "actions": a.split(",") if isinstance(a, str) else list(a)}
                  for t, n, a in scopes]
        return self.sign(self.claims(subject, access, exp=exp))

    def allowed(self, user, name):
        """The actions `user` (None: anonymous) has on repository `name`."""
        rule = self.anonymous if user is None else self.access.get(user, ["pull", "push"])
        if rule is None:
            return []
        if isinstance(rule, dict):
            for pattern, actions in rule.items():
                if fnmatch.fnmatchcase(name, pattern):
                    return list(actions)
            return []
        return list(rule)

    def grant(self, user, scopes):
        out = []
        for s in scopes:
            try:
                kind, name, actions = parse_scope(s)
            except ValueError:
                continue
            have = self.allowed(user, name) if kind == "repository" else []
            out.append({"type": kind, "name": name,
                        "actions": [a for a in actions if a in have or ("*" in have)]})
        return out

    # ---- faults and what happened ----
    def fail(self, status, count=1):
        """The next `count` token requests answer `status` (429/503 with Retry-After: 1)."""
        with self._lock:
            self._faults.append([status, count])

    def _take_fault(self):
        with self._lock:
            for f in self._faults:
                if f[1] > 0:
                    f[1] -= 1
                    return f[0]
        return None

    def _record(self, req):
        with self._lock:
            self._requests.append(req)

    @property
    def requests(self):
        with self._lock:
            return list(self._requests)

    def count(self, user=False, creds_sent=None, status=None):
        """Requests, optionally only those of `user` (None: anonymous), with or
        without credentials, or with one status."""
        return sum(1 for r in self.requests if (user is False or r.user == user)
                   and (creds_sent is None or r.creds_sent == creds_sent)
                   and (status is None or r.status == status))

    def reset_log(self):
        with self._lock:
            self._requests.clear()


class _TokenHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "WLTokens/1"
    timeout = 10

    def log_message(self, *args):
        pass

    def _json(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.req.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._handle(None)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode("utf-8", "replace")) if n else {}
        self._handle(form)

    def _handle(self, form):
        t = self.server.tokens
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        self.req = req = TokenRequest(self.command, self.path,
                                      {k.lower(): v for k, v in self.headers.items()})
        t._record(req)
        if url.path != "/token":
            return self._json(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]})
        fault = t._take_fault()
        if fault is not None:
            extra = [("Retry-After", "1")] if fault in (429, 503) else []
            return self._json(fault, {"errors": [{"code": "FAULT", "message": "injected"}]}, extra)
        user = password = None
        if form is not None:  # OAuth2 form (POST)
            if form.get("grant_type", [""])[0] != "password":
                return self._json(400, {"error": "unsupported_grant_type"})
            user, password = form.get("username", [None])[0], form.get("password", [""])[0]
            req.scopes = " ".join(form.get("scope", [])).split()
            req.service = form.get("service", [None])[0]
        else:
            req.scopes = q.get("scope", [])
            req.service = q.get("service", [None])[0]
            auth = self.headers.get("Authorization") or ""
            if auth[:6].lower() == "basic ":
                try:
                    user, _, password = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
                except (ValueError, UnicodeDecodeError):
                    return self._json(400, {"errors": [{"code": "BAD_AUTH", "message": "bad Basic"}]})
        req.user, req.creds_sent = user, user is not None
        if req.service != t.service:
            return self._json(400, {"errors": [{"code": "INVALID_SERVICE",
                                                "message": "unknown service %r" % req.service}]})
        if user is not None:
            if t.users.get(user) != password:
                return self._json(401, {"errors": [{"code": "UNAUTHORIZED",
                                                    "message": "authentication failed"}]},
                                  [("WWW-Authenticate", 'Basic realm="weightslock-test-tokens"')])
            req.authenticated = True
        elif t.anonymous is None:
            return self._json(401, {"errors": [{"code": "UNAUTHORIZED",
                                                "message": "authentication required"}]},
                              [("WWW-Authenticate", 'Basic realm="weightslock-test-tokens"')])
        req.granted = t.grant(user, req.scopes)
        now = int(time.time())
        token = t.sign(t.claims(user, req.granted, now=now))
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        if form is not None:
            return self._json(200, {"access_token": token, "expires_in": t.expires_in,
                                    "issued_at": issued, "scope": " ".join(req.scopes)})
        self._json(200, {"token": token, "access_token": token, "expires_in": t.expires_in,
                         "issued_at": issued})


# ---- a fault-injecting reverse proxy ----

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
              "upgrade", "proxy-authenticate", "proxy-authorization", "expect", "content-length",
              "host"}
PROXY_KINDS = ("blob", "manifest", "upload", "token", "v2", "other")
COPY_CHUNK = 65536
REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 408: "Request Timeout",
           413: "Payload Too Large", 429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 307: "Temporary Redirect"}
_REPO_RE = re.compile(r"^/v2/(.+?)/(?:blobs|manifests|tags)/")


def classify(path):
    """The kind of a request path: blob, manifest, upload, token, v2 or other."""
    p = path.split("?", 1)[0]
    if p == "/token" or p.startswith("/token/"):
        return "token"
    if p in ("/v2", "/v2/"):
        return "v2"
    if not p.startswith("/v2/"):
        return "other"
    if re.match(r"^/v2/.+/blobs/uploads(/|$)", p):
        return "upload"
    m = re.match(r"^/v2/.+/(blobs|manifests)/[^/]+$", p)
    if m:
        return "blob" if m.group(1) == "blobs" else "manifest"
    return "other"


class ProxyRequest:
    """One request to the proxy ("proxy") or to its redirect target ("cdn"):
    method, path (with query), kind, headers (lower-case names), status (None
    when no answer was sent), sent (response body bytes sent), received
    (request body bytes read), fault (the fault applied, or None)."""

    def __init__(self, server, method, path, headers):
        self.server, self.method, self.path = server, method, path
        self.kind = "blob" if server == "cdn" else classify(path)
        self.headers = headers
        self.status = None
        self.sent = self.received = 0
        self.fault = None

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "ProxyRequest(%s %s %s -> %s%s)" % (self.server, self.method, self.path[:80], self.status,
                                                   " fault=" + self.fault if self.fault else "")


class _Body:
    """The request body of a handler, read as it comes (Content-Length or chunked);
    a deferred "100 Continue" is sent before the first read."""

    def __init__(self, handler):
        self.h = handler
        te = (handler.headers.get("Transfer-Encoding") or "").lower()
        self.chunked = "chunked" in te
        self.left = 0 if self.chunked else int(handler.headers.get("Content-Length") or 0)
        self.chunk_left = 0
        self.done = not self.chunked and self.left == 0
        self.expect = (handler.headers.get("Expect") or "").lower() == "100-continue"
        self.read_bytes = 0

    @property
    def present(self):
        return self.chunked or self.left > 0

    def _continue(self):
        if self.expect:
            self.expect = False
            self.h.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.h.wfile.flush()

    def read(self, n=COPY_CHUNK):
        if self.done:
            return b""
        self._continue()
        rf = self.h.rfile
        if not self.chunked:
            data = rf.read(min(n, self.left))
            if not data:
                raise ConnectionError("client closed the request body early")
            self.left -= len(data)
            self.done = self.left == 0
        else:
            if self.chunk_left == 0:
                line = rf.readline(1024)
                if not line:
                    raise ConnectionError("client closed a chunked body early")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while rf.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    self.done = True
                    return b""
                self.chunk_left = size
            data = rf.read(min(n, self.chunk_left))
            if not data:
                raise ConnectionError("client closed a chunked body early")
            self.chunk_left -= len(data)
            if self.chunk_left == 0:
                rf.readline(16)
        self.read_bytes += len(data)
        return data


class FaultProxy(_Started):
    """An HTTP/1.1 reverse proxy in front of a registry, with injectable faults.

    upstream: a Registry (its URL, its storage for the redirect target, and its
      token server, which the proxy then fronts at /token) or a URL.
    blob_path: digest -> file, how the redirect target finds blob bytes; without
      it (and without a Registry) the target fetches them from upstream with
      `cdn_upstream_auth` as Authorization.
    proxy_tokens: route /token to the upstream's token server and rewrite the
      realm of WWW-Authenticate to point at the proxy (token requests are then
      counted and can be faulted like any other).
    """

    def __init__(self, upstream, blob_path=None, proxy_tokens=True, cdn_upstream_auth=None,
                 host="127.0.0.1", timeout=60):
        if isinstance(upstream, Registry):
            self.upstream = upstream.url
            blob_path = blob_path or upstream.blob_path
            tokens = upstream.tokens
            self.token_upstream = tokens.url if (tokens is not None and proxy_tokens) else None
        else:
            self.upstream = upstream.rstrip("/")
            self.token_upstream = None
        self.blob_path = blob_path
        self.cdn_upstream_auth = cdn_upstream_auth
        self.host_ip, self.timeout = host, timeout
        self._lock = threading.Lock()
        self._requests = []
        self._faults = []
        self._limit = None
        self._bytes = {}
        self._servers, self._threads = [], []
        self._conns = set()
        self._stopping = threading.Event()
        self.url = self.host = self.cdn_url = None

    # ---- lifecycle ----
    def start(self):
        if self._servers:
            return self
        self._stopping.clear()
        for role in ("proxy", "cdn"):
            srv = ThreadingHTTPServer((self.host_ip, 0), _ProxyHandler)
            srv.daemon_threads = True
            srv.block_on_close = False
            srv.proxy, srv.role = self, role
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                                 name="faultproxy-" + role, daemon=True)
            self._servers.append(srv)
            self._threads.append(t)
            t.start()
        port = self._servers[0].server_address[1]
        self.url = "http://%s:%d" % (self.host_ip, port)
        self.host = "%s:%d" % (self.host_ip, port)
        self.cdn_url = "http://%s:%d" % (self.host_ip, self._servers[1].server_address[1])
        return self

    def stop(self):
        self._stopping.set()
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=5)
        self._servers, self._threads = [], []

    # ---- faults ----
    def _add(self, action, method, path_re, count, **params):
        f = {"action": action, "method": method.upper() if method else None,
             "path_re": re.compile(path_re) if path_re else None, "left": count}
        f.update(params)
        with self._lock:
            self._faults.append(f)

    def drop_request(self, after, method=None, path_re=None, count=1):
        """Forward `after` bytes of the request body upstream, then close both
        connections (a PATCH cut in the middle)."""
        self._add("drop_request", method, path_re, count, after=int(after))

    def drop_response(self, after, method=None, path_re=None, count=1):
        """Send the upstream's status and headers and `after` bytes of its body,
        then close the connection (a blob GET cut in the middle)."""
        self._add("drop_response", method, path_re, count, after=int(after))

    def stall_response(self, after, seconds, method=None, path_re=None, count=1):
        """Send the upstream's status and headers and `after` bytes of its body,
        then send nothing more for `seconds` before closing (a transfer that
        hangs, for a client to be killed in the middle of it)."""
        self._add("stall_response", method, path_re, count, after=int(after), seconds=float(seconds))

    def fail(self, status, method=None, path_re=None, count=1, retry_after=None, challenge=None):
        """Answer `status` without asking upstream, with a registry-style JSON
        error. 429 and 503 carry Retry-After: 1 unless retry_after says otherwise
        ("" omits it). 401 carries a challenge: `challenge`, else the upstream's
        (Basic, or Bearer with this request's scope), else Basic realm="fault-proxy"."""
        if retry_after is None:
            retry_after = "1" if status in (429, 503) else ""
        self._add("fail", method, path_re, count, status=int(status), retry_after=str(retry_after),
                  challenge=challenge)

    def delay(self, seconds, method=None, path_re=None, count=1, after_upstream=False):
        """Hold the request `seconds` before forwarding it, or (after_upstream)
        forward it, then hold the upstream's answer that long before sending it."""
        self._add("delay", method, path_re, count, seconds=float(seconds),
                  after_upstream=bool(after_upstream))

    def ignore_range(self, method="GET", path_re=None, count=1):
        """Forward the request without its Range and If-Range headers: the
        upstream answers 200 with the whole body where 206 was asked."""
        self._add("ignore_range", method, path_re, count)

    def redirect_blobs(self, count=1, status=307):
        """Answer blob GETs with `status` and Location on the redirect target
        (cdn_url), which refuses with 400 any request carrying Authorization."""
        self._add("redirect", "GET", r"^/v2/.+/blobs/sha256:[0-9a-f]{64}(\?|$)", count,
                  status=int(status))

    def limit_body(self, max_bytes, method=None, path_re=None):
        """While set, a request whose body is (or grows) over max_bytes is answered
        413, like a proxy that refuses big bodies. None lifts the limit."""
        with self._lock:
            self._limit = None if max_bytes is None else {
                "max": int(max_bytes), "method": method.upper() if method else None,
                "path_re": re.compile(path_re) if path_re else None}

    def clear_faults(self):
        with self._lock:
            self._faults.clear()
            self._limit = None

    def _match(self, f, method, path):
        return (f["method"] in (None, method)) and (f["path_re"] is None or f["path_re"].search(path))

    def _take_fault(self, method, path):
        with self._lock:
            for f in self._faults:
                if f["left"] is not None and f["left"] <= 0:
                    continue
                if self._match(f, method, path):
                    if f["left"] is not None:
                        f["left"] -= 1
                    return dict(f)
        return None

    def _body_limit(self, method, path):
        with self._lock:
            lim = self._limit
        return lim["max"] if lim and self._match(lim, method, path) else None

    # ---- what happened ----
    @property
    def requests(self):
        with self._lock:
            return list(self._requests)

    @property
    def counts(self):
        """{(method, kind): requests to the proxy} (a Counter: absent keys are 0)."""
        return collections.Counter((r.method, r.kind) for r in self.requests if r.server == "proxy")

    def count(self, kind=None, method=None, status=None, server="proxy"):
        return sum(1 for r in self.requests if r.server == server
                   and (kind is None or r.kind == kind) and (method is None or r.method == method)
                   and (status is None or r.status == status))

    @property
    def bytes_sent(self):
        """{path without query: response body bytes sent}, the redirect target's
        paths (/cdn/...) included."""
        with self._lock:
            return dict(self._bytes)

    def sent_matching(self, path_re):
        rx = re.compile(path_re)
        return sum(n for p, n in self.bytes_sent.items() if rx.search(p))

    def with_authorization(self, server="cdn"):
        """Requests to `server` that carried an Authorization header."""
        return [r for r in self.requests if r.server == server and "authorization" in r.headers]

    def reset_log(self):
        with self._lock:
            self._requests.clear()
            self._bytes.clear()

    def _record(self, req):
        with self._lock:
            self._requests.append(req)

    def _sent(self, req, n):
        req.sent += n
        key = req.path.split("?", 1)[0]
        with self._lock:
            self._bytes[key] = self._bytes.get(key, 0) + n

    # ---- rewriting ----
    def _rewrite(self, name, value):
        lname = name.lower()
        if lname == "location" and value.startswith(self.upstream):
            return self.url + value[len(self.upstream):]
        if lname == "www-authenticate" and self.token_upstream:
            return value.replace(self.token_upstream, self.url)
        return value

    def challenge_for(self, method, path):
        """The WWW-Authenticate the upstream would send to `method path` unauthenticated."""
        try:
            u = urllib.parse.urlsplit(self.upstream)
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
            c.request("GET", "/v2/")
            r = c.getresponse()
            r.read()
            value = r.headers.get("WWW-Authenticate")
            c.close()
        except OSError:
            value = None
        if not value:
            return 'Basic realm="fault-proxy"'
        value = self._rewrite("WWW-Authenticate", value)
        m = _REPO_RE.match(path.split("?", 1)[0])
        if value.startswith("Bearer ") and m:
            actions = "pull" if method in ("GET", "HEAD") else "pull,push"
            value += ',scope="repository:%s:%s"' % (m.group(1), actions)
        return value


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FaultProxy/1"
    timeout = 60

    def log_message(self, *args):
        pass

    def handle_expect_100(self):
        return True  # sent by _Body when the body is wanted

    def setup(self):
        super().setup()
        with self.server.proxy._lock:
            self.server.proxy._conns.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            with self.server.proxy._lock:
                self.server.proxy._conns.discard(self.connection)

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, socket.timeout, OSError):
            self.close_connection = True

    def _dispatch(self):
        p = self.server.proxy
        self.req = ProxyRequest(self.server.role, self.command, self.path,
                                {k.lower(): v for k, v in self.headers.items()})
        p._record(self.req)
        self.body = _Body(self)
        if self.server.role == "cdn":
            return self._cdn()
        return self._proxy()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    # ---- answering ----
    def _answer(self, status, headers=(), body=b""):
        self.req.status = status
        self.send_response_only(status, REASONS.get(status))
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if not self.body.done:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
            self.server.proxy._sent(self.req, len(body))
        self.wfile.flush()
        if not self.body.done:
            self._linger()

    def _error(self, status, code, message, headers=()):
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self._answer(status, [("Content-Type", "application/json; charset=utf-8")] + list(headers), body)

    def _linger(self):
        """The request body was not read: close after the answer, reading and
        discarding what the client still sends for a short while (unless it
        waits for 100 Continue) so that it gets to read the answer."""
        self.close_connection = True
        if self.body.expect:
            return
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(1.0)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and self.connection.recv(COPY_CHUNK):
                pass
        except OSError:
            pass

    def _hang_up(self):
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- the proxy ----
    def _proxy(self):
        p, req = self.server.proxy, self.req
        path, method = self.path, self.command
        self.prebuffered = None
        limit = p._body_limit(method, path)
        if limit is not None and not self.body.chunked and self.body.left > limit:
            req.fault = "limit_body"
            return self._error(413, "SIZE_INVALID", "request body over %d bytes" % limit)
        if limit is not None and self.body.chunked:
            # A chunked body is held (up to the limit) before anything goes upstream.
            buf = bytearray()
            while not self.body.done and len(buf) <= limit:
                buf += self.body.read()
            if len(buf) > limit:
                req.fault = "limit_body"
                return self._error(413, "SIZE_INVALID", "request body over %d bytes" % limit)
            self.prebuffered = bytes(buf)
        fault = p._take_fault(method, path)
        if fault:
            req.fault = fault["action"]
            if fault["action"] == "fail":
                st = fault["status"]
                extra = [("Retry-After", fault["retry_after"])] if fault["retry_after"] else []
                if st == 401:
                    extra.append(("WWW-Authenticate", fault["challenge"] or p.challenge_for(method, path)))
                code = {401: "UNAUTHORIZED", 429: "TOOMANYREQUESTS"}.get(st, "UNKNOWN")
                return self._error(st, code, "injected fault %d" % st, extra)
            if fault["action"] == "redirect":
                loc = "%s/cdn%s" % (p.cdn_url, path)
                return self._answer(fault["status"], [("Location", loc)])
            if fault["action"] == "delay" and not fault["after_upstream"]:
                p._stopping.wait(fault["seconds"])
        target = p.token_upstream if (req.kind == "token" and p.token_upstream) else p.upstream
        u = urllib.parse.urlsplit(target)
        up = http.client.HTTPConnection(u.hostname, u.port, timeout=p.timeout)
        try:
            self._forward(up, u, fault, limit)
        except (ConnectionError, socket.timeout, OSError, http.client.HTTPException):
            if req.status is None:
                self._hang_up()
        finally:
            up.close()

    def _pieces(self):
        if self.prebuffered is not None:
            if self.prebuffered:
                yield self.prebuffered
            return
        while not self.body.done:
            data = self.body.read()
            if not data:
                return
            yield data

    def _forward(self, up, u, fault, limit):
        p, req, body = self.server.proxy, self.req, self.body
        chunked = body.chunked and self.prebuffered is None
        up.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        up.putheader("Host", u.netloc)
        strip = ("range", "if-range") if fault and fault["action"] == "ignore_range" else ()
        for k, v in self.headers.items():
            if k.lower() not in HOP_BY_HOP and k.lower() not in strip:
                up.putheader(k, v)
        if chunked:
            up.putheader("Transfer-Encoding", "chunked")
        elif self.prebuffered is not None:
            up.putheader("Content-Length", str(len(self.prebuffered)))
        elif body.present or self.command in ("POST", "PUT", "PATCH"):
            up.putheader("Content-Length", str(body.left))
        up.endheaders()
        drop_at = fault["after"] if fault and fault["action"] == "drop_request" else None
        sent_up = 0
        for data in self._pieces():
            if drop_at is not None and sent_up + len(data) >= drop_at:
                self._up_send(up, data[:drop_at - sent_up], chunked)
                req.received = body.read_bytes
                up.close()
                return self._hang_up()
            self._up_send(up, data, chunked)
            sent_up += len(data)
        if chunked:
            up.send(b"0\r\n\r\n")
        req.received = body.read_bytes
        resp = up.getresponse()
        if fault and fault["action"] == "delay" and fault["after_upstream"]:
            p._stopping.wait(fault["seconds"])
        cut = fault if fault and fault["action"] in ("drop_response", "stall_response") else None
        self._relay(resp, cut["after"] if cut else None, cut["seconds"] if cut and "seconds" in cut else 0)

    @staticmethod
    def _up_send(up, data, chunked):
        if not data:
            return
        up.send(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)

    def _relay(self, resp, drop_at, stall=0):
        p, req = self.server.proxy, self.req
        req.status = resp.status
        self.send_response_only(resp.status, resp.reason)
        length = None
        for k, v in resp.getheaders():
            lk = k.lower()
            if lk == "content-length":
                length = v
            if lk in HOP_BY_HOP:
                continue
            self.send_header(k, p._rewrite(k, v))
        no_body = self.command == "HEAD" or resp.status in (204, 304) or resp.status < 200
        chunked = False
        if length is not None:
            self.send_header("Content-Length", length)
        elif not no_body:
            chunked = True
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if no_body:
            self.wfile.flush()
            return
        while True:
            data = resp.read(COPY_CHUNK)
            if not data:
                break
            if drop_at is not None and req.sent + len(data) >= drop_at:
                data = data[:drop_at - req.sent]
                self.wfile.write(data)
                p._sent(req, len(data))
                if stall:
                    self.wfile.flush()
                    p._stopping.wait(stall)
                return self._hang_up()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            p._sent(req, len(data))
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        if drop_at is not None:  # the body was shorter than the cut: cut after it
            self._hang_up()

    # ---- the redirect target ----
    def _cdn(self):
        p, req = self.server.proxy, self.req
        if "authorization" in req.headers:
            return self._error(400, "UNSUPPORTED", "Authorization sent to a redirect target")
        path = self.path.split("?", 1)[0]
        m = re.match(r"^/cdn(/v2/.+/blobs/(sha256:[0-9a-f]{64}))$", path)
        if self.command not in ("GET", "HEAD") or not m:
            return self._error(404, "NOT_FOUND", "no such object")
        f = None
        if p.blob_path is not None:
            try:
                f = open(p.blob_path(m.group(2)), "rb")
            except OSError:
                return self._error(404, "BLOB_UNKNOWN", "blob unknown")
        else:
            f = self._cdn_fetch(m.group(1))
            if f is None:
                return
        with f:
            f.seek(0, os.SEEK_END)
            total = f.tell()
            start, end, status = 0, total, 200
            mr = re.match(r"^bytes=(\d+)-(\d*)$", (self.headers.get("Range") or "").strip())
            headers = [("Content-Type", "application/octet-stream"), ("Accept-Ranges", "bytes")]
            if mr:
                start = int(mr.group(1))
                if start >= total:
                    return self._answer(416, headers + [("Content-Range", "bytes */%d" % total)])
                end = min(int(mr.group(2)) + 1, total) if mr.group(2) else total
                status = 206
                headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end - 1, total)))
            req.status = status
            self.send_response_only(status, "OK" if status == 200 else "Partial Content")
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(end - start))
            self.end_headers()
            if self.command == "HEAD":
                return self.wfile.flush()
            f.seek(start)
            left = end - start
            while left > 0:
                data = f.read(min(COPY_CHUNK, left))
                if not data:
                    return self._hang_up()
                self.wfile.write(data)
                p._sent(req, len(data))
                left -= len(data)
            self.wfile.flush()

    def _cdn_fetch(self, upstream_path):
        """The blob from upstream, in a temporary file (None: an error was sent)."""
        p = self.server.proxy
        u = urllib.parse.urlsplit(p.upstream)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=p.timeout)
        try:
            c.request("GET", upstream_path, headers={"Authorization": p.cdn_upstream_auth}
                      if p.cdn_upstream_auth else {})
            r = c.getresponse()
            if r.status != 200:
                r.read()
                self._error(502, "UPSTREAM", "upstream answered %d" % r.status)
                return None
            f = tempfile.TemporaryFile()
            while True:
                data = r.read(COPY_CHUNK)
                if not data:
                    break
                f.write(data)
            return f
        finally:
            c.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_NO_REDIRECT = urllib.request.build_opener(_NoRedirect)


def write_oci_layout(root, tag, layers, config=None, config_media_type=OCI_CONFIG,
                     layer_media_type=OCI_LAYER, artifact_type=None, annotations=None):
    """Writes an OCI image layout at `root` holding one image manifest tagged `tag`.

    layers: list of bytes. config: the config blob's bytes; by default a plain
    image config (amd64/linux, one diff_id per layer, taken as uncompressed tars).
    Returns {"manifest": bytes, "digest": ..., "config": (digest, bytes),
    "layers": [(digest, bytes)]}.
    """
    blobs = os.path.join(root, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data):
        d = sha256_digest(data)
        with open(os.path.join(blobs, d[7:]), "wb") as f:
            f.write(data)
        return d

    layer_list = [(put(b), bytes(b)) for b in layers]
    if config is None:
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": [d for d, _ in layer_list]}},
                            separators=(",", ":")).encode()
    config_digest = put(config)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if artifact_type:
        manifest["artifactType"] = artifact_type
    manifest["config"] = {"mediaType": config_media_type, "size": len(config), "digest": config_digest}
    manifest["layers"] = [{"mediaType": layer_media_type, "size": len(b), "digest": d}
                          for d, b in layer_list]
    if annotations:
        manifest["annotations"] = dict(annotations)
    mbytes = json.dumps(manifest, separators=(",", ":")).encode()
    mdigest = put(mbytes)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX,
             "manifests": [{"mediaType": OCI_MANIFEST, "size": len(mbytes), "digest": mdigest,
                            "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(index, f)
    return {"manifest": mbytes, "digest": mdigest, "config": (config_digest, config),
            "layers": layer_list}


def read_oci_layout(root, tag=None):
    """(manifest bytes, {digest: blob bytes}) of the manifest tagged `tag` (or the
    only one) in the layout at `root`."""
    with open(os.path.join(root, "index.json")) as f:
        index = json.load(f)
    descs = index["manifests"]
    if tag is not None:
        descs = [d for d in descs if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
    if len(descs) != 1:
        raise ValueError("want one manifest tagged %r in %s, found %d" % (tag, root, len(descs)))

    def blob(d):
        with open(os.path.join(root, "blobs", *d.split(":", 1)), "rb") as f:
            return f.read()

    mbytes = blob(descs[0]["digest"])
    m = json.loads(mbytes)
    out = {m["config"]["digest"]: blob(m["config"]["digest"])}
    for layer in m["layers"]:
        out[layer["digest"]] = blob(layer["digest"])
    return mbytes, out


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="Run docker-registry on a free port until interrupted.")
    ap.add_argument("--auth", choices=("none", "htpasswd", "token"), default="none")
    ap.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD")
    args = ap.parse_args(argv)
    users = dict(u.split(":", 1) for u in args.user) or None
    with Registry(auth=None if args.auth == "none" else args.auth, users=users) as reg:
        print("registry %s (storage %s)" % (reg.url, reg.dir), flush=True)
        if reg.tokens is not None:
            print("token realm %s" % reg.tokens.realm, flush=True)
        try:
            while reg.proc.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
