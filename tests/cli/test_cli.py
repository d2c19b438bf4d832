"""The weightslock command line, as CLI.md and `weightslock --help` describe it."""
import hashlib
import json
import os
import re
import signal
import stat
import subprocess
import time

from wltest import (BIN, EXAMPLES, expect, expect_error, guard_is_free, held_guard, read, run,
                    sha256, snapshot, write)

MANAGED = os.path.join(EXAMPLES, "managed-weights.lock")
RESNET = os.path.join(EXAMPLES, "resnet.lock")
MULTI = os.path.join(EXAMPLES, "resnet-multisource.lock")
EXAMPLE_LOCKS = [MANAGED, RESNET, MULTI]

# Every command and the options of its own, as in the option table.
COMMAND_OPTIONS = {
    "fmt": ["--check", "--stdout", "--timeout"],
    "check": [],
    "show": ["--json"],
    "runtime-manifest": ["-o"],
    "manifest": ["--config"],
    "drift": ["--json"],
    "prune": ["--keep", "--timeout"],
    "with-lock": ["--timeout"],
    "status": ["--json", "--repository", "--plain-http", "--cacert", "--authfile", "--retries", "--timeout",
               "--jobs"],
    "version": [],
    "help": [],
}
GLOBAL_OPTIONS = ["-C", "-f", "--lock", "-q", "-v", "--help"]

# Lockfiles every command must reject: (label, bytes, a part of the message).
INVALID = [
    ("malformed", b'{"version": 1, "weights": [}', "byte"),
    ("wrong-type", b'{"version": "1", "weights": []}', "version"),
    ("wrong-entry-type", b'{"version": 1, "weights": [{"name": "a", "size": "big"}]}', "size"),
    ("unsupported-version", b'{"version": 2, "weights": []}', "version"),
    ("duplicate-names", b'{"version": 1, "weights": [{"name": "a"}, {"name": "a"}]}', '"a"'),
    ("truncated", None, "byte"),
    ("empty", b"", "weights.lock"),
    ("not-an-object", b'[1, 2]', "weights.lock"),
]


def invalid_cases():
    for label, data, part in INVALID:
        if data is None:
            data = read(MANAGED)[:700]
        yield label, data, part


def project(tmp, lock=MANAGED):
    """A project directory holding a copy of `lock` as weights.lock."""
    path = os.path.join(tmp, "weights.lock")
    if lock is not None:
        write(path, read(lock))
    return path


def entries(lock):
    return json.loads(read(lock))["weights"]


def noncanonical(lock):
    """The same document, compact: valid but not canonical."""
    return json.dumps(json.loads(read(lock)), separators=(",", ":"), ensure_ascii=False).encode()


def cog_yaml(weights):
    """cog.yaml text declaring `weights` [(name, target, uri, include, exclude)]."""
    lines = ['image: "r8.im/example/model"', "weights:"]
    for name, target, uri, include, exclude in weights:
        lines += ["  - name: %s" % json.dumps(name), "    target: %s" % json.dumps(target),
                  "    source:", "      uri: %s" % json.dumps(uri)]
        if include is not None:
            lines.append("      include: %s" % json.dumps(include))
        if exclude is not None:
            lines.append("      exclude: %s" % json.dumps(exclude))
    return "\n".join(lines) + "\n"


def declared(lock):
    """The declarations that agree with every entry of `lock` (single-source)."""
    return [(e["name"], e["target"], e["source"]["uri"], e["source"]["include"],
             e["source"]["exclude"]) for e in entries(lock)]


def stderr_lines(r):
    return r.err.decode("utf-8", "replace").splitlines()


# ---- help, version, usage ------------------------------------------------


def test_help_lists_every_command(tmp):
    for args in (["--help"], ["-h"], ["help"]):
        r = run(args, cwd=tmp)
        expect(r.rc == 0 and r.err == b"", "main help", args, r)
        text = r.out.decode()
        for command in COMMAND_OPTIONS:
            expect("\n  %s " % command in text, "help lacks command %s" % command, r)
        for option in GLOBAL_OPTIONS + ["--version"]:
            expect(option in text, "help lacks %s" % option, r)


def test_help_of_every_command_mentions_its_options(tmp):
    for command, options in COMMAND_OPTIONS.items():
        a = run([command, "--help"], cwd=tmp)
        b = run(["help", command], cwd=tmp)
        c = run([command, "-h"], cwd=tmp)
        expect(a.rc == 0 and b.rc == 0 and c.rc == 0, "help exit", command, a, b)
        expect(a.out == b.out == c.out, "the same help both ways", command)
        text = a.out.decode()
        expect(text.startswith("Usage: weightslock %s" % command), "usage line", text)
        for option in options + GLOBAL_OPTIONS:
            expect(option in text, "%s --help lacks %s" % (command, option), text)
        for line in text.splitlines():
            expect(len(line) <= 80, "help line wider than 80 columns", command, line)


def option_help(command, option, tmp):
    """The description of OPTION in COMMAND's --help, continuation lines joined."""
    lines = run([command, "--help"], cwd=tmp).out.decode().splitlines()
    for i, line in enumerate(lines):
        if line.strip().split(" ")[0] != option:
            continue
        parts = re.split(r"\s{2,}", line.strip(), 1)
        text = parts[1] if len(parts) > 1 else ""
        for more in lines[i + 1:]:
            if not more.startswith(" " * 25):
                break
            text += " " + more.strip()
        return text
    raise AssertionError("%s --help lacks %s" % (command, option))


def test_an_option_is_described_as_the_command_uses_it(tmp):
    # --timeout bounds a lock wait for the writers, a stalled request for
    # the registry commands; --jobs counts threads or transfers.
    for command in ("fmt", "prune", "with-lock", "import", "convert"):
        expect("guard lock" in option_help(command, "--timeout", tmp), command)
    expect("extract lock" in option_help("extract", "--timeout", tmp), "extract")
    for command in ("push", "pull", "status"):
        text = option_help(command, "--timeout", tmp)
        expect("request" in text and "lock" not in text, command, text)
        expect("transfers" in option_help(command, "-j,", tmp), command)
    expect("write" in option_help("import", "--oci-layout", tmp), "import writes a layout")
    expect("read" in option_help("extract", "--oci-layout", tmp), "extract reads a layout")
    expect("fill" in option_help("pull", "--store", tmp), "pull fills the store")
    # the short form of a per-command option is the command's own too
    r = run(["push", "-j", "2", "--repository", "127.0.0.1:9/x", "--lock", "absent.lock"], cwd=tmp)
    expect(r.rc == 2 and b"unknown option" not in r.err, "push -j", r)


