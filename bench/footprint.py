#!/usr/bin/python3
"""footprint.py -- issue 15 ("Footprint: memory overhead, start-up cost and
the hot path"): every target of the issue measured side by side with the
peers, in one report.

    python3 bench/footprint.py --build BUILD [--quick | --smoke] [--out DIR]

1. Workloads, each run under glibc, Debian's jemalloc, tcmalloc_minimal,
   mimalloc and glassheap (default settings, GLASSHEAP_THP=never and
   GLASSHEAP_THP=auto), swapped in with LD_PRELOAD, in interleaved rounds:
     fp_mixed1  gh-bench-alloc: 1 thread, 100k live objects of 16..512 B
                (log-uniform), 5M replacements, first and last byte written
     fp_mixed2  the same totals on 2 threads, ~10% of frees cross-thread
     fp_cxxmap  gh-bench-fp-cxx: std::map<std::string, std::vector<int>>,
                300k live entries, 500k erase+insert
     fp_python  /usr/bin/python3 bench/fp_python.py with PYTHONMALLOC=malloc:
                JSON round-trips, a sliding window of decoded documents
   CPU time (user+sys, wait4), wall time and peak RSS (the process's own
   VmHWM), the load average at each run; medians of the rounds, ratios of
   medians to jemalloc from the same rounds.
2. fp_true: /bin/true started 100 times per configuration (interleaved,
   one start per configuration per round) by gh-bench-spawn, a static
   launcher whose own small RSS is the floor of every child's ru_maxrss:
   peak RSS, wall and CPU time per start; and the shared objects mapped into
   a preloaded /bin/cat reading its own /proc/self/maps.
3. Callgrind: instructions per malloc/free pair (tight64: (Ir(N) - Ir(0)) / N)
   and per fp_mixed1 replacement, split into the allocator's instructions
   (every object but the workload's executable) and the workload's own;
   per-function self cost for glassheap and jemalloc, glassheap's hottest
   source lines. The callgrind files are parsed here (self cost per object
   and function), not through callgrind_annotate's truncated names.
4. The world-stop pause of glassheap's reachability pass per 100k objects
   at 100k / 1M / 10M objects (gh-bench-gc), LeakSanitizer's check on the
   same heap beside it; or, with --pause-csv, the figures section 3 of the
   harness measured in the same invocation.

Writes footprint.md (targets first), footprint.csv (one row per timed run),
callgrind.csv, functions.csv, lines.csv, shared_objects.csv, pause.csv and
footprint.json (the targets table for bench/harness.py, and what
--report-only needs to rewrite footprint.md) into DIR (default
bench/results/<date>/footprint) and prints the markdown. Exit status 1 when
a run crashed, exited non-zero or timed out (timing never fails a run), 2
when a program is missing. A missing peer or valgrind is skipped with a
note. Python 3 standard library only.
"""
import argparse
import csv
import datetime
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import run as R  # noqa: E402  (bench/run.py: run_child, field, machine_info, annotate_lines)

PYTHON = "/usr/bin/python3"  # Debian's interpreter, whatever runs this script
WORKLOADS = ["fp_mixed1", "fp_mixed2", "fp_cxxmap", "fp_python", "fp_true"]
MIXED = ["fp_mixed1", "fp_mixed2"]

# The targets of issue 15.
RSS_MIXED_MAX, RSS_AIM = 1.20, 1.10      # peak RSS vs jemalloc, mixed workloads; aim for both kinds
RSS_SMALL_MAX = 1.25                     # peak RSS vs jemalloc, C++ small-node heap
CPU_MIXED_MAX, CPU_AIM = 1.15, 1.10      # CPU time vs jemalloc, mixed workloads
IR_PAIR_MAX = 150                        # instructions per malloc/free pair (tight64)
START_RSS_DELTA_MAX_KB = 1024            # /bin/true peak RSS within 1 MiB of jemalloc's
START_TIME_MAX = 2.0                     # ... and within 2x its time
PAUSE_PER_100K_MAX_MS = 10.0             # world-stop pause per 100k objects at 10M objects
PAUSE_AT = 10000000
# The issue's figures before the footprint work, for the report's last column.
ISSUE_BEFORE = {
    "rss fp_mixed1": "1.80x", "rss fp_mixed2": "1.81x", "rss fp_cxxmap": "1.46x", "rss fp_python": "1.62x",
    "cpu fp_mixed1": "1.17x", "cpu fp_mixed2": "1.18x", "cpu fp_cxxmap": "0.99x", "cpu fp_python": "1.14x",
    "ir": "189 (jemalloc 78)", "start rss": "+15.6 MiB (19 vs 3.4)", "start time": "4.1x wall",
    "objects": "15 shared objects", "pause": "10.9 ms",
}
# Shared objects a preloaded glassheap may bring into every process (besides
# the program's own, which the no-preload run lists): the library itself,
# and the unwinders with what they need (libgcc_s's _Unwind_Backtrace;
# libunwind, which needs liblzma). Everything else should load when first
# needed (the server, the symbolizer and their libraries).
CORE_ALLOWED = ("libglassheap.so", "libgcc_s.so", "libunwind.so", "liblzma.so")

# (ops scale, live objects or None for the defaults, rounds, /bin/true starts,
#  callgrind tight64 iterations, callgrind fp_mixed1 operations, pause sizes,
#  pause passes, per-run timeout in seconds)
MODES = {
    "full": (1.0, None, 5, 100, 1000000, 200000, [100000, 1000000, 10000000], 5, 600),
    "quick": (0.25, None, 3, 30, 200000, 50000, [100000, 1000000], 3, 300),
    "smoke": (0.004, 10000, 1, 3, 2000, 500, [1000], 1, 60),
}


