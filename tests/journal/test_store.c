/*
 * test_store.c — the journal as a user relies on it: what the engine did
 * comes back on reopen, nothing acknowledged is lost when the writer is
 * killed, damage is reported with its seq and never applied, readers in
 * other processes see a consistent prefix, a full disk is ENOSPC and the
 * journal stays usable up to its last commit.
 *
 * Property tests print their seed; CFS_TEST_SEED replays one.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>

#include "cfs_journal.h"
#include "cfs_test_util.h"
#include "cfs_workload.h"

/* ---- helpers ------------------------------------------------------------- */

static char *tmpdir(void)
{
    return cfs_test_tmpdir("cfs-journal");
}

static void rmtree(const char *dir)
{
    cfs_test_rmtree(dir);
}

static cfs_journal *jopen(const char *dir, cfs_durability d, int create,
                          int read_only, uint32_t batch_events)
{
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.durability = d;
    o.create = create;
    o.read_only = read_only;
    if (batch_events)
        o.batch_events = batch_events;
    cfs_journal *j;
    char err[256];
    int rc = cfs_journal_open(dir, &o, &j, err, sizeof(err));
    cr_assert_eq(rc, 0, "open %s: %s: %s", dir, cfs_strerror(rc), err);
    return j;
}

static int hash_eq(cfs_hash128 a, cfs_hash128 b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

/* A fresh engine rebuilt from the journal up to `to` (0 = all). */
static cfs_fs *rebuild(cfs_journal *j, uint64_t to)
{
    cfs_fs *fs = cfs_fs_new(NULL);
    int rc = cfs_journal_replay(j, fs, to);
    cr_assert_eq(rc, 0, "replay to %" PRIu64 ": %s: %s", to, cfs_strerror(rc),
                 cfs_journal_errmsg(j));
    return fs;
}

static uint64_t seed_or(uint64_t dflt)
{
    return cfs_test_env_u64("CFS_TEST_SEED", dflt);
}

/* ---- round trip ------------------------------------------------------------- */

Test(store, round_trip_every_sampled_seq)
{
    static const uint64_t seeds[] = {1, 2, 3};
    for (size_t s = 0; s < 3; s++) {
        uint64_t seed = seed_or(seeds[s]);
        printf("store round trip seed %" PRIu64 "\n", seed);
        char *dir = tmpdir();
        cfs_journal *j = jopen(dir, CFS_DURABILITY_BATCH, 1, 0, 64);
        cfs_time clock = 0;
        cfs_config cfg = {.clock = cfs_workload_clock, .clock_ctx = &clock,
                          .sink = cfs_journal_sink(j)};
        cfs_fs *fs = cfs_fs_new(&cfg);
        enum { EVENTS = 3000 };
        cfs_hash128 *at = calloc(EVENTS + 200, sizeof(*at));
        uint8_t *have = calloc(EVENTS + 200, 1);
        cfs_rng r;
        cfs_rng_seed(&r, seed);
        while (cfs_fs_seq(fs) < EVENTS) {
            cfs_workload_step(fs, &r, 100000);
            at[cfs_fs_seq(fs)] = cfs_fs_hash(fs);
            have[cfs_fs_seq(fs)] = 1;
        }
        uint64_t last = cfs_fs_seq(fs);
        cfs_hash128 live = cfs_fs_hash(fs);
        cr_assert_eq(cfs_journal_close(j), 0);
        cfs_fs_free(fs);

        j = jopen(dir, 0, 0, 1, 0);
        cr_assert_eq(cfs_journal_committed(j), last, "seed %" PRIu64, seed);
        cr_assert_eq(cfs_journal_verify(j), 0, "%s", cfs_journal_errmsg(j));
        cfs_fs *re = rebuild(j, 0);
        cr_assert(hash_eq(cfs_fs_hash(re), live), "seed %" PRIu64 ": final hash", seed);
        cfs_fs_free(re);
        for (int k = 0; k < 40; k++) {
            uint64_t at_seq = 1 + cfs_rng_below(&r, last);
            while (!have[at_seq])
                at_seq--;
            if (!at_seq)
                continue;
            re = rebuild(j, at_seq);
            cr_assert_eq(cfs_fs_seq(re), at_seq);
            cr_assert(hash_eq(cfs_fs_hash(re), at[at_seq]),
                      "seed %" PRIu64 ": state at seq %" PRIu64 " differs", seed, at_seq);
            cfs_fs_free(re);
        }
        cfs_journal_close(j);
        free(at);
        free(have);
        rmtree(dir);
        free(dir);
    }
}

Test(store, reopened_writer_continues_the_same_history)
{
    char *dir = tmpdir();
    cfs_rng r;
    cfs_rng_seed(&r, seed_or(7));
    cfs_hash128 live = {0, 0};
    for (int round = 0; round < 4; round++) {
        cfs_journal *j = jopen(dir, CFS_DURABILITY_BATCH, 1, 0, 50);
        cfs_fs *fs = rebuild(j, 0);
        if (round)
            cr_assert(hash_eq(cfs_fs_hash(fs), live), "round %d", round);
        cfs_sink s = cfs_journal_sink(j);
        cfs_fs_set_sink(fs, &s);
        cfs_workload_run(fs, &r, 500, 5000);
        live = cfs_fs_hash(fs);
        cr_assert_eq(cfs_journal_close(j), 0);
        cfs_fs_free(fs);
    }
    rmtree(dir);
    free(dir);
}

/* ---- adaptive compression ---------------------------------------------------- */

struct codec_count {
    unsigned raw, zstd, other;
};

static void count_codec(void *ctx, uint64_t seq, const uint8_t *f, size_t vlen, bool big)
{
    (void)seq;
    (void)big;
    struct codec_count *n = ctx;
    /* only frames of text count: a small one (the open, the close) is
     * stored raw whenever zstd does not shrink it */
    if (vlen >= 24 && ((uint32_t)f[20] | (uint32_t)f[21] << 8 | (uint32_t)f[22] << 16 |
                       (uint32_t)f[23] << 24) < ((uint32_t)64 << 10))
        return;
    if (vlen < 8)
        n->other++;
    else if (f[6] == 0)
        n->raw++;
    else if (f[6] == 1)
        n->zstd++;
    else
        n->other++;
}

/* Write `mib` MiB of English-like text in 1 MiB writes through a journal
 * compressing at a slow zstd level (so compression, not the caller, is
 * the bottleneck), pause long enough for zstd to catch up, write one more
 * MiB, then check that a replay gives the same state and count the
 * frames by codec (header byte 6: 0 raw, 1 zstd). */
static struct codec_count write_text(int adapt, int mib)
{
    char *dir = tmpdir();
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = 1;
    o.zstd_level = 15;
    o.durability = CFS_DURABILITY_NONE; /* the disk is never the slower side */
    o.batch_bytes = (size_t)256 << 10;
    o.compress_adapt = adapt;
    cfs_journal *j;
    char err[256];
    cr_assert_eq(cfs_journal_open(dir, &o, &j, err, sizeof(err)), 0, "%s", err);
    cfs_fs *fs = cfs_fs_new(NULL);
    cfs_sink sink = cfs_journal_sink(j);
    cfs_fs_set_sink(fs, &sink);

    size_t len = (size_t)1 << 20;
    char *buf = malloc(len);
    cr_assert_not_null(buf);
    cfs_test_fill_text(buf, len, 12345);
    cfs_fd fd;
    cr_assert_eq(cfs_path_open(fs, CFS_ROOT_FD, 0, "big.txt", CFS_O_CREAT,
                               CFS_RIGHTS_ALL, CFS_RIGHTS_ALL, 0, &fd), 0);
    for (int i = 0; i < mib; i++) {
        buf[i] = (char)('A' + i); /* no two writes alike */
        size_t n;
        cr_assert_eq(cfs_fd_write(fs, fd, buf, len, &n), 0);
        cr_assert_eq(n, len);
    }
    /* the pause: everything committed, and well past the 100 ms for
     * which the committer stays raw after the writer waited */
    cr_assert_eq(cfs_journal_sync(j), 0, "%s", cfs_journal_errmsg(j));
    cfs_test_msleep(300);
    size_t wrote;
    buf[0] = '!';
    cr_assert_eq(cfs_fd_write(fs, fd, buf, len, &wrote), 0);
    cr_assert_eq(cfs_fd_close(fs, fd), 0);
    cfs_hash128 live = cfs_fs_hash(fs);
    cr_assert_eq(cfs_journal_close(j), 0);
    cfs_fs_free(fs);
    free(buf);

    j = jopen(dir, CFS_DURABILITY_BATCH, 0, 1, 0);
    cfs_fs *back = rebuild(j, 0);
    cr_assert(hash_eq(cfs_fs_hash(back), live), "adapt %d: the replay differs", adapt);
    cfs_fs_free(back);
    cr_assert_eq(cfs_journal_close(j), 0);

    struct codec_count n = {0, 0, 0};
    cfs_test_journal_frames(dir, count_codec, &n);
    rmtree(dir);
    free(dir);
    return n;
}

Test(store, adaptive_compression_stores_raw_only_while_zstd_holds_the_writer_up,
     .timeout = 120)
{
    struct codec_count fixed = write_text(0, 12);
    cr_assert_eq(fixed.raw, 0, "without adapt every frame is compressed (%u raw)",
                 fixed.raw);
    cr_assert_eq(fixed.zstd, 13, "one frame per 1 MiB write, %u", fixed.zstd);
    cr_assert_eq(fixed.other, 0);

    struct codec_count adapt = write_text(1, 12);
    cr_assert_geq(adapt.raw, 6, "level 15 cannot keep up, yet only %u frames of the "
                  "12 MiB burst were stored raw", adapt.raw);
    cr_assert_gt(adapt.zstd, 0, "the write after the pause finds the compressor idle (%u raw)", adapt.raw);
    cr_assert_eq(adapt.raw + adapt.zstd, 13);
    cr_assert_eq(adapt.other, 0);
}

Test(store, the_map_grows_past_its_initial_size_unseen_by_the_guest, .timeout = 120)
{
    char *dir = tmpdir();
    cfs_journal *j = jopen(dir, CFS_DURABILITY_NONE, 1, 0, 0);
    cfs_fs *fs = cfs_fs_new(NULL);
    cfs_sink s = cfs_journal_sink(j);
    cfs_fs_set_sink(fs, &s);
    cfs_fd fd;
    cr_assert_eq(cfs_path_open(fs, CFS_ROOT_FD, 0, "big", CFS_O_CREAT, CFS_RIGHTS_ALL, 0, 0,
                               &fd), 0);
    /* 96 MiB of incompressible data: past the 64 MiB initial map */
    static uint8_t buf[1 << 20];
    cfs_rng r;
    cfs_rng_seed(&r, 8);
    size_t n;
    for (int i = 0; i < 96; i++) {
        cfs_rng_bytes(&r, buf, sizeof(buf));
        cfs_errno e = cfs_fd_write(fs, fd, buf, sizeof(buf), &n);
        cr_assert_eq(e, 0, "write %d: %s (%s)", i, cfs_errno_name(e), cfs_journal_errmsg(j));
    }
    cfs_hash128 live = cfs_fs_hash(fs);
    cr_assert_eq(cfs_journal_close(j), 0);
    cfs_fs_free(fs);
    j = jopen(dir, 0, 0, 1, 0);
    cfs_fs *re = rebuild(j, 0);
    cr_assert(hash_eq(cfs_fs_hash(re), live));
    cfs_fs_free(re);
    cfs_journal_close(j);
    rmtree(dir);
    free(dir);
}

Test(store, batch_commits_on_its_size_bound_and_on_its_age_bound)
{
    char *dir = tmpdir();
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = 1;
    o.batch_events = 10;
    o.batch_age_ns = 1000000; /* 1 ms */
    cfs_journal *j;
    char err[256];
    cr_assert_eq(cfs_journal_open(dir, &o, &j, err, sizeof(err)), 0, "%s", err);
    cfs_fs *fs = cfs_fs_new(NULL);
    cfs_sink s = cfs_journal_sink(j);
    cfs_fs_set_sink(fs, &s);
    char name[16];
    for (int i = 0; i < 13; i++) {
        snprintf(name, sizeof(name), "d%d", i);
        cr_assert_eq(cfs_path_create_directory(fs, CFS_ROOT_FD, name), 0);
    }
    /* the size bound: 10 events made a frame; 3 wait */
    cr_assert_eq(cfs_journal_appended(j), 13);
    cr_assert_eq(cfs_journal_sync(j), 0);
    cr_assert_eq(cfs_journal_committed(j), 13, "sync commits what waits");
    for (int i = 13; i < 16; i++) {
        snprintf(name, sizeof(name), "d%d", i);
        cr_assert_eq(cfs_path_create_directory(fs, CFS_ROOT_FD, name), 0);
    }
    /* the age bound: the first tick notes when the batch was first seen,
     * a tick less than the age later does nothing, one past it commits */
    cr_assert_eq(cfs_journal_tick(j, 5000000), 0);
    cr_assert_eq(cfs_journal_tick(j, 5500000), 0);
    usleep(50000);
    cr_assert_eq(cfs_journal_committed(j), 13, "younger than its age bound: not committed");
    cr_assert_eq(cfs_journal_tick(j, 6000001), 0);
    /* committed by the commit thread without any sync: wait for it */
    for (int waited = 0; cfs_journal_committed(j) < 16 && waited < 5000; waited++)
        usleep(1000);
    cr_assert_eq(cfs_journal_committed(j), 16, "the age bound commits the batch");
    cfs_journal_close(j);
    cfs_fs_free(fs);
    rmtree(dir);
    free(dir);
}

/* ---- opening what is not (or not yet) a journal ------------------------------------ */

Test(store, missing_garbage_truncated_and_locked)
{
    char *dir = tmpdir();
    cfs_journal *j;
    char err[256];
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    char sub[4200];

    /* no journal, not asked to create */
    snprintf(sub, sizeof(sub), "%s/none", dir);
    cr_assert_eq(cfs_journal_open(sub, &o, &j, err, sizeof(err)), CFS_JE_NOTFOUND);
    cr_assert(strstr(err, "none"), "the message names the path: %s", err);

    /* a data.mdb full of garbage */
    snprintf(sub, sizeof(sub), "%s/garbage", dir);
    mkdir(sub, 0755);
    char path[4300];
    snprintf(path, sizeof(path), "%s/data.mdb", sub);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 20000; i++)
        fputc(i * 7919 % 251, f);
    fclose(f);
    int rc = cfs_journal_open(sub, &o, &j, err, sizeof(err));
    cr_assert(rc == CFS_JE_NOTJOURNAL || rc == CFS_JE_CORRUPT, "garbage: %s (%s)",
              cfs_strerror(rc), err);
    o.read_only = 1;
    rc = cfs_journal_open(sub, &o, &j, err, sizeof(err));
    cr_assert(rc == CFS_JE_NOTJOURNAL || rc == CFS_JE_CORRUPT, "garbage ro: %s", err);
    o.read_only = 0;

    /* a real journal cut short */
    snprintf(sub, sizeof(sub), "%s/cut", dir);
    j = jopen(sub, CFS_DURABILITY_BATCH, 1, 0, 16);
    cfs_fs *fs = cfs_fs_new(NULL);
    cfs_sink s = cfs_journal_sink(j);
    cfs_fs_set_sink(fs, &s);
    cfs_rng r;
    cfs_rng_seed(&r, 11);
    cfs_workload_run(fs, &r, 3000, 60000);
    cfs_journal_close(j);
    cfs_fs_free(fs);
    snprintf(path, sizeof(path), "%s/data.mdb", sub);
    struct stat sb;
    stat(path, &sb);
    for (off_t cut = sb.st_size / 2; cut > 0; cut /= 4) {
        cr_assert_eq(truncate(path, cut), 0);
        o.read_only = 1;
        rc = cfs_journal_open(sub, &o, &j, err, sizeof(err));
        if (rc == 0) {
            /* whatever opens must still refuse to deliver damage */
            rc = cfs_journal_verify(j);
            cfs_journal_close(j);
        }
        cr_assert_neq(rc, 0, "a journal cut to %lld bytes was accepted", (long long)cut);
    }

    /* a second writer */
    snprintf(sub, sizeof(sub), "%s/locked", dir);
    j = jopen(sub, CFS_DURABILITY_BATCH, 1, 0, 0);
    cfs_journal *j2;
    o.read_only = 0;
    o.create = 1;
    rc = cfs_journal_open(sub, &o, &j2, err, sizeof(err));
    cr_assert_eq(rc, CFS_JE_LOCKED, "%s", cfs_strerror(rc));
    char want[64];
    snprintf(want, sizeof(want), "pid %ld", (long)getpid());
    cr_assert(strstr(err, want), "the message names the writer: %s", err);
    cfs_journal_close(j);
    rc = cfs_journal_open(sub, &o, &j2, err, sizeof(err));
    cr_assert_eq(rc, 0, "the lock is released on close: %s", err);
    cfs_journal_close(j2);
    rmtree(dir);
    free(dir);
}

