#!/usr/bin/python3
"""Integration tests of the `glassheap` command-line client (http/client/).

Run by /usr/bin/python3 (Debian's python3-msgpack is installed for it), one
ctest per case (http/client/CMakeLists.txt):

    test_client.py --case NAME --cli glassheap --host gh_test_client_host
                   --lib libglassheap.so [--demo=glassheap-demo]

Cases:
  endpoints  every endpoint subcommand against the host (tables checked against
             the decoded response; --json, --decoded, -o; Unix sockets)
  errors     connection refused, missing socket, 401, 422, 404, usage errors,
             and a scripted fake server for 405/500/503/timeouts/garbage
  diff       two saved /debug/memory responses, JSON vs JSON, msgpack vs JSON
  watch      a bounded number of rounds, a growing type, Ctrl-C, --json
  run        the launcher on real programs (sleep, python3, sh), queried while
             they run; exit statuses, LD_PRELOAD, environment, signals
  children   what the launched program's children get: no glassheap by
             default (fork and posix_spawn/vfork children, exec), the preload
             without a server with --follow-children, one server in all
  width      every table-printing command against a host with long and wide
             (CJK) names and a long function name: at --width 80 and
             COLUMNS=80 no line is wider than 80 columns (display width) and
             every count and size is there; --wide shows every name whole;
             code locations (function, file:line, module+0xoffset) equal the
             server's documents, also for python3 under the preload
  interop    a Python msgpack client and the C client decode the same documents
  demo       the demo service (skipped, exit 77, when it is not built)

Only loopback addresses and temporary Unix sockets are used; every wait is
bounded; every child process is killed at the end. Exit status 0 when every
check passed.
"""
import argparse
import http.server
import json
import math
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import urllib.parse

import msgpack

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from ghtest import CHILDREN, FAILURES, check, free_port, kill_children, request, section  # noqa: E402

ARGS = None
PROGRAM_PIDS = []  # (pid, program) started by `glassheap run`: killed at the end if still theirs
TMP = None


# ---- Processes ------------------------------------------------------------------

def clean_env(extra=None):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("GLASSHEAP_") or k in ("LD_PRELOAD", "http_proxy", "https_proxy",
                                                "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
            del env[k]
    env.update(extra or {})
    return env


class Host:
    """gh_test_client_host: known objects, the server on port 0, commands on stdin."""

    def __init__(self, listen=None, env=None):
        argv = [ARGS.host] + (["--listen", listen] if listen else [])
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=clean_env(env))
        CHILDREN.append(self.p)
        line = self.readline(10)
        m = re.match(r"ready rc=(\d+) port=(\d+) pid=(\d+)", line or "")
        if not m or m.group(1) != "0":
            raise RuntimeError("host did not start: %r" % line)
        self.port = int(m.group(2))
        self.url = "http://127.0.0.1:%d" % self.port

    def readline(self, timeout):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not r:
            return None
        return self.p.stdout.readline().decode(errors="replace").strip()

    def cmd(self, line, timeout=10):
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()
        return self.readline(timeout)

    def stop(self):
        try:
            self.p.stdin.write(b"quit\n")
            self.p.stdin.flush()
            self.p.wait(5)
        except Exception:
            self.p.kill()
            self.p.wait(5)


def cli(args, env=None, timeout=30, binary=False, url=None):
    """Runs the client; returns (rc, stdout, stderr)."""
    e = clean_env(env)
    if url:
        e["GLASSHEAP_URL"] = url
    p = subprocess.run([ARGS.cli] + args, capture_output=True, env=e, timeout=timeout)
    out = p.stdout if binary else p.stdout.decode(errors="replace")
    return p.returncode, out, p.stderr.decode(errors="replace")


# ---- A plain Python client --------------------------------------------------------

def py_fetch(base, method, path, params=None, accept="application/msgpack", token=None, unix=None):
    """One request through tests/pylib/ghtest.py; returns (status, headers, decoded document)."""
    qs = ("?" + urllib.parse.urlencode(params)) if params else ""
    u = urllib.parse.urlsplit(base)
    headers = {"Accept": accept}
    if token:
        headers["Authorization"] = "Bearer %s" % token
    r = request(None if unix else u.port, path + qs, method, headers, timeout=10, unix=unix,
                addr=u.hostname or "127.0.0.1")
    if "application/msgpack" in r.ctype():
        doc = msgpack.unpackb(r.body, raw=False, strict_map_key=False)
    else:
        doc = json.loads(r.body)
    return r.status, r.headers, doc


# ---- What the client prints, recomputed --------------------------------------------

def hsize(b, sign=False):
    """gh__fmt_size."""
    s = "-" if b < 0 else ("+" if sign and b > 0 else "")
    a = abs(float(b))
    if a < 1024:
        return "%s%.0f B" % (s, a)
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    u = 0
    while a >= 1024 and u + 1 < len(units):
        a /= 1024
        u += 1
    if math.floor(a * 10 + 0.5) / 10 >= 1024 and u + 1 < len(units):
        a /= 1024
        u += 1
    return "%s%.1f %s" % (s, a, units[u])


def hint(v, sign=False):
    return ("+%d" % v) if sign and v > 0 else str(v)


def safe(s):
    """gh__fmt_safe: control characters escaped."""
    out = []
    for ch in s:
        c = ord(ch)
        if c < 0x20 or c == 0x7F or 0x80 <= c < 0xA0:
            out.append("\\x%02x" % (c & 0xFF))
        else:
            out.append(ch)
    return "".join(out)


def table_rows(text, header_start):
    """Rows of the aligned table whose header line starts with header_start,
    as lists of cells (columns are separated by two spaces or more)."""
    lines = text.split("\n")
    for i, ln in enumerate(lines):
        if ln.startswith(header_start):
            rows = []
            for r in lines[i + 1:]:
                if not r.strip() or r.startswith("("):
                    break
                rows.append(re.split(r"\s{2,}", r.strip()))
            return rows
    return None


def display_width(s):
    """Terminal columns of s: East Asian wide/fullwidth characters take 2,
    combining marks 0 (what wcwidth says in a UTF-8 locale)."""
    w = 0
    for ch in s:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


def check_fits(out, width, what):
    wide = [ln for ln in out.split("\n") if display_width(ln) > width]
    return check(not wide, "%s: no line wider than %d columns" % (what, width),
                 "\n".join("%d: %s" % (display_width(ln), ln) for ln in wide[:5]))


def elided_from(cell, full):
    """The cell shows full, or full cut with the ellipsis (its start, its end,
    or the start of its last component and its :line/+0xoffset)."""
    if cell == full:
        return True
    if "\u2026" not in cell:
        return False
    head, _, tail = cell.partition("\u2026")
    if not full.endswith(tail) or len(head) + len(tail) >= len(full):
        return False
    last = full[:len(full) - len(tail)].rsplit("/", 1)[-1]
    return full.startswith(head) or last.startswith(head)


def row_for(rows, name):
    for r in rows or []:
        if r and r[0] == name:
            return r
    return None


