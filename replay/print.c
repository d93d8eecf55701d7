/*
 * print.c — events as lines: text for people, JSON Lines for programs.
 *
 * Text shows an event the way a person thinks of it: the op, then what it
 * acted on by path (resolved in the state before the event), then what
 * changed ("seq 812  rename /data/a.txt -> /data/b.txt"). Every byte that
 * could break the line or garble a terminal (control characters, bytes
 * that are not UTF-8) is escaped, so one event is always one line. JSON carries every non-zero field of the event plus the
 * resolved paths; write data is summarized by its length and xxh3-64.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <xxh_x86dispatch.h>

#include "internal.h"

/* ---- text ------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;  /* no overlong forms */
        if (c == 0xed)
            hi = 0x9f;  /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f;  /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* Names and printed data as they read: UTF-8 as is, anything that could
 * break the line or is not UTF-8 as an escape. */
static void esc_text(struct sbuf *b, const char *s, size_t n, bool quoted)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t len = utf8_len((const unsigned char *)s + i, n - i);
            if (len) {
                sb_putn(b, s + i, len);
                i += len - 1;
            } else {
                sb_printf(b, "\\x%02x", c);
            }
            continue;
        }
        switch (c) {
        case '\\': sb_puts(b, "\\\\"); break;
        case '\n': sb_puts(b, "\\n"); break;
        case '\t': sb_puts(b, "\\t"); break;
        case '\r': sb_puts(b, "\\r"); break;
        case '"':
            sb_puts(b, quoted ? "\\\"" : "\"");
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                sb_printf(b, "\\x%02x", c);
            else
                sb_putc(b, (char)c);
        }
    }
}

static void put_path(struct sbuf *b, const cfs_step *s, const char *p)
{
    if (!p) {
        sb_puts(b, "?");
        return;
    }
    esc_text(b, p, strlen(p), false);
    if (s->unlinked && p == s->path)
        sb_puts(b, " (deleted)");
}

static void put_str(struct sbuf *b, const char *p)
{
    if (p)
        esc_text(b, p, strlen(p), false);
    else
        sb_puts(b, "?");
}

/* "fd N (path)" for ops through an fd; just "fd N" if it is not known. */
static void put_fd_path(struct sbuf *b, const cfs_step *s, cfs_fd fd)
{
    sb_printf(b, "fd %" PRIu32, fd);
    if (s->path) {
        sb_puts(b, " (");
        put_path(b, s, s->path);
        sb_putc(b, ')');
    }
}

static void put_fdflags(struct sbuf *b, uint32_t flags)
{
    static const char *const names[] = {"append", "dsync", "nonblock", "rsync", "sync"};
    const char *sep = "";
    for (unsigned i = 0; i < 5; i++) {
        if (flags & (1u << i)) {
            sb_printf(b, "%s%s", sep, names[i]);
            sep = "|";
        }
    }
    if (!*sep)
        sb_puts(b, "none");
}

static void put_bytes(struct sbuf *b, uint64_t n)
{
    sb_printf(b, "%" PRIu64 " byte%s", n, n == 1 ? "" : "s");
}

static bool is_stdio(cfs_ino ino)
{
    return ino >= CFS_INO_STDIN && ino <= CFS_INO_STDERR;
}

static void text_write(struct sbuf *b, const cfs_step *s)
{
    const cfs_event *ev = s->ev;
    put_path(b, s, s->path);
    sb_printf(b, " fd %" PRIu32 ": ", ev->fd);
    put_bytes(b, ev->length);
    if (is_stdio(ev->ino)) {
        /* what the guest printed, as far as it fits on a line */
        enum { PREVIEW = 40 };
        size_t n = ev->length < PREVIEW ? (size_t)ev->length : PREVIEW;
        if (ev->data) {
            sb_puts(b, " \"");
            esc_text(b, ev->data, n, true);
            sb_puts(b, ev->length > PREVIEW ? "\"..." : "\"");
        }
    } else {
        sb_printf(b, " at %" PRIu64, ev->offset);
    }
}

