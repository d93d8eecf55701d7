/*
 * table.c — the two lookup tables of the state: inodes by number, and
 * directory entries by (directory inode, name). Both are chained hash
 * tables with power-of-two bucket counts, grown before an insert needs
 * it so that an insert itself cannot fail (apply must not fail halfway).
 */
#include <stdlib.h>
#include <string.h>

#include <xxh_x86dispatch.h>

#include "internal.h"

static size_t ino_bucket(cfs_ino ino, size_t cap)
{
    /* Inode numbers come from a counter: dense, so the low bits spread
     * them evenly already, and the state walk (ascending numbers) reads
     * the bucket array in order instead of at random. */
    return (size_t)ino & (cap - 1);
}

struct inode *inode_get(const struct state *st, cfs_ino ino)
{
    struct inode *in = st->itab[ino_bucket(ino, st->itab_cap)];
    while (in && in->ino != ino)
        in = in->hnext;
    return in;
}

void inode_prefetch(const struct state *st, cfs_ino ino)
{
    const struct inode *in = st->itab[ino_bucket(ino, st->itab_cap)];
    if (in)
        __builtin_prefetch(in);
}

static int itab_grow(struct state *st)
{
    size_t ncap = st->itab_cap * 2;
    struct inode **nt = calloc(ncap, sizeof(*nt));
    if (!nt)
        return -1;
    for (size_t i = 0; i < st->itab_cap; i++) {
        struct inode *in = st->itab[i];
        while (in) {
            struct inode *next = in->hnext;
            size_t b = ino_bucket(in->ino, ncap);
            in->hnext = nt[b];
            nt[b] = in;
            in = next;
        }
    }
    free(st->itab);
    st->itab = nt;
    st->itab_cap = ncap;
    return 0;
}

int inode_insert(struct state *st, struct inode *in)
{
    if (st->icount + 1 > st->itab_cap && itab_grow(st))
        return -1;
    size_t b = ino_bucket(in->ino, st->itab_cap);
    in->hnext = st->itab[b];
    st->itab[b] = in;
    st->icount++;
    return 0;
}

void inode_remove(struct state *st, struct inode *in)
{
    struct inode **pp = &st->itab[ino_bucket(in->ino, st->itab_cap)];
    while (*pp && *pp != in)
        pp = &(*pp)->hnext;
    if (*pp) {
        *pp = in->hnext;
        st->icount--;
    }
}

uint64_t name_hash(cfs_ino dir, const char *name, size_t len)
{
    return XXH3_64bits_withSeed_dispatch(name, len, dir);
}

struct dirent *dirent_get(const struct state *st, cfs_ino dir,
                          const char *name, size_t len)
{
    uint64_t h = name_hash(dir, name, len);
    struct dirent *de = st->dtab[h & (st->dtab_cap - 1)];
    for (; de; de = de->hnext)
        if (de->hash == h && de->dir == dir && de->len == len &&
            memcmp(de->name, name, len) == 0)
            return de;
    return NULL;
}

int dirent_table_reserve(struct state *st)
{
    if (st->dcount + 1 <= st->dtab_cap)
        return 0;
    size_t ncap = st->dtab_cap * 2;
    struct dirent **nt = calloc(ncap, sizeof(*nt));
    if (!nt)
        return -1;
    for (size_t i = 0; i < st->dtab_cap; i++) {
        struct dirent *de = st->dtab[i];
        while (de) {
            struct dirent *next = de->hnext;
            size_t b = de->hash & (ncap - 1);
            de->hnext = nt[b];
            nt[b] = de;
            de = next;
        }
    }
    free(st->dtab);
    st->dtab = nt;
    st->dtab_cap = ncap;
    return 0;
}

void dirent_table_insert(struct state *st, struct dirent *de)
{
    size_t b = de->hash & (st->dtab_cap - 1);
    de->hnext = st->dtab[b];
    st->dtab[b] = de;
    st->dcount++;
}

void dirent_table_remove(struct state *st, struct dirent *de)
{
    struct dirent **pp = &st->dtab[de->hash & (st->dtab_cap - 1)];
    while (*pp && *pp != de)
        pp = &(*pp)->hnext;
    if (*pp) {
        *pp = de->hnext;
        st->dcount--;
    }
}
