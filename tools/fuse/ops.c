/*
 * ops.c — the FUSE low-level operations over the engine.
 *
 * Inodes: the engine's inode numbers are stable (a counter, never reused),
 * so they are the FUSE inode numbers, except that FUSE's root (1) is the
 * engine's root (CFS_INO_ROOT); the engine never allocates inode 1. No
 * lookup counts are kept: an inode exists for FUSE as long as it exists
 * in the engine, and forget needs nothing (so it is not implemented).
 *
 * Reads (lookup, getattr, readdir, read, readlink, statfs) are the
 * engine's queries by inode: no fd, no event. Changes go through engine
 * fds, opened by inode (cfs_open_ino) when first needed and kept in
 * `held`: while FUSE handles are open on the inode, and then on an idle
 * list of at most IDLE_MAX fds (the least recently used is closed), so a
 * file written in many requests costs one OPEN and one CLOSE event. A file
 * with open FUSE handles gets an engine fd before it is unlinked or
 * renamed over, so it stays readable (as an orphan) until its last
 * release; a held fd of an inode without handles is closed before its
 * last name goes, so nothing outlives what the program sees.
 *
 * No flush: every write is in the engine when it is answered and
 * durability is fsync's business, so close(2) has nothing to do. Leaving
 * it out makes the kernel's first FLUSH answer ENOSYS, after which the
 * kernel stops sending it (close succeeds): one round trip less per
 * close. Likewise no forget, access (default_permissions), xattrs, locks
 * (the kernel's local locks serve), copy_file_range or lseek.
 *
 * Writes use pwrite at the kernel's offset, so engine fds never need the
 * APPEND flag or a file offset (the kernel handles O_APPEND).
 *
 * Kernel caching: attributes and entries are cached for m->timeout
 * seconds (60 s read-write, 1 h read-only). The mount has one writer (the
 * journal's lock) and every change comes through this kernel mount, which
 * updates or invalidates what it changed itself (a directory's attributes
 * after any change in it, a file's size and times after a write, the
 * inode of a link, unlink or rename), so the timeout is only a bound on
 * anything the kernel does not know changed (a set-group-ID bit dropped
 * by a write, below, is told to it: a write's reply carries no
 * attributes). With 1 s, a program working
 * through 20,000 files for longer than that looked every name up again:
 * create, stat and unlink of 20,000 files took 1.8-1.9 s, and 1.7 s
 * with 60 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsmount.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define IDLE_MAX 64

#define R_FILE CFS_RIGHTS_ALL
#define R_DIR (CFS_RIGHTS_ALL & ~CFS_RIGHT_FD_WRITE)

static struct mnt *mnt_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

static cfs_ino eng(fuse_ino_t ino)
{
    return ino == FUSE_ROOT_ID ? CFS_INO_ROOT : (cfs_ino)ino;
}

static fuse_ino_t fus(cfs_ino ino)
{
    return ino == CFS_INO_ROOT ? FUSE_ROOT_ID : (fuse_ino_t)ino;
}

static void lock(struct mnt *m)
{
    pthread_mutex_lock(&m->mu);
}

static void unlock(struct mnt *m)
{
    pthread_mutex_unlock(&m->mu);
}

static void reply_cfs_err(fuse_req_t req, cfs_errno e)
{
    fuse_reply_err(req, cfs_errno_to_posix(e));
}

static void ts_of(cfs_time t, struct timespec *ts)
{
    ts->tv_sec = (time_t)(t / 1000000000u);
    ts->tv_nsec = (long)(t % 1000000000u);
}

static void fill_stat(const cfs_filestat *fs, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = fus(fs->ino);
    st->st_mode = fs->mode;
    st->st_nlink = fs->nlink;
    st->st_uid = fs->uid;
    st->st_gid = fs->gid;
    st->st_size = (off_t)fs->size;
    st->st_blocks = (blkcnt_t)fs->blocks;
    st->st_blksize = CFS_BLOCK_SIZE;
    st->st_rdev = (dev_t)fs->rdev;
    ts_of(fs->atim, &st->st_atim);
    ts_of(fs->mtim, &st->st_mtim);
    ts_of(fs->ctim, &st->st_ctim);
}

static void fill_entry(const struct mnt *m, const cfs_filestat *fs,
                       struct fuse_entry_param *e)
{
    memset(e, 0, sizeof(*e));
    e->ino = fus(fs->ino);
    e->generation = 1;
    fill_stat(fs, &e->attr);
    e->attr_timeout = m->timeout;
    e->entry_timeout = m->timeout;
}

/* ---- held inodes --------------------------------------------------------- */

