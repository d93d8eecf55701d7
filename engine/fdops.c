/*
 * fdops.c — the calls on file descriptors: the fd table (close, dup,
 * renumber, cloexec, fork, exit), fdstat, and file I/O.
 *
 * Each mutating call validates and decides everything first, fills one
 * cfs_event, and hands it to emit(): sink, then apply. A call that fails
 * before emit() changed nothing and produced no event.
 */
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>

#include "internal.h"

cfs_time call_now(struct state *st)
{
    return st->clock ? st->clock(st->clock_ctx) : 0;
}

cfs_errno emit(cfs_fs *fs, cfs_event *ev)
{
    struct state *st = fs->st;
    if (st->broken) {
        set_errmsg(st, "engine state diverged from its journal earlier; reopen it");
        return CFS_EIO;
    }
    ev->seq = st->seq + 1;
    ev->pid = fs->pid;
    if (st->sink.append) {
        cfs_errno rc = st->sink.append(st->sink.ctx, ev);
        if (rc)
            return rc;
    }
    cfs_errno rc = apply_event(st, ev);
    if (rc) {
        /* Validation above makes this reachable only by running out of
         * memory; the sink already holds the event, so stop here. */
        st->broken = true;
        return CFS_EIO;
    }
    return 0;
}

cfs_errno lazy_failed(cfs_fs *fs, const struct inode *in)
{
    set_errmsg(fs->st, "inode %" PRIu64 ": file data could not be loaded from the journal "
               "this state was opened from (closed, or a chunk is damaged)", in->ino);
    return CFS_EIO;
}

/* Before emitting a change to [off, off+len) of `in` (len 0: a truncation
 * to off): load the lazy blocks it touches, so applying it cannot fail for
 * want of them. Only a state decoded lazily has such blocks. */
static cfs_errno preload(cfs_fs *fs, const struct inode *in, uint64_t off, uint64_t len)
{
    return fs->st->src && file_preload(in, off, len) ? lazy_failed(fs, in) : 0;
}

cfs_errno call_begin(cfs_fs *fs, struct proc **p)
{
    fs->st->errmsg[0] = 0;
    *p = proc_get(fs->st, fs->pid);
    return *p ? 0 : CFS_EBADF; /* the process exited */
}

cfs_errno get_fd(cfs_fs *fs, cfs_fd fd, cfs_rights need, struct proc **p,
                 struct fdent **e)
{
    cfs_errno rc = call_begin(fs, p);
    if (rc)
        return rc;
    *e = fd_get(*p, fd);
    if (!*e)
        return CFS_EBADF;
    if ((need & ~(*e)->base) != 0)
        return CFS_ENOTCAPABLE;
    return 0;
}

cfs_errno get_dirfd(cfs_fs *fs, cfs_fd fd, cfs_rights need, struct proc **p,
                    struct fdent **e)
{
    cfs_errno rc = call_begin(fs, p);
    if (rc)
        return rc;
    *e = fd_get(*p, fd);
    if (!*e)
        return CFS_EBADF;
    if ((*e)->ofd->inode->type != CFS_FILETYPE_DIRECTORY)
        return CFS_ENOTDIR;
    if ((need & ~(*e)->base) != 0)
        return CFS_ENOTCAPABLE;
    return 0;
}

/* ---- the fd table ------------------------------------------------------------ */

cfs_errno cfs_fd_close(cfs_fs *fs, cfs_fd fd)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, fd, 0, &p, &e);
    if (rc)
        return rc;
    cfs_event ev = {.op = CFS_OP_CLOSE, .fd = fd, .ino = e->ofd->inode->ino,
                    .time = call_now(fs->st)};
    return emit(fs, &ev);
}

cfs_errno cfs_fd_renumber(cfs_fs *fs, cfs_fd from, cfs_fd to)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, from, 0, &p, &e);
    if (rc)
        return rc;
    if (!fd_get(p, to))
        return CFS_EBADF;
    if (from == to)
        return 0;
    cfs_event ev = {.op = CFS_OP_RENUMBER, .fd = from, .fd2 = to,
                    .time = call_now(fs->st)};
    return emit(fs, &ev);
}

static cfs_errno dup_common(cfs_fs *fs, struct fdent *e, cfs_fd fd,
                            cfs_fd nfd, int cloexec)
{
    bool ce = cloexec < 0 ? e->cloexec : cloexec != 0;
    cfs_event ev = {.op = CFS_OP_DUP, .fd = fd, .fd2 = nfd,
                    .ino = e->ofd->inode->ino, .ofd = e->ofd->id,
                    .flags = ce ? CFS_EVF_CLOEXEC : 0,
                    .time = call_now(fs->st)};
    return emit(fs, &ev);
}

