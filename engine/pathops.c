/*
 * pathops.c — the calls that name files by path: path_open and the other
 * path_* calls, the POSIX extras (chmod, chown, mknod, statfs, lookup and
 * getattr by inode), preopens and the current directory.
 *
 * Where WASI is silent the errors follow Linux, in Linux's order of checks
 * (the differential test holds us to it).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Resolve `path` from directory fd `dirfd` after checking its rights. */
static cfs_errno resolve_at(cfs_fs *fs, cfs_fd dirfd, cfs_rights need,
                            const char *path, unsigned flags,
                            struct resolved *r, struct fdent **dir_e)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_dirfd(fs, dirfd, need, &p, &e);
    if (rc)
        return rc;
    if (dir_e)
        *dir_e = e;
    return resolve_path(fs->st, e->ofd->inode, path, flags, r);
}

static unsigned follow_flag(uint32_t lookupflags)
{
    return (lookupflags & CFS_LOOKUP_SYMLINK_FOLLOW) ? RESOLVE_FOLLOW : 0;
}

/* Where a new entry is to be made: it must not exist, and its directory
 * must still be linked. Linux answers EEXIST before anything else. */
static cfs_errno check_new_entry(const struct resolved *r, bool want_dir)
{
    if (r->inode || r->dot)
        return CFS_EEXIST;
    if (r->trailing_slash && !want_dir)
        return CFS_ENOENT;
    if (r->dir->nlink == 0)
        return CFS_ENOENT;
    return 0;
}

cfs_errno cfs_path_open(cfs_fs *fs, cfs_fd dirfd, uint32_t lookupflags,
                        const char *path, uint16_t oflags,
                        cfs_rights rights_base, cfs_rights rights_inheriting,
                        uint16_t fdflags, cfs_fd *out)
{
    if ((oflags & ~CFS_OFLAGS_ALL) || (fdflags & ~CFS_FDFLAGS_ALL) ||
        (lookupflags & ~(uint32_t)CFS_LOOKUP_SYMLINK_FOLLOW))
        return CFS_EINVAL;
    /* Linux (since 6.4) refuses this pair before looking at the path. */
    if ((oflags & CFS_O_CREAT) && (oflags & CFS_O_DIRECTORY))
        return CFS_EINVAL;
    cfs_rights need = CFS_RIGHT_PATH_OPEN;
    if (oflags & CFS_O_CREAT)
        need |= CFS_RIGHT_PATH_CREATE_FILE;
    if (oflags & CFS_O_TRUNC)
        need |= CFS_RIGHT_PATH_FILESTAT_SET_SIZE;
    struct fdent *de;
    struct resolved r;
    struct proc *p;
    cfs_errno rc = get_dirfd(fs, dirfd, need, &p, &de);
    if (rc)
        return rc;
    if (!out)
        return CFS_EFAULT;
    if ((rights_base & ~de->inheriting) || (rights_inheriting & ~de->inheriting))
        return CFS_ENOTCAPABLE;
    /* O_CREAT|O_EXCL never follows a last symlink: it exists (Linux). */
    unsigned rflags = follow_flag(lookupflags);
    if ((oflags & CFS_O_CREAT) && (oflags & CFS_O_EXCL))
        rflags = 0;
    if (oflags & CFS_O_CREAT)
        rflags |= RESOLVE_CREATE;
    rc = resolve_path(fs->st, de->ofd->inode, path, rflags, &r);
    if (rc)
        return rc;
    /* Linux: a trailing '/' on a name to create is EISDIR at once; "." and
     * ".." go on as existing directories (EEXIST with O_EXCL, else EISDIR). */
    if ((oflags & CFS_O_CREAT) && r.trailing_slash && !r.dot)
        return CFS_EISDIR;
    struct inode *in = r.inode;
    cfs_event ev = {.op = CFS_OP_OPEN, .fd = dirfd, .path = path,
                    .rights_base = rights_base,
                    .rights_inheriting = rights_inheriting};
    uint32_t flags = oflags | (uint32_t)fdflags << 8;
    if (in) {
        /* Linux's do_open() order */
        bool isdir = in->type == CFS_FILETYPE_DIRECTORY;
        if ((oflags & CFS_O_CREAT) && (oflags & CFS_O_EXCL))
            return CFS_EEXIST;
        if ((oflags & CFS_O_CREAT) && isdir)
            return CFS_EISDIR;
        if ((oflags & CFS_O_DIRECTORY) && !isdir)
            return CFS_ENOTDIR;
        if (in->type == CFS_FILETYPE_SYMBOLIC_LINK)
            return CFS_ELOOP;
        if (inode_is_special(in))
            return CFS_ENXIO; /* no pipe or driver behind it */
        if (isdir && ((oflags & CFS_O_TRUNC) || (rights_base & CFS_RIGHT_FD_WRITE)))
            return CFS_EISDIR;
        if ((oflags & CFS_O_TRUNC) && in->type == CFS_FILETYPE_REGULAR_FILE)
            flags |= CFS_EVF_OPEN_TRUNCATE;
        ev.ino = in->ino;
        if (!r.dot) {
            ev.dir = r.dir->ino;
            ev.name = r.name;
        }
    } else {
        if (!(oflags & CFS_O_CREAT))
            return CFS_ENOENT;
        if (r.dir->nlink == 0)
            return CFS_ENOENT;
        flags |= CFS_EVF_OPEN_CREATED;
        ev.ino = fs->st->next_ino;
        ev.dir = r.dir->ino;
        ev.name = r.name;
        ev.mode = fs->file_mode;
        ev.uid = fs->uid;
        ev.gid = fs->gid;
    }
    uint32_t nfd = fd_first_free(p, 0);
    if (nfd > CFS_MAX_FD)
        return CFS_EMFILE;
    ev.fd2 = nfd;
    ev.ofd = fs->st->next_ofd;
    ev.flags = flags;
    ev.time = call_now(fs->st);
    rc = emit(fs, &ev);
    if (!rc)
        *out = nfd;
    return rc;
}

