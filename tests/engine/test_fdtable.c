/*
 * test_fdtable.c — the fd table as a guest sees it: the initial stdio and
 * root preopen, first-free allocation, dup (minimum fd, close-on-exec
 * choice), exact placement, renumber, shared open-file descriptions, the
 * close-on-exec sweep, fork, close-all, exit and EMFILE.
 */
#include "unit.h"

TestSuite(fdtable, .init = unit_setup, .fini = unit_teardown);

static cfs_fdstat fdstat(cfs_fd fd)
{
    cfs_fdstat st;
    memset(&st, 0xa5, sizeof st);
    T_OK(cfs_fd_fdstat_get(U.fs, fd, &st));
    return st;
}

static int cloexec_of(cfs_fd fd)
{
    int c = -7;
    T_OK(cfs_fd_get_cloexec(U.fs, fd, &c));
    cr_assert(c == 0 || c == 1, "get_cloexec gave %d", c);
    return c;
}

Test(fdtable, initial_stdio_and_root_preopen)
{
    cfs_fdstat st = fdstat(0);
    cr_assert_eq(st.filetype, CFS_FILETYPE_CHARACTER_DEVICE);
    cr_assert_eq(st.flags, 0);
    cr_assert_eq(st.rights_base, CFS_RIGHTS_STDIN);
    cr_assert_eq(st.rights_inheriting, 0);

    for (cfs_fd fd = 1; fd <= 2; fd++) {
        st = fdstat(fd);
        cr_assert_eq(st.filetype, CFS_FILETYPE_CHARACTER_DEVICE);
        cr_assert_eq(st.flags, CFS_FDFLAG_APPEND, "fd %u flags %#x", fd,
                     st.flags);
        cr_assert_eq(st.rights_base, CFS_RIGHTS_STDOUT);
        cr_assert_eq(st.rights_inheriting, 0);
    }

    st = fdstat(CFS_ROOT_FD);
    cr_assert_eq(st.filetype, CFS_FILETYPE_DIRECTORY);
    cr_assert_eq(st.flags, 0);
    cr_assert_eq(st.rights_base, CFS_RIGHTS_ALL);
    cr_assert_eq(st.rights_inheriting, CFS_RIGHTS_ALL);

    const cfs_ino inos[] = {CFS_INO_STDIN, CFS_INO_STDOUT, CFS_INO_STDERR,
                            CFS_INO_ROOT};
    for (cfs_fd fd = 0; fd <= 3; fd++) {
        cfs_filestat fs = t_fstat(fd);
        cr_assert_eq(fs.ino, inos[fd], "fd %u ino %llu", fd,
                     (unsigned long long)fs.ino);
        cr_assert_eq(fs.dev, 0);
    }
    cr_assert_eq(t_fstat(0).filetype, CFS_FILETYPE_CHARACTER_DEVICE);
    cfs_filestat root = t_fstat(CFS_ROOT_FD);
    cr_assert_eq(root.filetype, CFS_FILETYPE_DIRECTORY);
    cr_assert_eq(root.mode, CFS_S_IFDIR | 0755, "root mode %o", root.mode);
    cr_assert_eq(root.uid, 0);
    cr_assert_eq(root.gid, 0);
    cr_assert_eq(root.nlink, 2);

    /* Nothing else is open; the initial state is not an event. */
    cr_assert_not(t_fd_open(4));
    cr_assert_eq(cfs_fs_seq(U.fs), 0);
    cr_assert_eq(U.rec.n, 0);
    cr_assert_eq(cfs_fs_pid(U.fs), 1);
    cr_assert_str_eq(cfs_fs_getcwd(U.fs), "/");

    cfs_prestat ps;
    T_OK(cfs_fd_prestat_get(U.fs, CFS_ROOT_FD, &ps));
    cr_assert_eq(ps.tag, 0);
    cr_assert_eq(ps.name_len, 1);
    char name[8] = {0};
    T_OK(cfs_fd_prestat_dir_name(U.fs, CFS_ROOT_FD, name, sizeof name));
    cr_assert_eq(name[0], '/');
}

Test(fdtable, two_fresh_engines_are_the_same_state)
{
    cfs_fs *other = cfs_fs_new(NULL);
    cr_assert_not_null(other);
    cr_assert(hash_eq(cfs_fs_hash(U.fs), cfs_fs_hash(other)));
    cfs_fs_free(other);
}

