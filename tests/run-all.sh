#!/bin/sh
# Runs every suite against each build directory given (default: build):
# the unit tests, the CLI tests, the install test and the standalone test
# (both on the first build directory only) and the conformance cases. Prints
# each suite's summary and ends with exactly one "N passed, N failed" line,
# followed on that line by "(conformance suite not run)" when it was absent.
#
# The conformance suite is external and optional: it is looked for in
# ../shared/conformance beside the source tree. Its cases are not part of the
# project; without them every other suite still runs and the summary says so.
#
# Environment:
#   WL_SUITES            the suites to run, space-separated, out of
#                        "unit cli install conformance standalone" (default: all)
#   WL_UNIT              the unit test binaries to run, e.g. "test_check test_oci"
#                        (default: every build/tests/test_*)
#   WL_CLI_ONLY          filters for tests/cli/run.py, space-separated: a CLI test
#                        runs if its id (module.function) contains one of them
#   WL_CONFORMANCE_DIR   the conformance suite (a directory holding `run` and
#                        `cases/`) instead of ../shared/conformance
set -u
[ $# -gt 0 ] || set -- build
top=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${WL_CONFORMANCE_DIR:-}" ]; then
	case "$WL_CONFORMANCE_DIR" in
	/*) ;;
	*) WL_CONFORMANCE_DIR="$PWD/$WL_CONFORMANCE_DIR" ;;
	esac
	export WL_CONFORMANCE_DIR
fi
# Build directories and the unit tests' search for their material are
# relative to the source tree.
cd "$top" || exit 2
conformance_dir=${WL_CONFORMANCE_DIR:-../shared/conformance}
conformance="$conformance_dir/run"
suites=${WL_SUITES:-unit cli install conformance standalone}
for s in $suites; do
	case "$s" in
	unit | cli | install | conformance | standalone) ;;
	*)
		echo "run-all: unknown suite \"$s\" in WL_SUITES (unit cli install conformance standalone)" >&2
		exit 2
		;;
	esac
done
# Every conformance kind, run one kind at a time so each gets its own line.
conformance_kinds="canon runtime manifest check drift digest import"
conformance_not_run=0
total_pass=0
total_fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run_suite LABEL CMD...: runs CMD, shows its FAIL and NOT RUN lines and its
# summary.
run_suite() {
	label=$1
	shift
	"$@" >"$log" 2>&1
	rc=$?
	grep -E '^(FAIL|ERROR|NOT RUN)' "$log" | sed "s|^|[$label] |"
	if grep -q '^NOT RUN.*conformance' "$log"; then
		conformance_not_run=1
	fi
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

# wants SUITE: whether WL_SUITES asks for SUITE.
wants() {
	case " $suites " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

first=1
for build in "$@"; do
	case "$build" in
	/*) b=$build ;;
	*) b="$top/$build" ;;
	esac
	tag=$(basename "$build")
	if wants unit; then
		for t in "$b"/tests/test_*; do
			[ -x "$t" ] || continue
			if [ -n "${WL_UNIT:-}" ]; then
				case " $WL_UNIT " in
				*" $(basename "$t") "*) ;;
				*) continue ;;
				esac
			fi
			run_suite "$tag unit $(basename "$t")" "$t"
		done
	fi
	if wants cli; then
		# shellcheck disable=SC2086 # one argument per filter
		run_suite "$tag cli" env WL_BIN="$b/weightslock" WL_TOOLS="$b/tools" python3 "$top/tests/cli/run.py" ${WL_CLI_ONLY:-}
	fi
	if [ "$first" -eq 1 ]; then
		# Installing and linking from outside, and running without the shared
		# directory, are checked once, on the first build.
		if wants install; then
			run_suite "$tag install" sh "$top/tests/install/run.sh" "$build"
		fi
		if wants standalone; then
			run_suite "$tag standalone" sh "$top/tests/standalone/run.sh" "$build"
		fi
		first=0
	fi
	if wants conformance; then
		if [ -x "$conformance" ]; then
			for kind in $conformance_kinds; do
				run_suite "$tag conformance $kind" "$conformance" --bin "$b/weightslock" --only "$kind/"
			done
		else
			echo "[$tag conformance] not run: no conformance suite at $conformance_dir"
			conformance_not_run=1
		fi
	fi
done
if [ "$conformance_not_run" -eq 1 ]; then
	echo "$total_pass passed, $total_fail failed (conformance suite not run)"
else
	echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
