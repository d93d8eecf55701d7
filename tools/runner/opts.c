/*
 * opts.c — `chronofs run` options, the module's defaults section, and
 * guest mount path normalization.
 *
 * The parser is hand-written rather than getopt_long: it must stop at the
 * module (everything after it is the guest's, including options that look
 * like ours), it is a library call that may run several times in one
 * process (tests), and every error must name the option and the value.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cfs_runner.h"
#include "runner_internal.h"

void cfs_run_seterr(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || !cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* ---- small helpers ----------------------------------------------------- */

static int push_str(char ***arr, size_t *n, const char *s)
{
    char *c = strdup(s);
    char **na = c ? realloc(*arr, (*n + 2) * sizeof(char *)) : NULL;
    if (!na) {
        free(c);
        return -1;
    }
    na[*n] = c;
    na[*n + 1] = NULL; /* arrays stay NULL-terminated */
    *arr = na;
    (*n)++;
    return 0;
}

static void free_strs(char **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

/* A decimal u64: digits only, no overflow. */
static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* A number followed by a unit: the leading digits as *v, *unit what
 * follows them. -1 if there are no digits or they overflow. */
static int number_and_unit(const char *s, uint64_t *v, const char **unit)
{
    char num[32];
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    if (n == 0 || n >= sizeof num)
        return -1;
    memcpy(num, s, n);
    num[n] = 0;
    *unit = s + n;
    return parse_u64(num, v);
}

/* BYTES, or with a K/M/G suffix (binary: 1K = 1024), optionally "iB"/"B". */
static int parse_size(const char *s, uint64_t *out)
{
    uint64_t v;
    const char *suf;
    if (number_and_unit(s, &v, &suf))
        return -1;
    unsigned shift = 0;
    if (*suf) {
        switch (*suf) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return -1;
        }
        suf++;
        if (!strcmp(suf, "iB") || !strcmp(suf, "B"))
            suf += strlen(suf);
        if (*suf)
            return -1;
    }
    if (shift && v > (UINT64_MAX >> shift))
        return -1;
    *out = v << shift;
    return 0;
}

/* A duration with a unit: 500ms, 2s, 1m, 1h (whole numbers). */
static int parse_duration(const char *s, uint64_t *ns)
{
    uint64_t v, mul;
    const char *u;
    if (number_and_unit(s, &v, &u))
        return -1;
    if (!strcmp(u, "ms"))
        mul = UINT64_C(1000000);
    else if (!strcmp(u, "s"))
        mul = UINT64_C(1000000000);
    else if (!strcmp(u, "m"))
        mul = UINT64_C(60000000000);
    else if (!strcmp(u, "h"))
        mul = UINT64_C(3600000000000);
    else
        return -1;
    if (v == 0 || v > UINT64_MAX / mul)
        return -1;
    *ns = v * mul;
    return 0;
}

#define DEFAULT_IDLE_NS UINT64_C(1000000000)