Test(fdtable, first_free_allocation)
{
    cfs_fd a = t_create("a"), b = t_create("b"), c = t_create("c");
    cr_assert_eq(a, 4);
    cr_assert_eq(b, 5);
    cr_assert_eq(c, 6);

    T_OK(cfs_fd_close(U.fs, b));
    cr_assert_eq(t_create("d"), 5, "the lowest free fd is reused");
    T_OK(cfs_fd_close(U.fs, a));
    T_OK(cfs_fd_close(U.fs, c));
    cr_assert_eq(t_create("e"), 4);
    cr_assert_eq(t_create("f"), 6);
    cr_assert_eq(t_create("g"), 7);

    /* stdio fds are ordinary slots once closed. */
    T_OK(cfs_fd_close(U.fs, 0));
    cr_assert_eq(t_create("h"), 0);
    T_ERR(CFS_EBADF, cfs_fd_close(U.fs, 8));
    T_ERR(CFS_EBADF, cfs_fd_close(U.fs, 1000));
}

Test(fdtable, close_twice_is_ebadf)
{
    cfs_fd a = t_create("a");
    T_OK(cfs_fd_close(U.fs, a));
    T_ERR(CFS_EBADF, cfs_fd_close(U.fs, a));
    cfs_fdstat st;
    T_ERR(CFS_EBADF, cfs_fd_fdstat_get(U.fs, a, &st));
}

Test(fdtable, dup_first_free_at_or_above_min)
{
    cfs_fd a = t_create("a"); /* 4 */
    cfs_fd d = 0;
    T_OK(cfs_fd_dup(U.fs, a, 0, -1, &d));
    cr_assert_eq(d, 5);
    T_OK(cfs_fd_dup(U.fs, a, 100, -1, &d));
    cr_assert_eq(d, 100);
    T_OK(cfs_fd_dup(U.fs, a, 100, -1, &d));
    cr_assert_eq(d, 101);
    T_OK(cfs_fd_dup(U.fs, a, 2, -1, &d));
    cr_assert_eq(d, 6, "min 2: 2..5 are taken");
    T_OK(cfs_fd_dup(U.fs, a, CFS_MAX_FD, -1, &d));
    cr_assert_eq(d, CFS_MAX_FD);
    T_ERR(CFS_EMFILE, cfs_fd_dup(U.fs, a, CFS_MAX_FD, -1, &d));
    T_ERR(CFS_EINVAL, cfs_fd_dup(U.fs, a, CFS_MAX_FD + 1, -1, &d));
    T_ERR(CFS_EINVAL, cfs_fd_dup(U.fs, a, UINT32_MAX, -1, &d));
    T_ERR(CFS_EBADF, cfs_fd_dup(U.fs, 7, 0, -1, &d));
    T_ERR(CFS_EBADF, cfs_fd_dup(U.fs, CFS_MAX_FD + 1, 0, -1, &d));

    /* The dup is the same file: same inode, same rights. */
    cfs_fdstat s1 = fdstat(a), s2 = fdstat(100);
    cr_assert_eq(s1.rights_base, s2.rights_base);
    cr_assert_eq(s1.rights_inheriting, s2.rights_inheriting);
    cr_assert_eq(t_fstat(a).ino, t_fstat(100).ino);

    /* Closing the original leaves the dup working. */
    T_OK(cfs_fd_close(U.fs, a));
    t_write_all(100, "xy", 2);
    t_expect_content("a", "xy");
}

