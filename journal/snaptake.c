/*
 * snaptake.c — taking snapshots without holding up the writer.
 *
 * A snapshot goes through three threads:
 *
 *   caller     commits the batch (its frame is queued before anything the
 *              snapshot writes) and clones the engine: the metadata is
 *              copied, the file blocks shared copy-on-write. That is the
 *              whole pause; cfs_journal_snapshot_begin() returns here.
 *   snapshot   (one per journal, started on first use) encodes the clone's
 *   thread     image, which hashes the blocks not hashed yet, picks the
 *              chunks the journal does not hold (a set of the hashes known
 *              to be stored answers most lookups without LMDB), and
 *              compresses them, on two threads when there is much to do.
 *   committer  puts the chunks and the record in one write transaction,
 *              ordered after every frame queued before the snapshot began,
 *              so a record never refers to events or chunks that are not
 *              there.
 *
 * Failures are the journal's sticky failures (they go through the
 * committer), as a failed commit is. The record format is snapshot.c's.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "bytes.h"
#include "internal.h"

/* A chunk to store: its hash, its bytes (the clone's block, alive as long
 * as the clone) and, once compressed, its LMDB value. */
struct new_chunk {
    cfs_hash128 h;
    const void *data;
    size_t len;
    uint8_t *val;
    size_t val_len;
};

struct snap_job {
    struct snap_job *next;
    cfs_journal *j;
    cfs_fs *clone;  /* the state to store: a clone the job owns, or */
    bool borrowed;  /* the caller's engine, which waits until it is done */
    uint64_t seq, time_ns;
    char label[128], trigger[32];
    /* built by the snapshot thread */
    int rc;
    char msg[256];
    cfs_hash128 hash;
    struct new_chunk *chunks;
    size_t n_chunks, cap_chunks;
    size_t written; /* chunks before this one went in earlier transactions */
    uint32_t distinct;
    uint8_t *rec;
    size_t rec_len, image_bytes;
};

/* ---- the snapshot thread ------------------------------------------------------------- */

struct snapper {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    struct snap_job *head, *tail;
    unsigned queued;  /* jobs waiting for or in the snapshot thread */
    uint64_t begun, finished; /* jobs begun / done (written or dropped) */
    bool stop;
    cfs_snapshot_info last; /* the last job done */
    /* the first job that failed to write, set before it counts as done:
     * the committer records its failure only once the job has returned,
     * after a waiter may have looked */
    int err;
    char errmsg[256];
    /* chunk hashes known to be stored: the snapshot thread's (compaction
     * resets it); best effort, without memory a hash is just not known */
    struct hashset known;
    ZSTD_CCtx *zc[2];
    MDB_txn *rtxn;          /* the chunk lookups' read transaction */
};

static void job_free(struct snap_job *job)
{
    for (size_t i = 0; i < job->n_chunks; i++)
        free(job->chunks[i].val);
    free(job->chunks);
    free(job->rec);
    if (!job->borrowed)
        cfs_fs_free(job->clone);
    free(job);
}

/* The encoding's block callback: note the blocks not stored yet. */
static int pick_chunk(void *ctx, cfs_hash128 h, const void *data, size_t len)
{
    struct snap_job *job = ctx;
    struct snapper *s = job->j->snapper;
    if (hashset_has(&s->known, h)) {
        job->distinct++;
        return 0;
    }
    uint8_t key[16];
    chunk_key(key, h);
    MDB_val k = {16, key}, v;
    int rc = mdb_get(s->rtxn, job->j->db_chunks, &k, &v);
    if (rc && rc != MDB_NOTFOUND)
        return 1;
    if (rc == 0) {
        (void)hashset_add(&s->known, h, NULL);
        job->distinct++;
        return 0;
    }
    if (!data)
        return CFS_IMAGE_WANT_BYTES; /* a lazy block this journal lacks */
    job->distinct++;
    (void)hashset_add(&s->known, h, NULL);
    if (job->n_chunks == job->cap_chunks) {
        size_t cap = job->cap_chunks ? job->cap_chunks * 2 : 256;
        struct new_chunk *nc = realloc(job->chunks, cap * sizeof(*nc));
        if (!nc)
            return 1;
        job->chunks = nc;
        job->cap_chunks = cap;
    }
    job->chunks[job->n_chunks++] = (struct new_chunk){h, data, len, NULL, 0};
    return 0;
}

