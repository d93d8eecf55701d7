/*
 * test_paths.c — path resolution from a directory fd: "." and "..", the
 * root that ".." cannot leave, preopens that paths cannot escape, symlinks
 * (chains, the 128 limit, loops, absolute targets, no-follow), name and
 * path length limits, ENOTDIR/EISDIR, the seed's relative-to-absolute rules
 * (every case of test_relative_path_to_absolute), the longest-prefix
 * preopen match, and prestat.
 */
#include "unit.h"

TestSuite(paths, .init = unit_setup, .fini = unit_teardown);

static cfs_errno stat_at(cfs_fd dirfd, uint32_t lf, const char *path,
                         cfs_filestat *st)
{
    return cfs_path_filestat_get(U.fs, dirfd, lf, path, st);
}

static cfs_errno open_ro(cfs_fd dirfd, uint32_t lf, const char *path,
                         uint16_t oflags, cfs_fd *out)
{
    return cfs_path_open(U.fs, dirfd, lf, path, oflags, CFS_RIGHT_FD_READ, 0, 0,
                         out);
}

/* Read the whole file named by dirfd+path (following symlinks). */
static void expect_at(cfs_fd dirfd, const char *path, const char *want)
{
    cfs_fd fd = UINT32_MAX;
    T_OK(cfs_path_open(U.fs, dirfd, CFS_LOOKUP_SYMLINK_FOLLOW, path, 0,
                       CFS_RIGHT_FD_READ, 0, 0, &fd));
    char buf[256];
    size_t n = 0;
    T_OK(cfs_fd_read(U.fs, fd, buf, sizeof buf, &n));
    T_OK(cfs_fd_close(U.fs, fd));
    cr_assert_eq(n, strlen(want), "%s: %zu bytes, want %zu", path, n,
                 strlen(want));
    cr_assert(memcmp(buf, want, n) == 0, "%s: wrong content", path);
}

static cfs_fd preopen(const char *guest, const char *alias, unsigned perm)
{
    cfs_fd fd = UINT32_MAX;
    T_OK(cfs_fs_preopen(U.fs, guest, alias, perm, &fd));
    return fd;
}

#define ALLPERM (CFS_PREOPEN_READ | CFS_PREOPEN_WRITE | CFS_PREOPEN_CREATE)

/* ---- "." and ".."
 * ------------------------------------------------------------ */

Test(paths, dot_and_dotdot)
{
    t_mkdir("a");
    t_mkdir("a/b");
    t_put("a/f", "in a");
    cfs_filestat st;
    T_OK(stat_at(CFS_ROOT_FD, 0, ".", &st));
    cr_assert_eq(st.ino, CFS_INO_ROOT);
    expect_at(CFS_ROOT_FD, "./a/./f", "in a");
    expect_at(CFS_ROOT_FD, "a/b/../f", "in a");
    expect_at(CFS_ROOT_FD, "a/b/./../../a/f", "in a");
    T_OK(stat_at(CFS_ROOT_FD, 0, "a/b/..", &st));
    cr_assert_eq(st.ino, t_stat("a").ino);
    T_OK(stat_at(CFS_ROOT_FD, 0, "a/.", &st));
    cr_assert_eq(st.ino, t_stat("a").ino);
    /* Repeated slashes are one separator. */
    expect_at(CFS_ROOT_FD, "a//f", "in a");
    expect_at(CFS_ROOT_FD, "a/b//..///f", "in a");
}

Test(paths, dotdot_at_the_root_stays_at_the_root)
{
    t_mkdir("etc");
    t_put("etc/f", "etc f");
    cfs_filestat st;
    T_OK(stat_at(CFS_ROOT_FD, 0, "..", &st));
    cr_assert_eq(st.ino, CFS_INO_ROOT);
    T_OK(stat_at(CFS_ROOT_FD, 0, "../../..", &st));
    cr_assert_eq(st.ino, CFS_INO_ROOT);
    expect_at(CFS_ROOT_FD, "../etc/f", "etc f");
    expect_at(CFS_ROOT_FD, "../../etc/../../etc/f", "etc f");
    expect_at(CFS_ROOT_FD, "/../etc/f", "etc f");
    /* The root's ".." is itself. */
    T_OK(cfs_lookup(U.fs, CFS_INO_ROOT, "..", &st));
    cr_assert_eq(st.ino, CFS_INO_ROOT);
}

Test(paths, dotdot_cannot_leave_a_preopen)
{
    t_mkdir("data");
    t_mkdir("data/sub");
    t_put("data/f", "data f");
    t_put("secret", "no");
    cfs_fd p = preopen("/data", NULL, ALLPERM);
    cfs_fd fd;
    cfs_filestat st;

    expect_at(p, "f", "data f");
    expect_at(p, "sub/../f", "data f");
    expect_at(p, "./sub/./../f", "data f");
    T_ERR(CFS_ENOTCAPABLE, open_ro(p, 0, "../secret", 0, &fd));
    T_ERR(CFS_ENOTCAPABLE, open_ro(p, 0, "sub/../../secret", 0, &fd));
    T_ERR(CFS_ENOTCAPABLE, stat_at(p, 0, "..", &st));
    /* Even a detour that would come back inside is an escape. */
    T_ERR(CFS_ENOTCAPABLE, open_ro(p, 0, "../data/f", 0, &fd));
    T_ERR(CFS_ENOTCAPABLE, cfs_path_create_directory(U.fs, p, "../x"));
    cr_assert_not(t_exists("x"));
    T_ERR(CFS_ENOTCAPABLE, cfs_path_open(U.fs, p, 0, "../new", CFS_O_CREAT,
                                         CFS_RIGHT_FD_WRITE, 0, 0, &fd));
    cr_assert_not(t_exists("new"));
    T_ERR(CFS_ENOTCAPABLE, cfs_path_unlink_file(U.fs, p, "../secret"));
    T_ERR(CFS_ENOTCAPABLE, cfs_path_rename(U.fs, p, "f", p, "../stolen"));
    cr_assert(t_exists("secret"));
    cr_assert_not(t_exists("stolen"));
}

