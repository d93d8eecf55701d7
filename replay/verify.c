/*
 * verify.c — check a journal end to end in one pass.
 *
 * cfs_journal_foreach() already checks every frame it decodes (header,
 * xxh3 checksum, decompression, records, seq continuity) before handing
 * out any of its events; applying each event to a fresh engine checks its
 * recorded outcomes (cfs_fs_apply refuses an fd, inode or description
 * number, or an entry, that is not what the engine would produce); and at
 * the seqs with a recorded state hash (the snapshots' records, and any the
 * caller passes), the state hash is compared. The first problem in seq order stops the walk.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct vctx {
    cfs_fs *fs;
    const cfs_verify_point *pts;
    size_t np, next;
    cfs_verify_report *rep;
    char *err;
    size_t cap;
};

/* Compare the hashes recorded for the engine's current seq. */
static int check_points(struct vctx *v)
{
    uint64_t seq = cfs_fs_seq(v->fs);
    while (v->next < v->np && v->pts[v->next].seq == seq) {
        cfs_hash128 want = v->pts[v->next++].hash, got = cfs_fs_hash(v->fs);
        v->rep->hashes++;
        if (want.lo != got.lo || want.hi != got.hi) {
            v->rep->first_bad = seq;
            v->rep->problem = CFS_VERIFY_HASH;
            return set_err(v->err, v->cap, CFS_JE_DIVERGED,
                           "seq %" PRIu64 ": state hash %016" PRIx64 "%016" PRIx64
                           " differs from the recorded %016" PRIx64 "%016" PRIx64,
                           seq, got.hi, got.lo, want.hi, want.lo);
        }
    }
    return 0;
}

static int verify_event(void *ctx, const cfs_event *ev)
{
    struct vctx *v = ctx;
    cfs_errno e = cfs_fs_apply(v->fs, ev);
    if (e) {
        v->rep->first_bad = ev->seq;
        v->rep->problem = CFS_VERIFY_OUTPUT;
        return set_err(v->err, v->cap, CFS_JE_DIVERGED, "seq %" PRIu64 ": %s: %s (%s)",
                       ev->seq, cfs_op_name(ev->op), cfs_errno_name(e),
                       cfs_fs_errmsg(v->fs));
    }
    v->rep->events++;
    v->rep->last_seq = ev->seq;
    return check_points(v);
}

struct points {
    cfs_verify_point *v;
    size_t n, cap;
};

static int add_snapshot(void *ctx, const cfs_snapshot_info *si)
{
    struct points *p = ctx;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        cfs_verify_point *v = realloc(p->v, cap * sizeof(*v));
        if (!v)
            return CFS_JE_NOMEM;
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n].seq = si->seq;
    p->v[p->n++].hash = si->state_hash;
    return 0;
}

static int by_seq(const void *a, const void *b)
{
    uint64_t x = ((const cfs_verify_point *)a)->seq, y = ((const cfs_verify_point *)b)->seq;
    return x < y ? -1 : x > y;
}

/* The caller's points and (if asked) the snapshots' hashes, in seq order. */
static int gather(cfs_journal *j, const cfs_verify_opts *o, struct points *p,
                  char *err, size_t errcap)
{
    if (o->snapshots) {
        int rc = cfs_journal_snapshots(j, add_snapshot, p);
        if (rc)
            return set_err(err, errcap, rc, "verify: listing snapshots: %s",
                           rc == CFS_JE_NOMEM ? "out of memory" : cfs_journal_errmsg(j));
    }
    for (size_t i = 0; i < o->npoints; i++) {
        cfs_snapshot_info si = {.seq = o->points[i].seq, .state_hash = o->points[i].hash};
        if (add_snapshot(p, &si))
            return set_err(err, errcap, CFS_JE_NOMEM, "verify: out of memory");
    }
    /* stable enough: equal seqs must hold equal hashes anyway */
    if (p->n)
        qsort(p->v, p->n, sizeof(p->v[0]), by_seq);
    return 0;
}

static int oldest(void *ctx, const cfs_snapshot_info *si)
{
    *(uint64_t *)ctx = si->seq;
    return 1;
}

