#!/usr/bin/python3
"""Integration tests of glassheap's debug server (tests/server/CMakeLists.txt).

Run by /usr/bin/python3 (Debian's python3-msgpack is installed for it):

    test_server.py --case NAME --host gh_test_server_host
                   --host-static gh_test_server_host_static --lib libglassheap.so
                   --msgpack2json gh_test_msgpack2json [--demo glassheap-demo]

Cases: endpoints, auth, lifecycle, load, preload, demo (see CMakeLists.txt).
HTTP calls go through curl (as a user would); the load case uses raw sockets.
Only loopback addresses are used; every wait is bounded; every child process
is killed at the end. Exit status 0 when every check passed.
"""
import argparse
import errno
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

import msgpack

ARGS = None
FAILURES = []
CHILDREN = []


# ---- Reporting ------------------------------------------------------------------

def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL: " + what, flush=True)
    return cond


def section(name):
    print("== " + name, flush=True)


# ---- Processes ------------------------------------------------------------------

class Proc:
    """A child with line-oriented stdin/stdout and stderr collected in the background."""

    def __init__(self, argv, env=None):
        full_env = dict(os.environ)
        for k in ("GLASSHEAP_HTTP", "GLASSHEAP_TOKEN", "GLASSHEAP_PREVIEW", "LD_PRELOAD"):
            full_env.pop(k, None)
        full_env.update(env or {})
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=full_env)
        CHILDREN.append(self.p)
        self.lines = queue.Queue()
        self.err = []
        self.err_lock = threading.Lock()
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_out(self):
        for raw in self.p.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.lines.put(None)

    def _read_err(self):
        for raw in self.p.stderr:
            with self.err_lock:
                self.err.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def readline(self, timeout=15):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def stderr_lines(self):
        with self.err_lock:
            return list(self.err)

    def wait_stderr(self, pattern, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in self.stderr_lines():
                m = re.search(pattern, line)
                if m:
                    return m
            time.sleep(0.05)
        return None

    def cmd(self, line, timeout=15):
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()
        return self.readline(timeout)

    def close(self, timeout=10):
        if self.p.poll() is None:
            try:
                self.p.stdin.write(b"quit\n")
                self.p.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        return self.p.returncode


class Host(Proc):
    """gh_test_server_host: prints 'ready rc=.. port=.. pid=..' then obeys commands."""

    def __init__(self, listen=None, env=None, start=True, static=False):
        argv = [ARGS.host_static if static else ARGS.host]
        if listen:
            argv += ["--listen", listen]
        if not start:
            argv.append("--no-start")
        super().__init__(argv, env)
        line = self.readline(20)
        m = re.match(r"ready rc=(\d+) port=(\d+) pid=(\d+)$", line or "")
        if not m:
            raise RuntimeError("host did not start: %r, stderr %r" % (line, self.stderr_lines()))
        self.rc, self.port, self.pid = int(m.group(1)), int(m.group(2)), int(m.group(3))

    def start(self, listen):
        m = re.match(r"start rc=(\d+) port=(\d+)$", self.cmd("start " + listen) or "")
        if not m:
            raise RuntimeError("bad reply to start")
        self.port = int(m.group(2))
        return int(m.group(1))

    def stop(self):
        return self.cmd("stop") == "stopped"

    def alive(self):
        return self.p.poll() is None and self.cmd("ping") == "pong"

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def glassheap_lines(self):
        return [l for l in self.stderr_lines() if l.startswith("glassheap:")]


def kill_children():
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass


# ---- HTTP through curl ------------------------------------------------------------

class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def ctype(self):
        return self.headers.get("content-type", "")

    def doc(self):
        """The body decoded per its Content-Type (msgpack via python3-msgpack)."""
        if self.ctype() == "application/msgpack":
            return msgpack.unpackb(self.body, raw=False, strict_map_key=True)
        return json.loads(self.body.decode("utf-8"))


def curl(path, port=None, method="GET", headers=(), unix=None, timeout=20, addr="127.0.0.1"):
    if unix:
        url = "http://localhost" + path
    else:
        url = "http://%s:%d%s" % (addr, port, path)
    argv = ["curl", "-sS", "-i", "--globoff", "--path-as-is", "--max-time", "10", "-X", method]
    if unix:
        argv += ["--unix-socket", unix]
    for h in headers:
        argv += ["-H", h]
    argv.append(url)
    r = subprocess.run(argv, capture_output=True, timeout=timeout)
    if r.returncode != 0:
        return Resp(0, {}, r.stderr)
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return Resp(status, hdrs, body)


MSGPACK = ("Accept: application/msgpack",)


def msgpack2json(body):
    r = subprocess.run([ARGS.msgpack2json], input=body, capture_output=True, timeout=20)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout.decode("utf-8"))


def same(a, b):
    """Equal with the same types everywhere (int is not float, bool is not int) and the same key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def same_shape(a, b):
    """Same keys and value types everywhere; lists compared element by element."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_shape(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return all(same_shape(x, y) for x, y in zip(a, b))
    return True


def msgpack_decodings_agree(resp, what):
    """python3-msgpack and the project's own reader must decode one body identically."""
    ours = msgpack2json(resp.body)
    theirs = resp.doc()
    check(ours is not None, what + ": msgpack2json failed to decode")
    check(ours is None or same(ours, theirs), what + ": msgpack2json and python3-msgpack disagree")
    return theirs


# ---- api.md schemas ------------------------------------------------------------------

MEMORY = {
    "summary": {"total_objects": int, "total_size_bytes": int, "total_size_mb": float, "unique_types": int},
    "top_objects": [{"type": str, "count": int, "total_size_bytes": int, "avg_size_bytes": int,
                     "total_size_mb": float}],
    "gc_stats": {"collections": [int], "thresholds": [int], "garbage_count": int},
    "sort_by": str,
    # glassheap's addition (docs/api.md)
    "allocator": {
        "requested_bytes": int, "header_bytes": int, "rounding_bytes": int,
        "jemalloc": {"allocated": int, "active": int, "metadata": int, "resident": int, "mapped": int,
                     "retained": int},
        "metadata": {"mapped_bytes": int, "used_bytes": int},
        "cage": {"reserved_bytes": int, "used_bytes": int},
        "rss_bytes": int, "rss_mb": float,
    },
}
TYPES = {"type": str, "count": int, "total_size_bytes": int, "total_size_mb": float, "avg_size_bytes": int,
         "samples": [str]}
ERROR_422 = {"detail": [{"type": str, "loc": [str], "msg": str}]}


def conforms(doc, schema, where="$"):
    """Every field of schema with exactly its type; dicts must have exactly schema's keys,
    except 422 entries, which may carry FastAPI's extra "input"/"ctx"."""
    if isinstance(schema, dict):
        if not isinstance(doc, dict):
            return check(False, "%s: want an object, got %r" % (where, doc))
        extra = set(doc) - set(schema)
        if schema is ERROR_422["detail"][0]:
            extra -= {"input", "ctx"}
        ok = check(not extra, "%s: unexpected keys %s" % (where, sorted(extra)))
        for k, sub in schema.items():
            if check(k in doc, "%s: missing key %r" % (where, k)):
                ok = conforms(doc[k], sub, where + "." + k) and ok
        return ok
    if isinstance(schema, list):
        if not check(isinstance(doc, list), "%s: want a list, got %r" % (where, doc)):
            return False
        return all([conforms(x, schema[0], "%s[%d]" % (where, i)) for i, x in enumerate(doc)])
    return check(type(doc) is schema, "%s: want %s, got %r" % (where, schema.__name__, doc))


def mb(n):
    return round(n / 1024 / 1024, 2)


def get_doc(port, path, schema=None, **kw):
    r = curl(path, port, **kw)
    check(r.status == 200, "GET %s: status %d %r" % (path, r.status, r.body[:200]))
    d = r.doc() if r.status == 200 else None
    if d is not None and schema is not None:
        conforms(d, schema, path)
    return d


def type_entry(doc, name):
    for t in doc["top_objects"]:
        if t["type"] == name:
            return t
    return None


