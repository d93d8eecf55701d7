/*
 * test_cli.c — the `chronofs` binary as a user and a script see it: exit
 * codes (0 / 1 user error with one line / 2 usage), --help on every
 * command, --json output, and the whole cycle on a generated host tree:
 * init, import, snapshots, ls/cat at past seqs, restore compared with the
 * original tree by the kernel's own filesystem (diff -r, lstat), verify,
 * send | receive into another journal, compaction, and every kind of bad
 * input leaving the journal as it was.
 *
 * The binary's path comes from the build (CHRONOFS_BIN). Each test works
 * in its own temporary directory.
 */
#define _GNU_SOURCE /* asprintf, nftw's FTW_PHYS */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <zstd.h>

#include "cfs_journal.h"
#include "cfs_test_util.h"
#include "cli_run.h"

#ifndef CHRONOFS_BIN
#error "CHRONOFS_BIN must name the chronofs binary"
#endif

/* ---- running the binary: cli_run.h ----------------------------------------- */

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Success: exit 0, and nothing on stderr (not a terminal: no progress). */
#define OK(r, ...)                                                                  \
    do {                                                                            \
        RUN((r), __VA_ARGS__);                                                      \
        cr_assert_eq((r)->status, 0, "exit %d, stderr: %s", (r)->status, (r)->err); \
        cr_assert_str_empty((r)->err, "stderr: %s", (r)->err);                      \
    } while (0)

/* A user error: exit 1, exactly one line on stderr containing `needle`. */
static void expect_user_error(struct run *r, const char *needle)
{
    cr_assert_eq(r->status, 1, "exit %d (want 1), stderr: %s", r->status, r->err);
    cr_assert_eq(count_lines(r->err), 1, "want one line, stderr: %s", r->err);
    cr_assert(strncmp(r->err, "chronofs ", 9) == 0, "stderr: %s", r->err);
    if (needle)
        cr_assert(strstr(r->err, needle), "'%s' not in: %s", needle, r->err);
}

static void expect_usage_error(struct run *r)
{
    cr_assert_eq(r->status, 2, "exit %d (want 2), stderr: %s", r->status, r->err);
    cr_assert(strstr(r->err, "--help"), "no hint in: %s", r->err);
}

/* ---- host trees ---------------------------------------------------------- */

static char *work;  /* this test's temporary directory */

static char *wpath(const char *name)
{
    char *p;
    cr_assert(asprintf(&p, "%s/%s", work, name) > 0);
    return p;
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    cr_assert_eq(chmod(path, mode), 0);
}

static void set_mtime(const char *path, time_t sec, long nsec)
{
    struct timespec ts[2] = {{sec, nsec}, {sec + 7, nsec / 2}};
    cr_assert_eq(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0, "%s: %s", path,
                 strerror(errno));
}

/* A tree with files (empty, small, random, sparse), directories with
 * their own modes, symlinks (relative, absolute, dangling), hard links
 * across directories, a name with a control character and a byte that
 * is not UTF-8, and mtimes to the nanosecond. */
/* n bytes that do not compress, from the generator state *x. */
static void fill_random(unsigned char *buf, size_t n, unsigned *x)
{
    for (size_t i = 0; i < n; i++) {
        *x = *x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(*x >> 16);
    }
}

static void make_tree(const char *root, unsigned seed)
{
    char p[4096];
    cr_assert_eq(mkdir(root, 0755), 0);
    snprintf(p, sizeof(p), "%s/docs", root);
    cr_assert_eq(mkdir(p, 0750), 0);
    snprintf(p, sizeof(p), "%s/docs/deep", root);
    cr_assert_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/docs/deep/empty-dir", root);
    cr_assert_eq(mkdir(p, 0755), 0);

    snprintf(p, sizeof(p), "%s/hello.txt", root);
    write_file(p, "hello, world\n", 13, 0644);
    set_mtime(p, 1600000000, 123456789);
    snprintf(p, sizeof(p), "%s/empty", root);
    write_file(p, "", 0, 0600);
    snprintf(p, sizeof(p), "%s/run.sh", root);
    write_file(p, "#!/bin/sh\necho hi\n", 18, 0755);

    size_t big = 200000 + seed % 1000;
    unsigned char *buf = malloc(big);
    unsigned x = seed * 2654435761u + 1;
    fill_random(buf, big, &x);
    snprintf(p, sizeof(p), "%s/docs/random.bin", root);
    write_file(p, buf, big, 0640);
    set_mtime(p, 1500000000, 999999999);
    free(buf);

    /* sparse: 1 MiB hole then a few bytes */
    snprintf(p, sizeof(p), "%s/docs/sparse", root);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pwrite(fd, "tail", 4, 1 << 20), 4);
    close(fd);

    snprintf(p, sizeof(p), "%s/docs/deep/notes.md", root);
    write_file(p, "# notes\nsecret-marker\n", 22, 0444);

    /* hard links: one inode, three names in three directories */
    char target[4096];
    snprintf(target, sizeof(target), "%s/hello.txt", root);
    snprintf(p, sizeof(p), "%s/docs/hello-link", root);
    cr_assert_eq(link(target, p), 0);
    snprintf(p, sizeof(p), "%s/docs/deep/hello-link2", root);
    cr_assert_eq(link(target, p), 0);

    snprintf(p, sizeof(p), "%s/docs/to-hello", root);
    cr_assert_eq(symlink("../hello.txt", p), 0);
    snprintf(p, sizeof(p), "%s/abs-link", root);
    cr_assert_eq(symlink("/docs/deep", p), 0);
    snprintf(p, sizeof(p), "%s/dangling", root);
    cr_assert_eq(symlink("no/such/file", p), 0);
    set_mtime(p, 1400000000, 5);

    snprintf(p, sizeof(p), "%s/odd\001name\xff.txt", root);
    write_file(p, "odd\n", 4, 0644);

    /* directory times last: making entries moves them */
    snprintf(p, sizeof(p), "%s/docs/deep/empty-dir", root);
    set_mtime(p, 1300000000, 42);
    snprintf(p, sizeof(p), "%s/docs/deep", root);
    set_mtime(p, 1300000001, 43);
}

/* Compare two host trees by lstat: type, permission bits, size, mtime (to
 * the ns), link counts of files, symlink targets; plus `diff -r` for the
 * bytes. The top directories' own times are compared too. */
static int cmp_failed;
static char cmp_msg[8192];

struct tree_cmp {
    const char *a, *b;
};
static struct tree_cmp tc;

