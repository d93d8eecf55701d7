/*
 * writer.c — a long-running, restartable WASI guest for tests/cli/test_run.c.
 *
 *   writer STEPS SLEEP_MS
 *
 * Step i (0 <= i < STEPS) prints one line to stdout ("step i: ..."), then
 * appends one record line of English-like text, derived from i alone, to
 * /out/f<i % 3>.txt, then sleeps SLEEP_MS (poll_oneoff) so that a signal
 * or a snapshot interval lands mid-run. After the last step it writes
 * /out/summary.txt (a temp file renamed over) and prints "done".
 *
 * A snapshot holds the filesystem, not the guest's memory, so resuming
 * means starting this program again on the snapshot's tree: it counts the
 * records already in /out (each was one write, so a record is there whole
 * or not at all) and carries on from the next step. Its output and tree
 * are then those of a run that was never interrupted, provided the
 * snapshot fell between steps: one taken after a step's line was printed
 * but before its record was written cannot be told from one taken before
 * the line (stdout leaves no trace in the tree), so that step's line comes
 * twice. The test checks where its snapshot fell.
 *
 * Every line and record goes out in one write() (one event in the journal).
 * Diagnostics go to stderr; exit status 0, or 1 on an error, or 3 if the
 * tree is not one this program leaves (records out of order).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NFILES 3

static void die(const char *what, const char *path)
{
    fprintf(stderr, "writer: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static void put(int fd, const char *buf, size_t n, const char *what)
{
    ssize_t w = write(fd, buf, n);
    if (w != (ssize_t)n)
        die("write", what);
}

static uint64_t mix(uint64_t z)
{
    z += UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Record i: "record i: " then 3-60 words, a sentence of prose. */
static size_t record(int i, char *buf, size_t cap)
{
    static const char *const words[] = {
        "the", "river", "ran", "past", "a", "mill", "where", "journals", "were",
        "kept", "and", "every", "page", "held", "one", "more", "line", "than",
        "yesterday", "snapshot", "of", "morning", "light", "on", "water"};
    uint64_t r = mix((uint64_t)i);
    int nw = 3 + (int)(r % 58);
    size_t n = (size_t)snprintf(buf, cap, "record %d:", i);
    for (int w = 0; w < nw; w++) {
        r = mix(r);
        n += (size_t)snprintf(buf + n, cap - n, " %s",
                              words[r % (sizeof words / sizeof *words)]);
    }
    n += (size_t)snprintf(buf + n, cap - n, ".\n");
    return n;
}

/* Complete lines (records) in path; 0 if it does not exist. */
static int count_records(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        die("open", path);
    }
    char buf[4096];
    int lines = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t k = 0; k < n; k++)
            lines += buf[k] == '\n';
    if (n < 0)
        die("read", path);
    close(fd);
    return lines;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: writer STEPS SLEEP_MS\n");
        return 1;
    }
    int steps = atoi(argv[1]);
    long sleep_ms = atol(argv[2]);
    if (mkdir("/out", 0755) && errno != EEXIST)
        die("mkdir", "/out");

    char path[NFILES][32];
    int count[NFILES], done = 0;
    for (int k = 0; k < NFILES; k++) {
        snprintf(path[k], sizeof path[k], "/out/f%d.txt", k);
        count[k] = count_records(path[k]);
        done += count[k];
    }
    /* Steps 0..done-1 wrote round robin: file k holds those with i % 3 == k. */
    for (int k = 0; k < NFILES; k++)
        if (count[k] != (done - k + NFILES - 1) / NFILES) {
            fprintf(stderr, "writer: /out holds %d, %d, %d records: not a tree this "
                    "program leaves\n", count[0], count[1], count[2]);
            return 3;
        }
    if (done > 0)
        fprintf(stderr, "writer: resuming at step %d\n", done);

    int fd[NFILES];
    for (int k = 0; k < NFILES; k++) {
        fd[k] = open(path[k], O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd[k] < 0)
            die("open", path[k]);
    }
    char line[128], rec[1024];
    for (int i = done; i < steps; i++) {
        size_t rn = record(i, rec, sizeof rec);
        int n = snprintf(line, sizeof line, "step %d: %zu bytes to f%d.txt\n", i, rn,
                         i % NFILES);
        put(1, line, (size_t)n, "stdout");
        put(fd[i % NFILES], rec, rn, path[i % NFILES]);
        struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (int k = 0; k < NFILES; k++)
        if (close(fd[k]))
            die("close", path[k]);

    int sfd = open("/out/summary.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (sfd < 0)
        die("open", "/out/summary.tmp");
    int n = snprintf(rec, sizeof rec, "steps %d\nfiles %d\n", steps, NFILES);
    put(sfd, rec, (size_t)n, "/out/summary.tmp");
    if (close(sfd))
        die("close", "/out/summary.tmp");
    if (rename("/out/summary.tmp", "/out/summary.txt"))
        die("rename", "/out/summary.txt");
    n = snprintf(line, sizeof line, "done: %d steps\n", steps);
    put(1, line, (size_t)n, "stdout");
    return 0;
}
