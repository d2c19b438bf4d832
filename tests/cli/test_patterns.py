"""Patterns RE2 cannot compile after go-gitignore's rewrite (SPEC.md §10.4):
Cog drops them without a word, so the project drops them too (same file
set) and warns on stderr, naming the pattern, even with -q.
"""
import json
import os

from wltest import expect, read, run, write

FILES = {"a.bin": b"alpha", "b.txt": b"beta", "sub/c.bin": b"gamma"}


def tree(tmp):
    w = os.path.join(tmp, "proj", "weights")
    for rel, data in FILES.items():
        os.makedirs(os.path.dirname(os.path.join(w, rel)), exist_ok=True)
        write(os.path.join(w, rel), data)
    return w


def warnings(r):
    return [l for l in r.err.decode().splitlines() if l.startswith("weightslock: warning: ")]


def test_digest_drops_an_uncompilable_pattern_with_a_warning(tmp):
    w = tree(tmp)
    want = run(["digest", "--list", "--include", "*.bin", w])
    expect(want.rc == 0, "digest", want)
    for bad in ["[", "[a*", "[z-a]", "x[*]"]:
        for quiet in ([], ["-q"]):
            r = run(quiet + ["digest", "--list", "--include", "*.bin", "--include", bad, w])
            expect(r.rc == 0, "digest with %r" % bad, r)
            expect(r.out == want.out, "the file set differs from Cog's", bad, r)
            ws = warnings(r)
            expect(len(ws) == 1 and ('include pattern "%s" dropped' % bad) in ws[0], "warning", bad, r)
    # As an exclude it excludes nothing.
    r = run(["digest", "--list", "--exclude", "[", w])
    every = run(["digest", "--list", w])
    expect(r.rc == 0 and r.out == every.out, "exclude of a dropped pattern", r)
    expect(len(warnings(r)) == 1 and 'exclude pattern "["' in warnings(r)[0], "warning", r)


def test_import_drops_an_uncompilable_pattern_with_a_warning(tmp):
    w = tree(tmp)
    p = os.path.dirname(w)
    write(os.path.join(p, "cog.yaml"),
          'image: x\nweights:\n  - name: w\n    target: /src/w\n    source:\n      uri: ./weights\n'
          '      include: ["*.bin", "[a*"]\n      exclude: ["[z-a]"]\n')
    r = run(["-C", p, "-q", "import", "--no-cache"])
    expect(r.rc == 0, "import", r)
    ws = warnings(r)
    expect(len(ws) == 2, "two warnings", r)
    expect('weight "w": include pattern "[a*" dropped' in ws[0], "include warning", r)
    expect('weight "w": exclude pattern "[z-a]" dropped' in ws[1], "exclude warning", r)
    lock = json.loads(read(os.path.join(p, "weights.lock")))
    entry = lock["weights"][0]
    expect([f["path"] for f in entry["files"]] == ["a.bin", "sub/c.bin"], "files", entry["files"])
    # The declaration is recorded as written: drift sees no difference.
    expect(entry["source"]["include"] == ["*.bin", "[a*"], "include recorded", entry["source"])
    r = run(["-C", p, "drift"])
    expect(r.rc == 0, "drift", r)


def test_a_list_of_only_dropped_includes_selects_nothing(tmp):
    w = tree(tmp)
    r = run(["digest", "--include", "[", w])
    expect(r.rc == 2, "zero survivors", r)
    expect(len(warnings(r)) == 1, "warning first", r)
    expect("matched zero files out of 3" in r.err.decode(), "message", r)


def test_a_failed_import_still_shows_its_warnings_and_writes_nothing(tmp):
    # Only dropped includes: nothing survives, the import fails (SPEC.md
    # §10.4) -- and the warning that explains why is shown before the error.
    w = tree(tmp)
    p = os.path.dirname(w)
    write(os.path.join(p, "cog.yaml"),
          'image: x\nweights:\n  - name: w\n    target: /src/w\n    source:\n      uri: ./weights\n'
          '      include: ["[a*"]\n')
    for quiet in ([], ["-q"]):
        r = run(["-C", p] + quiet + ["import", "--no-cache"])
        expect(r.rc == 2, "import fails", r)
        lines = r.err.decode().splitlines()
        expect(len(lines) == 2, "a warning, then the error", r)
        expect(lines[0].startswith("weightslock: warning: ") and 'include pattern "[a*" dropped' in lines[0],
               "warning first", r)
        expect("matched zero files out of 3" in lines[1], "the error", r)
        # only the writer locks (SPEC.md §11.7) are left behind
        expect(sorted(os.listdir(p)) == [".cog", "cog.yaml", "weights", "weights.lock.guard"], "nothing written",
               os.listdir(p))
        expect(os.listdir(os.path.join(p, ".cog")) == ["cog.lock"], ".cog", os.listdir(os.path.join(p, ".cog")))
