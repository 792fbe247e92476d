#!/bin/bash
# cpu_ab.sh WORKLOAD ROUNDS: interleaved user+sys CPU seconds of gh-bench-alloc WORKLOAD under prev / new / jemalloc
W=$1; K=$2
B=/work/main/build/bench/gh-bench-alloc
cpu() { /usr/bin/time -f "%U %S" env LD_PRELOAD=$1 $B $W 2>&1 >/dev/null | tail -1 | awk '{print $1+$2}'; }
for k in $(seq $K); do
  p=$(cpu /tmp/prev/build/libglassheap.so); n=$(cpu /work/main/build/libglassheap.so); j=$(cpu /usr/lib/x86_64-linux-gnu/libjemalloc.so.2)
  echo "round $k prev $p new $n jemalloc $j"
done
