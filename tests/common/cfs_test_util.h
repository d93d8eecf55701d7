/*
 * cfs_test_util.h — small helpers shared by the engine test suites.
 *
 *  - a seeded PRNG (splitmix64), so every random test replays from the seed
 *    it prints, and the CFS_TEST_SEED / CFS_TEST_OPS overrides;
 *  - a recorder sink that deep-copies every event it is handed (strings and
 *    write data included: the engine's event is only valid during append);
 *  - a tree snapshot of an engine or of a host directory, and a diff of two
 *    snapshots (names, types, sizes, contents, link counts, symlink targets,
 *    permission bits).
 *
 * Nothing here uses Criterion: helpers return values and the suites assert.
 */
#ifndef CFS_TEST_UTIL_H
#define CFS_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cfs_engine.h"

/* ---------------------------------------------------------------------- */
/* PRNG                                                                     */

/* splitmix64: tiny, fast, and good enough to drive workloads. Never use
 * rand(): its sequence differs between libcs and it has hidden state. */
typedef struct cfs_rng {
    uint64_t state;
} cfs_rng;

void cfs_rng_seed(cfs_rng *r, uint64_t seed);
uint64_t cfs_rng_next(cfs_rng *r);
/* Uniform in [0, n); n == 0 gives 0. */
uint64_t cfs_rng_below(cfs_rng *r, uint64_t n);
/* True with probability pct/100. */
int cfs_rng_chance(cfs_rng *r, unsigned pct);
void cfs_rng_bytes(cfs_rng *r, void *buf, size_t len);

/* ---------------------------------------------------------------------- */
/* Seeds and knobs from the environment                                     */

/* Environment variable `name` parsed as an unsigned number (decimal or 0x
 * hex), or `dflt` if unset or unparsable. */
uint64_t cfs_test_env_u64(const char *name, uint64_t dflt);

/* A new directory /tmp/<prefix>-XXXXXX (malloc'd path; aborts, failing
 * the test, if it cannot be made), and rm -rf of one (a warning if that
 * fails). */
char *cfs_test_tmpdir(const char *prefix);

/* Run a shell command line (printf-style; stdio flushed first): its exit
 * status, 128 + the signal that killed it, or 127 if it could not run. */
int cfs_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sleep ms milliseconds. */
void cfs_test_msleep(long ms);

/* Fill buf[0..len) with English-like text (words, spaces, newlines) drawn
 * from `seed`: what zstd shrinks at its usual levels, and not at its
 * fastest. */
void cfs_test_fill_text(char *buf, size_t len, uint64_t seed);

/* Unmount FUSE mount point `mnt` (fusermount3 -u, retried for 10 s, then
 * lazily) and wait for its mount process `pid` (60 s: closing commits
 * everything; then SIGKILL). Its exit status, 128 + signal, 126 if it was
 * not our child, 125 if it had to be killed. */
int cfs_test_fuse_unmount(pid_t pid, const char *mnt);

/* Start `BIN mount J MNT --foreground EXTRA...` (extra: NULL-terminated,
 * may be NULL) in a child that gets SIGTERM (which unmounts) if the caller
 * dies, and wait up to 60 s for MNT's st_dev to change. The child's pid,
 * or 0 with a message in err (the mount exited first, or never mounted;
 * a child still running then is killed).
 * Requests reach the mount as CFS_TEST_FUSE_TRANSPORT says: "dev" adds
 * `--io-uring off`; "io_uring" turns the kernel's FUSE over io_uring on
 * first (/sys/module/fuse/parameters/enable_uring; left on, since other
 * suites may be mounting at the same time) and fails if it cannot; unset,
 * the mount chooses (its default). */
pid_t cfs_test_fuse_mount(const char *bin, const char *j, const char *mnt,
                          const char *const *extra, char *err, size_t cap);
/* The transport the fuse suites run with (CFS_TEST_FUSE_TRANSPORT):
 * "dev", "io_uring", or "" when unset. */
const char *cfs_test_fuse_transport(void);
/* How many io_uring instances process `pid` holds open (its
 * /proc/PID/fd links to anon_inode:[io_uring]); -1 if it cannot be read. */
int cfs_test_io_urings(pid_t pid);
/* The number of CPUs the kernel counts as possible (one FUSE io_uring
 * queue each). */
int cfs_test_possible_cpus(void);
void cfs_test_rmtree(const char *dir);

/*
 * The seeds a randomized suite runs: `defaults[0..n)` copied to `out`, or
 * just the one seed in CFS_TEST_SEED if that is set. Returns the count.
 * `out` must hold n entries.
 */
size_t cfs_test_seeds(const uint64_t *defaults, size_t n, uint64_t *out);

/* ---------------------------------------------------------------------- */
/* Events                                                                   */

/* Deep copy: path, path2, name, name2 and `length` bytes of data are
 * duplicated (data only when ev->data is not NULL). Returns 0 or -1 when
 * memory runs out (dst is then zeroed and owns nothing). */