cfs_errno cfs_path_filestat_get(cfs_fs *fs, cfs_fd dirfd, uint32_t lookupflags,
                                const char *path, cfs_filestat *out)
{
    struct resolved r;
    cfs_errno rc = resolve_at(fs, dirfd, CFS_RIGHT_PATH_FILESTAT_GET, path,
                              follow_flag(lookupflags), &r, NULL);
    if (rc)
        return rc;
    if (!r.inode)
        return CFS_ENOENT;
    if (!out)
        return CFS_EFAULT;
    inode_to_filestat(r.inode, out);
    return 0;
}

cfs_errno cfs_path_filestat_set_times(cfs_fs *fs, cfs_fd dirfd,
                                      uint32_t lookupflags, const char *path,
                                      cfs_time atim, cfs_time mtim,
                                      uint16_t fstflags)
{
    struct resolved r;
    cfs_errno rc = resolve_at(fs, dirfd, CFS_RIGHT_PATH_FILESTAT_SET_TIMES,
                              path, follow_flag(lookupflags), &r, NULL);
    if (rc)
        return rc;
    if (!r.inode)
        return CFS_ENOENT;
    cfs_event ev = {.fd = dirfd, .path = path, .ino = r.inode->ino};
    rc = times_event(fs->st, &ev, atim, mtim, fstflags);
    if (rc || !fstflags)
        return rc; /* no flags: both times omitted, nothing changes */
    return emit(fs, &ev);
}

/* mkdir, mknod: a new inode at `path` (rdev: a device's number). */
static cfs_errno create_at(cfs_fs *fs, cfs_fd dirfd, const char *path,
                           uint16_t op, cfs_rights need, uint32_t mode,
                           uint64_t rdev)
{
    struct resolved r;
    bool want_dir = op == CFS_OP_MKDIR;
    cfs_errno rc = resolve_at(fs, dirfd, need, path, RESOLVE_PARENT, &r, NULL);
    if (rc || (rc = check_new_entry(&r, want_dir)))
        return rc;
    cfs_event ev = {.op = op, .fd = dirfd, .path = path, .dir = r.dir->ino,
                    .name = r.name, .ino = fs->st->next_ino, .mode = mode,
                    .uid = fs->uid, .gid = fs->gid, .offset = rdev,
                    .time = call_now(fs->st)};
    return emit(fs, &ev);
}

