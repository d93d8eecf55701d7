/*
 * apply.c — the single place where engine state changes.
 *
 * apply_event() takes one event, checks that it can be applied to the
 * current state exactly as recorded (right seq, the fd it names as new is
 * the one the table would give, a created inode has the next number, the
 * entries it removes exist...), and then applies it. Each op first acquires
 * everything that can fail (memory, table room) and only then mutates, so
 * a refused or failed event leaves the state untouched. Live calls reach
 * here after the sink accepted the event; replay reaches here directly.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void set_errmsg(struct state *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
    va_end(ap);
}

#define REFUSE(rc, ...)                                                        \
    do {                                                                       \
        set_errmsg(st, __VA_ARGS__);                                           \
        return (rc);                                                           \
    } while (0)

/* Why file_write/file_truncate failed. */
static const char *data_failure(cfs_errno rc)
{
    return rc == CFS_ENOMEM ? "out of memory"
                            : "file data could not be loaded from its journal";
}

/* ---- processes and fds ----------------------------------------------------- */

struct proc *proc_get(const struct state *st, uint32_t pid)
{
    struct proc *p = st->procs;
    while (p && p->pid != pid)
        p = p->next;
    return p;
}

struct fdent *fd_get(const struct proc *p, cfs_fd fd)
{
    return fd < p->cap ? p->fds[fd] : NULL;
}

uint32_t fd_first_free(const struct proc *p, uint32_t min)
{
    uint32_t fd = min < p->free_hint ? p->free_hint : min;
    while (fd < p->cap && p->fds[fd])
        fd++;
    return fd;
}

int fd_reserve(struct proc *p, uint32_t fd)
{
    if (fd < p->cap)
        return 0;
    uint32_t ncap = p->cap ? p->cap : 16;
    while (ncap <= fd)
        ncap *= 2;
    if (ncap > CFS_MAX_FD + 1)
        ncap = CFS_MAX_FD + 1;
    struct fdent **n = realloc(p->fds, ncap * sizeof(*n));
    if (!n)
        return -1;
    memset(n + p->cap, 0, (ncap - p->cap) * sizeof(*n));
    p->fds = n;
    p->cap = ncap;
    return 0;
}

static void fd_install(struct proc *p, uint32_t fd, struct fdent *e)
{
    p->fds[fd] = e;
    p->count++;
    if (fd == p->free_hint)
        p->free_hint++;
}

static struct fdent *fd_detach(struct proc *p, uint32_t fd)
{
    struct fdent *e = p->fds[fd];
    p->fds[fd] = NULL;
    p->count--;
    if (fd < p->free_hint)
        p->free_hint = fd;
    return e;
}

/* ---- inodes ------------------------------------------------------------------- */

static struct inode *inode_new(cfs_ino ino, uint8_t type, uint32_t mode,
                               uint32_t uid, uint32_t gid, cfs_time t)
{
    struct inode *in = calloc(1, sizeof(*in));
    if (!in)
        return NULL;
    in->ino = ino;
    in->type = type;
    in->mode = mode & 07777;
    in->uid = uid;
    in->gid = gid;
    in->nlink = 1;
    in->atim = in->mtim = in->ctim = t;
    return in;
}

static void inode_destroy(struct state *st, struct inode *in)
{
    switch (in->type) {
    case CFS_FILETYPE_REGULAR_FILE:
        st->used -= in->u.file.charged;
        file_data_free(&in->u.file.data);
        break;
    case CFS_FILETYPE_DIRECTORY:
        free(in->u.dir.ents); /* empty: only empty dirs are removed */
        break;
    case CFS_FILETYPE_SYMBOLIC_LINK:
        free(in->u.link.target);
        break;
    default:
        break;
    }
    free(in);
}

static void inode_maybe_free(struct state *st, struct inode *in)
{
    if (in->nlink == 0 && in->open_refs == 0) {
        inode_remove(st, in);
        inode_destroy(st, in);
    }
}

void inode_to_filestat(const struct inode *in, cfs_filestat *out)
{
    static const uint32_t ifmt[] = {
        [CFS_FILETYPE_DIRECTORY] = CFS_S_IFDIR,
        [CFS_FILETYPE_REGULAR_FILE] = CFS_S_IFREG,
        [CFS_FILETYPE_SYMBOLIC_LINK] = CFS_S_IFLNK,
        [CFS_FILETYPE_CHARACTER_DEVICE] = CFS_S_IFCHR,
        [CFS_FILETYPE_BLOCK_DEVICE] = CFS_S_IFBLK,
        [CFS_FILETYPE_SOCKET_STREAM] = CFS_S_IFSOCK,
        [CFS_FILETYPE_FIFO] = CFS_S_IFIFO,
    };
    memset(out, 0, sizeof(*out));
    out->ino = in->ino;
    out->filetype = in->type;
    out->nlink = in->nlink;
    out->size = in->size;
    out->atim = in->atim;
    out->mtim = in->mtim;
    out->ctim = in->ctim;
    out->mode = ifmt[in->type] | in->mode;
    out->uid = in->uid;
    out->gid = in->gid;
    if (in->type == CFS_FILETYPE_REGULAR_FILE)
        out->blocks = (in->u.file.charged + 511) / 512;
    if (inode_has_rdev(in->ino, in->type))
        out->rdev = in->u.special.rdev;
}

/* ---- directories -------------------------------------------------------------- */

/* Room for one more entry in `dir` and in the dirent table. */
static int dir_reserve(struct state *st, struct inode *dir)
{
    if (dirent_table_reserve(st))
        return -1;
    if (dir->u.dir.n < dir->u.dir.cap)
        return 0;
    size_t ncap = dir->u.dir.cap ? dir->u.dir.cap * 2 : 8;
    struct dirent **n = realloc(dir->u.dir.ents, ncap * sizeof(*n));
    if (!n)
        return -1;
    dir->u.dir.ents = n;
    dir->u.dir.cap = ncap;
    return 0;
}

static struct dirent *dirent_new(cfs_ino dir, const char *name, cfs_ino ino)
{
    size_t len = strlen(name);
    struct dirent *de = malloc(sizeof(*de) + len + 1);
    if (!de)
        return NULL;
    de->hnext = NULL;
    de->dir = dir;
    de->ino = ino;
    de->cookie = 0;
    de->hash = name_hash(dir, name, len);
    de->len = (uint16_t)len;
    memcpy(de->name, name, len + 1);
    return de;
}

