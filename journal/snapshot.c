/*
 * snapshot.c — snapshots: the state image in `snapshots`, file blocks as
 * content-addressed chunks in `chunks`, and opening a journal at any seq.
 *
 * A snapshot writes, in one LMDB write transaction, the chunks it needs
 * that are not stored yet (looked up by content hash) and its record. So
 * an incremental snapshot costs the blocks that changed plus the image
 * (metadata), not the size of the filesystem. Chunks are not refcounted
 * per snapshot (that would rewrite every chunk's count on every snapshot);
 * which chunks a set of snapshots uses is found by walking their images
 * (mark and sweep), as compaction will (FORMAT.md, "Snapshots").
 *
 * Opening at seq N loads the newest snapshot at or before N, checks the
 * loaded state against the hash recorded with it, and replays the events
 * after it up to N.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxh_x86dispatch.h>
#include <zstd.h>

#include "bytes.h"
#include "internal.h"

#define SNAP_MAGIC "CFSS"
/* 2: the recorded state hash is the xxh3-128 of the image's bytes
 * (cfs_image_hash); version 1 hashed the state another way. */
#define SNAP_VERSION 2
#define SNAP_HDR 72
#define CHUNK_HDR 8
#define CODEC_RAW 0
#define CODEC_ZSTD 1

void snapshot_release(cfs_journal *j)
{
    ZSTD_freeDCtx(j->lazy_zd); /* the source is closed: no fetch runs */
    j->lazy_zd = NULL;
    ZSTD_freeCCtx(j->zc);
    ZSTD_freeDCtx(j->zd);
    j->zc = j->zd = NULL;
}

void chunk_key(uint8_t key[16], cfs_hash128 h)
{
    put_be64(key, h.hi);
    put_be64(key + 8, h.lo);
}

/* zstd-compress src with zc into a malloc'd buffer after `hdr` bytes of
 * room; stored raw when zstd does not shrink it. */
static int pack(ZSTD_CCtx *zc, int level, const void *src, size_t len, size_t hdr,
                uint8_t **out, size_t *out_len, uint8_t *codec)
{
    size_t bound = ZSTD_compressBound(len);
    uint8_t *buf = malloc(hdr + (bound > len ? bound : len));
    if (!buf)
        return CFS_JE_NOMEM;
    size_t n = ZSTD_compressCCtx(zc, buf + hdr, bound, src, len, level);
    if (ZSTD_isError(n) || n >= len) {
        memcpy(buf + hdr, src, len);
        n = len;
        *codec = CODEC_RAW;
    } else {
        *codec = CODEC_ZSTD;
    }
    *out = buf;
    *out_len = hdr + n;
    return 0;
}

/* Decompress exactly `raw` bytes into dst, with the context in *zd (made
 * on first use; one thread at a time per context). */
static int unpack(void **zd, uint8_t codec, const uint8_t *src, size_t len, void *dst,
                  size_t raw)
{
    if (codec == CODEC_RAW)
        return len == raw ? (memcpy(dst, src, raw), 0) : CFS_JE_CORRUPT;
    if (codec != CODEC_ZSTD)
        return CFS_JE_CORRUPT;
    if (!*zd && !(*zd = ZSTD_createDCtx()))
        return CFS_JE_NOMEM;
    size_t n = ZSTD_decompressDCtx(*zd, dst, raw, src, len);
    return ZSTD_isError(n) || n != raw ? CFS_JE_CORRUPT : 0;
}

/*
 * Decompress exactly `raw` bytes into a malloc'd *out. The buffer grows
 * with what actually comes out (from 1 MiB, doubling, never past raw), so
 * a record that merely claims a huge length costs nothing: a lie is
 * CFS_JE_CORRUPT once the payload runs out.
 */
