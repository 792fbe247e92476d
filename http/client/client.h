/*
 * client.h -- the one private header of the `glassheap` command-line client
 * (http/client/), grouped by the file that implements each part.
 *
 *   main.c       argument parsing, subcommand dispatch, usage, exit codes
 *   fetch.c      one HTTP request through libcurl (TCP or Unix socket, token),
 *                and the user-facing report of transport and HTTP errors
 *   decode.c     response bytes (msgpack or JSON) -> one jansson document
 *   table.c      aligned text tables, human-readable sizes, safe cell text
 *   views.c      one renderer per endpoint document (the human tables)
 *   endpoints.c  the endpoint subcommands: memory, types, gc, referrers, trace
 *   diff.c       per-type comparison of two /debug/memory documents (diff)
 *   watch.c      repeated /debug/memory with deltas (watch)
 *   run.c        the launcher: LD_PRELOAD + GLASSHEAP_* and fork/exec (run)
 *   pprof.c      the heap profile saved to a file (pprof)
 *
 * Every document, whatever its wire encoding, is decoded into a jansson tree
 * (json_t): the views, diff and watch read that one model, and `--decoded`
 * prints it. decode.c, table.c, views.c and diff.c never touch the network,
 * so the libFuzzer driver (tests/fuzz/fuzz_client_decode.c) links them alone.
 *
 * The client is single-threaded; nothing here is thread-safe.
 */
#ifndef GH_CLIENT_H
#define GH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* ---- Exit codes (main.c, documented in docs/client.md) ------------------------ */

enum gh_exit {
	GH_EXIT_OK = 0,      /* success */
	GH_EXIT_USAGE = 1,   /* bad command line (or run: could not prepare the launch) */
	GH_EXIT_CONNECT = 2, /* no answer: refused, timeout, unknown host, missing socket */
	GH_EXIT_HTTP = 3,    /* the server answered an error status (401, 404, 422, 501...) */
	GH_EXIT_DATA = 4,    /* an undecodable response or file, or a file that cannot be written */
};

/* "glassheap: <message>\n" on stderr. */
void gh__cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- decode.c ------------------------------------------------------------------- */

enum gh_wire {
	GH_WIRE_AUTO,    /* decide by content: '{' or '[' (after whitespace) is JSON */
	GH_WIRE_JSON,
	GH_WIRE_MSGPACK,
};

/* The wire format named by a Content-Type value (NULL or unknown: AUTO). */
enum gh_wire gh__decode_wire_of(const char *content_type);

/*
 * Decodes one document of `len` bytes into a new jansson tree (the caller
 * json_decref()s it). msgpack: maps need string keys, integers must fit in
 * int64, bin and ext are refused, NaN and infinities become null, nesting is
 * limited to 32 levels (msgpack-c's). JSON: jansson, NUL in strings allowed.
 * Trailing bytes are an error in both. Returns NULL with a one-line reason in
 * err (err_len bytes) on failure. Allocation is bounded by O(len): container
 * sizes are checked against the bytes left before msgpack-c allocates.
 */
json_t *gh__decode(const char *buf, size_t len, enum gh_wire wire, char *err, size_t err_len);

/* ---- table.c -------------------------------------------------------------------- */

/* The output width in columns that tables and prose fit (0: unlimited).
 * Default 80; main.c sets it from --width/--wide, the terminal or $COLUMNS. */
void gh__term_set_width(size_t cols);
size_t gh__term_width(void);

typedef struct gh_table gh_table_t;

/*
 * A table of ncols (< 16) columns. headers: ncols titles (NULL: no header
 * row). align: ncols characters, one per column:
 *   'r'  right-aligned, never cut (numbers)
 *   'l'  left-aligned, never cut (short fixed words)
 *   'n'  left-aligned, elided from the right when the table is too wide
 *        (names, functions, free text: "handle_req…")
 *   'p'  left-aligned, elided from the left (paths: "…/examples/demo.c:261")
 * Cells are added left to right; a row ends after ncols cells. Text is
 * copied and made safe for a terminal: C0 controls, DEL and C1 controls
 * become "\xNN" escapes, and ill-formed UTF-8 bytes become '?'. Returns NULL
 * when out of memory.
 */
