/*
 * test_run.c — `chronofs run` end to end (issue 6, "Tests"): a long-running
 * writer guest (guests/writer.c) is snapshotted mid-run, by SIGUSR1 and by
 * the interval trigger; its journal is shipped with `chronofs send |
 * chronofs receive` to another directory ("another host"); the writer is
 * started again there from the snapshot (`--journal-readonly J2 --at SEQ
 * --journal J3`). Its output (what the first run printed up to the
 * snapshot, read from the journal's stdout events, then what the resumed
 * run prints) and its final tree (`chronofs restore` of J3, compared with
 * `diff -r`) must be those of a run that was never interrupted. Every
 * journal involved passes `chronofs verify`.
 *
 * A snapshot holds the guest's filesystem, not its memory: resuming is
 * starting the program again on the snapshot's tree, and the writer is
 * written to carry on from what it finds (see writer.c). The one place a
 * snapshot cannot be resumed exactly is between a step's line and its
 * record; the tests check where theirs fell (the sigusr1 test runs again,
 * up to 3 times, if it fell there; the interval test picks a snapshot
 * between steps).
 *
 * The binary (CHRONOFS_BIN), the writer's module (CFS_WRITER_WASM) and the
 * cache holding its native build (CFS_WASI_CACHE, filled at build time by
 * cfs_add_wasi_guest) come from the build, so no test compiles a guest.
 */
#define _GNU_SOURCE /* asprintf */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfs_journal.h"
#include "cfs_test_util.h"
#include "cli_run.h"

#ifndef CHRONOFS_BIN
#error "CHRONOFS_BIN must name the chronofs binary"
#endif
#ifndef CFS_WRITER_WASM
#error "CFS_WRITER_WASM must name the writer guest's module"
#endif
#ifndef CFS_SPIN_WASM
#error "CFS_SPIN_WASM must name the spinning guest's module"
#endif
#ifndef CFS_WASI_CACHE
#error "CFS_WASI_CACHE must name the cache holding the guest's native build"
#endif

/* 40 steps, 25 ms apart: about a second per run. */
#define STEPS "40"
#define SLEEP_MS "25"
#define NSTEPS 40

/* ---- running the binary: cli_run.h ----------------------------------------- */

/* Exit 0 (stderr is shown if not: the guest's diagnostics land there). */
#define OK(r, ...)                                                                  \
    do {                                                                            \
        RUN((r), __VA_ARGS__);                                                      \
        cr_assert_eq((r)->status, 0, "exit %d, stderr: %s", (r)->status, (r)->err); \
    } while (0)

static int count_lines(const char *s, size_t n)
{
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += s[i] == '\n';
    return lines;
}

/* ---- the test's directory ------------------------------------------------- */

static char *work;

static void setup(void)
{
    work = cfs_test_tmpdir("chronofs-run");
}

static void teardown(void)
{
    cfs_test_rmtree(work);
    free(work);
}

TestSuite(run, .init = setup, .fini = teardown, .timeout = 300);

static char *wpath(const char *name)
{
    char *p;
    cr_assert(asprintf(&p, "%s/%s", work, name) > 0);
    return p;
}

static void mkdir_ok(const char *path)
{
    cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s: %s", path, strerror(errno));
}

/* ---- journals --------------------------------------------------------------- */

/* What the journal says the guest did up to a seq. */
struct upto {
    uint64_t seq;
    char *out;        /* the bytes written to stdout, in order */
    size_t len, cap;
    int lines;        /* stdout writes (the writer prints a line in one) */
    int records;      /* writes to files (a record each, mid-run) */
};

static int upto_event(void *ctx, const cfs_event *ev)
{
    struct upto *u = ctx;
    if (ev->op != CFS_OP_WRITE)
        return 0;
    if (ev->ino == CFS_INO_STDOUT) {
        if (u->len + ev->length + 1 > u->cap) {
            u->cap = 2 * (u->len + ev->length + 1);
            u->out = realloc(u->out, u->cap);
            cr_assert(u->out);
        }
        memcpy(u->out + u->len, ev->data, ev->length);
        u->len += ev->length;
        u->out[u->len] = 0;
        u->lines++;
    } else if (ev->ino != CFS_INO_STDERR) {
        u->records++;
    }
    return 0;
}

