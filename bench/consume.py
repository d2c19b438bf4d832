#!/usr/bin/env python3
"""Benchmarks of the consumer side (`make bench`): `weightslock extract` and
`weightslock verify` of a weight in page cache, against references measured
in the same run. Prints ratios and peak RSS; asserts nothing about time.

    consume.py WEIGHTSLOCK BUILD_DIR

The data: two 1 GiB incompressible .safetensors (raw tar layers; taken from
BUILD_DIR/bench/data/big when bench/import.py made them, else generated)
and a bundle of 2,000 small files (one tar+gzip layer), imported once with
--oci-layout into BUILD_DIR/bench/consume.

- extract into a fresh DEST vs `tar -x` of the same layers as two processes
  in parallel, then `sha256sum` of the extracted files, also as two
  processes (target: extract <= 1.1x that);
- verify of the tree vs `openssl dgst -sha256` of the same files as two
  processes splitting them (target: >= 0.9x its throughput).
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

GiB = 1 << 30
MiB = 1 << 20
NAME = "bench"


GNU_TIME = "/usr/bin/time"


def run(argv, cwd=None):
    """(seconds, peak RSS bytes) of one run; output discarded. The RSS comes
    from GNU time when it is installed: a child forked from this Python
    process would count Python's own pages in its peak."""
    rss_file = None
    if os.access(GNU_TIME, os.X_OK):
        fd, rss_file = tempfile.mkstemp(prefix="wl-bench-rss-")
        os.close(fd)
        argv = [GNU_TIME, "-f", "%M", "-o", rss_file] + list(argv)
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            if cwd:
                os.chdir(cwd)
            fd = os.open(os.devnull, os.O_WRONLY)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    t = time.perf_counter() - t0
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        sys.exit("bench: %s failed (status %d)" % (" ".join(argv), status))
    rss = usage.ru_maxrss * 1024
    if rss_file:
        with open(rss_file) as f:
            rss = int(f.read().split()[-1]) * 1024
        os.remove(rss_file)
    return t, rss


def best(argv, runs=3, before=None):
    times, rss = [], 0
    for _ in range(runs):
        if before:
            before()
        t, r = run(argv)
        times.append(t)
        rss = max(rss, r)
    return min(times), rss


def duel(ref, ours, runs=5, before_ref=None, before_ours=None):
    """Best times of a reference and of weightslock, run alternately so that
    other load on the machine hits both alike; and weightslock's peak RSS."""
    t_ref, t_ours, rss = [], [], 0
    for _ in range(runs):
        if before_ref:
            before_ref()
        t_ref.append(run(ref)[0])
        if before_ours:
            before_ours()
        t, r = run(ours)
        t_ours.append(t)
        rss = max(rss, r)
    return min(t_ref), min(t_ours), rss


def files_under(d):
    out = []
    for base, dirs, names in os.walk(d):
        if base == d and ".cog" in dirs:
            dirs.remove(".cog")
        out += [os.path.join(base, n) for n in names]
    return sorted(out)


def warm(paths):
    for p in paths:
        with open(p, "rb") as f:
            while f.read(16 * MiB):
                pass


def split_two(paths):
    """Two lists of about equal bytes, largest files first."""
    halves, sizes = ([], []), [0, 0]
    for p in sorted(paths, key=os.path.getsize, reverse=True):
        k = 0 if sizes[0] <= sizes[1] else 1
        halves[k].append(p)
        sizes[k] += os.path.getsize(p)
    return halves


def both_cores(commands):
    """A shell line running each command in the background, then waiting
    for all; fails when any fails."""
    parts = ["%s & p%d=$!" % (c, i) for i, c in enumerate(commands)]
    waits = " && ".join("wait $p%d" % i for i in range(len(commands)))
    return ["sh", "-c", "; ".join(parts) + "; " + waits]


def q(p):
    return "'" + p.replace("'", "'\\''") + "'"


def file_list(path, paths):
    """Writes NUL-separated paths for `xargs -0 -a` (a command line holding
    2,000 paths would exceed the kernel's limit on one argument)."""
    with open(path, "wb") as f:
        f.write(b"".join(p.encode() + b"\0" for p in paths))
    return q(path)


def make_source(root, build):
    """root/big/*.safetensors (hard links to bench/import.py's when they
    exist) and root/small/ with 2,000 files of 1-50 KiB."""
    stamp = os.path.join(root, ".complete")
    if os.path.exists(stamp):
        return
    shutil.rmtree(root, ignore_errors=True)
    big = os.path.join(root, "big")
    os.makedirs(big)
    shared = os.path.join(build, "bench", "data", "big")
    for name in ("model-00001.safetensors", "model-00002.safetensors"):
        have = os.path.join(shared, name)
        dst = os.path.join(big, name)
        if os.path.isfile(have) and os.path.getsize(have) == GiB:
            try:
                os.link(have, dst)
                continue
            except OSError:
                pass
        print("bench: generating %s (once)" % dst, flush=True)
        with open(dst, "wb") as f:
            for _ in range(GiB // (16 * MiB)):
                f.write(os.urandom(16 * MiB))
    rnd = random.Random(11)
    for i in range(2000):
        d = os.path.join(root, "small", "part%02d" % (i % 40))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "file%04d.json" % i), "wb") as f:
            f.write(os.urandom(rnd.randint(1024, 50 * 1024)))
    open(stamp, "w").close()


