/*
 * export.h -- what the exporters share (ep_metrics.c, ep_folded.c,
 * ep_pprof.c, ep_page.c; implemented in export.c): a growable text/byte
 * buffer, the text of one symbolized frame, and the process's loaded modules
 * with their build ids.
 *
 * The exporters answer in the format their consumer fixes (Prometheus text,
 * folded stacks, gzipped pprof protobuf, HTML) through gh__http_raw, not
 * through the emitter. Like every endpoint they run on the server thread
 * only; their allocations are glassheap's own (counted under "glassheap").
 */
#ifndef GH_HTTP_EXPORT_H
#define GH_HTTP_EXPORT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../alloc/trace.h"

/* ---- A growable buffer ---------------------------------------------------------- */

/* Zero-initialize. Errors are sticky: after a failed allocation every call
 * is a no-op and gh__buf_take answers NULL. */
struct gh_buf {
	char *p;
	size_t len, cap;
	bool failed;
};

void gh__buf_put(struct gh_buf *b, const void *s, size_t n);
void gh__buf_puts(struct gh_buf *b, const char *s);
void gh__buf_printf(struct gh_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The bytes (NUL-terminated, *len without the NUL), now the caller's to
 * free(); NULL when an allocation failed (the buffer is freed then). The
 * buffer is empty afterwards. */
char *gh__buf_take(struct gh_buf *b, size_t *len);
void gh__buf_free(struct gh_buf *b);

struct gh_http_call;
/* Answers call with b's bytes (200, content_type), or a 500 "out of memory"
 * when b failed; b is empty afterwards. */
void gh__buf_send(struct gh_http_call *call, const char *content_type, struct gh_buf *b);

/* Room in *p (an array of *cap elements of elem bytes, n used) for one more,
 * doubling it (from 64) when full. false when realloc failed (*p unchanged). */
bool gh__grow(void **p, size_t *cap, size_t n, size_t elem);

/* ---- Frames ------------------------------------------------------------------------ */

/*
 * The text of one logical frame for folded stacks and the page's flame
 * graph: "function (file:line)" with debug information, "function
 * (module+0xoff)" with a symbol only, else "module+0xoff" (module's base
 * name). Made safe for the folded format: ';' becomes ':', control bytes
 * and ill-formed UTF-8 become '?', and the text never ends in a space.
 */
void gh__export_frame_text(struct gh_buf *b, const struct gh_trace_frame *f);

/* The file name part of a path ("/usr/lib/libc.so.6" -> "libc.so.6"). */
const char *gh__export_basename(const char *path);

/* ---- Loaded modules ------------------------------------------------------------------ */

/* One executable segment of a loaded ELF object (pprof's Mapping). */
struct gh_module_seg {
	uintptr_t start, limit;   /* [start, limit) in memory */
	uint64_t file_offset;     /* p_offset of the segment */
	char path[512];           /* the main program's from /proc/self/exe */
	char build_id[129];       /* NT_GNU_BUILD_ID as lower-case hex, "" when absent */
};

/* Every executable PT_LOAD segment of every loaded object (the vDSO left
 * out), from dl_iterate_phdr, into a heap array (free() it). Returns the
 * count; 0 with *out NULL when out of memory. */
size_t gh__export_modules(struct gh_module_seg **out);

/* ---- /proc ------------------------------------------------------------------------- */

/* Resident and virtual size of the process in bytes (/proc/self/statm), 0
 * when unreadable. */
void gh__export_proc_mem(uint64_t *rss, uint64_t *vsz);

#endif /* GH_HTTP_EXPORT_H */
