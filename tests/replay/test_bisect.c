/*
 * test_bisect.c — the first seq at which "a path exists / is missing /
 * contains these bytes" becomes true: exact answers on a constructed
 * history (occurrences straddling two writes, appearing in zeros, through
 * a symlink, after a rename over the file), and a property test against
 * evaluating the predicate in every state of random workloads.
 */
#define _GNU_SOURCE /* memmem */
#include "replay_test.h"

static cfs_bisect_result bisect(cfs_journal *j, int kind, const char *path,
                                const void *bytes, size_t len, uint64_t from, uint64_t to)
{
    cfs_bisect_pred p = {kind, path, bytes, len};
    cfs_bisect_result res;
    char err[512];
    int rc = cfs_replay_bisect(j, &p, from, to, &res, err, sizeof(err));
    cr_assert_eq(rc, 0, "bisect %d %s: %s: %s", kind, path, cfs_strerror(rc), err);
    return res;
}

#define FIRST(kind, path, needle, from, to) \
    bisect(w.j, kind, path, needle, sizeof(needle) - 1, from, to).seq

static void record(rt_world *w)
{
    cfs_fs *fs = w->fs;
    RT_OK(cfs_path_create_directory(fs, CFS_ROOT_FD, "d"));              /* 1 */
    cfs_fd f4 = rt_open(fs, "d/f", CFS_O_CREAT);                        /* 2 */
    rt_write(fs, f4, "hel");                                            /* 3 */
    rt_write(fs, f4, "lo w");                                           /* 4 */
    RT_OK(cfs_path_unlink_file(fs, CFS_ROOT_FD, "d/f"));                /* 5 */
    cfs_fd f5 = rt_open(fs, "d/f", CFS_O_CREAT);                        /* 6 */
    rt_write(fs, f5, "xyz");                                            /* 7 */
    cfs_fd t6 = rt_open(fs, "tmp.f", CFS_O_CREAT);                      /* 8 */
    rt_write(fs, t6, "hello again");                                    /* 9 */
    RT_OK(cfs_path_rename(fs, CFS_ROOT_FD, "tmp.f", CFS_ROOT_FD, "d/f")); /* 10 */
    RT_OK(cfs_fd_filestat_set_size(fs, t6, 20));                        /* 11 */
    RT_OK(cfs_path_symlink(fs, "d/f", CFS_ROOT_FD, "s"));               /* 12 */
    rt_pwrite(fs, t6, "HELLO", 5, 0);                                   /* 13 */
    rt_pwrite(fs, t6, "hello", 5, 100);                                 /* 14 */
    cfs_fd g7 = rt_open(fs, "g", CFS_O_CREAT);                          /* 15 */
    rt_write(fs, g7, "ab");                                             /* 16 */
    rt_pwrite(fs, g7, "cd", 2, 10);                                     /* 17 */
    cr_assert_eq(cfs_fs_seq(fs), 17);
}

Test(bisect, first_seq_where_it_becomes_true)
{
    rt_world w;
    rt_begin(&w, 4);
    record(&w);
    rt_reopen_ro(&w);
    cr_assert_eq(FIRST(CFS_BISECT_EXISTS, "/d/f", "", 0, 0), 2);
    /* missing at the start does not count: it must become true */
    cfs_bisect_result r = bisect(w.j, CFS_BISECT_MISSING, "/d/f", NULL, 0, 1, 0);
    cr_assert_eq(r.seq, 5);
    cr_assert_eq(r.held_before, 1);
    cr_assert_eq(FIRST(CFS_BISECT_EXISTS, "/d/f", "", 3, 0), 6, "true before 3, again at 6");
    cr_assert_eq(FIRST(CFS_BISECT_CONTAINS, "/d/f", "hello", 0, 0), 4, "across two writes");
    cr_assert_eq(FIRST(CFS_BISECT_CONTAINS, "/d/f", "hello", 5, 0), 10, "a rename over it");
    cr_assert_eq(FIRST(CFS_BISECT_CONTAINS, "/d/f", "hello", 11, 0), 14,
                 "overwritten at 13, written again at 14");
    cr_assert_eq(FIRST(CFS_BISECT_CONTAINS, "/s", "hello", 0, 0), 12, "through a symlink");
    cr_assert_eq(FIRST(CFS_BISECT_EXISTS, "/s", "", 0, 0), 12);
    cr_assert_eq(FIRST(CFS_BISECT_CONTAINS, "/d/f", "\0\0\0", 0, 0), 11, "set_size zeros");
    cr_assert_eq(FIRST(CFS_BISECT_CONTAINS, "/g", "b\0\0", 0, 0), 17, "a write's gap");
    cr_assert_eq(FIRST(CFS_BISECT_CONTAINS, "/g", "", 0, 0), 15, "any file holds nothing");
    cr_assert_eq(FIRST(CFS_BISECT_CONTAINS, "/d", "", 0, 0), 0, "a directory holds no bytes");
    cr_assert_eq(FIRST(CFS_BISECT_CONTAINS, "/d/f", "hello", 1, 3), 0, "not within 1..3");
    r = bisect(w.j, CFS_BISECT_MISSING, "/nope", NULL, 0, 0, 0);
    cr_assert_eq(r.seq, 0);
    cr_assert_eq(r.held_before, 1);
    cr_assert_eq(r.events, 17);

    cfs_bisect_pred p = {CFS_BISECT_EXISTS, "d/f", NULL, 0};
    char err[256];
    cr_assert_eq(cfs_replay_bisect(w.j, &p, 0, 0, &r, err, sizeof(err)), CFS_JE_INVAL);
    p = (cfs_bisect_pred){9, "/d/f", NULL, 0};
    cr_assert_eq(cfs_replay_bisect(w.j, &p, 0, 0, &r, err, sizeof(err)), CFS_JE_INVAL);
    p = (cfs_bisect_pred){CFS_BISECT_EXISTS, "/never", NULL, 0};
    cr_assert_eq(cfs_replay_bisect(w.j, &p, 0, 40, &r, err, sizeof(err)), CFS_JE_NOTFOUND);
    cr_assert(strstr(err, "seq 40"), "%s", err);
    rt_end(&w);
}

