/*
 * cursor.c — a pull-style cursor over a journal's events.
 *
 * The journal offers one way to read: cfs_journal_foreach(), a callback
 * walk inside one LMDB read transaction. A cursor turns it into "give me
 * the next event" without a thread: a refill walks from the next wanted seq
 * and copies events into a buffer (event slots plus one arena for their
 * strings and write data) until the buffer is full, then stops the walk;
 * cfs_cursor_next() hands out the buffered events, and the next refill
 * walks again from where the last one stopped. The walk stops right after
 * the event that fills the buffer, so a frame is decoded again only when a
 * refill starts in its middle.
 *
 * Bounded memory: CURSOR_EVENTS slots and an arena that stops taking
 * events once it holds CURSOR_BYTES (one event larger than that still
 * fits alone; the arena shrinks back on the next refill).
 *
 *   states:  LIVE --(range done)--> END
 *              \--(journal error)--> ERROR (after the events read before it)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CURSOR_EVENTS 8192u
#define CURSOR_BYTES ((size_t)8 << 20)
#define WALK_FULL 1 /* the collect callback's "stop, the buffer is full" */

/* Where an event's strings and data sit in the arena: offset + 1, so 0
 * means NULL. Pointers are set once the refill is over (the arena may
 * move while it grows). */
struct slot {
    size_t path, path2, name, name2, data;
};

struct cfs_cursor {
    cfs_journal *j;
    uint64_t next;       /* the next seq wanted */
    uint64_t to;         /* last seq, 0 = the end */
    cfs_event *evs;
    struct slot *slots;
    size_t n, pos;       /* events buffered, handed out */
    uint8_t *arena;
    size_t used, acap;
    int state;           /* 0 live, 1 ended, < 0 the error */
    int pending;         /* an error met after the buffered events */
    char err[512];
    char pending_err[512];
};

int cfs_cursor_open(cfs_journal *j, uint64_t from, uint64_t to,
                    cfs_cursor **out, char *err, size_t errcap)
{
    if (!out)
        return set_err(err, errcap, CFS_JE_INVAL, "cursor: no output pointer");
    *out = NULL;
    if (!j)
        return set_err(err, errcap, CFS_JE_INVAL, "cursor: no journal");
    if (from == 0)
        from = 1;
    if (to && to < from)
        return set_err(err, errcap, CFS_JE_INVAL,
                       "cursor: range %" PRIu64 "..%" PRIu64 " is empty (to < from)",
                       from, to);
    cfs_cursor *c = calloc(1, sizeof(*c));
    if (c) {
        c->evs = malloc(CURSOR_EVENTS * sizeof(*c->evs));
        c->slots = malloc(CURSOR_EVENTS * sizeof(*c->slots));
    }
    if (!c || !c->evs || !c->slots) {
        cfs_cursor_close(c);
        return set_err(err, errcap, CFS_JE_NOMEM, "cursor: out of memory");
    }
    c->j = j;
    c->next = from;
    c->to = to;
    *out = c;
    return 0;
}

void cfs_cursor_close(cfs_cursor *c)
{
    if (!c)
        return;
    free(c->evs);
    free(c->slots);
    free(c->arena);
    free(c);
}

const char *cfs_cursor_errmsg(const cfs_cursor *c)
{
    return c ? c->err : "";
}

size_t cfs_cursor_memory(const cfs_cursor *c)
{
    return sizeof(*c) + CURSOR_EVENTS * (sizeof(*c->evs) + sizeof(*c->slots)) +
           c->acap;
}

/* Copy n bytes (plus a NUL) into the arena; returns offset + 1, 0 on OOM. */
static size_t stash(cfs_cursor *c, const void *p, size_t n)
{
    size_t need = c->used + n + 1;
    if (need > c->acap) {
        /* double up to the bound, then only what the last event needs */
        size_t cap = c->acap ? 2 * c->acap : 64 * 1024;
        if (cap > CURSOR_BYTES)
            cap = CURSOR_BYTES;
        if (cap < need)
            cap = need;
        uint8_t *a = realloc(c->arena, cap);
        if (!a)
            return 0;
        c->arena = a;
        c->acap = cap;
    }
    size_t off = c->used;
    if (n)
        memcpy(c->arena + off, p, n);
    c->arena[off + n] = 0;
    c->used += n + 1;
    return off + 1;
}

static int stash_str(cfs_cursor *c, const char *s, size_t *slot)
{
    *slot = 0;
    if (!s)
        return 0;
    *slot = stash(c, s, strlen(s));
    return *slot ? 0 : -1;
}

static int collect(void *ctx, const cfs_event *ev)
{
    cfs_cursor *c = ctx;
    struct slot *sl = &c->slots[c->n];
    if (stash_str(c, ev->path, &sl->path) || stash_str(c, ev->path2, &sl->path2) ||
        stash_str(c, ev->name, &sl->name) || stash_str(c, ev->name2, &sl->name2))
        goto nomem;
    sl->data = 0;
    if (ev->data && !(sl->data = stash(c, ev->data, ev->length)))
        goto nomem;
    c->evs[c->n++] = *ev;
    return (c->n == CURSOR_EVENTS || c->used >= CURSOR_BYTES) ? WALK_FULL : 0;
nomem:
    snprintf(c->err, sizeof(c->err), "cursor: out of memory at seq %" PRIu64
             " (%zu bytes buffered)", ev->seq, c->used);
    return CFS_JE_NOMEM;
}

static const void *at(const cfs_cursor *c, size_t off)
{
    return off ? c->arena + off - 1 : NULL;
}

static void refill(cfs_cursor *c)
{
    c->n = c->pos = 0;
    c->used = 0;
    if (c->acap > 2 * CURSOR_BYTES) { /* one huge event grew it: give it back */
        free(c->arena);
        c->arena = NULL;
        c->acap = 0;
    }
    int rc = cfs_journal_foreach(c->j, c->next, c->to, collect, c);
    for (size_t i = 0; i < c->n; i++) {
        cfs_event *ev = &c->evs[i];
        const struct slot *sl = &c->slots[i];
        ev->path = at(c, sl->path);
        ev->path2 = at(c, sl->path2);
        ev->name = at(c, sl->name);
        ev->name2 = at(c, sl->name2);
        ev->data = at(c, sl->data);
    }
    if (rc < 0) {
        /* hand out what was read before the error, then report it */
        c->pending = rc;
        if (rc != CFS_JE_NOMEM)
            snprintf(c->pending_err, sizeof(c->pending_err), "%s",
                     cfs_journal_errmsg(c->j));
        else
            memcpy(c->pending_err, c->err, sizeof(c->err));
    }
}

int cfs_cursor_next(cfs_cursor *c, const cfs_event **ev)
{
    if (!c || !ev)
        return CFS_JE_INVAL;
    *ev = NULL;
    if (c->pos == c->n && !c->state) {
        if (c->pending) {
            c->state = c->pending;
            memcpy(c->err, c->pending_err, sizeof(c->err));
        } else if (c->to && c->next > c->to) {
            c->state = 1;
        } else {
            refill(c);
            if (c->n == 0 && !c->pending)
                c->state = 1;
            else if (c->n == 0)
                return cfs_cursor_next(c, ev);
        }
    }
    if (c->pos < c->n) {
        *ev = &c->evs[c->pos++];
        c->next = (*ev)->seq + 1;
        return 1;
    }
    return c->state == 1 ? 0 : c->state;
}
