/*
 * test_hostdir.c — restoring a state as a host directory and importing a
 * host directory into an engine:
 *  - a generated host tree imported, restored and imported again gives
 *    the same state hash, and the restored tree equals the original one
 *    as the kernel's filesystem sees it (types, modes, owners, sizes,
 *    bytes, link targets, times to the ns, hard-link groups, sparseness);
 *  - FIFOs, sockets and devices imported (mknod, device numbers) and
 *    restored (devices only with CAP_MKNOD; else a clear error, or left
 *    out with skip_special);
 *  - a property test: states at sampled seqs of random journals restored
 *    (cfs_replay_restore) equal the engine's view of them;
 *  - refusals: a target that is not empty or not a directory, a missing
 *    guest path, guest symlinks aimed outside the target (nothing outside
 *    changes), a name the guest has already,
 *    the engine's byte budget, a host write that fails.
 * FUSE is not involved. The suite runs as root (uid/gid are restored);
 * what only a non-root user could test (unreadable files) is left out.
 */
#define _GNU_SOURCE
#include "replay_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define NS UINT64_C(1000000000)
#define T0 UINT64_C(1700000000000000000)

/* ---- a tree as a list of objects, from the host or from an engine ------ */

typedef struct hnode {
    char *path;          /* relative: "a/b" */
    uint32_t mode;       /* S_IF* | 07777 */
    uint32_t uid, gid;
    uint64_t size;
    uint64_t atim, mtim; /* ns */
    char *data;          /* file bytes or symlink target */
    size_t dlen;
    uint64_t key_a, key_b; /* the inode (host: dev, ino; engine: 0, ino) */
    const char *group;   /* hard links: the first path of the inode */
    uint64_t host_blocks;  /* host only: 512-byte units allocated */
    uint64_t rdev;       /* devices: the device number */
} hnode;

typedef struct htree {
    hnode *n;
    size_t count, cap;
} htree;

static hnode *ht_push(htree *t)
{
    if (t->count == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->n = realloc(t->n, t->cap * sizeof(*t->n));
        cr_assert(t->n);
    }
    hnode *h = &t->n[t->count++];
    memset(h, 0, sizeof(*h));
    return h;
}

static char *join(const char *rel, const char *name)
{
    char *p;
    cr_assert(asprintf(&p, "%s%s%s", rel, *rel ? "/" : "", name) > 0);
    return p;
}

static int node_cmp(const void *a, const void *b)
{
    return strcmp(((const hnode *)a)->path, ((const hnode *)b)->path);
}

/* Sort by path; each non-directory's group is the first path of its inode. */
static void ht_finish(htree *t)
{
    if (t->count)
        qsort(t->n, t->count, sizeof(*t->n), node_cmp);
    for (size_t i = 0; i < t->count; i++) {
        if (S_ISDIR(t->n[i].mode))
            continue;
        t->n[i].group = t->n[i].path;
        for (size_t k = 0; k < i; k++)
            if (!S_ISDIR(t->n[k].mode) && t->n[k].key_a == t->n[i].key_a &&
                t->n[k].key_b == t->n[i].key_b) {
                t->n[i].group = t->n[k].group;
                break;
            }
    }
}

static void ht_free(htree *t)
{
    for (size_t i = 0; i < t->count; i++) {
        free(t->n[i].path);
        free(t->n[i].data);
    }
    free(t->n);
    memset(t, 0, sizeof(*t));
}

static uint64_t ts_ns(struct timespec ts)
{
    return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* The host tree below dfd; each object is stat'ed before it is read (so
 * its atime is the one it had), and read with O_NOATIME. */
static void walk_host(int dfd, const char *rel, htree *t)
{
    int d2 = dup(dfd);
    DIR *d = fdopendir(d2);
    cr_assert(d, "opendir %s: %s", rel, strerror(errno));
    char **names = NULL;
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        names = realloc(names, (nn + 1) * sizeof(*names));
        names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    for (size_t i = 0; i < nn; i++) {
        const char *name = names[i];
        struct stat st;
        cr_assert_eq(fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0, "stat %s/%s: %s",
                     rel, name, strerror(errno));
        hnode *h = ht_push(t);
        h->path = join(rel, name);
        h->mode = st.st_mode;
        h->uid = st.st_uid;
        h->gid = st.st_gid;
        h->size = (uint64_t)st.st_size;
        h->atim = ts_ns(st.st_atim);
        h->mtim = ts_ns(st.st_mtim);
        h->key_a = st.st_dev;
        h->key_b = st.st_ino;
        h->host_blocks = (uint64_t)st.st_blocks;
        h->rdev = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? (uint64_t)st.st_rdev : 0;
        char *path = strdup(h->path); /* h moves when the tree grows */
        if (S_ISREG(st.st_mode)) {
            int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOATIME);
            cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
            h->data = malloc(h->size + 1);
            size_t got = 0;
            while (got < h->size) {
                ssize_t k = pread(fd, h->data + got, h->size - got, (off_t)got);
                cr_assert(k > 0, "read %s", path);
                got += (size_t)k;
            }
            h->dlen = got;
            close(fd);
        } else if (S_ISLNK(st.st_mode)) {
            h->data = malloc(CFS_PATH_MAX + 1);
            ssize_t k = readlinkat(dfd, name, h->data, CFS_PATH_MAX);
            cr_assert(k > 0);
            h->dlen = (size_t)k;
        } else if (S_ISDIR(st.st_mode)) {
            int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOATIME);
            cr_assert(sub >= 0, "open %s: %s", path, strerror(errno));
            walk_host(sub, path, t);
            close(sub);
        }
        free(path);
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
}

static void host_tree(const char *dir, htree *t)
{
    memset(t, 0, sizeof(*t));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOATIME);
    cr_assert(fd >= 0, "open %s: %s", dir, strerror(errno));
    walk_host(fd, "", t);
    close(fd);
    ht_finish(t);
}

/* The engine's tree below directory inode `dir`, by inode (no events). */
static void walk_engine(cfs_fs *fs, cfs_ino dir, const char *rel, htree *t)
{
    cfs_dirent de;
    for (uint64_t c = CFS_DIRCOOKIE_START; cfs_dir_next(fs, dir, c, &de) == 0; c = de.next) {
        if (de.name[0] == '.' && (de.name_len == 1 || (de.name_len == 2 && de.name[1] == '.')))
            continue;
        char name[CFS_NAME_MAX + 1];
        memcpy(name, de.name, de.name_len);
        name[de.name_len] = 0;
        cfs_filestat st;
        RT_OK(cfs_getattr(fs, de.ino, &st));
        hnode *h = ht_push(t);
        h->path = join(rel, name);
        h->mode = st.mode;
        h->uid = st.uid;
        h->gid = st.gid;
        h->size = st.size;
        h->atim = st.atim;
        h->mtim = st.mtim;
        h->key_b = st.ino;
        h->rdev = st.rdev;
        char *path = strdup(h->path);
        if (st.filetype == CFS_FILETYPE_REGULAR_FILE) {
            h->data = malloc(st.size + 1);
            size_t got = 0;
            RT_OK(cfs_file_pread_ino(fs, st.ino, h->data, st.size, 0, &got));
            cr_assert_eq(got, st.size);
            h->dlen = got;
        } else if (st.filetype == CFS_FILETYPE_SYMBOLIC_LINK) {
            h->data = malloc(CFS_PATH_MAX + 1);
            RT_OK(cfs_readlink_ino(fs, st.ino, h->data, CFS_PATH_MAX, &h->dlen));
        } else if (st.filetype == CFS_FILETYPE_DIRECTORY) {
            walk_engine(fs, st.ino, path, t);
        }
        free(path);
    }
}

