/*
 * test_stats.c — cfs_journal_stat() and cfs_journal_writer_pid(), the
 * journal's answers to `chronofs stat` and to "who is writing this?".
 */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfs_journal.h"
#include "cfs_test_util.h"

static cfs_journal *jopen(const char *dir, int create, int read_only)
{
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = create;
    o.read_only = read_only;
    o.batch_events = 10;
    cfs_journal *j;
    char err[256];
    int rc = cfs_journal_open(dir, &o, &j, err, sizeof(err));
    cr_assert_eq(rc, 0, "open %s: %s: %s", dir, cfs_strerror(rc), err);
    return j;
}

/* 35 events through an engine whose sink is the journal: 4 frames. */
static void write_some(cfs_journal *j)
{
    cfs_config cfg = {.sink = cfs_journal_sink(j)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    char buf[4096];
    memset(buf, 'x', sizeof(buf));
    for (int i = 0; i < 35; i++) {
        char name[32];
        snprintf(name, sizeof(name), "d%d", i);
        cr_assert_eq(cfs_path_create_directory(fs, CFS_ROOT_FD, name), 0);
    }
    cr_assert_eq(cfs_journal_snapshot(j, fs, "one", "explicit", 0, NULL), 0);
    cfs_fs_free(fs);
}

Test(stats, counts_frames_events_and_snapshots)
{
    char *dir = cfs_test_tmpdir("cfs-stats");
    cfs_journal *j = jopen(dir, 1, 0);
    cfs_journal_stats st;
    cr_assert_eq(cfs_journal_stat(j, &st), 0);
    cr_assert_eq(st.events, 0);
    cr_assert_eq(st.frames, 0);
    cr_assert_eq(st.first_seq, 0);
    write_some(j);
    cr_assert_eq(cfs_journal_close(j), 0);

    j = jopen(dir, 0, 1);
    cr_assert_eq(cfs_journal_stat(j, &st), 0);
    cr_assert_eq(st.events, 35);
    cr_assert_eq(st.frames, 4);
    cr_assert_eq(st.first_seq, 1);
    cr_assert_eq(st.last_seq, 35);
    cr_assert_eq(st.snapshots, 1);
    cr_assert_gt(st.raw_bytes, 0);
    cr_assert_gt(st.stored_bytes, 4 * CFS_FRAME_HEADER_SIZE - 1);
    cr_assert_gt(st.events_db_bytes, 0);
    cr_assert_gt(st.file_bytes, 0);
    cfs_journal_close(j);
    cfs_test_rmtree(dir);
    free(dir);
}

Test(stats, writer_pid_names_the_lock_holder)
{
    char *dir = cfs_test_tmpdir("cfs-stats");
    cr_assert_eq(cfs_journal_writer_pid(dir), 0); /* no journal: nobody */
    cfs_journal *j = jopen(dir, 1, 0);
    cr_assert_eq(cfs_journal_writer_pid(dir), (long)getpid());
    cfs_journal_close(j);
    cr_assert_eq(cfs_journal_writer_pid(dir), 0);

    /* another process holding it, then dying: no holder any more */
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t child = fork();
    if (child == 0) {
        cfs_journal_opts o;
        cfs_journal_opts_default(&o);
        cfs_journal *cj;
        if (cfs_journal_open(dir, &o, &cj, NULL, 0))
            _exit(1);
        if (write(p[1], "k", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    cr_assert_eq(read(p[0], &c, 1), 1);
    cr_assert_eq(cfs_journal_writer_pid(dir), (long)child);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    cr_assert_eq(cfs_journal_writer_pid(dir), 0);
    close(p[0]);
    close(p[1]);
    cfs_test_rmtree(dir);
    free(dir);
}
