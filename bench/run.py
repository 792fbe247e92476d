#!/usr/bin/python3
"""run.py -- runs the gh-bench-alloc workloads under glibc, jemalloc,
tcmalloc_minimal, mimalloc and glassheap side by side and reports.

    python3 bench/run.py [--quick] [--runs N] [--out DIR] [--variants all]

Each round runs every allocator once (glibc, jemalloc, tcmalloc, mimalloc,
glassheap, then again), so that drift on a shared machine spreads over all
of them. --variants adds glassheap configurations to the round: tracing
every allocation with frame-pointer or DWARF unwinding, and sampled
tracing. For every run it records wall time, user+sys CPU time and peak RSS
(the workload's VmHWM; ru_maxrss from os.wait4 is kept too). Then callgrind
counts instructions of the tight 64-byte loop at N iterations and at 0, and
reports (Ir(N) - Ir(0)) / N per malloc/free pair, with a per-function
breakdown; --callgrind-workloads does the same per operation for other
workloads.

Writes report.md, results.csv and callgrind.csv into the output directory
(default bench/results/<YYYY-MM-DD>/) and prints the report. Callgrind's
own files go to a temporary directory that is removed at the end.

Exit status: 1 if any workload run exited non-zero, was killed or timed
out (so the ctest smoke test catches crashes), 0 otherwise. Timing never
fails a run. A missing peer library or valgrind is skipped with a note.

Python 3 standard library only.
"""
import argparse
import csv
import datetime
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LIBDIR = "/usr/lib/x86_64-linux-gnu"

WORKLOADS = ["mixed1", "mixed2", "tight64", "larson", "prodcons"]
MIXED = ["mixed1", "mixed2"]
# Issue 15's small-object variants (bench/footprint.py runs them): accepted by
# --workloads and --callgrind-workloads, not run by default.
FP_WORKLOADS = ["fp_mixed1", "fp_mixed2"]

