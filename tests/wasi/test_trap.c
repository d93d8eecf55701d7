/*
 * test_trap.c — a guest that traps (unreachable, an out-of-bounds load,
 * unbounded recursion on either stack, divide by zero, a bad indirect
 * call) is reported as trapped with the trap named and exit status
 * CFS_WASI_TRAP_EXIT; the events it made before the trap are applied and
 * journaled: the journal verifies and replays to the live state's hash;
 * its fds are closed. Also: proc_raise kills it with 128+signal, and a
 * poll hook stops a running guest between two calls.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfs_journal.h"
#include "wasi_test.h"

static void trap_case(const char *kind, const char *want)
{
    wt_jfs x;
    wt_jfs_open(&x);
    const char *argv[] = {"trap", kind, NULL};
    wt_run r;
    wt_run_guest(CFS_GUEST_TRAP_SO, x.fs, argv, NULL, 1, NULL, &r);
    cr_assert_eq(r.rc, 0, "run: %s", r.err);
    cr_assert_eq(r.res.trapped, 1, "%s: not trapped (exit %d)", kind,
                 r.res.exit_code);
    cr_assert_eq(r.res.exit_code, CFS_WASI_TRAP_EXIT);
    cr_assert_str_eq(r.res.message, want);
    /* what the guest did before the trap is there */
    cfs_filestat st;
    cr_assert_eq(cfs_lookup_path(x.fs, CFS_INO_ROOT, "/t/file", 0, &st), 0);
    cr_assert_eq(st.size, 16);
    cr_assert(strstr(r.out, "about to"), "stdout: %s", r.out);
    cfs_fdstat fst;
    for (cfs_fd fd = 0; fd < 8; fd++)
        cr_assert_eq(cfs_fd_fdstat_get(x.fs, fd, &fst), CFS_EBADF);
    wt_run_free(&r);
    wt_jfs_check_and_close(&x);
}

Test(trap, unreachable) { trap_case("unreachable", "guest trapped: unreachable executed"); }
Test(trap, out_of_bounds_load) { trap_case("oob", "guest trapped: out of bounds memory access"); }
Test(trap, native_stack_exhausted) { trap_case("recurse", "guest trapped: call stack exhausted"); }
Test(trap, shadow_stack_overflow) { trap_case("stack", "guest trapped: out of bounds memory access"); }
Test(trap, divide_by_zero) { trap_case("div0", "guest trapped: integer divide by zero"); }
Test(trap, bad_indirect_call)
{
    trap_case("indirect", "guest trapped: indirect call to a null or mistyped function");
}

Test(trap, proc_raise_kills_with_128_plus_signal)
{
    wt_jfs x;
    wt_jfs_open(&x);
    const char *argv[] = {"trap", "raise", NULL};
    wt_run r;
    wt_run_guest(CFS_GUEST_TRAP_SO, x.fs, argv, NULL, 1, NULL, &r);
    cr_assert_eq(r.rc, 0, "run: %s", r.err);
    cr_assert_eq(r.res.trapped, 0);
    cr_assert_eq(r.res.exit_code, 128 + 15);
    cr_assert(strstr(r.res.message, "signal 15"), "%s", r.res.message);
    wt_run_free(&r);
    wt_jfs_check_and_close(&x);
}

static int stop_after(void *ctx)
{
    int *calls = ctx;
    return ++*calls > 40;
}

Test(trap, poll_stops_the_guest_between_calls)
{
    wt_jfs x;
    wt_jfs_open(&x);
    const char *argv[] = {"trap", "loop", "100000", NULL};
    int calls = 0;
    char pout[] = "/tmp/cfs-wasi-stop-XXXXXX";
    int o = mkstemp(pout);
    cfs_wasi_config cfg = {.fs = x.fs, .argv = argv, .argc = 3, .in_fd = -1,
                           .out_fd = o, .err_fd = o, .journal_stdio = 1,
                           .poll = stop_after, .poll_ctx = &calls};
    cfs_wasi_result res;
    char err[256];
    cr_assert_eq(cfs_wasi_run(CFS_GUEST_TRAP_SO, &cfg, &res, err, sizeof(err)), 0,
                 "%s", err);
    close(o);
    unlink(pout);
    cr_assert_eq(res.stopped, 1);
    cr_assert_eq(res.trapped, 0);
    cr_assert_eq(calls, 41, "poll is called once per WASI call");
    /* stopped part way: some lines, not all */
    cfs_filestat st;
    cr_assert_eq(cfs_lookup_path(x.fs, CFS_INO_ROOT, "/t/file", 0, &st), 0);
    cr_assert(st.size > 16 && st.size < 16 + 5 * 100000, "size %llu",
              (unsigned long long)st.size);
    cr_assert_eq((st.size - 16) % 5, 0, "no torn write");
    wt_jfs_check_and_close(&x);
}

Test(trap, rerun_from_a_dirty_state_starts_clean)
{
    /* The state after a trap mid-run has had its fds closed; a second run
     * on it gets stdio and the "/" preopen again and works. */
    wt_jfs x;
    wt_jfs_open(&x);
    const char *argv[] = {"trap", "unreachable", NULL};
    wt_run r;
    wt_run_guest(CFS_GUEST_TRAP_SO, x.fs, argv, NULL, 1, NULL, &r);
    cr_assert_eq(r.res.trapped, 1);
    wt_run_free(&r);
    const char *argv2[] = {"trap", "loop", "3", NULL};
    wt_run_guest(CFS_GUEST_TRAP_SO, x.fs, argv2, NULL, 1, NULL, &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_assert_eq(r.res.exit_code, 0, "%s", r.res.message);
    cfs_filestat st;
    cr_assert_eq(cfs_lookup_path(x.fs, CFS_INO_ROOT, "/t/file", 0, &st), 0);
    cr_assert_eq(st.size, 16 + 15);
    wt_run_free(&r);
    wt_jfs_check_and_close(&x);
}