/* ---- property --------------------------------------------------------------- */

static const char *const paths[] = {"/a", "/b", "/c", "/d", "/d/a", "/d/b", "/d/e/a", "/d/e/f"};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))
static const char *const needles[] = {"ta", "n s", "\n\ne", "\0\0\0\0\0\0\0\0"};
static const size_t needle_len[] = {2, 3, 3, 8};
#define NNEEDLES 4
#define NPRED (NPATHS * (2 + NNEEDLES))

/* The predicates in one state, asked of the engine (through a clone). */
static void evaluate(cfs_fs *live, bool *v)
{
    cfs_fs *fs;
    RT_OK(cfs_fs_clone(live, &fs));
    cfs_fd root;
    RT_OK(cfs_fs_preopen(fs, "/", "oracle", CFS_PREOPEN_READ, &root));
    static uint8_t buf[2 << 20];
    for (size_t p = 0; p < NPATHS; p++) {
        cfs_filestat st;
        bool exists = cfs_path_filestat_get(fs, root, 0, paths[p], &st) == 0;
        v[p * (2 + NNEEDLES)] = exists;
        v[p * (2 + NNEEDLES) + 1] = !exists;
        cfs_fd fd;
        size_t got = 0;
        bool file = cfs_path_open(fs, root, CFS_LOOKUP_SYMLINK_FOLLOW, paths[p], 0,
                                  CFS_RIGHT_FD_READ | CFS_RIGHT_FD_SEEK |
                                      CFS_RIGHT_FD_FILESTAT_GET, 0, 0, &fd) == 0;
        if (file) {
            file = cfs_fd_filestat_get(fs, fd, &st) == 0 &&
                   st.filetype == CFS_FILETYPE_REGULAR_FILE;
            cr_assert_leq(st.size, sizeof(buf));
            if (file)
                RT_OK(cfs_fd_pread(fs, fd, buf, st.size, 0, &got));
            cfs_fd_close(fs, fd);
        }
        for (size_t k = 0; k < NNEEDLES; k++)
            v[p * (2 + NNEEDLES) + 2 + k] =
                file && memmem(buf, got, needles[k], needle_len[k]) != NULL;
    }
    cfs_fs_free(fs);
}

Test(bisect, matches_evaluating_every_state)
{
    static const uint64_t defaults[] = {61, 62, 63};
    uint64_t seeds[3];
    size_t ns = cfs_test_seeds(defaults, 3, seeds);
    for (size_t si = 0; si < ns; si++) {
        uint64_t seed = seeds[si];
        printf("bisect seed %" PRIu64 "\n", seed);
        rt_world w;
        rt_begin(&w, 31);
        cfs_rng r;
        cfs_rng_seed(&r, seed);
        rt_workload(&w, &r, 600, 400);
        uint64_t last = cfs_fs_seq(w.fs);
        rt_reopen_ro(&w);

        /* truth[s][k]: predicate k in the state after s, by plain apply */
        bool (*truth)[NPRED] = calloc(last + 1, sizeof(*truth));
        cfs_fs *fs = cfs_fs_new(NULL);
        evaluate(fs, truth[0]);
        for (uint64_t s = 1; s <= last; s++) {
            RT_OK(cfs_fs_apply(fs, rt_event(&w, s)));
            evaluate(fs, truth[s]);
        }
        cfs_fs_free(fs);

        uint64_t found = 0;
        for (size_t k = 0; k < NPRED; k++) {
            size_t p = k / (2 + NNEEDLES), q = k % (2 + NNEEDLES);
            int kind = q == 0 ? CFS_BISECT_EXISTS : q == 1 ? CFS_BISECT_MISSING
                                                           : CFS_BISECT_CONTAINS;
            for (int t = 0; t < 3; t++) {
                uint64_t from = t == 0 ? 1 : 1 + cfs_rng_below(&r, last);
                uint64_t to = t == 2 ? from + cfs_rng_below(&r, last - from + 1) : 0;
                uint64_t want = 0;
                for (uint64_t s = from; s <= (to ? to : last) && !want; s++)
                    if (!truth[s - 1][k] && truth[s][k])
                        want = s;
                cfs_bisect_result res =
                    bisect(w.j, kind, paths[p], q >= 2 ? needles[q - 2] : NULL,
                           q >= 2 ? needle_len[q - 2] : 0, from, to);
                cr_assert_eq(res.seq, want,
                             "seed %" PRIu64 ": %s %s (needle %zu) in %" PRIu64 "..%" PRIu64
                             ": bisect says %" PRIu64 ", every state says %" PRIu64,
                             seed, kind == CFS_BISECT_EXISTS ? "exists" : kind ==
                             CFS_BISECT_MISSING ? "missing" : "contains", paths[p],
                             q >= 2 ? q - 2 : 0, from, to, res.seq, want);
                cr_assert_eq(res.held_before, truth[from - 1][k]);
                found += want != 0;
            }
        }
        cr_assert_gt(found, 30, "the predicates do change: %" PRIu64, found);
        free(truth);
        rt_end(&w);
    }
}
