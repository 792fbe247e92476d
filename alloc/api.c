/*
 * api.c -- the public typed-allocation and pointer-query API of glassheap.h:
 * gh_malloc_typed and friends, gh_retag, gh_ptr_info and its shorthands.
 * Thin wrappers over heap.c that capture the caller's return address as
 * the allocation site.
 */
#include "internal.h"

#define CALLER() ((uintptr_t)__builtin_return_address(0))

static gh_type_t typed(gh_type_t type)
{
	return gh__type_valid(type) ? type : GH_TYPE_MALLOC;
}

void *gh_malloc_typed(gh_type_t type, size_t size)
{
	return gh__alloc(size, typed(type), CALLER(), false);
}

void *gh_calloc_typed(gh_type_t type, size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return gh__alloc(total, typed(type), CALLER(), true);
}

void *gh_realloc_typed(gh_type_t type, void *ptr, size_t size)
{
	return gh__realloc(ptr, size, typed(type), CALLER(), "gh_realloc_typed");
}

void *gh_aligned_alloc_typed(gh_type_t type, size_t alignment, size_t size)
{
	if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	return gh__alloc_aligned(alignment, size, typed(type), CALLER());
}

void gh_free(void *ptr)
{
	gh__free(ptr, "gh_free");
}

int gh_retag(void *ptr, gh_type_t type)
{
	gh_type_t old;
	size_t size;
	if (!gh__type_valid(type) || !gh__heap_retag((uintptr_t)ptr, type, &old, &size))
		return EINVAL;
	if (old != type)
		gh__count_retag(old, type, size);
	return 0;
}

int gh_ptr_info(const void *ptr, gh_ptr_info_t *info)
{
	struct gh_meta m;
	uintptr_t u = gh__heap_lookup((uintptr_t)ptr);
	if (!u || !gh__meta_live(u, &m))
		return ENOENT;
	info->base = (void *)u;
	info->size = m.size;
	info->type = m.type;
	info->site = gh__meta_site(&m);
	return 0;
}

gh_type_t gh_ptr_type(const void *ptr)
{
	struct gh_meta m;
	return gh__meta_live((uintptr_t)ptr, &m) ? m.type : GH_TYPE_NONE;
}

uint32_t gh_ptr_site(const void *ptr)
{
	struct gh_meta m;
	return gh__meta_live((uintptr_t)ptr, &m) ? gh__meta_site(&m) : 0;
}

size_t gh_ptr_size(const void *ptr)
{
	struct gh_meta m;
	return gh__meta_live((uintptr_t)ptr, &m) ? m.size : 0;
}