/* A directory fd from path_open is a capability too (WASI: a path may not
 * leave the directory it is resolved from). */
Test(paths, dotdot_cannot_leave_an_opened_directory)
{
    t_mkdir("d");
    t_put("top", "top");
    cfs_fd dfd = t_opendir(CFS_ROOT_FD, "d");
    cfs_fd fd;
    T_ERR(CFS_ENOTCAPABLE, open_ro(dfd, 0, "../top", 0, &fd));
}

Test(paths, absolute_paths_are_relative_to_the_dirfd)
{
    t_mkdir("data");
    t_put("data/f", "data f");
    t_put("f", "root f");
    cfs_fd p = preopen("/data", NULL, ALLPERM);
    expect_at(CFS_ROOT_FD, "/f", "root f");
    expect_at(CFS_ROOT_FD, "/data/f", "data f");
    expect_at(p, "/f", "data f");
    expect_at(p, "//f", "data f");
    cfs_fd dfd = t_opendir(CFS_ROOT_FD, "data");
    expect_at(dfd, "/f", "data f");
    cfs_filestat st;
    T_OK(stat_at(p, 0, "/", &st));
    cr_assert_eq(st.ino, t_stat("data").ino);
}

/* ---- symlinks
 * ----------------------------------------------------------------- */

Test(paths, symlink_chains)
{
    t_mkdir("d");
    t_put("d/f", "target");
    T_OK(cfs_path_symlink(U.fs, "d/f", CFS_ROOT_FD, "l1"));
    T_OK(cfs_path_symlink(U.fs, "l1", CFS_ROOT_FD, "l2"));
    T_OK(cfs_path_symlink(U.fs, "l2", CFS_ROOT_FD, "l3"));
    T_OK(cfs_path_symlink(U.fs, "d", CFS_ROOT_FD, "dl"));
    T_OK(cfs_path_symlink(U.fs, "dl", CFS_ROOT_FD, "dl2"));
    expect_at(CFS_ROOT_FD, "l3", "target");
    expect_at(CFS_ROOT_FD, "dl2/f", "target");
    /* Relative targets resolve from the symlink's own directory. */
    T_OK(cfs_path_symlink(U.fs, "f", CFS_ROOT_FD, "d/rel"));
    expect_at(CFS_ROOT_FD, "d/rel", "target");
    expect_at(CFS_ROOT_FD, "dl/rel", "target");
    T_OK(cfs_path_symlink(U.fs, "../d/f", CFS_ROOT_FD, "d/up"));
    expect_at(CFS_ROOT_FD, "dl2/up", "target");

    cfs_filestat st = t_stat("l3");
    cr_assert_eq(st.ino, t_stat("d/f").ino);
    cr_assert_eq(st.filetype, CFS_FILETYPE_REGULAR_FILE);
}

Test(paths, dotdot_after_a_symlink_is_physical)
{
    /* As on Linux: "x/.." is the parent of what x points at. */
    t_mkdir("a");
    t_mkdir("a/b");
    t_mkdir("a/b/c");
    t_put("a/b/f", "in b");
    T_OK(cfs_path_symlink(U.fs, "a/b/c", CFS_ROOT_FD, "x"));
    expect_at(CFS_ROOT_FD, "x/../f", "in b");
    cfs_filestat st;
    T_OK(stat_at(CFS_ROOT_FD, 0, "x/..", &st));
    cr_assert_eq(st.ino, t_stat("a/b").ino);
}

/* Build a chain name0 -> name1 -> ... -> name{n-1} -> "t" in the root. */
static void chain(const char *prefix, unsigned n)
{
    char name[32], target[32];
    for (unsigned i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s%u", prefix, i);
        if (i + 1 < n)
            snprintf(target, sizeof target, "%s%u", prefix, i + 1);
        else
            snprintf(target, sizeof target, "t");
        T_OK(cfs_path_symlink(U.fs, target, CFS_ROOT_FD, name));
    }
}

Test(paths, up_to_128_symlinks_are_followed)
{
    t_put("t", "end");
    chain("ok", CFS_MAX_SYMLINKS);
    expect_at(CFS_ROOT_FD, "ok0", "end");
    cfs_filestat st;
    T_OK(stat_at(CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "ok0", &st));
    cr_assert_eq(st.filetype, CFS_FILETYPE_REGULAR_FILE);

    chain("bad", CFS_MAX_SYMLINKS + 1);
    cfs_fd fd;
    T_ERR(CFS_ELOOP,
          open_ro(CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "bad0", 0, &fd));
    T_ERR(CFS_ELOOP,
          stat_at(CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "bad0", &st));
    /* One link less from the second link: exactly 128 again. */
    expect_at(CFS_ROOT_FD, "bad1", "end");
}

