/*
 * bench_snapshot.c — chronofs-bench's `snapshot` suite (issue 4,
 * "Benchmark").
 *
 * One generated tree, built twice from the same PRNG: in an engine and as
 * files in a host dir under /tmp (a real disk). 20,000 files in three
 * levels of directories (10 x 10 x 20 leaf dirs of 10 files): 18,000 of
 * 1-8 KiB of English-like text and 2,000 "mixed" files of 64 KiB-1 MiB
 * made of 64 KiB runs of text, noise (as compressed media is) and
 * structured binary records. Then, side by side:
 *
 *   full snapshot   cfs_journal_snapshot() of the engine into a fresh
 *                   journal, vs `tar -cf - . | zstd -1 -T1` of the host
 *                   tree into a file;
 *   incremental     after changing the same 1% of the files (200: 512
 *                   bytes overwritten, every fourth also appended to) in
 *                   both: the next snapshot, vs `tar --listed-incremental`
 *                   (| zstd -1 -T1) and vs `git add -A && git commit` in a
 *                   repo already holding the previous state;
 *   restore         the newest snapshot opened (file data loaded as it is
 *                   written out) and restored to a new host dir
 *                   (cfs_replay_restore), vs `zstd -d | tar -x` of the
 *                   full tar.zst into a new dir; both on tmpfs (/dev/shm);
 *   open at a seq   cfs_journal_open_at() of a seq between snapshots;
 *   replay          cfs_journal_replay() of 1,000,000 metadata events;
 *   pause           how long cfs_journal_snapshot_begin() holds the
 *                   caller (it copies the metadata; the rest happens on
 *                   the journal's threads), after another 1% change.
 *
 * Neither side fsyncs: the journal runs in `none` mode, the tar files and
 * the git objects stay in the page cache (what the disk costs is the
 * journal suite's subject). Each figure is the median of the repetitions,
 * with the best shown beside it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "cfs_journal.h"
#include "cfs_replay.h"

typedef struct cfs_snap_sizes {
    int top, mid, leaf, files_per_dir; /* directory fan-out per level */
    int big_every;                     /* every Nth file is a big one */
    size_t meta_events;                /* the replay journal */
} cfs_snap_sizes;

typedef struct cfs_tree_file {
    char path[64]; /* relative: "d03/d07/d12/f05" */
    uint64_t size;
    uint64_t seed;
} cfs_tree_file;

typedef struct cfs_tree {
    cfs_tree_file *f;
    size_t n;
    uint64_t bytes;
    char host[300];  /* the host copy */
    cfs_fs *fs;      /* the engine copy */
} cfs_tree;

static void cfs_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command line; die if it fails. */
static void cfs_sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        cfs_bench_die("`%s` failed (status %d)", cmd, st);
}

static double cfs_timed_sh(const char *cmd)
{
    double t0 = cfs_bench_now();
    cfs_sh("%s", cmd);
    return cfs_bench_now() - t0;
}

/* ---------------------------------------------------------------------- */
/* The tree                                                                 */

/* A 64 KiB run of a mixed file: text, noise or structured records. */
static void cfs_mixed_fill(uint64_t *rng, cfs_bench_text *t, uint8_t *buf,
                           size_t len)
{
    uint64_t kind = cfs_bench_rng_next(rng) % 4;
    if (kind < 2) {
        cfs_bench_text_fill(t, (char *)buf, len);
    } else if (kind == 2) {
        for (size_t i = 0; i < len; i += 8) {
            uint64_t r = cfs_bench_rng_next(rng);
            memcpy(buf + i, &r, len - i < 8 ? len - i : 8);
        }
    } else {
        /* records: a counter, a small random field, a fixed tag */
        uint64_t base = cfs_bench_rng_next(rng);
        for (size_t i = 0; i < len; i += 16) {
            uint8_t rec[16];
            uint64_t c = base + i / 16;
            memcpy(rec, &c, 8);
            uint32_t r = (uint32_t)(cfs_bench_rng_next(rng) & 0xfff);
            memcpy(rec + 8, &r, 4);
            memcpy(rec + 12, "REC", 4);
            memcpy(buf + i, rec, len - i < 16 ? len - i : 16);
        }
    }
}