# glassheap configurations (--variants): name in the report, extra environment.
TRACE_FRAMES = "25"
SAMPLE_BYTES = "524288"
VARIANTS = {
    "tags": ("glassheap", {}),
    "fp": ("glassheap+trace-fp", {"GLASSHEAP_TRACE": TRACE_FRAMES, "GLASSHEAP_UNWIND": "fp"}),
    "dwarf": ("glassheap+trace-dwarf", {"GLASSHEAP_TRACE": TRACE_FRAMES, "GLASSHEAP_UNWIND": "dwarf"}),
    "sampled": ("glassheap+sampled", {"GLASSHEAP_TRACE": TRACE_FRAMES, "GLASSHEAP_UNWIND": "fp",
                                      "GLASSHEAP_TRACE_SAMPLE": SAMPLE_BYTES}),
}
VARIANT_TEXT = {
    "glassheap": "types + callsites + counters (always on), no tracing",
    "glassheap+trace-fp": "tracing every allocation, %s frames, frame-pointer unwinding" % TRACE_FRAMES,
    "glassheap+trace-dwarf": "tracing every allocation, %s frames, DWARF unwinding (libunwind)" % TRACE_FRAMES,
    "glassheap+sampled": "sampled tracing, one sample per %s KiB allocated on average, %s frames, frame pointers"
                         % (int(SAMPLE_BYTES) // 1024, TRACE_FRAMES),
}
PACKAGES = ["libc6", "libjemalloc2", "libtcmalloc-minimal4", "libmimalloc2.0", "valgrind"]

# The targets of issue 2 (glassheap with types + callsites + counters on).
WALL_VS_JEMALLOC_MAX = 1.30
RSS_VS_JEMALLOC_MAX = 1.25

# (ops scale, live objects of the workloads or None for their defaults,
#  callgrind iterations (tight64), callgrind operations (other workloads),
#  runs, per-run timeout in seconds)
MODES = {
    "full": (1.0, None, 1_000_000, 200_000, 5, 600),
    "quick": (0.25, None, 200_000, 50_000, 3, 300),
    "smoke": (0.002, 10_000, 20_000, 2_000, 3, 60),
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="3 runs, 1/4 of the default operation counts, 200k callgrind iterations")
    ap.add_argument("--smoke", action="store_true",
                    help="with --quick: tiny counts, for the ctest smoke test (figures are meaningless)")
    ap.add_argument("--runs", type=int, help="runs per workload and allocator (default 5; --quick 3)")
    ap.add_argument("--scale", type=float, help="multiplier on the default operation counts (GH_BENCH_SCALE)")
    ap.add_argument("--callgrind-iters", type=int, help="tight64 iterations under callgrind (default 1000000)")
    ap.add_argument("--callgrind-ops", type=int,
                    help="operations of the other workloads under callgrind (default 200000)")
    ap.add_argument("--callgrind-workloads", default="tight64",
                    help="comma-separated workloads to count under callgrind (default tight64; 'all')")
    ap.add_argument("--no-callgrind", action="store_true", help="skip the callgrind pass")
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated subset of %s (also %s)" % (WORKLOADS, FP_WORKLOADS))
    ap.add_argument("--variants", default="tags",
                    help="glassheap configurations, comma-separated subset of %s, or 'all' (default tags)"
                         % ",".join(VARIANTS))
    ap.add_argument("--out", help="output directory (default bench/results/<YYYY-MM-DD>/)")
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "bench", "gh-bench-alloc"),
                    help="the gh-bench-alloc executable (default build/bench/gh-bench-alloc)")
    ap.add_argument("--glassheap", default=os.path.join(ROOT, "build", "libglassheap.so"),
                    help="libglassheap.so to preload (default build/libglassheap.so)")
    ap.add_argument("--note", action="append", default=[],
                    help="a line for the report's machine section (e.g. which commit the library was built from)")
    a = ap.parse_args()
    mode = "smoke" if a.smoke else "quick" if a.quick else "full"
    scale, a.live, cg_iters, cg_ops, runs, timeout = MODES[mode]
    a.mode = mode
    a.scale = a.scale if a.scale is not None else scale
    a.callgrind_iters = a.callgrind_iters if a.callgrind_iters is not None else cg_iters
    a.callgrind_ops = a.callgrind_ops if a.callgrind_ops is not None else cg_ops
    a.runs = a.runs if a.runs is not None else runs
    a.timeout = timeout
    a.workloads = [w for w in a.workloads.split(",") if w]
    a.callgrind_workloads = (WORKLOADS if a.callgrind_workloads == "all" else
                             [w for w in a.callgrind_workloads.split(",") if w])
    for w in a.workloads + a.callgrind_workloads:
        if w not in WORKLOADS + FP_WORKLOADS:
            ap.error("unknown workload %r" % w)
    a.variants = list(VARIANTS) if a.variants == "all" else [v for v in a.variants.split(",") if v]
    for v in a.variants:
        if v not in VARIANTS:
            ap.error("unknown glassheap variant %r (want %s)" % (v, ",".join(VARIANTS)))
    if a.runs < 1 or a.scale <= 0 or a.callgrind_iters < 1 or a.callgrind_ops < 1:
        ap.error("--runs, --scale, --callgrind-iters and --callgrind-ops must be positive")
    if a.out is None:
        a.out = os.path.join(HERE, "results", datetime.date.today().isoformat())
    return a


# ---- Allocators ---------------------------------------------------------------

# The peers, as (name, preload path or None, extra environment): glassheap is measured beside these.
PEERS = [
    ("glibc", None, {}),
    ("jemalloc", os.path.join(LIBDIR, "libjemalloc.so.2"), {}),
    ("tcmalloc", os.path.join(LIBDIR, "libtcmalloc_minimal.so.4"), {}),
    ("mimalloc", os.path.join(LIBDIR, "libmimalloc.so.2"), {}),
]


