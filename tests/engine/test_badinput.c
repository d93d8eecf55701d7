/*
 * test_badinput.c — whatever a guest or a front end passes, the engine
 * answers with a clear errno and never crashes (this suite runs under
 * ASan + UBSan in CI): NULL, empty and overlong paths; invalid fds; invalid
 * oflags/fdflags/whence/advice/fstflags; offsets near and past 2^63;
 * garbage events for apply; unknown errno/op values for the name tables.
 *
 * Where the contract leaves the exact errno open between two reasonable
 * answers (e.g. EINVAL or EFAULT for a NULL path), T_ERR2 accepts either;
 * a failed call must still change nothing (checked through the hash).
 */
#include <errno.h>

#include "unit.h"

TestSuite(badinput, .init = unit_setup, .fini = unit_teardown);

#define R CFS_ROOT_FD

/* Either errno, and nothing changed. */
#define BAD2(w1, w2, call)                                                     \
    do {                                                                       \
        cfs_hash128 h_ = cfs_fs_hash(U.fs);                                    \
        size_t n_ = U.rec.n;                                                   \
        T_ERR2(w1, w2, call);                                                  \
        cr_assert(hash_eq(h_, cfs_fs_hash(U.fs)), "%s changed the state",      \
                  #call);                                                      \
        cr_assert_eq(U.rec.n, n_, "%s emitted an event", #call);               \
    } while (0)
#define BAD(w, call) BAD2(w, w, call)

static void fixture(void)
{
    t_mkdir("d");
    t_put("f", "12345");
}

Test(badinput, null_paths)
{
    fixture();
    cfs_fd fd;
    cfs_filestat st;
    char buf[64];
    size_t n;
    const char *rel;
    BAD2(CFS_EINVAL, CFS_EFAULT,
         cfs_path_open(U.fs, R, 0, NULL, CFS_O_CREAT, R_FILE, 0, 0, &fd));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_path_filestat_get(U.fs, R, 0, NULL, &st));
    BAD2(CFS_EINVAL, CFS_EFAULT,
         cfs_path_filestat_set_times(U.fs, R, 0, NULL, 1, 1, CFS_FST_ATIM));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_path_create_directory(U.fs, R, NULL));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_path_remove_directory(U.fs, R, NULL));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_path_unlink_file(U.fs, R, NULL));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_path_rename(U.fs, R, NULL, R, "x"));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_path_rename(U.fs, R, "f", R, NULL));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_path_symlink(U.fs, NULL, R, "l"));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_path_symlink(U.fs, "f", R, NULL));
    BAD2(CFS_EINVAL, CFS_EFAULT,
         cfs_path_readlink(U.fs, R, NULL, buf, sizeof buf, &n));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_path_link(U.fs, R, 0, NULL, R, "x"));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_path_link(U.fs, R, 0, "f", R, NULL));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_path_chmod(U.fs, R, 0, NULL, 0600));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_path_chown(U.fs, R, 0, NULL, 1, 1));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_path_mknod(U.fs, R, NULL, 0600));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_fs_chdir(U.fs, NULL));
    BAD2(CFS_EINVAL, CFS_EFAULT,
         cfs_fs_preopen(U.fs, NULL, "x", CFS_PREOPEN_READ, &fd));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_fs_find_preopen(U.fs, NULL, &fd, &rel));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_fs_abspath(U.fs, NULL, buf, sizeof buf));
    BAD2(CFS_EINVAL, CFS_EFAULT, cfs_lookup(U.fs, CFS_INO_ROOT, NULL, &st));
}

