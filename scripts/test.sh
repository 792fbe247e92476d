#!/bin/sh
# Installs the dependencies, builds glassheap and runs the whole ctest suite.
# Usage: scripts/test.sh [build-dir]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
sh scripts/deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j2 --timeout 600
