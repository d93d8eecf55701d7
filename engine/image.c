/*
 * image.c — copies of the whole state: clones in memory and images in
 * bytes.
 *
 * A clone is an independent engine with the same state (same hash), made
 * by copying the metadata and sharing every file block copy-on-write: its
 * cost is the metadata, not the data. A snapshot is a clone, serialized at
 * leisure while the original goes on.
 *
 * An image is the state as bytes (FORMAT.md, "Snapshot images"): the
 * metadata, in the canonical order of the state hash, with each file
 * block referred to by the xxh3-128 of its content; the blocks themselves
 * go to the caller once per distinct content, and a block's hash is
 * cached until its content changes, so an image after a small change
 * hashes only what changed. Loading an image rebuilds the state exactly
 * (same hash), identical contents sharing one block.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxh_x86dispatch.h>

#include "internal.h"

/* ---- clones -------------------------------------------------------------- */

struct ofd_map {
    const struct ofd **from;
    struct ofd **to;
    size_t n, cap;
};

/* The clone's description for `o`, made on first sight (ids are unique). */
static struct ofd *map_ofd(struct ofd_map *m, const struct ofd *o,
                           struct state *dst)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->from[i] == o)
            return m->to[i];
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        const struct ofd **f = realloc(m->from, cap * sizeof(*f));
        if (!f)
            return NULL;
        m->from = f;
        struct ofd **t = realloc(m->to, cap * sizeof(*t));
        if (!t)
            return NULL;
        m->to = t;
        m->cap = cap;
    }
    struct ofd *c = malloc(sizeof(*c));
    if (!c)
        return NULL;
    *c = *o;
    c->refs = 0;
    c->inode = inode_get(dst, o->inode->ino);
    m->from[m->n] = o;
    m->to[m->n++] = c;
    return c;
}

static struct inode *inode_copy(struct state *dst, const struct inode *in)
{
    struct inode *c = malloc(sizeof(*c));
    if (!c)
        return NULL;
    *c = *in;
    c->hnext = NULL;
    switch (in->type) {
    case CFS_FILETYPE_REGULAR_FILE:
        if (file_data_clone(&in->u.file.data, &c->u.file.data)) {
            free(c);
            return NULL;
        }
        break;
    case CFS_FILETYPE_DIRECTORY:
        c->u.dir.ents = in->u.dir.live ? malloc(in->u.dir.live * sizeof(*c->u.dir.ents))
                                       : NULL;
        c->u.dir.n = c->u.dir.cap = c->u.dir.live = 0;
        if (in->u.dir.live && !c->u.dir.ents) {
            free(c);
            return NULL;
        }
        c->u.dir.cap = in->u.dir.live;
        for (size_t k = 0; k < in->u.dir.n; k++) {
            const struct dirent *de = in->u.dir.ents[k];
            if (!de)
                continue;
            struct dirent *d = malloc(sizeof(*d) + de->len + 1);
            if (!d || dirent_table_reserve(dst)) {
                free(d);
                for (size_t i = 0; i < c->u.dir.n; i++)
                    dirent_table_remove(dst, c->u.dir.ents[i]), free(c->u.dir.ents[i]);
                free(c->u.dir.ents);
                free(c);
                return NULL;
            }
            memcpy(d, de, sizeof(*d) + de->len + 1);
            d->hnext = NULL;
            dirent_table_insert(dst, d);
            c->u.dir.ents[c->u.dir.n++] = d;
            c->u.dir.live++;
        }
        break;
    case CFS_FILETYPE_SYMBOLIC_LINK:
        c->u.link.target = strdup(in->u.link.target);
        if (!c->u.link.target) {
            free(c);
            return NULL;
        }
        break;
    default:
        break;
    }
    return c;
}

/* Undo inode_copy for an inode that did not make it into the table. */
static void inode_drop(struct state *st, struct inode *in)
{
    if (in->type == CFS_FILETYPE_REGULAR_FILE) {
        file_data_free(&in->u.file.data);
    } else if (in->type == CFS_FILETYPE_DIRECTORY) {
        for (size_t i = 0; i < in->u.dir.n; i++) {
            dirent_table_remove(st, in->u.dir.ents[i]);
            free(in->u.dir.ents[i]);
        }
        free(in->u.dir.ents);
    } else if (in->type == CFS_FILETYPE_SYMBOLIC_LINK) {
        free(in->u.link.target);
    }
    free(in);
}