cfs_errno cfs_path_create_directory(cfs_fs *fs, cfs_fd dirfd, const char *path)
{
    return create_at(fs, dirfd, path, CFS_OP_MKDIR,
                     CFS_RIGHT_PATH_CREATE_DIRECTORY, fs->dir_mode, 0);
}

cfs_errno cfs_path_mknod_dev(cfs_fs *fs, cfs_fd dirfd, const char *path,
                             uint32_t mode, uint64_t rdev)
{
    /* Linux's may_mknod(). A regular file's event keeps type bits 0, as
     * it always had; the others carry theirs, and devices their rdev. */
    uint32_t type = mode & CFS_S_IFMT;
    switch (type) {
    case 0:
    case CFS_S_IFREG:
        type = 0;
        /* fall through */
    case CFS_S_IFIFO:
    case CFS_S_IFSOCK:
        rdev = 0;
        break;
    case CFS_S_IFCHR:
    case CFS_S_IFBLK:
        break;
    case CFS_S_IFDIR:
        return CFS_EPERM;
    default:
        return CFS_EINVAL;
    }
    return create_at(fs, dirfd, path, CFS_OP_MKNOD, CFS_RIGHT_PATH_CREATE_FILE,
                     type | (mode & 07777), rdev);
}

cfs_errno cfs_path_mknod(cfs_fs *fs, cfs_fd dirfd, const char *path,
                         uint32_t mode)
{
    return cfs_path_mknod_dev(fs, dirfd, path, mode, 0);
}

cfs_errno cfs_path_remove_directory(cfs_fs *fs, cfs_fd dirfd, const char *path)
{
    struct resolved r;
    cfs_errno rc = resolve_at(fs, dirfd, CFS_RIGHT_PATH_REMOVE_DIRECTORY, path,
                              RESOLVE_PARENT, &r, NULL);
    if (rc)
        return rc;
    if (r.dot)
        return r.name_len == 1 ? CFS_EINVAL : CFS_ENOTEMPTY;
    if (!r.inode)
        return CFS_ENOENT;
    if (r.inode->type != CFS_FILETYPE_DIRECTORY)
        return CFS_ENOTDIR;
    if (r.inode->u.dir.live)
        return CFS_ENOTEMPTY;
    cfs_event ev = {.op = CFS_OP_RMDIR, .fd = dirfd, .path = path,
                    .dir = r.dir->ino, .name = r.name, .ino = r.inode->ino,
                    .time = call_now(fs->st)};
    return emit(fs, &ev);
}

cfs_errno cfs_path_unlink_file(cfs_fs *fs, cfs_fd dirfd, const char *path)
{
    struct resolved r;
    cfs_errno rc = resolve_at(fs, dirfd, CFS_RIGHT_PATH_UNLINK_FILE, path,
                              RESOLVE_PARENT, &r, NULL);
    if (rc)
        return rc;
    if (r.dot)
        return CFS_EISDIR;
    if (!r.inode)
        return CFS_ENOENT;
    if (r.inode->type == CFS_FILETYPE_DIRECTORY)
        return CFS_EISDIR;
    if (r.trailing_slash)
        return CFS_ENOTDIR; /* "file/" or "symlink/" */
    cfs_event ev = {.op = CFS_OP_UNLINK, .fd = dirfd, .path = path,
                    .dir = r.dir->ino, .name = r.name, .ino = r.inode->ino,
                    .time = call_now(fs->st)};
    return emit(fs, &ev);
}

