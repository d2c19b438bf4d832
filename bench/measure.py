#!/usr/bin/env python3
"""Times `weightslock fmt --stdout` against the Go reference on the same
lockfile in the same run: wall time (best of N, output to /dev/null) and
peak RSS (per child, from wait4), the ratio between them, and whether both
outputs (captured in one more run each) are identical.

    measure.py LOCKFILE WEIGHTSLOCK [GOREF] [RUNS]

Exits 1 only when something is wrong (a command fails, outputs differ);
missing a speed or memory target is reported, not an error.
"""
import os
import sys
import time


def run(argv, out_path):
    """(seconds, peak RSS bytes) of one run writing stdout to out_path."""
    with open(out_path, "wb") as out:
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(out.fileno(), 1)
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter() - t0
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        sys.exit("bench: %s failed (status %d)" % (" ".join(argv), status))
    return elapsed, usage.ru_maxrss * 1024  # Linux reports KiB


def measure(argv, out_path, runs):
    """Best time and highest peak RSS over `runs` runs writing to /dev/null
    (so page-cache writeback noise stays out of the timing), then one run
    writing to out_path for the byte comparison."""
    times, rss = [], 0
    for _ in range(runs):
        t, r = run(argv, os.devnull)
        times.append(t)
        rss = max(rss, r)
    run(argv, out_path)
    return min(times), rss


def main():
    lock, wl = sys.argv[1], sys.argv[2]
    goref = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    size = os.path.getsize(lock)
    out_dir = os.path.dirname(os.path.abspath(lock))
    wl_out = os.path.join(out_dir, "fmt-weightslock.out")
    go_out = os.path.join(out_dir, "fmt-go.out")
    bad = False

    wl_t, wl_rss = measure([wl, "fmt", "--stdout", lock], wl_out, runs)
    print("fmt --stdout  weightslock   %8.1f ms  %7.1f MB/s  peak RSS %6.1f MB" % (
        wl_t * 1e3, size / 1e6 / wl_t, wl_rss / 1e6))
    with open(lock, "rb") as f:
        original = f.read()
    with open(wl_out, "rb") as f:
        ours = f.read()
    if ours != original:
        print("MISMATCH: weightslock fmt --stdout differs from the canonical input")
        bad = True

    if goref:
        go_t, go_rss = measure([goref, lock], go_out, runs)
        print("fmt --stdout  Go reference  %8.1f ms  %7.1f MB/s  peak RSS %6.1f MB" % (
            go_t * 1e3, size / 1e6 / go_t, go_rss / 1e6))
        with open(go_out, "rb") as f:
            theirs = f.read()
        if theirs != ours:
            n = next((i for i in range(min(len(ours), len(theirs))) if ours[i] != theirs[i]),
                     min(len(ours), len(theirs)))
            print("!!!!!!!! MISMATCH: Go output and weightslock output differ at byte %d !!!!!!!!" % n)
            bad = True
        else:
            print("outputs identical (%d bytes)" % len(ours))
        ratio = go_t / wl_t
        print("speed: Go / weightslock = %.1fx  (target >= 8x: %s)" % (
            ratio, "met" if ratio >= 8 else "NOT MET"))
    else:
        print("go not installed: skipping the Go reference")
    mem = wl_rss / size
    print("memory: peak RSS / file size = %.2fx  (target <= 3x: %s)" % (
        mem, "met" if mem <= 3 else "NOT MET"))
    for p in (wl_out, go_out):
        if os.path.exists(p):
            os.remove(p)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
