/*
 * unit.h — small helpers shared by the engine's unit suites
 * (tests/engine/test_*.c): a counting test clock, a recording sink, one
 * engine per test (set up and torn down by Criterion, so a failed assertion
 * still frees it), and assertion macros that print errno names.
 *
 * Everything is static inline: each suite is its own executable and uses
 * what it needs.
 */
#ifndef CFS_TESTS_ENGINE_UNIT_H
#define CFS_TESTS_ENGINE_UNIT_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs_engine.h"

/* ---- the test clock -------------------------------------------------------
 */

/* Every reading advances by `step`, so two readings are never equal and a
 * test can tell which call stamped what. */
typedef struct tclock {
    cfs_time now;
    cfs_time step;
    uint64_t calls;
} tclock;

static inline cfs_time tclock_read(void *ctx)
{
    tclock *c = ctx;
    c->calls++;
    c->now += c->step;
    return c->now;
}

/* ---- the recording sink -----------------------------------------------------
 */

/* A deep copy of an event (the engine's pointers die with the call). */
typedef struct rec_event {
    cfs_event ev; /* string/data pointers point at the copies below */
} rec_event;

typedef struct recorder {
    rec_event *evs;
    size_t n, cap;
    bool keep;             /* copy events (else only count them) */
    uint64_t appends;      /* append() calls that were accepted */
    uint64_t syncs;        /* sync() calls */
    cfs_errno fail_append; /* if set: append() returns it (once, then clears) */
    bool fail_sticky;      /* keep failing instead of clearing */
    cfs_errno fail_sync;   /* sync() returns it */
} recorder;

static inline char *rec_strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    cr_assert_not_null(p);
    memcpy(p, s, n);
    return p;
}

static inline cfs_errno rec_append(void *ctx, const cfs_event *ev)
{
    recorder *r = ctx;
    if (r->fail_append) {
        cfs_errno e = r->fail_append;
        if (!r->fail_sticky)
            r->fail_append = 0;
        return e;
    }
    r->appends++;
    if (!r->keep)
        return 0;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->evs = realloc(r->evs, r->cap * sizeof *r->evs);
        cr_assert_not_null(r->evs);
    }
    rec_event *re = &r->evs[r->n++];
    re->ev = *ev;
    re->ev.path = rec_strdup(ev->path);
    re->ev.path2 = rec_strdup(ev->path2);
    re->ev.name = rec_strdup(ev->name);
    re->ev.name2 = rec_strdup(ev->name2);
    re->ev.data = NULL;
    if (ev->op == CFS_OP_WRITE && ev->data != NULL && ev->length > 0 &&
        ev->length <= (UINT64_C(1) << 26)) {
        void *d = malloc(ev->length);
        cr_assert_not_null(d);
        memcpy(d, ev->data, ev->length);
        re->ev.data = d;
    }
    return 0;
}

static inline cfs_errno rec_sync(void *ctx)
{
    recorder *r = ctx;
    r->syncs++;
    return r->fail_sync;
}

static inline void rec_clear(recorder *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free((void *)r->evs[i].ev.path);
        free((void *)r->evs[i].ev.path2);
        free((void *)r->evs[i].ev.name);
        free((void *)r->evs[i].ev.name2);
        free((void *)r->evs[i].ev.data);
    }
    r->n = 0;
}

static inline void rec_free(recorder *r)
{
    rec_clear(r);
    free(r->evs);
    r->evs = NULL;
    r->cap = 0;
}

/* The last recorded event (asserts there is one). */
static inline const cfs_event *rec_last(const recorder *r)
{
    cr_assert_gt(r->n, 0, "no event recorded");
    return &r->evs[r->n - 1].ev;
}

/* ---- one engine per test
 * ------------------------------------------------------- */

typedef struct unit_ctx {
    cfs_fs *fs;
    tclock clock;
    recorder rec;
    uint64_t budget;
} unit_ctx;

static unit_ctx U;

/* Build U.fs with the test clock, a recording sink and U.budget. */
static inline void unit_open(uint64_t budget, bool keep_events)
{
    memset(&U.rec, 0, sizeof U.rec);
    U.rec.keep = keep_events;
    U.clock.now = UINT64_C(1000000000000); /* 1000 s after the epoch */
    U.clock.step = 1000;
    U.clock.calls = 0;
    U.budget = budget;
    cfs_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.clock = tclock_read;
    cfg.clock_ctx = &U.clock;
    cfg.sink.append = rec_append;
    cfg.sink.sync = rec_sync;
    cfg.sink.ctx = &U.rec;
    cfg.byte_budget = budget;
    U.fs = cfs_fs_new(&cfg);
    cr_assert_not_null(U.fs, "cfs_fs_new failed");
}

static inline void unit_setup(void)
{
    unit_open(0, true);
}
static inline void unit_setup_nokeep(void)
{
    unit_open(0, false);
}

static inline void unit_teardown(void)
{
    cfs_fs_free(U.fs);
    U.fs = NULL;
    rec_free(&U.rec);
}

/* ---- assertions
 * ------------------------------------------------------------------- */

#define T_OK(call)                                                             \
    do {                                                                       \
        cfs_errno e_ = (call);                                                 \
        cr_assert_eq(e_, 0, "%s:%d: %s -> %s (%s)", __FILE__, __LINE__, #call, \
                     cfs_errno_name(e_), U.fs ? cfs_fs_errmsg(U.fs) : "");     \
    } while (0)