static void journal_upto(const char *dir, uint64_t seq, struct upto *u)
{
    memset(u, 0, sizeof *u);
    u->seq = seq;
    u->out = calloc(1, 1);
    u->cap = 1;
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.read_only = 1;
    cfs_journal *j;
    char err[256] = "";
    int rc = cfs_journal_open(dir, &o, &j, err, sizeof err);
    cr_assert_eq(rc, 0, "open %s: %s %s", dir, cfs_strerror(rc), err);
    rc = cfs_journal_foreach(j, 1, seq, upto_event, u);
    cr_assert_eq(rc, 0, "%s: walking events to %llu: %s", dir, (unsigned long long)seq,
                 cfs_journal_errmsg(j));
    cfs_journal_close(j);
}

static void upto_free(struct upto *u)
{
    free(u->out);
    u->out = NULL;
}

static void verify_ok(const char *j)
{
    struct run r;
    RUN(&r, "verify", j);
    cr_assert_eq(r.status, 0, "verify %s: exit %d: %s%s", j, r.status, r.out, r.err);
    run_free(&r);
}

/* `chronofs send J | chronofs receive J2`, through a pipe as a user would
 * (bash's pipefail: either side failing fails it). */
static void ship(const char *j, const char *j2)
{
    char *cmd;
    cr_assert(asprintf(&cmd, "set -o pipefail; '%s' send '%s' | '%s' receive '%s' "
                       ">/dev/null", CHRONOFS_BIN, j, CHRONOFS_BIN, j2) > 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        execl("/bin/bash", "bash", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: wait status %d", cmd, st);
    free(cmd);
}

/* The tree of journal j at its head, restored to host dir `out`. */
static void restore_ok(const char *j, const char *out)
{
    struct run r;
    OK(&r, "restore", j, out);
    run_free(&r);
}

static void diff_trees(const char *a, const char *b)
{
    char *cmd;
    cr_assert(asprintf(&cmd, "diff -r --no-dereference '%s' '%s' >&2", a, b) > 0);
    cr_assert_eq(system(cmd), 0, "the trees %s and %s differ (diff above)", a, b);
    free(cmd);
}

/* The seqs of J's snapshots taken by `trigger`, oldest first. */
static int snapshots_by(const char *j, const char *trigger, uint64_t *seqs, int cap)
{
    struct run r;
    OK(&r, "snapshots", j, "--json");
    char want[64];
    snprintf(want, sizeof want, "\"trigger\":\"%s\"", trigger);
    int n = 0;
    for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
        const char *seq = strstr(line, "\"seq\":");
        cr_assert(seq, "no seq in: %s", line);
        if (strstr(line, want) && n < cap)
            seqs[n++] = strtoull(seq + 6, NULL, 10);
    }
    run_free(&r);
    return n;
}

/* ---- the writer -------------------------------------------------------------- */

/* An uninterrupted run into journal `name`: its stdout, its tree restored
 * to host dir `name`.tree. */
static char *reference(const char *name, char **tree)
{
    char *j = wpath(name);
    struct run r;
    OK(&r, "run", "--journal", j, "--cache", CFS_WASI_CACHE, CFS_WRITER_WASM, STEPS,
       SLEEP_MS);
    cr_assert_eq(count_lines(r.out, r.out_len), NSTEPS + 1, "the writer printed:\n%s",
                 r.out);
    cr_assert(strstr(r.out, "done: " STEPS " steps\n"), "stdout: %s", r.out);
    cr_assert(asprintf(tree, "%s.tree", j) > 0);
    restore_ok(j, *tree);
    verify_ok(j);
    free(r.err);
    free(j);
    return r.out;
}

/*
 * The second host: receive J into <dir>/j2, resume the writer from J2's
 * snapshot at seq with a new journal <dir>/j3, and check that output and
 * tree are the reference's. `before` is what the first run printed up to
 * the snapshot (from its journal).
 */
static void resume_elsewhere(const char *j, uint64_t seq, const struct upto *before,
                             const char *dir, const char *ref_out, const char *ref_tree)
{
    char *j2, *j3, *tree, *at;
    cr_assert(asprintf(&j2, "%s/j2", dir) > 0 && asprintf(&j3, "%s/j3", dir) > 0 &&
              asprintf(&tree, "%s/j3.tree", dir) > 0 &&
              asprintf(&at, "%llu", (unsigned long long)seq) > 0);
    mkdir_ok(dir);
    ship(j, j2);
    verify_ok(j2);

    struct run r;
    OK(&r, "run", "--journal-readonly", j2, "--at", at, "--journal", j3, "--cache",
       CFS_WASI_CACHE, CFS_WRITER_WASM, STEPS, SLEEP_MS);
    /* It carried on from the snapshot's step, not from the start. */
    char first[32];
    snprintf(first, sizeof first, "step %d: ", before->lines);
    cr_assert(!strncmp(r.out, first, strlen(first)),
              "the resumed run should start at step %d; it printed:\n%s", before->lines,
              r.out);
    char *whole;
    cr_assert(asprintf(&whole, "%s%s", before->out, r.out) > 0);
    cr_assert_str_eq(whole, ref_out, "output up to seq %llu + the resumed run's differs "
                     "from the uninterrupted run's", (unsigned long long)seq);
    verify_ok(j3);
    restore_ok(j3, tree);
    diff_trees(ref_tree, tree);

    /* J3 holds the whole state on its own: J2 could go. */
    cfs_test_rmtree(j2);
    verify_ok(j3);

    free(whole);
    run_free(&r);
    free(j2);
    free(j3);
    free(tree);
    free(at);
}

/* ---- the tests ---------------------------------------------------------------- */

/*
 * Start the writer with --snapshot-on sigusr1 --stop-after-snapshot, send
 * the chronofs process SIGUSR1 once it has printed 8 of its 40 steps, and
 * collect what it prints until it stops. Returns the exit status.
 */
/* Start chronofs with args in the background, stdin /dev/null, its stdout
 * into a pipe whose read end is pfd[0] (pfd[1] is closed here). */
static pid_t spawn_piped(const char *const *args, int pfd[2])
{
    cr_assert_eq(pipe(pfd), 0);
    char *argv[64];
    build_argv(argv, args);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        if (in < 0)
            _exit(126);
        dup2(in, 0);
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    return pid;
}

static int run_until_sigusr1(const char *j, char **out, size_t *out_len)
{
    int pfd[2];
    pid_t pid = spawn_piped((const char *const[]){"run", "--journal", j, "--snapshot-on",
                                                  "sigusr1", "--stop-after-snapshot", "--cache",
                                                  CFS_WASI_CACHE, CFS_WRITER_WASM, STEPS,
                                                  SLEEP_MS, NULL},
                            pfd);
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    int signalled = 0;
    for (;;) {
        if (n + 1 >= cap)
            cr_assert(b = realloc(b, cap *= 2));
        ssize_t r = read(pfd[0], b + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (!signalled && count_lines(b, n) >= 8) {
            cr_assert_eq(kill(pid, SIGUSR1), 0);
            signalled = 1;
        }
    }
    close(pfd[0]);
    b[n] = 0;
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(signalled, "the writer ended before printing 8 lines:\n%s", b);
    *out = b;
    *out_len = n;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Test(run, sigusr1_snapshot_resumed_on_another_host_is_an_uninterrupted_run)
{
    char *ref_tree, *ref_out = reference("ref", &ref_tree);

    for (int attempt = 0;; attempt++) {
        cr_assert_lt(attempt, 3, "three runs in a row were snapshotted between a "
                     "step's line and its record");
        char *j, *host2;
        cr_assert(asprintf(&j, "%s/a%d.j", work, attempt) > 0 &&
                  asprintf(&host2, "%s/host2-%d", work, attempt) > 0);
        char *out;
        size_t out_len;
        int status = run_until_sigusr1(j, &out, &out_len);
        cr_assert_eq(status, 0, "chronofs run stopped after its snapshot with exit %d",
                     status);
        verify_ok(j);

        uint64_t seqs[8];
        int n = snapshots_by(j, "sigusr1", seqs, 8);
        cr_assert_eq(n, 1, "want one sigusr1 snapshot in %s, found %d", j, n);
        struct upto u;
        journal_upto(j, seqs[0], &u);
        /* Stopped mid-run: some steps, not all, were printed before the
         * snapshot. The snapshot holds the state before the event whose
         * append took it, and stdout reaches the host before its event is
         * journaled, so the stopped run may have printed one line more
         * than the snapshot holds: what it printed is what its journal
         * holds to its end, and the snapshot's output a prefix of that. */
        cr_assert(u.lines > 0 && u.lines < NSTEPS, "snapshot at seq %llu after %d of %d "
                  "steps", (unsigned long long)seqs[0], u.lines, NSTEPS);
        struct upto all;
        journal_upto(j, 0, &all);
        cr_assert_str_eq(out, all.out, "the stopped run printed other bytes than its "
                         "journal holds");
        cr_assert(!strncmp(out, u.out, u.len), "the output up to the snapshot (seq %llu) "
                  "is not a prefix of what the run printed", (unsigned long long)seqs[0]);
        cr_assert(!strncmp(ref_out, out, out_len), "the interrupted run's output is not "
                  "a prefix of the uninterrupted one's:\n%s", out);
        upto_free(&all);
        free(out);

        if (u.records != u.lines) {
            /* Between a line and its record: see writer.c. Rare (the
             * writer sleeps between steps); run again. */
            /* not cr_log_warn: Criterion exits 1 after any warning */
            fprintf(stderr, "note: snapshot at seq %llu fell inside step %d; running again\n",
                    (unsigned long long)seqs[0], u.lines - 1);
            upto_free(&u);
            free(j);
            free(host2);
            continue;
        }
        resume_elsewhere(j, seqs[0], &u, host2, ref_out, ref_tree);
        upto_free(&u);
        free(j);
        free(host2);
        break;
    }
    free(ref_out);
    free(ref_tree);
}

Test(run, interval_snapshot_resumed_on_another_host_is_an_uninterrupted_run)
{
    char *ref_tree, *ref_out = reference("ref", &ref_tree);

    /* The whole run, snapshotted every 200 ms along the way. */
    char *j = wpath("b.j");
    struct run r;
    OK(&r, "run", "--journal", j, "--snapshot-on", "interval", "--snapshot-interval",
       "200ms", "--cache", CFS_WASI_CACHE, CFS_WRITER_WASM, STEPS, SLEEP_MS);
    cr_assert_str_eq(r.out, ref_out, "snapshots changed what the guest printed");
    run_free(&r);
    verify_ok(j);
    char *tree = wpath("b.tree");
    restore_ok(j, tree);
    diff_trees(ref_tree, tree);

    /* A snapshot mid-run, between steps: the middle one of those. */
    uint64_t seqs[64], mid[64];
    int n = snapshots_by(j, "interval", seqs, 64), m = 0;
    for (int i = 0; i < n; i++) {
        struct upto u;
        journal_upto(j, seqs[i], &u);
        if (u.lines > 0 && u.lines < NSTEPS && u.records == u.lines)
            mid[m++] = seqs[i];
        upto_free(&u);
    }
    cr_assert_geq(m, 1, "no interval snapshot between two steps mid-run (%d interval "
                  "snapshots in a run of about 1 s)", n);
    uint64_t seq = mid[m / 2];
    struct upto u;
    journal_upto(j, seq, &u);

    char *host2 = wpath("host2");
    resume_elsewhere(j, seq, &u, host2, ref_out, ref_tree);

    upto_free(&u);
    free(host2);
    free(tree);
    free(j);
    free(ref_out);
    free(ref_tree);
}

/* A guest that writes, then computes without another WASI call, still has
 * its write committed (batches by age) and a SIGUSR1 snapshot taken: the
 * runner's ticker takes the host's call lock between calls. Killed with
 * SIGKILL afterwards, nothing it did before going quiet is lost. */
Test(run, a_quiet_guest_has_its_writes_committed_and_can_be_snapshotted)
{
    char *j = wpath("quiet.j");
    int pfd[2];
    pid_t pid = spawn_piped((const char *const[]){"run", "--journal", j, "--snapshot-on",
                                                  "sigusr1", "--cache", CFS_WASI_CACHE,
                                                  CFS_SPIN_WASM, NULL},
                            pfd);
    char line[64] = "";
    size_t n = 0;
    while (n < sizeof line - 1 && !strchr(line, '\n')) {
        ssize_t r = read(pfd[0], line + n, sizeof line - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        line[n] = 0;
    }
    cr_assert_str_eq(line, "written\n");
    struct timespec quiet = {0, 300000000L}; /* the ticker runs every 25 ms */
    nanosleep(&quiet, NULL);
    cr_assert_eq(kill(pid, SIGUSR1), 0);
    nanosleep(&quiet, NULL);
    int st;
    cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "the guest is still computing");
    cr_assert_eq(kill(pid, SIGKILL), 0);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    close(pfd[0]);

    struct run r;
    RUN(&r, "cat", j, "/data.txt");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "written before the guest went quiet\n");
    run_free(&r);
    uint64_t seqs[4];
    cr_assert_eq(snapshots_by(j, "sigusr1", seqs, 4), 1,
                 "a SIGUSR1 while the guest computes takes a snapshot");
    verify_ok(j);
    free(j);
}

/* A file that is not a module is refused in one line naming it. */
Test(run, a_file_that_is_not_a_module_is_named_in_the_error)
{
    char *junk = wpath("junk.wasm");
    FILE *f = fopen(junk, "w");
    cr_assert_not_null(f);
    fputs("#!/bin/sh\necho hi\n", f);
    fclose(f);
    struct run r;
    RUN(&r, "run", junk);
    cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.err, junk) && strstr(r.err, "not a WebAssembly module"), "%s", r.err);
    cr_assert_eq(count_lines(r.err, strlen(r.err)), 1, "%s", r.err);
    run_free(&r);
    free(junk);
}

