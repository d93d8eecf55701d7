/*
 * fsfns.c — the filesystem imports of wasi_snapshot_preview1 (fd_*, path_*,
 * prestat), each a marshalling layer over the engine call of the same name:
 * check every guest pointer and length against linear memory (EFAULT),
 * copy paths out (ENAMETOOLONG, EILSEQ for invalid UTF-8, EINVAL for an
 * embedded NUL), call the engine, store the results. The engine decides
 * rights, resolution and errno; a call that fails changes nothing, and the
 * output pointers are checked before the engine is called, so an EFAULT
 * never follows a change.
 *
 * Stdio: an fd on inode 10/11/12 reads from / writes to the host fds of the
 * run (cfs_wasi_config.in_fd/out_fd/err_fd); with journal_stdio a write is
 * also an engine write (an event on inode 11/12).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include "host.h"

#define FS(c) (host_of(c)->fs)

/* Gathering several iovecs into one engine write keeps one event per
 * guest write (printf's buffer + data) up to this many bytes. */
#define GATHER_MAX 65536

/* ---------------------------------------------------------------------- */
/* Paths                                                                    */

static int utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        size_t k;
        uint32_t cp;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xe0) == 0xc0) {
            k = 1;
            cp = b & 0x1f;
        } else if ((b & 0xf0) == 0xe0) {
            k = 2;
            cp = b & 0x0f;
        } else if ((b & 0xf8) == 0xf0) {
            k = 3;
            cp = b & 0x07;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) ||
            (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* Copy guest string [ptr, ptr+len) into buf (CFS_PATH_MAX + 1 bytes) with
 * a NUL. */
static cfs_errno get_path(cfs_wasi_guest_ctx *c, uint32_t ptr, uint32_t len,
                          char *buf)
{
    const uint8_t *p = mem_range(c, ptr, len);
    if (!p)
        return CFS_EFAULT;
    if (len > CFS_PATH_MAX)
        return CFS_ENAMETOOLONG;
    if (memchr(p, 0, len))
        return CFS_EINVAL;
    if (!utf8_valid(p, len))
        return CFS_EILSEQ;
    memcpy(buf, p, len);
    buf[len] = 0;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Stats                                                                    */

/* WASI preview1 has no FIFO: the engine's chronofs-only filetype (and any
 * later one) is UNKNOWN to a guest. */
static uint8_t wasi_filetype(uint8_t t)
{
    return t <= CFS_FILETYPE_SYMBOLIC_LINK ? t : CFS_FILETYPE_UNKNOWN;
}

static void store_filestat(uint8_t *p, const cfs_filestat *st)
{
    memset(p, 0, 64);
    put64(p + 0, st->dev);
    put64(p + 8, st->ino);
    put_u8(p + 16, wasi_filetype(st->filetype));
    put64(p + 24, st->nlink);
    put64(p + 32, st->size);
    put64(p + 40, st->atim);
    put64(p + 48, st->mtim);
    put64(p + 56, st->ctim);
}

static uint32_t fd_fdstat_get(cfs_wasi_guest_ctx *c, uint32_t fd, uint32_t out)
{
    ENTER(c);
    uint8_t *p = mem_range(c, out, 24);
    if (!p)
        return CFS_EFAULT;
    cfs_fdstat st;
    cfs_errno rc = cfs_fd_fdstat_get(FS(c), fd, &st);
    if (rc)
        return rc;
    memset(p, 0, 24);
    put_u8(p, wasi_filetype(st.filetype));
    put16(p + 2, st.flags);
    put64(p + 8, st.rights_base);
    put64(p + 16, st.rights_inheriting);
    return 0;
}

static uint32_t fd_fdstat_set_flags(cfs_wasi_guest_ctx *c, uint32_t fd,
                                    uint32_t flags)
{
    ENTER(c);
    if (flags > 0xffff)
        return CFS_EINVAL;
    return cfs_fd_fdstat_set_flags(FS(c), fd, (uint16_t)flags);
}

static uint32_t fd_fdstat_set_rights(cfs_wasi_guest_ctx *c, uint32_t fd,
                                     uint64_t base, uint64_t inh)
{
    ENTER(c);
    return cfs_fd_fdstat_set_rights(FS(c), fd, base, inh);
}

static uint32_t fd_filestat_get(cfs_wasi_guest_ctx *c, uint32_t fd,
                                uint32_t out)
{
    ENTER(c);
    uint8_t *p = mem_range(c, out, 64);
    if (!p)
        return CFS_EFAULT;
    cfs_filestat st;
    cfs_errno rc = cfs_fd_filestat_get(FS(c), fd, &st);
    if (!rc)
        store_filestat(p, &st);
    return rc;
}

static uint32_t fd_filestat_set_size(cfs_wasi_guest_ctx *c, uint32_t fd,
                                     uint64_t size)
{
    ENTER(c);
    return cfs_fd_filestat_set_size(FS(c), fd, size);
}

static uint32_t fd_filestat_set_times(cfs_wasi_guest_ctx *c, uint32_t fd,
                                      uint64_t atim, uint64_t mtim,
                                      uint32_t fst)
{
    ENTER(c);
    if (fst > 0xffff)
        return CFS_EINVAL;
    return cfs_fd_filestat_set_times(FS(c), fd, atim, mtim, (uint16_t)fst);
}

static uint32_t fd_prestat_get(cfs_wasi_guest_ctx *c, uint32_t fd, uint32_t out)
{
    ENTER(c);
    uint8_t *p = mem_range(c, out, 8);
    if (!p)
        return CFS_EFAULT;
    cfs_prestat ps;
    cfs_errno rc = cfs_fd_prestat_get(FS(c), fd, &ps);
    if (rc)
        return rc;
    memset(p, 0, 8);
    put_u8(p, ps.tag);
    put32(p + 4, ps.name_len);
    return 0;
}

static uint32_t fd_prestat_dir_name(cfs_wasi_guest_ctx *c, uint32_t fd,
                                    uint32_t buf, uint32_t len)
{
    ENTER(c);
    uint8_t *p = mem_range(c, buf, len);
    if (!p)
        return CFS_EFAULT;
    return cfs_fd_prestat_dir_name(FS(c), fd, (char *)p, len);
}

/* ---------------------------------------------------------------------- */
/* Plain fd calls                                                           */

static uint32_t fd_advise(cfs_wasi_guest_ctx *c, uint32_t fd, uint64_t off,
                          uint64_t len, uint32_t advice)
{
    ENTER(c);
    if (advice > 0xff)
        return CFS_EINVAL;
    return cfs_fd_advise(FS(c), fd, off, len, (uint8_t)advice);
}

static uint32_t fd_allocate(cfs_wasi_guest_ctx *c, uint32_t fd, uint64_t off,
                            uint64_t len)
{
    ENTER(c);
    return cfs_fd_allocate(FS(c), fd, off, len);
}

static uint32_t fd_close(cfs_wasi_guest_ctx *c, uint32_t fd)
{
    ENTER(c);
    return cfs_fd_close(FS(c), fd);
}

static uint32_t fd_datasync(cfs_wasi_guest_ctx *c, uint32_t fd)
{
    ENTER(c);
    return cfs_fd_datasync(FS(c), fd);
}

static uint32_t fd_sync(cfs_wasi_guest_ctx *c, uint32_t fd)
{
    ENTER(c);
    return cfs_fd_sync(FS(c), fd);
}

static uint32_t fd_renumber(cfs_wasi_guest_ctx *c, uint32_t from, uint32_t to)
{
    ENTER(c);
    return cfs_fd_renumber(FS(c), from, to);
}

static uint32_t fd_seek(cfs_wasi_guest_ctx *c, uint32_t fd, uint64_t off,
                        uint32_t whence, uint32_t out)
{
    ENTER(c);
    uint8_t *p = mem_range(c, out, 8);
    if (!p)
        return CFS_EFAULT;
    if (whence > 0xff)
        return CFS_EINVAL;
    uint64_t pos;
    cfs_errno rc = cfs_fd_seek(FS(c), fd, (int64_t)off, (uint8_t)whence, &pos);
    if (!rc)
        put64(p, pos);
    return rc;
}

static uint32_t fd_tell(cfs_wasi_guest_ctx *c, uint32_t fd, uint32_t out)
{
    ENTER(c);
    uint8_t *p = mem_range(c, out, 8);
    if (!p)
        return CFS_EFAULT;
    uint64_t pos;
    cfs_errno rc = cfs_fd_tell(FS(c), fd, &pos);
    if (!rc)
        put64(p, pos);
    return rc;
}

static uint32_t fd_readdir(cfs_wasi_guest_ctx *c, uint32_t fd, uint32_t buf,
                           uint32_t len, uint64_t cookie, uint32_t used_ptr)
{
    ENTER(c);
    uint8_t *p = mem_range(c, buf, len);
    uint8_t *u = mem_range(c, used_ptr, 4);
    if (!p || !u)
        return CFS_EFAULT;
    size_t used = 0;
    cfs_errno rc = cfs_fd_readdir(FS(c), fd, p, len, cookie, &used);
    if (!rc)
        put32(u, (uint32_t)used);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Reads and writes                                                         */

struct iov {
    uint8_t *base;
    uint32_t len;
};

/* Check and load an iovec array; *total = sum of lengths. EFAULT if the
 * array or any buffer is outside memory, EINVAL if the total does not fit
 * the u32 the result is reported in. *out is malloc'd (NULL when n == 0). */
static cfs_errno load_iovs(cfs_wasi_guest_ctx *c, uint32_t ptr, uint32_t n,
                           struct iov **out, uint64_t *total)
{
    *out = NULL;
    *total = 0;
    const uint8_t *a = mem_range(c, ptr, (uint64_t)n * 8);
    if (!a)
        return CFS_EFAULT;
    if (n == 0)
        return 0;
    /* WASI's IOV_MAX is 1024 in wasi-libc; a guest may pass more, which we
     * accept as long as it lies in memory (bounded by the memory size). */
    struct iov *v = malloc((size_t)n * sizeof(*v));
    if (!v)
        return CFS_ENOMEM;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t b = get32(a + 8 * (size_t)i);
        uint32_t l = get32(a + 8 * (size_t)i + 4);
        uint8_t *p = mem_range(c, b, l);
        if (!p) {
            free(v);
            return CFS_EFAULT;
        }
        v[i].base = p;
        v[i].len = l;
        sum += l;
    }
    if (sum > UINT32_MAX) {
        free(v);
        return CFS_EINVAL;
    }
    *out = v;
    *total = sum;
    return 0;
}

static cfs_errno host_errno(int e)
{
    switch (e) {
    case EAGAIN: return CFS_EAGAIN;
    case EBADF: return CFS_EBADF;
    case EPIPE: return CFS_EPIPE;
    case ENOSPC: return CFS_ENOSPC;
    case EINTR: return CFS_EINTR;
    default: return CFS_EIO;
    }
}

/* Write everything to a host fd (stdio passthrough). */
static cfs_errno host_write_all(int hfd, const struct iov *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        size_t done = 0;
        while (done < v[i].len) {
            ssize_t k = write(hfd, v[i].base + done, v[i].len - done);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0 && errno == EAGAIN) {
                struct pollfd pf = {.fd = hfd, .events = POLLOUT};
                (void)poll(&pf, 1, -1);
                continue;
            }
            if (k < 0)
                return host_errno(errno);
            done += (size_t)k;
        }
    }
    return 0;
}

