/*
 * test_stream.c — send / receive, as a user moving a journal between
 * hosts relies on it: a full stream, then incremental ones, rebuild the
 * same states on the other side; a stream onto the wrong base, a cut or
 * damaged stream, a newer one, is refused and leaves the receiving
 * journal exactly as it was.
 * Property tests print their seed; CFS_TEST_SEED replays one.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>
#include <xxhash.h>

#include "cfs_journal.h"
#include "cfs_test_util.h"
#include "cfs_workload.h"

static char *tmpdir(void)
{
    return cfs_test_tmpdir("cfs-stream");
}

static void rmtree(char *dir)
{
    cfs_test_rmtree(dir);
    free(dir);
}

static cfs_journal *jopen_with(const char *dir, int create, int read_only, uint32_t batch,
                               cfs_durability dur)
{
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = create;
    o.read_only = read_only;
    o.batch_events = batch;
    o.durability = dur;
    cfs_journal *j;
    char err[256];
    int rc = cfs_journal_open(dir, &o, &j, err, sizeof(err));
    cr_assert_eq(rc, 0, "open %s: %s", dir, err);
    return j;
}

static cfs_journal *jopen(const char *dir, int create, int read_only)
{
    return jopen_with(dir, create, read_only, 100, CFS_DURABILITY_NONE);
}

static int eq(cfs_hash128 a, cfs_hash128 b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

/* ---- streams in memory --------------------------------------------------------------- */

struct mem {
    uint8_t *p;
    size_t len, cap, pos;
    cfs_rng *chop; /* if set, reads return random short counts */
};

static int mem_write(void *ctx, const void *buf, size_t len)
{
    struct mem *m = ctx;
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + len)
            cap *= 2;
        m->p = realloc(m->p, cap);
        cr_assert(m->p);
        m->cap = cap;
    }
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    return 0;
}

static int mem_read(void *ctx, void *buf, size_t len, size_t *got)
{
    struct mem *m = ctx;
    size_t n = m->len - m->pos;
    if (n > len)
        n = len;
    if (m->chop && n > 1)
        n = 1 + (size_t)cfs_rng_below(m->chop, n < 5000 ? n : 5000);
    memcpy(buf, m->p + m->pos, n);
    m->pos += n;
    *got = n;
    return 0;
}

static struct mem send_mem(cfs_journal *j, uint64_t since, cfs_send_report *rep)
{
    struct mem m = {0};
    int rc = cfs_journal_send(j, since, mem_write, &m, rep);
    cr_assert_eq(rc, 0, "send since %" PRIu64 ": %s: %s", since, cfs_strerror(rc),
                 cfs_journal_errmsg(j));
    return m;
}

/* Receive bytes p[0..len). */
static int recv_bytes(cfs_journal *j, const uint8_t *p, size_t len, cfs_rng *chop,
                      cfs_receive_report *rep)
{
    struct mem m = {(uint8_t *)p, len, len, 0, chop};
    return cfs_journal_receive(j, mem_read, &m, rep);
}

static void recv_ok(cfs_journal *j, const struct mem *m, cfs_rng *chop, cfs_receive_report *rep)
{
    int rc = recv_bytes(j, m->p, m->len, chop, rep);
    cr_assert_eq(rc, 0, "receive: %s: %s", cfs_strerror(rc), cfs_journal_errmsg(j));
}

/* ---- a source journal with a random workload --------------------------------------- */

struct src {
    char *dir;
    cfs_journal *j;
    cfs_fs *fs;
    cfs_time clock;
    cfs_rng r;
    cfs_hash128 *at; /* the live state after each seq a call ended on */
    uint8_t *have;
    size_t cap;
    uint64_t snaps[256];
    unsigned nsnap;
    size_t max_write;
};

static void src_note(struct src *s)
{
    uint64_t seq = cfs_fs_seq(s->fs);
    if (seq >= s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap <= seq)
            cap *= 2;
        s->at = realloc(s->at, cap * sizeof(*s->at));
        s->have = realloc(s->have, cap);
        cr_assert(s->at && s->have);
        memset(s->have + s->cap, 0, cap - s->cap);
        s->cap = cap;
    }
    s->at[seq] = cfs_fs_hash(s->fs);
    s->have[seq] = 1;
}

static void src_open(struct src *s, uint64_t seed, uint32_t batch, size_t max_write)
{
    memset(s, 0, sizeof(*s));
    s->dir = tmpdir();
    s->j = jopen_with(s->dir, 1, 0, batch, CFS_DURABILITY_NONE);
    cfs_config cfg = {.clock = cfs_workload_clock, .clock_ctx = &s->clock,
                      .sink = cfs_journal_sink(s->j)};
    s->fs = cfs_fs_new(&cfg);
    cr_assert(s->fs);
    cfs_rng_seed(&s->r, seed);
    s->max_write = max_write;
    src_note(s);
}

static uint64_t src_snapshot(struct src *s)
{
    uint64_t seq = cfs_fs_seq(s->fs);
    if (s->nsnap && s->snaps[s->nsnap - 1] == seq)
        return seq;
    char label[32];
    snprintf(label, sizeof(label), "s%u", s->nsnap);
    int rc = cfs_journal_snapshot(s->j, s->fs, label, "explicit", s->clock, NULL);
    cr_assert_eq(rc, 0, "snapshot: %s", cfs_journal_errmsg(s->j));
    cr_assert_lt(s->nsnap, 256);
    s->snaps[s->nsnap++] = seq;
    return seq;
}

/* Run `events` more seqs, snapshotting after a call with chance pct%. */
static void src_run(struct src *s, uint64_t events, unsigned pct)
{
    uint64_t until = cfs_fs_seq(s->fs) + events;
    while (cfs_fs_seq(s->fs) < until) {
        cfs_workload_step(s->fs, &s->r, s->max_write);
        src_note(s);
        if (pct && cfs_rng_chance(&s->r, pct) && s->nsnap < 200)
            src_snapshot(s);
    }
}

static void src_close(struct src *s)
{
    if (s->j)
        cr_assert_eq(cfs_journal_close(s->j), 0);
    cfs_fs_free(s->fs);
    free(s->at);
    free(s->have);
    rmtree(s->dir);
}

/* ---- what a journal holds ------------------------------------------------------------ */

struct fp {
    uint64_t committed;
    unsigned n;
    uint64_t seq[256];
    cfs_hash128 hash[256];
    cfs_hash128 head; /* with deep: the state at the head */
};

static int fp_snap(void *ctx, const cfs_snapshot_info *s)
{
    struct fp *f = ctx;
    cr_assert_lt(f->n, 256);
    f->seq[f->n] = s->seq;
    f->hash[f->n] = s->state_hash;
    f->n++;
    return 0;
}

static void fp_take(cfs_journal *j, struct fp *f, int deep)
{
    memset(f, 0, sizeof(*f));
    f->committed = cfs_journal_committed(j);
    cr_assert_eq(cfs_journal_snapshots(j, fp_snap, f), 0, "%s", cfs_journal_errmsg(j));
    if (deep) {
        cfs_fs *fs;
        int rc = cfs_journal_open_at(j, 0, NULL, &fs);
        cr_assert_eq(rc, 0, "open at the head: %s", cfs_journal_errmsg(j));
        f->head = cfs_fs_hash(fs);
        cfs_fs_free(fs);
    }
}

static void fp_same(cfs_journal *j, const struct fp *want, int deep, const char *what)
{
    struct fp got;
    fp_take(j, &got, deep);
    cr_assert_eq(got.committed, want->committed, "%s: committed %" PRIu64 ", was %" PRIu64,
                 what, got.committed, want->committed);
    cr_assert_eq(got.n, want->n, "%s: %u snapshots, were %u", what, got.n, want->n);
    for (unsigned i = 0; i < got.n; i++)
        cr_assert(got.seq[i] == want->seq[i] && eq(got.hash[i], want->hash[i]),
                  "%s: snapshot %u changed", what, i);
    if (deep)
        cr_assert(eq(got.head, want->head), "%s: the state at the head changed", what);
}

/* The receiver opens every snapshot of the source from `from` on, and
 * `samples` random seqs in [from, head], to the source's live states. */
