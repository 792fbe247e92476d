/*
 * symbols.c -- return addresses to source: function, file, line and the
 * line's text, with inlined calls expanded, using libdw (elfutils).
 *
 * One Dwfl session describes the process's own modules
 * (dwfl_linux_proc_report over /proc/self/maps): the PIE executable, the
 * shared libraries, the vDSO. A library dlopen'ed since the last report is
 * found by reporting again, which happens only when an address falls in no
 * known module and the loader's adds/subs counters (dl_iterate_phdr) moved.
 *
 * An address is looked up at address - 1 (every captured address is a
 * return address; the call instruction is the one before it). Its CU's
 * scopes at that pc, innermost first, give the chain of inlined calls:
 * the innermost logical frame takes the line table's file:line, and each
 * DW_TAG_inlined_subroutine hands its DW_AT_call_file/DW_AT_call_line to the
 * frame that contains it, up to the DW_TAG_subprogram. Without debug
 * information the frame is the module's path, line 0, and the ELF symbol.
 *
 * Caches, all under sym_lock and never freed (the strings handed out live
 * for the life of the process): the frames of every address looked up,
 * interned strings (so equal names are equal pointers), and every source
 * file read, split into whitespace-stripped lines.
 *
 * Entry points: gh__sym_frames, gh__sym_source_line. They allocate (quietly:
 * not traced) and must not run inside malloc or with allocator locks held.
 */
#include "internal.h"
#include "elfseg.h"
#include "sites.h"
#include "trace.h"
#include "dominators.h"
#include "u64map.h"

#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* From libstdc++ when it is linked in (it is in libglassheap); C names
 * without it. */
extern char *__cxa_demangle(const char *name, char *buf, size_t *len, int *status) __attribute__((weak));

#define SOURCE_MAX ((off_t)64 << 20) /* larger files are not read */

static pthread_mutex_t sym_lock = PTHREAD_MUTEX_INITIALIZER;
static Dwfl *dwfl;
static char *debuginfo_path;

/*
 * Separate debug information, found where the system keeps it: by build id
 * (/usr/lib/debug/.build-id), then by .gnu_debuglink beside the file, in its
 * .debug directory and under /usr/lib/debug. debuginfod only when the user
 * asked for it with a non-empty DEBUGINFOD_URLS (libdwfl's standard lookup):
 * otherwise libdwfl would load libdebuginfod, libcurl and a TLS stack into
 * the host on the first stripped module, and keep their global state.
 */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, GElf_Addr base,
			  const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
			  char **debuginfo_file_name)
{
	const char *urls = getenv("DEBUGINFOD_URLS");
	if (urls && *urls)
		return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
						    debuglink_crc, debuginfo_file_name);
	int fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file, debuglink_crc,
					      debuginfo_file_name);
	if (fd >= 0 || !file_name || !debuglink_file || !*debuglink_file || strchr(debuglink_file, '/'))
		return fd;
	const char *slash = strrchr(file_name, '/');
	int dir = slash ? (int)(slash - file_name) : 0;
	static const char *const forms[] = {"%.*s/%s", "%.*s/.debug/%s", "/usr/lib/debug%.*s/%s"};
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		char path[PATH_MAX];
		int n = snprintf(path, sizeof path, forms[i], dir, file_name, debuglink_file);
		if (n < 0 || (size_t)n >= sizeof path || strcmp(path, file_name) == 0)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		*debuginfo_file_name = strdup(path);
		return fd;
	}
	return -1;
}

static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};
static unsigned long long seen_adds, seen_subs;
static _Atomic uint64_t last_use_ns; /* gh__now_ns() of the last symbolization */

/* ---- Small hash tables ---------------------------------------------------------------- */

/* uintptr_t key (never 0) -> pointer, on the shared map. */
static void *umap_get(const struct gh_u64map *m, uintptr_t key)
{
	const uint64_t *v = gh_u64map_find(m, key);
	return v ? (void *)(uintptr_t)*v : NULL;
}

static bool umap_put(struct gh_u64map *m, uintptr_t key, void *val)
{
	bool fresh;
	uint64_t *v = gh_u64map_slot(m, key, &fresh);
	if (v)
		*v = (uintptr_t)val;
	return v != NULL;
}

static struct gh_u64map addr_cache;  /* return address -> struct sym_ent */
static struct gh_u64map file_cache;  /* interned file name -> struct source */
static struct gh_u64map str_index;   /* string hash -> chain of struct istr */

struct istr {
	struct istr *next;
	char s[];
};