static cfs_errno need_right(cfs_fs *fs, cfs_fd fd, cfs_rights r)
{
    cfs_fdstat st;
    cfs_errno rc = cfs_fd_fdstat_get(fs, fd, &st);
    if (rc)
        return rc;
    return (st.rights_base & r) ? 0 : CFS_ENOTCAPABLE;
}

/* Write iovecs through the engine: one call (one event) when they fit in
 * GATHER_MAX, else one per iovec, stopping at the first short or failed
 * one (a failure after some bytes were written reports those bytes). */
static cfs_errno engine_writev(cfs_fs *fs, cfs_fd fd, const struct iov *v,
                               uint32_t n, uint64_t total, int positional,
                               uint64_t off, size_t *done)
{
    *done = 0;
    if (n > 1 && total <= GATHER_MAX) {
        uint8_t *buf = malloc(total ? total : 1);
        if (!buf)
            return CFS_ENOMEM;
        size_t k = 0;
        for (uint32_t i = 0; i < n; i++) {
            memcpy(buf + k, v[i].base, v[i].len);
            k += v[i].len;
        }
        cfs_errno rc = positional ? cfs_fd_pwrite(fs, fd, buf, k, off, done)
                                  : cfs_fd_write(fs, fd, buf, k, done);
        free(buf);
        return rc;
    }
    if (n == 0)
        return positional ? cfs_fd_pwrite(fs, fd, NULL, 0, off, done)
                          : cfs_fd_write(fs, fd, NULL, 0, done);
    for (uint32_t i = 0; i < n; i++) {
        size_t w = 0;
        if (v[i].len == 0 && n > 1)
            continue;
        cfs_errno rc = positional
                               ? cfs_fd_pwrite(fs, fd, v[i].base, v[i].len,
                                               off + *done, &w)
                               : cfs_fd_write(fs, fd, v[i].base, v[i].len, &w);
        if (rc)
            return *done ? 0 : rc;
        *done += w;
        if (w < v[i].len)
            break;
    }
    return 0;
}

