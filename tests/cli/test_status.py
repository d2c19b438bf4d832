"""status (SPEC.md §18.3; CLI.md status) against a real docker-registry
started by the test: the five statuses of Cog's `cog weights status`, its
text table and JSON object, the manifest check beyond Cog, exit codes, an
unreachable registry and htpasswd credentials from --authfile.
"""
import base64
import json
import os
import sys

from wltest import expect, expect_error, read, run, write

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "servers"))
from registry import FaultProxy, Registry  # noqa: E402

W = "  - name: w\n    target: /src/w\n    source:\n      uri: ./weights\n"
OTHER = "  - name: other\n    target: /src/other\n    source:\n      uri: ./other\n"
NOWHERE = "127.0.0.1:9/m/w"  # nothing listens there


def project(tmp, imported=True):
    """A project declaring `w` (a raw .safetensors layer and a gzip bundle)
    and `other` (one layer), imported with --oci-layout unless told not to.
    Returns (project, lock)."""
    p = os.path.join(tmp, "proj")
    os.makedirs(os.path.join(p, "weights", "sub"))
    os.makedirs(os.path.join(p, "other"))
    with open(os.path.join(p, "weights", "model.safetensors"), "wb") as f:
        f.write(os.urandom(300000))
    write(os.path.join(p, "weights", "config.json"), b'{"hidden": 64}\n')
    write(os.path.join(p, "weights", "sub", "vocab.txt"), b"a\nb\nc\n" * 100)
    write(os.path.join(p, "other", "x.bin"), os.urandom(5000))
    write(os.path.join(p, "cog.yaml"), "image: x\nweights:\n" + W + OTHER)
    if not imported:
        return p, None
    r = run(["-C", p, "-q", "import", "--no-cache", "--bundle-file-max", "100000", "--oci-layout",
             os.path.join(tmp, "layout")])
    expect(r.rc == 0, "import", r)
    return p, json.loads(read(os.path.join(p, "weights.lock")))


def push(p, host, *extra):
    r = run(["-C", p, "-q", "push", "--plain-http", "--repository", host + "/m/w", "--oci-layout",
             os.path.join(os.path.dirname(p), "layout")] + list(extra), timeout=120)
    return r


def status(p, host=None, *extra, env=None):
    args = ["-C", p, "status"] + list(extra)
    if host is not None:
        args += ["--plain-http", "--repository", host + "/m/w"]
    return run(args, env=env, timeout=120)


def entry(lock, name):
    return [e for e in lock["weights"] if e["name"] == name][0]


def cog_size(n):
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return "%.1f%s" % (n / scale, unit)
    return "%dB" % n


def table(rows):
    """Go's tabwriter with padding 2, as Cog prints its status table."""
    widths = [max(len(r[c]) for r in rows) + 2 for c in range(5)]
    return "".join("".join(r[c].ljust(widths[c]) for c in range(5)) + r[5] + "\n" for r in rows)


HEADER = ["NAME", "TARGET", "STATUS", "SIZE", "LAYERS", "DIGEST"]


def row(name, target, status_, e=None):
    if e is None:
        return [name, target, status_, "-", "-", "-"]
    return [name, target, status_, cog_size(e["size"]), str(len(e["layers"])), e["digest"][:19]]


def weight_json(e, status_, target=None, layers=None):
    """Cog's WeightStatusEntry for a locked weight, keys in Cog's order."""
    out = {"name": e["name"], "target": target or e["target"], "status": status_, "size": e["size"],
           "sizeCompressed": e["sizeCompressed"], "layerCount": len(e["layers"]),
           "fileCount": len(e["files"]), "digest": e["digest"],
           "source": {"uri": e["source"]["uri"], "fingerprint": e["source"]["fingerprint"]}}
    if layers is not None:
        out["layers"] = [{"digest": l["digest"], "size": l["size"], "status": s}
                         for l, s in zip(e["layers"], layers)]
    return out