Test(badinput, empty_paths)
{
    fixture();
    cfs_fd fd;
    cfs_filestat st;
    char buf[64];
    size_t n;
    const char *rel;
    BAD(CFS_ENOENT, cfs_path_open(U.fs, R, 0, "", 0, R_FILE, 0, 0, &fd));
    BAD(CFS_ENOENT,
        cfs_path_open(U.fs, R, 0, "", CFS_O_CREAT, R_FILE, 0, 0, &fd));
    BAD(CFS_ENOENT, cfs_path_filestat_get(U.fs, R, 0, "", &st));
    BAD(CFS_ENOENT,
        cfs_path_filestat_set_times(U.fs, R, 0, "", 1, 1, CFS_FST_ATIM));
    BAD(CFS_ENOENT, cfs_path_create_directory(U.fs, R, ""));
    BAD(CFS_ENOENT, cfs_path_remove_directory(U.fs, R, ""));
    BAD(CFS_ENOENT, cfs_path_unlink_file(U.fs, R, ""));
    BAD(CFS_ENOENT, cfs_path_rename(U.fs, R, "", R, "x"));
    BAD(CFS_ENOENT, cfs_path_rename(U.fs, R, "f", R, ""));
    BAD(CFS_ENOENT, cfs_path_symlink(U.fs, "", R, "l"));
    BAD(CFS_ENOENT, cfs_path_symlink(U.fs, "f", R, ""));
    BAD(CFS_ENOENT, cfs_path_readlink(U.fs, R, "", buf, sizeof buf, &n));
    BAD(CFS_ENOENT, cfs_path_link(U.fs, R, 0, "", R, "x"));
    BAD(CFS_ENOENT, cfs_path_link(U.fs, R, 0, "f", R, ""));
    BAD(CFS_ENOENT, cfs_path_chmod(U.fs, R, 0, "", 0600));
    BAD(CFS_ENOENT, cfs_path_chown(U.fs, R, 0, "", 1, 1));
    BAD(CFS_ENOENT, cfs_path_mknod(U.fs, R, "", 0600));
    BAD(CFS_ENOENT, cfs_fs_chdir(U.fs, ""));
    /* "" is not an absolute guest path. */
    BAD2(CFS_EINVAL, CFS_ENOENT,
         cfs_fs_preopen(U.fs, "", "x", CFS_PREOPEN_READ, &fd));
    BAD(CFS_EINVAL, cfs_fs_find_preopen(U.fs, "", &fd, &rel));
    BAD2(CFS_ENOENT, CFS_EINVAL, cfs_lookup(U.fs, CFS_INO_ROOT, "", &st));
    cr_assert_str_eq(cfs_fs_getcwd(U.fs), "/");
}

Test(badinput, overlong_paths)
{
    fixture();
    /* A megabyte of path: refused without walking it. */
    size_t big = 1u << 20;
    char *p = malloc(big + 1);
    cr_assert_not_null(p);
    memset(p, 'x', big);
    p[big] = '\0';
    char *longname = malloc(CFS_NAME_MAX + 2);
    cr_assert_not_null(longname);
    memset(longname, 'y', CFS_NAME_MAX + 1);
    longname[CFS_NAME_MAX + 1] = '\0';

    const char *bad[] = {p, longname};
    for (size_t i = 0; i < 2; i++) {
        const char *b = bad[i];
        cfs_fd fd;
        cfs_filestat st;
        char buf[64];
        size_t n;
        BAD(CFS_ENAMETOOLONG,
            cfs_path_open(U.fs, R, 0, b, CFS_O_CREAT, R_FILE, 0, 0, &fd));
        BAD(CFS_ENAMETOOLONG, cfs_path_filestat_get(U.fs, R, 0, b, &st));
        BAD(CFS_ENAMETOOLONG,
            cfs_path_filestat_set_times(U.fs, R, 0, b, 1, 1, CFS_FST_ATIM));
        BAD(CFS_ENAMETOOLONG, cfs_path_create_directory(U.fs, R, b));
        BAD(CFS_ENAMETOOLONG, cfs_path_remove_directory(U.fs, R, b));
        BAD(CFS_ENAMETOOLONG, cfs_path_unlink_file(U.fs, R, b));
        BAD(CFS_ENAMETOOLONG, cfs_path_rename(U.fs, R, b, R, "x"));
        BAD(CFS_ENAMETOOLONG, cfs_path_rename(U.fs, R, "f", R, b));
        BAD(CFS_ENAMETOOLONG, cfs_path_symlink(U.fs, "f", R, b));
        BAD(CFS_ENAMETOOLONG,
            cfs_path_readlink(U.fs, R, b, buf, sizeof buf, &n));
        BAD(CFS_ENAMETOOLONG, cfs_path_link(U.fs, R, 0, b, R, "x"));
        BAD(CFS_ENAMETOOLONG, cfs_path_link(U.fs, R, 0, "f", R, b));
        BAD(CFS_ENAMETOOLONG, cfs_path_chmod(U.fs, R, 0, b, 0600));
        BAD(CFS_ENAMETOOLONG, cfs_path_chown(U.fs, R, 0, b, 1, 1));
        BAD(CFS_ENAMETOOLONG, cfs_path_mknod(U.fs, R, b, 0600));
        BAD(CFS_ENAMETOOLONG, cfs_fs_chdir(U.fs, b));
        BAD(CFS_ENAMETOOLONG, cfs_lookup(U.fs, CFS_INO_ROOT, b, &st));
    }
    /* A symlink target longer than a path. */
    BAD(CFS_ENAMETOOLONG, cfs_path_symlink(U.fs, p, R, "l"));
    /* Absolute overlong paths for the preopen calls. */
    p[0] = '/';
    cfs_fd fd;
    BAD(CFS_ENAMETOOLONG, cfs_fs_preopen(U.fs, p, "x", CFS_PREOPEN_READ, &fd));
    char out[64];
    BAD(CFS_ENAMETOOLONG, cfs_fs_abspath(U.fs, p, out, sizeof out));
    free(p);
    free(longname);
}

