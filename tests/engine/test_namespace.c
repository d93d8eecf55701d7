/*
 * test_namespace.c — names in directories: mkdir, rmdir, unlink, rename,
 * link and symlink, with the errno Linux gives where WASI is silent
 * (ENOTEMPTY, EISDIR, ENOTDIR, EPERM, EINVAL, EEXIST).
 */
#include "unit.h"

TestSuite(namespace, .init = unit_setup, .fini = unit_teardown);

#define R CFS_ROOT_FD

static void tree(void)
{
    t_mkdir("d");
    t_mkdir("d/sub");
    t_put("d/sub/f", "deep");
    t_mkdir("empty");
    t_put("f", "file");
    t_put("g", "gee");
    T_OK(cfs_path_symlink(U.fs, "d", R, "ld"));
    T_OK(cfs_path_symlink(U.fs, "nowhere", R, "dangling"));
}

Test(namespace, mkdir)
{
    tree();
    T_ERR(CFS_EEXIST, cfs_path_create_directory(U.fs, R, "d"));
    T_ERR(CFS_EEXIST, cfs_path_create_directory(U.fs, R, "f"));
    T_ERR(CFS_EEXIST, cfs_path_create_directory(U.fs, R, "ld"));
    T_ERR(CFS_EEXIST, cfs_path_create_directory(U.fs, R, "dangling"));
    cr_assert_not(t_exists("nowhere"), "mkdir does not follow a link");
    T_ERR(CFS_EEXIST, cfs_path_create_directory(U.fs, R, "."));
    T_ERR(CFS_EEXIST, cfs_path_create_directory(U.fs, R, "d/sub/.."));
    T_ERR(CFS_ENOENT, cfs_path_create_directory(U.fs, R, "no/such"));
    T_OK(cfs_path_create_directory(U.fs, R, "ld/new"));
    cr_assert_eq(t_stat("d/new").filetype, CFS_FILETYPE_DIRECTORY);
    cr_assert_eq(t_stat("d/new").nlink, 2);
}

Test(namespace, rmdir)
{
    tree();
    T_ERR(CFS_ENOTEMPTY, cfs_path_remove_directory(U.fs, R, "d"));
    T_ERR(CFS_ENOTEMPTY, cfs_path_remove_directory(U.fs, R, "d/sub"));
    T_ERR(CFS_ENOTDIR, cfs_path_remove_directory(U.fs, R, "f"));
    T_ERR(CFS_ENOTDIR, cfs_path_remove_directory(U.fs, R, "ld"));
    T_ERR(CFS_ENOENT, cfs_path_remove_directory(U.fs, R, "nope"));
    T_ERR(CFS_EINVAL, cfs_path_remove_directory(U.fs, R, "empty/."));
    cfs_fd e = t_opendir(R, "empty");
    T_ERR(CFS_EINVAL, cfs_path_remove_directory(U.fs, e, "."));
    cr_assert(t_exists("empty"));
    cr_assert(t_exists("ld"));

    T_OK(cfs_path_remove_directory(U.fs, R, "empty"));
    cr_assert_not(t_exists("empty"));
    T_OK(cfs_path_unlink_file(U.fs, R, "d/sub/f"));
    T_OK(cfs_path_remove_directory(U.fs, R, "d/sub/"));
    T_OK(cfs_path_remove_directory(U.fs, R, "d"));
    cr_assert_eq(t_stat(".").nlink, 2);
}

Test(namespace, unlink)
{
    tree();
    T_ERR(CFS_EISDIR, cfs_path_unlink_file(U.fs, R, "d"));
    T_ERR(CFS_EISDIR, cfs_path_unlink_file(U.fs, R, "empty"));
    T_ERR(CFS_EISDIR, cfs_path_unlink_file(U.fs, R, "empty/"));
    T_ERR(CFS_ENOENT, cfs_path_unlink_file(U.fs, R, "nope"));
    T_ERR(CFS_ENOENT, cfs_path_unlink_file(U.fs, R, "d/nope"));
    cr_assert(t_exists("d"));

    /* Unlinking a symlink removes the link, not what it names. */
    T_OK(cfs_path_unlink_file(U.fs, R, "ld"));
    cr_assert_not(t_exists("ld"));
    cr_assert(t_exists("d/sub/f"));
    T_OK(cfs_path_unlink_file(U.fs, R, "dangling"));
    T_OK(cfs_path_unlink_file(U.fs, R, "f"));
    cr_assert_not(t_exists("f"));
    T_ERR(CFS_ENOENT, cfs_path_unlink_file(U.fs, R, "f"));
}

