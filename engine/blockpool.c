/*
 * blockpool.c — memory for full (CFS_BLOCK_SIZE) data blocks.
 *
 * Why not malloc: a 64 KiB malloc comes from fresh heap pages, and on
 * these (virtualized) machines every first touch of a page costs a fault;
 * what the pool saves is reuse (below), and one mapping per 32 blocks.
 *
 * Chunks are not marked MADV_HUGEPAGE (they were once). On this VM the
 * kernel hands free 2 MiB blocks back to the hypervisor (free page
 * reporting), so a huge page is usually memory the host must back anew,
 * and zeroing it on the first touch cost more than 4 KiB faults do: a FUSE
 * mount writing 512 MiB of new data spent 1.7 s of its request thread's
 * CPU in clear_page with huge pages against 0.45 s without (the other
 * half of the time, freed huge pages were still at hand and it was 0.48 s).
 *
 * A chunk holds POOL_SLOTS blocks and a bitmap of the used ones. Chunks
 * with a free slot sit on a list. A chunk whose blocks are all free is
 * not unmapped but released with MADV_FREE and kept on an idle list, as
 * jemalloc does with dirty pages: the kernel takes those pages back when
 * memory is short (then the next touch faults in a zero page), and until
 * it does, reusing the chunk costs neither a fault nor the kernel's
 * zeroing of a fresh page. Writing fresh memory is otherwise dominated by
 * that zeroing, which tmpfs avoids for pages it fills whole. At most
 * POOL_IDLE_MAX idle chunks are kept (address space, not memory); past
 * that they are unmapped. Blocks can be freed by any engine (snapshots
 * share them), so the pool is one per process, behind a mutex.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

#define CHUNK_BYTES ((size_t)2 << 20)
#define POOL_SLOTS ((unsigned)(CHUNK_BYTES / CFS_BLOCK_SIZE))
#define POOL_IDLE_MAX 4096 /* 8 GiB of address space */

struct pool_chunk {
    struct pool_chunk *next, *prev; /* on the list of chunks with room */
    uint8_t *mem;
    uint32_t used; /* bitmap, bit i = slot i in use */
    bool listed;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pool_chunk *with_room; /* chunks with at least one free slot */
static struct pool_chunk *idle;      /* empty chunks, MADV_FREE'd; via next */
static unsigned n_idle;

_Static_assert(CHUNK_BYTES / CFS_BLOCK_SIZE == 32, "bitmap is 32 bits");

/* A new chunk, its pages faulted in by the kernel in one go (MAP_POPULATE)
 * rather than by 512 first touches: a chunk is taken only when a block is
 * wanted, and the next ones fill it. Through a FUSE mount writing 1 GiB,
 * side by side over 6 runs each: the request thread's CPU 0.60 s against
 * 0.70 s, the write 1.18 s against 1.25 s. */
static uint8_t *map_chunk(void)
{
    uint8_t *p = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void list_add(struct pool_chunk *c)
{
    c->prev = NULL;
    c->next = with_room;
    if (with_room)
        with_room->prev = c;
    with_room = c;
    c->listed = true;
}

static void list_del(struct pool_chunk *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        with_room = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->listed = false;
}

void *pool_alloc(struct pool_chunk **chunk)
{
    pthread_mutex_lock(&pool_lock);
    struct pool_chunk *c = with_room;
    if (!c && idle) {
        c = idle;
        idle = c->next;
        n_idle--;
        list_add(c);
    }
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (c && !(c->mem = map_chunk())) {
            free(c);
            c = NULL;
        }
        if (!c) {
            pthread_mutex_unlock(&pool_lock);
            return NULL;
        }
        list_add(c);
    }
    unsigned slot = (unsigned)__builtin_ctz(~c->used);
    c->used |= UINT32_C(1) << slot;
    if (c->used == UINT32_MAX)
        list_del(c);
    pthread_mutex_unlock(&pool_lock);
    *chunk = c;
    return c->mem + (size_t)slot * CFS_BLOCK_SIZE;
}

void pool_free(struct pool_chunk *c, void *mem)
{
    unsigned slot = (unsigned)(((uint8_t *)mem - c->mem) / CFS_BLOCK_SIZE);
    pthread_mutex_lock(&pool_lock);
    c->used &= ~(UINT32_C(1) << slot);
    if (!c->listed)
        list_add(c);
    if (c->used == 0) {
        list_del(c);
        if (n_idle < POOL_IDLE_MAX) {
            madvise(c->mem, CHUNK_BYTES, MADV_FREE);
            c->next = idle;
            idle = c;
            n_idle++;
        } else {
            munmap(c->mem, CHUNK_BYTES);
            free(c);
        }
    }
    pthread_mutex_unlock(&pool_lock);
}
