#!/bin/bash
# ring_ab.sh ROUNDS OLD_SO NEW_SO: interleaved rounds of fp_mixed1 and fp_mixed2
# under jemalloc, glassheap before the ring (OLD_SO: d926978 built in its own
# tree) and with it (NEW_SO); prints CPU (user+sys) and peak RSS per run, then
# per workload the medians and the per-round ratios to jemalloc.
set -e
R=${1:-10}; OLD=$2; NEW=$3
JE=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
B=$(dirname "$0")/../../../../build/bench/gh-bench-alloc
out=$(mktemp)
for w in fp_mixed1 fp_mixed2; do
  for i in $(seq "$R"); do
    for c in je:$JE old:$OLD new:$NEW; do
      n=${c%%:*}; so=${c#*:}
      /usr/bin/time -f "$w $n %U %S %M" env LD_PRELOAD="$so" "$B" "$w" >/dev/null 2>>"$out"
    done
  done
done
grep -E '^fp_' "$out"
/usr/bin/python3 - "$out" <<'PY'
import sys, statistics, collections
d = collections.defaultdict(list)
for l in open(sys.argv[1]):
    f = l.split()
    if len(f) == 5 and f[0].startswith('fp_'):
        d[(f[0], f[1])].append((float(f[2]) + float(f[3]), int(f[4]) / 1024))
for w in ('fp_mixed1', 'fp_mixed2'):
    je = d[(w, 'je')]
    for n in ('je', 'old', 'new'):
        v = d[(w, n)]
        cpu = [x[0] for x in v]
        r = [a[0] / b[0] for a, b in zip(v, je)]
        print("%s %-3s cpu median %.3f s min %.3f  x je: medians %.2fx, per round %.2fx (%.2f-%.2f), fastest %.2fx  rss %.1f MiB"
              % (w, n, statistics.median(cpu), min(cpu), statistics.median(cpu) / statistics.median([x[0] for x in je]),
                 statistics.median(r), min(r), max(r), min(cpu) / min(x[0] for x in je), statistics.median([x[1] for x in v])))
PY
rm -f "$out"
