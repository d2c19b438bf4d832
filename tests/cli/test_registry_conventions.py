"""Registries as users have them (SPEC.md §18.1, §18.2): a loopback registry
that speaks plain HTTP needs no --plain-http (docker's and
go-containerregistry's rule) and no other host falls back; what retrying
cannot change fails at once (a TLS failure with what to do about it, a
refused loopback connection); repository names are checked before any
request with a message naming the bad part; a docker config naming a
credential helper that is not installed is a warning, and credential errors
name the file they came from.
"""
import json
import os
import socket
import sys
import time

from wltest import expect, expect_error, read, run, self_signed_cert, snapshot, write

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "servers"))
from registry import FaultProxy, Registry, free_port  # noqa: E402
from test_push import authfile, project  # noqa: E402
from test_remote_import import FileServer  # noqa: E402

NOTE = "does not speak TLS: using plain http for it"
HINT = ("--cacert FILE", "--plain-http")


def no_credentials(tmp):
    """An environment where no credentials file of the user is found."""
    return {"HOME": tmp, "DOCKER_CONFIG": os.path.join(tmp, "no-docker"), "XDG_RUNTIME_DIR": "",
            "XDG_CONFIG_HOME": tmp, "REGISTRY_AUTH_FILE": ""}


def registry_commands(p, layout, tmp, host, *extra, env=None):
    """push, status, pull and extract --registry of weight w at HOST/m/w,
    without --plain-http; returns their results by name."""
    ref = host + "/m/w"
    out = {}
    out["push"] = run(["-C", p, "push", "--repository", ref, "--oci-layout", layout] + list(extra), env=env,
                      timeout=120)
    out["status"] = run(["-C", p, "status", "--repository", ref] + list(extra), env=env, timeout=120)
    store = os.path.join(tmp, "store-" + host.replace(":", "-"))
    out["pull"] = run(["-C", p, "pull", "--repository", ref, "--store", store] + list(extra), env=env, timeout=120)
    dest = os.path.join(tmp, "dest-" + host.replace(":", "-"))
    out["extract"] = run(["-C", p, "extract", "--registry", ref] + list(extra) + ["w", dest], env=env, timeout=120)
    out["dest"] = dest
    return out


def test_a_plain_http_registry_on_loopback_needs_no_plain_http(tmp):
    p, layout, lock = project(tmp)
    e = lock["weights"][0]
    with Registry() as reg:
        port = reg.host.rsplit(":", 1)[1]
        for host in ("127.0.0.1:" + port, "localhost:" + port):
            r = registry_commands(p, layout, tmp, host, "-v")
            pushed = "pushed" if host.startswith("127.") else "already present"
            expect(("w: %s %s/m/w:" % (pushed, host)).encode() in r["push"].out, "push", r["push"])
            for name in ("push", "status", "pull", "extract"):
                expect(r[name].rc == 0, name, r[name])
                expect(("%s %s" % (host, NOTE)).encode() in r[name].err, "-v says it fell back: " + name, r[name])
                expect(r[name].err.count(NOTE.encode()) == 1, "said once: " + name, r[name])
            expect(b"ready" in r["status"].out, "status", r["status"])
            expect(b"pulled 3 files" in r["pull"].out, "pull", r["pull"])
            expect(read(os.path.join(r["dest"], "config.json")) == read(os.path.join(p, "weights", "config.json")),
                   "extracted")
        expect(reg.get_manifest("m/w", e["digest"])[0] == read(os.path.join(layout, "blobs", "sha256",
                                                                            e["digest"][7:])), "manifest")
        # Without -v the fallback is silent.
        r = run(["-C", p, "status", "--repository", reg.host + "/m/w"], timeout=120)
        expect(r.rc == 0 and NOTE.encode() not in r.err, "status without -v", r)