/* A fresh state holding nothing. */
static struct state *state_empty(size_t itab_cap, size_t dtab_cap)
{
    struct state *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->itab_cap = itab_cap;
    st->dtab_cap = dtab_cap;
    st->itab = calloc(itab_cap, sizeof(*st->itab));
    st->dtab = calloc(dtab_cap, sizeof(*st->dtab));
    if (!st->itab || !st->dtab) {
        free(st->itab);
        free(st->dtab);
        free(st);
        return NULL;
    }
    st->handles = 1;
    return st;
}

static cfs_fs *wrap_state(struct state *st, const cfs_config *cfg)
{
    cfs_fs *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return NULL;
    fs->st = st;
    fs->pid = 1;
    fs->owner = true;
    fs->file_mode = 0644;
    fs->dir_mode = 0755;
    if (cfg) {
        st->clock = cfg->clock;
        st->clock_ctx = cfg->clock_ctx;
        st->sink = cfg->sink;
    }
    return fs;
}

cfs_errno cfs_fs_clone(const cfs_fs *fs, cfs_fs **out)
{
    const struct state *st = fs->st;
    if (!out)
        return CFS_EFAULT;
    struct state *c = state_empty(st->itab_cap, st->dtab_cap);
    cfs_fs *cfs = c ? wrap_state(c, NULL) : NULL;
    struct ofd_map m = {0};
    if (!cfs) {
        free(c);
        return CFS_ENOMEM;
    }
    c->seq = st->seq;
    c->next_ino = st->next_ino;
    c->next_ofd = st->next_ofd;
    c->next_pid = st->next_pid;
    c->budget = st->budget;
    c->used = st->used;
    c->broken = st->broken;
    if ((c->src = st->src))
        source_retain(c->src); /* the clone shares its lazy blocks */
    cfs_errno rc = CFS_ENOMEM;
    for (size_t i = 0; i < st->itab_cap; i++)
        for (const struct inode *in = st->itab[i]; in; in = in->hnext) {
            struct inode *ci = inode_copy(c, in);
            if (!ci)
                goto fail;
            if (inode_insert(c, ci)) {
                inode_drop(c, ci);
                goto fail;
            }
        }
    struct proc **tail = &c->procs;
    for (const struct proc *p = st->procs; p; p = p->next) {
        struct proc *cp = calloc(1, sizeof(*cp));
        if (!cp)
            goto fail;
        *tail = cp;
        tail = &cp->next;
        cp->pid = p->pid;
        cp->cap = p->cap;
        cp->free_hint = p->free_hint;
        cp->cwd = strdup(p->cwd);
        cp->fds = calloc(p->cap ? p->cap : 1, sizeof(*cp->fds));
        if (!cp->cwd || !cp->fds)
            goto fail;
        for (uint32_t fd = 0; fd < p->cap; fd++) {
            const struct fdent *e = p->fds[fd];
            if (!e)
                continue;
            struct fdent *ce = malloc(sizeof(*ce));
            if (!ce)
                goto fail;
            *ce = *e;
            ce->preopen_name = NULL;
            ce->preopen_path = NULL;
            ce->ofd = map_ofd(&m, e->ofd, c);
            cp->fds[fd] = ce;
            cp->count++;
            if (!ce->ofd) {
                ce->ofd = NULL;
                goto fail;
            }
            ce->ofd->refs++;
            if ((e->preopen_name && !(ce->preopen_name = strdup(e->preopen_name))) ||
                (e->preopen_path && !(ce->preopen_path = strdup(e->preopen_path))))
                goto fail;
        }
    }
    free(m.from);
    free(m.to);
    *out = cfs;
    return 0;
fail:
    /* descriptions not yet owned by an fd would leak: own them now */
    for (size_t i = 0; i < m.n; i++)
        if (m.to[i]->refs == 0)
            free(m.to[i]);
    free(m.from);
    free(m.to);
    cfs_fs_free(cfs);
    return rc;
}

/* ---- byte buffers ---------------------------------------------------------------- */

struct buf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
};

