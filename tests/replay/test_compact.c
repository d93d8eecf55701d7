/*
 * test_compact.c — replay on a compacted journal: the events before its
 * oldest snapshot are gone, so everything starts from that snapshot. The
 * same events are journaled twice, into a journal kept whole and one that
 * is compacted; from the snapshot on, every answer must be the same
 * (states, filters, diff, bisect, blame beyond the EARLIER range), verify
 * passes from the snapshot, and asking for what was dropped says so.
 */
#include "replay_test.h"

struct twin {
    rt_world w;           /* w.j: the journal that gets compacted */
    char *dir2;
    cfs_journal *whole;   /* the same events, never compacted */
    cfs_sink wsink;
};

static cfs_errno twin_append(void *ctx, const cfs_event *ev)
{
    struct twin *t = ctx;
    cfs_errno e = t->wsink.append(t->wsink.ctx, ev);
    return e ? e : rt_tee_append(&t->w, ev);
}

static uint64_t snap(struct twin *t)
{
    char label[32];
    snprintf(label, sizeof(label), "at%" PRIu64, cfs_fs_seq(t->w.fs));
    cr_assert_eq(cfs_journal_snapshot(t->w.j, t->w.fs, label, "explicit", 0, NULL), 0,
                 "%s", cfs_journal_errmsg(t->w.j));
    return cfs_fs_seq(t->w.fs);
}

