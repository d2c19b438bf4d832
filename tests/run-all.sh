#!/bin/sh
# Runs every suite against each build directory given (default: build):
# the unit tests, the CLI tests and the shared conformance cases. Prints each
# suite's summary and ends with exactly one "N passed, N failed" line.
set -u
[ $# -gt 0 ] || set -- build
top=$(cd "$(dirname "$0")/.." && pwd)
conformance="$top/../shared/conformance/run"
# Every conformance kind, run one kind at a time so each gets its own line.
conformance_kinds="canon runtime manifest check drift digest import"
total_pass=0
total_fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run_suite LABEL CMD...: runs CMD, shows its FAIL lines and its summary.
run_suite() {
	label=$1
	shift
	"$@" >"$log" 2>&1
	rc=$?
	grep -E '^(FAIL|ERROR)' "$log" | sed "s|^|[$label] |"
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	p=$(echo "$line" | sed -n 's/.*\b\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.*\b\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2/p')
	if [ -z "$p" ]; then
		# No summary: the suite crashed. Show its tail and count one failure.
		tail -n 20 "$log" | sed "s|^|[$label] |"
		p=0
		f=1
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "[$label] exited $rc with no failed test"
		f=1
	fi
	echo "[$label] $p passed, $f failed"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
}

first=1
for build in "$@"; do
	case "$build" in
	/*) b=$build ;;
	*) b="$top/$build" ;;
	esac
	tag=$(basename "$build")
	for t in "$b"/tests/test_*; do
		[ -x "$t" ] || continue
		run_suite "$tag unit $(basename "$t")" "$t"
	done
	run_suite "$tag cli" env WL_BIN="$b/weightslock" WL_TOOLS="$b/tools" python3 "$top/tests/cli/run.py"
	if [ "$first" -eq 1 ]; then
		# Installing and linking from outside is checked once, on the plain build.
		run_suite "$tag install" sh "$top/tests/install/run.sh" "$build"
		first=0
	fi
	if [ -x "$conformance" ]; then
		for kind in $conformance_kinds; do
			run_suite "$tag conformance $kind" "$conformance" --bin "$b/weightslock" --only "$kind/"
		done
	else
		echo "[$tag conformance] missing: $conformance"
		total_fail=$((total_fail + 1))
	fi
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
