/*
 * main.c -- the `glassheap` command: option parsing and dispatch to the
 * subcommands, the usage text, and the exit codes.
 *
 *   glassheap [--url URL | --unix PATH] [--token T] COMMAND [ARGS] [OPTIONS]
 *
 * Every subcommand is one row of `commands` below: its words, the options it
 * accepts, its positional arguments, and either the request it makes
 * (method, path, query parameters, view) or a handler (diff, watch, run).
 * Options may come before or after the command words; values are given as
 * "--opt VALUE" or "--opt=VALUE". Endpoint parameters (--top-n, --sort-by...)
 * are passed to the server as typed, so the server's validation (422, with
 * FastAPI's messages) is the only one and the client never disagrees with it.
 *
 * Exit codes (enum gh_exit): 0 ok, 1 usage, 2 connection, 3 HTTP error
 * status, 4 undecodable response or file; `run` returns the program's status.
 */
#include "client.h"
#include "../listen.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <glassheap.h>

void gh__cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fflush(stdout);
	fputs("glassheap: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- Options ---------------------------------------------------------------------------- */

/* Every option, X(id, long name without "--", short name or 0, takes a
 * value), a line per group: where the server is; how the answer prints; the
 * memory endpoints' parameters; tracemalloc's; watch; dominators; run. */
#define OPTIONS(X)                                                                                               \
	X(O_URL, "url", 0, true) X(O_UNIX, "unix", 0, true) X(O_TOKEN, "token", 0, true)                          \
	X(O_TIMEOUT, "timeout", 0, true)                                                                          \
	X(O_JSON, "json", 0, false) X(O_DECODED, "decoded", 0, false) X(O_OUT, "output", 'o', true)               \
	X(O_WIDTH, "width", 0, true) X(O_WIDE, "wide", 0, false)                                                  \
	X(O_TOP_N, "top-n", 'n', true) X(O_SORT_BY, "sort-by", 0, true) X(O_SAMPLES, "samples", 0, true)          \
	X(O_MAX_REFERRERS, "max-referrers", 0, true) X(O_TYPE, "type", 0, true)                                   \
	X(O_FRAMES, "frames", 0, true) X(O_GROUP_BY, "group-by", 0, true)                                         \
	X(O_INTERVAL, "interval", 0, true) X(O_COUNT, "count", 0, true) X(O_ROWS, "rows", 0, true)                \
	X(O_MIN_BYTES, "min-bytes", 0, true) X(O_SAVE, "save", 0, true) X(O_SINCE, "since", 0, true)              \
	X(O_HTTP, "http", 0, true) X(O_TRACE, "trace", 0, true) X(O_REPORT, "report", 0, true)                    \
	X(O_QUIET, "quiet", 'q', false) X(O_FOLLOW, "follow-children", 0, false)                                  \
	X(O_HELP, "help", 'h', false) X(O_VERSION, "version", 0, false)

#define OPT_ID(id, name, short_name, has_arg) id,
enum opt_id { OPTIONS(OPT_ID) O_N };
#undef OPT_ID

#define BIT(o) (1u << (o))
/* What every endpoint subcommand accepts. */
#define TARGET (BIT(O_URL) | BIT(O_UNIX) | BIT(O_TOKEN) | BIT(O_TIMEOUT))
/* Commands that print tables. */
#define WIDTH (BIT(O_WIDTH) | BIT(O_WIDE))
#define ENDPOINT (TARGET | BIT(O_JSON) | BIT(O_DECODED) | BIT(O_OUT) | WIDTH)

struct opt_def {
	const char *name;  /* long name without "--" */
	char short_name;   /* or 0 */
	bool has_arg;
};

#define OPT_DEF(id, name, short_name, has_arg) [id] = {name, short_name, has_arg},
static const struct opt_def opt_defs[O_N] = {OPTIONS(OPT_DEF)};
#undef OPT_DEF

/* ---- Commands ------------------------------------------------------------------------------ */

struct parsed;
typedef int (*handler_fn)(const struct parsed *p);

/* A query parameter of the request: from an option, or from a positional. */
struct param_src {
	const char *name;
	int opt;           /* enum opt_id, or -1 */
	int pos;           /* positional index, or -1 */
};

struct command {
	const char *word, *action;  /* "trace", "top"; action NULL for one-word commands */
	const char *args;           /* positional arguments, for usage */
	unsigned opts;              /* accepted options (BIT(O_...)) */
	int npos;                   /* required positionals */
	const char *method, *path;  /* the request, when handler is NULL */
	struct param_src params[6];
	gh_view_fn view;
	handler_fn handler;
	bool path_arg;              /* path + "/" + escaped positional 0 */
};

static int do_diff(const struct parsed *p);
static int do_watch(const struct parsed *p);
static int do_run(const struct parsed *p);
static int do_help(const struct parsed *p);
static int do_pprof(const struct parsed *p);

#define NOPARAM {NULL, -1, -1}

static const struct command commands[] = {
	{"memory", NULL, "", ENDPOINT | BIT(O_TOP_N) | BIT(O_SORT_BY), 0, "GET", "/debug/memory",
	 {{"top_n", O_TOP_N, -1}, {"sort_by", O_SORT_BY, -1}, NOPARAM}, gh__view_memory, NULL, false},
	{"types", NULL, "TYPE", ENDPOINT | BIT(O_SAMPLES), 1, "GET", "/debug/memory/types",
	 {{"type_name", -1, 0}, {"samples", O_SAMPLES, -1}, NOPARAM}, gh__view_types, NULL, false},
	{"sites", NULL, "", ENDPOINT | BIT(O_TOP_N) | BIT(O_SORT_BY) | BIT(O_TYPE), 0, "GET", "/debug/memory/sites",
	 {{"top_n", O_TOP_N, -1}, {"sort_by", O_SORT_BY, -1}, {"type_name", O_TYPE, -1}, NOPARAM}, gh__view_sites,
	 NULL, false},
	{"gc", NULL, "", ENDPOINT, 0, "POST", "/debug/memory/gc", {NOPARAM}, gh__view_gc, NULL, false},
	{"referrers", NULL, "TYPE", ENDPOINT | BIT(O_MAX_REFERRERS), 1, "GET", "/debug/memory/referrers",
	 {{"type_name", -1, 0}, {"max_referrers", O_MAX_REFERRERS, -1}, NOPARAM}, gh__view_referrers, NULL, false},
	{"dominators", NULL, "", ENDPOINT | BIT(O_TOP_N) | BIT(O_TYPE) | BIT(O_MIN_BYTES) | BIT(O_SAVE) | BIT(O_SINCE), 0,
	 "GET", "/debug/memory/dominators",
	 {{"top_n", O_TOP_N, -1}, {"type_name", O_TYPE, -1}, {"min_bytes", O_MIN_BYTES, -1}, {"save", O_SAVE, -1},
	  {"since", O_SINCE, -1}, NOPARAM},
	 gh__view_dominators, NULL, false},
	{"trace", "start", "", ENDPOINT | BIT(O_FRAMES), 0, "POST", "/debug/tracemalloc/start",
	 {{"frames", O_FRAMES, -1}, NOPARAM}, gh__view_trace_start, NULL, false},
	{"trace", "stop", "", ENDPOINT, 0, "POST", "/debug/tracemalloc/stop", {NOPARAM}, gh__view_trace_stop, NULL,
	 false},
	{"trace", "status", "", ENDPOINT, 0, "GET", "/debug/tracemalloc/status", {NOPARAM}, gh__view_trace_status,
	 NULL, false},
	{"trace", "top", "", ENDPOINT | BIT(O_TOP_N) | BIT(O_GROUP_BY), 0, "GET", "/debug/tracemalloc/top",
	 {{"top_n", O_TOP_N, -1}, {"group_by", O_GROUP_BY, -1}, NOPARAM}, gh__view_trace_top, NULL, false},
	{"trace", "snapshot", "NAME", ENDPOINT, 1, "POST", "/debug/tracemalloc/snapshot",
	 {{"name", -1, 0}, NOPARAM}, gh__view_trace_snapshot, NULL, false},
	{"trace", "compare", "A B", ENDPOINT | BIT(O_TOP_N) | BIT(O_GROUP_BY), 2, "GET",
	 "/debug/tracemalloc/compare",
	 {{"snapshot1", -1, 0}, {"snapshot2", -1, 1}, {"top_n", O_TOP_N, -1}, {"group_by", O_GROUP_BY, -1}},
	 gh__view_trace_compare, NULL, false},
	{"trace", "traceback", "", ENDPOINT | BIT(O_TOP_N), 0, "GET", "/debug/tracemalloc/traceback",
	 {{"top_n", O_TOP_N, -1}, NOPARAM}, gh__view_trace_traceback, NULL, false},
	{"trace", "delete", "NAME", ENDPOINT, 1, "DELETE", "/debug/tracemalloc/snapshot", {NOPARAM},
	 gh__view_trace_delete, NULL, true},
	{"pprof", NULL, "", TARGET | BIT(O_OUT), 0, NULL, NULL, {NOPARAM}, NULL, do_pprof, false},
	{"diff", NULL, "BEFORE AFTER", BIT(O_JSON) | BIT(O_ROWS) | WIDTH, 2, NULL, NULL, {NOPARAM}, NULL, do_diff,
	 false},
	{"watch", NULL, "", TARGET | BIT(O_JSON) | BIT(O_INTERVAL) | BIT(O_COUNT) | BIT(O_ROWS) | BIT(O_TOP_N) |
				BIT(O_SORT_BY) | WIDTH,
	 0, NULL, NULL, {NOPARAM}, NULL, do_watch, false},
	{"run", NULL, "-- PROG ARGS...",
	 BIT(O_HTTP) | BIT(O_TOKEN) | BIT(O_TRACE) | BIT(O_REPORT) | BIT(O_QUIET) | BIT(O_FOLLOW), 0, NULL, NULL,
	 {NOPARAM}, NULL, do_run, false},
	{"help", NULL, "", 0, 0, NULL, NULL, {NOPARAM}, NULL, do_help, false},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* ---- Usage ------------------------------------------------------------------------------------ */

static const char usage_text[] =
	"usage: glassheap [TARGET] COMMAND [ARGS] [OPTIONS]\n"
	"\n"
	"Query a program's glassheap debug server, or start a program under glassheap.\n"
	"\n"
	"Endpoint commands (one per endpoint of the debug server):\n"
	"  memory [--top-n N] [--sort-by size|count]    GET /debug/memory\n"
	"  types TYPE [--samples N]                      GET /debug/memory/types\n"
	"  sites [--top-n N] [--sort-by size|count] [--type TYPE]\n"
	"                                                GET /debug/memory/sites\n"
	"  gc                                            POST /debug/memory/gc\n"
	"  referrers TYPE [--max-referrers N]            GET /debug/memory/referrers\n"
	"  dominators [--top-n N] [--type T] [--min-bytes N] [--save NAME] [--since NAME]\n"
	"                                                GET /debug/memory/dominators\n"
	"  trace start [--frames N]                      POST /debug/tracemalloc/start\n"
	"  trace stop                                    POST /debug/tracemalloc/stop\n"
	"  trace status                                  GET /debug/tracemalloc/status\n"
	"  trace top [--top-n N] [--group-by lineno|filename]\n"
	"                                                GET /debug/tracemalloc/top\n"
	"  trace snapshot NAME                           POST /debug/tracemalloc/snapshot\n"
	"  trace compare A B [--top-n N] [--group-by lineno|filename]\n"
	"                                                GET /debug/tracemalloc/compare\n"
	"  trace traceback [--top-n N]                   GET /debug/tracemalloc/traceback\n"
	"  trace delete NAME                    DELETE /debug/tracemalloc/snapshot/NAME\n"
	"    output: a table (msgpack requested and decoded), or\n"
	"    --json           request JSON and print the document as received\n"
	"    --decoded        print the decoded msgpack document as JSON\n"
	"    -o, --output F   also save the raw response bytes to F (\"-\": stdout only)\n"
	"    --width N        fit tables to N columns (default: the terminal's width,\n"
	"                     else $COLUMNS, else 80); names and paths are cut with\n"
	"                     \"\xe2\x80\xa6\", numbers never\n"
	"    --wide           no width limit (same as --width 0)\n"
	"\n"
	"Other commands:\n"
	"  pprof -o FILE                                   GET /debug/pprof/heap\n"
	"        save the heap profile (gzipped pprof protobuf) for go tool pprof\n"
	"  diff BEFORE AFTER [--rows N] [--json] [--width N | --wide]\n"
	"        compare two saved /debug/memory responses (JSON or msgpack) per type\n"
	"  watch [--interval S] [--count N] [--rows N] [--top-n N]\n"
	"        [--sort-by size|count] [--json] [--width N | --wide]\n"
	"        sample /debug/memory every S seconds (default 2) and show per-type\n"
	"        changes; stops after N samples (default: until Ctrl-C); shows N rows\n"
	"        (default 20, 0: all)\n"
	"  run [--http ADDR] [--token T] [--trace FRAMES] [--report PATH] [--quiet]\n"
	"      [--follow-children] -- PROG ARGS...\n"
	"        run PROG with LD_PRELOAD=libglassheap.so and its debug server on ADDR\n"
	"        (default 127.0.0.1 on a free port); exits with PROG's status. PROG's\n"
	"        own children run without glassheap unless --follow-children (then\n"
	"        they run on glassheap too, without a server)\n"
	"  help   this text\n"
	"\n"
	"Target (endpoint commands and watch):\n"
	"  --url URL          the server (default $GLASSHEAP_URL, else http://127.0.0.1:8000);\n"
	"                     a GLASSHEAP_HTTP address works too: 8000, [::1]:8000;\n"
	"                     unix:/PATH means --unix PATH\n"
	"  --unix PATH        connect to the Unix socket PATH (GLASSHEAP_HTTP=unix:PATH)\n"
	"  --token T          send Authorization: Bearer T (default $GLASSHEAP_TOKEN)\n"
	"  --timeout S        give up after S seconds (default 30)\n"
	"\n"
	"Exit status: 0 ok, 1 usage error, 2 cannot reach the server, 3 the server\n"
	"answered an error (its detail is printed), 4 undecodable response or file.\n"
	"run: PROG's status. See docs/client.md.\n";

static void usage_hint(void)
{
	fprintf(stderr, "Try 'glassheap help'.\n");
}

/* ---- Parsing ------------------------------------------------------------------------------------ */

#define MAX_POS 8

struct parsed {
	const struct command *cmd;
	const char *opt[O_N];     /* value (or "1" for flags), NULL when absent */
	const char *pos[MAX_POS];
	int npos;
	char **rest;              /* run: the program and its arguments */
	struct gh_target target;
	struct gh_output output;
	char url_buf[GH_LISTEN_DESC_MAX + 8]; /* target.url made from a listen address */
};

/* Looks an option up: "--name", "--name=value", "-x". Returns its id or -1;
 * *inline_val is set for "--name=value". */
static int find_opt(const char *arg, const char **inline_val)
{
	*inline_val = NULL;
	if (arg[0] == '-' && arg[1] == '-') {
		const char *name = arg + 2;
		size_t n = strcspn(name, "=");
		for (int i = 0; i < O_N; i++) {
			if (strlen(opt_defs[i].name) == n && strncmp(name, opt_defs[i].name, n) == 0) {
				if (name[n] == '=')
					*inline_val = name + n + 1;
				return i;
			}
		}
		return -1;
	}
	if (arg[0] == '-' && arg[1] && !arg[2]) {
		for (int i = 0; i < O_N; i++)
			if (opt_defs[i].short_name == arg[1])
				return i;
	}
	return -1;
}

static bool is_option(const char *arg)
{
	return arg[0] == '-' && arg[1] != '\0';
}

/* Finds the command: the first one or two non-option words. */
static const struct command *find_command(int argc, char **argv, int *word_idx, int *action_idx)
{
	*word_idx = *action_idx = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			return NULL;
		if (is_option(a)) {
			const char *v;
			int id = find_opt(a, &v);
			if (id >= 0 && opt_defs[id].has_arg && !v)
				i++;
			continue;
		}
		if (*word_idx < 0) {
			*word_idx = i;
			if (strcmp(a, "trace") != 0)
				break;
			continue;
		}
		*action_idx = i;
		break;
	}
	if (*word_idx < 0)
		return NULL;
	const char *word = argv[*word_idx];
	const char *action = *action_idx >= 0 ? argv[*action_idx] : NULL;
	for (size_t c = 0; c < NCOMMANDS; c++) {
		if (strcmp(commands[c].word, word) != 0)
			continue;
		if (!commands[c].action || (action && strcmp(commands[c].action, action) == 0))
			return &commands[c];
	}
	return NULL;
}

static int parse(int argc, char **argv, struct parsed *p)
{
	memset(p, 0, sizeof *p);
	int word_idx, action_idx;
	p->cmd = find_command(argc, argv, &word_idx, &action_idx);

	/* Parse every option first: --help and --version work without a command. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (i == word_idx || i == action_idx)
			continue;
		if (strcmp(a, "--") == 0) {
			if (p->cmd && p->cmd->handler == do_run) {
				p->rest = &argv[i + 1];
				break;
			}
			/* Anything after "--" is positional (a type named "-x"). */
			for (i++; i < argc; i++) {
				if (i == word_idx || i == action_idx)
					continue;
				if (p->npos == MAX_POS) {
					gh__cli_error("too many arguments");
					return GH_EXIT_USAGE;
				}
				p->pos[p->npos++] = argv[i];
			}
			break;
		}
		if (!is_option(a)) {
			if (p->cmd && p->cmd->handler == do_run) {
				p->rest = &argv[i]; /* run PROG ARGS...: the rest is the program's */
				break;
			}
			if (p->npos == MAX_POS) {
				gh__cli_error("too many arguments");
				return GH_EXIT_USAGE;
			}
			p->pos[p->npos++] = a;
			continue;
		}
		const char *val;
		int id = find_opt(a, &val);
		if (id < 0) {
			gh__cli_error("unknown option %s", a);
			usage_hint();
			return GH_EXIT_USAGE;
		}
		if (opt_defs[id].has_arg && !val) {
			if (i + 1 >= argc) {
				gh__cli_error("option --%s needs a value", opt_defs[id].name);
				return GH_EXIT_USAGE;
			}
			val = argv[++i];
		} else if (!opt_defs[id].has_arg) {
			if (val) {
				gh__cli_error("option --%s takes no value", opt_defs[id].name);
				return GH_EXIT_USAGE;
			}
			val = "1";
		}
		p->opt[id] = val;
	}
	if (p->opt[O_HELP] || p->opt[O_VERSION])
		return GH_EXIT_OK;

	if (!p->cmd) {
		if (word_idx < 0)
			gh__cli_error("no command given");
		else if (strcmp(argv[word_idx], "trace") == 0)
			gh__cli_error("trace needs one of: start, stop, status, top, snapshot, compare, traceback, delete%s%s",
				      action_idx >= 0 ? "; not " : "", action_idx >= 0 ? argv[action_idx] : "");
		else
			gh__cli_error("unknown command '%s'", argv[word_idx]);
		usage_hint();
		return GH_EXIT_USAGE;
	}
	const struct command *c = p->cmd;
	char name[64];
	snprintf(name, sizeof name, "%s%s%s", c->word, c->action ? " " : "", c->action ? c->action : "");
	for (int id = 0; id < O_N; id++) {
		if (p->opt[id] && !(c->opts & BIT(id))) {
			gh__cli_error("option --%s does not apply to '%s'", opt_defs[id].name, name);
			return GH_EXIT_USAGE;
		}
	}
	if (p->npos != c->npos) {
		gh__cli_error("usage: glassheap %s%s%s", name, c->args[0] ? " " : "", c->args);
		return GH_EXIT_USAGE;
	}
	if (p->opt[O_JSON] && p->opt[O_DECODED]) {
		gh__cli_error("--json and --decoded exclude each other");
		return GH_EXIT_USAGE;
	}
	return GH_EXIT_OK;
}