Test(namespace, rename_files)
{
    tree();
    cfs_ino f = t_stat("f").ino;
    T_OK(cfs_path_rename(U.fs, R, "f", R, "h"));
    cr_assert_not(t_exists("f"));
    cr_assert_eq(t_stat("h").ino, f, "rename keeps the inode");
    t_expect_content("h", "file");

    /* Over an existing file: replaced. */
    T_OK(cfs_path_rename(U.fs, R, "h", R, "g"));
    t_expect_content("g", "file");
    cr_assert_eq(t_stat("g").ino, f);
    cr_assert_not(t_exists("h"));

    /* Into another directory, and through a symlinked directory. */
    T_OK(cfs_path_rename(U.fs, R, "g", R, "ld/g"));
    cr_assert_eq(t_stat("d/g").ino, f);
    /* A symlink is renamed, not followed. */
    T_OK(cfs_path_rename(U.fs, R, "dangling", R, "d/dl"));
    cr_assert_eq(t_lstat("d/dl").filetype, CFS_FILETYPE_SYMBOLIC_LINK);

    /* Onto itself: nothing happens. */
    T_OK(cfs_path_rename(U.fs, R, "d/g", R, "d/g"));
    T_OK(cfs_path_rename(U.fs, R, "d/g", R, "d/./g"));
    cr_assert_eq(t_stat("d/g").ino, f);

    T_ERR(CFS_ENOENT, cfs_path_rename(U.fs, R, "nope", R, "x"));
    T_ERR(CFS_ENOENT, cfs_path_rename(U.fs, R, "d/g", R, "no/x"));
    cr_assert(t_exists("d/g"));
}

Test(namespace, rename_directories)
{
    tree();
    cfs_ino d = t_stat("d").ino;
    T_OK(cfs_path_rename(U.fs, R, "d", R, "empty"));
    cr_assert_eq(t_stat("empty").ino, d, "a dir replaces an empty dir");
    cr_assert_not(t_exists("d"));
    t_expect_content("empty/sub/f", "deep");

    t_mkdir("full");
    t_put("full/x", "x");
    T_ERR(CFS_ENOTEMPTY, cfs_path_rename(U.fs, R, "empty", R, "full"));
    T_ERR(CFS_ENOTDIR, cfs_path_rename(U.fs, R, "empty", R, "f"));
    T_ERR(CFS_EISDIR, cfs_path_rename(U.fs, R, "f", R, "full"));
    T_ERR(CFS_EINVAL, cfs_path_rename(U.fs, R, "empty", R, "empty/sub/x"));
    T_ERR(CFS_EINVAL, cfs_path_rename(U.fs, R, "empty", R, "empty/x"));
    /* The target an ancestor of the source: it is not empty. */
    T_ERR(CFS_ENOTEMPTY, cfs_path_rename(U.fs, R, "empty/sub", R, "empty"));
    cr_assert_eq(t_stat("empty").ino, d);
    t_expect_content("full/x", "x");
    t_expect_content("f", "file");

    /* Trailing slashes are fine on directories. */
    T_OK(cfs_path_rename(U.fs, R, "empty/", R, "renamed/"));
    t_expect_content("renamed/sub/f", "deep");
    /* ...but not on a file. */
    T_ERR(CFS_ENOTDIR, cfs_path_rename(U.fs, R, "f/", R, "f2"));
    cr_assert(t_exists("f"));
}

Test(namespace, rename_between_dirfds)
{
    tree();
    cfs_fd p = UINT32_MAX;
    T_OK(cfs_fs_preopen(
        U.fs, "/d", NULL,
        CFS_PREOPEN_READ | CFS_PREOPEN_WRITE | CFS_PREOPEN_CREATE, &p));
    T_OK(cfs_path_rename(U.fs, R, "f", p, "moved"));
    t_expect_content("d/moved", "file");
    T_OK(cfs_path_rename(U.fs, p, "sub", R, "sub"));
    t_expect_content("sub/f", "deep");
}

Test(namespace, link)
{
    tree();
    T_ERR(CFS_EPERM, cfs_path_link(U.fs, R, 0, "d", R, "d2"));
    T_ERR(CFS_EPERM,
          cfs_path_link(U.fs, R, CFS_LOOKUP_SYMLINK_FOLLOW, "ld", R, "d2"));
    cr_assert_not(t_exists("d2"));
    T_ERR(CFS_EEXIST, cfs_path_link(U.fs, R, 0, "f", R, "g"));
    T_ERR(CFS_EEXIST, cfs_path_link(U.fs, R, 0, "f", R, "dangling"));
    T_ERR(CFS_EEXIST, cfs_path_link(U.fs, R, 0, "f", R, "d"));
    T_ERR(CFS_ENOENT, cfs_path_link(U.fs, R, 0, "nope", R, "x"));
    T_ERR(CFS_ENOENT, cfs_path_link(U.fs, R, 0, "f", R, "no/x"));
    T_ERR(CFS_ENOENT, cfs_path_link(U.fs, R, CFS_LOOKUP_SYMLINK_FOLLOW,
                                    "dangling", R, "x"));
    t_expect_content("g", "gee");
    cr_assert_eq(t_stat("f").nlink, 1);
    T_OK(cfs_path_link(U.fs, R, 0, "f", R, "d/f2"));
    cr_assert_eq(t_stat("f").nlink, 2);
    cr_assert_eq(t_stat("d/f2").ino, t_stat("f").ino);
}

