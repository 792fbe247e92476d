/*
 * report.c -- the text report of per-type counters and the top allocation
 * sites: gh_report_write(path), and at exit when GLASSHEAP_REPORT=path is
 * set ("%p" in the path becomes the process id, so forked children and
 * exec'd programs each write their own file).
 *
 * The report never allocates from the heap it describes: its tables come
 * from mmap and are unmapped afterwards, and its output goes through a
 * small stack buffer to its own file descriptor (programs such as coreutils
 * close stdout/stderr before exit).
 *
 * Format (tab-separated, '#' lines are comments):
 *   # glassheap report pid=<pid> exe=<path>
 *   # types: live_count live_bytes total_allocs total_frees name
 *   type <live_count> <live_bytes> <total_allocs> <total_frees> <name>
 *   # sites: live_count live_bytes site
 *   site <live_count> <live_bytes> <module+0xoffset>
 */
#include "internal.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define TOP_SITES 20


static void *scratch(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* ---- Per-site aggregation over a heap walk ---------------------------------------- */

struct site_acc {
	uint32_t site; /* 0 = empty slot (site 0 is stored as UINT32_MAX) */
	uint64_t count;
	uint64_t bytes;
};

struct site_table {
	struct site_acc *slots;
	size_t mask;
	size_t used;
};

static bool visit_site(uintptr_t user, const struct gh_meta *m, void *arg)
{
	(void)user;
	struct site_table *t = arg;
	uint32_t site = gh__meta_site(m);
	uint32_t key = site ? site : UINT32_MAX;
	size_t i = (key * 2654435761u) & t->mask;
	while (t->slots[i].site && t->slots[i].site != key)
		i = (i + 1) & t->mask;
	if (!t->slots[i].site) {
		if (t->used * 2 >= t->mask)
			return true; /* full (sites appeared during the walk): skip */
		t->slots[i].site = key;
		t->used++;
	}
	t->slots[i].count++;
	t->slots[i].bytes += m->size;
	return true;
}

/* ---- Sorting without the heap ------------------------------------------------------- */

static void sort_types(gh_type_stats_t *a, size_t n)
{
	/* Shell sort, descending by live bytes then name: no allocation. */
	for (size_t gap = n / 2; gap > 0; gap /= 2)
		for (size_t i = gap; i < n; i++) {
			gh_type_stats_t v = a[i];
			size_t j = i;
			while (j >= gap && (a[j - gap].live_bytes < v.live_bytes ||
					    (a[j - gap].live_bytes == v.live_bytes && a[j - gap].type > v.type))) {
				a[j] = a[j - gap];
				j -= gap;
			}
			a[j] = v;
		}
}

static void write_sites(struct gh_out *o)
{
	size_t cap = 1024;
	while (cap < (size_t)gh__site_count() * 4 + 16)
		cap *= 2;
	struct site_table t = {.slots = scratch(cap * sizeof(struct site_acc)), .mask = cap - 1};
	if (!t.slots)
		return;
	gh__heap_enumerate(visit_site, &t);
	gh__out_printf(o, "# sites: live_count live_bytes site (top %d by live bytes)\n", TOP_SITES);
	for (int k = 0; k < TOP_SITES; k++) {
		struct site_acc *best = NULL;
		for (size_t i = 0; i < cap; i++)
			if (t.slots[i].site && t.slots[i].count && (!best || t.slots[i].bytes > best->bytes))
				best = &t.slots[i];
		if (!best)
			break;
		char where[512];
		uintptr_t ra = best->site == UINT32_MAX ? 0 : gh__site_address(best->site);
		if (ra)
			gh__site_describe(ra, where, sizeof where);
		else if (best->site == GH_SITE_OTHER)
			snprintf(where, sizeof where, "%s", GH_SITE_OTHER_NAME);
		else
			snprintf(where, sizeof where, "unknown");
		gh__out_printf(o, "site\t%llu\t%llu\t%s\n", (unsigned long long)best->count,
			   (unsigned long long)best->bytes, where);
		best->count = 0;
	}
	munmap(t.slots, cap * sizeof(struct site_acc));
}

static void expand_path(const char *path, char *buf, size_t len)
{
	size_t n = 0;
	for (const char *p = path; *p && n + 1 < len; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			int w = snprintf(buf + n, len - n, "%d", (int)getpid());
			n += w > 0 ? (size_t)w : 0;
			if (n >= len)
				n = len - 1;
			p++;
		} else {
			buf[n++] = *p;
		}
	}
	buf[n] = '\0';
}

int gh_report_write(const char *path)
{
	if (!path || !*path)
		return EINVAL;
	if (!gh__init())
		return ENOMEM;
	char file[4096];
	expand_path(path, file, sizeof file);
	struct gh_out *o = scratch(sizeof *o);
	if (!o)
		return ENOMEM;
	o->fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o->fd < 0) {
		int e = errno;
		munmap(o, sizeof *o);
		return e;
	}
	uint32_t n = gh_type_count();
	size_t bytes = ((size_t)n + 1) * sizeof(gh_type_stats_t);
	gh_type_stats_t *st = scratch(bytes);
	if (st) {
		size_t got = gh_stats_all(st, n);
		if (got > n)
			got = n;
		sort_types(st, got);
		char exe[1024];
		ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
		exe[el > 0 ? el : 0] = '\0';
		gh__out_printf(o, "# glassheap report pid=%d exe=%s\n", (int)getpid(), exe);
		gh__out_printf(o, "# types: live_count live_bytes total_allocs total_frees name\n");
		for (size_t i = 0; i < got; i++) {
			if (!st[i].total_allocs && !st[i].live_count)
				continue;
			gh__out_printf(o, "type\t%llu\t%llu\t%llu\t%llu\t%s\n", (unsigned long long)st[i].live_count,
				   (unsigned long long)st[i].live_bytes, (unsigned long long)st[i].total_allocs,
				   (unsigned long long)st[i].total_frees, st[i].name);
		}
		munmap(st, bytes);
	}
	write_sites(o);
	gh__out_flush(o);
	int rc = o->failed ? EIO : 0;
	if (close(o->fd) != 0 && rc == 0)
		rc = errno;
	munmap(o, sizeof *o);
	return rc;
}
