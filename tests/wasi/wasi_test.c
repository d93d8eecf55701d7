/* wasi_test.c — see wasi_test.h. */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wasi_test.h"

static cfs_time fixed_clock(void *ctx);

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

void wt_jfs_open(wt_jfs *x)
{
    strcpy(x->dir, "/tmp/cfs-wasi-trap-XXXXXX");
    cr_assert(mkdtemp(x->dir));
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = 1;
    char err[256];
    cr_assert_eq(cfs_journal_open(x->dir, &o, &x->j, err, sizeof(err)), 0,
                 "%s", err);
    cfs_config cfg = {.clock = fixed_clock, .sink = cfs_journal_sink(x->j)};
    x->fs = cfs_fs_new(&cfg);
    cr_assert(x->fs);
}

/* Commit, verify, replay into a fresh engine: same hash as the live one. */
void wt_jfs_check_and_close(wt_jfs *x)
{
    cr_assert_eq(cfs_journal_commit(x->j), 0, "%s", cfs_journal_errmsg(x->j));
    cr_assert_eq(cfs_journal_verify(x->j), 0, "%s", cfs_journal_errmsg(x->j));
    cfs_fs *re = cfs_fs_new(NULL);
    cr_assert_eq(cfs_journal_replay(x->j, re, 0), 0, "%s",
                 cfs_journal_errmsg(x->j));
    cfs_hash128 a = cfs_fs_hash(x->fs), b = cfs_fs_hash(re);
    cr_assert(a.lo == b.lo && a.hi == b.hi, "replayed state differs");
    cr_assert_eq(cfs_fs_seq(re), cfs_fs_seq(x->fs));
    cfs_fs_free(re);
    cfs_fs_free(x->fs);
    cfs_journal_close(x->j);
    nftw(x->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}


static cfs_time fixed_clock(void *ctx)
{
    (void)ctx;
    return (cfs_time)1700000000 * 1000000000u;
}

static cfs_errno rec_append(void *ctx, const cfs_event *ev)
{
    wt_sink *r = ctx;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        wt_event *e = realloc(r->ev, cap * sizeof(*e));
        if (!e)
            return CFS_ENOMEM;
        r->ev = e;
        r->cap = cap;
    }
    wt_event *e = &r->ev[r->n++];
    memset(e, 0, sizeof(*e));
    e->op = (uint16_t)ev->op;
    e->ino = ev->ino;
    e->fd = ev->fd;
    if (ev->op == CFS_OP_WRITE && ev->length) {
        e->data = malloc(ev->length);
        memcpy(e->data, ev->data, ev->length);
        e->len = ev->length;
    }
    return 0;
}

cfs_fs *wt_fs_new(wt_sink *rec)
{
    cfs_config cfg = {.clock = fixed_clock};
    if (rec) {
        cfg.sink.append = rec_append;
        cfg.sink.ctx = rec;
    }
    return cfs_fs_new(&cfg);
}

void wt_sink_free(wt_sink *rec)
{
    for (size_t i = 0; i < rec->n; i++)
        free(rec->ev[i].data);
    free(rec->ev);
    memset(rec, 0, sizeof(*rec));
}

char *wt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

static int temp_fd(char *path)
{
    strcpy(path, "/tmp/cfs-wasi-test-XXXXXX");
    int fd = mkstemp(path);
    return fd;
}

void wt_run_guest(const char *so, cfs_fs *fs, const char *const *argv,
                  const char *const *env, int journal_stdio, const char *input,
                  wt_run *out)
{
    memset(out, 0, sizeof(*out));
    char pin[64], pout[64], perr[64];
    int in = temp_fd(pin), o = temp_fd(pout), e = temp_fd(perr);
    if (input && write(in, input, strlen(input)) < 0)
        abort();
    lseek(in, 0, SEEK_SET);
    size_t argc = 0, envc = 0;
    while (argv && argv[argc])
        argc++;
    while (env && env[envc])
        envc++;
    cfs_wasi_config cfg = {
        .fs = fs, .argv = argv, .argc = argc, .envp = env, .envc = envc,
        .journal_stdio = journal_stdio, .in_fd = in, .out_fd = o, .err_fd = e,
    };
    out->rc = cfs_wasi_run(so, &cfg, &out->res, out->err, sizeof(out->err));
    close(in);
    close(o);
    close(e);
    out->out = wt_read_file(pout, &out->out_len);
    out->errout = wt_read_file(perr, &out->err_len);
    unlink(pin);
    unlink(pout);
    unlink(perr);
}

void wt_run_free(wt_run *r)
{
    free(r->out);
    free(r->errout);
    r->out = r->errout = NULL;
}
