/*
 * stream.c — send / receive: a journal's history as a portable stream, as
 * `zfs send | zfs receive` (FORMAT.md, "Send streams").
 *
 * A stream is an 8-byte lead-in (magic, stream version) and records, each
 * length-prefixed and checksummed with xxh3-64 seeded with its number (so
 * a record that moved is caught as surely as one that changed):
 *
 *     lead-in  header  { chunk* snapshot }*  frame*  end
 *
 * A full stream starts at the journal's oldest snapshot (its base, sent
 * with every chunk it uses), or at the empty state when the journal has
 * no snapshot; an incremental stream starts at a snapshot the receiver
 * holds and carries only the later snapshots, the chunks they use that
 * the base does not, and the events after the base. Snapshot records and
 * event frames travel exactly as the journal stores them: both are
 * versioned, little-endian and checksummed already (FORMAT.md), so the
 * sender re-encodes nothing but a first frame that reaches back past the
 * base, and the receiver nothing but a frame that straddles its own last
 * event. Chunks travel as a block's raw bytes (zstd-compressed when that
 * shrinks them) under their xxh3-128, which the receiver recomputes. None
 * of it depends on LMDB's file format or the host's byte order.
 *
 * The sender reads everything in one LMDB read transaction (a consistent
 * view) and checks what it ships: every snapshot record, every chunk
 * against its hash, every frame whole.
 *
 * Receiving is all or nothing. The states of a receive:
 *
 *     lead-in ──> header ──> chunks, snapshots, frames ──> end ──> EOF ──> commit
 *        │          │                  │                    │       │
 *        └──────────┴──────── any refusal ─────────────────┴───────┴──> abort
 *
 * Every record is checked as it arrives and written into ONE LMDB write
 * transaction, committed only once the end record's counts and
 * whole-stream checksum agree and nothing follows it; any refusal (a
 * truncated or corrupt stream, a wrong base, a diverged history) aborts
 * it, and the journal is exactly as it was. Each snapshot received is
 * loaded from its image and chunks inside the transaction and must give
 * the state hash it records. The journal's own events past the base are
 * compared with the stream's (identical ones are skipped; one that
 * differs is CFS_JE_DIVERGED).
 *
 * One transaction holds the whole stream. LMDB (0.9.x) spills dirty pages
 * of a large write transaction to the file, so its size is bounded by the
 * map, not by memory: before it begins, the map is grown to the pages in
 * use plus the free space of the journal's filesystem (at most 1 TiB
 * more; LMDB does not extend the file to the map, so this costs address
 * space only), so MDB_MAP_FULL then means the disk is full
 * (CFS_JE_NOSPC), and a stream is never buffered or read twice. The map
 * goes back to its size (or twice what is used) afterwards.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <xxh_x86dispatch.h>
#include <zstd.h>

#include "bytes.h"
#include "internal.h"

#define STREAM_MAGIC "CFST"
#define LEADIN_SIZE 8
#define PREFIX_SIZE 8 /* u32 body length, u8 type, 3 zero bytes */
#define SUM_SIZE 8
#define HEADER_BODY 72
#define CHUNK_FIXED 24
#define END_BODY 56
#define IO_BUF ((size_t)256 << 10)
#define READ_STEP ((size_t)1 << 20) /* a body is read (and grown) this much at a time */
#define MAP_ROOM_MAX ((uint64_t)1 << 40)

enum { REC_HEADER = 1, REC_CHUNK = 2, REC_SNAPSHOT = 3, REC_FRAME = 4, REC_END = 5 };
enum { CHUNK_RAW = 0, CHUNK_ZSTD = 1 };

/* The most body bytes a record of each type may claim, checked before
 * anything is allocated for it; 0 for an unknown type. */
static uint64_t body_max(uint8_t type)
{
    switch (type) {
    case REC_HEADER: return HEADER_BODY;
    case REC_CHUNK: return CHUNK_FIXED + CFS_BLOCK_SIZE; /* zstd only when smaller */
    case REC_SNAPSHOT: return UINT32_MAX;
    case REC_FRAME: return CFS_FRAME_HEADER_SIZE + (uint64_t)CFS_FRAME_MAX_RAW;
    case REC_END: return END_BODY;
    default: return 0;
    }
}

static void hash_hex(char out[33], cfs_hash128 h)
{
    snprintf(out, 33, "%016" PRIx64 "%016" PRIx64, h.hi, h.lo);
}

static bool hash_eq(cfs_hash128 a, cfs_hash128 b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

/* ---- a batch of re-encoded events (a frame that reaches past a boundary) -------- */

struct batch {
    uint8_t *p;
    size_t len, cap;
    uint32_t count;
    uint64_t first;
    cfs_codec_ctx enc;
};

static void batch_begin(struct batch *b, uint64_t first)
{
    b->len = 0;
    b->count = 0;
    b->first = first;
    b->enc.seq = first - 1;
    b->enc.time = 0;
}

static int batch_add(struct batch *b, const cfs_event *ev)
{
    size_t need = cfs_codec_bound(ev);
    if (b->len + need > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + need)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np)
            return CFS_JE_NOMEM;
        b->p = np;
        b->cap = cap;
    }
    b->len += cfs_codec_encode(&b->enc, ev, b->p + b->len);
    b->count++;
    return 0;
}

/* ---- the shape of a journal: its events and snapshots ----------------------------- */

struct shape {
    bool events, snapshots;
    uint64_t first_event, last_event; /* when events */
    uint64_t last_snapshot;           /* when snapshots */
};

static int journal_shape(cfs_journal *j, MDB_txn *txn, struct shape *sh)
{
    memset(sh, 0, sizeof(*sh));
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, j->db_events, &cur);
    if (rc)
        return fail_msg(j, map_mdb(rc), "%s: events: %s", j->dir, mdb_strerror(rc));
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (rc == 0 && k.mv_size == 8) {
        sh->first_event = get_be64(k.mv_data);
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    }
    if (rc == 0) {
        uint64_t first;
        uint32_t count;
        char err[200];
        if (k.mv_size != 8) {
            mdb_cursor_close(cur);
            return fail_msg(j, CFS_JE_CORRUPT, "%s: events: a key of %zu bytes", j->dir,
                            k.mv_size);
        }
        rc = cfs_frame_peek(v.mv_data, v.mv_size, get_be64(k.mv_data), &first, &count, err,
                            sizeof(err));
        if (rc) {
            mdb_cursor_close(cur);
            return fail_msg(j, rc, "%s: %s", j->dir, err);
        }
        sh->events = true;
        sh->last_event = first + count - 1;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return fail_msg(j, map_mdb(rc), "%s: events: %s", j->dir, mdb_strerror(rc));
    if ((rc = mdb_cursor_open(txn, j->db_snapshots, &cur)))
        return fail_msg(j, map_mdb(rc), "%s: snapshots: %s", j->dir, mdb_strerror(rc));
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8) {
        sh->snapshots = true;
        sh->last_snapshot = get_be64(k.mv_data);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return fail_msg(j, map_mdb(rc), "%s: snapshots: %s", j->dir, mdb_strerror(rc));
    return 0;
}

/* The journal's head as lmdb_committed() (store.c) finds it: the last
 * event, or with none the newest snapshot. */
static uint64_t shape_head(const struct shape *sh)
{
    return sh->events ? sh->last_event : sh->snapshots ? sh->last_snapshot : 0;
}

