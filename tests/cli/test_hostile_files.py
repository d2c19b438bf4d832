"""Documents read whole must be regular files, and a lockfile at most 1 GiB
(SPEC.md §15): the lockfile, cog.yaml, an OCI layout's index.json and
oci-layout, manifests and config blobs.

A FIFO must not block any command, a device must not be read forever, and an
oversized lockfile is refused from its size alone. Every case checks: exit
2 within a few seconds, one `weightslock: ` line naming the file and saying
what is wrong, the file left as it was, and nothing written.
"""
import hashlib
import os
import time

from wltest import expect, expect_error, local_weight_cog_yaml, read, run, snapshot, write

GIB = 1 << 30
PROMPT = 5  # seconds: far more than any of these needs, far less than "forever"
SUBPROCESS_TIMEOUT = 20

# Every command that reads the lockfile, run in the project directory.
LOCK_READERS = [
    ["fmt"], ["fmt", "--check"], ["fmt", "--stdout"], ["check"], ["show"], ["show", "--json"],
    ["runtime-manifest"], ["runtime-manifest", "-o", "runtime.json"], ["manifest", "w"],
    ["manifest", "--config", "w"], ["drift"], ["drift", "--json"], ["prune"],
    ["prune", "--keep", "x"], ["import", "--no-cache"], ["verify", "w", "weights"],
    ["extract", "--oci-layout", "layout", "w", "dest"],
]

# Every command that reads cog.yaml.
CONFIG_READERS = [["drift"], ["drift", "--json"], ["prune"], ["import", "--no-cache"]]


def imported_project(tmp):
    """A project whose weight `w` was imported, with an OCI layout `layout`."""
    p = os.path.join(tmp, "proj")
    os.makedirs(os.path.join(p, "weights"))
    write(os.path.join(p, "cog.yaml"), local_weight_cog_yaml())
    write(os.path.join(p, "weights", "a.bin"), b"a" * 1000)
    write(os.path.join(p, "weights", "b.json"), b'{"b": 1}\n')
    r = run(["-C", p, "import", "--no-cache", "--oci-layout", "layout"])
    expect(r.rc == 0, "setup import", r)
    return p


def stat_of(path):
    """What identifies the thing at `path` without reading it."""
    st = os.lstat(path)
    return (st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns)


def run_prompt(argv, cwd, label):
    t0 = time.monotonic()
    r = run(argv, cwd=cwd, timeout=SUBPROCESS_TIMEOUT)
    elapsed = time.monotonic() - t0
    expect(elapsed < PROMPT, "took %.1fs" % elapsed, label, argv)
    return r


def check_written_nothing(p, label, argv):
    expect(not os.path.exists(os.path.join(p, "dest")), "extract created DEST", label, argv)
    expect(not os.path.exists(os.path.join(p, "runtime.json")), "-o file written", label, argv)
    leftovers = [f for f in os.listdir(p) if f.endswith(".tmp")]
    expect(leftovers == [], "temporary file left", label, argv, leftovers)


def check_lock_readers_refuse(p, part, label):
    lock = os.path.join(p, "weights.lock")
    before = stat_of(lock)
    for argv in LOCK_READERS:
        r = run_prompt(argv, p, label)
        expect_error(r, "weights.lock", part)
        expect(r.out == b"", "no output", label, argv, r)
        expect(stat_of(lock) == before, "lockfile changed", label, argv)
        check_written_nothing(p, label, argv)


def test_a_lockfile_linked_to_dev_zero_fails_fast(tmp):
    p = imported_project(tmp)
    lock = os.path.join(p, "weights.lock")
    os.remove(lock)
    os.symlink("/dev/zero", lock)
    check_lock_readers_refuse(p, "read weights.lock: not a regular file (a character device)",
                              "dev-zero")
    expect(os.readlink(lock) == "/dev/zero", "link kept")


def test_a_lockfile_that_is_a_fifo_does_not_block(tmp):
    p = imported_project(tmp)
    lock = os.path.join(p, "weights.lock")
    os.remove(lock)
    os.mkfifo(lock)
    check_lock_readers_refuse(p, "read weights.lock: not a regular file (a FIFO)", "fifo")
    # Through --lock too, and through a symbolic link to the FIFO.
    os.symlink("weights.lock", os.path.join(p, "link.lock"))
    for name in ("weights.lock", "link.lock"):
        r = run_prompt(["--lock", name, "check"], p, "--lock")
        expect_error(r, "read %s: not a regular file (a FIFO)" % name)


def test_a_lockfile_larger_than_1_gib_is_refused_from_its_size(tmp):
    p = imported_project(tmp)
    lock = os.path.join(p, "weights.lock")
    os.remove(lock)
    with open(lock, "wb") as f:
        f.truncate(GIB + 1)  # sparse: costs no disk
    check_lock_readers_refuse(p, "read weights.lock: larger than 1 GiB (1073741825 bytes)",
                              "sparse")
    expect(os.stat(lock).st_blocks < 64, "the file was written to")


