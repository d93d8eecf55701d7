/*
 * compact.c — compaction: keep the newest N snapshots, drop the events
 * they cover and the chunks no kept snapshot refers to; and discarding
 * what a writer committed since it opened (cfs_journal_discard).
 *
 * Every seq from the oldest kept snapshot on still opens to exactly the
 * state it did (its snapshot or an older kept one, and the events after
 * it, are all kept); earlier seqs are gone, and opening one says so.
 * Chunks carry no reference counts (snapshot.c says why): the chunks in
 * use are marked by walking the kept snapshots' images, and the rest are
 * swept. All deletions happen in one write transaction.
 *
 * Then the frames kept that the writer stored raw (compress_adapt stores
 * batches uncompressed while zstd cannot keep up) are compressed at the
 * journal's zstd level and put back under the same key. A frame is
 * checked whole (checksum, every record) before it is re-encoded: the
 * encoder computes a new checksum, which must never bless damage. Its
 * records are its raw payload, so the new frame decodes to the same bytes.
 * This runs in write transactions of at most RECOMPRESS_TXN_BYTES of
 * frames (LMDB cannot hold an unbounded number of dirty pages:
 * MDB_TXN_FULL); each leaves a whole journal, since a frame and its
 * recompressed twin hold the same events.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "bytes.h"
#include "internal.h"

/* Raw frames replaced per write transaction, at most (a single larger
 * frame goes alone). */
#define RECOMPRESS_TXN_BYTES ((size_t)64 << 20)

/* The big frames a transaction drops (offset, padded length pairs): listed
 * in meta `unpunched` by that transaction, their bytes go back to the
 * filesystem once no reader can still follow the pointers
 * (bigframes_punch_pending). */
struct punches {
    uint64_t *pair;
    size_t n, cap;
};

static int punch_later(cfs_journal *j, struct punches *p, uint64_t off, uint64_t len)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        void *np = realloc(p->pair, cap * 2 * sizeof(*p->pair));
        if (!np)
            return fail_msg(j, CFS_JE_NOMEM, "compact: out of memory");
        p->pair = np;
        p->cap = cap;
    }
    p->pair[2 * p->n] = off;
    p->pair[2 * p->n++ + 1] = len;
    return 0;
}

/* Mark the chunks the image of snapshot record v (at seq `at`) uses. */
static int mark_image(cfs_journal *j, const MDB_val *v, uint64_t at, struct hashset *m,
                      const char *what)
{
    uint8_t *meta;
    size_t mlen;
    int rc = snapshot_image(j, v->mv_data, v->mv_size, at, &meta, &mlen);
    if (rc)
        return rc;
    cfs_errno e = cfs_image_refs(meta, mlen, hashset_add_ref, m);
    free(meta);
    if (e)
        return fail_msg(j, e == CFS_ECANCELED ? CFS_JE_NOMEM : CFS_JE_CORRUPT,
                        "%s: snapshot at seq %" PRIu64 ": %s", what, at,
                        e == CFS_ECANCELED ? "out of memory" : "malformed image");
    return 0;
}

/* In txn, delete the chunks m does not hold, counting them in *dropped.
 * With `check`, those it holds must be whole, and all there: what is about
 * to go (events) may be the only other copy of their data. */
static int sweep_chunks(cfs_journal *j, MDB_txn *txn, const struct hashset *m,
                        uint32_t *dropped, bool check, const char *what)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, j->db_chunks, &cur);
    if (rc)
        return fail_msg(j, map_mdb(rc), "%s: %s", what, mdb_strerror(rc));
    uint8_t *buf = check ? malloc(CFS_BLOCK_SIZE) : NULL;
    if (check && !buf) {
        mdb_cursor_close(cur);
        return fail_msg(j, CFS_JE_NOMEM, "%s: out of memory", what);
    }
    size_t kept = 0;
    int mrc;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc && mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 16) {
            rc = fail_msg(j, CFS_JE_CORRUPT, "%s: a chunk key of %zu bytes", what, k.mv_size);
            break;
        }
        cfs_hash128 h = {get_be64((uint8_t *)k.mv_data + 8), get_be64(k.mv_data)};
        if (hashset_has(m, h)) {
            kept++;
            if (check && (rc = chunk_verify(j, &k, &v, buf))) {
                char why[256];
                snprintf(why, sizeof why, "%s", cfs_journal_errmsg(j));
                rc = fail_msg(j, rc, "%s: %s, which a kept snapshot uses: nothing "
                              "compacted", what, why);
            }
        } else if ((rc = mdb_cursor_del(cur, 0))) {
            rc = fail_msg(j, map_mdb(rc), "%s: %s", what, mdb_strerror(rc));
        } else {
            (*dropped)++;
        }
    }
    free(buf);
    mdb_cursor_close(cur);
    if (!rc && check && kept < m->n + m->zero)
        rc = fail_msg(j, CFS_JE_CORRUPT, "%s: %zu chunk%s a kept snapshot uses %s missing: "
                      "nothing compacted (chronofs verify names them)", what,
                      m->n + m->zero - kept, m->n + m->zero - kept == 1 ? "" : "s",
                      m->n + m->zero - kept == 1 ? "is" : "are");
    return rc;
}

