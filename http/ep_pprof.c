/*
 * ep_pprof.c -- GET /debug/pprof/heap: the live heap as a pprof heap
 * profile (google/pprof's profile.proto, gzipped), the format of Go's
 * net/http/pprof, read by `go tool pprof`, its web UI, and the tools built
 * on it; `?debug=1` answers the legacy text heap profile that gperftools'
 * pprof (Debian's google-pprof) reads.
 *
 *   sample types   alloc_objects/count  alloc_space/bytes
 *                  inuse_objects/count  inuse_space/bytes (the default)
 *   samples        one per (stack, type); label "type" = the type name
 *   stacks         tracing on: the traced stacks of the session (every frame,
 *                  every inlined call a Line of its Location); tracing off:
 *                  the allocation site of each live object (one frame)
 *   Mapping        every executable segment of every loaded object, with its
 *                  file offset and GNU build id, so pprof can re-symbolize
 *   Function/Line  names, files and lines from the in-process symbolizer
 *
 * Figures. inuse_* come from a walk of the live heap (gh__obj_walk),
 * split by the type each block has now. With tracing on they count the
 * session's traced blocks only, weighed as tracemalloc weighs them (so with
 * every allocation traced, inuse_space per function is exactly
 * tracemalloc's; when sampling, unbiased estimates already scaled, as Go's
 * runtime/pprof writes them, with the sampling distance as the profile's
 * period). alloc_* are the session's stack counters: every block recorded
 * since the session started, freed or not; they go with the type holding
 * most of the stack's live bytes, and a stack whose blocks are all freed
 * has a sample without a type label. With tracing off glassheap keeps no
 * per-site history: alloc_* then equal inuse_* (the profile's comments say
 * which mode it is).
 *
 * Data gathering is gather(); everything after it only encodes. Runs on the
 * server thread; its allocations (protobuf-c's and zlib's included) are
 * glassheap's own.
 */
#include "internal.h"

#include "../alloc/introspect.h"
#include "../alloc/trace.h"
#include "../alloc/u64map.h"
#include "export.h"
#include "profile.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---- Data: what the profile says -------------------------------------------------- */

struct hp_sample {
	gh_type_t type;        /* GH_TYPE_NONE: unknown (every block freed) */
	const uintptr_t *frames; /* return addresses, innermost first (NULL: site) */
	unsigned nframes;
	uintptr_t site;        /* the one frame of a site sample */
	int64_t alloc_n, alloc_b, inuse_n, inuse_b;
};

struct heap_data {
	bool traced;
	size_t sample_bytes;   /* 0: every allocation */
	struct hp_sample *v;
	size_t n, cap;
	struct gh_trace_stack *stacks; /* trace mode: frames point into the trace pool */
	size_t nstacks;
	bool failed;
};

struct walk {
	struct heap_data *d;
	struct gh_u64map idx;        /* (stack or site << 32 | type) + 1 -> sample index + 1 */
};

static struct hp_sample *sample_for(struct walk *w, uint32_t key, gh_type_t type)
{
	struct heap_data *d = w->d;
	bool fresh = false;
	uint64_t *slot = gh_u64map_slot(&w->idx, (((uint64_t)key << 32) | type) + 1, &fresh);
	if (!slot) {
		d->failed = true;
		return NULL;
	}
	if (!fresh)
		return &d->v[*slot - 1];
	if (!gh__grow((void **)&d->v, &d->cap, d->n, sizeof *d->v)) {
		d->failed = true;
		return NULL;
	}
	struct hp_sample *s = &d->v[d->n++];
	*slot = d->n;
	memset(s, 0, sizeof *s);
	s->type = type;
	s->site = key; /* the stack id or site id until gather() resolves it */
	return s;
}

static bool visit(const struct gh_obj *o, void *arg)
{
	struct walk *w = arg;
	gh_type_t type = o->type;
	if (type == GH_TYPE_INTERNAL)
		return true;
	size_t size = o->size;
	int64_t cu, b;
	uint32_t key;
	if (w->d->traced) {
		key = o->stack;
		if (!key || !gh__trace_block_weight(key, size, &cu, &b))
			return true;
	} else {
		key = o->site;
		cu = GH_TRACE_COUNT_ONE;
		b = (int64_t)size;
	}
	struct hp_sample *s = sample_for(w, key, type);
	if (!s)
		return false;
	s->inuse_n += cu; /* count units until gather() rounds */
	s->inuse_b += b;
	return true;
}

