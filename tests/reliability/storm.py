#!/usr/bin/python3
"""The storm test: allocation storm in the host, every endpoint hammered at once.

    storm.py --host storm_host [--warmup 8] [--seconds 28] [--readers 3] [--tsan]

storm_host (storm_host.c) runs lanes of short-lived worker threads that
allocate, realloc, retag and free typed and untyped blocks with cross-thread
frees. Meanwhile this driver runs client threads against its debug server:
  readers   GET /debug/memory (JSON and msgpack), /types (samples), /referrers,
            tracemalloc status/top/traceback (400 allowed when not tracing),
            with keep-alive and one-shot connections
  gc        POST /debug/memory/gc back to back (200 or 503)
  tracer    start -> snapshot a -> snapshot b -> compare -> top -> traceback ->
            status -> delete a, b -> stop, again and again
Every request has a timeout: a hang is a failure, not a stuck test. Every
document is checked (fields, internal consistency; no storm block is ever
reported lost by a gc pass; the global slot table refers to every one).

After a warm-up the clients pause and the host's descriptors, its RSS and
glassheap's own live bytes (allocator.self) are measured; after the storm they are
measured again at the same point of the cycle and must stay within bounds.
Then the workers stop and the host compares glassheap's per-type counters
with its workers' ground truth; the server must report exactly the same
figures; finally every block is freed and the counters must read zero.

--tsan: the host is the ThreadSanitizer build (storm_host.c, STORM_TSAN).
TSan delivers the stop signal only at a thread's next intercepted call, so
a pass may time out on a worker blocked in a lock whose holder is parked
(504, counted, like rel_storm_core_tsan's timeouts) and the registers saved
for a thread may be stale (so "no held block reported lost" is checked only
once the workers have stopped); TSan's shadow and thread records add to the
RSS bound.
"""
import argparse
import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from ghtest import (Conn, Proc, check, finish, log, request, rss_bytes, section, settle_fds,  # noqa: E402
                    stable_fds, type_entry)

ARGS = None
TYPES = ["Storm.Node", "Storm.Blob", "Storm.Aligned", "Storm.Retagged", "Storm.Scoped"]
SLOTS = 8192
MSGPACK = {"Accept": "application/msgpack"}
GLASSHEAP_BYTES_GROWTH = 1 << 20   # the server's own live bytes, after warm-up
SYMBOLS_RELEASED = 1.6             # s: GLASSHEAP_SYMBOLS_IDLE (1 s) and the server's 200 ms check
RSS_GROWTH = 96 << 20              # the whole process, after warm-up
# the same under TSan (shadow, thread records, sync objects): it grows with
# the work done in the storm's fixed time, so with the host's speed: 498-556
# MiB on an Intel Xeon host (2026-12-05), before and after that day's changes
RSS_GROWTH_TSAN = 1024 << 20


class Client(threading.Thread):
    """One client thread; run_once() is one unit of work (a request or a cycle)."""

    def __init__(self, name, port, ctl, seed):
        super().__init__(daemon=True, name=name)
        self.port, self.ctl, self.rnd = port, ctl, random.Random(seed)
        self.conn = None
        self.stats = {}
        self.errors = 0

    def req(self, path, method="GET", msgpack=False, fresh=False, allowed=(200,)):
        headers = dict(MSGPACK) if msgpack else {}
        key = "%s %s" % (method, path.split("?")[0])
        t0 = time.time()
        try:
            if fresh:
                headers["Connection"] = "close"
                r = request(self.port, path, method, headers, timeout=ARGS.req_timeout)
            else:
                if self.conn is None:
                    self.conn = Conn(self.port, timeout=ARGS.req_timeout)
                r = self.conn.request(path, method, headers)
        except Exception as e:  # noqa: BLE001 - a timeout or reset is a failure
            self.drop()
            self.errors += 1
            check(False, "%s %s: %s after %.1f s" % (method, path, type(e).__name__, time.time() - t0))
            return None
        st = self.stats.setdefault(key, {})
        st[r.status] = st.get(r.status, 0) + 1
        if not check(r.status in allowed, "%s %s -> %d %r" % (method, path, r.status, r.body[:200])):
            return None
        try:
            return r.doc(), r.status
        except Exception as e:  # noqa: BLE001
            check(False, "%s %s: undecodable body (%s) %r" % (method, path, e, r.body[:200]))
            return None

    def drop(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def run(self):
        while not self.ctl.done.is_set():
            if self.ctl.paused.is_set():
                self.drop()
                self.ctl.idle(self)
                continue
            self.run_once()
        self.drop()


class Control:
    """Pause/resume/done for all clients; pause() waits until each has closed its connection."""

    def __init__(self):
        self.paused = threading.Event()
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.idle_set = set()

    def idle(self, client):
        with self.lock:
            self.idle_set.add(client.name)
        time.sleep(0.05)
        with self.lock:
            if not self.paused.is_set():
                self.idle_set.discard(client.name)

    def pause(self, clients, timeout):
        self.paused.set()
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.idle_set) == len(clients):
                    return True
            time.sleep(0.05)
        return False

    def resume(self):
        with self.lock:
            self.idle_set.clear()
        self.paused.clear()


