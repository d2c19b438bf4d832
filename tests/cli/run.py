#!/usr/bin/env python3
"""CLI test runner: every test_* function of every tests/cli/test_*.py module.

Each test gets a fresh temporary directory (argument `tmp`). The binary under
test is $WL_BIN; helper tools built from tests/tools are in $WL_TOOLS.
Arguments, if any, are filters: a test runs only if its id (module.function,
e.g. test_git.test_diff) contains one of them.
Prints one FAIL line per failing test and ends with "N passed, N failed".
"""
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    only = sys.argv[1:]
    passed = failed = 0
    for fn in sorted(os.listdir(HERE)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(fn[:-3], os.path.join(HERE, fn))
        mod = importlib.util.module_from_spec(spec)
        sys.path.insert(0, HERE)
        spec.loader.exec_module(mod)
        for name in sorted(n for n in dir(mod) if n.startswith("test_")):
            tid = "%s.%s" % (fn[:-3], name)
            if only and not any(o in tid for o in only):
                continue
            tmp = tempfile.mkdtemp(prefix="wlcli-")
            try:
                getattr(mod, name)(tmp)
                passed += 1
            except Exception as e:  # noqa: BLE001 - any failure is a failed test
                failed += 1
                detail = "".join(traceback.format_exception_only(type(e), e)).strip()
                print("FAIL %s: %s" % (tid, detail.replace("\n", " | ")[:2000]))
                if os.environ.get("WL_TEST_VERBOSE"):
                    traceback.print_exc()
            finally:
                # rm(1) removes trees of any depth (shutil.rmtree recurses).
                subprocess.run(["rm", "-rf", tmp], check=False)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
