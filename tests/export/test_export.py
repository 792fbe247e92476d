#!/usr/bin/python3
"""Tests of the exporters (tests/export/CMakeLists.txt): pprof, folded stacks,
Prometheus metrics, the HTTP rules of the new endpoints, the CLI's pprof
command. The page has its own driver (test_page.py).

    test_export.py --case NAME --host export_host --cli glassheap [--demo glassheap-demo]

Each case starts export_host (tests/export/export_host.c: noinline chains that
allocate known sizes, numbers printed at start) with its debug server on a
loopback port 0, checks what the endpoints answer against the tools that
consume them (go tool pprof, google-pprof, promtool) and against glassheap's
own JSON endpoints. A tool that is missing makes the case SKIP (exit 77);
scripts/deps.sh installs them. Exit 0 when every check passed.
"""
import argparse
import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from exportlib import check, need, section, skip, verdict  # tests/export/exportlib.py

ARGS = None
CHILDREN = []
TMP = None


# ---- Processes and HTTP ------------------------------------------------------------

class Host:
    """export_host (or the demo) with its server on a free loopback port."""

    def __init__(self, argv=None, env=None, expect_lines=True):
        full = dict(os.environ)
        for k in ("GLASSHEAP_HTTP", "GLASSHEAP_TOKEN", "GLASSHEAP_TRACE", "GLASSHEAP_TRACE_SAMPLE", "LD_PRELOAD",
                  "GLASSHEAP_METRICS_TYPES"):
            full.pop(k, None)
        full["GLASSHEAP_HTTP"] = "127.0.0.1:0"
        full.update(env or {})
        self.p = subprocess.Popen(argv or [ARGS.host], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=full, text=True)
        CHILDREN.append(self.p)
        self.expect = {}
        self.port = None
        if expect_lines:
            for line in self._lines(timeout=20):
                if line.startswith("port "):
                    self.port = int(line.split()[1])
                elif line.startswith("expect "):
                    _, fn, n, b, an, ab = line.split()
                    self.expect[fn] = dict(inuse_objects=int(n), inuse_space=int(b), alloc_objects=int(an),
                                           alloc_space=int(ab))
                elif line == "ready":
                    break
        else:
            deadline = time.time() + 20
            while self.port is None and time.time() < deadline:
                line = self.p.stderr.readline()
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line or "")
                if m:
                    self.port = int(m.group(1))
        if not self.port:
            raise SystemExit("host did not start")
        self.url = "http://127.0.0.1:%d" % self.port

    def _lines(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.p.stdout.readline()
            if not line:
                return
            yield line.rstrip("\n")

    def cmd(self, c):
        self.p.stdin.write(c + "\n")
        self.p.stdin.flush()
        for line in self._lines(timeout=20):
            if line == "ok":
                return True
        return False

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.flush()
                self.p.wait(10)
            except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait(5)


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def ctype(self):
        return self.headers.get("content-type", "")


def http(url, method="GET", headers=None, timeout=60):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Resp(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Resp(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def get_ok(url, ctype):
    """GET url, checked to answer 200 with the content type ctype."""
    r = http(url)
    check(r.status == 200 and r.ctype() == ctype, "GET %s: 200 %s (got %d %s)" % (url, ctype, r.status, r.ctype()))
    return r


def run(argv, timeout=60, env=None, input=None):
    full = dict(os.environ)
    full.update({"HOME": TMP, "PPROF_TMPDIR": TMP, "GOCACHE": os.path.join(TMP, "gocache")})
    full.update(env or {})
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=full, input=input)
    return p.returncode, p.stdout, p.stderr


def save(name, data):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


# ---- pprof output parsing ------------------------------------------------------------

UNITS = {"B": 1, "kB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3}


def pprof_top(path, extra=()):
    """{function: flat} from go tool pprof -top (bytes with -unit=B, else counts)."""
    rc, out, err = run(["go", "tool", "pprof", "-top", "-nodecount=10000", "-nodefraction=0", "-edgefraction=0",
                        *extra, path])
    check(rc == 0, "go tool pprof -top %s %s: exit %d" % (" ".join(extra), path, rc), err)
    rows = {}
    started = False
    for line in out.splitlines():
        if line.strip().startswith("flat"):
            started = True
            continue
        if not started or not line.strip():
            continue
        parts = line.split()
        flat = parts[0]
        m = re.match(r"^(-?[0-9.]+)([A-Za-z]*)$", flat)
        if not m:
            continue
        v = float(m.group(1)) * UNITS.get(m.group(2), 1)
        name = " ".join(parts[5:]).replace(" (inline)", "")
        rows[name] = rows.get(name, 0) + v
    return rows, out


# ---- Cases -----------------------------------------------------------------------------

def case_pprof():
    need("go")
    h = Host(env={"GLASSHEAP_TRACE": "64"})
    try:
        section("GET /debug/pprof/heap: gzipped profile.proto")
        r = get_ok(h.url + "/debug/pprof/heap", "application/octet-stream")
        check(r.body[:2] == b"\x1f\x8b", "gzip magic")
        check("heap.pb.gz" in r.headers.get("content-disposition", ""), "content-disposition names the file")
        a = save("a.pb.gz", r.body)

        section("go tool pprof -top: exact in-use bytes and counts per function")
        top_b, out = pprof_top(a, ["-sample_index=inuse_space", "-unit=B"])
        print(out)
        top_n, _ = pprof_top(a, ["-sample_index=inuse_objects"])
        alloc_b, _ = pprof_top(a, ["-sample_index=alloc_space", "-unit=B"])
        alloc_n, _ = pprof_top(a, ["-sample_index=alloc_objects"])
        for fn in ("alpha_leaf", "beta_leaf", "gamma_leaf"):
            e = h.expect[fn]
            check(top_b.get(fn) == e["inuse_space"], "%s inuse_space %s == %d" % (fn, top_b.get(fn), e["inuse_space"]))
            check(top_n.get(fn) == e["inuse_objects"], "%s inuse_objects %s == %d" % (fn, top_n.get(fn), e["inuse_objects"]))
            check(alloc_b.get(fn) == e["alloc_space"], "%s alloc_space %s == %d" % (fn, alloc_b.get(fn), e["alloc_space"]))
            check(alloc_n.get(fn) == e["alloc_objects"], "%s alloc_objects %s == %d" % (fn, alloc_n.get(fn), e["alloc_objects"]))

        section("inuse_space per function == tracemalloc's figures")
        top = http(h.url + "/debug/tracemalloc/top?top_n=100").json()
        for fn, marker in (("alpha_leaf", "ALLOC_ALPHA"), ("beta_leaf", "ALLOC_BETA"), ("gamma_leaf", "ALLOC_GAMMA")):
            rows = [x for x in top["top_allocations"] if marker in x["line"]]
            check(len(rows) == 1 and rows[0]["size_bytes"] == top_b.get(fn),
                  "%s: tracemalloc %r == pprof %s" % (fn, rows, top_b.get(fn)))

        section("go tool pprof -traces: full stacks, type labels")
        rc, out, err = run(["go", "tool", "pprof", "-traces", a])
        check(rc == 0, "-traces exit 0", err)
        blocks = out.split("-----------+")
        # Two stacks end in alpha_leaf: the kept blocks (type ExportAlpha) and
        # the freed ones (another call line in alpha_mid; no live block, so
        # no type label and 0 in use).
        alpha = [b for b in blocks if "alpha_leaf" in b]
        live = [b for b in alpha if "type:  ExportAlpha" in b]
        freed = [b for b in alpha if "type:" not in b]
        check(len(live) == 1 and re.search(r"9\.77kB\s+alpha_leaf\s+alpha_mid\s+alpha_top\s+main", live[0] if live else ""),
              "alpha's live trace, root..leaf, type ExportAlpha", alpha)
        check(len(freed) == 1 and re.search(r"\s0\s+alpha_leaf\s+alpha_mid", freed[0] if freed else ""),
              "the freed blocks' stack: 0 in use, no type label", alpha)
        rc, out, err = run(["go", "tool", "pprof", "-tags", a])
        check(rc == 0 and "ExportAlpha" in out and 'Export "Gamma";odd' in out and "malloc" in out,
              "-tags lists the types", out)
        rc, out, err = run(["go", "tool", "pprof", "-raw", a])
        check(re.search(r"(?m)^PeriodType: space bytes$", out) and re.search(r"(?m)^Period: 1$", out),
              "period 1 (every allocation traced)", out[:600])
        m = re.search(r"(?ms)^Mappings\n(.*)", out)
        check(m and re.search(r"export_host.*\b[0-9a-f]{40}\b", m.group(1)) and "libc.so" in m.group(1),
              "mappings name the modules with build ids", m.group(1)[:800] if m else out[-800:])
        exe_id = subprocess.run(["readelf", "-n", ARGS.host], capture_output=True, text=True).stdout
        bid = re.search(r"Build ID: ([0-9a-f]+)", exe_id)
        check(bid and bid.group(1) in out, "the executable's build id (readelf -n) is in the profile")

        section("go tool pprof -base: growth between two saved profiles")
        check(h.cmd("grow"), "grow")
        b = save("b.pb.gz", http(h.url + "/debug/pprof/heap").body)
        diff, out = pprof_top(b, ["-base", a, "-sample_index=inuse_space", "-unit=B"])
        e = h.expect["grow_leaf"]
        check(diff.get("grow_leaf") == e["inuse_space"], "-base: grow_leaf +%s == %d" % (diff.get("grow_leaf"), e["inuse_space"]), out)
        check(not diff.get("alpha_leaf"), "-base: alpha_leaf unchanged", out)

        section("go tool pprof -http (no browser): the web UI serves the profile")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        env = dict(os.environ, HOME=TMP, PPROF_TMPDIR=TMP, GOCACHE=os.path.join(TMP, "gocache"))
        web = subprocess.Popen(["go", "tool", "pprof", "-no_browser", "-http=127.0.0.1:%d" % port, a],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        CHILDREN.append(web)
        page = None
        deadline = time.time() + 40
        while time.time() < deadline and page is None:
            try:
                page = http("http://127.0.0.1:%d/ui/top" % port, timeout=5)
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        check(page is not None and page.status == 200 and b"alpha_leaf" in page.body, "-http /ui/top shows alpha_leaf")
        page = http("http://127.0.0.1:%d/ui/flamegraph" % port) if page else None
        check(page is not None and page.status == 200 and b"alpha_leaf" in page.body, "-http /ui/flamegraph")
        web.terminate()
        web.wait(10)

        section("?debug=1: the legacy text profile (google-pprof, go tool pprof)")
        r = http(h.url + "/debug/pprof/heap?debug=1")
        text = r.body.decode()
        check(r.status == 200 and text.startswith("heap profile: ") and "\nMAPPED_LIBRARIES:\n" in text,
              "legacy text shape", text[:200])
        t = save("heap.txt", r.body)
        legacy, out = pprof_top(t, ["-sample_index=inuse_space", "-unit=B"])
        for fn in ("alpha_leaf", "beta_leaf", "grow_leaf"):
            check(legacy.get(fn) == h.expect[fn]["inuse_space"], "go tool pprof on debug=1: %s %s" % (fn, legacy.get(fn)), out)
        if shutil.which("google-pprof"):
            rc, out, err = run(["google-pprof", "--text", "--inuse_objects", "--nodecount=1000", "--nodefraction=0",
                                ARGS.host, t])
            check(rc == 0, "google-pprof exit 0", err)
            counts = {}
            for line in out.splitlines():
                p = line.split()
                if len(p) >= 6 and re.match(r"^\d+$", p[0]):
                    counts[p[5]] = int(p[0])
            for fn in ("alpha_leaf", "beta_leaf", "gamma_leaf", "grow_leaf"):
                check(counts.get(fn) == h.expect[fn]["inuse_objects"],
                      "google-pprof --inuse_objects %s %s == %d" % (fn, counts.get(fn), h.expect[fn]["inuse_objects"]), out)
        else:
            print("(google-pprof not installed: its check is left out)")

        section("tracing off: one frame per allocation site")
        check(http(h.url + "/debug/tracemalloc/stop", "POST").status == 200, "stop tracing")
        c = save("c.pb.gz", http(h.url + "/debug/pprof/heap").body)
        sites, out = pprof_top(c, ["-sample_index=inuse_space", "-unit=B"])
        for fn in ("alpha_leaf", "beta_leaf", "gamma_leaf", "grow_leaf"):
            check(sites.get(fn) == h.expect[fn]["inuse_space"], "site profile: %s %s" % (fn, sites.get(fn)), out)
        rc, out, err = run(["go", "tool", "pprof", "-traces", c])
        alpha = [b for b in out.split("-----------+") if "alpha_leaf" in b]
        check(alpha and "alpha_mid" not in alpha[0], "site profile: one frame", alpha)
    finally:
        h.close()

    section("sampled tracing: the rate in the profile, figures == tracemalloc's estimates")
    h = Host(env={"GLASSHEAP_TRACE": "64", "GLASSHEAP_TRACE_SAMPLE": "512"})
    try:
        a = save("s.pb.gz", http(h.url + "/debug/pprof/heap").body)
        rc, out, err = run(["go", "tool", "pprof", "-raw", a])
        check(re.search(r"(?m)^Period: 512$", out), "Period: 512", out[:400])
        top_b, _ = pprof_top(a, ["-sample_index=inuse_space", "-unit=B"])
        top = http(h.url + "/debug/tracemalloc/top?top_n=100").json()
        for fn, marker in (("alpha_leaf", "ALLOC_ALPHA"), ("gamma_leaf", "ALLOC_GAMMA")):
            rows = [x for x in top["top_allocations"] if marker in x["line"]]
            got = top_b.get(fn, 0)
            want = rows[0]["size_bytes"] if rows else 0
            check(got == want, "sampled %s: pprof %s == tracemalloc %s" % (fn, got, want))
    finally:
        h.close()


FOLDED_LINE = re.compile(r"^([^\n]+) (\d+)$")


def parse_folded(text, what):
    """A strict reading of the format flamegraph.pl, speedscope and inferno
    take: one stack per line, frames split on ';', the value after the last
    space (flamegraph.pl: /^(.*)\\s+?(\\d+(?:\\.\\d*)?)$/). Returns {stack tuple: value}."""
    out = {}
    check(text == "" or text.endswith("\n"), "%s: ends with a newline" % what)
    for line in text.split("\n")[:-1]:
        m = FOLDED_LINE.match(line)
        if not check(m is not None, "%s: line shape %r" % (what, line)):
            continue
        frames = m.group(1).split(";")
        for f in frames:
            check(f != "" and f == f.strip() and not re.search(r"[\x00-\x1f\x7f]", f),
                  "%s: frame %r is clean" % (what, f))
        check(tuple(frames) not in out, "%s: one line per stack" % what)
        check(int(m.group(2)) > 0, "%s: positive value" % what)
        out[tuple(frames)] = int(m.group(2))
    return out


def leaf_sum(stacks, fn):
    return sum(v for k, v in stacks.items() if k[-1].startswith(fn + " ("))


def case_folded():
    h = Host(env={"GLASSHEAP_TRACE": "64"})
    try:
        section("live stacks, value=bytes (default) and count")
        r = get_ok(h.url + "/debug/tracemalloc/folded", "text/plain; charset=utf-8")
        st = parse_folded(r.body.decode("utf-8"), "folded")
        for fn in ("alpha_leaf", "beta_leaf", "gamma_leaf"):
            check(leaf_sum(st, fn) == h.expect[fn]["inuse_space"], "%s bytes %d" % (fn, leaf_sum(st, fn)))
        alpha = [k for k in st if k[-1].startswith("alpha_leaf (")]
        check(len(alpha) == 1 and [f.split(" (")[0] for f in alpha[0][-4:]] == ["main", "alpha_top", "alpha_mid", "alpha_leaf"],
              "root first: ...;main;alpha_top;alpha_mid;alpha_leaf", alpha)
        check(alpha and re.match(r"^alpha_leaf \(.*export_host\.c:\d+\)$", alpha[0][-1]), "frame text function (file:line)", alpha)
        cnt = parse_folded(http(h.url + "/debug/tracemalloc/folded?value=count").body.decode(), "count")
        for fn in ("alpha_leaf", "beta_leaf", "gamma_leaf"):
            check(leaf_sum(cnt, fn) == h.expect[fn]["inuse_objects"], "%s count %d" % (fn, leaf_sum(cnt, fn)))
        total = sum(st.values())
        status = http(h.url + "/debug/tracemalloc/status").json()
        check(abs(total / 1048576 - status["current_mb"]) < 0.01, "sum of lines %d ~ current_mb %s" % (total, status["current_mb"]))

        section("snapshot and growth between snapshots")
        check(http(h.url + "/debug/tracemalloc/snapshot?name=s1", "POST").status == 200, "snapshot s1")
        check(h.cmd("grow"), "grow")
        check(http(h.url + "/debug/tracemalloc/snapshot?name=s2", "POST").status == 200, "snapshot s2")
        g = parse_folded(http(h.url + "/debug/tracemalloc/folded?snapshot=s2&base=s1").body.decode(), "growth")
        check(list(g.values()) == [h.expect["grow_leaf"]["inuse_space"]] and list(g)[0][-1].startswith("grow_leaf ("),
              "growth s1 -> s2 is grow_leaf alone", g)
        neg = http(h.url + "/debug/tracemalloc/folded?snapshot=s1&base=s2").body.decode()
        check(neg == "", "shrinking stacks are left out: %r" % neg[:200])
        s1 = parse_folded(http(h.url + "/debug/tracemalloc/folded?snapshot=s1").body.decode(), "s1")
        check(leaf_sum(s1, "alpha_leaf") == h.expect["alpha_leaf"]["inuse_space"] and leaf_sum(s1, "grow_leaf") == 0, "snapshot s1")

        section("errors: 400 not tracing, 404 unknown snapshot, 422 bad parameters")
        check(http(h.url + "/debug/tracemalloc/stop", "POST").status == 200, "stop")
        r = http(h.url + "/debug/tracemalloc/folded")
        check(r.status == 400 and r.json() == {"detail": "tracemalloc is not running; POST /debug/tracemalloc/start first"},
              "400 when tracing is off", r.body)
        r = http(h.url + "/debug/tracemalloc/folded?snapshot=s2&base=s1")
        check(r.status == 200 and parse_folded(r.body.decode(), "after stop"), "snapshots still answer after stop")
        r = http(h.url + "/debug/tracemalloc/folded?snapshot=nope")
        check(r.status == 404 and r.json() == {"detail": "Snapshot 'nope' not found"}, "404 unknown snapshot", r.body)
        r = http(h.url + "/debug/tracemalloc/folded?snapshot=s1&base=nope2")
        check(r.status == 404 and "nope2" in r.json()["detail"], "404 unknown base", r.body)
        r = http(h.url + "/debug/tracemalloc/folded?value=size&snapshot=a%20b")
        d = r.json()["detail"] if r.status == 422 else []
        check(r.status == 422 and [e["loc"] for e in d] == [["query", "value"], ["query", "snapshot"]] and
              d[0]["type"] == "enum" and d[1]["type"] == "string_pattern_mismatch", "422 names value and snapshot", r.body)
    finally:
        h.close()


def metrics_map(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


def case_metrics():
    need("promtool")
    h = Host(env={"GLASSHEAP_METRICS_TYPES": "2"})
    try:
        section("promtool check metrics")
        r = get_ok(h.url + "/metrics", "text/plain; version=0.0.4; charset=utf-8")
        text = r.body.decode("utf-8")
        rc, out, err = run(["promtool", "check", "metrics"], input=text)
        check(rc == 0 and not out.strip() and not err.strip(), "promtool check metrics passes", out + err)
        for fam in ("glassheap_live_bytes", "glassheap_live_objects", "glassheap_allocations_total",
                    "glassheap_frees_total", "glassheap_gc_passes_total", "glassheap_gc_last_pause_seconds",
                    "glassheap_gc_unreachable_objects", "glassheap_self_bytes", "process_resident_memory_bytes"):
            check(re.search(r"(?m)^# HELP %s .+\n# TYPE %s (gauge|counter)$" % (fam, fam), text), "HELP/TYPE of %s" % fam)

        section("exact per-type values (quiet moment) against /debug/memory, top 2 + other")
        # A quiet moment: the program's rows of /debug/memory the same before and after the
        # /metrics read (a host preempted right after "ready" may still be making its last
        # allocation); the two answers are then compared exactly.
        def program_rows(doc):
            return [t for t in doc["top_objects"] if t["type"] != "glassheap"]
        for _ in range(20):
            mem = http(h.url + "/debug/memory?top_n=100").json()
            m = metrics_map(http(h.url + "/metrics").body.decode())
            if program_rows(http(h.url + "/debug/memory?top_n=100").json()) == program_rows(mem):
                break
            time.sleep(0.2)
        prog = program_rows(mem)
        prog.sort(key=lambda t: (-t["total_size_bytes"], -t["count"]))
        for t in prog[:2]:
            lbl = t["type"].replace("\\", "\\\\").replace('"', '\\"')
            check(m.get('glassheap_live_bytes{type="%s"}' % lbl) == t["total_size_bytes"], "bytes of %s" % t["type"])
            check(m.get('glassheap_live_objects{type="%s"}' % lbl) == t["count"], "objects of %s" % t["type"])
        rest = prog[2:]
        check(m.get('glassheap_live_bytes{type="other"}') == sum(t["total_size_bytes"] for t in rest), "other bytes")
        check(m.get('glassheap_live_objects{type="other"}') == sum(t["count"] for t in rest), "other objects")
        check(len([k for k in m if k.startswith("glassheap_live_bytes{")]) == 3, "2 types + other")
        self_row = [t for t in mem["top_objects"] if t["type"] == "glassheap"]
        check(not self_row or "glassheap" not in [k for k in m if k.startswith("glassheap_live_bytes{type=\"glassheap\"")],
              "glassheap's own allocations are not a program type")

        section("gc figures after a pass")
        gc = http(h.url + "/debug/memory/gc", "POST").json()
        m = metrics_map(http(h.url + "/metrics").body.decode())
        check(m["glassheap_gc_passes_total"] == 1 and m["glassheap_gc_collections_total"] == 1, "one pass counted")
        check(abs(m["glassheap_gc_last_pause_seconds"] - gc["pause_ms"] / 1000) < 1e-6, "last pause == pause_ms")
        check(m["glassheap_gc_unreachable_objects"] == gc["gc_stats"]["garbage_count"], "unreachable == garbage_count")
        check(m["process_resident_memory_bytes"] > 0, "RSS")
    finally:
        h.close()
    section("GLASSHEAP_METRICS_TYPES default 20, bad value ignored with one log line")
    h = Host(env={"GLASSHEAP_METRICS_TYPES": "x"})
    try:
        text = http(h.url + "/metrics").body.decode()
        n = len(re.findall(r"(?m)^glassheap_live_bytes\{", text))
        check(4 <= n <= 21, "default bound: %d series" % n)
        check(re.search(r'(?m)^glassheap_live_bytes\{type="Export \\"Gamma\\";odd"\} 6144$', text),
              "label value escaped", [l for l in text.splitlines() if "Gamma" in l])
    finally:
        h.close()
        err = h.p.stderr.read()
        check("GLASSHEAP_METRICS_TYPES=x ignored" in err, "log line for a bad value", err)


def case_rules():
    h = Host(env={"GLASSHEAP_TRACE": "8"})
    try:
        section("405 + Allow")
        for path in ("/metrics", "/debug/pprof/heap", "/debug/tracemalloc/folded", "/debug/"):
            r = http(h.url + path, "POST")
            check(r.status == 405 and r.headers.get("allow") == "GET" and r.json() == {"detail": "Method Not Allowed"},
                  "POST %s -> 405" % path)
        section("422 in JSON and msgpack")
        r = http(h.url + "/debug/pprof/heap?debug=7")
        check(r.status == 422 and r.json()["detail"][0]["loc"] == ["query", "debug"], "debug=7 -> 422", r.body)
        r = http(h.url + "/debug/tracemalloc/folded?value=x", headers={"Accept": "application/msgpack"})
        check(r.status == 422 and r.ctype() == "application/msgpack", "422 in msgpack for folded")
        section("404 around the new paths")
        for path in ("/metrics/", "/debug/pprof", "/debug/pprof/heap/x", "/debug/index.html"):
            check(http(h.url + path).status == 404, "%s -> 404" % path)
        section("the page")
        r = http(h.url + "/debug/")
        check(r.status == 200 and r.ctype() == "text/html; charset=utf-8" and b"<canvas id=\"flame\"" in r.body,
              "GET /debug/ -> the page")
        csp = r.headers.get("content-security-policy", "")
        check("default-src 'none'" in csp and "connect-src 'self'" in csp, "CSP: nothing but this server", csp)
        check(not re.search(rb"(src|href)=\"(https?:)?//", r.body), "no external resource in the page")
    finally:
        h.close()
    section("token")
    h = Host(env={"GLASSHEAP_TOKEN": "s3cret"})
    try:
        auth = {"Authorization": "Bearer s3cret"}
        for path in ("/metrics", "/debug/pprof/heap", "/debug/tracemalloc/folded"):
            r = http(h.url + path)
            check(r.status == 401 and r.headers.get("www-authenticate") == "Bearer", "%s without token -> 401" % path)
        check(http(h.url + "/metrics", headers=auth).status == 200, "/metrics with token")
        check(http(h.url + "/debug/pprof/heap", headers=auth).status == 200, "pprof with token")
        check(http(h.url + "/debug/").status == 200, "the page's shell loads without the token")
        check(http(h.url + "/debug/", "POST").status == 401, "POST /debug/ without the token -> 401")
    finally:
        h.close()


def case_cli():
    need("go")
    h = Host(env={"GLASSHEAP_TRACE": "64"})
    try:
        section("glassheap pprof -o FILE")
        out = os.path.join(TMP, "cli.pb.gz")
        rc, o, e = run([ARGS.cli, "--url", h.url, "pprof", "-o", out])
        check(rc == 0 and os.path.getsize(out) > 0, "exit 0, file written", o + e)
        check(gzip.open(out).read(2) is not None, "gzip file")
        top, txt = pprof_top(out, ["-sample_index=inuse_space", "-unit=B"])
        check(top.get("alpha_leaf") == h.expect["alpha_leaf"]["inuse_space"], "the saved profile reads", txt)
        check(out in o and "go tool pprof" in o, "prints where and how to read it", o)
        rc, o, e = run([ARGS.cli, "--url", h.url, "pprof"])
        check(rc == 1 and "-o" in e, "pprof without -o: usage error", e)
        rc, o, e = run([ARGS.cli, "--url", "http://127.0.0.1:1", "pprof", "-o", out])
        check(rc == 2, "unreachable server: exit 2", e)
    finally:
        h.close()
    h = Host(env={"GLASSHEAP_TOKEN": "tok"})
    try:
        out = os.path.join(TMP, "cli2.pb.gz")
        rc, o, e = run([ARGS.cli, "--url", h.url, "pprof", "-o", out])
        check(rc == 3 and "401" in e, "without the token: exit 3", e)
        rc, o, e = run([ARGS.cli, "--url", h.url, "--token", "tok", "pprof", "-o", out])
        check(rc == 0, "with the token", e)
    finally:
        h.close()


def case_demo():
    need("go", "promtool")
    if not ARGS.demo:
        skip("the demo is not built")
    h = Host(argv=[ARGS.demo, "--quiet", "--duration", "60"], env={"GLASSHEAP_TRACE": "32"}, expect_lines=False)
    try:
        section("the demo: pprof, folded, metrics")
        time.sleep(1)
        p = save("demo.pb.gz", http(h.url + "/debug/pprof/heap").body)
        top, out = pprof_top(p, ["-sample_index=inuse_space", "-unit=B"])
        check(any(k in top for k in ("cache_put", "session_acquire")), "the demo's functions", out)
        rc, out, err = run(["go", "tool", "pprof", "-tags", p])
        check(any(t in out for t in ("CacheEntry", "Session")), "the demo's types as labels", out)
        text = http(h.url + "/metrics").body.decode()
        rc, o, e = run(["promtool", "check", "metrics"], input=text)
        check(rc == 0, "promtool on the demo", o + e)
        check('glassheap_live_bytes{type="CacheEntry"}' in text, "CacheEntry in /metrics")
        st = parse_folded(http(h.url + "/debug/tracemalloc/folded").body.decode(), "demo folded")
        check(any(k[-1].startswith(("cache_put", "session_acquire")) for k in st), "demo stacks in folded")
    finally:
        h.p.send_signal(signal.SIGTERM)
        try:
            h.p.wait(10)
        except subprocess.TimeoutExpired:
            h.p.kill()


CASES = {"pprof": case_pprof, "folded": case_folded, "metrics": case_metrics, "rules": case_rules,
         "cli": case_cli, "demo": case_demo}


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--host", required=True)
    ap.add_argument("--cli")
    ap.add_argument("--demo")
    ARGS = ap.parse_args()
    TMP = tempfile.mkdtemp(prefix="gh-export-")
    try:
        CASES[ARGS.case]()
    finally:
        for p in CHILDREN:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        shutil.rmtree(TMP, ignore_errors=True)
    return verdict()


if __name__ == "__main__":
    sys.exit(main())
