/*
 * replay_test.h — what the replay suites share: a journal recorded from a
 * live engine (a "world"), short engine calls that assert, and a sink that
 * both journals and keeps a copy of every event (for oracles).
 *
 * Header-only (static inline) so each suite stays one executable.
 */
#ifndef CFS_REPLAY_TEST_H
#define CFS_REPLAY_TEST_H

#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs_replay.h"
#include "cfs_test_util.h"
#include "cfs_workload.h"

#define RIGHTS_ALL CFS_RIGHTS_ALL

static inline char *rt_tmpdir(void)
{
    return cfs_test_tmpdir("cfs-replay");
}

static inline void rt_rmtree(const char *dir)
{
    cfs_test_rmtree(dir);
}

static inline cfs_journal *rt_jopen(const char *dir, int create, int read_only,
                                    uint32_t batch_events)
{
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = create;
    o.read_only = read_only;
    if (batch_events)
        o.batch_events = batch_events;
    cfs_journal *j;
    char err[256];
    int rc = cfs_journal_open(dir, &o, &j, err, sizeof(err));
    cr_assert_eq(rc, 0, "open %s: %s: %s", dir, cfs_strerror(rc), err);
    return j;
}

/*
 * A world: a writer journal in a temp dir, an engine journaling into it
 * through a sink that also keeps a deep copy of each event (rec), and the
 * live state hash after every seq (hash[seq]).
 */
typedef struct rt_world {
    char *dir;
    cfs_journal *j;
    cfs_fs *fs;
    cfs_time clock;
    cfs_sink jsink;
    cfs_recorder rec;
    cfs_sink rsink;
    cfs_hash128 *hash;   /* hash[seq] for seq 0..cap-1, as the live engine had it */
    size_t hcap;
} rt_world;

static inline cfs_errno rt_tee_append(void *ctx, const cfs_event *ev)
{
    rt_world *w = ctx;
    cfs_errno e = w->jsink.append(w->jsink.ctx, ev);
    if (!e)
        e = w->rsink.append(w->rsink.ctx, ev);
    return e;
}

static inline cfs_errno rt_tee_sync(void *ctx)
{
    rt_world *w = ctx;
    return w->jsink.sync(w->jsink.ctx);
}

static inline void rt_note_hash(rt_world *w)
{
    uint64_t seq = cfs_fs_seq(w->fs);
    if (seq >= w->hcap) {
        size_t cap = w->hcap ? w->hcap : 1024;
        while (cap <= seq)
            cap *= 2;
        w->hash = realloc(w->hash, cap * sizeof(*w->hash));
        cr_assert(w->hash);
        memset(w->hash + w->hcap, 0, (cap - w->hcap) * sizeof(*w->hash));
        w->hcap = cap;
    }
    w->hash[seq] = cfs_fs_hash(w->fs);
}

/* batch_events: small values make many frames. */
static inline void rt_begin(rt_world *w, uint32_t batch_events)
{
    memset(w, 0, sizeof(*w));
    w->dir = rt_tmpdir();
    w->j = rt_jopen(w->dir, 1, 0, batch_events);
    w->jsink = cfs_journal_sink(w->j);
    w->rsink = cfs_recorder_sink(&w->rec);
    w->clock = UINT64_C(1700000000000000000);
    cfs_config cfg = {.clock = cfs_workload_clock, .clock_ctx = &w->clock,
                      .sink = {rt_tee_append, rt_tee_sync, w}};
    w->fs = cfs_fs_new(&cfg);
    cr_assert(w->fs);
    rt_note_hash(w);
}

/* Run the random workload until `events` more events are recorded,
 * noting the hash after each call (each call emits at most one event,
 * except workload step 0's two mkdirs, whose first state is then not noted). */
static inline void rt_workload(rt_world *w, cfs_rng *r, uint64_t events,
                               size_t max_write)
{
    uint64_t target = cfs_fs_seq(w->fs) + events;
    for (uint64_t calls = 0; cfs_fs_seq(w->fs) < target && calls < 100 * events; calls++) {
        cfs_workload_step(w->fs, r, max_write);
        rt_note_hash(w);
    }
}

