"""push (SPEC.md §18.1, §18.2; CLI.md push) against a real docker-registry
started by the test: anonymous, htpasswd and token auth; faults from the
test suite's proxy; interop with skopeo; credentials from an authfile, a
docker config.json (auths, credHelpers) and a credential helper on PATH.
"""
import base64
import json
import os
import subprocess
import sys

from wltest import expect, expect_error, read, run, snapshot, write

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "servers"))
from registry import FaultProxy, Registry  # noqa: E402

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def project(tmp, big=300000, extra_weight=False):
    """A project with one weight (a raw .safetensors layer and a gzip bundle),
    imported with --oci-layout. Returns (project, layout, lock)."""
    p = os.path.join(tmp, "proj")
    w = os.path.join(p, "weights")
    os.makedirs(os.path.join(w, "sub"))
    with open(os.path.join(w, "model.safetensors"), "wb") as f:
        f.write(os.urandom(big))
    write(os.path.join(w, "config.json"), b'{"hidden": 64}\n')
    write(os.path.join(w, "sub", "vocab.txt"), b"a\nb\nc\n" * 100)
    cog = "image: x\nweights:\n  - name: w\n    target: /src/w\n    source:\n      uri: ./weights\n"
    if extra_weight:
        os.makedirs(os.path.join(p, "other"))
        write(os.path.join(p, "other", "x.bin"), os.urandom(5000))
        cog += "  - name: other\n    target: /src/other\n    source:\n      uri: ./other\n"
    write(os.path.join(p, "cog.yaml"), cog)
    layout = os.path.join(tmp, "layout")
    r = run(["-C", p, "-q", "import", "--no-cache", "--oci-layout", layout])
    expect(r.rc == 0, "import", r)
    return p, layout, json.loads(read(os.path.join(p, "weights.lock")))


def push(p, host, *extra, env=None, repo="m/w"):
    return run(["-C", p, "push", "--plain-http", "--repository", host + "/" + repo, "--oci-layout",
                os.path.join(os.path.dirname(p), "layout")] + list(extra), env=env, timeout=120)


def same_as_layout(reg, layout, lock, repo="m/w", name="w"):
    """Every blob and the manifest in the registry are the layout's bytes."""
    e = [x for x in lock["weights"] if x["name"] == name][0]
    for l in e["layers"]:
        got = reg.get_blob(repo, l["digest"])
        expect(got == read(os.path.join(layout, "blobs", "sha256", l["digest"][7:])), "layer bytes", l)
    body, headers = reg.get_manifest(repo, e["digest"])
    expect(body == read(os.path.join(layout, "blobs", "sha256", e["digest"][7:])), "manifest bytes")
    config = json.loads(body)["config"]
    expect(reg.get_blob(repo, config["digest"]) == read(os.path.join(layout, "blobs", "sha256",
                                                                     config["digest"][7:])), "config bytes")
    tag = "weights-%s-%s" % (name, e["setDigest"][7:19])
    expect(tag in reg.tags(repo), "tag", reg.tags(repo))
    return e


def test_push_to_an_anonymous_registry_then_again(tmp):
    p, layout, lock = project(tmp)
    with Registry() as reg:
        r = push(p, reg.host)
        expect(r.rc == 0, "push", r)
        e = same_as_layout(reg, layout, lock)
        tag = "weights-w-" + e["setDigest"][7:19]
        want = "w: pushed %s/m/w:%s@%s\n" % (reg.host, tag, e["digest"])
        expect(r.out.decode() == want, "output", r)
        r = push(p, reg.host, "-q")
        expect(r.rc == 0 and r.out.decode() == want.replace("pushed", "already present"), "again", r)


def test_push_of_named_weights_only_and_an_unknown_name(tmp):
    p, layout, lock = project(tmp, extra_weight=True)
    with Registry() as reg:
        r = push(p, reg.host, "other")
        expect(r.rc == 0 and r.out.decode().startswith("other: pushed "), "push other", r)
        expect(reg.tags("m/w") == ["weights-other-" + lock["weights"][1]["setDigest"][7:19]], "tags",
               reg.tags("m/w"))
        r = push(p, reg.host, "nope")
        expect_error(r, 'weight "nope" is not in the lockfile')


def test_push_takes_the_repository_from_cog_yaml(tmp):
    p, layout, lock = project(tmp)
    with Registry() as reg:
        cog = read(os.path.join(p, "cog.yaml")).decode().replace("image: x", "image: %s/from/image" % reg.host)
        write(os.path.join(p, "cog.yaml"), cog)
        r = run(["-C", p, "push", "--plain-http", "--oci-layout", layout])
        expect(r.rc == 0 and "/from/image:" in r.out.decode(), "image:", r)
        write(os.path.join(p, "cog.yaml"), "model: %s/from/model\n" % reg.host + cog)
        r = run(["-C", p, "push", "--plain-http", "--oci-layout", layout])
        expect(r.rc == 0 and "/from/model:" in r.out.decode(), "model: wins", r)
        same_as_layout(reg, layout, lock, repo="from/model")


