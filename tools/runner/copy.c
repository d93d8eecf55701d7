/*
 * copy.c — engine-to-engine tree copy: how a mount is materialized.
 *
 * The source engine (a host tree imported into a scratch engine, or a
 * layer's journal opened at a snapshot) is walked with the by-inode
 * queries (cfs_dir_next, cfs_getattr, cfs_file_extents, cfs_readlink_ino),
 * which read without changing it; the target is changed only through its
 * path calls, so with a journal sink every change is an ordinary event and
 * a replay needs neither the host nor the layer's journal.
 *
 * Recursion follows the directory depth, which the path buffer bounds:
 * a path is at most CFS_PATH_MAX bytes, so at most CFS_PATH_MAX / 2 levels,
 * each frame a few dozen bytes (names and paths live in struct copy).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "runner_internal.h"

#define FILE_RIGHTS                                                            \
    (CFS_RIGHT_FD_WRITE | CFS_RIGHT_FD_SEEK | CFS_RIGHT_FD_FILESTAT_GET |      \
     CFS_RIGHT_FD_FILESTAT_SET_SIZE)
#define NEW_FILE_MODE 0644u /* the engine's default creds (cfs_fs_set_creds) */
#define NEW_DIR_MODE 0755u

/* Source inodes with several names -> the target path of the first one
 * copied, so the later names become links to it. Open addressing. */
struct link_map {
    cfs_ino *ino;
    char **path;
    size_t cap, used;
};

struct copy {
    cfs_fs *src, *dst;
    char path[CFS_PATH_MAX + 1]; /* the target path being made */
    size_t len;                  /* of path; 0 stands for "/" */
    struct link_map links;
    char *err;
    size_t cap;
};

static const char *cur(const struct copy *c)
{
    return c->len ? c->path : "/";
}

static cfs_errno fail(struct copy *c, cfs_errno e, const char *call)
{
    const char *m = cfs_fs_errmsg(c->dst);
    cfs_run_seterr(c->err, c->cap, "%s: %s: %s%s%s", cur(c), call, cfs_errno_name(e),
                   *m ? ": " : "", m);
    return e;
}

/* ---- hard links -------------------------------------------------------- */

static const char *links_get(const struct link_map *m, cfs_ino ino)
{
    if (!m->cap)
        return NULL;
    for (size_t i = (size_t)(ino * 0x9e3779b97f4a7c15u) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->ino[i])
            return NULL;
        if (m->ino[i] == ino)
            return m->path[i];
    }
}

static int links_put(struct link_map *m, cfs_ino ino, const char *path)
{
    if ((m->used + 1) * 2 > m->cap) {
        struct link_map n = {0};
        n.cap = m->cap ? m->cap * 2 : 64;
        n.ino = calloc(n.cap, sizeof(*n.ino));
        n.path = calloc(n.cap, sizeof(*n.path));
        if (!n.ino || !n.path) {
            free(n.ino);
            free(n.path);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->ino[i]) {
                size_t k = (size_t)(m->ino[i] * 0x9e3779b97f4a7c15u) & (n.cap - 1);
                while (n.ino[k])
                    k = (k + 1) & (n.cap - 1);
                n.ino[k] = m->ino[i];
                n.path[k] = m->path[i];
            }
        n.used = m->used;
        free(m->ino);
        free(m->path);
        *m = n;
    }
    char *p = strdup(path);
    if (!p)
        return -1;
    size_t k = (size_t)(ino * 0x9e3779b97f4a7c15u) & (m->cap - 1);
    while (m->ino[k])
        k = (k + 1) & (m->cap - 1);
    m->ino[k] = ino;
    m->path[k] = p;
    m->used++;
    return 0;
}

static void links_free(struct link_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->path[i]);
    free(m->ino);
    free(m->path);
    memset(m, 0, sizeof(*m));
}

/* ---- removing ---------------------------------------------------------- */

/* Remove what is at c->path (it exists; `st` describes it, not followed). */
/* The next entry of directory `dir` of fs after *cookie ("." and ".."
 * skipped), its name appended to c->path at `base`: 0, CFS_ENOENT at the
 * end, CFS_ENAMETOOLONG for a path past CFS_PATH_MAX, or readdir's error. */
