/*
 * data.c — file contents: refcounted copy-on-write blocks in a radix tree.
 *
 * Invariants:
 *  - a block is private to a file when refs == 1; it is written in place
 *    only then (a shared block is copied first);
 *  - bytes of a block past the file size are zero, so growing a file (by
 *    set_size or a write past the end) shows zeros without touching data;
 *  - a hole (NULL slot) and bytes past a block's cap read as zeros;
 *  - every mutation allocates all it needs before changing anything, so a
 *    failed allocation leaves the file exactly as it was.
 */
#include <stdlib.h>
#include <string.h>

#include <xxh_x86dispatch.h>

#include "internal.h"

#define BS ((uint64_t)CFS_BLOCK_SIZE)
#define MIN_CAP 64u

static uint32_t cap_for(uint64_t need)
{
    uint32_t cap = MIN_CAP;
    while (cap < need && cap < CFS_BLOCK_SIZE)
        cap <<= 1;
    return cap;
}

/* A new private block of `cap` bytes, holding copy_from's bytes (if any)
 * and zeros elsewhere, except in [lo, hi): the caller is about to write
 * all of that range, so clearing it first would only cost time. */
static struct block *block_new(uint32_t cap, const struct block *copy_from,
                               uint32_t lo, uint32_t hi)
{
    bool full = cap == CFS_BLOCK_SIZE;
    struct block *b = malloc(sizeof(*b) + (full ? 0 : cap));
    if (!b)
        return NULL;
    b->chunk = NULL;
    b->data = b->inline_data;
    if (full && !(b->data = pool_alloc(&b->chunk))) {
        free(b);
        return NULL;
    }
    b->refs = 1;
    b->cap = cap;
    b->hashed = HASH_NONE;
    b->src = NULL;
    uint32_t kept = 0;
    if (copy_from) {
        kept = copy_from->cap < cap ? copy_from->cap : cap;
        memcpy(b->data, copy_from->data, kept);
    }
    if (lo < kept)
        lo = kept;
    if (hi < lo)
        hi = lo;
    memset(b->data + kept, 0, lo - kept);
    memset(b->data + hi, 0, cap - hi);
    return b;
}

static void block_free(struct block *b)
{
    if (b->chunk)
        pool_free(b->chunk, b->data);
    free(b);
}

static void block_unref(struct block *b)
{
    if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
        block_free(b);
}

void block_release(struct block *b)
{
    block_unref(b);
}

void block_retain(struct block *b)
{
    __atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
}

struct block *block_alloc(uint32_t cap)
{
    return block_new(cap_for(cap), NULL, 0, 0);
}

/* Shared when another engine (a clone, a snapshot being written) holds it:
 * then it must be copied before any byte of it changes. */
static bool block_shared(const struct block *b)
{
    return __atomic_load_n(&b->refs, __ATOMIC_ACQUIRE) > 1;
}

/* Blocks a tree of this height can index. */
static uint64_t height_span(unsigned height)
{
    return height >= RADIX_MAX_HEIGHT ? UINT64_MAX
                                      : UINT64_C(1) << (RADIX_SHIFT * height);
}

static const struct block *block_lookup(const struct file_data *d,
                                        uint64_t idx)
{
    if (idx >= height_span(d->height))
        return NULL;
    void *p = d->root;
    for (unsigned h = d->height; p && h > 0; h--) {
        unsigned shift = RADIX_SHIFT * (h - 1);
        p = ((struct rnode *)p)->slot[(idx >> shift) & (RADIX_FANOUT - 1)];
    }
    return p;
}

/* Grow the tree so it can index `idx`. Adding empty levels changes nothing
 * a reader can see, so a later failure needs no undo. */
static int ensure_height(struct file_data *d, uint64_t idx)
{
    while (idx >= height_span(d->height)) {
        if (!d->root) {
            d->height++;
            continue;
        }
        struct rnode *n = calloc(1, sizeof(*n));
        if (!n)
            return -1;
        n->slot[0] = d->root;
        d->root = n;
        d->height++;
    }
    return 0;
}

