/*
 * wrappers.c -- "blame the caller": which code is an allocation wrapper, so
 * that an allocation made inside it is attributed to the first frame
 * outside it (sites.c does the attributing, once per interned site).
 *
 * A wrapper is either a whole module (libc.so.6, libstdc++.so.6,
 * libglib-2.0.so.0 by default: every allocation they make is on behalf of
 * their caller) or a function, found by its ELF symbol (.dynsym in memory,
 * .symtab from the file) in any module: libc's strdup family, GLib's g_malloc
 * family, and the standard library's template code instantiated in the
 * program itself (functions of namespace std and __gnu_cxx, e.g.
 * std::vector<T>::_M_realloc_insert, whose code comes from the system
 * headers; instantiations over a lambda are left out, since the lambda's own
 * code is inlined into them). GLASSHEAP_WRAPPERS and gh_wrapper_add add more.
 *
 * Everything here runs inside malloc (the slow path of a new site): no
 * allocation, only raw file reads (open, mmap) and metadata memory. A
 * module's ranges are computed once, the first time one of its addresses is
 * classified, and kept sorted for binary search.
 */
#include "internal.h"
#include "elfseg.h"

#include <fcntl.h>
#include <link.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MODULES_MAX 512
#define USER_MAX 64
#define NAME_MAX_LEN 256

struct range {
	uintptr_t lo, hi;
};

struct module {
	uintptr_t base;       /* load bias (dlpi_addr) */
	uintptr_t lo, hi;     /* extent of its executable segments */
	bool whole;           /* every address of the module is a wrapper */
	bool scanned;         /* ranges computed */
	struct range *ranges; /* wrapper functions, sorted by lo */
	size_t nranges;
	char path[NAME_MAX_LEN];
};

static pthread_mutex_t wrap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct module *modules; /* [MODULES_MAX], metadata */
static size_t nmodules;
static bool defaults_off;
static char user_funcs[USER_MAX][NAME_MAX_LEN];
static size_t nuser_funcs;
static char user_modules[USER_MAX][NAME_MAX_LEN];
static size_t nuser_modules;

static const char *const default_modules[] = {"libc.so", "libstdc++.so", "libglib-2.0.so"};
static const char *const default_funcs[] = {
	"strdup", "__strdup", "strndup", "__strndup", "wcsdup", "asprintf", "__asprintf", "__asprintf_chk",
	"vasprintf", "__vasprintf", "__vasprintf_chk", "getline", "getdelim", "__getdelim", "open_memstream",
	"open_wmemstream", "realpath", "__realpath", "canonicalize_file_name", "scandir", "scandir64",
	"scandirat", "scandirat64", "g_malloc", "g_malloc0", "g_realloc", "g_try_malloc", "g_try_malloc0",
	"g_try_realloc", "g_malloc_n", "g_malloc0_n", "g_realloc_n", "g_try_malloc_n", "g_try_malloc0_n",
	"g_try_realloc_n", "g_strdup", "g_strndup", "g_memdup", "g_memdup2", "g_strdup_printf",
	"g_strdup_vprintf", "g_strconcat", "g_strjoin", "g_slice_alloc", "g_slice_alloc0", "g_slice_copy",
	"g_aligned_alloc", "g_aligned_alloc0",
};

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* "libfoo.so" names libfoo.so, libfoo.so.1, libfoo.so.1.2.3 */
static bool module_name_matches(const char *path, const char *want)
{
	const char *b = base_name(path);
	size_t n = strlen(want);
	return strncmp(b, want, n) == 0 && (b[n] == '\0' || b[n] == '.');
}

static bool is_whole(const char *path)
{
	if (!defaults_off)
		for (size_t i = 0; i < sizeof default_modules / sizeof *default_modules; i++)
			if (module_name_matches(path, default_modules[i]))
				return true;
	for (size_t i = 0; i < nuser_modules; i++)
		if (module_name_matches(path, user_modules[i]))
			return true;
	return false;
}

/* The standard library's own template code: namespaces std and __gnu_cxx,
 * mangled (_ZNSt..., _ZNKSt..., _ZSt..., the std:: abbreviations Sa Sb Ss Si
 * So Sd, _ZN9__gnu_cxx...), but not an instantiation over a closure type
 * ("Ul"): std::function and std::thread run the lambda inlined there. */
