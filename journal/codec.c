/*
 * codec.c — the event codec (one cfs_event <-> one length-prefixed record)
 * and cfs_strerror().
 *
 * The byte layout is FORMAT.md, "Event records". In short:
 *
 *   varint record_len | u8 op | varint field_mask | present fields, bit order
 *
 * Why it looks like this:
 *  - Most fields of most events are zero (an event uses 3-8 of the 22), so a
 *    presence mask plus varints makes a metadata event ~20-50 bytes.
 *  - seq is not stored at all: within a frame the seqs are consecutive and
 *    the frame header carries the first one. time is a zigzag delta from the
 *    previous event's, usually a byte or two.
 *  - Strings are stored as len + bytes + NUL, so a decoded event's strings
 *    can point straight into the caller's buffer and still be C strings for
 *    the engine; the decoder checks the NUL is there and none is inside.
 *  - The encoding is canonical: a field is present iff it is non-zero
 *    (strings: non-NULL), varints are minimal, and the decoder rejects
 *    anything else. One event has exactly one encoding, which lets the
 *    fuzzer check decode -> encode reproduces the input byte for byte.
 *
 * The decoder trusts nothing: every read is bounds-checked against the
 * record, which is bounds-checked against the buffer, and every error names
 * the seq and the field.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cfs_journal.h"

/* ---------------------------------------------------------------------- */
/* Errors                                                                   */

const char *cfs_strerror(int code)
{
    switch (code) {
    case CFS_JE_OK:         return "success";
    case CFS_JE_IO:         return "I/O error";
    case CFS_JE_CORRUPT:    return "journal data is corrupt";
    case CFS_JE_VERSION:    return "written by a newer format version";
    case CFS_JE_LOCKED:     return "journal is open for writing by another process";
    case CFS_JE_NOSPC:      return "no space left on device";
    case CFS_JE_NOMEM:      return "out of memory";
    case CFS_JE_INVAL:      return "invalid argument";
    case CFS_JE_NOTFOUND:   return "not found";
    case CFS_JE_FAILED:     return "an earlier write failed; reopen the journal";
    case CFS_JE_READONLY:   return "journal is open read-only";
    case CFS_JE_NOTJOURNAL: return "not a chronofs journal";
    case CFS_JE_DIVERGED:   return "replay diverged from the recorded outcome";
    default:                return "unknown error";
    }
}

/* ---------------------------------------------------------------------- */
/* The field table                                                          */

enum kind { K_U32, K_U64, K_TIME, K_STR, K_DATA };

struct field {
    const char *name;
    uint8_t kind;
    uint16_t off;    /* offsetof(cfs_event, the field) */
};

/* Bit i of the mask is fields[i]. Append only: the bits are the format. */
#define F(name, kind) {#name, kind, offsetof(cfs_event, name)}
static const struct field fields[] = {
    F(pid, K_U32),           /*  0 */
    F(time, K_TIME),         /*  1 */
    F(fd, K_U32),            /*  2 */
    F(fd2, K_U32),           /*  3 */
    F(path, K_STR),          /*  4 */
    F(path2, K_STR),         /*  5 */
    F(ino, K_U64),           /*  6 */
    F(dir, K_U64),           /*  7 */
    F(name, K_STR),          /*  8 */
    F(dir2, K_U64),          /*  9 */
    F(name2, K_STR),         /* 10 */
    F(ino2, K_U64),          /* 11 */
    F(ofd, K_U64),           /* 12 */
    F(offset, K_U64),        /* 13 */
    F(length, K_U64),        /* 14 */
    F(data, K_DATA),         /* 15 */
    F(rights_base, K_U64),   /* 16 */
    F(rights_inheriting, K_U64), /* 17 */
    F(flags, K_U32),         /* 18 */
    F(mode, K_U32),          /* 19 */
    F(uid, K_U32),           /* 20 */
    F(gid, K_U32),           /* 21 */
};
#undef F

#define NFIELDS ((int)(sizeof(fields) / sizeof(fields[0])))
#define BIT_LENGTH 14
#define BIT_DATA 15
#define KNOWN_MASK ((UINT64_C(1) << NFIELDS) - 1)
_Static_assert(sizeof(fields) / sizeof(fields[0]) == 22,
               "cfs_codec_encode() and cfs_codec_bound() know 22 fields");