static int cmp_walk(const char *path, const struct stat *sa, int type, struct FTW *f)
{
    (void)type;
    (void)f;
    char other[8192];
    snprintf(other, sizeof(other), "%s%s", tc.b, path + strlen(tc.a));
    struct stat sb;
    if (lstat(other, &sb) < 0) {
        snprintf(cmp_msg, sizeof(cmp_msg), "%.4000s: missing in the copy", other);
        return cmp_failed = 1;
    }
    if ((sa->st_mode & S_IFMT) != (sb.st_mode & S_IFMT) ||
        (!S_ISLNK(sa->st_mode) && (sa->st_mode & 07777) != (sb.st_mode & 07777)) ||
        (!S_ISDIR(sa->st_mode) && sa->st_size != sb.st_size) ||
        (S_ISREG(sa->st_mode) && sa->st_nlink != sb.st_nlink) ||
        sa->st_mtim.tv_sec != sb.st_mtim.tv_sec || sa->st_mtim.tv_nsec != sb.st_mtim.tv_nsec) {
        snprintf(cmp_msg, sizeof(cmp_msg),
                 "%s: mode %o/%o size %lld/%lld nlink %lu/%lu mtime %lld.%09ld/%lld.%09ld", path,
                 sa->st_mode, sb.st_mode, (long long)sa->st_size, (long long)sb.st_size,
                 (unsigned long)sa->st_nlink, (unsigned long)sb.st_nlink,
                 (long long)sa->st_mtim.tv_sec, sa->st_mtim.tv_nsec,
                 (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
        return cmp_failed = 1;
    }
    if (S_ISLNK(sa->st_mode)) {
        char ta[4096], tb[4096];
        ssize_t na = readlink(path, ta, sizeof(ta)), nb = readlink(other, tb, sizeof(tb));
        if (na != nb || na < 0 || memcmp(ta, tb, (size_t)na)) {
            snprintf(cmp_msg, sizeof(cmp_msg), "%s: symlink target differs", path);
            return cmp_failed = 1;
        }
    }
    return 0;
}

static void assert_same_tree(const char *a, const char *b)
{
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "diff -r --no-dereference '%s' '%s' >&2", a, b);
    cr_assert_eq(system(cmd), 0, "diff -r %s %s differs", a, b);
    /* both ways: nothing missing, nothing extra */
    cmp_failed = 0;
    tc = (struct tree_cmp){a, b};
    nftw(a, cmp_walk, 32, FTW_PHYS);
    cr_assert_not(cmp_failed, "%s", cmp_msg);
    tc = (struct tree_cmp){b, a};
    nftw(b, cmp_walk, 32, FTW_PHYS);
    cr_assert_not(cmp_failed, "%s", cmp_msg);
}

/* ---- fixtures ------------------------------------------------------------ */

static void setup(void)
{
    work = cfs_test_tmpdir("cfs-cli");
}

static void teardown(void)
{
    char *mnt = wpath("mnt"); /* a test that failed with its tmpfs mounted */
    umount2(mnt, MNT_DETACH);
    free(mnt);
    cfs_test_rmtree(work);
    free(work);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 300);

/* Journal j made, with the tree `host_name` (in the work dir) imported. */
static void import_tree(const char *j, const char *host_name, unsigned seed)
{
    char *host = wpath(host_name);
    make_tree(host, seed);
    struct run r;
    OK(&r, "init", j);
    run_free(&r);
    OK(&r, "import", j, host);
    cr_assert_gt(atoi(r.out), 0, "import prints the snapshot's seq: %s", r.out);
    run_free(&r);
    free(host);
}

/* A journal J with the tree `host` imported: returns J's path. */
static char *journal_with_tree(const char *host_name, unsigned seed)
{
    char *j = wpath("j");
    import_tree(j, host_name, seed);
    return j;
}

static char *stat_json(const char *j)
{
    struct run r;
    OK(&r, "stat", j, "--json");
    free(r.err);
    /* the bytes LMDB allocates may move with a reader's lock table: keep
     * what describes content */
    char *d = strstr(r.out, ",\"disk_bytes\"");
    if (d) {
        char *e = strchr(d + 1, ',');
        memmove(d, e, strlen(e) + 1);
    }
    return r.out;
}

/* ---- help and usage ------------------------------------------------------ */

static const char *const commands[] = {
    "init", "import", "snapshot", "snapshots", "log", "stat", "ls", "cat", "restore",
    "replay", "diff", "bisect", "blame", "verify", "compact", "send", "receive", "mount"};

Test(cli, help_lists_every_command_and_each_explains_itself)
{
    struct run r;
    OK(&r, "--help");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "\n  %s ", commands[i]);
        cr_assert(strstr(r.out, needle), "'%s' not in --help:\n%s", commands[i], r.out);
    }
    run_free(&r);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        OK(&r, commands[i], "--help");
        cr_assert(strstr(r.out, "usage: chronofs "), "%s --help: %s", commands[i], r.out);
        cr_assert(strstr(r.out, "example"), "%s --help has no example", commands[i]);
        run_free(&r);
        OK(&r, commands[i], "-h");
        run_free(&r);
    }
}

