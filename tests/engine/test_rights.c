/*
 * test_rights.c — WASI preview1 rights: every call checks the right it needs
 * (ENOTCAPABLE), path_open cannot ask for more than the directory's
 * inheriting rights, rights can only be dropped, and preopen rights derive
 * from read/write/create exactly as in the seed's create_preopens.
 */
#include "unit.h"

TestSuite(rights, .init = unit_setup, .fini = unit_teardown);

/* Open regular file "d/f" (created here with "hello") with exactly `base`. */
static cfs_fd file_with(cfs_rights base)
{
    if (!t_exists("d"))
        t_mkdir("d");
    if (!t_exists("d/f"))
        t_put("d/f", "hello");
    cfs_fd fd = UINT32_MAX;
    T_OK(cfs_path_open(U.fs, CFS_ROOT_FD, 0, "d/f", 0, base, 0, 0, &fd));
    return fd;
}

/* Open directory "d" with `base` (never FD_WRITE) and all inheriting. */
static cfs_fd dir_with(cfs_rights base)
{
    if (!t_exists("d"))
        t_mkdir("d");
    cfs_fd fd = UINT32_MAX;
    T_OK(cfs_path_open(U.fs, CFS_ROOT_FD, 0, "d", CFS_O_DIRECTORY, base,
                       CFS_RIGHTS_ALL, 0, &fd));
    return fd;
}

Test(rights, fd_read_needs_fd_read)
{
    char buf[8];
    size_t n;
    cfs_fd fd = file_with(R_FILE & ~CFS_RIGHT_FD_READ);
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_read(U.fs, fd, buf, sizeof buf, &n));
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_pread(U.fs, fd, buf, sizeof buf, 0, &n));
    cr_assert_eq(t_tell(fd), 0, "a refused read moves nothing");
    cfs_fd ok = file_with(CFS_RIGHT_FD_READ);
    T_OK(cfs_fd_read(U.fs, ok, buf, sizeof buf, &n));
    cr_assert_eq(n, 5);
}

/* WASI: "fd_read ... If fd_seek is set, includes the right to invoke
 * fd_pread": pread needs both. */
Test(rights, fd_pread_needs_read_and_seek)
{
    char buf[8];
    size_t n;
    cfs_fd fd = file_with(CFS_RIGHT_FD_READ);
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_pread(U.fs, fd, buf, sizeof buf, 0, &n));
    fd = file_with(CFS_RIGHT_FD_SEEK);
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_pread(U.fs, fd, buf, sizeof buf, 0, &n));
    fd = file_with(CFS_RIGHT_FD_READ | CFS_RIGHT_FD_SEEK);
    T_OK(cfs_fd_pread(U.fs, fd, buf, sizeof buf, 1, &n));
    cr_assert_eq(n, 4);
}

Test(rights, fd_write_needs_fd_write)
{
    size_t n;
    cfs_fd fd = file_with(R_FILE & ~CFS_RIGHT_FD_WRITE);
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_write(U.fs, fd, "x", 1, &n));
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_pwrite(U.fs, fd, "x", 1, 0, &n));
    t_expect_content("d/f", "hello");
    cr_assert_eq(t_tell(fd), 0);

    /* pwrite needs FD_WRITE and FD_SEEK. */
    fd = file_with(CFS_RIGHT_FD_WRITE);
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_pwrite(U.fs, fd, "x", 1, 0, &n));
    T_OK(cfs_fd_write(U.fs, fd, "J", 1, &n));
    t_expect_content("d/f", "Jello");
    fd = file_with(CFS_RIGHT_FD_WRITE | CFS_RIGHT_FD_SEEK);
    T_OK(cfs_fd_pwrite(U.fs, fd, "Y", 1, 4, &n));
    t_expect_content("d/f", "JellY");
}

Test(rights, seek_and_tell)
{
    uint64_t off;
    cfs_fd fd = file_with(CFS_RIGHT_FD_READ | CFS_RIGHT_FD_TELL);
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_seek(U.fs, fd, 2, CFS_WHENCE_SET, &off));
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_seek(U.fs, fd, 0, CFS_WHENCE_END, &off));
    T_OK(cfs_fd_tell(U.fs, fd, &off));
    cr_assert_eq(off, 0);

    fd = file_with(CFS_RIGHT_FD_READ);
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_tell(U.fs, fd, &off));
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_seek(U.fs, fd, 2, CFS_WHENCE_SET, &off));

    fd = file_with(CFS_RIGHT_FD_SEEK | CFS_RIGHT_FD_TELL);
    T_OK(cfs_fd_seek(U.fs, fd, 2, CFS_WHENCE_SET, &off));
    cr_assert_eq(off, 2);
}

