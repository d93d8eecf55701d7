/*
 * test_blame.c — for each byte range of a file at a seq, the event that
 * last gave it its value: exact ranges for a constructed history (writes
 * over writes, holes, set_size growth and cuts, allocate, O_TRUNC, writes
 * through hard links and renamed paths), and a property test on random
 * workloads: ranges cover the file, a WRITE range holds the blamed event's
 * bytes and every other range zeros, and a per-byte replay agrees.
 */
#include "replay_test.h"

static cfs_blame *blame(cfs_journal *j, const char *path, uint64_t seq)
{
    cfs_blame *b;
    char err[512];
    int rc = cfs_replay_blame(j, path, seq, &b, err, sizeof(err));
    cr_assert_eq(rc, 0, "blame %s at %" PRIu64 ": %s: %s", path, seq, cfs_strerror(rc), err);
    return b;
}

static char *render(const cfs_blame *b)
{
    static const char *const kinds[] = {"?", "write", "set_size", "allocate", "hole"};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    for (size_t i = 0; i < cfs_blame_count(b); i++) {
        const cfs_blame_range *r = cfs_blame_get(b, i);
        fprintf(f, "[%" PRIu64 ",%" PRIu64 ") %s seq %" PRIu64, r->start, r->end,
                kinds[r->kind], r->seq);
        if (r->fd == CFS_BLAME_NO_FD)
            fprintf(f, " %s\n", r->path);
        else
            fprintf(f, " fd %u %s\n", r->fd, r->path);
    }
    fclose(f);
    return buf;
}

Test(blame, exact_ranges_for_a_history)
{
    rt_world w;
    rt_begin(&w, 5);
    cfs_fs *fs = w.fs;
    cfs_fd f = rt_open(fs, "a", CFS_O_CREAT);                              /* 1 */
    rt_write(fs, f, "aaaaaaaa");                                           /* 2 */
    rt_pwrite(fs, f, "bb", 2, 2);                                          /* 3 */
    RT_OK(cfs_fd_filestat_set_size(fs, f, 12));                            /* 4 */
    rt_pwrite(fs, f, "cc", 2, 20);                                         /* 5 */
    RT_OK(cfs_path_rename(fs, CFS_ROOT_FD, "a", CFS_ROOT_FD, "b"));         /* 6 */
    RT_OK(cfs_path_link(fs, CFS_ROOT_FD, 0, "b", CFS_ROOT_FD, "c"));        /* 7 */
    cfs_fd g = rt_open(fs, "c", 0);                                        /* 8 */
    rt_pwrite(fs, g, "dddd", 4, 6);                                        /* 9 */
    RT_OK(cfs_fd_allocate(fs, g, 0, 30));                                  /* 10 */
    RT_OK(cfs_fd_allocate(fs, g, 2, 4));                                   /* 11: inside */
    uint64_t mid = cfs_fs_seq(fs);
    cr_assert_eq(mid, 11);
    RT_OK(cfs_fd_filestat_set_size(fs, f, 21));                            /* 12: cut */
    RT_OK(cfs_fd_filestat_set_size(fs, f, 25));                            /* 13: grow */
    rt_pwrite(fs, g, "e", 1, 24);                                          /* 14 */
    uint64_t end1 = cfs_fs_seq(fs);
    cfs_fd h = rt_open(fs, "b", CFS_O_TRUNC);                              /* 15 */
    rt_write(fs, h, "fresh");                                              /* 16 */
    rt_reopen_ro(&w);

    cfs_blame *b = blame(w.j, "/b", mid);
    char *got = render(b);
    cr_assert_str_eq(got,
                     "[0,2) write seq 2 fd 4 /a\n"
                     "[2,4) write seq 3 fd 4 /a\n"
                     "[4,6) write seq 2 fd 4 /a\n"
                     "[6,10) write seq 9 fd 5 /c\n"
                     "[10,12) set_size seq 4 fd 4 /a\n"
                     "[12,20) hole seq 5 fd 4 /a\n"
                     "[20,22) write seq 5 fd 4 /a\n"
                     "[22,30) allocate seq 10 fd 5 /c\n");
    cr_assert_eq(cfs_blame_size(b), 30);
    free(got);
    cfs_blame_free(b);

    b = blame(w.j, "/c", end1); /* either name of the file */
    got = render(b);
    cr_assert_str_eq(got,
                     "[0,2) write seq 2 fd 4 /a\n"
                     "[2,4) write seq 3 fd 4 /a\n"
                     "[4,6) write seq 2 fd 4 /a\n"
                     "[6,10) write seq 9 fd 5 /c\n"
                     "[10,12) set_size seq 4 fd 4 /a\n"
                     "[12,20) hole seq 5 fd 4 /a\n"
                     "[20,21) write seq 5 fd 4 /a\n"
                     "[21,24) set_size seq 13 fd 4 /b\n"
                     "[24,25) write seq 14 fd 5 /c\n");
    free(got);
    cfs_blame_free(b);

    b = blame(w.j, "/b", CFS_REPLAY_HEAD);
    got = render(b);
    cr_assert_str_eq(got, "[0,5) write seq 16 fd 6 /b\n", "O_TRUNC cut everything");
    free(got);
    cfs_blame_free(b);

    b = blame(w.j, "/a", 1);
    cr_assert_eq(cfs_blame_count(b), 0, "an empty file has no ranges");
    cr_assert_eq(cfs_blame_size(b), 0);
    cr_assert_null(cfs_blame_get(b, 0));
    cfs_blame_free(b);
    rt_end(&w);
}

