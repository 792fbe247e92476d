/* The public header compiles alone, as C and as C++. */
#include <glassheap.h>
int gh_header_alone_c(void) { return (int)GH_TYPE_MALLOC; }
