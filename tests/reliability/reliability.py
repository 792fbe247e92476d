#!/usr/bin/python3
"""Fault injection, safe defaults, fork and exec (tests/reliability/CMakeLists.txt).

    reliability.py --case NAME --fault-host fault_host --lib libglassheap.so [--cli glassheap]

Cases (one ctest each, docs/testing.md says what each proves):
  faults     the cage cannot be reserved (RLIMIT_AS ladder) or is reserved
             smaller; GLASSHEAP_CAGE_SIZE too small; the cage fills up under
             the server; new mappings fail (RLIMIT_AS lowered at run time):
             every outcome is ENOMEM / a 500 with a detail / one log line,
             never a crash, and everything works again afterwards
  slowloris  clients that send one byte per second are closed by the
             first-request timeout while other clients are served; past the
             connection cap a new client takes a dripping connection's place
  halfopen   128 and 300 connections that never send a complete request: a
             normal client is still answered at once; all of them are closed
  stopsig    a thread that blocks the stop signal: gc and referrers answer 504
             within the stop timeout, nothing is analyzed or freed, every
             thread keeps running; once it unblocks, passes work again
  defaults   no server unless asked (no listening socket, checked in
             /proc/<pid>/net/tcp); loopback only without a token; without a
             token, no requests a browser sends for another site (Origin) or
             through a rebound DNS name (Host); no object
             bytes in samples unless GLASSHEAP_PREVIEW=1; snapshot count and
             name length bounded; oversized requests refused without growth
  fork       fork while threads allocate and the server runs: the child's
             allocator works and counts exactly, no server runs in it, it holds
             no listening socket (the port closes when the parent stops), and a
             new gh_server_start in the child works; exec'd children under
             LD_PRELOAD inherit the preload; under `glassheap run` only with
             --follow-children, and then they never try the program's port
Only loopback addresses; every wait is bounded; every child is killed at the end.
"""
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from ghtest import (Proc, check, finish, free_port, listening_ports, log, port_accepts, request,  # noqa: E402
                    case_args, section, settle_fds, stable_fds, type_entry)

ARGS = None


class Host(Proc):
    """fault_host: 'ready rc= port= pid= cage=' then one reply line per command."""

    def __init__(self, args=(), env=None, preexec_fn=None):
        super().__init__([ARGS.fault_host] + list(args), env, preexec_fn)
        line = self.readline(20)
        m = re.match(r"ready rc=(\d+) port=(\d+) pid=(\d+) cage=(\d+)$", line or "")
        if not m:
            raise RuntimeError("host did not start: %r %r" % (line, self.stderr_lines()))
        self.rc, self.port, self.pid, self.cage = (int(m.group(i)) for i in range(1, 5))

    def get(self, path, method="GET", headers=None, timeout=20):
        try:
            return request(self.port, path, method, headers, timeout=timeout)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            log("request %s %s failed: %r" % (method, path, e))
            return None


def status(r):
    return r.status if r is not None else None


def glassheap_bytes(h):
    r = h.get("/debug/memory?top_n=100")
    d = r.doc() if r is not None and r.status == 200 else None
    return (d["allocator"]["self"]["bytes"] if d else 0), (d["allocator"]["rss_bytes"] if d else 0)


# ---- faults ---------------------------------------------------------------------------------

def run_limited(argv, limit_mb, stdin, env=None):
    def pre():
        resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))
    e = dict(os.environ)
    for k in ("LD_PRELOAD", "GLASSHEAP_HTTP", "GLASSHEAP_CAGE_SIZE"):
        e.pop(k, None)
    e.update(env or {})
    return subprocess.run(argv, input=stdin, capture_output=True, preexec_fn=pre, timeout=30, env=e)


