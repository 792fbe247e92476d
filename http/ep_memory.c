/*
 * ep_memory.c -- the read-only endpoints of the GC family:
 *
 *   GET /debug/memory        per-type counters ranked by size or count, plus
 *                            glassheap's "allocator" reconciliation (header,
 *                            rounding, jemalloc, metadata, cage, RSS)
 *   GET /debug/memory/types  one type's counters and a few live objects
 *                            rendered as text ("samples")
 *
 * Figures come from the per-type counters (gh_stats_all): exact, and read in
 * time that grows with the number of types and threads, never with the
 * number of objects. Only the samples walk the heap (gh__obj_walk),
 * stopping as soon as enough are found.
 *
 * Runs on the server thread (see http/internal.h): allocations here count
 * under "glassheap".
 */
#include "internal.h"
#include "utf8.h"

#include "../alloc/introspect.h"
#include "../alloc/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * A sample renders an object that is live but not ours: its owner may be
 * writing it, or freeing it and allocating the block again, while the
 * formatter (host code) or the preview reads it. That is by design: what was
 * read is confirmed afterwards (gh__obj_still), and the cage stays mapped. So
 * ThreadSanitizer must not check the accesses of the formatter and the
 * preview (its ignore annotations, which cover callees; they also ignore the
 * formatter's writes into our buffer). The walk's own reads of the block
 * metadata are heap.c's (GH_RACY_READER there). Nothing else.
 */
#if defined(__SANITIZE_THREAD__)
#define GH_EP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GH_EP_TSAN 1
#endif
#endif
#ifdef GH_EP_TSAN
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#define RACY_ACCESSES_BEGIN() AnnotateIgnoreReadsBegin(__FILE__, __LINE__)
#define RACY_ACCESSES_END() AnnotateIgnoreReadsEnd(__FILE__, __LINE__)
#else
#define RACY_ACCESSES_BEGIN() ((void)0)
#define RACY_ACCESSES_END() ((void)0)
#endif

/* The longest sample text, NUL included; longer renderings end in "...". */
#define SAMPLE_MAX 512
/* Object bytes shown by GLASSHEAP_PREVIEW=1. */
#define PREVIEW_BYTES 16

static const char *const SORT_CHOICES[] = {"size", "count"};
enum { SORT_SIZE, SORT_COUNT };

/* ---- Counters ------------------------------------------------------------------ */

/* Every type's counters, in a malloc'd array; NULL when out of memory. Types
 * registered during the call beyond the room left are seen by the next one. */
gh_type_stats_t *gh__http_read_stats(size_t *n)
{
	size_t cap = (size_t)gh_type_count() + 64;
	gh_type_stats_t *st = malloc(cap * sizeof *st);
	if (!st)
		return NULL;
	size_t got = gh_stats_all(st, cap);
	*n = got < cap ? got : cap;
	return st;
}

/* Most bytes first, then most objects (sort_by=size), or the other way round
 * (sort_by=count); the type id settles ties, so the order is stable. */
static int by_rank(const void *pa, const void *pb, void *sort_by)
{
	const gh_type_stats_t *a = *(gh_type_stats_t *const *)pa, *b = *(gh_type_stats_t *const *)pb;
	bool size_first = *(const size_t *)sort_by == SORT_SIZE;
	uint64_t ka[2] = {a->live_bytes, a->live_count}, kb[2] = {b->live_bytes, b->live_count};
	for (int i = 0; i < 2; i++) {
		int k = size_first ? i : 1 - i;
		if (ka[k] != kb[k])
			return ka[k] > kb[k] ? -1 : 1;
	}
	return a->type < b->type ? -1 : a->type > b->type;
}

static uint64_t avg(uint64_t bytes, uint64_t count)
{
	return count ? bytes / count : 0;
}

/*
 * glassheap's only collection is a full reachability pass (POST
 * /debug/memory/gc and the core's gh__mark_run); it has no generations and
 * never collects by itself. In Python's terms a full pass is a collection of
 * the oldest generation, so the three-entry lists keep Python's shape (scripts
 * index [0..2]) and say what is true here:
 *   collections    [0, 0, passes that collected so far]
 *   thresholds     [0, 0, 0]: never triggered by allocation counts
 *   garbage_count  unreachable objects the last pass left allocated (leak
 *                  suspects), 0 before any pass
 */
void gh__http_emit_gc_stats(gh_emit_t *e)
{
	struct gh_gc_totals t = gh__mark_totals();
	gh__emit_map_begin(e, 3);
	gh__emit_key(e, "collections");
	gh__emit_array_begin(e, 3);
	gh__emit_uint(e, 0);
	gh__emit_uint(e, 0);
	gh__emit_uint(e, t.collections);
	gh__emit_array_end(e);
	gh__emit_key(e, "thresholds");
	gh__emit_array_begin(e, 3);
	for (int i = 0; i < 3; i++)
		gh__emit_uint(e, 0);
	gh__emit_array_end(e);
	gh__emit_kv_uint(e, "garbage_count", t.garbage_count);
	gh__emit_map_end(e);
}

/* ---- The allocator reconciliation ---------------------------------------------- */

/* Resident set size from /proc/self/statm (pages), 0 if unreadable. */
static uint64_t process_rss(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	unsigned long long size, resident;
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return 0;
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/*
 *  requested  +  self  +  headers  +  rounding  =  jemalloc "allocated"  <=  active  <=  resident
 *  (counters)  (glassheap's  (16 B each)  (size classes,                       (whole pages)
 *               own objects)               alignment, thread caches)
 */
/* glassheap's own live objects (the debug server, the symbolizer): never
 * in the program's figures, reported once as allocator.self. */
struct self_use {
	uint64_t objects, bytes;
};

/* "key": {"k1": v1, "k2": v2} */
static void two_figures(gh_emit_t *e, const char *key, const char *k1, uint64_t v1, const char *k2, uint64_t v2)
{
	gh__emit_key(e, key);
	gh__emit_map_begin(e, 2);
	gh__emit_kv_uint(e, k1, v1);
	gh__emit_kv_uint(e, k2, v2);
	gh__emit_map_end(e);
}

static void emit_allocator(gh_emit_t *e, uint64_t objects, uint64_t bytes, struct self_use self)
{
	struct gh_alloc_stats st;
	gh__alloc_stats(&st);
	uint64_t allocated = st.je_allocated;
	uint64_t headers = (objects + self.objects) * st.metadata_bytes_per_object + st.header_extra_bytes;
	uint64_t rss = process_rss();

	gh__emit_map_begin(e, 9);
	gh__emit_kv_uint(e, "requested_bytes", bytes);
	two_figures(e, "self", "objects", self.objects, "bytes", self.bytes);
	gh__emit_kv_uint(e, "header_bytes", headers);
	gh__emit_kv_int(e, "rounding_bytes", (int64_t)allocated - (int64_t)bytes - (int64_t)self.bytes - (int64_t)headers);
	gh__emit_key(e, "jemalloc");
	gh__emit_map_begin(e, 6);
	gh__emit_kv_uint(e, "allocated", allocated);
	gh__emit_kv_uint(e, "active", st.je_active);
	gh__emit_kv_uint(e, "metadata", st.je_metadata);
	gh__emit_kv_uint(e, "resident", st.je_resident);
	gh__emit_kv_uint(e, "mapped", st.je_mapped);
	gh__emit_kv_uint(e, "retained", st.je_retained);
	gh__emit_map_end(e);
	two_figures(e, "metadata", "mapped_bytes", st.meta_mapped, "used_bytes", st.meta_used);
	two_figures(e, "cage", "reserved_bytes", st.cage_reserved, "used_bytes", st.cage_used);
	gh__emit_kv_uint(e, "rss_bytes", rss);
	gh__emit_kv_mb(e, "rss_mb", rss);
	gh__emit_map_end(e);
}

/* ---- GET /debug/memory ------------------------------------------------------------- */

void gh__ep_memory(struct gh_http_call *call)
{
	int64_t top_n = 20;
	size_t sort_by = SORT_SIZE;
	gh__query_int(call->q, "top_n", 1, 100, 20, &top_n);
	gh__query_enum(call->q, "sort_by", SORT_CHOICES, 2, SORT_SIZE, &sort_by);
	if (!gh__http_params_valid(call))
		return;

	size_t n = 0;
	gh_type_stats_t *st = gh__http_read_stats(&n);
	gh_type_stats_t **live = st ? malloc((n ? n : 1) * sizeof *live) : NULL;
	if (!live) {
		free(st);
		gh__http_detail(call, 500, "out of memory");
		return;
	}
	uint64_t objects = 0, bytes = 0;
	struct self_use self = {0, 0};
	size_t nlive = 0;
	for (size_t i = 0; i < n; i++) {
		if (st[i].type == GH_TYPE_INTERNAL) { /* glassheap's own: allocator.self */
			self.objects = st[i].live_count;
			self.bytes = st[i].live_bytes;
			continue;
		}
		objects += st[i].live_count;
		bytes += st[i].live_bytes;
		if (st[i].live_count > 0)
			live[nlive++] = &st[i];
	}
	qsort_r(live, nlive, sizeof *live, by_rank, &sort_by);
	size_t shown = nlive < (size_t)top_n ? nlive : (size_t)top_n;

	gh_emit_t *e = call->e;
	gh__emit_map_begin(e, 5);
	gh__emit_key(e, "summary");
	gh__emit_map_begin(e, 4);
	gh__emit_kv_uint(e, "total_objects", objects);
	gh__emit_kv_uint(e, "total_size_bytes", bytes);
	gh__emit_kv_mb(e, "total_size_mb", bytes);
	gh__emit_kv_uint(e, "unique_types", nlive);
	gh__emit_map_end(e);

	gh__emit_key(e, "top_objects");
	gh__emit_array_begin(e, shown);
	for (size_t i = 0; i < shown; i++) {
		const gh_type_stats_t *t = live[i];
		gh__emit_map_begin(e, 5);
		gh__emit_kv_cstr(e, "type", t->name ? t->name : "");
		gh__emit_kv_uint(e, "count", t->live_count);
		gh__emit_kv_uint(e, "total_size_bytes", t->live_bytes);
		gh__emit_kv_uint(e, "avg_size_bytes", avg(t->live_bytes, t->live_count));
		gh__emit_kv_mb(e, "total_size_mb", t->live_bytes);
		gh__emit_map_end(e);
	}
	gh__emit_array_end(e);

	gh__emit_key(e, "gc_stats");
	gh__http_emit_gc_stats(e);
	gh__emit_kv_cstr(e, "sort_by", SORT_CHOICES[sort_by]);
	gh__emit_key(e, "allocator");
	emit_allocator(e, objects, bytes, self);
	gh__emit_map_end(e);

	free(live);
	free(st);
}

/* ---- GET /debug/memory/types ---------------------------------------------------------- */

gh_type_t gh__http_type_lookup(const char *name, size_t len)
{
	char exact[GH_TYPE_NAME_MAX + 1];
	if (len > 0 && len <= GH_TYPE_NAME_MAX && !memchr(name, '\0', len)) {
		memcpy(exact, name, len);
		exact[len] = '\0';
		gh_type_t t = gh_type_find(exact);
		if (t != GH_TYPE_NONE)
			return t;
	}
	/* Only a name holding U+FFFD can be the display form of another. */
	if (!memmem(name, len, GH_UTF8_REPLACEMENT, GH_UTF8_REPLACEMENT_LEN))
		return GH_TYPE_NONE;
	uint32_t n = gh_type_count();
	for (gh_type_t t = 1; t <= n; t++) {
		const char *reg = gh_type_name(t);
		if (reg && gh__utf8_sanitized_equal(reg, strlen(reg), name, len))
			return t;
	}
	return GH_TYPE_NONE;
}

struct sampler {
	gh_type_t type;
	const char *type_name;
	gh_format_fn format;
	size_t want, have;
	char (*text)[SAMPLE_MAX];
};

static void mark_truncated(char *buf)
{
	memcpy(buf + SAMPLE_MAX - 4, "...", 4);
}

void gh__http_site_text(uint32_t site, char *buf, size_t len)
{
	uintptr_t addr = gh__site_address(site);
	if (site == GH_SITE_OTHER) {
		snprintf(buf, len, "%s", GH_SITE_OTHER_NAME);
		return;
	}
	if (!addr) {
		snprintf(buf, len, "an unknown site");
		return;
	}
	const struct gh_trace_frame *f = NULL;
	int q = gh__trace_quiet_begin();
	size_t n = gh__sym_frames(addr, &f);
	gh__trace_quiet_end(q);
	if (n > 0 && f[0].lineno > 0)
		snprintf(buf, len, "%s (%s:%u)", f[0].function && f[0].function[0] ? f[0].function : "?", f[0].filename,
			 f[0].lineno);
	else if (n > 0 && f[0].function && f[0].function[0])
		snprintf(buf, len, "%s (%s+0x%lx)", f[0].function, f[0].module, (unsigned long)f[0].offset);
	else
		gh__site_describe(addr, buf, len);
}

/* "<type> at 0x... size N allocated at function (file:line)", or at
 * module+0xoff without debug information [+ " bytes: .."] */
static void render_default(const struct sampler *s, uintptr_t user, size_t size, uint32_t site, char *buf)
{
	char where[512] = "an unknown site";
	if (site)
		gh__http_site_text(site, where, sizeof where);
	int n = snprintf(buf, SAMPLE_MAX, "%s at 0x%lx size %zu allocated at %s", s->type_name,
			 (unsigned long)user, size, where);
	if (n < 0) {
		buf[0] = '\0';
		return;
	}
	if ((size_t)n >= SAMPLE_MAX) {
		mark_truncated(buf);
		return;
	}
	if (!gh__http_opt.preview)
		return;
	/* " bytes: xx xx ... ..." needs at most 8 + 3 * PREVIEW_BYTES + 4 more. */
	static const char hex[] = "0123456789abcdef";
	size_t k = (size_t)n;
	const unsigned char *p = (const unsigned char *)user;
	size_t show = size < PREVIEW_BYTES ? size : PREVIEW_BYTES;
	if (k + 8 + 3 * PREVIEW_BYTES + 4 >= SAMPLE_MAX)
		return;
	memcpy(buf + k, " bytes:", 7);
	k += 7;
	RACY_ACCESSES_BEGIN();
	for (size_t i = 0; i < show; i++) {
		buf[k++] = ' ';
		buf[k++] = hex[p[i] >> 4];
		buf[k++] = hex[p[i] & 15];
	}
	RACY_ACCESSES_END();
	if (size > show) {
		memcpy(buf + k, " ...", 4);
		k += 4;
	}
	buf[k] = '\0';
}

static bool visit_sample(const struct gh_obj *o, void *arg)
{
	struct sampler *s = arg;
	if (o->type != s->type)
		return true;
	uintptr_t user = o->addr;
	size_t size = o->size;
	uint32_t site = o->site;
	char *buf = s->text[s->have];
	bool done = false;
	if (s->format) {
		buf[0] = '\0';
		RACY_ACCESSES_BEGIN();
		int n = s->format((const void *)user, size, buf, SAMPLE_MAX);
		RACY_ACCESSES_END();
		buf[SAMPLE_MAX - 1] = '\0';
		if (n >= SAMPLE_MAX)
			mark_truncated(buf);
		done = n >= 0;
	}
	if (!done)
		render_default(s, user, size, site, buf);
	/* The object may have died while we read it: then the text is not its. */
	if (gh__obj_still(o))
		s->have++;
	return s->have < s->want;
}

void gh__ep_memory_types(struct gh_http_call *call)
{
	const char *name = NULL;
	size_t name_len = 0;
	int64_t samples = 10;
	gh__query_str(call->q, "type_name", 0, GH_QUERY_MAX_LEN, &name, &name_len);
	gh__query_int(call->q, "samples", 0, 100, 10, &samples);
	if (!gh__http_params_valid(call))
		return;

	gh_type_t type = gh__http_type_lookup(name, name_len);
	gh_type_stats_t st;
	memset(&st, 0, sizeof st);
	if (type != GH_TYPE_NONE && gh_type_stats(type, &st) != 0)
		type = GH_TYPE_NONE;

	struct sampler s = {.type = type, .want = (size_t)samples};
	if (type != GH_TYPE_NONE && s.want > 0 && st.live_count > 0) {
		s.text = malloc(s.want * sizeof *s.text);
		if (!s.text) {
			gh__http_detail(call, 500, "out of memory");
			return;
		}
		const gh_type_desc_t *d = gh__type_desc(type);
		s.format = d ? d->format : NULL;
		s.type_name = gh_type_name(type);
		gh__obj_walk(visit_sample, &s);
	}

	gh_emit_t *e = call->e;
	gh__emit_map_begin(e, 6);
	gh__emit_kv_str(e, "type", name, name_len);
	gh__emit_kv_uint(e, "count", st.live_count);
	gh__emit_kv_uint(e, "total_size_bytes", st.live_bytes);
	gh__emit_kv_mb(e, "total_size_mb", st.live_bytes);
	gh__emit_kv_uint(e, "avg_size_bytes", avg(st.live_bytes, st.live_count));
	gh__emit_key(e, "samples");
	gh__emit_array_begin(e, s.have);
	for (size_t i = 0; i < s.have; i++)
		gh__emit_cstr(e, s.text[i]);
	gh__emit_array_end(e);
	gh__emit_map_end(e);
	free(s.text);
}
