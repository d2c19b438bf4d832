#!/bin/sh
# The main job on the bundled example project (the worked example, with the
# lockfile Cog writes for it): check and import over Cog's lockfile, import
# into an OCI layout, then the checks a CI job runs,
# with real output. Works on a copy in a temporary directory, so the source
# tree is never written.
set -eu
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -R "$here/demo" "$work/demo"
# The one binary file of the example (bytes 0x00..0x63) is made here.
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(100)))' >"$work/demo/weights/model.safetensors"
cd "$work/demo"

step() {
	printf '\n$ weightslock %s\n' "$*"
	"$bin" "$@"
}

echo "Example project: cog.yaml declares one weight, 'demo', from ./weights."
echo "Its weights.lock is the one Cog writes for it (--bundle-file-max 64)."
step version
step digest --list weights
before=$(ls -l --time-style=+%s.%N weights.lock)
step import --check --bundle-file-max 64
step import --bundle-file-max 64 --cache-dir ../cache
[ "$(ls -l --time-style=+%s.%N weights.lock)" = "$before" ]
echo "(Cog's lockfile, nothing changed: kept byte for byte, same mtime)"
echo
echo "An OCI layout needs the layer bytes; Cog's gzip bytes cannot be made here:"
step import --dry-run -v --bundle-file-max 64 --oci-layout ../layout
step import --bundle-file-max 64 --oci-layout ../layout --cache-dir ../cache
step import --bundle-file-max 64 --oci-layout ../layout --cache-dir ../cache
echo "(nothing changed: the lockfile keeps its bytes and mtime)"
ls ../layout/blobs/sha256
step fmt --check
echo "(canonical: byte-identical to what Cog writes)"
step check
step drift
step show
step runtime-manifest
echo
printf '\n$ weightslock manifest demo | sha256sum\n'
"$bin" manifest demo | sha256sum

echo
echo "Now declare a change in cog.yaml (include only *.json) and look again:"
sed -i 's/exclude: \["\*.md"\]/include: ["*.json"]/' cog.yaml
set +e
step drift
rc=$?
set -e
echo "(exit status $rc: drift found)"
[ "$rc" -eq 1 ]
