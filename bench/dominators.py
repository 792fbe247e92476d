#!/usr/bin/python3
"""Dominator passes (GET /debug/memory/dominators' engine) beside the gc pass.

  python3 bench/dominators.py --build BUILD [--sizes 100000,1000000,10000000] [--runs 3] [--out DIR]

For each size, gh-bench-gc N RUNS (the gc pass: pause, mark) and
gh-bench-gc N RUNS dom (the dominator pass on the same heap: pause, mark
with the graph recorded, the computation after resume, work memory) run as
separate processes, so that each one's VmHWM is its own. The heap is
bench/gc_bench.c's: N objects of 16..256 B with two pointers each, ~1%
leaked. Figures are the median (min-max) of the runs; the first run of each
process is left out when there are more than two (it faults the work area
in). Writes dominators.md and dominators.csv into DIR (default
bench/results/<date>/dominators) and prints the markdown.
Targets (issue 16): computation after the mark <= 2x the gc mark; at most
32 bytes of work memory per object.
"""
import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def runs(argv, kind):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    rows = []
    for line in p.stdout.splitlines():
        if not line.startswith(kind + " "):
            continue
        f = line.split()
        rows.append({f[i]: float(f[i + 1]) for i in range(2, len(f) - 1, 2)})
    if p.returncode != 0 or not rows:
        sys.stderr.write("%s: exit %d\n%s\n" % (" ".join(argv), p.returncode, p.stderr[-2000:]))
    return rows[1:] if len(rows) > 2 else rows


def cell(rows, key, digits=1):
    xs = [r[key] for r in rows if key in r]
    if not xs:
        return "—"
    f = "%%.%df" % digits
    if len(xs) == 1:
        return f % xs[0]
    return (f + " (" + f + "–" + f + ")") % (statistics.median(xs), min(xs), max(xs))


def med(rows, key):
    xs = [r[key] for r in rows if key in r]
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--sizes", default="100000,1000000,10000000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out")
    a = ap.parse_args()
    out = a.out or os.path.join(HERE, "results", datetime.date.today().isoformat(), "dominators")
    os.makedirs(out, exist_ok=True)
    gh = os.path.join(a.build, "bench", "gh-bench-gc")
    csv = ["objects,pass,metric,median,min,max,runs"]
    lines = ["| objects | gc pause ms | gc mark ms | gc CPU ms | dom pause ms | dom mark ms | dom mark CPU ms | "
             "dom compute ms | dom compute CPU ms | compute / gc mark (wall, CPU) | work B/object | RSS before MiB | "
             "peak RSS gc MiB | peak RSS dom MiB |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in [int(x) for x in a.sizes.split(",")]:
        g = runs([gh, str(n), str(a.runs)], "run")
        d = runs([gh, str(n), str(a.runs), "dom"], "dom")
        for name, rows in (("gc", g), ("dom", d)):
            for k in sorted({k for r in rows for k in r}):
                xs = [r[k] for r in rows]
                csv.append("%d,%s,%s,%.6g,%.6g,%.6g,%d" % (n, name, k, statistics.median(xs), min(xs), max(xs),
                                                           len(xs)))
        ratio = med(d, "compute_ms") / med(g, "mark_ms") if g and d else float("nan")
        ratio_cpu = med(d, "compute_cpu_ms") / med(g, "cpu_ms") if g and d else float("nan")
        lines.append("| {:,} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2f}, {:.2f} | {} | {} | {} | {} |".format(
            n, cell(g, "pause_ms"), cell(g, "mark_ms"), cell(g, "cpu_ms"), cell(d, "pause_ms"), cell(d, "mark_ms"),
            cell(d, "mark_cpu_ms"), cell(d, "compute_ms"), cell(d, "compute_cpu_ms"), ratio, ratio_cpu,
            cell(d, "bytes_per_object"), cell(d, "rss_mb", 0), cell(g, "hwm_mb", 0), cell(d, "hwm_mb", 0)))
    md = "\n".join([
        "# Dominator pass beside the gc pass",
        "",
        "`python3 bench/dominators.py --build %s --sizes %s --runs %d`; load average at the end %.2f %.2f %.2f." % (
            (a.build, a.sizes, a.runs) + os.getloadavg()),
        "",
    ] + lines + [
        "",
        "compute / gc mark: the median computation after resume over the median gc mark (issue 16's target: <= 2),",
        "by wall time and by the requesting thread's CPU time (gc: the whole pass, which is its mark; dom mark CPU:",
        "the pass's CPU less the computation's, so it includes mapping the logs and the answer's symbolization).",
        "On a loaded machine the CPU figures are the comparable ones.",
        "work B/object: the pass's peak work memory (edge log, node records, the computation's arrays) per object.",
        "Peak RSS: VmHWM of a process that built the heap and ran only that kind of pass.",
        ""])
    with open(os.path.join(out, "dominators.md"), "w") as f:
        f.write(md)
    with open(os.path.join(out, "dominators.csv"), "w") as f:
        f.write("\n".join(csv) + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