Test(badinput, deep_but_valid_paths)
{
    fixture();
    /* 1300 ".." from the root: still the root, no recursion blow-up. */
    static char path[CFS_PATH_MAX + 1];
    size_t len = 0;
    while (len + 3 <= 3900) {
        memcpy(path + len, "../", 3);
        len += 3;
    }
    memcpy(path + len, "f", 2);
    t_expect_content(path, "12345");
    /* 2000 "./" components. */
    len = 0;
    while (len + 2 <= 4000) {
        memcpy(path + len, "./", 2);
        len += 2;
    }
    memcpy(path + len, "f", 2);
    t_expect_content(path, "12345");
    /* Nested directories as deep as a path allows. */
    len = 0;
    path[0] = '\0';
    for (int i = 0; i < 600; i++) {
        memcpy(path + len, "n/", 3);
        len += 2;
        path[len - 1] = '\0';
        T_OK(cfs_path_create_directory(U.fs, R, path));
        path[len - 1] = '/';
    }
    path[len] = '\0';
    memcpy(path + len, "leaf", 5);
    cfs_fd fd = t_open(R, path, CFS_O_CREAT, 0);
    T_OK(cfs_fd_close(U.fs, fd));
}

static void every_fd_call_is_ebadf(cfs_fd bad)
{
    char buf[64];
    size_t n;
    uint64_t off;
    int c;
    cfs_fd fd;
    cfs_filestat st;
    cfs_fdstat fst;
    cfs_prestat ps;
    BAD(CFS_EBADF, cfs_fd_close(U.fs, bad));
    BAD(CFS_EBADF, cfs_fd_renumber(U.fs, bad, 0));
    BAD(CFS_EBADF, cfs_fd_renumber(U.fs, 0, bad));
    BAD(CFS_EBADF, cfs_fd_dup(U.fs, bad, 0, -1, &fd));
    BAD(CFS_EBADF, cfs_fd_dup_at(U.fs, bad, 500, -1));
    BAD(CFS_EBADF, cfs_fd_set_cloexec(U.fs, bad, 1));
    BAD(CFS_EBADF, cfs_fd_get_cloexec(U.fs, bad, &c));
    BAD(CFS_EBADF, cfs_fd_fdstat_get(U.fs, bad, &fst));
    BAD(CFS_EBADF, cfs_fd_fdstat_set_flags(U.fs, bad, 0));
    BAD(CFS_EBADF, cfs_fd_fdstat_set_rights(U.fs, bad, 0, 0));
    BAD(CFS_EBADF, cfs_fd_read(U.fs, bad, buf, sizeof buf, &n));
    BAD(CFS_EBADF, cfs_fd_pread(U.fs, bad, buf, sizeof buf, 0, &n));
    BAD(CFS_EBADF, cfs_fd_write(U.fs, bad, "x", 1, &n));
    BAD(CFS_EBADF, cfs_fd_pwrite(U.fs, bad, "x", 1, 0, &n));
    BAD(CFS_EBADF, cfs_fd_seek(U.fs, bad, 0, CFS_WHENCE_SET, &off));
    BAD(CFS_EBADF, cfs_fd_tell(U.fs, bad, &off));
    BAD(CFS_EBADF, cfs_fd_sync(U.fs, bad));
    BAD(CFS_EBADF, cfs_fd_datasync(U.fs, bad));
    BAD(CFS_EBADF, cfs_fd_advise(U.fs, bad, 0, 1, CFS_ADVICE_NORMAL));
    BAD(CFS_EBADF, cfs_fd_allocate(U.fs, bad, 0, 1));
    BAD(CFS_EBADF, cfs_fd_filestat_get(U.fs, bad, &st));
    BAD(CFS_EBADF, cfs_fd_filestat_set_size(U.fs, bad, 0));
    BAD(CFS_EBADF, cfs_fd_filestat_set_times(U.fs, bad, 1, 1, CFS_FST_ATIM));
    BAD(CFS_EBADF, cfs_fd_readdir(U.fs, bad, buf, sizeof buf, 0, &n));
    BAD(CFS_EBADF, cfs_fd_prestat_get(U.fs, bad, &ps));
    BAD(CFS_EBADF, cfs_fd_prestat_dir_name(U.fs, bad, buf, sizeof buf));
    /* As the directory of a path call. */
    BAD(CFS_EBADF, cfs_path_open(U.fs, bad, 0, "f", 0, R_FILE, 0, 0, &fd));
    BAD(CFS_EBADF, cfs_path_filestat_get(U.fs, bad, 0, "f", &st));
    BAD(CFS_EBADF,
        cfs_path_filestat_set_times(U.fs, bad, 0, "f", 1, 1, CFS_FST_ATIM));
    BAD(CFS_EBADF, cfs_path_create_directory(U.fs, bad, "x"));
    BAD(CFS_EBADF, cfs_path_remove_directory(U.fs, bad, "d"));
    BAD(CFS_EBADF, cfs_path_unlink_file(U.fs, bad, "f"));
    BAD(CFS_EBADF, cfs_path_rename(U.fs, bad, "f", R, "x"));
    BAD(CFS_EBADF, cfs_path_rename(U.fs, R, "f", bad, "x"));
    BAD(CFS_EBADF, cfs_path_symlink(U.fs, "f", bad, "l"));
    BAD(CFS_EBADF, cfs_path_readlink(U.fs, bad, "l", buf, sizeof buf, &n));
    BAD(CFS_EBADF, cfs_path_link(U.fs, bad, 0, "f", R, "x"));
    BAD(CFS_EBADF, cfs_path_link(U.fs, R, 0, "f", bad, "x"));
    BAD(CFS_EBADF, cfs_path_chmod(U.fs, bad, 0, "f", 0600));
    BAD(CFS_EBADF, cfs_path_chown(U.fs, bad, 0, "f", 1, 1));
    BAD(CFS_EBADF, cfs_path_mknod(U.fs, bad, "m", 0600));
}