def test_status_without_a_lockfile_is_all_pending_and_asks_no_registry(tmp):
    p, _ = project(tmp, imported=False)
    r = run(["-C", p, "status"])  # image: x is no repository, and none is needed
    want = table([HEADER, row("w", "/src/w", "pending"), row("other", "/src/other", "pending")])
    expect(r.rc == 1 and r.out.decode() == want and r.err == b"", "text", r)
    r = run(["-C", p, "status", "--json"])
    expect(r.rc == 1, "exit", r)
    expect(r.out.decode() == json.dumps({"weights": [
        {"name": "w", "target": "/src/w", "status": "pending"},
        {"name": "other", "target": "/src/other", "status": "pending"}]}, indent=2) + "\n", "json", r)


def test_status_ready_text_json_and_layers(tmp):
    p, lock = project(tmp)
    w, other = entry(lock, "w"), entry(lock, "other")
    with Registry() as reg:
        r = push(p, reg.host)
        expect(r.rc == 0, "push", r)
        r = status(p, reg.host)
        want = table([HEADER, row("w", "/src/w", "ready", w), row("other", "/src/other", "ready", other)])
        expect(r.rc == 0 and r.out.decode() == want and r.err == b"", "text", r, want)
        r = status(p, reg.host, "--json")
        expect(r.rc == 0, "json exit", r)
        got = r.out.decode()
        want = {"weights": [weight_json(w, "ready", layers=["ready"] * len(w["layers"])),
                            weight_json(other, "ready", layers=["ready"])]}
        expect(got == json.dumps(want, indent=2) + "\n", "json: Cog's keys in Cog's order", got)
        # -v: one row per layer under each weight, as Cog's --verbose
        r = status(p, reg.host, "-v")
        lines = r.out.decode().splitlines()
        expect(r.rc == 0 and len(lines) == 1 + 2 + len(w["layers"]) + 1, "verbose rows", r)
        expect(lines[2].startswith("  \u251c\u2500 ") and lines[3].startswith("  \u2514\u2500 "), "tree", lines)
        expect(lines[2].split()[1:] == ["ready", cog_size(w["layers"][0]["size"]),
                                        w["layers"][0]["digest"][:19]], "layer row", lines)


def test_status_incomplete_when_a_layer_blob_is_missing(tmp):
    p, lock = project(tmp)
    w, other = entry(lock, "w"), entry(lock, "other")
    with Registry() as reg:
        expect(push(p, reg.host).rc == 0, "push")
        gone = w["layers"][1]["digest"]
        os.remove(reg.blob_path(gone))
        expect(not reg.blob_exists("m/w", gone), "the blob is still served")
        r = status(p, reg.host)
        want = table([HEADER, row("w", "/src/w", "incomplete", w), row("other", "/src/other", "ready", other)])
        expect(r.rc == 1 and r.out.decode() == want, "text", r)
        r = status(p, reg.host, "--json")
        got = json.loads(r.out)
        expect(r.rc == 1 and got["weights"][0] == weight_json(w, "incomplete", layers=["ready", "missing"]),
               "json", got)
        expect(got["weights"][1]["status"] == "ready", "other", got)


def test_status_incomplete_when_the_manifest_is_missing(tmp):
    p, lock = project(tmp)
    w = entry(lock, "w")
    with Registry() as reg, FaultProxy(reg) as px:
        # every blob arrives, no manifest does
        px.fail(500, method="PUT", path_re=r"/manifests/", count=None)
        r = push(p, px.host, "--retries", "0")
        expect(r.rc == 2, "push without manifests", r)
        px.clear_faults()
        for l in w["layers"]:
            expect(reg.blob_exists("m/w", l["digest"]), "layer pushed", l)
        r = status(p, reg.host, "--json")
        got = json.loads(r.out)
        expect(r.rc == 1 and got["weights"][0] == weight_json(w, "incomplete", layers=["ready"] * 2),
               "every layer ready, still incomplete", got)
        r = status(p, reg.host)
        expect(r.rc == 1 and "incomplete" in r.out.decode().splitlines()[1], "text", r)
        expect('weight "w": manifest %s is not in the registry' % w["digest"] in r.err.decode(), "note", r)
        r = status(p, reg.host, "-q")
        expect(r.rc == 1 and r.err == b"", "-q: no note", r)


