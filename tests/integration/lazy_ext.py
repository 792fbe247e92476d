#!/usr/bin/env python3
"""lazy_ext.py -- the on-demand half of libglassheap.so (issue 15, alloc/ext.h).

1. A preloaded program that never asks for the server or for symbols maps
   libglassheap.so but neither libglassheap_ext.so nor h2o, OpenSSL, libdw,
   libelf, nor libstdc++ (its /proc/self/maps: cat is a C program);
   libglassheap.so's own needs are libc, libgcc_s and the unwinder only
   (readelf -d): operator new/delete need no C++ runtime, log/exp no libm.
2. GLASSHEAP_HTTP starts the server in a preloaded program: it listens, answers
   GET /debug/memory, and the process then maps the extension and h2o.
3. gh_server_start() called at run time (python3's ctypes, preloaded) loads
   the extension then and not before; the server answers; gh_server_stop().
Exit 77 (SKIP) when a tool it drives is missing.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

LAZY = ("libglassheap_ext", "libh2o", "libssl", "libcrypto", "libdw", "libelf", "libwslay", "libprotobuf-c",
        "libmsgpackc")
CORE_NEEDED_OK = re.compile(r"^(libc|libgcc_s|libunwind|ld-linux.*)\.so")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def env_for(lib, extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLASSHEAP_", "LD_PRELOAD"))}
    env["LD_PRELOAD"] = lib
    env.update(extra or {})
    return env


def mapped(maps_text):
    return {os.path.basename(l.split()[5]) for l in maps_text.splitlines() if len(l.split()) >= 6 and ".so" in l}


def lazy_in(names):
    return sorted(n for n in names if n.startswith(LAZY))


def get(port, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % (path, port)).encode())
    data = b""
    s.settimeout(10)
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    if b"transfer-encoding: chunked" in head.lower():
        out, rest = b"", body
        while rest:
            n, _, rest = rest.partition(b"\r\n")
            n = int(n, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return status, body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    a = ap.parse_args()
    lib = os.path.abspath(a.lib)
    for tool in ("cat", "sleep", "readelf"):
        if not shutil.which(tool):
            print("SKIP: %s is not installed" % tool)
            return 77

    # 1. nothing asked for: nothing loaded
    r = subprocess.run(["cat", "/proc/self/maps"], env=env_for(lib), capture_output=True, text=True, timeout=60)
    names = mapped(r.stdout)
    check(r.returncode == 0 and any(n.startswith("libglassheap.so") for n in names),
          "a preloaded cat maps libglassheap.so (%s)" % sorted(names))
    check(lazy_in(names) == [], "... and none of the on-demand libraries (found: %s)" % lazy_in(names))
    check(not any(n.startswith("libstdc++") for n in names), "... and no C++ runtime (%s)" % sorted(names))
    dyn = subprocess.run(["readelf", "-d", lib], capture_output=True, text=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn)
    check(needed and all(CORE_NEEDED_OK.match(n) for n in needed),
          "libglassheap.so needs libc, libgcc_s and the unwinder only: %s" % needed)
    ext = os.path.join(os.path.dirname(lib), [n for n in os.listdir(os.path.dirname(lib))
                                              if n.startswith("libglassheap_ext.so")][0])
    dyn = subprocess.run(["readelf", "-d", "--dyn-syms", ext], capture_output=True, text=True).stdout
    check("libh2o" in dyn and "libdw" in dyn, "the extension %s carries h2o and libdw" % os.path.basename(ext))

    # 2. GLASSHEAP_HTTP: the server starts at load time and answers
    p = subprocess.Popen(["sleep", "30"], env=env_for(lib, {"GLASSHEAP_HTTP": "127.0.0.1:0"}),
                         stderr=subprocess.PIPE, text=True)
    try:
        line = p.stderr.readline()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        check(m is not None, "GLASSHEAP_HTTP: the server says where it listens (%r)" % line.strip())
        if m:
            status, body = get(int(m.group(1)), "/debug/memory")
            doc = json.loads(body) if status == 200 else {}
            check(status == 200 and doc.get("summary", {}).get("total_objects", 0) > 0,
                  "GET /debug/memory answers 200 with objects (%d)" % status)
            with open("/proc/%d/maps" % p.pid) as f:
                names = mapped(f.read())
            check(any(n.startswith("libglassheap_ext") for n in names) and any(n.startswith("libh2o") for n in names),
                  "the serving process maps the extension and h2o")
    finally:
        p.kill()
        p.wait()

    # 3. gh_server_start at run time, from a program that started without it
    prog = r'''
import ctypes, os, sys
def lazy():
    with open("/proc/self/maps") as f:
        return sorted({os.path.basename(l.split()[5]) for l in f if len(l.split()) >= 6
                       and os.path.basename(l.split()[5]).startswith(%r)})
gh = ctypes.CDLL(None)
print("before", ",".join(lazy()))
rc = gh.gh_server_start(b"127.0.0.1:0")
print("start", rc, gh.gh_server_port())
print("after", ",".join(lazy()))
sys.stdout.flush()
sys.stdin.readline()
gh.gh_server_stop()
print("stopped", gh.gh_server_port())
''' % (LAZY,)
    p = subprocess.Popen([sys.executable, "-c", prog], env=env_for(lib), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        before = p.stdout.readline().split()
        check(before == ["before"], "python3 under the preload maps no on-demand library before the start (%s)"
              % before[1:])
        start = p.stdout.readline().split()
        check(len(start) == 3 and start[1] == "0" and int(start[2]) > 0, "gh_server_start returns 0, a port (%s)" % start)
        after = p.stdout.readline().split()
        check(len(after) == 2 and "libglassheap_ext" in after[1] and "libh2o" in after[1],
              "... and then maps the extension and h2o (%s)" % after[1:])
        if len(start) == 3 and int(start[2]) > 0:
            status, body = get(int(start[2]), "/debug/memory")
            check(status == 200 and b"summary" in body, "the started server answers /debug/memory (%d)" % status)
        out, err = p.communicate("\n", timeout=60)
        check(out.split() == ["stopped", "0"] and p.returncode == 0,
              "gh_server_stop; port 0; exit 0 (%r, rc %s, %s)" % (out, p.returncode, err.strip()[-300:]))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