/* A reader of the guest's output that goes away (`| head`): the guest's
 * writes get EPIPE, and what it did before is committed (SIGPIPE killed
 * the run and its uncommitted batch); a run started with stdio closed
 * does not hand those numbers to the journal's lock files. */
Test(run, a_closed_pipe_or_closed_stdio_loses_nothing)
{
    char *j = wpath("pipe.j");
    int pfd[2];
    pid_t pid = spawn_piped((const char *const[]){"run", "--journal", j, "--cache",
                                                  CFS_WASI_CACHE, CFS_WRITER_WASM, "200",
                                                  "5", NULL},
                            pfd);
    char c;
    cr_assert_eq(read(pfd[0], &c, 1), 1, "the first line");
    close(pfd[0]);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(!WIFSIGNALED(st), "the run died of signal %d", WTERMSIG(st));
    struct run r;
    RUN(&r, "cat", j, "/out/f0.txt");
    cr_assert_eq(r.status, 0, "step 0's record is in the journal: %s", r.err);
    run_free(&r);
    verify_ok(j);

    char *j2 = wpath("closed.j");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' run --journal '%s' --cache '%s' '%s' 3 1 >&- <&-",
             CHRONOFS_BIN, j2, CFS_WASI_CACHE, CFS_WRITER_WASM);
    cr_assert_eq(cfs_test_sh("%s", cmd), 0);
    cr_assert_eq(cfs_test_sh("! grep -q 'step' '%s/lock.mdb' '%s/writer.lock'", j2, j2), 0,
                 "the guest's output went into the journal's lock files");
    verify_ok(j2);
    free(j);
    free(j2);
}