/* Link a new entry (room reserved by dir_reserve). */
static void dir_link(struct state *st, struct inode *dir, struct dirent *de)
{
    de->cookie = dir->u.dir.next_cookie++;
    dir->u.dir.ents[dir->u.dir.n++] = de;
    dir->u.dir.live++;
    dirent_table_insert(st, de);
}

static size_t dir_slot_of(const struct inode *dir, uint64_t cookie)
{
    size_t lo = 0, hi = dir->u.dir.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct dirent *de = dir->u.dir.ents[mid];
        /* NULL slots keep their place in cookie order: find a neighbour */
        size_t k = mid;
        while (!de && k > lo)
            de = dir->u.dir.ents[--k];
        if (!de || de->cookie < cookie) {
            lo = mid + 1;
        } else if (de->cookie > cookie) {
            hi = k;
        } else {
            return k;
        }
    }
    return SIZE_MAX;
}

static void dir_unlink(struct state *st, struct inode *dir, struct dirent *de)
{
    size_t slot = dir_slot_of(dir, de->cookie);
    if (slot != SIZE_MAX)
        dir->u.dir.ents[slot] = NULL;
    dir->u.dir.live--;
    dirent_table_remove(st, de);
    free(de);
    if (dir->u.dir.n > 16 && dir->u.dir.n > 2 * dir->u.dir.live) {
        size_t w = 0;
        for (size_t r = 0; r < dir->u.dir.n; r++)
            if (dir->u.dir.ents[r])
                dir->u.dir.ents[w++] = dir->u.dir.ents[r];
        dir->u.dir.n = w;
    }
}

/* First live entry with cookie >= `cookie`, or NULL. */
struct dirent *dir_entry_at_or_after(const struct inode *dir, uint64_t cookie)
{
    size_t lo = 0, hi = dir->u.dir.n;
    /* lower bound over the non-NULL slots, which are sorted by cookie */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        size_t k = mid;
        while (k < hi && !dir->u.dir.ents[k])
            k++;
        if (k == hi) {
            hi = mid;
        } else if (dir->u.dir.ents[k]->cookie < cookie) {
            lo = k + 1;
        } else {
            hi = mid;
        }
    }
    while (lo < dir->u.dir.n && !dir->u.dir.ents[lo])
        lo++;
    return lo < dir->u.dir.n ? dir->u.dir.ents[lo] : NULL;
}

static void touch_dir(struct inode *dir, cfs_time t)
{
    dir->mtim = dir->ctim = t;
}

/* ---- descriptions --------------------------------------------------------------- */

static void ofd_unref(struct state *st, struct ofd *o)
{
    if (--o->refs)
        return;
    struct inode *in = o->inode;
    in->open_refs--;
    inode_maybe_free(st, in);
    free(o);
}

static void fdent_free(struct state *st, struct fdent *e)
{
    ofd_unref(st, e->ofd);
    free(e->preopen_name);
    free(e->preopen_path);
    free(e);
}

static void fd_close(struct state *st, struct proc *p, uint32_t fd)
{
    fdent_free(st, fd_detach(p, fd));
}

static void proc_close_all(struct state *st, struct proc *p)
{
    for (uint32_t fd = 0; fd < p->cap; fd++)
        if (p->fds[fd])
            fd_close(st, p, fd);
}

void proc_destroy(struct state *st, struct proc *p)
{
    proc_close_all(st, p);
    free(p->fds);
    free(p->cwd);
    free(p);
}

/* ---- field checks shared by the ops ---------------------------------------------- */

static bool valid_name(const char *name)
{
    if (!name || !*name)
        return false;
    size_t len = strnlen(name, CFS_NAME_MAX + 1);
    if (len > CFS_NAME_MAX || memchr(name, '/', len))
        return false;
    return !(strcmp(name, ".") == 0 || strcmp(name, "..") == 0);
}

static struct inode *need_inode(struct state *st, const cfs_event *ev,
                                cfs_ino ino, const char *field)
{
    struct inode *in = inode_get(st, ino);
    if (!in)
        set_errmsg(st, "seq %" PRIu64 ": %s: %s inode %" PRIu64 " does not exist",
                   ev->seq, cfs_op_name(ev->op), field, ino);
    return in;
}

static struct inode *need_dir(struct state *st, const cfs_event *ev,
                              cfs_ino ino, const char *field)
{
    struct inode *in = need_inode(st, ev, ino, field);
    if (in && in->type != CFS_FILETYPE_DIRECTORY) {
        set_errmsg(st, "seq %" PRIu64 ": %s: %s inode %" PRIu64 " is not a directory",
                   ev->seq, cfs_op_name(ev->op), field, ino);
        return NULL;
    }
    return in;
}

/* The entry dir/name must exist and point at `ino`. */
static struct dirent *need_entry(struct state *st, const cfs_event *ev,
                                 cfs_ino dir, const char *name, cfs_ino ino)
{
    struct dirent *de =
        valid_name(name) ? dirent_get(st, dir, name, strlen(name)) : NULL;
    if (!de || de->ino != ino) {
        set_errmsg(st, "seq %" PRIu64 ": %s: entry `%s` in directory %" PRIu64
                   " does not name inode %" PRIu64, ev->seq,
                   cfs_op_name(ev->op), name ? name : "(null)", dir, ino);
        return NULL;
    }
    return de;
}

/* The entry dir/name must be free for a new name. */
static bool need_free_name(struct state *st, const cfs_event *ev,
                           struct inode *dir, const char *name)
{
    if (!valid_name(name)) {
        set_errmsg(st, "seq %" PRIu64 ": %s: invalid entry name", ev->seq,
                   cfs_op_name(ev->op));
        return false;
    }
    if (dir->nlink == 0) {
        set_errmsg(st, "seq %" PRIu64 ": %s: directory %" PRIu64 " was removed",
                   ev->seq, cfs_op_name(ev->op), dir->ino);
        return false;
    }
    if (dirent_get(st, dir->ino, name, strlen(name))) {
        set_errmsg(st, "seq %" PRIu64 ": %s: `%s` already exists in directory %" PRIu64,
                   ev->seq, cfs_op_name(ev->op), name, dir->ino);
        return false;
    }
    return true;
}

