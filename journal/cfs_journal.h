/*
 * cfs_journal.h — the chronofs journal: engine events, durable in a
 * zstd-compressed, checksummed LMDB store.
 *
 * A journal is a directory holding one LMDB environment with the named
 * databases `meta`, `events`, `snapshots` and `chunks` (journal/FORMAT.md
 * describes every byte). Events are encoded (cfs_codec_*), gathered into a
 * batch, and written as one frame per LMDB write transaction: the frame's
 * key is its first seq, its value a header (magic, format version, codec,
 * count, lengths, xxh3-64 checksum) and a zstd payload.
 *
 * Conventions
 *  - Calls return 0 or a negative CFS_JE_* code; cfs_strerror() names it,
 *    cfs_journal_errmsg() says what and where ("frame at seq 81234:
 *    checksum mismatch").
 *  - Errors while writing are sticky: after a failed commit the journal
 *    refuses every further write (CFS_JE_FAILED) until it is closed and
 *    reopened, so nothing is ever built on a half-failed state.
 *  - One writer per journal, across processes (a second gets CFS_JE_LOCKED
 *    naming the pid); any number of readers, each seeing a consistent
 *    committed prefix.
 *  - A cfs_journal handle is used by one thread at a time (a writer also
 *    runs a private commit thread of its own). LMDB forbids opening one
 *    environment twice in a process: one handle per journal per process.
 */