Test(store, newer_format_is_refused_with_both_versions)
{
    char *dir = tmpdir();
    cfs_journal *j = jopen(dir, CFS_DURABILITY_BATCH, 1, 0, 0);
    cfs_journal_close(j);
    uint8_t ver[4] = {CFS_FORMAT_VERSION + 1, 0, 0, 0};
    cfs_test_lmdb_put(dir, "meta", "format", 6, ver, 4);

    char err[256], want[128];
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.read_only = 1;
    cr_assert_eq(cfs_journal_open(dir, &o, &j, err, sizeof(err)), CFS_JE_VERSION);
    snprintf(want, sizeof(want), "format version %d is newer than this build (%d)",
             CFS_FORMAT_VERSION + 1, CFS_FORMAT_VERSION);
    cr_assert(strstr(err, want), "%s", err);
    /* and 0, which no version wrote, is damage */
    memset(ver, 0, sizeof ver);
    cfs_test_lmdb_put(dir, "meta", "format", 6, ver, 4);
    cr_assert_eq(cfs_journal_open(dir, &o, &j, err, sizeof(err)), CFS_JE_CORRUPT, "%s", err);
    cr_assert(strstr(err, "format"), "%s", err);
    rmtree(dir);
    free(dir);
}

/* ---- corruption ------------------------------------------------------------------------ */

