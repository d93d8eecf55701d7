/*
 * test_snapshot.c — snapshots and opening a journal at any seq, as a user
 * relies on them: the state at every seq, not only at snapshots, is the
 * live one; an incremental snapshot stores what changed; a damaged
 * snapshot is reported, never used.
 * Property tests print their seed; CFS_TEST_SEED replays one.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>
#include <zstd.h>

#include "cfs_journal.h"
#include "cfs_test_util.h"
#include "cfs_workload.h"

static char *tmpdir(void)
{
    return cfs_test_tmpdir("cfs-snap");
}

static void rmtree(char *dir)
{
    cfs_test_rmtree(dir);
    free(dir);
}

static cfs_journal *jopen(const char *dir, int create, int read_only)
{
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = create;
    o.read_only = read_only;
    o.batch_events = 100;
    cfs_journal *j;
    char err[256];
    int rc = cfs_journal_open(dir, &o, &j, err, sizeof(err));
    cr_assert_eq(rc, 0, "open %s: %s", dir, err);
    return j;
}

static int eq(cfs_hash128 a, cfs_hash128 b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

Test(snapshot, the_state_at_every_sampled_seq_is_the_live_one, .timeout = 300)
{
    static const uint64_t seeds[] = {11, 12, 13};
    for (size_t si = 0; si < 3; si++) {
        uint64_t seed = cfs_test_env_u64("CFS_TEST_SEED", seeds[si]);
        printf("snapshot restore seed %" PRIu64 "\n", seed);
        char *dir = tmpdir();
        cfs_journal *j = jopen(dir, 1, 0);
        cfs_time clock = 0;
        cfs_config cfg = {.clock = cfs_workload_clock, .clock_ctx = &clock,
                          .sink = cfs_journal_sink(j)};
        cfs_fs *fs = cfs_fs_new(&cfg);
        cfs_rng r;
        cfs_rng_seed(&r, seed);
        enum { EVENTS = 2500 };
        cfs_hash128 *at = calloc(EVENTS + 100, sizeof(*at));
        uint8_t *have = calloc(EVENTS + 100, 1);
        uint64_t snaps[64];
        unsigned nsnap = 0;
        while (cfs_fs_seq(fs) < EVENTS) {
            cfs_workload_step(fs, &r, 150000);
            at[cfs_fs_seq(fs)] = cfs_fs_hash(fs);
            have[cfs_fs_seq(fs)] = 1;
            if (cfs_rng_chance(&r, 1) && nsnap < 64 && cfs_fs_seq(fs) &&
                (nsnap == 0 || snaps[nsnap - 1] != cfs_fs_seq(fs))) {
                char label[32];
                snprintf(label, sizeof(label), "s%u", nsnap);
                cfs_snapshot_info info;
                int rc = cfs_journal_snapshot(j, fs, label, "explicit", clock, &info);
                cr_assert_eq(rc, 0, "snapshot: %s", cfs_journal_errmsg(j));
                cr_assert(eq(info.state_hash, cfs_fs_hash(fs)));
                snaps[nsnap++] = cfs_fs_seq(fs);
            }
        }
        uint64_t last = cfs_fs_seq(fs);
        cr_assert_eq(cfs_journal_close(j), 0);
        cfs_fs_free(fs);
        cr_assert_gt(nsnap, 3, "seed %" PRIu64 ": only %u snapshots", seed, nsnap);

        j = jopen(dir, 0, 1);
        /* every snapshot seq, and a sample of the rest */
        for (unsigned k = 0; k < nsnap + 40; k++) {
            uint64_t s = k < nsnap ? snaps[k] : 1 + cfs_rng_below(&r, last);
            while (s && !have[s])
                s--;
            if (!s)
                continue;
            cfs_fs *re;
            int rc = cfs_journal_open_at(j, s, NULL, &re);
            cr_assert_eq(rc, 0, "open at %" PRIu64 ": %s", s, cfs_journal_errmsg(j));
            cr_assert_eq(cfs_fs_seq(re), s);
            cr_assert(eq(cfs_fs_hash(re), at[s]),
                      "seed %" PRIu64 ": the state at seq %" PRIu64 " differs", seed, s);
            cfs_fs_free(re);
        }
        cfs_fs *head;
        cr_assert_eq(cfs_journal_open_at(j, 0, NULL, &head), 0);
        cr_assert(eq(cfs_fs_hash(head), at[last]));
        cfs_fs_free(head);
        cfs_fs *past;
        cr_assert_eq(cfs_journal_open_at(j, last + 1, NULL, &past), CFS_JE_NOTFOUND);
        cr_assert(strstr(cfs_journal_errmsg(j), "past the journal's end"), "%s",
                  cfs_journal_errmsg(j));
        cfs_journal_close(j);
        free(at);
        free(have);
        rmtree(dir);
    }
}

struct collect {
    cfs_snapshot_info s[16];
    unsigned n;
};

static int collect(void *ctx, const cfs_snapshot_info *s)
{
    struct collect *c = ctx;
    if (c->n < 16)
        c->s[c->n++] = *s;
    return 0;
}

Test(snapshot, an_incremental_snapshot_stores_what_changed)
{
    char *dir = tmpdir();
    cfs_journal *j = jopen(dir, 1, 0);
    cfs_config cfg = {.sink = cfs_journal_sink(j)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    /* 64 files of 256 KiB of distinct data: 16 MiB */
    static uint8_t buf[256 << 10];
    cfs_rng r;
    cfs_rng_seed(&r, 5);
    char name[32];
    for (int i = 0; i < 64; i++) {
        cfs_fd fd;
        size_t n;
        cfs_rng_bytes(&r, buf, sizeof(buf));
        snprintf(name, sizeof(name), "f%d", i);
        cr_assert_eq(cfs_path_open(fs, CFS_ROOT_FD, 0, name, CFS_O_CREAT, CFS_RIGHTS_ALL, 0, 0,
                                   &fd), 0);
        cr_assert_eq(cfs_fd_write(fs, fd, buf, sizeof(buf), &n), 0);
        cr_assert_eq(cfs_fd_close(fs, fd), 0);
    }
    cfs_snapshot_info a, b;
    cr_assert_eq(cfs_journal_snapshot(j, fs, "base", "bootstrap", 1, &a), 0);
    cr_assert_eq(a.new_chunks, a.chunks);
    cr_assert_gt(a.new_chunk_bytes, 16u << 20, "random data stored whole: %" PRIu64,
                 a.new_chunk_bytes);
    /* change one 64 KiB block of one file */
    cfs_fd fd;
    size_t n;
    cr_assert_eq(cfs_path_open(fs, CFS_ROOT_FD, 0, "f7", 0, CFS_RIGHTS_ALL, 0, 0, &fd), 0);
    cr_assert_eq(cfs_fd_pwrite(fs, fd, "changed", 7, 70000, &n), 0);
    cr_assert_eq(cfs_journal_snapshot(j, fs, "after", "explicit", 2, &b), 0);
    cr_assert_eq(b.new_chunks, 1, "one block changed, %u stored", b.new_chunks);
    cr_assert_lt(b.new_chunk_bytes, 70000u);
    cr_assert_eq(cfs_journal_snapshot(j, fs, "again", "explicit", 3, NULL), CFS_JE_INVAL,
                 "a second snapshot at one seq is refused");

    struct collect c = {.n = 0};
    cr_assert_eq(cfs_journal_snapshots(j, collect, &c), 0);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.s[0].label, "base");
    cr_assert_str_eq(c.s[0].trigger, "bootstrap");
    cr_assert_str_eq(c.s[1].label, "after");
    cr_assert(eq(c.s[1].state_hash, cfs_fs_hash(fs)));
    cfs_snapshot_info f;
    cr_assert_eq(cfs_journal_find_snapshot(j, "base", &f), 0);
    cr_assert_eq(f.seq, a.seq);
    cr_assert_eq(cfs_journal_find_snapshot(j, "nope", &f), CFS_JE_NOTFOUND);
    cr_assert(strstr(cfs_journal_errmsg(j), "`nope`"), "%s", cfs_journal_errmsg(j));
    cfs_hash128 live = cfs_fs_hash(fs);
    cfs_journal_close(j);
    cfs_fs_free(fs);

    j = jopen(dir, 0, 1);
    cfs_fs *re;
    cr_assert_eq(cfs_journal_open_at(j, a.seq, NULL, &re), 0);
    cr_assert(eq(cfs_fs_hash(re), a.state_hash));
    cfs_fs_free(re);
    cr_assert_eq(cfs_journal_open_at(j, 0, NULL, &re), 0);
    cr_assert(eq(cfs_fs_hash(re), live));
    cfs_fs_free(re);
    cfs_journal_close(j);
    rmtree(dir);
}

