/*
 * internal.h — the engine's state and the helpers its files share.
 * Nothing here is part of the contract (cfs_engine.h is).
 *
 * The state machine
 * -----------------
 *   inode kinds: REGULAR_FILE, DIRECTORY, SYMBOLIC_LINK, CHARACTER_DEVICE
 *   (stdio, inodes 10-12, never linked), and the special inodes mknod makes:
 *   FIFO, SOCKET_STREAM, CHARACTER_DEVICE and BLOCK_DEVICE (with a device
 *   number), metadata only: size 0, no data, never open for I/O (an fd on
 *   one has metadata rights only). An inode lives while it is linked (nlink > 0) or
 *   an open-file description refers to it (open_refs > 0):
 *
 *        create (open O_CREAT, mkdir, symlink, mknod)
 *            |
 *            v
 *        LINKED --unlink/rmdir/rename-over, open_refs>0--> ORPHAN
 *            |                                               |
 *            | unlink/rmdir/rename-over, open_refs==0        | last close
 *            v                                               v
 *          freed  <-------------------------------------------
 *
 *   fd lifecycle: free -> open (path_open, dup, preopen, fork copy)
 *   -> renumbered / closed (close, renumber target, close_cloexec,
 *   close_all, exit) -> free. An fd points at an open-file description
 *   (offset, fdflags) which dup'ed and forked fds share; a description
 *   holds one open_ref on its inode until its last fd closes.
 *
 * Every transition happens in apply.c, and only there: the API calls in
 * the other files validate, resolve, fill a cfs_event, hand it to the sink
 * and call apply_event(). Replay calls the same apply_event().
 */
#ifndef CFS_ENGINE_INTERNAL_H
#define CFS_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include "cfs_engine.h"

/* ---- file data ----------------------------------------------------------- */

/* A block of file data: refcounted so snapshots can share it copy-on-write.
 * `cap` bytes are allocated (a power of two from 64 up to CFS_BLOCK_SIZE):
 * a small file costs what it holds, not a whole block. Bytes past `cap`
 * (within the file size) read as zeros. */
struct pool_chunk;
/* Where the bytes of blocks loaded lazily from an image are (image.c). */
struct cfs_block_source {
    uint32_t refs;       /* atomic: the owner, and each state it feeds */
    pthread_mutex_t mu;  /* one fetch at a time; guards `closed` */
    bool closed;         /* the owner is gone: fetches fail */
    cfs_image_fetch_fn fetch;
    void *ctx;
};
void source_retain(cfs_block_source *s);
void source_release(cfs_block_source *s); /* accepts NULL */

struct block {
    uint32_t refs;   /* atomic: an engine and its clones share blocks */
    uint32_t cap;
    uint8_t hashed;  /* HASH_DONE: hash is the xxh3-128 of data[0..cap)
                        (atomic: block_ensure_hash says how) */
    cfs_hash128 hash;
    /* atomic: non-NULL while the bytes are still in this source (a block
     * of an image loaded lazily: allocated, hashed, not filled). Any state
     * sharing the block holds a reference on the source. */
    cfs_block_source *src;
    struct pool_chunk *chunk; /* full blocks: data is a blockpool slot */
    uint8_t *data;            /* smaller ones: data is inline_data */
    uint8_t inline_data[];
};

/* blockpool.c: CFS_BLOCK_SIZE buffers backed by huge pages. */
void *pool_alloc(struct pool_chunk **chunk);
void pool_free(struct pool_chunk *chunk, void *mem);

/* Radix tree of blocks: a file's blocks are leaves of a tree of fan-out
 * RADIX_FANOUT whose height grows with the highest block index, so a file
 * with a byte at 2^62 costs a few nodes, not a 2^46-entry array. */
#define RADIX_SHIFT 9
#define RADIX_FANOUT (1u << RADIX_SHIFT)
#define RADIX_MAX_HEIGHT 6 /* 9*6 = 54 bits >= 47 bits of block index */

