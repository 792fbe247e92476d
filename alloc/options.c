/*
 * options.c -- GLASSHEAP_* environment options, logging and the one path
 * that reports heap misuse (invalid, double and interior frees).
 *
 * Everything here may run inside the first malloc of the process or inside
 * free() on a corrupted heap, so nothing here allocates: messages are
 * formatted on the stack and written with write(2).
 *
 * Entry points: gh__options_init, gh__log, gh__misuse, gh_set_error_handler;
 * a constructor that keeps `glassheap run`'s variables from the program's
 * children (scrub_environment).
 */
#include "internal.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct gh_options gh__opt = {
	.cage_size = (size_t)64 << 30,
	.arenas = 0,
	.on_error_log = false,
	.report_path = NULL,
	.thp_from = GH_THP_AUTO_FROM, /* GLASSHEAP_THP=auto: docs/performance.md (issue 15) */
};

static _Atomic(gh_error_fn) error_handler;
static _Atomic uint64_t error_count;

bool gh__parse_size(const char *s, size_t *out)
{
	if (!s || !*s)
		return false;
	uint64_t v = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return false;
	unsigned shift = 0;
	switch (*p) {
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	case 't': case 'T': shift = 40; p++; break;
	default: break;
	}
	if (*p == 'i' && shift) /* accept "64MiB" */
		p++;
	if ((*p == 'b' || *p == 'B') && shift)
		p++;
	if (*p != '\0')
		return false;
	if (shift && v > (UINT64_MAX >> shift))
		return false;
	*out = (size_t)(v << shift);
	return true;
}

/*
 * getenv() that also works before libc has set environ: the first malloc
 * may come from .preinit_array or from a constructor that runs before
 * libc's, where getenv() finds nothing. Then the initial environment is read
 * from /proc/self/environ into a static buffer. Never allocates.
 */
static char proc_env[64 << 10];
static size_t proc_env_len;

static const char *env_get(const char *name)
{
	extern char **environ;
	if (environ)
		return getenv(name);
	if (proc_env_len == 0) {
		int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n;
			while (proc_env_len < sizeof proc_env - 1 &&
			       (n = read(fd, proc_env + proc_env_len, sizeof proc_env - 1 - proc_env_len)) > 0)
				proc_env_len += (size_t)n;
			close(fd);
		}
	}
	size_t nl = strlen(name);
	for (size_t i = 0; i < proc_env_len; i += strlen(proc_env + i) + 1)
		if (strncmp(proc_env + i, name, nl) == 0 && proc_env[i + nl] == '=')
			return proc_env + i + nl + 1;
	return NULL;
}

/* NAME's value as a size (gh__parse_size) within [lo, hi]: true and *out
 * set, or false (unset, or logged as ignored with what is wanted). */
static bool env_size(const char *name, size_t lo, size_t hi, const char *want, size_t *out)
{
	const char *s = env_get(name);
	if (!s)
		return false;
	size_t v;
	if (gh__parse_size(s, &v) && v >= lo && v <= hi) {
		*out = v;
		return true;
	}
	gh__log("%s=%s ignored: want %s", name, s, want);
	return false;
}

/* GLASSHEAP_HTTP_PID names another process than this one. */
static bool other_pid(const char *s)
{
	if (!s || !*s)
		return false;
	long v = 0;
	for (; *s >= '0' && *s <= '9' && v < (1L << 40); s++)
		v = v * 10 + (*s - '0');
	return *s != '\0' || v != (long)getpid();
}

