#!/usr/bin/python3
"""harness.py -- the whole benchmark in one command: installs the peers,
builds, runs the four sections and writes one report with CSVs and charts.

    python3 bench/harness.py                  # full run, ~50 min on 2 cores
    python3 bench/harness.py --quick          # smoke run for CI, ~2 min; fails only on a crash
    python3 bench/harness.py --only footprint # section 4 alone (issue 15), ~10 min
    python3 bench/harness.py --only leakcheck # section 5 alone (issue 13), ~5 min

Steps:
  1. apt-get install the peers (Debian packages; skipped when all are
     present, or with --no-install, or when not root and no sudo):
     jemalloc, tcmalloc_minimal, mimalloc, gperftools, heaptrack, valgrind,
     clang (LSan), wrk, curl, gnuplot-nox.
  2. cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo and build
     the library and the bench programs only (--no-build to skip).
  3. Section 1, allocator speed (bench/run.py): mixed1, mixed2, tight64,
     larson, prodcons under glibc, jemalloc, tcmalloc, mimalloc and glassheap
     (types only, tracing with frame pointers, tracing with DWARF, sampled),
     interleaved rounds, then callgrind instruction counts per operation.
  4. Section 2, profiler overhead (bench/profilers.py): the same workloads
     under heaptrack, jemalloc prof, gperftools (libunwind and frame
     pointers), massif and LSan against glassheap's tracing and leak check.
  5. Section 3, introspection at scale (bench/introspection.py): the
     reachability pass vs LSan and valgrind, the debug server's endpoints,
     tracemalloc snapshot/compare, wrk, at 1k / 100k / 1M / 10M objects.
  6. Section 4, footprint (bench/footprint.py, issue 15): peak RSS, CPU and
     wall time of fp_mixed1, fp_mixed2, fp_cxxmap (C++ std::map) and
     fp_python (CPython with PYTHONMALLOC=malloc) under every allocator and
     glassheap with GLASSHEAP_THP=always/never/auto; a preloaded /bin/true's
     peak RSS, start-up time and shared objects; callgrind instructions per
     malloc/free pair with glassheap's per-function attribution; the pause
     per 100k objects at 10M (from section 3 when it ran).
  7. Section 5, exit-time leak check (bench/leakcheck.py, issue 13): one
     leaking program (bench/leak_workload.c) at 100k and 1M live objects,
     plain, under glassheap with and without GLASSHEAP_LEAK_CHECK=exit, under
     LeakSanitizer (clang and gcc -fsanitize=leak) and valgrind
     --leak-check=full: wall time, peak RSS, and the leak count each reports.
  8. bench/results/<date>/report.md: machine and versions, the targets of
     the other issues (met or not), charts (SVG, gnuplot), and each section's
     tables; the sections' own reports and CSVs in subdirectories.

Exit status: 0, or 1 when a run crashed, exited non-zero or hung (timing
never fails a run), 2 when the build failed. A missing peer is skipped with
a note in the report. Python 3 standard library only.
"""
import argparse
import csv
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import run as R  # noqa: E402  (bench/run.py: targets, fmt_ratio, WORKLOADS)

PEERS = ["libjemalloc2", "libtcmalloc-minimal4", "libmimalloc2.0", "libgoogle-perftools4", "heaptrack",
         "valgrind", "clang", "libclang-rt-14-dev", "wrk", "curl", "gnuplot-nox"]
VERSIONS = ["libc6", "gcc", "clang", "cmake", "python3", "libjemalloc2", "libtcmalloc-minimal4", "libmimalloc2.0",
            "libgoogle-perftools4", "heaptrack", "valgrind", "libunwind8", "libdw1", "libh2o-evloop0.13", "wrk", "curl",
            "gnuplot-nox"]
TARGETS = ["glassheap", "gh-bench-alloc", "gh-bench-alloc-lsan", "gh-bench-gc", "gh-bench-gc-plain",
           "gh-bench-gc-lsan", "gh-bench-server", "gh-bench-fp-cxx", "gh-bench-spawn"]
SECTIONS = {"1": "allocators", "2": "profilers", "3": "introspection", "4": "footprint", "5": "leakcheck"}

# Issue 5's targets for tracing every allocation with frame pointers.
TRACE_WALL_MAX = 3.0
TRACE_RSS_MAX = 1.5