# ---- Case: endpoints -----------------------------------------------------------------------

GAMMA = 'Test "Gamma" \u03c0'
KNOWN = {  # name: (count, total bytes)
    "TestAlpha": (100, 4800),
    "TestBeta": (7, sum(1000 + i for i in range(7))),
    GAMMA: (3, 30),
}


def check_memory_doc(d, where):
    s = d["summary"]
    tops = d["top_objects"]
    check(s["unique_types"] == len(tops), where + ": unique_types != len(top_objects) with top_n=100")
    check(s["total_objects"] == sum(t["count"] for t in tops), where + ": total_objects != sum of counts")
    check(s["total_size_bytes"] == sum(t["total_size_bytes"] for t in tops), where + ": total bytes != sum")
    check(s["total_size_mb"] == mb(s["total_size_bytes"]), where + ": total_size_mb not bytes/MiB rounded")
    for t in tops:
        check(t["count"] > 0, where + ": a type with no live objects is listed: %r" % t)
        check(t["avg_size_bytes"] == t["total_size_bytes"] // t["count"], where + ": avg of %r" % t["type"])
        check(t["total_size_mb"] == mb(t["total_size_bytes"]), where + ": mb of %r" % t["type"])
    check(type_entry(d, "TestEmpty") is None, where + ": TestEmpty (no objects) listed")
    for name, (count, total) in KNOWN.items():
        t = type_entry(d, name)
        if check(t is not None, where + ": %r missing from top_objects" % name):
            check(t["count"] == count, where + ": %r count %d != %d" % (name, t["count"], count))
            check(t["total_size_bytes"] == total, where + ": %r bytes %d != %d" % (name, t["total_size_bytes"], total))
            check(t["avg_size_bytes"] == total // count, where + ": %r avg" % name)
    g = d["gc_stats"]
    check(g["collections"] == [0, 0, 0] and g["thresholds"] == [0, 0, 0] and g["garbage_count"] == 0,
          where + ": gc_stats %r (no collection has run)" % g)
    a = d["allocator"]
    check(a["requested_bytes"] == s["total_size_bytes"], where + ": allocator.requested_bytes != total")
    check(a["header_bytes"] == 16 * s["total_objects"], where + ": header_bytes != 16 * objects")
    check(a["rounding_bytes"] == a["jemalloc"]["allocated"] - a["requested_bytes"] - a["header_bytes"],
          where + ": rounding_bytes != allocated - requested - headers")
    check(a["jemalloc"]["allocated"] > 0 and a["jemalloc"]["active"] >= a["jemalloc"]["allocated"] // 2,
          where + ": jemalloc figures %r" % a["jemalloc"])
    check(0 < a["cage"]["used_bytes"] <= a["cage"]["reserved_bytes"], where + ": cage %r" % a["cage"])
    check(a["rss_bytes"] > 0 and a["rss_mb"] == mb(a["rss_bytes"]), where + ": rss")


def check_sorted(d, key, where):
    tops = d["top_objects"]
    if key == "size":
        keys = [(t["total_size_bytes"], t["count"]) for t in tops]
    else:
        keys = [(t["count"], t["total_size_bytes"]) for t in tops]
    check(keys == sorted(keys, reverse=True), where + ": top_objects not sorted by " + key)


def check_422(r, params, where):
    """422 naming exactly `params` (in order), with api.md's entry fields."""
    check(r.status == 422, "%s: status %d, want 422" % (where, r.status))
    if r.status != 422:
        return
    d = r.doc()
    conforms(d, ERROR_422, where)
    locs = [e["loc"] for e in d["detail"]]
    check(locs == [["query", p] for p in params], "%s: locs %r, want %r" % (where, locs, params))


def case_endpoints():
    h = Host()
    check(h.rc == 0 and h.port > 0, "host started the server on port 0 (rc=%d port=%d)" % (h.rc, h.port))
    port = h.port

    section("GET /debug/memory: fields, types, exact counts")
    d = get_doc(port, "/debug/memory?top_n=100", MEMORY)
    check(d["sort_by"] == "size", "default sort_by is size")
    check_memory_doc(d, "top_n=100")
    check_sorted(d, "size", "top_n=100")
    d20 = get_doc(port, "/debug/memory", MEMORY)
    check(len(d20["top_objects"]) == min(20, d20["summary"]["unique_types"]), "default top_n is 20")
    d1 = get_doc(port, "/debug/memory?top_n=1", MEMORY)
    check(len(d1["top_objects"]) == 1, "top_n=1 gives one entry")
    dc = get_doc(port, "/debug/memory?top_n=100&sort_by=count", MEMORY)
    check(dc["sort_by"] == "count", "sort_by=count echoed")
    check_sorted(dc, "count", "sort_by=count")
    check_memory_doc(dc, "sort_by=count")
    d2 = get_doc(port, "/debug/memory?sort_by=count&top_n=2&unknown=ignored", MEMORY)
    check(len(d2["top_objects"]) == 2, "top_n=2 with an unknown parameter")

    section("GET /debug/memory: JSON and msgpack carry the same document")
    for q in ("?top_n=100", "?top_n=3&sort_by=count"):
        j = curl("/debug/memory" + q, port)
        m = curl("/debug/memory" + q, port, headers=MSGPACK)
        check(j.ctype() == "application/json", "JSON content type")
        check(m.ctype() == "application/msgpack", "msgpack content type")
        md = msgpack_decodings_agree(m, "/debug/memory" + q)
        conforms(md, MEMORY, "msgpack /debug/memory" + q)
        check(same_shape(j.doc(), md), "/debug/memory%s: JSON and msgpack differ in keys or types" % q)
        check(len(j.doc()["top_objects"]) == len(md["top_objects"]), "same number of entries")
        for name in KNOWN:
            if "top_n=100" in q:
                check(same(type_entry(j.doc(), name), type_entry(md, name)), "entry %r same in both" % name)

    section("content negotiation")
    for hdrs, q, want in [((), "", "application/json"),
                          (("Accept: application/x-msgpack",), "", "application/msgpack"),
                          (("Accept: application/json, application/msgpack",), "", "application/msgpack"),
                          (("Accept: application/msgpack;q=0",), "", "application/json"),
                          ((), "?format=msgpack", "application/msgpack"),
                          (MSGPACK, "?format=json", "application/json"),
                          (("Accept: text/html",), "", "application/json")]:
        r = curl("/debug/memory" + q, port, headers=hdrs)
        check(r.status == 200 and r.ctype() == want, "Accept %r %s -> %s (got %s)" % (hdrs, q, want, r.ctype()))
        if r.ctype() == "application/msgpack":
            conforms(msgpack_decodings_agree(r, "negotiation"), MEMORY, "negotiated msgpack")

    section("GET /debug/memory/types")
    d = get_doc(port, "/debug/memory/types?type_name=TestAlpha", TYPES)
    check(d["type"] == "TestAlpha" and d["count"] == 100 and d["total_size_bytes"] == 4800 and
          d["avg_size_bytes"] == 48 and d["total_size_mb"] == 0.0, "TestAlpha figures: %r" % {k: d[k] for k in d if k != "samples"})
    check(len(d["samples"]) == 10, "default samples is 10 (got %d)" % len(d["samples"]))
    check(all(re.fullmatch(r"TestAlpha\{index=\d+\}", s) for s in d["samples"]), "formatter renders samples: %r" % d["samples"][:3])
    d = get_doc(port, "/debug/memory/types?type_name=TestAlpha&samples=100", TYPES)
    idx = sorted(int(re.search(r"\d+", s).group()) for s in d["samples"])
    check(idx == list(range(100)), "samples=100 shows each of the 100 live TestAlpha once")
    d = get_doc(port, "/debug/memory/types?type_name=TestAlpha&samples=0", TYPES)
    check(d["samples"] == [] and d["count"] == 100, "samples=0 gives no samples")
    d = get_doc(port, "/debug/memory/types?type_name=TestBeta&samples=100", TYPES)
    check(d["count"] == 7 and d["total_size_bytes"] == 7021 and d["avg_size_bytes"] == 1003 and
          d["total_size_mb"] == 0.01, "TestBeta figures")
    host_name = re.escape(os.path.basename(ARGS.host))
    # symbolized (the host is built with -g): "allocated at main (…/server_host.c:N)"
    pat = r"TestBeta at 0x[0-9a-f]+ size (\d+) allocated at main \(\S*server_host\.c:\d+\)"
    del host_name
    check(len(d["samples"]) == 7 and all(re.fullmatch(pat, s) for s in d["samples"]),
          "default samples show address, size and site: %r" % d["samples"][:2])
    sizes = sorted(int(re.fullmatch(pat, s).group(1)) for s in d["samples"] if re.fullmatch(pat, s))
    check(sizes == [1000 + i for i in range(7)], "sample sizes %r" % sizes)
    check(not any("bytes:" in s for s in d["samples"]), "no object bytes without GLASSHEAP_PREVIEW=1")
    for q in ("type_name=Test%20%22Gamma%22%20%CF%80", "type_name=Test+%22Gamma%22+%cf%80"):
        d = get_doc(port, "/debug/memory/types?" + q, TYPES)
        check(d["type"] == GAMMA and d["count"] == 3 and d["total_size_bytes"] == 30 and len(d["samples"]) == 3,
              "percent-decoded type name %s: %r" % (q, d["type"]))
    for name in ("TestEmpty", "NoSuchType", ""):
        d = get_doc(port, "/debug/memory/types?type_name=" + name, TYPES)
        check(same(d, {"type": name, "count": 0, "total_size_bytes": 0, "total_size_mb": 0.0,
                       "avg_size_bytes": 0, "samples": []}), "type %r: zero document, got %r" % (name, d))
    for q in ("type_name=TestAlpha&samples=7", "type_name=TestBeta", "type_name=NoSuchType",
              "type_name=Test%20%22Gamma%22%20%CF%80"):
        j = curl("/debug/memory/types?" + q, port)
        m = curl("/debug/memory/types?" + q, port, headers=MSGPACK)
        f = curl("/debug/memory/types?format=msgpack&" + q, port)
        md = msgpack_decodings_agree(m, "types " + q)
        check(same(j.doc(), md), "types %s: JSON and msgpack documents differ" % q)
        check(f.ctype() == "application/msgpack" and same(f.doc(), md), "?format=msgpack same document")

    section("422: each bad parameter named")
    for path, params in [("/debug/memory?top_n=0", ["top_n"]), ("/debug/memory?top_n=101", ["top_n"]),
                         ("/debug/memory?top_n=abc", ["top_n"]), ("/debug/memory?top_n=", ["top_n"]),
                         ("/debug/memory?top_n=1.5", ["top_n"]), ("/debug/memory?top_n=-3", ["top_n"]),
                         ("/debug/memory?sort_by=SIZE", ["sort_by"]), ("/debug/memory?sort_by=", ["sort_by"]),
                         ("/debug/memory?top_n=0&sort_by=bogus", ["top_n", "sort_by"]),
                         ("/debug/memory?sort_by=bogus&top_n=x", ["top_n", "sort_by"]),
                         ("/debug/memory/types", ["type_name"]),
                         ("/debug/memory/types?type_name=TestAlpha&samples=101", ["samples"]),
                         ("/debug/memory/types?type_name=TestAlpha&samples=-1", ["samples"]),
                         ("/debug/memory/types?type_name=TestAlpha&samples=x", ["samples"]),
                         ("/debug/memory/types?samples=x", ["type_name", "samples"])]:
        r = curl(path, port)
        check_422(r, params, path)
        m = curl(path, port, headers=MSGPACK)
        check(m.status == 422 and m.ctype() == "application/msgpack", path + ": 422 in msgpack")
        if r.status == 422 and m.status == 422:
            check(same(r.doc(), msgpack_decodings_agree(m, path)), path + ": 422 JSON and msgpack differ")
    r = curl("/debug/memory?top_n=0", port)
    e = r.doc()["detail"][0]
    check(e["type"] == "greater_than_equal" and e["msg"] == "Input should be greater than or equal to 1",
          "top_n=0 error text: %r" % e)
    r = curl("/debug/memory/types", port)
    e = r.doc()["detail"][0]
    check(e["type"] == "missing" and e["msg"] == "Field required", "missing type_name text: %r" % e)

    section("400: undecodable query")
    for q in ("top_n=%zz", "top_n=%00", "type_name=%"):
        r = curl("/debug/memory?" + q, port)
        check(r.status == 400 and isinstance(r.doc().get("detail"), str), "?%s -> 400 with a detail string" % q)

    section("404, 405")
    for path in ("/", "/debug", "/debug/", "/debug/memory/", "/debug/memory/typesX", "/debug/memoryX",
                 "/debug/memory/types/x", "/debug/tracemalloc", "/debug/tracemalloc/snapshot/",
                 "/debug/tracemalloc/snapshot/a/b", "/nope?top_n=1", "/DEBUG/MEMORY"):
        r = curl(path, port)
        check(r.status == 404 and r.ctype() == "application/json" and same(r.doc(), {"detail": "Not Found"}),
              "%s -> 404 {\"detail\":\"Not Found\"} (got %d %r)" % (path, r.status, r.body[:80]))
    r = curl("/nope", port, headers=MSGPACK)
    check(r.status == 404 and same(msgpack_decodings_agree(r, "404"), {"detail": "Not Found"}), "404 in msgpack")
    for method, path, allow in [("POST", "/debug/memory", "GET"), ("PUT", "/debug/memory", "GET"),
                                ("DELETE", "/debug/memory/types", "GET"), ("GET", "/debug/memory/gc", "POST"),
                                ("POST", "/debug/memory/referrers", "GET"), ("GET", "/debug/tracemalloc/start", "POST"),
                                ("GET", "/debug/tracemalloc/snapshot", "POST"),
                                ("GET", "/debug/tracemalloc/snapshot/x", "DELETE"),
                                ("POST", "/debug/tracemalloc/status", "GET"), ("DELETE", "/debug/tracemalloc/stop", "POST")]:
        r = curl(path, port, method=method)
        check(r.status == 405 and r.headers.get("allow") == allow and
              same(r.doc(), {"detail": "Method Not Allowed"}),
              "%s %s -> 405 Allow: %s (got %d %r)" % (method, path, allow, r.status, r.headers.get("allow")))
    check(h.alive(), "host alive after the endpoint checks")
    check(h.glassheap_lines() == [], "no glassheap log lines: %r" % h.glassheap_lines())
    h.close()

    section("GLASSHEAP_PREVIEW=1 shows object bytes")
    h = Host(env={"GLASSHEAP_PREVIEW": "1"})
    d = get_doc(h.port, "/debug/memory/types?type_name=TestBeta&samples=1", TYPES)
    check(len(d["samples"]) == 1 and d["samples"][0].endswith(" bytes:" + " 42" * 16 + " ..."),
          "preview of TestBeta: %r" % d["samples"])
    d = get_doc(h.port, "/debug/memory/types?type_name=TestAlpha&samples=1", TYPES)
    check(re.fullmatch(r"TestAlpha\{index=\d+\}", d["samples"][0]) is not None, "formatter output is not previewed")
    h.close()


# ---- Case: auth ------------------------------------------------------------------------------

def case_auth():
    section("GLASSHEAP_TOKEN")
    token = "s3cr3t-t0ken"
    h = Host(env={"GLASSHEAP_TOKEN": token})
    check(h.rc == 0, "server starts with a token")
    p = h.port
    for hdrs in ((), ("Authorization: Bearer wrong",), ("Authorization: Bearer " + token[:-1],),
                 ("Authorization: Bearer " + token + "x",), ("Authorization: Basic " + token,),
                 ("Authorization: " + token,), ("Authorization: Bearer",)):
        r = curl("/debug/memory", p, headers=hdrs)
        check(r.status == 401 and r.headers.get("www-authenticate") == "Bearer" and
              isinstance(r.doc().get("detail"), str), "%r -> 401 (got %d)" % (hdrs, r.status))
    r = curl("/nope", p)
    check(r.status == 401, "unknown path without token -> 401, not 404")
    r = curl("/debug/memory", p, headers=("Authorization: Bearer wrong",) + MSGPACK)
    check(r.status == 401 and r.ctype() == "application/msgpack", "401 in msgpack")
    for hdr in ("Authorization: Bearer " + token, "Authorization: bearer  " + token, "authorization: BEARER " + token):
        r = curl("/debug/memory", p, headers=(hdr,))
        check(r.status == 200, "%r -> 200 (got %d)" % (hdr, r.status))
        if r.status == 200:
            conforms(r.doc(), MEMORY, "authorized /debug/memory")
    r = curl("/nope", p, headers=("Authorization: Bearer " + token,))
    check(r.status == 404, "unknown path with token -> 404")
    check(h.alive(), "host alive")
    h.close()

    section("non-loopback bind refused without a token")
    for listen in ("0.0.0.0:0", "[::]:0"):
        h = Host(listen=listen)
        check(h.rc == errno.EPERM and h.port == 0, "%s without token -> EPERM (rc=%d)" % (listen, h.rc))
        h.wait_stderr(r"^glassheap:.*GLASSHEAP_TOKEN", timeout=5)  # stderr is read by another thread
        lines = h.glassheap_lines()
        check(len(lines) == 1 and "GLASSHEAP_TOKEN" in lines[0], "one clear log line: %r" % lines)
        check(h.alive(), "host keeps running after a refused start")
        h.close()
    h = Host(env={"GLASSHEAP_HTTP": "0.0.0.0:0"}, start=False)
    check(h.wait_stderr("refusing", 5) is not None, "GLASSHEAP_HTTP=0.0.0.0:0 logged")
    check(len(h.glassheap_lines()) == 1, "exactly one line: %r" % h.glassheap_lines())
    check(h.alive() and h.cmd("port") == "port 0", "host runs, no server")
    h.close()

    section("other loopback addresses need no token")
    h = Host(listen="127.0.0.2:0")
    check(h.rc == 0 and curl("/debug/memory", h.port, addr="127.0.0.2").status == 200,
          "127.0.0.2 accepted and serves")
    h.close()
    h = Host(listen="[::1]:0")
    if h.rc == 0:
        r = subprocess.run(["curl", "-sS", "-g", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                            "http://[::1]:%d/debug/memory" % h.port], capture_output=True, timeout=20)
        check(r.stdout == b"200", "[::1] serves")
    else:
        check(h.rc in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT), "[::1]: rc=%d" % h.rc)
        print("note: no IPv6 loopback here (rc=%d)" % h.rc)
    h.close()


# ---- Case: lifecycle ---------------------------------------------------------------------------

def port_refuses(port):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def glassheap_live_bytes(port):
    d = get_doc(port, "/debug/memory?top_n=100")
    t = type_entry(d, "glassheap") if d else None
    return (t["total_size_bytes"] if t else 0), d["allocator"]["rss_bytes"] if d else 0


def case_lifecycle():
    section("port in use")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    bport = busy.getsockname()[1]
    h = Host(listen="127.0.0.1:%d" % bport)
    check(h.rc == errno.EADDRINUSE and h.port == 0, "start on a bound port -> EADDRINUSE (rc=%d)" % h.rc)
    h.wait_stderr(r"^glassheap:.*in use", timeout=5)  # stderr is read by another thread
    lines = h.glassheap_lines()
    check(len(lines) == 1 and "Address already in use" in lines[0] and str(bport) in lines[0],
          "one clear line: %r" % lines)
    check(h.alive(), "host keeps running")
    check(h.start("127.0.0.1:0") == 0 and h.port > 0, "then a start on port 0 works")
    check(curl("/debug/memory", h.port).status == 200, "and serves")
    check(h.start("127.0.0.1:0") == errno.EALREADY, "a second start -> EALREADY")
    busy.close()

    section("malformed addresses")
    h.stop()
    for bad in ("nope", "127.0.0.1:99999", "::1:80", "unix:", "10.0.0.1:", "127.0.0.1:80x", "[::1]80",
                "example.com:80", ""):
        n0 = len(h.glassheap_lines())
        rc = h.start(bad)
        check(rc == errno.EINVAL, "start %r -> EINVAL (rc=%d)" % (bad, rc))
        deadline = time.time() + 3
        while len(h.glassheap_lines()) < n0 + 1 and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(0.05)
        check(len(h.glassheap_lines()) == n0 + 1, "start %r logs one line: %r" % (bad, h.glassheap_lines()[n0:]))
    check(h.alive(), "host alive")

    section("stop and restart in the same process")
    fds, live = [], []
    for i in range(6):
        rc = h.start("127.0.0.1:0")
        check(rc == 0 and h.port > 0, "restart %d (rc=%d)" % (i, rc))
        port = h.port
        for _ in range(5):
            check(curl("/debug/memory", port).status == 200, "cycle %d serves" % i)
        gb, _ = glassheap_live_bytes(port)
        live.append(gb)
        # a kept-alive connection open across the stop
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /debug/memory HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(65536)
        check(h.stop(), "stop %d" % i)
        check(port_refuses(port), "port %d closed after stop" % port)
        s.settimeout(5)
        try:
            rest = s.recv(65536)
        except OSError:
            rest = b""
        check(rest == b"", "open connection closed by stop")
        s.close()
        check(h.cmd("port") == "port 0", "gh_server_port() is 0 after stop")
        fds.append(h.fds())
    check(len(set(fds[1:])) == 1, "no fd growth across start/stop cycles: %r" % fds)
    check(max(live[1:]) - min(live[1:]) < 4096, "no glassheap growth across cycles: %r" % live)
    check(h.alive(), "host alive after cycles")
    check("did not close" not in " ".join(h.glassheap_lines()), "no abandoned connections")
    h.close()

    section("static library; a reachability pass pauses the server thread too")
    h = Host(static=True)
    check(h.rc == 0 and curl("/debug/memory", h.port).status == 200, "libglassheap.a host serves")
    d = get_doc(h.port, "/debug/memory?top_n=100", MEMORY)
    if d:
        check_memory_doc(d, "static host")
    for i in range(3):
        reply = h.cmd("gc", timeout=30)
        check(reply is not None and reply.startswith("gc rc=0 "), "gc pass %d with the server running: %r" % (i, reply))
        check(curl("/debug/memory/types?type_name=TestAlpha", h.port).status == 200, "serves after gc %d" % i)
    d = get_doc(h.port, "/debug/memory?top_n=1", MEMORY)
    if d:
        g = d["gc_stats"]
        check(g["collections"] == [0, 0, 0] and g["thresholds"] == [0, 0, 0] and g["garbage_count"] >= 0,
              "passes that did not collect leave collections at 0: %r" % g)
    check(h.stop() and h.start("127.0.0.1:0") == 0 and curl("/debug/memory", h.port).status == 200,
          "static host: stop and restart")
    h.close()

    section("Unix socket")
    with tempfile.TemporaryDirectory(prefix="gh-srv-") as tmp:
        path = os.path.join(tmp, "debug.sock")
        h = Host(listen="unix:" + path)
        check(h.rc == 0 and h.port == 0, "unix: start rc=%d, port 0" % h.rc)
        st = os.lstat(path)
        check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600,
              "socket mode %o" % stat.S_IMODE(st.st_mode))
        r = curl("/debug/memory", unix=path)
        check(r.status == 200 and conforms(r.doc(), MEMORY, "unix /debug/memory"), "curl --unix-socket")
        r = curl("/debug/memory/types?type_name=TestAlpha", unix=path, headers=MSGPACK)
        check(r.status == 200 and r.doc()["count"] == 100, "msgpack over the Unix socket")
        h2 = Host(listen="unix:" + path)
        check(h2.rc == errno.EADDRINUSE, "a live socket path is not stolen (rc=%d)" % h2.rc)
        h2.close()
        check(h.stop() and not os.path.exists(path), "stop removes the socket path")
        # a stale socket file (its process died) is replaced
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.close()
        check(h.start("unix:" + path) == 0 and curl("/debug/memory", unix=path).status == 200, "stale socket replaced")
        h.stop()
        with open(path, "w") as f:
            f.write("not a socket")
        check(h.start("unix:" + path) == errno.EEXIST, "a regular file is not replaced")
        check(open(path).read() == "not a socket", "and is left alone")
        os.unlink(path)
        check(h.alive(), "host alive")
        h.close()

        section("GLASSHEAP_HTTP at load time")
        h = Host(env={"GLASSHEAP_HTTP": "127.0.0.1:0"}, start=False)
        m = h.wait_stderr(r"listening on 127\.0\.0\.1:(\d+) \(GLASSHEAP_HTTP\)", 10)
        if check(m is not None, "GLASSHEAP_HTTP logs its port: %r" % h.stderr_lines()):
            port = int(m.group(1))
            check(h.cmd("port") == "port %d" % port, "gh_server_port() agrees")
            d = get_doc(port, "/debug/memory?top_n=100", MEMORY)
            if d:
                check_memory_doc(d, "GLASSHEAP_HTTP")
            check(h.start("127.0.0.1:0") == errno.EALREADY, "gh_server_start after GLASSHEAP_HTTP -> EALREADY")
        h.close()
        h = Host(env={"GLASSHEAP_HTTP": "unix:" + path}, start=False)
        check(h.wait_stderr(r"listening on unix:", 10) is not None, "GLASSHEAP_HTTP=unix:")
        check(curl("/debug/memory", unix=path).status == 200, "serves on the path")
        rc = h.close()
        check(rc == 0 and not os.path.exists(path), "exit stops the server and removes the path (rc=%r)" % rc)
        h = Host(env={"GLASSHEAP_HTTP": "not-an-address"}, start=False)
        check(h.wait_stderr(r"GLASSHEAP_HTTP=\"not-an-address\" is not an address", 5) is not None,
              "bad GLASSHEAP_HTTP logged: %r" % h.stderr_lines())
        check(h.alive(), "host runs anyway")
        h.close()


