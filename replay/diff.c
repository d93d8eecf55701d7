/*
 * diff.c — what changed between the states after two seqs.
 *
 * One tracked replay goes to the lower seq, lists the tree (every path
 * reachable from the root, with type, mode, size and symlink target) and
 * keeps a clone of that state for reading file bytes later; it goes on to
 * the higher seq, noting every inode whose data an event changed (write,
 * set_size, allocate, O_TRUNC), and lists the tree again. The two sorted
 * listings are merged. File contents are compared only where they may
 * differ: a different inode at the path, or one whose data was changed in
 * between (inode numbers are never reused, so the same untouched inode has
 * the same bytes).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct node {
    char *path;
    cfs_diff_side side;
    char *target;          /* owned; side.target points here */
};

struct listing {
    struct node *v;
    size_t n, cap;
};

struct cfs_diff {
    struct listing l[2];   /* the state after a, after b */
    cfs_diff_entry *v;
    size_t n, cap;
};

static void listing_free(struct listing *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].target);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

void cfs_diff_free(cfs_diff *d)
{
    if (!d)
        return;
    listing_free(&d->l[0]);
    listing_free(&d->l[1]);
    free(d->v);
    free(d);
}

size_t cfs_diff_count(const cfs_diff *d)
{
    return d ? d->n : 0;
}

const cfs_diff_entry *cfs_diff_get(const cfs_diff *d, size_t i)
{
    return d && i < d->n ? &d->v[i] : NULL;
}

/* ---- listing a tree ------------------------------------------------------- */

static struct node *push_node(struct listing *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct node *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    struct node *n = &l->v[l->n++];
    memset(n, 0, sizeof(*n));
    return n;
}

static int node_cmp(const void *a, const void *b)
{
    return strcmp(((const struct node *)a)->path, ((const struct node *)b)->path);
}

static int set_node(struct track *t, struct node *n, cfs_ino ino)
{
    cfs_filestat st;
    if (cfs_getattr(track_fs(t), ino, &st))
        return -1;
    n->side.ino = ino;
    n->side.filetype = st.filetype;
    n->side.mode = st.mode & 07777;
    n->side.size = st.size;
    n->side.rdev = st.rdev;
    if (st.filetype == CFS_FILETYPE_SYMBOLIC_LINK) {
        const char *tg = track_link_target(t, ino);
        if (!(n->target = strdup(tg ? tg : "")))
            return -1;
        n->side.target = n->target;
    }
    return 0;
}

/*
 * Every path reachable from the root, breadth first over the listing
 * itself (the nodes that are directories are the work list), then sorted.
 */
static int list_tree(struct track *t, struct listing *l, char *err, size_t cap)
{
    cfs_fs *fs = track_fs(t);
    struct node *root = push_node(l);
    if (!root || !(root->path = strdup("/")) || set_node(t, root, CFS_INO_ROOT))
        goto nomem;
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].side.filetype != CFS_FILETYPE_DIRECTORY)
            continue;
        cfs_ino dir = l->v[i].side.ino;
        cfs_dirent de;
        for (uint64_t cookie = CFS_DIRCOOKIE_START;
             cfs_dir_next(fs, dir, cookie, &de) == 0; cookie = de.next) {
            if ((de.name_len == 1 && de.name[0] == '.') ||
                (de.name_len == 2 && de.name[0] == '.' && de.name[1] == '.'))
                continue;
            const char *parent = l->v[i].path;
            size_t pl = strcmp(parent, "/") == 0 ? 0 : strlen(parent);
            struct node *n = push_node(l);
            char *p = n ? malloc(pl + 1 + de.name_len + 1) : NULL;
            if (!p)
                goto nomem;
            memcpy(p, parent, pl);
            p[pl] = '/';
            memcpy(p + pl + 1, de.name, de.name_len);
            p[pl + 1 + de.name_len] = 0;
            n->path = p;
            if (set_node(t, n, de.ino))
                goto nomem;
        }
    }
    qsort(l->v, l->n, sizeof(l->v[0]), node_cmp);
    return 0;
nomem:
    return set_err(err, cap, CFS_JE_NOMEM, "diff: out of memory listing seq %" PRIu64,
                   cfs_fs_seq(fs));
}

/* ---- inodes whose data changed ------------------------------------------- */

struct inoset {
    cfs_ino *v;   /* open addressing, 0 = empty */
    size_t n, cap;
};