def same_typed(a, b):
    """Deep equality that also tells 1 from 1.0 and keeps key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a.keys()) == list(b.keys()) and all(same_typed(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_typed(x, y) for x, y in zip(a, b))
    return a == b


KNOWN = {"CliAlpha": (100, 4800), "CliBeta": (7, sum(1000 + i for i in range(7))),
         'Cli "Gamma" \u03c0': (3, 30), "CliEsc\x1b[31m": (2, 32)}


# ---- Case: endpoints -----------------------------------------------------------------

def case_endpoints():
    h = Host()
    try:
        section("memory: table rows equal the decoded response")
        rc, out, err = cli(["memory", "--top-n", "100"], url=h.url)
        check(rc == 0, "memory exits 0", err)
        _, _, doc = py_fetch(h.url, "GET", "/debug/memory", {"top_n": 100})
        rows = table_rows(out, "TYPE")
        check(rows is not None, "memory prints a TYPE table", out)
        check(re.match(r"\d+ objects, [\d.]+ \w+ \(\d+ bytes\), \d+ types; top \d+ by size\n", out) is not None,
              "memory summary line", out)
        for name, (count, size) in KNOWN.items():
            r = row_for(rows, safe(name))
            entry = [e for e in doc["top_objects"] if e["type"] == name]
            check(r is not None and len(entry) == 1, "memory row for %r" % name, out)
            if r and entry:
                e = entry[0]
                check(e["count"] == count and e["total_size_bytes"] == size, "server figures for %r" % name, e)
                check(r[1] == str(e["count"]), "count cell of %r is exact" % name, r)
                check(r[2] == hsize(e["total_size_bytes"]), "size cell of %r" % name, r)
                check(r[4] == hsize(e["avg_size_bytes"]), "avg cell of %r" % name, r)
        check("\x1b" not in out, "no raw escape character reaches the terminal")
        check("gc: collections [" in out and "allocator: requested" in out, "memory footer lines", out)

        section("memory --sort-by count --top-n 3: the server's order")
        rc, out, err = cli(["memory", "--sort-by", "count", "-n", "3"], url=h.url)
        rows = table_rows(out, "TYPE")
        check(rc == 0 and rows is not None and len(rows) == 3, "three rows", out + err)
        _, _, doc = py_fetch(h.url, "GET", "/debug/memory", {"top_n": 3, "sort_by": "count"})
        cli_order = [r[0] for r in rows or [] if r[0].startswith("Cli")]
        doc_order = [safe(e["type"]) for e in doc["top_objects"] if e["type"].startswith("Cli")]
        check(cli_order == doc_order, "rows in the server's order", (rows, doc["top_objects"]))
        check("top 3 by count" in out, "summary names the ranking", out)

        section("memory --json, --decoded, -o")
        rc, out, err = cli(["memory", "--json", "--top-n", "100"], url=h.url)
        j = json.loads(out) if rc == 0 else {}
        check(rc == 0 and set(j) >= {"summary", "top_objects", "gc_stats", "sort_by"}, "--json prints the document", out)
        check(out.startswith('{"summary":'), "--json prints the server's bytes as received", out[:80])
        raw = os.path.join(TMP, "memory.msgpack")
        rc, out, err = cli(["memory", "--decoded", "--top-n", "100", "-o", raw], url=h.url)
        check(rc == 0, "--decoded -o exits 0", err)
        with open(raw, "rb") as f:
            saved = msgpack.unpackb(f.read(), raw=False)
        check(same_typed(json.loads(out), saved), "--decoded prints what -o saved, decoded")
        rc, out, err = cli(["memory", "-o", "-"], url=h.url, binary=True)
        check(rc == 0 and isinstance(msgpack.unpackb(out, raw=False), dict), "-o - writes raw msgpack to stdout")
        jpath = os.path.join(TMP, "memory.json")
        rc, out, err = cli(["memory", "--json", "-o", jpath], url=h.url)
        check(rc == 0 and json.load(open(jpath))["sort_by"] == "size", "--json -o saves JSON")

        section("types")
        rc, out, err = cli(["types", "CliAlpha", "--samples", "3"], url=h.url)
        check(rc == 0, "types exits 0", err)
        check(re.search(r"^count\s+100$", out, re.M) is not None, "types count exact", out)
        check(re.search(r"^size\s+4\.7 KiB \(4800 bytes\)$", out, re.M) is not None, "types size", out)
        check("samples (3):\n  CliAlpha{index=0}\n  CliAlpha{index=1}\n  CliAlpha{index=2}\n" in out,
              "types samples rendered by the formatter", out)
        rc, out, err = cli(["types", 'Cli "Gamma" \u03c0', "--samples", "1"], url=h.url)
        check(rc == 0 and re.search(r"^count\s+3$", out, re.M), "a type name needing URL escapes", out + err)
        check(re.search(r"^type\s+Cli \"Gamma\" \u03c0$", out, re.M) is not None, "name shown as is", out)
        rc, out, err = cli(["types", "CliEsc\x1b[31m"], url=h.url)
        check(rc == 0 and "CliEsc\\x1b[31m" in out and "\x1b" not in out, "control characters escaped", out)
        rc, out, err = cli(["types", "NoSuchType"], url=h.url)
        check(rc == 0 and re.search(r"^count\s+0$", out, re.M) and "samples: none" in out, "unknown type", out)
        rc, out, err = cli(["types", "--", "-dash"], url=h.url)
        check(rc == 0 and re.search(r"^type\s+-dash$", out, re.M), "'--' ends options", out + err)

        section("sites --type CliAlpha: the allocating line, exact")
        rc, out, err = cli(["sites", "--type", "CliAlpha", "--wide"], url=h.url)
        rows = table_rows(out, "FUNCTION")
        check(rc == 0 and rows is not None and len(rows) == 1, "one site allocates CliAlpha", out + err)
        _, _, doc = py_fetch(h.url, "GET", "/debug/memory/sites", {"type_name": "CliAlpha"})
        if rows and len(rows) == 1 and len(doc["top_sites"]) == 1:
            e = doc["top_sites"][0]
            check(e["count"] == 100 and e["total_size_bytes"] == 4800, "server figures for CliAlpha", e)
            check(rows[0][0] == "main" and rows[0][1] == "%s:%d" % (e["filename"], e["lineno"]) and
                  e["filename"].endswith("client_host.c"), "function and file:line cells", (rows, e))
            check(rows[0][2:5] == ["CliAlpha", "100", hsize(4800)], "type, count and size cells", rows)
        check(re.match(r"\d+ objects, [\d.]+ \w+ \(\d+ bytes\), 1 sites; top 1 by size\n", out) is not None,
              "sites summary line", out)
        rc, out, err = cli(["sites", "--sort-by", "count", "-n", "2"], url=h.url)
        rows = table_rows(out, "FUNCTION")
        check(rc == 0 and rows is not None and len(rows) == 2 and "top 2 by count" in out, "sites -n 2 --sort-by count",
              out + err)

        section("gc")
        rc, out, err = cli(["gc"], url=h.url)
        check(rc == 0, "gc exits 0", out + err)
        for label in ("collected objects", "objects before", "objects after", "objects freed"):
            check(re.search(r"^%s\s+\d+$" % label, out, re.M) is not None, "gc shows %s" % label, out)
        check("gc stats: collections [" in out, "gc shows gc_stats", out)
        rc, out, err = cli(["gc", "--json"], url=h.url)
        j = json.loads(out) if rc == 0 else {}
        check(set(j) >= {"collected_objects", "objects_before", "objects_after", "objects_freed", "gc_stats"},
              "gc --json fields", out)

        section("referrers")
        rc, out, err = cli(["referrers", "CliAlpha", "--max-referrers", "3"], url=h.url)
        check(rc == 0, "referrers exits 0", out + err)
        _, _, doc = py_fetch(h.url, "GET", "/debug/memory/referrers", {"type_name": "CliAlpha", "max_referrers": 3})
        check(out.startswith("CliAlpha: %d objects, %d analyzed" % (doc["object_count"], doc["analyzed_sample_size"])),
              "referrers headline equals the document", (out, doc))
        rows = table_rows(out, "REFERRER") or []
        check(len(rows) == len(doc["top_referrers"]), "one row per referrer", (out, doc))
        for r, e in zip(rows, doc["top_referrers"]):
            check(r == [safe(e["type"]), str(e["count"])], "referrer row %r" % e["type"], r)

        section("trace")
        trace_steps = [
            (["trace", "start", "--frames", "5"], "start", r"^status\s+started$"),
            (["trace", "status"], "status", r"^tracing\s+yes$"),
            (["trace", "snapshot", "s1"], "snapshot", r"^name\s+s1$"),
            (["trace", "top", "--top-n", "5", "--group-by", "lineno"], "top", r"^grouped by lineno"),
            (["trace", "snapshot", "s2"], "snapshot", r"^snapshots\s+.*s2"),
            (["trace", "compare", "s1", "s2", "--top-n", "5"], "compare", r"^s1 -> s2, grouped by lineno"),
            (["trace", "traceback", "--top-n", "2"], "traceback", r"^(#1 |\(no traced allocations\))"),
            (["trace", "delete", "s1"], "delete", r"^status\s+deleted$"),
            (["trace", "stop"], "stop", r"^status\s+stopped$"),
        ]
        for argv, word, pattern in trace_steps:
            rc, out, err = cli(argv, url=h.url)
            check(rc == 0 and re.search(pattern, out, re.M), "trace %s: exit 0 and %s" % (word, pattern), out + err)

        section("--url takes a listen address too, read by the server's own parser")
        for spec in ("127.0.0.1:%d" % h.port, str(h.port), "localhost:%d" % h.port):
            rc, out, err = cli(["--url", spec, "memory", "--top-n", "1"])
            check(rc == 0 and table_rows(out, "TYPE") is not None, "--url %s" % spec, out + err)
        for spec in ("+%d" % h.port, "127.0.0.1:%d " % h.port, "unix:"):
            rc, out, err = cli(["--url", spec, "memory"])
            check(rc == 1 and "want" in err, "--url %r is refused, as the server refuses it" % spec, (rc, err))

        section("404 through a wrong base URL")
        rc, out, err = cli(["--url", h.url + "/prefix", "memory"])
        check(rc == 3 and "Not Found" in err and "404" in err, "404 reported, exit 3", err)

        section("Unix socket: --unix, --url unix:, GLASSHEAP_URL=unix:")
        sock = os.path.join(TMP, "debug.sock")
        u = Host(listen="unix:" + sock)
        try:
            for argv, env in ((["--unix", sock, "memory"], None), (["--url", "unix:" + sock, "memory"], None),
                              (["memory"], {"GLASSHEAP_URL": "unix:" + sock})):
                rc, out, err = cli(argv, env=env)
                r = row_for(table_rows(out, "TYPE"), "CliAlpha")
                check(rc == 0 and r is not None and r[1] == "100", "over the socket: %s" % argv, out + err)
        finally:
            u.stop()
    finally:
        h.stop()


# ---- Case: errors ---------------------------------------------------------------------

class FakeHandler(http.server.BaseHTTPRequestHandler):
    """Answers what SCRIPT says for the request's path; records every request."""
    SCRIPT = {}
    SEEN = []

    def log_message(self, *a):
        pass

    def handle_any(self):
        path = urllib.parse.urlsplit(self.path).path
        FakeHandler.SEEN.append((self.command, self.path, dict(self.headers)))
        status, headers, body, delay = FakeHandler.SCRIPT.get(
            path, (404, {"Content-Type": "application/json"}, b'{"detail":"Not Found"}', 0))
        if delay:
            time.sleep(delay)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = handle_any