Test(badinput, invalid_fds)
{
    fixture();
    cfs_fd closed = t_create("c");
    T_OK(cfs_fd_close(U.fs, closed));
    const cfs_fd bads[] = {UINT32_MAX, CFS_MAX_FD + 1,    CFS_MAX_FD,       200,
                           closed,     (cfs_fd)INT32_MAX, (cfs_fd)INT32_MIN};
    for (size_t i = 0; i < sizeof bads / sizeof *bads; i++)
        every_fd_call_is_ebadf(bads[i]);
}

Test(badinput, invalid_flag_values)
{
    fixture();
    cfs_fd fd = t_open(R, "f", 0, 0), out;
    uint64_t off;
    size_t n;
    BAD(CFS_EINVAL, cfs_path_open(U.fs, R, 0, "f", 0x10, R_FILE, 0, 0, &out));
    BAD(CFS_EINVAL, cfs_path_open(U.fs, R, 0, "f", 0xffff, R_FILE, 0, 0, &out));
    BAD(CFS_EINVAL, cfs_path_open(U.fs, R, 0, "new", CFS_O_CREAT | 0x100,
                                  R_FILE, 0, 0, &out));
    cr_assert_not(t_exists("new"));
    BAD(CFS_EINVAL, cfs_path_open(U.fs, R, 0, "f", 0, R_FILE, 0, 0x20, &out));
    BAD(CFS_EINVAL, cfs_path_open(U.fs, R, 0, "f", 0, R_FILE, 0, 0xffff, &out));
    BAD(CFS_EINVAL, cfs_fd_fdstat_set_flags(U.fs, fd, 0x20));
    BAD(CFS_EINVAL, cfs_fd_fdstat_set_flags(U.fs, fd, 0xffff));
    BAD(CFS_EINVAL, cfs_fd_seek(U.fs, fd, 0, 3, &off));
    BAD(CFS_EINVAL, cfs_fd_seek(U.fs, fd, 0, 255, &off));
    BAD(CFS_EINVAL, cfs_fd_advise(U.fs, fd, 0, 1, 6));
    BAD(CFS_EINVAL, cfs_fd_advise(U.fs, fd, 0, 1, 255));
    for (uint8_t a = 0; a <= CFS_ADVICE_NOREUSE; a++)
        T_OK(cfs_fd_advise(U.fs, fd, 0, 1, a));
    BAD(CFS_EINVAL, cfs_fd_filestat_set_times(U.fs, fd, 1, 1, 0x10));
    BAD(CFS_EINVAL, cfs_fd_filestat_set_times(U.fs, fd, 1, 1, 0xffff));
    BAD(CFS_EINVAL, cfs_fd_filestat_set_times(U.fs, fd, 1, 1,
                                              CFS_FST_MTIM | CFS_FST_MTIM_NOW));
    BAD(CFS_EINVAL, cfs_path_filestat_set_times(U.fs, R, 0, "f", 1, 1, 0x10));
    BAD(CFS_EINVAL,
        cfs_path_filestat_set_times(U.fs, R, 0, "f", 1, 1,
                                    CFS_FST_MTIM | CFS_FST_MTIM_NOW));
    /* Types mknod cannot make; any bits of a mode that are not type bits. */
    BAD2(CFS_ENOTSUP, CFS_EINVAL, cfs_path_mknod(U.fs, R, "m", 0xffffffffu));
    BAD(CFS_EPERM, cfs_path_mknod(U.fs, R, "m", CFS_S_IFDIR | 0755));
    BAD2(CFS_ENOTSUP, CFS_EINVAL,
         cfs_path_mknod(U.fs, R, "m", CFS_S_IFLNK | 0777));
    T_OK(cfs_path_chmod(U.fs, R, 0, "f", 0xffffffffu));
    cr_assert_eq(t_stat("f").mode, CFS_S_IFREG | 07777);
    /* Rights bits WASI does not define cannot be asked for. */
    BAD2(CFS_ENOTCAPABLE, CFS_EINVAL,
         cfs_path_open(U.fs, R, 0, "f", 0, UINT64_MAX, 0, 0, &out));
    BAD2(CFS_ENOTCAPABLE, CFS_EINVAL,
         cfs_fd_fdstat_set_rights(U.fs, fd, R_FILE | (UINT64_C(1) << 40), 0));
    /* Values the contract does not name: any clear answer. */
    cfs_errno e = cfs_path_open(U.fs, R, 0xfe, "f", 0, R_FILE, 0, 0, &out);
    cr_assert(e == 0 || e == CFS_EINVAL, "unknown lookupflags: %s",
              cfs_errno_name(e));
    e = cfs_fd_dup(U.fs, fd, 0, 7, &out);
    cr_assert(e == 0 || e == CFS_EINVAL, "cloexec 7: %s", cfs_errno_name(e));
    e = cfs_fd_set_cloexec(U.fs, fd, -5);
    cr_assert(e == 0 || e == CFS_EINVAL, "cloexec -5: %s", cfs_errno_name(e));
    int c = -1;
    T_OK(cfs_fd_get_cloexec(U.fs, fd, &c));
    cr_assert(c == 0 || c == 1);
    e = cfs_fs_preopen(U.fs, "/d", "p", 0xffffffffu, &out);
    cr_assert(e == 0 || e == CFS_EINVAL, "preopen perm: %s", cfs_errno_name(e));
    (void)n;
}

