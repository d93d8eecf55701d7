/*
 * guest_glue.c — compiled into every guest shared object, next to wasm2c's
 * translation of the module (guest.c/guest.h, module name "guest") and
 * wabt's runtime. Not part of the host: cfs_wasi_build() writes this file
 * (embedded as text) into its work directory and compiles it there.
 *
 * It defines the module's wasi_snapshot_preview1 imports as trampolines to
 * the host's function table (wasi_abi.h) and the one exported entry point.
 * Traps: the module is compiled with WASM_RT_MEMCHECK_SIGNAL_HANDLER=0, so
 * every load/store is bounds-checked in code and call depth is counted; a
 * trap is a longjmp to the wasm_rt_impl_try() below, never a signal, so it
 * works the same under a sanitizer runtime in the host. The host unwinds
 * the guest (proc_exit, a stop) the same way, through ctx->unwind.
 */
#include <stdlib.h>
#include <string.h>

#include "guest.h"
#include "wasm-rt-impl.h"
#include "wasi_abi.h"

struct Z_wasi_snapshot_preview1_instance_t {
    cfs_wasi_guest_ctx *ctx;
};
typedef struct Z_wasi_snapshot_preview1_instance_t inst_t;

static u32 after(cfs_wasi_guest_ctx *c, u32 r)
{
    if (c->unwind)
        WASM_RT_LONGJMP(wasm_rt_jmp_buf, CFS_WASI_GUEST_UNWOUND);
    return r;
}

/* The host's call is over: release its call lock, then unwind if asked. */
static u32 done(cfs_wasi_guest_ctx *c, u32 r)
{
    c->fns->leave(c);
    return after(c, r);
}

#define PFX(n) Z_wasi_snapshot_preview1Z_##n
#define CALL(n, ...)                                                          \
    do {                                                                      \
        i->ctx->fns->enter(i->ctx);                                           \
        return done(i->ctx, i->ctx->fns->n(i->ctx, __VA_ARGS__));             \
    } while (0)