Test(cli, usage_errors_exit_2)
{
    struct run r;
    RUN(&r, "");
    cr_assert_eq(r.status, 2);
    run_free(&r);
    RUN(&r, "no-such-command");
    cr_assert_eq(r.status, 2);
    run_free(&r);
    char *j = wpath("j");
    const char *const cases[][8] = {
        {"init", NULL},
        {"init", j, "extra", NULL},
        {"ls", NULL},
        {"ls", j, "relative/path", NULL},
        {"ls", j, "/", "--at", "abc", NULL},
        {"ls", j, "/", "--bogus", NULL},
        {"ls", j, "/", "--at", "1", "--snapshot", "x", NULL},
        {"restore", j, "out", "--at", "-1", NULL},
        {"cat", j, NULL},
        {"log", j, "--op", "no-such-op", NULL},
        {"log", j, "--from", NULL},
        {"log", j, "--fd", "-3", NULL},
        {"compact", j, "--keep", "0", NULL},
        {"bisect", j, NULL},
        {"bisect", j, "--exists", "/a", "--missing", "/b", NULL},
        {"diff", j, "1", NULL},
        {"restore", j, NULL},
        {"restore", j, "out", "--owners", "maybe", NULL},
        {"send", j, "extra", NULL},
        {"import", j, NULL},
        {"import", j, "dir", "--to", "relative", NULL},
        {"snapshot", NULL},
        {"init", "--bogus", NULL},
        {"snapshot", j, "--label", "42", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_v(&r, NULL, NULL, cases[i]);
        cr_assert_eq(r.status, 2, "case %zu (%s): exit %d, stderr %s", i, cases[i][0], r.status,
                     r.err);
        expect_usage_error(&r);
        run_free(&r);
    }
    struct stat sb;
    cr_assert_neq(lstat("--bogus", &sb), 0, "init made a journal named --bogus");
    free(j);
}

/* `chronofs help CMD` is CMD's help; output that cannot be written (a full
 * disk) is an error, not a success with nothing said. */
Test(cli, help_of_a_command_and_output_that_cannot_be_written)
{
    struct run r;
    OK(&r, "help", "ls");
    cr_assert(!strncmp(r.out, "usage: chronofs ls ", 19), "%s", r.out);
    run_free(&r);
    OK(&r, "help", "run"); /* a command that prints its own help */
    cr_assert(!strncmp(r.out, "usage: chronofs run ", 20), "%s", r.out);
    run_free(&r);
    char *j = journal_with_tree("host", 2);
    const char *const cases[][5] = {
        {"--help", NULL},
        {"ls", "--help", NULL},
        {"stat", j, NULL},
        {"stat", j, "--json", NULL},
        {"snapshots", j, NULL},
        {"verify", j, NULL},
        {"ls", j, "/", NULL},
        {"log", j, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_v(&r, NULL, "/dev/full", cases[i]);
        cr_assert_eq(r.status, 1, "%s to /dev/full: exit %d, stderr %s", cases[i][0],
                     r.status, r.err);
        cr_assert(strstr(r.err, "No space left"), "%s: %s", cases[i][0], r.err);
        run_free(&r);
    }
    free(j);
}

/* `chronofs snapshot` signals only a mount (SIGUSR1 asks it for a
 * snapshot): a journal being received is refused, and the receive lives
 * (it died of the signal, exit 138). */
Test(cli, snapshot_signals_only_a_mount)
{
    char *r = wpath("r"), *fifo = wpath("fifo"), *st = wpath("st"), *err = wpath("err"),
         *st2 = wpath("st2");
    struct run run;
    OK(&run, "init", r);
    run_free(&run);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    cr_assert_eq(cfs_test_sh("{ '%s' receive '%s' < '%s' 2>/dev/null; "
                             "echo $? > '%s'; } & exec 7>'%s'; sleep 0.5; "
                             "'%s' snapshot '%s' 2>'%s'; echo $? > '%s'; exec 7>&-; wait",
                             CHRONOFS_BIN, r, fifo, st, fifo, CHRONOFS_BIN, r, err, st2), 0);
    cr_assert_eq(cfs_test_sh("grep -qx 1 '%s' && grep -q 'not a mount' '%s'", st2, err), 0,
                 "snapshot refused the receiving journal");
    cr_assert_eq(cfs_test_sh("grep -qx 1 '%s'", st), 0,
                 "the receive ended on its own (an empty stream), not of a signal");
    free(r);
    free(fifo);
    free(st);
    free(err);
    free(st2);
}

/* A data.mdb too short to be LMDB's is "not a journal", and no command
 * writes into it; a writer.lock that is a symlink is never followed (the
 * file is truncated and written). */
Test(cli, an_empty_data_mdb_and_a_symlinked_writer_lock_are_left_alone)
{
    char *e = wpath("e"), *host = wpath("host");
    make_tree(host, 3);
    cr_assert_eq(mkdir(e, 0755), 0);
    char p[4200];
    snprintf(p, sizeof(p), "%s/data.mdb", e);
    write_file(p, "", 0, 0644);
    struct run r;
    const char *const cmds[][4] = {{"ls", e, NULL}, {"import", e, host, NULL},
                                   {"snapshot", e, NULL}, {"compact", e, NULL}};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        run_v(&r, NULL, NULL, cmds[i]);
        expect_user_error(&r, "not a chronofs journal");
        run_free(&r);
    }
    struct stat sb;
    cr_assert_eq(stat(p, &sb), 0);
    cr_assert_eq(sb.st_size, 0, "data.mdb was written");

    char *j = journal_with_tree("host2", 4), *prec = wpath("precious");
    write_file(prec, "mine", 4, 0644);
    snprintf(p, sizeof(p), "%s/writer.lock", j);
    cr_assert_eq(unlink(p), 0);
    cr_assert_eq(symlink(prec, p), 0);
    RUN(&r, "snapshot", j);
    expect_user_error(&r, "symlink");
    run_free(&r);
    cr_assert_eq(stat(prec, &sb), 0);
    cr_assert_eq(sb.st_size, 4, "the symlink's target was written");
    /* lock.mdb, which LMDB maps and writes even for a reader */
    cr_assert_eq(unlink(p), 0);
    snprintf(p, sizeof(p), "%s/lock.mdb", j);
    cr_assert_eq(unlink(p), 0);
    cr_assert_eq(symlink(prec, p), 0);
    RUN(&r, "ls", j, "/");
    expect_user_error(&r, "symlink");
    run_free(&r);
    cr_assert_eq(stat(prec, &sb), 0);
    cr_assert_eq(sb.st_size, 4, "lock.mdb's symlink target was written");
    free(e);
    free(host);
    free(j);
    free(prec);
}

/* ---- the whole cycle ----------------------------------------------------- */

Test(cli, import_restore_matches_the_host_tree)
{
    char *j = journal_with_tree("host", 1);
    char *host = wpath("host"), *out = wpath("out");
    struct run r;
    OK(&r, "restore", j, out);
    run_free(&r);
    assert_same_tree(host, out);

    OK(&r, "verify", j);
    cr_assert(strstr(r.out, "ok:"), "%s", r.out);
    run_free(&r);
    OK(&r, "verify", j, "--json");
    cr_assert(strstr(r.out, "\"ok\":true"), "%s", r.out);
    cr_assert(strstr(r.out, "\"hashes\":1"), "%s", r.out);
    run_free(&r);
    OK(&r, "replay", j, "--verify", "--quiet");
    cr_assert(strstr(r.out, "1 snapshot hashes match"), "%s", r.out);
    run_free(&r);

    OK(&r, "snapshots", j, "--json");
    cr_assert_eq(count_lines(r.out), 1);
    cr_assert(strstr(r.out, "\"trigger\":\"bootstrap\""), "%s", r.out);
    run_free(&r);

    OK(&r, "stat", j, "--json");
    cr_assert(strstr(r.out, "\"snapshots\":1"), "%s", r.out);
    cr_assert(strstr(r.out, "\"first_seq\":1"), "%s", r.out);
    run_free(&r);
    free(j);
    free(host);
    free(out);
}

Test(cli, ls_and_cat_read_past_states)
{
    char *j = journal_with_tree("host", 2);
    struct run r;
    OK(&r, "stat", j, "--json");
    char *h = strstr(r.out, "\"head_seq\":");
    cr_assert(h);
    unsigned long first = strtoul(h + 11, NULL, 10);
    run_free(&r);

    /* a second import, labelled snapshot, then a change on top */
    char *host2 = wpath("host2");
    cr_assert_eq(mkdir(host2, 0755), 0);
    char p[4096];
    snprintf(p, sizeof(p), "%s/late.txt", host2);
    write_file(p, "late\n", 5, 0644);
    OK(&r, "import", j, host2, "--to", "/later");
    run_free(&r);

    char at[32];
    snprintf(at, sizeof(at), "%lu", first);
    OK(&r, "cat", j, "/docs/deep/notes.md", "--at", at);
    cr_assert_str_eq(r.out, "# notes\nsecret-marker\n");
    run_free(&r);
    OK(&r, "cat", j, "/docs/to-hello"); /* through a symlink */
    cr_assert_str_eq(r.out, "hello, world\n");
    run_free(&r);
    OK(&r, "cat", j, "/docs/random.bin");
    cr_assert_eq(r.out_len, 200002);
    run_free(&r);

    OK(&r, "ls", j, "/later");
    cr_assert(strstr(r.out, "late.txt"), "%s", r.out);
    run_free(&r);
    RUN(&r, "ls", j, "/later", "--at", at);
    expect_user_error(&r, "/later");
    run_free(&r);
    OK(&r, "ls", j, "/", "--at", "0");
    cr_assert_str_empty(r.out);
    run_free(&r);

    OK(&r, "ls", j, "/", "--json");
    cr_assert_eq(count_lines(r.out), 8, "%s", r.out); /* 7 + /later */
    /* control character and a byte that is not UTF-8, escaped */
    cr_assert(strstr(r.out, "\"name\":\"odd\\u0001name\\u00ff.txt\""), "%s", r.out);
    cr_assert(strstr(r.out, "\"name\":\"hello.txt\""), "%s", r.out);
    cr_assert(strstr(r.out, "\"nlink\":3"), "%s", r.out);
    cr_assert(strstr(r.out, "\"mtime_ns\":1600000007061728394"), "%s", r.out);
    cr_assert(strstr(r.out, "\"atime_ns\":1600000000123456789"), "%s", r.out);
    cr_assert(strstr(r.out, "\"target\":\"no/such/file\""), "%s", r.out);
    run_free(&r);
    /* the log too: the name's bytes, not U+FFFD */
    OK(&r, "log", j, "--json", "--op", "open");
    cr_assert(strstr(r.out, "\"path\":\"/odd\\u0001name\\u00ff.txt\""), "%s", r.out);
    cr_assert(strstr(r.out, "\"name\":\"odd\\u0001name\\u00ff.txt\""), "%s", r.out);
    cr_assert(strstr(r.out, "\"resolved_path\":\"/odd\\u0001name\\u00ff.txt\""), "%s", r.out);
    cr_assert_null(strstr(r.out, "\\ufffd"), "%s", r.out);
    cr_assert_null(strstr(r.out, "\xef\xbf\xbd"), "%s", r.out);
    run_free(&r);
    OK(&r, "ls", j, "/docs/sparse", "--json");
    cr_assert(strstr(r.out, "\"size\":1048580"), "%s", r.out);
    run_free(&r);
    OK(&r, "ls", j, "/");
    cr_assert(strstr(r.out, "odd\\x01name"), "text output escapes: %s", r.out);
    cr_assert_eq(count_lines(r.out), 8, "%s", r.out);
    run_free(&r);
    free(j);
    free(host2);
}

Test(cli, snapshot_label_diff_bisect_blame_log)
{
    char *j = journal_with_tree("host", 3);
    struct run r;
    RUN(&r, "snapshot", j, "--label", "again");
    expect_user_error(&r, "already has a snapshot");
    run_free(&r);

    char *host2 = wpath("host2");
    cr_assert_eq(mkdir(host2, 0755), 0);
    char p[4096];
    snprintf(p, sizeof(p), "%s/new.txt", host2);
    write_file(p, "needle in here\n", 15, 0600);
    OK(&r, "snapshots", j, "--json");
    char *s = strstr(r.out, "\"seq\":");
    unsigned long boot = strtoul(s + 6, NULL, 10);
    run_free(&r);
    OK(&r, "import", j, host2, "--to", "/x");
    run_free(&r);

    /* diff the bootstrap snapshot (a seq) against the head */
    char a[32];
    snprintf(a, sizeof(a), "%lu", boot);
    OK(&r, "stat", j, "--json");
    char *h = strstr(r.out, "\"head_seq\":");
    unsigned long head = strtoul(h + 11, NULL, 10);
    run_free(&r);
    char b[32];
    snprintf(b, sizeof(b), "%lu", head);
    OK(&r, "diff", j, a, b);
    cr_assert(strstr(r.out, "+ dir     /x\n"), "%s", r.out);
    cr_assert(strstr(r.out, "+ file    /x/new.txt  15 B"), "%s", r.out);
    run_free(&r);
    OK(&r, "diff", j, a, b, "--json");
    cr_assert_eq(count_lines(r.out), 2, "%s", r.out);
    cr_assert(strstr(r.out, "{\"path\":\"/x/new.txt\",\"kind\":\"added\""), "%s", r.out);
    run_free(&r);

    OK(&r, "bisect", j, "--contains", "/x/new.txt", "needle");
    unsigned long when = strtoul(r.out, NULL, 10);
    cr_assert_gt(when, boot);
    cr_assert(strstr(r.out, "write /x/new.txt"), "%s", r.out);
    run_free(&r);
    OK(&r, "bisect", j, "--exists", "/docs/deep/notes.md");
    cr_assert_gt(strtoul(r.out, NULL, 10), 0);
    run_free(&r);
    RUN(&r, "bisect", j, "--missing", "/hello.txt");
    expect_user_error(&r, "never became true");
    run_free(&r);

    OK(&r, "blame", j, "/x/new.txt", "--json");
    cr_assert_eq(count_lines(r.out), 1, "%s", r.out);
    cr_assert(strstr(r.out, "\"start\":0,\"end\":15"), "%s", r.out);
    cr_assert(strstr(r.out, "\"kind\":\"write\""), "%s", r.out);
    run_free(&r);
    RUN(&r, "blame", j, "/docs");
    expect_user_error(&r, NULL);
    run_free(&r);

    OK(&r, "log", j, "--path", "/x/new.txt", "--op", "write", "--json");
    cr_assert_eq(count_lines(r.out), 1, "%s", r.out);
    cr_assert(strncmp(r.out, "{\"seq\":", 7) == 0, "%s", r.out);
    run_free(&r);
    OK(&r, "log", j, "--from", "1", "--to", "3");
    cr_assert_eq(count_lines(r.out), 3, "%s", r.out);
    cr_assert(strncmp(r.out, "seq 1 ", 6) == 0, "%s", r.out);
    run_free(&r);
    OK(&r, "replay", j, "--to", "5");
    cr_assert_eq(count_lines(r.out), 6, "%s", r.out);
    run_free(&r);
    free(j);
    free(host2);
}

Test(cli, send_receive_gives_the_same_journal)
{
    char *j = journal_with_tree("host", 4);
    char *j2 = wpath("j2"), *stream = wpath("s.cfss");
    struct run r;
    RUN_IO(&r, NULL, stream, "send", j);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_empty(r.err);
    run_free(&r);
    RUN_IO(&r, stream, NULL, "receive", j2);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_empty(r.err);
    run_free(&r);

    const char *const views[][3] = {{"snapshots", "--json", NULL}, {"ls", "/", "--json"}};
    for (int i = 0; i < 2; i++) {
        struct run a, b;
        OK(&a, views[i][0], j, views[i][1], views[i][2]);
        OK(&b, views[i][0], j2, views[i][1], views[i][2]);
        cr_assert_str_eq(a.out, b.out);
        run_free(&a);
        run_free(&b);
    }
    OK(&r, "verify", j2);
    run_free(&r);
    OK(&r, "log", j2); /* nothing after the base snapshot: no lines */
    cr_assert_str_empty(r.out);
    run_free(&r);
    char *host = wpath("host"), *out = wpath("out");
    OK(&r, "restore", j2, out);
    run_free(&r);
    assert_same_tree(host, out);

    /* again into the same journal: it already has it all */
    RUN_IO(&r, stream, NULL, "receive", j2);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);

    /* incremental: a new snapshot on j, sent --since the bootstrap one */
    char *host2 = wpath("host2");
    cr_assert_eq(mkdir(host2, 0755), 0);
    OK(&r, "import", j, host2, "--to", "/inc");
    run_free(&r);
    OK(&r, "snapshots", j, "--json");
    unsigned long boot = strtoul(strstr(r.out, "\"seq\":") + 6, NULL, 10);
    run_free(&r);
    char since[32];
    snprintf(since, sizeof(since), "%lu", boot);
    RUN_IO(&r, NULL, stream, "send", j, "--since", since);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    RUN_IO(&r, stream, NULL, "receive", j2);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    struct run a, b;
    OK(&a, "ls", j, "/", "--json");
    OK(&b, "ls", j2, "/", "--json");
    cr_assert_str_eq(a.out, b.out);
    run_free(&a);
    run_free(&b);
    /* the events after the base came along: log, verify and replay them */
    struct run la, lb;
    OK(&la, "log", j, "--from", since);
    OK(&lb, "log", j2);
    cr_assert_str_neq(lb.out, "");
    cr_assert(strstr(la.out, lb.out), "j2's log is j's tail:\n%s\n---\n%s", la.out, lb.out);
    run_free(&la);
    run_free(&lb);
    OK(&r, "verify", j2);
    run_free(&r);
    OK(&r, "replay", j2, "--verify", "--quiet");
    run_free(&r);
    RUN(&r, "log", j2, "--from", "1");
    expect_user_error(&r, "start at seq");
    run_free(&r);

    RUN_IO(&r, NULL, stream, "send", j, "--since", "no-such-label");
    expect_user_error(&r, "no-such-label");
    run_free(&r);
    free(j);
    free(j2);
    free(stream);
    free(host);
    free(out);
    free(host2);
}

