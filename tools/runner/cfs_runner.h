/*
 * cfs_runner.h — the runner side of `chronofs run`: the options of the
 * seed's CommonWasiOptions (shared/seeds/wasix-runner-fs-prepare.rs.txt)
 * and the preparation of a guest's filesystem and journal before a WASI
 * host runs it.
 *
 * The life of a run, as `chronofs run` drives it:
 *
 *     cfs_run_opts_parse()         argv -> cfs_run_opts (exit 2 on error)
 *     cfs_run_defaults_parse()     the module's "chronofs.wasi" section
 *     cfs_run_prepare()            journal(s) -> engine, mounts imported,
 *                                  triggers armed, argv/envp merged
 *     host runs the guest over cfs_run_fs(), calling cfs_run_poll()
 *     cfs_run_finish()             commit, exit snapshot, close, free
 *
 * The engine has one inode tree and no mount table, so a mount is
 * materialized: its content is copied into the guest's tree at the guest
 * path through the engine's ordinary calls, which are events in the
 * writable journal like any other. A replay therefore never needs the
 * host directory or the layer's journal again.
 *
 * Mount semantics (the seed's prepare_filesystem), after the guest paths
 * are normalized (cfs_run_normalize_mount_path):
 *  - --mapdir are the user's mounts, --layer the package's (the seed's
 *    container mounts).
 *  - Root mounts ("/") are overlay layers, composed in every conflict
 *    mode. Precedence, highest first, as the seed's OverlayFileSystem
 *    (base, [user roots in order..., package root]) resolves a path (its
 *    primary, then its secondaries in order, first hit wins): the state
 *    restored from the journals, then the first --mapdir /:…, the second,
 *    …, then the --layer /:… (in order, the first highest). The one
 *    difference: the restored state is beneath the mounts, because mounts
 *    are applied after it on every run (a re-run re-imports its host
 *    trees, as the seed's mapped host directory is always live). They are
 *    materialized lowest first: directories merge (a higher layer's mode,
 *    owner and times win), a file or symlink of a higher layer replaces a
 *    lower one's entry (a directory there included).
 *  - Non-root user mounts at the same path: with --mount-conflict fail,
 *    "Unable to mount "/p"" (the seed's MountFileSystem::mount); with
 *    override (the default), the later one replaces the earlier
 *    (set_mount).
 *  - A non-root package mount (--layer) at a path a user mount holds: in
 *    override mode it is skipped, and so are the package mounts below it
 *    (the seed's skipped_subtree); in fail mode it is "Unable to merge
 *    container mount "/p" into the prepared filesystem".
 *  - A non-root mount hides what was at its path: that subtree (from a
 *    base journal or a root layer) is removed, then the mount's tree is
 *    copied there. Resuming a writable journal (J has history), a mount
 *    whose path J's state already has is not imported again (a note on
 *    stderr): what the guest made of it is its data. New paths are. Mounts are applied shallowest first, so a mount below
 *    another one's path shows through it (the seed's longest-prefix
 *    lookup). Missing parents are made (0755); a parent that is not a
 *    directory is replaced by one.
 *
 * Not thread-safe: one run per process (SIGUSR1 goes to one state).
 */
#ifndef CFS_RUNNER_H
#define CFS_RUNNER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cfs_engine.h"
#include "cfs_journal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------- */
/* Options                                                                  */

/* --snapshot-on triggers (bits of cfs_run_opts.triggers). */
#define CFS_RUN_TRIG_EXPLICIT  0x01u /* `chronofs snapshot J` (SIGUSR1) */
#define CFS_RUN_TRIG_INTERVAL  0x02u /* every --snapshot-interval */
#define CFS_RUN_TRIG_EVENTS    0x04u /* events:N */
#define CFS_RUN_TRIG_BYTES     0x08u /* bytes:N (encoded event bytes) */
#define CFS_RUN_TRIG_SIGUSR1   0x10u /* SIGUSR1 to the run */
#define CFS_RUN_TRIG_BOOTSTRAP 0x20u /* after preparation, before the guest */
#define CFS_RUN_TRIG_IDLE      0x40u /* idle[:DURATION], default 1s */
#define CFS_RUN_TRIG_EXIT      0x80u /* when the run ends */

typedef enum cfs_run_conflict {
    CFS_RUN_CONFLICT_OVERRIDE = 0, /* the seed's default */
    CFS_RUN_CONFLICT_FAIL = 1,
} cfs_run_conflict;

typedef struct cfs_run_mapdir {
    char *guest; /* as given (normalized when the mounts are planned) */
    char *host;
} cfs_run_mapdir;

typedef struct cfs_run_layer {
    char *guest;   /* as given */
    char *journal; /* the layer's journal directory */
    char *point;   /* after '@': digits = a seq, else a snapshot label;
                      NULL = the journal's head */
} cfs_run_layer;

