/*
 * make_corpus.c — write a seed corpus of real frames for fuzz_frame, and
 * of real send streams for fuzz_stream.
 *
 *   make_corpus OUTDIR [SEED [EVENTS [STREAMDIR]]]
 *
 * Runs a seeded random engine workload (tests/common/cfs_test_allops.c)
 * whose sink encodes every event with the journal's codec, cuts the stream
 * into frames of varied sizes (1 event up to a few hundred: the small ones
 * do not shrink under zstd and are stored raw, so both codecs are in the
 * corpus) and writes each frame to OUTDIR/frame-<first seq>.cfsf. Writes
 * stay small (at most 2 KiB) so the fuzzer's inputs stay fast.
 *
 * With STREAMDIR, it also writes streams there (stream-*.cfst), made by
 * cfs_journal_send from journals in temp directories that continue the
 * fixed history of stream_history.h (the one fuzz_stream's receiving
 * journal holds) with a workload seeded by SEED: a full stream, an
 * incremental one from the history's snapshot and one from a later
 * snapshot, a stream from seq 1 of a journal without snapshots, a fork's,
 * and an empty journal's. Small writes again: a stream is a few KiB.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfs_journal.h"
#include "cfs_test_util.h"
#include "cfs_test_allops.h"
#include "frame.h"
#include "cfs_workload.h"
#include "stream_history.h"

struct corpus {
    const char *dir;
    cfs_frame_codec *fc;
    cfs_rng rng;
    uint8_t *batch;
    size_t len, cap;
    uint32_t count, target;
    uint64_t first;
    cfs_codec_ctx enc;
    unsigned frames, raw_frames;
    uint64_t ops[CFS_OP_MAX_ + 1];
    int failed;
};

static const uint32_t sizes[] = {1, 1, 2, 3, 5, 8, 20, 50, 200, 400};

static int flush(struct corpus *c)
{
    if (!c->count)
        return 0;
    const uint8_t *frame;
    size_t flen;
    int rc = cfs_frame_encode(c->fc, c->first, c->count, c->batch, c->len,
                              &frame, &flen);
    if (rc) {
        fprintf(stderr, "make_corpus: frame at seq %" PRIu64 ": %s\n", c->first,
                cfs_strerror(rc));
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/frame-%06" PRIu64 ".cfsf", c->dir, c->first);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(frame, 1, flen, f) != flen || fclose(f)) {
        fprintf(stderr, "make_corpus: %s: %s\n", path, strerror(errno));
        return -1;
    }
    c->frames++;
    c->raw_frames += frame[6] == CFS_FRAME_CODEC_RAW;
    c->len = 0;
    c->count = 0;
    c->target = sizes[cfs_rng_below(&c->rng, sizeof(sizes) / sizeof(sizes[0]))];
    return 0;
}

static cfs_errno sink_append(void *ctx, const cfs_event *ev)
{
    struct corpus *c = ctx;
    size_t need = cfs_codec_bound(ev);
    if (c->len + need > c->cap) {
        size_t cap = c->cap ? c->cap : 65536;
        while (cap < c->len + need)
            cap *= 2;
        uint8_t *nb = realloc(c->batch, cap);
        if (!nb) {
            c->failed = 1;
            return CFS_ENOMEM;
        }
        c->batch = nb;
        c->cap = cap;
    }
    if (c->count == 0) {
        c->first = ev->seq;
        c->enc.seq = ev->seq - 1;
        c->enc.time = 0;
    }
    c->len += cfs_codec_encode(&c->enc, ev, c->batch + c->len);
    c->ops[ev->op]++;
    if (++c->count >= c->target && flush(c)) {
        c->failed = 1;
        return CFS_EIO;
    }
    return 0;
}

/* ---- send streams ------------------------------------------------------------ */

static int fail_journal(const char *what, cfs_journal *j, int rc)
{
    fprintf(stderr, "make_corpus: %s: %s: %s\n", what, cfs_strerror(rc),
            j ? cfs_journal_errmsg(j) : "");
    return -1;
}

static int write_stream(const char *dir, const char *name, cfs_journal *j, uint64_t since)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/stream-%s.cfst", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "make_corpus: %s: %s\n", path, strerror(errno));
        return -1;
    }
    cfs_send_report rep;
    int rc = cfs_journal_send_fd(j, since, fileno(f), &rep);
    if (fclose(f) || rc)
        return fail_journal(path, j, rc ? rc : CFS_JE_IO);
    printf("make_corpus: %s: %" PRIu64 " bytes, %u snapshots, %" PRIu64 " chunks, %" PRIu64
           " events\n", path, rep.bytes, rep.snapshots, rep.chunks, rep.events);
    return 0;
}

static cfs_journal *new_journal(char *dir)
{
    if (!mkdtemp(dir)) {
        fprintf(stderr, "make_corpus: mkdtemp: %s\n", strerror(errno));
        return NULL;
    }
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = 1;
    o.durability = CFS_DURABILITY_NONE;
    o.batch_events = 16; /* several frames */
    cfs_journal *j;
    char err[256];
    if (cfs_journal_open(dir, &o, &j, err, sizeof(err))) {
        fprintf(stderr, "make_corpus: %s: %s\n", dir, err);
        return NULL;
    }
    return j;
}