Test(rights, fd_metadata_calls)
{
    cfs_filestat st;
    cfs_fd fd = file_with(R_FILE & ~CFS_RIGHT_FD_FILESTAT_GET);
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_filestat_get(U.fs, fd, &st));

    fd = file_with(R_FILE & ~CFS_RIGHT_FD_FILESTAT_SET_SIZE);
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_filestat_set_size(U.fs, fd, 1));
    cr_assert_eq(t_stat("d/f").size, 5);

    fd = file_with(R_FILE & ~CFS_RIGHT_FD_FILESTAT_SET_TIMES);
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_filestat_set_times(
                               U.fs, fd, 1, 2, CFS_FST_ATIM | CFS_FST_MTIM));
    cr_assert_neq(t_stat("d/f").mtim, 2);

    fd = file_with(R_FILE & ~CFS_RIGHT_FD_ALLOCATE);
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_allocate(U.fs, fd, 0, 100));
    cr_assert_eq(t_stat("d/f").size, 5);

    fd = file_with(R_FILE & ~CFS_RIGHT_FD_ADVISE);
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_advise(U.fs, fd, 0, 5, CFS_ADVICE_NORMAL));

    fd = file_with(R_FILE & ~CFS_RIGHT_FD_SYNC);
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_sync(U.fs, fd));
    fd = file_with(R_FILE & ~CFS_RIGHT_FD_DATASYNC);
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_datasync(U.fs, fd));
    cr_assert_eq(U.rec.syncs, 0, "a refused sync does not reach the sink");

    fd = file_with(R_FILE & ~CFS_RIGHT_FD_FDSTAT_SET_FLAGS);
    T_ERR(CFS_ENOTCAPABLE,
          cfs_fd_fdstat_set_flags(U.fs, fd, CFS_FDFLAG_APPEND));
    cfs_fdstat fst;
    T_OK(cfs_fd_fdstat_get(U.fs, fd, &fst));
    cr_assert_eq(fst.flags, 0);

    /* fdstat_get and close need no right at all. */
    fd = file_with(0);
    T_OK(cfs_fd_fdstat_get(U.fs, fd, &fst));
    cr_assert_eq(fst.rights_base, 0);
    cr_assert_eq(fst.filetype, CFS_FILETYPE_REGULAR_FILE);
    T_OK(cfs_fd_close(U.fs, fd));
}

Test(rights, fd_readdir_needs_fd_readdir)
{
    char buf[256];
    size_t used;
    cfs_fd fd = dir_with(R_DIR & ~CFS_RIGHT_FD_READDIR);
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_readdir(U.fs, fd, buf, sizeof buf,
                                          CFS_DIRCOOKIE_START, &used));
    fd = dir_with(CFS_RIGHT_FD_READDIR);
    T_OK(cfs_fd_readdir(U.fs, fd, buf, sizeof buf, CFS_DIRCOOKIE_START, &used));
    cr_assert_gt(used, 0);
}

Test(rights, path_open_checks_the_dirfd)
{
    t_mkdir("d");
    t_put("d/f", "hello");
    cfs_fd out;

    cfs_fd dfd = dir_with(R_DIR & ~CFS_RIGHT_PATH_OPEN);
    T_ERR(CFS_ENOTCAPABLE,
          cfs_path_open(U.fs, dfd, 0, "f", 0, CFS_RIGHT_FD_READ, 0, 0, &out));

    dfd = dir_with(R_DIR & ~CFS_RIGHT_PATH_CREATE_FILE);
    T_ERR(CFS_ENOTCAPABLE, cfs_path_open(U.fs, dfd, 0, "new", CFS_O_CREAT,
                                         CFS_RIGHT_FD_READ, 0, 0, &out));
    cr_assert_not(t_exists("d/new"));
    /* O_CREAT needs the right even when the file exists. */
    T_ERR(CFS_ENOTCAPABLE, cfs_path_open(U.fs, dfd, 0, "f", CFS_O_CREAT,
                                         CFS_RIGHT_FD_READ, 0, 0, &out));
    T_OK(cfs_path_open(U.fs, dfd, 0, "f", 0, CFS_RIGHT_FD_READ, 0, 0, &out));

    dfd = dir_with(R_DIR & ~CFS_RIGHT_PATH_FILESTAT_SET_SIZE);
    T_ERR(CFS_ENOTCAPABLE, cfs_path_open(U.fs, dfd, 0, "f", CFS_O_TRUNC,
                                         CFS_RIGHT_FD_WRITE, 0, 0, &out));
    t_expect_content("d/f", "hello");
}