static uint32_t do_write(cfs_wasi_guest_ctx *c, uint32_t fd, uint32_t iovs,
                         uint32_t n, int positional, uint64_t off,
                         uint32_t out)
{
    ENTER(c);
    struct host *h = host_of(c);
    uint8_t *o = mem_range(c, out, 4);
    if (!o)
        return CFS_EFAULT;
    struct iov *v;
    uint64_t total;
    cfs_errno rc = load_iovs(c, iovs, n, &v, &total);
    if (rc)
        return rc;
    size_t done = 0;
    cfs_ino ino;
    int hfd = host_stdio_fd(h, fd, &ino);
    if (hfd >= 0 && ino != CFS_INO_STDIN && !positional) {
        /* stdout/stderr: the host sees the bytes; the journal too, as an
         * engine write, unless journal_stdio is off (then only the rights
         * are checked, as the engine would). */
        rc = need_right(h->fs, fd, CFS_RIGHT_FD_WRITE);
        if (!rc) {
            host_block_begin(h); /* a full pipe may block */
            rc = host_write_all(hfd, v, n);
            host_block_end(h);
        }
        if (!rc && h->cfg->journal_stdio && total)
            rc = engine_writev(h->fs, fd, v, n, total, 0, 0, &done);
        done = rc ? 0 : total;
    } else if (hfd >= 0 && positional) {
        rc = CFS_ESPIPE;
    } else {
        rc = engine_writev(h->fs, fd, v, n, total, positional, off, &done);
    }
    free(v);
    if (!rc)
        put32(o, (uint32_t)done);
    return rc;
}