def test_help_wins_over_other_arguments(tmp):
    r = run(["fmt", "--help", "no-such-file.lock"], cwd=tmp)
    expect(r.rc == 0 and r.out.startswith(b"Usage: weightslock fmt"), "help first", r)


def test_help_of_unknown_command_is_usage_error(tmp):
    expect_error(run(["help", "frobnicate"], cwd=tmp), "frobnicate", "--help")


def test_version(tmp):
    for args in (["version"], ["--version"], ["-q", "version"]):
        r = run(args, cwd=tmp)
        expect(r.rc == 0 and r.err == b"", "version", r)
        expect(r.out.startswith(b"weightslock ") and r.out.endswith(b"\n"), "version line", r)
        expect(len(r.out.splitlines()) == 1 and len(r.out.split()) == 2, "one line", r)


def test_usage_errors_suggest_help(tmp):
    project(tmp)
    cases = [
        [],
        ["frobnicate"],
        ["--frobnicate"],
        ["fmt", "--frobnicate"],
        ["fmt", "--json"],  # an option of another command
        ["-C"],
        ["fmt", "--lock"],
        ["fmt", "--check", "--stdout"],
        ["fmt", "a.lock", "b.lock"],
        ["fmt", "--check=yes"],
        ["check", "a.lock", "b.lock"],
        ["runtime-manifest", "a.lock", "b.lock"],
        ["runtime-manifest", "-o"],
        ["manifest"],
        ["manifest", "a", "b.lock", "c"],
        ["drift", "extra"],
        ["prune", "extra"],
        ["prune", "--keep"],
        ["version", "extra"],
        ["help", "fmt", "check"],
        ["with-lock", "weights.lock", "true"],
        ["with-lock", "weights.lock", "--"],
        ["with-lock", "a.lock", "b.lock", "--", "true"],
        ["--", "fmt"],
    ]
    for args in cases:
        expect_error(run(args, cwd=tmp), "--help")


def test_timeout_must_be_non_negative_number(tmp):
    path = project(tmp)
    for value in ["-1", "abc", "", "nan", "inf", "1s", "0x"]:
        for args in (["with-lock", "--timeout", value, "weights.lock", "--", "true"],
                     ["fmt", "--timeout=" + value],
                     ["prune", "--keep", "x", "--timeout", value]):
            expect_error(run(args, cwd=tmp), "--timeout")
    before = snapshot(path)
    for value in ["0", "0.5", "2", "1e1"]:
        r = run(["fmt", "--timeout", value], cwd=tmp)
        expect(r.rc == 0, "valid timeout", value, r)
    expect(snapshot(path) == before, "canonical file untouched")


def test_option_forms(tmp):
    path = project(tmp)
    want = read(path)
    for args in (["fmt", "--stdout"], ["fmt", "--stdout", "weights.lock"],
                 ["fmt", "weights.lock", "--stdout"], ["fmt", "--lock=weights.lock", "--stdout"],
                 ["--lock", "weights.lock", "fmt", "--stdout"], ["-qv", "fmt", "--stdout"],
                 ["-C" + tmp, "fmt", "--stdout"], ["fmt", "--stdout", "--", "weights.lock"]):
        r = run(args, cwd=tmp)
        expect(r.rc == 0 and r.out == want, "option form", args, r)


def test_lockfile_operand_and_lock_flag_conflict(tmp):
    project(tmp)
    write(os.path.join(tmp, "other.lock"), read(RESNET))
    expect_error(run(["--lock", "other.lock", "fmt", "--check", "weights.lock"], cwd=tmp), "--lock")
    r = run(["--lock", "weights.lock", "fmt", "--check", "weights.lock"], cwd=tmp)
    expect(r.rc == 0, "the same file both ways is fine", r)


# ---- -C, -f, --lock ------------------------------------------------------


def test_chdir_is_the_project_directory(tmp):
    proj = os.path.join(tmp, "proj")
    os.mkdir(proj)
    project(proj, RESNET)
    write(os.path.join(tmp, "weights.lock"), b"garbage")
    r = run(["-C", "proj", "fmt", "--stdout"], cwd=tmp)
    expect(r.rc == 0 and r.out == read(RESNET), "-C before the command", r)
    r = run(["fmt", "-C", "proj", "--stdout"], cwd=tmp)
    expect(r.rc == 0 and r.out == read(RESNET), "-C after the command", r)
    r = run(["-C", "proj", "fmt", "--stdout", "weights.lock"], cwd=tmp)
    expect(r.rc == 0 and r.out == read(RESNET), "operands are relative to -C", r)
    os.mkdir(os.path.join(proj, "sub"))
    r = run(["-C", "proj", "-C", "sub", "fmt", "--stdout", "../weights.lock"], cwd=tmp)
    expect(r.rc == 0 and r.out == read(RESNET), "-C accumulates like git -C", r)
    expect_error(run(["-C", "missing", "check"], cwd=tmp), "missing")


def test_lock_flag_names_the_lockfile(tmp):
    write(os.path.join(tmp, "other.lock"), read(RESNET))
    for command in (["fmt", "--stdout"], ["runtime-manifest"]):
        r = run(["--lock", "other.lock"] + command, cwd=tmp)
        expect(r.rc == 0, "--lock", command, r)
    r = run(["--lock", "other.lock", "runtime-manifest"], cwd=tmp)
    expect(r.out == read(RESNET.replace(".lock", ".runtime.json")), "runtime from --lock", r)


# ---- reading failures ----------------------------------------------------


def test_invalid_lockfiles_are_rejected_by_every_reader(tmp):
    path = os.path.join(tmp, "weights.lock")
    commands = [["fmt"], ["fmt", "--check"], ["fmt", "--stdout"], ["check"], ["show"],
                ["show", "--json"], ["runtime-manifest"], ["manifest", "a"],
                ["runtime-manifest", "-o", "out.json"]]
    for label, data, part in invalid_cases():
        write(path, data)
        before = snapshot(path)
        for command in commands:
            r = run(command, cwd=tmp)
            expect_error(r, "weights.lock", part)
            expect(snapshot(path) == before, "file touched", label, command)
            expect(r.out == b"", "no output", label, command, r)
        expect(not os.path.exists(path + ".guard"), "no guard file for a bad file", label)
        expect(not os.path.exists(os.path.join(tmp, "out.json")), "no -o file", label)


def test_invalid_stdin_is_rejected(tmp):
    for label, data, part in invalid_cases():
        for command in (["fmt", "-"], ["check", "-"], ["show", "-"], ["runtime-manifest", "-"]):
            r = run(command, cwd=tmp, stdin=data)
            expect_error(r, "stdin")