/* Sum of every regular file's bytes read by inode; *eio counts EIO. */
static uint64_t read_all(cfs_fs *fs, int *eio)
{
    uint64_t sum = 0;
    *eio = 0;
    for (cfs_ino ino = CFS_INO_ROOT; ino < 100000; ino++) {
        cfs_filestat st;
        if (cfs_getattr(fs, ino, &st) || st.filetype != CFS_FILETYPE_REGULAR_FILE)
            continue;
        uint8_t *buf = malloc(st.size + 1);
        size_t got = 0;
        cfs_errno e = cfs_file_pread_ino(fs, ino, buf, st.size, 0, &got);
        if (e == CFS_EIO)
            (*eio)++;
        else
            cr_assert_eq(e, 0);
        for (size_t i = 0; i < got; i++)
            sum = sum * 31 + buf[i];
        free(buf);
    }
    return sum;
}

Test(snapshot, a_damaged_snapshot_or_chunk_is_reported_never_used)
{
    for (int kind = 0; kind < 2; kind++) {
        char *dir = tmpdir();
        cfs_journal *j = jopen(dir, 1, 0);
        cfs_config cfg = {.sink = cfs_journal_sink(j)};
        cfs_fs *fs = cfs_fs_new(&cfg);
        cfs_rng r;
        cfs_rng_seed(&r, 77);
        cfs_workload_run(fs, &r, 300, 100000);
        cfs_snapshot_info info;
        cr_assert_eq(cfs_journal_snapshot(j, fs, "s", NULL, 0, &info), 0);
        cfs_workload_run(fs, &r, 50, 100000);
        cfs_journal_close(j);
        cfs_fs_free(fs);
        if (kind == 0)
            /* the image's last byte */
            cfs_test_lmdb_flip(dir, "snapshots", NULL, 0, -1, 0x20);
        else
            /* a chunk's last byte */
            cfs_test_lmdb_flip(dir, "chunks", NULL, 0, -1, 0x20);
        j = jopen(dir, 0, 1);
        cfs_fs *re;
        if (kind == 1) {
            /* File data is loaded on first use: opening costs the metadata,
             * and the damaged chunk is EIO for the file that holds it,
             * never wrong bytes. */
            cr_assert_eq(cfs_journal_open_at(j, info.seq, NULL, &re), 0, "%s",
                         cfs_journal_errmsg(j));
            int eio;
            read_all(re, &eio);
            cr_assert_geq(eio, 1, "the file(s) holding the damaged chunk: %d EIO", eio);
            cfs_fs_free(re);
            /* and checking the chunks finds it before anything reads it */
            uint64_t good = 0;
            cr_assert_eq(cfs_journal_verify_chunks(j, &good), CFS_JE_CORRUPT);
            cr_assert(strstr(cfs_journal_errmsg(j), "is damaged"), "%s",
                      cfs_journal_errmsg(j));
        } else {
            uint64_t good = 0;
            cr_assert_eq(cfs_journal_verify_chunks(j, &good), 0, "%s", cfs_journal_errmsg(j));
            cr_assert_eq(good, info.chunks, "%" PRIu64 " chunks checked", good);
            int rc = cfs_journal_open_at(j, info.seq + 10, NULL, &re);
            cr_assert_eq(rc, CFS_JE_CORRUPT, "kind %d: %s", kind, cfs_strerror(rc));
            char want[64];
            snprintf(want, sizeof(want), "snapshot at seq %" PRIu64, info.seq);
            cr_assert(strstr(cfs_journal_errmsg(j), want), "kind %d: %s", kind,
                      cfs_journal_errmsg(j));
        }
        /* before the snapshot, the events alone still serve */
        cr_assert_eq(cfs_journal_open_at(j, info.seq - 1, NULL, &re), 0);
        cfs_fs_free(re);
        cfs_journal_close(j);
        rmtree(dir);
    }
}

/* Compaction drops the events a kept snapshot replaces: if that
 * snapshot lost a chunk (missing, or damaged), the events are the only
 * copy of its data, so it refuses, naming what is wrong, and changes
 * nothing; and verify finds a missing chunk (it checked only the chunks
 * that are there). */