static void engine_tree(cfs_fs *fs, const char *guest_dir, htree *t)
{
    memset(t, 0, sizeof(*t));
    cfs_filestat st;
    RT_OK(cfs_lookup_path(fs, CFS_INO_ROOT, guest_dir, CFS_LOOKUP_SYMLINK_FOLLOW, &st));
    walk_engine(fs, st.ino, "", t);
    ht_finish(t);
}

/* Equal trees, or a message naming the first difference. Symlinks'
 * permission bits (Linux has 0777 only) and atimes (any walk that reads
 * the target moves it) are not compared. */
static void ht_expect_equal(const htree *a, const char *an, const htree *b,
                            const char *bn, bool atimes, const char *ctx)
{
    size_t i = 0, k = 0;
    while (i < a->count || k < b->count) {
        int c = i == a->count ? 1 : k == b->count ? -1 : strcmp(a->n[i].path, b->n[k].path);
        cr_assert(c >= 0, "%s: %s only in %s", ctx, a->n[i].path, an);
        cr_assert(c <= 0, "%s: %s only in %s", ctx, b->n[k].path, bn);
        const hnode *x = &a->n[i++], *y = &b->n[k++];
        const char *p = x->path;
        uint32_t mask = S_ISLNK(x->mode) ? S_IFMT : (S_IFMT | 07777);
        cr_assert_eq(x->mode & mask, y->mode & mask, "%s: %s: mode %o in %s, %o in %s",
                     ctx, p, x->mode, an, y->mode, bn);
        cr_assert_eq(x->uid, y->uid, "%s: %s: uid %u / %u", ctx, p, x->uid, y->uid);
        cr_assert_eq(x->gid, y->gid, "%s: %s: gid %u / %u", ctx, p, x->gid, y->gid);
        cr_assert_eq(x->mtim, y->mtim, "%s: %s: mtime %" PRIu64 " in %s, %" PRIu64 " in %s",
                     ctx, p, x->mtim, an, y->mtim, bn);
        /* reading a symlink (readlink) moves its atime on the host */
        if (atimes && !S_ISLNK(x->mode))
            cr_assert_eq(x->atim, y->atim, "%s: %s: atime %" PRIu64 " in %s, %" PRIu64
                         " in %s", ctx, p, x->atim, an, y->atim, bn);
        if (S_ISDIR(x->mode))
            continue;
        cr_assert_eq(x->rdev, y->rdev, "%s: %s: device %#" PRIx64 " in %s, %#" PRIx64
                     " in %s", ctx, p, x->rdev, an, y->rdev, bn);
        cr_assert_eq(x->size, y->size, "%s: %s: size %" PRIu64 " in %s, %" PRIu64 " in %s",
                     ctx, p, x->size, an, y->size, bn);
        cr_assert_eq(x->dlen, y->dlen, "%s: %s: %zu bytes / %zu", ctx, p, x->dlen, y->dlen);
        cr_assert(x->dlen == 0 || memcmp(x->data, y->data, x->dlen) == 0,
                  "%s: %s: bytes differ", ctx, p);
        cr_assert_str_eq(x->group, y->group, "%s: %s: a link of %s in %s, of %s in %s",
                         ctx, p, x->group, an, y->group, bn);
    }
}

static const hnode *ht_find(const htree *t, const char *path)
{
    for (size_t i = 0; i < t->count; i++)
        if (!strcmp(t->n[i].path, path))
            return &t->n[i];
    cr_assert_fail("no %s in the tree", path);
    return NULL;
}

/* ---- a generated host tree ------------------------------------------------ */

static void put(int root, const char *path, const void *data, size_t len)
{
    int fd = openat(root, path, O_CREAT | O_EXCL | O_WRONLY, 0644);
    cr_assert(fd >= 0, "create %s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void put_random(int root, const char *path, size_t len, cfs_rng *r)
{
    char *b = malloc(len + 1);
    cfs_rng_bytes(r, b, len);
    put(root, path, b, len);
    free(b);
}

static void xmkdir(int root, const char *path)
{
    cr_assert_eq(mkdirat(root, path, 0755), 0, "mkdir %s: %s", path, strerror(errno));
}

static void xsymlink(int root, const char *target, const char *path)
{
    cr_assert_eq(symlinkat(target, root, path), 0, "symlink %s: %s", path, strerror(errno));
}

static void xlink(int root, const char *from, const char *to)
{
    cr_assert_eq(linkat(root, from, root, to, 0), 0, "link %s: %s", to, strerror(errno));
}

static void sparse(int root, const char *path, uint64_t size, const uint64_t *offs,
                   size_t n)
{
    int fd = openat(root, path, O_CREAT | O_EXCL | O_WRONLY, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, (off_t)size), 0);
    for (size_t i = 0; i < n; i++) {
        char b[100];
        memset(b, (int)('A' + i), sizeof(b));
        size_t len = offs[i] + sizeof(b) > size ? (size_t)(size - offs[i]) : sizeof(b);
        cr_assert_eq(pwrite(fd, b, len, (off_t)offs[i]), (ssize_t)len);
    }
    close(fd);
}

/* Times for every object, distinct, with nanoseconds; directories after
 * their entries (post-order), symlinks themselves. */
static void set_times(int dfd, uint64_t *counter)
{
    int d2 = dup(dfd);
    DIR *d = fdopendir(d2);
    cr_assert(d);
    struct dirent *de;
    char **names = NULL;
    size_t nn = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        names = realloc(names, (nn + 1) * sizeof(*names));
        names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    for (size_t i = 0; i < nn; i++) {
        struct stat st;
        cr_assert_eq(fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW), 0);
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
            cr_assert(sub >= 0);
            set_times(sub, counter);
            close(sub);
        }
        uint64_t c = ++*counter;
        struct timespec ts[2] = {
            {.tv_sec = 1500000000 + (time_t)(c * 3607), .tv_nsec = (long)((c * 7919 + 13) % NS)},
            {.tv_sec = 1400000000 + (time_t)(c * 86413), .tv_nsec = (long)((c * 104729 + 7) % NS)},
        };
        cr_assert_eq(utimensat(dfd, names[i], ts, AT_SYMLINK_NOFOLLOW), 0, "%s: %s",
                     names[i], strerror(errno));
        free(names[i]);
    }
    free(names);
}