static size_t held_slot(const struct mnt *m, cfs_ino ino)
{
    return (size_t)((ino * UINT64_C(0x9E3779B97F4A7C15)) >> 20) & (m->held_cap - 1);
}

static struct held *held_find(const struct mnt *m, cfs_ino ino)
{
    for (struct held *h = m->held[held_slot(m, ino)]; h; h = h->hnext)
        if (h->ino == ino)
            return h;
    return NULL;
}

static int held_grow(struct mnt *m)
{
    size_t cap = m->held_cap * 2;
    struct held **t = calloc(cap, sizeof(*t));
    if (!t)
        return -1;
    struct held **old = m->held;
    size_t ocap = m->held_cap;
    m->held = t;
    m->held_cap = cap;
    for (size_t i = 0; i < ocap; i++) {
        struct held *h = old[i], *next;
        for (; h; h = next) {
            next = h->hnext;
            size_t s = held_slot(m, h->ino);
            h->hnext = t[s];
            t[s] = h;
        }
    }
    free(old);
    return 0;
}

static struct held *held_get(struct mnt *m, cfs_ino ino)
{
    struct held *h = held_find(m, ino);
    if (h)
        return h;
    if (m->held_count >= m->held_cap && held_grow(m))
        return NULL;
    h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->ino = ino;
    h->fd = -1;
    size_t s = held_slot(m, ino);
    h->hnext = m->held[s];
    m->held[s] = h;
    m->held_count++;
    return h;
}

static void idle_remove(struct mnt *m, struct held *h)
{
    if (!h->idle)
        return;
    if (h->lru_prev)
        h->lru_prev->lru_next = h->lru_next;
    else
        m->lru_head = h->lru_next;
    if (h->lru_next)
        h->lru_next->lru_prev = h->lru_prev;
    else
        m->lru_tail = h->lru_prev;
    h->lru_prev = h->lru_next = NULL;
    h->idle = false;
    m->idle_count--;
}

static void idle_push(struct mnt *m, struct held *h)
{
    idle_remove(m, h);
    h->lru_prev = m->lru_tail;
    h->lru_next = NULL;
    if (m->lru_tail)
        m->lru_tail->lru_next = h;
    else
        m->lru_head = h;
    m->lru_tail = h;
    h->idle = true;
    m->idle_count++;
}

/* Forget h if it holds nothing. */
static void held_drop_if_empty(struct mnt *m, struct held *h)
{
    if (h->opens || h->fd >= 0)
        return;
    idle_remove(m, h);
    struct held **pp = &m->held[held_slot(m, h->ino)];
    while (*pp != h)
        pp = &(*pp)->hnext;
    *pp = h->hnext;
    m->held_count--;
    free(h);
}

/* Close h's engine fd. A failed close (the journal refused the event)
 * leaves the fd open in the engine; the front end forgets it anyway: the
 * journal is then failed and refuses every change until reopened. */
static void held_close_fd(struct mnt *m, struct held *h)
{
    if (h->fd < 0)
        return;
    (void)cfs_fd_close(m->fs, (cfs_fd)h->fd);
    h->fd = -1;
    idle_remove(m, h);
    held_drop_if_empty(m, h);
}

/* Close idle fds beyond IDLE_MAX. Called at the start of an operation, so
 * no fd an operation has in hand is ever closed under it. */
static void held_trim(struct mnt *m)
{
    while (m->idle_count > IDLE_MAX)
        held_close_fd(m, m->lru_head);
}