/*
 * The state to check from: the initial one, or, if the journal was
 * compacted or forked, its oldest snapshot (loaded and checked against
 * its recorded hash by cfs_journal_open_at): the events it holds start
 * from that state only.
 */
static int start_state(cfs_journal *j, struct vctx *v)
{
    cfs_verify_report *rep = v->rep;
    if (!track_history_missing(j)) {
        if (!(v->fs = cfs_fs_new(NULL)))
            return set_err(v->err, v->cap, CFS_JE_NOMEM, "verify: out of memory");
        return 0;
    }
    uint64_t seq = 0;
    int rc = cfs_journal_snapshots(j, oldest, &seq);
    if (rc >= 0 && !seq)
        rc = set_err(v->err, v->cap, CFS_JE_NOTFOUND,
                     "verify: the journal's first events are gone and no snapshot is left");
    else if (rc >= 0 && (rc = cfs_journal_open_at(j, seq, NULL, &v->fs)) == 0)
        rep->from_seq = rep->last_seq = seq;
    else if (rc < 0)
        set_err(v->err, v->cap, rc, "%s", cfs_journal_errmsg(j));
    if (rc) {
        rep->first_bad = seq;
        rep->problem = rc == CFS_JE_CORRUPT ? CFS_VERIFY_FRAME : CFS_VERIFY_READ;
    }
    return rc;
}

int cfs_replay_verify(cfs_journal *j, const cfs_verify_opts *o,
                      cfs_verify_report *rep, char *err, size_t errcap)
{
    cfs_verify_report local;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof(*rep));
    static const cfs_verify_opts none = {0};
    if (!o)
        o = &none;
    if (!j)
        return set_err(err, errcap, CFS_JE_INVAL, "verify: no journal");
    if (o->npoints && !o->points)
        return set_err(err, errcap, CFS_JE_INVAL, "verify: %zu points but no array",
                       o->npoints);
    if (o->chunks) {
        int crc = cfs_journal_verify_chunks(j, &rep->chunks);
        if (crc) {
            rep->problem = crc == CFS_JE_CORRUPT ? CFS_VERIFY_CHUNK : CFS_VERIFY_READ;
            return set_err(err, errcap, crc, "verify: %s", cfs_journal_errmsg(j));
        }
    }
    struct points pts = {0};
    int rc = gather(j, o, &pts, err, errcap);
    if (rc) {
        free(pts.v);
        return rc;
    }
    struct vctx v = {NULL, pts.v, pts.n, 0, rep, err, errcap};
    rc = start_state(j, &v);
    if (rc) {
        free(pts.v);
        return rc;
    }
    /* hashes recorded for the state verification starts from */
    while (v.next < v.np && v.pts[v.next].seq < rep->from_seq)
        v.next++; /* before the oldest snapshot: not in the journal */
    rc = check_points(&v);
    if (!rc)
        rc = cfs_journal_foreach(j, rep->from_seq + 1, o->to, verify_event, &v);
    if (rc < 0 && !rep->problem) {
        /* the journal's own error: the frame after the last good event */
        rep->first_bad = rep->last_seq + 1;
        rep->problem = rc == CFS_JE_CORRUPT ? CFS_VERIFY_FRAME : CFS_VERIFY_READ;
        set_err(err, errcap, rc, "%s", cfs_journal_errmsg(j));
    } else if (!rc && o->to && rep->last_seq < o->to) {
        rep->first_bad = rep->last_seq + 1;
        rep->problem = CFS_VERIFY_READ;
        rc = set_err(err, errcap, CFS_JE_NOTFOUND,
                     "verify: the journal ends at seq %" PRIu64 ", before %" PRIu64,
                     rep->last_seq, o->to);
    } else if (!rc && v.next < v.np && !o->to) { /* points past `to` are not asked for */
        rep->first_bad = v.pts[v.next].seq;
        rep->problem = CFS_VERIFY_HASH;
        rc = set_err(err, errcap, CFS_JE_NOTFOUND,
                     "verify: a state hash is recorded for seq %" PRIu64
                     ", past the last event checked (%" PRIu64 ")",
                     v.pts[v.next].seq, rep->last_seq);
    }
    cfs_fs_free(v.fs);
    free(pts.v);
    return rc;
}
