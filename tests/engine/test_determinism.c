/*
 * test_determinism.c — the event determinism property.
 *
 * A seeded random workload drives a live engine (every call of the API:
 * paths, I/O, the fd table, dup/renumber, fork with work in the children,
 * exec's close-on-exec sweep, close-all, preopens, chdir, times, chmod/chown,
 * allocate, set_size, stdout writes, creds changes) through a recorder sink
 * that deep-copies each event, with an injected counter clock. After every
 * call:
 *   - the seq advanced by exactly the number of events the sink accepted,
 *     and those events carry the seqs in between;
 *   - a call that failed emitted nothing and left the state hash unchanged;
 *   - a call that emitted nothing left the hash unchanged; one that emitted
 *     changed it (the seq is part of the hashed state);
 *   - now and then the sink refuses the next event: the call then fails
 *     with the sink's errno and changes nothing.
 * The live hash after each call is kept with the seq it reached.
 *
 * Then the events are applied one by one with cfs_fs_apply() to a fresh
 * engine: each applies, the seq follows, and at every seq a call ended on
 * the replayed hash equals the live one; at the end both states are equal
 * (hash, and a walk of both trees). Before some events, a corrupted copy is
 * applied first — wrong seq, a different new fd, a different created inode,
 * a name that does not exist, an unknown op or pid, the next event out of
 * order — and must be refused with a non-zero errno, changing nothing
 * (hash and seq unchanged).
 *
 * Knobs: CFS_TEST_SEED=N (one seed), CFS_TEST_OPS=N (calls per seed,
 * default 20000), CFS_TEST_VERBOSE=1 (print every call).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfs_engine.h"
#include "cfs_test_util.h"

#define DEFAULT_OPS 20000
#define MAX_PROCS 4         /* the root process and up to 3 forked ones */
#define BIG_IO 70000
#define HISTORY 16

typedef struct mark {
    uint64_t seq;           /* the seq a call ended at */
    cfs_hash128 hash;       /* the live hash then */
} mark;

typedef struct det {
    uint64_t seed;
    cfs_rng rng;
    cfs_recorder rec;
    cfs_config cfg;
    cfs_time clock;
    cfs_fs *fs;                 /* the root engine (process 1) */
    cfs_fs *procs[MAX_PROCS];   /* procs[0] == fs; NULL = free */
    mark *marks;
    size_t nmarks, capmarks;
    uint64_t op;
    int verbose;
    char cur[512];
    char hist[HISTORY][512];
    uint64_t nhist;
    /* pre-call snapshot */
    cfs_hash128 hash_now;       /* the live hash after the last call */
    int have_hash;
    cfs_hash128 h0;
    uint64_t s0;
    size_t c0;
    int injected;               /* the sink was told to refuse */
    cfs_fdstat root_rights;     /* fd 3 of process 1 as created */
    uint32_t call_pid;          /* process of the call being checked */
    cfs_time last_time;         /* time of the last recorded event */
    unsigned repairs;
    unsigned char *buf;
    /* statistics */
    uint64_t calls_ok, calls_failed, sink_refusals, probes;
} det;

static cfs_time det_clock(void *ctx)
{
    det *d = ctx;
    d->clock += 1000;
    return d->clock;
}