/* The first frames gone (a record lost), with a snapshot after them: no
 * compaction, fork or receive took them, so verify says frames are
 * missing (it read from the first frame left and said ok). */
Test(store, verify_finds_the_first_frames_missing)
{
    char *dir = tmpdir();
    cfs_journal *j = jopen(dir, CFS_DURABILITY_BATCH, 1, 0, 20);
    cfs_fs *fs = cfs_fs_new(NULL);
    cfs_sink s = cfs_journal_sink(j);
    cfs_fs_set_sink(fs, &s);
    cfs_rng r;
    cfs_rng_seed(&r, 5);
    cfs_workload_run(fs, &r, 200, 2000);
    cr_assert_eq(cfs_journal_snapshot(j, fs, "s", NULL, 0, NULL), 0);
    cfs_workload_run(fs, &r, 50, 2000);
    cr_assert_eq(cfs_journal_close(j), 0);
    cfs_fs_free(fs);
    j = jopen(dir, 0, 0, 1, 0);
    cr_assert_eq(cfs_journal_verify(j), 0, "%s", cfs_journal_errmsg(j));
    cfs_journal_close(j);
    uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, 1}; /* seq 1, big-endian */
    cfs_test_lmdb_del(dir, "events", key, 8);
    j = jopen(dir, 0, 0, 1, 0);
    cr_assert_eq(cfs_journal_verify(j), CFS_JE_CORRUPT);
    cr_assert(strstr(cfs_journal_errmsg(j), "frames are missing"), "%s",
              cfs_journal_errmsg(j));
    cfs_journal_close(j);
    rmtree(dir);
    free(dir);
}