/* One stable copy of s; equal strings give equal pointers. "" on failure. */
static const char *intern(const char *s)
{
	if (!s || !*s)
		return "";
	uint64_t h = 14695981039346656037u;
	for (const char *p = s; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211u;
	uintptr_t key = (uintptr_t)(h | 1);
	struct istr *head = umap_get(&str_index, key);
	for (struct istr *e = head; e; e = e->next)
		if (strcmp(e->s, s) == 0)
			return e->s;
	size_t len = strlen(s);
	struct istr *e = malloc(sizeof *e + len + 1);
	if (!e)
		return "";
	memcpy(e->s, s, len + 1);
	e->next = head;
	if (!umap_put(&str_index, key, e)) {
		free(e);
		return "";
	}
	return e->s;
}

/* ---- Source lines ------------------------------------------------------------------------ */

struct source {
	char *text;
	const char **lines; /* [nlines], stripped, pointing into text */
	unsigned nlines;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static char *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= SOURCE_MAX &&
	    (buf = malloc((size_t)st.st_size + 1)) != NULL) {
		size_t got = gh__read_fd(fd, buf, (size_t)st.st_size);
		buf[got] = '\0';
		*len = got;
	}
	close(fd);
	return buf;
}

/* The file's lines, read once; an unreadable file caches as zero lines. */
static struct source *source_of(const char *file)
{
	struct source *src = umap_get(&file_cache, (uintptr_t)file);
	if (src)
		return src;
	src = calloc(1, sizeof *src);
	if (!src)
		return NULL;
	size_t len = 0;
	char *text = read_file(file, &len);
	if (text) {
		unsigned n = 1;
		for (size_t i = 0; i < len; i++)
			n += text[i] == '\n';
		src->lines = malloc(n * sizeof *src->lines);
		if (src->lines) {
			char *p = text, *end = text + len;
			while (p <= end && src->nlines < n) {
				char *nl = memchr(p, '\n', (size_t)(end - p));
				char *e = nl ? nl : end;
				char *b = p;
				while (b < e && is_space(*b))
					b++;
				char *t = e;
				while (t > b && is_space(t[-1]))
					t--;
				*t = '\0';
				src->lines[src->nlines++] = b;
				if (!nl)
					break;
				p = nl + 1;
			}
			src->text = text;
		} else {
			free(text);
		}
	}
	if (!umap_put(&file_cache, (uintptr_t)file, src)) {
		free(src->lines);
		free(src->text);
		free(src);
		return NULL;
	}
	return src;
}

/* Only absolute paths are read: a relative one (a unit built with
 * -fdebug-prefix-map, like Debian's glibc) names no knowable file, and
 * reading it relative to the current directory could show the wrong text. */
static const char *line_of(const char *file, unsigned lineno)
{
	if (!file || file[0] != '/' || lineno == 0)
		return "";
	struct source *src = source_of(file);
	if (!src || lineno > src->nlines)
		return "";
	return src->lines[lineno - 1];
}

const char *gh__sym_source_line(const char *file, unsigned lineno)
{
	int q = gh__trace_quiet_begin();
	pthread_mutex_lock(&sym_lock);
	const char *l = line_of(intern(file), lineno);
	pthread_mutex_unlock(&sym_lock);
	gh__trace_quiet_end(q);
	return l;
}

/* ---- Modules ----------------------------------------------------------------------------- */

static int loader_counts(struct dl_phdr_info *info, size_t size, void *arg)
{
	unsigned long long *c = arg;
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
		c[0] = info->dlpi_adds;
		c[1] = info->dlpi_subs;
	}
	return 1;
}

/* (Re)reads the module list from /proc/self/maps. Modules still mapped
 * keep their loaded debug information. */
static void report_modules(void)
{
	unsigned long long c[2] = {0, 0};
	dl_iterate_phdr(loader_counts, c);
	seen_adds = c[0];
	seen_subs = c[1];
	dwfl_report_begin(dwfl);
	dwfl_linux_proc_report(dwfl, getpid());
	dwfl_report_end(dwfl, NULL, NULL);
}

static bool modules_changed(void)
{
	unsigned long long c[2] = {0, 0};
	dl_iterate_phdr(loader_counts, c);
	return c[0] != seen_adds || c[1] != seen_subs;
}

/* dwfl_addrmodule may answer with a neighbouring module for an address in
 * a gap between modules (a library dlopen'ed since the last report lands in
 * such a gap): only a module whose range holds pc counts. */
