#!/bin/bash
# attribution.sh ROUNDS [hog]: where glassheap's CPU over jemalloc goes on
# fp_mixed1. Interleaved rounds of: jemalloc; jemalloc behind a free()
# wrapper that does nothing (wrap), that reads one byte of a 2 MiB side map
# at the freed pointer's granule and branches on it (byte2M, what glassheap's
# free does with its start map), that reads one bit of a 256 KiB bitmap
# (bit256K, a denser map), that clears and sets that bit with atomic RMWs
# (bitlock, what a shared dense map would need); glassheap. Prints the median
# replacement-phase time (the workload's seconds=) and process CPU, and the
# medians of the per-round ratios to jemalloc. With "hog", a bounded
# streaming loop (hog.c, 256 MiB) runs on the other vCPU throughout.
set -e
R=${1:-12}; HOG=$2
D=$(cd "$(dirname "$0")" && pwd)
B=$D/../../../../build/bench/gh-bench-alloc
GH=$D/../../../../build/libglassheap.so
JE=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
T=$(mktemp -d)
gcc -O2 -fPIC -shared -DMAPLG=12 -o "$T/wrap.so" "$D/side_read.c" -ldl
gcc -O2 -fPIC -shared -DMAPLG=21 -o "$T/byte2M.so" "$D/side_read.c" -ldl
gcc -O2 -fPIC -shared -o "$T/bit256K.so" "$D/side_bit.c" -ldl
gcc -O2 -fPIC -shared -DLOCKED -o "$T/bitlock.so" "$D/side_bit.c" -ldl
gcc -O2 -o "$T/hog" "$D/hog.c"
if [ "$HOG" = hog ]; then
	"$T/hog" $((R * 12 + 30)) 256 > "$T/hog.out" &
	HOGPID=$!
	sleep 1
fi
for i in $(seq "$R"); do
	for c in je:$JE wrap:$T/wrap.so:$JE byte2M:$T/byte2M.so:$JE bit256K:$T/bit256K.so:$JE \
		 bitlock:$T/bitlock.so:$JE glassheap:$GH; do
		lab=${c%%:*}; so=${c#*:}
		s=$( { /usr/bin/time -f "T %U %S %M" env LD_PRELOAD="$so" "$B" fp_mixed1 > "$T/o"; } 2>&1 | grep '^T')
		echo "$lab $(grep -o 'seconds=[0-9.]*' "$T/o" | cut -d= -f2) $s" >> "$T/runs"
	done
done
[ -n "$HOGPID" ] && kill "$HOGPID" 2>/dev/null || true
cat "$T/runs"
/usr/bin/python3 - "$T/runs" <<'PY'
import sys, statistics, collections
d = collections.defaultdict(list)
for l in open(sys.argv[1]):
    f = l.split()
    d[f[0]].append((float(f[1]), float(f[3]) + float(f[4]), int(f[5])))
je = d["je"]
print("%-10s %22s %22s %s" % ("config", "inner s (x je/round)", "cpu s (x je/round)", "peak RSS"))
for k in d:
    v = d[k]
    ri = statistics.median(a[0] / b[0] for a, b in zip(v, je))
    rc = statistics.median(a[1] / b[1] for a, b in zip(v, je))
    print("%-10s %9.3f (%.3fx)      %9.3f (%.3fx)      %.1f MiB" % (k, statistics.median(x[0] for x in v), ri,
          statistics.median(x[1] for x in v), rc, statistics.median(x[2] for x in v) / 1024))
PY
rm -rf "$T"