Test(cli, compact_keeps_what_it_says)
{
    char *j = journal_with_tree("host", 5);
    struct run r;
    for (int i = 0; i < 2; i++) {
        char name[32], to[32];
        snprintf(name, sizeof(name), "more%d", i);
        snprintf(to, sizeof(to), "/more%d", i);
        char *h = wpath(name);
        cr_assert_eq(mkdir(h, 0755), 0);
        char p[4096];
        snprintf(p, sizeof(p), "%s/f", h);
        write_file(p, "f\n", 2, 0644);
        OK(&r, "import", j, h, "--to", to);
        run_free(&r);
        free(h);
    }
    OK(&r, "snapshots", j, "--json");
    cr_assert_eq(count_lines(r.out), 3);
    char *second = strstr(strchr(r.out, '\n'), "\"seq\":");
    unsigned long keep_from = strtoul(second + 6, NULL, 10);
    unsigned long before = strtoul(strstr(r.out, "\"seq\":") + 6, NULL, 10);
    run_free(&r);
    struct run a;
    OK(&a, "ls", j, "/", "--json");

    OK(&r, "compact", j, "--keep", "2");
    cr_assert(strstr(r.out, " B -> "), "%s", r.out);
    run_free(&r);
    OK(&r, "snapshots", j, "--json");
    cr_assert_eq(count_lines(r.out), 2);
    run_free(&r);
    OK(&r, "verify", j);
    run_free(&r);
    struct run b;
    OK(&b, "ls", j, "/", "--json");
    cr_assert_str_eq(a.out, b.out);
    run_free(&a);
    run_free(&b);
    char at[32];
    snprintf(at, sizeof(at), "%lu", keep_from);
    OK(&r, "ls", j, "/more0", "--at", at);
    run_free(&r);
    snprintf(at, sizeof(at), "%lu", before);
    RUN(&r, "ls", j, "/", "--at", at);
    expect_user_error(&r, NULL);
    run_free(&r);
    free(j);
}

/* Frames the writer stored uncompressed (here: zstd's fastest level finds
 * next to nothing to shrink, as compress_adapt stores frames raw while
 * zstd cannot keep up) are compressed by `compact` at the default level. */
Test(cli, compact_compresses_frames_stored_uncompressed)
{
    char *j = wpath("j");
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = 1;
    o.zstd_level = ZSTD_minCLevel();
    cfs_journal *jw;
    char err[256];
    cr_assert_eq(cfs_journal_open(j, &o, &jw, err, sizeof(err)), 0, "%s", err);
    cfs_config cfg = {.sink = cfs_journal_sink(jw)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    size_t len = 256 << 10;
    char *text = malloc(len + 1);
    uint64_t x = 5;
    for (size_t i = 0; i < len; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        text[i] = (x >> 60) < 3 ? ' ' : (char)('a' + (x >> 33) % 6);
    }
    text[len] = 0;
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof(name), "t%d", i);
        cfs_fd fd;
        size_t n;
        cr_assert_eq(cfs_path_open(fs, CFS_ROOT_FD, 0, name, CFS_O_CREAT, CFS_RIGHTS_ALL,
                                   CFS_RIGHTS_ALL, 0, &fd), 0);
        text[0] = (char)('A' + i);
        cr_assert_eq(cfs_fd_write(fs, fd, text, len, &n), 0);
        cr_assert_eq(cfs_fd_close(fs, fd), 0);
    }
    cr_assert_eq(cfs_journal_close(jw), 0);
    cfs_fs_free(fs);

    struct run r;
    OK(&r, "compact", j);
    cr_assert(strstr(r.out, " B -> "), "%s", r.out);
    cr_assert(strstr(r.out, "frames stored uncompressed: "), "%s", r.out);
    run_free(&r);
    OK(&r, "verify", j);
    run_free(&r);
    OK(&r, "cat", j, "/t3");
    cr_assert_eq(strlen(r.out), len);
    cr_assert_str_eq(r.out, text, "/t3 differs after compaction");
    run_free(&r);
    /* nothing is left to compress */
    OK(&r, "compact", j);
    cr_assert_null(strstr(r.out, "uncompressed"), "%s", r.out);
    run_free(&r);
    OK(&r, "compact", "--help");
    cr_assert(strstr(r.out, "Frames stored uncompressed"), "%s", r.out);
    run_free(&r);
    free(text);
    free(j);
}

