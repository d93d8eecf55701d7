/*
 * make_corpus.c — write a seed corpus of real frames for fuzz_frame.
 *
 *   make_corpus OUTDIR [SEED [EVENTS]]
 *
 * Runs a seeded random engine workload (tests/common/cfs_test_allops.c)
 * whose sink encodes every event with the journal's codec, cuts the stream
 * into frames of varied sizes (1 event up to a few hundred: the small ones
 * do not shrink under zstd and are stored raw, so both codecs are in the
 * corpus) and writes each frame to OUTDIR/frame-<first seq>.cfsf. Writes
 * stay small (at most 2 KiB) so the fuzzer's inputs stay fast.
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

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s OUTDIR [SEED [EVENTS]]\n", argv[0]);
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
    return c.failed;
}
