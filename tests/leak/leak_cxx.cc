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
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

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
	} else {
		fprintf(stderr, "usage: leak_cxx classes|clean N|leak N\n");
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
