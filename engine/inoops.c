/*
 * inoops.c — calls that start from an inode or an fd instead of a path:
 * what a FUSE low-level front end needs, since the kernel names files by
 * inode number and a file may have no path (several links, or none while
 * it is open after an unlink).
 *
 * They emit the ordinary events (OPEN, CHMOD, CHOWN, LINK) with no path:
 * apply() already works from the inode the event records, and replay's
 * printers fall back to the inode's path.
 */
#include "internal.h"

cfs_errno cfs_open_ino(cfs_fs *fs, cfs_ino ino, uint16_t oflags,
                       cfs_rights rights_base, cfs_rights rights_inheriting,
                       uint16_t fdflags, cfs_fd *out)
{
    struct proc *p;
    cfs_errno rc = call_begin(fs, &p);
    if (rc)
        return rc;
    if ((oflags & ~(CFS_O_DIRECTORY | CFS_O_TRUNC)) ||
        (fdflags & ~CFS_FDFLAGS_ALL))
        return CFS_EINVAL;
    if (!out)
        return CFS_EFAULT;
    struct inode *in = inode_get(fs->st, ino);
    if (!in)
        return CFS_ENOENT;
    bool isdir = in->type == CFS_FILETYPE_DIRECTORY;
    if ((oflags & CFS_O_DIRECTORY) && !isdir)
        return CFS_ENOTDIR;
    /* A symlink opens only as O_PATH would, for its metadata: lchown,
     * utimensat(AT_SYMLINK_NOFOLLOW) and link() act on the link itself. */
    if (in->type == CFS_FILETYPE_SYMBOLIC_LINK &&
        ((rights_base & ~CFS_RIGHTS_SYMLINK_FD) || (oflags & CFS_O_TRUNC)))
        return CFS_ELOOP;
    /* A FIFO, socket or device likewise: for its metadata only. */
    if (inode_is_special(in) &&
        ((rights_base & ~CFS_RIGHTS_SYMLINK_FD) || rights_inheriting ||
         (oflags & CFS_O_TRUNC)))
        return CFS_ENXIO;
    if (isdir && ((oflags & CFS_O_TRUNC) || (rights_base & CFS_RIGHT_FD_WRITE)))
        return CFS_EISDIR;
    uint32_t flags = oflags | (uint32_t)fdflags << 8;
    if ((oflags & CFS_O_TRUNC) && in->type == CFS_FILETYPE_REGULAR_FILE)
        flags |= CFS_EVF_OPEN_TRUNCATE;
    uint32_t nfd = fd_first_free(p, 0);
    if (nfd > CFS_MAX_FD)
        return CFS_EMFILE;
    cfs_event ev = {.op = CFS_OP_OPEN, .ino = ino, .fd2 = nfd,
                    .ofd = fs->st->next_ofd, .flags = flags,
                    .rights_base = rights_base,
                    .rights_inheriting = rights_inheriting,
                    .time = call_now(fs->st)};
    rc = emit(fs, &ev);
    if (!rc)
        *out = nfd;
    return rc;
}

/* CHMOD/CHOWN of the inode fd refers to; the rights are the path calls'
 * (PATH_FILESTAT_SET_TIMES stands for "change metadata") in fd form. */
static cfs_errno fd_attr(cfs_fs *fs, cfs_fd fd, cfs_event *ev)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, fd, CFS_RIGHT_FD_FILESTAT_SET_TIMES, &p, &e);
    if (rc)
        return rc;
    ev->fd = fd;
    ev->ino = e->ofd->inode->ino;
    ev->time = call_now(fs->st);
    return emit(fs, ev);
}

cfs_errno cfs_fd_chmod(cfs_fs *fs, cfs_fd fd, uint32_t mode)
{
    cfs_event ev = {.op = CFS_OP_CHMOD, .mode = mode & 07777};
    return fd_attr(fs, fd, &ev);
}

cfs_errno cfs_fd_chown(cfs_fs *fs, cfs_fd fd, uint32_t uid, uint32_t gid)
{
    cfs_event ev = {.op = CFS_OP_CHOWN, .uid = uid, .gid = gid};
    return fd_attr(fs, fd, &ev);
}

cfs_errno cfs_fd_link(cfs_fs *fs, cfs_fd fd, cfs_fd new_dirfd,
                      const char *new_path)
{
    struct proc *p;
    struct fdent *e;
    cfs_errno rc = get_fd(fs, fd, 0, &p, &e);
    if (rc)
        return rc;
    struct inode *in = e->ofd->inode;
    struct fdent *de;
    rc = get_dirfd(fs, new_dirfd, CFS_RIGHT_PATH_LINK_TARGET, &p, &de);
    if (rc)
        return rc;
    struct resolved n;
    rc = resolve_path(fs->st, de->ofd->inode, new_path, RESOLVE_PARENT, &n);
    if (rc)
        return rc;
    if (n.inode || n.dot)
        return CFS_EEXIST;
    if (n.trailing_slash || n.dir->nlink == 0)
        return CFS_ENOENT;
    if (in->type == CFS_FILETYPE_DIRECTORY)
        return CFS_EPERM;
    if (in->nlink == 0)
        return CFS_ENOENT;
    cfs_event ev = {.op = CFS_OP_LINK, .fd = fd, .fd2 = new_dirfd,
                    .path2 = new_path, .ino = in->ino, .dir2 = n.dir->ino,
                    .name2 = n.name, .time = call_now(fs->st)};
    return emit(fs, &ev);
}
