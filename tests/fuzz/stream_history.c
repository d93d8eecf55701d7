/*
 * stream_history.c — see stream_history.h.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>

#include "cfs_test_util.h"
#include "cfs_workload.h"
#include "stream_history.h"

int cfs_stream_history(cfs_journal *j, int snapshot, cfs_time *clock, cfs_fs **fs_out)
{
    *clock = 0;
    cfs_config cfg = {.clock = cfs_workload_clock, .clock_ctx = clock,
                      .sink = cfs_journal_sink(j)};
    cfs_fs *fs = cfs_fs_new(&cfg);
    if (!fs)
        return CFS_JE_NOMEM;
    cfs_rng r;
    cfs_rng_seed(&r, CFS_STREAM_HISTORY_SEED);
    cfs_workload_run(fs, &r, CFS_STREAM_HISTORY_EVENTS, CFS_STREAM_HISTORY_MAX_WRITE);
    int rc = snapshot ? cfs_journal_snapshot(j, fs, "history", "explicit", *clock, NULL)
                      : cfs_journal_sync(j);
    if (rc || !fs_out)
        cfs_fs_free(fs);
    else
        *fs_out = fs;
    return rc;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int cfs_stream_rmtree(const char *dir)
{
    return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