/* A non-negative number of seconds, or a count; -1 when malformed. */
static double parse_seconds(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	return *s && !*end && !errno && isfinite(v) && v >= 0 && v <= 86400 * 365 ? v : -1;
}

static long parse_count(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	return *s && !*end && !errno && v >= 0 ? v : -1;
}

/*
 * The width tables and prose fit: --wide (none) or --width N (0: none);
 * else the terminal's width when stdout is one; else $COLUMNS; else 80, so
 * that piped output is as narrow as a terminal's unless asked otherwise.
 */
static int setup_width(const struct parsed *p)
{
	const char *w = p->opt[O_WIDTH];
	if (w && p->opt[O_WIDE]) {
		gh__cli_error("--width and --wide exclude each other");
		return GH_EXIT_USAGE;
	}
	if (p->opt[O_WIDE]) {
		gh__term_set_width(0);
		return GH_EXIT_OK;
	}
	if (w) {
		long n = parse_count(w);
		if (n < 0 || (n > 0 && n < 20) || n > 100000) {
			gh__cli_error("--width %s: want a number of columns, 20..100000 (0: no limit)", w);
			return GH_EXIT_USAGE;
		}
		gh__term_set_width((size_t)n);
		return GH_EXIT_OK;
	}
	struct winsize ws;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
		gh__term_set_width(ws.ws_col);
		return GH_EXIT_OK;
	}
	const char *cols = getenv("COLUMNS");
	long n = cols && *cols ? parse_count(cols) : -1;
	gh__term_set_width(n > 0 && n <= 100000 ? (size_t)n : 80);
	return GH_EXIT_OK;
}

