/*
 * frame.c — frames: header, xxh3-64 checksum, zstd payload (frame.h,
 * FORMAT.md "Frames").
 *
 * Header, 40 bytes, little-endian:
 *
 *    0  u32  magic 'C' 'F' 'S' 'F'
 *    4  u16  format version (CFS_FRAME_VERSION; 2 is a pointer, bigframes.c)
 *    6  u8   codec: 0 raw, 1 zstd
 *    7  u8   flags (0)
 *    8  u64  first seq
 *   16  u32  event count
 *   20  u32  raw (decoded) payload length
 *   24  u32  stored payload length
 *   28  u32  reserved (0)
 *   32  u64  XXH3_64(payload, seed = XXH3_64(header bytes 0..32))
 *   40       payload: stored length bytes
 *
 * The checksum's seed is the hash of the rest of the header, so one value
 * covers every byte of the frame.
 *
 * Decoding checks in an order that never trusts a length before it has
 * been checked against what is really there, and allocates only after the
 * header, the checksum and the zstd frame header all agree on a raw length
 * within CFS_FRAME_MAX_RAW.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxh_x86dispatch.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "bytes.h"
#include "frame.h"

#define MAGIC "CFSF"
#define HASHED_HEADER 32 /* header bytes under the checksum's seed */

/* Scratch buffers above this size are released after use, so one big
 * frame does not pin its memory for the codec's lifetime. */
#define KEEP_BYTES (UINT32_C(8) << 20)

struct cfs_frame_codec {
    int level;
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    uint8_t *out;    /* cfs_frame_encode's frame */
    size_t out_cap;
    uint8_t *raw;    /* decompressed payloads */
    size_t raw_cap;
};

struct header {
    uint16_t version;
    uint8_t codec, flags;
    uint64_t first_seq;
    uint32_t count, raw_len, stored_len, reserved;
    uint64_t checksum;
};

static uint64_t frame_checksum(const uint8_t *frame, const uint8_t *payload,
                               size_t stored_len)
{
    XXH64_hash_t seed = XXH3_64bits_dispatch(frame, HASHED_HEADER);
    return XXH3_64bits_withSeed_dispatch(payload, stored_len, seed);
}

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static int fail(int code, char *err, size_t errcap, uint64_t key_seq,
                const char *fmt, ...)
{
    if (err && errcap) {
        int n = snprintf(err, errcap, "frame at seq %" PRIu64 ": ", key_seq);
        if (n >= 0 && (size_t)n < errcap) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errcap - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return code;
}

/* Make *buf hold at least `need` bytes; a buffer grown past KEEP_BYTES is
 * replaced when a smaller need comes along. */
static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
    if (*cap >= need && (*cap <= KEEP_BYTES || need > KEEP_BYTES))
        return 0;
    size_t ncap = need < 4096 ? 4096 : need;
    free(*buf);
    *buf = malloc(ncap);
    *cap = *buf ? ncap : 0;
    return *buf ? 0 : CFS_JE_NOMEM;
}

/* ---------------------------------------------------------------------- */
/* Codec objects                                                            */

cfs_frame_codec *cfs_frame_codec_new(int zstd_level)
{
    cfs_frame_codec *c = calloc(1, sizeof(*c));
    if (c)
        c->level = zstd_level;
    return c;
}

uint8_t *cfs_frame_codec_swap_out(cfs_frame_codec *c, uint8_t *spare, size_t spare_cap,
                                  size_t *cap)
{
    uint8_t *out = c->out;
    *cap = c->out_cap;
    c->out = spare;
    c->out_cap = spare ? spare_cap : 0;
    return out;
}

void cfs_frame_codec_free(cfs_frame_codec *c)
{
    if (!c)
        return;
    ZSTD_freeCCtx(c->cctx);
    ZSTD_freeDCtx(c->dctx);
    free(c->out);
    free(c->raw);
    free(c);
}

/* ---------------------------------------------------------------------- */
/* Encoding                                                                 */

