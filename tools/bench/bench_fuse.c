/*
 * bench_fuse.c — chronofs-bench's `fuse` suite (issue 5, "Benchmark"):
 * real workloads on a chronofs FUSE mount, on tmpfs, and on bindfs over
 * tmpfs (a FUSE peer that passes every operation through to a host dir).
 *
 * The workloads, each run in a fresh directory of each target:
 *
 *   untar       `tar -xf` of a tarball of /usr/include (made once, into
 *               the work dir; --quick: of /usr/include/linux);
 *   smallfiles  create (256 B-2 KiB of text each), stat and unlink 20,000
 *               files in 20 directories, plain syscalls from this process;
 *   bigfile     write 1 GiB in 1 MiB blocks, close, reopen and read it back
 *               (every 4 KiB page carries a stamp that is checked); no
 *               fsync on any side;
 *   sqlite      the sqlite3 CLI running a generated script: a table with
 *               an index, then 100 transactions (BEGIN; 100 INSERTs;
 *               COMMIT), default pragmas (rollback journal,
 *               synchronous=FULL, so every COMMIT fsyncs). On chronofs a
 *               program's fsync makes the journal durable (a disk flush,
 *               even in batch mode); on tmpfs, and bindfs over it, fsync
 *               does nothing: this row compares durability with none.
 *
 * The targets:
 *
 *   chronofs    a fresh journal under the work dir in /tmp (a real disk)
 *               mounted with `chronofs mount J MNT --durability batch` for
 *               each run (with the bench's --io-uring: auto by default;
 *               whether requests went through io_uring is printed: it
 *               needs the kernel's enable_uring), unmounted
 *               after it (not timed);
 *   tmpfs       a fresh dir in /dev/shm;
 *   bindfs      `bindfs -o no-allow-other,big_writes SRC MNT` over a fresh
 *               dir in /dev/shm. bindfs is built on libfuse 2, whose writes
 *               are 4 KiB each without big_writes (chronofs asks for
 *               1 MiB): big_writes makes it the fairest FUSE peer.
 *               no-allow-other: the bench needs no other user's access.
 *
 * What the read half of bigfile measures: tmpfs copies from its own pages
 * (page cache cannot be dropped for tmpfs). Both FUSE targets serve FUSE
 * read requests: bindfs opens without keep_cache, so the kernel drops the
 * file's pages at the reopen and bindfs reads tmpfs; chronofs opens with
 * keep_cache, but its writes (write-through, 1 MiB each) leave no pages in
 * the kernel's cache (fincore shows 0 of the file after writing on this
 * kernel), so the reads go to the engine's memory. A second read of the
 * file would come from the page cache on chronofs; the bench reads once.
 * The table shows the two halves apart.
 *
 * The chronofs mount runs as our child with --foreground (the same
 * single-threaded session loop as the daemon, mount.c) rather than
 * daemonized, so the bench can wait for it after `fusermount3 -u` and check
 * its exit status: 0 means the journal committed everything and closed
 * cleanly. The journal's writer lock must then be free too.
 *
 * Every mount is recorded the moment it exists; cfs_bench_die(), exit and
 * SIGINT/SIGTERM/SIGHUP unmount them (closing the fd a workload may hold
 * first, so the unmount is not busy) before the work dirs are removed.
 *
 * Repetitions are interleaved (each rep runs the three targets, in an
 * order rotated by the rep) and each figure is the median.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cfs_journal.h"

enum { T_CHRONOFS, T_TMPFS, T_BINDFS, T_COUNT };
static const char *const cfs_target_name[T_COUNT] = {"chronofs", "tmpfs", "bindfs"};

enum { W_UNTAR, W_SMALLFILES, W_BIGFILE, W_SQLITE, W_COUNT };
static const char *const cfs_workload_name[W_COUNT] = {"untar", "smallfiles",
                                                       "bigfile", "sqlite"};

#define CFS_BIG_BLOCK ((size_t)1 << 20)
#define CFS_SMALL_DIRS 20
/* Paths under the work dirs (cfs_work's 256 bytes + a little). */
#define CFS_PATH 512

typedef struct cfs_fuse_sizes {
    const char *tar_parent, *tar_member; /* tar -C parent member */
    int files;                           /* smallfiles */
    uint64_t big_bytes;                  /* bigfile */
    int transactions;                    /* sqlite: of 100 rows each */
} cfs_fuse_sizes;

/* ---------------------------------------------------------------------- */
/* Live mounts and cleanup                                                  */