struct count {
    uint64_t n, last;
};

static int count_event(void *ctx, const cfs_event *ev)
{
    struct count *c = ctx;
    cr_assert_eq(ev->seq, c->last + 1, "events arrive in order without gaps");
    c->last = ev->seq;
    c->n++;
    return 0;
}

Test(store, a_flipped_byte_is_reported_with_its_seq_and_nothing_after_is_applied)
{
    char *dir = tmpdir();
    cfs_journal *j = jopen(dir, CFS_DURABILITY_BATCH, 1, 0, 40);
    cfs_fs *fs = cfs_fs_new(NULL);
    cfs_sink s = cfs_journal_sink(j);
    cfs_fs_set_sink(fs, &s);
    cfs_rng r;
    cfs_rng_seed(&r, seed_or(5));
    cfs_workload_run(fs, &r, 2000, 3000);
    cfs_journal_close(j);
    cfs_fs_free(fs);

    for (int where = 0; where < 2; where++) {
        /* a frame in the middle; where 0: a payload byte (checksum);
         * where 1: the count field */
        size_t byte = where == 0 ? 45 : 16;
        uint64_t first = cfs_test_flip_frame_byte(dir, 1, 2, (size_t)where * 3, byte, 0x5a);
        cr_assert_gt(first, 0, "a journal of more than 10 frames, damaged");

        j = jopen(dir, 0, 0, 1, 0);
        int rc = cfs_journal_verify(j);
        cr_assert_eq(rc, CFS_JE_CORRUPT, "verify: %s", cfs_strerror(rc));
        char want[64];
        snprintf(want, sizeof(want), "seq %" PRIu64, first);
        cr_assert(strstr(cfs_journal_errmsg(j), want), "message %s should name %s",
                  cfs_journal_errmsg(j), want);
        struct count c = {0, 0};
        rc = cfs_journal_foreach(j, 1, 0, count_event, &c);
        cr_assert_eq(rc, CFS_JE_CORRUPT);
        cr_assert_eq(c.last, first - 1, "delivered up to %" PRIu64 ", the bad frame is at %"
                     PRIu64, c.last, first);
        cfs_fs *re = cfs_fs_new(NULL);
        cr_assert_eq(cfs_journal_replay(j, re, 0), CFS_JE_CORRUPT);
        cr_assert_eq(cfs_fs_seq(re), first - 1, "replay stops before the damage");
        cfs_fs_free(re);
        cfs_journal_close(j);
        /* undo, for the next round */
        cr_assert_eq(cfs_test_flip_frame_byte(dir, 1, 2, (size_t)where * 3, byte, 0x5a), first);
    }
    rmtree(dir);
    free(dir);
}

