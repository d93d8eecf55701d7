/*
 * store.c — the journal proper: an LMDB environment holding frames of
 * encoded events, written one frame per write transaction.
 *
 * Journal states (a writer handle):
 *
 *     open ──append──> batching ──commit ok──> open
 *       ^                  │
 *       │                  └──commit fails──> FAILED (sticky: every write
 *       │                                      is refused until reopen)
 *       └──────────────── reopen ───────────────┘
 *
 * Durability, per mode:
 *   NONE   MDB_NOSYNC: commits reach the OS, never forced to disk.
 *   BATCH  MDB_NOMETASYNC: each commit pays one fsync (its data pages; the
 *          meta page rides on the next commit's), so an OS crash can undo
 *          at most the last commit: up to 8 frames, the group the commit
 *          thread had waiting (committer.c), besides those still queued
 *          and the open batch; cfs_journal_sync() (the guest's fd_sync)
 *          forces the meta page too, making everything durable.
 *   SYNC   each event is written to the sync log (synclog.h) and flushed
 *          there, one fdatasync, before append returns; LMDB is committed
 *          in batches behind it (as BATCH) and made fully durable when the
 *          log fills or the journal closes (a checkpoint), after which the
 *          log starts a new generation. Opening for writing first moves
 *          the log's records past LMDB's last seq into LMDB.
 * Batches are encoded on the caller's thread, compressed and written by
 * the committer's threads (committer.h), so encoding, compression and the
 * disk overlap. A process crash (not an OS crash) loses only what was
 * never committed: the batches queued (at most 2 waiting for compression,
 * 8 frames waiting to be written, and the one in each stage) and the
 * open batch; LMDB's pages are in the page cache once a commit returns.
 *
 * Keys of `events` are the frame's first seq as big-endian u64, so LMDB's
 * byte order is seq order.
 */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <lmdb.h>

#include "cfs_journal.h"
#include "bytes.h"
#include "committer.h"
#include "frame.h"
#include "internal.h"
#include "synclog.h"

#define INITIAL_MAP_SIZE ((size_t)64 << 20)
#define LOCK_FILE "writer.lock"


static int checkpoint(cfs_journal *j);
static int recover_synclog(cfs_journal *j);
static int put_frames(void *ctx, const cfs_commit_frame *frames, unsigned n, char *msg,
                      size_t cap);
static int write_failed(cfs_journal *j);
static int log_events(cfs_journal *j, uint64_t after,
                      int (*fn)(void *ctx, const cfs_event *ev), void *ctx);
static int note_last(void *ctx, const cfs_event *ev);

int fail_msg(cfs_journal *j, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->errmsg, sizeof(j->errmsg), fmt, ap);
    va_end(ap);
    return code;
}

int fail_sticky(cfs_journal *j)
{
    if (!j->cause[0]) {
        /* the failure's own message, still the handle's last; "DIR: " off */
        const char *m = j->errmsg;
        size_t dl = strlen(j->dir);
        if (!strncmp(m, j->dir, dl) && !strncmp(m + dl, ": ", 2))
            m += dl + 2;
        snprintf(j->cause, sizeof j->cause, "%s", *m ? m : "unknown");
    }
    return fail_msg(j, CFS_JE_FAILED, "%s: an earlier write failed (%.200s); reopen the journal",
                    j->dir, j->cause);
}

/* An LMDB or errno result as a CFS_JE_* code. */
int map_mdb(int rc)
{
    switch (rc) {
    case 0: return 0;
    case ENOSPC: return CFS_JE_NOSPC;
    case ENOMEM: return CFS_JE_NOMEM;
    case EACCES:
    case EROFS: return CFS_JE_READONLY;
    case ENOENT: return CFS_JE_NOTFOUND;
    case MDB_NOTFOUND: return CFS_JE_NOTFOUND;
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH: return CFS_JE_NOTJOURNAL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND: return CFS_JE_CORRUPT;
    default: return CFS_JE_IO;
    }
}

void cfs_journal_opts_default(cfs_journal_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->durability = CFS_DURABILITY_BATCH;
    o->zstd_level = 1;
    o->batch_bytes = (size_t)1 << 20;
    o->batch_events = 8192;
    o->batch_age_ns = UINT64_C(50000000);
}

static int lock_failed(cfs_journal *j, const char *path, int e)
{
    if (e == ELOOP)
        return fail_msg(j, CFS_JE_IO, "%s: a symlink (not following it)", path);
    if (e == ENOSPC || e == EDQUOT)
        return fail_msg(j, CFS_JE_NOSPC, "%s: disk full (%s)", path, strerror(e));
    return fail_msg(j, e == EACCES || e == EROFS ? CFS_JE_READONLY : CFS_JE_IO, "%s: %s",
                    path, strerror(e));
}

/* LMDB maps lock.mdb and writes its reader table through the mapping: on
 * a full filesystem a page it cannot get is SIGBUS, not an error (`chronofs
 * init` on a full disk died of it). So the file gets its blocks first, and
 * a full disk is CFS_JE_NOSPC here. LOCK_BYTES is what LMDB 0.9 makes it
 * with its 126 readers (64-byte slots and header); a file LMDB grows past
 * that is as before. Where the file cannot be opened for writing
 * (someone else's journal, read-only), LMDB says what it says. */
#define LOCK_BYTES 8192

static int prealloc_lock(cfs_journal *j)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/lock.mdb", j->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && errno == ELOOP) /* LMDB would follow it, and write there */
        return lock_failed(j, path, ELOOP);
    if (fd < 0)
        return 0;
    int e = posix_fallocate(fd, 0, LOCK_BYTES);
    close(fd);
    return e == ENOSPC || e == EDQUOT ? lock_failed(j, path, e) : 0;
}

/* ---- the writer lock ------------------------------------------------------- */

/* An open-file-description lock on DIR/writer.lock: per handle, released by
 * the kernel when the process dies, however it dies. The holder's pid is
 * written in the file for the error message of the next would-be writer. */
static int take_writer_lock(cfs_journal *j)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", j->dir, LOCK_FILE);
    /* never through a symlink: the file is truncated and written */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return lock_failed(j, path, errno);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
        char buf[32] = {0};
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        close(fd);
        long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
        return fail_msg(j, CFS_JE_LOCKED,
                        "journal %s is open for writing by pid %ld", j->dir, pid);
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        int e = errno;
        close(fd);
        return lock_failed(j, path, e);
    }
    j->lock_fd = fd;
    return 0;
}