/* ---- bad input ----------------------------------------------------------- */

Test(cli, init_refuses_existing_things)
{
    char *j = wpath("j");
    struct run r;
    OK(&r, "init", j);
    run_free(&r);
    char *before = stat_json(j);
    RUN(&r, "init", j);
    expect_user_error(&r, j);
    run_free(&r);
    char *after = stat_json(j);
    cr_assert_str_eq(before, after);
    char *d = wpath("full");
    cr_assert_eq(mkdir(d, 0755), 0);
    char p[4096];
    snprintf(p, sizeof(p), "%s/keep", d);
    write_file(p, "x", 1, 0644);
    RUN(&r, "init", d);
    expect_user_error(&r, "not empty");
    run_free(&r);
    RUN(&r, "init", p);
    expect_user_error(&r, "not a directory");
    run_free(&r);
    free(j);
    free(d);
    free(before);
    free(after);
}

/* Set the journal's meta "format" to a future version. */
static void make_newer(const char *dir)
{
    unsigned char ver[4] = {99, 0, 0, 0};
    cfs_test_lmdb_put(dir, "meta", "format", 6, ver, 4);
}

/* stat says which format a journal was made at: this build's for a new
 * one, 1 for one an older build made (which this build reads and
 * extends). */
Test(cli, stat_shows_the_format_the_journal_was_made_at)
{
    char *j = journal_with_tree("host", 3);
    struct run r;
    char want[64];
    snprintf(want, sizeof(want), "\"format\":%d,", CFS_FORMAT_VERSION);
    OK(&r, "stat", j, "--json");
    cr_assert_not_null(strstr(r.out, want), "%s", r.out);
    run_free(&r);
    unsigned char ver[4] = {1, 0, 0, 0};
    cfs_test_lmdb_put(j, "meta", "format", 6, ver, 4);
    OK(&r, "stat", j, "--json");
    cr_assert_not_null(strstr(r.out, "\"format\":1,"), "%s", r.out);
    run_free(&r);
    OK(&r, "stat", j);
    cr_assert_not_null(strstr(r.out, "\nformat       1\n"), "%s", r.out);
    run_free(&r);
    free(j);
}

/* A FIFO in a host tree is recorded as a FIFO (ls shows it as one);
 * --skip-special leaves it out. */
Test(cli, import_records_fifos_unless_told_to_skip_them)
{
    char *j = journal_with_tree("host", 6);
    char *odd = wpath("odd");
    cr_assert_eq(mkdir(odd, 0755), 0);
    char fifo[4096];
    snprintf(fifo, sizeof(fifo), "%s/pipe", odd);
    cr_assert_eq(mkfifo(fifo, 0640), 0);
    struct run r;
    RUN(&r, "import", j, odd, "--to", "/skipped", "--skip-special");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    RUN(&r, "ls", j, "/skipped");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_null(strstr(r.out, "pipe"), "--skip-special left the FIFO out: %s", r.out);
    run_free(&r);
    RUN(&r, "import", j, odd, "--to", "/kept");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    RUN(&r, "ls", j, "/kept");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not_null(strstr(r.out, "prw-r-----"), "a FIFO, mode 0640: %s", r.out);
    cr_assert_not_null(strstr(r.out, "pipe"), "%s", r.out);
    run_free(&r);
    RUN(&r, "ls", j, "/kept", "--json");
    cr_assert_not_null(strstr(r.out, "\"type\":\"fifo\""), "%s", r.out);
    run_free(&r);
    free(odd);
    free(j);
}

Test(cli, bad_input_is_one_line_and_leaves_the_journal_alone)
{
    char *j = journal_with_tree("host", 6);
    char *before = stat_json(j);
    struct run r;
    char *notj = wpath("host"), *missing = wpath("nope");

    /* not a journal, no journal at all */
    const char *const readers[] = {"ls", "stat", "log", "snapshots", "verify", "snapshot",
                                   "compact"};
    for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
        RUN(&r, readers[i], notj);
        expect_user_error(&r, notj);
        run_free(&r);
        RUN(&r, readers[i], missing);
        expect_user_error(&r, missing);
        run_free(&r);
    }
    struct stat sb;
    cr_assert_neq(stat(missing, &sb), 0, "nothing was created");

    /* past the head, missing labels */
    RUN(&r, "ls", j, "/", "--at", "999999");
    expect_user_error(&r, "999999");
    run_free(&r);
    RUN(&r, "cat", j, "/hello.txt", "--at", "18446744073709551615");
    expect_user_error(&r, "past the head");
    run_free(&r);
    RUN(&r, "log", j, "--from", "999999");
    expect_user_error(&r, "999999");
    run_free(&r);
    RUN(&r, "restore", j, "out", "--snapshot", "nightly");
    expect_user_error(&r, "nightly");
    run_free(&r);
    RUN(&r, "diff", j, "1", "nightly");
    expect_user_error(&r, "nightly");
    run_free(&r);
    RUN(&r, "blame", j, "/hello.txt", "--at", "999999");
    expect_user_error(&r, "999999");
    run_free(&r);
    RUN(&r, "cat", j, "/no/such");
    expect_user_error(&r, "/no/such");
    run_free(&r);
    RUN(&r, "import", j, missing);
    expect_user_error(&r, missing);
    run_free(&r);

    /* a host tree that clashes with names the guest has: refused before
     * anything is recorded */
    char fifo[4096];
    char *clash = wpath("clash");
    cr_assert_eq(mkdir(clash, 0755), 0);
    snprintf(fifo, sizeof(fifo), "%s/hello.txt", clash);
    write_file(fifo, "x", 1, 0644);
    RUN(&r, "import", j, clash);
    expect_user_error(&r, "/hello.txt exists");
    run_free(&r);
    free(clash);

    /* restoring into a non-empty directory */
    char *out = wpath("host");
    RUN(&r, "restore", j, out);
    expect_user_error(&r, out);
    run_free(&r);

    /* a stream that is garbage, or truncated */
    char *garbage = wpath("garbage");
    write_file(garbage, "this is not a stream", 20, 0644);
    RUN_IO(&r, garbage, NULL, "receive", j);
    expect_user_error(&r, "journal unchanged");
    run_free(&r);
    char *stream = wpath("s"), *cut = wpath("cut");
    RUN_IO(&r, NULL, stream, "send", j);
    cr_assert_eq(r.status, 0);
    run_free(&r);
    cr_assert_eq(stat(stream, &sb), 0);
    cr_assert_eq(truncate(stream, sb.st_size / 2), 0);
    char *j3 = wpath("j3");
    RUN_IO(&r, stream, NULL, "receive", j3);
    expect_user_error(&r, NULL);
    run_free(&r);
    cr_assert_neq(stat(j3, &sb), 0, "a failed receive leaves no journal behind");

    char *after = stat_json(j);
    cr_assert_str_eq(before, after);
    free(after);

    /* a journal from a newer format */
    make_newer(j);
    const char *const all[] = {"ls", "stat", "snapshot", "verify", "log"};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        RUN(&r, all[i], j);
        expect_user_error(&r, "newer");
        run_free(&r);
    }
    free(before);
    free(j);
    free(notj);
    free(missing);
    free(out);
    free(garbage);
    free(stream);
    free(cut);
    free(j3);
}

