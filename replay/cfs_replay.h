/*
 * cfs_replay.h — chronofs replay: walk a journal's events, rebuild the state
 * at any seq, and answer "what did the guest do to this file, and when?"
 * (print, filter, verify, diff, bisect, blame).
 *
 * This header is the whole contract of replay/. Replay sits between the
 * journal and the tools (DESIGN.md): it reads a journal through
 * cfs_journal.h and rebuilds states with the engine's cfs_fs_apply(); it
 * never writes a journal.
 *
 * Conventions
 *  - Calls that can fail return 0 (or a documented positive value) or a
 *    negative CFS_JE_* code from cfs_journal.h; cfs_strerror() names it.
 *    Replay adds no codes of its own: a bad argument is CFS_JE_INVAL, a seq
 *    or path that does not exist CFS_JE_NOTFOUND, an event the engine
 *    refuses (or a state hash that differs) CFS_JE_DIVERGED, a damaged
 *    frame CFS_JE_CORRUPT, memory CFS_JE_NOMEM.
 *  - The message that says what and where ("seq 812: rename: entry `a` in
 *    directory 13 does not name inode 20") goes to the `err` buffer of the
 *    call (errcap bytes, may be NULL/0), or for handles (cursor, stepper)
 *    to their *_errmsg() function. Errors from the journal are copied there
 *    too, so one place always has the whole story.
 *  - Paths are absolute guest paths ("/data/a.txt") resolved from the guest
 *    root inode (CFS_INO_ROOT) as the engine resolves them: "." and "..",
 *    symlinks in the middle followed (at most CFS_MAX_SYMLINKS), the last
 *    component followed only where a function says so.
 *  - The journal handle must stay open while replay uses it, and replay
 *    uses it from the calling thread only. Never call replay functions on
 *    a journal from inside a cfs_journal_foreach() callback on the same
 *    journal (LMDB allows one read transaction per thread).
 *  - Rebuilding: cfs_replay_state_at() starts from the newest snapshot at
 *    or before the seq (cfs_journal_open_at) and replays the events after
 *    it. The functions that must see every event to know the names and fds
 *    of the guest (the stepper, and so log; bisect, diff, blame's second
 *    pass) replay from seq 1, or from the oldest snapshot of a compacted
 *    or forked journal: O(seq) events, about 5 million metadata
 *    events per second with their bookkeeping (2.5 million text lines or
 *    1 million JSON lines per second printed).
 *  - Nothing here is thread-safe: one thread per handle.
 */
#ifndef CFS_REPLAY_H
#define CFS_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cfs_engine.h"
#include "cfs_journal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------- */
/* Cursor: the raw events from seq A to B                                   */

typedef struct cfs_cursor cfs_cursor;

/*
 * A cursor over the committed events with from <= seq <= to of journal `j`
 * (from 0 is 1; to 0 = up to the last committed event when the cursor gets
 * there, so a cursor on a live journal also sees what is committed while
 * it walks). Frames are decoded lazily, a buffer at a time: the cursor
 * holds at most 8192 decoded events and 8 MiB of their strings and write
 * data plus the last event that crossed that line (about 10 MiB in all
 * with 1 MiB writes), plus the one frame the journal is decoding, whatever
 * the journal's size.
 * Each refill reads in a fresh LMDB read transaction, so the cursor does
 * not pin the journal between calls (a writer's old pages can be reused).
 * *out is NULL on error: CFS_JE_INVAL (to < from), CFS_JE_NOMEM.
 * Free with cfs_cursor_close().
 */
int cfs_cursor_open(cfs_journal *j, uint64_t from, uint64_t to,
                    cfs_cursor **out, char *err, size_t errcap);

/*
 * The next event: returns 1 and sets *ev, 0 at the end (no more events in
 * range), or a negative code (cfs_cursor_errmsg() says what and where:
 * CFS_JE_CORRUPT naming the damaged frame's seq, CFS_JE_NOTFOUND if the
 * range's start is not in the journal, CFS_JE_IO, CFS_JE_NOMEM). *ev and
 * everything it points to (paths, names, write data) stay valid until the
 * next call on this cursor or its close. After an error or the end, every
 * further call returns the same.
 */
int cfs_cursor_next(cfs_cursor *c, const cfs_event **ev);

/* Bytes the cursor holds now (event slots, strings, data): for progress
 * displays and to check the bound above. */