struct rnode {
    void *slot[RADIX_FANOUT];
};

struct file_data {
    unsigned height; /* 0: root is the block of index 0 (or NULL) */
    void *root;
};

/* ---- inodes and directory entries ---------------------------------------- */

struct dirent {
    struct dirent *hnext; /* chain in the state's dirent table */
    cfs_ino dir;
    cfs_ino ino;
    uint64_t cookie;
    uint64_t hash;
    uint16_t len;
    char name[]; /* NUL-terminated */
};

struct inode {
    struct inode *hnext; /* chain in the state's inode table */
    cfs_ino ino;
    uint8_t type; /* CFS_FILETYPE_* */
    uint32_t mode; /* permission bits only */
    uint32_t uid, gid;
    uint64_t nlink;
    uint64_t size;
    cfs_time atim, mtim, ctim;
    uint32_t open_refs;
    uint64_t scratch, scratch2; /* state_invalid()'s counters, not state */
    union {
        struct {
            struct file_data data;
            uint64_t charged; /* bytes of block capacity charged to budget */
        } file;
        struct {
            cfs_ino parent;
            /* entries sorted by cookie; NULL slots are removed entries,
             * squeezed out when they outnumber the live ones */
            struct dirent **ents;
            size_t n, cap, live;
            uint64_t next_cookie;
        } dir;
        struct {
            char *target;
            size_t len;
        } link;
        struct {
            uint64_t rdev; /* devices made by mknod; 0 for stdio, FIFOs, sockets */
        } special;
    } u;
};

/* Directory cookies: 1 is ".", 2 is "..", entries get 3, 4, ... */
#define DIRCOOKIE_DOT 1
#define DIRCOOKIE_DOTDOT 2
#define DIRCOOKIE_FIRST 3

/* ---- open-file descriptions, fds, processes -------------------------------- */

struct ofd {
    uint64_t id;
    uint32_t refs; /* fds pointing here, across processes */
    struct inode *inode;
    uint64_t offset;
    uint16_t fdflags;
};

struct fdent {
    struct ofd *ofd;
    cfs_rights base, inheriting;
    bool cloexec;
    bool stdio;
    char *preopen_name; /* non-NULL for a preopen: its prestat name */
    char *preopen_path; /* the guest path it was opened at */
};

struct proc {
    struct proc *next; /* list sorted by pid */
    uint32_t pid;
    struct fdent **fds; /* indexed by fd; NULL = free */
    uint32_t cap;       /* slots allocated in fds */
    uint32_t free_hint; /* no fd below this is free */
    uint32_t count;     /* open fds */
    char *cwd;
};

/* ---- the state -------------------------------------------------------------- */

struct state {
    uint64_t seq;
    cfs_ino next_ino;
    uint64_t next_ofd;
    uint32_t next_pid;

    struct inode **itab; /* inode hash table, chained */
    size_t itab_cap, icount;
    struct dirent **dtab; /* dirent hash table keyed by (dir, name) */
    size_t dtab_cap, dcount;

    struct proc *procs;

    uint64_t budget, used;

    cfs_clock_fn clock;
    void *clock_ctx;
    cfs_sink sink;

    char errmsg[256];
    /* A live event the sink accepted could not be applied (out of memory):
     * state and journal disagree, so every later mutation is EIO. */
    bool broken;
    unsigned handles; /* cfs_fs handles alive on this state */
    cfs_block_source *src; /* a reference, if it has lazy blocks */
};

struct cfs_fs {
    struct state *st;
    uint32_t pid;
    bool owner; /* the handle from cfs_fs_new: frees the state */
    uint32_t uid, gid, file_mode, dir_mode;
};

/* ---- shared helpers ------------------------------------------------------------ */