def allocators(args):
    """[(name, preload path or None, extra environment)] for the installed
    ones, and notes on the rest."""
    gh = os.path.abspath(args.glassheap)
    cands = PEERS + [(VARIANTS[v][0], gh, VARIANTS[v][1]) for v in args.variants]
    notes = []
    tuning = sorted(k for k in os.environ
                    if k.startswith(("GLASSHEAP_", "MALLOC_", "MIMALLOC_", "TCMALLOC_", "JE_MALLOC_CONF", "GLIBC_TUNABLES")))
    if tuning:
        notes.append("allocator settings in the environment, passed to every run: " +
                     ", ".join("%s=%s" % (k, os.environ[k]) for k in tuning))
    return installed(cands, notes), notes


def installed(cands, notes):
    """The configurations of cands whose preload library exists; a note in notes for each other one."""
    have = []
    for name, lib, extra in cands:
        if lib is not None and not os.path.exists(lib):
            notes.append("%s skipped: %s not found" % (name, lib))
            continue
        have.append((name, lib, extra))
    return have


CHILD_SCRUB = ("LD_PRELOAD", "GH_BENCH_LIVE", "GH_BENCH_LEAKCHECK")


def child_env(cfg, args, extra=None, drop=lambda k: k in CHILD_SCRUB):
    """The environment of a workload run under configuration cfg = (name, preload, env): this
    process's without the variables drop() names, then cfg's, the scale/timeout/live settings of args
    and extra (bench/footprint.py drops more: every allocator's settings)."""
    _, lib, cfg_env = cfg
    env = {k: v for k, v in os.environ.items() if not drop(k)}
    if lib:
        env["LD_PRELOAD"] = lib
    env.update(cfg_env)
    env["GH_BENCH_SCALE"] = repr(args.scale)
    env["GH_BENCH_TIMEOUT"] = str(args.timeout + 30)
    if args.live:
        env["GH_BENCH_LIVE"] = str(args.live)
    env.update(extra or {})
    return env


# ---- Running one child ---------------------------------------------------------

def run_child(cmd, env, timeout):
    """Runs cmd; returns a dict with wall/user/sys/maxrss, exit code and output.

    os.wait4 gives the rusage of exactly this child (ru_maxrss in KiB on
    Linux). A timer kills the child after timeout seconds."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        killed = []

        def kill(pid):
            killed.append(True)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        timer = threading.Timer(timeout, kill, [p.pid])
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    problem = None
    if killed:
        problem = "timed out after %ds" % timeout
    elif p.returncode < 0:
        problem = "killed by signal %s" % signal.Signals(-p.returncode).name
    elif p.returncode != 0:
        problem = "exit status %d" % p.returncode
    elif "cannot be preloaded" in stderr:
        problem = "LD_PRELOAD failed"
    return {
        "wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime, "cpu": ru.ru_utime + ru.ru_stime,
        "maxrss_kb": ru.ru_maxrss, "exit": p.returncode, "problem": problem,
        "stdout": stdout, "stderr": stderr,
    }


def field(stdout, name, conv):
    """A "name=value" field of the workload's output line, or None."""
    m = re.search(r"\b%s=(-?[0-9.]+)" % name, stdout)
    return conv(m.group(1)) if m else None


# ---- Machine info -----------------------------------------------------------------

def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def own_rss_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def machine_info(args):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    pkgs = sh(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n"] + PACKAGES)
    lib = os.path.realpath(args.glassheap)
    if lib.startswith(ROOT + os.sep):
        rev = sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]) or "unknown"
        if sh(["git", "-C", ROOT, "status", "--porcelain", "--", "alloc", "include", "CMakeLists.txt", "cmake"]):
            rev += " + uncommitted changes in alloc/include/cmake"
    else:
        rev = "built outside this checkout"
    cc = sh(["cc", "--version"]).split("\n")[0]
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "kernel": "%s %s" % (platform.system(), platform.release()),
        "packages": pkgs.replace("\n", ", ") if pkgs else "(dpkg-query failed)",
        "compiler": cc,
        "glassheap": "%s (%s)" % (rev, lib),
        "loadavg": "%.2f %.2f %.2f" % os.getloadavg(),
    }


# ---- Timed runs ----------------------------------------------------------------------