def log(msg):
    print("footprint: " + msg, file=sys.stderr, flush=True)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build directory (default build)")
    ap.add_argument("--quick", action="store_true", help="3 rounds, 1/4 of the counts, 30 starts, no 10M pause")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny counts, one round: checks that every run works (ctest); figures meaningless")
    ap.add_argument("--rounds", type=int, help="interleaved rounds per workload (default 5)")
    ap.add_argument("--true-runs", type=int, help="/bin/true starts per configuration (default 100)")
    ap.add_argument("--scale", type=float, help="multiplier on the workloads' default counts")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset of %s" % WORKLOADS)
    ap.add_argument("--no-callgrind", action="store_true", help="skip the instruction counts")
    ap.add_argument("--no-pause", action="store_true", help="skip the reachability pass")
    ap.add_argument("--pause-csv", help="take the pause from this introspection.csv (bench/introspection.py) "
                                        "instead of running gh-bench-gc")
    ap.add_argument("--out", help="output directory (default bench/results/<YYYY-MM-DD>/footprint)")
    ap.add_argument("--note", action="append", default=[], help="a line for the report's machine section")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite footprint.md from the CSVs and footprint.json of a finished run in --out")
    a = ap.parse_args()
    a.argv = sys.argv[1:]
    a.mode = "smoke" if a.smoke else "quick" if a.quick else "full"
    (scale, a.live, rounds, true_runs, a.cg_iters, a.cg_ops, a.pause_sizes, a.pause_runs,
     a.timeout) = MODES[a.mode]
    a.scale = a.scale if a.scale is not None else scale
    a.rounds = a.rounds if a.rounds is not None else rounds
    a.true_runs = a.true_runs if a.true_runs is not None else true_runs
    a.workloads = [w for w in a.workloads.split(",") if w]
    for w in a.workloads:
        if w not in WORKLOADS:
            ap.error("unknown workload %r (want %s)" % (w, ",".join(WORKLOADS)))
    if a.rounds < 1 or a.true_runs < 1 or a.scale <= 0:
        ap.error("--rounds, --true-runs and --scale must be positive")
    a.build = os.path.abspath(a.build)
    a.out = os.path.abspath(a.out or os.path.join(HERE, "results", datetime.date.today().isoformat(), "footprint"))
    return a


# ---- Configurations -------------------------------------------------------------

def configs(a):
    """[(name, preload or None, extra environment)] of the installed allocators, and notes."""
    gh = os.path.join(a.build, "libglassheap.so")
    cands = R.PEERS + [
        ("glassheap", gh, {}),
        ("glassheap THP=never", gh, {"GLASSHEAP_THP": "never"}),
        ("glassheap THP=auto", gh, {"GLASSHEAP_THP": "auto"}),
        ("glassheap THP=always", gh, {"GLASSHEAP_THP": "always"}),  # the default before issue 15's change to auto
    ]
    notes = []
    return R.installed(cands, notes), notes


# Settings that would change what an allocator does: removed from every
# child's environment, so that "default" means the allocator's defaults.
SCRUB = ("LD_PRELOAD", "GH_BENCH_", "GLASSHEAP_", "MALLOC_CONF", "JE_MALLOC_CONF", "_RJEM_MALLOC_CONF", "MIMALLOC_",
         "TCMALLOC_", "GLIBC_TUNABLES", "PYTHONMALLOC", "PYTHON")


def child_env(cfg, a, extra=None):
    return R.child_env(cfg, a, extra, drop=lambda k: k.startswith(SCRUB))


def command(a, w):
    """The argv of workload w (not fp_true)."""
    if w in MIXED:
        return [os.path.join(a.build, "bench", "gh-bench-alloc"), w]
    if w == "fp_cxxmap":
        return [os.path.join(a.build, "bench", "gh-bench-fp-cxx")]
    return [PYTHON, "-s", "-B", os.path.join(HERE, "fp_python.py")]