/* What every frame's count, seqs and length must satisfy. */
static bool encodable(uint64_t first_seq, uint32_t count, size_t raw_len)
{
    return count != 0 && first_seq != 0 && first_seq - 1 <= UINT64_MAX - count &&
           raw_len <= CFS_FRAME_MAX_RAW && raw_len / CFS_RECORD_MIN >= count;
}

/* Fill in header h for `stored` payload bytes at `payload`. */
static void put_header(uint8_t *h, uint8_t codec, uint64_t first_seq, uint32_t count,
                       size_t raw_len, size_t stored, const uint8_t *payload)
{
    memcpy(h, MAGIC, 4);
    put16(h + 4, CFS_FRAME_VERSION);
    h[6] = codec;
    h[7] = 0;
    put64(h + 8, first_seq);
    put32(h + 16, count);
    put32(h + 20, (uint32_t)raw_len);
    put32(h + 24, (uint32_t)stored);
    put32(h + 28, 0);
    put64(h + 32, frame_checksum(h, payload, stored));
}

int cfs_frame_encode_raw_in_place(uint8_t *buf, uint64_t first_seq, uint32_t count,
                                  size_t raw_len, size_t *frame_len)
{
    if (!buf || !frame_len || !encodable(first_seq, count, raw_len))
        return CFS_JE_INVAL;
    put_header(buf, CFS_FRAME_CODEC_RAW, first_seq, count, raw_len, raw_len,
               buf + CFS_FRAME_HEADER_SIZE);
    *frame_len = CFS_FRAME_HEADER_SIZE + raw_len;
    return 0;
}

int cfs_frame_encode(cfs_frame_codec *c, uint64_t first_seq, uint32_t count,
                     const uint8_t *raw, size_t raw_len,
                     const uint8_t **frame, size_t *frame_len)
{
    if (!c || !raw || !frame || !frame_len || !encodable(first_seq, count, raw_len))
        return CFS_JE_INVAL;

    if (!c->cctx) {
        c->cctx = ZSTD_createCCtx();
        if (!c->cctx)
            return CFS_JE_NOMEM;
        /* The frame header has its own checksum and the raw length; zstd's
         * checksum would be a second pass over the data for nothing. */
        if (ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel,
                                                c->level)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 0)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_contentSizeFlag, 1))) {
            ZSTD_freeCCtx(c->cctx);
            c->cctx = NULL;
            return CFS_JE_INVAL;
        }
    }
    size_t bound = ZSTD_compressBound(raw_len);
    if (bound < raw_len)
        bound = raw_len;
    int rc = reserve(&c->out, &c->out_cap, CFS_FRAME_HEADER_SIZE + bound);
    if (rc)
        return rc;

    uint8_t *h = c->out, *payload = c->out + CFS_FRAME_HEADER_SIZE;
    uint8_t codec = CFS_FRAME_CODEC_ZSTD;
    size_t stored = ZSTD_compress2(c->cctx, payload, bound, raw, raw_len);
    if (ZSTD_isError(stored)) {
        ZSTD_CCtx_reset(c->cctx, ZSTD_reset_session_only);
        if (ZSTD_getErrorCode(stored) == ZSTD_error_memory_allocation)
            return CFS_JE_NOMEM;
        stored = raw_len; /* anything else: keep the data, uncompressed */
        codec = CFS_FRAME_CODEC_RAW;
    } else if (stored >= raw_len) {
        stored = raw_len;
        codec = CFS_FRAME_CODEC_RAW;
    }
    if (codec == CFS_FRAME_CODEC_RAW)
        memcpy(payload, raw, raw_len);

    put_header(h, codec, first_seq, count, raw_len, stored, payload);
    *frame = c->out;
    *frame_len = CFS_FRAME_HEADER_SIZE + stored;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Decoding                                                                 */

