/*
 * read.c — a frozen copy of a replayed state to read paths from.
 *
 * A reader is a clone (cfs_fs_clone: the metadata is copied, the file
 * data shared copy-on-write) with a preopen of its own, read through fds
 * by path. Reading by inode needs no clone (cfs_file_pread_ino, as bisect
 * does); a reader is for the callers that need the state as it was while
 * the replayed engine moves on (diff compares two seqs) or that resolve
 * paths as the guest would (blame). Opening fds on the clone moves only
 * the clone's seq, never the replay's.
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
