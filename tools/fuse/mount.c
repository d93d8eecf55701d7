/*
 * mount.c — `chronofs mount J MNT`: a FUSE mount of a journal's state.
 *
 * Read-write at the head: the journal opened for writing, the engine at its
 * last committed state with the journal as its sink (every change is an
 * event), attached so snapshot triggers work; SIGUSR1 asks for a snapshot
 * and a tick thread commits batches by age (and takes requested
 * snapshots) every TICK_NS. Read-only at a past seq or snapshot (--at,
 * --snapshot) or at the head (--read-only): the journal opened for reading,
 * the engine has no sink, changes are EROFS.
 *
 * Lifecycle: without --foreground the command forks first (LMDB and the
 * journal's threads do not survive a fork, so the child opens the journal)
 * and the parent waits for the child to report the mount ready (exit 0) or
 * to fail (its exit status, after its one-line message). Requests come in
 * on this thread (cfs_fuse_loop, loop.c) and, with FUSE over io_uring, on
 * one thread per CPU (uring.c); the engine and journal are also used by
 * the tick thread, hence the mutex in struct mnt. Unmounting (fusermount3
 * -u, or SIGINT/SIGTERM) ends the loop; the ring threads are stopped, then
 * the front end closes its engine fds and the journal, which commits
 * everything.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fsmount.h"

#define TICK_NS (25 * 1000 * 1000)

static cfs_journal *_Atomic usr1_journal; /* read by the handler on any thread */

static void on_usr1(int sig)
{
    (void)sig;
    cfs_journal *j = usr1_journal;
    if (j)
        cfs_journal_request_snapshot(j);
}