cfs_errno cfs_path_rename(cfs_fs *fs, cfs_fd old_dirfd, const char *old_path,
                          cfs_fd new_dirfd, const char *new_path)
{
    struct resolved o, n;
    cfs_errno rc = resolve_at(fs, old_dirfd, CFS_RIGHT_PATH_RENAME_SOURCE,
                              old_path, RESOLVE_PARENT, &o, NULL);
    if (rc)
        return rc;
    rc = resolve_at(fs, new_dirfd, CFS_RIGHT_PATH_RENAME_TARGET, new_path,
                    RESOLVE_PARENT, &n, NULL);
    if (rc)
        return rc;
    /* Linux's order: ".", the source, trailing slashes, ancestry, types. */
    if (o.dot || n.dot)
        return CFS_EBUSY;
    if (!o.inode)
        return CFS_ENOENT;
    if (n.dir->nlink == 0)
        return CFS_ENOENT; /* Linux finds nothing in a removed directory */
    struct inode *in = o.inode, *victim = n.inode;
    bool isdir = in->type == CFS_FILETYPE_DIRECTORY;
    if (!isdir && (o.trailing_slash || n.trailing_slash))
        return CFS_ENOTDIR;
    if (isdir && dir_is_ancestor(fs->st, in->ino, n.dir->ino))
        return CFS_EINVAL;
    if (victim && victim->type == CFS_FILETYPE_DIRECTORY &&
        dir_is_ancestor(fs->st, victim->ino, o.dir->ino))
        return CFS_ENOTEMPTY;
    if (victim == in)
        return 0; /* the same file: POSIX says do nothing */
    if (victim) {
        bool vdir = victim->type == CFS_FILETYPE_DIRECTORY;
        if (isdir && !vdir)
            return CFS_ENOTDIR;
        if (!isdir && vdir)
            return CFS_EISDIR;
        if (vdir && victim->u.dir.live)
            return CFS_ENOTEMPTY;
    }
    cfs_event ev = {.op = CFS_OP_RENAME, .fd = old_dirfd, .path = old_path,
                    .fd2 = new_dirfd, .path2 = new_path, .dir = o.dir->ino,
                    .name = o.name, .dir2 = n.dir->ino, .name2 = n.name,
                    .ino = in->ino, .ino2 = victim ? victim->ino : 0,
                    .time = call_now(fs->st)};
    return emit(fs, &ev);
}

cfs_errno cfs_path_symlink(cfs_fs *fs, const char *target, cfs_fd dirfd,
                           const char *new_path)
{
    cfs_errno rc = check_path_arg(target);
    if (rc)
        return rc;
    struct resolved r;
    rc = resolve_at(fs, dirfd, CFS_RIGHT_PATH_SYMLINK, new_path,
                    RESOLVE_PARENT, &r, NULL);
    if (rc || (rc = check_new_entry(&r, false)))
        return rc;
    cfs_event ev = {.op = CFS_OP_SYMLINK, .path = target, .fd2 = dirfd,
                    .path2 = new_path, .dir = r.dir->ino, .name = r.name,
                    .ino = fs->st->next_ino, .mode = 0777, .uid = fs->uid,
                    .gid = fs->gid, .time = call_now(fs->st)};
    return emit(fs, &ev);
}

cfs_errno cfs_path_readlink(cfs_fs *fs, cfs_fd dirfd, const char *path,
                            char *buf, size_t len, size_t *used)
{
    struct resolved r;
    cfs_errno rc = resolve_at(fs, dirfd, CFS_RIGHT_PATH_READLINK, path, 0, &r,
                              NULL);
    if (rc)
        return rc;
    if (!r.inode)
        return CFS_ENOENT;
    if (r.inode->type != CFS_FILETYPE_SYMBOLIC_LINK)
        return CFS_EINVAL;
    if (!used || (!buf && len))
        return CFS_EFAULT;
    size_t n = r.inode->u.link.len < len ? r.inode->u.link.len : len;
    memcpy(buf, r.inode->u.link.target, n);
    *used = n;
    return 0;
}

