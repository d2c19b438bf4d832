"""pull (SPEC.md §17, §18.3; CLI.md pull) from a real docker-registry into
the content store Cog shares: no request when every file is there, only the
layers holding a missing file otherwise, every file verified before it
lands, and a pull killed in the middle resumed without fetching a
completed file again.
"""
import json
import os
import signal
import subprocess
import sys
import time

from wltest import BIN, expect, expect_error, read, run, sha256, write

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "servers"))
from registry import FaultProxy, Registry  # noqa: E402

FILES = {"a.safetensors": 2_000_000, "b.safetensors": 600_000, "c.json": 100, "d/e.txt": 50}


def project(tmp):
    """Standalone layers for the two big files (--bundle-file-max 1000), a
    bundle for the small ones."""
    p = os.path.join(tmp, "proj")
    for rel, size in FILES.items():
        path = os.path.join(p, "weights", rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write(path, os.urandom(size))
    write(os.path.join(p, "cog.yaml"), "image: x\nweights:\n  - name: w\n    target: /src/w\n"
                                       "    source:\n      uri: ./weights\n")
    layout = os.path.join(tmp, "layout")
    r = run(["-C", p, "-q", "import", "--no-cache", "--bundle-file-max", "1000", "--oci-layout", layout])
    expect(r.rc == 0, "import", r)
    lock = json.loads(read(os.path.join(p, "weights.lock")))
    return p, layout, lock["weights"][0]


def store_file(store, digest):
    return os.path.join(store, "files", "sha256", digest[7:9], digest[7:])


def push(p, host):
    r = run(["-C", p, "push", "--plain-http", "--repository", host + "/m/w", "--oci-layout",
             os.path.join(os.path.dirname(p), "layout")], timeout=120)
    expect(r.rc == 0, "push", r)


def pull(p, host, store, *extra):
    return run(["-C", p, "pull", "--plain-http", "--repository", host + "/m/w", "--store", store] + list(extra),
               timeout=120)


def test_pull_fills_the_store_then_costs_no_request(tmp):
    p, layout, e = project(tmp)
    store = os.path.join(tmp, "store")
    with Registry() as reg, FaultProxy(reg) as px:
        push(p, px.host)
        r = pull(p, px.host, store)
        total = sum(FILES.values())
        expect(r.rc == 0 and r.out.decode() == "w: pulled 4 files, %d bytes\n" % total, "pull", r)
        for f in e["files"]:
            path = store_file(store, f["digest"])
            expect(sha256(read(path)) == f["digest"][7:], "store file", f)
            expect(os.stat(path).st_mode & 0o777 == 0o644, "mode", oct(os.stat(path).st_mode))
            src = read(os.path.join(p, "weights", f["path"]))
            expect(read(path) == src, "content", f["path"])
        leftovers = [n for _, _, names in os.walk(store) for n in names if n.startswith("put-")]
        expect(leftovers == [], "temporary files left", leftovers)
        px.reset_log()
        r = pull(p, px.host, store)
        expect(r.rc == 0 and r.out.decode() == "w: cached\n", "cached", r)
        expect(px.requests == [], "requests for a cached entry", [(q.method, q.path) for q in px.requests])


def test_pull_fetches_only_the_layers_that_hold_a_missing_file(tmp):
    p, layout, e = project(tmp)
    store = os.path.join(tmp, "store")
    with Registry() as reg, FaultProxy(reg) as px:
        push(p, px.host)
        expect(pull(p, px.host, store).rc == 0, "first pull")
        b = [f for f in e["files"] if f["path"] == "b.safetensors"][0]
        os.remove(store_file(store, b["digest"]))
        px.reset_log()
        r = pull(p, px.host, store)
        expect(r.rc == 0 and r.out.decode() == "w: pulled 1 file, %d bytes\n" % b["size"], "partial pull", r)
        blob_gets = [q.path for q in px.requests if q.method == "GET" and "/blobs/" in q.path]
        # the config blob, and the one layer
        expect(sum(b["layer"] in q for q in blob_gets) == 1 and len(blob_gets) == 2, "blob GETs", blob_gets)


def test_a_killed_pull_resumes_without_fetching_a_completed_file(tmp):
    p, layout, e = project(tmp)
    store = os.path.join(tmp, "store")
    a = [f for f in e["files"] if f["path"] == "a.safetensors"][0]
    b = [f for f in e["files"] if f["path"] == "b.safetensors"][0]
    with Registry() as reg, FaultProxy(reg) as px:
        push(p, px.host)
        px.reset_log()
        # Layers go largest first on one job: a's layer completes, b's is held.
        px.delay(30, "GET", "/blobs/" + b["layer"])
        proc = subprocess.Popen([BIN, "-C", p, "pull", "--plain-http", "--repository", px.host + "/m/w",
                                 "--store", store, "--jobs", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while not os.path.exists(store_file(store, a["digest"])) and time.monotonic() < deadline:
            time.sleep(0.05)
        expect(os.path.exists(store_file(store, a["digest"])), "a's file landed")
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        expect(not os.path.exists(store_file(store, b["digest"])), "b's file under its name")
        a_bytes = sum(q.sent for q in px.requests if a["layer"] in q.path)
        px.clear_faults()
        px.reset_log()
        r = pull(p, px.host, store)
        expect(r.rc == 0 and r.out.decode().startswith("w: pulled "), "resumed pull", r)
        expect(not any(a["layer"] in q.path for q in px.requests), "a's layer fetched again",
               [(q.method, q.path) for q in px.requests])
        expect(a_bytes > a["size"], "a's layer was fetched the first time", a_bytes)
        for f in e["files"]:
            expect(sha256(read(store_file(store, f["digest"]))) == f["digest"][7:], "store file", f)


def test_pull_errors_a_user_can_reach(tmp):
    p, layout, e = project(tmp)
    store = os.path.join(tmp, "store")
    with Registry() as reg:
        r = pull(p, reg.host, store)
        expect_error(r, 'weight "w"', "manifest %s is not in" % e["digest"])
        expect(not os.path.exists(os.path.join(store, "files")), "the store was written")
        push(p, reg.host)
        r = pull(p, reg.host, store, "nope")
        expect_error(r, 'weight "nope" is not in the lockfile')
        # A standalone (tar) layer altered in the registry: content mismatch, nothing stored for it.
        b = [f for f in e["files"] if f["path"] == "b.safetensors"][0]
        path = reg.blob_path(b["layer"])
        data = bytearray(read(path))
        data[len(data) // 2] ^= 1
        with open(path, "wb") as f:
            f.write(bytes(data))
        r = pull(p, reg.host, store, "--jobs", "1")
        expect(r.rc == 1 and b"b.safetensors" in r.err, "mismatch", r)
        expect(not os.path.exists(store_file(store, b["digest"])), "a corrupt file landed")
        leftovers = [n for _, _, names in os.walk(store) for n in names if n.startswith("put-")]
        expect(leftovers == [], "temporary files left", leftovers)


def test_a_registry_that_ignores_range_restarts_the_layer(tmp):
    # The download of a layer drops; the resumed request is answered 200
    # with the whole blob: the layer starts over and everything is verified.
    p, layout, e = project(tmp)
    store = os.path.join(tmp, "store")
    a = [f for f in e["files"] if f["path"] == "a.safetensors"][0]
    with Registry() as reg, FaultProxy(reg) as px:
        push(p, px.host)
        px.reset_log()
        px.drop_response(500_000, "GET", "/blobs/" + a["layer"])
        px.ignore_range("GET", "/blobs/" + a["layer"])
        r = pull(p, px.host, store)
        expect(r.rc == 0 and r.out.decode() == "w: pulled 4 files, %d bytes\n" % sum(FILES.values()), "pull", r)
        gets = [q for q in px.requests if q.method == "GET" and a["layer"] in q.path]
        expect(len(gets) == 2 and gets[1].fault == "ignore_range" and gets[1].status == 200, "a 200 after the drop",
               [(q.fault, q.status, q.header("Range")) for q in gets])
        for f in e["files"]:
            expect(sha256(read(store_file(store, f["digest"]))) == f["digest"][7:], "store file", f)
        leftovers = [n for _, _, names in os.walk(store) for n in names if n.startswith("put-")]
        expect(leftovers == [], "temporary files left", leftovers)


BUNDLE_FILES = 40
BUNDLE_FILE_SIZE = 50_000
CUT = 1_000_000  # bytes of the bundle sent before the transfer hangs


def bundle_project(tmp):
    """One tar+gzip layer of 40 incompressible files (about 2 MB)."""
    p = os.path.join(tmp, "bproj")
    os.makedirs(os.path.join(p, "weights", "s"))
    for i in range(BUNDLE_FILES):
        write(os.path.join(p, "weights", "s", "f%02d.bin" % i), os.urandom(BUNDLE_FILE_SIZE))
    write(os.path.join(p, "cog.yaml"), "image: x\nweights:\n  - name: w\n    target: /src/w\n"
                                       "    source:\n      uri: ./weights\n")
    layout = os.path.join(tmp, "layout")
    r = run(["-C", p, "-q", "import", "--no-cache", "--oci-layout", layout])
    expect(r.rc == 0, "import", r)
    e = json.loads(read(os.path.join(p, "weights.lock")))["weights"][0]
    expect(len(e["layers"]) == 1 and e["layers"][0]["size"] > 2 * CUT, "one bundle layer", e["layers"])
    return p, e


def partial_of(store, layer):
    return os.path.join(store, "files", "sha256", layer[7:9], "put-layer-" + layer[7:])


def killed_in_the_bundle(p, px, store, layer, sig):
    """A pull whose bundle download hangs after CUT bytes, stopped with sig
    once those bytes are kept."""
    px.reset_log()
    px.stall_response(CUT, 60, "GET", "/blobs/" + layer)
    proc = subprocess.Popen([BIN, "-C", p, "pull", "--plain-http", "--repository", px.host + "/m/w",
                             "--store", store], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    partial = partial_of(store, layer)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (os.path.exists(partial) and os.path.getsize(partial) >= CUT):
        time.sleep(0.05)
    expect(os.path.exists(partial) and os.path.getsize(partial) == CUT, "the bytes received are kept",
           os.path.getsize(partial) if os.path.exists(partial) else None)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    px.clear_faults()
    px.reset_log()
    return proc.returncode, err


def layer_gets(px, layer):
    """The proxy's GETs of the layer's blob, oldest first."""
    return [q for q in px.requests if q.method == "GET" and layer["digest"] in q.path]


def bundle_pushed(tmp, reg, px):
    """The bundle project pushed through the proxy: (project, entry, layer, store)."""
    p, e = bundle_project(tmp)
    push(p, px.host)
    return p, e, e["layers"][0], os.path.join(tmp, "store")


def check_store(store, e):
    for f in e["files"]:
        expect(sha256(read(store_file(store, f["digest"]))) == f["digest"][7:], "store file", f["path"])
    leftovers = [n for _, _, names in os.walk(store) for n in names if n.startswith("put-")]
    expect(leftovers == [], "temporary files left", leftovers)


def test_a_pull_killed_inside_a_bundle_fetches_only_the_rest(tmp):
    with Registry() as reg, FaultProxy(reg) as px:
        p, e, layer, store = bundle_pushed(tmp, reg, px)
        rc, _ = killed_in_the_bundle(p, px, store, layer["digest"], signal.SIGKILL)
        expect(rc == -signal.SIGKILL, "killed", rc)
        r = pull(p, px.host, store)
        expect(r.rc == 0 and r.out.decode() == "w: pulled %d files, %d bytes\n"
               % (BUNDLE_FILES, BUNDLE_FILES * BUNDLE_FILE_SIZE), "resumed pull", r)
        gets = layer_gets(px, layer)
        expect(len(gets) == 1 and gets[0].header("Range") == "bytes=%d-" % CUT and gets[0].status == 206,
               "one ranged request", [(q.status, q.header("Range")) for q in gets])
        expect(gets[0].sent == layer["size"] - CUT, "bytes fetched again", gets[0].sent, layer["size"] - CUT)
        check_store(store, e)


def test_an_interrupted_pull_keeps_its_bytes_and_corrupt_kept_bytes_are_refetched(tmp):
    with Registry() as reg, FaultProxy(reg) as px:
        p, e, layer, store = bundle_pushed(tmp, reg, px)
        # Ctrl-C: the pull stops with an error; the bytes stay for the next one.
        rc, err = killed_in_the_bundle(p, px, store, layer["digest"], signal.SIGINT)
        expect(rc != 0 and b"canceled" in err, "interrupted", rc, err)
        expect(os.path.getsize(partial_of(store, layer["digest"])) == CUT, "the bytes kept")
        # The kept bytes changed on disk: replaying them fails the checks, and
        # the layer is fetched whole, with nothing wrong landing.
        with open(partial_of(store, layer["digest"]), "r+b") as f:
            f.seek(CUT // 2)
            f.write(os.urandom(1000))
        r = pull(p, px.host, store)
        expect(r.rc == 0, "pull after corruption", r)
        gets = layer_gets(px, layer)
        expect([(q.status, q.header("Range")) for q in gets] == [(200, None)], "fetched whole",
               [(q.status, q.header("Range")) for q in gets])
        check_store(store, e)
        # Kept bytes whose damage shows only after the rest came: the layer
        # fails its digest, then is fetched whole once more.
        for f in e["files"]:
            os.unlink(store_file(store, f["digest"]))
        data = read(reg.blob_path(layer["digest"]))[:CUT - 10] + b"\0" * 10
        write(partial_of(store, layer["digest"]), data)
        px.reset_log()
        r = pull(p, px.host, store)
        expect(r.rc == 0, "pull after a damaged tail", r)
        gets = layer_gets(px, layer)
        expect([q.header("Range") for q in gets] in (["bytes=%d-" % CUT, None], [None]), "refetched whole",
               [(q.status, q.header("Range")) for q in gets])
        expect(gets[-1].status == 200 and gets[-1].sent == layer["size"], "the whole layer", gets[-1].sent)
        check_store(store, e)
        # Every file present: no request at all, nothing kept.
        px.reset_log()
        r = pull(p, px.host, store)
        expect(r.rc == 0 and px.requests == [], "cached", r, px.requests)


def test_pull_takes_timeout_as_every_registry_command(tmp):
    # CLI.md: --timeout SECONDS (stall per request) is shared by every registry command.
    p, layout, e = project(tmp)
    store = os.path.join(tmp, "store")
    with Registry() as reg:
        push(p, reg.host)
        r = pull(p, reg.host, store, "--timeout", "5")
        expect(r.rc == 0 and r.out.decode() == "w: pulled 4 files, %d bytes\n" % sum(FILES.values()), "pull", r)
        r = pull(p, reg.host, store, "--timeout", "x")
        expect_error(r, "--timeout", "'x'")
