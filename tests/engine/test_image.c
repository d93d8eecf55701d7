/*
 * test_image.c — clones and images, as snapshots rely on them: a clone is
 * the same state and stays so while the original changes; an image loads
 * back to the same state hash at any point of any workload; a damaged
 * image or a missing block is refused, never crashes.
 * Property tests print their seed; CFS_TEST_SEED replays one.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs_engine.h"
#include "cfs_test_util.h"
#include "cfs_workload.h"

static int eq(cfs_hash128 a, cfs_hash128 b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

/* A block store keyed by content hash, as the journal's chunks are. */
struct store {
    cfs_hash128 *h;
    uint8_t **data;
    size_t *len;
    size_t n, cap;
    unsigned offered; /* block_fn calls in the last encoding */
};

static int put_block(void *ctx, cfs_hash128 h, const void *data, size_t len)
{
    struct store *s = ctx;
    s->offered++;
    for (size_t i = 0; i < s->n; i++)
        if (eq(s->h[i], h))
            return 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->h = realloc(s->h, s->cap * sizeof(*s->h));
        s->data = realloc(s->data, s->cap * sizeof(*s->data));
        s->len = realloc(s->len, s->cap * sizeof(*s->len));
    }
    s->h[s->n] = h;
    s->data[s->n] = malloc(len);
    memcpy(s->data[s->n], data, len);
    s->len[s->n++] = len;
    return 0;
}

static int get_block(void *ctx, cfs_hash128 h, void *buf, size_t len)
{
    struct store *s = ctx;
    for (size_t i = 0; i < s->n; i++)
        if (eq(s->h[i], h) && s->len[i] == len) {
            memcpy(buf, s->data[i], len);
            return 0;
        }
    return 1;
}

static void store_free(struct store *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->data[i]);
    free(s->h);
    free(s->data);
    free(s->len);
    memset(s, 0, sizeof(*s));
}

static cfs_fs *round_trip_cfg(cfs_fs *fs, struct store *s, const cfs_config *cfg)
{
    uint8_t *meta;
    size_t len;
    s->offered = 0;
    cr_assert_eq(cfs_fs_encode_image(fs, &meta, &len, put_block, s, NULL), 0);
    /* the image carries the state hash: what a snapshot records */
    cfs_hash128 ih = cfs_image_hash(meta, len), fh = cfs_fs_hash(fs);
    cr_assert(ih.lo == fh.lo && ih.hi == fh.hi, "image hash differs from the state hash");
    cfs_fs *back;
    char err[256];
    cfs_errno e = cfs_fs_decode_image(meta, len, get_block, s, cfg, &back, err, sizeof(err));
    cr_assert_eq(e, 0, "decode: %s: %s", cfs_errno_name(e), err);
    free(meta);
    return back;
}

static cfs_fs *round_trip(cfs_fs *fs, struct store *s)
{
    return round_trip_cfg(fs, s, NULL);
}

