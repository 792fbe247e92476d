// sites_workload.cc -- allocations through wrappers (libc, libstdc++, the
// std:: templates, a wrapper of the program's own), run under LD_PRELOAD by
// sites_blame.py: each "// SITE:<name> <count>" line must be the site of
// exactly <count> live objects in /debug/memory/sites (and in tracemalloc's
// top by line), however many wrapper frames lie between it and malloc.
//
// Commands on stdin: "go" allocates (replies "done", or "done noglib" when
// GLib is not installed: then its line allocates nothing), "quit" exits.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#define ESCAPE(p) __asm__ volatile("" ::"r"(p) : "memory")

// A wrapper of the program's own, named in GLASSHEAP_WRAPPERS by the test.
extern "C" __attribute__((noinline)) void *sites_xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		abort();
	ESCAPE(p);
	return p;
}

static char *dups[1000];
static char *ndups[900];
static char *fmts[500];
static char *lines[400];
static char *paths[300];
static void *mine[250];
static void *plain[150];
static std::string strs[700];
static std::vector<int> reserved[600];
static std::vector<long> pushed[200];
static char *glib[120];

// GLib's g_strdup (g_malloc inside libglib), when libglib-2.0.so.0 is installed.
typedef char *(*g_strdup_fn)(const char *);
static g_strdup_fn g_strdup_ptr;

static void allocate()
{
	FILE *f = fmemopen((void *)"one line of text\n", 17, "r");
	if (!f)
		abort();
	for (int i = 0; i < 1000; i++)
		dups[i] = strdup("hello world, a string"); // SITE:strdup 1000
	for (int i = 0; i < 900; i++)
		ndups[i] = strndup("hello world, another string", 10); // SITE:strndup 900
	for (int i = 0; i < 500; i++)
		if (asprintf(&fmts[i], "item %05d", i) < 0) // SITE:asprintf 500
			abort();
	for (int i = 0; i < 400; i++) {
		size_t cap = 0;
		rewind(f);
		if (getline(&lines[i], &cap, f) < 0) // SITE:getline 400
			abort();
	}
	for (int i = 0; i < 300; i++)
		paths[i] = realpath("/", nullptr); // SITE:realpath 300
	for (int i = 0; i < 250; i++)
		mine[i] = sites_xmalloc(48); // SITE:xmalloc 250
	for (int i = 0; i < 150; i++)
		plain[i] = malloc(24); // SITE:malloc 150
	for (int i = 0; i < 700; i++)
		strs[i].assign(60, 'x'); // SITE:string 700
	for (int i = 0; i < 600; i++)
		reserved[i].reserve(100); // SITE:reserve 600
	for (int i = 0; i < 200; i++)
		pushed[i].push_back(i); // SITE:push_back 200
	for (int i = 0; g_strdup_ptr && i < 120; i++)
		glib[i] = g_strdup_ptr("a GLib string"); // SITE:g_strdup 120
	fclose(f);
	for (int i = 0; i < 1000; i++)
		ESCAPE(dups[i]);
	for (int i = 0; i < 900; i++)
		ESCAPE(ndups[i]);
	for (int i = 0; i < 500; i++)
		ESCAPE(fmts[i]);
	for (int i = 0; i < 400; i++)
		ESCAPE(lines[i]);
	for (int i = 0; i < 300; i++)
		ESCAPE(paths[i]);
	for (int i = 0; i < 250; i++)
		ESCAPE(mine[i]);
	for (int i = 0; i < 150; i++)
		ESCAPE(plain[i]);
	for (int i = 0; i < 120; i++)
		ESCAPE(glib[i]);
}

int main()
{
	// dlopen'ed before the first "go": its own start-up allocations are done
	void *h = dlopen("libglib-2.0.so.0", RTLD_NOW);
	if (h)
		g_strdup_ptr = (g_strdup_fn)dlsym(h, "g_strdup");
	std::string cmd;
	while (std::getline(std::cin, cmd)) {
		if (cmd == "go") {
			allocate();
			std::cout << (g_strdup_ptr ? "done" : "done noglib") << std::endl;
		} else if (cmd == "quit") {
			break;
		}
	}
	return 0;
}
