"""`import --check`, `--repack`, `--json`, and importing over lockfiles Cog
wrote (SPEC.md §11.7 rule 1, §11.8; CLI.md import).

`--check` decides as `import` does and writes nothing: not the lockfile, not
the hash cache, not the content store, not an OCI layout. The dry run, the
check and the import take one decision per weight, so they must agree in
every case below. The Cog lockfile is the worked example packed as Cog packs
it (tests/fixtures/cog-worked-example): its gzip bytes are not ones this
project can make.
"""
import json
import os
import shutil
import sys
import time

import wltest
from wltest import expect, read, snapshot, tree_snapshot, write

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "servers"))
from hub import MockHub  # noqa: E402
from registry import Registry  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(HERE, "..", "..", "examples", "demo")
COG_EXAMPLE = os.path.join(HERE, "..", "fixtures", "cog-worked-example")
COG_ENVELOPE_64 = "sha256:83b133d56dec86b87665d021e0cd0ab3a8cce6a3dcb9771a1937388a5b0c5cda"
SMALL = ["--bundle-file-max", "64"]


class Text:
    """A result with its output decoded: these tests compare text."""

    def __init__(self, r):
        self.rc, self.out, self.err = r.rc, r.out.decode(), r.err.decode()

    def __repr__(self):
        return "Result(rc=%d, out=%r, err=%r)" % (self.rc, self.out[:600], self.err[:600])


def run(args, **kw):
    return Text(wltest.run(args, **kw))


def expect_error(r, *parts):
    """Exit 2 and one 'weightslock: ' line on stderr holding every part."""
    lines = r.err.splitlines()
    expect(r.rc == 2 and len(lines) == 1 and lines[0].startswith("weightslock: "), "want one error line", r)
    for part in parts:
        expect(part in lines[0], "message lacks %r" % part, r)


def demo_project(tmp, cached=False):
    """examples/demo with its binary file, imported once with the worked
    example's thresholds and a hash cache. Returns the project dir."""
    p = os.path.join(tmp, "demo")
    shutil.copytree(DEMO, p)
    write(os.path.join(p, "weights", "model.safetensors"), bytes(range(100)))
    os.remove(os.path.join(p, "weights.lock"))
    if cached:
        time.sleep(2.1)  # the hash cache takes files whose times are 2 s older than the read
    r = imp(p, *SMALL)
    expect(r.rc == 0, "first import", r)
    return p


def cog_project(tmp):
    """The worked example's sources beside the lockfile Cog made for them."""
    p = os.path.join(tmp, "cog")
    shutil.copytree(os.path.join(DEMO, "weights"), os.path.join(p, "weights"))
    write(os.path.join(p, "weights", "model.safetensors"), bytes(range(100)))
    os.makedirs(os.path.join(p, "extra"))
    write(os.path.join(p, "extra", "notes.json"), b'{"note":"extra"}\n')
    for f in ("cog.yaml", "weights.lock"):
        shutil.copy(os.path.join(COG_EXAMPLE, f), os.path.join(p, f))
    return p


def imp(p, *args, **kw):
    return run(["-C", p, "import", "--cache-dir", os.path.join(p, "..", "cache")] + list(args), **kw)


def lock_of(p):
    return json.loads(read(os.path.join(p, "weights.lock")))


def entry(lock, name):
    return [e for e in lock["weights"] if e["name"] == name][0]


def decisions(p, *args):
    """{name: (status, decision, reason, changes_lockfile-by-line)} from --check --json."""
    r = imp(p, "--check", "--json", *args)
    expect(r.rc in (0, 1), "check --json", r)
    doc = json.loads(r.out)
    expect(doc["schema"] == "weightslock.import/1", "schema", doc)
    return r.rc, doc


