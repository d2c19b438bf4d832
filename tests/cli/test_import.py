"""`weightslock digest` and `weightslock import` (SPEC.md §9-§11, CLI.md).

Every user-reachable failure feeds the bad input and checks: exit 2, one
`weightslock: ` line naming the problem, and the lockfile byte-for-byte (and
inode, mtime) as it was.
"""
import gzip
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import time

from wltest import BIN, expect, expect_error, read, run, snapshot, write

DEMO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "demo")
APPENDIX_A_SET = "sha256:df918f9ee2fda72ca0cde55fb65400078a54143b2924811239256bc8bd503496"
APPENDIX_A_FINGERPRINT = "sha256:a57d03762ee9fb3550f9cc4f7273727846d0aeee367384b7ff5e6b6176fbc8bf"

COG_YAML = """image: r8.im/example/model
weights:
  - name: {name}
    target: /src/weights/{name}
    source:
      uri: {uri}
{extra}"""


def project(tmp, files, uri="./weights", name="w", extra="", cog=None):
    """A project dir with cog.yaml and a weights tree; returns its path."""
    p = os.path.join(tmp, "proj")
    os.makedirs(p, exist_ok=True)
    write(os.path.join(p, "cog.yaml"), cog if cog is not None else COG_YAML.format(name=name, uri=uri, extra=extra))
    for rel, data in files.items():
        f = os.path.join(p, "weights", rel)
        os.makedirs(os.path.dirname(f), exist_ok=True)
        write(f, data)
    os.makedirs(os.path.join(p, "weights"), exist_ok=True)
    return p


def imp(p, *args, **kw):
    return run(["-C", p, "import", "--cache-dir", os.path.join(p, "..", "cache")] + list(args), **kw)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def lock_of(p):
    return json.loads(read(os.path.join(p, "weights.lock")))


def demo_project(tmp):
    p = os.path.join(tmp, "demo")
    shutil.copytree(DEMO, p)
    write(os.path.join(p, "weights", "model.safetensors"), bytes(range(100)))
    os.remove(os.path.join(p, "weights.lock"))
    return p


# ---- digest ----


def test_digest_of_the_appendix_a_tree(tmp):
    p = demo_project(tmp)
    r = run(["digest", "--list", os.path.join(p, "weights")])
    expect(r.rc == 0, "digest failed", r)
    lines = r.out.decode().splitlines()
    expect(lines[-1] == APPENDIX_A_FINGERPRINT, "fingerprint", r)
    expect(lines[:-1] == [
        "bc70e26f40b8816eb177813dda1f5f529a27a4641d45aa19cae2348a8c6a5fe9  README.md",
        "a774917976eeace378d7b0fb665b2e8803ee1183a5186169ad23d4c264d862c9  config.json",
        "bce0aff19cf5aa6a7469a30d61d04e4376e4bbf6381052ee9e7f33925c954d52  model.safetensors",
        "4a1e67f2fe1d1cc7b31d0ca2ec441da4778203a036a77da10344c85e24ff0f92  tokenizer/vocab.txt",
    ], "list (sorted by path, .cog skipped)", r)
    r = run(["digest", "--exclude", "*.md", os.path.join(p, "weights")])
    expect(r.out == (APPENDIX_A_SET + "\n").encode(), "filtered set digest", r)


def test_digest_errors(tmp):
    expect_error(run(["digest", os.path.join(tmp, "absent")]), "absent")
    write(os.path.join(tmp, "f"), "x")
    expect_error(run(["digest", os.path.join(tmp, "f")]))
    os.makedirs(os.path.join(tmp, "d"))
    write(os.path.join(tmp, "d", "a.bin"), "x")
    expect_error(run(["digest", "--include", "*.gguf", os.path.join(tmp, "d")]), "matched zero files out of 1")
    expect_error(run(["digest", "--include", "!a", os.path.join(tmp, "d")]), "negation")
    expect_error(run(["digest", "--include", "a\\b", os.path.join(tmp, "d")]), "backslash")
    expect_error(run(["digest", "--include", "  ", os.path.join(tmp, "d")]), "empty")
    expect_error(run(["digest", "--include", "a+b", os.path.join(tmp, "d")]), "a+b")
    r = run(["digest"])
    expect(r.rc == 2 and b"--help" in r.err, "usage", r)


