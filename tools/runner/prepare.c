/*
 * prepare.c — a run's filesystem and journal: journals opened and
 * restored, mounts planned and materialized, triggers armed, argv/envp
 * merged; then the poll hook and the end of the run.
 *
 * States of a run (cfs_run_state):
 *
 *   prepare ──> running ──(poll: tick, SIGUSR1 snapshots)──> finish
 *      │                                                       │
 *      └── error: everything opened so far closed ─────────────┴─> freed
 *
 * Journals held while running: the writable one (the engine's sink,
 * attached for triggers) and the read-only bases, whose handles stay open
 * because an engine opened at a seq loads file blocks lazily from its
 * journal (cfs_journal_open_at). Layer journals are closed as soon as
 * their tree is copied (the copy reads every block).
 */
#include <errno.h>
#include <inttypes.h>
#include <unistd.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "cfs_replay.h"
#include "cfs_runner.h"
#include "runner_internal.h"

extern char **environ;

#define TICK_EVERY_NS UINT64_C(5000000)
#define TICKER_NS 25000000L /* the ticker's period, as the FUSE mount's */

struct cfs_run_state {
    cfs_fs *fs;
    cfs_journal *j;          /* writable, or NULL */
    char *jdir;              /* its realpath */
    cfs_journal **ro;        /* bases, kept open (lazy blocks) */
    char **ro_dir;           /* their realpaths, to reuse for layers */
    size_t nro;
    char **argv, **envp;
    size_t argc, envc;
    char cwd[CFS_PATH_MAX + 1];
    int journal_stdio;
    int stop_after;
    int resumed;             /* the state is J's head, from earlier runs */
    /* With J: the host holds call_lock during every WASI call; the ticker
     * thread takes it every TICKER_NS to tick the journal while a guest
     * computes without calling (batch age, interval/idle, SIGUSR1). */
    pthread_mutex_t call_lock;
    pthread_t ticker;
    int ticker_running;
    atomic_int ticker_stop;
    int tick_failed;         /* the journal failed a tick: errmsg says */
    uint64_t snap_base;      /* snapshot count when the guest started */
    uint64_t last_tick_ns;
    int usr1_installed;
    struct sigaction old_usr1;
    char errmsg[512];
    char jname[PATH_MAX];    /* the writable journal as the user named it */
};

static cfs_time realtime_clock(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (cfs_time)ts.tv_sec * 1000000000u + (cfs_time)ts.tv_nsec;
}

static uint64_t coarse_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- SIGUSR1 -------------------------------------------------------------- */

/* Set by the handler (on whichever thread the signal lands), read by the
 * guest's thread and the ticker: atomics, lock-free, so signal-safe. */
static cfs_journal *_Atomic usr1_journal;
static atomic_int usr1_pending;
static atomic_int usr1_enabled;

static void on_usr1(int sig)
{
    (void)sig;
    cfs_journal *j = usr1_journal;
    if (!usr1_enabled) {
        /* `chronofs snapshot J` signals the journal's writer: do not die
         * of it, say why nothing happens (write(2) is signal-safe) */
        static const char msg[] = "chronofs run: SIGUSR1 ignored: snapshots on it need "
                                  "--snapshot-on sigusr1 (or explicit)\n";
        ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)n;
    } else if (j) {
        cfs_journal_request_snapshot(j); /* only sets a flag */
        usr1_pending = 1;
    }
}

/* ---- messages --------------------------------------------------------------- */

/* "journal NAME: what: message", unless the message names the journal. */
static int jfail(char *err, size_t cap, const char *name, const char *dir, cfs_journal *j,
                 int rc, const char *what)
{
    const char *m = j ? cfs_journal_errmsg(j) : "";
    if (!m || !*m)
        m = cfs_strerror(rc);
    if (strstr(m, name) || (dir && strstr(m, dir)))
        cfs_run_seterr(err, cap, "%s%s%s", what, *what ? ": " : "", m);
    else
        cfs_run_seterr(err, cap, "journal %s: %s%s%s", name, what, *what ? ": " : "", m);
    return 1;
}

static int open_journal(const char *name, const cfs_journal_opts *jo, cfs_journal **out,
                        char *err, size_t cap)
{
    char msg[512] = "";
    int rc = cfs_journal_open(name, jo, out, msg, sizeof msg);
    if (!rc)
        return 0;
    const char *hint = rc == CFS_JE_LOCKED ? " (another 'chronofs run' or a mount?)" : "";
    if (!*msg)
        snprintf(msg, sizeof msg, "%s",
                 rc == CFS_JE_NOTFOUND ? "no such journal"
                 : rc == CFS_JE_NOTJOURNAL ? "not a chronofs journal" : cfs_strerror(rc));
    if (strstr(msg, name))
        cfs_run_seterr(err, cap, "%s%s", msg, hint);
    else
        cfs_run_seterr(err, cap, "journal %s: %s%s", name, msg, hint);
    return 1;
}

