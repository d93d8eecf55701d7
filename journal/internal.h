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
#include <pthread.h>
#include <zstd.h>

#include "cfs_journal.h"
#include "committer.h"
#include "frame.h"
#include "synclog.h"

/* hashset.c: a set of content hashes; zero-initialise, then add. */
struct hashset {
    cfs_hash128 *slot; /* open addressing, cap a power of two; {0,0} is empty */
    size_t n, cap;
    bool zero;         /* the hash {0,0} itself */
};
/* Add h (*added, may be NULL: whether it was new); CFS_JE_NOMEM leaves
 * the set as it was. */
int hashset_add(struct hashset *s, cfs_hash128 h, bool *added);
bool hashset_has(const struct hashset *s, cfs_hash128 h);
void hashset_free(struct hashset *s);
/* A cfs_image_refs() callback adding each block's hash to the set (non-zero
 * without memory). */
int hashset_add_ref(void *set, cfs_hash128 h, size_t size);

/* bigframes.c: a big frame read out of frames.dat lands here */
struct frame_buf {
    uint8_t *p;
    size_t cap;
};

/* The file of big frames, and the pointer to one that `events` holds. */
#define CFS_BIGFRAMES_FILE "frames.dat"
#define CFS_BIGFRAME_POINTER 72
/* Frames at least this long go to frames.dat. */
#define CFS_BIGFRAME_MIN ((size_t)1 << 20)

struct cfs_journal {
    MDB_env *env;
    /* LMDB may remap the file only while no transaction is open in the
     * process (mdb_env_set_mapsize), yet read transactions run on other
     * threads (the snapshot thread, lazy block loads) while the commit
     * thread grows the map: readers hold this shared, growing holds it
     * exclusive. A reader holding it never waits for the commit thread. */
    pthread_rwlock_t map_lock;
    MDB_dbi db_meta, db_events, db_snapshots, db_chunks;
    char *dir;
    cfs_journal_opts opts;
    bool writer;
    int lock_fd;
    cfs_frame_codec *fc;
    cfs_synclog *slog; /* SYNC mode's log; NULL otherwise */
    cfs_committer *cm; /* a writer's commit thread */

    /* the batch: encoded records waiting for their frame, batch_len bytes
     * after the committer's CFS_COMMIT_HEADROOM */
    uint8_t *batch;
    size_t batch_len, batch_cap;
    uint32_t batch_count;
    uint64_t batch_first;
    uint64_t batch_born_ns; /* tick time that first saw it non-empty */
    cfs_codec_ctx enc;

    uint64_t committed, appended;
    uint64_t opened_at; /* committed when opened: cfs_journal_discard's floor */
    bool compacted;     /* this handle compacted: history before opened_at changed */
    bool failed;
    char cause[256]; /* what failed first, once a later call reports it */
    char id[33];
    unsigned format; /* meta `format` */
    char errmsg[256];
    /* snapshot triggers: the attached engine and what happened since
     * the last snapshot */
    cfs_fs *attached;
    uint64_t trig_events, trig_bytes;
    uint64_t trig_last_ns, trig_event_ns; /* tick times: last snapshot, last event */
    int trig_requested; /* atomic: set by a signal handler on any thread */
    bool in_trigger;
    /* snapshots being taken (snaptake.c): the snapshot thread, made on
     * first use, and the seq of the last one begun */
    struct snapper *snapper;
    uint64_t snap_seq_begun;
    bool snap_any_begun;
    uint64_t snap_count; /* snapshots begun by this handle (the runner's
                            --stop-after-snapshot watches it) */
    /* engines opened at a seq load file blocks from here on first use
     * (snapshot.c); closed when the journal closes */
    cfs_block_source *lazy;
    void *lazy_zd; /* its ZSTD_DCtx, used under its lock */
    void *zc; /* ZSTD_CCtx for chunks and images, made on first use */
    /* frames.dat (bigframes.c): the put thread's O_DIRECT descriptor and
     * the aligned end it appends at; everyone's reading descriptor */
    struct {
        int wfd, rfd;
        bool rfd_rw; /* rfd is open for writing (punching holes) */
        bool direct;
        uint64_t end;
        uint64_t floor; /* at open: where the frames committed before
                           end (meta `frames_end`, the last pointer) */
        bool trim;      /* what lies past floor may be cut off */
        uint8_t *bounce;
        pthread_mutex_t lock; /* opening rfd */
    } bf;
    void *zd; /* ZSTD_DCtx likewise */
};

