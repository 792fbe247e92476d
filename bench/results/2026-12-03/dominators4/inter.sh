#!/bin/bash
# inter.sh N RUNS ROUNDS : interleaved main / branch dominator passes and a gc pass, each a fresh
# process; the order of main's and the branch's process alternates per round (the second of two
# 10M processes ran some passes 10-30% slower whichever it was). Prints per process the median
# compute_cpu_ms (gc: cpu_ms) of its passes but the first.
# BASE, NEW: the two gh-bench-gc binaries (main's build, the branch's)
N=$1; R=$2; K=$3
BASE=${BASE:-/work/wt-dom4-base/build/bench/gh-bench-gc}
NEW=${NEW:-/work/wt-dom4/build/bench/gh-bench-gc}
med() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
one() {
  if [ $1 = base ]; then B=$BASE; else B=$NEW; fi
  out=$($B $N $R dom 2>/dev/null | tail -n +2)
  c=$(echo "$out" | awk '{for(i=1;i<=NF;i++) if($i=="compute_cpu_ms") print $(i+1)}' | tr '\n' ' ')
  bpo=$(echo "$out" | awk '{for(i=1;i<=NF;i++) if($i=="bytes_per_object") print $(i+1)}' | tail -1)
  hwm=$(echo "$out" | awk '{for(i=1;i<=NF;i++) if($i=="hwm_mb") print $(i+1)}' | tail -1)
  echo "round $k $1 compute_cpu median $(echo $c | med) B/obj $bpo hwm_mb $hwm  all: $c"
}
for k in $(seq $K); do
  if [ $((k % 2)) = 1 ]; then one base; one new; else one new; one base; fi
  g=$($NEW $N $R 2>/dev/null | tail -n +2 | awk '{for(i=1;i<=NF;i++) if($i=="cpu_ms") print $(i+1)}' | tr '\n' ' ')
  echo "round $k gc cpu median $(echo $g | med)  all: $g"
done
