#!/usr/bin/python3
"""sites_blame -- blame the caller, end to end: sites_workload.cc, a C++
program not linked with glassheap, runs under LD_PRELOAD and allocates
through strdup, strndup, asprintf, getline, realpath, std::string,
std::vector (reserve and push_back), a wrapper of its own (named in
GLASSHEAP_WRAPPERS), GLib's g_strdup (when libglib-2.0.so.0 is installed) and
plain malloc. Each line marked "// SITE:<name> <n>"
must be, in GET /debug/memory/sites (no tracing; fetched with curl, JSON and
msgpack, the msgpack read by the project's own decoder) and in tracemalloc's
top grouped by line (tracing), the site of exactly n live objects; no row
may name a wrapper's file (libc's strdup.c, vasprintf.c, the C++ headers).
Also the endpoint's parameters: sort_by, type_name, top_n, and the 422s.

Standard library only; run it with /usr/bin/python3.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from ghtest import Proc, check, finish, section, skip  # noqa: E402

ARGS = None


NOGLIB = False


def markers():
    """{lineno: (name, count)} from the workload's source (g_strdup's count is
    0 when GLib is not installed)."""
    out = {}
    with open(ARGS.source) as f:
        for no, line in enumerate(f, 1):
            m = re.search(r"// SITE:(\w+) (\d+)$", line.rstrip())
            if m:
                out[no] = (m.group(1), 0 if NOGLIB and m.group(1) == "g_strdup" else int(m.group(2)))
    return out


def curl(port, path, msgpack=False, method="GET"):
    """(status, document) through curl; msgpack bodies go through msgpack2json."""
    argv = ["curl", "-s", "-X", method, "-o", "-", "-w", "\n%{http_code}", "http://127.0.0.1:%d%s" % (port, path)]
    if msgpack:
        argv[1:1] = ["-H", "Accept: application/msgpack"]
    r = subprocess.run(argv, capture_output=True, timeout=60)
    body, _, code = r.stdout.rpartition(b"\n")
    status = int(code or b"0")
    if msgpack:
        d = subprocess.run([ARGS.msgpack2json], input=body, capture_output=True, timeout=20)
        if d.returncode != 0:
            return status, None
        body = d.stdout
    try:
        return status, json.loads(body.decode("utf-8"))
    except ValueError:
        return status, None


def start(extra_env=None):
    env = {"LD_PRELOAD": ARGS.lib, "GLASSHEAP_HTTP": "127.0.0.1:0", "GLASSHEAP_WRAPPERS": "sites_xmalloc"}
    env.update(extra_env or {})
    p = Proc([ARGS.workload], env=env)
    m = p.wait_stderr(r"listening on 127\.0\.0\.1:(\d+)", 15)
    if not check(m is not None, "the workload's server listens: %r" % p.stderr_lines()):
        return None, None
    return p, int(m.group(1))


def ours(row):
    return os.path.basename(row.get("filename", "")) == os.path.basename(ARGS.source)


def check_lines(rows, what):
    """rows: dicts with filename, lineno, count. Every marked line has its exact count."""
    want = markers()
    got = {no: 0 for no in want}
    for r in rows:
        if ours(r):
            got[r["lineno"]] = got.get(r["lineno"], 0) + r["count"]
    for no, (name, n) in sorted(want.items()):
        check(got.get(no) == n, "%s: %s at line %d has %r objects, want %d" % (what, name, no, got.get(no), n))
    # Nothing counted against a wrapper's code or a system header.
    bad = [r for r in rows if re.search(r"strdup|strndup|vasprintf|getdelim|realpath|canonicalize|/usr/include/",
                                          r.get("filename", "")) and r["count"] >= 150]
    check(not bad, "%s: no big row names a wrapper's file" % what, bad)


def go(p):
    global NOGLIB
    reply = p.cmd("go", 60)
    NOGLIB = reply == "done noglib"
    return reply in ("done", "done noglib")


def case_sites():
    section("/debug/memory/sites without tracing")
    p, port = start()
    if not p:
        return
    check(go(p), "the workload allocated")
    status, d = curl(port, "/debug/memory/sites?top_n=1000")
    if not check(status == 200 and d is not None, "GET /debug/memory/sites: %r" % status):
        return
    check(set(d) == {"summary", "top_sites", "unique_sites", "sort_by"}, "keys: %r" % list(d))
    check(set(d["summary"]) == {"total_objects", "total_size_bytes", "total_size_mb", "unique_types"},
          "the summary of /debug/memory")
    rows = d["top_sites"]
    fields = ["site", "module", "function", "filename", "lineno", "line", "type", "count", "total_size_bytes",
              "avg_size_bytes", "total_size_mb"]
    check(rows and all(list(r) == fields for r in rows), "row fields in order", rows[:1])
    check_lines(rows, "sites")
    for r in rows:
        if ours(r) and r["lineno"] in markers():
            check(r["function"] == "allocate", "function of line %d: %r" % (r["lineno"], r["function"]))
            check(re.match(r".*sites_workload_preload\+0x[0-9a-f]+$", r["site"]) is not None,
                  "site is module+0xoffset: %r" % r["site"])
            check("SITE:" in r["line"], "the source line is sent: %r" % r["line"])
            check(r["avg_size_bytes"] == r["total_size_bytes"] // r["count"], "avg_size_bytes")
    by_line = {r["lineno"]: r for r in rows if ours(r)}
    names = {name: no for no, (name, n) in markers().items()}
    check(by_line.get(names["strdup"], {}).get("total_size_bytes") == 1000 * 22, "strdup bytes exact")
    check(by_line.get(names["xmalloc"], {}).get("total_size_bytes") == 250 * 48, "the program's own wrapper")
    check(by_line.get(names["reserve"], {}).get("type") == "operator new", "std::vector via operator new")
    sizes = [r["total_size_bytes"] for r in rows]
    check(sizes == sorted(sizes, reverse=True), "sorted by size")
    check(d["unique_sites"] >= len(markers()), "unique_sites counts every (site, type)")

    status, m = curl(port, "/debug/memory/sites?top_n=1000", msgpack=True)
    check(status == 200 and m is not None and m["top_sites"] == rows, "msgpack == JSON (rows)")

    status, c = curl(port, "/debug/memory/sites?sort_by=count&top_n=5")
    counts = [r["count"] for r in c["top_sites"]] if c else []
    check(status == 200 and len(counts) == 5 and counts == sorted(counts, reverse=True) and counts[0] == 1000,
          "sort_by=count, top_n=5: %r" % counts)
    status, t = curl(port, "/debug/memory/sites?type_name=operator%20new&top_n=1000")
    check(status == 200 and t and t["top_sites"] and all(r["type"] == "operator new" for r in t["top_sites"]),
          "type_name filters")
    status, t = curl(port, "/debug/memory/sites?type_name=no-such-type")
    check(status == 200 and t and t["top_sites"] == [], "an unknown type has no rows")
    for q, param in (("top_n=0", "top_n"), ("top_n=1001", "top_n"), ("top_n=x", "top_n"),
                     ("sort_by=bytes", "sort_by")):
        for mp in (False, True):
            status, e = curl(port, "/debug/memory/sites?" + q, msgpack=mp)
            ok = status == 422 and e and any(param in err.get("loc", []) for err in e.get("detail", []))
            check(ok, "%s -> 422 naming %s (msgpack %s): %r %r" % (q, param, mp, status, e))
    check(p.close() == 0, "the workload exits cleanly")


def case_trace():
    section("tracemalloc top by line")
    p, port = start()
    if not p:
        return
    status, d = curl(port, "/debug/tracemalloc/start?frames=16", method="POST")
    check(status == 200, "tracing starts: %r %r" % (status, d))
    check(go(p), "the workload allocated")
    status, d = curl(port, "/debug/tracemalloc/top?top_n=100&group_by=lineno")
    if check(status == 200 and d is not None, "GET top: %r" % status):
        check_lines(d["top_allocations"], "tracemalloc top")
    check(p.close() == 0, "the workload exits cleanly")


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--workload", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--msgpack2json", required=True)
    ARGS = ap.parse_args()
    if not shutil.which("curl"):
        skip("curl is not installed")
    case_sites()
    case_trace()


if __name__ == "__main__":
    sys.exit(finish(main))