def test_push_errors_a_user_can_reach(tmp):
    p, layout, lock = project(tmp)
    before = snapshot(os.path.join(p, "weights.lock"))
    with Registry() as reg:
        r = run(["-C", p, "push", "--plain-http", "--oci-layout", layout])
        expect_error(r, "x", "is not REGISTRY/REPOSITORY")
        r = push(p, reg.host, repo="Bad/Name")
        expect_error(r, '"Bad/Name" is not a valid repository name')
        e = lock["weights"][0]
        raw = e["layers"][0]
        blob = os.path.join(layout, "blobs", "sha256", raw["digest"][7:])
        data = read(blob)
        os.remove(blob)
        r = push(p, reg.host)
        expect_error(r, 'push weight "w"', raw["digest"], "open the layout's blob")
        write(blob, data[:-1] + bytes([data[-1] ^ 1]))
        r = push(p, reg.host)
        expect_error(r, raw["digest"], "does not match its digest")
        expect(not reg.blob_exists("m/w", raw["digest"]), "a wrong blob stored")
        write(blob, data)
        expect(reg.tags("m/w") == [], "no tag after failures", reg.tags("m/w"))
    # A registry that is not there.
    r = push(p, "127.0.0.1:9", "--retries", "0")
    expect_error(r, "cannot connect")
    expect(snapshot(os.path.join(p, "weights.lock")) == before, "the lockfile was touched")


def authfile(tmp, host, user, password, name="auth.json"):
    path = os.path.join(tmp, name)
    token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    write(path, json.dumps({"auths": {host: {"auth": token}}}))
    return path


def test_push_with_htpasswd_credentials(tmp):
    p, layout, lock = project(tmp)
    with Registry(auth="htpasswd", users={"alice": "secret"}) as reg:
        r = push(p, reg.host, env={"HOME": tmp, "DOCKER_CONFIG": tmp, "XDG_RUNTIME_DIR": "",
                                   "XDG_CONFIG_HOME": tmp, "REGISTRY_AUTH_FILE": ""})
        expect_error(r, "wants credentials and none were found")
        bad = authfile(tmp, reg.host, "alice", "wrong", "bad.json")
        r = push(p, reg.host, "--authfile", bad)
        expect_error(r, 'refused the credentials of user "alice"')
        expect(b"wrong" not in r.err, "a password was printed", r)
        good = authfile(tmp, "http://" + reg.host + "/v1/", "alice", "secret")
        r = push(p, reg.host, "--authfile", good)
        expect(r.rc == 0, "push with credentials", r)
        same_as_layout(reg, layout, lock)


def test_push_with_token_auth_and_per_user_access(tmp):
    p, layout, lock = project(tmp)
    with Registry(auth="token", users={"alice": "secret", "bob": "pw"}, access={"bob": ["pull"]}) as reg:
        r = push(p, reg.host, "--authfile", authfile(tmp, reg.host, "bob", "pw", "bob.json"))
        expect(r.rc == 2 and b"401" in r.err or b"denied" in r.err.lower() or b"unauthorized" in r.err.lower(),
               "bob may not push", r)
        r = push(p, reg.host, "--authfile", authfile(tmp, reg.host, "alice", "wrong", "bad.json"))
        expect_error(r, 'the token server refused the credentials of user "alice"')
        r = push(p, reg.host, "--authfile", authfile(tmp, reg.host, "alice", "secret"))
        expect(r.rc == 0, "alice pushes", r)
        same_as_layout(reg, layout, lock)
        # One token per scope: not one per request.
        n = reg.tokens.count(user="alice", status=200)
        expect(n == 1, "token requests", n)


def test_push_through_a_proxy_that_refuses_big_bodies_goes_in_chunks(tmp):
    p, layout, lock = project(tmp, big=3 << 20)
    with Registry() as reg, FaultProxy(reg) as px:
        px.limit_body(2 << 20)
        r = push(p, px.host)
        expect(r.rc == 0, "push", r)
        expect(px.count("upload", "PATCH", 202) >= 2, "chunks within the limit", px.counts)
        expect(px.count("upload", "PATCH", 413) >= 1, "a chunk refused first", px.counts)
        same_as_layout(reg, layout, lock)


