/*
 * cfs_wasi.h — the chronofs WASI preview1 host: run a WebAssembly command
 * (a module built with `clang --target=wasm32-wasi`, wasi-libc) on a
 * chronofs engine, every filesystem call an engine call (and so, with a
 * journal attached as the engine's sink, an event in the journal).
 *
 * How a guest runs: cfs_wasi_build() translates the module to C with wabt's
 * wasm2c and compiles it, with wabt's runtime and a small glue file, into a
 * native shared object, cached by the module's hash; cfs_wasi_run() loads
 * that object and runs its _start on a thread of its own, calling back into
 * the host for every wasi_snapshot_preview1 import.
 *
 * Traps: the translated code checks every memory access and counts call
 * depth in code (no signal handler, so it behaves the same under ASan), and
 * a trap unwinds the guest back into cfs_wasi_run(), which reports it in
 * cfs_wasi_result (trapped = 1, exit_code CFS_WASI_TRAP_EXIT). Every guest
 * pointer and length handed to an import is checked against the linear
 * memory's bounds: EFAULT, never a host access outside it.
 *
 * Runs are serialised within a process (one guest runs at a time); the
 * engine is used only on the guest's thread while it runs.
 */
#ifndef CFS_WASI_H
#define CFS_WASI_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "cfs_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The exit status reported for a guest that trapped (as a shell reports a
 * process killed by SIGABRT: 128 + 6). */
#define CFS_WASI_TRAP_EXIT 134

/*
 * Translate and compile GUEST.wasm to a native shared object in cache_dir
 * (created if missing, with its parents), named by the module's xxh3-128
 * and the host ABI (wasi_abi.h, the glue and the build flags), built in a
 * temporary directory and renamed into place, so concurrent builds and
 * crashes never leave a partial object; an object already cached is reused
 * without running the toolchain. The path goes to so_path (so_cap bytes).
 * Returns 0, or -1 with a one-line message in err: the toolchain is missing
 * (names the Debian package), the module is malformed (wasm2c's reason),
 * it imports something chronofs does not provide (names it) or has no
 * _start / memory export, or the compiler failed.
 * Needs `wasm2c` (wabt) and `cc` in PATH.
 */
int cfs_wasi_build(const char *wasm_path, const char *cache_dir, char *so_path,
                   size_t so_cap, char *err, size_t errcap);

/* The default cache directory: $CHRONOFS_CACHE, else
 * $XDG_CACHE_HOME/chronofs/wasm, else $HOME/.cache/chronofs/wasm (NULL if
 * none of them is set or it does not fit in cap). Written into buf. */
const char *cfs_wasi_default_cache(char *buf, size_t cap);

/*
 * Read custom section `name` of a wasm module (the first one with that
 * name): *data (malloc'd, the caller frees) and *len. Returns 0 found,
 * 1 absent (*data NULL), -1 unreadable or malformed module (message in err).
 */
int cfs_wasi_custom_section(const char *wasm_path, const char *name,
                            uint8_t **data, size_t *len, char *err,
                            size_t errcap);

typedef struct cfs_wasi_config {
    cfs_fs *fs;                   /* prepared by the caller; may have a journal attached as sink */
    const char *const *argv; size_t argc;   /* argv[0] is the program name */
    const char *const *envp; size_t envc;   /* "K=V" */
    const char *cwd;              /* guest cwd, NULL = "/" */
    int journal_stdio;            /* 1: stdout/stderr writes are engine events too; 0: host only */
    int in_fd, out_fd, err_fd;    /* host fds for guest stdio (normally 0,1,2) */
    /* Called at every WASI call, on the guest's thread, between events (so
     * the caller may snapshot the fs there). Nonzero: stop the guest now;
     * cfs_wasi_run then returns with stopped = 1. NULL = none. */
    int (*poll)(void *ctx); void *poll_ctx;
    /* NULL, or a mutex the run holds whenever it uses cfg->fs: during each
     * WASI call (but not while it blocks: a sleep in poll_oneoff, a read
     * of the host's stdin) and while it sets the process up and ends it.
     * Another thread that takes it finds the engine between events (the
     * runner's ticker commits batches by age and takes snapshots while a
     * guest computes without calling). */
    pthread_mutex_t *call_lock;
} cfs_wasi_config;

typedef struct cfs_wasi_result {
    int exit_code;        /* proc_exit's code, or the return of main via _start;
                             CFS_WASI_TRAP_EXIT after a trap, 0 when stopped */
    int trapped;          /* 1: the guest trapped; message says which trap */
    int stopped;          /* 1: poll asked to stop */
    char message[256];    /* "guest trapped: ...", "" otherwise */
} cfs_wasi_result;

/*
 * Load so_path (from cfs_wasi_build) and run the guest on cfg->fs.
 *
 * The guest gets a clean process: unless the fs already holds exactly
 * that, every fd is closed, stdio is reopened as fds 0-2 (inodes 10-12,
 * the seed's rights, stdout/stderr APPEND) and "/" is preopened as fd 3
 * (read, write, create); the engine's current directory becomes cfg->cwd.
 * Guest stdio goes to/from cfg->in_fd/out_fd/err_fd; with journal_stdio
 * writes to stdout/stderr are also engine events (on inodes 11/12).
 *
 * Returns 0 when the guest ran (it exited, trapped or was stopped: see
 * res), -1 when it could not be run (message in err: the object cannot be
 * loaded, is not a chronofs guest, or the fs cannot be prepared). In every
 * case the fs is left consistent: the events that happened are applied,
 * and the guest's fds are closed (close-all), so a later run from this
 * state starts clean.
 */
int cfs_wasi_run(const char *so_path, const cfs_wasi_config *cfg,
                 cfs_wasi_result *res, char *err, size_t errcap);

#ifdef __cplusplus
}
#endif

#endif /* CFS_WASI_H */