size_t cfs_cursor_memory(const cfs_cursor *c);

/* Message of the last error ("" if none). Valid until the next call. */
const char *cfs_cursor_errmsg(const cfs_cursor *c);

/* Release the cursor. Accepts NULL. */
void cfs_cursor_close(cfs_cursor *c);

/* ---------------------------------------------------------------------- */
/* State at a seq                                                           */

/* "The last committed event" for cfs_replay_state_at(). */
#define CFS_REPLAY_HEAD UINT64_MAX

/*
 * Rebuild the state after event `seq` (0: the initial state;
 * CFS_REPLAY_HEAD: the last committed event) into a new engine, created
 * with `cfg` (may be NULL: no clock, no sink, no byte budget; a sink given
 * here is not called during the rebuild, only by later live calls): the
 * newest snapshot at or before seq, checked against its recorded state
 * hash, then the events after it (cfs_journal_open_at). The result equals
 * the live state at that seq (same cfs_fs_hash). The caller owns *out and
 * frees it with cfs_fs_free(); *out is NULL on error: CFS_JE_NOTFOUND if
 * seq is past the journal's end, CFS_JE_DIVERGED if an event does not
 * reproduce its recorded outcome (the message names the seq),
 * CFS_JE_CORRUPT (a damaged frame or snapshot), CFS_JE_IO, CFS_JE_NOMEM.
 */
int cfs_replay_state_at(cfs_journal *j, uint64_t seq, const cfs_config *cfg,
                        cfs_fs **out, char *err, size_t errcap);

/* ---------------------------------------------------------------------- */
/* Filters                                                                  */

/*
 * Which events a stepper (and so a log) shows. A zeroed cfs_filter keeps
 * every event; each criterion that is set must hold (AND).
 *
 *  ops   bit (UINT64_C(1) << op) for each cfs_op to keep (0: every op);
 *        cfs_filter_parse_ops() builds it from names.
 *  pid   only events of this process (0: any).
 *  fd    with has_fd: only events that use this fd number, as `fd` (every
 *        op but SYMLINK, PREOPEN, CLOSE_CLOEXEC, CLOSE_ALL, FORK, EXIT and
 *        CHDIR, which leave it 0) or as `fd2` (OPEN's and PREOPEN's new fd,
 *        DUP's and RENUMBER's target, the dirfd of RENAME's, LINK's and
 *        SYMLINK's new entry; FORK's fd2 is a pid).
 *  ino   only events that touch this inode (below).
 *  path  follow the file this absolute path names (the last component is
 *        not followed: a symlink is followed as itself): only events that
 *        touch its inode. The inode is the one the path names in the state
 *        the walk starts from (after event from-1); if it names nothing there,
 *        the first inode it names after some event (that event is shown if
 *        it touches it: the create, rename or link that made it). From then
 *        on the filter follows the inode, not the name: across renames and
 *        through every hard link. Only if the followed inode ceases to
 *        exist (no names and no open fds left) does the filter look at the
 *        path again, so a file deleted and created anew, or replaced by a
 *        rename over it (as editors save), goes on being followed.
 *
 * An event touches an inode if the inode is its ino or ino2 (RENAME's
 * replaced file), its dir or dir2 (an entry was added, removed or renamed
 * in that directory), or the inode of the fd it uses (CLOSE, READ, SEEK,
 * DUP, RENUMBER (both fds), SET_FLAGS, SET_RIGHTS, SET_CLOEXEC), in the
 * state before the event. CLOSE_CLOEXEC, CLOSE_ALL, EXIT, FORK and CHDIR
 * touch no inode.
 */
typedef struct cfs_filter {
    uint64_t ops;
    uint32_t pid;
    int has_fd;
    cfs_fd fd;
    cfs_ino ino;
    const char *path;   /* copied by cfs_stepper_open() */
} cfs_filter;

/*
 * Parse a list of op names (cfs_op_name(): "write", "rename"...) separated
 * by commas and/or spaces into a cfs_filter.ops mask (*ops is replaced).
 * CFS_JE_INVAL for an unknown or empty name, the message naming it.
 */
int cfs_filter_parse_ops(const char *names, uint64_t *ops, char *err,
                         size_t errcap);

/* ---------------------------------------------------------------------- */
/* Stepper: events one by one, with the state they act on                   */