static void past_states(struct src *s, cfs_journal *rj, uint64_t from, unsigned samples,
                        const char *what)
{
    uint64_t head = cfs_fs_seq(s->fs);
    for (unsigned k = 0; k < s->nsnap + samples + 1; k++) {
        uint64_t seq = k < s->nsnap ? s->snaps[k]
                       : k == s->nsnap ? head
                                       : from + cfs_rng_below(&s->r, head - from + 1);
        if (seq < from)
            continue;
        while (seq > from && !s->have[seq])
            seq--;
        if (!s->have[seq] || seq == 0) /* (seq 0 would mean the head) */
            continue;
        cfs_fs *fs;
        int rc = cfs_journal_open_at(rj, seq, NULL, &fs);
        cr_assert_eq(rc, 0, "%s: open the receiver at %" PRIu64 ": %s", what, seq,
                     cfs_journal_errmsg(rj));
        cr_assert_eq(cfs_fs_seq(fs), seq);
        cr_assert(eq(cfs_fs_hash(fs), s->at[seq]), "%s: the state at seq %" PRIu64
                  " differs from the source's", what, seq);
        cfs_fs_free(fs);
    }
}

/* ... and it is at the source's head. */
static void same_states(struct src *s, cfs_journal *rj, uint64_t from, unsigned samples,
                        const char *what)
{
    uint64_t head = cfs_fs_seq(s->fs);
    cr_assert_eq(cfs_journal_committed(rj), head, "%s: the receiver is at %" PRIu64
                 ", the source at %" PRIu64, what, cfs_journal_committed(rj), head);
    past_states(s, rj, from, samples, what);
}

/* ---- round trips ---------------------------------------------------------------------- */

Test(stream, a_full_stream_rebuilds_every_state_from_its_base, .timeout = 300)
{
    static const uint64_t defaults[] = {41, 42, 43};
    uint64_t seeds[3];
    size_t ns = cfs_test_seeds(defaults, 3, seeds);
    for (size_t si = 0; si < ns; si++) {
        printf("stream full round trip seed %" PRIu64 "\n", seeds[si]);
        struct src s;
        src_open(&s, seeds[si], 64, 90000);
        src_run(&s, 200, 0);
        uint64_t base = src_snapshot(&s);
        src_run(&s, 1200, 1);
        cfs_send_report sr;
        struct mem m = send_mem(s.j, 0, &sr);
        cr_assert_eq(sr.kind, CFS_STREAM_FULL);
        cr_assert_eq(sr.base_seq, base);
        cr_assert_eq(sr.head_seq, cfs_fs_seq(s.fs));
        cr_assert_eq(sr.snapshots, s.nsnap);
        cr_assert_eq(sr.events, cfs_fs_seq(s.fs) - base);
        cr_assert_eq(sr.bytes, m.len);

        char *rdir = tmpdir();
        cfs_journal *rj = jopen(rdir, 1, 0);
        cfs_receive_report rr;
        cfs_rng chop;
        cfs_rng_seed(&chop, seeds[si]);
        recv_ok(rj, &m, &chop, &rr);
        cr_assert_eq(rr.bytes, m.len);
        cr_assert_str_eq(rr.origin, cfs_journal_id(s.j));
        cr_assert_eq(rr.snapshots_added, s.nsnap);
        cr_assert_eq(rr.chunks_added, sr.chunks);
        cr_assert_eq(rr.events_added, sr.events);
        cr_assert_eq(rr.events_present, 0);
        same_states(&s, rj, base, 60, "full");
        /* the snapshots came whole: labels and triggers too */
        cfs_snapshot_info f;
        cr_assert_eq(cfs_journal_find_snapshot(rj, "s0", &f), 0, "%s", cfs_journal_errmsg(rj));
        cr_assert_eq(f.seq, base);
        cr_assert_str_eq(f.trigger, "explicit");
        /* seqs before the base were not sent */
        if (base > 1) {
            cfs_fs *fs;
            cr_assert_eq(cfs_journal_open_at(rj, base - 1, NULL, &fs), CFS_JE_NOTFOUND);
        }
        cr_assert_eq(cfs_journal_verify(rj), 0, "%s", cfs_journal_errmsg(rj));
        /* and from disk, reopened read-only */
        cr_assert_eq(cfs_journal_close(rj), 0);
        rj = jopen(rdir, 0, 1);
        same_states(&s, rj, base, 20, "full, reopened");
        cfs_journal_close(rj);
        free(m.p);
        rmtree(rdir);
        src_close(&s);
    }
}

Test(stream, a_journal_without_snapshots_sends_its_events_from_seq_1)
{
    struct src s;
    src_open(&s, 7, 50, 3000);
    src_run(&s, 400, 0);
    cfs_send_report sr;
    struct mem m = send_mem(s.j, 0, &sr);
    cr_assert_eq(sr.kind, CFS_STREAM_FROM_START);
    cr_assert_eq(sr.base_seq, 0);
    cr_assert_eq(sr.snapshots, 0);
    cr_assert_eq(sr.chunks, 0);
    cr_assert_eq(sr.events, cfs_fs_seq(s.fs));
    char *rdir = tmpdir();
    cfs_journal *rj = jopen(rdir, 1, 0);
    recv_ok(rj, &m, NULL, NULL);
    same_states(&s, rj, 1, 80, "from seq 1");
    /* the same stream again: the same history, nothing to add */
    cfs_receive_report rr;
    recv_ok(rj, &m, NULL, &rr);
    cr_assert_eq(rr.events_added, 0);
    cr_assert_eq(rr.events_present, sr.events);
    cfs_journal_close(rj);
    rmtree(rdir);
    free(m.p);
    src_close(&s);
}

Test(stream, an_empty_journal_round_trips)
{
    struct src s;
    src_open(&s, 1, 100, 100);
    cfs_send_report sr;
    struct mem m = send_mem(s.j, 0, &sr);
    cr_assert_eq(sr.kind, CFS_STREAM_FROM_START);
    cr_assert_eq(sr.head_seq, 0);
    cr_assert_eq(sr.frames + sr.chunks + sr.snapshots, 0);
    char *rdir = tmpdir();
    cfs_journal *rj = jopen(rdir, 1, 0);
    recv_ok(rj, &m, NULL, NULL);
    cr_assert_eq(cfs_journal_committed(rj), 0);
    struct fp f;
    fp_take(rj, &f, 1);
    cr_assert_eq(f.n, 0);
    /* a journal that only has a snapshot of the empty state */
    uint64_t seq = src_snapshot(&s);
    cr_assert_eq(seq, 0);
    free(m.p);
    m = send_mem(s.j, 0, &sr);
    cr_assert_eq(sr.kind, CFS_STREAM_FULL);
    char *r2 = tmpdir();
    cfs_journal *rj2 = jopen(r2, 1, 0);
    recv_ok(rj2, &m, NULL, NULL);
    fp_take(rj2, &f, 1);
    cr_assert_eq(f.n, 1);
    cr_assert_eq(f.committed, 0);
    /* and it goes on from there */
    src_run(&s, 50, 0);
    src_snapshot(&s);
    src_run(&s, 50, 0);
    free(m.p);
    m = send_mem(s.j, 0, &sr);
    recv_ok(rj2, &m, NULL, NULL);
    same_states(&s, rj2, 0, 20, "from the empty snapshot");
    /* an incremental stream with nothing new */
    free(m.p);
    m = send_mem(s.j, s.snaps[1], &sr);
    cr_assert_eq(sr.events, cfs_fs_seq(s.fs) - s.snaps[1]);
    src_snapshot(&s);
    free(m.p);
    m = send_mem(s.j, s.snaps[2], &sr);
    cr_assert_eq(sr.kind, CFS_STREAM_INCREMENTAL);
    cr_assert_eq(sr.frames + sr.chunks + sr.snapshots, 0);
    cr_assert_eq(sr.head_seq, sr.base_seq);
    cfs_journal_close(rj);
    cfs_journal_close(rj2);
    rmtree(rdir);
    rmtree(r2);
    free(m.p);
    src_close(&s);
}