static void format_text(const cfs_step *s, struct sbuf *b)
{
    const cfs_event *ev = s->ev;
    sb_printf(b, "seq %" PRIu64 "  ", ev->seq);
    if (ev->pid != 1)
        sb_printf(b, "[pid %" PRIu32 "] ", ev->pid);
    sb_puts(b, cfs_op_name(ev->op));
    if (ev->op < 1 || ev->op > CFS_OP_MAX_) {
        sb_printf(b, " %u", (unsigned)ev->op);
        return;
    }
    if (ev->op != CFS_OP_CLOSE_CLOEXEC && ev->op != CFS_OP_CLOSE_ALL &&
        ev->op != CFS_OP_EXIT)
        sb_putc(b, ' ');
    const char *sep = " (";
    switch (ev->op) {
    case CFS_OP_OPEN:
        put_path(b, s, s->path);
        sb_printf(b, " -> fd %" PRIu32, ev->fd2);
        if (ev->flags & CFS_EVF_OPEN_CREATED) {
            sb_printf(b, "%screated", sep);
            sep = ", ";
        }
        if (ev->flags & CFS_EVF_OPEN_TRUNCATE) {
            sb_printf(b, "%struncated", sep);
            sep = ", ";
        }
        if ((ev->flags >> 8) & CFS_FDFLAG_APPEND) {
            sb_printf(b, "%sappend", sep);
            sep = ", ";
        }
        if (*sep == ',')
            sb_putc(b, ')');
        break;
    case CFS_OP_CLOSE:
        put_fd_path(b, s, ev->fd);
        break;
    case CFS_OP_READ:
    case CFS_OP_SEEK:
        put_path(b, s, s->path);
        sb_printf(b, " fd %" PRIu32 " -> offset %" PRIu64, ev->fd, ev->offset);
        break;
    case CFS_OP_WRITE:
        text_write(b, s);
        break;
    case CFS_OP_SET_SIZE:
        put_path(b, s, s->path);
        if (!ev->path)
            sb_printf(b, " fd %" PRIu32, ev->fd);
        sb_puts(b, " -> ");
        put_bytes(b, ev->offset);
        break;
    case CFS_OP_ALLOCATE:
        put_path(b, s, s->path);
        sb_printf(b, " fd %" PRIu32 ": ", ev->fd);
        put_bytes(b, ev->length);
        sb_printf(b, " at %" PRIu64, ev->offset);
        break;
    case CFS_OP_SET_TIMES:
        put_path(b, s, s->path);
        if (!ev->path)
            sb_printf(b, " fd %" PRIu32, ev->fd);
        sb_putc(b, ':');
        if (ev->flags & (CFS_FST_ATIM | CFS_FST_ATIM_NOW))
            sb_printf(b, " atime %" PRIu64, ev->offset);
        if (ev->flags & (CFS_FST_MTIM | CFS_FST_MTIM_NOW))
            sb_printf(b, " mtime %" PRIu64, ev->length);
        break;
    case CFS_OP_MKDIR:
    case CFS_OP_MKNOD:
        put_path(b, s, s->path);
        switch (ev->op == CFS_OP_MKNOD ? ev->mode & CFS_S_IFMT : 0) {
        case CFS_S_IFIFO: sb_puts(b, " (FIFO,"); break;
        case CFS_S_IFSOCK: sb_puts(b, " (socket,"); break;
        case CFS_S_IFCHR:
        case CFS_S_IFBLK: /* Linux's dev_t, as glibc's major()/minor() */
            sb_printf(b, " (%s device %" PRIu64 ":%" PRIu64 ",",
                      (ev->mode & CFS_S_IFMT) == CFS_S_IFCHR ? "character" : "block",
                      ((ev->offset >> 8) & 0xfff) | ((ev->offset >> 32) & 0xfffff000u),
                      (ev->offset & 0xff) | ((ev->offset >> 12) & 0xffffff00u));
            break;
        default: sb_puts(b, " ("); break;
        }
        sb_printf(b, "%smode %04o)", (ev->mode & CFS_S_IFMT) && ev->op == CFS_OP_MKNOD
                                         ? " " : "", (unsigned)(ev->mode & 07777));
        break;
    case CFS_OP_RMDIR:
    case CFS_OP_UNLINK:
        put_path(b, s, s->path);
        break;
    case CFS_OP_RENAME:
    case CFS_OP_LINK:
        put_path(b, s, s->path);
        sb_puts(b, " -> ");
        put_path(b, s, s->path2);
        if (ev->op == CFS_OP_RENAME && ev->ino2)
            sb_puts(b, " (replaced)");
        break;
    case CFS_OP_SYMLINK:
        put_path(b, s, s->path);
        sb_puts(b, " -> ");
        put_str(b, ev->path);
        break;
    case CFS_OP_CHMOD:
        put_path(b, s, s->path);
        sb_printf(b, " %04o", (unsigned)(ev->mode & 07777));
        break;
    case CFS_OP_CHOWN:
        put_path(b, s, s->path);
        if (ev->uid != UINT32_MAX)
            sb_printf(b, " uid %" PRIu32, ev->uid);
        if (ev->gid != UINT32_MAX)
            sb_printf(b, " gid %" PRIu32, ev->gid);
        break;
    case CFS_OP_DUP:
    case CFS_OP_RENUMBER:
        sb_printf(b, "fd %" PRIu32 " -> fd %" PRIu32, ev->fd, ev->fd2);
        if (s->path) {
            sb_puts(b, " (");
            put_path(b, s, s->path);
            sb_putc(b, ')');
        }
        if (ev->op == CFS_OP_DUP && (ev->flags & CFS_EVF_CLOEXEC))
            sb_puts(b, " cloexec");
        break;
    case CFS_OP_SET_FLAGS:
        put_fd_path(b, s, ev->fd);
        sb_puts(b, ": ");
        put_fdflags(b, ev->flags);
        break;
    case CFS_OP_SET_RIGHTS:
        put_fd_path(b, s, ev->fd);
        sb_printf(b, ": base %#" PRIx64 " inheriting %#" PRIx64, ev->rights_base,
                  ev->rights_inheriting);
        break;
    case CFS_OP_SET_CLOEXEC:
        put_fd_path(b, s, ev->fd);
        sb_puts(b, (ev->flags & CFS_EVF_CLOEXEC) ? ": on" : ": off");
        break;
    case CFS_OP_FORK:
        sb_printf(b, "-> pid %" PRIu32, ev->fd2);
        break;
    case CFS_OP_PREOPEN:
        put_path(b, s, s->path);
        sb_puts(b, " as ");
        put_str(b, ev->name);
        sb_printf(b, " -> fd %" PRIu32, ev->fd2);
        break;
    case CFS_OP_CHDIR:
        put_str(b, ev->path);
        break;
    case CFS_OP_SET_BUDGET:
        if (ev->offset)
            sb_printf(b, "%" PRIu64 " bytes", ev->offset);
        else
            sb_puts(b, "unlimited");
        break;
    default: /* CLOSE_CLOEXEC, CLOSE_ALL, EXIT: the process is the subject */
        break;
    }
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_str(struct sbuf *b, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    sb_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t len = utf8_len(s + i, n - i);
            if (len) {
                sb_putn(b, s + i, len);
                i += len;
            } else {
                sb_puts(b, "\\ufffd");
                i++;
            }
            continue;
        }
        switch (c) {
        case '"': sb_puts(b, "\\\""); break;
        case '\\': sb_puts(b, "\\\\"); break;
        case '\n': sb_puts(b, "\\n"); break;
        case '\t': sb_puts(b, "\\t"); break;
        case '\r': sb_puts(b, "\\r"); break;
        case '\b': sb_puts(b, "\\b"); break;
        case '\f': sb_puts(b, "\\f"); break;
        default:
            if (c < 0x20)
                sb_printf(b, "\\u%04x", c);
            else
                sb_putc(b, (char)c);
        }
        i++;
    }
    sb_putc(b, '"');
}