/* The bytes of file f from offset 0, into buf (f->size bytes). */
static void cfs_file_content(const cfs_tree_file *f, uint8_t *buf)
{
    uint64_t rng = f->seed;
    cfs_bench_text t = {.rng = f->seed ^ UINT64_C(0x5eed)};
    if (f->size <= 8192) {
        cfs_bench_text_fill(&t, (char *)buf, f->size);
        return;
    }
    for (uint64_t at = 0; at < f->size; at += CFS_BLOCK_SIZE) {
        size_t n = f->size - at < CFS_BLOCK_SIZE ? f->size - at : CFS_BLOCK_SIZE;
        cfs_mixed_fill(&rng, &t, buf + at, n);
    }
}

static void cfs_engine_mkdir(cfs_fs *fs, const char *path)
{
    CFS_ECHECK(fs, path, cfs_path_create_directory(fs, CFS_ROOT_FD, path));
}

static void cfs_engine_pwrite(cfs_fs *fs, const char *path, const void *buf,
                              size_t len, uint64_t off, int create)
{
    cfs_fd fd;
    CFS_ECHECK(fs, path,
               cfs_path_open(fs, CFS_ROOT_FD, 0, path, create ? CFS_O_CREAT : 0,
                             CFS_FILE_RIGHTS, 0, 0, &fd));
    for (size_t done = 0; done < len;) {
        size_t n = 0;
        CFS_ECHECK(fs, path, cfs_fd_pwrite(fs, fd, (const char *)buf + done,
                                           len - done, off + done, &n));
        done += n;
    }
    CFS_ECHECK(fs, path, cfs_fd_close(fs, fd));
}

static void cfs_host_pwrite(const char *root, const char *path,
                            const void *buf, size_t len, uint64_t off,
                            int create)
{
    char full[400];
    snprintf(full, sizeof full, "%s/%s", root, path);
    int fd = open(full, O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0644);
    if (fd < 0 || pwrite(fd, buf, len, (off_t)off) != (ssize_t)len || close(fd))
        cfs_bench_die("%s: %s", full, strerror(errno));
}

static void cfs_tree_build(cfs_tree *t, const cfs_snap_sizes *sz,
                           const char *work)
{
    memset(t, 0, sizeof *t);
    snprintf(t->host, sizeof t->host, "%s/host", work);
    if (mkdir(t->host, 0755))
        cfs_bench_die("%s: %s", t->host, strerror(errno));
    t->fs = cfs_fs_new(NULL);
    if (!t->fs)
        cfs_bench_die("cfs_fs_new: out of memory");
    size_t n = (size_t)sz->top * sz->mid * sz->leaf * sz->files_per_dir;
    t->f = calloc(n, sizeof *t->f);
    uint8_t *buf = malloc(1 << 20);
    if (!t->f || !buf)
        cfs_bench_die("out of memory");
    uint64_t rng = 20000;
    char dir[40];
    for (int a = 0; a < sz->top; a++) {
        for (int b = 0; b < sz->mid; b++) {
            for (int c = 0; c < sz->leaf; c++) {
                char host[400];
                for (int lvl = 0; lvl < 3; lvl++) {
                    if ((lvl == 0 && (b || c)) || (lvl == 1 && c))
                        continue; /* made with an earlier leaf */
                    if (lvl == 0)
                        snprintf(dir, sizeof dir, "d%02d", a);
                    else if (lvl == 1)
                        snprintf(dir, sizeof dir, "d%02d/d%02d", a, b);
                    else
                        snprintf(dir, sizeof dir, "d%02d/d%02d/d%02d", a, b, c);
                    cfs_engine_mkdir(t->fs, dir);
                    snprintf(host, sizeof host, "%s/%s", t->host, dir);
                    if (mkdir(host, 0755))
                        cfs_bench_die("%s: %s", host, strerror(errno));
                }
                for (int k = 0; k < sz->files_per_dir; k++) {
                    cfs_tree_file *f = &t->f[t->n];
                    snprintf(f->path, sizeof f->path, "%s/f%02d", dir, k);
                    f->seed = cfs_bench_rng_next(&rng);
                    double u = (double)(cfs_bench_rng_next(&rng) >> 11) * 0x1.0p-53;
                    if (t->n % (size_t)sz->big_every == (size_t)sz->big_every - 1)
                        /* 64 KiB-1 MiB: 95% up to 128 KiB */
                        f->size = u < 0.95 ? 65536 + (uint64_t)(65536.0 * u / 0.95)
                                           : 131072 + (uint64_t)(917504.0 * (u - 0.95) / 0.05);
                    else
                        f->size = 1024 + (uint64_t)(7168.0 * u);
                    cfs_file_content(f, buf);
                    cfs_engine_pwrite(t->fs, f->path, buf, f->size, 0, 1);
                    cfs_host_pwrite(t->host, f->path, buf, f->size, 0, 1);
                    t->bytes += f->size;
                    t->n++;
                }
            }
        }
    }
    free(buf);
}