cfs_errno cfs_path_link(cfs_fs *fs, cfs_fd old_dirfd, uint32_t old_lookupflags,
                        const char *old_path, cfs_fd new_dirfd,
                        const char *new_path)
{
    if (old_lookupflags & ~(uint32_t)CFS_LOOKUP_SYMLINK_FOLLOW)
        return CFS_EINVAL;
    struct resolved o, n;
    /* Linux looks the source up completely before the target's parent. */
    cfs_errno rc = resolve_at(fs, old_dirfd, CFS_RIGHT_PATH_LINK_SOURCE,
                              old_path, follow_flag(old_lookupflags), &o, NULL);
    if (rc)
        return rc;
    if (!o.inode)
        return CFS_ENOENT;
    rc = resolve_at(fs, new_dirfd, CFS_RIGHT_PATH_LINK_TARGET, new_path,
                    RESOLVE_PARENT, &n, NULL);
    if (rc)
        return rc;
    if ((rc = check_new_entry(&n, false)))
        return rc;
    if (o.inode->type == CFS_FILETYPE_DIRECTORY)
        return CFS_EPERM;
    if (o.inode->nlink == 0)
        return CFS_ENOENT;
    cfs_event ev = {.op = CFS_OP_LINK, .fd = old_dirfd, .path = old_path,
                    .fd2 = new_dirfd, .path2 = new_path, .ino = o.inode->ino,
                    .dir2 = n.dir->ino, .name2 = n.name,
                    .time = call_now(fs->st)};
    return emit(fs, &ev);
}

/* ---- POSIX extras -------------------------------------------------------------------- */

static cfs_errno attr_at(cfs_fs *fs, cfs_fd dirfd, uint32_t lookupflags,
                         const char *path, cfs_event *ev)
{
    if (lookupflags & ~(uint32_t)CFS_LOOKUP_SYMLINK_FOLLOW)
        return CFS_EINVAL;
    struct resolved r;
    cfs_errno rc = resolve_at(fs, dirfd, CFS_RIGHT_PATH_FILESTAT_SET_TIMES,
                              path, follow_flag(lookupflags), &r, NULL);
    if (rc)
        return rc;
    if (!r.inode)
        return CFS_ENOENT;
    ev->fd = dirfd;
    ev->path = path;
    ev->ino = r.inode->ino;
    ev->time = call_now(fs->st);
    return emit(fs, ev);
}

cfs_errno cfs_path_chmod(cfs_fs *fs, cfs_fd dirfd, uint32_t lookupflags,
                         const char *path, uint32_t mode)
{
    cfs_event ev = {.op = CFS_OP_CHMOD, .mode = mode & 07777};
    return attr_at(fs, dirfd, lookupflags, path, &ev);
}

cfs_errno cfs_path_chown(cfs_fs *fs, cfs_fd dirfd, uint32_t lookupflags,
                         const char *path, uint32_t uid, uint32_t gid)
{
    cfs_event ev = {.op = CFS_OP_CHOWN, .uid = uid, .gid = gid};
    return attr_at(fs, dirfd, lookupflags, path, &ev);
}

cfs_errno cfs_fs_statfs(cfs_fs *fs, cfs_statfs *out)
{
    if (!out)
        return CFS_EFAULT;
    const struct state *st = fs->st;
    uint64_t bs = CFS_BLOCK_SIZE;
    memset(out, 0, sizeof(*out));
    out->block_size = bs;
    /* Without a budget, report a large filesystem (2^50 bytes) so tools
     * that check free space before writing go ahead. */
    uint64_t total = st->budget ? st->budget : UINT64_C(1) << 50;
    uint64_t used = st->used < total ? st->used : total;
    out->blocks = total / bs;
    out->blocks_free = (total - used) / bs;
    out->files = st->icount;
    /* inode numbers run out only at 2^64, but a count near it reads as
     * negative to programs with signed fields (df -i, Python's statvfs):
     * say 2^32 more, as large a figure as tools expect */
    uint64_t room = UINT64_MAX - st->next_ino;
    out->files_free = room < (UINT64_C(1) << 32) ? room : UINT64_C(1) << 32;
    out->name_max = CFS_NAME_MAX;
    out->bytes_used = st->used;
    out->byte_budget = st->budget;
    return 0;
}