cfs_errno cfs_fd_dup(cfs_fs *fs, cfs_fd fd, cfs_fd min_fd, int cloexec,
                     cfs_fd *out)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, fd, 0, &p, &e);
    if (rc)
        return rc;
    if (!out)
        return CFS_EFAULT;
    if (min_fd > CFS_MAX_FD)
        return CFS_EINVAL;
    uint32_t nfd = fd_first_free(p, min_fd);
    if (nfd > CFS_MAX_FD)
        return CFS_EMFILE;
    rc = dup_common(fs, e, fd, nfd, cloexec);
    if (!rc)
        *out = nfd;
    return rc;
}

cfs_errno cfs_fd_dup_at(cfs_fs *fs, cfs_fd fd, cfs_fd at, int cloexec)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, fd, 0, &p, &e);
    if (rc)
        return rc;
    if (at > CFS_MAX_FD)
        return CFS_EBADF;
    if (fd_get(p, at))
        return CFS_EEXIST;
    return dup_common(fs, e, fd, at, cloexec);
}

cfs_errno cfs_fd_set_cloexec(cfs_fs *fs, cfs_fd fd, int cloexec)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, fd, 0, &p, &e);
    if (rc)
        return rc;
    if (e->cloexec == (cloexec != 0))
        return 0;
    cfs_event ev = {.op = CFS_OP_SET_CLOEXEC, .fd = fd,
                    .flags = cloexec ? CFS_EVF_CLOEXEC : 0,
                    .time = call_now(fs->st)};
    return emit(fs, &ev);
}

cfs_errno cfs_fd_get_cloexec(cfs_fs *fs, cfs_fd fd, int *cloexec)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, fd, 0, &p, &e);
    if (rc)
        return rc;
    if (!cloexec)
        return CFS_EFAULT;
    *cloexec = e->cloexec;
    return 0;
}

cfs_errno cfs_fs_close_cloexec(cfs_fs *fs)
{
    struct proc *p;
    cfs_errno rc = call_begin(fs, &p);
    if (rc)
        return rc;
    bool any = false;
    for (uint32_t fd = 0; fd < p->cap && !any; fd++) {
        struct fdent *e = p->fds[fd];
        any = e && e->cloexec && !e->stdio && !e->preopen_name;
    }
    if (!any)
        return 0;
    cfs_event ev = {.op = CFS_OP_CLOSE_CLOEXEC, .time = call_now(fs->st)};
    return emit(fs, &ev);
}

cfs_errno cfs_fs_close_all(cfs_fs *fs)
{
    struct proc *p;
    cfs_errno rc = call_begin(fs, &p);
    if (rc)
        return rc;
    if (p->count == 0)
        return 0;
    cfs_event ev = {.op = CFS_OP_CLOSE_ALL, .time = call_now(fs->st)};
    return emit(fs, &ev);
}

cfs_errno cfs_fs_fork(cfs_fs *fs, cfs_fs **child)
{
    struct proc *p;
    cfs_errno rc = call_begin(fs, &p);
    if (rc)
        return rc;
    if (!child)
        return CFS_EFAULT;
    cfs_fs *c = malloc(sizeof(*c));
    if (!c)
        return CFS_ENOMEM;
    cfs_event ev = {.op = CFS_OP_FORK, .fd2 = fs->st->next_pid,
                    .time = call_now(fs->st)};
    rc = emit(fs, &ev);
    if (rc) {
        free(c);
        return rc;
    }
    *c = *fs;
    c->pid = ev.fd2;
    c->owner = false;
    fs->st->handles++;
    *child = c;
    return 0;
}

cfs_errno cfs_fs_exit(cfs_fs *fs)
{
    struct proc *p;
    cfs_errno rc = call_begin(fs, &p);
    if (rc)
        return rc;
    if (p->pid == 1)
        return CFS_EINVAL;
    cfs_event ev = {.op = CFS_OP_EXIT, .time = call_now(fs->st)};
    return emit(fs, &ev);
}

cfs_errno cfs_fs_set_budget(cfs_fs *fs, uint64_t bytes)
{
    struct proc *p;
    cfs_errno rc = call_begin(fs, &p);
    if (rc)
        return rc;
    cfs_event ev = {.op = CFS_OP_SET_BUDGET, .offset = bytes, .time = call_now(fs->st)};
    return emit(fs, &ev);
}