def case_errors():
    section("connection refused")
    port = free_port()
    rc, out, err = cli(["--url", "http://127.0.0.1:%d" % port, "memory"])
    check(rc == 2, "refused: exit 2", err)
    check("cannot connect" in err and "127.0.0.1:%d" % port in err and "Connection refused" in err,
          "refused: says where it tried", err)
    rc, out, err = cli(["watch", "--count", "2"], url="http://127.0.0.1:%d" % port)
    check(rc == 2, "watch refused: exit 2", err)
    rc, out, err = cli(["memory", "--timeout", "5"], env={})  # the default target, 127.0.0.1:8000
    check(rc != 2 or "http://127.0.0.1:8000" in err, "the default target is named", err)
    missing = os.path.join(TMP, "missing.sock")
    rc, out, err = cli(["--unix", missing, "memory"])
    check(rc == 2 and missing in err, "missing socket: exit 2 and its path", err)

    section("usage errors: exit 1")
    for argv in (["bogus"], ["types"], ["trace"], ["trace", "nope"], ["memory", "--bogus"],
                 ["memory", "--samples", "3"], ["memory", "--top-n"], ["memory", "--json", "--decoded"],
                 ["watch", "--interval", "x"], ["diff", "a"], ["run"], ["run", "--trace", "0", "--", "true"],
                 ["run", "--http", "nonsense:xx", "--", "true"], ["--timeout", "0", "memory"], []):
        rc, out, err = cli(argv)
        check(rc == 1 and err.startswith("glassheap: "), "usage error for %s" % argv, (rc, err))
    rc, out, err = cli(["help"])
    check(rc == 0 and "usage: glassheap" in out and "Exit status" in out, "help", out)
    rc, out, err = cli(["--version"])
    check(rc == 0 and re.match(r"glassheap \d+\.\d+\.\d+\n", out), "--version", out)

    section("401: token-protected server")
    h = Host(env={"GLASSHEAP_TOKEN": "s3cret"})
    try:
        rc, out, err = cli(["memory"], url=h.url)
        check(rc == 3 and "Not authenticated" in err and "401" in err and "requires a token" in err,
              "401 without a token", err)
        rc, out, err = cli(["memory", "--token", "wrong"], url=h.url)
        check(rc == 3 and "refused the token" in err, "401 with a wrong token", err)
        rc, out, err = cli(["memory", "--token", "s3cret"], url=h.url)
        check(rc == 0 and row_for(table_rows(out, "TYPE"), "CliAlpha"), "--token works", out + err)
        rc, out, err = cli(["types", "CliBeta"], url=h.url, env={"GLASSHEAP_TOKEN": "s3cret"})
        check(rc == 0 and re.search(r"^count\s+7$", out, re.M), "GLASSHEAP_TOKEN works", out + err)
    finally:
        h.stop()

    section("422: every detail entry printed as query.<param>: <msg>")
    h = Host()
    try:
        for argv, params, path in (
                (["memory", "--top-n", "0", "--sort-by", "bogus"], {"top_n": "0", "sort_by": "bogus"}, "/debug/memory"),
                (["memory", "--top-n", "abc"], {"top_n": "abc"}, "/debug/memory"),
                (["types", "X", "--samples", "500"], {"type_name": "X", "samples": "500"}, "/debug/memory/types"),
                (["sites", "--top-n", "1001"], {"top_n": "1001"}, "/debug/memory/sites")):
            rc, out, err = cli(argv, url=h.url)
            status, _, doc = py_fetch(h.url, "GET", path, params, accept="application/json")
            check(rc == 3 and status == 422 and "422" in err, "422 for %s: exit 3" % argv, err)
            for e in doc["detail"]:
                line = "  %s: %s" % (".".join(str(x) for x in e["loc"]), e["msg"])
                check(line in err.split("\n"), "422 entry %r printed" % line, err)
        rc, out, err = cli(["--url", h.url + "/debug", "memory"])
        check(rc == 3 and "no such path" in err, "404 hints at the URL", err)
    finally:
        h.stop()

    section("fake server: 405, 500, 503, timeouts, garbage, request shape")
    FakeHandler.SCRIPT = {
        "/debug/memory": (405, {"Content-Type": "application/json", "Allow": "GET"},
                          b'{"detail":"Method Not Allowed"}', 0),
        "/debug/memory/gc": (500, {"Content-Type": "text/plain"}, b"boom\x1b[2J", 0),
        "/debug/memory/referrers": (503, {"Content-Type": "application/msgpack", "Retry-After": "7"},
                                    msgpack.packb({"detail": "a stop-the-world operation is already running"}), 0),
        "/debug/tracemalloc/status": (200, {"Content-Type": "application/msgpack"}, b"\xc1", 0),
        "/debug/tracemalloc/top": (200, {"Content-Type": "application/msgpack"}, msgpack.packb([1, 2]), 0),
        "/debug/tracemalloc/traceback": (200, {"Content-Type": "application/msgpack"},
                                         msgpack.packb({"top_allocations": [{"size_bytes": "x"}, 7]}), 0),
        "/debug/tracemalloc/compare": (200, {"Content-Type": "application/json"}, b'{"differences":[]}', 3),
        "/debug/tracemalloc/snapshot/snap.1": (404, {"Content-Type": "application/json"},
                                               b'{"detail":"snapshot \'snap.1\' not found"}', 0),
        "/debug/tracemalloc/start": (409, {"Content-Type": "application/json"}, b'{"detail":"too many snapshots"}', 0),
        "/debug/memory/types": (200, {"Content-Type": "application/msgpack"},
                                b"\xdd\xff\xff\xff\xff", 0),
    }
    FakeHandler.SEEN = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHandler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    url = "http://127.0.0.1:%d" % srv.server_address[1]
    try:
        rc, out, err = cli(["memory"], url=url)
        check(rc == 3 and "Method Not Allowed" in err and "allows: GET" in err, "405 with Allow", err)
        rc, out, err = cli(["gc"], url=url)
        check(rc == 3 and "500" in err and "boom" in err and "\x1b" not in err, "500 with a text body", err)
        rc, out, err = cli(["referrers", "T"], url=url)
        check(rc == 3 and "already running" in err and "retry in 7 s" in err, "503 with Retry-After", err)
        rc, out, err = cli(["trace", "status"], url=url)
        check(rc == 4 and "cannot decode" in err, "undecodable 200: exit 4", err)
        rc, out, err = cli(["trace", "top"], url=url)
        check(rc == 4 and "not a map" in err, "a 200 that is not a map: exit 4", err)
        rc, out, err = cli(["trace", "traceback"], url=url)
        check(rc == 0 and "#1  ? in ? blocks" in out, "an ill-typed document renders with '?'", out + err)
        rc, out, err = cli(["types", "X"], url=url)
        check(rc == 4 and "announce" in err, "a hostile msgpack header is refused", err)
        t0 = time.time()
        rc, out, err = cli(["trace", "compare", "a", "b", "--timeout", "0.5"], url=url)
        check(rc == 2 and "within 0.5 s" in err and time.time() - t0 < 2.5, "--timeout", err)
        rc, out, err = cli(["trace", "delete", "snap.1"], url=url)
        check(rc == 3 and "snapshot 'snap.1' not found" in err and "no such path" not in err,
              "404 with a detail: no URL hint", err)
        rc, out, err = cli(["trace", "start"], url=url)
        check(rc == 3 and "too many snapshots" in err and "409" in err, "409 detail", err)

        FakeHandler.SEEN = []
        cli(["memory", "--top-n", "5", "--sort-by", "count", "--token", "tk"], url=url)
        cli(["memory", "--json"], url=url)
        cli(["gc"], url=url)
        cli(["trace", "delete", "snap.1"], url=url)
        cli(["types", 'a b&c=d/\u03c0'], url=url)
        seen = FakeHandler.SEEN
        check(len(seen) == 5, "five requests recorded", seen)
        if len(seen) == 5:
            m, p, hd = seen[0]
            check(m == "GET" and p == "/debug/memory?top_n=5&sort_by=count", "GET with its query", p)
            check(hd.get("Accept") == "application/msgpack", "Accept: application/msgpack by default", hd)
            check(hd.get("Authorization") == "Bearer tk", "Authorization: Bearer", hd)
            check(seen[1][2].get("Accept") == "application/json", "--json asks for JSON", seen[1][2])
            check(seen[1][2].get("Authorization") is None, "no token, no Authorization", seen[1][2])
            check(seen[2][0] == "POST" and seen[2][1] == "/debug/memory/gc", "gc is a POST", seen[2])
            check(seen[3][0] == "DELETE" and seen[3][1] == "/debug/tracemalloc/snapshot/snap.1", "delete", seen[3])
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(seen[4][1]).query)
            check(q.get("type_name") == ['a b&c=d/\u03c0'], "type_name percent-encoded", seen[4][1])
    finally:
        srv.shutdown()
        srv.server_close()


