#!/usr/bin/python3
"""Issue 16's acceptance test (tests/dominators/CMakeLists.txt).

    test_dominators.py --host dom_host [--cli glassheap]

Starts dom_host (a global cache holding a bucket array, 1,000 entries and
1,000 payloads; 200 other entries in a global array; typed with pointer
offsets) with its server on a loopback port 0 and checks
GET /debug/memory/dominators against the figures the host prints.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from ghtest import check, finish  # noqa: E402


class Host:
    def __init__(self, path, extra_env=None):
        env = dict(os.environ)
        for k in ("GLASSHEAP_TOKEN", "GLASSHEAP_TRACE", "LD_PRELOAD", "GLASSHEAP_DOMINATORS_BUDGET"):
            env.pop(k, None)
        env["GLASSHEAP_HTTP"] = "127.0.0.1:0"
        env.update(extra_env or {})
        self.p = subprocess.Popen([path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.expect = {}
        self.port = None
        self.read_until("ready")

    def read_until(self, word):
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("host exited")
            line = line.strip()
            if line.startswith("port "):
                self.port = int(line.split()[1])
            elif line.startswith("expect "):
                f = line.split()[1:]
                for i in range(0, len(f), 2):
                    self.expect[f[i]] = int(f[i + 1])
            elif line == word:
                return

    def command(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        self.read_until("ok")

    def get(self, query, fmt="json"):
        url = "http://127.0.0.1:%d/debug/memory/dominators%s" % (self.port, query)
        req = urllib.request.Request(url, headers={"Accept": "application/msgpack" if fmt == "msgpack" else
                                                   "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        if fmt == "msgpack":
            import msgpack
            return status, msgpack.unpackb(body, raw=False)
        return status, json.loads(body)

    def close(self):
        try:
            self.command("quit")
        except Exception:
            pass
        self.p.kill()
        self.p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--cli")
    args = ap.parse_args()
    h = Host(args.host)
    try:
        run(h, args)
    finally:
        h.close()
    # a heap too large for the work budget: 503 with the figure, the host unharmed
    h = Host(args.host, {"GLASSHEAP_DOMINATORS_BUDGET": "64K"})
    try:
        st, doc = h.get("?top_n=1")
        d = doc.get("detail", "")
        m = re.search(r"(\d+) objects need (\d+) bytes of work memory, the budget is 65536", d)
        check(st == 503 and m is not None and int(m.group(1)) >= 2402 and int(m.group(2)) > 65536,
              "503 naming the objects, the bytes needed and the budget", (st, doc))
        h.command("grow")
        check(h.expect["cache_objects"] == 2102, "the host runs on after the refusal", h.expect)
    finally:
        h.close()
    return 0


def run(h, args):
    cb, co, eb = h.expect["cache_bytes"], h.expect["cache_objects"], h.expect["entry_bytes"]
    check(co == 1 + 1 + 1000 + 1000, "host's count", co)
    st, doc = h.get("?top_n=5")
    check(st == 200, "200", doc)
    top = doc["top_retainers"]
    check(len(top) == 5, "top_n=5 rows", top)
    t0 = top[0]
    check(t0["type"] == "Cache", "the cache is the top retainer", t0)
    check(t0["retained_bytes"] == cb, "cache retained bytes == everything under it", (t0, cb))
    check(t0["retained_objects"] == co, "cache retained objects", (t0, co))
    check(t0["self_bytes"] == 24, "cache self bytes", t0)
    check(t0["path"][0].startswith("global:g_cache (") and t0["path"][1:] == ["Cache"], "cache path names the global",
          t0["path"])
    check(t0["address"].startswith("0x"), "address as hex", t0)
    check(t0["function"] == "build", "the cache's allocating function", t0)
    check(t0["filename"].endswith("dom_host.c") and t0["lineno"] > 0, "file:line", t0)
    check(top[1]["type"] == "Bucket[]" and top[1]["retained_bytes"] == cb - 24 and
          top[1]["retained_objects"] == co - 1 and top[1]["path"][1:] == ["Cache", "Bucket[]"], "bucket array", top[1])
    check(all(top[i]["retained_bytes"] >= top[i + 1]["retained_bytes"] for i in range(4)), "ranked", top)
    bt = {r["type"]: r for r in doc["by_type"]}
    check(bt.get("Cache", {}).get("retained_bytes") == cb, "by_type Cache", bt.get("Cache"))
    check(bt.get("Payload", {}).get("retained_bytes") == 1000 * 100, "by_type Payload (each under an Entry)",
          bt.get("Payload"))
    check(bt.get("Entry", {}).get("retained_bytes") == 1000 * (eb + 100) + 200 * eb,
          "by_type Entry: chain heads and the 200 others, nothing twice", bt.get("Entry"))
    check("Bucket[]" in bt and bt["Bucket[]"]["retained_bytes"] == cb - 24, "by_type Bucket[]", bt.get("Bucket[]"))
    check(doc["work_bytes"] > 0 and doc["work_bytes_per_object"] > 0 and doc["budget_bytes"] > 0, "work figures", doc)
    check(doc["objects"] >= co + 200, "objects", doc["objects"])
    check(doc["mark_ms"] >= 0 and doc["compute_ms"] >= 0 and doc["pause_ms"] >= doc["mark_ms"], "times", doc)

    st, doc = h.get("?type_name=Entry&top_n=1000&min_bytes=%d" % (eb + 1))
    check(st == 200 and not any(r["retained_bytes"] <= eb for r in doc["top_retainers"]) and
          len(doc["top_retainers"]) == 1000, "min_bytes drops the 200", len(doc["top_retainers"]))
    st, doc = h.get("?type_name=NoSuchType")
    check(st == 200 and doc["top_retainers"] == [] and doc["pause_ms"] == 0, "unknown type: empty, no pause", doc)

    # msgpack: the same document
    try:
        import msgpack  # noqa: F401
        sj, dj = h.get("?top_n=3")
        sm, dm = h.get("?top_n=3", fmt="msgpack")
        check(sm == 200 and [r["retained_bytes"] for r in dm["top_retainers"]] ==
              [r["retained_bytes"] for r in dj["top_retainers"]] and set(dm) == set(dj) and
              dm["top_retainers"][0]["path"] == dj["top_retainers"][0]["path"], "msgpack == json", (dm, dj))
    except ImportError:
        print("note: python3-msgpack missing, msgpack not compared")

    # the CLI: the path as an indented chain
    if args.cli:
        out = subprocess.run([args.cli, "--url", "127.0.0.1:%d" % h.port, "dominators", "--top-n", "2"],
                             capture_output=True, text=True, timeout=60)
        check(out.returncode == 0, "glassheap dominators runs", out.stderr)
        lines = out.stdout.splitlines()
        g = [i for i, l in enumerate(lines) if "global:g_cache" in l]
        check(g and any(l.startswith(" ") and l.strip().startswith("Cache") for l in lines[g[0] + 1:g[0] + 3]),
              "the chain, indented under the global", out.stdout)


if __name__ == "__main__":
    sys.exit(finish(main))

    # save, grow, since: "which retainer grew" in one request
    st, doc = h.get("?top_n=3&save=before")
    check(st == 200 and doc["saved"] == "before", "save", doc.get("saved"))
    h.command("grow")
    cb2, co2 = h.expect["cache_bytes"], h.expect["cache_objects"]
    check(cb2 == cb + 50 * (eb + 100) and co2 == co + 100, "host grew", (cb2, co2))
    st, doc = h.get("?top_n=3&since=before")
    t = doc["top_retainers"]
    check(st == 200 and doc["since"] == "before", "since", doc.get("since"))
    check(t and t[0]["type"] == "Cache" and t[0]["retained_bytes_before"] == cb and
          t[0]["retained_bytes_delta"] == cb2 - cb, "the cache grew by the 50 new entries", t[:1])
    bt = {r["type"]: r for r in doc["by_type"]}
    check(bt["Payload"]["retained_bytes_delta"] == 50 * 100, "by_type delta", bt["Payload"])

    # the cache dropped: the 200 others are every Entry left, each retains only itself
    h.command("drop")
    st, doc = h.get("?type_name=Entry&top_n=1000")
    rows = doc["top_retainers"]
    check(st == 200 and len(rows) == 200, "200 entries left", len(rows))
    check(all(r["path"][0].startswith("global:g_others (") and r["path"][1:] == ["Entry"] for r in rows),
          "held by the global array", rows[:3])
    check(all(r["retained_bytes"] == eb and r["retained_objects"] == 1 and r["self_bytes"] == eb for r in rows),
          "each retains only itself", rows[:3])
    check(all(r["type"] == "Entry" for r in rows), "type_name filter", rows[:3])
    check(not any(r["type"] in ("Cache", "Bucket[]", "Payload") for r in h.get("?top_n=1000")[1]["top_retainers"]),
          "the freed cache is gone")

    # bad parameters: 422 naming the parameter; unknown saved name: 404
    for q, param in (("?top_n=0", "top_n"), ("?top_n=1001", "top_n"), ("?min_bytes=-1", "min_bytes"),
                     ("?top_n=x", "top_n"), ("?since=a%20b", "since"), ("?save=", "save"),
                     ("?type_name=", "type_name")):
        st, doc = h.get(q)
        check(st == 422 and any(param in d.get("loc", []) for d in doc.get("detail", [])), "422 for " + q, doc)
    st, doc = h.get("?since=never_saved")
    check(st == 404 and "never_saved" in doc.get("detail", ""), "404 for an unknown since", doc)