/*
 * One event as a person or a program wants to see it: the event and what
 * it names, resolved to absolute paths in the state *before* the event.
 *
 *   ino   the inode the event acts on: ev->ino, or for the ops that name
 *         only an fd (CLOSE, READ, SEEK, DUP, RENUMBER, SET_FLAGS,
 *         SET_RIGHTS, SET_CLOEXEC) the inode that fd is open on; 0: none.
 *   path  that object's path, the way the event reached it:
 *           OPEN, MKDIR, RMDIR, UNLINK, MKNOD, SYMLINK, RENAME (source):
 *             the entry dir/name the event used;
 *           LINK (the existing file), CHMOD, CHOWN, SET_SIZE and SET_TIMES
 *             by path: the entry the guest's path resolved to;
 *           ops through an fd (WRITE, READ, SET_SIZE by fd...): the path
 *             the fd was opened with, if that entry still names the file,
 *             else another name of the file;
 *           PREOPEN: the directory; CHDIR: the new current directory;
 *           stdio inodes: "<stdin>", "<stdout>", "<stderr>";
 *           an object no path reaches any more: its last path, with
 *             `unlinked` set; one never seen: "<inode N>".
 *         NULL for ops that name nothing (FORK, EXIT, CLOSE_ALL,
 *         CLOSE_CLOEXEC).
 *   path2 RENAME's and LINK's new entry; else NULL.
 * Everything is valid until the next call on the stepper.
 */
typedef struct cfs_step {
    const cfs_event *ev;
    cfs_ino ino;
    const char *path;
    const char *path2;
    int unlinked;
} cfs_step;

typedef struct cfs_stepper cfs_stepper;

/*
 * A stepper over events from..to of `j` (from 0 is 1; to 0 = to the end,
 * as for a cursor), showing only what `filter` keeps (NULL: everything;
 * the filter is copied). It starts in the state after event from-1: it
 * replays events 1..from-1 first, keeping the names and fds it needs to
 * resolve paths. If the journal's first events are not in it (compacted
 * away, or a fork that starts from a snapshot of another journal), it
 * starts from that state rebuilt from a snapshot instead and learns the
 * names from its tree; but the engine cannot list fds, so only process 1's
 * fds are known then (those whose rights let it ask), and an event that
 * names only an fd opened before by another process shows the fd without
 * a path and touches no inode. (The same start serves bisect and diff,
 * which need no fds.)
 * Memory: the cursor's bound, plus a record per live inode and per open fd.
 * *out is NULL on error: CFS_JE_NOTFOUND (from-1 past the end),
 * CFS_JE_INVAL (a relative filter path, to < from), the replay errors of
 * cfs_replay_state_at(). Free with cfs_stepper_close().
 */
int cfs_stepper_open(cfs_journal *j, uint64_t from, uint64_t to,
                     const cfs_filter *filter, cfs_stepper **out, char *err,
                     size_t errcap);

/*
 * Apply the next event; if the filter keeps it, return 1 with *out
 * describing it (paths resolved before it was applied). Events the filter
 * drops are applied too, silently, until one is kept or the range ends
 * (0). After it returns, cfs_stepper_fs() is the state after out->ev.
 * Negative on error (CFS_JE_DIVERGED: the event did not reproduce its
 * recorded outcome; the message names the seq), after which every call
 * returns the same error.
 */
int cfs_stepper_next(cfs_stepper *s, cfs_step *out);

/*
 * The next event in the journal, whether or not the filter keeps it,
 * described against the current state but not applied (the next
 * cfs_stepper_next() starts with it). 1, 0 at the end, or negative.
 */
int cfs_stepper_peek(cfs_stepper *s, cfs_step *out);

/*
 * The stepper's engine, in the state after the last applied event: use it
 * with the engine's read-only calls (cfs_getattr, cfs_lookup, cfs_dir_next,
 * cfs_fs_hash...) or clone it (cfs_fs_clone) to look inside files or
 * experiment. Calling a mutating function on it makes the next step fail
 * with CFS_JE_DIVERGED. Owned by the stepper.
 */
cfs_fs *cfs_stepper_fs(cfs_stepper *s);

/* The seq of the last applied event (from-1 right after opening). */
uint64_t cfs_stepper_seq(const cfs_stepper *s);

/* Message of the last error ("" if none). Valid until the next call. */
const char *cfs_stepper_errmsg(const cfs_stepper *s);

