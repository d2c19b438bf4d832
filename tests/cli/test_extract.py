"""`weightslock extract` (CLI.md, SPEC.md §7.2, §12.2): exit codes, markers,
refusals. Hostile layers are covered one by one in tests/unit/test_extract.c;
these tests drive the command line."""
import hashlib
import json
import os
import shutil

from wltest import expect, expect_error, read, run, snapshot, write


def imported(tmp):
    """A project imported with an OCI layout; returns (project, layout, files)."""
    p = os.path.join(tmp, "proj")
    files = {"a.safetensors": os.urandom(70000), "cfg/config.json": b'{"x": 1}', "tok/vocab.txt": b"a\nb\n"}
    for rel, data in files.items():
        f = os.path.join(p, "weights", rel)
        os.makedirs(os.path.dirname(f), exist_ok=True)
        write(f, data)
    write(os.path.join(p, "cog.yaml"), "image: x\nweights:\n  - name: w\n    target: /src/w\n    source:\n"
          "      uri: ./weights\n")
    layout = os.path.join(tmp, "layout")
    r = run(["-C", p, "import", "--no-cache", "--bundle-file-max", "65536", "--oci-layout", layout])
    expect(r.rc == 0, "import", r)
    return p, layout, files


def tree(d):
    out = {}
    for base, dirs, names in os.walk(d):
        dirs[:] = [x for x in dirs if not (base == d and x == ".cog")]
        for n in names:
            f = os.path.join(base, n)
            out[os.path.relpath(f, d)] = read(f)
    return out


def test_extract_materializes_the_entry_and_marks_it_ready(tmp):
    p, layout, files = imported(tmp)
    dest = os.path.join(tmp, "dest")
    r = run(["-C", p, "extract", "--oci-layout", layout, "w", dest])
    expect(r.rc == 0, "extract", r)
    expect(tree(dest) == files, "extracted tree differs from the source")
    expect(os.path.exists(os.path.join(dest, ".cog", "ready")), "no ready marker")
    expect(not os.path.exists(os.path.join(dest, ".cog", "downloading")), "downloading left")
    expect(run(["-C", p, "verify", "w", dest]).rc == 0, "verify after extract")
    # Again: present and correct files are kept.
    ino = os.stat(os.path.join(dest, "a.safetensors")).st_ino
    r = run(["-C", p, "extract", "--oci-layout", layout, "w", dest, "-q"])
    expect(r.rc == 0 and r.err == b"", "second extract", r)
    expect(os.stat(os.path.join(dest, "a.safetensors")).st_ino == ino, "a correct file was rewritten")


def test_extract_removes_strays_only_in_its_own_directory(tmp):
    p, layout, files = imported(tmp)
    dest = os.path.join(tmp, "dest")
    expect(run(["-C", p, "extract", "--oci-layout", layout, "w", dest]).rc == 0, "extract")
    write(os.path.join(dest, "stray.bin"), b"s")
    write(os.path.join(dest, "tok", "vocab.txt"), b"tampered")
    expect(run(["-C", p, "verify", "w", dest]).rc == 1, "verify sees the changes")
    r = run(["-C", p, "extract", "--oci-layout", layout, "w", dest])
    expect(r.rc == 0, "re-extract", r)
    expect(tree(dest) == files, "stray kept or tampered file not replaced")


def test_a_non_empty_dest_without_cog_is_refused_untouched(tmp):
    p, layout, files = imported(tmp)
    dest = os.path.join(tmp, "dest")
    os.makedirs(dest)
    write(os.path.join(dest, "mine.txt"), b"keep me")
    before = snapshot(os.path.join(dest, "mine.txt"))
    expect_error(run(["-C", p, "extract", "--oci-layout", layout, "w", dest]), "dest")
    expect(sorted(os.listdir(dest)) == ["mine.txt"], "dest was touched", os.listdir(dest))
    expect(snapshot(os.path.join(dest, "mine.txt")) == before, "file changed")
    r = run(["-C", p, "extract", "--oci-layout", layout, "--force", "w", dest])
    expect(r.rc == 0, "--force", r)
    got = tree(dest)
    expect(got.pop("mine.txt") == b"keep me" and got == files, "--force result", sorted(got))


def test_content_that_does_not_match_exits_1_and_marks_failed(tmp):
    p, layout, files = imported(tmp)
    lock = json.loads(read(os.path.join(p, "weights.lock")))
    raw = [l for l in lock["weights"][0]["layers"] if l["mediaType"].endswith(".tar")][0]
    blob = os.path.join(layout, "blobs", "sha256", raw["digest"][7:])
    data = bytearray(read(blob))
    data[3000] ^= 0xFF  # inside the file's content
    os.chmod(blob, 0o644)
    write(blob, bytes(data))
    dest = os.path.join(tmp, "dest")
    r = run(["-C", p, "extract", "--oci-layout", layout, "w", dest])
    expect(r.rc == 1, "exit %d, want 1" % r.rc, r)
    lines = r.err.decode().splitlines()
    expect(len(lines) == 1 and lines[0].startswith("weightslock: ") and raw["digest"] in lines[0], "message", r)
    expect(not os.path.exists(os.path.join(dest, ".cog", "ready")), "ready after a mismatch")
    expect(os.path.exists(os.path.join(dest, ".cog", "failed")), "no failed marker")
    expect(raw["digest"].encode() in read(os.path.join(dest, ".cog", "failed")), "failed holds the error")


def test_extract_usage_and_lookup_errors(tmp):
    p, layout, files = imported(tmp)
    r = run(["-C", p, "extract", "w", os.path.join(tmp, "d")])
    expect(r.rc == 2 and b"--oci-layout" in r.err, "missing --oci-layout", r)
    expect_error(run(["-C", p, "extract", "--oci-layout", layout, "nope", os.path.join(tmp, "d")]), "nope")
    expect_error(run(["-C", p, "extract", "--oci-layout", os.path.join(tmp, "nolayout"), "w",
                      os.path.join(tmp, "d")]), "nolayout")
    r = run(["extract", "--help"])
    expect(r.rc == 0 and b"--oci-layout" in r.out and b"--force" in r.out and b"--jobs" in r.out, "help", r)
