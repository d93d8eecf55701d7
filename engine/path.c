/*
 * path.c — resolving a path from a directory fd.
 *
 * Rules (DESIGN.md, issue 2):
 *  - components are separated by any number of '/'; a leading '/' does not
 *    leave the dirfd (WASI paths are relative to their fd);
 *  - "." stays; ".." goes to the parent; at the guest root ".." stays at
 *    the root; from a dirfd below the root, ".." past the dirfd is
 *    ENOTCAPABLE: a path never escapes its fd;
 *  - symlinks in the middle are always followed, the last one only when
 *    asked (or when a trailing '/' follows it); at most CFS_MAX_SYMLINKS
 *    are followed in one resolution, then ELOOP;
 *  - an absolute symlink target resolves from the guest root; if the dirfd
 *    is below the root, where it ends up must still be inside the dirfd's
 *    tree (ENOTCAPABLE otherwise);
 *  - a name longer than CFS_NAME_MAX or a path longer than CFS_PATH_MAX is
 *    ENAMETOOLONG; a non-directory used as a directory is ENOTDIR.
 *
 * Resolution is iterative: a followed symlink replaces the consumed part of
 * the path by its target, in a heap buffer whose size the symlink cap
 * bounds (each target is at most CFS_PATH_MAX bytes).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

cfs_errno check_path_arg(const char *path)
{
    if (!path)
        return CFS_EFAULT;
    size_t n = strnlen(path, CFS_PATH_MAX + 1);
    if (n > CFS_PATH_MAX)
        return CFS_ENAMETOOLONG;
    if (n == 0)
        return CFS_ENOENT;
    return 0;
}

bool dir_is_ancestor(const struct state *st, cfs_ino anc, cfs_ino of)
{
    /* Parent links form a tree rooted at CFS_INO_ROOT, so this ends. */
    for (cfs_ino cur = of;;) {
        if (cur == anc)
            return true;
        if (cur == CFS_INO_ROOT)
            return false;
        const struct inode *in = inode_get(st, cur);
        if (!in || in->type != CFS_FILETYPE_DIRECTORY || in->nlink == 0)
            return false;
        cur = in->u.dir.parent;
    }
}

static void set_dot(struct resolved *out, struct inode *cur, bool dotdot,
                    bool trailing)
{
    out->dir = NULL;
    out->inode = cur;
    out->dot = true;
    out->trailing_slash = trailing;
    out->name_len = dotdot ? 2 : 1;
    memcpy(out->name, dotdot ? ".." : ".", out->name_len + 1);
}

cfs_errno resolve_path(struct state *st, struct inode *base, const char *path,
                       unsigned flags, struct resolved *out)
{
    cfs_errno rc = check_path_arg(path);
    if (rc)
        return rc;
    struct inode *root = inode_get(st, CFS_INO_ROOT);
    struct inode *cur = base;
    bool below_root = base->ino != CFS_INO_ROOT;
    bool escaped = false; /* jumped to the root by an absolute symlink */
    unsigned links = 0;
    char *heap = NULL;
    const char *s = path;
    size_t i = 0;

    for (;;) {
        while (s[i] == '/')
            i++;
        if (!s[i]) {
            /* nothing after the slashes: the path names `cur` itself */
            set_dot(out, cur, false, true);
            break;
        }
        size_t start = i;
        while (s[i] && s[i] != '/')
            i++;
        const char *name = s + start;
        size_t len = i - start;
        size_t j = i;
        while (s[j] == '/')
            j++;
        bool last = !s[j];
        bool trailing = last && j > i;
        if (len > CFS_NAME_MAX) {
            rc = CFS_ENAMETOOLONG;
            goto out;
        }
        if (cur->type != CFS_FILETYPE_DIRECTORY) {
            rc = CFS_ENOTDIR;
            goto out;
        }
        if (len == 1 && name[0] == '.') {
            if (last) {
                set_dot(out, cur, false, trailing);
                break;
            }
            continue;
        }
        if (len == 2 && name[0] == '.' && name[1] == '.') {
            if (cur == base && below_root && !escaped) {
                rc = CFS_ENOTCAPABLE;
                goto out;
            }
            if (cur->ino != CFS_INO_ROOT) {
                struct inode *parent = inode_get(st, cur->u.dir.parent);
                if (!parent || cur->nlink == 0) {
                    rc = CFS_ENOENT;
                    goto out;
                }
                cur = parent;
            }
            if (last) {
                set_dot(out, cur, true, trailing);
                break;
            }
            continue;
        }
        struct dirent *de = dirent_get(st, cur->ino, name, len);
        struct inode *child = de ? inode_get(st, de->ino) : NULL;
        /* The last component: never followed for parent ops; for open
         * with O_CREAT only as asked and never before a trailing '/'
         * (Linux says EISDIR there first); otherwise as asked or when a
         * trailing '/' demands a directory. */
        bool follow;
        if (!last)
            follow = true;
        else if ((flags & RESOLVE_PARENT) == RESOLVE_PARENT)
            follow = false;
        else if (flags & RESOLVE_CREATE)
            follow = !trailing && (flags & RESOLVE_FOLLOW);
        else
            follow = trailing || (flags & RESOLVE_FOLLOW);
        if (child && child->type == CFS_FILETYPE_SYMBOLIC_LINK && follow) {
            if (++links > CFS_MAX_SYMLINKS) {
                rc = CFS_ELOOP;
                goto out;
            }
            /* the rest of the path now follows the target */
            size_t tlen = child->u.link.len, rlen = strlen(s + i);
            char *nb = malloc(tlen + rlen + 1);
            if (!nb) {
                rc = CFS_ENOMEM;
                goto out;
            }
            memcpy(nb, child->u.link.target, tlen);
            memcpy(nb + tlen, s + i, rlen + 1);
            free(heap);
            heap = nb;
            s = heap;
            i = 0;
            if (s[0] == '/') {
                cur = root;
                escaped = below_root;
            }
            continue;
        }
        if (last) {
            out->dir = cur;
            out->inode = child;
            out->dot = false;
            out->trailing_slash = trailing;
            out->name_len = len;
            memcpy(out->name, name, len);
            out->name[len] = 0;
            break;
        }
        if (!child) {
            rc = CFS_ENOENT;
            goto out;
        }
        if (child->type != CFS_FILETYPE_DIRECTORY) {
            rc = CFS_ENOTDIR;
            goto out;
        }
        cur = child;
    }

    if (escaped) {
        struct inode *where = out->dir ? out->dir : out->inode;
        if (!dir_is_ancestor(st, base->ino, where->ino)) {
            rc = CFS_ENOTCAPABLE;
            goto out;
        }
    }
    if (!(flags & RESOLVE_CREATE) && out->trailing_slash && out->inode &&
        out->inode->type != CFS_FILETYPE_DIRECTORY)
        rc = CFS_ENOTDIR;
out:
    free(heap);
    return rc;
}