/* The decoder stores fields through memcpy at the table's offsets: their
 * types must be what the kinds say. */
_Static_assert(sizeof(((cfs_event *)0)->pid) == 4, "pid is u32");
_Static_assert(sizeof(((cfs_event *)0)->fd) == 4, "fd is u32");
_Static_assert(sizeof(((cfs_event *)0)->fd2) == 4, "fd2 is u32");
_Static_assert(sizeof(((cfs_event *)0)->flags) == 4, "flags is u32");
_Static_assert(sizeof(((cfs_event *)0)->mode) == 4, "mode is u32");
_Static_assert(sizeof(((cfs_event *)0)->uid) == 4, "uid is u32");
_Static_assert(sizeof(((cfs_event *)0)->gid) == 4, "gid is u32");
_Static_assert(sizeof(((cfs_event *)0)->ino) == 8, "ino is u64");
_Static_assert(sizeof(((cfs_event *)0)->ofd) == 8, "ofd is u64");
_Static_assert(sizeof(((cfs_event *)0)->rights_base) == 8, "rights are u64");
_Static_assert(sizeof(((cfs_event *)0)->time) == 8, "time is u64");
_Static_assert(CFS_OP_MAX_ <= 255, "op is stored as one byte");

static void set_u64(cfs_event *ev, const struct field *f, uint64_t v)
{
    char *p = (char *)ev + f->off;
    if (f->kind == K_U32) {
        uint32_t w = (uint32_t)v;
        memcpy(p, &w, 4);
    } else {
        memcpy(p, &v, 8);
    }
}

static void set_ptr(cfs_event *ev, const struct field *f, const void *v)
{
    memcpy((char *)ev + f->off, &v, sizeof(v));
}

/* ---------------------------------------------------------------------- */
/* Varints                                                                  */

/* Unsigned LEB128: 7 bits per byte, low group first, high bit = more. A
 * 64-bit value takes at most 10 bytes. The time delta is a 65-bit zigzag
 * value (sign + 64-bit magnitude), which also fits in 10 bytes. */
#define VARINT_MAX 10

static size_t varint_len(uint64_t v)
{
    /* 1 + floor(bits / 7) for the significant bits, bits >= 1 */
    return 1 + (size_t)(63 - __builtin_clzll(v | 1)) / 7;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* The time delta d = ev->time - prev->time, exactly (it needs 65 bits),
 * zigzagged: d >= 0 -> 2d, d < 0 -> 2|d| - 1. lo holds bits 0..63, hi bit 64. */
static void time_zigzag(uint64_t prev, uint64_t t, uint64_t *lo, unsigned *hi)
{
    if (t >= prev) {
        uint64_t d = t - prev;
        *lo = d << 1;
        *hi = (unsigned)(d >> 63);
    } else {
        uint64_t m1 = prev - t - 1; /* |d| - 1 */
        *lo = (m1 << 1) | 1;
        *hi = (unsigned)(m1 >> 63);
    }
}

static size_t varint65_len(uint64_t lo, unsigned hi)
{
    return hi ? VARINT_MAX : varint_len(lo);
}

static uint8_t *put_varint65(uint8_t *p, uint64_t lo, unsigned hi)
{
    if (hi) {
        /* 9 full groups carry bits 0..62; the 10th carries bits 63 and 64 */
        for (int i = 0; i < 9; i++) {
            *p++ = (uint8_t)(lo | 0x80);
            lo >>= 7;
        }
        *p++ = (uint8_t)(lo | 2u);
        return p;
    }
    return put_varint(p, lo);
}

enum { V_OK, V_TRUNC, V_OVERLONG, V_OVERFLOW };

/*
 * Read a minimal varint of at most 64 bits (wide: 65 bits, bit 64 in *hi)
 * from [*pp, end). Canonical only: a last byte of 0 after other bytes is
 * overlong, an 11th byte or bits past 64 (65) overflow.
 */
static int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out,
                      unsigned *hi, int wide)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (int i = 0; i < VARINT_MAX; i++) {
        if (p == end)
            return V_TRUNC;
        uint8_t b = *p++;
        if (i < 9) {
            v |= (uint64_t)(b & 0x7f) << (7 * i);
        } else {
            if (b & 0x80)
                return V_OVERFLOW;
            if (b > (wide ? 3 : 1))
                return V_OVERFLOW;
            v |= (uint64_t)(b & 1) << 63;
            if (hi)
                *hi = b >> 1;
        }
        if (!(b & 0x80)) {
            if (i > 0 && b == 0)
                return V_OVERLONG;
            if (i < 9 && hi)
                *hi = 0;
            *out = v;
            *pp = p;
            return V_OK;
        }
    }
    return V_OVERFLOW;
}