# ---- import: results ----


def test_import_reproduces_the_appendix_a_entry(tmp):
    p = demo_project(tmp)
    layout = os.path.join(tmp, "layout")
    r = imp(p, "--bundle-file-max", "64", "--oci-layout", layout)  # as in the worked example
    expect(r.rc == 0, "import failed", r)
    lock = lock_of(p)
    e = lock["weights"][0]
    expect(e["source"]["fingerprint"] == APPENDIX_A_FINGERPRINT, "fingerprint", e["source"])
    expect(e["setDigest"] == APPENDIX_A_SET, "set digest", e)
    expect(e["source"]["exclude"] == ["*.md"] and e["source"]["include"] == [], "patterns", e["source"])
    expect(e["size"] == 150, "size", e)
    raw = [l for l in e["layers"] if l["mediaType"].endswith(".tar")]
    expect(raw == [{"digest": "sha256:18eeb8a0d797e7682c36beef411bd830372e58e63bae7ab7cc49a921db5c057c",
                    "mediaType": "application/vnd.oci.image.layer.v1.tar", "size": 3072, "sizeUncompressed": 100}],
           "the tar layer of the worked example", e["layers"])
    # The bundle's gzip bytes are libdeflate's, not the appendix's zlib ones
    # (those are checked in the unit tests); what it holds is the
    # appendix's tar stream.
    gz = [l for l in e["layers"] if l["mediaType"].endswith("+gzip")]
    expect(len(gz) == 1 and gz[0]["sizeUncompressed"] == 50, "the bundle", e["layers"])
    blob = read(os.path.join(layout, "blobs", "sha256", gz[0]["digest"][7:]))
    expect("sha256:" + hashlib.sha256(blob).hexdigest() == gz[0]["digest"] and len(blob) == gz[0]["size"],
           "bundle blob", gz[0])
    tar = gzip.decompress(blob)
    expect(hashlib.sha256(tar).hexdigest() == "3f8674e9a44e1e0624aa7a1f8457ffbb91fbe2a4a545c55902237d5691c4ccf9",
           "the appendix's bundle tar", len(tar))
    expect(e["sizeCompressed"] == 3072 + gz[0]["size"], "compressed size", e)
    expect(run(["-C", p, "check"]).rc == 0, "check after import")
    expect(run(["-C", p, "fmt", "--check"]).rc == 0, "canonical after import")
    expect(run(["-C", p, "drift"]).rc == 0, "in sync after import")
    expect(lock["envelopeFormat"] != "sha256:ce2d53f8dd962ace393450e0abadbe227304897be87753a503b61f9c8525726e",
           "never Cog's envelope")


def test_reimport_of_an_unchanged_tree_writes_nothing(tmp):
    p = project(tmp, {"a.bin": b"a" * 100, "b/c.json": b"{}"})
    expect(imp(p).rc == 0, "first import")
    before = snapshot(os.path.join(p, "weights.lock"))
    time.sleep(0.01)
    r = imp(p)
    expect(r.rc == 0, "second import", r)
    expect(snapshot(os.path.join(p, "weights.lock")) == before, "lockfile rewritten on an unchanged re-import")
    r = imp(p, "--no-cache")
    expect(r.rc == 0 and snapshot(os.path.join(p, "weights.lock")) == before, "no-cache re-import rewrote", r)


def test_a_changed_file_changes_only_its_entry(tmp):
    cog = """image: x
weights:
  - name: one
    target: /w/one
    source: {uri: ./weights/one}
  - name: two
    target: /w/two
    source: {uri: ./weights/two}
"""
    p = project(tmp, {"one/a.bin": b"1", "two/b.bin": b"2"}, cog=cog)
    expect(imp(p).rc == 0, "import")
    first = lock_of(p)
    write(os.path.join(p, "weights", "two", "b.bin"), b"22")
    r = imp(p)
    expect(r.rc == 0, "re-import", r)
    second = lock_of(p)
    expect(second["weights"][0] == first["weights"][0], "the untouched entry changed")
    expect(second["weights"][1]["source"]["importedAt"] != first["weights"][1]["source"]["importedAt"],
           "a changed entry gets a new import time")
    expect(second["weights"][1]["size"] == 2, "new size", second["weights"][1])


