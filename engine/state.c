/*
 * state.c — creating and freeing an engine, the initial state, the state
 * hash, and the tables of names (errno, ops).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include <xxh_x86dispatch.h>

#include "internal.h"

/* ---- initial state ---------------------------------------------------------- */

static struct inode *boot_inode(struct state *st, cfs_ino ino, uint8_t type,
                                uint32_t mode)
{
    struct inode *in = calloc(1, sizeof(*in));
    if (!in)
        return NULL;
    in->ino = ino;
    if (inode_insert(st, in)) {
        free(in);
        return NULL;
    }
    in->type = type;
    in->mode = mode;
    in->nlink = 1;
    return in;
}

static int boot_fd(struct proc *p, uint32_t fd, struct inode *in,
                   cfs_rights rights, uint16_t fdflags, uint64_t ofd_id,
                   const char *preopen)
{
    struct fdent *e = calloc(1, sizeof(*e));
    struct ofd *o = calloc(1, sizeof(*o));
    if (!e || !o)
        goto fail;
    if (preopen) {
        e->preopen_name = strdup(preopen);
        e->preopen_path = strdup(preopen);
        if (!e->preopen_name || !e->preopen_path)
            goto fail;
    }
    o->id = ofd_id;
    o->refs = 1;
    o->inode = in;
    o->fdflags = fdflags;
    in->open_refs++;
    e->ofd = o;
    /* stdio inherits nothing (the seed's create_std_dev_inner) */
    e->base = rights;
    e->inheriting = preopen ? rights : 0;
    e->stdio = !preopen;
    p->fds[fd] = e;
    p->count++;
    return 0;
fail:
    if (e) {
        free(e->preopen_name);
        free(e->preopen_path);
    }
    free(e);
    free(o);
    return -1;
}

cfs_fs *cfs_fs_new(const cfs_config *cfg)
{
    cfs_fs *fs = calloc(1, sizeof(*fs));
    struct state *st = calloc(1, sizeof(*st));
    if (!fs || !st) {
        free(fs);
        free(st);
        return NULL;
    }
    fs->st = st;
    fs->pid = 1;
    fs->owner = true;
    fs->file_mode = 0644;
    fs->dir_mode = 0755;
    st->handles = 1;
    if (cfg) {
        st->clock = cfg->clock;
        st->clock_ctx = cfg->clock_ctx;
        st->sink = cfg->sink;
        st->budget = cfg->byte_budget;
    }
    st->itab_cap = 64;
    st->dtab_cap = 64;
    st->itab = calloc(st->itab_cap, sizeof(*st->itab));
    st->dtab = calloc(st->dtab_cap, sizeof(*st->dtab));
    struct proc *p = calloc(1, sizeof(*p));
    if (!st->itab || !st->dtab || !p)
        goto fail_p;
    st->procs = p;
    p->pid = 1;
    p->cap = 16;
    p->fds = calloc(p->cap, sizeof(*p->fds));
    p->cwd = strdup("/");
    if (!p->fds || !p->cwd)
        goto fail;

    struct inode *in0 = boot_inode(st, CFS_INO_STDIN, CFS_FILETYPE_CHARACTER_DEVICE, 0600);
    struct inode *in1 = boot_inode(st, CFS_INO_STDOUT, CFS_FILETYPE_CHARACTER_DEVICE, 0600);
    struct inode *in2 = boot_inode(st, CFS_INO_STDERR, CFS_FILETYPE_CHARACTER_DEVICE, 0600);
    struct inode *root = boot_inode(st, CFS_INO_ROOT, CFS_FILETYPE_DIRECTORY, 0755);
    if (!in0 || !in1 || !in2 || !root)
        goto fail;
    root->nlink = 2;
    root->u.dir.parent = CFS_INO_ROOT;
    root->u.dir.next_cookie = DIRCOOKIE_FIRST;
    if (boot_fd(p, 0, in0, CFS_RIGHTS_STDIN, 0, 1, NULL) ||
        boot_fd(p, 1, in1, CFS_RIGHTS_STDOUT, CFS_FDFLAG_APPEND, 2, NULL) ||
        boot_fd(p, 2, in2, CFS_RIGHTS_STDERR, CFS_FDFLAG_APPEND, 3, NULL) ||
        boot_fd(p, CFS_ROOT_FD, root, CFS_RIGHTS_ALL, 0, 4, "/"))
        goto fail;
    p->free_hint = 4;
    st->next_ino = CFS_INO_ROOT + 1;
    st->next_ofd = 5;
    st->next_pid = 2;
    return fs;
fail_p:
    free(p);
fail:
    cfs_fs_free(fs);
    return NULL;
}