/* meta `recompressed`: the frames whose key is at most this were all
 * looked at by a compaction, so a raw one among them stays raw (zstd did
 * not shrink it) and the next compaction goes on after it, rather than
 * reading and compressing every incompressible frame again. */
static const MDB_val recompressed_key = {12, "recompressed"};

static uint64_t recompressed_through(cfs_journal *j, MDB_txn *txn)
{
    MDB_val k = recompressed_key, v;
    if (mdb_get(txn, j->db_meta, &k, &v) || v.mv_size != 8)
        return 0;
    return get64(v.mv_data);
}

static int put_recompressed(cfs_journal *j, MDB_txn *txn, uint64_t through)
{
    uint8_t b[8];
    put64(b, through);
    MDB_val k = recompressed_key, v = {8, b};
    return mdb_put(txn, j->db_meta, &k, &v, 0);
}

/* Bytes the three data databases occupy, in LMDB pages, and frames.dat on
 * disk. */
static uint64_t stored_bytes(cfs_journal *j, MDB_txn *txn)
{
    MDB_dbi dbs[] = {j->db_events, j->db_snapshots, j->db_chunks};
    uint64_t total = 0;
    for (int i = 0; i < 3; i++) {
        MDB_stat st;
        if (mdb_stat(txn, dbs[i], &st) == 0)
            total += (uint64_t)st.ms_psize *
                     (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages);
    }
    return total + bigframes_file_bytes(j);
}

/* One write transaction of recompress(): from the frame at or after
 * `*from`, replace raw frames zstd shrinks until RECOMPRESS_TXN_BYTES of
 * them are replaced or the frames end; *from becomes the key to go on at,
 * or 0 at the end. Counts what it replaced in *r only once it committed.
 * Returns 0, a negative code with the message set, or MDB_MAP_FULL
 * (nothing changed): grow the map and call again. */