void gh__options_init(void)
{
	const char *s;
	size_t v;
	/* The server's address belongs to the process GLASSHEAP_HTTP_PID names,
	 * when it is set: `glassheap run` sets it to the program it starts, so
	 * that a child which inherited the variables does not compete for the
	 * address (and its exec successor, same PID, takes it over). */
	if ((s = env_get("GLASSHEAP_HTTP")) != NULL && *s && !other_pid(env_get("GLASSHEAP_HTTP_PID")))
		gh__opt.http = s;
	if (env_size("GLASSHEAP_CAGE_SIZE", (size_t)16 << 20, SIZE_MAX, "a size of at least 16M (e.g. 8G)", &v))
		gh__opt.cage_size = v;
	if (env_size("GLASSHEAP_ARENAS", 1, 256, "1..256", &v))
		gh__opt.arenas = (unsigned)v;
	if ((s = env_get("GLASSHEAP_ON_ERROR")) != NULL) {
		if (strcmp(s, "log") == 0)
			gh__opt.on_error_log = true;
		else if (strcmp(s, "abort") != 0)
			gh__log("GLASSHEAP_ON_ERROR=%s ignored: want abort or log", s);
	}
	if ((s = env_get("GLASSHEAP_REPORT")) != NULL && *s)
		gh__opt.report_path = s;
	gh__opt.symbols_idle_s = 30;
	if (env_size("GLASSHEAP_SYMBOLS_IDLE", 0, 86400, "seconds, 0..86400", &v))
		gh__opt.symbols_idle_s = (unsigned)v;
	if ((s = env_get("GLASSHEAP_MAPPED_ROOTS")) != NULL) {
		if (strcmp(s, "off") == 0)
			gh__opt.mapped_roots_off = true;
		else if (strcmp(s, "on") != 0)
			gh__log("GLASSHEAP_MAPPED_ROOTS=%s ignored: want on or off", s);
	}
	if ((s = env_get("GLASSHEAP_THP")) != NULL) {
		if (strcmp(s, "auto") == 0)
			gh__opt.thp_from = GH_THP_AUTO_FROM;
		else if (strcmp(s, "never") == 0)
			gh__opt.thp_from = SIZE_MAX;
		else if (strcmp(s, "always") == 0)
			gh__opt.thp_from = 0;
		else
			gh__log("GLASSHEAP_THP=%s ignored: want auto, always or never", s);
	}
}

/* ---- What the program's children inherit ------------------------------------------------- */

/* Removes every NAME=... entry from environ, in place (no allocation). */
static void env_remove(char **env, const char *name)
{
	size_t nl = strlen(name);
	char **w = env;
	for (char **r = env; *r; r++)
		if (!(strncmp(*r, name, nl) == 0 && (*r)[nl] == '='))
			*w++ = *r;
	*w = NULL;
}

/* Is the LD_PRELOAD entry tok (len bytes) this library? Same file (device
 * and inode) as the object holding this code, or, for a bare name that
 * ld.so searched for, the same file name. */
static bool is_self(const char *tok, size_t len, const struct stat *self, const char *self_path)
{
	char path[4096];
	if (len == 0 || len >= sizeof path)
		return false;
	memcpy(path, tok, len);
	path[len] = '\0';
	struct stat st;
	if (strchr(path, '/'))
		return stat(path, &st) == 0 && st.st_dev == self->st_dev && st.st_ino == self->st_ino;
	const char *base = strrchr(self_path, '/');
	return strcmp(path, base ? base + 1 : self_path) == 0;
}

/* Drops this library's entries from the LD_PRELOAD value, shortening it in
 * place (entries are separated by ':' or ' ', as ld.so reads them); removes
 * the variable when nothing is left. */
static void preload_remove_self(char **env)
{
	Dl_info info;
	struct stat self;
	if (!dladdr((void *)preload_remove_self, &info) || !info.dli_fname || stat(info.dli_fname, &self) != 0)
		return;
	for (char **e = env; *e; e++) {
		if (strncmp(*e, "LD_PRELOAD=", 11) != 0)
			continue;
		char *val = *e + 11, *w = val;
		for (char *r = val; *r;) {
			size_t len = strcspn(r, ": ");
			if (len && !is_self(r, len, &self, info.dli_fname)) {
				if (w != val)
					*w++ = ':';
				memmove(w, r, len);
				w += len;
			}
			r += len;
			r += *r != '\0';
		}
		*w = '\0';
		if (w == val) {
			env_remove(env, "LD_PRELOAD");
			return;
		}
	}
}

/*
 * `glassheap run` (docs/client.md) starts a program with LD_PRELOAD,
 * GLASSHEAP_HTTP, GLASSHEAP_HTTP_PID=<its PID> and GLASSHEAP_FOLLOW_CHILDREN.
 * The program's children inherit its environment; here, before main (so
 * before any thread of the program reads environ, and before the server's
 * thread exists), glassheap removes what they must not get:
 *   GLASSHEAP_FOLLOW_CHILDREN=0: its own LD_PRELOAD entry, GLASSHEAP_HTTP,
 *     GLASSHEAP_HTTP_PID and GLASSHEAP_FOLLOW_CHILDREN: children run
 *     without glassheap (even when this process is not the launched one,
 *     e.g. under a static launched program that ignored LD_PRELOAD);
 *   otherwise, in a process GLASSHEAP_HTTP_PID does not name:
 *     GLASSHEAP_HTTP and GLASSHEAP_HTTP_PID: children of children do not
 *     try the launched program's address either.
 * Runs after heap.c's constructor (101), which read the options (the
 * server's address is kept in gh__opt.http), and trace.c's (102); before
 * the server's (200). Never allocates: entries are unlinked from environ
 * and the LD_PRELOAD value is shortened in place, as unsetenv() would do
 * without its lock (no other thread exists yet).
 */
