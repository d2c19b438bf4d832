"""`weightslock verify NAME DIR` (SPEC.md §12.1, CLI.md): output lines, JSON,
exit codes, and a directory copied from an import source before and after
changes."""
import json
import os
import shutil
import subprocess

from wltest import BIN, expect, expect_error, run, write

COG_YAML = """image: r8.im/example/model
weights:
  - name: w
    target: /src/weights/w
    source:
      uri: ./weights
"""

FILES = {
    "config.json": b'{"hidden_size": 8}\n',
    "model.safetensors": bytes(range(256)) * 400,
    "tokenizer/vocab.txt": b"hello\nworld\n",
    "tokenizer/merges.txt": b"a b\n",
    "empty": b"",
}


def imported(tmp, files=FILES):
    """A project whose weight `w` was imported from `weights/`, and a copy of
    that tree in `copy/` (with a .cog/ marker, as a provider leaves it)."""
    p = os.path.join(tmp, "proj")
    os.makedirs(p)
    write(os.path.join(p, "cog.yaml"), COG_YAML)
    for rel, data in files.items():
        f = os.path.join(p, "weights", rel)
        os.makedirs(os.path.dirname(f), exist_ok=True)
        write(f, data)
    r = run(["-C", p, "import", "--no-cache"])
    expect(r.rc == 0, "import failed", r)
    copy = os.path.join(p, "copy")
    shutil.copytree(os.path.join(p, "weights"), copy)
    os.makedirs(os.path.join(copy, ".cog"))
    write(os.path.join(copy, ".cog", "ready"), b"")
    return p, copy


def verify(p, *args):
    return run(["-C", p, "verify"] + list(args))


def test_a_copy_of_the_import_source_matches(tmp):
    p, copy = imported(tmp)
    r = verify(p, "w", copy)
    expect(r.rc == 0 and r.out == b"", "want exit 0 and no output", r)
    expect(r.err.decode().startswith("w: ") and "matches (5 files)" in r.err.decode(), "one OK line", r)
    r = verify(p, "-q", "w", "copy")
    expect(r.rc == 0 and r.out == b"" and r.err == b"", "quiet: nothing at all", r)
    r = verify(p, "--json", "w", "copy")
    expect(r.rc == 0, "json exit 0", r)
    expect(json.loads(r.out) == {"missing": [], "extra": [], "modified": []}, "empty lists", r)
    for jobs in ("1", "3"):
        r = verify(p, "--jobs", jobs, "--sizes-only", "w", "copy")
        expect(r.rc == 0, "--jobs %s --sizes-only" % jobs, r)


def test_differences_one_line_each_sorted_by_path(tmp):
    p, copy = imported(tmp)
    os.remove(os.path.join(copy, "tokenizer", "merges.txt"))
    write(os.path.join(copy, "config.json"), b'{"hidden_size": 9}\n')  # same size
    write(os.path.join(copy, "empty"), b"x")  # other size
    write(os.path.join(copy, "tokenizer", "extra.txt"), b"e")
    os.symlink("config.json", os.path.join(copy, "a-link"))
    os.mkfifo(os.path.join(copy, "pipe"))
    os.makedirs(os.path.join(copy, "tokenizer", ".cog"))
    write(os.path.join(copy, "tokenizer", ".cog", "ready"), b"")
    write(os.path.join(copy, ".cog", "failed"), b"ignored: top-level .cog")
    r = verify(p, "w", "copy")
    expect(r.rc == 1, "differences: exit 1", r)
    expect(r.err == b"", "nothing on stderr", r)
    expect(r.out.decode().splitlines() == [
        "extra a-link",
        "modified config.json",
        "modified empty",
        "extra pipe",
        "extra tokenizer/.cog/ready",
        "extra tokenizer/extra.txt",
        "missing tokenizer/merges.txt",
    ], "lines", r)
    r = verify(p, "--json", "w", "copy")
    expect(r.rc == 1, "json: exit 1", r)
    expect(json.loads(r.out) == {
        "missing": ["tokenizer/merges.txt"],
        "extra": ["a-link", "pipe", "tokenizer/.cog/ready", "tokenizer/extra.txt"],
        "modified": ["config.json", "empty"],
    }, "json lists", r)
    r = verify(p, "--sizes-only", "w", "copy")
    expect(r.rc == 1, "sizes-only: exit 1", r)
    expect("modified config.json" not in r.out.decode() and "modified empty" in r.out.decode(),
           "sizes-only does not see same-size content changes", r)


