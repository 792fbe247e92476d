#!/bin/sh
# Installs glassheap from the build tree into a temporary prefix and builds
# programs against it with pkg-config and with find_package(glassheap).
set -eu
# 77: a tool this test drives is missing: SKIP (ctest's SKIP_RETURN_CODE), not a pass.
for tool in cc pkg-config cmake; do
  command -v "$tool" > /dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
build=$1
src=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
test -f "$tmp/prefix/include/glassheap.h"
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -n1)
test -f "$libdir/libglassheap.so"
test -f "$libdir/libglassheap.a"
# the on-demand half (alloc/ext.h), beside the core, where lazy.c looks for it
ls "$libdir"/libglassheap_ext.so.* > /dev/null
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -Wall -Werror -o "$tmp/consumer_pc" "$src/consumer.c" $(pkg-config --cflags --libs glassheap)
LD_LIBRARY_PATH="$libdir" "$tmp/consumer_pc"
cc -Wall -Werror -o "$tmp/consumer_static" "$src/consumer.c" $(pkg-config --cflags glassheap) \
  "$libdir/libglassheap.a" $(pkg-config --libs-only-other --static glassheap) -lpthread -ldl -lstdc++ -lgcc_s \
  $(pkg-config --static --libs glassheap | tr ' ' '\n' | grep -v -- '-lglassheap' | tr '\n' ' ')
"$tmp/consumer_static"
mkdir "$tmp/cm"
cp "$src/consumer.c" "$tmp/cm/"
cp "$src/CMakeLists.txt.in" "$tmp/cm/CMakeLists.txt"
cmake -S "$tmp/cm" -B "$tmp/cm/b" -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/cm.log"
cmake --build "$tmp/cm/b" > "$tmp/cmb.log"
LD_LIBRARY_PATH="$libdir" "$tmp/cm/b/consumer_cmake"
echo "install test ok"
