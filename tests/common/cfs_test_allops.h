/*
 * cfs_test_allops.h — a seeded random engine workload that reaches every
 * op, for suites and tools that need every shape of event (the codec round
 * trip, the fuzz corpus generator) rather than a check of each call.
 * (cfs_workload.h is the smaller mix the store's suites use.)
 *
 * Every call of the API that emits an event is in the mix, so every op
 * appears: open/create/truncate, read, seek, write/pwrite (stdout too),
 * set_size, allocate, set_times, mkdir, rmdir, unlink, rename, link,
 * symlink, mknod, chmod, chown, dup, renumber, set flags/rights/cloexec,
 * close, close-on-exec sweep, close-all and exit in forked processes, fork,
 * preopen, chdir, creds changes. Calls fail often (that is fine: a failed
 * call emits nothing). The clock it installs moves by random steps and
 * sometimes stands still, so event times repeat, jump and stay put.
 */
#ifndef CFS_TEST_ALLOPS_H
#define CFS_TEST_ALLOPS_H

#include <stddef.h>
#include <stdint.h>

#include "cfs_engine.h"
#include "cfs_test_util.h"

#define CFS_ALLOPS_PROCS 4

typedef struct cfs_allops {
    cfs_rng rng;
    cfs_fs *fs;                          /* the root engine */
    cfs_fs *procs[CFS_ALLOPS_PROCS];   /* procs[0] == fs; forked handles */
    cfs_time clock;
    size_t max_write;                    /* largest write, bytes */
    uint8_t *buf;
} cfs_allops;

/*
 * Make an engine whose sink is `sink` (may be NULL) and whose clock is the
 * workload's, seeded with `seed`; writes are at most max_write bytes
 * (0: 8192). Returns 0, or -1 if memory runs out.
 */
int cfs_allops_init(cfs_allops *w, uint64_t seed, const cfs_sink *sink,
                      size_t max_write);

/* Make one random call; returns its errno (usually ignored). */
cfs_errno cfs_allops_step(cfs_allops *w);

/* Free the forked handles and the engine. */
void cfs_allops_free(cfs_allops *w);

#endif /* CFS_TEST_ALLOPS_H */
