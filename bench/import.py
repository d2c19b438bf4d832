#!/usr/bin/env python3
"""Benchmarks of the producer side (`make bench`): digest and import of a
directory of model files in page cache, against references measured in the
same run. Prints ratios and peak RSS; asserts nothing about time.

    import.py WEIGHTSLOCK BUILD_DIR [PACK_BENCH]

The data set (kept in BUILD_DIR/bench/data between runs): two 1 GiB
incompressible .safetensors files, one 512 MiB compressible .ckpt (a gzip
layer), and 5,000 small files of 1-50 KiB; and for the gzip layers alone
(BUILD_DIR/bench/gzdata) 128 MiB of each of four kinds of compressible
data, one a bundle of small text files.
"""
import os
import random
import re
import shutil
import subprocess
import sys
import time

GiB = 1 << 30
MiB = 1 << 20


def make_data(root):
    stamp = os.path.join(root, ".complete")
    if os.path.exists(stamp):
        return
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "big"))
    os.makedirs(os.path.join(root, "ckpt"))
    print("bench: generating the data set in %s (once)" % root, flush=True)
    for name in ("model-00001.safetensors", "model-00002.safetensors"):
        with open(os.path.join(root, "big", name), "wb") as f:
            for _ in range(GiB // (16 * MiB)):
                f.write(os.urandom(16 * MiB))
    # Compressible: text-like records, about 3:1 with gzip -6.
    rnd = random.Random(7)
    words = [("w%05d" % i).encode() for i in range(4096)]
    with open(os.path.join(root, "ckpt", "model.ckpt"), "wb") as f:
        written = 0
        while written < 512 * MiB:
            chunk = b" ".join(rnd.choice(words) for _ in range(200000)) + b"\n"
            chunk = chunk[: 512 * MiB - written]
            f.write(chunk)
            written += len(chunk)
    small = os.path.join(root, "small")
    for i in range(5000):
        d = os.path.join(small, "part%02d" % (i % 50))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "file%04d.json" % i), "wb") as f:
            f.write(os.urandom(rnd.randint(1024, 50 * 1024)))
    open(stamp, "w").close()


def run(argv, cwd=None):
    """(seconds, peak RSS bytes) of one run; output discarded."""
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
    return t, usage.ru_maxrss * 1024


def best(argv, runs=3, cwd=None, before=None):
    times, rss = [], 0
    for _ in range(runs):
        if before:
            before()
        t, r = run(argv, cwd)
        times.append(t)
        rss = max(rss, r)
    return min(times), rss


def files_under(d):
    out = []
    for base, _, names in os.walk(d):
        out += [os.path.join(base, n) for n in names if not n.startswith(".complete")]
    return sorted(out)


def warm(paths):
    for p in paths:
        with open(p, "rb") as f:
            while f.read(16 * MiB):
                pass


