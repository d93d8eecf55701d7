/*
 * bigframes.c — frames of a megabyte or more live outside LMDB, in the
 * journal's `frames.dat`, and `events` holds a 72-byte pointer to each
 * (FORMAT.md, "Big frames").
 *
 * Why: LMDB writes a value through the page cache, and on a virtual
 * machine the fresh pages a gigabyte of file data needs are memory the
 * host must back anew. A 1 GiB write through the mount took 1.6-3.6 s
 * that way; with these frames written by O_DIRECT (DMA from a reused
 * buffer, no page cache) it takes 1.1 s, every run. The disk's own speed
 * (1.6 GB/s here) is the bound now.
 *
 * The pointer is committed in the same LMDB transaction that would have
 * held the frame, after the frame is durable in frames.dat: a committed
 * pointer never points at bytes that are not there. A crash between the
 * two leaves unreferenced bytes at the end of the file, which the next
 * writer cuts off (meta `frames_end` says where the committed frames end).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxh_x86dispatch.h>

#include "bytes.h"
#include "internal.h"

/* O_DIRECT's alignment (offsets, lengths, buffers): the largest logical
 * block size in use. */
#define ALIGN_TO ((uint64_t)4096)
/* The bounce buffer each frame is copied through on its way to the disk:
 * the frames come from buffers malloc placed anywhere. */
#define BOUNCE_BYTES ((size_t)8 << 20)
/* A pointer's layout (FORMAT.md, "Big frames"): magic and version as a
 * frame's, then these fields. */
#define POINTER_VERSION 2
#define P_RESERVED 6 /* u16, 0 */
#define P_OFF 8      /* u64: where the frame starts in frames.dat */
#define P_LEN 16     /* u64: the frame's length */
#define P_SUM 24     /* u64: the checksum of the rest */
#define P_HEAD 32    /* the frame's header, copied */
/* No frame starts or ends past this (a pointer or frames_end that says so
 * is damaged). */
#define MAX_END ((uint64_t)INT64_MAX / 2)
/* How many frames at the end of `events` a writer looks through for the
 * last pointer before it cuts frames.dat back. */
#define TRIM_LOOKBACK 4096

static uint64_t round_up(uint64_t n)
{
    return (n + ALIGN_TO - 1) / ALIGN_TO * ALIGN_TO;
}

void bigframes_init(cfs_journal *j)
{
    j->bf.wfd = j->bf.rfd = -1;
    pthread_mutex_init(&j->bf.lock, NULL);
}

void bigframes_close(cfs_journal *j)
{
    if (j->bf.wfd >= 0)
        close(j->bf.wfd);
    if (j->bf.rfd >= 0)
        close(j->bf.rfd);
    free(j->bf.bounce);
    pthread_mutex_destroy(&j->bf.lock);
}

static void path_of(const cfs_journal *j, char *out, size_t cap)
{
    snprintf(out, cap, "%s/" CFS_BIGFRAMES_FILE, j->dir);
}

static int errno_code(int e)
{
    return e == ENOSPC || e == EDQUOT ? CFS_JE_NOSPC : e == ENOMEM ? CFS_JE_NOMEM : CFS_JE_IO;
}

/* meta `frames_end`: u64, where the frames committed so far end */
static const MDB_val frames_end_key = {10, "frames_end"};

/* The pointer's checksum: over its header copy, seeded with bytes 0..24. */
static uint64_t pointer_sum(const uint8_t *p)
{
    return XXH3_64bits_withSeed_dispatch(p + P_HEAD, CFS_FRAME_HEADER_SIZE,
                                         XXH3_64bits_dispatch(p, P_SUM));
}

bool bigframe_is_pointer(const MDB_val *v)
{
    const uint8_t *p = v->mv_data;
    return v->mv_size >= 6 && memcmp(p, "CFSF", 4) == 0 && get16(p + 4) == POINTER_VERSION;
}

