/*
 * chronofs-bench — benchmarks that measure chronofs against its baselines in
 * the same run, on the same data (DESIGN.md, "Benchmarks").
 *
 *   chronofs-bench SUITE [--json] [--quick] [--reps N] [--verbose] [--only W,...]
 *                        [--io-uring auto|on|off]
 *
 * Suites:
 *   engine   the engine state machine against plain syscalls on tmpfs
 *            (bench_engine.c)
 *   journal  journal appends against raw LMDB, SQLite and standalone zstd,
 *            on a real disk (bench_journal.c, streams from bench_events.c)
 *   snapshot snapshots, restore and replay against tar, zstd and git
 *            (bench_snapshot.c)
 *   fuse     real workloads on a chronofs mount against tmpfs and bindfs
 *            (bench_fuse.c)
 *   wasi     a WASI guest run by `chronofs run` against the same C program
 *            built natively on tmpfs (bench_wasi.c, wasi_workload.c)
 *
 * The machines are shared and noisy, so the sides of a comparison run
 * interleaved (A, B, A, B...) and each side reports its best repetition:
 * the run least disturbed by neighbours is the closest to what the code can
 * do. Medians are shown too, for a sense of the spread.
 *
 * Output: a table for people; with --json the last line is one JSON object
 * (numbers only: `_s` seconds, `_per_s` rates, `_bytes` sizes). MB is 10^6
 * bytes. Exit status: 0, 1 if a benchmark failed, 2 for a usage error.
 *
 * This file: the command line and the helpers the suites share (bench.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                  */

static char cfs_tmpdir[256];   /* the live work dir, for cleanup */
static void (*cfs_cleanup)(void); /* the suite's, run first by die() */

void cfs_bench_set_cleanup(void (*fn)(void))
{
    cfs_cleanup = fn;
}

