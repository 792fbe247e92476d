#!/usr/bin/python3
"""leakcheck.py -- the cost of an exit-time leak check (issue 13): the same
leaking program (bench/leak_workload.c: LIVE reachable objects, LEAKS leaked
ones in one list) run plainly, under glassheap without and with
GLASSHEAP_LEAK_CHECK=exit, under LeakSanitizer (clang and gcc
-fsanitize=leak) and under valgrind --leak-check=full. Wall time and peak RSS
of the whole process (wait4), median of --runs interleaved rounds; each
checker's leak count read from its report, so a run that finds the wrong
number is flagged, not timed as if it were right.

    python3 bench/leakcheck.py --build build --out DIR [--runs 5] [--sizes 100000,1000000] [--smoke]

Writes DIR/leakcheck.csv and DIR/leakcheck.md. Exit status 1 when a checker
crashed or misreported the leak; a missing peer is skipped with a note.
Python 3 standard library only.
"""
import argparse
import csv
import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "leak_workload.c")
LEAKS = 1000


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True, help="glassheap build directory (libglassheap.so)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="100000,1000000", help="LIVE object counts")
    ap.add_argument("--valgrind-max", type=int, default=1000000, help="largest LIVE valgrind is run at")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--smoke", action="store_true", help="one round at 20k objects")
    a = ap.parse_args()
    if a.smoke:
        a.runs, a.sizes = 1, "20000"
    a.sizes = [int(s) for s in a.sizes.split(",") if s]
    return a


def compile_programs(out, notes):
    """The workload, plain and with -fsanitize=leak, compiled into out (a build directory)."""
    progs = {}
    os.makedirs(out, exist_ok=True)
    base = ["-O2", "-g", "-fno-omit-frame-pointer", SRC]
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc:
        progs["plain"] = os.path.join(out, "leak_workload")
        subprocess.run([cc, "-o", progs["plain"]] + base, check=True)
        p = os.path.join(out, "leak_workload_gcc_lsan")
        if subprocess.run([cc, "-fsanitize=leak", "-o", p] + base).returncode == 0:
            progs["gcc-lsan"] = p
        else:
            notes.append("gcc -fsanitize=leak failed: gcc LSan skipped")
    clang = shutil.which("clang")
    if clang:
        p = os.path.join(out, "leak_workload_clang_lsan")
        if subprocess.run([clang, "-fsanitize=leak", "-o", p] + base).returncode == 0:
            progs["clang-lsan"] = p
        else:
            notes.append("clang -fsanitize=leak failed (libclang-rt-*-dev?): clang LSan skipped")
    else:
        notes.append("clang not installed: clang LSan skipped")
    return progs


