#!/bin/sh
# Extracts Debian's libjemalloc_pic.a into OUTDIR with every global name renamed
# (public malloc/free/mallctl... -> ghje_*, internal je_* -> ghje_je_*) and the
# C++ operator object dropped, so that the copy linked into libglassheap cannot
# collide with any other allocator in the process.
# jemalloc's heap profiling (linked, never enabled by glassheap) calls libm's
# log, exp and round: those calls go to alloc/gh_math.c's gh__m_*, because
# libglassheap.so does not link libm. A libm function it calls beyond those
# (a newer jemalloc) is an error here, not a silent dependency on libm.
# LIBM and LIBC: the shared libraries whose exports tell libm's functions
# (default: the C compiler's). Prints nothing on success.
set -eu
archive=$1
outdir=$2
libm=${3:-$(cc -print-file-name=libm.so.6)}
libc=${4:-$(cc -print-file-name=libc.so.6)}
for lib in "$libm" "$libc"; do
  [ -f "$lib" ] || { echo "rename_jemalloc.sh: $lib not found" >&2; exit 1; }
done
tmp="$outdir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
cd "$tmp"
ar x "$archive"
rm -f jemalloc_cpp.pic.o
nm -g *.pic.o | awk 'NF>=2 {print $NF}' | sort -u |
  grep -E '^(je_|malloc$|free$|calloc$|realloc$|aligned_alloc$|posix_memalign$|memalign$|valloc$|malloc_usable_size$|mallocx$|rallocx$|xallocx$|sallocx$|dallocx$|sdallocx$|nallocx$|mallctl$|mallctlnametomib$|mallctlbymib$|malloc_stats_print$|malloc_conf$|malloc_conf_2_conf_harder$|malloc_message$)' |
  awk '{print $1 " ghje_" $1}' > rename.map

# libm's functions: its exports less libc's (both export frexp, ldexp...).
exports() { nm -D --defined-only "$1" | awk 'NF==3 {sub(/@.*/, "", $3); print $3}' | sort -u; }
exports "$libm" > libm.syms
exports "$libc" > libc.syms
comm -23 libm.syms libc.syms > libm_only.syms
# the libm functions jemalloc calls (undefined in its objects)
libm_calls() { nm -u *.pic.o | awk 'NF==2 && $1=="U" {print $2}' | sort -u | comm -12 - libm_only.syms; }
printf '%s\n' 'exp gh__m_exp' 'log gh__m_log' 'round gh__m_round' > libm.map
missing=$(libm_calls | awk 'NR==FNR {have[$1]=1; next} !($1 in have)' libm.map -)
if [ -n "$missing" ]; then
  echo "rename_jemalloc.sh: jemalloc calls libm's" $missing "and alloc/gh_math.c has no" \
    "replacement (libglassheap.so must not need libm): add one there and to libm.map here" >&2
  exit 1
fi
cat libm.map >> rename.map
# jemalloc's own mappings are not the program's (alloc/mapped.c): its mmap
# and munmap calls go to the kernel without passing through the exported
# mmap that notes them.
printf '%s\n' 'mmap gh__sys_mmap' 'munmap gh__sys_munmap' >> rename.map

for o in *.pic.o; do
  objcopy --redefine-syms=rename.map "$o"
done
left=$(nm -u *.pic.o | awk 'NF==2 && $1=="U" && ($2=="mmap" || $2=="munmap" || $2=="mremap" || $2=="mmap64") {print $2}' | sort -u)
if [ -n "$left" ]; then
  echo "rename_jemalloc.sh: jemalloc still calls" $left "(add it to the mapping renames)" >&2
  exit 1
fi
# Nothing of libm's is left.
left=$(libm_calls)
if [ -n "$left" ]; then
  echo "rename_jemalloc.sh: jemalloc still calls libm's" $left >&2
  exit 1
fi
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