/* ---- meta ---------------------------------------------------------------- */

static int meta_get(MDB_txn *txn, cfs_journal *j, const char *key, MDB_val *v)
{
    MDB_val k = {strlen(key), (void *)key};
    return mdb_get(txn, j->db_meta, &k, v);
}

static int meta_put(MDB_txn *txn, cfs_journal *j, const char *key,
                    const void *val, size_t len)
{
    MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};
    return mdb_put(txn, j->db_meta, &k, &v, 0);
}

static void hex(char *out, const uint8_t *in, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = 0;
}

/* A new journal's meta: format version, id, creation info. */
static int meta_create(cfs_journal *j, MDB_txn *txn)
{
    uint8_t id[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, id, sizeof(id)) != (ssize_t)sizeof(id)) {
        if (fd >= 0)
            close(fd);
        return fail_msg(j, CFS_JE_IO, "%s: cannot read /dev/urandom for the journal id",
                        j->dir);
    }
    close(fd);
    uint8_t ver[4] = {CFS_FORMAT_VERSION & 0xff, (CFS_FORMAT_VERSION >> 8) & 0xff, 0, 0};
    char info[128];
    int n = snprintf(info, sizeof(info), "chronofs format %d, pid %ld",
                     CFS_FORMAT_VERSION, (long)getpid());
    int rc = meta_put(txn, j, "format", ver, sizeof(ver));
    if (!rc)
        rc = meta_put(txn, j, "id", id, sizeof(id));
    if (!rc)
        rc = meta_put(txn, j, "created", info, (size_t)n);
    if (rc)
        return fail_msg(j, map_mdb(rc), "%s: writing meta: %s", j->dir, mdb_strerror(rc));
    hex(j->id, id, sizeof(id));
    j->format = CFS_FORMAT_VERSION;
    return 0;
}

static int meta_check(cfs_journal *j, MDB_txn *txn)
{
    MDB_val v;
    int rc = meta_get(txn, j, "format", &v);
    if (rc == MDB_NOTFOUND)
        return fail_msg(j, CFS_JE_NOTJOURNAL, "%s: not a chronofs journal (no format in meta)",
                        j->dir);
    if (rc)
        return fail_msg(j, map_mdb(rc), "%s: reading meta: %s", j->dir, mdb_strerror(rc));
    if (v.mv_size != 4)
        return fail_msg(j, CFS_JE_CORRUPT, "%s: meta `format`: %zu bytes, expected 4",
                        j->dir, v.mv_size);
    const uint8_t *b = v.mv_data;
    unsigned ver = b[0] | b[1] << 8 | (unsigned)b[2] << 16 | (unsigned)b[3] << 24;
    if (ver > CFS_FORMAT_VERSION)
        return fail_msg(j, CFS_JE_VERSION,
                        "%s: format version %u is newer than this build (%d)",
                        j->dir, ver, CFS_FORMAT_VERSION);
    if (ver == 0) /* versions start at 1: no writer made this */
        return fail_msg(j, CFS_JE_CORRUPT, "%s: meta `format` is 0", j->dir);
    j->format = ver;
    rc = meta_get(txn, j, "id", &v);
    if (rc || v.mv_size != 16)
        return fail_msg(j, CFS_JE_CORRUPT, "%s: meta `id` missing or malformed", j->dir);
    hex(j->id, v.mv_data, 16);
    return 0;
}

static int lmdb_committed(cfs_journal *j, MDB_txn *txn, uint64_t *out);

/* The last committed seq: LMDB's last frame and, for a reader, the events a
 * SYNC-mode writer has made durable in its sync log past it. */
static int read_committed(cfs_journal *j, MDB_txn *txn, uint64_t *out)
{
    int rc = lmdb_committed(j, txn, out);
    if (!rc && !j->writer)
        rc = log_events(j, *out, note_last, out);
    return rc;
}

/* LMDB's last committed seq, from the last frame's header. */
static int lmdb_committed(cfs_journal *j, MDB_txn *txn, uint64_t *out)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, j->db_events, &cur);
    if (rc)
        return fail_msg(j, map_mdb(rc), "%s: %s", j->dir, mdb_strerror(rc));
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) {
        /* no events: a forked or fully compacted journal starts at its
         * newest snapshot */
        *out = 0;
        if (mdb_cursor_open(txn, j->db_snapshots, &cur) == 0) {
            if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
                *out = get_be64(k.mv_data);
            mdb_cursor_close(cur);
        }
        return 0;
    }
    if (rc)
        return fail_msg(j, map_mdb(rc), "%s: %s", j->dir, mdb_strerror(rc));
    if (k.mv_size != 8)
        return fail_msg(j, CFS_JE_CORRUPT, "%s: events: key of %zu bytes", j->dir, k.mv_size);
    uint64_t key = get_be64(k.mv_data), first;
    uint32_t count;
    char err[256];
    rc = frame_head(&v, key, err, sizeof(err));
    if (!rc)
        rc = cfs_frame_peek(v.mv_data, v.mv_size, key, &first, &count, err, sizeof(err));
    if (rc)
        return fail_msg(j, rc, "%s: %s", j->dir, err);
    *out = first + count - 1;
    return 0;
}

/* ---- open / close ---------------------------------------------------------- */

static int open_dbs(cfs_journal *j, MDB_txn *txn, unsigned flags)
{
    static const char *const names[] = {"meta", "events", "snapshots", "chunks"};
    MDB_dbi *dbis[] = {&j->db_meta, &j->db_events, &j->db_snapshots, &j->db_chunks};
    for (int i = 0; i < 4; i++) {
        int rc = mdb_dbi_open(txn, names[i], flags, dbis[i]);
        if (rc == MDB_NOTFOUND)
            return fail_msg(j, CFS_JE_NOTJOURNAL,
                            "%s: not a chronofs journal (no `%s` database)", j->dir, names[i]);
        if (rc)
            return fail_msg(j, map_mdb(rc), "%s: database `%s`: %s", j->dir, names[i],
                            mdb_strerror(rc));
    }
    return 0;
}