Test(stream, incremental_chains_rebuild_every_state, .timeout = 300)
{
    struct src s;
    src_open(&s, 51, 80, 70000);
    src_run(&s, 300, 0);
    uint64_t base = src_snapshot(&s);
    src_run(&s, 200, 1);
    src_snapshot(&s);
    char *rdir = tmpdir();
    cfs_journal *rj = jopen(rdir, 1, 0);
    cfs_send_report full;
    struct mem m = send_mem(s.j, 0, &full);
    recv_ok(rj, &m, NULL, NULL);
    free(m.p);
    same_states(&s, rj, base, 20, "hop 0");
    for (int hop = 1; hop <= 4; hop++) {
        uint64_t since = s.snaps[s.nsnap - 1];
        src_run(&s, 250, hop % 2);
        if (hop != 3)
            src_snapshot(&s); /* hop 3: events only, no new snapshot */
        cfs_send_report sr;
        m = send_mem(s.j, since, &sr);
        cr_assert_eq(sr.kind, CFS_STREAM_INCREMENTAL);
        cr_assert_eq(sr.base_seq, since);
        cr_assert_eq(sr.events, cfs_fs_seq(s.fs) - since);
        cr_assert_lt(sr.chunks, full.chunks + 200, "an incremental stream resends chunks");
        cfs_receive_report rr;
        recv_ok(rj, &m, NULL, &rr);
        cr_assert_eq(rr.kind, CFS_STREAM_INCREMENTAL);
        /* hop 4 starts before the events hop 3 brought */
        cr_assert_eq(rr.events_added + rr.events_present, sr.events);
        cr_assert(hop == 4 ? rr.events_present > 0 : rr.events_present == 0);
        free(m.p);
        char what[32];
        snprintf(what, sizeof(what), "hop %d", hop);
        same_states(&s, rj, base, 30, what);
    }
    /* from an older snapshot: the receiver has part of it already */
    uint64_t old = s.snaps[1];
    src_run(&s, 200, 0);
    src_snapshot(&s);
    cfs_receive_report rr;
    m = send_mem(s.j, old, NULL);
    recv_ok(rj, &m, NULL, &rr);
    free(m.p);
    cr_assert_gt(rr.events_present, 0);
    cr_assert_gt(rr.snapshots_present, 0);
    cr_assert_eq(rr.snapshots_added, 1);
    same_states(&s, rj, base, 30, "from an older snapshot");
    cr_assert_eq(cfs_journal_verify(rj), 0, "%s", cfs_journal_errmsg(rj));
    cfs_journal_close(rj);
    rmtree(rdir);
    src_close(&s);
}

/* The receiver holds some of the events past the base already, framed
 * its own way: identical ones are skipped wherever the frames fall; one
 * that differs is a diverged history, refused. */
struct copy_ctx {
    cfs_journal *to;
    uint64_t upto;
    int alter; /* change the time of the event at seq upto */
};

static int copy_event(void *ctx, const cfs_event *ev)
{
    struct copy_ctx *c = ctx;
    if (ev->seq > c->upto)
        return 1;
    cfs_event e = *ev;
    if (c->alter && ev->seq == c->upto)
        e.time += 1;
    int rc = cfs_journal_append(c->to, &e);
    cr_assert_eq(rc, 0, "append %" PRIu64 ": %s", ev->seq, cfs_journal_errmsg(c->to));
    return 0;
}

Test(stream, events_the_receiver_has_are_compared_and_skipped)
{
    for (int alter = 0; alter < 2; alter++) {
        struct src s;
        src_open(&s, 61, 40, 20000);
        src_run(&s, 150, 0);
        uint64_t base = src_snapshot(&s);
        src_run(&s, 10, 0);
        char *rdir = tmpdir();
        cfs_journal *rj = jopen_with(rdir, 1, 0, 7, CFS_DURABILITY_BATCH);
        struct mem m = send_mem(s.j, 0, NULL);
        recv_ok(rj, &m, NULL, NULL);
        free(m.p);
        src_run(&s, 300, 0);
        src_snapshot(&s);
        src_run(&s, 20, 0);
        /* the receiver gets the source's events up to just past its second
         * snapshot on its own, in frames of 7 */
        uint64_t own = s.snaps[1] + 3;
        struct copy_ctx c = {rj, own, alter};
        cr_assert_eq(cfs_journal_sync(s.j), 0);
        int rc = cfs_journal_foreach(s.j, cfs_journal_committed(rj) + 1, 0, copy_event, &c);
        cr_assert(rc == 0 || rc == 1);
        cr_assert_eq(cfs_journal_sync(rj), 0);
        struct fp before;
        fp_take(rj, &before, 1);
        cr_assert_eq(before.committed, own);
        m = send_mem(s.j, base, NULL);
        cfs_receive_report rr;
        rc = recv_bytes(rj, m.p, m.len, NULL, &rr);
        if (!alter) {
            cr_assert_eq(rc, 0, "%s", cfs_journal_errmsg(rj));
            cr_assert_eq(rr.events_present, own - base);
            cr_assert_eq(rr.events_added, cfs_fs_seq(s.fs) - own);
            same_states(&s, rj, base, 60, "after skipping its own events");
            /* its frames straddle that snapshot: sending from it re-frames */
            char *r3 = tmpdir();
            cfs_journal *j3 = jopen(r3, 1, 0);
            struct mem m3 = send_mem(s.j, 0, NULL);
            recv_ok(j3, &m3, NULL, NULL);
            free(m3.p);
            m3 = send_mem(rj, s.snaps[1], NULL);
            struct mem m4 = send_mem(s.j, s.snaps[1], NULL);
            cr_assert_eq(m3.len == m4.len && memcmp(m3.p, m4.p, m3.len) == 0, 0,
                         "the frames differ, so the streams do");
            recv_ok(j3, &m3, NULL, &rr);
            cr_assert_eq(rr.events_present, cfs_fs_seq(s.fs) - s.snaps[1]);
            same_states(&s, j3, base, 30, "a third journal");
            free(m3.p);
            free(m4.p);
            cfs_journal_close(j3);
            rmtree(r3);
        } else {
            cr_assert_eq(rc, CFS_JE_DIVERGED, "%s", cfs_strerror(rc));
            char want[64];
            snprintf(want, sizeof(want), "the event at seq %" PRIu64, own);
            cr_assert(strstr(cfs_journal_errmsg(rj), want), "%s", cfs_journal_errmsg(rj));
            cr_assert(strstr(cfs_journal_errmsg(rj), "diverged"), "%s", cfs_journal_errmsg(rj));
            fp_same(rj, &before, 1, "diverged");
        }
        free(m.p);
        cfs_journal_close(rj);
        rmtree(rdir);
        src_close(&s);
    }
}

/* ---- refusals -------------------------------------------------------------------------- */

Test(stream, an_incremental_stream_onto_the_wrong_base_is_refused)
{
    struct src a, b;
    src_open(&a, 71, 50, 5000);
    src_open(&b, 72, 50, 5000);
    src_run(&a, 100, 0);
    src_run(&b, 100, 0);
    uint64_t a1 = src_snapshot(&a);
    uint64_t b1 = src_snapshot(&b);
    cr_assert_eq(a1, b1, "the two bases are at one seq, in different states");
    struct mem early = send_mem(a.j, 0, NULL);
    src_run(&a, 100, 0);
    uint64_t a2 = src_snapshot(&a);
    src_run(&a, 100, 0);
    struct mem inc = send_mem(a.j, a1, NULL);
    struct mem inc2 = send_mem(a.j, a2, NULL);

    char *rdir = tmpdir();
    cfs_journal *rj = jopen(rdir, 1, 0);
    /* into an empty journal */
    struct fp before;
    fp_take(rj, &before, 1);
    int rc = recv_bytes(rj, inc.p, inc.len, NULL, NULL);
    cr_assert_eq(rc, CFS_JE_NOTFOUND, "%s", cfs_strerror(rc));
    char want[128];
    snprintf(want, sizeof(want), "incremental stream from snapshot at seq %" PRIu64 " (hash ",
             a1);
    cr_assert(strstr(cfs_journal_errmsg(rj), want), "%s", cfs_journal_errmsg(rj));
    cr_assert(strstr(cfs_journal_errmsg(rj), "this journal has no such snapshot"), "%s",
              cfs_journal_errmsg(rj));
    fp_same(rj, &before, 1, "empty");

    /* into a journal holding b's history: a different state at that seq */
    struct mem fb = send_mem(b.j, 0, NULL);
    recv_ok(rj, &fb, NULL, NULL);
    fp_take(rj, &before, 1);
    rc = recv_bytes(rj, inc.p, inc.len, NULL, NULL);
    cr_assert_eq(rc, CFS_JE_DIVERGED, "%s", cfs_strerror(rc));
    snprintf(want, sizeof(want), "a different state at seq %" PRIu64, a1);
    cr_assert(strstr(cfs_journal_errmsg(rj), want), "%s", cfs_journal_errmsg(rj));
    fp_same(rj, &before, 1, "b's history");
    /* nor does a full stream of a's go there: not the same history */
    rc = recv_bytes(rj, early.p, early.len, NULL, NULL);
    cr_assert_eq(rc, CFS_JE_DIVERGED, "%s", cfs_strerror(rc));
    cr_assert(strstr(cfs_journal_errmsg(rj), "not empty"), "%s", cfs_journal_errmsg(rj));
    fp_same(rj, &before, 1, "a full stream of a's");

    /* a's early history, then a stream from a snapshot made after it */
    char *r2 = tmpdir();
    cfs_journal *rj2 = jopen(r2, 1, 0);
    recv_ok(rj2, &early, NULL, NULL);
    fp_take(rj2, &before, 1);
    rc = recv_bytes(rj2, inc2.p, inc2.len, NULL, NULL);
    cr_assert_eq(rc, CFS_JE_NOTFOUND, "%s", cfs_strerror(rc));
    cr_assert(strstr(cfs_journal_errmsg(rj2), "no such snapshot"), "%s",
              cfs_journal_errmsg(rj2));
    fp_same(rj2, &before, 1, "a snapshot it lacks");
    /* the right one goes, and then that one too */
    recv_ok(rj2, &inc, NULL, NULL);
    recv_ok(rj2, &inc2, NULL, NULL);
    same_states(&a, rj2, a1, 20, "a's chain");

    /* send's own refusal: no snapshot at that seq */
    struct mem none = {0};
    rc = cfs_journal_send(a.j, a1 + 1, mem_write, &none, NULL);
    cr_assert_eq(rc, CFS_JE_NOTFOUND);
    cr_assert(strstr(cfs_journal_errmsg(a.j), "no snapshot at seq"), "%s",
              cfs_journal_errmsg(a.j));
    free(none.p);
    /* a read-only journal cannot receive */
    cfs_journal_close(rj2);
    rj2 = jopen(r2, 0, 1);
    cr_assert_eq(recv_bytes(rj2, inc.p, inc.len, NULL, NULL), CFS_JE_READONLY);
    cfs_journal_close(rj2);
    cfs_journal_close(rj);
    rmtree(rdir);
    rmtree(r2);
    free(early.p);
    free(inc.p);
    free(inc2.p);
    free(fb.p);
    src_close(&a);
    src_close(&b);
}

