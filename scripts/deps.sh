#!/bin/sh
# Installs every Debian package glassheap needs to build, test and benchmark
# (fresh Debian 12, as root). Safe to run repeatedly.
set -eu
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  build-essential cmake pkg-config git ca-certificates curl perl python3 python3-msgpack \
  libjemalloc-dev libjemalloc2 libh2o-evloop-dev libssl-dev libmsgpack-dev libjansson-dev \
  libdw-dev libunwind-dev libcurl4-openssl-dev \
  libprotobuf-c-dev protobuf-c-compiler zlib1g-dev \
  golang-go google-perftools prometheus chromium chromium-driver python3-selenium \
  clang libclang-rt-14-dev valgrind \
  libtcmalloc-minimal4 libmimalloc2.0 wrk heaptrack libgoogle-perftools4 gnuplot-nox