# (run.py arguments, profilers.py arguments, introspection.py arguments, footprint.py arguments)
MODES = {
    "full": (["--variants", "all", "--callgrind-workloads", "all"],
             ["--runs", "5"],
             [],
             []),
    "quick": (["--quick", "--smoke", "--variants", "all", "--callgrind-workloads", "all"],
              ["--runs", "1", "--scale", "0.02", "--live", "10000", "--timeout", "120", "--smoke"],
              ["--smoke"],
              ["--smoke"]),
}


def log(msg):
    print("harness: " + msg, file=sys.stderr, flush=True)


def sh(argv, timeout=60):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run with tiny counts (CI): ~2 min, figures meaningless, fails only on a crash")
    ap.add_argument("--no-install", action="store_true", help="do not run apt-get")
    ap.add_argument("--no-build", action="store_true", help="use the build directory as it is")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"),
                    help="build directory (default build-bench)")
    ap.add_argument("--out", help="output directory (default bench/results/<YYYY-MM-DD>/; --quick: "
                                  "<build>/bench/harness-quick)")
    ap.add_argument("--sections", default="1,2,3,4,5", help="comma-separated subset of 1,2,3,4,5 (default all)")
    ap.add_argument("--only", help="sections by name instead of --sections: comma-separated subset of "
                                   "allocators, profilers, introspection, footprint")
    ap.add_argument("--note", action="append", default=[], help="a line for the report's machine section")
    ap.add_argument("--report-only", action="store_true",
                    help="only redraw the charts and rewrite report.md from the sections' files in --out")
    a = ap.parse_args()
    a.mode = "quick" if a.quick else "full"
    a.build = os.path.abspath(a.build)
    if a.out is None:
        a.out = (os.path.join(a.build, "bench", "harness-quick") if a.quick else
                 os.path.join(HERE, "results", datetime.date.today().isoformat()))
    a.out = os.path.abspath(a.out)
    a.sections = [s for s in a.sections.split(",") if s]
    if a.only:
        names = {v: k for k, v in SECTIONS.items()}
        a.sections = []
        for n in a.only.split(","):
            if n not in names:
                ap.error("unknown section name %r (want %s)" % (n, ", ".join(names)))
            a.sections.append(names[n])
    for s in a.sections:
        if s not in SECTIONS:
            ap.error("unknown section %r" % s)
    return a


# ---- 1. Peers -----------------------------------------------------------------------