static int open_ro(const char *name, cfs_journal **out, char *err, size_t cap)
{
    cfs_journal_opts jo;
    cfs_journal_opts_default(&jo);
    jo.read_only = 1;
    return open_journal(name, &jo, out, err, cap);
}

/* The seq `at` / label `snap` name in j (neither: the head). */
static int resolve_point(cfs_journal *j, const char *name, int has_at, uint64_t at,
                         const char *snap, uint64_t *seq, char *err, size_t cap)
{
    uint64_t head = cfs_journal_committed(j);
    if (snap) {
        cfs_snapshot_info si;
        int rc = cfs_journal_find_snapshot(j, snap, &si);
        if (rc == CFS_JE_NOTFOUND) {
            cfs_run_seterr(err, cap, "journal %s: no snapshot labelled '%s'", name, snap);
            return 1;
        }
        if (rc)
            return jfail(err, cap, name, NULL, j, rc, "finding the snapshot");
        *seq = si.seq;
        return 0;
    }
    if (has_at) {
        if (at > head) {
            cfs_run_seterr(err, cap, "journal %s: seq %" PRIu64 " is past its head (%" PRIu64 ")",
                           name, at, head);
            return 1;
        }
        *seq = at;
        return 0;
    }
    *seq = head;
    return 0;
}

/* ---- state --------------------------------------------------------------------- */

