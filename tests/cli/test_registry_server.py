"""The registry of tests/servers/registry.py (a real docker-registry), checked with
skopeo and plain HTTP (no weightslock binary): what the registry client's tests
rely on, including the registry facts listed in that module's docstring."""
import hashlib
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse

from wltest import expect, write

SERVERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "servers")
if SERVERS not in sys.path:
    sys.path.insert(0, SERVERS)

from registry import (DOCKER_MANIFEST, OCI_MANIFEST, Registry, basic_auth,  # noqa: E402
                      read_oci_layout, sha256_digest, write_oci_layout)

TIMEOUT = 10
ALICE = ("alice", "secret")


def ok(cond, *ctx):
    expect(cond, "", *ctx)


def skopeo(tmp, *args, timeout=60):
    """Runs skopeo with a permissive policy and an empty auth file of its own."""
    policy = os.path.join(tmp, "policy.json")
    if not os.path.exists(policy):
        write(policy, '{"default":[{"type":"insecureAcceptAnything"}]}')
        write(os.path.join(tmp, "auth.json"), "{}")
    env = dict(os.environ, REGISTRY_AUTH_FILE=os.path.join(tmp, "auth.json"), TMPDIR=tmp)
    argv = ["skopeo", "--policy", policy] + list(args)
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          timeout=timeout)


def push(tmp, layout, tag, dest, creds=None, preserve=True):
    args = ["copy"] + (["--preserve-digests"] if preserve else []) + ["--dest-tls-verify=false"]
    if creds:
        args += ["--dest-creds", "%s:%s" % creds]
    return skopeo(tmp, *(args + ["oci:%s:%s" % (layout, tag), "docker://" + dest]))


def pull(tmp, src, out, creds=None, preserve=True):
    args = ["copy"] + (["--preserve-digests"] if preserve else []) + ["--src-tls-verify=false"]
    if creds:
        args += ["--src-creds", "%s:%s" % creds]
    return skopeo(tmp, *(args + ["docker://" + src, "oci:%s:x" % out]))


class Conn:
    """One keep-alive connection; request() returns (status, headers, body)."""

    def __init__(self, url, auth=None):
        u = urllib.parse.urlsplit(url)
        self.c = http.client.HTTPConnection(u.hostname, u.port, timeout=TIMEOUT)
        self.auth = auth

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.auth:
            h.setdefault("Authorization", self.auth)
        self.c.request(method, path, body=body, headers=h)
        r = self.c.getresponse()
        return r.status, r.headers, r.read()

    def close(self):
        self.c.close()


def rel(location):
    """The path and query of an absolute or relative Location."""
    u = urllib.parse.urlsplit(location)
    return u.path + ("?" + u.query if u.query else "")


def err_code(body):
    return json.loads(body)["errors"][0]["code"]


def make_layout(tmp, name="layout", tag="v1", sizes=(3000, 70000), **kw):
    root = os.path.join(tmp, name)
    layers = [os.urandom(n) for n in sizes]
    return root, write_oci_layout(root, tag, layers, **kw)


def check_roundtrip(tmp, reg, repo, creds=None):
    """skopeo pushes a layout, the helpers and a skopeo pull read it back."""
    root, img = make_layout(tmp, "in-" + repo.replace("/", "-"))
    r = push(tmp, root, "v1", "%s/%s:v1" % (reg.host, repo), creds)
    ok(r.returncode == 0, "skopeo push", r.stderr[-2000:], reg.log()[-2000:])
    ok(reg.tags(repo) == ["v1"], reg.tags(repo))
    mbytes, headers = reg.get_manifest(repo, "v1")
    ok(mbytes == img["manifest"], "skopeo pushed the layout's manifest unchanged", mbytes)
    ok(headers["Docker-Content-Digest"] == img["digest"], dict(headers))
    for d, data in img["layers"] + [img["config"]]:
        ok(reg.blob_exists(repo, d), d)
        ok(reg.get_blob(repo, d) == data, "blob bytes", d)
        with open(reg.blob_path(d), "rb") as f:
            ok(f.read() == data, "blob in storage", d)
    ok(not reg.blob_exists(repo, "sha256:" + "0" * 64))
    out = os.path.join(tmp, "out-" + repo.replace("/", "-"))
    r = pull(tmp, "%s/%s:v1" % (reg.host, repo), out, creds)
    ok(r.returncode == 0, "skopeo pull", r.stderr[-2000:])
    mback, blobs = read_oci_layout(out)
    ok(mback == img["manifest"], "pulled manifest", mback)
    ok(blobs == dict(img["layers"] + [img["config"]]), "pulled blobs byte for byte")
    return img