/* Change 1% of the files, the same way in the engine and on the host:
 * 512 bytes of new text at a random offset, and every fourth file also
 * grows by 1 KiB. Round r picks other files than round r-1. */
static void cfs_tree_change(cfs_tree *t, int round)
{
    uint64_t rng = UINT64_C(0xc4a9e) + (uint64_t)round;
    size_t count = t->n / 100;
    char buf[1024];
    for (size_t i = 0; i < count; i++) {
        cfs_tree_file *f = &t->f[(i * 100 + (size_t)round * 37) % t->n];
        cfs_bench_text tx = {.rng = cfs_bench_rng_next(&rng)};
        cfs_bench_text_fill(&tx, buf, sizeof buf);
        uint64_t off = cfs_bench_rng_next(&rng) % (f->size - 512);
        cfs_engine_pwrite(t->fs, f->path, buf, 512, off, 0);
        cfs_host_pwrite(t->host, f->path, buf, 512, off, 0);
        if (i % 4 == 0) {
            cfs_engine_pwrite(t->fs, f->path, buf, sizeof buf, f->size, 0);
            cfs_host_pwrite(t->host, f->path, buf, sizeof buf, f->size, 0);
            f->size += sizeof buf;
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Figures                                                                  */

typedef struct cfs_fig {
    double v[CFS_BENCH_MAX_REPS];
    int n;
    double best, median; /* for times: best is the smallest */
} cfs_fig;

static void cfs_fig_add(cfs_fig *f, double x)
{
    f->v[f->n++] = x;
}

/* Times: the median, and the smallest as the best. */
static void cfs_fig_time(cfs_fig *f)
{
    double hi;
    cfs_bench_best_median(f->v, f->n, &hi, &f->median);
    f->best = f->v[0];
}

static cfs_journal *cfs_journal_fresh(const char *dir)
{
    cfs_journal_opts jo;
    cfs_journal_opts_default(&jo);
    jo.durability = CFS_DURABILITY_NONE;
    jo.create = 1;
    cfs_journal *j;
    char err[256];
    if (cfs_journal_open(dir, &jo, &j, err, sizeof err))
        cfs_bench_die("journal %s: %s", dir, err);
    return j;
}

static void cfs_jcheck(cfs_journal *j, const char *what, int rc)
{
    if (rc)
        cfs_bench_die("%s: %s: %s", what, cfs_strerror(rc), cfs_journal_errmsg(j));
}

static uint64_t cfs_file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st))
        cfs_bench_die("%s: %s", path, strerror(errno));
    return (uint64_t)st.st_size;
}

