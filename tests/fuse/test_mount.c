/*
 * test_mount.c — `chronofs mount` end to end: real programs and system
 * calls through the kernel on a FUSE mount of a journal, then the journal
 * checked, replayed and restored after unmounting.
 *
 * Every test mounts a fresh journal in its own temp dir with the built
 * chronofs (CHRONOFS_BIN) running `mount --foreground` in a child process,
 * waits until the mount point's st_dev changes, and always unmounts: the
 * suite's .fini and an atexit handler both unmount what is still mounted,
 * and the mount process gets SIGTERM (which unmounts) if the test process
 * dies (PR_SET_PDEATHSIG). Needs root, /dev/fuse and fusermount3.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfs_journal.h"
#include "cfs_test_util.h"
#include "cfs_replay.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif

struct fixture {
    char root[64];
    char small[128]; /* a small tmpfs mounted for the journal, if any */
    char j[256], mnt[128], host[128], out[128];
    pid_t pid; /* the mount process, 0 when not mounted */
    bool daemon; /* mounted by a daemon (no pid here) */
};
static struct fixture F;

static char *path_in(const char *dir, const char *rel)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, rel);
    return buf[k];
}
#define M(rel) path_in(F.mnt, rel)

/* Unmount if mounted and wait for the mount process; its exit status. */
static int unmount_now(void)
{
    if (!F.pid)
        return 0;
    pid_t pid = F.pid;
    F.pid = 0;
    return cfs_test_fuse_unmount(pid, F.mnt);
}

static void cleanup(void)
{
    unmount_now();
    if (F.daemon) {
        cfs_test_sh("fusermount3 -u '%s' 2>/dev/null || fusermount3 -u -z '%s' 2>/dev/null",
           F.mnt, F.mnt);
        F.daemon = false;
    }
    if (F.small[0]) {
        cfs_test_sh("umount '%s' 2>/dev/null", F.small);
        F.small[0] = 0;
    }
    if (F.root[0]) {
        cfs_test_sh("rm -rf '%s'", F.root);
        F.root[0] = 0;
    }
}

static void setup(void)
{
    /* A machine without FUSE (a container without /dev/fuse, not root)
     * cannot run these: say so instead of failing. */
    if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0 ||
        cfs_test_sh("command -v fusermount3 >/dev/null") != 0)
        cr_skip_test("needs root, /dev/fuse and fusermount3");
    static int registered;
    if (!registered) {
        atexit(cleanup);
        registered = 1;
    }
    memset(&F, 0, sizeof F);
    strcpy(F.root, "/tmp/cfs-fuse-XXXXXX");
    cr_assert_not_null(mkdtemp(F.root));
    cr_assert_eq(chmod(F.root, 0755), 0); /* other uids reach the mount */
    snprintf(F.j, sizeof F.j, "%s/j", F.root);
    snprintf(F.mnt, sizeof F.mnt, "%s/mnt", F.root);
    snprintf(F.host, sizeof F.host, "%s/host", F.root);
    snprintf(F.out, sizeof F.out, "%s/out", F.root);
    cr_assert_eq(mkdir(F.mnt, 0755), 0);
    cr_assert_eq(mkdir(F.host, 0755), 0);
    cr_assert_eq(cfs_test_sh("'%s' init '%s'", CHRONOFS_BIN, F.j), 0, "chronofs init");
    umask(022);
}

TestSuite(mount, .init = setup, .fini = cleanup, .timeout = 300);

/* Mount F.j at F.mnt in the foreground, with up to two extra arguments. */
static void mount_with(const char *a1, const char *a2)
{
    const char *extra[] = {a1, a2, NULL}; /* a2 only with a1 */
    char err[512];
    F.pid = cfs_test_fuse_mount(CHRONOFS_BIN, F.j, F.mnt, extra, err, sizeof err);
    cr_assert_neq(F.pid, 0, "%s", err);
}

static void mount_rw(void)
{
    mount_with(NULL, NULL);
}

static void unmount_ok(void)
{
    int rc = unmount_now();
    cr_assert_eq(rc, 0, "chronofs mount exited with %d", rc);
}

static void put(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
    cr_assert_eq(close(fd), 0);
}

static void expect_content(const char *path, const char *want)
{
    char buf[4096];
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    cr_assert_geq(n, 0);
    buf[n] = 0;
    cr_assert_str_eq(buf, want, "%s", path);
}

/* The mount's journal, opened read-only (another process reading it). */
static cfs_journal *open_ro(void)
{
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.read_only = 1;
    cfs_journal *j = NULL;
    char err[1024];
    cr_assert_eq(cfs_journal_open(F.j, &o, &j, err, sizeof err), 0, "%s", err);
    return j;
}

static uint64_t head_seq(void)
{
    cfs_journal *j = open_ro();
    uint64_t seq = cfs_journal_committed(j);
    cfs_journal_close(j);
    return seq;
}

/* ---- system calls through the kernel ------------------------------------- */

/* `stat -c '%n %F %a %u %g %t %T'` of each name in `dir`, sorted, into
 * file `out`: type (as stat(1) names it), mode, owner, device numbers. */
static void stat_list(const char *dir, const char *names, const char *out)
{
    cr_assert_eq(cfs_test_sh("cd '%s' && stat -c '%%n %%F %%a %%u %%g %%t %%T' %s | sort > '%s'",
                    dir, names, out), 0, "stat in %s", dir);
}