/* The profile's figures: a heap walk, and the session's stacks when tracing. */
static int gather(struct heap_data *d)
{
	memset(d, 0, sizeof *d);
	struct gh_trace_status ts;
	gh__trace_status(&ts);
	d->traced = ts.is_tracing;
	d->sample_bytes = ts.sample_bytes;
	if (d->traced) {
		int err = gh__trace_stacks(NULL, true, &d->stacks, &d->nstacks);
		if (err == ESRCH) /* stopped meanwhile: a site profile */
			d->traced = false;
		else if (err)
			return err;
	}
	struct walk w = {.d = d};
	gh__obj_walk(visit, &w);
	for (size_t i = 0; i < d->n; i++)
		d->v[i].inuse_n = gh__trace_whole(d->v[i].inuse_n);
	if (d->traced && !d->failed) {
		/* Each stack's frames go to all its samples; its history to the
		 * sample of its type with most live bytes (or a sample of its own
		 * when every block is freed). */
		struct gh_u64map sidx = {0}; /* stack id + 1 -> index in stacks + 1 */
		size_t *best = calloc(d->nstacks ? d->nstacks : 1, sizeof *best); /* sample index + 1 */
		if (!best)
			d->failed = true;
		for (size_t i = 0; i < d->nstacks && !d->failed; i++) {
			bool fresh;
			uint64_t *slot = gh_u64map_slot(&sidx, (uint64_t)d->stacks[i].id + 1, &fresh);
			if (!slot)
				d->failed = true;
			else
				*slot = i + 1;
		}
		size_t nwalked = d->n;
		for (size_t j = 0; j < nwalked && !d->failed; j++) {
			bool fresh;
			uint64_t *slot = gh_u64map_slot(&sidx, (uint64_t)d->v[j].site + 1, &fresh);
			if (!slot) {
				d->failed = true;
				break;
			}
			if (fresh) /* interned during the walk, after gh__trace_stacks: left out */
				continue;
			size_t i = *slot - 1;
			d->v[j].frames = d->stacks[i].frames;
			d->v[j].nframes = d->stacks[i].nframes;
			if (!best[i] || d->v[j].inuse_b > d->v[best[i] - 1].inuse_b)
				best[i] = j + 1;
		}
		for (size_t i = 0; i < d->nstacks && !d->failed; i++) {
			const struct gh_trace_stack *st = &d->stacks[i];
			struct hp_sample *s = best[i] ? &d->v[best[i] - 1] : sample_for(&w, st->id, GH_TYPE_NONE);
			if (!s)
				break;
			s->alloc_n = st->alloc_count;
			s->alloc_b = st->alloc_bytes;
			s->frames = st->frames;
			s->nframes = st->nframes;
		}
		free(best);
		gh_u64map_free(&sidx);
		size_t k = 0;
		for (size_t j = 0; j < d->n; j++)
			if (d->v[j].frames)
				d->v[k++] = d->v[j];
		d->n = k;
	} else if (!d->failed) {
		for (size_t j = 0; j < d->n; j++) {
			d->v[j].site = gh__site_address((uint32_t)d->v[j].site);
			d->v[j].alloc_n = d->v[j].inuse_n;
			d->v[j].alloc_b = d->v[j].inuse_b;
			d->v[j].nframes = d->v[j].site ? 1 : 0;
		}
	}
	gh_u64map_free(&w.idx);
	return d->failed ? ENOMEM : 0;
}

static void heap_data_free(struct heap_data *d)
{
	free(d->v);
	free(d->stacks);
}

static const uintptr_t *sample_frames(const struct hp_sample *s)
{
	return s->frames ? s->frames : &s->site;
}

/* ---- The protobuf ------------------------------------------------------------------- */

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Line Line;
typedef Perftools__Profiles__Function Function;
typedef Perftools__Profiles__Mapping Mapping;
typedef Perftools__Profiles__Label Label;
typedef Perftools__Profiles__ValueType ValueType;