def timed_runs(args, allocs, failures):
    rows = []
    for w in args.workloads:
        for rnd in range(1, args.runs + 1):
            for cfg in allocs:
                name = cfg[0]
                r = run_child([args.bench, w], child_env(cfg, args), args.timeout)
                hwm = field(r["stdout"], "peak_rss_kb", int)
                row = {"workload": w, "allocator": name, "run": rnd, "wall_s": r["wall"], "user_s": r["user"],
                       "sys_s": r["sys"], "cpu_s": r["cpu"],
                       "peak_kb": hwm if hwm and hwm > 0 else r["maxrss_kb"],
                       "maxrss_kb": r["maxrss_kb"], "vmhwm_kb": hwm, "exit": r["exit"],
                       "inner_s": field(r["stdout"], "seconds", float), "problem": r["problem"] or ""}
                rows.append(row)
                status = "ok" if not r["problem"] else "FAILED (%s)" % r["problem"]
                log("  %-8s %-10s run %d: wall %.3fs cpu %.3fs rss %.1f MiB  %s" %
                    (w, name, rnd, r["wall"], r["cpu"], row["peak_kb"] / 1024, status))
                if r["problem"]:
                    failures.append("%s under %s, run %d: %s\n%s" %
                                    (w, name, rnd, r["problem"], r["stderr"].strip()[-2000:]))
    return rows


def summarize(rows, allocs):
    """{workload: {allocator: {metric: (median, min, max)}}} over successful runs."""
    out = {}
    for w in dict.fromkeys(r["workload"] for r in rows):
        out[w] = {}
        for name, _, _ in allocs:
            ok = [r for r in rows if r["workload"] == w and r["allocator"] == name and not r["problem"]]
            if not ok:
                continue
            out[w][name] = {}
            for m in ("wall_s", "cpu_s", "peak_kb"):
                v = [r[m] for r in ok]
                out[w][name][m] = (statistics.median(v), min(v), max(v))
    return out


# ---- Callgrind --------------------------------------------------------------------------