def test_unreadable_lockfiles(tmp):
    os.mkdir(os.path.join(tmp, "dir.lock"))
    write(os.path.join(tmp, "plain"), b"x")
    os.symlink("nowhere.lock", os.path.join(tmp, "dangling.lock"))
    cases = [("missing.lock", "missing.lock"), ("dir.lock", "dir.lock"),
             ("plain/weights.lock", "plain/weights.lock"), ("dangling.lock", "dangling.lock")]
    for path, part in cases:
        for command in (["fmt"], ["fmt", "--check"], ["fmt", "--stdout"], ["check"], ["show"],
                        ["runtime-manifest"]):
            expect_error(run(command + [path], cwd=tmp), part)
        expect_error(run(["manifest", "x", path], cwd=tmp), part)
        expect_error(run(["--lock", path, "show"], cwd=tmp), part)
    expect(not os.path.exists(os.path.join(tmp, "missing.lock.guard")), "no guard left")
    expect(os.path.islink(os.path.join(tmp, "dangling.lock")), "link kept")


def test_default_lockfile_missing(tmp):
    for command in (["fmt"], ["check"], ["show"], ["runtime-manifest"], ["manifest", "x"]):
        expect_error(run(command, cwd=tmp), "weights.lock")
    expect(os.listdir(tmp) == [], "nothing created", os.listdir(tmp))


def test_stdout_write_failure_is_an_error(tmp):
    project(tmp)
    with open("/dev/full", "wb") as full:
        for command in (["fmt", "--stdout"], ["show"], ["runtime-manifest"], ["version"]):
            p = subprocess.run([BIN] + command, cwd=tmp, stdout=full, stderr=subprocess.PIPE)
            lines = p.stderr.decode().splitlines()
            expect(p.returncode == 2 and len(lines) == 1, "exit 2", command, p.stderr)
            expect(lines[0].startswith("weightslock: ") and "standard output" in lines[0],
                   "message", lines)


# ---- fmt -----------------------------------------------------------------


def test_fmt_examples_are_canonical(tmp):
    for lock in EXAMPLE_LOCKS:
        path = project(tmp, lock)
        before = snapshot(path)
        r = run(["fmt", "--check"], cwd=tmp)
        expect(r.rc == 0 and r.out == b"" and r.err == b"", "fmt --check", lock, r)
        r = run(["fmt", "--stdout"], cwd=tmp)
        expect(r.rc == 0 and r.out == read(lock), "fmt --stdout bytes", lock, r)
        r = run(["fmt"], cwd=tmp)
        expect(r.rc == 0 and r.out == b"", "fmt", lock, r)
        expect(snapshot(path) == before, "canonical file untouched (bytes, mtime, inode)", lock)
        expect(not os.path.exists(path + ".guard"), "nothing to write, no guard taken")
        r = run(["-v", "fmt"], cwd=tmp)
        expect(r.rc == 0 and b"canonical" in r.err, "-v says why nothing happened", r)


def test_fmt_stdout_reads_stdin(tmp):
    for lock in EXAMPLE_LOCKS:
        r = run(["fmt", "-"], cwd=tmp, stdin=noncanonical(lock))
        expect(r.rc == 0 and r.out == read(lock), "fmt - implies --stdout", r)
        r = run(["fmt", "--stdout", "-"], cwd=tmp, stdin=read(lock))
        expect(r.rc == 0 and r.out == read(lock), "fmt --stdout -", r)
    r = run(["fmt", "--check", "-"], cwd=tmp, stdin=noncanonical(MANAGED))
    expect(r.rc == 1 and r.out == b"", "fmt --check - on a compact file", r)
    r = run(["fmt", "--check", "-"], cwd=tmp, stdin=read(MANAGED))
    expect(r.rc == 0, "fmt --check - on a canonical file", r)
    expect(os.listdir(tmp) == [], "stdin never writes", os.listdir(tmp))


def test_fmt_check_reports_noncanonical(tmp):
    path = os.path.join(tmp, "weights.lock")
    write(path, noncanonical(MANAGED))
    before = snapshot(path)
    r = run(["fmt", "--check"], cwd=tmp)
    expect(r.rc == 1 and r.out == b"", "exit 1", r)
    expect(len(stderr_lines(r)) == 1 and b"weights.lock" in r.err, "one line naming it", r)
    r = run(["-q", "fmt", "--check"], cwd=tmp)
    expect(r.rc == 1 and r.err == b"", "-q silences", r)
    r = run(["fmt", "--check", "-q"], cwd=tmp)
    expect(r.rc == 1 and r.err == b"", "-q after the command", r)
    expect(snapshot(path) == before, "--check writes nothing")
    # A trailing newline is enough to be non-canonical.
    write(path, read(MANAGED) + b"\n")
    expect(run(["fmt", "--check"], cwd=tmp).rc == 1, "trailing newline")


def test_fmt_stdout_never_writes(tmp):
    path = os.path.join(tmp, "weights.lock")
    write(path, noncanonical(RESNET))
    before = snapshot(path)
    r = run(["fmt", "--stdout"], cwd=tmp)
    expect(r.rc == 0 and r.out == read(RESNET), "canonical bytes, no newline", r)
    expect(snapshot(path) == before, "--stdout never writes")
    expect(not os.path.exists(path + ".guard"), "--stdout takes no guard")


def test_fmt_rewrites_in_canonical_form(tmp):
    for lock in EXAMPLE_LOCKS:
        path = os.path.join(tmp, "weights.lock")
        write(path, noncanonical(lock))
        os.chmod(path, 0o600)
        r = run(["fmt"], cwd=tmp)
        expect(r.rc == 0 and r.out == b"", "fmt", r)
        expect(read(path) == read(lock), "canonical bytes written", lock)
        expect(stat.S_IMODE(os.stat(path).st_mode) == 0o644, "mode 0644")
        expect(b"weights.lock" in r.err, "says what it did", r)
        expect(os.path.exists(path + ".guard"), "written under the guard lock")
        expect(guard_is_free(path), "guard released")
        leftovers = [f for f in os.listdir(tmp) if f.endswith(".tmp")]
        expect(leftovers == [], "no temporary file left", leftovers)
        before = snapshot(path)
        r = run(["fmt"], cwd=tmp)
        expect(r.rc == 0 and r.err == b"" and snapshot(path) == before, "second fmt is a no-op")


