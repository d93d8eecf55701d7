/*
 * test_stdio.c — args, environ, stdin, exit status and stdout/stderr
 * passthrough of the echo guest; with journal_stdio the bytes printed are
 * also engine events (WRITE on inode 11/12, carrying the bytes), without
 * it they are not.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "wasi_test.h"

static const char *const env[] = {"CFS_TEST_VAR=forty two", "OTHER=1", NULL};

/* All bytes of WRITE events on inode `ino`, concatenated. */
static char *events_text(const wt_sink *rec, cfs_ino ino, size_t *count)
{
    size_t len = 0;
    *count = 0;
    for (size_t i = 0; i < rec->n; i++)
        if (rec->ev[i].op == CFS_OP_WRITE && rec->ev[i].ino == ino)
            len += rec->ev[i].len;
    char *s = malloc(len + 1), *p = s;
    for (size_t i = 0; i < rec->n; i++)
        if (rec->ev[i].op == CFS_OP_WRITE && rec->ev[i].ino == ino) {
            memcpy(p, rec->ev[i].data, rec->ev[i].len);
            p += rec->ev[i].len;
            ++*count;
        }
    *p = 0;
    return s;
}

Test(stdio, args_env_stdin_and_passthrough)
{
    wt_sink rec = {0};
    cfs_fs *fs = wt_fs_new(&rec);
    const char *argv[] = {"echo", "ret:0", "two words", "", NULL};
    wt_run r;
    wt_run_guest(CFS_GUEST_ECHO_SO, fs, argv, env, 1, "a line\nmore\n", &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_assert_eq(r.res.exit_code, 0);
    cr_assert_str_eq(r.out, "argc=4\nargv[0]=echo\nargv[1]=ret:0\n"
                            "argv[2]=two words\nargv[3]=\n"
                            "CFS_TEST_VAR=forty two\nenvc=2\n"
                            "stdin: a line\n");
    cr_assert_str_eq(r.errout, "to stderr\n");
    wt_run_free(&r);
    cfs_fs_free(fs);
    wt_sink_free(&rec);
}

Test(stdio, exit_status_from_exit_and_from_main)
{
    const char *a1[] = {"echo", "exit:7", NULL};
    const char *a2[] = {"echo", "ret:3", NULL};
    const char *a3[] = {"echo", "exit:0", NULL};
    const char *const *cases[] = {a1, a2, a3};
    int want[] = {7, 3, 0};
    for (int i = 0; i < 3; i++) {
        cfs_fs *fs = wt_fs_new(NULL);
        wt_run r;
        wt_run_guest(CFS_GUEST_ECHO_SO, fs, cases[i], NULL, 1, NULL, &r);
        cr_assert_eq(r.rc, 0, "%s", r.err);
        cr_assert_eq(r.res.exit_code, want[i], "case %d: %d", i,
                     r.res.exit_code);
        cr_assert_eq(r.res.trapped, 0);
        cr_assert(strstr(r.out, "stdin: EOF\n"), "%s", r.out);
        wt_run_free(&r);
        cfs_fs_free(fs);
    }
}

Test(stdio, stdout_and_stderr_are_journaled_as_events)
{
    wt_sink rec = {0};
    cfs_fs *fs = wt_fs_new(&rec);
    const char *argv[] = {"echo", "ret:0", NULL};
    wt_run r;
    wt_run_guest(CFS_GUEST_ECHO_SO, fs, argv, env, 1, NULL, &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    size_t n_out, n_err;
    char *out = events_text(&rec, CFS_INO_STDOUT, &n_out);
    char *err = events_text(&rec, CFS_INO_STDERR, &n_err);
    cr_assert(n_out >= 1);
    cr_assert_str_eq(out, r.out, "the events carry exactly what was printed");
    cr_assert_str_eq(err, "to stderr\n");
    free(out);
    free(err);
    wt_run_free(&r);
    cfs_fs_free(fs);
    wt_sink_free(&rec);
}

Test(stdio, skip_journal_stdio_keeps_output_out_of_the_events)
{
    wt_sink rec = {0};
    cfs_fs *fs = wt_fs_new(&rec);
    const char *argv[] = {"echo", "ret:0", NULL};
    wt_run r;
    wt_run_guest(CFS_GUEST_ECHO_SO, fs, argv, env, 0, NULL, &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_assert(strstr(r.out, "argc=2\n"), "still passed through: %s", r.out);
    cr_assert_str_eq(r.errout, "to stderr\n");
    size_t n_out, n_err;
    char *out = events_text(&rec, CFS_INO_STDOUT, &n_out);
    char *err = events_text(&rec, CFS_INO_STDERR, &n_err);
    cr_assert_eq(n_out, 0);
    cr_assert_eq(n_err, 0);
    free(out);
    free(err);
    wt_run_free(&r);
    cfs_fs_free(fs);
    wt_sink_free(&rec);
}

Test(stdio, a_fresh_engine_runs_without_setup_events)
{
    /* cfs_fs_new's state is already a clean process (stdio + "/" as fd
     * 3): running on it adds no process-setup events before the guest's. */
    wt_sink rec = {0};
    cfs_fs *fs = wt_fs_new(&rec);
    const char *argv[] = {"echo", "ret:0", NULL};
    wt_run r;
    wt_run_guest(CFS_GUEST_ECHO_SO, fs, argv, NULL, 0, NULL, &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    /* the guest made no fs changes and stdio is not journaled: the only
     * event is the process's end (close-all) */
    cr_assert_eq(rec.n, 1, "%zu events", rec.n);
    cr_assert_eq(rec.ev[0].op, CFS_OP_CLOSE_ALL);
    wt_run_free(&r);
    cfs_fs_free(fs);
    wt_sink_free(&rec);
}

Test(stdio, a_past_state_with_open_fds_gets_a_clean_process)
{
    /* As if restored from a journal mid-run: stdout closed, a file open. */
    wt_sink rec = {0};
    cfs_fs *fs = wt_fs_new(&rec);
    cfs_fd junk;
    cr_assert_eq(cfs_path_open(fs, 3, 0, "junk", CFS_O_CREAT,
                               CFS_RIGHT_FD_WRITE, 0, 0, &junk), 0);
    cr_assert_eq(cfs_fd_close(fs, 1), 0);
    cr_assert_eq(cfs_fd_renumber(fs, junk, 2), 0); /* stderr is now the file */
    size_t before = rec.n;
    const char *argv[] = {"echo", "ret:0", NULL};
    wt_run r;
    wt_run_guest(CFS_GUEST_ECHO_SO, fs, argv, NULL, 1, NULL, &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_assert(strstr(r.out, "argc=2\n"), "stdout: %s", r.out);
    cr_assert_str_eq(r.errout, "to stderr\n");
    /* the process was rebuilt: close-all, stdio 0-2, the "/" preopen */
    cr_assert(rec.n > before + 5);
    cr_assert_eq(rec.ev[before].op, CFS_OP_CLOSE_ALL);
    cr_assert_eq(rec.ev[before + 1].op, CFS_OP_OPEN);
    cr_assert_eq(rec.ev[before + 1].ino, CFS_INO_STDIN);
    cr_assert_eq(rec.ev[before + 2].ino, CFS_INO_STDOUT);
    cr_assert_eq(rec.ev[before + 3].ino, CFS_INO_STDERR);
    cr_assert_eq(rec.ev[before + 4].op, CFS_OP_PREOPEN);
    /* nothing was written into the file that held fd 2 */
    cfs_filestat st;
    cr_assert_eq(cfs_lookup_path(fs, CFS_INO_ROOT, "/junk", 0, &st), 0);
    cr_assert_eq(st.size, 0);
    wt_run_free(&r);
    cfs_fs_free(fs);
    wt_sink_free(&rec);
}
