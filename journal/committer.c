/*
 * committer.c — see committer.h.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs_journal.h"
#include "committer.h"

struct pending {
    struct pending *next;
    cfs_commit_job_fn job; /* a job instead of a frame */
    void *job_ctx;
    uint64_t first;
    uint32_t count;
    size_t len;
    uint8_t frame[];
};

struct cfs_committer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work; /* a frame was queued, or stop */
    pthread_cond_t done; /* a frame finished */
    struct pending *head, *tail;
    unsigned queued, max_queued;
    bool busy, stop;
    int err;
    char errmsg[256];
    uint64_t committed; /* atomic */
    cfs_commit_fn fn;
    void *ctx;
};

static void *run(void *arg)
{
    cfs_committer *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->head && !c->stop)
            pthread_cond_wait(&c->work, &c->mu);
        if (!c->head)
            break; /* stop, and nothing left */
        struct pending *p = c->head;
        c->head = p->next;
        if (!c->head)
            c->tail = NULL;
        c->queued--;
        c->busy = true;
        bool skip = c->err != 0;
        pthread_mutex_unlock(&c->mu);

        char msg[256] = "";
        int rc;
        if (p->job)
            rc = p->job(p->job_ctx, skip, msg, sizeof(msg));
        else
            rc = skip ? 0 : c->fn(c->ctx, p->first, p->frame, p->len, msg, sizeof(msg));
        if (!skip && !rc && !p->job)
            __atomic_store_n(&c->committed, p->first + p->count - 1, __ATOMIC_RELEASE);
        free(p);

        pthread_mutex_lock(&c->mu);
        if (rc && !c->err) {
            c->err = rc;
            snprintf(c->errmsg, sizeof(c->errmsg), "%s", msg[0] ? msg : cfs_strerror(rc));
        }
        c->busy = false;
        pthread_cond_broadcast(&c->done);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

cfs_committer *cfs_committer_start(cfs_commit_fn fn, void *ctx,
                                   unsigned max_queued, uint64_t committed)
{
    cfs_committer *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->fn = fn;
    c->ctx = ctx;
    c->max_queued = max_queued ? max_queued : 1;
    c->committed = committed;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->work, NULL);
    pthread_cond_init(&c->done, NULL);
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->work);
        pthread_cond_destroy(&c->done);
        free(c);
        return NULL;
    }
    return c;
}

static int report(cfs_committer *c, char *msg, size_t cap)
{
    if (c->err && msg && cap)
        snprintf(msg, cap, "%s", c->errmsg);
    return c->err;
}

/* Queue p once there is room; an earlier failure is returned instead. */
static int enqueue(cfs_committer *c, struct pending *p, char *msg, size_t cap)
{
    pthread_mutex_lock(&c->mu);
    while (!c->err && c->queued >= c->max_queued)
        pthread_cond_wait(&c->done, &c->mu);
    int rc = report(c, msg, cap);
    if (rc) {
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    if (c->tail)
        c->tail->next = p;
    else
        c->head = p;
    c->tail = p;
    c->queued++;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

int cfs_committer_submit(cfs_committer *c, uint64_t first, uint32_t count,
                         const uint8_t *frame, size_t len, char *msg, size_t cap)
{
    struct pending *p = malloc(sizeof(*p) + len);
    if (!p)
        return CFS_JE_NOMEM;
    p->next = NULL;
    p->job = NULL;
    p->first = first;
    p->count = count;
    p->len = len;
    memcpy(p->frame, frame, len);
    int rc = enqueue(c, p, msg, cap);
    if (rc)
        free(p);
    return rc;
}

int cfs_committer_submit_job(cfs_committer *c, cfs_commit_job_fn fn, void *ctx,
                             char *msg, size_t cap)
{
    struct pending *p = calloc(1, sizeof(*p));
    if (!p)
        return CFS_JE_NOMEM;
    p->job = fn;
    p->job_ctx = ctx;
    int rc = enqueue(c, p, msg, cap);
    if (rc)
        free(p);
    return rc;
}

int cfs_committer_drain(cfs_committer *c, char *msg, size_t cap)
{
    pthread_mutex_lock(&c->mu);
    while (c->head || c->busy)
        pthread_cond_wait(&c->done, &c->mu);
    int rc = report(c, msg, cap);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int cfs_committer_error(cfs_committer *c, char *msg, size_t cap)
{
    pthread_mutex_lock(&c->mu);
    int rc = report(c, msg, cap);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

uint64_t cfs_committer_committed(const cfs_committer *c)
{
    return __atomic_load_n(&c->committed, __ATOMIC_ACQUIRE);
}

void cfs_committer_advance(cfs_committer *c, uint64_t seq)
{
    __atomic_store_n(&c->committed, seq, __ATOMIC_RELEASE);
}

int cfs_committer_stop(cfs_committer *c, char *msg, size_t cap)
{
    if (!c)
        return 0;
    int rc = cfs_committer_drain(c, msg, cap);
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->work);
    pthread_cond_destroy(&c->done);
    free(c);
    return rc;
}
