#!/bin/bash
# phcmp.sh N RUNS ROUNDS: per-phase medians, A (main + instrumentation) vs B, interleaved, order alternating per round
N=$1; R=$2; K=$3
A=${A:-/work/wt-dom4-ph0/build/bench/gh-bench-gc}; B=${B:-/work/wt-dom4/build-ph/bench/gh-bench-gc}
rm -f /tmp/phc-a /tmp/phc-b
for k in $(seq $K); do
  if [ $((k % 2)) = 1 ]; then
    $A $N $R dom 2>&1 | grep '^phase' >> /tmp/phc-a; $B $N $R dom 2>&1 | grep '^phase' >> /tmp/phc-b
  else
    $B $N $R dom 2>&1 | grep '^phase' >> /tmp/phc-b; $A $N $R dom 2>&1 | grep '^phase' >> /tmp/phc-a
  fi
done
for ph in ranks figures rewrite first dfs preds semi nca retained; do
  a=$(grep " $ph " /tmp/phc-a | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  b=$(grep " $ph " /tmp/phc-b | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  echo "$ph base $a new $b"
done
awk '{s[FILENAME]+=$3} END{for (f in s) print f, s[f]}' /tmp/phc-a /tmp/phc-b