/* Fills p->target from options and the environment. */
static int setup_target(struct parsed *p)
{
	struct gh_target *t = &p->target;
	const char *url = p->opt[O_URL];
	if (!url || !*url)
		url = getenv("GLASSHEAP_URL");
	if (!url || !*url)
		url = NULL;
	t->unix_path = p->opt[O_UNIX];
	if (url && !strstr(url, "://")) {
		/* A listen address (what GLASSHEAP_HTTP says), read by the
		 * server's own parser (listen.h): "8000", "[::1]:8000", "unix:/p". */
		struct gh_listen_addr la;
		if (gh__listen_parse(url, &la) != 0) {
			gh__cli_error("--url %s: want http://host:port, [host:]port, [ipv6]:port or unix:/path", url);
			return GH_EXIT_USAGE;
		}
		if (la.ss.ss_family == AF_UNIX) {
			if (!t->unix_path)
				t->unix_path = url + 5;
			url = NULL;
		} else {
			char desc[GH_LISTEN_DESC_MAX];
			gh__listen_describe(&la.ss, desc, sizeof desc);
			snprintf(p->url_buf, sizeof p->url_buf, "http://%s", desc);
			url = p->url_buf;
		}
	}
	if (t->unix_path && !*t->unix_path) {
		gh__cli_error("--unix needs a path");
		return GH_EXIT_USAGE;
	}
	t->url = url ? url : t->unix_path ? "http://localhost" : "http://127.0.0.1:8000";
	t->token = p->opt[O_TOKEN] ? p->opt[O_TOKEN] : getenv("GLASSHEAP_TOKEN");
	t->timeout_ms = 30000;
	if (p->opt[O_TIMEOUT]) {
		double s = parse_seconds(p->opt[O_TIMEOUT]);
		if (s <= 0) {
			gh__cli_error("--timeout %s: want a positive number of seconds", p->opt[O_TIMEOUT]);
			return GH_EXIT_USAGE;
		}
		t->timeout_ms = s * 1000 < 1 ? 1 : (long)(s * 1000);
	}
	p->output.json = p->opt[O_JSON] != NULL;
	p->output.decoded = p->opt[O_DECODED] != NULL;
	p->output.save_path = p->opt[O_OUT];
	return GH_EXIT_OK;
}

