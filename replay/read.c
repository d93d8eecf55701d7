/*
 * read.c — reading file bytes out of a replayed state.
 *
 * The engine gives file bytes only through an fd, and opening an fd is an
 * event: done on the engine a replay is advancing, it would move its seq
 * and its counters, and the journal's next event would no longer apply.
 * So a reader works on a clone (cfs_fs_clone: the metadata is copied, the
 * file data shared copy-on-write) with a preopen of its own, and replay's
 * engines stay exactly at their seq. A clone costs O(metadata); an engine
 * query reading a file by inode, without an fd, would make this a plain
 * call (noted for the engine).
 */
#include <inttypes.h>
#include <stdio.h>

#include "internal.h"

int reader_open(struct reader *r, const cfs_fs *src, char *err, size_t cap)
{
    r->fs = NULL;
    r->root = 0;
    cfs_errno e = cfs_fs_clone(src, &r->fs);
    if (e)
        return set_err(err, cap, CFS_JE_NOMEM,
                       "seq %" PRIu64 ": cannot clone the state to read it: %s",
                       cfs_fs_seq(src), cfs_errno_name(e));
    /* a preopen name the guest is unlikely to have taken */
    char alias[32];
    for (int k = 0; k < 64; k++) {
        snprintf(alias, sizeof(alias), "\x01replay-reader-%d", k);
        e = cfs_fs_preopen(r->fs, "/", alias, CFS_PREOPEN_READ, &r->root);
        if (e != CFS_EEXIST)
            break;
    }
    if (e) {
        cfs_fs_free(r->fs);
        r->fs = NULL;
        return set_err(err, cap, e == CFS_ENOMEM ? CFS_JE_NOMEM : CFS_JE_IO,
                       "seq %" PRIu64 ": cannot open the state's root to read it: %s",
                       cfs_fs_seq(src), cfs_errno_name(e));
    }
    return 0;
}

void reader_close(struct reader *r)
{
    cfs_fs_free(r->fs);
    r->fs = NULL;
}

cfs_errno reader_file(struct reader *r, const char *path, bool follow,
                      cfs_fd *fd)
{
    /* a leading '/' does not leave the dirfd: `path` resolves from the root */
    return cfs_path_open(r->fs, r->root, follow ? CFS_LOOKUP_SYMLINK_FOLLOW : 0,
                         path, 0, CFS_RIGHT_FD_READ | CFS_RIGHT_FD_SEEK, 0, 0, fd);
}

cfs_errno reader_pread(struct reader *r, cfs_fd fd, void *buf, size_t len,
                       uint64_t off, size_t *got)
{
    *got = 0;
    while (*got < len) {
        size_t n = 0;
        cfs_errno e = cfs_fd_pread(r->fs, fd, (char *)buf + *got, len - *got,
                                   off + *got, &n);
        if (e)
            return e;
        if (n == 0)
            break;
        *got += n;
    }
    return 0;
}

void reader_file_close(struct reader *r, cfs_fd fd)
{
    cfs_fd_close(r->fs, fd);
}
