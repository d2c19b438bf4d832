#!/usr/bin/env python3
"""Registry benchmarks (make bench): push and pull of one entry with two
1 GiB raw layers and a 2,000-file bundle, over loopback, to Debian's
docker-registry started here, against references measured in the same run:

  push: skopeo copy oci:LAYOUT docker://... of the same layout, and a
        ceiling of parallel curl PUTs of the same blobs (monolithic uploads,
        one POST each first);
  pull: skopeo copy docker://... oci:DIR (which writes blobs and checks no
        file) against weightslock pull into an empty store (every file
        verified and fsynced).

Prints times, ratios and peak memory; asserts nothing about time.

    bench/registry.py WEIGHTSLOCK OUTDIR [GIB]
"""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "servers"))
from registry import Registry  # noqa: E402


def timed(argv):
    """Seconds of a command, output discarded."""
    t0 = time.monotonic()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("bench registry: %s failed: %s" % (" ".join(argv[:3]), p.stderr.decode(errors="replace")[-500:]))
    return t


def peak_of(argv):
    """Runs argv and returns (seconds, peak RSS MiB) from its own rusage."""
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.execvp(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    t = time.monotonic() - t0
    if status != 0:
        sys.exit("bench registry: %s failed" % " ".join(argv[:3]))
    return t, usage.ru_maxrss / 1024.0


def make_project(root, gib):
    proj = os.path.join(root, "reg-proj")
    stamp = os.path.join(proj, ".complete")
    if os.path.exists(stamp):
        return proj
    shutil.rmtree(proj, ignore_errors=True)
    w = os.path.join(proj, "weights")
    os.makedirs(os.path.join(w, "small"))
    print("bench registry: generating 2 x %.2f GiB + 2,000 small files (once)" % gib, flush=True)
    for i in range(2):
        with open(os.path.join(w, "model-%05d.safetensors" % i), "wb") as f:
            for _ in range(int(gib * 64)):
                f.write(os.urandom(16 << 20))
    for i in range(2000):
        with open(os.path.join(w, "small", "f%04d.json" % i), "wb") as f:
            f.write(os.urandom(1000 + (i * 37) % 20000))
    with open(os.path.join(proj, "cog.yaml"), "w") as f:
        f.write("image: x\nweights:\n  - name: m\n    target: /src/m\n    source:\n      uri: ./weights\n")
    open(stamp, "w").close()
    return proj


def curl_ceiling(reg, layout, blobs):
    """Parallel monolithic PUTs of the blobs with curl to a fresh repository."""
    args = ["curl", "-sS", "--no-progress-meter", "--fail", "--parallel", "--parallel-max", "4", "-X", "PUT",
            "-H", "Content-Type: application/octet-stream"]
    for d in blobs:
        req = urllib.request.Request(reg.url + "/v2/curl/m/blobs/uploads/", data=b"", method="POST")
        with urllib.request.urlopen(req) as resp:
            loc = resp.headers["Location"]
        if loc.startswith("/"):
            loc = reg.url + loc
        sep = "&" if "?" in loc else "?"
        args += ["-T", os.path.join(layout, "blobs", "sha256", d[7:]), loc + sep + "digest=" + d.replace(":", "%3A")]
    t0 = time.monotonic()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


def main():
    wl, out = sys.argv[1], sys.argv[2]
    gib = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    for tool in ("skopeo", "curl", "docker-registry"):
        if shutil.which(tool) is None:
            print("bench registry: %s not installed: skipping" % tool)
            return 0
    proj = make_project(out, gib)
    layout = os.path.join(out, "reg-layout")
    if not os.path.exists(os.path.join(layout, "index.json")):
        subprocess.run([wl, "-C", proj, "-q", "import", "--no-cache", "--oci-layout", layout], check=True)
    lock = json.load(open(os.path.join(proj, "weights.lock")))
    e = lock["weights"][0]
    manifest = json.load(open(os.path.join(layout, "blobs", "sha256", e["digest"][7:])))
    blobs = [l["digest"] for l in e["layers"]] + [manifest["config"]["digest"]]
    total = sum(l["size"] for l in e["layers"])
    print("bench registry: %d layers, %.2f GiB" % (len(e["layers"]), total / (1 << 30)))
    with Registry(workdir=out) as reg:
        t_skopeo = timed(["skopeo", "copy", "--dest-tls-verify=false", "--preserve-digests", "oci:%s:m" % layout,
                          "docker://%s/sk/m:v1" % reg.host])
        t_curl = curl_ceiling(reg, layout, blobs)
        t_push, rss_push = peak_of([wl, "-C", proj, "-q", "push", "--plain-http", "--repository",
                                    reg.host + "/wl/m", "--oci-layout", layout])
        print("bench registry: push  skopeo copy %6.2f s | curl PUTs %6.2f s | weightslock %6.2f s (%.0f MiB peak)"
              % (t_skopeo, t_curl, t_push, rss_push))
        print("bench registry: push vs skopeo = %.2fx (target >= 1.0x); vs the curl ceiling = %.2fx (target >= 0.9x)"
              % (t_skopeo / t_push, t_curl / t_push))
        sk_out = os.path.join(out, "reg-skopeo-out")
        shutil.rmtree(sk_out, ignore_errors=True)
        t_skpull = timed(["skopeo", "copy", "--src-tls-verify=false", "--preserve-digests",
                          "docker://%s/wl/m:weights-m-%s" % (reg.host, e["setDigest"][7:19]), "oci:%s:m" % sk_out])
        store = os.path.join(out, "reg-store")
        shutil.rmtree(store, ignore_errors=True)
        t_pull, rss_pull = peak_of([wl, "-C", proj, "-q", "pull", "--plain-http", "--repository", reg.host + "/wl/m",
                                    "--store", store])
        print("bench registry: pull  skopeo copy %6.2f s | weightslock pull (every file verified) %6.2f s "
              "(%.0f MiB peak)" % (t_skpull, t_pull, rss_pull))
        print("bench registry: pull vs skopeo = %.2fx (target >= 1.2x)" % (t_skpull / t_pull))
        shutil.rmtree(sk_out, ignore_errors=True)
        shutil.rmtree(store, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
