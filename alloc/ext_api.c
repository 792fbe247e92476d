/*
 * ext_api.c -- the one symbol libglassheap_ext.so exports: the table of its
 * entry points that lazy.c (in libglassheap.so) calls through (ext.h).
 * Compiled only into the extension.
 */
#include "internal.h"
#include "ext.h"
#include "dominators.h"

__attribute__((visibility("default"))) const struct gh_ext_api gh__ext_api = {
	.abi = GH_EXT_ABI,
	.size = sizeof(struct gh_ext_api),
#ifdef GH_EXT_HTTP
	.server_start = gh_server_start,
	.server_port = gh_server_port,
	.server_stop = gh_server_stop,
	.server_autostart = gh__server_autostart,
#endif
	.sym_frames = gh__sym_frames,
	.sym_source_line = gh__sym_source_line,
	.sym_exe_frame_pointers = gh__sym_exe_frame_pointers,
	.sym_atfork_prepare = gh__sym_atfork_prepare,
	.sym_atfork_parent = gh__sym_atfork_parent,
	.sym_atfork_child = gh__sym_atfork_child,
	.sym_data_name = gh__sym_data_name,
};