Test(blame, symlinks_and_errors)
{
    rt_world w;
    rt_begin(&w, 0);
    cfs_fs *fs = w.fs;
    RT_OK(cfs_path_create_directory(fs, CFS_ROOT_FD, "d"));
    cfs_fd f = rt_open(fs, "d/x", CFS_O_CREAT);
    rt_write(fs, f, "xy");
    RT_OK(cfs_path_symlink(fs, "d/x", CFS_ROOT_FD, "s"));
    RT_OK(cfs_fd_filestat_set_size(fs, f, 4));
    rt_reopen_ro(&w);
    cfs_blame *b = blame(w.j, "/s", CFS_REPLAY_HEAD); /* the symlink is followed */
    char *got = render(b);
    cr_assert_str_eq(got, "[0,2) write seq 3 fd 4 /d/x\n"
                          "[2,4) set_size seq 5 fd 4 /d/x\n");
    cr_assert_eq(cfs_blame_ino(b), rt_event(&w, 2)->ino);
    free(got);
    cfs_blame_free(b);
    char err[256];
    cr_assert_eq(cfs_replay_blame(w.j, "/d", 0, &b, err, sizeof(err)), CFS_JE_NOTFOUND,
                 "nothing at seq 0");
    cr_assert_eq(cfs_replay_blame(w.j, "/d", 5, &b, err, sizeof(err)), CFS_JE_INVAL);
    cr_assert(strstr(err, "/d at seq 5 is not a regular file"), "%s", err);
    cr_assert_null(b);
    cr_assert_eq(cfs_replay_blame(w.j, "/nope", 5, &b, err, sizeof(err)), CFS_JE_NOTFOUND);
    cr_assert(strstr(err, "/nope"), "%s", err);
    cr_assert_eq(cfs_replay_blame(w.j, "d/x", 5, &b, err, sizeof(err)), CFS_JE_INVAL);
    rt_end(&w);
}

/* ---- property ---------------------------------------------------------------- */

static const char *const paths[] = {"/a", "/b", "/c", "/d/a", "/d/b", "/d/e/a", "/d/e/f"};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

/* The file's bytes and inode at seq, read from a plain rebuild. */
static uint8_t *file_at(cfs_journal *j, const char *path, uint64_t seq, uint64_t *size,
                        cfs_ino *ino)
{
    cfs_fs *fs;
    char err[256];
    cr_assert_eq(cfs_replay_state_at(j, seq, NULL, &fs, err, sizeof(err)), 0, "%s", err);
    cfs_fd fd;
    cfs_filestat st;
    uint8_t *data = NULL;
    if (cfs_path_open(fs, CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, path, 0,
                      CFS_RIGHT_FD_READ | CFS_RIGHT_FD_SEEK | CFS_RIGHT_FD_FILESTAT_GET, 0, 0,
                      &fd) == 0) {
        if (cfs_fd_filestat_get(fs, fd, &st) == 0 && st.filetype == CFS_FILETYPE_REGULAR_FILE) {
            data = malloc(st.size + 1);
            size_t got;
            RT_OK(cfs_fd_pread(fs, fd, data, st.size, 0, &got));
            cr_assert_eq(got, st.size);
            *size = st.size;
            *ino = st.ino;
        }
    }
    cfs_fs_free(fs);
    return data;
}

/*
 * The same model as blame's, one byte at a time: owner[i] = (seq, kind) of
 * byte i, from the recorded events of inode `ino` up to `seq`.
 */
struct owner {
    uint64_t seq;
    int kind;
};

static struct owner *per_byte(const rt_world *w, cfs_ino ino, uint64_t seq, uint64_t *size)
{
    struct owner *o = NULL;
    uint64_t n = 0, cap = 0;
    for (uint64_t s = 1; s <= seq; s++) {
        const cfs_event *ev = rt_event(w, s);
        if (ev->ino != ino)
            continue;
        uint64_t end = 0;
        int kind = 0;
        switch (ev->op) {
        case CFS_OP_OPEN:
        case CFS_OP_MKNOD:
            if (ev->op == CFS_OP_MKNOD ||
                (ev->flags & (CFS_EVF_OPEN_CREATED | CFS_EVF_OPEN_TRUNCATE)))
                n = 0;
            continue;
        case CFS_OP_WRITE:
            end = ev->offset + ev->length;
            kind = CFS_BLAME_WRITE;
            break;
        case CFS_OP_SET_SIZE:
            if (ev->offset < n) {
                n = ev->offset;
                continue;
            }
            end = ev->offset;
            kind = CFS_BLAME_SET_SIZE;
            break;
        case CFS_OP_ALLOCATE:
            end = ev->offset + ev->length;
            kind = CFS_BLAME_ALLOCATE;
            break;
        default:
            continue;
        }
        if (end > cap) {
            cap = end;
            o = realloc(o, cap * sizeof(*o));
        }
        uint64_t old = n;
        if (end > n)
            n = end;
        if (kind == CFS_BLAME_WRITE) {
            for (uint64_t i = old; i < ev->offset; i++)
                o[i] = (struct owner){s, CFS_BLAME_HOLE};
            for (uint64_t i = ev->offset; i < end; i++)
                o[i] = (struct owner){s, kind};
        } else {
            for (uint64_t i = old; i < end; i++)
                o[i] = (struct owner){s, kind};
        }
    }
    *size = n;
    return o;
}