static int unpack_grow(void **zd, uint8_t codec, const uint8_t *src, size_t len,
                       size_t raw, uint8_t **out)
{
    *out = NULL;
    if (codec == CODEC_RAW) {
        if (len != raw)
            return CFS_JE_CORRUPT;
        if (!(*out = malloc(raw ? raw : 1)))
            return CFS_JE_NOMEM;
        memcpy(*out, src, raw);
        return 0;
    }
    if (codec != CODEC_ZSTD)
        return CFS_JE_CORRUPT;
    if (!*zd && !(*zd = ZSTD_createDCtx()))
        return CFS_JE_NOMEM;
    ZSTD_DCtx_reset(*zd, ZSTD_reset_session_only);
    size_t cap = raw < ((size_t)1 << 20) ? raw : ((size_t)1 << 20);
    uint8_t *buf = malloc(cap ? cap : 1);
    ZSTD_inBuffer in = {src, len, 0};
    ZSTD_outBuffer o = {buf, cap, 0};
    size_t left = 1;
    while (buf) {
        left = ZSTD_decompressStream(*zd, &o, &in);
        if (ZSTD_isError(left) || left == 0 || (in.pos == len && o.pos < o.size))
            break; /* failed, frame complete, or input used up short of the buffer */
        if (o.pos == o.size) {
            if (cap == raw)
                break; /* more than it claims */
            cap = cap > raw / 2 ? raw : 2 * cap;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                return CFS_JE_NOMEM;
            }
            buf = nb;
            o.dst = buf;
            o.size = cap;
        }
    }
    if (!buf)
        return CFS_JE_NOMEM;
    if (ZSTD_isError(left) || left != 0 || o.pos != raw || in.pos != len) {
        free(buf);
        return CFS_JE_CORRUPT;
    }
    *out = buf;
    return 0;
}

/* A chunk's `len` raw bytes into buf: 0, an LMDB code (MDB_NOTFOUND:
 * missing), or a negative CFS_JE_* (CORRUPT: of another length or not
 * decompressing). Touches no handle state but *zd: any thread. */
static int chunk_get(MDB_txn *txn, MDB_dbi dbi, void **zd, cfs_hash128 h, void *buf,
                     size_t len)
{
    uint8_t key[16];
    chunk_key(key, h);
    MDB_val k = {16, key}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc)
        return rc;
    const uint8_t *p = v.mv_data;
    if (v.mv_size < CHUNK_HDR || get32(p) != len)
        return CFS_JE_CORRUPT;
    return unpack(zd, p[4], p + CHUNK_HDR, v.mv_size - CHUNK_HDR, buf, len);
}

/* ---- taking a snapshot ---------------------------------------------------- */

int chunk_has(cfs_journal *j, MDB_txn *txn, cfs_hash128 h)
{
    uint8_t key[16];
    chunk_key(key, h);
    MDB_val k = {16, key}, v;
    int rc = mdb_get(txn, j->db_chunks, &k, &v);
    if (rc == 0)
        return 1;
    return rc == MDB_NOTFOUND ? 0 : fail_msg(j, map_mdb(rc), "chunks: %s", mdb_strerror(rc));
}

int chunk_value(ZSTD_CCtx *zc, int level, const void *data, size_t len,
                uint8_t **val, size_t *val_len)
{
    uint8_t codec;
    if (pack(zc, level, data, len, CHUNK_HDR, val, val_len, &codec))
        return CFS_JE_NOMEM;
    /* chunk value: u32 raw length, u8 codec, 3 zero bytes, payload */
    put32(*val, (uint32_t)len);
    (*val)[4] = codec;
    (*val)[5] = (*val)[6] = (*val)[7] = 0;
    return 0;
}

int chunk_put_value(MDB_txn *txn, MDB_dbi dbi, cfs_hash128 h, const uint8_t *val,
                    size_t val_len)
{
    uint8_t key[16];
    chunk_key(key, h);
    MDB_val k = {16, key}, v = {val_len, (void *)val};
    int rc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE);
    return rc == MDB_KEYEXIST ? 0 : rc;
}

