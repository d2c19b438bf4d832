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


# ---- SPEC.md §14: what extract may write into, and what it may remove ----

def full_tree(d):
    """Every entry below d (the .cog/ included): path -> (kind, bytes or link target, mtime_ns, inode)."""
    out = {}
    for base, dirs, names in os.walk(d):
        for n in dirs + names:
            f = os.path.join(base, n)
            st = os.lstat(f)
            rel = os.path.relpath(f, d)
            if os.path.islink(f):
                out[rel] = ("link", os.readlink(f), st.st_mtime_ns, st.st_ino)
            elif os.path.isdir(f):
                out[rel] = ("dir", None, None, st.st_ino)
            else:
                out[rel] = ("file", read(f), st.st_mtime_ns, st.st_ino)
    return out


def cog_project(d):
    """A directory shaped like a Cog project root: user files and a .cog/ of Cog's."""
    os.makedirs(os.path.join(d, ".cog", "mounts"))
    write(os.path.join(d, ".cog", "cog.lock"), b"")
    write(os.path.join(d, "cog.yaml"), b"build:\n  python_version: '3.12'\npredict: predict.py:P\n")
    write(os.path.join(d, "predict.py"), b"class P: pass\n")
    write(os.path.join(d, "weights.lock"), b'{"version":"v1","weights":[]}\n')
    os.makedirs(os.path.join(d, "cfg"))
    write(os.path.join(d, "cfg", "mine.json"), b"{}")


def test_extract_into_every_kind_of_dest(tmp):
    p, layout, files = imported(tmp)

    def extract(dest, *extra):
        return run(["-C", p, "extract", "--oci-layout", layout] + list(extra) + ["w", dest])

    def owned(dest):
        line = read(os.path.join(dest, ".cog", "weightslock"))
        return json.loads(line) == {"name": "w", "digest": json.loads(read(os.path.join(p, "weights.lock")))
                                    ["weights"][0]["digest"]} and line.endswith(b"}\n")

    # Absent: created, owned, exactly the entry.
    dest = os.path.join(tmp, "absent", "dest")
    r = extract(dest)
    expect(r.rc == 0, "absent", r)
    expect(tree(dest) == files and owned(dest), "absent: result", sorted(tree(dest)))
    expect(sorted(os.listdir(os.path.join(dest, ".cog"))) == ["extract.lock", "ready", "weightslock"],
           "absent: .cog", os.listdir(os.path.join(dest, ".cog")))

    # Empty: owned, exactly the entry.
    dest = os.path.join(tmp, "empty")
    os.makedirs(dest)
    r = extract(dest)
    expect(r.rc == 0 and tree(dest) == files and owned(dest), "empty", r)

    # Owned: what the entry does not record goes, recorded files are kept.
    write(os.path.join(dest, "stray.bin"), b"s")
    os.makedirs(os.path.join(dest, "junk", "deeper"))
    write(os.path.join(dest, "junk", "deeper", "f"), b"f")
    os.symlink("/etc", os.path.join(dest, "cfg", "link"))
    kept = os.stat(os.path.join(dest, "a.safetensors")).st_ino
    r = extract(dest)
    expect(r.rc == 0, "owned", r)
    expect(tree(dest) == files, "owned: strays left", sorted(tree(dest)))
    expect(not os.path.lexists(os.path.join(dest, "cfg", "link")), "owned: link left")
    expect(os.stat(os.path.join(dest, "a.safetensors")).st_ino == kept, "owned: a correct file rewritten")
    expect(os.path.isdir("/etc"), "the link's target is untouched")

    # Foreign with .cog/ (a Cog project root): refused, every byte and mtime kept, nothing added.
    dest = os.path.join(tmp, "project")
    cog_project(dest)
    before = full_tree(dest)
    r = extract(dest)
    expect_error(r, dest, "not made by extract")
    expect(full_tree(dest) == before, "foreign with .cog/: touched")

    # Foreign without .cog/: refused, untouched, no .cog/ created.
    dest2 = os.path.join(tmp, "foreign")
    os.makedirs(dest2)
    write(os.path.join(dest2, "mine.txt"), b"keep me")
    before2 = full_tree(dest2)
    expect_error(extract(dest2), dest2)
    expect(full_tree(dest2) == before2, "foreign without .cog/: touched")

    # Forced: the entry's files written, every other file kept, never owned.
    r = extract(dest, "--force")
    expect(r.rc == 0, "forced", r)
    got = full_tree(dest)
    for rel, v in before.items():
        expect(got.get(rel) == v, "forced: changed %s" % rel, got.get(rel), v)
    for rel, data in files.items():
        expect(got[rel][1] == data, "forced: wrong %s" % rel)
    expect(not os.path.exists(os.path.join(dest, ".cog", "weightslock")), "forced made DEST owned")
    expect(os.path.exists(os.path.join(dest, ".cog", "ready")), "forced: no ready")
    expect(b"other entries" in r.err and b"left as they are" in r.err, "forced: no count of the others", r)
    # ... and the next run without --force is still refused, still removing nothing.
    after_forced = full_tree(dest)
    expect_error(extract(dest), "not made by extract")
    expect(full_tree(dest) == after_forced, "the run after a forced one touched DEST")


