/*
 * cfs_workload.c — see cfs_workload.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs_workload.h"

static const char *const names[] = {"a", "b", "c", "d/a", "d/b", "d/e/a", "d/e/f"};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

static const char *pick(cfs_rng *r)
{
    return names[cfs_rng_below(r, N_NAMES)];
}

/* An open fd of this process other than stdio and the root, or 3. */
static cfs_fd pick_fd(cfs_fs *fs, cfs_rng *r)
{
    for (int tries = 0; tries < 8; tries++) {
        cfs_fd fd = 4 + (cfs_fd)cfs_rng_below(r, 12);
        cfs_fdstat st;
        if (cfs_fd_fdstat_get(fs, fd, &st) == 0)
            return fd;
    }
    return CFS_ROOT_FD;
}

cfs_time cfs_workload_clock(void *ctx)
{
    cfs_time *t = ctx;
    *t += 1000;
    return *t;
}

cfs_errno cfs_workload_step(cfs_fs *fs, cfs_rng *r, size_t max_write)
{
    static uint8_t buf[1 << 17];
    const cfs_rights rw = CFS_RIGHTS_ALL & ~(cfs_rights)0;
    cfs_fd fd;
    size_t n;
    uint64_t off;
    switch (cfs_rng_below(r, 20)) {
    case 0:
        cfs_path_create_directory(fs, CFS_ROOT_FD, "d");
        return cfs_path_create_directory(fs, CFS_ROOT_FD, "d/e");
    case 1:
    case 2:
        return cfs_path_open(fs, CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, pick(r),
                             (uint16_t)(CFS_O_CREAT | (cfs_rng_chance(r, 10) ? CFS_O_TRUNC : 0)),
                             rw, rw, cfs_rng_chance(r, 20) ? CFS_FDFLAG_APPEND : 0, &fd);
    case 3:
    case 4:
    case 5: {
        size_t len = max_write ? (size_t)cfs_rng_below(r, max_write) + 1 : 1;
        if (len > sizeof(buf))
            len = sizeof(buf);
        /* text-like bytes: compressible, not constant */
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)("etaoin shrdlu\n"[cfs_rng_below(r, 14)]);
        fd = pick_fd(fs, r);
        if (cfs_rng_chance(r, 30))
            return cfs_fd_pwrite(fs, fd, buf, len, cfs_rng_below(r, 1 << 20), &n);
        return cfs_fd_write(fs, fd, buf, len, &n);
    }
    case 6:
        return cfs_fd_read(fs, pick_fd(fs, r), buf, (size_t)cfs_rng_below(r, 4096), &n);
    case 7:
        return cfs_fd_seek(fs, pick_fd(fs, r), (int64_t)cfs_rng_below(r, 100000),
                           CFS_WHENCE_SET, &off);
    case 8:
        fd = pick_fd(fs, r);
        /* keep the root preopen: every path call goes through it */
        return fd > CFS_ROOT_FD ? cfs_fd_close(fs, fd) : 0;
    case 9:
        return cfs_path_rename(fs, CFS_ROOT_FD, pick(r), CFS_ROOT_FD, pick(r));
    case 10:
        return cfs_path_unlink_file(fs, CFS_ROOT_FD, pick(r));
    case 11:
        return cfs_path_link(fs, CFS_ROOT_FD, 0, pick(r), CFS_ROOT_FD, pick(r));
    case 12:
        return cfs_path_symlink(fs, pick(r), CFS_ROOT_FD, pick(r));
    case 13:
        return cfs_fd_filestat_set_size(fs, pick_fd(fs, r), cfs_rng_below(r, 300000));
    case 14:
        return cfs_path_chmod(fs, CFS_ROOT_FD, 0, pick(r), (uint32_t)cfs_rng_below(r, 01000));
    case 15:
        return cfs_fd_dup(fs, pick_fd(fs, r), 0, (int)cfs_rng_below(r, 3) - 1, &fd);
    case 16:
        return cfs_path_filestat_set_times(fs, CFS_ROOT_FD, 0, pick(r), 5, 7,
                                           CFS_FST_ATIM | CFS_FST_MTIM_NOW);
    case 17:
        return cfs_path_remove_directory(fs, CFS_ROOT_FD, cfs_rng_chance(r, 50) ? "d/e" : "d");
    case 18:
        return cfs_fd_allocate(fs, pick_fd(fs, r), cfs_rng_below(r, 70000),
                               cfs_rng_below(r, 70000) + 1);
    default: {
        size_t len = (size_t)cfs_rng_below(r, 64) + 1;
        memset(buf, 'o', len);
        return cfs_fd_write(fs, 1, buf, len, &n); /* stdout */
    }
    }
}

void cfs_workload_run(cfs_fs *fs, cfs_rng *r, uint64_t events, size_t max_write)
{
    uint64_t target = cfs_fs_seq(fs) + events;
    for (uint64_t calls = 0; cfs_fs_seq(fs) < target && calls < 100 * events; calls++)
        cfs_workload_step(fs, r, max_write);
}
