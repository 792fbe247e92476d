/*
 * leak.c -- leak checking for tests and CI, on top of the reachability pass
 * (mark.c): the heuristics' configuration, gh_leak_check, the exit-time
 * check (GLASSHEAP_LEAK_CHECK=exit), suppressions (GLASSHEAP_SUPPRESSIONS,
 * suppress.c), and the objects the program asks to leave out
 * (gh_ignore_object, gh_leak_disable/gh_leak_enable).
 *
 * The exit-time check is registered with atexit() from heap.c's constructor
 * (priority 101), before the program's own constructors run and register
 * their static destructors, and before main registers its atexit handlers:
 * handlers run in reverse order, so the check runs after all of those, as
 * LeakSanitizer's does (it registers from its own early initializer). What
 * runs later still (shared libraries' destructors from _dl_fini, stdio's
 * final flush) cannot free anything the check calls lost: lost objects are
 * unreachable from every library's globals too.
 *
 * The report goes to a descriptor duplicated from stderr at start-up
 * (programs such as coreutils close stderr before they exit). It is built
 * after the world has resumed, so it may allocate; glassheap's own objects
 * (type "glassheap") are never reported.
 */
#include "internal.h"
#include "suppress.h"
#include "trace.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>


/* ---- Heuristics and offsets ------------------------------------------------------------ */

static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static bool cfg_read;
static unsigned heur_on = (1u << GH_HEUR_STDSTRING) | (1u << GH_HEUR_LENGTH64) | (1u << GH_HEUR_NEWARRAY) |
			  (1u << GH_HEUR_MULTIPLE_INHERITANCE);
static uint32_t offsets[GH_LEAK_OFFSETS_MAX];
static size_t noffsets;

static int add_offset(size_t off)
{
	if (off == 0 || off > 4096)
		return EINVAL;
	for (size_t i = 0; i < noffsets; i++)
		if (offsets[i] == off)
			return 0;
	if (noffsets == GH_LEAK_OFFSETS_MAX)
		return ENOSPC;
	offsets[noffsets++] = (uint32_t)off;
	return 0;
}

/* GLASSHEAP_LEAK_HEURISTICS: valgrind's --leak-check-heuristics syntax
 * (all, none, or a comma-separated list of names). GLASSHEAP_LEAK_OFFSETS:
 * comma-separated byte offsets. Caller holds cfg_lock. */
static void read_config(void)
{
	if (cfg_read)
		return;
	cfg_read = true;
	const char *s = getenv("GLASSHEAP_LEAK_HEURISTICS");
	if (s) {
		if (strcmp(s, "all") == 0) {
			/* the default */
		} else if (strcmp(s, "none") == 0) {
			heur_on = 0;
		} else {
			unsigned on = 0;
			bool ok = true;
			for (const char *p = s; *p;) {
				size_t n = strcspn(p, ",");
				int k;
				for (k = GH_HEUR_STDSTRING; k <= GH_HEUR_MULTIPLE_INHERITANCE; k++)
					if (strlen(gh__heuristic_names[k]) == n && memcmp(p, gh__heuristic_names[k], n) == 0)
						break;
				if (k > GH_HEUR_MULTIPLE_INHERITANCE)
					ok = false;
				else
					on |= 1u << k;
				p += n + (p[n] == ',');
			}
			if (ok)
				heur_on = on;
			else
				gh__log("GLASSHEAP_LEAK_HEURISTICS=%s ignored: want all, none, or a list of stdstring, "
					"length64, newarray, multipleinheritance",
					s);
		}
	}
	s = getenv("GLASSHEAP_LEAK_OFFSETS");
	if (s && *s) {
		for (const char *p = s; *p;) {
			char *end;
			unsigned long v = strtoul(p, &end, 10);
			if (end == p || (*end && *end != ',') || add_offset(v) != 0) {
				gh__log("GLASSHEAP_LEAK_OFFSETS=%s: want comma-separated byte offsets 1..4096 (at most %d); "
					"stopped at \"%s\"",
					s, GH_LEAK_OFFSETS_MAX, p);
				break;
			}
			p = *end ? end + 1 : end;
		}
	}
}

size_t gh__leak_heuristics(unsigned *on, uint32_t out[GH_LEAK_OFFSETS_MAX])
{
	pthread_mutex_lock(&cfg_lock);
	read_config();
	*on = heur_on;
	size_t n = noffsets;
	memcpy(out, offsets, n * sizeof offsets[0]);
	pthread_mutex_unlock(&cfg_lock);
	return n;
}

int gh_leak_interior_offset(size_t offset)
{
	pthread_mutex_lock(&cfg_lock);
	read_config();
	int rc = add_offset(offset);
	pthread_mutex_unlock(&cfg_lock);
	return rc;
}

