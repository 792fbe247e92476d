"""ghtest -- the helpers every Python test driver of glassheap shares.

    sys.path.insert(0, <repo>/tests/pylib); from ghtest import ...

used by tests/server/test_server.py, tests/reliability/{reliability,storm}.py
and tests/client/test_client.py. Standard library only, plus Debian's
python3-msgpack for msgpack bodies (the drivers run under /usr/bin/python3).

  reporting   check(), section(), log(), FAILURES; skip() and finish(): a test
              that cannot run here exits 77 (ctest's SKIP_RETURN_CODE), never 0;
              case_args(): a driver's --case NAME command line
  processes   Proc: a child with line-oriented stdin/stdout, stderr collected in
              the background; kill_children() kills every Proc still running
  /proc       fd_count, rss_bytes, settle_fds, stable_fds, listening_ports
  HTTP        request(): one request on a new connection (TCP or Unix socket);
              Conn: a kept-alive connection; exchange(): raw bytes in, raw
              bytes out. One client, on plain sockets, so that a test controls
              every byte it sends (duplicate headers, absolute-form targets,
              dot segments) and reads every byte it gets
  documents   same(), same_shape(), type_entry(), mb()

Only loopback addresses; every wait is bounded.
"""
import argparse
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time

# ---- Reporting -----------------------------------------------------------------------

FAILURES = []
SKIP_CODE = 77
_print_lock = threading.Lock()
_T0 = time.time()


def log(msg):
    with _print_lock:
        print(msg, flush=True)


def check(cond, what, detail=None):
    """Records a failure (and goes on) unless cond holds; returns cond."""
    if not cond:
        FAILURES.append(what)
        log("FAIL: " + what)
        if detail is not None:
            log("  " + str(detail).replace("\n", "\n  "))
    return cond


def section(name):
    log("== [%5.1f s] %s" % (time.time() - _T0, name))


class Skip(Exception):
    """Raised by skip(): the test cannot run here (finish() exits 77)."""


def skip(reason):
    raise Skip(reason)


def finish(main, cleanup=None):
    """Runs main(); a crash is a failure; children are always killed (then
    cleanup() runs). Returns the exit code: 1 on any failure, else 77 when
    main skipped (skip() or a return value of 77), else 0."""
    rc = 0
    try:
        rc = main() or 0
    except Skip as e:
        log("SKIP: %s" % e)
        rc = SKIP_CODE
    except Exception as e:  # noqa: BLE001 - any crash of the driver is a failure
        import traceback
        traceback.print_exc()
        FAILURES.append("exception: %r" % e)
    finally:
        kill_children()
        if cleanup:
            cleanup()
    if FAILURES:
        log("%d check(s) failed" % len(FAILURES))
        return 1
    if rc == SKIP_CODE:
        log("skipped")
        return SKIP_CODE
    log("all checks passed")
    return 0


def case_args(cases, required=(), optional=()):
    """The command line of a driver with one ctest per case: --case (one of cases), the options
    required, then the options optional (each with one value)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", required=True, choices=sorted(cases))
    for o in required:
        ap.add_argument(o, required=True)
    for o in optional:
        ap.add_argument(o)
    return ap


# ---- Processes ------------------------------------------------------------------------

CHILDREN = []
# Inherited settings that would change what a child under test does.
CLEAN_ENV = ("GLASSHEAP_HTTP", "GLASSHEAP_TOKEN", "GLASSHEAP_PREVIEW", "LD_PRELOAD", "GLASSHEAP_TRACE",
             "GLASSHEAP_CAGE_SIZE", "GLASSHEAP_STOP_TIMEOUT_MS", "GLASSHEAP_STOP_SIGNAL")


def child_env(env=None):
    full = dict(os.environ)
    for k in CLEAN_ENV:
        full.pop(k, None)
    full.update(env or {})
    return full


class Proc:
    """A child with line-oriented stdin/stdout; stderr collected in the background."""

    def __init__(self, argv, env=None, preexec_fn=None):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=child_env(env), preexec_fn=preexec_fn)
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
        """Sends one command line; returns the reply line (None: no reply in time, or gone)."""
        try:
            self.p.stdin.write((line + "\n").encode())
            self.p.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        return self.readline(timeout)

    def alive(self):
        return self.p.poll() is None

    def fds(self):
        return fd_count(self.pid)

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


def track(popen):
    """Adds a Popen started elsewhere to what kill_children() kills."""
    CHILDREN.append(popen)
    return popen


def kill_children():
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass


# ---- /proc ------------------------------------------------------------------------------

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


# ---- Network ---------------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_accepts(port, timeout=2.0, addr="127.0.0.1"):
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def connect(port=None, unix=None, addr="127.0.0.1", timeout=30):
    if unix:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(unix)
        return s
    return socket.create_connection((addr, port), timeout=timeout)


# ---- HTTP --------------------------------------------------------------------------------

class Resp:
    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def ctype(self):
        return self.headers.get("content-type", "")

    def doc(self):
        """The body decoded per its Content-Type (msgpack via python3-msgpack)."""
        if self.ctype() in ("application/msgpack", "application/x-msgpack"):
            import msgpack
            return msgpack.unpackb(self.body, raw=False, strict_map_key=True)
        return json.loads(self.body.decode("utf-8"))


def _header_lines(headers):
    """headers: a dict, or a sequence of "Name: value" strings or (name, value)
    pairs (a sequence may repeat a name)."""
    if not headers:
        return []
    if isinstance(headers, dict):
        return list(headers.items())
    out = []
    for h in headers:
        if isinstance(h, str):
            k, _, v = h.partition(":")
            out.append((k.strip(), v.strip()))
        else:
            out.append(tuple(h))
    return out


def _read_response(sock, head_only=False):
    """One response from sock: (status, reason, headers, body). Bodies are
    delimited by Content-Length (the server always sends one) or the end."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the end of the headers: %r" % buf[:80])
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status, reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if head_only:
        return status, reason, headers, b""
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(body) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed in the body")
            body += chunk
        return status, reason, headers, body[:n]
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return status, reason, headers, body
        body += chunk