def workload_extra(a, w):
    if w == "fp_python":
        return {"PYTHONMALLOC": "malloc"}
    if w == "fp_cxxmap" and a.live:
        return {"GH_BENCH_LIVE": str(a.live // 2)}
    return {}


def load1():
    return os.getloadavg()[0]


# ---- 1. Workloads -------------------------------------------------------------------

def timed_runs(a, cfgs, rows, failures):
    for w in [w for w in a.workloads if w != "fp_true"]:
        log("%s: %d rounds of %d configurations" % (w, a.rounds, len(cfgs)))
        for rnd in range(1, a.rounds + 1):
            for cfg in cfgs:
                ld = load1()
                r = R.run_child(command(a, w), child_env(cfg, a, workload_extra(a, w)), a.timeout)
                hwm = R.field(r["stdout"], "peak_rss_kb", int)
                if not r["problem"] and not (hwm and hwm > 0):
                    r["problem"] = "no peak_rss_kb in the output"
                rows.append({"workload": w, "config": cfg[0], "round": rnd, "wall_s": r["wall"], "user_s": r["user"],
                             "sys_s": r["sys"], "cpu_s": r["cpu"], "peak_kb": hwm or r["maxrss_kb"],
                             "maxrss_kb": r["maxrss_kb"], "inner_s": R.field(r["stdout"], "seconds", float),
                             "load1": ld, "exit": r["exit"], "problem": r["problem"] or ""})
                log("  %-9s %-20s round %d: cpu %.2fs wall %.2fs rss %.1f MiB load %.1f %s" % (
                    w, cfg[0], rnd, r["cpu"], r["wall"], (hwm or 0) / 1024, ld,
                    "ok" if not r["problem"] else "FAILED (%s)" % r["problem"]))
                if r["problem"]:
                    failures.append("%s under %s, round %d: %s\n%s" % (w, cfg[0], rnd, r["problem"],
                                                                       r["stderr"].strip()[-2000:]))


# ---- 2. Start-up -----------------------------------------------------------------------

def true_runs(a, cfgs, rows, failures):
    spawn = os.path.join(a.build, "bench", "gh-bench-spawn")
    floor = []
    log("fp_true: %d starts of /bin/true per configuration, interleaved" % a.true_runs)
    broken = set()
    for rnd in range(1, a.true_runs + 1):
        for cfg in cfgs:
            if cfg[0] in broken:
                continue
            ld = load1()
            r = R.run_child([spawn, "1", "/bin/true"], child_env(cfg, a), 60)
            m = re.search(r"wall_us=(\d+) user_us=(\d+) sys_us=(\d+) maxrss_kb=(\d+) status=(\d+)", r["stdout"])
            fl = R.field(r["stdout"], "launcher_rss_kb", int)
            if fl:
                floor.append(fl)
            problem = r["problem"] or (None if m else "no run line from gh-bench-spawn")
            if m and m.group(5) != "0":
                problem = "/bin/true exit status %s" % m.group(5)
            if "ERROR: ld.so" in r["stderr"]:
                problem = "LD_PRELOAD failed"
            if problem:
                broken.add(cfg[0])
                failures.append("/bin/true under %s: %s\n%s" % (cfg[0], problem, r["stderr"].strip()[-1000:]))
                continue
            wall, user, sys_, rss = (int(m.group(i)) for i in range(1, 5))
            rows.append({"workload": "fp_true", "config": cfg[0], "round": rnd, "wall_s": wall / 1e6,
                         "user_s": user / 1e6, "sys_s": sys_ / 1e6, "cpu_s": (user + sys_) / 1e6, "peak_kb": rss,
                         "maxrss_kb": rss, "inner_s": "", "load1": ld, "exit": 0, "problem": ""})
    return statistics.median(floor) if floor else None


def shared_objects(a, cfgs, failures):
    """{config: [paths of the shared objects mapped into a preloaded /bin/cat]}."""
    out = {}
    for cfg in cfgs:
        r = R.run_child(["/bin/cat", "/proc/self/maps"], child_env(cfg, a), 60)
        if r["problem"]:
            failures.append("/bin/cat /proc/self/maps under %s: %s\n%s" % (cfg[0], r["problem"], r["stderr"][-1000:]))
            continue
        paths = []
        for line in r["stdout"].splitlines():
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/") and re.search(r"\.so(\.|$)", parts[5]):
                if parts[5] not in paths:
                    paths.append(parts[5])
        out[cfg[0]] = sorted(paths, key=os.path.basename)
    return out


# ---- 3. Callgrind ------------------------------------------------------------------------

def callgrind_self(path):
    """Self cost (Ir) per (object, function) from a callgrind output file.

    The format (valgrind's docs, "Callgrind Format Specification"): ob=/fl=/fn=
    set the current object, file, function ("(id) name" defines a compressed
    name, "(id)" refers to one; fl, fi, fe, cfi and cfl share one table, fn
    and cfn another); a cost line is "position cost"; the cost line right
    after calls= is the call's inclusive cost, not self cost. Returns
    ({(object basename, function): Ir}, total)."""
    names = {"ob": {}, "fl": {}, "fn": {}}
    kind = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl", "cfl": "fl", "fn": "fn",
            "cfn": "fn"}
    ob = fn = None
    skip_next = False
    cost = {}
    total = 0
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                if skip_next:
                    skip_next = False
                    continue
                parts = line.split()
                v = int(parts[1]) if len(parts) > 1 else 0
                key = (ob, fn)
                cost[key] = cost.get(key, 0) + v
                total += v
                continue
            m = re.match(r"^(ob|cob|fl|fi|fe|cfi|cfl|fn|cfn)=(?:\((\d+)\))?\s*(.*)$", line)
            if m:
                table = names[kind[m.group(1)]]
                name = m.group(3)
                if m.group(2) is not None:
                    if name:
                        table[m.group(2)] = name
                    else:
                        name = table.get(m.group(2), "?")
                if m.group(1) == "ob":
                    ob = os.path.basename(name)
                elif m.group(1) == "fn":
                    fn = name
                continue
            if line.startswith("calls="):
                skip_next = True
    return cost, total


def hot_lines(path_n, path_0, n_ops, min_per_op=0.5):
    """Source lines by Ir per operation: callgrind_annotate --auto=yes of the
    N-operation run minus the 0-operation run (so the fill and teardown of
    fp_mixed1's live set cancel out, as in the totals), divided by N; lines
    at >= min_per_op. [(Ir per op, "file:line", source)]."""
    zero = {where: ir for ir, where, _ in R.annotate_lines(path_0, 1, 0)}
    out = [((ir - zero.get(where, 0)) / n_ops, where, src) for ir, where, src in R.annotate_lines(path_n, 1, 0)
           if not where.startswith("bench/")]  # the workload's own lines are the same under every allocator
    return sorted([o for o in out if o[0] >= min_per_op], key=lambda o: -o[0])


def callgrind_pass(a, cfgs, failures):
    """[(workload, config, N, Ir(N), Ir(0), Ir/op, allocator Ir/op)], {(workload, config): [(fn, obj, Ir/op)]},
    {workload: glassheap's hottest lines}."""
    bench = os.path.join(a.build, "bench", "gh-bench-alloc")
    want = ("glibc", "jemalloc", "tcmalloc", "mimalloc", "glassheap")
    if a.mode == "smoke":
        want = ("jemalloc", "glassheap")
    cg_cfgs = [c for c in cfgs if c[0] in want]
    results, funcs, lines = [], {}, {}
    tmp = tempfile.mkdtemp(prefix="gh-bench-footprint-")
    try:
        for w, n_ops in (("tight64", a.cg_iters), ("fp_mixed1", a.cg_ops)):
            for cfg in cg_cfgs:
                runs = {}
                for ops in (n_ops, 0):
                    outf = os.path.join(tmp, "cg.%s.%s.%d" % (w, cfg[0], ops))
                    r = R.run_child(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + outf, bench, w,
                                     str(ops)], child_env(cfg, a), max(a.timeout, 600))
                    if r["problem"] or not os.path.exists(outf):
                        failures.append("callgrind %s %d under %s: %s\n%s" % (
                            w, ops, cfg[0], r["problem"] or "no output", r["stderr"].strip()[-1500:]))
                        break
                    runs[ops] = (callgrind_self(outf), outf)
                if len(runs) != 2:
                    continue
                (cn, tn), (c0, t0) = runs[n_ops][0], runs[0][0]
                exe = os.path.basename(bench)
                alloc_n = sum(v for (o, _), v in cn.items() if o != exe)
                alloc_0 = sum(v for (o, _), v in c0.items() if o != exe)
                per_op, alloc_op = (tn - t0) / n_ops, (alloc_n - alloc_0) / n_ops
                results.append((w, cfg[0], n_ops, tn, t0, per_op, alloc_op))
                log("callgrind %-9s %-10s %.1f Ir per operation, %.1f in the allocator" % (w, cfg[0], per_op,
                                                                                           alloc_op))
                if cfg[0] in ("glassheap", "jemalloc", "glibc"):
                    diff = [(fn, ob, (v - c0.get((ob, fn), 0)) / n_ops) for (ob, fn), v in cn.items()]
                    funcs[(w, cfg[0])] = sorted([d for d in diff if d[2] >= 0.05], key=lambda d: -d[2])
                if cfg[0] == "glassheap" and shutil.which("callgrind_annotate"):
                    lines[w] = hot_lines(runs[n_ops][1], runs[0][1], n_ops)
                for ops in runs:
                    os.unlink(runs[ops][1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results, funcs, lines


# ---- 4. The pause -------------------------------------------------------------------------

def pause_run(a, failures):
    """{objects: {"pause_per_100k_ms": [..], "pause_ms": [..], "cpu_ms": [..], "lsan_per_100k_ms": [..]}}."""
    gh = os.path.join(a.build, "bench", "gh-bench-gc")
    lsan = os.path.join(a.build, "bench", "gh-bench-gc-lsan")
    out = {}
    for n in a.pause_sizes:
        log("pause: %d objects, %d passes" % (n, a.pause_runs))
        env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUB)}
        r = R.run_child([gh, str(n), str(a.pause_runs)], env, 1800)
        rows = re.findall(r"run \d+ pause_ms ([\d.]+) mark_ms [\d.]+ total_ms [\d.]+ scanned_mb [\d.]+ objects \d+ "
                          r"lost \d+ cpu_ms ([\d.]+)", r["stdout"])
        if r["problem"] or not rows:
            failures.append("gh-bench-gc %d: %s\n%s" % (n, r["problem"] or "no run lines", r["stderr"][-1000:]))
            continue
        f = out.setdefault(n, {})
        f["pause_ms"] = [float(p) for p, _ in rows]
        f["cpu_ms"] = [float(c) for _, c in rows]
        f["pause_per_100k_ms"] = [p / (n / 100000) for p in f["pause_ms"]]
        if os.path.exists(lsan) and a.mode != "smoke":
            lr = R.run_child([lsan, str(n), "1"], dict(env, LSAN_OPTIONS="max_leaks=1:exitcode=0"), 1800)
            lrows = re.findall(r"run \d+ pause_ms [\d.]+ mark_ms [\d.]+ total_ms ([\d.]+)", lr["stdout"])
            if lr["problem"] or not lrows:
                failures.append("gh-bench-gc-lsan %d: %s\n%s" % (n, lr["problem"] or "no run lines",
                                                                 lr["stderr"][-1000:]))
            else:
                f["lsan_per_100k_ms"] = [float(x) / (n / 100000) for x in lrows]
    return out


