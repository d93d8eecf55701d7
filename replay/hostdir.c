/*
 * hostdir.c — host directories: restore a state's tree as one, and import
 * one into an engine as events.
 *
 * Restore
 * -------
 *   walk (calling thread)                      file writers (threads > 1)
 *   guest dir stack, one host dir fd each      take a job: the open fd
 *   dir entry -> mkdirat + openat O_NOFOLLOW   pwrite(v) the extents,
 *             -> symlinkat + owner, times      ftruncate to the size,
 *             -> linkat (a known inode)        owner, mode, times, close
 *             -> openat O_CREAT|O_EXCL -> job
 *   end of a dir -> owner, mode, times (post-order: its entries exist)
 * With one thread (threads = 1; the default is 2, see DEFAULT_THREADS)
 * the walk does the writers' part itself, file by file.
 *
 * Safety: every object is made relative to an fd on its parent, which we
 * made ourselves (mkdirat, then openat with O_NOFOLLOW|O_DIRECTORY), and
 * no call follows the last component (open with O_EXCL|O_NOFOLLOW, mkdirat
 * and symlinkat never follow, linkat without AT_SYMLINK_FOLLOW,
 * AT_SYMLINK_NOFOLLOW for owner and times of symlinks). A guest symlink is
 * only ever a symlink on the host: nothing is made through one. The one
 * path walked from the top is a hard link's source, made of directories
 * this restore created.
 *
 * File contents go straight from the engine's blocks (cfs_file_extents)
 * to the host (pwritev of adjacent blocks together); holes are skipped
 * and the size set with ftruncate, so they stay holes. Metadata of a file
 * is set after its content (a write may clear set-id bits; chown before
 * chmod, as chown clears them too), and only what creating it did not
 * already get right (owner, mode less the umask): a small file costs
 * openat, pwritev, futimens and close. The engine is only read, through
 * calls that write nothing inside it, so writers can share it with the
 * walk.
 *
 * Import
 * ------
 * Depth first, each directory's names sorted byte-wise: the same tree
 * gives the same calls, so the same events and state. A file's events
 * depend only on its bytes: it is read in 1 MiB windows aligned to 1 MiB
 * (windows the host says are holes, SEEK_DATA, are skipped: they would
 * read as zeros), each run of non-zero CFS_BLOCK_SIZE blocks inside a
 * window is one pwrite, and a file whose last block is zeros gets its
 * size from set_size. Times are taken from stat before anything is read,
 * files and directories are read O_NOATIME, and the atime a readlink
 * moves is put back: importing a tree leaves it as it was, so importing
 * it again gives the same state.
 */
#define _GNU_SOURCE /* O_NOATIME, SEEK_DATA, syncfs */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

#define NS_PER_S UINT64_C(1000000000)
#define PROGRESS_EVERY 1024u
#define MAX_THREADS 16u
/* Threads when the caller does not say. Measured on the 2-core dev VM
 * (20,000 files, 150 MB): with a core idle, to tmpfs 1 thread 0.20 s,
 * 2 threads 0.115 s, 3 threads 0.11-0.26 s; to ext4 1 thread 0.50-0.83 s,
 * 2 threads 0.34-0.38 s (zstd -d | tar -x: 0.64-0.78 s). With both cores
 * busy with other work 2 threads cost ~7% more than 1 (the hand-off). */
#define DEFAULT_THREADS 2u

static int host_code(int e)
{
    if (e == ENOSPC || e == EDQUOT)
        return CFS_JE_NOSPC;
    if (e == ENOMEM)
        return CFS_JE_NOMEM;
    return CFS_JE_IO;
}

static int guest_code(cfs_errno e)
{
    switch (e) {
    case CFS_ENOSPC: return CFS_JE_NOSPC;
    case CFS_ENOMEM: return CFS_JE_NOMEM;
    case CFS_EIO: return CFS_JE_IO;
    default: return CFS_JE_INVAL;
    }
}

static void sb_cut(struct sbuf *b, size_t len)
{
    if (b->p && len <= b->len) {
        b->len = len;
        b->p[len] = 0;
    }
}

static struct timespec to_timespec(cfs_time t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / NS_PER_S),
                          .tv_nsec = (long)(t % NS_PER_S)};
    return ts;
}

/* ---- a map from a pair of numbers to a path ---------------------------------
 * The first name made of an inode with several names: restore keys it by
 * guest inode (b = 0), import by host (st_dev, st_ino). */

struct link_ent {
    uint64_t a, b;
    char *path;   /* NULL: empty slot */
};

struct link_map {
    struct link_ent *e;
    size_t cap, n;
};

static size_t link_slot(const struct link_map *m, uint64_t a, uint64_t b)
{
    uint64_t h = (a ^ (b * UINT64_C(0x9e3779b97f4a7c15))) * UINT64_C(0xff51afd7ed558ccd);
    size_t i = (size_t)(h >> 17) & (m->cap - 1);
    while (m->e[i].path && (m->e[i].a != a || m->e[i].b != b))
        i = (i + 1) & (m->cap - 1);
    return i;
}

static const char *link_get(const struct link_map *m, uint64_t a, uint64_t b)
{
    return m->cap ? m->e[link_slot(m, a, b)].path : NULL;
}

/* Keep a copy of `path` for (a, b), which must not be there. -1: memory. */
static int link_put(struct link_map *m, uint64_t a, uint64_t b, const char *path)
{
    if (2 * (m->n + 1) > m->cap) {
        size_t ncap = m->cap ? 2 * m->cap : 64;
        struct link_ent *ne = calloc(ncap, sizeof(*ne));
        if (!ne)
            return -1;
        struct link_map nm = {ne, ncap, m->n};
        for (size_t i = 0; i < m->cap; i++)
            if (m->e[i].path)
                ne[link_slot(&nm, m->e[i].a, m->e[i].b)] = m->e[i];
        free(m->e);
        *m = nm;
    }
    char *p = strdup(path);
    if (!p)
        return -1;
    struct link_ent *s = &m->e[link_slot(m, a, b)];
    s->a = a;
    s->b = b;
    s->path = p;
    m->n++;
    return 0;
}

static void link_free(struct link_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->e[i].path);
    free(m->e);
    memset(m, 0, sizeof(*m));
}

/* ======================================================================== */
/* Restore                                                                  */