/*
 * The module's defaults: the wasm custom section named "chronofs.wasi"
 * (the analog of a package's WASI annotation). Its content is a sequence
 * of entries, each a byte string terminated by one NUL (so the section
 * ends with a NUL, and an empty section holds no entry):
 *     arg=TEXT      an argument (TEXT may be empty), in order
 *     env=K=V       an environment variable (K non-empty, V may be
 *                   empty or hold '='); env=K (no '=') is K with an
 *                   empty value, as the seed's annotation does
 * Anything else (an empty entry, another key, a missing final NUL) is an
 * error: a section with a typo must not be half-used. Strings are copied.
 */
typedef struct cfs_run_defaults {
    char **args;
    size_t nargs;
    char **env;   /* "K=V" each */
    size_t nenv;
} cfs_run_defaults;

typedef struct cfs_run_opts {
    char *module;                  /* GUEST.wasm */
    char **args;                   /* the guest's arguments after it */
    size_t nargs;
    char *journal;                 /* --journal: writable, or NULL */
    char **journals_ro;            /* --journal-readonly, in order */
    size_t njournals_ro;
    int has_at;                    /* --at SEQ given (>= 1) */
    uint64_t at;
    char *snapshot;                /* --snapshot LABEL */
    cfs_durability durability;     /* default BATCH */
    int compress_always;           /* --compression always (default adapt:
                                      cfs_journal_opts.compress_adapt) */
    unsigned triggers;             /* CFS_RUN_TRIG_* */
    uint64_t snapshot_every_events;/* events:N */
    uint64_t snapshot_every_bytes; /* bytes:N */
    uint64_t snapshot_interval_ns; /* --snapshot-interval */
    uint64_t snapshot_idle_ns;     /* idle[:DURATION] */
    int stop_after_snapshot;
    cfs_run_mapdir *mapdirs;
    size_t nmapdirs;
    cfs_run_layer *layers;
    size_t nlayers;
    cfs_run_conflict mount_conflict;
    char *cwd;                     /* --cwd, as given */
    char **env;                    /* --env "K=V", in order */
    size_t nenv;
    int forward_host_env;
    uint64_t memory_limit;         /* bytes; 0 = none */
    int skip_journal_stdio;
    char *cache_dir;               /* --cache (stored for the host build) */
    int help;                      /* --help / -h among the run's options */
    cfs_run_defaults defaults;     /* filled by cfs_run_defaults_parse */
} cfs_run_opts;

/*
 * Parse `chronofs run [OPTIONS] GUEST.wasm [--] [ARGS...]`: argv[0] is
 * the command's name; options come before the module (--opt VALUE or
 * --opt=VALUE; "--" ends them); everything after the module goes to the
 * guest, but for one "--" right after it, which is dropped. -h/--help
 * among the options sets o->help and returns 0 without needing a module
 * (look at o->help, not at the guest's arguments, which may hold --help).
 * Returns 0, or 2 (a usage error) with one line in err naming the option
 * and the value ("--memory-limit: '12Q' is not a size (BYTES, or with a
 * K, M or G suffix)"). *o is zeroed first and owns copies of the strings
 * (free with cfs_run_opts_free, also after an error).
 */
int cfs_run_opts_parse(int argc, char **argv, cfs_run_opts *o, char *err,
                       size_t cap);

/* The --help text, with an example. */
void cfs_run_opts_help(FILE *f);

/* Free what *o owns (defaults included) and zero it. Accepts NULL. */
void cfs_run_opts_free(cfs_run_opts *o);

/* Parse a "chronofs.wasi" section's bytes (format above) into *d (zeroed
 * first; free with cfs_run_defaults_free, also after an error). 0, or -1
 * with err naming the entry's byte offset and what is wrong. */
int cfs_run_defaults_parse(const uint8_t *data, size_t len,
                           cfs_run_defaults *d, char *err, size_t cap);
void cfs_run_defaults_free(cfs_run_defaults *d);

/*
 * The seed's normalized_mount_path: a relative guest path is taken under
 * "/" ("." is "/"), "." components and empty ones are dropped, ".."
 * removes the last component; a ".." at the root is an error: 'Invalid
 * guest mount path "…": parent traversal escapes the virtual root' (the
 * path as given). Writes the absolute result (no trailing '/', "/" for
 * the root) to out. 0, or -1 with err (also for a path longer than
 * cap - 1 or CFS_PATH_MAX: "… is too long").
 */
int cfs_run_normalize_mount_path(const char *guest, char *out, size_t cap,
                                 char *err, size_t errcap);

/* ---------------------------------------------------------------------- */
/* Preparing and running                                                    */

typedef struct cfs_run_state cfs_run_state;