static Dwfl_Module *module_holding(Dwarf_Addr pc)
{
	Dwfl_Module *m = dwfl_addrmodule(dwfl, pc);
	Dwarf_Addr lo = 0, hi = 0;
	if (m && dwfl_module_info(m, NULL, &lo, &hi, NULL, NULL, NULL, NULL) && pc >= lo && pc < hi)
		return m;
	return NULL;
}

static Dwfl_Module *module_of(Dwarf_Addr pc)
{
	if (!dwfl) {
		dwfl = dwfl_begin(&callbacks);
		if (!dwfl)
			return NULL;
		report_modules();
	}
	Dwfl_Module *m = module_holding(pc);
	if (!m && modules_changed()) {
		report_modules();
		m = module_holding(pc);
	}
	return m;
}

/* ---- Symbolization ------------------------------------------------------------------------ */

struct sym_ent {
	size_t n;
	struct gh_trace_frame f[];
};

#define LOGICAL_MAX 64 /* inlining depth kept per physical frame */

static const char *demangled(const char *name)
{
	if (!name || !*name)
		return "";
	if (__cxa_demangle && name[0] == '_' && name[1] == 'Z') {
		int status = 0;
		char *d = __cxa_demangle(name, NULL, NULL, &status);
		if (d && status == 0) {
			const char *r = intern(d);
			free(d);
			return r;
		}
		free(d);
	}
	return intern(name);
}

static const char *die_function(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
	if (!n)
		n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
	if (n)
		return demangled(n);
	return intern(dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &a)));
}

/* An interned absolute path for a file named by a unit's debug information:
 * relative names are joined to the unit's DW_AT_comp_dir when that is
 * absolute, and "." and ".." are folded lexically. (With a relative
 * comp_dir, as in Debian's glibc, the name stays relative.) */
static const char *source_path(Dwarf_Die *cu, const char *file)
{
	if (!file || !*file)
		return NULL;
	Dwarf_Attribute a;
	const char *dir = file[0] == '/' ? NULL : dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &a));
	if (!dir || dir[0] != '/')
		return intern(file);
	size_t cap = strlen(dir) + strlen(file) + 2;
	char *joined = malloc(cap), *out = malloc(cap);
	if (!joined || !out) {
		free(joined);
		free(out);
		return intern(file);
	}
	snprintf(joined, cap, "%s/%s", dir, file);
	size_t n = 0;
	for (char *seg = joined; *seg;) {
		char *end = strchr(seg, '/');
		size_t len = end ? (size_t)(end - seg) : strlen(seg);
		if (len == 0 || (len == 1 && seg[0] == '.')) {
			/* skip */
		} else if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
		} else {
			out[n++] = '/';
			memcpy(out + n, seg, len);
			n += len;
		}
		seg += len + (end != NULL);
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	const char *r = intern(out);
	free(joined);
	free(out);
	return r;
}

/* The compile unit holding pc when the module has no .debug_aranges (clang
 * emits none by default, and elfutils 0.188's dwfl_module_addrdie relies on
 * them): every unit's own address ranges are tested. Each address resolves
 * once (the caller caches), so the walk is paid once per new address. */
static Dwarf_Die *cu_by_ranges(Dwfl_Module *mod, Dwarf_Addr pc, Dwarf_Addr *bias)
{
	Dwarf_Die *cu = NULL;
	while ((cu = dwfl_module_nextcu(mod, cu, bias)) != NULL)
		if (dwarf_haspc(cu, pc - *bias) > 0)
			return cu;
	return NULL;
}

/* A header of the system's C or C++ library (/usr/include/..., a GCC or
 * Clang installation's include/c++/...). */
static bool system_header(const char *file)
{
	return file && (strncmp(file, "/usr/include/", 13) == 0 || strstr(file, "/include/c++/") != NULL);
}