ANNOTATE_LINE = re.compile(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(\S.*)$")


def callgrind_total(path):
    total = None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("totals:") or (total is None and line.startswith("summary:")):
                total = int(line.split()[1])
    return total


def short_src(name):
    """/any/checkout/alloc/heap.c... -> alloc/heap.c...: the same names whichever tree was built."""
    return re.sub(r"^\S*/((?:alloc|bench|include|http)/)", r"\1", name)


def annotate(path):
    """callgrind_annotate's self-cost per function: (raw text, {function: Ir})."""
    text = sh(["callgrind_annotate", "--threshold=100", "--inclusive=no", path])
    funcs = {}
    in_table = False
    for line in text.split("\n"):
        if re.match(r"^Ir\s+file:function", line):
            in_table = True
            continue
        if not in_table or line.startswith("---"):
            continue
        m = ANNOTATE_LINE.match(line)
        if m:
            name = short_src(re.sub(r"\s+\[[^\]]*\]$", "", m.group(2)))
            funcs[name] = funcs.get(name, 0) + int(m.group(1).replace(",", ""))
        elif line.strip() == "" and funcs:
            break
    return text, funcs


def annotate_lines(path, iters, min_per_iter=0.5):
    """Source lines executed at least min_per_iter times per iteration, from
    callgrind_annotate --auto=yes: [(Ir per iteration, "file:line", text)].
    Lines this hot are the loop's; start-up cannot reach them."""
    text = sh(["callgrind_annotate", "--auto=yes", "--show-percs=no", "--threshold=100", path])
    out, src, line, fresh, skip_blank = [], None, None, False, False
    for ln in text.split("\n"):
        m = re.match(r"^-- Auto-annotated source: (.*)$", ln)
        if m:
            src, line, fresh = m.group(1).strip(), None, True
            continue
        m = re.match(r"^-- line (\d+) -+$", ln)
        if m:
            line = int(m.group(1))
            continue
        if ln.startswith("----"):
            line = None  # end of a section or of the whole listing
            continue
        if fresh and ln.startswith("Ir"):
            # A file listed from its first line has no "-- line" marker.
            line, fresh, skip_blank = 1, False, True
            continue
        if skip_blank and ln.strip() == "":
            skip_blank = False
            continue
        skip_blank = False
        if src is None or line is None or ln.startswith("@"):
            continue
        m = re.match(r"^\s*([\d,]+|\.)\s(.*)$", ln)
        if not m or m.group(2).lstrip().startswith("=> "):
            continue
        if m.group(1) != "." and int(m.group(1).replace(",", "")) >= min_per_iter * iters:
            out.append((int(m.group(1).replace(",", "")) / iters, "%s:%d" % (short_src(src), line), m.group(2).strip()))
        line += 1
    return sorted(out, key=lambda t: -t[0])


def callgrind_skipped(args, what):
    """Why what (the callgrind pass) cannot run: --no-callgrind or no valgrind; None when it can."""
    if args.no_callgrind:
        return what + " skipped (--no-callgrind)"
    if not shutil.which("valgrind"):
        return what + " skipped: valgrind not installed"
    return None


def callgrind_pass(args, allocs, tmp, failures):
    """Counts instructions under callgrind at N operations and at 0 for every
    workload of --callgrind-workloads. Returns ([(workload, allocator, N,
    Ir(N), Ir(0), Ir per operation)], {allocator: per-function rows of
    tight64}, annotate text)."""
    results, per_func, raw = [], {}, {"lines": []}
    # The smoke test only needs to know that the callgrind runs work.
    cg_allocs = [a for a in allocs if args.mode != "smoke" or a[0] in ("jemalloc", "glassheap")]
    for w in args.callgrind_workloads:
        n_ops = args.callgrind_iters if w == "tight64" else args.callgrind_ops
        for cfg in cg_allocs:
            name = cfg[0]
            irs = {}
            for ops in (n_ops, 0):
                outf = os.path.join(tmp, "callgrind.%s.%s.%d.out" % (w, name, ops))
                cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + outf, args.bench, w, str(ops)]
                r = run_child(cmd, child_env(cfg, args), max(args.timeout, 300))
                if r["problem"] or not os.path.exists(outf):
                    failures.append("%s %d under callgrind with %s: %s\n%s" %
                                    (w, ops, name, r["problem"] or "no output file", r["stderr"].strip()[-2000:]))
                    break
                irs[ops] = (callgrind_total(outf), outf)
            if len(irs) != 2 or None in (irs[n_ops][0], irs[0][0]):
                log("  callgrind %-8s %-22s failed" % (w, name))
                continue
            n_ir, z_ir = irs[n_ops][0], irs[0][0]
            per_op = (n_ir - z_ir) / n_ops
            results.append((w, name, n_ops, n_ir, z_ir, per_op))
            log("  callgrind %-8s %-22s Ir(%d)=%d Ir(0)=%d -> %.1f Ir per operation" %
                (w, name, n_ops, n_ir, z_ir, per_op))
            if w == "tight64" and name in ("glassheap", "jemalloc") and shutil.which("callgrind_annotate"):
                text_n, f_n = annotate(irs[n_ops][1])
                _, f_0 = annotate(irs[0][1])
                diff = [(fn, (ir - f_0.get(fn, 0)) / n_ops) for fn, ir in f_n.items()]
                diff = sorted([d for d in diff if d[1] >= 0.05], key=lambda d: -d[1])
                per_func[name] = diff
                raw[name] = text_n
                if name == "glassheap":
                    raw["lines"] = annotate_lines(irs[n_ops][1], n_ops)
            for ops in irs:
                os.unlink(irs[ops][1])
    return results, per_func, raw


def annotate_top(text, n):
    """The header and the first n function lines of callgrind_annotate's output."""
    lines = text.split("\n")
    keep, in_table, count = [], False, 0
    for line in lines:
        if line.startswith("Ir ") and "file:function" in line:
            in_table = True
        if in_table:
            if line.strip() == "" and count:
                break
            keep.append(line)
            if ANNOTATE_LINE.match(line) and not line.startswith("Ir"):
                count += 1
                if count >= n:
                    break
        elif line.startswith("Ir") or re.match(r"^[\d,]+\s+\(", line) or line.startswith("Events shown"):
            keep.append(line)
    return "\n".join(keep)


