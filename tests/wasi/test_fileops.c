/*
 * test_fileops.c — the fileops guest (guests/fileops.c) goes over the
 * filesystem surface through wasi-libc; its transcript must equal
 * guests/fileops.expected line for line, and the tree it leaves must be
 * what the engine shows.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasi_test.h"

static void check_transcript(const char *got)
{
    char *want = wt_read_file(CFS_WASI_TEST_DIR "/guests/fileops.expected", NULL);
    cr_assert(want, "fileops.expected missing");
    /* first differing line, for a readable failure */
    const char *a = got, *b = want;
    int line = 1;
    while (*a && *b) {
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        size_t la = ea ? (size_t)(ea - a) : strlen(a);
        size_t lb = eb ? (size_t)(eb - b) : strlen(b);
        cr_assert(la == lb && memcmp(a, b, la) == 0,
                  "transcript line %d:\n  got:  %.*s\n  want: %.*s", line,
                  (int)la, a, (int)lb, b);
        a += la + (ea ? 1 : 0);
        b += lb + (eb ? 1 : 0);
        line++;
    }
    cr_assert(!*a && !*b, "transcript length differs at line %d", line);
    free(want);
}

Test(fileops, transcript_and_tree)
{
    wt_sink rec = {0};
    cfs_fs *fs = wt_fs_new(&rec);
    const char *argv[] = {"fileops", NULL};
    wt_run r;
    wt_run_guest(CFS_GUEST_FILEOPS_SO, fs, argv, NULL, 1, NULL, &r);
    cr_assert_eq(r.rc, 0, "run: %s", r.err);
    cr_assert_eq(r.res.trapped, 0, "%s", r.res.message);
    cr_assert_eq(r.res.exit_code, 0);
    if (getenv("CFS_WASI_PRINT"))
        fputs(r.out, stderr);
    check_transcript(r.out);

    /* the tree, through the engine */
    cfs_filestat st, st2;
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/work/data.txt", 0, &st), 0);
    cr_assert_eq(st.filetype, CFS_FILETYPE_REGULAR_FILE);
    cr_assert_eq(st.size, 7); /* "hello", "!!" appended, "H" over the h */
    char buf[16];
    size_t got;
    cr_assert_eq(cfs_file_pread_ino(fs, st.ino, buf, sizeof(buf), 0, &got), 0);
    cr_assert_eq(got, 7);
    cr_assert(memcmp(buf, "Hello!!", 7) == 0);
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/work/hard", 0, &st2), 0);
    cr_assert_eq(st2.ino, st.ino);
    cr_assert_eq(st2.nlink, 2);
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/work/link", 0, &st2), 0);
    cr_assert_eq(st2.filetype, CFS_FILETYPE_SYMBOLIC_LINK);
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/work/link",
                                 CFS_LOOKUP_SYMLINK_FOLLOW, &st2), 0);
    cr_assert_eq(st2.ino, st.ino);
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/work/big.bin", 0, &st2), 0);
    cr_assert_eq(st2.size, 70000);
    uint8_t b[4];
    cr_assert_eq(cfs_file_pread_ino(fs, st2.ino, b, 4, 65536, &got), 0);
    cr_assert_eq(b[0], 65536 % 251);
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/work/renamed.txt", 0, &st2), 0);
    cr_assert_eq(st2.size, 7);
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/work/sub", 0, &st2), 0);
    cr_assert_eq(st2.filetype, CFS_FILETYPE_DIRECTORY);
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/work/old.txt", 0, &st2),
                 CFS_ENOENT);
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/work/trunc.txt", 0, &st2),
                 CFS_ENOENT);
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/work/ghost", 0, &st2),
                 CFS_ENOENT);

    /* the process ended: every fd is closed */
    cfs_fdstat fst;
    for (cfs_fd fd = 0; fd < 16; fd++)
        cr_assert_eq(cfs_fd_fdstat_get(fs, fd, &fst), CFS_EBADF, "fd %u", fd);

    wt_run_free(&r);
    cfs_fs_free(fs);
    wt_sink_free(&rec);
}

Test(fileops, journaled_run_replays_to_the_same_state)
{
    /* Every change the guest made went through the journal: replaying it
     * from scratch rebuilds exactly the live state (same hash). */
    wt_jfs x;
    wt_jfs_open(&x);
    const char *argv[] = {"fileops", NULL};
    wt_run r;
    wt_run_guest(CFS_GUEST_FILEOPS_SO, x.fs, argv, NULL, 1, NULL, &r);
    cr_assert_eq(r.rc, 0, "run: %s", r.err);
    cr_assert_eq(r.res.exit_code, 0, "%s", r.res.message);
    check_transcript(r.out);
    wt_run_free(&r);
    wt_jfs_check_and_close(&x);
}
