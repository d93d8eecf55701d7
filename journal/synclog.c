/*
 * synclog.c — see synclog.h. Layout (little-endian):
 *
 *   0     header, 40 bytes: "CFSL", u16 version (1), u16 0, u32 header
 *         size (40), u32 0, u64 generation, u64 file size, u64 xxh3-64 of
 *         bytes 0..32
 *   4096  records, each 8-byte aligned:
 *         "CFSR", u32 len, u64 generation, u64 seq, len bytes of one event
 *         record (the codec's, encoded with ctx {seq - 1, 0}), zero
 *         padding to 8, u64 xxh3-64 of everything before it in the record
 *
 * A record is valid when its magic, generation and checksum hold and its
 * seq follows the previous one; the first invalid record is the end of the
 * log (a write torn by a crash, zeros, or a record of an older generation).
 * Generations only grow, so a stale record can never pass for a new one.
 * Records are fdatasync'd one at a time, so a crash tears only the last:
 * an invalid record followed by a valid one of the generation is damage,
 * CFS_JE_CORRUPT, never a silent end before acknowledged events.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxh_x86dispatch.h>

#include "bytes.h"
#include "synclog.h"

#define LOG_SIZE ((uint64_t)8 << 20)
#define HDR_SIZE 40
#define FIRST_REC 4096
#define REC_HDR 24

struct cfs_synclog {
    int fd;
    uint64_t gen;
    uint64_t tail; /* where the next record goes */
    uint64_t last_seq;
    uint8_t *buf;
    size_t cap;
    char path[4096];
};

/* `e` is the errno of the failure, taken before any cleanup changed it. */
static int errfmt_e(char *err, size_t cap, int code, int e, const char *fmt,
                    const char *path)
{
    if (err && cap)
        snprintf(err, cap, fmt, path, strerror(e));
    return code;
}

static int errfmt(char *err, size_t cap, int code, const char *fmt, const char *path)
{
    return errfmt_e(err, cap, code, errno, fmt, path);
}

static int io_code(void)
{
    return errno == ENOSPC || errno == EDQUOT ? CFS_JE_NOSPC : CFS_JE_IO;
}

static int write_header(cfs_synclog *l, char *err, size_t cap)
{
    uint8_t h[HDR_SIZE] = {'C', 'F', 'S', 'L', 1, 0, 0, 0};
    put32(h + 8, HDR_SIZE);
    put64(h + 16, l->gen);
    put64(h + 24, LOG_SIZE);
    put64(h + 32, XXH3_64bits_dispatch(h, 32));
    if (pwrite(l->fd, h, HDR_SIZE, 0) != HDR_SIZE || fdatasync(l->fd) < 0)
        return errfmt(err, cap, io_code(), "%s: writing the header: %s", l->path);
    return 0;
}

/* A new log: zeros written for real (not a hole, not fallocate's unwritten
 * extents), so later in-place writes change no file metadata and
 * fdatasync has only the data to flush. */
