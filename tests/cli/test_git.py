"""weights.lock in git (SPEC.md §19): `diff`, `merge-driver`, `install-git`
and `convert`, then the drivers end to end with a real git.

Every error a user can reach feeds the bad input and checks the message and
that nothing was written (bytes, mtime and inode as they were).
"""
import json
import os
import subprocess

from wltest import BIN, EXAMPLES, expect, expect_error, read, run, snapshot, write

MANAGED = os.path.join(EXAMPLES, "managed-weights.lock")
RESNET = os.path.join(EXAMPLES, "resnet.lock")
MULTI = os.path.join(EXAMPLES, "resnet-multisource.lock")
WL = os.path.abspath(BIN)


def doc(path):
    return json.loads(read(path))


def canonical(d):
    """The canonical bytes of a lockfile document (weightslock fmt --stdout)."""
    r = run(["fmt", "--stdout", "-"], stdin=json.dumps(d).encode())
    expect(r.rc == 0, "fmt of a generated lockfile", r)
    return r.out


def lockfile(path, d):
    write(path, canonical(d))
    return path


def weights(*docs_and_names):
    """The entries named, taken from the example lockfiles."""
    out = []
    for d, name in docs_and_names:
        out.extend(w for w in d["weights"] if w["name"] == name)
    return out


def with_weights(d, ws):
    d = dict(d)
    d["weights"] = ws
    return d


# ---- diff ----


def test_diff_of_a_file_with_itself_and_with_new_import_times_is_empty(tmp):
    r = run(["diff", MANAGED, MANAGED])
    expect(r.rc == 0 and r.out == b"", "same file", r)
    d = doc(MANAGED)
    for w in d["weights"]:
        w["source"]["importedAt"] = "2030-01-01T00:00:00Z"
    b = lockfile(os.path.join(tmp, "b.lock"), d)
    r = run(["diff", MANAGED, b])
    expect(r.rc == 0 and r.out == b"", "import times are ignored", r)
    r = run(["diff", "--json", MANAGED, b])
    expect(r.rc == 0 and json.loads(r.out) == {"same": True, "weights": []}, "json of no difference", r)


def test_diff_lists_weights_files_and_layers(tmp):
    d = doc(MANAGED)
    p = d["weights"][0]
    p["files"][0]["size"] += 5
    p["files"].append({"path": "zz/new.bin", "size": 3 * 1024 * 1024, "digest": "sha256:" + "1" * 64,
                       "layer": p["layers"][0]["digest"]})
    p["target"] = "/src/weights/other"
    d["weights"] = [p] + weights((doc(RESNET), "resnet50"))
    b = lockfile(os.path.join(tmp, "b.lock"), d)
    r = run(["diff", MANAGED, b])
    expect(r.rc == 1, "a difference exits 1", r)
    lines = r.out.decode().splitlines()
    expect(lines[0].startswith("~ parakeet  7 files (+1 -0 ~1), "), "summary line of a modified weight", lines)
    expect("    target: /src/weights/parakeet → /src/weights/other" in lines, "target change", lines)
    expect("    + zz/new.bin (3.00 MiB)" in lines, "added file with a human size", lines)
    expect(any(l.startswith("    ~ config.json (") for l in lines), "modified file", lines)
    expect(any(l.startswith("- minilm  /src/weights/minilm  10 files, ") for l in lines), "removed weight", lines)
    expect(lines[-1].startswith("+ resnet50  /src/weights/resnet50  "), "added weight last", lines)
    r = run(["diff", "--json", MANAGED, b])
    expect(r.rc == 1, "json exit", r)
    j = json.loads(r.out)
    expect(not j["same"], "not same", j)
    expect([(w["name"], w["change"]) for w in j["weights"]] ==
           [("parakeet", "modified"), ("minilm", "removed"), ("resnet50", "added")], "weights in order", j)
    m = j["weights"][0]
    expect(m["fields"] == ["target", "files"], "fields", m["fields"])
    expect([(f["path"], f["change"]) for f in m["files"]] == [("config.json", "modified"), ("zz/new.bin", "added")],
           "files", m["files"])
    expect(m["old"]["fileCount"] == 6 and m["new"]["fileCount"] == 7, "summaries", m)
    expect("new" not in j["weights"][1] and "old" not in j["weights"][2], "one side only", j)