Test(mount, special_files)
{
    const char *names = "fifo sock null loop fifo.link";
    /* the same nodes on the host, for comparison */
    cr_assert_eq(cfs_test_sh("cd '%s' && mkfifo -m 0640 fifo && mknod -m 0666 null c 1 3 && "
                    "mknod -m 0660 loop b 7 200 && ln fifo fifo.link && "
                    "python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"sock\")' && "
                    "chmod 0755 sock", F.host), 0);
    mount_rw();
    umask(0); /* the modes as given, as mknod -m makes them on the host */
    cr_assert_eq(mkfifo(M("fifo"), 0640), 0);
    cr_assert_eq(mknod(M("sock"), S_IFSOCK | 0755, 0), 0);
    cr_assert_eq(mknod(M("null"), S_IFCHR | 0666, makedev(1, 3)), 0, "%s", strerror(errno));
    cr_assert_eq(mknod(M("loop"), S_IFBLK | 0660, makedev(7, 200)), 0);
    cr_assert_eq(link(M("fifo"), M("fifo.link")), 0);
    cr_assert_eq(mkfifo(M("fifo"), 0600), -1);
    cr_assert_eq(errno, EEXIST);

    struct stat st, host;
    cr_assert_eq(stat(M("fifo"), &st), 0);
    cr_assert_eq(st.st_mode, S_IFIFO | 0640);
    cr_assert_eq(st.st_nlink, 2);
    cr_assert_eq(st.st_size, 0);
    cr_assert_eq(stat(M("null"), &st), 0);
    cr_assert_eq(stat("/dev/null", &host), 0);
    cr_assert_eq(st.st_mode, host.st_mode, "mode %o, /dev/null %o", st.st_mode, host.st_mode);
    cr_assert_eq(st.st_rdev, host.st_rdev);
    cr_assert_eq(lstat(M("loop"), &st), 0);
    cr_assert(S_ISBLK(st.st_mode));
    cr_assert_eq(st.st_rdev, makedev(7, 200));
    cr_assert_eq(lstat(M("sock"), &st), 0);
    cr_assert(S_ISSOCK(st.st_mode));

    /* type, mode, owner and device numbers as stat(1) sees them */
    char la[256], lb[256];
    snprintf(la, sizeof la, "%s/list.host", F.root);
    snprintf(lb, sizeof lb, "%s/list.mnt", F.root);
    stat_list(F.host, names, la);
    stat_list(F.mnt, names, lb);
    cr_assert_eq(cfs_test_sh("diff '%s' '%s'", la, lb), 0, "stat -c differs");

    /* readdir's types */
    DIR *d = opendir(F.mnt);
    cr_assert_not_null(d);
    int types = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, "fifo"))
            types += de->d_type == DT_FIFO;
        if (!strcmp(de->d_name, "null"))
            types += de->d_type == DT_CHR;
        if (!strcmp(de->d_name, "loop"))
            types += de->d_type == DT_BLK;
        if (!strcmp(de->d_name, "sock"))
            types += de->d_type == DT_SOCK;
    }
    closedir(d);
    cr_assert_eq(types, 4, "readdir types");

    /* a writer and a reader through the FIFO: the kernel serves the pipe */
    fflush(NULL);
    pid_t w = fork();
    cr_assert_geq(w, 0);
    if (w == 0) {
        int fd = open(M("fifo.link"), O_WRONLY);
        if (fd < 0 || write(fd, "through the pipe\n", 17) != 17)
            _exit(1);
        _exit(close(fd) ? 1 : 0);
    }
    int fd = open(M("fifo"), O_RDONLY);
    cr_assert_geq(fd, 0, "open fifo: %s", strerror(errno));
    char buf[64];
    size_t got = 0;
    ssize_t n;
    while ((n = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)n;
    close(fd);
    buf[got] = 0;
    int status;
    cr_assert_eq(waitpid(w, &status, 0), w);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer failed");
    cr_assert_str_eq(buf, "through the pipe\n");
    /* The device is never opened through us: libfuse mounts nodev (a
     * safe default), so the kernel refuses it (EACCES) on its own. */
    cr_assert_eq(open(M("null"), O_WRONLY), -1);
    cr_assert_eq(errno, EACCES);
    cr_assert_eq(cfs_test_sh("grep -q ' %s fuse.chronofs [^ ]*nodev' /proc/mounts", F.mnt), 0,
                 "the mount is not nodev");

    /* chmod, chown, rename, unlink of special files */
    cr_assert_eq(chmod(M("sock"), 0700), 0);
    cr_assert_eq(chown(M("loop"), 12, 34), 0);
    cr_assert_eq(lstat(M("loop"), &st), 0);
    cr_assert_eq(st.st_uid, 12);
    cr_assert_eq(rename(M("sock"), M("sock2")), 0);
    cr_assert_eq(lstat(M("sock2"), &st), 0);
    cr_assert_eq(st.st_mode, S_IFSOCK | 0700);
    cr_assert_eq(rename(M("sock2"), M("sock")), 0);
    cr_assert_eq(chmod(M("sock"), 0755), 0);
    cr_assert_eq(chown(M("loop"), 0, 0), 0);
    cr_assert_eq(mkfifo(M("tmp"), 0600), 0);
    cr_assert_eq(unlink(M("tmp")), 0);
    cr_assert_eq(lstat(M("tmp"), &st), -1);
    unmount_ok();

    /* after unmounting: the journal verifies, a restore has them */
    cr_assert_eq(cfs_test_sh("'%s' verify '%s' >/dev/null", CHRONOFS_BIN, F.j), 0);
    cr_assert_eq(cfs_test_sh("'%s' restore '%s' '%s' >/dev/null", CHRONOFS_BIN, F.j, F.out), 0);
    stat_list(F.out, names, lb);
    cr_assert_eq(cfs_test_sh("diff '%s' '%s'", la, lb), 0, "the restored tree's stat -c differs");
    cr_assert_eq(lstat(path_in(F.out, "fifo"), &st), 0);
    cr_assert_eq(lstat(path_in(F.out, "fifo.link"), &host), 0);
    cr_assert_eq(st.st_ino, host.st_ino, "restored as one inode with two names");
}

