"""The mock Hugging Face Hub of tests/servers/hub.py, checked with plain HTTP
(no weightslock binary): what the Hub tests rely on must be what it does."""
import hashlib
import http.client
import json
import os
import select
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

from wltest import expect, write

SERVERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "servers")
if SERVERS not in sys.path:
    sys.path.insert(0, SERVERS)

from hub import File, MockHub, file_entry, git_blob_oid  # noqa: E402

TIMEOUT = 5
BIG = bytes(range(256)) * 40
FILES = {
    "config.json": b'{"a": 1}\n',
    "model.safetensors": (BIG, "lfs"),
    "sub/dir/tok en.txt": b"tokens",
    "sub/vocab.txt": b"v",
    "z.bin": (b"zz" * 100, "lfs"),
}


def ok(cond, *ctx):
    """expect() with any values as context (each shown by repr)."""
    expect(cond, "", *ctx)


def fetch(url, headers=None, method="GET"):
    """(status, headers, body) of one request, redirects not followed. A body
    cut short comes back as the bytes received plus the marker 'cut'."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=TIMEOUT)
    try:
        conn.request(method, u.path + ("?" + u.query if u.query else ""), headers=headers or {})
        resp = conn.getresponse()
        try:
            body = resp.read()
        except http.client.IncompleteRead as e:
            body = (e.partial, "cut")
        return resp.status, resp.headers, body
    finally:
        conn.close()


def jget(url, headers=None):
    status, h, body = fetch(url, headers)
    return status, h, json.loads(body)


def listing(hub, repo, sha, limit=50):
    """Every entry over every page, and the number of pages."""
    url = "%s/api/models/%s/tree/%s?recursive=true" % (hub.url, repo, sha)
    out, pages = [], 0
    while url and pages < limit:
        status, h, page = jget(url)
        ok(status == 200, "tree page", status, page)
        out += page
        pages += 1
        link = h.get("Link")
        url = link[1:link.index(">")] if link else None
    ok(url is None, "listing did not end within %d pages" % limit)
    return out, pages


def test_revision_lookup(tmp):
    with MockHub() as hub:
        repo = hub.add_repo("org/m", files=FILES, revisions={"v1": {"a": b"1"}})
        pr = hub.add_commit("org/m", {"b": b"2"}, refs=("refs/pr/1",))
        base = hub.url + "/api/models/org/m/revision/"
        for ref, want in (("main", repo.sha), ("v1", repo.refs["v1"]), (repo.sha, repo.sha),
                          ("refs%2Fpr%2F1", pr)):
            status, _, doc = jget(base + ref)
            ok(status == 200 and doc["id"] == "org/m" and doc["sha"] == want, ref, status, doc)
            ok(len(doc["sha"]) == 40 and int(doc["sha"], 16) >= 0)
        ok(len({repo.sha, repo.refs["v1"], pr}) == 3, "distinct commits")
        status, h, doc = jget(hub.url + "/api/models/org/none/revision/main")
        ok(status == 404 and doc == {"error": "Repository not found"}, status, doc)
        status, h, doc = jget(base + "nope")
        ok(status == 404 and doc == {"error": "Revision Not Found"}, status, doc)
        ok(h["X-Error-Code"] == "RevisionNotFound")

        hub.add_repo("org/private", files=FILES, private_token="tok")
        priv = hub.url + "/api/models/org/private/revision/main"
        for hdr in ({}, {"Authorization": "Bearer bad"}, {"Authorization": "tok"}):
            status, _, doc = jget(priv, hdr)
            ok(status == 401 and doc == {"error": "Invalid username or password."}, hdr, doc)
        status, _, doc = jget(priv, {"Authorization": "Bearer tok"})
        ok(status == 200 and doc["private"] is True, status, doc)
        ok(hub.requests[-1].header("Authorization") == "Bearer tok")

        hub.add_repo("org/gated", files=FILES, gated=True)
        status, _, doc = jget(hub.url + "/api/models/org/gated/revision/main",
                              {"Authorization": "Bearer tok"})
        ok(status == 403 and "restricted" in doc["error"], status, doc)
        hub.add_repo("org/gated2", files=FILES, gated="ok")
        status, _, _ = jget(hub.url + "/api/models/org/gated2/revision/main", {"Authorization": "Bearer ok"})
        ok(status == 200, status)
        ok(hub.count("revision", "GET") == 12, hub.counts)


def test_tree_pagination(tmp):
    with MockHub(page_size=3) as hub:
        sha = hub.add_repo("org/m", files=FILES).sha
        entries, pages = listing(hub, "org/m", sha)
        ok(pages == 3 and hub.count("tree") == 3, pages, hub.counts)
        paths = [e["path"] for e in entries]
        ok(paths == ["config.json", "model.safetensors", "sub", "sub/dir", "sub/dir/tok en.txt",
                         "sub/vocab.txt", "z.bin"], paths)
        by = {e["path"]: e for e in entries}
        ok(by["sub/dir"]["type"] == "directory" and by["config.json"]["type"] == "file")
        ok(by["config.json"] == {"type": "file", "oid": git_blob_oid(FILES["config.json"]),
                                     "size": 9, "path": "config.json"}, by["config.json"])
        lfs = by["model.safetensors"]
        ok(lfs["size"] == len(BIG) and lfs["lfs"]["oid"] == hashlib.sha256(BIG).hexdigest()
               and lfs["lfs"]["size"] == len(BIG) and lfs["lfs"]["pointerSize"] > 100, lfs)
        link = hub.requests[0]
        ok(link.query == {"recursive": ["true"]}, link.query)
        # Non-recursive: the top level only; a subfolder lists beneath it.
        status, _, top = jget("%s/api/models/org/m/tree/%s" % (hub.url, sha))
        ok([e["path"] for e in top] == ["config.json", "model.safetensors", "sub"], top)
        status, _, top = jget("%s/api/models/org/m/tree/main/sub?recursive=true" % hub.url)
        ok([e["path"] for e in top] == ["sub/dir", "sub/dir/tok en.txt", "sub/vocab.txt"], top)
        status, _, doc = jget("%s/api/models/org/m/tree/%s?recursive=true&cursor=%%21" % (hub.url, sha))
        ok(status == 400, status, doc)
        status, _, doc = jget("%s/api/models/org/m/tree/%s?recursive=true" % (hub.url, "0" * 40))
        ok(status == 404 and doc["error"] == "Revision Not Found", status, doc)


def test_resolve_inline(tmp):
    with MockHub() as hub:
        sha = hub.add_repo("org/m", files=FILES).sha
        url = "%s/org/m/resolve/%s/sub/dir/tok%%20en.txt" % (hub.url, sha)
        status, h, body = fetch(url)
        ok(status == 200 and body == b"tokens" and h["Content-Length"] == "6", status, body)
        ok(h["ETag"] == '"%s"' % git_blob_oid(b"tokens") and h["X-Repo-Commit"] == sha, dict(h))
        status, h, body = fetch(url, method="HEAD")
        ok(status == 200 and body == b"" and h["Content-Length"] == "6", status, dict(h))
        status, _, body = fetch("%s/org/m/resolve/%s/missing" % (hub.url, sha))
        ok(status == 404 and json.loads(body) == {"error": "Entry not found"}, status, body)
        status, _, _ = fetch("%s/org/m/resolve/%s/config.json" % (hub.url, "1" * 40))
        ok(status == 404, status)
        ok(hub.counts == {("GET", "resolve"): 3, ("HEAD", "resolve"): 1}, hub.counts)


def test_lfs_redirect_and_cdn(tmp):
    with MockHub() as hub:
        sha = hub.add_repo("org/m", files=FILES).sha
        url = "%s/org/m/resolve/%s/model.safetensors" % (hub.url, sha)
        for method in ("GET", "HEAD"):
            status, h, body = fetch(url, method=method)
            ok(status == 302 and h["Location"].startswith(hub.cdn_url + "/cdn/"), status, dict(h))
            ok(h["X-Linked-Size"] == str(len(BIG)) and body == b"", dict(h))
        cdn = h["Location"]
        ok(hashlib.sha256(BIG).hexdigest() in cdn and "X-Amz-Signature=" in cdn, cdn)
        status, h, body = fetch(cdn)
        ok(status == 200 and body == BIG and h["ETag"] == '"%s"' % hashlib.sha256(BIG).hexdigest())
        status, h, body = fetch(cdn, method="HEAD")
        ok(status == 200 and body == b"" and h["Content-Length"] == str(len(BIG)), status)
        ok(hub.cdn_authorization() == [], "no Authorization reached the CDN yet")
        status, _, body = fetch(cdn, {"Authorization": "Bearer tok"})
        ok(status == 400 and b"Authorization" in body, status, body[:200])
        # urllib keeps Authorization across a redirect: the CDN refuses it and says so.
        req = urllib.request.Request(url, headers={"Authorization": "Bearer tok"})
        try:
            urllib.request.urlopen(req, timeout=TIMEOUT)
            ok(False, "CDN accepted Authorization")
        except urllib.error.HTTPError as e:
            ok(e.code == 400, e.code)
        seen = hub.cdn_authorization()
        ok(len(seen) == 2 and all(r.status == 400 for r in seen), seen)
        status, _, _ = fetch(cdn.replace("Signature=", "Signature=x"))
        ok(status == 403, status)
        ok(hub.count("cdn", "GET", 200) == 1 and hub.count("cdn") == 5, hub.counts)


def test_range(tmp):
    with MockHub() as hub:
        sha = hub.add_repo("org/m", files=FILES).sha
        cdn = fetch("%s/org/m/resolve/%s/model.safetensors" % (hub.url, sha))[1]["Location"]
        n = len(BIG)
        status, h, body = fetch(cdn, {"Range": "bytes=1000-"})
        ok(status == 206 and body == BIG[1000:] and h["Content-Range"] == "bytes 1000-%d/%d" % (n - 1, n),
               status, dict(h))
        status, h, body = fetch(cdn, {"Range": "bytes=10-19"})
        ok(status == 206 and body == BIG[10:20] and h["Content-Length"] == "10", status)
        status, h, _ = fetch(cdn, {"Range": "bytes=%d-" % n})
        ok(status == 416 and h["Content-Range"] == "bytes */%d" % n, status)
        status, _, body = fetch(cdn, {"Range": "bytes=-5"})
        ok(status == 200 and body == BIG, "unsupported range form served whole", status)
        status, _, body = fetch("%s/org/m/resolve/%s/config.json" % (hub.url, sha), {"Range": "bytes=2-"})
        ok(status == 206 and body == FILES["config.json"][2:], status, body)


def test_status_faults(tmp):
    with MockHub() as hub:
        sha = hub.add_repo("org/m", files=FILES).sha
        rev = hub.url + "/api/models/org/m/revision/main"
        hub.fail("revision", 429, count=2)
        for _ in range(2):
            status, h, doc = jget(rev)
            ok(status == 429 and h["Retry-After"] == "1" and "error" in doc, status, dict(h))
        ok(jget(rev)[0] == 200)
        hub.fail("tree", 500)
        hub.fail("tree", 503, retry_after="")
        tree = "%s/api/models/org/m/tree/%s?recursive=true" % (hub.url, sha)
        ok(jget(tree)[0] == 500)
        status, h, _ = jget(tree)
        ok(status == 503 and h["Retry-After"] is None, status, dict(h))
        ok(jget(tree)[0] == 200)
        hub.fail("resolve", 503, method="HEAD")
        res = "%s/org/m/resolve/%s/config.json" % (hub.url, sha)
        ok(fetch(res)[0] == 200, "GET untouched by a HEAD fault")
        status, h, _ = fetch(res, method="HEAD")
        ok(status == 503 and h["Retry-After"] == "1", status)
        hub.fail("any", "drop")
        try:
            fetch(res)
            ok(False, "connection was not dropped")
        except (http.client.RemoteDisconnected, ConnectionError):
            pass
        ok(hub.requests[-1].status is None and fetch(res)[0] == 200)
        cdn = fetch("%s/org/m/resolve/%s/z.bin" % (hub.url, sha))[1]["Location"]
        hub.fail("cdn", 500)
        ok(fetch(cdn)[0] == 500 and fetch(cdn)[0] == 200)
        hub.fail("cdn", 429, count=5)
        hub.clear_faults()
        ok(fetch(cdn)[0] == 200)


def test_drop_and_resume(tmp):
    with MockHub() as hub:
        sha = hub.add_repo("org/m", files=FILES).sha
        cdn = fetch("%s/org/m/resolve/%s/model.safetensors" % (hub.url, sha))[1]["Location"]
        hub.drop_after("org/m", "model.safetensors", 1000)
        status, h, body = fetch(cdn)
        ok(status == 200 and h["Content-Length"] == str(len(BIG)), status)
        ok(body == (BIG[:1000], "cut"), "cut after 1000 bytes", body[0][:10] if isinstance(body, tuple) else body)
        status, h, rest = fetch(cdn, {"Range": "bytes=1000-"})
        ok(status == 206 and BIG[:1000] + rest == BIG, status)
        # Two drops in a row, the second in the middle of a resumed range.
        hub.drop_after("org/m", "model.safetensors", 10, count=2)
        ok(fetch(cdn)[2] == (BIG[:10], "cut"))
        status, _, body = fetch(cdn, {"Range": "bytes=10-"})
        ok(status == 206 and body == (BIG[10:20], "cut"), status)
        ok(fetch(cdn, {"Range": "bytes=20-"})[2] == BIG[20:])
        # Inline files are cut the same way; HEAD never is.
        res = "%s/org/m/resolve/%s/config.json" % (hub.url, sha)
        hub.drop_after("org/m", "config.json", 3)
        ok(fetch(res, method="HEAD")[0] == 200)
        ok(fetch(res)[2] == (FILES["config.json"][:3], "cut"))
        ok(fetch(res)[2] == FILES["config.json"])
        ok([r.sent for r in hub.requests if r.kind == "cdn"] == [1000, len(BIG) - 1000, 10, 10, len(BIG) - 20])


def test_wrong_bodies(tmp):
    with MockHub() as hub:
        files = dict(FILES)
        files["bad.bin"] = File(BIG, lfs=True, served=BIG[:-1] + b"!")
        files["long.bin"] = File(b"abc", lfs=True, served=b"abcd")
        files["listed.txt"] = File(b"abc", size=2)
        sha = hub.add_repo("org/m", files=files).sha
        entries = {e["path"]: e for e in listing(hub, "org/m", sha)[0]}
        ok(entries["bad.bin"]["lfs"]["oid"] == hashlib.sha256(BIG).hexdigest())
        ok(entries["listed.txt"]["size"] == 2 and entries["long.bin"]["lfs"]["size"] == 3)

        def get(path):
            st, h, body = fetch("%s/org/m/resolve/%s/%s" % (hub.url, sha, path))
            if st == 302:
                st, h, body = fetch(h["Location"])
            ok(st == 200, path, st)
            return body

        bad = get("bad.bin")
        ok(len(bad) == len(BIG) and hashlib.sha256(bad).hexdigest() != hashlib.sha256(BIG).hexdigest())
        ok(get("long.bin") == b"abcd" and get("listed.txt") == b"abc")
        hub.serve("org/m", "config.json", b"{}")
        hub.serve("org/m", "z.bin", b"short")
        ok(get("config.json") == b"{}" and get("z.bin") == b"short")
        hub.serve("org/m", "config.json", None)
        ok(get("config.json") == FILES["config.json"])


def test_hostile_listings(tmp):
    with MockHub(page_size=2) as hub:
        hub.add_repo("org/m", files={"ok.txt": b"ok", "../x": b"up", "/etc/x": b"abs"})
        dup = hub.add_commit("org/m", {"a.txt": b"a", "b.txt": b"b"},
                             extra_entries=[file_entry("a.txt", b"other")])
        paths = [e["path"] for e in listing(hub, "org/m", hub.repo("org/m").sha)[0]]
        ok({"../x", "/etc/x", "ok.txt"} <= set(paths), paths)
        paths = [e["path"] for e in listing(hub, "org/m", dup)[0]]
        ok(paths == ["a.txt", "b.txt", "a.txt"], paths)


def test_link_loop(tmp):
    with MockHub(page_size=2) as hub:
        sha = hub.add_repo("org/m", files=FILES, link_loop=True).sha
        first = "%s/api/models/org/m/tree/%s?recursive=true" % (hub.url, sha)
        url, seen = first, []
        for _ in range(10):
            if url in seen:
                break
            seen.append(url)
            link = jget(url)[1]["Link"]
            ok(link, "every page of a looping listing has a next link", url)
            url = link[1:link.index(">")]
        ok(url == first and len(seen) == 4, "the last page links to the first", seen)
        hub.repo("org/m").link_loop = False
        ok(listing(hub, "org/m", sha)[1] == 4)


def test_revision_moves(tmp):
    with MockHub() as hub:
        old = hub.add_repo("org/m", files=FILES).sha
        again = MockHub().add_repo("org/m", files=FILES).sha
        ok(old == again, "commit shas are derived from the content")
        new = hub.add_commit("org/m", dict(FILES, **{"config.json": b"{}"}))
        ok(new != old and jget(hub.url + "/api/models/org/m/revision/main")[2]["sha"] == old)
        hub.set_ref("org/m", "main", new)
        ok(jget(hub.url + "/api/models/org/m/revision/main")[2]["sha"] == new)
        ok(fetch("%s/org/m/resolve/%s/config.json" % (hub.url, old))[2] == FILES["config.json"])
        ok(fetch("%s/org/m/resolve/%s/config.json" % (hub.url, new))[2] == b"{}")
        try:
            hub.set_ref("org/m", "main", "f" * 40)
            ok(False, "unknown commit accepted")
        except KeyError:
            pass


def test_script_mode(tmp):
    d = os.path.join(tmp, "repo")
    os.makedirs(os.path.join(d, "sub"))
    write(os.path.join(d, "config.json"), "{}")
    write(os.path.join(d, "sub", "w.bin"), b"w" * 2000)
    p = subprocess.Popen([sys.executable, os.path.join(SERVERS, "hub.py"), "--repo", "org/m=" + d,
                          "--page-size", "1"], stdout=subprocess.PIPE, text=True)
    try:
        ok(select.select([p.stdout], [], [], TIMEOUT)[0], "the server printed nothing")
        endpoint = p.stdout.readline().strip()
        ok(endpoint.startswith("HF_ENDPOINT=http://127.0.0.1:"), endpoint)
        url = endpoint.split("=", 1)[1]
        sha = p.stdout.readline().split("main=")[1].strip()

        class Hub:  # enough of MockHub for listing()
            pass
        h = Hub()
        h.url = url
        entries, pages = listing(h, "org/m", sha)
        ok(pages == 3 and [e.get("lfs") is not None for e in entries] == [False, False, True], entries)
    finally:
        p.terminate()
        p.wait(timeout=TIMEOUT)
        p.stdout.close()