/* ---- crashes ------------------------------------------------------------------------------ */

#define SYNC_MARK (UINT64_C(1) << 63)

/* The child: rebuild from the journal, then run the workload, reporting
 * each acknowledged seq (and, in batch mode, each fd_sync) to the parent. */
static void crash_child(const char *dir, cfs_durability d, uint64_t seed, int wfd)
{
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.durability = d;
    o.create = 1;
    o.batch_events = 20;
    cfs_journal *j;
    if (cfs_journal_open(dir, &o, &j, NULL, 0))
        _exit(3);
    cfs_fs *fs = cfs_fs_new(NULL);
    if (cfs_journal_replay(j, fs, 0))
        _exit(4);
    cfs_sink s = cfs_journal_sink(j);
    cfs_fs_set_sink(fs, &s);
    cfs_rng r;
    cfs_rng_seed(&r, seed);
    for (unsigned i = 0;; i++) {
        uint64_t before = cfs_fs_seq(fs);
        cfs_workload_step(fs, &r, 2000);
        uint64_t now = cfs_fs_seq(fs);
        if (d == CFS_DURABILITY_BATCH && i % 17 == 0) {
            if (cfs_fd_sync(fs, CFS_ROOT_FD))
                _exit(5);
            uint64_t m = now | SYNC_MARK;
            if (write(wfd, &m, 8) != 8)
                _exit(6);
        } else if (now != before && d == CFS_DURABILITY_SYNC) {
            if (write(wfd, &now, 8) != 8)
                _exit(6);
        }
    }
}

static void crash_rounds(cfs_durability d, unsigned rounds, uint64_t seed)
{
    char *dir = tmpdir();
    cfs_rng r;
    cfs_rng_seed(&r, seed);
    uint64_t acked = 0, synced = 0;
    for (unsigned round = 0; round < rounds; round++) {
        int p[2];
        cr_assert_eq(pipe(p), 0);
        pid_t pid = fork();
        cr_assert_neq(pid, -1);
        if (pid == 0) {
            close(p[0]);
            crash_child(dir, d, seed * 1000 + round, p[1]);
        }
        close(p[1]);
        /* let it run for a random number of acknowledgements, then kill */
        /* (batch mode acknowledges only fd_syncs, one per 17 calls) */
        uint64_t want = 1 + cfs_rng_below(&r, d == CFS_DURABILITY_SYNC ? 60 : 8);
        uint64_t got = 0, m;
        while (got < want && read(p[0], &m, 8) == 8) {
            if (m & SYNC_MARK)
                synced = m & ~SYNC_MARK;
            else
                acked = m;
            got++;
        }
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        cr_assert(WIFSIGNALED(status), "round %u: child exited %d before the kill", round,
                  WEXITSTATUS(status));
        /* what it reported before dying was acknowledged too */
        while (read(p[0], &m, 8) == 8) {
            if (m & SYNC_MARK)
                synced = m & ~SYNC_MARK;
            else
                acked = m;
        }
        close(p[0]);

        /* A reader sees every acknowledged event at once (in SYNC mode some
         * may still be in the sync log only); the next round's child, a
         * writer, then moves them into LMDB on opening. */
        cfs_journal *j = jopen(dir, 0, 0, 1, 0);
        uint64_t committed = cfs_journal_committed(j);
        cr_assert_geq(committed, acked, "round %u (seed %" PRIu64 "): acknowledged seq %"
                      PRIu64 " lost, journal ends at %" PRIu64, round, seed, acked, committed);
        cr_assert_geq(committed, synced, "round %u (seed %" PRIu64 "): fd_sync'd seq %"
                      PRIu64 " lost, journal ends at %" PRIu64, round, seed, synced, committed);
        struct count c = {0, 0};
        cr_assert_eq(cfs_journal_foreach(j, 1, 0, count_event, &c), 0, "%s",
                     cfs_journal_errmsg(j));
        cr_assert_eq(c.last, committed, "a prefix without gaps");
        cfs_fs *re = rebuild(j, 0);
        cfs_fs_free(re);
        cfs_journal_close(j);
    }
    printf("crash %s: %u rounds, seed %" PRIu64 ", last acknowledged seq %" PRIu64
           ", last fd_sync'd seq %" PRIu64 "\n",
           d == CFS_DURABILITY_SYNC ? "sync" : "batch", rounds, seed, acked, synced);
    rmtree(dir);
    free(dir);
}