Test(paths, symlinks_in_the_middle_count_too)
{
    t_mkdir("d");
    t_put("d/f", "deep");
    /* dir0 -> dir1 -> ... -> dir127 -> d: 128 links to reach d, then one
     * more component. */
    char name[32], target[32];
    for (unsigned i = 0; i < CFS_MAX_SYMLINKS; i++) {
        snprintf(name, sizeof name, "dir%u", i);
        if (i + 1 < CFS_MAX_SYMLINKS)
            snprintf(target, sizeof target, "dir%u", i + 1);
        else
            snprintf(target, sizeof target, "d");
        T_OK(cfs_path_symlink(U.fs, target, CFS_ROOT_FD, name));
    }
    expect_at(CFS_ROOT_FD, "dir0/f", "deep");
    /* ...and a 129th link inside d makes it too many. */
    T_OK(cfs_path_symlink(U.fs, "f", CFS_ROOT_FD, "d/lf"));
    expect_at(CFS_ROOT_FD, "dir1/lf", "deep");
    cfs_fd fd;
    T_ERR(CFS_ELOOP,
          open_ro(CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "dir0/lf", 0, &fd));
}

Test(paths, symlink_loops_are_eloop)
{
    T_OK(cfs_path_symlink(U.fs, "self", CFS_ROOT_FD, "self"));
    T_OK(cfs_path_symlink(U.fs, "b", CFS_ROOT_FD, "a"));
    T_OK(cfs_path_symlink(U.fs, "a", CFS_ROOT_FD, "b"));
    T_OK(cfs_path_symlink(U.fs, "deeper/x", CFS_ROOT_FD, "deeper"));
    cfs_fd fd;
    cfs_filestat st;
    T_ERR(CFS_ELOOP,
          open_ro(CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "self", 0, &fd));
    T_ERR(CFS_ELOOP,
          open_ro(CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "a", 0, &fd));
    T_ERR(CFS_ELOOP, stat_at(CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "b", &st));
    T_ERR(CFS_ELOOP, stat_at(CFS_ROOT_FD, 0, "a/x", &st));
    T_ERR(CFS_ELOOP,
          open_ro(CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "deeper", 0, &fd));
    T_ERR(CFS_ELOOP, cfs_path_create_directory(U.fs, CFS_ROOT_FD, "a/new"));
    T_ERR(CFS_ELOOP,
          cfs_path_open(U.fs, CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "self",
                        CFS_O_CREAT, CFS_RIGHT_FD_WRITE, 0, 0, &fd));
    /* Without follow, the link itself is fine. */
    T_OK(stat_at(CFS_ROOT_FD, 0, "a", &st));
    cr_assert_eq(st.filetype, CFS_FILETYPE_SYMBOLIC_LINK);
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "self"));
}

Test(paths, absolute_symlink_targets_resolve_from_the_guest_root)
{
    t_mkdir("etc");
    t_put("etc/conf", "conf");
    t_mkdir("data");
    t_mkdir("data/sub");
    T_OK(cfs_path_symlink(U.fs, "/etc/conf", CFS_ROOT_FD, "data/abs"));
    T_OK(cfs_path_symlink(U.fs, "/etc", CFS_ROOT_FD, "data/sub/etcdir"));
    T_OK(cfs_path_symlink(U.fs, "../etc/conf", CFS_ROOT_FD, "data/rel"));
    expect_at(CFS_ROOT_FD, "data/abs", "conf");
    expect_at(CFS_ROOT_FD, "/data/sub/etcdir/conf", "conf");
    expect_at(CFS_ROOT_FD, "data/rel", "conf");

    /* From a non-root preopen, neither may leave it. */
    cfs_fd p = preopen("/data", NULL, ALLPERM);
    cfs_fd fd;
    cfs_filestat st;
    T_ERR(CFS_ENOTCAPABLE,
          open_ro(p, CFS_LOOKUP_SYMLINK_FOLLOW, "abs", 0, &fd));
    T_ERR(CFS_ENOTCAPABLE,
          open_ro(p, CFS_LOOKUP_SYMLINK_FOLLOW, "rel", 0, &fd));
    T_ERR(CFS_ENOTCAPABLE, stat_at(p, 0, "sub/etcdir/conf", &st));
    /* Not following the last link is no escape. */
    T_OK(stat_at(p, 0, "abs", &st));
    cr_assert_eq(st.filetype, CFS_FILETYPE_SYMBOLIC_LINK);
    cr_assert_eq(st.size, strlen("/etc/conf"));
}

