#!/bin/sh
# The 10M-object pause with the requester marking alone and with helpers,
# interleaved (the host's speed drifts): gh-bench-gc N PASSES per setting.
# Usage: pause_threads_ab.sh BUILD [objects] [alternations]
set -eu
build=$1
n=${2:-10000000}
alt=${3:-3}
for i in $(seq "$alt"); do
  for t in 1 2; do
    GLASSHEAP_MARK_THREADS=$t "$build/bench/gh-bench-gc" "$n" 3 2>/dev/null |
      awk -v t=$t -v n=$n '/^run/ {printf "threads %d pause_ms %s per_100k_ms %.2f cpu_ms %s\n", t, $4, $4 / (n / 100000), $16}'
  done
done