static void b_need(struct buf *b, size_t n)
{
    if (b->oom || b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void b_u64(struct buf *b, uint64_t v)
{
    b_need(b, 10);
    if (b->oom)
        return;
    b->len += varint_put(b->p + b->len, v);
}

static void b_bytes(struct buf *b, const void *p, size_t n)
{
    b_need(b, n);
    if (b->oom)
        return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void b_str(struct buf *b, const char *s)
{
    if (!s) {
        b_u64(b, 0);
        return;
    }
    size_t n = strlen(s);
    b_u64(b, n + 1);
    b_bytes(b, s, n);
}

struct rd {
    const uint8_t *p;
    size_t len, pos;
    char *err;
    size_t errcap;
    bool bad;
};

static void rd_fail(struct rd *r, const char *what)
{
    if (!r->bad && r->err && r->errcap)
        snprintf(r->err, r->errcap, "image byte %zu: %s", r->pos, what);
    r->bad = true;
}

static uint64_t r_u64(struct rd *r, const char *what)
{
    uint64_t v = 0;
    for (unsigned shift = 0; !r->bad; shift += 7) {
        if (r->pos >= r->len || shift > 63) {
            rd_fail(r, what);
            return 0;
        }
        uint8_t byte = r->p[r->pos++];
        if (shift == 63 && byte > 1) {
            rd_fail(r, what);
            return 0;
        }
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80))
            return v;
    }
    return 0;
}

static uint32_t r_u32(struct rd *r, const char *what)
{
    uint64_t v = r_u64(r, what);
    if (v > UINT32_MAX)
        rd_fail(r, what);
    return (uint32_t)v;
}

/* A string, NULL-able, as a malloc'd copy; *ok false on error. */
static char *r_str(struct rd *r, const char *what, bool *present)
{
    uint64_t n = r_u64(r, what);
    *present = n != 0;
    if (r->bad || n == 0)
        return NULL;
    n--;
    if (n > r->len - r->pos || n > CFS_PATH_MAX || memchr(r->p + r->pos, 0, n)) {
        rd_fail(r, what);
        return NULL;
    }
    char *s = malloc(n + 1);
    if (!s) {
        rd_fail(r, "out of memory");
        return NULL;
    }
    memcpy(s, r->p + r->pos, n);
    s[n] = 0;
    r->pos += n;
    return s;
}

/* ---- encoding ------------------------------------------------------------------------- */

#define IMAGE_MAGIC "CFSI"
#define IMAGE_VERSION 1

/* distinct block hashes already handed to the caller in this call */
struct seen {
    cfs_hash128 *h;
    size_t n, cap; /* open addressing, cap a power of two */
};

static bool seen_add(struct seen *s, cfs_hash128 h)
{
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        cfs_hash128 *t = calloc(cap, sizeof(*t));
        if (!t)
            return true; /* cannot remember: hand it over again, harmless */
        for (size_t i = 0; i < s->cap; i++)
            if (s->h[i].lo | s->h[i].hi) {
                size_t k = s->h[i].lo & (cap - 1);
                while (t[k].lo | t[k].hi)
                    k = (k + 1) & (cap - 1);
                t[k] = s->h[i];
            }
        free(s->h);
        s->h = t;
        s->cap = cap;
    }
    size_t k = h.lo & (s->cap - 1);
    while (s->h[k].lo | s->h[k].hi) {
        if (s->h[k].lo == h.lo && s->h[k].hi == h.hi)
            return false;
        k = (k + 1) & (s->cap - 1);
    }
    s->h[k] = h;
    s->n++;
    return true;
}

struct enc {
    struct walker w;
    struct buf *b;
    struct seen seen;
    cfs_image_block_fn fn;
    void *ctx;
    int fn_result;
    bool load_failed;
};

static void e_u64(struct walker *w, uint64_t v)
{
    b_u64(((struct enc *)w)->b, v);
}

static void e_str(struct walker *w, const char *s)
{
    b_str(((struct enc *)w)->b, s);
}

static void e_block(struct walker *w, uint64_t index, struct block *b)
{
    struct enc *e = (struct enc *)w;
    b_u64(e->b, index);
    b_u64(e->b, b->cap);
    b_u64(e->b, b->hash.lo);
    b_u64(e->b, b->hash.hi);
    if (seen_add(&e->seen, b->hash) && e->fn) {
        bool lazy = __atomic_load_n(&b->src, __ATOMIC_ACQUIRE) != NULL;
        e->fn_result = e->fn(e->ctx, b->hash, lazy ? NULL : b->data, b->cap);
        if (lazy && e->fn_result == CFS_IMAGE_WANT_BYTES) {
            if (block_load(b)) {
                e->load_failed = true;
                w->stop = true;
                return;
            }
            e->fn_result = e->fn(e->ctx, b->hash, b->data, b->cap);
        }
        w->stop = e->fn_result != 0;
    }
}