static int recompress_some(cfs_journal *j, cfs_frame_codec *fc, struct frame_buf *fb,
                           uint64_t *from, cfs_compact_report *r)
{
    struct punches punch = {0}; /* the big frames it replaces */
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    int rc = mdb_txn_begin(j->env, NULL, 0, &txn);
    if (rc)
        return fail_msg(j, map_mdb(rc), "compact: recompressing: %s", mdb_strerror(rc));
    if ((rc = mdb_cursor_open(txn, j->db_events, &cur))) {
        mdb_txn_abort(txn);
        return fail_msg(j, map_mdb(rc), "compact: recompressing: %s", mdb_strerror(rc));
    }
    uint64_t n = 0, bytes_from = 0, bytes_to = 0, seq = *from, through = 0;
    uint8_t key[8];
    put_be64(key, seq);
    MDB_val k = {8, key}, v;
    char what[96], err[200];
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) {
            rc = fail_msg(j, CFS_JE_CORRUPT, "compact: an event key of %zu bytes after seq %"
                          PRIu64, k.mv_size, seq);
            goto fail;
        }
        seq = get_be64(k.mv_data);
        uint32_t count;
        MDB_val head = v;
        if ((rc = frame_head(&head, seq, err, sizeof(err))) ||
            (rc = cfs_frame_peek(head.mv_data, head.mv_size, seq, NULL, &count, err,
                                 sizeof(err)))) {
            fail_msg(j, rc, "compact: %s", err);
            goto fail;
        }
        if (((const uint8_t *)head.mv_data)[6] != CFS_FRAME_CODEC_RAW) {
            through = seq;
            continue;
        }
        if (bytes_from && bytes_from + head.mv_size > RECOMPRESS_TXN_BYTES)
            break; /* the next transaction starts here */
        uint64_t big_off = 0, big_len = 0;
        bool big = bigframe_range(&v, seq, &big_off, &big_len);
        if ((rc = frame_whole(j, &v, seq, fb, err, sizeof(err)))) {
            fail_msg(j, rc, "compact: %s", err);
            goto fail;
        }
        const uint8_t *frame = v.mv_data;
        if ((rc = cfs_frame_decode_with(fc, frame, v.mv_size, seq, NULL, NULL, err,
                                        sizeof(err)))) {
            fail_msg(j, rc, "compact: %s", err);
            goto fail;
        }
        const uint8_t *out;
        size_t out_len;
        rc = cfs_frame_encode(fc, seq, count, frame + CFS_FRAME_HEADER_SIZE,
                              v.mv_size - CFS_FRAME_HEADER_SIZE, &out, &out_len);
        if (rc) {
            fail_msg(j, rc, "compact: frame at seq %" PRIu64 ": recompressing: %s", seq,
                     cfs_strerror(rc));
            goto fail;
        }
        if (out[6] == CFS_FRAME_CODEC_RAW) {
            through = seq;
            continue; /* zstd does not shrink it: it stays as it is */
        }
        size_t old_len = v.mv_size;
        /* k points into the leaf page the put rewrites: pass a copy */
        put_be64(key, seq);
        MDB_val pk = {8, key}, nv = {out_len, (void *)out};
        if ((rc = mdb_cursor_put(cur, &pk, &nv, MDB_CURRENT))) {
            if (rc == MDB_MAP_FULL)
                goto fail;
            snprintf(what, sizeof(what), "compact: frame at seq %" PRIu64, seq);
            rc = write_failure(j, rc, out_len, err, sizeof(err), what);
            fail_msg(j, rc, "%s", err);
            goto fail;
        }
        n++;
        bytes_from += old_len;
        bytes_to += out_len;
        if (big && (rc = punch_later(j, &punch, big_off, big_len)))
            goto fail;
        through = seq;
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = fail_msg(j, map_mdb(mrc), "compact: frames after seq %" PRIu64 ": %s", seq,
                      mdb_strerror(mrc));
        goto fail;
    }
    if ((rc = bigframe_unpunched_add(j, txn, punch.pair, punch.n)) ||
        (through && (rc = put_recompressed(j, txn, through)))) {
        if (rc != MDB_MAP_FULL)
            rc = fail_msg(j, map_mdb(rc), "compact: recompressing: %s",
                          mdb_strerror(rc));
        goto fail;
    }
    free(punch.pair);
    mdb_cursor_close(cur);
    if ((rc = mdb_txn_commit(txn))) {
        if (rc == MDB_MAP_FULL)
            return rc;
        snprintf(what, sizeof(what), "compact: committing %" PRIu64
                 " recompressed frames from seq %" PRIu64, n, *from);
        rc = write_failure(j, rc, bytes_to, err, sizeof(err), what);
        return fail_msg(j, rc, "%s", err);
    }
    *from = mrc == 0 ? seq : 0;
    r->frames_recompressed += n;
    r->recompressed_from += bytes_from;
    r->recompressed_to += bytes_to;
    return 0;
fail:
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    free(punch.pair);
    return rc;
}

/* Compress the frames stored raw, as the top of the file says. */
static int recompress(cfs_journal *j, cfs_compact_report *r)
{
    /* A codec of its own: j->fc's buffers would keep the size of the
     * largest frame seen here for as long as the journal is open. */
    cfs_frame_codec *fc = cfs_frame_codec_new(j->opts.zstd_level);
    if (!fc)
        return fail_msg(j, CFS_JE_NOMEM, "compact: recompressing: out of memory");
    MDB_txn *rtxn;
    int rc = read_begin(j, &rtxn);
    if (rc) {
        cfs_frame_codec_free(fc);
        return rc;
    }
    uint64_t from = recompressed_through(j, rtxn) + 1;
    read_end(j, rtxn);
    int full = 0;
    struct frame_buf fb = {0};
    while (from) {
        rc = recompress_some(j, fc, &fb, &from, r);
        if (rc != MDB_MAP_FULL) {
            if (rc)
                break;
            full = 0;
            continue;
        }
        /* as put_frames does: grow, and run the transaction again */
        char msg[200];
        if (++full > 20) {
            rc = fail_msg(j, CFS_JE_NOSPC, "compact: frames from seq %" PRIu64
                          ": the map cannot grow", from);
            break;
        }
        if ((rc = grow_map(j, 2 * RECOMPRESS_TXN_BYTES, msg, sizeof(msg)))) {
            fail_msg(j, rc, "compact: frames from seq %" PRIu64 ": %s", from, msg);
            break;
        }
    }
    cfs_frame_codec_free(fc);
    frame_buf_free(&fb);
    return rc;
}