/* The snapshot record stored at seq, checked; CFS_JE_NOTFOUND if none. */
static int get_snapshot(cfs_journal *j, MDB_txn *txn, uint64_t seq, MDB_val *rec,
                        cfs_snapshot_info *info)
{
    uint8_t key[8];
    put_be64(key, seq);
    MDB_val k = {8, key};
    int rc = mdb_get(txn, j->db_snapshots, &k, rec);
    if (rc == MDB_NOTFOUND)
        return CFS_JE_NOTFOUND;
    if (rc)
        return fail_msg(j, map_mdb(rc), "%s: snapshots: %s", j->dir, mdb_strerror(rc));
    return snapshot_record_check(j, rec->mv_data, rec->mv_size, info);
}

/* ======================================================================= */
/* Sending                                                                  */

/* A failure whose message a helper (snapshot.c) set: say it was the send. */
static int send_says(cfs_journal *j, int rc)
{
    if (rc && strncmp(j->errmsg, "send: ", 6) != 0) {
        char why[sizeof(j->errmsg)];
        snprintf(why, sizeof(why), "%s", j->errmsg);
        fail_msg(j, rc, "send: %.240s", why);
    }
    return rc;
}

struct sender {
    cfs_journal *j;
    MDB_txn *txn;
    cfs_stream_write_fn write;
    void *ctx;
    uint8_t *buf; /* IO_BUF bytes waiting for write() */
    size_t len;
    uint64_t bytes;   /* the stream so far (buf included) */
    uint64_t written; /* ... of which write() took */
    uint64_t records;
    XXH3_state_t *whole, *rsum;
    struct hashset sent; /* chunks the receiver has or will have */
    uint8_t *block;   /* CFS_BLOCK_SIZE */
    uint8_t *zbuf;
    size_t zcap;
    ZSTD_CCtx *zc;
    cfs_frame_codec *fc;
    struct batch tail;
    uint64_t snap_seq; /* the snapshot whose chunks are being sent */
    int rc;            /* a callback's failure */
    cfs_send_report rep;
};

static int write_failed(struct sender *s, int rc)
{
    if (rc < 0)
        return rc; /* the callback's own CFS_JE_* code (and message) */
    return fail_msg(s->j, rc == ENOSPC ? CFS_JE_NOSPC : CFS_JE_IO,
                    "send: writing the stream failed after %" PRIu64 " bytes: %s",
                    s->written, strerror(rc));
}

static int out_flush(struct sender *s)
{
    if (!s->len)
        return 0;
    int rc = s->write(s->ctx, s->buf, s->len);
    if (rc)
        return write_failed(s, rc);
    s->written += s->len;
    s->len = 0;
    return 0;
}

static int out_bytes(struct sender *s, const void *p, size_t n)
{
    XXH3_64bits_update_dispatch(s->whole, p, n);
    if (s->len + n > IO_BUF) {
        int rc = out_flush(s);
        if (rc)
            return rc;
    }
    s->bytes += n;
    if (n >= IO_BUF) {
        int rc = s->write(s->ctx, p, n);
        if (rc)
            return write_failed(s, rc);
        s->written += n;
        return 0;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return 0;
}

/* One record: prefix, body a[0..alen) b[0..blen), checksum. */
static int out_record(struct sender *s, uint8_t type, const void *a, size_t alen,
                      const void *b, size_t blen)
{
    if ((uint64_t)alen + blen > body_max(type))
        return fail_msg(s->j, CFS_JE_INVAL, "send: a record of %zu bytes is too large",
                        alen + blen);
    uint8_t pre[PREFIX_SIZE] = {0}, sum[SUM_SIZE];
    put32(pre, (uint32_t)(alen + blen));
    pre[4] = type;
    s->records++;
    XXH3_64bits_reset_withSeed(s->rsum, s->records);
    XXH3_64bits_update_dispatch(s->rsum, pre, sizeof(pre));
    if (alen)
        XXH3_64bits_update_dispatch(s->rsum, a, alen);
    if (blen)
        XXH3_64bits_update_dispatch(s->rsum, b, blen);
    put64(sum, XXH3_64bits_digest(s->rsum));
    int rc = out_bytes(s, pre, sizeof(pre));
    if (!rc && alen)
        rc = out_bytes(s, a, alen);
    if (!rc && blen)
        rc = out_bytes(s, b, blen);
    if (!rc)
        rc = out_bytes(s, sum, sizeof(sum));
    return rc;
}

/* A stored chunk's `len` bytes (the image gives the size), checked
 * against its hash. */
static int read_block(struct sender *s, cfs_hash128 h, size_t len)
{
    cfs_journal *j = s->j;
    char hx[33];
    hash_hex(hx, h);
    int rc = chunk_read(j, s->txn, h, s->block, len);
    if (rc && rc != CFS_JE_CORRUPT)
        return rc;
    XXH128_hash_t got = XXH3_128bits_dispatch(s->block, len);
    if (rc || got.low64 != h.lo || got.high64 != h.hi)
        return fail_msg(j, CFS_JE_CORRUPT, "send: snapshot at seq %" PRIu64
                        ": chunk %s is missing or damaged", s->snap_seq, hx);
    return 0;
}

/* cfs_image_refs callback: send each chunk the receiver will lack, once. */
static int send_chunk(void *ctx, cfs_hash128 h, size_t len)
{
    struct sender *s = ctx;
    bool added;
    if (hashset_add(&s->sent, h, &added)) {
        s->rc = fail_msg(s->j, CFS_JE_NOMEM, "send: out of memory");
        return 1;
    }
    if (!added)
        return 0;
    if ((s->rc = read_block(s, h, len)))
        return 1;
    uint8_t fixed[CHUNK_FIXED] = {0};
    put64(fixed, h.lo);
    put64(fixed + 8, h.hi);
    put32(fixed + 16, (uint32_t)len);
    const void *payload = s->block;
    size_t plen = len;
    size_t n = ZSTD_compressCCtx(s->zc, s->zbuf, s->zcap, s->block, len,
                                 s->j->opts.zstd_level);
    if (!ZSTD_isError(n) && n < len) {
        fixed[20] = CHUNK_ZSTD;
        payload = s->zbuf;
        plen = n;
    }
    if ((s->rc = out_record(s, REC_CHUNK, fixed, sizeof(fixed), payload, plen)))
        return 1;
    s->rep.chunks++;
    s->rep.chunk_bytes += len;
    return 0;
}

/* The chunks a snapshot's image refers to: sent (or, with send false,
 * only marked as the receiver's). */
static int snapshot_chunks(struct sender *s, const MDB_val *rec, uint64_t seq, bool send)
{
    uint8_t *meta;
    size_t mlen;
    int rc = snapshot_image(s->j, rec->mv_data, rec->mv_size, seq, &meta, &mlen);
    if (rc)
        return send_says(s->j, rc);
    s->snap_seq = seq;
    s->rc = 0;
    cfs_errno e = send ? cfs_image_refs(meta, mlen, send_chunk, s)
                       : cfs_image_refs(meta, mlen, hashset_add_ref, &s->sent);
    free(meta);
    if (e == CFS_ECANCELED)
        return s->rc ? s->rc : fail_msg(s->j, CFS_JE_NOMEM, "send: out of memory");
    if (e)
        return fail_msg(s->j, CFS_JE_CORRUPT, "send: snapshot at seq %" PRIu64
                        ": malformed image", seq);
    return 0;
}

static int keep_tail(void *ctx, const cfs_event *ev)
{
    struct batch *b = ctx;
    return ev->seq < b->first ? 0 : batch_add(b, ev);
}

/* The frames holding events from..head, each checked whole; a first
 * frame reaching back before `from` is re-encoded to start there. */
static int send_frames(struct sender *s, uint64_t from, uint64_t head)
{
    cfs_journal *j = s->j;
    if (head < from)
        return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->txn, j->db_events, &cur);
    if (rc)
        return fail_msg(j, map_mdb(rc), "send: events: %s", mdb_strerror(rc));
    uint8_t key[8];
    MDB_val k, v;
    /* the frame holding `from`: the last key <= from */
    int mrc = seek_at_or_before(cur, from, key, &k, &v);
    if (mrc == MDB_NOTFOUND)
        mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    uint64_t expect = from;
    char err[256];
    for (rc = 0; mrc == 0 && !rc; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) {
            rc = fail_msg(j, CFS_JE_CORRUPT, "send: events: a key of %zu bytes", k.mv_size);
            break;
        }
        uint64_t first;
        uint32_t count;
        if ((rc = cfs_frame_peek(v.mv_data, v.mv_size, get_be64(k.mv_data), &first, &count,
                                 err, sizeof(err)))) {
            fail_msg(j, rc, "send: %s", err);
            break;
        }
        uint64_t last = first + count - 1;
        if (last < expect)
            continue; /* before the base */
        if (first > expect) {
            rc = fail_msg(j, CFS_JE_CORRUPT, "send: the events from seq %" PRIu64
                          " are missing (the next frame starts at seq %" PRIu64 ")",
                          expect, first);
            break;
        }
        if (first == expect) {
            rc = cfs_frame_decode_with(s->fc, v.mv_data, v.mv_size, first, NULL, NULL, err,
                                       sizeof(err));
            if (!rc)
                rc = out_record(s, REC_FRAME, v.mv_data, v.mv_size, NULL, 0);
            else
                fail_msg(j, rc, "send: %s", err);
        } else {
            batch_begin(&s->tail, expect);
            rc = cfs_frame_decode_with(s->fc, v.mv_data, v.mv_size, first, keep_tail,
                                       &s->tail, err, sizeof(err));
            const uint8_t *fr;
            size_t flen;
            if (rc)
                fail_msg(j, rc, "send: %s", rc == CFS_JE_NOMEM ? "out of memory" : err);
            else if ((rc = cfs_frame_encode(s->fc, expect, s->tail.count, s->tail.p,
                                            s->tail.len, &fr, &flen)))
                fail_msg(j, rc, "send: re-framing the events from seq %" PRIu64 ": %s",
                         expect, cfs_strerror(rc));
            else
                rc = out_record(s, REC_FRAME, fr, flen, NULL, 0);
        }
        s->rep.frames++;
        s->rep.events += last - expect + 1;
        expect = last + 1;
    }
    mdb_cursor_close(cur);
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = fail_msg(j, map_mdb(mrc), "send: events: %s", mdb_strerror(mrc));
    if (!rc && expect != head + 1)
        rc = fail_msg(j, CFS_JE_CORRUPT, "send: the events end at seq %" PRIu64
                      ", not at the journal's head (%" PRIu64 ")", expect - 1, head);
    return rc;
}

