"""The writers' locks (SPEC.md §4.8, §15): every command that writes the
lockfile, and `with-lock`, takes `.cog/cog.lock` beside the lockfile (later
Cog's project lock) and then `weights.lock.guard`, with one timeout for
both; either file must be a regular file, so a FIFO never blocks and a
symbolic link is never followed.

Every failure checks: exit 2, one `weightslock: ` line naming the file,
the lockfile byte-for-byte (and inode, mtime) as it was, no temporary file
and, for with-lock, COMMAND not run.
"""
import json
import os
import subprocess
import time

from wltest import (BIN, EXAMPLES, expect, expect_error, local_weight_cog_yaml, read, run, snapshot,
                    write)

MANAGED = os.path.join(EXAMPLES, "managed-weights.lock")
PROJECT_LOCK = os.path.join(".cog", "cog.lock")
GUARD = "weights.lock.guard"
PREFIX = "acquire weights.lock guard: "


def writer_project(tmp):
    """A project in which fmt, prune and import would each rewrite the
    lockfile: a compact (non-canonical) copy of MANAGED whose entries
    cog.yaml does not declare, and a weight `w` to import."""
    p = os.path.join(tmp, "proj")
    os.makedirs(os.path.join(p, "weights"))
    write(os.path.join(p, "cog.yaml"), local_weight_cog_yaml())
    write(os.path.join(p, "weights", "a.bin"), b"a")
    doc = json.loads(read(MANAGED))
    write(os.path.join(p, "weights.lock"), json.dumps(doc, separators=(",", ":")).encode())
    return p


def writers(tmp, p):
    """(label, argv without --timeout, marker COMMAND would create or None)."""
    marker = os.path.join(tmp, "ran")
    return [
        ("fmt", ["-C", p, "fmt"], None),
        ("prune", ["-C", p, "prune"], None),
        ("import", ["-C", p, "import", "--no-cache"], None),
        ("with-lock", ["-C", p, "with-lock", "weights.lock", "--", "touch", marker], marker),
    ]


def with_timeout(argv, seconds):
    if seconds is None:
        return argv
    if "--" in argv:
        i = argv.index("--")
        return argv[:i] + ["--timeout", seconds] + argv[i:]
    return argv + ["--timeout", seconds]


def temporary_files(p):
    return [f for f in os.listdir(p) if f.endswith(".tmp")]


