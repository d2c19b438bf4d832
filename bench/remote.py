#!/usr/bin/env python3
"""Import from the Hub (make bench): a mock repository on 127.0.0.1 (the
test suite's mock Hub) with two 1 GiB LFS .safetensors files and 200 small
inline files, imported into a fresh content store, against downloading the
same files with curl (parallel, to /dev/null; and to files fsynced on the
store's filesystem, what the store's durability costs) from the same
servers in the same run. Prints both times, the ratio (target <= 1.3x) and the import's
peak memory. Timings are never asserted.

    bench/remote.py WEIGHTSLOCK OUTDIR [RUNS] [GIB]
"""
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "servers"))
import hub as hub_module  # noqa: E402
from hub import MockHub  # noqa: E402

# A client writing to disk may stall for seconds while the kernel flushes
# dirty pages; the test suite's 5 s socket timeout is for tests, not this.
hub_module._Handler.timeout = 120


def best(fn, runs):
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        fn()
        times.append(time.monotonic() - t0)
    return min(times)


def main():
    wl, out = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    gib = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    if shutil.which("curl") is None:
        print("bench remote: curl not installed: skipping")
        return 0
    big = int(gib * (1 << 30))
    print("bench remote: generating 2 x %.2f GiB LFS files and 200 inline files" % gib)
    block = os.urandom(1 << 20)
    files = {}
    for i in range(2):
        files["model-%05d-of-00002.safetensors" % (i + 1)] = (
            (bytes([i]) + block[1:]) * (big >> 20), "lfs")
    for i in range(200):
        files["tokenizer/part-%03d.json" % i] = os.urandom(2000 + 37 * i)
    total = sum(len(v[0] if isinstance(v, tuple) else v) for v in files.values())
    with MockHub(page_size=1000) as hub:
        repo = hub.add_repo("bench/model", files=files)
        proj = os.path.join(out, "remote-proj")
        os.makedirs(proj, exist_ok=True)
        with open(os.path.join(proj, "cog.yaml"), "w") as f:
            f.write("image: x\nweights:\n  - name: m\n    target: /src/m\n    source:\n"
                    "      uri: hf://bench/model\n")
        store = os.path.join(out, "remote-store")
        env = dict(os.environ, HF_ENDPOINT=hub.url, HF_TOKEN="")

        peak = [0]

        def do_import():
            shutil.rmtree(store, ignore_errors=True)
            lock = os.path.join(proj, "weights.lock")
            if os.path.exists(lock):
                os.unlink(lock)
            proc = subprocess.Popen([wl, "-C", proj, "-q", "import", "--no-cache", "--store", store], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # The high-water mark of the import's own memory (exec starts
            # a fresh one; a forked child's rusage would count ours).
            hwm = 0
            while proc.poll() is None:
                try:
                    with open("/proc/%d/status" % proc.pid) as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                hwm = max(hwm, int(line.split()[1]))
                except OSError:
                    pass
                time.sleep(0.02)
            peak[0] = max(peak[0], hwm / 1024.0)
            if proc.returncode != 0:
                raise SystemExit("bench remote: the import failed")

        urls = ["%s/bench/model/resolve/%s/%s" % (hub.url, repo.sha, p) for p in sorted(files)]
        args = ["curl", "-sS", "-L", "--fail", "--no-progress-meter", "--parallel", "--parallel-max", "8"]
        for u in urls:
            args += ["-o", "/dev/null", u]

        def do_curl():
            if subprocess.run(args).returncode != 0:
                raise SystemExit("bench remote: curl failed")

        # The same download kept as durably as the store keeps it: curl to
        # files on the store's filesystem, then each fsynced.
        kept = os.path.join(out, "remote-curl")
        kargs = args[: args.index("-o")]
        for i, u in enumerate(urls):
            kargs += ["-o", os.path.join(kept, "f%03d" % i), u]

        def do_curl_kept():
            shutil.rmtree(kept, ignore_errors=True)
            os.makedirs(kept)
            if subprocess.run(kargs).returncode != 0:
                raise SystemExit("bench remote: curl to files failed")
            for name in os.listdir(kept):
                fd = os.open(os.path.join(kept, name), os.O_RDONLY)
                os.fsync(fd)
                os.close(fd)

        t_import = best(do_import, runs)
        t_curl = best(do_curl, runs)
        t_kept = best(do_curl_kept, runs)
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(kept, ignore_errors=True)
    mib = total / (1 << 20)
    print("bench remote: curl, parallel, to /dev/null  %7.2f s  %7.0f MiB/s" % (t_curl, mib / t_curl))
    print("bench remote: curl to files, fsynced         %7.2f s  %7.0f MiB/s" % (t_kept, mib / t_kept))
    print("bench remote: weightslock import (hf://)    %7.2f s  %7.0f MiB/s" % (t_import, mib / t_import))
    print("bench remote: import / curl = %.2fx (target <= 1.3x); import peak RSS %.0f MiB"
          % (t_import / t_curl, peak[0]))
    print("bench remote: import / curl to fsynced files = %.2fx (the store keeps every byte durably)"
          % (t_import / t_kept))
    return 0


if __name__ == "__main__":
    sys.exit(main())