Test(badinput, offsets_near_and_past_2_pow_63)
{
    fixture();
    cfs_fd fd = t_open(R, "f", 0, 0);
    uint64_t off;
    size_t n = 0;
    char buf[8];
    /* Linux: pread at a huge offset is EOF; past 2^63-1 it is a negative
     * off_t (EINVAL). */
    T_OK(cfs_fd_pread(U.fs, fd, buf, sizeof buf, INT64_MAX, &n));
    cr_assert_eq(n, 0);
    cfs_errno e = cfs_fd_pread(U.fs, fd, buf, sizeof buf, UINT64_MAX, &n);
    cr_assert(e == CFS_EINVAL || (e == 0 && n == 0), "pread at 2^64-1: %s",
              cfs_errno_name(e));
    BAD(CFS_EFBIG, cfs_fd_pwrite(U.fs, fd, "x", 1, INT64_MAX, &n));
    BAD(CFS_EFBIG, cfs_fd_pwrite(U.fs, fd, "xy", 2, INT64_MAX - 1, &n));
    BAD2(CFS_EINVAL, CFS_EFBIG,
         cfs_fd_pwrite(U.fs, fd, "x", 1, UINT64_MAX, &n));
    BAD2(CFS_EINVAL, CFS_EFBIG,
         cfs_fd_pwrite(U.fs, fd, "xyzw", 4, UINT64_MAX - 1, &n));
    BAD2(CFS_EINVAL, CFS_EFBIG,
         cfs_fd_pwrite(U.fs, fd, "x", 1, (uint64_t)INT64_MAX + 1, &n));
    BAD2(CFS_EINVAL, CFS_EFBIG, cfs_fd_allocate(U.fs, fd, UINT64_MAX, 1));
    BAD2(CFS_EINVAL, CFS_EFBIG, cfs_fd_allocate(U.fs, fd, 1, UINT64_MAX));
    BAD2(CFS_EINVAL, CFS_EFBIG,
         cfs_fd_allocate(U.fs, fd, INT64_MAX, INT64_MAX));
    BAD2(CFS_EINVAL, CFS_EFBIG, cfs_fd_filestat_set_size(U.fs, fd, UINT64_MAX));
    BAD(CFS_EINVAL, cfs_fd_seek(U.fs, fd, INT64_MIN, CFS_WHENCE_SET, &off));
    BAD(CFS_EINVAL, cfs_fd_seek(U.fs, fd, INT64_MIN, CFS_WHENCE_CUR, &off));
    BAD(CFS_EINVAL, cfs_fd_seek(U.fs, fd, INT64_MIN, CFS_WHENCE_END, &off));
    BAD(CFS_EINVAL, cfs_fd_seek(U.fs, fd, INT64_MAX, CFS_WHENCE_END, &off));
    T_OK(cfs_fd_seek(U.fs, fd, 1, CFS_WHENCE_SET, &off));
    BAD(CFS_EINVAL, cfs_fd_seek(U.fs, fd, INT64_MAX, CFS_WHENCE_CUR, &off));
    cr_assert_eq(t_tell(fd), 1);
    e = cfs_fd_advise(U.fs, fd, UINT64_MAX, UINT64_MAX, CFS_ADVICE_NORMAL);
    cr_assert(e == 0 || e == CFS_EINVAL, "advise: %s", cfs_errno_name(e));
    e = cfs_fd_readdir(U.fs, R, buf, sizeof buf, UINT64_MAX, &n);
    cr_assert(e == CFS_EINVAL || (e == 0 && n == 0), "readdir: %s",
              cfs_errno_name(e));
    /* Times are plain u64 nanoseconds: any value is a time. */
    T_OK(cfs_fd_filestat_set_times(U.fs, fd, UINT64_MAX, UINT64_MAX,
                                   CFS_FST_ATIM | CFS_FST_MTIM));
    cr_assert_eq(t_fstat(fd).mtim, UINT64_MAX);
    t_expect_content("f", "12345");
}