Test(paths, lookupflags_on_stat)
{
    t_put("f", "hello");
    T_OK(cfs_path_symlink(U.fs, "f", CFS_ROOT_FD, "l"));
    t_mkdir("d");
    t_put("d/g", "g");
    T_OK(cfs_path_symlink(U.fs, "d", CFS_ROOT_FD, "dl"));

    cfs_filestat lst = t_lstat("l"), st = t_stat("l");
    cr_assert_eq(lst.filetype, CFS_FILETYPE_SYMBOLIC_LINK);
    cr_assert_eq(lst.mode & CFS_S_IFMT, CFS_S_IFLNK);
    cr_assert_eq(lst.size, 1, "a symlink's size is its target's length");
    cr_assert_neq(lst.ino, st.ino);
    cr_assert_eq(st.filetype, CFS_FILETYPE_REGULAR_FILE);
    cr_assert_eq(st.size, 5);
    cr_assert_eq(st.ino, t_stat("f").ino);

    /* Only the last component is affected: links before it are followed. */
    cfs_filestat g = t_lstat("dl/g");
    cr_assert_eq(g.filetype, CFS_FILETYPE_REGULAR_FILE);
    cr_assert_eq(g.ino, t_stat("d/g").ino);

    /* A trailing slash means "a directory": the link is followed. */
    cfs_filestat ds;
    T_OK(stat_at(CFS_ROOT_FD, 0, "dl/", &ds));
    cr_assert_eq(ds.filetype, CFS_FILETYPE_DIRECTORY);
    cr_assert_eq(ds.ino, t_stat("d").ino);
}

Test(paths, open_of_a_symlink)
{
    t_put("f", "hello");
    T_OK(cfs_path_symlink(U.fs, "f", CFS_ROOT_FD, "l"));
    T_OK(cfs_path_symlink(U.fs, "nowhere", CFS_ROOT_FD, "dangling"));
    cfs_fd fd;

    T_ERR(CFS_ELOOP, open_ro(CFS_ROOT_FD, 0, "l", 0, &fd));
    T_ERR(CFS_ELOOP, cfs_path_open(U.fs, CFS_ROOT_FD, 0, "l", CFS_O_CREAT,
                                   CFS_RIGHT_FD_WRITE, 0, 0, &fd));
    T_ERR(CFS_ELOOP, cfs_path_open(U.fs, CFS_ROOT_FD, 0, "l", CFS_O_TRUNC,
                                   CFS_RIGHT_FD_WRITE, 0, 0, &fd));
    t_expect_content("f", "hello");
    T_OK(open_ro(CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "l", 0, &fd));

    /* O_CREAT|O_EXCL never follows: the dangling link exists. */
    T_ERR(CFS_EEXIST, cfs_path_open(U.fs, CFS_ROOT_FD, 0, "dangling",
                                    CFS_O_CREAT | CFS_O_EXCL,
                                    CFS_RIGHT_FD_WRITE, 0, 0, &fd));
    T_ERR(CFS_EEXIST,
          cfs_path_open(U.fs, CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW,
                        "dangling", CFS_O_CREAT | CFS_O_EXCL,
                        CFS_RIGHT_FD_WRITE, 0, 0, &fd));
    cr_assert_not(t_exists("nowhere"));
    T_ERR(CFS_ENOENT,
          open_ro(CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "dangling", 0, &fd));
    /* O_CREAT alone follows it and creates the target, as on Linux. */
    T_OK(cfs_path_open(U.fs, CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "dangling",
                       CFS_O_CREAT, CFS_RIGHT_FD_WRITE, 0, 0, &fd));
    cr_assert(t_exists("nowhere"));
    cr_assert_eq(t_lstat("dangling").filetype, CFS_FILETYPE_SYMBOLIC_LINK);
}

Test(paths, readlink)
{
    T_OK(cfs_path_symlink(U.fs, "some/where/../x", CFS_ROOT_FD, "l"));
    char buf[64];
    size_t used = 99;
    T_OK(cfs_path_readlink(U.fs, CFS_ROOT_FD, "l", buf, sizeof buf, &used));
    cr_assert_eq(used, strlen("some/where/../x"));
    cr_assert(memcmp(buf, "some/where/../x", used) == 0,
              "the target is stored as is");
    T_OK(cfs_path_readlink(U.fs, CFS_ROOT_FD, "l", buf, 4, &used));
    cr_assert_eq(used, 4, "truncated to the buffer");
    cr_assert(memcmp(buf, "some", 4) == 0);
    t_put("f", "x");
    T_ERR(CFS_EINVAL,
          cfs_path_readlink(U.fs, CFS_ROOT_FD, "f", buf, sizeof buf, &used));
    T_ERR(CFS_ENOENT,
          cfs_path_readlink(U.fs, CFS_ROOT_FD, "nope", buf, sizeof buf, &used));
}

/* ---- lengths
 * -------------------------------------------------------------------- */

Test(paths, name_max)
{
    char name[CFS_NAME_MAX + 2];
    memset(name, 'n', CFS_NAME_MAX);
    name[CFS_NAME_MAX] = '\0';
    cfs_fd fd = t_create(name);
    T_OK(cfs_fd_close(U.fs, fd));
    T_OK(cfs_path_create_directory(U.fs, CFS_ROOT_FD, "d"));

    name[CFS_NAME_MAX] = 'n';
    name[CFS_NAME_MAX + 1] = '\0';
    cfs_filestat st;
    T_ERR(CFS_ENAMETOOLONG, cfs_path_open(U.fs, CFS_ROOT_FD, 0, name,
                                          CFS_O_CREAT, R_FILE, 0, 0, &fd));
    T_ERR(CFS_ENAMETOOLONG, stat_at(CFS_ROOT_FD, 0, name, &st));
    T_ERR(CFS_ENAMETOOLONG, cfs_path_create_directory(U.fs, CFS_ROOT_FD, name));
    T_ERR(CFS_ENAMETOOLONG, cfs_path_symlink(U.fs, "x", CFS_ROOT_FD, name));
    T_ERR(CFS_ENAMETOOLONG,
          cfs_path_rename(U.fs, CFS_ROOT_FD, "d", CFS_ROOT_FD, name));
    char path[CFS_NAME_MAX + 8];
    snprintf(path, sizeof path, "d/%s", name);
    T_ERR(CFS_ENAMETOOLONG, cfs_path_create_directory(U.fs, CFS_ROOT_FD, path));
    cr_assert(t_exists("d"));
}