static void json_u64(struct sbuf *b, const char *key, uint64_t v)
{
    if (v)
        sb_printf(b, ",\"%s\":%" PRIu64, key, v);
}

static void json_kstr(struct sbuf *b, const char *key, const char *v)
{
    if (!v)
        return;
    sb_printf(b, ",\"%s\":", key);
    json_str(b, v);
}

static void format_json(const cfs_step *s, struct sbuf *b)
{
    const cfs_event *ev = s->ev;
    sb_printf(b, "{\"seq\":%" PRIu64 ",\"op\":", ev->seq);
    json_str(b, cfs_op_name(ev->op));
    if (ev->op < 1 || ev->op > CFS_OP_MAX_)
        sb_printf(b, ",\"op_code\":%u", (unsigned)ev->op);
    json_u64(b, "pid", ev->pid);
    json_u64(b, "time", ev->time);
    json_u64(b, "fd", ev->fd);
    json_u64(b, "fd2", ev->fd2);
    json_kstr(b, "path", ev->path);
    json_kstr(b, "path2", ev->path2);
    json_u64(b, "ino", ev->ino);
    json_u64(b, "dir", ev->dir);
    json_kstr(b, "name", ev->name);
    json_u64(b, "dir2", ev->dir2);
    json_kstr(b, "name2", ev->name2);
    json_u64(b, "ino2", ev->ino2);
    json_u64(b, "ofd", ev->ofd);
    json_u64(b, "offset", ev->offset);
    json_u64(b, "length", ev->length);
    if (ev->data)
        sb_printf(b, ",\"data_xxh3\":\"%016" PRIx64 "\"",
                  (uint64_t)XXH3_64bits_dispatch(ev->data, (size_t)ev->length));
    json_u64(b, "rights_base", ev->rights_base);
    json_u64(b, "rights_inheriting", ev->rights_inheriting);
    json_u64(b, "flags", ev->flags);
    json_u64(b, "mode", ev->mode);
    json_u64(b, "uid", ev->uid);
    json_u64(b, "gid", ev->gid);
    json_u64(b, "resolved_ino", s->ino);
    json_kstr(b, "resolved_path", s->path);
    json_kstr(b, "resolved_path2", s->path2);
    if (s->unlinked)
        sb_puts(b, ",\"unlinked\":true");
    sb_putc(b, '}');
}