int chunk_write(cfs_journal *j, MDB_txn *txn, cfs_hash128 h, const void *data,
                size_t len, uint64_t *stored)
{
    *stored = 0;
    int rc = chunk_has(j, txn, h);
    if (rc)
        return rc < 0 ? rc : 0;
    if (len > CFS_BLOCK_SIZE)
        return fail_msg(j, CFS_JE_INVAL, "chunk of %zu bytes", len);
    uint8_t *buf;
    size_t blen;
    if (!j->zc && !(j->zc = ZSTD_createCCtx()))
        return fail_msg(j, CFS_JE_NOMEM, "chunk: out of memory");
    if (chunk_value(j->zc, j->opts.zstd_level, data, len, &buf, &blen))
        return fail_msg(j, CFS_JE_NOMEM, "chunk: out of memory");
    rc = chunk_put_value(txn, j->db_chunks, h, buf, blen);
    free(buf);
    if (rc)
        return rc == MDB_MAP_FULL ? MDB_MAP_FULL
                                  : fail_msg(j, map_mdb(rc), "chunks: %s", mdb_strerror(rc));
    *stored = blen;
    return 0;
}

int chunk_read(cfs_journal *j, MDB_txn *txn, cfs_hash128 h, void *buf, size_t len)
{
    int rc = chunk_get(txn, j->db_chunks, &j->zd, h, buf, len);
    if (rc == MDB_NOTFOUND)
        return fail_msg(j, CFS_JE_CORRUPT, "chunk %016" PRIx64 "%016" PRIx64 " is missing",
                        h.hi, h.lo);
    if (rc > 0)
        return fail_msg(j, map_mdb(rc), "chunks: %s", mdb_strerror(rc));
    if (rc == CFS_JE_NOMEM)
        return fail_msg(j, rc, "chunks: out of memory");
    if (rc)
        return fail_msg(j, CFS_JE_CORRUPT, "chunk %016" PRIx64 "%016" PRIx64 " is damaged",
                        h.hi, h.lo);
    return 0;
}

struct snap_rec {
    uint64_t seq, time_ns;
    cfs_hash128 hash;
    const char *label, *trigger;
    size_t label_len, trigger_len;
    uint32_t raw_len, stored_len;
    uint8_t codec;
    const uint8_t *payload;
};

/*
 * Record layout (little-endian): "CFSS", u16 version, u8 codec, u8 0,
 * u64 seq, u64 time, u64 hash lo, u64 hash hi, u32 label length,
 * u32 trigger length, u32 image raw length, u32 image stored length,
 * u64 xxh3-64 of the whole record with this field zero, u32 0, u32 0,
 * then label, trigger, image payload.
 */
static int parse_record(const uint8_t *p, size_t len, uint64_t key,
                        struct snap_rec *r, char *err, size_t cap)
{
    if (len < SNAP_HDR || memcmp(p, SNAP_MAGIC, 4) != 0) {
        snprintf(err, cap, "snapshot at seq %" PRIu64 ": bad magic or size", key);
        return CFS_JE_CORRUPT;
    }
    if (get16(p + 4) > SNAP_VERSION) {
        snprintf(err, cap, "snapshot at seq %" PRIu64 ": format version %u is newer than "
                 "this build (%d)", key, get16(p + 4), SNAP_VERSION);
        return CFS_JE_VERSION;
    }
    if (get16(p + 4) < SNAP_VERSION) {
        /* its state hash cannot be checked: refused, never trusted */
        snprintf(err, cap, "snapshot at seq %" PRIu64 ": format version %u records a state "
                 "hash this build (%d) no longer computes", key, get16(p + 4), SNAP_VERSION);
        return CFS_JE_VERSION;
    }
    r->codec = p[6];
    r->seq = get64(p + 8);
    r->time_ns = get64(p + 16);
    r->hash.lo = get64(p + 24);
    r->hash.hi = get64(p + 32);
    r->label_len = get32(p + 40);
    r->trigger_len = get32(p + 44);
    r->raw_len = get32(p + 48);
    r->stored_len = get32(p + 52);
    uint64_t sum = get64(p + 56);
    if (r->seq != key || (uint64_t)SNAP_HDR + r->label_len + r->trigger_len + r->stored_len != len ||
        r->label_len >= 128 || r->trigger_len >= 32) {
        snprintf(err, cap, "snapshot at seq %" PRIu64 ": lengths do not add up", key);
        return CFS_JE_CORRUPT;
    }
    XXH3_state_t *xs = XXH3_createState();
    if (!xs)
        return CFS_JE_NOMEM;
    uint8_t zero[8] = {0};
    XXH3_64bits_reset(xs);
    XXH3_64bits_update_dispatch(xs, p, 56);
    XXH3_64bits_update_dispatch(xs, zero, 8);
    XXH3_64bits_update_dispatch(xs, p + 64, len - 64);
    uint64_t got = XXH3_64bits_digest(xs);
    XXH3_freeState(xs);
    if (got != sum) {
        snprintf(err, cap, "snapshot at seq %" PRIu64 ": checksum mismatch", key);
        return CFS_JE_CORRUPT;
    }
    r->label = (const char *)p + SNAP_HDR;
    r->trigger = r->label + r->label_len;
    r->payload = (const uint8_t *)r->trigger + r->trigger_len;
    return 0;
}