Test(mount, file_and_namespace_calls)
{
    mount_rw();
    struct stat st;
    put(M("a"), "hello world");
    cr_assert_eq(stat(M("a"), &st), 0);
    cr_assert_eq(st.st_size, 11);
    cr_assert_eq(st.st_mode, S_IFREG | 0644);
    expect_content(M("a"), "hello world");

    cr_assert_eq(rename(M("a"), M("b")), 0);
    cr_assert_eq(access(M("a"), F_OK), -1);
    cr_assert_eq(link(M("b"), M("c")), 0);
    cr_assert_eq(stat(M("b"), &st), 0);
    cr_assert_eq(st.st_nlink, 2);
    cr_assert_eq(symlink("b", M("s")), 0);
    char tgt[64];
    ssize_t n = readlink(M("s"), tgt, sizeof tgt);
    cr_assert_eq(n, 1);
    cr_assert_eq(tgt[0], 'b');
    expect_content(M("s"), "hello world");
    cr_assert_eq(lstat(M("s"), &st), 0);
    cr_assert(S_ISLNK(st.st_mode));

    cr_assert_eq(mkdir(M("d"), 0750), 0);
    cr_assert_eq(stat(M("d"), &st), 0);
    cr_assert_eq(st.st_mode, S_IFDIR | 0750);
    cr_assert_eq(mkdir(M("d/e"), 0755), 0);
    cr_assert_eq(stat(M("d"), &st), 0);
    cr_assert_eq(st.st_nlink, 3, "a directory has 2 + subdirectories links");
    cr_assert_eq(rename(M("c"), M("d/c")), 0);
    cr_assert_eq(rmdir(M("d")), -1);
    cr_assert_eq(errno, ENOTEMPTY);
    cr_assert_eq(unlink(M("d/c")), 0);
    cr_assert_eq(rmdir(M("d/e")), 0);
    cr_assert_eq(rmdir(M("d")), 0);
    cr_assert_eq(stat(M("d"), &st), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(stat(M("b"), &st), 0);
    cr_assert_eq(st.st_nlink, 1);

    /* renameat2 flags */
    put(M("x"), "x");
    cr_assert_eq(syscall(SYS_renameat2, AT_FDCWD, M("x"), AT_FDCWD, M("b"),
                         RENAME_NOREPLACE), -1);
    cr_assert_eq(errno, EEXIST);
    cr_assert_eq(syscall(SYS_renameat2, AT_FDCWD, M("x"), AT_FDCWD, M("y"),
                         RENAME_NOREPLACE), 0);
    cr_assert_eq(syscall(SYS_renameat2, AT_FDCWD, M("y"), AT_FDCWD, M("b"),
                         RENAME_EXCHANGE), -1);
    cr_assert_eq(errno, EINVAL);

    /* chmod, truncate (both ways), sparse writes */
    cr_assert_eq(chmod(M("b"), 04751), 0);
    cr_assert_eq(stat(M("b"), &st), 0);
    cr_assert_eq(st.st_mode & 07777, 04751);
    cr_assert_eq(truncate(M("b"), 5), 0);
    expect_content(M("b"), "hello");
    int fd = open(M("b"), O_RDWR);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, 100), 0);
    cr_assert_eq(pwrite(fd, "Z", 1, 10 << 20), 1);
    char buf[16];
    cr_assert_eq(pread(fd, buf, 16, 50), 16);
    for (int i = 0; i < 16; i++)
        cr_assert_eq(buf[i], 0);
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(st.st_size, (10 << 20) + 1);
    cr_assert_eq(close(fd), 0);

    /* utimensat: a time, UTIME_OMIT, UTIME_NOW; symlinks themselves */
    struct timespec ts[2] = {{1000, 5}, {0, UTIME_OMIT}};
    struct stat before;
    cr_assert_eq(stat(M("b"), &before), 0);
    cr_assert_eq(utimensat(AT_FDCWD, M("b"), ts, 0), 0);
    cr_assert_eq(stat(M("b"), &st), 0);
    cr_assert_eq(st.st_atim.tv_sec, 1000);
    cr_assert_eq(st.st_atim.tv_nsec, 5);
    cr_assert_eq(st.st_mtim.tv_sec, before.st_mtim.tv_sec);
    cr_assert_eq(st.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    struct timespec ts2[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    time_t now = time(NULL);
    cr_assert_eq(utimensat(AT_FDCWD, M("b"), ts2, 0), 0);
    cr_assert_eq(stat(M("b"), &st), 0);
    cr_assert_eq(st.st_atim.tv_sec, 1000);
    cr_assert_geq(st.st_mtim.tv_sec, now - 5);
    struct timespec ts3[2] = {{2000, 0}, {3000, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, M("s"), ts3, AT_SYMLINK_NOFOLLOW), 0);
    cr_assert_eq(lstat(M("s"), &st), 0);
    cr_assert_eq(st.st_mtim.tv_sec, 3000);
    cr_assert_eq(stat(M("b"), &st), 0);
    cr_assert_neq(st.st_mtim.tv_sec, 3000);

    /* mknod of a regular file (FIFOs and devices: special_files below) */
    cr_assert_eq(mknod(M("node"), S_IFREG | 0600, 0), 0);
    cr_assert_eq(stat(M("node"), &st), 0);
    cr_assert(S_ISREG(st.st_mode));

    /* readdir sees exactly the names */
    DIR *d = opendir(F.mnt);
    cr_assert_not_null(d);
    int seen = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        seen++;
    closedir(d);
    cr_assert_eq(seen, 6, "., .., b, s, y, node: got %d", seen);

    struct statvfs sv;
    cr_assert_eq(statvfs(F.mnt, &sv), 0);
    cr_assert_eq(sv.f_namemax, 255);
    unmount_ok();
}

Test(mount, owners_and_permissions_follow_the_caller)
{
    mount_rw();
    cr_assert_eq(mkdir(M("pub"), 0777), 0);
    cr_assert_eq(chmod(M("pub"), 0777), 0);
    put(M("root-only"), "secret");
    cr_assert_eq(chmod(M("root-only"), 0600), 0);
    cr_assert_eq(mkdir(M("sgid"), 0777), 0);
    cr_assert_eq(chown(M("sgid"), 0, 4444), 0);
    cr_assert_eq(chmod(M("sgid"), 02777), 0);
    put(M("pub/setid"), "x");
    cr_assert_eq(chmod(M("pub/setid"), 06777), 0);
    cr_assert_eq(mkdir(M("sticky"), 0777), 0);
    cr_assert_eq(chmod(M("sticky"), 01777), 0);
    put(M("sticky/roots"), "x");
    cr_assert_eq(chmod(M("sticky/roots"), 0666), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (setresgid(4321, 4321, 4321) || setresuid(1234, 1234, 1234))
            _exit(10);
        int fd = open(M("pub/mine"), O_WRONLY | O_CREAT, 0640);
        if (fd < 0)
            _exit(11);
        close(fd);
        if (open(M("root-only"), O_RDONLY) >= 0 || errno != EACCES)
            _exit(12);
        if (chmod(M("pub"), 0700) == 0 || errno != EPERM)
            _exit(13);
        if (mkdir(M("sgid/sub"), 0755) != 0)
            _exit(14);
        int w = open(M("pub/setid"), O_WRONLY | O_APPEND);
        if (w < 0 || write(w, "y", 1) != 1)
            _exit(15);
        close(w);
        if (unlink(M("sticky/roots")) == 0 || (errno != EPERM && errno != EACCES))
            _exit(16);
        if (rename(M("sticky/roots"), M("sticky/mine")) == 0)
            _exit(17);
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "child as uid 1234 failed at step %d", WEXITSTATUS(status));
    struct stat st;
    cr_assert_eq(stat(M("pub/mine"), &st), 0);
    cr_assert_eq(st.st_uid, 1234);
    cr_assert_eq(st.st_gid, 4321);
    cr_assert_eq(st.st_mode & 07777, 0640);
    cr_assert_eq(stat(M("sgid/sub"), &st), 0);
    cr_assert_eq(st.st_gid, 4444, "setgid directory: its group is inherited");
    cr_assert(st.st_mode & S_ISGID, "and so is the setgid bit, by a directory");
    cr_assert_eq(stat(M("pub/setid"), &st), 0);
    cr_assert_eq(st.st_mode & 06000, 0, "a write by a non-owner clears suid/sgid");
    cr_assert_eq(st.st_size, 2);
    cr_assert_eq(chmod(M("pub/mine"), 06755), 0);
    cr_assert_eq(chown(M("pub/mine"), 77, 88), 0);
    cr_assert_eq(stat(M("pub/mine"), &st), 0);
    cr_assert_eq(st.st_mode & 06000, 0, "chown clears suid/sgid");
    cr_assert_eq(stat(M("pub/mine"), &st), 0);
    cr_assert_eq(st.st_uid, 77);
    cr_assert_eq(st.st_gid, 88);
    unmount_ok();
}

/* A write that drops a set-group-ID bit (a writer outside the file's
 * group, the file not group-executable: the VFS's rule, which the kernel
 * leaves to the mount) is seen at once, even by a statx asking for the
 * mode alone: the kernel keeps a file's cached mode across writes, so the
 * mount tells it to fetch the attributes again. */
Test(mount, a_write_that_drops_sgid_shows_at_once)
{
    mount_rw();
    put(M("f"), "x");
    cr_assert_eq(chown(M("f"), 1001, 1001), 0);
    cr_assert_eq(chmod(M("f"), 02766), 0);
    struct statx sx;
    cr_assert_eq(statx(AT_FDCWD, M("f"), 0, STATX_MODE, &sx), 0);
    cr_assert_eq(sx.stx_mode & 07777, 02766);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (setresgid(1003, 1003, 1003) || setresuid(1003, 1003, 1003))
            _exit(10);
        int w = open(M("f"), O_WRONLY | O_APPEND);
        _exit(w >= 0 && write(w, "y", 1) == 1 ? 0 : 11);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "child as uid 1003 failed at step %d", WEXITSTATUS(status));
    cr_assert_eq(statx(AT_FDCWD, M("f"), 0, STATX_MODE, &sx), 0);
    cr_assert_eq(sx.stx_mode & 07777, 0766, "mode %o after the write",
                 sx.stx_mode & 07777);
    unmount_ok();
}

