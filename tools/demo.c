/*
 * chronofs-demo — a guided tour of the engine through its public API.
 *
 * It plays a small guest session (directories, files, writes, a rename, a
 * hard link, a symlink, a file unlinked while open and still read, dup'ed
 * fds sharing an offset), prints every event the engine hands to its sink,
 * then replays the recorded events into a fresh engine and checks that the
 * state hash matches after every step. That last part is the point of the
 * design: the events are the filesystem.
 *
 * Exit status: 0 if everything behaved and the replay matched, 1 if not.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs_engine.h"

/* ---------------------------------------------------------------------- */
/* A recording sink                                                         */

/*
 * The engine's events point into its own buffers and are valid only during
 * append(), so the recorder deep-copies each one: strings and write data.
 * It also keeps the state hash *before* each event (the engine calls
 * append() before apply()), so the replay can check every step, not just
 * the end.
 */
typedef struct cfs_recorder {
    cfs_event *events;
    cfs_hash128 *hash_before;
    size_t count, cap;
    const cfs_fs *fs;           /* the live engine, for the hashes */
} cfs_recorder;

static char *cfs_strdup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void cfs_print_event(const cfs_event *ev);

static cfs_errno cfs_recorder_append(void *ctx, const cfs_event *ev)
{
    cfs_recorder *r = ctx;
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        cfs_event *ev2 = realloc(r->events, cap * sizeof *ev2);
        if (!ev2)
            return CFS_ENOMEM;
        r->events = ev2;
        cfs_hash128 *h2 = realloc(r->hash_before, cap * sizeof *h2);
        if (!h2)
            return CFS_ENOMEM;
        r->hash_before = h2;
        r->cap = cap;
    }
    cfs_event *copy = &r->events[r->count];
    *copy = *ev;
    copy->path = cfs_strdup_or_null(ev->path);
    copy->path2 = cfs_strdup_or_null(ev->path2);
    copy->name = cfs_strdup_or_null(ev->name);
    copy->name2 = cfs_strdup_or_null(ev->name2);
    copy->data = NULL;
    if (ev->data && ev->length) {
        void *data = malloc(ev->length);
        if (!data)
            return CFS_ENOMEM;   /* the call fails and changes nothing */
        memcpy(data, ev->data, ev->length);
        copy->data = data;
    }
    r->hash_before[r->count] = cfs_fs_hash(r->fs);
    r->count++;
    cfs_print_event(copy);
    return 0;
}

static void cfs_recorder_free(cfs_recorder *r)
{
    for (size_t i = 0; i < r->count; i++) {
        free((void *)r->events[i].path);
        free((void *)r->events[i].path2);
        free((void *)r->events[i].name);
        free((void *)r->events[i].name2);
        free((void *)r->events[i].data);
    }
    free(r->events);
    free(r->hash_before);
}

/* ---------------------------------------------------------------------- */
/* Printing                                                                 */

/* Paths here are relative to the root preopen "/" (fd 3), so show them as
 * absolute; anything relative to another dirfd is shown with that fd. */
static const char *cfs_show_path(cfs_fd dirfd, const char *path, char *buf,
                                 size_t len)
{
    if (!path)
        return "?";
    if (dirfd == CFS_ROOT_FD)
        snprintf(buf, len, "/%s", path[0] == '/' ? path + 1 : path);
    else
        snprintf(buf, len, "[fd %" PRIu32 "]/%s", dirfd, path);
    return buf;
}

