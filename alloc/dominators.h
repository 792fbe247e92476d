/*
 * dominators.h -- the dominator pass (alloc/dominators.c on top of mark.c):
 * the object graph recorded while the world is stopped, the immediate
 * dominators and retained sizes computed after it resumes.
 *
 * A header of its own (not alloc/internal.h) so that http/ep_dominators.c
 * needs nothing else from the core; the lead folds it into introspect.h.
 */
#ifndef GH_DOMINATORS_H
#define GH_DOMINATORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "introspect.h" /* GH_INTERNAL_BEGIN: callable from libglassheap_ext.so (http/) */

GH_INTERNAL_BEGIN

/* ---- The recorded graph (mark.c writes it, dominators.c reads it) -------- */

/*
 * One object the mark scanned, in scan order: its granule (address - cage
 * base) / 16, site id and type:16 | size:48. Written while the world is
 * stopped; after resume nothing of the heap is read again (objects may be
 * freed by then: the pass works on these copies only).
 */
struct gh_dom_node_rec {
	uint32_t gran;
	uint32_t site;
	uint64_t tsz;
};
#define GH_DOM_TSZ(type, size) (((uint64_t)(type) << 48) | ((uint64_t)(size) & ((UINT64_C(1) << 48) - 1)))
#define GH_DOM_TYPE(tsz) ((uint32_t)((tsz) >> 48))
#define GH_DOM_SIZE(tsz) ((tsz) & ((UINT64_C(1) << 48) - 1))

/*
 * The edge log: u32 entries, in blocks. A block opens with a source entry
 * and lists the granules its pointers reach (bit 31 clear):
 *
 *   GH_DOM_OBJ | gran      an object's words
 *   GH_DOM_ROOT | index    a root range's words (index into the pass's roots)
 *
 * A source may open several blocks: the mark's candidate FIFO delays words,
 * so blocks of consecutive sources interleave; a root's registers come after
 * every root range.
 *   gran, gran, ...        the objects its words point to (start or interior)
 *
 * Granules are below 2^30: the pass refuses heaps whose cage span is 16 GiB
 * or more (503).
 */
#define GH_DOM_OBJ 0x80000000u
#define GH_DOM_ROOT 0xC0000000u
#define GH_DOM_GRAN_MAX 0x40000000u

struct gh_dom_graph {
	uint32_t *log;         /* consumed: rewritten in place, then its whole pages released */
	size_t nlog;
	struct gh_dom_node_rec *nodes; /* consumed: its whole pages released once read */
	size_t nnodes;
	const uint64_t *reach; /* bit per granule: set for each object in nodes */
	size_t reach_words;    /* words of reach that may hold bits */
	size_t nroots;
	uintptr_t base;        /* address of granule 0 */
};

/* ---- The computation (dominators.c; pure, testable on a made-up graph) ---- */

/* Node ids: 0 the virtual super-root, 1..nroots the roots (root i is id
 * i + 1), then the objects in address order (id = 1 + nroots + rank in the
 * reach bitmap). The computation numbers the reached nodes in DFS preorder
 * and keeps its figures by that number; read them by id with the
 * accessors below. */
