#!/usr/bin/python3
"""profilers.py -- heap profilers and leak checkers side by side on the
gh-bench-alloc workloads: what watching the heap costs.

    python3 bench/profilers.py [--build DIR] [--runs N] [--scale F] [--out DIR]

Every workload of bench/workloads.c runs under each configuration below, in
interleaved rounds (every configuration once, then again), at operation
counts small enough for the slowest profiler (PROFILER_OPS, times --scale):

  jemalloc                   plain Debian jemalloc: the reference
  glassheap                  types + callsites + counters (always on)
  glassheap+trace-fp         tracing every allocation, 25 frames, frame pointers
  glassheap+trace-dwarf      the same with DWARF unwinding (libunwind)
  glassheap+sampled          tracing one sample per 512 KiB allocated on average
  glassheap+leakcheck        GLASSHEAP_HTTP=127.0.0.1:0 and one POST
                             /debug/memory/gc of the whole heap halfway through
  jemalloc prof              MALLOC_CONF=prof:true,lg_prof_sample:0 (every allocation)
  gperftools heapprof        libtcmalloc.so.4 with HEAPPROFILE (its default
                             unwinder, libunwind)
  gperftools heapprof fp     the same with TCMALLOC_STACKTRACE_METHOD=generic_fp
  heaptrack                  the heaptrack command (records and interprets)
  massif                     valgrind --tool=massif
  lsan                       the workload built with clang -fsanitize=leak
                             (LeakSanitizer's allocator, its check at exit)
  lsan+leakcheck             the same plus __lsan_do_recoverable_leak_check()
                             halfway through, the counterpart of glassheap's

For every run: wall time of the whole process (start-up, fill, operations,
teardown, and for heaptrack its interpreter), the workload's own loop time,
its peak RSS (VmHWM; under valgrind that includes valgrind itself) and, for
the leak-check rows, how long the check took as the workload saw it (and
the pause glassheap reports). Report: median (min-max), ratios of medians to
plain jemalloc from the same rounds. Writes profilers.md and profilers.csv
into --out (default bench/results/<date>/). Profile files go to a temporary
directory, emptied after every run.

Exit status 1 when a run crashed, exited non-zero or timed out; a missing
peer is skipped with a note. Python 3 standard library only.
"""
import argparse
import csv
import datetime
import os
import re
import shlex
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import run as R  # noqa: E402  (bench/run.py: run_child, field, VARIANTS)

LIB = R.LIBDIR
WORKLOADS = R.WORKLOADS

# Operations per workload at --scale 1: the gperftools heap profiler with
# libunwind, the slowest configuration, takes ~5-10 s per run at these on
# the reference machine (2 vCPUs), ~40x what it takes without profiling.
PROFILER_OPS = {"mixed1": 100000, "mixed2": 80000, "tight64": 200000, "larson": 150000, "prodcons": 150000}

# Issue 5's targets for tracing every allocation with frame pointers.
TRACE_WALL_MAX = 3.0
TRACE_RSS_MAX = 1.5