Test(mount, an_unlinked_open_file_is_still_read_back)
{
    mount_rw();
    int fd = open(M("tmp"), O_RDWR | O_CREAT, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "kept alive", 10), 10);
    cr_assert_eq(unlink(M("tmp")), 0);
    cr_assert_eq(access(M("tmp"), F_OK), -1);
    char buf[16] = {0};
    cr_assert_eq(pread(fd, buf, sizeof buf, 0), 10);
    cr_assert_str_eq(buf, "kept alive");
    cr_assert_eq(pwrite(fd, "K", 1, 0), 1);
    cr_assert_eq(pread(fd, buf, 10, 0), 10);
    cr_assert_eq(buf[0], 'K');
    /* renamed over, too */
    put(M("victim"), "old bytes");
    int fd2 = open(M("victim"), O_RDONLY);
    cr_assert_geq(fd2, 0);
    put(M("new"), "new");
    cr_assert_eq(rename(M("new"), M("victim")), 0);
    memset(buf, 0, sizeof buf);
    cr_assert_eq(pread(fd2, buf, sizeof buf, 0), 9);
    cr_assert_str_eq(buf, "old bytes");
    expect_content(M("victim"), "new");
    close(fd2);
    close(fd);
    /* a directory open in a program outlives its rmdir, and an empty one
     * renamed over: its fd still stats (no links), as on the kernel's own
     * filesystems (it was ENOENT) */
    for (int how = 0; how < 2; how++) {
        cr_assert_eq(mkdir(M("gone"), 0755), 0);
        int dfd = open(M("gone"), O_RDONLY | O_DIRECTORY);
        cr_assert_geq(dfd, 0);
        if (how == 0) {
            cr_assert_eq(rmdir(M("gone")), 0);
        } else {
            cr_assert_eq(mkdir(M("over"), 0755), 0);
            cr_assert_eq(rename(M("over"), M("gone")), 0);
        }
        struct stat st;
        cr_assert_eq(fstat(dfd, &st), 0, "%s: %s", how ? "renamed over" : "rmdir",
                     strerror(errno));
        cr_assert(S_ISDIR(st.st_mode));
        cr_assert_eq(st.st_nlink, 0);
        close(dfd);
        if (how == 1)
            cr_assert_eq(rmdir(M("gone")), 0);
    }
    unmount_ok();
}

/* ---- real programs, then the journal -------------------------------------- */

/* The same workload in directory $1 (the mount, or a plain host dir). */
static const char workload[] =
    "set -e; cd \"$1\"; SRC=\"$2\"; TB=\"$3\"\n"
    "cp -a \"$SRC\" copy\n"
    "diff -r --no-dereference \"$SRC\" copy\n"
    "mkdir x && tar -xf \"$TB\" -C x\n"
    "diff -r --no-dereference \"$SRC\" x/src\n"
    "mv copy/f1 copy/f1.moved\n"
    "ln copy/f2 copy/f2.hard\n"
    "ln -s f2 copy/f2.sym\n"
    "chmod 0700 copy/sub\n"
    "echo appended >> copy/f2\n"
    "truncate -s 10 copy/f3\n"
    "truncate -s 200000 copy/f4\n"
    "rm -rf x/src/sub\n"
    "touch -d '2020-02-02 02:02:02' copy/f5\n"
    "mkdir -p a/b/c && echo deep > a/b/c/file && mv a/b a/moved\n"
    "if command -v sqlite3 >/dev/null; then\n"
    "  { echo 'create table t(k integer primary key, v text);';\n"
    "    for t in $(seq 10); do echo 'begin;';\n"
    "      for i in $(seq 100); do echo \"insert into t(v) values('row $t $i');\"; done;\n"
    "      echo 'commit;'; done; } | sqlite3 db.sqlite\n"
    "  test \"$(sqlite3 db.sqlite 'select count(*) from t')\" = 1000\n"
    "fi\n";

/* A small source tree and a tarball of it, under F.root. */
static void make_source(void)
{
    cr_assert_eq(cfs_test_sh("set -e; cd '%s'; mkdir -p src/sub/deeper src/empty; "
                    "for i in 1 2 3 4 5 6 7 8; do seq $((i * 1000)) > src/f$i; done; "
                    "head -c 300000 /dev/urandom > src/sub/random.bin; "
                    "echo nested > src/sub/deeper/n.txt; ln -s ../f1 src/sub/link; "
                    "ln src/f6 src/sub/f6.hard; chmod 0640 src/f7; chmod 0755 src/f8; "
                    "touch -d '2011-11-11 11:11:11' src/f8; "
                    "tar -cf src.tar src",
                    F.root),
                 0);
}

static void run_workload(const char *dir)
{
    char script[256];
    snprintf(script, sizeof script, "%s/workload.sh", F.root);
    FILE *f = fopen(script, "w");
    cr_assert_not_null(f);
    fputs(workload, f);
    fclose(f);
    int rc = cfs_test_sh("cd '%s' && sh '%s' '%s' '%s/src' '%s/src.tar'", F.root, script,
                dir, F.root, F.root);
    cr_assert_eq(rc, 0, "workload in %s failed (%d)", dir, rc);
}

/* Names, types, modes, sizes, link counts and targets of both trees; file
 * mtimes where the workload set them. */
static void expect_same_tree(const char *a, const char *b)
{
    cr_assert_eq(cfs_test_sh("diff -r --no-dereference '%s' '%s'", a, b), 0,
                 "contents differ");
    const char *list = "cd '%s' && { find . ! -type d -printf '%%p %%y %%m %%s %%n %%l\\n'; "
                       "find . -type d -printf '%%p %%m\\n'; "
                       "find . -type f -name 'f[58]' -printf '%%p %%T@\\n'; } "
                       "| sort > '%s'";
    char la[256], lb[256];
    snprintf(la, sizeof la, "%s/list.a", F.root);
    snprintf(lb, sizeof lb, "%s/list.b", F.root);
    cr_assert_eq(cfs_test_sh(list, a, la), 0);
    cr_assert_eq(cfs_test_sh(list, b, lb), 0);
    cr_assert_eq(cfs_test_sh("diff '%s' '%s'", la, lb), 0, "metadata differs");
}

Test(mount, programs_then_verify_and_restore)
{
    make_source();
    run_workload(F.host);
    mount_rw();
    run_workload(F.mnt);
    expect_same_tree(F.host, F.mnt);
    unmount_ok();

    cr_assert_eq(cfs_test_sh("'%s' verify '%s' >/dev/null", CHRONOFS_BIN, F.j), 0);
    cfs_journal *j = open_ro();
    char err[1024] = "";
    cfs_verify_report rep;
    int rc = cfs_replay_verify(j, NULL, &rep, err, sizeof err);
    cr_assert_eq(rc, 0, "verify: %s", err);
    cr_assert_gt(rep.events, 100);
    cfs_fs *fs = NULL;
    rc = cfs_journal_open_at(j, 0, NULL, &fs);
    cr_assert_eq(rc, 0, "open at head: %s", cfs_journal_errmsg(j));
    rc = cfs_restore_dir(fs, "/", F.out, NULL, NULL, err, sizeof err);
    cr_assert_eq(rc, 0, "restore: %s", err);
    cfs_fs_free(fs);
    cfs_journal_close(j);
    expect_same_tree(F.host, F.out);
}

Test(mount, read_only_at_a_past_seq)
{
    mount_rw();
    put(M("a"), "one");
    cr_assert_eq(mkdir(M("d"), 0755), 0);
    unmount_ok();
    uint64_t past = head_seq();
    cr_assert_gt(past, 0);

    mount_rw();
    expect_content(M("a"), "one");
    put(M("a"), "two");
    put(M("b"), "bee");
    cr_assert_eq(rmdir(M("d")), 0);
    unmount_ok();

    char at[32];
    snprintf(at, sizeof at, "%llu", (unsigned long long)past);
    mount_with("--at", at);
    expect_content(M("a"), "one");
    cr_assert_eq(access(M("b"), F_OK), -1);
    struct stat st;
    cr_assert_eq(stat(M("d"), &st), 0);
    cr_assert_eq(open(M("c"), O_WRONLY | O_CREAT, 0644), -1);
    cr_assert_eq(errno, EROFS);
    cr_assert_eq(unlink(M("a")), -1);
    cr_assert_eq(errno, EROFS);
    unmount_ok();

    mount_with("--read-only", NULL);
    expect_content(M("a"), "two");
    expect_content(M("b"), "bee");
    cr_assert_eq(mkdir(M("e"), 0755), -1);
    cr_assert_eq(errno, EROFS);
    unmount_ok();
    cr_assert_eq(head_seq() > past, 1);
}