int cfs_event_copy(cfs_event *dst, const cfs_event *src);
/* Free what cfs_event_copy() allocated. Accepts NULL. */
void cfs_event_release(cfs_event *ev);
/* One line describing an event, for failure messages. Returns buf. */
char *cfs_event_format(const cfs_event *ev, char *buf, size_t len);

/*
 * A sink that keeps a deep copy of every event it accepts. Set fail_next to
 * a WASI errno to make the next append refuse with it (once; the event is
 * not kept), to check that a call whose sink refuses changes nothing.
 */
typedef struct cfs_recorder {
    cfs_event *events;
    size_t count, cap;
    cfs_errno fail_next;
    uint64_t syncs;       /* sync() calls seen */
    int oom;              /* a copy failed: the recording is incomplete */
} cfs_recorder;

/* A sink whose ctx is `rec` (zero-initialize rec first). */
cfs_sink cfs_recorder_sink(cfs_recorder *rec);
/* Free every kept event; rec is empty again (fail_next is cleared). */
void cfs_recorder_reset(cfs_recorder *rec);

/* ---------------------------------------------------------------------- */
/* Tree snapshots                                                           */

typedef struct cfs_tree_node {
    char *path;           /* relative to the walked root, e.g. "a/b" */
    uint8_t filetype;     /* CFS_FILETYPE_* */
    uint64_t size;        /* files and symlinks (directory sizes differ by fs) */
    uint64_t nlink;
    uint32_t perm;        /* mode & 07777 */
    char *data;           /* file contents or symlink target */
    size_t data_len;
} cfs_tree_node;

typedef struct cfs_tree {
    cfs_tree_node *nodes; /* sorted by path (strcmp) */
    size_t count, cap;
} cfs_tree;

/*
 * Snapshot everything reachable from the engine's root directory. File
 * contents are read by opening each file through `dirfd` (which must be
 * the root preopen, CFS_ROOT_FD normally): this emits OPEN/CLOSE events, so
 * walk only where that does not matter. Returns 0, or the first WASI errno
 * met (msg then says where).
 */
cfs_errno cfs_tree_from_engine(cfs_fs *fs, cfs_fd dirfd, cfs_tree *out,
                               char *msg, size_t msglen);
/* Snapshot everything under host directory fd `dirfd`. Returns 0 or an errno
 * (msg says where). Symlinks are not followed. */
int cfs_tree_from_host(int dirfd, cfs_tree *out, char *msg, size_t msglen);
void cfs_tree_free(cfs_tree *t);
/* 0 if equal; else 1 and msg describes the first difference, naming side
 * `a` and side `b` by the labels given. */
int cfs_tree_diff(const cfs_tree *a, const char *alabel, const cfs_tree *b,
                  const char *blabel, char *msg, size_t msglen);

/*
 * Change a closed journal's LMDB records (cfs_test_lmdb.c; the test fails
 * if they cannot be had): put key -> val in database `db` (e.g. "meta"),
 * or XOR `mask` into one byte of the record under `key` (NULL: the last
 * record), counted from its start or, when negative, from its end (-1 is
 * the last byte).
 */
void cfs_test_lmdb_put(const char *dir, const char *db, const void *key, size_t klen,
                       const void *val, size_t vlen);
void cfs_test_lmdb_flip(const char *dir, const char *db, const void *key, size_t klen,
                        long byte, uint8_t mask);
/* XOR `mask` into the byte at `off` of file `path` (again to undo;
 * cfs_test_lmdb.c: the test fails if it cannot). */
void cfs_test_flip_file_byte(const char *path, uint64_t off, uint8_t mask);
/* Delete the record under `key` (NULL: the last record) of database `db`. */
void cfs_test_lmdb_del(const char *dir, const char *db, const void *key, size_t klen);
/* Call fn on every record of database `db` of a closed journal, in key
 * order (a read-only transaction). */
void cfs_test_lmdb_foreach(const char *dir, const char *db,
                           void (*fn)(void *ctx, const void *key, size_t klen,
                                      const void *val, size_t vlen),
                           void *ctx);
/* Whether an `events` value is a pointer to a big frame (FORMAT.md, "Big
 * frames"), and where the frame is in frames.dat. */
bool cfs_test_frame_pointer(const void *val, size_t vlen, uint64_t *off, uint64_t *len);
/* Call fn on every frame of a closed journal, in seq order: a big frame
 * (`big`) read from frames.dat through its pointer, checked against the
 * pointer's copy of its header. */
void cfs_test_journal_frames(const char *dir,
                             void (*fn)(void *ctx, uint64_t seq, const uint8_t *frame,
                                        size_t len, bool big),
                             void *ctx);

/*
 * Damage a journal on disk: find the frames in DIR/data.mdb (each starts
 * with its magic "CFSF"), take frame number nf * num / den + extra (nf =
 * how many there are), and XOR the byte `byte` bytes into it with `mask`
 * (XOR again with the same arguments to undo). Returns the frame's first
 * seq (from its header), or 0 if there are fewer than 10 frames or the
 * file cannot be read or written.
 */
uint64_t cfs_test_flip_frame_byte(const char *dir, size_t num, size_t den,
                                  size_t extra, size_t byte, uint8_t mask);

#endif /* CFS_TEST_UTIL_H */