cfs_errno cfs_lookup(cfs_fs *fs, cfs_ino dir, const char *name,
                     cfs_filestat *out)
{
    const struct inode *d = inode_get(fs->st, dir);
    if (!d)
        return CFS_ENOENT;
    if (d->type != CFS_FILETYPE_DIRECTORY)
        return CFS_ENOTDIR;
    if (!name || !out)
        return CFS_EFAULT;
    size_t len = strnlen(name, CFS_NAME_MAX + 1);
    if (len > CFS_NAME_MAX)
        return CFS_ENAMETOOLONG;
    if (len == 0 || memchr(name, '/', len))
        return CFS_EINVAL;
    const struct inode *in;
    if (strcmp(name, ".") == 0) {
        in = d;
    } else if (strcmp(name, "..") == 0) {
        in = inode_get(fs->st, d->u.dir.parent);
    } else {
        const struct dirent *de = dirent_get(fs->st, dir, name, len);
        in = de ? inode_get(fs->st, de->ino) : NULL;
    }
    if (!in)
        return CFS_ENOENT;
    inode_to_filestat(in, out);
    return 0;
}

cfs_errno cfs_getattr(cfs_fs *fs, cfs_ino ino, cfs_filestat *out)
{
    const struct inode *in = inode_get(fs->st, ino);
    if (!in)
        return CFS_ENOENT;
    if (!out)
        return CFS_EFAULT;
    inode_to_filestat(in, out);
    return 0;
}

/* ---- preopens ---------------------------------------------------------------------------- */

/* The directory an absolute guest path names, symlinks followed. */
static cfs_errno resolve_dir_from_root(cfs_fs *fs, const char *path,
                                       struct inode **out)
{
    struct resolved r;
    cfs_errno rc = resolve_path(fs->st, inode_get(fs->st, CFS_INO_ROOT), path,
                                RESOLVE_FOLLOW, &r);
    if (rc)
        return rc;
    if (!r.inode)
        return CFS_ENOENT;
    if (r.inode->type != CFS_FILETYPE_DIRECTORY)
        return CFS_ENOTDIR;
    *out = r.inode;
    return 0;
}

static cfs_rights preopen_rights(unsigned perm)
{
    /* As the seed's create_preopens derives them from read/write/create. */
    cfs_rights r = CFS_RIGHT_FD_ADVISE | CFS_RIGHT_FD_TELL | CFS_RIGHT_FD_SEEK;
    if (perm & CFS_PREOPEN_READ)
        r |= CFS_RIGHT_FD_READ | CFS_RIGHT_PATH_OPEN | CFS_RIGHT_FD_READDIR |
             CFS_RIGHT_PATH_READLINK | CFS_RIGHT_PATH_FILESTAT_GET |
             CFS_RIGHT_FD_FILESTAT_GET | CFS_RIGHT_PATH_LINK_SOURCE |
             CFS_RIGHT_PATH_RENAME_SOURCE | CFS_RIGHT_POLL_FD_READWRITE |
             CFS_RIGHT_SOCK_SHUTDOWN;
    if (perm & CFS_PREOPEN_WRITE)
        r |= CFS_RIGHT_FD_DATASYNC | CFS_RIGHT_FD_FDSTAT_SET_FLAGS |
             CFS_RIGHT_FD_WRITE | CFS_RIGHT_FD_SYNC | CFS_RIGHT_FD_ALLOCATE |
             CFS_RIGHT_PATH_OPEN | CFS_RIGHT_PATH_RENAME_TARGET |
             CFS_RIGHT_PATH_FILESTAT_SET_SIZE |
             CFS_RIGHT_PATH_FILESTAT_SET_TIMES |
             CFS_RIGHT_FD_FILESTAT_SET_SIZE | CFS_RIGHT_FD_FILESTAT_SET_TIMES |
             CFS_RIGHT_PATH_REMOVE_DIRECTORY | CFS_RIGHT_PATH_UNLINK_FILE |
             CFS_RIGHT_POLL_FD_READWRITE | CFS_RIGHT_SOCK_SHUTDOWN;
    if (perm & CFS_PREOPEN_CREATE)
        r |= CFS_RIGHT_PATH_CREATE_DIRECTORY | CFS_RIGHT_PATH_CREATE_FILE |
             CFS_RIGHT_PATH_LINK_TARGET | CFS_RIGHT_PATH_OPEN |
             CFS_RIGHT_PATH_RENAME_TARGET | CFS_RIGHT_PATH_SYMLINK;
    return r;
}