/* Fills f (room for LOGICAL_MAX) for one return address; returns the count. */
static size_t resolve(uintptr_t address, struct gh_trace_frame *f)
{
	Dwarf_Addr pc = address - 1;
	struct gh_trace_frame base = {
		.filename = "<unknown>", .lineno = 0, .line = "", .function = "", .module = "",
		.address = address, .offset = address, .inlined = false,
	};
	Dwfl_Module *mod = module_of(pc);
	if (!mod) {
		f[0] = base;
		return 1;
	}
	Dwarf_Addr load_bias = 0;
	dwfl_module_getelf(mod, &load_bias);
	base.module = intern(dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL));
	base.offset = address - load_bias;
	base.filename = *base.module ? base.module : "<unknown>";
	const char *symbol = dwfl_module_addrname(mod, pc);

	Dwarf_Addr cu_bias = 0;
	Dwarf_Die *cu = dwfl_module_addrdie(mod, pc, &cu_bias);
	if (!cu)
		cu = cu_by_ranges(mod, pc, &cu_bias);
	if (!cu) { /* no debug information: module, line 0, ELF symbol */
		f[0] = base;
		f[0].function = demangled(symbol);
		return 1;
	}
	const char *file = NULL;
	int line = 0;
	Dwfl_Line *l = dwfl_module_getsrc(mod, pc);
	if (l) {
		file = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
	} else { /* found by its ranges: the unit's own line table */
		Dwarf_Line *dl = dwarf_getsrc_die(cu, pc - cu_bias);
		if (dl && (file = dwarf_linesrc(dl, NULL, NULL)) != NULL && dwarf_lineno(dl, &line) != 0)
			line = 0;
	}
	Dwarf_Files *files = NULL;
	size_t nfiles = 0;
	if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0)
		files = NULL;

	Dwarf_Die *scopes = NULL;
	int ns = dwarf_getscopes(cu, pc - cu_bias, &scopes);
	/* The chain of the innermost function by its DIE's parents (as binutils'
	 * addr2line): GCC's ranges of an inlined call sometimes stop short of a
	 * call instruction its callee's ranges still cover, and a chain of
	 * ranges at pc then skips that level (push_back inlined into main,
	 * emplace_back into push_back, seen as emplace_back in main). */
	for (int i = 0; i < ns; i++) {
		int tag = dwarf_tag(&scopes[i]);
		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
			continue;
		Dwarf_Die *chain = NULL;
		int nc = tag == DW_TAG_inlined_subroutine ? dwarf_getscopes_die(&scopes[i], &chain) : -1;
		if (nc > 0) {
			free(scopes);
			scopes = chain;
			ns = nc;
		}
		break;
	}
	size_t n = 0;
	bool done = false;
	for (int i = 0; i < ns && n < LOGICAL_MAX && !done; i++) {
		int tag = dwarf_tag(&scopes[i]);
		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
			continue;
		struct gh_trace_frame *fr = &f[n++];
		*fr = base;
		fr->function = die_function(&scopes[i]);
		if (tag == DW_TAG_subprogram && !*fr->function)
			fr->function = demangled(symbol);
		if (file) {
			fr->filename = source_path(cu, file);
			fr->lineno = line > 0 ? (unsigned)line : 0;
		}
		fr->inlined = tag == DW_TAG_inlined_subroutine;
		if (!fr->inlined) {
			done = true;
			break;
		}
		/* The containing frame is at this inlined call's call site. */
		Dwarf_Attribute a;
		Dwarf_Word v;
		file = NULL;
		line = 0;
		if (files && dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &a), &v) == 0)
			file = dwarf_filesrc(files, v, NULL, NULL);
		if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &a), &v) == 0)
			line = (int)v;
	}
	free(scopes);
	if (!done && n < LOGICAL_MAX) { /* no enclosing subprogram DIE (assembly, odd DWARF) */
		struct gh_trace_frame *fr = &f[n++];
		*fr = base;
		fr->function = demangled(symbol);
		if (file) {
			fr->filename = source_path(cu, file);
			fr->lineno = line > 0 ? (unsigned)line : 0;
		}
	}
	/* Blame the caller: an inlined frame of a system header (std::allocator,
	 * new_allocator.h, vector's push_back) is not the user's line; the first
	 * frame of the chain outside them is, when there is one. */
	size_t k = 0;
	while (k + 1 < n && f[k].inlined && system_header(f[k].filename))
		k++;
	if (k > 0) {
		memmove(f, f + k, (n - k) * sizeof *f);
		n -= k;
	}
	for (size_t i = 0; i < n; i++)
		f[i].line = line_of(f[i].filename == base.module ? NULL : f[i].filename, f[i].lineno);
	return n;
}

static int first_segment_of(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	uintptr_t *seg = arg, first = UINTPTR_MAX;
	bool holds = false;
	struct gh_seg sg;
	for (int i = -1; gh__seg_next(info, &i, 0, &sg);) {
		if (sg.lo < first)
			first = sg.lo;
		holds |= seg[0] >= sg.lo && seg[0] < sg.lo + sg.memsz;
	}
	if (holds)
		seg[1] = first;
	return holds;
}