def pause_from_csv(path):
    """The same figures from section 3's introspection.csv (medians only)."""
    out = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["kind"] != "gc":
                continue
            n = int(r["objects"])
            med = float(r["median"])
            if r["metric"] == "pause_ms":
                out.setdefault(n, {})["pause_ms"] = [med]
            elif r["metric"] == "pause_per_100k_ms":
                out.setdefault(n, {})["pause_per_100k_ms"] = [med]
            elif r["metric"] == "lsan_ms":
                out.setdefault(n, {})["lsan_per_100k_ms"] = [med / (n / 100000)]
    return {n: f for n, f in out.items() if n >= 100000 and "pause_per_100k_ms" in f}


# ---- Report --------------------------------------------------------------------------------

def summarize(rows):
    """{workload: {config: {metric: (median, min, max)}}} over successful runs;
    metric "cpu_pair" is the ratio to jemalloc's CPU time within each round
    (the runs next to each other), so drift between rounds cancels out."""
    groups, je = {}, {}
    for r in rows:
        if r["problem"]:
            continue
        g = groups.setdefault(r["workload"], {}).setdefault(r["config"], {})
        for m in ("wall_s", "cpu_s", "peak_kb"):
            g.setdefault(m, []).append(float(r[m]))
        if r["config"] == "jemalloc":
            je[(r["workload"], r["round"])] = float(r["cpu_s"])
    for r in rows:
        ref = je.get((r["workload"], r["round"]))
        if not r["problem"] and ref:
            groups[r["workload"]][r["config"]].setdefault("cpu_pair", []).append(float(r["cpu_s"]) / ref)
    return {w: {c: {m: (statistics.median(v), min(v), max(v)) for m, v in ms.items()} for c, ms in cs.items()}
            for w, cs in groups.items()}


def ratio(s, name, metric, which=0, ref="jemalloc"):
    if name not in s or ref not in s or not s[ref][metric][which]:
        return None
    return s[name][metric][which] / s[ref][metric][which]


def fx(x):
    return "—" if x is None else "%.2fx" % x


def mib(kb):
    return "%.1f MiB" % (kb / 1024)