def test_diff_reads_standard_input_and_treats_dev_null_as_no_weights(tmp):
    r = run(["diff", "-", MANAGED], stdin=read(MANAGED))
    expect(r.rc == 0, "stdin as A", r)
    r = run(["diff", "/dev/null", MANAGED])
    expect(r.rc == 1 and r.out.decode().count("\n+ ") + r.out.decode().startswith("+ ") == 2, "all added", r)
    empty = os.path.join(tmp, "empty")
    write(empty, b"")
    r = run(["diff", MANAGED, empty])
    expect(r.rc == 1 and r.out.decode().splitlines()[1].startswith("- parakeet"), "an empty file has no weights", r)


def test_diff_reports_the_envelope_and_the_shape(tmp):
    d = doc(RESNET)
    d["envelopeFormat"] = "sha256:" + "e" * 64
    b = lockfile(os.path.join(tmp, "b.lock"), d)
    r = run(["convert", "--to", "multi", b])
    expect(r.rc == 0, "convert", r)
    r = run(["diff", RESNET, b])
    expect(r.rc == 1, "exit", r)
    expect(r.out.decode().splitlines() == [
        "envelopeFormat: sha256:ce2d53f8dd962ace393450e0abadbe227304897be87753a503b61f9c8525726e → sha256:" + "e" * 64,
        "shape: single-source → multi-source"], "top-level lines", r)
    j = json.loads(run(["diff", "--json", RESNET, b]).out)
    expect(j["shape"] == {"old": "single", "new": "multi"} and "envelopeFormat" in j, "json top level", j)


def test_diff_errors(tmp):
    bad = os.path.join(tmp, "bad.lock")
    write(bad, '{"version":1,"weights":[{"name":"a","size":1.5}]}')
    expect_error(run(["diff", MANAGED, bad]), "bad.lock", "at byte")
    expect_error(run(["diff", os.path.join(tmp, "absent.lock"), MANAGED]), "absent.lock")
    expect_error(run(["diff", MANAGED]), "missing A B")
    expect_error(run(["diff", MANAGED, MANAGED, MANAGED]), "unexpected argument")
    expect_error(run(["diff", "-", "-"]), "only one of A and B")
    expect_error(run(["diff", "--git", "a", "b"]), "7 diff-driver arguments")
    expect_error(run(["diff", "--git", "--json", "p", MANAGED, "0" * 40, "100644", MANAGED, "0" * 40, "100644"]),
                 "--git and --json")


def test_diff_as_git_driver_always_exits_0(tmp):
    r = run(["diff", "--git", "weights.lock", "/dev/null", ".", ".", MANAGED, "ab" * 20, "100644"])
    expect(r.rc == 0, "a difference exits 0 for git", r)
    lines = r.out.decode().splitlines()
    expect(lines[0] == "weightslock diff a/weights.lock b/weights.lock", "header", lines)
    expect(lines[1] == 'envelopeFormat: "" → ' + doc(MANAGED)["envelopeFormat"], "envelope", lines)
    expect(lines[2].startswith("+ parakeet") and lines[3].startswith("+ minilm"), "added", lines)
    r = run(["diff", "--git", "w.lock", MANAGED, "1" * 40, "100644", MANAGED, "2" * 40, "100644"])
    expect(r.rc == 0 and b"only import times or formatting" in r.out, "no semantic change", r)
    r = run(["diff", "--git", "weights.lock"])
    expect(r.rc == 0 and r.out == b"weightslock diff weights.lock: unmerged\n", "unmerged", r)
    bad = os.path.join(tmp, "bad.lock")
    write(bad, "{")
    expect_error(run(["diff", "--git", "w.lock", bad, "1" * 40, "100644", MANAGED, "2" * 40, "100644"]), "bad.lock")


# ---- merge-driver ----


def three(tmp, base, ours, theirs):
    paths = []
    for name, d in (("base", base), ("ours", ours), ("theirs", theirs)):
        paths.append(lockfile(os.path.join(tmp, name + ".lock"), d))
    return paths