# ---- Report ----------------------------------------------------------------------------

def report_start(title, smoke=None):
    """A report's first lines, as (lines, their append): the dated title and, for a smoke run, the
    warning smoke (e.g. "Smoke run (tiny counts)") that its figures mean nothing."""
    md = ["# %s — %s" % (title, datetime.date.today().isoformat()), ""]
    if smoke:
        md += ["**%s: the figures below are not meaningful.**" % smoke, ""]
    return md, md.append


def add_heading(add, title, level=2):
    """A Markdown heading through add, with a blank line before and after."""
    add("")
    add("#" * level + " " + title)
    add("")


def not_run(notes, word, sep=": "):
    """ "(not run)", with the notes that mention word (e.g. "callgrind") when there are notes."""
    return "(not run%s)" % (sep + "; ".join(n for n in notes if word in n) if notes else "")


def add_table(add, head, names, summ, cells, ok=lambda m: True):
    """A Markdown table through add: the header head, then a row for each configuration in names: the
    cells(name, summ[name]) after the name, or "failed" where summ has none (or ok() rejects it)."""
    add("| " + " | ".join(head) + " |")
    add("|" + "---|" * len(head))
    for n in names:
        m = summ.get(n)
        if m is None or not ok(m):
            add("| %s | failed |%s" % (n, " |" * (len(head) - 2)))
            continue
        add("| " + " | ".join(str(c) for c in [n] + list(cells(n, m))) + " |")