# ---- Case: load --------------------------------------------------------------------------------

def http_get(sock, path, keep_alive=True):
    """One request on sock; returns (status, body)."""
    conn = "keep-alive" if keep_alive else "close"
    sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: %s\r\n\r\n" % (path, conn)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before headers")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    n = int(m.group(1))
    while len(body) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in body")
        body += chunk
    return status, body


def settle_fds(h, want, timeout=5):
    deadline = time.time() + timeout
    n = h.fds()
    while n != want and time.time() < deadline:
        time.sleep(0.05)
        n = h.fds()
    return n


def case_load():
    h = Host()
    port = h.port
    for i in range(50):  # warm h2o's and jemalloc's caches, and the symbolizer (libdw keeps ELF files open)
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        http_get(s, "/debug/memory/types?type_name=%s&samples=100" % ("TestBeta" if i == 0 else "TestAlpha"), False)
        s.close()
    time.sleep(0.3)
    fd0 = h.fds()
    gb0, rss0 = glassheap_live_bytes(port)

    section("1000 sequential requests")
    ok = 0
    t0 = time.time()
    for i in range(500):  # a new connection each
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        st, _ = http_get(s, "/debug/memory?top_n=%d" % (1 + i % 100), False)
        s.close()
        ok += st == 200
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    for i in range(500):  # one kept-alive connection
        st, _ = http_get(s, "/debug/memory/types?type_name=TestBeta&samples=%d" % (i % 8))
        ok += st == 200
    s.close()
    check(ok == 1000, "1000 sequential requests answered 200 (%d)" % ok)
    print("1000 sequential requests in %.2f s" % (time.time() - t0))

    section("50 concurrent clients")
    results = []
    barrier = threading.Barrier(50)

    def client(n):
        try:
            barrier.wait(10)
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            good = 0
            for i in range(20):
                st, body = http_get(s, "/debug/memory?top_n=100" if i % 2 else
                                    "/debug/memory/types?type_name=TestAlpha&samples=20")
                good += st == 200 and len(body) > 0
            s.close()
            results.append(good)
        except Exception as e:  # noqa: BLE001 - reported below
            results.append("%s: %s" % (n, e))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check(results == [20] * 50 or sorted(map(str, results)) == ["20"] * 50,
          "50 concurrent clients x 20 requests: %r" % [r for r in results if r != 20][:5])

    section("clients that disconnect mid-response")
    for i in range(200):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        kind = i % 4
        if kind == 0:  # request a large document, reset at once
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.sendall(b"GET /debug/memory/types?type_name=TestAlpha&samples=100 HTTP/1.1\r\nHost: x\r\n\r\n")
        elif kind == 1:  # read a few bytes of the response, then go
            s.sendall(b"GET /debug/memory?top_n=100 HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(10)
        elif kind == 2:  # half a request
            s.sendall(b"GET /debug/mem")
        else:  # pipelined requests, nothing read
            s.sendall(b"GET /debug/memory HTTP/1.1\r\nHost: x\r\n\r\n" * 20)
        s.close()
    check(curl("/debug/memory", port).status == 200, "serves after 200 disconnects")

    section("garbage and oversized requests")
    rnd = random.Random(1234)
    for blob in [b"\x00" * 100, bytes(rnd.getrandbits(8) for _ in range(2000)), b"GET / HTTP/9.9\r\n\r\n",
                 b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"GET /debug/memory HTTP/1.1\r\nUpgrade: h2c\r\n"
                 b"Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nHost: x\r\n\r\n"]:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            s.sendall(blob)
            s.shutdown(socket.SHUT_WR)
            reply = s.recv(200)
        except OSError:
            reply = b""
        s.close()
        check(not reply.startswith(b"HTTP/1.1 101"), "no protocol switch for %r" % blob[:20])
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    sent = 0
    try:
        s.sendall(b"GET /debug/memory HTTP/1.1\r\nHost: x\r\n")
        line = b"X-Filler: " + b"a" * 1000 + b"\r\n"
        while sent < 1024 * 1024:
            s.sendall(line)
            sent += len(line)
        reply = s.recv(100)
    except OSError:
        reply = b""
    s.close()
    check(not reply.startswith(b"HTTP/1.1 200"), "a 1 MiB header block is refused: %r" % reply[:40])
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /debug/memory/gc HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000)
    s.settimeout(10)
    try:
        reply = s.recv(100)
    except OSError:
        reply = b""
    s.close()
    check(reply.startswith(b"HTTP/1.1 413") or reply == b"", "a large body is refused: %r" % reply[:40])
    check(curl("/debug/memory", port).status == 200, "serves after garbage")

    section("connection cap")
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(140)]
    time.sleep(0.3)
    check(h.fds() <= fd0 + 128 + 2, "at most 128 connections accepted (fds %d -> %d)" % (fd0, h.fds()))
    late = socket.create_connection(("127.0.0.1", port), timeout=5)  # waits in the backlog
    late.sendall(b"GET /debug/memory HTTP/1.1\r\nHost: x\r\n\r\n")
    late.settimeout(0.5)
    try:
        early = late.recv(100)
    except socket.timeout:
        early = None
    check(early is None, "past the cap a connection waits: %r" % early)
    for s in idle[:30]:
        s.close()
    late.settimeout(10)
    try:
        reply = late.recv(12) if early is None else early
    except OSError:
        reply = b""
    check(reply.startswith(b"HTTP/1.1 200"), "served once connections close: %r" % reply)
    late.close()
    for s in idle[30:]:
        s.close()

    section("request timeout")
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /debug/mem")  # never completes
    s.settimeout(20)
    t0 = time.time()
    try:
        rest = s.recv(100)
    except OSError:
        rest = b""
    waited = time.time() - t0
    s.close()
    check(rest == b"" and waited < 15, "an incomplete request is dropped by the timeout (%.1f s)" % waited)
    print("incomplete request closed after %.1f s" % waited)

    section("no fd or memory growth")
    fd1 = settle_fds(h, fd0)
    check(fd1 == fd0, "fds before %d, after %d" % (fd0, fd1))
    gb1, rss1 = glassheap_live_bytes(port)
    print("glassheap live bytes %d -> %d, RSS %d -> %d" % (gb0, gb1, rss0, rss1))
    check(gb1 - gb0 < 256 * 1024, "glassheap live bytes grew by %d" % (gb1 - gb0))
    check(rss1 - rss0 < 32 * 1024 * 1024, "RSS grew by %d" % (rss1 - rss0))
    check(h.alive(), "host alive")
    check(h.glassheap_lines() == [], "no log lines: %r" % h.glassheap_lines())
    h.close()


