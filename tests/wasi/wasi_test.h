/*
 * wasi_test.h — helpers shared by the WASI host suites: an engine whose
 * sink records every event, a run with the guest's stdout/stderr captured
 * in temp files, file reading.
 */
#ifndef CFS_WASI_TEST_H
#define CFS_WASI_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "cfs_engine.h"
#include "cfs_journal.h"
#include "cfs_wasi.h"

/* An event as the recording sink kept it (op, ino, fd and write data). */
typedef struct wt_event {
    uint16_t op;
    cfs_ino ino;
    uint32_t fd;
    uint8_t *data;
    size_t len;
} wt_event;

typedef struct wt_sink {
    wt_event *ev;
    size_t n, cap;
} wt_sink;

/* An engine with a fixed clock and a sink recording into rec (may be NULL). */
cfs_fs *wt_fs_new(wt_sink *rec);
void wt_sink_free(wt_sink *rec);

typedef struct wt_run {
    cfs_wasi_result res;
    int rc;               /* cfs_wasi_run's return */
    char err[512];
    char *out, *errout;   /* captured stdout / stderr, NUL-terminated */
    size_t out_len, err_len;
} wt_run;

/* Run guest object `so` on fs with argv (NULL-terminated, argv[0] first),
 * env (NULL-terminated or NULL), stdin from `input` (may be NULL). */
void wt_run_guest(const char *so, cfs_fs *fs, const char *const *argv,
                  const char *const *env, int journal_stdio, const char *input,
                  wt_run *out);
void wt_run_free(wt_run *r);

/* A whole file, NUL-terminated (malloc'd), or NULL. */
char *wt_read_file(const char *path, size_t *len);

/* An engine whose sink is a journal in a fresh temp dir. */
typedef struct wt_jfs {
    char dir[64];
    cfs_journal *j;
    cfs_fs *fs;
} wt_jfs;
void wt_jfs_open(wt_jfs *x);
/* Commit, verify the journal, replay it into a fresh engine and assert the
 * replayed state's hash and seq equal the live one's; then free the
 * engine, close the journal and remove its directory. */
void wt_jfs_check_and_close(wt_jfs *x);

#endif