static int parse_trigger(cfs_run_opts *o, const char *v, char *err, size_t cap)
{
    static const struct { const char *name; unsigned bit; } plain[] = {
        {"explicit", CFS_RUN_TRIG_EXPLICIT}, {"interval", CFS_RUN_TRIG_INTERVAL},
        {"sigusr1", CFS_RUN_TRIG_SIGUSR1},   {"bootstrap", CFS_RUN_TRIG_BOOTSTRAP},
        {"idle", CFS_RUN_TRIG_IDLE},         {"exit", CFS_RUN_TRIG_EXIT},
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (!strcmp(v, plain[i].name)) {
            o->triggers |= plain[i].bit;
            if (plain[i].bit == CFS_RUN_TRIG_IDLE && !o->snapshot_idle_ns)
                o->snapshot_idle_ns = DEFAULT_IDLE_NS;
            return 0;
        }
    uint64_t n;
    if (!strncmp(v, "events:", 7) || !strncmp(v, "bytes:", 6)) {
        int ev = v[0] == 'e';
        const char *num = v + (ev ? 7 : 6);
        if (parse_u64(num, &n) || n == 0) {
            cfs_run_seterr(err, cap, "--snapshot-on: '%s': %s needs a count >= 1", v,
                           ev ? "events:N" : "bytes:N");
            return 2;
        }
        if (ev) {
            o->triggers |= CFS_RUN_TRIG_EVENTS;
            o->snapshot_every_events = n;
        } else {
            o->triggers |= CFS_RUN_TRIG_BYTES;
            o->snapshot_every_bytes = n;
        }
        return 0;
    }
    if (!strncmp(v, "idle:", 5)) {
        if (parse_duration(v + 5, &o->snapshot_idle_ns)) {
            cfs_run_seterr(err, cap, "--snapshot-on: '%s': expected idle:DURATION "
                           "(such as 500ms, 2s or 1m)", v);
            return 2;
        }
        o->triggers |= CFS_RUN_TRIG_IDLE;
        return 0;
    }
    cfs_run_seterr(err, cap, "--snapshot-on: '%s' is not a trigger (explicit, interval, "
                   "events:N, bytes:N, sigusr1, bootstrap, idle, exit)", v);
    return 2;
}

/* GUEST:REST split at the first ':'; both sides non-empty. */
static int split_mount(const char *opt, const char *v, const char *what, char **guest,
                       char **rest, char *err, size_t cap)
{
    const char *c = strchr(v, ':');
    if (!c || c == v || !c[1]) {
        cfs_run_seterr(err, cap, "%s: '%s' is not GUEST:%s", opt, v, what);
        return 2;
    }
    *guest = strndup(v, (size_t)(c - v));
    *rest = strdup(c + 1);
    if (!*guest || !*rest) {
        free(*guest);
        free(*rest);
        cfs_run_seterr(err, cap, "out of memory");
        return 2;
    }
    return 0;
}

/* ---- the command line -------------------------------------------------- */

enum opt_id {
    O_JOURNAL, O_JOURNAL_RO, O_AT, O_SNAPSHOT, O_DURABILITY, O_SNAPSHOT_ON,
    O_SNAPSHOT_INTERVAL, O_STOP_AFTER, O_MAPDIR, O_LAYER, O_CONFLICT, O_CWD,
    O_ENV, O_FORWARD_ENV, O_MEMORY, O_SKIP_STDIO, O_CACHE, O_HELP, O_COMPRESSION,
};

static const struct run_opt {
    const char *name;
    enum opt_id id;
    int has_value;
} run_opts[] = {
    {"journal", O_JOURNAL, 1},
    {"journal-readonly", O_JOURNAL_RO, 1},
    {"at", O_AT, 1},
    {"snapshot", O_SNAPSHOT, 1},
    {"durability", O_DURABILITY, 1},
    {"compression", O_COMPRESSION, 1},
    {"snapshot-on", O_SNAPSHOT_ON, 1},
    {"snapshot-interval", O_SNAPSHOT_INTERVAL, 1},
    {"stop-after-snapshot", O_STOP_AFTER, 0},
    {"mapdir", O_MAPDIR, 1},
    {"layer", O_LAYER, 1},
    {"mount-conflict", O_CONFLICT, 1},
    {"cwd", O_CWD, 1},
    {"env", O_ENV, 1},
    {"forward-host-env", O_FORWARD_ENV, 0},
    {"memory-limit", O_MEMORY, 1},
    {"skip-journal-stdio", O_SKIP_STDIO, 0},
    {"cache", O_CACHE, 1},
    {"help", O_HELP, 0},
};

static int set_once(char **slot, const char *opt, const char *v, char *err, size_t cap)
{
    if (*slot) {
        cfs_run_seterr(err, cap, "%s given twice ('%s', then '%s')", opt, *slot, v);
        return 2;
    }
    if (!(*slot = strdup(v))) {
        cfs_run_seterr(err, cap, "out of memory");
        return 2;
    }
    return 0;
}

static int apply_opt(cfs_run_opts *o, const struct run_opt *ro, const char *v, char *err,
                     size_t cap)
{
    char opt[40];
    snprintf(opt, sizeof opt, "--%s", ro->name);
    int rc = 0;
    switch (ro->id) {
    case O_JOURNAL:
        return set_once(&o->journal, opt, v, err, cap);
    case O_JOURNAL_RO:
        rc = push_str(&o->journals_ro, &o->njournals_ro, v);
        break;
    case O_AT:
        if (o->has_at) {
            cfs_run_seterr(err, cap, "--at given twice");
            return 2;
        }
        if (parse_u64(v, &o->at) || o->at == 0) {
            cfs_run_seterr(err, cap, "--at: '%s' is not a seq (a decimal number >= 1)", v);
            return 2;
        }
        o->has_at = 1;
        return 0;
    case O_SNAPSHOT:
        return set_once(&o->snapshot, opt, v, err, cap);
    case O_DURABILITY:
        if (!strcmp(v, "none"))
            o->durability = CFS_DURABILITY_NONE;
        else if (!strcmp(v, "batch"))
            o->durability = CFS_DURABILITY_BATCH;
        else if (!strcmp(v, "sync"))
            o->durability = CFS_DURABILITY_SYNC;
        else {
            cfs_run_seterr(err, cap, "--durability: '%s' is not none, batch or sync", v);
            return 2;
        }
        return 0;
    case O_COMPRESSION:
        if (strcmp(v, "adapt") && strcmp(v, "always")) {
            cfs_run_seterr(err, cap, "--compression: '%s' is not adapt or always", v);
            return 2;
        }
        o->compress_always = !strcmp(v, "always");
        return 0;
    case O_SNAPSHOT_ON:
        return parse_trigger(o, v, err, cap);
    case O_SNAPSHOT_INTERVAL:
        if (parse_duration(v, &o->snapshot_interval_ns)) {
            cfs_run_seterr(err, cap, "--snapshot-interval: '%s' is not a duration "
                           "(such as 500ms, 2s, 1m or 1h)", v);
            return 2;
        }
        return 0;
    case O_STOP_AFTER:
        o->stop_after_snapshot = 1;
        return 0;
    case O_MAPDIR: {
        char *g, *h;
        if ((rc = split_mount(opt, v, "HOST", &g, &h, err, cap)))
            return rc;
        cfs_run_mapdir *m = realloc(o->mapdirs, (o->nmapdirs + 1) * sizeof(*m));
        if (!m) {
            free(g);
            free(h);
            rc = -1;
            break;
        }
        o->mapdirs = m;
        m[o->nmapdirs++] = (cfs_run_mapdir){g, h};
        return 0;
    }
    case O_LAYER: {
        char *g, *j;
        if ((rc = split_mount(opt, v, "JOURNAL[@SNAPSHOT]", &g, &j, err, cap)))
            return rc;
        char *point = NULL, *at = strrchr(j, '@');
        if (at) {
            if (at == j || !at[1]) {
                cfs_run_seterr(err, cap, "%s: '%s' is not GUEST:JOURNAL[@SNAPSHOT]", opt, v);
                free(g);
                free(j);
                return 2;
            }
            *at = 0;
            point = strdup(at + 1);
        }
        cfs_run_layer *l = realloc(o->layers, (o->nlayers + 1) * sizeof(*l));
        if (!l || (at && !point)) {
            free(g);
            free(j);
            free(point);
            if (l)
                o->layers = l;
            rc = -1;
            break;
        }
        o->layers = l;
        l[o->nlayers++] = (cfs_run_layer){g, j, point};
        return 0;
    }
    case O_CONFLICT:
        if (!strcmp(v, "fail"))
            o->mount_conflict = CFS_RUN_CONFLICT_FAIL;
        else if (!strcmp(v, "override"))
            o->mount_conflict = CFS_RUN_CONFLICT_OVERRIDE;
        else {
            cfs_run_seterr(err, cap, "--mount-conflict: '%s' is not fail or override", v);
            return 2;
        }
        return 0;
    case O_CWD:
        return set_once(&o->cwd, opt, v, err, cap);
    case O_ENV: {
        const char *eq = strchr(v, '=');
        if (!eq || eq == v) {
            cfs_run_seterr(err, cap, "--env: '%s' is not KEY=VALUE", v);
            return 2;
        }
        rc = push_str(&o->env, &o->nenv, v);
        break;
    }
    case O_FORWARD_ENV:
        o->forward_host_env = 1;
        return 0;
    case O_MEMORY:
        if (parse_size(v, &o->memory_limit) || o->memory_limit == 0) {
            cfs_run_seterr(err, cap, "--memory-limit: '%s' is not a size (BYTES >= 1, or "
                           "with a K, M or G suffix)", v);
            return 2;
        }
        return 0;
    case O_SKIP_STDIO:
        o->skip_journal_stdio = 1;
        return 0;
    case O_CACHE:
        return set_once(&o->cache_dir, opt, v, err, cap);
    case O_HELP:
        o->help = 1;
        return 0;
    }
    if (rc) {
        cfs_run_seterr(err, cap, "out of memory");
        return 2;
    }
    return 0;
}

int cfs_run_opts_parse(int argc, char **argv, cfs_run_opts *o, char *err, size_t cap)
{
    memset(o, 0, sizeof(*o));
    o->durability = CFS_DURABILITY_BATCH;
    o->mount_conflict = CFS_RUN_CONFLICT_OVERRIDE;
    if (err && cap)
        err[0] = 0;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (!strcmp(a, "-h")) {
            o->help = 1;
            continue;
        }
        if (a[0] != '-' || !a[1])
            break; /* the module ("-" alone is a file name here) */
        if (a[1] != '-') {
            cfs_run_seterr(err, cap, "unknown option '%s' (options are long: --journal J ...)",
                           a);
            return 2;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct run_opt *ro = NULL;
        for (size_t k = 0; k < sizeof run_opts / sizeof run_opts[0]; k++)
            if (strlen(run_opts[k].name) == nlen && !strncmp(run_opts[k].name, name, nlen))
                ro = &run_opts[k];
        if (!ro) {
            cfs_run_seterr(err, cap, "unknown option '%.*s'", (int)(nlen + 2), a);
            return 2;
        }
        const char *val = NULL;
        if (ro->has_value) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                cfs_run_seterr(err, cap, "option '--%s' needs a value", ro->name);
                return 2;
            }
        } else if (eq) {
            cfs_run_seterr(err, cap, "option '--%s' takes no value (got '%s')", ro->name, eq + 1);
            return 2;
        }
        if (val && !*val) {
            cfs_run_seterr(err, cap, "option '--%s' needs a non-empty value", ro->name);
            return 2;
        }
        int rc = apply_opt(o, ro, val, err, cap);
        if (rc)
            return rc;
    }
    if (o->help)
        return 0;
    if (i >= argc) {
        cfs_run_seterr(err, cap, "missing the guest module (GUEST.wasm)");
        return 2;
    }
    if (!(o->module = strdup(argv[i++])))
        goto nomem;
    if (i < argc && !strcmp(argv[i], "--"))
        i++;
    for (; i < argc; i++)
        if (push_str(&o->args, &o->nargs, argv[i]))
            goto nomem;

    /* combinations */
    if (o->has_at && o->snapshot) {
        cfs_run_seterr(err, cap, "--at and --snapshot exclude each other");
        return 2;
    }
    if ((o->has_at || o->snapshot) && !o->journal && !o->njournals_ro) {
        cfs_run_seterr(err, cap, "%s needs a journal to start from (--journal or "
                       "--journal-readonly)", o->has_at ? "--at" : "--snapshot");
        return 2;
    }
    if (o->snapshot_interval_ns)
        o->triggers |= CFS_RUN_TRIG_INTERVAL; /* an interval means snapshots at it */
    else if (o->triggers & CFS_RUN_TRIG_INTERVAL) {
        cfs_run_seterr(err, cap, "--snapshot-on interval needs --snapshot-interval DURATION");
        return 2;
    }
    if ((o->triggers || o->stop_after_snapshot) && !o->journal) {
        cfs_run_seterr(err, cap, "%s needs a writable journal (--journal J) to snapshot into",
                       o->triggers ? "--snapshot-on" : "--stop-after-snapshot");
        return 2;
    }
    return 0;