#define GH_DOM_ARRAYS 9
struct gh_dom_tree {
	size_t nroots, nobjects, nodes; /* nodes = 1 + nroots + nobjects */
	size_t reached;         /* nodes reached from the super-root (it included) */
	uint64_t *pay;          /* [nobjects] by rank: site:21 | type:15 | size:28, or an escape */
	struct gh_dom_node_rec *esc; /* what does not fit in pay ({rank, site, tsz}), by rank */
	size_t nesc;
	uint32_t *pre;          /* [nodes] id -> preorder number; UINT32_MAX: not reached */
	uint32_t *vertex;       /* [reached] preorder number -> id */
	uint32_t *idom;         /* [reached] the immediate dominator's preorder number (0 for 0) */
	uint64_t *retained;     /* [reached] bytes << ret_n_bits | objects: itself and everything it dominates */
	unsigned ret_n_bits;    /* the width of the node count */
	uint32_t *roff, *rcol;  /* root id r's own edges (preorder numbers): rcol[roff[r] .. roff[r + 1]) */
	uint32_t *prefix;       /* rank of the first object of each reach word */
	const uint64_t *reach;
	size_t reach_words;
	uintptr_t base;
	size_t edges;           /* edges in the graph (log entries less block heads) */
	size_t work_bytes;      /* peak work memory, the logs included (mmap) */
	unsigned iterations;    /* 1 (semi-NCA makes one pass) */
	void *arr[GH_DOM_ARRAYS]; /* the mappings holding all of the above */
	size_t arr_len[GH_DOM_ARRAYS];
};

/* Computes immediate dominators and retained sizes. Memory from one
 * private mapping, never malloc; budget bounds it (ENOMEM past it, with
 * *need the bytes it would take). Returns 0, ENOMEM or EINVAL (a log that
 * does not describe a graph over the nodes). */
int gh__dom_compute(const struct gh_dom_graph *g, size_t budget, struct gh_dom_tree *t, size_t *need);
void gh__dom_tree_release(struct gh_dom_tree *t);
/* The node id of the object at granule gran (it must be one of the nodes). */
uint32_t gh__dom_node_of(const struct gh_dom_tree *t, uint32_t gran);
/* The address of object node id. */
uintptr_t gh__dom_address_of(const struct gh_dom_tree *t, uint32_t id);
/* By node id: the immediate dominator's id (UINT32_MAX: not reached; 0
 * for 0), retained bytes and objects (an unreached node: itself), type:size
 * and site (0 for the super-root and the roots). */
uint32_t gh__dom_idom(const struct gh_dom_tree *t, uint32_t id);
uint64_t gh__dom_retained(const struct gh_dom_tree *t, uint32_t id);
uint64_t gh__dom_retained_n(const struct gh_dom_tree *t, uint32_t id);
uint64_t gh__dom_tsz(const struct gh_dom_tree *t, uint32_t id);
uint32_t gh__dom_site(const struct gh_dom_tree *t, uint32_t id);
/* Bytes of work memory the pass needs at its peak (an upper bound but for
 * the roots' own edges and several blocks' lists, which the computation
 * adds) for n objects, r roots and e log entries: the logs (16 per object,
 * 4 per entry) while the world is stopped; after, 8 per object (its
 * figures), 8 per entry (the log and the predecessors) and at most 20 per
 * node (dominators.c); 4 per 64 granules for the ranks, and page rounding. */
static inline size_t gh__dom_need(size_t n, size_t r, size_t e, size_t reach_words)
{
	size_t stop = 16 * n + 4 * e, after = 8 * n + 8 * e + 20 * (1 + r + n);
	return (stop > after ? stop : after) + 4 * reach_words + 16 * 4096;
}

/* ---- One pass (mark.c + dominators.c) ------------------------------------ */

#define GH_DOM_PATH_MAX 16 /* path elements kept: the root, then up to 15 objects */

/* Addresses in results are kept inverted (GH_DOM_HIDE): a result is glassheap's
 * own heap memory, and plain addresses in it would be pointers the next
 * pass follows (a saved result would retain what it lists). */
#define GH_DOM_HIDE(a) (~(uintptr_t)(a))

struct gh_dom_row {
	uintptr_t address_hidden;  /* GH_DOM_HIDE(the object's address) */
	uint32_t type, site;
	uint64_t self_bytes, retained_bytes, retained_objects;
	unsigned npath;
	bool path_elided;        /* objects between the root and the tail were left out */
	char root_label[192];    /* "global:g_cache (prog)", "stack:123", ..., "(several roots)" */
	uint32_t path_type[GH_DOM_PATH_MAX]; /* type of each object, from the root down */
	uintptr_t path_first_hidden; /* GH_DOM_HIDE(the object the root holds) */
};