struct rjob {
    int fd;
    cfs_ino ino;
    cfs_filestat st;
    bool chown, chmod;  /* what creating the file did not do already */
    char *path;   /* the guest path, for messages; NULL: the walk's path
                     (no writers: the walk writes the file while it is
                     there) */
};

struct restore {
    cfs_fs *fs;
    const cfs_restore_opts *o;
    bool owners;
    /* What a new file gets without asking: the creator's uid and gid,
     * and the mode given to open() less the umask (-1: unknown). A file
     * whose owner and mode are those needs no fchown or fchmod: two
     * syscalls of the six a small file costs. */
    uid_t euid;
    gid_t egid;
    bool gid_inherited;  /* the top has set-gid: new files take its gid */
    int umask;
    int top_fd;
    struct sbuf path;   /* guest path of the current object */
    size_t rel_at;      /* where the path below the top begins in `path` */
    struct link_map links;  /* guest ino -> path below the top */
    cfs_hostdir_report rep;
    char target[CFS_PATH_MAX + 1];
    uint64_t entries;

    /* file writers; when nthreads == 0 the walk writes files itself */
    unsigned nthreads;
    pthread_t th[MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t can_take, can_put;
    struct rjob *q;
    size_t qcap, qhead, qlen;
    bool closing;

    /* the first failure, from any thread (under mu when there are writers) */
    int failed;          /* its code, 0: none */
    char *err;
    size_t errcap;
};

static void r_lock(struct restore *r)
{
    if (r->nthreads)
        pthread_mutex_lock(&r->mu);
}

static void r_unlock(struct restore *r)
{
    if (r->nthreads)
        pthread_mutex_unlock(&r->mu);
}

/* The code of the first failure, 0 if none yet. */
static int r_failed(struct restore *r)
{
    r_lock(r);
    int code = r->failed;
    r_unlock(r);
    return code;
}

/* Note a failure of `what` on `path` (the first one is the one reported);
 * returns its code. */
static int r_fail(struct restore *r, int code, const char *path,
                  const char *what, const char *why)
{
    r_lock(r);
    if (!r->failed) {
        r->failed = code;
        set_err(r->err, r->errcap, code, "restore: %s: %s%s%s", path, what,
                why ? ": " : "", why ? why : "");
    }
    r_unlock(r);
    return code;
}

static int r_host_fail(struct restore *r, int e, const char *path,
                       const char *what)
{
    return r_fail(r, host_code(e), path, what, strerror(e));
}

static const char *r_path(const struct restore *r)
{
    return sb_str(&r->path);
}

/* ---- one file's content and metadata ---------------------------------- */

#define WRITE_IOV 64

struct fwrite {
    int fd;
    uint64_t off;    /* where the gathered run starts */
    uint64_t len;    /* its length */
    uint64_t end;    /* the end of the data written so far */
    int err;         /* errno of a failed write */
    int niov;
    struct iovec iov[WRITE_IOV];
};

static int fw_flush(struct fwrite *w)
{
    struct iovec *iov = w->iov;
    int n = w->niov;
    uint64_t off = w->off;
    while (n > 0) {
        ssize_t k = pwritev(w->fd, iov, n, (off_t)off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return w->err = errno;
        }
        if (k == 0)
            return w->err = EIO;
        off += (uint64_t)k;
        /* a short write: go on from where it stopped */
        while (n > 0 && (size_t)k >= iov->iov_len) {
            k -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + k;
            iov->iov_len -= (size_t)k;
        }
    }
    if (w->off + w->len > w->end)
        w->end = w->off + w->len;
    w->niov = 0;
    w->len = 0;
    return 0;
}

static int fw_extent(void *ctx, uint64_t off, const void *data, size_t len)
{
    struct fwrite *w = ctx;
    if (w->niov && (off != w->off + w->len || w->niov == WRITE_IOV))
        if (fw_flush(w))
            return 1;
    if (!w->niov)
        w->off = off;
    w->iov[w->niov].iov_base = (void *)data;
    w->iov[w->niov].iov_len = len;
    w->niov++;
    w->len += len;
    return 0;
}

/* Content, then owner, mode, times; closes job->fd. */
static int restore_file(struct restore *r, struct rjob *job)
{
    struct fwrite w = {.fd = job->fd};
    const char *path = job->path ? job->path : r_path(r);
    int rc = 0;
    cfs_errno e = cfs_file_extents(r->fs, job->ino, fw_extent, &w, NULL);
    if (!e && w.niov)
        fw_flush(&w);
    if (w.err) {
        rc = r_host_fail(r, w.err, path, "write");
    } else if (e) {
        rc = r_fail(r, CFS_JE_IO, path, "read from the state", cfs_errno_name(e));
    } else if (w.end < job->st.size && ftruncate(job->fd, (off_t)job->st.size)) {
        rc = r_host_fail(r, errno, path, "set size");
    } else if (job->chown && fchown(job->fd, job->st.uid, job->st.gid)) {
        rc = r_host_fail(r, errno, path, "chown");
    } else if (job->chmod && fchmod(job->fd, job->st.mode & 07777)) {
        rc = r_host_fail(r, errno, path, "chmod");
    } else {
        struct timespec ts[2] = {to_timespec(job->st.atim),
                                 to_timespec(job->st.mtim)};
        if (futimens(job->fd, ts))
            rc = r_host_fail(r, errno, path, "set times");
    }
    if (close(job->fd) && !rc)
        rc = r_host_fail(r, errno, path, "close");
    job->fd = -1;
    return rc;
}

static void *writer_main(void *arg)
{
    struct restore *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->qlen && !r->closing)
            pthread_cond_wait(&r->can_take, &r->mu);
        if (!r->qlen)
            break; /* closing and drained */
        struct rjob job = r->q[r->qhead];
        r->qhead = (r->qhead + 1) % r->qcap;
        r->qlen--;
        pthread_cond_signal(&r->can_put);
        bool skip = r->failed != 0;
        pthread_mutex_unlock(&r->mu);
        if (skip)
            close(job.fd); /* after a failure: only release what is queued */
        else
            restore_file(r, &job);
        free(job.path);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* Hand a file to a writer (or write it now, without writers). The job's
 * fd and path are the writer's from here on. */
static int submit_file(struct restore *r, struct rjob *job)
{
    if (!r->nthreads)
        return restore_file(r, job);
    pthread_mutex_lock(&r->mu);
    while (r->qlen == r->qcap)
        pthread_cond_wait(&r->can_put, &r->mu);
    r->q[(r->qhead + r->qlen) % r->qcap] = *job;
    r->qlen++;
    pthread_cond_signal(&r->can_take);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static int writers_start(struct restore *r, unsigned n)
{
    r->qcap = 64 * n; /* bounds the fds held open by queued files */
    if (!(r->q = calloc(r->qcap, sizeof(*r->q))))
        return -1;
    if (pthread_mutex_init(&r->mu, NULL))
        return -1;
    if (pthread_cond_init(&r->can_take, NULL) || pthread_cond_init(&r->can_put, NULL)) {
        pthread_mutex_destroy(&r->mu);
        return -1;
    }
    r->nthreads = n;
    for (unsigned i = 0; i < n; i++) {
        if (pthread_create(&r->th[i], NULL, writer_main, r)) {
            r->nthreads = i; /* those started are joined at the end */
            break;
        }
    }
    if (!r->nthreads) {
        pthread_cond_destroy(&r->can_take);
        pthread_cond_destroy(&r->can_put);
        pthread_mutex_destroy(&r->mu);
    }
    return 0;
}

static void writers_stop(struct restore *r)
{
    if (r->nthreads) {
        pthread_mutex_lock(&r->mu);
        r->closing = true;
        pthread_cond_broadcast(&r->can_take);
        pthread_mutex_unlock(&r->mu);
        for (unsigned i = 0; i < r->nthreads; i++)
            pthread_join(r->th[i], NULL);
        pthread_cond_destroy(&r->can_take);
        pthread_cond_destroy(&r->can_put);
        pthread_mutex_destroy(&r->mu);
        r->nthreads = 0; /* from here on r_lock() is a no-op */
    }
    free(r->q);
    r->q = NULL;
}

/* ---- the walk ------------------------------------------------------------ */

struct rframe {
    cfs_ino ino;
    int fd;           /* host fd of the directory made for it */
    uint64_t cookie;  /* the listing goes on after this one */
    size_t plen;      /* length of its guest path in r->path */
    cfs_filestat st;
};

/* Does an object with this owner need a chown after it is made? */
static bool needs_chown(const struct restore *r, const cfs_filestat *st)
{
    return r->owners && (st->uid != r->euid || st->gid != r->egid || r->gid_inherited);
}

/* The umask, read without changing it (umask(2) can only swap it, which
 * would race with the caller's other threads); -1 if unknown. */
static int current_umask(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return -1;
    char line[256];
    unsigned mask = 0;
    int found = -1;
    while (found < 0 && fgets(line, sizeof(line), f))
        if (sscanf(line, "Umask: %o", &mask) == 1)
            found = (int)(mask & 0777);
    fclose(f);
    return found;
}

/* Owner, mode and times of a directory whose entries are all made. */
static int finish_dir(struct restore *r, int fd, const cfs_filestat *st,
                      const char *path)
{
    struct timespec ts[2] = {to_timespec(st->atim), to_timespec(st->mtim)};
    if (needs_chown(r, st) && fchown(fd, st->uid, st->gid))
        return r_host_fail(r, errno, path, "chown");
    if (fchmod(fd, st->mode & 07777))
        return r_host_fail(r, errno, path, "chmod");
    if (futimens(fd, ts))
        return r_host_fail(r, errno, path, "set times");
    return 0;
}

static int restore_symlink(struct restore *r, int dfd, const char *name,
                           const cfs_filestat *st)
{
    size_t len = 0;
    cfs_errno e = cfs_readlink_ino(r->fs, st->ino, r->target, CFS_PATH_MAX, &len);
    if (e || len > CFS_PATH_MAX)
        return r_fail(r, CFS_JE_IO, r_path(r), "readlink in the state",
                      cfs_errno_name(e ? e : CFS_ENAMETOOLONG));
    r->target[len] = 0;
    if (symlinkat(r->target, dfd, name))
        return r_host_fail(r, errno, r_path(r), "symlink");
    struct timespec ts[2] = {to_timespec(st->atim), to_timespec(st->mtim)};
    if (needs_chown(r, st) && fchownat(dfd, name, st->uid, st->gid, AT_SYMLINK_NOFOLLOW))
        return r_host_fail(r, errno, r_path(r), "chown");
    if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW))
        return r_host_fail(r, errno, r_path(r), "set times");
    r->rep.symlinks++;
    return 0;
}

