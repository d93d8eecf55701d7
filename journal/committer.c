/*
 * committer.c — see committer.h.
 *
 * Two threads in a pipeline, each with its own queue: `zip` compresses
 * batches into frames, `put` writes frames to LMDB (and runs jobs). Jobs
 * pass through zip untouched, so everything reaches put in submission
 * order. While put waits for one frame's fsync, zip compresses the next,
 * and the caller encodes the one after. One lock guards both queues; the
 * work under it is a few pointer moves. Put commits every frame waiting
 * for it in one transaction, so a slow disk pays one fsync per group.
 *
 * With `adapt`, zip stores batches raw while compressing would hold the
 * caller up: while the caller waits for zip (its queue full) and until
 * RAW_HOLD_NS after it last did, as `zstd --adapt` lowers its level while
 * it is the bottleneck. During a long bulk write that is nearly every
 * batch, with a probe every RAW_HOLD_NS; a caller that never waits gets
 * every batch compressed. When the disk is the slower side (zip waits for
 * put), compressing is what helps, and zip does.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfs_journal.h"
#include "committer.h"
#include "frame.h"

struct pending {
    struct pending *next;
    cfs_commit_job_fn job; /* a job instead of a batch */
    void *job_ctx;
    uint64_t first;
    uint32_t count;
    uint8_t *batch; /* encoded events: len of cap bytes (until zipped) */
    size_t len, cap;
    uint8_t *frame; /* the frame, flen bytes in a buffer of fcap (once zipped) */
    size_t flen, fcap;
    int zip_rc;     /* zip's failure, reported by put in its turn */
    char *zip_msg;
};

struct queue {
    struct pending *head, *tail;
    unsigned n;
};

/* Zipped frames waiting for put: at most this many, or this many bytes
 * (one frame always fits), all of which put commits together. */
#define OUT_MAX 8
#define OUT_BYTES ((size_t)32 << 20)

/* Spare buffers: batches, handed back to the caller on its next submit;
 * frames, handed back to the zip thread's codec. As many as can be in
 * flight, so a bulk write reuses its buffers instead of allocating. */
#define SPARES_MAX (OUT_MAX + 4)

/* How long batches are stored raw after the caller waited for zip. */
#define RAW_HOLD_NS UINT64_C(100000000)

struct cfs_committer {
    pthread_t zip_thread, put_thread;
    pthread_mutex_t mu;
    pthread_cond_t zip_work; /* a batch was submitted, or stop */
    pthread_cond_t put_work; /* a frame was zipped, or stop */
    pthread_cond_t done;     /* a batch left a stage */
    struct queue in, out;    /* submitted; zipped */
    unsigned max_queued;     /* batches waiting for zip */
    size_t out_bytes;        /* of the frames in `out` */
    bool zip_busy, put_busy, stop;
    bool zip_running; /* put ends once zip has and its queue is empty */
    int err;
    char errmsg[256];
    uint64_t committed; /* atomic */
    cfs_commit_fn fn;
    void *ctx;
    cfs_frame_codec *fc; /* zip's */
    bool adapt;          /* store batches raw when zstd is behind */
    bool caller_waits;   /* the caller waits for room in `in` */
    uint64_t waited_ns;  /* when it last stopped waiting (monotonic), or 0 */
    struct spare {
        uint8_t *buf;
        size_t cap;
    } spares[SPARES_MAX], frame_spares[SPARES_MAX];
    unsigned n_spares, n_frame_spares;
};

static void q_push(struct queue *q, struct pending *p)
{
    p->next = NULL;
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
    q->n++;
}

static struct pending *q_pop(struct queue *q)
{
    struct pending *p = q->head;
    q->head = p->next;
    if (!q->head)
        q->tail = NULL;
    q->n--;
    return p;
}

/* The first failure wins; under c->mu. */
static void set_error(cfs_committer *c, int rc, const char *msg)
{
    if (rc && !c->err) {
        c->err = rc;
        snprintf(c->errmsg, sizeof(c->errmsg), "%s", msg[0] ? msg : cfs_strerror(rc));
    }
}

/* Keep a buffer on a spare list (or free it when the list is full);
 * under c->mu. */
static void keep_spare(struct spare *list, unsigned *n, uint8_t *buf, size_t cap)
{
    if (buf && *n < SPARES_MAX) {
        list[*n].buf = buf;
        list[*n].cap = cap;
        (*n)++;
    } else {
        free(buf);
    }
}

/* A spare from the list (NULL and 0 if it is empty); under c->mu. */
static uint8_t *take_spare(struct spare *list, unsigned *n, size_t *cap)
{
    if (!*n) {
        *cap = 0;
        return NULL;
    }
    (*n)--;
    *cap = list[*n].cap;
    return list[*n].buf;
}