static struct fdent *need_fd(struct state *st, const cfs_event *ev,
                             struct proc *p, uint32_t fd)
{
    struct fdent *e = fd_get(p, fd);
    if (!e)
        set_errmsg(st, "seq %" PRIu64 ": %s: fd %u of process %u is not open",
                   ev->seq, cfs_op_name(ev->op), fd, p->pid);
    return e;
}

/* An fd the event says it allocated: it must be the first free one at or
 * above `min` (so replay allocates exactly as the live call did). */
static bool need_new_fd(struct state *st, const cfs_event *ev,
                        struct proc *p, uint32_t fd, uint32_t min)
{
    uint32_t want = fd_first_free(p, min);
    if (fd != want || fd > CFS_MAX_FD) {
        set_errmsg(st, "seq %" PRIu64 ": %s: recorded fd %u but the first free fd is %u",
                   ev->seq, cfs_op_name(ev->op), fd, want);
        return false;
    }
    return true;
}

static bool need_new_ino(struct state *st, const cfs_event *ev)
{
    if (ev->ino != st->next_ino) {
        set_errmsg(st, "seq %" PRIu64 ": %s: recorded inode %" PRIu64
                   " but the next inode is %" PRIu64, ev->seq,
                   cfs_op_name(ev->op), ev->ino, st->next_ino);
        return false;
    }
    return true;
}

/* A new open-file description + fd entry for inode `in`, all allocated up
 * front; committed by commit_fd(). */
struct newfd {
    struct ofd *ofd;
    struct fdent *ent;
};

static int alloc_fd(struct newfd *n, struct proc *p, uint32_t fd)
{
    n->ofd = calloc(1, sizeof(*n->ofd));
    n->ent = calloc(1, sizeof(*n->ent));
    if (!n->ofd || !n->ent || fd_reserve(p, fd)) {
        free(n->ofd);
        free(n->ent);
        return -1;
    }
    return 0;
}

static void commit_fd(struct state *st, struct proc *p, uint32_t fd,
                      struct newfd *n, struct inode *in, const cfs_event *ev,
                      uint16_t fdflags)
{
    n->ofd->id = ev->ofd;
    n->ofd->refs = 1;
    n->ofd->inode = in;
    n->ofd->fdflags = fdflags;
    in->open_refs++;
    st->next_ofd = ev->ofd + 1;
    n->ent->ofd = n->ofd;
    n->ent->base = ev->rights_base;
    n->ent->inheriting = ev->rights_inheriting;
    fd_install(p, fd, n->ent);
}

/* ---- the ops ---------------------------------------------------------------------- */

static cfs_errno ap_open(struct state *st, struct proc *p, const cfs_event *ev)
{
    bool created = ev->flags & CFS_EVF_OPEN_CREATED;
    bool trunc = ev->flags & CFS_EVF_OPEN_TRUNCATE;
    if (!need_new_fd(st, ev, p, ev->fd2, 0))
        return CFS_EBADF;
    if (ev->ofd != st->next_ofd)
        REFUSE(CFS_EINVAL, "seq %" PRIu64 ": open: recorded description %" PRIu64
               " but the next is %" PRIu64, ev->seq, ev->ofd, st->next_ofd);
    struct inode *dir = NULL, *in = NULL;
    struct dirent *de = NULL;
    if (created) {
        if (!need_new_ino(st, ev))
            return CFS_EINVAL;
        if (!(dir = need_dir(st, ev, ev->dir, "parent")))
            return CFS_ENOENT;
        if (!need_free_name(st, ev, dir, ev->name))
            return CFS_EEXIST;
        in = inode_new(ev->ino, CFS_FILETYPE_REGULAR_FILE, ev->mode, ev->uid,
                       ev->gid, ev->time);
        de = dirent_new(dir->ino, ev->name, ev->ino);
        if (!in || !de || dir_reserve(st, dir))
            goto nomem;
    } else {
        if (!(in = need_inode(st, ev, ev->ino, "target")))
            return CFS_ENOENT;
        if (ev->name && !need_entry(st, ev, ev->dir, ev->name, ev->ino))
            return CFS_ENOENT;
        if (trunc && in->type != CFS_FILETYPE_REGULAR_FILE)
            REFUSE(CFS_EISDIR, "seq %" PRIu64 ": open: truncate of a non-file",
                   ev->seq);
        if (inode_is_special(in) &&
            ((ev->rights_base & ~CFS_RIGHTS_SYMLINK_FD) || ev->rights_inheriting))
            REFUSE(CFS_ENXIO, "seq %" PRIu64 ": open: inode %" PRIu64
                   " is a FIFO, socket or device: metadata rights only",
                   ev->seq, in->ino);
    }
    struct newfd n;
    if (alloc_fd(&n, p, ev->fd2))
        goto nomem;
    if (created) {
        if (inode_insert(st, in)) {
            free(n.ofd);
            free(n.ent);
            goto nomem;
        }
        dir_link(st, dir, de);
        touch_dir(dir, ev->time);
        st->next_ino = ev->ino + 1;
    } else if (trunc) {
        uint64_t before = in->u.file.charged;
        file_truncate(in, 0); /* to 0: no block is copied, cannot fail */
        st->used -= before - in->u.file.charged;
        in->size = 0;
        in->mtim = in->ctim = ev->time;
    }
    commit_fd(st, p, ev->fd2, &n, in, ev, (uint16_t)((ev->flags >> 8) & CFS_FDFLAGS_ALL));
    return 0;
nomem:
    free(in);
    free(de);
    REFUSE(CFS_ENOMEM, "seq %" PRIu64 ": open: out of memory", ev->seq);
}

static cfs_errno ap_preopen(struct state *st, struct proc *p,
                            const cfs_event *ev)
{
    if (!need_new_fd(st, ev, p, ev->fd2, 0))
        return CFS_EBADF;
    if (ev->ofd != st->next_ofd)
        REFUSE(CFS_EINVAL, "seq %" PRIu64 ": preopen: recorded description %" PRIu64
               " but the next is %" PRIu64, ev->seq, ev->ofd, st->next_ofd);
    struct inode *in = need_dir(st, ev, ev->ino, "preopened");
    if (!in)
        return CFS_ENOTDIR;
    if (!ev->name || !ev->path)
        REFUSE(CFS_EINVAL, "seq %" PRIu64 ": preopen: missing name or path", ev->seq);
    struct newfd n;
    char *name = strdup(ev->name), *path = strdup(ev->path);
    if (!name || !path || alloc_fd(&n, p, ev->fd2)) {
        free(name);
        free(path);
        REFUSE(CFS_ENOMEM, "seq %" PRIu64 ": preopen: out of memory", ev->seq);
    }
    n.ent->preopen_name = name;
    n.ent->preopen_path = path;
    commit_fd(st, p, ev->fd2, &n, in, ev, 0);
    return 0;
}

