/*
 * blockpool.c — memory for full (CFS_BLOCK_SIZE) data blocks.
 *
 * Why not malloc: a 64 KiB malloc comes from fresh heap pages, and on
 * these (virtualized) machines every first touch of a 4 KiB page costs a
 * fault of several microseconds: writing 1 GiB of new data took a
 * quarter of a million faults and ran at ~0.4 GB/s, while tmpfs fills its
 * pages inside the kernel without faulting. Handing out blocks from 2 MiB
 * chunks that are 2 MiB aligned and marked MADV_HUGEPAGE lets the kernel
 * back them with transparent huge pages: one fault per 32 blocks.
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

static uint8_t *map_aligned(void)
{
    /* Map twice the size and trim both ends to get 2 MiB alignment, which
     * transparent huge pages need. */
    size_t len = 2 * CHUNK_BYTES;
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uintptr_t a = ((uintptr_t)p + CHUNK_BYTES - 1) & ~(uintptr_t)(CHUNK_BYTES - 1);
    uint8_t *al = (uint8_t *)a;
    if (al > p)
        munmap(p, (size_t)(al - p));
    size_t tail = (size_t)(p + len - (al + CHUNK_BYTES));
    if (tail)
        munmap(al + CHUNK_BYTES, tail);
    madvise(al, CHUNK_BYTES, MADV_HUGEPAGE); /* a hint: fine if refused */
    return al;
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
        if (c && !(c->mem = map_aligned())) {
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
