#!/bin/sh
# The main job on the bundled example project (SPEC.md Appendix A): the checks
# a CI job runs on a Cog model's weights.lock, with real output. Works on a
# copy in a temporary directory, so the source tree is never written.
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

echo "Example project: cog.yaml declares one weight, 'demo'; weights.lock records it."
step version
step fmt --check
echo "(canonical: byte-identical to what Cog writes)"
step check
echo "(every entry internally consistent)"
step drift
step show
step runtime-manifest
echo
printf '\n$ weightslock manifest demo | sha256sum\n'
"$bin" manifest demo >manifest.json
printf 'sha256 of the projected manifest: sha256:%s\n' "$(sha256sum manifest.json | cut -d' ' -f1)"
printf 'digest recorded in weights.lock:  %s\n' \
	"$(sed -n 's/^      "digest": "\(.*\)",$/\1/p' weights.lock)"

echo
echo "Now declare a change in cog.yaml (include only *.json) and look again:"
sed -i 's/exclude: \["\*.md"\]/include: ["*.json"]/' cog.yaml
set +e
step drift
rc=$?
set -e
echo "(exit status $rc: drift found)"
[ "$rc" -eq 1 ]