def test_the_fallback_costs_one_probe_and_keeps_credentials_on_the_registry(tmp):
    # Behind the test suite's proxy (plain HTTP, counting requests), with
    # token auth: the https attempt gets no answer, one GET /v2/ over http
    # decides, and every later request and the http token realm of the
    # registry are used over plain http.
    p, layout, lock = project(tmp)
    with Registry(auth="token", users={"alice": "secret"}) as reg, FaultProxy(reg) as px:
        auth = authfile(tmp, px.host, "alice", "secret")
        t = time.time()
        r = run(["-C", p, "-v", "push", "--repository", px.host + "/m/w", "--oci-layout", layout, "--authfile",
                 auth], timeout=120)
        expect(r.rc == 0, "push", r)
        expect(time.time() - t < 60, "push took too long")
        pings = [q for q in px.requests if q.path == "/v2/" and q.method == "GET"]
        expect(len(pings) == 1 and pings[0].header("Authorization") is None, "one probe, without credentials",
               [(q.method, q.path) for q in px.requests])
        expect(reg.tokens.count(user="alice", status=200) >= 1, "the token realm was used")
        expect(b"secret" not in r.err and b"secret" not in r.out, "a password was printed", r)


def test_a_tls_registry_with_an_untrusted_certificate_fails_fast_with_the_hint(tmp):
    p, layout, lock = project(tmp)
    cert, key = self_signed_cert(tmp)
    root = os.path.join(tmp, "srv")
    os.makedirs(root)
    lockfile = os.path.join(p, "weights.lock")
    before = snapshot(lockfile)
    with FileServer(root, tls=(cert, key)) as srv:
        host = srv.tls_url[len("https://"):]
        for cmd in (["push", "--repository", host + "/m/w", "--oci-layout", layout],
                    ["status", "--repository", host + "/m/w"],
                    ["pull", "--repository", host + "/m/w", "--store", os.path.join(tmp, "store")],
                    ["extract", "--registry", host + "/m/w", "w", os.path.join(tmp, "dest")]):
            t = time.time()
            r = run(["-C", p] + cmd, timeout=60)
            took = time.time() - t
            expect_error(r, "certificate", *HINT)
            expect(took < 5, "%s took %.1f s" % (cmd[0], took))
            expect(b"attempts" not in r.err, "retried", r)
        expect(not os.path.exists(os.path.join(tmp, "store")), "the store was written")
        expect(not os.path.exists(os.path.join(tmp, "dest", "w")), "DEST was written")
        # --cacert makes it trusted: the server is not a registry, and says so.
        r = run(["-C", p, "status", "--repository", host + "/m/w", "--cacert", cert], timeout=60)
        expect(r.rc == 2 and b"certificate" not in r.err, "--cacert", r)
    expect(snapshot(lockfile) == before, "the lockfile was touched")


def test_a_refused_connection_on_loopback_fails_fast(tmp):
    p, layout, lock = project(tmp)
    port = free_port()
    for host in ("127.0.0.1:%d" % port, "localhost:%d" % port):
        t = time.time()
        r = run(["-C", p, "push", "--repository", host + "/m/w", "--oci-layout", layout], timeout=60)
        took = time.time() - t
        expect_error(r, "cannot connect")
        expect(b"attempts" not in r.err, "retried", r)
        expect(took < 3, "%s took %.1f s" % (host, took))
        t = time.time()
        r = run(["-C", p, "status", "--plain-http", "--repository", host + "/m/w"], timeout=60)
        expect_error(r, "cannot connect")
        expect(time.time() - t < 3, "status took too long")


def other_name_of_loopback():
    """A name other than localhost that resolves to 127.0.0.1 here, or None."""
    try:
        with open("/etc/hosts") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split("#")[0].split()
        for name in fields[1:]:
            if name.lower().rstrip(".") == "localhost" or name.startswith("localhost."):
                continue
            try:
                if socket.gethostbyname(name) == "127.0.0.1":
                    return name
            except OSError:
                continue
    return None


def test_a_name_that_is_not_loopback_never_falls_back(tmp):
    # The decision is by name: a name that merely resolves to 127.0.0.1 is
    # not a loopback registry (the unit test registry_fallback_is_for_loopback_hosts_only
    # covers the rule where the machine has no such name).
    name = other_name_of_loopback()
    if name is None:
        return
    p, layout, lock = project(tmp)
    with Registry() as reg:
        port = reg.host.rsplit(":", 1)[1]
        host = "%s:%s" % (name, port)
        t = time.time()
        r = run(["-C", p, "-v", "status", "--repository", host + "/m/w"], timeout=60)
        expect_error(r, "TLS handshake failed", *HINT)
        expect(NOTE.encode() not in r.err, "fell back", r)
        expect(time.time() - t < 5, "status took too long")
        r = run(["-C", p, "status", "--plain-http", "--repository", host + "/m/w"], timeout=60)
        expect(r.rc == 1 and b"incomplete" in r.out, "--plain-http still works", r)


