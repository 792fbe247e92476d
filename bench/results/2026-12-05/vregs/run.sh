#!/bin/bash
# Vector registers as roots (alloc/world.c vwords_from): what a pass with many
# threads costs now, next to an earlier build (OLD=<its libglassheap.so>;
# results.txt: 4d5fe50, which read general registers only), both ways of
# stopping. Run from the repository root after a build:
#   OLD=... bash bench/results/2026-12-05/vregs/run.sh > bench/results/2026-12-05/vregs/results.txt
set -u
D=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "== $(git rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
mkdir -p $T/new $T/old
cp -L build/libglassheap.so $T/new/libglassheap.so.0
[ -n "${OLD:-}" ] && cp -L "$OLD" $T/old/libglassheap.so.0
ln -s libglassheap.so.0 $T/new/libglassheap.so
gcc -O2 -pthread -Iinclude -o $T/threadpass $D/threadpass.c -L$T/new -lglassheap
for method in ptrace signal; do
  for t in 10 200 1000; do
    line="GLASSHEAP_STOP=$method, $t threads: median ms per gh_leak_check (41 calls, peak RSS KiB)"
    for v in new old; do
      [ -f $T/$v/libglassheap.so.0 ] || continue
      out=$(env LD_LIBRARY_PATH=$T/$v GLASSHEAP_STOP=$method /usr/bin/time -f 'rss=%M' $T/threadpass $t 41 2>&1)
      line="$line; $v $(echo "$out" | sed -n 's/.*median_ms=//p') ($(echo "$out" | sed -n 's/rss=//p'))"
    done
    echo "$line"
  done
done