/* Release the stepper and its engine. Accepts NULL. */
void cfs_stepper_close(cfs_stepper *s);

/* ---------------------------------------------------------------------- */
/* Printers                                                                 */

/*
 * One line for people, no newline, e.g.
 *   seq 812  rename /data/a.txt -> /data/b.txt
 *   seq 813  write /data/b.txt fd 5: 4096 bytes at 0
 *   seq 814  open /data/b.txt -> fd 6 (created)
 *   seq 815  [pid 2] close fd 6 (/data/b.txt)
 * (the pid is shown when it is not 1). Control characters, backslashes and
 * bytes that are not UTF-8 are escaped (\n, \t, \\, \xNN), so a line is
 * always one line of text.
 * Writes to stdout/stderr show up to 40 bytes of what was printed.
 * Like snprintf: writes at most cap bytes including the NUL and returns
 * the length of the whole line, so a caller can retry with a larger buffer.
 */
size_t cfs_format_text(const cfs_step *s, char *buf, size_t cap);

/*
 * One JSON object for programs, no newline (JSON Lines): every non-zero
 * field of the event under its cfs_event name ("seq", "op" as its name,
 * "pid", "time", "fd", "path", "ino", "offset", "length"...), write data
 * as "data_xxh3" (xxh3-64 of the bytes, 16 hex digits) beside "length"
 * (never the bytes), and what the step resolved: "resolved_ino",
 * "resolved_path", "resolved_path2", "unlinked". Strings are JSON-escaped;
 * bytes that are not UTF-8 become U+FFFD. Returns like cfs_format_text().
 */
size_t cfs_format_json(const cfs_step *s, char *buf, size_t cap);

typedef struct cfs_log_opts {
    uint64_t from, to;         /* as for cfs_stepper_open() */
    const cfs_filter *filter;  /* NULL: every event */
    int json;                  /* JSON Lines instead of text */
} cfs_log_opts;

/*
 * Print events from..to that the filter keeps to `out`, one line each
 * (cfs_format_text or _json, then "\n"). *printed (if not NULL) counts the
 * lines. Errors as cfs_stepper_open/next, and CFS_JE_IO if `out` fails.
 */
int cfs_replay_log(cfs_journal *j, const cfs_log_opts *o, FILE *out,
                   uint64_t *printed, char *err, size_t errcap);

/* ---------------------------------------------------------------------- */
/* Verify                                                                   */

/* A state hash recorded for the state after event `seq` (snapshots). */
typedef struct cfs_verify_point {
    uint64_t seq;
    cfs_hash128 hash;
} cfs_verify_point;

typedef struct cfs_verify_opts {
    uint64_t to;                     /* last seq to check; 0 = the end */
    int snapshots;                   /* check the hash of every snapshot */
    int chunks;                      /* and every stored chunk's bytes
                                        (cfs_journal_verify_chunks), first */
    const cfs_verify_point *points;  /* more hashes, any order; may be NULL */
    size_t npoints;
} cfs_verify_opts;

/* What was wrong at cfs_verify_report.first_bad. */
enum {
    CFS_VERIFY_OK = 0,
    CFS_VERIFY_FRAME = 1,   /* a frame or snapshot failed its checks */
    CFS_VERIFY_OUTPUT = 2,  /* an event did not reproduce its outcome */
    CFS_VERIFY_HASH = 3,    /* the state hash differs from the recorded one */
    CFS_VERIFY_READ = 4,    /* the journal could not be read (I/O, a gap) */
    CFS_VERIFY_CHUNK = 5,   /* a stored file block is damaged (no seq) */
};

typedef struct cfs_verify_report {
    uint64_t from_seq;        /* the state it started from: 0, or the oldest
                                 snapshot of a compacted or forked journal */
    uint64_t events;          /* events checked and applied */
    uint64_t last_seq;        /* the last good seq */
    uint64_t hashes;          /* state hashes compared */
    uint64_t chunks;          /* chunks checked (with o->chunks) */
    uint64_t first_bad;       /* the first seq that failed; 0: none */
    int problem;              /* CFS_VERIFY_* */
} cfs_verify_report;