nomem:
    cfs_run_seterr(err, cap, "out of memory");
    return 2;
}

void cfs_run_defaults_free(cfs_run_defaults *d)
{
    if (!d)
        return;
    free_strs(d->args, d->nargs);
    free_strs(d->env, d->nenv);
    memset(d, 0, sizeof(*d));
}

void cfs_run_opts_free(cfs_run_opts *o)
{
    if (!o)
        return;
    free(o->module);
    free_strs(o->args, o->nargs);
    free(o->journal);
    free_strs(o->journals_ro, o->njournals_ro);
    free(o->snapshot);
    for (size_t i = 0; i < o->nmapdirs; i++) {
        free(o->mapdirs[i].guest);
        free(o->mapdirs[i].host);
    }
    free(o->mapdirs);
    for (size_t i = 0; i < o->nlayers; i++) {
        free(o->layers[i].guest);
        free(o->layers[i].journal);
        free(o->layers[i].point);
    }
    free(o->layers);
    free(o->cwd);
    free_strs(o->env, o->nenv);
    free(o->cache_dir);
    cfs_run_defaults_free(&o->defaults);
    memset(o, 0, sizeof(*o));
}

void cfs_run_opts_help(FILE *f)
{
    fputs(
        "usage: chronofs run [OPTIONS] GUEST.wasm [--] [ARGS...]\n"
        "\n"
        "Run a WASI preview1 guest on a chronofs filesystem. Options come before\n"
        "the module; everything after it goes to the guest. With --journal every\n"
        "change the guest makes is journaled, so the run can be snapshotted,\n"
        "replayed and resumed.\n"
        "\n"
        "Journals:\n"
        "  --journal J              writable journal: created if missing; if it has\n"
        "                           history the guest's filesystem is its head\n"
        "  --journal-readonly J     a base journal, never written (repeatable: each\n"
        "                           must continue the one before it)\n"
        "  --at SEQ | --snapshot L  start from that point of the last base journal\n"
        "                           (of J only if it is J's head)\n"
        "  --durability M           none | batch (default) | sync\n"
        "  --compression C          adapt (default): store batches uncompressed while\n"
        "                           zstd cannot keep up with the guest and the disk\n"
        "                           can (a bigger journal); always: compress all\n"
        "Snapshots (into J):\n"
        "  --snapshot-on TRIGGER    repeatable: explicit, interval, events:N, bytes:N,\n"
        "                           sigusr1, bootstrap, idle[:DURATION], exit\n"
        "  --snapshot-interval D    with 'interval' (and implying it): 500ms, 2s, 1m\n"
        "  --stop-after-snapshot    stop the guest once a snapshot has been taken\n"
        "Filesystem:\n"
        "  --mapdir GUEST:HOST      import host directory HOST at GUEST (repeatable)\n"
        "  --layer GUEST:J[@SNAP]   copy journal J's tree (at snapshot label or seq\n"
        "                           SNAP, else its head) to GUEST; J is only read\n"
        "  --mount-conflict M       override (default) | fail, for mounts at one path\n"
        "  --cwd DIR                the guest's current directory (wasi-libc keeps\n"
        "                           its own, which starts at / whatever the host says:\n"
        "                           such programs see DIR as $PWD)\n"
        "  --memory-limit BYTES     file data budget (K, M, G suffixes): ENOSPC past it\n"
        "Environment:\n"
        "  --env K=V                set a variable (repeatable; later wins)\n"
        "  --forward-host-env       pass this process's environment to the guest\n"
        "Host:\n"
        "  --skip-journal-stdio     do not journal what the guest prints\n"
        "  --cache DIR              where native builds of modules are cached\n"
        "\n"
        "Root mounts (GUEST '/') are overlaid: the first --mapdir /:… wins over\n"
        "later ones, which win over --layer /:…. Other mounts at one path: the\n"
        "later --mapdir replaces the earlier (or fails with --mount-conflict fail);\n"
        "a --layer where a --mapdir is mounted is skipped (fails in fail mode).\n"
        "\n"
        "example:\n"
        "  chronofs run --journal run.j --mapdir /data:./data --env MODE=fast \\\n"
        "      --snapshot-on sigusr1 --snapshot-on exit app.wasm -- --input /data/in\n"
        "  chronofs snapshot run.j            # from another shell, while it runs\n"
        "  chronofs run --journal-readonly run.j --at 120 --journal resume.j app.wasm\n",
        f);
}