def test_anonymous_roundtrip(tmp):
    with Registry(workdir=tmp) as reg:
        ok(reg.url == "http://" + reg.host and reg.host.startswith("127.0.0.1:"), reg.url)
        status, _, body = reg._raw("GET", "/v2/")
        ok(status == 200 and body == b"{}", status, body)
        check_roundtrip(tmp, reg, "org/model")
        ok(reg.tags("nothing/here") == [])
        # Without --preserve-digests skopeo gzips an image's tar layers (new ones:
        # a layer the registry has already is reused as it is).
        root, img = make_layout(tmp, "fresh")
        r = push(tmp, root, "v1", "%s/org/gz:v1" % reg.host, preserve=False)
        ok(r.returncode == 0, r.stderr[-1000:])
        m = json.loads(reg.get_manifest("org/gz", "v1")[0])
        ok([x["mediaType"] for x in m["layers"]] == ["application/vnd.oci.image.layer.v1.tar+gzip"] * 2
           and [x["digest"] for x in m["layers"]] != [d for d, _ in img["layers"]], m)
        d = reg.dir
    ok(not os.path.exists(d), "stop() removes the registry's directory")


def test_htpasswd_roundtrip_and_refusals(tmp):
    with Registry(auth="htpasswd", users={"alice": "secret", "bob": "hunter2"}, workdir=tmp) as reg:
        with open(os.path.join(reg.dir, "htpasswd")) as f:
            entries = dict(line.strip().split(":", 1) for line in f)
        ok(entries["alice"].startswith("$2") and entries["bob"].startswith("$2"), entries)
        status, h, _ = reg._raw("GET", "/v2/")
        ok(status == 401 and h["WWW-Authenticate"] == 'Basic realm="weightslock-test"', status, dict(h))
        status, _, _ = reg._raw("GET", "/v2/", {"Authorization": basic_auth("alice", "secret")})
        ok(status == 200, status)
        status, _, _ = reg._raw("GET", "/v2/", {"Authorization": basic_auth("alice", "wrong")})
        ok(status == 401, status)
        check_roundtrip(tmp, reg, "org/model", ALICE)
        root, _ = make_layout(tmp, "other", sizes=(100,))
        r = push(tmp, root, "v1", "%s/org/denied:v1" % reg.host, ("alice", "wrong"))
        ok(r.returncode != 0 and b"unauthorized" in r.stderr.lower(), r.stderr[-1000:])
        r = push(tmp, root, "v1", "%s/org/denied:v1" % reg.host)
        ok(r.returncode != 0, "anonymous push refused", r.stderr[-1000:])
        ok(reg.tags("org/denied") == [])


def test_htpasswd_tool_fallback(tmp):
    import shutil
    import registry
    if shutil.which("htpasswd") is None:
        return  # apache2-utils absent: only crypt can hash (checked above)
    saved = registry.bcrypt_hash
    registry.bcrypt_hash = registry._htpasswd_hash  # as on a Python without crypt
    try:
        with Registry(auth="htpasswd", workdir=tmp) as reg:
            status, _, _ = reg._raw("GET", "/v2/", {"Authorization": basic_auth(*ALICE)})
            ok(status == 200, status)
            status, _, _ = reg._raw("GET", "/v2/", {"Authorization": basic_auth("alice", "no")})
            ok(status == 401, status)
    finally:
        registry.bcrypt_hash = saved


def test_start_failure_shows_the_log(tmp):
    reg = Registry(workdir=tmp, start_timeout=5, extra_config="notifications: [unclosed\n")
    try:
        reg.start()
        ok(False, "a registry with a broken config started")
    except RuntimeError as e:
        ok("exited with status 1" in str(e) and "its log:" in str(e) and "yaml" in str(e).lower(),
           str(e)[:800])
    finally:
        reg.stop()
    ok(reg.proc is None and reg.dir is None)


# ---- facts about distribution 2.8 that the client's design depends on ----

def _upload(conn, repo):
    status, h, _ = conn.request("POST", "/v2/%s/blobs/uploads/" % repo, b"")
    ok(status == 202 and h["Range"] == "0-0" and h["Docker-Upload-UUID"], status, dict(h))
    ok("/v2/%s/blobs/uploads/%s?_state=" % (repo, h["Docker-Upload-UUID"]) in h["Location"], h["Location"])
    ok(h.get("OCI-Chunk-Min-Length") is None and h.get("OCI-Chunk-Max-Length") is None, dict(h))
    return rel(h["Location"])


def _put_blob(conn, repo, data):
    loc = _upload(conn, repo)
    d = sha256_digest(data)
    status, h, body = conn.request("PUT", loc + "&digest=" + d, data)
    ok(status == 201 and h["Docker-Content-Digest"] == d, status, body)
    ok(rel(h["Location"]) == "/v2/%s/blobs/%s" % (repo, d), h["Location"])
    return d