def test_check_of_an_unchanged_project_exits_0_and_writes_nothing(tmp):
    p = demo_project(tmp, cached=True)
    lock = os.path.join(p, "weights.lock")
    before = snapshot(lock)
    guard = snapshot(lock + ".guard")
    cache = tree_snapshot(os.path.join(tmp, "cache"))
    expect(cache != {}, "the first import left a hash cache")
    store, layout = os.path.join(tmp, "store"), os.path.join(tmp, "layout")
    r = imp(p, "--check", "--store", store, "--oci-layout", layout, *SMALL)
    expect(r.rc == 0, "check of an unchanged project", r)
    expect(r.out == "", "nothing to report on stdout", r.out)
    expect("weights.lock: up to date" in r.err, "summary", r.err)
    expect(snapshot(lock) == before, "lockfile written by --check")
    expect(tree_snapshot(os.path.join(tmp, "cache")) == cache, "hash cache written by --check")
    expect(not os.path.exists(store) and not os.path.exists(layout), "store or layout made by --check")
    expect(snapshot(lock + ".guard") == guard, "guard file written by --check")
    # -q keeps stdout and silences the summary; the exit status says it.
    r = imp(p, "-q", "--check", *SMALL)
    expect(r.rc == 0 and r.err == "" and r.out == "", "quiet check", r)


def test_check_names_each_weight_that_would_change_and_why(tmp):
    p = demo_project(tmp)
    lock = os.path.join(p, "weights.lock")
    before = snapshot(lock)
    # A file changed and nobody re-imported: the hole CI must catch.
    write(os.path.join(p, "weights", "config.json"), b'{"model_type":"demo","hidden_size":16}\n')
    r = imp(p, "--check", *SMALL)
    expect(r.rc == 1, "changed file", r)
    expect(r.out.startswith("demo: files changed upstream (fingerprint: sha256:a57d0376"), "line", r.out)
    expect("weights.lock: would change" in r.err, "summary", r.err)
    rc, doc = decisions(p, *SMALL)
    w = doc["weights"][0]
    expect(rc == 1 and doc["changed"] and not doc["written"], "json", doc)
    expect((w["status"], w["decision"], w["reason"]) == ("upstream-changed", "pack", "files changed upstream"), "w", w)
    expect(w["digest"] is None and w["files"] == 3, "unknown digest until packed", w)
    # A changed pattern.
    write(os.path.join(p, "weights", "config.json"), b'{"model_type":"demo","hidden_size":8}\n')
    cog = read(os.path.join(p, "cog.yaml")).decode()
    write(os.path.join(p, "cog.yaml"), cog.replace('exclude: ["*.md"]', 'exclude: ["*.md", "*.txt"]'))
    r = imp(p, "--check", *SMALL)
    expect(r.rc == 1 and r.out == "demo: declaration changed (exclude: [*.md] \u2192 [*.md *.txt])\n", "pattern", r)
    # A new weight, and an entry no longer declared.
    write(os.path.join(p, "cog.yaml"), cog.replace("name: demo", "name: demo2"))
    r = imp(p, "--check", *SMALL)
    expect(r.rc == 1, "renamed weight", r)
    expect(r.out == "demo2: new\ndemo: undeclared, would be removed\n", "new and removed", r.out)
    rc, doc = decisions(p, *SMALL)
    expect(doc["removed"] == ["demo"] and doc["weights"][0]["decision"] == "pack", "json", doc)
    expect(snapshot(lock) == before, "lockfile written by a check")
    # Back to the declaration as imported: up to date again.
    write(os.path.join(p, "cog.yaml"), cog)
    expect(imp(p, "--check", *SMALL).rc == 0, "restored project")
    # Other thresholds are another envelope: every record is repacked.
    r = imp(p, "--check")
    expect(r.rc == 1, "other thresholds", r)
    expect(r.out == "demo: packing changed (the lockfile's envelope is another packer's)\n", "reason", r.out)


