/*
 * committer.h — group commit off the caller's thread.
 *
 * The caller encodes events into a batch and hands the batch over; the
 * committer thread compresses it into a frame (zstd: most of the CPU work)
 * and puts it in LMDB, paying the transaction and its fsync. So the caller
 * goes on encoding (a FUSE mount: answering requests) while the frame
 * before is compressed and written, on the machine's other core. Batches
 * are committed in the order submitted; at most `max_queued` wait, so
 * memory stays bounded and the caller waits when the committer is behind.
 * Batch buffers go back and forth rather than being copied or freed, so
 * the caller encodes into memory that is already faulted in.
 * The first failure is sticky: later frames are dropped, and every later
 * call reports it. Internal to journal/.
 */
#ifndef CFS_JOURNAL_COMMITTER_H
#define CFS_JOURNAL_COMMITTER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "cfs_journal.h"

/* A frame to commit: its events' first seq and its bytes. */
typedef struct cfs_commit_frame {
    uint64_t first;
    const uint8_t *data;
    size_t len;
} cfs_commit_frame;

/* Puts frames[0 .. n) durably as the journal's mode says, in one
 * transaction: all of them or none; 0 or a CFS_JE_* code with a message
 * in msg. Runs on the committer's put thread, which hands it every frame
 * waiting (up to a bound), so one commit, and one fsync, serves them all
 * while the disk is the slower side. */
typedef int (*cfs_commit_fn)(void *ctx, const cfs_commit_frame *frames, unsigned n,
                             char *msg, size_t cap);

typedef struct cfs_committer cfs_committer;

/* Bytes a batch buffer keeps free before its records, for the frame's
 * header: a batch stored raw becomes its frame in place, uncopied. */
#define CFS_COMMIT_HEADROOM CFS_FRAME_HEADER_SIZE

/* pthread_create with every signal blocked in the new thread, so signals
 * go to the program's own threads (whose handlers expect to interrupt
 * their calls): the journal's threads take none. 0 or an errno. */
int cfs_thread_start_quiet(pthread_t *t, void *(*fn)(void *), void *arg);

/* NULL if the thread or memory cannot be had. `committed` is the seq
 * already committed when it starts; frames are compressed at zstd_level,
 * except that with `adapt` a batch is stored raw while the compressor is
 * the bottleneck (the caller waited for room a moment ago, and the writer
 * has room). */
cfs_committer *cfs_committer_start(cfs_commit_fn fn, void *ctx,
                                   unsigned max_queued, uint64_t committed,
                                   int zstd_level, int adapt);

/*
 * Queue the batch of `count` encoded events, first .. first + count - 1,
 * in *buf[CFS_COMMIT_HEADROOM .. CFS_COMMIT_HEADROOM + len) (a malloc'd
 * buffer of *cap bytes; the headroom before the records is the
 * committer's). The committer takes the
 * buffer; *buf and *cap become a spare batch buffer from an earlier submit
 * (or NULL and 0). Returns an earlier failure instead, if there was one:
 * the batch is then dropped and the buffer stays the caller's.
 */
int cfs_committer_submit_batch(cfs_committer *c, uint64_t first, uint32_t count,
                               uint8_t **buf, size_t *cap, size_t len,
                               char *msg, size_t msgcap);

/*
 * Run fn(ctx, skip, msg, cap) on the committer thread in submission order
 * with the frames (so it sees every frame submitted before it committed).
 * It returns 0 or a CFS_JE_* code with a message, which becomes the
 * sticky failure. After a failure later jobs still run, with skip set, to
 * release what they own; they must not write then. On a failed submit
 * (an earlier failure, returned) fn is not called: ctx stays the caller's.
 */
typedef int (*cfs_commit_job_fn)(void *ctx, int skip, char *msg, size_t cap);
int cfs_committer_submit_job(cfs_committer *c, cfs_commit_job_fn fn, void *ctx,
                             char *msg, size_t cap);

/* Wait until every submitted frame is committed; 0 or the first failure. */
int cfs_committer_drain(cfs_committer *c, char *msg, size_t cap);

/* The first failure so far (0 if none), without waiting. */
int cfs_committer_error(cfs_committer *c, char *msg, size_t cap);

/* The last seq committed so far. Any thread. */
uint64_t cfs_committer_committed(const cfs_committer *c);

/* Move the committed seq forward to `seq` (a fork's base: a state the
 * journal starts from without events). Idle committer only. */
void cfs_committer_advance(cfs_committer *c, uint64_t seq);

/* Drain, stop the thread, free. Accepts NULL. Returns drain's result. */
int cfs_committer_stop(cfs_committer *c, char *msg, size_t cap);

#endif
