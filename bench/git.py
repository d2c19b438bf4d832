#!/usr/bin/env python3
"""Times `weightslock diff` and `weightslock merge-driver` on two ~30 MB
lockfiles (100,000 files, 1,000 of them changed) against `fmt --stdout` of
one of them, in the same run, and prints the ratios. Timings are never
asserted.

    git.py WEIGHTSLOCK OUT_DIR [RUNS]

merge-driver: BASE is the generated file, OURS changes the small weight,
THEIRS changes 1,000 files of the big one, so the merge takes THEIRS's
100,000-file entry and writes OURS (fsync included). OURS is restored
before each run, outside the timing.
"""
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def best(argv, runs, before=None, ok=(0,)):
    times = []
    for _ in range(runs):
        if before:
            before()
        t0 = time.perf_counter()
        rc = subprocess.run(argv, stdout=subprocess.DEVNULL).returncode
        times.append(time.perf_counter() - t0)
        if rc not in ok:
            sys.exit("bench: %s exited %d" % (" ".join(argv), rc))
    return min(times)


def main():
    wl, out = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    os.makedirs(out, exist_ok=True)
    base = os.path.join(out, "git-base.lock")
    subprocess.run([sys.executable, os.path.join(HERE, "gen_lock.py"), base], check=True)
    with open(base, "rb") as f:
        doc = json.loads(f.read())

    theirs_doc = json.loads(json.dumps(doc))
    big = next(w for w in theirs_doc["weights"] if w["name"] == "big")
    for i in range(0, len(big["files"]), len(big["files"]) // 1000):
        big["files"][i]["digest"] = "sha256:" + "%064x" % i
        big["files"][i]["size"] += 1
    theirs = os.path.join(out, "git-theirs.lock")
    with open(theirs, "wb") as f:
        f.write(json.dumps(theirs_doc, indent=2).encode())

    ours_doc = json.loads(json.dumps(doc))
    small = next(w for w in ours_doc["weights"] if w["name"] == "small")
    small["files"][0]["digest"] = "sha256:" + "f" * 64
    ours_src = os.path.join(out, "git-ours.src.lock")
    with open(ours_src, "wb") as f:
        f.write(json.dumps(ours_doc, indent=2).encode())
    ours = os.path.join(out, "git-ours.lock")

    def restore():
        shutil.copyfile(ours_src, ours)

    size = os.path.getsize(base)
    fmt = best([wl, "fmt", "--stdout", base], runs)
    diff = best([wl, "diff", base, theirs], runs, ok=(1,))
    merge = best([wl, "merge-driver", base, ours, theirs], runs, before=restore)
    restore()
    rc = subprocess.run([wl, "merge-driver", base, ours, theirs]).returncode
    merged_ok = rc == 0 and subprocess.run([wl, "fmt", "--check", ours]).returncode == 0
    print("git: %.1f MB lockfiles, 100,000 files, 1,000 changed" % (size / 1e6))
    print("fmt --stdout       %8.1f ms" % (fmt * 1e3))
    print("diff               %8.1f ms  %.2fx fmt --stdout" % (diff * 1e3, diff / fmt))
    print("merge-driver       %8.1f ms  %.2fx fmt --stdout (target: under 3x)" % (merge * 1e3, merge / fmt))
    if not merged_ok:
        print("MERGE FAILED: merge-driver exited %d or the result is not canonical" % rc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