Test(rights, path_open_rights_within_inheriting)
{
    t_mkdir("d");
    t_put("d/f", "hello");
    cfs_rights inh = CFS_RIGHT_FD_READ | CFS_RIGHT_FD_SEEK | CFS_RIGHT_FD_TELL;
    cfs_fd dfd = UINT32_MAX, out = UINT32_MAX;
    T_OK(cfs_path_open(U.fs, CFS_ROOT_FD, 0, "d", CFS_O_DIRECTORY, R_DIR, inh,
                       0, &dfd));

    T_ERR(CFS_ENOTCAPABLE,
          cfs_path_open(U.fs, dfd, 0, "f", 0,
                        CFS_RIGHT_FD_READ | CFS_RIGHT_FD_WRITE, 0, 0, &out));
    T_ERR(CFS_ENOTCAPABLE,
          cfs_path_open(U.fs, dfd, 0, "f", 0, CFS_RIGHT_FD_READ,
                        CFS_RIGHT_FD_WRITE, 0, &out));
    uint64_t seq = cfs_fs_seq(U.fs);
    T_OK(cfs_path_open(U.fs, dfd, 0, "f", 0,
                       CFS_RIGHT_FD_READ | CFS_RIGHT_FD_SEEK, CFS_RIGHT_FD_READ,
                       0, &out));
    cr_assert_eq(cfs_fs_seq(U.fs), seq + 1);
    cfs_fdstat st;
    T_OK(cfs_fd_fdstat_get(U.fs, out, &st));
    cr_assert_eq(st.rights_base, CFS_RIGHT_FD_READ | CFS_RIGHT_FD_SEEK,
                 "the new fd has exactly the rights asked for");
    cr_assert_eq(st.rights_inheriting, CFS_RIGHT_FD_READ);
}

Test(rights, path_calls_check_their_right)
{
    t_mkdir("d");
    t_mkdir("d/sub");
    t_put("d/f", "hello");
    T_OK(cfs_path_symlink(U.fs, "f", CFS_ROOT_FD, "d/l"));
    cfs_fd dfd;
    cfs_filestat st;
    char buf[16];
    size_t used;

    dfd = dir_with(R_DIR & ~CFS_RIGHT_PATH_CREATE_DIRECTORY);
    T_ERR(CFS_ENOTCAPABLE, cfs_path_create_directory(U.fs, dfd, "x"));
    cr_assert_not(t_exists("d/x"));

    dfd = dir_with(R_DIR & ~CFS_RIGHT_PATH_REMOVE_DIRECTORY);
    T_ERR(CFS_ENOTCAPABLE, cfs_path_remove_directory(U.fs, dfd, "sub"));
    cr_assert(t_exists("d/sub"));

    dfd = dir_with(R_DIR & ~CFS_RIGHT_PATH_UNLINK_FILE);
    T_ERR(CFS_ENOTCAPABLE, cfs_path_unlink_file(U.fs, dfd, "f"));
    cr_assert(t_exists("d/f"));

    dfd = dir_with(R_DIR & ~CFS_RIGHT_PATH_SYMLINK);
    T_ERR(CFS_ENOTCAPABLE, cfs_path_symlink(U.fs, "f", dfd, "l2"));
    cr_assert_not(t_exists("d/l2"));

    dfd = dir_with(R_DIR & ~CFS_RIGHT_PATH_READLINK);
    T_ERR(CFS_ENOTCAPABLE,
          cfs_path_readlink(U.fs, dfd, "l", buf, sizeof buf, &used));

    dfd = dir_with(R_DIR & ~CFS_RIGHT_PATH_FILESTAT_GET);
    T_ERR(CFS_ENOTCAPABLE, cfs_path_filestat_get(U.fs, dfd, 0, "f", &st));

    dfd = dir_with(R_DIR & ~CFS_RIGHT_PATH_FILESTAT_SET_TIMES);
    T_ERR(CFS_ENOTCAPABLE,
          cfs_path_filestat_set_times(U.fs, dfd, 0, "f", 5, 6,
                                      CFS_FST_ATIM | CFS_FST_MTIM));
    cr_assert_neq(t_stat("d/f").mtim, 6);

    /* The same calls through a full-rights fd work (the controls). */
    dfd = dir_with(R_DIR);
    T_OK(cfs_path_readlink(U.fs, dfd, "l", buf, sizeof buf, &used));
    T_OK(cfs_path_filestat_get(U.fs, dfd, 0, "f", &st));
    T_OK(cfs_path_create_directory(U.fs, dfd, "x"));
    T_OK(cfs_path_remove_directory(U.fs, dfd, "x"));
}

