/* side_bit.c: preloaded before jemalloc, a free() that tests one bit of a
 * 256 KiB bitmap at the freed pointer's 16-byte granule (bit256K), or with
 * -DLOCKED clears and sets it with atomic read-modify-writes (bitlock: what a
 * dense map shared by threads would need at free and at malloc). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
static void (*real_free)(void *);
static uint64_t *map;
#define NBITS (1u << 21)
__attribute__((constructor)) static void init(void)
{
	real_free = dlsym(RTLD_NEXT, "free");
	map = mmap(0, NBITS / 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(map, 0xff, NBITS / 8);
}
void free(void *p)
{
	if (map) {
		uintptr_t i = ((uintptr_t)p >> 4) & (NBITS - 1);
#ifdef LOCKED
		/* clear the bit atomically and branch on its old value; set it back so it stays 1 */
		uint64_t m = (uint64_t)1 << (i & 63);
		uint64_t old = __atomic_fetch_and(&map[i >> 6], ~m, __ATOMIC_RELAXED);
		if (__builtin_expect(!(old & m), 0))
			__builtin_trap();
		__atomic_fetch_or(&map[i >> 6], m, __ATOMIC_RELAXED);
#else
		uint64_t v = map[i >> 6];
		if (__builtin_expect(!((v >> (i & 63)) & 1), 0))
			__builtin_trap();
#endif
	}
	real_free(p);
}