Test(fdtable, dup_cloexec_choice)
{
    cfs_fd a = t_create("a");
    cr_assert_eq(cloexec_of(a), 0, "path_open gives a non-cloexec fd");
    T_OK(cfs_fd_set_cloexec(U.fs, a, 1));
    cr_assert_eq(cloexec_of(a), 1);

    cfs_fd d;
    T_OK(cfs_fd_dup(U.fs, a, 0, -1, &d));
    cr_assert_eq(cloexec_of(d), 1, "-1 keeps the source's flag");
    T_OK(cfs_fd_dup(U.fs, a, 0, 0, &d));
    cr_assert_eq(cloexec_of(d), 0, "0 clears");
    T_OK(cfs_fd_dup(U.fs, a, 0, 1, &d));
    cr_assert_eq(cloexec_of(d), 1, "1 sets");

    T_OK(cfs_fd_set_cloexec(U.fs, a, 0));
    T_OK(cfs_fd_dup(U.fs, a, 0, -1, &d));
    cr_assert_eq(cloexec_of(d), 0);
    T_OK(cfs_fd_dup(U.fs, a, 0, 1, &d));
    cr_assert_eq(cloexec_of(d), 1);
    /* The flag is per fd, not per description. */
    cr_assert_eq(cloexec_of(a), 0);

    T_OK(cfs_fd_dup_at(U.fs, a, 200, 1));
    cr_assert_eq(cloexec_of(200), 1);
    T_OK(cfs_fd_dup_at(U.fs, 200, 201, -1));
    cr_assert_eq(cloexec_of(201), 1);
    T_OK(cfs_fd_dup_at(U.fs, 200, 202, 0));
    cr_assert_eq(cloexec_of(202), 0);

    int c;
    T_ERR(CFS_EBADF, cfs_fd_get_cloexec(U.fs, 300, &c));
    T_ERR(CFS_EBADF, cfs_fd_set_cloexec(U.fs, 300, 1));
}

Test(fdtable, dup_at_exact_placement)
{
    cfs_fd a = t_create("a");
    T_OK(cfs_fd_dup_at(U.fs, a, 50, 0));
    cr_assert(t_fd_open(50));
    cr_assert_not(t_fd_open(5), "dup_at does not take the first free fd");
    T_ERR(CFS_EEXIST, cfs_fd_dup_at(U.fs, a, 50, 0));
    T_ERR(CFS_EEXIST, cfs_fd_dup_at(U.fs, a, 1, 0));
    T_ERR(CFS_EEXIST, cfs_fd_dup_at(U.fs, a, a, 0));
    T_OK(cfs_fd_dup_at(U.fs, a, CFS_MAX_FD, 0));
    cr_assert(t_fd_open(CFS_MAX_FD));
    T_ERR(CFS_EBADF, cfs_fd_dup_at(U.fs, a, CFS_MAX_FD + 1, 0));
    T_ERR(CFS_EBADF, cfs_fd_dup_at(U.fs, a, UINT32_MAX, 0));
    T_ERR(CFS_EBADF, cfs_fd_dup_at(U.fs, 60, 61, 0));
    cr_assert_not(t_fd_open(61));

    /* After that, first-free allocation fills the hole below. */
    cr_assert_eq(t_create("b"), 5);
}

Test(fdtable, renumber)
{
    cfs_fd a = t_create("a"); /* 4 */
    cfs_fd b = t_create("b"); /* 5 */
    t_write_all(a, "hello", 5);
    t_write_all(b, "zz", 2);
    cr_assert_eq(t_tell(a), 5);

    T_OK(cfs_fd_renumber(U.fs, a, b));
    cr_assert_not(t_fd_open(a), "the source number is free afterwards");
    cr_assert_eq(t_tell(b), 5, "the offset moves with the description");
    cr_assert_eq(t_fstat(b).ino, t_stat("a").ino);
    t_write_all(b, "!", 1);
    t_expect_content("a", "hello!");
    t_expect_content("b", "zz");

    /* The target must be open; the source must be open. */
    T_ERR(CFS_EBADF, cfs_fd_renumber(U.fs, b, 40));
    T_ERR(CFS_EBADF, cfs_fd_renumber(U.fs, 40, b));
    T_ERR(CFS_EBADF, cfs_fd_renumber(U.fs, a, b));
    T_ERR(CFS_EBADF, cfs_fd_renumber(U.fs, b, CFS_MAX_FD + 1));
    cr_assert(t_fd_open(b), "a failed renumber changes nothing");

    /* Renumbering over a dup of the same description keeps the file open. */
    cfs_fd d;
    T_OK(cfs_fd_dup(U.fs, b, 0, -1, &d));
    T_OK(cfs_fd_renumber(U.fs, d, b));
    cr_assert_not(t_fd_open(d));
    cr_assert_eq(t_tell(b), 6);
    t_write_all(b, "?", 1);
    t_expect_content("a", "hello!?");
}

