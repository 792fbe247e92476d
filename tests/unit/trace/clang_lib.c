/* Built with clang, which emits no .debug_aranges: symbols.c must find the
 * compile unit by its ranges (tests/unit/trace/test_trace_clang.c). */
typedef void *(*gh_ra_fn)(void);
__attribute__((noinline)) void *gh_clang_lib_call(gh_ra_fn f)
{
	void *ra = f(); /* GH_CLANG_LIB_CALL_LINE: line 6 */
	__asm__ volatile("" ::: "memory");
	return ra;
}
