/*
 * bench_engine.c — chronofs-bench's `engine` suite: the engine state machine
 * against plain syscalls on tmpfs (/dev/shm).
 *
 * Two workloads: a small-file metadata workload (create, stat, rename,
 * unlink of 20,000 files in 20 directories) and sequential 64 KiB writes of
 * 1 GiB. The engine runs with a sink that receives every event and discards
 * it; the two sides run interleaved (engine, tmpfs, engine, tmpfs...).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cfs_engine.h"

typedef struct cfs_engine_opts {
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
} cfs_engine_opts;

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
        cfs_bench_die("cfs_fs_new: out of memory");
    return fs;
}

/* Names are formatted inside the timed loops on both sides alike, so the
 * comparison pays the same snprintf. Both sides resolve two components
 * (dNN/fNNNNN) from a directory fd. */
static double cfs_engine_meta(const cfs_engine_opts *o, uint64_t *events)
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

    double t0 = cfs_bench_now();
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
    double t = cfs_bench_now() - t0;

    /* open + close, rename, unlink: at least 4 events per file. */
    uint64_t files = (uint64_t)o->dirs * (uint64_t)o->files_per_dir;
    if (*events - events0 < 4 * files)
        cfs_bench_die("engine: the sink saw %" PRIu64 " events for %" PRIu64
                      " files", *events - events0, files);
    cfs_fs_free(fs);
    return cfs_bench_rate(4.0 * (double)files, t);
}

static double cfs_engine_seq_write(const cfs_engine_opts *o, const char *buf,
                                   uint64_t *events)
{
    cfs_fs *fs = cfs_bench_engine(events);
    cfs_fd fd;
    size_t n;

    double t0 = cfs_bench_now();
    CFS_ECHECK(fs, "open", cfs_path_open(fs, CFS_ROOT_FD, 0, "big",
                                         CFS_O_CREAT | CFS_O_EXCL,
                                         CFS_FILE_RIGHTS, 0, 0, &fd));
    for (uint64_t done = 0; done < o->write_total; done += o->write_chunk) {
        CFS_ECHECK(fs, "write",
                   cfs_fd_write(fs, fd, buf, o->write_chunk, &n));
        if (n != o->write_chunk)
            cfs_bench_die("engine: short write %zu of %zu", n, o->write_chunk);
    }
    CFS_ECHECK(fs, "close", cfs_fd_close(fs, fd));
    double t = cfs_bench_now() - t0;

    cfs_filestat st;
    CFS_ECHECK(fs, "stat", cfs_path_filestat_get(fs, CFS_ROOT_FD, 0, "big",
                                                 &st));
    if (st.size != o->write_total)
        cfs_bench_die("engine: file size %" PRIu64 ", expected %" PRIu64,
                      st.size, o->write_total);
    /* A fast write that kept nothing would be a fine figure and a bug:
     * read the last chunk back. */
    char *back = malloc(o->write_chunk);
    if (!back)
        cfs_bench_die("out of memory");
    CFS_ECHECK(fs, "reopen", cfs_path_open(fs, CFS_ROOT_FD, 0, "big", 0,
                                           CFS_FILE_RIGHTS, 0, 0, &fd));
    CFS_ECHECK(fs, "pread", cfs_fd_pread(fs, fd, back, o->write_chunk,
                                         o->write_total - o->write_chunk, &n));
    if (n != o->write_chunk || memcmp(back, buf, n) != 0)
        cfs_bench_die("engine: the last %zu bytes read back differ",
                      o->write_chunk);
    free(back);
    /* Freeing a gigabyte of blocks is not part of writing it; the engine is
     * freed between runs so two copies are never resident. */
    cfs_fs_free(fs);
    return cfs_bench_rate((double)o->write_total / 1e6, t);
}

/* ---------------------------------------------------------------------- */
/* The tmpfs side: the same work as plain syscalls                          */

static int cfs_make_tmpdir(void)
{
    const char *dir = cfs_bench_tmpdir_make("/dev/shm");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        cfs_bench_die("open %s: %s", dir, strerror(errno));
    return fd;
}

#define CFS_SCHECK(what, ok)                                                  \
    do {                                                                      \
        if (!(ok))                                                            \
            cfs_bench_die("tmpfs: %s: %s", what, strerror(errno));            \
    } while (0)