static bool inoset_has(const struct inoset *s, cfs_ino ino)
{
    if (!s->cap)
        return false;
    for (size_t i = (size_t)(ino * UINT64_C(0x9E3779B97F4A7C15) >> 20) & (s->cap - 1);;
         i = (i + 1) & (s->cap - 1)) {
        if (s->v[i] == ino)
            return true;
        if (!s->v[i])
            return false;
    }
}

static int inoset_add(struct inoset *s, cfs_ino ino)
{
    if (inoset_has(s, ino))
        return 0;
    if (2 * (s->n + 1) > s->cap) {
        struct inoset g = {calloc(s->cap ? s->cap * 2 : 64, sizeof(cfs_ino)), 0,
                           s->cap ? s->cap * 2 : 64};
        if (!g.v)
            return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->v[i])
                inoset_add(&g, s->v[i]);
        free(s->v);
        *s = g;
    }
    size_t i = (size_t)(ino * UINT64_C(0x9E3779B97F4A7C15) >> 20) & (s->cap - 1);
    while (s->v[i])
        i = (i + 1) & (s->cap - 1);
    s->v[i] = ino;
    s->n++;
    return 0;
}

static int note_data_change(void *ctx, struct track *t, const cfs_event *ev)
{
    (void)t;
    bool data = ev->op == CFS_OP_WRITE || ev->op == CFS_OP_SET_SIZE ||
                ev->op == CFS_OP_ALLOCATE ||
                (ev->op == CFS_OP_OPEN && (ev->flags & CFS_EVF_OPEN_TRUNCATE));
    if (data && inoset_add(ctx, ev->ino))
        return CFS_JE_NOMEM;
    return 0;
}

/* ---- comparing ----------------------------------------------------------- */

struct readers {
    struct reader r[2];   /* the state after a, after b */
    bool open[2];
    struct track *later;  /* the state of the side not open yet */
    uint8_t *buf;         /* 2 x CHUNK */
};

enum { CHUNK = 64 * 1024 };

static int need_readers(struct readers *rd, char *err, size_t cap)
{
    for (int k = 0; k < 2; k++) {
        if (rd->open[k])
            continue;
        int rc = reader_open(&rd->r[k], track_fs(rd->later), err, cap);
        if (rc)
            return rc;
        rd->open[k] = true;
    }
    if (!rd->buf && !(rd->buf = malloc(2 * CHUNK)))
        return set_err(err, cap, CFS_JE_NOMEM, "diff: out of memory");
    return 0;
}

/* Do the regular files at `path` in the two states hold the same bytes?
 * 1 yes, 0 no, negative on error. */
static int same_bytes(struct readers *rd, const char *path, uint64_t size,
                      char *err, size_t cap)
{
    int rc = need_readers(rd, err, cap);
    if (rc)
        return rc;
    uint8_t *buf[2] = {rd->buf, rd->buf + CHUNK};
    cfs_fd fd[2];
    cfs_errno e = reader_file(&rd->r[0], path, false, &fd[0]);
    if (!e && (e = reader_file(&rd->r[1], path, false, &fd[1])))
        reader_file_close(&rd->r[0], fd[0]);
    if (e)
        return set_err(err, cap, e == CFS_ENOMEM ? CFS_JE_NOMEM : CFS_JE_IO,
                       "diff: cannot open %s to compare it: %s", path, cfs_errno_name(e));
    int same = 1;
    for (uint64_t off = 0; off < size && same == 1; off += CHUNK) {
        size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK, got[2];
        for (int k = 0; k < 2 && !e; k++)
            e = reader_pread(&rd->r[k], fd[k], buf[k], want, off, &got[k]);
        if (e)
            same = set_err(err, cap, CFS_JE_IO, "diff: reading %s: %s", path,
                           cfs_errno_name(e));
        else if (got[0] != got[1] || memcmp(buf[0], buf[1], got[0]) != 0)
            same = 0;
    }
    reader_file_close(&rd->r[0], fd[0]);
    reader_file_close(&rd->r[1], fd[1]);
    return same;
}

static cfs_diff_entry *push_entry(cfs_diff *d)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 32;
        cfs_diff_entry *v = realloc(d->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        d->v = v;
        d->cap = cap;
    }
    cfs_diff_entry *e = &d->v[d->n++];
    memset(e, 0, sizeof(*e));
    return e;
}

