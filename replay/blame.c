/*
 * blame.c — which event gave each byte range of a file its value.
 *
 * Pass 1 rebuilds the state at the seq and asks the engine which inode the
 * path names (through a clone, with the engine's own path resolution).
 * Pass 2 replays from seq 1 with a tracker and keeps, for that inode only,
 * a sorted list of disjoint extents covering [0, size), each pointing at
 * the event (a "source": seq, kind, fd, path at the time) that produced its
 * bytes:
 *
 *   created (open O_CREAT, mknod)      -> no extents, size 0
 *   write [o, o+l)                     -> [size, o) HOLE if o > size, then
 *                                         [o, o+l) WRITE over whatever was
 *   set_size n > size / allocate to n  -> [size, n) SET_SIZE / ALLOCATE
 *   set_size n < size, O_TRUNC (n = 0) -> extents cut at n
 *
 * exactly what engine/apply.c does to the bytes (allocate inside the file
 * changes no byte, so it claims nothing there). Every extension claims its
 * range, so the extents always cover [0, size); the result is checked
 * against the engine's size at the end.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct source {
    uint64_t seq;
    int kind;          /* CFS_BLAME_* */
    uint32_t pid;
    cfs_fd fd;
    char *path;
};

struct extent {
    uint64_t start, end;
    uint32_t src;      /* index into sources */
};

struct cfs_blame {
    cfs_ino ino;
    uint64_t size;
    struct source *src;
    size_t nsrc, csrc;
    struct extent *ext;
    size_t n, cap;
    cfs_blame_range *ranges;
    size_t nranges;
};

void cfs_blame_free(cfs_blame *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nsrc; i++)
        free(b->src[i].path);
    free(b->src);
    free(b->ext);
    free(b->ranges);
    free(b);
}

uint64_t cfs_blame_size(const cfs_blame *b)
{
    return b ? b->size : 0;
}

cfs_ino cfs_blame_ino(const cfs_blame *b)
{
    return b ? b->ino : 0;
}

size_t cfs_blame_count(const cfs_blame *b)
{
    return b ? b->nranges : 0;
}

const cfs_blame_range *cfs_blame_get(const cfs_blame *b, size_t i)
{
    return b && i < b->nranges ? &b->ranges[i] : NULL;
}

/* ---- extents --------------------------------------------------------------- */

/* Index of the first extent that ends after `off`. */
static size_t first_after(const cfs_blame *b, uint64_t off)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->ext[mid].end <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Make [a, e) the source's, over whatever was there; a <= size. */
static int assign(cfs_blame *b, uint64_t a, uint64_t e, uint32_t src)
{
    if (a >= e)
        return 0;
    size_t i = first_after(b, a), k = i;
    while (k < b->n && b->ext[k].start < e)
        k++;
    /* ext[i..k) overlap [a, e): they become left piece, new, right piece */
    struct extent put[3];
    size_t np = 0;
    if (i < k && b->ext[i].start < a)
        put[np++] = (struct extent){b->ext[i].start, a, b->ext[i].src};
    put[np++] = (struct extent){a, e, src};
    if (i < k && b->ext[k - 1].end > e)
        put[np++] = (struct extent){e, b->ext[k - 1].end, b->ext[k - 1].src};
    size_t n = b->n - (k - i) + np;
    if (n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        while (cap < n)
            cap *= 2;
        struct extent *v = realloc(b->ext, cap * sizeof(*v));
        if (!v)
            return -1;
        b->ext = v;
        b->cap = cap;
    }
    memmove(&b->ext[i + np], &b->ext[k], (b->n - k) * sizeof(b->ext[0]));
    memcpy(&b->ext[i], put, np * sizeof(put[0]));
    b->n = n;
    if (e > b->size)
        b->size = e;
    return 0;
}

/* Cut everything at `size` (which is below the current size). */
static void cut(cfs_blame *b, uint64_t size)
{
    size_t i = first_after(b, size);
    if (i < b->n && b->ext[i].start < size) {
        b->ext[i].end = size;
        i++;
    }
    b->n = i;
    b->size = size;
}

/* ---- following the file --------------------------------------------------- */

struct bctx {
    cfs_blame *b;
    struct sbuf p1, p2;
    char *err;
    size_t cap;
};