/* A data symbol (a global) covering addr: dominators.c names the global a
 * retainer's path starts from. */
bool gh__sym_data_name(uintptr_t addr, char *buf, size_t len)
{
	int q = gh__trace_quiet_begin();
	pthread_mutex_lock(&sym_lock);
	bool ok = false;
	/* .bss past the file's last page is an anonymous mapping, outside the
	 * module's range as /proc/self/maps reports it: the module is found by
	 * the loader's segments, then by its first one */
	uintptr_t seg[2] = {addr, 0};
	dl_iterate_phdr(first_segment_of, seg);
	Dwfl_Module *mod = seg[1] ? module_of(seg[1]) : NULL;
	if (mod) {
		GElf_Sym sym;
		GElf_Off off = 0;
		const char *name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
		/* inside the symbol's extent (an object symbol has a size) */
		if (name && *name && off < (sym.st_size ? sym.st_size : 8)) {
			snprintf(buf, len, "%s", name);
			ok = true;
		}
	}
	pthread_mutex_unlock(&sym_lock);
	gh__trace_quiet_end(q);
	return ok;
}

size_t gh__sym_frames(uintptr_t address, const struct gh_trace_frame **frames)
{
	static const struct gh_trace_frame unknown = {
		.filename = "<unknown>", .line = "", .function = "", .module = "",
	};
	int q = gh__trace_quiet_begin();
	pthread_mutex_lock(&sym_lock);
	atomic_store_explicit(&last_use_ns, gh__now_ns(), memory_order_relaxed);
	struct sym_ent *e = address ? umap_get(&addr_cache, address) : NULL;
	if (!e && address) {
		struct gh_trace_frame tmp[LOGICAL_MAX];
		size_t n = resolve(address, tmp);
		e = malloc(sizeof *e + n * sizeof tmp[0]);
		if (e) {
			e->n = n;
			memcpy(e->f, tmp, n * sizeof tmp[0]);
			if (!umap_put(&addr_cache, address, e)) {
				free(e);
				e = NULL;
			}
		}
	}
	pthread_mutex_unlock(&sym_lock);
	gh__trace_quiet_end(q);
	if (!e) {
		*frames = &unknown;
		return 1;
	}
	*frames = e->f;
	return e->n;
}

/* ---- Giving the memory back ---------------------------------------------------------------- */

static void umap_free(struct gh_u64map *m, void (*free_val)(void *))
{
	for (size_t i = 0; m->keys && i <= m->mask; i++)
		if (m->keys[i])
			free_val((void *)(uintptr_t)m->vals[i]);
	gh_u64map_free(m);
}

static void free_source(void *v)
{
	struct source *src = v;
	free(src->lines);
	free(src->text);
	free(src);
}

static void free_chain(void *v)
{
	for (struct istr *e = v, *next; e; e = next) {
		next = e->next;
		free(e);
	}
}

bool gh__sym_release(uint64_t idle_ns, bool force)
{
	int q = gh__trace_quiet_begin();
	pthread_mutex_lock(&sym_lock);
	uint64_t last = atomic_load_explicit(&last_use_ns, memory_order_relaxed);
	bool held = dwfl || addr_cache.n || file_cache.n || str_index.n;
	bool go = held && (force || gh__now_ns() - last >= idle_ns);
	if (go) {
		umap_free(&addr_cache, free);
		umap_free(&file_cache, free_source);
		umap_free(&str_index, free_chain);
		if (dwfl)
			dwfl_end(dwfl);
		dwfl = NULL;
		seen_adds = seen_subs = 0;
	}
	pthread_mutex_unlock(&sym_lock);
	gh__trace_quiet_end(q);
	return go;
}

/* ---- How the executable was compiled ---------------------------------------------------------
 * For the unwinder's automatic choice (unwind.c): GCC records the command
 * line of every compilation unit in DW_AT_producer (-grecord-gcc-switches,
 * its default). glassheap's own units (its alloc/ and http/ directories, as
 * this file was compiled) are left out: they always keep frame pointers. */

static const char *last_of(const char *s, const char *needle)
{
	const char *r = NULL;
	for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
		r = p;
	return r;
}

/* 1: the unit keeps frame pointers; 0: it omits them; -1: cannot tell. */
static int producer_keeps_fp(const char *producer)
{
	if (!producer || strncmp(producer, "GNU ", 4) != 0)
		return -1; /* clang records no switches by default */
	const char *no = last_of(producer, " -fno-omit-frame-pointer");
	const char *yes = last_of(producer, " -fomit-frame-pointer");
	if (no || yes)
		return no > yes;
	const char *o = last_of(producer, " -O");
	/* GCC omits frame pointers from -O1 (and -Og, -Os...) up; -O0 keeps them. */
	return !o || o[3] == '0';
}