def targets(a, cfgs, summ, cg, sos, pause):
    """The targets table: [(target, {config: cell}, verdict, before)], and the short rows for the harness."""
    names = [c[0] for c in cfgs]
    rows = []

    def ratio_row(text, w, metric, limit, aim, key, show_abs):
        s = summ.get(w, {})
        cells = {}
        for n in names:
            if n not in s:
                continue
            med = s[n][metric][0]
            absval = mib(med) if metric == "peak_kb" else "%.2f s" % med
            if n == "jemalloc":
                cells[n] = absval
            else:
                cells[n] = "%s%s" % (fx(ratio(s, n, metric)), " (%s)" % absval if show_abs else "")
                if n.startswith("glassheap") and metric == "cpu_s":
                    cells[n] += " (per round %s, fastest %s)" % (
                        fx(s[n]["cpu_pair"][0] if "cpu_pair" in s[n] else None), fx(ratio(s, n, metric, which=1)))
        r = ratio(s, "glassheap", metric)
        if limit is None:
            v = "— (no target)"
        elif r is None:
            v = "n/a"
        else:
            v = ("met" if r <= limit else "**not met**") + (
                "" if aim is None or r > limit else ", aim met" if r <= aim else ", aim (%.2fx) not yet" % aim)
            if metric == "cpu_s":
                # Noise only adds time: when the other two estimates fall on
                # the other side of the limit, this run cannot settle it.
                others = [ratio(s, "glassheap", metric, which=1), s["glassheap"].get("cpu_pair", (None,))[0]]
                if any(o is not None and (o <= limit) != (r <= limit) for o in others):
                    v += " (unsettled: the per-round or fastest-run ratio says otherwise)"
        rows.append((text, cells, v, ISSUE_BEFORE.get(key, "")))

    for w in MIXED:
        ratio_row("%s: peak RSS ≤ %.2fx jemalloc (aim %.2fx)" % (w, RSS_MIXED_MAX, RSS_AIM), w, "peak_kb",
                  RSS_MIXED_MAX, RSS_AIM, "rss " + w, True)
    ratio_row("fp_cxxmap (C++ small-node heap): peak RSS ≤ %.2fx jemalloc (aim %.2fx)" % (RSS_SMALL_MAX, RSS_AIM),
              "fp_cxxmap", "peak_kb", RSS_SMALL_MAX, RSS_AIM, "rss fp_cxxmap", True)
    ratio_row("fp_python (PYTHONMALLOC=malloc): peak RSS, judged against the small-node limit %.2fx (the issue "
              "names no limit of its own)" % RSS_SMALL_MAX, "fp_python", "peak_kb", RSS_SMALL_MAX, RSS_AIM,
              "rss fp_python", True)
    for w in MIXED:
        ratio_row("%s: CPU (user+sys) ≤ %.2fx jemalloc (aim %.2fx)" % (w, CPU_MIXED_MAX, CPU_AIM), w, "cpu_s",
                  CPU_MIXED_MAX, CPU_AIM, "cpu " + w, False)
    for w in ("fp_cxxmap", "fp_python"):
        ratio_row("%s: CPU (user+sys) vs jemalloc" % w, w, "cpu_s", None, None, "cpu " + w, False)

    # Instructions per pair.
    ir = {(c[0], c[1]): c for c in cg}
    cells = {}
    for n in names:
        t = ir.get(("tight64", n))
        mx = ir.get(("fp_mixed1", n))
        if t or mx:
            cells[n] = "%s%s" % ("%.0f" % t[5] if t else "—",
                                 "; %.0f in a replacement" % mx[6] if mx else "")
    g = ir.get(("tight64", "glassheap"))
    rows.append(("instructions per malloc/free pair ≤ %d (callgrind, tight64; then the allocator's instructions per "
                 "fp_mixed1 replacement, a malloc/free pair in a 100k-object heap)" % IR_PAIR_MAX, cells,
                 "n/a" if not g else "met" if g[5] <= IR_PAIR_MAX else "**not met**", ISSUE_BEFORE["ir"]))
    rows.append(("... without losing exactness of any counter", {"glassheap": "not a benchmark figure: the exact-"
                 "counter tests (`test_core_direct`, `threads_exact`, `rel_storm_core`, `rel_storm`)"},
                 "see ctest", ""))

    # Start-up.
    s = summ.get("fp_true", {})
    je = s.get("jemalloc")
    cells = {}
    for n in names:
        if n not in s:
            continue
        rss = s[n]["peak_kb"][0]
        cells[n] = mib(rss) if n == "jemalloc" or not je else "%+.1f MiB (%s)" % ((rss - je["peak_kb"][0]) / 1024,
                                                                                  mib(rss))
    g = s.get("glassheap")
    rows.append(("start-up: preloaded /bin/true peak RSS within 1 MiB of jemalloc's (median of %d starts)"
                 % a.true_runs, cells,
                 "n/a" if not g or not je else "met" if g["peak_kb"][0] - je["peak_kb"][0] <= START_RSS_DELTA_MAX_KB
                 else "**not met**", ISSUE_BEFORE["start rss"]))
    cells = {}
    for n in names:
        if n not in s:
            continue
        w_ms, c_ms = s[n]["wall_s"][0] * 1000, s[n]["cpu_s"][0] * 1000
        cells[n] = ("%.2f ms wall, %.2f ms CPU" % (w_ms, c_ms) if n == "jemalloc" else
                    "%s wall, %s CPU" % (fx(ratio(s, n, "wall_s")), fx(ratio(s, n, "cpu_s"))))
    r = ratio(s, "glassheap", "wall_s")
    rows.append(("start-up: /bin/true within %.0fx jemalloc's time (wall, median of %d starts; CPU beside)"
                 % (START_TIME_MAX, a.true_runs), cells,
                 "n/a" if r is None else "met" if r <= START_TIME_MAX else "**not met**", ISSUE_BEFORE["start time"]))
    cells = {}
    base = set(sos.get("glibc", []))
    for n in names:
        if n in sos:
            extra = [p for p in sos[n] if p not in base]
            cells[n] = "%d (+%d)" % (len(sos[n]), len(extra))
    g = sos.get("glassheap")
    bad = [os.path.basename(p) for p in (g or []) if p not in base and not os.path.basename(p).startswith(CORE_ALLOWED)]
    rows.append(("start-up: the core library brings only libc and the unwinder (shared objects in a preloaded "
                 "/bin/cat; in brackets, beyond the program's own)", cells,
                 "n/a" if g is None else "met" if not bad else "**not met** (%d more: %s)" % (len(bad), ", ".join(bad)),
                 ISSUE_BEFORE["objects"]))

    # The pause.
    cells = {}
    p = pause.get(PAUSE_AT) if pause else None
    if pause:
        big = max(pause)
        f = pause[big]
        cells["glassheap"] = "%.1f ms at %s%s" % (
            statistics.median(f["pause_per_100k_ms"]), "{:,}".format(big),
            " (CPU time of the whole pass: %.1f ms)" % (statistics.median(f["cpu_ms"]) / (big / 100000))
            if f.get("cpu_ms") else "")
        if f.get("lsan_per_100k_ms"):
            cells["LSan"] = "%.1f ms (its whole check)" % statistics.median(f["lsan_per_100k_ms"])
    rows.append(("world-stop pause ≤ %.0f ms per 100k objects at 10M objects" % PAUSE_PER_100K_MAX_MS, cells,
                 "n/a (not measured at 10M)" if not p else "met" if statistics.median(p["pause_per_100k_ms"]) <=
                 PAUSE_PER_100K_MAX_MS else "**not met**", ISSUE_BEFORE["pause"]))
    return rows


