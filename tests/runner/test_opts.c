/*
 * test_opts.c — `chronofs run` options, the module's defaults section,
 * guest mount path normalization, and args/env merging (the seed's
 * mix_args_from_the_webc_and_user / mix_env_vars_from_the_webc_and_user /
 * invalid_guest_mount_paths_are_rejected).
 */
#include "runner_test.h"

/* ---- parsing ------------------------------------------------------------- */

Test(opts, everything_parses_and_the_guest_gets_the_rest)
{
    cfs_run_opts o;
    PARSE_OK(&o, "--journal", "j", "--journal-readonly", "b1", "--journal-readonly=b2",
             "--at", "42", "--durability", "sync", "--snapshot-on", "sigusr1",
             "--snapshot-on", "events:100", "--snapshot-on", "bytes:4096",
             "--snapshot-on", "idle:250ms", "--snapshot-on", "bootstrap", "--snapshot-on",
             "exit", "--snapshot-interval", "2s", "--stop-after-snapshot", "--mapdir",
             "/data:/tmp/d", "--layer", "/pkg:lj@v1", "--layer", "/x:lj2",
             "--mount-conflict", "fail", "--cwd", "/data", "--env", "A=1", "--env", "B=x=y",
             "--forward-host-env", "--memory-limit", "64M", "--skip-journal-stdio", "--cache",
             "/tmp/c", "app.wasm", "--", "--journal", "guest", "--help");
    cr_assert_str_eq(o.journal, "j");
    cr_assert_eq(o.njournals_ro, 2);
    cr_assert_str_eq(o.journals_ro[1], "b2");
    cr_assert(o.has_at);
    cr_assert_eq(o.at, 42);
    cr_assert_eq(o.durability, CFS_DURABILITY_SYNC);
    unsigned want = CFS_RUN_TRIG_SIGUSR1 | CFS_RUN_TRIG_EVENTS | CFS_RUN_TRIG_BYTES |
                    CFS_RUN_TRIG_IDLE | CFS_RUN_TRIG_BOOTSTRAP | CFS_RUN_TRIG_EXIT |
                    CFS_RUN_TRIG_INTERVAL; /* --snapshot-interval implies it */
    cr_assert_eq(o.triggers, want);
    cr_assert_eq(o.snapshot_every_events, 100);
    cr_assert_eq(o.snapshot_every_bytes, 4096);
    cr_assert_eq(o.snapshot_idle_ns, 250000000ull);
    cr_assert_eq(o.snapshot_interval_ns, 2000000000ull);
    cr_assert(o.stop_after_snapshot);
    cr_assert_eq(o.nmapdirs, 1);
    cr_assert_str_eq(o.mapdirs[0].guest, "/data");
    cr_assert_str_eq(o.mapdirs[0].host, "/tmp/d");
    cr_assert_eq(o.nlayers, 2);
    cr_assert_str_eq(o.layers[0].journal, "lj");
    cr_assert_str_eq(o.layers[0].point, "v1");
    cr_assert_null(o.layers[1].point);
    cr_assert_eq(o.mount_conflict, CFS_RUN_CONFLICT_FAIL);
    cr_assert_str_eq(o.cwd, "/data");
    cr_assert_eq(o.nenv, 2);
    cr_assert_str_eq(o.env[1], "B=x=y");
    cr_assert(o.forward_host_env);
    cr_assert_eq(o.memory_limit, 64ull << 20);
    cr_assert(o.skip_journal_stdio);
    cr_assert_str_eq(o.cache_dir, "/tmp/c");
    cr_assert_str_eq(o.module, "app.wasm");
    /* the "--" after the module is dropped; the guest's own options stay */
    cr_assert_eq(o.nargs, 3);
    cr_assert_str_eq(o.args[0], "--journal");
    cr_assert_str_eq(o.args[2], "--help");
    cr_assert(!o.help, "a --help after the module is the guest's");
    cfs_run_opts_free(&o);
}

Test(opts, defaults_are_the_seeds)
{
    cfs_run_opts o;
    PARSE_OK(&o, "g.wasm");
    cr_assert_eq(o.mount_conflict, CFS_RUN_CONFLICT_OVERRIDE);
    cr_assert_eq(o.durability, CFS_DURABILITY_BATCH);
    cr_assert_eq(o.triggers, 0);
    cr_assert_eq(o.memory_limit, 0);
    cr_assert_eq(o.nargs, 0);
    cfs_run_opts_free(&o);
}