NOTES = {
    "jemalloc": "plain Debian jemalloc, the reference",
    "glassheap": "types + callsites + counters (always on), no tracing",
    "glassheap+trace-fp": R.VARIANT_TEXT["glassheap+trace-fp"],
    "glassheap+trace-dwarf": R.VARIANT_TEXT["glassheap+trace-dwarf"],
    "glassheap+sampled": R.VARIANT_TEXT["glassheap+sampled"],
    "glassheap+leakcheck": "glassheap with its debug server (GLASSHEAP_HTTP=127.0.0.1:0); the workload POSTs "
                           "/debug/memory/gc (a reachability pass over the whole heap) once, halfway",
    "jemalloc prof": "MALLOC_CONF=prof:true,lg_prof_sample:0: a backtrace for every allocation",
    "gperftools heapprof": "libtcmalloc.so.4 with HEAPPROFILE (dumps every 1 GiB allocated); default unwinder "
                           "(libunwind)",
    "gperftools heapprof fp": "the same with TCMALLOC_STACKTRACE_METHOD=generic_fp (frame-pointer unwinding)",
    "heaptrack": "the heaptrack command: preload library + heaptrack_interpret, compressed output file; "
                 "peak RSS is the workload's only",
    "massif": "valgrind --tool=massif (threads serialized); peak RSS includes valgrind",
    "lsan": "the workload built with clang -fsanitize=leak: LeakSanitizer's allocator and its check at exit",
    "lsan+leakcheck": "the same plus __lsan_do_recoverable_leak_check() once, halfway (stops the world)",
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"),
                    help="build directory with libglassheap.so and bench/ (default build-bench)")
    ap.add_argument("--runs", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplier on PROFILER_OPS (default 1)")
    ap.add_argument("--live", type=int, help="GH_BENCH_LIVE for every workload (default: theirs)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset of %s" % WORKLOADS)
    ap.add_argument("--timeout", type=int, default=300, help="seconds per run (default 300)")
    ap.add_argument("--out", help="output directory (default bench/results/<YYYY-MM-DD>/)")
    ap.add_argument("--smoke", action="store_true", help="figures are meaningless (say so in the report)")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite profilers.md from the profilers.csv in --out (give the run's other options too)")
    a = ap.parse_args()
    a.workloads = [w for w in a.workloads.split(",") if w]
    for w in a.workloads:
        if w not in WORKLOADS:
            ap.error("unknown workload %r" % w)
    if a.runs < 1 or a.scale <= 0:
        ap.error("--runs and --scale must be positive")
    a.out = a.out or os.path.join(HERE, "results", datetime.date.today().isoformat())
    return a


def configs(build, tmp, notes):
    """[(name, argv prefix, environment)] of the installed configurations."""
    gh = os.path.join(build, "libglassheap.so")
    je = os.path.join(LIB, "libjemalloc.so.2")
    tc = os.path.join(LIB, "libtcmalloc.so.4")
    lsan = os.path.join(build, "bench", "gh-bench-alloc-lsan")
    out = []

    def add(name, need, prefix, env):
        missing = [n for n in need if not (os.path.exists(n) or shutil.which(n))]
        if missing:
            notes.append("%s skipped: %s not found" % (name, ", ".join(missing)))
        else:
            out.append((name, prefix, env))

    add("jemalloc", [je], [], {"LD_PRELOAD": je})
    add("glassheap", [gh], [], {"LD_PRELOAD": gh})
    for v in ("fp", "dwarf", "sampled"):
        name, extra = R.VARIANTS[v]
        add(name, [gh], [], dict(extra, LD_PRELOAD=gh))
    add("glassheap+leakcheck", [gh], [], {"LD_PRELOAD": gh, "GLASSHEAP_HTTP": "127.0.0.1:0", "GH_BENCH_LEAKCHECK": "1"})
    add("jemalloc prof", [je], [], {"LD_PRELOAD": je,
                                    "MALLOC_CONF": "prof:true,lg_prof_sample:0,prof_prefix:%s/jeprof" % tmp})
    add("gperftools heapprof", [tc], [], {"LD_PRELOAD": tc, "HEAPPROFILE": os.path.join(tmp, "gperf")})
    add("gperftools heapprof fp", [tc], [], {"LD_PRELOAD": tc, "HEAPPROFILE": os.path.join(tmp, "gperf"),
                                             "TCMALLOC_STACKTRACE_METHOD": "generic_fp"})
    add("heaptrack", ["heaptrack"], ["heaptrack", "-o", os.path.join(tmp, "heaptrack")], {})
    add("massif", ["valgrind"], ["valgrind", "--tool=massif", "--massif-out-file=" + os.path.join(tmp, "massif.out")],
        {})
    add("lsan", [lsan], [], {})
    add("lsan+leakcheck", [lsan], [], {"GH_BENCH_LEAKCHECK": "1"})
    return out


def child_env(extra, args, ops_env):
    env = dict(os.environ)
    for k in ("LD_PRELOAD", "GH_BENCH_LIVE", "GH_BENCH_LEAKCHECK", "GH_BENCH_SCALE", "MALLOC_CONF", "HEAPPROFILE",
              "GLASSHEAP_HTTP", "GLASSHEAP_TRACE", "GLASSHEAP_UNWIND", "GLASSHEAP_TRACE_SAMPLE"):
        env.pop(k, None)
    env.update(extra)
    env.update(ops_env)
    return env


def leak_cell(m):
    """The "leak check ms" cell of a configuration's summary m."""
    lc = "—"
    if "leakcheck_ms" in m:
        lc = med_range(m["leakcheck_ms"], 1)
        if "leakcheck_pause_ms" in m:
            lc += "; pause %.1f" % statistics.median(m["leakcheck_pause_ms"])
    return lc


def clean(tmp):
    for f in os.listdir(tmp):  # profiles can be large: drop them between runs
        path = os.path.join(tmp, f)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def med_range(xs, digits=3):
    f = "%%.%df" % digits
    return (f + " (" + f + "–" + f + ")") % (statistics.median(xs), min(xs), max(xs))


def load_rows(path):
    """profilers.csv back into run rows."""
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            for k in ("wall_s", "inner_s", "peak_kb", "leakcheck_ms", "leakcheck_pause_ms"):
                r[k] = float(r[k]) if r[k] != "" else None
            for k in ("run", "ops", "exit"):
                r[k] = int(r[k])
            rows.append(r)
    return rows


def main():
    a = parse_args()
    if a.report_only:
        rows = load_rows(os.path.join(a.out, "profilers.csv"))
        names = list(dict.fromkeys(r["config"] for r in rows))
        failures = ["%s under %s, run %d: %s" % (r["workload"], r["config"], r["run"], r["problem"])
                    for r in rows if r["problem"]]
        a.runs = max(r["run"] for r in rows)
        try:  # keep the command of the run that measured the figures
            with open(os.path.join(a.out, "profilers.md")) as f:
                m = re.search(r"^Command: `([^`]*)`", f.read(), re.M)
                a.command = m.group(1) if m else None
        except OSError:
            pass
        with open(os.path.join(a.out, "profilers.md"), "w") as f:
            f.write(report(a, names, rows, [], failures))
        return 0
    bench = os.path.join(a.build, "bench", "gh-bench-alloc")
    if not os.access(bench, os.X_OK):
        log("profilers.py: %s is not an executable: build it first" % bench)
        return 2
    os.makedirs(a.out, exist_ok=True)
    notes, failures, rows = [], [], []
    with tempfile.TemporaryDirectory(prefix="gh-bench-prof-") as tmp:
        cfgs = configs(a.build, tmp, notes)
        lsan = os.path.join(a.build, "bench", "gh-bench-alloc-lsan")
        for w in a.workloads:
            ops = max(1, int(PROFILER_OPS[w] * a.scale))
            ops_env = {"GH_BENCH_TIMEOUT": str(a.timeout + 30)}
            if a.live:
                ops_env["GH_BENCH_LIVE"] = str(a.live)
            for rnd in range(1, a.runs + 1):
                for name, prefix, extra in cfgs:
                    exe = lsan if name.startswith("lsan") else bench
                    r = R.run_child(prefix + [exe, w, str(ops)], child_env(extra, a, ops_env), a.timeout)
                    clean(tmp)
                    hwm = R.field(r["stdout"], "peak_rss_kb", int)
                    row = {"workload": w, "config": name, "run": rnd, "ops": ops, "wall_s": r["wall"],
                           "inner_s": R.field(r["stdout"], "seconds", float),
                           "peak_kb": hwm if hwm and hwm > 0 else r["maxrss_kb"],
                           "leakcheck_ms": R.field(r["stdout"], "leakcheck_ms", float),
                           "leakcheck_pause_ms": R.field(r["stdout"], "leakcheck_pause_ms", float),
                           "exit": r["exit"], "problem": r["problem"] or ""}
                    if not r["problem"] and row["inner_s"] is None:
                        row["problem"] = "no result line"
                    rows.append(row)
                    log("  %-8s %-24s run %d: wall %7.3fs rss %6.1f MiB %s" % (
                        w, name, rnd, r["wall"], row["peak_kb"] / 1024,
                        "ok" if not row["problem"] else "FAILED (%s)" % row["problem"]))
                    if row["problem"]:
                        failures.append("%s under %s, run %d: %s\n%s" % (
                            w, name, rnd, row["problem"], r["stderr"].strip()[-2000:]))

    md = report(a, [c[0] for c in cfgs], rows, notes, failures)
    with open(os.path.join(a.out, "profilers.md"), "w") as f:
        f.write(md)
    fields = ["workload", "config", "run", "ops", "wall_s", "inner_s", "peak_kb", "leakcheck_ms",
              "leakcheck_pause_ms", "exit", "problem"]
    with open(os.path.join(a.out, "profilers.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=fields)
        wr.writeheader()
        for r in rows:
            wr.writerow({k: ("%.6f" % v if isinstance(v, float) else "" if v is None else v) for k, v in r.items()})
    print(md)
    log("profilers.py: wrote %s/{profilers.md,profilers.csv}" % a.out)
    return 1 if failures else 0


def summarize(rows):
    """{workload: {config: {metric: [values]}}} over successful runs."""
    out = {}
    for r in rows:
        if r["problem"]:
            continue
        m = out.setdefault(r["workload"], {}).setdefault(r["config"], {})
        for k in ("wall_s", "inner_s", "peak_kb", "leakcheck_ms", "leakcheck_pause_ms"):
            if r[k] is not None and r[k] >= 0:
                m.setdefault(k, []).append(r[k])
    return out


def ratio(s, name, metric):
    try:
        return statistics.median(s[name][metric]) / statistics.median(s["jemalloc"][metric])
    except (KeyError, ZeroDivisionError, statistics.StatisticsError):
        return None


def report(a, names, rows, notes, failures):
    md, add = R.report_start("Heap profilers and leak checkers side by side", a.smoke and "Smoke run (tiny counts)")
    add("Command: `%s`. %d interleaved rounds; operations per workload: %s. Cells: median (min–max) of the "
        "runs; ×je: ratio of medians to plain jemalloc in the same rounds. Wall: the whole process, start-up and "
        "the working-set fill included (for heaptrack, its interpreter too). Loop: the workload's own timer "
        "around its operations. RSS: the workload's VmHWM." % (
            getattr(a, "command", None) or
            shlex.join(["python3", os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)] + sys.argv[1:]), a.runs,
            ", ".join("%s %d" % (w, max(1, int(PROFILER_OPS[w] * a.scale))) for w in a.workloads)))
    add("")
    add("| configuration | what |")
    add("|---|---|")
    for name in names:
        add("| %s | %s |" % (name, NOTES.get(name, "")))
    for n in notes:
        add("")
        add("Note: %s" % n)
    summ = summarize(rows)
    for w in a.workloads:
        s = summ.get(w, {})
        add("")
        add("## %s" % w)
        add("")
        R.add_table(add, ("configuration", "wall s", "wall ×je", "loop s", "loop ×je", "peak RSS MiB", "RSS ×je",
                          "leak check ms"), names, s, lambda name, m: (
                med_range(m["wall_s"]), R.fmt_ratio(ratio(s, name, "wall_s")),
                med_range(m["inner_s"]) if "inner_s" in m else "—", R.fmt_ratio(ratio(s, name, "inner_s")),
                "%.1f" % (statistics.median(m["peak_kb"]) / 1024), R.fmt_ratio(ratio(s, name, "peak_kb")),
                leak_cell(m)), ok=lambda m: bool(m) and "wall_s" in m)
    add("")
    add("## Tracing every allocation at these counts")
    add("")
    add("Issue 5's target for tracing every allocation with %s frames and frame-pointer unwinding is wall ≤ %.1fx plain "
        "jemalloc and peak RSS ≤ %.1fx. At this section's small counts the working-set fill and its page faults are a "
        "large part of the whole process (and transparent huge pages change them), so the loop ratio is the one to "
        "read for the cost per operation; the harness judges the target on section 1's full-count runs."
        % (R.TRACE_FRAMES, TRACE_WALL_MAX, TRACE_RSS_MAX))
    add("")
    add("| workload | wall ×je | loop ×je | RSS ×je |")
    add("|---|---|---|---|")
    for w in a.workloads:
        s = summ.get(w, {})
        add("| %s | %s | %s | %s |" % (w, R.fmt_ratio(ratio(s, "glassheap+trace-fp", "wall_s")),
                                     R.fmt_ratio(ratio(s, "glassheap+trace-fp", "inner_s")),
                                     R.fmt_ratio(ratio(s, "glassheap+trace-fp", "peak_kb"))))
    md.extend(R.failures_md(failures))
    add("")
    return "\n".join(md)


if __name__ == "__main__":
    sys.exit(main())
