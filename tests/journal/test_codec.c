/*
 * test_codec.c — the event codec and frames, as the journal and any reader
 * of FORMAT.md rely on them:
 *  - every op with every field shape survives encode -> decode (seeded
 *    random events, thousands per seed), alone and inside frames;
 *  - the exact bytes of known records and of a frame header (golden
 *    vectors, the worked examples of FORMAT.md);
 *  - every malformed record is refused with a message naming the seq and
 *    the field, and no prefix of a record is ever read past its end;
 *  - frames: round trip at several levels, the raw fallback, the checksum
 *    covering every byte, a newer version, truncation at every length,
 *    lying counts and lengths, whole-or-nothing delivery;
 *  - a real engine workload reaching every op, journaled into frames and
 *    replayed from them, ends in the same state.
 *
 * Property tests print their seed; CFS_TEST_SEED=N replays one,
 * CFS_TEST_OPS=N sets the events per seed.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxh_x86dispatch.h>

#include "cfs_journal.h"
#include "cfs_test_allops.h"
#include "cfs_test_util.h"
#include "frame.h"

/* ---- helpers ------------------------------------------------------------- */

static const uint64_t default_seeds[] = {1, 0xc0dec, 20241122};
#define NSEEDS (sizeof(default_seeds) / sizeof(default_seeds[0]))

/* Events whose strings and data live in one arena per test. */
typedef struct arena {
    char *p;
    size_t used, cap;
} arena;

static void *arena_alloc(arena *a, size_t n)
{
    if (a->used + n > a->cap) {
        /* chunks are never moved: old pointers stay valid */
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        char *chunk = malloc(cap + sizeof(char *));
        cr_assert_not_null(chunk);
        memcpy(chunk, &a->p, sizeof(char *)); /* chain for freeing */
        a->p = chunk;
        a->used = sizeof(char *);
        a->cap = cap + sizeof(char *);
    }
    void *r = a->p + a->used;
    a->used += n;
    return r;
}

static void arena_free(arena *a)
{
    while (a->p) {
        char *next;
        memcpy(&next, a->p, sizeof(char *));
        free(a->p);
        a->p = next;
    }
    a->used = a->cap = 0;
}

static uint64_t rand_u64(cfs_rng *r)
{
    switch (cfs_rng_below(r, 6)) {
    case 0: case 1: return 0;
    case 2: return 1 + cfs_rng_below(r, 127);
    case 3: return cfs_rng_below(r, 100000);
    case 4: return cfs_rng_next(r) >> cfs_rng_below(r, 64);
    default: return cfs_rng_chance(r, 50) ? UINT64_MAX : cfs_rng_next(r);
    }
}

static uint32_t rand_u32(cfs_rng *r)
{
    return cfs_rng_chance(r, 10) ? UINT32_MAX : (uint32_t)rand_u64(r);
}

static const char *rand_str(cfs_rng *r, arena *a)
{
    uint64_t k = cfs_rng_below(r, 10);
    if (k < 3)
        return NULL;
    size_t len = k == 3 ? 0 : k < 8 ? (size_t)cfs_rng_below(r, 20)
                                     : (size_t)cfs_rng_below(r, 5000);
    char *s = arena_alloc(a, len + 1);
    for (size_t i = 0; i < len; i++)
        s[i] = (char)(1 + cfs_rng_below(r, 255)); /* any byte but NUL */
    s[len] = 0;
    return s;
}

/* A random event: any op, each field zero / small / large / extreme,
 * strings NULL / "" / short / long with any non-NUL byte, data present or
 * not, times repeating, moving both ways, at 0 and 2^64-1. */
static void rand_event(cfs_rng *r, arena *a, uint64_t seq, cfs_time prev_time,
                       cfs_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->seq = seq;
    ev->op = (uint16_t)(1 + cfs_rng_below(r, CFS_OP_MAX_));
    ev->pid = rand_u32(r);
    switch (cfs_rng_below(r, 6)) {
    case 0: ev->time = prev_time; break;
    case 1: ev->time = prev_time + cfs_rng_below(r, 1000); break;
    case 2: ev->time = prev_time - cfs_rng_below(r, 1000); break;
    case 3: ev->time = 0; break;
    case 4: ev->time = UINT64_MAX - cfs_rng_below(r, 2); break;
    default: ev->time = cfs_rng_next(r); break;
    }
    ev->fd = rand_u32(r);
    ev->fd2 = rand_u32(r);
    ev->path = rand_str(r, a);
    ev->path2 = rand_str(r, a);
    ev->ino = rand_u64(r);
    ev->dir = rand_u64(r);
    ev->name = rand_str(r, a);
    ev->dir2 = rand_u64(r);
    ev->name2 = rand_str(r, a);
    ev->ino2 = rand_u64(r);
    ev->ofd = rand_u64(r);
    ev->offset = rand_u64(r);
    switch (cfs_rng_below(r, 4)) {
    case 0: /* no length, maybe a stray data pointer (not encoded) */
        ev->data = cfs_rng_chance(r, 50) ? "stray" : NULL;
        break;
    case 1: /* a length without data (ALLOCATE, SET_TIMES...) */
        ev->length = rand_u64(r);
        break;
    default: {
        ev->length = 1 + cfs_rng_below(r, cfs_rng_chance(r, 90) ? 64 : 70000);
        uint8_t *d = arena_alloc(a, (size_t)ev->length);
        cfs_rng_bytes(r, d, (size_t)ev->length); /* NULs included */
        ev->data = d;
        break;
    }
    }
    ev->rights_base = rand_u64(r);
    ev->rights_inheriting = rand_u64(r);
    ev->flags = rand_u32(r);
    ev->mode = rand_u32(r);
    ev->uid = rand_u32(r);
    ev->gid = rand_u32(r);
}