def test_fmt_unencodable_timestamp_is_an_error(tmp):
    path = os.path.join(tmp, "weights.lock")
    write(path, read(MANAGED).replace(b'.414483Z"', b'.414483+24:00"', 1))
    before = snapshot(path)
    for command in (["fmt"], ["fmt", "--check"], ["fmt", "--stdout"]):
        r = run(command, cwd=tmp)
        expect_error(r, "weights.lock", "importedAt")
        expect(r.out == b"" and snapshot(path) == before, "nothing written", command)
    r = run(["show", "--json"], cwd=tmp)
    expect(r.rc == 0 and json.loads(r.out)[0]["importedAt"] is None, "show copes", r)


def test_fmt_quiet(tmp):
    path = os.path.join(tmp, "weights.lock")
    write(path, noncanonical(MANAGED))
    r = run(["fmt", "-q"], cwd=tmp)
    expect(r.rc == 0 and r.err == b"" and read(path) == read(MANAGED), "quiet fmt", r)


def test_fmt_explicit_path_in_subdirectory(tmp):
    os.mkdir(os.path.join(tmp, "sub"))
    path = os.path.join(tmp, "sub", "w.lock")
    write(path, noncanonical(MANAGED))
    r = run(["fmt", "sub/w.lock"], cwd=tmp)
    expect(r.rc == 0 and read(path) == read(MANAGED), "fmt PATH", r)
    expect(os.path.exists(path + ".guard"), "guard beside the lockfile")
    expect(not os.path.exists(os.path.join(tmp, "weights.lock")), "default untouched")


def test_fmt_waits_for_the_guard_and_times_out(tmp):
    path = os.path.join(tmp, "weights.lock")
    write(path, noncanonical(MANAGED))
    before = snapshot(path)
    with held_guard(path):
        t0 = time.monotonic()
        r = run(["fmt", "--timeout", "0.3"], cwd=tmp)
        elapsed = time.monotonic() - t0
        expect_error(r, "weights.lock")
        expect(elapsed < 5, "timed out quickly", elapsed)
        expect(snapshot(path) == before, "file unchanged on timeout")
        r = run(["fmt", "--timeout", "0"], cwd=tmp)
        expect_error(r, "weights.lock")
        # Readers never take the guard lock.
        expect(run(["fmt", "--check"], cwd=tmp).rc == 1, "--check does not wait")
        expect(run(["fmt", "--stdout"], cwd=tmp).rc == 0, "--stdout does not wait")
    r = run(["fmt", "--timeout", "0.3"], cwd=tmp)
    expect(r.rc == 0 and read(path) == read(MANAGED), "works once released", r)


def test_fmt_signal_while_waiting_cancels(tmp):
    path = os.path.join(tmp, "weights.lock")
    write(path, noncanonical(MANAGED))
    before = snapshot(path)
    with held_guard(path):
        p = subprocess.Popen([BIN, "fmt"], cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.4)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
    lines = err.decode().splitlines()
    expect(p.returncode == 2 and len(lines) == 1 and lines[0].startswith("weightslock: "),
           "cancelled", p.returncode, err)
    expect(snapshot(path) == before, "file unchanged")


# ---- check ---------------------------------------------------------------


def test_check_examples_are_consistent(tmp):
    for lock in EXAMPLE_LOCKS:
        path = project(tmp, lock)
        before = snapshot(path)
        r = run(["check"], cwd=tmp)
        expect(r.rc == 0 and r.out == b"", "check", lock, r)
        expect(len(stderr_lines(r)) == 1 and b"consistent" in r.err, "one OK line", r)
        r = run(["check", "-q"], cwd=tmp)
        expect(r.rc == 0 and r.out == b"" and r.err == b"", "quiet", r)
        r = run(["check", "-"], cwd=tmp, stdin=read(lock))
        expect(r.rc == 0 and r.out == b"", "check -", r)
        expect(snapshot(path) == before, "check never writes")


def tampered(lock, change):
    doc = json.loads(read(lock))
    change(doc["weights"])
    return json.dumps(doc, indent=2).encode()


def test_check_reports_each_problem(tmp):
    path = os.path.join(tmp, "weights.lock")

    def bad_set_digest(ws):
        ws[0]["setDigest"] = "sha256:" + "0" * 64

    def bad_size(ws):
        ws[1]["size"] += 1

    write(path, tampered(MANAGED, bad_set_digest))
    r = run(["check"], cwd=tmp)
    names = [e["name"] for e in entries(MANAGED)]
    expect(r.rc == 1, "exit 1", r)
    lines = r.out.decode().splitlines()
    expect(lines and all(line.startswith(names[0] + ": ") for line in lines), "NAME: ...", r)
    write(path, tampered(MANAGED, lambda ws: (bad_set_digest(ws), bad_size(ws))))
    r = run(["check", "-q"], cwd=tmp)
    lines = r.out.decode().splitlines()
    expect(r.rc == 1 and r.err == b"", "exit 1, quiet", r)
    expect(any(line.startswith(names[0] + ": ") for line in lines), "first entry", lines)
    expect(any(line.startswith(names[1] + ": ") for line in lines), "second entry", lines)
    order = [line.split(":")[0] for line in lines]
    expect(order == sorted(order, key=names.index), "entry order", order)


def test_check_quotes_names_that_are_not_plain(tmp):
    path = os.path.join(tmp, "weights.lock")

    def rename(ws):
        ws[0]["name"] = "odd name\n:x"
        ws[0]["setDigest"] = "sha256:" + "0" * 64

    write(path, tampered(MANAGED, rename))
    r = run(["check"], cwd=tmp)
    lines = r.out.decode().splitlines()
    expect(r.rc == 1 and lines, "exit 1", r)
    expect(all(line.startswith('"odd name\\n:x": ') for line in lines), "quoted like %q", lines)


def test_check_refuses_names_and_media_types_that_would_escape_a_request(tmp):
    # A weight name becomes a registry tag and a layer's mediaType a request
    # header: both must keep to their grammars (SPEC.md §5.2, §18.1).
    path = os.path.join(tmp, "weights.lock")
    name = "a/../../../victim/manifests/latest?x="

    def rename(ws):
        ws[0]["name"] = name

    write(path, tampered(MANAGED, rename))
    before = snapshot(path)
    r = run(["check"], cwd=tmp)
    lines = r.out.decode().splitlines()
    expect(r.rc == 1, "exit 1", r)
    expect(snapshot(path) == before, "check never writes")
    expect(any(line.startswith('"%s": invalid weight name' % name) for line in lines), "the name", lines)

    def media_type(ws):
        ws[0]["layers"][0]["mediaType"] = "application/vnd.oci.image.layer.v1.tar\r\nX-Evil: 1"

    write(path, tampered(MANAGED, media_type))
    written = snapshot(path)
    r = run(["check"], cwd=tmp)
    lines = r.out.decode().splitlines()
    expect(r.rc == 1, "exit 1", r)
    expect(any("has an invalid mediaType" in line and "\\r\\nX-Evil" in line for line in lines),
           "the media type, escaped", lines)
    expect(all("\r" not in line for line in lines), "one line each", lines)
    expect(snapshot(path) == written, "check never writes")


