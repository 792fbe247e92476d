"""exportlib -- what the exporters' drivers (test_export.py, test_page.py) share:
their reporting. check() records a failure and goes on; skip() exits 77 (ctest's
SKIP_RETURN_CODE) at once, never 0; verdict() is the exit code of a run.
Standard library only."""
import shutil
import sys

FAILURES = []


def check(cond, what, extra=None):
    if not cond:
        FAILURES.append(what)
        print("FAIL: " + what + ("" if extra is None else "\n    " + str(extra)[:2000]), flush=True)
    return cond


def section(name):
    print("== " + name, flush=True)


def skip(why):
    print("SKIP: " + why, flush=True)
    sys.exit(77)


def need(*tools):
    for t in tools:
        if not shutil.which(t):
            skip("%s is not installed (scripts/deps.sh installs it)" % t)


def verdict():
    """1 (and how many checks failed) when any check failed, else 0."""
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("all checks passed")
    return 0