/* ---- the module's defaults ---------------------------------------------- */

int cfs_run_defaults_parse(const uint8_t *data, size_t len, cfs_run_defaults *d, char *err,
                           size_t cap)
{
    memset(d, 0, sizeof(*d));
    size_t off = 0;
    while (off < len) {
        const uint8_t *nul = memchr(data + off, 0, len - off);
        if (!nul) {
            cfs_run_seterr(err, cap, "chronofs.wasi: the entry at byte %zu has no "
                           "terminating NUL", off);
            return -1;
        }
        const char *e = (const char *)data + off;
        size_t elen = (size_t)(nul - (data + off));
        int rc = 0;
        if (elen >= 4 && !memcmp(e, "arg=", 4)) {
            rc = push_str(&d->args, &d->nargs, e + 4);
        } else if (elen >= 4 && !memcmp(e, "env=", 4)) {
            if (elen == 4 || e[4] == '=') {
                cfs_run_seterr(err, cap, "chronofs.wasi: the entry at byte %zu: "
                               "env= with no variable name", off);
                return -1;
            }
            if (strchr(e + 4, '=')) {
                rc = push_str(&d->env, &d->nenv, e + 4);
            } else { /* the seed: a bare name is that name, empty */
                char *kv = malloc(elen - 4 + 2);
                if (kv) {
                    memcpy(kv, e + 4, elen - 4);
                    memcpy(kv + elen - 4, "=", 2);
                    rc = push_str(&d->env, &d->nenv, kv);
                    free(kv);
                } else {
                    rc = -1;
                }
            }
        } else {
            cfs_run_seterr(err, cap, "chronofs.wasi: the entry at byte %zu ('%.40s') is "
                           "neither arg=… nor env=…", off, e);
            return -1;
        }
        if (rc) {
            cfs_run_seterr(err, cap, "chronofs.wasi: out of memory");
            return -1;
        }
        off += elen + 1;
    }
    return 0;
}