/* An engine fd on inode `ino` with all the rights its kind allows. */
static cfs_errno held_fd(struct mnt *m, cfs_ino ino, cfs_fd *out)
{
    struct held *h = held_get(m, ino);
    if (!h)
        return CFS_ENOMEM;
    if (h->fd < 0) {
        cfs_filestat st;
        cfs_errno rc = cfs_getattr(m->fs, ino, &st);
        cfs_fd fd = 0;
        if (!rc) {
            if (st.filetype == CFS_FILETYPE_DIRECTORY)
                rc = cfs_open_ino(m->fs, ino, CFS_O_DIRECTORY, R_DIR,
                                  CFS_RIGHTS_ALL, 0, &fd);
            else if (st.filetype != CFS_FILETYPE_REGULAR_FILE)
                /* symlinks, FIFOs, sockets, devices: metadata only */
                rc = cfs_open_ino(m->fs, ino, 0, CFS_RIGHTS_SYMLINK_FD, 0, 0,
                                  &fd);
            else
                rc = cfs_open_ino(m->fs, ino, 0, R_FILE, 0, 0, &fd);
        }
        if (rc) {
            held_drop_if_empty(m, h);
            return rc;
        }
        h->fd = fd;
        if (!h->opens)
            idle_push(m, h);
    } else if (h->idle) {
        idle_push(m, h); /* most recently used */
    }
    *out = (cfs_fd)h->fd;
    return 0;
}

/* Before entry `name` of `dir` goes (unlink, rmdir, rename over it): an
 * inode with open handles keeps an engine fd, so it lives on as an
 * orphan; one without handles lets go of its idle fd, so it does not. */
static cfs_errno prepare_victim(struct mnt *m, cfs_ino dir, const char *name)
{
    cfs_filestat st;
    if (cfs_lookup(m->fs, dir, name, &st))
        return 0; /* no victim: the engine call will say what is wrong */
    struct held *h = held_find(m, st.ino);
    if (!h)
        return 0;
    if (!h->opens) {
        held_close_fd(m, h);
        return 0;
    }
    cfs_fd fd;
    return held_fd(m, st.ino, &fd);
}

int cfs_fuse_state_init(struct mnt *m)
{
    m->held_cap = 1024;
    m->held = calloc(m->held_cap, sizeof(*m->held));
    m->rbuf_cap = (size_t)1 << 20;
    m->rbuf = malloc(m->rbuf_cap);
    if (!m->held || !m->rbuf) {
        free(m->held);
        free(m->rbuf);
        m->held = NULL;
        m->rbuf = NULL;
        return -1;
    }
    return 0;
}

void cfs_fuse_state_release(struct mnt *m)
{
    if (!m->held)
        return;
    for (size_t i = 0; i < m->held_cap; i++) {
        struct held *h = m->held[i], *next;
        for (; h; h = next) {
            next = h->hnext;
            if (h->fd >= 0)
                (void)cfs_fd_close(m->fs, (cfs_fd)h->fd);
            free(h);
        }
    }
    free(m->held);
    free(m->rbuf);
    m->held = NULL;
    m->rbuf = NULL;
    m->lru_head = m->lru_tail = NULL;
    m->held_count = m->idle_count = 0;
}

/* ---- operations ------------------------------------------------------------ */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    (void)userdata;
    /* 1 MiB requests (libfuse caps this to what its buffer and the kernel
     * allow: 256 pages with FUSE_MAX_PAGES). */
    conn->max_write = (unsigned)1 << 20;
    conn->max_readahead = (unsigned)1 << 20;
    /* The kernel clears suid/sgid itself (sending a mode change we
     * journal) when it is not delegated to us. */
    conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
#ifdef FUSE_CAP_HANDLE_KILLPRIV_V2
    conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV_V2;
#endif
    conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
}

/* Reply with the entry `name` of `dir` now names. */
static void reply_lookup(fuse_req_t req, struct mnt *m, cfs_ino dir,
                         const char *name)
{
    cfs_filestat st;
    cfs_errno rc = cfs_lookup(m->fs, dir, name, &st);
    if (rc) {
        reply_cfs_err(req, rc);
        return;
    }
    struct fuse_entry_param e;
    fill_entry(m, &st, &e);
    fuse_reply_entry(req, &e);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct mnt *m = mnt_of(req);
    cfs_filestat st;
    lock(m);
    cfs_errno rc = cfs_lookup(m->fs, eng(parent), name, &st);
    unlock(m);
    struct fuse_entry_param e;
    if (rc == CFS_ENOENT) {
        /* a negative entry the kernel may cache: every change comes
         * through it, so it learns of a create itself */
        memset(&e, 0, sizeof(e));
        e.entry_timeout = m->timeout;
        fuse_reply_entry(req, &e);
    } else if (rc) {
        reply_cfs_err(req, rc);
    } else {
        fill_entry(m, &st, &e);
        fuse_reply_entry(req, &e);
    }
}