Test(store, crash_sync_loses_nothing_acknowledged, .timeout = 300)
{
    uint64_t seed = seed_or(2026);
    printf("crash sync seed %" PRIu64 "\n", seed);
    crash_rounds(CFS_DURABILITY_SYNC, 50, seed);
}

Test(store, crash_batch_keeps_a_prefix_and_everything_synced, .timeout = 300)
{
    uint64_t seed = seed_or(1122);
    printf("crash batch seed %" PRIu64 "\n", seed);
    crash_rounds(CFS_DURABILITY_BATCH, 50, seed);
}

/* The offset in sync log `path` of the record of seq `seq` (records from
 * 4096: "CFSR", u32 len, u64 generation, u64 seq, payload padded to 8,
 * u64 checksum), or 0. */
static long synclog_record(const char *path, uint64_t seq)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    long off = 4096, found = 0;
    uint8_t h[24];
    while (!found && fseek(f, off, SEEK_SET) == 0 && fread(h, 1, 24, f) == 24 &&
           !memcmp(h, "CFSR", 4)) {
        uint32_t len;
        uint64_t s;
        memcpy(&len, h + 4, 4);
        memcpy(&s, h + 16, 8);
        if (s == seq)
            found = off;
        off += 24 + ((len + 7) & ~7u) + 8;
    }
    fclose(f);
    return found;
}

/* A writer in durability sync, in a child process, that makes `dirs`
 * directories (one acknowledged event each: in the sync log, not yet in
 * LMDB) and is then killed: the seq it acknowledged last. */
static uint64_t killed_sync_writer(const char *dir, int dirs)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* no Criterion here: its assertions report to the runner, which
         * would count (and leak) an event from a process it never made */
        close(p[0]);
        cfs_journal_opts o;
        cfs_journal_opts_default(&o);
        o.durability = CFS_DURABILITY_SYNC;
        o.create = 1;
        cfs_journal *w;
        cfs_fs *fs;
        if (cfs_journal_open(dir, &o, &w, NULL, 0) || cfs_journal_open_at(w, 0, NULL, &fs))
            _exit(2);
        cfs_sink sk = cfs_journal_sink(w);
        cfs_fs_set_sink(fs, &sk);
        for (int i = 0; i < dirs; i++) {
            char name[16];
            snprintf(name, sizeof(name), "s%d", i);
            if (cfs_path_create_directory(fs, CFS_ROOT_FD, name))
                _exit(3);
        }
        uint64_t seq = cfs_fs_seq(fs);
        if (write(p[1], &seq, 8) != 8)
            _exit(4);
        pause();
        _exit(5);
    }
    close(p[1]);
    uint64_t acked = 0;
    cr_assert_eq(read(p[0], &acked, 8), 8, "the writer died first");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(p[0]);
    return acked;
}

/* In sync mode a writer killed after 30 acknowledged events leaves them
 * in the sync log. A damaged record in the middle of it must not pass for
 * the log's end (which would drop the 23 acknowledged events after it,
 * and a writer's open would then throw them away for good): readers and
 * writers refuse, naming the file and the seq. A damaged last record is
 * what a crash leaves: the log ends before it. */
Test(store, a_damaged_sync_log_record_is_corruption_not_the_end)
{
    char *dir = tmpdir();
    uint64_t acked = killed_sync_writer(dir, 30);
    cr_assert_eq(acked, 30);
    cfs_journal *j = jopen(dir, 0, 0, 1, 0);
    cr_assert_eq(cfs_journal_committed(j), acked, "every event is in the sync log");
    cfs_journal_close(j);

    char slog[4200];
    snprintf(slog, sizeof(slog), "%s/sync.log", dir);
    long at = synclog_record(slog, 7);
    cr_assert_gt(at, 0, "no record of seq 7 in the sync log");
    cfs_test_flip_file_byte(slog, (uint64_t)at + 30, 0x55);
    for (int ro = 1; ro >= 0; ro--) {
        cfs_journal_opts o;
        cfs_journal_opts_default(&o);
        o.read_only = ro;
        o.durability = CFS_DURABILITY_SYNC;
        char err[512];
        int rc = cfs_journal_open(dir, &o, &j, err, sizeof(err));
        cr_assert_eq(rc, CFS_JE_CORRUPT, "%s: %s", ro ? "reader" : "writer",
                     rc ? err : "opened");
        cr_assert(strstr(err, "sync.log") && strstr(err, "seq 7"), "%s", err);
    }
    cfs_test_flip_file_byte(slog, (uint64_t)at + 30, 0x55); /* undone */
    cfs_test_flip_file_byte(slog, (uint64_t)synclog_record(slog, 30) + 30, 0x55);
    j = jopen(dir, 0, 0, 1, 0);
    cr_assert_eq(cfs_journal_committed(j), 29, "a torn last record ends the log");
    cfs_journal_close(j);
    rmtree(dir);
    free(dir);
}