static void cfs_print_event(const cfs_event *ev)
{
    char a[512], b[512];
    printf("  seq %-3" PRIu64 " %-9s ", ev->seq, cfs_op_name(ev->op));
    switch (ev->op) {
    case CFS_OP_OPEN:
        printf("%s -> fd %" PRIu32 " (ino %" PRIu64 "%s%s)",
               cfs_show_path(ev->fd, ev->path, a, sizeof a), ev->fd2, ev->ino,
               ev->flags & CFS_EVF_OPEN_CREATED ? ", created" : "",
               ev->flags & CFS_EVF_OPEN_TRUNCATE ? ", truncated" : "");
        break;
    case CFS_OP_CLOSE:
        printf("fd %" PRIu32, ev->fd);
        break;
    case CFS_OP_READ:
    case CFS_OP_SEEK:
        printf("fd %" PRIu32 " offset -> %" PRIu64, ev->fd, ev->offset);
        break;
    case CFS_OP_WRITE:
        printf("fd %" PRIu32 " ino %" PRIu64 ": %" PRIu64 " bytes at %" PRIu64
               "%s", ev->fd, ev->ino, ev->length, ev->offset,
               ev->flags & CFS_EVF_WRITE_MOVES ? "" : " (pwrite)");
        break;
    case CFS_OP_MKDIR:
    case CFS_OP_RMDIR:
    case CFS_OP_UNLINK:
    case CFS_OP_MKNOD:
        printf("%s (ino %" PRIu64 ")",
               cfs_show_path(ev->fd, ev->path, a, sizeof a), ev->ino);
        break;
    case CFS_OP_RENAME:
    case CFS_OP_LINK:
        printf("%s %s %s (ino %" PRIu64 ")",
               cfs_show_path(ev->fd, ev->path, a, sizeof a),
               ev->op == CFS_OP_RENAME ? "->" : "also as",
               cfs_show_path(ev->fd2, ev->path2, b, sizeof b), ev->ino);
        break;
    case CFS_OP_SYMLINK:
        printf("%s -> \"%s\" (ino %" PRIu64 ")",
               cfs_show_path(ev->fd2, ev->path2, a, sizeof a),
               ev->path ? ev->path : "", ev->ino);
        break;
    case CFS_OP_DUP:
    case CFS_OP_RENUMBER:
        printf("fd %" PRIu32 " -> fd %" PRIu32, ev->fd, ev->fd2);
        break;
    default:
        printf("fd %" PRIu32 " ino %" PRIu64, ev->fd, ev->ino);
        break;
    }
    printf("\n");
}

static void cfs_print_hash(const char *label, cfs_hash128 h)
{
    printf("%s %016" PRIx64 "%016" PRIx64 "\n", label, h.hi, h.lo);
}

/* ---------------------------------------------------------------------- */
/* The guest session                                                        */