Test(paths, path_max)
{
    /* "a/a/a/.../a" of exactly CFS_PATH_MAX bytes is a valid path (that
     * does not exist); one byte more is too long. */
    static char path[CFS_PATH_MAX + 2];
    for (size_t i = 0; i < CFS_PATH_MAX; i++)
        path[i] = (i % 2) ? '/' : 'a';
    path[CFS_PATH_MAX - 1] = 'b'; /* ends in a name, not a slash */
    path[CFS_PATH_MAX] = '\0';
    cfs_filestat st;
    cfs_fd fd;
    T_ERR(CFS_ENOENT, stat_at(CFS_ROOT_FD, 0, path, &st));
    path[CFS_PATH_MAX] = 'c';
    path[CFS_PATH_MAX + 1] = '\0';
    T_ERR(CFS_ENAMETOOLONG, stat_at(CFS_ROOT_FD, 0, path, &st));
    T_ERR(CFS_ENAMETOOLONG, open_ro(CFS_ROOT_FD, 0, path, 0, &fd));
    T_ERR(CFS_ENAMETOOLONG, cfs_path_create_directory(U.fs, CFS_ROOT_FD, path));
    T_ERR(CFS_ENAMETOOLONG, cfs_path_unlink_file(U.fs, CFS_ROOT_FD, path));
    /* A symlink target is a path too. */
    T_ERR(CFS_ENAMETOOLONG, cfs_path_symlink(U.fs, path, CFS_ROOT_FD, "l"));
    cr_assert_not(t_exists("l"));
}

/* ---- ENOTDIR / EISDIR
 * --------------------------------------------------------------- */

Test(paths, enotdir)
{
    t_put("f", "file");
    T_OK(cfs_path_symlink(U.fs, "f", CFS_ROOT_FD, "lf"));
    cfs_filestat st;
    cfs_fd fd;
    T_ERR(CFS_ENOTDIR, stat_at(CFS_ROOT_FD, 0, "f/", &st));
    T_ERR(CFS_ENOTDIR,
          stat_at(CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "f/", &st));
    T_ERR(CFS_ENOTDIR, open_ro(CFS_ROOT_FD, 0, "f/", 0, &fd));
    T_ERR(CFS_ENOTDIR, stat_at(CFS_ROOT_FD, 0, "f/x", &st));
    T_ERR(CFS_ENOTDIR, stat_at(CFS_ROOT_FD, 0, "f/.", &st));
    T_ERR(CFS_ENOTDIR, stat_at(CFS_ROOT_FD, 0, "f/..", &st));
    T_ERR(CFS_ENOTDIR, stat_at(CFS_ROOT_FD, 0, "lf/", &st));
    T_ERR(CFS_ENOTDIR, cfs_path_create_directory(U.fs, CFS_ROOT_FD, "f/x"));
    T_ERR(CFS_ENOTDIR, cfs_path_open(U.fs, CFS_ROOT_FD, 0, "f/x", CFS_O_CREAT,
                                     R_FILE, 0, 0, &fd));
    T_ERR(CFS_ENOTDIR, cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "f/"));
    cr_assert(t_exists("f"));
    T_ERR(CFS_ENOTDIR, open_ro(CFS_ROOT_FD, 0, "f", CFS_O_DIRECTORY, &fd));
    T_ERR(CFS_ENOTDIR, open_ro(CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "lf",
                               CFS_O_DIRECTORY, &fd));

    /* A file fd as the directory of a path call. */
    cfs_fd ffd = t_open(CFS_ROOT_FD, "f", 0, 0);
    T_ERR(CFS_ENOTDIR, stat_at(ffd, 0, "x", &st));
    T_ERR(CFS_ENOTDIR, cfs_path_create_directory(U.fs, ffd, "x"));
    T_ERR(CFS_ENOTDIR, open_ro(ffd, 0, "x", 0, &fd));

    /* Trailing slashes on directories are fine; mkdir accepts one. */
    t_mkdir("d");
    T_OK(stat_at(CFS_ROOT_FD, 0, "d/", &st));
    T_OK(stat_at(CFS_ROOT_FD, 0, "d//", &st));
    T_OK(cfs_path_create_directory(U.fs, CFS_ROOT_FD, "e/"));
    cr_assert_eq(t_stat("e").filetype, CFS_FILETYPE_DIRECTORY);
}