static int send_all(struct sender *s, uint64_t since)
{
    cfs_journal *j = s->j;
    struct shape sh;
    int rc = journal_shape(j, s->txn, &sh);
    if (rc)
        return rc;
    uint64_t head = shape_head(&sh);
    if (sh.snapshots && sh.last_snapshot > head)
        head = sh.last_snapshot;

    /* the base: the snapshot named, the oldest one, or the empty state */
    cfs_stream_kind kind = CFS_STREAM_FROM_START;
    uint64_t base = 0;
    cfs_snapshot_info bi;
    memset(&bi, 0, sizeof(bi));
    MDB_val rec;
    if (since) {
        rc = get_snapshot(j, s->txn, since, &rec, &bi);
        if (rc == CFS_JE_NOTFOUND)
            return fail_msg(j, rc, "send: %s has no snapshot at seq %" PRIu64
                            " to send from", j->dir, since);
        if (rc)
            return send_says(j, rc);
        kind = CFS_STREAM_INCREMENTAL;
        base = since;
        if ((rc = snapshot_chunks(s, &rec, base, false)))
            return rc;
    } else if (sh.snapshots) {
        MDB_cursor *cur;
        MDB_val k;
        if ((rc = mdb_cursor_open(s->txn, j->db_snapshots, &cur)))
            return fail_msg(j, map_mdb(rc), "send: snapshots: %s", mdb_strerror(rc));
        rc = mdb_cursor_get(cur, &k, &rec, MDB_FIRST);
        mdb_cursor_close(cur);
        if (rc || k.mv_size != 8)
            return fail_msg(j, rc ? map_mdb(rc) : CFS_JE_CORRUPT, "send: snapshots: %s",
                            rc ? mdb_strerror(rc) : "a malformed key");
        base = get_be64(k.mv_data);
        if ((rc = snapshot_record_check(j, rec.mv_data, rec.mv_size, &bi)))
            return send_says(j, rc);
        kind = CFS_STREAM_FULL;
    }
    s->rep.kind = kind;
    s->rep.base_seq = base;
    s->rep.head_seq = head;

    uint8_t hb[HEADER_BODY] = {0};
    hb[0] = (uint8_t)kind;
    memcpy(hb + 8, j->id, 32);
    put64(hb + 40, base);
    put64(hb + 48, bi.state_hash.lo);
    put64(hb + 56, bi.state_hash.hi);
    put64(hb + 64, head);
    if ((rc = out_record(s, REC_HEADER, hb, sizeof(hb), NULL, 0)))
        return rc;

    /* the snapshots from the base on (incremental: after it), each after
     * the chunks it adds */
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(s->txn, j->db_snapshots, &cur)))
        return fail_msg(j, map_mdb(rc), "send: snapshots: %s", mdb_strerror(rc));
    uint8_t key[8];
    uint64_t from = kind == CFS_STREAM_INCREMENTAL ? base + 1 : base;
    put_be64(key, from);
    MDB_val k = {8, key}, v;
    int mrc = kind == CFS_STREAM_INCREMENTAL && base == UINT64_MAX
                  ? MDB_NOTFOUND
                  : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; mrc == 0 && !rc; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) {
            rc = fail_msg(j, CFS_JE_CORRUPT, "send: snapshots: a key of %zu bytes", k.mv_size);
            break;
        }
        uint64_t seq = get_be64(k.mv_data);
        cfs_snapshot_info info;
        if ((rc = snapshot_record_check(j, v.mv_data, v.mv_size, &info)))
            break;
        if (info.seq != seq) {
            rc = fail_msg(j, CFS_JE_CORRUPT, "send: the snapshot stored under seq %" PRIu64
                          " is the one at seq %" PRIu64, seq, info.seq);
            break;
        }
        if ((rc = snapshot_chunks(s, &v, seq, true)) ||
            (rc = out_record(s, REC_SNAPSHOT, v.mv_data, v.mv_size, NULL, 0)))
            break;
        s->rep.snapshots++;
    }
    mdb_cursor_close(cur);
    if (rc)
        return send_says(j, rc);
    if (mrc && mrc != MDB_NOTFOUND)
        return fail_msg(j, map_mdb(mrc), "send: snapshots: %s", mdb_strerror(mrc));

    if ((rc = send_frames(s, base + 1, head)))
        return rc;

    uint8_t eb[END_BODY];
    put64(eb, s->records);
    put64(eb + 8, s->rep.chunks);
    put64(eb + 16, s->rep.snapshots);
    put64(eb + 24, s->rep.frames);
    put64(eb + 32, s->rep.events);
    put64(eb + 40, s->bytes);
    put64(eb + 48, XXH3_64bits_digest(s->whole));
    if ((rc = out_record(s, REC_END, eb, sizeof(eb), NULL, 0)) || (rc = out_flush(s)))
        return rc;
    s->rep.bytes = s->bytes;
    return 0;
}