Test(badinput, zero_lengths)
{
    fixture();
    cfs_fd fd = t_open(R, "f", 0, 0);
    char buf[1];
    size_t n = 99;
    T_OK(cfs_fd_read(U.fs, fd, buf, 0, &n));
    cr_assert_eq(n, 0);
    T_OK(cfs_fd_write(U.fs, fd, buf, 0, &n));
    cr_assert_eq(n, 0);
    T_OK(cfs_fd_pwrite(U.fs, fd, buf, 0, 1000, &n));
    cr_assert_eq(n, 0);
    cr_assert_eq(t_fstat(fd).size, 5, "an empty write does not extend");
    T_OK(cfs_fd_readdir(U.fs, R, buf, 0, 0, &n));
    cr_assert_eq(n, 0);
    T_OK(cfs_path_symlink(U.fs, "f", R, "l"));
    n = 99;
    T_OK(cfs_path_readlink(U.fs, R, "l", buf, 0, &n));
    cr_assert_eq(n, 0);
    /* posix_fallocate says EINVAL for a zero length; WASI is silent. */
    cfs_errno e = cfs_fd_allocate(U.fs, fd, 2, 0);
    cr_assert(e == 0 || e == CFS_EINVAL, "allocate len 0: %s",
              cfs_errno_name(e));
    cr_assert_eq(t_fstat(fd).size, 5);
}