/* Answer a getattr or setattr: the error, or the attributes. */
static void reply_attr(fuse_req_t req, const struct mnt *m, cfs_errno rc,
                       const cfs_filestat *st)
{
    if (rc) {
        reply_cfs_err(req, rc);
        return;
    }
    struct stat s;
    fill_stat(st, &s);
    fuse_reply_attr(req, &s, m->timeout);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    struct mnt *m = mnt_of(req);
    cfs_filestat st;
    lock(m);
    cfs_errno rc = cfs_getattr(m->fs, eng(ino), &st);
    unlock(m);
    reply_attr(req, m, rc, &st);
}

static cfs_time ns_of(const struct timespec *ts)
{
    if (ts->tv_sec < 0)
        return 0; /* the engine's times start at the epoch */
    return (cfs_time)ts->tv_sec * 1000000000u + (cfs_time)ts->tv_nsec;
}

static cfs_errno do_setattr(struct mnt *m, cfs_ino ino, const struct stat *a,
                            int to_set)
{
    cfs_fd fd;
    cfs_errno rc = held_fd(m, ino, &fd);
    if (rc)
        return rc;
    /* chown(f, -1, -1) comes as a SETATTR of nothing (or of ctime only),
     * and still marks ctime for update (POSIX): a chown of nothing does */
    if (!(to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
                    FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME |
                    FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
                    FUSE_SET_ATTR_MTIME_NOW)))
        return cfs_fd_chown(m->fs, fd, UINT32_MAX, UINT32_MAX);
    if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
        uint32_t uid = (to_set & FUSE_SET_ATTR_UID) ? a->st_uid : UINT32_MAX;
        uint32_t gid = (to_set & FUSE_SET_ATTR_GID) ? a->st_gid : UINT32_MAX;
        if ((rc = cfs_fd_chown(m->fs, fd, uid, gid)))
            return rc;
    }
    if ((to_set & FUSE_SET_ATTR_MODE) &&
        (rc = cfs_fd_chmod(m->fs, fd, a->st_mode & 07777)))
        return rc;
    if ((to_set & FUSE_SET_ATTR_SIZE) &&
        (rc = cfs_fd_filestat_set_size(m->fs, fd, (uint64_t)a->st_size)))
        return rc;
    uint16_t fst = 0;
    cfs_time at = 0, mt = 0;
    if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
        fst |= CFS_FST_ATIM_NOW;
    } else if (to_set & FUSE_SET_ATTR_ATIME) {
        fst |= CFS_FST_ATIM;
        at = ns_of(&a->st_atim);
    }
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
        fst |= CFS_FST_MTIM_NOW;
    } else if (to_set & FUSE_SET_ATTR_MTIME) {
        fst |= CFS_FST_MTIM;
        mt = ns_of(&a->st_mtim);
    }
    if (fst && (rc = cfs_fd_filestat_set_times(m->fs, fd, at, mt, fst)))
        return rc;
    return 0;
}

/* Whether a write, truncate or chown by req's caller must clear the setgid
 * bit of the file `st`. The kernel's FUSE module clears suid, and the sgid
 * of a group-executable file, itself (a mode change before the write,
 * truncate or chown: no HANDLE_KILLPRIV), but not the sgid of a file that
 * is not group-executable, which the VFS clears for local filesystems when
 * the caller is neither in the file's group nor privileged
 * (setattr_should_drop_sgid): that case is ours. Privileged is uid 0 here
 * (CAP_FSETID is not visible to the daemon). */
static bool sgid_to_drop(fuse_req_t req, const cfs_filestat *st)
{
    if (st->filetype != CFS_FILETYPE_REGULAR_FILE ||
        (st->mode & (S_ISGID | S_IXGRP)) != S_ISGID)
        return false;
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    if (ctx->uid == 0 || ctx->gid == st->gid)
        return false;
    gid_t groups[256];
    int n = fuse_req_getgroups(req, 256, groups);
    for (int i = 0; i < n && i < 256; i++)
        if (groups[i] == st->gid)
            return false;
    return true;
}

/* Clear the setgid bit of `ino` (through its held fd) if sgid_to_drop();
 * *dropped says whether it did. */