static uint64_t usr1_seq;

static int count_usr1(void *ctx, const cfs_snapshot_info *s)
{
    if (!strcmp(s->trigger, "sigusr1")) {
        ++*(int *)ctx;
        usr1_seq = s->seq;
    }
    return 0;
}

static int usr1_snapshots(void)
{
    cfs_journal *j = open_ro();
    int n = 0;
    cr_assert_eq(cfs_journal_snapshots(j, count_usr1, &n), 0);
    cfs_journal_close(j);
    return n;
}

Test(mount, sigusr1_takes_a_snapshot_and_fsync_commits)
{
    mount_rw();
    put(M("before"), "snap me");
    int fd = open(M("before"), O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(fsync(fd), 0);
    close(fd);
    /* fsync made it committed: another process sees it */
    cr_assert_gt(head_seq(), 0);
    cr_assert_eq(kill(F.pid, SIGUSR1), 0);
    int n = 0;
    for (int i = 0; i < 400 && !(n = usr1_snapshots()); i++)
        cfs_test_msleep(50);
    cr_assert_eq(n, 1, "no sigusr1 snapshot while mounted");
    put(M("after"), "later");
    unmount_ok();
    cr_assert_eq(usr1_snapshots(), 1);
    /* the snapshot holds the tree as it was when the signal came */
    cfs_journal *j = open_ro();
    char err[1024];
    int rc = cfs_replay_restore(j, usr1_seq, F.out, NULL, NULL, err, sizeof err);
    cfs_journal_close(j);
    cr_assert_eq(rc, 0, "restore at the snapshot: %s", err);
    expect_content(path_in(F.out, "before"), "snap me");
    cr_assert_eq(access(path_in(F.out, "after"), F_OK), -1);
}

/* send | receive into another journal, mounted read-only: the same tree. */
Test(mount, a_received_journal_mounts_the_same_tree)
{
    make_source();
    run_workload(F.host);
    mount_rw();
    run_workload(F.mnt);
    unmount_ok();
    cr_assert_eq(cfs_test_sh("'%s' send '%s' > '%s/stream' && '%s' receive '%s/j2' < '%s/stream' >/dev/null",
                    CHRONOFS_BIN, F.j, F.root, CHRONOFS_BIN, F.root, F.root),
                 0, "send | receive");
    snprintf(F.j, sizeof F.j, "%s/j2", F.root);
    mount_with("--read-only", NULL);
    expect_same_tree(F.host, F.mnt);
    unmount_ok();
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(mount, git_commits_a_tree)
{
    make_source();
    mount_rw();
    int rc = cfs_test_sh("set -e; cp -a '%s/src' '%s/repo' && cd '%s/repo' && "
                "git init -q && git add -A && "
                "git -c user.name=t -c user.email=t@t commit -qm first && "
                "echo more >> f1 && git -c user.name=t -c user.email=t@t "
                "commit -qam second && git fsck >/dev/null 2>&1 && "
                "test -z \"$(git status --porcelain)\" && "
                "test \"$(git rev-list --count HEAD)\" = 2",
                F.root, F.mnt, F.mnt);
    cr_assert_eq(rc, 0, "git on the mount failed (%d)", rc);
    unmount_ok();
}

/* /usr/include as a tarball, extracted on the mount and on the host: the
 * same tree after, and after a restore of the journal. Prints the times. */
Test(mount, extract_usr_include)
{
    if (cfs_test_sh("test -d /usr/include") != 0)
        cr_skip_test("no /usr/include");
    cr_assert_eq(cfs_test_sh("tar -C / -cf '%s/inc.tar' usr/include 2>/dev/null", F.root), 0);
    double t0 = now_s();
    cr_assert_eq(cfs_test_sh("tar -xf '%s/inc.tar' -C '%s'", F.root, F.host), 0);
    double t_host = now_s() - t0;
    mount_rw();
    t0 = now_s();
    cr_assert_eq(cfs_test_sh("tar -xf '%s/inc.tar' -C '%s'", F.root, F.mnt), 0);
    double t_mnt = now_s() - t0;
    expect_same_tree(F.host, F.mnt);
    unmount_ok();
    fprintf(stderr, "tar -x of /usr/include: host %.2f s, chronofs mount %.2f s\n",
            t_host, t_mnt);
    cr_assert_eq(cfs_test_sh("'%s' restore '%s' '%s' >/dev/null", CHRONOFS_BIN, F.j, F.out), 0);
    expect_same_tree(F.host, F.out);
}

/* A journal on a full disk: programs get ENOSPC, then EIO (the journal's
 * failure is sticky), the mount keeps answering and unmounts cleanly. */
Test(mount, a_full_disk_is_an_error_not_a_crash)
{
    snprintf(F.small, sizeof F.small, "%s/small", F.root);
    cr_assert_eq(mkdir(F.small, 0755), 0);
    if (cfs_test_sh("mount -t tmpfs -o size=40m tmpfs '%s'", F.small) != 0) {
        F.small[0] = 0;
        cr_skip_test("cannot mount a tmpfs");
    }
    snprintf(F.j, sizeof F.j, "%s/j", F.small);
    cr_assert_eq(cfs_test_sh("'%s' init '%s'", CHRONOFS_BIN, F.j), 0);
    /* the mount says what failed, in its log (not on the full disk) */
    char log[sizeof F.root + 16];
    snprintf(log, sizeof log, "%s/full.log", F.root);
    mount_with("--log", log);
    put(M("small"), "fits");
    int fd = open(M("big"), O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    /* random bytes: the journal compresses anything else to nothing */
    static char block[1 << 20];
    int rnd = open("/dev/urandom", O_RDONLY);
    cr_assert_geq(rnd, 0);
    int err = 0;
    for (int i = 0; i < 200 && !err; i++) {
        cr_assert_eq(read(rnd, block, sizeof block), (ssize_t)sizeof block);
        if (write(fd, block, sizeof block) < 0)
            err = errno;
    }
    close(rnd);
    if (!err && fsync(fd) != 0)
        err = errno;
    close(fd);
    cr_assert(err == ENOSPC || err == EIO, "writes past a full disk: %s",
              strerror(err));
    struct stat st;
    cr_assert_eq(stat(M("small"), &st), 0, "the mount still answers");
    expect_content(M("small"), "fits");
    cr_assert_eq(mkdir(M("more"), 0755), -1);
    int rc = unmount_now();
    cr_assert(rc == 0 || rc == 1, "the mount process ended with %d", rc);
    cr_assert_eq(cfs_test_sh("grep -Eq '(the journal failed|closing the journal): "
                             "%s: .*disk full' '%s'", F.j, log), 0,
                 "the log names the journal and the full disk");
}

/* Without --foreground: the command returns once the mount is ready and
 * the daemon unmounts, commits and exits on fusermount3 -u. */
Test(mount, daemonized_by_default)
{
    struct stat root_st, st;
    cr_assert_eq(stat(F.root, &root_st), 0);
    F.daemon = true;
    cr_assert_eq(cfs_test_sh("'%s' mount '%s' '%s'", CHRONOFS_BIN, F.j, F.mnt), 0);
    cr_assert_eq(stat(F.mnt, &st), 0);
    cr_assert_neq(st.st_dev, root_st.st_dev, "mounted when the command returns");
    put(M("d"), "from a daemon");
    for (int i = 0; i < 50; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        put(M(name), name);
    }
    /* fusermount3 -u returns before the daemon has committed and closed
     * the journal; a command right after it waits for that, so what it
     * reads has every change (without, it restored none of the 51) */
    cr_assert_eq(cfs_test_sh("fusermount3 -u '%s' && '%s' restore '%s' '%s' && "
                             "[ $(ls '%s' | wc -l) = 51 ] && printf f49 | cmp -s '%s/f49' -",
                             F.mnt, CHRONOFS_BIN, F.j, F.out, F.out, F.out), 0,
                 "a restore right after the unmount has everything");
    F.daemon = false;
    /* the daemon holds the journal's writer lock until it has committed */
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    cfs_journal *j = NULL;
    int rc = CFS_JE_LOCKED;
    char err[512];
    for (int i = 0; i < 1200 && rc == CFS_JE_LOCKED; i++) {
        rc = cfs_journal_open(F.j, &o, &j, err, sizeof err);
        if (rc == CFS_JE_LOCKED)
            cfs_test_msleep(50);
    }
    cr_assert_eq(rc, 0, "%s", err);
    cfs_fs *fs = NULL;
    cr_assert_eq(cfs_journal_open_at(j, 0, NULL, &fs), 0);
    cfs_filestat fst;
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "d", 0, &fst), 0);
    cr_assert_eq(fst.size, 13);
    cfs_fs_free(fs);
    cfs_journal_close(j);
    /* its messages went to J/mount.log, each line stamped */
    char log[sizeof F.j + 16];
    snprintf(log, sizeof log, "%s/mount.log", F.j);
    cr_assert_eq(cfs_test_sh("grep -Eq '^20[0-9-]{8}T[0-9:.]{12}[-+][0-9]{4} \\[[0-9]+\\] "
                             "chronofs mount: mounted %s at seq 0 on %s \\(read-write' '%s'",
                             F.j, F.mnt, log), 0, "the log says when it mounted");
    cr_assert_eq(cfs_test_sh("grep -Eq 'chronofs mount: unmounted %s: the journal is "
                             "closed, committed to seq [1-9]' '%s'", F.mnt, log), 0,
                 "and when it unmounted, committed");
    cr_assert_eq(cfs_test_sh("grep -c . '%s' | grep -qx 2", log), 0, "nothing else");
    /* errors before mounting come back from the command itself */
    cr_assert_eq(cfs_test_sh("'%s' mount '%s' '%s' --log '%s/no/such/dir/log' 2>/dev/null",
                             CHRONOFS_BIN, F.j, F.mnt, F.root), 1);
    cr_assert_eq(cfs_test_sh("'%s' mount '%s/nonesuch' '%s' 2>/dev/null", CHRONOFS_BIN,
                    F.root, F.mnt), 1);
    cr_assert_eq(cfs_test_sh("'%s' mount '%s' 2>/dev/null", CHRONOFS_BIN, F.j), 2);
    cr_assert_eq(cfs_test_sh("'%s' mount '%s' '%s' --at 999999 2>/dev/null", CHRONOFS_BIN,
                    F.j, F.mnt), 1);
    cr_assert_eq(cfs_test_sh("'%s' mount '%s' '%s' --io-uring sometimes 2>/dev/null",
                             CHRONOFS_BIN, F.j, F.mnt), 2);
}

/* A mount that is killed (SIGKILL: no unmount, no cleanup) leaves the
 * engine fds it held open in the journal's state, pinning an unlinked
 * file's data; the next mount closes them before serving (one close_all
 * event) and says so, and the orphan's data is gone from the state. */
Test(mount, a_killed_mounts_open_files_are_closed_by_the_next_mount)
{
    mount_rw();
    put(M("big"), "data of a file unlinked while open");
    int fd = open(M("big"), O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(unlink(M("big")), 0);
    /* everything so far committed before the kill: a program's fsync makes
     * the journal durable (waiting for the tick's batch commit instead was
     * too short on a loaded machine) */
    cr_assert_eq(fsync(fd), 0);
    pid_t pid = F.pid;
    F.pid = 0;
    cr_assert_eq(kill(pid, SIGKILL), 0);
    int status;
    waitpid(pid, &status, 0);
    close(fd);
    cfs_test_sh("fusermount3 -u -z '%s' 2>/dev/null", F.mnt);

    char log[512];
    snprintf(log, sizeof log, "%s/mount.err", F.root);
    cr_assert_eq(cfs_test_sh("'%s' mount '%s' '%s' 2>'%s'", CHRONOFS_BIN, F.j, F.mnt, log), 0);
    F.daemon = true;
    cr_assert_eq(cfs_test_sh("grep -q 'did not unmount cleanly' '%s'", log), 0,
                 "the mount says it closed a killed mount's files");
    cr_assert_eq(cfs_test_sh("fusermount3 -u '%s'", F.mnt), 0);
    F.daemon = false;
    for (int i = 0; i < 200 && cfs_test_sh("'%s' log '%s' --op close_all 2>/dev/null | grep -q close_all",
                                  CHRONOFS_BIN, F.j) != 0; i++)
        cfs_test_msleep(50);
    cr_assert_eq(cfs_test_sh("'%s' log '%s' --op close_all | grep -q close_all", CHRONOFS_BIN, F.j),
                 0, "one close_all event");
    /* no inode is left holding the unlinked file's bytes */
    cfs_journal *j = open_ro();
    cfs_fs *fs = NULL;
    cr_assert_eq(cfs_journal_open_at(j, 0, NULL, &fs), 0);
    cfs_statfs sf;
    cr_assert_eq(cfs_fs_statfs(fs, &sf), 0);
    cr_assert_eq(sf.bytes_used, 0, "the orphan's data is freed (%llu bytes in use)",
                 (unsigned long long)sf.bytes_used);
    cfs_fs_free(fs);
    cfs_journal_close(j);
}

/* ---- polling while requests flow (loop.c) ----------------------------------- */

/* Field `n` (1-based, as proc(5) counts) of /proc/PID[/task/TID]/stat. */
static long long proc_stat_field(const char *statpath, int n)
{
    char buf[1024];
    FILE *f = fopen(statpath, "r");
    if (!f)
        return -1;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    char *p = strrchr(buf, ')'); /* the name may hold spaces */
    if (!p)
        return -1;
    for (int field = 2; field < n && p; field++)
        p = strchr(p + 1, ' ');
    return p ? strtoll(p + 1, NULL, 10) : -1;
}

/* user + system CPU time of the mount process, in clock ticks */
static long long mount_cpu_ticks(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)F.pid);
    return proc_stat_field(path, 14) + proc_stat_field(path, 15);
}

