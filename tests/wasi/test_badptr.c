/*
 * test_badptr.c — a guest that hands the host pointers and lengths outside
 * its memory, wrapping ptr+len, huge iovec counts and bad fds gets the WASI
 * errno for each (the guest checks them: guests/badptr.c), the host does
 * not crash, and no failed call changed the filesystem.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "wasi_test.h"

Test(badptr, every_bad_argument_is_an_errno)
{
    cfs_fs *fs = wt_fs_new(NULL);
    const char *argv[] = {"badptr", NULL};
    wt_run r;
    wt_run_guest(CFS_GUEST_BADPTR_SO, fs, argv, NULL, 0, NULL, &r);
    cr_assert_eq(r.rc, 0, "run: %s", r.err);
    cr_assert_eq(r.res.trapped, 0, "%s", r.res.message);
    cr_assert(strstr(r.out, "failures 0\n"), "guest output:\n%s", r.out);
    cr_assert(!strstr(r.out, "FAIL"), "guest output:\n%s", r.out);
    cr_assert_eq(r.res.exit_code, 0, "guest output:\n%s", r.out);
    cfs_filestat st;
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/never-created", 0, &st),
                 CFS_ENOENT);
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/never-2", 0, &st),
                 CFS_ENOENT);
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/never-3", 0, &st),
                 CFS_ENOENT);
    wt_run_free(&r);
    cfs_fs_free(fs);
}

Test(badptr, every_preview1_import_links_and_answers)
{
    /* guests/allimports.c imports all 46 functions; its own checks cover
     * rights dropping, fdflags, links, readdir cookies, sockets; it ends
     * with proc_exit(42) from main when all passed. */
    wt_jfs x;
    wt_jfs_open(&x);
    const char *argv[] = {"allimports", NULL};
    wt_run r;
    wt_run_guest(CFS_GUEST_ALLIMPORTS_SO, x.fs, argv, NULL, 1, NULL, &r);
    cr_assert_eq(r.rc, 0, "run: %s", r.err);
    cr_assert(!strstr(r.out, "FAIL"), "guest output:\n%s", r.out);
    cr_assert_eq(r.res.exit_code, 42, "guest output:\n%s", r.out);
    cfs_filestat st;
    cr_assert_eq(cfs_lookup_path(x.fs, CFS_INO_ROOT, "/f", 0, &st), 0);
    cr_assert_eq(st.size, 10);
    cr_assert_eq(st.mtim, 8000000000ull);
    wt_run_free(&r);
    wt_jfs_check_and_close(&x);
}