def installed(pkgs):
    out = sh(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\\n"] + pkgs)
    return {line.split()[0].split(":")[0] for line in out.splitlines() if line.split()[1:2] == ["ii"]}


def install(a, notes):
    have = installed(PEERS)
    missing = [p for p in PEERS if p not in have]
    if not missing:
        log("peers: all installed")
        return
    if a.no_install:
        notes.append("not installed (--no-install): " + ", ".join(missing))
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"] if shutil.which("sudo") else None
    if sudo is None or not shutil.which("apt-get"):
        notes.append("not installed (needs root and apt-get): " + ", ".join(missing))
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing
    log("peers: " + " ".join(cmd))
    if subprocess.run(cmd, env=env).returncode != 0:
        subprocess.run(sudo + ["apt-get", "update", "-q"], env=env)
        subprocess.run(cmd, env=env)
    still = [p for p in missing if p not in installed(missing)]
    if still:
        notes.append("apt-get could not install: " + ", ".join(still))


# ---- 2. Build -------------------------------------------------------------------------

def build(a):
    if a.no_build:
        return True
    log("build: %s" % a.build)
    if subprocess.run(["cmake", "-S", ROOT, "-B", a.build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
                      stdout=subprocess.DEVNULL).returncode != 0:
        return False
    # Only what the benchmark needs: the test programs are not built here.
    targets = [t for t in TARGETS if t != "gh-bench-alloc-lsan" or shutil.which("clang")]
    targets = [t for t in targets if t != "gh-bench-gc-lsan" or shutil.which("clang")]
    return subprocess.run(["cmake", "--build", a.build, "-j%d" % (os.cpu_count() or 2), "--target"] + targets,
                          stdout=subprocess.DEVNULL).returncode == 0


# ---- 3-5. Sections ------------------------------------------------------------------------

def section(a, name, argv, times):
    log("section %s: %s" % (name, shlex.join(argv)))
    t0 = time.time()
    rc = subprocess.run([sys.executable] + argv, stdout=subprocess.DEVNULL).returncode
    times[name] = time.time() - t0
    log("section %s: exit %d after %.0f s" % (name, rc, times[name]))
    return rc


read_csv = R.read_csv
num = R.num


# ---- Charts -----------------------------------------------------------------------------

def write_matrix(path, rows, cols, cell):
    """A CSV with a header row: first column the row label, then one column per
    col (empty cells where cell() is None)."""
    with open(path, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["label"] + cols)
        for r in rows:
            wr.writerow([r] + ["" if cell(r, c) is None else "%.6g" % cell(r, c) for c in cols])


def gnuplot(script, notes):
    if not shutil.which("gnuplot"):
        return False
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if r.returncode != 0:
        notes.append("gnuplot failed: " + r.stderr.strip()[-300:])
        return False
    return True


# Distinct colours for up to 14 series (gnuplot's default cycle repeats after 8).
COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac", "#1b1b1b", "#8cd17d", "#d37295", "#499894"]
SVG = ("set terminal svg size 1000,480 dynamic enhanced font 'sans,11' background '#ffffff'\n" +
       "".join("set linetype %d lc rgb '%s'\n" % (i + 1, c) for i, c in enumerate(COLOURS)) +
       "set linetype cycle %d\n" % len(COLOURS))


def bar_chart(out, data, ncols, title, ylabel, notes, logscale=False, ref=1.0, ymin=0.1):
    script = SVG + """
set output '{out}'
set datafile separator ','
set title '{title}'
set ylabel '{ylabel}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside right top vertical font ',9'
set grid ytics
set xtics nomirror
set yrange [{ymin}:*]
{log}
set arrow from graph 0, first {ref} to graph 1, first {ref} nohead dt 2 lc rgb '#444444'
plot for [i=2:{last}] '{data}' using i:xtic(1) title columnheader(i)
""".format(out=out, data=data, title=title, ylabel=ylabel, last=ncols + 1, ref=ref,
           ymin=ymin if logscale else "0", log="set logscale y" if logscale else "")
    return gnuplot(script, notes)


def line_chart(out, data, ncols, title, ylabel, notes, ylog=True):
    script = SVG + """
set output '{out}'
set datafile separator ','
set datafile missing ''
set title '{title}'
set xlabel 'live objects'
set ylabel '{ylabel}'
set logscale x
set xrange [500:20000000]
{ylog}
set format x '10^{{%L}}'
set grid
set key outside right top vertical font ',9'
plot for [i=2:{last}] '{data}' using 1:i with linespoints lw 2 pt 7 title columnheader(i)
""".format(out=out, data=data, title=title, ylabel=ylabel, last=ncols + 1, ylog="set logscale y" if ylog else "")
    return gnuplot(script, notes)


def medians(rows, key_fields, metric, ok=lambda r: True):
    groups = {}
    for r in rows:
        if not ok(r):
            continue
        v = num(r.get(metric))
        if v is not None and v >= 0:
            groups.setdefault(tuple(r[k] for k in key_fields), []).append(v)
    return {k: statistics.median(v) for k, v in groups.items()}


def ratio_chart(out, name, wls, cfgs, m, title, notes, made, **kw):
    """Writes name.csv, m[(workload, config)] / m[(workload, "jemalloc")] for every pair (empty where either
    is missing or jemalloc's is 0), and its bar chart name.svg; adds the chart to made."""
    def cell(w, c):
        v, je = m.get((w, c)), m.get((w, "jemalloc"))
        return v / je if v is not None and je else None
    data = os.path.join(out, name + ".csv")
    write_matrix(data, wls, cfgs, cell)
    if bar_chart(os.path.join(out, name + ".svg"), data, len(cfgs), title, "× jemalloc", notes, **kw):
        made.append((name + ".svg", title))


def charts(a, notes):
    """Writes chart data (CSV) and SVGs; returns [(file, caption)]."""
    out, made = a.out, []
    alloc = read_csv(os.path.join(out, "allocators", "results.csv"))
    if alloc:
        ok = lambda r: not r["problem"]  # noqa: E731
        wall = medians(alloc, ("workload", "allocator"), "wall_s", ok)
        rss = medians(alloc, ("workload", "allocator"), "peak_kb", ok)
        wls = list(dict.fromkeys(r["workload"] for r in alloc))
        cfgs = list(dict.fromkeys(r["allocator"] for r in alloc))
        for name, m, title, logscale in (
                ("allocators_wall", wall, "Allocator speed: wall time / plain jemalloc (medians, whole process, "
                 "log scale)", True),
                ("allocators_rss", rss, "Peak RSS / plain jemalloc (medians)", False)):
            ratio_chart(out, name, wls, cfgs, m, title, notes, made, logscale=logscale, ymin=0.25)
    cg = read_csv(os.path.join(out, "allocators", "callgrind.csv"))
    if cg:
        ir = {(r["workload"], r["allocator"]): num(r["ir_per_op"]) for r in cg if num(r["ir_per_op"])}
        wls = list(dict.fromkeys(r["workload"] for r in cg))
        cfgs = list(dict.fromkeys(r["allocator"] for r in cg))
        ratio_chart(out, "callgrind_ratio", wls, cfgs, ir, "Instructions per operation / plain jemalloc (callgrind)",
                    notes, made, logscale=True)
    prof = read_csv(os.path.join(out, "profilers", "profilers.csv"))
    if prof:
        wall = medians(prof, ("workload", "config"), "wall_s", lambda r: not r["problem"])
        wls = list(dict.fromkeys(r["workload"] for r in prof))
        cfgs = [c for c in dict.fromkeys(r["config"] for r in prof) if c != "jemalloc"]
        ratio_chart(out, "profilers_wall", wls, cfgs, wall,
                    "Profilers and leak checkers: wall time / plain jemalloc (medians, log scale)", notes, made,
                    logscale=True)
    intro = read_csv(os.path.join(out, "introspection", "introspection.csv"))
    if intro:
        fig = {(r["kind"], int(r["objects"]), r["metric"]): num(r["median"]) for r in intro}
        sizes = sorted({int(r["objects"]) for r in intro})
        for name, series, title, ylabel, ylog in (
                ("introspection_gc", [("gc", "pause_ms", "glassheap pause"), ("gc", "lsan_ms", "LSan leak check"),
                                      ("gc", "valgrind_ms", "valgrind leak check")],
                 "Reachability pass vs LeakSanitizer and valgrind", "ms (log)", True),
                ("introspection_server", [
                    ("server", "memory_json_ms", "GET /debug/memory (JSON)"),
                    ("server", "memory_msgpack_ms", "GET /debug/memory (msgpack)"),
                    ("server", "types_ms", "GET /types (common type)"),
                    ("server", "types_rare_ms", "GET /types (rare type: heap walk)"),
                    ("server", "gc_ms", "POST /gc"),
                    ("server", "referrers_ms", "GET /referrers"),
                    ("trace", "snapshot_ms", "tracemalloc snapshot"),
                    ("trace", "compare_ms", "tracemalloc compare")],
                 "Debug server: server-side time per request", "ms (log)", True),
                ("introspection_wrk", [("server", "wrk_json_rps", "JSON"), ("server", "wrk_msgpack_rps", "msgpack")],
                 "wrk: GET /debug/memory throughput", "requests/s", False)):
            cols = [s[2] for s in series]
            data = os.path.join(out, name + ".csv")
            write_matrix(data, sizes, cols, lambda n, c, series=series: next(
                (fig.get((k, n, m)) for k, m, label in series if label == c), None))
            if line_chart(os.path.join(out, name + ".svg"), data, len(cols), title, ylabel, notes, ylog):
                made.append((name + ".svg", title))
    fp = read_csv(os.path.join(out, "footprint", "footprint.csv"))
    if fp:
        ok = lambda r: not r["problem"]  # noqa: E731
        wls = list(dict.fromkeys(r["workload"] for r in fp))
        cfgs = list(dict.fromkeys(r["config"] for r in fp))
        # gnuplot's enhanced text would set the part after "fp_" as a subscript.
        label = {w: w[3:] if w.startswith("fp_") else w for w in wls}
        for name, metric, title in (
                ("footprint_rss", "peak_kb", "Footprint (issue 15): peak RSS / jemalloc (medians; target 1.20x "
                                             "mixed, 1.25x C++)"),
                ("footprint_cpu", "cpu_s", "Footprint (issue 15): CPU time (user+sys) / jemalloc (medians; target "
                                           "1.15x mixed; true: per start)")):
            m = medians(fp, ("workload", "config"), metric, ok)
            m = {(label[w], c): v for (w, c), v in m.items()}
            ratio_chart(out, name, [label[w] for w in wls], cfgs, m, title, notes, made, logscale=True, ymin=0.25)
    if not shutil.which("gnuplot"):
        notes.append("charts skipped: gnuplot not installed (apt-get install gnuplot-nox)")
    return made


# ---- 6. Report ------------------------------------------------------------------------------

def machine(a):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(l for l in f if l.startswith("MemTotal")).split()[1])
            mem = "%.1f GiB" % (kb / 1048576)
    except (OSError, StopIteration, ValueError):
        pass
    distro = "unknown"
    try:
        with open("/etc/os-release") as f:
            distro = next((l.split("=", 1)[1].strip().strip('"') for l in f if l.startswith("PRETTY_NAME=")), distro)
    except OSError:
        pass
    pkgs = sh(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n"] + VERSIONS)
    rev = sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]) or "unknown"
    # bench/results is what a run writes (a re-run rewrites the day's files): not a change to what is measured.
    dirty = sh(["git", "-C", ROOT, "diff", "--name-only", "HEAD", "--", "alloc", "http", "include", "bench",
                "CMakeLists.txt", "cmake", ":(exclude)bench/results"])
    return [
        ("CPU", "%s, %d logical CPUs (nproc)" % (cpu, os.cpu_count() or 0)),
        ("memory", mem),
        ("system", "%s, %s %s" % (distro, platform.system(), platform.release())),
        ("compiler", sh(["cc", "--version"]).split("\n")[0]),
        ("clang", sh(["clang", "--version"]).split("\n")[0] or "not installed"),
        ("python", platform.python_version()),
        ("glassheap", "commit %s%s (source %s, build %s)" % (
            rev, " + uncommitted changes in " + ", ".join(dirty.split()) if dirty else "", ROOT, a.build)),
        ("packages", ", ".join(pkgs.splitlines()) or "(dpkg-query failed)"),
    ]