struct builder {
	bool failed;
	/* string table: strings owned (strdup), index by content */
	char **strs;
	size_t nstrs, capstrs;
	struct gh_u64map str_idx;   /* hash -> first index + 1 (collisions: chained by probing below) */
	struct gh_u64map loc_idx;   /* address + 1 -> location index + 1 */
	struct gh_u64map fn_idx;    /* (name << 32 | file) + 1 -> function index + 1 */
	Location *locs;
	Location **loc_ptrs;
	size_t nlocs, caplocs;
	Line *lines;          /* every Location's lines, one block per location (owned by locs) */
	Function *fns;
	Function **fn_ptrs;
	size_t nfns, capfns;
	struct gh_module_seg *mods;
	size_t nmods;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = UINT64_C(1469598103934665603);
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
	return h;
}

/* The string table index of s, added if new. Strings collide in the
 * hash map only by hash: equal hashes are told apart by probing the
 * rehashed key (a collision of 64-bit hashes is tolerated by a linear
 * search of the strings with that hash). */
static int64_t str_id(struct builder *b, const char *s)
{
	if (b->failed)
		return 0;
	if (!s || !*s)
		return 0;
	for (uint64_t salt = 0;; salt++) {
		bool fresh;
		uint64_t *slot = gh_u64map_slot(&b->str_idx, (hash_str(s) ^ gh_u64map_mix(salt + 1)) | 1, &fresh);
		if (!slot) {
			b->failed = true;
			return 0;
		}
		if (!fresh) {
			if (strcmp(b->strs[*slot - 1], s) == 0)
				return (int64_t)(*slot - 1);
			continue; /* another string with this hash: next salt */
		}
		if (!gh__grow((void **)&b->strs, &b->capstrs, b->nstrs, sizeof *b->strs) || !(b->strs[b->nstrs] = strdup(s))) {
			b->failed = true;
			return 0;
		}
		*slot = ++b->nstrs;
		return (int64_t)(b->nstrs - 1);
	}
}

/* The entry of key in idx, an index of the table *arr (*n entries of elem
 * bytes, room for *cap): *id is its id (index + 1). Returns the new entry,
 * for the caller to fill, when key is new; NULL when it was there already
 * or the builder failed (then *id = 0). */
static void *intern(struct builder *b, struct gh_u64map *idx, uint64_t key, void **arr, size_t *cap, size_t *n,
		    size_t elem, uint64_t *id)
{
	bool fresh;
	uint64_t *slot = b->failed ? NULL : gh_u64map_slot(idx, key, &fresh);
	*id = 0;
	if (!slot || (fresh && !gh__grow(arr, cap, *n, elem))) {
		b->failed = true;
		return NULL;
	}
	if (!fresh) {
		*id = *slot;
		return NULL;
	}
	*id = *slot = ++*n;
	return (char *)*arr + (*n - 1) * elem;
}

static uint64_t mapping_of(const struct builder *b, uintptr_t addr)
{
	for (size_t i = 0; i < b->nmods; i++)
		if (addr >= b->mods[i].start && addr < b->mods[i].limit)
			return i + 1;
	return 0;
}

static uint64_t function_id(struct builder *b, const struct gh_trace_frame *f, char *tmp, size_t tmp_len)
{
	const char *name = f->function;
	const char *file = f->lineno ? f->filename : f->module;
	if (!name || !*name) {
		snprintf(tmp, tmp_len, "%s+0x%lx", gh__export_basename(f->module && *f->module ? f->module : "?"),
			 (unsigned long)f->offset);
		name = tmp;
	}
	int64_t ni = str_id(b, name), fi = str_id(b, file);
	uint64_t id;
	Function *fn = intern(b, &b->fn_idx, (((uint64_t)ni << 32) | (uint64_t)fi) + 1, (void **)&b->fns, &b->capfns,
			      &b->nfns, sizeof *b->fns, &id);
	if (!fn)
		return id;
	perftools__profiles__function__init(fn);
	fn->id = id;
	fn->name = fn->system_name = ni;
	fn->filename = fi;
	return id;
}