/* The slot holding block `idx`, creating interior nodes as needed. The
 * tree must already be high enough (ensure_height). */
static void **slot_create(struct file_data *d, uint64_t idx)
{
    void **slot = &d->root;
    for (unsigned h = d->height; h > 0; h--) {
        if (!*slot) {
            *slot = calloc(1, sizeof(struct rnode));
            if (!*slot)
                return NULL;
        }
        unsigned shift = RADIX_SHIFT * (h - 1);
        slot = &((struct rnode *)*slot)->slot[(idx >> shift) &
                                              (RADIX_FANOUT - 1)];
    }
    return slot;
}

static void node_free(void *p, unsigned height)
{
    if (!p)
        return;
    if (height == 0) {
        block_unref(p);
        return;
    }
    struct rnode *n = p;
    for (unsigned i = 0; i < RADIX_FANOUT; i++)
        node_free(n->slot[i], height - 1);
    free(n);
}

void file_data_free(struct file_data *d)
{
    node_free(d->root, d->height);
    d->root = NULL;
    d->height = 0;
}

cfs_errno block_load(struct block *b)
{
    cfs_block_source *s = __atomic_load_n(&b->src, __ATOMIC_ACQUIRE);
    if (!s)
        return 0;
    /* s is alive: the state the caller reaches b through holds a ref */
    cfs_errno rc = 0;
    pthread_mutex_lock(&s->mu);
    if (__atomic_load_n(&b->src, __ATOMIC_ACQUIRE)) {
        if (s->closed || s->fetch(s->ctx, b->hash, b->data, b->cap)) {
            rc = CFS_EIO;
        } else {
            XXH128_hash_t got = XXH3_128bits_dispatch(b->data, b->cap);
            if (got.low64 != b->hash.lo || got.high64 != b->hash.hi)
                rc = CFS_EIO;
        }
        if (!rc)
            __atomic_store_n(&b->src, NULL, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

cfs_errno file_preload(const struct inode *in, uint64_t off, uint64_t len)
{
    if (in->size == 0)
        return 0;
    uint64_t end = (in->size - 1) / BS; /* no block past the size */
    uint64_t first = off / BS, last = len ? first + (len - 1 + off % BS) / BS : first;
    if (last > end)
        last = end;
    for (uint64_t idx = first; idx <= last; idx++) {
        struct block *b = (struct block *)block_lookup(&in->u.file.data, idx);
        if (b && block_load(b))
            return CFS_EIO;
    }
    return 0;
}

cfs_errno file_read(const struct inode *in, void *buf, size_t len, uint64_t off,
                    size_t *nread)
{
    *nread = 0;
    if (off >= in->size)
        return 0;
    uint64_t avail = in->size - off;
    size_t n = len < avail ? len : (size_t)avail;
    uint8_t *out = buf;
    size_t done = 0;
    while (done < n) {
        uint64_t pos = off + done;
        uint64_t idx = pos / BS;
        uint32_t boff = (uint32_t)(pos % BS);
        size_t chunk = BS - boff;
        if (chunk > n - done)
            chunk = n - done;
        struct block *b = (struct block *)block_lookup(&in->u.file.data, idx);
        size_t have = 0;
        if (b && boff < b->cap) {
            if (block_load(b))
                return CFS_EIO;
            have = b->cap - boff;
            if (have > chunk)
                have = chunk;
            memcpy(out + done, b->data + boff, have);
        }
        memset(out + done + have, 0, chunk - have);
        done += chunk;
    }
    *nread = n;
    return 0;
}

/* Capacity block `idx` needs for a write covering [lo, hi) of it. */
static uint32_t needed_cap(const struct block *b, uint64_t hi)
{
    uint64_t need = hi;
    if (b && b->cap > need)
        need = b->cap;
    return cap_for(need);
}

uint64_t file_write_cost(const struct inode *in, uint64_t off, uint64_t len)
{
    if (len == 0)
        return 0;
    uint64_t cost = 0;
    uint64_t first = off / BS, last = (off + len - 1) / BS;
    for (uint64_t idx = first; idx <= last; idx++) {
        uint64_t hi = idx == last ? (off + len - 1) % BS + 1 : BS;
        const struct block *b = block_lookup(&in->u.file.data, idx);
        uint32_t ncap = needed_cap(b, hi);
        uint32_t ocap = b ? b->cap : 0;
        if (ncap > ocap)
            cost += ncap - ocap;
    }
    return cost;
}

cfs_errno file_write(struct inode *in, const void *buf, uint64_t off,
                     uint64_t len, bool zero)
{
    if (len == 0)
        return 0;
    struct file_data *d = &in->u.file.data;
    uint64_t first = off / BS, last = (off + len - 1) / BS;
    uint64_t nblk = last - first + 1;
    if (ensure_height(d, last))
        return CFS_ENOMEM;

    /* Phase 1: every slot and every new block, before any byte changes. */
    struct block *stack_new[4];
    struct block **fresh = stack_new;
    if (nblk > 4) {
        fresh = calloc(nblk, sizeof(*fresh));
        if (!fresh)
            return CFS_ENOMEM;
    }
    cfs_errno rc = 0;
    for (uint64_t k = 0; k < nblk; k++) {
        uint64_t idx = first + k;
        uint64_t hi = idx == last ? (off + len - 1) % BS + 1 : BS;
        void **slot = slot_create(d, idx);
        fresh[k] = NULL;
        if (!slot) {
            rc = CFS_ENOMEM;
            break;
        }
        struct block *b = *slot;
        if (b && block_load(b)) {
            rc = CFS_EIO;
            break;
        }
        uint32_t ncap = needed_cap(b, hi);
        if (!b || block_shared(b) || b->cap < ncap) {
            /* the range this write fills in block idx (none for allocate,
             * whose bytes must read as zeros) */
            uint32_t lo = idx == first ? (uint32_t)(off % BS) : 0;
            fresh[k] = block_new(ncap, b, lo, zero ? lo : (uint32_t)hi);
            if (!fresh[k]) {
                rc = CFS_ENOMEM;
                break;
            }
        }
    }
    if (rc) {
        for (uint64_t k = 0; k < nblk; k++)
            if (fresh[k])
                block_free(fresh[k]); /* never installed */
        if (fresh != stack_new)
            free(fresh);
        return rc;
    }

    /* Phase 2: install and copy; cannot fail. */
    const uint8_t *src = buf;
    uint64_t done = 0;
    for (uint64_t k = 0; k < nblk; k++) {
        uint64_t idx = first + k;
        void **slot = slot_create(d, idx); /* exists now: no allocation */
        if (fresh[k]) {
            struct block *old = *slot;
            if (old)
                in->u.file.charged -= old->cap;
            block_unref(old);
            *slot = fresh[k];
            in->u.file.charged += fresh[k]->cap;
        }
        struct block *b = *slot;
        b->hashed = HASH_NONE; /* private (refs 1): its content changes now */
        uint64_t pos = off + done;
        uint32_t boff = (uint32_t)(pos % BS);
        uint64_t chunk = BS - boff;
        if (chunk > len - done)
            chunk = len - done;
        if (zero) {
            /* allocate: the block exists now; its bytes in range stay
             * as they are (already zero past the old end) */
        } else {
            memcpy(b->data + boff, src + done, chunk);
        }
        done += chunk;
    }
    if (fresh != stack_new)
        free(fresh);
    return 0;
}

/* Drop blocks with index >= keep under node `p` of `height` whose first
 * block index is `base`. Returns the capacity released; *empty tells the
 * caller the node holds nothing now. */
static uint64_t trunc_node(void **pp, unsigned height, uint64_t base,
                           uint64_t keep)
{
    void *p = *pp;
    if (!p)
        return 0;
    if (height == 0) {
        if (base < keep)
            return 0;
        uint64_t released = ((struct block *)p)->cap;
        block_unref(p);
        *pp = NULL;
        return released;
    }
    struct rnode *n = p;
    uint64_t span = height_span(height - 1);
    uint64_t released = 0;
    bool any = false;
    for (unsigned i = 0; i < RADIX_FANOUT; i++) {
        uint64_t cbase = base + i * span;
        if (n->slot[i] && cbase + span > keep)
            released += trunc_node(&n->slot[i], height - 1, cbase, keep);
        any |= n->slot[i] != NULL;
    }
    if (!any) {
        free(n);
        *pp = NULL;
    }
    return released;
}

cfs_errno file_truncate(struct inode *in, uint64_t size)
{
    struct file_data *d = &in->u.file.data;
    /* The block holding the new end keeps its head; its tail must read as
     * zero if the file grows again. A shared block is copied first. */
    if (size % BS) {
        uint64_t idx = size / BS;
        uint32_t boff = (uint32_t)(size % BS);
        struct block *b = (struct block *)block_lookup(d, idx);
        if (b && boff < b->cap && block_load(b))
            return CFS_EIO;
        if (b && boff < b->cap) {
            struct block *nb = block_shared(b) ? block_new(b->cap, b, 0, 0) : NULL;
            if (block_shared(b) && !nb)
                return CFS_ENOMEM;
            void **slot = slot_create(d, idx); /* exists: no allocation */
            if (nb) {
                block_unref(*slot);
                *slot = nb;
            }
            struct block *w = *slot;
            memset(w->data + boff, 0, w->cap - boff);
            w->hashed = HASH_NONE;
        }
    }
    uint64_t keep = (size + BS - 1) / BS;
    in->u.file.charged -= trunc_node(&d->root, d->height, 0, keep);
    if (!d->root)
        d->height = 0;
    return 0;
}

/* Visit the blocks under p (covering indexes base..) below `end`: a file
 * has no block past its size, so a two-block file's root node is not
 * scanned through all its RADIX_FANOUT slots. */
static void visit(void *p, unsigned height, uint64_t base, uint64_t end,
                  block_visit_fn fn, void *ctx)
{
    if (!p)
        return;
    if (height == 0) {
        fn(ctx, base, p);
        return;
    }
    uint64_t span = height_span(height - 1);
    struct rnode *n = p;
    for (unsigned i = 0; i < RADIX_FANOUT && base + i * span < end; i++)
        visit(n->slot[i], height - 1, base + i * span, end, fn, ctx);
}

void file_visit_blocks(const struct inode *in, block_visit_fn fn, void *ctx)
{
    uint64_t end = in->size / CFS_BLOCK_SIZE + (in->size % CFS_BLOCK_SIZE != 0);
    visit(in->u.file.data.root, in->u.file.data.height, 0, end, fn, ctx);
}

static cfs_errno node_clone(void *src, unsigned height, void **dst)
{
    if (!src) {
        *dst = NULL;
        return 0;
    }
    if (height == 0) {
        block_retain(src);
        *dst = src;
        return 0;
    }
    struct rnode *n = calloc(1, sizeof(*n));
    if (!n)
        return CFS_ENOMEM;
    const struct rnode *s = src;
    for (unsigned i = 0; i < RADIX_FANOUT; i++) {
        if (node_clone(s->slot[i], height - 1, &n->slot[i])) {
            node_free(n, height);
            return CFS_ENOMEM;
        }
    }
    *dst = n;
    return 0;
}

cfs_errno file_data_clone(const struct file_data *src, struct file_data *dst)
{
    dst->height = src->height;
    return node_clone(src->root, src->height, &dst->root);
}

cfs_errno file_set_block(struct inode *in, uint64_t idx, struct block *b)
{
    struct file_data *d = &in->u.file.data;
    if (ensure_height(d, idx))
        return CFS_ENOMEM;
    void **slot = slot_create(d, idx);
    if (!slot)
        return CFS_ENOMEM;
    block_unref(*slot);
    *slot = b;
    return 0;
}