static int str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Is `got` what decoding `want` must give? Describes the first difference. */
static int event_eq(const cfs_event *want, const cfs_event *got, char *msg,
                    size_t len)
{
#define CHECK(f)                                                              \
    if (want->f != got->f) {                                                  \
        snprintf(msg, len, "seq %" PRIu64 ": %s: want %" PRIu64 ", got %" PRIu64, \
                 want->seq, #f, (uint64_t)want->f, (uint64_t)got->f);         \
        return 0;                                                             \
    }
#define CHECKS(f)                                                             \
    if (!str_eq(want->f, got->f)) {                                           \
        snprintf(msg, len, "seq %" PRIu64 ": %s differs", want->seq, #f);     \
        return 0;                                                             \
    }
    CHECK(seq) CHECK(op) CHECK(pid) CHECK(time) CHECK(fd) CHECK(fd2)
    CHECKS(path) CHECKS(path2) CHECK(ino) CHECK(dir) CHECKS(name) CHECK(dir2)
    CHECKS(name2) CHECK(ino2) CHECK(ofd) CHECK(offset) CHECK(length)
    CHECK(rights_base) CHECK(rights_inheriting) CHECK(flags) CHECK(mode)
    CHECK(uid) CHECK(gid)
#undef CHECK
#undef CHECKS
    int want_data = want->data && want->length;
    if (want_data != (got->data != NULL) ||
        (want_data && memcmp(want->data, got->data, (size_t)want->length))) {
        snprintf(msg, len, "seq %" PRIu64 ": data differs", want->seq);
        return 0;
    }
    return 1;
}

static size_t test_ops(size_t dflt)
{
    return (size_t)cfs_test_env_u64("CFS_TEST_OPS", dflt);
}

/* Decode one record that must be refused; returns the message. */
static const char *refuse(uint64_t prev_seq, uint64_t prev_time,
                          const uint8_t *rec, size_t len)
{
    static char err[256];
    /* an exact-size heap copy: ASan sees a read one byte past the end */
    uint8_t *buf = malloc(len ? len : 1);
    cr_assert_not_null(buf);
    if (len)
        memcpy(buf, rec, len);
    cfs_codec_ctx cc = {prev_seq, prev_time};
    cfs_event ev;
    size_t used = 12345;
    int rc = cfs_codec_decode(&cc, buf, len, &ev, &used, err, sizeof(err));
    free(buf);
    cr_assert_eq(rc, CFS_JE_CORRUPT, "accepted a malformed record (rc %d)", rc);
    cr_assert_eq(cc.seq, prev_seq, "a refused record moved the context");
    cr_assert_eq(cc.time, prev_time, "a refused record moved the context");
    return err;
}

#define assert_has(msg, want)                                               \
    cr_assert(strstr((msg), (want)) != NULL, "message \"%s\" lacks \"%s\"",    \
              (msg), (want))

static void fix_checksum(uint8_t *f, size_t len)
{
    uint64_t seed = XXH3_64bits_dispatch(f, 32);
    uint64_t sum = XXH3_64bits_withSeed_dispatch(f + CFS_FRAME_HEADER_SIZE,
                                                 len - CFS_FRAME_HEADER_SIZE, seed);
    for (int i = 0; i < 8; i++)
        f[32 + i] = (uint8_t)(sum >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Collects the decoded events of a frame (deep copies). */
typedef struct collect {
    cfs_event *ev;
    size_t n, cap;
    int stop_at;   /* return 7 at this many events (0: never) */
} collect;

static int collect_fn(void *ctx, const cfs_event *ev)
{
    collect *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->ev = realloc(c->ev, c->cap * sizeof(*c->ev));
        cr_assert_not_null(c->ev);
    }
    cr_assert_eq(cfs_event_copy(&c->ev[c->n], ev), 0);
    c->n++;
    return c->stop_at && (int)c->n == c->stop_at ? 7 : 0;
}

static void collect_free(collect *c)
{
    for (size_t i = 0; i < c->n; i++)
        cfs_event_release(&c->ev[i]);
    free(c->ev);
    memset(c, 0, sizeof(*c));
}

/* Encode events[0..n) as the records of one frame. */
static uint8_t *encode_records(const cfs_event *ev, size_t n, size_t *len)
{
    size_t cap = 0;
    for (size_t i = 0; i < n; i++)
        cap += cfs_codec_bound(&ev[i]);
    uint8_t *buf = malloc(cap ? cap : 1);
    cr_assert_not_null(buf);
    cfs_codec_ctx cc = {0, 0};
    size_t pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += cfs_codec_encode(&cc, &ev[i], buf + pos);
    *len = pos;
    return buf;
}

/* A frame of n simple events from seq `first`, copied out: compressible
 * (the same 16 bytes written again and again) unless `noise` (64 random
 * bytes each, which zstd cannot shrink: the frame is stored raw). */
static uint8_t *make_frame_of(uint64_t first, uint32_t n, int level, int noise,
                              size_t *len)
{
    static uint8_t rnd[64 * 16];
    cfs_rng r;
    cfs_rng_seed(&r, first);
    cfs_rng_bytes(&r, rnd, sizeof(rnd));
    cfs_event *ev = calloc(n, sizeof(*ev));
    cr_assert_not_null(ev);
    for (uint32_t i = 0; i < n; i++) {
        ev[i].seq = first + i;
        ev[i].op = CFS_OP_WRITE;
        ev[i].pid = 1;
        ev[i].time = 1000 * (first + i);
        ev[i].fd = 4;
        ev[i].ino = 14;
        ev[i].offset = 16 * i;
        ev[i].length = noise ? 64 : 16;
        ev[i].data = noise ? (const void *)(rnd + 64 * (i % 16)) : "0123456789abcdef";
        ev[i].flags = CFS_EVF_WRITE_MOVES;
    }
    size_t raw_len;
    uint8_t *raw = encode_records(ev, n, &raw_len);
    cfs_frame_codec *fc = cfs_frame_codec_new(level);
    cr_assert_not_null(fc);
    const uint8_t *f;
    size_t flen;
    cr_assert_eq(cfs_frame_encode(fc, first, n, raw, raw_len, &f, &flen), 0);
    uint8_t *copy = malloc(flen);
    memcpy(copy, f, flen);
    *len = flen;
    cfs_frame_codec_free(fc);
    free(raw);
    free(ev);
    return copy;
}

static uint8_t *make_frame(uint64_t first, uint32_t n, int level, size_t *len)
{
    return make_frame_of(first, n, level, 0, len);
}

static int frame_decode(const uint8_t *f, size_t len, uint64_t key, collect *c,
                        char *err, size_t errcap)
{
    /* exact-size copy, as above */
    uint8_t *buf = malloc(len ? len : 1);
    memcpy(buf, f, len);
    int rc = cfs_frame_decode(buf, len, key, collect_fn, c, err, errcap);
    free(buf);
    return rc;
}

/* ---- round trips ----------------------------------------------------------- */

Test(codec, random_round_trip)
{
    uint64_t seeds[NSEEDS];
    size_t ns = cfs_test_seeds(default_seeds, NSEEDS, seeds);
    size_t nev = test_ops(5000);
    for (size_t s = 0; s < ns; s++) {
        printf("codec.random_round_trip: seed %" PRIu64 " (CFS_TEST_SEED=%" PRIu64
               " replays it), %zu events\n", seeds[s], seeds[s], nev);
        fflush(stdout);
        cfs_rng r;
        cfs_rng_seed(&r, seeds[s]);
        arena a = {0};
        cfs_event *ev = calloc(nev, sizeof(*ev));
        cr_assert_not_null(ev);
        uint64_t first = cfs_rng_chance(&r, 50) ? 1 : cfs_rng_next(&r) >> 8;
        cfs_time t = 0;
        unsigned ops_seen[CFS_OP_MAX_ + 1] = {0};
        for (size_t i = 0; i < nev; i++) {
            rand_event(&r, &a, first + i, t, &ev[i]);
            t = ev[i].time;
            ops_seen[ev[i].op]++;
        }
        for (int op = 1; op <= CFS_OP_MAX_; op++)
            cr_assert(ops_seen[op] > 0 || nev < 1000, "op %d never drawn", op);

        /* one stream of records, each within its bound */
        size_t cap = 0;
        for (size_t i = 0; i < nev; i++)
            cap += cfs_codec_bound(&ev[i]);
        uint8_t *buf = malloc(cap);
        cfs_codec_ctx ec = {first - 1, 0};
        size_t pos = 0;
        for (size_t i = 0; i < nev; i++) {
            size_t n = cfs_codec_encode(&ec, &ev[i], buf + pos);
            cr_assert_leq(n, cfs_codec_bound(&ev[i]), "seed %" PRIu64 " seq %" PRIu64
                          ": %zu bytes past the bound", seeds[s], ev[i].seq, n);
            cr_assert_eq(ec.seq, ev[i].seq);
            cr_assert_eq(ec.time, ev[i].time);
            pos += n;
        }

        cfs_codec_ctx dc = {first - 1, 0};
        size_t at = 0;
        char err[256], msg[256];
        for (size_t i = 0; i < nev; i++) {
            cfs_event got;
            size_t used;
            int rc = cfs_codec_decode(&dc, buf + at, pos - at, &got, &used, err,
                                      sizeof(err));
            cr_assert_eq(rc, 0, "seed %" PRIu64 ": %s", seeds[s], err);
            cr_assert(event_eq(&ev[i], &got, msg, sizeof(msg)), "seed %" PRIu64
                      ": %s", seeds[s], msg);
            /* strings are C strings inside the buffer */
            if (got.path)
                cr_assert(got.path >= (const char *)buf &&
                          got.path < (const char *)buf + pos);
            at += used;
        }
        cr_assert_eq(at, pos);

        /* the same events cut into frames at several levels */
        cfs_frame_codec *fc = cfs_frame_codec_new((int)cfs_rng_below(&r, 6) - 2);
        for (size_t i = 0; i < nev;) {
            size_t n = 1 + (size_t)cfs_rng_below(&r, 300);
            if (n > nev - i)
                n = nev - i;
            size_t rl;
            uint8_t *raw = encode_records(&ev[i], n, &rl);
            const uint8_t *f;
            size_t flen;
            cr_assert_eq(cfs_frame_encode(fc, ev[i].seq, (uint32_t)n, raw, rl, &f,
                                          &flen), 0);
            collect c = {0};
            int rc = cfs_frame_decode_with(fc, f, flen, ev[i].seq, collect_fn, &c,
                                           err, sizeof(err));
            cr_assert_eq(rc, 0, "seed %" PRIu64 ": %s", seeds[s], err);
            cr_assert_eq(c.n, n);
            for (size_t k = 0; k < n; k++)
                cr_assert(event_eq(&ev[i + k], &c.ev[k], msg, sizeof(msg)),
                          "seed %" PRIu64 " (frame): %s", seeds[s], msg);
            collect_free(&c);
            free(raw);
            i += n;
        }
        cfs_frame_codec_free(fc);
        free(buf);
        free(ev);
        arena_free(&a);
    }
}

/* Journaling a real workload that reaches every op, and replaying it from
 * the frames, gives the live state back. */

struct journal_sink {
    cfs_frame_codec *fc;
    uint8_t *batch;
    size_t len, cap;
    uint32_t count;
    uint64_t first;
    cfs_codec_ctx enc;
    uint8_t **frames;
    size_t *flen;
    size_t nframes, fcap;
    unsigned ops[CFS_OP_MAX_ + 1];
    cfs_rng rng;
};

static void js_flush(struct journal_sink *js)
{
    if (!js->count)
        return;
    const uint8_t *f;
    size_t flen;
    cr_assert_eq(cfs_frame_encode(js->fc, js->first, js->count, js->batch,
                                  js->len, &f, &flen), 0);
    if (js->nframes == js->fcap) {
        js->fcap = js->fcap ? js->fcap * 2 : 64;
        js->frames = realloc(js->frames, js->fcap * sizeof(*js->frames));
        js->flen = realloc(js->flen, js->fcap * sizeof(*js->flen));
    }
    js->frames[js->nframes] = malloc(flen);
    memcpy(js->frames[js->nframes], f, flen);
    js->flen[js->nframes++] = flen;
    js->len = 0;
    js->count = 0;
}

static cfs_errno js_append(void *ctx, const cfs_event *ev)
{
    struct journal_sink *js = ctx;
    size_t need = cfs_codec_bound(ev);
    if (js->len + need > js->cap) {
        js->cap = (js->len + need) * 2;
        js->batch = realloc(js->batch, js->cap);
        cr_assert_not_null(js->batch);
    }
    if (!js->count) {
        js->first = ev->seq;
        js->enc = (cfs_codec_ctx){ev->seq - 1, 0};
    }
    js->len += cfs_codec_encode(&js->enc, ev, js->batch + js->len);
    js->count++;
    js->ops[ev->op]++;
    if (cfs_rng_chance(&js->rng, 3))
        js_flush(js);
    return 0;
}

static int apply_fn(void *ctx, const cfs_event *ev)
{
    cfs_fs *fs = ctx;
    cfs_errno e = cfs_fs_apply(fs, ev);
    cr_assert_eq(e, 0, "apply seq %" PRIu64 ": %s: %s", ev->seq,
                 cfs_errno_name(e), cfs_fs_errmsg(fs));
    return 0;
}

Test(codec, engine_workload_replays_from_frames)
{
    uint64_t seeds[NSEEDS];
    size_t ns = cfs_test_seeds(default_seeds, NSEEDS, seeds);
    size_t calls = test_ops(20000);
    for (size_t s = 0; s < ns; s++) {
        printf("codec.engine_workload_replays_from_frames: seed %" PRIu64
               ", %zu calls\n", seeds[s], calls);
        fflush(stdout);
        struct journal_sink js = {0};
        js.fc = cfs_frame_codec_new(1);
        cfs_rng_seed(&js.rng, seeds[s] + 1);
        cfs_sink sink = {js_append, NULL, &js};
        cfs_allops w;
        cr_assert_eq(cfs_allops_init(&w, seeds[s], &sink, 70000), 0);
        for (size_t i = 0; i < calls; i++)
            cfs_allops_step(&w);
        js_flush(&js);
        for (int op = 1; op <= CFS_OP_MAX_; op++)
            cr_assert(js.ops[op] > 0 || calls < 5000,
                      "seed %" PRIu64 ": the workload never made op %s", seeds[s],
                      cfs_op_name((uint16_t)op));

        cfs_fs *fs = cfs_fs_new(NULL);
        char err[256];
        for (size_t i = 0; i < js.nframes; i++) {
            uint64_t first;
            uint32_t count;
            cr_assert_eq(cfs_frame_peek(js.frames[i], js.flen[i],
                                        get64(js.frames[i] + 8), &first, &count,
                                        err, sizeof(err)), 0, "%s", err);
            cr_assert_eq(first, cfs_fs_seq(fs) + 1);
            int rc = cfs_frame_decode_with(js.fc, js.frames[i], js.flen[i], first,
                                           apply_fn, fs, err, sizeof(err));
            cr_assert_eq(rc, 0, "%s", err);
            cr_assert_eq(cfs_fs_seq(fs), first + count - 1);
        }
        cr_assert_eq(cfs_fs_seq(fs), cfs_fs_seq(w.fs));
        cfs_hash128 a = cfs_fs_hash(fs), b = cfs_fs_hash(w.fs);
        cr_assert(a.lo == b.lo && a.hi == b.hi, "seed %" PRIu64
                  ": replayed state differs from the live one", seeds[s]);
        cfs_fs_free(fs);
        cfs_allops_free(&w);
        for (size_t i = 0; i < js.nframes; i++)
            free(js.frames[i]);
        free(js.frames);
        free(js.flen);
        free(js.batch);
        cfs_frame_codec_free(js.fc);
    }
}

/* ---- golden vectors (FORMAT.md's worked examples) ----------------------------- */

static const uint8_t golden_rename[] = {
    0x17,                   /* record_len 23 */
    0x0c,                   /* op 12 = rename */
    0xff, 0x0f,             /* mask 0x7ff: pid..name2 */
    0x01,                   /* pid 1 */
    0xd0, 0x0f,             /* time: delta +1000, zigzag 2000 */
    0x03,                   /* fd 3 */
    0x03,                   /* fd2 3 */
    0x01, 'a', 0x00,        /* path "a" */
    0x01, 'b', 0x00,        /* path2 "b" */
    0x0e,                   /* ino 14 */
    0x0d,                   /* dir 13 */
    0x01, 'a', 0x00,        /* name "a" */
    0x0d,                   /* dir2 13 */
    0x01, 'b', 0x00,        /* name2 "b" */
};

static const uint8_t golden_write[] = {
    0x0d,                   /* record_len 13 */
    0x05,                   /* op 5 = write */
    0xc7, 0x80, 0x13,       /* mask 0x4c047: pid time fd ino length data flags */
    0x01,                   /* pid 1 */
    0x13,                   /* time: delta -10, zigzag 19 */
    0x04,                   /* fd 4 */
    0x0e,                   /* ino 14 */
    0x03,                   /* length 3 */
    'x', 'y', 'z',          /* data */
    0x01,                   /* flags CFS_EVF_WRITE_MOVES */
};

static cfs_event golden_events[2];

static void golden_init(void)
{
    cfs_event *r = &golden_events[0], *w = &golden_events[1];
    memset(golden_events, 0, sizeof(golden_events));
    *r = (cfs_event){.seq = 5, .op = CFS_OP_RENAME, .pid = 1, .time = 1000,
                     .fd = 3, .path = "a", .fd2 = 3, .path2 = "b", .ino = 14,
                     .dir = 13, .name = "a", .dir2 = 13, .name2 = "b"};
    *w = (cfs_event){.seq = 6, .op = CFS_OP_WRITE, .pid = 1, .time = 990,
                     .fd = 4, .ino = 14, .length = 3, .data = "xyz",
                     .flags = CFS_EVF_WRITE_MOVES};
}

Test(codec, golden_records, .init = golden_init)
{
    uint8_t buf[256];
    cfs_codec_ctx cc = {4, 0};
    size_t n1 = cfs_codec_encode(&cc, &golden_events[0], buf);
    cr_assert_eq(n1, sizeof(golden_rename));
    cr_assert_arr_eq(buf, golden_rename, sizeof(golden_rename));
    size_t n2 = cfs_codec_encode(&cc, &golden_events[1], buf + n1);
    cr_assert_eq(n2, sizeof(golden_write));
    cr_assert_arr_eq(buf + n1, golden_write, sizeof(golden_write));
    cr_assert_eq(cc.seq, 6);
    cr_assert_eq(cc.time, 990);

    cfs_codec_ctx dc = {4, 0};
    cfs_event ev;
    size_t used;
    char err[200], msg[200];
    cr_assert_eq(cfs_codec_decode(&dc, buf, n1 + n2, &ev, &used, err, sizeof(err)), 0);
    cr_assert_eq(used, n1);
    cr_assert(event_eq(&golden_events[0], &ev, msg, sizeof(msg)), "%s", msg);
    cr_assert_eq(cfs_codec_decode(&dc, buf + n1, n2, &ev, &used, err, sizeof(err)), 0);
    cr_assert(event_eq(&golden_events[1], &ev, msg, sizeof(msg)), "%s", msg);
}

Test(codec, golden_frame_header, .init = golden_init)
{
    uint8_t raw[64];
    cfs_codec_ctx cc = {4, 0};
    size_t n = cfs_codec_encode(&cc, &golden_events[0], raw);
    n += cfs_codec_encode(&cc, &golden_events[1], raw + n);
    cfs_frame_codec *fc = cfs_frame_codec_new(1);
    const uint8_t *f;
    size_t flen;
    cr_assert_eq(cfs_frame_encode(fc, 5, 2, raw, n, &f, &flen), 0);
    /* 38 raw bytes do not shrink: stored raw */
    static const uint8_t want[32] = {
        'C', 'F', 'S', 'F',      /* magic */
        0x01, 0x00,              /* format version 1 */
        0x00,                    /* codec raw */
        0x00,                    /* flags */
        5, 0, 0, 0, 0, 0, 0, 0,  /* first seq 5 */
        2, 0, 0, 0,              /* 2 events */
        38, 0, 0, 0,             /* raw length */
        38, 0, 0, 0,             /* stored length */
        0, 0, 0, 0,              /* reserved */
    };
    cr_assert_eq(n, 38);
    cr_assert_eq(flen, CFS_FRAME_HEADER_SIZE + 38);
    cr_assert_arr_eq(f, want, 32);
    uint64_t seed = XXH3_64bits_dispatch(f, 32);
    cr_assert_eq(get64(f + 32), XXH3_64bits_withSeed_dispatch(raw, 38, seed));
    cr_assert_eq(get64(f + 32), UINT64_C(0x95f158ebb4e81f59)); /* FORMAT.md */
    cr_assert_arr_eq(f + 40, raw, 38);
    cfs_frame_codec_free(fc);
}

Test(codec, extreme_times_round_trip)
{
    /* the delta needs all 65 bits at the extremes: 0 -> 2^64-1 -> 0 */
    static const cfs_time times[] = {UINT64_MAX, 0, UINT64_MAX - 1, 1,
                                     UINT64_C(1) << 63, 0, UINT64_C(1) << 63,
                                     (UINT64_C(1) << 63) - 1, UINT64_MAX};
    uint8_t buf[64];
    cfs_codec_ctx ec = {0, 0}, dc = {0, 0};
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        cfs_event ev = {.seq = i + 1, .op = CFS_OP_CLOSE_ALL, .time = times[i]};
        size_t n = cfs_codec_encode(&ec, &ev, buf);
        cr_assert_leq(n, cfs_codec_bound(&ev));
        cfs_event got;
        size_t used;
        char err[200];
        cr_assert_eq(cfs_codec_decode(&dc, buf, n, &got, &used, err, sizeof(err)), 0,
                     "time %" PRIu64 ": %s", times[i], err);
        cr_assert_eq(got.time, times[i]);
        cr_assert_eq(used, n);
    }
}

Test(codec, strings_empty_and_null)
{
    /* "" is present (length 0 + NUL), NULL absent: both survive as such */
    cfs_event ev = {.seq = 1, .op = CFS_OP_CHDIR, .path = "", .name = NULL};
    uint8_t buf[32];
    cfs_codec_ctx cc = {0, 0};
    size_t n = cfs_codec_encode(&cc, &ev, buf);
    static const uint8_t want[] = {0x04, CFS_OP_CHDIR, 0x10, 0x00, 0x00};
    cr_assert_eq(n, sizeof(want));
    cr_assert_arr_eq(buf, want, sizeof(want));
    cfs_codec_ctx dc = {0, 0};
    cfs_event got;
    size_t used;
    cr_assert_eq(cfs_codec_decode(&dc, buf, n, &got, &used, NULL, 0), 0);
    cr_assert_not_null(got.path);
    cr_assert_str_eq(got.path, "");
    cr_assert_null(got.name);
}

/* ---- refusals ---------------------------------------------------------------- */

Test(codec, refuses_bad_record_lengths)
{
    const char *m;
    m = refuse(11, 0, (const uint8_t[]){0x80}, 1);
    assert_has(m, "seq 12: field `record_len`: varint runs past the end of the buffer");
    m = refuse(11, 0, (const uint8_t[]){0x80, 0x00, 0x01, 0x00}, 4);
    assert_has(m, "seq 12: field `record_len`: overlong varint");
    uint8_t ovf[12];
    memset(ovf, 0xff, sizeof(ovf));
    m = refuse(11, 0, ovf, sizeof(ovf));
    assert_has(m, "seq 12: field `record_len`: varint overflows 64 bits");
    uint8_t ovf2[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    m = refuse(11, 0, ovf2, sizeof(ovf2));
    assert_has(m, "seq 12: field `record_len`: varint overflows 64 bits");
    m = refuse(11, 0, (const uint8_t[]){0x05, 0x01, 0x00}, 3);
    assert_has(m, "seq 12: field `record_len`: length 5 past the end of the buffer (2 bytes left)");
    m = refuse(11, 0, (const uint8_t[]){0x00}, 1);
    assert_has(m, "seq 12: field `op`: missing");
    m = refuse(11, 0, NULL, 0);
    assert_has(m, "seq 12: field `record_len`: varint runs past");
    /* trailing bytes inside the record */
    m = refuse(11, 0, (const uint8_t[]){0x04, 0x02, 0x04, 0x03, 0x09}, 5);
    assert_has(m, "seq 12: field `fd`: 1 trailing bytes after it, inside the record");
    m = refuse(11, 0, (const uint8_t[]){0x03, 0x18, 0x00, 0x00}, 4);
    assert_has(m, "seq 12: field `mask`: 1 trailing bytes");
}

Test(codec, refuses_bad_ops_and_masks)
{
    const char *m;
    m = refuse(11, 0, (const uint8_t[]){0x02, 0x00, 0x00}, 3);
    assert_has(m, "seq 12: field `op`: unknown op 0");
    m = refuse(11, 0, (const uint8_t[]){0x02, CFS_OP_MAX_ + 1, 0x00}, 3);
    assert_has(m, "seq 12: field `op`: unknown op 30");
    m = refuse(11, 0, (const uint8_t[]){0x02, 0xff, 0x00}, 3);
    assert_has(m, "seq 12: field `op`: unknown op 255");
    m = refuse(11, 0, (const uint8_t[]){0x05, 0x01, 0x80, 0x80, 0x80, 0x02}, 6);
    assert_has(m, "seq 12: field `mask`: unknown field bits 0x400000");
    m = refuse(11, 0, (const uint8_t[]){0x02, 0x01, 0x80}, 3);
    assert_has(m, "seq 12: field `mask`: varint runs past the record end");
    m = refuse(11, 0, (const uint8_t[]){0x03, 0x01, 0x81, 0x00}, 4);
    assert_has(m, "seq 12: field `mask`: overlong varint");
}

Test(codec, refuses_bad_integers)
{
    const char *m;
    /* a field in the mask with no bytes */
    m = refuse(11, 0, (const uint8_t[]){0x02, 0x01, 0x01}, 3);
    assert_has(m, "seq 12: field `pid`: varint runs past the record end");
    /* a truncated varint, the record ending mid-value (buffer has more) */
    m = refuse(11, 0, (const uint8_t[]){0x03, 0x01, 0x04, 0x80, 0x01}, 5);
    assert_has(m, "seq 12: field `fd`: varint runs past the record end");
    /* zero is absent, never present */
    m = refuse(11, 0, (const uint8_t[]){0x03, 0x01, 0x04, 0x00}, 4);
    assert_has(m, "seq 12: field `fd`: present with value 0");
    /* a u32 field holding 2^32 */
    m = refuse(11, 0, (const uint8_t[]){0x07, 0x01, 0x01, 0x80, 0x80, 0x80, 0x80, 0x10}, 8);
    assert_has(m, "seq 12: field `pid`: value 4294967296 does not fit in 32 bits");
    /* a u64 field with an 11-byte varint */
    uint8_t rec[16] = {13, 0x01, 0x40};
    memset(rec + 3, 0xff, 10);
    rec[13] = 0x01;
    m = refuse(11, 0, rec, 14);
    assert_has(m, "seq 12: field `ino`: varint overflows 64 bits");
    /* a 64-bit value with bit 64 set (10th byte 2) */
    uint8_t rec2[16] = {12, 0x01, 0x40};
    memset(rec2 + 3, 0xff, 9);
    rec2[12] = 0x02;
    m = refuse(11, 0, rec2, 13);
    assert_has(m, "seq 12: field `ino`: varint overflows 64 bits");
    /* the largest u64 is fine */
    uint8_t ok[16] = {12, 0x01, 0x40};
    memset(ok + 3, 0xff, 9);
    ok[12] = 0x01;
    cfs_codec_ctx cc = {11, 0};
    cfs_event ev;
    size_t used;
    cr_assert_eq(cfs_codec_decode(&cc, ok, 13, &ev, &used, NULL, 0), 0);
    cr_assert_eq(ev.ino, UINT64_MAX);
    cr_assert_eq(ev.seq, 12);
    /* no seq after 2^64-1 */
    m = refuse(UINT64_MAX, 0, (const uint8_t[]){0x02, 0x01, 0x00}, 3);
    assert_has(m, "field `seq`: no seq follows");
}

Test(codec, refuses_bad_times)
{
    const char *m;
    /* +10 from 2^64-6 */
    m = refuse(11, UINT64_MAX - 5, (const uint8_t[]){0x03, 0x01, 0x02, 0x14}, 4);
    assert_has(m, "seq 12: field `time`: delta +10 from 18446744073709551610 overflows");
    /* -5 from 3 */
    m = refuse(11, 3, (const uint8_t[]){0x03, 0x01, 0x02, 0x09}, 4);
    assert_has(m, "seq 12: field `time`: delta -5 from 3 goes below 0");
    /* the most negative 65-bit value, -2^64 */
    uint8_t rec[16] = {12, 0x01, 0x02};
    memset(rec + 3, 0xff, 9);
    rec[12] = 0x03;
    m = refuse(11, UINT64_MAX, rec, 13);
    assert_has(m, "seq 12: field `time`: delta -18446744073709551616 from 18446744073709551615 goes below 0");
    /* bits past 65 */
    rec[12] = 0x04;
    m = refuse(11, 0, rec, 13);
    assert_has(m, "seq 12: field `time`: varint overflows 65 bits");
    /* an unchanged time is absent */
    m = refuse(11, 7, (const uint8_t[]){0x03, 0x01, 0x02, 0x00}, 4);
    assert_has(m, "seq 12: field `time`: present with delta 0");
}

Test(codec, refuses_bad_strings_and_data)
{
    const char *m;
    /* name (bit 8, mask 0x100) of length 300 in a short record */
    m = refuse(11, 0, (const uint8_t[]){0x08, 0x01, 0x80, 0x02, 0xac, 0x02, 'a', 'b', 0}, 9);
    assert_has(m, "seq 12: field `name`: length 300 past the record end");
    /* the NUL does not fit */
    m = refuse(11, 0, (const uint8_t[]){0x05, 0x01, 0x80, 0x02, 0x01, 'a'}, 6);
    assert_has(m, "seq 12: field `name`: length 1 past the record end (1 bytes left)");
    /* no terminator */
    m = refuse(11, 0, (const uint8_t[]){0x06, 0x01, 0x80, 0x02, 0x01, 'a', 'b'}, 7);
    assert_has(m, "seq 12: field `name`: missing NUL terminator (byte 0x62");
    /* an inner NUL */
    m = refuse(11, 0, (const uint8_t[]){0x07, 0x01, 0x10, 0x03, 'a', 0, 'b', 0}, 8);
    assert_has(m, "seq 12: field `path`: NUL inside the string at byte 1 of 3");
    /* data (bit 15) without length (bit 14) */
    m = refuse(11, 0, (const uint8_t[]){0x05, 0x05, 0x80, 0x80, 0x02, 'x'}, 6);
    assert_has(m, "seq 12: field `data`: present without `length`");
    /* data shorter than its length */
    m = refuse(11, 0, (const uint8_t[]){0x07, 0x05, 0x80, 0x80, 0x03, 0x0a, 'x', 'y'}, 8);
    assert_has(m, "seq 12: field `data`: length 10 past the record end (2 bytes left)");
    /* a string length varint cut off */
    m = refuse(11, 0, (const uint8_t[]){0x04, 0x01, 0x80, 0x08, 0x80}, 5);
    assert_has(m, "seq 12: field `name2`: varint runs past the record end");
}

Test(codec, no_prefix_of_a_record_decodes)
{
    /* Every strict prefix of a record is refused, read from an exact-size
     * buffer; and so is every strict prefix of its body under a record_len
     * that admits to the cut (the record ends mid-field, not the buffer). */
    cfs_rng r;
    cfs_rng_seed(&r, 99);
    arena a = {0};
    for (int k = 0; k < 300; k++) {
        cfs_event ev;
        rand_event(&r, &a, 1, 0, &ev);
        if (ev.length > 300)
            ev.length = 300; /* keep the quadratic loop short */
        uint8_t *buf = malloc(cfs_codec_bound(&ev));
        cfs_codec_ctx ec = {0, 0};
        size_t n = cfs_codec_encode(&ec, &ev, buf);
        for (size_t cut = 0; cut < n; cut++)
            refuse(0, 0, buf, cut);
        /* the body starts after the record_len varint */
        size_t hl = 1;
        while (buf[hl - 1] & 0x80)
            hl++;
        size_t body = n - hl;
        uint8_t *rec = malloc(n);
        for (size_t cut = 0; cut < body; cut++) {
            size_t p = 0;
            uint64_t v = cut;
            while (v >= 0x80) {
                rec[p++] = (uint8_t)(v | 0x80);
                v >>= 7;
            }
            rec[p++] = (uint8_t)v;
            memcpy(rec + p, buf + hl, cut);
            refuse(0, 0, rec, p + cut);
        }
        free(rec);
        free(buf);
    }
    arena_free(&a);
}

Test(codec, garbage_is_refused_or_canonical)
{
    /* Random bytes never crash the decoder, and whatever it accepts
     * re-encodes to exactly the bytes it read: one event, one encoding. */
    cfs_rng r;
    cfs_rng_seed(&r, 4242);
    unsigned accepted = 0;
    for (int k = 0; k < 300000; k++) {
        size_t n = (size_t)cfs_rng_below(&r, 48);
        uint8_t *b = malloc(n ? n : 1);
        cfs_rng_bytes(&r, b, n);
        if (n) { /* plausible shapes more often: a fitting length, a real op */
            b[0] = (uint8_t)cfs_rng_below(&r, n);
            if (n > 1 && cfs_rng_chance(&r, 80))
                b[1] = (uint8_t)(1 + cfs_rng_below(&r, CFS_OP_MAX_));
            if (n > 2 && cfs_rng_chance(&r, 80))
                b[2] &= 0x7f;
        }
        uint64_t t0 = cfs_rng_chance(&r, 50) ? 0 : cfs_rng_next(&r);
        cfs_codec_ctx cc = {cfs_rng_below(&r, 1000), t0};
        cfs_event ev;
        size_t used;
        char err[64];
        if (cfs_codec_decode(&cc, b, n, &ev, &used, err, sizeof(err)) == 0) {
            accepted++;
            cr_assert_leq(used, n);
            uint8_t *out = malloc(cfs_codec_bound(&ev));
            cfs_codec_ctx ec = {ev.seq - 1, t0};
            size_t m = cfs_codec_encode(&ec, &ev, out);
            cr_assert_eq(m, used);
            cr_assert_arr_eq(out, b, m);
            free(out);
        }
        free(b);
    }
    cr_assert_gt(accepted, 100, "only %u random records decoded", accepted);
}

/* ---- frames ---------------------------------------------------------------- */

Test(frame, zstd_round_trip_and_header)
{
    size_t len;
    uint8_t *f = make_frame(81234, 500, 1, &len);
    cr_assert_eq(f[6], CFS_FRAME_CODEC_ZSTD);
    uint32_t raw_len = get32(f + 20), stored = get32(f + 24);
    cr_assert_lt(stored, raw_len);
    cr_assert_eq(len, CFS_FRAME_HEADER_SIZE + stored);
    cr_assert_eq(get32(f + 16), 500);
    cr_assert_eq(get64(f + 8), 81234);

    uint64_t first;
    uint32_t count;
    char err[256];
    cr_assert_eq(cfs_frame_peek(f, len, 81234, &first, &count, err, sizeof(err)), 0);
    cr_assert_eq(first, 81234);
    cr_assert_eq(count, 500);

    collect c = {0};
    cr_assert_eq(frame_decode(f, len, 81234, &c, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(c.n, 500);
    for (size_t i = 0; i < c.n; i++) {
        cr_assert_eq(c.ev[i].seq, 81234 + i);
        cr_assert_eq(c.ev[i].time, 1000 * (81234 + i));
        cr_assert_eq(c.ev[i].offset, 16 * i);
        cr_assert_eq(memcmp(c.ev[i].data, "0123456789abcdef", 16), 0);
    }
    collect_free(&c);
    free(f);
}

Test(frame, levels_round_trip)
{
    static const int levels[] = {-5, -1, 0, 1, 3, 9, 19};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        size_t len;
        uint8_t *f = make_frame(7, 300, levels[i], &len);
        collect c = {0};
        char err[256];
        cr_assert_eq(frame_decode(f, len, 7, &c, err, sizeof(err)), 0,
                     "level %d: %s", levels[i], err);
        cr_assert_eq(c.n, 300);
        collect_free(&c);
        free(f);
    }
}

Test(frame, raw_fallback)
{
    /* one small event: zstd cannot shrink it */
    size_t len;
    uint8_t *f = make_frame(3, 1, 1, &len);
    cr_assert_eq(f[6], CFS_FRAME_CODEC_RAW);
    cr_assert_eq(get32(f + 20), get32(f + 24));
    collect c = {0};
    char err[256];
    cr_assert_eq(frame_decode(f, len, 3, &c, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(c.n, 1);
    collect_free(&c);
    free(f);

    /* incompressible data */
    uint8_t data[4096];
    cfs_rng r;
    cfs_rng_seed(&r, 1);
    cfs_rng_bytes(&r, data, sizeof(data));
    cfs_event ev = {.seq = 1, .op = CFS_OP_WRITE, .fd = 4, .ino = 14,
                    .length = sizeof(data), .data = data};
    size_t rl;
    uint8_t *raw = encode_records(&ev, 1, &rl);
    cfs_frame_codec *fc = cfs_frame_codec_new(3);
    const uint8_t *fr;
    size_t flen;
    cr_assert_eq(cfs_frame_encode(fc, 1, 1, raw, rl, &fr, &flen), 0);
    cr_assert_eq(fr[6], CFS_FRAME_CODEC_RAW);
    cr_assert_eq(flen, CFS_FRAME_HEADER_SIZE + rl);
    cr_assert_eq(cfs_frame_decode_with(fc, fr, flen, 1, collect_fn, &c, err,
                                       sizeof(err)), 0, "%s", err);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(memcmp(c.ev[0].data, data, sizeof(data)), 0);
    collect_free(&c);
    cfs_frame_codec_free(fc);
    free(raw);
}

Test(frame, checksum_covers_every_byte)
{
    size_t lens[2];
    uint8_t *frames[2] = {make_frame(81234, 200, 1, &lens[0]),
                          make_frame(81234, 1, 1, &lens[1])};
    cr_assert_eq(frames[0][6], CFS_FRAME_CODEC_ZSTD);
    cr_assert_eq(frames[1][6], CFS_FRAME_CODEC_RAW);
    for (int k = 0; k < 2; k++) {
        uint8_t *f = frames[k];
        for (size_t i = 0; i < lens[k]; i++) {
            for (int bit = 0; bit < 8; bit += 3) {
                f[i] ^= (uint8_t)(1u << bit);
                char err[256];
                collect c = {0};
                int rc = frame_decode(f, lens[k], 81234, &c, err, sizeof(err));
                cr_assert_neq(rc, 0, "byte %zu bit %d flipped: accepted", i, bit);
                cr_assert_eq(c.n, 0, "a damaged frame delivered events");
                assert_has(err, "frame at seq 81234: ");
                /* the header's own checks catch most header flips; in the
                 * checksum and the payload it is the checksum */
                if (i >= 32) {
                    cr_assert_eq(rc, CFS_JE_CORRUPT);
                    assert_has(err, "frame at seq 81234: checksum mismatch");
                }
                f[i] ^= (uint8_t)(1u << bit);
            }
        }
        free(f);
    }
}

Test(frame, newer_version_is_a_version_error)
{
    size_t len;
    uint8_t *f = make_frame(12, 10, 1, &len);
    f[4] = CFS_FORMAT_VERSION + 1;
    char err[256];
    collect c = {0};
    cr_assert_eq(frame_decode(f, len, 12, &c, err, sizeof(err)), CFS_JE_VERSION);
    char want[100];
    snprintf(want, sizeof(want), "frame at seq 12: format version %d is newer than this build (%d)",
             CFS_FORMAT_VERSION + 1, CFS_FORMAT_VERSION);
    assert_has(err, want);
    cr_assert_eq(cfs_frame_peek(f, len, 12, NULL, NULL, err, sizeof(err)),
                 CFS_JE_VERSION);
    /* even when the newer header is shorter than ours */
    cr_assert_eq(cfs_frame_peek(f, 6, 12, NULL, NULL, err, sizeof(err)),
                 CFS_JE_VERSION);
    f[4] = 0xff;
    f[5] = 0xff;
    cr_assert_eq(cfs_frame_peek(f, len, 12, NULL, NULL, err, sizeof(err)),
                 CFS_JE_VERSION);
    snprintf(want, sizeof(want), "format version 65535 is newer than this build (%d)",
             CFS_FORMAT_VERSION);
    assert_has(err, want);
    f[4] = 0;
    f[5] = 0;
    cr_assert_eq(cfs_frame_peek(f, len, 12, NULL, NULL, err, sizeof(err)),
                 CFS_JE_CORRUPT);
    assert_has(err, "format version 0");
    /* version 2 is a pointer to a big frame, which only `events` holds:
     * never a frame */
    f[4] = 2;
    cr_assert_eq(cfs_frame_peek(f, len, 12, NULL, NULL, err, sizeof(err)),
                 CFS_JE_CORRUPT);
    assert_has(err, "a pointer to a big frame (format version 2) where the frame belongs");
    free(f);
}

Test(frame, truncation_at_every_length)
{
    for (int k = 0; k < 2; k++) {
        size_t len;
        uint8_t *f = make_frame(40, k ? 300 : 2, 1, &len);
        for (size_t cut = 0; cut < len; cut++) {
            char err[256];
            collect c = {0};
            int rc = frame_decode(f, cut, 40, &c, err, sizeof(err));
            cr_assert_eq(rc, CFS_JE_CORRUPT, "cut at %zu of %zu: rc %d", cut, len, rc);
            cr_assert_eq(c.n, 0);
            assert_has(err, "frame at seq 40: ");
            cr_assert_eq(cfs_frame_peek(f, cut, 40, NULL, NULL, err, sizeof(err)),
                         CFS_JE_CORRUPT);
        }
        free(f);
    }
}

/* Rewrite a u32 header field, fix the checksum, expect CORRUPT with `want`. */
static void lie(uint8_t *f, size_t len, size_t at, uint32_t v, const char *want)
{
    uint8_t *g = malloc(len);
    memcpy(g, f, len);
    put32(g + at, v);
    fix_checksum(g, len);
    char err[256];
    collect c = {0};
    int rc = frame_decode(g, len, 9, &c, err, sizeof(err));
    cr_assert_eq(rc, CFS_JE_CORRUPT, "header[%zu] = %u: rc %d", at, v, rc);
    cr_assert_eq(c.n, 0, "a lying frame delivered events");
    assert_has(err, want);
    free(g);
}

Test(frame, lying_counts_and_lengths)
{
    size_t zl, rl;
    uint8_t *z = make_frame(9, 100, 1, &zl);
    uint8_t *r = make_frame_of(9, 2, 1, 1, &rl);
    cr_assert_eq(z[6], CFS_FRAME_CODEC_ZSTD);
    cr_assert_eq(r[6], CFS_FRAME_CODEC_RAW);
    uint32_t zraw = get32(z + 20), rraw = get32(r + 20);

    lie(z, zl, 16, 101, "frame at seq 9: payload ends after 100 of 101 events");
    lie(z, zl, 16, 99, "frame at seq 9: ");
    lie(z, zl, 16, 99, "bytes after its 99 events");
    lie(r, rl, 16, 3, "payload ends after 2 of 3 events");
    lie(r, rl, 16, 1, "bytes after its 1 events");
    lie(z, zl, 16, 0, "frame at seq 9: no events");
    lie(z, zl, 16, zraw, "events cannot fit in");
    lie(z, zl, 20, zraw + 1, "zstd payload: declares");
    lie(z, zl, 20, zraw - 1, "zstd payload: declares");
    lie(z, zl, 20, CFS_FRAME_MAX_RAW + 1, "above the limit of 268435456");
    lie(z, zl, 20, UINT32_MAX, "above the limit");
    lie(z, zl, 24, get32(z + 24) + 1, "stored length");
    lie(z, zl, 24, get32(z + 24) - 1, "stored length");
    lie(r, rl, 20, rraw - 3, "raw payload: stored length");
    lie(z, zl, 28, 1, "reserved");
    /* codec 0 claimed for a zstd payload: lengths disagree */
    {
        uint8_t *g = malloc(zl);
        memcpy(g, z, zl);
        g[6] = CFS_FRAME_CODEC_RAW;
        fix_checksum(g, zl);
        char err[256];
        cr_assert_eq(cfs_frame_decode(g, zl, 9, NULL, NULL, err, sizeof(err)),
                     CFS_JE_CORRUPT);
        g[6] = 2;
        fix_checksum(g, zl);
        cr_assert_eq(cfs_frame_decode(g, zl, 9, NULL, NULL, err, sizeof(err)),
                     CFS_JE_CORRUPT);
        assert_has(err, "unknown codec 2");
        g[6] = z[6];
        g[7] = 1;
        fix_checksum(g, zl);
        cr_assert_eq(cfs_frame_decode(g, zl, 9, NULL, NULL, err, sizeof(err)),
                     CFS_JE_CORRUPT);
        assert_has(err, "flags 0x1");
        free(g);
    }
    /* stored under another seq than its header says */
    char err[256];
    cr_assert_eq(cfs_frame_decode(z, zl, 10, NULL, NULL, err, sizeof(err)),
                 CFS_JE_CORRUPT);
    assert_has(err, "frame at seq 10: header says first seq 9, stored under seq 10");
    /* a seq range past 2^64-1 */
    {
        uint8_t *g = malloc(zl);
        memcpy(g, z, zl);
        for (int i = 0; i < 8; i++)
            g[8 + i] = 0xff;
        fix_checksum(g, zl);
        cr_assert_eq(cfs_frame_decode(g, zl, UINT64_MAX, NULL, NULL, err,
                                      sizeof(err)), CFS_JE_CORRUPT);
        assert_has(err, "pass seq 2^64-1");
        free(g);
    }
    /* bad magic */
    {
        uint8_t *g = malloc(zl);
        memcpy(g, z, zl);
        g[3] = 'X';
        cr_assert_eq(cfs_frame_decode(g, zl, 9, NULL, NULL, err, sizeof(err)),
                     CFS_JE_CORRUPT);
        assert_has(err, "bad magic 43 46 53 58");
        free(g);
    }
    free(z);
    free(r);
}

Test(frame, zstd_payload_must_be_one_exact_frame)
{
    size_t zl;
    uint8_t *z = make_frame(9, 100, 1, &zl);
    uint32_t stored = get32(z + 24);
    /* the zstd frame followed by garbage (stored length updated) */
    uint8_t *g = malloc(zl + 5);
    memcpy(g, z, zl);
    memcpy(g + zl, "junk!", 5);
    put32(g + 24, stored + 5);
    fix_checksum(g, zl + 5);
    char err[256];
    cr_assert_eq(cfs_frame_decode(g, zl + 5, 9, NULL, NULL, err, sizeof(err)),
                 CFS_JE_CORRUPT);
    assert_has(err, "zstd payload: ");
    /* the zstd frame twice */
    uint8_t *h = malloc(zl + stored);
    memcpy(h, z, zl);
    memcpy(h + zl, z + CFS_FRAME_HEADER_SIZE, stored);
    put32(h + 24, 2 * stored);
    fix_checksum(h, zl + stored);
    cr_assert_eq(cfs_frame_decode(h, zl + stored, 9, NULL, NULL, err, sizeof(err)),
                 CFS_JE_CORRUPT);
    assert_has(err, "zstd payload: a ");
    free(h);
    free(g);
    free(z);
}

Test(frame, a_bad_record_delivers_nothing)
{
    /* three records, the last corrupt, under a valid checksum: the frame is
     * refused before fn sees the first two */
    cfs_event ev[3] = {
        {.seq = 20, .op = CFS_OP_CLOSE, .fd = 4},
        {.seq = 21, .op = CFS_OP_CLOSE, .fd = 5},
        {.seq = 22, .op = CFS_OP_MKDIR, .fd = 3, .path = "p", .dir = 13,
         .name = "p", .ino = 20},
    };
    size_t rl;
    uint8_t *raw = encode_records(ev, 3, &rl);
    raw[rl - 1] = 'X'; /* the NUL of the last string */
    cfs_frame_codec *fc = cfs_frame_codec_new(1);
    const uint8_t *f;
    size_t flen;
    cr_assert_eq(cfs_frame_encode(fc, 20, 3, raw, rl, &f, &flen), 0);
    collect c = {0};
    char err[256];
    cr_assert_eq(cfs_frame_decode_with(fc, f, flen, 20, collect_fn, &c, err,
                                       sizeof(err)), CFS_JE_CORRUPT);
    cr_assert_eq(c.n, 0);
    assert_has(err, "frame at seq 20: seq 22: field `name`: missing NUL terminator");
    cfs_frame_codec_free(fc);
    free(raw);
}

Test(frame, callback_stops_the_walk)
{
    size_t len;
    uint8_t *f = make_frame(1, 10, 1, &len);
    collect c = {.stop_at = 4};
    char err[256];
    cr_assert_eq(frame_decode(f, len, 1, &c, err, sizeof(err)), 7);
    cr_assert_eq(c.n, 4);
    collect_free(&c);
    free(f);
}

Test(frame, encode_refuses_bad_arguments)
{
    cfs_frame_codec *fc = cfs_frame_codec_new(1);
    uint8_t raw[30] = {0};
    const uint8_t *f;
    size_t flen;
    cr_assert_eq(cfs_frame_encode(fc, 1, 0, raw, 3, &f, &flen), CFS_JE_INVAL);
    cr_assert_eq(cfs_frame_encode(fc, 0, 1, raw, 3, &f, &flen), CFS_JE_INVAL);
    cr_assert_eq(cfs_frame_encode(fc, UINT64_MAX, 2, raw, 6, &f, &flen), CFS_JE_INVAL);
    cr_assert_eq(cfs_frame_encode(fc, 1, 11, raw, 30, &f, &flen), CFS_JE_INVAL);
    cr_assert_eq(cfs_frame_encode(fc, 1, 1, raw, (size_t)CFS_FRAME_MAX_RAW + 1, &f,
                                  &flen), CFS_JE_INVAL);
    cr_assert_eq(cfs_frame_encode(fc, UINT64_MAX, 1, raw, 3, &f, &flen), 0);
    cfs_frame_codec_free(fc);
    cfs_frame_codec_free(NULL);
}

Test(frame, codec_reuse_across_sizes)
{
    /* one codec, frames of very different sizes in turn (its scratch
     * buffers grow and are released past their keep size) */
    cfs_frame_codec *fc = cfs_frame_codec_new(1);
    static const uint32_t sizes[] = {1, 5000, 2, 700000, 3, 100};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t len;
        uint8_t *f = make_frame(100, sizes[i], 1, &len);
        collect c = {0};
        char err[256];
        cr_assert_eq(cfs_frame_decode_with(fc, f, len, 100, collect_fn, &c, err,
                                           sizeof(err)), 0, "%s", err);
        cr_assert_eq(c.n, sizes[i]);
        collect_free(&c);
        free(f);
    }
    cfs_frame_codec_free(fc);
}

Test(errors, strerror_names_every_code)
{
    for (int code = 0; code >= CFS_JE_DIVERGED; code--) {
        const char *s = cfs_strerror(code);
        cr_assert_not_null(s);
        cr_assert_str_neq(s, "unknown error", "code %d has no name", code);
    }
    cr_assert_str_eq(cfs_strerror(1), "unknown error");
    cr_assert_str_eq(cfs_strerror(-1000), "unknown error");
}
