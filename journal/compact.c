/*
 * compact.c — compaction: keep the newest N snapshots, drop the events
 * they cover and the chunks no kept snapshot refers to.
 *
 * Every seq from the oldest kept snapshot on still opens to exactly the
 * state it did (its snapshot or an older kept one, and the events after
 * it, are all kept); earlier seqs are gone, and opening one says so.
 * Chunks carry no reference counts (snapshot.c says why): the chunks in
 * use are marked by walking the kept snapshots' images, and the rest are
 * swept. All deletions happen in one write transaction.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "bytes.h"
#include "internal.h"

/* Bytes the three data databases occupy, in LMDB pages. */
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
    return total;
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
    uint64_t base = 0;
    unsigned seen = 0;
    if ((rc = mdb_cursor_open(txn, j->db_snapshots, &cur)))
        goto lmdb_fail;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        uint64_t at = get_be64(k.mv_data);
        if (seen++ < keep) {
            /* mark what it uses */
            uint8_t *meta;
            size_t mlen;
            rc = snapshot_image(j, v.mv_data, v.mv_size, at, &meta, &mlen);
            if (rc)
                goto fail;
            cfs_errno e = cfs_image_refs(meta, mlen, hashset_add_ref, &m);
            free(meta);
            if (e) {
                rc = fail_msg(j, e == CFS_ECANCELED ? CFS_JE_NOMEM : CFS_JE_CORRUPT,
                              "compact: snapshot at seq %" PRIu64 ": %s", at,
                              e == CFS_ECANCELED ? "out of memory" : "malformed image");
                goto fail;
            }
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
            uint64_t first;
            uint32_t count;
            char err[200];
            rc = cfs_frame_peek(v.mv_data, v.mv_size, get_be64(k.mv_data), &first, &count,
                                err, sizeof(err));
            if (rc) {
                fail_msg(j, rc, "compact: %s", err);
                goto fail;
            }
            if (first + count - 1 > base)
                break;
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
    if ((rc = mdb_cursor_open(txn, j->db_chunks, &cur)))
        goto lmdb_fail;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 16) {
            rc = fail_msg(j, CFS_JE_CORRUPT, "compact: a chunk key of %zu bytes", k.mv_size);
            goto fail;
        }
        cfs_hash128 h = {get_be64((uint8_t *)k.mv_data + 8), get_be64(k.mv_data)};
        if (!hashset_has(&m, h)) {
            if ((rc = mdb_cursor_del(cur, 0)))
                goto lmdb_fail;
            r.chunks_dropped++;
        }
    }
    mdb_cursor_close(cur);
    cur = NULL;
    r.bytes_after = stored_bytes(j, txn);
    r.first_seq = base ? base : 1;
    if ((rc = mdb_txn_commit(txn))) {
        txn = NULL;
        goto lmdb_fail;
    }
    hashset_free(&m);
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
    return rc;
}
