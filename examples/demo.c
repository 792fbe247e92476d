/*
 * demo.c -- glassheap-demo: a small multi-threaded "speech service" that
 * links glassheap and serves its own debug endpoints.
 *
 * Worker threads play requests: each one finds or opens a Session, receives
 * an AudioBuffer of PCM samples, runs a SpeechRecognizer over it and caches
 * the transcript in a CacheEntry (LRU, bounded). Every object type is
 * registered with glassheap, with a formatter for the samples of
 * GET /debug/memory/types. Memory stays bounded, unless --leak TYPE (or
 * DEMO_LEAK=1, which leaks SpeechRecognizer) makes the workers forget to free
 * one object of that type every few requests.
 *
 *   glassheap-demo [--listen ADDR] [--threads N] [--duration SECONDS]
 *                  [--leak TYPE] [--quiet]
 *
 *   curl "http://127.0.0.1:8000/debug/memory?top_n=10&sort_by=size"
 *   curl "http://127.0.0.1:8000/debug/memory/types?type_name=SpeechRecognizer"
 *
 * Stops on SIGINT/SIGTERM or after --duration seconds.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glassheap.h>

/* ---- Domain objects ------------------------------------------------------------ */

enum { MAX_SESSIONS = 256, MAX_CACHE = 512, DECODER_STATE = 2048 };

struct session {
	uint64_t id;
	char user[24];
	uint32_t requests;
	uint32_t in_use;     /* workers currently serving it (table lock) */
	time_t last_seen;
};

struct audio_buffer {
	uint64_t session_id;
	uint32_t sample_rate;
	uint32_t nsamples;
	int16_t pcm[];       /* nsamples samples */
};

enum rec_state { REC_IDLE, REC_LISTENING, REC_RECOGNIZING, REC_DONE };
static const char *const rec_state_name[] = {"idle", "listening", "recognizing", "done"};

struct recognizer {
	uint32_t id;
	char lang[8];
	uint32_t state;      /* enum rec_state */
	uint64_t session_id;
	uint8_t decoder[DECODER_STATE]; /* model scratch state */
};

struct cache_entry {
	struct cache_entry *prev, *next; /* LRU list, most recent first */
	char key[40];
	uint32_t hits;
	uint32_t len;
	char text[];         /* len bytes + NUL */
};

static gh_type_t T_SESSION, T_AUDIO, T_RECOGNIZER, T_CACHE;

/*
 * Formatters run on glassheap's server thread while the owning worker may be
 * writing the object (or may just have allocated it): they read only inline
 * fields, bound every string by its array and range-check enums, so any bytes
 * render safely.
 */
static int fmt_session(const void *obj, size_t size, char *buf, size_t len)
{
	const struct session *s = obj;
	if (size < sizeof *s)
		return -1;
	return snprintf(buf, len, "Session{id=%llu, user=%.*s, requests=%u}", (unsigned long long)s->id,
			(int)strnlen(s->user, sizeof s->user), s->user, s->requests);
}

static int fmt_audio(const void *obj, size_t size, char *buf, size_t len)
{
	const struct audio_buffer *a = obj;
	if (size < sizeof *a)
		return -1;
	return snprintf(buf, len, "AudioBuffer{session=%llu, samples=%u, rate=%uHz, bytes=%zu}",
			(unsigned long long)a->session_id, a->nsamples, a->sample_rate, size);
}

static int fmt_recognizer(const void *obj, size_t size, char *buf, size_t len)
{
	const struct recognizer *r = obj;
	if (size < sizeof *r)
		return -1;
	uint32_t st = r->state;
	return snprintf(buf, len, "SpeechRecognizer{id=%u, lang=%.*s, state=%s}", r->id,
			(int)strnlen(r->lang, sizeof r->lang), r->lang, st <= REC_DONE ? rec_state_name[st] : "?");
}