int cfs_journal_send(cfs_journal *j, uint64_t since_seq, cfs_stream_write_fn write,
                     void *ctx, cfs_send_report *rep)
{
    if (rep)
        memset(rep, 0, sizeof(*rep));
    if (!write)
        return fail_msg(j, CFS_JE_INVAL, "send: no write callback");
    int rc;
    if (j->writer && !j->failed) {
        /* what was appended and every snapshot begun go with it */
        if ((rc = cfs_journal_snapshot_wait(j, NULL)) || (rc = commit_wait(j)))
            return rc;
    }
    struct sender s;
    memset(&s, 0, sizeof(s));
    s.j = j;
    s.write = write;
    s.ctx = ctx;
    s.zcap = ZSTD_compressBound(CFS_BLOCK_SIZE);
    s.buf = malloc(IO_BUF);
    s.block = malloc(CFS_BLOCK_SIZE);
    s.zbuf = malloc(s.zcap);
    s.zc = ZSTD_createCCtx();
    s.fc = cfs_frame_codec_new(j->opts.zstd_level);
    s.whole = XXH3_createState();
    s.rsum = XXH3_createState();
    if (!s.buf || !s.block || !s.zbuf || !s.zc || !s.fc || !s.whole || !s.rsum) {
        rc = fail_msg(j, CFS_JE_NOMEM, "send: out of memory");
        goto done;
    }
    XXH3_64bits_reset(s.whole);
    uint8_t lead[LEADIN_SIZE] = {0};
    memcpy(lead, STREAM_MAGIC, 4);
    put16(lead + 4, CFS_STREAM_VERSION);
    if ((rc = read_begin(j, &s.txn)))
        goto done;
    if (!(rc = out_bytes(&s, lead, sizeof(lead))))
        rc = send_all(&s, since_seq);
    mdb_txn_abort(s.txn);
    if (!rc && rep)
        *rep = s.rep;
done:
    free(s.buf);
    free(s.block);
    free(s.zbuf);
    ZSTD_freeCCtx(s.zc);
    cfs_frame_codec_free(s.fc);
    XXH3_freeState(s.whole);
    XXH3_freeState(s.rsum);
    hashset_free(&s.sent);
    free(s.tail.p);
    return rc;
}

/* ======================================================================= */
/* Receiving                                                                */

/* The journal's own events, one frame at a time, each encoded standalone
 * (context {seq - 1, time 0}): the codec is canonical, so two events are
 * the same exactly when these bytes are. */
struct own_frame {
    uint64_t first;
    uint32_t n, cap;
    size_t *off; /* n + 1 offsets into enc */
    uint8_t *enc;
    size_t len, enc_cap;
};

struct receiver {
    cfs_journal *j;
    MDB_txn *txn;
    cfs_stream_read_fn read;
    void *ctx;
    uint8_t *in; /* read-ahead */
    size_t in_pos, in_len;
    bool eof;
    uint64_t consumed;     /* stream bytes taken so far */
    XXH3_state_t *whole, *rsum;
    uint64_t recno;        /* the record being read, from 1 */
    uint64_t rec_start;    /* its first byte */
    uint64_t whole_before; /* xxh3-64 of the stream before it */
    char what[64];         /* what it is, for messages */
    uint8_t *body;
    size_t body_cap;

    /* the header */
    cfs_stream_kind kind;
    uint64_t base, head;
    cfs_hash128 base_hash;
    char origin[33];
    /* the journal before: its events end at own_last (0: none) */
    uint64_t own_last;
    /* the stream so far */
    uint64_t next_seq; /* the first event the next frame must hold */
    uint64_t last_snap;
    bool any_snap, base_seen;
    uint64_t chunks, snapshots, frames, events;

    uint8_t *block; /* CFS_BLOCK_SIZE */
    ZSTD_DCtx *zd;
    cfs_frame_codec *fc_stream, *fc_own;
    struct own_frame own;
    struct batch tail;
    bool tailing;
    uint8_t *scratch;
    size_t scratch_cap;
    int cb_rc; /* a frame callback's failure */
    cfs_receive_report rep;
};

#define REC_FMT "stream record %" PRIu64 " (%s)"

/* Fill the read-ahead buffer. */
static int in_fill(struct receiver *r)
{
    size_t got = 0;
    int rc = r->read(r->ctx, r->in, IO_BUF, &got);
    if (rc)
        return rc < 0 ? rc
                      : fail_msg(r->j, CFS_JE_IO, "receive: reading the stream failed after %"
                                 PRIu64 " bytes: %s", r->consumed, strerror(rc));
    if (got > IO_BUF)
        return fail_msg(r->j, CFS_JE_INVAL, "receive: the read callback claims %zu bytes of "
                        "%zu", got, IO_BUF);
    r->in_pos = 0;
    r->in_len = got;
    r->eof = got == 0;
    return 0;
}

/* Up to n bytes; *got < n only at the end of the stream. */
static int in_read(struct receiver *r, void *dst, size_t n, size_t *got)
{
    size_t done = 0;
    while (done < n) {
        if (r->in_pos == r->in_len) {
            int rc = r->eof ? 0 : in_fill(r);
            if (rc)
                return rc;
            if (r->eof)
                break;
        }
        size_t k = r->in_len - r->in_pos;
        if (k > n - done)
            k = n - done;
        memcpy((uint8_t *)dst + done, r->in + r->in_pos, k);
        XXH3_64bits_update_dispatch(r->whole, r->in + r->in_pos, k);
        r->in_pos += k;
        done += k;
    }
    r->consumed += done;
    *got = done;
    return 0;
}

static int truncated(struct receiver *r)
{
    return fail_msg(r->j, CFS_JE_CORRUPT, "stream ends after %" PRIu64 " bytes, inside record %"
                    PRIu64 ": truncated", r->consumed, r->recno);
}