/*
 * Build the guest's filesystem and journal from o:
 *  1. The writable journal (--journal J), created if missing, opened with
 *     --durability and the snapshot triggers. If it has history, the
 *     state is its head (--at/--snapshot may name the head only: starting
 *     from an earlier point would need to rewrite its later history, so
 *     that is refused, suggesting --journal-readonly J --at … --journal
 *     NEW). Its history already holds whatever it started from, so
 *     --journal-readonly bases are not replayed again then.
 *  2. Otherwise the --journal-readonly bases, in order: the first gives
 *     the state at its head; each next one must continue it (hold the
 *     same state at the seq reached so far: a journal written by a run
 *     over the earlier bases) and takes it on to its head; --at/--snapshot
 *     apply to the last base. A new J then stores that state as its first
 *     record (a snapshot, trigger "base"), so it is self-contained and its
 *     events continue at the next seq (as cfs_journal_fork does).
 *  3. --memory-limit: the byte budget, set by an event (cfs_fs_set_budget)
 *     when it differs from the state's, so a replay of J reaches it too;
 *     left out, the state keeps the budget it has. Then the mounts (module
 *     comment), each copied in as events; the budget holds during and
 *     after (a write past it is ENOSPC for the guest as for an import).
 *  4. --cwd: the guest's current directory (normalized as a mount path;
 *     it must be a directory by then), set with cfs_fs_chdir.
 *  5. bootstrap: a snapshot of the prepared state ("bootstrap"; none if
 *     the state is empty or that seq has a snapshot already, e.g. J's
 *     "base"); then the journal is attached (triggers), SIGUSR1 handled
 *     if sigusr1 or explicit is on.
 *  6. argv: the module's file name (without directories), the defaults'
 *     args, the user's; envp: defaults, then the host's environment with
 *     --forward-host-env, then --env; a later value of a key replaces the
 *     earlier one in its first position.
 * Without J, nothing is journaled (the engine has no sink).
 * Returns 0 with *out, or 1 (a user error: a journal, seq, path or mount
 * at fault) with one line in err naming it; *out is then NULL and
 * nothing stays open (a journal created by this call stays created).
 */
int cfs_run_prepare(const cfs_run_opts *o, cfs_run_state **out, char *err,
                    size_t cap);

/* What prepare built. Pointers are owned by the state, valid until
 * cfs_run_finish. cfs_run_journal is NULL without --journal. The argv and
 * envp arrays are NULL-terminated; *argc / *envc (may be NULL) get their
 * lengths. */
cfs_fs *cfs_run_fs(const cfs_run_state *st);
cfs_journal *cfs_run_journal(const cfs_run_state *st);
char *const *cfs_run_argv(const cfs_run_state *st, size_t *argc);
char *const *cfs_run_envp(const cfs_run_state *st, size_t *envc);
const char *cfs_run_cwd(const cfs_run_state *st);        /* absolute */
int cfs_run_journal_stdio(const cfs_run_state *st);      /* 0 with --skip-journal-stdio */
/* The mutex the host must hold while it uses cfs_run_fs (its
 * cfs_wasi_config.call_lock): with a journal, prepare starts a ticker
 * thread that takes it every 25 ms to tick the journal (batch age,
 * interval and idle triggers, a SIGUSR1's snapshot), so a guest computing
 * without WASI calls still has its batches committed. NULL without a
 * journal. */
pthread_mutex_t *cfs_run_call_lock(cfs_run_state *st);

/* The message of the last failure cfs_run_poll reported ("" if none). */
const char *cfs_run_errmsg(const cfs_run_state *st);

/* cfs_run_poll's answers: non-zero stops the guest. */
#define CFS_RUN_CONTINUE 0
#define CFS_RUN_STOP_SNAPSHOT 1 /* --stop-after-snapshot: one was taken */
#define CFS_RUN_STOP_FAILED 2   /* the journal failed (cfs_run_errmsg) */

/*
 * The host's hook, called on the guest's thread between WASI calls
 * (`state` is the cfs_run_state). Takes a snapshot a SIGUSR1 asked for,
 * ticks the journal (batch age, interval and idle triggers) at most every
 * 5 ms of a coarse monotonic clock, and says whether to stop: with
 * --stop-after-snapshot once any snapshot (trigger or signal) has been
 * begun since prepare returned. Cheap when there is nothing to do.
 */
int cfs_run_poll(void *state);

/*
 * End the run: commit and make durable what was journaled (per
 * --durability), the "exit" snapshot if asked (when something changed
 * since the last snapshot), close every journal, restore SIGUSR1, free
 * the state and the engine. Accepts NULL. 0, or 1 with err naming the
 * journal; the state is freed either way.
 */
int cfs_run_finish(cfs_run_state *st, char *err, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* CFS_RUNNER_H */