def test_check_and_dry_run_agree_with_the_import(tmp):
    p = demo_project(tmp)
    write(os.path.join(p, "weights", "tokenizer", "vocab.txt"), b"hello\nthere\n")
    rc, doc = decisions(p, *SMALL)
    plan = imp(p, "--dry-run", *SMALL)
    expect(plan.rc == 0 and "status: upstream-changed" in plan.out, "dry run", plan)
    r = imp(p, "--json", *SMALL)
    expect(r.rc == 0, "import --json", r)
    done = json.loads(r.out)
    expect(done["changed"] and done["written"], "import wrote", done)
    for k in ("name", "status", "decision", "reason"):
        expect(done["weights"][0][k] == doc["weights"][0][k], "check and import differ on " + k, doc, done)
    expect(done["weights"][0]["digest"] == lock_of(p)["weights"][0]["digest"], "digest", done)
    rc, doc = decisions(p, *SMALL)
    expect(rc == 0 and doc["weights"][0]["decision"] == "keep", "after the import", doc)
    expect(doc["weights"][0]["digest"] == lock_of(p)["weights"][0]["digest"], "kept digest", doc)


def test_check_refuses_bad_input_with_exit_2_and_writes_nothing(tmp):
    p = demo_project(tmp)
    lock = os.path.join(p, "weights.lock")
    before = snapshot(lock)
    r = imp(p, "--check", "nosuch")
    expect_error(r, 'weight "nosuch" not found in cog.yaml')
    write(os.path.join(p, "weights.lock"), b'{"version": 1, "weights": [')
    r = imp(p, "--check")
    expect_error(r, "weights.lock")
    write(os.path.join(p, "weights.lock"), before[0])
    os.remove(os.path.join(p, "cog.yaml"))
    r = imp(p, "--check")
    expect_error(r, "cog.yaml")
    expect(read(lock) == before[0], "lockfile changed")
    r = run(["-C", p, "import", "--check", "--repack", "--dry-run", "--json", "--bogus"])
    expect_error(r, "unknown option '--bogus'")


def test_check_of_a_hub_source_asks_for_the_commit_only(tmp):
    files = {"config.json": b'{"hidden_size": 8}\n', "model.safetensors": (bytes(range(256)) * 64, "lfs")}
    with MockHub() as hub:
        hub.add_repo("org/model", files=files)
        p = os.path.join(tmp, "proj")
        os.makedirs(p)
        write(os.path.join(p, "cog.yaml"), "image: x\nweights:\n  - name: w\n    target: /src/w\n    source:\n"
              "      uri: hf://org/model\n")
        env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": "", "HUGGING_FACE_HUB_TOKEN": ""}
        store = os.path.join(tmp, "store")
        args = ["-C", p, "import", "--no-cache", "--store", store]
        expect(run(args, env=env, timeout=120).rc == 0, "first import")
        before, store_before = snapshot(os.path.join(p, "weights.lock")), tree_snapshot(store)
        hub.reset_log()
        r = run(args + ["--check"], env=env, timeout=120)
        expect(r.rc == 0 and r.out == "", "unchanged commit", r)
        expect(hub.count("revision") == 1 and hub.count("tree") == 0 and hub.count("cdn") == 0,
               "an unchanged commit costs one request", hub.counts)
        changed = dict(files)
        changed["config.json"] = b'{"hidden_size": 16}\n'
        sha2 = hub.add_commit("org/model", changed, refs=("main",))
        hub.reset_log()
        r = run(args + ["--check"], env=env, timeout=120)
        expect(r.rc == 1, "new commit", r)
        expect(r.out.startswith("w: files changed upstream (fingerprint: commit:") and sha2 in r.out, "line", r.out)
        expect(hub.count("cdn") == 0 and hub.count("resolve") == 0, "a check downloaded files", hub.counts)
        expect(snapshot(os.path.join(p, "weights.lock")) == before and tree_snapshot(store) == store_before,
               "check wrote the lockfile or the store")


