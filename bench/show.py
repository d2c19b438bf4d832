#!/usr/bin/env python3
"""Times `weightslock show` on lockfiles of 2,500 and 20,000 small weights
(best of N runs, output to /dev/null) and prints the ratio: loading checks
names and targets for duplicates, which must grow as n log n, not n^2, so
8x the entries should cost at most about 10x the time.

    show.py WEIGHTSLOCK OUTDIR [RUNS]

Exits 1 only when a command fails; missing the target is reported.
"""
import os
import subprocess
import sys
import time

SMALL, LARGE = 2500, 20000


def best(argv, runs):
    times = []
    with open(os.devnull, "wb") as null:
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(argv, stdout=null, check=True)
            times.append(time.perf_counter() - t0)
    return min(times)


def main():
    wl, out = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    here = os.path.dirname(os.path.abspath(__file__))
    times = {}
    for n in (SMALL, LARGE):
        lock = os.path.join(out, "show-%d.lock" % n)
        if not os.path.exists(lock):
            subprocess.run([sys.executable, os.path.join(here, "gen_lock.py"), "--weights", str(n),
                            lock], check=True)
        times[n] = best([wl, "show", lock], runs)
        print("show     %6d weights  %8.1f ms  (%.1f MB)" %
              (n, times[n] * 1e3, os.path.getsize(lock) / 1e6))
    ratio = times[LARGE] / times[SMALL]
    verdict = "ok" if ratio <= 10 else "MISSED"
    print("show     %dx the weights: %.1fx the time (target <= 10x: %s)" %
          (LARGE // SMALL, ratio, verdict))


if __name__ == "__main__":
    main()