static cfs_errno ap_close(struct state *st, struct proc *p, const cfs_event *ev)
{
    if (!need_fd(st, ev, p, ev->fd))
        return CFS_EBADF;
    fd_close(st, p, ev->fd);
    return 0;
}

static cfs_errno ap_offset(struct state *st, struct proc *p,
                           const cfs_event *ev)
{
    struct fdent *e = need_fd(st, ev, p, ev->fd);
    if (!e)
        return CFS_EBADF;
    if (ev->offset > CFS_MAX_FILE_SIZE)
        REFUSE(CFS_EINVAL, "seq %" PRIu64 ": %s: offset out of range", ev->seq,
               cfs_op_name(ev->op));
    e->ofd->offset = ev->offset;
    return 0;
}

/* The regular file an fd-or-path event acts on, checked against `ino`. */
static struct inode *need_file(struct state *st, const cfs_event *ev)
{
    struct inode *in = need_inode(st, ev, ev->ino, "target");
    if (in && in->type != CFS_FILETYPE_REGULAR_FILE) {
        set_errmsg(st, "seq %" PRIu64 ": %s: inode %" PRIu64 " is not a regular file",
                   ev->seq, cfs_op_name(ev->op), ev->ino);
        return NULL;
    }
    return in;
}

static bool budget_allows(const struct state *st, uint64_t more)
{
    return st->budget == 0 || (more <= st->budget && st->used <= st->budget - more);
}

static cfs_errno ap_write(struct state *st, struct proc *p, const cfs_event *ev)
{
    struct fdent *e = need_fd(st, ev, p, ev->fd);
    if (!e)
        return CFS_EBADF;
    struct inode *in = e->ofd->inode;
    if (in->ino != ev->ino)
        REFUSE(CFS_EINVAL, "seq %" PRIu64 ": write: fd %u is inode %" PRIu64
               ", event says %" PRIu64, ev->seq, ev->fd, in->ino, ev->ino);
    if (ev->length && !ev->data && in->type == CFS_FILETYPE_REGULAR_FILE)
        REFUSE(CFS_EINVAL, "seq %" PRIu64 ": write: no data", ev->seq);
    if (inode_is_special(in))
        REFUSE(CFS_EINVAL, "seq %" PRIu64 ": write: inode %" PRIu64
               " is a FIFO, socket or device", ev->seq, in->ino);
    if (ev->offset > CFS_MAX_FILE_SIZE ||
        ev->length > CFS_MAX_FILE_SIZE - ev->offset)
        REFUSE(CFS_EFBIG, "seq %" PRIu64 ": write: past the largest file size", ev->seq);
    if (in->type == CFS_FILETYPE_REGULAR_FILE) {
        uint64_t cost = file_write_cost(in, ev->offset, ev->length);
        if (!budget_allows(st, cost))
            REFUSE(CFS_ENOSPC, "seq %" PRIu64 ": write: byte budget exceeded", ev->seq);
        uint64_t before = in->u.file.charged;
        cfs_errno rc = file_write(in, ev->data, ev->offset, ev->length, false);
        if (rc)
            REFUSE(rc, "seq %" PRIu64 ": write: %s", ev->seq, data_failure(rc));
        st->used += in->u.file.charged - before;
        if (ev->offset + ev->length > in->size)
            in->size = ev->offset + ev->length;
    }
    if (ev->length || in->type != CFS_FILETYPE_REGULAR_FILE)
        in->mtim = in->ctim = ev->time;
    if (ev->flags & CFS_EVF_WRITE_MOVES)
        e->ofd->offset = ev->offset + ev->length;
    return 0;
}

static cfs_errno set_size(struct state *st, const cfs_event *ev,
                          struct inode *in, uint64_t size)
{
    if (size > CFS_MAX_FILE_SIZE)
        REFUSE(CFS_EFBIG, "seq %" PRIu64 ": set_size: too large", ev->seq);
    if (size < in->size) {
        uint64_t before = in->u.file.charged;
        cfs_errno rc = file_truncate(in, size);
        if (rc)
            REFUSE(rc, "seq %" PRIu64 ": set_size: %s", ev->seq, data_failure(rc));
        st->used -= before - in->u.file.charged;
    }
    in->size = size;
    return 0;
}

static cfs_errno ap_set_size(struct state *st, const cfs_event *ev)
{
    struct inode *in = need_file(st, ev);
    if (!in)
        return CFS_EINVAL;
    cfs_errno rc = set_size(st, ev, in, ev->offset);
    if (rc)
        return rc;
    in->mtim = in->ctim = ev->time;
    return 0;
}

static cfs_errno ap_allocate(struct state *st, const cfs_event *ev)
{
    struct inode *in = need_file(st, ev);
    if (!in)
        return CFS_EINVAL;
    if (ev->offset > CFS_MAX_FILE_SIZE ||
        ev->length > CFS_MAX_FILE_SIZE - ev->offset)
        REFUSE(CFS_EFBIG, "seq %" PRIu64 ": allocate: past the largest file size", ev->seq);
    uint64_t cost = file_write_cost(in, ev->offset, ev->length);
    if (!budget_allows(st, cost))
        REFUSE(CFS_ENOSPC, "seq %" PRIu64 ": allocate: byte budget exceeded", ev->seq);
    uint64_t before = in->u.file.charged;
    cfs_errno rc = file_write(in, NULL, ev->offset, ev->length, true);
    if (rc)
        REFUSE(rc, "seq %" PRIu64 ": allocate: %s", ev->seq, data_failure(rc));
    st->used += in->u.file.charged - before;
    if (ev->offset + ev->length > in->size) {
        in->size = ev->offset + ev->length;
        in->mtim = in->ctim = ev->time;
    }
    return 0;
}

static cfs_errno ap_set_times(struct state *st, const cfs_event *ev)
{
    struct inode *in = need_inode(st, ev, ev->ino, "target");
    if (!in)
        return CFS_ENOENT;
    if (ev->flags & (CFS_FST_ATIM | CFS_FST_ATIM_NOW))
        in->atim = ev->offset;
    if (ev->flags & (CFS_FST_MTIM | CFS_FST_MTIM_NOW))
        in->mtim = ev->length;
    in->ctim = ev->time;
    return 0;
}

