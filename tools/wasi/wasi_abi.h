/*
 * wasi_abi.h — the contract between the chronofs WASI host and a guest
 * shared object built by cfs_wasi_build().
 *
 * A guest .so is wasm2c's translation of the module, wabt's runtime
 * (wasm-rt-impl.c) and guest_glue.c, all compiled with hidden visibility.
 * It exports one symbol, CFS_WASI_GUEST_ENTRY, which instantiates the
 * module and runs its _start. The module's wasi_snapshot_preview1 imports
 * are defined by the glue as trampolines through the function table below,
 * so the host binary exports nothing and needs no -rdynamic: whatever links
 * cfs_wasi can run guests.
 *
 * This file is compiled both into the host and (embedded as text, see
 * tools/wasi/CMakeLists.txt) into every guest; any change to it or to the
 * glue changes the cache key (cfs_wasi_build), so a stale guest is never
 * loaded. Bump CFS_WASI_ABI when the layout changes anyway, for clarity.
 */
#ifndef CFS_WASI_ABI_H
#define CFS_WASI_ABI_H

#include <stdint.h>

#define CFS_WASI_ABI 2
#define CFS_WASI_GUEST_ENTRY "cfs_wasi_guest_main"

/* Values cfs_wasi_guest_main returns besides wabt's trap codes (1..9). */
#define CFS_WASI_GUEST_RETURNED 0      /* _start returned */
#define CFS_WASI_GUEST_UNWOUND  1000   /* the host asked to unwind (ctx.unwind) */
#define CFS_WASI_GUEST_BAD_ABI  1001   /* ctx->abi is not this glue's */

/* Stack depth (wasm frames) before a guest traps with "call stack
 * exhausted". The guest runs on a thread whose stack is sized for it
 * (cfs_wasi_run). */
#define CFS_WASI_MAX_CALL_DEPTH 20000

struct cfs_wasi_guest_ctx;
typedef struct cfs_wasi_guest_ctx cfs_wasi_guest_ctx;

typedef uint32_t u32_;
typedef uint64_t u64_;

/* One entry per wasi_snapshot_preview1 function, with its wasm signature:
 * every i32 is a uint32_t, every i64 a uint64_t, as wasm2c passes them. */
