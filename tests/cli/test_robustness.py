"""Robustness of saving: crash safety under SIGKILL and concurrent writers
serialized by the guard lock (SPEC.md §3.5, §4.8)."""
import json
import os
import random
import subprocess
import time

from wltest import TOOLS, expect, read

TMP_PREFIX, TMP_SUFFIX = ".weights-", ".lock.tmp"


def tool(name):
    return os.path.join(TOOLS, name)


def version_doc(k):
    """Version k of the crash writer's lockfile, built independently of it."""
    n = 1 + k % 500
    layer = "sha256:" + "1" * 64
    return {
        "version": 1,
        "envelopeFormat": "sha256:" + "e" * 64,
        "weights": [{
            "name": "crash",
            "target": "/src/weights",
            "source": {
                "uri": "file://./weights",
                "fingerprint": "sha256:%064x" % (k + 2),
                "include": [],
                "exclude": ["*.tmp"],
                "importedAt": "2026-04-16T17:27:07.5+02:00",
            },
            "digest": "sha256:%064x" % k,
            "setDigest": "sha256:%064x" % (k + 1),
            "size": n * 1000,
            "sizeCompressed": 12345,
            "files": [{
                "path": "d%02d/f%05d.bin" % (i // 50, i),
                "size": 1000,
                "digest": "sha256:%064x" % (k * 1000 + i),
                "layer": layer,
            } for i in range(n)],
            "layers": [{
                "digest": layer,
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "size": 12345,
                "sizeUncompressed": n * 1000,
            }],
        }],
    }


def version_bytes(k):
    # Canonical layout (SPEC.md §3.4) is exactly json.dumps with indent 2 for
    # this ASCII-only document with no characters needing Go's extra escapes.
    return json.dumps(version_doc(k), indent=2).encode()


def version_of(data):
    return int(json.loads(data)["weights"][0]["digest"][len("sha256:"):], 16)


def leftovers(d):
    return sorted(f for f in os.listdir(d) if f.startswith(TMP_PREFIX) and f.endswith(TMP_SUFFIX))


def probe(lockfile):
    p = subprocess.run([tool("lock_probe"), lockfile], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    expect(p.returncode == 0, "lock_probe failed", p.stderr)
    return [line.split(" ") for line in p.stdout.decode().splitlines()]


def test_crash_writer_versions_match_independent_encoding(tmp):
    for k in (0, 1, 2, 499, 500, 123457):
        out = subprocess.run([tool("crash_writer"), "--print", str(k)], stdout=subprocess.PIPE,
                             check=True, timeout=60).stdout
        expect(out == version_bytes(k), "version %d differs from the expected bytes" % k)


def test_normal_save_leaves_no_temporary_file(tmp):
    lockfile = os.path.join(tmp, "weights.lock")
    subprocess.run([tool("crash_writer"), lockfile, "7", "25"], check=True, timeout=120)
    expect(sorted(os.listdir(tmp)) == ["weights.lock"], "unexpected files", os.listdir(tmp))
    expect(read(lockfile) == version_bytes(31))
    expect(os.stat(lockfile).st_mode & 0o7777 == 0o644)


def test_sigkill_during_save_leaves_a_complete_version(tmp):
    lockfile = os.path.join(tmp, "weights.lock")
    writer = tool("crash_writer")
    subprocess.run([writer, lockfile, "0", "1"], check=True, timeout=60)
    rng = random.Random(20260416)
    kills, seen, last = 0, {0}, 0
    first = 1
    started = time.monotonic()
    while kills < 220:
        p = subprocess.Popen([writer, lockfile, str(first), "0"])
        time.sleep(rng.uniform(0.002, 0.04))
        p.kill()
        p.wait()
        kills += 1
        data = read(lockfile)
        try:
            k = version_of(data)
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise AssertionError("after kill %d the lockfile does not parse: %s" % (kills, e))
        expect(data == version_bytes(k), "after kill %d the lockfile is not version %d" % (kills, k))
        # Either no save completed (the previous version) or one of this run's.
        expect(k == last or first <= k < first + 1000000, "unexpected version %d" % k)
        seen.add(k)
        last = k
        if kills % 40 == 0:
            probe(lockfile)
        first += 1000000 + rng.randrange(500)
        expect(time.monotonic() - started < 120, "crash test too slow")
    names = probe(lockfile)
    expect(names == [["crash", str((1 + last % 500) * 1000)]], names)
    # Only the lockfile and abandoned temporary files, which are never read.
    others = [f for f in os.listdir(tmp) if f != "weights.lock" and f not in leftovers(tmp)]
    expect(others == [], "unexpected files", others)
    expect(len(seen) > 20, "too few saves completed between kills: %d" % len(seen))


def test_concurrent_writers_through_the_guard_lose_nothing(tmp):
    lockfile = os.path.join(tmp, "project", "weights.lock")
    procs_n, rounds = 10, 5
    procs = [subprocess.Popen([tool("lock_adder"), lockfile, str(i), str(rounds)],
                              stdin=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(procs_n)]
    for p in procs:
        p.stdin.close()  # start signal: all begin together
    for p in procs:
        err = p.stderr.read()
        expect(p.wait(timeout=120) == 0, "an adder failed", err)
    entries = probe(lockfile)
    names = [e[0] for e in entries]
    want = {"w%d-%d" % (i, r) for i in range(procs_n) for r in range(rounds)} | {"counter"}
    expect(sorted(names) == sorted(want), "entries lost or duplicated", names)
    counter = dict(entries)["counter"]
    expect(counter == str(procs_n * rounds), "counter is %s" % counter)
    doc = json.loads(read(lockfile))
    expect(len(doc["weights"]) == len(want))
    d = os.path.dirname(lockfile)
    expect(sorted(os.listdir(d)) == [".cog", "weights.lock", "weights.lock.guard"], "files", os.listdir(d))
    expect(os.listdir(os.path.join(d, ".cog")) == ["cog.lock"], "project lock", os.listdir(d))