static void free_strs(char **a, size_t n)
{
    if (!a)
        return;
    for (size_t i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

static void restore_usr1(cfs_run_state *st)
{
    if (!st->usr1_installed)
        return;
    sigaction(SIGUSR1, &st->old_usr1, NULL);
    usr1_journal = NULL;
    usr1_pending = 0;
    st->usr1_installed = 0;
}

static void ticker_start(cfs_run_state *st);
static void ticker_stop(cfs_run_state *st);

/* Close and free everything; returns the writable journal's close result. */
static int state_free(cfs_run_state *st)
{
    if (!st)
        return 0;
    ticker_stop(st);
    restore_usr1(st);
    int rc = 0;
    if (st->j)
        rc = cfs_journal_close(st->j); /* commits; the exit trigger if attached */
    cfs_fs_free(st->fs);
    for (size_t i = 0; i < st->nro; i++)
        cfs_journal_close(st->ro[i]);
    free_strs(st->ro_dir, st->nro);
    free(st->ro);
    free(st->jdir);
    free_strs(st->argv, st->argc);
    free_strs(st->envp, st->envc);
    pthread_mutex_destroy(&st->call_lock);
    free(st);
    return rc;
}

static int keep_ro(cfs_run_state *st, cfs_journal *j, const char *dir)
{
    char real[PATH_MAX];
    char *rd = strdup(realpath(dir, real) ? real : dir);
    cfs_journal **nj = rd ? realloc(st->ro, (st->nro + 1) * sizeof(*nj)) : NULL;
    if (nj)
        st->ro = nj;
    char **nd = nj ? realloc(st->ro_dir, (st->nro + 1) * sizeof(*nd)) : NULL;
    if (!nd) {
        free(rd);
        return -1;
    }
    st->ro_dir = nd;
    st->ro[st->nro] = j;
    st->ro_dir[st->nro] = rd;
    st->nro++;
    return 0;
}

static cfs_journal *find_ro(const cfs_run_state *st, const char *dir)
{
    char real[PATH_MAX];
    if (!realpath(dir, real))
        return NULL;
    for (size_t i = 0; i < st->nro; i++)
        if (!strcmp(st->ro_dir[i], real))
            return st->ro[i];
    return NULL;
}

/* Is `dir` the writable journal? (LMDB allows one handle per process.) */
static int is_writable(const cfs_run_state *st, const char *dir)
{
    char real[PATH_MAX];
    return st->jdir && realpath(dir, real) && !strcmp(real, st->jdir);
}

/* ---- the starting state ---------------------------------------------------------- */

static int seen_seq(void *ctx, const cfs_snapshot_info *s)
{
    uint64_t *want = ctx;
    if (s->seq == want[0]) {
        want[1] = 1;
        return 1;
    }
    return 0;
}

static int has_snapshot_at(cfs_journal *j, uint64_t seq, int *found)
{
    uint64_t want[2] = {seq, 0};
    int rc = cfs_journal_snapshots(j, seen_seq, want);
    *found = (int)want[1];
    return rc < 0 ? rc : 0;
}

/* The --journal-readonly bases, chained (header comment of prepare). */
static int restore_bases(cfs_run_state *st, const cfs_run_opts *o, const cfs_config *cfg,
                         char *err, size_t cap)
{
    for (size_t k = 0; k < o->njournals_ro; k++) {
        const char *name = o->journals_ro[k];
        if (is_writable(st, name)) {
            cfs_run_seterr(err, cap, "journal %s is the writable journal (--journal); it "
                           "cannot also be a read-only base", name);
            return 1;
        }
        if (find_ro(st, name)) {
            cfs_run_seterr(err, cap, "journal %s is given twice as --journal-readonly", name);
            return 1;
        }
        cfs_journal *b;
        if (open_ro(name, &b, err, cap))
            return 1;
        if (keep_ro(st, b, name)) {
            cfs_journal_close(b);
            cfs_run_seterr(err, cap, "out of memory");
            return 1;
        }
        int last = k + 1 == o->njournals_ro;
        uint64_t head = cfs_journal_committed(b), target = head;
        if (last && resolve_point(b, name, o->has_at, o->at, o->snapshot, &target, err, cap))
            return 1;
        uint64_t reached = st->fs ? cfs_fs_seq(st->fs) : 0;
        if (reached > 0) {
            /* it must continue the state the earlier bases reached */
            const char *prev = o->journals_ro[k - 1];
            if (head < reached) {
                cfs_run_seterr(err, cap, "journal %s does not continue %s: it ends at seq %"
                               PRIu64 ", before seq %" PRIu64 " where %s is (stack "
                               "independent trees with --layer /:%s instead)",
                               name, prev, head, reached, prev, name);
                return 1;
            }
            cfs_fs *probe;
            int rc = cfs_journal_open_at(b, reached, cfg, &probe);
            if (rc) {
                jfail(err, cap, name, NULL, b, rc, "");
                size_t n = strlen(err);
                cfs_run_seterr(err + n, cap > n ? cap - n : 0,
                               " (it does not continue %s at seq %" PRIu64 ")", prev, reached);
                return 1;
            }
            cfs_hash128 a = cfs_fs_hash(probe), h = cfs_fs_hash(st->fs);
            cfs_fs_free(probe);
            if (a.lo != h.lo || a.hi != h.hi) {
                cfs_run_seterr(err, cap, "journal %s does not continue %s: its state at seq %"
                               PRIu64 " is not %s's (stack independent trees with --layer "
                               "/:%s instead)", name, prev, reached, prev, name);
                return 1;
            }
            if (target < reached) {
                cfs_run_seterr(err, cap, "journal %s: seq %" PRIu64 " is before seq %" PRIu64
                               ", where the earlier base journals already are", name, target,
                               reached);
                return 1;
            }
        }
        cfs_fs *nfs = NULL;
        if (head == 0) {
            nfs = cfs_fs_new(cfg);
        } else {
            int rc = cfs_journal_open_at(b, target, cfg, &nfs);
            if (rc)
                return jfail(err, cap, name, NULL, b, rc, "opening its state");
        }
        if (!nfs) {
            cfs_run_seterr(err, cap, "out of memory");
            return 1;
        }
        cfs_fs_free(st->fs);
        st->fs = nfs;
    }
    return 0;
}

static int restore_state(cfs_run_state *st, const cfs_run_opts *o, cfs_config *cfg,
                         char *err, size_t cap)
{
    const char *jn = o->journal;
    if (jn && cfs_journal_committed(st->j) > 0 && o->njournals_ro) {
        /* the bases would be ignored: J goes on from its own head */
        cfs_run_seterr(err, cap, "journal %s has history: a run on it goes on from its head, "
                       "so --journal-readonly %s would be ignored (bases start a new "
                       "--journal)", jn, o->journals_ro[0]);
        return 1;
    }
    if (jn && cfs_journal_committed(st->j) > 0) {
        /* J has history: its head, and only its head */
        uint64_t head = cfs_journal_committed(st->j), seq = head;
        if (resolve_point(st->j, jn, o->has_at, o->at, o->snapshot, &seq, err, cap))
            return 1;
        if (seq != head) {
            char from[160];
            if (o->snapshot)
                snprintf(from, sizeof from, "--snapshot %s", o->snapshot);
            else
                snprintf(from, sizeof from, "--at %" PRIu64, seq);
            cfs_run_seterr(err, cap, "journal %s: %s is before its head (seq %" PRIu64 "): a "
                           "writable journal is only appended at its head; to start from "
                           "there, use --journal-readonly %s %s --journal NEW", jn, from,
                           head, jn, from);
            return 1;
        }
        int rc = cfs_journal_open_at(st->j, head, cfg, &st->fs);
        if (rc)
            return jfail(err, cap, jn, st->jdir, st->j, rc, "opening its state");
        st->resumed = 1;
        return 0;
    }
    if ((o->has_at || o->snapshot) && !o->njournals_ro) {
        cfs_run_seterr(err, cap, "journal %s has no history: %s needs one (or a "
                       "--journal-readonly base)", jn, o->has_at ? "--at" : "--snapshot");
        return 1;
    }
    /* the bases replay without a sink; J takes over after */
    cfs_config nosink = *cfg;
    memset(&nosink.sink, 0, sizeof nosink.sink);
    if (restore_bases(st, o, &nosink, err, cap))
        return 1;
    if (!st->fs && !(st->fs = cfs_fs_new(cfg))) {
        cfs_run_seterr(err, cap, "out of memory");
        return 1;
    }
    if (jn && cfs_fs_seq(st->fs) > 0) {
        /* J starts from the bases' state: its first record, as a fork's */
        char label[128];
        snprintf(label, sizeof label, "base %s at %" PRIu64,
                 cfs_journal_id(st->ro[st->nro - 1]), cfs_fs_seq(st->fs));
        int rc = cfs_journal_snapshot(st->j, st->fs, label, "base", realtime_clock(NULL), NULL);
        if (rc)
            return jfail(err, cap, jn, st->jdir, st->j, rc, "storing the base state");
    }
    if (jn)
        cfs_fs_set_sink(st->fs, &cfg->sink);
    return 0;
}

/* ---- mounts ----------------------------------------------------------------------- */

enum { M_MAPDIR, M_LAYER };

struct mount {
    int kind;
    size_t idx;        /* into o->mapdirs / o->layers */
    size_t order;      /* position on the command line, within its kind */
    unsigned depth;    /* components of path */
    char *path;        /* normalized */
};

static unsigned depth_of(const char *p)
{
    unsigned d = 0;
    for (; *p; p++)
        if (*p == '/' && p[1])
            d++;
    return d;
}

/* Is `p` `prefix` or below it, component-wise? */
static int under(const char *p, const char *prefix)
{
    size_t n = strlen(prefix);
    if (n == 1)
        return 1; /* "/" */
    return !strncmp(p, prefix, n) && (p[n] == 0 || p[n] == '/');
}

static const char *mount_desc(const cfs_run_opts *o, const struct mount *m, char *buf,
                              size_t cap)
{
    if (m->kind == M_MAPDIR)
        snprintf(buf, cap, "--mapdir %s:%s", o->mapdirs[m->idx].guest, o->mapdirs[m->idx].host);
    else
        snprintf(buf, cap, "--layer %s:%s%s%s", o->layers[m->idx].guest,
                 o->layers[m->idx].journal, o->layers[m->idx].point ? "@" : "",
                 o->layers[m->idx].point ? o->layers[m->idx].point : "");
    return buf;
}

static int cmp_layer_path(const void *a, const void *b)
{
    const struct mount *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* The order mounts are materialized in: root layers lowest first, then
 * the others shallowest first (ties: command-line order, mapdirs first). */
static int cmp_apply(const void *a, const void *b)
{
    const struct mount *x = a, *y = b;
    int xr = x->depth == 0, yr = y->depth == 0;
    if (xr != yr)
        return xr ? -1 : 1;
    if (xr) {
        /* lowest precedence first: layers before mapdirs, later ones first */
        if (x->kind != y->kind)
            return x->kind == M_LAYER ? -1 : 1;
        return x->order > y->order ? -1 : x->order < y->order;
    }
    if (x->depth != y->depth)
        return x->depth < y->depth ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind == M_MAPDIR ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void free_mounts(struct mount *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(m[i].path);
    free(m);
}

/* The seed's prepare_filesystem rules, without touching anything: which
 * mounts are applied, in which order. */
static int plan_mounts(const cfs_run_opts *o, struct mount **out, size_t *nout, char *err,
                       size_t cap)
{
    size_t total = o->nmapdirs + o->nlayers, n = 0;
    struct mount *m = calloc(total ? total : 1, sizeof(*m));
    struct mount *layers = calloc(o->nlayers ? o->nlayers : 1, sizeof(*layers));
    char path[CFS_PATH_MAX + 1], d1[CFS_PATH_MAX], d2[CFS_PATH_MAX];
    if (!m || !layers)
        goto nomem;
    /* user mounts */
    for (size_t i = 0; i < o->nmapdirs; i++) {
        if (cfs_run_normalize_mount_path(o->mapdirs[i].guest, path, sizeof path, err, cap))
            goto fail;
        struct mount nm = {M_MAPDIR, i, i, depth_of(path), strdup(path)};
        if (!nm.path)
            goto nomem;
        if (nm.depth > 0) {
            size_t k;
            for (k = 0; k < n && strcmp(m[k].path, path); k++)
                ;
            if (k < n) {
                if (o->mount_conflict == CFS_RUN_CONFLICT_FAIL) {
                    cfs_run_seterr(err, cap, "Unable to mount \"%s\": %s is mounted there "
                                   "already (%s; --mount-conflict fail)", path,
                                   mount_desc(o, &m[k], d1, sizeof d1),
                                   mount_desc(o, &nm, d2, sizeof d2));
                    free(nm.path);
                    goto fail;
                }
                free(m[k].path); /* override: the later one replaces it */
                m[k] = nm;
                continue;
            }
        }
        m[n++] = nm;
    }
    /* package mounts, parents before children so a skipped one's subtree
     * can be skipped too */
    for (size_t i = 0; i < o->nlayers; i++) {
        if (cfs_run_normalize_mount_path(o->layers[i].guest, path, sizeof path, err, cap))
            goto fail_layers;
        layers[i] = (struct mount){M_LAYER, i, i, depth_of(path), strdup(path)};
        if (!layers[i].path)
            goto nomem_layers;
    }
    qsort(layers, o->nlayers, sizeof(*layers), cmp_layer_path);
    const char *skipped = NULL;
    for (size_t i = 0; i < o->nlayers; i++) {
        struct mount *l = &layers[i];
        if (l->depth == 0) { /* a root layer: always composed */
            m[n++] = *l;
            l->path = NULL;
            continue;
        }
        if (skipped && under(l->path, skipped))
            continue;
        size_t k;
        for (k = 0; k < n && (m[k].depth == 0 || strcmp(m[k].path, l->path)); k++)
            ;
        if (k < n) {
            if (o->mount_conflict == CFS_RUN_CONFLICT_FAIL) {
                cfs_run_seterr(err, cap, "Unable to merge container mount \"%s\" into the "
                               "prepared filesystem: %s is mounted there (%s)", l->path,
                               mount_desc(o, &m[k], d1, sizeof d1),
                               mount_desc(o, l, d2, sizeof d2));
                goto fail_layers;
            }
            skipped = l->path; /* keep the existing one, skip this subtree */
            continue;
        }
        m[n++] = *l;
        l->path = NULL;
    }
    free_mounts(layers, o->nlayers);
    qsort(m, n, sizeof(*m), cmp_apply);
    *out = m;
    *nout = n;
    return 0;
nomem_layers:
    cfs_run_seterr(err, cap, "out of memory");
fail_layers:
    free_mounts(layers, o->nlayers);
    free_mounts(m, n);
    return 1;
nomem:
    cfs_run_seterr(err, cap, "out of memory");
fail:
    free(layers);
    free_mounts(m, n);
    return 1;
}

static int digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* The source engine of a layer: its journal at the point asked. *opened
 * is the handle to close afterwards (NULL if a base's is reused). */
static int layer_source(cfs_run_state *st, const cfs_run_layer *l, cfs_fs **src,
                        cfs_journal **opened, char *err, size_t cap)
{
    *src = NULL;
    *opened = NULL;
    if (is_writable(st, l->journal)) {
        cfs_run_seterr(err, cap, "--layer %s:%s: the layer's journal is the writable journal "
                       "(--journal); a layer is read from another journal", l->guest,
                       l->journal);
        return 1;
    }
    cfs_journal *lj = find_ro(st, l->journal);
    if (!lj) {
        if (open_ro(l->journal, &lj, err, cap))
            return 1;
        *opened = lj;
    }
    uint64_t seq = cfs_journal_committed(lj);
    if (l->point) {
        /* digits are a seq, anything else a label (as `chronofs diff` takes
         * its points) */
        int is_seq = digits(l->point);
        uint64_t at = 0;
        if (is_seq) {
            errno = 0;
            unsigned long long v = strtoull(l->point, NULL, 10);
            if (errno || v == 0) {
                cfs_run_seterr(err, cap, "--layer %s:%s@%s: '%s' is not a seq (>= 1)",
                               l->guest, l->journal, l->point, l->point);
                return 1;
            }
            at = v;
        }
        if (resolve_point(lj, l->journal, is_seq, at, is_seq ? NULL : l->point, &seq, err, cap))
            return 1;
    }
    int rc = 0;
    if (seq == 0)
        *src = cfs_fs_new(NULL);
    else
        rc = cfs_journal_open_at(lj, seq, NULL, src);
    if (rc)
        return jfail(err, cap, l->journal, NULL, lj, rc, "opening the layer");
    if (!*src) {
        cfs_run_seterr(err, cap, "out of memory");
        return 1;
    }
    return 0;
}

static int apply_mounts(cfs_run_state *st, const cfs_run_opts *o, char *err, size_t cap)
{
    struct mount *m;
    size_t n;
    if (plan_mounts(o, &m, &n, err, cap))
        return 1;
    int rc = 0;
    char msg[768], desc[CFS_PATH_MAX];
    for (size_t i = 0; i < n && !rc; i++) {
        mount_desc(o, &m[i], desc, sizeof desc);
        cfs_filestat there;
        if (st->resumed &&
            cfs_lookup_path(st->fs, CFS_INO_ROOT, m[i].path, 0, &there) == 0) {
            /* resuming: what the guest made of an earlier run's mount is
             * its data, never replaced behind its back */
            fprintf(stderr, "chronofs run: %s: %s is in journal %s already (an earlier "
                    "run's); not imported again\n", desc, m[i].path, st->jname);
            continue;
        }
        cfs_fs *src = NULL;
        cfs_journal *opened = NULL;
        msg[0] = 0;
        if (m[i].kind == M_MAPDIR) {
            src = cfs_fs_new(NULL);
            if (!src) {
                cfs_run_seterr(err, cap, "%s: out of memory", desc);
                rc = 1;
                break;
            }
            cfs_import_opts io;
            memset(&io, 0, sizeof io);
            int irc = cfs_import_dir(src, o->mapdirs[m[i].idx].host, "/", &io, NULL, msg,
                                     sizeof msg);
            if (irc) {
                cfs_run_seterr(err, cap, "%s: %s", desc, *msg ? msg : cfs_strerror(irc));
                rc = 1;
            }
        } else if (layer_source(st, &o->layers[m[i].idx], &src, &opened, msg, sizeof msg)) {
            cfs_run_seterr(err, cap, "%s", msg);
            rc = 1;
        }
        if (!rc && m[i].depth > 0 &&
            cfs_run_remove_tree(st->fs, m[i].path, msg, sizeof msg)) {
            cfs_run_seterr(err, cap, "Unable to mount \"%s\" (%s): %s", m[i].path, desc, msg);
            rc = 1;
        }
        if (!rc) {
            cfs_errno e = cfs_run_copy_tree(src, CFS_INO_ROOT, st->fs, m[i].path, msg,
                                            sizeof msg);
            if (e) {
                cfs_run_seterr(err, cap, "Unable to mount \"%s\" (%s): %s%s", m[i].path, desc,
                               msg, e == CFS_ENOSPC ? " (past --memory-limit)" : "");
                rc = 1;
            }
        }
        cfs_fs_free(src);
        cfs_journal_close(opened);
    }
    free_mounts(m, n);
    return rc;
}

/* ---- argv and envp ------------------------------------------------------------ */

static int env_set(cfs_run_state *st, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
    char *c = eq ? strdup(kv) : malloc(klen + 2);
    if (!c)
        return -1;
    if (!eq) {
        memcpy(c, kv, klen);
        memcpy(c + klen, "=", 2);
    }
    for (size_t i = 0; i < st->envc; i++)
        if (!strncmp(st->envp[i], c, klen + 1)) { /* same key (with its '=') */
            free(st->envp[i]);
            st->envp[i] = c;
            return 0;
        }
    char **n = realloc(st->envp, (st->envc + 2) * sizeof(*n));
    if (!n) {
        free(c);
        return -1;
    }
    n[st->envc++] = c;
    n[st->envc] = NULL;
    st->envp = n;
    return 0;
}

static int arg_push(cfs_run_state *st, const char *a)
{
    char *c = strdup(a);
    char **n = c ? realloc(st->argv, (st->argc + 2) * sizeof(*n)) : NULL;
    if (!n) {
        free(c);
        return -1;
    }
    n[st->argc++] = c;
    n[st->argc] = NULL;
    st->argv = n;
    return 0;
}

static int merge_args_env(cfs_run_state *st, const cfs_run_opts *o)
{
    const char *base = strrchr(o->module, '/');
    if (arg_push(st, base ? base + 1 : o->module))
        return -1;
    for (size_t i = 0; i < o->defaults.nargs; i++)
        if (arg_push(st, o->defaults.args[i]))
            return -1;
    for (size_t i = 0; i < o->nargs; i++)
        if (arg_push(st, o->args[i]))
            return -1;
    /* envp is never NULL, even when empty */
    if (!st->envp && !(st->envp = calloc(1, sizeof(char *))))
        return -1;
    for (size_t i = 0; i < o->defaults.nenv; i++)
        if (env_set(st, o->defaults.env[i]))
            return -1;
    if (o->forward_host_env)
        for (char **e = environ; e && *e; e++)
            if (**e != '=' && env_set(st, *e))
                return -1;
    for (size_t i = 0; i < o->nenv; i++)
        if (env_set(st, o->env[i]))
            return -1;
    return 0;
}

/* ---- prepare ------------------------------------------------------------------- */

int cfs_run_prepare(const cfs_run_opts *o, cfs_run_state **out, char *err, size_t cap)
{
    *out = NULL;
    char local[512];
    if (!err || !cap) { /* the messages are built in place: have a place */
        err = local;
        cap = sizeof local;
    }
    err[0] = 0;
    cfs_run_state *st = calloc(1, sizeof(*st));
    if (!st) {
        cfs_run_seterr(err, cap, "out of memory");
        return 1;
    }
    pthread_mutex_init(&st->call_lock, NULL);
    st->journal_stdio = !o->skip_journal_stdio;
    st->stop_after = o->stop_after_snapshot;
    if (!o->module) {
        cfs_run_seterr(err, cap, "no guest module");
        goto fail;
    }
    if (merge_args_env(st, o)) {
        cfs_run_seterr(err, cap, "out of memory");
        goto fail;
    }
    /* Check the mounts and --cwd before anything is opened or created. */
    {
        struct mount *m;
        size_t n;
        if (plan_mounts(o, &m, &n, err, cap))
            goto fail;
        free_mounts(m, n);
    }
    if (o->cwd && cfs_run_normalize_mount_path(o->cwd, st->cwd, sizeof st->cwd, err, cap)) {
        char why[600];
        snprintf(why, sizeof why, "--cwd: %s", err);
        cfs_run_seterr(err, cap, "%s", why);
        goto fail;
    }
    if (o->cwd) {
        /* wasi-libc keeps its own current directory, starting at "/": tell
         * the program where it is meant to be, unless --env says */
        int user_pwd = 0;
        for (size_t i = 0; i < o->nenv; i++)
            user_pwd |= !strncmp(o->env[i], "PWD=", 4);
        char pwd[sizeof st->cwd + 8];
        snprintf(pwd, sizeof pwd, "PWD=%s", st->cwd);
        if (!user_pwd && env_set(st, pwd)) {
            cfs_run_seterr(err, cap, "out of memory");
            goto fail;
        }
    }

    /* The budget is set by an event (below), not by the config: it is
     * part of the state, so a replay of J must reach it too. */
    cfs_config cfg = {.clock = realtime_clock};
    if (o->journal) {
        cfs_journal_opts jo;
        cfs_journal_opts_default(&jo);
        jo.create = 1;
        jo.durability = o->durability;
        jo.compress_adapt = !o->compress_always;
        if (o->triggers & CFS_RUN_TRIG_EVENTS)
            jo.snapshot_every_events = o->snapshot_every_events;
        if (o->triggers & CFS_RUN_TRIG_BYTES)
            jo.snapshot_every_bytes = o->snapshot_every_bytes;
        if (o->triggers & CFS_RUN_TRIG_INTERVAL)
            jo.snapshot_interval_ns = o->snapshot_interval_ns;
        if (o->triggers & CFS_RUN_TRIG_IDLE)
            jo.snapshot_idle_ns = o->snapshot_idle_ns;
        jo.snapshot_on_exit = !!(o->triggers & CFS_RUN_TRIG_EXIT);
        snprintf(st->jname, sizeof st->jname, "%s", o->journal);
        if (open_journal(o->journal, &jo, &st->j, err, cap))
            goto fail;
        char real[PATH_MAX];
        st->jdir = strdup(realpath(o->journal, real) ? real : o->journal);
        if (!st->jdir) {
            cfs_run_seterr(err, cap, "out of memory");
            goto fail;
        }
        cfg.sink = cfs_journal_sink(st->j);
    }
    if (restore_state(st, o, &cfg, err, cap))
        goto fail;
    if (o->memory_limit) {
        /* --memory-limit given: the budget from here on (an event, so J's
         * replays have it); left out, the state keeps the one it has */
        cfs_statfs sf;
        cfs_errno e = cfs_fs_statfs(st->fs, &sf);
        if (!e && sf.byte_budget != o->memory_limit)
            e = cfs_fs_set_budget(st->fs, o->memory_limit);
        if (e) {
            cfs_run_seterr(err, cap, "--memory-limit %" PRIu64 ": %s", o->memory_limit,
                           cfs_errno_name(e));
            goto fail;
        }
    }
    if (apply_mounts(st, o, err, cap))
        goto fail;

    if (o->cwd) {
        cfs_filestat cs;
        cfs_errno e = cfs_path_filestat_get(st->fs, CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW,
                                            st->cwd, &cs);
        if (!e && cs.filetype != CFS_FILETYPE_DIRECTORY)
            e = CFS_ENOTDIR;
        if (!e)
            e = cfs_fs_chdir(st->fs, st->cwd);
        if (e) {
            cfs_run_seterr(err, cap, "--cwd %s: %s in the guest's filesystem", o->cwd,
                           e == CFS_ENOENT ? "no such directory"
                           : e == CFS_ENOTDIR ? "not a directory" : cfs_errno_name(e));
            goto fail;
        }
    }
    snprintf(st->cwd, sizeof st->cwd, "%s", cfs_fs_getcwd(st->fs));

    if (st->j) {
        uint64_t seq = cfs_fs_seq(st->fs);
        int found = 0, rc = 0;
        if ((o->triggers & CFS_RUN_TRIG_BOOTSTRAP) && seq > 0 &&
            !(rc = has_snapshot_at(st->j, seq, &found)) && !found)
            rc = cfs_journal_snapshot(st->j, st->fs, "", "bootstrap", realtime_clock(NULL),
                                      NULL);
        if (!rc)
            rc = cfs_journal_commit(st->j);
        if (rc) {
            jfail(err, cap, o->journal, st->jdir, st->j, rc, "the bootstrap snapshot");
            goto fail;
        }
        cfs_journal_attach(st->j, st->fs);
        /* with a writable journal SIGUSR1 is always handled: it snapshots
         * when a trigger asks for it, and is refused aloud otherwise */
        usr1_enabled = !!(o->triggers & (CFS_RUN_TRIG_SIGUSR1 | CFS_RUN_TRIG_EXPLICIT));
        {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sigemptyset(&sa.sa_mask);
            sa.sa_handler = on_usr1;
            sa.sa_flags = SA_RESTART;
            usr1_pending = 0;
            usr1_journal = st->j;
            if (sigaction(SIGUSR1, &sa, &st->old_usr1) == 0)
                st->usr1_installed = 1;
        }
        st->snap_base = cfs_journal_snapshot_count(st->j);
    }
    st->last_tick_ns = coarse_ns();
    if (st->j)
        ticker_start(st);
    *out = st;
    return 0;
fail:
    if (st->j) {
        cfs_journal_attach(st->j, NULL);
        /* A run that fails before its guest starts changes nothing: what
         * setup journaled (a mapped directory half copied, the budget) is
         * taken back, or a rerun would find it and go on with it. */
        if (cfs_journal_discard(st->j) == 0) {
            char why[1024];
            snprintf(why, sizeof why, "%s", err ? err : "");
            cfs_run_seterr(err, cap, "%s (journal %s unchanged)", why, st->jname);
        }
    }
    state_free(st);
    return 1;
}

/* ---- running ------------------------------------------------------------------------ */

cfs_fs *cfs_run_fs(const cfs_run_state *st) { return st->fs; }
cfs_journal *cfs_run_journal(const cfs_run_state *st) { return st->j; }
const char *cfs_run_cwd(const cfs_run_state *st) { return st->cwd; }
int cfs_run_journal_stdio(const cfs_run_state *st) { return st->journal_stdio; }
const char *cfs_run_errmsg(const cfs_run_state *st) { return st->errmsg; }

char *const *cfs_run_argv(const cfs_run_state *st, size_t *argc)
{
    if (argc)
        *argc = st->argc;
    return st->argv;
}

char *const *cfs_run_envp(const cfs_run_state *st, size_t *envc)
{
    if (envc)
        *envc = st->envc;
    return st->envp;
}

/* Tick the journal if TICK_EVERY_NS has passed or a SIGUSR1 asks for a
 * snapshot. The caller holds the call lock or is the guest's thread in a
 * WASI call (which holds it). 0, or 1 with errmsg (sticky). */
static int tick(cfs_run_state *st)
{
    if (st->tick_failed)
        return 1;
    int force = 0;
    if (atomic_exchange(&usr1_pending, 0))
        force = 1;
    uint64_t now = coarse_ns();
    if (force || now - st->last_tick_ns >= TICK_EVERY_NS) {
        st->last_tick_ns = now;
        int rc = cfs_journal_tick(st->j, now);
        if (rc) {
            jfail(st->errmsg, sizeof st->errmsg, st->jname, st->jdir, st->j, rc, "");
            st->tick_failed = 1;
            return 1;
        }
    }
    return 0;
}

static void *ticker_main(void *arg)
{
    cfs_run_state *st = arg;
    struct timespec period = {0, TICKER_NS};
    while (!atomic_load(&st->ticker_stop)) {
        nanosleep(&period, NULL);
        pthread_mutex_lock(&st->call_lock);
        if (!atomic_load(&st->ticker_stop))
            (void)tick(st);
        pthread_mutex_unlock(&st->call_lock);
    }
    return NULL;
}

static void ticker_start(cfs_run_state *st)
{
    atomic_store(&st->ticker_stop, 0);
    st->ticker_running = pthread_create(&st->ticker, NULL, ticker_main, st) == 0;
}

static void ticker_stop(cfs_run_state *st)
{
    if (!st->ticker_running)
        return;
    atomic_store(&st->ticker_stop, 1);
    pthread_join(st->ticker, NULL);
    st->ticker_running = 0;
}

pthread_mutex_t *cfs_run_call_lock(cfs_run_state *st)
{
    return st->j ? &st->call_lock : NULL;
}

int cfs_run_poll(void *state)
{
    cfs_run_state *st = state;
    if (!st->j)
        return CFS_RUN_CONTINUE;
    if (tick(st))
        return CFS_RUN_STOP_FAILED;
    if (st->stop_after && cfs_journal_snapshot_count(st->j) > st->snap_base)
        return CFS_RUN_STOP_SNAPSHOT;
    return CFS_RUN_CONTINUE;
}

int cfs_run_finish(cfs_run_state *st, char *err, size_t cap)
{
    if (err && cap)
        err[0] = 0;
    if (!st)
        return 0;
    ticker_stop(st);
    restore_usr1(st);
    int rc = 0;
    if (st->j) {
        /* everything to the journal, durable per --durability (NONE: only
         * committed); the close then takes the exit snapshot if asked,
         * with the engine still attached */
        rc = cfs_journal_sync(st->j);
        if (!rc)
            rc = cfs_journal_snapshot_wait(st->j, NULL);
        if (rc)
            jfail(err, cap, st->jname, st->jdir, st->j, rc, "committing");
        cfs_journal *j = st->j;
        st->j = NULL;
        int crc = cfs_journal_close(j);
        if (crc && !rc) {
            cfs_run_seterr(err, cap, "journal %s: closing: %s", st->jname, cfs_strerror(crc));
            rc = crc;
        }
    }
    state_free(st);
    return rc ? 1 : 0;
}
