/* side_read.c: preloaded before jemalloc, a free() that reads one byte of a
 * 2^MAPLG-byte side map at the freed pointer's 16-byte granule and branches on
 * it, then calls jemalloc's free (attribution.sh: wrap with MAPLG=12, a map
 * that stays in L1; byte2M with MAPLG=21). -DRMW also writes the byte back. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
static void (*real_free)(void *);
static unsigned char *map;
#define MAPSZ (1u << MAPLG)
__attribute__((constructor)) static void init(void)
{
	real_free = dlsym(RTLD_NEXT, "free");
	map = mmap(0, MAPSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(map, 1, MAPSZ);
}
void free(void *p)
{
	if (map) {
		uintptr_t i = ((uintptr_t)p >> 4) & (MAPSZ - 1);
		unsigned char v = map[i];
		if (__builtin_expect(v == 0x55, 0))
			__builtin_trap();
#ifdef RMW
		map[i] = v | 2;
#endif
	}
	real_free(p);
}
