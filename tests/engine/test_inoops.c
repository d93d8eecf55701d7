/*
 * test_inoops.c — the calls by inode or fd that a FUSE front end uses
 * (cfs_open_ino, cfs_fd_chmod, cfs_fd_chown, cfs_fd_link): they act as
 * their path forms do, refuse what those refuse, and their events replay
 * to the same state.
 */
#include "unit.h"

TestSuite(inoops, .init = unit_setup, .fini = unit_teardown);

/* Replay every recorded event on a fresh engine: the same state hash. */
static void expect_replays(void)
{
    cfs_fs *r = cfs_fs_new(NULL);
    cr_assert_not_null(r);
    for (size_t i = 0; i < U.rec.n; i++) {
        cfs_errno e = cfs_fs_apply(r, &U.rec.evs[i].ev);
        cr_assert_eq(e, 0, "replay of seq %zu: %s (%s)", i + 1,
                     cfs_errno_name(e), cfs_fs_errmsg(r));
    }
    cr_assert(hash_eq(cfs_fs_hash(r), cfs_fs_hash(U.fs)), "replayed state differs");
    cfs_fs_free(r);
}

Test(inoops, open_by_inode_reads_writes_and_truncates)
{
    t_put("/a", "hello");
    cfs_ino ino = t_lstat("/a").ino;
    cfs_fd fd;
    T_OK(cfs_open_ino(U.fs, ino, 0, R_FILE, 0, 0, &fd));
    char buf[16];
    size_t n;
    T_OK(cfs_fd_pread(U.fs, fd, buf, sizeof buf, 0, &n));
    cr_assert_eq(n, 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
    t_pwrite_all(fd, "J", 1, 0);
    T_OK(cfs_fd_close(U.fs, fd));
    t_expect_content("/a", "Jello");
    T_OK(cfs_open_ino(U.fs, ino, CFS_O_TRUNC, R_FILE, 0, 0, &fd));
    cr_assert_eq(t_fstat(fd).size, 0);
    T_OK(cfs_fd_close(U.fs, fd));
    expect_replays();
}

Test(inoops, open_by_inode_of_a_directory_serves_as_dirfd)
{
    t_mkdir("/d");
    cfs_ino ino = t_lstat("/d").ino;
    cfs_fd fd;
    T_ERR(CFS_EISDIR, cfs_open_ino(U.fs, ino, 0, R_FILE, 0, 0, &fd));
    T_ERR(CFS_EISDIR, cfs_open_ino(U.fs, ino, CFS_O_TRUNC, R_DIR, 0, 0, &fd));
    T_OK(cfs_open_ino(U.fs, ino, CFS_O_DIRECTORY, R_DIR, CFS_RIGHTS_ALL, 0, &fd));
    T_OK(cfs_path_create_directory(U.fs, fd, "sub"));
    cr_assert(t_exists("/d/sub"));
    T_OK(cfs_fd_close(U.fs, fd));
    expect_replays();
}

Test(inoops, open_by_inode_refuses_what_it_cannot_open)
{
    cfs_fd fd;
    T_ERR(CFS_ENOENT, cfs_open_ino(U.fs, 999, 0, R_FILE, 0, 0, &fd));
    T_OK(cfs_path_symlink(U.fs, "x", CFS_ROOT_FD, "l"));
    T_ERR(CFS_ELOOP, cfs_open_ino(U.fs, t_lstat("/l").ino, 0, R_FILE, 0, 0, &fd));
    T_ERR(CFS_ELOOP, cfs_open_ino(U.fs, t_lstat("/l").ino, CFS_O_TRUNC,
                                  CFS_RIGHTS_SYMLINK_FD, 0, 0, &fd));
    t_put("/f", "x");
    cfs_ino f = t_lstat("/f").ino;
    T_ERR(CFS_ENOTDIR, cfs_open_ino(U.fs, f, CFS_O_DIRECTORY, R_DIR, 0, 0, &fd));
    T_ERR(CFS_EINVAL, cfs_open_ino(U.fs, f, CFS_O_CREAT, R_FILE, 0, 0, &fd));
    T_ERR(CFS_EFAULT, cfs_open_ino(U.fs, f, 0, R_FILE, 0, 0, NULL));
    cr_assert_eq(U.rec.n, 4, "a refused call emitted an event");
}

Test(inoops, open_by_inode_of_an_unlinked_open_file)
{
    cfs_fd fd = t_create("/gone");
    t_write_all(fd, "still", 5);
    cfs_ino ino = t_fstat(fd).ino;
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "gone"));
    cfs_fd fd2;
    T_OK(cfs_open_ino(U.fs, ino, 0, R_FILE, 0, 0, &fd2));
    T_OK(cfs_fd_close(U.fs, fd));
    char buf[8];
    size_t n;
    T_OK(cfs_fd_pread(U.fs, fd2, buf, sizeof buf, 0, &n));
    cr_assert_eq(n, 5);
    T_OK(cfs_fd_close(U.fs, fd2));
    T_ERR(CFS_ENOENT, cfs_open_ino(U.fs, ino, 0, R_FILE, 0, 0, &fd2));
    expect_replays();
}