void cfs_fs_free(cfs_fs *fs)
{
    if (!fs)
        return;
    struct state *st = fs->st;
    if (st && --st->handles == 0) {
        while (st->procs) {
            struct proc *p = st->procs;
            st->procs = p->next;
            proc_destroy(st, p);
        }
        /* Whatever is still linked goes now: walk the inode table. */
        for (size_t i = 0; st->itab && i < st->itab_cap; i++) {
            struct inode *in = st->itab[i];
            while (in) {
                struct inode *next = in->hnext;
                if (in->type == CFS_FILETYPE_REGULAR_FILE)
                    file_data_free(&in->u.file.data);
                else if (in->type == CFS_FILETYPE_DIRECTORY)
                    free(in->u.dir.ents);
                else if (in->type == CFS_FILETYPE_SYMBOLIC_LINK)
                    free(in->u.link.target);
                free(in);
                in = next;
            }
        }
        for (size_t i = 0; st->dtab && i < st->dtab_cap; i++) {
            struct dirent *de = st->dtab[i];
            while (de) {
                struct dirent *next = de->hnext;
                free(de);
                de = next;
            }
        }
        free(st->itab);
        free(st->dtab);
        source_release(st->src); /* after the blocks it feeds are gone */
        free(st);
    }
    free(fs);
}

void cfs_fs_set_sink(cfs_fs *fs, const cfs_sink *sink)
{
    if (sink)
        fs->st->sink = *sink;
    else
        memset(&fs->st->sink, 0, sizeof(fs->st->sink));
}

uint64_t cfs_fs_seq(const cfs_fs *fs)
{
    return fs->st->seq;
}

cfs_errno cfs_fs_apply(cfs_fs *fs, const cfs_event *ev)
{
    if (!ev) {
        set_errmsg(fs->st, "apply: no event");
        return CFS_EINVAL;
    }
    fs->st->errmsg[0] = 0;
    return apply_event(fs->st, ev);
}

const char *cfs_fs_errmsg(const cfs_fs *fs)
{
    return fs->st->errmsg;
}

uint32_t cfs_fs_pid(const cfs_fs *fs)
{
    return fs->pid;
}

void cfs_fs_set_creds(cfs_fs *fs, uint32_t uid, uint32_t gid,
                      uint32_t file_mode, uint32_t dir_mode)
{
    fs->uid = uid;
    fs->gid = gid;
    fs->file_mode = file_mode & 07777;
    fs->dir_mode = dir_mode & 07777;
}

/* ---- the canonical walk and the state hash --------------------------------------- */

void block_ensure_hash(struct block *b)
{
    if (__atomic_load_n(&b->hashed, __ATOMIC_ACQUIRE) == HASH_DONE)
        return;
    uint8_t none = HASH_NONE;
    if (__atomic_compare_exchange_n(&b->hashed, &none, HASH_BUSY, false, __ATOMIC_ACQUIRE,
                                    __ATOMIC_ACQUIRE)) {
        XXH128_hash_t h = XXH3_128bits_dispatch(b->data, b->cap);
        b->hash.lo = h.low64;
        b->hash.hi = h.high64;
        __atomic_store_n(&b->hashed, HASH_DONE, __ATOMIC_RELEASE);
        return;
    }
    /* another thread is storing the same hash: a few nanoseconds */
    while (__atomic_load_n(&b->hashed, __ATOMIC_ACQUIRE) != HASH_DONE)
        continue;
}

