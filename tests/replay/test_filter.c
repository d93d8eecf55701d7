/*
 * test_filter.c — which events a log shows: by op, fd, inode, and by path,
 * following a file across renames, hard links and the rename-over an
 * editor's save does; and a property test of the path and inode filters
 * against an oracle built from the live engine (printed seed).
 */
#include "replay_test.h"

#define MAXSHOW 8192

static void expect_seqs(cfs_journal *j, uint64_t from, uint64_t to, const cfs_filter *f,
                        const uint64_t *want, size_t n, const char *what)
{
    uint64_t got[MAXSHOW];
    size_t k = rt_shown(j, from, to, f, got, MAXSHOW);
    char gs[1024] = "", ws[1024] = "";
    for (size_t i = 0; i < k; i++)
        snprintf(gs + strlen(gs), sizeof(gs) - strlen(gs), " %" PRIu64, got[i]);
    for (size_t i = 0; i < n; i++)
        snprintf(ws + strlen(ws), sizeof(ws) - strlen(ws), " %" PRIu64, want[i]);
    cr_assert_str_eq(gs, ws, "%s: shown [%s ] want [%s ]", what, gs, ws);
}

#define EXPECT(j, from, to, f, ...)                                             \
    do {                                                                        \
        static const uint64_t want_[] = {__VA_ARGS__};                          \
        expect_seqs(j, from, to, f, want_, sizeof(want_) / sizeof(want_[0]), #f); \
    } while (0)

/* The history of the constructed tests, seq by seq. */
static void record(rt_world *w, cfs_ino *F, cfs_ino *G)
{
    cfs_fs *fs = w->fs;
    cfs_filestat st;
    RT_OK(cfs_path_create_directory(fs, CFS_ROOT_FD, "d"));            /* 1 */
    cfs_fd f4 = rt_open(fs, "d/f", CFS_O_CREAT);                      /* 2 */
    rt_write(fs, f4, "abc");                                          /* 3 */
    cfs_fd g5 = rt_open(fs, "g", CFS_O_CREAT);                        /* 4 */
    rt_write(fs, g5, "x");                                            /* 5 */
    RT_OK(cfs_path_rename(fs, CFS_ROOT_FD, "d/f", CFS_ROOT_FD, "d/h")); /* 6 */
    RT_OK(cfs_path_link(fs, CFS_ROOT_FD, 0, "d/h", CFS_ROOT_FD, "k"));  /* 7 */
    rt_write(fs, f4, "more");                                         /* 8 */
    cfs_fd k6 = rt_open(fs, "k", 0);                                  /* 9 */
    rt_write(fs, k6, "z");                                            /* 10 */
    RT_OK(cfs_fd_close(fs, k6));                                      /* 11 */
    RT_OK(cfs_path_unlink_file(fs, CFS_ROOT_FD, "d/h"));              /* 12 */
    RT_OK(cfs_fd_filestat_get(fs, f4, &st));
    *F = st.ino;
    RT_OK(cfs_fd_filestat_get(fs, g5, &st));
    *G = st.ino;
    RT_OK(cfs_path_rename(fs, CFS_ROOT_FD, "g", CFS_ROOT_FD, "k"));   /* 13: over F */
    rt_write(fs, f4, "q");                                            /* 14 */
    RT_OK(cfs_fd_close(fs, f4));                                      /* 15: F is gone */
    rt_write(fs, g5, "y");                                            /* 16 */
    RT_OK(cfs_path_chmod(fs, CFS_ROOT_FD, 0, "k", 0600));             /* 17 */
    cr_assert_eq(cfs_fs_seq(fs), 17);
}

Test(filter, by_op_fd_and_inode)
{
    rt_world w;
    rt_begin(&w, 4);
    cfs_ino F, G;
    record(&w, &F, &G);
    rt_reopen_ro(&w);
    cfs_filter f = {0};
    char err[256];
    cr_assert_eq(cfs_filter_parse_ops("write, rename", &f.ops, err, sizeof(err)), 0, "%s", err);
    EXPECT(w.j, 0, 0, &f, 3, 5, 6, 8, 10, 13, 14, 16);
    EXPECT(w.j, 6, 10, &f, 6, 8, 10);
    f = (cfs_filter){.has_fd = 1, .fd = 5};
    EXPECT(w.j, 0, 0, &f, 4, 5, 16);
    f = (cfs_filter){.ino = G};
    EXPECT(w.j, 0, 0, &f, 4, 5, 13, 16, 17);
    f = (cfs_filter){.ino = F};
    EXPECT(w.j, 0, 0, &f, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    f = (cfs_filter){.pid = 2};
    uint64_t none[1];
    cr_assert_eq(rt_shown(w.j, 0, 0, &f, none, 1), 0, "no process 2");
    rt_end(&w);
}

Test(filter, a_path_follows_its_file_through_renames_links_and_saves)
{
    rt_world w;
    rt_begin(&w, 3);
    cfs_ino F, G;
    record(&w, &F, &G);
    rt_reopen_ro(&w);
    /* /d/f from its creation; moved to /d/h, linked as /k, written through
     * every name and fd, unlinked, replaced at /k, written while deleted,
     * and closed for good: then /d/f names nothing and nothing follows */
    cfs_filter f = {.path = "/d/f"};
    EXPECT(w.j, 0, 0, &f, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    /* /k: the link makes it (7) and it follows that file; when the file
     * is gone (15) /k names the saved-over file, which it follows on */
    f = (cfs_filter){.path = "/k"};
    EXPECT(w.j, 0, 0, &f, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17);
    /* started later, it binds in the state before the first event shown */
    EXPECT(w.j, 10, 0, &f, 10, 11, 12, 13, 14, 15, 16, 17);
    EXPECT(w.j, 16, 0, &f, 16, 17);
    /* /g follows G after it moves onto /k */
    f = (cfs_filter){.path = "/g"};
    EXPECT(w.j, 0, 0, &f, 4, 5, 13, 16, 17);
    /* a directory: its creation and the entries made, moved, removed in it */
    f = (cfs_filter){.path = "/d"};
    EXPECT(w.j, 0, 0, &f, 1, 2, 6, 12);
    /* with other criteria: all must hold */
    f = (cfs_filter){.path = "/k"};
    char err[256];
    cr_assert_eq(cfs_filter_parse_ops("write", &f.ops, err, sizeof(err)), 0);
    EXPECT(w.j, 0, 0, &f, 8, 10, 14, 16);
    f.has_fd = 1;
    f.fd = 4;
    EXPECT(w.j, 0, 0, &f, 8, 14);
    rt_end(&w);
}

Test(filter, the_log_of_a_path_reads_like_its_story)
{
    rt_world w;
    rt_begin(&w, 0);
    cfs_ino F, G;
    record(&w, &F, &G);
    rt_reopen_ro(&w);
    cfs_filter f = {.path = "/k"};
    char *log = rt_log(w.j, 0, 0, &f, 0);
    cr_assert_str_eq(log,
                     "seq 7  link /d/h -> /k\n"
                     "seq 8  write /d/h fd 4: 4 bytes at 3\n"
                     "seq 9  open /k -> fd 6\n"
                     "seq 10  write /k fd 6: 1 byte at 0\n"
                     "seq 11  close fd 6 (/k)\n"
                     "seq 12  unlink /d/h\n"
                     "seq 13  rename /g -> /k (replaced)\n"
                     "seq 14  write /k (deleted) fd 4: 1 byte at 7\n"
                     "seq 15  close fd 4 (/k (deleted))\n"
                     "seq 16  write /k fd 5: 1 byte at 1\n"
                     "seq 17  chmod /k 0600\n");
    free(log);
    rt_end(&w);
}

Test(filter, bad_specs_are_refused_with_what_is_wrong)
{
    uint64_t ops = 7;
    char err[256] = "";
    cr_assert_eq(cfs_filter_parse_ops("write,frobnicate", &ops, err, sizeof(err)),
                 CFS_JE_INVAL);
    cr_assert(strstr(err, "`frobnicate`"), "%s", err);
    cr_assert_eq(ops, 7, "unchanged on error");
    cr_assert_eq(cfs_filter_parse_ops(" , ", &ops, err, sizeof(err)), CFS_JE_INVAL);
    cr_assert_eq(cfs_filter_parse_ops("close_all exit", &ops, err, sizeof(err)), 0);
    cr_assert_eq(ops, (UINT64_C(1) << CFS_OP_CLOSE_ALL) | (UINT64_C(1) << CFS_OP_EXIT));

    rt_world w;
    rt_begin(&w, 0);
    rt_reopen_ro(&w);
    cfs_filter f = {.path = "relative/x"};
    cfs_stepper *s;
    cr_assert_eq(cfs_stepper_open(w.j, 0, 0, &f, &s, err, sizeof(err)), CFS_JE_INVAL);
    cr_assert_null(s);
    cr_assert(strstr(err, "relative/x"), "%s", err);
    rt_end(&w);
}

/* ---- the property test ---------------------------------------------------------- */

static const char *const paths[] = {"/a", "/b", "/c", "/d", "/d/a", "/d/b",
                                    "/d/e", "/d/e/a", "/d/e/f"};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

/*
 * What the oracle knows, from the live engine only: for each event the
 * inodes it touches (asked in the state before it), for each state the
 * inode each path names, and when each inode ceased to exist.
 */
struct oracle {
    rt_world w;
    size_t cap;
    cfs_ino (*touch)[6];     /* touch[seq] */
    int *ntouch;
    cfs_ino (*at)[NPATHS];   /* at[seq][p]: what p names after seq */
    uint64_t *death;         /* death[ino]: the seq after which it is gone */
    cfs_ino *alive;          /* inodes seen and not yet gone */
    size_t nalive, death_cap;
};

static void grow(struct oracle *o, uint64_t seq)
{
    if (seq < o->cap)
        return;
    size_t cap = o->cap ? o->cap * 2 : 1024;
    while (cap <= seq)
        cap *= 2;
    o->touch = realloc(o->touch, cap * sizeof(*o->touch));
    o->ntouch = realloc(o->ntouch, cap * sizeof(*o->ntouch));
    o->at = realloc(o->at, cap * sizeof(*o->at));
    cr_assert(o->touch && o->ntouch && o->at);
    o->cap = cap;
}

static void see_inode(struct oracle *o, cfs_ino ino)
{
    if (!ino)
        return;
    for (size_t i = 0; i < o->nalive; i++)
        if (o->alive[i] == ino)
            return;
    if (ino >= o->death_cap) {
        size_t cap = o->death_cap ? o->death_cap * 2 : 1024;
        while (cap <= ino)
            cap *= 2;
        o->death = realloc(o->death, cap * sizeof(*o->death));
        memset(o->death + o->death_cap, 0, (cap - o->death_cap) * sizeof(*o->death));
        o->death_cap = cap;
    }
    if (o->death[ino])
        return;
    o->alive = realloc(o->alive, (o->nalive + 1) * sizeof(*o->alive));
    o->alive[o->nalive++] = ino;
}

/* The state after `seq` is the engine's now. */
static void note_state(struct oracle *o, uint64_t seq)
{
    grow(o, seq);
    for (size_t p = 0; p < NPATHS; p++) {
        cfs_filestat st;
        o->at[seq][p] = cfs_path_filestat_get(o->w.fs, CFS_ROOT_FD, 0, paths[p], &st) == 0
                            ? st.ino : 0;
        see_inode(o, o->at[seq][p]);
    }
    size_t k = 0;
    for (size_t i = 0; i < o->nalive; i++) {
        cfs_filestat st;
        if (cfs_getattr(o->w.fs, o->alive[i], &st) == 0)
            o->alive[k++] = o->alive[i];
        else
            o->death[o->alive[i]] = seq;
    }
    o->nalive = k;
}

static cfs_errno oracle_append(void *ctx, const cfs_event *ev)
{
    struct oracle *o = ctx;
    note_state(o, ev->seq - 1);
    grow(o, ev->seq);
    cfs_ino *t = o->touch[ev->seq];
    int n = 0;
    cfs_ino cand[6] = {ev->ino, ev->ino2, ev->dir, ev->dir2, 0, 0};
    cfs_filestat st;
    switch (ev->op) {
    case CFS_OP_RENUMBER:
        if (cfs_fd_filestat_get(o->w.fs, ev->fd2, &st) == 0)
            cand[5] = st.ino;
        /* fall through */
    case CFS_OP_CLOSE:
    case CFS_OP_READ:
    case CFS_OP_SEEK:
    case CFS_OP_DUP:
    case CFS_OP_SET_FLAGS:
    case CFS_OP_SET_RIGHTS:
    case CFS_OP_SET_CLOEXEC:
        if (cfs_fd_filestat_get(o->w.fs, ev->fd, &st) == 0)
            cand[4] = st.ino;
        break;
    default:
        break;
    }
    for (int i = 0; i < 6; i++) {
        bool dup = false;
        for (int k = 0; k < n; k++)
            dup |= t[k] == cand[i];
        if (cand[i] && !dup)
            t[n++] = cand[i];
        see_inode(o, cand[i]);
    }
    o->ntouch[ev->seq] = n;
    return rt_tee_append(&o->w, ev);
}

static bool touches(const struct oracle *o, uint64_t seq, cfs_ino ino)
{
    for (int i = 0; i < o->ntouch[seq]; i++)
        if (o->touch[seq][i] == ino)
            return true;
    return false;
}

/* The path filter's definition (cfs_replay.h), step by step. */
static size_t oracle_path(const struct oracle *o, size_t p, uint64_t from, uint64_t last,
                          uint64_t *out)
{
    size_t k = 0;
    cfs_ino followed = o->at[from - 1][p];
    for (uint64_t e = from; e <= last; e++) {
        bool shown = followed && touches(o, e, followed);
        bool dead = followed && o->death[followed] && o->death[followed] <= e;
        if (!followed || dead) {
            cfs_ino before = followed;
            followed = o->at[e][p];
            if (followed && followed != before && touches(o, e, followed))
                shown = true;
        }
        if (shown)
            out[k++] = e;
    }
    return k;
}

static void compare(const char *what, uint64_t seed, const uint64_t *want, size_t nw,
                    const uint64_t *got, size_t ng)
{
    size_t i = 0;
    while (i < nw && i < ng && want[i] == got[i])
        i++;
    cr_assert(i == nw && i == ng,
              "seed %" PRIu64 ", %s: first difference at #%zu: oracle %" PRIu64
              ", filter %" PRIu64 " (%zu vs %zu shown)", seed, what, i,
              i < nw ? want[i] : 0, i < ng ? got[i] : 0, nw, ng);
}

Test(filter, path_and_inode_filters_match_the_oracle)
{
    static const uint64_t defaults[] = {11, 12, 13, 14};
    uint64_t seeds[4];
    size_t ns = cfs_test_seeds(defaults, 4, seeds);
    for (size_t si = 0; si < ns; si++) {
        uint64_t seed = seeds[si];
        printf("filter oracle seed %" PRIu64 "\n", seed);
        struct oracle *o = calloc(1, sizeof(*o));
        rt_begin(&o->w, 37);
        cfs_sink sink = {oracle_append, rt_tee_sync, o};
        cfs_fs_set_sink(o->w.fs, &sink);
        cfs_rng r;
        cfs_rng_seed(&r, seed);
        rt_workload(&o->w, &r, 1500, 2000);
        uint64_t last = cfs_fs_seq(o->w.fs);
        note_state(o, last);
        rt_reopen_ro(&o->w);

        uint64_t *want = malloc(MAXSHOW * sizeof(*want)), *got = malloc(MAXSHOW * sizeof(*got));
        for (size_t p = 0; p < NPATHS; p++) {
            uint64_t froms[3] = {1, 1 + cfs_rng_below(&r, last), 1 + cfs_rng_below(&r, last)};
            for (int fi = 0; fi < 3; fi++) {
                cfs_filter f = {.path = paths[p]};
                size_t nw = oracle_path(o, p, froms[fi], last, want);
                size_t ng = rt_shown(o->w.j, froms[fi], 0, &f, got, MAXSHOW);
                char what[128];
                snprintf(what, sizeof(what), "path %s from %" PRIu64, paths[p], froms[fi]);
                compare(what, seed, want, nw, got, ng);
            }
        }
        /* inode filters: every event that touches it */
        for (int k = 0; k < 6; k++) {
            cfs_ino ino = CFS_INO_ROOT + cfs_rng_below(&r, 40);
            size_t nw = 0;
            for (uint64_t e = 1; e <= last; e++)
                if (touches(o, e, ino))
                    want[nw++] = e;
            cfs_filter f = {.ino = ino};
            size_t ng = rt_shown(o->w.j, 1, 0, &f, got, MAXSHOW);
            char what[64];
            snprintf(what, sizeof(what), "inode %" PRIu64, ino);
            compare(what, seed, want, nw, got, ng);
        }
        free(want);
        free(got);
        free(o->touch);
        free(o->ntouch);
        free(o->at);
        free(o->death);
        free(o->alive);
        rt_end(&o->w);
        free(o);
    }
}
