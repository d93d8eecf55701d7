/*
 * wasi_workload.c — the program `chronofs-bench wasi` runs twice: compiled
 * to wasm32-wasi and run by `chronofs run`, and compiled natively and run
 * on tmpfs. One source, so both sides do the same calls in the same order;
 * plain POSIX through the libc (wasi-libc on one side, glibc on the other).
 *
 *   wasi_workload DIR FILES STREAM_MIB
 *
 * In DIR (which must exist):
 *   small files  FILES files of 256 B - 2 KiB of English-like text, 100 to
 *                a directory: each created and written (one write), then
 *                each opened and read back, then each unlinked and the
 *                directories removed;
 *   stream write STREAM_MIB MiB to one file in 1 MiB writes (text; every
 *                4 KiB page stamped with its number, so no two pages are
 *                alike), closed;
 *   stream read  the file reopened and read back in 1 MiB reads, each page's
 *                stamp checked, then unlinked.
 * Everything read is folded into one checksum, printed on stdout with the
 * counts ("checksum 0123456789abcdef files N bytes M"): the bench compares
 * it between the two sides. Each phase's seconds go to stderr as
 * "phase NAME SECONDS" lines. Exit status 0, or 1 with a message on
 * stderr.
 *
 * The text comes from a seeded PRNG drawing from a word list: the same
 * bytes on both sides, compressible as prose is (the chronofs side
 * journals it).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK ((size_t)1 << 20)
#define PAGE 4096
#define PER_DIR 100
#define TEXT_BYTES ((size_t)64 << 10)

static void die(const char *what, const char *path)
{
    fprintf(stderr, "wasi_workload: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Prose: words drawn with a skew toward the first ones (the common ones),
 * sentences of 5-24 words, paragraphs of 2-7 sentences. */
static void text_fill(uint64_t seed, char *buf, size_t len)
{
    static const char *const words[] = {
        "the", "of", "and", "to", "a", "in", "is", "it", "that", "was", "for",
        "on", "with", "as", "he", "his", "they", "be", "at", "one", "have",
        "this", "from", "or", "had", "by", "word", "but", "what", "some", "we",
        "can", "out", "other", "were", "all", "there", "when", "up", "use",
        "your", "how", "said", "each", "she", "which", "their", "time", "will",
        "way", "about", "many", "then", "them", "write", "would", "like",
        "these", "her", "long", "make", "thing", "see", "him", "two", "look",
        "more", "day", "could", "come", "number", "sound", "most", "people",
        "over", "know", "water", "than", "call", "first", "who", "down",
        "side", "been", "now", "find", "journal", "snapshot", "river",
        "mountain", "question", "morning", "government", "because",
        "different", "following", "important", "children", "something"};
    const uint64_t nwords = sizeof words / sizeof *words;
    uint64_t rng = seed;
    size_t at = 0;
    int words_left = 0, sentences_left = 0;
    while (at < len) {
        char piece[48];
        int capital = 0;
        if (words_left == 0) {
            if (sentences_left == 0)
                sentences_left = 2 + (int)(rng_next(&rng) % 6);
            words_left = 5 + (int)(rng_next(&rng) % 20);
            capital = 1;
        }
        uint64_t r = rng_next(&rng);
        /* min of two draws: the low indices come up more often */
        uint64_t w = r % nwords, w2 = (r >> 32) % nwords;
        int n = snprintf(piece, sizeof piece, "%s", words[w < w2 ? w : w2]);
        if (capital)
            piece[0] = (char)(piece[0] - 'a' + 'A');
        if (--words_left == 0) {
            piece[n++] = '.';
            piece[n++] = --sentences_left == 0 ? '\n' : ' ';
        } else {
            if (r % 11 == 0)
                piece[n++] = ',';
            piece[n++] = ' ';
        }
        size_t take = (size_t)n < len - at ? (size_t)n : len - at;
        memcpy(buf + at, piece, take);
        at += take;
    }
}

/* Cheap enough not to dominate either side: a multiply per 8 bytes. */
static uint64_t fold(uint64_t h, const char *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * UINT64_C(0x100000001b3) + 0x9e37;
    }
    for (; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * UINT64_C(0x100000001b3);
    return h;
}

static void write_all(int fd, const char *p, size_t n, const char *path)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            die("write", path);
        p += w;
        n -= (size_t)w;
    }
}