/* ---- Ignored objects ------------------------------------------------------------------ */

int gh_ignore_object(const void *p)
{
	return gh__heap_ignore((uintptr_t)p) ? 0 : EINVAL;
}

void gh_leak_disable(void)
{
	gh__tl.leak_off++;
	gh__tl_refresh();
}

void gh_leak_enable(void)
{
	if (gh__tl.leak_off > 0) /* unbalanced: ignored */
		gh__tl.leak_off--;
	gh__tl_refresh();
}

/* ---- Output ---------------------------------------------------------------------------- */


/* ---- Suppressions ---------------------------------------------------------------------- */

static struct gh_supp_list *load_suppressions(void)
{
	const char *path = getenv("GLASSHEAP_SUPPRESSIONS");
	if (!path || !*path)
		return NULL;
	struct gh_supp_list *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size > (64 << 20)) {
		gh__log("GLASSHEAP_SUPPRESSIONS=%s: cannot read it (%s); no suppressions", path,
			fd < 0 ? strerror(errno) : "too large");
		if (fd >= 0)
			close(fd);
		free(l);
		return NULL;
	}
	char *text = malloc((size_t)st.st_size + 1);
	size_t len = text ? gh__read_fd(fd, text, (size_t)st.st_size) : 0;
	close(fd);
	if (!text || gh__supp_parse(text, len, l) != 0) {
		free(text);
		free(l);
		return NULL;
	}
	free(text);
	if (l->bad_lines)
		gh__log("GLASSHEAP_SUPPRESSIONS=%s: %zu line(s) skipped, the first at line %zu (want leak:PATTERN)",
			path, l->bad_lines, l->first_bad);
	return l;
}

/* ---- The check ------------------------------------------------------------------------- */

enum { REC_DIRECT, REC_INDIRECT, REC_POSSIBLE };

struct rec {
	const struct gh_gc_site_row *row;
	int kind;  /* REC_* */
	int cls;   /* GH_*_LOST */
	uint64_t count, bytes;
	struct gh_supp *supp; /* the rule that suppressed it, or NULL */
};

/* The frames of a row: its trace stack's return addresses, or its site's. */
static size_t row_pcs(const struct gh_gc_site_row *row, uintptr_t *one, const uintptr_t **pcs)
{
	if (row->stack) {
		size_t n = gh__trace_stack_pcs(row->stack, pcs);
		if (n)
			return n;
	}
	*one = row->site ? gh__site_address(row->site) : 0;
	*pcs = one;
	return *one != 0;
}

static struct gh_supp *suppressed_by(struct gh_supp_list *l, const struct gh_gc_site_row *row)
{
	if (!l || l->n == 0)
		return NULL;
	uintptr_t one;
	const uintptr_t *pcs;
	size_t n = row_pcs(row, &one, &pcs);
	for (size_t i = 0; i < n; i++) {
		const struct gh_trace_frame *f;
		size_t nf = gh__sym_frames(pcs[i], &f);
		for (size_t j = 0; j < nf; j++)
			for (size_t k = 0; k < l->n; k++) {
				const char *pat = l->v[k].pattern;
				if (gh__supp_match(pat, f[j].function) || gh__supp_match(pat, f[j].filename) ||
				    gh__supp_match(pat, f[j].module))
					return &l->v[k];
			}
	}
	return NULL;
}