static cfs_errno next_child(struct copy *c, cfs_fs *fs, cfs_ino dir, uint64_t *cookie,
                            size_t base, cfs_dirent *d)
{
    for (;;) {
        cfs_errno e = cfs_dir_next(fs, dir, *cookie, d);
        if (e)
            return e;
        *cookie = d->next;
        if (!((d->name_len == 1 && d->name[0] == '.') ||
              (d->name_len == 2 && d->name[0] == '.' && d->name[1] == '.')))
            break;
    }
    if (base + 1 + d->name_len > CFS_PATH_MAX)
        return CFS_ENAMETOOLONG;
    c->path[base] = '/';
    memcpy(c->path + base + 1, d->name, d->name_len);
    c->len = base + 1 + d->name_len;
    c->path[c->len] = 0;
    return 0;
}

static cfs_errno remove_at(struct copy *c, const cfs_filestat *st)
{
    cfs_errno e;
    if (st->filetype != CFS_FILETYPE_DIRECTORY) {
        if ((e = cfs_path_unlink_file(c->dst, CFS_ROOT_FD, cur(c))))
            return fail(c, e, "unlink");
        return 0;
    }
    /* Entries keep their cookies while they exist, so the listing goes on
     * from the removed entry's cookie. */
    uint64_t cookie = CFS_DIRCOOKIE_START;
    size_t base = c->len;
    for (;;) {
        cfs_dirent d;
        e = next_child(c, c->dst, st->ino, &cookie, base, &d);
        if (e == CFS_ENOENT)
            break;
        if (e)
            return fail(c, e, e == CFS_ENAMETOOLONG ? "remove" : "readdir");
        cfs_filestat cst;
        if ((e = cfs_path_filestat_get(c->dst, CFS_ROOT_FD, 0, c->path, &cst)))
            return fail(c, e, "stat");
        if ((e = remove_at(c, &cst)))
            return e;
        c->len = base;
        c->path[base] = 0;
    }
    if (c->len == 0)
        return 0; /* the root stays, emptied */
    if ((e = cfs_path_remove_directory(c->dst, CFS_ROOT_FD, cur(c))))
        return fail(c, e, "rmdir");
    return 0;
}

static int set_path(struct copy *c, const char *path)
{
    size_t n = strlen(path);
    while (n > 0 && path[n - 1] == '/')
        n--;
    if (n > CFS_PATH_MAX)
        return -1;
    memcpy(c->path, path, n);
    c->path[n] = 0;
    c->len = n;
    return 0;
}

cfs_errno cfs_run_remove_tree(cfs_fs *fs, const char *path, char *err, size_t cap)
{
    struct copy c = {.dst = fs, .err = err, .cap = cap};
    if (set_path(&c, path))
        return fail(&c, CFS_ENAMETOOLONG, "remove");
    cfs_filestat st;
    cfs_errno e = cfs_path_filestat_get(fs, CFS_ROOT_FD, 0, cur(&c), &st);
    if (e == CFS_ENOENT)
        return 0;
    if (e)
        return fail(&c, e, "stat");
    return remove_at(&c, &st);
}

cfs_errno cfs_run_mkdir_p(cfs_fs *fs, const char *path, char *err, size_t cap)
{
    struct copy c = {.dst = fs, .err = err, .cap = cap};
    if (set_path(&c, path))
        return fail(&c, CFS_ENAMETOOLONG, "mkdir");
    size_t full = c.len;
    char whole[CFS_PATH_MAX + 1];
    memcpy(whole, c.path, full + 1);
    for (size_t i = 1; i <= full; i++) {
        if (i < full && whole[i] != '/')
            continue;
        c.len = i;
        memcpy(c.path, whole, i);
        c.path[i] = 0;
        cfs_filestat st;
        cfs_errno e = cfs_path_filestat_get(fs, CFS_ROOT_FD, 0, c.path, &st);
        if (!e && st.filetype == CFS_FILETYPE_DIRECTORY)
            continue;
        if (!e && (e = remove_at(&c, &st)))
            return e;
        if (e && e != CFS_ENOENT)
            return fail(&c, e, "stat");
        if ((e = cfs_path_create_directory(fs, CFS_ROOT_FD, c.path)))
            return fail(&c, e, "mkdir");
    }
    return 0;
}