Test(image, clones_equal_the_original_and_stay_as_they_were)
{
    uint64_t seed = cfs_test_env_u64("CFS_TEST_SEED", 17);
    printf("image clone seed %" PRIu64 "\n", seed);
    cfs_rng r;
    cfs_rng_seed(&r, seed);
    cfs_time clock = 0;
    cfs_recorder rec;
    memset(&rec, 0, sizeof(rec));
    cfs_config cfg = {.clock = cfs_workload_clock, .clock_ctx = &clock,
                      .sink = cfs_recorder_sink(&rec)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    for (int round = 0; round < 20; round++) {
        cfs_workload_run(fs, &r, 150, 150000);
        cfs_fs *c;
        cr_assert_eq(cfs_fs_clone(fs, &c), 0);
        cfs_hash128 at = cfs_fs_hash(fs);
        cr_assert(eq(cfs_fs_hash(c), at), "round %d: a clone is the same state", round);
        /* the original goes on; the clone does not move */
        size_t from = rec.count;
        cfs_workload_run(fs, &r, 150, 150000);
        cr_assert(eq(cfs_fs_hash(c), at), "round %d: the clone changed with the original",
                  round);
        /* the same events bring the clone to the same state */
        for (size_t i = from; i < rec.count; i++)
            cr_assert_eq(cfs_fs_apply(c, &rec.events[i]), 0, "%s", cfs_fs_errmsg(c));
        cr_assert(eq(cfs_fs_hash(c), cfs_fs_hash(fs)), "round %d: replayed clone", round);
        /* and writing to the clone leaves the original alone */
        cfs_hash128 live = cfs_fs_hash(fs);
        cfs_workload_run(c, &r, 50, 150000);
        cr_assert(eq(cfs_fs_hash(fs), live), "round %d: the original changed with the clone",
                  round);
        cfs_fs_free(c);
    }
    cfs_fs_free(fs);
    cfs_recorder_reset(&rec);
}

Test(image, images_load_back_to_the_same_state_at_any_point)
{
    static const uint64_t seeds[] = {1, 2, 3, 4};
    for (size_t k = 0; k < 4; k++) {
        uint64_t seed = cfs_test_env_u64("CFS_TEST_SEED", seeds[k]);
        printf("image round trip seed %" PRIu64 "\n", seed);
        cfs_rng r;
        cfs_rng_seed(&r, seed);
        cfs_time clock = 0;
        cfs_config cfg = {.clock = cfs_workload_clock, .clock_ctx = &clock,
                          .byte_budget = k % 2 ? 64 << 20 : 0};
        cfs_fs *fs = cfs_fs_new(&cfg);
        struct store s = {0};
        for (int round = 0; round < 15; round++) {
            cfs_workload_run(fs, &r, 1 + cfs_rng_below(&r, 300), 200000);
            /* the loaded engine gets its own clock, reading what fs's would */
            cfs_time clock2 = clock;
            cfs_config cfg2 = {.clock = cfs_workload_clock, .clock_ctx = &clock2};
            cfs_fs *back = round_trip_cfg(fs, &s, &cfg2);
            cr_assert(eq(cfs_fs_hash(back), cfs_fs_hash(fs)),
                      "seed %" PRIu64 " round %d (seq %" PRIu64 "): loaded image differs",
                      seed, round, cfs_fs_seq(fs));
            /* a loaded engine works on: the same calls give the same state */
            cfs_rng r2 = r;
            cfs_workload_run(fs, &r, 100, 20000);
            cfs_workload_run(back, &r2, 100, 20000);
            cr_assert(eq(cfs_fs_hash(back), cfs_fs_hash(fs)),
                      "seed %" PRIu64 " round %d: diverged after loading", seed, round);
            cfs_fs_free(back);
        }
        cfs_fs_free(fs);
        store_free(&s);
    }
}

Test(image, identical_blocks_are_offered_once)
{
    cfs_fs *fs = cfs_fs_new(NULL);
    static uint8_t buf[CFS_BLOCK_SIZE];
    memset(buf, 'z', sizeof(buf));
    char name[16];
    for (int i = 0; i < 10; i++) {
        cfs_fd fd;
        size_t n;
        snprintf(name, sizeof(name), "f%d", i);
        cr_assert_eq(cfs_path_open(fs, CFS_ROOT_FD, 0, name, CFS_O_CREAT, CFS_RIGHTS_ALL, 0, 0,
                                   &fd), 0);
        cr_assert_eq(cfs_fd_write(fs, fd, buf, sizeof(buf), &n), 0);
        cr_assert_eq(cfs_fd_write(fs, fd, buf, sizeof(buf), &n), 0);
    }
    struct store s = {0};
    cfs_fs *back = round_trip(fs, &s);
    cr_assert_eq(s.offered, 1, "20 identical blocks, offered %u times", s.offered);
    cr_assert_eq(s.n, 1);
    cr_assert(eq(cfs_fs_hash(back), cfs_fs_hash(fs)));
    cfs_fs_free(back);
    cfs_fs_free(fs);
    store_free(&s);
}

Test(image, damaged_images_and_missing_blocks_are_refused)
{
    cfs_rng r;
    cfs_rng_seed(&r, 23);
    cfs_fs *fs = cfs_fs_new(NULL);
    cfs_workload_run(fs, &r, 400, 100000);
    struct store s = {0};
    uint8_t *meta;
    size_t len;
    cr_assert_eq(cfs_fs_encode_image(fs, &meta, &len, put_block, &s, NULL), 0);
    char err[256];
    cfs_fs *back;
    /* every truncation */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, meta, cut);
        cfs_errno e = cfs_fs_decode_image(copy, cut, get_block, &s, NULL, &back, err,
                                          sizeof(err));
        cr_assert_eq(e, CFS_EINVAL, "an image cut to %zu of %zu bytes was accepted", cut, len);
        cr_assert_null(back);
        free(copy);
    }
    /* flipped bytes: refused, or (if they happen to decode) a state that
     * works and hashes: never a crash */
    for (int i = 0; i < 3000; i++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, meta, len);
        copy[cfs_rng_below(&r, len)] ^= (uint8_t)(1 + cfs_rng_below(&r, 255));
        if (cfs_fs_decode_image(copy, len, get_block, &s, NULL, &back, err, sizeof(err)) == 0) {
            (void)cfs_fs_hash(back);
            cfs_workload_run(back, &r, 20, 1000);
            cfs_fs_free(back);
        }
        free(copy);
    }
    /* a block that cannot be had */
    if (s.n) {
        s.h[0].lo ^= 1;
        cfs_errno e = cfs_fs_decode_image(meta, len, get_block, &s, NULL, &back, err,
                                          sizeof(err));
        cr_assert_eq(e, CFS_EINVAL);
        cr_assert(strstr(err, "missing"), "%s", err);
    }
    free(meta);
    cfs_fs_free(fs);
    store_free(&s);
}