static bool is_std_function(const char *s)
{
	if (strncmp(s, "_Z", 2) != 0)
		return false;
	const char *p = s + 2;
	if (*p == 'N') {
		p++;
		while (*p == 'K' || *p == 'V' || *p == 'r')
			p++;
	}
	bool std = (p[0] == 'S' && strchr("tabsiod", p[1]) && p[1]) || strncmp(p, "9__gnu_cxx", 10) == 0;
	return std && !strstr(s, "Ul");
}

static bool is_wrapper_name(const char *s)
{
	if (!defaults_off) {
		for (size_t i = 0; i < sizeof default_funcs / sizeof *default_funcs; i++)
			if (strcmp(s, default_funcs[i]) == 0)
				return true;
		if (is_std_function(s))
			return true;
	}
	for (size_t i = 0; i < nuser_funcs; i++)
		if (strcmp(s, user_funcs[i]) == 0)
			return true;
	return false;
}

/* ---- ELF symbols, from the file (raw system calls, no allocation) ------------------ */

struct scan {
	uintptr_t bias;
	struct range *out; /* NULL: count only */
	size_t n, cap;
};

static void scan_table(struct scan *sc, const unsigned char *map, size_t size, const ElfW(Shdr) *sh,
		       const ElfW(Shdr) *str)
{
	if (sh->sh_offset > size || sh->sh_size > size - sh->sh_offset || sh->sh_entsize != sizeof(ElfW(Sym)) ||
	    str->sh_offset > size || str->sh_size > size - str->sh_offset || str->sh_size == 0)
		return;
	const ElfW(Sym) *syms = (const ElfW(Sym) *)(map + sh->sh_offset);
	const char *strs = (const char *)(map + str->sh_offset);
	size_t nsyms = sh->sh_size / sizeof *syms;
	for (size_t i = 0; i < nsyms; i++) {
		const ElfW(Sym) *s = &syms[i];
		if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_shndx == SHN_UNDEF || s->st_size == 0 ||
		    s->st_name >= str->sh_size || memchr(strs + s->st_name, '\0', str->sh_size - s->st_name) == NULL)
			continue;
		if (!is_wrapper_name(strs + s->st_name))
			continue;
		if (sc->out && sc->n < sc->cap)
			sc->out[sc->n] = (struct range){sc->bias + s->st_value, sc->bias + s->st_value + s->st_size};
		sc->n++;
	}
}

static void scan_file(struct scan *sc, const char *path)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	if (syscall(SYS_fstat, fd, &st) != 0 || st.st_size < (off_t)sizeof(ElfW(Ehdr))) {
		syscall(SYS_close, fd);
		return;
	}
	size_t size = (size_t)st.st_size;
	void *m = (void *)syscall(SYS_mmap, NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	syscall(SYS_close, fd);
	if ((long)m < 0 && (long)m > -4096)
		return;
	const unsigned char *map = m;
	const ElfW(Ehdr) *eh = m;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
	    eh->e_shentsize == sizeof(ElfW(Shdr)) && eh->e_shoff < size &&
	    (size - eh->e_shoff) / sizeof(ElfW(Shdr)) >= eh->e_shnum) {
		const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(map + eh->e_shoff);
		for (unsigned i = 0; i < eh->e_shnum; i++)
			if ((sh[i].sh_type == SHT_SYMTAB || sh[i].sh_type == SHT_DYNSYM) && sh[i].sh_link < eh->e_shnum)
				scan_table(sc, map, size, &sh[i], &sh[sh[i].sh_link]);
	}
	syscall(SYS_munmap, m, size);
}

/* Shell sort (no qsort: glibc's may call malloc). */
static void sort_ranges(struct range *r, size_t n)
{
	for (size_t gap = n / 2; gap > 0; gap = gap == 2 ? 1 : gap * 5 / 11)
		for (size_t i = gap; i < n; i++) {
			struct range t = r[i];
			size_t j = i;
			for (; j >= gap && r[j - gap].lo > t.lo; j -= gap)
				r[j] = r[j - gap];
			r[j] = t;
		}
}

static void scan_module(struct module *m)
{
	m->scanned = true;
	m->nranges = 0;
	m->ranges = NULL;
	m->whole = is_whole(m->path);
	if (m->whole || m->path[0] != '/')
		return;
	struct scan sc = {.bias = m->base};
	scan_file(&sc, m->path);
	if (sc.n == 0)
		return;
	sc.cap = sc.n;
	sc.n = 0;
	sc.out = gh__meta_alloc(sc.cap * sizeof *sc.out);
	if (!sc.out)
		return;
	scan_file(&sc, m->path);
	if (sc.n > sc.cap)
		sc.n = sc.cap;
	sort_ranges(sc.out, sc.n);
	m->ranges = sc.out;
	m->nranges = sc.n;
}

