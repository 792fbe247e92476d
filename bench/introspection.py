#!/usr/bin/python3
"""Introspection costs at scale, side by side with peers.

  python3 bench/introspection.py --build BUILD [--quick | --smoke] [--out DIR]

1. Reachability pass (POST /debug/memory/gc's engine, gh-bench-gc) at 1k /
   100k / 1M / 10M live objects: pause and mark time, scanned MB, mark rate;
   LeakSanitizer's __lsan_do_recoverable_leak_check() on the same heap
   (clang -fsanitize=leak); valgrind memcheck's leak check on the same heap
   (wall time with --leak-check=full minus --leak-check=no), up to 1M objects.
2. The debug server at the same sizes (gh-bench-server: N objects over 1000
   types, 4096 distinct allocation stacks): server-side time of GET
   /debug/memory (JSON and msgpack), GET /debug/memory/types (a common type,
   and a rare one that costs a heap walk), POST /debug/memory/gc and GET
   /debug/memory/referrers (with the pause each reports); wrk throughput of
   /debug/memory (JSON, msgpack).
3. Tracing at the same sizes (the same host with GLASSHEAP_TRACE=25, frame
   pointers): POST /debug/tracemalloc/snapshot, GET /debug/tracemalloc/compare
   (after 1% of the objects were replaced) and GET /debug/tracemalloc/top.

Server-side time is curl's time_starttransfer - time_pretransfer on loopback.
Every figure is the median (min-max) of several requests or passes. Only
loopback; every run bounded. Writes introspection.md and introspection.csv
(one row per figure: kind, objects, metric, median, min, max, runs) into DIR
(default bench/results/<date>/) and prints the markdown. Exit status 1 when
a run or request failed.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# (sizes, gc passes, requests per cheap endpoint, passes per gc/referrers request kind, wrk seconds)
MODES = {
    "full": ([1000, 100000, 1000000, 10000000], 5, 20, 5, 5),
    "quick": ([1000, 10000], 2, 5, 2, 1),
    "smoke": ([1000], 1, 3, 1, 1),
}
TYPES = 1000

# Targets of the other issues.
MEMORY_MS_MAX = 1.0          # issue 3: GET /debug/memory <= 1 ms at 1M objects, flat
PAUSE_PER_100K_MS_MAX = 50.0  # issue 4
MARK_RATE_MIN = 1.0          # issue 4: GB/s of scanned memory
SNAPSHOT_MS_MAX = 10.0       # issue 5: snapshot and compare <= 10 ms


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sh(argv, timeout=600, env=None, stdin=None):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, input=stdin)


def runs_of(out):
    rows = []
    for line in out.splitlines():
        m = re.match(r"run \d+ pause_ms ([\d.]+) mark_ms ([\d.]+) total_ms ([\d.]+) scanned_mb ([\d.]+)", line)
        if m:
            rows.append(tuple(float(x) for x in m.groups()))
    return rows


class Figures:
    """Collects figures as (kind, objects, metric) -> [values] and failures."""

    def __init__(self):
        self.values = {}
        self.failures = []

    def add(self, kind, n, metric, xs):
        xs = [x for x in (xs if isinstance(xs, list) else [xs]) if x is not None]
        if xs:
            self.values[(kind, n, metric)] = xs

    def get(self, kind, n, metric):
        return self.values.get((kind, n, metric))

    def med(self, kind, n, metric):
        xs = self.get(kind, n, metric)
        return statistics.median(xs) if xs else None

    def cell(self, kind, n, metric, digits=1, ranged=True):
        xs = self.get(kind, n, metric)
        if not xs:
            return "—"
        f = "%%.%df" % digits
        if not ranged or len(xs) == 1:
            return f % statistics.median(xs)
        return (f + " (" + f + "–" + f + ")") % (statistics.median(xs), min(xs), max(xs))

    def csv(self):
        out = ["kind,objects,metric,median,min,max,runs"]
        for (kind, n, metric), xs in self.values.items():
            out.append("%s,%d,%s,%.6g,%.6g,%.6g,%d" % (kind, n, metric, statistics.median(xs), min(xs), max(xs),
                                                      len(xs)))
        return "\n".join(out) + "\n"


# ---- 1. Reachability pass vs LSan and valgrind ------------------------------------

def gc_section(build, sizes, runs, fig):
    gh = os.path.join(build, "bench", "gh-bench-gc")
    lsan = os.path.join(build, "bench", "gh-bench-gc-lsan")
    plain = os.path.join(build, "bench", "gh-bench-gc-plain")
    for n in sizes:
        log("  gc pass: %d objects" % n)
        r = sh([gh, str(n), str(runs)], timeout=1200)
        rows = runs_of(r.stdout)
        if r.returncode != 0 or not rows:
            fig.failures.append("gh-bench-gc %d: exit %d\n%s" % (n, r.returncode, r.stderr.strip()[-1000:]))
            continue
        fig.add("gc", n, "pause_ms", [x[0] for x in rows])
        fig.add("gc", n, "mark_ms", [x[1] for x in rows])
        fig.add("gc", n, "scanned_mb", [x[3] for x in rows])
        fig.add("gc", n, "mark_rate_gbs", [x[3] / 1024 / (x[1] / 1000) for x in rows if x[1] > 0])
        if n >= 100000:  # below, fixed costs dominate and the figure means nothing
            fig.add("gc", n, "pause_per_100k_ms", [x[0] / (n / 100000) for x in rows])
        if os.path.exists(lsan):
            env = dict(os.environ, LSAN_OPTIONS="max_leaks=1:exitcode=0")
            lr = sh([lsan, str(n), str(min(runs, 3))], timeout=1200, env=env)
            lrows = runs_of(lr.stdout)
            if lr.returncode != 0 or not lrows:
                fig.failures.append("gh-bench-gc-lsan %d: exit %d\n%s" % (n, lr.returncode, lr.stderr.strip()[-1000:]))
            fig.add("gc", n, "lsan_ms", [x[2] for x in lrows])
        if shutil.which("valgrind") and n <= 1000000 and os.path.exists(plain):
            def vg(check):
                t = time.time()
                rr = sh(["valgrind", "--leak-check=" + check, "--errors-for-leak-kinds=none", "-q", plain, str(n), "0"],
                        timeout=1800)
                if rr.returncode != 0:
                    fig.failures.append("valgrind --leak-check=%s gh-bench-gc-plain %d: exit %d\n%s" % (
                        check, n, rr.returncode, rr.stderr.strip()[-1000:]))
                return time.time() - t
            base, full = vg("no"), vg("full")
            fig.add("gc", n, "valgrind_ms", max(0.0, (full - base) * 1000))


def gc_tables(sizes, fig, lines):
    lines.append("## Reachability pass vs LeakSanitizer and valgrind\n")
    lines.append("Heap: N objects of 16..256 B with two pointers each, ~1% leaked (bench/gc_bench.c). glassheap: "
                 "pause (threads stopped) and mark time of one pass of `gh__mark_run`, the engine of "
                 "`POST /debug/memory/gc`; LSan: one `__lsan_do_recoverable_leak_check()` on the same heap built with "
                 "clang `-fsanitize=leak`; valgrind: wall time of `--leak-check=full` minus `--leak-check=no` for the "
                 "same program (one run each; skipped above 1M objects). Median (min–max).\n")
    lines.append("| live objects | glassheap pause ms | mark ms | scanned MB | mark rate GB/s | pause per 100k ms | "
                 "LSan check ms | valgrind leak check ms |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in sizes:
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            "{:,}".format(n), fig.cell("gc", n, "pause_ms"), fig.cell("gc", n, "mark_ms"),
            fig.cell("gc", n, "scanned_mb", ranged=False), fig.cell("gc", n, "mark_rate_gbs", 2),
            fig.cell("gc", n, "pause_per_100k_ms", ranged=False), fig.cell("gc", n, "lsan_ms"),
            fig.cell("gc", n, "valgrind_ms", 0, ranged=False) if n <= 1000000 else "(too slow)"))
    lines.append("")


# ---- 2 and 3. The debug server --------------------------------------------------------

class Host:
    """gh-bench-server N 1000 on a loopback port, stopped by closing stdin."""

    def __init__(self, build, n, env_extra):
        env = dict(os.environ)
        for k in ("GLASSHEAP_TRACE", "GLASSHEAP_UNWIND", "GLASSHEAP_TRACE_SAMPLE", "GLASSHEAP_HTTP", "LD_PRELOAD"):
            env.pop(k, None)
        env.update(env_extra)
        self.p = subprocess.Popen([os.path.join(build, "bench", "gh-bench-server"), str(n), str(TYPES)], env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        m = re.match(r"port (\d+)", line)
        self.base = "http://127.0.0.1:%s" % m.group(1) if m else None

    def command(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(60)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            self.p.kill()
            self.p.wait()
        return self.p.returncode


def request(fig, tmp, url, method="GET", accept="application/json", timeout=300):
    """(server-side ms, parsed JSON body or None); a failure is recorded and gives (None, None)."""
    body = os.path.join(tmp, "body")
    r = sh(["curl", "-s", "-X", method, "-o", body, "-H", "Accept: " + accept, "--max-time", str(timeout), "-w",
            "%{http_code} %{time_pretransfer} %{time_starttransfer}", url], timeout=timeout + 30)
    parts = r.stdout.split()
    if r.returncode != 0 or len(parts) != 3 or parts[0] != "200":
        fig.failures.append("%s %s: curl exit %d, answer %r" % (method, url, r.returncode, r.stdout))
        return None, None
    ms = (float(parts[2]) - float(parts[1])) * 1000
    doc = None
    if accept == "application/json":
        try:
            with open(body) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            fig.failures.append("%s %s: the answer is not JSON" % (method, url))
    return ms, doc


def timed(fig, tmp, url, count, method="GET", accept="application/json", field=None):
    """[ms] of count requests, and [doc[field]] when field is given."""
    ms, extra = [], []
    for _ in range(count):
        t, doc = request(fig, tmp, url, method, accept)
        if t is None:
            break
        ms.append(t)
        if field and doc and field in doc:
            extra.append(float(doc[field]))
    return ms, extra


def wrk(fig, url, accept, seconds):
    if not shutil.which("wrk"):
        return None
    r = sh(["wrk", "-t2", "-c16", "-d%ds" % seconds, "--timeout", "5s", "-H", "Accept: " + accept, url],
           timeout=seconds + 60)
    m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    if r.returncode != 0 or not m:
        fig.failures.append("wrk %s (%s): exit %d\n%s" % (url, accept, r.returncode, (r.stdout + r.stderr)[-500:]))
        return None
    if "Non-2xx" in r.stdout:
        fig.failures.append("wrk %s (%s): non-2xx answers\n%s" % (url, accept, r.stdout[-500:]))
    return float(m.group(1))


def server_section(build, sizes, count, heavy, wrk_seconds, fig, tmp):
    for n in sizes:
        log("  debug server: %d objects" % n)
        h = Host(build, n, {})
        try:
            if not h.base:
                fig.failures.append("gh-bench-server %d did not start" % n)
                continue
            b = h.base
            reps = heavy if n < 10000000 else max(1, min(heavy, 3))
            fig.add("server", n, "memory_json_ms", timed(fig, tmp, b + "/debug/memory?top_n=20", count)[0])
            fig.add("server", n, "memory_msgpack_ms",
                    timed(fig, tmp, b + "/debug/memory?top_n=20", count, accept="application/msgpack")[0])
            fig.add("server", n, "types_ms",
                    timed(fig, tmp, b + "/debug/memory/types?type_name=BenchType0001&samples=10", count)[0])
            fig.add("server", n, "types_rare_ms",
                    timed(fig, tmp, b + "/debug/memory/types?type_name=BenchRare&samples=1", reps)[0])
            fig.add("server", n, "sites_ms", timed(fig, tmp, b + "/debug/memory/sites?top_n=20", reps)[0])
            ms, pause = timed(fig, tmp, b + "/debug/memory/gc", reps, method="POST", field="pause_ms")
            fig.add("server", n, "gc_ms", ms)
            fig.add("server", n, "gc_pause_ms", pause)
            ms, pause = timed(fig, tmp, b + "/debug/memory/referrers?type_name=BenchType0001&max_referrers=5", reps,
                              field="pause_ms")
            fig.add("server", n, "referrers_ms", ms)
            fig.add("server", n, "referrers_pause_ms", pause)
            for accept, metric in (("application/json", "wrk_json_rps"), ("application/msgpack", "wrk_msgpack_rps")):
                fig.add("server", n, metric, wrk(fig, b + "/debug/memory?top_n=20", accept, wrk_seconds))
        finally:
            rc = h.close()
            if rc:
                fig.failures.append("gh-bench-server %d exited with %d" % (n, rc))

        log("  tracing: %d objects" % n)
        h = Host(build, n, {"GLASSHEAP_TRACE": "25", "GLASSHEAP_UNWIND": "fp"})
        try:
            if not h.base:
                fig.failures.append("gh-bench-server %d (tracing) did not start" % n)
                continue
            b = h.base
            _, st = request(fig, tmp, b + "/debug/tracemalloc/status")
            if st:
                fig.add("trace", n, "stacks", float(st.get("stacks", 0)))
            fig.add("trace", n, "snapshot_ms",
                    timed(fig, tmp, b + "/debug/tracemalloc/snapshot?name=before", count, method="POST")[0])
            if h.command("churn") != "done":
                fig.failures.append("gh-bench-server %d: churn failed" % n)
                continue
            request(fig, tmp, b + "/debug/tracemalloc/snapshot?name=after", method="POST")
            fig.add("trace", n, "compare_ms",
                    timed(fig, tmp, b + "/debug/tracemalloc/compare?snapshot1=before&snapshot2=after&top_n=10",
                          count)[0])
            fig.add("trace", n, "top_ms", timed(fig, tmp, b + "/debug/tracemalloc/top?top_n=10", count)[0])
        finally:
            rc = h.close()
            if rc:
                fig.failures.append("gh-bench-server %d (tracing) exited with %d" % (n, rc))


def server_tables(sizes, count, heavy, wrk_seconds, fig, lines):
    lines.append("## The debug server at scale (%d types)\n" % TYPES)
    lines.append("gh-bench-server: N objects over %d types, allocated through 4096 call chains. Server-side time: "
                 "curl `time_starttransfer − time_pretransfer` on loopback, median (min–max) of %d requests (%d for "
                 "the rare type, gc and referrers; at most 3 at 10M). `/types`: a common type with 10 samples, and "
                 "`BenchRare` (one object, allocated last) whose sample costs a walk of the heap. gc and referrers: the "
                 "whole request, and in brackets the pause the answer reports. wrk: 2 threads, 16 connections, %d s, "
                 "`GET /debug/memory?top_n=20`.\n" % (TYPES, count, heavy, wrk_seconds))
    lines.append("| live objects | /memory JSON ms | /memory msgpack ms | /types ms | /types rare ms | /sites ms "
                 "| POST /gc ms (pause) | /referrers ms (pause) | wrk JSON req/s | wrk msgpack req/s |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in sizes:
        def with_pause(metric):
            c = fig.cell("server", n, metric + "_ms")
            p = fig.med("server", n, metric + "_pause_ms")
            return c + (" (%.1f)" % p if p is not None else "")
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            "{:,}".format(n), fig.cell("server", n, "memory_json_ms", 3), fig.cell("server", n, "memory_msgpack_ms", 3),
            fig.cell("server", n, "types_ms", 3), fig.cell("server", n, "types_rare_ms", 3),
            fig.cell("server", n, "sites_ms", 3), with_pause("gc"),
            with_pause("referrers"), fig.cell("server", n, "wrk_json_rps", 0), fig.cell("server", n, "wrk_msgpack_rps", 0)))
    lines.append("")
    lines.append("## Tracing: snapshot, compare and top at scale\n")
    lines.append("The same host with `GLASSHEAP_TRACE=25 GLASSHEAP_UNWIND=fp` from start-up, so every object is traced. "
                 "`POST /debug/tracemalloc/snapshot` (the same name, replaced each time); then the host replaces 1%% of "
                 "its objects through other chains, a second snapshot is taken, and `GET /debug/tracemalloc/compare` "
                 "(top 10) and `GET /debug/tracemalloc/top` (top 10) are timed. Median (min–max) of %d requests.\n"
                 % count)
    lines.append("| live objects | distinct stacks | snapshot ms | compare ms | top ms |")
    lines.append("| --- | --- | --- | --- | --- |")
    for n in sizes:
        lines.append("| %s | %s | %s | %s | %s |" % (
            "{:,}".format(n), fig.cell("trace", n, "stacks", 0, ranged=False), fig.cell("trace", n, "snapshot_ms", 3),
            fig.cell("trace", n, "compare_ms", 3), fig.cell("trace", n, "top_ms", 3)))
    lines.append("")


def targets(sizes, fig, lines):
    """The targets of issues 3, 4 and 5 that these figures settle."""
    def verdict(ok):
        return "n/a" if ok is None else "met" if ok else "**not met**"

    lines.append("## Targets\n")
    lines.append("| target | figures | verdict |")
    lines.append("| --- | --- | --- |")
    mem = [(n, fig.med("server", n, "memory_json_ms"), fig.med("server", n, "memory_msgpack_ms")) for n in sizes]
    mem = [(n, j, m) for n, j, m in mem if j is not None and m is not None]
    if mem:
        worst = max(max(j, m) for _, j, m in mem)
        lines.append("| issue 3: GET /debug/memory ≤ %.0f ms, flat in the number of objects | %s | %s |" % (
            MEMORY_MS_MAX, "; ".join("%s: %.3f / %.3f ms" % ("{:,}".format(n), j, m) for n, j, m in mem),
            verdict(worst <= MEMORY_MS_MAX)))
    pause = [(n, fig.med("gc", n, "pause_per_100k_ms")) for n in sizes if n >= 100000]
    pause = [(n, p) for n, p in pause if p is not None]
    if pause:
        lines.append("| issue 4: pause ≤ %.0f ms per 100k objects | %s | %s |" % (
            PAUSE_PER_100K_MS_MAX, "; ".join("%s: %.1f ms" % ("{:,}".format(n), p) for n, p in pause),
            verdict(all(p <= PAUSE_PER_100K_MS_MAX for _, p in pause))))
    rate = [(n, fig.med("gc", n, "mark_rate_gbs")) for n in sizes if n >= 100000]
    rate = [(n, r) for n, r in rate if r is not None]
    if rate:
        met = [n for n, r in rate if r >= MARK_RATE_MIN]
        v = verdict(len(met) == len(rate))
        if met and len(met) < len(rate):
            v = "**not met** (met at %s only)" % ", ".join("{:,}".format(n) for n in met)
        lines.append("| issue 4: mark rate ≥ %.0f GB/s | %s | %s |" % (
            MARK_RATE_MIN, "; ".join("%s: %.2f GB/s" % ("{:,}".format(n), r) for n, r in rate), v))
    snap = [(n, fig.med("trace", n, "snapshot_ms"), fig.med("trace", n, "compare_ms")) for n in sizes]
    snap = [(n, s, c) for n, s, c in snap if s is not None and c is not None]
    if snap:
        lines.append("| issue 5: snapshot and compare ≤ %.0f ms | %s | %s |" % (
            SNAPSHOT_MS_MAX, "; ".join("%s: %.2f / %.2f ms" % ("{:,}".format(n), s, c) for n, s, c in snap),
            verdict(all(max(s, c) <= SNAPSHOT_MS_MAX for _, s, c in snap))))
    lines.append("")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--quick", action="store_true", help="1k and 10k objects, fewer requests")
    ap.add_argument("--smoke", action="store_true", help="1k objects; fails only when a run crashes (ctest)")
    ap.add_argument("--out")
    a = ap.parse_args()
    mode = "smoke" if a.smoke else "quick" if a.quick else "full"
    sizes, runs, count, heavy, wrk_seconds = MODES[mode]
    date = datetime.date.today().isoformat()
    out = a.out or os.path.join(HERE, "results", date)
    os.makedirs(out, exist_ok=True)
    fig = Figures()
    log("introspection.py: %s mode, sizes %s" % (mode, sizes))
    gc_section(a.build, sizes, runs, fig)
    with tempfile.TemporaryDirectory(prefix="gh-bench-introspection-") as tmp:
        server_section(a.build, sizes, count, heavy, wrk_seconds, fig, tmp)
    lines = ["# glassheap introspection costs (%s)\n" % date]
    if mode == "smoke":
        lines.append("**Smoke run (tiny sizes): the figures below are not meaningful.**\n")
    lines.append("Machine: %s, %d CPUs. Command: `python3 bench/introspection.py --build %s%s`\n" % (
        os.uname().release, os.cpu_count(), a.build, {"full": "", "quick": " --quick", "smoke": " --smoke"}[mode]))
    targets(sizes, fig, lines)
    gc_tables(sizes, fig, lines)
    server_tables(sizes, count, heavy, wrk_seconds, fig, lines)
    if fig.failures:
        lines.append("## Failures\n")
        for f in fig.failures:
            lines.append("```\n%s\n```\n" % f)
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(out, "introspection.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(out, "introspection.csv"), "w") as f:
        f.write(fig.csv())
    return 1 if fig.failures else 0


if __name__ == "__main__":
    sys.exit(main())
