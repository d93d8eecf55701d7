/*
 * stepper.c — the state at a seq, and a stepper that walks events one by
 * one over a tracked engine, describing each in the state before it.
 *
 *   stepper:  open: replay 1..from-1 silently (or start from a snapshot if
 *                   the journal was compacted or forked), bind the filter
 *             next: [held event or cursor] -> describe -> filter (before)
 *                   -> apply -> filter (after: the path may now name a
 *                   file) -> shown? return it : loop
 *             errors are sticky: a stepper whose engine refused an event
 *             is not in any journal state any more.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int cfs_replay_state_at(cfs_journal *j, uint64_t seq, const cfs_config *cfg,
                        cfs_fs **out, char *err, size_t errcap)
{
    if (!out)
        return set_err(err, errcap, CFS_JE_INVAL, "state_at: no output pointer");
    *out = NULL;
    if (!j)
        return set_err(err, errcap, CFS_JE_INVAL, "state_at: no journal");
    if (seq == 0) { /* the initial state, which no snapshot needs */
        if (!(*out = cfs_fs_new(cfg)))
            return set_err(err, errcap, CFS_JE_NOMEM, "state_at: out of memory");
        return 0;
    }
    /* the newest snapshot at or before seq, then the events after it */
    int rc = cfs_journal_open_at(j, seq == CFS_REPLAY_HEAD ? 0 : seq, cfg, out);
    if (rc)
        set_err(err, errcap, rc, "%s", cfs_journal_errmsg(j));
    return rc;
}

struct cfs_stepper {
    struct track *t;
    cfs_cursor *cur;
    struct filter f;
    const cfs_event *held;  /* read from the cursor, not applied yet */
    struct sbuf p1, p2;
    int state;              /* 0 live, 1 ended, < 0 the error */
    char err[1024];
};

void cfs_stepper_close(cfs_stepper *s)
{
    if (!s)
        return;
    cfs_cursor_close(s->cur);
    track_free(s->t);
    filter_free(&s->f);
    sb_free(&s->p1);
    sb_free(&s->p2);
    free(s);
}

int cfs_stepper_open(cfs_journal *j, uint64_t from, uint64_t to,
                     const cfs_filter *filter, cfs_stepper **out, char *err,
                     size_t errcap)
{
    if (!out)
        return set_err(err, errcap, CFS_JE_INVAL, "stepper: no output pointer");
    *out = NULL;
    if (!j)
        return set_err(err, errcap, CFS_JE_INVAL, "stepper: no journal");
    if (from == 0)
        from = 1;
    cfs_stepper *s = calloc(1, sizeof(*s));
    if (!s)
        return set_err(err, errcap, CFS_JE_NOMEM, "stepper: out of memory");
    int rc = filter_init(&s->f, filter, err, errcap);
    if (rc)
        goto fail;
    bool partial;
    if ((rc = track_open_at(j, from - 1, &s->t, &partial, err, errcap)))
        goto fail;
    if ((rc = cfs_cursor_open(j, from, to, &s->cur, err, errcap)))
        goto fail;
    filter_start(&s->f, s->t);
    *out = s;
    return 0;
fail:
    cfs_stepper_close(s);
    return rc;
}

/* The next event from the cursor, or NULL (s->state then says why). */
static const cfs_event *fetch(cfs_stepper *s)
{
    if (s->held) {
        const cfs_event *ev = s->held;
        s->held = NULL;
        return ev;
    }
    const cfs_event *ev;
    int rc = cfs_cursor_next(s->cur, &ev);
    if (rc == 1)
        return ev;
    s->state = rc ? rc : 1;
    if (rc)
        snprintf(s->err, sizeof(s->err), "%s", cfs_cursor_errmsg(s->cur));
    return NULL;
}

static int ended(const cfs_stepper *s)
{
    return s->state == 1 ? 0 : s->state;
}

int cfs_stepper_next(cfs_stepper *s, cfs_step *out)
{
    if (!s || !out)
        return CFS_JE_INVAL;
    memset(out, 0, sizeof(*out));
    while (!s->state) {
        const cfs_event *ev = fetch(s);
        if (!ev)
            break;
        cfs_ino touch[TRACK_MAX_TOUCH];
        int nt = track_touches(s->t, ev, touch);
        bool shown = filter_before(&s->f, ev, touch, nt);
        /* paths are of the state before the event: resolve them now if the
         * event is shown or may be once applied (a path filter binding) */
        if (shown || s->f.path)
            track_describe(s->t, ev, out, &s->p1, &s->p2);
        int rc = track_apply(s->t, ev, s->err, sizeof(s->err));
        if (rc) {
            s->state = rc;
            break;
        }
        if (filter_after(&s->f, s->t, ev, touch, nt) &&
            filter_basic(&s->f, ev, touch, nt))
            shown = true;
        if (shown) {
            if (s->p1.oom || s->p2.oom) {
                s->state = CFS_JE_NOMEM;
                snprintf(s->err, sizeof(s->err),
                         "seq %" PRIu64 ": out of memory for its paths", ev->seq);
                break;
            }
            return 1;
        }
    }
    memset(out, 0, sizeof(*out));
    return ended(s);
}

int cfs_stepper_peek(cfs_stepper *s, cfs_step *out)
{
    if (!s || !out)
        return CFS_JE_INVAL;
    memset(out, 0, sizeof(*out));
    if (s->state)
        return ended(s);
    const cfs_event *ev = fetch(s);
    if (!ev)
        return ended(s);
    s->held = ev;
    track_describe(s->t, ev, out, &s->p1, &s->p2);
    return 1;
}

cfs_fs *cfs_stepper_fs(cfs_stepper *s)
{
    return s ? track_fs(s->t) : NULL;
}

uint64_t cfs_stepper_seq(const cfs_stepper *s)
{
    return s ? cfs_fs_seq(track_fs(s->t)) : 0;
}

const char *cfs_stepper_errmsg(const cfs_stepper *s)
{
    return s ? s->err : "";
}
