"""The round trip through a real registry: import a generated directory with
`--oci-layout`, push the layout to Debian's docker-registry (started here on
127.0.0.1) with skopeo, copy it back into a fresh layout, extract, verify.
The tree must equal the source, and the lockfile, the manifest and every
blob must be byte-identical after the trip.

Needs the Debian packages skopeo and docker-registry (scripts/install-deps.sh
installs them; this test tries apt-get itself when they are missing). When
the registry cannot be started the test fails, saying why: it never skips.
"""
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from wltest import expect, read, run, write

REGISTRY = "/usr/bin/docker-registry"
NAME = "model"

COG_YAML = """image: r8.im/example/model
weights:
  - name: %s
    target: /src/weights/%s
    source:
      uri: ./weights
""" % (NAME, NAME)


def tools_installed():
    return os.access(REGISTRY, os.X_OK) and shutil.which("skopeo") is not None


def ensure_tools():
    """Installs skopeo and docker-registry with apt-get when missing."""
    if tools_installed():
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    install = sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "docker-registry", "skopeo"]
    for argv in (install, sudo + ["apt-get", "update", "-qq"], install):
        try:
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if tools_installed():
            return
    raise AssertionError("cannot start the registry: docker-registry and skopeo are not installed and "
                         "`apt-get install docker-registry skopeo` failed (run scripts/install-deps.sh)")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """docker-registry serving from a directory under `tmp` on 127.0.0.1."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.proc = None
        self.log_path = os.path.join(tmp, "registry.log")

    def __enter__(self):
        self.port = free_port()
        config = os.path.join(self.tmp, "registry.yml")
        write(config, "version: 0.1\n"
                      "log:\n  level: warn\n"
                      "storage:\n  filesystem:\n    rootdirectory: %s\n"
                      "http:\n  addr: 127.0.0.1:%d\n" % (os.path.join(self.tmp, "registry-data"), self.port))
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([REGISTRY, "serve", config], stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/v2/" % self.port, timeout=1) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                why = "exited with status %s" % self.proc.returncode if self.proc.poll() is not None \
                    else "did not answer on /v2/ within 10 s"
                self.stop()
                raise AssertionError("cannot start the registry: %s %s; its log: %r" % (
                    REGISTRY, why, read(self.log_path)[-1500:]))
            time.sleep(0.05)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        if getattr(self, "log", None) is not None:
            self.log.close()
            self.log = None

    def __exit__(self, *exc):
        self.stop()

    def ref(self, name):
        return "docker://127.0.0.1:%d/weights/%s:%s" % (self.port, name, name)


def skopeo(*args):
    p = subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--preserve-digests"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    expect(p.returncode == 0, "skopeo copy %s failed: %r" % (" ".join(args), p.stderr[-2000:]))


def put(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write(path, data)


def make_source(root):
    """Bundled small files (tar+gzip), raw .safetensors layers (tar) and a
    compressible standalone file (tar+gzip), in nested directories."""
    rnd = random.Random(12)
    for i in range(60):
        put(os.path.join(root, "tokenizer" if i % 3 else "configs/deep/er", "f%02d.json" % i),
              bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 9000))))
    for i in range(2):
        put(os.path.join(root, "model-%05d.safetensors" % (i + 1)), os.urandom((3 << 20) + i * 4099))
    words = [b"alpha", b"beta", b"gamma", b"delta"]
    put(os.path.join(root, "train", "optimizer.ckpt"),
          b" ".join(rnd.choice(words) for _ in range(400000)))
    put(os.path.join(root, "README.md"), b"# model\n")


def tree(root, skip_top_cog=False):
    """{relative path: sha256} of every file under root; a non-regular
    entry fails the comparison."""
    out = {}
    for d, dirs, files in os.walk(root):
        if skip_top_cog and d == root and ".cog" in dirs:
            dirs.remove(".cog")
        for f in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            p = os.path.join(d, f)
            expect(os.path.isfile(p) and not os.path.islink(p), "not a regular file: %s" % p)
            out[os.path.relpath(p, root)] = hashlib.sha256(read(p)).hexdigest()
    return out


def blobs(layout):
    d = os.path.join(layout, "blobs", "sha256")
    return {name: read(os.path.join(d, name)) for name in os.listdir(d)}


def test_round_trip_through_a_registry(tmp):
    started = time.monotonic()
    ensure_tools()
    proj = os.path.join(tmp, "proj")
    src = os.path.join(proj, "weights")
    layout = os.path.join(tmp, "layout")
    fresh = os.path.join(tmp, "fresh")
    dest = os.path.join(tmp, "dest")
    make_source(src)
    write(os.path.join(proj, "cog.yaml"), COG_YAML)
    r = run(["-C", proj, "import", "--no-cache", "--bundle-file-max", "1048576", "--bundle-size-max", "131072",
             "--oci-layout", layout])
    expect(r.rc == 0, "import failed", r)
    lock_bytes = read(os.path.join(proj, "weights.lock"))
    entry = json.loads(lock_bytes)["weights"][0]
    media_types = {layer["mediaType"] for layer in entry["layers"]}
    expect(len(entry["layers"]) >= 4 and len(media_types) == 2, "want several tar and tar+gzip layers", entry)
    manifest_hex = entry["digest"].split(":", 1)[1]
    original = blobs(layout)
    expect(manifest_hex in original, "the layout holds the manifest")
    r = run(["-C", proj, "manifest", NAME])
    expect(r.rc == 0 and r.out == original[manifest_hex], "the layout's manifest is the projected one", r)

    with Registry(tmp) as registry:
        skopeo("--dest-tls-verify=false", "oci:%s:%s" % (layout, NAME), registry.ref(NAME))
        skopeo("--src-tls-verify=false", registry.ref(NAME), "oci:%s:%s" % (fresh, NAME))

    # Byte for byte: the same set of blobs, manifest included, each identical.
    back = blobs(fresh)
    expect(sorted(back) == sorted(original), "blob sets differ after the trip", sorted(back), sorted(original))
    for name, data in original.items():
        expect(back[name] == data, "blob %s differs after the trip" % name)
        expect(hashlib.sha256(data).hexdigest() == name, "blob %s is not named by its digest" % name)
    index = json.loads(read(os.path.join(fresh, "index.json")))
    expect(any(m["digest"] == entry["digest"] for m in index["manifests"]), "fresh index names the manifest", index)

    r = run(["help", "extract"])
    expect(r.rc == 0, "extract not available: `weightslock help extract` exits %d, so the trip cannot be "
                      "completed (extract the fresh layout, then verify)" % r.rc, r)
    r = run(["-C", proj, "extract", "--oci-layout", fresh, NAME, dest], timeout=120)
    expect(r.rc == 0, "extract from the fresh layout failed", r)
    r = run(["-C", proj, "verify", NAME, dest])
    expect(r.rc == 0 and r.out == b"", "verify of the extracted tree", r)
    expect(tree(dest, skip_top_cog=True) == tree(src), "the extracted tree differs from the source")

    # Nothing moved: the lockfile is as imported, and importing again from
    # the same source into the layout changes neither it nor any blob.
    expect(read(os.path.join(proj, "weights.lock")) == lock_bytes, "lockfile changed during the trip")
    r = run(["-C", proj, "import", "--no-cache", "--bundle-file-max", "1048576", "--bundle-size-max", "131072",
             "--oci-layout", layout])
    expect(r.rc == 0, "re-import failed", r)
    expect(read(os.path.join(proj, "weights.lock")) == lock_bytes, "re-import changed the lockfile")
    expect(blobs(layout) == original, "re-import changed the layout's blobs")
    r = run(["-C", proj, "check"])
    expect(r.rc == 0, "check after the trip", r)
    elapsed = time.monotonic() - started
    expect(elapsed < 60, "the round trip took %.1f s" % elapsed)
