#!/bin/sh
# libglassheap.so does not depend on libm (alloc/gh_math.h): no libm.so in its
# NEEDED entries, and no undefined symbol that only libm defines (which a
# BIND_NOW program would fail to resolve). LIB: libglassheap.so.
set -eu
lib=$1
for tool in readelf nm cc; do
  command -v "$tool" > /dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "NEEDED: $(echo $needed)"
status=0
case " $(echo $needed) " in
  *" libm.so"*) echo "FAIL: $lib needs libm"; status=1 ;;
esac
libm=$(cc -print-file-name=libm.so.6)
libc=$(cc -print-file-name=libc.so.6)
if [ -f "$libm" ] && [ -f "$libc" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  exports() { nm -D --defined-only "$1" | awk 'NF==3 {sub(/@.*/, "", $3); print $3}' | sort -u; }
  exports "$libm" > "$tmp/m"
  exports "$libc" > "$tmp/c"
  nm -D --undefined-only "$lib" | awk '{sub(/@.*/, "", $NF); print $NF}' | sort -u > "$tmp/u"
  left=$(comm -23 "$tmp/m" "$tmp/c" | comm -12 - "$tmp/u")
  if [ -n "$left" ]; then
    echo "FAIL: $lib imports libm's" $left
    status=1
  fi
fi
[ $status -eq 0 ] && echo "ok: no libm"
exit $status