def case_faults():
    section("the cage cannot be reserved in full: an RLIMIT_AS ladder")
    seen = {}
    for mb in (16, 32, 48, 64, 80, 96, 128, 192, 256, 384, 512, 600, 768, 1024, 1536, 2048, 3072):
        r = run_limited([ARGS.fault_host, "--no-start"], mb, b"alloc 100\nalloc 3000000\nworkers 2\nping\nquit\n")
        out = r.stdout.decode(errors="replace")
        err = [l for l in r.stderr.decode(errors="replace").splitlines() if l.startswith("glassheap:")]
        m = re.search(r"ready rc=\d+ port=\d+ pid=\d+ cage=(\d+)", out)
        what = "RLIMIT_AS=%d MiB" % mb
        if r.returncode < 0:
            # the cage backs off to leave jemalloc room: a cage that took
            # nearly all of the limit would leave a new thread cache set up
            # half-way, and the next malloc would fault (jemalloc 5.3 ignores
            # the failure in tcache_enabled_set)
            check(False, "%s: a crash: exit %d, %r" % (what, r.returncode, err))
            continue
        if not m:
            # the loader itself could not map the program: nothing of ours ran
            check(r.returncode != 0 and not err, "%s: no ready line, then no glassheap line either: %r" % (what, err))
            seen["not loaded"] = seen.get("not loaded", 0) + 1
            continue
        cage = int(m.group(1))
        allocs = re.findall(r"alloc (ok|fail errno=\d+)", out)
        if cage == 0:
            # no cage at all: the system allocator serves the program, untagged
            # (3 MB from the system allocator may not fit what is left of the limit)
            check(allocs[:1] == ["ok"] and allocs[1] in ("ok", "fail errno=12"),
                  "%s, no cage: allocations pass through to the system allocator: %r" % (what, allocs))
            check(len(err) == 1 and "pass through to the system allocator" in err[0],
                  "%s: one clear line: %r" % (what, err))
            seen["no cage: pass-through"] = seen.get("no cage: pass-through", 0) + 1
        else:
            if any("every allocation will fail" in l for l in err):
                check(allocs == ["fail errno=12", "fail errno=12"], "%s: ENOMEM: %r" % (what, allocs))
                check(False, "%s: a cage of %d MiB left no room for the rest: %r" % (what, cage >> 20, err))
                continue
            check(allocs[:1] == ["ok"], "%s, cage %d MiB: allocations work: %r %r" % (what, cage >> 20, allocs, err))
            check(all("cage reduced to" in l for l in err) and len(err) <= 1, "%s: at most one line: %r" % (what, err))
            seen["reduced cage"] = seen.get("reduced cage", 0) + 1
        check("pong" in out, "%s: the program ran to its end: %r" % (what, out[-200:]))
    log("outcomes: %r" % seen)
    check(seen.get("no cage: pass-through", 0) > 0 and seen.get("reduced cage", 0) > 0, "both outcomes were exercised")

    section("an unmodified program under LD_PRELOAD and a tight RLIMIT_AS runs, with one line")
    for mb, want in ((24, "pass through to the system allocator"), (96, "cage reduced to")):
        r = run_limited(["/bin/sh", "-c", "echo still-running"], mb, b"", env={"LD_PRELOAD": ARGS.lib})
        err = [l for l in r.stderr.decode(errors="replace").splitlines() if l.startswith("glassheap:")]
        check(len(err) == 1 and want in err[0], "sh, RLIMIT_AS=%d MiB: the one line says %r: %r" % (mb, want, err))
        check(r.returncode == 0 and r.stdout.strip() == b"still-running",
              "sh, RLIMIT_AS=%d MiB: ran to its end: exit %d, %r" % (mb, r.returncode, r.stdout))

    section("GLASSHEAP_CAGE_SIZE below the minimum is refused, not obeyed")
    h = Host(["--no-start"], env={"GLASSHEAP_CAGE_SIZE": "1M"})
    check(h.cage >= 16 << 20, "cage %d" % h.cage)
    check(h.cmd("alloc 100") == "alloc ok", "allocations work")
    m = h.wait_stderr(r"GLASSHEAP_CAGE_SIZE=1M ignored", 5)
    check(m is not None, "one line says so: %r" % h.glassheap_lines())
    h.close()

    section("the cage fills up under the server")
    # 4 GiB of address space (untouched, MAP_NORESERVE): the server's headroom
    # is then 64 MiB, more than its worst case (docs/security.md, "Limits").
    h = Host(env={"GLASSHEAP_CAGE_SIZE": "4G"})
    check(h.rc == 0 and h.cage == 4 << 30, "server on a 4 GiB cage")
    for _ in range(20):
        h.get("/debug/memory/types?type_name=Fault.Fill&samples=100")
    reply = h.cmd("fill", 60) or ""
    m = re.match(r"filled count=(\d+) bytes=(\d+) errno=(\d+)$", reply)
    check(m is not None and m.group(3) == "12", "filling ends in ENOMEM: %r" % reply)
    filled = int(m.group(1)) if m else -1
    check(h.cmd("alloc 16") == "alloc fail errno=12", "the host's allocations fail with ENOMEM")

    def big_requests():
        # requests that make h2o grow its buffers; a malloc failing inside h2o
        # aborts the process (h2o_fatal)
        got = []
        socks = []
        for n in (256, 2048, 2048, 2048):
            s = socket.create_connection(("127.0.0.1", h.port), timeout=10)
            try:
                s.sendall(b"GET /debug/memory HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (n << 10) + b"\r\n\r\n")
            except OSError:
                pass
            socks.append(s)
        for s in socks:
            try:
                got.append(s.recv(12))
            except OSError as e:
                got.append(repr(e)[:40])
            s.close()
        time.sleep(0.3)
        return got

    got = big_requests()
    if not check(h.alive(), "big requests with a full cage killed the host (%r): %r"
                 % (h.p.returncode, h.stderr_lines()[-2:])):
        h.close()
    else:
        log("big requests with a full cage: %r" % got)
        for method, path in (("GET", "/debug/memory?top_n=100"),
                             ("GET", "/debug/memory/types?type_name=Fault.Fill&samples=100"),
                             ("POST", "/debug/memory/gc"), ("GET", "/debug/memory/referrers?type_name=Fault.Fill"),
                             ("POST", "/debug/tracemalloc/start"), ("POST", "/debug/tracemalloc/snapshot?name=full"),
                             ("GET", "/debug/tracemalloc/top"), ("GET", "/debug/tracemalloc/traceback"),
                             ("POST", "/debug/tracemalloc/stop"), ("DELETE", "/debug/tracemalloc/snapshot/full")):
            r = h.get(path, method)
            check(r is not None and r.status == 200, "full cage: %s %s -> %r" % (method, path, status(r)))
        r = h.get("/debug/memory/types?type_name=Fault.Fill&samples=0")
        check(r is not None and r.doc()["count"] == filled, "the server counts the fill exactly")
        got = big_requests()
        check(h.alive(), "big requests after symbolization, full cage: the host died (%r)" % h.p.returncode)
        if h.alive():
            reply = h.cmd("unfill", 30) or ""
            check(reply == "unfilled live=0", "freed: %r" % reply)
            check(h.cmd("alloc 1000000") == "alloc ok", "the host allocates again")
            r = h.get("/debug/memory/types?type_name=Fault.Fill&samples=0")
            check(r is not None and r.doc()["count"] == 0, "counters back to zero")
            check(h.close() == 0, "host exits 0")

    section("new mappings fail at run time (RLIMIT_AS lowered): gc and tracing answer 500, the rest works")
    h = Host()
    check(h.get("/debug/memory") is not None, "serving")
    reply = h.cmd("aslimit 2") or ""
    check(reply.startswith("aslimit ") and reply.endswith("rc=0"), "limit set: %r" % reply)
    for method, path, want in (("GET", "/debug/memory", 200), ("POST", "/debug/memory/gc", 500),
                               ("GET", "/debug/memory/referrers?type_name=Fault.Fill", 500),
                               ("POST", "/debug/tracemalloc/start", 500), ("GET", "/debug/tracemalloc/status", 200),
                               ("GET", "/debug/memory/types?type_name=Fault.Fill", 200)):
        r = h.get(path, method)
        ok = r is not None and r.status == want
        if ok and want == 500:
            ok = "memory" in r.doc().get("detail", "")
        check(ok, "limited: %s %s -> %r (want %d) %r" % (method, path, status(r), want, r.body[:100] if r else None))
    check(h.cmd("alloc 1000") == "alloc ok", "the cage needs no new mapping: the host allocates")
    check((h.cmd("gc") or "").startswith("gc rc=12"), "a pass from the host: ENOMEM")
    check((h.cmd("aslimit 0") or "").endswith("rc=0"), "limit lifted")
    r = h.get("/debug/memory/gc", "POST")
    if check(r is not None and r.status == 200 and h.alive(),
             "the first pass after a failed one: %r, host %s" % (status(r), "alive" if h.alive() else
                                                                "dead (%r)" % h.p.returncode)):
        for method, path in (("GET", "/debug/memory/referrers?type_name=Fault.Fill"),
                             ("POST", "/debug/tracemalloc/start"), ("POST", "/debug/tracemalloc/stop")):
            r = h.get(path, method)
            check(r is not None and r.status == 200, "lifted: %s %s -> %r" % (method, path, status(r)))
        check(h.cmd("gc") == "gc rc=0 stuck=0", "a pass from the host works again")
        rc = h.close()
        check(rc == 0, "host exits 0 (%r)" % rc)

    log("see also: tests/unit/alloc/test_oom.c (injected extent failures at every step, huge requests),"
        " server_lifecycle (port in use), server_load (client disconnects mid-response)")


# ---- slowloris ----------------------------------------------------------------------------------

REQ = b"GET /debug/memory HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n"


def drip(socks, t_end, t0, stop=None):
    """Sends one byte per second on each open socket; records when the server closes it."""
    while time.time() < t_end and any(x["closed"] is None for x in socks) and not (stop and stop.is_set()):
        for x in socks:
            if x["closed"] is not None:
                continue
            try:
                x["s"].send(REQ[x["sent"]:x["sent"] + 1])
                x["sent"] += 1
                d = x["s"].recv(100)
                # the end, or the 408 of the first-request timeout; -1: answered (must not happen)
                x["closed"] = time.time() - t0 if d == b"" or d.startswith(b"HTTP/1.1 408 ") else -1
            except BlockingIOError:
                pass
            except OSError:
                x["closed"] = time.time() - t0
        time.sleep(1.0)


def open_drippers(port, n):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.setblocking(False)
        socks.append({"s": s, "sent": 0, "closed": None})
    return socks


def case_slowloris():
    h = Host()
    port = h.port
    fd0 = stable_fds(h.pid)

    section("20 clients send one byte per second: cut by the first-request timeout; others are served")
    t0 = time.time()
    socks = open_drippers(port, 20)
    th = threading.Thread(target=drip, args=(socks, t0 + 12, t0), daemon=True)
    th.start()
    lat = []
    while th.is_alive() and time.time() - t0 < 12:
        t1 = time.time()
        r = h.get("/debug/memory?top_n=5", timeout=5)
        lat.append((status(r), time.time() - t1))
        time.sleep(0.25)
    th.join(5)
    closed = [x["closed"] for x in socks]
    for x in socks:
        x["s"].close()
    log("drippers closed after %s s; %d requests served meanwhile, slowest %.3f s"
        % (sorted(set(round(c, 1) for c in closed if c is not None)), len(lat), max(l for _, l in lat)))
    check(all(c is not None and 1.5 <= c <= 5 for c in closed),
          "every dripping connection is closed by the 2 s first-request timeout: %r" % closed)
    check(all(s == 200 for s, _ in lat) and max(l for _, l in lat) < 2.0,
          "other clients are served within 2 s meanwhile: %r" % [x for x in lat if x[0] != 200 or x[1] >= 2][:5])

    section("past the connection cap (128) a new client takes a dripping connection's place")
    t0 = time.time()
    socks = open_drippers(port, 135)
    stop = threading.Event()
    th = threading.Thread(target=drip, args=(socks, t0 + 10, t0, stop), daemon=True)
    th.start()
    time.sleep(0.5)
    waits = []
    for _ in range(5):
        t1 = time.time()
        r = h.get("/debug/memory?top_n=5", timeout=20)
        waits.append((status(r), time.time() - t1))
    stop.set()
    th.join(5)
    for x in socks:
        x["s"].close()
    log("requests behind 135 dripping connections answered after %s s" % ["%.3f" % w for _, w in waits])
    check(all(st == 200 and w < 1.0 for st, w in waits), "each served in well under a second: %r" % waits)

    fd1 = settle_fds(h.pid, fd0, timeout=5)
    check(fd1 == fd0, "no descriptor left behind: %d -> %d" % (fd0, fd1))
    check(h.cmd("ping", 5).startswith("pong"), "host alive")
    check(h.close() == 0, "host exits 0")
    log("see also: server_load's 'first-request timeout' and 'connection cap'")


def open_halfopen(port, n, partial):
    """n connections that never finish a request: nothing sent, or the start
    of a request line."""
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if partial and i % 2:
            s.sendall(b"GET /debug/mem")
        socks.append(s)
    return socks


def case_halfopen():
    h = Host()
    port = h.port
    for _ in range(3):
        h.get("/debug/memory?top_n=5")
    fd0 = stable_fds(h.pid)

    for rnd, (n, partial) in enumerate(((128, False), (128, True), (300, True))):
        section("round %d: %d half-open connections (%s), then normal clients"
                % (rnd, n, "half of them with part of a request line" if partial else "nothing sent"))
        t0 = time.time()
        socks = open_halfopen(port, n, partial)
        opened = time.time() - t0
        waits = []
        for _ in range(5):
            t1 = time.time()
            r = h.get("/debug/memory?top_n=5", timeout=15)
            waits.append((status(r), round(time.time() - t1, 3)))
        log("%d half-open connections opened in %.2f s; clients then served in %s s"
            % (n, opened, [w for _, w in waits]))
        check(all(st == 200 and w < 0.5 for st, w in waits),
              "every client is answered in well under a second: %r" % waits)
        # then every half-open connection is cut by the first-request timeout
        deadline = time.time() + 6
        cut = 0
        for s in socks:
            s.settimeout(max(0.05, deadline - time.time()))
            try:
                got = b""
                while True:
                    c = s.recv(4096)
                    if not c:
                        break
                    got += c
                cut += 1
            except OSError:
                pass
            s.close()
        check(cut == n, "every half-open connection is closed within 6 s (%d of %d)" % (cut, n))

    fd1 = settle_fds(h.pid, fd0, timeout=5)
    check(fd1 == fd0, "no descriptor left behind: %d -> %d" % (fd0, fd1))
    check(h.cmd("ping", 5).startswith("pong"), "host alive")
    check(h.close() == 0, "host exits 0")


# ---- stopsig ------------------------------------------------------------------------------------

def case_stopsig():
    section("ptrace (the default): a thread that blocks every signal is stopped like any other")
    h = Host(env={"GLASSHEAP_STOP_TIMEOUT_MS": "1500"})
    check(h.cmd("workers 2") == "workers 2", "two allocating threads")
    reply = h.cmd("block") or ""
    m = re.match(r"blocked tid=(\d+)$", reply)
    check(m is not None and m.group(1) != "0", "blocking thread started: %r" % reply)
    for method, path in (("POST", "/debug/memory/gc"), ("GET", "/debug/memory/referrers?type_name=Fault.Work")):
        t0 = time.time()
        r = h.get(path, method, timeout=15)
        took = time.time() - t0
        d = r.doc() if r is not None else {}
        check(status(r) == 200, "%s %s -> 200: %r %r" % (method, path, status(r), d))
        check(took < 1.0, "answered well within the stop timeout: %.2f s" % took)
        if method == "POST" and status(r) == 200:
            check(d.get("stop_method") == "ptrace" and d.get("threads_blocked") == 0,
                  "stopped by ptrace, every thread with its registers: %r %r"
                  % (d.get("stop_method"), d.get("threads_blocked")))
    check(h.cmd("gc", 20) == "gc rc=0 stuck=0", "the host's own pass stops it too")
    check(h.cmd("unblock", 10) == "unblocked", "unblocked and joined")
    check(h.close() == 0, "host exits 0")

    section("GLASSHEAP_STOP=signal: a thread that blocks every signal gives 504 within the timeout, nothing analyzed")
    h = Host(env={"GLASSHEAP_STOP_TIMEOUT_MS": "1500", "GLASSHEAP_STOP": "signal"})
    check(h.cmd("workers 2") == "workers 2", "two allocating threads")
    r = h.get("/debug/memory/gc", "POST")
    check(status(r) == 200 and r.doc().get("stop_method") == "signal", "a pass works before, by signal")
    before = h.get("/debug/memory/gc", "POST").doc()
    reply = h.cmd("block") or ""
    m = re.match(r"blocked tid=(\d+)$", reply)
    check(m is not None and m.group(1) != "0", "blocking thread started: %r" % reply)
    tid = m.group(1) if m else "?"
    ops0 = int(re.search(r"ops=(\d+)", h.cmd("ping")).group(1))
    for method, path in (("POST", "/debug/memory/gc"), ("GET", "/debug/memory/referrers?type_name=Fault.Work")):
        t0 = time.time()
        r = h.get(path, method, timeout=15)
        took = time.time() - t0
        d = r.doc() if r is not None else {}
        check(r is not None and r.status == 504 and r.reason == "Gateway Timeout" and tid in d.get("detail", ""),
              "%s %s -> 504 Gateway Timeout naming thread %s: %r %r %r"
              % (method, path, tid, status(r), r.reason if r is not None else None, d))
        check(1.4 <= took <= 6.0, "answered after the 1.5 s stop timeout: %.2f s" % took)
    r = h.get("/debug/memory?top_n=100")
    check(r is not None and r.status == 200 and r.doc()["gc_stats"] == before["gc_stats"],
          "the failed passes changed nothing: %r" % (r.doc()["gc_stats"] if r is not None else None))
    time.sleep(0.3)
    ops1 = int(re.search(r"ops=(\d+)", h.cmd("ping")).group(1))
    check(ops1 > ops0, "every other thread runs on after the failed stop (%d -> %d ops)" % (ops0, ops1))
    check((h.cmd("gc", 20) or "").startswith("gc rc=110 stuck=%s" % tid), "the host's own pass: ETIMEDOUT naming it")

    section("the thread unblocks: the pending stop signal is harmless and passes work again")
    check(h.cmd("unblock", 10) == "unblocked", "unblocked and joined")
    for i in range(3):
        r = h.get("/debug/memory/gc", "POST", timeout=15)
        check(status(r) == 200, "pass %d after unblocking -> %r" % (i, status(r)))
    check(status(h.get("/debug/memory/referrers?type_name=Fault.Work")) == 200, "referrers after unblocking")
    check(h.cmd("gc") == "gc rc=0 stuck=0", "host pass after unblocking")
    check(h.close() == 0, "host exits 0")


# ---- defaults ---------------------------------------------------------------------------------

def wait_listening(pid, want_any, timeout=5):
    deadline = time.time() + timeout
    ports = listening_ports(pid)
    while bool(ports) != want_any and time.time() < deadline:
        time.sleep(0.1)
        ports = listening_ports(pid)
    return ports


def case_defaults():
    section("no server unless asked")
    p = Proc(["sleep", "20"], env={"LD_PRELOAD": ARGS.lib})
    time.sleep(1.0)
    maps = open("/proc/%d/maps" % p.pid).read()
    check(os.path.basename(ARGS.lib).split(".so")[0] in maps, "glassheap is loaded into sleep")
    check(listening_ports(p.pid) == set(), "sleep under LD_PRELOAD without GLASSHEAP_HTTP listens on nothing")
    p.p.kill()
    h = Host(["--no-start"])
    check(listening_ports(h.pid) == set() and h.port == 0, "a program linked with libglassheap.a listens on nothing")
    h.close()
    p = Proc(["sleep", "20"], env={"LD_PRELOAD": ARGS.lib, "GLASSHEAP_HTTP": "127.0.0.1:0"})
    ports = wait_listening(p.pid, True)
    check(len(ports) == 1, "positive control: with GLASSHEAP_HTTP it listens on one port: %r" % ports)
    p.p.kill()

    section("loopback only without a token")
    for addr in ("0.0.0.0:0", "[::]:0"):
        p = Proc(["sleep", "20"], env={"LD_PRELOAD": ARGS.lib, "GLASSHEAP_HTTP": addr})
        m = p.wait_stderr("refusing to listen", 10)
        check(m is not None and listening_ports(p.pid) == set(), "%s without a token: refused, nothing listens" % addr)
        p.p.kill()
    log("see also: server_auth (token: 401 on every path, constant-time compare in server.c token_equal)")

    section("a web page cannot drive a loopback server without a token")
    h = Host()
    r = h.get("/debug/memory", headers={"Host": "attacker.example"})
    check(status(r) == 403, "a DNS name in Host (DNS rebinding: a page could read the answers) -> %r" % status(r))
    r = h.get("/debug/tracemalloc/start", "POST", headers={"Origin": "http://attacker.example",
                                                          "Content-Type": "application/x-www-form-urlencoded"})
    check(status(r) == 403, "a cross-site form POST (Origin of another site) -> %r" % status(r))
    r = h.get("/debug/tracemalloc/status")
    check(r is not None and r.doc()["is_tracing"] is False, "and tracing was not started")
    h.get("/debug/tracemalloc/stop", "POST")
    for host in ("127.0.0.1:%d" % h.port, "localhost:%d" % h.port, "localhost", "x"):
        check(status(h.get("/debug/memory", headers={"Host": host})) == 200, "Host %r is served" % host)
    r = h.get("/debug/tracemalloc/status", headers={"Origin": "http://127.0.0.1:%d" % h.port})
    check(status(r) == 200, "a loopback Origin is served")
    h.close()
    h = Host(env={"GLASSHEAP_TOKEN": "t0k3n"})
    r = h.get("/debug/memory", headers={"Host": "attacker.example", "Authorization": "Bearer t0k3n"})
    check(status(r) == 200, "with a token, the token decides (a page cannot send it): %r" % status(r))
    h.close()

    section("object previews are off by default")
    for env, shown in (({}, False), ({"GLASSHEAP_PREVIEW": "true"}, False), ({"GLASSHEAP_PREVIEW": "0"}, False),
                       ({"GLASSHEAP_PREVIEW": "1"}, True)):
        h = Host(env=env)
        h.cmd("secret 10")
        r = h.get("/debug/memory/types?type_name=Fault.Secret&samples=100")
        d = r.doc() if r is not None else {"samples": []}
        blob = " ".join(d["samples"])
        hexed = "53 33 43 52 33 54"  # "S3CR3T"
        leaked = "S3CR3T" in blob or hexed in blob
        check(len(d["samples"]) == 10 and leaked == shown,
              "%r: object bytes %s in samples: %r" % (env, "shown" if shown else "absent", d["samples"][:1]))
        h.close()

    section("snapshot count and names are bounded")
    h = Host(env={"GLASSHEAP_TRACE_SNAPSHOTS": "3"})
    check(status(h.get("/debug/tracemalloc/start", "POST")) == 200, "tracing")
    codes = [status(h.get("/debug/tracemalloc/snapshot?name=s%d" % i, "POST")) for i in range(4)]
    check(codes == [200, 200, 200, 409], "the 4th snapshot past a bound of 3 -> 409: %r" % codes)
    for name, want in (("x" * 64, 200), ("x" * 65, 422), ("a%2Fb", 422), ("..", 200), ("a%00b", 400),
                       ("%2E%2E%2Fetc", 422), ("", 422)):
        h.get("/debug/tracemalloc/snapshot/s2", "DELETE")
        r = h.get("/debug/tracemalloc/snapshot?name=" + name, "POST")
        check(status(r) == want, "name %r -> %r (want %d)" % (name[:20], status(r), want))
        if status(r) == 200:
            h.get("/debug/tracemalloc/snapshot/" + name, "DELETE")
    r = h.get("/debug/tracemalloc/snapshot/..%2F..%2Fetc", "DELETE")
    check(status(r) in (404, 422), "DELETE with a path-like name -> %r" % status(r))
    gb0, _ = glassheap_bytes(h)
    for i in range(200):
        h.get("/debug/tracemalloc/snapshot?name=s0", "POST")
    gb1, _ = glassheap_bytes(h)
    check(gb1 - gb0 < 64 * 1024, "200 replacements of one snapshot: server bytes %d -> %d" % (gb0, gb1))
    h.close()
    h = Host(env={"GLASSHEAP_TRACE_SNAPSHOTS": "100000"})
    h.get("/debug/tracemalloc/start", "POST")
    r = h.get("/debug/tracemalloc/status")
    check(r is not None and r.doc()["snapshots_max"] <= 1024, "an out-of-range bound is not taken: %r"
          % (r.doc()["snapshots_max"] if r else None))
    h.close()

    section("oversized requests are refused, and leave nothing behind")
    h = Host()
    for _ in range(20):
        h.get("/debug/memory/types?type_name=Fault.Fill&samples=10")
    fd0 = stable_fds(h.pid)
    gb0, rss0 = glassheap_bytes(h)
    results = {}
    for rnd in range(5):
        cases = {
            "request line 100 KiB": b"GET /debug/memory?x=" + b"a" * (100 << 10) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            "query 9000 bytes": b"GET /debug/memory?top_n=1&x=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            "33 query fields": b"GET /debug/memory?" + b"&".join(b"f%d=1" % i for i in range(33)) +
                               b" HTTP/1.1\r\nHost: x\r\n\r\n",
            "type_name 300 bytes": b"GET /debug/memory/types?type_name=" + b"T" * 300 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            "one header 1 MiB": b"GET /debug/memory HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n",
            "200 headers": b"GET /debug/memory HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(200))
                           + b"\r\n",
            "body 100 KB": b"POST /debug/memory/gc HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000,
            "chunked body 1 MiB": b"POST /debug/memory/gc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                  (b"10000\r\n" + b"x" * 0x10000 + b"\r\n") * 16 + b"0\r\n\r\n",
        }
        for what, blob in cases.items():
            s = socket.create_connection(("127.0.0.1", h.port), timeout=10)
            try:
                s.sendall(blob)
                s.shutdown(socket.SHUT_WR)
                reply = s.recv(13)
            except OSError as e:
                reply = ("closed: %s" % e.__class__.__name__).encode()
            s.close()
            results.setdefault(what, set()).add(reply[:12].decode(errors="replace"))
    for what, replies in results.items():
        log("%-22s -> %s" % (what, sorted(replies)))
        if what == "type_name 300 bytes":
            check(replies <= {"HTTP/1.1 422", "HTTP/1.1 200"}, "%s: answered, bounded: %r" % (what, replies))
        elif what in ("query 9000 bytes", "33 query fields"):
            check(replies == {"HTTP/1.1 400"}, "%s -> 400: %r" % (what, replies))
        else:
            check("HTTP/1.1 200" not in replies, "%s is refused: %r" % (what, replies))
    fd1 = settle_fds(h.pid, fd0)
    gb1, rss1 = glassheap_bytes(h)
    log("server bytes %d -> %d, RSS %.1f -> %.1f MiB" % (gb0, gb1, rss0 / 2**20, rss1 / 2**20))
    check(fd1 == fd0, "descriptors %d -> %d" % (fd0, fd1))
    check(gb1 - gb0 < 256 * 1024, "server bytes grew by %d" % (gb1 - gb0))
    check(rss1 - rss0 < 24 << 20, "RSS grew by %.1f MiB" % ((rss1 - rss0) / 2**20))
    check(h.close() == 0, "host exits 0")


# ---- fork --------------------------------------------------------------------------------------

def raw_get(sock, close=False):
    sock.sendall(b"GET /debug/memory?top_n=1 HTTP/1.1\r\nHost: x\r\n%s\r\n" % (b"Connection: close\r\n" if close else b""))
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = sock.recv(65536)
        if not c:
            break
        buf += c
    head, _, body = buf.partition(b"\r\n\r\n")
    n = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1)) if head else 0
    while len(body) < n:
        c = sock.recv(65536)
        if not c:
            break
        body += c
    return head[:12]