def test_undeclared_entries_are_pruned(tmp):
    p = project(tmp, {"a.bin": b"a"})
    expect(imp(p).rc == 0, "import")
    lock = lock_of(p)
    other = dict(lock["weights"][0], name="gone", target="/src/gone")
    lock["weights"].append(other)
    write(os.path.join(p, "weights.lock"), json.dumps(lock))
    expect(imp(p).rc == 0, "re-import")
    expect([e["name"] for e in lock_of(p)["weights"]] == ["w"], "undeclared entry kept")


def test_dry_run_prints_the_plan_and_writes_nothing(tmp):
    p = project(tmp, {"a.bin": b"a" * 2000, "README.md": b"r"}, extra="      exclude: ['*.md']\n")
    r = imp(p, "--dry-run", "-v")
    expect(r.rc == 0, "dry run", r)
    out = r.out.decode()
    expect(out.startswith("+ w  file://./weights \u2192 /src/weights/w\n  status: new\n"), "plan header", out)
    expect("  files: 1  size: 2.0KB\n" in out, "files and size", out)
    expect("    - README.md (1B)\n" in out and "    + a.bin (2.0KB)\n" in out, "verbose lists", out)
    expect(not os.path.exists(os.path.join(p, "weights.lock")), "dry run wrote the lockfile")
    expect(not os.path.exists(os.path.join(p, "weights.lock.guard")), "dry run took the guard")
    expect(imp(p).rc == 0, "import")
    r = imp(p, "--dry-run")
    expect(r.out.decode().startswith("= w  "), "unchanged", r)
    write(os.path.join(p, "weights", "README.md"), b"changed")
    r = imp(p, "--dry-run")
    expect("status: upstream-changed" in r.out.decode() and "changed: fingerprint: sha256:" in r.out.decode(),
           "upstream change", r)
    write(os.path.join(p, "cog.yaml"), COG_YAML.format(name="w", uri="./weights", extra=""))
    r = imp(p, "--dry-run")
    expect("status: config-changed" in r.out.decode() and 'changed: exclude: [*.md] \u2192 []' in r.out.decode(),
           "config change", r)


def test_only_the_named_weights_are_imported(tmp):
    cog = """image: x
weights:
  - name: local
    target: /w/local
    source: {uri: ./weights}
  - name: hub
    target: /w/hub
    source: {uri: 'hf://org/repo'}
"""
    p = project(tmp, {"a.bin": b"a"}, cog=cog)
    # Naming the local weight never touches the Hub (nothing listens there).
    r = imp(p, "local", env={"HF_ENDPOINT": "http://127.0.0.1:9"})
    expect(r.rc == 0, "import of the local weight", r)
    expect([e["name"] for e in lock_of(p)["weights"]] == ["local"], "entries")
    before = snapshot(os.path.join(p, "weights.lock"))
    expect_error(imp(p, "nothere"), "nothere", "not found in cog.yaml")
    expect(snapshot(os.path.join(p, "weights.lock")) == before, "lockfile touched")