struct walk_blocks {
    struct walker *w;
};

static void walk_block(void *ctx, uint64_t index, const struct block *cb)
{
    struct walker *w = ((struct walk_blocks *)ctx)->w;
    if (w->stop)
        return;
    struct block *b = (struct block *)cb;
    block_ensure_hash(b);
    w->block(w, index, b);
}

/*
 * The canonical walk: counters; inodes in ascending number (numbers come
 * from a counter, so no sorting) with their metadata and, for files, their
 * blocks by index; directory entries in cookie order; processes by pid
 * with their fd tables in fd order and each fd's description. The state
 * hash and the snapshot image are this walk, hashed or written.
 */
void state_walk(const struct state *st, struct walker *w)
{
    w->u64(w, st->seq);
    w->u64(w, st->next_ino);
    w->u64(w, st->next_ofd);
    w->u64(w, st->next_pid);
    w->u64(w, st->budget);
    w->u64(w, st->used);
    w->u64(w, st->icount);
    struct walk_blocks wb = {w};
    for (cfs_ino ino = CFS_INO_STDIN; ino < st->next_ino && !w->stop; ino++) {
        inode_prefetch(st, ino + 8); /* the walk is bound by memory latency */
        const struct inode *in = inode_get(st, ino);
        if (!in)
            continue;
        w->u64(w, in->ino);
        w->u64(w, in->type);
        w->u64(w, in->mode);
        w->u64(w, in->uid);
        w->u64(w, in->gid);
        w->u64(w, in->nlink);
        w->u64(w, in->size);
        w->u64(w, in->atim);
        w->u64(w, in->mtim);
        w->u64(w, in->ctim);
        w->u64(w, in->open_refs);
        switch (in->type) {
        case CFS_FILETYPE_REGULAR_FILE:
            w->u64(w, in->u.file.charged);
            file_visit_blocks(in, walk_block, &wb);
            w->u64(w, UINT64_MAX); /* end of blocks */
            break;
        case CFS_FILETYPE_DIRECTORY:
            w->u64(w, in->u.dir.parent);
            w->u64(w, in->u.dir.next_cookie);
            w->u64(w, in->u.dir.live);
            for (size_t k = 0; k < in->u.dir.n; k++) {
                const struct dirent *de = in->u.dir.ents[k];
                if (k + 8 < in->u.dir.n && in->u.dir.ents[k + 8])
                    __builtin_prefetch(in->u.dir.ents[k + 8]);
                if (!de)
                    continue;
                w->u64(w, de->cookie);
                w->u64(w, de->ino);
                w->str(w, de->name);
            }
            break;
        case CFS_FILETYPE_SYMBOLIC_LINK:
            w->str(w, in->u.link.target);
            break;
        default: /* FIFOs, sockets, devices: a device number for devices */
            if (inode_has_rdev(in->ino, in->type))
                w->u64(w, in->u.special.rdev);
            break;
        }
    }
    uint64_t nprocs = 0;
    for (const struct proc *p = st->procs; p; p = p->next)
        nprocs++;
    w->u64(w, nprocs);
    for (const struct proc *p = st->procs; p && !w->stop; p = p->next) {
        w->u64(w, p->pid);
        w->str(w, p->cwd);
        w->u64(w, p->count);
        for (uint32_t fd = 0; fd < p->cap; fd++) {
            const struct fdent *e = p->fds[fd];
            if (!e)
                continue;
            w->u64(w, fd);
            w->u64(w, e->base);
            w->u64(w, e->inheriting);
            w->u64(w, (uint64_t)e->cloexec | (uint64_t)e->stdio << 1);
            w->str(w, e->preopen_name);
            w->str(w, e->preopen_path);
            w->u64(w, e->ofd->id);
            w->u64(w, e->ofd->inode->ino);
            w->u64(w, e->ofd->offset);
            w->u64(w, e->ofd->fdflags);
        }
    }
}

