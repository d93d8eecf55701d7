/*
 * bench_journal.c — chronofs-bench's `journal` suite (issue 3, "Benchmark").
 *
 * Two event streams, recorded once from real engine workloads
 * (bench_events.c): metadata-heavy events (create, set times, chmod,
 * rename, unlink) and 64 KiB writes of English-like text. On them, side by
 * side, repetition after repetition:
 *
 *   chronofs  cfs_journal_open(create) + cfs_journal_append() per event +
 *             cfs_journal_close(), in `none`, `batch` and `sync` modes, and
 *             the bulk writes in `batch` mode (and `none`, which shows what
 *             batch's fsyncs cost);
 *   raw LMDB  the same frames (built once with journal/frame.h, batched
 *             exactly as the journal batches, outside the timing) put into
 *             a plain LMDB env, one mdb_put per write txn, big-endian
 *             first-seq keys with MDB_APPEND, with the LMDB flags of the
 *             chronofs mode it is compared with: the storage ceiling;
 *   SQLite    the same encoded records as BLOBs under `seq INTEGER PRIMARY
 *             KEY`, WAL mode: one transaction per journal batch with
 *             synchronous=NORMAL; one row per transaction with
 *             synchronous=FULL for the sync comparison;
 *   zstd      ZSTD_compressCCtx at the journal's level on the same batches
 *             of encoded bulk records that chronofs compresses;
 *   codec     cfs_codec_encode + cfs_frame_encode of each batch in memory:
 *             what the journal spends before LMDB sees a frame.
 *
 * The runs of a repetition share a mkdtemp() dir under /tmp (a real disk:
 * fsync must cost what it costs); how they are ordered and interleaved is
 * explained at cfs_side below. Times include open/create and close on
 * every side (close is where the journal commits its last batch). Rates
 * count events (or MB of WRITE payload for bulk); ratios are best against
 * best, and median against median.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>
#include <sqlite3.h>
#include <zstd.h>

#include "bench.h"
#include "bytes.h"
#include "cfs_journal.h"
#include "frame.h"

typedef struct cfs_journal_sizes {
    size_t meta_events;     /* metadata stream */
    int meta_per_dir;       /* its files per directory and round */
    size_t sync_events;     /* its prefix appended in sync mode */
    uint64_t bulk_bytes;    /* WRITE payload of the bulk stream */
    size_t write_size;
} cfs_journal_sizes;

/* ---------------------------------------------------------------------- */
/* Encoded streams and their frames, built once, outside the timing         */

typedef struct cfs_batch {
    uint64_t first_seq;
    uint32_t count;
    size_t raw_off, raw_len;       /* encoded records in enc->raw */
    size_t frame_off, frame_len;   /* the frame in enc->frames */
} cfs_batch;

typedef struct cfs_encoded {
    uint8_t *raw;          /* every record, frame after frame */
    size_t raw_len;
    size_t *rec_off;       /* record i is raw[rec_off[i] .. rec_off[i+1]) */
    size_t events;
    cfs_batch *batches;
    size_t nbatches;
    uint8_t *frames;
    size_t frames_len;
} cfs_encoded;

/*
 * Encode events[0..n) into batches exactly as store.c's cfs_journal_append
 * cuts them — close the batch before an event whose bound would overflow
 * batch_bytes, and after one that fills batch_events or batch_bytes (every
 * event, in sync mode) — and build each batch's frame. The suite checks
 * the journal's own frames against these byte for byte.
 */
static void cfs_encode(cfs_encoded *e, const cfs_event *ev, size_t n,
                       const cfs_journal_opts *jo, int each_event)
{
    memset(e, 0, sizeof *e);
    size_t bound = 0;
    for (size_t i = 0; i < n; i++)
        bound += cfs_codec_bound(&ev[i]);
    e->raw = malloc(bound ? bound : 1);
    e->rec_off = malloc((n + 1) * sizeof *e->rec_off);
    e->batches = malloc((n ? n : 1) * sizeof *e->batches);
    if (!e->raw || !e->rec_off || !e->batches)
        cfs_bench_die("out of memory encoding events");
    e->events = n;

    cfs_codec_ctx ctx;
    cfs_batch *b = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t need = cfs_codec_bound(&ev[i]);
        if (b && b->raw_len + need > jo->batch_bytes)
            b = NULL;
        if (!b) {
            b = &e->batches[e->nbatches++];
            memset(b, 0, sizeof *b);
            b->first_seq = ev[i].seq;
            b->raw_off = e->raw_len;
            memset(&ctx, 0, sizeof ctx);
            ctx.seq = ev[i].seq - 1;
        }
        e->rec_off[i] = e->raw_len;
        size_t len = cfs_codec_encode(&ctx, &ev[i], e->raw + e->raw_len);
        e->raw_len += len;
        b->raw_len += len;
        b->count++;
        if (each_event || b->count >= jo->batch_events ||
            b->raw_len >= jo->batch_bytes)
            b = NULL;
    }
    e->rec_off[n] = e->raw_len;
    cfs_batch *shrunk = realloc(e->batches,
                                (e->nbatches ? e->nbatches : 1) * sizeof *b);
    if (shrunk)
        e->batches = shrunk;

    cfs_frame_codec *fc = cfs_frame_codec_new(jo->zstd_level);
    if (!fc)
        cfs_bench_die("out of memory");
    size_t cap = 0;
    for (size_t i = 0; i < e->nbatches; i++) {
        cfs_batch *bt = &e->batches[i];
        const uint8_t *frame;
        size_t flen;
        int rc = cfs_frame_encode(fc, bt->first_seq, bt->count,
                                  e->raw + bt->raw_off, bt->raw_len, &frame,
                                  &flen);
        if (rc)
            cfs_bench_die("cfs_frame_encode at seq %" PRIu64 ": %s",
                          bt->first_seq, cfs_strerror(rc));
        if (e->frames_len + flen > cap) {
            cap = (e->frames_len + flen) * 2;
            e->frames = realloc(e->frames, cap);
            if (!e->frames)
                cfs_bench_die("out of memory");
        }
        memcpy(e->frames + e->frames_len, frame, flen);
        bt->frame_off = e->frames_len;
        bt->frame_len = flen;
        e->frames_len += flen;
    }
    cfs_frame_codec_free(fc);
}