static int make_streams(const char *out, uint64_t seed)
{
    if (mkdir(out, 0777) && errno != EEXIST) {
        fprintf(stderr, "make_corpus: %s: %s\n", out, strerror(errno));
        return -1;
    }
    char d1[] = "/tmp/cfs-corpus-XXXXXX", d2[] = "/tmp/cfs-corpus-XXXXXX",
         d3[] = "/tmp/cfs-corpus-XXXXXX", d4[] = "/tmp/cfs-corpus-XXXXXX";
    cfs_journal *j = new_journal(d1), *start = NULL, *empty = NULL, *fork = NULL;
    cfs_fs *fs = NULL, *ffs = NULL;
    cfs_time clock;
    int rc = j ? 0 : -1;
    if (!rc && (rc = cfs_stream_history(j, 1, &clock, &fs)))
        rc = fail_journal("history", j, rc);
    uint64_t s1 = fs ? cfs_fs_seq(fs) : 0, s2 = 0;
    cfs_rng r;
    cfs_rng_seed(&r, seed);
    if (!rc) {
        cfs_workload_run(fs, &r, 60, CFS_STREAM_HISTORY_MAX_WRITE);
        s2 = cfs_fs_seq(fs);
        if ((rc = cfs_journal_snapshot(j, fs, "two", "explicit", clock, NULL)))
            rc = fail_journal("snapshot", j, rc);
    }
    if (!rc) {
        cfs_workload_run(fs, &r, 30, CFS_STREAM_HISTORY_MAX_WRITE);
        if ((rc = cfs_journal_snapshot(j, fs, "three", "events", clock, NULL)))
            rc = fail_journal("snapshot", j, rc);
        cfs_workload_run(fs, &r, 20, CFS_STREAM_HISTORY_MAX_WRITE);
    }
    if (!rc)
        rc = write_stream(out, "full", j, 0);
    if (!rc)
        rc = write_stream(out, "incremental", j, s1);
    if (!rc)
        rc = write_stream(out, "incremental-later", j, s2);
    /* the history's events alone, from seq 1, and some more */
    if (!rc && !(start = new_journal(d2)))
        rc = -1;
    cfs_fs *sfs = NULL;
    if (!rc && (rc = cfs_stream_history(start, 0, &clock, &sfs)))
        rc = fail_journal("history", start, rc);
    if (!rc) {
        cfs_workload_run(sfs, &r, 25, CFS_STREAM_HISTORY_MAX_WRITE);
        rc = write_stream(out, "from-start", start, 0);
    }
    cfs_fs_free(sfs);
    if (!rc && !(empty = new_journal(d3)))
        rc = -1;
    if (!rc)
        rc = write_stream(out, "empty", empty, 0);
    if (!rc && (rc = cfs_journal_commit(j)) == 0) {
        if (!mkdtemp(d4)) {
            fprintf(stderr, "make_corpus: mkdtemp: %s\n", strerror(errno));
            rc = -1;
        } else if ((rc = cfs_journal_fork(j, s2 + 7, d4, NULL, &fork, &ffs))) {
            rc = fail_journal("fork", j, rc);
        } else {
            rc = write_stream(out, "fork", fork, 0);
        }
    }
    cfs_fs_free(fs);
    cfs_fs_free(ffs);
    cfs_journal_close(j);
    cfs_journal_close(start);
    cfs_journal_close(empty);
    cfs_journal_close(fork);
    char *dirs[] = {d1, d2, d3, d4};
    for (int i = 0; i < 4; i++)
        if (!strstr(dirs[i], "XXXXXX"))
            cfs_stream_rmtree(dirs[i]);
    return rc ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 5) {
        fprintf(stderr, "usage: %s OUTDIR [SEED [EVENTS [STREAMDIR]]]\n", argv[0]);
        return 2;
    }
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
    uint64_t events = argc > 3 ? strtoull(argv[3], NULL, 0) : 5000;
    if (mkdir(argv[1], 0777) && errno != EEXIST) {
        fprintf(stderr, "make_corpus: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    struct corpus c = {0};
    c.dir = argv[1];
    c.fc = cfs_frame_codec_new(1);
    cfs_rng_seed(&c.rng, seed ^ 0x5eed);
    c.target = 1;
    cfs_sink sink = {sink_append, NULL, &c};
    cfs_allops w;
    if (!c.fc || cfs_allops_init(&w, seed, &sink, 2048)) {
        fprintf(stderr, "make_corpus: out of memory\n");
        return 1;
    }
    printf("make_corpus: seed %" PRIu64 ", %" PRIu64 " events\n", seed, events);
    for (uint64_t calls = 0; cfs_fs_seq(w.fs) < events && !c.failed; calls++) {
        cfs_allops_step(&w);
        if (calls > events * 100) {
            fprintf(stderr, "make_corpus: the workload stopped emitting events\n");
            c.failed = 1;
        }
    }
    if (!c.failed && flush(&c))
        c.failed = 1;
    printf("make_corpus: %u frames (%u raw) in %s; events per op:", c.frames,
           c.raw_frames, c.dir);
    for (int op = 1; op <= CFS_OP_MAX_; op++)
        printf(" %s %" PRIu64, cfs_op_name((uint16_t)op), c.ops[op]);
    printf("\n");
    cfs_allops_free(&w);
    cfs_frame_codec_free(c.fc);
    free(c.batch);
    if (!c.failed && argc > 4 && make_streams(argv[4], seed))
        c.failed = 1;
    return c.failed;
}