/* The hash visitor: the image's bytes (varint_put), buffered, into
 * xxh3-128; a block counts by its content hash (xxh3-128 of its bytes). */
struct hasher {
    struct walker w;
    XXH3_state_t xs;
    size_t len;
    uint8_t buf[4096];
};

static void h_flush(struct hasher *h)
{
    XXH3_128bits_update_dispatch(&h->xs, h->buf, h->len);
    h->len = 0;
}

static void h_u64(struct walker *w, uint64_t v)
{
    struct hasher *h = (struct hasher *)w;
    if (h->len > sizeof(h->buf) - 10)
        h_flush(h);
    h->len += varint_put(h->buf + h->len, v);
}

static void h_str(struct walker *w, const char *s)
{
    struct hasher *h = (struct hasher *)w;
    size_t n = s ? strlen(s) : 0;
    h_u64(w, s ? n + 1 : 0);
    if (!n)
        return;
    if (n > sizeof(h->buf) - h->len)
        h_flush(h);
    if (n > sizeof(h->buf)) {
        XXH3_128bits_update_dispatch(&h->xs, s, n);
        return;
    }
    memcpy(h->buf + h->len, s, n);
    h->len += n;
}

static void h_block(struct walker *w, uint64_t index, struct block *b)
{
    h_u64(w, index);
    h_u64(w, b->cap);
    h_u64(w, b->hash.lo);
    h_u64(w, b->hash.hi);
}

cfs_hash128 cfs_fs_hash(const cfs_fs *fs)
{
    struct hasher h; /* 5 KiB of stack */
    h.w = (struct walker){.u64 = h_u64, .str = h_str, .block = h_block};
    h.len = 0;
    XXH3_128bits_reset(&h.xs);
    state_walk(fs->st, &h.w);
    h_flush(&h);
    XXH128_hash_t d = XXH3_128bits_digest(&h.xs);
    return (cfs_hash128){d.low64, d.high64};
}

/* ---- names ------------------------------------------------------------------------ */

static const char *const errno_names[] = {
    "ESUCCESS", "E2BIG", "EACCES", "EADDRINUSE", "EADDRNOTAVAIL",
    "EAFNOSUPPORT", "EAGAIN", "EALREADY", "EBADF", "EBADMSG", "EBUSY",
    "ECANCELED", "ECHILD", "ECONNABORTED", "ECONNREFUSED", "ECONNRESET",
    "EDEADLK", "EDESTADDRREQ", "EDOM", "EDQUOT", "EEXIST", "EFAULT", "EFBIG",
    "EHOSTUNREACH", "EIDRM", "EILSEQ", "EINPROGRESS", "EINTR", "EINVAL", "EIO",
    "EISCONN", "EISDIR", "ELOOP", "EMFILE", "EMLINK", "EMSGSIZE", "EMULTIHOP",
    "ENAMETOOLONG", "ENETDOWN", "ENETRESET", "ENETUNREACH", "ENFILE",
    "ENOBUFS", "ENODEV", "ENOENT", "ENOEXEC", "ENOLCK", "ENOLINK", "ENOMEM",
    "ENOMSG", "ENOPROTOOPT", "ENOSPC", "ENOSYS", "ENOTCONN", "ENOTDIR",
    "ENOTEMPTY", "ENOTRECOVERABLE", "ENOTSOCK", "ENOTSUP", "ENOTTY", "ENXIO",
    "EOVERFLOW", "EOWNERDEAD", "EPERM", "EPIPE", "EPROTO", "EPROTONOSUPPORT",
    "EPROTOTYPE", "ERANGE", "EROFS", "ESPIPE", "ESRCH", "ESTALE", "ETIMEDOUT",
    "ETXTBSY", "EXDEV", "ENOTCAPABLE",
};

