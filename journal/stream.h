/*
 * stream.h — what stream.c (the shared part), stream_send.c and
 * stream_recv.c share: the stream's constants and record types, and the
 * helpers both sides use. Internal to journal/; the format is FORMAT.md's
 * "Send streams", the design stream.c's comment.
 */
#ifndef CFS_JOURNAL_STREAM_H
#define CFS_JOURNAL_STREAM_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <xxh_x86dispatch.h>
#include <zstd.h>

#include "bytes.h"
#include "internal.h"

#define STREAM_MAGIC "CFST"
#define LEADIN_SIZE 8
#define PREFIX_SIZE 8 /* u32 body length, u8 type, 3 zero bytes */
#define SUM_SIZE 8
#define HEADER_BODY 72
#define CHUNK_FIXED 24
#define END_BODY 56
#define IO_BUF ((size_t)256 << 10)
#define READ_STEP ((size_t)1 << 20) /* a body is read (and grown) this much at a time */
#define MAP_ROOM_MAX ((uint64_t)1 << 40)

enum { REC_HEADER = 1, REC_CHUNK = 2, REC_SNAPSHOT = 3, REC_FRAME = 4, REC_END = 5 };
enum { CHUNK_RAW = 0, CHUNK_ZSTD = 1 };

/* A batch of re-encoded events (a frame that reaches past a boundary). */
struct batch {
    uint8_t *p;
    size_t len, cap;
    uint32_t count;
    uint64_t first;
    cfs_codec_ctx enc;
};

/* The shape of a journal: its events and snapshots. */
struct shape {
    bool events, snapshots;
    uint64_t first_event, last_event; /* when events */
    uint64_t last_snapshot;           /* when snapshots */
};

uint64_t stream_body_max(uint8_t type);
void stream_hash_hex(char out[33], cfs_hash128 h);
bool stream_hash_eq(cfs_hash128 a, cfs_hash128 b);
void stream_batch_begin(struct batch *b, uint64_t first);
int stream_batch_add(struct batch *b, const cfs_event *ev);
int stream_journal_shape(cfs_journal *j, MDB_txn *txn, struct shape *sh);
uint64_t stream_shape_head(const struct shape *sh);
int stream_get_snapshot(cfs_journal *j, MDB_txn *txn, uint64_t seq, MDB_val *rec,
                        cfs_snapshot_info *info);

#endif
