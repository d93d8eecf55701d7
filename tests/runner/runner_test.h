/*
 * runner_test.h — what the runner suites share: parsing a command line
 * given as words, host trees, journals with content, reading the engine.
 * Helpers assert with Criterion, so a broken fixture fails the test.
 */
#ifndef CFS_RUNNER_TEST_H
#define CFS_RUNNER_TEST_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfs_runner.h"
#include "cfs_test_util.h"

#define UNUSED __attribute__((unused))

/* Parse "run" + the words (NULL-terminated); returns the parse's result. */
static UNUSED int parse_words(cfs_run_opts *o, char *err, size_t cap, ...)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"run";
    va_list ap;
    va_start(ap, cap);
    for (const char *w; (w = va_arg(ap, const char *));)
        argv[argc++] = (char *)w;
    va_end(ap);
    argv[argc] = NULL;
    return cfs_run_opts_parse(argc, argv, o, err, cap);
}

/* Parse words that must be valid. */
#define PARSE_OK(o, ...)                                                       \
    do {                                                                       \
        char perr_[512];                                                       \
        int prc_ = parse_words((o), perr_, sizeof perr_, __VA_ARGS__, NULL);   \
        cr_assert_eq(prc_, 0, "parse: %s", perr_);                             \
    } while (0)

/* A host file with `content` (parents must exist). */
static UNUSED void host_write(const char *dir, const char *rel, const char *content)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    cr_assert(f, "fopen %s", p);
    fputs(content, f);
    fclose(f);
}

static UNUSED void host_mkdir(const char *dir, const char *rel)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s", p);
}

static UNUSED char *path_join(const char *a, const char *b)
{
    char *p = malloc(strlen(a) + strlen(b) + 2);
    sprintf(p, "%s/%s", a, b);
    return p;
}

/* ---- the engine ---------------------------------------------------------- */

/* Write `content` to guest path `path` (created or truncated). Returns the
 * engine's errno. */
static UNUSED cfs_errno guest_write(cfs_fs *fs, const char *path, const void *data, size_t len)
{
    cfs_fd fd;
    cfs_errno e = cfs_path_open(fs, CFS_ROOT_FD, 0, path, CFS_O_CREAT | CFS_O_TRUNC,
                                CFS_RIGHT_FD_WRITE | CFS_RIGHT_FD_SEEK, 0, 0, &fd);
    if (e)
        return e;
    size_t n = 0;
    e = len ? cfs_fd_write(fs, fd, data, len, &n) : 0;
    cfs_fd_close(fs, fd);
    return e;
}

static UNUSED void guest_put(cfs_fs *fs, const char *path, const char *s)
{
    cfs_errno e = guest_write(fs, path, s, strlen(s));
    cr_assert_eq(e, 0, "write %s: %s", path, cfs_errno_name(e));
}

/* The content of a guest file as a string (malloc'd), or NULL if the path
 * does not name a regular file. */
static UNUSED char *guest_read(cfs_fs *fs, const char *path)
{
    cfs_filestat st;
    if (cfs_lookup_path(fs, CFS_INO_ROOT, path, CFS_LOOKUP_SYMLINK_FOLLOW, &st) ||
        st.filetype != CFS_FILETYPE_REGULAR_FILE)
        return NULL;
    char *buf = calloc(1, st.size + 1);
    size_t got = 0;
    cr_assert_eq(cfs_file_pread_ino(fs, st.ino, buf, st.size, 0, &got), 0);
    cr_assert_eq(got, st.size);
    return buf;
}

/* Does `path` exist (not following a last symlink)? Its stat in *out. */
static UNUSED int guest_exists(cfs_fs *fs, const char *path, cfs_filestat *out)
{
    cfs_filestat st;
    int ok = cfs_lookup_path(fs, CFS_INO_ROOT, path, 0, &st) == 0;
    if (ok && out)
        *out = st;
    return ok;
}

#define ASSERT_FILE(fs, path, want)                                            \
    do {                                                                       \
        char *got_ = guest_read((fs), (path));                                 \
        cr_assert(got_, "%s: no such file in the guest", (path));              \
        cr_assert_str_eq(got_, (want), "%s", (path));                          \
        free(got_);                                                            \
    } while (0)

/* ---- journals -------------------------------------------------------------- */

static UNUSED cfs_time test_clock(void *ctx)
{
    uint64_t *t = ctx;
    return (*t += 1000);
}

/* A writer on `dir` (created) and an engine journaling into it. */
typedef struct tjournal {
    cfs_journal *j;
    cfs_fs *fs;
    uint64_t clock;
} tjournal;

static UNUSED void tj_open(tjournal *t, const char *dir)
{
    cfs_journal_opts jo;
    cfs_journal_opts_default(&jo);
    jo.create = 1;
    jo.durability = CFS_DURABILITY_NONE;
    char err[512] = "";
    int rc = cfs_journal_open(dir, &jo, &t->j, err, sizeof err);
    cr_assert_eq(rc, 0, "open %s: %s", dir, err);
    t->clock = 1700000000ull * 1000000000ull;
    cfs_config cfg = {.clock = test_clock, .clock_ctx = &t->clock,
                      .sink = cfs_journal_sink(t->j)};
    rc = cfs_journal_open_at(t->j, 0, &cfg, &t->fs);
    cr_assert_eq(rc, 0, "open_at %s: %s", dir, cfs_journal_errmsg(t->j));
}

static UNUSED void tj_snapshot(tjournal *t, const char *label)
{
    int rc = cfs_journal_snapshot(t->j, t->fs, label, "explicit", 1, NULL);
    cr_assert_eq(rc, 0, "snapshot %s: %s", label, cfs_journal_errmsg(t->j));
}

static UNUSED void tj_close(tjournal *t)
{
    cr_assert_eq(cfs_journal_close(t->j), 0);
    cfs_fs_free(t->fs);
    t->j = NULL;
    t->fs = NULL;
}

/* A read-only handle on `dir`. */
static UNUSED cfs_journal *ro_open(const char *dir)
{
    cfs_journal_opts jo;
    cfs_journal_opts_default(&jo);
    jo.read_only = 1;
    cfs_journal *j = NULL;
    char err[512] = "";
    cr_assert_eq(cfs_journal_open(dir, &jo, &j, err, sizeof err), 0, "open %s: %s", dir, err);
    return j;
}

struct snap_list {
    size_t n;
    cfs_snapshot_info s[32];
};

static UNUSED int snap_collect(void *ctx, const cfs_snapshot_info *s)
{
    struct snap_list *l = ctx;
    if (l->n < 32)
        l->s[l->n++] = *s;
    return 0;
}

/* The snapshots of journal `dir` (opened read-only for this). */
static UNUSED struct snap_list snapshots_of(const char *dir)
{
    struct snap_list l;
    memset(&l, 0, sizeof l);
    cfs_journal *j = ro_open(dir);
    cr_assert_geq(cfs_journal_snapshots(j, snap_collect, &l), 0);
    cfs_journal_close(j);
    return l;
}

/* How many snapshots of `l` have trigger `trig`; the last one's seq. */
static UNUSED size_t count_trigger(const struct snap_list *l, const char *trig, uint64_t *seq)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->s[i].trigger, trig)) {
            n++;
            if (seq)
                *seq = l->s[i].seq;
        }
    return n;
}

#endif /* CFS_RUNNER_TEST_H */