Test(fdtable, renumber_keeps_rights_and_cloexec_of_source)
{
    cfs_fd a = t_create("a");
    cfs_fd b = t_create("b");
    T_OK(cfs_fd_fdstat_set_rights(U.fs, a,
                                  CFS_RIGHT_FD_READ | CFS_RIGHT_FD_TELL, 0));
    T_OK(cfs_fd_set_cloexec(U.fs, a, 1));
    T_OK(cfs_fd_renumber(U.fs, a, b));
    cfs_fdstat st = fdstat(b);
    cr_assert_eq(st.rights_base, CFS_RIGHT_FD_READ | CFS_RIGHT_FD_TELL);
    cr_assert_eq(st.rights_inheriting, 0);
    cr_assert_eq(cloexec_of(b), 1);
}

Test(fdtable, dups_share_offset_and_append)
{
    cfs_fd a = t_create("f");
    cfs_fd d;
    T_OK(cfs_fd_dup(U.fs, a, 0, -1, &d));
    t_write_all(a, "abcde", 5);
    cr_assert_eq(t_tell(d), 5);
    uint64_t off;
    T_OK(cfs_fd_seek(U.fs, d, 1, CFS_WHENCE_SET, &off));
    cr_assert_eq(t_tell(a), 1);
    char c;
    size_t n;
    T_OK(cfs_fd_read(U.fs, a, &c, 1, &n));
    cr_assert_eq(n, 1);
    cr_assert_eq(c, 'b');
    cr_assert_eq(t_tell(d), 2);

    /* APPEND lives in the description too. */
    T_OK(cfs_fd_fdstat_set_flags(U.fs, a, CFS_FDFLAG_APPEND));
    cr_assert_eq(fdstat(d).flags & CFS_FDFLAG_APPEND, CFS_FDFLAG_APPEND);
    T_OK(cfs_fd_seek(U.fs, d, 0, CFS_WHENCE_SET, &off));
    t_write_all(d, "X", 1);
    t_expect_content("f", "abcdeX");
    cr_assert_eq(t_tell(a), 6);
    T_OK(cfs_fd_fdstat_set_flags(U.fs, d, 0));
    cr_assert_eq(fdstat(a).flags, 0);

    /* A second open of the same file is a separate description. */
    cfs_fd o = t_open(CFS_ROOT_FD, "f", 0, 0);
    cr_assert_eq(t_tell(o), 0);
    cr_assert_eq(fdstat(o).flags, 0);
    T_OK(cfs_fd_fdstat_set_flags(U.fs, o, CFS_FDFLAG_APPEND));
    cr_assert_eq(fdstat(a).flags, 0);
}

Test(fdtable, stdio_dups_share_append)
{
    cfs_fd d;
    T_OK(cfs_fd_dup(U.fs, 1, 0, -1, &d));
    cfs_fdstat st = fdstat(d);
    cr_assert_eq(st.flags, CFS_FDFLAG_APPEND);
    cr_assert_eq(st.rights_base, CFS_RIGHTS_STDOUT);
    cr_assert_eq(t_fstat(d).ino, CFS_INO_STDOUT);
    T_OK(cfs_fd_fdstat_set_flags(U.fs, d, 0));
    cr_assert_eq(fdstat(1).flags, 0);
    cr_assert_eq(fdstat(2).flags, CFS_FDFLAG_APPEND,
                 "stderr is its own description");
}

Test(fdtable, close_cloexec_sweep)
{
    cfs_fd a = t_create("a"), b = t_create("b"), c = t_create("c");
    cfs_fd p;
    T_OK(cfs_path_create_directory(U.fs, CFS_ROOT_FD, "data"));
    T_OK(cfs_fs_preopen(U.fs, "/data", NULL, CFS_PREOPEN_READ, &p));
    T_OK(cfs_fd_set_cloexec(U.fs, a, 1));
    T_OK(cfs_fd_set_cloexec(U.fs, c, 1));
    T_OK(cfs_fd_set_cloexec(U.fs, 1, 1));
    T_OK(cfs_fd_set_cloexec(U.fs, 0, 1));
    T_OK(cfs_fd_set_cloexec(U.fs, CFS_ROOT_FD, 1));
    T_OK(cfs_fd_set_cloexec(U.fs, p, 1));
    cfs_fd d;
    T_OK(cfs_fd_dup(U.fs, b, 0, 1, &d));

    T_OK(cfs_fs_close_cloexec(U.fs));
    cr_assert_not(t_fd_open(a));
    cr_assert_not(t_fd_open(c));
    cr_assert_not(t_fd_open(d));
    cr_assert(t_fd_open(b));
    cr_assert(t_fd_open(0), "stdio stays");
    cr_assert(t_fd_open(1), "stdio stays");
    cr_assert(t_fd_open(2));
    cr_assert(t_fd_open(CFS_ROOT_FD), "preopens stay");
    cr_assert(t_fd_open(p), "preopens stay");

    /* b's description survived its cloexec dup. */
    t_write_all(b, "ok", 2);
    t_expect_content("b", "ok");

    /* A second sweep with nothing to close is harmless. */
    T_OK(cfs_fs_close_cloexec(U.fs));
    cr_assert(t_fd_open(b));
}