int snapshot_record(ZSTD_CCtx *zc, int level, uint64_t seq, uint64_t time_ns,
                    cfs_hash128 hash, const char *label, const char *trigger,
                    const uint8_t *image, size_t image_len, uint8_t **rec,
                    size_t *rec_len, size_t *stored_len)
{
    size_t llen = strlen(label), tlen = strlen(trigger);
    uint8_t codec;
    if (llen >= 128 || tlen >= 32 || image_len > UINT32_MAX)
        return CFS_JE_INVAL;
    if (pack(zc, level, image, image_len, SNAP_HDR + llen + tlen, rec, rec_len, &codec))
        return CFS_JE_NOMEM;
    uint8_t *p = *rec;
    *stored_len = *rec_len - SNAP_HDR - llen - tlen;
    memset(p, 0, SNAP_HDR);
    memcpy(p, SNAP_MAGIC, 4);
    put16(p + 4, SNAP_VERSION);
    p[6] = codec;
    put64(p + 8, seq);
    put64(p + 16, time_ns);
    put64(p + 24, hash.lo);
    put64(p + 32, hash.hi);
    put32(p + 40, (uint32_t)llen);
    put32(p + 44, (uint32_t)tlen);
    put32(p + 48, (uint32_t)image_len);
    put32(p + 52, (uint32_t)*stored_len);
    memcpy(p + SNAP_HDR, label, llen);
    memcpy(p + SNAP_HDR + llen, trigger, tlen);
    put64(p + 56, XXH3_64bits_dispatch(p, *rec_len)); /* field zero while summed */
    return 0;
}

static void rec_info(const struct snap_rec *r, cfs_snapshot_info *info)
{
    memset(info, 0, sizeof(*info));
    info->seq = r->seq;
    memcpy(info->label, r->label, r->label_len);
    memcpy(info->trigger, r->trigger, r->trigger_len);
    info->time_ns = r->time_ns;
    info->state_hash = r->hash;
    info->image_bytes = r->stored_len;
}

/* ---- listing ------------------------------------------------------------------ */

int cfs_journal_snapshots(cfs_journal *j,
                          int (*fn)(void *ctx, const cfs_snapshot_info *s),
                          void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = read_cursor(j, j->db_snapshots, &txn, &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    rc = 0;
    for (; mrc == 0 && !rc; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct snap_rec r;
        if (k.mv_size != 8) {
            rc = fail_msg(j, CFS_JE_CORRUPT, "snapshots: a key of %zu bytes", k.mv_size);
            break;
        }
        if ((rc = parse_record(v.mv_data, v.mv_size, get_be64(k.mv_data), &r, j->errmsg,
                               sizeof(j->errmsg))))
            break;
        cfs_snapshot_info info;
        rec_info(&r, &info);
        rc = fn(ctx, &info);
    }
    mdb_cursor_close(cur);
    read_end(j, txn);
    return rc;
}

struct find {
    const char *label;
    cfs_snapshot_info found;
    bool any;
};

static int find_one(void *ctx, const cfs_snapshot_info *s)
{
    struct find *f = ctx;
    if (strcmp(s->label, f->label) == 0) {
        f->found = *s; /* in seq order: the newest wins */
        f->any = true;
    }
    return 0;
}

int cfs_journal_find_snapshot(cfs_journal *j, const char *label,
                              cfs_snapshot_info *out)
{
    struct find f = {label ? label : "", {0}, false};
    int rc = cfs_journal_snapshots(j, find_one, &f);
    if (rc)
        return rc;
    if (!f.any)
        return fail_msg(j, CFS_JE_NOTFOUND, "%s: no snapshot labelled `%s`", j->dir, f.label);
    if (out)
        *out = f.found;
    return 0;
}

/* ---- opening at a seq -------------------------------------------------------------- */

/* The journal's block source: chunks fetched on first use by engines
 * opened at a seq (cfs_fs_decode_image_lazy), on any thread, one at a time
 * (the source's lock): a read transaction of its own, a decompressor of
 * its own, and never the handle's message. */
static int lazy_fetch(void *ctx, cfs_hash128 h, void *buf, size_t len)
{
    cfs_journal *j = ctx;
    MDB_txn *txn;
    pthread_rwlock_rdlock(&j->map_lock);
    if (mdb_txn_begin(j->env, NULL, MDB_RDONLY, &txn)) {
        pthread_rwlock_unlock(&j->map_lock);
        return 1;
    }
    int rc = chunk_get(txn, j->db_chunks, &j->lazy_zd, h, buf, len);
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&j->map_lock);
    return rc ? 1 : 0;
}