# ---- Case: preload -------------------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_http(port, path="/debug/memory", timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = curl(path, port)
        if r.status == 200:
            return r
        time.sleep(0.2)
    return None


def case_preload():
    section("LD_PRELOAD into sleep")
    port = free_port()
    p = Proc(["sleep", "30"], env={"LD_PRELOAD": ARGS.lib, "GLASSHEAP_HTTP": "127.0.0.1:%d" % port})
    r = wait_http(port)
    if check(r is not None, "sleep answers GET /debug/memory (stderr %r)" % p.stderr_lines()):
        d = r.doc()
        conforms(d, MEMORY, "sleep /debug/memory")
        check(type_entry(d, "glassheap") is not None, "the server's own allocations are under 'glassheap'")
        check(d["summary"]["total_objects"] > 0, "objects counted")
        r = curl("/debug/memory/types?type_name=malloc&samples=3", port, headers=MSGPACK)
        check(r.status == 200 and conforms(msgpack_decodings_agree(r, "preload types"), TYPES, "sleep types"),
              "types in msgpack")
    p.p.send_signal(signal.SIGTERM)
    p.p.wait(10)

    section("LD_PRELOAD into /usr/bin/python3")
    p = Proc(["/usr/bin/python3", "-c", "import time, json; x = [json.dumps({'k': i}) for i in range(20000)]; time.sleep(30)"],
             env={"LD_PRELOAD": ARGS.lib, "GLASSHEAP_HTTP": "127.0.0.1:0"})
    m = p.wait_stderr(r"listening on 127\.0\.0\.1:(\d+)", 15)
    if check(m is not None, "python logs the port: %r" % p.stderr_lines()):
        r = wait_http(int(m.group(1)))
        if check(r is not None, "python answers"):
            d = r.doc()
            conforms(d, MEMORY, "python /debug/memory")
            t = type_entry(d, "malloc")
            check(t is not None and t["count"] > 100, "python's mallocs are counted: %r" % t)
    p.p.kill()
    p.p.wait(10)