Test(rights, rename_needs_source_and_target_rights)
{
    t_mkdir("d");
    t_put("d/f", "hello");
    cfs_fd full = dir_with(R_DIR);
    cfs_fd nosrc = dir_with(R_DIR & ~CFS_RIGHT_PATH_RENAME_SOURCE);
    cfs_fd notgt = dir_with(R_DIR & ~CFS_RIGHT_PATH_RENAME_TARGET);

    T_ERR(CFS_ENOTCAPABLE, cfs_path_rename(U.fs, nosrc, "f", full, "g"));
    T_ERR(CFS_ENOTCAPABLE, cfs_path_rename(U.fs, full, "f", notgt, "g"));
    cr_assert(t_exists("d/f"));
    cr_assert_not(t_exists("d/g"));
    /* Each side only needs its own right. */
    T_OK(cfs_path_rename(U.fs, notgt, "f", nosrc, "g"));
    cr_assert(t_exists("d/g"));
}

Test(rights, link_needs_source_and_target_rights)
{
    t_mkdir("d");
    t_put("d/f", "hello");
    cfs_fd full = dir_with(R_DIR);
    cfs_fd nosrc = dir_with(R_DIR & ~CFS_RIGHT_PATH_LINK_SOURCE);
    cfs_fd notgt = dir_with(R_DIR & ~CFS_RIGHT_PATH_LINK_TARGET);

    T_ERR(CFS_ENOTCAPABLE, cfs_path_link(U.fs, nosrc, 0, "f", full, "g"));
    T_ERR(CFS_ENOTCAPABLE, cfs_path_link(U.fs, full, 0, "f", notgt, "g"));
    cr_assert_not(t_exists("d/g"));
    cr_assert_eq(t_stat("d/f").nlink, 1);
    T_OK(cfs_path_link(U.fs, notgt, 0, "f", nosrc, "g"));
    cr_assert_eq(t_stat("d/f").nlink, 2);
}

Test(rights, set_rights_can_only_drop)
{
    cfs_fd fd =
        file_with(CFS_RIGHT_FD_READ | CFS_RIGHT_FD_SEEK | CFS_RIGHT_FD_TELL);
    cfs_fdstat st;
    T_ERR(CFS_ENOTCAPABLE,
          cfs_fd_fdstat_set_rights(U.fs, fd,
                                   CFS_RIGHT_FD_READ | CFS_RIGHT_FD_SEEK |
                                       CFS_RIGHT_FD_TELL | CFS_RIGHT_FD_WRITE,
                                   0));
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_fdstat_set_rights(U.fs, fd, CFS_RIGHT_FD_READ,
                                                    CFS_RIGHT_FD_READ));
    T_OK(cfs_fd_fdstat_get(U.fs, fd, &st));
    cr_assert_eq(st.rights_base,
                 CFS_RIGHT_FD_READ | CFS_RIGHT_FD_SEEK | CFS_RIGHT_FD_TELL,
                 "a refused set_rights changes nothing");

    T_OK(cfs_fd_fdstat_set_rights(U.fs, fd,
                                  CFS_RIGHT_FD_SEEK | CFS_RIGHT_FD_TELL, 0));
    char c;
    size_t n;
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_read(U.fs, fd, &c, 1, &n));
    T_ERR(CFS_ENOTCAPABLE,
          cfs_fd_fdstat_set_rights(
              U.fs, fd,
              CFS_RIGHT_FD_READ | CFS_RIGHT_FD_SEEK | CFS_RIGHT_FD_TELL, 0));
    /* Same rights again is not adding. */
    T_OK(cfs_fd_fdstat_set_rights(U.fs, fd,
                                  CFS_RIGHT_FD_SEEK | CFS_RIGHT_FD_TELL, 0));
    T_OK(cfs_fd_fdstat_set_rights(U.fs, fd, 0, 0));
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_tell(U.fs, fd, &(uint64_t){0}));

    /* The root preopen's inheriting rights can be narrowed, and then bind
     * what path_open may hand out. */
    T_OK(cfs_fd_fdstat_set_rights(U.fs, CFS_ROOT_FD, CFS_RIGHTS_ALL,
                                  CFS_RIGHT_FD_READ));
    cfs_fd out;
    T_ERR(CFS_ENOTCAPABLE, cfs_path_open(U.fs, CFS_ROOT_FD, 0, "d/f", 0,
                                         CFS_RIGHT_FD_WRITE, 0, 0, &out));
    T_OK(cfs_path_open(U.fs, CFS_ROOT_FD, 0, "d/f", 0, CFS_RIGHT_FD_READ, 0, 0,
                       &out));
    T_ERR(CFS_ENOTCAPABLE,
          cfs_fd_fdstat_set_rights(U.fs, CFS_ROOT_FD, CFS_RIGHTS_ALL,
                                   CFS_RIGHTS_ALL));
}

