/*
 * bench_events.c — the event streams of chronofs-bench's `journal` suite.
 *
 * The journal suite measures appends, not the engine, so its events are
 * produced once, before any timing: a real engine workload runs with a
 * sink that deep-copies every event into a cfs_bench_stream. The same
 * recorded events then feed chronofs and, encoded, every baseline.
 *
 * Everything here is deterministic (a fixed PRNG seed and an injected
 * clock that advances by pseudo-random microseconds), so every run, and
 * every repetition, sees byte-identical streams.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* ---------------------------------------------------------------------- */
/* Storage for the copies                                                   */

/* A bump allocator in large blocks: a million small strings would cost
 * more in malloc headers than in bytes. Freed all at once. */
struct cfs_bench_arena {
    cfs_bench_arena *next;
    size_t used, cap;
    char data[];
};

#define CFS_ARENA_BLOCK ((size_t)32 << 20)

static void *cfs_arena_alloc(cfs_bench_arena **head, size_t n)
{
    cfs_bench_arena *a = *head;
    n = (n + 7) & ~(size_t)7;
    if (!a || a->cap - a->used < n) {
        size_t cap = n > CFS_ARENA_BLOCK ? n : CFS_ARENA_BLOCK;
        a = malloc(sizeof *a + cap);
        if (!a)
            cfs_bench_die("out of memory recording events");
        a->next = *head;
        a->used = 0;
        a->cap = cap;
        *head = a;
    }
    void *p = a->data + a->used;
    a->used += n;
    return p;
}

static const char *cfs_arena_strdup(cfs_bench_arena **head, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    return memcpy(cfs_arena_alloc(head, n), s, n);
}

static cfs_errno cfs_stream_append(void *ctx, const cfs_event *ev)
{
    cfs_bench_stream *s = ctx;
    if (s->count == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->ev = realloc(s->ev, s->cap * sizeof *s->ev);
        if (!s->ev)
            cfs_bench_die("out of memory recording events");
    }
    cfs_event *c = &s->ev[s->count++];
    *c = *ev;
    c->path = cfs_arena_strdup(&s->arena, ev->path);
    c->path2 = cfs_arena_strdup(&s->arena, ev->path2);
    c->name = cfs_arena_strdup(&s->arena, ev->name);
    c->name2 = cfs_arena_strdup(&s->arena, ev->name2);
    if (ev->data && ev->length)
        c->data = memcpy(cfs_arena_alloc(&s->arena, ev->length), ev->data,
                         ev->length);
    if (ev->op == CFS_OP_WRITE) {
        s->writes++;
        s->payload_bytes += ev->length;
    }
    return 0;
}

