#!/bin/bash
# mixed_ir.sh : Ir per fp_mixed1 replacement, 200k ops minus 0 ops, for base, main, jemalloc
r() { env "$@" 2>&1 | awk '/refs/{gsub(",","",$4); print $4}'; }
for cfg in base main je; do
  case $cfg in
    base) L=/tmp/base/build/libglassheap.so; B=/tmp/base/build/bench/gh-bench-alloc;;
    main) L=/work/main/build/libglassheap.so; B=/work/main/build/bench/gh-bench-alloc;;
    je) L=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2; B=/work/main/build/bench/gh-bench-alloc;;
  esac
  a=$(r LD_PRELOAD=$L valgrind --tool=callgrind --callgrind-out-file=/dev/null $B fp_mixed1 200000)
  b=$(r LD_PRELOAD=$L valgrind --tool=callgrind --callgrind-out-file=/dev/null $B fp_mixed1 0)
  echo "$cfg fp_mixed1 Ir per replacement: $(( (a-b)/2000 ))e-2"
done