static const char *type_name(uint8_t t)
{
    switch (t) {
    case CFS_FILETYPE_BLOCK_DEVICE: return "block device";
    case CFS_FILETYPE_CHARACTER_DEVICE: return "character device";
    case CFS_FILETYPE_SOCKET_DGRAM:
    case CFS_FILETYPE_SOCKET_STREAM: return "socket";
    case CFS_FILETYPE_FIFO: return "FIFO";
    default: return "file of unknown type";
    }
}

/* A FIFO, socket or device: a node with no content (mknodat), then owner,
 * mode and times as any other object. Devices need CAP_MKNOD: without it
 * mknod is EPERM, and the device is skipped with skip_special, else an
 * error that says so. */
static int restore_special(struct restore *r, int dfd, const char *name,
                           const cfs_filestat *st)
{
    mode_t type = st->filetype == CFS_FILETYPE_FIFO ? S_IFIFO
                  : st->filetype == CFS_FILETYPE_CHARACTER_DEVICE ? S_IFCHR
                  : st->filetype == CFS_FILETYPE_BLOCK_DEVICE ? S_IFBLK
                                                              : S_IFSOCK;
    if (st->filetype == CFS_FILETYPE_SOCKET_DGRAM || st->filetype == CFS_FILETYPE_UNKNOWN)
        return r_fail(r, CFS_JE_INVAL, r_path(r), "cannot restore a",
                      type_name(st->filetype));
    if (mknodat(dfd, name, type | (st->mode & 0777), (dev_t)st->rdev)) {
        int e = errno;
        if (e == EPERM && (type == S_IFCHR || type == S_IFBLK) && r->o->skip_special) {
            r->rep.skipped++;
            return 0;
        }
        if (e == EPERM && (type == S_IFCHR || type == S_IFBLK))
            return r_fail(r, CFS_JE_INVAL, r_path(r),
                          type == S_IFCHR ? "mknod of a character device"
                                          : "mknod of a block device",
                          "needs root (CAP_MKNOD); skip_special leaves it out");
        return r_host_fail(r, e, r_path(r), "mknod");
    }
    struct timespec ts[2] = {to_timespec(st->atim), to_timespec(st->mtim)};
    if (needs_chown(r, st) && fchownat(dfd, name, st->uid, st->gid, AT_SYMLINK_NOFOLLOW))
        return r_host_fail(r, errno, r_path(r), "chown");
    if (fchmodat(dfd, name, st->mode & 07777, 0))
        return r_host_fail(r, errno, r_path(r), "chmod");
    if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW))
        return r_host_fail(r, errno, r_path(r), "set times");
    r->rep.specials++;
    return 0;
}

