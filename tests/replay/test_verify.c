/*
 * test_verify.c — verify finds the first problem in seq order and names
 * it: a damaged frame, an event that does not reproduce its recorded
 * outcome, a state hash that differs from the one recorded (snapshots, or
 * hashes the caller holds); a sound journal passes with everything counted.
 */
#include "replay_test.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void workload(rt_world *w, uint64_t seed, uint64_t events, int snapshot_every)
{
    cfs_rng r;
    cfs_rng_seed(&r, seed);
    uint64_t target = cfs_fs_seq(w->fs) + events;
    while (cfs_fs_seq(w->fs) < target) {
        rt_workload(w, &r, (uint64_t)snapshot_every, 3000);
        char label[32];
        snprintf(label, sizeof(label), "s%" PRIu64, cfs_fs_seq(w->fs));
        cr_assert_eq(cfs_journal_snapshot(w->j, w->fs, label, "explicit", 0, NULL), 0,
                     "%s", cfs_journal_errmsg(w->j));
    }
}

Test(verify, a_sound_journal_passes_with_every_check_counted)
{
    rt_world w;
    rt_begin(&w, 64);
    workload(&w, 41, 2000, 400);
    uint64_t last = cfs_fs_seq(w.fs);
    rt_reopen_ro(&w);
    cfs_verify_point pts[3] = {{0, w.hash[0]}, {last, cfs_fs_hash(w.fs)}, {0, w.hash[0]}};
    cfs_verify_opts o = {.snapshots = 1, .points = pts, .npoints = 3};
    cfs_verify_report rep;
    char err[512] = "";
    int rc = cfs_replay_verify(w.j, &o, &rep, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s: %s", cfs_strerror(rc), err);
    cr_assert_eq(rep.events, last);
    cr_assert_eq(rep.last_seq, last);
    cr_assert_eq(rep.first_bad, 0);
    cr_assert_eq(rep.problem, CFS_VERIFY_OK);
    cr_assert_geq(rep.hashes, 3 + 5, "the points and the snapshots: %" PRIu64, rep.hashes);
    /* up to a seq */
    o = (cfs_verify_opts){.to = 100, .snapshots = 1};
    cr_assert_eq(cfs_replay_verify(w.j, &o, &rep, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(rep.events, 100);
    /* no options at all */
    cr_assert_eq(cfs_replay_verify(w.j, NULL, NULL, err, sizeof(err)), 0);
    rt_end(&w);
}

Test(verify, a_recorded_hash_that_differs_is_found_at_its_seq)
{
    rt_world w;
    rt_begin(&w, 64);
    workload(&w, 42, 600, 600);
    rt_reopen_ro(&w);
    cfs_hash128 bad = w.hash[250];
    bad.lo ^= 1;
    cfs_verify_point pts[] = {{100, w.hash[100]}, {250, bad}, {300, w.hash[300]}};
    cfs_verify_opts o = {.points = pts, .npoints = 3};
    cfs_verify_report rep;
    char err[512];
    cr_assert_eq(cfs_replay_verify(w.j, &o, &rep, err, sizeof(err)), CFS_JE_DIVERGED);
    cr_assert_eq(rep.first_bad, 250);
    cr_assert_eq(rep.problem, CFS_VERIFY_HASH);
    cr_assert_eq(rep.last_seq, 250);
    cr_assert_eq(rep.hashes, 2);
    cr_assert(strstr(err, "seq 250: state hash"), "%s", err);
    /* a hash for a seq the journal does not reach */
    cfs_verify_point past = {cfs_fs_seq(w.fs) + 1, bad};
    o = (cfs_verify_opts){.points = &past, .npoints = 1};
    cr_assert_eq(cfs_replay_verify(w.j, &o, &rep, err, sizeof(err)), CFS_JE_NOTFOUND);
    cr_assert_eq(rep.first_bad, past.seq);
    rt_end(&w);
}

Test(verify, an_event_that_does_not_reproduce_is_found_at_its_seq)
{
    rt_world w;
    rt_begin(&w, 0);
    cfs_fd a = rt_open(w.fs, "a", CFS_O_CREAT);            /* 1 */
    rt_write(w.fs, a, "abc");                              /* 2 */
    RT_OK(cfs_path_create_directory(w.fs, CFS_ROOT_FD, "d")); /* 3 */
    /* seq 4 says it created inode 99; the engine's next inode is 16 */
    cfs_event ev = *rt_event(&w, 3);
    ev.seq = 4;
    ev.name = "e";
    ev.path = "e";
    ev.ino = 99;
    cr_assert_eq(cfs_journal_append(w.j, &ev), 0);
    rt_reopen_ro(&w);
    cfs_verify_report rep;
    char err[512];
    cr_assert_eq(cfs_replay_verify(w.j, NULL, &rep, err, sizeof(err)), CFS_JE_DIVERGED);
    cr_assert_eq(rep.first_bad, 4);
    cr_assert_eq(rep.problem, CFS_VERIFY_OUTPUT);
    cr_assert_eq(rep.last_seq, 3);
    cr_assert(strstr(err, "seq 4: mkdir") && strstr(err, "inode 99"), "%s", err);
    /* but the frames themselves are sound */
    cr_assert_eq(cfs_journal_verify(w.j), 0);
    rt_end(&w);
}

Test(verify, a_damaged_frame_is_found_at_its_first_seq)
{
    rt_world w;
    rt_begin(&w, 40);
    workload(&w, 43, 1500, 1500);
    rt_reopen_ro(&w);
    cfs_journal_close(w.j);
    w.j = NULL;
    uint64_t first = cfs_test_flip_frame_byte(w.dir, 1, 3, 0, 45, 0x21);
    cr_assert_gt(first, 0, "a journal of more than 10 frames, damaged");
    w.j = rt_jopen(w.dir, 0, 1, 0);
    cfs_verify_report rep;
    char err[512];
    cr_assert_eq(cfs_replay_verify(w.j, NULL, &rep, err, sizeof(err)), CFS_JE_CORRUPT);
    cr_assert_eq(rep.first_bad, first);
    cr_assert_eq(rep.problem, CFS_VERIFY_FRAME);
    cr_assert_eq(rep.last_seq, first - 1, "every event before it was checked");
    char want[64];
    snprintf(want, sizeof(want), "seq %" PRIu64, first);
    cr_assert(strstr(err, want), "%s names %s", err, want);
    rt_end(&w);
}

Test(verify, a_journal_of_one_snapshot_and_no_events_passes)
{
    /* a fork (or a journal received from one whose head was a snapshot)
     * holds a snapshot and no events at all */
    rt_world w;
    rt_begin(&w, 64);
    workload(&w, 43, 500, 250);
    char *dir = rt_tmpdir();
    cfs_journal *fj;
    cfs_fs *ffs;
    cr_assert_eq(cfs_journal_fork(w.j, 0, dir, NULL, &fj, &ffs), 0, "%s",
                 cfs_journal_errmsg(w.j));
    cfs_verify_opts o = {.snapshots = 1, .chunks = 1};
    cfs_verify_report rep;
    char err[512] = "";
    int rc = cfs_replay_verify(fj, &o, &rep, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s: %s", cfs_strerror(rc), err);
    cr_assert_eq(rep.from_seq, cfs_fs_seq(ffs));
    cr_assert_eq(rep.events, 0);
    cr_assert_gt(rep.chunks, 0);
    cfs_journal_close(fj);
    cfs_fs_free(ffs);
    rt_rmtree(dir);
    free(dir);
    rt_end(&w);
}