/* A run whose setup fails halfway (a mapped directory that does not fit
 * the --memory-limit) changes nothing in the journal: a rerun maps the
 * directory afresh instead of finding half of it there and going on. A
 * FIFO in a mapped directory is mapped as one (as import records it). */
Test(run, a_run_that_fails_to_map_a_directory_changes_nothing)
{
    char *j = wpath("map.j"), *host = wpath("host"), *f1 = wpath("host/f1"),
         *big = wpath("host/z_big"), *fifo = wpath("host/pipe");
    mkdir_ok(host);
    FILE *f = fopen(f1, "w");
    cr_assert_not_null(f);
    fputs("one\n", f);
    fclose(f);
    f = fopen(big, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 3 << 20; i++)
        fputc('a' + i % 26, f);
    fclose(f);
    cr_assert_eq(mkfifo(fifo, 0640), 0);
    char map[4200];
    snprintf(map, sizeof map, "/data:%s", host);
    struct run r;
    RUN(&r, "run", "--journal", j, "--mapdir", map, "--memory-limit", "2M", "--cache",
        CFS_WASI_CACHE, CFS_WRITER_WASM, "1", "1");
    cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.err, "unchanged"), "%s", r.err);
    run_free(&r);
    RUN(&r, "ls", j, "/");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_empty(r.out, "the journal holds: %s", r.out);
    run_free(&r);
    OK(&r, "run", "--journal", j, "--mapdir", map, "--cache", CFS_WASI_CACHE,
       CFS_WRITER_WASM, "1", "1");
    run_free(&r);
    RUN(&r, "cat", j, "/data/f1");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "one\n");
    run_free(&r);
    RUN(&r, "ls", j, "/data/pipe");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(r.out[0] == 'p', "the FIFO: %s", r.out);
    run_free(&r);
    /* a base for a journal with history would be ignored: refused */
    RUN(&r, "run", "--journal-readonly", j, "--journal", j, "--cache", CFS_WASI_CACHE,
        CFS_WRITER_WASM, "1", "1");
    cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.err, "would be ignored"), "%s", r.err);
    run_free(&r);
    free(j);
    free(host);
    free(f1);
    free(big);
    free(fifo);
}