# ---- show ----------------------------------------------------------------


def test_show_text_summarizes_every_weight(tmp):
    for lock in EXAMPLE_LOCKS:
        project(tmp, lock)
        r = run(["show"], cwd=tmp)
        expect(r.rc == 0 and r.err == b"", "show", lock, r)
        text = r.out.decode()
        for e in entries(lock):
            sources = e.get("sources") or [e["source"]]
            when = e.get("importedAt") or e["source"]["importedAt"]
            for value in [e["name"], e["target"], e["digest"], e["setDigest"], when,
                          "%d bytes" % e["size"], "%d bytes" % e["sizeCompressed"],
                          "files:          %d" % len(e["files"]),
                          "layers:         %d" % len(e["layers"])]:
                expect(value in text, "show lacks %r" % value, lock)
            for s in sources:
                expect(s["uri"] in text and s["fingerprint"] in text, "source", lock)
                for pattern in s["include"] + s["exclude"]:
                    expect(pattern in text, "pattern %r" % pattern)
        expect("GiB" in text or "MiB" in text, "human units", text)


def test_show_human_sizes(tmp):
    project(tmp, MANAGED)
    e = entries(MANAGED)[0]
    r = run(["show", e["name"]], cwd=tmp)
    gib = e["size"] / 1024.0 ** 3
    expect(("%.2f GiB (%d bytes)" % (gib, e["size"])).encode() in r.out, "GiB", r)


def test_show_selects_names_in_order(tmp):
    project(tmp, MANAGED)
    names = [e["name"] for e in entries(MANAGED)]
    r = run(["show", names[1], names[0]], cwd=tmp)
    text = r.out.decode()
    expect(r.rc == 0 and text.index(names[1]) < text.index(names[0]), "argument order", r)
    r = run(["show", "weights.lock", names[1]], cwd=tmp)
    expect(r.rc == 0 and names[0] not in r.out.decode(), "LOCKFILE NAME", r)
    r = run(["show", "--json", names[1]], cwd=tmp)
    expect([o["name"] for o in json.loads(r.out)] == [names[1]], "json selection", r)


def test_show_unknown_name_is_an_error(tmp):
    project(tmp, MANAGED)
    expect_error(run(["show", "nope"], cwd=tmp), '"nope"', "weights.lock")
    expect_error(run(["show", "--json", "weights.lock", "nope"], cwd=tmp), '"nope"')
    expect_error(run(["--lock", "weights.lock", "show", "weights.lock"], cwd=tmp), "weights.lock")


def test_show_lockfile_operand_rule(tmp):
    os.mkdir(os.path.join(tmp, "sub"))
    write(os.path.join(tmp, "sub", "w.json"), read(RESNET))
    write(os.path.join(tmp, "plainfile"), read(RESNET))
    write(os.path.join(tmp, "x.lock"), read(RESNET))
    project(tmp, MANAGED)
    rn = entries(RESNET)[0]["name"]
    for first in ("sub/w.json", "plainfile", "x.lock", "./x.lock"):
        r = run(["show", first], cwd=tmp)
        expect(r.rc == 0 and rn in r.out.decode(), "first operand is the lockfile", first, r)
    r = run(["show", "-"], cwd=tmp, stdin=read(RESNET))
    expect(r.rc == 0 and rn in r.out.decode(), "- is stdin", r)
    # A name that is no file is a name of the default lockfile.
    mn = entries(MANAGED)[0]["name"]
    r = run(["show", mn], cwd=tmp)
    expect(r.rc == 0 and mn in r.out.decode(), "a name", r)
    # With --lock every operand is a name.
    expect_error(run(["--lock", "x.lock", "show", "plainfile"], cwd=tmp), '"plainfile"')
    # A lockfile-looking operand that does not exist is a missing lockfile.
    expect_error(run(["show", "missing.lock"], cwd=tmp), "missing.lock")


def test_show_json_matches_the_lockfile(tmp):
    for lock in EXAMPLE_LOCKS:
        r = run(["show", "--json", lock], cwd=tmp)
        expect(r.rc == 0 and r.err == b"", "show --json", r)
        got = json.loads(r.out)
        want = entries(lock)
        expect(len(got) == len(want), "one object per entry")
        for g, e in zip(got, want):
            sources = e["sources"] if "sources" in e else [e["source"]]
            expect(g["name"] == e["name"] and g["target"] == e["target"], "name, target")
            expect(g["digest"] == e["digest"] and g["setDigest"] == e["setDigest"], "digests")
            expect(g["size"] == e["size"] and g["sizeCompressed"] == e["sizeCompressed"], "sizes")
            expect(g["fileCount"] == len(e["files"]) and g["layerCount"] == len(e["layers"]),
                   "counts")
            expect(g["importedAt"] == e.get("importedAt", sources[0].get("importedAt")), "time")
            expect([{k: s[k] for k in ("uri", "fingerprint", "include", "exclude")}
                    for s in sources] == g["sources"], "sources", g["sources"])
    write(os.path.join(tmp, "weights.lock"), b'{"version": 1, "weights": []}')
    r = run(["show", "--json"], cwd=tmp)
    expect(r.rc == 0 and json.loads(r.out) == [], "empty array", r)
    r = run(["show"], cwd=tmp)
    expect(r.rc == 0 and r.out == b"", "no weights, no text", r)


def test_show_escapes_awkward_strings(tmp):
    path = os.path.join(tmp, "weights.lock")
    awkward = 'a"b\\c\n\t\x01\x7f é \u2028 日本'

    def change(ws):
        ws[0]["name"] = awkward
        ws[0]["target"] = "/t\nx"
        ws[0]["source"]["include"] = ["\x1b[31m"]

    write(path, tampered(MANAGED, change))
    r = run(["show", "--json"], cwd=tmp)
    expect(r.rc == 0, "show --json", r)
    got = json.loads(r.out)
    expect(got[0]["name"] == awkward and got[0]["target"] == "/t\nx", "round trip", got[0])
    expect(got[0]["sources"][0]["include"] == ["\x1b[31m"], "patterns escaped")
    expect(all(b >= 0x20 and b != 0x7f for b in r.out.replace(b"\n", b"")),
           "no raw control bytes", r)
    r = run(["show"], cwd=tmp)
    text = r.out.decode()
    expect(r.rc == 0 and '"/t\\nx"' in text and '"\\x1b[31m"' in text, "quoted text", text)
    expect("\x1b" not in text and "\x01" not in text, "no raw control bytes", text)
    expect(text.splitlines()[0].startswith('"a\\"b\\\\c\\n\\t\\x01\\x7f'), "name quoted", text)