/* ---- guest mount paths --------------------------------------------------- */

int cfs_run_normalize_mount_path(const char *guest, char *out, size_t cap, char *err,
                                 size_t errcap)
{
    size_t glen = strlen(guest);
    if (cap < 2 || glen > CFS_PATH_MAX) {
        cfs_run_seterr(err, errcap, "Invalid guest mount path \"%.200s\": it is too long",
                       guest);
        return -1;
    }
    /* The seed's relative path hack: "x" is "/x", "." is "/"; then every
     * component is taken in turn from the root. */
    size_t n = 1;
    out[0] = '/';
    out[1] = 0;
    const char *p = guest;
    while (*p) {
        while (*p == '/')
            p++;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t clen = (size_t)(p - s);
        if (clen == 0 || (clen == 1 && s[0] == '.'))
            continue;
        if (clen == 2 && s[0] == '.' && s[1] == '.') {
            if (n == 1) {
                cfs_run_seterr(err, errcap, "Invalid guest mount path \"%s\": parent "
                               "traversal escapes the virtual root", guest);
                return -1;
            }
            while (n > 1 && out[n - 1] != '/')
                n--;
            if (n > 1)
                n--; /* the separator, unless it is the root's */
            out[n] = 0;
            continue;
        }
        if (clen > CFS_NAME_MAX || n + (n > 1) + clen + 1 > cap) {
            cfs_run_seterr(err, errcap, "Invalid guest mount path \"%.200s\": %s", guest,
                           clen > CFS_NAME_MAX ? "a component is too long" : "it is too long");
            return -1;
        }
        if (n > 1)
            out[n++] = '/';
        memcpy(out + n, s, clen);
        n += clen;
        out[n] = 0;
    }
    return 0;
}