Test(rights, set_rights_is_per_fd)
{
    cfs_fd fd = file_with(R_FILE);
    cfs_fd d;
    T_OK(cfs_fd_dup(U.fs, fd, 0, -1, &d));
    cfs_fdstat st;
    T_OK(cfs_fd_fdstat_get(U.fs, d, &st));
    cr_assert_eq(st.rights_base, R_FILE, "dup copies the rights");
    T_OK(cfs_fd_fdstat_set_rights(U.fs, fd, CFS_RIGHT_FD_READ, 0));
    T_OK(cfs_fd_fdstat_get(U.fs, d, &st));
    cr_assert_eq(st.rights_base, R_FILE, "the dup keeps its own rights");
}

Test(rights, stdio_rights_hold)
{
    size_t n;
    char c;
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_write(U.fs, 0, "x", 1, &n));
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_read(U.fs, 1, &c, 1, &n));
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_read(U.fs, 2, &c, 1, &n));
    T_OK(cfs_fd_write(U.fs, 1, "out", 3, &n));
    cr_assert_eq(n, 3);
    T_OK(cfs_fd_read(U.fs, 0, &c, 1, &n));
    cr_assert_eq(n, 0, "stdin has no data");
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_allocate(U.fs, 1, 0, 10));
    T_ERR(CFS_ENOTCAPABLE, cfs_fd_filestat_set_size(U.fs, 1, 0));
}

/* The seed's create_preopens, bit for bit. */
static cfs_rights seed_preopen_rights(unsigned perm)
{
    cfs_rights r = CFS_RIGHT_FD_ADVISE | CFS_RIGHT_FD_TELL | CFS_RIGHT_FD_SEEK;
    if (perm & CFS_PREOPEN_READ)
        r |= CFS_RIGHT_FD_READ | CFS_RIGHT_PATH_OPEN | CFS_RIGHT_FD_READDIR |
             CFS_RIGHT_PATH_READLINK | CFS_RIGHT_PATH_FILESTAT_GET |
             CFS_RIGHT_FD_FILESTAT_GET | CFS_RIGHT_PATH_LINK_SOURCE |
             CFS_RIGHT_PATH_RENAME_SOURCE | CFS_RIGHT_POLL_FD_READWRITE |
             CFS_RIGHT_SOCK_SHUTDOWN;
    if (perm & CFS_PREOPEN_WRITE)
        r |= CFS_RIGHT_FD_DATASYNC | CFS_RIGHT_FD_FDSTAT_SET_FLAGS |
             CFS_RIGHT_FD_WRITE | CFS_RIGHT_FD_SYNC | CFS_RIGHT_FD_ALLOCATE |
             CFS_RIGHT_PATH_OPEN | CFS_RIGHT_PATH_RENAME_TARGET |
             CFS_RIGHT_PATH_FILESTAT_SET_SIZE |
             CFS_RIGHT_PATH_FILESTAT_SET_TIMES |
             CFS_RIGHT_FD_FILESTAT_SET_SIZE | CFS_RIGHT_FD_FILESTAT_SET_TIMES |
             CFS_RIGHT_PATH_REMOVE_DIRECTORY | CFS_RIGHT_PATH_UNLINK_FILE |
             CFS_RIGHT_POLL_FD_READWRITE | CFS_RIGHT_SOCK_SHUTDOWN;
    if (perm & CFS_PREOPEN_CREATE)
        r |= CFS_RIGHT_PATH_CREATE_DIRECTORY | CFS_RIGHT_PATH_CREATE_FILE |
             CFS_RIGHT_PATH_LINK_TARGET | CFS_RIGHT_PATH_OPEN |
             CFS_RIGHT_PATH_RENAME_TARGET | CFS_RIGHT_PATH_SYMLINK;
    return r;
}