struct gh_dom_type_row {
	uint32_t type;
	uint64_t bytes, objects;
};

struct gh_dom_result {
	uint64_t objects, edges, roots, reached_bytes;
	uint64_t pause_ns, mark_ns, compute_ns;
	uint64_t compute_cpu_ns; /* the computation's CPU time (this thread's) */
	uint64_t work_bytes, budget_bytes;
	unsigned iterations;
	uint32_t threads;
	const char *stop_method;
	size_t nrows, ntypes;
	struct gh_dom_row *rows;        /* by retained_bytes, descending */
	struct gh_dom_type_row *types;  /* by bytes, descending */
};

/* Filter of the rows kept: type (GH_TYPE_NONE: any), min_bytes, and how
 * many (rows beyond max_rows are dropped). */
struct gh_dom_query {
	gh_type_t type;
	uint64_t min_bytes;
	size_t max_rows;
};

/*
 * One dominator pass: stops the world for the mark (recording the graph),
 * resumes it, computes. *out is malloc'd (gh__dom_result_free); call from a
 * thread that may allocate (the server thread). Returns 0, EBUSY, ETIMEDOUT
 * (*unresponsive), E2BIG (threads or mappings: nothing analyzed), EFBIG (the
 * heap needs more work memory than the budget: *need bytes, *objects counted
 * so far), ERANGE (the cage span is 16 GiB or more), ENOMEM.
 */
int gh__dom_run(const struct gh_dom_query *q, struct gh_dom_result **out, pid_t *unresponsive, size_t *need,
		uint64_t *objects);
void gh__dom_result_free(struct gh_dom_result *r);
/* True while a stop-the-world operation runs (answer 503 instead of waiting). */
bool gh__dom_busy(void);
/* A site's "module+0xoffset" into where, and its function, file and line
 * (symbolized; strings live for the process). Allocates. */
void gh__dom_site_info(uint32_t site, char *where, size_t len, const char **function, const char **filename,
		       unsigned *lineno);
/* The work-memory budget: GLASSHEAP_DOMINATORS_BUDGET (a size, at least 64K), default 1 GiB. */
size_t gh__dom_budget(void);
/* "g_cache" for an address inside a data symbol of a loaded module, into
 * buf; false when no symbol covers it. Allocates (libdw): not while stopped. */
bool gh__sym_data_name(uintptr_t addr, char *buf, size_t len);

/* mark.c: the stop-time half. Marks from the roots with interior pointers
 * as edges like any other, records nodes and edges into the given buffers
 * (stopping the recording, not the mark, once limit_bytes of work would be
 * needed), then resumes the world and calls fn with the graph (the reach
 * bitmap valid until fn returns) before releasing the mark's work area. */
struct gh_dom_capture {
	struct gh_dom_graph g;
	bool full;          /* recording stopped at the limit */
	size_t want_nodes, want_log; /* what the whole graph has (recorded or not) */
	bool truncated;     /* the mark stack overflowed: the graph is incomplete */
	uint64_t pause_ns, mark_ns;
	uint32_t threads;
	const char *stop_method;
};
/* Root i of the pass, valid during fn: its name ("global:prog", "stack:123",
 * "tls:123", "root:name"), kind (enum gh_root_kind) and range. */
void gh__mark_root(size_t i, const char **name, int *kind, uintptr_t *lo, uintptr_t *hi);
typedef int (*gh_dom_fn)(const struct gh_dom_capture *c, void *arg);
int gh__mark_dominators(uint32_t *log, size_t log_cap, struct gh_dom_node_rec *nodes, size_t nodes_cap,
			size_t limit_bytes, gh_dom_fn fn, void *arg, pid_t *unresponsive);

GH_INTERNAL_END

#endif /* GH_DOMINATORS_H */