def read_eof(sock, timeout):
    sock.settimeout(timeout)
    t0 = time.time()
    try:
        while sock.recv(65536):
            pass
        return time.time() - t0
    except OSError:
        return None


def case_fork():
    section("fork while threads allocate and the server runs")
    h = Host()
    check(h.cmd("workers 3") == "workers 3", "three allocating threads")
    ppid, pport = h.pid, h.port
    kept = socket.create_connection(("127.0.0.1", pport), timeout=5)   # open across the fork
    closing = socket.create_connection(("127.0.0.1", pport), timeout=5)
    check(raw_get(kept) == b"HTTP/1.1 200" and raw_get(closing) == b"HTTP/1.1 200", "two kept-alive connections")
    # Parent and child write to the same pipe: the child's report may come before the parent's.
    first = h.cmd("fork", 20) or ""
    lines = [first]
    child_re = r"child pid=(\d+) port=(\d+) alloc=(\d) counts=(\d) port0=(\d) nolisten=(\d) start_rc=(\d+)"
    second_re = child_re if first.startswith("forked") else r"forked pid=(\d+)$"
    more, _ = h.read_until(second_re, timeout=30)
    lines += more
    forked = next((re.match(r"forked pid=(\d+)$", l) for l in lines if re.match(r"forked pid=(\d+)$", l)), None)
    m = next((re.match(child_re, l) for l in lines if re.match(child_re, l)), None)
    if not check(forked is not None, "forked: %r" % lines):
        return
    cpid = int(forked.group(1))
    if not check(m is not None, "child reports: %r %r" % (lines, h.stderr_lines()[-3:])):
        return
    cport = int(m.group(2))
    check(int(m.group(1)) == cpid, "the child is the forked pid")
    check(m.group(3) == "1", "the child's allocator works (typed and untyped, 40,000 blocks)")
    check(m.group(4) == "1", "the child's counters are exact for a type only it uses")
    check(m.group(5) == "1", "no server in the child: gh_server_port() is 0")
    check(m.group(6) == "1", "the child holds no listening socket on the parent's port")
    check(m.group(7) == "0" and cport > 0 and cport != pport, "gh_server_start in the child works (port %d)" % cport)
    check(listening_ports(cpid) == {cport}, "the child listens on its own port only: %r" % listening_ports(cpid))
    check(listening_ports(ppid) == {pport}, "the parent still listens on its port: %r" % listening_ports(ppid))
    r = request(cport, "/debug/memory/types?type_name=Fault.Child&samples=0", timeout=10)
    check(r.status == 200 and r.doc()["count"] == 500, "the child's server answers with the child's counts")
    r = request(pport, "/debug/memory/types?type_name=Fault.Child&samples=0", timeout=10)
    check(r.status == 200 and r.doc()["count"] == 0, "the parent's server answers with the parent's (none)")
    ok = sum(status(h.get("/debug/memory?top_n=1")) == 200 for _ in range(20))
    check(ok == 20, "the parent keeps serving (%d/20)" % ok)

    section("connections open at the fork")
    check(raw_get(kept) == b"HTTP/1.1 200", "a connection opened before the fork is still served by the parent")
    head = raw_get(closing, close=True)
    eof = read_eof(closing, 5)
    check(head == b"HTTP/1.1 200", "answered")
    check(eof is not None and eof < 2, "'Connection: close' on a connection opened before the fork must end "
          "promptly while the child lives (the child holds a copy of the socket): %r" % (eof,))
    closing.close()

    section("the parent stops: its port closes although the child is alive")
    check(h.cmd("stop") == "stopped", "parent stopped its server")
    check(read_eof(kept, 5) is not None, "the kept-alive connection is closed by the stop")
    kept.close()
    check(not port_accepts(pport), "the parent's port refuses connections (the child holds no copy)")
    check(os.path.exists("/proc/%d" % cpid), "the child is still alive")
    check(request(cport, "/debug/memory", timeout=10).status == 200, "the child still serves on its own port")
    os.kill(cpid, signal.SIGTERM)
    check(h.cmd("reap", 25) == "reaped status=0", "the child exits 0 on SIGTERM (at-exit stops its server)")
    check(not port_accepts(cport), "the child's port is closed after it exits")
    reply = h.cmd("start 127.0.0.1:0") or ""
    check(re.match(r"start rc=0 port=\d+$", reply) is not None, "the parent can start again: %r" % reply)
    check(h.close() == 0, "parent exits 0")

    section("exec'd children inherit LD_PRELOAD and GLASSHEAP_HTTP (not under 'glassheap run')")
    port = free_port()
    env = {"LD_PRELOAD": ARGS.lib, "GLASSHEAP_HTTP": "127.0.0.1:%d" % port}
    script = "grep -c libglassheap /proc/self/maps; sleep 2"
    p = Proc(["/bin/sh", "-c", script], env=env)
    out = p.readline(10)
    check(out is not None and out.isdigit() and int(out) > 0,
          "the exec'd grep has libglassheap mapped (%r lines)" % out)
    check(p.wait_stderr(r"cannot listen on 127\.0\.0\.1:%d \(bind\): Address already in use" % port, 10) is not None,
          "its server cannot take the parent's port and says so: %r" % p.glassheap_lines())
    check(status(request(port, "/debug/memory", timeout=10)) == 200, "the shell serves on the port")
    p.p.wait(10)
    check(p.p.returncode == 0, "the shell and its child exit normally")
    if ARGS.cli:
        # 'glassheap run' keeps the program's children off glassheap unless
        # --follow-children; then they run on it without a server of their own
        # (docs/client.md, "run").
        for follow in (False, True):
            port = free_port()
            p = Proc([ARGS.cli, "run", "--quiet", "--http", "127.0.0.1:%d" % port] +
                     (["--follow-children"] if follow else []) + ["--", "/bin/sh", "-c", script],
                     env={"GLASSHEAP_LIB": ARGS.lib})
            out = p.readline(10)
            if follow:
                check(out is not None and out.isdigit() and int(out) > 0,
                      "under 'glassheap run --follow-children' too (%r)" % out)
            else:
                check(out == "0", "under 'glassheap run' the exec'd grep runs without glassheap (%r)" % out)
            p.p.wait(15)
            check(p.p.returncode == 0, "glassheap run exits with the program's status 0")
            check(not [l for l in p.glassheap_lines() if "cannot listen" in l],
                  "no child tries the program's port: %r" % p.glassheap_lines())


CASES = {"faults": case_faults, "slowloris": case_slowloris, "halfopen": case_halfopen, "stopsig": case_stopsig,
         "defaults": case_defaults, "fork": case_fork}


def main():
    global ARGS
    ARGS = case_args(CASES, ("--fault-host", "--lib"), ("--cli",)).parse_args()
    t0 = time.time()
    CASES[ARGS.case]()
    log("case %s took %.1f s" % (ARGS.case, time.time() - t0))


if __name__ == "__main__":
    sys.exit(finish(main))