class flock_holder:
    """flock(1) holding PATH (created by flock(1) if missing) until closed;
    -o keeps the lock in flock(1) itself, so killing it releases the lock."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.proc = subprocess.Popen(["flock", "-x", "-o", self.path, "sleep", "60"])
        deadline = time.monotonic() + 10
        while subprocess.run(["flock", "-n", self.path, "true"]).returncode == 0:
            expect(time.monotonic() < deadline, "flock(1) did not take", self.path)
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def check_refused(tmp, p, held_rel, part, timeout="0.3", slowest=5):
    """Every writer fails with `part` in its message and writes nothing."""
    lockfile = os.path.join(p, "weights.lock")
    for label, argv, marker in writers(tmp, p):
        before = snapshot(lockfile)
        t0 = time.monotonic()
        r = run(with_timeout(argv, timeout), timeout=30)
        elapsed = time.monotonic() - t0
        expect_error(r, PREFIX, part)
        expect(elapsed < slowest, "took too long", label, elapsed)
        expect(snapshot(lockfile) == before, "lockfile changed", label)
        expect(temporary_files(p) == [], "temporary file left", label, temporary_files(p))
        expect(marker is None or not os.path.exists(marker), "COMMAND ran", label)
        expect(r.out == b"", "no output", label, r)
        expect(not os.path.exists(os.path.join(p, "..", "cache")), "no cache written", label)


def test_writers_wait_for_flock_on_the_project_lock_and_time_out(tmp):
    p = writer_project(tmp)
    path = os.path.join(p, PROJECT_LOCK)
    with flock_holder(path):
        check_refused(tmp, p, path,
                      "timed out after 0.3s waiting for the lock on %s" % PROJECT_LOCK)
        # The project lock comes first: the guard is not even created.
        expect(not os.path.exists(os.path.join(p, GUARD)), "guard taken before the project lock")
    # Readers take neither lock.
    with flock_holder(path):
        expect(run(["-C", p, "check"]).rc == 0, "check waits for no lock")
        expect(run(["-C", p, "fmt", "--check"]).rc == 1, "fmt --check waits for no lock")


def test_writers_wait_for_flock_on_the_guard_and_time_out(tmp):
    p = writer_project(tmp)
    with flock_holder(os.path.join(p, GUARD)):
        check_refused(tmp, p, GUARD, "timed out after 0.3s waiting for the lock on %s" % GUARD)
        # The project lock taken first was let go on the way out.
        r = subprocess.run(["flock", "-n", os.path.join(p, PROJECT_LOCK), "true"])
        expect(r.returncode == 0, "project lock still held after the timeout")


def test_a_writer_proceeds_once_the_project_lock_is_released(tmp):
    p = writer_project(tmp)
    with flock_holder(os.path.join(p, PROJECT_LOCK)) as h:
        proc = subprocess.Popen([BIN, "-C", p, "fmt"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.4)
        expect(proc.poll() is None, "fmt did not wait for the project lock")
        h.proc.kill()
        h.proc.wait()
        proc.communicate(timeout=20)
    expect(proc.returncode == 0 and read(os.path.join(p, "weights.lock")) == read(MANAGED),
           "fmt wrote once the lock was free", proc.returncode)


def test_with_lock_holds_both_locks_while_its_command_runs(tmp):
    p = writer_project(tmp)
    script = ("flock -n .cog/cog.lock true; echo project=$?; "
              "flock -n weights.lock.guard true; echo guard=$?; "
              "for f in /proc/$$/fd/*; do readlink $f; done; true")
    r = run(["-C", p, "with-lock", "--", "sh", "-c", script])
    expect(r.rc == 0, "with-lock", r)
    lines = r.out.decode().splitlines()
    expect(lines[:2] == ["project=1", "guard=1"], "both held while COMMAND runs", r)
    expect(not any(l.endswith("cog.lock") or l.endswith(".guard") for l in lines[2:]),
           "COMMAND inherits neither lock descriptor", r)
    for rel in (PROJECT_LOCK, GUARD):
        r2 = subprocess.run(["flock", "-n", os.path.join(p, rel), "true"])
        expect(r2.returncode == 0, "released after COMMAND", rel)
    expect(oct(os.stat(os.path.join(p, ".cog")).st_mode & 0o7777) == "0o755", ".cog mode")
    expect(oct(os.stat(os.path.join(p, PROJECT_LOCK)).st_mode & 0o7777) == "0o600", "lock mode")


def test_a_fifo_at_either_lock_path_fails_at_once(tmp):
    for rel in (PROJECT_LOCK, GUARD):
        p = writer_project(os.path.join(tmp, rel.replace("/", "_")))
        path = os.path.join(p, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.mkfifo(path)
        want = "%s is not a regular file (a FIFO)" % rel
        check_refused(tmp, p, rel, want, timeout="0.5", slowest=3)
        # Without a timeout too: nothing waits on the FIFO.
        check_refused(tmp, p, rel, want, timeout=None, slowest=3)
        expect(os.path.exists(path) and not os.path.isfile(path), "FIFO left as it was")


def test_a_symbolic_link_at_either_lock_path_is_refused(tmp):
    for rel in (PROJECT_LOCK, GUARD):
        for dangling in (True, False):
            base = os.path.join(tmp, "%s-%d" % (rel.replace("/", "_"), dangling))
            p = writer_project(base)
            target = os.path.join(base, "target")
            if not dangling:
                write(target, b"keep")
            path = os.path.join(p, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.symlink(target, path)
            check_refused(tmp, p, rel, "%s is not a regular file (a symbolic link)" % rel)
            if dangling:
                expect(not os.path.lexists(target), "link target created", rel)
            else:
                expect(read(target) == b"keep", "link target changed", rel)
            expect(os.path.islink(path), "link left as it was", rel)


def test_a_directory_at_the_guard_path_is_refused(tmp):
    p = writer_project(tmp)
    os.mkdir(os.path.join(p, GUARD))
    check_refused(tmp, p, GUARD, "%s is not a regular file (a directory)" % GUARD)
