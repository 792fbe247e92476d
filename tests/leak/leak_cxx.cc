// leak_cxx: C++ programs whose leak classes valgrind and glassheap must
// agree on (tests/leak/leak_test.py runs both side by side).
//
//   leak_cxx classes   every heuristic's shape kept alive by a global, and
//                      real leaks: definitely, indirectly, possibly lost
//   leak_cxx clean N   leak-free (globals and heap lists hold everything),
//                      exits with status N
//   leak_cxx leak N    leak_in_leaky_function() leaks N 48-byte blocks
//                      (definitely lost) and exits 0
//   leak_cxx serve     as classes, then prints "ready" and waits for stdin to
//                      close (the debug server's gc is asked meanwhile)
//   leak_cxx mapped    blocks whose only pointers sit in the program's own
//                      anonymous mappings (make_mapped): 4 x 1000 bytes in
//                      one, 3 x 2000 in one moved by mremap (both reachable),
//                      2 x 3000 in one unmapped and 5 x 4000 in a page made
//                      PROT_NONE (lost: 7 blocks, 26000 bytes)
//   leak_cxx dirty N   frees blocks full of 0xff of the size the exit-time
//                      report's writer takes, then leaks as "leak N"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sys/mman.h>

#define ESCAPE(p) asm volatile("" ::"r"(p) : "memory")
#define NOINLINE __attribute__((noinline))

extern "C" void leak_make_cow_strings(void);

struct Left {
	virtual ~Left() {}
	virtual long f() { return 1; }
	long l = 1;
};
struct Right {
	virtual ~Right() {}
	virtual long g() { return 2; }
	long r = 2;
};
struct Both : Left, Right {
	~Both() override {}
	long f() override { return 3; }
	long g() override { return 4; }
	long b = 3;
};

struct Counted { // non-trivial destructor: new[] stores the count first
	~Counted() { x = 0; }
	int x = 5;
};

struct Node {
	Node *next;
	char pad[24];
};

// Reachable through interior pointers that valgrind's heuristics accept
// (external linkage, so that the compiler keeps the stores).
Right *g_mi[4];       // multipleinheritance: the Right base, 16 bytes in
Counted *g_arrays[2]; // newarray: 8 bytes past the count cookie
char *g_len64;        // length64: 8 bytes past a length word
char *g_possible;     // possibly lost: 40 bytes into a plain block

NOINLINE static void make_reachable_via_heuristics()
{
	for (int i = 0; i < 4; i++) {
		g_mi[i] = new Both; // the pointer to the secondary base
		ESCAPE(g_mi[i]);
	}
	g_arrays[0] = new Counted[5];
	g_arrays[1] = new Counted[7];
	ESCAPE(g_arrays[0]);
	ESCAPE(g_arrays[1]);
	uint64_t *blk = static_cast<uint64_t *>(malloc(8 + 200));
	blk[0] = 200; // the length of what follows
	memset(blk + 1, 'L', 200);
	g_len64 = reinterpret_cast<char *>(blk + 1);
	ESCAPE(g_len64);
	leak_make_cow_strings();
}

NOINLINE static void make_possibly_lost()
{
	char *p = static_cast<char *>(calloc(1, 100));
	g_possible = p + 40;
	ESCAPE(g_possible);
}

NOINLINE static void make_definitely_lost()
{
	for (int i = 0; i < 3; i++) {
		void *p = malloc(64);
		ESCAPE(p);
		memset(p, 0, 64);
	}
	Left *l = new Both; // a leaked object with a vtable
	ESCAPE(l);
}

NOINLINE static void make_indirectly_lost()
{
	// a leaked list of 4 nodes: the head definitely, 3 indirectly lost
	Node *head = nullptr;
	for (int i = 0; i < 4; i++) {
		Node *n = new Node;
		memset(n->pad, 0, sizeof n->pad);
		n->next = head;
		head = n;
	}
	ESCAPE(head);
}

