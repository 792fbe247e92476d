#!/bin/bash
# ir.sh LIB : per-pair Ir for tight64 and the non-page-aligned loop
LIB=${1:-/work/main/build/libglassheap.so}; B=$(dirname $LIB)/bench/gh-bench-alloc
r() { LD_PRELOAD=$LIB valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | awk '/refs/{gsub(",","",$4); print $4}'; }
a=$(r $B tight64 1000000); b=$(r $B tight64 0); c=$(r /tmp/t/t64b 1000000); d=$(r /tmp/t/t64b 0)
echo "tight64 $(( (a-b)/10000 ))e-2  aligned-off $(( (c-d)/10000 ))e-2"
