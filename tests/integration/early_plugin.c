/* early_plugin.c -- a module that early_lib.c dlopen()s from its own
 * constructor, before main: the loader allocates for it, and its
 * constructor allocates too. */
#include <stdlib.h>
#include <string.h>

static char *plugin_greeting;

__attribute__((constructor)) static void plugin_init(void)
{
	plugin_greeting = malloc(32);
	if (plugin_greeting)
		strcpy(plugin_greeting, "plugin-ready");
	void *tmp = calloc(100, 10);
	free(tmp);
}

const char *gh_it_plugin_greeting(void)
{
	return plugin_greeting;
}
