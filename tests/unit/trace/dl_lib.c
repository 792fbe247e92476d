/* Loaded with dlopen after tracing started: its frames must symbolize. */
#include <stdlib.h>

int dl_line;

__attribute__((noipa)) void *dl_alloc(size_t n)
{
	void *p = malloc(n); dl_line = __LINE__;
	return p;
}
