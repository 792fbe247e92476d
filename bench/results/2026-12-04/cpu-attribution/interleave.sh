#!/bin/bash
# interleave.sh ROUNDS WORKLOAD CONFIG...: interleaved rounds of gh-bench-alloc WORKLOAD, each
# CONFIG "label|ENV=V ...|preload.so" (the first is the reference); prints per config the
# median replacement-phase seconds and process CPU, and the medians of per-round ratios.
R=$1; W=$2; shift 2
B=$(cd "$(dirname "$0")" && pwd)/../../../../build/bench/gh-bench-alloc
out=$(mktemp)
for i in $(seq $R); do
  for c in "$@"; do
    IFS='|' read -r lab envs so <<< "$c"
    s=$( { /usr/bin/time -f "T %U %S %M" env $envs LD_PRELOAD=$so $B $W > "$out.o"; } 2>&1 | grep '^T')
    echo "$lab $(grep -o 'seconds=[0-9.]*' "$out.o" | cut -d= -f2) $s" >> $out
  done
done
/usr/bin/python3 - $out <<'PY'
import sys, statistics, collections
d = collections.defaultdict(list)
for l in open(sys.argv[1]):
    f = l.split()
    d[f[0]].append((float(f[1]), float(f[3]) + float(f[4]), int(f[5])))
keys = list(d); je = d[keys[0]]
for k in keys:
    v = d[k]
    inner = statistics.median(x[0] for x in v); cpu = statistics.median(x[1] for x in v)
    ri = statistics.median(a[0]/b[0] for a, b in zip(v, je)); rc = statistics.median(a[1]/b[1] for a, b in zip(v, je))
    print("%-10s inner %.3f (x%.3f, per-round %.3f)  cpu %.3f (x%.3f, per-round %.3f) rss %.1f" % (k, inner, inner/statistics.median(x[0] for x in je), ri, cpu, cpu/statistics.median(x[1] for x in je), rc, statistics.median(x[2] for x in v)/1024))
PY
rm -f "$out" "$out.o"