/*
 * Check the journal from seq 1 (a compacted or forked journal: from its
 * oldest snapshot, loaded and checked against its recorded hash) up to o->to in
 * one pass: every frame
 * (header, xxh3 checksum, decompression, records, seq continuity), every
 * event's recorded outcome (it is applied to a fresh engine, which
 * refuses an event whose fd, inode or description numbers, or whose
 * entries, differ from what it would produce), and the state hash after
 * the seq of every snapshot (with o->snapshots: the hash its record holds,
 * compared with the replayed state's, so a snapshot that does not match
 * its history is found) and of every o->points entry (hashes recorded
 * elsewhere; a point at seq 0 checks the initial state). Stops at the
 * first problem in seq order and reports it in *rep (always filled; may
 * be NULL) with a message naming the seq. Returns 0 if everything holds; CFS_JE_CORRUPT (frame),
 * CFS_JE_DIVERGED (outcome or hash), CFS_JE_NOTFOUND (a point past the
 * end, or the journal ends before o->to), CFS_JE_INVAL, CFS_JE_IO,
 * CFS_JE_NOMEM. o may be NULL.
 */
int cfs_replay_verify(cfs_journal *j, const cfs_verify_opts *o,
                      cfs_verify_report *rep, char *err, size_t errcap);

/* ---------------------------------------------------------------------- */
/* Diff two seqs                                                            */

enum { CFS_DIFF_ADDED = 1, CFS_DIFF_REMOVED = 2, CFS_DIFF_CHANGED = 3 };

/* Bits of cfs_diff_entry.changed. */
#define CFS_DIFF_TYPE    0x1u  /* file type */
#define CFS_DIFF_SIZE    0x2u  /* size (files and symlinks) */
#define CFS_DIFF_CONTENT 0x4u  /* file bytes (set with SIZE when sizes differ) */
#define CFS_DIFF_MODE    0x8u  /* permission bits */
#define CFS_DIFF_TARGET  0x10u /* symlink target */
#define CFS_DIFF_RDEV    0x20u /* device number (block/character devices) */

/* One side of a path in a diff; filetype 0 where the path does not exist. */
typedef struct cfs_diff_side {
    cfs_ino ino;
    uint8_t filetype;       /* CFS_FILETYPE_* */
    uint32_t mode;          /* permission bits (07777) */
    uint64_t size;
    const char *target;     /* symlink target, else NULL */
    uint64_t rdev;          /* device number of a device, else 0 */
} cfs_diff_side;

typedef struct cfs_diff_entry {
    const char *path;       /* absolute */
    int kind;               /* CFS_DIFF_ADDED / REMOVED / CHANGED */
    unsigned changed;       /* CFS_DIFF_* bits, for CHANGED */
    cfs_diff_side a, b;     /* before (seq a) and after (seq b) */
} cfs_diff_entry;

typedef struct cfs_diff cfs_diff;

/*
 * What changed between the state after seq `a` and the state after seq `b`
 * (either order; 0 is the initial state, CFS_REPLAY_HEAD the last event):
 * every path reachable from the root in one state and not the other
 * (ADDED, REMOVED), and every path in both whose type, permission bits,
 * size, content (regular files), target (symlinks) or device number
 * (devices; FIFOs and sockets have only type and mode) differ (CHANGED).
 * Directory sizes and times are not compared. A type change is one
 * CHANGED entry (the children of a replaced directory appear on their
 * own). Entries are sorted by path (strcmp order). Contents are compared
 * byte for byte, but only for files whose inode differs between the two
 * states or had data written, truncated or allocated between them.
 * Cost: a replay to max(a, b), a clone of the state at min(a, b) (and of
 * the other if some file must be read), and reading those files. The caller frees *out with cfs_diff_free().
 * Errors: those of cfs_replay_state_at(), CFS_JE_NOMEM.
 */
int cfs_replay_diff(cfs_journal *j, uint64_t a, uint64_t b, cfs_diff **out,
                    char *err, size_t errcap);

/* Number of entries, and entry i (0 <= i < count); owned by the diff. */
size_t cfs_diff_count(const cfs_diff *d);
const cfs_diff_entry *cfs_diff_get(const cfs_diff *d, size_t i);
/* Accepts NULL. */
void cfs_diff_free(cfs_diff *d);

/* ---------------------------------------------------------------------- */
/* Bisect                                                                   */

enum {
    CFS_BISECT_EXISTS = 1,    /* `path` names something */
    CFS_BISECT_MISSING = 2,   /* `path` names nothing */
    CFS_BISECT_CONTAINS = 3,  /* `path` is (a symlink to) a regular file
                                 whose bytes contain bytes[0..len) */
};

