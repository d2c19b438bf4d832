"""`weightslock import` from hf:// sources (SPEC.md §16, §17), against the
mock Hub the test suite runs on 127.0.0.1: the lockfile Cog writes (a
`commit:` fingerprint, LFS digests from the listing, layers byte-identical
to a local import of the same files), the content store, the fast path
(an unchanged commit downloads nothing), and each fault: exit 2 with one
line, lockfile and store unchanged.
"""
import hashlib
import json
import os
import sys

from wltest import expect, expect_error, read, run, snapshot, write

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "servers"))
from hub import MockHub  # noqa: E402

BIG = bytes(range(256)) * 4096  # 1 MiB, LFS
FILES = {
    "config.json": b'{"hidden_size": 8}\n',
    "tokenizer/vocab.txt": b"hello\nworld\n",
    "model.safetensors": (BIG, "lfs"),
    "README.md": b"# model\n",
}


def project(tmp, uri="hf://org/model", extra=""):
    p = os.path.join(tmp, "proj")
    os.makedirs(p, exist_ok=True)
    write(os.path.join(p, "cog.yaml"), "image: x\nweights:\n  - name: w\n    target: /src/w\n    source:\n"
          "      uri: %s\n%s" % (uri, extra))
    return p


def imp(tmp, p, hub, *args, token=None):
    env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": token or "", "HUGGING_FACE_HUB_TOKEN": ""}
    return run(["-C", p, "import", "--no-cache", "--store", os.path.join(tmp, "store")] + list(args),
               env=env, timeout=120)


def data_of(v):
    return v[0] if isinstance(v, tuple) else v


def test_import_of_a_hub_repository_is_a_local_import_of_its_files(tmp):
    with MockHub(page_size=2) as hub:
        repo = hub.add_repo("org/model", files=FILES)
        p = project(tmp, extra='      exclude: ["*.md"]\n')
        r = imp(tmp, p, hub)
        expect(r.rc == 0, "import", r)
        lock = json.loads(read(os.path.join(p, "weights.lock")))
        e = lock["weights"][0]
        expect(e["source"]["uri"] == "hf://org/model", "uri", e["source"])
        expect(e["source"]["fingerprint"] == "commit:" + repo.sha, "fingerprint", e["source"])
        paths = [f["path"] for f in e["files"]]
        expect(paths == ["config.json", "model.safetensors", "tokenizer/vocab.txt"], "files", paths)
        for f in e["files"]:
            want = hashlib.sha256(data_of(FILES[f["path"]])).hexdigest()
            expect(f["digest"] == "sha256:" + want, "digest of " + f["path"], f)
        # The filter applied before any download: README.md was never fetched.
        expect(not any("README" in q.path for q in hub.requests if q.kind in ("resolve", "cdn")),
               "README.md was downloaded")
        # No Authorization ever reached the CDN.
        expect(hub.cdn_authorization() == [], "Authorization sent to the CDN")
        # The files are in the store, named by digest.
        for f in e["files"]:
            h = f["digest"][7:]
            sp = os.path.join(tmp, "store", "files", "sha256", h[:2], h)
            expect(read(sp) == data_of(FILES[f["path"]]), "store file " + f["path"])
        # A local import of the same files gives the same layers and digests.
        local = project(os.path.join(tmp, "local"), uri="./weights", extra='      exclude: ["*.md"]\n')
        for rel in paths:
            os.makedirs(os.path.dirname(os.path.join(local, "weights", rel)), exist_ok=True)
            write(os.path.join(local, "weights", rel), data_of(FILES[rel]))
        r2 = run(["-C", local, "import", "--no-cache"])
        expect(r2.rc == 0, "local import", r2)
        le = json.loads(read(os.path.join(local, "weights.lock")))["weights"][0]
        expect(le["layers"] == e["layers"] and le["files"] == e["files"] and le["setDigest"] == e["setDigest"]
               and le["digest"] == e["digest"], "layers differ from a local import")