Test(paths, eisdir_on_open)
{
    t_mkdir("d");
    cfs_fd fd;
    T_ERR(CFS_EISDIR,
          cfs_path_open(U.fs, CFS_ROOT_FD, 0, "d", 0,
                        CFS_RIGHT_FD_READ | CFS_RIGHT_FD_WRITE, 0, 0, &fd));
    T_ERR(CFS_EISDIR, cfs_path_open(U.fs, CFS_ROOT_FD, 0, "d", CFS_O_TRUNC,
                                    CFS_RIGHT_FD_READ, 0, 0, &fd));
    T_ERR(CFS_EISDIR, cfs_path_open(U.fs, CFS_ROOT_FD, 0, "d", CFS_O_CREAT,
                                    CFS_RIGHT_FD_READ, 0, 0, &fd));
    T_ERR(CFS_EEXIST,
          cfs_path_open(U.fs, CFS_ROOT_FD, 0, "d", CFS_O_CREAT | CFS_O_EXCL,
                        CFS_RIGHT_FD_READ, 0, 0, &fd));
    /* Without write rights a directory opens, with or without O_DIRECTORY. */
    T_OK(open_ro(CFS_ROOT_FD, 0, "d", 0, &fd));
    cfs_fdstat st;
    T_OK(cfs_fd_fdstat_get(U.fs, fd, &st));
    cr_assert_eq(st.filetype, CFS_FILETYPE_DIRECTORY);
    T_OK(open_ro(CFS_ROOT_FD, 0, "d", CFS_O_DIRECTORY, &fd));
    T_OK(open_ro(CFS_ROOT_FD, 0, ".", CFS_O_DIRECTORY, &fd));
    T_OK(cfs_fd_fdstat_get(U.fs, fd, &st));
    cr_assert_eq(st.filetype, CFS_FILETYPE_DIRECTORY);
    /* Reading a directory fd is EISDIR. */
    char c;
    size_t n;
    T_ERR(CFS_EISDIR, cfs_fd_read(U.fs, fd, &c, 1, &n));
}

Test(paths, missing_components)
{
    cfs_fd fd;
    cfs_filestat st;
    T_ERR(CFS_ENOENT, stat_at(CFS_ROOT_FD, 0, "nope", &st));
    T_ERR(CFS_ENOENT, stat_at(CFS_ROOT_FD, 0, "nope/x", &st));
    T_ERR(CFS_ENOENT, cfs_path_open(U.fs, CFS_ROOT_FD, 0, "nope/x", CFS_O_CREAT,
                                    R_FILE, 0, 0, &fd));
    T_ERR(CFS_ENOENT, cfs_path_create_directory(U.fs, CFS_ROOT_FD, "a/b"));
    T_ERR(CFS_ENOENT, open_ro(CFS_ROOT_FD, 0, "", 0, &fd));
    T_ERR(CFS_ENOENT, stat_at(CFS_ROOT_FD, 0, "", &st));
}

/* ---- relative_path_to_absolute (the seed's test, every case)
 * ------------------------ */

static void expect_abs(const char *path, const char *want)
{
    char buf[CFS_PATH_MAX + 1];
    memset(buf, 'X', sizeof buf);
    T_OK(cfs_fs_abspath(U.fs, path, buf, sizeof buf));
    cr_assert_str_eq(buf, want, "abspath(\"%s\") with cwd \"%s\"", path,
                     cfs_fs_getcwd(U.fs));
}

Test(paths, seed_relative_path_to_absolute)
{
    t_mkdir("home");
    t_mkdir("home/user");
    t_mkdir("a");
    t_mkdir("a/b");
    t_mkdir("a/b/c");

    /* Absolute paths are returned as is, no normalization. */
    expect_abs("/foo/bar", "/foo/bar");
    expect_abs("/", "/");
    expect_abs("//foo//bar//", "//foo//bar//");
    expect_abs("/a/b/./c", "/a/b/./c");
    expect_abs("/a/b/../c", "/a/b/../c");

    /* Relative paths with the root as current directory. */
    expect_abs("foo/bar", "/foo/bar");
    expect_abs("foo", "/foo");

    T_OK(cfs_fs_chdir(U.fs, "/home/user"));
    cr_assert_str_eq(cfs_fs_getcwd(U.fs), "/home/user");
    expect_abs("file.txt", "/home/user/file.txt");
    expect_abs("dir/file.txt", "/home/user/dir/file.txt");

    T_OK(cfs_fs_chdir(U.fs, "/a/b/c"));
    expect_abs("./file.txt", "/a/b/c/./file.txt");
    expect_abs("../file.txt", "/a/b/c/../file.txt");
    expect_abs("../../file.txt", "/a/b/c/../../file.txt");
    expect_abs(".", "/a/b/c/.");
    expect_abs("..", "/a/b/c/..");
    expect_abs("", "/a/b/c/");

    /* A current directory with a trailing slash. */
    T_OK(cfs_fs_chdir(U.fs, "/home/user/"));
    expect_abs("file.txt", "/home/user/file.txt");
    T_OK(cfs_fs_chdir(U.fs, "/home/user"));
    expect_abs("file.txt", "/home/user/file.txt");
}

Test(paths, chdir_and_abspath_errors)
{
    t_mkdir("a");
    t_mkdir("a/b");
    t_put("f", "x");
    T_ERR(CFS_ENOENT, cfs_fs_chdir(U.fs, "/nope"));
    T_ERR(CFS_ENOTDIR, cfs_fs_chdir(U.fs, "/f"));
    cr_assert_str_eq(cfs_fs_getcwd(U.fs), "/",
                     "a failed chdir changes nothing");
    T_OK(cfs_fs_chdir(U.fs, "/a"));
    T_OK(cfs_fs_chdir(U.fs, "b"));
    cr_assert_str_eq(cfs_fs_getcwd(U.fs), "/a/b", "relative to the cwd");
    T_ERR(CFS_ENOENT, cfs_fs_chdir(U.fs, "b"));

    char small[8];
    T_ERR(CFS_ENAMETOOLONG,
          cfs_fs_abspath(U.fs, "file.txt", small, sizeof small));
    T_ERR(CFS_ENAMETOOLONG,
          cfs_fs_abspath(U.fs, "/abcdefgh", small, sizeof small));
    T_OK(cfs_fs_abspath(U.fs, "/abcdef", small, sizeof small));
    cr_assert_str_eq(small, "/abcdef");
    char exact[sizeof "/a/b/x"];
    T_OK(cfs_fs_abspath(U.fs, "x", exact, sizeof exact));
    cr_assert_str_eq(exact, "/a/b/x");
    T_ERR(CFS_ENAMETOOLONG, cfs_fs_abspath(U.fs, "x", exact, sizeof exact - 1));
}

