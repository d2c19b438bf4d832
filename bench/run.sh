#!/bin/sh
# Benchmarks (make bench): generates a ~30 MB lockfile, times parse, marshal
# and check in-process (bench_lock), then `weightslock fmt --stdout` against
# a Go encoding/json reference built and run in the same session. Prints
# ratios; then diff and merge-driver against fmt --stdout, `weightslock
# show` on 2,500 and 20,000 weights, the
# producer and consumer sides, and an hf:// import against curl. Timings
# are never asserted.
#
#   bench/run.sh BUILD
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${1:-build}
case "$build" in
/*) ;;
*) build=$top/$build ;;
esac
out=$build/bench
mkdir -p "$out"
lock=$out/bench.lock
CC=${CC:-cc}

echo "bench: generating $lock"
python3 bench/gen_lock.py "$lock"

pkg_libs=$(pkg-config --libs libcrypto zlib yaml-0.1 libzstd 2>/dev/null || echo -lcrypto -lz -lyaml -lzstd)
pkg_libs="$pkg_libs -lcurl -ldeflate"
# shellcheck disable=SC2086
"$CC" -std=c11 -D_GNU_SOURCE -O2 -Iinclude -o "$out/bench_lock" bench/bench_lock.c \
	"$build/libweightslock.a" $pkg_libs -pthread
"$out/bench_lock" "$lock" 5

goref=
if command -v go >/dev/null 2>&1; then
	echo "bench: building the Go reference with $(go version)"
	(cd bench/goref && go build -o "$out/goref" .)
	goref=$out/goref
else
	echo "go not installed: skipping the Go reference"
fi
python3 bench/measure.py "$lock" "$build/weightslock" "$goref" 5

# weights.lock in git: diff and merge-driver of two such files, 1,000 files
# changed, against fmt --stdout of one of them.
python3 bench/git.py "$build/weightslock" "$out" 5

# Many small weights: `show` must scale as n log n in the number of entries.
python3 bench/show.py "$build/weightslock" "$out" 5

# The producer side: digest and import of model files (SPEC.md §9-§11).
# shellcheck disable=SC2086
"$CC" -std=c11 -D_GNU_SOURCE -O2 -Iinclude -o "$out/bench_pack" bench/bench_pack.c \
	"$build/libweightslock.a" $pkg_libs -pthread
python3 bench/import.py "$build/weightslock" "$build" "$out/bench_pack"

# The consumer side: extract and verify of a weight (SPEC.md §12).
python3 bench/consume.py "$build/weightslock" "$build"

# Remote sources: import from a mock Hub on 127.0.0.1 against curl (SPEC.md §16).
python3 bench/remote.py "$build/weightslock" "$out" 1 1

# Registries: push and pull of one entry against skopeo and curl (SPEC.md §18).
python3 bench/registry.py "$build/weightslock" "$out" 1