def test_an_unchanged_commit_downloads_nothing_and_a_new_one_reimports(tmp):
    with MockHub() as hub:
        hub.add_repo("org/model", files=FILES)
        p = project(tmp)
        expect(imp(tmp, p, hub).rc == 0, "first import")
        before = snapshot(os.path.join(p, "weights.lock"))
        hub.reset_log()
        r = imp(tmp, p, hub)
        expect(r.rc == 0, "second import", r)
        expect(snapshot(os.path.join(p, "weights.lock")) == before, "lockfile rewritten")
        expect(hub.count("resolve") == 0 and hub.count("cdn") == 0 and hub.count("tree") == 0,
               "files downloaded on an unchanged commit", hub.counts)
        expect(hub.count("revision") == 1, "one revision request", hub.counts)
        # A new commit: re-imported; files already in the store are not fetched again.
        files2 = dict(FILES)
        files2["config.json"] = b'{"hidden_size": 16}\n'
        sha2 = hub.add_commit("org/model", files2, refs=("main",))
        hub.reset_log()
        r = imp(tmp, p, hub)
        expect(r.rc == 0, "re-import", r)
        e = json.loads(read(os.path.join(p, "weights.lock")))["weights"][0]
        expect(e["source"]["fingerprint"] == "commit:" + sha2, "fingerprint", e["source"])
        expect(hub.count("cdn", "GET") == 0, "the unchanged LFS file was downloaded again", hub.counts)


def test_hub_faults_fail_cleanly_and_write_nothing(tmp):
    cases = [
        ("revision", 404, "not found on the Hub (404)"),
        ("revision", 401, "set HF_TOKEN"),
        ("tree", 403, "403 Forbidden"),
    ]
    for i, (kind, status, part) in enumerate(cases):
        d = os.path.join(tmp, str(i))
        with MockHub() as hub:
            hub.add_repo("org/model", files=FILES)
            p = project(d)
            hub.fail(kind, status, count=10)
            r = imp(d, p, hub)
            expect_error(r, part)
            expect(not os.path.exists(os.path.join(p, "weights.lock")), "lockfile written")
    # A private repository: the token opens it, and never reaches the CDN.
    with MockHub() as hub:
        hub.add_repo("org/model", files=FILES, private_token="sekret")
        d = os.path.join(tmp, "private")
        p = project(d)
        expect_error(imp(d, p, hub), "set HF_TOKEN")
        r = imp(d, p, hub, token="sekret")
        expect(r.rc == 0, "import with the token", r)
        expect(hub.cdn_authorization() == [], "Authorization sent to the CDN")


def test_bad_listings_and_bad_bytes_are_refused(tmp):
    with MockHub() as hub:
        hub.add_repo("org/evil", files={"../x": b"escape", "ok.bin": b"fine"})
        p = project(os.path.join(tmp, "a"), uri="hf://org/evil")
        expect_error(imp(os.path.join(tmp, "a"), p, hub), '"../x"')
    with MockHub() as hub:
        from hub import File
        hub.add_repo("org/liar", files={"m.safetensors": File(BIG, lfs=True, served=BIG[:-1] + b"!")})
        d = os.path.join(tmp, "b")
        p = project(d, uri="hf://org/liar")
        r = imp(d, p, hub)
        expect_error(r, "m.safetensors")
        expect(not os.path.exists(os.path.join(p, "weights.lock")), "lockfile written")
        store = os.path.join(d, "store")
        left = [os.path.join(b, f) for b, _, fs in os.walk(store) for f in fs]
        expect(left == [], "files left in the store", left)


def test_a_dropped_download_resumes(tmp):
    with MockHub() as hub:
        hub.add_repo("org/model", files=FILES)
        hub.drop_after("org/model", "model.safetensors", 300000)
        p = project(tmp)
        r = imp(tmp, p, hub)
        expect(r.rc == 0, "import after a dropped download", r)
        ranged = [q for q in hub.requests if q.kind == "cdn" and q.header("range")]
        expect(len(ranged) >= 1, "no ranged request", [(q.kind, q.headers) for q in hub.requests])