cfs_errno cfs_fs_encode_image(cfs_fs *fs, uint8_t **meta, size_t *meta_len,
                              cfs_image_block_fn block_fn, void *ctx,
                              int *fn_result)
{
    if (!meta || !meta_len)
        return CFS_EFAULT;
    struct buf b = {0};
    struct enc e = {.w = {.u64 = e_u64, .str = e_str, .block = e_block},
                    .b = &b, .fn = block_fn, .ctx = ctx};
    b_bytes(&b, IMAGE_MAGIC, 4);
    b_u64(&b, IMAGE_VERSION);
    state_walk(fs->st, &e.w);
    free(e.seen.h);
    if (fn_result)
        *fn_result = e.fn_result;
    if (b.oom || e.w.stop) {
        free(b.p);
        return b.oom ? CFS_ENOMEM : e.load_failed ? CFS_EIO : CFS_ECANCELED;
    }
    *meta = b.p;
    *meta_len = b.len;
    return 0;
}

cfs_hash128 cfs_image_hash(const uint8_t *meta, size_t len)
{
    /* the header: the magic and the version's varint (one byte) */
    size_t hdr = 5;
    if (len < hdr)
        hdr = len;
    XXH128_hash_t d = XXH3_128bits_dispatch(meta + hdr, len - hdr);
    return (cfs_hash128){d.low64, d.high64};
}

/* ---- lazy block sources ---------------------------------------------------------------- */