/* The location id of a return address, symbolized on first use. */
static uint64_t location_id(struct builder *b, uintptr_t ra)
{
	uint64_t id;
	Location *l = intern(b, &b->loc_idx, (uint64_t)ra + 1, (void **)&b->locs, &b->caplocs, &b->nlocs,
			     sizeof *b->locs, &id);
	if (!l)
		return id;
	perftools__profiles__location__init(l);
	l->id = id;
	/* The call instruction, as the symbolizer looks it up and as pprof
	 * expects of a caller's address. */
	l->address = ra ? ra - 1 : 0;
	l->mapping_id = mapping_of(b, l->address);
	const struct gh_trace_frame *f = NULL;
	size_t k = gh__sym_frames(ra, &f);
	Line *lines = calloc(k ? k : 1, sizeof *lines);
	Line **lp = calloc(k ? k : 1, sizeof *lp);
	if (!lines || !lp) {
		free(lines);
		free(lp);
		b->failed = true;
		return l->id;
	}
	char tmp[600];
	for (size_t i = 0; i < k; i++) { /* inlined callees first, the caller last */
		perftools__profiles__line__init(&lines[i]);
		lines[i].function_id = function_id(b, &f[i], tmp, sizeof tmp);
		lines[i].line = f[i].lineno;
		lp[i] = &lines[i];
	}
	l->n_line = k;
	l->line = lp;
	return l->id;
}

static void builder_free(struct builder *b)
{
	for (size_t i = 0; i < b->nstrs; i++)
		free(b->strs[i]);
	free(b->strs);
	for (size_t i = 0; i < b->nlocs; i++) {
		if (b->locs[i].n_line)
			free(b->locs[i].line[0]);
		free(b->locs[i].line);
	}
	free(b->locs);
	free(b->loc_ptrs);
	free(b->fns);
	free(b->fn_ptrs);
	free(b->mods);
	gh_u64map_free(&b->str_idx);
	gh_u64map_free(&b->loc_idx);
	gh_u64map_free(&b->fn_idx);
}

static const char *const value_names[4][2] = {
	{"alloc_objects", "count"}, {"alloc_space", "bytes"}, {"inuse_objects", "count"}, {"inuse_space", "bytes"}};