def test_fact_manifest_accept_and_put(tmp):
    with Registry(workdir=tmp) as reg:
        c = Conn(reg.url)
        layer = os.urandom(500)
        ld = _put_blob(c, "r", layer)
        cfg = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
        cd = _put_blob(c, "r", cfg)
        m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                   "size": len(cfg), "digest": cd},
                        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                    "size": len(layer), "digest": ld}]}).encode()
        md = sha256_digest(m)
        for ctype in ("application/json", None):
            status, _, body = c.request("PUT", "/v2/r/manifests/bad", m,
                                        {"Content-Type": ctype} if ctype else {})
            ok(status == 400 and err_code(body) == "MANIFEST_INVALID", ctype, status, body)
        status, h, _ = c.request("PUT", "/v2/r/manifests/v1", m, {"Content-Type": OCI_MANIFEST})
        ok(status == 201 and h["Docker-Content-Digest"] == md, status, dict(h))
        ok(rel(h["Location"]) == "/v2/r/manifests/" + md, h["Location"])
        for ref in ("v1", md):
            for method in ("GET", "HEAD"):
                for accept in (None, DOCKER_MANIFEST):
                    status, _, body = c.request(method, "/v2/r/manifests/" + ref, None,
                                                {"Accept": accept} if accept else {})
                    ok(status == 404, ref, method, accept, status)
                    if method == "GET":
                        ok(json.loads(body)["errors"][0] == {
                            "code": "MANIFEST_UNKNOWN",
                            "message": "OCI manifest found, but accept header does not support OCI manifests"},
                            body)
                status, h, body = c.request(method, "/v2/r/manifests/" + ref, None,
                                            {"Accept": DOCKER_MANIFEST + ", " + OCI_MANIFEST})
                ok(status == 200 and h["Content-Type"] == OCI_MANIFEST
                   and h["Docker-Content-Digest"] == md, ref, method, status, dict(h))
                ok(body == (m if method == "GET" else b""), body[:100])
        status, h, body = c.request("GET", "/v2/r/blobs/" + ld, None, {"Range": "bytes=100-"})
        ok(status == 206 and body == layer[100:] and h["Content-Range"] == "bytes 100-499/500",
           status, dict(h))
        c.close()


def test_fact_chunked_upload_state(tmp):
    with Registry(workdir=tmp) as reg:
        c = Conn(reg.url)
        data = os.urandom(3000)
        d = sha256_digest(data)
        loc0 = _upload(c, "r")
        # Content-Range is ignored: a nonsense range still appends at offset 0.
        status, h, _ = c.request("PATCH", loc0, data[:1000], {"Content-Range": "5000-5999",
                                                             "Content-Type": "application/octet-stream"})
        ok(status == 202 and h["Range"] == "0-999", status, dict(h))
        loc1 = rel(h["Location"])
        ok(loc1 != loc0 and loc1.split("?")[0] == loc0.split("?")[0], loc0, loc1)
        status, h, _ = c.request("GET", loc1)
        ok(status == 204 and h["Range"] == "0-999" and rel(h["Location"]) == loc1, status, dict(h))
        # An older Location is refused; the session lives on at the newest one.
        for method in ("GET", "PATCH"):
            status, _, body = c.request(method, loc0, b"x" if method == "PATCH" else None)
            ok(status == 404 and err_code(body) == "BLOB_UPLOAD_INVALID", method, status, body)
        status, _, body = c.request("GET", loc0.split("?")[0])
        ok(status == 404 and err_code(body) == "BLOB_UPLOAD_INVALID", "no _state", status, body)
        # No Content-Range at all, and a chunked request body, both append.
        status, h, _ = c.request("PATCH", loc1, data[1000:2000])
        ok(status == 202 and h["Range"] == "0-1999", status, dict(h))
        loc2 = rel(h["Location"])
        c.c.request("PATCH", loc2, body=iter([data[2000:2500], data[2500:]]), encode_chunked=True)
        r = c.c.getresponse()
        r.read()
        ok(r.status == 202 and r.headers["Range"] == "0-2999", r.status, dict(r.headers))
        loc3 = rel(r.headers["Location"])
        # A wrong digest with an empty final PUT: 400, and the session survives.
        status, _, body = c.request("PUT", loc3 + "&digest=sha256:" + "0" * 64, b"")
        ok(status == 400 and err_code(body) == "DIGEST_INVALID", status, body)
        status, h, _ = c.request("GET", loc3)
        ok(status == 204 and h["Range"] == "0-2999", status, dict(h))
        status, h, _ = c.request("PUT", loc3 + "&digest=" + d, b"")
        ok(status == 201 and h["Docker-Content-Digest"] == d, status, dict(h))
        ok(reg.get_blob("r", d) == data)
        # A monolithic PUT with a wrong digest: 400, and its Location is dead.
        loc = _upload(c, "r")
        status, _, body = c.request("PUT", loc + "&digest=sha256:" + "0" * 64, data)
        ok(status == 400 and err_code(body) == "DIGEST_INVALID", status, body)
        status, _, body = c.request("GET", loc)
        ok(status == 404 and err_code(body) == "BLOB_UPLOAD_INVALID", status, body)
        # DELETE ends a session.
        loc = _upload(c, "r")
        status, _, _ = c.request("DELETE", loc)
        ok(status == 204, status)
        status, _, body = c.request("GET", loc)
        ok(status == 404 and err_code(body) == "BLOB_UPLOAD_UNKNOWN", status, body)
        c.close()


