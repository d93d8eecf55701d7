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
 *
 * Files: stream.c (this one: helpers both sides use, and the fd forms),
 * stream_send.c, stream_recv.c; stream.h between them.
 */
#include "stream.h"

/* The most body bytes a record of each type may claim, checked before
 * anything is allocated for it; 0 for an unknown type. */
uint64_t stream_body_max(uint8_t type)
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

void stream_hash_hex(char out[33], cfs_hash128 h)
{
    snprintf(out, 33, "%016" PRIx64 "%016" PRIx64, h.hi, h.lo);
}

bool stream_hash_eq(cfs_hash128 a, cfs_hash128 b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

/* ---- a batch of re-encoded events (a frame that reaches past a boundary) -------- */

void stream_batch_begin(struct batch *b, uint64_t first)
{
    b->len = 0;
    b->count = 0;
    b->first = first;
    b->enc.seq = first - 1;
    b->enc.time = 0;
}

int stream_batch_add(struct batch *b, const cfs_event *ev)
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

int stream_journal_shape(cfs_journal *j, MDB_txn *txn, struct shape *sh)
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
        rc = frame_head(&v, get_be64(k.mv_data), err, sizeof(err));
        if (!rc)
            rc = cfs_frame_peek(v.mv_data, v.mv_size, get_be64(k.mv_data), &first, &count,
                                err, sizeof(err));
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
uint64_t stream_shape_head(const struct shape *sh)
{
    return sh->events ? sh->last_event : sh->snapshots ? sh->last_snapshot : 0;
}

/* The snapshot record stored at seq, checked; CFS_JE_NOTFOUND if none. */
int stream_get_snapshot(cfs_journal *j, MDB_txn *txn, uint64_t seq, MDB_val *rec,
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