Test(namespace, symlink)
{
    tree();
    T_ERR(CFS_EEXIST, cfs_path_symlink(U.fs, "x", R, "f"));
    T_ERR(CFS_EEXIST, cfs_path_symlink(U.fs, "x", R, "d"));
    T_ERR(CFS_EEXIST, cfs_path_symlink(U.fs, "x", R, "dangling"));
    T_ERR(CFS_ENOENT, cfs_path_symlink(U.fs, "x", R, "no/l"));
    t_expect_content("f", "file");

    /* Targets are stored as given, even odd ones. */
    T_OK(cfs_path_symlink(U.fs, "../../../../x", R, "d/up"));
    T_OK(cfs_path_symlink(U.fs, "a//b/./c/", R, "odd"));
    char buf[32];
    size_t n;
    T_OK(cfs_path_readlink(U.fs, R, "odd", buf, sizeof buf, &n));
    cr_assert_eq(n, strlen("a//b/./c/"));
    cr_assert(memcmp(buf, "a//b/./c/", n) == 0);
    cfs_filestat st = t_lstat("odd");
    cr_assert_eq(st.size, n);
    cr_assert_eq(st.nlink, 1);
}

/* "." and ".." as the last component, with Linux's answers. */
Test(namespace, dot_and_dotdot_as_the_last_component)
{
    tree();
    cfs_fd fd;
    T_ERR(CFS_EISDIR, cfs_path_unlink_file(U.fs, R, "d/."));
    T_ERR(CFS_EISDIR, cfs_path_unlink_file(U.fs, R, "d/sub/.."));
    T_ERR(CFS_EINVAL, cfs_path_remove_directory(U.fs, R, "empty/."));
    T_ERR(CFS_ENOTEMPTY, cfs_path_remove_directory(U.fs, R, "d/sub/.."));
    T_ERR(CFS_EBUSY, cfs_path_rename(U.fs, R, "d/.", R, "x"));
    T_ERR(CFS_EBUSY, cfs_path_rename(U.fs, R, "f", R, "d/.."));
    T_ERR(CFS_EEXIST, cfs_path_link(U.fs, R, 0, "f", R, "d/."));
    T_ERR(CFS_EEXIST, cfs_path_symlink(U.fs, "x", R, "d/.."));
    T_ERR(CFS_EEXIST, cfs_path_mknod(U.fs, R, "d/.", 0600));
    T_ERR(CFS_ENOENT, cfs_path_create_directory(U.fs, R, "nd/."));
    T_ERR(CFS_EISDIR, cfs_path_open(U.fs, R, 0, "d/.", CFS_O_CREAT,
                                    CFS_RIGHT_FD_READ, 0, 0, &fd));
    cr_assert(t_exists("d"));
    cr_assert(t_exists("empty"));
    cr_assert_not(t_exists("x"));
}

Test(namespace, create_with_a_trailing_slash)
{
    cfs_fd fd;
    /* Linux: open("new/", O_CREAT) is EISDIR; nothing is created. */
    T_ERR(CFS_EISDIR,
          cfs_path_open(U.fs, R, 0, "new/", CFS_O_CREAT, R_FILE, 0, 0, &fd));
    cr_assert_not(t_exists("new"));
    T_ERR2(CFS_ENOENT, CFS_ENOTDIR, cfs_path_mknod(U.fs, R, "node/", 0600));
    cr_assert_not(t_exists("node"));
    T_ERR2(CFS_ENOENT, CFS_ENOTDIR, cfs_path_symlink(U.fs, "x", R, "sl/"));
    cr_assert_not(t_exists("sl"));
}

Test(namespace, rename_into_itself_through_a_symlink)
{
    tree();
    T_ERR(CFS_EINVAL, cfs_path_rename(U.fs, R, "d", R, "ld/sub/x"));
    T_ERR(CFS_EINVAL, cfs_path_rename(U.fs, R, "d", R, "ld/x"));
    cr_assert(t_exists("d/sub/f"));
}

Test(namespace, rename_over_an_open_empty_directory)
{
    tree();
    cfs_fd e = t_opendir(R, "empty");
    cfs_ino old = t_stat("empty").ino;
    T_OK(cfs_path_rename(U.fs, R, "d/sub", R, "empty"));
    cfs_filestat st;
    T_OK(cfs_fd_filestat_get(U.fs, e, &st));
    cr_assert_eq(st.ino, old);
    cr_assert_eq(st.nlink, 0, "the replaced directory is gone (Linux)");
    cfs_fd fd;
    T_ERR(CFS_ENOENT,
          cfs_path_open(U.fs, e, 0, "x", CFS_O_CREAT, R_FILE, 0, 0, &fd));
    t_expect_content("empty/f", "deep");
    cr_assert_eq(t_stat("d").nlink, 2);
    T_OK(cfs_fd_close(U.fs, e));
}

Test(namespace, an_open_directory_follows_its_renames)
{
    tree();
    cfs_fd sub = t_opendir(R, "d/sub");
    T_OK(cfs_path_rename(U.fs, R, "d/sub", R, "empty/moved"));
    cfs_filestat st;
    T_OK(cfs_path_filestat_get(U.fs, sub, 0, "f", &st));
    T_OK(cfs_path_create_directory(U.fs, sub, "new"));
    cr_assert(t_exists("empty/moved/new"));
}
