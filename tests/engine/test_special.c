/*
 * test_special.c — FIFOs, sockets and devices made by mknod: metadata-only
 * inodes. They stat as what they are (type bits, device number), take part
 * in the namespace like files (rename, link, unlink, chmod, chown, times),
 * are never opened for I/O (ENXIO), replay to the same state, survive
 * images and clones, and a malformed MKNOD event is refused.
 */
#include "unit.h"

TestSuite(special, .init = unit_setup, .fini = unit_teardown);

#define R CFS_ROOT_FD
/* Linux's dev_t encoding of major/minor, as makedev() gives it. */
#define DEV(ma, mi)                                                            \
    ((((uint64_t)(ma) & 0xfffff000u) << 32) | (((uint64_t)(ma) & 0xfffu) << 8) | \
     (((uint64_t)(mi) & 0xffffff00u) << 12) | ((uint64_t)(mi) & 0xffu))

static void make_all(void)
{
    T_OK(cfs_path_mknod(U.fs, R, "fifo", CFS_S_IFIFO | 0640));
    T_OK(cfs_path_mknod(U.fs, R, "sock", CFS_S_IFSOCK | 0755));
    T_OK(cfs_path_mknod_dev(U.fs, R, "null", CFS_S_IFCHR | 0666, DEV(1, 3)));
    T_OK(cfs_path_mknod_dev(U.fs, R, "sda", CFS_S_IFBLK | 0660, DEV(8, 0)));
    /* a large major/minor keeps all its bits */
    T_OK(cfs_path_mknod_dev(U.fs, R, "big", CFS_S_IFCHR | 0600, DEV(4095, 1048575)));
}

Test(special, each_kind_stats_as_what_it_is)
{
    cfs_fs_set_creds(U.fs, 1000, 100, 0644, 0755);
    make_all();
    static const struct {
        const char *name;
        uint8_t type;
        uint32_t mode;
        uint64_t rdev;
    } want[] = {
        {"fifo", CFS_FILETYPE_FIFO, CFS_S_IFIFO | 0640, 0},
        {"sock", CFS_FILETYPE_SOCKET_STREAM, CFS_S_IFSOCK | 0755, 0},
        {"null", CFS_FILETYPE_CHARACTER_DEVICE, CFS_S_IFCHR | 0666, DEV(1, 3)},
        {"sda", CFS_FILETYPE_BLOCK_DEVICE, CFS_S_IFBLK | 0660, DEV(8, 0)},
        {"big", CFS_FILETYPE_CHARACTER_DEVICE, CFS_S_IFCHR | 0600, DEV(4095, 1048575)},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cfs_filestat st = t_lstat(want[i].name);
        cr_assert_eq(st.filetype, want[i].type, "%s", want[i].name);
        cr_assert_eq(st.mode, want[i].mode, "%s: mode %o", want[i].name, st.mode);
        cr_assert_eq(st.rdev, want[i].rdev, "%s", want[i].name);
        cr_assert_eq(st.size, 0);
        cr_assert_eq(st.blocks, 0);
        cr_assert_eq(st.nlink, 1);
        cr_assert_eq(st.uid, 1000);
        cr_assert_eq(st.gid, 100);
        cr_assert_eq(st.mtim, st.ctim);
        cfs_filestat by_ino;
        T_OK(cfs_getattr(U.fs, st.ino, &by_ino));
        cr_assert_eq(memcmp(&by_ino, &st, sizeof(st)), 0);
    }
    /* the event: type bits in mode, the device number in offset */
    const cfs_event *ev = rec_last(&U.rec);
    cr_assert_eq(ev->op, CFS_OP_MKNOD);
    cr_assert_eq(ev->mode, CFS_S_IFCHR | 0600);
    cr_assert_eq(ev->offset, DEV(4095, 1048575));
    /* a regular file's event is what it always was: no type bits */
    T_OK(cfs_path_mknod_dev(U.fs, R, "reg", CFS_S_IFREG | 0600, 77));
    cr_assert_eq(rec_last(&U.rec)->mode, 0600);
    cr_assert_eq(rec_last(&U.rec)->offset, 0, "rdev is ignored for a non-device");
    T_OK(cfs_path_mknod_dev(U.fs, R, "fifo2", CFS_S_IFIFO | 0600, 77));
    cr_assert_eq(t_lstat("fifo2").rdev, 0, "rdev is ignored for a FIFO");
    T_ERR(CFS_EEXIST, cfs_path_mknod(U.fs, R, "fifo", CFS_S_IFIFO | 0600));
    T_ERR(CFS_EPERM, cfs_path_mknod(U.fs, R, "d", CFS_S_IFDIR | 0700));
    T_ERR(CFS_EINVAL, cfs_path_mknod(U.fs, R, "l", CFS_S_IFLNK | 0700));
}