int snapshot_source(cfs_journal *j)
{
    if (!j->lazy && !(j->lazy = cfs_block_source_new(lazy_fetch, j)))
        return fail_msg(j, CFS_JE_NOMEM, "%s: out of memory", j->dir);
    return 0;
}

int snapshot_image(cfs_journal *j, const void *rec, size_t len, uint64_t seq,
                   uint8_t **meta, size_t *meta_len)
{
    struct snap_rec r;
    int rc = parse_record(rec, len, seq, &r, j->errmsg, sizeof(j->errmsg));
    if (rc)
        return rc;
    uint8_t *m = NULL;
    rc = unpack_grow(&j->zd, r.codec, r.payload, r.stored_len, r.raw_len, &m);
    if (rc == CFS_JE_NOMEM)
        return fail_msg(j, rc, "snapshot at seq %" PRIu64 ": out of memory", seq);
    if (rc)
        return fail_msg(j, CFS_JE_CORRUPT, "snapshot at seq %" PRIu64 ": image does not "
                        "decompress", seq);
    *meta = m;
    *meta_len = r.raw_len;
    return 0;
}

/* Load the newest snapshot at or before seq into *out (NULL if none). */
static int load_snapshot(cfs_journal *j, uint64_t seq, const cfs_config *cfg,
                         cfs_fs **out)
{
    *out = NULL;
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = read_cursor(j, j->db_snapshots, &txn, &cur);
    if (rc)
        return rc;
    uint8_t key[8];
    MDB_val k, v;
    int mrc = seek_at_or_before(cur, seq, key, &k, &v);
    rc = 0;
    if (mrc == 0 && k.mv_size == 8 && get_be64(k.mv_data) <= seq) {
        struct snap_rec r;
        uint64_t at = get_be64(k.mv_data);
        uint8_t *meta = NULL;
        size_t mlen = 0;
        rc = parse_record(v.mv_data, v.mv_size, at, &r, j->errmsg, sizeof(j->errmsg));
        if (!rc)
            rc = snapshot_image(j, v.mv_data, v.mv_size, at, &meta, &mlen);
        if (!rc)
            rc = snapshot_source(j);
        if (!rc) {
            char err[200];
            cfs_errno e = cfs_fs_decode_image_lazy(meta, mlen, j->lazy, cfg, out, err,
                                                   sizeof(err));
            if (e) {
                rc = fail_msg(j, CFS_JE_CORRUPT, "snapshot at seq %" PRIu64 ": %s", at, err);
            } else {
                cfs_hash128 got = cfs_fs_hash(*out);
                if (got.lo != r.hash.lo || got.hi != r.hash.hi || cfs_fs_seq(*out) != at) {
                    cfs_fs_free(*out);
                    *out = NULL;
                    rc = fail_msg(j, CFS_JE_CORRUPT, "snapshot at seq %" PRIu64
                                  ": the loaded state does not match its hash", at);
                }
            }
        }
        free(meta);
    } else if (mrc && mrc != MDB_NOTFOUND) {
        rc = fail_msg(j, map_mdb(mrc), "%s: %s", j->dir, mdb_strerror(mrc));
    }
    mdb_cursor_close(cur);
    read_end(j, txn);
    return rc;
}

