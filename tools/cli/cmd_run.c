/*
 * cmd_run.c — `chronofs run`: a WASI guest on a journaled filesystem.
 *
 * The runner (tools/runner/) parses the options and prepares the guest's
 * engine and journal; the WASI host (tools/wasi/) builds the module into
 * a native object (cached by its hash) and runs it over that engine,
 * calling back here between WASI calls. This file joins the two and turns
 * what happened into an exit status:
 *   the guest's own exit code when it exits (proc_exit or main's return);
 *   CFS_WASI_TRAP_EXIT (134) when it traps, with the trap on stderr;
 *   0 when --stop-after-snapshot stopped it (a note names the seq);
 *   130 / 143 when SIGINT / SIGTERM stopped it (everything it did up to
 *   then is committed: a second signal kills it outright);
 *   1 for an error of chronofs's (one line: the module, journal or path at
 *   fault), 2 for a usage error.
 */
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfs_runner.h"
#include "cfs_wasi.h"
#include "cli.h"

/* SIGINT / SIGTERM: stop the guest at its next WASI call, then commit.
 * Set by the handler on whichever thread the signal lands, read by the
 * guest's: a lock-free atomic. */
static atomic_int stop_signal;

static void on_stop_signal(int sig)
{
    if (stop_signal) { /* the second one: the guest is not listening */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_signal = sig;
}

static int poll_run(void *ctx)
{
    if (stop_signal)
        return 1;
    return cfs_run_poll(ctx);
}

/* The module's defaults (its "chronofs.wasi" section) into o->defaults. */
static void load_defaults(cfs_run_opts *o)
{
    char err[512];
    uint8_t *sec = NULL;
    size_t len = 0;
    int rc = cfs_wasi_custom_section(o->module, "chronofs.wasi", &sec, &len, err,
                                     sizeof err);
    if (rc < 0)
        cfs_cli_die_user("%s", err);
    if (rc == 0) {
        rc = cfs_run_defaults_parse(sec, len, &o->defaults, err, sizeof err);
        free(sec);
        if (rc)
            cfs_cli_die_user("%s: section chronofs.wasi: %s", o->module, err);
    }
}

int cfs_cli_run(int argc, char **argv)
{
    /* `chronofs snapshot J` may signal us before the runner's handler is
     * in place: until then a SIGUSR1 must not kill the run */
    signal(SIGUSR1, SIG_IGN);
    cfs_run_opts o;
    char err[1024];
    if (cfs_run_opts_parse(argc, argv, &o, err, sizeof err)) {
        cfs_run_opts_free(&o);
        cfs_cli_die_usage("%s", err);
    }
    if (o.help) {
        cfs_run_opts_help(stdout);
        cfs_run_opts_free(&o);
        return CFS_CLI_EXIT_OK;
    }
    if (access(o.module, R_OK) != 0)
        cfs_cli_die_user("%s: cannot read the module", o.module);
    load_defaults(&o);

    char cache_buf[PATH_MAX], so[PATH_MAX];
    const char *cache = o.cache_dir ? o.cache_dir
                                    : cfs_wasi_default_cache(cache_buf, sizeof cache_buf);
    if (!cache)
        cfs_cli_die_user("no cache directory for native builds: set CHRONOFS_CACHE "
                         "or HOME, or pass --cache DIR");
    if (cfs_wasi_build(o.module, cache, so, sizeof so, err, sizeof err))
        cfs_cli_die_user("%s", err);

    cfs_run_state *st;
    if (cfs_run_prepare(&o, &st, err, sizeof err))
        cfs_cli_die_user("%s", err);

    size_t gargc, genvc;
    char *const *gargv = cfs_run_argv(st, &gargc);
    char *const *genvp = cfs_run_envp(st, &genvc);
    cfs_wasi_config cfg = {
        .fs = cfs_run_fs(st),
        .argv = (const char *const *)gargv,
        .argc = gargc,
        .envp = (const char *const *)genvp,
        .envc = genvc,
        .cwd = cfs_run_cwd(st),
        .journal_stdio = cfs_run_journal_stdio(st),
        .in_fd = STDIN_FILENO,
        .out_fd = STDOUT_FILENO,
        .err_fd = STDERR_FILENO,
        .poll = poll_run,
        .poll_ctx = st,
        .call_lock = cfs_run_call_lock(st),
    };
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    /* a reader that goes away (| head) is EPIPE for the guest's writes,
     * not the death of the run and of its uncommitted batch */
    signal(SIGPIPE, SIG_IGN);

    cfs_wasi_result res;
    char run_err[1024] = "";
    int run_rc = cfs_wasi_run(so, &cfg, &res, run_err, sizeof run_err);
    char poll_err[512];
    snprintf(poll_err, sizeof poll_err, "%s", cfs_run_errmsg(st));
    uint64_t seq = cfs_fs_seq(cfs_run_fs(st));

    char fin_err[1024] = "";
    int fin_rc = cfs_run_finish(st, fin_err, sizeof fin_err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    if (run_rc) /* it never ran */
        cfs_cli_die_user("%s", run_err);
    if (fin_rc) { /* what it did may not all be in the journal: say so first */
        if (res.trapped)
            cfs_cli_warn("%s: %s", o.module, res.message);
        cfs_cli_die_user("%s", fin_err);
    }
    int status;
    if (res.trapped) {
        cfs_cli_warn("%s: %s", o.module, res.message);
        status = CFS_WASI_TRAP_EXIT;
    } else if (res.stopped && stop_signal) {
        cfs_cli_warn("%s: stopped by signal %d at seq %llu; everything up to it "
                     "is committed", o.module, (int)stop_signal,
                     (unsigned long long)seq);
        status = 128 + (int)stop_signal;
    } else if (res.stopped && poll_err[0]) {
        cfs_cli_die_user("%s: stopped: %s", o.module, poll_err);
    } else if (res.stopped) {
        cfs_cli_note("%s: stopped after a snapshot at seq %llu", o.module,
                     (unsigned long long)seq);
        status = CFS_CLI_EXIT_OK;
    } else {
        status = res.exit_code;
    }
    cfs_run_opts_free(&o);
    return status;
}
