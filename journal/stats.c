/*
 * stats.c — cfs_journal_stat(): what a journal holds and what it costs on
 * disk (`chronofs stat`), read in one LMDB read transaction.
 *
 * Only frame headers are read (cfs_frame_peek: no checksum, no
 * decompression), so this costs a walk of the events database's keys and
 * 40 bytes per frame, not a decode of the journal.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "bytes.h"
#include "frame.h"
#include "internal.h"

static uint64_t db_bytes(MDB_txn *txn, MDB_dbi dbi, uint64_t *entries)
{
    MDB_stat st;
    if (mdb_stat(txn, dbi, &st))
        return 0;
    if (entries)
        *entries = st.ms_entries;
    return (uint64_t)st.ms_psize *
           (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages);
}

int cfs_journal_stat(cfs_journal *j, cfs_journal_stats *out)
{
    memset(out, 0, sizeof(*out));
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = read_cursor(j, j->db_events, &txn, &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    for (int m = mdb_cursor_get(cur, &k, &v, MDB_FIRST); m == 0;
         m = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) {
            rc = fail_msg(j, CFS_JE_CORRUPT, "%s: events: key of %zu bytes", j->dir,
                          k.mv_size);
            goto done;
        }
        uint64_t key = get_be64(k.mv_data), first;
        uint32_t count;
        char err[256];
        out->big_frames += bigframe_is_pointer(&v);
        if ((rc = frame_head(&v, key, err, sizeof(err))) ||
            (rc = cfs_frame_peek(v.mv_data, v.mv_size, key, &first, &count, err,
                                 sizeof(err)))) {
            rc = fail_msg(j, rc, "%s: %s", j->dir, err);
            goto done;
        }
        const uint8_t *h = v.mv_data;
        if (!out->frames)
            out->first_seq = first;
        out->last_seq = first + count - 1;
        out->frames++;
        out->events += count;
        out->raw_bytes += get32(h + 20);
        out->stored_bytes += v.mv_size;
    }
    out->events_db_bytes = db_bytes(txn, j->db_events, NULL);
    out->snapshots_db_bytes = db_bytes(txn, j->db_snapshots, &out->snapshots);
    out->chunks_db_bytes = db_bytes(txn, j->db_chunks, &out->chunks);
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/data.mdb", j->dir);
    if (stat(path, &sb) == 0)
        out->file_bytes = (uint64_t)sb.st_blocks * 512;
    out->big_frames_bytes = bigframes_file_bytes(j);
    out->file_bytes += out->big_frames_bytes;
done:
    mdb_cursor_close(cur);
    read_end(j, txn);
    return rc;
}