Test(opts, help_needs_no_module)
{
    cfs_run_opts o;
    PARSE_OK(&o, "--help");
    cr_assert(o.help);
    cfs_run_opts_free(&o);
    PARSE_OK(&o, "-h");
    cr_assert(o.help);
    cfs_run_opts_free(&o);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cfs_run_opts_help(f);
    fclose(f);
    cr_assert(strstr(buf, "usage: chronofs run"));
    cr_assert(strstr(buf, "example:"));
    cr_assert(strstr(buf, "--mount-conflict"));
    free(buf);
}

Test(opts, memory_limit_suffixes)
{
    const struct { const char *v; uint64_t want; } ok[] = {
        {"1000", 1000}, {"4K", 4096}, {"4k", 4096}, {"3M", 3u << 20}, {"2G", 2ull << 30},
        {"1MiB", 1u << 20}, {"8KB", 8192},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cfs_run_opts o;
        PARSE_OK(&o, "--memory-limit", ok[i].v, "g.wasm");
        cr_assert_eq(o.memory_limit, ok[i].want, "%s", ok[i].v);
        cfs_run_opts_free(&o);
    }
}

/* Every bad value is a usage error (2) whose one line names the option
 * and the value. */
Test(opts, bad_values_name_the_option_and_value)
{
    const struct { const char *opt, *val, *want; } bad[] = {
        {"--memory-limit", "12Q", "--memory-limit: '12Q'"},
        {"--memory-limit", "0", "--memory-limit: '0'"},
        {"--memory-limit", "99999999999999999999", "--memory-limit: '99999999999999999999'"},
        {"--durability", "fast", "--durability: 'fast'"},
        {"--snapshot-on", "hourly", "--snapshot-on: 'hourly'"},
        {"--snapshot-on", "events:0", "--snapshot-on: 'events:0'"},
        {"--snapshot-on", "bytes:x", "--snapshot-on: 'bytes:x'"},
        {"--snapshot-interval", "10", "--snapshot-interval: '10'"},
        {"--snapshot-interval", "5days", "--snapshot-interval: '5days'"},
        {"--mapdir", "/data", "--mapdir: '/data'"},
        {"--mapdir", ":/tmp", "--mapdir: ':/tmp'"},
        {"--layer", "/x:", "--layer: '/x:'"},
        {"--layer", "/x:j@", "--layer: '/x:j@'"},
        {"--mount-conflict", "merge", "--mount-conflict: 'merge'"},
        {"--env", "NOEQUALS", "--env: 'NOEQUALS'"},
        {"--env", "=v", "--env: '=v'"},
        {"--at", "abc", "--at: 'abc'"},
        {"--at", "0", "--at: '0'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfs_run_opts o;
        char err[512] = "";
        int rc = parse_words(&o, err, sizeof err, "--journal", "j", bad[i].opt, bad[i].val,
                             "g.wasm", NULL);
        cr_assert_eq(rc, 2, "%s %s: rc %d", bad[i].opt, bad[i].val, rc);
        cr_assert(strstr(err, bad[i].want), "%s %s: message '%s'", bad[i].opt, bad[i].val, err);
        cr_assert_null(strchr(err, '\n'), "one line: '%s'", err);
        cfs_run_opts_free(&o);
    }
}

Test(opts, usage_errors)
{
    const struct { const char *w[8]; const char *want; } bad[] = {
        {{NULL}, "missing the guest module"},
        {{"--journal", "j", NULL}, "missing the guest module"},
        {{"--bogus", "g.wasm", NULL}, "unknown option '--bogus'"},
        {{"-x", "g.wasm", NULL}, "unknown option '-x'"},
        {{"--journal", NULL}, "'--journal' needs a value"},
        {{"--journal=", "g.wasm", NULL}, "'--journal' needs a non-empty value"},
        {{"--cwd", "", "g.wasm", NULL}, "'--cwd' needs a non-empty value"},
        {{"--stop-after-snapshot=yes", "g.wasm", NULL}, "takes no value"},
        {{"--journal", "a", "--journal", "b", "g.wasm", NULL}, "--journal given twice"},
        {{"--journal", "j", "--at", "3", "--snapshot", "s", "g.wasm"},
         "--at and --snapshot exclude each other"},
        {{"--at", "3", "g.wasm", NULL}, "--at needs a journal"},
        {{"--journal", "j", "--snapshot-on", "interval", "g.wasm", NULL},
         "needs --snapshot-interval"},
        {{"--snapshot-on", "exit", "g.wasm", NULL}, "needs a writable journal"},
        {{"--stop-after-snapshot", "g.wasm", NULL}, "needs a writable journal"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[10] = {(char *)"run"};
        int argc = 1;
        for (int k = 0; k < 8 && bad[i].w[k]; k++)
            argv[argc++] = (char *)bad[i].w[k];
        cfs_run_opts o;
        char err[512] = "";
        cr_assert_eq(cfs_run_opts_parse(argc, argv, &o, err, sizeof err), 2, "case %zu", i);
        cr_assert(strstr(err, bad[i].want), "case %zu: '%s'", i, err);
        cfs_run_opts_free(&o);
    }
}

/* ---- the module's defaults --------------------------------------------------- */

Test(defaults, section_entries)
{
    static const uint8_t sec[] = "arg=hard\0arg=coded\0arg=\0env=HARD_CODED=env-vars\0"
                                 "env=BARE\0env=EQ=a=b\0";
    cfs_run_defaults d;
    char err[256];
    cr_assert_eq(cfs_run_defaults_parse(sec, sizeof sec - 1, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.nargs, 3);
    cr_assert_str_eq(d.args[0], "hard");
    cr_assert_str_eq(d.args[2], "");
    cr_assert_eq(d.nenv, 3);
    cr_assert_str_eq(d.env[0], "HARD_CODED=env-vars");
    cr_assert_str_eq(d.env[1], "BARE=");
    cr_assert_str_eq(d.env[2], "EQ=a=b");
    cfs_run_defaults_free(&d);
    cr_assert_eq(cfs_run_defaults_parse(NULL, 0, &d, err, sizeof err), 0);
    cr_assert_eq(d.nargs + d.nenv, 0);
}

Test(defaults, malformed_sections_are_refused)
{
    const struct { const char *b; size_t len; const char *want; } bad[] = {
        {"arg=x", 5, "byte 0 has no terminating NUL"},
        {"arg=x\0arg=y", 11, "byte 6 has no terminating NUL"},
        {"\0", 1, "neither arg="},
        {"argv=x\0", 7, "neither arg="},
        {"env==v\0", 7, "no variable name"},
        {"env=\0", 5, "no variable name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfs_run_defaults d;
        char err[256] = "";
        cr_assert_eq(cfs_run_defaults_parse((const uint8_t *)bad[i].b, bad[i].len, &d, err,
                                            sizeof err), -1, "case %zu", i);
        cr_assert(strstr(err, bad[i].want), "case %zu: '%s'", i, err);
        cfs_run_defaults_free(&d);
    }
}

/* ---- mount paths ---------------------------------------------------------------- */

Test(mount_path, normalized_as_the_seed)
{
    const struct { const char *in, *out; } cases[] = {
        {"/", "/"}, {".", "/"}, {"python", "/python"}, {"./a/./b/", "/a/b"},
        {"/a/../b", "/b"}, {"a//b", "/a/b"}, {"/a/b/..", "/a"}, {"a/..", "/"},
        {"/mnt/dir", "/mnt/dir"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256], err[256] = "";
        cr_assert_eq(cfs_run_normalize_mount_path(cases[i].in, out, sizeof out, err, sizeof err),
                     0, "%s: %s", cases[i].in, err);
        cr_assert_str_eq(out, cases[i].out, "%s", cases[i].in);
    }
}

Test(mount_path, invalid_guest_mount_paths_are_rejected)
{
    const char *bad[] = {"../../python", "..", "/..", "a/../../b", "/x/./../.."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[256], err[256] = "", want[300];
        cr_assert_eq(cfs_run_normalize_mount_path(bad[i], out, sizeof out, err, sizeof err), -1,
                     "%s", bad[i]);
        snprintf(want, sizeof want, "Invalid guest mount path \"%s\": parent traversal "
                 "escapes the virtual root", bad[i]);
        cr_assert_str_eq(err, want);
    }
}

/* ---- args and env: defaults first, then the user ---------------------------------- */

static cfs_run_state *prepare_ok(cfs_run_opts *o)
{
    cfs_run_state *st = NULL;
    char err[1024] = "";
    cr_assert_eq(cfs_run_prepare(o, &st, err, sizeof err), 0, "prepare: %s", err);
    return st;
}

static void set_defaults(cfs_run_opts *o, const char *sec, size_t len)
{
    char err[256];
    cr_assert_eq(cfs_run_defaults_parse((const uint8_t *)sec, len, &o->defaults, err,
                                        sizeof err), 0, "%s", err);
}

Test(merge, mix_args_from_the_module_and_user)
{
    cfs_run_opts o;
    PARSE_OK(&o, "/some/dir/program-name.wasm", "extra", "args");
    static const char sec[] = "arg=hard\0arg=coded\0arg=args\0";
    set_defaults(&o, sec, sizeof sec - 1);
    cfs_run_state *st = prepare_ok(&o);
    size_t argc;
    char *const *argv = cfs_run_argv(st, &argc);
    const char *want[] = {"program-name.wasm", "hard", "coded", "args", "extra", "args"};
    cr_assert_eq(argc, 6);
    for (size_t i = 0; i < 6; i++)
        cr_assert_str_eq(argv[i], want[i]);
    cr_assert_null(argv[6]);
    cr_assert_eq(cfs_run_finish(st, NULL, 0), 0);
    cfs_run_opts_free(&o);
}

Test(merge, mix_env_vars_from_the_module_and_user)
{
    cfs_run_opts o;
    PARSE_OK(&o, "--env", "EXTRA=envs", "python.wasm");
    static const char sec[] = "env=HARD_CODED=env-vars\0";
    set_defaults(&o, sec, sizeof sec - 1);
    cfs_run_state *st = prepare_ok(&o);
    size_t envc;
    char *const *envp = cfs_run_envp(st, &envc);
    cr_assert_eq(envc, 2);
    cr_assert_str_eq(envp[0], "HARD_CODED=env-vars");
    cr_assert_str_eq(envp[1], "EXTRA=envs");
    cr_assert_null(envp[2]);
    cr_assert_eq(cfs_run_finish(st, NULL, 0), 0);
    cfs_run_opts_free(&o);
}

/* Later sources win per key, keeping the key's first position: defaults,
 * then the host's environment, then --env. */
Test(merge, later_wins_per_key_host_env_between)
{
    setenv("CFS_RUNNER_T_HOST", "from-host", 1);
    setenv("CFS_RUNNER_T_BOTH", "host", 1);
    cfs_run_opts o;
    PARSE_OK(&o, "--env", "CFS_RUNNER_T_BOTH=user", "--env", "K=1", "--env", "K=2",
             "--forward-host-env", "g.wasm");
    static const char sec[] = "env=K=default\0env=CFS_RUNNER_T_HOST=default\0";
    set_defaults(&o, sec, sizeof sec - 1);
    cfs_run_state *st = prepare_ok(&o);
    size_t envc;
    char *const *envp = cfs_run_envp(st, &envc);
    cr_assert_str_eq(envp[0], "K=2");
    cr_assert_str_eq(envp[1], "CFS_RUNNER_T_HOST=from-host");
    int both = 0, k = 0;
    for (size_t i = 0; i < envc; i++) {
        both += !strcmp(envp[i], "CFS_RUNNER_T_BOTH=user");
        k += !strncmp(envp[i], "K=", 2);
        cr_assert(strcmp(envp[i], "CFS_RUNNER_T_BOTH=host"));
    }
    cr_assert_eq(both, 1);
    cr_assert_eq(k, 1, "one K");
    cr_assert_eq(cfs_run_finish(st, NULL, 0), 0);
    cfs_run_opts_free(&o);

    /* without --forward-host-env the host's variables stay out */
    PARSE_OK(&o, "g.wasm");
    st = prepare_ok(&o);
    envp = cfs_run_envp(st, &envc);
    cr_assert_eq(envc, 0);
    cr_assert_null(envp[0]);
    cr_assert_eq(cfs_run_finish(st, NULL, 0), 0);
    cfs_run_opts_free(&o);
}