def test_a_failed_forced_run_leaves_dest_foreign(tmp):
    p, layout, files = imported(tmp)
    dest = os.path.join(tmp, "project")
    cog_project(dest)
    # A forced run that fails (a directory where a recorded file goes).
    os.makedirs(os.path.join(dest, "a.safetensors"))
    r = run(["-C", p, "extract", "--oci-layout", layout, "--force", "w", dest])
    expect(r.rc == 2 and b"in the way" in r.err, "forced run should fail", r)
    expect(os.path.exists(os.path.join(dest, ".cog", "failed")), "no failed marker")
    os.rmdir(os.path.join(dest, "a.safetensors"))
    before = full_tree(dest)
    expect_error(run(["-C", p, "extract", "--oci-layout", layout, "w", dest]), "not made by extract")
    expect(full_tree(dest) == before, "DEST changed")
    for rel in ("cog.yaml", "predict.py", "weights.lock", "cfg/mine.json", ".cog/cog.lock"):
        expect(os.path.exists(os.path.join(dest, rel)), "lost " + rel)


def test_extract_refuses_an_inconsistent_entry_before_writing(tmp):
    p, layout, files = imported(tmp)
    lf = os.path.join(p, "weights.lock")
    doc = json.loads(read(lf))
    doc["weights"][0]["setDigest"] = "sha256:" + "0" * 64
    write(lf, json.dumps(doc, indent=2) + "\n")
    dest = os.path.join(tmp, "dest")
    r = run(["-C", p, "extract", "--oci-layout", layout, "w", dest])
    expect_error(r, "setDigest", "fails check")
    expect(not os.path.exists(dest), "DEST created for an inconsistent entry")


def test_two_extracts_into_one_dest_take_turns(tmp):
    import fcntl
    import subprocess
    import time
    p, layout, files = imported(tmp)
    dest = os.path.join(tmp, "dest")
    expect(run(["-C", p, "extract", "--oci-layout", layout, "w", dest]).rc == 0, "first extract")
    write(os.path.join(dest, "stray"), b"x")
    lock = os.path.join(dest, ".cog", "extract.lock")
    # flock(1) holds the lock like another extract would.
    holder = subprocess.Popen(["flock", lock, "sleep", "30"])
    try:
        for _ in range(100):
            with open(lock, "rb") as f:
                try:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(f.fileno(), fcntl.LOCK_UN)
                except BlockingIOError:
                    break
            time.sleep(0.05)
        t0 = time.monotonic()
        r = run(["-C", p, "extract", "--oci-layout", layout, "--timeout", "0.5", "w", dest])
        expect_error(r, "another extract", "extract.lock", "timed out")
        expect(time.monotonic() - t0 < 20, "the timeout was not honoured")
        expect(os.path.exists(os.path.join(dest, "stray")), "DEST changed while locked")
        expect(os.path.exists(os.path.join(dest, ".cog", "ready")), "ready removed while locked")
        # Without a timeout it waits, then runs once the holder is gone.
        waiter = subprocess.Popen([os.environ["WL_BIN"], "-C", p, "extract", "--oci-layout", layout, "w", dest],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)
        expect(waiter.poll() is None, "extract did not wait for the lock")
        expect(os.path.exists(os.path.join(dest, "stray")), "DEST changed while locked")
        holder.kill()
        holder.wait()
        out, err = waiter.communicate(timeout=60)
        expect(waiter.returncode == 0, "waiting extract", err)
        expect(not os.path.exists(os.path.join(dest, "stray")), "the waiting extract did not run")
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_removal_never_crosses_into_another_filesystem(tmp):
    import subprocess
    p, layout, files = imported(tmp)
    dest = os.path.join(tmp, "dest")
    expect(run(["-C", p, "extract", "--oci-layout", layout, "w", dest]).rc == 0, "first extract")
    mnt = os.path.join(dest, "mnt")
    os.makedirs(mnt)
    # In a mount namespace of its own, so the tmpfs goes away with it.
    script = ('mount -t tmpfs wltest "$1" && echo precious > "$1/data" && "$2" -C "$3" extract '
              '--oci-layout "$4" w "$5"; rc=$?; cat "$1/data"; exit $rc')
    r = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", mnt, os.environ["WL_BIN"], p, layout, dest],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    expect(r.returncode == 2, "exit %d, want 2" % r.returncode, r.stdout, r.stderr)
    expect(b"another filesystem" in r.stderr and b"mnt" in r.stderr, "message", r.stderr)
    expect(r.stdout == b"precious\n", "a file on the other filesystem was removed", r.stdout)


def test_a_deep_stray_tree_in_an_owned_dest_is_removed(tmp):
    p, layout, files = imported(tmp)
    dest = os.path.join(tmp, "dest")
    expect(run(["-C", p, "extract", "--oci-layout", layout, "w", dest]).rc == 0, "first extract")
    # 19,000 levels: deeper than PATH_MAX, built relative to each directory.
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(19000):
            os.mkdir("d", dir_fd=fd)
            nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        with open(os.open("bottom", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as f:
            f.write(b"x")
    finally:
        os.close(fd)
    # With a descriptor limit well below the depth: a walk that keeps one
    # directory open per level cannot finish.
    import resource
    r = run(["-C", p, "extract", "--oci-layout", layout, "w", dest], timeout=120,
            preexec=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256)))
    expect(r.rc == 0, "extract", r)
    expect(not os.path.exists(os.path.join(dest, "d")), "the deep stray tree is still there")
    expect(tree(dest) == files, "result")