/* A source for ev (described in the state before it): its index, or -1. */
static int64_t add_source(struct bctx *c, struct track *t, const cfs_event *ev,
                          int kind)
{
    cfs_blame *b = c->b;
    if (b->nsrc == b->csrc) {
        size_t cap = b->csrc ? b->csrc * 2 : 16;
        struct source *v = realloc(b->src, cap * sizeof(*v));
        if (!v)
            return -1;
        b->src = v;
        b->csrc = cap;
    }
    cfs_step step;
    track_describe(t, ev, &step, &c->p1, &c->p2);
    struct source *s = &b->src[b->nsrc];
    s->seq = ev->seq;
    s->kind = kind;
    s->pid = ev->pid;
    s->fd = (ev->op == CFS_OP_SET_SIZE && ev->path) ? CFS_BLAME_NO_FD : ev->fd;
    if (c->p1.oom || !(s->path = strdup(step.path ? step.path : "")))
        return -1;
    return (int64_t)b->nsrc++;
}

static int follow_event(void *ctx, struct track *t, const cfs_event *ev)
{
    struct bctx *c = ctx;
    cfs_blame *b = c->b;
    if (ev->ino != b->ino)
        return 0;
    int64_t s = 0, h = 0;
    uint64_t end;
    switch (ev->op) {
    case CFS_OP_OPEN:
    case CFS_OP_MKNOD:
        if ((ev->flags & CFS_EVF_OPEN_CREATED) || ev->op == CFS_OP_MKNOD ||
            (ev->flags & CFS_EVF_OPEN_TRUNCATE))
            cut(b, 0);
        return 0;
    case CFS_OP_WRITE:
        if (!ev->length)
            return 0;
        if (ev->offset > b->size &&
            ((h = add_source(c, t, ev, CFS_BLAME_HOLE)) < 0 ||
             assign(b, b->size, ev->offset, (uint32_t)h)))
            break;
        if ((s = add_source(c, t, ev, CFS_BLAME_WRITE)) < 0 ||
            assign(b, ev->offset, ev->offset + ev->length, (uint32_t)s))
            break;
        return 0;
    case CFS_OP_SET_SIZE:
    case CFS_OP_ALLOCATE:
        end = ev->op == CFS_OP_SET_SIZE ? ev->offset : ev->offset + ev->length;
        if (end < b->size && ev->op == CFS_OP_SET_SIZE)
            cut(b, end);
        if (end <= b->size)
            return 0;
        if ((s = add_source(c, t, ev, ev->op == CFS_OP_SET_SIZE ? CFS_BLAME_SET_SIZE
                                                                : CFS_BLAME_ALLOCATE)) < 0 ||
            assign(b, b->size, end, (uint32_t)s))
            break;
        return 0;
    default:
        return 0;
    }
    return set_err(c->err, c->cap, CFS_JE_NOMEM, "blame: seq %" PRIu64 ": out of memory",
                   ev->seq);
}

/* Ranges from extents, neighbours of one source merged. */
static int build_ranges(cfs_blame *b)
{
    if (b->n && !(b->ranges = malloc(b->n * sizeof(*b->ranges))))
        return -1;
    for (size_t i = 0; i < b->n; i++) {
        const struct extent *e = &b->ext[i];
        if (b->nranges && b->ext[i - 1].src == e->src) {
            b->ranges[b->nranges - 1].end = e->end;
            continue;
        }
        const struct source *s = &b->src[e->src];
        b->ranges[b->nranges++] = (cfs_blame_range){
            e->start, e->end, s->kind, s->seq, s->pid, s->fd, s->path};
    }
    return 0;
}

/* Pass 1: the inode and size of the regular file `path` names at seq. */
static int find_file(cfs_journal *j, const char *path, uint64_t seq, cfs_ino *ino,
                     uint64_t *size, uint64_t *at, char *err, size_t cap)
{
    cfs_fs *fs;
    int rc = cfs_replay_state_at(j, seq, NULL, &fs, err, cap);
    if (rc)
        return rc;
    *at = cfs_fs_seq(fs);
    struct reader r;
    if ((rc = reader_open(&r, fs, err, cap))) {
        cfs_fs_free(fs);
        return rc;
    }
    cfs_filestat st;
    cfs_errno e = cfs_path_filestat_get(r.fs, r.root, CFS_LOOKUP_SYMLINK_FOLLOW, path, &st);
    if (e)
        rc = set_err(err, cap, e == CFS_ENOENT ? CFS_JE_NOTFOUND : CFS_JE_INVAL,
                     "blame: %s at seq %" PRIu64 ": %s", path, *at, cfs_errno_name(e));
    else if (st.filetype != CFS_FILETYPE_REGULAR_FILE)
        rc = set_err(err, cap, CFS_JE_INVAL, "blame: %s at seq %" PRIu64
                     " is not a regular file", path, *at);
    *ino = st.ino;
    *size = st.size;
    reader_close(&r);
    cfs_fs_free(fs);
    return rc;
}