void cfs_bench_stream_free(cfs_bench_stream *s)
{
    while (s->arena) {
        cfs_bench_arena *next = s->arena->next;
        free(s->arena);
        s->arena = next;
    }
    free(s->ev);
    memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------------------- */
/* Determinism: PRNG and clock                                              */

/* splitmix64 */
uint64_t cfs_bench_rng_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double cfs_rng_unit(uint64_t *state)
{
    return (double)(cfs_bench_rng_next(state) >> 11) * 0x1.0p-53;
}

typedef struct cfs_fake_clock {
    cfs_time now;
    uint64_t rng;
} cfs_fake_clock;

/* Each call is 0.5-2.5 us after the previous one, as calls of a busy guest
 * are: timestamps are real-looking deltas, not a constant stride a codec
 * could find unusually easy. */
static cfs_time cfs_fake_clock_read(void *ctx)
{
    cfs_fake_clock *c = ctx;
    c->now += 500 + cfs_bench_rng_next(&c->rng) % 2000;
    return c->now;
}

static cfs_fs *cfs_stream_engine(cfs_bench_stream *s, cfs_fake_clock *clk,
                                 uint64_t seed)
{
    memset(s, 0, sizeof *s);
    clk->now = UINT64_C(1763800000) * 1000000000u;  /* November 2025 */
    clk->rng = seed;
    cfs_config cfg = {
        .clock = cfs_fake_clock_read,
        .clock_ctx = clk,
        .sink = {.append = cfs_stream_append, .ctx = s},
    };
    cfs_fs *fs = cfs_fs_new(&cfg);
    if (!fs)
        cfs_bench_die("cfs_fs_new: out of memory");
    return fs;
}

/* ---------------------------------------------------------------------- */
/* The metadata stream                                                      */

#define CFS_META_DIRS 16

void cfs_bench_stream_meta(cfs_bench_stream *s, size_t n, int per_dir)
{
    cfs_fake_clock clk;
    cfs_fs *fs = cfs_stream_engine(s, &clk, 0x6d657461);
    char a[96], b[96];
    cfs_fd top, fd;
    uint64_t rng = 0x6e616d6573;

    CFS_ECHECK(fs, "mkdir", cfs_path_create_directory(fs, CFS_ROOT_FD,
                                                      "project"));
    CFS_ECHECK(fs, "open project",
               cfs_path_open(fs, CFS_ROOT_FD, 0, "project", CFS_O_DIRECTORY,
                             CFS_RIGHTS_ALL & ~CFS_RIGHT_FD_WRITE,
                             CFS_RIGHTS_ALL, 0, &top));
    for (int d = 0; d < CFS_META_DIRS; d++) {
        snprintf(a, sizeof a, "src%02d", d);
        CFS_ECHECK(fs, "mkdir", cfs_path_create_directory(fs, top, a));
    }

    /* Rounds of: create (open O_CREAT|O_EXCL, close), set times, chmod,
     * rename, unlink — the life of a build's temporary files, per_dir of
     * them in each directory. Each round leaves the tree as it found it, so
     * memory stays flat however many events are asked for. */
    for (unsigned round = 0; s->count < n; round++) {
        for (int d = 0; d < CFS_META_DIRS; d++)
            for (int i = 0; i < per_dir; i++) {
                snprintf(a, sizeof a, "src%02d/obj%04u_%02d.tmp", d, round, i);
                CFS_ECHECK(fs, "create",
                           cfs_path_open(fs, top, 0, a,
                                         CFS_O_CREAT | CFS_O_EXCL,
                                         CFS_FILE_RIGHTS, 0, 0, &fd));
                CFS_ECHECK(fs, "close", cfs_fd_close(fs, fd));
            }
        for (int d = 0; d < CFS_META_DIRS; d++)
            for (int i = 0; i < per_dir; i++) {
                snprintf(a, sizeof a, "src%02d/obj%04u_%02d.tmp", d, round, i);
                cfs_time t = clk.now - cfs_bench_rng_next(&rng) % 1000000000000u;
                CFS_ECHECK(fs, "set_times",
                           cfs_path_filestat_set_times(
                               fs, top, 0, a, t, t + 1000,
                               CFS_FST_ATIM | CFS_FST_MTIM));
            }
        for (int d = 0; d < CFS_META_DIRS; d++)
            for (int i = 0; i < per_dir; i++) {
                snprintf(a, sizeof a, "src%02d/obj%04u_%02d.tmp", d, round, i);
                CFS_ECHECK(fs, "chmod", cfs_path_chmod(fs, top, 0, a,
                                                       i & 1 ? 0600 : 0640));
            }
        for (int d = 0; d < CFS_META_DIRS; d++)
            for (int i = 0; i < per_dir; i++) {
                snprintf(a, sizeof a, "src%02d/obj%04u_%02d.tmp", d, round, i);
                snprintf(b, sizeof b, "src%02d/obj%04u_%02d.o", d, round, i);
                CFS_ECHECK(fs, "rename", cfs_path_rename(fs, top, a, top, b));
            }
        for (int d = 0; d < CFS_META_DIRS; d++)
            for (int i = 0; i < per_dir; i++) {
                snprintf(b, sizeof b, "src%02d/obj%04u_%02d.o", d, round, i);
                CFS_ECHECK(fs, "unlink", cfs_path_unlink_file(fs, top, b));
            }
    }
    cfs_fs_free(fs);
    s->count = n;   /* a prefix: seqs 1..n, no gap */
    if (s->ev[n - 1].seq != n)
        cfs_bench_die("metadata stream: event %zu has seq %" PRIu64, n,
                      s->ev[n - 1].seq);
}

/* ---------------------------------------------------------------------- */
/* English-like text                                                        */

/* Common English words, roughly most frequent first; picked with a
 * Zipf-like law (rank r with probability ~ 1/r), as words are in prose. */
static const char *const cfs_words[] = {
    "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he",
    "was", "for", "on", "are", "with", "as", "I", "his", "they", "be", "at",
    "one", "have", "this", "from", "or", "had", "by", "not", "word", "but",
    "what", "some", "we", "can", "out", "other", "were", "all", "there",
    "when", "up", "use", "your", "how", "said", "an", "each", "she", "which",
    "do", "their", "time", "if", "will", "way", "about", "many", "then",
    "them", "write", "would", "like", "so", "these", "her", "long", "make",
    "thing", "see", "him", "two", "has", "look", "more", "day", "could",
    "go", "come", "did", "number", "sound", "no", "most", "people", "my",
    "over", "know", "water", "than", "call", "first", "who", "may", "down",
    "side", "been", "now", "find", "any", "new", "work", "part", "take",
    "get", "place", "made", "live", "where", "after", "back", "little",
    "only", "round", "man", "year", "came", "show", "every", "good", "me",
    "give", "our", "under", "name", "very", "through", "just", "form",
    "sentence", "great", "think", "say", "help", "low", "line", "differ",
    "turn", "cause", "much", "mean", "before", "move", "right", "boy", "old",
    "too", "same", "tell", "does", "set", "three", "want", "air", "well",
    "also", "play", "small", "end", "put", "home", "read", "hand", "port",
    "large", "spell", "add", "even", "land", "here", "must", "big", "high",
    "such", "follow", "act", "why", "ask", "men", "change", "went", "light",
    "kind", "off", "need", "house", "picture", "try", "us", "again",
    "animal", "point", "mother", "world", "near", "build", "self", "earth",
    "father", "head", "stand", "own", "page", "should", "country", "found",
    "answer", "school", "grow", "study", "still", "learn", "plant", "cover",
    "food", "sun", "four", "between", "state", "keep", "eye", "never",
    "last", "let", "thought", "city", "tree", "cross", "farm", "hard",
    "start", "might", "story", "saw", "far", "sea", "draw", "left", "late",
    "run", "while", "press", "close", "night", "real", "life", "few",
    "north", "open", "seem", "together", "next", "white", "children",
    "begin", "got", "walk", "example", "ease", "paper", "group", "always",
    "music", "those", "both", "mark", "often", "letter", "until", "mile",
    "river", "car", "feet", "care", "second", "book", "carry", "took",
    "science", "eat", "room", "friend", "began", "idea", "fish", "mountain",
    "stop", "once", "base", "hear", "horse", "cut", "sure", "watch", "color",
    "face", "wood", "main", "enough", "plain", "girl", "usual", "young",
    "ready", "above", "ever", "red", "list", "though", "feel", "talk",
    "bird", "soon", "body", "dog", "family", "direct", "pose", "leave",
    "song", "measure", "door", "product", "black", "short", "numeral",
    "class", "wind", "question", "happen", "complete", "ship", "area",
    "half", "rock", "order", "fire", "south", "problem", "piece", "told",
    "knew", "pass", "since", "top", "whole", "king", "space", "heard",
    "best", "hour", "better", "true", "during", "hundred", "five",
    "remember", "step", "early", "hold", "west", "ground", "interest",
    "reach", "fast", "verb", "sing", "listen", "six", "table", "travel",
    "less", "morning", "ten", "simple", "several", "vowel", "toward", "war",
    "lay", "against", "pattern", "slow", "center", "love", "person", "money",
    "serve", "appear", "road", "map", "rain", "rule", "govern", "pull",
    "cold", "notice", "voice", "unit", "power", "town", "fine", "certain",
    "fly", "fall", "lead", "cry", "dark", "machine", "note", "wait", "plan",
    "figure", "star", "box", "noun", "field", "rest", "correct", "able",
    "pound", "done", "beauty", "drive", "stood", "contain", "front",
    "teach", "week", "final", "gave", "green", "quick", "develop", "ocean",
    "warm", "free", "minute", "strong", "special", "mind", "behind", "clear",
    "tail", "produce", "fact", "street", "inch", "multiply", "nothing",
    "course", "stay", "wheel", "full", "force", "blue", "object", "decide",
    "surface", "deep", "moon", "island", "foot", "system", "busy", "test",
    "record", "boat", "common", "gold", "possible", "plane", "instead",
    "dry", "wonder", "laugh", "thousand", "ago", "ran", "check", "game",
    "shape", "equate", "miss", "brought", "heat", "snow", "tire", "bring",
    "yes", "distant", "fill", "east", "paint", "language", "among",
};
#define CFS_NWORDS (sizeof cfs_words / sizeof cfs_words[0])

/* Fill buf with len bytes of prose: sentences of 5-24 words with the odd
 * comma and number, paragraphs of 2-7 sentences. The text runs on from one
 * call to the next (a word cut at the end of a buffer is simply cut). */
void cfs_bench_text_fill(cfs_bench_text *t, char *buf, size_t len)
{
    const double log_n = log((double)CFS_NWORDS + 1);
    size_t at = 0;
    char piece[64];

    while (at < len) {
        if (t->words_left == 0) {
            if (t->sentences_left == 0)
                t->sentences_left = 2 + (int)(cfs_bench_rng_next(&t->rng) % 6);
            t->words_left = 5 + (int)(cfs_bench_rng_next(&t->rng) % 20);
            t->capital = 1;
        }
        int n;
        uint64_t r = cfs_bench_rng_next(&t->rng);
        if (r % 50 == 0) {
            n = snprintf(piece, sizeof piece, "%u",
                         (unsigned)(r >> 32) % (r & 64 ? 100 : 3000));
        } else {
            size_t w = (size_t)exp(cfs_rng_unit(&t->rng) * log_n) - 1;
            n = snprintf(piece, sizeof piece, "%s",
                         cfs_words[w < CFS_NWORDS ? w : CFS_NWORDS - 1]);
        }
        if (t->capital && piece[0] >= 'a' && piece[0] <= 'z')
            piece[0] = (char)(piece[0] - 'a' + 'A');
        t->capital = 0;
        if (--t->words_left == 0) {
            piece[n++] = r % 13 == 0 ? '?' : '.';
            if (--t->sentences_left == 0) {
                piece[n++] = '\n';
                piece[n++] = '\n';
            } else {
                piece[n++] = ' ';
            }
        } else {
            if (r % 11 == 0)
                piece[n++] = ',';
            piece[n++] = ' ';
        }
        size_t take = (size_t)n < len - at ? (size_t)n : len - at;
        memcpy(buf + at, piece, take);
        at += take;
    }
}

/* ---------------------------------------------------------------------- */
/* The bulk write stream                                                    */

#define CFS_BULK_WRITES_PER_FILE 16

void cfs_bench_stream_bulk(cfs_bench_stream *s, uint64_t payload_bytes,
                           size_t write_size)
{
    cfs_fake_clock clk;
    cfs_fs *fs = cfs_stream_engine(s, &clk, 0x62756c6b);
    cfs_bench_text text = {.rng = 0x70726f7365};
    char *buf = malloc(write_size);
    char a[64];
    cfs_fd fd;
    size_t n;

    if (!buf)
        cfs_bench_die("out of memory");
    CFS_ECHECK(fs, "mkdir", cfs_path_create_directory(fs, CFS_ROOT_FD,
                                                      "docs"));
    /* Each file is unlinked once written: the engine frees its blocks, so
     * only the recording holds the payload. */
    for (unsigned f = 0; s->payload_bytes < payload_bytes; f++) {
        snprintf(a, sizeof a, "docs/chapter-%05u.txt", f);
        CFS_ECHECK(fs, "create",
                   cfs_path_open(fs, CFS_ROOT_FD, 0, a,
                                 CFS_O_CREAT | CFS_O_EXCL, CFS_FILE_RIGHTS,
                                 0, 0, &fd));
        for (int w = 0; w < CFS_BULK_WRITES_PER_FILE &&
                        s->payload_bytes < payload_bytes; w++) {
            cfs_bench_text_fill(&text, buf, write_size);
            CFS_ECHECK(fs, "write", cfs_fd_write(fs, fd, buf, write_size,
                                                 &n));
            if (n != write_size)
                cfs_bench_die("engine: short write %zu of %zu", n,
                              write_size);
        }
        CFS_ECHECK(fs, "close", cfs_fd_close(fs, fd));
        CFS_ECHECK(fs, "unlink", cfs_path_unlink_file(fs, CFS_ROOT_FD, a));
    }
    free(buf);
    cfs_fs_free(fs);
}
