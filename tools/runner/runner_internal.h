/*
 * runner_internal.h — what the runner's files share; not part of its
 * contract (cfs_runner.h is).
 */
#ifndef CFS_RUNNER_INTERNAL_H
#define CFS_RUNNER_INTERNAL_H

#include <stddef.h>

#include "cfs_engine.h"

/* snprintf into err[0..cap) (nothing if err is NULL or cap 0). */
void cfs_run_seterr(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * copy.c: copy the tree under directory inode `src_dir` of engine `src`
 * into `dst` at absolute guest path `dst_path` (a directory there, made
 * if missing), through dst's path calls (events, with dst's sink):
 * directories merge, a file or symlink replaces what is at its name (a
 * directory too), hard links within the tree stay links, and modes,
 * owners, atimes and mtimes are kept (directories' after their entries;
 * dst_path takes src_dir's). src is only read. 0, or the engine's errno
 * with err naming the guest path and the call.
 */
cfs_errno cfs_run_copy_tree(cfs_fs *src, cfs_ino src_dir, cfs_fs *dst,
                            const char *dst_path, char *err, size_t cap);

/* copy.c: remove whatever is at absolute guest path `path` in fs (a whole
 * subtree for a directory; nothing if there is nothing). */
cfs_errno cfs_run_remove_tree(cfs_fs *fs, const char *path, char *err,
                              size_t cap);

/* copy.c: make every directory of absolute `path` that is missing (0755);
 * a component that is not a directory (a file, a symlink) is replaced by
 * one. */
cfs_errno cfs_run_mkdir_p(cfs_fs *fs, const char *path, char *err,
                          size_t cap);

#endif /* CFS_RUNNER_INTERNAL_H */