class FileServer:
    """tests/servers/httpd.py serving `root` on 127.0.0.1 (stopped on exit)."""

    def __init__(self, root, tls=None):
        import subprocess
        here = os.path.dirname(os.path.abspath(__file__))
        extra = ["--cert", tls[0], "--key", tls[1]] if tls else []
        self.proc = subprocess.Popen([sys.executable, os.path.join(here, "..", "servers", "httpd.py"), root] + extra,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        ports = self.proc.stdout.readline().split()
        self.port = int(ports[0])
        self.url = "http://127.0.0.1:%d" % self.port
        self.tls_url = "https://127.0.0.1:%d" % int(ports[2])

    def count(self, target):
        import urllib.parse
        import urllib.request
        with urllib.request.urlopen("%s/_stats?key=%s" % (self.url, urllib.parse.quote(target)), timeout=10) as r:
            return int(r.read().decode().split("\n")[0].split("=")[1])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def test_import_of_an_https_file(tmp):
    root = os.path.join(tmp, "srv")
    os.makedirs(root)
    data = os.urandom(200000)
    write(os.path.join(root, "model.bin"), data)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with FileServer(root) as srv:
        for form, query in (("strong", "?etag=strong"), ("weak", "?etag=weak"), ("none", "?etag=none")):
            d = os.path.join(tmp, form)
            target = "/f/model.bin" + query
            p = project(d, uri=srv.url + target)
            r = run(["-C", p, "-q", "import", "--no-cache", "--store", os.path.join(d, "store")], timeout=60)
            expect(r.rc == 0, "import", r)
            expect(b"has a query string" in r.err, "query warning", r)
            e = json.loads(read(os.path.join(p, "weights.lock")))["weights"][0]
            expect([f["path"] for f in e["files"]] == ["model.bin"], "files", e["files"])
            expect(e["files"][0]["digest"] == digest, "digest", e["files"][0])
            fp = e["source"]["fingerprint"]
            if form == "strong":
                expect(fp.startswith('etag:"') and fp.endswith('"'), "ETag fingerprint", fp)
                # Unchanged ETag: one HEAD, no download.
                before = srv.count(target)
                r = run(["-C", p, "import", "--no-cache", "--store", os.path.join(d, "store")], timeout=60)
                expect(r.rc == 0, "re-import", r)
                expect(srv.count(target) == before + 1, "more than one request on an unchanged ETag",
                       srv.count(target) - before)
            else:
                expect(fp == digest, "content fingerprint without an ETag", fp)


def test_https_uris_that_cannot_be_committed_are_refused(tmp):
    for i, (uri, part) in enumerate([("https://user:pw@example.com/m.bin", "credentials"),
                                     ("https://example.com/dir/", "does not name a file"),
                                     ("https://example.com", "does not name a file")]):
        p = project(os.path.join(tmp, str(i)), uri=uri)
        expect_error(run(["-C", p, "import", "--no-cache", "--store", os.path.join(tmp, "s")]), part)
        expect(not os.path.exists(os.path.join(p, "weights.lock")), "lockfile written")


def test_a_multi_source_weight_merges_later_wins(tmp):
    with MockHub() as hub:
        repo = hub.add_repo("org/model", files={"config.json": b'{"from": "hub"}\n',
                                                "model.safetensors": (BIG, "lfs")})
        p = os.path.join(tmp, "proj")
        os.makedirs(os.path.join(p, "extra"))
        write(os.path.join(p, "extra", "config.json"), b'{"from": "local"}\n')
        write(os.path.join(p, "extra", "notes.txt"), b"local only\n")
        write(os.path.join(p, "cog.yaml"), "image: x\nweights:\n  - name: w\n    target: /src/w\n    source:\n"
              "      - uri: hf://org/model\n      - uri: ./extra\n        exclude: [\"*.md\"]\n")
        r = imp(tmp, p, hub)
        expect(r.rc == 0, "import", r)
        text = read(os.path.join(p, "weights.lock"))
        lock = json.loads(text)
        e = lock["weights"][0]
        expect(list(e.keys())[:4] == ["name", "target", "sources", "importedAt"], "the multi-source shape",
               list(e.keys()))
        expect([s["uri"] for s in e["sources"]] == ["hf://org/model", "file://./extra"], "sources", e["sources"])
        expect(e["sources"][0]["fingerprint"] == "commit:" + repo.sha, "hub fingerprint", e["sources"][0])
        expect(e["sources"][1]["fingerprint"].startswith("sha256:"), "local fingerprint", e["sources"][1])
        files = {f["path"]: f["digest"] for f in e["files"]}
        expect(sorted(files) == ["config.json", "model.safetensors", "notes.txt"], "merged files", files)
        expect(files["config.json"] == "sha256:" + hashlib.sha256(b'{"from": "local"}\n').hexdigest(),
               "the later source did not win", files)
        r = run(["-C", p, "drift"])
        expect(r.rc == 0, "drift after import", r)
        r = run(["-C", p, "check"])
        expect(r.rc == 0, "check after import", r)
        before = snapshot(os.path.join(p, "weights.lock"))
        hub.reset_log()
        r = imp(tmp, p, hub)
        expect(r.rc == 0, "re-import", r)
        expect(snapshot(os.path.join(p, "weights.lock")) == before, "an unchanged multi-source weight was rewritten")
        # Every fingerprint unchanged: one revision request, nothing listed or fetched.
        expect(hub.count("revision") == 1 and hub.count("tree") == 0 and hub.count("resolve") == 0
               and hub.count("cdn") == 0, "requests on an unchanged multi-source weight", hub.counts)
        # The local source changes: re-imported, the later source still wins.
        write(os.path.join(p, "extra", "config.json"), b'{"from": "local", "v": 2}\n')
        r = imp(tmp, p, hub)
        expect(r.rc == 0, "import after a local change", r)
        e = json.loads(read(os.path.join(p, "weights.lock")))["weights"][0]
        files = {f["path"]: f["digest"] for f in e["files"]}
        expect(files["config.json"] == "sha256:" + hashlib.sha256(b'{"from": "local", "v": 2}\n').hexdigest(),
               "the change was not imported", files)


def test_retries_loops_and_duplicates(tmp):
    # 429 with Retry-After and a 500: retried, then the import succeeds.
    with MockHub(page_size=2) as hub:
        hub.add_repo("org/model", files=FILES)
        hub.fail("tree", 429, count=1)
        hub.fail("resolve", 500, count=1)
        p = project(os.path.join(tmp, "retry"))
        r = imp(os.path.join(tmp, "retry"), p, hub)
        expect(r.rc == 0, "import after 429 and 500", r)
        expect(hub.count("tree", status=429) == 1 and hub.count("resolve", status=500) == 1, "faults seen",
               hub.counts)
    # A Link loop and a duplicate path: refused, nothing written.
    with MockHub(page_size=2) as hub:
        repo = hub.add_repo("org/model", files=FILES)
        repo.link_loop = True
        d = os.path.join(tmp, "loop")
        p = project(d)
        expect_error(imp(d, p, hub), "pages loop")
        expect(not os.path.exists(os.path.join(p, "weights.lock")), "lockfile written")
    with MockHub() as hub:
        from hub import file_entry
        hub.add_repo("org/dup", files={"a.bin": b"a"})
        hub.add_commit("org/dup", {"a.bin": b"a"}, refs=("main",), extra_entries=[file_entry("a.bin", b"b")])
        d = os.path.join(tmp, "dup")
        p = project(d, uri="hf://org/dup")
        expect_error(imp(d, p, hub), '"a.bin" twice')


def test_dry_run_lists_and_downloads_nothing(tmp):
    with MockHub() as hub:
        hub.add_repo("org/model", files=FILES)
        p = project(tmp)
        r = imp(tmp, p, hub, "--dry-run")
        expect(r.rc == 0, "dry run", r)
        expect(b"files: 4" in r.out, "plan", r)
        expect(hub.count("resolve") == 0 and hub.count("cdn") == 0, "a dry run downloaded", hub.counts)
        expect(not os.path.exists(os.path.join(p, "weights.lock")), "a dry run wrote the lockfile")
        expect(not os.path.exists(os.path.join(tmp, "store")), "a dry run wrote the store")


def test_https_with_a_private_ca(tmp):
    from wltest import self_signed_cert
    cert, key = self_signed_cert(tmp)
    root = os.path.join(tmp, "srv")
    os.makedirs(root)
    data = os.urandom(5000)
    write(os.path.join(root, "m.bin"), data)
    with FileServer(root, tls=(cert, key)) as srv:
        p = project(tmp, uri=srv.tls_url + "/f/m.bin")
        store = os.path.join(tmp, "store")
        r = run(["-C", p, "import", "--no-cache", "--store", store], timeout=60)
        expect_error(r, "m.bin")
        expect("certificate" in r.err.decode().lower(), "the message does not say why", r)
        expect(not os.path.exists(os.path.join(p, "weights.lock")), "lockfile written")
        r = run(["-C", p, "import", "--no-cache", "--store", store, "--cacert", cert], timeout=60)
        expect(r.rc == 0, "import with --cacert", r)
        e = json.loads(read(os.path.join(p, "weights.lock")))["weights"][0]
        expect(e["files"][0]["digest"] == "sha256:" + hashlib.sha256(data).hexdigest(), "digest", e)


def test_bodies_shorter_or_longer_than_listed_and_uri_forms(tmp):
    from hub import File
    for i, served in enumerate([b"abc", b"abcdefgh!"]):
        with MockHub() as hub:
            hub.add_repo("org/m", files={"c.json": File(b"abcdefgh", served=served)})
            d = os.path.join(tmp, "body%d" % i)
            p = project(d, uri="hf://org/m")
            r = imp(d, p, hub)
            expect_error(r, "c.json")
            expect(not os.path.exists(os.path.join(p, "weights.lock")), "lockfile written")
            left = [f for b, _, fs in os.walk(os.path.join(d, "store")) for f in fs]
            expect(left == [], "files left in the store", left)
    # huggingface:// and an explicit @main are recorded as hf://ORG/REPO.
    with MockHub() as hub:
        hub.add_repo("org/m", files={"c.json": b"{}"})
        d = os.path.join(tmp, "uri")
        p = project(d, uri="huggingface://org/m@main")
        r = imp(d, p, hub)
        expect(r.rc == 0, "import", r)
        e = json.loads(read(os.path.join(p, "weights.lock")))["weights"][0]
        expect(e["source"]["uri"] == "hf://org/m", "uri", e["source"])


def _refused(d, p, r, part):
    expect_error(r, part)
    expect(not os.path.exists(os.path.join(p, "weights.lock")), "lockfile written")
    left = [f for b, _, fs in os.walk(os.path.join(d, "store")) for f in fs]
    expect(left == [], "files left in the store", left)


def test_listings_a_local_walk_could_not_give_are_refused(tmp):
    from hub import file_entry
    cases = [("filedir", {"a": b"x", "a/b": b"y", "a.txt": b"z"}, [], '"a" both as a file and as a directory'),
             ("cog", {"ok.bin": b"x", "sub/.cog/x": b"y"}, [], '"sub/.cog/x" under a .cog directory'),
             ("dup", {"a.bin": b"a"}, [file_entry("a.bin", b"b")], '"a.bin" twice')]
    for name, files, extra, part in cases:
        with MockHub() as hub:
            hub.add_repo("org/m", files=files)
            if extra:
                hub.add_commit("org/m", files, refs=("main",), extra_entries=extra)
            d = os.path.join(tmp, name)
            p = project(d, uri="hf://org/m")
            _refused(d, p, imp(d, p, hub), part)


def test_a_page_loop_is_refused_and_many_pages_list(tmp):
    with MockHub(page_size=2) as hub:
        repo = hub.add_repo("org/m", files={"a": b"1", "b": b"2", "c": b"3"})
        repo.link_loop = True
        d = os.path.join(tmp, "loop")
        p = project(d, uri="hf://org/m")
        _refused(d, p, imp(d, p, hub), "pages loop")
        expect(hub.count("tree") == 2, "pages asked for", hub.counts)
    with MockHub(page_size=1) as hub:
        hub.add_repo("org/m", files={"f%04d" % i: b"x" for i in range(2000)})
        d = os.path.join(tmp, "many")
        p = project(d, uri="hf://org/m")
        r = imp(d, p, hub, "--dry-run")
        expect(r.rc == 0 and b"files: 2000" in r.out, "2000 pages", r)


def test_the_token_never_follows_a_page_to_another_origin(tmp):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    seen = []

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            seen.append(dict((k.lower(), v) for k, v in self.headers.items()))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"[]")

    other = ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=other.serve_forever, daemon=True)
    t.start()
    try:
        with MockHub() as hub:
            repo = hub.add_repo("org/m", files={"a": b"1"}, private_token="sekret")
            repo.next_link = "http://127.0.0.1:%d/page2" % other.server_address[1]
            d = os.path.join(tmp, "x")
            p = project(d, uri="hf://org/m")
            r = imp(d, p, hub, token="sekret")
            expect(r.rc == 0, "import", r)
            expect(len(seen) == 1, "the other origin's page was not asked for", seen)
            expect("authorization" not in seen[0], "the token went to another origin", seen)
            expect(all(q.header("authorization") == "Bearer sekret" for q in hub.requests if q.server == "hub"),
                   "the Hub did not get the token")
    finally:
        other.shutdown()
        other.server_close()
