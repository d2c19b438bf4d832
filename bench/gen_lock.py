#!/usr/bin/env python3
"""Generates the benchmark lockfile: weight "big" with 100,000 files in a few
hundred layers, weight "small" with 20 files; about 30 MB, canonical, and
internally consistent (set digests per SPEC.md §4.6, manifest digests per
§6.2-6.3, size sums, layer references), so `weightslock check` finds nothing.

    gen_lock.py OUT [FILES]
    gen_lock.py --weights N OUT

With --weights, N small weights instead (three files each, distinct names
and targets), for timing what grows with the number of entries.

Deterministic: the same arguments always give the same bytes.
"""
import hashlib
import json
import random
import sys

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
FILES_PER_LAYER = 330


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def set_digest(files):
    lines = sorted(f["digest"].split(":", 1)[1].encode() + b"  " + f["path"].encode() for f in files)
    return sha(b"\n".join(lines))


def compact(v):
    return json.dumps(v, separators=(",", ":")).encode()


def manifest_digest(entry):
    config = compact({"name": entry["name"], "target": entry["target"],
                      "setDigest": entry["setDigest"],
                      "files": [{"path": f["path"], "layer": f["layer"], "size": f["size"],
                                 "digest": f["digest"]} for f in entry["files"]]})
    manifest = compact({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.cog.weight.v1",
        "config": {"mediaType": "application/vnd.cog.weight.config.v1+json",
                   "size": len(config), "digest": sha(config)},
        "layers": [{"mediaType": l["mediaType"], "size": l["size"], "digest": l["digest"],
                    "annotations": {"run.cog.weight.size.uncompressed": str(l["sizeUncompressed"])}}
                   for l in entry["layers"]],
        "annotations": {"run.cog.weight.name": entry["name"],
                        "run.cog.weight.set-digest": entry["setDigest"],
                        "run.cog.weight.target": entry["target"]},
    })
    return sha(manifest)


def big_paths(rng, n):
    """Nested paths like a sharded checkpoint with tokenizer and configs."""
    kinds = ["attn", "mlp", "norm", "embed"]
    exts = [".safetensors", ".safetensors", ".bin", ".json", ".npy"]
    paths = set()
    i = 0
    while len(paths) < n:
        block = i // 400
        p = "checkpoints/step-%06d/model/layers/%03d/%s/shard-%05d-of-%05d%s" % (
            1000 * (1 + block % 25), block, kinds[i % 4], i, n, exts[rng.randrange(len(exts))])
        paths.add(p)
        i += 1
    return sorted(paths)


def make_entry(rng, name, paths, tag):
    files = []
    for i, p in enumerate(paths):
        size = int(rng.lognormvariate(11, 2.5)) + 1
        files.append({"path": p, "size": size,
                      "digest": sha(b"%s file %d %s" % (tag, i, p.encode())), "layer": ""})
    layers = []
    for start in range(0, len(files), FILES_PER_LAYER):
        group = files[start:start + FILES_PER_LAYER]
        digest = sha(b"%s layer %d" % (tag, start))
        su = sum(f["size"] for f in group)
        for f in group:
            f["layer"] = digest
        layers.append({"digest": digest, "mediaType": GZIP,
                       "size": max(1, su * 9 // 10), "sizeUncompressed": su})
    layers.sort(key=lambda l: l["digest"].encode())
    entry = {
        "name": name,
        "target": "/src/weights/" + name,
        "source": {"uri": "file://./weights/" + name, "fingerprint": "", "include": [],
                   "exclude": [], "importedAt": "2026-04-29T17:23:00.414483Z"},
        "digest": "",
        "setDigest": set_digest(files),
        "size": sum(l["sizeUncompressed"] for l in layers),
        "sizeCompressed": sum(l["size"] for l in layers),
        "files": files,
        "layers": layers,
    }
    entry["source"]["fingerprint"] = entry["setDigest"]
    entry["digest"] = manifest_digest(entry)
    return entry


def many_weights(rng, n):
    paths = ["config.json", "model.safetensors", "tokenizer.json"]
    return [make_entry(rng, "w-%06d" % i, paths, b"w %d" % i) for i in range(n)]


def main():
    args = sys.argv[1:]
    rng = random.Random(20260429)
    if args[:1] == ["--weights"]:
        weights = many_weights(rng, int(args[1]))
        out = args[2]
    else:
        out = args[0]
        n = int(args[1]) if len(args) > 1 else 100000
        small_paths = sorted(["config.json", "tokenizer.json", "tokenizer_config.json",
                              "special_tokens_map.json", "generation_config.json"] +
                             ["model-%05d-of-00015.safetensors" % (i + 1) for i in range(15)])
        weights = [make_entry(rng, "big", big_paths(rng, n), b"big"),
                   make_entry(rng, "small", small_paths, b"small")]
    doc = {
        "version": 1,
        "envelopeFormat": sha(b"bench envelope"),
        "weights": weights,
    }
    with open(out, "wb") as f:
        f.write(json.dumps(doc, indent=2).encode())


if __name__ == "__main__":
    main()