static double cfs_tmpfs_meta(const cfs_engine_opts *o)
{
    int top = cfs_make_tmpdir();
    char a[64], b[64];
    struct stat st;

    for (int d = 0; d < o->dirs; d++) {
        snprintf(a, sizeof a, "d%02d", d);
        CFS_SCHECK("mkdir", mkdirat(top, a, 0755) == 0);
    }

    double t0 = cfs_bench_now();
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
    double t = cfs_bench_now() - t0;

    close(top);
    cfs_bench_tmpdir_remove();
    double files = (double)o->dirs * (double)o->files_per_dir;
    return cfs_bench_rate(4.0 * files, t);
}

static double cfs_tmpfs_seq_write(const cfs_engine_opts *o, const char *buf)
{
    int top = cfs_make_tmpdir();

    double t0 = cfs_bench_now();
    int fd = openat(top, "big", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    CFS_SCHECK("open", fd >= 0);
    for (uint64_t done = 0; done < o->write_total; done += o->write_chunk) {
        ssize_t n = write(fd, buf, o->write_chunk);
        CFS_SCHECK("write", n >= 0);
        if ((size_t)n != o->write_chunk)
            cfs_bench_die("tmpfs: short write %zd of %zu (is /dev/shm full?)",
                          n, o->write_chunk);
    }
    /* No fsync: tmpfs has nothing to sync, and the engine's no-op sink
     * syncs nothing either. close() ends the timed region on both sides. */
    CFS_SCHECK("close", close(fd) == 0);
    double t = cfs_bench_now() - t0;

    close(top);
    cfs_bench_tmpdir_remove();
    return cfs_bench_rate((double)o->write_total / 1e6, t);
}

/* ---------------------------------------------------------------------- */
/* The engine suite                                                         */

static int cfs_suite_engine(const cfs_engine_opts *o)
{
    double em[CFS_BENCH_MAX_REPS], tm[CFS_BENCH_MAX_REPS];
    double ew[CFS_BENCH_MAX_REPS], tw[CFS_BENCH_MAX_REPS];
    uint64_t events = 0;
    long files = (long)o->dirs * o->files_per_dir;

    /* Non-zero data: a block of zeros could be special-cased as a hole. */
    char *buf = malloc(o->write_chunk);
    if (!buf)
        cfs_bench_die("out of memory");
    for (size_t i = 0; i < o->write_chunk; i++)
        buf[i] = (char)(i * 131 + 7);

    for (int r = 0; r < o->reps; r++) {
        cfs_bench_progress("rep %d/%d: metadata engine", r + 1, o->reps);
        em[r] = cfs_engine_meta(o, &events);
        cfs_bench_progress(", tmpfs");
        tm[r] = cfs_tmpfs_meta(o);
        cfs_bench_progress("; seq write engine");
        ew[r] = cfs_engine_seq_write(o, buf, &events);
        cfs_bench_progress(", tmpfs\n");
        tw[r] = cfs_tmpfs_seq_write(o, buf);
        if (o->verbose)
            cfs_bench_progress("  meta ops/s engine %.0f tmpfs %.0f; "
                         "seq write MB/s engine %.0f tmpfs %.0f\n",
                         em[r], tm[r], ew[r], tw[r]);
    }
    free(buf);

    double em_b, em_m, tm_b, tm_m, ew_b, ew_m, tw_b, tw_m;
    cfs_bench_best_median(em, o->reps, &em_b, &em_m);
    cfs_bench_best_median(tm, o->reps, &tm_b, &tm_m);
    cfs_bench_best_median(ew, o->reps, &ew_b, &ew_m);
    cfs_bench_best_median(tw, o->reps, &tw_b, &tw_m);

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
    snprintf(label, sizeof label,
             "seq write, %" PRIu64 " MiB in %zu KiB (MB/s)",
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

int cfs_bench_suite_engine(const cfs_bench_opts *bo)
{
    cfs_engine_opts o = {
        .json = bo->json, .quick = bo->quick, .verbose = bo->verbose,
        .reps = bo->reps, .write_chunk = 64 * 1024,
    };
    if (o.quick) {
        /* Small enough for a sanitized Debug build, where the engine's
         * per-call invariant checks make metadata ops ~1000x slower. */
        o.dirs = 4;
        o.files_per_dir = 250;
        o.write_total = UINT64_C(32) << 20;
    } else {
        o.dirs = 20;
        o.files_per_dir = 1000;
        o.write_total = UINT64_C(1) << 30;
    }
    return cfs_suite_engine(&o);
}
