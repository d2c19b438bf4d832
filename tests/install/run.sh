#!/bin/sh
# `make install` into a DESTDIR, then build a consumer against the installed
# header through pkg-config (shared and static, C and C++) and check what it
# prints. Ends with one "N passed, N failed" line.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
examples="$top/tests/fixtures/cog-examples"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL install: $*"; }

if make -s -C "$top" BUILD="$build" PREFIX=/usr DESTDIR="$tmp/root" install >"$tmp/log" 2>&1; then ok; else bad "make install: $(tail -n 3 "$tmp/log")"; fi
for f in usr/bin/weightslock usr/include/weightslock.h usr/lib/libweightslock.a \
	usr/lib/libweightslock.so.0 usr/lib/libweightslock.so usr/lib/pkgconfig/weightslock.pc; do
	if [ -e "$tmp/root/$f" ]; then ok; else bad "missing $f"; fi
done
if grep -q '^prefix=/usr$' "$tmp/root/usr/lib/pkgconfig/weightslock.pc"; then ok; else bad "pkg-config prefix is not PREFIX"; fi
export PKG_CONFIG_PATH="$tmp/root/usr/lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
cflags=$(pkg-config --cflags weightslock)
libs=$(pkg-config --libs weightslock)
static_libs=$(pkg-config --static --libs weightslock)
want="$examples/resnet.runtime.json"

try() { # try LABEL COMPILER... : build, run on resnet.lock, compare with Cog's runtime manifest
	label=$1
	shift
	if ! "$@" >"$tmp/cc.log" 2>&1; then
		bad "$label: build failed: $(head -n 3 "$tmp/cc.log")"
		return
	fi
	if LD_LIBRARY_PATH="$tmp/root/usr/lib" "$tmp/consumer" <"$examples/resnet.lock" >"$tmp/out" 2>"$tmp/err" &&
		cmp -s "$tmp/out" "$want"; then
		ok
	else
		bad "$label: output differs from Cog's runtime manifest ($(head -c 200 "$tmp/err"))"
	fi
	rm -f "$tmp/consumer"
}
# shellcheck disable=SC2086
try "C, shared" cc -std=c11 -Wall -Werror $cflags -o "$tmp/consumer" "$top/tests/install/consumer.c" $libs
# shellcheck disable=SC2086
try "C, static" cc -std=c11 -Wall -Werror $cflags -o "$tmp/consumer" "$top/tests/install/consumer.c" \
	"$tmp/root/usr/lib/libweightslock.a" $(echo "$static_libs" | sed 's/-lweightslock//')
if command -v c++ >/dev/null 2>&1; then
	# shellcheck disable=SC2086
	try "C++, shared" c++ -x c++ -Wall -Werror $cflags -o "$tmp/consumer" "$top/tests/install/consumer.c" $libs
fi
# The shared library exports the API and nothing else.
if nm -D --defined-only "$tmp/root/usr/lib/libweightslock.so.0" | awk '{print $3}' | grep -v '^wl_' | grep -q .; then
	bad "the shared library exports symbols outside wl_: $(nm -D --defined-only "$tmp/root/usr/lib/libweightslock.so.0" | awk '{print $3}' | grep -v '^wl_' | head -3 | tr '\n' ' ')"
else
	ok
fi
if nm -D --defined-only "$tmp/root/usr/lib/libweightslock.so.0" | awk '{print $3}' | grep -qE '^wl_(buf|storage|json|utf8)_|^wl__'; then
	bad "the shared library exports internal symbols"
else
	ok
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
