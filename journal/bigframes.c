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
 * writer writes past (it starts at the aligned end).
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
#define POINTER_VERSION 2

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

/* The put thread's descriptor, opened (and the file made) on first use. */
static int open_writer(cfs_journal *j, char *msg, size_t cap)
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
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_DIRECT, 0644);
    j->bf.direct = fd >= 0;
    if (fd < 0 && errno == EINVAL) /* a filesystem without O_DIRECT */
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        snprintf(msg, cap, "%s: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        return errno_code(e);
    }
    j->bf.wfd = fd;
    j->bf.end = round_up((uint64_t)st.st_size);
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
    int rc = open_writer(j, msg, cap);
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
    put16(ptr + 6, 0);
    put64(ptr + 8, at);
    put64(ptr + 16, len);
    memcpy(ptr + 32, frame, CFS_FRAME_HEADER_SIZE);
    put64(ptr + 24, XXH3_64bits_withSeed_dispatch(ptr + 32, CFS_FRAME_HEADER_SIZE,
                                                  XXH3_64bits_dispatch(ptr, 24)));
    return 0;
}

uint64_t bigframe_mark(const cfs_journal *j)
{
    return j->bf.end;
}

void bigframe_rewind(cfs_journal *j, uint64_t mark)
{
    j->bf.end = mark;
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

bool bigframe_is_pointer(const MDB_val *v)
{
    const uint8_t *p = v->mv_data;
    return v->mv_size >= 6 && memcmp(p, "CFSF", 4) == 0 && get16(p + 4) == POINTER_VERSION;
}

/* A pointer's fields, checked. */
static int pointer_parse(const MDB_val *v, uint64_t key, uint64_t *off, uint64_t *len,
                         char *err, size_t cap)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size != CFS_BIGFRAME_POINTER) {
        snprintf(err, cap, "frame at seq %" PRIu64 ": a frame pointer of %zu bytes, not %d",
                 key, v->mv_size, CFS_BIGFRAME_POINTER);
        return CFS_JE_CORRUPT;
    }
    uint64_t sum = XXH3_64bits_withSeed_dispatch(p + 32, CFS_FRAME_HEADER_SIZE,
                                                 XXH3_64bits_dispatch(p, 24));
    if (get64(p + 24) != sum) {
        snprintf(err, cap, "frame at seq %" PRIu64 ": frame pointer checksum mismatch "
                 "(stored %016" PRIx64 ", computed %016" PRIx64 ")", key, get64(p + 24), sum);
        return CFS_JE_CORRUPT;
    }
    *off = get64(p + 8);
    *len = get64(p + 16);
    if (get16(p + 6) != 0 || *off % ALIGN_TO || *len < CFS_FRAME_HEADER_SIZE ||
        *len > (uint64_t)CFS_FRAME_HEADER_SIZE + 2 * (uint64_t)CFS_FRAME_MAX_RAW) {
        snprintf(err, cap, "frame at seq %" PRIu64 ": a frame pointer to %" PRIu64
                 " bytes at offset %" PRIu64 " of " CFS_BIGFRAMES_FILE " cannot be right",
                 key, *len, *off);
        return CFS_JE_CORRUPT;
    }
    return 0;
}

int frame_head(MDB_val *v, uint64_t key, char *err, size_t cap)
{
    if (!bigframe_is_pointer(v))
        return 0;
    uint64_t off, len;
    int rc = pointer_parse(v, key, &off, &len, err, cap);
    if (rc)
        return rc;
    /* cfs_frame_peek reads the header only: the copy stands for the frame */
    v->mv_data = (uint8_t *)v->mv_data + 32;
    v->mv_size = len;
    return 0;
}

int bigframe_range(const MDB_val *v, uint64_t key, uint64_t *off, uint64_t *len)
{
    char err[8];
    if (!bigframe_is_pointer(v) || pointer_parse(v, key, off, len, err, sizeof(err)))
        return 0;
    *len = round_up(*len);
    return 1;
}

/* The shared reading descriptor, opened on first use (the writer may
 * make the file after this handle opened). A writer's is read-write:
 * compaction punches holes with it. */
static int reader_fd(cfs_journal *j, char *err, size_t cap)
{
    pthread_mutex_lock(&j->bf.lock);
    if (j->bf.rfd < 0) {
        char path[4096];
        path_of(j, path, sizeof(path));
        j->bf.rfd = open(path, (j->writer ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (j->bf.rfd < 0)
            snprintf(err, cap, "%.400s: %s", path, strerror(errno));
    }
    int fd = j->bf.rfd;
    pthread_mutex_unlock(&j->bf.lock);
    return fd;
}

int frame_whole(cfs_journal *j, MDB_val *v, uint64_t key, struct frame_buf *b, char *err,
                size_t cap)
{
    if (!bigframe_is_pointer(v))
        return 0;
    uint64_t off, len;
    int rc = pointer_parse(v, key, &off, &len, err, cap);
    if (rc)
        return rc;
    char why[512];
    int fd = reader_fd(j, why, sizeof(why));
    if (fd < 0) {
        snprintf(err, cap, "frame at seq %" PRIu64 ": %s", key, why);
        return CFS_JE_CORRUPT;
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
    if (memcmp(b->p, (const uint8_t *)v->mv_data + 32, CFS_FRAME_HEADER_SIZE) != 0) {
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

void bigframe_punch(cfs_journal *j, uint64_t off, uint64_t len)
{
    char err[8];
    int fd = reader_fd(j, err, sizeof(err));
    if (fd >= 0)
        fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
}

uint64_t bigframes_file_bytes(const cfs_journal *j)
{
    char path[4096];
    struct stat st;
    path_of(j, path, sizeof(path));
    return stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}