/* Commit everything and reopen the journal read-only (the engine stays). */
static inline void rt_reopen_ro(rt_world *w)
{
    cr_assert_eq(cfs_journal_close(w->j), 0);
    cfs_fs_set_sink(w->fs, NULL);
    w->j = rt_jopen(w->dir, 0, 1, 0);
}

static inline void rt_end(rt_world *w)
{
    cfs_journal_close(w->j);
    cfs_fs_free(w->fs);
    cfs_recorder_reset(&w->rec);
    free(w->hash);
    rt_rmtree(w->dir);
    free(w->dir);
    memset(w, 0, sizeof(*w));
}

/* The recorded event with this seq. */
static inline const cfs_event *rt_event(const rt_world *w, uint64_t seq)
{
    cr_assert(seq >= 1 && seq <= w->rec.count, "no recorded seq %" PRIu64, seq);
    const cfs_event *ev = &w->rec.events[seq - 1];
    cr_assert_eq(ev->seq, seq);
    return ev;
}

static inline int rt_hash_eq(cfs_hash128 a, cfs_hash128 b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

static inline uint64_t rt_seed(uint64_t dflt)
{
    return cfs_test_env_u64("CFS_TEST_SEED", dflt);
}

/* ---- engine calls that must succeed -------------------------------------- */

static inline cfs_fd rt_open(cfs_fs *fs, const char *path, uint16_t oflags)
{
    cfs_fd fd;
    cfs_errno e = cfs_path_open(fs, CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, path,
                                oflags, RIGHTS_ALL, RIGHTS_ALL, 0, &fd);
    cr_assert_eq(e, 0, "open %s: %s", path, cfs_errno_name(e));
    return fd;
}

static inline void rt_write(cfs_fs *fs, cfs_fd fd, const char *s)
{
    size_t n;
    cfs_errno e = cfs_fd_write(fs, fd, s, strlen(s), &n);
    cr_assert_eq(e, 0, "write fd %u: %s", fd, cfs_errno_name(e));
}

static inline void rt_pwrite(cfs_fs *fs, cfs_fd fd, const void *s, size_t len,
                             uint64_t off)
{
    size_t n;
    cfs_errno e = cfs_fd_pwrite(fs, fd, s, len, off, &n);
    cr_assert_eq(e, 0, "pwrite fd %u: %s", fd, cfs_errno_name(e));
}

#define RT_OK(call)                                                            \
    do {                                                                       \
        cfs_errno e_ = (call);                                                 \
        cr_assert_eq(e_, 0, "%s: %s", #call, cfs_errno_name(e_));              \
    } while (0)

/* ---- replay calls that must succeed -------------------------------------- */

/* The lines cfs_replay_log prints (text or JSON) for a range and filter,
 * as one malloc'd string. */
static inline char *rt_log(cfs_journal *j, uint64_t from, uint64_t to,
                           const cfs_filter *f, int json)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    cr_assert(out);
    cfs_log_opts o = {from, to, f, json};
    char err[512] = "";
    int rc = cfs_replay_log(j, &o, out, NULL, err, sizeof(err));
    fclose(out);
    cr_assert_eq(rc, 0, "log: %s: %s", cfs_strerror(rc), err);
    return buf;
}

/* The seqs a stepper shows for a range and filter, into out (cap n);
 * returns the count. */
static inline size_t rt_shown(cfs_journal *j, uint64_t from, uint64_t to,
                              const cfs_filter *f, uint64_t *out, size_t n)
{
    cfs_stepper *s;
    char err[512] = "";
    int rc = cfs_stepper_open(j, from, to, f, &s, err, sizeof(err));
    cr_assert_eq(rc, 0, "stepper: %s: %s", cfs_strerror(rc), err);
    size_t k = 0;
    cfs_step st;
    while ((rc = cfs_stepper_next(s, &st)) == 1) {
        cr_assert_lt(k, n);
        out[k++] = st.ev->seq;
    }
    cr_assert_eq(rc, 0, "stepper: %s: %s", cfs_strerror(rc), cfs_stepper_errmsg(s));
    cfs_stepper_close(s);
    return k;
}

#endif