/* Compress p's batch into a frame, which p takes (the codec gets a spare
 * frame buffer in exchange: no copy); or, with `store`, make the batch
 * its own raw frame in place (p->batch becomes p->frame). */
static int zip_batch(cfs_committer *c, struct pending *p, bool store, char *msg,
                     size_t cap)
{
    const uint8_t *frame;
    size_t flen;
    if (store) {
        int rc = cfs_frame_encode_raw_in_place(p->batch, p->first, p->count, p->len, &flen);
        if (rc) {
            snprintf(msg, cap, "frame at seq %llu: %s", (unsigned long long)p->first,
                     cfs_strerror(rc));
            return rc;
        }
        p->frame = p->batch;
        p->fcap = p->cap;
        p->flen = flen;
        p->batch = NULL;
        return 0;
    }
    int rc = cfs_frame_encode(c->fc, p->first, p->count, p->batch + CFS_COMMIT_HEADROOM,
                              p->len, &frame, &flen);
    if (rc) {
        snprintf(msg, cap, "frame at seq %llu: %s", (unsigned long long)p->first,
                 cfs_strerror(rc));
        return rc;
    }
    size_t scap;
    pthread_mutex_lock(&c->mu);
    uint8_t *spare = take_spare(c->frame_spares, &c->n_frame_spares, &scap);
    pthread_mutex_unlock(&c->mu);
    p->frame = cfs_frame_codec_swap_out(c->fc, spare, scap, &p->fcap);
    p->flen = flen;
    return 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool out_full(const cfs_committer *c)
{
    return c->out.n >= OUT_MAX || (c->out.n && c->out_bytes >= OUT_BYTES);
}

static void *zip_run(void *arg)
{
    cfs_committer *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->in.head && !c->stop)
            pthread_cond_wait(&c->zip_work, &c->mu);
        if (!c->in.head)
            break; /* stop, and nothing left */
        /* room downstream first, so at most OUT_MAX frames wait */
        bool disk_behind = false;
        while (out_full(c) && !c->err) {
            disk_behind = true;
            pthread_cond_wait(&c->done, &c->mu);
        }
        /* Behind: the caller waits, or waited a moment ago, for room
         * while put has room, so zstd is what holds everything up. */
        bool behind = c->adapt && !disk_behind &&
                      (c->caller_waits ||
                       (c->waited_ns && now_ns() - c->waited_ns < RAW_HOLD_NS));
        struct pending *p = q_pop(&c->in);
        c->zip_busy = true;
        bool skip = c->err != 0 || p->job;
        pthread_cond_broadcast(&c->done); /* room in `in` */
        pthread_mutex_unlock(&c->mu);

        char msg[256] = "";
        int rc = skip ? 0 : zip_batch(c, p, behind, msg, sizeof(msg));
        if (rc) {
            /* frames before this one are still to be written: the
             * failure is put's to record when it gets here */
            p->zip_rc = rc;
            p->zip_msg = strdup(msg);
        }

        pthread_mutex_lock(&c->mu);
        if (p->batch) {
            keep_spare(c->spares, &c->n_spares, p->batch, p->cap);
            p->batch = NULL;
        } else if (!p->job && !c->n_spares) {
            /* the batch became its frame: a frame buffer goes back to
             * the caller's side in its place */
            size_t fcap;
            uint8_t *b = take_spare(c->frame_spares, &c->n_frame_spares, &fcap);
            keep_spare(c->spares, &c->n_spares, b, fcap);
        }
        q_push(&c->out, p);
        c->out_bytes += p->flen;
        c->zip_busy = false;
        pthread_cond_signal(&c->put_work);
        pthread_cond_broadcast(&c->done);
    }
    c->zip_running = false;
    pthread_cond_signal(&c->put_work);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Pop the frames put commits together: the head, and after it every
 * zipped frame waiting (not a job, not one zip failed on), up to OUT_MAX;
 * under c->mu. Returns how many went to group[]. */
static unsigned pop_group(cfs_committer *c, struct pending *group[OUT_MAX])
{
    unsigned n = 0;
    do {
        struct pending *p = q_pop(&c->out);
        c->out_bytes -= p->flen;
        group[n++] = p;
        if (p->job || p->zip_rc)
            break;
    } while (n < OUT_MAX && c->out.head && !c->out.head->job && !c->out.head->zip_rc);
    return n;
}