def test_oci_layout_is_complete_and_rerun_adds_nothing(tmp):
    p = demo_project(tmp)
    layout = os.path.join(tmp, "layout")
    r = imp(p, "--oci-layout", layout, "--bundle-file-max", "64")
    expect(r.rc == 0, "import with layout", r)
    e = lock_of(p)["weights"][0]
    expect(read(os.path.join(layout, "oci-layout")) == b'{"imageLayoutVersion":"1.0.0"}', "oci-layout")
    index = json.loads(read(os.path.join(layout, "index.json")))
    desc = index["manifests"][0]
    expect(desc["digest"] == e["digest"], "index points at the entry's manifest", desc)
    expect(desc["annotations"]["org.opencontainers.image.ref.name"] == "demo", "tagged by name", desc)
    blobs = os.path.join(layout, "blobs", "sha256")
    for l in e["layers"]:
        data = read(os.path.join(blobs, l["digest"][7:]))
        expect(len(data) == l["size"] and "sha256:" + sha(data) == l["digest"], "layer blob", l)
    manifest = read(os.path.join(blobs, e["digest"][7:]))
    expect("sha256:" + sha(manifest) == e["digest"], "manifest blob")
    expect(manifest == run(["-C", p, "manifest", "demo"]).out, "manifest bytes = projection")
    stamp = {f: os.stat(os.path.join(blobs, f)).st_mtime_ns for f in os.listdir(blobs)}
    index_stat = os.stat(os.path.join(layout, "index.json"))
    r = imp(p, "--oci-layout", layout, "--bundle-file-max", "64")
    expect(r.rc == 0, "re-run", r)
    expect({f: os.stat(os.path.join(blobs, f)).st_mtime_ns for f in os.listdir(blobs)} == stamp,
           "re-run rewrote or added blobs")
    after = os.stat(os.path.join(layout, "index.json"))
    expect((after.st_ino, after.st_mtime_ns) == (index_stat.st_ino, index_stat.st_mtime_ns), "index rewritten")
    if shutil.which("skopeo"):
        r = subprocess.run(["skopeo", "inspect", "--raw", "oci:%s:demo" % layout], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        expect(r.returncode == 0, "skopeo inspect failed: %s" % r.stderr.decode())
        expect("sha256:" + sha(r.stdout) == e["digest"], "skopeo returned other bytes")
    else:
        raise AssertionError("skopeo is not installed (scripts/install-deps.sh installs it)")


# ---- import: bad input, one test each ----


def expect_refused(p, r, *parts):
    """Exit 2, one message line, lockfile as before (set up by the caller)."""
    expect_error(r, *parts)


def with_lockfile(p):
    """Imports once so a lockfile exists; returns its snapshot."""
    r = imp(p)
    expect(r.rc == 0, "setup import", r)
    return snapshot(os.path.join(p, "weights.lock"))


def check_untouched(p, before):
    expect(snapshot(os.path.join(p, "weights.lock")) == before, "the lockfile changed")
    leftovers = [f for f in os.listdir(p) if f.endswith(".lock.tmp")]
    expect(not leftovers, "temporary files left", leftovers)


def change_source(p, uri, extra=""):
    write(os.path.join(p, "cog.yaml"), COG_YAML.format(name="w", uri=uri, extra=extra))


def test_missing_source_is_refused(tmp):
    p = project(tmp, {"a.bin": b"a"})
    before = with_lockfile(p)
    change_source(p, "./nothere")
    expect_error(imp(p), "weight source not found", "nothere")
    check_untouched(p, before)


def test_a_file_as_source_is_refused(tmp):
    p = project(tmp, {"a.bin": b"a"})
    before = with_lockfile(p)
    change_source(p, "./weights/a.bin")
    expect_error(imp(p), "not a directory")
    check_untouched(p, before)


def test_the_project_directory_as_source_is_refused(tmp):
    p = project(tmp, {"a.bin": b"a"})
    before = with_lockfile(p)
    change_source(p, ".")
    expect_error(imp(p), "project directory itself")
    check_untouched(p, before)


def test_a_source_escaping_the_project_is_refused(tmp):
    p = project(tmp, {"a.bin": b"a"})
    before = with_lockfile(p)
    change_source(p, "../elsewhere")
    expect_error(imp(p), "escapes the project directory")
    check_untouched(p, before)


def test_an_unreadable_file_is_refused(tmp):
    p = project(tmp, {"a.bin": b"a"})
    before = with_lockfile(p)
    secret = os.path.join(p, "weights", "secret.bin")
    write(secret, b"s")
    os.chmod(secret, 0)
    # Root reads anything: run as an unprivileged user that can still read
    # the rest of the project and take the guard.
    for d in (tmp, p, os.path.join(p, "weights"), os.path.join(p, ".cog")):
        os.chmod(d, 0o777)
    for f in ("weights.lock", "weights.lock.guard", ".cog/cog.lock"):
        os.chmod(os.path.join(p, f), 0o666)
    # The checkout may sit in a directory the unprivileged user cannot
    # enter: run a copy of the program from the test's own directory.
    prog = os.path.join(tmp, "weightslock")
    shutil.copy(BIN, prog)
    os.chmod(prog, 0o755)
    p2 = subprocess.run([prog, "-C", p, "import", "--no-cache"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        preexec_fn=drop_privileges, timeout=60)
    from wltest import Result
    expect_error(Result(p2.returncode, p2.stdout, p2.stderr), "secret.bin", "Permission denied")
    check_untouched(p, before)


def drop_privileges():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def test_a_symlink_is_refused(tmp):
    p = project(tmp, {"a.bin": b"a"})
    before = with_lockfile(p)
    os.symlink("a.bin", os.path.join(p, "weights", "link.bin"))
    expect_error(imp(p), 'non-regular entry "link.bin" (L---------)')
    check_untouched(p, before)


def test_a_fifo_is_refused(tmp):
    p = project(tmp, {"a.bin": b"a"})
    before = with_lockfile(p)
    os.mkfifo(os.path.join(p, "weights", "pipe"))
    expect_error(imp(p), 'non-regular entry "pipe" (p---------)')
    check_untouched(p, before)


def test_an_invalid_path_is_refused(tmp):
    p = project(tmp, {"a.bin": b"a"})
    before = with_lockfile(p)
    write(os.path.join(p, "weights", "bad\x01name.bin"), b"x")
    expect_error(imp(p), "bad\\x01name.bin")
    check_untouched(p, before)
    os.remove(os.path.join(p, "weights", "bad\x01name.bin"))
    write(os.path.join(p, "weights", "back\\slash.bin"), b"x")
    expect_error(imp(p), "back\\\\slash.bin")
    check_untouched(p, before)


def test_an_unsupported_pattern_is_refused(tmp):
    p = project(tmp, {"a.bin": b"a"})
    before = with_lockfile(p)
    change_source(p, "./weights", extra="      include: ['model(1).bin']\n")
    expect_error(imp(p), "model(1).bin")
    check_untouched(p, before)


def test_zero_survivors_are_refused(tmp):
    p = project(tmp, {"a.bin": b"a"})
    before = with_lockfile(p)
    change_source(p, "./weights", extra="      include: ['*.gguf']\n")
    expect_error(imp(p), 'matched zero files out of 1', '"*.gguf"')
    check_untouched(p, before)


def test_a_file_growing_while_hashed_is_refused(tmp):
    p = project(tmp, {"a.bin": b"a"})
    before = with_lockfile(p)
    big = os.path.join(p, "weights", "big.dat")
    with open(big, "wb") as f:
        f.truncate(3 << 30)  # sparse: reading it takes a while, writing it none
    proc = subprocess.Popen([BIN, "-C", p, "import", "--no-cache"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    time.sleep(0.3)
    with open(big, "ab") as f:
        f.write(b"more")
    out, err = proc.communicate(timeout=120)
    from wltest import Result
    expect_error(Result(proc.returncode, out, err), "big.dat", "changed")
    check_untouched(p, before)


def test_a_full_disk_while_writing_the_layout_is_refused(tmp):
    p = project(tmp, {"a.dat": os.urandom(1 << 20)})
    before = with_lockfile(p)
    write(os.path.join(p, "weights", "b.dat"), os.urandom(4 << 20))
    layout = os.path.join(tmp, "layout")
    os.makedirs(layout)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", layout],
                             stderr=subprocess.PIPE).returncode == 0
    try:
        if mounted:
            r = imp(p, "--oci-layout", layout)
        else:
            # No mount here: the file size limit gives the same EFBIG path.
            r = imp(p, "--oci-layout", layout, preexec=lambda: limit_file_size(2 << 20))
        expect_error(r, "layout")
        check_untouched(p, before)
        blobs = os.path.join(layout, "blobs", "sha256")
        if os.path.isdir(blobs):
            for f in os.listdir(blobs):
                data = read(os.path.join(blobs, f))
                expect(sha(data) == f, "a partial blob was left under a digest name", f)
    finally:
        if mounted:
            subprocess.run(["umount", layout])


def limit_file_size(n):
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))


def test_a_lockfile_that_cannot_be_parsed_is_refused_untouched(tmp):
    p = project(tmp, {"a.bin": b"a"})
    write(os.path.join(p, "weights.lock"), b'{"version": 2}')
    before = snapshot(os.path.join(p, "weights.lock"))
    expect_error(imp(p), "weights.lock", "version 2")
    check_untouched(p, before)


def test_import_waits_for_the_guard_and_gives_up_after_the_timeout(tmp):
    p = project(tmp, {"a.bin": b"a"})
    before = with_lockfile(p)
    write(os.path.join(p, "weights", "new.bin"), b"n")
    from wltest import held_guard
    with held_guard(os.path.join(p, "weights.lock")):
        expect_error(imp(p, "--timeout", "0.3"), "guard")
    check_untouched(p, before)


def test_an_envelope_change_alone_keeps_the_import_time(tmp):
    # All layers are plain tar, so repacking under other thresholds gives the
    # same entry: only envelopeFormat changes (SPEC.md §11.7).
    p = project(tmp, {"a.bin": b"a" * 10, "b/c.safetensors": b"c" * 20})
    expect(imp(p, "--bundle-file-max", "1").rc == 0, "import")
    first = lock_of(p)
    r = imp(p, "--bundle-file-max", "2")
    expect(r.rc == 0, "re-import", r)
    second = lock_of(p)
    expect(second["envelopeFormat"] != first["envelopeFormat"], "envelope unchanged")
    expect(second["weights"] == first["weights"], "the entry changed", second["weights"])


def test_a_failing_weight_writes_nothing_for_the_others(tmp):
    cog = """image: x
weights:
  - name: good
    target: /w/good
    source: {uri: ./weights/good}
  - name: bad
    target: /w/bad
    source: {uri: ./weights/bad}
"""
    p = project(tmp, {"good/a.bin": b"1", "bad/b.bin": b"2"}, cog=cog)
    before = with_lockfile(p)
    write(os.path.join(p, "weights", "good", "a.bin"), b"changed")
    os.mkfifo(os.path.join(p, "weights", "bad", "pipe"))
    expect_error(imp(p), "pipe")
    check_untouched(p, before)


def test_a_cog_written_lockfile_is_taken_over(tmp):
    # An entry whose layers are all plain tar stays equal when the project
    # repacks it: it keeps Cog's import time; the envelope becomes ours.
    p = project(tmp, {"a.safetensors": b"x" * 100})
    expect(imp(p, "--bundle-file-max", "1").rc == 0, "import")
    lock = lock_of(p)
    cog_envelope = "sha256:ce2d53f8dd962ace393450e0abadbe227304897be87753a503b61f9c8525726e"
    ours = lock["envelopeFormat"]
    lock["envelopeFormat"] = cog_envelope
    lock["weights"][0]["source"]["importedAt"] = "2026-04-29T17:23:00.414483Z"
    write(os.path.join(p, "weights.lock"), json.dumps(lock, indent=2))
    expect(imp(p, "--bundle-file-max", "1").rc == 0, "re-import")
    after = lock_of(p)
    expect(after["envelopeFormat"] == ours, "envelope", after["envelopeFormat"])
    expect(after["weights"][0]["source"]["importedAt"] == "2026-04-29T17:23:00.414483Z", "import time kept")


def run_with_tty_stderr(argv):
    """Runs with stderr on a pseudo-terminal; returns (rc, what the terminal saw)."""
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


def test_progress_is_shown_on_a_terminal_only(tmp):
    p = project(tmp, {"a.dat": os.urandom(1 << 20), "b/c.bin": os.urandom(100 << 10)})
    rc, seen = run_with_tty_stderr(["-C", p, "import", "--no-cache"])
    expect(rc == 0, "import", seen)
    expect("w: hashed 2/2 files" in seen or "w: hashed" in seen, "no hashing progress", seen)
    expect("packed" in seen, "no packing progress", seen)
    os.remove(os.path.join(p, "weights.lock"))
    rc, seen = run_with_tty_stderr(["-C", p, "import", "--no-cache", "-q"])
    expect(rc == 0 and seen == "", "-q printed", seen)
    r = imp(p, "--no-cache")
    expect("hashed" not in r.err.decode(), "progress on a pipe", r)


def test_the_hash_cache_lives_in_the_users_cache_directory(tmp):
    p = project(tmp, {"a.bin": b"a" * 10})
    time.sleep(2.2)  # files changed in the last two seconds are never cached
    xdg = os.path.join(tmp, "xdg")
    r = run(["-C", p, "import"], env={"XDG_CACHE_HOME": xdg})
    expect(r.rc == 0, "import", r)
    expect(os.path.isfile(os.path.join(xdg, "weightslock", "hashes")), "no cache under $XDG_CACHE_HOME",
           os.listdir(tmp))
    os.remove(os.path.join(p, "weights.lock"))
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    env = {"HOME": home, "XDG_CACHE_HOME": ""}
    r = run(["-C", p, "import"], env=env)
    expect(r.rc == 0, "import", r)
    expect(os.path.isfile(os.path.join(home, ".cache", "weightslock", "hashes")), "no cache under ~/.cache")
    os.remove(os.path.join(p, "weights.lock"))
    home2 = os.path.join(tmp, "home2")
    os.makedirs(home2)
    r = run(["-C", p, "import", "--no-cache"], env={"HOME": home2, "XDG_CACHE_HOME": ""})
    expect(r.rc == 0 and os.listdir(home2) == [], "--no-cache wrote a cache", r)
    # A corrupt cache is ignored, never trusted, and rebuilt.
    write(os.path.join(xdg, "weightslock", "hashes"), b"garbage")
    before = read(os.path.join(p, "weights.lock"))
    write(os.path.join(p, "weights", "a.bin"), b"b" * 10)
    r = run(["-C", p, "import"], env={"XDG_CACHE_HOME": xdg})
    expect(r.rc == 0, "import with a corrupt cache", r)
    e = lock_of(p)["weights"][0]
    expect(e["files"][0]["digest"] == "sha256:" + sha(b"b" * 10), "digest", e["files"])
    expect(read(os.path.join(xdg, "weightslock", "hashes"))[:7] != b"garbage", "cache not rebuilt")


def test_layers_do_not_depend_on_the_thread_count(tmp):
    # Several gzip layers (compressible files of their own and a bundle),
    # produced side by side: the same bytes with one thread and with many.
    rnd = b"".join(b"%06d " % (i * 7919 % 1000003) for i in range(60000))
    p = project(tmp, {"a.dat": rnd, "b.dat": rnd[::-1], "c.dat": rnd[3:] + b"x",
                      "small/1.txt": b"one", "small/2.txt": b"two", "d.bin": b"\0" * 5000})
    layout1, layout2 = os.path.join(tmp, "l1"), os.path.join(tmp, "l2")
    r = imp(p, "--no-cache", "--bundle-file-max", "4096", "--jobs", "1", "--oci-layout", layout1)
    expect(r.rc == 0, "import with one thread", r)
    one = lock_of(p)
    os.remove(os.path.join(p, "weights.lock"))
    r = imp(p, "--no-cache", "--bundle-file-max", "4096", "--jobs", "8", "--oci-layout", layout2)
    expect(r.rc == 0, "import with eight threads", r)
    many = lock_of(p)
    for lock in (one, many):
        lock["weights"][0]["source"].pop("importedAt")
    expect(one == many, "the entries differ between thread counts")
    gz = [l for l in one["weights"][0]["layers"] if l["mediaType"].endswith("gzip")]
    expect(len(gz) >= 3, "expected several gzip layers", one["weights"][0]["layers"])
    expect(sorted(os.listdir(os.path.join(layout1, "blobs", "sha256"))) ==
           sorted(os.listdir(os.path.join(layout2, "blobs", "sha256"))), "blob sets differ")