def test_bad_repository_names_name_the_bad_part_before_any_request(tmp):
    p, layout, lock = project(tmp)
    lockfile = os.path.join(p, "weights.lock")
    before = snapshot(lockfile)
    cog = read(os.path.join(p, "cog.yaml")).decode()
    with Registry() as reg, FaultProxy(reg) as px:
        h = px.host
        cases = [
            (h + "/Org/model", ['"Org/model" is not a valid repository name', 'component 1 "Org"',
                                "upper-case letter 'O'"]),
            (h + "/org/my_model__x___y", ['component 2 "my_model__x___y"', "separator '___'"]),
            (h + "/org//model", ["component 2", "is empty"]),
            (h + "/org/-model", ['component 2 "-model"', "starts with '-'"]),
            (h + "/org/model./x", ['component 2 "model."', "ends with '.'"]),
            (h + "/org/mo del", ['component 2 "mo del"', "character ' '"]),
            (h + "/org/model:bad tag", ["the tag is not"]),
            (h + "/org/model@sha256:xyz", ["the digest is not"]),
            ("bad_host!:5000/org/model", ['registry host "bad_host!:5000"']),
            ("127.0.0.1:99999/org/model", ["port that is not a number up to 65535"]),
        ]
        for ref, parts in cases:
            for cmd in (["push", "--oci-layout", layout, "--repository", ref],
                        ["status", "--repository", ref],
                        ["pull", "--repository", ref, "--store", os.path.join(tmp, "store")]):
                r = run(["-C", p] + cmd, timeout=60)
                expect_error(r, "--repository:", *parts)
            r = run(["-C", p, "extract", "--registry", ref, "w", os.path.join(tmp, "dest")], timeout=60)
            expect_error(r, "--registry:", *parts)
        # From cog.yaml: image:, then model: (which wins).
        write(os.path.join(p, "cog.yaml"), cog.replace("image: x", "image: %s/Org/model" % h))
        r = run(["-C", p, "push", "--oci-layout", layout], timeout=60)
        expect_error(r, "cog.yaml: image:", 'component 1 "Org"', "upper-case letter 'O'")
        r = run(["-C", p, "status"], timeout=60)
        expect_error(r, "cog.yaml: image:", 'component 1 "Org"')
        write(os.path.join(p, "cog.yaml"), "model: %s/org/A\n" % h + cog)
        r = run(["-C", p, "pull", "--store", os.path.join(tmp, "store")], timeout=60)
        expect_error(r, "cog.yaml: model:", 'component 2 "A"', "upper-case letter 'A'")
        write(os.path.join(p, "cog.yaml"), cog)
        # --mount-from, on the same registry.
        r = run(["-C", p, "push", "--plain-http", "--oci-layout", layout, "--repository", h + "/m/w",
                 "--mount-from", "m/Other"], timeout=60)
        expect_error(r, "--mount-from", '"m/Other" is not a valid repository name', 'component 2 "Other"',
                     "upper-case letter 'O'")
        expect(px.requests == [], "requests made", [(q.method, q.path) for q in px.requests])
    expect(not os.path.exists(os.path.join(tmp, "store")), "the store was written")
    expect(not os.path.exists(os.path.join(tmp, "dest")), "DEST was written")
    expect(snapshot(lockfile) == before, "the lockfile was touched")


def docker_config(tmp, config):
    d = os.path.join(tmp, "docker")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "config.json")
    write(path, config if isinstance(config, (bytes, str)) else json.dumps(config))
    env = no_credentials(tmp)
    env["DOCKER_CONFIG"] = d
    env["PATH"] = os.path.join(tmp, "empty-bin") + os.pathsep + "/usr/bin:/bin"
    return path, env