/* ---- fdstat ---------------------------------------------------------------------- */

cfs_errno cfs_fd_fdstat_get(cfs_fs *fs, cfs_fd fd, cfs_fdstat *out)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, fd, 0, &p, &e);
    if (rc)
        return rc;
    if (!out)
        return CFS_EFAULT;
    out->filetype = e->ofd->inode->type;
    out->flags = e->ofd->fdflags;
    out->rights_base = e->base;
    out->rights_inheriting = e->inheriting;
    return 0;
}

cfs_errno cfs_fd_fdstat_set_flags(cfs_fs *fs, cfs_fd fd, uint16_t flags)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, fd, CFS_RIGHT_FD_FDSTAT_SET_FLAGS, &p, &e);
    if (rc)
        return rc;
    if (flags & ~CFS_FDFLAGS_ALL)
        return CFS_EINVAL;
    if (e->ofd->fdflags == flags)
        return 0;
    cfs_event ev = {.op = CFS_OP_SET_FLAGS, .fd = fd, .flags = flags,
                    .ino = e->ofd->inode->ino, .time = call_now(fs->st)};
    return emit(fs, &ev);
}

cfs_errno cfs_fd_fdstat_set_rights(cfs_fs *fs, cfs_fd fd, cfs_rights base,
                                   cfs_rights inheriting)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, fd, 0, &p, &e);
    if (rc)
        return rc;
    if ((base & ~e->base) || (inheriting & ~e->inheriting))
        return CFS_ENOTCAPABLE;
    if (base == e->base && inheriting == e->inheriting)
        return 0;
    cfs_event ev = {.op = CFS_OP_SET_RIGHTS, .fd = fd, .rights_base = base,
                    .rights_inheriting = inheriting,
                    .time = call_now(fs->st)};
    return emit(fs, &ev);
}

/* ---- file I/O ---------------------------------------------------------------------- */

/* The inode an I/O call acts on: a regular file, or stdio. */
static cfs_errno io_target(struct fdent *e, struct inode **in)
{
    *in = e->ofd->inode;
    if ((*in)->type == CFS_FILETYPE_DIRECTORY)
        return CFS_EISDIR;
    return 0;
}

cfs_errno cfs_fd_read(cfs_fs *fs, cfs_fd fd, void *buf, size_t len,
                      size_t *nread)
{
    struct proc *p;
    struct fdent *e;
    struct inode *in;
    cfs_errno rc = get_fd(fs, fd, CFS_RIGHT_FD_READ, &p, &e);
    if (rc || (rc = io_target(e, &in)))
        return rc;
    if (!nread || (!buf && len))
        return CFS_EFAULT;
    *nread = 0;
    if (in->type != CFS_FILETYPE_REGULAR_FILE)
        return 0; /* stdin carries no data in the engine */
    size_t n;
    if (file_read(in, buf, len, e->ofd->offset, &n))
        return lazy_failed(fs, in);
    if (n == 0)
        return 0;
    cfs_event ev = {.op = CFS_OP_READ, .fd = fd, .ino = in->ino,
                    .offset = e->ofd->offset + n, .length = n,
                    .time = call_now(fs->st)};
    rc = emit(fs, &ev);
    if (!rc)
        *nread = n;
    return rc;
}

cfs_errno cfs_fd_pread(cfs_fs *fs, cfs_fd fd, void *buf, size_t len,
                       uint64_t offset, size_t *nread)
{
    struct proc *p;
    struct fdent *e;
    struct inode *in;
    cfs_errno rc = get_fd(fs, fd, CFS_RIGHT_FD_READ | CFS_RIGHT_FD_SEEK, &p, &e);
    if (rc || (rc = io_target(e, &in)))
        return rc;
    if (!nread || (!buf && len))
        return CFS_EFAULT;
    if (in->type != CFS_FILETYPE_REGULAR_FILE)
        return CFS_ESPIPE;
    if (offset > CFS_MAX_FILE_SIZE)
        return CFS_EINVAL;
    if (file_read(in, buf, len, offset, nread))
        return lazy_failed(fs, in);
    return 0;
}

