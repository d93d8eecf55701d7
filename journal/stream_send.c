/*
 * stream_send.c — sending a journal's history as a stream (see stream.c).
 */
#include "stream.h"

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
    if ((uint64_t)alen + blen > stream_body_max(type))
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
    stream_hash_hex(hx, h);
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
    return ev->seq < b->first ? 0 : stream_batch_add(b, ev);
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
    struct frame_buf fb = {0};
    for (rc = 0; mrc == 0 && !rc; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) {
            rc = fail_msg(j, CFS_JE_CORRUPT, "send: events: a key of %zu bytes", k.mv_size);
            break;
        }
        uint64_t first;
        uint32_t count;
        if ((rc = frame_whole(j, &v, get_be64(k.mv_data), &fb, err, sizeof(err))) ||
            (rc = cfs_frame_peek(v.mv_data, v.mv_size, get_be64(k.mv_data), &first, &count,
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
            stream_batch_begin(&s->tail, expect);
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
    frame_buf_free(&fb);
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
    int rc = stream_journal_shape(j, s->txn, &sh);
    if (rc)
        return rc;
    uint64_t head = stream_shape_head(&sh);
    if (sh.snapshots && sh.last_snapshot > head)
        head = sh.last_snapshot;

    /* the base: the snapshot named, the oldest one, or the empty state */
    cfs_stream_kind kind = CFS_STREAM_FROM_START;
    uint64_t base = 0;
    cfs_snapshot_info bi;
    memset(&bi, 0, sizeof(bi));
    MDB_val rec;
    if (since) {
        rc = stream_get_snapshot(j, s->txn, since, &rec, &bi);
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
    read_end(j, s.txn);
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