Test(snapshot, compaction_refuses_to_drop_events_a_damaged_snapshot_needs)
{
    for (int kind = 0; kind < 2; kind++) {
        char *dir = cfs_test_tmpdir("cfs-snap");
        cfs_journal *j = jopen(dir, 1, 0);
        cfs_config cfg = {.sink = cfs_journal_sink(j)};
        cfs_fs *fs = cfs_fs_new(&cfg);
        cfs_rng r;
        cfs_rng_seed(&r, 78);
        cfs_workload_run(fs, &r, 300, 100000);
        cr_assert_eq(cfs_journal_snapshot(j, fs, "s", NULL, 0, NULL), 0);
        cfs_workload_run(fs, &r, 50, 100000);
        cfs_hash128 head = cfs_fs_hash(fs);
        cfs_journal_close(j);
        cfs_fs_free(fs);
        if (kind == 0)
            cfs_test_lmdb_del(dir, "chunks", NULL, 0);
        else
            cfs_test_lmdb_flip(dir, "chunks", NULL, 0, -1, 0x20);

        j = jopen(dir, 0, 1);
        cr_assert_eq(cfs_journal_verify_chunks(j, NULL), CFS_JE_CORRUPT, "kind %d", kind);
        cr_assert(strstr(cfs_journal_errmsg(j), kind ? "is damaged" : "is missing"), "%s",
                  cfs_journal_errmsg(j));
        if (kind == 0)
            cr_assert(strstr(cfs_journal_errmsg(j), "snapshot at seq"), "%s",
                      cfs_journal_errmsg(j));
        cfs_journal_close(j);

        j = jopen(dir, 0, 0);
        cr_assert_eq(cfs_journal_compact(j, 1, NULL), CFS_JE_CORRUPT, "kind %d", kind);
        cr_assert(strstr(cfs_journal_errmsg(j), "nothing compacted"), "%s",
                  cfs_journal_errmsg(j));
        cfs_journal_stats st;
        cr_assert_eq(cfs_journal_stat(j, &st), 0);
        cr_assert_eq(st.first_seq, 1, "the events are all there");
        cfs_journal_close(j);
        /* and they still give the head, without the snapshot */
        j = jopen(dir, 0, 1);
        fs = cfs_fs_new(NULL);
        cr_assert_eq(cfs_journal_replay(j, fs, 0), 0, "%s", cfs_journal_errmsg(j));
        cr_assert(eq(cfs_fs_hash(fs), head));
        cfs_fs_free(fs);
        cfs_journal_close(j);
        cfs_test_rmtree(dir);
        free(dir);
    }
}