Test(fdtable, fork_copies_table_and_shares_descriptions)
{
    cfs_fd a = t_create("f");
    t_write_all(a, "0123456789", 10);
    uint64_t off;
    T_OK(cfs_fd_seek(U.fs, a, 2, CFS_WHENCE_SET, &off));
    T_OK(cfs_fd_set_cloexec(U.fs, a, 1));

    cfs_fs *child = NULL;
    T_OK(cfs_fs_fork(U.fs, &child));
    cr_assert_not_null(child);
    cr_assert_neq(cfs_fs_pid(child), cfs_fs_pid(U.fs));
    cr_assert_eq(cfs_fs_pid(U.fs), 1);

    /* Same fds, same rights, same cloexec flags. */
    for (cfs_fd fd = 0; fd <= a; fd++) {
        cfs_fdstat ps, cs;
        T_OK(cfs_fd_fdstat_get(U.fs, fd, &ps));
        T_OK(cfs_fd_fdstat_get(child, fd, &cs));
        cr_assert_eq(ps.filetype, cs.filetype);
        cr_assert_eq(ps.flags, cs.flags);
        cr_assert_eq(ps.rights_base, cs.rights_base);
        cr_assert_eq(ps.rights_inheriting, cs.rights_inheriting);
    }
    int c = -1;
    T_OK(cfs_fd_get_cloexec(child, a, &c));
    cr_assert_eq(c, 1);
    cr_assert_str_eq(cfs_fs_getcwd(child), cfs_fs_getcwd(U.fs));

    /* Shared description: the child's read moves the parent's offset. */
    uint64_t coff = 0;
    T_OK(cfs_fd_tell(child, a, &coff));
    cr_assert_eq(coff, 2);
    char buf[3];
    size_t n;
    T_OK(cfs_fd_read(child, a, buf, 3, &n));
    cr_assert_eq(n, 3);
    cr_assert(memcmp(buf, "234", 3) == 0);
    cr_assert_eq(t_tell(a), 5);
    T_OK(cfs_fd_fdstat_set_flags(U.fs, a, CFS_FDFLAG_APPEND));
    cfs_fdstat cs;
    T_OK(cfs_fd_fdstat_get(child, a, &cs));
    cr_assert_eq(cs.flags, CFS_FDFLAG_APPEND);

    /* Separate tables: closing or opening in one does not touch the other. */
    T_OK(cfs_fd_close(child, a));
    cr_assert(t_fd_open(a));
    cfs_fd cf = UINT32_MAX;
    T_OK(cfs_path_open(child, CFS_ROOT_FD, 0, "g", CFS_O_CREAT, R_FILE, R_FILE,
                       0, &cf));
    cr_assert_eq(cf, a, "first free in the child's own table");
    cr_assert_eq(t_fstat(a).ino, t_stat("f").ino,
                 "the parent's fd still names f");
    cr_assert(t_exists("g"), "one filesystem");
    cfs_fd pf = t_create("h");
    cr_assert_eq(pf, a + 1);
    cfs_fdstat tmp;
    T_ERR(CFS_EBADF, cfs_fd_fdstat_get(child, pf, &tmp));

    /* A chdir in the child is the child's own. */
    T_OK(cfs_path_create_directory(U.fs, CFS_ROOT_FD, "sub"));
    T_OK(cfs_fs_chdir(child, "/sub"));
    cr_assert_str_eq(cfs_fs_getcwd(child), "/sub");
    cr_assert_str_eq(cfs_fs_getcwd(U.fs), "/");

    T_OK(cfs_fs_exit(child));
    cfs_fs_free(child);

    /* The parent is untouched by the child's exit. */
    cr_assert(t_fd_open(a));
    cr_assert_eq(t_tell(a), 5);
    t_write_all(a, "!", 1);
    t_expect_content("f", "0123456789!");
}