Test(special, they_are_renamed_linked_unlinked_and_changed_like_files)
{
    make_all();
    t_mkdir("d");
    cfs_filestat f = t_lstat("fifo");
    T_OK(cfs_path_rename(U.fs, R, "fifo", R, "d/pipe"));
    cr_assert_not(t_exists("fifo"));
    cr_assert_eq(t_lstat("d/pipe").ino, f.ino);
    T_OK(cfs_path_link(U.fs, R, 0, "null", R, "d/null2"));
    cr_assert_eq(t_lstat("null").nlink, 2);
    cr_assert_eq(t_lstat("d/null2").rdev, DEV(1, 3));
    /* rename over a regular file and onto a device */
    t_put("victim", "x");
    T_OK(cfs_path_rename(U.fs, R, "sock", R, "victim"));
    cr_assert_eq(t_lstat("victim").filetype, CFS_FILETYPE_SOCKET_STREAM);
    T_OK(cfs_path_rename(U.fs, R, "d/null2", R, "sda"));
    cr_assert_eq(t_lstat("sda").filetype, CFS_FILETYPE_CHARACTER_DEVICE);
    cr_assert_eq(t_lstat("null").nlink, 2);
    T_OK(cfs_path_chmod(U.fs, R, 0, "d/pipe", 04711));
    cr_assert_eq(t_lstat("d/pipe").mode, CFS_S_IFIFO | 04711);
    T_OK(cfs_path_chown(U.fs, R, 0, "null", 7, 8));
    cr_assert_eq(t_lstat("sda").uid, 7, "one inode under two names");
    T_OK(cfs_path_filestat_set_times(U.fs, R, 0, "null", 5, 6,
                                     CFS_FST_ATIM | CFS_FST_MTIM));
    cr_assert_eq(t_lstat("null").atim, 5);
    cr_assert_eq(t_lstat("null").mtim, 6);
    T_OK(cfs_path_unlink_file(U.fs, R, "null"));
    T_OK(cfs_path_unlink_file(U.fs, R, "sda"));
    T_OK(cfs_path_unlink_file(U.fs, R, "d/pipe"));
    cr_assert_not(t_exists("sda"));
    T_ERR(CFS_ENOENT, cfs_getattr(U.fs, f.ino, &f));
    T_ERR(CFS_ENOTDIR, cfs_path_remove_directory(U.fs, R, "victim"));
}