/* The packed (not yet gzipped) profile of d into *out (malloc'd). */
static int encode(const struct heap_data *d, uint8_t **out, size_t *out_len)
{
	struct builder b = {0};
	Profile p;
	perftools__profiles__profile__init(&p);
	b.strs = calloc(64, sizeof *b.strs);
	b.capstrs = 64;
	if (!b.strs || !(b.strs[0] = strdup(""))) {
		free(b.strs);
		return ENOMEM;
	}
	b.nstrs = 1;
	b.nmods = gh__export_modules(&b.mods);

	ValueType vt[4], *vtp[4], period_type;
	for (int i = 0; i < 4; i++) {
		perftools__profiles__value_type__init(&vt[i]);
		vt[i].type = str_id(&b, value_names[i][0]);
		vt[i].unit = str_id(&b, value_names[i][1]);
		vtp[i] = &vt[i];
	}
	p.n_sample_type = 4;
	p.sample_type = vtp;
	perftools__profiles__value_type__init(&period_type);
	period_type.type = str_id(&b, "space");
	period_type.unit = str_id(&b, "bytes");
	p.period_type = &period_type;
	p.period = d->traced && d->sample_bytes ? (int64_t)d->sample_bytes : 1;
	p.default_sample_type = str_id(&b, "inuse_space");
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	p.time_nanos = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;

	char comment[256];
	if (d->traced)
		snprintf(comment, sizeof comment,
			 "glassheap: traced stacks of the tracing session (%s); blocks allocated before it "
			 "started are not included",
			 d->sample_bytes ? "sampled, figures are estimates" : "every allocation");
	else
		snprintf(comment, sizeof comment,
			 "glassheap: allocation sites of every live block (tracing is off: one frame per "
			 "stack; alloc_ figures equal inuse_)");
	int64_t comment_id = str_id(&b, comment);
	p.n_comment = 1;
	p.comment = &comment_id;

	int64_t type_key = str_id(&b, "type");
	Sample *samples = calloc(d->n ? d->n : 1, sizeof *samples);
	Sample **sp = calloc(d->n ? d->n : 1, sizeof *sp);
	Label *labels = calloc(d->n ? d->n : 1, sizeof *labels);
	Label **lp = calloc(d->n ? d->n : 1, sizeof *lp);
	int64_t *values = calloc(d->n ? d->n * 4 : 1, sizeof *values);
	size_t nloc_total = 0;
	for (size_t i = 0; i < d->n; i++)
		nloc_total += d->v[i].nframes;
	uint64_t *loc_ids = calloc(nloc_total ? nloc_total : 1, sizeof *loc_ids);
	if (!samples || !sp || !labels || !lp || !values || !loc_ids)
		b.failed = true;
	int q = gh__trace_quiet_begin();
	uint64_t *lid = loc_ids;
	for (size_t i = 0; i < d->n && !b.failed; i++) {
		const struct hp_sample *s = &d->v[i];
		Sample *o = &samples[i];
		perftools__profiles__sample__init(o);
		const uintptr_t *fr = sample_frames(s);
		o->location_id = lid;
		o->n_location_id = s->nframes;
		for (unsigned j = 0; j < s->nframes; j++)
			*lid++ = location_id(&b, fr[j]);
		int64_t *v = &values[i * 4];
		v[0] = s->alloc_n, v[1] = s->alloc_b, v[2] = s->inuse_n, v[3] = s->inuse_b;
		o->value = v;
		o->n_value = 4;
		const char *tn = s->type != GH_TYPE_NONE ? gh_type_name(s->type) : NULL;
		if (tn) {
			perftools__profiles__label__init(&labels[i]);
			labels[i].key = type_key;
			labels[i].str = str_id(&b, tn);
			lp[i] = &labels[i];
			o->label = &lp[i];
			o->n_label = 1;
		}
		sp[i] = o;
	}
	gh__trace_quiet_end(q);
	p.n_sample = d->n;
	p.sample = sp;

	Mapping *maps = calloc(b.nmods ? b.nmods : 1, sizeof *maps);
	Mapping **mp = calloc(b.nmods ? b.nmods : 1, sizeof *mp);
	if (!maps || !mp)
		b.failed = true;
	for (size_t i = 0; i < b.nmods && !b.failed; i++) {
		perftools__profiles__mapping__init(&maps[i]);
		maps[i].id = i + 1;
		maps[i].memory_start = b.mods[i].start;
		maps[i].memory_limit = b.mods[i].limit;
		maps[i].file_offset = b.mods[i].file_offset;
		maps[i].filename = str_id(&b, b.mods[i].path);
		maps[i].build_id = str_id(&b, b.mods[i].build_id);
		maps[i].has_functions = maps[i].has_filenames = maps[i].has_line_numbers = true;
		maps[i].has_inline_frames = true;
		mp[i] = &maps[i];
	}
	p.n_mapping = b.nmods;
	p.mapping = mp;

	b.loc_ptrs = malloc((b.nlocs ? b.nlocs : 1) * sizeof *b.loc_ptrs);
	b.fn_ptrs = malloc((b.nfns ? b.nfns : 1) * sizeof *b.fn_ptrs);
	if (!b.loc_ptrs || !b.fn_ptrs)
		b.failed = true;
	for (size_t i = 0; !b.failed && i < b.nlocs; i++)
		b.loc_ptrs[i] = &b.locs[i];
	for (size_t i = 0; !b.failed && i < b.nfns; i++)
		b.fn_ptrs[i] = &b.fns[i];
	p.n_location = b.nlocs;
	p.location = b.loc_ptrs;
	p.n_function = b.nfns;
	p.function = b.fn_ptrs;
	p.n_string_table = b.nstrs;
	p.string_table = b.strs;

	int err = 0;
	if (b.failed) {
		err = ENOMEM;
	} else {
		size_t len = perftools__profiles__profile__get_packed_size(&p);
		uint8_t *buf = malloc(len ? len : 1);
		if (!buf) {
			err = ENOMEM;
		} else {
			*out_len = perftools__profiles__profile__pack(&p, buf);
			*out = buf;
		}
	}
	free(samples);
	free(sp);
	free(labels);
	free(lp);
	free(values);
	free(loc_ids);
	free(maps);
	free(mp);
	builder_free(&b);
	return err;
}