static void cfs_encoded_free(cfs_encoded *e)
{
    free(e->raw);
    free(e->rec_off);
    free(e->batches);
    free(e->frames);
    memset(e, 0, sizeof *e);
}

/* ---------------------------------------------------------------------- */
/* The work dir                                                             */

static char cfs_workdir[256];
static int cfs_workfd = -1;
static char cfs_repdir[300];          /* "<workdir>/rep<N>" */

/*
 * Each repetition writes into a directory of its own, removed when the next
 * one starts (and at the end). Not run by run: on a filesystem mounted with
 * `discard` the blocks a deletion frees are trimmed at the next journal
 * commit, which would land in the next run's first fsync. The first run of
 * a repetition is a `none` one, which never fsyncs.
 */
static void cfs_rep_begin(int rep)
{
    if (cfs_repdir[0])
        cfs_bench_rmtree(cfs_repdir);
    if (rep < 0) {
        cfs_repdir[0] = '\0';
        return;
    }
    snprintf(cfs_repdir, sizeof cfs_repdir, "%s/rep%d", cfs_workdir, rep + 1);
    if (mkdir(cfs_repdir, 0755) < 0)
        cfs_bench_die("mkdir %s: %s", cfs_repdir, strerror(errno));
}

/*
 * The path for one run, "<repdir>/<name>", which does not exist yet. First
 * everything written so far is flushed (syncfs), so that no run is charged
 * for an earlier one's writeback.
 */
static const char *cfs_run_path(const char *name)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", cfs_repdir, name);
    if (syncfs(cfs_workfd) < 0)
        cfs_bench_die("syncfs %s: %s", cfs_workdir, strerror(errno));
    return path;
}

/*
 * The weather: the median time of an fdatasync() after a 4 KiB append to a
 * file in the work dir (what a commit that grows a file pays at least).
 * Printed with the results, since the fsyncing figures move with it.
 */
static double cfs_fsync_probe(void)
{
    char path[PATH_MAX], buf[4096];
    double v[16], best, median;

    snprintf(path, sizeof path, "%s/fsync-probe", cfs_workdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        cfs_bench_die("open %s: %s", path, strerror(errno));
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < 16; i++) {
        double t0 = cfs_bench_now();
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf ||
            fdatasync(fd) < 0)
            cfs_bench_die("%s: %s", path, strerror(errno));
        v[i] = cfs_bench_now() - t0;
    }
    close(fd);
    unlink(path);
    cfs_bench_best_median(v, 16, &best, &median);
    return median;
}

/* The filesystem the work dir is on, from /proc/self/mounts (the longest
 * mount point that is a prefix of it), e.g. "ext4 (/dev/vda on /)". */
static void cfs_describe_fs(const char *dir, char *out, size_t cap)
{
    char real[PATH_MAX], line[4096];
    size_t best = 0;
    snprintf(out, cap, "unknown filesystem");
    if (!realpath(dir, real))
        return;
    FILE *f = fopen("/proc/self/mounts", "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char dev[200], mnt[256], type[64];
        if (sscanf(line, "%199s %255s %63s", dev, mnt, type) != 3)
            continue;
        size_t n = strlen(mnt);
        int under = !strcmp(mnt, "/") ||
                    (!strncmp(real, mnt, n) &&
                     (real[n] == '/' || real[n] == '\0'));
        if (under && n >= best) {
            best = n;
            snprintf(out, cap, "%s (%s on %s)", type, dev, mnt);
        }
    }
    fclose(f);
}

/* ---------------------------------------------------------------------- */
/* What a journal holds                                                     */

typedef struct cfs_disk {
    uint64_t frames, frame_bytes;  /* values in `events` */
    uint64_t mdb_bytes;            /* LMDB pages in use x page size */
    uint64_t file_bytes;           /* data.mdb's size */
    int identical;                 /* frames byte-identical to cfs_encode's */
} cfs_disk;

/*
 * What a closed journal holds: reopened through the API, it must have
 * committed every event and pass cfs_journal_verify() (a fast run that
 * kept nothing would be a fine figure and a bug); read directly with LMDB,
 * its frames are measured and compared with the baselines' frames.
 */
