/*
 * lazy.c -- libglassheap.so's loader of its second half (ext.h): the debug
 * server and the symbolizer live in libglassheap_ext.so.<version>, opened
 * with dlopen the first time they are needed, so that a program that never
 * asks for them maps neither h2o, OpenSSL nor libdw (issue 15).
 *
 * Part of the shared library only: libglassheap.a links server.c and
 * symbols.c themselves, which define the same entry points.
 *
 * Where the extension is: beside the object holding this code (dladdr), so
 * that a build tree, an installed prefix and a relocated prefix all find
 * their own; a bare name (dlopen's search path) when that fails.
 *
 * When it is opened: gh_server_start, GLASSHEAP_HTTP (the constructor
 * below, after heap.c's and options.c's), a trace statistic that needs
 * symbols (trace.c, outside its lock), the unwinder's choice at the start
 * of a trace. Never inside malloc, in a signal handler or while the world
 * is stopped: the only callers are API entry points and constructors. The
 * dlopen and the libraries' constructors allocate: inside a quiet section
 * (GH_TYPE_INTERNAL, untraced), on the calling thread, with no allocator
 * lock held. ext_lock orders loads; the fork hooks take it too (trace.c's
 * prepare calls gh__sym_atfork_prepare), so a fork never sees half a load.
 *
 * Entry points: gh__ext, gh__ext_loaded, and the functions the extension
 * implements (gh_server_*, gh__sym_*), as thin calls through its table.
 */
#include "internal.h"
#include "ext.h"
#include "dominators.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>

#ifndef GH_EXT_FILE
#error "GH_EXT_FILE (the extension's file name) comes from CMakeLists.txt"
#endif

static pthread_mutex_t ext_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct gh_ext_api *_Atomic ext_api;
static bool ext_failed; /* under ext_lock: logged once, not retried */

const struct gh_ext_api *gh__ext_loaded(void)
{
	return atomic_load_explicit(&ext_api, memory_order_acquire);
}

/* The extension's path: the directory of this object + GH_EXT_FILE. */
static void ext_path(char *buf, size_t len)
{
	Dl_info info;
	const char *slash = NULL;
	if (dladdr((void *)ext_path, &info) && info.dli_fname)
		slash = strrchr(info.dli_fname, '/');
	if (slash && (size_t)(slash - info.dli_fname) + 1 + sizeof GH_EXT_FILE <= len)
		snprintf(buf, len, "%.*s/%s", (int)(slash - info.dli_fname), info.dli_fname, GH_EXT_FILE);
	else
		snprintf(buf, len, "%s", GH_EXT_FILE);
}

static const struct gh_ext_api *load_locked(void)
{
	char path[PATH_MAX];
	ext_path(path, sizeof path);
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *err = dlerror();
		gh__log("cannot load %s (the debug server and the symbolizer): %s", path, err ? err : "?");
		return NULL;
	}
	const struct gh_ext_api *api = dlsym(h, "gh__ext_api");
	if (!api || api->abi != GH_EXT_ABI || api->size != sizeof *api) {
		gh__log("%s is not this libglassheap's extension (another version?)", path);
		return NULL; /* kept open: its constructors have run */
	}
	return api;
}

const struct gh_ext_api *gh__ext(void)
{
	const struct gh_ext_api *api = gh__ext_loaded();
	if (api)
		return api;
	if (!gh__init())
		return NULL;
	int q = gh__trace_quiet_begin();
	pthread_mutex_lock(&ext_lock);
	api = gh__ext_loaded();
	if (!api && !ext_failed) {
		api = load_locked();
		if (api)
			atomic_store_explicit(&ext_api, api, memory_order_release);
		else
			ext_failed = true;
	}
	pthread_mutex_unlock(&ext_lock);
	gh__trace_quiet_end(q);
	return api;
}

/* ---- The server (include/glassheap.h) ---------------------------------------------------- */

int gh_server_start(const char *listen)
{
	const struct gh_ext_api *api = gh__ext();
	if (!api || !api->server_start)
		return ENOSYS;
	return api->server_start(listen);
}

/* Never loads the extension: no server runs without it. */
int gh_server_port(void)
{
	const struct gh_ext_api *api = gh__ext_loaded();
	return api && api->server_port ? api->server_port() : 0;
}

void gh_server_stop(void)
{
	const struct gh_ext_api *api = gh__ext_loaded();
	if (api && api->server_stop)
		api->server_stop();
}

/* After heap.c's constructor (101, the options) and options.c's (150), at
 * the point where the static library's server.c starts it: GLASSHEAP_HTTP
 * loads the extension and starts the server. */
__attribute__((constructor(200))) static void ext_autostart(void)
{
	if (!gh__opt.http || !*gh__opt.http)
		return;
	const struct gh_ext_api *api = gh__ext();
	if (api && api->server_autostart)
		api->server_autostart();
}

/* ---- The symbolizer (trace.h) -------------------------------------------------------------- */

size_t gh__sym_frames(uintptr_t address, const struct gh_trace_frame **frames)
{
	static const struct gh_trace_frame unknown = {
		.filename = "<unknown>", .line = "", .function = "", .module = "",
	};
	const struct gh_ext_api *api = gh__ext();
	if (api)
		return api->sym_frames(address, frames);
	*frames = &unknown;
	return 1;
}

bool gh__sym_data_name(uintptr_t addr, char *buf, size_t len)
{
	const struct gh_ext_api *api = gh__ext();
	return api && api->sym_data_name(addr, buf, len);
}

const char *gh__sym_source_line(const char *file, unsigned lineno)
{
	const struct gh_ext_api *api = gh__ext();
	return api ? api->sym_source_line(file, lineno) : "";
}

void gh__sym_exe_frame_pointers(unsigned *with_fp, unsigned *without_fp)
{
	const struct gh_ext_api *api = gh__ext();
	if (api) {
		api->sym_exe_frame_pointers(with_fp, without_fp);
	} else {
		*with_fp = 0;
		*without_fp = 0;
	}
}

/* trace.c's fork hooks: ext_lock across the fork, then the symbolizer's. */
void gh__sym_atfork_prepare(void)
{
	pthread_mutex_lock(&ext_lock);
	const struct gh_ext_api *api = gh__ext_loaded();
	if (api)
		api->sym_atfork_prepare();
}

void gh__sym_atfork_parent(void)
{
	const struct gh_ext_api *api = gh__ext_loaded();
	if (api)
		api->sym_atfork_parent();
	pthread_mutex_unlock(&ext_lock);
}

void gh__sym_atfork_child(void)
{
	const struct gh_ext_api *api = gh__ext_loaded();
	if (api)
		api->sym_atfork_child();
	pthread_mutex_init(&ext_lock, NULL);
}