# ---- Case: demo ------------------------------------------------------------------------------------

def case_demo():
    if not ARGS.demo:
        print("glassheap-demo not built: skipped")
        return
    section("glassheap-demo --leak SpeechRecognizer")
    p = Proc([ARGS.demo, "--listen", "127.0.0.1:0", "--threads", "2", "--duration", "60", "--quiet",
              "--leak", "SpeechRecognizer"])
    line = p.readline(15)
    m = re.search(r"http://127\.0\.0\.1:(\d+)/debug/memory", line or "")
    if not check(m is not None, "demo prints its address: %r %r" % (line, p.stderr_lines())):
        return
    port = int(m.group(1))

    def count(name):
        d = get_doc(port, "/debug/memory/types?type_name=%s&samples=0" % name)
        return d["count"] if d else 0

    # The demo creates and destroys these all the time: wait for one document
    # (one moment) that holds all three, rather than three counts at three moments.
    names = ("Session", "CacheEntry", "SpeechRecognizer")
    deadline = time.time() + 15
    d = get_doc(port, "/debug/memory?top_n=100", MEMORY)
    while time.time() < deadline and not (d and all(type_entry(d, n) is not None for n in names)):
        time.sleep(0.3)
        d = get_doc(port, "/debug/memory?top_n=100", MEMORY)
    for name in names:
        check(d is not None and type_entry(d, name) is not None, "demo has live %s objects" % name)
    pats = {"Session": r"Session\{id=\d+, user=user-\d+, requests=\d+\}",
            "CacheEntry": r"CacheEntry\{key=transcript:\d+, bytes=\d+, hits=\d+\}",
            "SpeechRecognizer": r"SpeechRecognizer\{id=\d+, lang=[a-z]{2}-[A-Z]{2}, state=(idle|listening|recognizing|done)\}",
            "AudioBuffer": r"AudioBuffer\{session=\d+, samples=\d+, rate=16000Hz, bytes=\d+\}"}
    for name, pat in pats.items():
        t = get_doc(port, "/debug/memory/types?type_name=%s&samples=5" % name, TYPES)
        check(t is not None and all(re.fullmatch(pat, s) for s in t["samples"]),
              "%s samples: %r" % (name, t and t["samples"][:2]))
    c1 = count("SpeechRecognizer")
    c2 = c1
    deadline = time.time() + 20
    while c2 <= c1 and time.time() < deadline:
        time.sleep(0.5)
        c2 = count("SpeechRecognizer")
    check(c2 > c1 > 0, "leaked SpeechRecognizers grow: %d -> %d" % (c1, c2))
    p.p.send_signal(signal.SIGTERM)
    try:
        rc = p.p.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, "demo exits 0 on SIGTERM (rc=%r)" % rc)


