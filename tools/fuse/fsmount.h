/*
 * fsmount.h — what the two files of the FUSE front end share: mount.c (the
 * `chronofs mount` command: arguments, journal, daemon, session) and ops.c
 * (the FUSE low-level operations over the engine).
 */
#ifndef CFS_FUSE_FSMOUNT_H
#define CFS_FUSE_FSMOUNT_H

#define FUSE_USE_VERSION 314

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cfs_engine.h"
#include "cfs_journal.h"

/* An inode the front end holds something for: FUSE open handles, and an
 * engine fd (opened by inode) while it is needed. */
struct held {
    struct held *hnext;              /* chain in mnt.held */
    struct held *lru_prev, *lru_next; /* idle list: fd open, no handle */
    cfs_ino ino;                     /* engine inode */
    int64_t fd;                      /* engine fd, -1 if none */
    uint32_t opens;                  /* FUSE handles open on it */
    bool idle;
};

struct mnt {
    cfs_fs *fs;
    cfs_journal *j;  /* NULL when read-only */
    bool read_only;
    double timeout;  /* kernel entry/attr cache, seconds */
    /* The engine and journal are single-threaded: every FUSE op and the
     * tick thread hold this while they use them. */
    pthread_mutex_t mu;
    struct held **held;
    size_t held_cap, held_count;
    struct held *lru_head, *lru_tail; /* oldest first */
    size_t idle_count;
    void *rbuf;       /* read buffer, max_read bytes */
    size_t rbuf_cap;
};

/* The operations table, with `struct mnt` as userdata. */
extern const struct fuse_lowlevel_ops cfs_fuse_ops;

/* Set up / release what ops.c keeps in m (held table, buffers). 0 or -1
 * (out of memory). */
int cfs_fuse_state_init(struct mnt *m);
/* Close every engine fd the front end holds (before the journal closes),
 * free the table. */
void cfs_fuse_state_release(struct mnt *m);

/* libfuse's fuse_session_loop, and while requests arrive, idle CPUs
 * poll until spin_ns pass without one (0: never; loop.c says why). 0
 * once unmounted, or a negative errno. */
int cfs_fuse_loop(struct fuse_session *se, uint64_t spin_ns);

/* The mount's --spin-us when none is given: 50 on a virtual machine
 * whose idle CPUs halt at once (no idle driver, or haltpoll with
 * guest_halt_poll_ns 0), else 0 (loop.c says why). */
uint64_t cfs_fuse_default_spin_us(void);

/* The CPU quota of this process's cgroups, in CPUs (the smallest along
 * each hierarchy, v1's cpu controller or v2's cpu.max), or 0 when none
 * limits it. */
double cfs_fuse_cpu_quota(void);

#endif