/* Compression shared by two threads: each takes the next few chunks in
 * turn (an atomic cursor), so neither waits while the other still has a
 * long tail; the calling thread also makes the record from the image. */
struct compress_work {
    struct snap_job *job;
    size_t next, to; /* next: atomic */
    int level;
    int rc;          /* atomic: the first failure */
};

struct compress_part {
    struct compress_work *w;
    ZSTD_CCtx *zc;
    const uint8_t *image; /* one part also makes the record */
    size_t image_len;
};

static void *compress_part(void *arg)
{
    struct compress_part *p = arg;
    struct compress_work *w = p->w;
    struct snap_job *job = w->job;
    if (p->image) {
        int rc = snapshot_record(p->zc, w->level, job->seq, job->time_ns, job->hash,
                                 job->label, job->trigger, p->image, p->image_len,
                                 &job->rec, &job->rec_len, &job->image_bytes);
        if (rc)
            __atomic_store_n(&w->rc, rc, __ATOMIC_RELAXED);
    }
    enum { TAKE = 4 };
    for (;;) {
        size_t i = __atomic_fetch_add(&w->next, TAKE, __ATOMIC_RELAXED);
        if (i >= w->to || __atomic_load_n(&w->rc, __ATOMIC_RELAXED))
            break;
        for (size_t end = i + TAKE < w->to ? i + TAKE : w->to; i < end; i++) {
            struct new_chunk *c = &job->chunks[i];
            if (chunk_value(p->zc, w->level, c->data, c->len, &c->val, &c->val_len)) {
                __atomic_store_n(&w->rc, CFS_JE_NOMEM, __ATOMIC_RELAXED);
                break;
            }
        }
    }
    return NULL;
}

/* Compress the image (into the record) if given and chunks from..to, on
 * a second thread too when there is more than a few blocks' worth. */
static int compress_range(struct snapper *s, struct snap_job *job, int level,
                          size_t from, size_t to, const uint8_t *image,
                          size_t image_len)
{
    uint64_t total = image_len;
    for (size_t i = from; i < to; i++)
        total += job->chunks[i].len;
    for (int k = 0; k < 2; k++)
        if (!s->zc[k] && !(s->zc[k] = ZSTD_createCCtx()))
            return CFS_JE_NOMEM;
    struct compress_work w = {job, from, to, level, 0};
    struct compress_part a = {&w, s->zc[0], image, image_len};
    struct compress_part b = {&w, s->zc[1], NULL, 0};
    pthread_t t;
    bool two = total > 8 * (uint64_t)CFS_BLOCK_SIZE &&
               cfs_thread_start_quiet(&t, compress_part, &b) == 0;
    compress_part(&a);
    if (two)
        pthread_join(t, NULL);
    return w.rc;
}

/* Chunks compressed ahead of the record, written in a transaction of
 * their own while the next ones are compressed. A chunk no snapshot refers
 * to (the record never came) is harmless; compaction sweeps it. */
struct chunk_batch {
    cfs_journal *j;
    struct new_chunk *c;
    size_t n;
    uint64_t seq;
};

static int put_chunks(cfs_journal *j, const struct new_chunk *c, size_t n, uint64_t seq,
                      const uint8_t *rec, size_t rec_len, char *msg, size_t cap);