/* Read the next record: its type and body (in r->body), checksum held. */
static int read_record(struct receiver *r, uint8_t *type, uint32_t *len)
{
    r->recno++;
    r->rec_start = r->consumed;
    r->whole_before = XXH3_64bits_digest(r->whole);
    snprintf(r->what, sizeof(r->what), "?");
    uint8_t pre[PREFIX_SIZE], sum[SUM_SIZE];
    size_t got;
    int rc = in_read(r, pre, sizeof(pre), &got);
    if (rc)
        return rc;
    if (got == 0)
        return fail_msg(r->j, CFS_JE_CORRUPT, "stream ends after %" PRIu64 " bytes, before "
                        "record %" PRIu64 " (no end record): truncated", r->consumed, r->recno);
    if (got < sizeof(pre))
        return truncated(r);
    *type = pre[4];
    *len = get32(pre);
    static const char *const names[] = {"?", "header", "chunk", "snapshot", "frame", "end"};
    snprintf(r->what, sizeof(r->what), "%s", names[*type <= REC_END ? *type : 0]);
    uint64_t max = body_max(*type);
    if (!max)
        return fail_msg(r->j, CFS_JE_CORRUPT, "stream record %" PRIu64 " at byte %" PRIu64
                        ": unknown record type %u", r->recno, r->rec_start, *type);
    if (*len > max)
        return fail_msg(r->j, CFS_JE_CORRUPT, REC_FMT ": a body of %" PRIu32 " bytes (at most %"
                        PRIu64 ")", r->recno, r->what, *len, max);
    /* grow the buffer as the bytes come, so a length that lies costs
     * what the stream really holds, not what it claims */
    size_t have = 0;
    while (have < *len) {
        size_t want = *len - have < READ_STEP ? *len - have : READ_STEP;
        if (have + want > r->body_cap) {
            size_t cap = r->body_cap ? r->body_cap : 65536;
            while (cap < have + want)
                cap *= 2;
            uint8_t *nb = realloc(r->body, cap);
            if (!nb)
                return fail_msg(r->j, CFS_JE_NOMEM, REC_FMT ": out of memory", r->recno,
                                r->what);
            r->body = nb;
            r->body_cap = cap;
        }
        if ((rc = in_read(r, r->body + have, want, &got)))
            return rc;
        have += got;
        if (got < want)
            return truncated(r);
    }
    if ((rc = in_read(r, sum, sizeof(sum), &got)))
        return rc;
    if (got < sizeof(sum))
        return truncated(r);
    /* name it by what it says it is (not yet trusted) */
    const uint8_t *b = r->body;
    if (*type == REC_CHUNK && *len >= 16)
        snprintf(r->what, sizeof(r->what), "chunk %016" PRIx64 "%016" PRIx64, get64(b + 8),
                 get64(b));
    else if ((*type == REC_FRAME || *type == REC_SNAPSHOT) && *len >= 16)
        snprintf(r->what, sizeof(r->what), "%s at seq %" PRIu64, names[*type], get64(b + 8));
    XXH3_64bits_reset_withSeed(r->rsum, r->recno);
    XXH3_64bits_update_dispatch(r->rsum, pre, sizeof(pre));
    if (*len)
        XXH3_64bits_update_dispatch(r->rsum, r->body, *len);
    uint64_t want_sum = XXH3_64bits_digest(r->rsum);
    if (want_sum != get64(sum))
        return fail_msg(r->j, CFS_JE_CORRUPT, REC_FMT ": checksum mismatch (stored %016" PRIx64
                        ", computed %016" PRIx64 ")", r->recno, r->what, get64(sum), want_sum);
    if (pre[5] | pre[6] | pre[7])
        return fail_msg(r->j, CFS_JE_CORRUPT, REC_FMT ": reserved bytes are not zero",
                        r->recno, r->what);
    return 0;
}

/* An LMDB failure inside the transaction. */
static int txn_failed(struct receiver *r, int rc)
{
    if (rc == MDB_MAP_FULL)
        return fail_msg(r->j, CFS_JE_NOSPC, REC_FMT ": the journal's map is full: the stream "
                        "does not fit on the disk", r->recno, r->what);
    if (rc == MDB_TXN_FULL)
        return fail_msg(r->j, CFS_JE_NOSPC, REC_FMT ": the stream is too large for one LMDB "
                        "transaction", r->recno, r->what);
    return fail_msg(r->j, map_mdb(rc), REC_FMT ": %s", r->recno, r->what, mdb_strerror(rc));
}

static int put(struct receiver *r, MDB_dbi db, uint64_t seq, const void *val, size_t len,
               unsigned flags)
{
    uint8_t key[8];
    put_be64(key, seq);
    MDB_val k = {8, key}, v = {len, (void *)val};
    int rc = mdb_put(r->txn, db, &k, &v, flags);
    return rc ? txn_failed(r, rc) : 0;
}

static int recv_leadin(struct receiver *r)
{
    uint8_t b[LEADIN_SIZE];
    size_t got;
    int rc = in_read(r, b, sizeof(b), &got);
    if (rc)
        return rc;
    if (got == 0)
        return fail_msg(r->j, CFS_JE_CORRUPT, "the stream is empty: truncated");
    if (got < 6 || memcmp(b, STREAM_MAGIC, 4) != 0) {
        if (got >= 4 && memcmp(b, STREAM_MAGIC, 4) != 0)
            return fail_msg(r->j, CFS_JE_CORRUPT, "not a chronofs stream (bad magic)");
        return fail_msg(r->j, CFS_JE_CORRUPT, "stream ends after %zu bytes, inside its "
                        "lead-in: truncated", got);
    }
    unsigned ver = get16(b + 4);
    if (ver > CFS_STREAM_VERSION)
        return fail_msg(r->j, CFS_JE_VERSION, "stream format version %u is newer than this "
                        "build (%d)", ver, CFS_STREAM_VERSION);
    if (ver == 0)
        return fail_msg(r->j, CFS_JE_CORRUPT, "stream format version 0");
    if (got < sizeof(b))
        return fail_msg(r->j, CFS_JE_CORRUPT, "stream ends after %zu bytes, inside its "
                        "lead-in: truncated", got);
    if (b[6] | b[7])
        return fail_msg(r->j, CFS_JE_CORRUPT, "stream lead-in: unknown flags %04x", get16(b + 6));
    return 0;
}

static int recv_header(struct receiver *r, const uint8_t *b, uint32_t n)
{
    cfs_journal *j = r->j;
    if (n != HEADER_BODY)
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": %" PRIu32 " bytes, not %d", r->recno,
                        r->what, n, HEADER_BODY);
    r->kind = (cfs_stream_kind)b[0];
    r->base = get64(b + 40);
    r->base_hash.lo = get64(b + 48);
    r->base_hash.hi = get64(b + 56);
    r->head = get64(b + 64);
    for (int i = 1; i < 8; i++)
        if (b[i])
            return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": reserved bytes are not zero",
                            r->recno, r->what);
    for (int i = 0; i < 32; i++) {
        char c = (char)b[8 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": the sender's journal id is not 32 "
                            "hex digits", r->recno, r->what);
        r->origin[i] = c;
    }
    r->origin[32] = 0;
    if (r->kind > CFS_STREAM_INCREMENTAL)
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": unknown stream kind %u", r->recno,
                        r->what, b[0]);
    if (r->kind == CFS_STREAM_FROM_START && (r->base || r->base_hash.lo || r->base_hash.hi))
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": a stream from the start names a base",
                        r->recno, r->what);
    if (r->head < r->base)
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": its head (seq %" PRIu64 ") is before "
                        "its base (seq %" PRIu64 ")", r->recno, r->what, r->head, r->base);
    if (r->kind == CFS_STREAM_INCREMENTAL && r->base == UINT64_MAX)
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": base seq 2^64-1", r->recno, r->what);

    /* what this journal must hold for the stream to continue it */
    struct shape sh;
    int rc = journal_shape(j, r->txn, &sh);
    if (rc)
        return rc;
    bool empty = !sh.events && !sh.snapshots;
    char want[33];
    hash_hex(want, r->base_hash);
    if (r->kind == CFS_STREAM_INCREMENTAL || (r->kind == CFS_STREAM_FULL && !empty)) {
        const char *what = r->kind == CFS_STREAM_INCREMENTAL
                               ? "incremental stream from snapshot at"
                               : "full stream into a journal that is not empty: it must hold "
                                 "the stream's first snapshot, at";
        MDB_val rec;
        cfs_snapshot_info have;
        rc = get_snapshot(j, r->txn, r->base, &rec, &have);
        if (rc == CFS_JE_NOTFOUND)
            return fail_msg(j, CFS_JE_NOTFOUND, "%s seq %" PRIu64 " (hash %s): this journal "
                            "has no such snapshot", what, r->base, want);
        if (rc)
            return rc;
        if (!hash_eq(have.state_hash, r->base_hash)) {
            char got[33];
            hash_hex(got, have.state_hash);
            return fail_msg(j, CFS_JE_DIVERGED, "%s seq %" PRIu64 " (hash %s): this journal "
                            "has a different state at seq %" PRIu64 " (hash %s)", what,
                            r->base, want, r->base, got);
        }
    } else if (r->kind == CFS_STREAM_FROM_START && !empty &&
               (!sh.events || sh.first_event != 1)) {
        return fail_msg(j, CFS_JE_INVAL, "full stream from seq 1 into a journal that is not "
                        "empty and does not hold its events from seq 1");
    }
    if (sh.events && sh.last_event < r->base)
        return fail_msg(j, CFS_JE_INVAL, "stream from seq %" PRIu64 ": this journal's events "
                        "end before it, at seq %" PRIu64, r->base, sh.last_event);
    r->own_last = sh.events ? sh.last_event : 0;
    r->next_seq = r->base + 1;
    r->rep.kind = r->kind;
    r->rep.base_seq = r->base;
    r->rep.head_seq = r->head;
    memcpy(r->rep.origin, r->origin, sizeof(r->origin));
    return 0;
}