/* linkat from `path`, relative to top, however long it is: one call's
 * path is bounded by PATH_MAX (ENAMETOOLONG), a tree's depth is not, so a
 * long one is walked a directory at a time. -1 with errno on failure. */
static int link_from(int top, const char *path, int dfd, const char *name)
{
    if (strlen(path) < PATH_MAX)
        return linkat(top, path, dfd, name, 0);
    int cur = top;
    const char *p = path, *slash;
    while ((slash = strchr(p, '/'))) {
        size_t len = (size_t)(slash - p);
        char comp[NAME_MAX + 1];
        if (len > NAME_MAX) {
            errno = ENAMETOOLONG;
            break;
        }
        memcpy(comp, p, len);
        comp[len] = 0;
        p = slash + 1;
        if (!len)
            continue;
        int fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cur != top)
            close(cur);
        cur = fd;
        if (fd < 0)
            return -1;
    }
    int rc = slash ? -1 : linkat(cur, p, dfd, name, 0);
    int e = errno;
    if (cur != top)
        close(cur);
    errno = e;
    return rc;
}

/* One entry `name` of the directory on host fd `dfd`; r->path names it. */
static int restore_entry(struct restore *r, int dfd, const char *name,
                         const cfs_filestat *st, struct rframe **stack,
                         size_t *n, size_t *cap)
{
    const char *rel = r_path(r) + r->rel_at;
    if (st->filetype != CFS_FILETYPE_DIRECTORY && st->nlink > 1) {
        const char *first = link_get(&r->links, st->ino, 0);
        if (first) {
            if (link_from(r->top_fd, first, dfd, name)) {
                /* its first name was a device left out (skip_special) */
                if (errno == ENOENT && r->o->skip_special &&
                    (st->filetype == CFS_FILETYPE_CHARACTER_DEVICE ||
                     st->filetype == CFS_FILETYPE_BLOCK_DEVICE)) {
                    r->rep.skipped++;
                    return 0;
                }
                return r_host_fail(r, errno, r_path(r), "link");
            }
            r->rep.links++;
            return 0;
        }
        if (link_put(&r->links, st->ino, 0, rel))
            return r_fail(r, CFS_JE_NOMEM, r_path(r), "out of memory", NULL);
    }
    switch (st->filetype) {
    case CFS_FILETYPE_DIRECTORY: {
        if (*n == *cap) {
            size_t ncap = 2 * *cap;
            struct rframe *g = realloc(*stack, ncap * sizeof(*g));
            if (!g)
                return r_fail(r, CFS_JE_NOMEM, r_path(r), "out of memory", NULL);
            *stack = g;
            *cap = ncap;
        }
        /* 0700 until its entries are made: its own mode may forbid that */
        if (mkdirat(dfd, name, 0700))
            return r_host_fail(r, errno, r_path(r), "mkdir");
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return r_host_fail(r, errno, r_path(r), "open directory");
        (*stack)[(*n)++] = (struct rframe){.ino = st->ino, .fd = fd,
                                           .cookie = CFS_DIRCOOKIE_START,
                                           .plen = r->path.len, .st = *st};
        r->rep.dirs++;
        return 0;
    }
    case CFS_FILETYPE_REGULAR_FILE: {
        /* Made with its permission bits (the creating open may write
         * whatever they say); set-id and sticky bits, and bits the umask
         * took, come from fchmod after the content: a write may clear
         * set-id bits. */
        mode_t perm = st->mode & 0777;
        int fd = openat(dfd, name,
                        O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, perm);
        if (fd < 0)
            return r_host_fail(r, errno, r_path(r), "create");
        struct rjob job = {.fd = fd, .ino = st->ino, .st = *st,
                           .chown = needs_chown(r, st),
                           .chmod = (st->mode & 07000) || r->umask < 0 ||
                                    (perm & (mode_t)r->umask)};
        if (r->nthreads && !(job.path = strdup(r_path(r)))) {
            close(fd);
            return r_fail(r, CFS_JE_NOMEM, r_path(r), "out of memory", NULL);
        }
        r->rep.files++;
        r->rep.bytes += st->size;
        return submit_file(r, &job);
    }
    case CFS_FILETYPE_SYMBOLIC_LINK:
        return restore_symlink(r, dfd, name, st);
    default:
        return restore_special(r, dfd, name, st);
    }
}