/* ---- copying ----------------------------------------------------------- */

struct fdw {
    cfs_fs *dst;
    cfs_fd fd;
    cfs_errno e;
};

static int write_extent(void *ctx, uint64_t off, const void *data, size_t len)
{
    struct fdw *w = ctx;
    size_t done = 0;
    while (done < len) {
        size_t n = 0;
        w->e = cfs_fd_pwrite(w->dst, w->fd, (const char *)data + done, len - done, off + done, &n);
        if (w->e)
            return 1;
        if (n == 0) {
            w->e = CFS_EIO;
            return 1;
        }
        done += n;
    }
    return 0;
}

/* Owner, mode (not for symlinks) and times of c->path from `s`; `t` is
 * what it has now, so nothing that is already so becomes an event. */
static cfs_errno set_meta(struct copy *c, const cfs_filestat *s, const cfs_filestat *t)
{
    cfs_errno e;
    if ((s->uid != t->uid || s->gid != t->gid) &&
        (e = cfs_path_chown(c->dst, CFS_ROOT_FD, 0, cur(c), s->uid, s->gid)))
        return fail(c, e, "chown");
    if (s->filetype != CFS_FILETYPE_SYMBOLIC_LINK && (s->mode & 07777) != (t->mode & 07777) &&
        (e = cfs_path_chmod(c->dst, CFS_ROOT_FD, 0, cur(c), s->mode & 07777)))
        return fail(c, e, "chmod");
    if ((s->atim != t->atim || s->mtim != t->mtim) &&
        (e = cfs_path_filestat_set_times(c->dst, CFS_ROOT_FD, 0, cur(c), s->atim, s->mtim,
                                         CFS_FST_ATIM | CFS_FST_MTIM)))
        return fail(c, e, "set times");
    return 0;
}

static cfs_errno copy_file(struct copy *c, const cfs_filestat *s)
{
    cfs_fd fd;
    cfs_errno e = cfs_path_open(c->dst, CFS_ROOT_FD, 0, cur(c), CFS_O_CREAT | CFS_O_EXCL,
                                FILE_RIGHTS, 0, 0, &fd);
    if (e)
        return fail(c, e, "create");
    struct fdw w = {c->dst, fd, 0};
    int frc = 0;
    e = cfs_file_extents(c->src, s->ino, write_extent, &w, &frc);
    if (e == CFS_ECANCELED && frc)
        e = w.e;
    /* the size last: a hole at the end stays a hole */
    if (!e)
        e = cfs_fd_filestat_set_size(c->dst, fd, s->size);
    if (e) {
        fail(c, e, "write");
        cfs_fd_close(c->dst, fd);
        return e;
    }
    if ((e = cfs_fd_close(c->dst, fd)))
        return fail(c, e, "close");
    return 0;
}

static cfs_errno copy_dir(struct copy *c, cfs_ino sdir);

/* Make c->path as a copy of source inode `s` (what is there is replaced,
 * a directory merged). */