static int write_batch(void *ctx, int skip, char *msg, size_t cap)
{
    struct chunk_batch *b = ctx;
    /* Not durable on its own: the record's transaction syncs everything
     * (this thread makes every write transaction, so the flag is safe to
     * flip). */
    bool nosync = b->j->opts.durability != CFS_DURABILITY_NONE;
    if (nosync && !skip)
        mdb_env_set_flags(b->j->env, MDB_NOSYNC, 1);
    int rc = skip ? 0 : put_chunks(b->j, b->c, b->n, b->seq, NULL, 0, msg, cap);
    if (nosync && !skip)
        mdb_env_set_flags(b->j->env, MDB_NOSYNC, 0);
    for (size_t i = 0; i < b->n; i++)
        free(b->c[i].val);
    free(b->c);
    free(b);
    return rc;
}

#define BATCH_BYTES ((uint64_t)32 << 20)

/* While more than BATCH_BYTES of new chunks remain, compress the next
 * BATCH_BYTES and hand them to the committer. */
static int compress_batches(struct snapper *s, struct snap_job *job, int level)
{
    uint64_t left = 0;
    for (size_t i = 0; i < job->n_chunks; i++)
        left += job->chunks[i].len;
    while (left > 2 * BATCH_BYTES) {
        size_t from = job->written, to = from;
        uint64_t bytes = 0;
        while (to < job->n_chunks && bytes < BATCH_BYTES)
            bytes += job->chunks[to++].len;
        int rc = compress_range(s, job, level, from, to, NULL, 0);
        struct chunk_batch *b = rc ? NULL : malloc(sizeof(*b));
        struct new_chunk *c = b ? malloc((to - from) * sizeof(*c)) : NULL;
        if (!c) {
            free(b);
            return rc ? rc : CFS_JE_NOMEM;
        }
        memcpy(c, job->chunks + from, (to - from) * sizeof(*c));
        for (size_t i = from; i < to; i++)
            job->chunks[i].val = NULL; /* the batch owns them now */
        *b = (struct chunk_batch){job->j, c, to - from, job->seq};
        char msg[256];
        if ((rc = cfs_committer_submit_job(job->j->cm, write_batch, b, msg, sizeof(msg)))) {
            write_batch(b, 1, NULL, 0);
            return rc;
        }
        job->written = to;
        left -= bytes;
    }
    return 0;
}

static void build(struct snapper *s, struct snap_job *job)
{
    cfs_journal *j = job->j;
    /* the read transaction is held only while the image is encoded, which
     * never waits for the commit thread (map_lock's rule) */
    pthread_rwlock_rdlock(&j->map_lock);
    int rc = mdb_txn_begin(j->env, NULL, MDB_RDONLY, &s->rtxn);
    if (rc) {
        pthread_rwlock_unlock(&j->map_lock);
        job->rc = map_mdb(rc);
        snprintf(job->msg, sizeof(job->msg), "snapshot at seq %" PRIu64 ": %s", job->seq,
                 mdb_strerror(rc));
        return;
    }
    uint8_t *meta = NULL;
    size_t mlen = 0;
    int fn_rc = 0;
    cfs_errno e = cfs_fs_encode_image(job->clone, &meta, &mlen, pick_chunk, job, &fn_rc);
    mdb_txn_abort(s->rtxn);
    pthread_rwlock_unlock(&j->map_lock);
    s->rtxn = NULL;
    if (!e && mlen > UINT32_MAX)
        e = CFS_EFBIG;
    if (e) {
        job->rc = e == CFS_ECANCELED ? CFS_JE_IO : CFS_JE_NOMEM;
        snprintf(job->msg, sizeof(job->msg), "snapshot at seq %" PRIu64 ": %s", job->seq,
                 e == CFS_ECANCELED ? "looking up chunks failed" : cfs_errno_name(e));
        free(meta);
        return;
    }
    job->hash = cfs_image_hash(meta, mlen);
    rc = compress_batches(s, job, j->opts.zstd_level);
    if (!rc)
        rc = compress_range(s, job, j->opts.zstd_level, job->written, job->n_chunks, meta, mlen);
    free(meta);
    if (rc) {
        job->rc = rc;
        snprintf(job->msg, sizeof(job->msg), "snapshot at seq %" PRIu64 ": out of memory",
                 job->seq);
    }
}