/* Flip a byte in the payload of the frame stored under `seq`. */
static void damage_frame(const char *dir, uint64_t seq)
{
    unsigned char key[8];
    for (int i = 0; i < 8; i++)
        key[i] = (unsigned char)(seq >> (56 - 8 * i));
    cfs_test_lmdb_flip(dir, "events", key, 8, -3, 0x55);
}

Test(cli, damage_is_reported_with_its_seq)
{
    char *j = journal_with_tree("host", 10);
    struct run r;
    OK(&r, "verify", j);
    run_free(&r);
    damage_frame(j, 1);
    RUN(&r, "verify", j, "--no-chunks");
    expect_user_error(&r, "seq 1");
    run_free(&r);
    RUN(&r, "verify", j, "--json");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.out, "\"ok\":false"), "%s", r.out);
    cr_assert(strstr(r.out, "\"first_bad\":1,"), "%s", r.out);
    run_free(&r);
    RUN(&r, "log", j);
    expect_user_error(&r, "seq 1");
    run_free(&r);
    RUN(&r, "replay", j, "--quiet");
    expect_user_error(&r, "seq 1");
    run_free(&r);
    free(j);
}

/* A writer holding the journal (as a mount does): writers are refused
 * naming its pid, readers go on, and `snapshot` asks it by SIGUSR1. */
static volatile sig_atomic_t want_snapshot;
static int writer_changes = 1; /* the writer makes an event before snapshotting */
static void on_usr1(int sig)
{
    (void)sig;
    want_snapshot = 1;
}

static pid_t start_writer(const char *dir, int *ready_fd)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid) {
        close(p[1]);
        char c;
        cr_assert_eq(read(p[0], &c, 1), 1);
        *ready_fd = p[0];
        return pid;
    }
    close(p[0]);
    signal(SIGUSR1, on_usr1);
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    cfs_journal *j;
    if (cfs_journal_open(dir, &o, &j, NULL, 0))
        _exit(1);
    cfs_config cfg = {.sink = cfs_journal_sink(j)};
    cfs_fs *fs;
    if (cfs_journal_open_at(j, 0, &cfg, &fs))
        _exit(2);
    cfs_journal_attach(j, fs);
    /* it takes SIGUSR1 as a mount does, and says it is one (with no
     * device: nothing waits for it to unmount) */
    if (cfs_journal_writer_note(j, "mount (a test's writer)"))
        _exit(4);
    if (write(p[1], "r", 1) != 1)
        _exit(3);
    for (int i = 0; i < 3000; i++) {
        if (want_snapshot) {
            want_snapshot = 0;
            char name[32];
            snprintf(name, sizeof(name), "w%d", i);
            if (writer_changes)
                cfs_path_create_directory(fs, CFS_ROOT_FD, name);
            cfs_journal_request_snapshot(j);
        }
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
        cfs_journal_tick(j, (uint64_t)i * 5000000u);
        cfs_journal_commit(j);
    }
    _exit(0);
}

Test(cli, a_live_writer_is_named_and_asked_for_snapshots)
{
    char *j = journal_with_tree("host", 7);
    int fd;
    pid_t w = start_writer(j, &fd);
    char pid[32];
    snprintf(pid, sizeof(pid), "pid %d", (int)w);
    struct run r;
    RUN(&r, "compact", j);
    expect_user_error(&r, pid);
    run_free(&r);
    char *empty = wpath("empty");
    cr_assert_eq(mkdir(empty, 0755), 0);
    RUN(&r, "import", j, empty, "--to", "/e");
    expect_user_error(&r, pid);
    free(empty);
    run_free(&r);
    OK(&r, "ls", j, "/");
    run_free(&r);
    OK(&r, "stat", j);
    cr_assert(strstr(r.out, pid), "stat names the writer: %s", r.out);
    run_free(&r);
    RUN(&r, "snapshot", j, "--label", "x");
    expect_user_error(&r, "--label");
    run_free(&r);
    OK(&r, "snapshot", j);
    cr_assert_gt(strtoul(r.out, NULL, 10), 0);
    run_free(&r);
    OK(&r, "snapshots", j, "--json");
    cr_assert_eq(count_lines(r.out), 2, "%s", r.out);
    cr_assert(strstr(r.out, "\"trigger\":\"sigusr1\""), "%s", r.out);
    run_free(&r);
    kill(w, SIGKILL);
    waitpid(w, NULL, 0);
    close(fd);
    OK(&r, "verify", j);
    run_free(&r);

    /* a mount whose state is already snapshotted: said so, not waited out */
    writer_changes = 0;
    w = start_writer(j, &fd);
    RUN(&r, "snapshot", j, "--timeout", "30");
    expect_user_error(&r, "already has a snapshot");
    run_free(&r);
    kill(w, SIGKILL);
    waitpid(w, NULL, 0);
    close(fd);
    free(j);
}

