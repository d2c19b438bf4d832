#!/bin/sh
# The suite without the shared directory: copies the project's files into a
# temporary directory T/wl (so T/shared does not exist) and runs
# tests/run-all.sh there with the binaries of the build directory given (no
# rebuild), restricted to the parts that read test material: the unit tests
# that include cases.h, the CLI modules that read Cog's example lockfiles,
# the install test and the conformance step. Its summary must be clean and
# must say that the conformance suite was not run. Then, with a stand-in
# conformance runner at T/shared/conformance/run, that runner must be used and
# the note must be gone. Ends with one "N passed, N failed" line.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
case "$build" in
/*) b=$build ;;
*) b="$top/$build" ;;
esac
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL standalone: $*"; }
if [ -n "${WL_STANDALONE_COPY:-}" ]; then
	# Run from inside its own copy: the suite must not recurse into itself.
	bad "started inside the copy it makes"
	echo "standalone: $pass passed, $fail failed"
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
copy="$tmp/wl"
mkdir "$copy"

# The project's files (tracked or not ignored, as they are in the working
# tree), with their times, so that make finds the build directory up to date.
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$top" ls-files -z --cached --others --exclude-standard |
		tar -C "$top" --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$copy" -xf -
else
	tar -C "$top" --exclude=./build --exclude=./.git -cf - . | tar -C "$copy" -xf -
fi
if [ -f "$copy/tests/run-all.sh" ] && [ ! -e "$tmp/shared" ]; then ok; else bad "could not copy the project"; fi

# summary FILE: the last line of a run-all.sh output.
summary() { tail -n 1 "$1"; }

unit=$(cd "$copy/tests/unit" && grep -l '#include "cases.h"' test_*.c | sed 's/\.c$//' | tr '\n' ' ')
# The CLI modules that read the example lockfiles (test_writer_locks reads
# one too, through the same wltest.EXAMPLES, but takes a minute).
cli="test_cli. test_git."
(
	unset WL_CONFORMANCE_DIR
	cd "$copy" &&
		WL_STANDALONE_COPY=1 WL_SUITES="unit cli install conformance" WL_UNIT="$unit" WL_CLI_ONLY="$cli" \
			sh tests/run-all.sh "$b"
) >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then ok; else bad "run-all.sh exited $rc"; fi
grep -E '^\[[^]]*\] (FAIL|ERROR)' "$tmp/out" | head -n 20 | sed 's/^/FAIL standalone: /'
if summary "$tmp/out" | grep -Eq '^[1-9][0-9]* passed, 0 failed \(conformance suite not run\)$'; then
	ok
else
	bad "summary is \"$(summary "$tmp/out")\", want \"N passed, 0 failed (conformance suite not run)\""
fi
if [ "$(grep -Ec '^[0-9]+ passed, [0-9]+ failed' "$tmp/out")" -eq 1 ]; then
	ok
else
	bad "not exactly one summary line"
fi
if grep -q '^\[[^]]*conformance\] not run: no conformance suite at \.\./shared/conformance$' "$tmp/out"; then
	ok
else
	bad "no line saying the conformance suite was not run"
fi
for u in $unit; do
	if grep -Eq "^\[[^]]* unit $u\] [1-9][0-9]* passed, 0 failed$" "$tmp/out"; then ok; else bad "unit $u did not pass"; fi
	if grep -q "^\[[^]]* unit $u\] NOT RUN .*no conformance suite" "$tmp/out"; then ok; else bad "unit $u does not say what it did not run"; fi
done
for s in cli install; do
	if grep -Eq "^\[[^]]* $s\] [1-9][0-9]* passed, 0 failed$" "$tmp/out"; then ok; else bad "$s did not pass"; fi
done

# A conformance suite beside the copy is run, and the note is gone.
mkdir -p "$tmp/shared/conformance"
cat >"$tmp/shared/conformance/run" <<'RUNNER'
#!/bin/sh
echo "$*" >>"$(dirname "$0")/calls"
echo "1 passed, 0 failed"
RUNNER
chmod +x "$tmp/shared/conformance/run"
(
	unset WL_CONFORMANCE_DIR
	cd "$copy" && WL_STANDALONE_COPY=1 WL_SUITES=conformance sh tests/run-all.sh "$b"
) >"$tmp/out2" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && summary "$tmp/out2" | grep -Eq '^[1-9][0-9]* passed, 0 failed$'; then
	ok
else
	bad "with a conformance suite: exit $rc, summary \"$(summary "$tmp/out2")\""
fi
if grep -qF -- "--bin $b/weightslock --only " "$tmp/shared/conformance/calls" 2>/dev/null; then
	ok
else
	bad "the conformance runner beside the copy was not run on the build under test"
fi
echo "standalone: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