__attribute__((constructor(150))) static void scrub_environment(void)
{
	extern char **environ;
	if (!environ)
		return;
	const char *follow = getenv("GLASSHEAP_FOLLOW_CHILDREN");
	bool scrub_all = follow && strcmp(follow, "0") == 0;
	if (scrub_all) {
		preload_remove_self(environ);
		env_remove(environ, "GLASSHEAP_FOLLOW_CHILDREN");
	}
	if (scrub_all || other_pid(getenv("GLASSHEAP_HTTP_PID"))) {
		env_remove(environ, "GLASSHEAP_HTTP");
		env_remove(environ, "GLASSHEAP_HTTP_PID");
	}
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

void gh__log(const char *fmt, ...)
{
	char buf[512];
	int saved = errno;
	size_t n = (size_t)snprintf(buf, sizeof buf, "glassheap: ");
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += (size_t)m;
	if (n > sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	write_all(2, buf, n);
	errno = saved;
}

void gh__assert_fail(const char *file, int line, const char *expr)
{
	gh__log("assertion failed at %s:%d: %s", file, line, expr);
	abort();
}

static const char *kind_name(gh_error_kind_t kind)
{
	switch (kind) {
	case GH_ERR_INVALID_FREE: return "invalid pointer";
	case GH_ERR_DOUBLE_FREE: return "double free";
	case GH_ERR_INTERIOR_FREE: return "interior pointer";
	case GH_ERR_CORRUPT: return "corrupted allocation metadata";
	}
	return "heap misuse";
}

void gh__misuse(gh_error_kind_t kind, const void *ptr, const char *op, const void *obj,
		const struct gh_meta *m)
{
	char msg[768];
	char where[256] = "";
	int saved = errno;
	atomic_fetch_add_explicit(&error_count, 1, memory_order_relaxed);
	if (m) {
		char site[200];
		uintptr_t ra = gh__site_address(gh__meta_site(m));
		if (ra)
			gh__site_describe(ra, site, sizeof site);
		else
			snprintf(site, sizeof site, "an unknown site");
		const char *tname = gh_type_name(m->type);
		snprintf(where, sizeof where, "; %s %p (%zu bytes, type %s) was allocated at %s",
			 obj ? "it lies inside allocation" : "allocation", obj ? obj : ptr,
			 m->size, tname ? tname : "?", site);
	}
	snprintf(msg, sizeof msg, "%s: %s %p%s", op, kind_name(kind), ptr, where);
	gh_error_fn fn = atomic_load_explicit(&error_handler, memory_order_acquire);
	if (fn) {
		fn(kind, ptr, op, msg);
	} else {
		gh__log("%s%s", msg, gh__opt.on_error_log ? " (ignored: GLASSHEAP_ON_ERROR=log)" : "");
	}
	if (!gh__opt.on_error_log) {
		if (!fn)
			gh__log("aborting (set GLASSHEAP_ON_ERROR=log to log and continue)");
		abort();
	}
	errno = saved;
}

gh_error_fn gh_set_error_handler(gh_error_fn fn)
{
	return atomic_exchange_explicit(&error_handler, fn, memory_order_acq_rel);
}

uint64_t gh_error_count(void)
{
	return atomic_load_explicit(&error_count, memory_order_relaxed);
}

const char *gh__opt_http(void)
{
	return gh__opt.http;
}

uint64_t gh__opt_symbols_idle_ns(void)
{
	return (uint64_t)gh__opt.symbols_idle_s * 1000000000u;
}

/* ---- Whole files in, reports out (internal.h) --------------------------------------------- */

size_t gh__read_fd(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	return len;
}


void gh__out_flush(struct gh_out *o)
{
	size_t off = 0;
	while (off < o->n && !o->failed) {
		ssize_t w = write(o->fd, o->buf + off, o->n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			o->failed = true;
			break;
		}
		off += (size_t)w;
	}
	o->n = 0;
}

void gh__out_vprintf(struct gh_out *o, const char *fmt, va_list ap)
{
	char line[2048];
	int n = vsnprintf(line, sizeof line, fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1; /* cut */
	if (o->n + (size_t)n > sizeof o->buf)
		gh__out_flush(o);
	memcpy(o->buf + o->n, line, (size_t)n);
	o->n += (size_t)n;
}

void gh__out_printf(struct gh_out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	gh__out_vprintf(o, fmt, ap);
	va_end(ap);
}
