/*
 * pass_sites.c -- millions of distinct call sites (issue 18, item 7), as a
 * JIT or reloaded plugins produce: generated code calls malloc from
 * 2^21 + 4096 different return addresses. The site table gives the first
 * GH_SITES_MAX (2^20) sites an id of their own; every later one shares the
 * "other" site, counted. malloc must never spin, and the counts must add up.
 */
#include "pass_util.h"

#include <sys/mman.h>

#define SITES ((1u << 21) + 4096)

/* One block per site: mov edi, 16 ; call *%rbx ; mov rdi, rax ; call *%r12
 * (malloc's return address differs for every block). The last block keeps
 * its allocation: mov edi, 16 ; call *%rbx, and the epilogue returns it. */
static const unsigned char block[] = {0xBF, 0x10, 0x00, 0x00, 0x00, 0xFF, 0xD3, 0x48, 0x89, 0xC7, 0x41, 0xFF, 0xD4};
static const unsigned char last[] = {0xBF, 0x10, 0x00, 0x00, 0x00, 0xFF, 0xD3};
static const unsigned char prologue[] = {0x53, 0x41, 0x54, 0x55, 0x48, 0x89, 0xFB, 0x49, 0x89, 0xF4}; /* push rbx, r12, rbp; rbx=rdi; r12=rsi */
static const unsigned char epilogue[] = {0x5D, 0x41, 0x5C, 0x5B, 0xC3}; /* pop rbp, r12, rbx; ret */

typedef void *(*gen_fn)(void *(*)(size_t), void (*)(void *));

int main(void)
{
	pass_watchdog(120);
	size_t len = sizeof prologue + (size_t)(SITES - 1) * sizeof block + sizeof last + sizeof epilogue;
	unsigned char *code = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED) {
		fprintf(stderr, "SKIP: cannot map %zu bytes\n", len);
		return 77;
	}
	unsigned char *p = code;
	memcpy(p, prologue, sizeof prologue), p += sizeof prologue;
	for (unsigned i = 0; i + 1 < SITES; i++)
		memcpy(p, block, sizeof block), p += sizeof block;
	memcpy(p, last, sizeof last), p += sizeof last;
	memcpy(p, epilogue, sizeof epilogue);
	if (mprotect(code, len, PROT_READ | PROT_EXEC) != 0) {
		fprintf(stderr, "SKIP: cannot make generated code executable\n");
		return 77;
	}
	uint32_t before = gh__site_count();
	double t0 = pass_now();
	void *kept = ((gen_fn)(void *)code)(malloc, free);
	double took = pass_now() - t0;
	uint32_t sites = gh__site_count();
	uint64_t other = gh__site_other_count();
	printf("%u call sites in %.2f s: %u interned (%u before), %llu allocations under the other site\n", SITES,
	       took, sites, before, (unsigned long long)other);
	PASS_CHECK(kept != NULL, "the last allocation succeeded");
	PASS_CHECK(sites == GH_SITES_MAX, "the table holds GH_SITES_MAX sites: %u", sites);
	PASS_CHECK(other >= SITES - (GH_SITES_MAX - before), "the rest went to the other site: %llu",
		   (unsigned long long)other);
	uint32_t site = gh_ptr_site(kept);
	gh_site_info_t info;
	PASS_CHECK(site == GH_SITE_OTHER, "a late call site is the other site: %u", site);
	PASS_CHECK(gh_site_resolve(site, &info) == 0 && strcmp(info.module, GH_SITE_OTHER_NAME) == 0,
		   "it resolves to \"%s\"", GH_SITE_OTHER_NAME);
	/* ordinary allocation still works and is attributed */
	void *q = malloc(32);
	PASS_KEEP(q);
	PASS_CHECK(gh_ptr_site(q) != 0, "a known call site keeps its id");
	free(q);
	free(kept);
	/* a pass over a heap whose objects point at the other site works */
	struct gh_gc_result *r = NULL;
	pid_t bad = 0;
	PASS_CHECK(gh__mark_run(0, &r, &bad) == 0, "a pass runs");
	gh__mark_result_free(r);
	return pass_finish("pass_sites");
}