typedef struct cfs_bisect_pred {
    int kind;                 /* CFS_BISECT_* */
    const char *path;         /* absolute */
    const void *bytes;        /* CONTAINS: the needle (len 0: any file) */
    size_t len;
} cfs_bisect_pred;

typedef struct cfs_bisect_result {
    uint64_t seq;             /* the first seq where it became true; 0: never */
    int held_before;          /* it held in the state before `from` */
    uint64_t events;          /* events examined, from `from` on */
} cfs_bisect_result;

/*
 * The first seq s in from..to (from 0 is 1; to 0 = the end) at which the
 * predicate *becomes* true: it holds in the state after s and not in the
 * state after s-1. (So "missing" finds a deletion, not the empty start.)
 * EXISTS and MISSING do not follow a last symlink (a dangling symlink
 * exists); CONTAINS follows it, as reading the file would.
 * Exact, by linear replay: the predicate is re-evaluated after every event
 * that can change it (entries along the path, or the data of the file it
 * names). For CONTAINS, a write, truncate or allocate of that file is
 * checked by reading only the changed bytes plus len-1 around them while
 * the predicate is false, the whole file when the path starts naming
 * another file or while it is true; reading goes through a clone of the
 * state (cfs_fs_clone, O(metadata) each). Cost: O(to) events + those
 * reads. Returns 0 with *res filled (seq 0 if it never becomes true), or
 * the replay errors, CFS_JE_INVAL for a bad predicate.
 */
int cfs_replay_bisect(cfs_journal *j, const cfs_bisect_pred *p, uint64_t from,
                      uint64_t to, cfs_bisect_result *res, char *err,
                      size_t errcap);

/* ---------------------------------------------------------------------- */
/* Blame                                                                    */

/* What put the bytes of a range where they are. */
enum {
    CFS_BLAME_WRITE = 1,     /* written by a WRITE */
    CFS_BLAME_SET_SIZE = 2,  /* zeros from growing the file by set_size */
    CFS_BLAME_ALLOCATE = 3,  /* zeros from growing the file by allocate */
    CFS_BLAME_HOLE = 4,      /* zeros never written: the gap a WRITE past
                                the end left (the event is that write) */
    CFS_BLAME_EARLIER = 5,   /* bytes the file held at the oldest snapshot
                                (`seq`) of a compacted or forked journal:
                                the events before it are not in it */
};

/* The fd of a range no fd wrote: a set_size by path, an EARLIER range. */
#define CFS_BLAME_NO_FD UINT32_MAX

typedef struct cfs_blame_range {
    uint64_t start, end;     /* [start, end) bytes of the file */
    int kind;                /* CFS_BLAME_* */
    uint64_t seq;            /* the event */
    uint32_t pid;
    cfs_fd fd;               /* the fd it wrote through, or CFS_BLAME_NO_FD */
    const char *path;        /* the file's path as that event reached it
                                (cfs_step.path at the time) */
} cfs_blame_range;

typedef struct cfs_blame cfs_blame;

/*
 * For the regular file `path` names after event `seq` (CFS_REPLAY_HEAD:
 * the last; the last component is followed if it is a symlink), which
 * event last gave each byte its value: disjoint ranges in order covering
 * [0, size) exactly (none for an empty file). Writes claim their bytes; a
 * set_size or allocate that grows the file claims the new zeros; a write
 * past the end leaves a HOLE range for the gap; truncation (set_size,
 * O_TRUNC) cuts ranges. Allocate over existing bytes changes nothing. If
 * the journal was compacted or forked, the history starts at its oldest
 * snapshot and what the file held there is one EARLIER range.
 * Cost: two replays to seq (one to find the file, one to follow its
 * history); memory O(ranges + events that touched the file).
 * The caller frees *out with cfs_blame_free(). Errors: CFS_JE_NOTFOUND
 * (nothing at path), CFS_JE_INVAL (not a regular file, relative path),
 * and those of cfs_replay_state_at().
 */
int cfs_replay_blame(cfs_journal *j, const char *path, uint64_t seq,
                     cfs_blame **out, char *err, size_t errcap);