static int restore_walk(struct restore *r, const cfs_filestat *top)
{
    size_t n = 0, cap = 16;
    struct rframe *stack = malloc(cap * sizeof(*stack));
    if (!stack)
        return r_fail(r, CFS_JE_NOMEM, r_path(r), "out of memory", NULL);
    stack[n++] = (struct rframe){.ino = top->ino, .fd = r->top_fd,
                                 .cookie = CFS_DIRCOOKIE_START,
                                 .plen = r->path.len, .st = *top};
    char name[CFS_NAME_MAX + 1];
    int rc = 0;
    while (n && !rc) {
        struct rframe *f = &stack[n - 1];
        sb_cut(&r->path, f->plen);
        cfs_dirent de;
        cfs_errno e = cfs_dir_next(r->fs, f->ino, f->cookie, &de);
        if (e == CFS_ENOENT) {
            /* the top's metadata waits for the file writers (below) */
            if (n > 1) {
                rc = finish_dir(r, f->fd, &f->st, r_path(r));
                close(f->fd);
            }
            n--;
            continue;
        }
        if (e) {
            rc = r_fail(r, CFS_JE_IO, r_path(r), "list the directory in the state",
                        cfs_errno_name(e));
            break;
        }
        f->cookie = de.next;
        if ((de.name_len == 1 && de.name[0] == '.') ||
            (de.name_len == 2 && de.name[0] == '.' && de.name[1] == '.'))
            continue;
        memcpy(name, de.name, de.name_len);
        name[de.name_len] = 0;
        sb_putc(&r->path, '/');
        sb_putn(&r->path, name, de.name_len);
        cfs_filestat st;
        if (r->path.oom) {
            rc = r_fail(r, CFS_JE_NOMEM, name, "out of memory", NULL);
        } else if ((e = cfs_getattr(r->fs, de.ino, &st))) {
            rc = r_fail(r, CFS_JE_IO, r_path(r), "stat in the state", cfs_errno_name(e));
        } else {
            rc = restore_entry(r, f->fd, name, &st, &stack, &n, &cap);
        }
        if (!rc)
            rc = r_failed(r); /* a writer failed: stop making more */
        if (r->o->progress && ++r->entries % PROGRESS_EVERY == 0)
            r->o->progress(r->o->progress_ctx, &r->rep);
    }
    /* after a failure: close what is still open below the top */
    while (n > 1)
        close(stack[--n].fd);
    free(stack);
    return rc;
}