def num(x, otherwise=None):
    """x as a float, or otherwise where it is none (a CSV cell that is empty or a word)."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return otherwise


def read_csv(path):
    """The rows of a CSV file as dicts ([] when it cannot be read)."""
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def fmt_range(t, scale=1.0, digits=3):
    med, lo, hi = (x * scale for x in t)
    f = "%%.%df" % digits
    return (f + " (" + f + "–" + f + ")") % (med, lo, hi)


def ratio(summ, name, metric, ref="jemalloc", which=0):
    """Ratio of medians (which=0) or of minimums (which=1) of name to ref."""
    if ref not in summ or name not in summ:
        return None
    return summ[name][metric][which] / summ[ref][metric][which]


def fmt_ratio(x):
    return "—" if x is None else "%.2fx" % x


def targets(summary):
    """[(target, ratio of medians, ratio of minimums, met by the medians or None)]."""
    out = []
    for w in MIXED:
        s = summary.get(w, {})
        for text, metric, ref, limit, strict in (
                ("%s: wall ≤ %.2fx jemalloc" % (w, WALL_VS_JEMALLOC_MAX), "wall_s", "jemalloc",
                 WALL_VS_JEMALLOC_MAX, False),
                ("%s: wall < glibc (1.00x)" % w, "wall_s", "glibc", 1.0, True),
                ("%s: peak RSS ≤ %.2fx jemalloc" % (w, RSS_VS_JEMALLOC_MAX), "peak_kb", "jemalloc",
                 RSS_VS_JEMALLOC_MAX, False)):
            med = ratio(s, "glassheap", metric, ref)
            low = ratio(s, "glassheap", metric, ref, which=1)
            met = None if med is None else med < limit if strict else med <= limit
            out.append((text, fmt_ratio(med), fmt_ratio(low), met))
    return out


def report(args, info, notes, allocs, rows, summary, cg, per_func, raw, failures):
    md, add = report_start("glassheap allocator benchmark", args.mode == "smoke" and "Smoke run (tiny counts)")
    add("Command: `%s` (mode %s: ops scale %g, %s live objects, %d runs, %s)" %
        (shlex.join(["python3", os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)] + sys.argv[1:]),
         args.mode, args.scale, args.live or "100000", args.runs,
         "no callgrind" if args.no_callgrind else "callgrind: tight64 %d iterations, other workloads %d operations"
         % (args.callgrind_iters, args.callgrind_ops)))
    add("")
    add("## Machine")
    add("")
    for k in ("nproc", "cpu", "kernel", "compiler", "packages", "glassheap"):
        add("- %s: %s" % (k, info[k]))
    add("- load average at start: %s; at end: %.2f %.2f %.2f" % ((info["loadavg"],) + os.getloadavg()))
    add("- allocators: %s (glassheap with types + callsites + counters on, which it always is)" %
        ", ".join(n for n, _, _ in allocs))
    for n, _, extra in allocs:
        if n in VARIANT_TEXT:
            add("- configuration %s: %s%s" % (n, VARIANT_TEXT[n], " (`%s`)" % " ".join("%s=%s" % kv for kv in sorted(extra.items()))
                                if extra else ""))
    for n in args.note + notes:
        add("- note: %s" % n)
    add("")
    add("## Targets (issue 2)")
    add("")
    add("| target | glassheap (medians) | met | ratio of minimums |")
    add("|---|---|---|---|")
    for t, med, low, met in targets(summary):
        add("| %s | %s | %s | %s |" % (t, med, "n/a" if met is None else "yes" if met else "**no**", low))
    add("")
    add("Met or not is judged on the ratio of medians. On a shared or virtualized machine, noise only adds "
        "time, so the ratio of the fastest runs is a check: when the two disagree about a target, the run "
        "cannot settle it.")
    add("")
    add("## Workloads")
    add("")
    add("Median (min–max) of %d runs; ratios are of medians, to jemalloc. Wall and CPU (user+sys) time cover "
        "the whole process (start-up, working-set fill, replacement loop, teardown), from the driver and "
        "wait4(). Peak RSS is the workload's own VmHWM: wait4()'s ru_maxrss (kept in results.csv) cannot go "
        "below the driver's own RSS (~%d MiB here), because Linux folds the forked, pre-exec image's high-water "
        "mark into it; for the mixed workloads the two agree." % (args.runs, own_rss_mib()))
    for w in args.workloads:
        s = summary.get(w, {})
        add("")
        add("### %s" % w)
        add("")
        add_table(add, ("allocator", "wall s", "wall ×je", "CPU s", "CPU ×je", "peak RSS MiB", "RSS ×je"),
                  [name for name, _, _ in allocs], s, lambda name, m: (
                      fmt_range(m["wall_s"]), fmt_ratio(ratio(s, name, "wall_s")),
                      fmt_range(m["cpu_s"]), fmt_ratio(ratio(s, name, "cpu_s")),
                      fmt_range(m["peak_kb"], 1 / 1024, 1), fmt_ratio(ratio(s, name, "peak_kb"))))
    add_heading(add, "Callgrind: instructions per operation")
    if not cg:
        add(not_run(notes, "callgrind"))
    else:
        tight = [c for c in cg if c[0] == "tight64"]
        ir_je = dict((c[1], c[5]) for c in tight).get("jemalloc")
        others = [w for w in dict.fromkeys(c[0] for c in cg) if w != "tight64"]
        if others:
            add("### Instructions per operation, every workload")
            add("")
            add("(Ir(N operations) − Ir(0)) / N: the fill, start-up and teardown cancel out; N = %d (tight64: %d). "
                "One operation is a replacement (mixed, larson: free one object, allocate one) or a message "
                "(prodcons: allocate, hand over, free or keep); the workload's own instructions (random numbers, "
                "tag writes and checks) are included and the same for every allocator. Under valgrind the "
                "threads run one at a time. Cells: Ir per operation (ratio to jemalloc)."
                % (args.callgrind_ops, args.callgrind_iters))
            add("")
            names = list(dict.fromkeys(c[1] for c in cg))
            add("| workload | " + " | ".join(names) + " |")
            add("|---" * (len(names) + 1) + "|")
            for w in dict.fromkeys(c[0] for c in cg):
                per = dict((c[1], c[5]) for c in cg if c[0] == w)
                je = per.get("jemalloc")
                add("| %s | " % w + " | ".join(
                    "%.0f (%s)" % (per[n], fmt_ratio(per[n] / je if je else None)) if n in per else "—"
                    for n in names) + " |")
            add("")
        if tight:
            add("### tight64: per malloc/free pair")
            add("")
            add("(Ir(%d iterations) − Ir(0 iterations)) / %d, so start-up cost cancels out." %
                (args.callgrind_iters, args.callgrind_iters))
            add("")
            add("| allocator | Ir total (N) | Ir total (0) | Ir per pair | ×je |")
            add("|---|---|---|---|---|")
            for _, n, _, tn, tz, p in tight:
                add("| %s | %d | %d | %.1f | %s |" % (n, tn, tz, p, fmt_ratio(p / ir_je if ir_je else None)))
        for n in ("glassheap", "jemalloc"):
            if n not in per_func:
                continue
            add("")
            add("#### %s: self Ir per pair by function" % n)
            add("")
            add("Per-function self cost of the N-iteration run minus the 0-iteration run, divided by N "
                "(callgrind_annotate --inclusive=no; functions ≥ 0.05 Ir/pair).")
            add("")
            add("| Ir/pair | function |")
            add("|---|---|")
            for fn, v in per_func[n][:20]:
                add("| %.1f | `%s` |" % (v, fn))
        if raw.get("lines"):
            add("")
            add("#### glassheap: hottest source lines (self Ir per pair)")
            add("")
            add("From `callgrind_annotate --auto=yes` on the N-iteration run: lines executed at least once every "
                "two iterations; a line of a header counts where it was inlined. Sums per pair may exceed the "
                "function totals above only by rounding.")
            add("")
            add("| Ir/pair | where | source |")
            add("|---|---|---|")
            for v, where, src in raw["lines"][:30]:
                add("| %.1f | %s | `%s` |" % (v, where, src.replace("|", "\\|").replace("`", "'")))
        if "glassheap" in raw:
            add("")
            add("#### glassheap: callgrind_annotate top lines (N-iteration run, start-up included)")
            add("")
            add("```")
            add(annotate_top(raw["glassheap"], 15))
            add("```")
    md.extend(failures_md(failures))
    add("")
    return "\n".join(md)


def failures_md(failures):
    """A report's "Failures" section as lines (none when nothing failed)."""
    out = []
    if failures:
        out += ["", "## Failures", ""]
        for f in failures:
            out += ["```", f, "```"]
    return out