# ---- Case: diff --------------------------------------------------------------------------

def expected_diff(before, after):
    rows = {}
    for side, doc in enumerate((before, after)):
        for e in doc["top_objects"]:
            r = rows.setdefault(e["type"], {"count": [0, 0], "bytes": [0, 0], "present": [False, False]})
            r["count"][side] += e["count"]
            r["bytes"][side] += e["total_size_bytes"]
            r["present"][side] = True
    def key(item):
        name, r = item
        return (-(r["bytes"][1] - r["bytes"][0]), -(r["count"][1] - r["count"][0]), -r["bytes"][1],
                name.encode())
    return sorted(rows.items(), key=key)


def check_diff_table(out, before, after, what):
    rows = table_rows(out, "TYPE")
    exp = expected_diff(before, after)
    check(rows is not None and len(rows) == len(exp), "%s: one row per type" % what, out)
    for cells, (name, r) in zip(rows or [], exp):
        want = [safe(name),
                str(r["count"][0]) if r["present"][0] else "-",
                str(r["count"][1]) if r["present"][1] else "-",
                hint(r["count"][1] - r["count"][0], True),
                hsize(r["bytes"][0]) if r["present"][0] else "-",
                hsize(r["bytes"][1]) if r["present"][1] else "-",
                hsize(r["bytes"][1] - r["bytes"][0], True)]
        if not r["present"][0]:
            want.append("new")
        elif not r["present"][1]:
            want.append("gone")
        check(cells == want, "%s: row %r" % (what, name), (cells, want))


def case_diff():
    h = Host()
    try:
        h.cmd("grow CliTemp 5 300")
        paths = {}
        for stage in ("before", "after"):
            if stage == "after":
                check(h.cmd("grow CliGrow 50 100") == "grown 50", "host grew CliGrow")
                check(h.cmd("grow CliAlpha2 3 2000") == "grown 3", "host grew CliAlpha2")
                check(h.cmd("free CliTemp") == "freed 5", "host freed CliTemp")
            for fmt in ("json", "msgpack"):
                p = os.path.join(TMP, "%s.%s" % (stage, fmt))
                argv = ["memory", "--top-n", "100", "-o", p] + (["--json"] if fmt == "json" else [])
                rc, out, err = cli(argv, url=h.url)
                check(rc == 0, "saved %s" % p, err)
                paths[(stage, fmt)] = p

        def load(p):
            with open(p, "rb") as f:
                data = f.read()
            return json.loads(data) if p.endswith(".json") else msgpack.unpackb(data, raw=False)

        for b, a in (("json", "json"), ("msgpack", "json"), ("json", "msgpack"), ("msgpack", "msgpack")):
            section("diff %s vs %s" % (b, a))
            pb, pa = paths[("before", b)], paths[("after", a)]
            rc, out, err = cli(["diff", pb, pa])
            check(rc == 0, "diff exits 0", err)
            check(out.startswith("before: %s\nafter:  %s\n" % (pb, pa)), "diff names its files", out)
            before, after = load(pb), load(pa)
            check_diff_table(out, before, after, "diff %s/%s" % (b, a))
            grow = row_for(table_rows(out, "TYPE"), "CliGrow")
            check(grow is not None and grow[1:] == ["-", "50", "+50", "-", hsize(5000), hsize(5000, True), "new"],
                  "CliGrow is new, +50", grow)
            temp = row_for(table_rows(out, "TYPE"), "CliTemp")
            check(temp is not None and temp[1:] == ["5", "-", "-5", hsize(1500), "-", hsize(-1500, True), "gone"],
                  "CliTemp is gone, -5", temp)
            alpha = row_for(table_rows(out, "TYPE"), "CliAlpha")
            check(alpha == ["CliAlpha", "100", "100", "0", "4.7 KiB", "4.7 KiB", "0 B"], "CliAlpha unchanged", alpha)
            first = (table_rows(out, "TYPE") or [[None]])[0][0]
            check(first in ("CliAlpha2", "glassheap", "malloc", "CliGrow"), "largest growth first", out)
            tot = re.search(r"^objects\s+(\d+)\s+(\d+)\s+(\S+)$", out, re.M)
            check(tot is not None and int(tot.group(1)) == before["summary"]["total_objects"]
                  and int(tot.group(2)) == after["summary"]["total_objects"], "totals line", out)

        section("diff --json")
        rc, out, err = cli(["diff", "--json", paths[("before", "msgpack")], paths[("after", "json")]])
        d = json.loads(out) if rc == 0 else {}
        exp = expected_diff(load(paths[("before", "msgpack")]), load(paths[("after", "json")]))
        got = [(t["type"], t["count_before"], t["count_after"], t["size_before_bytes"], t["size_after_bytes"],
                t["status"]) for t in d.get("types", [])]
        want = [(n, r["count"][0], r["count"][1], r["bytes"][0], r["bytes"][1],
                 "new" if not r["present"][0] else "gone" if not r["present"][1]
                 else ("changed" if r["count"][0] != r["count"][1] or r["bytes"][0] != r["bytes"][1] else "unchanged"))
                for n, r in exp]
        check(got == want, "diff --json rows", (got, want))

        section("diff of a file with itself, --rows, errors")
        rc, out, err = cli(["diff", paths[("before", "json")], paths[("before", "json")]])
        rows = table_rows(out, "TYPE") or []
        check(rc == 0 and rows and all(r[3] == "0" and r[6] == "0 B" for r in rows), "no change against itself", out)
        rc, out, err = cli(["diff", "--rows", "2", paths[("before", "json")], paths[("after", "json")]])
        check(rc == 0 and len(table_rows(out, "TYPE") or []) == 2 and "more types; --rows 0 shows all" in out,
              "--rows 2", out)
        rc, out, err = cli(["diff", os.path.join(TMP, "nope.json"), paths[("after", "json")]])
        check(rc == 4 and "cannot read" in err, "missing file: exit 4", err)
        tfile = os.path.join(TMP, "types.json")
        cli(["types", "CliAlpha", "--json", "-o", tfile], url=h.url)
        rc, out, err = cli(["diff", tfile, paths[("after", "json")]])
        check(rc == 4 and "top_objects" in err, "not a /debug/memory response: exit 4", err)
        garbage = os.path.join(TMP, "garbage.bin")
        with open(garbage, "wb") as f:
            f.write(b"\xc1\x00garbage")
        rc, out, err = cli(["diff", garbage, paths[("after", "json")]])
        check(rc == 4 and garbage in err, "garbage file: exit 4", err)
        partial = os.path.join(TMP, "top2.json")
        cli(["memory", "--json", "--top-n", "2", "-o", partial], url=h.url)
        rc, out, err = cli(["diff", partial, paths[("after", "json")]])
        check(rc == 0 and "note: before lists 2 of" in out, "a top_n-limited file is flagged", out)
    finally:
        h.stop()


# ---- Case: watch ------------------------------------------------------------------------------

def parse_size(s):
    m = re.match(r"([+-]?)([\d.]+) (B|KiB|MiB|GiB)$", s)
    if not m:
        return None
    v = float(m.group(2)) * 1024 ** ["B", "KiB", "MiB", "GiB"].index(m.group(3))
    return -v if m.group(1) == "-" else v