static void cfs_check_journal(const char *dir, size_t n,
                              const cfs_encoded *e, cfs_disk *d)
{
    cfs_journal_opts jo;
    cfs_journal *j;
    char err[256], path[PATH_MAX];

    cfs_journal_opts_default(&jo);
    jo.read_only = 1;
    int rc = cfs_journal_open(dir, &jo, &j, err, sizeof err);
    if (rc)
        cfs_bench_die("reopening %s: %s", dir, err);
    if (cfs_journal_committed(j) != n)
        cfs_bench_die("%s: %" PRIu64 " events committed, %zu appended", dir,
                      cfs_journal_committed(j), n);
    if ((rc = cfs_journal_verify(j)))
        cfs_bench_die("%s: verify: %s", dir, cfs_journal_errmsg(j));
    cfs_journal_close(j);

    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k, v;
    MDB_envinfo info;
    MDB_stat st;
    memset(d, 0, sizeof *d);
    d->identical = 1;
    if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, 4)) ||
        (rc = mdb_env_open(env, dir, MDB_RDONLY, 0644)) ||
        (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) ||
        (rc = mdb_dbi_open(txn, "events", 0, &dbi)) ||
        (rc = mdb_cursor_open(txn, dbi, &cur)))
        cfs_bench_die("reading %s with LMDB: %s", dir, mdb_strerror(rc));
    snprintf(path, sizeof path, "%s/frames.dat", dir);
    int bfd = open(path, O_RDONLY | O_CLOEXEC); /* big frames, if any */
    uint8_t *big = NULL;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *p = v.mv_data;
        if (v.mv_size == 72 && memcmp(p, "CFSF\x02\x00", 6) == 0) {
            /* a pointer to a big frame (FORMAT.md, "Big frames") */
            uint64_t off = get64(p + 8), len = get64(p + 16);
            free(big);
            if (bfd < 0 || !(big = malloc(len)) ||
                pread(bfd, big, len, (off_t)off) != (ssize_t)len)
                cfs_bench_die("%s: cannot read the big frame at offset %" PRIu64, path, off);
            v.mv_data = big;
            v.mv_size = len;
        }
        if (d->frames < e->nbatches) {
            const cfs_batch *b = &e->batches[d->frames];
            if (v.mv_size != b->frame_len ||
                memcmp(v.mv_data, e->frames + b->frame_off, b->frame_len))
                d->identical = 0;
        }
        d->frames++;
        d->frame_bytes += v.mv_size;
    }
    free(big);
    if (bfd >= 0)
        close(bfd);
    if (d->frames != e->nbatches)
        d->identical = 0;
    mdb_env_info(env, &info);
    mdb_env_stat(env, &st);
    d->mdb_bytes = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    mdb_env_close(env);

    struct stat sb;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (stat(path, &sb) == 0)
        d->file_bytes = (uint64_t)sb.st_size;
    snprintf(path, sizeof path, "%s/frames.dat", dir);
    if (stat(path, &sb) == 0)
        d->file_bytes += (uint64_t)sb.st_size;
}

/* ---------------------------------------------------------------------- */
/* The sides of a comparison                                                */

/*
 * A side is opened, fed the stream batch by batch (the batches of one
 * cfs_encoded, which are the journal's own), and closed; its time is the
 * sum of its own steps. Sides that fsync what they write run interleaved
 * batch by batch, rotating who goes first, so that on a shared disk whose
 * fsync latency swings tenfold within seconds each side meets the same
 * weather. Sides that leave unsynced data behind (`none` mode, SQLite with
 * synchronous=NORMAL) run alone, after a syncfs: their dirty pages would
 * otherwise be written back inside another side's fsync (ext4's ordered
 * mode flushes the data of files that grew before a journal commit).
 * The journal runs alone too, before the baselines it is compared with:
 * it compresses and writes on threads of its own, which, interleaved,
 * would work during the other sides' timed steps (taking their CPU, and
 * not counted in its own time).
 */
typedef enum cfs_side_kind {
    CFS_SIDE_JOURNAL,   /* chronofs: cfs_journal_append per event */
    CFS_SIDE_LMDB,      /* the same frames, mdb_put, one txn per frame */
    CFS_SIDE_SQLITE,    /* the same records, one SQLite txn per batch */
    CFS_SIDE_ZSTD,      /* ZSTD_compressCCtx per batch, in memory */
    CFS_SIDE_CODEC,     /* cfs_codec_encode + cfs_frame_encode, in memory */
} cfs_side_kind;

typedef struct cfs_side {
    cfs_side_kind kind;
    const cfs_encoded *e;
    const cfs_event *ev;        /* the stream e encodes (journal, codec) */
    double seconds;
    char path[PATH_MAX];
    /* JOURNAL */
    cfs_durability mode;
    cfs_journal *j;
    /* LMDB */
    unsigned mdb_flags;
    MDB_env *env;
    MDB_dbi dbi;
    /* SQLITE */
    const char *synchronous;
    sqlite3 *db;
    sqlite3_stmt *begin, *commit, *ins;
    uint64_t db_bytes;          /* the database's size after close */
    /* ZSTD and CODEC */
    int level;
    ZSTD_CCtx *cctx;
    cfs_frame_codec *fc;
    uint8_t *buf;
    size_t cap;
    uint64_t out_bytes;         /* compressed (ZSTD), frames (CODEC) */
} cfs_side;

static cfs_side cfs_side_journal(const cfs_encoded *e, const cfs_event *ev,
                                 cfs_durability mode)
{
    return (cfs_side){.kind = CFS_SIDE_JOURNAL, .e = e, .ev = ev,
                      .mode = mode};
}

static cfs_side cfs_side_lmdb(const cfs_encoded *e, unsigned flags)
{
    return (cfs_side){.kind = CFS_SIDE_LMDB, .e = e, .mdb_flags = flags};
}

static cfs_side cfs_side_sqlite(const cfs_encoded *e, const char *sync)
{
    return (cfs_side){.kind = CFS_SIDE_SQLITE, .e = e, .synchronous = sync};
}

static cfs_side cfs_side_zstd(const cfs_encoded *e, int level)
{
    return (cfs_side){.kind = CFS_SIDE_ZSTD, .e = e, .level = level};
}

static cfs_side cfs_side_codec(const cfs_encoded *e, const cfs_event *ev,
                               int level)
{
    return (cfs_side){.kind = CFS_SIDE_CODEC, .e = e, .ev = ev,
                      .level = level};
}

static void cfs_be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

#define CFS_MDB_CHECK(what, call)                                             \
    do {                                                                      \
        int rc_ = (call);                                                     \
        if (rc_)                                                              \
            cfs_bench_die("raw LMDB: %s: %s", what, mdb_strerror(rc_));       \
    } while (0)

static void cfs_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        cfs_bench_die("SQLite: %s: %s", sql, msg ? msg : sqlite3_errmsg(db));
}

static sqlite3_stmt *cfs_sql_prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        cfs_bench_die("SQLite: %s: %s", sql, sqlite3_errmsg(db));
    return st;
}

static void cfs_sql_step(sqlite3 *db, sqlite3_stmt *st)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        cfs_bench_die("SQLite: %s: %s", sqlite3_sql(st), sqlite3_errmsg(db));
    sqlite3_reset(st);
}