def demote(text):
    """A section's report without its title, every heading one level down."""
    out = []
    for i, line in enumerate(text.splitlines()):
        if i == 0 and line.startswith("# "):
            continue
        if line.startswith("#"):
            line = "#" + line
        out.append(line)
    return "\n".join(out).strip("\n")


def summary_rows(a):
    """[(target, figures, verdict)] over every section's CSV."""
    rows = []
    alloc = read_csv(os.path.join(a.out, "allocators", "results.csv"))
    if alloc:
        summ = {}
        for r in alloc:
            if r["problem"]:
                continue
            for m in ("wall_s", "peak_kb"):
                summ.setdefault(r["workload"], {}).setdefault(r["allocator"], {}).setdefault(m, []).append(float(r[m]))
        for w in summ.values():
            for c in w.values():
                for m, v in c.items():
                    c[m] = (statistics.median(v), min(v), max(v))
        for text, med, low, met in R.targets(summ):
            rows.append(("issue 2: " + text, "glassheap %s (ratio of fastest runs %s)" % (med, low),
                         "n/a" if met is None else "met" if met else "**not met**"))
        # Issue 5 from the same rounds, at the full counts of section 1.
        for w, c in summ.items():
            t, je = c.get("glassheap+trace-fp"), c.get("jemalloc")
            if not t or not je:
                continue
            wr, rr = t["wall_s"][0] / je["wall_s"][0], t["peak_kb"][0] / je["peak_kb"][0]
            wl = t["wall_s"][1] / je["wall_s"][1]
            rows.append(("issue 5: %s: tracing every allocation (frame pointers, %s frames): wall ≤ %.0fx and peak RSS "
                         "≤ %.1fx jemalloc" % (w, R.TRACE_FRAMES, TRACE_WALL_MAX, TRACE_RSS_MAX),
                         "%.2fx wall (fastest runs %.2fx), %.2fx RSS%s" % (
                             wr, wl, rr, " (a near-empty heap: start-up memory)" if w == "tight64" else ""),
                         "met" if wr <= TRACE_WALL_MAX and rr <= TRACE_RSS_MAX else "**not met**"))
    try:
        with open(os.path.join(a.out, "footprint", "footprint.json")) as f:
            for t in json.load(f)["targets"]:
                if t["verdict"].startswith("—"):
                    continue  # a figure without a target of its own
                rows.append(("issue 15: " + t["target"], "glassheap " + t["glassheap"], t["verdict"]))
    except (OSError, ValueError, KeyError):
        pass
    intro = os.path.join(a.out, "introspection", "introspection.md")
    try:
        with open(intro) as f:
            text = f.read()
        m = re.search(r"## Targets\n\n\| target.*?\n\| ---.*?\n((?:\|.*\n)+)", text)
        if m:
            for line in m.group(1).strip().splitlines():
                cells = [c.strip() for c in line.strip("|").split("|")]
                if len(cells) == 3:
                    rows.append(tuple(cells))
    except OSError:
        pass
    return rows