/* Run chronofs with stdout and stdin on a pseudo-terminal; stderr captured. */
static int run_on_tty(const char *const *args, char **err)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    cr_assert_geq(m, 0);
    cr_assert_eq(grantpt(m), 0);
    cr_assert_eq(unlockpt(m), 0);
    const char *slave = ptsname(m);
    cr_assert(slave);
    FILE *fe = tmpfile();
    pid_t pid = fork();
    if (pid == 0) {
        int s = open(slave, O_RDWR);
        if (s < 0)
            _exit(126);
        dup2(s, 0);
        dup2(s, 1);
        dup2(fileno(fe), 2);
        char *argv[16] = {(char *)CHRONOFS_BIN};
        for (int i = 0; args[i] && i < 14; i++)
            argv[i + 1] = (char *)args[i];
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    close(m);
    *err = slurp_fd(fileno(fe), NULL);
    fclose(fe);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Test(cli, binary_streams_never_touch_a_terminal)
{
    char *j = journal_with_tree("host", 9);
    char *err;
    int st = run_on_tty((const char *const[]){"send", j, NULL}, &err);
    cr_assert_eq(st, 1, "%s", err);
    cr_assert(strstr(err, "terminal"), "%s", err);
    cr_assert_eq(count_lines(err), 1);
    free(err);
    char *j2 = wpath("j2");
    st = run_on_tty((const char *const[]){"receive", j2, NULL}, &err);
    cr_assert_eq(st, 1, "%s", err);
    cr_assert(strstr(err, "terminal"), "%s", err);
    free(err);
    struct stat sb;
    cr_assert_neq(stat(j2, &sb), 0);
    free(j);
    free(j2);
}

/* Run chronofs with stderr on a pseudo-terminal (stdout to /dev/null),
 * CHRONOFS_PROGRESS set to progress_env if not NULL: returns the exit
 * status, *tty what it drew there. */
static int run_stderr_tty(const char *progress_env, const char *const *args, char **tty)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    cr_assert_geq(m, 0);
    cr_assert_eq(grantpt(m), 0);
    cr_assert_eq(unlockpt(m), 0);
    char slave[256];
    cr_assert_eq(ptsname_r(m, slave, sizeof(slave)), 0);
    pid_t pid = fork();
    if (pid == 0) {
        int s = open(slave, O_RDWR);
        int nul = open("/dev/null", O_RDWR);
        if (s < 0 || nul < 0)
            _exit(126);
        close(m);
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(s, 2);
        if (progress_env)
            setenv("CHRONOFS_PROGRESS", progress_env, 1);
        char *argv[16] = {(char *)CHRONOFS_BIN};
        for (int i = 0; args[i] && i < 14; i++)
            argv[i + 1] = (char *)args[i];
        execv(argv[0], argv);
        _exit(127);
    }
    /* drain the terminal until the child closes it (EIO) */
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (n + 1 >= cap)
            b = realloc(b, cap *= 2);
        ssize_t r = read(m, b + n, cap - n - 1);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    b[n] = 0;
    int st;
    waitpid(pid, &st, 0);
    close(m);
    *tty = b;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Test(cli, progress_is_drawn_on_a_terminal_only)
{
    char *host = wpath("bighost"), *j = wpath("j"), *out = wpath("out");
    cr_assert_eq(mkdir(host, 0755), 0);
    size_t chunk = 1 << 20;
    unsigned char *buf = malloc(chunk);
    for (int f = 0; f < 2; f++) {
        char p[4096];
        snprintf(p, sizeof(p), "%s/f%d", host, f);
        int fd = open(p, O_WRONLY | O_CREAT, 0644);
        cr_assert_geq(fd, 0);
        unsigned x = (unsigned)f + 1;
        for (int i = 0; i < 8; i++) {
            fill_random(buf, chunk, &x);
            cr_assert_eq(write(fd, buf, chunk), (ssize_t)chunk);
        }
        close(fd);
    }
    free(buf);
    struct run r;
    OK(&r, "init", j);
    run_free(&r);
    /* "always": drawn from the first update, not after a quarter second,
     * so the test does not depend on the machine's speed */
    char *tty;
    int st = run_stderr_tty("always", (const char *const[]){"import", j, host, NULL}, &tty);
    cr_assert_eq(st, 0, "%s", tty);
    cr_assert(strstr(tty, "import ["), "no bar on the terminal: %s", tty);
    cr_assert(strstr(tty, "B/s"), "no rate: %s", tty);
    cr_assert(strstr(tty, "ETA"), "no ETA: %s", tty);
    cr_assert(strstr(tty, "imported 2 files"), "no summary: %s", tty);
    free(tty);
    st = run_stderr_tty("never", (const char *const[]){"restore", j, out, NULL}, &tty);
    cr_assert_eq(st, 0, "%s", tty);
    cr_assert_null(strstr(tty, "restore ["), "a bar despite never: %s", tty);
    cr_assert(strstr(tty, "restored"), "the summary is still there: %s", tty);
    free(tty);
    /* stderr not a terminal: nothing but the result */
    cfs_test_rmtree(out);
    OK(&r, "restore", j, out);
    run_free(&r);
    free(host);
    free(j);
    free(out);
}

/* A journal on a filesystem that is read-only, or full. Needs root (to
 * mount a small tmpfs). */
/* A journal at `dir` written the way a mount writes a big file: `mib`
 * writes of 1 MiB of random bytes, each a frame of its own in frames.dat
 * (the journal's bulk writes are stored raw). */
static void journal_of_big_writes(const char *dir, int mib)
{
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = 1;
    cfs_journal *j;
    char err[256];
    cr_assert_eq(cfs_journal_open(dir, &o, &j, err, sizeof(err)), 0, "%s", err);
    cfs_fs *fs = cfs_fs_new(NULL);
    cfs_sink sink = cfs_journal_sink(j);
    cfs_fs_set_sink(fs, &sink);
    cfs_fd fd;
    cr_assert_eq(cfs_path_open(fs, CFS_ROOT_FD, 0, "big", CFS_O_CREAT, CFS_RIGHTS_ALL,
                               CFS_RIGHTS_ALL, 0, &fd), 0);
    size_t len = (size_t)1 << 20;
    unsigned char *buf = malloc(len);
    unsigned x = 7;
    for (int m = 0; m < mib; m++) {
        fill_random(buf, len, &x);
        size_t n;
        cr_assert_eq(cfs_fd_write(fs, fd, buf, len, &n), 0);
    }
    free(buf);
    cr_assert_eq(cfs_fd_close(fs, fd), 0);
    cr_assert_eq(cfs_journal_close(j), 0);
    cfs_fs_free(fs);
}

/* A journal at `dir` whose state is `levels` directories of 250-byte
 * names (more than PATH_MAX in all), with a
 * file of `mib` MiB of random bytes at the bottom: made through directory
 * fds, as a program on a mount makes it. */
static void journal_with_deep_file(const char *dir, int levels, int mib)
{
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = 1;
    cfs_journal *j;
    char err[256];
    cr_assert_eq(cfs_journal_open(dir, &o, &j, err, sizeof(err)), 0, "%s", err);
    cfs_fs *fs = cfs_fs_new(NULL);
    cfs_sink sink = cfs_journal_sink(j);
    cfs_fs_set_sink(fs, &sink);
    cfs_fdstat rs;
    cr_assert_eq(cfs_fd_fdstat_get(fs, CFS_ROOT_FD, &rs), 0);
    cfs_rights dir_rights = rs.rights_inheriting &
                            ~(CFS_RIGHT_FD_DATASYNC | CFS_RIGHT_FD_WRITE |
                              CFS_RIGHT_FD_ALLOCATE | CFS_RIGHT_FD_FILESTAT_SET_SIZE);
    char comp[251];
    memset(comp, 'd', 250);
    comp[250] = 0;
    cfs_fd at = CFS_ROOT_FD;
    for (int i = 0; i < levels; i++) {
        cr_assert_eq(cfs_path_create_directory(fs, at, comp), 0);
        cfs_fd sub;
        cr_assert_eq(cfs_path_open(fs, at, 0, comp, CFS_O_DIRECTORY, dir_rights,
                                   rs.rights_inheriting, 0, &sub), 0);
        if (at != CFS_ROOT_FD)
            cr_assert_eq(cfs_fd_close(fs, at), 0);
        at = sub;
    }
    cfs_fd f;
    cr_assert_eq(cfs_path_open(fs, at, 0, "big", CFS_O_CREAT, CFS_RIGHTS_ALL, CFS_RIGHTS_ALL,
                               0, &f), 0);
    size_t len = (size_t)mib << 20, n;
    unsigned char *buf = malloc(len);
    unsigned x = 11;
    fill_random(buf, len, &x);
    cr_assert_eq(cfs_fd_write(fs, f, buf, len, &n), 0);
    free(buf);
    cr_assert_eq(cfs_fd_close(fs, f), 0);
    cr_assert_eq(cfs_fd_close(fs, at), 0);
    cr_assert_eq(cfs_journal_close(j), 0);
    cfs_fs_free(fs);
}

/* A receive of a stream of big frames cut short is refused and leaves
 * nothing where the new journal was to be (frames.dat included, which it
 * had begun to fill), so the whole stream can then be received there. */
Test(cli, a_cut_stream_of_big_frames_leaves_nothing_behind)
{
    char *bj = wpath("bj"), *stream = wpath("s"), *cut = wpath("cut"), *j2 = wpath("j2");
    journal_of_big_writes(bj, 24);
    struct run r;
    OK(&r, "stat", bj, "--json");
    cr_assert(!strstr(r.out, "\"big_frames\":0,"), "no big frames to send: %s", r.out);
    run_free(&r);
    RUN_IO(&r, NULL, stream, "send", bj);
    cr_assert_eq(r.status, 0);
    run_free(&r);
    struct stat sb;
    cr_assert_eq(stat(stream, &sb), 0);
    cr_assert_eq(cfs_test_sh("head -c %lld '%s' > '%s'", (long long)sb.st_size / 2, stream,
                             cut), 0);
    RUN_IO(&r, cut, NULL, "receive", j2);
    expect_user_error(&r, "journal unchanged");
    run_free(&r);
    cr_assert_neq(stat(j2, &sb), 0, "a refused receive left %s behind", j2);
    RUN_IO(&r, stream, NULL, "receive", j2);
    cr_assert_eq(r.status, 0, "the whole stream, after the cut one: %s", r.err);
    run_free(&r);
    OK(&r, "verify", j2);
    run_free(&r);
    free(bj);
    free(stream);
    free(cut);
    free(j2);
}

/* A tmpfs of `size` at work/mnt (the suite's cleanup unmounts it); skips
 * the test where it cannot be had (not root). */
static char *small_tmpfs(const char *size)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to mount a small tmpfs");
    char *mnt = wpath("mnt");
    cr_assert_eq(mkdir(mnt, 0755), 0);
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s", size);
    if (mount("tmpfs", mnt, "tmpfs", 0, opts) != 0)
        cr_skip_test("cannot mount a tmpfs: %s", strerror(errno));
    return mnt;
}

/* A host dir of `files` files of `mib` MiB of random bytes each. */
static void random_tree(const char *root, int files, int mib, unsigned seed)
{
    cr_assert_eq(mkdir(root, 0755), 0);
    size_t n = (size_t)mib << 20;
    unsigned char *buf = malloc(n);
    unsigned x = seed;
    char p[4096];
    for (int f = 0; f < files; f++) {
        fill_random(buf, n, &x);
        snprintf(p, sizeof(p), "%s/r%d", root, f);
        write_file(p, buf, n, 0644);
    }
    free(buf);
}

/* An import stores its files twice (events, then the bootstrap
 * snapshot's chunks): one that passes the free-space check and then fills
 * the disk halfway is undone, and the journal is as it was, down to the
 * space: a smaller import fits afterwards. */
