/*
 * chronofs-bench — benchmarks that measure chronofs against its baselines in
 * the same run, on the same data (DESIGN.md, "Benchmarks").
 *
 *   chronofs-bench SUITE [--json] [--quick] [--reps N] [--verbose]
 *
 * Suites:
 *   engine  the engine state machine against plain syscalls on tmpfs
 *           (/dev/shm): a small-file metadata workload (create, stat,
 *           rename, unlink of 20,000 files in 20 directories) and sequential
 *           64 KiB writes of 1 GiB.
 *
 * The machines are shared and noisy, so the two sides of a comparison run
 * interleaved (engine, tmpfs, engine, tmpfs...) and each side reports its
 * best repetition: the run least disturbed by neighbours is the closest to
 * what the code can do. Medians are shown too, for a sense of the spread.
 *
 * Output: a table for people; with --json the last line is one JSON object
 * (numbers only: `_per_s` rates). MB is 10^6 bytes.
 * Exit status: 0, 1 if a benchmark failed, 2 for a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfs_engine.h"

#define CFS_BENCH_MAX_REPS 64

typedef struct cfs_bench_opts {
    int json;
    int quick;
    int verbose;
    int reps;
    /* metadata workload: dirs x files_per_dir files */
    int dirs;
    int files_per_dir;
    /* sequential write workload */
    uint64_t write_total;
    size_t write_chunk;
} cfs_bench_opts;

/* ---------------------------------------------------------------------- */
/* Helpers                                                                  */

static void cfs_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static char cfs_tmpdir[256];   /* the live tmpfs work dir, for cleanup */

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

/* rm -rf of the tmpfs work dir: a failed run must not leave a gigabyte of
 * RAM behind in /dev/shm. */
static void cfs_cleanup_tmpdir(void)
{
    if (cfs_tmpdir[0]) {
        nftw(cfs_tmpdir, cfs_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        cfs_tmpdir[0] = '\0';
    }
}

static void cfs_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "chronofs-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    cfs_cleanup_tmpdir();
    exit(1);
}

static double cfs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A rate that stays finite for the JSON even if a run took no measurable
 * time. */
static double cfs_rate(double amount, double seconds)
{
    return amount / (seconds > 1e-9 ? seconds : 1e-9);
}