/* 1 and a pointer's fields, checked; 0 if v is a frame; or an error. */
static int pointer_of(const MDB_val *v, uint64_t key, uint64_t *off, uint64_t *len,
                      char *err, size_t cap)
{
    const uint8_t *p = v->mv_data;
    if (!bigframe_is_pointer(v))
        return 0;
    if (v->mv_size != CFS_BIGFRAME_POINTER) {
        snprintf(err, cap, "frame at seq %" PRIu64 ": a frame pointer of %zu bytes, not %d",
                 key, v->mv_size, CFS_BIGFRAME_POINTER);
        return CFS_JE_CORRUPT;
    }
    uint64_t sum = pointer_sum(p);
    if (get64(p + P_SUM) != sum) {
        snprintf(err, cap, "frame at seq %" PRIu64 ": frame pointer checksum mismatch "
                 "(stored %016" PRIx64 ", computed %016" PRIx64 ")", key, get64(p + P_SUM),
                 sum);
        return CFS_JE_CORRUPT;
    }
    *off = get64(p + P_OFF);
    *len = get64(p + P_LEN);
    /* the length is the one its header copy gives (stored length at 24),
     * so no pointer can make a reader allocate more than a frame */
    if (get16(p + P_RESERVED) != 0 || *off % ALIGN_TO || *off > MAX_END ||
        *len != (uint64_t)CFS_FRAME_HEADER_SIZE + get32(p + P_HEAD + 24) ||
        *len > (uint64_t)CFS_FRAME_HEADER_SIZE + CFS_FRAME_MAX_RAW) {
        snprintf(err, cap, "frame at seq %" PRIu64 ": a frame pointer to %" PRIu64
                 " bytes at offset %" PRIu64 " of " CFS_BIGFRAMES_FILE " cannot be right",
                 key, *len, *off);
        return CFS_JE_CORRUPT;
    }
    return 1;
}

static int load_end(cfs_journal *j, MDB_txn *txn)
{
    MDB_val k = frames_end_key, v;
    int rc = mdb_get(txn, j->db_meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return fail_msg(j, map_mdb(rc), "%s: reading meta: %s", j->dir, mdb_strerror(rc));
    if (v.mv_size != 8 || get64(v.mv_data) % ALIGN_TO || get64(v.mv_data) > MAX_END)
        return fail_msg(j, CFS_JE_CORRUPT, "%s: meta `frames_end` (%zu bytes) cannot be right",
                        j->dir, v.mv_size);
    j->bf.floor = get64(v.mv_data);
    return 0;
}

/* What the pointers at the end of `events` say, in the open's transaction:
 * the floor rises to the end of the last one's frame (a `frames_end` some
 * writer failed to update must not let frames be cut or written over),
 * and only where that pointer was found, or there is none, may what lies
 * past the floor be cut off. */
static void last_pointer(cfs_journal *j, MDB_txn *txn)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, j->db_events, &cur))
        return;
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    for (unsigned n = 0; rc == 0 && n < TRIM_LOOKBACK;
         n++, rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        uint64_t off, len;
        char err[8];
        int p = pointer_of(&v, k.mv_size == 8 ? get_be64(k.mv_data) : 0, &off, &len, err,
                           sizeof(err));
        if (p < 0)
            break; /* damaged: no cutting; verify says what */
        if (p == 1) {
            if (round_up(off + len) > j->bf.floor)
                j->bf.floor = round_up(off + len);
            j->bf.trim = true;
            break;
        }
    }
    if (rc == MDB_NOTFOUND) /* no pointer at all */
        j->bf.trim = true;
    mdb_cursor_close(cur);
}

int bigframes_load(cfs_journal *j, MDB_txn *txn)
{
    int rc = load_end(j, txn);
    if (!rc)
        last_pointer(j, txn);
    return rc;
}

/* Cut frames.dat, not open for writing here, back to `end` if it is
 * longer. Best effort: a failure costs space, never a frame. */
static void truncate_past(const cfs_journal *j, uint64_t end)
{
    char path[4096];
    struct stat st;
    path_of(j, path, sizeof(path));
    if (stat(path, &st) == 0 && (uint64_t)st.st_size > end)
        (void)truncate(path, (off_t)end);
}

void bigframes_trim(cfs_journal *j)
{
    if (j->bf.trim && j->bf.wfd < 0)
        truncate_past(j, round_up(j->bf.floor));
}

int bigframe_note_end(cfs_journal *j, MDB_txn *txn)
{
    uint8_t b[8];
    put64(b, j->bf.end);
    MDB_val k = frames_end_key, v = {8, b};
    return mdb_put(txn, j->db_meta, &k, &v, 0);
}

/* Make the directory entry of a new frames.dat durable, as a file's
 * first fsync does not. */