/* cfs_journal_snapshots callback: the first (oldest) snapshot's seq. */
static int oldest_snapshot(void *ctx, const cfs_snapshot_info *si)
{
    *(uint64_t *)ctx = si->seq;
    return 1;
}

int cfs_journal_open_at(cfs_journal *j, uint64_t seq, const cfs_config *cfg,
                        cfs_fs **out)
{
    *out = NULL;
    if (j->writer) {
        int rc = commit_wait(j);
        if (rc)
            return rc;
    } else {
        int rc = cfs_journal_refresh(j);
        if (rc)
            return rc;
    }
    uint64_t head = cfs_journal_committed(j);
    if (seq == 0)
        seq = head;
    if (seq > head)
        return fail_msg(j, CFS_JE_NOTFOUND, "%s: seq %" PRIu64 " is past the journal's end (%"
                        PRIu64 ")", j->dir, seq, head);
    cfs_fs *fs;
    int rc = load_snapshot(j, seq, cfg, &fs);
    if (rc)
        return rc;
    bool from_empty = !fs;
    if (!fs && !(fs = cfs_fs_new(cfg)))
        return fail_msg(j, CFS_JE_NOMEM, "open at seq %" PRIu64 ": out of memory", seq);
    /* replay applies recorded events: no sink while it does */
    cfs_fs_set_sink(fs, NULL);
    if (seq > cfs_fs_seq(fs) && (rc = cfs_journal_replay(j, fs, seq))) {
        cfs_fs_free(fs);
        uint64_t oldest = 0;
        if (from_empty && rc == CFS_JE_NOTFOUND &&
            cfs_journal_snapshots(j, oldest_snapshot, &oldest) >= 0 && oldest > seq)
            /* no snapshot at or before seq, and the events before the
             * oldest one are not here: compacted away, or never received */
            return fail_msg(j, CFS_JE_NOTFOUND, "%s: seq %" PRIu64 " is before the "
                            "journal's history, which starts at the snapshot at seq %"
                            PRIu64 " (earlier events were compacted away, or not received)",
                            j->dir, seq, oldest);
        return rc;
    }
    if (cfg)
        cfs_fs_set_sink(fs, &cfg->sink);
    *out = fs;
    return 0;
}

/* ---- triggers ------------------------------------------------------------------ */

void cfs_journal_attach(cfs_journal *j, cfs_fs *fs)
{
    j->attached = fs;
}

void cfs_journal_request_snapshot(cfs_journal *j)
{
    __atomic_store_n(&j->trig_requested, 1, __ATOMIC_RELEASE);
}

void snapshot_count(cfs_journal *j, size_t encoded_bytes)
{
    j->trig_events++;
    j->trig_bytes += encoded_bytes;
    j->trig_event_ns = 0; /* the idle clock restarts at the next tick */
}

