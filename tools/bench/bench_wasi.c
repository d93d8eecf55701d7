/*
 * bench_wasi.c — chronofs-bench's `wasi` suite (issue 6, "Benchmark"): one
 * C program, wasi_workload.c, run as a WASI guest by `chronofs run` and, in
 * the same run, compiled natively and run on tmpfs.
 *
 * The workload (see wasi_workload.c): create, write, read back and delete
 * 10,000 small text files (256 B - 2 KiB, 100 to a directory), then write
 * a 256 MiB file in 1 MiB writes and read it back, checked. It prints a
 * checksum of everything it read; the bench fails unless every run, on
 * either side, printed the same one.
 *
 * The sides:
 *
 *   chronofs  `chronofs run --journal J --durability batch --cwd /
 *             --cache C wasi_workload.wasm . FILES MIB`, J a fresh journal
 *             under the work dir in /tmp (a real disk), removed after the
 *             run (not timed). The guest's native build (wasm2c + cc) is
 *             cached in C by a first, untimed run, so no timed run
 *             compiles anything: that one-off cost is shown apart.
 *   native    the same source built by the host's compiler (CMake target
 *             chronofs-bench-wasi-native), run with its working directory
 *             a fresh dir in /dev/shm, removed after the run.
 *
 * Both are timed as a user sees them: from fork to the exit of the process
 * (for chronofs that includes loading the guest, preparing the journal and
 * committing its last batch at exit). The workload also reports its own
 * phases (small files, stream write, stream read) on stderr; the table
 * shows their medians too.
 *
 * Repetitions alternate the sides (chronofs, native, native, chronofs,
 * ...: the order flips every rep), each figure is the median. Target:
 * chronofs within 2x of native.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#ifndef CFS_BENCH_WASI_WASM
#error "CFS_BENCH_WASI_WASM must name the workload's .wasm (tools/CMakeLists.txt)"
#endif
#ifndef CFS_BENCH_WASI_NATIVE
#error "CFS_BENCH_WASI_NATIVE must name the workload's native build"
#endif

enum { S_CHRONOFS, S_NATIVE, S_COUNT };
static const char *const cfs_side_name[S_COUNT] = {"chronofs", "native"};
enum { P_SMALL, P_WRITE, P_READ, P_COUNT };
static const char *const cfs_phase_name[P_COUNT] = {"small", "write", "read"};

#define CFS_PATH 512

static char cfs_work[256];    /* the bench's work dir under /tmp */
static char cfs_shm[64];      /* /dev/shm/chronofs-bench-wasi-XXXXXX */

static void cfs_wasi_cleanup(void)
{
    if (cfs_shm[0]) {
        cfs_bench_rmtree(cfs_shm);
        cfs_shm[0] = '\0';
    }
}

static char *cfs_chronofs_bin; static char *cfs_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        cfs_bench_die("%s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    size_t got;
    while (b && (got = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap)
            b = realloc(b, cap *= 2);
    }
    fclose(f);
    if (!b)
        cfs_bench_die("out of memory");
    b[n] = '\0';
    return b;
}

/* One run's outcome. */
typedef struct cfs_wasi_run {
    double secs;            /* fork to exit */
    double phase[P_COUNT];  /* as the workload measured them */
    char checksum[64];      /* the workload's stdout line */
} cfs_wasi_run;

/*
 * Run argv with its working directory cwd, stdout and stderr to files in
 * the work dir; die with its stderr unless it exits 0 and prints its
 * checksum line and phases.
 */
static void cfs_run_timed(char *const argv[], const char *cwd, cfs_wasi_run *out)
{
    char opath[CFS_PATH], epath[CFS_PATH];
    snprintf(opath, sizeof opath, "%s/run.out", cfs_work);
    snprintf(epath, sizeof epath, "%s/run.err", cfs_work);
    fflush(NULL);
    double t0 = cfs_bench_now();
    pid_t pid = fork();
    if (pid < 0)
        cfs_bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        int o = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || in < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 ||
            dup2(e, 2) < 0 || chdir(cwd))
            _exit(126);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            cfs_bench_die("waitpid: %s", strerror(errno));
    out->secs = cfs_bench_now() - t0;

    char *o = cfs_slurp(opath), *e = cfs_slurp(epath);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "chronofs-bench: %s exited with wait status %d; its stderr:\n%s",
                argv[0], st, e);
        free(o);
        free(e);
        cfs_bench_die("the %s run failed", argv[0]);
    }
    const char *c = strstr(o, "checksum ");
    size_t n = c ? strcspn(c, "\n") : 0;
    if (!c || n >= sizeof out->checksum)
        cfs_bench_die("%s printed no checksum line; stdout: %s", argv[0], o);
    memcpy(out->checksum, c, n);
    out->checksum[n] = '\0';
    for (int p = 0; p < P_COUNT; p++) {
        char key[32];
        snprintf(key, sizeof key, "phase %s ", cfs_phase_name[p]);
        const char *at = strstr(e, key);
        if (!at)
            cfs_bench_die("%s printed no `%s` line; stderr: %s", argv[0], key, e);
        out->phase[p] = strtod(at + strlen(key), NULL);
    }
    free(o);
    free(e);
}

