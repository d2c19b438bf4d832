#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for
# ${FUZZ_SECONDS:-60} seconds (targets: ${FUZZ_TARGETS:-lock config config_alias tar http_headers hub auth names upload})
# on a scratch copy of its seed corpus, so the
# committed corpus stays as written. Crash inputs are kept under
# ${BUILD:-build}/fuzz/crashes/; the script exits non-zero if any target
# crashed or could not be built.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
out=${BUILD:-build}/fuzz
seconds=${FUZZ_SECONDS:-60}
CLANG=${CLANG:-clang}
if [ "$CLANG" = clang ]; then
	# libFuzzer ships with clang's runtime libraries on Debian.
	sh scripts/install-deps.sh clang libclang-rt-dev >&2 ||
		sh scripts/install-deps.sh clang libclang-rt-14-dev >&2 || true
fi
if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "fuzz: $CLANG not found (libFuzzer needs clang)" >&2
	exit 2
fi
pkg_cflags=$(pkg-config --cflags libcrypto zlib yaml-0.1 libzstd libcurl libdeflate 2>/dev/null)
pkg_libs=$(pkg-config --libs libcrypto zlib yaml-0.1 libzstd libcurl libdeflate 2>/dev/null || echo -lcrypto -lz -lyaml -lzstd -lcurl -ldeflate)
mkdir -p "$out/crashes"
status=0

# target NAME CORPUS: build, then fuzz on a fresh copy of fuzz/corpus/CORPUS.
run_target() {
	name=$1
	corpus=$2
	bin=$out/$name
	echo "fuzz: building $name"
	# shellcheck disable=SC2086
	if ! "$CLANG" -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Iinclude -Ilib $pkg_cflags -pthread -o "$bin" "fuzz/$name.c" lib/*/*.c $pkg_libs -pthread; then
		echo "fuzz: $name: build failed" >&2
		status=1
		return
	fi
	work=$out/corpus-$name
	rm -rf "$work"
	mkdir -p "$work"
	cp "fuzz/corpus/$corpus"/* "$work"/
	echo "fuzz: running $name for ${seconds}s"
	"$bin" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$out/crashes/$name-" "$work" \
		>"$out/$name.log" 2>&1
	rc=$?
	grep -E '^(stat::number_of_executed_runs|stat::peak_rss_mb)' "$out/$name.log" | sed "s|^|fuzz: $name: |"
	if [ "$rc" -ne 0 ]; then
		echo "fuzz: $name: CRASH (exit $rc); see $out/$name.log" >&2
		grep -E 'ERROR|SUMMARY|Test unit written' "$out/$name.log" | head -n 5 | sed "s|^|fuzz: $name: |" >&2
		status=1
	else
		echo "fuzz: $name: ok, corpus $(ls "$work" | wc -l) inputs"
	fi
}

# FUZZ_TARGETS picks targets by corpus name (default: all).
for t in ${FUZZ_TARGETS:-lock config config_alias tar http_headers hub auth names upload}; do
	run_target "fuzz_$t" "$t"
done
if [ "$status" -eq 0 ]; then
	echo "fuzz: no crashes"
else
	echo "fuzz: FAILED; crash inputs in $out/crashes/" >&2
fi
exit "$status"