/* ---- Modules ---------------------------------------------------------------------- */

struct find {
	uintptr_t addr;
	struct module m;
	bool found;
	uintptr_t gap_lo, gap_hi;             /* not found: no module's segment in [gap_lo, gap_hi) */
	bool in_segment;                      /* addr is in some module's segment */
	unsigned long long adds, subs;        /* the loader's generation */
};

/* Code outside every module (a JIT's, generated code): the gaps between
 * modules that held such addresses, at the loader's generation then, so
 * that each new address there costs a look at the generation only. */
struct gap {
	uintptr_t lo, hi;
	unsigned long long adds, subs;
};
#define GAPS 8
static struct gap gaps[GAPS];
static unsigned gap_next;

static bool has_generation(size_t size)
{
	return size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(unsigned long long);
}

static int gen_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct find *f = arg;
	if (has_generation(size)) {
		f->adds = info->dlpi_adds;
		f->subs = info->dlpi_subs;
	}
	return 1;
}

static int find_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct find *f = arg;
	if (has_generation(size)) {
		f->adds = info->dlpi_adds;
		f->subs = info->dlpi_subs;
	}
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	bool in = false;
	struct gh_seg sg;
	for (int i = -1; gh__seg_next(info, &i, 0, &sg);) {
		uintptr_t a = sg.lo, end = sg.lo + sg.memsz;
		/* the gap around addr, over every segment */
		if (end <= f->addr && end > f->gap_lo)
			f->gap_lo = end;
		if (a > f->addr && a < f->gap_hi)
			f->gap_hi = a;
		if (f->addr - a < sg.memsz)
			f->in_segment = true; /* not in a gap, even if not code */
		if (!(sg.flags & PF_X))
			continue;
		if (a < lo)
			lo = a;
		if (end > hi)
			hi = end;
		if (f->addr - a < sg.memsz)
			in = true;
	}
	if (!in)
		return 0;
	f->m.base = info->dlpi_addr;
	f->m.lo = lo;
	f->m.hi = hi;
	const char *name = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : "/proc/self/exe";
	size_t n = strlen(name);
	if (n >= sizeof f->m.path)
		n = sizeof f->m.path - 1;
	memcpy(f->m.path, name, n);
	f->m.path[n] = '\0';
	f->found = true;
	return 1;
}

/* The cached module holding addr, scanned; NULL when none. Under wrap_lock. */
static struct module *cached_module(uintptr_t addr)
{
	for (size_t i = 0; i < nmodules; i++)
		if (addr - modules[i].lo < modules[i].hi - modules[i].lo) {
			if (!modules[i].scanned)
				scan_module(&modules[i]);
			return &modules[i];
		}
	return NULL;
}

/* Adds the module f found (replacing one unloaded from its range), scanned.
 * Under wrap_lock. */
static struct module *add_module(const struct find *f)
{
	struct module *m = NULL;
	for (size_t i = 0; i < nmodules && !m; i++)
		if (modules[i].lo < f->m.hi && f->m.lo < modules[i].hi)
			m = &modules[i];
	if (!m) {
		if (!modules)
			modules = gh__meta_alloc(MODULES_MAX * sizeof *modules);
		if (!modules || nmodules >= MODULES_MAX)
			return NULL;
		m = &modules[nmodules++];
	}
	*m = f->m;
	scan_module(m);
	return m;
}

static bool contains(const struct module *m, uintptr_t addr)
{
	if (m->whole)
		return true;
	size_t lo = 0, hi = m->nranges; /* first range with lo > addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->ranges[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Ranges may nest (aliases): look back over a few. */
	for (size_t k = lo; k > 0 && lo - k < 8; k--)
		if (addr - m->ranges[k - 1].lo < m->ranges[k - 1].hi - m->ranges[k - 1].lo)
			return true;
	return false;
}

/* ---- Entry points ---------------------------------------------------------------- */

static GH_TLS bool tl_classifying;