static void sync_dir(const cfs_journal *j)
{
    int fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int bigframe_open(cfs_journal *j, char *msg, size_t cap)
{
    if (j->bf.wfd >= 0)
        return 0;
    char path[4096];
    path_of(j, path, sizeof(path));
    if (!j->bf.bounce && posix_memalign((void **)&j->bf.bounce, ALIGN_TO, BOUNCE_BYTES)) {
        j->bf.bounce = NULL;
        snprintf(msg, cap, "%s: out of memory for its write buffer", path);
        return CFS_JE_NOMEM;
    }
    /* made with data.mdb's permissions: it holds the same data */
    char mdb[4096];
    struct stat dst;
    snprintf(mdb, sizeof(mdb), "%s/data.mdb", j->dir);
    mode_t mode = stat(mdb, &dst) == 0 ? dst.st_mode & 0666 : 0600;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_DIRECT, mode);
    j->bf.direct = fd >= 0;
    if (fd < 0 && errno == EINVAL) /* a filesystem without O_DIRECT */
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, mode);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        snprintf(msg, cap, "%s: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        return errno_code(e);
    }
    j->bf.wfd = fd;
    /* Past anything a pointer names, even where frames.dat lost its end
     * (an OS crash in durability none). What lies past the last committed
     * pointer's frame (meta frames_end), a crash left: no pointer names
     * it, so it goes. */
    uint64_t size = (uint64_t)st.st_size, floor = round_up(j->bf.floor);
    if (j->bf.trim && size > floor && ftruncate(fd, (off_t)floor) == 0)
        size = floor; /* floor 0: no frame was ever committed, all of it goes */
    j->bf.end = round_up(size);
    if (j->bf.end < floor)
        j->bf.end = floor;
    if (j->opts.durability != CFS_DURABILITY_NONE)
        sync_dir(j);
    return 0;
}