static int first_snapshot(void *ctx, const cfs_snapshot_info *si)
{
    *(uint64_t *)ctx = si->seq;
    return 1;
}

/*
 * A compacted or forked journal: follow the file from the oldest snapshot, where
 * whatever it held is one EARLIER range, up to `at`.
 */
static int from_oldest_snapshot(cfs_journal *j, struct bctx *c, uint64_t at,
                                struct track **t)
{
    uint64_t oldest = 0;
    int rc = cfs_journal_snapshots(j, first_snapshot, &oldest);
    if (rc < 0)
        return set_err(c->err, c->cap, rc, "%s", cfs_journal_errmsg(j));
    if (!oldest || oldest > at)
        return set_err(c->err, c->cap, CFS_JE_NOTFOUND,
                       "blame: the history before seq %" PRIu64 " is not in this journal "
                       "(compacted, or forked)",
                       at);
    bool partial;
    if ((rc = track_open_at(j, oldest, t, &partial, c->err, c->cap)))
        return rc;
    cfs_blame *b = c->b;
    cfs_filestat st;
    cut(b, 0); /* nothing was followed before the snapshot */
    if (cfs_getattr(track_fs(*t), b->ino, &st) == 0 && st.size) {
        struct source *v = realloc(b->src, (b->nsrc + 1) * sizeof(*v));
        if (!v)
            return set_err(c->err, c->cap, CFS_JE_NOMEM, "blame: out of memory");
        b->src = v;
        b->csrc = b->nsrc + 1;
        int unl = 0;
        track_path_of(*t, b->ino, &c->p1, &unl);
        struct source *s = &b->src[b->nsrc];
        *s = (struct source){oldest, CFS_BLAME_EARLIER, 0, CFS_BLAME_NO_FD,
                             strdup(sb_str(&c->p1))};
        if (!s->path || c->p1.oom)
            return set_err(c->err, c->cap, CFS_JE_NOMEM, "blame: out of memory");
        if (assign(b, 0, st.size, (uint32_t)b->nsrc++))
            return set_err(c->err, c->cap, CFS_JE_NOMEM, "blame: out of memory");
    }
    return track_replay(*t, j, at, follow_event, c, c->err, c->cap);
}

int cfs_replay_blame(cfs_journal *j, const char *path, uint64_t seq,
                     cfs_blame **out, char *err, size_t errcap)
{
    if (!out)
        return set_err(err, errcap, CFS_JE_INVAL, "blame: no output pointer");
    *out = NULL;
    if (!j || !path)
        return set_err(err, errcap, CFS_JE_INVAL, "blame: no journal or path");
    if (path[0] != '/')
        return set_err(err, errcap, CFS_JE_INVAL, "blame: path `%s` is not absolute", path);
    cfs_ino ino = 0;
    uint64_t size = 0, at = 0;
    int rc = find_file(j, path, seq, &ino, &size, &at, err, errcap);
    if (rc)
        return rc;
    struct bctx c = {.b = calloc(1, sizeof(cfs_blame)), .err = err, .cap = errcap};
    struct track *t = track_new();
    if (!c.b || !t) {
        rc = set_err(err, errcap, CFS_JE_NOMEM, "blame: out of memory");
        goto done;
    }
    c.b->ino = ino;
    rc = track_replay(t, j, at, follow_event, &c, err, errcap);
    if (rc == CFS_JE_NOTFOUND && cfs_fs_seq(track_fs(t)) == 0 && track_history_missing(j)) {
        track_free(t);
        t = NULL;
        rc = from_oldest_snapshot(j, &c, at, &t);
    }
    if (rc)
        goto done;
    if (c.b->size != size) /* the model above and the engine disagree */
        rc = set_err(err, errcap, CFS_JE_DIVERGED,
                     "blame: %s at seq %" PRIu64 ": followed %" PRIu64
                     " bytes of history but the file has %" PRIu64,
                     path, at, c.b->size, size);
    else if (build_ranges(c.b))
        rc = set_err(err, errcap, CFS_JE_NOMEM, "blame: out of memory");
done:
    track_free(t);
    sb_free(&c.p1);
    sb_free(&c.p2);
    if (rc) {
        cfs_blame_free(c.b);
        return rc;
    }
    *out = c.b;
    return 0;
}