Test(cli, an_import_that_fills_the_disk_changes_nothing)
{
    char *mnt = small_tmpfs("12m");
    char j[4096];
    snprintf(j, sizeof(j), "%s/j", mnt);
    import_tree(j, "host", 8);
    struct run r;
    char *before = stat_json(j);
    OK(&r, "ls", j, "/");
    char *tree_before = r.out;
    free(r.err);

    char *big = wpath("big"), *small = wpath("small");
    random_tree(big, 8, 1, 5); /* 8 MiB: 16 stored, on 12 */
    RUN(&r, "import", j, big, "--to", "/big");
    expect_user_error(&r, "journal unchanged");
    cr_assert(strstr(r.err, "disk full"), "%s", r.err);
    run_free(&r);
    char *after = stat_json(j);
    cr_assert_str_eq(before, after);
    free(after);
    OK(&r, "ls", j, "/");
    cr_assert_str_eq(r.out, tree_before);
    run_free(&r);
    OK(&r, "verify", j);
    run_free(&r);
    random_tree(small, 3, 1, 6); /* 3 MiB: 6 stored */
    OK(&r, "import", j, small, "--to", "/small");
    run_free(&r);
    OK(&r, "verify", j);
    run_free(&r);
    umount2(mnt, MNT_DETACH);
    free(before);
    free(tree_before);
    free(big);
    free(small);
    free(mnt);
}

/* A snapshot stores its chunks in transactions of its own before its
 * record: one that fills the disk is refused, and the chunks it had
 * stored go too (stat counts none). */
Test(cli, a_snapshot_that_fills_the_disk_changes_nothing)
{
    char *mnt = small_tmpfs("12m");
    char j[4096];
    snprintf(j, sizeof(j), "%s/j", mnt);
    journal_of_big_writes(j, 7); /* 7 MiB of events; a snapshot needs 7 more */
    char *before = stat_json(j);
    cr_assert(strstr(before, "\"chunks\":0,"), "%s", before);
    struct run r;
    RUN(&r, "snapshot", j, "--label", "full");
    expect_user_error(&r, "journal unchanged");
    cr_assert(strstr(r.err, "disk full"), "%s", r.err);
    run_free(&r);
    char *after = stat_json(j);
    cr_assert_str_eq(before, after);
    free(after);
    OK(&r, "verify", j);
    run_free(&r);
    umount2(mnt, MNT_DETACH);
    free(before);
    free(mnt);
}

/* A restore that fills the disk leaves nothing behind: OUTDIR gone if it
 * made it, empty again if it was there; a non-empty OUTDIR, which it
 * refuses, keeps what it held. */
Test(cli, a_restore_that_fills_the_disk_leaves_nothing)
{
    char *j = wpath("j"), *host = wpath("host");
    random_tree(host, 6, 1, 9);
    struct run r;
    OK(&r, "init", j);
    run_free(&r);
    OK(&r, "import", j, host);
    run_free(&r);
    char *mnt = small_tmpfs("4m");
    char out[4200], empty[4200], full[4300];
    snprintf(out, sizeof(out), "%s/out", mnt);
    RUN(&r, "restore", j, out);
    expect_user_error(&r, "nothing restored");
    cr_assert(strstr(r.err, "No space left"), "%s", r.err);
    run_free(&r);
    struct stat sb;
    cr_assert_neq(lstat(out, &sb), 0, "%s was left behind", out);
    snprintf(empty, sizeof(empty), "%s/empty", mnt);
    cr_assert_eq(mkdir(empty, 0700), 0);
    RUN(&r, "restore", j, empty);
    expect_user_error(&r, "nothing restored");
    run_free(&r);
    cr_assert_eq(cfs_test_sh("[ -d '%s' ] && [ -z \"$(ls -A '%s')\" ]", empty, empty), 0,
                 "%s is there and empty again", empty);
    snprintf(full, sizeof(full), "%s/keep", empty);
    write_file(full, "mine", 4, 0644);
    RUN(&r, "restore", j, empty);
    expect_user_error(&r, "not empty");
    run_free(&r);
    cr_assert_eq(lstat(full, &sb), 0, "a refused restore removed %s", full);
    cr_assert_eq(unlink(full), 0);

    /* a tree deeper than PATH_MAX (a file at the bottom of 20 names of 250
     * bytes), restored onto a disk it does not fit: undone all the same */
    char *dj = wpath("dj");
    journal_with_deep_file(dj, 20, 6);
    RUN(&r, "restore", dj, out);
    expect_user_error(&r, "nothing restored");
    run_free(&r);
    cr_assert_neq(lstat(out, &sb), 0, "the deep tree was left behind in %s", out);
    umount2(mnt, MNT_DETACH);
    free(mnt);
    free(j);
    free(host);
    free(dj);
}

/* init on a full disk: an error, not a crash (LMDB's lock file is
 * written through a mapping), and nothing half-made left behind. */
Test(cli, init_on_a_full_disk_leaves_nothing)
{
    char *mnt = small_tmpfs("1m");
    char j[4200], e[4200];
    snprintf(j, sizeof(j), "%s/j", mnt);
    snprintf(e, sizeof(e), "%s/e", mnt);
    cr_assert_eq(mkdir(e, 0755), 0);
    cr_assert_eq(cfs_test_sh("cat /dev/zero > '%s/fill' 2>/dev/null; true", mnt), 0);
    struct run r;
    RUN(&r, "init", j);
    expect_user_error(&r, "disk full");
    run_free(&r);
    struct stat sb;
    cr_assert_neq(lstat(j, &sb), 0, "%s was left behind", j);
    RUN(&r, "init", e);
    expect_user_error(&r, "disk full");
    run_free(&r);
    cr_assert_eq(cfs_test_sh("[ -d '%s' ] && [ -z \"$(ls -A '%s')\" ]", e, e), 0,
                 "%s is there and empty again", e);
    umount2(mnt, MNT_DETACH);
    free(mnt);
}

Test(cli, read_only_and_full_disks)
{
    char *mnt = small_tmpfs("2m");
    char j[4096];
    snprintf(j, sizeof(j), "%s/j", mnt);
    import_tree(j, "host", 8);
    struct run r;
    struct stat sb;
    char *before = stat_json(j);

    /* full: a stream bigger than what is left */
    char *big = wpath("bighost"), *bj = wpath("bj"), *stream = wpath("s");
    random_tree(big, 1, 3, 99); /* 3 MiB that do not compress */
    OK(&r, "init", bj);
    run_free(&r);
    OK(&r, "import", bj, big, "--to", "/big");
    run_free(&r);
    RUN_IO(&r, NULL, stream, "send", bj);
    cr_assert_eq(r.status, 0);
    run_free(&r);
    char j2[4096];
    snprintf(j2, sizeof(j2), "%s/j2", mnt);
    RUN_IO(&r, stream, NULL, "receive", j2);
    expect_user_error(&r, NULL);
    run_free(&r);
    cr_assert_neq(stat(j2, &sb), 0, "a receive refused for space leaves nothing behind "
                  "(its big frames' frames.dat included)");
    RUN(&r, "import", j, big, "--to", "/big");
    expect_user_error(&r, "not enough free space");
    run_free(&r);
    char *after = stat_json(j);
    cr_assert_str_eq(before, after);
    free(after);

    /* read-only: readers still read, writers are refused */
    cr_assert_eq(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
    OK(&r, "ls", j, "/docs");
    run_free(&r);
    OK(&r, "verify", j);
    run_free(&r);
    after = stat_json(j);
    cr_assert_str_eq(before, after);
    free(after);
    RUN(&r, "snapshot", j, "--label", "ro");
    expect_user_error(&r, j);
    run_free(&r);
    RUN(&r, "compact", j);
    expect_user_error(&r, j);
    run_free(&r);
    RUN(&r, "init", j2);
    expect_user_error(&r, NULL);
    run_free(&r);
    char rout[4096];
    snprintf(rout, sizeof(rout), "%s/out", mnt);
    RUN(&r, "restore", j, rout);
    expect_user_error(&r, rout);
    run_free(&r);
    cr_assert_eq(mount(NULL, mnt, NULL, MS_REMOUNT, NULL), 0);
    umount2(mnt, MNT_DETACH);
    free(before);
    free(big);
    free(bj);
    free(stream);
    free(mnt);
}