/* A journal without frames (compacted to its snapshot) whose writer, in
 * sync mode, was killed with events only in the sync log: a reader sees
 * them after the snapshot (it said the log continues at seq S+1 but the
 * journal ends at 0). */
Test(store, sync_log_events_after_a_frameless_snapshot_are_read)
{
    char *dir = tmpdir();
    cfs_journal *j = jopen(dir, CFS_DURABILITY_BATCH, 1, 0, 0);
    cfs_fs *fs = cfs_fs_new(NULL);
    cfs_sink sk = cfs_journal_sink(j);
    cfs_fs_set_sink(fs, &sk);
    cr_assert_eq(cfs_path_create_directory(fs, CFS_ROOT_FD, "before"), 0);
    cr_assert_eq(cfs_journal_snapshot(j, fs, "s", NULL, 0, NULL), 0);
    uint64_t base = cfs_fs_seq(fs);
    cr_assert_eq(cfs_journal_compact(j, 1, NULL), 0, "%s", cfs_journal_errmsg(j));
    cr_assert_eq(cfs_journal_close(j), 0);
    cfs_fs_free(fs);
    uint64_t acked = killed_sync_writer(dir, 1);
    cr_assert_gt(acked, base);
    j = jopen(dir, 0, 0, 1, 0);
    cr_assert_eq(cfs_journal_committed(j), acked);
    struct count c = {0, base}; /* the events start after the snapshot */
    cr_assert_eq(cfs_journal_foreach(j, 1, 0, count_event, &c), 0, "%s",
                 cfs_journal_errmsg(j));
    cr_assert_eq(c.last, acked, "the sync log's events after the snapshot");
    cr_assert_eq(cfs_journal_verify(j), 0, "%s", cfs_journal_errmsg(j));
    cfs_journal_close(j);
    rmtree(dir);
    free(dir);
}

/* ---- readers in other processes ---------------------------------------------------------- */

Test(store, a_reader_in_another_process_sees_consistent_prefixes, .timeout = 120)
{
    char *dir = tmpdir();
    int go[2];
    cr_assert_eq(pipe(go), 0);
    /* Fork before the parent opens LMDB: an environment must not cross a
     * fork. The reader retries until the journal exists. */
    pid_t pid = fork();
    if (pid == 0) {
        close(go[1]);
        fcntl(go[0], F_SETFL, O_NONBLOCK);
        cfs_journal_opts o;
        cfs_journal_opts_default(&o);
        o.read_only = 1;
        unsigned views = 0;
        uint64_t prev = 0;
        for (;;) {
            char byte;
            int done = read(go[0], &byte, 1) == 0; /* EOF: the writer finished */
            cfs_journal *rj;
            int rc = cfs_journal_open(dir, &o, &rj, NULL, 0);
            if (rc == CFS_JE_NOTFOUND || rc == CFS_JE_NOTJOURNAL) {
                if (done)
                    _exit(14);
                usleep(1000);
                continue;
            }
            if (rc)
                _exit(10);
            /* one engine per open, brought forward view by view: replay
             * continues from wherever the engine is */
            cfs_fs *fs = cfs_fs_new(NULL);
            for (int k = 0; k < 20; k++) {
                if (cfs_journal_refresh(rj))
                    _exit(11);
                uint64_t c = cfs_journal_committed(rj);
                if (c < prev)
                    _exit(12); /* a committed prefix never shrinks */
                if (c == 0 || c == cfs_fs_seq(fs))
                    continue; /* nothing new (to = 0 would mean all) */
                int rrc = cfs_journal_replay(rj, fs, c);
                if (rrc || cfs_fs_seq(fs) != c) {
                    fprintf(stderr, "reader: replay to %" PRIu64 ": %s: %s (at %" PRIu64 ")\n",
                            c, cfs_strerror(rrc), cfs_journal_errmsg(rj), cfs_fs_seq(fs));
                    _exit(13);
                }
                prev = c;
                views++;
            }
            cfs_fs_free(fs);
            cfs_journal_close(rj);
            if (done)
                break;
        }
        _exit(views > 0 ? 0 : 15);
    }
    close(go[0]);
    cfs_journal *j = jopen(dir, CFS_DURABILITY_NONE, 1, 0, 25);
    cfs_fs *fs = cfs_fs_new(NULL);
    cfs_sink s = cfs_journal_sink(j);
    cfs_fs_set_sink(fs, &s);
    cfs_rng r;
    cfs_rng_seed(&r, 99);
    cfs_workload_run(fs, &r, 20000, 2000);
    cfs_journal_commit(j);
    close(go[1]);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader failed: status %d",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    cfs_journal_close(j);
    cfs_fs_free(fs);
    rmtree(dir);
    free(dir);
}

/* ---- a full disk ------------------------------------------------------------------------------ */

static char *small_mnt;

static void unmount_small(void)
{
    if (small_mnt) {
        umount2(small_mnt, MNT_DETACH);
        rmdir(small_mnt);
        free(small_mnt);
        small_mnt = NULL;
    }
}