/* A small history, for the tests that try every byte: `early` is a full
 * stream taken when it had only its first snapshot. */
static void small_history(struct src *s, uint64_t seed, struct mem *early)
{
    src_open(s, seed, 9, 700);
    src_run(s, 40, 0);
    src_snapshot(s);
    src_run(s, 5, 0);
    *early = send_mem(s->j, 0, NULL);
    src_run(s, 25, 0);
    src_snapshot(s);
    src_run(s, 25, 0);
}

struct cut_case {
    const char *name;
    struct mem stream;
    char *dir;
    cfs_journal *rj;
    struct fp before;
};

/* A full stream into an empty journal, an incremental one into a journal
 * holding its base (and some of its events). */
static void cut_cases(struct src *s, const struct mem *early, struct cut_case c[2])
{
    c[0].name = "full";
    c[0].stream = send_mem(s->j, 0, NULL);
    c[1].name = "incremental";
    c[1].stream = send_mem(s->j, s->snaps[0], NULL);
    for (int i = 0; i < 2; i++) {
        c[i].dir = tmpdir();
        c[i].rj = jopen(c[i].dir, 1, 0);
    }
    recv_ok(c[1].rj, early, NULL, NULL);
    for (int i = 0; i < 2; i++)
        fp_take(c[i].rj, &c[i].before, 1);
    printf("streams: full %zu bytes, incremental %zu bytes\n", c[0].stream.len,
           c[1].stream.len);
}

static void cut_cases_free(struct cut_case c[2])
{
    for (int i = 0; i < 2; i++) {
        /* after all that, the stream itself still goes */
        recv_ok(c[i].rj, &c[i].stream, NULL, NULL);
        cfs_journal_close(c[i].rj);
        rmtree(c[i].dir);
        free(c[i].stream.p);
    }
}

Test(stream, every_truncation_is_refused_and_changes_nothing, .timeout = 300)
{
    struct src s;
    struct mem early;
    small_history(&s, 81, &early);
    struct cut_case c[2];
    cut_cases(&s, &early, c);
    for (int i = 0; i < 2; i++) {
        const struct mem *m = &c[i].stream;
        for (size_t len = 0; len < m->len; len++) {
            int rc = recv_bytes(c[i].rj, m->p, len, NULL, NULL);
            const char *msg = cfs_journal_errmsg(c[i].rj);
            cr_assert_eq(rc, CFS_JE_CORRUPT, "%s stream cut at %zu: %s (%s)", c[i].name, len,
                         cfs_strerror(rc), msg);
            cr_assert(strstr(msg, "truncated"), "%s stream cut at %zu: %s", c[i].name, len, msg);
            if (len > 8) {
                char want[64];
                snprintf(want, sizeof(want), "stream ends after %zu bytes", len);
                cr_assert(strstr(msg, want), "%s stream cut at %zu: %s", c[i].name, len, msg);
            }
            char what[64];
            snprintf(what, sizeof(what), "%s stream cut at %zu", c[i].name, len);
            fp_same(c[i].rj, &c[i].before, len % 61 == 0, what);
        }
    }
    cut_cases_free(c);
    free(early.p);
    src_close(&s);
}

Test(stream, every_flipped_byte_is_refused_and_changes_nothing, .timeout = 300)
{
    struct src s;
    struct mem early;
    small_history(&s, 82, &early);
    struct cut_case c[2];
    cut_cases(&s, &early, c);
    cfs_rng r;
    cfs_rng_seed(&r, 82);
    for (int i = 0; i < 2; i++) {
        struct mem *m = &c[i].stream;
        for (size_t at = 0; at < m->len; at++) {
            uint8_t mask = (uint8_t)(1u << cfs_rng_below(&r, 8));
            m->p[at] ^= mask;
            int rc = recv_bytes(c[i].rj, m->p, m->len, NULL, NULL);
            m->p[at] ^= mask;
            cr_assert(rc < 0, "%s stream, byte %zu ^ %02x: accepted", c[i].name, at, mask);
            cr_assert(cfs_journal_errmsg(c[i].rj)[0], "no message");
            char what[64];
            snprintf(what, sizeof(what), "%s stream, byte %zu flipped", c[i].name, at);
            fp_same(c[i].rj, &c[i].before, at % 53 == 0, what);
        }
        /* a flip inside a record names the record */
        m->p[m->len / 2] ^= 0x10;
        cr_assert_eq(recv_bytes(c[i].rj, m->p, m->len, NULL, NULL), CFS_JE_CORRUPT);
        m->p[m->len / 2] ^= 0x10;
        cr_assert(strstr(cfs_journal_errmsg(c[i].rj), "stream record "), "%s",
                  cfs_journal_errmsg(c[i].rj));
        cr_assert(strstr(cfs_journal_errmsg(c[i].rj), "checksum mismatch"), "%s",
                  cfs_journal_errmsg(c[i].rj));
    }
    cut_cases_free(c);
    free(early.p);
    src_close(&s);
}

/* Recompute every record's checksum and the end record's whole-stream
 * checksum, as a forger (or a bug) would: what is left is the checks of
 * what the records say. */
static void restamp(struct mem *m)
{
    size_t pos = 8;
    for (uint64_t recno = 1; pos + 8 <= m->len; recno++) {
        uint8_t *p = m->p + pos;
        uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                       (uint32_t)p[3] << 24;
        cr_assert_leq(pos + 16 + len, m->len);
        if (p[4] == 5 && len == 56) { /* end: bytes and whole checksum */
            uint64_t v[2] = {pos, XXH3_64bits(m->p, pos)};
            for (int k = 0; k < 2; k++)
                for (int b = 0; b < 8; b++)
                    p[8 + 40 + 8 * k + b] = (uint8_t)(v[k] >> (8 * b));
        }
        uint64_t sum = XXH3_64bits_withSeed(p, 8 + len, recno);
        for (int b = 0; b < 8; b++)
            p[8 + len + b] = (uint8_t)(sum >> (8 * b));
        pos += 16 + len;
    }
    cr_assert_eq(pos, m->len);
}

/* The offset of the first record of a type, and its body length. */
static size_t find_record(const struct mem *m, uint8_t type, uint32_t *blen)
{
    size_t pos = 8;
    while (pos + 8 <= m->len) {
        const uint8_t *p = m->p + pos;
        uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                       (uint32_t)p[3] << 24;
        if (p[4] == type) {
            *blen = len;
            return pos;
        }
        pos += 16 + len;
    }
    cr_assert_fail("no record of type %u", type);
    return 0;
}