def test_merge_driver_combines_changes_to_different_weights(tmp):
    m, r = doc(MANAGED), doc(RESNET)
    parakeet, minilm, resnet = (weights((m, "parakeet"))[0], weights((m, "minilm"))[0],
                                weights((r, "resnet50"))[0])
    base = with_weights(m, [parakeet, minilm])
    ours = with_weights(m, [parakeet])               # removes minilm
    theirs = with_weights(m, [parakeet, minilm, resnet])  # adds resnet50
    b, o, t = three(tmp, base, ours, theirs)
    res = run(["merge-driver", b, o, t])
    expect(res.rc == 0 and res.err == b"", "clean merge", res)
    expect(read(o) == canonical(with_weights(m, [parakeet, resnet])), "merged bytes", read(o)[:400])
    expect(run(["check", o]).rc == 0 and run(["fmt", "--check", o]).rc == 0, "merged file checks and is canonical")


def test_merge_driver_conflict_leaves_ours_untouched_and_names_the_weights(tmp):
    m = doc(MANAGED)
    base = with_weights(m, [dict(w) for w in m["weights"]])
    ours = json.loads(json.dumps(base))
    theirs = json.loads(json.dumps(base))
    ours["weights"][1]["digest"] = "sha256:" + "a" * 64
    theirs["weights"][1]["digest"] = "sha256:" + "b" * 64
    b, o, t = three(tmp, base, ours, theirs)
    before = snapshot(o)
    res = run(["merge-driver", b, o, t])
    expect(res.rc == 1, "conflict exits 1", res)
    err = res.err.decode()
    expect('weight "minilm" changed differently on both sides' in err, "names the weight", err)
    expect("ours: digest sha256:" + "a" * 64 in err and "theirs: digest sha256:" + "b" * 64 in err,
           "both versions", err)
    expect("parakeet" not in err, "only the conflicting weight", err)
    expect(snapshot(o) == before, "OURS untouched")


def test_merge_driver_removed_on_one_side_and_changed_on_the_other_is_a_conflict(tmp):
    m = doc(MANAGED)
    ours = with_weights(m, m["weights"][:1])
    theirs = json.loads(json.dumps(m))
    theirs["weights"][1]["target"] = "/src/weights/moved"
    b, o, t = three(tmp, m, ours, theirs)
    before = snapshot(o)
    res = run(["merge-driver", b, o, t])
    expect(res.rc == 1 and b'weight "minilm" removed on our side, changed on theirs' in res.err, "conflict", res)
    expect(snapshot(o) == before, "OURS untouched")


def test_merge_driver_with_an_empty_base_merges_two_additions(tmp):
    m, r = doc(MANAGED), doc(RESNET)
    empty = os.path.join(tmp, "empty")
    write(empty, b"")
    o = lockfile(os.path.join(tmp, "o.lock"), with_weights(m, m["weights"][:1]))
    t = lockfile(os.path.join(tmp, "t.lock"), r)
    res = run(["merge-driver", empty, o, t])
    expect(res.rc == 0, "merged", res)
    expect([w["name"] for w in doc(o)["weights"]] == ["parakeet", "resnet50"], "both additions", read(o)[:300])


def test_merge_driver_does_not_rewrite_ours_when_nothing_comes_from_theirs(tmp):
    m = doc(MANAGED)
    theirs = json.loads(json.dumps(m))
    theirs["weights"][0]["source"]["importedAt"] = "2031-01-01T00:00:00Z"
    b, o, t = three(tmp, m, m, theirs)
    before = snapshot(o)
    res = run(["merge-driver", b, o, t])
    expect(res.rc == 0 and snapshot(o) == before, "OURS kept as it was", res)


def test_merge_driver_keeps_ours_envelope_when_both_changed_it(tmp):
    m = doc(MANAGED)
    ours, theirs = json.loads(json.dumps(m)), json.loads(json.dumps(m))
    ours["envelopeFormat"] = "sha256:" + "1" * 64
    theirs["envelopeFormat"] = "sha256:" + "2" * 64
    b, o, t = three(tmp, m, ours, theirs)
    res = run(["merge-driver", b, o, t])
    expect(res.rc == 0 and b"envelopeFormat changed on both sides; ours kept" in res.err, "note", res)
    expect(doc(o)["envelopeFormat"] == "sha256:" + "1" * 64, "ours's envelope")


