/*
 * fuzz_frame.c — libFuzzer target for the frame and event decoders.
 *
 * Each input goes through three paths:
 *  1. cfs_frame_decode() on the input as is, keyed by the first seq its
 *     header claims (bytes 8..16; 1 if the input is shorter): header,
 *     checksum, zstd, records, seqs.
 *  2. The same with the checksum recomputed first, so mutations get past
 *     the checksum and reach zstd and the record decoder (a fuzzer cannot
 *     forge xxh3 by itself). zstd's fuzzers do the same.
 *  3. The payload (bytes after the header; the whole input if shorter)
 *     as a stream of raw records through cfs_codec_decode(), checking the
 *     codec's canonical-encoding property: every record that decodes
 *     re-encodes to exactly its bytes, within cfs_codec_bound().
 * Events handed to the callback are touched in full (strings up to their
 * NUL, data over its length), so ASan sees any out-of-bounds pointer.
 *
 * Built with -fsanitize=fuzzer by CFS_FUZZ=ON (scripts/fuzz.sh); without
 * it, fuzz_main.c drives the same entry point over files (a regression run
 * of the corpus in every build).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxh_x86dispatch.h>

#include "cfs_journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct walk {
    uint64_t next_seq;
    uint64_t sum;
};

static int touch(void *ctx, const cfs_event *ev)
{
    struct walk *w = ctx;
    if (ev->seq != w->next_seq) {
        fprintf(stderr, "fuzz_frame: seq %llu delivered, %llu expected\n",
                (unsigned long long)ev->seq, (unsigned long long)w->next_seq);
        abort();
    }
    w->next_seq++;
    const char *s[] = {ev->path, ev->path2, ev->name, ev->name2};
    for (int i = 0; i < 4; i++)
        if (s[i])
            w->sum += strlen(s[i]);
    if (ev->data) {
        const uint8_t *d = ev->data;
        for (uint64_t i = 0; i < ev->length; i++)
            w->sum += d[i];
    }
    return 0;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void decode_frame(const uint8_t *data, size_t size, uint64_t key)
{
    struct walk w = {key, 0};
    char err[256];
    int rc = cfs_frame_decode(data, size, key, touch, &w, err, sizeof(err));
    if (rc == 0 && w.next_seq == key) {
        fprintf(stderr, "fuzz_frame: a frame decoded with no events\n");
        abort();
    }
    if (rc && (!err[0] || memchr(err, 0, sizeof(err)) == NULL)) {
        fprintf(stderr, "fuzz_frame: error %d without a message\n", rc);
        abort();
    }
}

static void records(const uint8_t *p, size_t n, uint64_t first_seq)
{
    cfs_codec_ctx dc = {first_seq ? first_seq - 1 : 0, 0};
    cfs_codec_ctx ec = dc;
    char err[256];
    while (n) {
        cfs_event ev;
        size_t used;
        if (cfs_codec_decode(&dc, p, n, &ev, &used, err, sizeof(err)))
            return;
        touch(&(struct walk){ev.seq, 0}, &ev);
        size_t bound = cfs_codec_bound(&ev);
        uint8_t *out = malloc(bound);
        if (!out)
            abort();
        size_t len = cfs_codec_encode(&ec, &ev, out);
        if (len > bound || len != used || memcmp(out, p, used) != 0 ||
            ec.seq != dc.seq || ec.time != dc.time) {
            fprintf(stderr, "fuzz_frame: seq %llu: re-encoding differs "
                    "(%zu bytes, bound %zu, decoded %zu)\n",
                    (unsigned long long)ev.seq, len, bound, used);
            abort();
        }
        free(out);
        p += used;
        n -= used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t key = size >= 16 ? le64(data + 8) : 1;

    decode_frame(data, size, key);

    if (size >= CFS_FRAME_HEADER_SIZE) {
        uint8_t *copy = malloc(size);
        if (!copy)
            abort();
        memcpy(copy, data, size);
        const uint8_t *payload = copy + CFS_FRAME_HEADER_SIZE;
        XXH64_hash_t seed = XXH3_64bits_dispatch(copy, 32);
        uint64_t sum = XXH3_64bits_withSeed_dispatch(
            payload, size - CFS_FRAME_HEADER_SIZE, seed);
        for (int i = 0; i < 8; i++)
            copy[32 + i] = (uint8_t)(sum >> (8 * i));
        decode_frame(copy, size, key);
        free(copy);
        records(data + CFS_FRAME_HEADER_SIZE, size - CFS_FRAME_HEADER_SIZE, key);
    } else {
        records(data, size, key);
    }
    return 0;
}