# ---- Case: gc (POST /debug/memory/gc, GET /debug/memory/referrers) -------------------------------

CLASS = {"count": int, "bytes": int}
GC = {
    "collected_objects": int, "objects_before": int, "objects_after": int, "objects_freed": int,
    "gc_stats": {"collections": [int], "thresholds": [int], "garbage_count": int},
    # glassheap's additions (docs/api.md)
    "collected_bytes": int, "pause_ms": float, "mark_ms": float, "threads_stopped": int, "threads_blocked": int,
    "stop_method": str, "collect_skipped": bool, "scanned_bytes": int,
    "roots": {k: {"ranges": int, "bytes": int} for k in ("registered", "stack", "tls", "global")},
    "unreachable": {
        "summary": {"definitely_lost": CLASS, "indirectly_lost": CLASS, "possibly_lost": CLASS, "reachable": CLASS},
        "by_type": [{"type": str, "definitely_lost": CLASS, "indirectly_lost": CLASS, "possibly_lost": CLASS}],
        "by_site": [{"site": str, "function": str, "filename": str, "lineno": int, "type": str, "class": str,
                     "count": int, "bytes": int}],
        "truncated": bool,
    },
}
REFERRERS = {"type": str, "object_count": int, "analyzed_sample_size": int,
             "top_referrers": [{"type": str, "count": int}], "pause_ms": float}