int cfs_journal_open(const char *dir, const cfs_journal_opts *opts,
                     cfs_journal **out, char *errbuf, size_t errcap)
{
    *out = NULL;
    if (!dir || !*dir)
        return CFS_JE_INVAL;
    cfs_journal *j = calloc(1, sizeof(*j));
    if (!j)
        return CFS_JE_NOMEM;
    if (pthread_rwlock_init(&j->map_lock, NULL) != 0) {
        free(j);
        return CFS_JE_NOMEM;
    }
    j->lock_fd = -1;
    bigframes_init(j);
    if (opts)
        j->opts = *opts;
    else
        cfs_journal_opts_default(&j->opts);
    if (!j->opts.batch_bytes)
        j->opts.batch_bytes = (size_t)1 << 20;
    if (!j->opts.batch_events)
        j->opts.batch_events = 8192;
    j->writer = !j->opts.read_only;
    j->dir = strdup(dir);
    int rc = j->dir ? 0 : CFS_JE_NOMEM;
    MDB_txn *txn = NULL;
    if (rc)
        goto fail;

    char data_path[4096];
    snprintf(data_path, sizeof(data_path), "%s/data.mdb", dir);
    struct stat sb;
    bool exists = stat(data_path, &sb) == 0;
    if (exists && S_ISREG(sb.st_mode) && sb.st_size < 2 * 4096) {
        /* LMDB's two meta pages are not there: a file LMDB would write
         * into (a writer) or fail to map with an unhelpful error */
        rc = fail_msg(j, CFS_JE_NOTJOURNAL,
                      "%s: data.mdb is %lld bytes: not a chronofs journal", dir,
                      (long long)sb.st_size);
        goto fail;
    }
    if (!exists) {
        if (!j->writer || !j->opts.create) {
            rc = fail_msg(j, CFS_JE_NOTFOUND, "%s: no journal here (no data.mdb)", dir);
            goto fail;
        }
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
            rc = fail_msg(j, errno == EACCES || errno == EROFS ? CFS_JE_READONLY : CFS_JE_IO,
                          "%s: cannot create: %s", dir, strerror(errno));
            goto fail;
        }
    }
    if (j->writer && (rc = take_writer_lock(j)))
        goto fail;

    if ((rc = prealloc_lock(j)))
        goto fail;
    if ((rc = mdb_env_create(&j->env))) {
        rc = fail_msg(j, map_mdb(rc), "%s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    mdb_env_set_maxdbs(j->env, 4);
    size_t map = INITIAL_MAP_SIZE;
    if (exists && (size_t)sb.st_size > map / 2)
        map = (size_t)sb.st_size * 2;
    mdb_env_set_mapsize(j->env, map);
    unsigned flags = MDB_NOTLS;
    if (!j->writer)
        flags |= MDB_RDONLY;
    else if (j->opts.durability == CFS_DURABILITY_NONE)
        flags |= MDB_NOSYNC;
    else /* BATCH, and SYNC whose durability the sync log provides */
        flags |= MDB_NOMETASYNC;
    if ((rc = mdb_env_open(j->env, dir, flags, 0644))) {
        int code = map_mdb(rc);
        rc = fail_msg(j, code, "%s: %s%s", dir, mdb_strerror(rc),
                      code == CFS_JE_NOTJOURNAL ? " (not a chronofs journal)" : "");
        goto fail;
    }

    /* LMDB maps the file and trusts it: a page past the end of a cut file
     * would be a SIGBUS, not an error. Check the file holds every page
     * the meta page says is in use before reading any. */
    MDB_envinfo info;
    MDB_stat mst;
    if (exists && mdb_env_info(j->env, &info) == 0 && mdb_env_stat(j->env, &mst) == 0 &&
        stat(data_path, &sb) == 0 &&
        (uint64_t)sb.st_size < ((uint64_t)info.me_last_pgno + 1) * mst.ms_psize) {
        rc = fail_msg(j, CFS_JE_CORRUPT,
                      "%s: data.mdb is %lld bytes but its pages reach %llu: truncated",
                      dir, (long long)sb.st_size,
                      (unsigned long long)(info.me_last_pgno + 1) * mst.ms_psize);
        goto fail;
    }

    if ((rc = mdb_txn_begin(j->env, NULL, j->writer ? 0 : MDB_RDONLY, &txn))) {
        rc = fail_msg(j, map_mdb(rc), "%s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    bool fresh = false;
    if (j->writer) {
        MDB_dbi probe;
        fresh = mdb_dbi_open(txn, "meta", 0, &probe) == MDB_NOTFOUND;
        if (fresh && !j->opts.create) {
            rc = fail_msg(j, CFS_JE_NOTJOURNAL, "%s: not a chronofs journal", dir);
            goto fail;
        }
    }
    if ((rc = open_dbs(j, txn, fresh ? MDB_CREATE : 0)))
        goto fail;
    rc = fresh ? meta_create(j, txn) : meta_check(j, txn);
    if (!rc)
        rc = read_committed(j, txn, &j->committed);
    if (!rc && j->writer)
        rc = bigframes_load(j, txn);
    if (rc)
        goto fail;
    /* Committed even when read-only: LMDB closes database handles opened
     * in a transaction that is aborted. */
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc) {
        rc = fail_msg(j, map_mdb(rc), "%s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    j->appended = j->opened_at = j->committed;
    if (j->writer)
        bigframes_trim(j); /* before anything is appended: the sync log's */
    j->fc = cfs_frame_codec_new(j->opts.zstd_level);
    if (!j->fc) {
        rc = CFS_JE_NOMEM;
        goto fail;
    }
    if (j->writer) {
        /* two frames in flight: one being written, one waiting */
        j->cm = cfs_committer_start(put_frames, j, 2, j->committed,
                                    j->opts.zstd_level, j->opts.compress_adapt);
        if (!j->cm) {
            rc = fail_msg(j, CFS_JE_NOMEM, "%s: cannot start the commit thread", dir);
            goto fail;
        }
        if ((rc = recover_synclog(j)))
            goto fail;
        bigframes_punch_pending(j);
    }
    *out = j;
    return 0;
fail:
    if (errbuf && errcap)
        snprintf(errbuf, errcap, "%s", j->errmsg[0] ? j->errmsg : cfs_strerror(rc));
    if (txn)
        mdb_txn_abort(txn);
    j->failed = true; /* close must not commit */
    cfs_journal_close(j);
    return rc;
}

int cfs_journal_close(cfs_journal *j)
{
    if (!j)
        return 0;
    int rc = 0;
    if (j->writer && j->cm && !j->failed)
        rc = snapshot_triggers(j, 0, true);
    snapshot_stop(j);
    /* engines opened at a seq may outlive the handle: from now on their
     * unloaded blocks are EIO, never a read of a closed environment */
    cfs_block_source_close(j->lazy);
    j->lazy = NULL;
    if (j->writer && j->cm && !j->failed && !rc)
        rc = j->slog ? checkpoint(j) : commit_wait(j);
    int stop = cfs_committer_stop(j->cm, NULL, 0);
    if (!rc)
        rc = stop;
    cfs_synclog_close(j->slog);
    if (j->writer && !j->failed)
        bigframes_punch_pending(j);
    if (j->env)
        mdb_env_close(j->env);
    if (j->lock_fd >= 0)
        close(j->lock_fd);
    cfs_frame_codec_free(j->fc);
    snapshot_release(j);
    bigframes_close(j);
    free(j->batch);
    free(j->dir);
    pthread_rwlock_destroy(&j->map_lock);
    free(j);
    return rc;
}

const char *cfs_journal_errmsg(const cfs_journal *j)
{
    return j->errmsg;
}

const char *cfs_journal_id(const cfs_journal *j)
{
    return j->id;
}

unsigned cfs_journal_format(const cfs_journal *j)
{
    return j->format;
}

uint64_t cfs_journal_committed(const cfs_journal *j)
{
    return j->cm ? cfs_committer_committed(j->cm) : j->committed;
}

uint64_t cfs_journal_appended(const cfs_journal *j)
{
    return j->appended;
}

/* Begin a read transaction, adopting a map another process has grown;
 * map_lock is held shared until read_end. */
int read_begin(cfs_journal *j, MDB_txn **txn)
{
    pthread_rwlock_rdlock(&j->map_lock);
    int rc = mdb_txn_begin(j->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED) {
        pthread_rwlock_unlock(&j->map_lock);
        map_resize(j, 0);
        pthread_rwlock_rdlock(&j->map_lock);
        rc = mdb_txn_begin(j->env, NULL, MDB_RDONLY, txn);
    }
    if (rc) {
        pthread_rwlock_unlock(&j->map_lock);
        return fail_msg(j, map_mdb(rc), "%s: %s", j->dir, mdb_strerror(rc));
    }
    return 0;
}

void read_end(cfs_journal *j, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&j->map_lock);
}

int map_resize(cfs_journal *j, size_t size)
{
    pthread_rwlock_wrlock(&j->map_lock);
    int rc = mdb_env_set_mapsize(j->env, size);
    pthread_rwlock_unlock(&j->map_lock);
    return rc;
}

int read_cursor(cfs_journal *j, MDB_dbi dbi, MDB_txn **txn, MDB_cursor **cur)
{
    int rc = read_begin(j, txn);
    if (rc)
        return rc;
    if ((rc = mdb_cursor_open(*txn, dbi, cur))) {
        read_end(j, *txn);
        return fail_msg(j, map_mdb(rc), "%s: %s", j->dir, mdb_strerror(rc));
    }
    return 0;
}

/* A reader's view of the sync log: the acknowledged events a SYNC-mode
 * writer has flushed there but not yet committed to LMDB. */
static int log_events(cfs_journal *j, uint64_t after,
                      int (*fn)(void *ctx, const cfs_event *ev), void *ctx)
{
    cfs_synclog *l;
    int rc = cfs_synclog_open_existing(j->dir, &l, j->errmsg, sizeof(j->errmsg));
    if (rc == CFS_JE_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    /* with a writer appending, a record it is writing may look torn:
     * damage is told from a crash's torn end only while none is */
    bool strict = cfs_journal_writer_pid(j->dir) == 0;
    rc = cfs_synclog_recover(l, after, fn, ctx, strict, j->errmsg, sizeof(j->errmsg));
    if (rc == CFS_JE_CORRUPT && strict && cfs_journal_writer_pid(j->dir) != 0) {
        cfs_synclog_close(l); /* one came meanwhile: read it as it is now */
        if ((rc = cfs_synclog_open_existing(j->dir, &l, j->errmsg, sizeof(j->errmsg))))
            return rc == CFS_JE_NOTFOUND ? 0 : rc;
        rc = cfs_synclog_recover(l, after, fn, ctx, false, j->errmsg, sizeof(j->errmsg));
    }
    cfs_synclog_close(l);
    return rc;
}

static int note_last(void *ctx, const cfs_event *ev)
{
    *(uint64_t *)ctx = ev->seq;
    return 0;
}

int cfs_journal_refresh(cfs_journal *j)
{
    if (j->writer)
        return 0; /* a writer knows what it committed */
    MDB_txn *txn;
    int rc = read_begin(j, &txn);
    if (rc)
        return rc;
    rc = read_committed(j, txn, &j->committed);
    read_end(j, txn);
    j->appended = j->committed;
    return rc;
}

/* ---- writing ------------------------------------------------------------------ */

/* Frames at least this big are bulk data. */
#define DROP_MIN ((size_t)256 << 10)

/* Once durable, drop the pages of bulk frames LMDB holds (DROP_MIN up to
 * CFS_BIGFRAME_MIN: bigger ones never enter the page cache, bigframes.c)
 * from the page cache. Nothing reads them back soon: the engine holds the
 * data, and a reader who wants them gets them from disk. The pages go back
 * to the kernel, and the next frames are written into them instead of into
 * fresh memory, which on a virtual machine is memory the host must back
 * anew (a 1 GiB write through the mount, side by side, when its frames
 * still went to LMDB: 1.0-1.15 s with this, 1.3-2.4 s without). Not with
 * durability none, whose pages are still dirty. */
static void drop_cached(cfs_journal *j, const cfs_commit_frame *frames, unsigned n)
{
    if (j->opts.durability == CFS_DURABILITY_NONE)
        return;
    unsigned big = 0;
    for (unsigned i = 0; i < n; i++)
        big += frames[i].len >= DROP_MIN && frames[i].len < CFS_BIGFRAME_MIN;
    MDB_txn *txn;
    int fd;
    MDB_envinfo info;
    if (!big || mdb_env_get_fd(j->env, &fd))
        return;
    /* not read_begin: this thread never writes the handle's message */
    pthread_rwlock_rdlock(&j->map_lock);
    if (mdb_txn_begin(j->env, NULL, MDB_RDONLY, &txn)) {
        pthread_rwlock_unlock(&j->map_lock);
        return;
    }
    mdb_env_info(j->env, &info);
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    for (unsigned i = 0; i < n; i++) {
        uint8_t key[8];
        put_be64(key, frames[i].first);
        MDB_val k = {8, key}, v;
        if (frames[i].len < DROP_MIN || frames[i].len >= CFS_BIGFRAME_MIN ||
            mdb_get(txn, j->db_events, &k, &v))
            continue;
        /* the value's own pages: whole pages inside it */
        uint64_t off = (uint64_t)((const uint8_t *)v.mv_data - (const uint8_t *)info.me_mapaddr);
        uint64_t start = (off + page - 1) / page * page, end = (off + v.mv_size) / page * page;
        if (end > start)
            posix_fadvise(fd, (off_t)start, (off_t)(end - start), POSIX_FADV_DONTNEED);
    }
    read_end(j, txn);
}

/* The big frames of a group into frames.dat, durably (put_frames' first
 * step): *ptrs gets a pointer for each (calloc'd, NULL when none is big)
 * and *mark the end to go back to if the group fails. */
static int put_big(cfs_journal *j, const cfs_commit_frame *frames, unsigned n,
                   uint8_t (**ptrs)[CFS_BIGFRAME_POINTER], uint64_t *mark, char *msg,
                   size_t cap)
{
    bool any = false;
    for (unsigned i = 0; i < n; i++)
        any |= frames[i].len >= CFS_BIGFRAME_MIN;
    if (!any)
        return 0;
    /* opened first: the mark is the file's end only once it is open */
    int rc = bigframe_open(j, msg, cap);
    if (rc)
        return rc;
    *mark = bigframe_mark(j);
    if (!(*ptrs = calloc(n, sizeof(**ptrs)))) {
        snprintf(msg, cap, "frames at seq %" PRIu64 "..: out of memory", frames[0].first);
        return CFS_JE_NOMEM;
    }
    for (unsigned i = 0; i < n && !rc; i++)
        if (frames[i].len >= CFS_BIGFRAME_MIN)
            rc = bigframe_append(j, frames[i].first, frames[i].data, frames[i].len,
                                 (*ptrs)[i], msg, cap);
    if (!rc && j->opts.durability != CFS_DURABILITY_NONE)
        rc = bigframe_sync(j, msg, cap);
    return rc;
}

/* Put frames in one write transaction (a big one as its pointer from
 * ptrs), growing the map when LMDB says it is full (never surfaced: only
 * a full disk is). */
static int put_lmdb(cfs_journal *j, const cfs_commit_frame *frames, unsigned n,
                    uint8_t (*ptrs)[CFS_BIGFRAME_POINTER], char *msg, size_t cap)
{
    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += frames[i].len;
    char what[96];
    if (n == 1)
        snprintf(what, sizeof(what), "frame at seq %" PRIu64, frames[0].first);
    else
        snprintf(what, sizeof(what), "%u frames at seq %" PRIu64 "..", n, frames[0].first);
    for (int attempt = 0;; attempt++) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(j->env, NULL, 0, &txn);
        if (rc) {
            snprintf(msg, cap, "%s: begin: %s", j->dir, mdb_strerror(rc));
            return map_mdb(rc);
        }
        for (unsigned i = 0; i < n && !rc; i++) {
            uint8_t key[8];
            put_be64(key, frames[i].first);
            MDB_val k = {8, key}, v = {frames[i].len, (void *)frames[i].data};
            if (ptrs && frames[i].len >= CFS_BIGFRAME_MIN)
                v = (MDB_val){CFS_BIGFRAME_POINTER, ptrs[i]};
            rc = mdb_put(txn, j->db_events, &k, &v, MDB_NOOVERWRITE | MDB_APPEND);
        }
        if (rc == 0 && ptrs)
            rc = bigframe_note_end(j, txn);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        if (rc == 0)
            return 0;
        if (rc != MDB_MAP_FULL)
            return write_failure(j, rc, total, msg, cap, what);
        if (attempt >= 20) {
            snprintf(msg, cap, "%s: map cannot grow", what);
            return CFS_JE_NOSPC;
        }
        if ((rc = grow_map(j, 2 * total, msg, cap)))
            return rc;
    }
}

/* The committer's put: big frames to frames.dat first, durably, then every
 * frame (or its pointer) in one LMDB transaction. Runs on the committer
 * thread: it touches only the environment and frames.dat's writing state,
 * and writes its message to `msg`, never to the handle. */
static int put_frames(void *ctx, const cfs_commit_frame *frames, unsigned n, char *msg,
                      size_t cap)
{
    cfs_journal *j = ctx;
    uint8_t (*ptrs)[CFS_BIGFRAME_POINTER] = NULL;
    uint64_t mark = 0;
    int rc = put_big(j, frames, n, &ptrs, &mark, msg, cap);
    if (!rc)
        rc = put_lmdb(j, frames, n, ptrs, msg, cap);
    if (rc && ptrs) /* nothing names what the group wrote: cut off */
        bigframe_rewind(j, mark);
    free(ptrs);
    if (!rc)
        drop_cached(j, frames, n);
    return rc;
}

int seek_at_or_before(MDB_cursor *cur, uint64_t seq, uint8_t key[8], MDB_val *k,
                      MDB_val *v)
{
    put_be64(key, seq);
    k->mv_size = 8;
    k->mv_data = key;
    int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        return mdb_cursor_get(cur, k, v, MDB_LAST);
    if (rc == 0 && (k->mv_size != 8 || get_be64(k->mv_data) > seq))
        return mdb_cursor_get(cur, k, v, MDB_PREV);
    return rc;
}

int write_failure(cfs_journal *j, int rc, uint64_t len, char *msg, size_t cap,
                  const char *what)
{
    /* LMDB reports a short write as EIO: when the disk has no room for
     * this write, the truth is ENOSPC. */
    struct statvfs vfs;
    if ((rc == EIO || rc == ENOSPC) && statvfs(j->dir, &vfs) == 0 &&
        (uint64_t)vfs.f_bavail * vfs.f_frsize < len + ((uint64_t)1 << 16)) {
        snprintf(msg, cap, "%s: disk full (%llu bytes free)", what,
                 (unsigned long long)vfs.f_bavail * vfs.f_frsize);
        return CFS_JE_NOSPC;
    }
    snprintf(msg, cap, "%s: %s", what, mdb_strerror(rc));
    return map_mdb(rc);
}

int grow_map(cfs_journal *j, size_t need, char *msg, size_t cap)
{
    MDB_envinfo info;
    mdb_env_info(j->env, &info);
    size_t grow = info.me_mapsize < ((size_t)1 << 30) ? info.me_mapsize : ((size_t)1 << 30);
    int rc = map_resize(j, info.me_mapsize + grow + need);
    if (rc) {
        snprintf(msg, cap, "growing the map: %s", mdb_strerror(rc));
        return map_mdb(rc);
    }
    return 0;
}

int ensure_map(cfs_journal *j, size_t need, char *msg, size_t cap)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(j->env, &info);
    mdb_env_stat(j->env, &st);
    size_t used = ((size_t)info.me_last_pgno + 1) * st.ms_psize;
    return used + need <= info.me_mapsize ? 0 : grow_map(j, need, msg, cap);
}

/* A writer's sticky failure, from its own calls or its committer: 0 if
 * none. The first call to see a commit thread's failure gets its code
 * (a full disk stays ENOSPC to the guest); later ones CFS_JE_FAILED. */
static int write_failed(cfs_journal *j)
{
    if (j->failed)
        return fail_sticky(j);
    int rc = j->cm ? cfs_committer_error(j->cm, j->errmsg, sizeof(j->errmsg)) : 0;
    if (rc)
        j->failed = true;
    return rc;
}

int cfs_journal_commit(cfs_journal *j)
{
    if (!j->writer)
        return fail_msg(j, CFS_JE_READONLY, "%s: opened read-only", j->dir);
    int rc = write_failed(j);
    if (rc)
        return rc;
    if (j->batch_count == 0)
        return 0;
    rc = cfs_committer_submit_batch(j->cm, j->batch_first, j->batch_count,
                                    &j->batch, &j->batch_cap, j->batch_len,
                                    j->errmsg, sizeof(j->errmsg));
    if (rc) {
        /* Sticky: the batch's events were applied by the engine but are
         * not in the journal; nothing may be built on that. */
        j->failed = true;
        if (!j->errmsg[0])
            fail_msg(j, rc, "frame at seq %" PRIu64 ": %s", j->batch_first,
                     cfs_strerror(rc));
        return rc;
    }
    j->batch_len = 0;
    j->batch_count = 0;
    j->batch_born_ns = 0;
    return 0;
}

/* Commit and wait until LMDB has everything (not necessarily synced). */
int commit_wait(cfs_journal *j)
{
    int rc = cfs_journal_commit(j);
    if (rc)
        return rc;
    rc = cfs_committer_drain(j->cm, j->errmsg, sizeof(j->errmsg));
    if (rc)
        j->failed = true;
    return rc;
}

/* Room in the batch for `need` more bytes (after the committer's
 * headroom, CFS_COMMIT_HEADROOM, and the records so far). */
static int batch_reserve(cfs_journal *j, size_t need)
{
    size_t want = CFS_COMMIT_HEADROOM + j->batch_len + need;
    if (want <= j->batch_cap)
        return 0;
    size_t cap = j->batch_cap ? j->batch_cap : 4096;
    while (cap < want)
        cap *= 2;
    uint8_t *nb = realloc(j->batch, cap);
    if (!nb)
        return fail_msg(j, CFS_JE_NOMEM, "append: out of memory");
    j->batch = nb;
    j->batch_cap = cap;
    return 0;
}

static void batch_encode(cfs_journal *j, const cfs_event *ev)
{
    if (j->batch_count == 0) {
        j->batch_first = ev->seq;
        memset(&j->enc, 0, sizeof(j->enc));
        j->enc.seq = ev->seq - 1;
    }
    j->batch_len += cfs_codec_encode(&j->enc, ev, j->batch + CFS_COMMIT_HEADROOM + j->batch_len);
    j->batch_count++;
    j->appended = ev->seq;
}

static bool batch_full(const cfs_journal *j)
{
    return j->batch_count >= j->opts.batch_events ||
           j->batch_len >= j->opts.batch_bytes;
}

/* Commit, make LMDB fully durable, start a new sync-log generation: after
 * this the log holds nothing LMDB does not. */
static int checkpoint(cfs_journal *j)
{
    int rc = commit_wait(j);
    if (rc)
        return rc;
    rc = mdb_env_sync(j->env, 1);
    if (rc) {
        j->failed = true;
        return fail_msg(j, map_mdb(rc), "%s: sync: %s", j->dir, mdb_strerror(rc));
    }
    if (j->slog && (rc = cfs_synclog_reset(j->slog, j->errmsg, sizeof(j->errmsg))))
        j->failed = true;
    return rc;
}

int cfs_journal_append(cfs_journal *j, const cfs_event *ev)
{
    if (!j->writer)
        return fail_msg(j, CFS_JE_READONLY, "%s: opened read-only", j->dir);
    int frc = write_failed(j);
    if (frc)
        return frc;
    if (!ev || ev->seq != j->appended + 1)
        return fail_msg(j, CFS_JE_INVAL, "append: seq %" PRIu64 ", expected %" PRIu64,
                        ev ? ev->seq : 0, j->appended + 1);
    /* a trigger snapshots the engine as it is: before this event */
    if (j->attached && (frc = snapshot_triggers(j, 0, false)))
        return frc;
    size_t need = cfs_codec_bound(ev);
    if (need > CFS_FRAME_MAX_RAW)
        return fail_msg(j, CFS_JE_INVAL,
                        "append: seq %" PRIu64 ": a %zu-byte event does not fit in a frame "
                        "(at most %u bytes)", ev->seq, need, (unsigned)CFS_FRAME_MAX_RAW);
    /* Close the frame before it overflows: a commit failing here fails
     * this event too, before it was journaled or applied. With the sync
     * log this is the only place a batch is committed, so an event that
     * reached the log is never followed by a failure of its own call. */
    if (j->batch_count && (j->batch_len + need > j->opts.batch_bytes ||
                           (j->slog && j->batch_count >= j->opts.batch_events))) {
        int rc = cfs_journal_commit(j);
        if (rc)
            return rc;
    }
    int rc = batch_reserve(j, need);
    if (rc)
        return rc;
    bool logged = false;
    if (j->slog) {
        /* the one flush that makes this event durable */
        rc = cfs_synclog_append(j->slog, ev, j->errmsg, sizeof(j->errmsg));
        if (rc < 0) {
            j->failed = true;
            return rc;
        }
        logged = rc == 0;
    }
    size_t before_len = j->batch_len;
    batch_encode(j, ev); /* cannot fail: room reserved */
    snapshot_count(j, j->batch_len - before_len);
    if (j->slog) {
        /* logged: durable, done. Not logged (the log is full): this
         * event is made durable by a checkpoint, or the call fails. */
        if (!logged)
            rc = checkpoint(j);
    } else if (batch_full(j) || j->opts.durability == CFS_DURABILITY_SYNC) {
        rc = cfs_journal_commit(j);
    }
    if (rc) {
        j->appended = ev->seq - 1;
        return rc;
    }
    return 0;
}

/* Opening for writing: move the sync log's records past LMDB's last seq
 * into LMDB and checkpoint. The log stays open in SYNC mode. */
static int recover_event(void *ctx, const cfs_event *ev)
{
    cfs_journal *j = ctx;
    int rc = batch_reserve(j, cfs_codec_bound(ev));
    if (rc)
        return rc;
    batch_encode(j, ev);
    return batch_full(j) ? cfs_journal_commit(j) : 0;
}

static int recover_synclog(cfs_journal *j)
{
    char path[4200];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/%s", j->dir, CFS_SYNCLOG_FILE);
    bool have = stat(path, &sb) == 0;
    if (!have && j->opts.durability != CFS_DURABILITY_SYNC)
        return 0;
    int rc = cfs_synclog_open(j->dir, &j->slog, j->errmsg, sizeof(j->errmsg));
    if (rc)
        return rc;
    uint64_t before = j->committed;
    rc = cfs_synclog_recover(j->slog, j->committed, recover_event, j, true, j->errmsg,
                             sizeof(j->errmsg));
    if (!rc && (j->batch_count || j->committed != before || have))
        rc = checkpoint(j);
    if (!rc && j->opts.durability != CFS_DURABILITY_SYNC) {
        cfs_synclog_close(j->slog);
        j->slog = NULL;
    }
    return rc;
}

int cfs_journal_sync(cfs_journal *j)
{
    int rc = j->writer ? write_failed(j) : 0;
    if (rc)
        return rc;
    if (j->slog)
        return 0; /* every event is already durable in the sync log */
    rc = commit_wait(j);
    if (rc || j->opts.durability == CFS_DURABILITY_NONE)
        return rc;
    rc = mdb_env_sync(j->env, 1);
    if (rc) {
        j->failed = true;
        return fail_msg(j, map_mdb(rc), "%s: sync: %s", j->dir, mdb_strerror(rc));
    }
    return 0;
}

int cfs_journal_failure(cfs_journal *j)
{
    int rc = j->writer ? write_failed(j) : 0;
    if (rc == CFS_JE_FAILED) /* the first failure's own words */
        fail_msg(j, rc, "%s: %s", j->dir, j->cause);
    return rc;
}

int cfs_journal_tick(cfs_journal *j, uint64_t now_ns)
{
    if (!j->writer)
        return 0;
    int rc = snapshot_triggers(j, now_ns ? now_ns : 1, false);
    if (rc || j->batch_count == 0)
        return rc;
    if (j->batch_born_ns == 0) {
        j->batch_born_ns = now_ns ? now_ns : 1;
        return 0;
    }
    if (now_ns - j->batch_born_ns < j->opts.batch_age_ns)
        return 0;
    return cfs_journal_commit(j);
}

static cfs_errno sink_append(void *ctx, const cfs_event *ev)
{
    switch (cfs_journal_append(ctx, ev)) {
    case 0: return 0;
    case CFS_JE_NOSPC: return CFS_ENOSPC;
    case CFS_JE_INVAL: return CFS_EINVAL; /* one event too big to journal */
    default: return CFS_EIO;
    }
}

static cfs_errno sink_sync(void *ctx)
{
    int rc = cfs_journal_sync(ctx);
    return rc == 0 ? 0 : rc == CFS_JE_NOSPC ? CFS_ENOSPC : CFS_EIO;
}

cfs_sink cfs_journal_sink(cfs_journal *j)
{
    cfs_sink s = {sink_append, sink_sync, j};
    return s;
}

/* ---- reading ---------------------------------------------------------------------- */

struct walk {
    cfs_journal *j;
    uint64_t from, to;
    int (*fn)(void *ctx, const cfs_event *ev);
    void *ctx;
    int stopped; /* fn's non-zero result */
};

static int walk_event(void *ctx, const cfs_event *ev)
{
    struct walk *w = ctx;
    if (ev->seq < w->from)
        return 0;
    if (w->to && ev->seq > w->to)
        return 1;
    int rc = w->fn ? w->fn(w->ctx, ev) : 0;
    if (rc)
        w->stopped = rc;
    return rc;
}

int cfs_journal_foreach(cfs_journal *j, uint64_t from, uint64_t to,
                        int (*fn)(void *ctx, const cfs_event *ev), void *ctx)
{
    if (from == 0)
        from = 1;
    /* A writer reads what it committed: wait for its commit thread, which
     * must be idle anyway while this thread holds a read transaction (it
     * may resize the map). */
    if (j->cm)
        cfs_committer_drain(j->cm, NULL, 0);
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = read_cursor(j, j->db_events, &txn, &cur);
    if (rc)
        return rc;
    /* start at the frame holding `from`: the last key <= from */
    uint8_t key[8];
    MDB_val k, v;
    int mrc = seek_at_or_before(cur, from, key, &k, &v);
    if (mrc == MDB_NOTFOUND)
        mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);

    struct walk w = {j, from, to, fn, ctx, 0};
    struct frame_buf fb = {0};
    uint64_t expect = 0; /* the first seq the next frame must have */
    char err[256];
    rc = 0;
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) {
            rc = fail_msg(j, CFS_JE_CORRUPT, "%s: events: key of %zu bytes", j->dir,
                          k.mv_size);
            break;
        }
        uint64_t first = get_be64(k.mv_data);
        if (expect && first != expect) {
            rc = fail_msg(j, CFS_JE_CORRUPT,
                          "frame at seq %" PRIu64 ": expected seq %" PRIu64 " (a gap)",
                          first, expect);
            break;
        }
        if (!expect && first > from) {
            rc = fail_msg(j, CFS_JE_NOTFOUND,
                          "%s: no event at seq %" PRIu64 ": the journal's events start at "
                          "seq %" PRIu64 " (earlier ones were compacted away, or this "
                          "journal was forked there)",
                          j->dir, from, first);
            break;
        }
        if (to && first > to)
            break;
        uint32_t count;
        uint64_t f2;
        rc = frame_whole(j, &v, first, &fb, err, sizeof(err));
        if (!rc)
            rc = cfs_frame_peek(v.mv_data, v.mv_size, first, &f2, &count, err, sizeof(err));
        if (!rc)
            rc = cfs_frame_decode_with(j->fc, v.mv_data, v.mv_size, first, walk_event, &w,
                                       err, sizeof(err));
        if (w.stopped) {
            rc = w.stopped;
            break;
        }
        if (rc == 1) { /* past `to` */
            rc = 0;
            break;
        }
        if (rc) {
            fail_msg(j, rc, "%s", err);
            break;
        }
        expect = first + count;
    }
    if (mrc && mrc != MDB_NOTFOUND && !rc)
        rc = fail_msg(j, map_mdb(mrc), "%s: %s", j->dir, mdb_strerror(mrc));
    bool past_to = to && expect > to;
    mdb_cursor_close(cur);
    /* no frames at all: a forked or fully compacted journal's events (in
     * the sync log) go on from its newest snapshot */
    uint64_t floor = 0;
    if (!rc && !expect && lmdb_committed(j, txn, &floor))
        floor = 0;
    read_end(j, txn);
    frame_buf_free(&fb);
    if (!rc && !j->writer && !past_to) {
        /* what a SYNC writer acknowledged but has not committed yet */
        uint64_t after = expect ? expect - 1 : floor;
        if (after < from - 1)
            after = from - 1;
        rc = log_events(j, after, walk_event, &w);
        if (rc == 1)
            rc = 0;
        if (w.stopped)
            rc = w.stopped;
    }
    return rc;
}