def write_csv(path, rows, fields):
    with open(path, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=fields)
        wr.writeheader()
        for r in rows:
            wr.writerow({k: ("%.6f" % v if isinstance(v, float) else v) for k, v in r.items() if k in fields})


def main():
    args = parse_args()
    if not os.access(args.bench, os.X_OK):
        log("run.py: %s is not an executable: build it first (cmake --build build)" % args.bench)
        return 2
    allocs, notes = allocators(args)
    info = machine_info(args)
    os.makedirs(args.out, exist_ok=True)
    failures = []

    log("run.py: %s mode, %d runs, allocators: %s" % (args.mode, args.runs, ", ".join(n for n, _, _ in allocs)))
    rows = timed_runs(args, allocs, failures)
    summary = summarize(rows, allocs)

    cg, per_func, raw = [], {}, {}
    why = callgrind_skipped(args, "callgrind pass")
    if why:
        notes.append(why)
    else:
        tmp = tempfile.mkdtemp(prefix="gh-bench-callgrind-")
        try:
            cg, per_func, raw = callgrind_pass(args, allocs, tmp, failures)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    md = report(args, info, notes, allocs, rows, summary, cg, per_func, raw, failures)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(md)
    write_csv(os.path.join(args.out, "results.csv"), rows,
              ["workload", "allocator", "run", "wall_s", "user_s", "sys_s", "cpu_s", "peak_kb", "vmhwm_kb", "maxrss_kb",
               "exit", "problem", "inner_s"])
    write_csv(os.path.join(args.out, "callgrind.csv"),
              [{"workload": w, "allocator": n, "iterations": ops, "ir_n": tn, "ir_0": tz, "ir_per_op": p}
               for w, n, ops, tn, tz, p in cg],
              ["workload", "allocator", "iterations", "ir_n", "ir_0", "ir_per_op"])
    print(md)
    log("run.py: wrote %s/{report.md,results.csv,callgrind.csv}" % args.out)
    if failures:
        log("run.py: %d failed run(s)" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