static void cfs_run_chronofs(const char *journal, const char *cache, const char *files,
                             const char *mib, cfs_wasi_run *out)
{
    char *argv[] = {cfs_chronofs_bin, (char *)"run", (char *)"--journal", (char *)journal,
                    (char *)"--durability", (char *)"batch", (char *)"--cwd", (char *)"/",
                    (char *)"--cache", (char *)cache, (char *)CFS_BENCH_WASI_WASM,
                    (char *)".", (char *)files, (char *)mib, NULL};
    cfs_run_timed(argv, cfs_work, out);
}

static uint64_t cfs_du_bytes;
static int cfs_du_entry(const char *path, const struct stat *sb, int type,
                        struct FTW *ftw)
{
    (void)path, (void)type, (void)ftw;
    cfs_du_bytes += (uint64_t)sb->st_blocks * 512;
    return 0;
}

/* Disk space a tree takes (as du). */
static uint64_t cfs_du(const char *path)
{
    cfs_du_bytes = 0;
    nftw(path, cfs_du_entry, 16, FTW_PHYS);
    return cfs_du_bytes;
}

int cfs_bench_suite_wasi(const cfs_bench_opts *o)
{
    int files = o->quick ? 500 : 10000;
    int mib = o->quick ? 16 : 256;
    char files_s[16], mib_s[16];
    snprintf(files_s, sizeof files_s, "%d", files);
    snprintf(mib_s, sizeof mib_s, "%d", mib);
    cfs_chronofs_bin = cfs_bench_chronofs();
    if (access(CFS_BENCH_WASI_WASM, R_OK) || access(CFS_BENCH_WASI_NATIVE, X_OK))
        cfs_bench_die("the workload's builds are missing (%s, %s): build the "
                      "chronofs-bench target", CFS_BENCH_WASI_WASM, CFS_BENCH_WASI_NATIVE);

    snprintf(cfs_work, sizeof cfs_work, "%s", cfs_bench_tmpdir_make("/tmp"));
    cfs_bench_set_cleanup(cfs_wasi_cleanup);
    atexit(cfs_wasi_cleanup);
    cfs_bench_die_on_signals();
    snprintf(cfs_shm, sizeof cfs_shm, "/dev/shm/chronofs-bench-wasi-XXXXXX");
    if (!mkdtemp(cfs_shm)) {
        cfs_shm[0] = '\0';
        cfs_bench_die("mkdtemp in /dev/shm: %s", strerror(errno));
    }

    /* The untimed first run: builds the guest's native object into the
     * cache (the same work `chronofs run` does for any new module). */
    char cache[CFS_PATH], journal[CFS_PATH];
    snprintf(cache, sizeof cache, "%s/cache", cfs_work);
    snprintf(journal, sizeof journal, "%s/warmup.j", cfs_work);
    cfs_bench_progress("wasi: first run (builds the guest into the cache; untimed) ...\n");
    cfs_wasi_run warm;
    cfs_run_chronofs(journal, cache, "10", "1", &warm);
    cfs_bench_rmtree(journal);

    cfs_wasi_run runs[S_COUNT][CFS_BENCH_MAX_REPS];
    char first[64] = ""; /* the first timed run's checksum line */
    uint64_t journal_bytes = 0;
    cfs_bench_progress("wasi: %d files, %d MiB stream, %d reps ...\n", files, mib, o->reps);
    for (int r = 0; r < o->reps; r++) {
        for (int i = 0; i < S_COUNT; i++) {
            int s = (i + r) % S_COUNT;
            cfs_wasi_run *run = &runs[s][r];
            char dir[CFS_PATH];
            if (s == S_CHRONOFS) {
                snprintf(journal, sizeof journal, "%s/j%d", cfs_work, r);
                cfs_run_chronofs(journal, cache, files_s, mib_s, run);
                journal_bytes = cfs_du(journal);
                cfs_bench_rmtree(journal);
            } else {
                snprintf(dir, sizeof dir, "%s/t%d", cfs_shm, r);
                if (mkdir(dir, 0755))
                    cfs_bench_die("mkdir %s: %s", dir, strerror(errno));
                char *argv[] = {(char *)CFS_BENCH_WASI_NATIVE, (char *)".", files_s,
                                mib_s, NULL};
                cfs_run_timed(argv, dir, run);
                cfs_bench_rmtree(dir);
            }
            if (!first[0])
                snprintf(first, sizeof first, "%s", run->checksum);
            else if (strcmp(run->checksum, first))
                cfs_bench_die("the runs read different data: %s rep %d `%s`, the "
                              "first run `%s`", cfs_side_name[s], r, run->checksum, first);
            if (o->verbose)
                cfs_bench_progress("  rep %d %-8s %8.3f s (small %.3f, write %.3f, "
                                   "read %.3f)\n", r, cfs_side_name[s], run->secs,
                                   run->phase[P_SMALL], run->phase[P_WRITE],
                                   run->phase[P_READ]);
        }
    }

    double med[S_COUNT], ph[S_COUNT][P_COUNT], v[CFS_BENCH_MAX_REPS];
    for (int s = 0; s < S_COUNT; s++) {
        for (int r = 0; r < o->reps; r++)
            v[r] = runs[s][r].secs;
        med[s] = cfs_bench_median(v, o->reps);
        for (int p = 0; p < P_COUNT; p++) {
            for (int r = 0; r < o->reps; r++)
                v[r] = runs[s][r].phase[p];
            ph[s][p] = cfs_bench_median(v, o->reps);
        }
    }
    double ratio = cfs_bench_ratio(med[S_CHRONOFS], med[S_NATIVE]);

    printf("wasi suite: median of %d, seconds; %d small files, %d MiB stream in 1 MiB "
           "writes; %s\n", o->reps, files, mib, first);
    printf("chronofs: `chronofs run --durability batch`, journal on %s (disk), guest "
           "built once before timing (%.2f s, untimed); native: the same C on tmpfs\n",
           cfs_work, warm.secs);
    printf("%-26s %9s %9s %9s\n", "", "chronofs", "native", "ratio");
    printf("%-26s %9.3f %9.3f %8.2fx  %s <=2x native\n", "whole run (start to exit)",
           med[S_CHRONOFS], med[S_NATIVE], ratio, ratio <= 2.0 ? "ok" : "MISSED");
    static const char *const label[P_COUNT] = {
        "  small files", "  stream write", "  stream read (checked)"};
    for (int p = 0; p < P_COUNT; p++)
        printf("%-26s %9.3f %9.3f %8.2fx\n", label[p], ph[S_CHRONOFS][p], ph[S_NATIVE][p],
               cfs_bench_ratio(ph[S_CHRONOFS][p], ph[S_NATIVE][p]));
    printf("journal of one run: %.1f MB on disk\n", (double)journal_bytes / 1e6);
    if (o->json) {
        printf("{\"guest_chronofs_s\": %.6f, \"native_tmpfs_s\": %.6f, \"ratio\": %.4f",
               med[S_CHRONOFS], med[S_NATIVE], ratio);
        for (int p = 0; p < P_COUNT; p++)
            printf(", \"guest_chronofs_%s_s\": %.6f, \"native_tmpfs_%s_s\": %.6f",
                   cfs_phase_name[p], ph[S_CHRONOFS][p], cfs_phase_name[p],
                   ph[S_NATIVE][p]);
        printf(", \"guest_build_s\": %.6f, \"journal_bytes\": %" PRIu64
               ", \"files\": %d, \"stream_bytes\": %" PRIu64 "}\n",
               warm.secs, journal_bytes, files, (uint64_t)mib << 20);
    }
    fflush(stdout);

    cfs_wasi_cleanup();
    cfs_bench_set_cleanup(NULL);
    cfs_bench_tmpdir_remove();
    return 0;
}