int snapshot_triggers(cfs_journal *j, uint64_t now_ns, bool closing)
{
    const cfs_journal_opts *o = &j->opts;
    if (!j->attached || j->in_trigger || !j->writer || j->failed)
        return 0;
    if (now_ns) {
        if (!j->trig_last_ns)
            j->trig_last_ns = now_ns;
        if (!j->trig_event_ns)
            j->trig_event_ns = now_ns;
    }
    const char *why = NULL;
    if (__atomic_load_n(&j->trig_requested, __ATOMIC_ACQUIRE))
        why = "sigusr1";
    else if (closing && o->snapshot_on_exit && j->trig_events)
        why = "exit";
    else if (o->snapshot_every_events && j->trig_events >= o->snapshot_every_events)
        why = "events";
    else if (o->snapshot_every_bytes && j->trig_bytes >= o->snapshot_every_bytes)
        why = "bytes";
    else if (now_ns && o->snapshot_interval_ns && j->trig_events &&
             now_ns - j->trig_last_ns >= o->snapshot_interval_ns)
        why = "interval";
    else if (now_ns && o->snapshot_idle_ns && j->trig_events &&
             now_ns - j->trig_event_ns >= o->snapshot_idle_ns)
        why = "idle";
    if (!why)
        return 0;
    if (cfs_fs_seq(j->attached) == 0 || cfs_fs_seq(j->attached) != j->appended)
        return 0; /* nothing yet, or the engine is not this journal's */
    j->in_trigger = true;
    /* the record's time is the wall clock's; now_ns is the caller's
     * monotonic tick, good for intervals only */
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    uint64_t wall_ns = (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec;
    int rc = cfs_journal_snapshot_begin(j, j->attached, "", why, wall_ns);
    j->in_trigger = false;
    if (rc == CFS_JE_INVAL)
        rc = 0; /* a snapshot at this seq exists already */
    if (!rc) {
        __atomic_store_n(&j->trig_requested, 0, __ATOMIC_RELEASE);
        j->trig_events = j->trig_bytes = 0;
        if (now_ns)
            j->trig_last_ns = now_ns;
    }
    return rc;
}

/* ---- forks ------------------------------------------------------------------------- */

int cfs_journal_fork(cfs_journal *src, uint64_t seq, const char *dir,
                     const cfs_journal_opts *opts, cfs_journal **out,
                     cfs_fs **fs_out)
{
    *out = NULL;
    *fs_out = NULL;
    cfs_fs *fs;
    int rc = cfs_journal_open_at(src, seq, NULL, &fs);
    if (rc)
        return rc;
    cfs_journal_opts o;
    if (opts)
        o = *opts;
    else
        cfs_journal_opts_default(&o);
    o.create = 1;
    o.read_only = 0;
    cfs_journal *j;
    char err[256];
    rc = cfs_journal_open(dir, &o, &j, err, sizeof(err));
    if (rc) {
        cfs_fs_free(fs);
        return fail_msg(src, rc, "fork: %s", err);
    }
    if (j->committed || j->appended) {
        cfs_journal_close(j);
        cfs_fs_free(fs);
        return fail_msg(src, CFS_JE_INVAL, "fork: %s is not an empty journal", dir);
    }
    /* the base: where it came from, for people; the state, self-contained */
    char label[128];
    snprintf(label, sizeof(label), "fork of %s at %" PRIu64, cfs_journal_id(src), cfs_fs_seq(fs));
    rc = cfs_journal_snapshot(j, fs, label, "fork", 0, NULL);
    if (!rc) {
        MDB_txn *txn;
        uint8_t b[32 + 8]; /* src's id (32 hex digits) and the seq */
        memcpy(b, cfs_journal_id(src), 32);
        put64(b + 32, cfs_fs_seq(fs));
        rc = mdb_txn_begin(j->env, NULL, 0, &txn);
        if (!rc) {
            MDB_val k = {4, "base"}, v = {sizeof(b), b};
            rc = mdb_put(txn, j->db_meta, &k, &v, 0);
            rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
        }
        if (rc)
            rc = fail_msg(j, map_mdb(rc), "fork: meta: %s", mdb_strerror(rc));
    }
    if (rc) {
        snprintf(src->errmsg, sizeof(src->errmsg), "fork: %.240s", j->errmsg);
        cfs_journal_close(j);
        cfs_fs_free(fs);
        return rc;
    }
    *out = j;
    *fs_out = fs;
    return 0;
}

/* ---- checking chunks --------------------------------------------------------------- */

int chunk_verify(cfs_journal *j, const MDB_val *k, const MDB_val *v, uint8_t *buf)
{
    if (k->mv_size != 16)
        return fail_msg(j, CFS_JE_CORRUPT, "chunks: a key of %zu bytes", k->mv_size);
    const uint8_t *p = v->mv_data;
    cfs_hash128 h = {get_be64((const uint8_t *)k->mv_data + 8), get_be64(k->mv_data)};
    size_t len = v->mv_size >= CHUNK_HDR ? get32(p) : 0;
    bool bad = v->mv_size < CHUNK_HDR || len > CFS_BLOCK_SIZE ||
               unpack(&j->zd, p[4], p + CHUNK_HDR, v->mv_size - CHUNK_HDR, buf, len);
    XXH128_hash_t got = bad ? (XXH128_hash_t){0, 0} : XXH3_128bits_dispatch(buf, len);
    if (bad || got.low64 != h.lo || got.high64 != h.hi)
        return fail_msg(j, CFS_JE_CORRUPT, "chunk %016" PRIx64 "%016" PRIx64 " is damaged%s",
                        h.hi, h.lo, bad ? " (does not decompress)" : " (wrong content)");
    return 0;
}

/* cfs_image_refs' callback for verify: is the chunk there? */
struct ref_check {
    MDB_txn *txn;
    MDB_dbi dbi;
    bool missing;
    cfs_hash128 h;
};

static int ref_present(void *ctx, cfs_hash128 h, size_t size)
{
    (void)size;
    struct ref_check *c = ctx;
    uint8_t key[16];
    chunk_key(key, h);
    MDB_val k = {16, key}, v;
    if (mdb_get(c->txn, c->dbi, &k, &v) == 0)
        return 0;
    c->missing = true;
    c->h = h;
    return 1;
}

/* Every chunk every snapshot's image refers to is stored: a snapshot that
 * lost one cannot be opened, whatever the chunks that are there say. */
static int refs_present(cfs_journal *j, MDB_txn *txn)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, j->db_snapshots, &cur);
    if (rc)
        return fail_msg(j, map_mdb(rc), "%s: %s", j->dir, mdb_strerror(rc));
    MDB_val k, v;
    int mrc;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc && mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t at = k.mv_size == 8 ? get_be64(k.mv_data) : 0;
        uint8_t *meta;
        size_t mlen;
        if ((rc = snapshot_image(j, v.mv_data, v.mv_size, at, &meta, &mlen))) {
            if (rc == CFS_JE_NOMEM)
                break;
            rc = 0; /* a damaged record: verify's snapshot check says so */
            continue;
        }
        struct ref_check c = {.txn = txn, .dbi = j->db_chunks};
        cfs_errno e = cfs_image_refs(meta, mlen, ref_present, &c);
        free(meta);
        if (c.missing)
            rc = fail_msg(j, CFS_JE_CORRUPT,
                          "snapshot at seq %" PRIu64 ": chunk %016" PRIx64 "%016" PRIx64
                          " is missing", at, c.h.hi, c.h.lo);
        else if (e)
            rc = fail_msg(j, CFS_JE_CORRUPT, "snapshot at seq %" PRIu64 ": malformed image",
                          at);
    }
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = fail_msg(j, map_mdb(mrc), "%s: %s", j->dir, mdb_strerror(mrc));
    mdb_cursor_close(cur);
    return rc;
}