#ifndef CFS_JOURNAL_H
#define CFS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cfs_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The on-disk format version this build writes and the newest it reads.
 * Separate from the library version (littlefs's LFS_DISK_VERSION).
 * 2: big frames live in frames.dat, `events` pointing at them. */
#define CFS_FORMAT_VERSION 2

enum {
    CFS_JE_OK = 0,
    CFS_JE_IO = -1,        /* an operating-system or LMDB I/O error */
    CFS_JE_CORRUPT = -2,   /* a frame, record or meta entry is malformed */
    CFS_JE_VERSION = -3,   /* written by a newer format than this build reads */
    CFS_JE_LOCKED = -4,    /* another process has the journal open for writing */
    CFS_JE_NOSPC = -5,     /* the disk is full */
    CFS_JE_NOMEM = -6,
    CFS_JE_INVAL = -7,     /* a bad argument */
    CFS_JE_NOTFOUND = -8,  /* no such journal, seq or record */
    CFS_JE_FAILED = -9,    /* an earlier write failed: reopen the journal */
    CFS_JE_READONLY = -10, /* opened read-only */
    CFS_JE_NOTJOURNAL = -11, /* the directory is not a chronofs journal */
    CFS_JE_DIVERGED = -12, /* replay: an event did not reproduce its outcome */
};

/* Name of a CFS_JE_* code (and of 0): a static string. */
const char *cfs_strerror(int code);

/* ---------------------------------------------------------------------- */
/* The event codec                                                          */

/*
 * Encoded events are little-endian, length-prefixed records (FORMAT.md,
 * "Event records"). Within a frame an event's seq is not stored (it is the
 * previous one + 1) and its time is a delta from the previous event's, so
 * `prev` carries that context: set it to {first seq - 1, 0} at the start
 * of a frame; encode and decode update it (a refused record leaves it as
 * it was).
 */
typedef struct cfs_codec_ctx {
    uint64_t seq;
    cfs_time time;
} cfs_codec_ctx;

/* Upper bound of the encoded size of `ev` in bytes. */
size_t cfs_codec_bound(const cfs_event *ev);

/* Encode `ev` (op 1..CFS_OP_MAX_) at `out` (cfs_codec_bound() bytes
 * available); returns the bytes written. Never fails. */
size_t cfs_codec_encode(cfs_codec_ctx *prev, const cfs_event *ev,
                        uint8_t *out);

/*
 * Decode one record from buf[0..len): fills *ev (its strings and data point
 * into `buf`, valid as long as buf is) and sets *used. Returns 0, or
 * CFS_JE_CORRUPT with `err` (if not NULL, errcap bytes) naming the seq and
 * the field ("seq 12: field `name`: length 300 past the record end").
 * Never reads outside buf[0..len).
 */
int cfs_codec_decode(cfs_codec_ctx *prev, const uint8_t *buf, size_t len,
                     cfs_event *ev, size_t *used, char *err, size_t errcap);

/* ---------------------------------------------------------------------- */
/* Frames                                                                   */

/* The fixed part of a frame, before its payload (FORMAT.md, "Frames"). */
#define CFS_FRAME_HEADER_SIZE 40

/*
 * Decode a whole frame (header check, checksum, decompression, every
 * record) and call fn for each event in order; fn returning non-zero stops
 * and that value is returned. `key_seq` is the seq the frame is stored
 * under (its first event's). The whole frame is checked before fn sees
 * any event; the event is valid only during the call; fn may be NULL
 * (check only). Errors name the seq and the reason.
 * Used by the journal and fuzzed on its own.
 */
int cfs_frame_decode(const uint8_t *frame, size_t len, uint64_t key_seq,
                     int (*fn)(void *ctx, const cfs_event *ev), void *ctx,
                     char *err, size_t errcap);

/* ---------------------------------------------------------------------- */
/* Journals                                                                 */

typedef enum cfs_durability {
    CFS_DURABILITY_NONE = 0,  /* commit on batch bounds, never fsync */
    CFS_DURABILITY_BATCH = 1, /* commit + sync on batch bounds and fd_sync */
    CFS_DURABILITY_SYNC = 2,  /* every event durable before the call returns */
} cfs_durability;

typedef struct cfs_journal_opts {
    cfs_durability durability; /* default BATCH */
    int zstd_level;            /* default 1; negative = zstd's fast levels */
    size_t batch_bytes;        /* commit once the batch holds this much encoded (default 1 MiB) */
    uint32_t batch_events;     /* ... or this many events (default 8192) */
    uint64_t batch_age_ns;     /* ... or on cfs_journal_tick() past this age (default 50 ms) */
    int read_only;             /* open for reading only; never creates */
    /* When compression is what holds the writer up (it waits for room
     * while the disk has room), store batches uncompressed from then
     * until 100 ms after it last waited, as `zstd --adapt` lowers its
     * level: faster bulk writes for a bigger journal (cfs_journal_compact
     * compresses such frames later). Off by default; the FUSE mount and
     * `chronofs run` turn it on. */
    int compress_adapt;
    int create;                /* create the journal if the directory has none */
    /* Snapshot triggers (0 = off), as the seed's snapshot_on and
     * snapshot_interval; they act once an engine is attached
     * (cfs_journal_attach) and snapshot it with the trigger's name. */
    uint64_t snapshot_every_events; /* "events": after this many events */
    uint64_t snapshot_every_bytes;  /* "bytes": after this many encoded bytes */
    uint64_t snapshot_interval_ns;  /* "interval": on a tick this long after the last */
    uint64_t snapshot_idle_ns;      /* "idle": on a tick this long after the last event */
    int snapshot_on_exit;           /* "exit": when the journal closes */
} cfs_journal_opts;

/* Defaults as documented above. */
void cfs_journal_opts_default(cfs_journal_opts *o);

typedef struct cfs_journal cfs_journal;

/*
 * Open (or create, with opts->create) the journal in directory `dir`
 * (created if missing when creating). A writer takes the journal's writer
 * lock (CFS_JE_LOCKED if another process holds it). On opening, frames are
 * not replayed: call cfs_journal_replay() to rebuild an engine. `opts` may
 * be NULL (defaults, no create). *out is NULL on error; cfs_strerror and,
 * where there is more to say, the message in errbuf explain it.
 */
int cfs_journal_open(const char *dir, const cfs_journal_opts *opts,
                     cfs_journal **out, char *errbuf, size_t errcap);

/* The pid of the process holding journal `dir`'s writer lock (the one a
 * writer's cfs_journal_open would get CFS_JE_LOCKED naming), 0 if no
 * process holds it (or dir is no journal), -1 if one does but did not
 * record its pid. Takes no lock and opens no LMDB environment, so a tool
 * can ask it of a journal a mount is writing (to signal it). The lock is
 * per open file description: a writer handle of this same process is
 * seen too. */
long cfs_journal_writer_pid(const char *dir);
/* cfs_journal_writer_pid, and the note its holder left with its pid
 * (cfs_journal_writer_note; "" if none) in note[0..cap). */
long cfs_journal_writer(const char *dir, char *note, size_t cap);
/* A writer says what it is, for processes that find its pid (one line,
 * at most 4096 bytes): a FUSE mount writes "mount MAJ:MIN SOURCE", its
 * device and the source its mountinfo line shows. */
int cfs_journal_writer_note(cfs_journal *j, const char *note);

/* Commit what is batched (a writer), release everything. Accepts NULL.
 * Returns the commit's result (the journal is closed either way). */
int cfs_journal_close(cfs_journal *j);

/* What and where of the last error. Valid until the next call. */
const char *cfs_journal_errmsg(const cfs_journal *j);

/* Journal id (16 random bytes at creation, as 32 hex digits + NUL). */
const char *cfs_journal_id(const cfs_journal *j);

/* The format version the journal was created at (meta `format`; at most
 * CFS_FORMAT_VERSION, which this build writes). */
unsigned cfs_journal_format(const cfs_journal *j);

/* The seq of the last committed event (0 for an empty journal), as this
 * handle last saw it; cfs_journal_refresh() looks again (readers). For a
 * reader this includes the events a SYNC-mode writer has made durable in
 * its sync log but not yet committed to LMDB: every acknowledged event. */
uint64_t cfs_journal_committed(const cfs_journal *j);
/* The seq of the last appended event (committed or still batched). */
uint64_t cfs_journal_appended(const cfs_journal *j);
int cfs_journal_refresh(cfs_journal *j);

/*
 * Append an event (it must be the next seq). It is encoded into the batch
 * at once (the event's pointers need not outlive the call); the batch is
 * committed when a bound is reached, or at once in SYNC mode.
 */
int cfs_journal_append(cfs_journal *j, const cfs_event *ev);

/* Commit the batch as one frame (nothing to do if it is empty). The frame
 * is compressed and written by the journal's commit threads, so this
 * returns once it is queued; a failure of an earlier frame is returned
 * instead. cfs_journal_sync() and cfs_journal_close() wait until
 * everything queued is written. */
int cfs_journal_commit(cfs_journal *j);

/* Commit and make durable everything appended (fd_sync); in NONE mode
 * only commits. */
int cfs_journal_sync(cfs_journal *j);

/* Commit the batch if it is older than batch_age_ns at `now_ns` (a
 * monotonic clock reading the caller passes: the journal reads none). */
int cfs_journal_tick(cfs_journal *j, uint64_t now_ns);

/* A writer's sticky failure: 0 while it can write, else the code
 * (CFS_JE_FAILED once a call has reported it) with cfs_journal_errmsg()
 * saying what failed first ("DIR: frame at seq 5083: disk full ...").
 * Asks without writing: for a process that wants to say so as soon as it
 * happens (a mount's log) or when it ends. */
int cfs_journal_failure(cfs_journal *j);

/*
 * The engine's sink for this journal: append() journals each event
 * (errors become EIO, or ENOSPC for a full disk) and sync() is
 * cfs_journal_sync(). Valid while the journal is open.
 */
cfs_sink cfs_journal_sink(cfs_journal *j);

/*
 * Call fn for every committed event with from <= seq <= to (to = 0: up to
 * the last committed), in order, decoding frame by frame with bounded
 * memory. A corrupt frame stops the walk with CFS_JE_CORRUPT naming its
 * seq; nothing after it is delivered. fn returning non-zero stops the walk
 * and that value is returned.
 */
int cfs_journal_foreach(cfs_journal *j, uint64_t from, uint64_t to,
                        int (*fn)(void *ctx, const cfs_event *ev), void *ctx);

/*
 * Rebuild: apply committed events with seq <= to (0 = all) to `fs`, which
 * must be at seq 0 (fresh) or at an earlier seq of this journal. An event
 * the engine refuses is CFS_JE_DIVERGED with the engine's message.
 */
int cfs_journal_replay(cfs_journal *j, cfs_fs *fs, uint64_t to);

/* Check every frame (header, checksum, decompression, records, seq
 * continuity) without applying; reports the first bad one. */
int cfs_journal_verify(cfs_journal *j);

/* What a journal holds and what it costs (`chronofs stat`). */
typedef struct cfs_journal_stats {
    uint64_t frames, events;       /* committed frames and the events in them */
    uint64_t first_seq, last_seq;  /* of those events (0 if none) */
    uint64_t raw_bytes;            /* the events encoded, before compression */
    uint64_t stored_bytes;         /* their frames as stored (headers included) */
    uint64_t snapshots, chunks;    /* records in those databases */
    uint64_t events_db_bytes, snapshots_db_bytes, chunks_db_bytes; /* LMDB pages */
    uint64_t big_frames;           /* of the frames, those kept in frames.dat */
    uint64_t big_frames_bytes;     /* frames.dat's allocated size on disk */
    uint64_t file_bytes;           /* data.mdb's and frames.dat's on disk */
} cfs_journal_stats;

/*
 * Fill *out from one consistent view (an LMDB read transaction) of what is
 * committed, reading frame headers only (no checksum or decompression:
 * cfs_journal_verify() checks). Works on readers and writers (a writer's
 * batch not yet committed is not counted). Errors: CFS_JE_CORRUPT (a
 * malformed frame header, naming its seq), CFS_JE_VERSION, CFS_JE_IO.
 */
int cfs_journal_stat(cfs_journal *j, cfs_journal_stats *out);

/* ---------------------------------------------------------------------- */
/* Snapshots                                                                */

typedef struct cfs_snapshot_info {
    uint64_t seq;            /* the state after this event */
    char label[128];         /* NUL-terminated; may be empty */
    char trigger[32];        /* "explicit", "events", "bootstrap", ... */
    uint64_t time_ns;        /* when: as the caller said for an explicit
                                snapshot; CLOCK_REALTIME for a trigger's */
    cfs_hash128 state_hash;  /* cfs_fs_hash of the state */
    uint64_t image_bytes;    /* the stored (compressed) image */
    uint64_t new_chunk_bytes;/* stored bytes of the chunks it added */
    uint32_t chunks;         /* distinct chunks it refers to */
    uint32_t new_chunks;     /* ... of which it stored */
} cfs_snapshot_info;

/*
 * Snapshot the engine's state into the journal (writer only; `fs` must be
 * at this journal's last appended seq). The batch is committed first;
 * then file blocks not yet stored go to `chunks` (keyed by content hash,
 * zstd-compressed) and the image with its label, trigger, time and state
 * hash to `snapshots` (keyed by seq), in one write transaction: an
 * incremental snapshot costs what changed. Durable unless the mode is
 * NONE. CFS_JE_INVAL if a snapshot at this seq exists or the label is too
 * long, or all digits (commands read those as a seq).
 *
 * cfs_journal_snapshot_begin() holds the caller only while it copies the
 * engine's metadata (cfs_fs_clone: file blocks are shared copy-on-write);
 * hashing, compressing and writing happen on the journal's snapshot
 * thread (compressing on two threads when there is much) and its commit
 * thread, while the caller goes on appending. At most two snapshots are
 * in flight; a third begin waits. A failure there is the journal's sticky
 * failure, reported by the next call. Triggers use it.
 * cfs_journal_snapshot_wait() waits until every snapshot begun is stored
 * (0, or the failure) and gives the last one's info (may be NULL).
 * cfs_journal_snapshot() is begin + wait; `info` (may be NULL) receives
 * what was stored.
 */
int cfs_journal_snapshot_begin(cfs_journal *j, cfs_fs *fs, const char *label,
                               const char *trigger, uint64_t time_ns);
int cfs_journal_snapshot_wait(cfs_journal *j, cfs_snapshot_info *last);
int cfs_journal_snapshot(cfs_journal *j, cfs_fs *fs, const char *label,
                         const char *trigger, uint64_t time_ns,
                         cfs_snapshot_info *info);

/* How many snapshots this handle has begun since it was opened: explicit
 * ones and the triggers' (a trigger that finds a snapshot at its seq
 * already takes none). Read on the thread that appends and ticks, it
 * tells whether a trigger fired since an earlier reading. 0 for NULL. */
uint64_t cfs_journal_snapshot_count(const cfs_journal *j);

/* Check every stored chunk: it decompresses to bytes whose xxh3-128 is
 * its key; and that every chunk a snapshot's image refers to is stored.
 * The first bad or missing one is CFS_JE_CORRUPT naming its hash (and the
 * snapshot missing it); *checked (may be NULL) counts the good ones.
 * Opening at a seq loads file data lazily, so this is how to find damage
 * before anything reads it. */
int cfs_journal_verify_chunks(cfs_journal *j, uint64_t *checked);

/* Every snapshot, in seq order; fn returning non-zero stops (and is
 * returned). image_bytes etc. are filled; new_* are 0 (not recorded). */
int cfs_journal_snapshots(cfs_journal *j,
                          int (*fn)(void *ctx, const cfs_snapshot_info *s),
                          void *ctx);

/* The newest snapshot with this label (CFS_JE_NOTFOUND naming it). */
int cfs_journal_find_snapshot(cfs_journal *j, const char *label,
                              cfs_snapshot_info *out);

/*
 * The state at `seq` (0 = the last committed): the newest snapshot at or
 * before it, loaded and checked against its recorded state hash, then the
 * events after it up to seq. *out is a new engine (cfg gives its clock and
 * sink; may be NULL); free it with cfs_fs_free(). Errors name the seq or
 * the snapshot at fault; a damaged snapshot is CFS_JE_CORRUPT, never used.
 */
int cfs_journal_open_at(cfs_journal *j, uint64_t seq, const cfs_config *cfg,
                        cfs_fs **out);

/*
 * Attach the engine whose sink this journal is, so snapshot triggers can
 * snapshot it (NULL detaches; detach before freeing the engine). Triggers
 * are checked as events are appended (the snapshot then holds the state
 * before the new event), on cfs_journal_tick() and at close.
 */
void cfs_journal_attach(cfs_journal *j, cfs_fs *fs);

/* Ask for a snapshot ("sigusr1") at the next append or tick. Only sets a
 * flag: safe to call from a signal handler. */
void cfs_journal_request_snapshot(cfs_journal *j);

/*
 * Fork: a new writable journal in `dir` (created; it must be empty) that
 * starts from src's state at `seq` (0 = its last), so a guest can resume
 * from a past state while src's history stays as it is. The new journal is
 * self-contained: its first record is a snapshot of that state (trigger
 * "fork", labelled with src's id and the seq), its chunks copied, and its
 * events continue at seq + 1. *out is the new journal (opened with `opts`,
 * or defaults), *fs_out the engine at that state with no sink: attach
 * cfs_journal_sink(*out) to go on. Errors are reported on src.
 */
int cfs_journal_fork(cfs_journal *src, uint64_t seq, const char *dir,
                     const cfs_journal_opts *opts, cfs_journal **out,
                     cfs_fs **fs_out);

/* ---------------------------------------------------------------------- */
/* Compaction                                                               */

typedef struct cfs_compact_report {
    /* LMDB pages of events, snapshots, chunks; after = once the frames
     * are recompressed too */
    uint64_t bytes_before, bytes_after;
    uint64_t events_dropped, frames_dropped;
    uint32_t snapshots_dropped, chunks_dropped;
    uint64_t first_seq; /* the oldest seq that can still be opened */
    /* frames kept that were stored raw (compress_adapt) and that zstd now
     * shrinks: how many, and their bytes before and after */
    uint64_t frames_recompressed, recompressed_from, recompressed_to;
} cfs_compact_report;

/*
 * Keep the newest `keep` (>= 1) snapshots; drop older snapshots, the
 * frames whose events all precede the oldest kept snapshot, and the
 * chunks no kept snapshot refers to, in one write transaction (writer
 * only). Every seq from the oldest kept snapshot on opens to exactly the
 * state it did before; opening an earlier one is CFS_JE_NOTFOUND saying it
 * was compacted. With no snapshot, nothing but unreferenced chunks goes.
 * Then the kept frames stored raw are compressed at the journal's zstd
 * level (those zstd shrinks), in write transactions of at most 64 MiB of
 * frames each; each leaves the journal whole and holding the same events.
 * Errors: CFS_JE_READONLY, CFS_JE_INVAL (keep 0), CFS_JE_CORRUPT (a frame
 * or snapshot, named by its seq), CFS_JE_NOSPC, CFS_JE_NOMEM, or LMDB's as
 * CFS_JE_* codes; a failure during recompression leaves the deletions
 * (and the frames recompressed before it) done.
 */
int cfs_journal_compact(cfs_journal *j, unsigned keep, cfs_compact_report *rep);

/*
 * Undo everything this writer handle committed since it was opened, as
 * if it had never been written: for a command that must change nothing
 * when it fails halfway (an import meeting a full disk). Whatever is
 * queued or in flight is finished or dropped first; then, in one write
 * transaction, the frames after the seq the handle opened at go, with the
 * snapshot records after it and the chunks no snapshot left refers to,
 * and `frames.dat` is cut back to the frames left. Works on a handle
 * whose writes failed (that is what it is for); deleting needs no new
 * disk space but LMDB's own pages. The handle then refuses writes
 * (CFS_JE_FAILED): close it. Not with durability sync (CFS_JE_INVAL: the
 * sync log would bring the events back). Readers in other processes that
 * saw the discarded seqs find them gone.
 */
int cfs_journal_discard(cfs_journal *j);

/* ---------------------------------------------------------------------- */
/* Send / receive                                                           */

/*
 * A journal's history as a portable stream, like `zfs send | zfs receive`
 * (FORMAT.md, "Send streams"): self-describing, versioned, every record
 * checksummed, little-endian throughout, independent of LMDB's file format
 * and of the host. A stream either
 *  - is full: the journal's oldest snapshot (its base), with every chunk
 *    it uses, each later snapshot with the chunks it adds, and the events
 *    after the base; a journal with no snapshot sends its events from
 *    seq 1 (the base is then the empty state). Seqs before the base are
 *    not sent: the receiver opens seqs from the base on;
 *  - or is incremental from a snapshot S the receiver holds: the later
 *    snapshots, the chunks they use that S does not, the events after S.
 * Receiving a full stream into an empty journal, then incremental ones
 * (each from a snapshot the receiver got before), gives a journal that
 * opens every seq from the base on to the state the sender's did.
 */

/* The stream format version this build writes and the newest it reads;
 * separate from CFS_FORMAT_VERSION (the journal's). */
#define CFS_STREAM_VERSION 1

typedef enum cfs_stream_kind {
    CFS_STREAM_FROM_START = 0,  /* full, from the empty state: events from seq 1 */
    CFS_STREAM_FULL = 1,        /* full, from the oldest snapshot */
    CFS_STREAM_INCREMENTAL = 2, /* from a snapshot the receiver holds */
} cfs_stream_kind;

/* Write all len bytes of buf; 0, or non-zero to stop the send: a
 * negative CFS_JE_* code is returned as is (set no message: the journal
 * keeps its own), a positive value is taken as an errno (CFS_JE_IO, or
 * CFS_JE_NOSPC for ENOSPC, with its strerror). */
typedef int (*cfs_stream_write_fn)(void *ctx, const void *buf, size_t len);
/* Read up to len bytes into buf, setting *got (0 only at the end of the
 * stream; fewer than len is fine); returns 0 or non-zero as above. */
typedef int (*cfs_stream_read_fn)(void *ctx, void *buf, size_t len, size_t *got);

typedef struct cfs_send_report {
    uint64_t bytes;       /* the stream's length */
    cfs_stream_kind kind;
    uint64_t base_seq;    /* the base snapshot's seq (0 for FROM_START) */
    uint64_t head_seq;    /* the seq the receiver will be at */
    uint32_t snapshots;
    uint64_t chunks, chunk_bytes; /* chunks sent, their raw bytes */
    uint64_t frames, events;
} cfs_send_report;

/*
 * Write j's history as a stream through write(ctx, ...): full when
 * since_seq is 0, else incremental from the snapshot at since_seq (find a
 * label's with cfs_journal_find_snapshot; a snapshot at seq 0 cannot be a
 * base). A writer first commits what it appended and waits for the
 * snapshots it began; the stream is then read from one consistent view
 * (an LMDB read transaction), and ends at the last committed event (or
 * snapshot). What is shipped is checked first: a damaged snapshot, chunk
 * or frame stops the send with CFS_JE_CORRUPT naming it. Errors:
 * CFS_JE_NOTFOUND (no snapshot at since_seq), CFS_JE_CORRUPT, the write
 * callback's failure (CFS_JE_IO...), CFS_JE_NOMEM. On failure the stream
 * written so far is incomplete, and a receiver refuses it. `rep` (may be
 * NULL) is filled on success. Works on read-only handles too.
 */
int cfs_journal_send(cfs_journal *j, uint64_t since_seq, cfs_stream_write_fn write,
                     void *ctx, cfs_send_report *rep);

typedef struct cfs_receive_report {
    uint64_t bytes;        /* stream bytes read */
    cfs_stream_kind kind;
    uint64_t base_seq, head_seq;
    char origin[33];       /* the sender's journal id */
    uint32_t snapshots, snapshots_added, snapshots_present;
    uint64_t chunks, chunks_added;              /* in the stream; stored here */
    uint64_t frames, events;                    /* in the stream */
    uint64_t frames_added, events_added, events_present;
} cfs_receive_report;

/*
 * Read a stream through read(ctx, ...) into j (a writer), all or nothing:
 * every record is checked as it arrives (checksums, lengths, order, each
 * chunk's content against its hash, each frame whole, each new snapshot
 * loaded from its chunks to the state hash it records) and everything is
 * written in one LMDB write transaction, committed only after the end
 * record and the end of the stream; on any refusal j is exactly as it was.
 * The journal must be empty, or hold the stream's base snapshot with the
 * same state hash (an incremental stream, or a full one into a journal
 * that already has its history: a full stream from the start needs j's
 * events to start at seq 1); its own events past the base must be the
 * stream's (they are skipped; the stream's later ones are appended). Its
 * meta `origin` records the sender's id. Afterwards the journal continues
 * from the stream's last seq: an engine attached or built earlier is
 * stale (rebuild it with cfs_journal_open_at). Errors, each naming the
 * record and what is wrong ("stream record 17 (chunk 3f2a...): checksum
 * mismatch", "stream ends after 1234 bytes, inside record 9: truncated"):
 * CFS_JE_CORRUPT (a truncated, damaged or inconsistent stream, bytes
 * after its end), CFS_JE_VERSION (a newer stream, frame or snapshot
 * format), CFS_JE_NOTFOUND (this journal lacks the base snapshot),
 * CFS_JE_DIVERGED (it holds a different state or events than the
 * stream), CFS_JE_INVAL (a full stream into a journal that does not share
 * its history), CFS_JE_READONLY, CFS_JE_FAILED, CFS_JE_NOSPC, CFS_JE_IO,
 * the read callback's failure. The transaction holds the whole stream: it
 * is limited by the disk, not by memory (FORMAT.md). `rep` (may be NULL)
 * is filled on success.
 */
int cfs_journal_receive(cfs_journal *j, cfs_stream_read_fn read, void *ctx,
                        cfs_receive_report *rep);

/* The same over a file descriptor (a pipe, a file, a socket): the stream
 * is written to fd as it is, or read from fd up to its end (a stream is
 * followed by nothing); the fd stays open. EINTR is retried; other
 * errors are CFS_JE_IO naming them (ignore SIGPIPE to get EPIPE). */
int cfs_journal_send_fd(cfs_journal *j, uint64_t since_seq, int fd, cfs_send_report *rep);
int cfs_journal_receive_fd(cfs_journal *j, int fd, cfs_receive_report *rep);

#ifdef __cplusplus
}
#endif

#endif /* CFS_JOURNAL_H */
