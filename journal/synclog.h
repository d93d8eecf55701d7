/*
 * synclog.h — the sync log: what makes `sync` durability cost one flush.
 *
 * LMDB's durable commit flushes twice (data pages, then the meta page).
 * In `sync` mode each event is instead written to a preallocated,
 * checksummed log file with one pwrite and one fdatasync (preallocated, so
 * the flush carries no file-size metadata), and LMDB is committed in
 * batches behind it. When the log fills, or the journal closes, LMDB is
 * made fully durable (a checkpoint) and the log starts a new generation.
 * Opening a journal for writing replays the log's records past LMDB's last
 * seq into LMDB before anything else. Internal to journal/; the layout is
 * FORMAT.md, "The sync log".
 */
#ifndef CFS_JOURNAL_SYNCLOG_H
#define CFS_JOURNAL_SYNCLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfs_journal.h"

#define CFS_SYNCLOG_FILE "sync.log"
/* Returned by cfs_synclog_append when the record does not fit: checkpoint
 * and reset, then the event needs no log record. */
#define CFS_SYNCLOG_FULL 1

typedef struct cfs_synclog cfs_synclog;

/* Open DIR/sync.log, creating and preallocating it (then fsyncing it and
 * the directory) if it does not exist. */
int cfs_synclog_open(const char *dir, cfs_synclog **out, char *err,
                     size_t errcap);
/* Open an existing log for reading (CFS_JE_NOTFOUND if there is none). */
int cfs_synclog_open_existing(const char *dir, cfs_synclog **out, char *err,
                              size_t errcap);
void cfs_synclog_close(cfs_synclog *l); /* accepts NULL */

/* Deliver, in order, the current generation's records with seq > after.
 * They must continue at after + 1 (else CFS_JE_CORRUPT: the log and the
 * journal disagree). A torn or stale record ends the log silently: it was
 * never acknowledged. fn returning non-zero stops with that value.
 * `strict`, for a log no writer is appending to (the writer's own
 * recovery, or a reader with no writer about): an invalid record that
 * whole ones of the generation follow is CFS_JE_CORRUPT, not the end (a
 * crash tears only the last record; a live writer's next record may look
 * torn to a reader for a moment). */
int cfs_synclog_recover(cfs_synclog *l, uint64_t after,
                        int (*fn)(void *ctx, const cfs_event *ev), void *ctx, bool strict,
                        char *err, size_t errcap);

/* Write one event's record and flush it: durable when this returns 0.
 * CFS_SYNCLOG_FULL if it does not fit; CFS_JE_IO / CFS_JE_NOSPC on
 * failure (the log must then not be used again). */
int cfs_synclog_append(cfs_synclog *l, const cfs_event *ev, char *err,
                       size_t errcap);

/* Start a new generation (older records become stale); flushed. */
int cfs_synclog_reset(cfs_synclog *l, char *err, size_t errcap);

#endif