static int cmp_rec(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

static void print_frames(struct gh_out *o, const struct gh_gc_site_row *row)
{
	uintptr_t one;
	const uintptr_t *pcs;
	size_t n = row_pcs(row, &one, &pcs);
	if (n == 0) {
		gh__out_printf(o, "    #0 <unknown site>\n");
		return;
	}
	unsigned k = 0;
	for (size_t i = 0; i < n; i++) {
		const struct gh_trace_frame *f;
		size_t nf = gh__sym_frames(pcs[i], &f);
		for (size_t j = 0; j < nf; j++, k++) {
			const char *fn = f[j].function && *f[j].function ? f[j].function : "<unknown>";
			const char *mod = f[j].module && *f[j].module ? f[j].module : "?";
			if (f[j].lineno)
				gh__out_printf(o, "    #%u 0x%lx in %s %s:%u (%s)\n", k, (unsigned long)pcs[i], fn, f[j].filename,
					   f[j].lineno, mod);
			else
				gh__out_printf(o, "    #%u 0x%lx in %s (%s)\n", k, (unsigned long)pcs[i], fn, mod);
		}
	}
}

static const char *const kind_title[] = {
	[REC_DIRECT] = "Direct leak",
	[REC_INDIRECT] = "Indirect leak",
	[REC_POSSIBLE] = "Possible leak (only interior pointers reach it; not counted in the exit status)",
};

static int run_check(int fd, bool print, gh_leak_counts_t *out)
{
	const char *v = getenv("GLASSHEAP_LEAK_VERBOSE");
	bool verbose = v && *v && strcmp(v, "0") != 0;
	gh_leak_counts_t c;
	memset(&c, 0, sizeof c);
	if (out)
		memset(out, 0, sizeof *out);
	struct gh_gc_result *r = NULL;
	pid_t bad = 0;
	int rc = gh__mark_run(0, &r, &bad);
	if (rc)
		return rc;
	int q = gh__trace_quiet_begin();
	struct gh_supp_list *supp = load_suppressions();
	size_t cap = r->nsites * 3 + 1, nrec = 0;
	struct rec *recs = calloc(cap, sizeof *recs);
	static const int cls_of[] = {[REC_DIRECT] = GH_DEFINITELY_LOST,
				     [REC_INDIRECT] = GH_INDIRECTLY_LOST,
				     [REC_POSSIBLE] = GH_POSSIBLY_LOST};
	for (size_t i = 0; recs && i < r->nsites; i++) {
		const struct gh_gc_site_row *row = &r->sites[i];
		if (row->type == GH_TYPE_INTERNAL)
			continue;
		for (int kind = REC_DIRECT; kind <= REC_POSSIBLE; kind++) {
			int cls = cls_of[kind];
			if (!row->count[cls])
				continue;
			struct rec *e = &recs[nrec++];
			e->row = row;
			e->kind = kind;
			e->cls = cls;
			e->count = row->count[cls];
			e->bytes = row->bytes[cls];
			e->supp = suppressed_by(supp, row);
			if (e->supp) {
				e->supp->hits += e->count;
				e->supp->hit_bytes += e->bytes;
				c.suppressed += e->count;
				c.suppressed_bytes += e->bytes;
				continue;
			}
			if (cls == GH_DEFINITELY_LOST) {
				c.definitely_lost += e->count;
				c.definitely_lost_bytes += e->bytes;
			} else if (cls == GH_INDIRECTLY_LOST) {
				c.indirectly_lost += e->count;
				c.indirectly_lost_bytes += e->bytes;
			} else {
				c.possibly_lost += e->count;
				c.possibly_lost_bytes += e->bytes;
			}
		}
	}
	c.reachable = r->cls[GH_REACHABLE].count;
	c.reachable_bytes = r->cls[GH_REACHABLE].bytes;
	for (int k = GH_HEUR_STDSTRING; k < GH_HEURISTICS; k++) {
		c.heuristic[k - 1] = r->heuristic[k].count;
		c.heuristic_bytes[k - 1] = r->heuristic[k].bytes;
	}
	c.ignored = r->ignored.count;
	c.ignored_bytes = r->ignored.bytes;
	if (print && recs) {
		struct gh_out *o = malloc(sizeof *o);
		if (o) {
			o->fd = fd;
			o->n = 0;
			o->failed = false;
			uint64_t lost = c.definitely_lost + c.indirectly_lost;
			if (nrec > 1)
				qsort(recs, nrec, sizeof *recs, cmp_rec);
			if (lost || c.possibly_lost) {
				gh__out_printf(o, "\n=================================================================\n");
				gh__out_printf(o, "==%d==%s: glassheap: detected memory leaks\n", (int)getpid(),
					   lost ? "ERROR" : "WARNING");
				for (size_t i = 0; i < nrec; i++) {
					const struct rec *e = &recs[i];
					if (e->supp)
						continue;
					const char *tn = gh_type_name(e->row->type);
					gh__out_printf(o, "\n%s of %llu byte(s) in %llu object(s) of type %s allocated from:\n",
						   kind_title[e->kind], (unsigned long long)e->bytes,
						   (unsigned long long)e->count, tn ? tn : "?");
					print_frames(o, e->row);
				}
			}
			if (supp && c.suppressed) {
				gh__out_printf(o, "\n-----------------------------------------------------\n");
				gh__out_printf(o, "Suppressions used:\n  count      bytes template\n");
				for (size_t k = 0; k < supp->n; k++)
					if (supp->v[k].hits)
						gh__out_printf(o, "%7llu %10llu %s\n", (unsigned long long)supp->v[k].hits,
							   (unsigned long long)supp->v[k].hit_bytes, supp->v[k].pattern);
				gh__out_printf(o, "-----------------------------------------------------\n");
			}
			if (verbose) {
				/* valgrind's LEAK SUMMARY, for side-by-side reading */
				gh__out_printf(o, "\n==%d== glassheap LEAK SUMMARY:\n", (int)getpid());
				static const char *const names[] = {"definitely lost", "indirectly lost", "  possibly lost",
								    "still reachable"};
				uint64_t nb[4][2] = {{c.definitely_lost, c.definitely_lost_bytes},
						     {c.indirectly_lost, c.indirectly_lost_bytes},
						     {c.possibly_lost, c.possibly_lost_bytes},
						     {c.reachable, c.reachable_bytes}};
				for (int k = 0; k < 4; k++)
					gh__out_printf(o, "==%d==    %s: %llu bytes in %llu blocks\n", (int)getpid(), names[k],
						   (unsigned long long)nb[k][1], (unsigned long long)nb[k][0]);
				gh__out_printf(o, "==%d==                       of which reachable via heuristic:\n",
					   (int)getpid());
				for (int k = GH_HEUR_STDSTRING; k < GH_HEURISTICS; k++)
					gh__out_printf(o, "==%d==                         %-19s: %llu bytes in %llu blocks\n",
						   (int)getpid(), gh__heuristic_names[k],
						   (unsigned long long)c.heuristic_bytes[k - 1],
						   (unsigned long long)c.heuristic[k - 1]);
				gh__out_printf(o, "==%d==         suppressed: %llu bytes in %llu blocks\n", (int)getpid(),
					   (unsigned long long)c.suppressed_bytes, (unsigned long long)c.suppressed);
				gh__out_printf(o, "==%d==            ignored: %llu bytes in %llu blocks\n", (int)getpid(),
					   (unsigned long long)c.ignored_bytes, (unsigned long long)c.ignored);
			}
			if (lost || c.possibly_lost || c.suppressed)
				gh__out_printf(o,
					   "\nSUMMARY: glassheap: %llu byte(s) leaked in %llu allocation(s): definitely "
					   "lost %llu (%llu bytes), indirectly lost %llu (%llu bytes); possibly lost %llu "
					   "(%llu bytes); suppressed %llu (%llu bytes).\n",
					   (unsigned long long)(c.definitely_lost_bytes + c.indirectly_lost_bytes),
					   (unsigned long long)lost, (unsigned long long)c.definitely_lost,
					   (unsigned long long)c.definitely_lost_bytes, (unsigned long long)c.indirectly_lost,
					   (unsigned long long)c.indirectly_lost_bytes, (unsigned long long)c.possibly_lost,
					   (unsigned long long)c.possibly_lost_bytes, (unsigned long long)c.suppressed,
					   (unsigned long long)c.suppressed_bytes);
			gh__out_flush(o);
			free(o);
		}
	}
	free(recs);
	if (supp) {
		gh__supp_free(supp);
		free(supp);
	}
	gh__trace_quiet_end(q);
	gh__mark_result_free(r);
	if (out)
		*out = c;
	return recs ? 0 : ENOMEM;
}

int gh_leak_check(int flags, gh_leak_counts_t *out)
{
	if (!gh__init()) {
		if (out)
			memset(out, 0, sizeof *out);
		return ENOMEM;
	}
	return run_check(2, (flags & GH_LEAK_PRINT) != 0, out);
}

/* ---- At exit --------------------------------------------------------------------------- */

static int exit_fd = -1;
static int exit_code = 23;

static void leak_check_at_exit(void)
{
	gh_leak_counts_t c;
	int rc = run_check(exit_fd, true, &c);
	if (rc) {
		gh__log("GLASSHEAP_LEAK_CHECK=exit: the pass could not run (%s); no leak report", strerror(rc));
		return;
	}
	if (c.definitely_lost + c.indirectly_lost > 0 && exit_code != 0) {
		/* LSan ends the process here too; stdio's buffers first, so that
		 * the program's last output is not lost. */
		fflush(NULL);
		_exit(exit_code);
	}
}

void gh__leak_init(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	const char *s = getenv("GLASSHEAP_LEAK_CHECK");
	if (!s || !*s || strcmp(s, "0") == 0 || strcmp(s, "off") == 0)
		return;
	/* "1" as LSan's detect_leaks=1 would be written */
	if (strcmp(s, "exit") != 0 && strcmp(s, "1") != 0) {
		gh__log("GLASSHEAP_LEAK_CHECK=%s ignored: want exit (or 1)", s);
		return;
	}
	const char *e = getenv("GLASSHEAP_LEAK_EXITCODE");
	if (e && *e) {
		char *end;
		long v = strtol(e, &end, 10);
		if (*end == '\0' && v >= 0 && v <= 255)
			exit_code = (int)v;
		else
			gh__log("GLASSHEAP_LEAK_EXITCODE=%s ignored: want 0..255", e);
	}
	exit_fd = fcntl(2, F_DUPFD_CLOEXEC, 100);
	if (exit_fd < 0)
		exit_fd = 2;
	pthread_mutex_lock(&cfg_lock);
	read_config();
	pthread_mutex_unlock(&cfg_lock);
	if (atexit(leak_check_at_exit) != 0)
		gh__log("GLASSHEAP_LEAK_CHECK=exit: atexit failed; no check at exit");
}
