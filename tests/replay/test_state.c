/*
 * test_state.c — rebuilding the state at any seq (with and without
 * snapshots) equals the live state there, and a stepper walks the events
 * one at a time through exactly the live states, from any starting seq;
 * an event that does not reproduce its outcome stops it, naming the seq.
 */
#include "replay_test.h"

static cfs_fs *state_at(cfs_journal *j, uint64_t seq)
{
    cfs_fs *fs;
    char err[512];
    int rc = cfs_replay_state_at(j, seq, NULL, &fs, err, sizeof(err));
    cr_assert_eq(rc, 0, "state at %" PRIu64 ": %s: %s", seq, cfs_strerror(rc), err);
    return fs;
}

Test(state, the_state_at_any_seq_is_the_live_one)
{
    uint64_t seed = rt_seed(31);
    printf("state seed %" PRIu64 "\n", seed);
    rt_world w;
    rt_begin(&w, 50);
    cfs_rng r;
    cfs_rng_seed(&r, seed);
    rt_workload(&w, &r, 700, 5000);
    /* a snapshot in the middle: later states start from it */
    cfs_snapshot_info si;
    cr_assert_eq(cfs_journal_snapshot(w.j, w.fs, "mid", "explicit", 0, &si), 0, "%s",
                 cfs_journal_errmsg(w.j));
    uint64_t mid = cfs_fs_seq(w.fs);
    rt_workload(&w, &r, 700, 5000);
    uint64_t last = cfs_fs_seq(w.fs);
    rt_reopen_ro(&w);

    cfs_fs *fs = state_at(w.j, 0);
    cr_assert_eq(cfs_fs_seq(fs), 0);
    cr_assert(rt_hash_eq(cfs_fs_hash(fs), w.hash[0]), "the initial state");
    cfs_fs_free(fs);
    fs = state_at(w.j, CFS_REPLAY_HEAD);
    cr_assert_eq(cfs_fs_seq(fs), last);
    cr_assert(rt_hash_eq(cfs_fs_hash(fs), cfs_fs_hash(w.fs)), "the head");
    cfs_fs_free(fs);
    uint64_t checked = 0;
    for (uint64_t seq = 1; seq <= last; seq += 1 + cfs_rng_below(&r, 40)) {
        if (rt_hash_eq(w.hash[seq], (cfs_hash128){0, 0}))
            continue; /* a state the workload passed through inside one call */
        fs = state_at(w.j, seq);
        cr_assert_eq(cfs_fs_seq(fs), seq);
        cr_assert(rt_hash_eq(cfs_fs_hash(fs), w.hash[seq]), "seed %" PRIu64 " seq %" PRIu64
                  " (snapshot at %" PRIu64 ")", seed, seq, mid);
        cfs_fs_free(fs);
        checked++;
    }
    cr_assert_gt(checked, 20);

    /* a config's sink is kept for what comes after, not fed the replay */
    cfs_recorder rec = {0};
    cfs_config cfg = {.sink = cfs_recorder_sink(&rec)};
    char err[512];
    cr_assert_eq(cfs_replay_state_at(w.j, 40, &cfg, &fs, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(rec.count, 0);
    RT_OK(cfs_path_create_directory(fs, CFS_ROOT_FD, "after"));
    cr_assert_eq(rec.count, 1);
    cr_assert_eq(rec.events[0].seq, 41);
    cfs_fs_free(fs);
    cfs_recorder_reset(&rec);

    cr_assert_eq(cfs_replay_state_at(w.j, last + 1, NULL, &fs, err, sizeof(err)),
                 CFS_JE_NOTFOUND);
    cr_assert_null(fs);
    char want[64];
    snprintf(want, sizeof(want), "seq %" PRIu64, last + 1);
    cr_assert(strstr(err, want), "%s", err);
    rt_end(&w);
}

Test(state, a_stepper_walks_through_the_live_states)
{
    uint64_t seed = rt_seed(32);
    printf("stepper seed %" PRIu64 "\n", seed);
    rt_world w;
    rt_begin(&w, 23);
    cfs_rng r;
    cfs_rng_seed(&r, seed);
    rt_workload(&w, &r, 1200, 4000);
    uint64_t last = cfs_fs_seq(w.fs);
    rt_reopen_ro(&w);
    uint64_t froms[] = {0, 1, 2, 1 + cfs_rng_below(&r, last), last, last + 1};
    for (size_t k = 0; k < sizeof(froms) / sizeof(froms[0]); k++) {
        uint64_t from = froms[k] ? froms[k] : 1;
        cfs_stepper *s;
        char err[512];
        int rc = cfs_stepper_open(w.j, froms[k], 0, NULL, &s, err, sizeof(err));
        cr_assert_eq(rc, 0, "from %" PRIu64 ": %s", from, err);
        cr_assert_eq(cfs_stepper_seq(s), from - 1);
        if (!rt_hash_eq(w.hash[from - 1], (cfs_hash128){0, 0}))
            cr_assert(rt_hash_eq(cfs_fs_hash(cfs_stepper_fs(s)), w.hash[from - 1]));
        cfs_step st, pk;
        uint64_t want = from;
        for (;;) {
            int p = cfs_stepper_peek(s, &pk);
            rc = cfs_stepper_next(s, &st);
            cr_assert_eq(p, rc, "peek sees what next will");
            if (rc != 1)
                break;
            cr_assert_eq(pk.ev->seq, st.ev->seq);
            cr_assert_eq(st.ev->seq, want++);
            cr_assert_eq(cfs_stepper_seq(s), st.ev->seq, "applied");
            if (!rt_hash_eq(w.hash[st.ev->seq], (cfs_hash128){0, 0}))
                cr_assert(rt_hash_eq(cfs_fs_hash(cfs_stepper_fs(s)), w.hash[st.ev->seq]),
                          "seed %" PRIu64 ": state after seq %" PRIu64, seed, st.ev->seq);
        }
        cr_assert_eq(rc, 0, "%s", cfs_stepper_errmsg(s));
        cr_assert_eq(want, last + 1);
        cr_assert_eq(cfs_stepper_next(s, &st), 0);
        cfs_stepper_close(s);
    }

    /* a range's end, and peeking does not apply */
    cfs_stepper *s;
    char err[512];
    cr_assert_eq(cfs_stepper_open(w.j, 10, 12, NULL, &s, err, sizeof(err)), 0);
    cfs_step st;
    cr_assert_eq(cfs_stepper_peek(s, &st), 1);
    cr_assert_eq(st.ev->seq, 10);
    cr_assert_eq(cfs_stepper_seq(s), 9);
    cr_assert_eq(cfs_stepper_peek(s, &st), 1);
    cr_assert_eq(st.ev->seq, 10, "peeking twice sees the same event");
    for (uint64_t seq = 10; seq <= 12; seq++) {
        cr_assert_eq(cfs_stepper_next(s, &st), 1);
        cr_assert_eq(st.ev->seq, seq);
    }
    cr_assert_eq(cfs_stepper_next(s, &st), 0);
    cfs_stepper_close(s);

    cr_assert_eq(cfs_stepper_open(w.j, last + 2, 0, NULL, &s, err, sizeof(err)),
                 CFS_JE_NOTFOUND, "the state before `from` must exist");
    cr_assert_null(s);
    rt_end(&w);
}

/* A journal whose seq 3 records fd 7 where the engine gives fd 5. */
static void forge(rt_world *w)
{
    cfs_fd a = rt_open(w->fs, "a", CFS_O_CREAT);                  /* 1 */
    rt_write(w->fs, a, "abc");                                    /* 2 */
    cfs_event ev = *rt_event(w, 1);
    ev.seq = 3;
    ev.fd2 = 7;
    ev.ofd++;
    ev.flags &= ~CFS_EVF_OPEN_CREATED;
    ev.name = "a";
    ev.path = "a";
    ev.dir = CFS_INO_ROOT;
    cr_assert_eq(cfs_journal_append(w->j, &ev), 0);
    cfs_event more = {.seq = 4, .op = CFS_OP_MKDIR, .pid = 1, .fd = 3, .path = "d",
                      .dir = CFS_INO_ROOT, .name = "d", .ino = 100, .mode = 0755};
    cr_assert_eq(cfs_journal_append(w->j, &more), 0);
}

Test(state, an_event_that_does_not_reproduce_stops_replay_naming_it)
{
    rt_world w;
    rt_begin(&w, 0);
    forge(&w);
    rt_reopen_ro(&w);
    cfs_fs *fs;
    char err[512];
    cr_assert_eq(cfs_replay_state_at(w.j, 2, NULL, &fs, err, sizeof(err)), 0, "before it");
    cfs_fs_free(fs);
    cr_assert_eq(cfs_replay_state_at(w.j, 3, NULL, &fs, err, sizeof(err)), CFS_JE_DIVERGED);
    cr_assert(strstr(err, "seq 3") && strstr(err, "fd 7"), "%s", err);
    cfs_stepper *s;
    cr_assert_eq(cfs_stepper_open(w.j, 0, 0, NULL, &s, err, sizeof(err)), 0);
    cfs_step st;
    cr_assert_eq(cfs_stepper_next(s, &st), 1);
    cr_assert_eq(cfs_stepper_next(s, &st), 1);
    cr_assert_eq(cfs_stepper_next(s, &st), CFS_JE_DIVERGED);
    cr_assert(strstr(cfs_stepper_errmsg(s), "seq 3"), "%s", cfs_stepper_errmsg(s));
    cr_assert_eq(cfs_stepper_seq(s), 2, "the state stays before the bad event");
    cr_assert_eq(cfs_stepper_next(s, &st), CFS_JE_DIVERGED, "sticky");
    cfs_stepper_close(s);
    cr_assert_eq(cfs_stepper_open(w.j, 5, 0, NULL, &s, err, sizeof(err)), CFS_JE_DIVERGED);
    cr_assert(strstr(err, "seq 3"), "%s", err);
    rt_end(&w);
}