def report(a, mach, notes, times, made, rcs, minutes, load0, load1, argv):
    md, add = R.report_start("glassheap benchmark report",
                             a.mode == "quick" and "Quick smoke run (tiny counts, one run each)")
    add("One command: `python3 bench/harness.py` (this run: `%s`; %.0f min: %s)." % (
        shlex.join(["python3", "bench/harness.py"] + argv), minutes,
        ", ".join("section %s %.0f s" % kv for kv in times.items())))
    add("")
    add("## Machine and versions")
    add("")
    for k, v in mach:
        add("- %s: %s" % (k, v))
    add("- load average at start: %s; at end: %s" % (load0, load1))
    add("- the machine is shared with other work (builds, tests): wall times are noisy; compare ratios within one "
        "section, which interleaves its configurations round by round")
    for n in a.note + notes:
        add("- note: %s" % n)
    add("")
    add("## Targets of the other issues")
    add("")
    rows = summary_rows(a)
    if rows:
        add("| target | this run | verdict |")
        add("|---|---|---|")
        for t, f, v in rows:
            add("| %s | %s | %s |" % (t, f, v))
        add("")
        add("Issues 2 and 5: ratios of medians of whole-process wall time and peak RSS from section 1 (full counts, "
            "interleaved rounds); noise only adds time, so the ratio of the fastest runs is the check: when the two "
            "disagree, this run cannot settle the target. Issues 3-5 (server, pass, snapshots): section 3. "
            "Issue 15 (footprint): section 4, where each target has the peers' figures beside glassheap's.")
    else:
        add("(no section produced figures)")
    add("")
    add("## Method")
    add("")
    add("- Every configuration runs the same binary (`gh-bench-alloc`, bench/workloads.c; fixed seeds, bounded loops, "
        "every object's tag checked on free); allocators are swapped in with `LD_PRELOAD`, LSan is the same source "
        "built with clang `-fsanitize=leak`.")
    add("- Runs are interleaved: each round runs every configuration once (A B C … A B C …), so drift on the shared "
        "machine spreads over all of them. Figures: median (min–max) of the rounds (5 in the full run); ratios are "
        "ratios of medians to plain jemalloc from the same rounds.")
    add("- Wall time covers the whole process; peak RSS is the workload's own VmHWM. Where wall time is too noisy, "
        "callgrind counts instructions: (Ir(N) − Ir(0)) / N per operation, so start-up and the fill cancel out.")
    add("- Sections' raw data: `allocators/` (run.py: report.md, results.csv, callgrind.csv), `profilers/` "
        "(profilers.md, profilers.csv), `introspection/` (introspection.md, introspection.csv), `footprint/` "
        "(footprint.md, footprint.csv, callgrind.csv, functions.csv, shared_objects.csv, pause.csv); chart data: "
        "the `*.csv` next to each `*.svg`.")
    for num_, title, sub, md_name in (("1", "Allocator speed", "allocators", "report.md"),
                                      ("2", "Profiler overhead", "profilers", "profilers.md"),
                                      ("3", "Introspection costs at scale", "introspection", "introspection.md"),
                                      ("4", "Footprint (issue 15)", "footprint", "footprint.md"),
                                      ("5", "Exit-time leak check (issue 13)", "leakcheck", "leakcheck.md")):
        add("")
        add("## %s. %s" % (num_, title))
        add("")
        if num_ not in a.sections:
            add("(not run: --sections)")
            continue
        if rcs.get(num_):
            add("**The section reported failures (exit status %d): see its Failures part below.**" % rcs[num_])
            add("")
        for f, caption in made:
            if f.startswith({"1": ("allocators", "callgrind"), "2": ("profilers",), "3": ("introspection",),
                             "4": ("footprint",), "5": ("leakcheck",)}[num_]):
                add("![%s](%s)" % (caption, f))
                add("")
        try:
            with open(os.path.join(a.out, sub, md_name)) as fh:
                add(demote(fh.read()))
        except OSError:
            add("(no report: the section did not finish)")
    add("")
    return "\n".join(md)