def test_push_survives_a_dropped_patch_a_401_and_500s(tmp):
    p, layout, lock = project(tmp, big=3 << 20)
    with Registry(auth="token", users={"alice": "secret"}) as reg, FaultProxy(reg) as px:
        auth = authfile(tmp, px.host, "alice", "secret")
        px.limit_body(2 << 20)
        px.drop_request(300000, "PATCH", r"/blobs/uploads/")
        px.fail(401, method="PATCH", path_re=r"/blobs/uploads/")
        px.fail(500, path_re=r"/manifests/", method="PUT")
        r = push(p, px.host, "--authfile", auth)
        expect(r.rc == 0, "push", r)
        same_as_layout(reg, layout, lock)
        expect(any(q.fault for q in px.requests), "faults injected", px.counts)


def test_push_then_skopeo_copies_it_to_a_layout_byte_for_byte(tmp):
    p, layout, lock = project(tmp)
    with Registry() as reg:
        r = push(p, reg.host)
        expect(r.rc == 0, "push", r)
        e = lock["weights"][0]
        tag = "weights-w-" + e["setDigest"][7:19]
        out = os.path.join(tmp, "copied")
        c = subprocess.run(["skopeo", "copy", "--src-tls-verify=false", "--preserve-digests",
                            "docker://%s/m/w:%s" % (reg.host, tag), "oci:%s:%s" % (out, tag)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        expect(c.returncode == 0, "skopeo copy", c.stderr)
        for d in [l["digest"] for l in e["layers"]] + [e["digest"]]:
            expect(read(os.path.join(out, "blobs", "sha256", d[7:])) ==
                   read(os.path.join(layout, "blobs", "sha256", d[7:])), "blob", d)


def test_push_with_a_credential_helper_from_docker_config(tmp):
    p, layout, lock = project(tmp)
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    helper = os.path.join(bindir, "docker-credential-test")
    log = os.path.join(tmp, "helper.log")
    write(helper, "#!/bin/sh\nread host\necho \"$1 $host\" >> %s\n"
                  "echo '{\"ServerURL\":\"'$host'\",\"Username\":\"alice\",\"Secret\":\"secret\"}'\n" % log)
    os.chmod(helper, 0o755)
    with Registry(auth="htpasswd", users={"alice": "secret"}) as reg:
        docker = os.path.join(tmp, "docker")
        os.makedirs(docker)
        write(os.path.join(docker, "config.json"),
              json.dumps({"auths": {"other.example": {"auth": "eDp5"}}, "credHelpers": {reg.host: "test"}}))
        env = {"DOCKER_CONFIG": docker, "PATH": bindir + os.pathsep + os.environ["PATH"],
               "XDG_RUNTIME_DIR": "", "XDG_CONFIG_HOME": tmp, "REGISTRY_AUTH_FILE": ""}
        r = push(p, reg.host, env=env)
        expect(r.rc == 0, "push through the helper", r)
        expect(read(log).decode().startswith("get %s" % reg.host), "helper called", read(log))
        same_as_layout(reg, layout, lock)
        # A helper that fails is an error naming it.
        write(helper, "#!/bin/sh\necho boom >&2\nexit 3\n")
        r = push(p, reg.host, env=env, repo="m/other")
        expect_error(r, "docker-credential-test failed (exit status 3): boom")


def test_push_waits_for_a_final_put_that_takes_40_s_and_rides_out_a_429(tmp):
    # A registry verifying a big blob answers its final PUT late; a short
    # --timeout (no progress on an ordinary request) must not cut it off.
    p, layout, lock = project(tmp)
    with Registry() as reg, FaultProxy(reg) as px:
        px.fail(429, method="POST", path_re=r"/blobs/uploads/")
        px.delay(40, "PUT", r"/blobs/uploads/", after_upstream=True)
        r = push(p, px.host, "--timeout", "5")
        expect(r.rc == 0, "push", r)
        expect(px.count("upload", "POST", 429) == 1, "the 429", px.counts)
        expect(any(q.fault == "delay" for q in px.requests), "the delay", px.counts)
        same_as_layout(reg, layout, lock)


def test_push_without_a_layout_packs_the_layers_again_from_the_sources(tmp):
    p, layout, lock = project(tmp, big=3 << 20)
    with Registry() as reg, FaultProxy(reg) as px:
        # A proxy that refuses big bodies: chunks, and a retry that packs again.
        px.limit_body(2 << 20)
        px.fail(500, method="PATCH", path_re=r"/blobs/uploads/")
        r = run(["-C", p, "push", "--plain-http", "--repository", px.host + "/m/w"], timeout=120)
        expect(r.rc == 0 and r.out.decode().startswith("w: pushed "), "push from the sources", r)
        same_as_layout(reg, layout, lock)
    # A source file changed since import (same size): nothing is tagged.
    path = os.path.join(p, "weights", "config.json")
    data = read(path)
    write(path, data[:-2] + b"9\n")
    with Registry() as reg:
        r = run(["-C", p, "push", "--plain-http", "--repository", reg.host + "/m/w"], timeout=120)
        expect_error(r, "push weight \"w\"", "config.json", "changed since import")
        expect(reg.tags("m/w") == [], "tagged after a changed source", reg.tags("m/w"))
        e = lock["weights"][0]
        expect(not any(reg.blob_exists("m/w", l["digest"]) for l in e["layers"]), "a layer was stored")
    # A source gone: the message says where to push from instead.
    os.rename(os.path.join(p, "weights"), os.path.join(p, "gone"))
    with Registry() as reg:
        r = run(["-C", p, "push", "--plain-http", "--repository", reg.host + "/m/w"], timeout=120)
        expect(r.rc == 2 and b"push weight" in r.err, "source gone", r)


def test_push_mounts_blobs_from_another_repository_of_the_registry(tmp):
    p, layout, lock = project(tmp)
    e = lock["weights"][0]
    for auth in (None, "token"):
        users = {"alice": "secret"}
        with Registry(auth=auth, users=users) as reg, FaultProxy(reg) as px:
            extra = ["--authfile", authfile(tmp, px.host, "alice", "secret", "a-%s.json" % auth)] if auth else []
            expect(push(p, px.host, *extra, repo="m/a").rc == 0, "first push")
            px.reset_log()
            r = push(p, px.host, "--mount-from", "m/a", *extra, repo="m/b")
            expect(r.rc == 0, "push with mounts", r)
            mounts = [q for q in px.requests if q.method == "POST" and "mount=" in q.path]
            expect(len(mounts) == len(e["layers"]) + 1 and all(q.status == 201 for q in mounts), "mounted",
                   [(q.path, q.status) for q in mounts])
            expect(px.count("upload", "PUT") == 0 and px.count("upload", "PATCH") == 0, "bytes sent", px.counts)
            same_as_layout(reg, layout, lock, repo="m/b")
            # A source repository that lacks the blobs: a normal upload.
            r = push(p, px.host, "--mount-from", "m/none", *extra, repo="m/c")
            expect(r.rc == 0, "push with a useless mount source", r)
            same_as_layout(reg, layout, lock, repo="m/c")


def test_push_verifies_layout_blobs_and_validates_before_any_request(tmp):
    import hashlib
    p, layout, lock = project(tmp)
    e = lock["weights"][0]
    # A layout blob corrupted in one byte (same size): hashed while it is
    # sent, its last bytes held back; the upload fails and the registry
    # never stores it under the recorded digest.
    layer = max(e["layers"], key=lambda l: l["size"])
    path = os.path.join(layout, "blobs", "sha256", layer["digest"][7:])
    good = read(path)
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    write(path, bytes(bad))
    with Registry() as reg:
        r = push(p, reg.host, "--jobs", "1")
        expect(r.rc != 0 and b"does not match its digest" in r.err and layer["digest"].encode() in r.err,
               "corrupt layout blob", r)
        expect(not reg.blob_exists("m/w", layer["digest"]), "the corrupt blob was stored")
        expect(reg.tags("m/w") == [], "tagged", reg.tags("m/w"))
    write(path, good)
    # A layer media type holding CR LF and a header (its manifest digest
    # recomputed so the entry is consistent): refused before any request.
    evil = dict(lock)
    evil["weights"] = [dict(e)]
    evil["weights"][0]["layers"] = [dict(l) for l in e["layers"]]
    evil["weights"][0]["layers"][0]["mediaType"] = e["layers"][0]["mediaType"] + "\r\nX-Evil: 1"
    lockpath = os.path.join(p, "weights.lock")
    write(lockpath, json.dumps(evil, indent=2) + "\n")
    m = run(["-C", p, "manifest", "w"])
    if m.rc == 0:
        evil["weights"][0]["digest"] = "sha256:" + hashlib.sha256(m.out).hexdigest()
        write(lockpath, json.dumps(evil, indent=2) + "\n")
    with Registry() as reg, FaultProxy(reg) as px:
        px.reset_log()
        r = push(p, px.host)
        expect(r.rc != 0 and b'push weight "w"' in r.err and b"media type" in r.err, "evil media type", r)
        expect(b"\r" not in r.err, "raw control characters in the message", r)
        expect(px.requests == [], "requests made", [(q.method, q.path) for q in px.requests])