def test_fact_post_digest_and_mount(tmp):
    with Registry(workdir=tmp) as reg:
        c = Conn(reg.url)
        data = os.urandom(200)
        d = sha256_digest(data)
        status, h, _ = c.request("POST", "/v2/r/blobs/uploads/?digest=" + d, data)
        ok(status == 202 and h["Range"] == "0-0", "single-POST upload unsupported", status, dict(h))
        ok(not reg.blob_exists("r", d))
        _put_blob(c, "r", data)
        status, h, _ = c.request("POST", "/v2/s/blobs/uploads/?mount=%s&from=r" % d, b"")
        ok(status == 201 and rel(h["Location"]) == "/v2/s/blobs/" + d, status, dict(h))
        ok(reg.blob_exists("s", d))
        status, h, _ = c.request("POST", "/v2/s/blobs/uploads/?mount=sha256:%s&from=r" % ("1" * 64), b"")
        ok(status == 202 and "/v2/s/blobs/uploads/" in h["Location"], status, dict(h))
        c.close()


# ---- token authentication ----

def _challenge(h):
    """{key: value} of a Bearer WWW-Authenticate (values without commas in quotes)."""
    v = h["WWW-Authenticate"]
    ok(v.startswith("Bearer "), v)
    return dict((k, val.strip('"')) for k, _, val in
                (p.partition("=") for p in v[7:].replace('",', '"\n').split("\n")))


def _token(reg, user=None, scopes=(), password=None):
    q = urllib.parse.urlencode([("service", reg.tokens.service)] + [("scope", s) for s in scopes])
    h = {}
    if user:
        h["Authorization"] = basic_auth(user, password if password is not None else reg.users[user])
    status, _, body = Conn(reg.tokens.url).request("GET", "/token?" + q, None, h)
    return status, json.loads(body)


def _jwt_claims(token):
    import base64
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_token_roundtrip_and_refusals(tmp):
    users = {"alice": "secret", "bob": "builder"}
    with Registry(auth="token", users=users, access={"bob": ["pull"]}, workdir=tmp) as reg:
        t = reg.tokens
        status, h, _ = reg._raw("GET", "/v2/")
        ok(status == 401 and _challenge(h) == {"realm": t.realm, "service": t.service}, status, dict(h))
        status, h, _ = reg._raw("GET", "/v2/org/model/tags/list")
        ok(_challenge(h)["scope"] == "repository:org/model:pull", dict(h))
        check_roundtrip(tmp, reg, "org/model", ALICE)
        ok(t.count() > 0 and t.count(user="alice", creds_sent=True, status=200) == t.count(), t.requests)
        pushes = [r for r in t.requests if "repository:org/model:pull,push" in r.scopes]
        ok(pushes and all(r.granted == [{"type": "repository", "name": "org/model",
                                         "actions": ["pull", "push"]}] for r in pushes), t.requests)
        # Raw token requests: several scopes, and what is granted of each.
        status, doc = _token(reg, "bob", ["repository:org/model:pull,push", "repository:other:pull"])
        ok(status == 200 and doc["token"] == doc["access_token"] and doc["expires_in"] == 300
           and doc["issued_at"].endswith("Z"), status, doc)
        claims = _jwt_claims(doc["token"])
        ok(claims["access"] == [{"type": "repository", "name": "org/model", "actions": ["pull"]},
                                {"type": "repository", "name": "other", "actions": ["pull"]}], claims)
        ok(claims["iss"] == t.issuer and claims["aud"] == t.service and claims["sub"] == "bob"
           and claims["exp"] == claims["iat"] + 300, claims)
        status, _, body = reg._raw("GET", "/v2/org/model/tags/list",
                                   {"Authorization": "Bearer " + doc["token"]})
        ok(status == 200 and json.loads(body)["tags"] == ["v1"], status, body)
        ok(_token(reg, "alice", ["repository:r:pull"], password="wrong")[0] == 401)
        ok(_token(reg, None, ["repository:r:pull"])[0] == 401, "no anonymous tokens")
        ok(t.count(creds_sent=False, status=401) == 1, t.requests)
        # OAuth2 form POST.
        form = urllib.parse.urlencode({"grant_type": "password", "username": "alice",
                                       "password": "secret", "service": t.service,
                                       "scope": "repository:r:pull"}).encode()
        status, _, body = Conn(t.url).request("POST", "/token", form,
                                             {"Content-Type": "application/x-www-form-urlencoded"})
        ok(status == 200 and "access_token" in json.loads(body), status, body)
        # skopeo: a wrong password, and bob pushing, are refused; bob pulls.
        root, _ = make_layout(tmp, "small", sizes=(100,))
        r = push(tmp, root, "v1", "%s/org/x:v1" % reg.host, ("alice", "wrong"))
        ok(r.returncode != 0, "wrong password pushed", r.stderr[-800:])
        r = push(tmp, root, "v1", "%s/org/x:v1" % reg.host, ("bob", "builder"))
        ok(r.returncode != 0 and b"denied" in r.stderr.lower(), "bob pushed", r.stderr[-800:])
        ok(reg.tags("org/x") == [])
        r = pull(tmp, "%s/org/model:v1" % reg.host, os.path.join(tmp, "bob-out"), ("bob", "builder"))
        ok(r.returncode == 0, r.stderr[-800:])


