/*
 * host.h — internal to tools/wasi: the state of one guest run, shared by
 * run.c (loading, the run thread, process setup, args/clocks/poll/proc)
 * and fsfns.c (the filesystem imports), and the guest-memory helpers both
 * use. Every guest pointer goes through mem_range()/mem_get(): nothing in
 * the host touches linear memory outside the bounds it has at that call.
 */
#ifndef CFS_WASI_HOST_H
#define CFS_WASI_HOST_H

#include <stdint.h>
#include <string.h>

#include "bytes.h"
#include "cfs_engine.h"
#include "cfs_wasi.h"
#include "wasi_abi.h"

struct host {
    cfs_wasi_guest_ctx ctx;
    const cfs_wasi_config *cfg;
    cfs_fs *fs;
    int exited, exit_code;   /* proc_exit / proc_raise */
    int stopped;             /* poll asked to stop */
    char message[256];
};

static inline struct host *host_of(cfs_wasi_guest_ctx *c)
{
    return (struct host *)c->host;
}

/* The address of guest range [ptr, ptr+len), or NULL if any of it lies
 * outside linear memory (len may be 0: ptr may then equal the size). */
static inline uint8_t *mem_range(cfs_wasi_guest_ctx *c, uint32_t ptr,
                                 uint64_t len)
{
    if (!c->mem_data || !c->mem_size || !*c->mem_data)
        return NULL;
    if ((uint64_t)ptr + len > (uint64_t)*c->mem_size)
        return NULL;
    return *c->mem_data + ptr;
}

/* Little-endian stores and loads at an address mem_range() vouched for:
 * the journal's (bytes.h), and a byte. */
static inline void put_u8(uint8_t *p, uint8_t v) { p[0] = v; }

/* Called first by every import: runs the caller's poll hook; nonzero means
 * the guest is being stopped and the import must return at once (the glue
 * unwinds the guest when it does). */
int host_enter(cfs_wasi_guest_ctx *c);

/* An import's first statement: host_enter, and return at once if told. */
#define ENTER(c)                \
    do {                        \
        if (host_enter(c))      \
            return 0;           \
    } while (0)

/* The host fd behind a guest stdio fd (an fd on inode 10, 11 or 12), or -1
 * if fd is not stdio; *ino gets the inode. */
int host_stdio_fd(struct host *h, cfs_fd fd, cfs_ino *ino);

/* The filesystem imports (fsfns.c) fill their entries of the table. */
void fsfns_fill(cfs_wasi_hostfns *t);

/* Around a blocking host call inside a WASI call: release the call lock
 * while blocked, so the engine stays reachable (a no-op without one). */
void host_block_begin(struct host *h);
void host_block_end(struct host *h);

/* printf into err[cap] (nothing when err is NULL or cap 0): the one-line
 * messages of cfs_wasi_build and cfs_wasi_run. */
void cfs_wasi_seterr(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* CFS_WASI_HOST_H */
