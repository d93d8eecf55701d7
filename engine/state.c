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

/* ---- the state hash ------------------------------------------------------------ */

/*
 * The canonical walk: counters; inodes in ascending number with their
 * metadata and content (blocks by index, only the bytes within the size);
 * directory entries in cookie order; processes by pid with their fd tables
 * in fd order and each fd's description. Every variable-length item is
 * length-prefixed so two different states cannot produce one byte stream.
 */
struct hasher {
    XXH3_state_t xs;
    const struct inode *in;
};

static void h_bytes(struct hasher *h, const void *p, size_t n)
{
    XXH3_128bits_update_dispatch(&h->xs, p, n);
}

static void h_u64(struct hasher *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    h_bytes(h, b, 8);
}

static void h_str(struct hasher *h, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    h_u64(h, s ? n : UINT64_MAX);
    if (n)
        h_bytes(h, s, n);
}

static void h_block(void *ctx, uint64_t index, const struct block *b)
{
    struct hasher *h = ctx;
    uint64_t start = index * CFS_BLOCK_SIZE;
    if (start >= h->in->size)
        return; /* cannot happen: blocks past the size are freed */
    uint64_t n = h->in->size - start;
    if (n > b->cap)
        n = b->cap;
    h_u64(h, index);
    h_u64(h, b->cap);
    h_bytes(h, b->data, (size_t)n);
}

cfs_hash128 cfs_fs_hash(const cfs_fs *fs)
{
    const struct state *st = fs->st;
    struct hasher h;
    XXH3_128bits_reset(&h.xs);
    h_u64(&h, st->seq);
    h_u64(&h, st->next_ino);
    h_u64(&h, st->next_ofd);
    h_u64(&h, st->next_pid);
    h_u64(&h, st->budget);
    h_u64(&h, st->used);

    /* Inode numbers come from a counter, so walking them in order needs
     * no sorting and no memory: look each one up. */
    h_u64(&h, st->icount);
    for (cfs_ino ino = CFS_INO_STDIN; ino < st->next_ino; ino++) {
        const struct inode *in = inode_get(st, ino);
        if (!in)
            continue;
        h_u64(&h, in->ino);
        h_u64(&h, in->type);
        h_u64(&h, in->mode);
        h_u64(&h, in->uid);
        h_u64(&h, in->gid);
        h_u64(&h, in->nlink);
        h_u64(&h, in->size);
        h_u64(&h, in->atim);
        h_u64(&h, in->mtim);
        h_u64(&h, in->ctim);
        h_u64(&h, in->open_refs);
        switch (in->type) {
        case CFS_FILETYPE_REGULAR_FILE:
            h.in = in;
            h_u64(&h, in->u.file.charged);
            file_visit_blocks(in, h_block, &h);
            h_u64(&h, UINT64_MAX); /* end of blocks */
            break;
        case CFS_FILETYPE_DIRECTORY:
            h_u64(&h, in->u.dir.parent);
            h_u64(&h, in->u.dir.next_cookie);
            h_u64(&h, in->u.dir.live);
            for (size_t k = 0; k < in->u.dir.n; k++) {
                const struct dirent *de = in->u.dir.ents[k];
                if (!de)
                    continue;
                h_u64(&h, de->cookie);
                h_u64(&h, de->ino);
                h_str(&h, de->name);
            }
            break;
        case CFS_FILETYPE_SYMBOLIC_LINK:
            h_str(&h, in->u.link.target);
            break;
        default:
            break;
        }
    }

    for (const struct proc *p = st->procs; p; p = p->next) {
        h_u64(&h, p->pid);
        h_str(&h, p->cwd);
        h_u64(&h, p->count);
        for (uint32_t fd = 0; fd < p->cap; fd++) {
            const struct fdent *e = p->fds[fd];
            if (!e)
                continue;
            h_u64(&h, fd);
            h_u64(&h, e->base);
            h_u64(&h, e->inheriting);
            h_u64(&h, (uint64_t)e->cloexec | (uint64_t)e->stdio << 1);
            h_str(&h, e->preopen_name);
            h_str(&h, e->preopen_path);
            h_u64(&h, e->ofd->id);
            h_u64(&h, e->ofd->inode->ino);
            h_u64(&h, e->ofd->offset);
            h_u64(&h, e->ofd->fdflags);
        }
    }
    XXH128_hash_t d = XXH3_128bits_digest(&h.xs);
    cfs_hash128 out = {d.low64, d.high64};
    return out;
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
    };
    return op <= CFS_OP_MAX_ && names[op] ? names[op] : "?";
}