def report(a, info, notes, cfgs, rows, summ, floor, sos, cg, funcs, lines, pause, pause_src, failures, t_rows):
    md, add = R.report_start("Footprint (issue 15)", a.mode == "smoke" and "Smoke run (tiny counts, one round)")
    names = [c[0] for c in cfgs]
    add("Command: `%s` (mode %s: ops scale %g, %d rounds, %d /bin/true starts per configuration)." % (
        shlex.join(["python3", "bench/footprint.py"] + a.argv), a.mode, a.scale, a.rounds, a.true_runs))
    add("")
    add("## Targets")
    add("")
    cols = [n for n in names if n != "glibc"] + (["glibc"] if "glibc" in names else [])
    extra_cols = ["LSan"] if any("LSan" in c for _, c, _, _ in t_rows) else []
    add("| target | " + " | ".join(cols + extra_cols) + " | verdict (glassheap, default) | issue's figure before |")
    add("|---" * (len(cols) + len(extra_cols) + 3) + "|")
    for text, cells, v, before in t_rows:
        add("| %s | %s | %s | %s |" % (text, " | ".join(cells.get(n, "") for n in cols + extra_cols), v, before))
    add("")
    add("Ratios are of medians to jemalloc from the same interleaved rounds (absolute figures in brackets, "
        "jemalloc's column absolute); the verdict is glassheap's default configuration. For CPU the ratio of the "
        "fastest runs is beside the medians: noise only adds time, so when the two disagree the run cannot settle "
        "the target. Instruction counts do not depend on the machine's load.")
    add("")
    add("## Machine")
    add("")
    for k in ("nproc", "cpu", "kernel", "compiler", "packages", "glassheap"):
        add("- %s: %s" % (k, info[k]))
    lds = [float(r["load1"]) for r in rows if r.get("load1") != ""]
    add("- load average at start: %s; at end: %.2f %.2f %.2f; 1-minute load at each run: median %.1f, %.1f–%.1f "
        "(per run in footprint.csv)" % ((info["loadavg"],) + os.getloadavg() + (
            (statistics.median(lds), min(lds), max(lds)) if lds else (0, 0, 0))))
    add("- configurations: %s; glassheap with its defaults (`GLASSHEAP_THP=auto`), and with "
        "`GLASSHEAP_THP=never`, `auto` and `always` set; every other allocator setting is removed from the children's environment"
        % ", ".join(names))
    for n in a.note + notes:
        add("- note: %s" % n)
    add("")
    add("## Workloads")
    add("")
    add("Median (min–max) of %d interleaved rounds (each round runs every configuration once). CPU is user+sys "
        "from wait4(), wall the driver's clock, both for the whole process; peak RSS is the process's own VmHWM. "
        "×je: ratio of medians to jemalloc; CPU ×je per round: median (min–max) of the ratios to jemalloc's run of "
        "the same round." % a.rounds)
    what = {
        "fp_mixed1": "gh-bench-alloc fp_mixed1: 1 thread, 100,000 live objects of 16..512 B (log-uniform), 5M "
                     "replacements (free a random live object, allocate a new one), first and last byte written",
        "fp_mixed2": "gh-bench-alloc fp_mixed2: the same totals on 2 threads (50,000 live each), ~10% of the evicted "
                     "objects handed to the other thread through a lock-free ring and freed there",
        "fp_cxxmap": "gh-bench-fp-cxx: std::map<std::string, std::vector<int>>, 300,000 live entries (keys of 4..48 "
                     "characters, 40% beyond the SSO buffer; 0..32 ints), 500,000 erase+insert",
        "fp_python": "/usr/bin/python3 bench/fp_python.py, PYTHONMALLOC=malloc: 2,000 json.dumps/json.loads "
                     "round-trips of 15-40 KB documents, the last 200 decoded documents kept alive",
    }
    for w in [w for w in a.workloads if w != "fp_true"]:
        s = summ.get(w, {})
        add("")
        add("### %s" % w)
        add("")
        add(what[w] + ".")
        add("")
        R.add_table(add, ("allocator", "CPU s", "CPU ×je", "CPU ×je per round", "wall s", "wall ×je", "peak RSS MiB",
                          "RSS ×je"), names, s, lambda n, m: (
                R.fmt_range(m["cpu_s"]), fx(ratio(s, n, "cpu_s")),
                "%.2fx (%.2f–%.2f)" % m["cpu_pair"] if "cpu_pair" in m else "—", R.fmt_range(m["wall_s"]),
                fx(ratio(s, n, "wall_s")), R.fmt_range(m["peak_kb"], 1 / 1024, 1), fx(ratio(s, n, "peak_kb"))))
    if "fp_true" in a.workloads:
        s = summ.get("fp_true", {})
        add("")
        add("### fp_true: start-up")
        add("")
        add("`gh-bench-spawn 1 /bin/true` %d times per configuration, interleaved. Peak RSS is wait4()'s ru_maxrss "
            "of /bin/true, which cannot be below the launcher's own peak (%s here: Linux carries the parent image's "
            "high-water mark over exec; the launcher is static and small for that reason). Wall: posix_spawn() to "
            "wait4(); CPU: user+sys. Median (min–max)." % (a.true_runs, "%d KiB" % floor if floor else "unknown"))
        add("")
        je = s.get("jemalloc")
        R.add_table(add, ("allocator", "peak RSS MiB", "Δ vs jemalloc", "wall ms", "wall ×je", "CPU ms", "CPU ×je",
                          "shared objects"), names, s, lambda n, m: (
                R.fmt_range(m["peak_kb"], 1 / 1024, 2),
                "%+.2f MiB" % ((m["peak_kb"][0] - je["peak_kb"][0]) / 1024) if je else "—",
                R.fmt_range(m["wall_s"], 1000, 2), fx(ratio(s, n, "wall_s")), R.fmt_range(m["cpu_s"], 1000, 2),
                fx(ratio(s, n, "cpu_s")), len(sos[n]) if n in sos else "—"))
        if sos:
            add("")
            add("Shared objects mapped into `/bin/cat /proc/self/maps` under each preload (vdso not counted); "
                "beyond the program's own (%s):" % ", ".join(os.path.basename(p) for p in sos.get("glibc", [])))
            add("")
            base = set(sos.get("glibc", []))
            seen = set()
            for n in names:
                if n not in sos:
                    continue
                extra = tuple(os.path.basename(p) for p in sos[n] if p not in base)
                if extra in seen and n.startswith("glassheap "):
                    add("- %s: the same as glassheap" % n)
                    continue
                seen.add(extra)
                add("- %s: %d — %s" % (n, len(extra), ", ".join(extra) or "none"))
            g = sos.get("glassheap")
            if g:
                bad = [os.path.basename(p) for p in g if p not in base and
                       not os.path.basename(p).startswith(CORE_ALLOWED)]
                add("")
                add("Allowed for the core library by the issue: libc and what the unwinder strictly needs; counted "
                    "as allowed here: libglassheap itself, libgcc_s (`_Unwind_Backtrace`), libunwind and its "
                    "liblzma. Loaded by glassheap beyond that: %s." % (", ".join(bad) or "none"))
    R.add_heading(add, "Instructions (callgrind)")
    if not cg:
        add(R.not_run(notes, "callgrind", "; "))
    else:
        add("(Ir(N) − Ir(0)) / N, so start-up, the fill of the live set and teardown cancel out: tight64 is a "
            "`malloc(64)`/`free` loop (N = %d; the loop itself is ~10 Ir), fp_mixed1 one replacement at 100,000 "
            "live objects (N = %d): the workload picks a slot, checks and frees the old object, allocates and "
            "writes the new one. \"allocator\": self cost in every object but the workload's executable "
            "(the allocator, its wrappers and what it calls in libc), i.e. one malloc/free pair in a real heap; "
            "\"workload\": the rest. Under valgrind threads run one at a time and the cage is smaller (counts do "
            "not depend on it)." % (a.cg_iters, a.cg_ops))
        add("")
        add("| allocator | tight64 Ir/pair | ×je | fp_mixed1 Ir/replacement | allocator | workload | allocator ×je |")
        add("|---|---|---|---|---|---|---|")
        ir = {(c[0], c[1]): c for c in cg}
        for n in names:
            t, m = ir.get(("tight64", n)), ir.get(("fp_mixed1", n))
            if not t and not m:
                continue
            tj, mj = ir.get(("tight64", "jemalloc")), ir.get(("fp_mixed1", "jemalloc"))
            add("| %s | %s | %s | %s | %s | %s | %s |" % (
                n, "%.1f" % t[5] if t else "—", fx(t[5] / tj[5]) if t and tj else "—",
                "%.1f" % m[5] if m else "—", "%.1f" % m[6] if m else "—", "%.1f" % (m[5] - m[6]) if m else "—",
                fx(m[6] / mj[6]) if m and mj else "—"))
        for w in ("tight64", "fp_mixed1"):
            for n in ("glassheap", "jemalloc", "glibc"):
                fl = funcs.get((w, n))
                if not fl:
                    continue
                add("")
                add("### %s: %s, self Ir per %s by function" % (w, n, "pair" if w == "tight64" else "replacement"))
                add("")
                add("Self cost at N minus at 0, divided by N; functions ≥ 0.05 Ir per operation%s." % (
                    " (the fast paths are inlined from `alloc/internal.h` into the exported `malloc` and `free`)"
                    if n == "glassheap" else ""))
                add("")
                add("| Ir/op | function | object |")
                add("|---|---|---|")
                for fn, ob, v in fl[:25]:
                    add("| %.1f | `%s` | %s |" % (v, fn, ob))
                add("| %.1f | (sum of all functions ≥ 0.05, listed or not) | |" % sum(v for _, _, v in fl))
            if lines.get(w):
                add("")
                add("### %s: glassheap's hottest source lines" % w)
                add("")
                add("`callgrind_annotate --auto=yes`, the N-operation run minus the 0-operation run, per operation: "
                    "lines at ≥ 0.5 Ir per operation, the workload's own (bench/) left out; a header's line counts "
                    "where it was inlined.")
                add("")
                add("| Ir/op | where | source |")
                add("|---|---|---|")
                for v, where, src in lines[w][:25]:
                    add("| %.1f | %s | `%s` |" % (v, where, src.replace("|", "\\|").replace("`", "'")))
    add("")
    add("## World-stop pause")
    add("")
    if not pause:
        add("(not run)")
    else:
        add("glassheap's reachability pass (`gh__mark_run`, the engine of `POST /debug/memory/gc`) over gh-bench-gc's "
            "heap (N objects of 16..256 B, two pointers each; bench/gc_bench.c): the time the threads are stopped, "
            "per 100,000 objects, median (min–max) of the passes; LeakSanitizer's whole check on the same heap "
            "beside it (stop-the-world throughout). Pass CPU: the CPU time of the thread that runs the whole pass "
            "(gh-bench-gc's `cpu_ms`), which includes the preparation before the threads stop but not the time "
            "other processes held the CPU, which a pause on a busy machine does. %s" % pause_src)
        add("")
        add("| live objects | pause ms | pause per 100k ms | pass CPU ms | LSan check per 100k ms |")
        add("|---|---|---|---|---|")
        for n in sorted(pause):
            f = pause[n]

            def rng(k, f=f):
                v = f.get(k)
                if not v:
                    return "—"
                return "%.1f" % v[0] if len(v) == 1 else "%.1f (%.1f–%.1f)" % (statistics.median(v), min(v), max(v))
            add("| %s | %s | %s | %s | %s |" % ("{:,}".format(n), rng("pause_ms"), rng("pause_per_100k_ms"),
                                                rng("cpu_ms"), rng("lsan_per_100k_ms")))
    md.extend(R.failures_md(failures))
    add("")
    return "\n".join(md)


