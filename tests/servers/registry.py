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
        reg.log()                                            # the registry's output
    layout = write_oci_layout(DIR, "v1", [b"layer bytes"])   # for skopeo copy oci:DIR:v1

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
"""
import base64
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

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


class Registry:
    """docker-registry in a temporary directory.

    auth: None (anonymous), "htpasswd" (Basic, bcrypt entries for `users`) or
      "token" (Bearer tokens from a TokenServer: `token_server` when given, else
      one made from users / access / anonymous / expires_in).
    users: {name: password}. access / anonymous / expires_in: TokenServer options.
    workdir: where the temporary directory goes (default: the system's).
    extra_config: YAML text appended to the generated config.yml.
    """

    def __init__(self, auth=None, users=None, token_server=None, access=None, anonymous=None,
                 expires_in=300, workdir=None, host="127.0.0.1", start_timeout=START_TIMEOUT,
                 extra_config=""):
        if auth not in (None, "htpasswd", "token"):
            raise ValueError("auth must be None, 'htpasswd' or 'token', not %r" % (auth,))
        self.auth = auth
        self.users = dict({"alice": "secret"} if users is None else users)
        self.host_ip = host
        self.start_timeout = start_timeout
        self.extra_config = extra_config
        self._workdir = workdir
        self._token_opts = {"access": access, "anonymous": anonymous, "expires_in": expires_in}
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
            if self.tokens is not None and self._own_tokens:
                self.tokens.start()
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

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

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