static int parse_header(const uint8_t *f, size_t len, uint64_t key_seq,
                        struct header *h, char *err, size_t errcap)
{
    if (err && errcap)
        err[0] = 0;
    if (!f)
        len = 0;
    /* magic and version first: they keep their place in every version, so
     * a newer frame is recognized as such even if its header grew. */
    if (len < 6)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "%zu bytes, shorter than its %d-byte header", len,
                    CFS_FRAME_HEADER_SIZE);
    if (memcmp(f, MAGIC, 4) != 0)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "bad magic %02x %02x %02x %02x (not a chronofs frame)",
                    f[0], f[1], f[2], f[3]);
    h->version = get16(f + 4);
    if (h->version > CFS_FORMAT_VERSION)
        return fail(CFS_JE_VERSION, err, errcap, key_seq,
                    "format version %u is newer than this build (%d)",
                    h->version, CFS_FORMAT_VERSION);
    if (h->version == 0)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "format version 0 does not exist");
    if (h->version != CFS_FRAME_VERSION)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "a pointer to a big frame (format version %u) where the frame "
                    "belongs", h->version);
    if (len < CFS_FRAME_HEADER_SIZE)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "%zu bytes, shorter than its %d-byte header", len,
                    CFS_FRAME_HEADER_SIZE);
    h->codec = f[6];
    h->flags = f[7];
    h->first_seq = get64(f + 8);
    h->count = get32(f + 16);
    h->raw_len = get32(f + 20);
    h->stored_len = get32(f + 24);
    h->reserved = get32(f + 28);
    h->checksum = get64(f + 32);

    if (h->codec > CFS_FRAME_CODEC_ZSTD)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq, "unknown codec %u",
                    h->codec);
    if (h->flags || h->reserved)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "flags %#x / reserved %#" PRIx32 " must be 0", h->flags,
                    h->reserved);
    if (h->first_seq != key_seq)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "header says first seq %" PRIu64 ", stored under seq %" PRIu64,
                    h->first_seq, key_seq);
    if (h->first_seq == 0)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq, "first seq 0");
    if (h->count == 0)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq, "no events");
    if (h->first_seq - 1 > UINT64_MAX - h->count)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "%" PRIu32 " events from seq %" PRIu64 " pass seq 2^64-1",
                    h->count, h->first_seq);
    if (h->raw_len > CFS_FRAME_MAX_RAW)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "raw length %" PRIu32 " above the limit of %" PRIu32,
                    h->raw_len, CFS_FRAME_MAX_RAW);
    if (h->raw_len / CFS_RECORD_MIN < h->count)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "%" PRIu32 " events cannot fit in %" PRIu32 " raw bytes",
                    h->count, h->raw_len);
    if (h->stored_len != len - CFS_FRAME_HEADER_SIZE)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "stored length %" PRIu32 " but the frame holds %zu payload bytes",
                    h->stored_len, len - CFS_FRAME_HEADER_SIZE);
    if (h->codec == CFS_FRAME_CODEC_RAW && h->stored_len != h->raw_len)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "raw payload: stored length %" PRIu32 " != raw length %" PRIu32,
                    h->stored_len, h->raw_len);
    return 0;
}

int cfs_frame_peek(const uint8_t *frame, size_t len, uint64_t key_seq,
                   uint64_t *first_seq, uint32_t *count, char *err,
                   size_t errcap)
{
    struct header h;
    int rc = parse_header(frame, len, key_seq, &h, err, errcap);
    if (rc)
        return rc;
    if (first_seq)
        *first_seq = h.first_seq;
    if (count)
        *count = h.count;
    return 0;
}