Test(badinput, unknown_inodes)
{
    fixture();
    cfs_filestat st;
    cfs_dirent de;
    const cfs_ino bad[] = {0, 1, 9, 100000, UINT64_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        T_ERR2(CFS_ENOENT, CFS_ESTALE, cfs_getattr(U.fs, bad[i], &st));
        T_ERR2(CFS_ENOENT, CFS_ESTALE, cfs_lookup(U.fs, bad[i], "f", &st));
        cfs_errno e = cfs_dir_next(U.fs, bad[i], 0, &de);
        cr_assert_neq(e, 0, "dir_next of inode %llu",
                      (unsigned long long)bad[i]);
    }
    T_ERR2(CFS_EINVAL, CFS_ENOENT, cfs_lookup(U.fs, CFS_INO_ROOT, "d/x", &st));
}

Test(badinput, garbage_events_for_apply)
{
    cfs_fs *r = cfs_fs_new(NULL);
    cr_assert_not_null(r);
    cfs_hash128 h = cfs_fs_hash(r);
    cfs_event ev;

    memset(&ev, 0, sizeof ev);
    ev.seq = 5;
    ev.op = CFS_OP_CLOSE;
    ev.pid = 1;
    ev.fd = 0;
    T_ERR(CFS_EINVAL, cfs_fs_apply(r, &ev));
    cr_assert_str_neq(cfs_fs_errmsg(r), "", "errmsg says why");

    ev.seq = 0;
    T_ERR(CFS_EINVAL, cfs_fs_apply(r, &ev));

    const uint16_t ops[] = {0, CFS_OP_MAX_ + 1, 999, 0xffff};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        memset(&ev, 0, sizeof ev);
        ev.seq = 1;
        ev.op = ops[i];
        ev.pid = 1;
        T_ERR(CFS_EINVAL, cfs_fs_apply(r, &ev));
    }

    /* Every op with an all-zero / NULL body and then with junk: an error
     * or (for ops that need nothing) success — never a crash. */
    for (uint16_t op = 1; op <= CFS_OP_MAX_; op++) {
        memset(&ev, 0, sizeof ev);
        ev.seq = cfs_fs_seq(r) + 1;
        ev.op = op;
        ev.pid = 1;
        (void)cfs_fs_apply(r, &ev);
        memset(&ev, 0, sizeof ev);
        ev.seq = cfs_fs_seq(r) + 1;
        ev.op = op;
        ev.pid = 77;
        ev.fd = 12345;
        ev.fd2 = UINT32_MAX;
        ev.ino = UINT64_MAX;
        ev.dir = 424242;
        ev.dir2 = 7;
        ev.ofd = UINT64_MAX;
        ev.offset = UINT64_MAX;
        ev.length = UINT64_MAX;
        ev.path = "../../..";
        ev.path2 = "";
        ev.name = "a/b";
        ev.name2 = "..";
        ev.data = NULL;
        ev.flags = UINT32_MAX;
        ev.mode = UINT32_MAX;
        cfs_errno e = cfs_fs_apply(r, &ev);
        cr_assert_neq(e, 0, "op %s with junk fields applied", cfs_op_name(op));
    }

    /* A CLOSE of an fd that is not open. */
    cfs_fs *fresh = cfs_fs_new(NULL);
    memset(&ev, 0, sizeof ev);
    ev.seq = 1;
    ev.op = CFS_OP_CLOSE;
    ev.pid = 1;
    ev.fd = 99;
    T_ERR(CFS_EBADF, cfs_fs_apply(fresh, &ev));
    cr_assert_eq(cfs_fs_seq(fresh), 0);
    cr_assert(hash_eq(cfs_fs_hash(fresh), h));
    /* A WRITE whose data is missing. */
    memset(&ev, 0, sizeof ev);
    ev.seq = 1;
    ev.op = CFS_OP_WRITE;
    ev.pid = 1;
    ev.fd = 1;
    ev.ino = CFS_INO_STDOUT;
    ev.length = 10;
    ev.data = NULL;
    cfs_errno e = cfs_fs_apply(fresh, &ev);
    cr_assert(e != 0 || cfs_fs_seq(fresh) == 1, "never a crash");
    cfs_fs_free(fresh);
    cfs_fs_free(r);
}