cfs_block_source *cfs_block_source_new(cfs_image_fetch_fn fetch, void *ctx)
{
    cfs_block_source *s = calloc(1, sizeof(*s));
    if (!s || !fetch) {
        free(s);
        return NULL;
    }
    s->refs = 1;
    s->fetch = fetch;
    s->ctx = ctx;
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void source_retain(cfs_block_source *s)
{
    __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

void source_release(cfs_block_source *s)
{
    if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        pthread_mutex_destroy(&s->mu);
        free(s);
    }
}

void cfs_block_source_close(cfs_block_source *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->closed = true;
    pthread_mutex_unlock(&s->mu);
    source_release(s);
}

/* ---- decoding ------------------------------------------------------------------------- */

struct loaded {
    cfs_hash128 h;
    struct block *b;
};

struct blockcache {
    struct loaded *v;
    size_t n, cap; /* open addressing by hash */
};

static struct block *cache_get(struct blockcache *c, cfs_hash128 h)
{
    if (!c->cap)
        return NULL;
    for (size_t k = h.lo & (c->cap - 1);; k = (k + 1) & (c->cap - 1)) {
        if (!c->v[k].b)
            return NULL;
        if (c->v[k].h.lo == h.lo && c->v[k].h.hi == h.hi)
            return c->v[k].b;
    }
}

static bool cache_put(struct blockcache *c, cfs_hash128 h, struct block *b)
{
    if (2 * (c->n + 1) > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        struct loaded *t = calloc(cap, sizeof(*t));
        if (!t)
            return false;
        for (size_t i = 0; i < c->cap; i++)
            if (c->v[i].b) {
                size_t k = c->v[i].h.lo & (cap - 1);
                while (t[k].b)
                    k = (k + 1) & (cap - 1);
                t[k] = c->v[i];
            }
        free(c->v);
        c->v = t;
        c->cap = cap;
    }
    size_t k = h.lo & (c->cap - 1);
    while (c->v[k].b)
        k = (k + 1) & (c->cap - 1);
    c->v[k].h = h;
    c->v[k].b = b;
    c->n++;
    return true;
}

static void cache_free(struct blockcache *c)
{
    for (size_t i = 0; i < c->cap; i++)
        if (c->v[i].b)
            block_release(c->v[i].b);
    free(c->v);
}

static bool valid_cap(uint64_t cap)
{
    return cap >= 64 && cap <= CFS_BLOCK_SIZE && (cap & (cap - 1)) == 0;
}

/* Decode; blocks are fetched at once, or with src left to load lazily. */
static cfs_errno decode(const uint8_t *meta, size_t len, cfs_image_fetch_fn fetch,
                        void *ctx, cfs_block_source *lazy, const cfs_config *cfg,
                        cfs_fs **out, char *err, size_t errcap)
{
    /* Eager loading is lazy loading done at once, from a source that lives
     * for this call: block_load() is the one place blocks are fetched and
     * checked. A block that is not loaded stops the decode, so none keeps
     * a pointer to it. */
    struct cfs_block_source now = {.refs = 1, .fetch = fetch, .ctx = ctx};
    struct rd r = {meta, len, 0, err, errcap, false};
    if (!meta || !out)
        return CFS_EFAULT;
    *out = NULL;
    if (len < 4 || memcmp(meta, IMAGE_MAGIC, 4) != 0) {
        rd_fail(&r, "not a chronofs image (bad magic)");
        return CFS_EINVAL;
    }
    r.pos = 4;
    uint64_t ver = r_u64(&r, "version");
    if (!r.bad && ver != IMAGE_VERSION) {
        if (err && errcap)
            snprintf(err, errcap, "image version %" PRIu64 " is not %d", ver, IMAGE_VERSION);
        return CFS_EINVAL;
    }
    struct state *st = state_empty(64, 64);
    cfs_fs *fs = st ? wrap_state(st, cfg) : NULL;
    struct blockcache cache = {0};
    if (!fs) {
        free(st);
        return CFS_ENOMEM;
    }
    if (lazy) {
        source_retain(lazy);
        st->src = lazy;
    }
    now.closed = !fetch; /* then every block is missing */
    pthread_mutex_init(&now.mu, NULL);
    st->seq = r_u64(&r, "seq");
    st->next_ino = r_u64(&r, "next inode");
    st->next_ofd = r_u64(&r, "next description");
    st->next_pid = r_u32(&r, "next pid");
    st->budget = r_u64(&r, "budget");
    uint64_t used = r_u64(&r, "bytes used");
    uint64_t icount = r_u64(&r, "inode count");
    if (cfg && cfg->byte_budget)
        st->budget = cfg->byte_budget;
    cfs_ino prev = 0;
    for (uint64_t i = 0; i < icount && !r.bad; i++) {
        struct inode *in = calloc(1, sizeof(*in));
        if (!in) {
            rd_fail(&r, "out of memory");
            break;
        }
        in->ino = r_u64(&r, "inode number");
        in->type = (uint8_t)r_u64(&r, "inode type");
        in->mode = r_u32(&r, "mode") & 07777;
        in->uid = r_u32(&r, "uid");
        in->gid = r_u32(&r, "gid");
        in->nlink = r_u64(&r, "nlink");
        in->size = r_u64(&r, "size");
        in->atim = r_u64(&r, "atime");
        in->mtim = r_u64(&r, "mtime");
        in->ctim = r_u64(&r, "ctime");
        in->scratch = r_u64(&r, "open count"); /* checked against the fds below */
        if (!r.bad && (in->ino <= prev || in->ino >= st->next_ino || in->size > CFS_MAX_FILE_SIZE))
            rd_fail(&r, "inode number or size out of order or range");
        prev = in->ino;
        if (r.bad || inode_insert(st, in)) {
            free(in);
            if (!r.bad)
                rd_fail(&r, "out of memory");
            break;
        }
        switch (in->type) {
        case CFS_FILETYPE_REGULAR_FILE: {
            uint64_t last = 0, charged_said = r_u64(&r, "bytes charged");
            bool first = true;
            for (;;) {
                uint64_t idx = r_u64(&r, "block index");
                if (r.bad || idx == UINT64_MAX)
                    break;
                uint64_t cap = r_u64(&r, "block size");
                cfs_hash128 h;
                h.lo = r_u64(&r, "block hash");
                h.hi = r_u64(&r, "block hash");
                if (r.bad)
                    break;
                if ((!first && idx <= last) || !valid_cap(cap) ||
                    idx * (uint64_t)CFS_BLOCK_SIZE >= in->size) {
                    rd_fail(&r, "block index or size out of range");
                    break;
                }
                first = false;
                last = idx;
                struct block *b = cache_get(&cache, h);
                if (b && b->cap != cap) {
                    rd_fail(&r, "one block hash with two sizes");
                    break;
                }
                if (!b) {
                    b = block_alloc((uint32_t)cap);
                    if (!b || !cache_put(&cache, h, b)) {
                        if (b)
                            block_release(b);
                        rd_fail(&r, "out of memory");
                        break;
                    }
                    /* filled from the source (and checked against the
                     * hash) on first use: lazily, or now */
                    b->hash = h;
                    b->hashed = HASH_DONE;
                    b->src = lazy ? lazy : &now;
                    if (!lazy && block_load(b)) {
                        if (err && errcap)
                            snprintf(err, errcap, "image: block %016" PRIx64 "%016" PRIx64
                                     " of inode %" PRIu64 " is missing or does not match "
                                     "its hash", h.hi, h.lo, in->ino);
                        r.bad = true;
                        break;
                    }
                }
                block_retain(b);
                if (file_set_block(in, idx, b)) {
                    block_release(b);
                    rd_fail(&r, "out of memory");
                    break;
                }
                in->u.file.charged += cap;
            }
            if (!r.bad && in->u.file.charged != charged_said)
                rd_fail(&r, "a file's charge does not add up");
            break;
        }
        case CFS_FILETYPE_DIRECTORY: {
            in->u.dir.parent = r_u64(&r, "parent");
            in->u.dir.next_cookie = r_u64(&r, "next cookie");
            uint64_t live = r_u64(&r, "entry count");
            if (!r.bad && live > len) {
                rd_fail(&r, "entry count");
                break;
            }
            in->u.dir.ents = live ? calloc(live, sizeof(*in->u.dir.ents)) : NULL;
            in->u.dir.cap = live;
            if (live && !in->u.dir.ents)
                rd_fail(&r, "out of memory");
            uint64_t last = 0;
            for (uint64_t k = 0; k < live && !r.bad; k++) {
                uint64_t cookie = r_u64(&r, "cookie");
                cfs_ino ino = r_u64(&r, "entry inode");
                bool present;
                char *name = r_str(&r, "entry name", &present);
                if (r.bad)
                    break;
                size_t nl = name ? strlen(name) : 0;
                if (!name || nl == 0 || nl > CFS_NAME_MAX || memchr(name, '/', nl) ||
                    cookie <= last || cookie >= in->u.dir.next_cookie ||
                    dirent_get(st, in->ino, name, nl)) {
                    free(name);
                    rd_fail(&r, "directory entry");
                    break;
                }
                last = cookie;
                struct dirent *de = malloc(sizeof(*de) + nl + 1);
                if (!de || dirent_table_reserve(st)) {
                    free(de);
                    free(name);
                    rd_fail(&r, "out of memory");
                    break;
                }
                de->dir = in->ino;
                de->ino = ino;
                de->cookie = cookie;
                de->hash = name_hash(in->ino, name, nl);
                de->len = (uint16_t)nl;
                memcpy(de->name, name, nl + 1);
                free(name);
                dirent_table_insert(st, de);
                in->u.dir.ents[in->u.dir.n++] = de;
                in->u.dir.live++;
            }
            break;
        }
        case CFS_FILETYPE_SYMBOLIC_LINK: {
            bool present;
            in->u.link.target = r_str(&r, "symlink target", &present);
            if (!r.bad && !in->u.link.target)
                rd_fail(&r, "symlink target");
            if (in->u.link.target)
                in->u.link.len = strlen(in->u.link.target);
            break;
        }
        case CFS_FILETYPE_CHARACTER_DEVICE:
        case CFS_FILETYPE_BLOCK_DEVICE:
        case CFS_FILETYPE_FIFO:
        case CFS_FILETYPE_SOCKET_STREAM:
            /* stdio (inodes 10-12) are character devices without a
             * number; the others are special inodes made by mknod */
            if (in->ino < CFS_INO_ROOT && in->type != CFS_FILETYPE_CHARACTER_DEVICE)
                rd_fail(&r, "inode type");
            else if (inode_has_rdev(in->ino, in->type))
                in->u.special.rdev = r_u64(&r, "device number");
            if (!r.bad && in->size)
                rd_fail(&r, "a FIFO, socket or device with a size");
            break;
        default:
            rd_fail(&r, "inode type");
        }
    }
    uint64_t nprocs = r_u64(&r, "process count");
    struct proc **tail = &st->procs;
    uint32_t last_pid = 0;
    for (uint64_t i = 0; i < nprocs && !r.bad; i++) {
        struct proc *p = calloc(1, sizeof(*p));
        if (!p) {
            rd_fail(&r, "out of memory");
            break;
        }
        *tail = p;
        tail = &p->next;
        p->pid = r_u32(&r, "pid");
        bool present;
        p->cwd = r_str(&r, "cwd", &present);
        uint64_t count = r_u64(&r, "fd count");
        if (!r.bad && (p->pid <= last_pid || !p->cwd || count > CFS_MAX_FD + 1)) {
            rd_fail(&r, "process");
            break;
        }
        last_pid = p->pid;
        int64_t last_fd = -1;
        for (uint64_t k = 0; k < count && !r.bad; k++) {
            uint32_t fd = r_u32(&r, "fd");
            cfs_rights base = r_u64(&r, "rights");
            cfs_rights inh = r_u64(&r, "inheriting rights");
            uint64_t flags = r_u64(&r, "fd flags");
            char *pname = r_str(&r, "preopen name", &present);
            char *ppath = r_str(&r, "preopen path", &present);
            uint64_t ofd_id = r_u64(&r, "description");
            cfs_ino ino = r_u64(&r, "description inode");
            uint64_t offset = r_u64(&r, "offset");
            uint64_t fdflags = r_u64(&r, "fdflags");
            struct inode *oin = r.bad ? NULL : inode_get(st, ino);
            struct fdent *e = NULL;
            if (!r.bad && (fd > CFS_MAX_FD || (int64_t)fd <= last_fd || !oin ||
                           offset > CFS_MAX_FILE_SIZE || fdflags > CFS_FDFLAGS_ALL ||
                           fd_reserve(p, fd) || !(e = calloc(1, sizeof(*e)))))
                rd_fail(&r, "fd");
            if (r.bad) {
                free(pname);
                free(ppath);
                free(e);
                break;
            }
            last_fd = fd;
            /* a description is shared by its id across fds and processes */
            struct ofd *o = NULL;
            for (const struct proc *q = st->procs; q && !o; q = q->next)
                for (uint32_t f = 0; f < q->cap && !o; f++)
                    if (q->fds[f] && q->fds[f]->ofd->id == ofd_id)
                        o = q->fds[f]->ofd;
            if (o && (o->inode != oin || o->offset != offset || o->fdflags != fdflags)) {
                free(pname);
                free(ppath);
                free(e);
                rd_fail(&r, "description shared with different contents");
                break;
            }
            if (!o) {
                o = calloc(1, sizeof(*o));
                if (!o) {
                    free(pname);
                    free(ppath);
                    free(e);
                    rd_fail(&r, "out of memory");
                    break;
                }
                o->id = ofd_id;
                o->inode = oin;
                o->offset = offset;
                o->fdflags = (uint16_t)fdflags;
                oin->open_refs++;
            }
            o->refs++;
            e->ofd = o;
            e->base = base;
            e->inheriting = inh;
            e->cloexec = flags & 1;
            e->stdio = (flags >> 1) & 1;
            e->preopen_name = pname;
            e->preopen_path = ppath;
            p->fds[fd] = e;
            p->count++;
        }
        p->free_hint = 0;
        while (p->free_hint < p->cap && p->fds[p->free_hint])
            p->free_hint++;
    }
    if (!r.bad && r.pos != len)
        rd_fail(&r, "trailing bytes");
    if (!r.bad && (st->icount != icount || !inode_get(st, CFS_INO_ROOT) || !proc_get(st, 1)))
        rd_fail(&r, "incomplete state");
    /* every entry must name a live inode, and every charge add up */
    uint64_t charged = 0;
    for (size_t i = 0; i < st->itab_cap && !r.bad; i++)
        for (const struct inode *in = st->itab[i]; in; in = in->hnext) {
            if (in->type == CFS_FILETYPE_REGULAR_FILE)
                charged += in->u.file.charged;
            if (in->type == CFS_FILETYPE_DIRECTORY)
                for (size_t k = 0; k < in->u.dir.n; k++)
                    if (!inode_get(st, in->u.dir.ents[k]->ino))
                        rd_fail(&r, "entry names a missing inode");
        }
    if (!r.bad && charged != used)
        rd_fail(&r, "bytes used do not add up");
    st->used = used;
    for (size_t i = 0; i < st->itab_cap && !r.bad; i++)
        for (const struct inode *in = st->itab[i]; in; in = in->hnext)
            if (in->open_refs != in->scratch)
                rd_fail(&r, "an inode's open count differs from its descriptions");
    const char *why = r.bad ? NULL : state_invalid(st);
    if (why) {
        if (err && errcap)
            snprintf(err, errcap, "image: %s", why);
        r.bad = true;
    }
    cache_free(&cache);
    if (r.bad)
        cfs_fs_free(fs); /* blocks that `now` did not fill go with it */
    pthread_mutex_destroy(&now.mu);
    if (r.bad)
        return CFS_EINVAL;
    *out = fs;
    return 0;
}

/* ---- references --------------------------------------------------------------------- */

cfs_errno cfs_image_refs(const uint8_t *meta, size_t len,
                         int (*fn)(void *ctx, cfs_hash128 hash, size_t size),
                         void *ctx)
{
    struct rd r = {meta, len, 0, NULL, 0, false};
    if (!meta || len < 4 || memcmp(meta, IMAGE_MAGIC, 4) != 0)
        return CFS_EINVAL;
    r.pos = 4;
    if (r_u64(&r, "version") != IMAGE_VERSION)
        return CFS_EINVAL;
    for (int i = 0; i < 6; i++)
        (void)r_u64(&r, "counters"); /* seq .. bytes used */
    uint64_t icount = r_u64(&r, "inode count");
    for (uint64_t i = 0; i < icount && !r.bad; i++) {
        uint64_t fields[11]; /* number .. ctime, open count */
        for (int f = 0; f < 11; f++)
            fields[f] = r_u64(&r, "inode");
        bool present;
        switch (fields[1]) {
        case CFS_FILETYPE_REGULAR_FILE:
            (void)r_u64(&r, "bytes charged");
            for (;;) {
                uint64_t idx = r_u64(&r, "block index");
                if (r.bad || idx == UINT64_MAX)
                    break;
                uint64_t cap = r_u64(&r, "block size");
                cfs_hash128 h;
                h.lo = r_u64(&r, "block hash");
                h.hi = r_u64(&r, "block hash");
                if (!r.bad && !valid_cap(cap))
                    rd_fail(&r, "block size");
                if (!r.bad && fn(ctx, h, (size_t)cap))
                    return CFS_ECANCELED;
            }
            break;
        case CFS_FILETYPE_DIRECTORY: {
            (void)r_u64(&r, "parent");
            (void)r_u64(&r, "next cookie");
            uint64_t live = r_u64(&r, "entry count");
            for (uint64_t k = 0; k < live && !r.bad; k++) {
                (void)r_u64(&r, "cookie");
                (void)r_u64(&r, "entry inode");
                free(r_str(&r, "entry name", &present));
            }
            break;
        }
        case CFS_FILETYPE_SYMBOLIC_LINK:
            free(r_str(&r, "symlink target", &present));
            break;
        case CFS_FILETYPE_CHARACTER_DEVICE:
        case CFS_FILETYPE_BLOCK_DEVICE:
        case CFS_FILETYPE_FIFO:
        case CFS_FILETYPE_SOCKET_STREAM:
            if (inode_has_rdev(fields[0], (uint8_t)fields[1]))
                (void)r_u64(&r, "device number");
            break;
        default:
            return CFS_EINVAL;
        }
    }
    return r.bad ? CFS_EINVAL : 0;
}

cfs_errno cfs_fs_decode_image(const uint8_t *meta, size_t len,
                              cfs_image_fetch_fn fetch, void *ctx,
                              const cfs_config *cfg, cfs_fs **out, char *err,
                              size_t errcap)
{
    return decode(meta, len, fetch, ctx, NULL, cfg, out, err, errcap);
}

cfs_errno cfs_fs_decode_image_lazy(const uint8_t *meta, size_t len,
                                   cfs_block_source *src, const cfs_config *cfg,
                                   cfs_fs **out, char *err, size_t errcap)
{
    if (!src)
        return CFS_EFAULT;
    return decode(meta, len, NULL, NULL, src, cfg, out, err, errcap);
}