Test(stream, what_the_records_say_is_checked_beyond_their_checksums)
{
    struct src s;
    src_open(&s, 91, 20, 30000);
    src_run(&s, 60, 0);
    src_snapshot(&s);
    src_run(&s, 60, 0);
    struct mem good = send_mem(s.j, 0, NULL);
    char *rdir = tmpdir();
    cfs_journal *rj = jopen(rdir, 1, 0);
    struct fp before;
    fp_take(rj, &before, 1);
    struct mem m = {malloc(good.len), good.len, good.len, 0, NULL};
    struct {
        uint8_t type;
        size_t off; /* into the body; SIZE_MAX: its last byte */
        const char *want;
    } cases[] = {
        {2, 40, "does not match its hash"},        /* chunk content */
        {2, 16, "a block of"},                     /* chunk length */
        {1, 0, "unknown stream kind"},             /* header kind */
        {1, 8, "not 32 hex digits"},               /* header id */
        {1, 65, "ends at seq"},                    /* header head */
        {3, SIZE_MAX, "snapshot at seq"},          /* the snapshot record's own checksum */
        {4, SIZE_MAX, "frame at seq"},             /* the frame's own checksum */
        {5, 0, "records: it says"},                /* end counts */
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        memcpy(m.p, good.p, good.len);
        uint32_t blen;
        size_t at = find_record(&m, cases[k].type, &blen) + 8;
        at += cases[k].off == SIZE_MAX ? blen - 1 : cases[k].off;
        m.p[at] ^= cases[k].type == 1 && cases[k].off == 0 ? 0x07 : 0x41;
        restamp(&m);
        int rc = recv_bytes(rj, m.p, m.len, NULL, NULL);
        cr_assert(rc < 0, "case %zu accepted", k);
        cr_assert(strstr(cfs_journal_errmsg(rj), cases[k].want), "case %zu: %s", k,
                  cfs_journal_errmsg(rj));
        fp_same(rj, &before, 1, cases[k].want);
    }
    /* a chunk left out: the snapshot cannot load */
    uint32_t blen;
    size_t at = find_record(&good, 2, &blen);
    size_t cut = 16 + blen;
    memcpy(m.p, good.p, at);
    memcpy(m.p + at, good.p + at + cut, good.len - at - cut);
    m.len = good.len - cut;
    /* fix the end record's chunk count */
    uint32_t elen;
    size_t e = find_record(&m, 5, &elen) + 8;
    m.p[e]--;     /* records */
    m.p[e + 8]--; /* chunks */
    restamp(&m);
    int rc = recv_bytes(rj, m.p, m.len, NULL, NULL);
    cr_assert_eq(rc, CFS_JE_CORRUPT);
    cr_assert(strstr(cfs_journal_errmsg(rj), "missing"), "%s", cfs_journal_errmsg(rj));
    fp_same(rj, &before, 1, "a chunk left out");
    /* bytes after the end */
    m.p = realloc(m.p, good.len + 1);
    m.len = good.len + 1;
    memcpy(m.p, good.p, good.len);
    m.p[good.len] = 0;
    rc = recv_bytes(rj, m.p, m.len, NULL, NULL);
    cr_assert_eq(rc, CFS_JE_CORRUPT);
    cr_assert(strstr(cfs_journal_errmsg(rj), "bytes follow its end record"), "%s",
              cfs_journal_errmsg(rj));
    fp_same(rj, &before, 1, "trailing bytes");
    /* two streams back to back are two receives, not one */
    free(m.p);
    m.p = malloc(2 * good.len);
    memcpy(m.p, good.p, good.len);
    memcpy(m.p + good.len, good.p, good.len);
    cr_assert_eq(recv_bytes(rj, m.p, 2 * good.len, NULL, NULL), CFS_JE_CORRUPT);
    fp_same(rj, &before, 1, "two streams");
    /* not a stream at all */
    cr_assert_eq(recv_bytes(rj, (const uint8_t *)"hello, world", 12, NULL, NULL), CFS_JE_CORRUPT);
    cr_assert(strstr(cfs_journal_errmsg(rj), "bad magic"), "%s", cfs_journal_errmsg(rj));
    free(m.p);
    free(good.p);
    cfs_journal_close(rj);
    rmtree(rdir);
    src_close(&s);
}

Test(stream, a_newer_stream_version_is_refused_as_such)
{
    struct src s;
    src_open(&s, 3, 20, 1000);
    src_run(&s, 30, 0);
    struct mem m = send_mem(s.j, 0, NULL);
    char *rdir = tmpdir();
    cfs_journal *rj = jopen(rdir, 1, 0);
    struct fp before;
    fp_take(rj, &before, 1);
    m.p[4] = CFS_STREAM_VERSION + 1;
    int rc = recv_bytes(rj, m.p, m.len, NULL, NULL);
    cr_assert_eq(rc, CFS_JE_VERSION, "%s", cfs_strerror(rc));
    cr_assert(strstr(cfs_journal_errmsg(rj), "stream format version 2 is newer than this build"),
              "%s", cfs_journal_errmsg(rj));
    /* even when all that follows is something else */
    cr_assert_eq(recv_bytes(rj, m.p, 6, NULL, NULL), CFS_JE_VERSION);
    fp_same(rj, &before, 1, "newer");
    m.p[4] = 0;
    cr_assert_eq(recv_bytes(rj, m.p, m.len, NULL, NULL), CFS_JE_CORRUPT);
    cfs_journal_close(rj);
    rmtree(rdir);
    free(m.p);
    src_close(&s);
}

/* ---- the bytes ------------------------------------------------------------------------- */

/* The stream of an empty journal whose id is 00 11 22 ... ff: lead-in,
 * header, end (FORMAT.md, "Send streams", worked example). */
static const uint8_t golden_empty[] = {
    /* lead-in: "CFST", version 1, flags 0 */
    0x43, 0x46, 0x53, 0x54, 0x01, 0x00, 0x00, 0x00,
    /* record 1: 72 bytes, type 1 (header) */
    0x48, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* kind 0 (from the start) */
    '0', '0', '1', '1', '2', '2', '3', '3', '4', '4', '5', '5', '6', '6', '7', '7',
    '8', '8', '9', '9', 'a', 'a', 'b', 'b', 'c', 'c', 'd', 'd', 'e', 'e', 'f', 'f',
    0, 0, 0, 0, 0, 0, 0, 0, /* base seq */
    0, 0, 0, 0, 0, 0, 0, 0, /* base hash lo */
    0, 0, 0, 0, 0, 0, 0, 0, /* base hash hi */
    0, 0, 0, 0, 0, 0, 0, 0, /* head seq */
    0x11, 0x86, 0xf5, 0x9d, 0xe3, 0x4a, 0xe3, 0x85, /* xxh3-64, seed 1, of bytes 8..88 */
    /* record 2: 56 bytes, type 5 (end) */
    0x38, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,
    0x01, 0, 0, 0, 0, 0, 0, 0, /* 1 record before it */
    0, 0, 0, 0, 0, 0, 0, 0,    /* chunks */
    0, 0, 0, 0, 0, 0, 0, 0,    /* snapshots */
    0, 0, 0, 0, 0, 0, 0, 0,    /* frames */
    0, 0, 0, 0, 0, 0, 0, 0,    /* events */
    0x60, 0, 0, 0, 0, 0, 0, 0, /* 96 bytes before it */
    0x8a, 0x26, 0x28, 0x03, 0x22, 0x1c, 0x30, 0x0a, /* xxh3-64 of bytes 0..96 */
    0xa5, 0x44, 0xdd, 0x1d, 0xe6, 0x87, 0xec, 0x26, /* xxh3-64, seed 2, of bytes 96..160 */
};

static void set_id(const char *dir)
{
    uint8_t id[16];
    for (int i = 0; i < 16; i++)
        id[i] = (uint8_t)(0x11 * i);
    cfs_test_lmdb_put(dir, "meta", "id", 2, id, 16);
}

