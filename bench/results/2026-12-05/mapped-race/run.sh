#!/bin/bash
# munmap and mremap call the kernel with the mapped record held (alloc/mapped.c,
# gh__mapped_munmap): the cost of the exported mmap/munmap, one thread and two
# at once (time per pair on each thread), next to jemalloc (libc's mmap).
# OLD=<an earlier build's libglassheap.so> adds its column (results.txt: 4d5fe50,
# which noted munmap and mremap after the call). Run from the repository root
# after a build:
#   OLD=... bash bench/results/2026-12-05/mapped-race/run.sh > bench/results/2026-12-05/mapped-race/results.txt
set -u
D=$(cd "$(dirname "$0")" && pwd)
LIB=$PWD/build/libglassheap.so
JE=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
OLD=${OLD:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "== $(git rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
echo "== the exported mmap/munmap: mmapbench (medians of 5 interleaved runs; peak RSS in KiB)"
gcc -O2 -pthread -o $T/mmapbench $D/../mapped-roots/mmapbench.c
[ -n "$OLD" ] && { mkdir -p $T/old; cp "$OLD" $T/old/libglassheap.so; OLD=$T/old/libglassheap.so; }
LIBS="$JE $LIB $OLD"
name() { case $1 in $JE) echo jemalloc;; $LIB) echo glassheap;; *) echo "glassheap before";; esac; }
key() { echo $1 | md5sum | cut -c1-8; }
for spec in "pairs 200000" "threads 100000" "keep 20000" "holes 20000"; do
  for lib in $LIBS; do : > $T/r.$(key $lib); : > $T/m.$(key $lib); done
  for r in 1 2 3 4 5; do
    for lib in $LIBS; do
      env LD_PRELOAD=$lib /usr/bin/time -f 'maxrss=%M' -o $T/time $T/mmapbench $spec | sed 's/.*per_op_us=//' >> $T/r.$(key $lib)
      sed 's/maxrss=//' $T/time >> $T/m.$(key $lib)
    done
  done
  med() { sort -n $1 | sed -n 3p; }
  line="$spec: per operation"
  for lib in $LIBS; do line="$line; $(name $lib) $(med $T/r.$(key $lib)) us (peak RSS $(med $T/m.$(key $lib)) KiB)"; done
  echo "$line"
done