def test_merge_driver_errors_leave_ours_untouched(tmp):
    m = doc(MANAGED)
    b, o, t = three(tmp, m, m, m)
    bad = os.path.join(tmp, "bad.lock")
    write(bad, '{"version":2,"weights":[]}')
    for args, part in (([b, bad, t], "bad.lock"), ([bad, o, t], "bad.lock"), ([b, o, bad], "bad.lock"),
                       ([b, o, os.path.join(tmp, "absent")], "absent")):
        before, before_bad = snapshot(o), snapshot(bad)
        expect_error(run(["merge-driver"] + args), part)
        expect(snapshot(o) == before and snapshot(bad) == before_bad, "nothing written", args)
    empty = os.path.join(tmp, "empty")
    write(empty, b"")
    expect_error(run(["merge-driver", b, empty, t]), "empty", "unexpected end of JSON input")
    expect(read(empty) == b"", "an empty OURS stays empty")
    expect_error(run(["merge-driver", b, o]), "missing BASE OURS THEIRS")
    expect_error(run(["merge-driver", b, "-", t]), "OURS is written")


# ---- convert ----


def test_convert_round_trips_every_example_lockfile(tmp):
    examples = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".lock"))
    expect(len(examples) >= 3, "the example lockfiles", examples)
    for name in examples:
        src = os.path.join(EXAMPLES, name)
        original = read(src)
        multi = src in (MULTI,)
        p = os.path.join(tmp, name)
        write(p, original)
        first, second = ("single", "multi") if multi else ("multi", "single")
        r = run(["convert", "--to", first, p])
        expect(r.rc == 0 and b"rewritten in the %s-source shape" % first.encode() in r.err, "convert", name, r)
        expect(run(["fmt", "--check", p]).rc == 0 and run(["check", p]).rc == 0, "canonical, consistent", name)
        expect(run(["diff", src, p]).out.decode().splitlines() ==
               ["shape: %s-source → %s-source" % (second, first)], "only the shape differs", name)
        r = run(["convert", "--to", second, p])
        expect(r.rc == 0 and read(p) == original, "byte-identical round trip", name, r)


def test_convert_to_the_shape_a_file_has_writes_nothing(tmp):
    p = os.path.join(tmp, "weights.lock")
    write(p, read(RESNET))
    before = snapshot(p)
    r = run(["-C", tmp, "convert", "--to", "single"])
    expect(r.rc == 0 and b"already in the single-source shape" in r.err, "said so", r)
    expect(snapshot(p) == before, "not written")


def test_convert_refuses_a_weight_of_several_sources_to_single(tmp):
    d = doc(MULTI)
    d["weights"][0]["sources"].append({"uri": "https://example.com/x.json", "fingerprint": "etag:1",
                                       "include": [], "exclude": []})
    p = lockfile(os.path.join(tmp, "weights.lock"), d)
    before = snapshot(p)
    expect_error(run(["convert", "--to", "single", p]), "weights.lock", 'weight "resnet50" has 2 sources',
                 "single-source shape holds exactly one")
    expect(snapshot(p) == before, "file untouched")
    expect_error(run(["convert", "--to", "single", "-"], stdin=read(p)), "has 2 sources")


def test_convert_to_stdout_writes_no_file(tmp):
    p = os.path.join(tmp, "w.lock")
    write(p, read(RESNET))
    before = snapshot(p)
    r = run(["convert", "--to", "multi", "--stdout", p])
    expect(r.rc == 0 and b'"sources": [' in r.out and snapshot(p) == before, "printed, not written", r)
    r = run(["convert", "--to", "single", "-"], stdin=r.out)
    expect(r.rc == 0 and r.out == read(RESNET), "stdin round trip", r)


def test_convert_errors(tmp):
    expect_error(run(["convert", RESNET]), "--to single or --to multi is required")
    expect_error(run(["convert", "--to", "double", RESNET]), "--to wants single or multi, not 'double'")
    expect_error(run(["-C", tmp, "convert", "--to", "multi"]), "weights.lock")
    expect(not os.path.exists(os.path.join(tmp, "weights.lock")), "no lockfile created")
    bad = os.path.join(tmp, "bad.lock")
    write(bad, "[]")
    before = snapshot(bad)
    expect_error(run(["convert", "--to", "multi", bad]), "bad.lock")
    expect(snapshot(bad) == before, "invalid file untouched")


# ---- install-git and the drivers in a real git ----


