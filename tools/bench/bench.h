/*
 * bench.h — internal to tools/bench: what chronofs-bench's suites share.
 *
 * bench_main.c parses the command line and owns the helpers below;
 * bench_engine.c, bench_journal.c, bench_snapshot.c, bench_fuse.c and
 * bench_wasi.c are the suites (bench_events.c builds the journal suite's
 * event streams).
 * Nothing here is a library API.
 */
#ifndef CFS_BENCH_H
#define CFS_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "cfs_engine.h"

#define CFS_BENCH_MAX_REPS 64

/* The command line, shared by every suite. Each suite picks its own sizes
 * from `quick`. */
typedef struct cfs_bench_opts {
    int json;
    int quick;
    int verbose;
    int reps;
    const char *only; /* fuse: comma-separated workloads to run, NULL = all */
    const char *uring; /* fuse: the mount's --io-uring (auto, on, off) */
} cfs_bench_opts;

/* Print "chronofs-bench: ..." to stderr, remove the live work dir, exit 1. */
void cfs_bench_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* A suite's cleanup, which cfs_bench_die() runs (once) before it removes
 * the work dir: the fuse suite unmounts what is mounted inside it. NULL
 * clears it. */
void cfs_bench_set_cleanup(void (*fn)(void));

/* Progress goes to stderr so stdout stays the table and the JSON. */
void cfs_bench_progress(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* CLOCK_MONOTONIC in seconds. */
double cfs_bench_now(void);

/* amount / seconds, finite for the JSON even if a run took no measurable
 * time. */
double cfs_bench_rate(double amount, double seconds);

/* a / b, finite for the JSON even if b is 0 (as cfs_bench_rate). */
double cfs_bench_ratio(double a, double b);

/* The median of n figures (v is left as it is). */
double cfs_bench_median(const double *v, int n);

/* Best (largest) and median of n rates; sorts v in place. */
void cfs_bench_best_median(double *v, int n, double *best, double *median);

/*
 * The suite's work dir: mkdtemp("<parent>/chronofs-bench-XXXXXX"). Only one
 * is live at a time; cfs_bench_die() and cfs_bench_tmpdir_remove() delete
 * it with everything inside. Returns the path (static storage).
 */
const char *cfs_bench_tmpdir_make(const char *parent);
void cfs_bench_tmpdir_remove(void);

/* rm -rf path (no symlinks followed). Missing is fine. */
void cfs_bench_rmtree(const char *path);

/* ---------------------------------------------------------------------- */
/* Event streams for the journal suite (bench_events.c)                     */

typedef struct cfs_bench_arena cfs_bench_arena;

/*
 * Events recorded from a real engine workload by a sink that deep-copies
 * them (the engine's events are valid only during append()). Seqs run
 * 1..count with no gap, so any prefix can be appended to a fresh journal.
 * Strings and write data live in the arena.
 */
typedef struct cfs_bench_stream {
    cfs_event *ev;
    size_t count, cap;
    uint64_t writes;         /* WRITE events */
    uint64_t payload_bytes;  /* their data bytes */
    cfs_bench_arena *arena;
} cfs_bench_stream;

/*
 * Metadata-heavy: files created (open + close), their times and mode set,
 * renamed and unlinked, in rounds of per_dir files in each of 16
 * directories, with a deterministic clock. The recording is cut to exactly
 * n events.
 */
void cfs_bench_stream_meta(cfs_bench_stream *s, size_t n, int per_dir);

/*
 * Bulk writes: files of 16 x write_size bytes of English-like text (a word
 * list drawn from by a seeded PRNG: compressible as real prose is, neither
 * zeros nor noise), each created, written with fd_write, closed and
 * unlinked, until payload_bytes of WRITE data are recorded.
 */
void cfs_bench_stream_bulk(cfs_bench_stream *s, uint64_t payload_bytes,
                           size_t write_size);

void cfs_bench_stream_free(cfs_bench_stream *s);

/* splitmix64: the benches' deterministic PRNG. */
uint64_t cfs_bench_rng_next(uint64_t *state);

/* English-like prose from a seeded PRNG (a word list drawn from with a
 * Zipf-like skew): compressible as real text is, neither zeros nor noise.
 * Start from {.rng = seed}; the text runs on from one call to the next. */
typedef struct cfs_bench_text {
    uint64_t rng;
    int words_left;      /* in the current sentence */
    int sentences_left;  /* in the current paragraph */
    int capital;         /* the next word starts a sentence */
} cfs_bench_text;
void cfs_bench_text_fill(cfs_bench_text *t, char *buf, size_t len);

/* The suites. Return the exit status. */
/* The chronofs binary the fuse and wasi suites run: the one this build
 * made (CFS_BENCH_CHRONOFS, set by tools/CMakeLists.txt), else one next to
 * chronofs-bench; dies naming where it looked if there is none. */
char *cfs_bench_chronofs(void);

/* SIGINT, SIGTERM and SIGHUP end the bench through cfs_bench_die (so its
 * cleanup unmounts and removes what a suite made). */
void cfs_bench_die_on_signals(void);

int cfs_bench_suite_engine(const cfs_bench_opts *o);
int cfs_bench_suite_journal(const cfs_bench_opts *o);
int cfs_bench_suite_snapshot(const cfs_bench_opts *o);
int cfs_bench_suite_fuse(const cfs_bench_opts *o);
int cfs_bench_suite_wasi(const cfs_bench_opts *o);

/* Abort the bench with the engine's message when an engine call fails. */
#define CFS_ECHECK(fs, what, call)                                            \
    do {                                                                      \
        cfs_errno e_ = (call);                                                \
        if (e_)                                                               \
            cfs_bench_die("engine: %s: %s %s", what, cfs_errno_name(e_),      \
                          cfs_fs_errmsg(fs));                                 \
    } while (0)

#define CFS_FILE_RIGHTS (CFS_RIGHT_FD_READ | CFS_RIGHT_FD_WRITE |             \
                         CFS_RIGHT_FD_SEEK | CFS_RIGHT_FD_TELL |              \
                         CFS_RIGHT_FD_FILESTAT_GET)

#endif /* CFS_BENCH_H */