static int recv_chunk(struct receiver *r, const uint8_t *b, uint32_t n)
{
    cfs_journal *j = r->j;
    if (n < CHUNK_FIXED)
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": %" PRIu32 " bytes", r->recno, r->what, n);
    cfs_hash128 h = {get64(b), get64(b + 8)};
    uint32_t len = get32(b + 16);
    uint8_t codec = b[20];
    const uint8_t *payload = b + CHUNK_FIXED;
    size_t plen = n - CHUNK_FIXED;
    if (b[21] | b[22] | b[23])
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": reserved bytes are not zero", r->recno,
                        r->what);
    if (len == 0 || len > CFS_BLOCK_SIZE)
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": a block of %" PRIu32 " bytes", r->recno,
                        r->what, len);
    if (codec == CHUNK_RAW) {
        if (plen != len)
            return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": %zu bytes for a block of %" PRIu32,
                            r->recno, r->what, plen, len);
        memcpy(r->block, payload, len);
    } else if (codec == CHUNK_ZSTD) {
        /* exactly one zstd frame, exactly len bytes */
        size_t fsz = ZSTD_findFrameCompressedSize(payload, plen);
        size_t got = ZSTD_isError(fsz) || fsz != plen
                         ? 0
                         : ZSTD_decompressDCtx(r->zd, r->block, len, payload, plen);
        if (ZSTD_isError(fsz) || fsz != plen || ZSTD_isError(got) || got != len)
            return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": does not decompress to %" PRIu32
                            " bytes", r->recno, r->what, len);
    } else {
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": unknown codec %u", r->recno, r->what,
                        codec);
    }
    XXH128_hash_t got = XXH3_128bits_dispatch(r->block, len);
    if (got.low64 != h.lo || got.high64 != h.hi)
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": its content does not match its hash",
                        r->recno, r->what);
    uint64_t stored;
    int rc = chunk_write(j, r->txn, h, r->block, len, &stored);
    if (rc > 0)
        return txn_failed(r, rc);
    if (rc)
        return rc;
    r->chunks++;
    if (stored)
        r->rep.chunks_added++;
    return 0;
}

static int fetch_block(void *ctx, cfs_hash128 h, void *buf, size_t len)
{
    struct receiver *r = ctx;
    return chunk_read(r->j, r->txn, h, buf, len) ? 1 : 0;
}

static int recv_snapshot(struct receiver *r, const uint8_t *b, uint32_t n)
{
    cfs_journal *j = r->j;
    cfs_snapshot_info info;
    int rc = snapshot_record_check(j, b, n, &info);
    if (rc) {
        char why[256];
        snprintf(why, sizeof(why), "%s", j->errmsg);
        return fail_msg(j, rc, "stream record %" PRIu64 ": %s", r->recno, why);
    }
    uint64_t seq = info.seq;
    if (r->any_snap && seq <= r->last_snap)
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": after the snapshot at seq %" PRIu64,
                        r->recno, r->what, r->last_snap);
    if (r->kind == CFS_STREAM_FULL && !r->any_snap &&
        (seq != r->base || !hash_eq(info.state_hash, r->base_hash)))
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": the first snapshot is not the base the "
                        "header names (seq %" PRIu64 ")", r->recno, r->what, r->base);
    if ((r->kind == CFS_STREAM_FULL ? seq < r->base : seq <= r->base) || seq > r->head)
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": outside the stream's seqs (%" PRIu64
                        " to %" PRIu64 ")", r->recno, r->what, r->base, r->head);
    r->any_snap = true;
    r->last_snap = seq;
    r->base_seen |= seq == r->base;
    r->snapshots++;

    MDB_val have;
    cfs_snapshot_info hi;
    rc = get_snapshot(j, r->txn, seq, &have, &hi);
    if (rc == 0) {
        /* one the journal holds: the same state, or a different history */
        if (!hash_eq(hi.state_hash, info.state_hash)) {
            char a[33], c[33];
            hash_hex(a, info.state_hash);
            hash_hex(c, hi.state_hash);
            return fail_msg(j, CFS_JE_DIVERGED, REC_FMT ": the stream's state at seq %" PRIu64
                            " (hash %s) differs from this journal's (hash %s)", r->recno,
                            r->what, seq, a, c);
        }
        r->rep.snapshots_present++;
        return 0;
    }
    if (rc != CFS_JE_NOTFOUND)
        return rc;

    /* a new one: it must load, from the chunks it has here, to its hash */
    uint8_t *meta;
    size_t mlen;
    if ((rc = snapshot_image(j, b, n, seq, &meta, &mlen))) {
        char why[256];
        snprintf(why, sizeof(why), "%s", j->errmsg);
        return fail_msg(j, rc, "stream record %" PRIu64 ": %s", r->recno, why);
    }
    cfs_fs *fs = NULL;
    char err[200] = "";
    cfs_errno e = cfs_fs_decode_image(meta, mlen, fetch_block, r, NULL, &fs, err, sizeof(err));
    free(meta);
    if (e == CFS_ENOMEM)
        return fail_msg(j, CFS_JE_NOMEM, REC_FMT ": out of memory", r->recno, r->what);
    if (e)
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": %s", r->recno, r->what,
                        err[0] ? err : cfs_errno_name(e));
    cfs_hash128 got = cfs_fs_hash(fs);
    uint64_t at = cfs_fs_seq(fs);
    cfs_fs_free(fs);
    if (!hash_eq(got, info.state_hash) || at != seq)
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": the loaded state does not match its hash",
                        r->recno, r->what);
    if ((rc = put(r, j->db_snapshots, seq, b, n, MDB_NOOVERWRITE)))
        return rc;
    r->rep.snapshots_added++;
    return 0;
}

static int collect_own(void *ctx, const cfs_event *ev)
{
    struct own_frame *o = ctx;
    size_t need = cfs_codec_bound(ev);
    if (o->len + need > o->enc_cap) {
        size_t cap = o->enc_cap ? o->enc_cap : 65536;
        while (cap < o->len + need)
            cap *= 2;
        uint8_t *np = realloc(o->enc, cap);
        if (!np)
            return CFS_JE_NOMEM;
        o->enc = np;
        o->enc_cap = cap;
    }
    if (o->n + 2 > o->cap) {
        uint32_t cap = o->cap ? 2 * o->cap : 1024;
        size_t *np = realloc(o->off, cap * sizeof(*np));
        if (!np)
            return CFS_JE_NOMEM;
        o->off = np;
        o->cap = cap;
    }
    cfs_codec_ctx c = {ev->seq - 1, 0};
    o->off[o->n] = o->len;
    o->len += cfs_codec_encode(&c, ev, o->enc + o->len);
    o->n++;
    o->off[o->n] = o->len;
    return 0;
}