/* Create the side's store at `path` (which must not exist). */
static void cfs_side_open(cfs_side *s, const char *path)
{
    char err[256], sql[64];

    snprintf(s->path, sizeof s->path, "%s", path);
    /* Stores that want their directory made get it outside the timing
     * (the journal makes its own, inside cfs_journal_open). */
    if (s->kind == CFS_SIDE_LMDB || s->kind == CFS_SIDE_SQLITE)
        if (mkdir(path, 0755) < 0)
            cfs_bench_die("mkdir %s: %s", path, strerror(errno));
    double t0 = cfs_bench_now();
    switch (s->kind) {
    case CFS_SIDE_JOURNAL: {
        cfs_journal_opts jo;
        cfs_journal_opts_default(&jo);
        jo.durability = s->mode;
        jo.create = 1;
        if (cfs_journal_open(path, &jo, &s->j, err, sizeof err))
            cfs_bench_die("cfs_journal_open %s: %s", path, err);
        break;
    }
    case CFS_SIDE_LMDB: {
        MDB_txn *txn;
        CFS_MDB_CHECK("env_create", mdb_env_create(&s->env));
        CFS_MDB_CHECK("set_maxdbs", mdb_env_set_maxdbs(s->env, 4));
        /* Sized up front (the journal starts at 64 MiB and grows): a
         * ceiling does not pay for growth. */
        CFS_MDB_CHECK("set_mapsize",
                      mdb_env_set_mapsize(s->env, ((size_t)64 << 20) +
                                                      2 * s->e->frames_len));
        CFS_MDB_CHECK("env_open", mdb_env_open(s->env, path,
                                               s->mdb_flags | MDB_NOTLS,
                                               0644));
        CFS_MDB_CHECK("txn_begin", mdb_txn_begin(s->env, NULL, 0, &txn));
        CFS_MDB_CHECK("dbi_open", mdb_dbi_open(txn, "events", MDB_CREATE,
                                               &s->dbi));
        CFS_MDB_CHECK("commit", mdb_txn_commit(txn));
        break;
    }
    case CFS_SIDE_SQLITE:
        /* In a directory of its own, with its -wal and -shm files. */
        snprintf(s->path, sizeof s->path, "%s/events.db", path);
        if (sqlite3_open_v2(s->path, &s->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            NULL) != SQLITE_OK)
            cfs_bench_die("SQLite: open %s: %s", s->path,
                          sqlite3_errmsg(s->db));
        cfs_sql(s->db, "PRAGMA journal_mode=WAL");
        snprintf(sql, sizeof sql, "PRAGMA synchronous=%s", s->synchronous);
        cfs_sql(s->db, sql);
        cfs_sql(s->db, "CREATE TABLE events(seq INTEGER PRIMARY KEY, "
                       "rec BLOB NOT NULL)");
        /* Prepared once: SQLite at its best, not parsing SQL per row. */
        s->begin = cfs_sql_prepare(s->db, "BEGIN");
        s->commit = cfs_sql_prepare(s->db, "COMMIT");
        s->ins = cfs_sql_prepare(s->db, "INSERT INTO events(seq, rec) "
                                        "VALUES(?1, ?2)");
        break;
    case CFS_SIDE_ZSTD:
    case CFS_SIDE_CODEC:
        /* The journal keeps its contexts and buffers for its lifetime;
         * so do these, made outside the timing. */
        s->cap = 0;
        for (size_t i = 0; i < s->e->nbatches; i++) {
            size_t n = s->e->batches[i].raw_len;
            if (s->kind == CFS_SIDE_ZSTD)
                n = ZSTD_compressBound(n);
            if (n > s->cap)
                s->cap = n;
        }
        s->buf = malloc(s->cap ? s->cap : 1);
        if (s->kind == CFS_SIDE_ZSTD)
            s->cctx = ZSTD_createCCtx();
        else
            s->fc = cfs_frame_codec_new(s->level);
        if (!s->buf || (!s->cctx && !s->fc))
            cfs_bench_die("out of memory");
        t0 = cfs_bench_now();
        break;
    }
    s->seconds += cfs_bench_now() - t0;
}

/* Feed batch bi of s->e. */
static void cfs_side_batch(cfs_side *s, size_t bi)
{
    const cfs_encoded *e = s->e;
    const cfs_batch *b = &e->batches[bi];
    size_t first = (size_t)(b->first_seq - e->batches[0].first_seq);
    int rc;

    double t0 = cfs_bench_now();
    switch (s->kind) {
    case CFS_SIDE_JOURNAL:
        for (size_t i = first; i < first + b->count; i++)
            if ((rc = cfs_journal_append(s->j, &s->ev[i])))
                cfs_bench_die("cfs_journal_append seq %" PRIu64 ": %s: %s",
                              s->ev[i].seq, cfs_strerror(rc),
                              cfs_journal_errmsg(s->j));
        break;
    case CFS_SIDE_LMDB: {
        MDB_txn *txn;
        uint8_t key[8];
        cfs_be64(key, b->first_seq);
        MDB_val k = {8, key};
        MDB_val v = {b->frame_len, e->frames + b->frame_off};
        CFS_MDB_CHECK("txn_begin", mdb_txn_begin(s->env, NULL, 0, &txn));
        CFS_MDB_CHECK("put", mdb_put(txn, s->dbi, &k, &v,
                                     MDB_NOOVERWRITE | MDB_APPEND));
        CFS_MDB_CHECK("commit", mdb_txn_commit(txn));
        break;
    }
    case CFS_SIDE_SQLITE:
        cfs_sql_step(s->db, s->begin);
        for (size_t i = first; i < first + b->count; i++) {
            sqlite3_bind_int64(s->ins, 1,
                               (sqlite3_int64)(b->first_seq + (i - first)));
            sqlite3_bind_blob(s->ins, 2, e->raw + e->rec_off[i],
                              (int)(e->rec_off[i + 1] - e->rec_off[i]),
                              SQLITE_STATIC);
            cfs_sql_step(s->db, s->ins);
        }
        cfs_sql_step(s->db, s->commit);
        break;
    case CFS_SIDE_ZSTD: {
        size_t r = ZSTD_compressCCtx(s->cctx, s->buf, s->cap,
                                     e->raw + b->raw_off, b->raw_len,
                                     s->level);
        if (ZSTD_isError(r))
            cfs_bench_die("zstd: %s", ZSTD_getErrorName(r));
        s->out_bytes += r;
        break;
    }
    case CFS_SIDE_CODEC: {
        /* What the journal does to a batch before LMDB sees it. */
        cfs_codec_ctx ctx = {.seq = b->first_seq - 1};
        size_t len = 0;
        const uint8_t *frame;
        size_t flen;
        for (size_t i = first; i < first + b->count; i++)
            len += cfs_codec_encode(&ctx, &s->ev[i], s->buf + len);
        if ((rc = cfs_frame_encode(s->fc, b->first_seq, b->count, s->buf,
                                   len, &frame, &flen)))
            cfs_bench_die("cfs_frame_encode: %s", cfs_strerror(rc));
        s->out_bytes += flen;
        break;
    }
    }
    s->seconds += cfs_bench_now() - t0;
}