Test(compact, replay_starts_from_the_oldest_snapshot_and_agrees)
{
    uint64_t seed = rt_seed(81);
    printf("compact seed %" PRIu64 "\n", seed);
    struct twin t;
    rt_begin(&t.w, 16);
    t.dir2 = rt_tmpdir();
    t.whole = rt_jopen(t.dir2, 1, 0, 16);
    t.wsink = cfs_journal_sink(t.whole);
    cfs_sink sink = {twin_append, rt_tee_sync, &t};
    cfs_fs_set_sink(t.w.fs, &sink);
    cfs_rng r;
    cfs_rng_seed(&r, seed);
    rt_workload(&t.w, &r, 400, 3000);
    snap(&t);
    rt_workload(&t.w, &r, 300, 3000);
    uint64_t S = snap(&t);
    rt_workload(&t.w, &r, 300, 3000);
    uint64_t last = cfs_fs_seq(t.w.fs);
    cfs_compact_report crep;
    cr_assert_eq(cfs_journal_compact(t.w.j, 1, &crep), 0, "%s", cfs_journal_errmsg(t.w.j));
    cr_assert_gt(crep.events_dropped, 0);
    cr_assert_eq(cfs_journal_close(t.whole), 0);
    rt_reopen_ro(&t.w);
    t.whole = rt_jopen(t.dir2, 0, 1, 0);
    cfs_journal *c = t.w.j, *whole = t.whole;
    char err[512];

    /* verify: from the snapshot, with its hash */
    cfs_verify_opts vo = {.snapshots = 1};
    cfs_verify_report rep;
    cr_assert_eq(cfs_replay_verify(c, &vo, &rep, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(rep.from_seq, S);
    cr_assert_eq(rep.events, last - S);
    cr_assert_geq(rep.hashes, 1);

    /* a stepper from after the snapshot walks the live states */
    cfs_stepper *s;
    cr_assert_eq(cfs_stepper_open(c, S + 1, 0, NULL, &s, err, sizeof(err)), 0, "%s", err);
    cfs_step st;
    uint64_t n = 0;
    while (cfs_stepper_next(s, &st) == 1) {
        n++;
        if (!rt_hash_eq(t.w.hash[st.ev->seq], (cfs_hash128){0, 0}))
            cr_assert(rt_hash_eq(cfs_fs_hash(cfs_stepper_fs(s)), t.w.hash[st.ev->seq]));
    }
    cr_assert_eq(n, last - S);
    cfs_stepper_close(s);

    /* what was dropped is refused, saying why */
    cr_assert_eq(cfs_stepper_open(c, S - 20, 0, NULL, &s, err, sizeof(err)), CFS_JE_NOTFOUND);
    cr_assert(strstr(err, "compact"), "%s", err);
    cr_assert_eq(cfs_stepper_open(c, 1, 0, NULL, &s, err, sizeof(err)), 0);
    cr_assert_eq(cfs_stepper_next(s, &st), CFS_JE_NOTFOUND);
    cr_assert(strstr(cfs_stepper_errmsg(s), "compacted"), "%s", cfs_stepper_errmsg(s));
    cfs_stepper_close(s);

    /* the same answers as the whole journal's, from the snapshot on */
    static const char *const paths[] = {"/a", "/b", "/c", "/d/a", "/d/b", "/d/e/a", "/d/e/f"};
    uint64_t *x = malloc(8192 * sizeof(*x)), *y = malloc(8192 * sizeof(*y));
    for (size_t p = 0; p < 7; p++) {
        cfs_filter f = {.path = paths[p]};
        size_t nx = rt_shown(c, S + 1, 0, &f, x, 8192), ny = rt_shown(whole, S + 1, 0, &f, y, 8192);
        cr_assert_eq(nx, ny, "seed %" PRIu64 " %s: %zu vs %zu shown", seed, paths[p], nx, ny);
        cr_assert(memcmp(x, y, nx * sizeof(*x)) == 0, "%s", paths[p]);
        for (int k = 0; k < 2; k++) {
            cfs_bisect_pred bp = {k ? CFS_BISECT_CONTAINS : CFS_BISECT_MISSING, paths[p],
                                  "ta", k ? 2 : 0};
            cfs_bisect_result bx, by;
            cr_assert_eq(cfs_replay_bisect(c, &bp, S + 1, 0, &bx, err, sizeof(err)), 0, "%s",
                         err);
            cr_assert_eq(cfs_replay_bisect(whole, &bp, S + 1, 0, &by, err, sizeof(err)), 0);
            cr_assert_eq(bx.seq, by.seq, "%s", paths[p]);
            cr_assert_eq(bx.held_before, by.held_before);
        }
        cfs_blame *bx, *by;
        int rx = cfs_replay_blame(c, paths[p], last, &bx, err, sizeof(err));
        int ry = cfs_replay_blame(whole, paths[p], last, &by, err, sizeof(err));
        cr_assert_eq(rx, ry);
        if (rx)
            continue;
        /* ranges from events after the snapshot are the same; the rest is
         * one EARLIER range in the compacted journal */
        cr_assert_eq(cfs_blame_size(bx), cfs_blame_size(by));
        for (size_t i = 0; i < cfs_blame_count(by); i++) {
            const cfs_blame_range *ry2 = cfs_blame_get(by, i);
            if (ry2->seq <= S)
                continue;
            bool found = false;
            for (size_t k = 0; k < cfs_blame_count(bx) && !found; k++) {
                const cfs_blame_range *rx2 = cfs_blame_get(bx, k);
                found = rx2->start == ry2->start && rx2->end == ry2->end &&
                        rx2->seq == ry2->seq && rx2->kind == ry2->kind;
            }
            cr_assert(found, "%s: range [%" PRIu64 ",%" PRIu64 ") of seq %" PRIu64, paths[p],
                      ry2->start, ry2->end, ry2->seq);
        }
        for (size_t k = 0; k < cfs_blame_count(bx); k++) {
            const cfs_blame_range *rx2 = cfs_blame_get(bx, k);
            cr_assert(rx2->seq > S || (rx2->kind == CFS_BLAME_EARLIER && rx2->seq == S));
        }
        cfs_blame_free(bx);
        cfs_blame_free(by);
    }
    free(x);
    free(y);
    for (int k = 0; k < 5; k++) {
        uint64_t a = S + cfs_rng_below(&r, last - S + 1), b = S + cfs_rng_below(&r, last - S + 1);
        cfs_diff *dx, *dy;
        cr_assert_eq(cfs_replay_diff(c, a, b, &dx, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(cfs_replay_diff(whole, a, b, &dy, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(cfs_diff_count(dx), cfs_diff_count(dy));
        for (size_t i = 0; i < cfs_diff_count(dx); i++) {
            cr_assert_str_eq(cfs_diff_get(dx, i)->path, cfs_diff_get(dy, i)->path);
            cr_assert_eq(cfs_diff_get(dx, i)->changed, cfs_diff_get(dy, i)->changed);
        }
        cfs_diff_free(dx);
        cfs_diff_free(dy);
    }
    cfs_diff *d;
    cr_assert_eq(cfs_replay_diff(c, S - 1, last, &d, err, sizeof(err)), CFS_JE_NOTFOUND);

    cfs_journal_close(t.whole);
    rt_rmtree(t.dir2);
    free(t.dir2);
    rt_end(&t.w);
}

/* A forked journal starts from its base snapshot: the same path. */
Test(compact, a_forked_journal_replays_from_its_base)
{
    rt_world w;
    rt_begin(&w, 8);
    cfs_fd f = rt_open(w.fs, "a", CFS_O_CREAT);          /* 1 */
    rt_write(w.fs, f, "base!");                          /* 2 */
    RT_OK(cfs_path_create_directory(w.fs, CFS_ROOT_FD, "d")); /* 3 */
    rt_reopen_ro(&w);
    char *dir = rt_tmpdir();
    rt_rmtree(dir); /* the fork creates it */
    cfs_journal *fj;
    cfs_fs *fs;
    cr_assert_eq(cfs_journal_fork(w.j, 2, dir, NULL, &fj, &fs), 0, "%s",
                 cfs_journal_errmsg(w.j));
    cfs_sink sink = cfs_journal_sink(fj);
    cfs_fs_set_sink(fs, &sink);
    cr_assert_eq(cfs_fs_seq(fs), 2);
    rt_pwrite(fs, f, "X", 1, 1);                         /* 3 in the fork */
    RT_OK(cfs_path_rename(fs, CFS_ROOT_FD, "a", CFS_ROOT_FD, "b")); /* 4 */
    cr_assert_eq(cfs_journal_close(fj), 0);
    cfs_fs_free(fs);
    fj = rt_jopen(dir, 0, 1, 0);

    char err[512];
    cfs_verify_report rep;
    cfs_verify_opts vo = {.snapshots = 1};
    cr_assert_eq(cfs_replay_verify(fj, &vo, &rep, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(rep.from_seq, 2);
    cr_assert_eq(rep.events, 2);
    char *log = rt_log(fj, 3, 0, NULL, 0);
    cr_assert_str_eq(log, "seq 3  write /a fd 4: 1 byte at 1\n"
                          "seq 4  rename /a -> /b\n");
    free(log);
    cfs_blame *b;
    cr_assert_eq(cfs_replay_blame(fj, "/b", CFS_REPLAY_HEAD, &b, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(cfs_blame_count(b), 3);
    const cfs_blame_range *r = cfs_blame_get(b, 1);
    cr_assert(r->start == 1 && r->end == 2 && r->kind == CFS_BLAME_WRITE && r->seq == 3);
    r = cfs_blame_get(b, 0);
    cr_assert(r->start == 0 && r->end == 1 && r->kind == CFS_BLAME_EARLIER && r->seq == 2);
    cr_assert_str_eq(r->path, "/a");
    cfs_blame_free(b);
    cfs_journal_close(fj);
    rt_rmtree(dir);
    free(dir);
    rt_end(&w);
}