typedef struct cfs_live_mount {
    char mnt[CFS_PATH];
    char journal[CFS_PATH]; /* chronofs only */
    pid_t pid;              /* the chronofs mount process; 0 for bindfs */
    int live;
} cfs_live_mount;

static cfs_live_mount cfs_mounts[T_COUNT];
static char cfs_shm[64];          /* /dev/shm/chronofs-bench-fuse-XXXXXX */
static char cfs_work[256];        /* the bench's work dir under /tmp */
static int cfs_open_fd = -1;      /* a workload's fd into a target */

static void cfs_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Is mnt a mount point in /proc/self/mounts? (Our paths have no spaces,
 * so the file's octal escapes do not matter.) */
static int cfs_is_mounted(const char *mnt)
{
    FILE *f = fopen("/proc/self/mounts", "r");
    if (!f)
        return 0;
    char line[2 * PATH_MAX], dev[PATH_MAX], at[PATH_MAX];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        if (sscanf(line, "%4095s %4095s", dev, at) == 2 && !strcmp(at, mnt))
            found = 1;
    fclose(f);
    return found;
}

/* Run argv[0] (searched in PATH) with stdin from in_path (or as is), its
 * stdout to our stderr (our stdout is the table), stderr to err_path (or
 * ours). Returns the wait status, or -1 if it could not start. */
static int cfs_run(char *const argv[], const char *in_path, const char *err_path)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (in_path) {
            int fd = open(in_path, O_RDONLY);
            if (fd < 0 || dup2(fd, STDIN_FILENO) < 0)
                _exit(127);
        }
        if (err_path) {
            int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
                _exit(127);
        }
        dup2(STDERR_FILENO, STDOUT_FILENO);
        execvp(argv[0], argv);
        fprintf(stderr, "chronofs-bench: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return st;
}

static int cfs_status_ok(int st)
{
    return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void cfs_run_ok(char *const argv[], const char *in_path)
{
    int st = cfs_run(argv, in_path, NULL);
    if (!cfs_status_ok(st)) {
        char cmd[1024] = "";
        for (int i = 0; argv[i]; i++) {
            strncat(cmd, argv[i], sizeof cmd - strlen(cmd) - 2);
            strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1);
        }
        cfs_bench_die("`%s` failed (wait status %d)", cmd, st);
    }
}

/* Print the chronofs mount's log (its stderr) to ours. */
static void cfs_show_log(void)
{
    char path[CFS_PATH], buf[4096];
    snprintf(path, sizeof path, "%s/mount.log", cfs_work);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stderr);
    fclose(f);
}

/*
 * Unmount m and, for chronofs, wait for the mount process and check that it
 * exited 0 with the journal's writer lock released. Returns 0, or -1 with
 * the reason on stderr. Busy (something still open inside) is retried for
 * 5 s, then the unmount is made lazy.
 */
static int cfs_unmount(cfs_live_mount *m)
{
    if (!m->live)
        return 0;
    int rc = 0;
    char *umount[] = {(char *)"fusermount3", (char *)"-u", (char *)"-q", m->mnt, NULL};
    char *lazy[] = {(char *)"fusermount3", (char *)"-u", (char *)"-z", (char *)"-q",
                    m->mnt, NULL};
    for (int i = 0; cfs_is_mounted(m->mnt); i++) {
        if (i == 50) {
            fprintf(stderr, "chronofs-bench: %s busy; lazy unmount\n", m->mnt);
            cfs_run(lazy, NULL, NULL);
            break;
        }
        if (!cfs_status_ok(cfs_run(umount, NULL, NULL)))
            cfs_sleep_ms(100);
    }
    if (m->pid > 0) {
        int st = 0;
        pid_t got = 0;
        /* Closing commits the last batch: give it time, but not forever. */
        for (int i = 0; i < 120000 && (got = waitpid(m->pid, &st, WNOHANG)) == 0; i++)
            cfs_sleep_ms(1);
        if (got == 0) {
            fprintf(stderr, "chronofs-bench: chronofs mount (pid %ld) still running 2 "
                    "minutes after the unmount of %s; left running\n",
                    (long)m->pid, m->mnt);
            rc = -1;
        } else if (got < 0 || !cfs_status_ok(st)) {
            fprintf(stderr, "chronofs-bench: chronofs mount of %s ended with wait "
                    "status %d; its log:\n", m->journal, st);
            cfs_show_log();
            rc = -1;
        } else if (cfs_journal_writer_pid(m->journal) != 0) {
            fprintf(stderr, "chronofs-bench: %s: writer lock still held after the "
                    "mount exited\n", m->journal);
            rc = -1;
        }
    }
    m->live = 0;
    return rc;
}