/* ---------------------------------------------------------------------- */
/* Encoding                                                                 */

size_t cfs_codec_bound(const cfs_event *ev)
{
    /* record_len + op + mask, a worst-case varint for each of the 18
     * integer fields (time included), then the strings and the data */
    size_t n = VARINT_MAX + 1 + VARINT_MAX + 18 * VARINT_MAX;
    const char *s[4] = {ev->path, ev->path2, ev->name, ev->name2};
    for (int i = 0; i < 4; i++)
        if (s[i])
            n += VARINT_MAX + strlen(s[i]) + 1;
    if (ev->data)
        n += (size_t)ev->length;
    return n;
}

/*
 * Straight-line rather than a loop over `fields`: the journal encodes every
 * event on the guest's path, and a fixed sequence of well-predicted tests
 * is several times faster than a table walk with a switch per field. The
 * bits here and in `fields` must agree; the round-trip tests hold them to
 * it.
 */
size_t cfs_codec_encode(cfs_codec_ctx *prev, const cfs_event *ev, uint8_t *out)
{
    assert(ev->op >= 1 && ev->op <= CFS_OP_MAX_);

    /* Pass 1: which fields are present, and the body's exact size, so the
     * record length is written first without moving the body. */
    uint64_t mask = 0;
    size_t body = 1; /* op */
    size_t l_path = 0, l_path2 = 0, l_name = 0, l_name2 = 0;
    uint64_t tlo = 0;
    unsigned thi = 0;
    const int has_data = ev->data && ev->length;

#define SIZE_INT(bit, v)                                                      \
    do {                                                                      \
        if (v) {                                                              \
            mask |= UINT64_C(1) << (bit);                                     \
            body += varint_len(v);                                            \
        }                                                                     \
    } while (0)
#define SIZE_STR(bit, s, l)                                                   \
    do {                                                                      \
        if (s) {                                                              \
            l = strlen(s);                                                    \
            mask |= UINT64_C(1) << (bit);                                     \
            body += varint_len(l) + l + 1;                                    \
        }                                                                     \
    } while (0)

    SIZE_INT(0, ev->pid);
    if (ev->time != prev->time) {
        time_zigzag(prev->time, ev->time, &tlo, &thi);
        mask |= UINT64_C(1) << 1;
        body += varint65_len(tlo, thi);
    }
    SIZE_INT(2, ev->fd);
    SIZE_INT(3, ev->fd2);
    SIZE_STR(4, ev->path, l_path);
    SIZE_STR(5, ev->path2, l_path2);
    SIZE_INT(6, ev->ino);
    SIZE_INT(7, ev->dir);
    SIZE_STR(8, ev->name, l_name);
    SIZE_INT(9, ev->dir2);
    SIZE_STR(10, ev->name2, l_name2);
    SIZE_INT(11, ev->ino2);
    SIZE_INT(12, ev->ofd);
    SIZE_INT(13, ev->offset);
    SIZE_INT(14, ev->length);
    if (has_data) {
        mask |= UINT64_C(1) << BIT_DATA;
        body += (size_t)ev->length;
    }
    SIZE_INT(16, ev->rights_base);
    SIZE_INT(17, ev->rights_inheriting);
    SIZE_INT(18, ev->flags);
    SIZE_INT(19, ev->mode);
    SIZE_INT(20, ev->uid);
    SIZE_INT(21, ev->gid);
    body += varint_len(mask);
#undef SIZE_INT
#undef SIZE_STR

    /* Pass 2: write. */
#define PUT_INT(v)                                                            \
    do {                                                                      \
        if (v)                                                                \
            p = put_varint(p, v);                                             \
    } while (0)
#define PUT_STR(s, l)                                                         \
    do {                                                                      \
        if (s) {                                                              \
            p = put_varint(p, l);                                             \
            memcpy(p, s, l);                                                  \
            p += l;                                                           \
            *p++ = 0;                                                         \
        }                                                                     \
    } while (0)

    uint8_t *p = put_varint(out, body);
    *p++ = (uint8_t)ev->op;
    p = put_varint(p, mask);
    PUT_INT(ev->pid);
    if (mask & (UINT64_C(1) << 1))
        p = put_varint65(p, tlo, thi);
    PUT_INT(ev->fd);
    PUT_INT(ev->fd2);
    PUT_STR(ev->path, l_path);
    PUT_STR(ev->path2, l_path2);
    PUT_INT(ev->ino);
    PUT_INT(ev->dir);
    PUT_STR(ev->name, l_name);
    PUT_INT(ev->dir2);
    PUT_STR(ev->name2, l_name2);
    PUT_INT(ev->ino2);
    PUT_INT(ev->ofd);
    PUT_INT(ev->offset);
    PUT_INT(ev->length);
    if (has_data) {
        memcpy(p, ev->data, (size_t)ev->length);
        p += ev->length;
    }
    PUT_INT(ev->rights_base);
    PUT_INT(ev->rights_inheriting);
    PUT_INT(ev->flags);
    PUT_INT(ev->mode);
    PUT_INT(ev->uid);
    PUT_INT(ev->gid);
#undef PUT_INT
#undef PUT_STR

    prev->seq = ev->seq;
    prev->time = ev->time;
    return (size_t)(p - out);
}