Test(inoops, a_symlink_opens_for_its_metadata_only)
{
    T_OK(cfs_path_symlink(U.fs, "target", CFS_ROOT_FD, "l"));
    cfs_filestat st = t_lstat("/l");
    cfs_fd fd;
    T_ERR(CFS_ELOOP, cfs_open_ino(U.fs, st.ino, 0, R_FILE, 0, 0, &fd));
    T_ERR(CFS_ELOOP, cfs_open_ino(U.fs, st.ino, 0, CFS_RIGHT_FD_READ, 0, 0, &fd));
    T_OK(cfs_open_ino(U.fs, st.ino, 0, CFS_RIGHTS_SYMLINK_FD, 0, 0, &fd));
    T_OK(cfs_fd_chown(U.fs, fd, 5, 6));
    T_OK(cfs_fd_filestat_set_times(U.fs, fd, 7, 8, CFS_FST_ATIM | CFS_FST_MTIM));
    T_OK(cfs_fd_link(U.fs, fd, CFS_ROOT_FD, "l2"));
    cfs_filestat l2 = t_lstat("/l2");
    cr_assert_eq(l2.ino, st.ino);
    cr_assert_eq(l2.uid, 5);
    cr_assert_eq(l2.mtim, 8);
    cr_assert_eq(l2.nlink, 2);
    char buf[8];
    size_t n;
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_pread(U.fs, fd, buf, sizeof buf, 0, &n));
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "l"));
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "l2"));
    T_OK(cfs_fd_close(U.fs, fd));
    expect_replays();
}

Test(inoops, fchmod_fchown_change_the_inode_and_ctime)
{
    cfs_fd fd = t_create("/f");
    cfs_filestat before = t_fstat(fd);
    T_OK(cfs_fd_chmod(U.fs, fd, 0104711));
    T_OK(cfs_fd_chown(U.fs, fd, 7, UINT32_MAX));
    cfs_filestat st = t_lstat("/f");
    cr_assert_eq(st.mode & 07777, 04711);
    cr_assert_eq(st.uid, 7);
    cr_assert_eq(st.gid, before.gid);
    cr_assert_gt(st.ctim, before.ctim);
    T_OK(cfs_fd_chown(U.fs, fd, UINT32_MAX, 9));
    cr_assert_eq(t_lstat("/f").gid, 9);
    T_OK(cfs_fd_fdstat_set_rights(U.fs, fd, CFS_RIGHT_FD_READ, 0));
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_chmod(U.fs, fd, 0600));
    T_ERR(CFS_EBADF, cfs_fd_chown(U.fs, 77, 1, 1));
    T_OK(cfs_fd_close(U.fs, fd));
    expect_replays();
}

Test(inoops, flink_adds_an_entry)
{
    t_mkdir("/d");
    cfs_fd fd = t_create("/f");
    T_OK(cfs_fd_link(U.fs, fd, CFS_ROOT_FD, "d/g"));
    cr_assert_eq(t_lstat("/d/g").ino, t_fstat(fd).ino);
    cr_assert_eq(t_fstat(fd).nlink, 2);
    T_ERR(CFS_EEXIST, cfs_fd_link(U.fs, fd, CFS_ROOT_FD, "f"));
    T_ERR(CFS_ENOENT, cfs_fd_link(U.fs, fd, CFS_ROOT_FD, "nodir/x"));
    cfs_fd d = t_opendir(CFS_ROOT_FD, "d");
    T_ERR(CFS_EPERM, cfs_fd_link(U.fs, d, CFS_ROOT_FD, "d2"));
    T_ERR(CFS_ENOTDIR, cfs_fd_link(U.fs, d, fd, "x"));
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "f"));
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "d/g"));
    T_ERR(CFS_ENOENT, cfs_fd_link(U.fs, fd, CFS_ROOT_FD, "back"));
    T_OK(cfs_fd_close(U.fs, fd));
    T_OK(cfs_fd_close(U.fs, d));
    expect_replays();
}