/* Files of many sizes (empty, one byte, block edges, big, sparse with holes
 * at the start, middle and end, all-hole, written zeros), nested and empty
 * directories, odd names, symlinks (relative, dangling, absolute, to a
 * directory, upwards, hard-linked), hard links across directories, odd
 * modes (set-id, sticky, 0000, read-only directory), owners, times. */
static void gen_tree(const char *dir)
{
    int root = open(dir, O_RDONLY | O_DIRECTORY);
    cr_assert(root >= 0);
    cfs_rng r;
    cfs_rng_seed(&r, 0x7eed);
    put(root, "empty", "", 0);
    put(root, "one", "1", 1);
    put(root, "small.txt", "hello, restored world\n", 22);
    put_random(root, "page", 4096, &r);
    put_random(root, "block", CFS_BLOCK_SIZE, &r);
    put_random(root, "block+1", CFS_BLOCK_SIZE + 1, &r);
    put_random(root, "big", 300000, &r);
    uint64_t o1[] = {3 * 1048576 + 5, 10 * 1048576 - 60};
    sparse(root, "sparse", 10 * 1048576, o1, 2);
    uint64_t o2[] = {5 * 1048576};
    sparse(root, "sparse_tail_data", 5 * 1048576 + 3, o2, 1);
    sparse(root, "all_hole", 1048576 + 7, NULL, 0);
    uint64_t o3[] = {0, 2 * CFS_BLOCK_SIZE + 1};
    sparse(root, "holes_between", 4 * CFS_BLOCK_SIZE + 100, o3, 2);
    char *z = calloc(1, 200000);
    put(root, "zeros", z, 200000);
    free(z);
    {
        char *m = malloc(3 * CFS_BLOCK_SIZE);
        cfs_rng_bytes(&r, m, 3 * CFS_BLOCK_SIZE);
        memset(m + CFS_BLOCK_SIZE, 0, CFS_BLOCK_SIZE);
        put(root, "mixed", m, 3 * CFS_BLOCK_SIZE - 5);
        free(m);
    }
    xmkdir(root, "a");
    xmkdir(root, "a/b");
    xmkdir(root, "a/b/c");
    put(root, "a/b/c/deep.txt", "deep", 4);
    xmkdir(root, "empty_dir");
    put(root, "with space", "s", 1);
    put(root, "\xc3\xbc" "n\xc3\xaf" "c\xc3\xb6" "de", "u", 1);
    put(root, "-dash", "d", 1);
    put(root, "tab\there", "t", 1);
    put(root, "Z_upper", "Z", 1);
    char longname[256];
    memset(longname, 'L', 255);
    longname[255] = 0;
    put(root, longname, "long", 4);

    xsymlink(root, "small.txt", "rel_link");
    xsymlink(root, "no/such/file", "dangling");
    xsymlink(root, "/etc/passwd", "abs_link");
    xsymlink(root, "a/b", "dir_link");
    xsymlink(root, "../../..", "up_link");
    xsymlink(root, "../../big", "a/b/back");
    xlink(root, "rel_link", "a/rel_link_hard");   /* a symlink with two names */

    put(root, "h1", "hard linked", 11);
    xlink(root, "h1", "a/h2");
    xlink(root, "h1", "a/b/h3");
    xlink(root, "sparse", "a/b/c/sparse_link");

    put(root, "mode0000", "m", 1);
    cr_assert_eq(fchmodat(root, "mode0000", 0, 0), 0);
    put(root, "suid", "#!/bin/sh\n", 10);
    cr_assert_eq(fchmodat(root, "suid", 04755, 0), 0);
    put(root, "sgid", "g", 1);
    cr_assert_eq(fchmodat(root, "sgid", 02711, 0), 0);
    put(root, "odd", "o", 1);
    cr_assert_eq(fchmodat(root, "odd", 0421, 0), 0);
    xmkdir(root, "sticky");
    put(root, "sticky/in", "i", 1);
    cr_assert_eq(fchmodat(root, "sticky", 01777, 0), 0);
    xmkdir(root, "sgid_dir");
    cr_assert_eq(fchmodat(root, "sgid_dir", 02775, 0), 0);
    xmkdir(root, "ro_dir");
    put(root, "ro_dir/inside", "ro", 2);
    cr_assert_eq(fchmodat(root, "ro_dir", 0555, 0), 0);
    xmkdir(root, "closed_dir");
    put(root, "closed_dir/secret", "s", 1);
    cr_assert_eq(fchmodat(root, "closed_dir", 0, 0), 0);

    put(root, "owned", "own", 3);
    cr_assert_eq(fchownat(root, "owned", 1234, 5678, 0), 0);
    cr_assert_eq(fchownat(root, "a/b", 42, 43, 0), 0);
    cr_assert_eq(fchownat(root, "dangling", 7, 8, AT_SYMLINK_NOFOLLOW), 0);
    cr_assert_eq(fchownat(root, "suid", 99, 98, 0), 0);
    cr_assert_eq(fchmodat(root, "suid", 04755, 0), 0); /* chown cleared it */

    uint64_t counter = 0;
    set_times(root, &counter);
    struct timespec ts[2] = {{.tv_sec = 1234567890, .tv_nsec = 123456789},
                             {.tv_sec = 1234567891, .tv_nsec = 987654321}};
    cr_assert_eq(futimens(root, ts), 0);
    close(root);
}

static cfs_fs *fresh_engine(cfs_time *clock)
{
    *clock = T0;
    cfs_config cfg = {.clock = cfs_workload_clock, .clock_ctx = clock};
    cfs_fs *fs = cfs_fs_new(&cfg);
    cr_assert(fs);
    return fs;
}

static void import_ok(cfs_fs *fs, const char *host, const char *guest,
                      cfs_import_report *rep)
{
    cfs_import_opts o = {.owners = CFS_OWNERS_KEEP};
    char err[512] = "";
    int rc = cfs_import_dir(fs, host, guest, &o, rep, err, sizeof(err));
    cr_assert_eq(rc, 0, "import %s: %s: %s", host, cfs_strerror(rc), err);
}

static void restore_ok(cfs_fs *fs, const char *guest, const char *host,
                       unsigned threads, cfs_restore_report *rep)
{
    cfs_restore_opts o = {.threads = threads};
    char err[512] = "";
    int rc = cfs_restore_dir(fs, guest, host, &o, rep, err, sizeof(err));
    cr_assert_eq(rc, 0, "restore %s: %s: %s", host, cfs_strerror(rc), err);
}

