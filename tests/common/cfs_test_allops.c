/*
 * cfs_test_allops.c — see cfs_test_allops.h.
 */
#define _GNU_SOURCE
#include "cfs_test_allops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const paths[] = {
    "a", "b", "c.txt", "d", "d/e", "d/f.txt", "d/g", "d/g/h", "x", "x/y",
    "ln", "d/ln2", "/a", "/d/e", "./b", "d/../c.txt", "d/g/../e", "",
};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

static const char *const dirs[] = { "/", "/d", "/d/g", "/x" };

static cfs_time allops_clock(void *ctx)
{
    cfs_allops *w = ctx;
    /* mostly small steps, sometimes none (the time field is then absent
     * from the record), sometimes a large jump, rarely backwards */
    uint64_t r = cfs_rng_below(&w->rng, 100);
    if (r < 20)
        return w->clock;
    if (r < 90)
        w->clock += 1 + cfs_rng_below(&w->rng, 5000);
    else if (r < 98)
        w->clock += cfs_rng_next(&w->rng) >> 20;
    else if (w->clock > 1000000)
        w->clock -= cfs_rng_below(&w->rng, 1000000);
    return w->clock;
}

int cfs_allops_init(cfs_allops *w, uint64_t seed, const cfs_sink *sink,
                      size_t max_write)
{
    memset(w, 0, sizeof(*w));
    cfs_rng_seed(&w->rng, seed);
    w->clock = UINT64_C(1700000000) * 1000000000u;
    w->max_write = max_write ? max_write : 8192;
    w->buf = malloc(w->max_write);
    cfs_config cfg = {0};
    cfg.clock = allops_clock;
    cfg.clock_ctx = w;
    if (sink)
        cfg.sink = *sink;
    w->fs = cfs_fs_new(&cfg);
    if (!w->buf || !w->fs) {
        cfs_allops_free(w);
        return -1;
    }
    w->procs[0] = w->fs;
    return 0;
}

void cfs_allops_free(cfs_allops *w)
{
    for (int i = CFS_ALLOPS_PROCS - 1; i >= 1; i--)
        cfs_fs_free(w->procs[i]);
    cfs_fs_free(w->fs);
    free(w->buf);
    memset(w, 0, sizeof(*w));
}

static const char *rpath(cfs_allops *w)
{
    return paths[cfs_rng_below(&w->rng, NPATHS)];
}

/* Any fd from 0 up to a few past the usual range (some are not open). */
static cfs_fd rfd(cfs_allops *w)
{
    return (cfs_fd)cfs_rng_below(&w->rng, 14);
}

/* An fd that may be closed or replaced without losing the root preopen or
 * stdio of the process (or the process is a forked one: anything goes). */
static cfs_fd rfd_victim(cfs_allops *w, int pi)
{
    return pi ? rfd(w) : (cfs_fd)(4 + cfs_rng_below(&w->rng, 10));
}

static cfs_fd rdirfd(cfs_allops *w)
{
    return cfs_rng_chance(&w->rng, 85) ? CFS_ROOT_FD : rfd(w);
}