Test(stream, the_bytes_of_a_tiny_stream_are_fixed)
{
    char *dir = tmpdir();
    cfs_journal *j = jopen(dir, 1, 0);
    cfs_journal_close(j);
    set_id(dir);
    j = jopen(dir, 0, 1);
    cr_assert_str_eq(cfs_journal_id(j), "00112233445566778899aabbccddeeff");
    struct mem m = send_mem(j, 0, NULL);
    if (m.len != sizeof(golden_empty) || memcmp(m.p, golden_empty, m.len) != 0) {
        for (size_t i = 0; i < m.len; i++) /* to compare by eye, or to regenerate */
            printf("%02x%s", m.p[i], i % 16 == 15 ? "\n" : " ");
        printf("\n");
    }
    cr_assert_eq(m.len, sizeof(golden_empty));
    /* the checksums are what FORMAT.md says they are */
    cr_assert_eq(XXH3_64bits_withSeed(golden_empty + 8, 80, 1), UINT64_C(0x85e34ae39df58611));
    cr_assert_eq(XXH3_64bits(golden_empty, 96), UINT64_C(0x0a301c220328268a));
    cr_assert_eq(XXH3_64bits_withSeed(golden_empty + 96, 64, 2), UINT64_C(0x26ec87e61ddd44a5));
    for (size_t i = 0; i < m.len; i++)
        cr_assert_eq(m.p[i], golden_empty[i], "byte %zu: %02x, golden %02x", i, m.p[i],
                     golden_empty[i]);
    cfs_journal_close(j);
    /* and the golden bytes are received as they are */
    char *rdir = tmpdir();
    cfs_journal *rj = jopen(rdir, 1, 0);
    cfs_receive_report rr;
    cr_assert_eq(recv_bytes(rj, golden_empty, sizeof(golden_empty), NULL, &rr), 0, "%s",
                 cfs_journal_errmsg(rj));
    cr_assert_str_eq(rr.origin, "00112233445566778899aabbccddeeff");
    cfs_journal_close(rj);
    rmtree(rdir);
    free(m.p);
    rmtree(dir);
}

/* ---- other shapes of journals ---------------------------------------------------------- */

Test(stream, a_compacted_journal_sends_from_its_oldest_kept_snapshot, .timeout = 300)
{
    struct src s;
    src_open(&s, 101, 50, 60000);
    for (int k = 0; k < 5; k++) {
        src_run(&s, 150, 0);
        src_snapshot(&s);
    }
    src_run(&s, 77, 0);
    cfs_compact_report cr;
    cr_assert_eq(cfs_journal_compact(s.j, 2, &cr), 0, "%s", cfs_journal_errmsg(s.j));
    uint64_t oldest = s.snaps[3];
    cr_assert_eq(cr.first_seq, oldest);
    cfs_send_report sr;
    struct mem m = send_mem(s.j, 0, &sr);
    cr_assert_eq(sr.kind, CFS_STREAM_FULL);
    cr_assert_eq(sr.base_seq, oldest);
    cr_assert_eq(sr.snapshots, 2);
    char *rdir = tmpdir();
    cfs_journal *rj = jopen(rdir, 1, 0);
    recv_ok(rj, &m, NULL, NULL);
    free(m.p);
    /* only the kept snapshots count: the compacted ones are gone */
    memmove(s.snaps, s.snaps + 3, 2 * sizeof(s.snaps[0]));
    s.nsnap = 2;
    same_states(&s, rj, oldest, 40, "compacted");
    /* and it goes on, incrementally, after compacting again */
    src_run(&s, 100, 0);
    src_snapshot(&s);
    cr_assert_eq(cfs_journal_compact(s.j, 2, NULL), 0);
    m = send_mem(s.j, s.snaps[1], NULL);
    recv_ok(rj, &m, NULL, NULL);
    free(m.p);
    same_states(&s, rj, oldest, 40, "compacted, then incremental");
    cfs_journal_close(rj);
    rmtree(rdir);
    src_close(&s);
}

Test(stream, a_forked_journal_round_trips)
{
    struct src s;
    src_open(&s, 111, 50, 20000);
    src_run(&s, 300, 0);
    src_snapshot(&s);
    src_run(&s, 100, 0);
    uint64_t at = cfs_fs_seq(s.fs) - 50;
    while (!s.have[at])
        at--;
    char *fdir = tmpdir();
    rmdir(fdir);
    cfs_journal *fj;
    cfs_fs *ffs;
    int rc = cfs_journal_fork(s.j, at, fdir, NULL, &fj, &ffs);
    cr_assert_eq(rc, 0, "fork: %s", cfs_journal_errmsg(s.j));
    /* a fork with nothing after its base */
    cfs_send_report sr;
    struct mem m = send_mem(fj, 0, &sr);
    cr_assert_eq(sr.kind, CFS_STREAM_FULL);
    cr_assert_eq(sr.base_seq, at);
    cr_assert_eq(sr.head_seq, at);
    cr_assert_eq(sr.frames, 0);
    char *rdir = tmpdir();
    cfs_journal *rj = jopen(rdir, 1, 0);
    recv_ok(rj, &m, NULL, NULL);
    free(m.p);
    cr_assert_eq(cfs_journal_committed(rj), at);
    /* the fork goes its own way; then an incremental stream */
    cfs_time clock = 5000000000;
    cfs_config cfg = {.clock = cfs_workload_clock, .clock_ctx = &clock,
                      .sink = cfs_journal_sink(fj)};
    cfs_fs_set_sink(ffs, &cfg.sink);
    cfs_rng r;
    cfs_rng_seed(&r, 5);
    cfs_workload_run(ffs, &r, 200, 20000);
    cr_assert_eq(cfs_journal_snapshot(fj, ffs, "f1", NULL, 0, NULL), 0);
    cfs_workload_run(ffs, &r, 30, 20000);
    cfs_hash128 head = cfs_fs_hash(ffs);
    m = send_mem(fj, at, &sr);
    recv_ok(rj, &m, NULL, NULL);
    free(m.p);
    cfs_fs *fs;
    cr_assert_eq(cfs_journal_open_at(rj, 0, NULL, &fs), 0, "%s", cfs_journal_errmsg(rj));
    cr_assert_eq(cfs_fs_seq(fs), cfs_fs_seq(ffs));
    cr_assert(eq(cfs_fs_hash(fs), head));
    cfs_fs_free(fs);
    cfs_journal_close(rj);
    cfs_journal_close(fj);
    cfs_fs_free(ffs);
    rmtree(rdir);
    rmtree(fdir);
    src_close(&s);
}

Test(stream, a_received_journal_goes_on_writing_and_sends_in_turn)
{
    for (int dur = 0; dur < 3; dur++) {
        struct src s;
        src_open(&s, 121, 30, 8000);
        src_run(&s, 200, 0);
        uint64_t base = src_snapshot(&s);
        src_run(&s, 80, 0);
        char *rdir = tmpdir();
        cfs_journal *rj = jopen_with(rdir, 1, 0, 16, (cfs_durability)dur);
        /* through a file descriptor, as `chronofs send J > S` and
         * `chronofs receive J2 < S` */
        char path[4200];
        snprintf(path, sizeof(path), "%s.stream", rdir);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        cr_assert_geq(fd, 0);
        cfs_send_report sr;
        cr_assert_eq(cfs_journal_send_fd(s.j, 0, fd, &sr), 0, "%s", cfs_journal_errmsg(s.j));
        cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
        cfs_receive_report rr;
        cr_assert_eq(cfs_journal_receive_fd(rj, fd, &rr), 0, "%s", cfs_journal_errmsg(rj));
        cr_assert_eq(rr.bytes, sr.bytes);
        close(fd);
        unlink(path);

        /* the guest resumes on the receiving host */
        cfs_time clock = 9000000000;
        cfs_config cfg = {.clock = cfs_workload_clock, .clock_ctx = &clock,
                          .sink = cfs_journal_sink(rj)};
        cfs_fs *fs;
        cr_assert_eq(cfs_journal_open_at(rj, 0, &cfg, &fs), 0, "%s", cfs_journal_errmsg(rj));
        cfs_rng r;
        cfs_rng_seed(&r, 9);
        cfs_workload_run(fs, &r, 150, 8000);
        cr_assert_eq(cfs_journal_snapshot(rj, fs, "there", NULL, 0, NULL), 0);
        cfs_workload_run(fs, &r, 40, 8000);
        /* an older stream again: nothing new, and the head stays */
        uint64_t ahead = cfs_fs_seq(fs);
        struct mem again = send_mem(s.j, 0, NULL);
        recv_ok(rj, &again, NULL, &rr);
        free(again.p);
        cr_assert_eq(rr.events_added + rr.snapshots_added + rr.chunks_added, 0);
        cr_assert_eq(cfs_journal_appended(rj), ahead);
        cr_assert_eq(cfs_journal_committed(rj), ahead);
        cfs_workload_run(fs, &r, 40, 8000);
        uint64_t last = cfs_fs_seq(fs);
        cfs_hash128 live = cfs_fs_hash(fs);
        cr_assert_eq(cfs_journal_close(rj), 0);
        cfs_fs_free(fs);
        rj = jopen_with(rdir, 0, 0, 16, (cfs_durability)dur);
        cr_assert_eq(cfs_journal_committed(rj), last, "durability %d", dur);
        cr_assert_eq(cfs_journal_open_at(rj, 0, NULL, &fs), 0, "%s", cfs_journal_errmsg(rj));
        cr_assert(eq(cfs_fs_hash(fs), live));
        cfs_fs_free(fs);
        /* the source's states are still there */
        past_states(&s, rj, base, 10, "before the resume");

        /* and it sends on: back to a third journal, incrementally */
        char *r3 = tmpdir();
        cfs_journal *j3 = jopen(r3, 1, 0);
        struct mem m = send_mem(s.j, 0, NULL);
        recv_ok(j3, &m, NULL, NULL);
        free(m.p);
        m = send_mem(rj, base, NULL);
        recv_ok(j3, &m, NULL, NULL);
        free(m.p);
        cr_assert_eq(cfs_journal_open_at(j3, 0, NULL, &fs), 0, "%s", cfs_journal_errmsg(j3));
        cr_assert(eq(cfs_fs_hash(fs), live));
        cfs_fs_free(fs);
        cfs_journal_close(j3);
        cfs_journal_close(rj);
        rmtree(r3);
        rmtree(rdir);
        src_close(&s);
    }
}