/* Close (the journal commits its last batch here) and free. */
static void cfs_side_close(cfs_side *s)
{
    int rc;
    double t0 = cfs_bench_now();
    switch (s->kind) {
    case CFS_SIDE_JOURNAL:
        if ((rc = cfs_journal_close(s->j)))
            cfs_bench_die("cfs_journal_close %s: %s", s->path,
                          cfs_strerror(rc));
        s->j = NULL;
        break;
    case CFS_SIDE_LMDB:
        mdb_env_close(s->env);
        s->env = NULL;
        break;
    case CFS_SIDE_SQLITE:
        /* Timed: the last connection's close checkpoints the WAL into the
         * database. */
        sqlite3_finalize(s->begin);
        sqlite3_finalize(s->commit);
        sqlite3_finalize(s->ins);
        if (sqlite3_close(s->db) != SQLITE_OK)
            cfs_bench_die("SQLite: close %s: busy", s->path);
        s->db = NULL;
        break;
    case CFS_SIDE_ZSTD:
    case CFS_SIDE_CODEC:
        break;
    }
    s->seconds += cfs_bench_now() - t0;
    ZSTD_freeCCtx(s->cctx);
    cfs_frame_codec_free(s->fc);
    free(s->buf);
    s->cctx = NULL;
    s->fc = NULL;
    s->buf = NULL;
}