Test(blame, ranges_hold_what_their_events_wrote)
{
    static const uint64_t defaults[] = {71, 72, 73};
    uint64_t seeds[3];
    size_t ns = cfs_test_seeds(defaults, 3, seeds);
    for (size_t si = 0; si < ns; si++) {
        uint64_t seed = seeds[si];
        printf("blame seed %" PRIu64 "\n", seed);
        rt_world w;
        rt_begin(&w, 43);
        cfs_rng r;
        cfs_rng_seed(&r, seed);
        rt_workload(&w, &r, 700, 2000);
        uint64_t last = cfs_fs_seq(w.fs);
        rt_reopen_ro(&w);
        uint64_t checked = 0, writes = 0;
        for (int k = 0; k < 16; k++) {
            uint64_t seq = k == 0 ? last : 1 + cfs_rng_below(&r, last);
            for (size_t p = 0; p < NPATHS; p++) {
                uint64_t size = 0;
                cfs_ino ino = 0;
                uint8_t *data = file_at(w.j, paths[p], seq, &size, &ino);
                cfs_blame *b;
                char err[512];
                int rc = cfs_replay_blame(w.j, paths[p], seq, &b, err, sizeof(err));
                if (!data) {
                    cr_assert(rc == CFS_JE_NOTFOUND || rc == CFS_JE_INVAL, "%s", err);
                    continue;
                }
                cr_assert_eq(rc, 0, "seed %" PRIu64 " %s at %" PRIu64 ": %s", seed,
                             paths[p], seq, err);
                cr_assert_eq(cfs_blame_size(b), size);
                cr_assert_eq(cfs_blame_ino(b), ino);
                uint64_t osize;
                struct owner *own = per_byte(&w, ino, seq, &osize);
                cr_assert_eq(osize, size);
                uint64_t at = 0;
                for (size_t i = 0; i < cfs_blame_count(b); i++) {
                    const cfs_blame_range *rg = cfs_blame_get(b, i);
                    cr_assert_eq(rg->start, at, "seed %" PRIu64 ": ranges tile the file",
                                 seed);
                    cr_assert_gt(rg->end, rg->start);
                    at = rg->end;
                    const cfs_event *ev = rt_event(&w, rg->seq);
                    cr_assert_eq(ev->ino, ino, "the blamed event is the file's");
                    for (uint64_t x = rg->start; x < rg->end; x++) {
                        cr_assert(own[x].seq == rg->seq && own[x].kind == rg->kind,
                                  "seed %" PRIu64 " %s at %" PRIu64 ": byte %" PRIu64
                                  " blamed on seq %" PRIu64 " kind %d, per byte %" PRIu64
                                  " kind %d", seed, paths[p], seq, x, rg->seq, rg->kind,
                                  own[x].seq, own[x].kind);
                    }
                    if (rg->kind == CFS_BLAME_WRITE) {
                        cr_assert_eq(ev->op, CFS_OP_WRITE);
                        cr_assert_eq(rg->fd, ev->fd);
                        cr_assert(rg->start >= ev->offset &&
                                  rg->end <= ev->offset + ev->length);
                        cr_assert(memcmp(data + rg->start,
                                         (const uint8_t *)ev->data + (rg->start - ev->offset),
                                         rg->end - rg->start) == 0,
                                  "seed %" PRIu64 ": bytes [%" PRIu64 ",%" PRIu64
                                  ") are seq %" PRIu64 "'s", seed, rg->start, rg->end, rg->seq);
                        writes++;
                    } else {
                        for (uint64_t x = rg->start; x < rg->end; x++)
                            cr_assert_eq(data[x], 0, "byte %" PRIu64 " of a zero range", x);
                    }
                    cr_assert(rg->path && rg->path[0] == '/');
                }
                cr_assert_eq(at, size, "the ranges reach the end");
                checked++;
                free(own);
                free(data);
                cfs_blame_free(b);
            }
        }
        printf("blame seed %" PRIu64 ": %" PRIu64 " files, %" PRIu64 " write ranges\n", seed,
               checked, writes);
        cr_assert_gt(checked, 10);
        cr_assert_gt(writes, 10);
        rt_end(&w);
    }
}