/* ---- property -------------------------------------------------------------------------- */

Test(stream, random_histories_and_chains_round_trip, .timeout = 600)
{
    static const uint64_t defaults[] = {131, 132, 133, 134};
    uint64_t seeds[4];
    size_t ns = cfs_test_seeds(defaults, 4, seeds);
    for (size_t si = 0; si < ns; si++) {
        uint64_t seed = seeds[si];
        printf("stream chains seed %" PRIu64 "\n", seed);
        cfs_rng pr;
        cfs_rng_seed(&pr, seed ^ 0xc4a1);
        struct src s;
        src_open(&s, seed, 1 + (uint32_t)cfs_rng_below(&pr, 200),
                 1 + (size_t)cfs_rng_below(&pr, 100000));
        char *rdir = tmpdir();
        cfs_journal *rj = jopen_with(rdir, 1, 0, 1 + (uint32_t)cfs_rng_below(&pr, 100),
                                     CFS_DURABILITY_NONE);
        uint64_t base = 0;
        int started = 0;
        unsigned hops = 2 + (unsigned)cfs_rng_below(&pr, 4);
        for (unsigned hop = 0; hop < hops; hop++) {
            src_run(&s, 50 + cfs_rng_below(&pr, 400), (unsigned)cfs_rng_below(&pr, 3));
            if (cfs_rng_chance(&pr, 60))
                src_snapshot(&s);
            if (!started && (!s.nsnap || cfs_rng_chance(&pr, 30)))
                continue; /* the first hop comes once there is a snapshot, maybe later */
            uint64_t since = 0;
            if (started) {
                /* from a snapshot both have: the newest, or an older one */
                struct fp have;
                fp_take(rj, &have, 0);
                uint64_t common[256];
                unsigned nc = 0;
                for (unsigned a = 0; a < have.n; a++)
                    for (unsigned b = 0; b < s.nsnap; b++)
                        if (have.seq[a] == s.snaps[b])
                            common[nc++] = have.seq[a];
                cr_assert_gt(nc, 0, "seed %" PRIu64 ": no snapshot in common", seed);
                since = common[cfs_rng_chance(&pr, 70) ? nc - 1 : cfs_rng_below(&pr, nc)];
            }
            struct mem m = send_mem(s.j, since, NULL);
            cfs_rng chop;
            cfs_rng_seed(&chop, seed + hop);
            cfs_receive_report rr;
            int rc = recv_bytes(rj, m.p, m.len, cfs_rng_chance(&pr, 50) ? &chop : NULL, &rr);
            cr_assert_eq(rc, 0, "seed %" PRIu64 " hop %u (since %" PRIu64 "): %s", seed, hop,
                         since, cfs_journal_errmsg(rj));
            free(m.p);
            if (!started)
                base = rr.base_seq;
            started = 1;
            char what[64];
            snprintf(what, sizeof(what), "seed %" PRIu64 " hop %u", seed, hop);
            /* the source's snapshots before the base never came */
            unsigned skip = 0;
            while (skip < s.nsnap && s.snaps[skip] < base)
                skip++;
            struct src view = s;
            memmove(view.snaps, s.snaps + skip, (s.nsnap - skip) * sizeof(s.snaps[0]));
            view.nsnap = s.nsnap - skip;
            same_states(&view, rj, base ? base : 1, 15, what);
            s.r = view.r;
            if (cfs_rng_chance(&pr, 20) && s.nsnap) {
                cr_assert_eq(cfs_journal_compact(s.j, 1 + (unsigned)cfs_rng_below(&pr, 3), NULL),
                             0);
                /* the source forgets what it dropped */
                struct fp kept;
                fp_take(s.j, &kept, 0);
                s.nsnap = kept.n;
                memcpy(s.snaps, kept.seq, kept.n * sizeof(kept.seq[0]));
            }
        }
        cr_assert_eq(cfs_journal_verify(rj), 0, "%s", cfs_journal_errmsg(rj));
        cfs_journal_close(rj);
        rmtree(rdir);
        src_close(&s);
    }
}

/* ---- more ------------------------------------------------------------------------------ */

static void write_file(cfs_fs *fs, const char *name, const void *data, size_t len)
{
    cfs_fd fd;
    size_t n;
    cr_assert_eq(cfs_path_open(fs, CFS_ROOT_FD, 0, name, CFS_O_CREAT | CFS_O_TRUNC,
                               CFS_RIGHTS_ALL, CFS_RIGHTS_ALL, 0, &fd), 0, "%s", name);
    if (len)
        cr_assert_eq(cfs_fd_write(fs, fd, data, len, &n), 0);
    cr_assert_eq(cfs_fd_close(fs, fd), 0);
}

Test(stream, file_blocks_of_every_size_and_kind_round_trip, .timeout = 300)
{
    struct src s;
    src_open(&s, 141, 500, 0);
    static uint8_t buf[200000];
    static const size_t sizes[] = {1, 63, 64, 65, 100, 1000, 4096, 40000, 65535, 65536,
                                   65537, 131072, 200000};
    cfs_rng r;
    cfs_rng_seed(&r, 141);
    char name[64];
    cr_assert_eq(cfs_path_create_directory(s.fs, CFS_ROOT_FD, "many"), 0);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        for (int kind = 0; kind < 3; kind++) {
            if (kind == 0)
                cfs_rng_bytes(&r, buf, sizes[i]); /* incompressible: sent raw */
            else
                memset(buf, kind == 1 ? 'x' : 0, sizes[i]);
            snprintf(name, sizeof(name), "f%zu-%d", sizes[i], kind);
            write_file(s.fs, name, buf, sizes[i]);
        }
    /* more distinct chunks than a set's first table holds */
    for (int i = 0; i < 1200; i++) {
        cfs_rng_bytes(&r, buf, 64);
        snprintf(name, sizeof(name), "many/%d", i);
        write_file(s.fs, name, buf, 64);
    }
    src_note(&s);
    uint64_t base = src_snapshot(&s);
    /* change some, keep some, then an incremental stream */
    for (int i = 0; i < 1200; i += 7) {
        cfs_rng_bytes(&r, buf, 64);
        snprintf(name, sizeof(name), "many/%d", i);
        write_file(s.fs, name, buf, 64);
    }
    cfs_rng_bytes(&r, buf, 70000);
    write_file(s.fs, "f131072-0", buf, 70000);
    src_note(&s);
    src_snapshot(&s);
    char *rdir = tmpdir();
    cfs_journal *rj = jopen(rdir, 1, 0);
    cfs_send_report sr;
    struct mem m = send_mem(s.j, 0, &sr);
    cr_assert_gt(sr.chunks, 1300, "%" PRIu64 " chunks", sr.chunks);
    /* the first snapshot only: a receiver that then takes the rest */
    recv_ok(rj, &m, NULL, NULL);
    free(m.p);
    same_states(&s, rj, base, 0, "blocks");
    cfs_send_report ir;
    m = send_mem(s.j, base, &ir);
    cr_assert_lt(ir.chunks, 200, "incremental: %" PRIu64 " chunks", ir.chunks);
    free(m.p);
    cfs_journal_close(rj);
    rmtree(rdir);
    src_close(&s);
}