const char *cfs_errno_name(cfs_errno e)
{
    return e < sizeof(errno_names) / sizeof(errno_names[0]) ? errno_names[e]
                                                            : "E?";
}

int cfs_errno_to_posix(cfs_errno e)
{
    static const int map[] = {
        0, E2BIG, EACCES, EADDRINUSE, EADDRNOTAVAIL, EAFNOSUPPORT, EAGAIN,
        EALREADY, EBADF, EBADMSG, EBUSY, ECANCELED, ECHILD, ECONNABORTED,
        ECONNREFUSED, ECONNRESET, EDEADLK, EDESTADDRREQ, EDOM, EDQUOT, EEXIST,
        EFAULT, EFBIG, EHOSTUNREACH, EIDRM, EILSEQ, EINPROGRESS, EINTR, EINVAL,
        EIO, EISCONN, EISDIR, ELOOP, EMFILE, EMLINK, EMSGSIZE, EMULTIHOP,
        ENAMETOOLONG, ENETDOWN, ENETRESET, ENETUNREACH, ENFILE, ENOBUFS,
        ENODEV, ENOENT, ENOEXEC, ENOLCK, ENOLINK, ENOMEM, ENOMSG, ENOPROTOOPT,
        ENOSPC, ENOSYS, ENOTCONN, ENOTDIR, ENOTEMPTY, ENOTRECOVERABLE,
        ENOTSOCK, ENOTSUP, ENOTTY, ENXIO, EOVERFLOW, EOWNERDEAD, EPERM, EPIPE,
        EPROTO, EPROTONOSUPPORT, EPROTOTYPE, ERANGE, EROFS, ESPIPE, ESRCH,
        ESTALE, ETIMEDOUT, ETXTBSY, EXDEV, EPERM /* ENOTCAPABLE */,
    };
    return e < sizeof(map) / sizeof(map[0]) ? map[e] : EIO;
}

const char *cfs_op_name(uint16_t op)
{
    static const char *const names[] = {
        [CFS_OP_OPEN] = "open", [CFS_OP_CLOSE] = "close", [CFS_OP_READ] = "read",
        [CFS_OP_SEEK] = "seek", [CFS_OP_WRITE] = "write",
        [CFS_OP_SET_SIZE] = "set_size", [CFS_OP_ALLOCATE] = "allocate",
        [CFS_OP_SET_TIMES] = "set_times", [CFS_OP_MKDIR] = "mkdir",
        [CFS_OP_RMDIR] = "rmdir", [CFS_OP_UNLINK] = "unlink",
        [CFS_OP_RENAME] = "rename", [CFS_OP_LINK] = "link",
        [CFS_OP_SYMLINK] = "symlink", [CFS_OP_MKNOD] = "mknod",
        [CFS_OP_CHMOD] = "chmod", [CFS_OP_CHOWN] = "chown", [CFS_OP_DUP] = "dup",
        [CFS_OP_RENUMBER] = "renumber", [CFS_OP_SET_FLAGS] = "set_flags",
        [CFS_OP_SET_RIGHTS] = "set_rights", [CFS_OP_SET_CLOEXEC] = "set_cloexec",
        [CFS_OP_CLOSE_CLOEXEC] = "close_cloexec", [CFS_OP_CLOSE_ALL] = "close_all",
        [CFS_OP_FORK] = "fork", [CFS_OP_PREOPEN] = "preopen",
        [CFS_OP_CHDIR] = "chdir", [CFS_OP_EXIT] = "exit",
        [CFS_OP_SET_BUDGET] = "set_budget",
    };
    return op <= CFS_OP_MAX_ && names[op] ? names[op] : "?";
}