Test(special, opening_one_is_enxio_and_changes_nothing)
{
    make_all();
    const char *names[] = {"fifo", "sock", "null", "sda"};
    for (size_t i = 0; i < 4; i++) {
        const char *n = names[i];
        cfs_hash128 h = cfs_fs_hash(U.fs);
        uint64_t seq = cfs_fs_seq(U.fs);
        cfs_fd fd;
        T_ERR(CFS_ENXIO, cfs_path_open(U.fs, R, 0, n, 0, CFS_RIGHT_FD_READ, 0, 0, &fd));
        T_ERR(CFS_ENXIO, cfs_path_open(U.fs, R, 0, n, 0, 0, 0, 0, &fd));
        T_ERR(CFS_ENXIO, cfs_path_open(U.fs, R, 0, n, CFS_O_CREAT | CFS_O_TRUNC,
                                       R_FILE, 0, 0, &fd));
        T_ERR(CFS_EEXIST, cfs_path_open(U.fs, R, 0, n, CFS_O_CREAT | CFS_O_EXCL,
                                        R_FILE, 0, 0, &fd));
        T_ERR(CFS_ENOTDIR, cfs_path_open(U.fs, R, 0, n, CFS_O_DIRECTORY, 0, 0, 0, &fd));
        cfs_filestat st = t_lstat(n);
        T_ERR(CFS_ENXIO, cfs_open_ino(U.fs, st.ino, 0, R_FILE, 0, 0, &fd));
        T_ERR(CFS_ENXIO, cfs_open_ino(U.fs, st.ino, CFS_O_TRUNC, CFS_RIGHTS_SYMLINK_FD,
                                      0, 0, &fd));
        char buf[4];
        size_t got;
        T_ERR(CFS_EINVAL, cfs_file_pread_ino(U.fs, st.ino, buf, sizeof buf, 0, &got));
        cr_assert(hash_eq(cfs_fs_hash(U.fs), h), "%s: a refused open changed the state", n);
        cr_assert_eq(cfs_fs_seq(U.fs), seq);
        /* for its metadata, as O_PATH: fstat, fchmod, fchown, futimens */
        T_OK(cfs_open_ino(U.fs, st.ino, 0, CFS_RIGHTS_SYMLINK_FD, 0, 0, &fd));
        cr_assert_eq(t_fstat(fd).rdev, st.rdev);
        T_OK(cfs_fd_chmod(U.fs, fd, 0600));
        T_OK(cfs_fd_chown(U.fs, fd, 3, 4));
        T_ERR(CFS_ENOTCAPABLE, cfs_fd_read(U.fs, fd, buf, sizeof buf, &got));
        T_ERR(CFS_ENOTCAPABLE, cfs_fd_write(U.fs, fd, "x", 1, &got));
        T_OK(cfs_fd_close(U.fs, fd));
        cr_assert_eq(t_lstat(n).mode & 07777, 0600);
    }
}

Test(special, directory_listings_say_their_type)
{
    make_all();
    uint8_t seen[9] = {0};
    cfs_dirent de;
    for (uint64_t c = CFS_DIRCOOKIE_START; !cfs_dir_next(U.fs, CFS_INO_ROOT, c, &de);
         c = de.next)
        if (de.filetype < 9)
            seen[de.filetype]++;
    cr_assert_eq(seen[CFS_FILETYPE_FIFO], 1);
    cr_assert_eq(seen[CFS_FILETYPE_SOCKET_STREAM], 1);
    cr_assert_eq(seen[CFS_FILETYPE_CHARACTER_DEVICE], 2);
    cr_assert_eq(seen[CFS_FILETYPE_BLOCK_DEVICE], 1);
    /* fd_readdir is WASI's layout: no FIFO type there, UNKNOWN instead */
    cfs_fd dfd = t_opendir(R, ".");
    uint8_t buf[4096];
    size_t used;
    T_OK(cfs_fd_readdir(U.fs, dfd, buf, sizeof buf, CFS_DIRCOOKIE_START, &used));
    int fifo_unknown = 0, chr = 0;
    for (size_t pos = 0; pos + 24 <= used;) {
        uint32_t nl = (uint32_t)buf[pos + 16] | (uint32_t)buf[pos + 17] << 8;
        if (nl == 4 && memcmp(buf + pos + 24, "fifo", 4) == 0)
            fifo_unknown = buf[pos + 20] == CFS_FILETYPE_UNKNOWN;
        if (nl == 4 && memcmp(buf + pos + 24, "null", 4) == 0)
            chr = buf[pos + 20] == CFS_FILETYPE_CHARACTER_DEVICE;
        pos += 24 + nl;
    }
    cr_assert(fifo_unknown);
    cr_assert(chr);
}

static cfs_fs *replay_all(void)
{
    cfs_fs *re = cfs_fs_new(NULL);
    cr_assert_not_null(re);
    for (size_t i = 0; i < U.rec.n; i++)
        cr_assert_eq(cfs_fs_apply(re, &U.rec.evs[i].ev), 0, "event %zu: %s", i,
                     cfs_fs_errmsg(re));
    return re;
}