def test_import_over_cogs_unchanged_lockfile_writes_nothing(tmp):
    p = cog_project(tmp)
    lock = os.path.join(p, "weights.lock")
    before = snapshot(lock)
    r = run(["check", lock])
    expect(r.rc == 0, "the fixture is consistent", r)
    expect(lock_of(p)["envelopeFormat"] == COG_ENVELOPE_64, "the fixture carries Cog's envelope")
    rc, doc = decisions(p, *SMALL)
    expect(rc == 0 and not doc["changed"], "check over Cog's lockfile", doc)
    expect([w["decision"] for w in doc["weights"]] == ["keep", "keep"], "decisions", doc)
    plan = imp(p, "--dry-run", *SMALL)
    expect(plan.rc == 0 and plan.out.count("status: unchanged") == 2 and "repack" not in plan.out, "plan", plan)
    r = imp(p, *SMALL)
    expect(r.rc == 0, "import over Cog's lockfile", r)
    expect("demo: unchanged, 3 files, 150 bytes, entry unchanged" in r.err, "demo kept", r.err)
    expect("weights.lock: unchanged" in r.err, "summary", r.err)
    expect(snapshot(lock) == before, "Cog's lockfile was rewritten")
    # With Cog's default thresholds the records are another envelope's.
    r = imp(p, "--check")
    expect(r.rc == 1 and r.out.count("packing changed (the lockfile's envelope is another packer's)") == 2, "", r)


def test_a_changed_file_repacks_only_its_weight_over_cogs_lockfile(tmp):
    p = cog_project(tmp)
    cog = lock_of(p)
    write(os.path.join(p, "extra", "notes.json"), b'{"note":"changed"}\n')
    rc, doc = decisions(p, *SMALL)
    got = [(w["name"], w["decision"], w["reason"]) for w in doc["weights"]]
    expect(rc == 1 and got == [("demo", "keep", ""), ("extra", "pack", "files changed upstream")], "check", doc)
    r = imp(p, *SMALL)
    expect(r.rc == 0, "import", r)
    new = lock_of(p)
    expect(entry(new, "demo") == entry(cog, "demo"), "Cog's record of the unchanged weight was not kept")
    expect(entry(new, "extra")["digest"] != entry(cog, "extra")["digest"], "the changed weight was not packed")
    expect(new["envelopeFormat"] != COG_ENVELOPE_64, "the file must get the project's envelope")
    expect(run(["check", os.path.join(p, "weights.lock")]).rc == 0, "inconsistent result")
    # From now on both weights are kept under the project's envelope.
    rc, doc = decisions(p, *SMALL)
    expect(rc == 0 and [w["decision"] for w in doc["weights"]] == ["keep", "keep"], "after", doc)


def test_repack_ignores_the_recorded_layers(tmp):
    p = cog_project(tmp)
    cog = lock_of(p)
    rc, doc = decisions(p, "--repack", *SMALL)
    got = [(w["decision"], w["reason"]) for w in doc["weights"]]
    expect(rc == 1 and got == [("repack", "--repack given")] * 2, "check --repack", doc)
    plan = imp(p, "--dry-run", "--repack", *SMALL)
    expect(plan.out.count("repack: --repack given") == 2, "plan", plan.out)
    r = imp(p, "--repack", *SMALL)
    expect(r.rc == 0 and "repacked (--repack given)" in r.err, "import --repack", r)
    new = lock_of(p)
    d_old, d_new = entry(cog, "demo"), entry(new, "demo")
    # The tar layer is the same from any packer; the gzip bundle is ours now.
    expect([l for l in d_new["layers"] if l["mediaType"].endswith(".tar")] ==
           [l for l in d_old["layers"] if l["mediaType"].endswith(".tar")], "tar layer differs")
    expect(d_new["digest"] != d_old["digest"] and d_new["setDigest"] == d_old["setDigest"], "repacked", d_new)
    # Repacking what this packer made changes nothing.
    before = snapshot(os.path.join(p, "weights.lock"))
    rc, doc = decisions(p, "--repack", *SMALL)
    expect(rc == 0 and not doc["changed"], "a repack of our own records changes nothing", doc)
    r = imp(p, "--repack", *SMALL)
    expect(r.rc == 0 and snapshot(os.path.join(p, "weights.lock")) == before, "rewritten", r)


