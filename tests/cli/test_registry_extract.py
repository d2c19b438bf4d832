"""extract --registry (SPEC.md §18.3; CLI.md extract): the same checks,
markers and rules as extract from a layout, with the manifest, config blob
and layers streamed from a real docker-registry; faults from the test
suite's proxy; a layout copied into the registry by skopeo.
"""
import hashlib
import os
import subprocess
import sys

from wltest import expect, expect_error, read, run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "servers"))
from registry import FaultProxy, Registry  # noqa: E402
from test_push import authfile, project, push  # noqa: E402


def extract(p, host, dest, *extra, repo="m/w", name="w"):
    return run(["-C", p, "extract", "--plain-http", "--registry", host + "/" + repo] + list(extra) + [name, dest],
               timeout=120)


def files_of(root):
    out = {}
    for base, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not (base == root and d == ".cog")]
        for n in names:
            path = os.path.join(base, n)
            out[os.path.relpath(path, root)] = hashlib.sha256(read(path)).hexdigest()
    return out


def test_extract_from_a_registry_gives_the_source_files_and_ready(tmp):
    p, layout, lock = project(tmp, big=3 << 20)
    with Registry() as reg:
        expect(push(p, reg.host).rc == 0, "push")
        dest = os.path.join(tmp, "dest")
        r = extract(p, reg.host, dest)
        expect(r.rc == 0, "extract", r)
        expect(files_of(dest) == files_of(os.path.join(p, "weights")), "files")
        expect(os.path.exists(os.path.join(dest, ".cog", "ready")), "ready marker")
        expect(run(["-C", p, "verify", "w", dest]).rc == 0, "verify")
        # Again: everything is in place, still ready.
        r = extract(p, reg.host, dest)
        expect(r.rc == 0 and os.path.exists(os.path.join(dest, ".cog", "ready")), "again", r)


def test_extract_from_a_registry_resumes_a_dropped_layer_and_follows_a_redirect_without_credentials(tmp):
    p, layout, lock = project(tmp, big=3 << 20)
    with Registry(auth="htpasswd", users={"alice": "secret"}) as reg, FaultProxy(reg) as px:
        auth = authfile(tmp, px.host, "alice", "secret")
        expect(push(p, px.host, "--authfile", auth).rc == 0, "push")
        px.reset_log()
        big = max(lock["weights"][0]["layers"], key=lambda l: l["size"])
        px.drop_response(1 << 20, "GET", "/blobs/" + big["digest"])
        dest = os.path.join(tmp, "dest")
        r = extract(p, px.host, dest, "--authfile", auth)
        expect(r.rc == 0, "extract after a drop", r)
        expect(any((q.header("Range") or "").startswith("bytes=") for q in px.requests if q.method == "GET"),
               "a ranged request",
               [(q.method, q.path) for q in px.requests])
        expect(files_of(dest) == files_of(os.path.join(p, "weights")), "files")
        px.redirect_blobs(count=None)
        px.reset_log()
        dest2 = os.path.join(tmp, "dest2")
        r = extract(p, px.host, dest2, "--authfile", auth)
        expect(r.rc == 0, "extract through a redirect", r)
        expect(px.count("blob", "GET", 307) >= 1, "redirected", px.counts)
        expect(px.with_authorization("cdn") == [], "Authorization went to the redirect target")
        expect(files_of(dest2) == files_of(os.path.join(p, "weights")), "files")


def test_extract_from_a_registry_refuses_what_is_not_the_entry(tmp):
    p, layout, lock = project(tmp)
    e = lock["weights"][0]
    with Registry() as reg:
        dest = os.path.join(tmp, "dest")
        r = extract(p, reg.host, dest)
        expect_error(r, "manifest %s is not in" % e["digest"])
        expect(not os.path.exists(dest), "dest created for a missing manifest")
        expect(push(p, reg.host).rc == 0, "push")
        # A layer blob altered in the registry's storage: content mismatch.
        layer = e["layers"][0]
        path = reg.blob_path(layer["digest"])
        data = bytearray(read(path))
        data[len(data) // 2] ^= 1
        with open(path, "wb") as f:
            f.write(bytes(data))
        r = extract(p, reg.host, dest)
        expect_error(r, "layer " + layer["digest"], "corrupt gzip stream")
        failed = os.path.join(dest, ".cog", "failed")
        expect(os.path.exists(failed) and not os.path.exists(os.path.join(dest, ".cog", "ready")), "failed marker")
        r = run(["-C", p, "extract", "--oci-layout", layout, "--registry", reg.host + "/m/w", "w", dest])
        expect(r.rc == 2 and b"one of --oci-layout" in r.err, "both sources", r)
        r = run(["-C", p, "extract", "w", dest])
        expect(r.rc == 2 and b"one of --oci-layout" in r.err, "no source", r)


def test_a_layout_copied_by_skopeo_extracts_from_the_registry(tmp):
    p, layout, lock = project(tmp)
    with Registry() as reg:
        c = subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", "--preserve-digests", "oci:%s:w" % layout,
                            "docker://%s/sk/w:v1" % reg.host], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        expect(c.returncode == 0, "skopeo copy", c.stderr)
        dest = os.path.join(tmp, "dest")
        r = extract(p, reg.host, dest, repo="sk/w")
        expect(r.rc == 0, "extract", r)
        expect(files_of(dest) == files_of(os.path.join(p, "weights")), "files")


def test_extract_restarts_a_layer_the_registry_sends_whole_again(tmp):
    p, layout, lock = project(tmp, big=3 << 20)
    with Registry() as reg, FaultProxy(reg) as px:
        expect(push(p, px.host).rc == 0, "push")
        big = max(lock["weights"][0]["layers"], key=lambda l: l["size"])
        px.drop_response(1 << 20, "GET", "/blobs/" + big["digest"])
        px.ignore_range("GET", "/blobs/" + big["digest"])
        dest = os.path.join(tmp, "dest")
        r = extract(p, px.host, dest)
        expect(r.rc == 0, "extract", r)
        expect(px.count("blob", "GET", 200) >= 2, "the whole blob twice", px.counts)
        expect(files_of(dest) == files_of(os.path.join(p, "weights")), "files")
        leftovers = [n for _, _, names in os.walk(dest) for n in names if n.startswith(".wl-")]
        expect(leftovers == [], "temporary files left", leftovers)