typedef struct cfs_wasi_hostfns {
    u32_ (*args_get)(cfs_wasi_guest_ctx *, u32_, u32_);
    u32_ (*args_sizes_get)(cfs_wasi_guest_ctx *, u32_, u32_);
    u32_ (*environ_get)(cfs_wasi_guest_ctx *, u32_, u32_);
    u32_ (*environ_sizes_get)(cfs_wasi_guest_ctx *, u32_, u32_);
    u32_ (*clock_res_get)(cfs_wasi_guest_ctx *, u32_, u32_);
    u32_ (*clock_time_get)(cfs_wasi_guest_ctx *, u32_, u64_, u32_);
    u32_ (*fd_advise)(cfs_wasi_guest_ctx *, u32_, u64_, u64_, u32_);
    u32_ (*fd_allocate)(cfs_wasi_guest_ctx *, u32_, u64_, u64_);
    u32_ (*fd_close)(cfs_wasi_guest_ctx *, u32_);
    u32_ (*fd_datasync)(cfs_wasi_guest_ctx *, u32_);
    u32_ (*fd_fdstat_get)(cfs_wasi_guest_ctx *, u32_, u32_);
    u32_ (*fd_fdstat_set_flags)(cfs_wasi_guest_ctx *, u32_, u32_);
    u32_ (*fd_fdstat_set_rights)(cfs_wasi_guest_ctx *, u32_, u64_, u64_);
    u32_ (*fd_filestat_get)(cfs_wasi_guest_ctx *, u32_, u32_);
    u32_ (*fd_filestat_set_size)(cfs_wasi_guest_ctx *, u32_, u64_);
    u32_ (*fd_filestat_set_times)(cfs_wasi_guest_ctx *, u32_, u64_, u64_, u32_);
    u32_ (*fd_pread)(cfs_wasi_guest_ctx *, u32_, u32_, u32_, u64_, u32_);
    u32_ (*fd_prestat_get)(cfs_wasi_guest_ctx *, u32_, u32_);
    u32_ (*fd_prestat_dir_name)(cfs_wasi_guest_ctx *, u32_, u32_, u32_);
    u32_ (*fd_pwrite)(cfs_wasi_guest_ctx *, u32_, u32_, u32_, u64_, u32_);
    u32_ (*fd_read)(cfs_wasi_guest_ctx *, u32_, u32_, u32_, u32_);
    u32_ (*fd_readdir)(cfs_wasi_guest_ctx *, u32_, u32_, u32_, u64_, u32_);
    u32_ (*fd_renumber)(cfs_wasi_guest_ctx *, u32_, u32_);
    u32_ (*fd_seek)(cfs_wasi_guest_ctx *, u32_, u64_, u32_, u32_);
    u32_ (*fd_sync)(cfs_wasi_guest_ctx *, u32_);
    u32_ (*fd_tell)(cfs_wasi_guest_ctx *, u32_, u32_);
    u32_ (*fd_write)(cfs_wasi_guest_ctx *, u32_, u32_, u32_, u32_);
    u32_ (*path_create_directory)(cfs_wasi_guest_ctx *, u32_, u32_, u32_);
    u32_ (*path_filestat_get)(cfs_wasi_guest_ctx *, u32_, u32_, u32_, u32_, u32_);
    u32_ (*path_filestat_set_times)(cfs_wasi_guest_ctx *, u32_, u32_, u32_, u32_,
                                    u64_, u64_, u32_);
    u32_ (*path_link)(cfs_wasi_guest_ctx *, u32_, u32_, u32_, u32_, u32_, u32_,
                      u32_);
    u32_ (*path_open)(cfs_wasi_guest_ctx *, u32_, u32_, u32_, u32_, u32_, u64_,
                      u64_, u32_, u32_);
    u32_ (*path_readlink)(cfs_wasi_guest_ctx *, u32_, u32_, u32_, u32_, u32_,
                          u32_);
    u32_ (*path_remove_directory)(cfs_wasi_guest_ctx *, u32_, u32_, u32_);
    u32_ (*path_rename)(cfs_wasi_guest_ctx *, u32_, u32_, u32_, u32_, u32_, u32_);
    u32_ (*path_symlink)(cfs_wasi_guest_ctx *, u32_, u32_, u32_, u32_, u32_);
    u32_ (*path_unlink_file)(cfs_wasi_guest_ctx *, u32_, u32_, u32_);
    u32_ (*poll_oneoff)(cfs_wasi_guest_ctx *, u32_, u32_, u32_, u32_);
    void (*proc_exit)(cfs_wasi_guest_ctx *, u32_);
    u32_ (*proc_raise)(cfs_wasi_guest_ctx *, u32_);
    u32_ (*sched_yield)(cfs_wasi_guest_ctx *);
    u32_ (*random_get)(cfs_wasi_guest_ctx *, u32_, u32_);
    u32_ (*sock_accept)(cfs_wasi_guest_ctx *, u32_, u32_, u32_);
    u32_ (*sock_recv)(cfs_wasi_guest_ctx *, u32_, u32_, u32_, u32_, u32_, u32_);
    u32_ (*sock_send)(cfs_wasi_guest_ctx *, u32_, u32_, u32_, u32_, u32_);
    u32_ (*sock_shutdown)(cfs_wasi_guest_ctx *, u32_, u32_);
    /* The glue calls enter before, and leave after, every call above:
     * between them the guest's thread holds the host's call lock
     * (cfs_wasi_config.call_lock), so another thread holding it sees the
     * engine between two events. */
    void (*enter)(cfs_wasi_guest_ctx *);
    void (*leave)(cfs_wasi_guest_ctx *);
} cfs_wasi_hostfns;

/* Shared by host and glue for one run. */
struct cfs_wasi_guest_ctx {
    uint32_t abi;                  /* CFS_WASI_ABI, set by the host */
    const cfs_wasi_hostfns *fns;   /* set by the host */
    void *host;                    /* the host's run state */
    /* Set by the glue before instantiation: where the module's linear
     * memory lives. Both change when memory grows, so the host reads them
     * at every call. NULL if the module has no memory. */
    uint8_t *const *mem_data;
    const uint32_t *mem_size;
    /* Set by the host inside a call (proc_exit, a stop requested by poll):
     * when the call returns, the glue unwinds the guest (no more guest code
     * runs) and cfs_wasi_guest_main returns CFS_WASI_GUEST_UNWOUND. */
    int unwind;
};

/* The guest's entry point (the symbol named CFS_WASI_GUEST_ENTRY). */
typedef int (*cfs_wasi_guest_main_fn)(cfs_wasi_guest_ctx *ctx);

#endif /* CFS_WASI_ABI_H */