static void finish(struct snapper *s, struct snap_job *job, bool written, int rc,
                   const char *msg)
{
    pthread_mutex_lock(&s->mu);
    if (rc && !s->err) {
        s->err = rc;
        snprintf(s->errmsg, sizeof(s->errmsg), "%s", msg);
    }
    if (written) {
        cfs_snapshot_info *in = &s->last;
        memset(in, 0, sizeof(*in));
        in->seq = job->seq;
        snprintf(in->label, sizeof(in->label), "%s", job->label);
        snprintf(in->trigger, sizeof(in->trigger), "%s", job->trigger);
        in->time_ns = job->time_ns;
        in->state_hash = job->hash;
        in->image_bytes = job->image_bytes;
        in->chunks = job->distinct;
        in->new_chunks = (uint32_t)job->n_chunks;
        for (size_t i = 0; i < job->n_chunks; i++)
            in->new_chunk_bytes += job->chunks[i].val_len;
    }
    s->finished++;
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->mu);
    job_free(job);
}

/*
 * Put chunk values and (if rec) the snapshot record at seq in one write
 * transaction, growing the map first to hold them; on the committer
 * thread.
 */
static int put_chunks(cfs_journal *j, const struct new_chunk *c, size_t n, uint64_t seq,
                      const uint8_t *rec, size_t rec_len, char *msg, size_t cap)
{
    size_t need = rec_len + 4096;
    for (size_t i = 0; i < n; i++)
        need += c[i].val_len + 4096; /* overflow pages, and room for the B-tree */
    need += need / 8 + ((size_t)1 << 20);
    uint8_t key[8];
    put_be64(key, seq);
    char what[64];
    snprintf(what, sizeof(what), "snapshot at seq %" PRIu64, seq);
    for (int attempt = 0;; attempt++) {
        int rc = ensure_map(j, need, msg, cap);
        MDB_txn *txn;
        if (rc || (rc = mdb_txn_begin(j->env, NULL, 0, &txn)))
            return rc > 0 ? write_failure(j, rc, need, msg, cap, what) : rc;
        for (size_t i = 0; i < n && !rc; i++)
            rc = chunk_put_value(txn, j->db_chunks, c[i].h, c[i].val, c[i].val_len);
        MDB_val k = {8, key}, v = {rec_len, (void *)rec};
        if (!rc && rec)
            rc = mdb_put(txn, j->db_snapshots, &k, &v, MDB_NOOVERWRITE);
        if (!rc)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        if (rc == MDB_MAP_FULL && attempt < 20) {
            if ((rc = grow_map(j, need, msg, cap)))
                return rc;
            continue;
        }
        if (rc == MDB_KEYEXIST) {
            snprintf(msg, cap, "snapshot: seq %" PRIu64 " already has one", seq);
            return CFS_JE_INVAL;
        }
        if (rc)
            return write_failure(j, rc, need, msg, cap, what);
        if (rec && j->opts.durability != CFS_DURABILITY_NONE &&
            (rc = mdb_env_sync(j->env, 1))) {
            snprintf(msg, cap, "%s: sync: %s", what, mdb_strerror(rc));
            return map_mdb(rc);
        }
        return 0;
    }
}

/* The committer's part: one write transaction with the chunks and the
 * record. */
static int write_job(void *ctx, int skip, char *msg, size_t cap)
{
    struct snap_job *job = ctx;
    cfs_journal *j = job->j;
    struct snapper *s = j->snapper;
    int rc = skip ? 0 : job->rc;
    if (rc)
        snprintf(msg, cap, "%s", job->msg);
    if (skip || rc) {
        finish(s, job, false, rc, msg);
        return rc;
    }
    rc = put_chunks(j, job->chunks + job->written, job->n_chunks - job->written, job->seq,
                    job->rec, job->rec_len, msg, cap);
    finish(s, job, rc == 0, rc, msg);
    return rc;
}