Test(fdtable, fork_of_fork_and_pids)
{
    cfs_fs *c1 = NULL, *c2 = NULL;
    T_OK(cfs_fs_fork(U.fs, &c1));
    T_OK(cfs_fs_fork(c1, &c2));
    cr_assert_neq(cfs_fs_pid(c1), 1);
    cr_assert_neq(cfs_fs_pid(c2), 1);
    cr_assert_neq(cfs_fs_pid(c1), cfs_fs_pid(c2));
    cfs_fd fd = UINT32_MAX;
    T_OK(cfs_path_open(c2, CFS_ROOT_FD, 0, "x", CFS_O_CREAT, R_FILE, R_FILE, 0,
                       &fd));
    cr_assert_eq(fd, 4);
    T_OK(cfs_fs_exit(c2));
    cfs_fs_free(c2);
    T_OK(cfs_fs_exit(c1));
    cfs_fs_free(c1);
    cr_assert(t_exists("x"));
}

Test(fdtable, exit_closes_the_last_reference)
{
    cfs_fs *child = NULL;
    T_OK(cfs_fs_fork(U.fs, &child));
    cfs_fd fd = UINT32_MAX;
    T_OK(cfs_path_open(child, CFS_ROOT_FD, 0, "tmp", CFS_O_CREAT, R_FILE,
                       R_FILE, 0, &fd));
    size_t n;
    T_OK(cfs_fd_write(child, fd, "data", 4, &n));
    T_OK(cfs_path_unlink_file(child, CFS_ROOT_FD, "tmp"));
    uint64_t files_open = t_statfs().files;
    T_OK(cfs_fs_exit(child));
    cfs_fs_free(child);
    cr_assert_eq(t_statfs().files, files_open - 1,
                 "the orphan dies with the last fd of the exited process");
    cr_assert_eq(t_statfs().bytes_used, 0);
}

Test(fdtable, close_all)
{
    cfs_fd a = t_create("a");
    cfs_fd d;
    T_OK(cfs_fd_dup(U.fs, a, 300, -1, &d));
    T_OK(cfs_fs_close_all(U.fs));
    for (cfs_fd fd = 0; fd <= 8; fd++)
        cr_assert_not(t_fd_open(fd), "fd %u still open", fd);
    cr_assert_not(t_fd_open(d));
    cfs_prestat ps;
    T_ERR(CFS_EBADF, cfs_fd_prestat_get(U.fs, CFS_ROOT_FD, &ps));
    /* The filesystem is still there; only the table is empty. */
    cfs_filestat st;
    T_OK(cfs_getattr(U.fs, CFS_INO_ROOT, &st));
    T_OK(cfs_lookup(U.fs, CFS_INO_ROOT, "a", &st));
    T_ERR(CFS_EBADF, cfs_path_open(U.fs, CFS_ROOT_FD, 0, "a", 0, 0, 0, 0, &d));
}

Test(fdtable, emfile_when_every_fd_is_taken)
{
    cfs_fd a = t_create("a"); /* 4 */
    for (cfs_fd fd = a + 1; fd <= CFS_MAX_FD; fd++) {
        cfs_errno e = cfs_fd_dup_at(U.fs, a, fd, -1);
        if (e)
            cr_assert_fail("dup_at %u -> %s", fd, cfs_errno_name(e));
    }
    cfs_fd d = 0;
    T_ERR(CFS_EMFILE, cfs_fd_dup(U.fs, a, 0, -1, &d));
    T_ERR(CFS_EMFILE,
          cfs_path_open(U.fs, CFS_ROOT_FD, 0, "a", 0, R_FILE, R_FILE, 0, &d));
    T_ERR(CFS_EMFILE, cfs_path_open(U.fs, CFS_ROOT_FD, 0, "new", CFS_O_CREAT,
                                    R_FILE, R_FILE, 0, &d));
    cr_assert_not(t_exists("new"), "a failed open creates nothing");
    T_OK(cfs_path_create_directory(U.fs, CFS_ROOT_FD, "dir"));
    T_ERR(CFS_EMFILE,
          cfs_fs_preopen(U.fs, "/dir", "dir", CFS_PREOPEN_READ, &d));

    T_OK(cfs_fd_close(U.fs, 30000));
    T_OK(cfs_fd_dup(U.fs, a, 0, -1, &d));
    cr_assert_eq(d, 30000);
    T_ERR(CFS_EMFILE, cfs_fd_dup(U.fs, a, 0, -1, &d));
}