def openssl_limit():
    """Two-core SHA-256 throughput from `openssl speed`, bytes/s."""
    r = subprocess.run(["openssl", "speed", "-evp", "sha256", "-bytes", str(16 * MiB), "-multi", "2"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True)
    m = re.search(r"^evp\s+.*?([0-9.]+)k\s*$", r.stdout, re.M) or re.search(r"sha256.*?([0-9.]+)k\s*$", r.stdout, re.M)
    if not m:
        sys.exit("bench: cannot read openssl speed output:\n" + r.stdout)
    return float(m.group(1)) * 1000


def project(root, name, sub):
    """A Cog project whose one weight is root/sub."""
    p = os.path.join(root, "..", "proj-" + name)
    p = os.path.normpath(p)
    shutil.rmtree(p, ignore_errors=True)
    os.makedirs(p)
    with open(os.path.join(p, "cog.yaml"), "w") as f:
        f.write("image: x\nweights:\n  - name: %s\n    target: /src/weights/%s\n    source:\n      uri: %s\n"
                % (name, name, os.path.join(root, sub)))
    return p


def report(label, value, target, higher_is_better=True):
    ok = value >= target if higher_is_better else value <= target
    print("  %-58s %6.2fx  (target %s %.2fx: %s)" % (label, value, ">=" if higher_is_better else "<=",
                                                      target, "met" if ok else "NOT MET"))


def make_gzip_data(root):
    """Four kinds of compressible data, 128 MiB each (one a bundle of small
    files), kept between runs."""
    stamp = os.path.join(root, ".complete")
    if os.path.exists(stamp):
        return
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "bundle"))
    print("bench: generating the gzip data set in %s (once)" % root, flush=True)
    rnd = random.Random(11)
    size = 128 * MiB
    words = [("w%05d" % i).encode() for i in range(4096)]
    with open(os.path.join(root, "words.ckpt"), "wb") as f:
        n = 0
        while n < size:
            c = (b" ".join(rnd.choice(words) for _ in range(200000)) + b"\n")[: size - n]
            f.write(c)
            n += len(c)
    with open(os.path.join(root, "records.jsonl"), "wb") as f:
        n = 0
        while n < size:
            c = b"".join(b'{"id": %d, "score": %.6f, "token": "t%d"}\n'
                         % (n + i, rnd.random(), rnd.randint(0, 50000)) for i in range(20000))[: size - n]
            f.write(c)
            n += len(c)
    import array
    with open(os.path.join(root, "weights.h5"), "wb") as f:
        for _ in range(size // (4 * MiB)):
            f.write(array.array("f", (rnd.gauss(0, 0.02) for _ in range(MiB))).tobytes())
    # A bundle: 2,000 source-like and JSON text files of 1-127 KiB.
    n, i = 0, 0
    while n < size:
        kind = i % 2
        length = rnd.randint(1024, 127 * 1024)
        if kind == 0:
            line = lambda: b"    %s = %s(%s, %d)\n" % (rnd.choice(words), rnd.choice(words),  # noqa: E731
                                                      rnd.choice(words), rnd.randint(0, 999))
        else:
            line = lambda: b'  "%s": [%.4f, %.4f],\n' % (rnd.choice(words), rnd.random(), rnd.random())  # noqa: E731
        body = bytearray()
        while len(body) < length:
            body += line()
        name = "f%04d.%s" % (i, "py" if kind == 0 else "json")
        with open(os.path.join(root, "bundle", name), "wb") as f:
            f.write(body[:length])
        n += length
        i += 1
    open(stamp, "w").close()


def gzip_layers(root, pack_bench):
    """Each kind of data: `gzip -6` on one core against the gzip layer
    wl_pack_layer makes of it (a bundle is compared as its tar stream)."""
    make_gzip_data(root)
    kinds = [("words.ckpt", "text of random words"), ("records.jsonl", "JSON lines"),
             ("weights.h5", "fp32 weights"), ("bundle", "bundle of 2,000 text files")]
    warm(files_under(root))
    print("gzip layers, 128 MiB of each kind (gzip -6 one core | weightslock, every core):")
    for name, label in kinds:
        path = os.path.join(root, name)
        if os.path.isdir(path):
            src = "tar -C '%s' -cf - . | gzip -6 -c" % path
        else:
            src = "gzip -6 -c '%s'" % path
        out = subprocess.run(["sh", "-c", src + " | wc -c"], stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout
        gz_size = int(out.split()[0])
        t_gz, _ = best(["sh", "-c", src + " >/dev/null"], runs=1)
        t_pack, rss = best([pack_bench, path], runs=2)
        r = subprocess.run([pack_bench, path], stdout=subprocess.PIPE, universal_newlines=True, check=True)
        wl_size = int(r.stdout.split()[1])
        print("  %-27s gzip -6 %6.2f s %10d B | %6.2f s %10d B (%+.2f%%)  peak RSS %.0f MB"
              % (label, t_gz, gz_size, t_pack, wl_size, 100.0 * (wl_size - gz_size) / gz_size, rss / 1e6))
        report("%s: speed vs gzip -6" % label, t_gz / t_pack, 5.0)
        report("%s: size / gzip -6's" % label, wl_size / gz_size, 1.02, higher_is_better=False)


def main():
    wl, build = sys.argv[1], sys.argv[2]
    pack_bench = sys.argv[3] if len(sys.argv) > 3 else None
    root = os.path.join(build, "bench", "data")
    make_data(root)
    every = files_under(root)
    total = sum(os.path.getsize(p) for p in every)
    warm(every)
    print("data: %d files, %.2f GiB, in page cache" % (len(every), total / GiB))

    limit = openssl_limit()
    print("openssl speed -evp sha256 -multi 2: %.2f GB/s (the two-core compute limit)" % (limit / 1e9))
    t_sum, _ = best(["sha256sum"] + every, runs=1)
    print("sha256sum, one core:                 %6.2f s  %6.2f GB/s" % (t_sum, total / t_sum / 1e9))
    t_dig, rss = best([wl, "digest", root])
    print("weightslock digest:                  %6.2f s  %6.2f GB/s  peak RSS %.0f MB"
          % (t_dig, total / t_dig / 1e9, rss / 1e6))
    report("digest vs the two-core SHA-256 limit", total / t_dig / limit, 0.75)
    report("digest vs sha256sum", t_sum / t_dig, 4.0)

    big = os.path.join(root, "big")
    big_bytes = sum(os.path.getsize(p) for p in files_under(big))
    t_dig_big, _ = best([wl, "digest", big])
    p = project(root, "big", "big")
    lock = os.path.join(p, "weights.lock")
    rm_lock = lambda: os.path.exists(lock) and os.remove(lock)  # noqa: E731
    t_imp_big, rss = best([wl, "-C", p, "import", "--no-cache", "-q"], before=rm_lock)
    print("import of the two .safetensors:      %6.2f s  (digest of them: %.2f s)  peak RSS %.0f MB"
          % (t_imp_big, t_dig_big, rss / 1e6))
    report("import / digest of the same two files", t_imp_big / t_dig_big, 2.2, higher_is_better=False)

    if pack_bench:
        gzip_layers(os.path.join(build, "bench", "gzdata"), pack_bench)

    p = project(root, "all", ".")
    lock = os.path.join(p, "weights.lock")
    cache = os.path.join(p, "cache")
    shutil.rmtree(cache, ignore_errors=True)
    rm_lock()
    t_first, rss1 = run([wl, "-C", p, "import", "-q", "--cache-dir", cache])
    t_again, rss2 = best([wl, "-C", p, "import", "-q", "--cache-dir", cache])
    print("import of everything, first:        %6.2f s  peak RSS %.0f MB" % (t_first, rss1 / 1e6))
    print("re-import, unchanged, hash cache:    %6.3f s  peak RSS %.0f MB" % (t_again, rss2 / 1e6))
    report("re-import with the cache vs first import", t_first / t_again, 20.0)
    print("memory bound: 64 MiB + 1 KiB/file = %.0f MB" % ((64 * MiB + 1024 * len(every)) / 1e6))


if __name__ == "__main__":
    main()