/* ---------------------------------------------------------------------- */
/* Decoding                                                                 */

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static int fail(char *err, size_t errcap, uint64_t seq, const char *field,
                const char *fmt, ...)
{
    if (err && errcap) {
        int n = snprintf(err, errcap, "seq %" PRIu64 ": field `%s`: ", seq, field);
        if (n >= 0 && (size_t)n < errcap) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errcap - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return CFS_JE_CORRUPT;
}

static int varint_fail(int vr, char *err, size_t errcap, uint64_t seq,
                       const char *field, const char *where)
{
    switch (vr) {
    case V_TRUNC:
        return fail(err, errcap, seq, field, "varint runs past the %s", where);
    case V_OVERLONG:
        return fail(err, errcap, seq, field, "overlong varint (not minimal)");
    default:
        return fail(err, errcap, seq, field, "varint overflows %s bits",
                    strcmp(field, "time") ? "64" : "65");
    }
}

int cfs_codec_decode(cfs_codec_ctx *prev, const uint8_t *buf, size_t len,
                     cfs_event *ev, size_t *used, char *err, size_t errcap)
{
    if (err && errcap)
        err[0] = 0;
    if (prev->seq == UINT64_MAX)
        return fail(err, errcap, prev->seq, "seq", "no seq follows %" PRIu64,
                    prev->seq);
    const uint64_t seq = prev->seq + 1;
    if (!buf || !len) /* (and no arithmetic on a NULL buf) */
        return fail(err, errcap, seq, "record_len",
                    "varint runs past the end of the buffer");
    const uint8_t *p = buf, *const bufend = buf + len;

    uint64_t rlen;
    int vr = get_varint(&p, bufend, &rlen, NULL, 0);
    if (vr)
        return varint_fail(vr, err, errcap, seq, "record_len", "end of the buffer");
    if (rlen > (uint64_t)(bufend - p))
        return fail(err, errcap, seq, "record_len",
                    "length %" PRIu64 " past the end of the buffer (%zu bytes left)",
                    rlen, (size_t)(bufend - p));
    const uint8_t *const end = p + rlen;

    if (p == end)
        return fail(err, errcap, seq, "op", "missing: the record is empty");
    uint8_t op = *p++;
    if (op == 0 || op > CFS_OP_MAX_)
        return fail(err, errcap, seq, "op",
                    "unknown op %u (this build knows 1..%d)", op, CFS_OP_MAX_);

    uint64_t mask;
    if ((vr = get_varint(&p, end, &mask, NULL, 0)))
        return varint_fail(vr, err, errcap, seq, "mask", "record end");
    if (mask & ~KNOWN_MASK)
        return fail(err, errcap, seq, "mask",
                    "unknown field bits %#" PRIx64 " (this build knows %d fields)",
                    mask & ~KNOWN_MASK, NFIELDS);
    if ((mask & (UINT64_C(1) << BIT_DATA)) && !(mask & (UINT64_C(1) << BIT_LENGTH)))
        return fail(err, errcap, seq, "data", "present without `length`");

    memset(ev, 0, sizeof(*ev));
    ev->seq = seq;
    ev->op = op;
    ev->time = prev->time;

    for (uint64_t m = mask; m; m &= m - 1) {
        const struct field *f = &fields[__builtin_ctzll(m)];
        switch (f->kind) {
        case K_U32: case K_U64: {
            uint64_t v;
            if ((vr = get_varint(&p, end, &v, NULL, 0)))
                return varint_fail(vr, err, errcap, seq, f->name, "record end");
            if (v == 0)
                return fail(err, errcap, seq, f->name,
                            "present with value 0 (zero fields are absent)");
            if (f->kind == K_U32 && v > UINT32_MAX)
                return fail(err, errcap, seq, f->name,
                            "value %" PRIu64 " does not fit in 32 bits", v);
            set_u64(ev, f, v);
            break;
        }
        case K_TIME: {
            uint64_t lo;
            unsigned hi = 0;
            if ((vr = get_varint(&p, end, &lo, &hi, 1)))
                return varint_fail(vr, err, errcap, seq, f->name, "record end");
            if (lo == 0 && hi == 0)
                return fail(err, errcap, seq, f->name,
                            "present with delta 0 (an unchanged time is absent)");
            /* n = value >> 1 (fits in 64 bits); value odd -> d = -(n + 1) */
            uint64_t n = (lo >> 1) | ((uint64_t)hi << 63);
            if (lo & 1) {
                if (n >= prev->time) {
                    char mag[24]; /* |d| = n + 1, up to 2^64 */
                    if (n == UINT64_MAX)
                        snprintf(mag, sizeof(mag), "18446744073709551616");
                    else
                        snprintf(mag, sizeof(mag), "%" PRIu64, n + 1);
                    return fail(err, errcap, seq, f->name,
                                "delta -%s from %" PRIu64 " goes below 0", mag,
                                prev->time);
                }
                ev->time = prev->time - n - 1;
            } else {
                if (n > UINT64_MAX - prev->time)
                    return fail(err, errcap, seq, f->name,
                                "delta +%" PRIu64 " from %" PRIu64
                                " overflows 64 bits", n, prev->time);
                ev->time = prev->time + n;
            }
            break;
        }
        case K_STR: {
            uint64_t sl;
            if ((vr = get_varint(&p, end, &sl, NULL, 0)))
                return varint_fail(vr, err, errcap, seq, f->name, "record end");
            size_t left = (size_t)(end - p);
            if (sl >= left) /* the bytes and the NUL must both fit */
                return fail(err, errcap, seq, f->name,
                            "length %" PRIu64 " past the record end (%zu bytes left)",
                            sl, left);
            const void *nul = memchr(p, 0, (size_t)sl);
            if (nul)
                return fail(err, errcap, seq, f->name,
                            "NUL inside the string at byte %zu of %" PRIu64,
                            (size_t)((const uint8_t *)nul - p), sl);
            if (p[sl] != 0)
                return fail(err, errcap, seq, f->name,
                            "missing NUL terminator (byte %#x after %" PRIu64
                            " bytes)", p[sl], sl);
            set_ptr(ev, f, p);
            p += sl + 1;
            break;
        }
        case K_DATA: {
            /* length (bit 14) was decoded before this bit, and is > 0 */
            size_t left = (size_t)(end - p);
            if (ev->length > left)
                return fail(err, errcap, seq, f->name,
                            "length %" PRIu64 " past the record end (%zu bytes left)",
                            ev->length, left);
            ev->data = p;
            p += ev->length;
            break;
        }
        }
    }
    if (p != end) {
        int last = 63 - __builtin_clzll(mask | 1);
        return fail(err, errcap, seq, mask ? fields[last].name : "mask",
                    "%zu trailing bytes after it, inside the record",
                    (size_t)(end - p));
    }
    prev->seq = seq;
    prev->time = ev->time;
    *used = (size_t)(end - buf);
    return 0;
}