static cfs_errno write_common(cfs_fs *fs, cfs_fd fd, const void *buf,
                              size_t len, bool positional, uint64_t offset,
                              size_t *nwritten)
{
    struct proc *p;
    struct fdent *e;
    struct inode *in;
    cfs_rights need = CFS_RIGHT_FD_WRITE | (positional ? CFS_RIGHT_FD_SEEK : 0);
    cfs_errno rc = get_fd(fs, fd, need, &p, &e);
    if (rc || (rc = io_target(e, &in)))
        return rc;
    if (!nwritten || (!buf && len))
        return CFS_EFAULT;
    *nwritten = 0;
    if (positional && in->type != CFS_FILETYPE_REGULAR_FILE)
        return CFS_ESPIPE;
    if (positional && offset > CFS_MAX_FILE_SIZE)
        return CFS_EINVAL;
    if (len == 0)
        return 0; /* nothing changes, so no event */
    cfs_event ev = {.op = CFS_OP_WRITE, .fd = fd, .ino = in->ino,
                    .length = len, .data = buf};
    if (in->type == CFS_FILETYPE_REGULAR_FILE) {
        if (e->ofd->fdflags & CFS_FDFLAG_APPEND)
            ev.offset = in->size;
        else
            ev.offset = positional ? offset : e->ofd->offset;
        if (ev.offset > CFS_MAX_FILE_SIZE || len > CFS_MAX_FILE_SIZE - ev.offset)
            return CFS_EFBIG;
        uint64_t cost = file_write_cost(in, ev.offset, len);
        struct state *st = fs->st;
        if (st->budget && (cost > st->budget || st->used > st->budget - cost))
            return CFS_ENOSPC;
        if ((rc = preload(fs, in, ev.offset, len)))
            return rc;
        if (!positional)
            ev.flags = CFS_EVF_WRITE_MOVES;
    }
    ev.time = call_now(fs->st);
    rc = emit(fs, &ev);
    if (!rc)
        *nwritten = len;
    return rc;
}

cfs_errno cfs_fd_write(cfs_fs *fs, cfs_fd fd, const void *buf, size_t len,
                       size_t *nwritten)
{
    return write_common(fs, fd, buf, len, false, 0, nwritten);
}

cfs_errno cfs_fd_pwrite(cfs_fs *fs, cfs_fd fd, const void *buf, size_t len,
                        uint64_t offset, size_t *nwritten)
{
    return write_common(fs, fd, buf, len, true, offset, nwritten);
}

cfs_errno cfs_fd_seek(cfs_fs *fs, cfs_fd fd, int64_t offset, uint8_t whence,
                      uint64_t *newoffset)
{
    struct proc *p;
    struct fdent *e;
    cfs_rights need = (offset == 0 && whence == CFS_WHENCE_CUR)
                          ? CFS_RIGHT_FD_TELL
                          : CFS_RIGHT_FD_SEEK;
    /* A character device cannot seek whatever its rights (Linux: ESPIPE);
     * stdio's seed rights lack FD_SEEK, so test the kind first. */
    cfs_errno rc = get_fd(fs, fd, 0, &p, &e);
    if (rc)
        return rc;
    struct inode *in = e->ofd->inode;
    if (in->type == CFS_FILETYPE_CHARACTER_DEVICE)
        return CFS_ESPIPE;
    if (need & ~e->base)
        return CFS_ENOTCAPABLE;
    if (!newoffset)
        return CFS_EFAULT;
    int64_t base;
    switch (whence) {
    case CFS_WHENCE_SET: base = 0; break;
    case CFS_WHENCE_CUR: base = (int64_t)e->ofd->offset; break;
    case CFS_WHENCE_END: base = (int64_t)in->size; break;
    default: return CFS_EINVAL;
    }
    int64_t pos;
    if (__builtin_add_overflow(base, offset, &pos) || pos < 0)
        return CFS_EINVAL;
    *newoffset = (uint64_t)pos;
    if ((uint64_t)pos == e->ofd->offset)
        return 0;
    cfs_event ev = {.op = CFS_OP_SEEK, .fd = fd, .ino = in->ino,
                    .offset = (uint64_t)pos, .time = call_now(fs->st)};
    return emit(fs, &ev);
}

cfs_errno cfs_fd_tell(cfs_fs *fs, cfs_fd fd, uint64_t *offset)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, fd, 0, &p, &e);
    if (rc)
        return rc;
    if (e->ofd->inode->type == CFS_FILETYPE_CHARACTER_DEVICE)
        return CFS_ESPIPE;
    if (!(e->base & CFS_RIGHT_FD_TELL))
        return CFS_ENOTCAPABLE;
    if (!offset)
        return CFS_EFAULT;
    *offset = e->ofd->offset;
    return 0;
}