/* Any unexpected errno ends the demo: it is also an end-to-end test. */
#define CFS_CHECK(fs, call)                                                   \
    do {                                                                      \
        cfs_errno e_ = (call);                                                \
        if (e_) {                                                             \
            fprintf(stderr, "demo: %s:%d: %s -> %s %s\n", __FILE__, __LINE__, \
                    #call, cfs_errno_name(e_), cfs_fs_errmsg(fs));            \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

#define CFS_EXPECT(cond)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "demo: %s:%d: expected %s\n", __FILE__, __LINE__, \
                    #cond);                                                   \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

/* Files can do everything; directories everything but write (the engine
 * refuses FD_WRITE on a directory with EISDIR, as WASI runtimes do). */
#define CFS_RIGHTS_FILE CFS_RIGHTS_ALL
#define CFS_RIGHTS_DIR  (CFS_RIGHTS_ALL & ~CFS_RIGHT_FD_WRITE)

/* The injected clock: a counter, one millisecond per reading from a fixed
 * epoch, so every run of the demo prints and hashes the same. */
static cfs_time cfs_demo_clock(void *ctx)
{
    uint64_t *ticks = ctx;
    return UINT64_C(1700000000000000000) + (*ticks)++ * UINT64_C(1000000);
}

static cfs_fd cfs_open(cfs_fs *fs, cfs_fd dirfd, const char *path,
                       uint16_t oflags, uint16_t fdflags)
{
    cfs_fd fd;
    cfs_rights r = oflags & CFS_O_DIRECTORY ? CFS_RIGHTS_DIR : CFS_RIGHTS_FILE;
    CFS_CHECK(fs, cfs_path_open(fs, dirfd, CFS_LOOKUP_SYMLINK_FOLLOW, path,
                                oflags, r, r, fdflags, &fd));
    return fd;
}

static void cfs_session(cfs_fs *fs)
{
    const cfs_fd root = CFS_ROOT_FD;
    char buf[128];
    size_t n;
    uint64_t off;
    cfs_filestat st;

    printf("\n-- directories and a file\n");
    CFS_CHECK(fs, cfs_path_create_directory(fs, root, "data"));
    CFS_CHECK(fs, cfs_path_create_directory(fs, root, "data/logs"));
    cfs_fd f = cfs_open(fs, root, "data/hello.txt", CFS_O_CREAT, 0);
    CFS_CHECK(fs, cfs_fd_write(fs, f, "hello, world\n", 13, &n));
    CFS_CHECK(fs, cfs_fd_pwrite(fs, f, "chronofs\n", 9, 7, &n));
    CFS_CHECK(fs, cfs_fd_seek(fs, f, 0, CFS_WHENCE_SET, &off));
    CFS_CHECK(fs, cfs_fd_read(fs, f, buf, sizeof buf, &n));
    printf("     read back: \"%.*s\"\n", (int)n - 1, buf);
    CFS_EXPECT(n == 16 && memcmp(buf, "hello, chronofs\n", 16) == 0);

    printf("\n-- rename, hard link, symlink\n");
    CFS_CHECK(fs, cfs_path_rename(fs, root, "data/hello.txt", root,
                                  "data/greeting.txt"));
    CFS_CHECK(fs, cfs_path_link(fs, root, 0, "data/greeting.txt", root,
                                "data/logs/greeting.link"));
    CFS_CHECK(fs, cfs_path_symlink(fs, "greeting.txt", root, "data/latest"));
    CFS_CHECK(fs, cfs_fd_filestat_get(fs, f, &st));
    printf("     fd %" PRIu32 " still names ino %" PRIu64 ", nlink %" PRIu64
           "\n", f, st.ino, st.nlink);
    CFS_EXPECT(st.nlink == 2);
    CFS_CHECK(fs, cfs_path_readlink(fs, root, "data/latest", buf, sizeof buf,
                                    &n));
    printf("     /data/latest -> \"%.*s\"\n", (int)n, buf);
    cfs_fd g = cfs_open(fs, root, "data/latest", 0, 0);   /* follows it */
    CFS_CHECK(fs, cfs_fd_filestat_get(fs, g, &st));
    CFS_EXPECT(st.nlink == 2);

    printf("\n-- dup: two fds, one offset\n");
    cfs_fd d;
    CFS_CHECK(fs, cfs_fd_dup(fs, g, 10, -1, &d));
    CFS_CHECK(fs, cfs_fd_read(fs, d, buf, 6, &n));
    CFS_CHECK(fs, cfs_fd_tell(fs, g, &off));
    printf("     read 6 bytes through fd %" PRIu32 "; fd %" PRIu32
           " is now at offset %" PRIu64 "\n", d, g, off);
    CFS_EXPECT(off == 6);
    CFS_CHECK(fs, cfs_fd_close(fs, d));
    CFS_CHECK(fs, cfs_fd_close(fs, g));

    printf("\n-- a file unlinked while open\n");
    cfs_fd t = cfs_open(fs, root, "data/logs/scratch", CFS_O_CREAT, 0);
    CFS_CHECK(fs, cfs_fd_write(fs, t, "still here", 10, &n));
    CFS_CHECK(fs, cfs_path_unlink_file(fs, root, "data/logs/scratch"));
    CFS_EXPECT(cfs_path_filestat_get(fs, root, 0, "data/logs/scratch", &st) ==
               CFS_ENOENT);
    CFS_CHECK(fs, cfs_fd_pread(fs, t, buf, sizeof buf, 0, &n));
    CFS_CHECK(fs, cfs_fd_filestat_get(fs, t, &st));
    printf("     path gone, fd %" PRIu32 " reads \"%.*s\" (nlink %" PRIu64
           ")\n", t, (int)n, buf, st.nlink);
    CFS_EXPECT(n == 10 && st.nlink == 0);
    CFS_CHECK(fs, cfs_fd_close(fs, t));

    printf("\n-- unlink the original name; the hard link keeps the data\n");
    CFS_CHECK(fs, cfs_path_unlink_file(fs, root, "data/greeting.txt"));
    CFS_CHECK(fs, cfs_fd_close(fs, f));
    CFS_CHECK(fs, cfs_path_filestat_get(fs, root, 0,
                                        "data/logs/greeting.link", &st));
    CFS_EXPECT(st.nlink == 1 && st.size == 16);
    CFS_EXPECT(cfs_path_filestat_get(fs, root, CFS_LOOKUP_SYMLINK_FOLLOW,
                                     "data/latest", &st) == CFS_ENOENT);
    printf("     /data/logs/greeting.link: %" PRIu64 " bytes, nlink %" PRIu64
           "; /data/latest now dangles\n", st.size, st.nlink);

    printf("\n-- listing /data/logs by inode\n");
    cfs_dirent de;
    CFS_CHECK(fs, cfs_path_filestat_get(fs, root, 0, "data/logs", &st));
    for (uint64_t c = CFS_DIRCOOKIE_START;
         cfs_dir_next(fs, st.ino, c, &de) == 0; c = de.next)
        printf("     %-16.*s ino %" PRIu64 "\n", (int)de.name_len, de.name,
               de.ino);
}

int main(void)
{
    uint64_t ticks = 0;
    cfs_recorder rec = {0};
    cfs_config cfg = {
        .clock = cfs_demo_clock,
        .clock_ctx = &ticks,
        .sink = {.append = cfs_recorder_append, .ctx = &rec},
    };
    cfs_fs *fs = cfs_fs_new(&cfg);
    if (!fs) {
        fprintf(stderr, "demo: out of memory\n");
        return 1;
    }
    rec.fs = fs;

    printf("chronofs engine demo: every state change below is an event\n");
    cfs_session(fs);

    cfs_hash128 live = cfs_fs_hash(fs);
    printf("\n%zu events, head seq %" PRIu64 "\n", rec.count, cfs_fs_seq(fs));
    cfs_print_hash("live state hash:    ", live);

    /* Replay: a fresh engine with no sink and no clock needs nothing but
     * the events to reach the same state, step by step. */
    cfs_fs *replica = cfs_fs_new(NULL);
    int ok = replica != NULL;
    for (size_t i = 0; ok && i < rec.count; i++) {
        cfs_hash128 h = cfs_fs_hash(replica);
        if (h.lo != rec.hash_before[i].lo || h.hi != rec.hash_before[i].hi) {
            fprintf(stderr, "demo: replay diverged before seq %" PRIu64 "\n",
                    rec.events[i].seq);
            ok = 0;
            break;
        }
        cfs_errno e = cfs_fs_apply(replica, &rec.events[i]);
        if (e) {
            fprintf(stderr, "demo: apply seq %" PRIu64 ": %s %s\n",
                    rec.events[i].seq, cfs_errno_name(e),
                    cfs_fs_errmsg(replica));
            ok = 0;
        }
    }
    if (ok) {
        cfs_hash128 replayed = cfs_fs_hash(replica);
        cfs_print_hash("replayed state hash:", replayed);
        ok = replayed.lo == live.lo && replayed.hi == live.hi;
    }
    printf("%s\n", ok ? "replay matches the live state at every step"
                      : "REPLAY MISMATCH");

    cfs_fs_free(replica);
    cfs_fs_free(fs);
    cfs_recorder_free(&rec);
    return ok ? 0 : 1;
}