/* table.c */
struct inode *inode_get(const struct state *st, cfs_ino ino);
void inode_prefetch(const struct state *st, cfs_ino ino); /* a hint: no effect on state */
int inode_insert(struct state *st, struct inode *in);
void inode_remove(struct state *st, struct inode *in);
uint64_t name_hash(cfs_ino dir, const char *name, size_t len);
struct dirent *dirent_get(const struct state *st, cfs_ino dir,
                          const char *name, size_t len);
int dirent_table_reserve(struct state *st);
void dirent_table_insert(struct state *st, struct dirent *de);
void dirent_table_remove(struct state *st, struct dirent *de);

/* data.c */
void file_data_free(struct file_data *fd);
/* Read up to len bytes at off (*n: fewer only at the end; holes are
 * zeros). EIO if a lazy block cannot be loaded (nothing read then). */
cfs_errno file_read(const struct inode *in, void *buf, size_t len, uint64_t off,
                    size_t *n);
/* Load the lazy blocks a write of [off, off+len) or a truncation to off
 * (len 0) will change, so that applying it cannot fail for want of them:
 * callers do this before they emit the event. EIO names nothing: the
 * caller says what it was doing. */
cfs_errno file_preload(const struct inode *in, uint64_t off, uint64_t len);
/* Fill a lazy block from its source (checked against its hash); 0 at once
 * when it is filled. Any thread. */
cfs_errno block_load(struct block *b);
/* Charge (capacity bytes) a write of [off, off+len) would add. */
uint64_t file_write_cost(const struct inode *in, uint64_t off, uint64_t len);
/* Write; ENOMEM (or EIO: a lazy block that cannot be loaded) leaves the
 * file as it was. Does not touch size/budget. */
cfs_errno file_write(struct inode *in, const void *buf, uint64_t off,
                     uint64_t len, bool zero);
/* Drop data at and past `size` (blocks freed, the tail of the block holding
 * the new end zeroed); adjusts u.file.charged, not size. ENOMEM (only when a
 * shared block must be copied) leaves the file as it was. */
cfs_errno file_truncate(struct inode *in, uint64_t size);
/* Copy a file's block tree; the blocks are shared (their refs grow). */
cfs_errno file_data_clone(const struct file_data *src, struct file_data *dst);
/* Install `b` (a reference the caller gives up) as block `idx` of an
 * empty slot, growing the tree; for loading images. */
cfs_errno file_set_block(struct inode *in, uint64_t idx, struct block *b);
struct block *block_alloc(uint32_t cap); /* zeroed, refs 1 */
void block_release(struct block *b);     /* drop a reference */
void block_retain(struct block *b);
/* Visit allocated blocks in index order (for the state hash). */
typedef void (*block_visit_fn)(void *ctx, uint64_t index,
                               const struct block *b);
void file_visit_blocks(const struct inode *in, block_visit_fn fn, void *ctx);

/* state.c: the canonical walk of the state, shared by the state hash
 * and the snapshot image (FORMAT.md, "Snapshot images") */
struct walker {
    void (*u64)(struct walker *w, uint64_t v);
    void (*str)(struct walker *w, const char *s); /* NULL-able */
    void (*block)(struct walker *w, uint64_t index, struct block *b); /* hash set */
    bool stop; /* a visitor sets it to end the walk early */
};
void state_walk(const struct state *st, struct walker *w);
/* How the walk's items become bytes, for the image and the state hash
 * alike (the hash is the xxh3-128 of the image's bytes after its header):
 * integers as LEB128 varints (at most 10 bytes), strings as varint
 * length + 1 (0 for none) and their bytes. Prefix-free, so two states
 * never make one byte stream. */
static inline size_t varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        p[n++] = byte | (v ? 0x80 : 0);
    } while (v);
    return n;
}
/* Compute and cache a block's hash unless cached. Clones share blocks
 * and may be hashed on other threads at the same time: the thread that
 * claims the block (HASH_NONE -> HASH_BUSY) stores the hash and publishes
 * HASH_DONE; one that loses waits for it. After it returns, b->hash may be
 * read plainly. Only an engine holding the sole reference resets it. */