/* The journal's own event at seq, encoded standalone. */
static int own_event(struct receiver *r, uint64_t seq, const uint8_t **p, size_t *n)
{
    cfs_journal *j = r->j;
    struct own_frame *o = &r->own;
    if (!o->n || seq < o->first || seq - o->first >= o->n) {
        MDB_cursor *cur;
        int rc = mdb_cursor_open(r->txn, j->db_events, &cur);
        if (rc)
            return txn_failed(r, rc);
        uint8_t key[8];
        put_be64(key, seq);
        MDB_val k = {8, key}, v;
        int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (mrc == MDB_NOTFOUND)
            mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        else if (mrc == 0 && k.mv_size == 8 && get_be64(k.mv_data) > seq)
            mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
        char err[256];
        o->n = o->len = 0;
        if (mrc == 0 && k.mv_size == 8) {
            o->first = get_be64(k.mv_data);
            rc = cfs_frame_decode_with(r->fc_own, v.mv_data, v.mv_size, o->first, collect_own,
                                       o, err, sizeof(err));
        }
        mdb_cursor_close(cur);
        if (mrc == 0 && rc) {
            o->n = 0;
            return rc == CFS_JE_NOMEM
                       ? fail_msg(j, rc, "receive: out of memory")
                       : fail_msg(j, rc, "receive: this journal's %s", err);
        }
        if (mrc && mrc != MDB_NOTFOUND)
            return txn_failed(r, mrc);
        if (!o->n || seq < o->first || seq - o->first >= o->n) {
            o->n = 0;
            return fail_msg(j, CFS_JE_CORRUPT, "receive: this journal has no event at seq %"
                            PRIu64 " to compare with the stream's", seq);
        }
    }
    uint64_t i = seq - o->first;
    *p = o->enc + o->off[i];
    *n = o->off[i + 1] - o->off[i];
    return 0;
}

/* Each event of a stream frame: compared with the journal's own, or
 * re-encoded for the journal when the frame straddles its last event. */
static int frame_event(void *ctx, const cfs_event *ev)
{
    struct receiver *r = ctx;
    cfs_journal *j = r->j;
    if (ev->seq <= r->own_last) {
        const uint8_t *mine = NULL;
        size_t mlen = 0;
        if ((r->cb_rc = own_event(r, ev->seq, &mine, &mlen)))
            return 1;
        size_t need = cfs_codec_bound(ev);
        if (need > r->scratch_cap) {
            uint8_t *np = realloc(r->scratch, need);
            if (!np) {
                r->cb_rc = fail_msg(j, CFS_JE_NOMEM, "receive: out of memory");
                return 1;
            }
            r->scratch = np;
            r->scratch_cap = need;
        }
        cfs_codec_ctx c = {ev->seq - 1, 0};
        size_t len = cfs_codec_encode(&c, ev, r->scratch);
        if (len != mlen || memcmp(r->scratch, mine, len) != 0) {
            r->cb_rc = fail_msg(j, CFS_JE_DIVERGED, REC_FMT ": the event at seq %" PRIu64
                                " (%s) differs from this journal's: it has diverged from the "
                                "stream since seq %" PRIu64, r->recno, r->what, ev->seq,
                                cfs_op_name(ev->op), r->base);
            return 1;
        }
        r->rep.events_present++;
        return 0;
    }
    if (r->tailing && (r->cb_rc = batch_add(&r->tail, ev))) {
        fail_msg(j, CFS_JE_NOMEM, "receive: out of memory");
        return 1;
    }
    return 0;
}

static int recv_frame(struct receiver *r, const uint8_t *b, uint32_t n)
{
    cfs_journal *j = r->j;
    uint64_t first = n >= 16 ? get64(b + 8) : 0;
    if (first != r->next_seq)
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": the stream's events continue at seq %"
                        PRIu64, r->recno, r->what, r->next_seq);
    uint32_t count;
    char err[256];
    int rc = cfs_frame_peek(b, n, first, NULL, &count, err, sizeof(err));
    if (rc)
        return fail_msg(j, rc, "stream record %" PRIu64 ": %s", r->recno, err);
    uint64_t last = first + count - 1;
    if (last > r->head)
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": its events reach seq %" PRIu64
                        ", past the stream's head (%" PRIu64 ")", r->recno, r->what, last,
                        r->head);
    r->tailing = first <= r->own_last && last > r->own_last;
    if (r->tailing)
        batch_begin(&r->tail, r->own_last + 1);
    r->cb_rc = 0;
    rc = cfs_frame_decode_with(r->fc_stream, b, n, first, frame_event, r, err, sizeof(err));
    if (rc && r->cb_rc)
        return r->cb_rc;
    if (rc)
        return fail_msg(j, rc, "stream record %" PRIu64 ": %s", r->recno, err);
    if (first > r->own_last) {
        /* all new: stored as it came */
        if ((rc = put(r, j->db_events, first, b, n, MDB_APPEND)))
            return rc;
        r->rep.frames_added++;
        r->rep.events_added += count;
    } else if (r->tailing) {
        const uint8_t *fr;
        size_t flen;
        if ((rc = cfs_frame_encode(r->fc_own, r->tail.first, r->tail.count, r->tail.p,
                                   r->tail.len, &fr, &flen)))
            return fail_msg(j, rc, REC_FMT ": re-framing the events from seq %" PRIu64 ": %s",
                            r->recno, r->what, r->tail.first, cfs_strerror(rc));
        if ((rc = put(r, j->db_events, r->tail.first, fr, flen, MDB_APPEND)))
            return rc;
        r->rep.frames_added++;
        r->rep.events_added += r->tail.count;
    }
    r->frames++;
    r->events += count;
    r->next_seq = last + 1;
    return 0;
}

static int recv_end(struct receiver *r, const uint8_t *b, uint32_t n)
{
    cfs_journal *j = r->j;
    if (n != END_BODY)
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": %" PRIu32 " bytes, not %d", r->recno,
                        r->what, n, END_BODY);
    const uint64_t want[] = {r->recno - 1, r->chunks, r->snapshots, r->frames, r->events,
                             r->rec_start, r->whole_before};
    static const char *const names[] = {"records", "chunks", "snapshots", "frames", "events",
                                        "bytes", "stream checksum"};
    for (int i = 0; i < 7; i++)
        if (get64(b + 8 * i) != want[i])
            return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": %s: it says %" PRIu64 ", the stream "
                            "has %" PRIu64, r->recno, r->what, names[i], get64(b + 8 * i),
                            want[i]);
    if (r->kind == CFS_STREAM_FULL && !r->base_seen)
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": the base snapshot (seq %" PRIu64
                        ") never came", r->recno, r->what, r->base);
    uint64_t end = r->frames ? r->next_seq - 1
                             : (r->any_snap && r->last_snap > r->base ? r->last_snap : r->base);
    if (end != r->head)
        return fail_msg(j, CFS_JE_CORRUPT, REC_FMT ": the stream ends at seq %" PRIu64
                        ", its header says %" PRIu64, r->recno, r->what, end, r->head);
    uint8_t extra;
    size_t got;
    int rc = in_read(r, &extra, 1, &got);
    if (rc)
        return rc;
    if (got)
        return fail_msg(j, CFS_JE_CORRUPT, "stream: bytes follow its end record (at byte %"
                        PRIu64 ")", r->consumed - 1);
    return 0;
}

