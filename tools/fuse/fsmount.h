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
    struct fuse_session *se; /* for notifications to the kernel */
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
    struct cfs_ring *ring; /* FUSE over io_uring (uring.c), or NULL */
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

/* Polling (loop.c says why): one thread per CPU, at idle priority, spins
 * until spin_ns pass without a request. NULL when there is nothing to
 * poll for (spin_ns 0, a single CPU). */
struct cfs_poller *cfs_fuse_poller_start(uint64_t spin_ns);
/* A request came in (any thread; NULL is fine). */
void cfs_fuse_poller_note(struct cfs_poller *p);
void cfs_fuse_poller_stop(struct cfs_poller *p);

/* libfuse's fuse_session_loop, noting requests to p; while p polls, this
 * thread also reads /dev/fuse without blocking until p's spin time passes
 * without a request. 0 once unmounted, or a negative errno. */
int cfs_fuse_loop(struct fuse_session *se, struct cfs_poller *p);

/* The mount's --spin-us when none is given: 50 on a virtual machine
 * whose idle CPUs halt at once (no idle driver, or haltpoll with
 * guest_halt_poll_ns 0), else 0 (loop.c says why). */
uint64_t cfs_fuse_default_spin_us(void);

/* The CPU quota of this process's cgroups, in CPUs (the smallest along
 * each hierarchy, v1's cpu controller or v2's cpu.max), or 0 when none
 * limits it. */
double cfs_fuse_cpu_quota(void);

/* FUSE over io_uring (uring.c). Whether the kernel allows it
 * (CFS_FUSE_URING_KNOB is Y). */
/* The device (major:minor) of the newest FUSE mount on directory mnt, from
 * /proc/self/mountinfo: no request to the mount (which may be this very
 * process, not serving yet). false if there is none. */
bool cfs_fuse_mount_dev(const char *mnt, unsigned *maj, unsigned *min);

/* A daemon's messages, by default (mount.c --log) */
#define CFS_MOUNT_LOG "mount.log"
#define CFS_FUSE_URING_KNOB "/sys/module/fuse/parameters/enable_uring"
bool cfs_fuse_ring_possible(void);
/* Turn the kernel's switch on: 0, or an errno (ENOENT: no such switch in
 * this kernel; EACCES/EPERM: not root). */
int cfs_fuse_ring_enable(void);
/* After fuse_session_mount (at mount point mnt, a real path), before the
 * loop: one thread and io_uring per CPU, and libfuse's I/O hooked so that
 * INIT's reply turns FUSE over io_uring on (and the mount's readahead up)
 * when the kernel offers it. NULL if they cannot be set up (requests then
 * use /dev/fuse only). */
struct cfs_ring *cfs_fuse_ring_start(struct fuse_session *se, struct mnt *m,
                                     struct cfs_poller *poller, const char *mnt);
/* After the loop: stop and join the threads (no request is answered
 * after it returns), free them; NULL is fine. m->ring may be cleared
 * after. */
void cfs_fuse_ring_stop(struct cfs_ring *r);
/* Where a reply of `size` bytes to the request this thread is answering
 * through a ring can be built in place (its entry's payload buffer), or
 * NULL (not a ring request, or too big). */
void *cfs_fuse_ring_reply_buf(size_t size);
/* Requests answered through the rings so far. */
uint64_t cfs_fuse_ring_served(struct cfs_ring *r);

#endif