def case_gc():
    section("POST /debug/memory/gc: fields, JSON == msgpack, leak report, collection")
    h = Host(static=True)
    port = h.port
    r = curl("/debug/memory/gc", port, method="POST")
    check(r.status == 200, "gc -> 200 (got %d %r)" % (r.status, r.body[:200]))
    d0 = r.doc()
    conforms(d0, GC, "gc")
    m = curl("/debug/memory/gc", port, method="POST", headers=MSGPACK)
    check(m.status == 200 and m.headers.get("content-type") == "application/msgpack", "gc in msgpack")
    conforms(msgpack_decodings_agree(m, "gc msgpack"), GC, "gc msgpack")
    fm = curl("/debug/memory/gc?format=msgpack", port, method="POST")
    check(same_shape(fm.doc(), d0), "?format=msgpack carries the same document shape")
    runs0 = d0["gc_stats"]["collections"][2]

    check(h.cmd("leak 25") == "leaked 25", "host leaked 25 + 25 objects")
    d = get_doc(port, "/debug/memory/gc", GC, method="POST")
    if d:
        by_type = {t["type"]: t for t in d["unreachable"]["by_type"]}
        leak = by_type.get("TestLeak")
        check(leak is not None and leak["definitely_lost"] == {"count": 25, "bytes": 25 * 64},
              "TestLeak: 25 definitely lost, 1600 bytes: %r" % leak)
        check(d["collected_objects"] == 25 and d["collected_bytes"] == 25 * 32,
              "the 25 collectable TestCollect objects were freed: %r" % d["collected_objects"])
        check(d["objects_before"] - d["objects_after"] == 25 == d["objects_freed"], "objects_before/after/freed")
        check(d["gc_stats"]["collections"][2] >= runs0 + 2, "collections count the passes")
        check(d["gc_stats"]["garbage_count"] >= 25, "garbage_count counts what stays")
        sites = [x for x in d["unreachable"]["by_site"] if x["type"] == "TestLeak"]
        check(len(sites) == 1 and sites[0]["class"] == "definitely_lost" and sites[0]["count"] == 25 and
              "gh_test_server_host_static+0x" in sites[0]["site"], "one TestLeak site: %r" % sites)
        check(len(sites) == 1 and sites[0]["function"] == "leak_some" and
              sites[0]["filename"].endswith("server_host.c") and sites[0]["lineno"] > 0,
              "the TestLeak site is symbolized: %r" % sites)
        check(d["threads_stopped"] >= 2 and d["pause_ms"] > 0 and d["roots"]["global"]["ranges"] > 0,
              "pause figures and roots")
    t = get_doc(port, "/debug/memory/types?type_name=TestCollect&samples=0", TYPES)
    check(t is not None and t["count"] == 0, "TestCollect counters dropped to 0")
    t = get_doc(port, "/debug/memory/types?type_name=TestLeak&samples=0", TYPES)
    check(t is not None and t["count"] == 25, "TestLeak objects stay (not collectable)")

    section("GET /debug/memory/referrers")
    d = get_doc(port, "/debug/memory/referrers?type_name=TestAlpha&max_referrers=20", REFERRERS)
    if d:
        check(d["type"] == "TestAlpha" and d["object_count"] == 100 and d["analyzed_sample_size"] == 100,
              "100 TestAlpha analyzed: %r" % {k: d[k] for k in ("object_count", "analyzed_sample_size")})
        refs = {x["type"]: x["count"] for x in d["top_referrers"]}
        check(refs.get("global:gh_test_server_host_static") == 100,
              "the host's keep[] array (a global) refers to all 100: %r" % refs)
        counts = [x["count"] for x in d["top_referrers"]]
        check(counts == sorted(counts, reverse=True), "sorted by count")
    m = curl("/debug/memory/referrers?type_name=TestAlpha", port, headers=MSGPACK)
    check(m.status == 200, "referrers in msgpack")
    conforms(msgpack_decodings_agree(m, "referrers msgpack"), REFERRERS, "referrers msgpack")
    d = get_doc(port, "/debug/memory/referrers?type_name=NoSuchType", REFERRERS)
    check(d is not None and d["object_count"] == 0 and d["top_referrers"] == [], "unknown type: 0 and []")
    d = get_doc(port, "/debug/memory/referrers?type_name=TestAlpha&max_referrers=1", REFERRERS)
    check(d is not None and len(d["top_referrers"]) <= 1, "max_referrers bounds the list")
    # 255 characters are allowed, 1020 bytes of them: once a stack overflow
    # on the server thread (found by fuzz_router)
    d = get_doc(port, "/debug/memory/referrers?type_name=" + "%F0%9F%98%80" * 255, REFERRERS)
    check(d is not None and d["object_count"] == 0 and len(d["type"]) == 255,
          "255 four-byte characters: an unknown type, 200")
    for q, param in (("", "type_name"), ("?type_name=TestAlpha&max_referrers=0", "max_referrers"),
                     ("?type_name=TestAlpha&max_referrers=21", "max_referrers"),
                     ("?type_name=TestAlpha&max_referrers=x", "max_referrers")):
        r = curl("/debug/memory/referrers" + q, port)
        d = r.doc() if r.status == 422 else None
        check(r.status == 422 and d is not None and conforms(d, ERROR_422) and
              [e["loc"] for e in d["detail"]] == [["query", param]], "referrers%s -> 422 naming %s" % (q, param))

    section("a second stop-the-world request while one runs -> 503 + Retry-After")
    check(h.cmd("gcloop 3000") == "gcloop started", "host runs passes back to back for 3 s")
    statuses = []
    retry = set()
    deadline = time.time() + 2.5
    while time.time() < deadline and len(statuses) < 200:
        r = curl("/debug/memory/gc", port, method="POST")
        statuses.append(r.status)
        if r.status == 503:
            retry.add(r.headers.get("retry-after"))
            check(isinstance(r.doc().get("detail"), str), "503 has a detail")
    check(503 in statuses, "some requests got 503 while passes ran: %r" % statuses[:20])
    check(retry == {"1"} or not retry, "Retry-After: 1 (%r)" % retry)
    # Under TSan a thread blocked in pthread_mutex_lock (the host's own gcloop,
    # waiting for the world lock a server pass holds) takes the stop signal
    # only at its next intercepted call, so a pass may time out: 504, a
    # defined outcome (the storms count it the same way under TSan).
    allowed = {200, 503, 504} if ARGS.tsan else {200, 503}
    check(set(statuses) <= allowed, "only %s: %r" % (sorted(allowed), set(statuses)))
    time.sleep(0.7)
    check(curl("/debug/memory/gc", port, method="POST").status == 200, "200 again once the loop ended")
    check(h.alive(), "host alive")
    h.close()


# ---- Case: trace (the tracemalloc family) ---------------------------------------------------------

TRACE_START = {"status": str, "message": str, "frames": int, "sample_bytes": int, "unwinder": str}
TRACE_STATUS = {"is_tracing": bool, "frames": int, "current_mb": float, "peak_mb": float,
                "available_snapshots": [str], "current_bytes": int, "peak_bytes": int, "sample_bytes": int,
                "unwinder": str, "stacks": int, "snapshots_max": int}
FRAME = {"filename": str, "lineno": int, "line": str, "function": str, "site": str}
TRACE_TOP = {"group_by": str,
             "top_allocations": [dict({"size_bytes": int, "size_mb": float, "count": int}, **FRAME)],
             "summary": {"current_mb": float, "peak_mb": float}}
TRACE_SNAP = {"status": str, "name": str, "current_mb": float, "peak_mb": float, "available_snapshots": [str]}
TRACE_CMP = {"snapshot1": str, "snapshot2": str, "group_by": str,
             "differences": [dict({"size_diff_bytes": int, "size_diff_mb": float, "count_diff": int}, **FRAME)]}
TRACE_TB = {"top_allocations": [{"size_bytes": int, "size_mb": float, "count": int, "traceback": [FRAME]}]}
NOT_TRACING = {"detail": "tracemalloc is not running; POST /debug/tracemalloc/start first"}


def both(port, path, schema, method="GET", status=200):
    """JSON and msgpack, same document shape; returns the JSON document."""
    r = curl(path, port, method=method)
    check(r.status == status, "%s %s -> %d (got %d %r)" % (method, path, status, r.status, r.body[:200]))
    d = r.doc() if r.status == status else None
    if d is not None and schema is not None:
        conforms(d, schema, path)
    m = curl(path, port, method=method, headers=MSGPACK)
    if m.status == status and d is not None:
        check(same_shape(msgpack_decodings_agree(m, path), d), "%s: msgpack shape == JSON shape" % path)
    return d


