#!/bin/sh
# Builds glassheap with GLASSHEAP_DEBUG=2 (gh_assert at the invariants, the
# heap validator at the end of every reachability pass) in BUILD-DIR and runs
# its unit, integration and stress suites. ctest runs it as `debug_suite`.
# Usage: scripts/debug_suite.sh SOURCE-DIR BUILD-DIR
set -eu
src=$1
out=$2
cmake -S "$src" -B "$out" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLASSHEAP_DEBUG=2 \
	-DGLASSHEAP_DEBUG_SUITE=OFF -DGLASSHEAP_BUILD_FUZZERS=OFF -DGLASSHEAP_SANITIZER_TESTS=OFF \
	-DGLASSHEAP_BUILD_BENCH=OFF >"$out.configure.log" 2>&1 || { cat "$out.configure.log"; exit 1; }
cmake --build "$out" -j"$(nproc)" >"$out.build.log" 2>&1 || { tail -50 "$out.build.log"; exit 1; }
ctest --test-dir "$out" -L 'unit|integration|stress' -LE 'sanitizer|bench' --output-on-failure -j2 --timeout 600