static uint32_t fd_write(cfs_wasi_guest_ctx *c, uint32_t fd, uint32_t iovs,
                         uint32_t n, uint32_t out)
{
    return do_write(c, fd, iovs, n, 0, 0, out);
}

static uint32_t fd_pwrite(cfs_wasi_guest_ctx *c, uint32_t fd, uint32_t iovs,
                          uint32_t n, uint64_t off, uint32_t out)
{
    return do_write(c, fd, iovs, n, 1, off, out);
}

static uint32_t do_read(cfs_wasi_guest_ctx *c, uint32_t fd, uint32_t iovs,
                        uint32_t n, int positional, uint64_t off, uint32_t out)
{
    ENTER(c);
    struct host *h = host_of(c);
    uint8_t *o = mem_range(c, out, 4);
    if (!o)
        return CFS_EFAULT;
    struct iov *v;
    uint64_t total;
    cfs_errno rc = load_iovs(c, iovs, n, &v, &total);
    if (rc)
        return rc;
    size_t done = 0;
    cfs_ino ino;
    int hfd = host_stdio_fd(h, fd, &ino);
    if (hfd >= 0 && positional) {
        rc = CFS_ESPIPE;
    } else if (hfd >= 0 && ino == CFS_INO_STDIN) {
        rc = need_right(h->fs, fd, CFS_RIGHT_FD_READ);
        if (!rc && n > 0) {
            struct iovec *hv = malloc((size_t)n * sizeof(*hv));
            if (!hv) {
                rc = CFS_ENOMEM;
            } else {
                uint32_t m = n > 1024 ? 1024 : n;
                for (uint32_t i = 0; i < m; i++)
                    hv[i] = (struct iovec){v[i].base, v[i].len};
                ssize_t k;
                host_block_begin(h);
                while ((k = readv(hfd, hv, (int)m)) < 0 && errno == EINTR)
                    ;
                host_block_end(h);
                if (k < 0)
                    rc = host_errno(errno);
                else
                    done = (size_t)k;
                free(hv);
            }
        }
    } else {
        for (uint32_t i = 0; i < n; i++) {
            size_t got = 0;
            if (v[i].len == 0)
                continue;
            cfs_errno r = positional
                                  ? cfs_fd_pread(h->fs, fd, v[i].base,
                                                 v[i].len, off + done, &got)
                                  : cfs_fd_read(h->fs, fd, v[i].base, v[i].len,
                                                &got);
            if (r) {
                if (!done)
                    rc = r;
                break;
            }
            done += got;
            if (got < v[i].len)
                break;
        }
        if (n == 0 || total == 0) {
            /* a zero-length read still checks the fd and its rights */
            size_t got;
            rc = positional ? cfs_fd_pread(h->fs, fd, NULL, 0, off, &got)
                            : cfs_fd_read(h->fs, fd, NULL, 0, &got);
        }
    }
    free(v);
    if (!rc)
        put32(o, (uint32_t)done);
    return rc;
}