static void *snapper_run(void *arg)
{
    cfs_journal *j = arg;
    struct snapper *s = j->snapper;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stop)
            pthread_cond_wait(&s->work, &s->mu);
        if (!s->head)
            break;
        struct snap_job *job = s->head;
        s->head = job->next;
        if (!s->head)
            s->tail = NULL;
        pthread_mutex_unlock(&s->mu);

        build(s, job);
        char msg[256];
        if (cfs_committer_submit_job(j->cm, write_job, job, msg, sizeof(msg)))
            finish(s, job, false, 0, NULL); /* the journal failed already: reported so */

        pthread_mutex_lock(&s->mu);
        s->queued--;
        pthread_cond_broadcast(&s->done);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int snapper_start(cfs_journal *j)
{
    struct snapper *s = calloc(1, sizeof(*s));
    if (!s)
        return fail_msg(j, CFS_JE_NOMEM, "snapshot: out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->done, NULL);
    j->snapper = s;
    if (cfs_thread_start_quiet(&s->thread, snapper_run, j) != 0) {
        j->snapper = NULL;
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->work);
        pthread_cond_destroy(&s->done);
        free(s);
        return fail_msg(j, CFS_JE_NOMEM, "snapshot: cannot start its thread");
    }
    return 0;
}

/* ---- the calls ----------------------------------------------------------------------- */

/* Checks, then a job for fs (cloned, or borrowed by a caller that waits),
 * after committing the batch. */
static int snapshot_job(cfs_journal *j, cfs_fs *fs, const char *label,
                        const char *trigger, uint64_t time_ns, bool borrow,
                        struct snap_job **out)
{
    if (!j->writer)
        return fail_msg(j, CFS_JE_READONLY, "%s: opened read-only", j->dir);
    label = label ? label : "";
    trigger = trigger ? trigger : "explicit";
    if (strlen(label) >= 128 || strlen(trigger) >= 32)
        return fail_msg(j, CFS_JE_INVAL, "snapshot: label or trigger too long");
    if (*label && strspn(label, "0123456789") == strlen(label))
        return fail_msg(j, CFS_JE_INVAL, "snapshot: label '%s' is all digits, which "
                        "commands read as a seq", label);
    uint64_t seq = cfs_fs_seq(fs);
    if (seq != j->appended && !(j->appended == 0 && j->committed == 0))
        return fail_msg(j, CFS_JE_INVAL,
                        "snapshot: the engine is at seq %" PRIu64 ", the journal at %" PRIu64,
                        seq, j->appended);
    bool exists = j->snap_seq_begun == seq && j->snap_any_begun; /* in flight */
    MDB_txn *txn;
    int rc = read_begin(j, &txn);
    if (rc)
        return rc;
    uint8_t key[8];
    put_be64(key, seq);
    MDB_val k = {8, key}, v;
    exists |= mdb_get(txn, j->db_snapshots, &k, &v) == 0;
    read_end(j, txn);
    if (exists)
        return fail_msg(j, CFS_JE_INVAL, "snapshot: seq %" PRIu64 " already has one", seq);
    /* the frames up to seq go to the committer before the snapshot does */
    rc = cfs_journal_commit(j);
    if (rc)
        return rc;
    if (!j->snapper && (rc = snapper_start(j)))
        return rc;
    struct snap_job *job = calloc(1, sizeof(*job));
    if (!job)
        return fail_msg(j, CFS_JE_NOMEM, "snapshot: out of memory");
    if (borrow) {
        job->clone = fs;
        job->borrowed = true;
    } else {
        cfs_errno e = cfs_fs_clone(fs, &job->clone);
        if (e) {
            free(job);
            return fail_msg(j, CFS_JE_NOMEM, "snapshot at seq %" PRIu64 ": %s", seq,
                            cfs_errno_name(e));
        }
    }
    job->j = j;
    job->seq = seq;
    job->time_ns = time_ns;
    snprintf(job->label, sizeof(job->label), "%s", label);
    snprintf(job->trigger, sizeof(job->trigger), "%s", trigger);
    j->snap_seq_begun = seq;
    j->snap_any_begun = true;
    j->snap_count++;
    *out = job;
    return 0;
}