def report(label, value, target, higher_is_better=True):
    ok = value >= target if higher_is_better else value <= target
    print("  %-58s %6.2fx  (target %s %.2fx: %s)" % (label, value, ">=" if higher_is_better else "<=",
                                                      target, "met" if ok else "NOT MET"))


def main():
    wl, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    top = os.path.join(build, "bench", "consume")
    src = os.path.join(top, "src")
    proj = os.path.join(top, "proj")
    layout = os.path.join(top, "layout")
    make_source(src, build)
    os.makedirs(proj, exist_ok=True)
    with open(os.path.join(proj, "cog.yaml"), "w") as f:
        f.write("image: x\nweights:\n  - name: %s\n    target: /src/weights/%s\n    source:\n      uri: %s\n"
                % (NAME, NAME, src))
    r = subprocess.run([wl, "-C", proj, "-q", "import", "--cache-dir", os.path.join(top, "cache"),
                        "--oci-layout", layout], stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit("bench: import failed: %s" % r.stderr.decode(errors="replace"))
    files = files_under(src)
    total = sum(os.path.getsize(p) for p in files)
    blobs = files_under(os.path.join(layout, "blobs"))
    warm(files + blobs)
    print("consumer data: %d files, %.2f GiB, %d blobs, in page cache" % (len(files), total / GiB, len(blobs)))

    # ---- verify ----
    halves = split_two(files)
    ref = both_cores(["xargs -0 -a %s openssl dgst -sha256 >/dev/null" % file_list(os.path.join(top, "verify-%d.list" % i), h)
                      for i, h in enumerate(halves)])
    t_ref, t_ver, rss = duel(ref, [wl, "-C", proj, "verify", NAME, src])
    print("openssl dgst -sha256, two processes: %6.2f s  %6.2f GB/s" % (t_ref, total / t_ref / 1e9))
    print("weightslock verify:                  %6.2f s  %6.2f GB/s  peak RSS %.0f MB"
          % (t_ver, total / t_ver / 1e9, rss / 1e6))
    report("verify throughput vs two openssl dgst processes", t_ref / t_ver, 0.9)
    t_sizes, rss = best([wl, "-C", proj, "verify", "--sizes-only", NAME, src])
    print("weightslock verify --sizes-only:     %6.3f s  peak RSS %.0f MB" % (t_sizes, rss / 1e6))

    # ---- extract ----
    if subprocess.run([wl, "help", "extract"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        print("extract not available yet: its measurement is skipped")
        return
    dest = os.path.join(top, "dest")
    ref_dest = os.path.join(top, "ref-dest")

    def fresh(d):
        return lambda: (shutil.rmtree(d, ignore_errors=True), os.makedirs(d))

    layers = sorted(blobs, key=os.path.getsize, reverse=True)[:3]  # two raw layers and the bundle
    tars = split_two(layers)
    untar = both_cores(["for b in %s; do tar -xf \"$b\" -C %s || exit 1; done" % (" ".join(q(p) for p in h), q(ref_dest))
                        for h in tars])
    # The same files, once extracted, split the same way as for verify.
    sums = both_cores(["cd %s && xargs -0 -a %s sha256sum >/dev/null" % (
        q(ref_dest), file_list(os.path.join(top, "sums-%d.list" % i), [os.path.relpath(p, src) for p in h]))
        for i, h in enumerate(halves)])
    ref = ["sh", "-c", "%s && %s" % (" ".join(q(a) for a in untar), " ".join(q(a) for a in sums))]
    t_ref, t_ext, rss = duel(ref, [wl, "-C", proj, "extract", "--oci-layout", layout, NAME, dest], runs=3,
                             before_ref=fresh(ref_dest), before_ours=lambda: shutil.rmtree(dest, ignore_errors=True))
    print("tar -x (two processes), then sha256sum (two): %6.2f s" % t_ref)
    print("weightslock extract:                          %6.2f s  peak RSS %.0f MB" % (t_ext, rss / 1e6))
    report("extract time vs tar -x then sha256sum", t_ext / t_ref, 1.1, higher_is_better=False)
    shutil.rmtree(dest, ignore_errors=True)
    shutil.rmtree(ref_dest, ignore_errors=True)


if __name__ == "__main__":
    main()