static size_t read_full(int fd, char *p, size_t n, const char *path)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0)
            die("read", path);
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* The stamp at the start of page p of block b: "[b:p]" in decimal,
 * so the page stays text. */
static int stamp(char *dst, uint64_t b, size_t p)
{
    return sprintf(dst, "[%06" PRIu64 ":%04zu]", b, p);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: wasi_workload DIR FILES STREAM_MIB\n");
        return 2;
    }
    const char *dir = argv[1];
    int files = atoi(argv[2]);
    uint64_t blocks = strtoull(argv[3], NULL, 10);
    int dirs = (files + PER_DIR - 1) / PER_DIR;
    char *text = malloc(TEXT_BYTES), *block = malloc(BLOCK), *rbuf = malloc(BLOCK);
    if (!text || !block || !rbuf) {
        fprintf(stderr, "wasi_workload: out of memory\n");
        return 1;
    }
    text_fill(1234, text, TEXT_BYTES);
    text_fill(5678, block, BLOCK);
    uint64_t h = UINT64_C(0xcbf29ce484222325), bytes = 0;
    char path[4096];

    /* Small files: create + write, read back, delete. */
    double t0 = now_s();
    for (int d = 0; d < dirs; d++) {
        snprintf(path, sizeof path, "%s/d%03d", dir, d);
        if (mkdir(path, 0755))
            die("mkdir", path);
    }
    for (int i = 0; i < files; i++) {
        size_t len = 256 + (size_t)(i * 397) % 1793;
        size_t off = (size_t)(i * 7919) % (TEXT_BYTES - 2048);
        snprintf(path, sizeof path, "%s/d%03d/f%05d.txt", dir, i / PER_DIR, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0)
            die("create", path);
        write_all(fd, text + off, len, path);
        if (close(fd))
            die("close", path);
    }
    for (int i = 0; i < files; i++) {
        snprintf(path, sizeof path, "%s/d%03d/f%05d.txt", dir, i / PER_DIR, i);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            die("open", path);
        size_t n = read_full(fd, rbuf, 4096, path);
        close(fd);
        h = fold(h, rbuf, n);
        bytes += n;
    }
    for (int i = 0; i < files; i++) {
        snprintf(path, sizeof path, "%s/d%03d/f%05d.txt", dir, i / PER_DIR, i);
        if (unlink(path))
            die("unlink", path);
    }
    for (int d = 0; d < dirs; d++) {
        snprintf(path, sizeof path, "%s/d%03d", dir, d);
        if (rmdir(path))
            die("rmdir", path);
    }
    double t1 = now_s();

    /* Stream: write, then read back and check. */
    snprintf(path, sizeof path, "%s/stream.txt", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        die("create", path);
    for (uint64_t b = 0; b < blocks; b++) {
        for (size_t p = 0; p < BLOCK / PAGE; p++)
            block[p * PAGE + (size_t)stamp(block + p * PAGE, b, p)] = ' ';
        write_all(fd, block, BLOCK, path);
    }
    if (close(fd))
        die("close", path);
    double t2 = now_s();
    fd = open(path, O_RDONLY);
    if (fd < 0)
        die("open", path);
    for (uint64_t b = 0; b < blocks; b++) {
        if (read_full(fd, rbuf, BLOCK, path) != BLOCK) {
            fprintf(stderr, "wasi_workload: %s: short at block %" PRIu64 "\n", path, b);
            return 1;
        }
        for (size_t p = 0; p < BLOCK / PAGE; p++) {
            char want[32];
            int n = stamp(want, b, p);
            if (memcmp(rbuf + p * PAGE, want, (size_t)n)) {
                fprintf(stderr, "wasi_workload: %s: block %" PRIu64 " page %zu read "
                        "back wrong\n", path, b, p);
                return 1;
            }
        }
        h = fold(h, rbuf, BLOCK);
        bytes += BLOCK;
    }
    if (read(fd, rbuf, 1) != 0) {
        fprintf(stderr, "wasi_workload: %s: longer than written\n", path);
        return 1;
    }
    close(fd);
    if (unlink(path))
        die("unlink", path);
    double t3 = now_s();

    printf("checksum %016" PRIx64 " files %d bytes %" PRIu64 "\n", h, files, bytes);
    fprintf(stderr, "phase small %.6f\nphase write %.6f\nphase read %.6f\n", t1 - t0,
            t2 - t1, t3 - t2);
    free(text);
    free(block);
    free(rbuf);
    return 0;
}
