"""What import trusts (SPEC.md §15): a hash cache only when no one else could
have written it, and an existing layout blob only once its bytes hash to
its name. Each test plants what an attacker or an accident would.
"""
import hashlib
import json
import os
import struct
import time

from wltest import expect, read, run, write

COG_YAML = ("image: x\nweights:\n  - name: w\n    target: /src/w\n    source:\n"
            "      uri: ./weights\n")
BOGUS = bytes(range(32))


def project(tmp):
    p = os.path.join(tmp, "proj")
    os.makedirs(os.path.join(p, "weights"))
    write(os.path.join(p, "cog.yaml"), COG_YAML)
    write(os.path.join(p, "weights", "model.bin"), os.urandom(5000))
    return p


def cache_bytes(records):
    """The hash cache file format: magic, version, record size, count,
    80-byte records, sha256 trailer (all little endian)."""
    body = b"wlhashc\n" + struct.pack("<IIQ", 1, 80, len(records))
    for st, digest in records:
        body += struct.pack("<QQqqqq", st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                            st.st_ctime_ns, st.st_mtime_ns) + digest
    return body + hashlib.sha256(body).digest()


def recorded_digest(p):
    lock = json.loads(read(os.path.join(p, "weights.lock")))
    return lock["weights"][0]["files"][0]["digest"]


def plant(cache, p, dir_mode, file_mode):
    """A cache claiming model.bin hashes to BOGUS, with the given modes."""
    os.makedirs(cache)
    st = os.stat(os.path.join(p, "weights", "model.bin"))
    f = os.path.join(cache, "hashes")
    write(f, cache_bytes([(st, BOGUS)]))
    os.chmod(f, file_mode)
    os.chmod(cache, dir_mode)
    return read(f)


def test_a_planted_cache_record_cannot_hide_the_content(tmp):
    for i, (dir_mode, file_mode, why) in enumerate([
            (0o777, 0o644, "its directory is writable by others"),
            (0o1777, 0o644, "its directory is writable by others"),
            (0o775, 0o644, "its directory is writable by others"),
            (0o700, 0o666, "its file is writable by others")]):
        p = project(os.path.join(tmp, str(i)))
        cache = os.path.join(tmp, str(i), "shared-cache")
        planted = plant(cache, p, dir_mode, file_mode)
        for quiet in ([], ["-q"]):
            r = run(["-C", p] + quiet + ["import", "--cache-dir", cache])
            expect(r.rc == 0, "import", r)
            err = r.err.decode()
            expect("weightslock: warning: hash cache %s ignored: %s" % (cache, why) in err, "warning", r)
        want = "sha256:" + hashlib.sha256(read(os.path.join(p, "weights", "model.bin"))).hexdigest()
        expect(recorded_digest(p) == want, "the planted digest was used", recorded_digest(p))
        # Ignored means never written either.
        expect(read(os.path.join(cache, "hashes")) == planted, "the untrusted cache was rewritten")
        expect(sorted(os.listdir(cache)) == ["hashes"], "files added to the untrusted cache", os.listdir(cache))


def test_a_private_cache_is_used_and_written(tmp):
    p = project(tmp)
    model = os.path.join(p, "weights", "model.bin")
    # Times two seconds past (the change time too), so the racy rule lets
    # the digest be recorded.
    time.sleep(2.2)
    cache = os.path.join(tmp, "mine", "cache")
    r = run(["-C", p, "import", "--cache-dir", cache])
    expect(r.rc == 0 and b"warning" not in r.err, "import", r)
    st = os.stat(cache)
    expect(st.st_mode & 0o777 == 0o700, "cache directory mode", oct(st.st_mode))
    expect(hashlib.sha256(read(model)).digest() in read(os.path.join(cache, "hashes")), "digest not recorded")
    r = run(["-C", p, "import", "--cache-dir", cache])
    expect(r.rc == 0 and b"warning" not in r.err, "second import", r)


def test_import_rewrites_a_corrupt_blob_of_the_right_size(tmp):
    p = project(tmp)
    layout = os.path.join(tmp, "layout")
    r = run(["-C", p, "import", "--no-cache", "--oci-layout", layout])
    expect(r.rc == 0, "import", r)
    lock = json.loads(read(os.path.join(p, "weights.lock")))
    layer = lock["weights"][0]["layers"][0]["digest"]
    blob = os.path.join(layout, "blobs", "sha256", layer[7:])
    good = read(blob)
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    write(blob, bytes(bad))
    r = run(["-C", p, "import", "--no-cache", "--oci-layout", layout])
    expect(r.rc == 0, "re-import", r)
    expect(read(blob) == good, "the corrupt blob was kept")
    expect(hashlib.sha256(read(blob)).hexdigest() == layer[7:], "blob bytes")