# ---- runtime-manifest ----------------------------------------------------


def test_runtime_manifest_matches_cog(tmp):
    for lock in EXAMPLE_LOCKS:
        want = read(lock.replace(".lock", ".runtime.json"))
        r = run(["runtime-manifest", lock], cwd=tmp)
        expect(r.rc == 0 and r.out == want and r.err == b"", "runtime bytes", lock, r)
        r = run(["runtime-manifest", "-"], cwd=tmp, stdin=read(lock))
        expect(r.rc == 0 and r.out == want, "from stdin", lock, r)
        r = run(["runtime-manifest", "-o", "-", lock], cwd=tmp)
        expect(r.rc == 0 and r.out == want, "-o -", lock, r)


def test_runtime_manifest_empty(tmp):
    write(os.path.join(tmp, "weights.lock"), b'{"version": 1, "weights": null}')
    r = run(["runtime-manifest"], cwd=tmp)
    expect(r.rc == 0 and r.out == b'{\n  "weights": []\n}', "empty form", r)


def test_runtime_manifest_output_file(tmp):
    project(tmp, MANAGED)
    want = read(MANAGED.replace(".lock", ".runtime.json"))
    out = os.path.join(tmp, "sub", "weights.json")
    os.mkdir(os.path.join(tmp, "sub"))
    r = run(["runtime-manifest", "-o", "sub/weights.json"], cwd=tmp)
    expect(r.rc == 0 and r.out == b"" and read(out) == want, "-o FILE", r)
    expect(stat.S_IMODE(os.stat(out).st_mode) == 0o644, "mode 0644")
    before = snapshot(out)
    r = run(["runtime-manifest", "-o", "sub/weights.json"], cwd=tmp)
    expect(r.rc == 0 and snapshot(out) == before, "same bytes: untouched", r)
    write(out, b"old")
    r = run(["-C", tmp, "runtime-manifest", "-o", out], cwd="/")
    expect(r.rc == 0 and read(out) == want, "replaced", r)
    expect([f for f in os.listdir(os.path.join(tmp, "sub")) if f != "weights.json"] == [],
           "no temporary file left")
    expect_error(run(["runtime-manifest", "-o", "missing/dir/w.json"], cwd=tmp), "missing/dir")


# ---- manifest ------------------------------------------------------------


def test_manifest_hashes_to_the_entry_digest(tmp):
    for lock in EXAMPLE_LOCKS:
        for e in entries(lock):
            r = run(["manifest", e["name"], lock], cwd=tmp)
            expect(r.rc == 0 and r.err == b"", "manifest", e["name"], r)
            expect("sha256:" + sha256(r.out) == e["digest"], "sha256 is the digest", e["name"])
            expect(not r.out.endswith(b"\n"), "no added newline")
            c = run(["manifest", "--config", e["name"], lock], cwd=tmp)
            expect(c.rc == 0 and c.err == b"", "config", c)
            config = json.loads(r.out)["config"]
            expect(config["digest"] == "sha256:" + sha256(c.out), "config blob digest")
            expect(config["size"] == len(c.out), "config blob size")


def test_manifest_default_lockfile_and_stdin(tmp):
    project(tmp, RESNET)
    e = entries(RESNET)[0]
    r = run(["manifest", e["name"]], cwd=tmp)
    expect(r.rc == 0 and "sha256:" + sha256(r.out) == e["digest"], "default lockfile", r)
    r = run(["manifest", e["name"], "-"], cwd=tmp, stdin=read(RESNET))
    expect(r.rc == 0 and "sha256:" + sha256(r.out) == e["digest"], "stdin", r)


def test_manifest_unknown_name(tmp):
    project(tmp, RESNET)
    expect_error(run(["manifest", "nope"], cwd=tmp), '"nope"', "weights.lock")
    expect_error(run(["manifest", "--config", "nope"], cwd=tmp), '"nope"')


def test_manifest_projection_failure(tmp):
    path = os.path.join(tmp, "weights.lock")

    def no_layers(ws):
        ws[0]["layers"] = []

    write(path, tampered(RESNET, no_layers))
    name = entries(RESNET)[0]["name"]
    expect_error(run(["manifest", name], cwd=tmp), "weights.lock", name, "manifest", "layer")
    expect_error(run(["manifest", "--config", name], cwd=tmp), "weights.lock", "config blob")


# ---- drift ---------------------------------------------------------------


def test_drift_in_sync(tmp):
    project(tmp, MANAGED)
    write(os.path.join(tmp, "cog.yaml"), cog_yaml(declared(MANAGED)))
    r = run(["drift"], cwd=tmp)
    expect(r.rc == 0 and r.out == b"", "no drift", r)
    expect(len(stderr_lines(r)) == 1 and b"in sync" in r.err, "says so on stderr", r)
    r = run(["drift", "-q"], cwd=tmp)
    expect(r.rc == 0 and r.out == b"" and r.err == b"", "quiet", r)
    r = run(["drift", "--json"], cwd=tmp)
    expect(r.rc == 0 and json.loads(r.out) == [], "[]", r)


def test_drift_reports_cog_message(tmp):
    lock = project(tmp, MANAGED)
    before = snapshot(lock)
    first, second = declared(MANAGED)
    changed = (first[0], first[1] + "-v2") + first[2:]
    write(os.path.join(tmp, "cog.yaml"), cog_yaml([("new-one", "/src/new", "new", None, None),
                                                   changed]))
    r = run(["drift"], cwd=tmp)
    want = ('weights.lock is out of sync with cog.yaml:\n'
            '  - "new-one": not imported yet\n'
            '  - "%s": config changed (target: %s \u2192 %s)\n'
            '  - "%s": removed from cog.yaml but still in lockfile\n'
            "Run 'cog weights import' to update.\n"
            % (first[0], first[1], changed[1], second[0]))
    expect(r.rc == 1 and r.out.decode() == want and r.err == b"", "Cog's message", r)
    r = run(["drift", "--json"], cwd=tmp)
    expect(r.rc == 1, "exit 1", r)
    expect(json.loads(r.out) == [
        {"name": "new-one", "kind": "pending", "details": ""},
        {"name": first[0], "kind": "config-changed",
         "details": "target: %s \u2192 %s" % (first[1], changed[1])},
        {"name": second[0], "kind": "orphaned", "details": ""}], "json", r)
    expect(r.out.startswith(b'[\n  {\n    "name": '), "pretty-printed", r)
    expect(snapshot(lock) == before, "drift never writes")