/* Decompress the payload into c->raw; *out is the raw payload. */
static int unpack(cfs_frame_codec *c, const struct header *h,
                  const uint8_t *payload, uint64_t key_seq, const uint8_t **out,
                  char *err, size_t errcap)
{
    if (h->codec == CFS_FRAME_CODEC_RAW) {
        *out = payload;
        return 0;
    }
    /* exactly one zstd frame, declaring exactly the raw length */
    size_t zlen = ZSTD_findFrameCompressedSize(payload, h->stored_len);
    if (ZSTD_isError(zlen))
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq, "zstd payload: %s",
                    ZSTD_getErrorName(zlen));
    if (zlen != h->stored_len)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "zstd payload: a %zu-byte zstd frame in %" PRIu32 " stored bytes",
                    zlen, h->stored_len);
    unsigned long long content = ZSTD_getFrameContentSize(payload, h->stored_len);
    if (content == ZSTD_CONTENTSIZE_UNKNOWN || content == ZSTD_CONTENTSIZE_ERROR)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "zstd payload: no content size in the zstd frame header");
    if (content != h->raw_len)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "zstd payload: declares %llu bytes, the header %" PRIu32,
                    content, h->raw_len);
    if (!c->dctx && !(c->dctx = ZSTD_createDCtx()))
        return fail(CFS_JE_NOMEM, err, errcap, key_seq, "out of memory");
    if (reserve(&c->raw, &c->raw_cap, h->raw_len ? h->raw_len : 1))
        return fail(CFS_JE_NOMEM, err, errcap, key_seq,
                    "out of memory for %" PRIu32 " raw bytes", h->raw_len);
    size_t n = ZSTD_decompressDCtx(c->dctx, c->raw, h->raw_len, payload,
                                   h->stored_len);
    if (ZSTD_isError(n))
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq, "zstd payload: %s",
                    ZSTD_getErrorName(n));
    if (n != h->raw_len)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "zstd payload: decompressed to %zu bytes, the header says %" PRIu32,
                    n, h->raw_len);
    *out = c->raw;
    return 0;
}

/* Walk the records of a raw payload; with fn == NULL only validate. */
static int walk(const struct header *h, const uint8_t *raw, uint64_t key_seq,
                int (*fn)(void *ctx, const cfs_event *ev), void *ctx,
                char *err, size_t errcap)
{
    cfs_codec_ctx cc = {h->first_seq - 1, 0};
    size_t pos = 0;
    char msg[200];
    for (uint32_t i = 0; i < h->count; i++) {
        if (pos == h->raw_len)
            return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                        "payload ends after %" PRIu32 " of %" PRIu32 " events", i,
                        h->count);
        cfs_event ev;
        size_t used;
        int rc = cfs_codec_decode(&cc, raw + pos, h->raw_len - pos, &ev, &used,
                                  msg, sizeof(msg));
        if (rc)
            return fail(rc, err, errcap, key_seq, "%s", msg);
        pos += used;
        if (fn && (rc = fn(ctx, &ev)))
            return rc;
    }
    if (pos != h->raw_len)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "%zu bytes after its %" PRIu32 " events", h->raw_len - pos,
                    h->count);
    return 0;
}

int cfs_frame_decode_with(cfs_frame_codec *c, const uint8_t *frame, size_t len,
                          uint64_t key_seq,
                          int (*fn)(void *ctx, const cfs_event *ev), void *ctx,
                          char *err, size_t errcap)
{
    struct header h;
    int rc = parse_header(frame, len, key_seq, &h, err, errcap);
    if (rc)
        return rc;
    const uint8_t *payload = frame + CFS_FRAME_HEADER_SIZE;
    uint64_t sum = frame_checksum(frame, payload, h.stored_len);
    if (sum != h.checksum)
        return fail(CFS_JE_CORRUPT, err, errcap, key_seq,
                    "checksum mismatch (stored %016" PRIx64 ", computed %016" PRIx64 ")",
                    h.checksum, sum);
    const uint8_t *raw = NULL;
    if ((rc = unpack(c, &h, payload, key_seq, &raw, err, errcap)))
        return rc;
    /* Validate every record before delivering any: a frame is applied
     * whole or not at all. */
    if (!(rc = walk(&h, raw, key_seq, NULL, NULL, err, errcap)) && fn)
        rc = walk(&h, raw, key_seq, fn, ctx, err, errcap);
    if (c->raw_cap > KEEP_BYTES) {
        free(c->raw);
        c->raw = NULL;
        c->raw_cap = 0;
    }
    return rc;
}

int cfs_frame_decode(const uint8_t *frame, size_t len, uint64_t key_seq,
                     int (*fn)(void *ctx, const cfs_event *ev), void *ctx,
                     char *err, size_t errcap)
{
    cfs_frame_codec *c = cfs_frame_codec_new(1);
    if (!c)
        return fail(CFS_JE_NOMEM, err, errcap, key_seq, "out of memory");
    int rc = cfs_frame_decode_with(c, frame, len, key_seq, fn, ctx, err, errcap);
    cfs_frame_codec_free(c);
    return rc;
}
