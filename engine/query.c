/*
 * query.c — questions asked of the state by inode, without an fd.
 *
 * Reading through an fd is an event (opening one allocates an fd and a
 * description, reading moves an offset), so a reader that must leave the
 * state exactly at its seq (replay, restore, a FUSE read of a past state)
 * asks these instead. None of them writes the state, the error message
 * or a block's cached hash; the one thing they may do is fill a lazily
 * loaded block (block_load: once, under its source's lock). That is what
 * makes them safe to call from several threads at once on one engine
 * while nobody mutates it (a restore may read file blocks on writer
 * threads while its main thread walks the directories).
 */
#include <string.h>

#include "internal.h"

#define BS ((uint64_t)CFS_BLOCK_SIZE)

static cfs_errno regular_file(const cfs_fs *fs, cfs_ino ino,
                              const struct inode **out)
{
    const struct inode *in = inode_get(fs->st, ino);
    if (!in)
        return CFS_ENOENT;
    if (in->type == CFS_FILETYPE_DIRECTORY)
        return CFS_EISDIR;
    if (in->type != CFS_FILETYPE_REGULAR_FILE)
        return CFS_EINVAL;
    *out = in;
    return 0;
}

cfs_errno cfs_file_pread_ino(const cfs_fs *fs, cfs_ino ino, void *buf,
                             size_t len, uint64_t off, size_t *got)
{
    const struct inode *in;
    cfs_errno rc = regular_file(fs, ino, &in);
    if (rc)
        return rc;
    if (!got || (!buf && len))
        return CFS_EFAULT;
    if (off > CFS_MAX_FILE_SIZE)
        return CFS_EINVAL;
    return file_read(in, buf, len, off, got); /* EIO: a lazy block failed */
}

struct extent_walk {
    uint64_t size;
    cfs_extent_fn fn;
    void *ctx;
    int result; /* non-zero once fn asked to stop */
    bool load_failed; /* a lazy block could not be loaded */
};

/* A block holds bytes [index*BS, index*BS + cap); past cap (and past the
 * file size) it reads as zeros, so the extent ends at the nearer of the
 * two. file_visit_blocks() cannot be stopped, so after a stop the rest of
 * the blocks are passed over. */
static void extent_block(void *ctx, uint64_t index, const struct block *b)
{
    struct extent_walk *w = ctx;
    if (w->result)
        return;
    uint64_t off = index * BS;
    if (off >= w->size)
        return; /* cannot happen: truncation frees such blocks */
    uint64_t len = w->size - off < b->cap ? w->size - off : b->cap;
    if (block_load((struct block *)b)) {
        w->load_failed = true;
        w->result = -1;
        return;
    }
    w->result = w->fn(w->ctx, off, b->data, (size_t)len);
}

cfs_errno cfs_file_extents(const cfs_fs *fs, cfs_ino ino, cfs_extent_fn fn,
                           void *ctx, int *fn_result)
{
    const struct inode *in;
    cfs_errno rc = regular_file(fs, ino, &in);
    if (rc)
        return rc;
    if (!fn)
        return CFS_EFAULT;
    struct extent_walk w = {.size = in->size, .fn = fn, .ctx = ctx};
    file_visit_blocks(in, extent_block, &w);
    if (w.load_failed)
        return CFS_EIO;
    if (fn_result)
        *fn_result = w.result;
    return w.result ? CFS_ECANCELED : 0;
}

cfs_errno cfs_readlink_ino(const cfs_fs *fs, cfs_ino ino, char *buf,
                           size_t cap, size_t *len)
{
    const struct inode *in = inode_get(fs->st, ino);
    if (!in)
        return CFS_ENOENT;
    if (in->type != CFS_FILETYPE_SYMBOLIC_LINK)
        return CFS_EINVAL;
    if (!len || (!buf && cap))
        return CFS_EFAULT;
    size_t n = in->u.link.len < cap ? in->u.link.len : cap;
    if (n) /* buf may be NULL with cap 0: only the length is asked */
        memcpy(buf, in->u.link.target, n);
    *len = in->u.link.len;
    return 0;
}

cfs_errno cfs_lookup_path(const cfs_fs *fs, cfs_ino dir, const char *path,
                          uint32_t lookupflags, cfs_filestat *out)
{
    if (lookupflags & ~(uint32_t)CFS_LOOKUP_SYMLINK_FOLLOW)
        return CFS_EINVAL;
    struct inode *base = inode_get(fs->st, dir);
    if (!base)
        return CFS_ENOENT;
    if (base->type != CFS_FILETYPE_DIRECTORY)
        return CFS_ENOTDIR;
    if (!out)
        return CFS_EFAULT;
    /* resolve_path() only reads the state (it allocates a scratch buffer
     * for symlink targets, which it frees). */
    struct resolved r;
    cfs_errno rc = resolve_path(fs->st, base, path,
                                (lookupflags & CFS_LOOKUP_SYMLINK_FOLLOW)
                                    ? RESOLVE_FOLLOW
                                    : 0,
                                &r);
    if (rc)
        return rc;
    if (!r.inode)
        return CFS_ENOENT;
    inode_to_filestat(r.inode, out);
    return 0;
}