extern "C" NOINLINE void leak_in_leaky_function(int n)
{
	for (int i = 0; i < n; i++) {
		void *p = malloc(48);
		memset(p, 1, 48);
		ESCAPE(p);
	}
}

// Leak-free: everything stays reachable from globals or from heap lists.
Node *g_list;
void *g_keep[16];

NOINLINE static void make_clean()
{
	for (int i = 0; i < 100; i++) {
		Node *n = new Node;
		n->next = g_list;
		g_list = n;
	}
	for (int i = 0; i < 16; i++)
		g_keep[i] = malloc(32 + i);
	ESCAPE(g_list);
}

static void *volatile g_regions[3];

// Each block's only pointer is written into a region of its own mapping.
NOINLINE static void fill(void *region, size_t n, size_t size)
{
	for (size_t i = 0; i < n; i++) {
		void *b = malloc(size);
		ESCAPE(b);
		memset(b, 0, size);
		((void *volatile *)region)[i * 3 + 1] = b;
	}
}

NOINLINE static void *map(size_t len)
{
	void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

NOINLINE static void make_mapped()
{
	g_regions[0] = map(64 << 10); // kept
	fill(g_regions[0], 4, 1000);
	void *b = map(4096); // kept, after a move
	fill(b, 3, 2000);
	void *target = map(1 << 20); // moved over this one (MREMAP_FIXED replaces it)
	void *moved = mremap(b, 4096, 1 << 20, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	if (moved != target) {
		perror("mremap");
		exit(2);
	}
	g_regions[1] = moved;
	void *c = map(4096); // unmapped: its blocks are lost
	fill(c, 2, 3000);
	munmap(c, 4096);
	char *d = static_cast<char *>(map(8192)); // its second page unreadable
	fill(d + 4096, 5, 4000);
	if (mprotect(d + 4096, 4096, PROT_NONE) != 0) {
		perror("mprotect");
		exit(2);
	}
	g_regions[2] = d;
}

// Blocks of the exit-time report writer's size (8216 bytes: a descriptor,
// a count, a flag and 8 KiB of buffer), filled with 0xff and freed: the
// writer's malloc gets one of them back.
NOINLINE static void dirty_free()
{
	void *b[16];
	for (int i = 0; i < 16; i++) {
		b[i] = malloc(8216);
		ESCAPE(b[i]);
		memset(b[i], 0xff, 8216);
	}
	for (int i = 0; i < 16; i++)
		free(b[i]);
}

// Clears the dead stack below main: the words earlier calls left there
// would read as pointers to the blocks they allocated (to either tool).
NOINLINE static void clobber_stack()
{
	volatile uintptr_t buf[4096];
	for (size_t i = 0; i < sizeof buf / sizeof buf[0]; i++)
		buf[i] = 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "classes";
	int arg = argc > 2 ? atoi(argv[2]) : 0;
	if (strcmp(mode, "classes") == 0 || strcmp(mode, "serve") == 0) {
		make_reachable_via_heuristics();
		make_possibly_lost();
		make_definitely_lost();
		make_indirectly_lost();
	} else if (strcmp(mode, "clean") == 0) {
		make_clean();
		make_reachable_via_heuristics();
		clobber_stack();
		return arg;
	} else if (strcmp(mode, "leak") == 0) {
		leak_in_leaky_function(arg);
	} else if (strcmp(mode, "dirty") == 0) {
		leak_in_leaky_function(arg);
		dirty_free();
	} else if (strcmp(mode, "mapped") == 0) {
		make_mapped();
	} else {
		fprintf(stderr, "usage: leak_cxx classes|clean N|leak N|dirty N|mapped|serve\n");
		return 2;
	}
	clobber_stack();
	if (strcmp(mode, "serve") == 0) {
		printf("ready\n");
		fflush(stdout);
		while (getchar() != EOF) {
		}
	}
	return 0;
}