/* All of buf[0..n) at off, through short writes and signals. */
static int write_all(int fd, const uint8_t *buf, size_t n, uint64_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, buf, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : ENOSPC;
        buf += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

int bigframe_append(cfs_journal *j, uint64_t seq, const uint8_t *frame, size_t len,
                    uint8_t ptr[CFS_BIGFRAME_POINTER], char *msg, size_t cap)
{
    int rc = bigframe_open(j, msg, cap);
    if (rc)
        return rc;
    uint64_t at = j->bf.end;
    for (size_t done = 0; done < len;) {
        size_t n = len - done < BOUNCE_BYTES ? len - done : BOUNCE_BYTES;
        size_t padded = (size_t)round_up(n);
        memcpy(j->bf.bounce, frame + done, n);
        memset(j->bf.bounce + n, 0, padded - n);
        int e = write_all(j->bf.wfd, j->bf.bounce, padded, at + done);
        if (e == EINVAL && j->bf.direct) {
            /* O_DIRECT refused after all (an alignment this filesystem
             * wants larger): go on buffered */
            int fl = fcntl(j->bf.wfd, F_GETFL);
            if (fl != -1 && fcntl(j->bf.wfd, F_SETFL, fl & ~O_DIRECT) == 0) {
                j->bf.direct = false;
                continue;
            }
        }
        if (e) {
            char path[4096];
            path_of(j, path, sizeof(path));
            snprintf(msg, cap, "frame at seq %" PRIu64 ": writing %zu bytes at offset %" PRIu64
                     " of %s: %s", seq, padded, at + done, path,
                     e == ENOSPC ? "disk full" : strerror(e));
            return errno_code(e);
        }
        done += n;
    }
    j->bf.end = at + round_up(len);
    memcpy(ptr, "CFSF", 4);
    put16(ptr + 4, POINTER_VERSION);
    put16(ptr + P_RESERVED, 0);
    put64(ptr + P_OFF, at);
    put64(ptr + P_LEN, len);
    memcpy(ptr + P_HEAD, frame, CFS_FRAME_HEADER_SIZE);
    put64(ptr + P_SUM, pointer_sum(ptr));
    return 0;
}

uint64_t bigframe_mark(const cfs_journal *j)
{
    return j->bf.end;
}

void bigframe_rewind(cfs_journal *j, uint64_t mark)
{
    j->bf.end = mark;
    /* and give the space back: nothing names what lies past the mark (the
     * writer lock is held, and the mark is past every committed frame).
     * Best effort: a failure costs space, never a frame. */
    struct stat st;
    if (j->bf.wfd >= 0 && fstat(j->bf.wfd, &st) == 0 && (uint64_t)st.st_size > mark)
        (void)ftruncate(j->bf.wfd, (off_t)mark);
}

void bigframe_cut(cfs_journal *j, uint64_t end)
{
    if (j->bf.wfd >= 0) {
        bigframe_rewind(j, end);
        return;
    }
    j->bf.end = end;
    truncate_past(j, end);
}

int bigframe_sync(cfs_journal *j, char *msg, size_t cap)
{
    if (j->bf.wfd < 0 || fdatasync(j->bf.wfd) == 0)
        return 0;
    int e = errno;
    char path[4096];
    path_of(j, path, sizeof(path));
    snprintf(msg, cap, "%s: fdatasync: %s", path, strerror(e));
    return errno_code(e);
}

int frame_head(MDB_val *v, uint64_t key, char *err, size_t cap)
{
    uint64_t off, len;
    int rc = pointer_of(v, key, &off, &len, err, cap);
    if (rc <= 0)
        return rc;
    /* cfs_frame_peek reads the header only: the copy stands for the frame */
    v->mv_data = (uint8_t *)v->mv_data + P_HEAD;
    v->mv_size = len;
    return 0;
}

int bigframe_range(const MDB_val *v, uint64_t key, uint64_t *off, uint64_t *len)
{
    char err[8];
    if (pointer_of(v, key, off, len, err, sizeof(err)) != 1)
        return 0;
    *len = round_up(*len);
    return 1;
}

/* The shared reading descriptor, opened on first use (the writer may
 * make the file after this handle opened): the descriptor, or -errno with
 * err saying why. A writer's is read-write where it may be (compaction
 * punches holes with it; rfd_rw), else read-only: a frames.dat another
 * user made (root's mount of someone's journal) is still read. */
static int reader_fd(cfs_journal *j, char *err, size_t cap)
{
    pthread_mutex_lock(&j->bf.lock);
    int e = 0;
    if (j->bf.rfd < 0) {
        char path[4096];
        path_of(j, path, sizeof(path));
        j->bf.rfd = j->writer ? open(path, O_RDWR | O_CLOEXEC) : -1;
        j->bf.rfd_rw = j->bf.rfd >= 0;
        if (j->bf.rfd < 0)
            j->bf.rfd = open(path, O_RDONLY | O_CLOEXEC);
        if (j->bf.rfd < 0) {
            e = errno;
            snprintf(err, cap, "%.400s: %s", path, strerror(e));
        }
    }
    int fd = j->bf.rfd < 0 ? -e : j->bf.rfd;
    pthread_mutex_unlock(&j->bf.lock);
    return fd;
}

int frame_whole(cfs_journal *j, MDB_val *v, uint64_t key, struct frame_buf *b, char *err,
                size_t cap)
{
    uint64_t off, len;
    int rc = pointer_of(v, key, &off, &len, err, cap);
    if (rc <= 0)
        return rc;
    char why[512];
    int fd = reader_fd(j, why, sizeof(why));
    if (fd < 0) {
        /* missing: the journal lost a file it needs; anything else (no
         * permission, an I/O error) is not damage to it */
        snprintf(err, cap, "frame at seq %" PRIu64 ": %s", key, why);
        return fd == -ENOENT ? CFS_JE_CORRUPT : errno_code(-fd);
    }
    if (b->cap < len) {
        uint8_t *p = realloc(b->p, len);
        if (!p) {
            snprintf(err, cap, "frame at seq %" PRIu64 ": out of memory for %" PRIu64 " bytes",
                     key, len);
            return CFS_JE_NOMEM;
        }
        b->p = p;
        b->cap = len;
    }
    for (uint64_t got = 0; got < len;) {
        ssize_t r = pread(fd, b->p + got, len - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, cap, "frame at seq %" PRIu64 ": " CFS_BIGFRAMES_FILE
                     " offset %" PRIu64 ": %s", key, off + got,
                     r < 0 ? strerror(errno) : "the file ends there (cut short?)");
            return r < 0 ? CFS_JE_IO : CFS_JE_CORRUPT;
        }
        got += (uint64_t)r;
    }
    if (memcmp(b->p, (const uint8_t *)v->mv_data + P_HEAD, CFS_FRAME_HEADER_SIZE) != 0) {
        snprintf(err, cap, "frame at seq %" PRIu64 ": the header at offset %" PRIu64
                 " of " CFS_BIGFRAMES_FILE " differs from its pointer's copy", key, off);
        return CFS_JE_CORRUPT;
    }
    v->mv_data = b->p;
    v->mv_size = len;
    return 0;
}