/* gzip (RFC 1952) of in, as pprof reads profiles (Go's net/http/pprof
 * sends them so). */
static char *gzip_bytes(const uint8_t *in, size_t len, size_t *out_len)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	size_t cap = deflateBound(&zs, len) + 64;
	char *out = malloc(cap);
	if (!out) {
		deflateEnd(&zs);
		return NULL;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)cap;
	int rc = deflate(&zs, Z_FINISH);
	*out_len = zs.total_out;
	deflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	return out;
}

/* ---- The legacy text format (?debug=1) -------------------------------------------- */

/* gperftools' heap profile: "heap profile: inuse_n: inuse_b [alloc_n: alloc_b] @
 * heapprofile", one line per sample with its return addresses, then
 * MAPPED_LIBRARIES: and /proc/self/maps for pprof's symbolizer. Figures are
 * already scaled ("heapprofile": readers apply no sampling adjustment). The
 * first address is the call instruction; readers step the others back. */
static char *legacy_text(const struct heap_data *d, size_t *len)
{
	struct gh_buf b = {0};
	int64_t t[4] = {0};
	for (size_t i = 0; i < d->n; i++) {
		t[0] += d->v[i].inuse_n, t[1] += d->v[i].inuse_b;
		t[2] += d->v[i].alloc_n, t[3] += d->v[i].alloc_b;
	}
	gh__buf_printf(&b, "heap profile: %lld: %lld [%lld: %lld] @ heapprofile\n", (long long)t[0], (long long)t[1],
		       (long long)t[2], (long long)t[3]);
	for (size_t i = 0; i < d->n; i++) {
		const struct hp_sample *s = &d->v[i];
		if (!s->nframes)
			continue;
		gh__buf_printf(&b, "%lld: %lld [%lld: %lld] @", (long long)s->inuse_n, (long long)s->inuse_b,
			       (long long)s->alloc_n, (long long)s->alloc_b);
		const uintptr_t *fr = sample_frames(s);
		for (unsigned j = 0; j < s->nframes; j++)
			gh__buf_printf(&b, " 0x%lx", (unsigned long)(j == 0 ? fr[j] - 1 : fr[j]));
		gh__buf_puts(&b, "\n");
	}
	gh__buf_puts(&b, "\nMAPPED_LIBRARIES:\n");
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char chunk[8192];
		ssize_t n;
		while ((n = read(fd, chunk, sizeof chunk)) > 0)
			gh__buf_put(&b, chunk, (size_t)n);
		close(fd);
	}
	return gh__buf_take(&b, len);
}

/* ---- GET /debug/pprof/heap ------------------------------------------------------------ */

void gh__ep_pprof_heap(struct gh_http_call *call)
{
	int64_t debug = 0;
	gh__query_int(call->q, "debug", 0, 1, 0, &debug);
	if (gh__query_failed(call->q)) {
		gh__http_invalid(call);
		return;
	}
	struct heap_data d;
	int err = gather(&d);
	if (err) {
		heap_data_free(&d);
		gh__http_detail(call, 500, "out of memory");
		return;
	}
	if (debug) {
		size_t len;
		char *text = legacy_text(&d, &len);
		heap_data_free(&d);
		if (!text) {
			gh__http_detail(call, 500, "out of memory");
			return;
		}
		gh__http_raw(call, "text/plain; charset=utf-8", text, len, true);
		return;
	}
	uint8_t *pb = NULL;
	size_t pb_len = 0;
	err = encode(&d, &pb, &pb_len);
	heap_data_free(&d);
	size_t gz_len = 0;
	char *gz = err ? NULL : gzip_bytes(pb, pb_len, &gz_len);
	free(pb);
	if (!gz) {
		gh__http_detail(call, 500, "out of memory");
		return;
	}
	gh__http_raw(call, "application/octet-stream", gz, gz_len, true);
	gh__http_header(call, "content-disposition", "attachment; filename=\"heap.pb.gz\"");
}