def test_drift_missing_lockfile_means_pending(tmp):
    write(os.path.join(tmp, "cog.yaml"), cog_yaml(declared(MANAGED)))
    r = run(["drift", "--json"], cwd=tmp)
    expect(r.rc == 1 and [o["kind"] for o in json.loads(r.out)] == ["pending", "pending"], "", r)
    r = run(["drift"], cwd=tmp)
    expect(r.rc == 1 and r.out.count(b"not imported yet") == 2, "human", r)
    expect(os.listdir(tmp) == ["cog.yaml"], "nothing created")


def test_drift_errors(tmp):
    project(tmp, MANAGED)
    expect_error(run(["drift"], cwd=tmp), "cog.yaml")  # no cog.yaml
    write(os.path.join(tmp, "cog.yaml"), cog_yaml([("a", "/src/a", "s3://bucket/key", None, None)]))
    expect_error(run(["drift"], cwd=tmp), "s3")
    write(os.path.join(tmp, "cog.yaml"), cog_yaml(declared(MANAGED)))
    for label, data, part in invalid_cases():
        write(os.path.join(tmp, "weights.lock"), data)
        expect_error(run(["drift"], cwd=tmp), "weights.lock")
        expect_error(run(["drift", "--json"], cwd=tmp), "weights.lock")
    os.remove(os.path.join(tmp, "weights.lock"))
    os.mkdir(os.path.join(tmp, "weights.lock"))
    expect_error(run(["drift"], cwd=tmp), "weights.lock")
    expect_error(run(["-f", "missing.yaml", "drift"], cwd=tmp), "missing.yaml")


def test_drift_flags_name_the_files(tmp):
    proj = os.path.join(tmp, "p")
    os.mkdir(proj)
    write(os.path.join(proj, "other.lock"), read(MANAGED))
    write(os.path.join(proj, "other.yaml"), cog_yaml(declared(MANAGED)))
    r = run(["-C", "p", "-f", "other.yaml", "--lock", "other.lock", "drift"], cwd=tmp)
    expect(r.rc == 0, "in sync with -C, -f and --lock", r)
    r = run(["drift", "-C", "p", "-f", "other.yaml", "--json"], cwd=tmp)
    expect(r.rc == 1 and len(json.loads(r.out)) == 2, "no weights.lock there: pending", r)
    r = run(["drift", "-C", "p", "-f", "other.yaml"], cwd=tmp)
    expect(r.out.startswith(b"weights.lock is out of sync with other.yaml:\n"), "names", r)


# ---- prune ---------------------------------------------------------------


def test_prune_keep(tmp):
    path = project(tmp, MANAGED)
    names = [e["name"] for e in entries(MANAGED)]
    before = snapshot(path)
    r = run(["prune", "--keep", names[0], "--keep", names[1]], cwd=tmp)
    expect(r.rc == 0 and snapshot(path) == before, "nothing removed: untouched", r)
    expect(not os.path.exists(path + ".guard"), "nothing to do: no guard file")
    r = run(["prune", "--keep", names[1], "--keep", "not-there"], cwd=tmp)
    expect(r.rc == 0 and r.out == b"" and b"1 entry" in r.err, "removed one", r)
    expect([e["name"] for e in entries(path)] == [names[1]], "kept the other")
    expect(run(["fmt", "--check"], cwd=tmp).rc == 0, "written canonically")
    expect(guard_is_free(path), "guard released")
    r = run(["prune", "-q", "--keep=nothing"], cwd=tmp)
    expect(r.rc == 0 and r.err == b"", "quiet", r)
    doc = json.loads(read(path))
    expect(doc["weights"] == [], "every entry removed: an empty list", doc)


def test_prune_keeps_noncanonical_file_when_nothing_removed(tmp):
    path = os.path.join(tmp, "weights.lock")
    write(path, noncanonical(MANAGED))
    before = snapshot(path)
    names = [e["name"] for e in entries(MANAGED)]
    r = run(["prune"] + sum([["--keep", n] for n in names], []), cwd=tmp)
    expect(r.rc == 0 and snapshot(path) == before, "untouched", r)


def test_prune_defaults_to_cog_yaml(tmp):
    path = project(tmp, MANAGED)
    first, second = declared(MANAGED)
    write(os.path.join(tmp, "cog.yaml"), cog_yaml([second]))
    r = run(["prune"], cwd=tmp)
    expect(r.rc == 0, "prune", r)
    expect([e["name"] for e in entries(path)] == [second[0]], "kept what cog.yaml declares")
    write(os.path.join(tmp, "cog.yaml"), "image: x\n")
    r = run(["prune"], cwd=tmp)
    expect(r.rc == 0 and entries(path) == [], "no weights declared: all removed", r)


def test_prune_missing_lockfile(tmp):
    write(os.path.join(tmp, "cog.yaml"), cog_yaml(declared(MANAGED)))
    for args in (["prune"], ["prune", "--keep", "x"]):
        r = run(args, cwd=tmp)
        expect(r.rc == 0, "missing lockfile is fine", r)
        expect(sorted(os.listdir(tmp)) == ["cog.yaml"], "nothing created", os.listdir(tmp))


def test_prune_errors_leave_the_file(tmp):
    path = project(tmp, MANAGED)
    before = snapshot(path)
    expect_error(run(["prune"], cwd=tmp), "cog.yaml")  # no cog.yaml
    write(os.path.join(tmp, "cog.yaml"), "weights: [1, 2]\n")
    expect_error(run(["prune"], cwd=tmp), "cog.yaml")
    expect(snapshot(path) == before, "untouched")
    for label, data, part in invalid_cases():
        write(path, data)
        b = snapshot(path)
        expect_error(run(["prune", "--keep", "x"], cwd=tmp), "weights.lock")
        expect(snapshot(path) == b, "invalid lockfile untouched", label)
    os.remove(path)
    os.mkdir(path)
    expect_error(run(["prune", "--keep", "x"], cwd=tmp), "weights.lock")
    expect_error(run(["--lock", "-", "prune", "--keep", "x"], cwd=tmp), "--help")


def test_prune_times_out_on_a_held_guard(tmp):
    path = project(tmp, MANAGED)
    before = snapshot(path)
    with held_guard(path):
        t0 = time.monotonic()
        r = run(["prune", "--keep", "x", "--timeout", "0.3"], cwd=tmp)
        expect_error(r, "weights.lock")
        expect(time.monotonic() - t0 < 5, "quick")
    expect(snapshot(path) == before, "untouched")