static int fmt_cache(const void *obj, size_t size, char *buf, size_t len)
{
	const struct cache_entry *c = obj;
	if (size < sizeof *c)
		return -1;
	return snprintf(buf, len, "CacheEntry{key=%.*s, bytes=%u, hits=%u}", (int)strnlen(c->key, sizeof c->key),
			c->key, c->len, c->hits);
}

static gh_type_t register_type(const char *name, gh_format_fn fn)
{
	gh_type_desc_t d;
	memset(&d, 0, sizeof d);
	d.format = fn;
	gh_type_t t = gh_type_register(name, &d);
	if (t == GH_TYPE_NONE) {
		fprintf(stderr, "glassheap-demo: cannot register type %s: %s\n", name, strerror(errno));
		exit(1);
	}
	return t;
}

/* ---- Shared state ------------------------------------------------------------------ */

static struct {
	pthread_mutex_t lock;
	struct session *slot[MAX_SESSIONS];
	uint64_t next_id;
} sessions = {.lock = PTHREAD_MUTEX_INITIALIZER, .next_id = 1};

static struct {
	pthread_mutex_t lock;
	struct cache_entry *head, *tail;
	size_t n;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static volatile sig_atomic_t stopping;
static gh_type_t leak_type = GH_TYPE_NONE;
static _Atomic uint64_t requests_done, objects_leaked;
static _Atomic uint32_t next_recognizer_id = 1;

/* Frees obj of type t, unless this is one of the objects the leak mode drops. */
static void release(gh_type_t t, void *obj, unsigned *rng)
{
	if (t == leak_type && rand_r(rng) % 25 == 0) {
		atomic_fetch_add(&objects_leaked, 1);
		return; /* the leak: the last pointer goes away without free */
	}
	free(obj);
}

static struct session *session_acquire(unsigned *rng)
{
	unsigned i = (unsigned)rand_r(rng) % MAX_SESSIONS;
	pthread_mutex_lock(&sessions.lock);
	struct session *s = sessions.slot[i];
	if (!s || (s->in_use == 0 && rand_r(rng) % 64 == 0)) {
		/* open a new session in this slot (the old one logs out) */
		struct session *n = gh_calloc_typed(T_SESSION, 1, sizeof *n);
		if (!n) {
			pthread_mutex_unlock(&sessions.lock);
			return NULL;
		}
		n->id = sessions.next_id++;
		snprintf(n->user, sizeof n->user, "user-%llu", (unsigned long long)(n->id % 1000));
		if (s)
			release(T_SESSION, s, rng);
		sessions.slot[i] = s = n;
	}
	s->in_use++;
	s->requests++;
	s->last_seen = time(NULL);
	pthread_mutex_unlock(&sessions.lock);
	return s;
}

static void session_release(struct session *s)
{
	pthread_mutex_lock(&sessions.lock);
	s->in_use--;
	pthread_mutex_unlock(&sessions.lock);
}

static void cache_unlink(struct cache_entry *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		cache.head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		cache.tail = c->prev;
	cache.n--;
}

static void cache_push_front(struct cache_entry *c)
{
	c->prev = NULL;
	c->next = cache.head;
	if (cache.head)
		cache.head->prev = c;
	cache.head = c;
	if (!cache.tail)
		cache.tail = c;
	cache.n++;
}

/* Looks key up (LRU touch) or inserts text under it, evicting the oldest. */
static void cache_put(const char *key, const char *text, unsigned *rng)
{
	pthread_mutex_lock(&cache.lock);
	for (struct cache_entry *c = cache.head; c; c = c->next) {
		if (strcmp(c->key, key) == 0) {
			c->hits++;
			cache_unlink(c);
			cache_push_front(c);
			pthread_mutex_unlock(&cache.lock);
			return;
		}
	}
	size_t len = strlen(text);
	struct cache_entry *c = gh_malloc_typed(T_CACHE, sizeof *c + len + 1);
	if (c) {
		memset(c, 0, sizeof *c);
		snprintf(c->key, sizeof c->key, "%s", key);
		c->len = (uint32_t)len;
		memcpy(c->text, text, len + 1);
		cache_push_front(c);
	}
	while (cache.n > MAX_CACHE) {
		struct cache_entry *old = cache.tail;
		cache_unlink(old);
		release(T_CACHE, old, rng);
	}
	pthread_mutex_unlock(&cache.lock);
}

/* ---- One request --------------------------------------------------------------------- */

static const char *const langs[] = {"en-US", "de-DE", "fr-FR", "ja-JP"};
static const char *const words[] = {"hello", "world", "meeting", "at", "noon", "please", "call", "me", "back", "thanks"};

static void handle_request(unsigned *rng)
{
	struct session *s = session_acquire(rng);
	if (!s)
		return;

	/* 0.5 to 2 seconds of 16 kHz audio */
	uint32_t n = 8000 + (uint32_t)rand_r(rng) % 24000;
	struct audio_buffer *a = gh_malloc_typed(T_AUDIO, sizeof *a + n * sizeof(int16_t));
	struct recognizer *r = gh_malloc_typed(T_RECOGNIZER, sizeof *r);
	if (!a || !r) {
		free(a);
		free(r);
		session_release(s);
		return;
	}
	/* Each object is set up right after its allocation, as a constructor
	 * would: /debug/memory/types samples live objects while this runs. */
	a->session_id = s->id;
	a->sample_rate = 16000;
	a->nsamples = n;
	memset(r, 0, sizeof *r);
	r->id = atomic_fetch_add(&next_recognizer_id, 1);
	snprintf(r->lang, sizeof r->lang, "%s", langs[rand_r(rng) % 4]);
	r->session_id = s->id;
	r->state = REC_LISTENING;
	for (uint32_t i = 0; i < n; i++)
		a->pcm[i] = (int16_t)((i * 2654435761u) >> 16);

	/* "recognize": fold the audio into the decoder state */
	uint32_t acc = 0;
	for (uint32_t i = 0; i < n; i++) {
		acc = acc * 31 + (uint16_t)a->pcm[i];
		r->decoder[i % DECODER_STATE] ^= (uint8_t)acc;
	}
	r->state = REC_RECOGNIZING;
	usleep(1000 + (useconds_t)(rand_r(rng) % 4000)); /* the model thinks */

	/* the transcript: an untyped malloc, counted under "malloc" */
	char *text = malloc(256);
	if (text) {
		size_t k = 0;
		int nw = 3 + rand_r(rng) % 8;
		for (int w = 0; w < nw && k < 200; w++)
			k += (size_t)snprintf(text + k, 256 - k, "%s%s", w ? " " : "", words[(acc >> w) % 10]);
		char key[40];
		snprintf(key, sizeof key, "transcript:%u", (unsigned)(acc % 2048));
		cache_put(key, text, rng);
		free(text);
	}
	r->state = REC_DONE;

	free(a);
	release(T_RECOGNIZER, r, rng);
	session_release(s);
	atomic_fetch_add(&requests_done, 1);
}

static void *worker(void *arg)
{
	unsigned rng = (unsigned)(uintptr_t)arg * 7919u + (unsigned)time(NULL);
	while (!stopping) {
		handle_request(&rng);
		usleep(2000 + (useconds_t)(rand_r(&rng) % 8000)); /* between requests */
	}
	return NULL;
}

/* ---- Main ------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: glassheap-demo [--listen ADDR] [--threads N] [--duration SECONDS]\n"
		"                      [--leak TYPE] [--quiet]\n"
		"  --listen ADDR     debug server address: [host:]port or unix:/path\n"
		"                    (default 127.0.0.1:8000; GLASSHEAP_HTTP, if set, wins)\n"
		"  --threads N       worker threads (default 4)\n"
		"  --duration S      stop after S seconds (default: run until SIGINT/SIGTERM)\n"
		"  --leak TYPE       leak one object of TYPE every ~25 frees: SpeechRecognizer,\n"
		"                    Session, AudioBuffer or CacheEntry (DEMO_LEAK=1: SpeechRecognizer)\n"
		"  --quiet           no periodic status line\n");
}

int main(int argc, char **argv)
{
	const char *listen = "127.0.0.1:8000";
	const char *leak = NULL;
	int threads = 4;
	long duration = 0;
	bool quiet = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--quiet") == 0) {
			quiet = true;
		} else if (v && strcmp(a, "--listen") == 0) {
			listen = v, i++;
		} else if (v && strcmp(a, "--leak") == 0) {
			leak = v, i++;
		} else if (v && strcmp(a, "--threads") == 0) {
			threads = atoi(v), i++;
		} else if (v && strcmp(a, "--duration") == 0) {
			duration = atol(v), i++;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (threads < 1 || threads > 64 || duration < 0) {
		usage(stderr);
		return 2;
	}
	const char *env_leak = getenv("DEMO_LEAK");
	if (!leak && env_leak && strcmp(env_leak, "1") == 0)
		leak = "SpeechRecognizer";

	T_SESSION = register_type("Session", fmt_session);
	T_AUDIO = register_type("AudioBuffer", fmt_audio);
	T_RECOGNIZER = register_type("SpeechRecognizer", fmt_recognizer);
	T_CACHE = register_type("CacheEntry", fmt_cache);
	if (leak) {
		leak_type = gh_type_find(leak);
		if (leak_type != T_SESSION && leak_type != T_AUDIO && leak_type != T_RECOGNIZER && leak_type != T_CACHE) {
			fprintf(stderr, "glassheap-demo: --leak %s: not one of the demo's types\n", leak);
			return 2;
		}
	}

	/* Workers and the server never see SIGINT/SIGTERM: main waits for them. */
	sigset_t stop_set;
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_set, NULL);

	/* GLASSHEAP_HTTP may have started the server already (EALREADY). */
	int rc = gh_server_start(listen);
	if (rc != 0 && rc != EALREADY) {
		fprintf(stderr, "glassheap-demo: debug server not started on %s: %s (the service runs anyway)\n",
			listen, strerror(rc));
	} else if (gh_server_port() > 0) {
		printf("glassheap-demo: debug endpoints on http://127.0.0.1:%d/debug/memory\n", gh_server_port());
	} else {
		printf("glassheap-demo: debug endpoints on %s\n", rc == EALREADY ? getenv("GLASSHEAP_HTTP") : listen);
	}
	if (leak)
		printf("glassheap-demo: leaking %s objects slowly\n", leak);
	fflush(stdout);

	pthread_t *tids = calloc((size_t)threads, sizeof *tids);
	if (!tids)
		return 1;
	for (int i = 0; i < threads; i++)
		pthread_create(&tids[i], NULL, worker, (void *)(uintptr_t)(i + 1));

	time_t start = time(NULL), last_status = start;
	for (;;) {
		struct timespec one = {1, 0};
		int sig = sigtimedwait(&stop_set, NULL, &one);
		if (sig == SIGINT || sig == SIGTERM)
			break;
		time_t now = time(NULL);
		if (duration > 0 && now - start >= duration)
			break;
		if (!quiet && now - last_status >= 10) {
			last_status = now;
			printf("glassheap-demo: %llu requests, %llu objects leaked\n",
			       (unsigned long long)atomic_load(&requests_done),
			       (unsigned long long)atomic_load(&objects_leaked));
			fflush(stdout);
		}
	}

	stopping = 1;
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	gh_server_stop();

	/* Orderly shutdown: sessions and cache go (leaked objects stay leaked). */
	for (size_t i = 0; i < MAX_SESSIONS; i++)
		free(sessions.slot[i]);
	while (cache.head) {
		struct cache_entry *c = cache.head;
		cache_unlink(c);
		free(c);
	}
	printf("glassheap-demo: stopped after %llu requests\n", (unsigned long long)atomic_load(&requests_done));
	return 0;
}
