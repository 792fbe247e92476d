#!/bin/bash
# The data of epoll registrations as roots (alloc/epoll_roots.c): an event
# loop's connections that only the kernel holds, at exit next to valgrind and
# LSan, and what reading them costs a pass. Run from the repository root
# after a build:
#   OLD=<a libglassheap.so without it> bash bench/results/2026-12-05/epoll-roots/run.sh > bench/results/2026-12-05/epoll-roots/results.txt
set -u
D=$(cd "$(dirname "$0")" && pwd)
LIB=$PWD/build/libglassheap.so
LSAN=/usr/lib/x86_64-linux-gnu/liblsan.so.0
T=$(mktemp -d)
trap 'rm -rf "$T"; kill $(jobs -p) 2>/dev/null' EXIT
echo "== $(git rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
gcc -O2 -o $T/epconn $D/epconn.c
echo "== epconn 1000 (1000 connections registered, each 128 bytes), at exit"
echo -n "glassheap:        "; env LD_PRELOAD=$LIB GLASSHEAP_LEAK_CHECK=exit GLASSHEAP_LEAK_VERBOSE=1 $T/epconn 1000 2>&1 >/dev/null | grep -m1 'definitely lost:' | sed 's/^==[0-9]*== *//'
echo -n "glassheap, before: "; env LD_PRELOAD=${OLD:-/nonexistent} GLASSHEAP_LEAK_CHECK=exit GLASSHEAP_LEAK_VERBOSE=1 $T/epconn 1000 2>&1 >/dev/null | grep -m1 'definitely lost:' | sed 's/^==[0-9]*== *//'
[ -f $LSAN ] && { echo -n "LSan:             "; env LD_PRELOAD=$LSAN $T/epconn 1000 2>&1 >/dev/null | grep SUMMARY; }
echo -n "valgrind:         "; valgrind --leak-check=full $T/epconn 1000 2>&1 >/dev/null | grep -E 'definitely lost:' | sed 's/^==[0-9]*== *//'
echo "== a live epconn: POST /debug/memory/gc, 5 passes each (pause_ms, roots.epoll bytes, definitely lost)"
live() { # lib label n port
  env LD_PRELOAD=$1 GLASSHEAP_HTTP=127.0.0.1:$4 $T/epconn $3 60 > $T/out 2>/dev/null &
  local pid=$!
  for i in $(seq 300); do grep -q ready $T/out 2>/dev/null && break; sleep 0.1; done
  for i in $(seq 100); do curl -s -o /dev/null --max-time 5 http://127.0.0.1:$4/debug/memory && break; sleep 0.2; done
  local line="$2 $3 connections:"
  for k in 1 2 3 4 5; do
    line="$line $(curl -s --max-time 60 -X POST http://127.0.0.1:$4/debug/memory/gc | /usr/bin/python3 -c 'import json,sys
d = json.load(sys.stdin); s = d["unreachable"]["summary"]
print("%.1f ms (%d B, lost %d);" % (d["pause_ms"], d["roots"].get("epoll", {}).get("bytes", 0), s["definitely_lost"]["count"]))')"
  done
  kill $pid 2>/dev/null || line="$line (the program had ended)"
  wait $pid 2>/dev/null
  echo "$line"
}
port=18990
# (19,000: the most a hard RLIMIT_NOFILE of 20,000 allows, a descriptor a connection)
for n in 10 1000 10000 19000; do
  port=$((port + 1)); live $LIB "new   " $n $port
  [ -n "${OLD:-}" ] && { port=$((port + 1)); live $OLD "before" $n $port; }
done