static cfs_errno drop_sgid(struct mnt *m, fuse_req_t req, cfs_ino ino,
                           const cfs_filestat *before, bool *dropped)
{
    cfs_filestat st;
    cfs_fd fd;
    cfs_errno rc;
    *dropped = false;
    if (!sgid_to_drop(req, before))
        return 0;
    if ((rc = cfs_getattr(m->fs, ino, &st)) || !(st.mode & S_ISGID))
        return rc;
    if ((rc = held_fd(m, ino, &fd)))
        return rc;
    rc = cfs_fd_chmod(m->fs, fd, st.mode & 07777 & ~(uint32_t)S_ISGID);
    *dropped = !rc;
    return rc;
}

/* A size change updates mtime and ctime even when the size stays (the
 * engine's set_size), as POSIX wants for open(O_TRUNC) and ftruncate; for
 * truncate(2) to the same size Linux's own filesystems leave the times
 * alone, but the kernel sends truncate(2) and open(O_TRUNC) alike (a size,
 * no file handle), so the mount cannot tell them apart: a known
 * difference (tests/fuse/test_perms.c does not compare that case). */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
                       int to_set, struct fuse_file_info *fi)
{
    (void)fi;
    struct mnt *m = mnt_of(req);
    if (m->read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    cfs_filestat st, before;
    lock(m);
    held_trim(m);
    cfs_errno rc = cfs_getattr(m->fs, eng(ino), &before);
    if (!rc)
        rc = do_setattr(m, eng(ino), attr, to_set);
    bool dropped; /* the reply's attributes tell the kernel */
    if (!rc && (to_set & (FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_UID |
                          FUSE_SET_ATTR_GID)))
        rc = drop_sgid(m, req, eng(ino), &before, &dropped);
    if (!rc)
        rc = cfs_getattr(m->fs, eng(ino), &st);
    unlock(m);
    reply_attr(req, m, rc, &st);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
    struct mnt *m = mnt_of(req);
    char buf[CFS_PATH_MAX + 1];
    size_t len;
    lock(m);
    cfs_errno rc = cfs_readlink_ino(m->fs, eng(ino), buf, CFS_PATH_MAX, &len);
    unlock(m);
    if (rc) {
        reply_cfs_err(req, rc);
        return;
    }
    buf[len < CFS_PATH_MAX ? len : CFS_PATH_MAX] = 0;
    fuse_reply_readlink(req, buf);
}

/* The caller's identity for what it creates in `dir`, with setgid
 * directory inheritance: the group of the directory, and for a new
 * directory the setgid bit too. */
static void set_creds(struct mnt *m, fuse_req_t req, cfs_ino dir,
                      mode_t mode, bool is_dir)
{
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    uint32_t gid = ctx->gid;
    uint32_t perm = mode & 07777;
    cfs_filestat st;
    if (!cfs_getattr(m->fs, dir, &st) && (st.mode & S_ISGID)) {
        gid = st.gid;
        if (is_dir)
            perm |= S_ISGID;
    }
    cfs_fs_set_creds(m->fs, ctx->uid, gid, perm, perm);
}

enum make_kind { MAKE_NODE, MAKE_DIR, MAKE_SYMLINK };

static void do_make(fuse_req_t req, fuse_ino_t parent, const char *name,
                    mode_t mode, dev_t rdev, enum make_kind kind,
                    const char *target)
{
    struct mnt *m = mnt_of(req);
    if (m->read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    cfs_ino dir = eng(parent);
    cfs_fd dfd;
    lock(m);
    held_trim(m);
    cfs_errno rc = held_fd(m, dir, &dfd);
    if (!rc) {
        set_creds(m, req, dir, mode, kind == MAKE_DIR);
        if (kind == MAKE_DIR)
            rc = cfs_path_create_directory(m->fs, dfd, name);
        else if (kind == MAKE_SYMLINK)
            rc = cfs_path_symlink(m->fs, target, dfd, name);
        else
            rc = cfs_path_mknod_dev(m->fs, dfd, name, mode, (uint64_t)rdev);
    }
    if (rc)
        reply_cfs_err(req, rc);
    else
        reply_lookup(req, m, dir, name);
    unlock(m);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
                     mode_t mode, dev_t rdev)
{
    /* FIFOs, sockets and devices are metadata-only inodes: the kernel
     * serves opens of them itself (a pipe, the host's driver), never
     * asking us */
    do_make(req, parent, name, mode, rdev, MAKE_NODE, NULL);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
                     mode_t mode)
{
    do_make(req, parent, name, mode, 0, MAKE_DIR, NULL);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
                       const char *name)
{
    do_make(req, parent, name, 0777, 0, MAKE_SYMLINK, link);
}

static void do_remove(fuse_req_t req, fuse_ino_t parent, const char *name,
                      bool is_dir)
{
    struct mnt *m = mnt_of(req);
    if (m->read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    cfs_fd dfd;
    lock(m);
    held_trim(m);
    cfs_errno rc = held_fd(m, eng(parent), &dfd);
    if (!rc)
        rc = prepare_victim(m, eng(parent), name);
    if (!rc)
        rc = is_dir ? cfs_path_remove_directory(m->fs, dfd, name)
                    : cfs_path_unlink_file(m->fs, dfd, name);
    unlock(m);
    reply_cfs_err(req, rc);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    do_remove(req, parent, name, false);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    do_remove(req, parent, name, true);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                      fuse_ino_t newparent, const char *newname,
                      unsigned int flags)
{
    struct mnt *m = mnt_of(req);
    if (m->read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    /* RENAME_EXCHANGE has no engine event (yet): refuse it plainly. */
    if (flags & ~(unsigned)RENAME_NOREPLACE) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    cfs_fd odfd, ndfd;
    cfs_filestat st;
    lock(m);
    held_trim(m);
    cfs_errno rc = held_fd(m, eng(parent), &odfd);
    if (!rc)
        rc = held_fd(m, eng(newparent), &ndfd);
    if (!rc && (flags & RENAME_NOREPLACE) &&
        !cfs_lookup(m->fs, eng(newparent), newname, &st))
        rc = CFS_EEXIST;
    if (!rc && (flags & RENAME_NOREPLACE) &&
        cfs_lookup(m->fs, eng(parent), name, &st))
        rc = CFS_ENOENT;
    if (!rc) {
        /* renaming a name onto a link of the same inode changes nothing:
         * keep its fd */
        cfs_filestat src;
        if (cfs_lookup(m->fs, eng(parent), name, &src) ||
            cfs_lookup(m->fs, eng(newparent), newname, &st) ||
            src.ino != st.ino)
            rc = prepare_victim(m, eng(newparent), newname);
    }
    if (!rc)
        rc = cfs_path_rename(m->fs, odfd, name, ndfd, newname);
    unlock(m);
    reply_cfs_err(req, rc);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
                    const char *newname)
{
    struct mnt *m = mnt_of(req);
    if (m->read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    cfs_fd fd, dfd;
    lock(m);
    held_trim(m);
    cfs_errno rc = held_fd(m, eng(newparent), &dfd);
    if (!rc)
        rc = held_fd(m, eng(ino), &fd);
    if (!rc)
        rc = cfs_fd_link(m->fs, fd, dfd, newname);
    if (rc)
        reply_cfs_err(req, rc);
    else
        reply_lookup(req, m, eng(newparent), newname);
    unlock(m);
}

/* One more FUSE handle open on ino (op_open, op_opendir; op_release
 * counts it back): false without memory. */
static bool hold_open(struct mnt *m, fuse_ino_t ino)
{
    lock(m);
    struct held *h = held_get(m, eng(ino));
    if (h) {
        h->opens++;
        idle_remove(m, h);
    }
    unlock(m);
    return h != NULL;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct mnt *m = mnt_of(req);
    if (m->read_only && (fi->flags & O_ACCMODE) != O_RDONLY) {
        fuse_reply_err(req, EROFS);
        return;
    }
    fi->keep_cache = 1;
    if (m->read_only) {
        fuse_reply_open(req, fi);
        return;
    }
    if (!hold_open(m, ino))
        fuse_reply_err(req, ENOMEM);
    else
        fuse_reply_open(req, fi);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
                      mode_t mode, struct fuse_file_info *fi)
{
    struct mnt *m = mnt_of(req);
    if (m->read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    cfs_ino dir = eng(parent);
    uint16_t oflags = CFS_O_CREAT;
    if (fi->flags & O_EXCL)
        oflags |= CFS_O_EXCL;
    if (fi->flags & O_TRUNC)
        oflags |= CFS_O_TRUNC;
    cfs_fd dfd, fd = 0;
    cfs_filestat st;
    struct held *h = NULL;
    lock(m);
    held_trim(m);
    cfs_errno rc = held_fd(m, dir, &dfd);
    if (!rc) {
        set_creds(m, req, dir, mode, false);
        rc = cfs_path_open(m->fs, dfd, 0, name, oflags, R_FILE, 0, 0, &fd);
    }
    if (!rc && (rc = cfs_fd_filestat_get(m->fs, fd, &st)))
        (void)cfs_fd_close(m->fs, fd);
    if (!rc) {
        h = held_get(m, st.ino);
        if (!h) {
            (void)cfs_fd_close(m->fs, fd);
            rc = CFS_ENOMEM;
        } else {
            if (h->fd < 0)
                h->fd = fd;
            else
                (void)cfs_fd_close(m->fs, fd);
            h->opens++;
            idle_remove(m, h);
        }
    }
    unlock(m);
    if (rc) {
        reply_cfs_err(req, rc);
        return;
    }
    struct fuse_entry_param e;
    fill_entry(m, &st, &e);
    fi->keep_cache = 1;
    fuse_reply_create(req, &e, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)fi;
    struct mnt *m = mnt_of(req);
    /* through a ring, read straight into the reply's place */
    void *buf = cfs_fuse_ring_reply_buf(size);
    lock(m);
    if (!buf && size > m->rbuf_cap) {
        void *nb = realloc(m->rbuf, size);
        if (!nb) {
            unlock(m);
            fuse_reply_err(req, ENOMEM);
            return;
        }
        m->rbuf = nb;
        m->rbuf_cap = size;
    }
    if (!buf)
        buf = m->rbuf;
    size_t got = 0;
    cfs_errno rc = cfs_file_pread_ino(m->fs, eng(ino), buf, size, (uint64_t)off, &got);
    if (rc)
        reply_cfs_err(req, rc);
    else
        fuse_reply_buf(req, buf, got);
    unlock(m);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
                     size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)fi;
    struct mnt *m = mnt_of(req);
    if (m->read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    cfs_fd fd;
    cfs_filestat before;
    size_t n = 0;
    bool dropped = false;
    lock(m);
    held_trim(m);
    cfs_errno rc = held_fd(m, eng(ino), &fd);
    if (!rc)
        rc = cfs_getattr(m->fs, eng(ino), &before);
    if (!rc)
        rc = cfs_fd_pwrite(m->fs, fd, buf, size, (uint64_t)off, &n);
    if (!rc && n > 0) /* written: a failure shows in the next change */
        (void)drop_sgid(m, req, eng(ino), &before, &dropped);
    unlock(m);
    /* A write's reply carries no attributes and the kernel keeps a file's
     * cached mode across writes: tell it to fetch them again. Only the
     * attributes (offset -1), so no page the write holds is waited for. */
    if (dropped && m->se)
        (void)fuse_lowlevel_notify_inval_inode(m->se, ino, -1, 0);
    if (rc)
        reply_cfs_err(req, rc);
    else
        fuse_reply_write(req, n);
}

/* A directory open in a program is held like an open file (op_open): an
 * rmdir, or a rename over it, leaves it an orphan its fds can still stat
 * and list (empty), as the kernel's own filesystems do. */
static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct mnt *m = mnt_of(req);
    if (!m->read_only && !hold_open(m, ino)) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    fuse_reply_open(req, fi);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    struct mnt *m = mnt_of(req);
    if (m->read_only) {
        fuse_reply_err(req, 0);
        return;
    }
    lock(m);
    struct held *h = held_find(m, eng(ino));
    if (h && h->opens && !--h->opens) {
        cfs_filestat st;
        if (h->fd < 0)
            held_drop_if_empty(m, h);
        else if (!cfs_getattr(m->fs, h->ino, &st) && st.nlink > 0)
            idle_push(m, h);
        else
            held_close_fd(m, h); /* an orphan goes with its last handle */
    }
    unlock(m);
    fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
                     struct fuse_file_info *fi)
{
    (void)ino;
    (void)datasync;
    (void)fi;
    struct mnt *m = mnt_of(req);
    int rc = 0;
    if (m->j && !m->read_only) {
        lock(m);
        rc = cfs_journal_sync(m->j);
        unlock(m);
    }
    fuse_reply_err(req, rc == 0 ? 0 : rc == CFS_JE_NOSPC ? ENOSPC : EIO);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       bool plus)
{
    struct mnt *m = mnt_of(req);
    char *buf = malloc(size ? size : 1);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    size_t used = 0;
    uint64_t cookie = (uint64_t)off;
    cfs_errno rc = 0;
    bool first = true;
    lock(m);
    for (;;) {
        cfs_dirent de;
        rc = cfs_dir_next(m->fs, eng(ino), cookie, &de);
        if (rc == CFS_ENOENT && !first) {
            rc = 0;
            break;
        }
        if (rc == CFS_ENOENT) {
            /* the end, or no such directory? */
            cfs_filestat st;
            rc = cfs_getattr(m->fs, eng(ino), &st);
            if (!rc && st.filetype != CFS_FILETYPE_DIRECTORY)
                rc = CFS_ENOTDIR;
            break;
        }
        if (rc)
            break;
        first = false;
        char name[CFS_NAME_MAX + 1];
        size_t nl = de.name_len <= CFS_NAME_MAX ? de.name_len : CFS_NAME_MAX;
        memcpy(name, de.name, nl);
        name[nl] = 0;
        size_t n;
        if (plus) {
            cfs_filestat st;
            struct fuse_entry_param e;
            if ((rc = cfs_getattr(m->fs, de.ino, &st)))
                break;
            fill_entry(m, &st, &e);
            n = fuse_add_direntry_plus(req, buf + used, size - used, name, &e,
                                       (off_t)de.next);
        } else {
            struct stat s;
            memset(&s, 0, sizeof(s));
            s.st_ino = fus(de.ino);
            cfs_filestat st;
            if (!cfs_getattr(m->fs, de.ino, &st))
                s.st_mode = st.mode & S_IFMT;
            n = fuse_add_direntry(req, buf + used, size - used, name, &s,
                                  (off_t)de.next);
        }
        if (n > size - used)
            break; /* full: the kernel asks again from this entry's cookie */
        used += n;
        cookie = de.next;
    }
    unlock(m);
    if (rc)
        reply_cfs_err(req, rc);
    else
        fuse_reply_buf(req, buf, used);
    free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    (void)fi;
    do_readdir(req, ino, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
                           off_t off, struct fuse_file_info *fi)
{
    (void)fi;
    do_readdir(req, ino, size, off, true);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    (void)ino;
    struct mnt *m = mnt_of(req);
    cfs_statfs s;
    lock(m);
    cfs_errno rc = cfs_fs_statfs(m->fs, &s);
    unlock(m);
    if (rc) {
        reply_cfs_err(req, rc);
        return;
    }
    struct statvfs v;
    memset(&v, 0, sizeof(v));
    v.f_bsize = s.block_size;
    v.f_frsize = s.block_size;
    v.f_blocks = s.blocks;
    v.f_bfree = s.blocks_free;
    v.f_bavail = s.blocks_free;
    v.f_files = s.files + s.files_free;
    v.f_ffree = s.files_free;
    v.f_favail = s.files_free;
    v.f_namemax = s.name_max;
    fuse_reply_statfs(req, &v);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
                         off_t length, struct fuse_file_info *fi)
{
    (void)fi;
    struct mnt *m = mnt_of(req);
    if (m->read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (mode != 0) { /* no hole punching or ranges kept at their size */
        fuse_reply_err(req, EOPNOTSUPP);
        return;
    }
    cfs_fd fd;
    lock(m);
    held_trim(m);
    cfs_errno rc = held_fd(m, eng(ino), &fd);
    if (!rc)
        rc = cfs_fd_allocate(m->fs, fd, (uint64_t)offset, (uint64_t)length);
    unlock(m);
    reply_cfs_err(req, rc);
}

const struct fuse_lowlevel_ops cfs_fuse_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .readlink = op_readlink,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .symlink = op_symlink,
    .rename = op_rename,
    .link = op_link,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .release = op_release,
    .opendir = op_opendir,
    .releasedir = op_release,
    .fsync = op_fsync,
    .readdir = op_readdir,
    .statfs = op_statfs,
    .fsyncdir = op_fsync,
    .create = op_create,
    .fallocate = op_fallocate,
    .readdirplus = op_readdirplus,
};