void frame_buf_free(struct frame_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->cap = 0;
}

/* meta `unpunched`: the write transaction's id, then (offset, length)
 * pairs, each u64 little-endian */
static const MDB_val unpunched_key = {9, "unpunched"};

int bigframe_unpunched_add(cfs_journal *j, MDB_txn *txn, const uint64_t *pairs, size_t n)
{
    if (!n)
        return 0;
    MDB_val k = unpunched_key, v;
    size_t had = 0;
    int rc = mdb_get(txn, j->db_meta, &k, &v);
    if (rc == 0 && v.mv_size >= 8 && (v.mv_size - 8) % 16 == 0)
        had = (v.mv_size - 8) / 16;
    else if (rc && rc != MDB_NOTFOUND)
        return rc;
    uint8_t *b = malloc(8 + 16 * (had + n));
    if (!b)
        return ENOMEM;
    if (had)
        memcpy(b + 8, (const uint8_t *)v.mv_data + 8, 16 * had);
    /* the newest transaction: a reader older than it may still follow
     * the pointers dropped now */
    put64(b, (uint64_t)mdb_txn_id(txn));
    for (size_t i = 0; i < 2 * n; i++)
        put64(b + 8 + 16 * had + 8 * i, pairs[i]);
    MDB_val nv = {8 + 16 * (had + n), b};
    rc = mdb_put(txn, j->db_meta, &k, &nv, 0);
    free(b);
    return rc;
}

/* mdb_reader_list's lines: "pid thread txnid", txnid "-" when idle. */
static int oldest_reader(const char *msg, void *ctx)
{
    uint64_t *oldest = ctx;
    unsigned long long txnid;
    int pid;
    char thread[32];
    for (const char *line = msg; line && *line;) {
        if (sscanf(line, "%d %31s %llu", &pid, thread, &txnid) == 3 && txnid < *oldest)
            *oldest = txnid;
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return 0;
}

void bigframes_punch_pending(cfs_journal *j)
{
    if (!j->writer || !j->env)
        return;
    MDB_txn *txn;
    MDB_val k = unpunched_key, v;
    uint8_t *list = NULL;
    size_t len = 0;
    if (read_begin(j, &txn))
        return;
    if (mdb_get(txn, j->db_meta, &k, &v) == 0 && v.mv_size >= 8 &&
        (v.mv_size - 8) % 16 == 0 && (list = malloc(v.mv_size)) != NULL) {
        memcpy(list, v.mv_data, v.mv_size);
        len = v.mv_size;
    }
    read_end(j, txn);
    if (!list)
        return;
    /* not while a reader (in any process) may still follow them */
    int dead;
    uint64_t oldest = UINT64_MAX;
    mdb_reader_check(j->env, &dead);
    mdb_reader_list(j->env, oldest_reader, &oldest);
    if (oldest < get64(list)) {
        free(list);
        return;
    }
    /* not before the transaction that dropped the pointers is durable
     * (LMDB syncs its meta page with the next commit): a crash would bring
     * them back, naming holes */
    if (j->opts.durability != CFS_DURABILITY_NONE && mdb_env_sync(j->env, 1)) {
        free(list);
        return;
    }
    char err[8];
    int fd = reader_fd(j, err, sizeof(err));
    if (fd < 0 || !j->bf.rfd_rw) { /* a later writer with the right may */
        free(list);
        return;
    }
    for (size_t at = 8; at < len; at += 16)
        fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)get64(list + at), (off_t)get64(list + at + 8));
    /* the list goes, unless it grew meanwhile (it cannot: one writer) */
    if (mdb_txn_begin(j->env, NULL, 0, &txn) == 0) {
        if (mdb_get(txn, j->db_meta, &k, &v) == 0 && v.mv_size == len &&
            memcmp(v.mv_data, list, len) == 0 && mdb_del(txn, j->db_meta, &k, NULL) == 0)
            mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    free(list);
}

uint64_t bigframes_file_bytes(const cfs_journal *j)
{
    char path[4096];
    struct stat st;
    path_of(j, path, sizeof(path));
    return stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}
