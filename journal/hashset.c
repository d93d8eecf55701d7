/*
 * hashset.c — a set of 128-bit content hashes (internal.h): the chunks a
 * snapshot knows are stored, the chunks compaction keeps, the chunks a
 * send stream has shipped.
 */
#include <stdlib.h>

#include "internal.h"

static bool hash_eq(cfs_hash128 a, cfs_hash128 b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

static bool slot_empty(cfs_hash128 h)
{
    return !(h.lo | h.hi);
}

/* The slot holding h, or the empty one where it would go. */
static size_t find(const struct hashset *s, cfs_hash128 h)
{
    size_t mask = s->cap - 1, i = (size_t)h.lo & mask;
    while (!slot_empty(s->slot[i]) && !hash_eq(s->slot[i], h))
        i = (i + 1) & mask;
    return i;
}

int hashset_add(struct hashset *s, cfs_hash128 h, bool *added)
{
    bool dummy;
    added = added ? added : &dummy;
    *added = false;
    if (slot_empty(h)) { /* {0,0} cannot go in a slot: a flag holds it */
        *added = !s->zero;
        s->zero = true;
        return 0;
    }
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        struct hashset t = {calloc(cap, sizeof(cfs_hash128)), s->n, cap, s->zero};
        if (!t.slot)
            return CFS_JE_NOMEM;
        for (size_t i = 0; i < s->cap; i++)
            if (!slot_empty(s->slot[i]))
                t.slot[find(&t, s->slot[i])] = s->slot[i];
        free(s->slot);
        *s = t;
    }
    size_t i = find(s, h);
    if (!slot_empty(s->slot[i]))
        return 0;
    s->slot[i] = h;
    s->n++;
    *added = true;
    return 0;
}

bool hashset_has(const struct hashset *s, cfs_hash128 h)
{
    if (slot_empty(h))
        return s->zero;
    return s->cap && !slot_empty(s->slot[find(s, h)]);
}

void hashset_free(struct hashset *s)
{
    free(s->slot);
    *s = (struct hashset){0};
}

int hashset_add_ref(void *set, cfs_hash128 h, size_t size)
{
    (void)size;
    return hashset_add(set, h, NULL) ? 1 : 0;
}