static cfs_errno sync_common(cfs_fs *fs, cfs_fd fd, cfs_rights need)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, fd, need, &p, &e);
    if (rc)
        return rc;
    if (fs->st->broken)
        return CFS_EIO;
    return fs->st->sink.sync ? fs->st->sink.sync(fs->st->sink.ctx) : 0;
}

cfs_errno cfs_fd_sync(cfs_fs *fs, cfs_fd fd)
{
    return sync_common(fs, fd, CFS_RIGHT_FD_SYNC);
}

cfs_errno cfs_fd_datasync(cfs_fs *fs, cfs_fd fd)
{
    return sync_common(fs, fd, CFS_RIGHT_FD_DATASYNC);
}

cfs_errno cfs_fd_advise(cfs_fs *fs, cfs_fd fd, uint64_t offset, uint64_t len,
                        uint8_t advice)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, fd, CFS_RIGHT_FD_ADVISE, &p, &e);
    if (rc)
        return rc;
    if (advice > CFS_ADVICE_NOREUSE || offset > CFS_MAX_FILE_SIZE ||
        len > CFS_MAX_FILE_SIZE)
        return CFS_EINVAL;
    if (e->ofd->inode->type == CFS_FILETYPE_CHARACTER_DEVICE)
        return CFS_ESPIPE;
    return 0;
}

cfs_errno cfs_fd_allocate(cfs_fs *fs, cfs_fd fd, uint64_t offset, uint64_t len)
{
    struct proc *p;
    struct fdent *e;
    struct inode *in;
    cfs_errno rc = get_fd(fs, fd, CFS_RIGHT_FD_ALLOCATE, &p, &e);
    if (rc || (rc = io_target(e, &in)))
        return rc;
    if (in->type != CFS_FILETYPE_REGULAR_FILE)
        return CFS_ESPIPE;
    if (len == 0 || offset > CFS_MAX_FILE_SIZE || len > CFS_MAX_FILE_SIZE)
        return CFS_EINVAL;
    if (len > CFS_MAX_FILE_SIZE - offset)
        return CFS_EFBIG;
    struct state *st = fs->st;
    uint64_t cost = file_write_cost(in, offset, len);
    if (st->budget && (cost > st->budget || st->used > st->budget - cost))
        return CFS_ENOSPC;
    if ((rc = preload(fs, in, offset, len)))
        return rc;
    cfs_event ev = {.op = CFS_OP_ALLOCATE, .fd = fd, .ino = in->ino,
                    .offset = offset, .length = len, .time = call_now(st)};
    return emit(fs, &ev);
}

cfs_errno cfs_fd_filestat_get(cfs_fs *fs, cfs_fd fd, cfs_filestat *out)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, fd, CFS_RIGHT_FD_FILESTAT_GET, &p, &e);
    if (rc)
        return rc;
    if (!out)
        return CFS_EFAULT;
    inode_to_filestat(e->ofd->inode, out);
    return 0;
}

cfs_errno cfs_fd_filestat_set_size(cfs_fs *fs, cfs_fd fd, uint64_t size)
{
    struct proc *p;
    struct fdent *e;
    struct inode *in;
    cfs_errno rc = get_fd(fs, fd, CFS_RIGHT_FD_FILESTAT_SET_SIZE, &p, &e);
    if (rc || (rc = io_target(e, &in)))
        return rc;
    if (in->type != CFS_FILETYPE_REGULAR_FILE)
        return CFS_EINVAL;
    if (size > CFS_MAX_FILE_SIZE)
        return CFS_EFBIG;
    if (size < in->size && (rc = preload(fs, in, size, 0)))
        return rc;
    cfs_event ev = {.op = CFS_OP_SET_SIZE, .fd = fd, .ino = in->ino,
                    .offset = size, .time = call_now(fs->st)};
    return emit(fs, &ev);
}

/* Fill a SET_TIMES event from WASI fstflags, resolving the *_NOW bits. */
cfs_errno times_event(struct state *st, cfs_event *ev, cfs_time atim,
                      cfs_time mtim, uint16_t fst)
{
    if ((fst & ~(CFS_FST_ATIM | CFS_FST_ATIM_NOW | CFS_FST_MTIM | CFS_FST_MTIM_NOW)) ||
        ((fst & CFS_FST_ATIM) && (fst & CFS_FST_ATIM_NOW)) ||
        ((fst & CFS_FST_MTIM) && (fst & CFS_FST_MTIM_NOW)))
        return CFS_EINVAL;
    ev->op = CFS_OP_SET_TIMES;
    ev->time = call_now(st);
    ev->flags = fst;
    ev->offset = (fst & CFS_FST_ATIM_NOW) ? ev->time : atim;
    ev->length = (fst & CFS_FST_MTIM_NOW) ? ev->time : mtim;
    if (!(fst & (CFS_FST_ATIM | CFS_FST_ATIM_NOW)))
        ev->offset = 0;
    if (!(fst & (CFS_FST_MTIM | CFS_FST_MTIM_NOW)))
        ev->length = 0;
    return 0;
}

