/*
 * ext.h -- the on-demand half of libglassheap.so (issue 15, start-up).
 *
 * The shared library is split in two: libglassheap.so (the allocator and
 * its introspection; libc, libgcc_s and the unwinder only) and
 * libglassheap_ext.so.<version> (the debug server with h2o, OpenSSL and the
 * exporters, and the symbolizer with libdw), installed beside it and opened
 * with dlopen by lazy.c the first time something needs it: gh_server_start,
 * GLASSHEAP_HTTP, a symbolized trace statistic, the unwinder's choice.
 * The static library (libglassheap.a) has no second half: it links
 * everything in, and lazy.c is not part of it.
 *
 * The extension exports one symbol, gh__ext_api (ext_api.c), a table of its
 * entry points; it reaches the core's internals through libglassheap.so's
 * dynamic symbols (internal.h: protected in the core, default in the
 * extension; the version script exports gh_*).
 */
#ifndef GH_EXT_H
#define GH_EXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gh_trace_frame;

#define GH_EXT_ABI 1

/* The extension's entry points, X(field, function, return type, parameters):
 * the table's fields (ext.h) and its initializer (ext_api.c) both come from
 * these lists. */
#define GH_EXT_SERVER_ENTRIES(X)                                                                         \
	X(server_start, gh_server_start, int, (const char *listen))                                      \
	X(server_port, gh_server_port, int, (void))                                                      \
	X(server_stop, gh_server_stop, void, (void))                                                     \
	X(server_autostart, gh__server_autostart, void, (void)) /* GLASSHEAP_HTTP (gh__opt.http) */

/* symbols.c, and a data symbol covering an address (dominators.h) */
#define GH_EXT_SYM_ENTRIES(X)                                                                            \
	X(sym_frames, gh__sym_frames, size_t, (uintptr_t address, const struct gh_trace_frame **frames)) \
	X(sym_source_line, gh__sym_source_line, const char *, (const char *file, unsigned lineno))       \
	X(sym_exe_frame_pointers, gh__sym_exe_frame_pointers, void, (unsigned *with_fp, unsigned *without_fp)) \
	X(sym_atfork_prepare, gh__sym_atfork_prepare, void, (void))                                      \
	X(sym_atfork_parent, gh__sym_atfork_parent, void, (void))                                        \
	X(sym_atfork_child, gh__sym_atfork_child, void, (void))                                          \
	X(sym_data_name, gh__sym_data_name, bool, (uintptr_t addr, char *buf, size_t len))

#define GH_EXT_FIELD(field, fn, ret, params) ret (*field) params;
struct gh_ext_api {
	unsigned abi;  /* GH_EXT_ABI */
	size_t size;   /* sizeof(struct gh_ext_api) */
	GH_EXT_SERVER_ENTRIES(GH_EXT_FIELD) /* NULL when built without GLASSHEAP_BUILD_HTTP */
	GH_EXT_SYM_ENTRIES(GH_EXT_FIELD)
};
#undef GH_EXT_FIELD

/* The extension's table, loading it first if need be; NULL when it cannot
 * be loaded (logged once). Allocates (dlopen, quietly: GH_TYPE_INTERNAL,
 * untraced): never call it inside malloc, with an allocator lock held, in a
 * signal handler or while the world is stopped. */
const struct gh_ext_api *gh__ext(void);
/* The table if the extension is loaded already, else NULL. Never loads. */
const struct gh_ext_api *gh__ext_loaded(void);

/* http/server.c: starts the server GLASSHEAP_HTTP names, if any. */
void gh__server_autostart(void);

#endif /* GH_EXT_H */