/* Unmount everything, remove the tmpfs dir. Idempotent: cfs_bench_die()
 * calls it before removing the work dir, atexit() again at the end. */
static void cfs_fuse_cleanup(void)
{
    if (cfs_open_fd >= 0) {
        close(cfs_open_fd);
        cfs_open_fd = -1;
    }
    for (int t = 0; t < T_COUNT; t++)
        cfs_unmount(&cfs_mounts[t]);
    if (cfs_shm[0]) {
        cfs_bench_rmtree(cfs_shm);
        cfs_shm[0] = '\0';
    }
}

/* ---------------------------------------------------------------------- */
/* Targets                                                                  */

static char *cfs_chronofs_bin; /* cfs_bench_chronofs() */
static const char *cfs_uring = "auto"; /* the mount's --io-uring */
/* The runs whose chronofs mount took requests through io_uring and those
 * whose did not (it holds one io_uring per CPU while it does). */
static int cfs_runs_uring, cfs_runs_dev;

/* How many io_uring instances process pid holds (its fds' links to
 * anon_inode:[io_uring]). */
static int cfs_io_urings(pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char link[320], target[64];
        snprintf(link, sizeof link, "%s/%s", dir, de->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len > 0) {
            target[len] = '\0';
            n += !strcmp(target, "anon_inode:[io_uring]");
        }
    }
    closedir(d);
    return n;
}


static void cfs_mkdir(const char *path)
{
    if (mkdir(path, 0755))
        cfs_bench_die("mkdir %s: %s", path, strerror(errno));
}

/* Fresh journal, mounted at <work>/mnt by a --foreground child; returns
 * once the mount answers. */
static void cfs_mount_chronofs(int run)
{
    cfs_live_mount *m = &cfs_mounts[T_CHRONOFS];
    snprintf(m->journal, sizeof m->journal, "%s/j%d", cfs_work, run);
    snprintf(m->mnt, sizeof m->mnt, "%s/mnt", cfs_work);
    char *init[] = {cfs_chronofs_bin, (char *)"init", m->journal, NULL};
    cfs_run_ok(init, NULL);

    char log[CFS_PATH];
    snprintf(log, sizeof log, "%s/mount.log", cfs_work);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        cfs_bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(127);
        execl(cfs_chronofs_bin, cfs_chronofs_bin, "mount", m->journal, m->mnt,
              "--durability", "batch", "--foreground", "--io-uring", cfs_uring,
              (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", cfs_chronofs_bin, strerror(errno));
        _exit(127);
    }
    m->pid = pid;
    m->live = 1;
    for (int i = 0; !cfs_is_mounted(m->mnt); i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            m->live = 0;
            cfs_show_log();
            cfs_bench_die("chronofs mount %s %s failed (wait status %d)", m->journal,
                          m->mnt, st);
        }
        if (i == 10000)
            cfs_bench_die("chronofs mount %s: not mounted after 10 s", m->journal);
        cfs_sleep_ms(1);
    }
    /* The first request waits for FUSE's INIT: once stat answers, the
     * session serves. */
    struct stat st;
    if (stat(m->mnt, &st))
        cfs_bench_die("stat %s: %s", m->mnt, strerror(errno));
}

static void cfs_mount_bindfs(const char *src)
{
    cfs_live_mount *m = &cfs_mounts[T_BINDFS];
    snprintf(m->mnt, sizeof m->mnt, "%s/bmnt", cfs_work);
    m->journal[0] = '\0';
    m->pid = 0;
    char *argv[] = {(char *)"bindfs", (char *)"-o", (char *)"no-allow-other,big_writes",
                    (char *)src, m->mnt, NULL};
    m->live = 1; /* before: a mount that half-worked is still unmounted */
    cfs_run_ok(argv, NULL);
    if (!cfs_is_mounted(m->mnt))
        cfs_bench_die("bindfs %s %s returned but %s is not mounted", src, m->mnt, m->mnt);
}

