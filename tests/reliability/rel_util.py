"""Helpers shared by the reliability drivers (storm.py, reliability.py).

Standard library only, plus Debian's python3-msgpack (run them with
/usr/bin/python3). Only loopback addresses; every wait is bounded; every
child process started through Proc is killed by kill_children().
"""
import http.client
import json
import os
import queue
import re
import socket
import subprocess
import threading
import time

FAILURES = []
CHILDREN = []
_print_lock = threading.Lock()


def log(msg):
    with _print_lock:
        print(msg, flush=True)


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        log("FAIL: " + what)
    return cond


_T0 = time.time()


def section(name):
    log("== [%5.1f s] %s" % (time.time() - _T0, name))


# ---- Processes ---------------------------------------------------------------------

CLEAN_ENV = ("GLASSHEAP_HTTP", "GLASSHEAP_TOKEN", "GLASSHEAP_PREVIEW", "LD_PRELOAD", "GLASSHEAP_TRACE",
             "GLASSHEAP_CAGE_SIZE", "GLASSHEAP_STOP_TIMEOUT_MS", "GLASSHEAP_STOP_SIGNAL")


class Proc:
    """A child with line-oriented stdin/stdout; stderr collected in the background."""

    def __init__(self, argv, env=None, preexec_fn=None):
        full_env = dict(os.environ)
        for k in CLEAN_ENV:
            full_env.pop(k, None)
        full_env.update(env or {})
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=full_env, preexec_fn=preexec_fn)
        CHILDREN.append(self.p)
        self.pid = self.p.pid
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

    def read_until(self, pattern, timeout=30):
        """Lines read until one matches pattern (returned last), or None at timeout/EOF."""
        got = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.readline(max(0.1, deadline - time.time()))
            if line is None:
                return got, None
            got.append(line)
            m = re.match(pattern, line)
            if m:
                return got, m
        return got, None

    def stderr_lines(self):
        with self.err_lock:
            return list(self.err)

    def glassheap_lines(self):
        return [l for l in self.stderr_lines() if l.startswith("glassheap:")]

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
        try:
            self.p.stdin.write((line + "\n").encode())
            self.p.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        return self.readline(timeout)

    def alive(self):
        return self.p.poll() is None

    def close(self, timeout=15):
        """quit, then wait (bounded); returns the exit status (negative: signal)."""
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


def kill_children():
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass


# ---- /proc ----------------------------------------------------------------------------

def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def settle_fds(pid, want, timeout=5.0):
    deadline = time.time() + timeout
    n = fd_count(pid)
    while n != want and time.time() < deadline:
        time.sleep(0.05)
        n = fd_count(pid)
    return n


def stable_fds(pid, quiet=0.5, timeout=5.0):
    """The descriptor count once it has not changed for `quiet` seconds (bounded)."""
    deadline = time.time() + timeout
    n, since = fd_count(pid), time.time()
    while time.time() < deadline:
        time.sleep(0.05)
        m = fd_count(pid)
        if m != n:
            n, since = m, time.time()
        elif time.time() - since >= quiet:
            break
    return n


def listening_ports(pid):
    """TCP ports the process `pid` listens on (sockets it holds open in LISTEN state)."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            m = re.match(r"socket:\[(\d+)\]", target)
            if m:
                inodes.add(m.group(1))
    except OSError:
        return set()
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, table)) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if len(parts) > 9 and parts[3] == "0A" and parts[9] in inodes:
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


# ---- HTTP --------------------------------------------------------------------------------

class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def doc(self):
        ctype = self.headers.get("content-type", "")
        if ctype == "application/msgpack":
            import msgpack
            return msgpack.unpackb(self.body, raw=False)
        return json.loads(self.body.decode("utf-8"))


def request(port, path, method="GET", headers=None, timeout=30, conn=None, addr="127.0.0.1"):
    """One request; on a given keep-alive connection when conn is passed. Raises on
    network errors and timeouts (the caller decides)."""
    own = conn is None
    c = conn or http.client.HTTPConnection(addr, port, timeout=timeout)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, body)
    finally:
        if own:
            c.close()


def port_accepts(port, timeout=2.0):
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def type_entry(doc, name):
    for t in doc.get("top_objects", []):
        if t["type"] == name:
            return t
    return None


def finish(main):
    """Runs main(); any exception is a failure; children are always killed. Returns the exit code."""
    try:
        main()
    except Exception as e:  # noqa: BLE001 - any crash of the driver is a failure
        import traceback
        traceback.print_exc()
        FAILURES.append("exception: %r" % e)
    finally:
        kill_children()
    if FAILURES:
        log("%d check(s) failed" % len(FAILURES))
        return 1
    log("all checks passed")
    return 0
