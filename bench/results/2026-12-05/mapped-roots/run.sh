#!/bin/bash
# The program's own mappings as roots (alloc/mapped.c): leak reports next to
# LSan and valgrind, the pause on a live CPython heap, and the cost of the
# exported mmap/munmap. Run from the repository root after a build:
#   bash bench/results/2026-12-05/mapped-roots/run.sh > bench/results/2026-12-05/mapped-roots/results.txt
set -u
D=$(cd "$(dirname "$0")" && pwd)
LIB=$PWD/build/libglassheap.so
JE=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
LSAN=/usr/lib/x86_64-linux-gnu/liblsan.so.0
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3
CODE='import json
x = [list(range(100)) for i in range(50)]
print(len(json.dumps(x)))'
sum() { grep -E 'SUMMARY|definitely lost:|possibly lost:' | sed 's/^==[0-9]*==//' | tr -s ' ' | tr '\n' ' '; echo; }

echo "== python3 -c (pymalloc, the default allocator), at exit"
echo -n "glassheap:        "; env LD_PRELOAD=$LIB GLASSHEAP_LEAK_CHECK=exit GLASSHEAP_LEAK_VERBOSE=1 $PY -c "$CODE" 2>&1 >/dev/null | sum
echo -n "glassheap, off:   "; env LD_PRELOAD=$LIB GLASSHEAP_LEAK_CHECK=exit GLASSHEAP_LEAK_VERBOSE=1 GLASSHEAP_MAPPED_ROOTS=off $PY -c "$CODE" 2>&1 >/dev/null | sum
[ -f $LSAN ] && { echo -n "LSan:             "; env LD_PRELOAD=$LSAN $PY -c "$CODE" 2>&1 >/dev/null | sum; }
echo -n "valgrind:         "; valgrind --leak-check=full $PY -c "$CODE" 2>&1 >/dev/null | sum

echo "== gcc -O2 -c t.cc (cc1plus and the driver), at exit"
printf '#include <map>\n#include <string>\n#include <vector>\nint main(){std::map<std::string,std::vector<int>> m; for(int i=0;i<1000;i++) m[std::to_string(i)].push_back(i); return m.size()==1000?0:1;}\n' > $T/t.cc
echo "glassheap:";      env LD_PRELOAD=$LIB GLASSHEAP_LEAK_CHECK=exit GLASSHEAP_LEAK_VERBOSE=1 gcc -O2 -c $T/t.cc -o $T/t.o 2>&1 | grep -E 'SUMMARY: glassheap'
echo "glassheap, off:"; env LD_PRELOAD=$LIB GLASSHEAP_LEAK_CHECK=exit GLASSHEAP_LEAK_VERBOSE=1 GLASSHEAP_MAPPED_ROOTS=off gcc -O2 -c $T/t.cc -o $T/t.o 2>&1 | grep -E 'SUMMARY: glassheap'
echo "valgrind:";       valgrind --leak-check=full --trace-children=yes gcc -O2 -c $T/t.cc -o $T/t.o 2>&1 | grep -E 'Command:|definitely lost:|possibly lost:' | grep -v 'in loss record'

echo "== a live python3 with 2M objects: POST /debug/memory/gc, 3 passes each"
for m in on off; do
  env LD_PRELOAD=$LIB GLASSHEAP_HTTP=127.0.0.1:18990 GLASSHEAP_MAPPED_ROOTS=$m $PY $D/pyheap.py 2000000 60 > $T/py.out 2> $T/py.err &
  pid=$!
  for i in $(seq 200); do grep -q ready $T/py.out 2>/dev/null && break; sleep 0.3; done
  echo "mapped roots $m: $(grep VmRSS /proc/$pid/status | tr -s ' \t' ' ')"
  for k in 1 2 3; do
    curl -s --max-time 60 -X POST http://127.0.0.1:18990/debug/memory/gc | $PY -c 'import json,sys
d = json.load(sys.stdin); s = d["unreachable"]["summary"]
print("  pause_ms %.1f mark_ms %.1f roots.mapped %s scanned %.0f MB; definitely lost %d (%d bytes), possibly %d, reachable %d" % (d["pause_ms"], d["mark_ms"], d["roots"]["mapped"], d["scanned_bytes"] / 1e6, s["definitely_lost"]["count"], s["definitely_lost"]["bytes"], s["possibly_lost"]["count"], s["reachable"]["count"]))'
  done
  kill $pid; wait $pid 2>/dev/null
done

echo "== the exported mmap/munmap: mmapbench (medians of 5 interleaved runs)"
gcc -O2 -o $T/mmapbench $D/mmapbench.c
for spec in "pairs 200000" "keep 20000" "holes 20000"; do
  for lib in $JE $LIB; do : > $T/r.$(basename $lib); done
  for r in 1 2 3 4 5; do
    for lib in $JE $LIB; do env LD_PRELOAD=$lib $T/mmapbench $spec | sed 's/.*per_op_us=//' >> $T/r.$(basename $lib); done
  done
  je=$(sort -n $T/r.$(basename $JE) | sed -n 3p); gh=$(sort -n $T/r.$(basename $LIB) | sed -n 3p)
  echo "$spec: per operation jemalloc ${je} us, glassheap ${gh} us"
done