/* The type a MKNOD event makes, from its mode's type bits; and its rdev
 * only for a device. */
static cfs_errno mknod_type(struct state *st, const cfs_event *ev,
                           uint8_t *type)
{
    switch (ev->mode & ~(uint32_t)07777) {
    case 0:
    case CFS_S_IFREG: *type = CFS_FILETYPE_REGULAR_FILE; break;
    case CFS_S_IFIFO: *type = CFS_FILETYPE_FIFO; break;
    case CFS_S_IFSOCK: *type = CFS_FILETYPE_SOCKET_STREAM; break;
    case CFS_S_IFCHR: *type = CFS_FILETYPE_CHARACTER_DEVICE; break;
    case CFS_S_IFBLK: *type = CFS_FILETYPE_BLOCK_DEVICE; break;
    default:
        REFUSE(CFS_EINVAL, "seq %" PRIu64 ": mknod: mode %#o has no type mknod makes",
               ev->seq, ev->mode);
    }
    if (ev->offset && !inode_has_rdev(ev->ino, *type))
        REFUSE(CFS_EINVAL, "seq %" PRIu64 ": mknod: a device number for a non-device",
               ev->seq);
    return 0;
}

/* Shared by mkdir, symlink, mknod: a new inode linked at dir/name. */
static cfs_errno ap_create(struct state *st, const cfs_event *ev, uint8_t type)
{
    if (!need_new_ino(st, ev))
        return CFS_EINVAL;
    if (ev->op == CFS_OP_MKNOD) {
        cfs_errno rc = mknod_type(st, ev, &type);
        if (rc)
            return rc;
    }
    struct inode *dir = need_dir(st, ev, ev->dir, "parent");
    if (!dir)
        return CFS_ENOENT;
    if (!need_free_name(st, ev, dir, ev->name))
        return CFS_EEXIST;
    uint32_t mode = type == CFS_FILETYPE_SYMBOLIC_LINK ? 0777 : ev->mode;
    struct inode *in = inode_new(ev->ino, type, mode, ev->uid, ev->gid, ev->time);
    struct dirent *de = dirent_new(dir->ino, ev->name, ev->ino);
    char *target = NULL;
    if (type == CFS_FILETYPE_SYMBOLIC_LINK) {
        if (!ev->path || !*ev->path) {
            free(in);
            free(de);
            REFUSE(CFS_EINVAL, "seq %" PRIu64 ": symlink: empty target", ev->seq);
        }
        target = strdup(ev->path);
    }
    if (!in || !de || (type == CFS_FILETYPE_SYMBOLIC_LINK && !target) ||
        dir_reserve(st, dir) || inode_insert(st, in)) {
        free(in);
        free(de);
        free(target);
        REFUSE(CFS_ENOMEM, "seq %" PRIu64 ": %s: out of memory", ev->seq,
               cfs_op_name(ev->op));
    }
    if (type == CFS_FILETYPE_DIRECTORY) {
        in->nlink = 2;
        in->u.dir.parent = dir->ino;
        in->u.dir.next_cookie = DIRCOOKIE_FIRST;
        dir->nlink++;
    } else if (type == CFS_FILETYPE_SYMBOLIC_LINK) {
        in->u.link.target = target;
        in->u.link.len = strlen(target);
        in->size = in->u.link.len;
    } else if (type != CFS_FILETYPE_REGULAR_FILE) {
        in->u.special.rdev = ev->offset;
    }
    dir_link(st, dir, de);
    touch_dir(dir, ev->time);
    st->next_ino = ev->ino + 1;
    return 0;
}

/* Remove the entry `de` of `dir` naming `in`; the link count drops. */
static void drop_link(struct state *st, struct inode *dir, struct dirent *de,
                      struct inode *in, cfs_time t)
{
    dir_unlink(st, dir, de);
    if (in->type == CFS_FILETYPE_DIRECTORY) {
        in->nlink = 0;
        dir->nlink--;
    } else {
        in->nlink--;
    }
    in->ctim = t;
    inode_maybe_free(st, in);
}

static cfs_errno ap_remove(struct state *st, const cfs_event *ev, bool isdir)
{
    struct inode *dir = need_dir(st, ev, ev->dir, "parent");
    if (!dir)
        return CFS_ENOENT;
    struct dirent *de = need_entry(st, ev, ev->dir, ev->name, ev->ino);
    if (!de)
        return CFS_ENOENT;
    struct inode *in = need_inode(st, ev, ev->ino, "target");
    if (!in)
        return CFS_ENOENT;
    if (isdir != (in->type == CFS_FILETYPE_DIRECTORY))
        REFUSE(isdir ? CFS_ENOTDIR : CFS_EISDIR,
               "seq %" PRIu64 ": %s: inode %" PRIu64 " has the wrong type",
               ev->seq, cfs_op_name(ev->op), in->ino);
    if (isdir && in->u.dir.live)
        REFUSE(CFS_ENOTEMPTY, "seq %" PRIu64 ": rmdir: directory %" PRIu64 " is not empty",
               ev->seq, in->ino);
    drop_link(st, dir, de, in, ev->time);
    touch_dir(dir, ev->time);
    return 0;
}