def test_modified_content_alone_fails(tmp):
    p, copy = imported(tmp)
    data = bytearray(FILES["model.safetensors"])
    data[-1] ^= 0xFF
    write(os.path.join(copy, "model.safetensors"), bytes(data))
    r = verify(p, "w", "copy")
    expect(r.rc == 1 and r.out == b"modified model.safetensors\n", "one modified line", r)
    r = verify(p, "--sizes-only", "w", "copy")
    expect(r.rc == 0 and r.out == b"", "sizes match", r)


def test_symlinked_directory_is_extra_and_its_files_missing(tmp):
    p, copy = imported(tmp)
    shutil.move(os.path.join(copy, "tokenizer"), os.path.join(tmp, "elsewhere"))
    os.symlink(os.path.join(tmp, "elsewhere"), os.path.join(copy, "tokenizer"))
    r = verify(p, "w", "copy")
    expect(r.rc == 1, "exit 1", r)
    expect(r.out.decode().splitlines() == [
        "extra tokenizer",
        "missing tokenizer/merges.txt",
        "missing tokenizer/vocab.txt",
    ], "not followed", r)


def test_paths_with_control_characters_are_escaped(tmp):
    p, copy = imported(tmp)
    write(os.path.join(copy, "new\nline"), b"x")
    write(os.path.join(copy.encode(), b"bad\xffname"), b"x")
    write(os.path.join(copy, '"quoted"'), b"x")
    write(os.path.join(copy, "plain name"), b"x")
    r = verify(p, "w", "copy")
    expect(r.rc == 1, "exit 1", r)
    expect(r.out.decode().splitlines() == [
        'extra "\\"quoted\\""',
        'extra "bad\\xffname"',
        'extra "new\\nline"',
        "extra plain name",
    ], "escaped, one line each", r)
    r = verify(p, "--json", "w", "copy")
    got = json.loads(r.out)
    expect(got["extra"] == ['"quoted"', "bad\ufffdname", "new\nline", "plain name"], "json strings", r)


def test_unknown_name_is_an_error(tmp):
    p, copy = imported(tmp)
    r = verify(p, "nope", "copy")
    expect_error(r, "no weight named", '"nope"', "weights.lock")
    expect(r.out == b"", "no output", r)


def test_missing_or_bad_directory_is_an_error(tmp):
    p, copy = imported(tmp)
    expect_error(verify(p, "w", "absent"), "absent", "does not exist")
    expect_error(verify(p, "w", "cog.yaml"), "cog.yaml", "not a directory")


def test_usage_and_lockfile_errors(tmp):
    p, copy = imported(tmp)
    expect_error(verify(p, "w"), "missing DIR")
    expect_error(verify(p), "missing NAME DIR")
    expect_error(verify(p, "w", "copy", "more"), "unexpected argument 'more'")
    expect_error(verify(p, "--jobs", "0", "w", "copy"), "--jobs")
    r = run(["-C", p, "--lock", "other.lock", "verify", "w", "copy"])
    expect_error(r, "other.lock")
    write(os.path.join(p, "bad.lock"), b"{not json")
    expect_error(run(["-C", p, "verify", "--lock", "bad.lock", "w", "copy"]), "bad.lock")
    shutil.copy(os.path.join(p, "weights.lock"), os.path.join(p, "other.lock"))
    r = run(["-C", p, "verify", "--lock", "other.lock", "w", "copy"])
    expect(r.rc == 0, "--lock names the lockfile", r)


def test_help_documents_the_output(tmp):
    r = run(["verify", "--help"])
    expect(r.rc == 0, "help", r)
    text = r.out.decode()
    for part in ("--sizes-only", "--json", "--jobs", "missing PATH", "sorted together by path", "Exit status"):
        expect(part in text, "help lacks %r" % part, r)


def tty_stderr(argv):
    """Runs with stderr on a pseudo-terminal; returns (rc, what it saw)."""
    import pty
    master, slave = pty.openpty()
    proc = subprocess.Popen([BIN] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    return proc.wait(timeout=60), seen.decode("utf-8", "replace")


def test_progress_on_a_terminal_only(tmp):
    p, copy = imported(tmp)
    rc, seen = tty_stderr(["-C", p, "verify", "w", "copy"])
    expect(rc == 0, "verify", seen)
    expect("w: verified 5/5 files" in seen and "matches" in seen, "progress and OK line", seen)
    rc, seen = tty_stderr(["-C", p, "verify", "-q", "w", "copy"])
    expect(rc == 0 and seen == "", "-q printed", seen)
    r = verify(p, "w", "copy")
    expect("verified" not in r.err.decode(), "progress on a pipe", r)