cfs_errno cfs_fs_preopen(cfs_fs *fs, const char *guest_path, const char *alias,
                         unsigned perm, cfs_fd *fd_out)
{
    struct proc *p;
    cfs_errno rc = call_begin(fs, &p);
    if (rc)
        return rc;
    if (!guest_path || !fd_out)
        return CFS_EFAULT;
    if (perm & ~(unsigned)(CFS_PREOPEN_READ | CFS_PREOPEN_WRITE | CFS_PREOPEN_CREATE))
        return CFS_EINVAL;
    if (guest_path[0] != '/') {
        set_errmsg(fs->st, "preopen: `%s` is not an absolute guest path", guest_path);
        return CFS_EINVAL;
    }
    const char *name = alias ? alias : guest_path;
    if (!*name || strnlen(name, CFS_PATH_MAX + 1) > CFS_PATH_MAX)
        return CFS_EINVAL;
    for (uint32_t fd = 0; fd < p->cap; fd++) {
        const struct fdent *e = p->fds[fd];
        if (e && e->preopen_name && strcmp(e->preopen_name, name) == 0) {
            set_errmsg(fs->st, "preopen: duplicate alias `%s` (fd %u)", name, fd);
            return CFS_EEXIST;
        }
    }
    struct inode *dir;
    if ((rc = resolve_dir_from_root(fs, guest_path, &dir)))
        return rc;
    uint32_t nfd = fd_first_free(p, 0);
    if (nfd > CFS_MAX_FD)
        return CFS_EMFILE;
    cfs_rights rights = preopen_rights(perm);
    cfs_event ev = {.op = CFS_OP_PREOPEN, .path = guest_path, .name = name,
                    .ino = dir->ino, .fd2 = nfd, .ofd = fs->st->next_ofd,
                    .rights_base = rights, .rights_inheriting = rights,
                    .flags = perm, .time = call_now(fs->st)};
    rc = emit(fs, &ev);
    if (!rc)
        *fd_out = nfd;
    return rc;
}

static cfs_errno get_preopen(cfs_fs *fs, cfs_fd fd, const struct fdent **out)
{
    struct proc *p;
    cfs_errno rc = call_begin(fs, &p);
    if (rc)
        return rc;
    const struct fdent *e = fd_get(p, fd);
    if (!e || !e->preopen_name)
        return CFS_EBADF;
    *out = e;
    return 0;
}

cfs_errno cfs_fd_prestat_get(cfs_fs *fs, cfs_fd fd, cfs_prestat *out)
{
    const struct fdent *e;
    cfs_errno rc = get_preopen(fs, fd, &e);
    if (rc)
        return rc;
    if (!out)
        return CFS_EFAULT;
    out->tag = 0;
    out->name_len = (uint32_t)strlen(e->preopen_name);
    return 0;
}

cfs_errno cfs_fd_prestat_dir_name(cfs_fs *fs, cfs_fd fd, char *buf, size_t len)
{
    const struct fdent *e;
    cfs_errno rc = get_preopen(fs, fd, &e);
    if (rc)
        return rc;
    size_t n = strlen(e->preopen_name);
    if (len < n)
        return CFS_ENAMETOOLONG;
    if (!buf && n)
        return CFS_EFAULT;
    memcpy(buf, e->preopen_name, n);
    return 0;
}

