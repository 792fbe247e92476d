/* A program built against the INSTALLED glassheap (pkg-config or CMake). */
#include <glassheap.h>
#include <stdio.h>
#include <stdlib.h>

struct point {
	int x, y;
};

int main(void)
{
	struct point *p = GH_NEW(struct point);
	gh_type_stats_t st;
	if (!p || gh_type_stats(gh_type_find("struct point"), &st) != 0 || st.live_count != 1)
		return 1;
	free(p);
	printf("consumer ok\n");
	return 0;
}