static int create_log(cfs_synclog *l, char *err, size_t cap)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.new", l->path);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return errfmt(err, cap, io_code(), "%s: %s", tmp);
    static const uint8_t zero[1 << 16];
    for (uint64_t off = 0; off < LOG_SIZE; off += sizeof(zero)) {
        if (pwrite(fd, zero, sizeof(zero), (off_t)off) != (ssize_t)sizeof(zero)) {
            int e = errno ? errno : ENOSPC, code = io_code();
            close(fd);
            unlink(tmp);
            return errfmt_e(err, cap, code, e, "%s: preallocating: %s", tmp);
        }
    }
    l->fd = fd;
    l->gen = 1;
    int rc = write_header(l, err, cap);
    if (rc || fsync(fd) < 0 || rename(tmp, l->path) < 0) {
        close(fd);
        l->fd = -1;
        unlink(tmp);
        return rc ? rc : errfmt(err, cap, io_code(), "%s: %s", l->path);
    }
    /* the rename is durable once the directory is */
    char dirbuf[4200];
    snprintf(dirbuf, sizeof(dirbuf), "%s", l->path);
    int dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static int open_log(const char *dir, bool create, cfs_synclog **out, char *err,
                    size_t errcap)
{
    *out = NULL;
    cfs_synclog *l = calloc(1, sizeof(*l));
    if (!l)
        return CFS_JE_NOMEM;
    l->fd = -1;
    snprintf(l->path, sizeof(l->path), "%s/%s", dir, CFS_SYNCLOG_FILE);
    int fd = open(l->path, (create ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    int rc = 0;
    if (fd < 0 && errno == ENOENT && !create) {
        rc = CFS_JE_NOTFOUND;
    } else if (fd < 0 && errno == ENOENT) {
        rc = create_log(l, err, errcap);
    } else if (fd < 0) {
        rc = errfmt(err, errcap, io_code(), "%s: %s", l->path);
    } else {
        l->fd = fd;
        uint8_t h[HDR_SIZE];
        struct stat sb;
        if (pread(fd, h, HDR_SIZE, 0) != HDR_SIZE || memcmp(h, "CFSL", 4) != 0 ||
            get32(h + 8) != HDR_SIZE || get64(h + 32) != XXH3_64bits_dispatch(h, 32) ||
            fstat(fd, &sb) < 0 || (uint64_t)sb.st_size != get64(h + 24) ||
            get64(h + 24) != LOG_SIZE) {
            if (err && errcap)
                snprintf(err, errcap, "%s: not a valid chronofs sync log header", l->path);
            rc = CFS_JE_CORRUPT;
        } else if ((h[4] | h[5] << 8) > 1) {
            if (err && errcap)
                snprintf(err, errcap, "%s: format version %u is newer than this build (1)",
                         l->path, (unsigned)(h[4] | h[5] << 8));
            rc = CFS_JE_VERSION;
        } else {
            l->gen = get64(h + 16);
        }
    }
    if (rc) {
        cfs_synclog_close(l);
        return rc;
    }
    l->tail = FIRST_REC;
    *out = l;
    return 0;
}

int cfs_synclog_open(const char *dir, cfs_synclog **out, char *err, size_t errcap)
{
    return open_log(dir, true, out, err, errcap);
}

int cfs_synclog_open_existing(const char *dir, cfs_synclog **out, char *err,
                              size_t errcap)
{
    return open_log(dir, false, out, err, errcap);
}

void cfs_synclog_close(cfs_synclog *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd);
    free(l->buf);
    free(l);
}

static int reserve(cfs_synclog *l, size_t n)
{
    if (n <= l->cap)
        return 0;
    size_t cap = l->cap ? l->cap : 4096;
    while (cap < n)
        cap *= 2;
    uint8_t *b = realloc(l->buf, cap);
    if (!b)
        return CFS_JE_NOMEM;
    l->buf = b;
    l->cap = cap;
    return 0;
}

/* Is there a whole record of this generation at or past `from`? Records
 * are fdatasync'd one by one, so a crash tears only the last one written:
 * a whole one after the log's end means the end is damage, not a crash. */
static bool whole_record_after(cfs_synclog *l, uint64_t from)
{
    size_t win = (size_t)1 << 20;
    uint8_t *w = malloc(win + REC_HDR);
    if (!w)
        return false;
    bool found = false;
    for (uint64_t base = from & ~UINT64_C(7); !found && base + REC_HDR + 8 <= LOG_SIZE;
         base += win) {
        ssize_t n = pread(l->fd, w, win + REC_HDR, (off_t)base);
        if (n < REC_HDR)
            break;
        for (size_t i = 0; !found && i + REC_HDR <= (size_t)n && i < win; i += 8) {
            if (memcmp(w + i, "CFSR", 4) != 0 || get64(w + i + 8) != l->gen)
                continue;
            uint32_t len = get32(w + i + 4);
            uint64_t total = REC_HDR + (((uint64_t)len + 7) & ~UINT64_C(7)) + 8;
            if (base + i + total > LOG_SIZE || reserve(l, (size_t)total) ||
                pread(l->fd, l->buf, (size_t)total, (off_t)(base + i)) != (ssize_t)total)
                continue;
            found = get64(l->buf + total - 8) ==
                    XXH3_64bits_dispatch(l->buf, (size_t)(total - 8));
        }
    }
    free(w);
    return found;
}

int cfs_synclog_recover(cfs_synclog *l, uint64_t after,
                        int (*fn)(void *ctx, const cfs_event *ev), void *ctx, bool strict,
                        char *err, size_t errcap)
{
    uint64_t off = FIRST_REC, expect = 0;
    for (;;) {
        uint8_t h[REC_HDR];
        if (off + REC_HDR + 8 > LOG_SIZE || pread(l->fd, h, REC_HDR, (off_t)off) != REC_HDR)
            break;
        uint32_t len = get32(h + 4);
        uint64_t total = REC_HDR + (((uint64_t)len + 7) & ~UINT64_C(7)) + 8;
        bool whole = memcmp(h, "CFSR", 4) == 0 && get64(h + 8) == l->gen &&
                     off + total <= LOG_SIZE;
        int rc = whole ? reserve(l, (size_t)total) : 0;
        if (rc)
            return rc;
        whole = whole && pread(l->fd, l->buf, (size_t)total, (off_t)off) == (ssize_t)total &&
                get64(l->buf + total - 8) ==
                        XXH3_64bits_dispatch(l->buf, (size_t)(total - 8));
        uint64_t seq = whole ? get64(h + 16) : 0;
        if (!whole || (expect && seq != expect)) {
            /* the end: torn by a crash (never acknowledged), zeros, or an
             * older generation's record; unless whole records follow */
            if (!strict || !whole_record_after(l, off + 8))
                break;
            if (err && errcap)
                snprintf(err, errcap,
                         "%s: the record at offset %" PRIu64 " (seq %" PRIu64 ") is damaged "
                         "and whole ones follow it: the events from there on were "
                         "acknowledged (remove the file to give them up)",
                         l->path, off, expect ? expect : after + 1);
            return CFS_JE_CORRUPT;
        }
        expect = seq + 1;
        off += total;
        l->tail = off;
        l->last_seq = seq;
        if (seq <= after)
            continue;
        if (seq != after + 1) {
            if (err && errcap)
                snprintf(err, errcap,
                         "%s: the sync log continues at seq %" PRIu64
                         " but the journal ends at %" PRIu64,
                         l->path, seq, after);
            return CFS_JE_CORRUPT;
        }
        cfs_codec_ctx cc = {seq - 1, 0};
        cfs_event ev;
        size_t used;
        char derr[160];
        rc = cfs_codec_decode(&cc, l->buf + REC_HDR, len, &ev, &used, derr, sizeof(derr));
        if (rc || used != len) {
            if (err && errcap)
                snprintf(err, errcap, "%s: record of seq %" PRIu64 ": %s", l->path, seq,
                         rc ? derr : "trailing bytes");
            return rc ? rc : CFS_JE_CORRUPT;
        }
        rc = fn(ctx, &ev);
        if (rc)
            return rc;
        after = seq;
    }
    return 0;
}

int cfs_synclog_append(cfs_synclog *l, const cfs_event *ev, char *err, size_t errcap)
{
    size_t bound = cfs_codec_bound(ev);
    uint64_t total_max = REC_HDR + ((bound + 7) & ~(size_t)7) + 8;
    if (l->tail + total_max > LOG_SIZE)
        return CFS_SYNCLOG_FULL;
    int rc = reserve(l, (size_t)total_max);
    if (rc)
        return rc;
    cfs_codec_ctx cc = {ev->seq - 1, 0};
    size_t len = cfs_codec_encode(&cc, ev, l->buf + REC_HDR);
    size_t padded = (len + 7) & ~(size_t)7;
    memset(l->buf + REC_HDR + len, 0, padded - len);
    memcpy(l->buf, "CFSR", 4);
    put32(l->buf + 4, (uint32_t)len);
    put64(l->buf + 8, l->gen);
    put64(l->buf + 16, ev->seq);
    size_t total = REC_HDR + padded + 8;
    put64(l->buf + total - 8, XXH3_64bits_dispatch(l->buf, total - 8));
    if (pwrite(l->fd, l->buf, total, (off_t)l->tail) != (ssize_t)total ||
        fdatasync(l->fd) < 0)
        return errfmt(err, errcap, io_code(), "%s: %s", l->path);
    l->tail += total;
    l->last_seq = ev->seq;
    return 0;
}

int cfs_synclog_reset(cfs_synclog *l, char *err, size_t errcap)
{
    l->gen++;
    l->tail = FIRST_REC;
    return write_header(l, err, errcap);
}