def main():
    a = parse_args()
    state = os.path.join(a.out, "harness.json")
    if a.report_only:
        with open(state) as f:
            st = json.load(f)
        notes = [n for n in st["notes"] if not n.startswith(("charts skipped", "gnuplot failed"))]
        if os.path.exists(os.path.join(a.out, "profilers", "profilers.csv")):
            subprocess.run([sys.executable, os.path.join(HERE, "profilers.py"), "--report-only",
                            "--out", os.path.join(a.out, "profilers")])
        if os.path.exists(os.path.join(a.out, "footprint", "footprint.json")):
            subprocess.run([sys.executable, os.path.join(HERE, "footprint.py"), "--report-only",
                            "--out", os.path.join(a.out, "footprint")])
        made = charts(a, notes)
        a.note = st["note"]
        with open(os.path.join(a.out, "report.md"), "w") as f:
            f.write(report(a, st["machine"], notes, st["times"], made, st["rcs"], st["minutes"], st["load0"],
                           st["load1"], st["argv"]))
        log("rewrote %s/report.md" % a.out)
        return 0
    started, load0 = time.time(), "%.2f %.2f %.2f" % os.getloadavg()
    notes, times, rcs = [], {}, {}
    install(a, notes)
    mach = machine(a)
    if not build(a):
        log("build failed")
        return 2
    os.makedirs(a.out, exist_ok=True)
    bench = os.path.join(a.build, "bench", "gh-bench-alloc")
    run_args, prof_args, intro_args, fp_args = MODES[a.mode]
    if "1" in a.sections:
        rcs["1"] = section(a, "1", [os.path.join(HERE, "run.py"), "--bench", bench,
                                    "--glassheap", os.path.join(a.build, "libglassheap.so"),
                                    "--out", os.path.join(a.out, "allocators")] + run_args, times)
    if "2" in a.sections:
        rcs["2"] = section(a, "2", [os.path.join(HERE, "profilers.py"), "--build", a.build,
                                    "--out", os.path.join(a.out, "profilers")] + prof_args, times)
    if "3" in a.sections:
        if shutil.which("curl"):
            rcs["3"] = section(a, "3", [os.path.join(HERE, "introspection.py"), "--build", a.build,
                                        "--out", os.path.join(a.out, "introspection")] + intro_args, times)
        else:
            notes.append("section 3 skipped: curl not installed")
    if "4" in a.sections:
        # The pause at 10M objects: section 3's figures when it ran just now.
        intro_csv = os.path.join(a.out, "introspection", "introspection.csv")
        if "3" in rcs and os.path.exists(intro_csv):
            fp_args = fp_args + ["--pause-csv", intro_csv]
        rcs["4"] = section(a, "4", [os.path.join(HERE, "footprint.py"), "--build", a.build,
                                    "--out", os.path.join(a.out, "footprint")] + fp_args, times)
    if "5" in a.sections:
        rcs["5"] = section(a, "5", [os.path.join(HERE, "leakcheck.py"), "--build", a.build,
                                    "--out", os.path.join(a.out, "leakcheck")] +
                           (["--smoke"] if a.mode == "quick" else ["--runs", "3"]), times)
    load1 = "%.2f %.2f %.2f" % os.getloadavg()
    minutes = (time.time() - started) / 60
    # What the report needs besides the sections' files, for --report-only.
    with open(state, "w") as f:
        json.dump({"machine": mach, "notes": notes, "note": a.note, "times": times, "rcs": rcs, "minutes": minutes,
                   "load0": load0, "load1": load1, "argv": sys.argv[1:]}, f, indent=1)
    made = charts(a, notes)
    md = report(a, mach, notes, times, made, rcs, minutes, load0, load1, sys.argv[1:])
    with open(os.path.join(a.out, "report.md"), "w") as f:
        f.write(md)
    log("wrote %s/report.md (%.0f s)" % (a.out, time.time() - started))
    failed = [s for s, rc in rcs.items() if rc]
    if failed:
        log("sections with failed runs: %s" % ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