Test(special, replay_rebuilds_the_same_state)
{
    make_all();
    T_OK(cfs_path_rename(U.fs, R, "null", R, "null.moved"));
    T_OK(cfs_path_link(U.fs, R, 0, "sda", R, "sda2"));
    T_OK(cfs_path_chmod(U.fs, R, 0, "fifo", 0600));
    T_OK(cfs_path_unlink_file(U.fs, R, "sock"));
    cfs_fs *re = replay_all();
    cr_assert(hash_eq(cfs_fs_hash(re), cfs_fs_hash(U.fs)));
    cfs_filestat a, b;
    T_OK(cfs_path_filestat_get(re, R, 0, "null.moved", &a));
    T_OK(cfs_path_filestat_get(U.fs, R, 0, "null.moved", &b));
    cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0);
    /* the device number is part of the state: another rdev, another hash */
    cfs_fs *other = cfs_fs_new(NULL);
    for (size_t i = 0; i < U.rec.n; i++) {
        cfs_event ev = U.rec.evs[i].ev;
        if (ev.op == CFS_OP_MKNOD && ev.offset == DEV(1, 3))
            ev.offset = DEV(1, 5);
        cr_assert_eq(cfs_fs_apply(other, &ev), 0, "%s", cfs_fs_errmsg(other));
    }
    cr_assert_not(hash_eq(cfs_fs_hash(other), cfs_fs_hash(U.fs)));
    cfs_fs_free(other);
    cfs_fs_free(re);
}

/* Apply `ev` (the next event) to a copy of the state before it: refused,
 * with `want`, leaving the state as it was. */
static void expect_refused(cfs_fs *fs, cfs_event ev, cfs_errno want, const char *what)
{
    cfs_hash128 h = cfs_fs_hash(fs);
    cfs_errno e = cfs_fs_apply(fs, &ev);
    cr_assert_eq(e, want, "%s: %s (%s)", what, cfs_errno_name(e), cfs_fs_errmsg(fs));
    cr_assert(hash_eq(cfs_fs_hash(fs), h), "%s: a refused event changed the state", what);
}

Test(special, malformed_mknod_and_open_events_are_refused)
{
    T_OK(cfs_path_mknod(U.fs, R, "fifo", CFS_S_IFIFO | 0600));
    cfs_event mk = U.rec.evs[U.rec.n - 1].ev;
    cfs_fs *re = cfs_fs_new(NULL);
    cfs_event ev = mk;
    ev.mode = CFS_S_IFDIR | 0700;
    expect_refused(re, ev, CFS_EINVAL, "a directory by mknod");
    ev.mode = CFS_S_IFLNK | 0700;
    expect_refused(re, ev, CFS_EINVAL, "a symlink by mknod");
    ev.mode = 0xffffffffu;
    expect_refused(re, ev, CFS_EINVAL, "stray mode bits");
    ev.mode = CFS_S_IFIFO | 0600;
    ev.offset = 5;
    expect_refused(re, ev, CFS_EINVAL, "a device number on a FIFO");
    ev.mode = 0600;
    expect_refused(re, ev, CFS_EINVAL, "a device number on a regular file");
    cr_assert_eq(cfs_fs_apply(re, &mk), 0, "%s", cfs_fs_errmsg(re));
    /* an OPEN of the FIFO for reading, a WRITE to it */
    cfs_filestat st = t_lstat("fifo");
    cfs_event op = {.seq = mk.seq + 1, .op = CFS_OP_OPEN, .pid = 1, .ino = st.ino,
                    .fd2 = 4, .ofd = 5, .rights_base = CFS_RIGHT_FD_READ};
    expect_refused(re, op, CFS_ENXIO, "an open of a FIFO for reading");
    op.rights_base = CFS_RIGHTS_SYMLINK_FD;
    cr_assert_eq(cfs_fs_apply(re, &op), 0, "%s", cfs_fs_errmsg(re));
    cfs_event wr = {.seq = op.seq + 1, .op = CFS_OP_WRITE, .pid = 1, .fd = 4,
                    .ino = st.ino, .length = 1, .data = "x"};
    expect_refused(re, wr, CFS_EINVAL, "a write to a FIFO");
    cfs_fs_free(re);
}

/* a block store for images, keyed by content hash */
struct blocks {
    cfs_hash128 h[16];
    uint8_t *d[16];
    size_t len[16], n;
};

static int put_block(void *ctx, cfs_hash128 h, const void *data, size_t len)
{
    struct blocks *b = ctx;
    cr_assert_lt(b->n, 16);
    b->h[b->n] = h;
    b->d[b->n] = malloc(len);
    memcpy(b->d[b->n], data, len);
    b->len[b->n++] = len;
    return 0;
}