def test_stdin_may_still_be_a_pipe(tmp):
    p = imported_project(tmp)
    data = read(os.path.join(p, "weights.lock"))
    r = run(["check", "-"], cwd=p, stdin=data)
    expect(r.rc == 0, "check - from a pipe", r)
    r = run(["fmt", "--stdout", "-"], cwd=p, stdin=data)
    expect(r.rc == 0 and r.out == data, "fmt - from a pipe", r)


def test_a_cog_yaml_that_is_a_fifo_does_not_block(tmp):
    p = imported_project(tmp)
    lock = os.path.join(p, "weights.lock")
    before = snapshot(lock)
    config = os.path.join(p, "cog.yaml")
    os.remove(config)
    os.mkfifo(config)
    for argv in CONFIG_READERS:
        r = run_prompt(argv, p, "cog.yaml")
        expect_error(r, "read cog.yaml: not a regular file (a FIFO)")
        expect(snapshot(lock) == before, "lockfile changed", argv)
        check_written_nothing(p, "cog.yaml", argv)
    os.mkfifo(os.path.join(p, "other.yaml"))
    r = run_prompt(["-f", "other.yaml", "drift"], p, "-f")
    expect_error(r, "read other.yaml: not a regular file (a FIFO)")
    os.symlink("/dev/zero", os.path.join(p, "zero.yaml"))
    r = run_prompt(["-f", "zero.yaml", "drift"], p, "-f /dev/zero")
    expect_error(r, "read zero.yaml: not a regular file (a character device)")


def layout_copy(p, name):
    """A copy of the project's layout's two documents (no blobs) at NAME."""
    d = os.path.join(p, name)
    os.mkdir(d)
    for f in ("oci-layout", "index.json"):
        write(os.path.join(d, f), read(os.path.join(p, "layout", f)))
    return d


def test_import_refuses_layout_documents_that_are_fifos(tmp):
    p = imported_project(tmp)
    write(os.path.join(p, "weights", "c.bin"), b"new")  # import would now write
    lock = os.path.join(p, "weights.lock")
    before = snapshot(lock)
    for doc in ("index.json", "oci-layout"):
        d = layout_copy(p, "l-" + doc)
        os.remove(os.path.join(d, doc))
        os.mkfifo(os.path.join(d, doc))
        r = run_prompt(["import", "--no-cache", "--oci-layout", os.path.basename(d)], p, doc)
        expect_error(r, "%s/%s" % (os.path.basename(d), doc), "not a regular file (a FIFO)")
        expect(snapshot(lock) == before, "lockfile changed", doc)
        expect(sorted(os.listdir(d)) == ["index.json", "oci-layout"], "layout written", os.listdir(d))
        check_written_nothing(p, doc, "import")


def blob(p, digest):
    return os.path.join(p, "layout", "blobs", "sha256", digest.split(":", 1)[1])


def entry_digests(p):
    r = run(["manifest", "--config", "w"], cwd=p)
    expect(r.rc == 0, "manifest --config", r)
    config = "sha256:" + hashlib.sha256(r.out).hexdigest()
    r = run(["manifest", "w"], cwd=p)
    expect(r.rc == 0, "manifest", r)
    return "sha256:" + hashlib.sha256(r.out).hexdigest(), config


def replace_with_fifo(path):
    saved = read(path)
    os.remove(path)
    os.mkfifo(path)
    return saved


def restore(path, data):
    os.remove(path)
    write(path, data)


def test_extract_refuses_layout_documents_that_are_not_regular_files(tmp):
    p = imported_project(tmp)
    manifest, config = entry_digests(p)
    marker = os.path.join(p, "layout", "oci-layout")
    cases = [
        (marker, "layout/oci-layout: not a regular file (a FIFO)"),
        (blob(p, manifest), "manifest: layout/blobs/sha256/%s is not a regular file (a FIFO)"
         % manifest[7:]),
        (blob(p, config), "config blob: layout/blobs/sha256/%s is not a regular file (a FIFO)"
         % config[7:]),
    ]
    argv = ["extract", "--oci-layout", "layout", "w", "dest"]
    for path, part in cases:
        saved = replace_with_fifo(path)
        r = run_prompt(argv, p, path)
        expect_error(r, part)
        check_written_nothing(p, path, argv)
        restore(path, saved)
    os.remove(marker)
    os.symlink("/dev/zero", marker)
    r = run_prompt(argv, p, "dev-zero")
    expect_error(r, "layout/oci-layout: not a regular file (a character device)")
    check_written_nothing(p, "dev-zero", argv)
    os.remove(marker)
    write(marker, b'{"imageLayoutVersion":"1.0.0"}')
    # extract finds the manifest by digest and never reads index.json: a
    # FIFO there is no obstacle, and does not block.
    replace_with_fifo(os.path.join(p, "layout", "index.json"))
    r = run_prompt(argv, p, "index.json")
    expect(r.rc == 0, "extract with a FIFO index.json", r)
    expect(read(os.path.join(p, "dest", "a.bin")) == b"a" * 1000, "extracted")
