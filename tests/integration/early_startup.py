#!/usr/bin/python3
"""early_startup -- allocations before main, before glassheap's constructor,
and during thread exit, both under LD_PRELOAD=libglassheap.so (programs not
linked with glassheap) and linked with libglassheap.a.

  early_main   a dependency's constructor(101) allocates, dlopen()s a plugin
               (whose constructor allocates) and dlsym()s, before main
  early_ctor   the program allocates from .preinit_array (before any library
               constructor) and from its own constructor(101)
  thread_exit  pthread key destructors and C++ thread_local destructors
               allocate and free after glassheap's thread-exit handler; the
               test type's counters return to their baseline

Every program must exit 0, print its "...: ok" line, and glassheap must not
complain on stderr. Under LD_PRELOAD each run also writes an at-exit report
(GLASSHEAP_REPORT) that must show the program's allocations.

Standard library only; run it with /usr/bin/python3.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

TIMEOUT = 60


def base_env():
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("GLASSHEAP_")}
    env["LC_ALL"] = "C"
    return env


def parse_types(path):
    types = {}
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines or not lines[0].startswith("# glassheap report pid="):
        raise ValueError("bad report header in %s: %r" % (path, lines[:1]))
    for ln in lines:
        fields = ln.split("\t")
        if fields[0] == "type" and len(fields) == 6:
            types[fields[5]] = tuple(int(x) for x in fields[1:5])
    return types


def run_case(name, exe, preload, lib, expect_line, report_type=None):
    tmp = tempfile.mkdtemp(prefix="gh_early_")
    try:
        env = base_env()
        if preload:
            env["LD_PRELOAD"] = lib
            env["GLASSHEAP_REPORT"] = os.path.join(tmp, "r.%p")
        try:
            p = subprocess.run([exe], env=env, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=TIMEOUT, text=True)
        except subprocess.TimeoutExpired:
            return "timed out after %d s (deadlock?)" % TIMEOUT
        out = p.stdout + p.stderr
        if p.returncode != 0:
            how = ("killed by signal %d" % -p.returncode) if p.returncode < 0 else ("exit %d" % p.returncode)
            return "%s\n--- output ---\n%s" % (how, out[-4000:])
        if not re.search(r"^" + re.escape(expect_line) + r"\b", p.stdout, re.M):
            return "no %r line in the output:\n%s" % (expect_line, out[-4000:])
        if "glassheap:" in p.stderr:
            return "glassheap complained:\n%s" % p.stderr[-4000:]
        sys.stdout.write("".join("    " + ln + "\n" for ln in out.splitlines()))
        if preload:
            reps = [os.path.join(tmp, n) for n in os.listdir(tmp) if n.startswith("r.")]
            if len(reps) != 1:
                return "want one report, found %s" % os.listdir(tmp)
            types = parse_types(reps[0])
            m = types.get("malloc")
            if not m or m[2] <= 0:
                return "report has no malloc allocations: %s" % types
            if report_type:
                t = types.get(report_type)
                if not t or t[0] != 0 or t[1] != 0 or t[2] != t[3] or t[2] == 0:
                    return "report line for %s is %s, want live 0, bytes 0, allocs == frees > 0" % (
                        report_type, t)
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", required=True)
    for n in ("early-main", "early-ctor", "thread-exit"):
        ap.add_argument("--%s-preload" % n, required=True)
        ap.add_argument("--%s-linked" % n, required=True)
    args = ap.parse_args()
    lib = os.path.abspath(args.lib)
    cases = [
        ("early_main/preload", args.early_main_preload, True, "early_main: ok", None),
        ("early_main/linked", args.early_main_linked, False, "early_main: ok", None),
        ("early_ctor/preload", args.early_ctor_preload, True, "early_ctor: ok", "early_ctor_type"),
        ("early_ctor/linked", args.early_ctor_linked, False, "early_ctor: ok", None),
        ("thread_exit/preload", args.thread_exit_preload, True, "thread_exit: ok", "thread_exit_type"),
        ("thread_exit/linked", args.thread_exit_linked, False, "thread_exit: ok", None),
    ]
    failed = []
    for name, exe, preload, line, rtype in cases:
        print("[ RUN  ] %s" % name)
        sys.stdout.flush()
        err = run_case(name, exe, preload, lib, line, rtype)
        if err:
            failed.append(name)
            print("  FAILED: %s\n[ FAIL ] %s" % (err, name))
        else:
            print("[  OK  ] %s" % name)
        sys.stdout.flush()
    print("%d passed, %d failed%s" % (len(cases) - len(failed), len(failed),
                                       (": " + ", ".join(failed)) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