u32 PFX(args_get)(inst_t *i, u32 a, u32 b) { CALL(args_get, a, b); }
u32 PFX(args_sizes_get)(inst_t *i, u32 a, u32 b) { CALL(args_sizes_get, a, b); }
u32 PFX(environ_get)(inst_t *i, u32 a, u32 b) { CALL(environ_get, a, b); }
u32 PFX(environ_sizes_get)(inst_t *i, u32 a, u32 b) { CALL(environ_sizes_get, a, b); }
u32 PFX(clock_res_get)(inst_t *i, u32 a, u32 b) { CALL(clock_res_get, a, b); }
u32 PFX(clock_time_get)(inst_t *i, u32 a, u64 b, u32 c) { CALL(clock_time_get, a, b, c); }
u32 PFX(fd_advise)(inst_t *i, u32 a, u64 b, u64 c, u32 d) { CALL(fd_advise, a, b, c, d); }
u32 PFX(fd_allocate)(inst_t *i, u32 a, u64 b, u64 c) { CALL(fd_allocate, a, b, c); }
u32 PFX(fd_close)(inst_t *i, u32 a) { CALL(fd_close, a); }
u32 PFX(fd_datasync)(inst_t *i, u32 a) { CALL(fd_datasync, a); }
u32 PFX(fd_fdstat_get)(inst_t *i, u32 a, u32 b) { CALL(fd_fdstat_get, a, b); }
u32 PFX(fd_fdstat_set_flags)(inst_t *i, u32 a, u32 b) { CALL(fd_fdstat_set_flags, a, b); }
u32 PFX(fd_fdstat_set_rights)(inst_t *i, u32 a, u64 b, u64 c) { CALL(fd_fdstat_set_rights, a, b, c); }
u32 PFX(fd_filestat_get)(inst_t *i, u32 a, u32 b) { CALL(fd_filestat_get, a, b); }
u32 PFX(fd_filestat_set_size)(inst_t *i, u32 a, u64 b) { CALL(fd_filestat_set_size, a, b); }
u32 PFX(fd_filestat_set_times)(inst_t *i, u32 a, u64 b, u64 c, u32 d) { CALL(fd_filestat_set_times, a, b, c, d); }
u32 PFX(fd_pread)(inst_t *i, u32 a, u32 b, u32 c, u64 d, u32 e) { CALL(fd_pread, a, b, c, d, e); }
u32 PFX(fd_prestat_get)(inst_t *i, u32 a, u32 b) { CALL(fd_prestat_get, a, b); }
u32 PFX(fd_prestat_dir_name)(inst_t *i, u32 a, u32 b, u32 c) { CALL(fd_prestat_dir_name, a, b, c); }
u32 PFX(fd_pwrite)(inst_t *i, u32 a, u32 b, u32 c, u64 d, u32 e) { CALL(fd_pwrite, a, b, c, d, e); }
u32 PFX(fd_read)(inst_t *i, u32 a, u32 b, u32 c, u32 d) { CALL(fd_read, a, b, c, d); }
u32 PFX(fd_readdir)(inst_t *i, u32 a, u32 b, u32 c, u64 d, u32 e) { CALL(fd_readdir, a, b, c, d, e); }
u32 PFX(fd_renumber)(inst_t *i, u32 a, u32 b) { CALL(fd_renumber, a, b); }
u32 PFX(fd_seek)(inst_t *i, u32 a, u64 b, u32 c, u32 d) { CALL(fd_seek, a, b, c, d); }
u32 PFX(fd_sync)(inst_t *i, u32 a) { CALL(fd_sync, a); }
u32 PFX(fd_tell)(inst_t *i, u32 a, u32 b) { CALL(fd_tell, a, b); }
u32 PFX(fd_write)(inst_t *i, u32 a, u32 b, u32 c, u32 d) { CALL(fd_write, a, b, c, d); }
u32 PFX(path_create_directory)(inst_t *i, u32 a, u32 b, u32 c) { CALL(path_create_directory, a, b, c); }
u32 PFX(path_filestat_get)(inst_t *i, u32 a, u32 b, u32 c, u32 d, u32 e) { CALL(path_filestat_get, a, b, c, d, e); }
u32 PFX(path_filestat_set_times)(inst_t *i, u32 a, u32 b, u32 c, u32 d, u64 e, u64 f, u32 g) { CALL(path_filestat_set_times, a, b, c, d, e, f, g); }
u32 PFX(path_link)(inst_t *i, u32 a, u32 b, u32 c, u32 d, u32 e, u32 f, u32 g) { CALL(path_link, a, b, c, d, e, f, g); }
u32 PFX(path_open)(inst_t *i, u32 a, u32 b, u32 c, u32 d, u32 e, u64 f, u64 g, u32 h, u32 j) { CALL(path_open, a, b, c, d, e, f, g, h, j); }
u32 PFX(path_readlink)(inst_t *i, u32 a, u32 b, u32 c, u32 d, u32 e, u32 f) { CALL(path_readlink, a, b, c, d, e, f); }
u32 PFX(path_remove_directory)(inst_t *i, u32 a, u32 b, u32 c) { CALL(path_remove_directory, a, b, c); }
u32 PFX(path_rename)(inst_t *i, u32 a, u32 b, u32 c, u32 d, u32 e, u32 f) { CALL(path_rename, a, b, c, d, e, f); }
u32 PFX(path_symlink)(inst_t *i, u32 a, u32 b, u32 c, u32 d, u32 e) { CALL(path_symlink, a, b, c, d, e); }
u32 PFX(path_unlink_file)(inst_t *i, u32 a, u32 b, u32 c) { CALL(path_unlink_file, a, b, c); }
u32 PFX(poll_oneoff)(inst_t *i, u32 a, u32 b, u32 c, u32 d) { CALL(poll_oneoff, a, b, c, d); }
u32 PFX(proc_raise)(inst_t *i, u32 a) { CALL(proc_raise, a); }
u32 PFX(random_get)(inst_t *i, u32 a, u32 b) { CALL(random_get, a, b); }
u32 PFX(sock_accept)(inst_t *i, u32 a, u32 b, u32 c) { CALL(sock_accept, a, b, c); }
u32 PFX(sock_recv)(inst_t *i, u32 a, u32 b, u32 c, u32 d, u32 e, u32 f) { CALL(sock_recv, a, b, c, d, e, f); }
u32 PFX(sock_send)(inst_t *i, u32 a, u32 b, u32 c, u32 d, u32 e) { CALL(sock_send, a, b, c, d, e); }
u32 PFX(sock_shutdown)(inst_t *i, u32 a, u32 b) { CALL(sock_shutdown, a, b); }

u32 PFX(sched_yield)(inst_t *i)
{
    i->ctx->fns->enter(i->ctx);
    return done(i->ctx, i->ctx->fns->sched_yield(i->ctx));
}

void PFX(proc_exit)(inst_t *i, u32 code)
{
    i->ctx->fns->enter(i->ctx);
    i->ctx->fns->proc_exit(i->ctx, code);
    i->ctx->fns->leave(i->ctx);
    /* proc_exit never returns to the guest, whatever the host said. */
    WASM_RT_LONGJMP(wasm_rt_jmp_buf, CFS_WASI_GUEST_UNWOUND);
}

__attribute__((visibility("default"))) int cfs_wasi_guest_main(cfs_wasi_guest_ctx *ctx);

int cfs_wasi_guest_main(cfs_wasi_guest_ctx *ctx)
{
    if (!ctx || ctx->abi != CFS_WASI_ABI)
        return CFS_WASI_GUEST_BAD_ABI;
    inst_t imp = {ctx};
    Z_guest_instance_t *inst = calloc(1, sizeof(*inst));
    if (!inst)
        return WASM_RT_TRAP_EXHAUSTION;
    wasm_rt_init();
    Z_guest_init_module();
    wasm_rt_memory_t *mem = Z_guestZ_memory(inst);
    ctx->mem_data = &mem->data;
    ctx->mem_size = &mem->size;
    wasm_rt_call_stack_depth = 0;
    volatile int instantiated = 0;
    int code = wasm_rt_impl_try();
    if (code == 0) {
#if CFS_GUEST_NO_IMPORTS
        (void)imp;
        Z_guest_instantiate(inst);
#else
        Z_guest_instantiate(inst, &imp);
#endif
        instantiated = 1;
        Z_guestZ__start(inst);
    }
    ctx->mem_data = NULL;
    ctx->mem_size = NULL;
    if (instantiated)
        Z_guest_free(inst);
    free(inst);
    wasm_rt_free();
    return code;
}