cfs_errno cfs_allops_step(cfs_allops *w)
{
    int pi;
    do
        pi = (int)cfs_rng_below(&w->rng, CFS_ALLOPS_PROCS);
    while (!w->procs[pi]);
    cfs_fs *fs = w->procs[pi];
    cfs_rng *r = &w->rng;
    size_t n;
    uint64_t off;
    cfs_fd fd;

    switch (cfs_rng_below(r, 32)) {
    case 0: case 1: case 2: {
        uint16_t of = (uint16_t)cfs_rng_below(r, 16);
        uint16_t ff = (uint16_t)cfs_rng_below(r, 32);
        cfs_rights rb = cfs_rng_chance(r, 80) ? CFS_RIGHTS_ALL
                                              : cfs_rng_next(r) & CFS_RIGHTS_ALL;
        if (cfs_rng_chance(r, 30))
            rb &= ~(CFS_RIGHT_FD_WRITE); /* lets directories open */
        return cfs_path_open(fs, rdirfd(w), (uint32_t)cfs_rng_below(r, 2),
                             rpath(w), of, rb, CFS_RIGHTS_ALL, ff, &fd);
    }
    case 3:
        return cfs_fd_close(fs, rfd_victim(w, pi));
    case 4: {
        n = (size_t)cfs_rng_below(r, w->max_write + 1);
        return cfs_fd_read(fs, rfd(w), w->buf, n, &n);
    }
    case 5: {
        int64_t o = (int64_t)cfs_rng_below(r, 20000) - 5000;
        return cfs_fd_seek(fs, rfd(w), o, (uint8_t)cfs_rng_below(r, 3), &off);
    }
    case 6: case 7: case 8:
        n = (size_t)cfs_rng_below(r, w->max_write + 1);
        cfs_rng_bytes(r, w->buf, n);
        if (cfs_rng_chance(r, 50)) /* text-like: compressible */
            for (size_t i = 0; i < n; i++)
                w->buf[i] = (uint8_t)('a' + w->buf[i] % 8);
        if (cfs_rng_chance(r, 50))
            return cfs_fd_write(fs, rfd(w), w->buf, n, &n);
        return cfs_fd_pwrite(fs, rfd(w), w->buf, n, cfs_rng_below(r, 100000), &n);
    case 9:
        return cfs_fd_filestat_set_size(fs, rfd(w), cfs_rng_below(r, 200000));
    case 10:
        return cfs_fd_allocate(fs, rfd(w), cfs_rng_below(r, 100000),
                               1 + cfs_rng_below(r, 100000));
    case 11:
        if (cfs_rng_chance(r, 50))
            return cfs_fd_filestat_set_times(fs, rfd(w), cfs_rng_next(r) >> 1,
                                             cfs_rng_next(r) >> 1,
                                             (uint16_t)cfs_rng_below(r, 16));
        return cfs_path_filestat_set_times(fs, rdirfd(w), 1, rpath(w),
                                           cfs_rng_next(r) >> 1, 0,
                                           (uint16_t)cfs_rng_below(r, 16));
    case 12: case 13:
        return cfs_path_create_directory(fs, rdirfd(w), rpath(w));
    case 14:
        return cfs_path_remove_directory(fs, rdirfd(w), rpath(w));
    case 15:
        return cfs_path_unlink_file(fs, rdirfd(w), rpath(w));
    case 16:
        return cfs_path_rename(fs, rdirfd(w), rpath(w), rdirfd(w), rpath(w));
    case 17:
        return cfs_path_link(fs, rdirfd(w), (uint32_t)cfs_rng_below(r, 2),
                             rpath(w), rdirfd(w), rpath(w));
    case 18:
        return cfs_path_symlink(fs, rpath(w), rdirfd(w), rpath(w));
    case 19:
        return cfs_path_mknod(fs, rdirfd(w), rpath(w),
                              (uint32_t)cfs_rng_below(r, 01000));
    case 20:
        return cfs_path_chmod(fs, rdirfd(w), 1, rpath(w),
                              (uint32_t)cfs_rng_below(r, 010000));
    case 21:
        return cfs_path_chown(fs, rdirfd(w), 1, rpath(w),
                              cfs_rng_chance(r, 20) ? UINT32_MAX
                                                    : (uint32_t)cfs_rng_below(r, 2000),
                              cfs_rng_chance(r, 20) ? UINT32_MAX
                                                    : (uint32_t)cfs_rng_below(r, 2000));
    case 22:
        if (cfs_rng_chance(r, 50))
            return cfs_fd_dup(fs, rfd(w), (cfs_fd)cfs_rng_below(r, 12),
                              (int)cfs_rng_below(r, 3) - 1, &fd);
        return cfs_fd_dup_at(fs, rfd(w), rfd_victim(w, pi),
                             (int)cfs_rng_below(r, 3) - 1);
    case 23:
        return cfs_fd_renumber(fs, rfd_victim(w, pi), rfd_victim(w, pi));
    case 24:
        return cfs_fd_fdstat_set_flags(fs, rfd(w), (uint16_t)cfs_rng_below(r, 32));
    case 25: {
        cfs_fdstat st;
        fd = rfd_victim(w, pi); /* not the root preopen's rights */
        cfs_errno e = cfs_fd_fdstat_get(fs, fd, &st);
        if (e)
            return e;
        return cfs_fd_fdstat_set_rights(fs, fd, st.rights_base & cfs_rng_next(r),
                                        st.rights_inheriting & cfs_rng_next(r));
    }
    case 26:
        return cfs_fd_set_cloexec(fs, rfd(w), (int)cfs_rng_below(r, 2));
    case 27:
        if (cfs_rng_chance(r, 30))
            return cfs_fs_close_cloexec(fs);
        if (pi && cfs_rng_chance(r, 30))
            return cfs_fs_close_all(fs);
        return cfs_fd_write(fs, (cfs_fd)(1 + cfs_rng_below(r, 2)), "hello\n", 6, &n);
    case 28: {
        int slot = -1;
        for (int i = 1; i < CFS_ALLOPS_PROCS; i++)
            if (!w->procs[i])
                slot = i;
        if (slot < 0) {
            /* full: end a forked process instead */
            if (!pi)
                return 0;
            cfs_errno e = cfs_fs_exit(fs);
            if (!e) {
                cfs_fs_free(fs);
                w->procs[pi] = NULL;
            }
            return e;
        }
        cfs_fs *child = NULL;
        cfs_errno e = cfs_fs_fork(fs, &child);
        if (!e)
            w->procs[slot] = child;
        return e;
    }
    case 29: {
        static const char *const al[] = { NULL, "data", "tmp", "/" };
        const char *g = cfs_rng_chance(r, 50) ? dirs[cfs_rng_below(r, 4)]
                                              : rpath(w);
        return cfs_fs_preopen(fs, g, al[cfs_rng_below(r, 4)],
                              (unsigned)cfs_rng_below(r, 8), &fd);
    }
    case 30:
        return cfs_fs_chdir(fs, cfs_rng_chance(r, 50) ? dirs[cfs_rng_below(r, 4)]
                                                      : rpath(w));
    default: {
        if (cfs_rng_chance(r, 10)) { /* a runner's memory limit, now and then */
            static const uint64_t budgets[] = {0, (uint64_t)1 << 20, (uint64_t)64 << 20};
            return cfs_fs_set_budget(fs, budgets[cfs_rng_below(r, 3)]);
        }
        uint32_t id = (uint32_t)cfs_rng_below(r, 3) * 1000;
        cfs_fs_set_creds(fs, id, id + 1, (uint32_t)cfs_rng_below(r, 01000),
                         (uint32_t)cfs_rng_below(r, 01000));
        return 0;
    }
    }
}