cfs_errno cfs_fd_filestat_set_times(cfs_fs *fs, cfs_fd fd, cfs_time atim,
                                    cfs_time mtim, uint16_t fstflags)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, fd, CFS_RIGHT_FD_FILESTAT_SET_TIMES, &p, &e);
    if (rc)
        return rc;
    cfs_event ev = {.fd = fd, .ino = e->ofd->inode->ino};
    rc = times_event(fs->st, &ev, atim, mtim, fstflags);
    if (rc || !fstflags)
        return rc; /* no flags: both times omitted, nothing changes */
    return emit(fs, &ev);
}

/* ---- directories ---------------------------------------------------------------------- */

static cfs_errno dir_next(struct state *st, const struct inode *dir,
                          uint64_t cookie, cfs_dirent *out)
{
    if (cookie < DIRCOOKIE_DOTDOT) {
        bool dotdot = cookie == DIRCOOKIE_DOT;
        out->next = dotdot ? DIRCOOKIE_DOTDOT : DIRCOOKIE_DOT;
        out->ino = dotdot ? dir->u.dir.parent : dir->ino;
        out->filetype = CFS_FILETYPE_DIRECTORY;
        out->name = dotdot ? ".." : ".";
        out->name_len = dotdot ? 2 : 1;
        return 0;
    }
    if (cookie == UINT64_MAX)
        return CFS_ENOENT;
    const struct dirent *de = dir_entry_at_or_after(dir, cookie + 1);
    if (!de)
        return CFS_ENOENT;
    const struct inode *in = inode_get(st, de->ino);
    out->next = de->cookie;
    out->ino = de->ino;
    out->filetype = in ? in->type : CFS_FILETYPE_UNKNOWN;
    out->name = de->name;
    out->name_len = de->len;
    return 0;
}

cfs_errno cfs_dir_next(cfs_fs *fs, cfs_ino dir, uint64_t cookie,
                       cfs_dirent *out)
{
    const struct inode *in = inode_get(fs->st, dir);
    if (!in)
        return CFS_ENOENT;
    if (in->type != CFS_FILETYPE_DIRECTORY)
        return CFS_ENOTDIR;
    if (!out)
        return CFS_EFAULT;
    return dir_next(fs->st, in, cookie, out);
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

cfs_errno cfs_fd_readdir(cfs_fs *fs, cfs_fd fd, void *buf, size_t len,
                         uint64_t cookie, size_t *used)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, fd, CFS_RIGHT_FD_READDIR, &p, &e);
    if (rc)
        return rc;
    if (!used || (!buf && len))
        return CFS_EFAULT;
    const struct inode *dir = e->ofd->inode;
    if (dir->type != CFS_FILETYPE_DIRECTORY)
        return CFS_ENOTDIR;
    if (dir->nlink == 0)
        return CFS_ENOENT; /* removed while open: Linux lists nothing */
    uint8_t *out = buf;
    size_t pos = 0;
    cfs_dirent de;
    /* Records are packed whole; the last may be cut where the buffer ends,
     * which tells the guest to retry with more room (WASI's convention). */
    while (pos < len && dir_next(fs->st, dir, cookie, &de) == 0) {
        uint8_t rec[24] = {0};
        put_le(rec, de.next, 8);
        put_le(rec + 8, de.ino, 8);
        put_le(rec + 16, de.name_len, 4);
        /* WASI has no FIFO type: UNKNOWN, as a WASI host says */
        rec[20] = de.filetype == CFS_FILETYPE_FIFO ? CFS_FILETYPE_UNKNOWN : de.filetype;
        size_t n = len - pos < sizeof(rec) ? len - pos : sizeof(rec);
        memcpy(out + pos, rec, n);
        pos += n;
        n = len - pos < de.name_len ? len - pos : de.name_len;
        memcpy(out + pos, de.name, n);
        pos += n;
        cookie = de.next;
    }
    *used = pos;
    return 0;
}