def _request_bytes(method, target, headers, body, host, keep_alive):
    hs = _header_lines(headers)
    names = {k.lower() for k, _ in hs}
    out = ["%s %s HTTP/1.1" % (method, target)]
    if "host" not in names:
        out.append("Host: %s" % host)
    out += ["%s: %s" % (k, v) for k, v in hs]
    if "connection" not in names:
        out.append("Connection: %s" % ("keep-alive" if keep_alive else "close"))
    body = body or b""
    if (body or method in ("POST", "PUT")) and "content-length" not in names:
        out.append("Content-Length: %d" % len(body))
    return ("\r\n".join(out) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def request(port, path, method="GET", headers=None, timeout=30, unix=None, addr="127.0.0.1", body=None):
    """One request on a new connection (TCP port on addr, or the Unix socket
    unix): returns a Resp. The target goes as given, byte for byte. Raises on
    network errors and timeouts (the caller decides)."""
    host = "localhost" if unix else ("[%s]:%d" % (addr, port) if ":" in addr else "%s:%d" % (addr, port))
    s = connect(port, unix, addr, timeout)
    try:
        s.sendall(_request_bytes(method, path, headers, body, host, False))
        return Resp(*_read_response(s, method == "HEAD"))
    finally:
        s.close()


class Conn:
    """A kept-alive connection: request() after request() on one socket."""

    def __init__(self, port, timeout=30, addr="127.0.0.1"):
        self.port, self.addr = port, addr
        self.sock = connect(port, None, addr, timeout)

    def request(self, path, method="GET", headers=None, body=None):
        self.sock.sendall(_request_bytes(method, path, headers, body, "%s:%d" % (self.addr, self.port), True))
        return Resp(*_read_response(self.sock, method == "HEAD"))

    def close(self):
        self.sock.close()


def exchange(port, data, timeout=10, shut_wr=False, limit=1 << 20, addr="127.0.0.1"):
    """Sends raw bytes on a new connection and returns every byte the server
    sends back until it closes (or the timeout, or limit bytes)."""
    s = connect(port, None, addr, timeout)
    out = b""
    try:
        s.sendall(data)
        if shut_wr:
            s.shutdown(socket.SHUT_WR)
        while len(out) < limit:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    finally:
        s.close()
    return out


def parse_response(raw):
    """A raw response (from exchange) as a Resp, or None when there is none."""
    if b"\r\n\r\n" not in raw:
        return None
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = body[:int(headers["content-length"])]
    return Resp(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, body)


# ---- Documents ----------------------------------------------------------------------------

def same(a, b, values=True):
    """The same document: the same types everywhere (int is not float, bool is
    not int), the same key order, and (values=True) equal values and lengths."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k], values) for k in a)
    if isinstance(a, list):
        return (len(a) == len(b) or not values) and all(same(x, y, values) for x, y in zip(a, b))
    return a == b or not values


def same_shape(a, b):
    """Same keys and value types everywhere; lists compared element by element."""
    return same(a, b, values=False)


def type_entry(doc, name):
    for t in (doc or {}).get("top_objects", []):
        if t["type"] == name:
            return t
    return None


def mb(n):
    return round(n / 1024 / 1024, 2)


if __name__ == "__main__":
    sys.exit("ghtest is a module: import it")