Test(badinput, name_tables)
{
    cr_assert_str_eq(cfs_errno_name(CFS_ENOENT), "ENOENT");
    cr_assert_str_eq(cfs_errno_name(CFS_ENOTCAPABLE), "ENOTCAPABLE");
    cr_assert_str_eq(cfs_errno_name(CFS_EBADF), "EBADF");
    cr_assert_str_eq(cfs_errno_name(77), "E?");
    cr_assert_str_eq(cfs_errno_name(0xffff), "E?");
    cr_assert_eq(cfs_errno_to_posix(CFS_ENOTCAPABLE), EPERM);
    cr_assert_eq(cfs_errno_to_posix(CFS_ENOENT), ENOENT);
    cr_assert_eq(cfs_errno_to_posix(CFS_EEXIST), EEXIST);
    cr_assert_eq(cfs_errno_to_posix(CFS_ENOTEMPTY), ENOTEMPTY);
    cr_assert_eq(cfs_errno_to_posix(CFS_ELOOP), ELOOP);
    cr_assert_eq(cfs_errno_to_posix(CFS_ENOSPC), ENOSPC);
    cr_assert_eq(cfs_errno_to_posix(CFS_ENOTSUP), ENOTSUP);
    cr_assert_eq(cfs_errno_to_posix(CFS_EXDEV), EXDEV);
    cr_assert_eq(cfs_errno_to_posix(CFS_ESUCCESS), 0);
    cr_assert_eq(cfs_errno_to_posix(77), EIO);
    cr_assert_eq(cfs_errno_to_posix(0xffff), EIO);
    for (unsigned e = 1; e <= CFS_ENOTCAPABLE; e++) {
        const char *s = cfs_errno_name((cfs_errno)e);
        cr_assert(s && s[0] == 'E' && strcmp(s, "E?") != 0, "errno %u", e);
        cr_assert_gt(cfs_errno_to_posix((cfs_errno)e), 0);
    }
    cr_assert_str_eq(cfs_op_name(CFS_OP_RENAME), "rename");
    cr_assert_str_eq(cfs_op_name(CFS_OP_OPEN), "open");
    cr_assert_str_eq(cfs_op_name(0), "?");
    cr_assert_str_eq(cfs_op_name(CFS_OP_MAX_ + 1), "?");
    cr_assert_str_eq(cfs_op_name(0xffff), "?");
    for (uint16_t op = 1; op <= CFS_OP_MAX_; op++)
        cr_assert_str_neq(cfs_op_name(op), "?", "op %u has no name", op);
    cfs_fs_free(NULL);
}