static int cfs_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Best and median of n rates (sorts them in place). */
static void cfs_best_median(double *v, int n, double *best, double *median)
{
    qsort(v, (size_t)n, sizeof *v, cfs_cmp_double);
    *best = v[n - 1];
    *median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Progress goes to stderr so stdout stays the table and the JSON. */
static void cfs_progress(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void cfs_progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------- */
/* The engine side                                                          */

/*
 * The no-op sink: it still receives every event (the cost of building and
 * handing over events is part of what we measure) and counts them, so the
 * benchmark can check that nothing was skipped.
 */
static cfs_errno cfs_count_append(void *ctx, const cfs_event *ev)
{
    (void)ev;
    (*(uint64_t *)ctx)++;
    return 0;
}

/* The clock a real deployment would inject: the wall clock, as the kernel
 * reads it for its own timestamps. */
static cfs_time cfs_wall_clock(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (cfs_time)ts.tv_sec * 1000000000u + (cfs_time)ts.tv_nsec;
}

static cfs_fs *cfs_bench_engine(uint64_t *events)
{
    cfs_config cfg = {
        .clock = cfs_wall_clock,
        .sink = {.append = cfs_count_append, .ctx = events},
    };
    cfs_fs *fs = cfs_fs_new(&cfg);
    if (!fs)
        cfs_die("cfs_fs_new: out of memory");
    return fs;
}

#define CFS_ECHECK(fs, what, call)                                            \
    do {                                                                      \
        cfs_errno e_ = (call);                                                \
        if (e_)                                                               \
            cfs_die("engine: %s: %s %s", what, cfs_errno_name(e_),            \
                    cfs_fs_errmsg(fs));                                       \
    } while (0)

#define CFS_FILE_RIGHTS (CFS_RIGHT_FD_READ | CFS_RIGHT_FD_WRITE |             \
                         CFS_RIGHT_FD_SEEK | CFS_RIGHT_FD_TELL |              \
                         CFS_RIGHT_FD_FILESTAT_GET)

/* Names are formatted inside the timed loops on both sides alike, so the
 * comparison pays the same snprintf. Both sides resolve two components
 * (dNN/fNNNNN) from a directory fd. */
static double cfs_engine_meta(const cfs_bench_opts *o, uint64_t *events)
{
    cfs_fs *fs = cfs_bench_engine(events);
    char a[64], b[64];
    cfs_filestat st;
    cfs_fd fd;

    CFS_ECHECK(fs, "mkdir", cfs_path_create_directory(fs, CFS_ROOT_FD, "b"));
    cfs_fd top;
    CFS_ECHECK(fs, "open b",
               cfs_path_open(fs, CFS_ROOT_FD, 0, "b", CFS_O_DIRECTORY,
                             CFS_RIGHTS_ALL & ~CFS_RIGHT_FD_WRITE,
                             CFS_RIGHTS_ALL, 0, &top));
    for (int d = 0; d < o->dirs; d++) {
        snprintf(a, sizeof a, "d%02d", d);
        CFS_ECHECK(fs, "mkdir", cfs_path_create_directory(fs, top, a));
    }
    uint64_t events0 = *events;

    double t0 = cfs_now();
    for (int d = 0; d < o->dirs; d++)
        for (int i = 0; i < o->files_per_dir; i++) {
            snprintf(a, sizeof a, "d%02d/f%05d", d, i);
            CFS_ECHECK(fs, "create",
                       cfs_path_open(fs, top, 0, a, CFS_O_CREAT | CFS_O_EXCL,
                                     CFS_FILE_RIGHTS, 0, 0, &fd));
            CFS_ECHECK(fs, "close", cfs_fd_close(fs, fd));
        }
    for (int d = 0; d < o->dirs; d++)
        for (int i = 0; i < o->files_per_dir; i++) {
            snprintf(a, sizeof a, "d%02d/f%05d", d, i);
            CFS_ECHECK(fs, "stat", cfs_path_filestat_get(fs, top, 0, a, &st));
        }
    for (int d = 0; d < o->dirs; d++)
        for (int i = 0; i < o->files_per_dir; i++) {
            snprintf(a, sizeof a, "d%02d/f%05d", d, i);
            snprintf(b, sizeof b, "d%02d/r%05d", d, i);
            CFS_ECHECK(fs, "rename", cfs_path_rename(fs, top, a, top, b));
        }
    for (int d = 0; d < o->dirs; d++)
        for (int i = 0; i < o->files_per_dir; i++) {
            snprintf(b, sizeof b, "d%02d/r%05d", d, i);
            CFS_ECHECK(fs, "unlink", cfs_path_unlink_file(fs, top, b));
        }
    double t = cfs_now() - t0;

    /* open + close, rename, unlink: at least 4 events per file. */
    uint64_t files = (uint64_t)o->dirs * (uint64_t)o->files_per_dir;
    if (*events - events0 < 4 * files)
        cfs_die("engine: the sink saw %" PRIu64 " events for %" PRIu64
                " files", *events - events0, files);
    cfs_fs_free(fs);
    return cfs_rate(4.0 * (double)files, t);
}

static double cfs_engine_seq_write(const cfs_bench_opts *o, const char *buf,
                                   uint64_t *events)
{
    cfs_fs *fs = cfs_bench_engine(events);
    cfs_fd fd;
    size_t n;

    double t0 = cfs_now();
    CFS_ECHECK(fs, "open", cfs_path_open(fs, CFS_ROOT_FD, 0, "big",
                                         CFS_O_CREAT | CFS_O_EXCL,
                                         CFS_FILE_RIGHTS, 0, 0, &fd));
    for (uint64_t done = 0; done < o->write_total; done += o->write_chunk) {
        CFS_ECHECK(fs, "write",
                   cfs_fd_write(fs, fd, buf, o->write_chunk, &n));
        if (n != o->write_chunk)
            cfs_die("engine: short write %zu of %zu", n, o->write_chunk);
    }
    CFS_ECHECK(fs, "close", cfs_fd_close(fs, fd));
    double t = cfs_now() - t0;

    cfs_filestat st;
    CFS_ECHECK(fs, "stat", cfs_path_filestat_get(fs, CFS_ROOT_FD, 0, "big",
                                                 &st));
    if (st.size != o->write_total)
        cfs_die("engine: file size %" PRIu64 ", expected %" PRIu64, st.size,
                o->write_total);
    /* A fast write that kept nothing would be a fine figure and a bug:
     * read the last chunk back. */
    char *back = malloc(o->write_chunk);
    if (!back)
        cfs_die("out of memory");
    CFS_ECHECK(fs, "reopen", cfs_path_open(fs, CFS_ROOT_FD, 0, "big", 0,
                                           CFS_FILE_RIGHTS, 0, 0, &fd));
    CFS_ECHECK(fs, "pread", cfs_fd_pread(fs, fd, back, o->write_chunk,
                                         o->write_total - o->write_chunk, &n));
    if (n != o->write_chunk || memcmp(back, buf, n) != 0)
        cfs_die("engine: the last %zu bytes read back differ", o->write_chunk);
    free(back);
    /* Freeing a gigabyte of blocks is not part of writing it; the engine is
     * freed between runs so two copies are never resident. */
    cfs_fs_free(fs);
    return cfs_rate((double)o->write_total / 1e6, t);
}

/* ---------------------------------------------------------------------- */
/* The tmpfs side: the same work as plain syscalls                          */

static int cfs_make_tmpdir(void)
{
    snprintf(cfs_tmpdir, sizeof cfs_tmpdir, "/dev/shm/chronofs-bench-XXXXXX");
    if (!mkdtemp(cfs_tmpdir)) {
        cfs_tmpdir[0] = '\0';
        cfs_die("mkdtemp in /dev/shm: %s", strerror(errno));
    }
    int fd = open(cfs_tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        cfs_die("open %s: %s", cfs_tmpdir, strerror(errno));
    return fd;
}

#define CFS_SCHECK(what, ok)                                                  \
    do {                                                                      \
        if (!(ok))                                                            \
            cfs_die("tmpfs: %s: %s", what, strerror(errno));                  \
    } while (0)

static double cfs_tmpfs_meta(const cfs_bench_opts *o)
{
    int top = cfs_make_tmpdir();
    char a[64], b[64];
    struct stat st;

    for (int d = 0; d < o->dirs; d++) {
        snprintf(a, sizeof a, "d%02d", d);
        CFS_SCHECK("mkdir", mkdirat(top, a, 0755) == 0);
    }

    double t0 = cfs_now();
    for (int d = 0; d < o->dirs; d++)
        for (int i = 0; i < o->files_per_dir; i++) {
            snprintf(a, sizeof a, "d%02d/f%05d", d, i);
            int fd = openat(top, a, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                            0644);
            CFS_SCHECK("create", fd >= 0);
            CFS_SCHECK("close", close(fd) == 0);
        }
    for (int d = 0; d < o->dirs; d++)
        for (int i = 0; i < o->files_per_dir; i++) {
            snprintf(a, sizeof a, "d%02d/f%05d", d, i);
            CFS_SCHECK("stat", fstatat(top, a, &st, AT_SYMLINK_NOFOLLOW) == 0);
        }
    for (int d = 0; d < o->dirs; d++)
        for (int i = 0; i < o->files_per_dir; i++) {
            snprintf(a, sizeof a, "d%02d/f%05d", d, i);
            snprintf(b, sizeof b, "d%02d/r%05d", d, i);
            CFS_SCHECK("rename", renameat(top, a, top, b) == 0);
        }
    for (int d = 0; d < o->dirs; d++)
        for (int i = 0; i < o->files_per_dir; i++) {
            snprintf(b, sizeof b, "d%02d/r%05d", d, i);
            CFS_SCHECK("unlink", unlinkat(top, b, 0) == 0);
        }
    double t = cfs_now() - t0;

    close(top);
    cfs_cleanup_tmpdir();
    double files = (double)o->dirs * (double)o->files_per_dir;
    return cfs_rate(4.0 * files, t);
}

static double cfs_tmpfs_seq_write(const cfs_bench_opts *o, const char *buf)
{
    int top = cfs_make_tmpdir();

    double t0 = cfs_now();
    int fd = openat(top, "big", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    CFS_SCHECK("open", fd >= 0);
    for (uint64_t done = 0; done < o->write_total; done += o->write_chunk) {
        ssize_t n = write(fd, buf, o->write_chunk);
        CFS_SCHECK("write", n >= 0);
        if ((size_t)n != o->write_chunk)
            cfs_die("tmpfs: short write %zd of %zu (is /dev/shm full?)", n,
                    o->write_chunk);
    }
    /* No fsync: tmpfs has nothing to sync, and the engine's no-op sink
     * syncs nothing either. close() ends the timed region on both sides. */
    CFS_SCHECK("close", close(fd) == 0);
    double t = cfs_now() - t0;

    close(top);
    cfs_cleanup_tmpdir();
    return cfs_rate((double)o->write_total / 1e6, t);
}

/* ---------------------------------------------------------------------- */
/* The engine suite                                                         */

static int cfs_suite_engine(const cfs_bench_opts *o)
{
    double em[CFS_BENCH_MAX_REPS], tm[CFS_BENCH_MAX_REPS];
    double ew[CFS_BENCH_MAX_REPS], tw[CFS_BENCH_MAX_REPS];
    uint64_t events = 0;
    long files = (long)o->dirs * o->files_per_dir;

    /* Non-zero data: a block of zeros could be special-cased as a hole. */
    char *buf = malloc(o->write_chunk);
    if (!buf)
        cfs_die("out of memory");
    for (size_t i = 0; i < o->write_chunk; i++)
        buf[i] = (char)(i * 131 + 7);

    for (int r = 0; r < o->reps; r++) {
        cfs_progress("rep %d/%d: metadata engine", r + 1, o->reps);
        em[r] = cfs_engine_meta(o, &events);
        cfs_progress(", tmpfs");
        tm[r] = cfs_tmpfs_meta(o);
        cfs_progress("; seq write engine");
        ew[r] = cfs_engine_seq_write(o, buf, &events);
        cfs_progress(", tmpfs\n");
        tw[r] = cfs_tmpfs_seq_write(o, buf);
        if (o->verbose)
            cfs_progress("  meta ops/s engine %.0f tmpfs %.0f; "
                         "seq write MB/s engine %.0f tmpfs %.0f\n",
                         em[r], tm[r], ew[r], tw[r]);
    }
    free(buf);

    double em_b, em_m, tm_b, tm_m, ew_b, ew_m, tw_b, tw_m;
    cfs_best_median(em, o->reps, &em_b, &em_m);
    cfs_best_median(tm, o->reps, &tm_b, &tm_m);
    cfs_best_median(ew, o->reps, &ew_b, &ew_m);
    cfs_best_median(tw, o->reps, &tw_b, &tw_m);

    printf("chronofs-bench engine: %d repetition%s, interleaved; best "
           "(median)%s\n", o->reps, o->reps == 1 ? "" : "s",
           o->quick ? "  [--quick sizes]" : "");
    printf("%-40s %24s %24s %7s\n", "workload", "engine (no-op sink)",
           "tmpfs /dev/shm", "ratio");
    char label[64], e[32], t[32];
    snprintf(label, sizeof label, "metadata, %ld files x 4 ops (ops/s)",
             files);
    snprintf(e, sizeof e, "%.0f (%.0f)", em_b, em_m);
    snprintf(t, sizeof t, "%.0f (%.0f)", tm_b, tm_m);
    printf("%-40s %24s %24s %6.2fx\n", label, e, t, em_b / tm_b);
    snprintf(label, sizeof label, "seq write, %" PRIu64 " MiB in %zu KiB (MB/s)",
             o->write_total >> 20, o->write_chunk >> 10);
    snprintf(e, sizeof e, "%.0f (%.0f)", ew_b, ew_m);
    snprintf(t, sizeof t, "%.0f (%.0f)", tw_b, tw_m);
    printf("%-40s %24s %24s %6.2fx\n", label, e, t, ew_b / tw_b);
    printf("engine events delivered to the sink: %" PRIu64 "\n", events);

    if (o->json)
        printf("{\"engine_meta_ops_per_s\":%.1f,\"tmpfs_meta_ops_per_s\":%.1f,"
               "\"engine_seq_write_mb_per_s\":%.1f,"
               "\"tmpfs_seq_write_mb_per_s\":%.1f,"
               "\"meta_ratio\":%.3f,\"seq_write_ratio\":%.3f}\n",
               em_b, tm_b, ew_b, tw_b, em_b / tm_b, ew_b / tw_b);
    fflush(stdout);
    return 0;
}

/* ---------------------------------------------------------------------- */

static void cfs_usage(FILE *f)
{
    fprintf(f,
        "usage: chronofs-bench SUITE [--json] [--quick] [--reps N] [--verbose]\n"
        "\n"
        "Runs chronofs and its baselines side by side, in the same run.\n"
        "\n"
        "suites:\n"
        "  engine    the engine (with a no-op sink) vs plain syscalls on\n"
        "            tmpfs (/dev/shm): create/stat/rename/unlink of 20,000\n"
        "            files in 20 dirs, and 1 GiB of sequential 64 KiB writes\n"
        "\n"
        "options:\n"
        "  --json    end with one JSON line: engine_meta_ops_per_s,\n"
        "            tmpfs_meta_ops_per_s, engine_seq_write_mb_per_s,\n"
        "            tmpfs_seq_write_mb_per_s, meta_ratio, seq_write_ratio\n"
        "            (MB = 10^6 bytes; each figure is the best repetition)\n"
        "  --quick   small sizes, for a smoke run (1,000 files, 32 MiB)\n"
        "  --reps N  repetitions per side (default 3, --quick 2)\n"
        "  --verbose each repetition's figures on stderr\n"
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

    o.write_chunk = 64 * 1024;
    if (o.quick) {
        /* Small enough for a sanitized Debug build, where the engine's
         * per-call invariant checks make metadata ops ~1000x slower. */
        o.dirs = 4;
        o.files_per_dir = 250;
        o.write_total = UINT64_C(32) << 20;
        if (!o.reps)
            o.reps = 2;
    } else {
        o.dirs = 20;
        o.files_per_dir = 1000;
        o.write_total = UINT64_C(1) << 30;
        if (!o.reps)
            o.reps = 3;
    }

    if (!strcmp(suite, "engine"))
        return cfs_suite_engine(&o);
    fprintf(stderr, "chronofs-bench: unknown suite `%s`\n", suite);

usage:
    cfs_usage(stderr);
    return 2;
}