/* The CFS_DIFF_* bits of a path present in both states (< 0: error). */
static int compare(const cfs_diff_side *a, const cfs_diff_side *b, const char *path,
                   const struct inoset *changed, struct readers *rd,
                   char *err, size_t cap)
{
    if (a->filetype != b->filetype)
        return CFS_DIFF_TYPE;
    int bits = 0;
    if (a->mode != b->mode)
        bits |= CFS_DIFF_MODE;
    if (a->rdev != b->rdev)
        bits |= CFS_DIFF_RDEV;
    if (a->filetype == CFS_FILETYPE_SYMBOLIC_LINK) {
        if (a->size != b->size)
            bits |= CFS_DIFF_SIZE;
        if (strcmp(a->target, b->target) != 0)
            bits |= CFS_DIFF_TARGET;
    } else if (a->filetype == CFS_FILETYPE_REGULAR_FILE) {
        if (a->size != b->size) {
            bits |= CFS_DIFF_SIZE | CFS_DIFF_CONTENT;
        } else if (a->ino != b->ino || inoset_has(changed, a->ino)) {
            int same = same_bytes(rd, path, a->size, err, cap);
            if (same < 0)
                return same;
            if (!same)
                bits |= CFS_DIFF_CONTENT;
        }
    }
    return bits;
}

static int merge(cfs_diff *d, const struct inoset *changed, struct readers *rd,
                 char *err, size_t cap)
{
    const struct listing *la = &d->l[0], *lb = &d->l[1];
    size_t i = 0, k = 0;
    while (i < la->n || k < lb->n) {
        int c = i == la->n ? 1 : k == lb->n ? -1 : strcmp(la->v[i].path, lb->v[k].path);
        int bits = 0;
        if (c == 0) {
            bits = compare(&la->v[i].side, &lb->v[k].side, la->v[i].path, changed, rd,
                           err, cap);
            if (bits < 0)
                return bits;
            if (!bits) {
                i++;
                k++;
                continue;
            }
        }
        cfs_diff_entry *e = push_entry(d);
        if (!e)
            return set_err(err, cap, CFS_JE_NOMEM, "diff: out of memory");
        if (c <= 0)
            e->a = la->v[i].side;
        if (c >= 0)
            e->b = lb->v[k].side;
        e->path = c <= 0 ? la->v[i].path : lb->v[k].path;
        e->kind = c < 0 ? CFS_DIFF_REMOVED : c > 0 ? CFS_DIFF_ADDED : CFS_DIFF_CHANGED;
        e->changed = (unsigned)bits;
        i += c <= 0;
        k += c >= 0;
    }
    return 0;
}

int cfs_replay_diff(cfs_journal *j, uint64_t a, uint64_t b, cfs_diff **out,
                    char *err, size_t errcap)
{
    if (!out)
        return set_err(err, errcap, CFS_JE_INVAL, "diff: no output pointer");
    *out = NULL;
    if (!j)
        return set_err(err, errcap, CFS_JE_INVAL, "diff: no journal");
    /* the listing and reader of the lower seq go to side `lo` */
    int lo = a <= b ? 0 : 1;
    uint64_t seq[2] = {a, b};
    cfs_diff *d = calloc(1, sizeof(*d));
    struct track *t = NULL;
    struct inoset changed = {0};
    struct readers rd = {0};
    bool partial;
    int rc = 0;
    if (!d) {
        rc = set_err(err, errcap, CFS_JE_NOMEM, "diff: out of memory");
        goto done;
    }
    if ((rc = track_open_at(j, seq[lo], &t, &partial, err, errcap)) ||
        (rc = list_tree(t, &d->l[lo], err, errcap)))
        goto done;
    if (a == b) /* nothing can differ; still, the seq had to exist */
        goto done;
    if ((rc = reader_open(&rd.r[lo], track_fs(t), err, errcap)))
        goto done;
    rd.open[lo] = true;
    if ((rc = track_replay(t, j, seq[!lo], note_data_change, &changed, err, errcap)))
        goto done;
    if ((rc = list_tree(t, &d->l[!lo], err, errcap)))
        goto done;
    rd.later = t; /* read from only if some file must be compared */
    rc = merge(d, &changed, &rd, err, errcap);
done:
    for (int k = 0; k < 2; k++)
        if (rd.open[k])
            reader_close(&rd.r[k]);
    free(rd.buf);
    free(changed.v);
    track_free(t);
    if (rc) {
        cfs_diff_free(d);
        return rc;
    }
    if (a == b) { /* both sides are the one listing: no entries */
        listing_free(&d->l[0]);
        listing_free(&d->l[1]);
    }
    *out = d;
    return 0;
}