int cfs_journal_compact(cfs_journal *j, unsigned keep, cfs_compact_report *rep)
{
    cfs_compact_report r;
    memset(&r, 0, sizeof(r));
    if (!j->writer)
        return fail_msg(j, CFS_JE_READONLY, "%s: opened read-only", j->dir);
    if (keep == 0)
        return fail_msg(j, CFS_JE_INVAL, "compact: keep at least one snapshot");
    snapshot_forget_chunks(j); /* chunks may go: the cache of stored ones too */
    j->compacted = true; /* a discard could no longer give back what was */
    int rc = commit_wait(j);
    if (rc)
        return rc;
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(j->env, NULL, 0, &txn)))
        return fail_msg(j, map_mdb(rc), "compact: %s", mdb_strerror(rc));
    r.bytes_before = stored_bytes(j, txn);

    /* the snapshots, newest first: keep the first `keep` */
    MDB_cursor *cur = NULL;
    struct hashset m = {0};
    struct punches dropped = {0};
    uint64_t base = 0;
    unsigned seen = 0;
    if ((rc = mdb_cursor_open(txn, j->db_snapshots, &cur)))
        goto lmdb_fail;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        uint64_t at = get_be64(k.mv_data);
        if (seen++ < keep) {
            if ((rc = mark_image(j, &v, at, &m, "compact")))
                goto fail;
            base = at;
        } else {
            if ((rc = mdb_cursor_del(cur, 0)))
                goto lmdb_fail;
            r.snapshots_dropped++;
        }
    }
    mdb_cursor_close(cur);
    cur = NULL;

    /* events covered by the oldest kept snapshot: whole frames only */
    if (base) {
        if ((rc = mdb_cursor_open(txn, j->db_events, &cur)))
            goto lmdb_fail;
        for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) {
            uint64_t first, key = get_be64(k.mv_data), off, len;
            uint32_t count;
            char err[200];
            MDB_val head = v;
            rc = frame_head(&head, key, err, sizeof(err));
            if (!rc)
                rc = cfs_frame_peek(head.mv_data, head.mv_size, key, &first, &count, err,
                                    sizeof(err));
            if (rc) {
                fail_msg(j, rc, "compact: %s", err);
                goto fail;
            }
            if (first + count - 1 > base)
                break;
            if (bigframe_range(&v, key, &off, &len) &&
                (rc = punch_later(j, &dropped, off, len)))
                goto fail;
            if ((rc = mdb_cursor_del(cur, 0)))
                goto lmdb_fail;
            r.frames_dropped++;
            r.events_dropped += count;
        }
        mdb_cursor_close(cur);
        cur = NULL;
        uint8_t b[8];
        put64(b, base);
        MDB_val mk = {9, "compacted"}, mv = {8, b};
        if ((rc = mdb_put(txn, j->db_meta, &mk, &mv, 0)))
            goto lmdb_fail;
    }

    /* sweep the chunks nothing kept refers to */
    if ((rc = sweep_chunks(j, txn, &m, &r.chunks_dropped, true, "compact")))
        goto fail;
    r.first_seq = base ? base : 1;
    if ((rc = bigframe_unpunched_add(j, txn, dropped.pair, dropped.n)))
        goto lmdb_fail;
    if ((rc = mdb_txn_commit(txn))) {
        txn = NULL;
        goto lmdb_fail;
    }
    free(dropped.pair);
    hashset_free(&m);
    if ((rc = recompress(j, &r)))
        return rc;
    bigframes_punch_pending(j);
    if ((rc = read_begin(j, &txn)))
        return rc;
    r.bytes_after = stored_bytes(j, txn);
    read_end(j, txn);
    if (j->opts.durability != CFS_DURABILITY_NONE && (rc = mdb_env_sync(j->env, 1)))
        return fail_msg(j, map_mdb(rc), "compact: sync: %s", mdb_strerror(rc));
    if (rep)
        *rep = r;
    return 0;
lmdb_fail:
    rc = fail_msg(j, map_mdb(rc), "compact: %s", mdb_strerror(rc));
fail:
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    hashset_free(&m);
    free(dropped.pair);
    return rc;
}

