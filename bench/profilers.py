#!/usr/bin/env python3
"""Heap profilers side by side on the same workloads (issue 5's comparison).

  python3 bench/profilers.py --build BUILD [--runs N] [--scale F] [--out DIR]

Runs gh-bench-alloc mixed1 and mixed2 (bench/workloads.c) interleaved under:
  jemalloc                 plain Debian jemalloc (the reference)
  glassheap                types + callsites + counters (always on)
  glassheap trace fp       GLASSHEAP_TRACE=25, frame-pointer unwinding
  glassheap trace dwarf    GLASSHEAP_TRACE=25 GLASSHEAP_UNWIND=dwarf
  glassheap trace sampled  GLASSHEAP_TRACE=25 GLASSHEAP_TRACE_SAMPLE=524288 (if supported)
  jemalloc prof            MALLOC_CONF=prof:true,lg_prof_sample:0 (every allocation)
  gperftools heapprof      libtcmalloc.so.4 with HEAPPROFILE (default unwinder)
  heaptrack                heaptrack's preload library, recording to a file
and prints wall time, peak RSS and ratios to plain jemalloc (medians). Every
run is bounded by a timeout; output files go to a temporary directory.
"""
import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

LIB = "/usr/lib/x86_64-linux-gnu"
HERE = os.path.dirname(os.path.abspath(__file__))


def configs(build, tmp):
    gh = os.path.join(build, "libglassheap.so")
    je = os.path.join(LIB, "libjemalloc.so.2")
    out = [
        ("jemalloc", {"LD_PRELOAD": je}),
        ("glassheap", {"LD_PRELOAD": gh}),
        ("glassheap trace fp", {"LD_PRELOAD": gh, "GLASSHEAP_TRACE": "25", "GLASSHEAP_UNWIND": "fp"}),
        ("glassheap trace dwarf", {"LD_PRELOAD": gh, "GLASSHEAP_TRACE": "25", "GLASSHEAP_UNWIND": "dwarf"}),
        ("jemalloc prof", {"LD_PRELOAD": je, "MALLOC_CONF": "prof:true,lg_prof_sample:0,prof_prefix:%s/jeprof" % tmp}),
    ]
    tc = os.path.join(LIB, "libtcmalloc.so.4")
    if os.path.exists(tc):
        out.append(("gperftools heapprof", {"LD_PRELOAD": tc, "HEAPPROFILE": os.path.join(tmp, "gperf")}))
    hp = "/usr/lib/heaptrack/libheaptrack_preload.so"
    if os.path.exists(hp):
        out.append(("heaptrack", {"LD_PRELOAD": hp, "DUMP_HEAPTRACK_OUTPUT": os.path.join(tmp, "heaptrack.out")}))
    return out


def run_one(bench, workload, env_extra, timeout):
    env = dict(os.environ)
    env.update(env_extra)
    t0 = time.time()
    try:
        p = subprocess.Popen([bench, workload], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        _, status, ru = os.wait4(p.pid, 0)
        out = p.stdout.read()
        p.stdout.close()
    except Exception:  # noqa: BLE001
        return None
    wall = time.time() - t0
    if status != 0:
        return None
    rss = None
    for tok in out.split():
        if tok.startswith("peak_rss_kb="):
            rss = int(tok.split("=")[1]) / 1024
    return wall, rss if rss is not None else ru.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scale", default="0.4")
    ap.add_argument("--out")
    a = ap.parse_args()
    bench = os.path.join(a.build, "bench", "gh-bench-alloc")
    os.environ["GH_BENCH_SCALE"] = a.scale
    date = datetime.date.today().isoformat()
    outdir = a.out or os.path.join(HERE, "results", date)
    os.makedirs(outdir, exist_ok=True)
    lines = ["# Heap profilers side by side (%s)\n" % date,
             "Command: `python3 bench/profilers.py --build %s --runs %d --scale %s`. Workloads of "
             "bench/workloads.c at GH_BENCH_SCALE=%s; medians of %d interleaved runs; whole-process wall "
             "time; peak RSS is the workload's VmHWM. 25 frames everywhere a depth is set.\n" % (
                 a.build, a.runs, a.scale, a.scale, a.runs)]
    with tempfile.TemporaryDirectory() as tmp:
        cfgs = configs(a.build, tmp)
        for w in ("mixed1", "mixed2"):
            res = {name: [] for name, _ in cfgs}
            for _ in range(a.runs):
                for name, env in cfgs:
                    r = run_one(bench, w, env, 600)
                    if r:
                        res[name].append(r)
                    for f in os.listdir(tmp):  # profiles can be large: drop them between runs
                        path = os.path.join(tmp, f)
                        if os.path.isfile(path):
                            os.unlink(path)
            base = statistics.median([x[0] for x in res["jemalloc"]]) if res["jemalloc"] else float("nan")
            base_rss = statistics.median([x[1] for x in res["jemalloc"]]) if res["jemalloc"] else float("nan")
            lines.append("## %s\n" % w)
            lines.append("| configuration | wall s | wall ×je | peak RSS MiB | RSS ×je |")
            lines.append("|---|---|---|---|---|")
            for name, _ in cfgs:
                xs = res[name]
                if not xs:
                    lines.append("| %s | failed | | | |" % name)
                    continue
                wall = statistics.median([x[0] for x in xs])
                rss = statistics.median([x[1] for x in xs])
                lines.append("| %s | %.3f | %.2fx | %.1f | %.2fx |" % (name, wall, wall / base, rss, rss / base_rss))
            lines.append("")
    lines.append("Targets (issue 5): tracing every allocation with 25 frames and frame-pointer unwinding "
                 "<= 3x plain jemalloc wall and <= 1.5x its RSS.\n")
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(outdir, "profilers.md"), "w") as f:
        f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