/* Open host_dir, making it if missing; it must be an empty directory. */
static int open_target(const char *host_dir, int *fd_out, char *err, size_t cap)
{
    *fd_out = -1;
    bool made = false;
    if (mkdir(host_dir, 0700) == 0) {
        made = true;
    } else if (errno != EEXIST) {
        int e = errno;
        return set_err(err, cap, host_code(e), "restore: %s: mkdir: %s",
                       host_dir, strerror(e));
    }
    int fd = open(host_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (made ? O_NOFOLLOW : 0));
    if (fd < 0) {
        int e = errno;
        if (e == ENOTDIR)
            return set_err(err, cap, CFS_JE_INVAL,
                           "restore: %s: exists and is not a directory", host_dir);
        return set_err(err, cap, host_code(e), "restore: %s: open: %s", host_dir,
                       strerror(e));
    }
    if (!made) {
        int dfd = dup(fd);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
            int e = errno;
            if (dfd >= 0)
                close(dfd);
            close(fd);
            return set_err(err, cap, host_code(e), "restore: %s: list: %s",
                           host_dir, strerror(e));
        }
        struct dirent *de;
        bool empty = true;
        errno = 0;
        while (empty && (de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                empty = false;
        int e = errno;
        closedir(d);
        if (empty && e) {
            close(fd);
            return set_err(err, cap, host_code(e), "restore: %s: list: %s",
                           host_dir, strerror(e));
        }
        if (!empty) {
            close(fd);
            return set_err(err, cap, CFS_JE_INVAL,
                           "restore: %s: the target directory is not empty", host_dir);
        }
    }
    *fd_out = fd;
    return 0;
}

int cfs_restore_dir(cfs_fs *fs, const char *guest_path, const char *host_dir,
                    const cfs_restore_opts *o, cfs_restore_report *rep,
                    char *err, size_t errcap)
{
    static const cfs_restore_opts defaults;
    if (rep)
        memset(rep, 0, sizeof(*rep));
    if (!o)
        o = &defaults;
    if (!fs || !guest_path || !host_dir || !*host_dir)
        return set_err(err, errcap, CFS_JE_INVAL, "restore: no %s",
                       !fs ? "state" : !guest_path ? "guest path" : "target directory");
    if (guest_path[0] != '/')
        return set_err(err, errcap, CFS_JE_INVAL,
                       "restore: %s: the guest path must be absolute", guest_path);
    if (o->owners < CFS_OWNERS_AUTO || o->owners > CFS_OWNERS_NONE ||
        o->threads > MAX_THREADS)
        return set_err(err, errcap, CFS_JE_INVAL, "restore: bad option (owners %d, threads %u)",
                       o->owners, o->threads);
    cfs_filestat top;
    cfs_errno e = cfs_lookup_path(fs, CFS_INO_ROOT, guest_path,
                                  CFS_LOOKUP_SYMLINK_FOLLOW, &top);
    if (e == CFS_ENOENT)
        return set_err(err, errcap, CFS_JE_NOTFOUND,
                       "restore: %s: no such file or directory in the state", guest_path);
    if (e)
        return set_err(err, errcap, guest_code(e), "restore: %s: %s", guest_path,
                       cfs_errno_name(e));
    if (top.filetype != CFS_FILETYPE_DIRECTORY)
        return set_err(err, errcap, CFS_JE_INVAL, "restore: %s: not a directory",
                       guest_path);

    struct restore r = {.fs = fs, .o = o, .err = err, .errcap = errcap};
    r.owners = o->owners == CFS_OWNERS_KEEP ||
               (o->owners == CFS_OWNERS_AUTO && geteuid() == 0);
    r.euid = geteuid();
    r.egid = getegid();
    r.umask = current_umask();
    int rc = open_target(host_dir, &r.top_fd, err, errcap);
    if (rc)
        return rc;
    struct stat tst;
    r.gid_inherited = fstat(r.top_fd, &tst) != 0 || (tst.st_mode & S_ISGID);
    /* messages name guest paths: the top as given, without trailing '/' */
    size_t glen = strlen(guest_path);
    while (glen > 1 && guest_path[glen - 1] == '/')
        glen--;
    if (glen > 1)
        sb_putn(&r.path, guest_path, glen);
    r.rel_at = r.path.len + 1;

    unsigned threads = o->threads ? o->threads : DEFAULT_THREADS;
    /* threads counts the walk too: n - 1 writers beside it */
    if (threads > 1 && writers_start(&r, threads - 1))
        rc = r_fail(&r, CFS_JE_NOMEM, guest_path, "out of memory", NULL);
    if (!rc)
        rc = restore_walk(&r, &top);
    writers_stop(&r);
    if (!rc && r.failed)
        rc = r.failed;
    if (!rc)
        rc = finish_dir(&r, r.top_fd, &top, guest_path);
    if (!rc && o->sync && syncfs(r.top_fd))
        rc = r_host_fail(&r, errno, host_dir, "syncfs");
    close(r.top_fd);
    if (o->progress)
        o->progress(o->progress_ctx, &r.rep);
    if (rep)
        *rep = r.rep;
    link_free(&r.links);
    sb_free(&r.path);
    return rc;
}

int cfs_replay_restore(cfs_journal *j, uint64_t seq, const char *host_dir,
                       const cfs_restore_opts *o, cfs_restore_report *rep,
                       char *err, size_t errcap)
{
    if (rep)
        memset(rep, 0, sizeof(*rep));
    cfs_fs *fs = NULL;
    int rc = cfs_replay_state_at(j, seq, NULL, &fs, err, errcap);
    if (rc)
        return rc;
    rc = cfs_restore_dir(fs, "/", host_dir, o, rep, err, errcap);
    cfs_fs_free(fs);
    return rc;
}

/* ======================================================================== */
/* Import                                                                   */

#define WINDOW ((size_t)1 << 20)
#define BLK ((size_t)CFS_BLOCK_SIZE)

/* Rights of the fd a file is written through. */
#define IMPORT_FILE_RIGHTS                                                      \
    (CFS_RIGHT_FD_WRITE | CFS_RIGHT_FD_SEEK | CFS_RIGHT_FD_FILESTAT_SET_SIZE |  \
     CFS_RIGHT_FD_FILESTAT_SET_TIMES | CFS_RIGHT_FD_FILESTAT_GET)

struct iframe {
    int fd;             /* host directory */
    char **names;       /* its entries, sorted */
    size_t n, i;        /* i: the next to import */
    size_t glen, hlen;  /* lengths of its paths in gpath, hpath */
    struct stat st;     /* as stat said before it was listed */
};

struct import {
    cfs_fs *fs;
    const cfs_import_opts *o;
    cfs_fd dirfd;
    struct sbuf gpath;   /* guest path of the current object */
    struct sbuf hpath;   /* host path of it, for messages */
    struct link_map links;  /* host (dev, ino) -> guest path */
    uint8_t *buf;        /* a window of file bytes */
    cfs_hostdir_report rep;
    uint64_t entries;
    char *err;
    size_t errcap;
};

static int i_host_fail(struct import *m, int e, const char *what)
{
    return set_err(m->err, m->errcap, host_code(e), "import: %s: %s: %s",
                   sb_str(&m->hpath), what, strerror(e));
}

static int i_guest_fail(struct import *m, cfs_errno e, const char *what)
{
    const char *more = cfs_fs_errmsg(m->fs);
    if (e == CFS_ENAMETOOLONG)
        more = "the path is too long for the engine";
    else if (e == CFS_EEXIST)
        more = "it exists in the guest already";
    return set_err(m->err, m->errcap, guest_code(e), "import: %s: guest %s: %s%s%s",
                   sb_str(&m->gpath)[0] ? sb_str(&m->gpath) : "/", what,
                   cfs_errno_name(e), *more ? ": " : "", more);
}

/* The guest path of the current object ("/" for an empty one: the root). */
static const char *i_gpath(const struct import *m)
{
    return sb_str(&m->gpath)[0] ? sb_str(&m->gpath) : "/";
}

static int time_of(struct import *m, const struct timespec *ts, cfs_time *out)
{
    if (ts->tv_sec < 0 || (uint64_t)ts->tv_sec > UINT64_MAX / NS_PER_S - 1)
        return set_err(m->err, m->errcap, CFS_JE_INVAL,
                       "import: %s: a time before 1970 (or after 2554) cannot be recorded",
                       sb_str(&m->hpath));
    *out = (uint64_t)ts->tv_sec * NS_PER_S + (uint64_t)ts->tv_nsec;
    return 0;
}

/* Owner, mode and times of the object the current paths name. `gfd` is
 * an open guest fd on it for the times, or 0 to set them by path. */
static int i_attrs(struct import *m, const struct stat *st, cfs_fd gfd,
                   bool is_link)
{
    cfs_time at = 0, mt = 0;
    int rc = time_of(m, &st->st_atim, &at);
    if (rc || (rc = time_of(m, &st->st_mtim, &mt)))
        return rc;
    const char *g = i_gpath(m);
    cfs_errno e;
    /* chown first: where chown clears set-id bits (Linux), chmod puts
     * them back; a symlink's mode is 0777 on Linux and in the engine */
    if (m->o->owners == CFS_OWNERS_KEEP &&
        (e = cfs_path_chown(m->fs, m->dirfd, 0, g, st->st_uid, st->st_gid)))
        return i_guest_fail(m, e, "chown");
    if (!is_link && (e = cfs_path_chmod(m->fs, m->dirfd, 0, g, st->st_mode & 07777)))
        return i_guest_fail(m, e, "chmod");
    uint16_t fst = CFS_FST_ATIM | CFS_FST_MTIM;
    e = gfd ? cfs_fd_filestat_set_times(m->fs, gfd, at, mt, fst)
            : cfs_path_filestat_set_times(m->fs, m->dirfd, 0, g, at, mt, fst);
    if (e)
        return i_guest_fail(m, e, "set times");
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(struct iframe *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->names[i]);
    free(f->names);
    f->names = NULL;
    f->n = 0;
}

/* The names in host directory fd `fd`, sorted byte-wise (strcmp compares
 * as unsigned char). */
static int list_dir(struct import *m, int fd, struct iframe *f)
{
    f->names = NULL;
    f->n = f->i = 0;
    int dfd = dup(fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        int e = errno;
        if (dfd >= 0)
            close(dfd);
        return i_host_fail(m, e, "list");
    }
    size_t cap = 0;
    struct dirent *de;
    int rc = 0;
    for (;;) {
        errno = 0;
        if (!(de = readdir(d))) {
            if (errno)
                rc = i_host_fail(m, errno, "list");
            break;
        }
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (f->n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            char **g = realloc(f->names, ncap * sizeof(*g));
            if (!g) {
                rc = i_host_fail(m, ENOMEM, "list");
                break;
            }
            f->names = g;
            cap = ncap;
        }
        if (!(f->names[f->n] = strdup(de->d_name))) {
            rc = i_host_fail(m, ENOMEM, "list");
            break;
        }
        f->n++;
    }
    closedir(d);
    if (rc) {
        free_names(f);
        return rc;
    }
    if (f->n > 1)
        qsort(f->names, f->n, sizeof(*f->names), name_cmp);
    return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Read [off, off+len) of host fd `fd` completely into buf; a file that
 * ends before is one that changed since it was stat'ed. */
static int read_full(struct import *m, int fd, uint8_t *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t k = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return i_host_fail(m, errno, "read");
        }
        if (k == 0)
            return set_err(m->err, m->errcap, CFS_JE_IO,
                           "import: %s: read: the file shrank while being imported",
                           sb_str(&m->hpath));
        got += (size_t)k;
    }
    return 0;
}