enum { HASH_NONE = 0, HASH_BUSY = 1, HASH_DONE = 2 };
void block_ensure_hash(struct block *b);

/* A FIFO, socket or device made by mknod (not stdio): metadata only. */
static inline bool inode_is_special(const struct inode *in)
{
    return in->type == CFS_FILETYPE_FIFO ||
           in->type == CFS_FILETYPE_SOCKET_STREAM ||
           in->type == CFS_FILETYPE_BLOCK_DEVICE ||
           (in->type == CFS_FILETYPE_CHARACTER_DEVICE && in->ino > CFS_INO_ROOT);
}
/* Whether the canonical walk (image, hash) carries an rdev for the inode:
 * devices made by mknod. Stdio's character devices carry none, so images
 * without special inodes are what they were before these existed. */
static inline bool inode_has_rdev(cfs_ino ino, uint8_t type)
{
    return (type == CFS_FILETYPE_BLOCK_DEVICE ||
            type == CFS_FILETYPE_CHARACTER_DEVICE) && ino > CFS_INO_ROOT;
}

/* apply.c */
cfs_errno apply_event(struct state *st, const cfs_event *ev);
void inode_to_filestat(const struct inode *in, cfs_filestat *out);
struct proc *proc_get(const struct state *st, uint32_t pid);
void proc_destroy(struct state *st, struct proc *p);
/* NULL if the state holds every invariant, else what breaks (apply.c). */
const char *state_invalid(const struct state *st);
struct fdent *fd_get(const struct proc *p, cfs_fd fd);
uint32_t fd_first_free(const struct proc *p, uint32_t min);
int fd_reserve(struct proc *p, uint32_t fd); /* room for slot fd */
void set_errmsg(struct state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
struct dirent *dir_entry_at_or_after(const struct inode *dir, uint64_t cookie);

/* fdops.c: what every call shares */
cfs_time call_now(struct state *st);
/* Number the event, hand it to the sink, apply it. */
cfs_errno emit(cfs_fs *fs, cfs_event *ev);
cfs_errno call_begin(cfs_fs *fs, struct proc **p);
/* EIO with a message: a lazy block of inode `in` could not be loaded. */
cfs_errno lazy_failed(cfs_fs *fs, const struct inode *in);
cfs_errno get_fd(cfs_fs *fs, cfs_fd fd, cfs_rights need, struct proc **p,
                 struct fdent **e);
cfs_errno get_dirfd(cfs_fs *fs, cfs_fd fd, cfs_rights need, struct proc **p,
                    struct fdent **e);
cfs_errno times_event(struct state *st, cfs_event *ev, cfs_time atim,
                      cfs_time mtim, uint16_t fst);

/* path.c */
struct resolved {
    struct inode *dir;   /* directory holding the last name; NULL for "."/".." */
    struct inode *inode; /* what the path names; NULL if it does not exist */
    bool trailing_slash; /* the path (or a followed link) ended in '/' */
    bool dot;            /* the last component was "." or ".." (or none) */
    size_t name_len;
    char name[CFS_NAME_MAX + 1];
};
#define RESOLVE_FOLLOW 0x1 /* follow a symlink in the last component */
#define RESOLVE_CREATE 0x2 /* a trailing '/' on an existing non-directory is
                              left to the caller (create ops say EEXIST) */
#define RESOLVE_PARENT 0x6 /* as Linux's filename_parentat (rename, unlink,
                              rmdir, mkdir, link/symlink targets): the last
                              component is never followed, even before a
                              trailing '/'; implies RESOLVE_CREATE */
cfs_errno resolve_path(struct state *st, struct inode *base, const char *path,
                       unsigned flags, struct resolved *out);
cfs_errno check_path_arg(const char *path);
bool dir_is_ancestor(const struct state *st, cfs_ino anc, cfs_ino of);

#endif