# ---- with-lock -----------------------------------------------------------


def test_with_lock_passes_the_exit_status(tmp):
    for code in (0, 1, 7, 255):
        r = run(["with-lock", "weights.lock", "--", "sh", "-c", "exit %d" % code], cwd=tmp)
        expect(r.rc == code and r.err == b"", "status", code, r)
    r = run(["with-lock", "weights.lock", "--", "sh", "-c", "kill -TERM $$"], cwd=tmp)
    expect(r.rc == 128 + signal.SIGTERM, "128+signal", r)
    r = run(["with-lock", "--", "sh", "-c", "echo out; echo err >&2"], cwd=tmp)
    expect(r.rc == 0 and r.out == b"out\n" and r.err == b"err\n", "default lockfile, stdio", r)
    r = run(["with-lock", "weights.lock", "--", "sh", "-c", "cat"], cwd=tmp, stdin=b"in")
    expect(r.rc == 0 and r.out == b"in", "stdin passed on", r)
    expect(os.path.exists(os.path.join(tmp, "weights.lock.guard")), "guard file created")
    expect(not os.path.exists(os.path.join(tmp, "weights.lock")), "lockfile not created")


def test_with_lock_holds_the_guard_while_running(tmp):
    path = os.path.join(tmp, "weights.lock")
    probe = ("import fcntl, sys\n"
             "f = open(sys.argv[1] + '.guard', 'a+b')\n"
             "try:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
             "except BlockingIOError:\n    sys.exit(42)\n")
    r = run(["with-lock", "weights.lock", "--", "python3", "-c", probe, path], cwd=tmp)
    expect(r.rc == 42, "guard held while COMMAND runs", r)
    expect(guard_is_free(path), "released afterwards")
    # The guard descriptor is not inherited by COMMAND.
    r = run(["with-lock", "weights.lock", "--", "sh", "-c",
             "for f in /proc/$$/fd/*; do readlink $f; done; true"], cwd=tmp)
    expect(r.rc == 0 and b".guard" not in r.out, "close-on-exec", r)


def test_with_lock_default_lockfile_follows_lock_and_chdir(tmp):
    os.mkdir(os.path.join(tmp, "p"))
    r = run(["--lock", "x.lock", "with-lock", "--", "true"], cwd=tmp)
    expect(r.rc == 0 and os.path.exists(os.path.join(tmp, "x.lock.guard")), "--lock", r)
    r = run(["-C", "p", "with-lock", "--", "sh", "-c", "pwd > here"], cwd=tmp)
    expect(r.rc == 0 and os.path.exists(os.path.join(tmp, "p", "weights.lock.guard")), "-C", r)
    expect(read(os.path.join(tmp, "p", "here")).strip().endswith(b"/p"), "COMMAND runs in DIR")


def test_with_lock_creates_the_directory(tmp):
    r = run(["with-lock", "a/b/weights.lock", "--", "true"], cwd=tmp)
    expect(r.rc == 0 and os.path.exists(os.path.join(tmp, "a/b/weights.lock.guard")), "dirs", r)


def test_with_lock_command_not_executable(tmp):
    write(os.path.join(tmp, "notexec"), "#!/bin/sh\n")
    for command in ("no-such-command-here", "./notexec", "/nonexistent/x"):
        r = run(["with-lock", "weights.lock", "--", command], cwd=tmp)
        lines = stderr_lines(r)
        expect(r.rc == 127 and len(lines) == 1 and lines[0].startswith("weightslock: ")
               and command in lines[0], "exit 127", command, r)


def test_with_lock_times_out_without_running(tmp):
    path = os.path.join(tmp, "weights.lock")
    marker = os.path.join(tmp, "ran")
    with held_guard(path):
        for timeout in ("0.3", "0"):
            t0 = time.monotonic()
            r = run(["with-lock", "--timeout", timeout, "weights.lock", "--", "touch", marker],
                    cwd=tmp)
            expect_error(r, "weights.lock")
            expect(time.monotonic() - t0 < 5, "quick")
            expect(not os.path.exists(marker), "COMMAND not run")


def test_with_lock_waits_for_a_release(tmp):
    path = os.path.join(tmp, "weights.lock")
    marker = os.path.join(tmp, "ran")
    with held_guard(path):
        p = subprocess.Popen([BIN, "with-lock", "weights.lock", "--", "touch", marker], cwd=tmp,
                             stderr=subprocess.PIPE)
        time.sleep(0.3)
        expect(p.poll() is None and not os.path.exists(marker), "still waiting")
    p.communicate(timeout=10)
    expect(p.returncode == 0 and os.path.exists(marker), "ran once the guard was free")


def test_with_lock_signal_while_waiting(tmp):
    path = os.path.join(tmp, "weights.lock")
    marker = os.path.join(tmp, "ran")
    for sig in (signal.SIGTERM, signal.SIGINT):
        with held_guard(path):
            p = subprocess.Popen([BIN, "with-lock", "weights.lock", "--", "touch", marker],
                                 cwd=tmp, stderr=subprocess.PIPE)
            time.sleep(0.3)
            p.send_signal(sig)
            _, err = p.communicate(timeout=10)
        lines = err.decode().splitlines()
        expect(p.returncode == 2 and len(lines) == 1 and lines[0].startswith("weightslock: "),
               "exit 2", sig, p.returncode, err)
        expect(not os.path.exists(marker), "COMMAND not run")


def test_with_lock_forwards_signals(tmp):
    started = os.path.join(tmp, "started")
    script = "trap 'kill $pid; exit 9' TERM; sleep 10 & pid=$!; touch %s; wait" % started
    p = subprocess.Popen([BIN, "with-lock", "weights.lock", "--", "sh", "-c", script], cwd=tmp,
                         stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not os.path.exists(started) and time.monotonic() < deadline:
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=10)
    expect(p.returncode == 9, "COMMAND got SIGTERM and its status came back", p.returncode)
    expect(guard_is_free(os.path.join(tmp, "weights.lock")), "released")


def test_writers_serialize_through_with_lock(tmp):
    path = os.path.join(tmp, "weights.lock")
    write(path, noncanonical(MANAGED))
    before = snapshot(path)
    r = run(["with-lock", "weights.lock", "--", BIN, "fmt", "--timeout", "0.2"], cwd=tmp)
    expect(r.rc == 2 and snapshot(path) == before, "fmt inside with-lock cannot take the guard", r)