Test(rights, preopen_rights_match_the_seed)
{
    t_mkdir("data");
    for (unsigned perm = 0; perm < 8; perm++) {
        char alias[16];
        snprintf(alias, sizeof alias, "p%u", perm);
        cfs_fd fd = UINT32_MAX;
        T_OK(cfs_fs_preopen(U.fs, "/data", alias, perm, &fd));
        cfs_fdstat st;
        T_OK(cfs_fd_fdstat_get(U.fs, fd, &st));
        cfs_rights want = seed_preopen_rights(perm);
        cr_assert_eq(st.rights_base, want,
                     "perm %u: base %#llx, want %#llx (diff %#llx)", perm,
                     (unsigned long long)st.rights_base,
                     (unsigned long long)want,
                     (unsigned long long)(st.rights_base ^ want));
        cr_assert_eq(st.rights_inheriting, want, "perm %u: inheriting", perm);
        cr_assert_eq(st.filetype, CFS_FILETYPE_DIRECTORY);
        cr_assert_eq(st.flags, 0);
    }
}

Test(rights, read_only_preopen_is_read_only)
{
    t_mkdir("data");
    t_put("data/f", "hello");
    cfs_fd p = UINT32_MAX, out;
    T_OK(cfs_fs_preopen(U.fs, "/data", NULL, CFS_PREOPEN_READ, &p));

    T_ERR(CFS_ENOTCAPABLE,
          cfs_path_open(U.fs, p, 0, "f", 0, CFS_RIGHT_FD_WRITE, 0, 0, &out));
    T_ERR(CFS_ENOTCAPABLE, cfs_path_open(U.fs, p, 0, "g", CFS_O_CREAT,
                                         CFS_RIGHT_FD_READ, 0, 0, &out));
    T_ERR(CFS_ENOTCAPABLE, cfs_path_create_directory(U.fs, p, "sub"));
    T_ERR(CFS_ENOTCAPABLE, cfs_path_unlink_file(U.fs, p, "f"));
    T_ERR(CFS_ENOTCAPABLE, cfs_path_symlink(U.fs, "f", p, "l"));
    T_ERR(CFS_ENOTCAPABLE, cfs_path_rename(U.fs, p, "f", p, "g"));
    cr_assert_not(t_exists("data/g"));
    cr_assert(t_exists("data/f"));

    T_OK(cfs_path_open(U.fs, p, 0, "f", 0, CFS_RIGHT_FD_READ, 0, 0, &out));
    char buf[8];
    size_t n;
    T_OK(cfs_fd_read(U.fs, out, buf, sizeof buf, &n));
    cr_assert_eq(n, 5);

    /* read + write without create: existing files only. */
    cfs_fd w = UINT32_MAX;
    T_OK(cfs_fs_preopen(U.fs, "/data", "rw",
                        CFS_PREOPEN_READ | CFS_PREOPEN_WRITE, &w));
    T_ERR(CFS_ENOTCAPABLE, cfs_path_open(U.fs, w, 0, "g", CFS_O_CREAT,
                                         CFS_RIGHT_FD_WRITE, 0, 0, &out));
    T_OK(cfs_path_open(U.fs, w, 0, "f", CFS_O_TRUNC, CFS_RIGHT_FD_WRITE, 0, 0,
                       &out));
    cr_assert_eq(t_stat("data/f").size, 0);
    T_OK(cfs_path_unlink_file(U.fs, w, "f"));
}