/* ---- Handlers ------------------------------------------------------------------------------------ */

static int do_endpoint(const struct parsed *p)
{
	const struct command *c = p->cmd;
	struct gh_param params[6];
	size_t n = 0;
	for (size_t i = 0; i < 6 && c->params[i].name; i++) {
		const struct param_src *s = &c->params[i];
		const char *v = s->opt >= 0 ? p->opt[s->opt] : p->pos[s->pos];
		if (v)
			params[n++] = (struct gh_param){s->name, v};
	}
	if (!c->path_arg)
		return gh__endpoint_call(&p->target, &p->output, c->method, c->path, params, n, c->view);

	/* DELETE .../snapshot/{name}: the name as one escaped path segment. */
	char *seg = gh__fetch_escape(p->pos[0]);
	char *path = NULL;
	if (!seg || asprintf(&path, "%s/%s", c->path, seg) < 0) {
		free(seg);
		gh__cli_error("out of memory");
		return GH_EXIT_DATA;
	}
	int rc = gh__endpoint_call(&p->target, &p->output, c->method, path, params, n, c->view);
	free(path);
	free(seg);
	return rc;
}

static int do_diff(const struct parsed *p)
{
	long rows = p->opt[O_ROWS] ? parse_count(p->opt[O_ROWS]) : 0;
	if (rows < 0) {
		gh__cli_error("--rows %s: want a count (0: all)", p->opt[O_ROWS]);
		return GH_EXIT_USAGE;
	}
	return gh__diff_files(p->pos[0], p->pos[1], (size_t)rows, p->opt[O_JSON] != NULL);
}