static cfs_errno copy_entry(struct copy *c, const cfs_filestat *s)
{
    cfs_filestat t;
    cfs_errno e = cfs_path_filestat_get(c->dst, CFS_ROOT_FD, 0, cur(c), &t);
    int exists = e == 0;
    if (e && e != CFS_ENOENT)
        return fail(c, e, "stat");
    if (s->filetype == CFS_FILETYPE_DIRECTORY) {
        if (exists && t.filetype != CFS_FILETYPE_DIRECTORY) {
            if ((e = remove_at(c, &t)))
                return e;
            exists = 0;
        }
        if (!exists) {
            if ((e = cfs_path_create_directory(c->dst, CFS_ROOT_FD, cur(c))))
                return fail(c, e, "mkdir");
        }
        if ((e = copy_dir(c, s->ino)))
            return e;
        if ((e = cfs_path_filestat_get(c->dst, CFS_ROOT_FD, 0, cur(c), &t)))
            return fail(c, e, "stat");
        return set_meta(c, s, &t);
    }
    if (exists && (e = remove_at(c, &t)))
        return e;
    const char *first = s->nlink > 1 ? links_get(&c->links, s->ino) : NULL;
    if (first) {
        if ((e = cfs_path_link(c->dst, CFS_ROOT_FD, 0, first, CFS_ROOT_FD, cur(c))))
            return fail(c, e, "link");
        return 0;
    }
    if (s->filetype == CFS_FILETYPE_REGULAR_FILE) {
        if ((e = copy_file(c, s)))
            return e;
    } else if (s->filetype != CFS_FILETYPE_SYMBOLIC_LINK) {
        /* a FIFO, socket or device: an inode of its type, as import
         * records it (no data; the guest cannot open it: ENXIO) */
        if ((e = cfs_path_mknod_dev(c->dst, CFS_ROOT_FD, cur(c), s->mode, s->rdev)))
            return fail(c, e, "mknod");
    } else {
        char target[CFS_PATH_MAX + 1];
        size_t tlen;
        if ((e = cfs_readlink_ino(c->src, s->ino, target, CFS_PATH_MAX, &tlen)))
            return fail(c, e, "readlink");
        if (tlen > CFS_PATH_MAX)
            return fail(c, CFS_ENAMETOOLONG, "readlink");
        target[tlen] = 0;
        if ((e = cfs_path_symlink(c->dst, target, CFS_ROOT_FD, cur(c))))
            return fail(c, e, "symlink");
    }
    if (s->nlink > 1 && links_put(&c->links, s->ino, cur(c)))
        return fail(c, CFS_ENOMEM, "link map");
    if ((e = cfs_path_filestat_get(c->dst, CFS_ROOT_FD, 0, cur(c), &t)))
        return fail(c, e, "stat");
    return set_meta(c, s, &t);
}

static cfs_errno copy_dir(struct copy *c, cfs_ino sdir)
{
    size_t base = c->len;
    uint64_t cookie = CFS_DIRCOOKIE_START;
    for (;;) {
        cfs_dirent d;
        cfs_errno e = next_child(c, c->src, sdir, &cookie, base, &d);
        if (e == CFS_ENOENT)
            break;
        if (e == CFS_ENAMETOOLONG)
            return fail(c, e, "copy");
        if (e) {
            cfs_run_seterr(c->err, c->cap, "%s: reading the source directory: %s", cur(c),
                           cfs_errno_name(e));
            return e;
        }
        cfs_filestat s;
        if ((e = cfs_getattr(c->src, d.ino, &s))) {
            cfs_run_seterr(c->err, c->cap, "%s: source inode %" PRIu64 ": %s", cur(c),
                           (uint64_t)d.ino, cfs_errno_name(e));
            return e;
        }
        if ((e = copy_entry(c, &s)))
            return e;
        c->len = base;
        c->path[base] = 0;
    }
    return 0;
}

cfs_errno cfs_run_copy_tree(cfs_fs *src, cfs_ino src_dir, cfs_fs *dst, const char *dst_path,
                            char *err, size_t cap)
{
    struct copy *c = calloc(1, sizeof(*c));
    if (!c) {
        cfs_run_seterr(err, cap, "%s: out of memory", dst_path);
        return CFS_ENOMEM;
    }
    c->src = src;
    c->dst = dst;
    c->err = err;
    c->cap = cap;
    cfs_errno e = cfs_run_mkdir_p(dst, dst_path, err, cap);
    cfs_filestat s, t;
    if (!e && set_path(c, dst_path))
        e = fail(c, CFS_ENAMETOOLONG, "copy");
    if (!e && (e = cfs_getattr(src, src_dir, &s)))
        cfs_run_seterr(err, cap, "%s: the source's top directory: %s", dst_path,
                       cfs_errno_name(e));
    if (!e && s.filetype != CFS_FILETYPE_DIRECTORY) {
        cfs_run_seterr(err, cap, "%s: the source's top is not a directory", dst_path);
        e = CFS_ENOTDIR;
    }
    if (!e)
        e = copy_dir(c, src_dir);
    if (!e && (e = cfs_path_filestat_get(dst, CFS_ROOT_FD, 0, cur(c), &t)))
        fail(c, e, "stat");
    if (!e)
        e = set_meta(c, &s, &t);
    links_free(&c->links);
    free(c);
    return e;
}