static uint32_t fd_read(cfs_wasi_guest_ctx *c, uint32_t fd, uint32_t iovs,
                        uint32_t n, uint32_t out)
{
    return do_read(c, fd, iovs, n, 0, 0, out);
}

static uint32_t fd_pread(cfs_wasi_guest_ctx *c, uint32_t fd, uint32_t iovs,
                         uint32_t n, uint64_t off, uint32_t out)
{
    return do_read(c, fd, iovs, n, 1, off, out);
}

/* ---------------------------------------------------------------------- */
/* Path calls                                                               */

#define PATHBUF(name) char name[CFS_PATH_MAX + 1]

static uint32_t path_create_directory(cfs_wasi_guest_ctx *c, uint32_t fd,
                                      uint32_t path, uint32_t len)
{
    ENTER(c);
    PATHBUF(p);
    cfs_errno rc = get_path(c, path, len, p);
    return rc ? rc : cfs_path_create_directory(FS(c), fd, p);
}

static uint32_t path_remove_directory(cfs_wasi_guest_ctx *c, uint32_t fd,
                                      uint32_t path, uint32_t len)
{
    ENTER(c);
    PATHBUF(p);
    cfs_errno rc = get_path(c, path, len, p);
    return rc ? rc : cfs_path_remove_directory(FS(c), fd, p);
}

static uint32_t path_unlink_file(cfs_wasi_guest_ctx *c, uint32_t fd,
                                 uint32_t path, uint32_t len)
{
    ENTER(c);
    PATHBUF(p);
    cfs_errno rc = get_path(c, path, len, p);
    return rc ? rc : cfs_path_unlink_file(FS(c), fd, p);
}

static uint32_t path_filestat_get(cfs_wasi_guest_ctx *c, uint32_t fd,
                                  uint32_t flags, uint32_t path, uint32_t len,
                                  uint32_t out)
{
    ENTER(c);
    PATHBUF(p);
    uint8_t *o = mem_range(c, out, 64);
    if (!o)
        return CFS_EFAULT;
    cfs_errno rc = get_path(c, path, len, p);
    if (rc)
        return rc;
    cfs_filestat st;
    rc = cfs_path_filestat_get(FS(c), fd, flags, p, &st);
    if (!rc)
        store_filestat(o, &st);
    return rc;
}

static uint32_t path_filestat_set_times(cfs_wasi_guest_ctx *c, uint32_t fd,
                                        uint32_t flags, uint32_t path,
                                        uint32_t len, uint64_t atim,
                                        uint64_t mtim, uint32_t fst)
{
    ENTER(c);
    PATHBUF(p);
    cfs_errno rc = get_path(c, path, len, p);
    if (rc)
        return rc;
    if (fst > 0xffff)
        return CFS_EINVAL;
    return cfs_path_filestat_set_times(FS(c), fd, flags, p, atim, mtim,
                                       (uint16_t)fst);
}

static uint32_t path_link(cfs_wasi_guest_ctx *c, uint32_t ofd, uint32_t oflags,
                          uint32_t opath, uint32_t olen, uint32_t nfd,
                          uint32_t npath, uint32_t nlen)
{
    ENTER(c);
    PATHBUF(op);
    PATHBUF(np);
    cfs_errno rc = get_path(c, opath, olen, op);
    if (!rc)
        rc = get_path(c, npath, nlen, np);
    return rc ? rc : cfs_path_link(FS(c), ofd, oflags, op, nfd, np);
}