static void cfs_print_row(const char *what, const cfs_fig *ours,
                          const char *base_name, const cfs_fig *base)
{
    printf("%-26s %9.1f ms (best %7.1f)", what, ours->median * 1e3, ours->best * 1e3);
    if (base)
        printf("   %-22s %9.1f ms (best %7.1f)   %5.2fx", base_name,
               base->median * 1e3, base->best * 1e3,
               base->median / (ours->median > 1e-9 ? ours->median : 1e-9));
    printf("\n");
}

int cfs_bench_suite_snapshot(const cfs_bench_opts *o)
{
    cfs_snap_sizes sz = o->quick ? (cfs_snap_sizes){2, 2, 5, 10, 10, 6000}
                                 : (cfs_snap_sizes){10, 10, 20, 10, 10, 1000000};
    const char *work = cfs_bench_tmpdir_make("/tmp");
    char path[400], jdir[400];

    cfs_bench_progress("snapshot: generating the tree (engine and %s/host) ...\n", work);
    cfs_tree t;
    cfs_tree_build(&t, &sz, work);
    cfs_bench_progress("snapshot: %zu files, %.1f MB\n", t.n, (double)t.bytes / 1e6);

    /* ---- full snapshot vs tar | zstd ---- */
    cfs_fig full = {0}, tarz = {0};
    cfs_snapshot_info info = {0};
    cfs_journal *j = NULL;
    for (int r = 0; r < o->reps; r++) {
        snprintf(path, sizeof path, "cd '%s' && tar -cf - . | zstd -1 -T1 -q -f -o '%s/tree.tar.zst'",
                 t.host, work);
        cfs_fig_add(&tarz, cfs_timed_sh(path));
        if (j) {
            cfs_journal_close(j);
            cfs_bench_rmtree(jdir);
        }
        snprintf(jdir, sizeof jdir, "%s/journal%d", work, r);
        j = cfs_journal_fresh(jdir);
        double t0 = cfs_bench_now();
        cfs_jcheck(j, "full snapshot", cfs_journal_snapshot(j, t.fs, "full", "explicit", 0, &info));
        double dt = cfs_bench_now() - t0;
        cfs_fig_add(&full, dt);
        if (o->verbose)
            cfs_bench_progress("  rep %d: full %.1f ms, tar|zstd %.1f ms\n", r,
                               dt * 1e3, tarz.v[r] * 1e3);
    }
    uint64_t snapshot_bytes = info.image_bytes + info.new_chunk_bytes;
    snprintf(path, sizeof path, "%s/tree.tar.zst", work);
    uint64_t tar_zst_bytes = cfs_file_size(path);
    cfs_fig_time(&full);
    cfs_fig_time(&tarz);

    /* ---- incremental: 1% changed ---- */
    cfs_bench_progress("snapshot: git and tar baselines of the first state ...\n");
    cfs_sh("cd '%s' && tar --listed-incremental='%s/snar' -cf /dev/null . && "
           "git init -q && git config user.email b@c && git config user.name bench && "
           "git add -A && git commit -q -m base", t.host, work);
    cfs_sink sink = cfs_journal_sink(j);
    cfs_fs_set_sink(t.fs, &sink);
    cfs_fig incr = {0}, tinc = {0}, gitc = {0};
    uint64_t mid_seq = 0, last_snap = 0;
    for (int r = 0; r < o->reps; r++) {
        cfs_tree_change(&t, r);
        if (r == o->reps - 1)
            mid_seq = cfs_fs_seq(t.fs) - 7; /* between two snapshots */
        double t0 = cfs_bench_now();
        cfs_snapshot_info ii;
        cfs_jcheck(j, "incremental snapshot",
                   cfs_journal_snapshot(j, t.fs, "incr", "explicit", 0, &ii));
        cfs_fig_add(&incr, cfs_bench_now() - t0);
        last_snap = ii.seq;
        snprintf(path, sizeof path, "cd '%s' && tar --listed-incremental='%s/snar' -cf - . "
                 "| zstd -1 -T1 -q -f -o '%s/incr%d.tar.zst'", t.host, work, work, r);
        cfs_fig_add(&tinc, cfs_timed_sh(path));
        snprintf(path, sizeof path, "cd '%s' && git add -A && git commit -q -m r%d", t.host, r);
        cfs_fig_add(&gitc, cfs_timed_sh(path));
        if (o->verbose)
            cfs_bench_progress("  rep %d: incr %.2f ms (%u new chunks), tar %.1f ms, git %.1f ms\n",
                               r, incr.v[r] * 1e3, ii.new_chunks, tinc.v[r] * 1e3,
                               gitc.v[r] * 1e3);
    }
    cfs_fig_time(&incr);
    cfs_fig_time(&tinc);
    cfs_fig_time(&gitc);

    /* ---- the pause: a snapshot taken in the background holds the writer
     * only while it copies the metadata ---- */
    cfs_fig pause = {0}, bg = {0};
    for (int r = 0; r < o->reps; r++) {
        cfs_tree_change(&t, 100 + r);
        double t0 = cfs_bench_now();
        cfs_jcheck(j, "snapshot begin", cfs_journal_snapshot_begin(j, t.fs, "bg", "explicit", 0));
        double t1 = cfs_bench_now();
        cfs_jcheck(j, "snapshot wait", cfs_journal_snapshot_wait(j, NULL));
        cfs_fig_add(&pause, t1 - t0);
        cfs_fig_add(&bg, cfs_bench_now() - t0);
    }
    cfs_fig_time(&pause);
    cfs_fig_time(&bg);
    cfs_fs_set_sink(t.fs, NULL);
    cfs_jcheck(j, "commit", cfs_journal_sync(j));

    /* ---- open at a seq ---- */
    cfs_fig openat = {0};
    for (int r = 0; r < o->reps; r++) {
        cfs_fs *fs;
        double t0 = cfs_bench_now();
        cfs_jcheck(j, "open at", cfs_journal_open_at(j, mid_seq, NULL, &fs));
        cfs_fig_add(&openat, cfs_bench_now() - t0);
        cfs_fs_free(fs);
    }
    cfs_fig_time(&openat);

    /* ---- restore to a host dir vs zstd -d | tar -x, both into fresh
     * dirs on tmpfs: on this VM's ext4, creating inodes right after a mass
     * delete (an earlier run's cleanup) is slow for seconds, and which side
     * it taxes is luck; tmpfs measures the two programs, not that ---- */
    char shm[64] = "/dev/shm/chronofs-restore-XXXXXX";
    if (!mkdtemp(shm))
        cfs_bench_die("mkdtemp %s: %s", shm, strerror(errno));
    cfs_fig restore = {0}, untar = {0};
    for (int r = 0; r < o->reps; r++) {
        snprintf(path, sizeof path, "%s/restore%d", shm, r);
        char err[512];
        cfs_restore_report rr;
        double t0 = cfs_bench_now();
        if (cfs_replay_restore(j, last_snap, path, NULL, &rr, err, sizeof err))
            cfs_bench_die("restore: %s", err);
        cfs_fig_add(&restore, cfs_bench_now() - t0);
        snprintf(path, sizeof path, "mkdir '%s/untar%d' && zstd -d -q -c '%s/tree.tar.zst' "
                 "| tar -xf - -C '%s/untar%d'", shm, r, work, shm, r);
        cfs_fig_add(&untar, cfs_timed_sh(path));
        snprintf(path, sizeof path, "%s/restore%d", shm, r);
        cfs_bench_rmtree(path);
        snprintf(path, sizeof path, "%s/untar%d", shm, r);
        cfs_bench_rmtree(path);
        if (o->verbose)
            cfs_bench_progress("  rep %d: restore %.1f ms (%" PRIu64 " files), tar -x %.1f ms\n",
                               r, restore.v[r] * 1e3, rr.files, untar.v[r] * 1e3);
    }
    cfs_fig_time(&restore);
    cfs_fig_time(&untar);
    rmdir(shm);

    /* ---- replay of a metadata-heavy journal ---- */
    cfs_bench_progress("snapshot: replay journal of %zu metadata events ...\n", sz.meta_events);
    cfs_bench_stream ms;
    cfs_bench_stream_meta(&ms, sz.meta_events, 64);
    snprintf(path, sizeof path, "%s/meta", work);
    cfs_journal *mj = cfs_journal_fresh(path);
    for (size_t i = 0; i < ms.count; i++)
        cfs_jcheck(mj, "append", cfs_journal_append(mj, &ms.ev[i]));
    cfs_jcheck(mj, "commit", cfs_journal_sync(mj));
    cfs_fig replay = {0};
    for (int r = 0; r < o->reps; r++) {
        cfs_fs *fs = cfs_fs_new(NULL);
        double t0 = cfs_bench_now();
        cfs_jcheck(mj, "replay", cfs_journal_replay(mj, fs, 0));
        cfs_fig_add(&replay, cfs_bench_rate((double)ms.count, cfs_bench_now() - t0));
        cfs_fs_free(fs);
    }
    double replay_best, replay_median;
    cfs_bench_best_median(replay.v, replay.n, &replay_best, &replay_median);
    cfs_journal_close(mj);
    cfs_bench_stream_free(&ms);

    printf("snapshot suite: %zu files, %.1f MB; median of %d (best)\n", t.n,
           (double)t.bytes / 1e6, o->reps);
    cfs_print_row("full snapshot", &full, "tar | zstd -1", &tarz);
    cfs_print_row("incremental (1% changed)", &incr, "tar --listed-incr", &tinc);
    cfs_print_row("", &incr, "git add + commit", &gitc);
    cfs_print_row("background snapshot", &bg, NULL, NULL);
    cfs_print_row("  of which writer paused", &pause, NULL, NULL);
    cfs_print_row("restore to a host dir", &restore, "zstd -d | tar -x", &untar);
    cfs_print_row("open at a seq", &openat, NULL, NULL);
    printf("%-26s %9.0f events/s (best %.0f)\n", "replay (metadata)", replay_median,
           replay_best);
    printf("%-26s %9.1f MB   tar.zst %.1f MB   %.2fx\n", "snapshot size",
           (double)snapshot_bytes / 1e6, (double)tar_zst_bytes / 1e6,
           (double)snapshot_bytes / (double)tar_zst_bytes);
    if (o->json)
        printf("{\"full_snapshot_s\": %.6f, \"tar_zstd_s\": %.6f, \"incr_snapshot_s\": %.6f, "
               "\"tar_incr_s\": %.6f, \"git_incr_s\": %.6f, \"restore_dir_s\": %.6f, "
               "\"tar_x_s\": %.6f, \"open_at_seq_s\": %.6f, "
               "\"snapshot_bytes\": %" PRIu64 ", \"tar_zst_bytes\": %" PRIu64 ", "
               "\"replay_events_per_s\": %.0f, \"snapshot_pause_s\": %.6f, "
               "\"tree_bytes\": %" PRIu64 "}\n",
               full.median, tarz.median, incr.median, tinc.median, gitc.median,
               restore.median, untar.median, openat.median, snapshot_bytes, tar_zst_bytes, replay_median,
               pause.median, t.bytes);
    cfs_journal_close(j);
    cfs_fs_free(t.fs);
    free(t.f);
    cfs_bench_tmpdir_remove();
    return 0;
}