/* The mount's threads at SCHED_IDLE (policy 5, field 41). */
static int idle_threads(void)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)F.pid);
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[sizeof dir + sizeof e->d_name + 8];
        snprintf(path, sizeof path, "%s/%s/stat", dir, e->d_name);
        n += proc_stat_field(path, 41) == 5;
    }
    closedir(d);
    return n;
}

/* Create and remove files: a burst of requests. */
static void request_burst(int files)
{
    for (int i = 0; i < files; i++) {
        char name[32];
        snprintf(name, sizeof name, "burst%d", i);
        put(M(name), "x");
        cr_assert_eq(unlink(M(name)), 0);
    }
}

/* Write `len` bytes of a pattern to `path` in `chunk`-byte writes, or
 * check they read back in `chunk`-byte reads. */
static void pattern_file(const char *path, size_t len, size_t chunk, bool write_it)
{
    int fd = open(path, write_it ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY, 0644);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    char *buf = malloc(chunk), *want = malloc(chunk);
    cr_assert(buf && want);
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        for (size_t i = 0; i < n; i++)
            want[i] = (char)(((off + i) * 2654435761u) >> 13);
        if (write_it) {
            cr_assert_eq(write(fd, want, n), (ssize_t)n, "write at %zu", off);
        } else {
            cr_assert_eq(read(fd, buf, n), (ssize_t)n, "read at %zu", off);
            cr_assert(!memcmp(buf, want, n), "%s differs in the %zu bytes at %zu", path, n, off);
        }
    }
    free(buf);
    free(want);
    cr_assert_eq(close(fd), 0);
}

