/*
 * stream_history.h — the fixed journal history that fuzz_stream's
 * receiving journal holds and that make_corpus's stream seeds continue,
 * so that the seeds reach past the header: an incremental seed is from a
 * snapshot the fuzzer's journal really has, a full one carries the same
 * history, a stream from seq 1 repeats its events.
 *
 * Deterministic: a seeded workload (tests/common/cfs_workload.c) on an
 * engine whose clock starts at 0, so every process builds the same events
 * and the same state hashes.
 */
#ifndef CFS_STREAM_HISTORY_H
#define CFS_STREAM_HISTORY_H

#include "cfs_journal.h"

#define CFS_STREAM_HISTORY_SEED 20240601u
#define CFS_STREAM_HISTORY_EVENTS 120
#define CFS_STREAM_HISTORY_MAX_WRITE 600

/*
 * Run the history into `j` (a writer, empty): CFS_STREAM_HISTORY_EVENTS
 * events, then, with `snapshot`, a snapshot labelled "history" at the last
 * one; everything committed. *fs_out (if not NULL) gets the engine, its
 * sink still j and its clock `*clock` (which must outlive it); else it is
 * freed. Returns 0 or a CFS_JE_* code (the message in j).
 */
int cfs_stream_history(cfs_journal *j, int snapshot, cfs_time *clock, cfs_fs **fs_out);

/* Remove a directory tree (a temp journal); 0 or -1. */
int cfs_stream_rmtree(const char *dir);

#endif
