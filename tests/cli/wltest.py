"""Helpers shared by the CLI tests."""
import hashlib
import os
import subprocess

BIN = os.environ.get("WL_BIN", "build/weightslock")
TOOLS = os.environ.get("WL_TOOLS", "build/tools")
# Lockfiles written by Cog and their runtime manifests (tests/fixtures/cog-examples).
EXAMPLES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "cog-examples"))


class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def __repr__(self):
        return "Result(rc=%d, out=%r, err=%r)" % (self.rc, self.out[:300], self.err[:300])


def run(args, cwd=None, stdin=None, env=None, timeout=60, preexec=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([BIN] + list(args), cwd=cwd, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=e, timeout=timeout, preexec_fn=preexec)
    return Result(p.returncode, p.stdout, p.stderr)


def expect(cond, msg="", *ctx):
    if not cond:
        raise AssertionError(msg + (" " + " ".join(repr(c) for c in ctx) if ctx else ""))


def expect_error(r, *parts):
    """Exit 2, exactly one stderr line starting 'weightslock: ' holding every part."""
    expect(r.rc == 2, "exit %d, want 2" % r.rc, r)
    lines = r.err.decode("utf-8", "replace").splitlines()
    expect(len(lines) == 1 and lines[0].startswith("weightslock: "), "want one 'weightslock: ' line", r)
    for p in parts:
        expect(p in lines[0], "message lacks %r" % p, r)


def read(p):
    with open(p, "rb") as f:
        return f.read()


def write(p, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(p, "wb") as f:
        f.write(data)


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def snapshot(path):
    """(bytes, mtime_ns) of a file, or None if absent: to prove nothing was written."""
    if not os.path.exists(path):
        return None
    st = os.stat(path)
    return (read(path), st.st_mtime_ns, st.st_ino)


def tree_snapshot(root):
    """{relative path: snapshot} of every file under root ({} if absent)."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            full = os.path.join(d, f)
            out[os.path.relpath(full, root)] = snapshot(full)
    return out


def local_weight_cog_yaml(name="w", uri="./weights"):
    """cog.yaml text declaring one weight NAME from the local source URI."""
    return ("image: r8.im/example/model\nweights:\n  - name: %s\n    target: /src/weights/%s\n"
            "    source:\n      uri: %s\n" % (name, name, uri))


class held_guard:
    """Holds the guard lock (flock on LOCKFILE.guard) like another writer would."""

    def __init__(self, lockfile):
        self.path = lockfile + ".guard"

    def __enter__(self):
        import fcntl
        self.f = open(self.path, "a+b")
        fcntl.flock(self.f.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        self.f.close()


def guard_is_free(lockfile):
    """True when nobody holds the guard lock of `lockfile`."""
    import fcntl
    with open(lockfile + ".guard", "a+b") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def self_signed_cert(tmp):
    """A self-signed certificate for 127.0.0.1 and its key, written in tmp
    by openssl: (cert path, key path)."""
    import subprocess
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    return cert, key