static char *path_in(const char *dir, const char *name)
{
    char *p;
    cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

/* ---- restore then re-import ------------------------------------------------- */

struct progress {
    unsigned calls;
    cfs_hostdir_report last;
};

static void on_progress(void *ctx, const cfs_hostdir_report *r)
{
    struct progress *p = ctx;
    cr_assert_geq(r->files, p->last.files, "progress went back");
    p->calls++;
    p->last = *r;
}

Test(hostdir, restore_then_reimport_gives_the_same_state)
{
    char *base = rt_tmpdir();
    char *orig = path_in(base, "orig");
    char *dst = path_in(base, "restored");
    cr_assert_eq(mkdir(orig, 0755), 0);
    gen_tree(orig);

    cfs_time ca, cb, cc;
    cfs_fs *a = fresh_engine(&ca);
    cfs_import_report ir;
    import_ok(a, orig, "/", &ir);
    cr_assert_eq(ir.files, 29, "files %" PRIu64, ir.files);
    cr_assert_eq(ir.dirs, 8, "dirs %" PRIu64, ir.dirs);
    cr_assert_eq(ir.symlinks, 6, "symlinks %" PRIu64, ir.symlinks);
    cr_assert_eq(ir.links, 4, "links %" PRIu64, ir.links);
    cr_assert_eq(ir.skipped, 0);

    /* importing is deterministic; progress ends with the final counts */
    cfs_fs *c = fresh_engine(&cc);
    struct progress pr = {0};
    cfs_import_opts po = {.owners = CFS_OWNERS_KEEP, .progress = on_progress,
                          .progress_ctx = &pr};
    char perr[256] = "";
    cr_assert_eq(cfs_import_dir(c, orig, "/", &po, NULL, perr, sizeof(perr)), 0, "%s", perr);
    cr_assert_geq(pr.calls, 1);
    cr_assert(memcmp(&pr.last, &ir, sizeof(ir)) == 0, "progress ended at other counts");
    htree ta, tc;
    engine_tree(a, "/", &ta);
    engine_tree(c, "/", &tc);
    ht_expect_equal(&ta, "first import", &tc, "second import", true, "imports");
    ht_free(&ta);
    ht_free(&tc);
    cr_assert_eq(cfs_fs_seq(a), cfs_fs_seq(c));
    cr_assert(rt_hash_eq(cfs_fs_hash(a), cfs_fs_hash(c)), "two imports of one tree differ");
    cfs_fs_free(c);

    cfs_restore_report rr;
    restore_ok(a, "/", dst, 0, &rr);
    cr_assert_eq(rr.files, ir.files);
    cr_assert_eq(rr.dirs, ir.dirs);
    cr_assert_eq(rr.symlinks, ir.symlinks);
    cr_assert_eq(rr.links, ir.links);
    cr_assert_eq(rr.bytes, ir.bytes);

    cfs_fs *b = fresh_engine(&cb);
    import_ok(b, dst, "/", NULL);
    cr_assert_eq(cfs_fs_seq(a), cfs_fs_seq(b));
    cr_assert(rt_hash_eq(cfs_fs_hash(a), cfs_fs_hash(b)),
              "the restored tree imports to another state");

    /* the kernel's view: the restored tree is the original one */
    htree ho, hd, ea;
    host_tree(orig, &ho);
    host_tree(dst, &hd);
    engine_tree(a, "/", &ea);
    ht_expect_equal(&ho, "original", &hd, "restored", true, "host trees");
    ht_expect_equal(&ea, "engine", &hd, "restored", true, "engine vs restored");
    /* ... and holes stayed holes */
    cr_assert_lt(ht_find(&hd, "sparse")->host_blocks * 512, 1048576,
                 "the sparse file was filled in");
    cr_assert_eq(ht_find(&hd, "all_hole")->host_blocks, 0);
    cr_assert_lt(ht_find(&hd, "holes_between")->host_blocks * 512, 3 * CFS_BLOCK_SIZE);
    cr_assert_str_eq(ht_find(&hd, "a/b/h3")->group, "a/b/h3");
    cr_assert_str_eq(ht_find(&hd, "h1")->group, "a/b/h3");
    cr_assert_str_eq(ht_find(&hd, "rel_link")->group, "a/rel_link_hard");
    /* the top directory's metadata went to the target */
    struct stat st;
    cr_assert_eq(stat(dst, &st), 0);
    cr_assert_eq(st.st_mtim.tv_sec, 1234567891);
    cr_assert_eq(st.st_mtim.tv_nsec, 987654321);

    ht_free(&ho);
    ht_free(&hd);
    ht_free(&ea);
    cfs_fs_free(a);
    cfs_fs_free(b);
    rt_rmtree(base);
    free(orig);
    free(dst);
    free(base);
}

/* A subtree: imported at /data/in, restored from there, with threads. */
Test(hostdir, subtree_and_threads)
{
    char *base = rt_tmpdir();
    char *orig = path_in(base, "orig");
    cr_assert_eq(mkdir(orig, 0755), 0);
    gen_tree(orig);
    cfs_time ck;
    cfs_fs *fs = fresh_engine(&ck);
    RT_OK(cfs_path_create_directory(fs, CFS_ROOT_FD, "data"));
    import_ok(fs, orig, "/data/in/", NULL);
    htree ho;
    host_tree(orig, &ho);
    for (unsigned threads = 1; threads <= 4; threads++) {
        char name[32];
        snprintf(name, sizeof(name), "out%u", threads);
        char *dst = path_in(base, name);
        /* an existing empty directory is fine too */
        if (threads % 2)
            cr_assert_eq(mkdir(dst, 0700), 0);
        /* a umask that takes bits: the restore puts them back */
        mode_t old_mask = umask(threads == 3 ? 0077 : 0022);
        restore_ok(fs, "/data/in", dst, threads, NULL);
        umask(old_mask);
        htree hd;
        host_tree(dst, &hd);
        ht_expect_equal(&ho, "original", &hd, "restored", true, name);
        ht_free(&hd);
        free(dst);
    }
    ht_free(&ho);
    cfs_fs_free(fs);
    rt_rmtree(base);
    free(orig);
    free(base);
}

/* ---- property: restored states equal the engine's view -------------------- */

Test(hostdir, restored_states_match_the_engine, .timeout = 600)
{
    static const uint64_t defaults[] = {0x4057d1, 0xbeef02, 0x1234503};
    uint64_t seeds[3];
    size_t ns = cfs_test_seeds(defaults, 3, seeds);
    char *out = rt_tmpdir();
    for (size_t s = 0; s < ns; s++) {
        fprintf(stderr, "hostdir.restored_states_match_the_engine: seed 0x%" PRIx64
                " (CFS_TEST_SEED to replay)\n", seeds[s]);
        cfs_rng rng;
        cfs_rng_seed(&rng, seeds[s]);
        rt_world w;
        rt_begin(&w, 64);
        /* a snapshot halfway: later seqs restore from its image */
        rt_workload(&w, &rng, 750, 100000);
        int src = cfs_journal_snapshot(w.j, w.fs, "half", "explicit", 0, NULL);
        cr_assert_eq(src, 0, "snapshot: %s", cfs_journal_errmsg(w.j));
        rt_workload(&w, &rng, 750, 100000);
        uint64_t last = cfs_fs_seq(w.fs);
        rt_reopen_ro(&w);
        for (int k = 0; k <= 6; k++) {
            uint64_t seq = k == 6 ? last : cfs_rng_below(&rng, last + 1);
            char name[64];
            snprintf(name, sizeof(name), "%s/s%zu-%d", out, s, k);
            cfs_restore_opts o = {.threads = (unsigned)(k % 3) + 1};
            cfs_restore_report rep;
            char err[512] = "";
            int rc = cfs_replay_restore(w.j, seq, name, &o, &rep, err, sizeof(err));
            cr_assert_eq(rc, 0, "seed 0x%" PRIx64 " seq %" PRIu64 ": %s: %s", seeds[s],
                         seq, cfs_strerror(rc), err);
            cfs_fs *fs;
            rc = cfs_replay_state_at(w.j, seq, NULL, &fs, err, sizeof(err));
            cr_assert_eq(rc, 0, "%s", err);
            htree he, hh;
            engine_tree(fs, "/", &he);
            host_tree(name, &hh);
            char ctx[128];
            snprintf(ctx, sizeof(ctx), "seed 0x%" PRIx64 " seq %" PRIu64, seeds[s], seq);
            ht_expect_equal(&he, "engine", &hh, "restored", true, ctx);
            cr_assert_eq(rep.files + rep.symlinks + rep.links + rep.dirs, he.count, "%s", ctx);
            ht_free(&he);
            ht_free(&hh);
            cfs_fs_free(fs);
            rt_rmtree(name);
        }
        rt_end(&w);
    }
    rt_rmtree(out);
    free(out);
}

/* ---- refusals ------------------------------------------------------------------ */

static int restore_err(cfs_fs *fs, const char *guest, const char *host, char *err,
                       size_t cap)
{
    err[0] = 0;
    return cfs_restore_dir(fs, guest, host, NULL, NULL, err, cap);
}

/* A file with two names deep in a tree, its first name's path longer
 * than PATH_MAX (one system call's limit, which a tree's depth is not):
 * the restore makes the second name a link to the first all the same. */
Test(hostdir, a_hard_link_deeper_than_path_max_is_restored)
{
    cfs_time clock;
    cfs_fs *fs = fresh_engine(&clock);
    char comp[251];
    memset(comp, 'd', 250);
    comp[250] = 0;
    cfs_fd dir = CFS_ROOT_FD;
    cfs_fdstat rs;
    cr_assert_eq(cfs_fd_fdstat_get(fs, CFS_ROOT_FD, &rs), 0);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(cfs_path_create_directory(fs, dir, comp), 0);
        cfs_fd sub;
        cfs_rights no_write = ~(CFS_RIGHT_FD_DATASYNC | CFS_RIGHT_FD_WRITE |
                                CFS_RIGHT_FD_ALLOCATE | CFS_RIGHT_FD_FILESTAT_SET_SIZE);
        cfs_errno e = cfs_path_open(fs, dir, 0, comp, CFS_O_DIRECTORY,
                                    rs.rights_inheriting & no_write, rs.rights_inheriting, 0,
                                    &sub);
        cr_assert_eq(e, 0, "level %d: %s", i, cfs_errno_name(e));
        if (dir != CFS_ROOT_FD)
            cr_assert_eq(cfs_fd_close(fs, dir), 0);
        dir = sub;
    }
    cfs_fd f;
    size_t n;
    cr_assert_eq(cfs_path_open(fs, dir, 0, "f", CFS_O_CREAT, CFS_RIGHTS_ALL, CFS_RIGHTS_ALL,
                               0, &f), 0);
    cr_assert_eq(cfs_fd_write(fs, f, "x", 1, &n), 0);
    cr_assert_eq(cfs_fd_close(fs, f), 0);
    cr_assert_eq(cfs_path_link(fs, dir, 0, "f", dir, "g"), 0);
    cr_assert_eq(cfs_path_link(fs, dir, 0, "f", CFS_ROOT_FD, "top"), 0);
    cr_assert_eq(cfs_fd_close(fs, dir), 0);

    char *host = cfs_test_tmpdir("cfs-hostdir"), *out = path_in(host, "out");
    cfs_restore_report rep;
    restore_ok(fs, "/", out, 1, &rep);
    cr_assert_eq(rep.links, 2, "%" PRIu64 " links made", rep.links);
    int d = open(out, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(d, 0);
    for (int i = 0; i < 20; i++) {
        int sub = openat(d, comp, O_RDONLY | O_DIRECTORY);
        cr_assert_geq(sub, 0, "level %d: %s", i, strerror(errno));
        close(d);
        d = sub;
    }
    struct stat a, b, c;
    cr_assert_eq(fstatat(d, "f", &a, 0), 0);
    cr_assert_eq(fstatat(d, "g", &b, 0), 0);
    close(d);
    char *top = path_in(out, "top");
    cr_assert_eq(stat(top, &c), 0);
    free(top);
    cr_assert(a.st_ino == b.st_ino && a.st_ino == c.st_ino && a.st_nlink == 3,
              "three names of one file");
    cfs_fs_free(fs);
    cfs_test_rmtree(host);
    free(host);
    free(out);
}

Test(hostdir, restore_refuses_a_bad_target_or_guest_path)
{
    char *base = rt_tmpdir();
    cfs_time ck;
    cfs_fs *fs = fresh_engine(&ck);
    cfs_fd fd = rt_open(fs, "f", CFS_O_CREAT);
    rt_write(fs, fd, "guest");
    char err[512];

    char *full = path_in(base, "full");
    cr_assert_eq(mkdir(full, 0755), 0);
    char *keep = path_in(full, "keep");
    cr_assert_eq(close(open(keep, O_CREAT | O_WRONLY, 0644)), 0);
    int rc = restore_err(fs, "/", full, err, sizeof(err));
    cr_assert_eq(rc, CFS_JE_INVAL, "%s", cfs_strerror(rc));
    cr_assert(strstr(err, full) && strstr(err, "not empty"), "message: %s", err);
    struct stat st;
    cr_assert_eq(stat(keep, &st), 0);
    cr_assert_eq(st.st_size, 0, "the target's file was touched");
    char *f = path_in(full, "f");
    cr_assert_neq(stat(f, &st), 0, "restored into a non-empty target");

    rc = restore_err(fs, "/", keep, err, sizeof(err));
    cr_assert_eq(rc, CFS_JE_INVAL);
    cr_assert(strstr(err, keep) && strstr(err, "not a directory"), "message: %s", err);

    char *nop = path_in(base, "no/parent");
    rc = restore_err(fs, "/", nop, err, sizeof(err));
    cr_assert_eq(rc, CFS_JE_IO);
    cr_assert(strstr(err, nop) && strstr(err, "No such file"), "message: %s", err);

    char *out = path_in(base, "out");
    rc = restore_err(fs, "/missing", out, err, sizeof(err));
    cr_assert_eq(rc, CFS_JE_NOTFOUND);
    cr_assert(strstr(err, "/missing"), "message: %s", err);
    rc = restore_err(fs, "/f", out, err, sizeof(err));
    cr_assert_eq(rc, CFS_JE_INVAL);
    cr_assert(strstr(err, "/f") && strstr(err, "not a directory"), "message: %s", err);
    rc = restore_err(fs, "f", out, err, sizeof(err));
    cr_assert_eq(rc, CFS_JE_INVAL, "a relative guest path");
    cr_assert_neq(stat(out, &st), 0, "a refused restore made its target");

    cfs_fs_free(fs);
    rt_rmtree(base);
    free(full);
    free(keep);
    free(f);
    free(nop);
    free(out);
    free(base);
}

/* Guest symlinks aimed outside the target (absolute, upwards, at the host's
 * own path of a directory, hard-linked) are made as symlinks; nothing is
 * made through them and nothing outside the target changes. */
Test(hostdir, restore_never_writes_outside_the_target)
{
    char *base = rt_tmpdir();
    char *outside = path_in(base, "outside");
    cr_assert_eq(mkdir(outside, 0755), 0);
    char *victim = path_in(outside, "victim");
    int vfd = open(victim, O_CREAT | O_WRONLY, 0644);
    cr_assert_eq(write(vfd, "original", 8), 8);
    close(vfd);
    htree before;
    host_tree(base, &before);

    cfs_time ck;
    cfs_fs *fs = fresh_engine(&ck);
    /* the guest has the host's path of `outside` as a directory of its
     * own, and symlinks pointing there and upwards */
    char gpath[4200];
    snprintf(gpath, sizeof(gpath), "%s", outside);
    for (char *p = gpath + 1; (p = strchr(p, '/')); p++) {
        *p = 0;
        cfs_path_create_directory(fs, CFS_ROOT_FD, gpath);
        *p = '/';
    }
    RT_OK(cfs_path_create_directory(fs, CFS_ROOT_FD, gpath));
    RT_OK(cfs_path_symlink(fs, outside, CFS_ROOT_FD, "abs"));
    RT_OK(cfs_path_symlink(fs, "../../../../../../../../..", CFS_ROOT_FD, "up"));
    char rel[4300];
    snprintf(rel, sizeof(rel), "../../../../../../../..%s", outside);
    RT_OK(cfs_path_symlink(fs, rel, CFS_ROOT_FD, "up_outside"));
    RT_OK(cfs_path_symlink(fs, "..", CFS_ROOT_FD, "dotdot"));
    RT_OK(cfs_path_create_directory(fs, CFS_ROOT_FD, "sub"));
    RT_OK(cfs_path_symlink(fs, "../..", CFS_ROOT_FD, "sub/back"));
    RT_OK(cfs_path_link(fs, CFS_ROOT_FD, 0, "abs", CFS_ROOT_FD, "sub/abs_hard"));
    /* files written through the symlinks land in the guest's own dirs */
    cfs_fd fd = rt_open(fs, "abs/victim", CFS_O_CREAT);
    rt_write(fs, fd, "guest bytes");
    fd = rt_open(fs, "up_outside/new_file", CFS_O_CREAT);
    rt_write(fs, fd, "more");

    char *dst = path_in(base, "target");
    restore_ok(fs, "/", dst, 2, NULL);
    htree after;
    host_tree(base, &after);
    /* everything outside the target is as it was */
    htree outside_after = {0};
    for (size_t i = 0; i < after.count; i++)
        if (strncmp(after.n[i].path, "target", 6) != 0) {
            hnode *h = ht_push(&outside_after);
            *h = after.n[i];
            h->path = strdup(after.n[i].path);
            h->data = after.n[i].data ? malloc(after.n[i].dlen + 1) : NULL;
            if (h->data)
                memcpy(h->data, after.n[i].data, after.n[i].dlen);
        }
    ht_finish(&outside_after);
    ht_expect_equal(&before, "before", &outside_after, "after", true, "outside the target");
    /* and the target holds the guest's view */
    htree he, hd;
    engine_tree(fs, "/", &he);
    host_tree(dst, &hd);
    ht_expect_equal(&he, "engine", &hd, "restored", true, "target");
    char *abs = path_in(dst, "abs");
    struct stat st;
    cr_assert_eq(lstat(abs, &st), 0);
    cr_assert(S_ISLNK(st.st_mode));

    ht_free(&before);
    ht_free(&after);
    ht_free(&outside_after);
    ht_free(&he);
    ht_free(&hd);
    cfs_fs_free(fs);
    rt_rmtree(base);
    free(abs);
    free(dst);
    free(victim);
    free(outside);
    free(base);
}

/* A host write that fails is reported with the guest path and the call;
 * what was made stays. (RLIMIT_FSIZE makes writes past 1 MiB fail.) */
Test(hostdir, restore_reports_a_failed_write)
{
    char *base = rt_tmpdir();
    cfs_time ck;
    cfs_fs *fs = fresh_engine(&ck);
    RT_OK(cfs_path_create_directory(fs, CFS_ROOT_FD, "data"));
    cfs_fd fd = rt_open(fs, "data/small", CFS_O_CREAT);
    rt_write(fs, fd, "fits");
    fd = rt_open(fs, "data/big", CFS_O_CREAT);
    char *buf = malloc(3 << 20);
    memset(buf, 'b', 3 << 20);
    rt_pwrite(fs, fd, buf, 3 << 20, 0);
    free(buf);
    for (unsigned threads = 1; threads <= 2; threads++) {
        char name[16];
        snprintf(name, sizeof(name), "t%u", threads);
        char *dst = path_in(base, name);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit old, lim = {.rlim_cur = 1 << 20, .rlim_max = RLIM_INFINITY};
        cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
        lim.rlim_max = old.rlim_max;
        cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
        cfs_restore_opts o = {.threads = threads};
        cfs_restore_report rep;
        char err[512] = "";
        int rc = cfs_restore_dir(fs, "/", dst, &o, &rep, err, sizeof(err));
        setrlimit(RLIMIT_FSIZE, &old);
        cr_assert_eq(rc, CFS_JE_IO, "%s: %s", cfs_strerror(rc), err);
        cr_assert_str_eq(err, "restore: /data/big: write: File too large");
        /* what was made before stays */
        char *small = path_in(dst, "data/small");
        struct stat st;
        cr_assert_eq(stat(small, &st), 0);
        free(small);
        free(dst);
    }
    cfs_fs_free(fs);
    rt_rmtree(base);
    free(base);
}

static int import_err(cfs_fs *fs, const char *host, const char *guest,
                      const cfs_import_opts *o, cfs_import_report *rep, char *err,
                      size_t cap)
{
    err[0] = 0;
    return cfs_import_dir(fs, host, guest, o, rep, err, cap);
}

Test(hostdir, import_refuses_what_the_engine_cannot_hold)
{
    char *base = rt_tmpdir();
    char *src = path_in(base, "src");
    cr_assert_eq(mkdir(src, 0755), 0);
    int root = open(src, O_RDONLY | O_DIRECTORY);
    put(root, "a_file", "x", 1);
    cr_assert_eq(mkfifoat(root, "fifo", 0644), 0);
    close(root);
    char err[512];
    cfs_import_report rep;

    cfs_time ck;
    cfs_fs *fs = fresh_engine(&ck);
    /* a FIFO is recorded (a metadata-only inode), or left out on request */
    int rc = import_err(fs, src, "/", NULL, &rep, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(rep.specials, 1);
    cfs_filestat fst;
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/fifo", 0, &fst), 0);
    cr_assert_eq(fst.filetype, CFS_FILETYPE_FIFO);
    cfs_fs_free(fs);

    fs = fresh_engine(&ck);
    cfs_import_opts skip = {.skip_special = 1};
    rc = import_err(fs, src, "/", &skip, &rep, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(rep.skipped, 1);
    cr_assert_eq(rep.files, 1);
    cfs_filestat st;
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/fifo", 0, &st), CFS_ENOENT);
    /* a second import meets the names it made: refused, named */
    rc = import_err(fs, src, "/", &skip, &rep, err, sizeof(err));
    cr_assert_eq(rc, CFS_JE_INVAL);
    cr_assert(strstr(err, "/a_file") && strstr(err, "exists in the guest"), "message: %s", err);
    /* a guest path that is a file */
    rc = import_err(fs, src, "/a_file", &skip, &rep, err, sizeof(err));
    cr_assert_eq(rc, CFS_JE_INVAL);
    cr_assert(strstr(err, "/a_file") && strstr(err, "not a directory"), "message: %s", err);
    rc = import_err(fs, src, "rel", &skip, &rep, err, sizeof(err));
    cr_assert_eq(rc, CFS_JE_INVAL);
    /* a host path that is a file, or nothing */
    char *af = path_in(src, "a_file");
    rc = import_err(fs, af, "/x", &skip, &rep, err, sizeof(err));
    cr_assert_eq(rc, CFS_JE_INVAL);
    cr_assert(strstr(err, "not a directory"), "message: %s", err);
    char *none = path_in(base, "none");
    rc = import_err(fs, none, "/x", &skip, &rep, err, sizeof(err));
    cr_assert_eq(rc, CFS_JE_IO);
    cr_assert(strstr(err, none) && strstr(err, "No such file"), "message: %s", err);
    cfs_fs_free(fs);

    /* a live socket is recorded as a socket file, never connected to */
    char *src2 = path_in(base, "src2");
    cr_assert_eq(mkdir(src2, 0755), 0);
    int sk = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", src2);
    cr_assert_eq(bind(sk, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind: %s", strerror(errno));
    fs = fresh_engine(&ck);
    rc = import_err(fs, src2, "/", NULL, &rep, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(rep.specials, 1);
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/sock", 0, &fst), 0);
    cr_assert_eq(fst.filetype, CFS_FILETYPE_SOCKET_STREAM);
    close(sk);
    cfs_fs_free(fs);

    rt_rmtree(base);
    free(src);
    free(src2);
    free(af);
    free(none);
    free(base);
}

/* Host symlinks are recorded as symlinks, never followed out of the tree. */
/* Restore `fs` as uid/gid 65534 (no CAP_MKNOD) into `dst` (made here,
 * owned by that user): the restore's code, its report in *rep. */
static int restore_unprivileged(cfs_fs *fs, const char *dst, int skip_special,
                                cfs_restore_report *rep, char *err, size_t cap)
{
    cr_assert_eq(mkdir(dst, 0755), 0);
    cr_assert_eq(chown(dst, 65534, 65534), 0);
    struct {
        int rc;
        cfs_restore_report rep;
        char err[256];
    } *out = mmap(NULL, sizeof(*out), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                  -1, 0);
    cr_assert(out != MAP_FAILED);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
            setresuid(65534, 65534, 65534))
            _exit(1);
        cfs_restore_opts o = {.skip_special = skip_special, .threads = 1};
        out->rc = cfs_restore_dir(fs, "/", dst, &o, &out->rep, out->err, sizeof(out->err));
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the unprivileged child failed");
    int rc = out->rc;
    *rep = out->rep;
    snprintf(err, cap, "%s", out->err);
    munmap(out, sizeof(*out));
    return rc;
}

Test(hostdir, fifos_sockets_and_devices_round_trip)
{
    char *base = rt_tmpdir();
    cr_assert_eq(chmod(base, 0755), 0); /* the unprivileged restore reaches it */
    char *orig = path_in(base, "orig");
    char *dst = path_in(base, "restored");
    cr_assert_eq(mkdir(orig, 0755), 0);
    int root = open(orig, O_RDONLY | O_DIRECTORY);
    cr_assert_eq(mkfifoat(root, "fifo", 0640), 0);
    cr_assert_eq(mknodat(root, "sock", S_IFSOCK | 0600, 0), 0);
    cr_assert_eq(mknodat(root, "null", S_IFCHR | 0666, makedev(1, 3)), 0, "%s",
                 strerror(errno));
    cr_assert_eq(mknodat(root, "loop", S_IFBLK | 04660, makedev(7, 300)), 0);
    cr_assert_eq(fchmodat(root, "loop", 04660, 0), 0);
    xmkdir(root, "d");
    xlink(root, "fifo", "d/fifo.link");
    xlink(root, "null", "d/null.link");
    cr_assert_eq(fchownat(root, "sock", 1234, 5678, AT_SYMLINK_NOFOLLOW), 0);
    const char *names[] = {"fifo", "sock", "null", "loop"};
    for (int i = 0; i < 4; i++) {
        struct timespec ts[2] = {{1600000000 + i, 111 * i}, {1500000000 + i, 222 * i}};
        cr_assert_eq(utimensat(root, names[i], ts, AT_SYMLINK_NOFOLLOW), 0);
    }
    close(root);

    cfs_time ca, cb;
    cfs_fs *a = fresh_engine(&ca);
    cfs_import_report ir;
    import_ok(a, orig, "/", &ir);
    cr_assert_eq(ir.specials, 4, "specials %" PRIu64, ir.specials);
    cr_assert_eq(ir.links, 2);
    cr_assert_eq(ir.skipped, 0);
    cfs_filestat st;
    RT_OK(cfs_lookup_path(a, CFS_INO_ROOT, "/d/null.link", 0, &st));
    cr_assert_eq(st.filetype, CFS_FILETYPE_CHARACTER_DEVICE);
    cr_assert_eq(st.rdev, makedev(1, 3));
    cr_assert_eq(st.nlink, 2);
    RT_OK(cfs_lookup_path(a, CFS_INO_ROOT, "/sock", 0, &st));
    cr_assert_eq(st.filetype, CFS_FILETYPE_SOCKET_STREAM);

    /* host -> engine -> host -> engine: one tree, one state */
    htree ho, hd, ea;
    host_tree(orig, &ho);
    engine_tree(a, "/", &ea);
    ht_expect_equal(&ho, "original", &ea, "engine", true, "import");
    cfs_restore_report rr;
    restore_ok(a, "/", dst, 0, &rr);
    cr_assert_eq(rr.specials, 4);
    cr_assert_eq(rr.links, 2);
    host_tree(dst, &hd);
    ht_expect_equal(&ho, "original", &hd, "restored", true, "restore");
    cr_assert_str_eq(ht_find(&hd, "null")->group, "d/null.link");
    cfs_fs *b = fresh_engine(&cb);
    import_ok(b, dst, "/", NULL);
    cr_assert(rt_hash_eq(cfs_fs_hash(a), cfs_fs_hash(b)),
              "the restored tree imports to another state");

    /* without CAP_MKNOD: devices are an error that says why, or left out */
    char err[256];
    char *dst2 = path_in(base, "unpriv");
    int rc = restore_unprivileged(a, dst2, 0, &rr, err, sizeof err);
    cr_assert_eq(rc, CFS_JE_INVAL, "%s: %s", cfs_strerror(rc), err);
    cr_assert(strstr(err, "/d/null.link") && strstr(err, "character device") &&
                  strstr(err, "CAP_MKNOD"),
              "message: %s", err);
    char *dst3 = path_in(base, "unpriv-skip");
    rc = restore_unprivileged(a, dst3, 1, &rr, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(rr.skipped, 3, "null, d/null.link and loop: %" PRIu64, rr.skipped);
    cr_assert_eq(rr.specials, 2, "the FIFO and the socket");
    struct stat hs;
    char *p = path_in(dst3, "fifo");
    cr_assert_eq(lstat(p, &hs), 0);
    cr_assert(S_ISFIFO(hs.st_mode));
    free(p);
    p = path_in(dst3, "null");
    cr_assert_eq(lstat(p, &hs), -1);
    free(p);

    ht_free(&ho);
    ht_free(&hd);
    ht_free(&ea);
    cfs_fs_free(a);
    cfs_fs_free(b);
    rt_rmtree(base);
    free(orig);
    free(dst);
    free(dst2);
    free(dst3);
    free(base);
}

Test(hostdir, import_records_symlinks_without_following_them)
{
    char *base = rt_tmpdir();
    char *src = path_in(base, "src");
    char *outside = path_in(base, "outside");
    cr_assert_eq(mkdir(src, 0755), 0);
    cr_assert_eq(mkdir(outside, 0755), 0);
    int o = open(outside, O_RDONLY | O_DIRECTORY);
    put(o, "secret", "do not import", 13);
    close(o);
    int root = open(src, O_RDONLY | O_DIRECTORY);
    xsymlink(root, outside, "out_abs");
    xsymlink(root, "../outside", "out_rel");
    xsymlink(root, "/etc", "etc");
    close(root);
    cfs_time ck;
    cfs_fs *fs = fresh_engine(&ck);
    cfs_import_report rep;
    import_ok(fs, src, "/", &rep);
    cr_assert_eq(rep.symlinks, 3);
    cr_assert_eq(rep.files + rep.dirs, 0);
    cfs_filestat st;
    RT_OK(cfs_lookup_path(fs, CFS_INO_ROOT, "/out_rel", 0, &st));
    cr_assert_eq(st.filetype, CFS_FILETYPE_SYMBOLIC_LINK);
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/out_rel/secret", 0, &st), CFS_ENOENT);
    char t[64];
    size_t n;
    RT_OK(cfs_readlink_ino(fs, st.ino, t, sizeof(t), &n));
    cr_assert_eq(n, 10);
    cr_assert(memcmp(t, "../outside", 10) == 0);
    cfs_fs_free(fs);
    rt_rmtree(base);
    free(src);
    free(outside);
    free(base);
}

/* The engine's byte budget: ENOSPC, reported with the guest path. */
Test(hostdir, import_reports_a_full_engine)
{
    char *base = rt_tmpdir();
    int root = open(base, O_RDONLY | O_DIRECTORY);
    cfs_rng r;
    cfs_rng_seed(&r, 5);
    put_random(root, "big", 1 << 20, &r);
    close(root);
    cfs_time ck = T0;
    cfs_config cfg = {.clock = cfs_workload_clock, .clock_ctx = &ck,
                      .byte_budget = 256 << 10};
    cfs_fs *fs = cfs_fs_new(&cfg);
    char err[512];
    int rc = import_err(fs, base, "/in", NULL, NULL, err, sizeof(err));
    cr_assert_eq(rc, CFS_JE_NOSPC, "%s: %s", cfs_strerror(rc), err);
    cr_assert_str_eq(err, "import: /in/big: guest write: ENOSPC");
    cfs_fs_free(fs);
    rt_rmtree(base);
    free(base);
}

/* Through a journal: an import becomes events, and restoring its last seq
 * gives the tree back. */
Test(hostdir, import_into_a_journal_then_restore)
{
    char *base = rt_tmpdir();
    char *orig = path_in(base, "orig");
    char *dst = path_in(base, "dst");
    cr_assert_eq(mkdir(orig, 0755), 0);
    gen_tree(orig);
    rt_world w;
    rt_begin(&w, 0);
    import_ok(w.fs, orig, "/", NULL);
    uint64_t last = cfs_fs_seq(w.fs);
    cr_assert_gt(last, 40);
    rt_reopen_ro(&w);
    char err[512] = "";
    int rc = cfs_replay_restore(w.j, CFS_REPLAY_HEAD, dst, NULL, NULL, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s: %s", cfs_strerror(rc), err);
    htree ho, hd;
    host_tree(orig, &ho);
    host_tree(dst, &hd);
    ht_expect_equal(&ho, "original", &hd, "restored", true, "through the journal");
    ht_free(&ho);
    ht_free(&hd);
    rt_end(&w);
    rt_rmtree(base);
    free(orig);
    free(dst);
    free(base);
}
