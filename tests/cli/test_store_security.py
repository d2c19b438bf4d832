"""The content store's safety (SPEC.md §17): a pull walks the store from its
root without following links, so a link planted at files/sha256/<2 hex> is
refused and nothing lands where it points; a present file is trusted by its
name and size only in a store no one else may write to, else re-hashed and
fetched again when its bytes are wrong.
"""
import os
import sys

from wltest import expect, read, sha256, write

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "servers"))
from registry import Registry  # noqa: E402
from test_pull import project, pull, push, store_file  # noqa: E402


def big(e):
    return [f for f in e["files"] if f["path"] == "a.safetensors"][0]


def test_a_link_planted_at_a_prefix_directory_is_refused(tmp):
    p, _, e = project(tmp)
    store = os.path.join(tmp, "store")
    victim = os.path.join(tmp, "victim")
    os.makedirs(victim)
    a = big(e)
    os.makedirs(os.path.join(store, "files", "sha256"))
    os.symlink(victim, os.path.join(store, "files", "sha256", a["digest"][7:9]))
    with Registry() as reg:
        push(p, reg.host)
        r = pull(p, reg.host, store)
    err = r.err.decode("utf-8", "replace")
    expect(r.rc != 0 and "files/sha256/%s is a symbolic link: refused" % a["digest"][7:9] in err, "pull", r)
    expect(os.listdir(victim) == [], "written through the link", os.listdir(victim))


def test_a_link_planted_at_a_partial_name_is_not_followed(tmp):
    p, _, e = project(tmp)
    store = os.path.join(tmp, "store")
    outside = os.path.join(tmp, "outside")
    write(outside, b"not the store's")
    # The bundle layer (several files) keeps its bytes under put-layer-<hex>.
    bundle = [f for f in e["files"] if f["path"] == "c.json"][0]["layer"]
    prefix = os.path.join(store, "files", "sha256", bundle[7:9])
    os.makedirs(prefix)
    os.symlink(outside, os.path.join(prefix, "put-layer-" + bundle[7:]))
    with Registry() as reg:
        push(p, reg.host)
        r = pull(p, reg.host, store)
    expect(r.rc == 0, "pull", r)
    expect(read(outside) == b"not the store's", "the link's target changed")
    for f in e["files"]:
        expect(sha256(read(store_file(store, f["digest"]))) == f["digest"][7:], "store file", f)


def wrong_same_size(store, f):
    path = store_file(store, f["digest"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write(path, b"\0" * f["size"])
    return path


def test_in_a_store_others_may_write_to_a_wrong_file_is_fetched_again(tmp):
    p, _, e = project(tmp)
    a = big(e)
    with Registry() as reg:
        push(p, reg.host)
        for case in ("o+w", "chown"):
            store = os.path.join(tmp, "store-" + case)
            path = wrong_same_size(store, a)
            prefix = os.path.dirname(path)
            if case == "o+w":
                os.chmod(prefix, 0o757)
            else:
                os.chown(prefix, 65534, 65534)
            r = pull(p, reg.host, store)
            expect(r.rc == 0 and "pulled 4 files" in r.out.decode(), case, r)
            expect(sha256(read(path)) == a["digest"][7:], case + ": the wrong bytes were kept")


def test_in_a_store_of_ours_a_present_file_is_trusted_by_name_and_size(tmp):
    # The rule, documented: no one else could have put it there.
    p, _, e = project(tmp)
    a = big(e)
    store = os.path.join(tmp, "store")
    path = wrong_same_size(store, a)
    with Registry() as reg:
        push(p, reg.host)
        r = pull(p, reg.host, store)
    expect(r.rc == 0 and "pulled 3 files" in r.out.decode(), "pull", r)
    expect(read(path) == b"\0" * a["size"], "a trusted file re-fetched")