def case_watch():
    h = Host()
    try:
        section("watch --count 3 with a growing type")
        check(h.cmd("drip CliDrip 40 200") == "dripping", "host drips CliDrip")
        t0 = time.time()
        rc, out, err = cli(["watch", "--interval", "0.5", "--count", "3", "--rows", "0"], url=h.url, timeout=30)
        check(rc == 0, "watch exits 0", err)
        check(time.time() - t0 < 10, "watch is bounded in time")
        heads = re.findall(r"^\d\d:\d\d:\d\d  sample (\d)/3: (\d+) objects", out, re.M)
        check([x[0] for x in heads] == ["1", "2", "3"], "three samples", out)
        check("baseline" in out.split("\n")[0], "the first sample is the baseline", out)
        blocks = out.split("\n\n")
        counts = []
        for i, b in enumerate(blocks):
            rows = table_rows(b, "TYPE") or []
            drip = row_for(rows, "CliDrip")
            if drip:
                counts.append(int(drip[1]))
                if i > 0:
                    check(int(drip[2]) > 0 and parse_size(drip[4]) > 0, "CliDrip grows in sample %d" % (i + 1), drip)
            deltas = [parse_size(r[4]) for r in rows]
            check(all(x is not None for x in deltas) and all(deltas[k] >= deltas[k + 1] for k in range(len(deltas) - 1)),
                  "sample %d sorted by size change" % (i + 1), b)
            alpha = row_for(rows, "CliAlpha")
            check(alpha is not None and alpha[1] == "100" and alpha[2] == "0", "CliAlpha steady", alpha)
        check(len(counts) == 3 and counts[0] < counts[1] < counts[2], "CliDrip counts increase", counts)

        section("watch --json")
        rc, out, err = cli(["watch", "--json", "--interval", "0.2", "--count", "2"], url=h.url)
        lines = [ln for ln in out.split("\n") if ln]
        check(rc == 0 and len(lines) == 2 and all("top_objects" in json.loads(ln) for ln in lines),
              "one JSON document per sample", out)

        section("watch stops on Ctrl-C")
        e = clean_env({"GLASSHEAP_URL": h.url})
        p = subprocess.Popen([ARGS.cli, "watch", "--interval", "30"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=e)
        CHILDREN.append(p)
        r, _, _ = select.select([p.stdout], [], [], 10)
        check(bool(r), "first sample printed")
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
        try:
            rc = p.wait(5)
            check(rc == 0, "exit 0 after Ctrl-C", rc)
        except subprocess.TimeoutExpired:
            check(False, "watch did not stop on SIGINT")
            p.kill()
            p.wait(5)

        section("watch: server errors end it")
        rc, out, err = cli(["watch", "--count", "2", "--top-n", "0"], url=h.url)
        check(rc == 3 and "query.top_n" in err, "422 ends watch with exit 3", err)
    finally:
        h.stop()


# ---- Case: run -----------------------------------------------------------------------------------

RUN_LINE = re.compile(r"glassheap: debug server for PID (\d+) at (\S+)")


def start_run(argv, env=None):
    """Starts `glassheap run ...`; returns (proc, pid, url) once the line is printed."""
    p = subprocess.Popen([ARGS.cli, "run"] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=clean_env(env))
    CHILDREN.append(p)
    deadline = time.time() + 10
    buf = b""
    while time.time() < deadline:
        r, _, _ = select.select([p.stderr], [], [], 0.5)
        if r:
            chunk = os.read(p.stderr.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            m = RUN_LINE.search(buf.decode(errors="replace"))
            if m:
                prog = argv[argv.index("--") + 1] if "--" in argv else ""
                PROGRAM_PIDS.append((int(m.group(1)), os.path.basename(prog)))
                return p, int(m.group(1)), m.group(2), buf.decode(errors="replace")
    return p, None, None, buf.decode(errors="replace")


def finish(p, timeout=15):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=5)
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def wait_answering(url, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        rc, out, err = cli(["--url", url, "memory"], timeout=10)
        if rc == 0:
            return rc, out, err
        time.sleep(0.1)
    return rc, out, err


def case_run():
    env_lib = {"GLASSHEAP_LIB": ARGS.lib}
    for prog in (["sleep", "3"], ["/usr/bin/python3", "-c", "import time; time.sleep(3)"]):
        section("run -- %s" % " ".join(prog))
        p, pid, url, err0 = start_run(["--"] + prog)
        check(pid is not None and url and url.startswith("http://127.0.0.1:"), "the launcher's line", err0)
        if pid:
            try:
                # The launcher prints its line once exec has passed the point of no return (its
                # close-on-exec pipe closed); the kernel sets the new program's arguments a moment
                # later, and /proc/PID/cmdline reads empty until then.
                deadline = time.time() + 5
                while True:
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        cmdline = f.read().split(b"\0")[0].decode()
                    if cmdline or time.time() > deadline:
                        break
                    time.sleep(0.01)
                check(os.path.basename(cmdline) == os.path.basename(prog[0]), "PID is the program's", cmdline)
            except OSError as e:
                check(False, "program process visible", e)
            rc, out, err = wait_answering(url)
            check(rc == 0 and "objects" in out and row_for(table_rows(out, "TYPE"), "malloc"),
                  "memory of the running program", out + err)
            rc, out, err = cli(["--url", url, "types", "malloc", "--samples", "1"])
            check(rc == 0 and re.search(r"^count\s+[1-9]\d*$", out, re.M), "types of the running program", out + err)
        rc, out, err = finish(p)
        check(rc == 0, "run returns the program's status 0", (rc, err))

    section("the build tree's library is found without GLASSHEAP_LIB")
    rc, out, err = cli(["run", "--quiet", "--follow-children", "--", "sh", "-c", 'echo "$LD_PRELOAD"'])
    check(rc == 0 and os.path.realpath(out.strip()) == os.path.realpath(ARGS.lib), "LD_PRELOAD is the built library",
          out + err)
    check("debug server for PID" not in err, "--quiet prints no line", err)

    section("exit statuses")
    rc, out, err = cli(["run", "--", "sh", "-c", "exit 7"], env=env_lib)
    check(rc == 7, "exit 7 propagates", (rc, err))
    rc, out, err = cli(["run", "--", "sh", "-c", "kill -TERM $$"], env=env_lib)
    check(rc == 128 + signal.SIGTERM, "death by SIGTERM: 143", (rc, err))
    rc, out, err = cli(["run", "--", os.path.join(TMP, "no-such-program")], env=env_lib)
    check(rc == 127 and "cannot run" in err, "missing program: 127", (rc, err))
    rc, out, err = cli(["run", "--", "true"], env={"GLASSHEAP_LIB": os.path.join(TMP, "nope.so")})
    check(rc == 1 and "GLASSHEAP_LIB" in err, "a missing library: exit 1", (rc, err))
    rc, out, err = cli(["run", "sh", "-c", "exit 3"], env=env_lib)
    check(rc == 3, "PROG without '--'", (rc, err))

    section("environment: LD_PRELOAD kept, GLASSHEAP_* set (--follow-children: as the program got it)")
    libm = "/usr/lib/x86_64-linux-gnu/libm.so.6"
    if not os.path.exists(libm):
        libm = "/lib/x86_64-linux-gnu/libm.so.6"
    report = os.path.join(TMP, "report-%p.txt")
    show = ('echo "$LD_PRELOAD|$GLASSHEAP_TOKEN|$GLASSHEAP_TRACE|$GLASSHEAP_REPORT|$GLASSHEAP_HTTP|'
            '$GLASSHEAP_HTTP_PID|$$|$GLASSHEAP_FOLLOW_CHILDREN"')
    rc, out, err = cli(["run", "--follow-children", "--token", "tk", "--trace", "7", "--report", report, "--",
                        "sh", "-c", show], env=dict(env_lib, LD_PRELOAD=libm))
    parts = out.strip().split("|")
    check(rc == 0 and len(parts) == 8, "environment printed", out + err)
    if len(parts) == 8:
        pre = parts[0].split(":")
        check(len(pre) == 2 and os.path.realpath(pre[0]) == os.path.realpath(ARGS.lib) and pre[1] == libm,
              "LD_PRELOAD: glassheap first, the old entry kept", parts[0])
        check(parts[1:4] == ["tk", "7", report], "token, trace, report passed", parts)
        check(re.match(r"127\.0\.0\.1:\d+$", parts[4]) is not None, "GLASSHEAP_HTTP has a real port", parts[4])
        check(parts[5] == parts[6] and parts[7] == "1", "GLASSHEAP_HTTP_PID is the program's PID; FOLLOW=1", parts)

    section("environment: by default glassheap's own variables are gone before main")
    rc, out, err = cli(["run", "--token", "tk", "--trace", "7", "--report", report, "--", "sh", "-c", show],
                       env=dict(env_lib, LD_PRELOAD=libm))
    parts = out.strip().split("|")
    check(rc == 0 and len(parts) == 8, "environment printed", out + err)
    if len(parts) == 8:
        check(parts[0] == libm, "LD_PRELOAD: glassheap's entry removed in place, the other one kept", parts[0])
        check(parts[1:4] == ["tk", "7", report], "token, trace, report left as they were", parts)
        check(parts[4] == "" and parts[5] == "" and parts[7] == "", "GLASSHEAP_HTTP, _HTTP_PID, _FOLLOW_CHILDREN gone",
              parts)
    rc, out, err = cli(["run", "--", "sh", "-c", 'echo "[$LD_PRELOAD]"'], env=env_lib)
    check(rc == 0 and out.strip() == "[]", "LD_PRELOAD holding only glassheap is removed", out + err)
    rc, out, err = cli(["run", "--report", os.path.join(TMP, "rep.txt"), "--", "true"], env=env_lib)
    check(rc == 0 and os.path.exists(os.path.join(TMP, "rep.txt")), "--report writes the report at exit", err)

    section("run with a token, on an explicit port, on a Unix socket")
    port = free_port()
    p, pid, url, err0 = start_run(["--token", "s3cret", "--http", "127.0.0.1:%d" % port, "--", "sleep", "3"], env_lib)
    check(url == "http://127.0.0.1:%d" % port, "explicit port kept", err0)
    if url:
        deadline = time.time() + 5
        while time.time() < deadline:
            rc, out, err = cli(["--url", url, "--token", "s3cret", "memory"])
            if rc == 0:
                break
            time.sleep(0.1)
        check(rc == 0, "query with the token", err)
        rc, out, err = cli(["--url", url, "memory"])
        check(rc == 3 and "401" in err, "without the token: 401", err)
    finish(p)
    sock = os.path.join(TMP, "run.sock")
    p, pid, url, err0 = start_run(["--http", "unix:" + sock, "--", "sleep", "3"], env_lib)
    check(url == "unix:" + sock, "Unix socket address printed", err0)
    deadline = time.time() + 5
    rc = None
    while time.time() < deadline:
        rc, out, err = cli(["--unix", sock, "memory"])
        if rc == 0:
            break
        time.sleep(0.1)
    check(rc == 0, "query over the socket", err)
    finish(p)

    section("signals: SIGTERM is forwarded, SIGINT is left to the program")
    p, pid, url, err0 = start_run(["--", "sleep", "30"], env_lib)
    check(pid is not None, "started", err0)
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)  # the launcher ignores it (the terminal sends it to the program)
    time.sleep(0.3)
    check(p.poll() is None, "the launcher survives SIGINT")
    p.send_signal(signal.SIGTERM)
    rc, out, err = finish(p, 10)
    check(rc == 128 + signal.SIGTERM, "SIGTERM forwarded: the program's death is the status", (rc, err))
    if pid:
        check(not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z",
              "the program is gone")

    section("no server answers: the launcher warns")
    # 0.0.0.0 without a token: the program's server refuses to listen.
    rc, out, err = cli(["run", "--http", "0.0.0.0:0", "--", "sleep", "6"], env=env_lib, timeout=20)
    check(rc == 0 and "not a loopback address" in err and "nothing answers" in err, "both warnings", err)


# ---- Case: children ---------------------------------------------------------------------------------

SPAWN_SCRIPT = """#!/bin/sh
# The program: it starts children (forks of the shell running sh), a
# python3 whose subprocess spawns one more (posix_spawn/vfork, no fork
# handlers run), waits for them, then reports on itself.
for i in 1 2 3; do
  sh -c 'echo "child $$ maps=$(grep -c libglassheap /proc/$$/maps) http=[$GLASSHEAP_HTTP]"; sleep 1' &
done
/usr/bin/python3 -c 'import subprocess; subprocess.run(["sh", "-c", "echo \\"spawned $$ maps=$(grep -c libglassheap /proc/$$/maps) http=[$GLASSHEAP_HTTP]\\""])'
wait
echo "top $$ maps=$(grep -c libglassheap /proc/$$/maps)"
"""


def case_children():
    env_lib = {"GLASSHEAP_LIB": ARGS.lib}
    script = os.path.join(TMP, "spawn.sh")
    with open(script, "w") as f:
        f.write(SPAWN_SCRIPT)
    os.chmod(script, 0o755)

    for follow in (False, True):
        flag = ["--follow-children"] if follow else []
        section("a script with children%s" % (" (--follow-children)" if follow else ""))
        p, pid, url, err0 = start_run(flag + ["--", script], env_lib)
        check(pid is not None, "started", err0)
        rc, out, err = finish(p, 30)
        err = err0 + err
        check(rc == 0, "the script exits 0", (rc, err))
        children = re.findall(r"^child (\d+) maps=(\d+) http=\[(.*)\]$", out, re.M)
        spawned = re.findall(r"^spawned (\d+) maps=(\d+) http=\[(.*)\]$", out, re.M)
        top = re.findall(r"^top (\d+) maps=(\d+)$", out, re.M)
        check(len(children) == 3 and len(spawned) == 1 and len(top) == 1, "every process reported", out)
        check(top and int(top[0][0]) == pid and int(top[0][1]) > 0, "the top process runs on glassheap", (top, pid))
        others = children + spawned
        if follow:
            check(all(int(m) > 0 for _, m, _ in others), "every child runs on glassheap", others)
        else:
            check(all(int(m) == 0 for _, m, _ in others), "no child runs on glassheap", others)
        check(all(h == "" for _, _, h in others), "no child sees GLASSHEAP_HTTP", others)
        check(err.count("debug server listening") == 1, "exactly one server: the top process's", err)
        check("cannot" not in err and "nothing answers" not in err, "no bind failure, no warning", err)

    section("--follow-children: a program the top process execs keeps its PID and serves")
    p, pid, url, err0 = start_run(["--follow-children", "--", "sh", "-c", "sleep 0.3; exec sleep 4"], env_lib)
    check(pid is not None, "started", err0)
    if pid:
        time.sleep(1.2)
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv0 = f.read().split(b"\0")[0].decode()
        except OSError:
            argv0 = ""
        check(argv0 == "sleep", "the PID now runs sleep", argv0)
        rc, out, err = wait_answering(url)
        check(rc == 0 and row_for(table_rows(out, "TYPE"), "malloc"), "sleep answers at the address", out + err)
    rc, out, err = finish(p)
    check(rc == 0, "exit 0", (rc, err))

    section("by default, a program the top process execs runs without glassheap (documented)")
    p, pid, url, err0 = start_run(["--", "sh", "-c", "sleep 0.3; exec sleep 2"], env_lib)
    if pid:
        time.sleep(1)
        try:
            with open("/proc/%d/maps" % pid) as f:
                mapped = "libglassheap" in f.read()
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv0 = f.read().split(b"\0")[0].decode()
        except OSError:
            mapped, argv0 = None, ""
        check(argv0 == "sleep" and mapped is False, "sleep (same PID) has no glassheap", (argv0, mapped))
    finish(p)


# ---- Case: width ---------------------------------------------------------------------------------------

LONG_TYPE = "CliWidth" + "AVeryLongTypeNameForTheWidthTests" * 4
WIDE_TYPE = "CliWide" + "\u5e45\u5e83\u3044\u578b\u540d" * 8   # 40 East Asian wide characters
LONG_FN = "client_host_allocates_and_forgets_objects_in_a_function_with_a_deliberately_long_name"


def frame_location(f):
    """What the client prints as a frame's or row's location."""
    if f.get("filename") and f.get("lineno", 0) > 0:
        return "%s:%d" % (f["filename"], f["lineno"])
    return f.get("site") or f.get("filename") or "?"


def cells_of(line):
    return re.split(r"\s{2,}", line.strip())


def case_width():
    h = Host()
    try:
        check(h.cmd("grow %s 30 100" % LONG_TYPE) == "grown 30", "host grows the long type")
        check(h.cmd("grow %s 3 50" % WIDE_TYPE) == "grown 3", "host grows the wide type")
        rc, out, err = cli(["trace", "start", "--frames", "8"], url=h.url)
        check(rc == 0, "trace start", err)
        before = os.path.join(TMP, "w-before.json")
        after = os.path.join(TMP, "w-after.msgpack")
        cli(["memory", "--top-n", "100", "--json", "-o", before], url=h.url)
        cli(["trace", "snapshot", "wa"], url=h.url)
        check(h.cmd("lose %s 20 64" % LONG_TYPE) == "lost 20", "host loses 20 objects in the long function")
        cli(["trace", "snapshot", "wb"], url=h.url)
        cli(["memory", "--top-n", "100", "-o", after], url=h.url)

        commands = [
            ["memory", "--top-n", "100"],
            ["memory", "--sort-by", "count"],
            ["types", LONG_TYPE, "--samples", "3"],
            ["types", WIDE_TYPE],
            ["gc"],
            ["referrers", LONG_TYPE],
            ["trace", "status"],
            ["trace", "top", "--top-n", "20"],
            ["trace", "top", "--group-by", "filename"],
            ["trace", "compare", "wa", "wb", "--top-n", "20"],
            ["trace", "traceback", "--top-n", "5"],
            ["diff", before, after],
            ["watch", "--count", "2", "--interval", "0.2", "--rows", "0"],
        ]
        section("every table at --width 80, COLUMNS=80, the default (piped: 80) and --width 50")
        for argv in commands:
            for how, extra, env, width in (("--width 80", ["--width", "80"], None, 80),
                                           ("COLUMNS=80", [], {"COLUMNS": "80"}, 80),
                                           ("default", [], None, 80),
                                           ("--width 50", ["--width", "50"], None, 50)):
                if width == 50 and argv[0] == "diff":
                    continue  # its seven figures alone take 55 columns, and figures are never cut
                rc, out, err = cli(argv + extra, url=h.url, env=env)
                what = "%s (%s)" % (" ".join(argv[:2]), how)
                check(rc == 0, "%s exits 0" % what, err)
                check_fits(out, width, what)
        rc, out, err = cli(["memory", "--top-n", "100"], url=h.url, env={"COLUMNS": "60"})
        check_fits(out, 60, "memory (COLUMNS=60)")

        section("memory at 80: names elided, every figure whole")
        _, _, doc = py_fetch(h.url, "GET", "/debug/memory", {"top_n": 100})
        rc, out, err = cli(["memory", "--top-n", "100", "--width", "80"], url=h.url)
        rows = table_rows(out, "TYPE") or []
        check(len(rows) == len(doc["top_objects"]), "one row per type", out)
        total = doc["summary"]["total_size_bytes"]
        for r, e in zip(rows, doc["top_objects"]):
            want = [str(e["count"]), hsize(e["total_size_bytes"]), "%.1f%%" % (100.0 * e["total_size_bytes"] / total),
                    hsize(e["avg_size_bytes"])]
            check(elided_from(r[0], safe(e["type"])) and r[1:] == want, "row of %r" % e["type"][:40], (r, want))
        long_row = [r for r in rows if r[0].startswith("CliWidthAVery")]
        check(long_row and long_row[0][0].endswith("\u2026"), "the long name is cut with the ellipsis", long_row)

        section("--wide and --width 0: every name whole")
        for extra in (["--wide"], ["--width", "0"]):
            rc, out, err = cli(["memory", "--top-n", "100"] + extra, url=h.url)
            check(row_for(table_rows(out, "TYPE"), LONG_TYPE) is not None and
                  row_for(table_rows(out, "TYPE"), WIDE_TYPE) is not None, "full type names (%s)" % extra, out)
        rc, out, err = cli(["memory", "--wide", "--width", "80"], url=h.url)
        check(rc == 1 and "exclude" in err, "--wide and --width together: usage error", err)
        rc, out, err = cli(["memory", "--width", "5"], url=h.url)
        check(rc == 1 and "--width" in err, "--width 5: usage error", err)
        rc, j1, _ = cli(["memory", "--json", "--width", "50"], url=h.url)
        check(rc == 0 and json.loads(j1)["sort_by"] == "size" and "\n" not in j1.strip(),
              "--json is not affected by the width", j1[:100])

        section("gc: leak sites by function and file:line, at 80 and wide")
        _, _, gdoc = py_fetch(h.url, "POST", "/debug/memory/gc")
        sites = gdoc["unreachable"]["by_site"]
        mine = [x for x in sites if x["function"] == LONG_FN]
        check(len(mine) == 1 and mine[0]["filename"].endswith("client_host.c") and mine[0]["lineno"] > 0,
              "the server names the long function and its line", mine)
        rc, out, err = cli(["gc", "--wide"], url=h.url)
        rows = table_rows(out, "FUNCTION") or []
        if mine:
            m = mine[0]
            r = [x for x in rows if x[0] == LONG_FN]
            want = [LONG_FN, "%s:%d" % (m["filename"], m["lineno"]), LONG_TYPE, m["class"].replace("_lost", "")]
            check(len(r) == 1 and r[0][:4] == want and int(r[0][4]) >= m["count"] - 5,
                  "wide: function, file:line, type, class", (r, want))
        for x in sites:
            if not x["function"] and not x["lineno"]:
                check(any(x["site"] in ln for ln in out.split("\n")), "an unsymbolized site as module+0xoffset", x)
                break
        rc, out, err = cli(["gc", "--width", "80"], url=h.url)
        _, _, gdoc = py_fetch(h.url, "POST", "/debug/memory/gc")
        lines = [ln for ln in out.split("\n") if ln.startswith(LONG_FN[:10])]
        check(len(lines) == 1, "80: the long function's row", out)
        if lines and mine:
            c = cells_of(lines[0])
            check(elided_from(c[0], LONG_FN) and elided_from(c[1], "%s:%d" % (mine[0]["filename"], mine[0]["lineno"]))
                  and c[1].endswith(":%d" % mine[0]["lineno"]), "80: function and file:line cut, the line kept", c)
            check(re.match(r"\d+$", c[-2]) is not None and re.match(r"[\d.]+ (B|KiB|MiB)$", c[-1]) is not None,
                  "80: count and size whole", c)

        section("trace top, compare, traceback: function and location as the server sends them")
        _, _, tdoc = py_fetch(h.url, "GET", "/debug/tracemalloc/top", {"top_n": 20})
        rc, out, err = cli(["trace", "top", "--top-n", "20", "--wide"], url=h.url)
        tmine = [x for x in tdoc["top_allocations"] if x["function"] == LONG_FN]
        check(len(tmine) == 1 and tmine[0]["count"] == 20 and tmine[0]["size_bytes"] == 20 * 64,
              "top: the long function's row, exact", tmine)
        for x in tdoc["top_allocations"]:
            want = " ".join(v for v in (hsize(x["size_bytes"]), str(x["count"]), x["function"], frame_location(x),
                                        x["line"]) if v)
            check(any(" ".join(cells_of(ln)) == want for ln in out.split("\n")), "top row %s" % want[:60], out)
        rc, out, err = cli(["trace", "top", "--top-n", "20", "--width", "80"], url=h.url)
        lines = [ln for ln in out.split("\n") if LONG_FN[:10] in ln]
        check(len(lines) == 1 and cells_of(lines[0])[:2] == [hsize(20 * 64), "20"], "80: size and count whole", lines)
        _, _, cdoc = py_fetch(h.url, "GET", "/debug/tracemalloc/compare", {"snapshot1": "wa", "snapshot2": "wb",
                                                                           "top_n": 20})
        rc, out, err = cli(["trace", "compare", "wa", "wb", "--top-n", "20", "--wide"], url=h.url)
        cm = [x for x in cdoc["differences"] if x["function"] == LONG_FN]
        check(len(cm) == 1 and cm[0]["count_diff"] == 20, "compare: +20 in the long function", cm)
        if cm:
            want = [hsize(cm[0]["size_diff_bytes"], True), "+20", LONG_FN, frame_location(cm[0]), cm[0]["line"]]
            check(any(cells_of(ln) == want for ln in out.split("\n")), "compare row", (want, out))
        _, _, bdoc = py_fetch(h.url, "GET", "/debug/tracemalloc/traceback", {"top_n": 5})
        rc, out, err = cli(["trace", "traceback", "--top-n", "5", "--wide"], url=h.url)
        for frame in [f for a in bdoc["top_allocations"] for f in a["traceback"]]:
            check(re.match(r".+\+0x[0-9a-f]+$", frame["site"]) is not None, "every frame has a site", frame)
            want = " ".join(v for v in (frame["function"], frame_location(frame), frame["line"]) if v)
            check(any(" ".join(cells_of(ln)) == want for ln in out.split("\n")), "frame %s" % want[:60], out)
        cli(["trace", "stop"], url=h.url)

        section("diff and watch keep every figure at 80")
        rc, out, err = cli(["diff", before, after, "--width", "80"])
        rows = table_rows(out, "TYPE") or []
        grow = [r for r in rows if r[0].startswith("CliWidthAVery")]
        check(len(grow) == 1 and grow[0][1:4] == ["30", "50", "+20"] and grow[0][6] == hsize(20 * 64, True),
              "diff: the long type's counts and growth", grow)
    finally:
        h.stop()

    section("python3 under the preload: frames without debug information as module+0xoffset")
    app = os.path.join(TMP, "app.py")
    with open(app, "w") as f:
        f.write("import json, time\ncache = [json.dumps({'k': i, 'v': 'x' * 100}) for i in range(3000)]\n"
                "time.sleep(8)\n")
    p, pid, url, err0 = start_run(["--trace", "12", "--", "/usr/bin/python3", app],
                                  {"GLASSHEAP_LIB": ARGS.lib, "PYTHONMALLOC": "malloc"})
    check(pid is not None, "python3 started", err0)
    if url:
        time.sleep(1.5)
        status, _, doc = py_fetch(url, "GET", "/debug/tracemalloc/traceback", {"top_n": 3})
        rc, out, err = cli(["--url", url, "trace", "traceback", "--top-n", "3", "--wide"])
        check(status == 200 and rc == 0, "traceback of python3", out + err)
        frames = [fr for a in doc.get("top_allocations", []) for fr in a["traceback"]]
        bare = [fr for fr in frames if fr["lineno"] == 0]
        check(len(bare) > 0, "python3 has frames without a line", frames[:3])
        for fr in bare:
            check(fr["site"].startswith(fr["filename"] + "+0x"), "site is module+0xoffset", fr)
        printed = [ln.strip() for ln in out.split("\n") if ln.startswith("    ")]
        check(len(printed) == len(frames), "one line per frame", out)
        for ln, fr in zip(printed, frames):
            want = " ".join(v for v in (fr["function"], frame_location(fr), fr["line"]) if v)
            check(" ".join(cells_of(ln)) == want, "frame line %r" % want[:60], ln)
        sites = [ln for ln in printed if "+0x" in ln]
        check(len(set(sites)) > 1, "distinct addresses, not one module name repeated", printed)
        _, _, tdoc = py_fetch(url, "GET", "/debug/tracemalloc/top", {"top_n": 10})
        keys = [(x["filename"], x["lineno"], x["site"]) for x in tdoc["top_allocations"]]
        check(len(keys) == len(set(keys)) and sum(1 for k in keys if k[1] == 0) > 1,
              "top keeps lineless frames apart by site", keys)
        rc, out, err = cli(["--url", url, "trace", "traceback", "--top-n", "3", "--width", "80"])
        check_fits(out, 80, "python3 traceback at 80")
    finish(p, 20)


# ---- Case: interop --------------------------------------------------------------------------------

def strip_volatile(doc, path):
    """What two requests a moment apart must agree on."""
    d = json.loads(json.dumps(doc))
    if path == "/debug/memory":
        d.pop("allocator", None)
        d.pop("summary", None)
        d.pop("gc_stats", None)
        d["top_objects"] = sorted((e for e in d["top_objects"] if e["type"].startswith("Cli")), key=lambda e: e["type"])
    if path == "/debug/memory/referrers":
        d.pop("pause_ms", None)
    if path == "/debug/memory/sites":
        d.pop("summary", None)  # the server's own objects (type glassheap) come and go
    return d


def case_interop():
    h = Host()
    try:
        endpoints = [
            (["memory"], "GET", "/debug/memory", {}),
            (["memory", "--top-n", "100", "--sort-by", "count"], "GET", "/debug/memory",
             {"top_n": 100, "sort_by": "count"}),
            (["types", "CliAlpha", "--samples", "5"], "GET", "/debug/memory/types",
             {"type_name": "CliAlpha", "samples": 5}),
            (["types", 'Cli "Gamma" \u03c0'], "GET", "/debug/memory/types", {"type_name": 'Cli "Gamma" \u03c0'}),
            (["types", "CliEsc\x1b[31m"], "GET", "/debug/memory/types", {"type_name": "CliEsc\x1b[31m"}),
            (["types", "Nope", "--samples", "0"], "GET", "/debug/memory/types", {"type_name": "Nope", "samples": 0}),
            (["referrers", "CliAlpha"], "GET", "/debug/memory/referrers", {"type_name": "CliAlpha"}),
            (["sites", "--type", "CliAlpha", "-n", "5"], "GET", "/debug/memory/sites",
             {"type_name": "CliAlpha", "top_n": 5}),
            (["gc"], "POST", "/debug/memory/gc", {}),
            (["trace", "start", "--frames", "4"], "POST", "/debug/tracemalloc/start", {"frames": 4}),
            (["trace", "status"], "GET", "/debug/tracemalloc/status", {}),
            (["trace", "snapshot", "i1"], "POST", "/debug/tracemalloc/snapshot", {"name": "i1"}),
            (["trace", "top"], "GET", "/debug/tracemalloc/top", {}),
            (["trace", "compare", "i1", "i1"], "GET", "/debug/tracemalloc/compare", {"snapshot1": "i1", "snapshot2": "i1"}),
            (["trace", "traceback"], "GET", "/debug/tracemalloc/traceback", {}),
            (["trace", "delete", "i1"], "DELETE", "/debug/tracemalloc/snapshot/i1", {}),
            (["trace", "stop"], "POST", "/debug/tracemalloc/stop", {}),
        ]
        implemented = 0
        for argv, method, path, params in endpoints:
            section("interop: %s" % " ".join(argv))
            raw = os.path.join(TMP, "interop.bin")
            if os.path.exists(raw):
                os.unlink(raw)
            rc, out, err = cli(argv + ["--decoded", "-o", raw], url=h.url)
            status, _, pydoc = py_fetch(h.url, method, path, params)
            if rc == 0:
                implemented += 1
                with open(raw, "rb") as f:
                    data = f.read()
                same_bytes = msgpack.unpackb(data, raw=False)
                cdoc = json.loads(out, object_pairs_hook=dict)
                check(same_typed(cdoc, same_bytes), "%s: C and Python decode the same bytes alike" % path,
                      (cdoc, same_bytes))
                # The Python request follows the C one: after C's DELETE and stop, the
                # state has changed (the snapshot is gone, tracing is off).
                want = {"/debug/tracemalloc/snapshot/i1": 404, "/debug/tracemalloc/stop": 400}.get(path, 200)
                check(status == want, "%s: Python's request answered %d" % (path, want), status)
                if method == "GET" and not path.startswith("/debug/tracemalloc"):
                    check(same_typed(strip_volatile(cdoc, path), strip_volatile(pydoc, path)),
                          "%s: C's and Python's requests get the same document" % path,
                          (strip_volatile(cdoc, path), strip_volatile(pydoc, path)))
            else:
                check(rc == 3, "%s: an error status is exit 3" % path, (rc, err))
                check(not os.path.exists(raw), "%s: an error response is not saved" % path)
                detail = pydoc.get("detail") if isinstance(pydoc, dict) else None
                check(status >= 400 and isinstance(detail, str) and detail in err,
                      "%s: the same detail (%s) for both clients" % (path, status), (err, pydoc))
        check(implemented >= 6, "at least memory and types are compared", implemented)
    finally:
        h.stop()


# ---- Case: demo ---------------------------------------------------------------------------------------

def case_demo():
    if not ARGS.demo:
        print("SKIP: glassheap-demo is not built")
        return 77
    p = subprocess.Popen([ARGS.demo, "--listen", "127.0.0.1:0", "--threads", "2", "--leak", "SpeechRecognizer",
                          "--quiet", "--duration", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=clean_env())
    CHILDREN.append(p)
    try:
        r, _, _ = select.select([p.stdout], [], [], 10)
        line = p.stdout.readline().decode() if r else ""
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not check(m is not None, "the demo prints its address", line):
            return 1
        url = "http://127.0.0.1:%s" % m.group(1)
        section("demo: memory, types, diff, watch")
        time.sleep(1)
        rc, out, err = cli(["memory", "--top-n", "100"], url=url)
        rows = table_rows(out, "TYPE") or []
        for t in ("SpeechRecognizer", "Session", "CacheEntry"):
            check(row_for(rows, t) is not None, "demo type %s listed" % t, out + err)
        rc, out, err = cli(["types", "SpeechRecognizer", "--samples", "2"], url=url)
        check(rc == 0 and "  SpeechRecognizer{id=" in out, "demo samples rendered by its formatter", out + err)
        a, b = os.path.join(TMP, "demo-a.msgpack"), os.path.join(TMP, "demo-b.json")
        cli(["memory", "--top-n", "100", "-o", a], url=url)
        time.sleep(2.5)
        cli(["memory", "--top-n", "100", "--json", "-o", b], url=url)
        rc, out, err = cli(["diff", a, b])
        rec = row_for(table_rows(out, "TYPE"), "SpeechRecognizer")
        check(rc == 0 and rec is not None and int(rec[3]) >= 0, "the leaking type does not shrink", out + err)
        rc, out, err = cli(["watch", "--interval", "1", "--count", "3", "--rows", "0"], url=url)
        counts = [int(r[1]) for b_ in out.split("\n\n") for r in [row_for(table_rows(b_, "TYPE"), "SpeechRecognizer")]
                  if r]
        check(rc == 0 and len(counts) == 3 and counts[0] <= counts[2], "watch follows the leak", out + err)
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
    return 0


# ---- Main ------------------------------------------------------------------------------------------------

CASES = {"endpoints": case_endpoints, "errors": case_errors, "diff": case_diff, "watch": case_watch,
         "run": case_run, "children": case_children, "width": case_width, "interop": case_interop,
         "demo": case_demo}


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--cli", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--demo", default="")
    ARGS = ap.parse_args()
    rc = 0
    with tempfile.TemporaryDirectory(prefix="gh-client-") as tmp:
        TMP = tmp
        try:
            rc = CASES[ARGS.case]() or 0
        except Exception as e:  # a crash of the driver is a failure, with its traceback
            import traceback
            traceback.print_exc()
            FAILURES.append("exception: %r" % e)
        finally:
            kill_children()
            for pid, prog in PROGRAM_PIDS:
                try:
                    # Only if the PID still runs the program we started (never a reused PID).
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        argv0 = f.read().split(b"\0")[0].decode(errors="replace")
                    if prog and os.path.basename(argv0) == prog:
                        os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass  # already gone (the normal case)
    if rc == 77 and not FAILURES:
        return 77
    print("%d failure(s)" % len(FAILURES) if FAILURES else "all checks passed", flush=True)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