/* The bytes of host file `hfd` (size `size`) into guest fd `gfd`. */
static int copy_content(struct import *m, int hfd, cfs_fd gfd, uint64_t size)
{
    bool seek_data = true;
    uint64_t end = 0; /* of the data written */
    for (uint64_t w = 0; w < size;) {
        if (seek_data) {
            off_t d = lseek(hfd, (off_t)w, SEEK_DATA);
            if (d < 0 && errno == ENXIO)
                break; /* a hole to the end */
            if (d < 0)
                seek_data = false; /* not supported: read everything */
            else if ((uint64_t)d >= size)
                break;
            else
                w = (uint64_t)d & ~(uint64_t)(WINDOW - 1);
        }
        size_t n = size - w < WINDOW ? (size_t)(size - w) : WINDOW;
        int rc = read_full(m, hfd, m->buf, n, w);
        if (rc)
            return rc;
        for (size_t b = 0; b < n;) {
            size_t run = b;
            while (run < n && !all_zero(m->buf + run, n - run < BLK ? n - run : BLK))
                run += n - run < BLK ? n - run : BLK;
            if (run > b) {
                size_t wrote = 0;
                cfs_errno e = cfs_fd_pwrite(m->fs, gfd, m->buf + b, run - b, w + b, &wrote);
                if (e)
                    return i_guest_fail(m, e, "write");
                end = w + run;
                b = run;
            } else {
                b += n - b < BLK ? n - b : BLK;
            }
        }
        w += n;
    }
    if (end < size) {
        cfs_errno e = cfs_fd_filestat_set_size(m->fs, gfd, size);
        if (e)
            return i_guest_fail(m, e, "set size");
    }
    return 0;
}

static int import_file(struct import *m, int dfd, const char *name,
                       const struct stat *st)
{
    int hfd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (hfd < 0 && errno == EPERM) /* O_NOATIME needs ownership */
        hfd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (hfd < 0)
        return i_host_fail(m, errno, "open");
    cfs_fd gfd;
    cfs_errno e = cfs_path_open(m->fs, m->dirfd, 0, i_gpath(m), CFS_O_CREAT | CFS_O_EXCL,
                                IMPORT_FILE_RIGHTS, 0, 0, &gfd);
    if (e) {
        close(hfd);
        return i_guest_fail(m, e, "create");
    }
    int rc = copy_content(m, hfd, gfd, (uint64_t)st->st_size);
    if (!rc)
        rc = i_attrs(m, st, gfd, false);
    close(hfd);
    e = cfs_fd_close(m->fs, gfd);
    if (!rc && e)
        rc = i_guest_fail(m, e, "close");
    if (!rc) {
        m->rep.files++;
        m->rep.bytes += (uint64_t)st->st_size;
    }
    return rc;
}

static int import_symlink(struct import *m, int dfd, const char *name,
                          const struct stat *st)
{
    char target[CFS_PATH_MAX + 2];
    ssize_t k = readlinkat(dfd, name, target, sizeof(target) - 1);
    if (k < 0)
        return i_host_fail(m, errno, "readlink");
    if ((size_t)k > CFS_PATH_MAX)
        return set_err(m->err, m->errcap, CFS_JE_INVAL,
                       "import: %s: the symlink's target is too long for the engine",
                       sb_str(&m->hpath));
    target[k] = 0;
    /* Reading a symlink moves its atime (there is no O_NOATIME for
     * readlink): put it back, so that importing the tree again records
     * the same time. Best effort: a symlink we may not touch keeps it. */
    struct stat now;
    if (fstatat(dfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
        (now.st_atim.tv_sec != st->st_atim.tv_sec ||
         now.st_atim.tv_nsec != st->st_atim.tv_nsec)) {
        struct timespec ts[2] = {st->st_atim, {.tv_nsec = UTIME_OMIT}};
        (void)utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
    }
    cfs_errno e = cfs_path_symlink(m->fs, target, m->dirfd, i_gpath(m));
    if (e)
        return i_guest_fail(m, e, "symlink");
    int rc = i_attrs(m, st, 0, true);
    if (!rc)
        m->rep.symlinks++;
    return rc;
}

static const char *special_name(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    return "a file of unknown type";
}

/* The entry `name` of the top frame; the paths name it. May push a frame
 * (then *stack may move). */
static int import_entry(struct import *m, struct iframe **stack, size_t *n,
                        size_t *cap, const char *name)
{
    int dfd = (*stack)[*n - 1].fd;
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW))
        return i_host_fail(m, errno, "stat");
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
        const char *first = link_get(&m->links, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
        if (first) {
            cfs_errno e = cfs_path_link(m->fs, m->dirfd, 0, first, m->dirfd, i_gpath(m));
            if (e)
                return i_guest_fail(m, e, "link");
            m->rep.links++;
            return 0;
        }
        if (!(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode)) &&
            m->o->skip_special) {
            /* skipped below: no first name to remember */
        } else if (link_put(&m->links, (uint64_t)st.st_dev, (uint64_t)st.st_ino,
                            i_gpath(m))) {
            return i_host_fail(m, ENOMEM, "stat");
        }
    }
    if (S_ISREG(st.st_mode))
        return import_file(m, dfd, name, &st);
    if (S_ISLNK(st.st_mode))
        return import_symlink(m, dfd, name, &st);
    if (!S_ISDIR(st.st_mode)) {
        if (m->o->skip_special) {
            m->rep.skipped++;
            return 0;
        }
        if (!(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode) ||
              S_ISBLK(st.st_mode)))
            return set_err(m->err, m->errcap, CFS_JE_INVAL,
                           "import: %s: %s cannot be recorded",
                           sb_str(&m->hpath), special_name(st.st_mode));
        /* a node with no content: never opened (a FIFO would block) */
        cfs_errno e = cfs_path_mknod_dev(m->fs, m->dirfd, i_gpath(m),
                                         (uint32_t)(st.st_mode & (S_IFMT | 07777)),
                                         S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)
                                             ? (uint64_t)st.st_rdev
                                             : 0);
        if (e)
            return i_guest_fail(m, e, "mknod");
        int rc = i_attrs(m, &st, 0, false);
        if (!rc)
            m->rep.specials++;
        return rc;
    }
    if (*n == *cap) {
        size_t ncap = 2 * *cap;
        struct iframe *g = realloc(*stack, ncap * sizeof(*g));
        if (!g)
            return i_host_fail(m, ENOMEM, "open directory");
        *stack = g;
        *cap = ncap;
    }
    cfs_errno e = cfs_path_create_directory(m->fs, m->dirfd, i_gpath(m));
    if (e)
        return i_guest_fail(m, e, "mkdir");
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM)
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return i_host_fail(m, errno, "open directory");
    struct iframe *f = &(*stack)[*n];
    int rc = list_dir(m, fd, f);
    if (rc) {
        close(fd);
        return rc;
    }
    f->fd = fd;
    f->glen = m->gpath.len;
    f->hlen = m->hpath.len;
    f->st = st;
    (*n)++;
    m->rep.dirs++;
    return 0;
}

