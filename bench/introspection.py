#!/usr/bin/env python3
"""Introspection costs at scale, side by side with peers.

  python3 bench/introspection.py --build BUILD [--quick] [--out DIR]

1. Reachability pass (POST /debug/memory/gc's engine) at 100k / 1M / 10M live
   objects: pause and mark time, scanned MB, mark rate; LeakSanitizer's
   __lsan_do_recoverable_leak_check() on the same heap (clang -fsanitize=leak);
   valgrind memcheck's leak check on the same heap (wall time with
   --leak-check=full minus --leak-check=no), where it finishes in reasonable time.
2. GET /debug/memory at 1k / 100k / 1M objects over 1000 types: server-side
   time (curl's time_starttransfer - time_pretransfer, median of 20), and wrk
   throughput on loopback (bounded run) for JSON and msgpack.

Only loopback; every run bounded. Prints markdown and writes it (plus CSV) to
DIR (default bench/results/<date>/introspection.md).
"""
import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def sh(argv, timeout=600, env=None, stdin=None):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, input=stdin)


def runs_of(out):
    rows = []
    for line in out.splitlines():
        m = re.match(r"run \d+ pause_ms ([\d.]+) mark_ms ([\d.]+) total_ms ([\d.]+) scanned_mb ([\d.]+)", line)
        if m:
            rows.append(tuple(float(x) for x in m.groups()))
    return rows


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def gc_section(build, sizes, runs, lines, csv):
    gh = os.path.join(build, "bench", "gh-bench-gc")
    lsan = os.path.join(build, "bench", "gh-bench-gc-lsan")
    plain = os.path.join(build, "bench", "gh-bench-gc-plain")
    lines.append("## Reachability pass vs LeakSanitizer and valgrind\n")
    lines.append("Heap: N objects of 16..256 B with two pointers each, ~1%% leaked. glassheap: pause "
                 "(threads stopped) and mark time of one pass, median of %d; LSan: one "
                 "`__lsan_do_recoverable_leak_check()`; valgrind: wall time of `--leak-check=full` minus "
                 "`--leak-check=no` for the same program.\n" % runs)
    lines.append("| live objects | glassheap pause ms | glassheap mark ms | scanned MB | mark rate GB/s | "
                 "pause per 100k objects ms | LSan check ms | valgrind leak check ms |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in sizes:
        r = sh([gh, str(n), str(runs)], timeout=1200)
        rows = runs_of(r.stdout)
        if r.returncode != 0 or not rows:
            lines.append("| %d | failed: %s |" % (n, r.stderr.strip()[-200:]))
            continue
        pause = med([x[0] for x in rows])
        mark = med([x[1] for x in rows])
        scanned = med([x[3] for x in rows])
        rate = scanned / 1024 / (mark / 1000) if mark > 0 else float("nan")
        lsan_ms = "n/a"
        if os.path.exists(lsan):
            env = dict(os.environ, LSAN_OPTIONS="max_leaks=1:exitcode=0")
            lr = sh([lsan, str(n), str(min(runs, 3))], timeout=1200, env=env)
            lrows = runs_of(lr.stdout)
            if lrows:
                lsan_ms = "%.1f" % med([x[2] for x in lrows])
        vg_ms = "skipped (too slow)"
        if shutil.which("valgrind") and n <= 1000000 and os.path.exists(plain):
            def vg(check):
                t = time.time()
                sh(["valgrind", "--leak-check=" + check, "--errors-for-leak-kinds=none", "-q", plain, str(n), "0"],
                   timeout=1800)
                return time.time() - t
            base, full = vg("no"), vg("full")
            vg_ms = "%.0f" % max(0.0, (full - base) * 1000)
        lines.append("| %d | %.1f | %.1f | %.1f | %.2f | %.1f | %s | %s |" % (
            n, pause, mark, scanned, rate, pause / (n / 100000), lsan_ms, vg_ms))
        csv.append("gc,%d,%.3f,%.3f,%.2f,%.3f,%s,%s" % (n, pause, mark, scanned, rate, lsan_ms, vg_ms))
    lines.append("")
    lines.append("Targets (issue 4): pause <= 50 ms per 100k objects; mark rate >= 1 GB/s of scanned memory.\n")


def server_section(build, sizes, lines, csv, wrk_seconds):
    host = os.path.join(build, "bench", "gh-bench-server")
    lines.append("## GET /debug/memory at scale (1000 types)\n")
    lines.append("Server-side time: curl `time_starttransfer - time_pretransfer` on loopback, median of 20 "
                 "requests. Throughput: wrk, 2 threads, 16 connections, %d s.\n" % wrk_seconds)
    lines.append("| live objects | JSON ms (median) | msgpack ms (median) | wrk JSON req/s | wrk msgpack req/s |")
    lines.append("| --- | --- | --- | --- | --- |")
    for n in sizes:
        p = subprocess.Popen([host, str(n), "1000"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline()
            m = re.match(r"port (\d+)", line)
            if not m:
                lines.append("| %d | host failed |" % n)
                continue
            port = int(m.group(1))
            url = "http://127.0.0.1:%d/debug/memory?top_n=20" % port

            def timed(accept):
                xs = []
                for _ in range(20):
                    r = sh(["curl", "-s", "-o", "/dev/null", "-H", "Accept: " + accept, "-w",
                            "%{time_pretransfer} %{time_starttransfer}", url], timeout=30)
                    a, b = (float(x) for x in r.stdout.split())
                    xs.append((b - a) * 1000)
                return med(xs)
            js, mp = timed("application/json"), timed("application/msgpack")
            wj = wm = "n/a"
            if shutil.which("wrk"):
                def wrk(accept):
                    r = sh(["wrk", "-t2", "-c16", "-d%ds" % wrk_seconds, "--timeout", "5s", "-H", "Accept: " + accept,
                            url], timeout=wrk_seconds + 30)
                    mm = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
                    return mm.group(1) if mm else "n/a"
                wj, wm = wrk("application/json"), wrk("application/msgpack")
            lines.append("| %d | %.3f | %.3f | %s | %s |" % (n, js, mp, wj, wm))
            csv.append("memory,%d,%.4f,%.4f,%s,%s" % (n, js, mp, wj, wm))
        finally:
            p.stdin.close()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    lines.append("")
    lines.append("Target (issue 3): <= 1 ms at 1M objects and flat in the number of objects.\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes; fails only when a run crashes (ctest)")
    ap.add_argument("--out")
    a = ap.parse_args()
    date = datetime.date.today().isoformat()
    out = a.out or os.path.join(HERE, "results", date)
    os.makedirs(out, exist_ok=True)
    lines = ["# glassheap introspection costs (%s)\n" % date,
             "Machine: %s, %d CPUs. Command: `python3 bench/introspection.py --build %s%s`\n" % (
                 os.uname().release, os.cpu_count(), a.build, " --quick" if a.quick else "")]
    csv = ["kind,n,a,b,c,d,e,f"]
    if a.smoke:
        gc_section(a.build, [10000], 1, lines, csv)
        server_section(a.build, [1000], lines, csv, 1)
    elif a.quick:
        gc_section(a.build, [10000, 100000], 2, lines, csv)
        server_section(a.build, [1000, 100000], lines, csv, 1)
    else:
        gc_section(a.build, [100000, 1000000, 10000000], 5, lines, csv)
        server_section(a.build, [1000, 100000, 1000000], lines, csv, 5)
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(out, "introspection.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(out, "introspection.csv"), "w") as f:
        f.write("\n".join(csv) + "\n")
    failed = [l for l in lines if "failed" in l]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