def test_token_anonymous_pull(tmp):
    with Registry(auth="token", anonymous=["pull"], workdir=tmp) as reg:
        check_roundtrip(tmp, reg, "pub/model", ALICE)
        r = pull(tmp, "%s/pub/model:v1" % reg.host, os.path.join(tmp, "anon"))
        ok(r.returncode == 0, r.stderr[-800:])
        ok(reg.tokens.count(user=None, creds_sent=False, status=200) >= 1, reg.tokens.requests)
        root, _ = make_layout(tmp, "small", sizes=(100,))
        r = push(tmp, root, "v1", "%s/pub/other:v1" % reg.host)
        ok(r.returncode != 0, "anonymous push", r.stderr[-800:])


def test_token_expiry_and_leeway(tmp):
    import time
    from registry import REGISTRY_LEEWAY, der_ecdsa_to_raw
    ok(der_ecdsa_to_raw(bytes.fromhex("3007020101020200ff")) == (1).to_bytes(32, "big") + (255).to_bytes(32, "big"))
    with Registry(auth="token", registry_lifetime=2, workdir=tmp) as reg:
        t = reg.tokens
        now = int(time.time())

        def tags_with(token):
            return reg._raw("GET", "/v2/r/tags/list", {"Authorization": "Bearer " + token})[0]

        scope = [("repository", "r", "pull")]
        # The registry accepts a token until exp + 60 s.
        ok(tags_with(t.mint("alice", scope, exp=now - REGISTRY_LEEWAY + 20)) == 404, "within leeway")
        ok(tags_with(t.mint("alice", scope, exp=now - REGISTRY_LEEWAY - 5)) == 401, "past leeway")
        ok(tags_with(t.mint("bob", [("repository", "other", "pull")])) == 401, "wrong repository")
        status, doc = _token(reg, "alice", ["repository:r:pull"])
        ok(status == 200 and doc["expires_in"] == 300, doc)
        ok(_jwt_claims(doc["token"])["exp"] - _jwt_claims(doc["token"])["iat"] == 2 - REGISTRY_LEEWAY)
        ok(tags_with(doc["token"]) == 404, "fresh token")
        time.sleep(3.2)
        ok(tags_with(doc["token"]) == 401, "token refused registry_lifetime seconds after issue")
        t.fail(503)
        ok(_token(reg, "alice", ["repository:r:pull"])[0] == 503)
        ok(_token(reg, "alice", ["repository:r:pull"])[0] == 200)


def test_skopeo_copies_cog_weight_artifacts(tmp):
    """skopeo 1.9 copies a manifest with a non-image config and an artifactType
    both ways unchanged, even without --preserve-digests (recorded in
    registry.py's docstring)."""
    cfg = b'{"name":"w","target":"/src/weights/w","files":[]}'
    root, img = make_layout(tmp, "cog", sizes=(5000,), config=cfg,
                            config_media_type="application/vnd.cog.weight.config.v1+json",
                            artifact_type="application/vnd.cog.weight.v1",
                            annotations={"run.cog.weight.name": "w"})
    with Registry(workdir=tmp) as reg:
        r = push(tmp, root, "v1", "%s/cog/w:v1" % reg.host, preserve=False)
        ok(r.returncode == 0, "skopeo push of a cog artifact", r.stderr[-1500:])
        mbytes, h = reg.get_manifest("cog/w", "v1")
        ok(mbytes == img["manifest"] and h["Docker-Content-Digest"] == img["digest"], mbytes)
        out = os.path.join(tmp, "cog-out")
        r = pull(tmp, "%s/cog/w:v1" % reg.host, out, preserve=False)
        ok(r.returncode == 0, "skopeo pull of a cog artifact", r.stderr[-1500:])
        mback, blobs = read_oci_layout(out)
        ok(mback == img["manifest"] and blobs == dict(img["layers"] + [img["config"]]), mback)


# ---- the fault proxy ----

def _raw_get(url, headers=None, method="GET"):
    """(status, headers, body) with no redirect followed; a body cut short comes
    back as (bytes received, "cut")."""
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=TIMEOUT)
    try:
        c.request(method, u.path + ("?" + u.query if u.query else ""), headers=headers or {})
        r = c.getresponse()
        try:
            body = r.read()
        except http.client.IncompleteRead as e:
            body = (e.partial, "cut")
        return r.status, r.headers, body
    finally:
        c.close()