/* ---- longest-prefix preopen match
 * ---------------------------------------------------- */

static void expect_match(const char *path, cfs_fd want_fd, const char *want_rel)
{
    cfs_fd fd = UINT32_MAX;
    const char *rel = NULL;
    T_OK(cfs_fs_find_preopen(U.fs, path, &fd, &rel));
    cr_assert_eq(fd, want_fd, "%s: fd %u, want %u", path, fd, want_fd);
    cr_assert_not_null(rel);
    cr_assert_str_eq(rel, want_rel, "%s: rel \"%s\", want \"%s\"", path, rel,
                     want_rel);
    cr_assert(rel >= path && rel <= path + strlen(path),
              "rel points into the path");
}

Test(paths, seed_longest_prefix_preopen_match)
{
    t_mkdir("a");
    t_mkdir("a/b");
    t_mkdir("a/c");
    t_mkdir("a/b/c");
    cfs_fd fa = preopen("/a", NULL, ALLPERM);
    cfs_fd fab = preopen("/a/b", NULL, ALLPERM);
    cfs_fd fac = preopen("/a/c", NULL, ALLPERM);

    expect_match("/a/b/c/file", fab, "c/file");
    expect_match("/a/c/x", fac, "x");
    expect_match("/a/x/y", fa, "x/y");
    expect_match("/a/bb/y", fa, "bb/y");
    expect_match("/zzz", CFS_ROOT_FD, "zzz");
    expect_match("/a/b", fab, "");
    expect_match("/", CFS_ROOT_FD, "");
}

Test(paths, preopen_match_is_component_wise)
{
    t_mkdir("a");
    t_mkdir("ab");
    cfs_fd fa = preopen("/a", NULL, ALLPERM);
    expect_match("/ab/x", CFS_ROOT_FD, "ab/x");
    expect_match("/abc", CFS_ROOT_FD, "abc");
    expect_match("/a/x", fa, "x");
}

Test(paths, preopen_match_ties_favour_the_later_fd)
{
    t_mkdir("a");
    cfs_fd f1 = preopen("/a", "first", ALLPERM);
    cfs_fd f2 = preopen("/a", "second", ALLPERM);
    cr_assert_gt(f2, f1);
    expect_match("/a/file", f2, "file");
}

Test(paths, preopen_match_without_a_match)
{
    t_mkdir("a");
    cfs_fd fa = preopen("/a", NULL, ALLPERM);
    T_OK(cfs_fd_close(U.fs, CFS_ROOT_FD));
    cfs_fd fd;
    const char *rel;
    T_ERR(CFS_EINVAL, cfs_fs_find_preopen(U.fs, "/b/x", &fd, &rel));
    expect_match("/a/x", fa, "x");
}

/* ---- preopens and prestat
 * ----------------------------------------------------------------- */

Test(paths, preopen_is_the_directory_itself)
{
    t_mkdir("data");
    t_put("data/f", "x");
    cfs_fd p = preopen("/data", NULL, ALLPERM);
    cr_assert_eq(p, 4, "first free fd");
    cr_assert_eq(t_fstat(p).ino, t_stat("data").ino);
    /* Changes through the preopen are changes in the tree. */
    T_OK(cfs_path_create_directory(U.fs, p, "made"));
    cr_assert(t_exists("data/made"));
}

Test(paths, preopen_errors)
{
    t_mkdir("data");
    t_put("f", "x");
    cfs_fd fd = 77;
    T_ERR(CFS_EINVAL, cfs_fs_preopen(U.fs, "data", NULL, ALLPERM, &fd));
    T_ERR(CFS_ENOENT, cfs_fs_preopen(U.fs, "/nope", NULL, ALLPERM, &fd));
    T_ERR(CFS_ENOTDIR, cfs_fs_preopen(U.fs, "/f", NULL, ALLPERM, &fd));
    cr_assert_not(t_fd_open(4), "failed preopens open nothing");
}

Test(paths, duplicate_preopen_alias)
{
    t_mkdir("data");
    t_mkdir("other");
    cfs_fd fd = UINT32_MAX;
    T_OK(cfs_fs_preopen(U.fs, "/data", "dataset", ALLPERM, &fd));
    uint64_t seq = cfs_fs_seq(U.fs);
    T_ERR(CFS_EEXIST, cfs_fs_preopen(U.fs, "/other", "dataset", ALLPERM, &fd));
    cr_assert(strstr(cfs_fs_errmsg(U.fs), "dataset") != NULL,
              "errmsg names the alias: \"%s\"", cfs_fs_errmsg(U.fs));
    cr_assert_eq(cfs_fs_seq(U.fs), seq);

    T_OK(cfs_fs_preopen(U.fs, "/other", NULL, ALLPERM, &fd));
    T_ERR(CFS_EEXIST, cfs_fs_preopen(U.fs, "/other", NULL, ALLPERM, &fd));
    cr_assert(strstr(cfs_fs_errmsg(U.fs), "/other") != NULL,
              "errmsg names the path: \"%s\"", cfs_fs_errmsg(U.fs));
    /* The root preopen is named "/". */
    T_ERR(CFS_EEXIST, cfs_fs_preopen(U.fs, "/data", "/", ALLPERM, &fd));
    /* The same directory under another name is fine. */
    T_OK(cfs_fs_preopen(U.fs, "/data", "again", ALLPERM, &fd));
}

