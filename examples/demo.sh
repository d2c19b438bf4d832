#!/bin/sh
# The main job on the bundled example project (SPEC.md Appendix A): import the
# weights into weights.lock and an OCI layout, then the checks a CI job runs,
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
recorded=$(sed -n 's/^      "digest": "\(.*\)",$/\1/p' weights.lock)
rm weights.lock

step() {
	printf '\n$ weightslock %s\n' "$*"
	"$bin" "$@"
}

echo "Example project: cog.yaml declares one weight, 'demo', from ./weights."
step version
step digest --list weights
step import --dry-run -v --bundle-file-max 64
step import --bundle-file-max 64 --oci-layout ../layout --cache-dir ../cache
imported=$(sed -n 's/^      "digest": "\(.*\)",$/\1/p' weights.lock)
printf 'manifest digest imported:           %s\n' "$imported"
printf 'manifest digest of the worked example: %s\n' "$recorded"
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
