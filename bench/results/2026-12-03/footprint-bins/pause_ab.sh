#!/bin/bash
# pause_ab.sh N RUNS ROUNDS: interleaved gc passes, base (session start 9959fe3) vs main; median pause and cpu per process
N=$1; R=$2; K=$3
med() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
for k in $(seq $K); do
  for b in base main; do
    if [ $b = base ]; then B=/tmp/base/build/bench/gh-bench-gc; else B=/work/main/build/bench/gh-bench-gc; fi
    out=$($B $N $R 2>/dev/null | grep '^run' | tail -n +2)
    p=$(echo "$out" | awk '{for(i=1;i<=NF;i++) if($i=="pause_ms") print $(i+1)}' | tr '\n' ' ')
    c=$(echo "$out" | awk '{for(i=1;i<=NF;i++) if($i=="cpu_ms") print $(i+1)}' | tr '\n' ' ')
    echo "round $k $b pause_ms [$p] median $(echo $p | med) cpu_ms median $(echo $c | med)"
  done
done