struct replay {
    cfs_fs *fs;
    cfs_journal *j;
};

static int replay_event(void *ctx, const cfs_event *ev)
{
    struct replay *r = ctx;
    cfs_errno e = cfs_fs_apply(r->fs, ev);
    if (e) {
        fail_msg(r->j, CFS_JE_DIVERGED, "seq %" PRIu64 ": %s: %s (%s)", ev->seq,
                 cfs_op_name(ev->op), cfs_errno_name(e), cfs_fs_errmsg(r->fs));
        return CFS_JE_DIVERGED;
    }
    return 0;
}

int cfs_journal_replay(cfs_journal *j, cfs_fs *fs, uint64_t to)
{
    struct replay r = {fs, j};
    uint64_t from = cfs_fs_seq(fs) + 1;
    if (to && to < from - 1)
        return fail_msg(j, CFS_JE_INVAL, "replay: engine at seq %" PRIu64 " is past %" PRIu64,
                        from - 1, to);
    int rc = cfs_journal_foreach(j, from, to, replay_event, &r);
    if (rc)
        return rc;
    if (to && cfs_fs_seq(fs) < to)
        return fail_msg(j, CFS_JE_NOTFOUND, "replay: seq %" PRIu64 " is past the journal's end (%" PRIu64 ")",
                        to, cfs_fs_seq(fs));
    return 0;
}

