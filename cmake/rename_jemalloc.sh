#!/bin/sh
# Extracts Debian's libjemalloc_pic.a into OUTDIR with every global name renamed
# (public malloc/free/mallctl... -> ghje_*, internal je_* -> ghje_je_*) and the
# C++ operator object dropped, so that the copy linked into libglassheap cannot
# collide with any other allocator in the process. Prints nothing on success.
set -eu
archive=$1
outdir=$2
tmp="$outdir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
cd "$tmp"
ar x "$archive"
rm -f jemalloc_cpp.pic.o
nm -g *.pic.o | awk 'NF>=2 {print $NF}' | sort -u |
  grep -E '^(je_|malloc$|free$|calloc$|realloc$|aligned_alloc$|posix_memalign$|memalign$|valloc$|malloc_usable_size$|mallocx$|rallocx$|xallocx$|sallocx$|dallocx$|sdallocx$|nallocx$|mallctl$|mallctlnametomib$|mallctlbymib$|malloc_stats_print$|malloc_conf$|malloc_conf_2_conf_harder$|malloc_message$)' |
  awk '{print $1 " ghje_" $1}' > rename.map
for o in *.pic.o; do
  objcopy --redefine-syms=rename.map "$o"
done
# Our private copy must not read the host's jemalloc configuration: rename the
# environment variable and the /etc symlink it consults (same-length strings).
perl -0777 -pi -e 's/\0MALLOC_CONF\0/\0GHJE_CONF__\0/g; s/\0\/etc\/malloc\.conf\0/\0\/nonexistent\/ghj\0/g' jemalloc.pic.o
grep -q GHJE_CONF__ jemalloc.pic.o
# Same-length replacements keep the object intact; check that it still parses.
nm jemalloc.pic.o > /dev/null
ls *.pic.o > objects.txt
cd ..
rm -rf "$outdir"
mv "$tmp" "$outdir"
