/*
 * internal.h — what the files of replay/ share and nothing outside uses.
 *
 *  - sbuf: a growable string, for paths and printed lines;
 *  - track (track.c): an engine advanced event by event from seq 0 plus
 *    what the engine does not answer by inode: every inode's names (so a
 *    path is a walk up parent links, not a search), symlink targets, and
 *    every process's fd table (fd -> inode, the entry it was opened by);
 *  - reader (read.c): reading file bytes out of a state, through a clone;
 *  - filter state (filter.c), used by the stepper.
 */
#ifndef CFS_REPLAY_INTERNAL_H
#define CFS_REPLAY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfs_replay.h"

/* ---- errors -------------------------------------------------------------- */

/* snprintf into err[0..cap) when err is not NULL; returns `code`. */
int set_err(char *err, size_t cap, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- sbuf ---------------------------------------------------------------- */

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;      /* an append failed: the content is cut short */
};

void sb_free(struct sbuf *b);
void sb_reset(struct sbuf *b);                 /* empty, keeps the memory */
void sb_putn(struct sbuf *b, const void *s, size_t n);
void sb_puts(struct sbuf *b, const char *s);
void sb_putc(struct sbuf *b, char c);
void sb_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *sb_str(const struct sbuf *b);      /* "" when empty */

/* ---- track ---------------------------------------------------------------- */

struct track;

/* A tracker in the initial state (seq 0). NULL if memory runs out. */
struct track *track_new(void);
/* A tracker for the state `fs` is in (it takes fs, even on failure): names
 * from the tree, symlink targets read back, and process 1's fds as far as
 * their rights let them be asked; other processes' fds are unknown (the
 * engine cannot list them). */
struct track *track_from(cfs_fs *fs);
/* A tracker at `seq`: replayed from seq 0 when the journal has its whole
 * history, else (compacted or forked) from the state at seq, snapshot-based, with
 * *partial set (fds opened before are not all known). */
int track_open_at(cfs_journal *j, uint64_t seq, struct track **out, bool *partial,
                  char *err, size_t cap);
/* Are the journal's first events missing from it (compacted away, or a
 * fork that starts from another journal's snapshot)? */
bool track_history_missing(cfs_journal *j);
void track_free(struct track *t);
cfs_fs *track_fs(struct track *t);

/*
 * Apply ev to the engine and update the names and fds. CFS_JE_DIVERGED
 * (the engine refused it: err says seq, op, errno and the engine's
 * message) or CFS_JE_NOMEM (the tracker is then unusable: every later
 * call fails the same).
 */
int track_apply(struct track *t, const cfs_event *ev, char *err, size_t cap);

/* Apply the journal's events from cfs_fs_seq()+1 to `to` (CFS_REPLAY_HEAD:
 * the end; a `to` already reached: nothing); CFS_JE_NOTFOUND if the journal
 * ends before `to`. `hook` (may be NULL) sees each event before it is applied (so the
 * state is the one it acts on) and may stop the walk with a negative
 * code (its message in err). */
typedef int (*track_hook)(void *ctx, struct track *t, const cfs_event *ev);
int track_replay(struct track *t, cfs_journal *j, uint64_t to, track_hook hook,
                 void *hook_ctx, char *err, size_t cap);

/* Fill *out (cfs_replay.h, cfs_step) for ev in the current state; the
 * paths are built in p1 and p2. */
void track_describe(struct track *t, const cfs_event *ev, cfs_step *out,
                    struct sbuf *p1, struct sbuf *p2);

/* The inodes ev touches in the current state (cfs_filter's definition):
 * up to TRACK_MAX_TOUCH distinct non-zero inodes into out; returns how many. */
#define TRACK_MAX_TOUCH 6
int track_touches(struct track *t, const cfs_event *ev, cfs_ino *out);

/* The inode fd `fd` of process `pid` is open on, 0 if none. */
cfs_ino track_fd_ino(struct track *t, uint32_t pid, cfs_fd fd);

/* An absolute path of inode `ino` into b (reset first). *unlinked is set
 * when no name reaches it any more (the path is then its last one). */
void track_path_of(struct track *t, cfs_ino ino, struct sbuf *b, int *unlinked);

/* A symlink's target as recorded when it was made, or NULL. */
const char *track_link_target(struct track *t, cfs_ino ino);

/*
 * Resolve `path` from directory inode `base` as the engine would (see
 * engine/path.c), following the last component if follow_last (or a
 * trailing '/'). 0 with *ino the inode it names, or 0 if only the last
 * component is missing; else a WASI errno (ENOENT, ENOTDIR, ELOOP,
 * ENAMETOOLONG, ENOMEM). If dir/name are not NULL they get the entry the
 * last component is (dir 0 when the path ends in "." or ".." or names
 * the base itself), name holding CFS_NAME_MAX + 1 bytes.
 */
cfs_errno track_resolve(struct track *t, cfs_ino base, const char *path,
                        bool follow_last, cfs_ino *ino, cfs_ino *dir,
                        char *name);

/* Is the op one that adds, removes or moves directory entries? */
bool op_changes_names(const cfs_event *ev);

/* ---- reader --------------------------------------------------------------- */

/*
 * Reading file bytes out of a state. The engine reads only through an fd,
 * and opening one is an event, so the reader works on a clone of the state
 * (cfs_fs_clone: metadata copied, data shared) with its own root preopen.
 * (A read-by-inode query in the engine would make this a plain call.)
 */
struct reader {
    cfs_fs *fs;    /* the clone, owned */
    cfs_fd root;   /* its preopen of "/" */
};

int reader_open(struct reader *r, const cfs_fs *src, char *err, size_t cap);
void reader_close(struct reader *r);
/* Open absolute `path` for reading (following the last symlink if
 * follow); a WASI errno on failure. */
cfs_errno reader_file(struct reader *r, const char *path, bool follow,
                      cfs_fd *fd);
/* Read [off, off+len) completely (short only at the end of the file). */
cfs_errno reader_pread(struct reader *r, cfs_fd fd, void *buf, size_t len,
                       uint64_t off, size_t *got);
void reader_file_close(struct reader *r, cfs_fd fd);

/* ---- filter ---------------------------------------------------------------- */

struct filter {
    cfs_filter spec;
    char *path;        /* owned copy of spec.path */
    cfs_ino followed;  /* the inode the path filter follows, 0: none yet */
};

int filter_init(struct filter *f, const cfs_filter *spec, char *err,
                size_t cap);
void filter_free(struct filter *f);
/* Bind the path filter in the tracker's current state. */
void filter_start(struct filter *f, struct track *t);
/* Before ev is applied: do the criteria hold (the path one on the inode
 * followed so far)? `touch` is track_touches() before ev. */
bool filter_before(const struct filter *f, const cfs_event *ev,
                   const cfs_ino *touch, int ntouch);
/* After ev was applied: update what the path filter follows; true if it
 * started following an inode ev touched (then ev is shown, if the other
 * criteria hold). */
bool filter_after(struct filter *f, struct track *t, const cfs_event *ev,
                  const cfs_ino *touch, int ntouch);
/* The criteria other than the path (for filter_after's result). */
bool filter_basic(const struct filter *f, const cfs_event *ev,
                  const cfs_ino *touch, int ntouch);

#endif
