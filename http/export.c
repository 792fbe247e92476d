/*
 * export.c -- helpers shared by the exporters (export.h): the growable
 * buffer, the folded/flame-graph text of a frame, the loaded modules with
 * their build ids (pprof's Mapping table), and the process's memory from
 * /proc.
 *
 * Runs on the server thread, outside malloc; may allocate.
 */
#include "internal.h"
#include "../alloc/elfseg.h"

#include "export.h"
#include "utf8.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Buffer ------------------------------------------------------------------------ */

static bool reserve(struct gh_buf *b, size_t more)
{
	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1) {
		if (cap > SIZE_MAX / 2) {
			b->failed = true;
			return false;
		}
		cap *= 2;
	}
	char *p = realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void gh__buf_put(struct gh_buf *b, const void *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void gh__buf_puts(struct gh_buf *b, const char *s)
{
	gh__buf_put(b, s, strlen(s));
}

void gh__buf_printf(struct gh_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n < sizeof small) {
		gh__buf_put(b, small, (size_t)n);
		return;
	}
	if (!reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *gh__buf_take(struct gh_buf *b, size_t *len)
{
	if (b->failed || !reserve(b, 0)) {
		gh__buf_free(b);
		*len = 0;
		return NULL;
	}
	char *p = b->p;
	*len = b->len;
	*b = (struct gh_buf){0};
	return p;
}

void gh__buf_free(struct gh_buf *b)
{
	free(b->p);
	*b = (struct gh_buf){0};
}

void gh__buf_send(struct gh_http_call *call, const char *content_type, struct gh_buf *b)
{
	size_t len;
	char *text = gh__buf_take(b, &len);
	if (text)
		gh__http_raw(call, content_type, text, len, true);
	else
		gh__http_detail(call, 500, "out of memory");
}

bool gh__grow(void **p, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return true;
	size_t c = *cap ? *cap * 2 : 64;
	void *q = realloc(*p, c * elem);
	if (!q)
		return false;
	*p = q;
	*cap = c;
	return true;
}

/* ---- Frames ------------------------------------------------------------------------ */

const char *gh__export_basename(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;
	return slash ? slash + 1 : path ? path : "";
}

/* Appends s with ';' -> ':', controls and ill-formed UTF-8 -> '?'. */
static void put_safe(struct gh_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t k = gh__utf8_len(p + i, n - i);
		if (k == 0 || (k == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
			gh__buf_put(b, "?", 1);
			i++;
			continue;
		}
		if (k == 1 && p[i] == ';') {
			gh__buf_put(b, ":", 1);
			i++;
			continue;
		}
		gh__buf_put(b, p + i, k);
		i += k;
	}
}

void gh__export_frame_text(struct gh_buf *b, const struct gh_trace_frame *f)
{
	size_t start = b->len;
	const char *fn = f->function && f->function[0] ? f->function : NULL;
	const char *mod = gh__export_basename(f->module && f->module[0] ? f->module : "?");
	if (fn) {
		put_safe(b, fn);
		gh__buf_put(b, " (", 2);
		if (f->lineno > 0) {
			put_safe(b, f->filename ? f->filename : "?");
			gh__buf_printf(b, ":%u)", f->lineno);
		} else {
			put_safe(b, mod);
			gh__buf_printf(b, "+0x%lx)", (unsigned long)f->offset);
		}
	} else {
		put_safe(b, mod);
		gh__buf_printf(b, "+0x%lx", (unsigned long)f->offset);
	}
	/* A trailing space would merge with the separator before the value. */
	while (!b->failed && b->len > start && b->p[b->len - 1] == ' ')
		b->p[--b->len] = '\0';
	if (!b->failed && b->len == start)
		gh__buf_put(b, "?", 1);
}

/* ---- Loaded modules ------------------------------------------------------------------ */

struct mod_walk {
	struct gh_module_seg *v;
	size_t n, cap;
	bool failed;
	char exe[512];
};

/* The hex NT_GNU_BUILD_ID of a loaded object from its PT_NOTE segments. */
static void build_id(const struct dl_phdr_info *info, char *out, size_t cap)
{
	out[0] = '\0';
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			size_t name_sz = (nh->n_namesz + 3) & ~(size_t)3, desc_sz = (nh->n_descsz + 3) & ~(size_t)3;
			const char *name = p + sizeof *nh;
			const unsigned char *desc = (const unsigned char *)name + name_sz;
			if ((const char *)desc + desc_sz > end)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
				size_t k = 0;
				for (size_t j = 0; j < nh->n_descsz && k + 3 <= cap; j++)
					k += (size_t)snprintf(out + k, cap - k, "%02x", desc[j]);
				return;
			}
			p = (const char *)desc + desc_sz;
		}
	}
}

static int on_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct mod_walk *w = arg;
	const char *name = info->dlpi_name;
	bool main_prog = !name || !name[0];
	if (!main_prog && strncmp(name, "linux-vdso", 10) == 0)
		return 0;
	char id[129];
	build_id(info, id, sizeof id);
	struct gh_seg sg;
	for (int i = -1; gh__seg_next(info, &i, PF_X, &sg);) {
		if (!gh__grow((void **)&w->v, &w->cap, w->n, sizeof *w->v)) {
			w->failed = true;
			return 1;
		}
		struct gh_module_seg *s = &w->v[w->n++];
		s->start = sg.lo;
		s->limit = sg.lo + sg.memsz;
		s->file_offset = sg.offset;
		snprintf(s->path, sizeof s->path, "%s", main_prog ? w->exe : name);
		memcpy(s->build_id, id, sizeof id);
	}
	return 0;
}

size_t gh__export_modules(struct gh_module_seg **out)
{
	struct mod_walk w = {0};
	ssize_t n = readlink("/proc/self/exe", w.exe, sizeof w.exe - 1);
	w.exe[n > 0 ? n : 0] = '\0';
	dl_iterate_phdr(on_module, &w);
	if (w.failed) {
		free(w.v);
		*out = NULL;
		return 0;
	}
	*out = w.v;
	return w.n;
}

/* ---- /proc ------------------------------------------------------------------------- */

void gh__export_proc_mem(uint64_t *rss, uint64_t *vsz)
{
	*rss = *vsz = 0;
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	unsigned long long size, resident;
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	*rss = (uint64_t)resident * page;
	*vsz = (uint64_t)size * page;
}