static cfs_errno ap_rename(struct state *st, const cfs_event *ev)
{
    struct inode *odir = need_dir(st, ev, ev->dir, "source parent");
    struct inode *ndir = need_dir(st, ev, ev->dir2, "target parent");
    if (!odir || !ndir)
        return CFS_ENOENT;
    struct dirent *ode = need_entry(st, ev, ev->dir, ev->name, ev->ino);
    if (!ode)
        return CFS_ENOENT;
    struct inode *in = need_inode(st, ev, ev->ino, "source");
    if (!in)
        return CFS_ENOENT;
    struct dirent *nde = NULL;
    struct inode *victim = NULL;
    if (ev->ino2) {
        if (!(nde = need_entry(st, ev, ev->dir2, ev->name2, ev->ino2)) ||
            !(victim = need_inode(st, ev, ev->ino2, "replaced")))
            return CFS_ENOENT;
        if (victim == in)
            REFUSE(CFS_EINVAL, "seq %" PRIu64 ": rename: source and target are one inode",
                   ev->seq);
        bool vdir = victim->type == CFS_FILETYPE_DIRECTORY;
        if (vdir != (in->type == CFS_FILETYPE_DIRECTORY))
            REFUSE(vdir ? CFS_EISDIR : CFS_ENOTDIR,
                   "seq %" PRIu64 ": rename: file/directory mismatch", ev->seq);
        if (vdir && victim->u.dir.live)
            REFUSE(CFS_ENOTEMPTY, "seq %" PRIu64 ": rename: target not empty", ev->seq);
    } else if (!need_free_name(st, ev, ndir, ev->name2)) {
        return CFS_EEXIST;
    }
    if (in->type == CFS_FILETYPE_DIRECTORY && dir_is_ancestor(st, in->ino, ndir->ino))
        REFUSE(CFS_EINVAL, "seq %" PRIu64 ": rename: directory into itself", ev->seq);
    struct dirent *de = dirent_new(ndir->ino, ev->name2, in->ino);
    if (!de || dir_reserve(st, ndir)) {
        free(de);
        REFUSE(CFS_ENOMEM, "seq %" PRIu64 ": rename: out of memory", ev->seq);
    }
    /* The source keeps an open_ref-free moment at nlink unchanged: unlink
     * the old entry without dropping a link, then link the new one. */
    if (victim)
        drop_link(st, ndir, nde, victim, ev->time);
    dir_unlink(st, odir, ode);
    dir_link(st, ndir, de);
    if (in->type == CFS_FILETYPE_DIRECTORY && odir != ndir) {
        in->u.dir.parent = ndir->ino;
        odir->nlink--;
        ndir->nlink++;
    }
    in->ctim = ev->time;
    touch_dir(odir, ev->time);
    touch_dir(ndir, ev->time);
    return 0;
}

static cfs_errno ap_link(struct state *st, const cfs_event *ev)
{
    struct inode *in = need_inode(st, ev, ev->ino, "source");
    struct inode *dir = need_dir(st, ev, ev->dir2, "target parent");
    if (!in || !dir)
        return CFS_ENOENT;
    if (in->type == CFS_FILETYPE_DIRECTORY)
        REFUSE(CFS_EPERM, "seq %" PRIu64 ": link: inode %" PRIu64 " is a directory",
               ev->seq, in->ino);
    if (in->nlink == 0)
        REFUSE(CFS_ENOENT, "seq %" PRIu64 ": link: inode %" PRIu64 " is unlinked",
               ev->seq, in->ino);
    if (!need_free_name(st, ev, dir, ev->name2))
        return CFS_EEXIST;
    struct dirent *de = dirent_new(dir->ino, ev->name2, in->ino);
    if (!de || dir_reserve(st, dir)) {
        free(de);
        REFUSE(CFS_ENOMEM, "seq %" PRIu64 ": link: out of memory", ev->seq);
    }
    dir_link(st, dir, de);
    in->nlink++;
    in->ctim = ev->time;
    touch_dir(dir, ev->time);
    return 0;
}

static cfs_errno ap_attr(struct state *st, const cfs_event *ev)
{
    struct inode *in = need_inode(st, ev, ev->ino, "target");
    if (!in)
        return CFS_ENOENT;
    if (ev->op == CFS_OP_CHMOD) {
        in->mode = ev->mode & 07777;
    } else {
        if (ev->uid != UINT32_MAX)
            in->uid = ev->uid;
        if (ev->gid != UINT32_MAX)
            in->gid = ev->gid;
    }
    in->ctim = ev->time;
    return 0;
}

static cfs_errno ap_dup(struct state *st, struct proc *p, const cfs_event *ev)
{
    struct fdent *src = need_fd(st, ev, p, ev->fd);
    if (!src)
        return CFS_EBADF;
    if (ev->fd2 > CFS_MAX_FD || fd_get(p, ev->fd2))
        REFUSE(CFS_EEXIST, "seq %" PRIu64 ": dup: fd %u is not free", ev->seq, ev->fd2);
    struct fdent *e = calloc(1, sizeof(*e));
    if (!e || fd_reserve(p, ev->fd2)) {
        free(e);
        REFUSE(CFS_ENOMEM, "seq %" PRIu64 ": dup: out of memory", ev->seq);
    }
    e->ofd = src->ofd;
    e->ofd->refs++;
    e->base = src->base;
    e->inheriting = src->inheriting;
    e->cloexec = ev->flags & CFS_EVF_CLOEXEC;
    e->stdio = src->stdio;
    fd_install(p, ev->fd2, e);
    return 0;
}

static cfs_errno ap_renumber(struct state *st, struct proc *p,
                             const cfs_event *ev)
{
    if (!need_fd(st, ev, p, ev->fd) || !need_fd(st, ev, p, ev->fd2))
        return CFS_EBADF;
    if (ev->fd == ev->fd2)
        return 0;
    struct fdent *e = fd_detach(p, ev->fd);
    fd_close(st, p, ev->fd2);
    fd_install(p, ev->fd2, e);
    return 0;
}

static cfs_errno ap_fdattr(struct state *st, struct proc *p, const cfs_event *ev)
{
    struct fdent *e = need_fd(st, ev, p, ev->fd);
    if (!e)
        return CFS_EBADF;
    switch (ev->op) {
    case CFS_OP_SET_FLAGS:
        if (ev->flags & ~(uint32_t)CFS_FDFLAGS_ALL)
            REFUSE(CFS_EINVAL, "seq %" PRIu64 ": set_flags: bad flags", ev->seq);
        e->ofd->fdflags = (uint16_t)ev->flags;
        break;
    case CFS_OP_SET_RIGHTS:
        if ((ev->rights_base & ~e->base) ||
            (ev->rights_inheriting & ~e->inheriting))
            REFUSE(CFS_ENOTCAPABLE, "seq %" PRIu64 ": set_rights: adds rights", ev->seq);
        e->base = ev->rights_base;
        e->inheriting = ev->rights_inheriting;
        break;
    default: /* SET_CLOEXEC */
        e->cloexec = ev->flags & CFS_EVF_CLOEXEC;
        break;
    }
    return 0;
}

static cfs_errno ap_close_cloexec(struct state *st, struct proc *p)
{
    for (uint32_t fd = 0; fd < p->cap; fd++) {
        struct fdent *e = p->fds[fd];
        if (e && e->cloexec && !e->stdio && !e->preopen_name)
            fd_close(st, p, fd);
    }
    return 0;
}