/* The engine's clock (new inodes' and changes' times). */
static cfs_time realtime_clock(void *ctx)
{
    (void)ctx;
    return cfs_cli_realtime_ns();
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct ticker {
    struct mnt *m;
    const char *journal; /* for the message when it fails */
    atomic_bool stop;
    pthread_t thread;
};

static void *tick_main(void *arg)
{
    struct ticker *t = arg;
    struct timespec nap = {0, TICK_NS};
    bool said = false;
    while (!atomic_load(&t->stop)) {
        nanosleep(&nap, NULL);
        pthread_mutex_lock(&t->m->mu);
        /* A failure is sticky: every change from now on reports it to
         * its caller. Say once what it was (in the log, for a daemon). */
        int rc = cfs_journal_tick(t->m->j, monotonic_ns());
        if (!rc && !said)
            rc = cfs_journal_failure(t->m->j); /* a change's own commit failed */
        if (rc && !said) {
            const char *msg = cfs_journal_errmsg(t->m->j);
            if (!msg || !*msg)
                msg = cfs_strerror(rc);
            cfs_cli_warn("%s%sthe journal failed: %s; every change fails from now on, "
                         "until it is unmounted and mounted again",
                         strstr(msg, t->journal) ? "" : t->journal,
                         strstr(msg, t->journal) ? "" : ": ", msg);
            said = true;
        }
        pthread_mutex_unlock(&t->m->mu);
    }
    return NULL;
}

/* Start the tick thread with every signal blocked, so SIGINT/SIGTERM/
 * SIGUSR1 reach the session's thread and interrupt its read. */
static int ticker_start(struct ticker *t, struct mnt *m)
{
    t->m = m;
    atomic_store(&t->stop, false);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&t->thread, NULL, tick_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static void ticker_stop(struct ticker *t)
{
    atomic_store(&t->stop, true);
    pthread_join(t->thread, NULL);
}

/*
 * The end of a mount's journal, once unmounted (or told to stop): the
 * tick thread stopped, the front end's engine fds closed, the journal
 * closed (committing everything, releasing the writer lock). The kernel
 * does not wait for this (no FUSE_DESTROY outside fuseblk): commands
 * that open the journal next wait for it (cfs_cli_settle).
 */
struct finisher {
    struct mnt *m;
    struct ticker *ticker; /* NULL: none running */
    bool read_only;
    int rc;
    unsigned long long end_seq;
    char why[300]; /* a write failure's own message */
};

static void finish(struct finisher *f)
{
    struct mnt *m = f->m;
    if (f->ticker)
        ticker_stop(f->ticker);
    usr1_journal = NULL;
    pthread_mutex_lock(&m->mu);
    cfs_fuse_state_release(m);
    if (!f->read_only)
        cfs_journal_attach(m->j, NULL);
    f->end_seq = (unsigned long long)cfs_fs_seq(m->fs);
    if (!f->read_only && cfs_journal_failure(m->j))
        snprintf(f->why, sizeof f->why, "%s", cfs_journal_errmsg(m->j));
    f->rc = cfs_journal_close(m->j);
    m->j = NULL;
    pthread_mutex_unlock(&m->mu);
}

const char cfs_cli_mount_help[] =
        "usage: chronofs mount J MNT [--at SEQ | --snapshot LABEL] [--read-only]\n"
        "                      [--durability none|batch|sync] [--foreground]\n"
        "                      [--compression adapt|always] [--spin-us N]\n"
        "                      [--io-uring auto|on|off] [--log FILE] [--debug]\n"
        "\n"
        "Mount journal J's filesystem at directory MNT with FUSE. At the head\n"
        "(the default) the mount is read-write: every change programs make is\n"
        "journaled. With --at or --snapshot it shows that past state, read-only;\n"
        "--read-only mounts the head read-only. SIGUSR1 to the mount process\n"
        "takes a snapshot. Unmount with 'fusermount3 -u MNT' (or Ctrl-C with\n"
        "--foreground): everything is committed before the process exits;\n"
        "fusermount3 returns a moment before that, and a chronofs command run\n"
        "right after it waits for the mount to finish.\n"
        "\n"
        "  --at SEQ          the state after event SEQ (read-only)\n"
        "  --snapshot LABEL  the state of the newest snapshot LABEL (read-only)\n"
        "  --read-only       no changes (EROFS)\n"
        "  --durability M    none: never fsync; batch (default): fsync on batch\n"
        "                    commits and on a program's fsync; sync: every change\n"
        "                    durable before it returns\n"
        "  --compression C   adapt (default): when zstd cannot keep up with the\n"
        "                    writes and the disk can, store batches uncompressed\n"
        "                    until it does (faster bulk writes, a bigger journal);\n"
        "                    always: compress every batch\n"
        "  --spin-us N       while programs make requests, poll for the next one\n"
        "                    for N microseconds before sleeping, on up to 8 CPUs\n"
        "                    at idle priority (0: never). On virtual machines\n"
        "                    whose idle CPUs halt at once, waking them is most of\n"
        "                    a request's cost: polling makes small-file work\n"
        "                    2-3x faster, for CPU time only while requests come.\n"
        "                    Default: 50 on such a machine (no cpuidle driver, or\n"
        "                    haltpoll with guest_halt_poll_ns 0), else 0: where\n"
        "                    the kernel polls itself, it does it better. Never\n"
        "                    under a cgroup CPU quota of fewer CPUs than the\n"
        "                    mount may use (it would spend the programs' quota)\n"
        "  --io-uring M      auto (default): where the kernel allows FUSE over\n"
        "                    io_uring (Linux 6.14+, and as root: echo Y >\n"
        "                    /sys/module/fuse/parameters/enable_uring), take\n"
        "                    requests through one ring per CPU, answered on the\n"
        "                    CPU that asked (small-file work ~1.5x faster, less\n"
        "                    CPU); else through /dev/fuse. on: turn the kernel's\n"
        "                    switch on if it is off (root), and fail if rings\n"
        "                    cannot be used. off: /dev/fuse only\n"
        "  --foreground      stay in the foreground (default: run as a daemon)\n"
        "  --log FILE        once mounted, append the mount's messages to FILE,\n"
        "                    each line with its time and pid: when it mounted and\n"
        "                    unmounted, and what went wrong (the journal failing,\n"
        "                    a full disk, a ring's failure). Default: the terminal\n"
        "                    with --foreground; else, read-write, J/mount.log (none\n"
        "                    if J's directory cannot be written: give --log then)\n"
        "  --debug           print every FUSE request and reply on stderr\n"
        "                    (libfuse's -d; implies --foreground)\n"
        "\n"
        "example:\n"
        "  chronofs init j && mkdir -p /mnt/j && chronofs mount j /mnt/j\n"
        "  tar -xf src.tar -C /mnt/j && fusermount3 -u /mnt/j\n"
        "  chronofs mount j /mnt/j --at 120 --foreground\n";

struct mount_args {
    const char *journal, *mountpoint, *at, *snapshot, *log;
    bool read_only, foreground, debug, compress_always;
    enum { URING_AUTO, URING_ON, URING_OFF } uring;
    cfs_durability durability;
    uint64_t spin_us;
};

static void parse_args(int argc, char **argv, struct mount_args *a)
{
    static const struct option opts[] = {
        {"at", required_argument, NULL, 'a'},
        {"snapshot", required_argument, NULL, 's'},
        {"read-only", no_argument, NULL, 'r'},
        {"durability", required_argument, NULL, 'd'},
        {"foreground", no_argument, NULL, 'f'},
        {"debug", no_argument, NULL, 'D'},
        {"compression", required_argument, NULL, 'c'},
        {"spin-us", required_argument, NULL, 'S'},
        {"io-uring", required_argument, NULL, 'U'},
        {"log", required_argument, NULL, 'L'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof(*a));
    a->durability = CFS_DURABILITY_BATCH;
    a->spin_us = UINT64_MAX; /* not given: cfs_fuse_default_spin_us */
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1 ||
           optind < argc) {
        if (c == -1) { /* a positional argument: take it, go on */
            if (!a->journal)
                a->journal = argv[optind];
            else if (!a->mountpoint)
                a->mountpoint = argv[optind];
            else
                cfs_cli_die_usage("unexpected argument '%s'", argv[optind]);
            optind++;
            continue;
        }
        switch (c) {
        case 'a': a->at = optarg; break;
        case 's': a->snapshot = optarg; break;
        case 'r': a->read_only = true; break;
        case 'L': a->log = optarg; break;
        case 'f': a->foreground = true; break;
        case 'D': a->debug = a->foreground = true; break;
        case 'S':
            a->spin_us = cfs_cli_opt_u64("--spin-us", optarg);
            if (a->spin_us > 1000000)
                cfs_cli_die_usage("--spin-us: %s is more than a second", optarg);
            break;
        case 'U':
            if (!strcmp(optarg, "auto"))
                a->uring = URING_AUTO;
            else if (!strcmp(optarg, "on"))
                a->uring = URING_ON;
            else if (!strcmp(optarg, "off"))
                a->uring = URING_OFF;
            else
                cfs_cli_die_usage("--io-uring: '%s' is not auto, on or off", optarg);
            break;
        case 'c':
            if (!strcmp(optarg, "adapt") || !strcmp(optarg, "always"))
                a->compress_always = !strcmp(optarg, "always");
            else
                cfs_cli_die_usage("--compression: '%s' is not adapt or always", optarg);
            break;
        case 'd':
            if (!strcmp(optarg, "none"))
                a->durability = CFS_DURABILITY_NONE;
            else if (!strcmp(optarg, "batch"))
                a->durability = CFS_DURABILITY_BATCH;
            else if (!strcmp(optarg, "sync"))
                a->durability = CFS_DURABILITY_SYNC;
            else
                cfs_cli_die_usage("--durability: '%s' is not none, batch or sync",
                                  optarg);
            break;
        default:
            cfs_cli_die_usage("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (!a->journal || !a->mountpoint)
        cfs_cli_die_usage("needs a journal and a mount point");
    if (a->at && a->snapshot)
        cfs_cli_die_usage("--at and --snapshot exclude each other");
    if (a->at || a->snapshot)
        a->read_only = true;
}

/* The parent of a daemon: wait for the child's word (a byte on the pipe
 * once mounted) or its death, and exit as it says. */
static _Noreturn void parent_wait(pid_t child, int rfd)
{
    char b;
    ssize_t n;
    do
        n = read(rfd, &b, 1);
    while (n < 0 && errno == EINTR);
    if (n == 1)
        exit(CFS_CLI_EXIT_OK);
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    exit(WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status)
                                                  : CFS_CLI_EXIT_USER);
}

/*
 * The file the mount's messages go to once it is mounted (-1: none, or the
 * terminal in the foreground): --log FILE, which must open; else, for a
 * daemon mounting read-write, J/mount.log, made with data.mdb's mode (a
 * journal someone else may read), if J's directory takes it. Opened before
 * the fork, so a bad --log is the command's error and a relative FILE is
 * the caller's.
 */
static int open_log(const struct mount_args *a, const char *jdir)
{
    if (a->log) {
        int fd = open(a->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            cfs_cli_die_user("--log %s: %s", a->log, strerror(errno));
        return fd;
    }
    if (a->foreground || a->read_only)
        return -1;
    char path[PATH_MAX + 16];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", jdir);
    if (stat(path, &st) != 0) /* not a journal: the child says so */
        return -1;
    snprintf(path, sizeof path, "%s/" CFS_MOUNT_LOG, jdir);
    /* never through a symlink someone put there: root appends to it */
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                st.st_mode & 0666);
}

/* From now on the mount's messages go to the log, stamped. */
static void to_log(int log_fd)
{
    if (log_fd < 0)
        return;
    dup2(log_fd, STDERR_FILENO);
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    cfs_cli_stamp_messages(true);
}

/* Detach the ready daemon from the terminal: tell the parent, stdio to
 * /dev/null (stderr to the log, if any), out of the caller's working
 * directory. */
static void daemon_ready(int wfd, int log_fd)
{
    char b = 0;
    ssize_t n;
    do
        n = write(wfd, &b, 1);
    while (n < 0 && errno == EINTR);
    close(wfd);
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
        dup2(nul, STDIN_FILENO);
        dup2(nul, STDOUT_FILENO);
        dup2(nul, STDERR_FILENO);
        if (nul > STDERR_FILENO)
            close(nul);
    }
    to_log(log_fd);
    if (chdir("/") != 0) {
        /* nothing depends on it */
    }
}

/*
 * A mount keeps engine fds open while programs use files (ops.c) and
 * closes them all when it unmounts. A mount that was killed (SIGKILL, a
 * crash) could not: its fds are still open in the journal's state, and
 * they would pin unlinked files' data forever. The mount uses no fd past
 * stdio and the root preopen (0-3), so any other open fd is such a
 * leftover: close them all (one close_all event) before serving.
 */
static void close_stale_fds(const struct mount_args *a, cfs_journal *j, cfs_fs *fs)
{
    cfs_fdstat st;
    for (cfs_fd fd = 4; fd <= CFS_MAX_FD; fd++) {
        if (cfs_fd_fdstat_get(fs, fd, &st) != 0)
            continue;
        cfs_errno e = cfs_fs_close_all(fs);
        if (e)
            cfs_cli_die_journal(a->journal, j, CFS_JE_IO,
                                "closing the fds a killed mount left open");
        cfs_cli_warn("%s: closed the files a mount that did not unmount cleanly "
                     "left open", a->journal);
        return;
    }
}

int cfs_cli_mount(int argc, char **argv)
{
    struct mount_args a;
    parse_args(argc, argv, &a);

    char jdir[PATH_MAX], mdir[PATH_MAX];
    if (!realpath(a.journal, jdir))
        cfs_cli_die_user("%s: %s", a.journal, strerror(errno));
    struct stat st;
    if (!realpath(a.mountpoint, mdir) || stat(mdir, &st) != 0)
        cfs_cli_die_user("%s: %s", a.mountpoint, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        cfs_cli_die_user("%s: not a directory", a.mountpoint);

    /* --io-uring on: the kernel's switch, before anything is set up */
    if (a.uring == URING_ON && !cfs_fuse_ring_possible()) {
        int e = cfs_fuse_ring_enable();
        if (e == ENOENT)
            cfs_cli_die_user("%s: --io-uring on: this kernel has no FUSE over io_uring "
                             "(Linux 6.14 or later, built with CONFIG_FUSE_IO_URING)",
                             a.mountpoint);
        if (e)
            cfs_cli_die_user("%s: --io-uring on: cannot turn the kernel's FUSE over "
                             "io_uring on (%s): %s", a.mountpoint, CFS_FUSE_URING_KNOB,
                             strerror(e));
        cfs_cli_warn("%s: turned the kernel's FUSE over io_uring on (%s)", a.mountpoint,
                     CFS_FUSE_URING_KNOB);
    }

    /* polling under a CPU quota spends what the programs need (loop.c) */
    if (a.spin_us == UINT64_MAX)
        a.spin_us = cfs_fuse_default_spin_us();
    cpu_set_t cpus;
    double quota = a.spin_us ? cfs_fuse_cpu_quota() : 0;
    if (quota > 0 && sched_getaffinity(0, sizeof cpus, &cpus) == 0 &&
        quota < CPU_COUNT(&cpus)) {
        cfs_cli_warn("%s: the cgroup's CPU quota is %.2f CPUs: not polling for "
                     "requests (--spin-us 0)", a.mountpoint, quota);
        a.spin_us = 0;
    }

    int log_fd = open_log(&a, jdir);
    int ready_fd = -1;
    if (!a.foreground) {
        int p[2];
        if (pipe(p) != 0)
            cfs_cli_die_user("pipe: %s", strerror(errno));
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            cfs_cli_die_user("fork: %s", strerror(errno));
        if (pid > 0) {
            close(p[1]);
            parent_wait(pid, p[0]);
        }
        close(p[0]);
        ready_fd = p[1];
        setsid();
    }

    /* The journal and the state. */
    cfs_journal_opts jo;
    cfs_journal_opts_default(&jo);
    jo.durability = a.durability;
    jo.read_only = a.read_only;
    jo.compress_adapt = !a.compress_always;
    cfs_journal *j = cfs_cli_open_journal(jdir, &jo);
    uint64_t seq = cfs_cli_resolve_seq(j, a.journal, a.at, a.snapshot);
    cfs_config cfg = {.clock = realtime_clock};
    if (!a.read_only)
        cfg.sink = cfs_journal_sink(j);
    cfs_fs *fs = NULL;
    int rc = cfs_journal_open_at(j, a.read_only ? seq : 0, &cfg, &fs);
    if (rc)
        cfs_cli_die_journal(a.journal, j, rc, "opening its state");

    if (!a.read_only)
        close_stale_fds(&a, j, fs);

    struct mnt m = {.fs = fs, .j = j, .read_only = a.read_only,
                    .timeout = a.read_only ? 3600.0 : 60.0};
    pthread_mutex_init(&m.mu, NULL);
    if (cfs_fuse_state_init(&m))
        cfs_cli_die_user("out of memory");
    if (!a.read_only)
        cfs_journal_attach(j, fs);

    /* The session. allow_other + default_permissions: other users may use
     * the mount and the kernel checks their permissions against the modes
     * and owners we report (new inodes take the caller's ids). */
    char fsname[PATH_MAX], opts[PATH_MAX + 128];
    snprintf(fsname, sizeof fsname, "%s", jdir);
    for (char *c = fsname; *c; c++) /* would split or escape the options */
        if (*c == ',' || *c == '\\')
            *c = '_';
    snprintf(opts, sizeof opts,
             "default_permissions,allow_other,subtype=chronofs,fsname=%s%s",
             fsname, a.read_only ? ",ro" : "");
    char *fargv[] = {(char *)"chronofs", (char *)"-o", opts, (char *)"-d", NULL};
    struct fuse_args fargs = FUSE_ARGS_INIT(a.debug ? 4 : 3, fargv);
    struct fuse_session *se =
        fuse_session_new(&fargs, &cfs_fuse_ops, sizeof(cfs_fuse_ops), &m);
    if (!se)
        cfs_cli_die_user("%s: cannot start a FUSE session", a.mountpoint);
    m.se = se;
    if (fuse_set_signal_handlers(se) != 0)
        cfs_cli_die_user("cannot install signal handlers");
    if (fuse_session_mount(se, mdir) != 0)
        cfs_cli_die_user("%s: cannot mount (is /dev/fuse there, and fusermount3?)",
                         a.mountpoint);
    /* Which mount this writer serves, beside its pid in the journal's
     * writer lock: a command opening the journal just after an unmount
     * sees the device gone from this process's mounts and waits for the
     * last commit (cfs_cli_settle). */
    unsigned dev_maj, dev_min;
    if (!a.read_only && cfs_fuse_mount_dev(mdir, &dev_maj, &dev_min)) {
        char note[PATH_MAX + 64];
        snprintf(note, sizeof note, "mount %u:%u %s", dev_maj, dev_min, fsname);
        (void)cfs_journal_writer_note(j, note); /* without it, nothing waits */
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    if (!a.read_only) {
        usr1_journal = j;
        sa.sa_handler = on_usr1;
    } else {
        sa.sa_handler = SIG_IGN; /* nothing to snapshot; do not die of it */
    }
    sigaction(SIGUSR1, &sa, NULL);

    /* FUSE over io_uring where the kernel allows it (uring.c); the
     * pollers serve both paths (loop.c) */
    struct cfs_poller *poller = cfs_fuse_poller_start(a.spin_us * 1000);
    struct cfs_ring *ring = NULL;
    if (a.uring != URING_OFF && cfs_fuse_ring_possible())
        ring = cfs_fuse_ring_start(se, &m, poller, mdir);
    if (a.uring == URING_ON && !ring) {
        fuse_session_unmount(se);
        cfs_cli_die_user("%s: --io-uring on: cannot set up a ring and thread per CPU "
                         "(is io_uring disabled: /proc/sys/kernel/io_uring_disabled?)",
                         a.mountpoint);
    }

    bool logging = log_fd >= 0;
    if (a.foreground) {
        cfs_cli_warn("%s at seq %llu on %s (%s)", a.journal,
                     (unsigned long long)cfs_fs_seq(fs), a.mountpoint,
                     a.read_only ? "read-only" : "read-write");
        if (a.uring == URING_AUTO && !ring && access(CFS_FUSE_URING_KNOB, F_OK) == 0)
            cfs_cli_warn("requests go through /dev/fuse: this kernel's FUSE over "
                         "io_uring is off (--io-uring on, or as root: echo Y > %s; "
                         "small-file work is ~1.5x faster with it)", CFS_FUSE_URING_KNOB);
        to_log(log_fd);
    } else {
        daemon_ready(ready_fd, log_fd);
    }
    if (logging)
        cfs_cli_warn("mounted %s at seq %llu on %s (%s, requests through %s)", jdir,
                     (unsigned long long)cfs_fs_seq(fs), mdir,
                     a.read_only ? "read-only" : "read-write",
                     ring ? "io_uring" : "/dev/fuse");

    struct ticker t = {.journal = jdir};
    struct finisher fin = {.m = &m, .read_only = a.read_only};
    if (!a.read_only && ticker_start(&t, &m) == 0)
        fin.ticker = &t;
    int loop_rc = cfs_fuse_loop(se, poller);
    if (a.debug && cfs_fuse_ring_served(ring))
        cfs_cli_warn("%llu requests through io_uring",
                     (unsigned long long)cfs_fuse_ring_served(ring));
    cfs_fuse_ring_stop(ring); /* its threads joined: no more requests */
    m.ring = NULL;
    cfs_fuse_poller_stop(poller);

    /* Unmounted (or told to stop): everything to the journal. */
    finish(&fin);
    rc = fin.rc;
    cfs_fs_free(fs);
    fuse_remove_signal_handlers(se);
    fuse_session_unmount(se);
    fuse_session_destroy(se);
    fuse_opt_free_args(&fargs);
    pthread_mutex_destroy(&m.mu);
    if (rc) {
        if (fin.why[0])
            cfs_cli_warn("closing the journal: %s", fin.why);
        else
            cfs_cli_warn("%s: closing the journal: %s", jdir, cfs_strerror(rc));
        return CFS_CLI_EXIT_USER;
    }
    if (loop_rc < 0) {
        cfs_cli_warn("%s: the FUSE session failed: %s", a.mountpoint, strerror(-loop_rc));
        return CFS_CLI_EXIT_USER;
    }
    if (logging && a.read_only)
        cfs_cli_warn("unmounted %s", mdir);
    else if (logging)
        cfs_cli_warn("unmounted %s: the journal is closed, committed to seq %llu", mdir,
                     fin.end_seq);
    return CFS_CLI_EXIT_OK;
}