/* ---- the public face --------------------------------------------------------- */

static size_t deliver(struct sbuf *b, char *buf, size_t cap)
{
    size_t len = b->oom ? 0 : b->len;
    if (cap) {
        size_t n = len < cap - 1 ? len : cap - 1;
        if (n)
            memcpy(buf, b->p, n);
        buf[n] = 0;
    }
    sb_free(b);
    return len;
}

size_t cfs_format_text(const cfs_step *s, char *buf, size_t cap)
{
    struct sbuf b = {0};
    if (s && s->ev)
        format_text(s, &b);
    return deliver(&b, buf, cap);
}

size_t cfs_format_json(const cfs_step *s, char *buf, size_t cap)
{
    struct sbuf b = {0};
    if (s && s->ev)
        format_json(s, &b);
    return deliver(&b, buf, cap);
}

int cfs_replay_log(cfs_journal *j, const cfs_log_opts *o, FILE *out,
                   uint64_t *printed, char *err, size_t errcap)
{
    if (printed)
        *printed = 0;
    if (!o || !out)
        return set_err(err, errcap, CFS_JE_INVAL, "log: no options or no output");
    cfs_stepper *s;
    int rc = cfs_stepper_open(j, o->from, o->to, o->filter, &s, err, errcap);
    if (rc)
        return rc;
    struct sbuf b = {0};
    cfs_step step;
    bool writing_failed = false; /* else an error is the stepper's */
    while ((rc = cfs_stepper_next(s, &step)) == 1) {
        sb_reset(&b);
        if (o->json)
            format_json(&step, &b);
        else
            format_text(&step, &b);
        sb_putc(&b, '\n');
        if (b.oom || fwrite(b.p, 1, b.len, out) != b.len)
            writing_failed = true;
        if (b.oom) {
            rc = set_err(err, errcap, CFS_JE_NOMEM,
                         "log: seq %" PRIu64 ": out of memory", step.ev->seq);
            break;
        }
        if (writing_failed) {
            rc = set_err(err, errcap, CFS_JE_IO, "log: seq %" PRIu64 ": writing: %s",
                         step.ev->seq, strerror(errno));
            break;
        }
        if (printed)
            (*printed)++;
    }
    if (rc < 0 && !writing_failed)
        set_err(err, errcap, rc, "%s", cfs_stepper_errmsg(s));
    else if (rc == 0 && fflush(out) != 0)
        rc = set_err(err, errcap, CFS_JE_IO, "log: writing: %s", strerror(errno));
    sb_free(&b);
    cfs_stepper_close(s);
    return rc;
}