def case_trace():
    h = Host(static=True)
    port = h.port
    section("not tracing: 400 for top/snapshot/traceback/stop; status, compare and delete answer")
    for method, path in (("GET", "/debug/tracemalloc/top"), ("POST", "/debug/tracemalloc/snapshot?name=a"),
                         ("GET", "/debug/tracemalloc/traceback"), ("POST", "/debug/tracemalloc/stop")):
        r = curl(path, port, method=method)
        check(r.status == 400 and same(r.doc(), NOT_TRACING), "%s %s -> 400 %r" % (method, path, r.body[:120]))
    d = both(port, "/debug/tracemalloc/status", TRACE_STATUS)
    check(d is not None and d["is_tracing"] is False, "status: not tracing")
    r = curl("/debug/tracemalloc/compare?snapshot1=nope&snapshot2=nope2", port)
    check(r.status == 404 and "nope" in r.doc().get("detail", ""), "compare of unknown snapshots -> 404 naming it")
    r = curl("/debug/tracemalloc/snapshot/nope", port, method="DELETE")
    check(r.status == 404 and "nope" in r.doc().get("detail", ""), "delete unknown -> 404 naming it")

    section("start, snapshots, growth, compare, top, traceback, delete, stop")
    d = both(port, "/debug/tracemalloc/start?frames=10", TRACE_START, method="POST")
    check(d is not None and d["status"] == "started" and d["frames"] == 10, "started with 10 frames")
    d = both(port, "/debug/tracemalloc/snapshot?name=before", TRACE_SNAP, method="POST")
    check(d is not None and d["status"] == "created" and "before" in d["available_snapshots"], "snapshot before")
    check(h.cmd("leak 40") == "leaked 40", "host allocated 40 + 40 traced objects")
    d = both(port, "/debug/tracemalloc/snapshot?name=after", TRACE_SNAP, method="POST")
    check(d is not None and d["available_snapshots"] == ["before", "after"], "snapshot after, in order")
    d = both(port, "/debug/tracemalloc/compare?snapshot1=before&snapshot2=after&top_n=100", TRACE_CMP)
    if d:
        rows = [x for x in d["differences"] if x["function"] == "leak_some"]
        check(len(rows) == 2 and sorted((x["count_diff"], x["size_diff_bytes"]) for x in rows) ==
              [(40, 40 * 32), (40, 40 * 64)], "compare: the two leak_some lines grew by exactly 40 each: %r" % rows)
        check(all(x["filename"].endswith("server_host.c") and x["lineno"] > 0 and "gh_malloc_typed" in x["line"]
                  for x in rows), "file, line and source text of the allocation sites")
        diffs = [abs(x["size_diff_bytes"]) for x in d["differences"]]
        check(diffs == sorted(diffs, reverse=True), "sorted by absolute size difference")
    d = both(port, "/debug/tracemalloc/compare?snapshot1=before&snapshot2=after&group_by=filename", TRACE_CMP)
    check(d is not None and d["group_by"] == "filename" and
          any(x["filename"].endswith("server_host.c") and x["lineno"] == 0 for x in d["differences"]),
          "compare by filename")
    d = both(port, "/debug/tracemalloc/top?top_n=100", TRACE_TOP)
    if d:
        check(all(x["site"] == "" for x in d["top_allocations"] if x["lineno"] > 0) and
              all(re.match(r".+\+0x[0-9a-f]+$", x["site"]) for x in d["top_allocations"] if x["lineno"] == 0),
              "top: a site on the rows without a line only")
        rows = [x for x in d["top_allocations"] if x["function"] == "leak_some"]
        check(sorted((x["count"], x["size_bytes"]) for x in rows) == [(40, 40 * 32), (40, 40 * 64)],
              "top: exact counts and sizes per line: %r" % rows)
    d = both(port, "/debug/tracemalloc/traceback?top_n=50", TRACE_TB)
    if d:
        chains = [[f["function"] for f in a["traceback"]] for a in d["top_allocations"]]
        check(any(c[:2] == ["leak_some", "main"] for c in chains), "traceback: leak_some <- main: %r" % chains[:3])
        # "site" is module+0xoffset of the return address: addr2line on the call
        # (the address before it) names the frame's function in that module.
        frames = [f for a in d["top_allocations"] for f in a["traceback"]]
        check(all(re.match(r".+\+0x[0-9a-f]+$", f["site"]) for f in frames), "every frame has a module+0xoffset site")
        mine = [f for f in frames if f["function"] == "leak_some"]
        if mine and shutil.which("addr2line"):
            module, _, off = mine[0]["site"].rpartition("+0x")
            a2l = subprocess.run(["addr2line", "-f", "-e", module, hex(int(off, 16) - 1)], capture_output=True,
                                 text=True, timeout=30)
            check(module == os.path.realpath(ARGS.host_static) and a2l.stdout.split("\n")[0] == "leak_some",
                  "site names the module and the offset of leak_some's call: %r %r" % (mine[0]["site"], a2l.stdout))
    d = both(port, "/debug/tracemalloc/status", TRACE_STATUS)
    check(d is not None and d["is_tracing"] and d["current_bytes"] >= 40 * 96, "status: tracing, bytes counted")

    section("errors: names, ranges, cap")
    for path, param in (("/debug/tracemalloc/snapshot", "name"), ("/debug/tracemalloc/snapshot?name=a%20b", "name"),
                        ("/debug/tracemalloc/snapshot?name=" + "x" * 65, "name")):
        r = curl(path, port, method="POST")
        check(r.status == 422 and [e["loc"] for e in r.doc()["detail"]] == [["query", param]],
              "POST %s -> 422 naming %s" % (path[:60], param))
    for path, param in (("/debug/tracemalloc/top?top_n=0", "top_n"), ("/debug/tracemalloc/top?group_by=x", "group_by"),
                        ("/debug/tracemalloc/traceback?top_n=51", "top_n"),
                        ("/debug/tracemalloc/start?frames=101", "frames"),
                        ("/debug/tracemalloc/compare?snapshot1=before", "snapshot2")):
        r = curl(path, port, method="POST" if "start" in path else "GET")
        check(r.status == 422 and [e["loc"] for e in r.doc()["detail"]] == [["query", param]],
              "%s -> 422 naming %s" % (path, param))
    r = curl("/debug/tracemalloc/snapshot/a%20b", port, method="DELETE")
    check(r.status == 422 and [e["loc"] for e in r.doc()["detail"]] == [["path", "name"]], "DELETE bad name -> 422")
    for i in range(16):
        curl("/debug/tracemalloc/snapshot?name=s%d" % i, port, method="POST")
    r = curl("/debug/tracemalloc/snapshot?name=overflow", port, method="POST")
    check(r.status == 409 and isinstance(r.doc().get("detail"), str), "past the snapshot bound -> 409")
    r = curl("/debug/tracemalloc/snapshot?name=after", port, method="POST")
    check(r.status == 200, "re-taking an existing name replaces it even at the bound")
    d = both(port, "/debug/tracemalloc/snapshot/before", {"status": str, "name": str, "available_snapshots": [str]},
             method="DELETE")
    check(d is not None and d["status"] == "deleted" and "before" not in d["available_snapshots"], "delete")

    section("stop: snapshots survive, compare still works")
    d = both(port, "/debug/tracemalloc/stop", {"status": str}, method="POST")
    check(d == {"status": "stopped"}, "stopped")
    r = curl("/debug/tracemalloc/top", port)
    check(r.status == 400, "top after stop -> 400")
    d = both(port, "/debug/tracemalloc/compare?snapshot1=s0&snapshot2=after", TRACE_CMP)
    check(d is not None, "compare after stop")
    d = both(port, "/debug/tracemalloc/status", TRACE_STATUS)
    check(d is not None and not d["is_tracing"] and "after" in d["available_snapshots"], "snapshots survive stop")
    check(h.alive(), "host alive")
    h.close()


# ---- Main --------------------------------------------------------------------------------------------

CASES = {"endpoints": case_endpoints, "auth": case_auth, "lifecycle": case_lifecycle, "load": case_load,
         "preload": case_preload, "demo": case_demo, "gc": case_gc,
         "trace": case_trace}


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--host", required=True)
    ap.add_argument("--host-static", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--msgpack2json", required=True)
    ap.add_argument("--demo")
    ap.add_argument("--tsan", action="store_true",
                    help="the host is a ThreadSanitizer build (see the gc case's 503 check)")
    ARGS = ap.parse_args()
    try:
        CASES[ARGS.case]()
    except Exception as e:  # noqa: BLE001 - any crash is a failure, children still get killed
        import traceback
        traceback.print_exc()
        FAILURES.append("exception: %r" % e)
    finally:
        kill_children()
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