static int put_group(cfs_committer *c, struct pending *group[], unsigned n, bool skip,
                     char *msg, size_t cap)
{
    struct pending *p = group[0];
    if (p->job)
        return p->job(p->job_ctx, skip, msg, cap);
    if (skip)
        return 0;
    if (p->zip_rc) {
        snprintf(msg, cap, "%s", p->zip_msg ? p->zip_msg : "");
        return p->zip_rc;
    }
    cfs_commit_frame frames[OUT_MAX];
    for (unsigned i = 0; i < n; i++)
        frames[i] = (cfs_commit_frame){group[i]->first, group[i]->frame, group[i]->flen};
    int rc = c->fn(c->ctx, frames, n, msg, cap);
    unsigned done = rc ? 0 : n;
    /* A group that did not fit (a full disk) commits frame by frame
     * instead, so the frames that fit are kept, as they would have been
     * alone. Any other failure (EIO from the fsync) is final: a retry
     * could hide the loss of what the failed sync was for. */
    if (rc == CFS_JE_NOSPC && n > 1)
        for (done = 0; done < n; done++)
            if ((rc = c->fn(c->ctx, &frames[done], 1, msg, cap)))
                break;
    if (done) {
        struct pending *last = group[done - 1];
        __atomic_store_n(&c->committed, last->first + last->count - 1, __ATOMIC_RELEASE);
    }
    return rc;
}

static void *put_run(void *arg)
{
    cfs_committer *c = arg;
    struct pending *group[OUT_MAX];
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->out.head && c->zip_running)
            pthread_cond_wait(&c->put_work, &c->mu);
        if (!c->out.head)
            break; /* zip stopped, and nothing left */
        unsigned n = pop_group(c, group);
        c->put_busy = true;
        bool skip = c->err != 0;
        pthread_cond_broadcast(&c->done); /* room in `out` */
        pthread_mutex_unlock(&c->mu);

        char msg[256] = "";
        int rc = put_group(c, group, n, skip, msg, sizeof(msg));

        pthread_mutex_lock(&c->mu);
        for (unsigned i = 0; i < n; i++) {
            free(group[i]->zip_msg);
            keep_spare(c->frame_spares, &c->n_frame_spares, group[i]->frame,
                       group[i]->fcap);
            free(group[i]);
        }
        set_error(c, rc, msg);
        c->put_busy = false;
        pthread_cond_broadcast(&c->done);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void destroy(cfs_committer *c)
{
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->zip_work);
    pthread_cond_destroy(&c->put_work);
    pthread_cond_destroy(&c->done);
    for (unsigned i = 0; i < c->n_spares; i++)
        free(c->spares[i].buf);
    for (unsigned i = 0; i < c->n_frame_spares; i++)
        free(c->frame_spares[i].buf);
    cfs_frame_codec_free(c->fc);
    free(c);
}

cfs_committer *cfs_committer_start(cfs_commit_fn fn, void *ctx,
                                   unsigned max_queued, uint64_t committed,
                                   int zstd_level, int adapt)
{
    cfs_committer *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->fc = cfs_frame_codec_new(zstd_level);
    if (!c->fc) {
        free(c);
        return NULL;
    }
    c->fn = fn;
    c->ctx = ctx;
    c->adapt = adapt != 0;
    c->max_queued = max_queued ? max_queued : 1;
    c->committed = committed;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->zip_work, NULL);
    pthread_cond_init(&c->put_work, NULL);
    pthread_cond_init(&c->done, NULL);
    c->zip_running = true;
    if (cfs_thread_start_quiet(&c->put_thread, put_run, c) != 0) {
        destroy(c);
        return NULL;
    }
    if (cfs_thread_start_quiet(&c->zip_thread, zip_run, c) != 0) {
        /* put ends once it sees zip not running and nothing queued */
        pthread_mutex_lock(&c->mu);
        c->zip_running = false;
        pthread_cond_signal(&c->put_work);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->put_thread, NULL);
        destroy(c);
        return NULL;
    }
    return c;
}

int cfs_thread_start_quiet(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
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
    if (!c->err && c->in.n >= c->max_queued) {
        c->caller_waits = true;
        while (!c->err && c->in.n >= c->max_queued)
            pthread_cond_wait(&c->done, &c->mu);
        c->caller_waits = false;
        c->waited_ns = now_ns();
    }
    int rc = report(c, msg, cap);
    if (rc) {
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    q_push(&c->in, p);
    pthread_cond_signal(&c->zip_work);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

int cfs_committer_submit_batch(cfs_committer *c, uint64_t first, uint32_t count,
                               uint8_t **buf, size_t *cap, size_t len,
                               char *msg, size_t msgcap)
{
    struct pending *p = calloc(1, sizeof(*p));
    if (!p)
        return CFS_JE_NOMEM;
    p->first = first;
    p->count = count;
    p->batch = *buf;
    p->len = len;
    p->cap = *cap;
    int rc = enqueue(c, p, msg, msgcap);
    if (rc) {
        free(p);
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    *buf = take_spare(c->spares, &c->n_spares, cap);
    pthread_mutex_unlock(&c->mu);
    return 0;
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
    while (c->in.head || c->out.head || c->zip_busy || c->put_busy)
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
    pthread_cond_signal(&c->zip_work);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->zip_thread, NULL);
    pthread_join(c->put_thread, NULL);
    destroy(c);
    return rc;
}