int cfs_journal_verify_chunks(cfs_journal *j, uint64_t *checked)
{
    uint64_t n = 0;
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = read_cursor(j, j->db_chunks, &txn, &cur);
    if (rc)
        return rc;
    uint8_t *buf = malloc(CFS_BLOCK_SIZE);
    MDB_val k, v;
    int mrc = buf ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) : 0;
    rc = buf ? 0 : fail_msg(j, CFS_JE_NOMEM, "verify chunks: out of memory");
    for (; !rc && mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (!(rc = chunk_verify(j, &k, &v, buf)))
            n++;
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = fail_msg(j, map_mdb(mrc), "%s: %s", j->dir, mdb_strerror(mrc));
    free(buf);
    mdb_cursor_close(cur);
    if (!rc)
        rc = refs_present(j, txn);
    read_end(j, txn);
    if (checked)
        *checked = n;
    return rc;
}

/* ---- for send / receive (stream.c) ------------------------------------------------ */

int snapshot_record_check(cfs_journal *j, const void *rec, size_t len,
                          cfs_snapshot_info *info)
{
    const uint8_t *p = rec;
    /* a record in a stream has no key: hold it to the seq it names */
    uint64_t seq = len >= SNAP_HDR ? get64(p + 8) : 0;
    struct snap_rec r;
    int rc = parse_record(p, len, seq, &r, j->errmsg, sizeof(j->errmsg));
    if (rc == CFS_JE_NOMEM)
        fail_msg(j, rc, "snapshot at seq %" PRIu64 ": out of memory", seq);
    if (!rc && info)
        rec_info(&r, info);
    return rc;
}