/* In the run over io_uring (CFS_TEST_FUSE_TRANSPORT=io_uring, which turns
 * the kernel's switch on), the mount serves through one ring per possible
 * CPU, and requests of the rings' biggest size (1 MiB writes and reads)
 * come through whole; with --io-uring off it makes no ring, and reads the
 * same file back through /dev/fuse; with --io-uring on, rings again.
 * (Turning the switch on from off is not tested: the switch is the
 * machine's, and the suite's other run may be mounting meanwhile.) */
Test(mount, requests_go_through_io_uring_where_the_kernel_allows_it)
{
    if (strcmp(cfs_test_fuse_transport(), "io_uring"))
        cr_skip_test("checked in the io_uring run of this suite");
    size_t len = (5u << 20) + 123;
    int want = cfs_test_possible_cpus();
    cr_assert_gt(want, 0);
    mount_rw();
    pattern_file(M("big"), len, 1u << 20, true);
    request_burst(300);
    cr_assert_eq(cfs_test_io_urings(F.pid), want,
                 "one io_uring per possible CPU (%d) in the mount process", want);
    unmount_ok();
    /* a new mount: the reads reach it instead of the page cache */
    mount_rw();
    pattern_file(M("big"), len, 1u << 20, false);
    pattern_file(M("big"), len, 4096 + 7, false);
    cr_assert_eq(cfs_test_io_urings(F.pid), want);
    unmount_ok();

    mount_with("--io-uring", "off");
    pattern_file(M("big"), len, 1u << 20, false);
    cr_assert_eq(cfs_test_io_urings(F.pid), 0, "--io-uring off made a ring");
    unmount_ok();

    /* on: what auto does where the kernel allows it (the switch is on) */
    mount_with("--io-uring", "on");
    pattern_file(M("big"), len, 1u << 20, false);
    cr_assert_eq(cfs_test_io_urings(F.pid), want);
    unmount_ok();
}

Test(mount, idle_cpus_poll_only_while_requests_come)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    mount_with("--spin-us", "50");
    request_burst(500);
    if (cpus >= 2)
        cr_assert_eq(idle_threads(), cpus < 8 ? cpus : 8,
                     "one SCHED_IDLE poller per CPU, 8 at most (%ld CPUs)", cpus);
    /* once requests stop, nothing spins: a second of quiet costs next to
     * no CPU time (a spinning thread would cost a second per CPU) */
    cfs_test_msleep(200);
    long long before = mount_cpu_ticks();
    cfs_test_msleep(1000);
    long long used = mount_cpu_ticks() - before;
    long hz = sysconf(_SC_CLK_TCK);
    cr_assert_lt(used, hz / 10, "the idle mount used %lld of %ld ticks in a second", used, hz);
    /* and it still answers after sleeping */
    put(M("after"), "awake");
    expect_content(M("after"), "awake");
    unmount_ok();
}

Test(mount, spin_us_0_never_polls)
{
    mount_with("--spin-us", "0");
    request_burst(200);
    cr_assert_eq(idle_threads(), 0, "--spin-us 0 started pollers");
    put(M("f"), "still a filesystem");
    expect_content(M("f"), "still a filesystem");
    unmount_ok();
}

/* Move this process into the cgroup v1 cpu hierarchy's directory `dir`
 * (relative to its root); 0, or -1 when that hierarchy is not there. */
static int join_cpu_cgroup(const char *dir)
{
    char path[256];
    snprintf(path, sizeof path, "/sys/fs/cgroup/cpu/%s/cgroup.procs", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = fprintf(f, "%d\n", (int)getpid()) > 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

Test(mount, no_polling_under_a_cpu_quota)
{
    /* its own cgroup: the suite's two runs (one per transport) may be
     * here at the same time */
    char name[64], cg[128];
    snprintf(name, sizeof name, "chronofs-test-quota-%d", (int)getpid());
    snprintf(cg, sizeof cg, "/sys/fs/cgroup/cpu/%s", name);
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        cr_skip_test("one CPU: nothing polls anyway");
    if (mkdir(cg, 0755) != 0 && errno != EEXIST)
        cr_skip_test("no cgroup v1 cpu hierarchy to make a quota in (%s)", strerror(errno));
    /* half a CPU: fewer than the CPUs the mount may run on */
    cr_assert_eq(cfs_test_sh("echo 50000 > %s/cpu.cfs_quota_us", cg), 0);
    cr_assert_eq(join_cpu_cgroup(name), 0);
    mount_with("--spin-us", "50"); /* started inside the cgroup */
    cr_assert_eq(join_cpu_cgroup("."), 0);
    request_burst(200);
    int pollers = idle_threads();
    put(M("f"), "served");
    expect_content(M("f"), "served");
    unmount_ok();
    cr_assert_eq(rmdir(cg), 0, "rmdir %s: %s", cg, strerror(errno));
    cr_assert_eq(pollers, 0, "%d pollers spin under a quota of half a CPU", pollers);
}

/* ---- stopping by signal ------------------------------------------------------ */

/* Wait up to `ms` for the mount process to exit; its wait status, or -1. */
static int wait_mount_exit(long ms)
{
    for (long waited = 0; waited < ms; waited += 20) {
        int status;
        if (waitpid(F.pid, &status, WNOHANG) == F.pid) {
            F.pid = 0;
            return status;
        }
        cfs_test_msleep(20);
    }
    return -1;
}

/* A child creating and removing files until the mount goes away. */
static pid_t start_burst(void)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        for (long i = 0;; i++) {
            char path[sizeof F.mnt + 32];
            snprintf(path, sizeof path, "%s/b%ld", F.mnt, i % 64);
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0)
                _exit(0); /* unmounted */
            close(fd);
            unlink(path);
        }
    }
    return pid;
}