Test(fdtable, renumber_onto_itself_is_a_no_op)
{
    cfs_fd a = t_create("a");
    t_write_all(a, "abc", 3);
    T_OK(cfs_fd_renumber(U.fs, a, a));
    cr_assert(t_fd_open(a), "renumber(x, x) must not lose x");
    cr_assert_eq(t_tell(a), 3);
    T_ERR(CFS_EBADF, cfs_fd_renumber(U.fs, 77, 77));
}

Test(fdtable, a_renumbered_preopen_stays_a_preopen)
{
    cfs_fd a = t_create("a"); /* 4: a target to renumber onto */
    T_OK(cfs_fd_renumber(U.fs, CFS_ROOT_FD, a));
    cfs_prestat ps;
    T_ERR(CFS_EBADF, cfs_fd_prestat_get(U.fs, CFS_ROOT_FD, &ps));
    T_OK(cfs_fd_prestat_get(U.fs, a, &ps));
    cr_assert_eq(ps.name_len, 1);
    cfs_fd fd = 0;
    const char *rel = NULL;
    T_OK(cfs_fs_find_preopen(U.fs, "/x/y", &fd, &rel));
    cr_assert_eq(fd, a);
    cr_assert_str_eq(rel, "x/y");
    /* Closing it: no preopen matches any more. */
    T_OK(cfs_fd_close(U.fs, a));
    T_ERR(CFS_EINVAL, cfs_fs_find_preopen(U.fs, "/x/y", &fd, &rel));
}

Test(fdtable, a_child_keeps_a_description_alive)
{
    cfs_fd a = t_create("tmp");
    t_write_all(a, "kept", 4);
    cfs_fs *child = NULL;
    T_OK(cfs_fs_fork(U.fs, &child));
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "tmp"));
    uint64_t files = t_statfs().files;
    T_OK(cfs_fd_close(U.fs, a));
    cr_assert_eq(t_statfs().files, files, "the child still holds it");
    char buf[8];
    size_t n;
    T_OK(cfs_fd_pread(child, a, buf, sizeof buf, 0, &n));
    cr_assert_eq(n, 4);
    cr_assert(memcmp(buf, "kept", 4) == 0);
    T_OK(cfs_fs_close_cloexec(child));
    cr_assert(t_fd_open(0));
    T_OK(cfs_fs_close_all(child));
    cr_assert_eq(t_statfs().files, files - 1);
    cr_assert(t_fd_open(0), "the parent's table is its own");
    T_OK(cfs_fs_exit(child));
    cfs_fs_free(child);
}

Test(fdtable, holes_in_the_table_are_found_in_order)
{
    cfs_fd a = t_create("a");
    cfs_fd d;
    for (cfs_fd fd = 5; fd < 40; fd++)
        T_OK(cfs_fd_dup_at(U.fs, a, fd, -1));
    T_OK(cfs_fd_close(U.fs, 20));
    T_OK(cfs_fd_close(U.fs, 10));
    T_OK(cfs_fd_close(U.fs, 30));
    T_OK(cfs_fd_dup(U.fs, a, 0, -1, &d));
    cr_assert_eq(d, 10);
    T_OK(cfs_fd_dup(U.fs, a, 25, -1, &d));
    cr_assert_eq(d, 30, "min 25: 20 is below it");
    T_OK(cfs_fd_dup(U.fs, a, 0, -1, &d));
    cr_assert_eq(d, 20);
    T_OK(cfs_fd_dup(U.fs, a, 0, -1, &d));
    cr_assert_eq(d, 40);
    T_OK(cfs_fd_dup(U.fs, a, 39, -1, &d));
    cr_assert_eq(d, 41);
}