/* The file's size and inode at that seq. */
uint64_t cfs_blame_size(const cfs_blame *b);
cfs_ino cfs_blame_ino(const cfs_blame *b);
/* Number of ranges, and range i; owned by the blame. */
size_t cfs_blame_count(const cfs_blame *b);
const cfs_blame_range *cfs_blame_get(const cfs_blame *b, size_t i);
/* Accepts NULL. */
void cfs_blame_free(cfs_blame *b);

/* ---------------------------------------------------------------------- */
/* Host directories: restore a state to one, import one into an engine      */

/* Who owns restored files: the guest's uid/gid, or whoever restores. */
enum {
    CFS_OWNERS_AUTO = 0,   /* restore: the guest's when running as root;
                              import: do not record owners */
    CFS_OWNERS_KEEP = 1,   /* restore: always (fails where not permitted);
                              import: record the host's uid/gid (chown) */
    CFS_OWNERS_NONE = 2,   /* never */
};

typedef struct cfs_hostdir_report {
    uint64_t files;      /* regular files made (each inode once) */
    uint64_t dirs;       /* directories made (not counting the top one) */
    uint64_t symlinks;   /* symlinks made (each inode once) */
    uint64_t links;      /* extra names of an inode made as hard links */
    uint64_t bytes;      /* sum of the regular files' sizes (each inode once) */
    uint64_t skipped;    /* entries left out (skip_special) */
    uint64_t specials;   /* FIFOs, sockets and devices made (each inode once) */
} cfs_hostdir_report;

typedef cfs_hostdir_report cfs_restore_report;
typedef cfs_hostdir_report cfs_import_report;

/* Called now and then (about every 1024 entries, and once at the end)
 * from the calling thread with the counts so far. */
typedef void (*cfs_hostdir_progress_fn)(void *ctx,
                                        const cfs_hostdir_report *sofar);

typedef struct cfs_restore_opts {
    int owners;          /* CFS_OWNERS_*: chown to the guest's uid/gid */
    int skip_special;    /* FIFOs and sockets are made (mknod), and
                            devices when the process may (CAP_MKNOD):
                            with this set, a device mknod refuses (EPERM)
                            is left out instead of failing the restore */
    int sync;            /* make it all durable at the end: one syncfs(2) */
    unsigned threads;    /* threads in all, at most 16: 0 = the default
                            (2); 1 = the calling thread does everything;
                            n > 1: it walks and makes the entries while
                            n - 1 threads write file contents (faster
                            where a core is idle) */
    cfs_hostdir_progress_fn progress;  /* may be NULL */
    void *progress_ctx;
} cfs_restore_opts;

/*
 * Materialize what `guest_path` (absolute; "/" usually; a last symlink is
 * followed; it must name a directory) holds in state `fs` as host
 * directory `host_dir`: the directory's entries, recursively, become
 * files (their bytes; holes stay holes, unwritten: the copy is sparse),
 * directories, symlinks (targets stored as they are, never followed),
 * FIFOs, sockets and devices (mknod, with their device numbers; devices
 * only with CAP_MKNOD, see skip_special) and for an inode with several
 * names, one file and hard links to it (link(2)). Then, on each object: owner (see cfs_restore_opts.owners; chown comes
 * before chmod so set-id bits survive it), mode (every bit of 07777, set
 * after the content is written; symlinks keep the host's 0777) and atime
 * and mtime to the nanosecond (directories after their entries, so making
 * those does not move their mtime; symlinks themselves, not followed). The
 * top directory `guest_path` gives its mode, owner and times to host_dir.
 * The guest's ctime, and inodes no name reaches (unlinked while open),
 * are not restored.
 *
 * host_dir must not exist (it is made, mode 0700 until the end; its
 * parent must exist) or be an empty directory (a symlink to one is
 * followed: that one path is the caller's). Nothing is ever written
 * outside it: every object is made relative to a directory fd of its own
 * parent with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW semantics (openat, mkdirat,
 * symlinkat, linkat), so no symlink, the guest's or one raced in, is
 * followed while writing. Files are opened O_CREAT|O_EXCL and written
 * with pwrite from the engine's blocks (cfs_file_extents), with no fsync
 * unless o->sync. `fs` is only read; with threads > 1 from several
 * threads, so no other thread may mutate it (or hash it) meanwhile.
 * Names are bytes and go to the host as they are. Not running as root, a
 * hard link whose first name is in a directory already given a mode
 * without search permission fails (EACCES).
 *
 * o may be NULL (defaults); rep (may be NULL) gets the counts, also after
 * a failure (what was made before it). Returns 0, or: CFS_JE_NOTFOUND
 * (guest_path names nothing), CFS_JE_INVAL (guest_path not a directory or
 * not absolute, host_dir not empty or not a directory, an inode the host
 * cannot have without skip_special, a bad option), CFS_JE_NOSPC (ENOSPC
 * or EDQUOT on the host), CFS_JE_NOMEM, CFS_JE_IO (any other host error).
 * The message names the object and the call:
 *   "restore: /data/a.txt: write: No space left on device".
 * On failure what was made so far is left in place (directories being
 * filled, host_dir too, lack their final mode and times): remove
 * host_dir to retry.
 */
