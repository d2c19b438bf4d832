"""Hostile cog.yaml files (SPEC.md §15): alias expansion is bounded as Go's
yaml.v3 bounds it and nesting is capped at its depth, so such a file is one
clear error, quickly, with nothing written."""
import os
import time

from wltest import expect, expect_error, run, tree_snapshot, write

WEIGHT = "  - name: w\n    target: /src/w\n    source:\n      uri: ./weights\n"


def project(tmp, cog, name="proj"):
    p = os.path.join(tmp, name)
    os.makedirs(os.path.join(p, "weights"))
    write(os.path.join(p, "weights", "a.bin"), b"a")
    write(os.path.join(p, "cog.yaml"), cog)
    return p


def refused(tmp, cog, *parts, name="proj"):
    """import, drift and prune all fail with the message, in seconds, and
    leave the project as it was."""
    p = project(tmp, cog, name)
    before = tree_snapshot(p)
    for args in (["import"], ["drift"], ["prune"]):
        t0 = time.monotonic()
        r = run(["-C", p] + args, timeout=60)
        elapsed = time.monotonic() - t0
        expect_error(r, *parts)
        expect(elapsed < 20, "%s took %.1f s" % (args[0], elapsed))
        expect(tree_snapshot(p) == before, "%s wrote something" % args[0], sorted(tree_snapshot(p)))


def test_a_big_anchor_aliased_thousands_of_times_is_refused(tmp):
    big = "x" * (1 << 20)
    cog = ("big: &big \"%s\"\nweights:\n%s      include: [%s]\n"
           % (big, WEIGHT, ", ".join(["*big"] * 4000)))
    refused(tmp, cog, "cog.yaml: document contains excessive aliasing")


def test_billion_laughs_is_refused(tmp):
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append("%s: &%s [%s]" % (cur, cur, ", ".join(["*" + prev] * 9)))
    cog = "\n".join(lines) + "\nweights:\n" + WEIGHT
    refused(tmp, cog, "cog.yaml: document contains excessive aliasing")


def test_an_anchor_containing_its_own_alias_is_refused(tmp):
    refused(tmp, "loop: &l [1, *l]\nweights:\n" + WEIGHT,
            "cog.yaml: YAML error at line 1, column 14: an anchor's value contains an alias of itself")


def test_deep_flow_nesting_is_refused(tmp):
    refused(tmp, "x: " + "[" * 100000 + "]" * 100000 + "\nweights:\n" + WEIGHT,
            "cog.yaml: YAML error at line 1, column ", ": exceeded max depth of 10000")
    refused(tmp, "x: " + "{a: " * 100000 + "1" + "}" * 100000 + "\nweights:\n" + WEIGHT,
            "exceeded max depth of 10000", name="maps")


def test_deep_block_nesting_is_refused(tmp):
    refused(tmp, "weights:\n" + "- " * 100000 + "x\n",
            "cog.yaml: YAML error at line 2, column ", ": exceeded max depth of 10000")


def test_moderate_aliasing_is_accepted(tmp):
    """The everyday use: one pattern list shared by several weights."""
    cog = "common: &common [\"*.bin\", \"*.json\"]\nweights:\n"
    for i in range(10):
        cog += ("  - name: w%d\n    target: /src/w%d\n    source:\n      uri: ./weights\n"
                "      include: *common\n" % (i, i))
    p = project(tmp, cog)
    r = run(["-C", p, "drift", "--json"])
    expect(r.rc == 1 and r.out.count(b"\"pending\"") == 10, "ten pending weights", r)