/* The rows are all there (outside the timing), and the database's size. */
static void cfs_check_sqlite(cfs_side *s)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    size_t n = s->e->events;
    if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READONLY, NULL) !=
        SQLITE_OK)
        cfs_bench_die("SQLite: reopen %s: %s", s->path, sqlite3_errmsg(db));
    st = cfs_sql_prepare(db, "SELECT count(*), max(seq) FROM events");
    if (sqlite3_step(st) != SQLITE_ROW ||
        (size_t)sqlite3_column_int64(st, 0) != n ||
        (size_t)sqlite3_column_int64(st, 1) != n)
        cfs_bench_die("SQLite: %s does not hold the %zu rows inserted",
                      s->path, n);
    sqlite3_finalize(st);
    sqlite3_close(db);
    struct stat sb;
    s->db_bytes = stat(s->path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/*
 * One run: open every side (each in "<repdir>/<its name>"), feed them the
 * batches round-robin, rotating who goes first, and close them. Each
 * side's seconds are its own.
 */
static void cfs_run_interleaved(cfs_side *sides, const char *const *names, int n)
{
    const cfs_encoded *e = sides[0].e;
    for (int k = 0; k < n; k++) {
        sides[k].seconds = 0;
        sides[k].out_bytes = 0;
    }
    for (int k = 0; k < n; k++)
        cfs_side_open(&sides[k], cfs_run_path(names[k]));
    for (size_t bi = 0; bi < e->nbatches; bi++)
        for (int k = 0; k < n; k++)
            cfs_side_batch(&sides[(bi + (size_t)k) % (size_t)n], bi);
    for (int k = 0; k < n; k++)
        cfs_side_close(&sides[k]);
}

/* A journal side (sides[0], if it is one) alone, then the others
 * interleaved: see cfs_side. */
static void cfs_run(cfs_side *sides, const char *const *names, int n)
{
    if (n > 1 && sides[0].kind == CFS_SIDE_JOURNAL) {
        cfs_run_interleaved(sides, names, 1);
        cfs_run_interleaved(sides + 1, names + 1, n - 1);
    } else {
        cfs_run_interleaved(sides, names, n);
    }
}

/* ---------------------------------------------------------------------- */
/* The suite                                                                */

/* One measured figure: a rate per repetition. */
typedef struct cfs_fig {
    double v[CFS_BENCH_MAX_REPS];
    double best, median;
} cfs_fig;

static void cfs_fig_done(cfs_fig *f, int reps)
{
    cfs_bench_best_median(f->v, reps, &f->best, &f->median);
}

/* "1,234,567" */
static const char *cfs_thousands(double x, char *buf, size_t cap)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%.0f", x);
    size_t len = strlen(tmp), o = 0;
    for (size_t i = 0; i < len && o + 2 < cap; i++) {
        if (i && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

/* A figure as "best (median)", with thousands separators for big rates. */
static const char *cfs_fig_text(const cfs_fig *f, char *buf, size_t cap)
{
    char b[32], m[32];
    if (f->best >= 10000)
        snprintf(buf, cap, "%s (%s)", cfs_thousands(f->best, b, sizeof b),
                 cfs_thousands(f->median, m, sizeof m));
    else
        snprintf(buf, cap, "%.0f (%.0f)", f->best, f->median);
    return buf;
}

#define CFS_ROW_FMT "%-27s %22s  %-29s %22s %14s  %s\n"

/* One comparison: chronofs (or "" when the row only names a baseline),
 * a baseline, the ratio best/best (median/median), and a target
 * ("" for none) with its verdict. */
static void cfs_row(const char *what, const cfs_fig *ours,
                    const char *base_name, const cfs_fig *base,
                    double target)
{
    char a[80] = "", b[80] = "", r[32] = "", t[48] = "";
    if (ours)
        cfs_fig_text(ours, a, sizeof a);
    if (base)
        cfs_fig_text(base, b, sizeof b);
    if (ours && base) {
        double rb = cfs_bench_ratio(ours->best, base->best);
        snprintf(r, sizeof r, "%.2fx (%.2fx)", rb,
                 cfs_bench_ratio(ours->median, base->median));
        if (target > 0)
            snprintf(t, sizeof t, ">= %.2gx  %s", target,
                     rb >= target ? "met" : "MISSED");
    }
    printf(CFS_ROW_FMT, what, a, base_name, b, r, t);
}

int cfs_bench_suite_journal(const cfs_bench_opts *o)
{
    cfs_journal_sizes z = {.write_size = 64 * 1024};
    if (o->quick) {
        /* Seconds even in a sanitized Debug build: the streams are
         * recorded through the engine, whose invariant checks walk the
         * whole state after every event — hence few files at a time. */
        z.meta_events = 6000;
        z.meta_per_dir = 8;
        z.sync_events = 30;  /* ~5 ms an fsync on a busy shared disk */
        z.bulk_bytes = UINT64_C(4) << 20;
    } else {
        z.meta_events = 1000000;
        z.meta_per_dir = 64;
        z.sync_events = 2000;
        z.bulk_bytes = UINT64_C(256) << 20;
    }
    cfs_journal_opts jo;
    cfs_journal_opts_default(&jo);

    /* The streams, their encodings and frames: once, untimed. */
    cfs_bench_progress("recording streams: metadata");
    cfs_bench_stream meta, bulk;
    cfs_bench_stream_meta(&meta, z.meta_events, z.meta_per_dir);
    cfs_bench_progress(", bulk");
    cfs_bench_stream_bulk(&bulk, z.bulk_bytes, z.write_size);
    cfs_bench_progress("; encoding and framing\n");
    cfs_encoded em, es, eb;
    cfs_encode(&em, meta.ev, meta.count, &jo, 0);
    cfs_encode(&es, meta.ev, z.sync_events, &jo, 1);
    cfs_encode(&eb, bulk.ev, bulk.count, &jo, 0);
    double n_meta = (double)z.meta_events, n_sync = (double)z.sync_events;
    double payload_mb = (double)bulk.payload_bytes / 1e6;

    snprintf(cfs_workdir, sizeof cfs_workdir, "%s",
             cfs_bench_tmpdir_make("/tmp"));
    cfs_workfd = open(cfs_workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cfs_workfd < 0)
        cfs_bench_die("open %s: %s", cfs_workdir, strerror(errno));
    char fsdesc[600];
    cfs_describe_fs(cfs_workdir, fsdesc, sizeof fsdesc);

    /* The runs of one repetition, in order. Alone: what leaves unsynced
     * data behind. Interleaved batch by batch: what syncs its own. */
    cfs_side s_none[] = {cfs_side_journal(&em, meta.ev, CFS_DURABILITY_NONE)};
    cfs_side s_nosync[] = {cfs_side_lmdb(&em, MDB_NOSYNC)};
    cfs_side s_batch[] = {
        cfs_side_journal(&em, meta.ev, CFS_DURABILITY_BATCH),
        cfs_side_lmdb(&em, MDB_NOMETASYNC),   /* what batch mode uses */
        cfs_side_codec(&em, meta.ev, jo.zstd_level),
    };
    cfs_side s_wal[] = {cfs_side_sqlite(&em, "NORMAL")};
    cfs_side s_sync[] = {
        cfs_side_journal(&es, meta.ev, CFS_DURABILITY_SYNC),
        cfs_side_sqlite(&es, "FULL"),
        cfs_side_lmdb(&es, 0),                /* LMDB's full commit */
    };
    cfs_side s_bulk_none[] = {
        cfs_side_journal(&eb, bulk.ev, CFS_DURABILITY_NONE)};
    cfs_side s_bulk[] = {
        cfs_side_journal(&eb, bulk.ev, CFS_DURABILITY_BATCH),
        cfs_side_zstd(&eb, jo.zstd_level),
        cfs_side_lmdb(&eb, MDB_NOMETASYNC),
        cfs_side_codec(&eb, bulk.ev, jo.zstd_level),
    };
    static const char *const dirs_none[] = {"meta-none"};
    static const char *const dirs_nosync[] = {"lmdb-nosync"};
    static const char *const dirs_batch[] = {"meta-batch", "lmdb-batch", ""};
    static const char *const dirs_wal[] = {"sqlite-wal"};
    static const char *const dirs_sync[] = {"meta-sync", "sqlite-full",
                                         "lmdb-sync"};
    static const char *const dirs_bulk_none[] = {"bulk-none"};
    static const char *const dirs_bulk[] = {"bulk-batch", "", "lmdb-bulk", ""};

    cfs_fig none = {0}, lmdb_nosync = {0}, batch = {0}, lmdb = {0};
    cfs_fig codec = {0}, sqlite_wal = {0}, sync = {0}, sqlite_full = {0};
    cfs_fig lmdb_sync = {0}, bulk_none = {0}, bulk_fig = {0}, zstd_fig = {0};
    cfs_fig lmdb_bulk = {0}, bulk_codec = {0};
    cfs_disk dmeta = {0}, dbulk = {0}, dsync = {0};
    double probe[CFS_BENCH_MAX_REPS];
#define CFS_RATE(amount, side) cfs_bench_rate(amount, (side).seconds)

    for (int r = 0; r < o->reps; r++) {
        cfs_bench_progress("rep %d/%d: metadata none", r + 1, o->reps);
        cfs_rep_begin(r);
        probe[r] = cfs_fsync_probe();
        cfs_run(s_none, dirs_none, 1);
        none.v[r] = CFS_RATE(n_meta, s_none[0]);
        cfs_bench_progress(", raw LMDB nosync");
        cfs_run(s_nosync, dirs_nosync, 1);
        lmdb_nosync.v[r] = CFS_RATE(n_meta, s_nosync[0]);
        cfs_bench_progress(", batch | raw LMDB | codec");
        cfs_run(s_batch, dirs_batch, 3);
        batch.v[r] = CFS_RATE(n_meta, s_batch[0]);
        lmdb.v[r] = CFS_RATE(n_meta, s_batch[1]);
        codec.v[r] = CFS_RATE(n_meta, s_batch[2]);
        if (r == 0)
            cfs_check_journal(s_batch[0].path, z.meta_events, &em, &dmeta);
        cfs_bench_progress(", SQLite WAL");
        cfs_run(s_wal, dirs_wal, 1);
        sqlite_wal.v[r] = CFS_RATE(n_meta, s_wal[0]);
        if (r == 0)
            cfs_check_sqlite(&s_wal[0]);
        cfs_bench_progress("\n           sync | SQLite FULL | raw LMDB");
        cfs_run(s_sync, dirs_sync, 3);
        sync.v[r] = CFS_RATE(n_sync, s_sync[0]);
        sqlite_full.v[r] = CFS_RATE(n_sync, s_sync[1]);
        lmdb_sync.v[r] = CFS_RATE(n_sync, s_sync[2]);
        if (r == 0) {
            cfs_check_journal(s_sync[0].path, z.sync_events, &es, &dsync);
            cfs_check_sqlite(&s_sync[1]);
        }
        cfs_bench_progress("\n           bulk none");
        cfs_run(s_bulk_none, dirs_bulk_none, 1);
        bulk_none.v[r] = CFS_RATE(payload_mb, s_bulk_none[0]);
        cfs_bench_progress(", batch | zstd | raw LMDB | codec\n");
        cfs_run(s_bulk, dirs_bulk, 4);
        bulk_fig.v[r] = CFS_RATE(payload_mb, s_bulk[0]);
        zstd_fig.v[r] = CFS_RATE(payload_mb, s_bulk[1]);
        lmdb_bulk.v[r] = CFS_RATE(payload_mb, s_bulk[2]);
        bulk_codec.v[r] = CFS_RATE(payload_mb, s_bulk[3]);
        if (r == 0)
            cfs_check_journal(s_bulk[0].path, bulk.count, &eb, &dbulk);
        if (o->verbose)
            cfs_bench_progress(
                "  events/s: none %.0f (LMDB %.0f), batch %.0f (LMDB %.0f, "
                "codec %.0f, SQLite %.0f); commits/s: sync %.0f (SQLite "
                "%.0f, LMDB %.0f); MB/s: bulk %.1f (zstd %.1f, LMDB %.1f, "
                "codec %.1f), none %.1f\n",
                none.v[r], lmdb_nosync.v[r], batch.v[r], lmdb.v[r],
                codec.v[r], sqlite_wal.v[r], sync.v[r], sqlite_full.v[r],
                lmdb_sync.v[r], bulk_fig.v[r], zstd_fig.v[r], lmdb_bulk.v[r],
                bulk_codec.v[r], bulk_none.v[r]);
    }
#undef CFS_RATE
    close(cfs_workfd);
    cfs_workfd = -1;
    cfs_rep_begin(-1);
    cfs_bench_tmpdir_remove();

    cfs_fig *all[] = {&none, &lmdb_nosync, &batch, &lmdb, &codec,
                      &sqlite_wal, &sync, &sqlite_full, &lmdb_sync,
                      &bulk_none, &bulk_fig, &zstd_fig, &lmdb_bulk,
                      &bulk_codec};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cfs_fig_done(all[i], o->reps);
    char probes[CFS_BENCH_MAX_REPS * 12] = "";
    for (int r = 0, at = 0; r < o->reps && at < (int)sizeof probes - 12; r++)
        at += snprintf(probes + at, sizeof probes - (size_t)at, "%s%.2f",
                       r ? ", " : "", probe[r] * 1e3);
    double probe_best, probe_median;
    cfs_bench_best_median(probe, o->reps, &probe_best, &probe_median);

    double raw_per_event = (double)em.raw_len / n_meta;
    double meta_bytes_per_event = (double)dmeta.frame_bytes / n_meta;
    double mdb_per_event = (double)dmeta.mdb_bytes / n_meta;
    double ratio = cfs_bench_ratio((double)em.raw_len, (double)dmeta.frame_bytes);
    double bulk_ratio = cfs_bench_ratio((double)eb.raw_len,
                                  (double)dbulk.frame_bytes);
    double sqlite_per_event = (double)s_wal[0].db_bytes / n_meta;
    int identical = dmeta.identical && dsync.identical && dbulk.identical;

    /* ---- the table ---- */
    char n1[32], n2[32], n3[32];
    printf("chronofs-bench journal: %d repetition%s; best (median)%s\n",
           o->reps, o->reps == 1 ? "" : "s",
           o->quick ? "  [--quick sizes]" : "");
    printf("files: %s/... on %s; fdatasync after a 4 KiB append: %s ms "
           "(median of 16, each repetition)\n", cfs_workdir, fsdesc, probes);
    printf("streams: %s metadata events (create/set_times/chmod/rename/"
           "unlink, %.1f B encoded each), the first %s of them in sync "
           "mode; %" PRIu64 " x %zu KiB text writes (%.0f MB)\n",
           cfs_thousands(n_meta, n1, sizeof n1), raw_per_event,
           cfs_thousands(n_sync, n2, sizeof n2), bulk.writes,
           z.write_size >> 10, payload_mb);
    printf("journal defaults: batches of %s events or %zu KiB, zstd level "
           "%d: %zu metadata frames, %zu bulk; every baseline gets the "
           "journal's batches%s\n",
           cfs_thousands(jo.batch_events, n3, sizeof n3),
           jo.batch_bytes >> 10, jo.zstd_level, em.nbatches, eb.nbatches,
           identical ? " (its frames byte for byte)"
                     : " (BUT the journal's frames differ from them)");
    printf("baselines with a `|` between them are interleaved batch by batch "
           "(commit by commit for sync); the journal runs alone before them "
           "(its compression and commits run on threads of its own), and the "
           "unsynced sides alone after a syncfs\n");
    printf("\n" CFS_ROW_FMT, "", "chronofs", "baseline", "baseline", "ratio",
           "target");
    printf("metadata events/s\n");
    cfs_row("  none: no fsync", &none, "raw LMDB, MDB_NOSYNC", &lmdb_nosync,
            0);
    cfs_row("  batch: fsync per batch", &batch, "| raw LMDB, MDB_NOMETASYNC",
            &lmdb, 0);
    cfs_row("", &batch, "| codec+frame alone (memory)", &codec, 0);
    cfs_row("", &batch, "SQLite WAL, sync=NORMAL", &sqlite_wal, 3);
    printf(CFS_ROW_FMT, "", "", "absolute target", "2,000,000", "",
           batch.best >= 2e6 ? ">= 2.0M/s  met" : ">= 2.0M/s  MISSED");
    printf("sync commits/s\n");
    cfs_row("  sync: each event durable", &sync, "| SQLite WAL, sync=FULL",
            &sqlite_full, 1);
    cfs_row("", &sync, "| raw LMDB, default flags", &lmdb_sync, 0);
    printf("bulk %zu KiB text writes, MB/s of payload\n", z.write_size >> 10);
    cfs_row("  batch", &bulk_fig, "| zstd level 1 alone (memory)", &zstd_fig,
            0.8);
    cfs_row("", &bulk_fig, "| raw LMDB, MDB_NOMETASYNC", &lmdb_bulk, 0);
    cfs_row("", &bulk_fig, "| codec+frame alone (memory)", &bulk_codec, 0);
    cfs_row("  none: no fsync", &bulk_none, "zstd level 1 alone (memory)",
            &zstd_fig, 0);
    printf("\nsize per metadata event: %.1f B encoded, %.1f B in frames "
           "(compression %.2fx), %.1f B of LMDB pages (data.mdb %" PRIu64
           " B); SQLite %.1f B\n",
           raw_per_event, meta_bytes_per_event, ratio, mdb_per_event,
           dmeta.file_bytes, sqlite_per_event);
    printf("bulk text: compression %.2fx in the journal (zstd alone "
           "%.2fx)\n", bulk_ratio,
           cfs_bench_ratio((double)eb.raw_len, (double)s_bulk[1].out_bytes));

    if (o->json)
        printf("{\"meta_events_per_s_none\":%.1f,"
               "\"meta_events_per_s_batch\":%.1f,"
               "\"sqlite_wal_rows_per_s\":%.1f,"
               "\"lmdb_raw_events_per_s\":%.1f,"
               "\"sync_commits_per_s\":%.1f,"
               "\"sqlite_full_commits_per_s\":%.1f,"
               "\"bulk_write_mb_per_s\":%.1f,"
               "\"zstd_mb_per_s\":%.1f,"
               "\"meta_bytes_per_event\":%.2f,"
               "\"compression_ratio\":%.3f,"
               "\"lmdb_raw_nosync_events_per_s\":%.1f,"
               "\"lmdb_raw_sync_commits_per_s\":%.1f,"
               "\"lmdb_raw_bulk_mb_per_s\":%.1f,"
               "\"meta_codec_events_per_s\":%.1f,"
               "\"bulk_codec_mb_per_s\":%.1f,"
               "\"bulk_write_mb_per_s_none\":%.1f,"
               "\"meta_encoded_bytes_per_event\":%.2f,"
               "\"meta_mdb_bytes_per_event\":%.2f,"
               "\"sqlite_bytes_per_event\":%.2f,"
               "\"bulk_compression_ratio\":%.3f,"
               "\"batch_vs_sqlite_wal_ratio\":%.3f,"
               "\"batch_vs_lmdb_raw_ratio\":%.3f,"
               "\"sync_vs_sqlite_full_ratio\":%.3f,"
               "\"bulk_vs_zstd_ratio\":%.3f,"
               "\"fdatasync_s\":%.6f}\n",
               none.best, batch.best, sqlite_wal.best, lmdb.best, sync.best,
               sqlite_full.best, bulk_fig.best, zstd_fig.best,
               meta_bytes_per_event, ratio, lmdb_nosync.best,
               lmdb_sync.best, lmdb_bulk.best, codec.best, bulk_codec.best,
               bulk_none.best, raw_per_event, mdb_per_event,
               sqlite_per_event, bulk_ratio,
               cfs_bench_ratio(batch.best, sqlite_wal.best),
               cfs_bench_ratio(batch.best, lmdb.best),
               cfs_bench_ratio(sync.best, sqlite_full.best),
               cfs_bench_ratio(bulk_fig.best, zstd_fig.best), probe_median);
    fflush(stdout);

    cfs_encoded_free(&em);
    cfs_encoded_free(&es);
    cfs_encoded_free(&eb);
    cfs_bench_stream_free(&meta);
    cfs_bench_stream_free(&bulk);
    return 0;
}