/* Delete, in txn, every record of db whose u64 big-endian key is after
 * `floor`; for events, the lowest offset in frames.dat a dropped pointer
 * named goes to *big_from (left alone if none). */
static int drop_after(cfs_journal *j, MDB_txn *txn, MDB_dbi db, uint64_t floor,
                      uint64_t *big_from)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, db, &cur);
    if (rc)
        return fail_msg(j, map_mdb(rc), "discard: %s", mdb_strerror(rc));
    uint8_t from[8];
    put_be64(from, floor + 1);
    for (;;) {
        MDB_val k = {8, from}, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            break;
        }
        if (rc)
            break;
        uint64_t off, len;
        if (big_from && k.mv_size == 8 &&
            bigframe_range(&v, get_be64(k.mv_data), &off, &len) == 1 && off < *big_from)
            *big_from = off;
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
    }
    mdb_cursor_close(cur);
    return rc ? fail_msg(j, map_mdb(rc), "discard: %s", mdb_strerror(rc)) : 0;
}

int cfs_journal_discard(cfs_journal *j)
{
    if (!j->writer)
        return fail_msg(j, CFS_JE_READONLY, "%s: opened read-only", j->dir);
    if (j->slog)
        return fail_msg(j, CFS_JE_INVAL, "%s: discard: not with durability sync", j->dir);
    if (j->compacted)
        return fail_msg(j, CFS_JE_INVAL, "%s: discard: this handle compacted the journal, "
                        "which changed what it opened", j->dir);
    /* from now on nothing is written through this handle but the discard:
     * the batch goes, what is queued is written or dropped, snapshots in
     * flight end (their chunks may go: the cache of stored ones too) */
    j->failed = true;
    snprintf(j->cause, sizeof j->cause, "its writes were discarded");
    j->batch_len = 0;
    j->batch_count = 0;
    snapshot_forget_chunks(j); /* waits for them: their jobs are queued then */
    (void)cfs_committer_drain(j->cm, NULL, 0);

    MDB_txn *txn;
    int rc = mdb_txn_begin(j->env, NULL, 0, &txn);
    if (rc)
        return fail_msg(j, map_mdb(rc), "discard: %s", mdb_strerror(rc));
    uint64_t big_from = UINT64_MAX;
    struct hashset m = {0};
    uint32_t swept = 0;
    MDB_cursor *cur = NULL;
    if ((rc = drop_after(j, txn, j->db_events, j->opened_at, &big_from)) ||
        (rc = drop_after(j, txn, j->db_snapshots, j->opened_at, NULL)))
        goto fail;
    /* the chunks only the dropped snapshots used */
    if ((rc = mdb_cursor_open(txn, j->db_snapshots, &cur))) {
        rc = fail_msg(j, map_mdb(rc), "discard: %s", mdb_strerror(rc));
        goto fail;
    }
    MDB_val k, v;
    int mrc;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if ((rc = mark_image(j, &v, k.mv_size == 8 ? get_be64(k.mv_data) : 0, &m,
                             "discard")))
            goto fail;
    mdb_cursor_close(cur);
    cur = NULL;
    if ((rc = sweep_chunks(j, txn, &m, &swept, false, "discard")))
        goto fail;
    if (recompressed_through(j, txn) > j->opened_at &&
        (rc = put_recompressed(j, txn, j->opened_at))) {
        rc = fail_msg(j, map_mdb(rc), "discard: %s", mdb_strerror(rc));
        goto fail;
    }
    if (big_from != UINT64_MAX) {
        j->bf.end = big_from;
        if ((rc = bigframe_note_end(j, txn))) {
            rc = fail_msg(j, map_mdb(rc), "discard: %s", mdb_strerror(rc));
            goto fail;
        }
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc) {
        rc = fail_msg(j, map_mdb(rc), "discard: %s", mdb_strerror(rc));
        goto fail;
    }
    hashset_free(&m);
    if (big_from != UINT64_MAX)
        bigframe_cut(j, big_from); /* nothing names what lies past it now */
    if (j->opts.durability != CFS_DURABILITY_NONE && (rc = mdb_env_sync(j->env, 1)))
        return fail_msg(j, map_mdb(rc), "discard: sync: %s", mdb_strerror(rc));
    j->committed = j->appended = j->opened_at;
    if (j->cm)
        cfs_committer_advance(j->cm, j->opened_at); /* what it reports, back too */
    return 0;
fail:
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    hashset_free(&m);
    return rc;
}