static cfs_errno ap_fork(struct state *st, struct proc *p, const cfs_event *ev)
{
    if (ev->fd2 != st->next_pid)
        REFUSE(CFS_EINVAL, "seq %" PRIu64 ": fork: recorded pid %u but the next is %u",
               ev->seq, ev->fd2, st->next_pid);
    struct proc *c = calloc(1, sizeof(*c));
    if (!c)
        goto nomem;
    c->pid = ev->fd2;
    c->cwd = strdup(p->cwd);
    c->cap = p->cap;
    c->fds = p->cap ? calloc(p->cap, sizeof(*c->fds)) : NULL;
    if (!c->cwd || (p->cap && !c->fds))
        goto nomem_c;
    for (uint32_t fd = 0; fd < p->cap; fd++) {
        struct fdent *s = p->fds[fd];
        if (!s)
            continue;
        struct fdent *e = malloc(sizeof(*e));
        if (!e)
            goto nomem_c;
        *e = *s;
        e->preopen_name = s->preopen_name ? strdup(s->preopen_name) : NULL;
        e->preopen_path = s->preopen_path ? strdup(s->preopen_path) : NULL;
        c->fds[fd] = e;
        if ((s->preopen_name && !e->preopen_name) ||
            (s->preopen_path && !e->preopen_path))
            goto nomem_c;
    }
    /* everything allocated: now share the descriptions */
    for (uint32_t fd = 0; fd < c->cap; fd++)
        if (c->fds[fd])
            c->fds[fd]->ofd->refs++;
    c->count = p->count;
    c->free_hint = p->free_hint;
    struct proc **pp = &st->procs;
    while (*pp && (*pp)->pid < c->pid)
        pp = &(*pp)->next;
    c->next = *pp;
    *pp = c;
    st->next_pid = c->pid + 1;
    return 0;
nomem_c:
    for (uint32_t fd = 0; fd < c->cap && c->fds; fd++) {
        if (c->fds[fd]) {
            free(c->fds[fd]->preopen_name);
            free(c->fds[fd]->preopen_path);
            free(c->fds[fd]);
        }
    }
    free(c->fds);
    free(c->cwd);
    free(c);
nomem:
    REFUSE(CFS_ENOMEM, "seq %" PRIu64 ": fork: out of memory", ev->seq);
}

static cfs_errno ap_exit(struct state *st, struct proc *p, const cfs_event *ev)
{
    if (p->pid == 1)
        REFUSE(CFS_EINVAL, "seq %" PRIu64 ": exit: process 1 cannot exit", ev->seq);
    struct proc **pp = &st->procs;
    while (*pp != p)
        pp = &(*pp)->next;
    *pp = p->next;
    proc_destroy(st, p);
    return 0;
}

static cfs_errno ap_chdir(struct state *st, struct proc *p, const cfs_event *ev)
{
    if (!ev->path || ev->path[0] != '/')
        REFUSE(CFS_EINVAL, "seq %" PRIu64 ": chdir: path must be absolute", ev->seq);
    char *cwd = strdup(ev->path);
    if (!cwd)
        REFUSE(CFS_ENOMEM, "seq %" PRIu64 ": chdir: out of memory", ev->seq);
    free(p->cwd);
    p->cwd = cwd;
    return 0;
}

static void assert_state(const struct state *st);

cfs_errno apply_event(struct state *st, const cfs_event *ev)
{
    if (ev->seq != st->seq + 1)
        REFUSE(CFS_EINVAL, "seq %" PRIu64 ": out of order: the next seq is %" PRIu64,
               ev->seq, st->seq + 1);
    struct proc *p = proc_get(st, ev->pid);
    if (!p)
        REFUSE(CFS_ESRCH, "seq %" PRIu64 ": %s: no process %u", ev->seq,
               cfs_op_name(ev->op), ev->pid);
    cfs_errno rc;
    switch (ev->op) {
    case CFS_OP_OPEN: rc = ap_open(st, p, ev); break;
    case CFS_OP_PREOPEN: rc = ap_preopen(st, p, ev); break;
    case CFS_OP_CLOSE: rc = ap_close(st, p, ev); break;
    case CFS_OP_READ:
    case CFS_OP_SEEK: rc = ap_offset(st, p, ev); break;
    case CFS_OP_WRITE: rc = ap_write(st, p, ev); break;
    case CFS_OP_SET_SIZE: rc = ap_set_size(st, ev); break;
    case CFS_OP_ALLOCATE: rc = ap_allocate(st, ev); break;
    case CFS_OP_SET_TIMES: rc = ap_set_times(st, ev); break;
    case CFS_OP_MKDIR: rc = ap_create(st, ev, CFS_FILETYPE_DIRECTORY); break;
    case CFS_OP_SYMLINK: rc = ap_create(st, ev, CFS_FILETYPE_SYMBOLIC_LINK); break;
    case CFS_OP_MKNOD: rc = ap_create(st, ev, CFS_FILETYPE_REGULAR_FILE); break;
    case CFS_OP_RMDIR: rc = ap_remove(st, ev, true); break;
    case CFS_OP_UNLINK: rc = ap_remove(st, ev, false); break;
    case CFS_OP_RENAME: rc = ap_rename(st, ev); break;
    case CFS_OP_LINK: rc = ap_link(st, ev); break;
    case CFS_OP_CHMOD:
    case CFS_OP_CHOWN: rc = ap_attr(st, ev); break;
    case CFS_OP_DUP: rc = ap_dup(st, p, ev); break;
    case CFS_OP_RENUMBER: rc = ap_renumber(st, p, ev); break;
    case CFS_OP_SET_FLAGS:
    case CFS_OP_SET_RIGHTS:
    case CFS_OP_SET_CLOEXEC: rc = ap_fdattr(st, p, ev); break;
    case CFS_OP_CLOSE_CLOEXEC: rc = ap_close_cloexec(st, p); break;
    case CFS_OP_CLOSE_ALL: proc_close_all(st, p); rc = 0; break;
    case CFS_OP_FORK: rc = ap_fork(st, p, ev); break;
    case CFS_OP_EXIT: rc = ap_exit(st, p, ev); break;
    case CFS_OP_CHDIR: rc = ap_chdir(st, p, ev); break;
    case CFS_OP_SET_BUDGET: st->budget = ev->offset; rc = 0; break;
    default:
        REFUSE(CFS_EINVAL, "seq %" PRIu64 ": unknown op %u", ev->seq, ev->op);
    }
    if (rc == 0)
        st->seq = ev->seq;
    assert_state(st);
    return rc;
}