/* Set the handle's message; returns code. */
int fail_msg(cfs_journal *j, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* CFS_JE_FAILED for a writer that failed before, naming what failed
 * first (the message of that failure, kept the first time). */
int fail_sticky(cfs_journal *j);
/* An LMDB or errno result as a CFS_JE_* code. */
int map_mdb(int rc);
/* A read transaction, adopting a map another process has grown; it holds
 * map_lock shared until read_end. */
int read_begin(cfs_journal *j, MDB_txn **txn);
/* snapshot.c: 0 if chunk value v under key k decompresses to content with
 * the key's hash, else CFS_JE_CORRUPT naming it (buf: CFS_BLOCK_SIZE). */
int chunk_verify(cfs_journal *j, const MDB_val *k, const MDB_val *v, uint8_t *buf);
/* End a read_begin (or read_cursor) transaction. */
void read_end(cfs_journal *j, MDB_txn *txn);
/* read_begin and a cursor on dbi; on error nothing is left open and the
 * handle's message says why. Close with mdb_cursor_close + read_end. */
int read_cursor(cfs_journal *j, MDB_dbi dbi, MDB_txn **txn, MDB_cursor **cur);
/* mdb_env_set_mapsize under map_lock, exclusive. */
int map_resize(cfs_journal *j, size_t size);
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
/* The chunk's LMDB key: the hash's hi then lo 64 bits, big-endian. */
void chunk_key(uint8_t key[16], cfs_hash128 h);
/* A chunk's LMDB value (malloc'd) for `len` raw bytes, compressed with zc
 * (any thread, its own zc): 0 or CFS_JE_NOMEM. */
int chunk_value(ZSTD_CCtx *zc, int level, const void *data, size_t len,
                uint8_t **val, size_t *val_len);
/* Put a value from chunk_value(); an existing chunk is left as it is (0).
 * Returns an LMDB code: needs no handle, so any thread may call it. */
int chunk_put_value(MDB_txn *txn, MDB_dbi dbi, cfs_hash128 h, const uint8_t *val,
                    size_t val_len);
/* A snapshot record (FORMAT.md, "Snapshots"), malloc'd, its image
 * compressed with zc; *stored_len is the compressed image's size.
 * CFS_JE_INVAL for a too long label/trigger/image, CFS_JE_NOMEM. */
int snapshot_record(ZSTD_CCtx *zc, int level, uint64_t seq, uint64_t time_ns,
                    cfs_hash128 hash, const char *label, const char *trigger,
                    const uint8_t *image, size_t image_len, uint8_t **rec,
                    size_t *rec_len, size_t *stored_len);
int chunk_read(cfs_journal *j, MDB_txn *txn, cfs_hash128 h, void *buf, size_t len);
int chunk_write(cfs_journal *j, MDB_txn *txn, cfs_hash128 h, const void *data,
                size_t len, uint64_t *stored);
/* snaptake.c: wait for the snapshots being taken and drop the cache of
 * stored chunk hashes (compaction removes chunks). */
void snapshot_forget_chunks(cfs_journal *j);
/* snaptake.c: wait for the snapshots being taken, stop the thread. */
void snapshot_stop(cfs_journal *j);
/* store.c, for writes off the caller's thread (messages to msg, never to
 * the handle): make the map hold `need` more bytes than are used; grow it
 * after MDB_MAP_FULL; a failed write transaction as a CFS_JE_* code (a
 * full disk is CFS_JE_NOSPC, whatever LMDB says). */
int ensure_map(cfs_journal *j, size_t need, char *msg, size_t cap);
/* store.c: put a cursor on the last record whose 8-byte big-endian key is
 * <= seq (`key` holds the probe); MDB_NOTFOUND if every key is greater
 * (or none), another LMDB code on error. */
int seek_at_or_before(MDB_cursor *cur, uint64_t seq, uint8_t key[8], MDB_val *k,
                      MDB_val *v);
int grow_map(cfs_journal *j, size_t need, char *msg, size_t cap);
int write_failure(cfs_journal *j, int rc, uint64_t len, char *msg, size_t cap,
                  const char *what);
/* snapshot.c: the journal's block source (j->lazy), made on first use. */
int snapshot_source(cfs_journal *j);
/* snapshot.c: free what snapshots made (zstd contexts). */
void snapshot_release(cfs_journal *j);

/*
 * bigframes.c: frames of CFS_BIGFRAME_MIN bytes or more live in frames.dat
 * (FORMAT.md, "Big frames"); `events` holds a pointer to each.
 * bigframes_load: read meta `frames_end` in the open's transaction.
 * Writing (the put thread only):
 *   bigframe_open: open frames.dat for writing (made if need be); before
 *     bigframe_mark, which needs its end.
 *   bigframe_append: write the frame at the file's aligned end, and make
 *     its pointer (what `events` stores under `seq` instead); msg says
 *     what failed (CFS_JE_NOSPC for a full disk, CFS_JE_IO).
 *   bigframe_sync: make what was appended durable (before the pointers
 *     commit).
 *   bigframe_mark / bigframe_rewind: the end to go back to when the
 *     transaction holding the pointers fails; rewinding also cuts the
 *     file back there.
 *   bigframe_note_end: put meta `frames_end` (the end after the frames
 *     appended) into that transaction; an LMDB code.
 * Reading (any thread), on a value v of `events` stored under `key`:
 *   frame_head: a pointer becomes its copy of the frame's header, with the
 *     frame's length (what cfs_frame_peek needs); a frame stays as it is.
 *   frame_whole: a pointer becomes the frame, read into b (reused across
 *     calls; frame_buf_free frees it) and its header matched against the
 *     pointer's copy; a frame stays as it is.
 *   Both check a pointer's own checksum; errors are CFS_JE_CORRUPT (or
 *   _IO, _NOMEM) with err saying "frame at seq K: why".
 *   bigframe_range: 1 and the frame's bytes in frames.dat (offset, padded
 *     length) if v is a sound pointer, else 0.
 * bigframe_unpunched_add: in compaction's write transaction, which drops
 *   the pointers to n frames (pairs: offset, padded length), list their
 *   bytes in meta `unpunched`; an LMDB code.
 * bigframes_punch_pending: a writer gives the listed bytes back to the
 *   filesystem (fallocate PUNCH_HOLE) once no reader in any process is
 *   older than the transaction that listed them; until then they wait
 *   (compaction, and a writer's open and close, try again). Best effort.
 * bigframes_file_bytes: the disk space frames.dat takes.
 */
/* bigframes_trim: at a writer's open, after bigframes_load and before
 * anything is appended, cut off what a crash left past the committed
 * frames (bigframe_open does it too, for a file made meanwhile). */
void bigframes_trim(cfs_journal *j);
void bigframes_init(cfs_journal *j);
void bigframes_close(cfs_journal *j);
int bigframes_load(cfs_journal *j, MDB_txn *txn);
int bigframe_open(cfs_journal *j, char *msg, size_t cap);
int bigframe_note_end(cfs_journal *j, MDB_txn *txn);
int bigframe_append(cfs_journal *j, uint64_t seq, const uint8_t *frame, size_t len,
                    uint8_t ptr[CFS_BIGFRAME_POINTER], char *msg, size_t cap);
int bigframe_sync(cfs_journal *j, char *msg, size_t cap);
uint64_t bigframe_mark(const cfs_journal *j);
void bigframe_rewind(cfs_journal *j, uint64_t mark);
/* bigframe_cut: like bigframe_rewind, for a writer that may not have the
 * file open (a discard after nothing big was written by it). */
void bigframe_cut(cfs_journal *j, uint64_t end);
bool bigframe_is_pointer(const MDB_val *v);
int frame_head(MDB_val *v, uint64_t key, char *err, size_t cap);
int frame_whole(cfs_journal *j, MDB_val *v, uint64_t key, struct frame_buf *b, char *err,
                size_t cap);
void frame_buf_free(struct frame_buf *b);
int bigframe_range(const MDB_val *v, uint64_t key, uint64_t *off, uint64_t *len);
int bigframe_unpunched_add(cfs_journal *j, MDB_txn *txn, const uint64_t *pairs, size_t n);
void bigframes_punch_pending(cfs_journal *j);
uint64_t bigframes_file_bytes(const cfs_journal *j);

/*
 * snapshot.c, for send / receive (stream.c): check a snapshot record as
 * `snapshots` stores it (magic, version, lengths, checksum), holding it to
 * the seq the record itself names (a stream has no key); *info (may be
 * NULL) gets what it says (image_bytes; new_* are 0). CFS_JE_CORRUPT or
 * CFS_JE_VERSION with the message set.
 */
int snapshot_record_check(cfs_journal *j, const void *rec, size_t len,
                          cfs_snapshot_info *info);

#endif