def test_proxy_passes_a_token_session_through(tmp):
    from registry import FaultProxy
    with Registry(auth="token", workdir=tmp) as reg, FaultProxy(reg) as px:
        ok(px.url == "http://" + px.host and px.cdn_url != px.url, px.url, px.cdn_url)
        status, h, _ = _raw_get(px.url + "/v2/")
        ok(status == 401 and _challenge(h)["realm"] == px.url + "/token", "realm rewritten", dict(h))
        check_roundtrip(tmp, reg, "org/model", ALICE)  # straight, to compare with
        direct = reg.tokens.count()
        root, img = make_layout(tmp, "via", sizes=(2000, 90000))
        r = push(tmp, root, "v1", "%s/org/via:v1" % px.host, ALICE)
        ok(r.returncode == 0, "push through the proxy", r.stderr[-1500:])
        ok(reg.get_manifest("org/via", "v1")[0] == img["manifest"])
        out = os.path.join(tmp, "via-out")
        r = pull(tmp, "%s/org/via:v1" % px.host, out, ALICE)
        ok(r.returncode == 0, "pull through the proxy", r.stderr[-1500:])
        ok(read_oci_layout(out) == (img["manifest"], dict(img["layers"] + [img["config"]])))
        counts = px.counts
        for key in (("GET", "token"), ("POST", "upload"), ("PUT", "upload"), ("PUT", "manifest"),
                    ("GET", "manifest"), ("GET", "blob")):
            ok(counts.get(key, 0) >= 1, key, counts)
        ok(all(r.status is not None for r in px.requests), px.requests)
        ok(reg.tokens.count() - direct == px.count("token") > 0, "every token request went through the proxy")
        big = img["layers"][1][0]
        ok(px.bytes_sent.get("/v2/org/via/blobs/" + big) == 90000, px.bytes_sent)
        ok(any(r.header("Authorization") and r.header("Authorization").startswith("Bearer ")
               for r in px.requests if r.kind == "blob"), "Bearer tokens passed through")


def test_proxy_locations_keepalive_and_chunked_bodies(tmp):
    from registry import FaultProxy
    with Registry(workdir=tmp) as reg, FaultProxy(reg) as px:
        c = Conn(px.url)
        status, h, _ = c.request("POST", "/v2/r/blobs/uploads/", b"")
        ok(status == 202 and h["Location"].startswith(px.url + "/v2/r/blobs/uploads/")
           and h["Docker-Upload-UUID"] and h["Range"] == "0-0", status, dict(h))
        data = os.urandom(300000)
        c.c.request("PATCH", rel(h["Location"]), body=iter([data[:100000], data[100000:]]),
                    encode_chunked=True)
        r = c.c.getresponse()
        r.read()
        ok(r.status == 202 and r.headers["Range"] == "0-299999", r.status, dict(r.headers))
        d = sha256_digest(data)
        status, h, _ = c.request("PUT", rel(r.headers["Location"]) + "&digest=" + d, b"",
                                 {"OCI-Layer-Media-Type": "application/vnd.oci.image.layer.v1.tar"})
        ok(status == 201 and h["Docker-Content-Digest"] == d
           and h["Location"] == px.url + "/v2/r/blobs/" + d, status, dict(h))
        status, h, body = c.request("GET", "/v2/r/blobs/" + d, None, {"Range": "bytes=299990-"})
        ok(status == 206 and body == data[299990:] and h["Content-Range"] == "bytes 299990-299999/300000",
           status, dict(h))
        ok(reg.get_blob("r", d) == data)
        put = [r for r in px.requests if r.method == "PUT"][0]
        ok(put.header("OCI-Layer-Media-Type") == "application/vnd.oci.image.layer.v1.tar", put.headers)
        patch = [r for r in px.requests if r.method == "PATCH"][0]
        ok(patch.received == 300000 and patch.header("Transfer-Encoding") == "chunked", patch.headers)
        c.close()
        ok(len(px.requests) == 4 and px.counts == {("POST", "upload"): 1, ("PATCH", "upload"): 1,
                                                   ("PUT", "upload"): 1, ("GET", "blob"): 1}, px.counts)


