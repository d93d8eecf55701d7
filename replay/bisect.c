/*
 * bisect.c — the first seq at which a predicate about a path becomes true.
 *
 * "Bisect" in name only: predicates about a path are not monotonic over a
 * history (a file comes and goes), so the only exact answer is a linear
 * replay that re-evaluates the predicate after every event that can change
 * it. That is cheap to know:
 *  - what a path names changes only with the names (create, unlink,
 *    rename, link, symlink, mkdir, rmdir): re-resolve after those;
 *  - what a file holds changes only by write, set_size, allocate and
 *    O_TRUNC of that inode.
 * While "contains" is false, a change can only create an occurrence that
 * overlaps the new bytes, so only [lo - (len-1), hi + (len-1)) around the
 * changed range [lo, hi) is read; the whole file is read when the path
 * starts naming another file, or while the predicate is true (a write may
 * destroy the occurrence). Reading goes through a clone of the state
 * (read.c).
 */
#define _GNU_SOURCE /* memmem */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define FOUND 1 /* the walk's "stop: it became true" */

struct bctx {
    const cfs_bisect_pred *p;
    struct track *t;
    bool held;         /* the predicate in the current state */
    cfs_ino target;    /* what the path names (CONTAINS: followed) */
    uint64_t found;
    uint64_t events;
    uint8_t *buf;
    size_t bufcap;
    char *err;
    size_t cap;
    bool failed;       /* the walk stopped on our error, not the journal's */
};

static cfs_ino names(struct bctx *b)
{
    cfs_ino ino = 0;
    if (track_resolve(b->t, CFS_INO_ROOT, b->p->path, b->p->kind == CFS_BISECT_CONTAINS,
                      &ino, NULL, NULL))
        return 0;
    return ino;
}

/*
 * Does the target file hold the needle somewhere in [start, end)?
 * 1 yes, 0 no, negative on error. Reads in chunks that overlap by len-1.
 */
static int search(struct bctx *b, uint64_t start, uint64_t end)
{
    size_t n = b->p->len;
    if (end - start < n)
        return 0;
    size_t chunk = (size_t)1 << 20;
    if (chunk < 2 * n)
        chunk = 2 * n;
    if (b->bufcap < chunk) {
        uint8_t *nb = realloc(b->buf, chunk);
        if (!nb)
            return set_err(b->err, b->cap, CFS_JE_NOMEM, "bisect: out of memory");
        b->buf = nb;
        b->bufcap = chunk;
    }
    /* read by inode: no clone, no event, the tracked state stays at its seq */
    cfs_fs *fs = track_fs(b->t);
    cfs_errno e = 0;
    int found = 0;
    for (uint64_t off = start; !found && off + n <= end;) {
        size_t want = end - off < chunk ? (size_t)(end - off) : chunk, got;
        if ((e = cfs_file_pread_ino(fs, b->target, b->buf, want, off, &got)))
            break;
        found = memmem(b->buf, got, b->p->bytes, n) != NULL;
        if (got < want || off + got >= end)
            break;
        off += got - (n - 1); /* an occurrence may straddle the chunks */
    }
    if (e)
        found = set_err(b->err, b->cap, CFS_JE_IO, "bisect: seq %" PRIu64 ": reading %s: %s",
                        cfs_fs_seq(fs), b->p->path, cfs_errno_name(e));
    return found;
}

/* The predicate in the current state, from scratch (1, 0, or < 0). */
static int evaluate(struct bctx *b)
{
    b->target = names(b);
    if (b->p->kind == CFS_BISECT_EXISTS)
        return b->target != 0;
    if (b->p->kind == CFS_BISECT_MISSING)
        return b->target == 0;
    cfs_filestat st;
    if (!b->target || cfs_getattr(track_fs(b->t), b->target, &st) ||
        st.filetype != CFS_FILETYPE_REGULAR_FILE)
        return 0;
    return b->p->len == 0 || search(b, 0, st.size);
}

static bool changes_data(const cfs_event *ev)
{
    return ev->op == CFS_OP_WRITE || ev->op == CFS_OP_SET_SIZE ||
           ev->op == CFS_OP_ALLOCATE ||
           (ev->op == CFS_OP_OPEN && (ev->flags & CFS_EVF_OPEN_TRUNCATE));
}

/* After a data event on the target while the predicate was false: only
 * the bytes around the ones that changed can hold a new occurrence. */