/*
 * state_invalid: the invariants of the state machine, or what breaks them.
 *  - every directory entry is in its directory's cookie-ordered list, names
 *    a live inode, and its directory is linked; `live` counts the entries;
 *  - a non-directory's nlink is the number of entries naming it; a linked
 *    directory is named by exactly one entry, in its parent, and its nlink
 *    is 2 + its subdirectories; parent links lead to the root (no cycle);
 *  - an unlinked inode (nlink 0) is held open; stdio are character devices
 *    and the root a directory; open_refs counts the descriptions on an
 *    inode; `used` is the sum of the files' charges; a process's `count`
 *    and `free_hint` are right; counters are past every number in use.
 * Debug builds assert it after every event (while the state is small);
 * loading an image checks it, so a damaged image cannot build a state the
 * engine would misbehave on. O(state), using inode.scratch.
 */
const char *state_invalid(const struct state *st)
{
    uint64_t used = 0;
    size_t n_ent = 0;
    const struct inode *root = inode_get(st, CFS_INO_ROOT);
    if (!root || root->type != CFS_FILETYPE_DIRECTORY || root->u.dir.parent != CFS_INO_ROOT)
        return "the root is not a directory of its own";
    for (cfs_ino i = CFS_INO_STDIN; i < CFS_INO_ROOT; i++) {
        const struct inode *in = inode_get(st, i);
        if (in && in->type != CFS_FILETYPE_CHARACTER_DEVICE)
            return "a stdio inode is not a character device";
    }
    for (size_t b = 0; b < st->itab_cap; b++)
        for (struct inode *in = st->itab[b]; in; in = in->hnext) {
            in->scratch = 0; /* entries naming it */
            in->scratch2 = 0; /* descriptions on it */
            if (in->ino >= st->next_ino)
                return "an inode number is past the counter";
        }
    for (size_t b = 0; b < st->itab_cap; b++)
        for (const struct inode *in = st->itab[b]; in; in = in->hnext) {
            if (in->type == CFS_FILETYPE_REGULAR_FILE)
                used += in->u.file.charged;
            if (in->type != CFS_FILETYPE_DIRECTORY)
                continue;
            size_t live = 0, subdirs = 0;
            uint64_t last = 0;
            for (size_t k = 0; k < in->u.dir.n; k++) {
                const struct dirent *de = in->u.dir.ents[k];
                if (!de)
                    continue;
                if (de->cookie <= last || de->cookie >= in->u.dir.next_cookie ||
                    de->dir != in->ino || dirent_get(st, in->ino, de->name, de->len) != de)
                    return "a directory entry is out of order or out of the table";
                last = de->cookie;
                struct inode *c = inode_get(st, de->ino);
                if (!c || in->nlink == 0)
                    return "an entry names a missing inode, or sits in a removed directory";
                if (c->type == CFS_FILETYPE_DIRECTORY) {
                    if (c->u.dir.parent != in->ino || c == root)
                        return "a directory's parent link does not match its entry";
                    subdirs++;
                }
                c->scratch++;
                live++;
            }
            if (live != in->u.dir.live)
                return "a directory's entry count is wrong";
            n_ent += live;
            if (in->nlink && in->nlink != 2 + subdirs)
                return "a directory's link count is not 2 + its subdirectories";
        }
    if (n_ent != st->dcount)
        return "the entry table holds entries no directory lists";
    if (used != st->used)
        return "the bytes charged to the budget do not add up";
    for (const struct proc *p = st->procs; p; p = p->next) {
        uint32_t count = 0;
        if (p->pid >= st->next_pid || (p->next && p->next->pid <= p->pid))
            return "process ids out of order or past the counter";
        for (uint32_t fd = 0; fd < p->cap; fd++) {
            const struct fdent *e = p->fds[fd];
            if (!e) {
                if (fd < p->free_hint)
                    return "a free fd below the free hint";
                continue;
            }
            count++;
            if (!e->ofd || e->ofd->refs == 0 || e->ofd->id >= st->next_ofd ||
                inode_get(st, e->ofd->inode->ino) != e->ofd->inode)
                return "an fd's description is wrong";
            e->ofd->inode->scratch2 += 1;
        }
        if (count != p->count)
            return "a process's fd count is wrong";
    }
    for (size_t b = 0; b < st->itab_cap; b++)
        for (const struct inode *in = st->itab[b]; in; in = in->hnext) {
            if (in->ino < CFS_INO_ROOT)
                continue;
            bool dir = in->type == CFS_FILETYPE_DIRECTORY;
            if (!dir && in->scratch != in->nlink)
                return "a link count differs from the entries naming the inode";
            if (dir && in != root && in->scratch != (in->nlink ? 1 : 0))
                return "a directory is named by more or fewer than one entry";
            if (in->nlink == 0 && in->scratch2 == 0)
                return "an unlinked inode is not held open";
            if (inode_is_special(in) &&
                (in->size || (!inode_has_rdev(in->ino, in->type) && in->u.special.rdev)))
                return "a FIFO, socket or device has a size or a stray device number";
            if (in->open_refs > in->scratch2)
                return "an inode's open count exceeds the fds on it";
            if (dir && in->nlink) {
                /* parent links reach the root in at most icount steps */
                const struct inode *cur = in;
                size_t steps = 0;
                while (cur != root && steps++ <= st->icount) {
                    cur = inode_get(st, cur->u.dir.parent);
                    if (!cur || cur->type != CFS_FILETYPE_DIRECTORY || cur->nlink == 0)
                        return "a directory's parents do not lead to the root";
                }
                if (cur != root)
                    return "the directory tree has a cycle";
            }
        }
    return NULL;
}

#ifndef NDEBUG
static void assert_state(const struct state *st)
{
    size_t fds = 0;
    for (const struct proc *p = st->procs; p; p = p->next)
        fds += p->cap;
    if (st->icount < 512 && st->dcount < 512 && fds < 4096) {
        const char *why = state_invalid(st);
        if (why)
            fprintf(stderr, "chronofs engine: state invariant broken at seq %" PRIu64 ": %s\n",
                    st->seq, why);
        assert(!why);
    }
}
#else
static void assert_state(const struct state *st)
{
    (void)st;
}
#endif
