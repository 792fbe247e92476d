/*
 * elfseg.h -- the loadable segments of a module dl_iterate_phdr reports,
 * one walk for every place that asks which module holds an address, where
 * a module's globals are, or where its code is (mark.c, sites.c, unwind.c,
 * symbols.c, wrappers.c, dominators.c, http/export.c).
 *
 *   struct gh_seg sg;
 *   for (int i = -1; gh__seg_next(info, &i, PF_X, &sg);)
 *           ... sg.lo, sg.lo + sg.memsz ...
 *
 * Inline and allocation-free: callable with the world stopped.
 */
#ifndef GH_ELFSEG_H
#define GH_ELFSEG_H

#include <link.h>
#include <stdbool.h>
#include <stdint.h>

struct gh_seg {
	uintptr_t lo;          /* in memory: dlpi_addr + p_vaddr */
	size_t memsz, filesz;  /* p_memsz (with .bss), p_filesz (backed by the file) */
	uint64_t offset;       /* p_offset */
	unsigned flags;        /* PF_R | PF_W | PF_X */
};

/* The next PT_LOAD segment of info after index *i (start from -1) that has
 * every flag of flags (0: any), into *sg; false when there is none left. */
static inline bool gh__seg_next(const struct dl_phdr_info *info, int *i, unsigned flags, struct gh_seg *sg)
{
	while (++*i < info->dlpi_phnum) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[*i];
		if (ph->p_type != PT_LOAD || (ph->p_flags & flags) != flags)
			continue;
		*sg = (struct gh_seg){info->dlpi_addr + ph->p_vaddr, ph->p_memsz, ph->p_filesz, ph->p_offset,
				      ph->p_flags};
		return true;
	}
	return false;
}

#endif /* GH_ELFSEG_H */