static int recv_all(struct receiver *r)
{
    int rc = recv_leadin(r);
    uint8_t type;
    uint32_t n;
    if (!rc && !(rc = read_record(r, &type, &n)) && type != REC_HEADER)
        rc = fail_msg(r->j, CFS_JE_CORRUPT, REC_FMT ": the stream does not start with a header",
                      r->recno, r->what);
    if (!rc)
        rc = recv_header(r, r->body, n);
    while (!rc) {
        if ((rc = read_record(r, &type, &n)))
            break;
        switch (type) {
        case REC_CHUNK: rc = recv_chunk(r, r->body, n); break;
        case REC_SNAPSHOT: rc = recv_snapshot(r, r->body, n); break;
        case REC_FRAME: rc = recv_frame(r, r->body, n); break;
        case REC_END: return recv_end(r, r->body, n);
        default:
            rc = fail_msg(r->j, CFS_JE_CORRUPT, REC_FMT ": a second header", r->recno, r->what);
        }
    }
    return rc;
}

/*
 * Grow the map so that the one write transaction cannot meet MDB_MAP_FULL
 * before the disk is full: the pages in use plus the free space of the
 * journal's filesystem (capped). *old gets the size to go back to.
 */
static void stream_map_up(cfs_journal *j, size_t *old)
{
    MDB_envinfo mi;
    MDB_stat st;
    mdb_env_info(j->env, &mi);
    mdb_env_stat(j->env, &st);
    *old = mi.me_mapsize;
    uint64_t used = ((uint64_t)mi.me_last_pgno + 1) * st.ms_psize;
    struct statvfs vfs;
    uint64_t room = statvfs(j->dir, &vfs) == 0 ? (uint64_t)vfs.f_bavail * vfs.f_frsize
                                               : (uint64_t)1 << 30;
    if (room > MAP_ROOM_MAX)
        room = MAP_ROOM_MAX;
    uint64_t want = used + room + ((uint64_t)64 << 20);
    if (want > mi.me_mapsize && want <= SIZE_MAX)
        mdb_env_set_mapsize(j->env, (size_t)want); /* if it fails, MAP_FULL will say */
}

/* Back to the old size, or twice what is used now if that is more. */
static void stream_map_down(cfs_journal *j, size_t old)
{
    MDB_envinfo mi;
    MDB_stat st;
    mdb_env_info(j->env, &mi);
    mdb_env_stat(j->env, &st);
    uint64_t want = 2 * ((uint64_t)mi.me_last_pgno + 1) * st.ms_psize;
    if (want < old)
        want = old;
    if (want < mi.me_mapsize && want <= SIZE_MAX)
        mdb_env_set_mapsize(j->env, (size_t)want);
}

int cfs_journal_receive(cfs_journal *j, cfs_stream_read_fn read, void *ctx,
                        cfs_receive_report *rep)
{
    if (rep)
        memset(rep, 0, sizeof(*rep));
    if (!read)
        return fail_msg(j, CFS_JE_INVAL, "receive: no read callback");
    if (!j->writer)
        return fail_msg(j, CFS_JE_READONLY, "%s: opened read-only", j->dir);
    if (j->failed)
        return fail_msg(j, CFS_JE_FAILED, "%s: an earlier write failed; reopen the journal",
                        j->dir);
    int rc;
    if ((rc = cfs_journal_snapshot_wait(j, NULL)) || (rc = commit_wait(j)))
        return rc;
    struct receiver r;
    memset(&r, 0, sizeof(r));
    r.j = j;
    r.read = read;
    r.ctx = ctx;
    r.in = malloc(IO_BUF);
    r.block = malloc(CFS_BLOCK_SIZE);
    r.zd = ZSTD_createDCtx();
    r.fc_stream = cfs_frame_codec_new(j->opts.zstd_level);
    r.fc_own = cfs_frame_codec_new(j->opts.zstd_level);
    r.whole = XXH3_createState();
    r.rsum = XXH3_createState();
    if (!r.in || !r.block || !r.zd || !r.fc_stream || !r.fc_own || !r.whole || !r.rsum) {
        rc = fail_msg(j, CFS_JE_NOMEM, "receive: out of memory");
        goto done;
    }
    XXH3_64bits_reset(r.whole);
    size_t old_map;
    stream_map_up(j, &old_map);
    if ((rc = mdb_txn_begin(j->env, NULL, 0, &r.txn))) {
        rc = fail_msg(j, map_mdb(rc), "receive: %s", mdb_strerror(rc));
        stream_map_down(j, old_map);
        goto done;
    }
    rc = recv_all(&r);
    uint64_t head = 0;
    if (!rc) {
        /* who it came from: the sender's id and the seq the stream ended at */
        uint8_t v[40];
        memcpy(v, r.origin, 32);
        put64(v + 32, r.head);
        MDB_val k = {6, "origin"}, val = {sizeof(v), v};
        struct shape sh;
        snprintf(r.what, sizeof(r.what), "end");
        if ((rc = mdb_put(r.txn, j->db_meta, &k, &val, 0)))
            rc = txn_failed(&r, rc);
        else if (!(rc = journal_shape(j, r.txn, &sh)))
            head = shape_head(&sh);
    }
    if (rc) {
        mdb_txn_abort(r.txn);
    } else if ((rc = mdb_txn_commit(r.txn))) {
        rc = rc == MDB_MAP_FULL
                 ? fail_msg(j, CFS_JE_NOSPC, "receive: the stream does not fit on the disk")
                 : fail_msg(j, map_mdb(rc), "receive: commit: %s", mdb_strerror(rc));
    } else {
        /* the journal now continues from the stream's end (everything it
         * appended was committed first: appended is its head) */
        if (head > j->appended) {
            j->committed = j->appended = head;
            cfs_committer_advance(j->cm, head);
        }
        int src = 0;
        if (j->opts.durability != CFS_DURABILITY_NONE && (src = mdb_env_sync(j->env, 1)))
            rc = fail_msg(j, map_mdb(src), "receive: sync: %s", mdb_strerror(src));
        /* the sync log's records stop before the events received: a new
         * generation, or recovery would stop at the gap */
        if (!rc && j->slog && (rc = cfs_synclog_reset(j->slog, j->errmsg, sizeof(j->errmsg))))
            j->failed = true;
        if (rep) {
            *rep = r.rep;
            rep->bytes = r.consumed;
            rep->chunks = r.chunks;
            rep->snapshots = r.snapshots;
            rep->frames = r.frames;
            rep->events = r.events;
        }
    }
    stream_map_down(j, old_map);
done:
    free(r.in);
    free(r.block);
    ZSTD_freeDCtx(r.zd);
    cfs_frame_codec_free(r.fc_stream);
    cfs_frame_codec_free(r.fc_own);
    XXH3_freeState(r.whole);
    XXH3_freeState(r.rsum);
    free(r.body);
    free(r.own.off);
    free(r.own.enc);
    free(r.tail.p);
    free(r.scratch);
    return rc;
}

/* ---- file descriptors ------------------------------------------------------------- */

static int fd_write(void *ctx, const void *buf, size_t len)
{
    int fd = *(int *)ctx;
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fd_read(void *ctx, void *buf, size_t len, size_t *got)
{
    int fd = *(int *)ctx;
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        *got = (size_t)n;
        return 0;
    }
}

int cfs_journal_send_fd(cfs_journal *j, uint64_t since_seq, int fd, cfs_send_report *rep)
{
    return cfs_journal_send(j, since_seq, fd_write, &fd, rep);
}

int cfs_journal_receive_fd(cfs_journal *j, int fd, cfs_receive_report *rep)
{
    return cfs_journal_receive(j, fd_read, &fd, rep);
}