Test(stream, a_receiver_that_went_its_own_way_is_refused)
{
    struct src a;
    src_open(&a, 151, 30, 4000);
    src_run(&a, 100, 0);
    uint64_t base = src_snapshot(&a);
    char *bdir = tmpdir();
    cfs_journal *bj = jopen(bdir, 1, 0);
    struct mem m = send_mem(a.j, 0, NULL);
    recv_ok(bj, &m, NULL, NULL);
    free(m.p);
    /* both go on, differently, and snapshot at one seq */
    cfs_time clock = 77000000000;
    cfs_config cfg = {.clock = cfs_workload_clock, .clock_ctx = &clock,
                      .sink = cfs_journal_sink(bj)};
    cfs_fs *bfs;
    cr_assert_eq(cfs_journal_open_at(bj, 0, &cfg, &bfs), 0);
    cfs_rng r;
    cfs_rng_seed(&r, 999);
    cfs_workload_run(bfs, &r, 120, 4000);
    src_run(&a, 150, 0);
    uint64_t n = cfs_fs_seq(bfs);
    /* a's history has a state at b's seq too: snapshot both there */
    cr_assert_lt(n, cfs_fs_seq(a.fs));
    cr_assert_eq(cfs_journal_snapshot(bj, bfs, "mine", NULL, 0, NULL), 0);
    cfs_fs *afs;
    cr_assert_eq(cfs_journal_open_at(a.j, n, NULL, &afs), 0);
    char *cdir = tmpdir();
    /* a copy of a's history with a snapshot at seq n, as a sender */
    cfs_journal *cj;
    cfs_fs *cfs;
    rmdir(cdir);
    cr_assert_eq(cfs_journal_fork(a.j, base, cdir, NULL, &cj, &cfs), 0);
    cfs_journal_close(cj);
    cfs_fs_free(cfs);
    cj = jopen(cdir, 0, 0);
    struct copy_ctx c = {cj, n, 0};
    cr_assert_eq(cfs_journal_sync(a.j), 0);
    int rc = cfs_journal_foreach(a.j, base + 1, n, copy_event, &c);
    cr_assert(rc == 0 || rc == 1, "%s", cfs_journal_errmsg(a.j));
    cr_assert_eq(cfs_journal_sync(cj), 0);
    cr_assert_eq(cfs_journal_snapshot(cj, afs, "theirs", NULL, 0, NULL), 0,
                 "%s", cfs_journal_errmsg(cj));
    cfs_fs_free(afs);
    struct mem snap_only = send_mem(cj, base, NULL);
    struct fp before;
    fp_take(bj, &before, 1);
    rc = recv_bytes(bj, snap_only.p, snap_only.len, NULL, NULL);
    cr_assert_eq(rc, CFS_JE_DIVERGED, "%s", cfs_strerror(rc));
    char want[96];
    snprintf(want, sizeof(want), "the stream's state at seq %" PRIu64, n);
    cr_assert(strstr(cfs_journal_errmsg(bj), want), "%s", cfs_journal_errmsg(bj));
    fp_same(bj, &before, 1, "its own snapshot");
    /* without that snapshot in the stream, its events differ */
    free(snap_only.p);
    m = send_mem(a.j, base, NULL);
    rc = recv_bytes(bj, m.p, m.len, NULL, NULL);
    cr_assert_eq(rc, CFS_JE_DIVERGED, "%s", cfs_strerror(rc));
    snprintf(want, sizeof(want), "the event at seq %" PRIu64 " ", base + 1);
    cr_assert(strstr(cfs_journal_errmsg(bj), want), "%s", cfs_journal_errmsg(bj));
    fp_same(bj, &before, 1, "its own events");
    free(m.p);
    /* nothing at all is not a stream */
    rc = recv_bytes(bj, (const uint8_t *)"", 0, NULL, NULL);
    cr_assert_eq(rc, CFS_JE_CORRUPT);
    cr_assert(strstr(cfs_journal_errmsg(bj), "empty"), "%s", cfs_journal_errmsg(bj));
    /* a fork (its events start after its base) does not hold a history
     * from seq 1, so a stream from seq 1 does not go there */
    struct src e;
    src_open(&e, 152, 30, 100);
    src_run(&e, 20, 0);
    m = send_mem(e.j, 0, NULL);
    fp_take(cj, &before, 1);
    rc = recv_bytes(cj, m.p, m.len, NULL, NULL);
    cr_assert_eq(rc, CFS_JE_INVAL, "%s", cfs_strerror(rc));
    cr_assert(strstr(cfs_journal_errmsg(cj), "from seq 1"), "%s", cfs_journal_errmsg(cj));
    fp_same(cj, &before, 1, "from seq 1 into a fork");
    free(m.p);
    cfs_journal_close(cj);
    cfs_journal_close(bj);
    cfs_fs_free(bfs);
    rmtree(bdir);
    rmtree(cdir);
    src_close(&e);
    src_close(&a);
}

Test(stream, a_damaged_source_is_not_sent)
{
    static const char *const dbs[] = {"chunks", "snapshots", "events"};
    static const char *const want[] = {"chunk", "snapshot at seq", "frame at seq"};
    for (int k = 0; k < 3; k++) {
        struct src s;
        src_open(&s, 161, 30, 20000);
        src_run(&s, 100, 0);
        src_snapshot(&s);
        src_run(&s, 50, 0);
        cr_assert_eq(cfs_journal_close(s.j), 0);
        s.j = NULL;
        cfs_test_lmdb_flip(s.dir, dbs[k], NULL, 0, -1, 0x20);
        cfs_journal *j = jopen(s.dir, 0, 1);
        struct mem m = {0};
        int rc = cfs_journal_send(j, 0, mem_write, &m, NULL);
        cr_assert_eq(rc, CFS_JE_CORRUPT, "%s: %s", dbs[k], cfs_strerror(rc));
        cr_assert(strstr(cfs_journal_errmsg(j), want[k]), "%s: %s", dbs[k],
                  cfs_journal_errmsg(j));
        cr_assert(strstr(cfs_journal_errmsg(j), "send: "), "%s", cfs_journal_errmsg(j));
        free(m.p);
        cfs_journal_close(j);
        src_close(&s);
    }
}

struct failing {
    size_t left;
    int code;
};

static int fail_write(void *ctx, const void *buf, size_t len)
{
    struct failing *f = ctx;
    (void)buf;
    if (len > f->left)
        return f->code;
    f->left -= len;
    return 0;
}

static int fail_read(void *ctx, void *buf, size_t len, size_t *got)
{
    (void)buf;
    (void)len;
    (void)got;
    return ((struct failing *)ctx)->code;
}

Test(stream, a_failing_callback_stops_it_with_its_error)
{
    struct src s;
    src_open(&s, 171, 30, 20000);
    src_run(&s, 100, 0);
    src_snapshot(&s);
    src_run(&s, 100, 0);
    struct failing f = {1000, ENOSPC};
    cr_assert_eq(cfs_journal_send(s.j, 0, fail_write, &f, NULL), CFS_JE_NOSPC);
    cr_assert(strstr(cfs_journal_errmsg(s.j), "writing the stream failed"), "%s",
                     cfs_journal_errmsg(s.j));
    f = (struct failing){0, EPIPE};
    cr_assert_eq(cfs_journal_send(s.j, 0, fail_write, &f, NULL), CFS_JE_IO);
    cr_assert(strstr(cfs_journal_errmsg(s.j), strerror(EPIPE)), "%s", cfs_journal_errmsg(s.j));
    f = (struct failing){0, CFS_JE_NOMEM};
    cr_assert_eq(cfs_journal_send(s.j, 0, fail_write, &f, NULL), CFS_JE_NOMEM);
    /* a pipe whose reader went away */
    int p[2];
    cr_assert_eq(pipe(p), 0);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    cr_assert_eq(cfs_journal_send_fd(s.j, 0, p[1], NULL), CFS_JE_IO);
    close(p[1]);
    char *rdir = tmpdir();
    cfs_journal *rj = jopen(rdir, 1, 0);
    f = (struct failing){0, EIO};
    cr_assert_eq(cfs_journal_receive(rj, fail_read, &f, NULL), CFS_JE_IO);
    cr_assert(strstr(cfs_journal_errmsg(rj), "reading the stream failed"), "%s",
              cfs_journal_errmsg(rj));
    cr_assert_eq(cfs_journal_receive_fd(rj, -1, NULL), CFS_JE_IO);
    cr_assert_eq(cfs_journal_committed(rj), 0);
    cfs_journal_close(rj);
    rmtree(rdir);
    src_close(&s);
}