static uint32_t path_open(cfs_wasi_guest_ctx *c, uint32_t fd, uint32_t dirflags,
                          uint32_t path, uint32_t len, uint32_t oflags,
                          uint64_t base, uint64_t inh, uint32_t fdflags,
                          uint32_t out)
{
    ENTER(c);
    PATHBUF(p);
    uint8_t *o = mem_range(c, out, 4);
    if (!o)
        return CFS_EFAULT;
    cfs_errno rc = get_path(c, path, len, p);
    if (rc)
        return rc;
    if (oflags > 0xffff || fdflags > 0xffff)
        return CFS_EINVAL;
    cfs_fd nfd;
    rc = cfs_path_open(FS(c), fd, dirflags, p, (uint16_t)oflags, base, inh,
                       (uint16_t)fdflags, &nfd);
    if (!rc)
        put32(o, nfd);
    return rc;
}

static uint32_t path_readlink(cfs_wasi_guest_ctx *c, uint32_t fd,
                              uint32_t path, uint32_t len, uint32_t buf,
                              uint32_t buflen, uint32_t used_ptr)
{
    ENTER(c);
    PATHBUF(p);
    uint8_t *b = mem_range(c, buf, buflen);
    uint8_t *u = mem_range(c, used_ptr, 4);
    if (!b || !u)
        return CFS_EFAULT;
    cfs_errno rc = get_path(c, path, len, p);
    if (rc)
        return rc;
    size_t used = 0;
    rc = cfs_path_readlink(FS(c), fd, p, (char *)b, buflen, &used);
    if (!rc)
        put32(u, (uint32_t)used);
    return rc;
}

static uint32_t path_rename(cfs_wasi_guest_ctx *c, uint32_t ofd, uint32_t opath,
                            uint32_t olen, uint32_t nfd, uint32_t npath,
                            uint32_t nlen)
{
    ENTER(c);
    PATHBUF(op);
    PATHBUF(np);
    cfs_errno rc = get_path(c, opath, olen, op);
    if (!rc)
        rc = get_path(c, npath, nlen, np);
    return rc ? rc : cfs_path_rename(FS(c), ofd, op, nfd, np);
}

static uint32_t path_symlink(cfs_wasi_guest_ctx *c, uint32_t target,
                             uint32_t tlen, uint32_t fd, uint32_t path,
                             uint32_t len)
{
    ENTER(c);
    PATHBUF(t);
    PATHBUF(p);
    cfs_errno rc = get_path(c, target, tlen, t);
    if (!rc)
        rc = get_path(c, path, len, p);
    return rc ? rc : cfs_path_symlink(FS(c), t, fd, p);
}

void fsfns_fill(cfs_wasi_hostfns *t)
{
    t->fd_advise = fd_advise;
    t->fd_allocate = fd_allocate;
    t->fd_close = fd_close;
    t->fd_datasync = fd_datasync;
    t->fd_fdstat_get = fd_fdstat_get;
    t->fd_fdstat_set_flags = fd_fdstat_set_flags;
    t->fd_fdstat_set_rights = fd_fdstat_set_rights;
    t->fd_filestat_get = fd_filestat_get;
    t->fd_filestat_set_size = fd_filestat_set_size;
    t->fd_filestat_set_times = fd_filestat_set_times;
    t->fd_pread = fd_pread;
    t->fd_prestat_get = fd_prestat_get;
    t->fd_prestat_dir_name = fd_prestat_dir_name;
    t->fd_pwrite = fd_pwrite;
    t->fd_read = fd_read;
    t->fd_readdir = fd_readdir;
    t->fd_renumber = fd_renumber;
    t->fd_seek = fd_seek;
    t->fd_sync = fd_sync;
    t->fd_tell = fd_tell;
    t->fd_write = fd_write;
    t->path_create_directory = path_create_directory;
    t->path_filestat_get = path_filestat_get;
    t->path_filestat_set_times = path_filestat_set_times;
    t->path_link = path_link;
    t->path_open = path_open;
    t->path_readlink = path_readlink;
    t->path_remove_directory = path_remove_directory;
    t->path_rename = path_rename;
    t->path_symlink = path_symlink;
    t->path_unlink_file = path_unlink_file;
}