Test(snapshot, compaction_keeps_every_kept_seq_exactly, .timeout = 300)
{
    uint64_t seed = cfs_test_env_u64("CFS_TEST_SEED", 31);
    printf("compaction seed %" PRIu64 "\n", seed);
    char *dir = tmpdir();
    cfs_journal *j = jopen(dir, 1, 0);
    cfs_time clock = 0;
    cfs_config cfg = {.clock = cfs_workload_clock, .clock_ctx = &clock,
                      .sink = cfs_journal_sink(j)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    cfs_rng r;
    cfs_rng_seed(&r, seed);
    enum { EVENTS = 3000 };
    cfs_hash128 *at = calloc(EVENTS + 100, sizeof(*at));
    uint8_t *have = calloc(EVENTS + 100, 1);
    unsigned nsnap = 0;
    while (cfs_fs_seq(fs) < EVENTS) {
        cfs_workload_step(fs, &r, 150000);
        at[cfs_fs_seq(fs)] = cfs_fs_hash(fs);
        have[cfs_fs_seq(fs)] = 1;
        if (cfs_fs_seq(fs) % 400 == 0 && have[cfs_fs_seq(fs)] &&
            cfs_journal_snapshot(j, fs, "", "events", clock, NULL) == 0)
            nsnap++;
    }
    cr_assert_geq(nsnap, 4);
    cfs_compact_report rep;
    cr_assert_eq(cfs_journal_compact(j, 2, &rep), 0, "%s", cfs_journal_errmsg(j));
    cr_assert_eq(rep.snapshots_dropped, nsnap - 2);
    cr_assert_gt(rep.events_dropped, 0);
    cr_assert_lt(rep.bytes_after, rep.bytes_before, "compaction freed nothing: %" PRIu64
                 " -> %" PRIu64, rep.bytes_before, rep.bytes_after);
    printf("compaction: %" PRIu64 " -> %" PRIu64 " bytes, %" PRIu64 " events, %u chunks "
           "dropped; first seq %" PRIu64 "\n", rep.bytes_before, rep.bytes_after,
           rep.events_dropped, rep.chunks_dropped, rep.first_seq);
    /* the writer goes on after compacting */
    cfs_workload_run(fs, &r, 300, 150000);
    uint64_t last = cfs_fs_seq(fs);
    cfs_hash128 live = cfs_fs_hash(fs);
    cr_assert_eq(cfs_journal_close(j), 0);
    cfs_fs_free(fs);

    j = jopen(dir, 0, 1);
    cr_assert_eq(cfs_journal_verify(j), 0, "%s", cfs_journal_errmsg(j));
    for (int k = 0; k < 60; k++) {
        uint64_t s = rep.first_seq + cfs_rng_below(&r, EVENTS - rep.first_seq);
        while (s > rep.first_seq && !have[s])
            s--;
        if (!have[s])
            continue;
        cfs_fs *re;
        cr_assert_eq(cfs_journal_open_at(j, s, NULL, &re), 0, "open at %" PRIu64 ": %s", s,
                     cfs_journal_errmsg(j));
        cr_assert(eq(cfs_fs_hash(re), at[s]), "after compaction, seq %" PRIu64 " differs", s);
        cfs_fs_free(re);
    }
    cfs_fs *re;
    cr_assert_eq(cfs_journal_open_at(j, last, NULL, &re), 0);
    cr_assert(eq(cfs_fs_hash(re), live));
    cfs_fs_free(re);
    if (rep.first_seq > 2) {
        int rc = cfs_journal_open_at(j, rep.first_seq - 1, NULL, &re);
        cr_assert_eq(rc, CFS_JE_NOTFOUND, "a compacted seq: %s", cfs_strerror(rc));
        cr_assert(strstr(cfs_journal_errmsg(j), "compacted"), "%s", cfs_journal_errmsg(j));
    }
    cfs_journal_close(j);
    free(at);
    free(have);
    rmtree(dir);
}

Test(snapshot, compaction_sweeps_the_chunks_only_dropped_snapshots_used)
{
    char *dir = tmpdir();
    cfs_journal *j = jopen(dir, 1, 0);
    cfs_config cfg = {.sink = cfs_journal_sink(j)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    static uint8_t buf[4 * CFS_BLOCK_SIZE];
    cfs_rng r;
    cfs_rng_seed(&r, 8);
    cfs_fd fd;
    size_t n;
    cr_assert_eq(cfs_path_open(fs, CFS_ROOT_FD, 0, "a", CFS_O_CREAT, CFS_RIGHTS_ALL, 0, 0, &fd),
                 0);
    cfs_rng_bytes(&r, buf, sizeof(buf));
    cr_assert_eq(cfs_fd_pwrite(fs, fd, buf, sizeof(buf), 0, &n), 0);
    cr_assert_eq(cfs_journal_snapshot(j, fs, "one", NULL, 1, NULL), 0);
    cfs_rng_bytes(&r, buf, sizeof(buf));
    cr_assert_eq(cfs_fd_pwrite(fs, fd, buf, sizeof(buf), 0, &n), 0);
    cfs_snapshot_info two;
    cr_assert_eq(cfs_journal_snapshot(j, fs, "two", NULL, 2, &two), 0);
    cfs_compact_report rep;
    cr_assert_eq(cfs_journal_compact(j, 1, &rep), 0, "%s", cfs_journal_errmsg(j));
    cr_assert_eq(rep.snapshots_dropped, 1);
    cr_assert_eq(rep.chunks_dropped, 4, "snapshot one's 4 blocks, used by nothing kept");
    cfs_snapshot_info f;
    cr_assert_eq(cfs_journal_find_snapshot(j, "one", &f), CFS_JE_NOTFOUND);
    cfs_fs *re;
    cr_assert_eq(cfs_journal_open_at(j, two.seq, NULL, &re), 0, "%s", cfs_journal_errmsg(j));
    cr_assert(eq(cfs_fs_hash(re), two.state_hash));
    cfs_fs_free(re);
    cr_assert_eq(cfs_journal_compact(j, 0, NULL), CFS_JE_INVAL);
    cfs_journal_close(j);
    cfs_fs_free(fs);
    rmtree(dir);
}

/* ---- compaction compresses the frames stored raw ------------------------ */

/* The frames of a closed journal by codec (header byte 6: 0 raw, 1 zstd);
 * `shrinkable` counts the raw ones that zstd at `level` makes smaller. */
struct frame_codecs {
    int level;
    unsigned raw, zstd, shrinkable;
};

static void count_frame(void *ctx, uint64_t seq, const uint8_t *f, size_t vlen, bool big)
{
    struct frame_codecs *c = ctx;
    (void)seq;
    (void)big;
    cr_assert_geq(vlen, CFS_FRAME_HEADER_SIZE);
    if (f[6] == 1) {
        c->zstd++;
        return;
    }
    cr_assert_eq(f[6], 0, "codec %u", f[6]);
    c->raw++;
    size_t raw_len = vlen - CFS_FRAME_HEADER_SIZE;
    size_t cap = ZSTD_compressBound(raw_len);
    void *out = malloc(cap);
    cr_assert_not_null(out);
    size_t n = ZSTD_compress(out, cap, f + CFS_FRAME_HEADER_SIZE, raw_len, c->level);
    cr_assert(!ZSTD_isError(n), "%s", ZSTD_getErrorName(n));
    c->shrinkable += n < raw_len;
    free(out);
}

static struct frame_codecs frame_codecs(const char *dir, int level)
{
    struct frame_codecs c = {.level = level};
    cfs_test_journal_frames(dir, count_frame, &c);
    return c;
}

/* A journal compressing at `level`. zstd's fastest level (ZSTD_minCLevel)
 * skips so much of its input that it finds next to nothing to shrink: the
 * writer then stores frames raw (codec 0) exactly as compress_adapt does
 * while zstd cannot keep up, but deterministically. */
static cfs_journal *jopen_level(const char *dir, int create, int level, uint32_t batch_events)
{
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = create;
    o.zstd_level = level;
    if (batch_events)
        o.batch_events = batch_events;
    cfs_journal *j;
    char err[256];
    int rc = cfs_journal_open(dir, &o, &j, err, sizeof(err));
    cr_assert_eq(rc, 0, "open %s: %s", dir, err);
    return j;
}

/* Write `len` bytes of English-like text (different for each seed) to
 * file `name`: what zstd shrinks at its usual levels. */
static void write_text(cfs_fs *fs, const char *name, size_t len, uint64_t seed)
{
    char *buf = malloc(len);
    cr_assert_not_null(buf);
    cfs_test_fill_text(buf, len, seed);
    cfs_fd fd;
    cr_assert_eq(cfs_path_open(fs, CFS_ROOT_FD, 0, name, CFS_O_CREAT, CFS_RIGHTS_ALL,
                               CFS_RIGHTS_ALL, 0, &fd), 0);
    size_t n;
    cr_assert_eq(cfs_fd_write(fs, fd, buf, len, &n), 0);
    cr_assert_eq(n, len);
    cr_assert_eq(cfs_fd_close(fs, fd), 0);
    free(buf);
}

static uint64_t db_bytes(cfs_journal *j)
{
    cfs_journal_stats st;
    cr_assert_eq(cfs_journal_stat(j, &st), 0, "%s", cfs_journal_errmsg(j));
    return st.events_db_bytes + st.snapshots_db_bytes + st.chunks_db_bytes;
}

Test(snapshot, compaction_compresses_the_frames_stored_raw, .timeout = 300)
{
    uint64_t seed = cfs_test_env_u64("CFS_TEST_SEED", 41);
    printf("recompression seed %" PRIu64 "\n", seed);
    char *dir = tmpdir();
    cfs_journal *j = jopen_level(dir, 1, ZSTD_minCLevel(), 100);
    cfs_time clock = 0;
    cfs_config cfg = {.clock = cfs_workload_clock, .clock_ctx = &clock,
                      .sink = cfs_journal_sink(j)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    cfs_rng r;
    cfs_rng_seed(&r, seed);
    enum { EVENTS = 3000 };
    cfs_hash128 *at = calloc(EVENTS + 100, sizeof(*at));
    uint8_t *have = calloc(EVENTS + 100, 1);
    uint64_t snaps[16];
    unsigned nsnap = 0;
    while (cfs_fs_seq(fs) < EVENTS) {
        cfs_workload_step(fs, &r, 150000);
        if (cfs_rng_chance(&r, 2)) {
            char name[32];
            snprintf(name, sizeof(name), "text%" PRIu64, cfs_fs_seq(fs));
            write_text(fs, name, 1000 + cfs_rng_below(&r, 200000), cfs_rng_next(&r));
        }
        if (cfs_fs_seq(fs) >= EVENTS + 100)
            break;
        at[cfs_fs_seq(fs)] = cfs_fs_hash(fs);
        have[cfs_fs_seq(fs)] = 1;
        if (cfs_fs_seq(fs) / 400 > nsnap && nsnap < 16 &&
            cfs_journal_snapshot(j, fs, "", "events", clock, NULL) == 0)
            snaps[nsnap++] = cfs_fs_seq(fs);
    }
    cr_assert_geq(nsnap, 4);
    cr_assert_eq(cfs_journal_close(j), 0);
    cfs_fs_free(fs);
    struct frame_codecs before = frame_codecs(dir, 1);
    printf("before: %u raw frames, %u of them shrinkable, %u zstd\n", before.raw,
           before.shrinkable, before.zstd);
    cr_assert_gt(before.shrinkable, 10, "%u raw frames, %u of them shrinkable, %u zstd",
                 before.raw, before.shrinkable, before.zstd);

    /* the writer again, at zstd's default level 1 */
    j = jopen_level(dir, 0, 1, 100);
    cfg.sink = cfs_journal_sink(j);
    cr_assert_eq(cfs_journal_open_at(j, 0, &cfg, &fs), 0, "%s", cfs_journal_errmsg(j));
    cfs_compact_report rep;
    cr_assert_eq(cfs_journal_compact(j, 2, &rep), 0, "%s", cfs_journal_errmsg(j));
    printf("recompression: %" PRIu64 " -> %" PRIu64 " bytes; %" PRIu64 " frames "
           "recompressed, %" PRIu64 " -> %" PRIu64 " bytes\n", rep.bytes_before,
           rep.bytes_after, rep.frames_recompressed, rep.recompressed_from,
           rep.recompressed_to);
    cr_assert_eq(rep.snapshots_dropped, nsnap - 2);
    cr_assert_eq(rep.first_seq, snaps[nsnap - 2]);
    cr_assert_gt(rep.frames_recompressed, 0);
    cr_assert_lt(rep.recompressed_to, rep.recompressed_from);
    cr_assert_lt(rep.bytes_after, rep.bytes_before);
    cr_assert_eq(rep.bytes_after, db_bytes(j), "bytes_after is not what the journal holds");

    /* compacting again finds nothing left to compress */
    cfs_compact_report again;
    cr_assert_eq(cfs_journal_compact(j, 2, &again), 0, "%s", cfs_journal_errmsg(j));
    cr_assert_eq(again.frames_recompressed, 0);
    cr_assert_eq(again.recompressed_from, 0);

    /* the writer goes on after compacting */
    cfs_workload_run(fs, &r, 300, 150000);
    write_text(fs, "after", 100000, 7);
    uint64_t last = cfs_fs_seq(fs);
    cfs_hash128 live = cfs_fs_hash(fs);
    cr_assert_eq(cfs_journal_close(j), 0);
    cfs_fs_free(fs);

    struct frame_codecs after = frame_codecs(dir, 1);
    cr_assert_eq(after.shrinkable, 0, "%u raw frames zstd shrinks are left", after.shrinkable);
    cr_assert_gt(after.zstd, 0);

    j = jopen(dir, 0, 1);
    cr_assert_eq(cfs_journal_verify(j), 0, "%s", cfs_journal_errmsg(j));
    cr_assert_eq(cfs_journal_verify_chunks(j, NULL), 0, "%s", cfs_journal_errmsg(j));
    /* every seq from the oldest kept snapshot on that a call ended at */
    unsigned checked = 0;
    for (uint64_t s = rep.first_seq; s < EVENTS + 100; s++) {
        if (!have[s])
            continue;
        checked++;
        cfs_fs *re;
        cr_assert_eq(cfs_journal_open_at(j, s, NULL, &re), 0, "open at %" PRIu64 ": %s", s,
                     cfs_journal_errmsg(j));
        cr_assert(eq(cfs_fs_hash(re), at[s]), "after recompression, seq %" PRIu64 " differs",
                  s);
        cfs_fs_free(re);
    }
    cr_assert_gt(checked, 100, "%u seqs checked", checked);
    cfs_fs *re;
    cr_assert_eq(cfs_journal_open_at(j, last, NULL, &re), 0);
    cr_assert(eq(cfs_fs_hash(re), live));
    cfs_fs_free(re);
    cfs_journal_close(j);
    free(at);
    free(have);
    rmtree(dir);
}

Test(snapshot, compaction_compresses_more_raw_frames_than_one_transaction_holds,
     .timeout = 300)
{
    char *dir = tmpdir();
    cfs_journal *j = jopen_level(dir, 1, ZSTD_minCLevel(), 0);
    cfs_config cfg = {.sink = cfs_journal_sink(j)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    /* 80 MiB in 1 MiB writes, a frame each: more than the 64 MiB a
     * recompressing transaction takes, and past the initial 64 MiB map */
    enum { MIB = 80 };
    for (int i = 0; i < MIB; i++) {
        char name[32];
        snprintf(name, sizeof(name), "t%d", i);
        write_text(fs, name, (size_t)1 << 20, 1000 + (uint64_t)i);
    }
    cfs_hash128 live = cfs_fs_hash(fs);
    uint64_t last = cfs_fs_seq(fs);
    cr_assert_eq(cfs_journal_close(j), 0);
    cfs_fs_free(fs);
    struct frame_codecs before = frame_codecs(dir, 1);
    cr_assert_geq(before.shrinkable, MIB, "%u raw, %u shrinkable", before.raw,
                  before.shrinkable);

    j = jopen_level(dir, 0, 1, 0);
    cfs_compact_report rep;
    cr_assert_eq(cfs_journal_compact(j, 1, &rep), 0, "%s", cfs_journal_errmsg(j));
    printf("recompression: %" PRIu64 " -> %" PRIu64 " bytes; %" PRIu64 " frames "
           "recompressed, %" PRIu64 " -> %" PRIu64 " bytes\n", rep.bytes_before,
           rep.bytes_after, rep.frames_recompressed, rep.recompressed_from,
           rep.recompressed_to);
    cr_assert_eq(rep.frames_recompressed, before.shrinkable);
    cr_assert_gt(rep.recompressed_from, (uint64_t)MIB << 20);
    cr_assert_lt(rep.recompressed_to, rep.recompressed_from / 2);
    cr_assert_lt(rep.bytes_after, rep.bytes_before / 2);
    cr_assert_eq(rep.bytes_after, db_bytes(j));
    cr_assert_eq(rep.first_seq, 1);
    cr_assert_eq(rep.events_dropped, 0);
    cr_assert_eq(cfs_journal_verify(j), 0, "%s", cfs_journal_errmsg(j));
    cfs_fs *re;
    cr_assert_eq(cfs_journal_open_at(j, last, NULL, &re), 0, "%s", cfs_journal_errmsg(j));
    cr_assert(eq(cfs_fs_hash(re), live));
    cfs_fs_free(re);
    cr_assert_eq(cfs_journal_close(j), 0);
    cr_assert_eq(frame_codecs(dir, 1).shrinkable, 0);
    rmtree(dir);
}

/* Run the workload on fs until it reaches seq `until`, noting the live
 * state hash at every seq a call ends on. */
static void run_to(cfs_fs *fs, cfs_rng *r, uint64_t until, cfs_hash128 *at)
{
    while (cfs_fs_seq(fs) < until) {
        cfs_workload_step(fs, r, 5000);
        at[cfs_fs_seq(fs)] = cfs_fs_hash(fs);
    }
}

/* Every snapshot the triggers took, checked against the live state. */
struct trig_check {
    cfs_hash128 *at;
    unsigned n;
    char triggers[256];
};

static int check_trig(void *ctx, const cfs_snapshot_info *s)
{
    struct trig_check *c = ctx;
    cr_assert(eq(s->state_hash, c->at[s->seq]), "snapshot at seq %" PRIu64 " (%s) is not the "
              "state at that seq", s->seq, s->trigger);
    c->n++;
    if (strlen(c->triggers) + strlen(s->trigger) + 2 < sizeof(c->triggers)) {
        strcat(c->triggers, s->trigger);
        strcat(c->triggers, " ");
    }
    return 0;
}

Test(snapshot, triggers_take_snapshots_of_the_attached_engine)
{
    char *dir = tmpdir();
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = 1;
    o.snapshot_every_events = 250;
    o.snapshot_interval_ns = 1000000000; /* 1 s */
    o.snapshot_idle_ns = 200000000;      /* 0.2 s */
    o.snapshot_on_exit = 1;
    cfs_journal *j;
    char err[256];
    cr_assert_eq(cfs_journal_open(dir, &o, &j, err, sizeof(err)), 0, "%s", err);
    cfs_config cfg = {.sink = cfs_journal_sink(j)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    cfs_journal_attach(j, fs);
    cfs_hash128 *at = calloc(4000, sizeof(*at));
    cfs_rng r;
    cfs_rng_seed(&r, 41);
    /* every 250 events */
    run_to(fs, &r, 1000, at);
    /* interval: the first tick starts the clock, one 1 s later fires */
    cr_assert_eq(cfs_journal_tick(j, UINT64_C(10000000000)), 0);
    run_to(fs, &r, 1010, at);
    cr_assert_eq(cfs_journal_tick(j, UINT64_C(11000000001)), 0);
    /* idle: events, then ticks 0.2 s apart with none in between */
    run_to(fs, &r, 1020, at);
    cr_assert_eq(cfs_journal_tick(j, UINT64_C(11100000000)), 0);
    cr_assert_eq(cfs_journal_tick(j, UINT64_C(11300000001)), 0);
    /* a request (SIGUSR1 in the tools) fires at the next append; (a
     * state already snapshotted is not snapshotted twice: move on first) */
    run_to(fs, &r, 1024, at);
    cfs_journal_request_snapshot(j);
    run_to(fs, &r, cfs_fs_seq(fs) + 1, at);
    run_to(fs, &r, 1034, at);
    uint64_t last = cfs_fs_seq(fs);
    /* exit: on close */
    cr_assert_eq(cfs_journal_close(j), 0);
    cfs_fs_free(fs);

    j = jopen(dir, 0, 1);
    struct trig_check c = {at, 0, ""};
    cr_assert_eq(cfs_journal_snapshots(j, check_trig, &c), 0, "%s", cfs_journal_errmsg(j));
    printf("triggers fired: %s\n", c.triggers);
    cr_assert(strstr(c.triggers, "events events events"), "%s", c.triggers);
    cr_assert(strstr(c.triggers, "interval"), "%s", c.triggers);
    cr_assert(strstr(c.triggers, "idle"), "%s", c.triggers);
    cr_assert(strstr(c.triggers, "sigusr1"), "%s", c.triggers);
    cfs_snapshot_info f;
    cr_assert_eq(cfs_journal_find_snapshot(j, "", &f), 0);
    cr_assert_str_eq(f.trigger, "exit");
    cr_assert_eq(f.seq, last, "the exit snapshot is the final state");
    cfs_journal_close(j);
    free(at);
    rmtree(dir);
}

static int count_bytes_trig(void *ctx, const cfs_snapshot_info *s)
{
    if (strcmp(s->trigger, "bytes") == 0)
        ++*(unsigned *)ctx;
    return 0;
}

Test(snapshot, the_bytes_trigger_follows_what_was_journaled)
{
    char *dir = tmpdir();
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = 1;
    o.snapshot_every_bytes = 1 << 20;
    cfs_journal *j;
    cr_assert_eq(cfs_journal_open(dir, &o, &j, NULL, 0), 0);
    cfs_config cfg = {.sink = cfs_journal_sink(j)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    cfs_journal_attach(j, fs);
    cfs_fd fd;
    size_t n;
    cr_assert_eq(cfs_path_open(fs, CFS_ROOT_FD, 0, "f", CFS_O_CREAT, CFS_RIGHTS_ALL, 0, 0, &fd),
                 0);
    static uint8_t buf[100000];
    memset(buf, 'b', sizeof(buf));
    for (int i = 0; i < 52; i++) /* 5.2 MB of write events */
        cr_assert_eq(cfs_fd_write(fs, fd, buf, sizeof(buf), &n), 0);
    cfs_journal_attach(j, NULL);
    cfs_journal_close(j);
    cfs_fs_free(fs);
    j = jopen(dir, 0, 1);
    unsigned bytes = 0;
    cr_assert_eq(cfs_journal_snapshots(j, count_bytes_trig, &bytes), 0);
    /* 52 x ~100 KB = 4.96 MiB: a snapshot after each whole MiB */
    cr_assert_eq(bytes, 4, "one snapshot per MiB journaled: %u", bytes);
    cfs_journal_close(j);
    rmtree(dir);
}

Test(snapshot, a_fork_resumes_from_a_past_state_and_leaves_the_original_alone)
{
    char *dir = tmpdir();
    cfs_journal *j = jopen(dir, 1, 0);
    cfs_config cfg = {.sink = cfs_journal_sink(j)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    cfs_rng r;
    cfs_rng_seed(&r, 61);
    cfs_workload_run(fs, &r, 400, 100000);
    uint64_t mid = cfs_fs_seq(fs);
    cfs_hash128 at_mid = cfs_fs_hash(fs);
    cfs_workload_run(fs, &r, 400, 100000);
    uint64_t end = cfs_fs_seq(fs);
    cfs_hash128 at_end = cfs_fs_hash(fs);
    cfs_journal_close(j);
    cfs_fs_free(fs);

    /* fork at mid, from a reader of the original */
    j = jopen(dir, 0, 1);
    char fdir[4200];
    snprintf(fdir, sizeof(fdir), "%s-fork", dir);
    cfs_journal *fj;
    cfs_fs *ffs;
    int rc = cfs_journal_fork(j, mid, fdir, NULL, &fj, &ffs);
    cr_assert_eq(rc, 0, "fork: %s", cfs_journal_errmsg(j));
    cr_assert_eq(cfs_fs_seq(ffs), mid);
    cr_assert(eq(cfs_fs_hash(ffs), at_mid));
    cr_assert_eq(cfs_journal_committed(fj), mid);
    /* the fork goes its own way */
    cfs_sink s = cfs_journal_sink(fj);
    cfs_fs_set_sink(ffs, &s);
    cfs_rng r2;
    cfs_rng_seed(&r2, 62);
    cfs_workload_run(ffs, &r2, 300, 100000);
    uint64_t fend = cfs_fs_seq(ffs);
    cfs_hash128 fork_end = cfs_fs_hash(ffs);
    cr_assert_eq(cfs_journal_close(fj), 0);
    cfs_fs_free(ffs);

    /* the original is untouched */
    cfs_fs *re;
    cr_assert_eq(cfs_journal_open_at(j, 0, NULL, &re), 0);
    cr_assert_eq(cfs_fs_seq(re), end);
    cr_assert(eq(cfs_fs_hash(re), at_end));
    cfs_fs_free(re);
    cfs_journal_close(j);
    /* and the fork stands alone: reopened, it rebuilds its own history */
    fj = jopen(fdir, 0, 1);
    cr_assert_eq(cfs_journal_verify(fj), 0, "%s", cfs_journal_errmsg(fj));
    cr_assert_eq(cfs_journal_open_at(fj, 0, NULL, &re), 0, "%s", cfs_journal_errmsg(fj));
    cr_assert_eq(cfs_fs_seq(re), fend);
    cr_assert(eq(cfs_fs_hash(re), fork_end));
    cfs_fs_free(re);
    cr_assert_eq(cfs_journal_open_at(fj, mid, NULL, &re), 0);
    cr_assert(eq(cfs_fs_hash(re), at_mid));
    cfs_fs_free(re);
    cr_assert_eq(cfs_journal_open_at(fj, mid - 1, NULL, &re), CFS_JE_NOTFOUND,
                 "before the fork's base there is nothing");
    cfs_journal_close(fj);
    rmtree(strdup(fdir));
    rmtree(dir);
}

Test(snapshot, an_opened_state_loads_file_data_on_first_use)
{
    char *dir = tmpdir();
    cfs_journal *j = jopen(dir, 1, 0);
    cfs_config cfg = {.sink = cfs_journal_sink(j)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    cfs_rng r;
    cfs_rng_seed(&r, 4242);
    cfs_workload_run(fs, &r, 400, 200000);
    cr_assert_eq(cfs_journal_snapshot(j, fs, "a", NULL, 0, NULL), 0);
    int eio;
    uint64_t want = read_all(fs, &eio);
    /* opened lazily: the same bytes, read through the journal's chunks */
    cfs_fs *re;
    cr_assert_eq(cfs_journal_open_at(j, 0, NULL, &re), 0, "%s", cfs_journal_errmsg(j));
    cfs_fs *early;
    cr_assert_eq(cfs_journal_open_at(j, 0, NULL, &early), 0);
    cr_assert_eq(read_all(re, &eio), want);
    cr_assert_eq(eio, 0);
    /* an opened state goes on and is snapshotted again into its journal
     * without loading what it did not touch: the hashes agree */
    cfs_journal_close(j);
    cfs_fs_free(fs);
    j = jopen(dir, 0, 0);
    cfs_fs *again;
    cr_assert_eq(cfs_journal_open_at(j, 0, NULL, &again), 0);
    cfs_sink sink = cfs_journal_sink(j);
    cfs_fs_set_sink(again, &sink);
    cfs_workload_run(again, &r, 200, 200000);
    cfs_snapshot_info si;
    cr_assert_eq(cfs_journal_snapshot(j, again, "b", NULL, 0, &si), 0, "%s",
                 cfs_journal_errmsg(j));
    cfs_hash128 h = cfs_fs_hash(again);
    cr_assert(si.state_hash.lo == h.lo && si.state_hash.hi == h.hi);
    cfs_fs *check;
    cr_assert_eq(cfs_journal_open_at(j, si.seq, NULL, &check), 0);
    cr_assert_eq(read_all(check, &eio), read_all(again, &eio));
    cfs_fs_free(check);
    cfs_fs_free(again);
    /* the first journal handle is gone: what `early` never loaded is EIO
     * with a message, never a read of a closed environment */
    cfs_journal_close(j);
    read_all(early, &eio);
    cr_assert_gt(eio, 0);
    cfs_fs_free(early);
    cfs_fs_free(re);
    rmtree(dir);
}

/* FIFOs, sockets and devices through a journal: MKNOD events (type and
 * device number) and snapshot images (the device number) both bring them
 * back, in a state opened lazily from a reopened journal. */
Test(snapshot, special_inodes_survive_events_snapshots_and_reopening)
{
    char *dir = tmpdir();
    cfs_journal *j = jopen(dir, 1, 0);
    cfs_config cfg = {.sink = cfs_journal_sink(j)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    cr_assert_eq(cfs_path_mknod(fs, CFS_ROOT_FD, "fifo", CFS_S_IFIFO | 0640), 0);
    cr_assert_eq(cfs_path_mknod(fs, CFS_ROOT_FD, "sock", CFS_S_IFSOCK | 0600), 0);
    cr_assert_eq(cfs_path_mknod_dev(fs, CFS_ROOT_FD, "null", CFS_S_IFCHR | 0666, 0x103), 0);
    cfs_snapshot_info si;
    cr_assert_eq(cfs_journal_snapshot(j, fs, "a", NULL, 0, &si), 0, "%s",
                 cfs_journal_errmsg(j));
    cfs_hash128 at_snap = cfs_fs_hash(fs);
    /* after the snapshot: events only */
    cr_assert_eq(cfs_path_mknod_dev(fs, CFS_ROOT_FD, "sda", CFS_S_IFBLK | 0660,
                                    UINT64_C(0x0000123400000801)), 0);
    cr_assert_eq(cfs_path_rename(fs, CFS_ROOT_FD, "null", CFS_ROOT_FD, "null2"), 0);
    cr_assert_eq(cfs_path_link(fs, CFS_ROOT_FD, 0, "fifo", CFS_ROOT_FD, "fifo2"), 0);
    cr_assert_eq(cfs_path_chmod(fs, CFS_ROOT_FD, 0, "sock", 0755), 0);
    cfs_hash128 head = cfs_fs_hash(fs);
    cfs_filestat want;
    cr_assert_eq(cfs_path_filestat_get(fs, CFS_ROOT_FD, 0, "sda", &want), 0);
    cr_assert_eq(cfs_journal_sync(j), 0, "%s", cfs_journal_errmsg(j));
    cfs_journal_close(j);
    cfs_fs_free(fs);

    j = jopen(dir, 0, 1);
    cfs_fs *snap, *now;
    cr_assert_eq(cfs_journal_open_at(j, si.seq, NULL, &snap), 0, "%s", cfs_journal_errmsg(j));
    cr_assert(eq(cfs_fs_hash(snap), at_snap), "the snapshot's state");
    cfs_filestat st;
    cr_assert_eq(cfs_path_filestat_get(snap, CFS_ROOT_FD, 0, "null", &st), 0);
    cr_assert_eq(st.mode, CFS_S_IFCHR | 0666);
    cr_assert_eq(st.rdev, 0x103);
    cr_assert_eq(cfs_journal_open_at(j, 0, NULL, &now), 0, "%s", cfs_journal_errmsg(j));
    cr_assert(eq(cfs_fs_hash(now), head), "the head: snapshot + events");
    cr_assert_eq(cfs_path_filestat_get(now, CFS_ROOT_FD, 0, "sda", &st), 0);
    cr_assert_eq(memcmp(&st, &want, sizeof st), 0);
    cr_assert_eq(cfs_path_filestat_get(now, CFS_ROOT_FD, 0, "fifo2", &st), 0);
    cr_assert_eq(st.filetype, CFS_FILETYPE_FIFO);
    cr_assert_eq(st.nlink, 2);
    cfs_fs_free(snap);
    cfs_fs_free(now);
    cfs_journal_close(j);
    rmtree(dir);
}

Test(snapshot, a_second_snapshot_at_one_seq_is_refused_and_harmless)
{
    char *dir = tmpdir();
    cfs_journal *j = jopen(dir, 1, 0);
    cfs_config cfg = {.sink = cfs_journal_sink(j)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    cfs_rng r;
    cfs_rng_seed(&r, 99);
    cfs_workload_run(fs, &r, 50, 10000);
    cr_assert_eq(cfs_journal_snapshot(j, fs, "one", NULL, 0, NULL), 0);
    cr_assert_eq(cfs_journal_snapshot(j, fs, "two", NULL, 0, NULL), CFS_JE_INVAL);
    cfs_journal_close(j);
    /* after reopening too, where only the stored record says so */
    j = jopen(dir, 0, 0);
    cfs_fs_free(fs);
    cr_assert_eq(cfs_journal_open_at(j, 0, NULL, &fs), 0);
    cfs_sink sink = cfs_journal_sink(j);
    cfs_fs_set_sink(fs, &sink);
    cr_assert_eq(cfs_journal_snapshot(j, fs, "three", NULL, 0, NULL), CFS_JE_INVAL);
    cr_assert(strstr(cfs_journal_errmsg(j), "already has one"), "%s", cfs_journal_errmsg(j));
    /* the journal goes on: not a sticky failure */
    cfs_workload_run(fs, &r, 20, 10000);
    cr_assert_eq(cfs_journal_snapshot(j, fs, "four", NULL, 0, NULL), 0, "%s",
                 cfs_journal_errmsg(j));
    cr_assert_eq(cfs_journal_close(j), 0);
    cfs_fs_free(fs);
    rmtree(dir);
}

Test(snapshot, a_record_of_an_older_version_is_refused_not_trusted)
{
    /* version 1 records hashed the state another way: the hash in such a
     * record cannot be checked, so the snapshot is refused by version,
     * never reported as damage nor loaded unchecked */
    char *dir = tmpdir();
    cfs_journal *j = jopen(dir, 1, 0);
    cfs_config cfg = {.sink = cfs_journal_sink(j)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    cfs_rng r;
    cfs_rng_seed(&r, 7);
    cfs_workload_run(fs, &r, 100, 10000);
    cfs_snapshot_info info;
    cr_assert_eq(cfs_journal_snapshot(j, fs, "s", NULL, 0, &info), 0);
    cfs_journal_close(j);
    cfs_fs_free(fs);
    cfs_test_lmdb_flip(dir, "snapshots", NULL, 0, 4, 0x03); /* version 2 -> 1 */
    j = jopen(dir, 0, 1);
    cfs_fs *re;
    cr_assert_eq(cfs_journal_open_at(j, info.seq, NULL, &re), CFS_JE_VERSION);
    cr_assert(strstr(cfs_journal_errmsg(j), "format version 1"), "%s", cfs_journal_errmsg(j));
    cfs_journal_close(j);
    rmtree(dir);
}

/* ---- the map grows while other threads read ------------------------------------ */

enum { RACE_FILES = 32, RACE_ENGINES = 24 };

struct race_reader {
    cfs_fs *engines[RACE_ENGINES]; /* opened lazily at the snapshot */
    uint8_t (*want)[CFS_BLOCK_SIZE];
    int bad;
    int done; /* atomic */
};

/* Read every file of every engine: each first read loads its block from
 * the journal (a read transaction on this thread) while the writer grows
 * the map. */
static void *race_read(void *arg)
{
    struct race_reader *r = arg;
    static uint8_t buf[CFS_BLOCK_SIZE];
    for (int e = 0; e < RACE_ENGINES; e++) {
        for (int f = 0; f < RACE_FILES; f++) {
            char name[32];
            snprintf(name, sizeof(name), "f%d", f);
            cfs_fd fd;
            size_t n = 0;
            if (cfs_path_open(r->engines[e], CFS_ROOT_FD, 0, name, 0, CFS_RIGHTS_ALL, 0, 0,
                              &fd) ||
                cfs_fd_read(r->engines[e], fd, buf, sizeof(buf), &n) || n != sizeof(buf) ||
                memcmp(buf, r->want[f], sizeof(buf)))
                r->bad++;
            cfs_fd_close(r->engines[e], fd);
        }
    }
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

Test(snapshot, reads_on_other_threads_while_the_map_grows, .timeout = 300)
{
    char *dir = tmpdir();
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = 1;
    o.durability = CFS_DURABILITY_NONE;
    cfs_journal *j;
    char err[256];
    cr_assert_eq(cfs_journal_open(dir, &o, &j, err, sizeof(err)), 0, "%s", err);
    cfs_config cfg = {.sink = cfs_journal_sink(j)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    struct race_reader r = {.want = malloc(RACE_FILES * sizeof(*r.want))};
    cfs_rng rng;
    cfs_rng_seed(&rng, 77);
    for (int f = 0; f < RACE_FILES; f++) {
        char name[32];
        snprintf(name, sizeof(name), "f%d", f);
        cfs_rng_bytes(&rng, r.want[f], CFS_BLOCK_SIZE);
        cfs_fd fd;
        size_t n;
        cr_assert_eq(cfs_path_open(fs, CFS_ROOT_FD, 0, name, CFS_O_CREAT, CFS_RIGHTS_ALL, 0,
                                   0, &fd), 0);
        cr_assert_eq(cfs_fd_write(fs, fd, r.want[f], CFS_BLOCK_SIZE, &n), 0);
        cr_assert_eq(cfs_fd_close(fs, fd), 0);
    }
    cfs_snapshot_info snap;
    cr_assert_eq(cfs_journal_snapshot(j, fs, "base", "explicit", 0, &snap), 0, "%s",
                 cfs_journal_errmsg(j));
    for (int e = 0; e < RACE_ENGINES; e++)
        cr_assert_eq(cfs_journal_open_at(j, snap.seq, NULL, &r.engines[e]), 0, "%s",
                     cfs_journal_errmsg(j));

    /* 320 MiB of random data: the map, 64 MiB at first, grows several
     * times while the reader loads blocks */
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, race_read, &r), 0);
    static uint8_t big[1 << 20];
    cfs_fd fd;
    size_t n;
    cr_assert_eq(cfs_path_open(fs, CFS_ROOT_FD, 0, "big", CFS_O_CREAT, CFS_RIGHTS_ALL, 0, 0,
                               &fd), 0);
    for (int i = 0; i < 320; i++) {
        cfs_rng_bytes(&rng, big, sizeof(big));
        cr_assert_eq(cfs_fd_write(fs, fd, big, sizeof(big), &n), 0, "write %d", i);
        /* and snapshots built on the snapshot thread, in a read
         * transaction of its own, while the commit thread grows the map */
        if (i % 16 == 8)
            cr_assert_eq(cfs_journal_snapshot_begin(j, fs, "", "explicit", 0), 0, "%s",
                         cfs_journal_errmsg(j));
    }
    cr_assert_eq(cfs_journal_snapshot_wait(j, NULL), 0, "%s", cfs_journal_errmsg(j));
    cr_assert_eq(cfs_fd_close(fs, fd), 0);
    cr_assert_eq(cfs_journal_sync(j), 0, "%s", cfs_journal_errmsg(j));
    pthread_join(t, NULL);
    cr_assert_eq(r.bad, 0, "%d lazy reads failed or read wrong bytes", r.bad);
    for (int e = 0; e < RACE_ENGINES; e++)
        cfs_fs_free(r.engines[e]);
    cr_assert_eq(cfs_journal_verify(j), 0, "%s", cfs_journal_errmsg(j));
    cr_assert_eq(cfs_journal_close(j), 0);
    cfs_fs_free(fs);
    free(r.want);
    rmtree(dir);
}
