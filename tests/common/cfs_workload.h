/*
 * cfs_workload.h — a random guest workload for property tests: each step is
 * one engine call chosen by a seeded PRNG over a small namespace (so names
 * collide and errors are frequent), covering every kind of event.
 */
#ifndef CFS_WORKLOAD_H
#define CFS_WORKLOAD_H

#include <stdint.h>

#include "cfs_engine.h"
#include "cfs_test_util.h"

/* Run one random call on fs. Returns its errno (failures are part of the
 * workload). Writes use sizes up to max_write bytes of data. */
cfs_errno cfs_workload_step(cfs_fs *fs, cfs_rng *r, size_t max_write);

/* Run calls until fs has advanced `events` seqs (or 100x that many calls). */
void cfs_workload_run(cfs_fs *fs, cfs_rng *r, uint64_t events, size_t max_write);

/* A clock for engines under test: each reading is 1 us after the last. */
cfs_time cfs_workload_clock(void *ctx);

#endif