static int import_walk(struct import *m, int top_fd, const struct stat *top_st)
{
    size_t n = 0, cap = 16;
    struct iframe *stack = malloc(cap * sizeof(*stack));
    if (!stack)
        return i_host_fail(m, ENOMEM, "list");
    int rc = list_dir(m, top_fd, &stack[0]);
    if (rc) {
        free(stack);
        return rc;
    }
    stack[0].fd = top_fd;
    stack[0].glen = m->gpath.len;
    stack[0].hlen = m->hpath.len;
    stack[0].st = *top_st;
    n = 1;
    while (n && !rc) {
        struct iframe *f = &stack[n - 1];
        sb_cut(&m->gpath, f->glen);
        sb_cut(&m->hpath, f->hlen);
        if (f->i == f->n) {
            /* every entry is made: now its own metadata */
            rc = i_attrs(m, &f->st, 0, false);
            free_names(f);
            if (n > 1)
                close(f->fd);
            n--;
            continue;
        }
        const char *name = f->names[f->i++];
        sb_putc(&m->gpath, '/');
        sb_puts(&m->gpath, name);
        sb_putc(&m->hpath, '/');
        sb_puts(&m->hpath, name);
        if (m->gpath.oom || m->hpath.oom)
            rc = set_err(m->err, m->errcap, CFS_JE_NOMEM, "import: %s: out of memory", name);
        else
            rc = import_entry(m, &stack, &n, &cap, name);
        if (m->o->progress && ++m->entries % PROGRESS_EVERY == 0)
            m->o->progress(m->o->progress_ctx, &m->rep);
    }
    while (n) {
        free_names(&stack[n - 1]);
        if (n > 1)
            close(stack[n - 1].fd);
        n--;
    }
    free(stack);
    return rc;
}

int cfs_import_dir(cfs_fs *fs, const char *host_dir, const char *guest_path,
                   const cfs_import_opts *o, cfs_import_report *rep,
                   char *err, size_t errcap)
{
    static const cfs_import_opts defaults;
    if (rep)
        memset(rep, 0, sizeof(*rep));
    if (!o)
        o = &defaults;
    if (!fs || !host_dir || !guest_path)
        return set_err(err, errcap, CFS_JE_INVAL, "import: no %s",
                       !fs ? "engine" : !host_dir ? "host directory" : "guest path");
    if (guest_path[0] != '/')
        return set_err(err, errcap, CFS_JE_INVAL,
                       "import: %s: the guest path must be absolute", guest_path);
    if (o->owners < CFS_OWNERS_AUTO || o->owners > CFS_OWNERS_NONE)
        return set_err(err, errcap, CFS_JE_INVAL, "import: bad option (owners %d)",
                       o->owners);
    struct import m = {.fs = fs, .o = o, .dirfd = o->dirfd ? o->dirfd : CFS_ROOT_FD,
                       .err = err, .errcap = errcap};
    int top = open(host_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOATIME);
    if (top < 0 && errno == EPERM) /* O_NOATIME needs ownership */
        top = open(host_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (top < 0 || fstat(top, &st)) {
        int e = errno;
        if (top >= 0)
            close(top);
        if (e == ENOTDIR)
            return set_err(err, errcap, CFS_JE_INVAL, "import: %s: not a directory",
                           host_dir);
        return set_err(err, errcap, host_code(e), "import: %s: open: %s", host_dir,
                       strerror(e));
    }
    size_t glen = strlen(guest_path);
    while (glen > 1 && guest_path[glen - 1] == '/')
        glen--;
    if (glen > 1)
        sb_putn(&m.gpath, guest_path, glen);
    size_t hlen = strlen(host_dir);
    while (hlen > 1 && host_dir[hlen - 1] == '/')
        hlen--;
    sb_putn(&m.hpath, host_dir, hlen);

    int rc = 0;
    cfs_filestat gst;
    cfs_errno e = cfs_path_filestat_get(fs, m.dirfd, CFS_LOOKUP_SYMLINK_FOLLOW,
                                        i_gpath(&m), &gst);
    if (e == CFS_ENOENT)
        e = cfs_path_create_directory(fs, m.dirfd, i_gpath(&m));
    else if (!e && gst.filetype != CFS_FILETYPE_DIRECTORY)
        rc = set_err(err, errcap, CFS_JE_INVAL, "import: %s: not a directory in the guest",
                     i_gpath(&m));
    if (!rc && e)
        rc = i_guest_fail(&m, e, "open the top directory");
    if (!rc && !(m.buf = malloc(WINDOW)))
        rc = set_err(err, errcap, CFS_JE_NOMEM, "import: out of memory");
    if (!rc)
        rc = import_walk(&m, top, &st);
    close(top);
    if (o->progress)
        o->progress(o->progress_ctx, &m.rep);
    if (rep)
        *rep = m.rep;
    free(m.buf);
    link_free(&m.links);
    sb_free(&m.gpath);
    sb_free(&m.hpath);
    return rc;
}