int cfs_journal_snapshot_begin(cfs_journal *j, cfs_fs *fs, const char *label,
                               const char *trigger, uint64_t time_ns)
{
    struct snap_job *job;
    int rc = snapshot_job(j, fs, label, trigger, time_ns, false, &job);
    if (rc)
        return rc;
    struct snapper *s = j->snapper;
    pthread_mutex_lock(&s->mu);
    while (s->queued >= 2) /* one building, one waiting: then the caller waits */
        pthread_cond_wait(&s->done, &s->mu);
    if (s->tail)
        s->tail->next = job;
    else
        s->head = job;
    s->tail = job;
    s->queued++;
    s->begun++;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int cfs_journal_snapshot_wait(cfs_journal *j, cfs_snapshot_info *last)
{
    struct snapper *s = j->snapper;
    int rc = 0;
    if (s) {
        pthread_mutex_lock(&s->mu);
        while (s->finished < s->begun)
            pthread_cond_wait(&s->done, &s->mu);
        if (last)
            *last = s->last;
        if ((rc = s->err))
            fail_msg(j, rc, "%s", s->errmsg);
        pthread_mutex_unlock(&s->mu);
    } else if (last) {
        memset(last, 0, sizeof(*last));
    }
    if (!j->writer)
        return 0;
    if (!rc)
        rc = cfs_committer_error(j->cm, j->errmsg, sizeof(j->errmsg));
    if (rc)
        j->failed = true;
    return rc;
}

int cfs_journal_snapshot(cfs_journal *j, cfs_fs *fs, const char *label,
                         const char *trigger, uint64_t time_ns,
                         cfs_snapshot_info *info)
{
    /* an empty journal may start from any state: a fork's base */
    bool base = j->writer && j->appended == 0 && j->committed == 0;
    uint64_t seq = cfs_fs_seq(fs);
    /* The caller waits, so its engine cannot change: no clone. The
     * snapshot thread is idle once earlier snapshots are done, so this
     * thread may use its chunk cache and compressors. */
    int rc = cfs_journal_snapshot_wait(j, NULL);
    struct snap_job *job;
    if (!rc)
        rc = snapshot_job(j, fs, label, trigger, time_ns, true, &job);
    if (rc)
        return rc;
    struct snapper *s = j->snapper;
    pthread_mutex_lock(&s->mu);
    s->begun++;
    pthread_mutex_unlock(&s->mu);
    build(s, job);
    if ((rc = cfs_committer_submit_job(j->cm, write_job, job, j->errmsg, sizeof(j->errmsg)))) {
        finish(s, job, false, 0, NULL);
        j->failed = true;
        return rc;
    }
    rc = cfs_journal_snapshot_wait(j, info);
    if (!rc && base && seq) {
        /* the journal now continues from this state */
        j->appended = j->committed = seq;
        cfs_committer_advance(j->cm, seq);
    }
    return rc;
}

void snapshot_forget_chunks(cfs_journal *j)
{
    if (!j->snapper)
        return;
    cfs_journal_snapshot_wait(j, NULL);
    hashset_free(&j->snapper->known);
}

void snapshot_stop(cfs_journal *j)
{
    struct snapper *s = j->snapper;
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    /* its last jobs may still be queued in the committer, which finishes
     * them (and so needs s) before it stops: wait for them */
    pthread_mutex_lock(&s->mu);
    while (s->finished < s->begun)
        pthread_cond_wait(&s->done, &s->mu);
    pthread_mutex_unlock(&s->mu);
    for (int k = 0; k < 2; k++)
        ZSTD_freeCCtx(s->zc[k]);
    hashset_free(&s->known);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->done);
    free(s);
    j->snapper = NULL;
}

uint64_t cfs_journal_snapshot_count(const cfs_journal *j)
{
    return j ? j->snap_count : 0;
}