static int do_watch(const struct parsed *p)
{
	struct gh_watch_opts o = {.interval_s = 2, .count = 0, .rows = 20};
	if (p->opt[O_INTERVAL] && (o.interval_s = parse_seconds(p->opt[O_INTERVAL])) < 0.01) {
		gh__cli_error("--interval %s: want seconds, at least 0.01", p->opt[O_INTERVAL]);
		return GH_EXIT_USAGE;
	}
	if (p->opt[O_COUNT] && (o.count = parse_count(p->opt[O_COUNT])) < 0) {
		gh__cli_error("--count %s: want a count (0: until Ctrl-C)", p->opt[O_COUNT]);
		return GH_EXIT_USAGE;
	}
	long rows = 20;
	if (p->opt[O_ROWS] && (rows = parse_count(p->opt[O_ROWS])) < 0) {
		gh__cli_error("--rows %s: want a count (0: all)", p->opt[O_ROWS]);
		return GH_EXIT_USAGE;
	}
	o.rows = (size_t)rows;
	o.top_n = p->opt[O_TOP_N];
	o.sort_by = p->opt[O_SORT_BY];
	o.json = p->opt[O_JSON] != NULL;
	return gh__watch(&p->target, &o);
}

static int do_run(const struct parsed *p)
{
	const char *trace = p->opt[O_TRACE];
	if (trace) {
		long f = parse_count(trace);
		if (f < 1 || f > 100) {
			gh__cli_error("--trace %s: want a number of frames, 1..100", trace);
			return GH_EXIT_USAGE;
		}
	}
	struct gh_run_opts o = {
		.http = p->opt[O_HTTP],
		.token = p->opt[O_TOKEN],
		.trace = trace,
		.report = p->opt[O_REPORT],
		.quiet = p->opt[O_QUIET] != NULL,
		.follow_children = p->opt[O_FOLLOW] != NULL,
		.argv = p->rest,
	};
	return gh__run(&o);
}

static int do_pprof(const struct parsed *p)
{
	return gh__cli_pprof(&p->target, p->opt[O_OUT]);
}

static int do_help(const struct parsed *p)
{
	(void)p;
	fputs(usage_text, stdout);
	return GH_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct parsed p;
	int rc = parse(argc, argv, &p);
	if (rc != GH_EXIT_OK)
		return rc;
	if (p.opt[O_VERSION]) {
		printf("glassheap %d.%d.%d\n", GH_VERSION_MAJOR, GH_VERSION_MINOR, GH_VERSION_PATCH);
		return GH_EXIT_OK;
	}
	if (p.opt[O_HELP])
		return do_help(&p);
	rc = setup_target(&p);
	if (rc == GH_EXIT_OK)
		rc = setup_width(&p);
	if (rc != GH_EXIT_OK)
		return rc;
	rc = p.cmd->handler ? p.cmd->handler(&p) : do_endpoint(&p);
	gh__fetch_cleanup();
	return rc;
}