Test(paths, prestat)
{
    t_mkdir("data");
    t_mkdir("data/x");
    cfs_fd p1 = preopen("/data", NULL, CFS_PREOPEN_READ);
    cfs_fd p2 = preopen("/data/x", "xs", CFS_PREOPEN_READ);
    cfs_prestat ps;
    char buf[32];

    T_OK(cfs_fd_prestat_get(U.fs, p1, &ps));
    cr_assert_eq(ps.tag, 0);
    cr_assert_eq(ps.name_len, 5);
    memset(buf, 0, sizeof buf);
    T_OK(cfs_fd_prestat_dir_name(U.fs, p1, buf, 5));
    cr_assert_str_eq(buf, "/data", "exactly name_len bytes, no NUL needed");
    T_ERR(CFS_ENAMETOOLONG, cfs_fd_prestat_dir_name(U.fs, p1, buf, 4));

    T_OK(cfs_fd_prestat_get(U.fs, p2, &ps));
    cr_assert_eq(ps.name_len, 2, "the alias is the name");
    memset(buf, 0, sizeof buf);
    T_OK(cfs_fd_prestat_dir_name(U.fs, p2, buf, sizeof buf));
    cr_assert_str_eq(buf, "xs");
    T_ERR(CFS_ENAMETOOLONG, cfs_fd_prestat_dir_name(U.fs, p2, buf, 1));
    T_ERR(CFS_ENAMETOOLONG, cfs_fd_prestat_dir_name(U.fs, p2, buf, 0));

    /* Not preopens: stdio, an opened file or directory, a closed fd. */
    cfs_fd f = t_create("f");
    cfs_fd d = t_opendir(CFS_ROOT_FD, "data");
    T_ERR(CFS_EBADF, cfs_fd_prestat_get(U.fs, 0, &ps));
    T_ERR(CFS_EBADF, cfs_fd_prestat_get(U.fs, f, &ps));
    T_ERR(CFS_EBADF, cfs_fd_prestat_get(U.fs, d, &ps));
    T_ERR(CFS_EBADF, cfs_fd_prestat_get(U.fs, 999, &ps));
    T_ERR(CFS_EBADF, cfs_fd_prestat_dir_name(U.fs, f, buf, sizeof buf));
    T_ERR(CFS_EBADF, cfs_fd_prestat_dir_name(U.fs, 999, buf, sizeof buf));
}

Test(paths, symlink_to_dot_and_trailing_slash_targets)
{
    t_mkdir("d");
    t_put("d/f", "in d");
    T_OK(cfs_path_symlink(U.fs, ".", CFS_ROOT_FD, "d/here"));
    expect_at(CFS_ROOT_FD, "d/here/here/here/f", "in d");
    /* A target with a trailing slash must name a directory. */
    T_OK(cfs_path_symlink(U.fs, "f/", CFS_ROOT_FD, "d/fslash"));
    cfs_fd fd;
    T_ERR(CFS_ENOTDIR,
          open_ro(CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "d/fslash", 0, &fd));
    T_OK(cfs_path_symlink(U.fs, "../d/", CFS_ROOT_FD, "d/dslash"));
    expect_at(CFS_ROOT_FD, "d/dslash/f", "in d");
}

Test(paths, preopen_through_a_symlink)
{
    t_mkdir("real");
    t_put("real/f", "real f");
    T_OK(cfs_path_symlink(U.fs, "real", CFS_ROOT_FD, "alias"));
    cfs_fd p = preopen("/alias", NULL, ALLPERM);
    cr_assert_eq(t_fstat(p).ino, t_stat("real").ino);
    expect_at(p, "f", "real f");
    expect_match("/alias/f", p, "f");
}

Test(paths, relative_symlinks_inside_a_preopen)
{
    t_mkdir("data");
    t_mkdir("data/sub");
    t_put("data/f", "data f");
    t_put("outside", "no");
    T_OK(cfs_path_symlink(U.fs, "..", CFS_ROOT_FD, "data/sub/up"));
    T_OK(cfs_path_symlink(U.fs, "../..", CFS_ROOT_FD, "data/sub/upup"));
    cfs_fd p = preopen("/data", NULL, ALLPERM);
    cfs_fd fd;
    expect_at(p, "sub/up/f", "data f");
    T_ERR(CFS_ENOTCAPABLE, open_ro(p, 0, "sub/upup/outside", 0, &fd));
    T_ERR(CFS_ENOTCAPABLE,
          open_ro(p, CFS_LOOKUP_SYMLINK_FOLLOW, "sub/upup", 0, &fd));
    /* The same links from the root preopen are fine. */
    expect_at(CFS_ROOT_FD, "data/sub/upup/outside", "no");
}
