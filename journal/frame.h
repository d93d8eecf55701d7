/*
 * frame.h — frames: a batch of encoded event records behind a 40-byte
 * header, the payload zstd-compressed (or raw when zstd does not shrink
 * it), checksummed with xxh3-64. Internal to journal/: the store writes one
 * frame per LMDB write transaction, keyed by its first seq. The layout is
 * FORMAT.md, "Frames"; cfs_frame_decode() (cfs_journal.h) is the public
 * one-shot decoder.
 */
#ifndef CFS_JOURNAL_FRAME_H
#define CFS_JOURNAL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "cfs_journal.h"

/* The most raw (decoded) payload bytes a frame may hold. A header claiming
 * more is CFS_JE_CORRUPT before anything is allocated, so a hostile header
 * cannot make a reader allocate gigabytes; cfs_frame_encode() refuses to
 * build such a frame (CFS_JE_INVAL). A single event whose record is larger
 * (a write of ~256 MiB in one call) cannot be journaled. */
#define CFS_FRAME_MAX_RAW (UINT32_C(256) << 20)

/* The smallest record (record_len, op, mask: one byte each): a frame's
 * count can be at most raw_len / CFS_RECORD_MIN. */
#define CFS_RECORD_MIN 3

/* The version a frame's header carries (bytes 4-5). Version 2 marks a
 * pointer to a big frame in frames.dat (bigframes.c), which only `events`
 * holds: a frame is always version 1. */
#define CFS_FRAME_VERSION 1

/* Header codecs (byte 6). */
#define CFS_FRAME_CODEC_RAW 0
#define CFS_FRAME_CODEC_ZSTD 1

/* Reusable ZSTD_CCtx/ZSTD_DCtx (each made on first use) and scratch
 * buffers. One thread at a time. */
typedef struct cfs_frame_codec cfs_frame_codec;

/* A codec compressing at `zstd_level` (zstd's scale: 1 is the fast
 * default, negative levels are faster still, 0 means zstd's default 3).
 * Returns NULL if memory runs out. */
cfs_frame_codec *cfs_frame_codec_new(int zstd_level);

/* Take the buffer holding the frame cfs_frame_encode made last (its size
 * in *cap), leaving the codec `spare` (spare_cap bytes; NULL and 0 for
 * none) to build the next one in: the committer hands frames to its
 * writer thread this way instead of copying them. The caller frees what
 * it takes (free()). */
uint8_t *cfs_frame_codec_swap_out(cfs_frame_codec *c, uint8_t *spare, size_t spare_cap,
                                  size_t *cap);

/* Free a codec and its buffers. Accepts NULL. */
void cfs_frame_codec_free(cfs_frame_codec *c);

/*
 * Build a frame from `count` encoded records raw[0..raw_len) whose first
 * event has seq first_seq (the records were encoded with a cfs_codec_ctx
 * starting at {first_seq - 1, 0}). If zstd does not shrink the payload it
 * is stored raw (codec 0). *frame points into the codec's buffer, valid
 * until the next call on c. Returns 0, CFS_JE_INVAL (count 0, first_seq 0,
 * the seqs would pass 2^64-1, raw_len above CFS_FRAME_MAX_RAW or below
 * count * CFS_RECORD_MIN), CFS_JE_NOMEM.
 */
int cfs_frame_encode(cfs_frame_codec *c, uint64_t first_seq, uint32_t count,
                     const uint8_t *raw, size_t raw_len,
                     const uint8_t **frame, size_t *frame_len);

/*
 * Make buf a raw (codec 0) frame in place: buf holds CFS_FRAME_HEADER_SIZE
 * bytes of room, then the `count` encoded records buf[CFS_FRAME_HEADER_SIZE
 * .. + raw_len); the header goes into the room and *frame_len is the
 * frame's length. The committer's way to store a batch raw without
 * copying it. Errors as cfs_frame_encode's.
 */
int cfs_frame_encode_raw_in_place(uint8_t *buf, uint64_t first_seq, uint32_t count,
                                  size_t raw_len, size_t *frame_len);

/*
 * Check a frame's header only (no checksum, no payload; it reads the first
 * CFS_FRAME_HEADER_SIZE bytes and no more, so a copy of the header with
 * the frame's length will do): magic, format
 * version (CFS_JE_VERSION: "format version N is newer than this build
 * (M)"), codec, flags, the lengths against len, the count against the raw
 * length, and that the first seq equals key_seq (the seq it is stored
 * under). Sets *first_seq and *count (either may be NULL). Returns 0,
 * CFS_JE_CORRUPT or CFS_JE_VERSION, with `err` (errcap bytes, may be NULL)
 * saying "frame at seq K: why".
 */
int cfs_frame_peek(const uint8_t *frame, size_t len, uint64_t key_seq,
                   uint64_t *first_seq, uint32_t *count, char *err,
                   size_t errcap);

/*
 * Decode a whole frame with c's reusable contexts and call fn for each
 * event in order. Everything is checked first — the header (as
 * cfs_frame_peek), the checksum, that the payload is exactly one zstd frame
 * declaring and yielding exactly the raw length, that exactly `count`
 * records consume exactly the raw length — so fn sees a frame whole or not
 * at all. The seqs are first_seq, first_seq + 1, ... The event passed to fn
 * (strings, data) is valid only during the call; fn may be NULL (check
 * only). fn returning non-zero stops the walk and that value is returned. Errors as cfs_frame_peek,
 * plus CFS_JE_CORRUPT for the rest, CFS_JE_NOMEM.
 */
int cfs_frame_decode_with(cfs_frame_codec *c, const uint8_t *frame, size_t len,
                          uint64_t key_seq,
                          int (*fn)(void *ctx, const cfs_event *ev), void *ctx,
                          char *err, size_t errcap);

#endif /* CFS_JOURNAL_FRAME_H */
