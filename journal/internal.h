/*
 * internal.h — the journal handle, shared by the files of journal/
 * (store.c: open, append, commit, read; snapshot.c: snapshots, chunks,
 * opening at a seq). Not part of the contract.
 */
#ifndef CFS_JOURNAL_INTERNAL_H
#define CFS_JOURNAL_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "cfs_journal.h"
#include "committer.h"
#include "frame.h"
#include "synclog.h"

struct cfs_journal {
    MDB_env *env;
    MDB_dbi db_meta, db_events, db_snapshots, db_chunks;
    char *dir;
    cfs_journal_opts opts;
    bool writer;
    int lock_fd;
    cfs_frame_codec *fc;
    cfs_synclog *slog; /* SYNC mode's log; NULL otherwise */
    cfs_committer *cm; /* a writer's commit thread */

    /* the batch: encoded records waiting for their frame */
    uint8_t *batch;
    size_t batch_len, batch_cap;
    uint32_t batch_count;
    uint64_t batch_first;
    uint64_t batch_born_ns; /* tick time that first saw it non-empty */
    cfs_codec_ctx enc;

    uint64_t committed, appended;
    bool failed;
    char id[33];
    char errmsg[256];
    /* snapshot triggers: the attached engine and what happened since
     * the last snapshot */
    cfs_fs *attached;
    uint64_t trig_events, trig_bytes;
    uint64_t trig_last_ns, trig_event_ns; /* tick times: last snapshot, last event */
    volatile sig_atomic_t trig_requested;
    bool in_trigger;
    void *zc; /* ZSTD_CCtx for chunks and images, made on first use */
    void *zd; /* ZSTD_DCtx likewise */
};

/* Set the handle's message; returns code. */
int fail_msg(cfs_journal *j, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An LMDB or errno result as a CFS_JE_* code. */
int map_mdb(int rc);
/* A read transaction, adopting a map another process has grown. */
int read_begin(cfs_journal *j, MDB_txn **txn);
/* Commit the batch and wait until LMDB has every queued frame. */
int commit_wait(cfs_journal *j);
/* snapshot.c: the image of a snapshot record (malloc'd), checked. */
int snapshot_image(cfs_journal *j, const void *rec, size_t len, uint64_t seq,
                   uint8_t **meta, size_t *meta_len);
/* snapshot.c: take a snapshot if a trigger says so; `now_ns` is 0 when no
 * clock reading is at hand (appends), so time triggers wait for a tick. */
int snapshot_triggers(cfs_journal *j, uint64_t now_ns, bool closing);
/* snapshot.c: count an appended event for the triggers. */
void snapshot_count(cfs_journal *j, size_t encoded_bytes);
/*
 * snapshot.c: chunks, by the xxh3-128 of a file block's bytes (FORMAT.md,
 * "Snapshots"), within the caller's LMDB transaction.
 * chunk_has: 1 if stored, 0 if not, or a negative code.
 * chunk_read: its raw bytes, exactly `len` of them (the length the image
 *   records), into buf; CFS_JE_CORRUPT naming the hash if it is missing,
 *   of another length or does not decompress. It does not rehash: loading
 *   an image checks every block against its hash.
 * chunk_write: store `len` bytes (at most CFS_BLOCK_SIZE) whose xxh3-128
 *   the caller vouches is h, compressed, unless h is stored already;
 *   *stored = the bytes it added (0 if it was there). Returns 0, a negative
 *   code with the message set, or MDB_MAP_FULL (positive): grow the map,
 *   abort the transaction and retry it.
 */
int chunk_has(cfs_journal *j, MDB_txn *txn, cfs_hash128 h);
int chunk_read(cfs_journal *j, MDB_txn *txn, cfs_hash128 h, void *buf, size_t len);
int chunk_write(cfs_journal *j, MDB_txn *txn, cfs_hash128 h, const void *data,
                size_t len, uint64_t *stored);
/* snapshot.c: free what snapshots made (zstd contexts). */
void snapshot_release(cfs_journal *j);

#endif