Test(mount, sigint_and_sigterm_unmount_and_commit_even_mid_burst)
{
    static const int sigs[] = {SIGINT, SIGTERM};
    for (int k = 0; k < 2; k++) {
        mount_rw();
        char name[32];
        snprintf(name, sizeof name, "kept-%d", sigs[k]);
        put(M(name), "committed at exit");
        pid_t burst = start_burst();
        cfs_test_msleep(300); /* requests flowing: the loop polls */
        cr_assert_eq(kill(F.pid, sigs[k]), 0);
        int status = wait_mount_exit(20000);
        kill(burst, SIGKILL);
        waitpid(burst, NULL, 0);
        cr_assert_neq(status, -1, "signal %d: the mount did not exit within 20 s", sigs[k]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "signal %d: the mount ended with wait status %d", sigs[k], status);
        struct stat m, parent;
        cr_assert_eq(stat(F.mnt, &m), 0);
        cr_assert_eq(stat(F.root, &parent), 0);
        cr_assert_eq(m.st_dev, parent.st_dev, "signal %d: still mounted", sigs[k]);
    }
    /* both files are in the journal, which verifies */
    cfs_journal *j = open_ro();
    char err[1024];
    cr_assert_eq(cfs_journal_verify(j), 0, "%s", cfs_journal_errmsg(j));
    int rc = cfs_replay_restore(j, CFS_REPLAY_HEAD, F.out, NULL, NULL, err, sizeof err);
    cfs_journal_close(j);
    cr_assert_eq(rc, 0, "restore: %s", err);
    for (int k = 0; k < 2; k++) {
        char name[32];
        snprintf(name, sizeof name, "kept-%d", sigs[k]);
        expect_content(path_in(F.out, name), "committed at exit");
    }
}

/* Writers of numbered 16-byte records, one per CPU (so that every ring
 * queue has requests), each into its own file, noting what each write
 * returned, until the mount goes away. */
#define CUT_WRITERS 2
#define CUT_RECORDS 400000
struct cut_writer {
    int n;                  /* the writer's number, and its CPU */
    int *result;            /* per record: 0 written, else errno; -1 not tried */
    atomic_bool *stop;
};

static void cut_record(char rec[17], int w, int k)
{
    snprintf(rec, 17, "w%d record%06d\n", w, k);
}

static void *cut_writer_main(void *arg)
{
    struct cut_writer *cw = arg;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cw->n % (int)sysconf(_SC_NPROCESSORS_ONLN), &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    char path[sizeof F.mnt + 16]; /* not M(): its buffers are shared */
    snprintf(path, sizeof path, "%s/w%d", F.mnt, cw->n);
    int fd = open(path, O_WRONLY);
    int failed = 0;
    for (int k = 0; fd >= 0 && k < CUT_RECORDS && !atomic_load(cw->stop) && failed < 50; k++) {
        char rec[17];
        cut_record(rec, cw->n, k);
        ssize_t n = pwrite(fd, rec, 16, (off_t)k * 16);
        cw->result[k] = n == 16 ? 0 : n < 0 ? errno : EIO;
        failed = n == 16 ? 0 : failed + 1;
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* A program's call that SIGTERM cuts off either happened and returned
 * success, or failed and did not happen: no write that the program was
 * told failed is in the journal, and every one it was told succeeded is. */
Test(mount, a_write_cut_off_by_sigterm_either_happened_or_failed)
{
    mount_rw();
    int *results[CUT_WRITERS];
    struct cut_writer cw[CUT_WRITERS];
    pthread_t t[CUT_WRITERS];
    atomic_bool stop = false;
    for (int w = 0; w < CUT_WRITERS; w++) {
        char name[16];
        snprintf(name, sizeof name, "w%d", w);
        put(M(name), "");
        results[w] = malloc(CUT_RECORDS * sizeof(int));
        cr_assert_not_null(results[w]);
        for (int k = 0; k < CUT_RECORDS; k++)
            results[w][k] = -1;
        cw[w] = (struct cut_writer){w, results[w], &stop};
    }
    for (int w = 0; w < CUT_WRITERS; w++)
        cr_assert_eq(pthread_create(&t[w], NULL, cut_writer_main, &cw[w]), 0);
    cfs_test_msleep(300);
    cr_assert_eq(kill(F.pid, SIGTERM), 0);
    int status = wait_mount_exit(20000);
    atomic_store(&stop, true);
    for (int w = 0; w < CUT_WRITERS; w++)
        pthread_join(t[w], NULL);
    cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the mount ended with wait status %d", status);

    cfs_journal *j = open_ro();
    char err[1024];
    int rc = cfs_replay_restore(j, CFS_REPLAY_HEAD, F.out, NULL, NULL, err, sizeof err);
    cfs_journal_close(j);
    cr_assert_eq(rc, 0, "restore: %s", err);
    for (int w = 0; w < CUT_WRITERS; w++) {
        char name[16];
        snprintf(name, sizeof name, "w%d", w);
        int fd = open(path_in(F.out, name), O_RDONLY);
        cr_assert_geq(fd, 0);
        int done = 0, failed = 0;
        for (int k = 0; k < CUT_RECORDS && results[w][k] != -1; k++) {
            char want[17], got[16] = {0};
            cut_record(want, w, k);
            ssize_t n = pread(fd, got, 16, (off_t)k * 16);
            bool there = n == 16 && !memcmp(got, want, 16);
            if (results[w][k] == 0) {
                done++;
                cr_assert(there, "writer %d: record %d was written, and is not there", w, k);
            } else {
                failed++;
                cr_assert(!there, "writer %d: record %d failed (%s), and is there", w, k,
                          strerror(results[w][k]));
            }
        }
        close(fd);
        free(results[w]);
        cr_assert_gt(done, 0, "writer %d wrote nothing before the signal", w);
        cr_assert_gt(failed, 0, "writer %d was not cut off", w);
    }
}

/* The guest's halt-poll time, which a test changes and cleanup restores. */
static const char halt_poll[] = "/sys/module/haltpoll/parameters/guest_halt_poll_ns";
static char halt_poll_saved[32];

static void restore_halt_poll(void)
{
    if (halt_poll_saved[0])
        cfs_test_sh("echo %s > %s", halt_poll_saved, halt_poll);
    halt_poll_saved[0] = '\0';
    cleanup();
}

static int pollers_by_default(const char *poll_ns)
{
    cr_assert_eq(cfs_test_sh("echo %s > %s", poll_ns, halt_poll), 0);
    mount_rw();
    request_burst(200);
    int n = idle_threads();
    unmount_ok();
    return n;
}

Test(mount, polls_by_default_only_where_the_kernel_does_not, .fini = restore_halt_poll)
{
    char driver[64] = "";
    FILE *f = fopen("/sys/devices/system/cpu/cpuidle/current_driver", "r");
    if (f) {
        if (!fgets(driver, sizeof driver, f))
            driver[0] = '\0';
        fclose(f);
    }
    if (strncmp(driver, "haltpoll", 8) != 0 || sysconf(_SC_NPROCESSORS_ONLN) < 2)
        cr_skip_test("needs a VM with the haltpoll cpuidle driver and 2 CPUs (driver: %s)",
                     driver);
    /* the halt-poll time is the machine's: the suite's other run (they may
     * run at once) would read this test's setting, and save and restore it
     * crosswise; how the mount chooses does not depend on the transport */
    if (!strcmp(cfs_test_fuse_transport(), "io_uring"))
        cr_skip_test("checked in the /dev/fuse run of this suite");
    if (access(halt_poll, W_OK) != 0)
        cr_skip_test("%s cannot be set here: %s", halt_poll, strerror(errno));
    f = fopen(halt_poll, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(halt_poll_saved, sizeof halt_poll_saved, f));
    fclose(f);
    halt_poll_saved[strcspn(halt_poll_saved, "\n")] = '\0';

    /* idle CPUs halt at once: the mount polls */
    cr_assert_gt(pollers_by_default("0"), 0, "no pollers while the kernel does not poll");
    /* the kernel polls 200 us before halting: the mount leaves it to it */
    cr_assert_eq(pollers_by_default("200000"), 0, "pollers while the kernel polls");
}