def test_a_layout_over_cogs_records_rebuilds_the_entries_and_says_so(tmp):
    p = cog_project(tmp)
    layout = os.path.join(tmp, "layout")
    rc, doc = decisions(p, "--oci-layout", layout, *SMALL)
    got = [(w["decision"], w["reason"]) for w in doc["weights"]]
    expect(rc == 1 and got == [("repack", "packed by another packer")] * 2, "check with a layout", doc)
    expect(not os.path.exists(layout), "check made the layout")
    plan = imp(p, "--dry-run", "--oci-layout", layout, *SMALL)
    expect(plan.out.count("repack: packed by another packer") == 2, "plan", plan.out)
    r = imp(p, "--oci-layout", layout, *SMALL)
    expect(r.rc == 0 and r.err.count("repacked (packed by another packer), entry updated") == 2, "import", r)
    new = lock_of(p)
    for e in new["weights"]:
        for l in e["layers"]:
            expect(os.path.exists(os.path.join(layout, "blobs", "sha256", l["digest"][7:])), "blob missing", l)
    expect(run(["-C", p, "extract", "--oci-layout", layout, "demo", os.path.join(tmp, "out")]).rc == 0, "extract")


def test_push_without_a_layout_of_cog_packed_layers_says_what_to_do(tmp):
    p = cog_project(tmp)
    with Registry() as reg:
        r = run(["-C", p, "push", "--plain-http", "--repository", reg.host + "/m/w", "demo"], timeout=120)
        expect_error(r, 'push weight "demo"', "was packed by another packer",
                     "must already be in the registry", "weightslock import --repack demo")
        expect(reg.tags("m/w") == [], "a manifest was pushed", reg.tags("m/w"))
        # After a repack the weight pushes from its sources.
        expect(imp(p, "--repack", *SMALL).rc == 0, "repack")
        r = run(["-C", p, "push", "--plain-http", "--repository", reg.host + "/m/w", "demo"], timeout=120)
        expect(r.rc == 0 and "demo: pushed" in r.out + r.err, "push after the repack", r)


def test_check_of_an_https_file_without_a_strong_etag_hashes_it_and_keeps_nothing(tmp):
    from test_remote_import import FileServer
    root = os.path.join(tmp, "srv")
    os.makedirs(root)
    write(os.path.join(root, "model.bin"), os.urandom(100000))
    with FileServer(root) as srv:
        for form in ("weak", "strong"):
            target = "/f/model.bin?etag=" + form
            p = os.path.join(tmp, form)
            os.makedirs(p)
            write(os.path.join(p, "cog.yaml"), "image: x\nweights:\n  - name: w\n    target: /src/w\n    source:\n"
                  "      uri: %s%s\n" % (srv.url, target))
            store = os.path.join(tmp, form + "-store")
            args = ["-C", p, "-q", "import", "--no-cache", "--store", store]
            expect(run(args).rc == 0, "first import")
            before, store_before = snapshot(os.path.join(p, "weights.lock")), tree_snapshot(store)
            n = srv.count(target)
            r = run(args + ["--check"])
            expect(r.rc == 0 and r.out == "", "unchanged " + form, r)
            # A weak ETag: the bytes are fetched to be hashed; a strong one: one HEAD.
            expect(srv.count(target) - n == (2 if form == "weak" else 1), "requests", srv.count(target) - n)
            write(os.path.join(root, "model.bin"), os.urandom(100000))
            r = run(args + ["--check"])
            if form == "weak":
                expect(r.rc == 1 and r.out.startswith("w: files changed upstream (fingerprint: sha256:"), "weak", r)
            expect(snapshot(os.path.join(p, "weights.lock")) == before and tree_snapshot(store) == store_before,
                   "check wrote the lockfile or the store")