def _eventually(cond, seconds=3.0):
    """cond() turned true within `seconds` (the registry finishes a cut request
    on its own time)."""
    import time
    deadline = time.monotonic() + seconds
    while True:
        if cond():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_proxy_drop_mid_get_and_mid_patch(tmp):
    from registry import FaultProxy
    with Registry(workdir=tmp) as reg, FaultProxy(reg) as px:
        c = Conn(reg.url)
        data = os.urandom(200000)
        d = _put_blob(c, "r", data)
        url = px.url + "/v2/r/blobs/" + d
        px.drop_response(1000, "GET", r"/blobs/sha256:")
        status, h, body = _raw_get(url)
        ok(status == 200 and body == (data[:1000], "cut") and h["Content-Length"] == "200000",
           status, dict(h))
        status, _, body = _raw_get(url, {"Range": "bytes=1000-"})
        ok(status == 206 and body == data[1000:], "one-shot; the rest by Range", status)
        # The proxy's thread counts what it sent after the client has read
        # it: wait for the count (bounded).
        deadline = time.monotonic() + 5
        while px.bytes_sent["/v2/r/blobs/" + d] != 200000 and time.monotonic() < deadline:
            time.sleep(0.02)
        ok(px.bytes_sent["/v2/r/blobs/" + d] == 200000, px.bytes_sent)
        ok([r.fault for r in px.requests] == ["drop_response", None], px.requests)
        # A PATCH cut after 70000 of its 150000 bytes.
        status, h, _ = Conn(px.url).request("POST", "/v2/r/blobs/uploads/", b"")
        loc = rel(h["Location"])
        px.drop_request(70000, "PATCH", r"/blobs/uploads/")
        conn = Conn(px.url)
        try:
            conn.request("PATCH", loc, data[:150000])
            ok(False, "the PATCH was answered")
        except (ConnectionError, http.client.HTTPException, OSError):
            pass
        conn.close()
        cut = [r for r in px.requests if r.method == "PATCH"][0]
        ok(cut.fault == "drop_request" and cut.status is None, cut)
        # The registry kept the 70000 bytes, but the Location from before the
        # PATCH (offset 0 in its _state) is refused: the session cannot resume.
        uuid = h["Docker-Upload-UUID"]
        ok(_eventually(lambda: reg.upload_size("r", uuid) == 70000), reg.upload_size("r", uuid))
        for method in ("GET", "PATCH"):
            status, _, body = c.request(method, loc, b"z" if method == "PATCH" else None)
            ok(status == 404 and err_code(body) == "BLOB_UPLOAD_INVALID", method, status, body)
        # Cut before any body byte: nothing kept, the same Location goes on.
        status, h, _ = c.request("POST", "/v2/r/blobs/uploads/", b"")
        loc, uuid = rel(h["Location"]), h["Docker-Upload-UUID"]
        px.drop_request(0, "PATCH")
        try:
            Conn(px.url).request("PATCH", loc, data[:150000])
            ok(False, "the PATCH was answered")
        except (ConnectionError, http.client.HTTPException, OSError):
            pass
        ok(reg.upload_size("r", uuid) == 0, reg.upload_size("r", uuid))
        status, h, _ = c.request("GET", loc)
        ok(status == 204 and h["Range"] == "0-0", status, dict(h))
        status, h, _ = c.request("PATCH", loc, data[:150000])
        ok(status == 202 and h["Range"] == "0-149999", status, dict(h))
        c.close()


def test_proxy_status_faults(tmp):
    from registry import FaultProxy
    with Registry(auth="token", workdir=tmp) as reg, FaultProxy(reg) as px:
        token = "Bearer " + reg.tokens.mint("alice", [("repository", "r", "pull,push")])
        c = Conn(px.url, token)
        px.fail(500, path_re=r"/tags/list", count=2)
        px.fail(429, method="POST")
        for _ in range(2):
            status, _, body = c.request("GET", "/v2/r/tags/list")
            ok(status == 500 and err_code(body) == "UNKNOWN", status, body)
        ok(c.request("GET", "/v2/r/tags/list")[0] == 404, "after two 500s: the registry's answer")
        status, h, body = c.request("POST", "/v2/r/blobs/uploads/", b"")
        ok(status == 429 and h["Retry-After"] == "1" and err_code(body) == "TOOMANYREQUESTS", status, dict(h))
        status, h, _ = c.request("POST", "/v2/r/blobs/uploads/", b"")
        ok(status == 202, status)
        loc = rel(h["Location"])
        # An "expired token" in the middle of a chunked upload: one 401 with the
        # registry's challenge; the same PATCH at the same Location then works.
        px.fail(401, method="PATCH")
        status, h, _ = c.request("PATCH", loc, b"x" * 5000)
        ch = _challenge(h)
        ok(status == 401 and ch == {"realm": px.url + "/token", "service": reg.tokens.service,
                                    "scope": "repository:r:pull,push"}, status, ch)
        status, h, _ = c.request("PATCH", loc, b"x" * 5000)
        ok(status == 202 and h["Range"] == "0-4999", status, dict(h))
        ok([r.status for r in px.requests] == [500, 500, 404, 429, 202, 401, 202], px.requests)
        px.fail(502, path_re="^/token")
        ok(_raw_get(px.url + "/token?service=x")[0] == 502)
        c.close()