static int evaluate_change(struct bctx *b, const cfs_event *ev, uint64_t old_size)
{
    uint64_t lo, hi;
    switch (ev->op) {
    case CFS_OP_WRITE:
        lo = ev->offset < old_size ? ev->offset : old_size; /* a gap is new zeros */
        hi = ev->offset + ev->length;
        break;
    case CFS_OP_SET_SIZE:
    case CFS_OP_ALLOCATE:
        hi = ev->op == CFS_OP_SET_SIZE ? ev->offset : ev->offset + ev->length;
        if (hi <= old_size)
            return 0; /* shrinking, or within the file: nothing new */
        lo = old_size;
        break;
    default: /* O_TRUNC: an empty file holds only the empty needle */
        return b->p->len == 0;
    }
    cfs_filestat st;
    if (cfs_getattr(track_fs(b->t), b->target, &st))
        return 0;
    size_t n = b->p->len;
    uint64_t start = lo > n - 1 ? lo - (n - 1) : 0;
    uint64_t end = hi + (n - 1) < st.size ? hi + (n - 1) : st.size;
    return search(b, start, end);
}

static int bisect_event(void *ctx, const cfs_event *ev)
{
    struct bctx *b = ctx;
    bool contains = b->p->kind == CFS_BISECT_CONTAINS;
    bool on_target = contains && b->target && changes_data(ev) && ev->ino == b->target;
    uint64_t old_size = 0;
    cfs_filestat st;
    if (on_target && cfs_getattr(track_fs(b->t), b->target, &st) == 0)
        old_size = st.size;
    int rc = track_apply(b->t, ev, b->err, b->cap);
    b->events++;
    int now = b->held;
    if (!rc && op_changes_names(ev)) {
        cfs_ino before = b->target;
        if (!contains || names(b) != before)
            now = evaluate(b);
    } else if (!rc && on_target) {
        now = b->held ? evaluate(b) : evaluate_change(b, ev, old_size);
    }
    if (!rc && now < 0)
        rc = now;
    if (rc) {
        b->failed = true;
        return rc;
    }
    if (!b->held && now) {
        b->found = ev->seq;
        return FOUND;
    }
    b->held = now;
    return 0;
}

int cfs_replay_bisect(cfs_journal *j, const cfs_bisect_pred *p, uint64_t from,
                      uint64_t to, cfs_bisect_result *res, char *err,
                      size_t errcap)
{
    cfs_bisect_result local;
    if (!res)
        res = &local;
    memset(res, 0, sizeof(*res));
    if (!j || !p || !p->path)
        return set_err(err, errcap, CFS_JE_INVAL, "bisect: no journal or predicate");
    if (p->kind < CFS_BISECT_EXISTS || p->kind > CFS_BISECT_CONTAINS)
        return set_err(err, errcap, CFS_JE_INVAL, "bisect: unknown predicate %d", p->kind);
    if (p->path[0] != '/')
        return set_err(err, errcap, CFS_JE_INVAL, "bisect: path `%s` is not absolute",
                       p->path);
    if (p->kind == CFS_BISECT_CONTAINS && p->len && !p->bytes)
        return set_err(err, errcap, CFS_JE_INVAL, "bisect: no bytes to look for");
    if (from == 0)
        from = 1;
    if (to == CFS_REPLAY_HEAD)
        to = 0;
    if (to && to < from)
        return set_err(err, errcap, CFS_JE_INVAL,
                       "bisect: range %" PRIu64 "..%" PRIu64 " is empty", from, to);
    struct bctx b = {.p = p, .err = err, .cap = errcap};
    bool partial;
    int rc = track_open_at(j, from - 1, &b.t, &partial, err, errcap);
    if (rc)
        return rc;
    int held = evaluate(&b);
    if (held < 0)
        rc = held;
    if (!rc) {
        res->held_before = held;
        b.held = held != 0;
        rc = cfs_journal_foreach(j, from, to, bisect_event, &b);
        if (rc < 0 && !b.failed)
            set_err(err, errcap, rc, "%s", cfs_journal_errmsg(j));
        if (rc == FOUND)
            rc = 0;
        else if (!rc && to && cfs_fs_seq(track_fs(b.t)) < to)
            rc = set_err(err, errcap, CFS_JE_NOTFOUND,
                         "bisect: seq %" PRIu64 " is past the journal's end (%" PRIu64 ")",
                         to, cfs_fs_seq(track_fs(b.t)));
        res->seq = b.found;
        res->events = b.events;
    }
    free(b.buf);
    track_free(b.t);
    return rc;
}