static int get_block(void *ctx, cfs_hash128 h, void *buf, size_t len)
{
    struct blocks *b = ctx;
    for (size_t i = 0; i < b->n; i++)
        if (hash_eq(b->h[i], h) && b->len[i] == len) {
            memcpy(buf, b->d[i], len);
            return 0;
        }
    return 1;
}

static int count_ref(void *ctx, cfs_hash128 h, size_t size)
{
    (void)h;
    (void)size;
    ++*(int *)ctx;
    return 0;
}

Test(special, images_and_clones_keep_them)
{
    make_all();
    t_put("file", "some bytes");
    T_OK(cfs_path_link(U.fs, R, 0, "sda", R, "sda.link"));
    struct blocks b = {0};
    uint8_t *meta;
    size_t len;
    T_OK(cfs_fs_encode_image(U.fs, &meta, &len, put_block, &b, NULL));
    cr_assert(hash_eq(cfs_image_hash(meta, len), cfs_fs_hash(U.fs)));
    int refs = 0;
    T_OK(cfs_image_refs(meta, len, count_ref, &refs));
    cr_assert_eq(refs, 1, "the one file block, past the special inodes");
    cfs_fs *back;
    char err[256] = "";
    cfs_errno e = cfs_fs_decode_image(meta, len, get_block, &b, NULL, &back, err, sizeof err);
    cr_assert_eq(e, 0, "%s", err);
    cr_assert(hash_eq(cfs_fs_hash(back), cfs_fs_hash(U.fs)));
    cfs_fs *clone;
    T_OK(cfs_fs_clone(U.fs, &clone));
    cr_assert(hash_eq(cfs_fs_hash(clone), cfs_fs_hash(U.fs)));
    const char *names[] = {"fifo", "sock", "null", "sda", "big"};
    for (size_t i = 0; i < 5; i++) {
        cfs_filestat a = t_lstat(names[i]), x, y;
        T_OK(cfs_path_filestat_get(back, R, 0, names[i], &x));
        T_OK(cfs_path_filestat_get(clone, R, 0, names[i], &y));
        cr_assert_eq(memcmp(&a, &x, sizeof a), 0, "%s from the image", names[i]);
        cr_assert_eq(memcmp(&a, &y, sizeof a), 0, "%s in the clone", names[i]);
    }
    /* every cut of the image is refused, never a crash */
    for (size_t cut = 0; cut < len; cut++) {
        cfs_fs *bad = NULL;
        cr_assert_neq(cfs_fs_decode_image(meta, cut, get_block, &b, NULL, &bad, err,
                                          sizeof err), 0, "cut at %zu", cut);
    }
    free(meta);
    cfs_fs_free(clone);
    cfs_fs_free(back);
    for (size_t i = 0; i < b.n; i++)
        free(b.d[i]);
}

Test(special, images_without_them_are_unchanged)
{
    /* The initial state's image, byte for byte as it was before special
     * inodes: stdio's character devices carry no device number. */
    static const uint8_t want[] = {
        'C', 'F', 'S', 'I', 1,
        0, 14, 5, 2, 0, 0, 4,                          /* counters, 4 inodes */
        10, 2, 0x80, 3, 0, 0, 1, 0, 0, 0, 0, 1,        /* stdin */
        11, 2, 0x80, 3, 0, 0, 1, 0, 0, 0, 0, 1,        /* stdout */
        12, 2, 0x80, 3, 0, 0, 1, 0, 0, 0, 0, 1,        /* stderr */
        13, 3, 0xed, 3, 0, 0, 2, 0, 0, 0, 0, 1, 13, 3, 0, /* root */
    };
    cfs_fs *fs = cfs_fs_new(NULL);
    uint8_t *meta;
    size_t len;
    T_OK(cfs_fs_encode_image(fs, &meta, &len, NULL, NULL, NULL));
    cr_assert_geq(len, sizeof want);
    cr_assert_eq(memcmp(meta, want, sizeof want), 0, "the inode part of the image changed");
    free(meta);
    cfs_fs_free(fs);
}