int cfs_journal_verify(cfs_journal *j)
{
    /* from the first frame kept (compaction may have dropped earlier ones) */
    MDB_txn *txn;
    int rc = read_begin(j, &txn);
    if (rc)
        return rc;
    MDB_cursor *cur;
    uint64_t from = 1;
    if (mdb_cursor_open(txn, j->db_events, &cur) == 0) {
        MDB_val k, v;
        if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size == 8)
            from = get_be64(k.mv_data);
        mdb_cursor_close(cur);
    }
    /* Events start at 1 unless something took the earlier ones away on
     * purpose: compaction (meta `compacted`), a fork (`base`), a receive
     * that started at a snapshot (`compacted` too; before this build, only
     * `origin`, with that snapshot kept). Else frames were lost. */
    bool accounted = from <= 1;
    MDB_val v;
    if (!accounted && meta_get(txn, j, "compacted", &v) == 0 && v.mv_size == 8)
        accounted = from <= get64(v.mv_data) + 1;
    if (!accounted && meta_get(txn, j, "base", &v) == 0 && v.mv_size == 40)
        accounted = from <= get64((const uint8_t *)v.mv_data + 32) + 1;
    if (!accounted && meta_get(txn, j, "origin", &v) == 0 &&
        mdb_cursor_open(txn, j->db_snapshots, &cur) == 0) {
        MDB_val k, sv;
        if (mdb_cursor_get(cur, &k, &sv, MDB_FIRST) == 0 && k.mv_size == 8)
            accounted = from <= get_be64(k.mv_data) + 1;
        mdb_cursor_close(cur);
    }
    read_end(j, txn);
    if (!accounted)
        return fail_msg(j, CFS_JE_CORRUPT, "%s: the events start at seq %" PRIu64 ", but no "
                        "compaction, fork or receive took the earlier ones away: frames "
                        "are missing", j->dir, from);
    return cfs_journal_foreach(j, from, 0, NULL, NULL);
}