static bool is_glassheap_unit(const char *name)
{
	static char root[1024];
	if (!root[0]) {
		snprintf(root, sizeof root, "%s", __FILE__);
		char *cut = strstr(root, "/alloc/symbols.c");
		if (cut)
			*cut = '\0';
	}
	size_t n = strlen(root);
	return name && strncmp(name, root, n) == 0 &&
	       (strncmp(name + n, "/alloc/", 7) == 0 || strncmp(name + n, "/http/", 6) == 0);
}

struct first_module {
	uintptr_t addr;
};

static int main_program_addr(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct gh_seg sg;
	int i = -1;
	if (gh__seg_next(info, &i, 0, &sg))
		((struct first_module *)arg)->addr = sg.lo;
	return 1;
}

void gh__sym_exe_frame_pointers(unsigned *with_fp, unsigned *without_fp)
{
	*with_fp = *without_fp = 0;
	struct first_module fm = {0};
	dl_iterate_phdr(main_program_addr, &fm);
	int q = gh__trace_quiet_begin();
	pthread_mutex_lock(&sym_lock);
	Dwfl_Module *mod = fm.addr ? module_of(fm.addr) : NULL;
	Dwarf_Addr bias;
	Dwarf *dw = mod ? dwfl_module_getdwarf(mod, &bias) : NULL;
	Dwarf_Off off = 0, next;
	size_t hsize;
	while (dw && dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die die;
		if (dwarf_offdie(dw, off + hsize, &die) != NULL && !is_glassheap_unit(dwarf_diename(&die))) {
			Dwarf_Attribute a;
			int keeps = producer_keeps_fp(dwarf_formstring(dwarf_attr(&die, DW_AT_producer, &a)));
			if (keeps == 1)
				(*with_fp)++;
			else if (keeps == 0)
				(*without_fp)++;
		}
		off = next;
	}
	pthread_mutex_unlock(&sym_lock);
	gh__trace_quiet_end(q);
}

/* ---- Fork ------------------------------------------------------------------------------------
 * Symbolizing can take long (reading debug information), so fork does not
 * wait for it: the child drops the parent's state, whatever it was in the
 * middle of, and starts over (frames handed out before stay valid: nothing
 * is freed). */

void gh__sym_atfork_prepare(void)
{
}

void gh__sym_atfork_parent(void)
{
}

void gh__sym_atfork_child(void)
{
	pthread_mutex_init(&sym_lock, NULL);
	dwfl = NULL;
	memset(&addr_cache, 0, sizeof addr_cache);
	memset(&file_cache, 0, sizeof file_cache);
	memset(&str_index, 0, sizeof str_index);
}

/* ---- A site for GET /debug/memory/sites (sites.h) ------------------------------------ */

void gh__sites_symbolize(uint32_t site, struct gh_site_sym *out)
{
	out->site[0] = '\0';
	out->module = "";
	out->function = "";
	out->filename = "";
	out->lineno = 0;
	out->line = "";
	if (site == GH_SITE_OTHER) {
		snprintf(out->site, sizeof out->site, "%s", GH_SITE_OTHER_NAME);
		out->module = GH_SITE_OTHER_NAME;
		return;
	}
	uintptr_t addr = gh__site_address(site);
	if (!addr)
		return;
	gh_site_info_t info = {0, NULL, 0};
	if (gh_site_resolve(site, &info) == 0 && info.module && info.module[0])
		snprintf(out->site, sizeof out->site, "%s+0x%lx", info.module, (unsigned long)info.offset);
	else
		snprintf(out->site, sizeof out->site, "0x%lx", (unsigned long)addr);
	const struct gh_trace_frame *f = NULL;
	int q = gh__trace_quiet_begin();
	size_t nf = gh__sym_frames(addr, &f);
	gh__trace_quiet_end(q);
	if (nf == 0)
		return;
	out->module = f[0].module ? f[0].module : "";
	out->function = f[0].function ? f[0].function : "";
	if (f[0].lineno) {
		out->filename = f[0].filename ? f[0].filename : "";
		out->lineno = f[0].lineno;
		out->line = f[0].line ? f[0].line : "";
	}
	if (!out->module[0] && info.module)
		out->module = info.module;
}
