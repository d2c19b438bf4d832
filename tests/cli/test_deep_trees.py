"""Directory walks at any depth (SPEC.md §15): `digest`, `import` and `verify`
over trees 19,000 directories deep, deeper than PATH_MAX and than any C
stack a recursive walk could use, with a descriptor limit far below the
depth; running out of descriptors is reported as such; a long path never
cuts the system error out of a message.
"""
import json
import os
import resource

from wltest import expect, read, run, snapshot, write

DEPTH = 19000
COG_YAML = ("image: x\nweights:\n  - name: w\n    target: /src/w\n    source:\n"
            "      uri: ./weights\n")


def limit(n):
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))


def deep_chain(top, depth=DEPTH, bottom=None):
    """`top`/d/d/.../d, `depth` levels, built relative to each directory;
    with a file `bottom` at the end when given."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        if bottom is not None:
            with open(os.open(bottom, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as f:
                f.write(b"x")
    finally:
        os.close(fd)


def project(tmp):
    p = os.path.join(tmp, "proj")
    os.makedirs(os.path.join(p, "weights", "sub"))
    write(os.path.join(p, "cog.yaml"), COG_YAML)
    write(os.path.join(p, "weights", "a.bin"), b"alpha")
    write(os.path.join(p, "weights", "sub", "b.bin"), b"beta")
    return p


def test_digest_and_import_walk_a_source_19000_deep(tmp):
    p = project(tmp)
    w = os.path.join(p, "weights")
    before = run(["digest", w])
    expect(before.rc == 0, "digest", before)
    # Directories hold no files of their own: the set digest is unchanged.
    deep_chain(w)
    r = run(["digest", w], timeout=120, preexec=limit(64))
    expect(r.rc == 0, "digest of the deep tree", r)
    expect(r.out == before.out, "a chain of empty directories changed the digest", r)
    r = run(["-C", p, "import", "--no-cache"], timeout=120, preexec=limit(64))
    expect(r.rc == 0, "import of the deep tree", r)
    lock = json.loads(read(os.path.join(p, "weights.lock")))
    expect([f["path"] for f in lock["weights"][0]["files"]] == ["a.bin", "sub/b.bin"], "files", lock)


def test_a_file_beyond_path_max_fails_with_the_system_error_kept(tmp):
    p = project(tmp)
    w = os.path.join(p, "weights")
    deep_chain(w, bottom="far.bin")
    lock_before = snapshot(os.path.join(p, "weights.lock"))
    r = run(["-C", p, "import", "--no-cache"], timeout=120, preexec=limit(64))
    expect(r.rc == 2, "import of a file beyond PATH_MAX", r)
    line = r.err.decode()
    expect(line.count("\n") == 1 and line.startswith("weightslock: "), "one line", r)
    # The path is elided in the middle; the error after it survives.
    expect(" ... " in line, "no elision", r)
    expect(line.rstrip("\n").endswith("File name too long"), "the system error was cut off", r)
    expect(len(line) < 2200, "message length", len(line))
    expect(lock_before is None and snapshot(os.path.join(p, "weights.lock")) is None, "import wrote a lockfile")


def test_verify_walks_a_target_19000_deep(tmp):
    p = project(tmp)
    r = run(["-C", p, "import", "--no-cache"])
    expect(r.rc == 0, "import", r)
    copy = os.path.join(tmp, "copy")
    os.makedirs(os.path.join(copy, "sub"))
    write(os.path.join(copy, "a.bin"), b"alpha")
    write(os.path.join(copy, "sub", "b.bin"), b"beta")
    deep_chain(copy)
    r = run(["-C", p, "verify", "w", copy], timeout=120, preexec=limit(64))
    expect(r.rc == 0, "verify of a target with a deep empty chain", r)
    # A file at the bottom is extra, reported with its (long) path.
    deep_chain(os.path.join(copy, "sub"), depth=3000, bottom="stray")
    r = run(["-C", p, "verify", "w", copy], timeout=120, preexec=limit(64))
    expect(r.rc == 1, "verify with a deep extra file", r)
    expect(b"extra" in r.out and b"/d/d/stray" in r.out, "the extra file", r)


def test_running_out_of_descriptors_is_reported_as_such(tmp):
    p = project(tmp)
    w = os.path.join(p, "weights")
    for i in range(40):
        os.makedirs(os.path.join(w, "many", "x%02d" % i))
    # So few descriptors that opening the tree's directories fails.
    r = run(["digest", w], preexec=limit(4))
    expect(r.rc == 2, "digest without descriptors", r)
    err = r.err.decode()
    expect("Too many open files" in err and "file descriptors" in err, "message", r)