static int hash_eq(cfs_hash128 a, cfs_hash128 b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

static void report(det *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(det *d, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n=== determinism failure: seed %" PRIu64 ", call %" PRIu64
                    " ===\nlast calls:\n", d->seed, d->op);
    uint64_t first = d->nhist >= HISTORY ? d->nhist - HISTORY : 0;
    for (uint64_t i = first; i < d->nhist; i++)
        fprintf(stderr, "  %s\n", d->hist[i % HISTORY]);
    fprintf(stderr, "> %s\n  %s\n", d->cur, what);
    fflush(stderr);
    cr_assert_fail("seed %" PRIu64 " call %" PRIu64 ": %s: %s (rerun with "
                   "CFS_TEST_SEED=%" PRIu64 ")",
                   d->seed, d->op, d->cur, what, d->seed);
}

/* ---------------------------------------------------------------------- */
/* The per-call checks                                                      */

static void pre(det *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pre(det *d, const char *fmt, ...)
{
    int n = snprintf(d->cur, sizeof d->cur, "#%" PRIu64 " ", d->op);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->cur + n, sizeof d->cur - (size_t)n, fmt, ap);
    va_end(ap);
    /* The hash after the previous call is the hash now: nothing but
     * queries ran in between. Check that claim now and then (it is also a
     * check that queries change nothing), and save a hash per call. */
    if (!d->have_hash || d->op % 64 == 0) {
        cfs_hash128 h = cfs_fs_hash(d->fs);
        if (d->have_hash && !hash_eq(h, d->hash_now))
            report(d, "the state hash changed between calls (queries only)");
        d->hash_now = h;
        d->have_hash = 1;
    }
    d->h0 = d->hash_now;
    d->s0 = cfs_fs_seq(d->fs);
    d->c0 = d->rec.count;
    d->injected = 0;
    /* Now and then the sink refuses the call's (first) event. */
    if (cfs_rng_chance(&d->rng, 2)) {
        d->rec.fail_next = cfs_rng_chance(&d->rng, 50) ? CFS_EIO : CFS_ENOSPC;
        d->injected = d->rec.fail_next;
    }
}

static cfs_errno post(det *d, cfs_errno rc)
{
    cfs_hash128 h1 = cfs_fs_hash(d->fs);
    d->hash_now = h1;
    uint64_t s1 = cfs_fs_seq(d->fs);
    size_t events = d->rec.count - d->c0;
    int refused = d->injected && d->rec.fail_next == 0;
    d->rec.fail_next = 0;
    size_t l = strlen(d->cur);
    snprintf(d->cur + l, sizeof d->cur - l, " -> %s, %zu event(s)%s",
             rc ? cfs_errno_name(rc) : "ok", events,
             refused ? " (sink refused)" : "");
    if (d->verbose)
        printf("%s\n", d->cur);
    memcpy(d->hist[d->nhist++ % HISTORY], d->cur, sizeof d->cur);

    cr_assert(!d->rec.oom, "recorder out of memory");
    if (s1 - d->s0 != events)
        report(d, "seq moved by %" PRIu64 " but the sink accepted %zu events",
               s1 - d->s0, events);
    for (size_t i = 0; i < events; i++) {
        const cfs_event *ev = &d->rec.events[d->c0 + i];
        if (ev->seq != d->s0 + 1 + i)
            report(d, "event %zu of the call has seq %" PRIu64 ", expected %"
                      PRIu64, i, ev->seq, d->s0 + 1 + i);
        if (ev->pid != d->call_pid)
            report(d, "event %zu of the call has pid %" PRIu32 ", the caller "
                      "is pid %" PRIu32, i, ev->pid, d->call_pid);
        /* Times come from the injected clock: never ahead of it, never
         * going back. */
        if (ev->time > d->clock || ev->time < d->last_time)
            report(d, "event %zu of the call has time %" PRIu64 " (clock at %"
                      PRIu64 ", previous event at %" PRIu64 ")", i, ev->time,
                   d->clock, d->last_time);
        d->last_time = ev->time;
    }
    if (refused) {
        d->sink_refusals++;
        if (rc != d->injected)
            report(d, "the sink refused with %s but the call returned %s",
                   cfs_errno_name(d->injected), cfs_errno_name(rc));
    }
    if (rc) {
        d->calls_failed++;
        if (events)
            report(d, "failed call emitted %zu event(s)", events);
        if (!hash_eq(h1, d->h0))
            report(d, "failed call changed the state hash");
        return rc;
    }
    d->calls_ok++;
    if (!events) {
        if (!hash_eq(h1, d->h0))
            report(d, "call without an event changed the state hash");
        return rc;
    }
    if (hash_eq(h1, d->h0))
        report(d, "call emitted %zu event(s) but the state hash did not change",
               events);
    if (d->nmarks == d->capmarks) {
        d->capmarks = d->capmarks ? d->capmarks * 2 : 4096;
        d->marks = realloc(d->marks, d->capmarks * sizeof *d->marks);
        cr_assert_not_null(d->marks);
    }
    d->marks[d->nmarks++] = (mark){ s1, h1 };
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Generators                                                               */

static const char *const pool[] = { "a", "b", "c", "d", "e.txt" };

/* Paths without the differential test's restraint: absolute ones, '..'
 * anywhere (escapes must be refused, at the root they stay there), empty,
 * overlong names. */
static void gen_path(det *d, char *out, size_t len)
{
    cfs_rng *r = &d->rng;
    unsigned roll = (unsigned)cfs_rng_below(r, 1000);
    if (roll < 8) {
        out[0] = 0;
        return;
    }
    if (roll < 12) {
        size_t n = 256 < len - 1 ? 256 : len - 1;
        memset(out, 'x', n);
        out[n] = 0;
        return;
    }
    size_t o = 0;
    roll = (unsigned)cfs_rng_below(r, 100);
    unsigned depth = roll < 50 ? 1 : roll < 85 ? 2 : 3;
#define PUT(s) (o += (size_t)snprintf(out + o, o < len ? len - o : 0, "%s", (s)))
    if (cfs_rng_chance(r, 8))
        PUT("/");
    for (unsigned i = 0; i < depth; i++) {
        if (i)
            PUT("/");
        unsigned c = (unsigned)cfs_rng_below(r, 100);
        if (c < 4)
            PUT("..");
        else if (c < 7)
            PUT(".");
        else
            PUT(pool[cfs_rng_below(r, 5)]);
    }
    if (cfs_rng_chance(r, 6))
        PUT("/");
#undef PUT
}

/* A random fd of process `fs`: mostly one it has open (found by asking
 * fd_fdstat_get, which changes nothing), sometimes any low number, now and
 * then a wild one. */
static cfs_fd gen_fd(det *d, cfs_fs *fs)
{
    unsigned roll = (unsigned)cfs_rng_below(&d->rng, 100);
    if (roll < 85) {
        cfs_fd open_fds[64];
        unsigned n = 0;
        cfs_fdstat st;
        for (cfs_fd fd = 0; fd < 64; fd++)
            if (cfs_fd_fdstat_get(fs, fd, &st) == 0)
                open_fds[n++] = fd;
        if (n)
            return open_fds[cfs_rng_below(&d->rng, n)];
    }
    if (roll < 97)
        return (cfs_fd)cfs_rng_below(&d->rng, 16);
    static const cfs_fd wild[] = { CFS_MAX_FD, CFS_MAX_FD + 1, UINT32_MAX };
    return wild[cfs_rng_below(&d->rng, 3)];
}

/* A directory fd for path calls: the root preopen most of the time. */
static cfs_fd gen_dirfd(det *d, cfs_fs *fs)
{
    return cfs_rng_chance(&d->rng, 70) ? CFS_ROOT_FD : gen_fd(d, fs);
}

static size_t gen_len(det *d)
{
    unsigned roll = (unsigned)cfs_rng_below(&d->rng, 100);
    if (roll < 3)
        return 0;
    if (roll < 6)
        return 1 + cfs_rng_below(&d->rng, BIG_IO);
    return 1 + cfs_rng_below(&d->rng, 300);
}

static uint64_t gen_offset(det *d)
{
    unsigned roll = (unsigned)cfs_rng_below(&d->rng, 100);
    if (roll < 70)
        return cfs_rng_below(&d->rng, 2000);
    if (roll < 98)
        return cfs_rng_below(&d->rng, 200000);
    static const uint64_t edge[] = { INT64_MAX, (uint64_t)INT64_MAX + 1,
                                     UINT64_MAX, (uint64_t)INT64_MAX - 10 };
    return edge[cfs_rng_below(&d->rng, 4)];
}

static cfs_rights gen_rights(det *d)
{
    unsigned roll = (unsigned)cfs_rng_below(&d->rng, 100);
    if (roll < 40)
        return CFS_RIGHTS_ALL;
    if (roll < 60)
        return CFS_RIGHT_FD_READ | CFS_RIGHT_FD_SEEK | CFS_RIGHT_FD_TELL |
               CFS_RIGHT_FD_FILESTAT_GET | CFS_RIGHT_FD_READDIR;
    if (roll < 80)
        return CFS_RIGHT_FD_WRITE | CFS_RIGHT_FD_SEEK | CFS_RIGHT_FD_TELL |
               CFS_RIGHT_FD_FILESTAT_SET_SIZE | CFS_RIGHT_FD_ALLOCATE |
               CFS_RIGHT_FD_FILESTAT_GET | CFS_RIGHT_FD_DATASYNC;
    return cfs_rng_next(&d->rng) & CFS_RIGHTS_ALL;
}

/* ---------------------------------------------------------------------- */
/* The workload                                                             */

static int nprocs(det *d)
{
    int n = 0;
    for (int i = 0; i < MAX_PROCS; i++)
        n += d->procs[i] != NULL;
    return n;
}

/* The process a call runs in: the root one more often than not. */
static int gen_proc(det *d)
{
    if (cfs_rng_chance(&d->rng, 60))
        return 0;
    int n = nprocs(d);
    int k = (int)cfs_rng_below(&d->rng, (uint64_t)n);
    for (int i = 0; i < MAX_PROCS; i++)
        if (d->procs[i] && k-- == 0)
            return i;
    return 0;
}

enum {
    W_OPEN, W_CLOSE, W_READ, W_PREAD, W_WRITE, W_PWRITE, W_STDIO_WRITE,
    W_SEEK, W_TELL, W_SYNC, W_ADVISE, W_ALLOCATE, W_SET_SIZE, W_FD_TIMES,
    W_PATH_TIMES, W_FD_STAT, W_PATH_STAT, W_READDIR, W_MKDIR, W_RMDIR,
    W_UNLINK, W_RENAME, W_LINK, W_SYMLINK, W_READLINK, W_CHMOD, W_CHOWN,
    W_MKNOD, W_DUP, W_DUP_AT, W_RENUMBER, W_CLOEXEC, W_FDSTAT, W_SET_FLAGS,
    W_SET_RIGHTS, W_CLOSE_CLOEXEC, W_CLOSE_ALL, W_FORK, W_EXIT, W_PREOPEN,
    W_CHDIR, W_PRESTAT, W_STATFS, W_INODE, W_CREDS, W_COUNT_
};

static const unsigned weights[W_COUNT_] = {
    [W_OPEN] = 16, [W_CLOSE] = 4, [W_READ] = 8, [W_PREAD] = 3, [W_WRITE] = 7,
    [W_PWRITE] = 4, [W_STDIO_WRITE] = 2, [W_SEEK] = 5, [W_TELL] = 1,
    [W_SYNC] = 1, [W_ADVISE] = 1, [W_ALLOCATE] = 2, [W_SET_SIZE] = 3,
    [W_FD_TIMES] = 2, [W_PATH_TIMES] = 2, [W_FD_STAT] = 1, [W_PATH_STAT] = 2,
    [W_READDIR] = 2, [W_MKDIR] = 8, [W_RMDIR] = 3, [W_UNLINK] = 4,
    [W_RENAME] = 5, [W_LINK] = 6, [W_SYMLINK] = 2, [W_READLINK] = 1,
    [W_CHMOD] = 2, [W_CHOWN] = 2, [W_MKNOD] = 2, [W_DUP] = 3, [W_DUP_AT] = 1,
    [W_RENUMBER] = 2, [W_CLOEXEC] = 2, [W_FDSTAT] = 1, [W_SET_FLAGS] = 2,
    [W_SET_RIGHTS] = 1, [W_CLOSE_CLOEXEC] = 1, [W_CLOSE_ALL] = 1,
    [W_FORK] = 1, [W_EXIT] = 1, [W_PREOPEN] = 2, [W_CHDIR] = 2,
    [W_PRESTAT] = 1, [W_STATFS] = 1, [W_INODE] = 2, [W_CREDS] = 1,
};

static int gen_cloexec(det *d)
{
    return (int)cfs_rng_below(&d->rng, 3) - 1; /* -1 keep, 0, 1 */
}

/*
 * Process 1's fd 3 is the root preopen most path calls start from. The
 * workload may close it, renumber over it or drop its rights (rarely);
 * then, now and then, put a fresh root preopen back at fd 3 (these are
 * ordinary calls, checked and recorded like any other).
 */
static void repair_root_fd(det *d)
{
    cfs_fdstat st;
    if (cfs_fd_fdstat_get(d->fs, CFS_ROOT_FD, &st) == 0 &&
        st.filetype == CFS_FILETYPE_DIRECTORY &&
        (st.rights_base & d->root_rights.rights_base) ==
            d->root_rights.rights_base &&
        (st.rights_inheriting & d->root_rights.rights_inheriting) ==
            d->root_rights.rights_inheriting)
        return;
    if (!cfs_rng_chance(&d->rng, 10))
        return;
    d->call_pid = cfs_fs_pid(d->fs);
    char alias[32];
    snprintf(alias, sizeof alias, "root%u", d->repairs++);
    cfs_fd nfd = 0;
    pre(d, "pid1 repair: preopen(\"/\", %s, perm 7)", alias);
    if (post(d, cfs_fs_preopen(d->fs, "/", alias,
                               CFS_PREOPEN_READ | CFS_PREOPEN_WRITE |
                                   CFS_PREOPEN_CREATE,
                               &nfd)))
        return;
    if (cfs_fd_fdstat_get(d->fs, CFS_ROOT_FD, &st) == 0) {
        pre(d, "pid1 repair: renumber(%u, 3)", nfd);
        post(d, cfs_fd_renumber(d->fs, nfd, CFS_ROOT_FD));
    } else {
        pre(d, "pid1 repair: dup_at(%u, 3, 0)", nfd);
        if (post(d, cfs_fd_dup_at(d->fs, nfd, CFS_ROOT_FD, 0)) == 0) {
            pre(d, "pid1 repair: close(%u)", nfd);
            post(d, cfs_fd_close(d->fs, nfd));
        }
    }
    /* A preopen's rights derive from its perm flags and may be fewer than
     * the initial root fd's: from now on, those are what "healthy" means. */
    if (cfs_fd_fdstat_get(d->fs, CFS_ROOT_FD, &st) == 0) {
        d->root_rights.rights_base &= st.rights_base;
        d->root_rights.rights_inheriting &= st.rights_inheriting;
    }
}

static void one_call(det *d)
{
    repair_root_fd(d);

    unsigned total = 0;
    for (int k = 0; k < W_COUNT_; k++)
        total += weights[k];
    unsigned r = (unsigned)cfs_rng_below(&d->rng, total);
    int k = 0;
    while (r >= weights[k])
        r -= weights[k++];

    int pi = gen_proc(d);
    cfs_fs *fs = d->procs[pi];
    uint32_t pid = cfs_fs_pid(fs);
    d->call_pid = pid;
    char p[300], p2[300];
    cfs_fd fd, fd2, out = 0;
    size_t n = 0, len;
    uint64_t off, u;
    cfs_filestat st;
    cfs_fdstat fst;

    switch (k) {
    case W_OPEN: {
        cfs_fd dirfd = gen_dirfd(d, fs);
        gen_path(d, p, sizeof p);
        uint16_t of = 0;
        if (cfs_rng_chance(&d->rng, 50)) of |= CFS_O_CREAT;
        if (cfs_rng_chance(&d->rng, 20)) of |= CFS_O_EXCL;
        if (cfs_rng_chance(&d->rng, 15)) of |= CFS_O_TRUNC;
        if (cfs_rng_chance(&d->rng, 15)) of |= CFS_O_DIRECTORY;
        if (cfs_rng_chance(&d->rng, 2))
            of |= 0x100; /* an invalid oflag */
        uint16_t ff = cfs_rng_chance(&d->rng, 25) ? CFS_FDFLAG_APPEND : 0;
        if (cfs_rng_chance(&d->rng, 5))
            ff |= (uint16_t)cfs_rng_below(&d->rng, 64);
        uint32_t lf = cfs_rng_chance(&d->rng, 85) ? CFS_LOOKUP_SYMLINK_FOLLOW : 0;
        cfs_rights rb = gen_rights(d), ri = gen_rights(d);
        if (cfs_rng_chance(&d->rng, 75)) {
            /* As wasi-libc asks: within what the directory hands down. */
            memset(&fst, 0, sizeof fst);
            cfs_fd_fdstat_get(fs, dirfd, &fst);
            rb &= fst.rights_inheriting;
            ri &= fst.rights_inheriting;
        }
        pre(d, "pid%u open(%u, \"%s\", of %#x, ff %#x, lf %u, rb %#" PRIx64
               ", ri %#" PRIx64 ")", pid, dirfd, p, of, ff, lf, rb, ri);
        post(d, cfs_path_open(fs, dirfd, lf, p, of, rb, ri, ff, &out));
        break;
    }
    case W_CLOSE:
        fd = gen_fd(d, fs);
        /* Closing process 1's root preopen strands most path calls: let
         * it happen rarely. */
        if (pi == 0 && fd == CFS_ROOT_FD && cfs_rng_chance(&d->rng, 95))
            fd = gen_fd(d, fs);
        pre(d, "pid%u close(%u)", pid, fd);
        post(d, cfs_fd_close(fs, fd));
        break;
    case W_READ:
    case W_PREAD:
        fd = gen_fd(d, fs);
        len = gen_len(d);
        off = gen_offset(d);
        if (k == W_READ) {
            pre(d, "pid%u read(%u, %zu)", pid, fd, len);
            post(d, cfs_fd_read(fs, fd, d->buf, len, &n));
        } else {
            pre(d, "pid%u pread(%u, %zu, %" PRIu64 ")", pid, fd, len, off);
            post(d, cfs_fd_pread(fs, fd, d->buf, len, off, &n));
        }
        break;
    case W_WRITE:
    case W_PWRITE:
    case W_STDIO_WRITE:
        fd = k == W_STDIO_WRITE ? 1 + (cfs_fd)cfs_rng_below(&d->rng, 2)
                                : gen_fd(d, fs);
        len = gen_len(d);
        off = gen_offset(d);
        cfs_rng_bytes(&d->rng, d->buf, len);
        if (k == W_PWRITE) {
            pre(d, "pid%u pwrite(%u, %zu, %" PRIu64 ")", pid, fd, len, off);
            post(d, cfs_fd_pwrite(fs, fd, d->buf, len, off, &n));
        } else {
            pre(d, "pid%u write(%u, %zu)", pid, fd, len);
            post(d, cfs_fd_write(fs, fd, d->buf, len, &n));
        }
        break;
    case W_SEEK: {
        fd = gen_fd(d, fs);
        uint8_t wh = (uint8_t)(cfs_rng_chance(&d->rng, 3) ? 3 + cfs_rng_below(&d->rng, 250)
                                                       : cfs_rng_below(&d->rng, 3));
        int64_t so = cfs_rng_chance(&d->rng, 20)
                         ? -(int64_t)cfs_rng_below(&d->rng, 3000)
                         : (int64_t)gen_offset(d);
        pre(d, "pid%u seek(%u, %" PRId64 ", %u)", pid, fd, so, wh);
        post(d, cfs_fd_seek(fs, fd, so, wh, &u));
        break;
    }
    case W_TELL:
        fd = gen_fd(d, fs);
        pre(d, "pid%u tell(%u)", pid, fd);
        post(d, cfs_fd_tell(fs, fd, &u));
        break;
    case W_SYNC:
        fd = gen_fd(d, fs);
        if (cfs_rng_chance(&d->rng, 50)) {
            pre(d, "pid%u sync(%u)", pid, fd);
            post(d, cfs_fd_sync(fs, fd));
        } else {
            pre(d, "pid%u datasync(%u)", pid, fd);
            post(d, cfs_fd_datasync(fs, fd));
        }
        break;
    case W_ADVISE: {
        fd = gen_fd(d, fs);
        uint8_t adv = (uint8_t)cfs_rng_below(&d->rng, 7);
        off = gen_offset(d);
        u = gen_offset(d);
        pre(d, "pid%u advise(%u, %" PRIu64 ", %" PRIu64 ", %u)", pid, fd, off,
            u, adv);
        post(d, cfs_fd_advise(fs, fd, off, u, adv));
        break;
    }
    case W_ALLOCATE:
        fd = gen_fd(d, fs);
        off = gen_offset(d);
        u = cfs_rng_chance(&d->rng, 95) ? cfs_rng_below(&d->rng, 100000)
                                        : gen_offset(d);
        pre(d, "pid%u allocate(%u, %" PRIu64 ", %" PRIu64 ")", pid, fd, off, u);
        post(d, cfs_fd_allocate(fs, fd, off, u));
        break;
    case W_SET_SIZE:
        fd = gen_fd(d, fs);
        off = cfs_rng_chance(&d->rng, 15) ? 0 : gen_offset(d);
        pre(d, "pid%u set_size(%u, %" PRIu64 ")", pid, fd, off);
        post(d, cfs_fd_filestat_set_size(fs, fd, off));
        break;
    case W_FD_TIMES:
    case W_PATH_TIMES: {
        uint16_t fl = (uint16_t)cfs_rng_below(&d->rng, 16);
        cfs_time at = cfs_rng_next(&d->rng) >> 4, mt = cfs_rng_next(&d->rng) >> 4;
        if (k == W_FD_TIMES) {
            fd = gen_fd(d, fs);
            pre(d, "pid%u fd_set_times(%u, fl %#x)", pid, fd, fl);
            post(d, cfs_fd_filestat_set_times(fs, fd, at, mt, fl));
        } else {
            fd = gen_dirfd(d, fs);
            gen_path(d, p, sizeof p);
            uint32_t lf = cfs_rng_chance(&d->rng, 70) ? CFS_LOOKUP_SYMLINK_FOLLOW : 0;
            pre(d, "pid%u path_set_times(%u, \"%s\", lf %u, fl %#x)", pid, fd,
                p, lf, fl);
            post(d, cfs_path_filestat_set_times(fs, fd, lf, p, at, mt, fl));
        }
        break;
    }
    case W_FD_STAT:
        fd = gen_fd(d, fs);
        pre(d, "pid%u fd_filestat_get(%u)", pid, fd);
        post(d, cfs_fd_filestat_get(fs, fd, &st));
        break;
    case W_PATH_STAT: {
        fd = gen_dirfd(d, fs);
        gen_path(d, p, sizeof p);
        uint32_t lf = cfs_rng_chance(&d->rng, 70) ? CFS_LOOKUP_SYMLINK_FOLLOW : 0;
        pre(d, "pid%u path_filestat_get(%u, \"%s\", lf %u)", pid, fd, p, lf);
        post(d, cfs_path_filestat_get(fs, fd, lf, p, &st));
        break;
    }
    case W_READDIR: {
        fd = gen_fd(d, fs);
        len = 24 + cfs_rng_below(&d->rng, 300);
        uint64_t cookie = cfs_rng_chance(&d->rng, 60) ? 0 : cfs_rng_below(&d->rng, 50);
        pre(d, "pid%u readdir(%u, len %zu, cookie %" PRIu64 ")", pid, fd, len,
            cookie);
        post(d, cfs_fd_readdir(fs, fd, d->buf, len, cookie, &n));
        break;
    }
    case W_MKDIR:
        fd = gen_dirfd(d, fs);
        gen_path(d, p, sizeof p);
        pre(d, "pid%u mkdir(%u, \"%s\")", pid, fd, p);
        post(d, cfs_path_create_directory(fs, fd, p));
        break;
    case W_RMDIR:
        fd = gen_dirfd(d, fs);
        gen_path(d, p, sizeof p);
        pre(d, "pid%u rmdir(%u, \"%s\")", pid, fd, p);
        post(d, cfs_path_remove_directory(fs, fd, p));
        break;
    case W_UNLINK:
        fd = gen_dirfd(d, fs);
        gen_path(d, p, sizeof p);
        pre(d, "pid%u unlink(%u, \"%s\")", pid, fd, p);
        post(d, cfs_path_unlink_file(fs, fd, p));
        break;
    case W_RENAME:
        fd = gen_dirfd(d, fs);
        fd2 = gen_dirfd(d, fs);
        gen_path(d, p, sizeof p);
        gen_path(d, p2, sizeof p2);
        pre(d, "pid%u rename(%u, \"%s\", %u, \"%s\")", pid, fd, p, fd2, p2);
        post(d, cfs_path_rename(fs, fd, p, fd2, p2));
        break;
    case W_LINK: {
        fd = gen_dirfd(d, fs);
        fd2 = gen_dirfd(d, fs);
        gen_path(d, p, sizeof p);
        gen_path(d, p2, sizeof p2);
        uint32_t lf = cfs_rng_chance(&d->rng, 30) ? CFS_LOOKUP_SYMLINK_FOLLOW : 0;
        pre(d, "pid%u link(%u, lf %u, \"%s\", %u, \"%s\")", pid, fd, lf, p,
            fd2, p2);
        post(d, cfs_path_link(fs, fd, lf, p, fd2, p2));
        break;
    }
    case W_SYMLINK:
        fd = gen_dirfd(d, fs);
        gen_path(d, p, sizeof p);  /* the target: anything goes */
        gen_path(d, p2, sizeof p2);
        pre(d, "pid%u symlink(\"%s\", %u, \"%s\")", pid, p, fd, p2);
        post(d, cfs_path_symlink(fs, p, fd, p2));
        break;
    case W_READLINK: {
        fd = gen_dirfd(d, fs);
        gen_path(d, p, sizeof p);
        char lb[64];
        size_t ll = cfs_rng_below(&d->rng, sizeof lb);
        pre(d, "pid%u readlink(%u, \"%s\", %zu)", pid, fd, p, ll);
        post(d, cfs_path_readlink(fs, fd, p, lb, ll, &n));
        break;
    }
    case W_CHMOD: {
        fd = gen_dirfd(d, fs);
        gen_path(d, p, sizeof p);
        uint32_t mode = (uint32_t)cfs_rng_below(&d->rng, 010000);
        if (cfs_rng_chance(&d->rng, 5))
            mode |= CFS_S_IFREG;
        uint32_t lf = cfs_rng_chance(&d->rng, 80) ? CFS_LOOKUP_SYMLINK_FOLLOW : 0;
        pre(d, "pid%u chmod(%u, \"%s\", lf %u, %#o)", pid, fd, p, lf,
            (unsigned)mode);
        post(d, cfs_path_chmod(fs, fd, lf, p, mode));
        break;
    }
    case W_CHOWN: {
        fd = gen_dirfd(d, fs);
        gen_path(d, p, sizeof p);
        uint32_t uid = cfs_rng_chance(&d->rng, 30) ? UINT32_MAX
                                                   : (uint32_t)cfs_rng_below(&d->rng, 2000);
        uint32_t gid = cfs_rng_chance(&d->rng, 30) ? UINT32_MAX
                                                   : (uint32_t)cfs_rng_below(&d->rng, 2000);
        uint32_t lf = cfs_rng_chance(&d->rng, 80) ? CFS_LOOKUP_SYMLINK_FOLLOW : 0;
        pre(d, "pid%u chown(%u, \"%s\", lf %u, %u, %u)", pid, fd, p, lf, uid,
            gid);
        post(d, cfs_path_chown(fs, fd, lf, p, uid, gid));
        break;
    }
    case W_MKNOD: {
        fd = gen_dirfd(d, fs);
        gen_path(d, p, sizeof p);
        uint32_t mode = (uint32_t)cfs_rng_below(&d->rng, 01000);
        unsigned t = (unsigned)cfs_rng_below(&d->rng, 10);
        if (t < 5)
            mode |= CFS_S_IFREG;
        else if (t == 5)
            mode |= CFS_S_IFCHR; /* ENOTSUP for now */
        pre(d, "pid%u mknod(%u, \"%s\", %#o)", pid, fd, p, (unsigned)mode);
        post(d, cfs_path_mknod(fs, fd, p, mode));
        break;
    }
    case W_DUP: {
        fd = gen_fd(d, fs);
        cfs_fd min = cfs_rng_chance(&d->rng, 70) ? 0 : gen_fd(d, fs);
        int ce = gen_cloexec(d);
        pre(d, "pid%u dup(%u, min %u, cloexec %d)", pid, fd, min, ce);
        post(d, cfs_fd_dup(fs, fd, min, ce, &out));
        break;
    }
    case W_DUP_AT: {
        fd = gen_fd(d, fs);
        fd2 = gen_fd(d, fs);
        int ce = gen_cloexec(d);
        pre(d, "pid%u dup_at(%u, %u, cloexec %d)", pid, fd, fd2, ce);
        post(d, cfs_fd_dup_at(fs, fd, fd2, ce));
        break;
    }
    case W_RENUMBER:
        fd = gen_fd(d, fs);
        fd2 = gen_fd(d, fs);
        /* Renumbering onto or away from the root preopen of process 1
         * strands most path calls: let it happen rarely. */
        if (pi == 0 && (fd == CFS_ROOT_FD || fd2 == CFS_ROOT_FD) &&
            cfs_rng_chance(&d->rng, 95))
            fd = fd2 = 4;
        pre(d, "pid%u renumber(%u, %u)", pid, fd, fd2);
        post(d, cfs_fd_renumber(fs, fd, fd2));
        break;
    case W_CLOEXEC: {
        fd = gen_fd(d, fs);
        int ce;
        if (cfs_rng_chance(&d->rng, 50)) {
            int v = (int)cfs_rng_below(&d->rng, 2);
            pre(d, "pid%u set_cloexec(%u, %d)", pid, fd, v);
            post(d, cfs_fd_set_cloexec(fs, fd, v));
        } else {
            pre(d, "pid%u get_cloexec(%u)", pid, fd);
            post(d, cfs_fd_get_cloexec(fs, fd, &ce));
        }
        break;
    }
    case W_FDSTAT:
        fd = gen_fd(d, fs);
        if (cfs_rng_chance(&d->rng, 50)) {
            pre(d, "pid%u fdstat_get(%u)", pid, fd);
            post(d, cfs_fd_fdstat_get(fs, fd, &fst));
        } else {
            cfs_fd pfd;
            const char *rel;
            gen_path(d, p, sizeof p);
            pre(d, "pid%u find_preopen(\"%s\")", pid, p);
            post(d, cfs_fs_find_preopen(fs, p, &pfd, &rel));
            pre(d, "pid%u abspath(\"%s\")", pid, p);
            post(d, cfs_fs_abspath(fs, p, p2, cfs_rng_chance(&d->rng, 90) ? sizeof p2 : 3));
        }
        break;
    case W_SET_FLAGS: {
        fd = gen_fd(d, fs);
        uint16_t fl = cfs_rng_chance(&d->rng, 80) ? (uint16_t)cfs_rng_below(&d->rng, 2)
                                                  : (uint16_t)cfs_rng_below(&d->rng, 64);
        pre(d, "pid%u set_flags(%u, %#x)", pid, fd, fl);
        post(d, cfs_fd_fdstat_set_flags(fs, fd, fl));
        break;
    }
    case W_SET_RIGHTS: {
        fd = gen_fd(d, fs);
        if (pi == 0 && fd == CFS_ROOT_FD && cfs_rng_chance(&d->rng, 90))
            fd = gen_fd(d, fs);
        cfs_rights rb = 0, ri = 0;
        memset(&fst, 0, sizeof fst);
        cfs_fd_fdstat_get(fs, fd, &fst); /* no state change: not checked */
        if (cfs_rng_chance(&d->rng, 80)) {
            /* drop some rights (allowed) */
            rb = fst.rights_base & (cfs_rng_next(&d->rng) | CFS_RIGHT_FD_READ |
                                    CFS_RIGHT_FD_WRITE | CFS_RIGHT_PATH_OPEN);
            ri = fst.rights_inheriting & (cfs_rng_next(&d->rng) | CFS_RIGHT_FD_READ |
                                          CFS_RIGHT_FD_WRITE);
        } else {
            rb = gen_rights(d); /* may add some: ENOTCAPABLE */
            ri = gen_rights(d);
        }
        pre(d, "pid%u set_rights(%u, %#" PRIx64 ", %#" PRIx64 ")", pid, fd, rb, ri);
        post(d, cfs_fd_fdstat_set_rights(fs, fd, rb, ri));
        break;
    }
    case W_CLOSE_CLOEXEC:
        pre(d, "pid%u close_cloexec()", pid);
        post(d, cfs_fs_close_cloexec(fs));
        break;
    case W_CLOSE_ALL:
        /* In process 1 this strands every path call until the next
         * preopen: keep it rare there. */
        if (pi == 0 && !cfs_rng_chance(&d->rng, 5))
            break;
        pre(d, "pid%u close_all()", pid);
        post(d, cfs_fs_close_all(fs));
        break;
    case W_FORK: {
        int slot = -1;
        for (int i = 1; i < MAX_PROCS; i++)
            if (!d->procs[i])
                slot = i;
        if (slot < 0)
            break;
        cfs_fs *child = NULL;
        pre(d, "pid%u fork()", pid);
        if (post(d, cfs_fs_fork(fs, &child)) == 0) {
            cr_assert_not_null(child);
            d->procs[slot] = child;
            size_t l = strlen(d->hist[(d->nhist - 1) % HISTORY]);
            snprintf(d->hist[(d->nhist - 1) % HISTORY] + l, 512 - l,
                     " child pid%u", cfs_fs_pid(child));
        }
        break;
    }
    case W_EXIT:
        if (pi == 0)
            break; /* process 1 is the engine itself */
        pre(d, "pid%u exit()", pid);
        if (post(d, cfs_fs_exit(fs)) == 0) {
            cfs_fs_free(fs);
            d->procs[pi] = NULL;
        }
        break;
    case W_PREOPEN: {
        static const char *const gp[] = { "/", "/a", "/a/b", "/b", "a", "/c/..",
                                          "/e.txt" };
        static const char *const al[] = { NULL, NULL, "/", "data", "tmp", "a" };
        const char *g = gp[cfs_rng_below(&d->rng, 7)];
        const char *a = al[cfs_rng_below(&d->rng, 6)];
        unsigned perm = (unsigned)cfs_rng_below(&d->rng, 8);
        pre(d, "pid%u preopen(\"%s\", %s, perm %u)", pid, g, a ? a : "NULL", perm);
        post(d, cfs_fs_preopen(fs, g, a, perm, &out));
        break;
    }
    case W_CHDIR:
        gen_path(d, p, sizeof p);
        pre(d, "pid%u chdir(\"%s\")", pid, p);
        post(d, cfs_fs_chdir(fs, p));
        break;
    case W_PRESTAT: {
        fd = gen_fd(d, fs);
        cfs_prestat ps;
        char nb[64];
        pre(d, "pid%u prestat_get(%u)", pid, fd);
        post(d, cfs_fd_prestat_get(fs, fd, &ps));
        len = cfs_rng_below(&d->rng, sizeof nb);
        pre(d, "pid%u prestat_dir_name(%u, %zu)", pid, fd, len);
        post(d, cfs_fd_prestat_dir_name(fs, fd, nb, len));
        break;
    }
    case W_STATFS: {
        cfs_statfs sf;
        pre(d, "pid%u statfs()", pid);
        post(d, cfs_fs_statfs(fs, &sf));
        break;
    }
    case W_INODE: {
        cfs_ino ino = 10 + cfs_rng_below(&d->rng, 40);
        cfs_dirent de;
        pre(d, "pid%u getattr(%" PRIu64 ")", pid, ino);
        post(d, cfs_getattr(fs, ino, &st));
        pre(d, "pid%u lookup(%" PRIu64 ", %s)", pid, ino, pool[ino % 5]);
        post(d, cfs_lookup(fs, ino, pool[ino % 5], &st));
        u = cfs_rng_below(&d->rng, 8);
        pre(d, "pid%u dir_next(%" PRIu64 ", %" PRIu64 ")", pid, ino, u);
        post(d, cfs_dir_next(fs, ino, u, &de));
        break;
    }
    case W_CREDS: {
        uint32_t uid = (uint32_t)cfs_rng_below(&d->rng, 3) * 1000;
        uint32_t fm = (uint32_t)cfs_rng_below(&d->rng, 010000);
        uint32_t dm = (uint32_t)cfs_rng_below(&d->rng, 010000) | CFS_S_IFDIR;
        pre(d, "pid%u set_creds(%u, %u, %#o, %#o)", pid, uid, uid + 1,
            (unsigned)fm, (unsigned)dm);
        cfs_fs_set_creds(fs, uid, uid + 1, fm, dm);
        post(d, 0); /* not an event, and no change to the hashed state */
        break;
    }
    default:
        break;
    }
}

/* ---------------------------------------------------------------------- */
/* Replay                                                                   */

/* Apply a corrupted event: it must be refused and change nothing. */
static void expect_refused(det *d, cfs_fs *r, const cfs_event *bad,
                           const char *why)
{
    char eb[1024];
    cfs_hash128 h0 = cfs_fs_hash(r);
    uint64_t s0 = cfs_fs_seq(r);
    cfs_errno rc = cfs_fs_apply(r, bad);
    d->probes++;
    if (rc == 0)
        report(d, "replay accepted a corrupted event (%s): %s", why,
               cfs_event_format(bad, eb, sizeof eb));
    if (cfs_fs_seq(r) != s0 || !hash_eq(cfs_fs_hash(r), h0))
        report(d, "a refused event (%s, %s) changed the state: %s", why,
               cfs_errno_name(rc), cfs_event_format(bad, eb, sizeof eb));
}

/*
 * One wrong-output probe for `ev` (the next event to apply), if its op has
 * an outcome we know how to falsify. The corrupted copies share ev's
 * strings: apply does not keep the event.
 */
static void probe(det *d, cfs_fs *r, const cfs_event *ev, const cfs_event *next)
{
    cfs_event bad = *ev;
    switch (cfs_rng_below(&d->rng, 6)) {
    case 0:
        bad.seq = ev->seq + 1;
        expect_refused(d, r, &bad, "seq skips one");
        return;
    case 1:
        bad.seq = ev->seq - 1;
        expect_refused(d, r, &bad, "seq repeats");
        return;
    case 2:
        if (next) {
            expect_refused(d, r, next, "next event applied out of order");
            return;
        }
        break;
    case 3:
        bad.pid = 4000000000u;
        expect_refused(d, r, &bad, "unknown pid");
        return;
    case 4:
        bad.op = cfs_rng_chance(&d->rng, 50) ? 0 : 999;
        expect_refused(d, r, &bad, "unknown op");
        return;
    default:
        break;
    }
    /* Op-specific wrong outcomes. */
    switch (ev->op) {
    case CFS_OP_OPEN:
        if ((ev->flags & CFS_EVF_OPEN_CREATED) && cfs_rng_chance(&d->rng, 50)) {
            bad.ino = ev->ino + 1;
            expect_refused(d, r, &bad, "created inode is not the next one");
        } else {
            bad.fd2 = ev->fd2 + 1;
            expect_refused(d, r, &bad, "new fd is not the first free one");
        }
        break;
    case CFS_OP_PREOPEN:
        bad.fd2 = ev->fd2 + 1;
        expect_refused(d, r, &bad, "preopen fd is not the first free one");
        break;
    case CFS_OP_MKDIR:
    case CFS_OP_SYMLINK:
    case CFS_OP_MKNOD:
        bad.ino = ev->ino + 1;
        expect_refused(d, r, &bad, "created inode is not the next one");
        break;
    case CFS_OP_DUP:
        bad.fd2 = ev->fd; /* taken: it is the fd being duplicated */
        expect_refused(d, r, &bad, "dup onto an fd in use");
        break;
    case CFS_OP_FORK:
        bad.fd2 = ev->pid; /* a live process */
        expect_refused(d, r, &bad, "fork to a pid in use");
        break;
    case CFS_OP_UNLINK:
    case CFS_OP_RMDIR:
        if (cfs_rng_chance(&d->rng, 50)) {
            bad.name = "no-such-entry";
            expect_refused(d, r, &bad, "removed name does not exist");
        } else {
            bad.ino = ev->ino + 100000;
            expect_refused(d, r, &bad, "removed entry is another inode");
        }
        break;
    case CFS_OP_RENAME:
        bad.name = "no-such-entry";
        expect_refused(d, r, &bad, "renamed name does not exist");
        break;
    case CFS_OP_CLOSE:
        bad.fd = 60000;
        expect_refused(d, r, &bad, "closed fd is not open");
        break;
    case CFS_OP_WRITE:
        if (ev->ino != CFS_INO_STDOUT && ev->ino != CFS_INO_STDERR) {
            bad.ino = ev->ino + 100000;
            expect_refused(d, r, &bad, "written inode is not the fd's");
        }
        break;
    default:
        break;
    }
}

static void replay_and_check(det *d, cfs_hash128 initial)
{
    cfs_config rcfg = d->cfg;
    rcfg.clock = NULL; /* replay must not need a clock */
    rcfg.clock_ctx = NULL;
    memset(&rcfg.sink, 0, sizeof rcfg.sink);
    cfs_fs *r = cfs_fs_new(&rcfg);
    cr_assert_not_null(r);
    if (!hash_eq(cfs_fs_hash(r), initial))
        report(d, "two fresh engines hash differently");

    size_t m = 0;
    char eb[1024];
    for (size_t i = 0; i < d->rec.count; i++) {
        const cfs_event *ev = &d->rec.events[i];
        snprintf(d->cur, sizeof d->cur, "replay event %zu: %s", i,
                 cfs_event_format(ev, eb, sizeof eb));
        if (cfs_rng_chance(&d->rng, 25))
            probe(d, r, ev, i + 1 < d->rec.count ? &d->rec.events[i + 1] : NULL);
        cfs_errno rc = cfs_fs_apply(r, ev);
        if (rc)
            report(d, "apply refused a recorded event: %s (%s)",
                   cfs_errno_name(rc), cfs_fs_errmsg(r));
        if (cfs_fs_seq(r) != ev->seq)
            report(d, "after apply seq is %" PRIu64, cfs_fs_seq(r));
        while (m < d->nmarks && d->marks[m].seq < ev->seq)
            m++;
        if (m < d->nmarks && d->marks[m].seq == ev->seq) {
            if (!hash_eq(cfs_fs_hash(r), d->marks[m].hash))
                report(d, "replayed hash differs from the live hash at seq %"
                          PRIu64, ev->seq);
            m++;
        }
    }
    snprintf(d->cur, sizeof d->cur, "end of replay (%zu events)", d->rec.count);
    if (m != d->nmarks)
        report(d, "%zu live hash marks were never reached", d->nmarks - m);
    if (cfs_fs_seq(r) != cfs_fs_seq(d->fs))
        report(d, "final seq: replay %" PRIu64 ", live %" PRIu64,
               cfs_fs_seq(r), cfs_fs_seq(d->fs));
    if (!hash_eq(cfs_fs_hash(r), cfs_fs_hash(d->fs)))
        report(d, "final states hash differently");

    /* The same trees, seen through the API (when process 1 still has its
     * root preopen at fd 3: the walk opens files through it). */
    cfs_prestat ps;
    char nm[2];
    if (cfs_fd_prestat_get(d->fs, CFS_ROOT_FD, &ps) == 0 && ps.name_len == 1 &&
        cfs_fd_prestat_dir_name(d->fs, CFS_ROOT_FD, nm, 1) == 0 && nm[0] == '/') {
        cfs_tree lt, rt;
        char msg[512] = "";
        cfs_fs_set_sink(d->fs, &(cfs_sink){ NULL, NULL, NULL });
        cfs_errno e1 = cfs_tree_from_engine(d->fs, CFS_ROOT_FD, &lt, msg, sizeof msg);
        cfs_errno e2 = cfs_tree_from_engine(r, CFS_ROOT_FD, &rt, msg, sizeof msg);
        if (e1 || e2)
            report(d, "tree walk failed: %s", msg);
        if (cfs_tree_diff(&lt, "live", &rt, "replay", msg, sizeof msg))
            report(d, "trees differ: %s", msg);
        printf("determinism seed %" PRIu64 ": final tree has %zu entries\n",
               d->seed, lt.count);
        cfs_tree_free(&lt);
        cfs_tree_free(&rt);
        /* Walking did the same calls on both: still the same state. */
        if (!hash_eq(cfs_fs_hash(r), cfs_fs_hash(d->fs)))
            report(d, "states differ after the same walk on both");
    }
    cfs_fs_free(r);
}

static void determinism_run(uint64_t seed, uint64_t nops)
{
    static det dd;
    det *d = &dd;
    memset(d, 0, sizeof *d);
    d->seed = seed;
    d->verbose = (int)cfs_test_env_u64("CFS_TEST_VERBOSE", 0);
    cfs_rng_seed(&d->rng, seed);
    /* Odd seeds run with a byte budget, so ENOSPC failures occur. */
    uint64_t budget = (seed & 1) ? 2u << 20 : 0;
    printf("determinism seed %" PRIu64 " (%" PRIu64 " calls, budget %" PRIu64
           ")\n", seed, nops, budget);
    fflush(stdout);

    d->cfg.clock = det_clock;
    d->cfg.clock_ctx = d;
    d->cfg.sink = cfs_recorder_sink(&d->rec);
    d->cfg.byte_budget = budget;
    d->fs = cfs_fs_new(&d->cfg);
    cr_assert_not_null(d->fs);
    d->procs[0] = d->fs;
    d->buf = malloc(BIG_IO);
    cr_assert_not_null(d->buf);
    cfs_hash128 initial = cfs_fs_hash(d->fs);
    cr_assert_eq(cfs_fd_fdstat_get(d->fs, CFS_ROOT_FD, &d->root_rights), 0);
    cr_assert_eq(cfs_fs_seq(d->fs), 0);

    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (d->op = 0; d->op < nops; d->op++)
        one_call(d);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    replay_and_check(d, initial);
    clock_gettime(CLOCK_MONOTONIC, &t2);

    printf("determinism seed %" PRIu64 ": %" PRIu64 " calls (%" PRIu64 " ok, %"
           PRIu64 " failed, %" PRIu64 " refused by the sink), %zu events, %"
           PRIu64 " corrupted events refused; live %.2f s, replay %.2f s\n",
           seed, nops, d->calls_ok, d->calls_failed, d->sink_refusals,
           d->rec.count, d->probes,
           (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
           (double)(t2.tv_sec - t1.tv_sec) + (t2.tv_nsec - t1.tv_nsec) / 1e9);
    fflush(stdout);

    /* Which ops the recorded events cover, so a workload that drifts into
     * failing everything shows up in the log. */
    uint64_t per_op[CFS_OP_MAX_ + 1] = { 0 };
    for (size_t i = 0; i < d->rec.count; i++)
        if (d->rec.events[i].op <= CFS_OP_MAX_)
            per_op[d->rec.events[i].op]++;
    printf("determinism seed %" PRIu64 ": events by op:", seed);
    for (int op = 1; op <= CFS_OP_MAX_; op++)
        printf(" %s %" PRIu64, cfs_op_name((uint16_t)op), per_op[op]);
    printf("\n");
    fflush(stdout);

    for (int i = MAX_PROCS - 1; i > 0; i--)
        cfs_fs_free(d->procs[i]);
    cfs_fs_free(d->fs);
    cfs_recorder_reset(&d->rec);
    free(d->marks);
    free(d->buf);
}

static const uint64_t default_seeds[] = { 7, 2024, 31337, 0xDEADBEEF };
static uint64_t seeds[sizeof default_seeds / sizeof *default_seeds];

ParameterizedTestParameters(determinism, replay_matches_live)
{
    size_t n = cfs_test_seeds(default_seeds,
                              sizeof default_seeds / sizeof *default_seeds,
                              seeds);
    return cr_make_param_array(uint64_t, seeds, n);
}

ParameterizedTest(uint64_t *seed, determinism, replay_matches_live,
                  .timeout = 300)
{
    determinism_run(*seed, cfs_test_env_u64("CFS_TEST_OPS", DEFAULT_OPS));
}
