#!/usr/bin/python3
"""Runs a test whose child processes are sanitizer builds, and fails on any report.

    sanitizer_run.py [--timeout S] -- COMMAND ARGS...

A sanitizer report in a child process (a host started by test_server.py,
say) goes to its stderr, which the driver may not look at, and ASan's exit
code is lost when the driver kills or ignores the child. So every report is
also written to a file (ASAN_OPTIONS / UBSAN_OPTIONS / TSAN_OPTIONS
log_path=<fresh directory>/report): the run fails when the command fails or
when any report file exists; the reports are printed. A command that exits 77
(it cannot run here) makes this exit 77 too, unless there are reports.
"""
import os
import subprocess
import sys
import tempfile


def main():
    argv = sys.argv[1:]
    timeout = 600
    if argv[:1] == ["--timeout"]:
        timeout = float(argv[1])
        argv = argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    with tempfile.TemporaryDirectory(prefix="gh-san-") as tmp:
        env = dict(os.environ)
        prefix = os.path.join(tmp, "report")
        for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
            opts = env.get(var, "")
            env[var] = (opts + ":" if opts else "") + "log_path=" + prefix
        try:
            rc = subprocess.run(argv, env=env, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            print("sanitizer_run: timed out after %.0f s" % timeout, flush=True)
            rc = 124
        reports = sorted(f for f in os.listdir(tmp) if f.startswith("report"))
        for f in reports:
            print("==== sanitizer report %s" % f, flush=True)
            with open(os.path.join(tmp, f), errors="replace") as fh:
                sys.stdout.write(fh.read())
        if reports:
            print("sanitizer_run: %d report file(s)" % len(reports), flush=True)
            return 1
        print("sanitizer_run: no sanitizer reports; command exit %d" % rc, flush=True)
        if rc == 77:
            return 77  # the command could not run here: SKIP (ctest's SKIP_RETURN_CODE)
        return 1 if rc != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