def test_status_stale_and_orphaned_ask_no_registry(tmp):
    p, lock = project(tmp)
    w, other = entry(lock, "w"), entry(lock, "other")
    # target changed for w; other no longer declared; a new one pending
    cog = "image: x\nweights:\n" + W.replace("/src/w", "/src/w2") + \
          "  - name: new\n    target: /src/new\n    source:\n      uri: ./weights\n"
    write(os.path.join(p, "cog.yaml"), cog)
    r = status(p, NOWHERE, "--retries", "0")
    want = table([HEADER, row("w", "/src/w2", "stale", w), row("new", "/src/new", "pending"),
                  row("other", "/src/other", "orphaned", other)])
    expect(r.rc == 1 and r.out.decode() == want, "text", r, want)
    expect(r.err.decode() == "weight \"w\": config changed "
           "(target: /src/w \u2192 /src/w2)\n", "why stale", r)
    r = status(p, NOWHERE, "--json", "--retries", "0")
    expect(r.rc == 1, "exit", r)
    got = r.out.decode()
    want = {"weights": [weight_json(w, "stale", target="/src/w2"),
                        {"name": "new", "target": "/src/new", "status": "pending"},
                        weight_json(other, "orphaned")]}
    expect(got == json.dumps(want, indent=2) + "\n", "json", got)
    # filters and URI are compared too, as drift compares them
    write(os.path.join(p, "cog.yaml"), "image: x\nweights:\n" + W + "      exclude: ['*.md']\n" +
          OTHER.replace("./other", "./weights"))
    r = status(p, NOWHERE, "--json", "--retries", "0")
    expect([x["status"] for x in json.loads(r.out)["weights"]] == ["stale", "stale"], "filters, uri", r)


def test_status_errors(tmp):
    p, lock = project(tmp)
    # a registry that cannot be reached: one line, exit 2
    r = status(p, NOWHERE, "--retries", "0")
    expect_error(r, 'weight "', "cannot connect")
    expect(r.out == b"", "no table on an error", r)
    # no repository to ask, while locked weights need one
    write(os.path.join(p, "cog.yaml"), "weights:\n" + W)
    r = run(["-C", p, "status"])
    expect_error(r, "no --repository given", "neither model: nor image:")
    r = run(["-C", p, "status", "--plain-http", "--repository", "127.0.0.1:9/Bad/Name"])
    expect_error(r, '"Bad/Name" is not a valid repository name')
    # cog.yaml: missing, or without weights (Cog: "no weights defined")
    write(os.path.join(p, "cog.yaml"), "image: x\n")
    r = run(["-C", p, "status"])
    expect_error(r, "no weights defined in")
    os.remove(os.path.join(p, "cog.yaml"))
    r = run(["-C", p, "status"])
    expect_error(r, "cog.yaml")
    # a lockfile that cannot be read is an error, not "all pending"
    write(os.path.join(p, "cog.yaml"), "image: x\nweights:\n" + W)
    write(os.path.join(p, "weights.lock"), b'{"version": 1, "weights": [}')
    r = run(["-C", p, "status"])
    expect_error(r, "weights.lock")
    r = run(["-C", p, "status", "extra"])
    expect(r.rc == 2 and b"unexpected argument" in r.err, "operand", r)


def test_status_with_htpasswd_credentials(tmp):
    p, lock = project(tmp)
    env = {"HOME": tmp, "DOCKER_CONFIG": tmp, "XDG_RUNTIME_DIR": "", "XDG_CONFIG_HOME": tmp,
           "REGISTRY_AUTH_FILE": ""}
    with Registry(auth="htpasswd", users={"alice": "secret"}) as reg:
        auth = os.path.join(tmp, "auth.json")
        token = base64.b64encode(b"alice:secret").decode()
        write(auth, json.dumps({"auths": {reg.host: {"auth": token}}}))
        r = push(p, reg.host, "--authfile", auth)
        expect(r.rc == 0, "push", r)
        r = status(p, reg.host, "--authfile", auth, "--json", env=env)
        expect(r.rc == 0 and [x["status"] for x in json.loads(r.out)["weights"]] == ["ready", "ready"],
               "ready with credentials", r)
        # without them the registry refuses: an error, not missing layers
        r = status(p, reg.host, "--retries", "0", env=env)
        expect_error(r, 'weight "', reg.host, "wants credentials")
        expect("secret" not in r.err.decode() and token not in r.err.decode(), "credentials printed", r)
