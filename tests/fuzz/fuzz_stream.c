/*
 * fuzz_stream.c — libFuzzer target for the send-stream decoder
 * (cfs_journal_receive, FORMAT.md "Send streams").
 *
 * Each input is received into one journal per process, kept in a temp
 * directory, that holds the fixed history of stream_history.h (events
 * 1..120 and a snapshot at the last), so the seeds make_corpus writes
 * (streams continuing that history) reach past the header. Each input
 * goes through two paths, as in fuzz_frame.c:
 *  1. received as it is;
 *  2. received with every checksum a forger could recompute recomputed
 *     first: each record's, the end record's counts, length and
 *     whole-stream checksum, and the inner checksums of the snapshot
 *     records and frames the records carry (FORMAT.md), so mutations get
 *     past them to what the records say — the snapshot images (the
 *     engine's image decoder) and the event records — as a fuzzer cannot
 *     forge xxh3 by itself. Chunks keep their content hashes.
 * After a refusal the journal must be exactly as it was: the same
 * committed seq, one snapshot, the same state at the head (checked), and
 * the error must have a message. After an acceptance it must verify, and
 * is then rebuilt from scratch for the next input.
 *
 * Built with -fsanitize=fuzzer by CFS_FUZZ=ON (scripts/fuzz.sh); without
 * it, fuzz_main.c drives the same entry point over files (the corpus
 * regression test fuzz_stream_corpus).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxh_x86dispatch.h>

#include "cfs_journal.h"
#include "stream_history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct target {
    char dir[64];
    cfs_journal *j;
    uint64_t head;
    cfs_hash128 hash;
} t;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "fuzz_stream: %s: %s\n", what, msg);
    abort();
}

static void cleanup(void)
{
    cfs_journal_close(t.j);
    t.j = NULL;
    if (t.dir[0])
        cfs_stream_rmtree(t.dir);
}

static void build(void)
{
    if (!t.dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(t.dir, sizeof(t.dir), "%.40s/cfs-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(t.dir))
            die("mkdtemp", t.dir);
        atexit(cleanup);
    } else {
        cfs_journal_close(t.j);
        cfs_stream_rmtree(t.dir);
    }
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = 1;
    o.durability = CFS_DURABILITY_NONE;
    char err[256];
    if (cfs_journal_open(t.dir, &o, &t.j, err, sizeof(err)))
        die("open", err);
    cfs_time clock;
    cfs_fs *fs;
    if (cfs_stream_history(t.j, 1, &clock, &fs))
        die("history", cfs_journal_errmsg(t.j));
    t.head = cfs_fs_seq(fs);
    t.hash = cfs_fs_hash(fs);
    cfs_fs_free(fs);
}

struct in {
    const uint8_t *p;
    size_t len, pos;
};

static int in_read(void *ctx, void *buf, size_t len, size_t *got)
{
    struct in *in = ctx;
    size_t n = in->len - in->pos;
    if (n > len)
        n = len;
    /* short reads now and then, as a pipe gives them */
    if (n > 1 && (in->pos & 7) == 3)
        n = 1 + n / 3;
    memcpy(buf, in->p + in->pos, n);
    in->pos += n;
    *got = n;
    return 0;
}

static int count_snapshot(void *ctx, const cfs_snapshot_info *s)
{
    (void)s;
    ++*(unsigned *)ctx;
    return 0;
}

static void receive(const uint8_t *data, size_t size)
{
    struct in in = {data, size, 0};
    int rc = cfs_journal_receive(t.j, in_read, &in, NULL);
    if (getenv("CFS_FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz_stream: %zu bytes: %s%s%s\n", size, cfs_strerror(rc),
                rc ? ": " : "", rc ? cfs_journal_errmsg(t.j) : "");
    if (rc == 0) {
        /* accepted: what it holds now must be whole */
        if (cfs_journal_verify(t.j))
            die("verify after an accepted stream", cfs_journal_errmsg(t.j));
        cfs_fs *fs;
        if (cfs_journal_open_at(t.j, 0, NULL, &fs) == 0)
            cfs_fs_free(fs);
        build();
        return;
    }
    const char *msg = cfs_journal_errmsg(t.j);
    if (!msg[0] || rc > 0)
        die("a refusal without a message", cfs_strerror(rc));
    /* refused: exactly as it was */
    unsigned n = 0;
    cfs_fs *fs;
    if (cfs_journal_committed(t.j) != t.head)
        die("a refused stream moved the head", msg);
    if (cfs_journal_snapshots(t.j, count_snapshot, &n) || n != 1)
        die("a refused stream changed the snapshots", msg);
    if (cfs_journal_open_at(t.j, 0, NULL, &fs))
        die("after a refused stream, the head does not open", cfs_journal_errmsg(t.j));
    cfs_hash128 h = cfs_fs_hash(fs);
    cfs_fs_free(fs);
    if (h.lo != t.hash.lo || h.hi != t.hash.hi)
        die("a refused stream changed the state", msg);
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A snapshot record's own checksum (FORMAT.md, "Snapshot records"):
 * xxh3-64 of the record with bytes 56..64 zero. */
static void restamp_snapshot(uint8_t *rec, size_t len)
{
    if (len < 72 || memcmp(rec, "CFSS", 4) != 0)
        return;
    memset(rec + 56, 0, 8);
    put_le(rec + 56, XXH3_64bits_dispatch(rec, len), 8);
}

/* A frame's (FORMAT.md, "Frames"): the payload's xxh3-64 seeded with the
 * header's bytes 0..32. */
static void restamp_frame(uint8_t *f, size_t len)
{
    if (len < 40 || memcmp(f, "CFSF", 4) != 0)
        return;
    put_le(f + 32, XXH3_64bits_withSeed_dispatch(f + 40, len - 40, XXH3_64bits_dispatch(f, 32)),
           8);
}

/* Recompute what a forger could: every record's checksum, the end
 * record's counts, length and whole-stream checksum, and the inner
 * checksums of snapshot records and frames. */
static void restamp(uint8_t *p, size_t size)
{
    uint64_t counts[5] = {0}; /* records, chunks, snapshots, frames, events */
    size_t pos = 8;
    for (uint64_t recno = 1; pos + 16 <= size; recno++) {
        uint8_t *r = p + pos;
        uint64_t len = le(r, 4);
        if (len > size - pos - 16)
            return;
        if (r[4] == 3)
            restamp_snapshot(r + 8, len);
        if (r[4] == 4)
            restamp_frame(r + 8, len);
        if (r[4] == 5 && len == 56) {
            put_le(r + 8, counts[0], 8);
            for (int k = 1; k < 5; k++)
                put_le(r + 8 + 8 * k, counts[k], 8);
            put_le(r + 8 + 40, pos, 8);
            put_le(r + 8 + 48, XXH3_64bits_dispatch(p, pos), 8);
        }
        counts[0]++;
        if (r[4] >= 2 && r[4] <= 4)
            counts[r[4] - 1]++;
        if (r[4] == 4 && len >= 20)
            counts[4] += le(r + 8 + 16, 4); /* the frame's event count */
        put_le(r + 8 + len, XXH3_64bits_withSeed_dispatch(r, 8 + len, recno), 8);
        pos += 16 + len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!t.j)
        build();
    receive(data, size);
    if (size >= 8 + 16) {
        uint8_t *copy = malloc(size);
        if (!copy)
            abort();
        memcpy(copy, data, size);
        restamp(copy, size);
        receive(copy, size);
        free(copy);
    }
    return 0;
}
