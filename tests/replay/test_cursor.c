/*
 * test_cursor.c — a cursor hands out exactly the journal's events in a
 * range, each whole (strings, write data), in bounded memory however large
 * the journal; damage is reported with its seq after the good events.
 */
#include "replay_test.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void same_event(const cfs_event *a, const cfs_event *b)
{
    char fa[1024], fb[1024];
    cr_assert_str_eq(cfs_event_format(a, fa, sizeof(fa)), cfs_event_format(b, fb, sizeof(fb)));
    cr_assert_eq(!a->data, !b->data, "seq %" PRIu64 ": data", a->seq);
    if (a->data)
        cr_assert(memcmp(a->data, b->data, (size_t)a->length) == 0, "seq %" PRIu64, a->seq);
}

static uint64_t walk(cfs_journal *j, uint64_t from, uint64_t to, const rt_world *w)
{
    cfs_cursor *c;
    char err[256];
    cr_assert_eq(cfs_cursor_open(j, from, to, &c, err, sizeof(err)), 0, "%s", err);
    const cfs_event *ev;
    uint64_t n = 0, want = from ? from : 1;
    int rc;
    while ((rc = cfs_cursor_next(c, &ev)) == 1) {
        cr_assert_eq(ev->seq, want, "in order, no gaps");
        same_event(ev, rt_event(w, ev->seq));
        want++;
        n++;
    }
    cr_assert_eq(rc, 0, "%s", cfs_cursor_errmsg(c));
    cr_assert_eq(cfs_cursor_next(c, &ev), 0, "the end stays the end");
    cfs_cursor_close(c);
    return n;
}

Test(cursor, hands_out_every_event_of_a_range_whole)
{
    uint64_t seed = rt_seed(21);
    printf("cursor seed %" PRIu64 "\n", seed);
    rt_world w;
    rt_begin(&w, 29); /* many frames, ranges start and end inside them */
    cfs_rng r;
    cfs_rng_seed(&r, seed);
    rt_workload(&w, &r, 3000, 20000);
    uint64_t last = cfs_fs_seq(w.fs);
    rt_reopen_ro(&w);
    cr_assert_eq(walk(w.j, 0, 0, &w), last);
    cr_assert_eq(walk(w.j, 1, last, &w), last);
    for (int k = 0; k < 30; k++) {
        uint64_t a = 1 + cfs_rng_below(&r, last), b = a + cfs_rng_below(&r, last - a + 1);
        cr_assert_eq(walk(w.j, a, b, &w), b - a + 1, "%" PRIu64 "..%" PRIu64, a, b);
    }
    cr_assert_eq(walk(w.j, last + 1, 0, &w), 0, "past the end: nothing");
    cfs_cursor *c;
    char err[256];
    cr_assert_eq(cfs_cursor_open(w.j, 9, 8, &c, err, sizeof(err)), CFS_JE_INVAL);
    cr_assert_null(c);
    cr_assert(strstr(err, "9..8"), "%s", err);
    rt_end(&w);
}

Test(cursor, memory_stays_bounded_whatever_the_journal_holds)
{
    rt_world w;
    rt_begin(&w, 0);
    /* 40,000 small events, then 96 MiB of writes of 1 MiB each */
    cfs_fd fd = rt_open(w.fs, "big", CFS_O_CREAT);
    for (int i = 0; i < 40000; i++) {
        uint64_t off;
        RT_OK(cfs_fd_seek(w.fs, fd, i + 1, CFS_WHENCE_SET, &off));
    }
    enum { MB = 1 << 20, WRITES = 96 };
    char *buf = malloc(MB);
    for (int i = 0; i < WRITES; i++) {
        memset(buf, 'a' + i % 26, MB);
        snprintf(buf, 32, "write %d", i);
        rt_pwrite(w.fs, fd, buf, MB, (uint64_t)i * MB);
    }
    uint64_t last = cfs_fs_seq(w.fs);
    rt_reopen_ro(&w);
    cfs_cursor *c;
    char err[256];
    cr_assert_eq(cfs_cursor_open(w.j, 0, 0, &c, err, sizeof(err)), 0);
    const cfs_event *ev;
    uint64_t n = 0, data = 0;
    size_t peak = 0;
    while (cfs_cursor_next(c, &ev) == 1) {
        n++;
        if (ev->op == CFS_OP_WRITE) {
            cr_assert_eq(ev->length, MB);
            snprintf(buf, 32, "write %d", (int)(data / MB));
            cr_assert_str_eq((const char *)ev->data, buf, "the data is the event's");
            data += ev->length;
        }
        if (cfs_cursor_memory(c) > peak)
            peak = cfs_cursor_memory(c);
    }
    cr_assert_eq(n, last);
    cr_assert_eq(data, (uint64_t)WRITES * MB);
    printf("cursor: %" PRIu64 " events, %" PRIu64 " MiB of data, peak %zu KiB held\n", n,
           data >> 20, peak >> 10);
    /* 8192 slots (~1.6 MiB) + an arena of 8 MiB + the one event past it */
    cr_assert_lt(peak, (size_t)11 << 20, "peak %zu bytes", peak);
    cfs_cursor_close(c);
    free(buf);
    rt_end(&w);
}

Test(cursor, damage_is_reported_after_the_good_events)
{
    rt_world w;
    rt_begin(&w, 40);
    cfs_rng r;
    cfs_rng_seed(&r, 5);
    rt_workload(&w, &r, 2000, 3000);
    rt_reopen_ro(&w);
    cfs_journal_close(w.j);
    w.j = NULL;

    /* flip a payload byte of a frame in the middle */
    uint64_t first = cfs_test_flip_frame_byte(w.dir, 1, 2, 0, 45, 0x5a);
    cr_assert_gt(first, 0, "a journal of more than 10 frames, damaged");

    w.j = rt_jopen(w.dir, 0, 1, 0);
    cfs_cursor *c;
    char err[256];
    cr_assert_eq(cfs_cursor_open(w.j, 0, 0, &c, err, sizeof(err)), 0);
    const cfs_event *ev;
    uint64_t lastgood = 0;
    int rc;
    while ((rc = cfs_cursor_next(c, &ev)) == 1)
        lastgood = ev->seq;
    cr_assert_eq(rc, CFS_JE_CORRUPT, "%s", cfs_strerror(rc));
    cr_assert_eq(lastgood, first - 1, "every event before the bad frame, none after");
    char want[64];
    snprintf(want, sizeof(want), "seq %" PRIu64, first);
    cr_assert(strstr(cfs_cursor_errmsg(c), want), "%s names %s", cfs_cursor_errmsg(c), want);
    cr_assert_eq(cfs_cursor_next(c, &ev), CFS_JE_CORRUPT, "errors stay");
    cfs_cursor_close(c);
    rt_end(&w);
}

Test(cursor, a_live_journal_is_read_up_to_what_is_committed)
{
    rt_world w;
    rt_begin(&w, 10);
    for (int i = 0; i < 25; i++) {
        char name[16];
        snprintf(name, sizeof(name), "d%d", i);
        RT_OK(cfs_path_create_directory(w.fs, CFS_ROOT_FD, name));
    }
    cr_assert_eq(cfs_journal_commit(w.j), 0);
    /* the writer's own handle: everything committed so far */
    cfs_cursor *c;
    char err[256];
    cr_assert_eq(cfs_cursor_open(w.j, 20, 0, &c, err, sizeof(err)), 0);
    const cfs_event *ev;
    uint64_t n = 0;
    while (cfs_cursor_next(c, &ev) == 1)
        n++;
    cr_assert_eq(n, 6);
    cfs_cursor_close(c);
    rt_end(&w);
}