def write_csv(path, rows, fields):
    with open(path, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        wr.writeheader()
        for r in rows:
            wr.writerow({k: ("%.6f" % v if isinstance(v, float) else v) for k, v in r.items()})


RUN_FIELDS = ("argv", "mode", "scale", "rounds", "true_runs", "cg_iters", "cg_ops", "workloads", "note")


def num(x):
    return R.num(x, x)


read_csv = R.read_csv


def report_only(a):
    """Rewrites footprint.md from the files of a finished run (e.g. after a change to the report's layout)."""
    with open(os.path.join(a.out, "footprint.json")) as f:
        st = json.load(f)["run"]
    for k in RUN_FIELDS:
        setattr(a, k, st[k])
    rows = [{k: (int(v) if k == "round" else v if k in ("workload", "config", "problem") else num(v))
             for k, v in r.items()} for r in read_csv(os.path.join(a.out, "footprint.csv"))]
    cg = [(r["workload"], r["config"], int(r["ops"]), int(r["ir_n"]), int(r["ir_0"]), float(r["ir_per_op"]),
           float(r["allocator_ir_per_op"])) for r in read_csv(os.path.join(a.out, "callgrind.csv"))]
    funcs, lines, pause = {}, {}, {}
    for r in read_csv(os.path.join(a.out, "functions.csv")):
        funcs.setdefault((r["workload"], r["config"]), []).append((r["function"], r["object"], float(r["ir_per_op"])))
    for r in read_csv(os.path.join(a.out, "lines.csv")):
        lines.setdefault(r["workload"], []).append((float(r["ir_per_op"]), r["where"], r["source"]))
    sos = {r["config"]: r["objects"].split() for r in read_csv(os.path.join(a.out, "shared_objects.csv"))}
    for r in read_csv(os.path.join(a.out, "pause.csv")):
        # Median, min and max stand for the passes: the same three figures come out.
        v = [float(r["median"])] if r["runs"] == "1" else [float(r["min"]), float(r["median"]), float(r["max"])]
        pause.setdefault(int(r["objects"]), {})[r["metric"]] = v
    cfgs = [(n, None, {}) for n in st["configs"]]
    write_report(a, st["info"], st["notes"], cfgs, rows, st["floor"], sos, cg, funcs, lines, pause, st["pause_src"],
                 st["failures"])
    log("rewrote %s/footprint.md" % a.out)
    return 0


def write_report(a, info, notes, cfgs, rows, floor, sos, cg, funcs, lines, pause, pause_src, failures):
    summ = summarize(rows)
    t_rows = targets(a, cfgs, summ, cg, sos, pause)
    md = report(a, info, notes, cfgs, rows, summ, floor, sos, cg, funcs, lines, pause, pause_src, failures, t_rows)
    with open(os.path.join(a.out, "footprint.md"), "w") as f:
        f.write(md)
    run = {k: getattr(a, k) for k in RUN_FIELDS}
    run.update({"configs": [c[0] for c in cfgs], "info": info, "notes": notes, "floor": floor,
                "pause_src": pause_src, "failures": failures})
    with open(os.path.join(a.out, "footprint.json"), "w") as f:
        json.dump({"mode": a.mode, "targets": [{"target": t, "glassheap": c.get("glassheap", ""), "verdict": v,
                                                "cells": c} for t, c, v, _ in t_rows], "run": run}, f, indent=1)
    return md


def main():
    a = parse_args()
    if a.report_only:
        return report_only(a)
    need = [os.path.join(a.build, "bench", p) for p in ("gh-bench-alloc", "gh-bench-fp-cxx", "gh-bench-spawn")]
    need.append(os.path.join(a.build, "libglassheap.so"))
    missing = [p for p in need if not os.path.exists(p)]
    if missing:
        log("missing (build them: cmake --build %s): %s" % (a.build, ", ".join(missing)))
        return 2
    cfgs, notes = configs(a)
    info = R.machine_info(argparse.Namespace(glassheap=os.path.join(a.build, "libglassheap.so")))
    os.makedirs(a.out, exist_ok=True)
    failures, rows = [], []
    if "fp_python" in a.workloads and not os.path.exists(PYTHON):
        notes.append("fp_python skipped: %s not found" % PYTHON)
        a.workloads.remove("fp_python")
    timed_runs(a, cfgs, rows, failures)
    floor, sos = None, {}
    if "fp_true" in a.workloads:
        floor = true_runs(a, cfgs, rows, failures)
        sos = shared_objects(a, cfgs, failures)
    cg, funcs, lines = [], {}, {}
    why = R.callgrind_skipped(a, "callgrind")
    if why:
        notes.append(why)
    else:
        cg, funcs, lines = callgrind_pass(a, cfgs, failures)
    pause, pause_src = {}, ""
    if a.pause_csv and os.path.exists(a.pause_csv):
        pause = pause_from_csv(a.pause_csv)
        pause_src = ("From section 3 of the same harness run (`%s`, medians of its passes; its LSan figure is one "
                     "check)." % os.path.relpath(a.pause_csv, a.out))
    elif not a.no_pause:
        if os.path.exists(os.path.join(a.build, "bench", "gh-bench-gc")):
            pause = pause_run(a, failures)
            pause_src = "Measured here: `gh-bench-gc N %d`, LSan `gh-bench-gc-lsan N 1`." % a.pause_runs
        else:
            notes.append("pause skipped: %s/bench/gh-bench-gc not built" % a.build)
    md = write_report(a, info, notes, cfgs, rows, floor, sos, cg, funcs, lines, pause, pause_src, failures)
    write_csv(os.path.join(a.out, "footprint.csv"), rows,
              ["workload", "config", "round", "cpu_s", "user_s", "sys_s", "wall_s", "peak_kb", "maxrss_kb", "inner_s",
               "load1", "exit", "problem"])
    write_csv(os.path.join(a.out, "callgrind.csv"),
              [{"workload": w, "config": n, "ops": ops, "ir_n": tn, "ir_0": t0, "ir_per_op": p,
                "allocator_ir_per_op": q} for w, n, ops, tn, t0, p, q in cg],
              ["workload", "config", "ops", "ir_n", "ir_0", "ir_per_op", "allocator_ir_per_op"])
    write_csv(os.path.join(a.out, "functions.csv"),
              [{"workload": w, "config": n, "function": fn, "object": ob, "ir_per_op": v}
               for (w, n), fl in funcs.items() for fn, ob, v in fl],
              ["workload", "config", "function", "object", "ir_per_op"])
    write_csv(os.path.join(a.out, "shared_objects.csv"),
              [{"config": n, "count": len(p), "objects": " ".join(p)} for n, p in sos.items()],
              ["config", "count", "objects"])
    write_csv(os.path.join(a.out, "pause.csv"),
              [{"objects": n, "metric": k, "median": statistics.median(v), "min": min(v), "max": max(v), "runs": len(v)}
               for n, f in sorted(pause.items()) for k, v in f.items() if v],
              ["objects", "metric", "median", "min", "max", "runs"])
    write_csv(os.path.join(a.out, "lines.csv"),
              [{"workload": w, "ir_per_op": v, "where": where, "source": src} for w, ls in lines.items()
               for v, where, src in ls],
              ["workload", "ir_per_op", "where", "source"])
    print(md)
    log("wrote %s/footprint.md" % a.out)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