int cfs_restore_dir(cfs_fs *fs, const char *guest_path, const char *host_dir,
                    const cfs_restore_opts *o, cfs_restore_report *rep,
                    char *err, size_t errcap);

/*
 * cfs_restore_dir() of the whole tree ("/") of the state after event `seq`
 * of `j` (0: the initial state; CFS_REPLAY_HEAD: the last committed
 * event), rebuilt as cfs_replay_state_at() does. Errors: those of
 * cfs_replay_state_at() and of cfs_restore_dir().
 */
int cfs_replay_restore(cfs_journal *j, uint64_t seq, const char *host_dir,
                       const cfs_restore_opts *o, cfs_restore_report *rep,
                       char *err, size_t errcap);

typedef struct cfs_import_opts {
    int owners;          /* CFS_OWNERS_KEEP: record uid/gid (chown);
                            else the engine's creds stay (cfs_fs_set_creds) */
    int skip_special;    /* leave out FIFOs, sockets and devices instead of
                            recording them (mknod, with their device
                            numbers: metadata only, never opened) */
    cfs_fd dirfd;        /* the engine's directory fd guest paths resolve
                            from; 0 = CFS_ROOT_FD (the root preopen) */
    cfs_hostdir_progress_fn progress;  /* may be NULL */
    void *progress_ctx;
} cfs_import_opts;

/*
 * Record host directory `host_dir` (a symlink to one is followed: that one
 * path is the caller's) into engine `fs` at `guest_path` (absolute,
 * resolved from o->dirfd; an existing directory, or made if missing with
 * its parent existing), through the engine's ordinary calls, so with a
 * journal sink everything becomes events: directories (mkdir), regular
 * files (open O_CREAT|O_EXCL, read in 1 MiB pieces and written with
 * pwrite; a CFS_BLOCK_SIZE block of zeros is left a hole, the size set at
 * the end), symlinks (as symlinks, targets as they are: host symlinks are
 * never followed), FIFOs, sockets and devices (mknod with the host's
 * type, and device number for devices; never opened), several names of one host inode ((st_dev, st_ino)) as
 * hard links (path_link), then owner (chown, with CFS_OWNERS_KEEP), mode
 * (chmod; not for symlinks, whose mode is 0777) and atime/mtime
 * (directories after their entries; the top one's go to guest_path).
 * Deterministic: entries are visited in byte-wise name order, depth
 * first, and each file's events depend on its bytes only (not on the
 * host's layout of holes), so importing equal trees into fresh engines
 * with the same config and clock gives equal states (cfs_fs_hash). Host atimes are read before anything is read, files
 * and directories are opened O_NOATIME where allowed, and the atime of a
 * symlink, which readlink(2) moves, is put back where allowed: importing
 * a tree leaves its times as they were.
 *
 * rep (may be NULL) gets the counts, also after a failure. Returns 0, or:
 * CFS_JE_INVAL (what the engine cannot hold: a name that exists in the guest already, a path
 * too long for the engine, a time before 1970; guest_path not absolute
 * or not a directory, host_dir not a directory),
 * CFS_JE_NOSPC (the engine's byte budget), CFS_JE_NOMEM, CFS_JE_IO (a
 * host read failed, a file changed while being read, the engine's sink
 * refused an event). The message names the host path or guest path and
 * the call ("import: /src/a.txt: read: Input/output error"). On failure
 * what was recorded so far stays recorded (events are not taken back).
 */
int cfs_import_dir(cfs_fs *fs, const char *host_dir, const char *guest_path,
                   const cfs_import_opts *o, cfs_import_report *rep,
                   char *err, size_t errcap);

#ifdef __cplusplus
}
#endif

#endif /* CFS_REPLAY_H */