def git_env(tmp, path=None):
    home = os.path.join(tmp, "home")
    os.makedirs(home, exist_ok=True)
    e = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    e.update({"HOME": home, "XDG_CONFIG_HOME": os.path.join(home, ".config"), "GIT_CONFIG_NOSYSTEM": "1",
              "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "PAGER": "cat"})
    if path is not None:
        e["PATH"] = path
    return e


def git(tmp, repo, *args, ok=True):
    p = subprocess.run(["git", "-C", repo] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=git_env(tmp))
    if ok:
        expect(p.returncode == 0, "git %s failed: %s" % (" ".join(args), p.stderr.decode()))
    return p


def new_repo(tmp, name="repo"):
    repo = os.path.join(tmp, name)
    os.makedirs(repo)
    git(tmp, repo, "init", "-q", "-b", "main")
    git(tmp, repo, "config", "user.name", "Test")
    git(tmp, repo, "config", "user.email", "test@example.com")
    return repo


def wl(tmp, *args, env=None):
    return run(list(args), env=env if env is not None else git_env(tmp))


def test_install_git_writes_attributes_and_config_once(tmp):
    repo = new_repo(tmp)
    sub = os.path.join(repo, "models", "a")
    os.makedirs(sub)
    r = wl(tmp, "-C", sub, "install-git")
    expect(r.rc == 0, "install-git", r)
    attrs = os.path.join(repo, ".gitattributes")
    expect(read(attrs) == b"weights.lock merge=weightslock diff=weightslock\n", "attributes at the top", read(attrs))
    cfg = git(tmp, repo, "config", "--local", "--get-regexp", "weightslock").stdout.decode().splitlines()
    expect(cfg == ["merge.weightslock.name weightslock merge driver for weights.lock",
                   "merge.weightslock.driver %s merge-driver %%O %%A %%B" % WL,
                   "diff.weightslock.command %s diff --git" % WL], "config entries", cfg)
    before = snapshot(attrs)
    r = wl(tmp, "-C", repo, "install-git")
    expect(r.rc == 0 and r.err == b"" and snapshot(attrs) == before, "a second run changes nothing", r)
    expect(git(tmp, repo, "config", "--local", "--get-regexp", "weightslock").stdout.decode().splitlines() == cfg,
           "no duplicate entries")


def test_install_git_appends_to_existing_attributes_and_recognizes_its_line(tmp):
    repo = new_repo(tmp)
    attrs = os.path.join(repo, ".gitattributes")
    write(attrs, "*.bin binary")
    expect(wl(tmp, "-C", repo, "install-git").rc == 0, "install")
    expect(read(attrs) == b"*.bin binary\nweights.lock merge=weightslock diff=weightslock\n", "appended", read(attrs))
    write(attrs, "weights.lock   merge=weightslock\tdiff=weightslock\n")
    before = snapshot(attrs)
    expect(wl(tmp, "-C", repo, "install-git").rc == 0 and snapshot(attrs) == before, "spacing aside, present")


def test_install_git_global_and_the_program_found_on_path(tmp):
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    os.symlink(WL, os.path.join(bindir, "weightslock"))
    env = git_env(tmp, path=bindir + ":" + os.environ.get("PATH", ""))
    outside = os.path.join(tmp, "outside")
    os.makedirs(outside)
    r = wl(tmp, "-C", outside, "install-git", "--global", env=env)
    expect(r.rc == 0 and b"only the global config is written" in r.err, "global outside a repository", r)
    cfg = subprocess.run(["git", "config", "--global", "--get-regexp", "weightslock"], stdout=subprocess.PIPE,
                         env=env).stdout.decode().splitlines()
    expect("merge.weightslock.driver weightslock merge-driver %O %A %B" in cfg and
           "diff.weightslock.command weightslock diff --git" in cfg, "plain name when PATH finds this program", cfg)


def test_install_git_outside_a_repository_fails(tmp):
    outside = os.path.join(tmp, "outside")
    os.makedirs(outside)
    expect_error(wl(tmp, "-C", outside, "install-git"), "install-git: not in a git repository")
    expect(os.listdir(outside) == [], "nothing written")


COG = """image: r8.im/example/model
weights:
  - name: w
    target: /src/weights/w
    source:
      uri: ./w
  - name: x
    target: /src/weights/x
    source:
      uri: ./x
  - name: y
    target: /src/weights/y
    source:
      uri: ./y
"""


def imp(tmp, repo, *names):
    r = wl(tmp, "-C", repo, "import", "--cache-dir", os.path.join(tmp, "cache"), *names)
    expect(r.rc == 0, "import %s" % " ".join(names), r)


def put(repo, rel, data):
    f = os.path.join(repo, rel)
    os.makedirs(os.path.dirname(f), exist_ok=True)
    write(f, data)


def git_project(tmp):
    """A repository whose cog.yaml declares w, x and y (weight files are not
    tracked), with w imported and the drivers installed."""
    repo = new_repo(tmp)
    write(os.path.join(repo, "cog.yaml"), COG)
    write(os.path.join(repo, ".gitignore"), "/w/\n/x/\n/y/\n/.cog/\n*.guard\n")
    for n in "wxy":
        put(repo, n + "/model.bin", n.encode() * 100)
    put(repo, "w/config.json", b"{}")
    imp(tmp, repo, "w")
    r = wl(tmp, "-C", repo, "install-git")
    expect(r.rc == 0, "install-git", r)
    git(tmp, repo, "add", "-A")
    git(tmp, repo, "commit", "-q", "-m", "w")
    return repo


def test_git_merge_of_two_branches_importing_different_weights_is_clean(tmp):
    repo = git_project(tmp)
    git(tmp, repo, "checkout", "-q", "-b", "add-x")
    imp(tmp, repo, "x")
    git(tmp, repo, "commit", "-q", "-am", "x")
    git(tmp, repo, "checkout", "-q", "main")
    git(tmp, repo, "checkout", "-q", "-b", "add-y")
    imp(tmp, repo, "y")
    git(tmp, repo, "commit", "-q", "-am", "y")
    m = git(tmp, repo, "merge", "-q", "--no-edit", "add-x", ok=False)
    expect(m.returncode == 0, "git merge is clean", m.stdout, m.stderr)
    lock = os.path.join(repo, "weights.lock")
    expect([w["name"] for w in doc(lock)["weights"]] == ["w", "y", "x"], "ours's order, theirs's new weight last")
    expect(wl(tmp, "-C", repo, "check").rc == 0, "merged lockfile passes check")
    expect(wl(tmp, "-C", repo, "fmt", "--check").rc == 0, "merged lockfile is canonical")
    expect(wl(tmp, "-C", repo, "drift").rc == 0, "in sync with cog.yaml")
    # git diff and git log -p show the semantic diff through the driver.
    d = git(tmp, repo, "diff", "HEAD~1", "HEAD", "--", "weights.lock").stdout.decode()
    expect(d.startswith("weightslock diff a/weights.lock b/weights.lock\n+ x  /src/weights/x  1 file, 100 bytes\n"),
           "git diff through the driver", d)
    log = git(tmp, repo, "log", "-p", "--ext-diff", "-1", "HEAD^1", "--", "weights.lock").stdout.decode()
    expect("weightslock diff a/weights.lock b/weights.lock\n+ y  /src/weights/y  1 file, 100 bytes\n" in log,
           "git log -p through the driver", log)


def test_git_merge_of_the_same_weight_changed_differently_conflicts_with_ours_intact(tmp):
    repo = git_project(tmp)
    git(tmp, repo, "checkout", "-q", "-b", "theirs")
    put(repo, "w/model.bin", b"T" * 300)
    imp(tmp, repo, "w")
    git(tmp, repo, "commit", "-q", "-am", "w from theirs")
    git(tmp, repo, "checkout", "-q", "main")
    put(repo, "w/model.bin", b"O" * 200)
    imp(tmp, repo, "w")
    git(tmp, repo, "commit", "-q", "-am", "w from ours")
    lock = os.path.join(repo, "weights.lock")
    ours = read(lock)
    m = git(tmp, repo, "merge", "--no-edit", "theirs", ok=False)
    expect(m.returncode != 0, "git merge reports the conflict", m.stdout)
    expect(b'weight "w" changed differently on both sides' in m.stderr + m.stdout, "driver's message", m.stderr)
    status = git(tmp, repo, "status", "--porcelain").stdout.decode()
    expect("UU weights.lock" in status, "git has the path conflicted", status)
    expect(read(lock) == ours, "OURS intact in the work tree")
    git(tmp, repo, "merge", "--abort")