#define T_ERR(want, call)                                                      \
    do {                                                                       \
        cfs_errno e_ = (call);                                                 \
        cfs_errno w_ = (want);                                                 \
        cr_assert_eq(e_, w_, "%s:%d: %s -> %s, want %s", __FILE__, __LINE__,   \
                     #call, cfs_errno_name(e_), cfs_errno_name(w_));           \
    } while (0)

/* For inputs where the contract leaves the exact errno open between two
 * reasonable answers (documented at the call site): either, never 0. */
#define T_ERR2(w1, w2, call)                                                   \
    do {                                                                       \
        cfs_errno e_ = (call);                                                 \
        cr_assert(e_ == (w1) || e_ == (w2), "%s:%d: %s -> %s, want %s or %s",  \
                  __FILE__, __LINE__, #call, cfs_errno_name(e_),               \
                  cfs_errno_name(w1), cfs_errno_name(w2));                     \
    } while (0)

static inline bool hash_eq(cfs_hash128 a, cfs_hash128 b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

/* ---- shorthands
 * --------------------------------------------------------------------- */

/* Rights for files (everything) and for directories (everything but
 * FD_WRITE, which makes path_open of a directory EISDIR). */
#define R_FILE CFS_RIGHTS_ALL
#define R_DIR (CFS_RIGHTS_ALL & ~CFS_RIGHT_FD_WRITE)

static inline cfs_fd t_open(cfs_fd dirfd, const char *path, uint16_t oflags,
                            uint16_t fdflags)
{
    cfs_fd fd = UINT32_MAX;
    T_OK(cfs_path_open(U.fs, dirfd, CFS_LOOKUP_SYMLINK_FOLLOW, path, oflags,
                       R_FILE, R_FILE, fdflags, &fd));
    return fd;
}

static inline cfs_fd t_create(const char *path)
{
    return t_open(CFS_ROOT_FD, path, CFS_O_CREAT, 0);
}

static inline cfs_fd t_opendir(cfs_fd dirfd, const char *path)
{
    cfs_fd fd = UINT32_MAX;
    T_OK(cfs_path_open(U.fs, dirfd, CFS_LOOKUP_SYMLINK_FOLLOW, path,
                       CFS_O_DIRECTORY, R_DIR, CFS_RIGHTS_ALL, 0, &fd));
    return fd;
}

static inline void t_mkdir(const char *path)
{
    T_OK(cfs_path_create_directory(U.fs, CFS_ROOT_FD, path));
}

static inline void t_write_all(cfs_fd fd, const void *buf, size_t len)
{
    size_t n = 0;
    T_OK(cfs_fd_write(U.fs, fd, buf, len, &n));
    cr_assert_eq(n, len, "short write: %zu of %zu", n, len);
}

static inline void t_pwrite_all(cfs_fd fd, const void *buf, size_t len,
                                uint64_t off)
{
    size_t n = 0;
    T_OK(cfs_fd_pwrite(U.fs, fd, buf, len, off, &n));
    cr_assert_eq(n, len, "short pwrite: %zu of %zu", n, len);
}

/* Create (or truncate) `path` under the root and fill it with `s`. */
static inline void t_put(const char *path, const char *s)
{
    cfs_fd fd = t_open(CFS_ROOT_FD, path, CFS_O_CREAT | CFS_O_TRUNC, 0);
    t_write_all(fd, s, strlen(s));
    T_OK(cfs_fd_close(U.fs, fd));
}

/* Whole content of `path` (follows symlinks) compared with `want`. */
static inline void t_expect_content(const char *path, const char *want)
{
    cfs_fd fd = UINT32_MAX;
    T_OK(cfs_path_open(U.fs, CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, path, 0,
                       CFS_RIGHT_FD_READ | CFS_RIGHT_FD_SEEK, 0, 0, &fd));
    char buf[4096];
    size_t n = 0;
    T_OK(cfs_fd_pread(U.fs, fd, buf, sizeof buf, 0, &n));
    T_OK(cfs_fd_close(U.fs, fd));
    cr_assert_eq(n, strlen(want), "%s: %zu bytes, want %zu", path, n,
                 strlen(want));
    cr_assert(memcmp(buf, want, n) == 0, "%s: content differs", path);
}

static inline cfs_filestat t_stat(const char *path)
{
    cfs_filestat st;
    memset(&st, 0, sizeof st);
    T_OK(cfs_path_filestat_get(U.fs, CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW,
                               path, &st));
    return st;
}

static inline cfs_filestat t_lstat(const char *path)
{
    cfs_filestat st;
    memset(&st, 0, sizeof st);
    T_OK(cfs_path_filestat_get(U.fs, CFS_ROOT_FD, 0, path, &st));
    return st;
}

static inline cfs_filestat t_fstat(cfs_fd fd)
{
    cfs_filestat st;
    memset(&st, 0, sizeof st);
    T_OK(cfs_fd_filestat_get(U.fs, fd, &st));
    return st;
}

static inline cfs_statfs t_statfs(void)
{
    cfs_statfs s;
    memset(&s, 0, sizeof s);
    T_OK(cfs_fs_statfs(U.fs, &s));
    return s;
}

static inline uint64_t t_tell(cfs_fd fd)
{
    uint64_t off = UINT64_MAX;
    T_OK(cfs_fd_tell(U.fs, fd, &off));
    return off;
}

static inline bool t_exists(const char *path)
{
    cfs_filestat st;
    cfs_errno e = cfs_path_filestat_get(U.fs, CFS_ROOT_FD, 0, path, &st);
    cr_assert(e == 0 || e == CFS_ENOENT, "stat %s -> %s", path,
              cfs_errno_name(e));
    return e == 0;
}

static inline bool t_fd_open(cfs_fd fd)
{
    cfs_fdstat st;
    cfs_errno e = cfs_fd_fdstat_get(U.fs, fd, &st);
    cr_assert(e == 0 || e == CFS_EBADF, "fdstat %u -> %s", fd,
              cfs_errno_name(e));
    return e == 0;
}

#endif