def test_a_credential_helper_that_is_not_installed_is_a_warning_and_the_registry_is_anonymous(tmp):
    p, layout, lock = project(tmp)
    with Registry() as reg:
        # Docker Desktop's default, without Docker Desktop.
        path, env = docker_config(tmp, {"auths": {reg.host: {}}, "credsStore": "desktop"})
        r = run(["-C", p, "push", "--plain-http", "--repository", reg.host + "/m/w", "--oci-layout", layout],
                env=env, timeout=120)
        expect(r.rc == 0 and b"w: pushed " in r.out, "push", r)
        want = ("weightslock: warning: credential helper docker-credential-desktop (the credsStore of %s) is not "
                "installed: trying %s anonymously" % (path, reg.host))
        expect(r.err.decode().splitlines() == [want], "the warning", r)
        # Even with -q, and for credHelpers too.
        path, env = docker_config(tmp, {"credHelpers": {reg.host: "gone"}})
        r = run(["-C", p, "-q", "status", "--plain-http", "--repository", reg.host + "/m/w"], env=env, timeout=120)
        expect(r.rc == 0, "status", r)
        expect(b"docker-credential-gone (the credHelpers of " + path.encode() + b") is not installed" in r.err,
               "the warning", r)


def test_a_refused_login_names_the_file_the_credentials_came_from(tmp):
    p, layout, lock = project(tmp)
    for mode in ("htpasswd", "token"):
        with Registry(auth=mode, users={"alice": "secret"}) as reg:
            bad = authfile(tmp, reg.host, "alice", "wrong-password", "bad-%s.json" % mode)
            r = run(["-C", p, "push", "--plain-http", "--repository", reg.host + "/m/w", "--oci-layout", layout,
                     "--authfile", bad], env=no_credentials(tmp), timeout=120)
            expect_error(r, 'credentials of user "alice"', "(from %s)" % bad)
            expect(b"wrong-password" not in r.err, "a password was printed", r)
            # From a helper: the message names the helper and its file.
            bindir = os.path.join(tmp, "bin-" + mode)
            os.makedirs(bindir)
            helper = os.path.join(bindir, "docker-credential-t")
            write(helper, "#!/bin/sh\nread host\necho '{\"Username\":\"alice\",\"Secret\":\"hunter2\"}'\n")
            os.chmod(helper, 0o755)
            path, env = docker_config(os.path.join(tmp, mode), {"credHelpers": {reg.host: "t"}})
            env["PATH"] = bindir + os.pathsep + env["PATH"]
            r = run(["-C", p, "status", "--plain-http", "--repository", reg.host + "/m/w"], env=env, timeout=120)
            expect_error(r, 'credentials of user "alice"', "(from docker-credential-t (the credHelpers of %s))" % path)
            expect(b"hunter2" not in r.err, "a password was printed", r)


def test_a_broken_auth_file_names_it_and_the_offset(tmp):
    p, layout, lock = project(tmp)
    with Registry() as reg:
        secret = '{"auths": {"%s": {"auth": "c2VjcmV0LXBhc3N3b3Jk\x01"}}}' % reg.host
        cases = [
            ('{"auths": {', "not valid JSON at byte %d" % len('{"auths": {')),
            (secret, "not valid JSON at byte %d" % secret.index("\x01")),
            ('{"credsStore": 7}', "(at byte 15)"),
        ]
        for text, part in cases:
            path, env = docker_config(tmp, text)
            for cmd in (["push", "--oci-layout", layout], ["status"]):
                r = run(["-C", p] + cmd + ["--plain-http", "--repository", reg.host + "/m/w"], env=env, timeout=60)
                expect_error(r, path + " is not a valid credentials file", part)
                expect(b"c2VjcmV0" not in r.err, "the file's bytes were printed", r)
        # A helper that fails names the file that configured it.
        bindir = os.path.join(tmp, "bin")
        os.makedirs(bindir)
        write(os.path.join(bindir, "docker-credential-boom"), "#!/bin/sh\necho broken >&2\nexit 4\n")
        os.chmod(os.path.join(bindir, "docker-credential-boom"), 0o755)
        path, env = docker_config(tmp, {"credsStore": "boom"})
        env["PATH"] = bindir + os.pathsep + env["PATH"]
        r = run(["-C", p, "status", "--plain-http", "--repository", reg.host + "/m/w"], env=env, timeout=60)
        expect_error(r, "docker-credential-boom failed (exit status 4): broken", "(the credsStore of %s)" % path)