bool gh__wrap_contains(uintptr_t ra)
{
	if (ra == 0 || tl_classifying)
		return false;
	tl_classifying = true;
	/* ra - 1: the call instruction (a call ending a function returns past
	 * it). The loader's list is read without wrap_lock held: a callback
	 * of dl_iterate_phdr that allocates (the loader's lock held) must not
	 * wait for it. */
	uintptr_t addr = ra - 1;
	pthread_mutex_lock(&wrap_lock);
	struct module *m = cached_module(addr);
	bool r = m && contains(m, addr);
	pthread_mutex_unlock(&wrap_lock);
	if (!m) {
		struct find f = {.addr = addr, .gap_lo = 0, .gap_hi = UINTPTR_MAX};
		/* a known gap, at the same generation: outside every module */
		pthread_mutex_lock(&wrap_lock);
		const struct gap *g = NULL;
		for (unsigned i = 0; i < GAPS && !g; i++)
			if (gaps[i].hi > gaps[i].lo && addr - gaps[i].lo < gaps[i].hi - gaps[i].lo)
				g = &gaps[i];
		struct gap known = g ? *g : (struct gap){0, 0, 0, 0};
		pthread_mutex_unlock(&wrap_lock);
		if (g) {
			struct find cur = {.adds = ~0ULL};
			dl_iterate_phdr(gen_cb, &cur);
			if (cur.adds == known.adds && cur.subs == known.subs) {
				tl_classifying = false;
				return false;
			}
		}
		f.adds = ~0ULL;
		dl_iterate_phdr(find_cb, &f);
		if (!f.found && !f.in_segment && f.adds != ~0ULL && f.gap_hi > f.gap_lo) {
			pthread_mutex_lock(&wrap_lock);
			gaps[gap_next++ % GAPS] = (struct gap){f.gap_lo, f.gap_hi, f.adds, f.subs};
			pthread_mutex_unlock(&wrap_lock);
		}
		if (f.found) {
			pthread_mutex_lock(&wrap_lock);
			m = cached_module(addr);
			if (!m)
				m = add_module(&f);
			r = m && contains(m, addr);
			pthread_mutex_unlock(&wrap_lock);
		}
	}
	tl_classifying = false;
	return r;
}

/* One spec: "name" (a function) or "module:libfoo.so". Under wrap_lock. */
static int add_spec(const char *s, size_t len)
{
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0)
		return 0;
	if (len == 9 && memcmp(s, "-defaults", 9) == 0) {
		defaults_off = true;
		return 0;
	}
	bool mod = len > 7 && memcmp(s, "module:", 7) == 0;
	if (mod) {
		s += 7;
		len -= 7;
	}
	if (len >= NAME_MAX_LEN || memchr(s, '\0', len))
		return EINVAL;
	char (*list)[NAME_MAX_LEN] = mod ? user_modules : user_funcs;
	size_t *n = mod ? &nuser_modules : &nuser_funcs;
	for (size_t i = 0; i < *n; i++)
		if (strlen(list[i]) == len && memcmp(list[i], s, len) == 0)
			return 0;
	if (*n >= USER_MAX)
		return ENOSPC;
	memcpy(list[*n], s, len);
	list[*n][len] = '\0';
	(*n)++;
	return 0;
}

/* Every module is scanned again at its next classification. The old
 * ranges stay in metadata (never freed): adding wrappers is rare. */
static void forget_modules(void)
{
	for (size_t i = 0; i < nmodules; i++)
		modules[i].scanned = false;
}

static int add_list(const char *list)
{
	int rc = 0;
	pthread_mutex_lock(&wrap_lock);
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		int r = add_spec(p, len);
		if (r && !rc)
			rc = r;
		p += len;
		if (*p == ',')
			p++;
	}
	forget_modules();
	pthread_mutex_unlock(&wrap_lock);
	return rc;
}

/* GLASSHEAP_WRAPPERS, read at initialization (no allocation). */
void gh__wrappers_init(void)
{
	const char *s = getenv("GLASSHEAP_WRAPPERS");
	if (s && *s && add_list(s) != 0)
		gh__log("GLASSHEAP_WRAPPERS: some entries ignored (too long, or more than %d)", USER_MAX);
}

GH_API int gh_wrapper_add(const char *spec)
{
	if (!spec || !*spec)
		return EINVAL;
	int rc = add_list(spec);
	gh__sites_reclassify();
	return rc;
}

void gh__wrappers_atfork_prepare(void)
{
	pthread_mutex_lock(&wrap_lock);
}

void gh__wrappers_atfork_parent(void)
{
	pthread_mutex_unlock(&wrap_lock);
}

void gh__wrappers_atfork_child(void)
{
	pthread_mutex_init(&wrap_lock, NULL);
	tl_classifying = false;
}

/* libunwind's global state, set up outside malloc (after heap.c's
 * constructor, 101, and trace.c's, 102): the first wrapper site unwinds. */
__attribute__((constructor(103))) static void wrappers_constructor(void)
{
	gh__unwind_warm_up(GH_UNWIND_DWARF);
}