static int cfs_rm_entry(const char *path, const struct stat *sb, int type,
                        struct FTW *ftw)
{
    (void)sb, (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

void cfs_bench_rmtree(const char *path)
{
    nftw(path, cfs_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *cfs_bench_tmpdir_make(const char *parent)
{
    snprintf(cfs_tmpdir, sizeof cfs_tmpdir, "%s/chronofs-bench-XXXXXX",
             parent);
    if (!mkdtemp(cfs_tmpdir)) {
        cfs_tmpdir[0] = '\0';
        cfs_bench_die("mkdtemp in %s: %s", parent, strerror(errno));
    }
    return cfs_tmpdir;
}

/* rm -rf of the work dir: a failed run must not leave a gigabyte of RAM
 * behind in /dev/shm, or of disk in /tmp. */
void cfs_bench_tmpdir_remove(void)
{
    if (cfs_tmpdir[0]) {
        cfs_bench_rmtree(cfs_tmpdir);
        cfs_tmpdir[0] = '\0';
    }
}

void cfs_bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "chronofs-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (cfs_cleanup) {
        void (*fn)(void) = cfs_cleanup;
        cfs_cleanup = NULL; /* a failure inside it must not loop */
        fn();
    }
    cfs_bench_tmpdir_remove();
    exit(1);
}

void cfs_bench_progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

double cfs_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double cfs_bench_rate(double amount, double seconds)
{
    return amount / (seconds > 1e-9 ? seconds : 1e-9);
}

double cfs_bench_ratio(double a, double b)
{
    return cfs_bench_rate(a, b);
}

double cfs_bench_median(const double *v, int n)
{
    double tmp[CFS_BENCH_MAX_REPS], best, median;
    memcpy(tmp, v, (size_t)n * sizeof *v);
    cfs_bench_best_median(tmp, n, &best, &median);
    return median;
}

static int cfs_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void cfs_bench_best_median(double *v, int n, double *best, double *median)
{
    qsort(v, (size_t)n, sizeof *v, cfs_cmp_double);
    *best = v[n - 1];
    *median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---------------------------------------------------------------------- */

static void cfs_usage(FILE *f)
{
    fprintf(f,
        "usage: chronofs-bench SUITE [--json] [--quick] [--reps N] [--verbose] [--only W,...]\n"
        "                      [--io-uring auto|on|off]\n"
        "\n"
        "Runs chronofs and its baselines side by side, in the same run.\n"
        "\n"
        "suites:\n"
        "  engine    the engine (with a no-op sink) vs plain syscalls on\n"
        "            tmpfs (/dev/shm): create/stat/rename/unlink of 20,000\n"
        "            files in 20 dirs, and 1 GiB of sequential 64 KiB writes\n"
        "  journal   journal appends (none/batch/sync) vs raw LMDB with the\n"
        "            same frames, SQLite WAL (batched; and one row per\n"
        "            synchronous=FULL commit) and standalone zstd: 1,000,000\n"
        "            metadata events, 2,000 sync commits, 256 MiB of 64 KiB\n"
        "            text writes; files in a temp dir under /tmp (real disk)\n"
        "  snapshot  a 20,000-file tree (~350 MB) in the engine and on disk:\n"
        "            full and 1%%-incremental snapshots vs tar | zstd -1,\n"
        "            tar --listed-incremental and git commit; restore to a\n"
        "            dir vs zstd -d | tar -x; open at a seq; replay of\n"
        "            1,000,000 metadata events (needs tar, zstd, git)\n"
        "  fuse      a chronofs mount (--durability batch, journal under\n"
        "            /tmp) vs tmpfs (/dev/shm) vs bindfs over tmpfs: untar of\n"
        "            a /usr/include tarball; create, stat, unlink of 20,000\n"
        "            small files; 1 GiB written and read back in 1 MiB\n"
        "            blocks; sqlite3 inserting 10,000 rows in 100\n"
        "            transactions (needs fuse3, bindfs, tar, sqlite3 and\n"
        "            the chronofs binary of this build)\n"
        "  wasi      a WASI guest under `chronofs run` (--durability batch,\n"
        "            journal under /tmp) vs the same C program built natively\n"
        "            on tmpfs: create, write, read and delete 10,000 small\n"
        "            files, then a 256 MiB file written and read back in\n"
        "            1 MiB blocks; whole runs timed (process start to exit),\n"
        "            the guest's native build cached by an untimed first run\n"
        "\n"
        "options:\n"
        "  --json    end with one JSON line of the suite's figures, each the\n"
        "            best repetition (MB = 10^6 bytes):\n"
        "            engine: engine_meta_ops_per_s, tmpfs_meta_ops_per_s,\n"
        "              engine_seq_write_mb_per_s, tmpfs_seq_write_mb_per_s,\n"
        "              meta_ratio, seq_write_ratio\n"
        "            journal: meta_events_per_s_none, meta_events_per_s_batch,\n"
        "              sqlite_wal_rows_per_s, lmdb_raw_events_per_s,\n"
        "              sync_commits_per_s, sqlite_full_commits_per_s,\n"
        "              bulk_write_mb_per_s, zstd_mb_per_s,\n"
        "              meta_bytes_per_event, compression_ratio, and more\n"
        "            snapshot: full_snapshot_s, tar_zstd_s, incr_snapshot_s,\n"
        "              tar_incr_s, git_incr_s, restore_dir_s, tar_x_s,\n"
        "              open_at_seq_s, snapshot_bytes, tar_zst_bytes,\n"
        "              replay_events_per_s, snapshot_pause_s (medians)\n"
        "            fuse: <workload>_<target>_s for the workloads untar,\n"
        "              smallfiles, bigfile, sqlite and the targets chronofs,\n"
        "              tmpfs, bindfs; bigfile_write_<target>_s,\n"
        "              bigfile_read_<target>_s; <workload>_chronofs_cpu_s and\n"
        "              <workload>_bindfs_cpu_s, the mount process's CPU\n"
        "              seconds during the workload (medians)\n"
        "            wasi: guest_chronofs_s, native_tmpfs_s, ratio, and per\n"
        "              phase guest_chronofs_<p>_s, native_tmpfs_<p>_s for p in\n"
        "              small, write, read (medians)\n"
        "  --quick   small sizes, for a smoke run (engine: 1,000 files,\n"
        "            32 MiB; journal: 6,000 events, 30 sync commits, 4 MiB;\n"
        "            snapshot: 200 files; fuse: /usr/include/linux, 500\n"
        "            files, 16 MiB, 500 rows; wasi: 500 files, 16 MiB)\n"
        "  --reps N  repetitions per side (default 3, --quick 2)\n"
        "  --verbose each repetition's figures on stderr\n"
        "  --only W[,W...]  fuse: run only these workloads (untar,\n"
        "            smallfiles, bigfile, sqlite); the table and the JSON\n"
        "            hold only them\n"
        "  --io-uring M  fuse: the chronofs mount's --io-uring (default auto:\n"
        "            FUSE over io_uring where the kernel allows it; on: turn\n"
        "            the kernel's switch on first; off: /dev/fuse; the table\n"
        "            says which way requests went)\n"
        "  --help    this text\n"
        "\n"
        "exit status: 0 ok, 1 a benchmark failed, 2 usage error\n");
}

int main(int argc, char **argv)
{
    cfs_bench_opts o = {0};
    const char *suite = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cfs_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            o.json = 1;
        } else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            o.verbose = 1;
        } else if (!strcmp(a, "--quick")) {
            o.quick = 1;
        } else if (!strcmp(a, "--only")) {
            if (i + 1 == argc)
                goto usage;
            o.only = argv[++i];
        } else if (!strcmp(a, "--io-uring")) {
            if (i + 1 == argc || (strcmp(argv[i + 1], "auto") && strcmp(argv[i + 1], "on") &&
                                  strcmp(argv[i + 1], "off")))
                goto usage;
            o.uring = argv[++i];
        } else if (!strcmp(a, "--reps")) {
            char *end;
            if (i + 1 == argc)
                goto usage;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > CFS_BENCH_MAX_REPS) {
                fprintf(stderr, "chronofs-bench: --reps wants 1..%d\n",
                        CFS_BENCH_MAX_REPS);
                return 2;
            }
            o.reps = (int)n;
        } else if (a[0] == '-') {
            fprintf(stderr, "chronofs-bench: unknown option %s\n", a);
            goto usage;
        } else if (!suite) {
            suite = a;
        } else {
            goto usage;
        }
    }
    if (!suite)
        goto usage;
    if (!o.reps)
        o.reps = o.quick ? 2 : 3;

    if ((o.only || o.uring) && strcmp(suite, "fuse")) {
        fprintf(stderr, "chronofs-bench: --only and --io-uring apply to the fuse suite\n");
        return 2;
    }
    if (!strcmp(suite, "engine"))
        return cfs_bench_suite_engine(&o);
    if (!strcmp(suite, "journal"))
        return cfs_bench_suite_journal(&o);
    if (!strcmp(suite, "snapshot"))
        return cfs_bench_suite_snapshot(&o);
    if (!strcmp(suite, "fuse"))
        return cfs_bench_suite_fuse(&o);
    if (!strcmp(suite, "wasi"))
        return cfs_bench_suite_wasi(&o);
    fprintf(stderr, "chronofs-bench: unknown suite `%s`\n", suite);

usage:
    cfs_usage(stderr);
    return 2;
}

char *cfs_bench_chronofs(void)
{
    static char bin[PATH_MAX];
#ifdef CFS_BENCH_CHRONOFS
    if (access(CFS_BENCH_CHRONOFS, X_OK) == 0) {
        snprintf(bin, sizeof bin, "%s", CFS_BENCH_CHRONOFS);
        return bin;
    }
#endif
    char self[PATH_MAX - 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(bin, sizeof bin, "%s/chronofs", self);
            if (access(bin, X_OK) == 0)
                return bin;
        }
    }
    cfs_bench_die("the chronofs binary is not there (looked for %s%s%s); build the "
                  "`chronofs` target first",
#ifdef CFS_BENCH_CHRONOFS
                  CFS_BENCH_CHRONOFS, " and ",
#else
                  "", "",
#endif
                  bin);
}

/* A signal mid-run is an ordinary failure: unmount, remove, exit 1. Not
 * async-signal-safe, but the alternative is a mount left behind. */
static void cfs_on_signal(int sig)
{
    cfs_bench_die("interrupted by signal %d", sig);
}

void cfs_bench_die_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = cfs_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}
