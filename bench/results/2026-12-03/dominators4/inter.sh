#!/bin/bash
# inter.sh N RUNS ROUNDS : interleaved base / new dom and gc; prints median compute_cpu per process
# BASE, NEW: the two gh-bench-gc binaries (main's build, the branch's)
N=$1; R=$2; K=$3
BASE=${BASE:-/work/wt-dom4-base/build/bench/gh-bench-gc}
NEW=${NEW:-/work/wt-dom4/build/bench/gh-bench-gc}
med() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
for k in $(seq $K); do
  for b in base new; do
    if [ $b = base ]; then B=$BASE; else B=$NEW; fi
    out=$($B $N $R dom 2>/dev/null | tail -n +2)
    c=$(echo "$out" | awk '{for(i=1;i<=NF;i++) if($i=="compute_cpu_ms") print $(i+1)}' | tr '\n' ' ')
    bpo=$(echo "$out" | awk '{for(i=1;i<=NF;i++) if($i=="bytes_per_object") print $(i+1)}' | tail -1)
    echo "round $k $b compute_cpu median $(echo $c | med) B/obj $bpo  all: $c"
  done
  g=$($NEW $N $R 2>/dev/null | tail -n +2 | awk '{for(i=1;i<=NF;i++) if($i=="cpu_ms") print $(i+1)}' | tr '\n' ' ')
  echo "round $k gc cpu median $(echo $g | med)  all: $g"
done