cfs_errno cfs_fs_find_preopen(cfs_fs *fs, const char *path, cfs_fd *fd,
                              const char **rel)
{
    struct proc *p;
    cfs_errno rc = call_begin(fs, &p);
    if (rc)
        return rc;
    if (!path || !fd || !rel)
        return CFS_EFAULT;
    size_t best = 0;
    bool found = false;
    for (uint32_t i = 0; i < p->cap; i++) {
        const struct fdent *e = p->fds[i];
        if (!e || !e->preopen_path)
            continue;
        const char *pp = e->preopen_path;
        size_t n = strlen(pp);
        while (n > 1 && pp[n - 1] == '/')
            n--; /* "/a/" is the directory "/a" */
        /* a component-wise prefix: "/a" is a prefix of "/a/b", not "/ab" */
        bool match = strncmp(path, pp, n) == 0 &&
                     (pp[n - 1] == '/' || path[n] == 0 || path[n] == '/');
        if (!match || (found && n < best))
            continue; /* ">=": on a tie the later preopen wins */
        found = true;
        best = n;
        *fd = i;
        const char *r = path + n;
        while (*r == '/')
            r++;
        *rel = r;
    }
    return found ? 0 : CFS_EINVAL;
}

/* ---- current directory ---------------------------------------------------------------- */

/* The absolute path of directory `dir`, from its parent links: each step
 * finds dir's name in its parent. */
static char *dir_path(struct state *st, struct inode *dir)
{
    size_t cap = 256, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    buf[0] = 0;
    while (dir->ino != CFS_INO_ROOT) {
        struct inode *parent = inode_get(st, dir->u.dir.parent);
        const struct dirent *de = NULL;
        for (size_t k = 0; parent && k < parent->u.dir.n && !de; k++) {
            const struct dirent *c = parent->u.dir.ents[k];
            if (c && c->ino == dir->ino)
                de = c;
        }
        if (!de) {
            free(buf);
            return NULL;
        }
        /* prepend "/name" */
        if (len + de->len + 2 > cap) {
            cap = (len + de->len + 2) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        memmove(buf + de->len + 1, buf, len + 1);
        buf[0] = '/';
        memcpy(buf + 1, de->name, de->len);
        len += de->len + 1;
        dir = parent;
    }
    if (len == 0) {
        buf[0] = '/';
        buf[1] = 0;
    }
    return buf;
}

cfs_errno cfs_fs_chdir(cfs_fs *fs, const char *path)
{
    struct proc *p;
    cfs_errno rc = call_begin(fs, &p);
    if (rc)
        return rc;
    char abs[CFS_PATH_MAX + 1];
    if ((rc = check_path_arg(path)) || (rc = cfs_fs_abspath(fs, path, abs, sizeof(abs))))
        return rc;
    struct inode *dir;
    if ((rc = resolve_dir_from_root(fs, abs, &dir)))
        return rc;
    char *canon = dir_path(fs->st, dir);
    if (!canon)
        return dir->nlink == 0 ? CFS_ENOENT : CFS_ENOMEM;
    cfs_event ev = {.op = CFS_OP_CHDIR, .path = canon, .ino = dir->ino,
                    .time = call_now(fs->st)};
    rc = strcmp(canon, p->cwd) == 0 ? 0 : emit(fs, &ev);
    free(canon);
    return rc;
}

const char *cfs_fs_getcwd(const cfs_fs *fs)
{
    const struct proc *p = proc_get(fs->st, fs->pid);
    return p ? p->cwd : "/";
}

cfs_errno cfs_fs_abspath(const cfs_fs *fs, const char *path, char *buf,
                         size_t len)
{
    if (!path || !buf)
        return CFS_EFAULT;
    size_t plen = strlen(path);
    if (path[0] == '/') {
        if (plen + 1 > len)
            return CFS_ENAMETOOLONG;
        memcpy(buf, path, plen + 1);
        return 0;
    }
    const char *cwd = cfs_fs_getcwd(fs);
    size_t clen = strlen(cwd);
    while (clen > 0 && cwd[clen - 1] == '/')
        clen--;
    if (clen + 1 + plen + 1 > len)
        return CFS_ENAMETOOLONG;
    memcpy(buf, cwd, clen);
    buf[clen] = '/';
    memcpy(buf + clen + 1, path, plen + 1);
    return 0;
}
