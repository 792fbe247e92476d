#!/bin/sh
# Installs the dependencies, builds glassheap, and runs a real program
# (python3) under LD_PRELOAD with the at-exit report, then prints the report.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLASSHEAP_BUILD_TESTS=OFF -DGLASSHEAP_BUILD_BENCH=OFF
cmake --build build -j"$(nproc)" --target glassheap
LD_PRELOAD="$PWD/build/libglassheap.so" PYTHONMALLOC=malloc GLASSHEAP_REPORT=/tmp/glassheap-demo.txt \
  /usr/bin/python3 -c 'import json; d = [{"n": i, "s": str(i) * 3} for i in range(200000)]; print(len(json.dumps(d)), "bytes of JSON")'
cat /tmp/glassheap-demo.txt