int cfs_journal_writer_note(cfs_journal *j, const char *note)
{
    if (!j->writer || j->lock_fd < 0)
        return fail_msg(j, CFS_JE_READONLY, "%s: opened read-only", j->dir);
    char buf[4200];
    int n = snprintf(buf, sizeof(buf), "%ld\n%.4096s\n", (long)getpid(), note);
    /* over the pid line, never through an empty file (a reader then would
     * see the lock held by nobody it can name) */
    if (pwrite(j->lock_fd, buf, (size_t)n, 0) != n)
        return fail_msg(j, CFS_JE_IO, "%s/%s: %s", j->dir, LOCK_FILE, strerror(errno));
    return 0;
}

long cfs_journal_writer(const char *dir, char *note, size_t cap)
{
    if (note && cap)
        note[0] = 0;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, LOCK_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    /* F_OFD_GETLK tests for the lock without taking it (a read-only
     * descriptor will do on Linux); the holder wrote its pid in the file
     * just after taking it, so an empty file is a holder caught between.
     * Its note, if any, is the line after the pid. */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    long pid = 0;
    if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
        char buf[4300] = {0};
        ssize_t n = pread(fd, buf, note && cap ? sizeof(buf) - 1 : 31, 0);
        pid = n > 0 ? strtol(buf, NULL, 10) : 0;
        if (pid <= 0)
            pid = -1; /* locked, holder unknown */
        char *nl = pid > 0 && note && cap ? strchr(buf, '\n') : NULL;
        if (nl) {
            nl[1 + strcspn(nl + 1, "\n")] = 0;
            snprintf(note, cap, "%s", nl + 1);
        }
    }
    close(fd);
    return pid;
}

long cfs_journal_writer_pid(const char *dir)
{
    return cfs_journal_writer(dir, NULL, 0);
}