def test_proxy_body_limit(tmp):
    from registry import FaultProxy
    with Registry(workdir=tmp) as reg, FaultProxy(reg) as px:
        c = Conn(px.url)
        loc = rel(c.request("POST", "/v2/r/blobs/uploads/", b"")[1]["Location"])
        px.limit_body(1000, method="PATCH")
        for _ in range(2):  # persistent while set
            status, _, body = Conn(px.url).request("PATCH", loc, b"y" * 1001)
            ok(status == 413 and err_code(body) == "SIZE_INVALID", status, body)
        c2 = Conn(px.url)
        c2.c.request("PATCH", loc, body=iter([b"y" * 600, b"y" * 600]), encode_chunked=True)
        r = c2.c.getresponse()
        r.read()
        ok(r.status == 413, "chunked over the limit", r.status)
        # Expect: 100-continue is answered 413 before any body byte is sent.
        s = socket_connect(px.url)
        s.sendall(("PATCH %s HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                   "Expect: 100-continue\r\n\r\n" % loc).encode())
        head = s.recv(4096)
        ok(head.startswith(b"HTTP/1.1 413 "), head[:200])
        s.close()
        status, h, _ = c.request("PATCH", loc, b"y" * 1000)
        ok(status == 202 and h["Range"] == "0-999", "at the limit: passed", status, dict(h))
        px.limit_body(None)
        status, h, _ = c.request("PATCH", rel(h["Location"]), b"y" * 5000)
        ok(status == 202 and h["Range"] == "0-5999", status, dict(h))
        ok(px.count("upload", "PATCH", 413) == 4, px.requests)
        c.close()


def socket_connect(url):
    import socket
    u = urllib.parse.urlsplit(url)
    s = socket.create_connection((u.hostname, u.port), timeout=TIMEOUT)
    return s


def test_proxy_redirect_target_rejects_authorization(tmp):
    from registry import FaultProxy
    with Registry(auth="htpasswd", workdir=tmp) as reg, FaultProxy(reg) as px:
        auth = {"Authorization": basic_auth(*ALICE)}
        data = os.urandom(50000)
        d = _put_blob(Conn(reg.url, auth["Authorization"]), "r", data)
        px.redirect_blobs(count=3)
        status, h, _ = _raw_get(px.url + "/v2/r/blobs/" + d, auth)
        ok(status == 307 and h["Location"].startswith(px.cdn_url + "/"), status, dict(h))
        cdn = h["Location"]
        ok(px.with_authorization() == [])
        status, _, body = _raw_get(cdn)
        ok(status == 200 and body == data, status)
        status, h, body = _raw_get(cdn, {"Range": "bytes=49000-"})
        ok(status == 206 and body == data[49000:] and h["Content-Range"] == "bytes 49000-49999/50000",
           status, dict(h))
        status, _, body = _raw_get(cdn, auth)
        ok(status == 400 and b"Authorization" in body, status, body)
        # urllib keeps the Authorization it was given across the redirect: refused.
        import urllib.request
        import urllib.error
        try:
            urllib.request.urlopen(urllib.request.Request(px.url + "/v2/r/blobs/" + d, headers=auth),
                                   timeout=TIMEOUT)
            ok(False, "the redirect target took Authorization")
        except urllib.error.HTTPError as e:
            ok(e.code == 400, e.code)
        seen = px.with_authorization()
        ok(len(seen) == 2 and all(r.status == 400 for r in seen), seen)
        ok(_raw_get(px.url + "/v2/r/blobs/" + d, auth)[0] == 307, "third redirect")
        status, _, body = _raw_get(px.url + "/v2/r/blobs/" + d, auth)
        ok(status == 200 and body == data, "count used up: proxied", status)
        ok(px.count("blob", "GET", 307) == 3 and px.count("blob", "GET", server="cdn") == 4, px.requests)
        ok(px.bytes_sent["/cdn/v2/r/blobs/" + d] == 50000 + 1000 + sum(r.sent for r in seen),
           px.bytes_sent)


def test_proxy_delay(tmp):
    import threading
    import time
    from registry import FaultProxy
    with Registry(workdir=tmp) as reg, FaultProxy(reg) as px:
        c = Conn(px.url)
        data = os.urandom(1000)
        d = sha256_digest(data)
        loc = rel(c.request("POST", "/v2/r/blobs/uploads/", b"")[1]["Location"])
        px.delay(1.0, "PUT")
        t0 = time.monotonic()
        status, _, _ = c.request("PUT", loc + "&digest=" + d, data)
        ok(status == 201 and time.monotonic() - t0 >= 1.0, status)
        # after_upstream: the blob is stored while the answer is still held back.
        data2 = os.urandom(1000)
        d2 = sha256_digest(data2)
        loc = rel(c.request("POST", "/v2/r/blobs/uploads/", b"")[1]["Location"])
        px.delay(1.5, "PUT", after_upstream=True)
        out = {}
        th = threading.Thread(target=lambda: out.update(r=c.request("PUT", loc + "&digest=" + d2, data2)))
        t0 = time.monotonic()
        th.start()
        stored_unanswered = False
        while time.monotonic() - t0 < 1.2 and not stored_unanswered:
            stored_unanswered = reg.blob_exists("r", d2) and "r" not in out
            time.sleep(0.05)
        th.join(timeout=10)
        ok(stored_unanswered, "the blob was stored before the held answer came")
        ok(out["r"][0] == 201 and time.monotonic() - t0 >= 1.5, out)
        c.close()