/* The user + system CPU seconds process `pid` has used so far, or -1. */
static double cfs_proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* fields 14 and 15, after the name */
    for (int field = 2; field < 14 && p; field++)
        p = strchr(p + 1, ' ');
    unsigned long long ut, st;
    if (!p || sscanf(p + 1, "%llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The process serving mount point `mnt`: the chronofs mount is our child;
 * bindfs daemonizes, so it is the bindfs whose command line names mnt.
 * 0 if none is found. */
static pid_t cfs_mount_pid(int t)
{
    if (t == T_CHRONOFS)
        return cfs_mounts[T_CHRONOFS].pid;
    if (t != T_BINDFS)
        return 0;
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    pid_t found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        char path[300], cmd[4096];
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        size_t n = fread(cmd, 1, sizeof cmd - 1, f);
        fclose(f);
        cmd[n] = '\0';
        if (strcmp(cmd, "bindfs") != 0) /* argv[0], up to its NUL */
            continue;
        for (size_t at = 0; at < n; at += strlen(cmd + at) + 1)
            if (!strcmp(cmd + at, cfs_mounts[T_BINDFS].mnt))
                found = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return found;
}

/* Make target t ready for run `run`; the workload's dir goes in dir. */
static void cfs_target_up(int t, int run, char *dir, size_t cap)
{
    char src[CFS_PATH];
    switch (t) {
    case T_CHRONOFS:
        cfs_mount_chronofs(run);
        snprintf(dir, cap, "%s/w", cfs_mounts[T_CHRONOFS].mnt);
        break;
    case T_TMPFS:
        snprintf(dir, cap, "%s/t%d", cfs_shm, run);
        break;
    case T_BINDFS:
        snprintf(src, sizeof src, "%s/b%d", cfs_shm, run);
        cfs_mkdir(src);
        cfs_mount_bindfs(src);
        snprintf(dir, cap, "%s/w", cfs_mounts[T_BINDFS].mnt);
        break;
    }
    cfs_mkdir(dir);
}

static void cfs_target_down(int t, int run)
{
    char path[CFS_PATH];
    if (t == T_TMPFS) {
        snprintf(path, sizeof path, "%s/t%d", cfs_shm, run);
    } else if (t == T_BINDFS) {
        if (cfs_unmount(&cfs_mounts[T_BINDFS]))
            cfs_bench_die("unmounting bindfs failed");
        snprintf(path, sizeof path, "%s/b%d", cfs_shm, run);
    } else {
        if (cfs_io_urings(cfs_mounts[T_CHRONOFS].pid) > 0)
            cfs_runs_uring++;
        else
            cfs_runs_dev++;
        if (cfs_unmount(&cfs_mounts[T_CHRONOFS]))
            cfs_bench_die("the chronofs mount did not close cleanly");
        snprintf(path, sizeof path, "%s", cfs_mounts[T_CHRONOFS].journal);
    }
    cfs_bench_rmtree(path);
}

/* ---------------------------------------------------------------------- */
/* Workloads: each returns its seconds                                      */

typedef struct cfs_inputs {
    char tarball[CFS_PATH];
    char sql[CFS_PATH];
    char text[4096];   /* smallfiles' content */
    char *block;       /* bigfile's 1 MiB block */
    char *readbuf;
} cfs_inputs;

static double cfs_w_untar(const cfs_inputs *in, const char *dir)
{
    char *argv[] = {(char *)"tar", (char *)"-xf", (char *)in->tarball, (char *)"-C",
                    (char *)dir, NULL};
    double t0 = cfs_bench_now();
    cfs_run_ok(argv, NULL);
    return cfs_bench_now() - t0;
}

static double cfs_w_sqlite(const cfs_inputs *in, const char *dir)
{
    char db[CFS_PATH + 32];
    snprintf(db, sizeof db, "%s/bench.db", dir);
    char *argv[] = {(char *)"sqlite3", (char *)"-bail", db, NULL};
    double t0 = cfs_bench_now();
    cfs_run_ok(argv, in->sql);
    return cfs_bench_now() - t0;
}

/* phase: create, stat, unlink (each including its share of mkdir/rmdir). */
static double cfs_w_smallfiles(const cfs_inputs *in, const char *dir, int files,
                               double phase[3])
{
    char path[CFS_PATH + 64];
    struct stat st;
    int per_dir = files / CFS_SMALL_DIRS;
    double t0 = cfs_bench_now();
    for (int d = 0; d < CFS_SMALL_DIRS; d++) {
        snprintf(path, sizeof path, "%s/d%02d", dir, d);
        cfs_mkdir(path);
        for (int i = 0; i < per_dir; i++) {
            int k = d * per_dir + i;
            size_t len = 256 + (size_t)(k * 397) % 1793;
            snprintf(path, sizeof path, "%s/d%02d/f%05d", dir, d, i);
            cfs_open_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (cfs_open_fd < 0)
                cfs_bench_die("create %s: %s", path, strerror(errno));
            if (write(cfs_open_fd, in->text + k % 2048, len) != (ssize_t)len)
                cfs_bench_die("write %s: %s", path, strerror(errno));
            if (close(cfs_open_fd))
                cfs_bench_die("close %s: %s", path, strerror(errno));
            cfs_open_fd = -1;
        }
    }
    double t1 = cfs_bench_now();
    for (int d = 0; d < CFS_SMALL_DIRS; d++)
        for (int i = 0; i < per_dir; i++) {
            snprintf(path, sizeof path, "%s/d%02d/f%05d", dir, d, i);
            if (stat(path, &st))
                cfs_bench_die("stat %s: %s", path, strerror(errno));
        }
    double t2 = cfs_bench_now();
    for (int d = 0; d < CFS_SMALL_DIRS; d++) {
        for (int i = 0; i < per_dir; i++) {
            snprintf(path, sizeof path, "%s/d%02d/f%05d", dir, d, i);
            if (unlink(path))
                cfs_bench_die("unlink %s: %s", path, strerror(errno));
        }
        snprintf(path, sizeof path, "%s/d%02d", dir, d);
        if (rmdir(path))
            cfs_bench_die("rmdir %s: %s", path, strerror(errno));
    }
    double t3 = cfs_bench_now();
    phase[0] = t1 - t0;
    phase[1] = t2 - t1;
    phase[2] = t3 - t2;
    return t3 - t0;
}

/* Every 4 KiB page of block b starts with its stamp, so no two pages of
 * the file are alike (nothing for a chunk store to dedupe) and the read
 * back can check it got the right data. */
static void cfs_stamp(char *block, uint64_t b)
{
    for (size_t p = 0; p < CFS_BIG_BLOCK; p += 4096) {
        uint64_t s = (b << 16) | (p >> 12) | UINT64_C(0x5a00000000000000);
        memcpy(block + p, &s, 8);
    }
}

/* phase: write (with close), read back (reopen, read, close). */
static double cfs_w_bigfile(const cfs_inputs *in, const char *dir, uint64_t bytes,
                            double phase[2])
{
    char path[CFS_PATH + 32];
    uint64_t blocks = bytes / CFS_BIG_BLOCK;
    snprintf(path, sizeof path, "%s/big", dir);
    double t0 = cfs_bench_now();
    cfs_open_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (cfs_open_fd < 0)
        cfs_bench_die("create %s: %s", path, strerror(errno));
    for (uint64_t b = 0; b < blocks; b++) {
        cfs_stamp(in->block, b);
        if (write(cfs_open_fd, in->block, CFS_BIG_BLOCK) != (ssize_t)CFS_BIG_BLOCK)
            cfs_bench_die("write %s block %" PRIu64 ": %s", path, b, strerror(errno));
    }
    if (close(cfs_open_fd))
        cfs_bench_die("close %s: %s", path, strerror(errno));
    double t1 = cfs_bench_now();
    cfs_open_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (cfs_open_fd < 0)
        cfs_bench_die("open %s: %s", path, strerror(errno));
    for (uint64_t b = 0; b < blocks; b++) {
        size_t got = 0;
        while (got < CFS_BIG_BLOCK) {
            ssize_t n = read(cfs_open_fd, in->readbuf + got, CFS_BIG_BLOCK - got);
            if (n <= 0)
                cfs_bench_die("read %s block %" PRIu64 ": %s", path, b,
                              n ? strerror(errno) : "short file");
            got += (size_t)n;
        }
        for (size_t p = 0; p < CFS_BIG_BLOCK; p += 4096) {
            uint64_t s, want = (b << 16) | (p >> 12) | UINT64_C(0x5a00000000000000);
            memcpy(&s, in->readbuf + p, 8);
            if (s != want)
                cfs_bench_die("%s: block %" PRIu64 " page %zu read back wrong", path, b,
                              p >> 12);
        }
    }
    close(cfs_open_fd);
    cfs_open_fd = -1;
    double t2 = cfs_bench_now();
    phase[0] = t1 - t0;
    phase[1] = t2 - t1;
    return t2 - t0;
}

/* ---------------------------------------------------------------------- */
/* Inputs                                                                   */

static void cfs_write_sql(const char *path, int transactions)
{
    FILE *f = fopen(path, "w");
    if (!f)
        cfs_bench_die("%s: %s", path, strerror(errno));
    uint64_t rng = 10000;
    fprintf(f, "CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, "
               "v TEXT NOT NULL);\nCREATE INDEX t_k ON t(k);\n");
    for (int x = 0; x < transactions; x++) {
        fprintf(f, "BEGIN;\n");
        for (int r = 0; r < 100; r++) {
            char v[101];
            for (int i = 0; i < 100; i++)
                v[i] = (char)('a' + cfs_bench_rng_next(&rng) % 26);
            v[100] = '\0';
            fprintf(f, "INSERT INTO t(k, v) VALUES (%" PRIu64 ", '%s');\n",
                    cfs_bench_rng_next(&rng) % 1000000, v);
        }
        fprintf(f, "COMMIT;\n");
    }
    if (fclose(f))
        cfs_bench_die("%s: %s", path, strerror(errno));
}

static uint64_t cfs_size_of(const char *path)
{
    struct stat st;
    if (stat(path, &st))
        cfs_bench_die("%s: %s", path, strerror(errno));
    return (uint64_t)st.st_size;
}

/* Which workloads --only names (all without it); dies on an unknown name. */
static void cfs_pick_workloads(const char *only, int run[W_COUNT])
{
    for (int w = 0; w < W_COUNT; w++)
        run[w] = !only;
    if (!only)
        return;
    for (const char *p = only; *p;) {
        size_t len = strcspn(p, ",");
        int w = 0;
        while (w < W_COUNT && (strlen(cfs_workload_name[w]) != len ||
                               strncmp(p, cfs_workload_name[w], len)))
            w++;
        if (w == W_COUNT)
            cfs_bench_die("--only: no workload `%.*s` (untar, smallfiles, bigfile, sqlite)",
                          (int)len, p);
        run[w] = 1;
        p += len + (p[len] == ',');
    }
}

/* ---------------------------------------------------------------------- */

int cfs_bench_suite_fuse(const cfs_bench_opts *o)
{
    int pick[W_COUNT];
    cfs_pick_workloads(o->only, pick);
    cfs_fuse_sizes sz = o->quick
        ? (cfs_fuse_sizes){"/usr/include", "linux", 500, (uint64_t)16 << 20, 5}
        : (cfs_fuse_sizes){"/usr", "include", 20000, (uint64_t)1 << 30, 100};
    cfs_chronofs_bin = cfs_bench_chronofs();
    if (o->uring)
        cfs_uring = o->uring;

    snprintf(cfs_work, sizeof cfs_work, "%s", cfs_bench_tmpdir_make("/tmp"));
    cfs_bench_set_cleanup(cfs_fuse_cleanup);
    atexit(cfs_fuse_cleanup);
    cfs_bench_die_on_signals();

    snprintf(cfs_shm, sizeof cfs_shm, "/dev/shm/chronofs-bench-fuse-XXXXXX");
    if (!mkdtemp(cfs_shm)) {
        cfs_shm[0] = '\0';
        cfs_bench_die("mkdtemp in /dev/shm: %s", strerror(errno));
    }
    char path[CFS_PATH];
    snprintf(path, sizeof path, "%s/mnt", cfs_work);
    cfs_mkdir(path);
    snprintf(path, sizeof path, "%s/bmnt", cfs_work);
    cfs_mkdir(path);

    /* Inputs, made once. */
    cfs_inputs in;
    memset(&in, 0, sizeof in);
    snprintf(in.tarball, sizeof in.tarball, "%s/include.tar", cfs_work);
    snprintf(in.sql, sizeof in.sql, "%s/insert.sql", cfs_work);
    cfs_bench_progress("fuse: tarball of %s/%s ...\n", sz.tar_parent, sz.tar_member);
    char *tar[] = {(char *)"tar", (char *)"-cf", in.tarball, (char *)"-C",
                   (char *)sz.tar_parent, (char *)sz.tar_member, NULL};
    cfs_run_ok(tar, NULL);
    uint64_t tar_bytes = cfs_size_of(in.tarball);
    cfs_write_sql(in.sql, sz.transactions);
    cfs_bench_text tx = {.rng = 4242};
    cfs_bench_text_fill(&tx, in.text, sizeof in.text);
    in.block = malloc(CFS_BIG_BLOCK);
    in.readbuf = malloc(CFS_BIG_BLOCK);
    if (!in.block || !in.readbuf)
        cfs_bench_die("out of memory");
    cfs_bench_text_fill(&tx, in.block, CFS_BIG_BLOCK);

    /* Runs: per workload, reps x targets, interleaved. */
    double secs[W_COUNT][T_COUNT][CFS_BENCH_MAX_REPS] = {{{0}}};
    double big_w[T_COUNT][CFS_BENCH_MAX_REPS] = {{0}}, big_r[T_COUNT][CFS_BENCH_MAX_REPS] = {{0}};
    /* the mount process's CPU seconds during the workload (-1: unknown) */
    double cpu[W_COUNT][T_COUNT][CFS_BENCH_MAX_REPS] = {{{0}}};
    int run = 0;
    for (int w = 0; w < W_COUNT; w++) {
        if (!pick[w])
            continue;
        cfs_bench_progress("fuse: %s ...\n", cfs_workload_name[w]);
        for (int r = 0; r < o->reps; r++) {
            for (int i = 0; i < T_COUNT; i++, run++) {
                int t = (i + r) % T_COUNT;
                char dir[CFS_PATH + 16];
                double phase[3] = {0, 0, 0}, s = 0;
                cfs_target_up(t, run, dir, sizeof dir);
                pid_t server = cfs_mount_pid(t);
                double cpu0 = server ? cfs_proc_cpu_s(server) : -1;
                switch (w) {
                case W_UNTAR: s = cfs_w_untar(&in, dir); break;
                case W_SMALLFILES: s = cfs_w_smallfiles(&in, dir, sz.files, phase); break;
                case W_BIGFILE:
                    s = cfs_w_bigfile(&in, dir, sz.big_bytes, phase);
                    big_w[t][r] = phase[0];
                    big_r[t][r] = phase[1];
                    break;
                case W_SQLITE: s = cfs_w_sqlite(&in, dir); break;
                }
                secs[w][t][r] = s;
                double cpu1 = server ? cfs_proc_cpu_s(server) : -1;
                cpu[w][t][r] = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
                if (o->verbose && cpu[w][t][r] >= 0)
                    cfs_bench_progress("  %s rep %d %-8s mount process CPU %.3f s\n",
                                       cfs_workload_name[w], r, cfs_target_name[t],
                                       cpu[w][t][r]);
                if (o->verbose && w == W_SMALLFILES)
                    cfs_bench_progress("  %s rep %d %-8s %8.3f s (create %.3f, stat "
                                       "%.3f, unlink %.3f)\n", cfs_workload_name[w], r,
                                       cfs_target_name[t], s, phase[0], phase[1], phase[2]);
                else if (o->verbose && w == W_BIGFILE)
                    cfs_bench_progress("  %s rep %d %-8s %8.3f s (write %.3f, read %.3f)\n",
                                       cfs_workload_name[w], r, cfs_target_name[t], s,
                                       phase[0], phase[1]);
                else if (o->verbose)
                    cfs_bench_progress("  %s rep %d %-8s %8.3f s\n", cfs_workload_name[w],
                                       r, cfs_target_name[t], s);
                cfs_target_down(t, run);
            }
        }
    }

    double med[W_COUNT][T_COUNT], mcpu[W_COUNT][T_COUNT], bw[T_COUNT], br[T_COUNT];
    for (int t = 0; t < T_COUNT; t++) {
        for (int w = 0; w < W_COUNT; w++) {
            med[w][t] = cfs_bench_median(secs[w][t], o->reps);
            mcpu[w][t] = cfs_bench_median(cpu[w][t], o->reps);
        }
        bw[t] = cfs_bench_median(big_w[t], o->reps);
        br[t] = cfs_bench_median(big_r[t], o->reps);
    }

    printf("fuse suite: median of %d, seconds; untar %.1f MB tarball of %s/%s, "
           "smallfiles %d, bigfile %" PRIu64 " MiB, sqlite %d rows in %d transactions\n",
           o->reps, (double)tar_bytes / 1e6, sz.tar_parent, sz.tar_member, sz.files,
           sz.big_bytes >> 20, sz.transactions * 100, sz.transactions);
    printf("chronofs: journal on %s (disk), --durability batch; bindfs over tmpfs\n",
           cfs_work);
    if (cfs_runs_dev && !cfs_runs_uring)
        printf("chronofs: requests through /dev/fuse (%s)\n",
               !strcmp(cfs_uring, "off") ? "--io-uring off"
                            : "the kernel's FUSE over io_uring is off: "
                              "/sys/module/fuse/parameters/enable_uring");
    else if (cfs_runs_uring && !cfs_runs_dev)
        printf("chronofs: requests through io_uring, one ring per CPU\n");
    else
        printf("chronofs: requests through io_uring in %d runs, /dev/fuse in %d\n",
               cfs_runs_uring, cfs_runs_dev);
    printf("%-14s %9s %9s %9s %10s %10s  %s\n", "workload", "chronofs", "tmpfs", "bindfs",
           "c/tmpfs", "c/bindfs", "targets");
    /* Targets (issue 5): no slower than bindfs anywhere; within 3x of tmpfs
     * for untar and smallfiles, 1.5x for bigfile. */
    static const double tmpfs_target[W_COUNT] = {3.0, 3.0, 1.5, 0};
    for (int w = 0; w < W_COUNT; w++) {
        if (!pick[w])
            continue;
        double c = med[w][T_CHRONOFS], rt = cfs_bench_ratio(c, med[w][T_TMPFS]),
               rb = cfs_bench_ratio(c, med[w][T_BINDFS]);
        char verdict[96];
        int n = snprintf(verdict, sizeof verdict, "%s <=1x bindfs",
                         rb <= 1.0 ? "ok" : "MISSED");
        if (tmpfs_target[w] > 0)
            snprintf(verdict + n, sizeof verdict - (size_t)n, ", %s <=%.1fx tmpfs",
                     rt <= tmpfs_target[w] ? "ok" : "MISSED", tmpfs_target[w]);
        printf("%-14s %9.3f %9.3f %9.3f %9.2fx %9.2fx  %s\n", cfs_workload_name[w], c,
               med[w][T_TMPFS], med[w][T_BINDFS], rt, rb, verdict);
        if (w == W_BIGFILE) {
            printf("%-14s %9.3f %9.3f %9.3f %9.2fx %9.2fx\n", "  write", bw[T_CHRONOFS],
                   bw[T_TMPFS], bw[T_BINDFS], cfs_bench_ratio(bw[T_CHRONOFS], bw[T_TMPFS]),
                   cfs_bench_ratio(bw[T_CHRONOFS], bw[T_BINDFS]));
            printf("%-14s %9.3f %9.3f %9.3f %9.2fx %9.2fx  (first read after the "
                   "writes)\n", "  read back", br[T_CHRONOFS], br[T_TMPFS], br[T_BINDFS],
                   cfs_bench_ratio(br[T_CHRONOFS], br[T_TMPFS]),
                   cfs_bench_ratio(br[T_CHRONOFS], br[T_BINDFS]));
        }
    }
    /* What serving cost the FUSE servers: tmpfs's work is the kernel's, in
     * the workload's own time. */
    printf("%-14s %9s %9s   (the mount process's CPU seconds during the workload)\n",
           "mount CPU", "chronofs", "bindfs");
    for (int w = 0; w < W_COUNT; w++)
        if (pick[w])
            printf("%-14s %9.3f %9.3f\n", cfs_workload_name[w], mcpu[w][T_CHRONOFS],
                   mcpu[w][T_BINDFS]);
    if (o->json) {
        printf("{");
        for (int w = 0; w < W_COUNT; w++)
            for (int t = 0; t < T_COUNT && pick[w]; t++) {
                printf("\"%s_%s_s\": %.6f, ", cfs_workload_name[w], cfs_target_name[t],
                       med[w][t]);
                if (t != T_TMPFS)
                    printf("\"%s_%s_cpu_s\": %.6f, ", cfs_workload_name[w],
                           cfs_target_name[t], mcpu[w][t]);
            }
        for (int t = 0; t < T_COUNT && pick[W_BIGFILE]; t++)
            printf("\"bigfile_write_%s_s\": %.6f, \"bigfile_read_%s_s\": %.6f, ",
                   cfs_target_name[t], bw[t], cfs_target_name[t], br[t]);
        printf("\"io_uring_runs\": %d, \"dev_fuse_runs\": %d, ", cfs_runs_uring,
               cfs_runs_dev);
        printf("\"tarball_bytes\": %" PRIu64 ", \"smallfiles_files\": %d, "
               "\"bigfile_bytes\": %" PRIu64 ", \"sqlite_rows\": %d}\n",
               tar_bytes, sz.files, sz.big_bytes, sz.transactions * 100);
    }
    fflush(stdout);

    free(in.block);
    free(in.readbuf);
    cfs_fuse_cleanup();
    cfs_bench_set_cleanup(NULL);
    cfs_bench_tmpdir_remove();
    return 0;
}