def run_one(argv, env, timeout):
    """Like measure, with the peak RSS of this child alone (fork + wait4)."""
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("GLASSHEAP_", "LSAN_", "ASAN_")) and k != "LD_PRELOAD"}
    e.update(env)
    r, w = os.pipe()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.dup2(w, 2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        try:
            os.execve(argv[0], argv, e)
        finally:
            os._exit(127)
    os.close(w)
    chunks = []
    deadline = time.time() + timeout
    killed = False
    while True:
        left = deadline - time.time()
        if left <= 0 and not killed:
            os.kill(pid, 9)
            killed = True
        ready, _, _ = select.select([r], [], [], max(0.1, min(left, 1.0)) if left > 0 else 0.1)
        if ready:
            b = os.read(r, 65536)
            if not b:
                break
            chunks.append(b)
    os.close(r)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    rc = None if killed else os.waitstatus_to_exitcode(status)
    return rc, wall, ru.ru_maxrss, b"".join(chunks).decode(errors="replace")


def leaks_reported(checker, err):
    """The number of leaked objects a checker's report names (None when unreadable)."""
    if checker.startswith("glassheap-exit"):
        m = re.search(r"leaked in (\d+) allocation", err)
    elif checker.endswith("lsan"):
        m = re.search(r"leaked in (\d+) allocation", err)
    elif checker == "valgrind":
        d = re.search(r"definitely lost: [\d,]+ bytes in ([\d,]+) blocks", err)
        i = re.search(r"indirectly lost: [\d,]+ bytes in ([\d,]+) blocks", err)
        if not d or not i:
            return None
        return int(d.group(1).replace(",", "")) + int(i.group(1).replace(",", ""))
    else:
        return 0
    return int(m.group(1)) if m else None


def main():
    a = parse_args()
    notes = []
    progs = compile_programs(os.path.join(a.build, "bench-leakcheck"), notes)
    lib = os.path.join(a.build, "libglassheap.so")
    vg = shutil.which("valgrind")
    if not vg:
        notes.append("valgrind not installed: skipped")
    checkers = [("plain", progs["plain"], [], {}),
                ("glassheap", progs["plain"], [], {"LD_PRELOAD": lib}),
                ("glassheap-exit", progs["plain"], [], {"LD_PRELOAD": lib, "GLASSHEAP_LEAK_CHECK": "exit"})]
    for name in ("clang-lsan", "gcc-lsan"):
        if name in progs:
            checkers.append((name, progs[name], [], {"LSAN_OPTIONS": "exitcode=23"}))
    if vg:
        checkers.append(("valgrind", progs["plain"], [vg, "--leak-check=full", "--error-exitcode=0"], {}))
    rows, failures = [], []
    for live in a.sizes:
        for rnd in range(a.runs):
            for name, prog, prefix, env in checkers:
                if name == "valgrind" and live > a.valgrind_max:
                    continue
                rc, wall, rss, err = run_one(prefix + [prog, str(live), str(LEAKS)], env, a.timeout)
                found = leaks_reported(name, err)
                want = 0 if name in ("plain", "glassheap") else LEAKS
                want_rc = 23 if name in ("glassheap-exit", "clang-lsan", "gcc-lsan") else 0
                ok = rc == want_rc and found == want
                if not ok:
                    failures.append("%s live=%d round %d: exit %s, %s leaks reported (want %d): %s" %
                                    (name, live, rnd, rc, found, want, err[-300:]))
                rows.append({"checker": name, "live": live, "round": rnd, "exit": rc, "ok": int(ok),
                             "wall_s": round(wall, 4), "peak_rss_kib": rss, "leaks_reported": found})
                print("%-15s live=%-8d round %d: %.3f s, %d KiB, exit %s, leaks %s%s" %
                      (name, live, rnd, wall, rss, rc, found, "" if ok else "  <-- WRONG"), flush=True)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "leakcheck.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    md = ["# Exit-time leak check: glassheap, LeakSanitizer, valgrind", "",
          "bench/leak_workload.c: LIVE reachable objects (48..112 bytes, a chained hash table under a global), "
          "%d leaked (one list: 1 definitely, %d indirectly lost), then exit. Median of %d interleaved rounds; "
          "wall time and peak RSS of the whole process (wait4). `x plain` is the ratio to the plain run "
          "(glibc malloc, no check); the exit-time check's own cost is glassheap-exit against glassheap (the "
          "same allocator without the check). A checker must exit 23 (LSan, glassheap; valgrind 0) and report "
          "exactly the leaked objects, else the run is listed under Failures." % (LEAKS, LEAKS - 1, a.runs), "",
          "| live objects | checker | wall s | x plain | peak RSS MiB | x plain | leaks found |",
          "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for live in a.sizes:
        base = [r for r in rows if r["live"] == live and r["checker"] == "plain"]
        bw = statistics.median(r["wall_s"] for r in base) if base else None
        br = statistics.median(r["peak_rss_kib"] for r in base) if base else None
        for name, *_ in checkers:
            rs = [r for r in rows if r["live"] == live and r["checker"] == name]
            if not rs:
                continue
            wmed = statistics.median(r["wall_s"] for r in rs)
            rmed = statistics.median(r["peak_rss_kib"] for r in rs)
            found = sorted(set(str(r["leaks_reported"]) for r in rs))
            md.append("| %d | %s | %.3f | %s | %.1f | %s | %s |" % (
                live, name, wmed, "%.2fx" % (wmed / bw) if bw else "-", rmed / 1024,
                "%.2fx" % (rmed / br) if br else "-", ",".join(found)))
    if notes:
        md += ["", "Notes:"] + ["- " + n for n in notes]
    if failures:
        md += ["", "## Failures", ""] + ["- " + f.replace("\n", " ") for f in failures]
    with open(os.path.join(a.out, "leakcheck.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
