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

/* The header of the live allocation starting exactly at ptr, or NULL. */
static struct gh_hdr *live_start(const void *ptr)
{
	uintptr_t u = (uintptr_t)ptr;
	if (!gh__cage_contains(u) || (u & 15) || gh__heap_lookup(u) != u)
		return NULL;
	return gh__hdr_of(u);
}

int gh_retag(void *ptr, gh_type_t type)
{
	struct gh_hdr *h = live_start(ptr);
	if (!h || !gh__type_valid(type))
		return EINVAL;
	gh_type_t old = GH_LOAD(&h->type);
	if (old == type)
		return 0;
	GH_STORE(&h->type, type);
	gh__count_retag(old, type, gh__hdr_size(GH_LOAD(&h->meta)));
	return 0;
}

int gh_ptr_info(const void *ptr, gh_ptr_info_t *info)
{
	uintptr_t u = gh__heap_lookup((uintptr_t)ptr);
	if (!u)
		return ENOENT;
	const struct gh_hdr *h = gh__hdr_of(u);
	info->base = (void *)u;
	info->size = gh__hdr_size(GH_LOAD(&h->meta));
	info->type = GH_LOAD(&h->type);
	info->site = gh__hdr_site(h);
	return 0;
}

gh_type_t gh_ptr_type(const void *ptr)
{
	struct gh_hdr *h = live_start(ptr);
	return h ? GH_LOAD(&h->type) : GH_TYPE_NONE;
}

uint32_t gh_ptr_site(const void *ptr)
{
	struct gh_hdr *h = live_start(ptr);
	return h ? gh__hdr_site(h) : 0;
}

size_t gh_ptr_size(const void *ptr)
{
	struct gh_hdr *h = live_start(ptr);
	return h ? gh__hdr_size(GH_LOAD(&h->meta)) : 0;
}