gh_table_t *gh__table_new(size_t ncols, const char *const *headers, const char *align);
void gh__table_cell(gh_table_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints every row, each prefixed by `indent` spaces; columns are separated
 * by two spaces; trailing spaces are trimmed. A column whose data cells are
 * all empty is left out. When the table is wider than gh__term_width() less
 * the indent, headers of several words are broken over two lines, then the
 * widest 'n'/'p' column is narrowed until the table fits (see table.c). */
void gh__table_print(const gh_table_t *t, FILE *out, int indent);
size_t gh__table_rows(const gh_table_t *t);
void gh__table_free(gh_table_t *t);

/* Prints printf-formatted prose, one or more lines, each wrapped at spaces
 * to gh__term_width() (a longer word is broken); continuation lines are
 * indented by hang spaces. Each line ends with a newline. The caller makes
 * program text safe (gh__fmt_safe) first. */
void gh__print_wrapped(FILE *out, int hang, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Display columns of UTF-8 text (East Asian wide characters 2, combining
 * marks 0, anything else 1). */
size_t gh__text_width(const char *s);
/* s cut to at most width display columns with "…" (U+2026) in place of what
 * is left out: mode 'p' keeps the end, anything else the start. width 0 or a
 * string that fits: s unchanged. Returns buf (len bytes). */
char *gh__fmt_elide(char *buf, size_t len, const char *s, size_t width, char mode);

/* `bytes` as "512 B", "11.8 MiB" (binary units, one decimal above 1 KiB).
 * With sign, positive values get a '+' ("+1.2 KiB"; zero stays "0 B").
 * Returns buf. */
char *gh__fmt_size(char *buf, size_t len, double bytes, bool sign);
/* An integer, with a '+' for positive values when sign is set. */
char *gh__fmt_int(char *buf, size_t len, long long v, bool sign);
/* s made safe for a terminal (as table cells are), into buf. Returns buf. */
char *gh__fmt_safe(char *buf, size_t len, const char *s);

/* Lookups that tolerate any document shape: false/NULL when the key is
 * missing or of another type. gh__doc_num accepts integers and reals. */
bool gh__doc_int(const json_t *obj, const char *key, long long *out);
bool gh__doc_num(const json_t *obj, const char *key, double *out);
const char *gh__doc_str(const json_t *obj, const char *key);

/* ---- views.c -------------------------------------------------------------------- */

/*
 * Renders a decoded 200 response, a map, as a human table on out. Each view
 * reads only what it needs and prints "?" for a missing or ill-typed field,
 * so any map renders without crashing. gh__view_show calls view when doc is
 * a map and returns 0, else returns -1 (nothing sensible to show).
 */
typedef void (*gh_view_fn)(FILE *out, const json_t *doc);

int gh__view_show(FILE *out, const json_t *doc, gh_view_fn view);
void gh__view_memory(FILE *out, const json_t *doc);
void gh__view_sites(FILE *out, const json_t *doc);
void gh__view_types(FILE *out, const json_t *doc);
void gh__view_gc(FILE *out, const json_t *doc);
void gh__view_referrers(FILE *out, const json_t *doc);
void gh__view_dominators(FILE *out, const json_t *doc);
void gh__view_trace_start(FILE *out, const json_t *doc);
void gh__view_trace_stop(FILE *out, const json_t *doc);
void gh__view_trace_status(FILE *out, const json_t *doc);
void gh__view_trace_top(FILE *out, const json_t *doc);
void gh__view_trace_snapshot(FILE *out, const json_t *doc);
void gh__view_trace_compare(FILE *out, const json_t *doc);
void gh__view_trace_traceback(FILE *out, const json_t *doc);
void gh__view_trace_delete(FILE *out, const json_t *doc);

/* Prints an error document ({"detail": str} or the 422 list) on out, one line
 * per entry: "<prefix><detail>" or "<prefix>query.<param>: <msg>". Returns
 * the number of lines printed (0 when doc carries no detail). */
int gh__view_detail(FILE *out, const json_t *doc, const char *prefix);

/* ---- diff.c --------------------------------------------------------------------- */

/* One type's figures in two /debug/memory documents. */
struct gh_diff_row {
	const char *type;        /* borrowed from a document */
	long long count[2], bytes[2];
	bool present[2];         /* listed in before [0] / after [1] */
};

struct gh_diff {
	struct gh_diff_row *rows; /* sorted: byte growth, then count growth, descending */
	size_t nrows;
	long long total_objects[2], total_bytes[2], unique_types[2];
	size_t listed[2];         /* entries of top_objects in each document */
	bool has_summary[2];
};

/*
 * Compares the top_objects of two decoded /debug/memory documents. Returns 0,
 * or -1 with a reason in err when either has no top_objects list, or when
 * out of memory. The rows borrow type strings from before/after: keep both
 * alive while using d. gh__diff_free releases rows only.
 */
int gh__diff_compute(const json_t *before, const json_t *after, struct gh_diff *d, char *err, size_t err_len);
void gh__diff_free(struct gh_diff *d);
/* The table of d (at most max_rows rows; 0: all). Full: before, after and
 * difference of each figure, with the totals and the two labels (file names)
 * above. Compact (watch): the after figures and the differences only. */
void gh__diff_print(FILE *out, const struct gh_diff *d, size_t max_rows, const char *label0, const char *label1,
		    bool compact);
/* The diff as a JSON document (new reference), NULL when out of memory. */
json_t *gh__diff_json(const struct gh_diff *d);
/* The diff subcommand: reads two saved /debug/memory responses (JSON or
 * msgpack, told apart by content; "-" is stdin) and prints their diff as a
 * table (at most rows rows; 0: all) or as JSON. Returns an exit code. */
int gh__diff_files(const char *before_path, const char *after_path, size_t rows, bool json);

/* ---- fetch.c -------------------------------------------------------------------- */

/* Where and how to reach the server (main.c fills it from options and env). */
struct gh_target {
	const char *url;       /* base URL, e.g. "http://127.0.0.1:8000" (no trailing path needed) */
	const char *unix_path; /* when set, connect to this Unix socket instead of url's host */
	const char *token;     /* bearer token, or NULL */
	long timeout_ms;       /* whole request */
};

struct gh_param {
	const char *name;      /* query parameter, e.g. "top_n" */
	const char *value;     /* unencoded; NULL: not sent */
};

struct gh_response {
	long status;           /* HTTP status; 0 when no response */
	char *body;            /* malloc'd, NUL-terminated (len excludes the NUL) */
	size_t len;
	char content_type[128];
	char allow[64];        /* Allow header (405), or "" */
	long retry_after;      /* Retry-After in seconds (503), or 0 */
	char where[512];       /* "GET http://.../debug/memory?..." for messages */
};

/* Starts libcurl (once per process). Returns 0 or GH_EXIT_CONNECT. */
int gh__fetch_init(void);
void gh__fetch_cleanup(void);

/*
 * Sends `method path?params` (values percent-encoded; path must already be
 * encoded) with Accept: application/msgpack, or application/json when
 * want_json. Fills res (gh__response_free it). Returns GH_EXIT_OK when a
 * response arrived (whatever its status), else prints why and where it
 * tried, and returns GH_EXIT_CONNECT. Stops early (GH_EXIT_CONNECT, no
 * message) when *cancel becomes true (Ctrl-C in watch); cancel may be NULL.
 * Bodies over 256 MiB are refused.
 */
int gh__fetch(const struct gh_target *t, const char *method, const char *path, const struct gh_param *params,
	      size_t nparams, bool want_json, const volatile bool *cancel, struct gh_response *res);
void gh__response_free(struct gh_response *res);

/* Reports a non-2xx response on stderr (status, detail or every 422 entry,
 * hints for 401/404/503) and returns GH_EXIT_HTTP. */
int gh__fetch_report(const struct gh_target *t, const struct gh_response *res);

/* Percent-encodes one path segment into a new malloc'd string (NULL: ENOMEM). */
char *gh__fetch_escape(const char *s);

/* ---- endpoints.c -------------------------------------------------------------------- */

/* How a subcommand prints what it received. */
struct gh_output {
	bool json;             /* --json: request JSON, print it as received */
	bool decoded;          /* --decoded: request msgpack, print the decoded tree as JSON */
	const char *save_path; /* -o FILE: also save the raw response bytes */
};

/*
 * Performs one request and prints its result: the view's table (default),
 * the JSON document (--json) or the decoded tree (--decoded); saves the raw
 * bytes when asked (only for a 2xx). Returns an exit code.
 */
int gh__endpoint_call(const struct gh_target *t, const struct gh_output *o, const char *method, const char *path,
		      const struct gh_param *params, size_t nparams, gh_view_fn view);

/* ---- pprof.c -------------------------------------------------------------------------- */

/* The pprof subcommand: GET /debug/pprof/heap saved to path ("-": stdout).
 * Returns an exit code (GH_EXIT_USAGE without a path). */
int gh__cli_pprof(const struct gh_target *t, const char *path);

/* ---- watch.c -------------------------------------------------------------------------- */

struct gh_watch_opts {
	double interval_s;     /* between samples */
	long count;            /* samples to take; 0: until Ctrl-C */
	const char *top_n;     /* passed to the server (default "100") */
	const char *sort_by;   /* passed to the server, or NULL */
	size_t rows;           /* rows shown per sample; 0: all */
	bool json;             /* print each sample's JSON document, one per line */
};

int gh__watch(const struct gh_target *t, const struct gh_watch_opts *o);

/* ---- run.c ------------------------------------------------------------------------------ */

struct gh_run_opts {
	const char *http;      /* listen address for the program's server (NULL: 127.0.0.1, free port) */
	const char *token;     /* GLASSHEAP_TOKEN for the program, or NULL (inherited) */
	const char *trace;     /* GLASSHEAP_TRACE, or NULL */
	const char *report;    /* GLASSHEAP_REPORT, or NULL */
	bool quiet;            /* no "debug server for PID" line */
	bool follow_children;  /* the program's children keep the preload (no server) */
	char **argv;           /* the program and its arguments (NULL-terminated) */
};

/* Runs the program and returns its exit status (128 + N when killed by
 * signal N), 127 when it cannot be executed, GH_EXIT_USAGE before launch. */
int gh__run(const struct gh_run_opts *o);

#endif /* GH_CLIENT_H */