def check_memory(doc, where):
    s, tops = doc["summary"], doc["top_objects"]
    check(s["total_objects"] == sum(t["count"] for t in tops) and
          s["total_size_bytes"] == sum(t["total_size_bytes"] for t in tops) and
          s["unique_types"] == len(tops), where + ": summary != sum of top_objects (top_n=100)")
    for t in tops:
        check(0 < t["count"] < 1 << 40 and 0 <= t["total_size_bytes"] < 1 << 46 and
              t["avg_size_bytes"] == t["total_size_bytes"] // t["count"], where + ": implausible entry %r" % t)
        if t["type"] in TYPES:
            check(t["count"] <= 2 * SLOTS, where + ": %s count %d > 2 x slots" % (t["type"], t["count"]))
    a = doc["allocator"]
    check(a["requested_bytes"] == s["total_size_bytes"], where + ": allocator.requested_bytes")
    check(0 < a["cage"]["used_bytes"] <= a["cage"]["reserved_bytes"], where + ": cage figures")


class Reader(Client):
    def run_once(self):
        r = self.rnd.random()
        mp = self.rnd.random() < 0.3
        fresh = self.rnd.random() < 0.1
        if r < 0.3:
            got = self.req("/debug/memory?top_n=100&sort_by=%s" % self.rnd.choice(("size", "count")), msgpack=mp,
                           fresh=fresh)
            if got:
                check_memory(got[0], "/debug/memory")
        elif r < 0.55:
            name = self.rnd.choice(TYPES)
            got = self.req("/debug/memory/types?type_name=%s&samples=%d" % (name, self.rnd.randint(0, 100)),
                           msgpack=mp, fresh=fresh)
            if got:
                d = got[0]
                check(d["type"] == name and 0 <= d["count"] <= 2 * SLOTS and len(d["samples"]) <= 100,
                      "types %s: %r" % (name, {k: d[k] for k in d if k != "samples"}))
                if name == "Storm.Node":
                    pat = r"Storm\.Node\{(slot=\d+, )?size=\d+\}"
                else:
                    pat = re.escape(name) + r" at 0x[0-9a-f]+ size \d+ allocated at .+"
                bad = [x for x in d["samples"] if not re.fullmatch(pat, x)]
                check(not bad, "types %s: odd samples %r" % (name, bad[:2]))
                check(not any(" bytes:" in x for x in d["samples"]), "no object bytes without GLASSHEAP_PREVIEW")
        elif r < 0.65:
            name = self.rnd.choice(TYPES)
            got = self.req("/debug/memory/referrers?type_name=%s&max_referrers=20" % name, msgpack=mp,
                           allowed=(200, 503, 504) if ARGS.tsan else (200, 503))
            if got and got[1] == 200:
                d = got[0]
                refs = {x["type"]: x["count"] for x in d["top_referrers"]}
                held = refs.get("global:" + os.path.basename(ARGS.host), 0)
                # every block is in the global slot table, except the few being
                # allocated or reallocated right now (in registers/stacks)
                check(d["object_count"] == d["analyzed_sample_size"] and
                      held >= d["object_count"] - 4 * len(TYPES), "referrers %s: the slot table holds %d of %d: %r"
                      % (name, held, d["object_count"], refs))
        elif r < 0.75:
            got = self.req("/debug/tracemalloc/status", msgpack=mp)
            if got:
                d = got[0]
                check(isinstance(d["is_tracing"], bool) and len(d["available_snapshots"]) <= 2,
                      "status %r" % d)
        elif r < 0.85:
            got = self.req("/debug/tracemalloc/top?top_n=%d&group_by=%s" % (
                self.rnd.randint(1, 100), self.rnd.choice(("lineno", "filename"))), msgpack=mp, allowed=(200, 400))
            if got and got[1] == 200:
                check(len(got[0]["top_allocations"]) <= 100, "top rows bounded")
        elif r < 0.92:
            got = self.req("/debug/tracemalloc/traceback?top_n=%d" % self.rnd.randint(1, 50), msgpack=mp,
                           allowed=(200, 400))
            if got and got[1] == 200:
                check(len(got[0]["top_allocations"]) <= 50, "traceback rows bounded")
        else:
            # errors must stay errors under load, too
            self.req("/debug/memory?top_n=0", allowed=(422,))
            self.req("/debug/nope", allowed=(404,))


class Collector(Client):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passes = 0
        self.busy = 0
        self.timeouts = 0

    def run_once(self):
        got = self.req("/debug/memory/gc", method="POST", msgpack=self.rnd.random() < 0.3,
                       allowed=(200, 503, 504) if ARGS.tsan else (200, 503))
        if not got:
            return
        if got[1] in (503, 504):
            self.busy += got[1] == 503
            self.timeouts += got[1] == 504
            time.sleep(0.05)
            return
        d = got[0]
        self.passes += 1
        check(d["collected_objects"] == 0,
              "gc freed %d objects: every storm type is collectable, but every block is held" % d["collected_objects"])
        for t in d["unreachable"]["by_type"] if not ARGS.tsan else ():
            if t["type"] in TYPES:
                lost = t["definitely_lost"]["count"] + t["indirectly_lost"]["count"]
                check(lost == 0, "gc reports %d held %s blocks lost: %r" % (lost, t["type"], t))
        time.sleep(self.rnd.random() * 0.2)


class Tracer(Client):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.cycles = 0

    def run_once(self):
        mp = self.rnd.random() < 0.3
        frames = self.rnd.randint(1, 25)
        sample = self.rnd.choice((0, 0, 4096))
        steps = [
            ("POST", "/debug/tracemalloc/start?frames=%d&sample_bytes=%d" % (frames, sample)),
            ("POST", "/debug/tracemalloc/snapshot?name=storm-a"),
            ("POST", "/debug/tracemalloc/snapshot?name=storm-b"),
            ("GET", "/debug/tracemalloc/compare?snapshot1=storm-a&snapshot2=storm-b&top_n=10&group_by=%s"
             % self.rnd.choice(("lineno", "filename"))),
            ("GET", "/debug/tracemalloc/top?top_n=10"),
            ("GET", "/debug/tracemalloc/traceback?top_n=5"),
            ("GET", "/debug/tracemalloc/status"),
            ("DELETE", "/debug/tracemalloc/snapshot/storm-a"),
            ("DELETE", "/debug/tracemalloc/snapshot/storm-b"),
            ("POST", "/debug/tracemalloc/stop"),
        ]
        for method, path in steps:
            got = self.req(path, method=method, msgpack=mp)
            if got is None:
                break
            d = got[0]
            if "start" in path:
                check(d["status"] == "started" and d["frames"] == frames, "start: %r" % d)
            elif path.endswith("/stop"):
                check(d == {"status": "stopped"}, "stop: %r" % d)
            elif "compare" in path:
                check(d["snapshot1"] == "storm-a" and len(d["differences"]) <= 10, "compare rows")
            elif "status" in path:
                check(d["is_tracing"] and d["frames"] == frames, "status while tracing: %r" % d)
            time.sleep(self.rnd.random() * 0.15)
        self.cycles += 1
        # leave the cycle clean even after a failed step
        if got is None:
            for method, path in steps[-3:]:
                self.req(path, method=method, allowed=(200, 400, 404))


def glassheap_figures(port):
    r = request(port, "/debug/memory?top_n=100", timeout=ARGS.req_timeout)
    d = r.doc()
    return d["allocator"]["self"]["bytes"], d["allocator"]["rss_bytes"]


def parse_truth(lines):
    truth = {}
    for line in lines:
        m = re.match(r"truth (\S+) (-?\d+) (-?\d+) (-?\d+) (-?\d+)$", line)
        if m:
            truth[m.group(1)] = tuple(int(m.group(i)) for i in range(2, 6))
    return truth


def check_exact(port, truth, where):
    """The server's figures equal the ground truth (workers stopped)."""
    d = request(port, "/debug/memory?top_n=100", timeout=ARGS.req_timeout).doc()
    for name in TYPES:
        live, nbytes = truth[name][0], truth[name][1]
        t = type_entry(d, name)
        got = (t["count"], t["total_size_bytes"]) if t else (0, 0)
        check(got == (live, nbytes), "%s: /debug/memory %s = %r, ground truth %r" % (where, name, got, (live, nbytes)))
        for mp in (False, True):
            r = request(port, "/debug/memory/types?type_name=%s&samples=0" % name,
                        headers=MSGPACK if mp else None, timeout=ARGS.req_timeout)
            x = r.doc()
            check((x["count"], x["total_size_bytes"]) == (live, nbytes),
                  "%s: /types %s (%s) = %r, ground truth %r" % (where, name, "msgpack" if mp else "json",
                                                              (x["count"], x["total_size_bytes"]), (live, nbytes)))


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--warmup", type=float, default=8)
    ap.add_argument("--seconds", type=float, default=28)
    ap.add_argument("--readers", type=int, default=3)
    ap.add_argument("--req-timeout", type=float, default=30)
    ap.add_argument("--tsan", action="store_true", help="the host is the ThreadSanitizer build")
    ARGS = ap.parse_args()
    rss_growth = RSS_GROWTH_TSAN if ARGS.tsan else RSS_GROWTH

    section("start the host")
    # GLASSHEAP_SYMBOLS_IDLE=1: the symbolizer's caches (libdw's modules,
    # their descriptors, the address cache) go back after 1 s without
    # requests, so that both measuring points below see them released and
    # what is compared is the server's own growth, not how many addresses
    # the clients happened to have symbolized by then.
    h = Proc([ARGS.host], env={"GLASSHEAP_STOP_TIMEOUT_MS": "400" if ARGS.tsan else "10000",
                               "STORM_HARD_LIMIT": "170", "GLASSHEAP_SYMBOLS_IDLE": "1"})
    line = h.readline(20)
    m = re.match(r"ready port=(\d+) pid=(\d+)$", line or "")
    if not check(m is not None, "host ready: %r %r" % (line, h.stderr_lines())):
        return
    port, pid = int(m.group(1)), int(m.group(2))

    ctl = Control()
    clients = [Reader("reader%d" % i, port, ctl, i) for i in range(ARGS.readers)]
    collector = Collector("gc", port, ctl, 100)
    tracer = Tracer("tracer", port, ctl, 200)
    clients += [collector, tracer]
    t_start = time.time()
    for c in clients:
        c.start()

    section("warm-up %.0f s" % ARGS.warmup)
    time.sleep(ARGS.warmup)
    check(ctl.pause(clients, 3 * ARGS.req_timeout), "clients pause after warm-up")
    time.sleep(SYMBOLS_RELEASED)
    fd0 = stable_fds(pid)  # the closed connections are gone
    gb0, rss0 = glassheap_figures(port)
    log("after warm-up: fds %d, glassheap live bytes %d, RSS %.1f MiB (VmRSS %.1f MiB)"
        % (fd0, gb0, rss0 / 2**20, rss_bytes(pid) / 2**20))

    section("storm %.0f s" % ARGS.seconds)
    ctl.resume()
    time.sleep(ARGS.seconds)
    check(ctl.pause(clients, 3 * ARGS.req_timeout), "clients pause after the storm")
    time.sleep(SYMBOLS_RELEASED)
    fd1 = settle_fds(pid, fd0, timeout=5.0)
    fd1 = stable_fds(pid) if fd1 != fd0 else fd1
    gb1, rss1 = glassheap_figures(port)
    log("after the storm: fds %d, glassheap live bytes %d, RSS %.1f MiB" % (fd1, gb1, rss1 / 2**20))
    check(fd1 == fd0, "no descriptor growth: %d -> %d" % (fd0, fd1))
    check(gb1 - gb0 < GLASSHEAP_BYTES_GROWTH, "the server's live bytes grew by %d (bound %d)"
          % (gb1 - gb0, GLASSHEAP_BYTES_GROWTH))
    check(rss1 - rss0 < rss_growth, "RSS grew by %.1f MiB (bound %d MiB)" % ((rss1 - rss0) / 2**20, rss_growth >> 20))
    ctl.done.set()
    ctl.resume()
    for c in clients:
        c.join(2 * ARGS.req_timeout)
        check(not c.is_alive(), "client %s finished" % c.name)
    elapsed = time.time() - t_start
    for c in clients:
        log("%s: %s" % (c.name, ", ".join("%s %s" % (k, v) for k, v in sorted(c.stats.items()))))
    nreq = sum(sum(v.values()) for c in clients for v in c.stats.values())
    log("%d requests in %.1f s; %d gc passes (%d busy answers, %d timed out); %d trace cycles"
        % (nreq, elapsed, collector.passes, collector.busy, collector.timeouts, tracer.cycles))
    check(collector.passes >= 5, "at least 5 gc passes ran (%d)" % collector.passes)
    check(tracer.cycles >= 3, "at least 3 trace cycles ran (%d)" % tracer.cycles)

    section("stop the workers: counters == ground truth")
    h.p.stdin.write(b"stop\n")
    h.p.stdin.flush()
    lines, m = h.read_until(r"verified bad=(\d+)$", timeout=60)
    for l in lines:
        if not l.startswith("truth"):
            log("host: " + l)
    if check(m is not None, "host answered stop: %r" % lines[-3:]):
        check(m.group(1) == "0", "the host's own check: counters == ground truth == slot table")
    truth = parse_truth(lines)
    if check(sorted(truth) == sorted(TYPES), "truth lines for every type: %r" % sorted(truth)):
        log("ground truth: " + "; ".join("%s live %d bytes %d allocs %d frees %d" % ((k,) + truth[k])
                                         for k in TYPES))
        check(all(truth[k][2] > 1000 for k in TYPES if k != "Storm.Retagged"), "every type saw allocations")
        check_exact(port, truth, "after the storm")
        d = request(port, "/debug/memory/gc", "POST", timeout=ARGS.req_timeout).doc()
        for t in d["unreachable"]["by_type"]:
            if t["type"] in TYPES:
                lost = sum(t[c]["count"] for c in ("definitely_lost", "indirectly_lost", "possibly_lost"))
                check(lost == 0, "quiescent gc: %d %s blocks not reachable" % (lost, t["type"]))

    section("free everything: counters drop to zero")
    h.p.stdin.write(b"free\n")
    h.p.stdin.flush()
    lines, m = h.read_until(r"freed bad=(\d+)$", timeout=60)
    if check(m is not None and m.group(1) == "0", "freed, host check passes: %r" % lines[-3:]):
        truth = parse_truth(lines)
        check(all(truth[k][0] == 0 and truth[k][1] == 0 for k in TYPES), "truth reads zero")
        check_exact(port, truth, "after freeing")
    rc = h.close(30)
    check(rc == 0, "host exits 0 (rc=%r)" % rc)
    extra = [l for l in h.glassheap_lines()]
    check(not extra, "no glassheap log lines: %r" % extra[:5])
    log("storm total %.1f s" % (time.time() - t_start))


if __name__ == "__main__":
    sys.exit(finish(main))
