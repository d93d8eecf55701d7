/*
 * stream_recv.c — receiving a stream into a journal, all or nothing (see
 * stream.c).
 */
#include "stream.h"

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
    bool was_empty; /* the journal held nothing before this stream */
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
    /* big frames go to frames.dat, as the writer's do: where it ended
     * before (to go back to if the stream is refused, even mid-frame:
     * marked as soon as it is open), and whether any did */
    uint64_t big_mark;
    bool big_marked, big;
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
    uint64_t max = stream_body_max(*type);
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

/* A frame as `events` stores it: a big one in frames.dat, a pointer here
 * (FORMAT.md, "Big frames"). */
static int put_frame(struct receiver *r, uint64_t first, const uint8_t *frame, size_t len)
{
    if (len < CFS_BIGFRAME_MIN)
        return put(r, r->j->db_events, first, frame, len, MDB_APPEND);
    char msg[300];
    uint8_t ptr[CFS_BIGFRAME_POINTER];
    int rc = 0;
    if (!r->big_marked && !(rc = bigframe_open(r->j, msg, sizeof(msg)))) {
        r->big_mark = bigframe_mark(r->j);
        r->big_marked = true;
    }
    if (!rc && !(rc = bigframe_append(r->j, first, frame, len, ptr, msg, sizeof(msg))))
        r->big = true;
    if (rc)
        return fail_msg(r->j, rc, REC_FMT ": %s", r->recno, r->what, msg);
    return put(r, r->j->db_events, first, ptr, sizeof(ptr), MDB_APPEND);
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
    int rc = stream_journal_shape(j, r->txn, &sh);
    if (rc)
        return rc;
    bool empty = !sh.events && !sh.snapshots;
    char want[33];
    stream_hash_hex(want, r->base_hash);
    if (r->kind == CFS_STREAM_INCREMENTAL || (r->kind == CFS_STREAM_FULL && !empty)) {
        const char *what = r->kind == CFS_STREAM_INCREMENTAL
                               ? "incremental stream from snapshot at"
                               : "full stream into a journal that is not empty: it must hold "
                                 "the stream's first snapshot, at";
        MDB_val rec;
        cfs_snapshot_info have;
        rc = stream_get_snapshot(j, r->txn, r->base, &rec, &have);
        if (rc == CFS_JE_NOTFOUND)
            return fail_msg(j, CFS_JE_NOTFOUND, "%s seq %" PRIu64 " (hash %s): this journal "
                            "has no such snapshot", what, r->base, want);
        if (rc)
            return rc;
        if (!stream_hash_eq(have.state_hash, r->base_hash)) {
            char got[33];
            stream_hash_hex(got, have.state_hash);
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
    r->was_empty = empty;
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
        (seq != r->base || !stream_hash_eq(info.state_hash, r->base_hash)))
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
    rc = stream_get_snapshot(j, r->txn, seq, &have, &hi);
    if (rc == 0) {
        /* one the journal holds: the same state, or a different history */
        if (!stream_hash_eq(hi.state_hash, info.state_hash)) {
            char a[33], c[33];
            stream_hash_hex(a, info.state_hash);
            stream_hash_hex(c, hi.state_hash);
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
    if (!stream_hash_eq(got, info.state_hash) || at != seq)
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
            struct frame_buf fb = {0};
            rc = frame_whole(j, &v, o->first, &fb, err, sizeof(err));
            if (!rc)
                rc = cfs_frame_decode_with(r->fc_own, v.mv_data, v.mv_size, o->first,
                                           collect_own, o, err, sizeof(err));
            frame_buf_free(&fb);
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
    if (r->tailing && (r->cb_rc = stream_batch_add(&r->tail, ev))) {
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
        stream_batch_begin(&r->tail, r->own_last + 1);
    r->cb_rc = 0;
    rc = cfs_frame_decode_with(r->fc_stream, b, n, first, frame_event, r, err, sizeof(err));
    if (rc && r->cb_rc)
        return r->cb_rc;
    if (rc)
        return fail_msg(j, rc, "stream record %" PRIu64 ": %s", r->recno, err);
    if (first > r->own_last) {
        /* all new: stored as it came */
        if ((rc = put_frame(r, first, b, n)))
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
        if ((rc = put_frame(r, r->tail.first, fr, flen)))
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
        map_resize(j, (size_t)want); /* if it fails, MAP_FULL will say */
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
        map_resize(j, (size_t)want);
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
        return fail_sticky(j);
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
        else if (!(rc = stream_journal_shape(j, r.txn, &sh)))
            head = stream_shape_head(&sh);
        if (!rc && r.was_empty && r.kind == CFS_STREAM_FULL && r.base > 0) {
            /* its history starts at the stream's first snapshot: the
             * events before it are not here on purpose, as compaction
             * leaves a journal (verify tells that from frames lost) */
            uint8_t b[8];
            put64(b, r.base);
            MDB_val ck = {9, "compacted"}, cv = {8, b};
            if ((rc = mdb_put(r.txn, j->db_meta, &ck, &cv, 0)))
                rc = txn_failed(&r, rc);
        }
        /* the big frames durable before the pointers to them */
        char msg[300];
        if (!rc && r.big && j->opts.durability != CFS_DURABILITY_NONE &&
            (rc = bigframe_sync(j, msg, sizeof(msg))))
            fail_msg(j, rc, "receive: %s", msg);
        if (!rc && r.big && (rc = bigframe_note_end(j, r.txn)))
            rc = txn_failed(&r, rc);
    }
    if (rc) {
        mdb_txn_abort(r.txn);
        if (r.big_marked) /* what it wrote to frames.dat is nobody's: cut off */
            bigframe_rewind(j, r.big_mark);
    } else if ((rc = mdb_txn_commit(r.txn))) {
        char msg[300]; /* LMDB's short write on a full disk is EIO */
        int code = rc == MDB_MAP_FULL ? CFS_JE_NOSPC
                                      : write_failure(j, rc, 0, msg, sizeof(msg), "commit");
        rc = rc == MDB_MAP_FULL
                 ? fail_msg(j, code, "receive: the stream does not fit on the disk")
                 : fail_msg(j, code, "receive: %s", msg);
        if (r.big_marked)
            bigframe_rewind(j, r.big_mark);
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