/* Fill a small tmpfs through a journal in mode d. */
static void full_disk(cfs_durability d)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/j%d", small_mnt, (int)d);
    cfs_journal *j = jopen(dir, d, 1, 0, 0);
    cfs_fs *fs = cfs_fs_new(NULL);
    cfs_sink s = cfs_journal_sink(j);
    cfs_fs_set_sink(fs, &s);
    cfs_fd fd;
    cr_assert_eq(cfs_path_open(fs, CFS_ROOT_FD, 0, "big", CFS_O_CREAT, CFS_RIGHTS_ALL, 0, 0,
                               &fd), 0);
    cr_assert_eq(cfs_fd_sync(fs, fd), 0);
    uint64_t synced = cfs_fs_seq(fs);
    /* random bytes do not compress: the disk fills */
    static uint8_t buf[200000];
    cfs_rng r;
    cfs_rng_seed(&r, 3);
    cfs_errno e = 0;
    size_t n;
    cfs_hash128 before = {0, 0};
    for (int i = 0; i < 400 && !e; i++) {
        cfs_rng_bytes(&r, buf, sizeof(buf));
        before = cfs_fs_hash(fs);
        e = cfs_fd_write(fs, fd, buf, sizeof(buf), &n);
    }
    cr_assert_eq(e, CFS_ENOSPC, "mode %d: a full disk is ENOSPC to the guest, got %s",
                 (int)d, cfs_errno_name(e));
    cr_assert(hash_eq(cfs_fs_hash(fs), before), "the refused write changed nothing");
    /* sticky: the journal refuses writes until reopened */
    e = cfs_fd_write(fs, fd, "x", 1, &n);
    cr_assert_eq(e, CFS_EIO, "after a failed commit: %s", cfs_errno_name(e));
    /* and says what failed first, however often it is asked */
    cr_assert_eq(cfs_journal_commit(j), CFS_JE_FAILED);
    cr_assert(strstr(cfs_journal_errmsg(j), "disk full"), "%s", cfs_journal_errmsg(j));
    cr_assert_eq(cfs_journal_failure(j), CFS_JE_FAILED);
    cr_assert(strstr(cfs_journal_errmsg(j), "disk full") &&
              !strstr(cfs_journal_errmsg(j), "earlier"), "%s", cfs_journal_errmsg(j));
    uint64_t live_seq = cfs_fs_seq(fs);
    cfs_journal_close(j);
    cfs_fs_free(fs);

    j = jopen(dir, 0, 0, 1, 0);
    uint64_t committed = cfs_journal_committed(j);
    if (d == CFS_DURABILITY_SYNC)
        cr_assert_eq(committed, live_seq, "every acknowledged event survived");
    else /* batch: a prefix, with everything fd_sync'd */
        cr_assert(committed >= synced && committed <= live_seq, "committed %" PRIu64
                  ", synced %" PRIu64 ", live %" PRIu64, committed, synced, live_seq);
    cr_assert_eq(cfs_journal_verify(j), 0, "%s", cfs_journal_errmsg(j));
    cfs_fs *re = rebuild(j, 0);
    cr_assert_eq(cfs_fs_seq(re), committed);
    cfs_fs_free(re);
    cfs_journal_close(j);
}

/* Fill small_mnt's filesystem to its last byte. */
static void fill_up(void)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/filler", small_mnt);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    static char block[4096];
    while (write(fd, block, sizeof(block)) > 0)
        ;
    while (write(fd, block, 1) > 0)
        ;
    close(fd);
}

/* LMDB writes its lock file's reader table through a mapping, where a
 * page a full filesystem cannot give is SIGBUS: creating a journal there,
 * or opening one whose lock.mdb is gone, is CFS_JE_NOSPC instead. */
Test(store, a_journal_opened_on_a_full_disk_is_enospc_not_a_crash, .fini = unmount_small)
{
    small_mnt = tmpdir();
    if (mount("tmpfs", small_mnt, "tmpfs", 0, "size=1m") != 0)
        cr_skip_test("cannot mount a small tmpfs (%s): needs root", strerror(errno));
    char dir[4200], lock[4300];
    snprintf(dir, sizeof(dir), "%s/old", small_mnt);
    cfs_journal *j = jopen(dir, CFS_DURABILITY_BATCH, 1, 0, 0);
    cr_assert_eq(cfs_journal_close(j), 0);
    snprintf(lock, sizeof(lock), "%s/lock.mdb", dir);
    cr_assert_eq(unlink(lock), 0);
    fill_up();
    for (int ro = 0; ro < 2; ro++) {
        cfs_journal_opts o;
        cfs_journal_opts_default(&o);
        o.read_only = ro;
        char err[256];
        int rc = cfs_journal_open(dir, &o, &j, err, sizeof(err));
        cr_assert_eq(rc, CFS_JE_NOSPC, "%s: %s", ro ? "reader" : "writer", err);
        cr_assert(strstr(err, "disk full"), "%s", err);
    }
    snprintf(dir, sizeof(dir), "%s/new", small_mnt);
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = 1;
    char err[256];
    cr_assert_eq(cfs_journal_open(dir, &o, &j, err, sizeof(err)), CFS_JE_NOSPC, "%s", err);
}

Test(store, a_full_disk_is_enospc_and_the_journal_stays_consistent, .fini = unmount_small)
{
    small_mnt = tmpdir();
    if (mount("tmpfs", small_mnt, "tmpfs", 0, "size=24m") != 0)
        cr_skip_test("cannot mount a small tmpfs (%s): needs root", strerror(errno));
    full_disk(CFS_DURABILITY_SYNC);
    umount2(small_mnt, MNT_DETACH);
    cr_assert_eq(mount("tmpfs", small_mnt, "tmpfs", 0, "size=24m"), 0);
    full_disk(CFS_DURABILITY_BATCH);
}
