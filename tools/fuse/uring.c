/*
 * uring.c — FUSE over io_uring: the kernel hands requests to one ring per
 * CPU instead of queueing them for read(2) on /dev/fuse.
 *
 * With /dev/fuse, a program's request wakes whichever thread of the mount
 * sleeps in read(2), usually on the other CPU, and the reply wakes the
 * program back: two wakeups of a CPU per request, each a trip through the
 * host on a virtual machine whose idle CPUs halt (loop.c). Over io_uring
 * (Linux 6.14+, with /sys/module/fuse/parameters/enable_uring set), the
 * kernel puts a request on the queue of the CPU the program runs on, and
 * each queue here is served by a thread kept on that CPU: the program
 * blocks, its CPU switches to the queue's thread, which answers and
 * sleeps, and the CPU switches back. No CPU goes idle in between.
 *
 * libfuse 3.14 does not know this transport, so the mount keeps libfuse
 * for what it does (parsing requests, the operations, building replies)
 * and moves the bytes itself through libfuse's custom I/O hooks:
 *   - read: /dev/fuse as before (INIT, FORGET and INTERRUPT still come
 *     that way); the hook notes whether INIT offers io_uring;
 *   - writev: the INIT reply gains the FUSE_OVER_IO_URING flag when the
 *     kernel offered it and every queue's ring is set up; a reply to a
 *     request that came through a ring goes into that ring's entry
 *     instead of /dev/fuse; anything else goes to /dev/fuse.
 * A queue's thread sets up its ring before INIT is answered (so a kernel
 * without io_uring, or a ring that cannot be made, simply leaves the flag
 * out) and registers its entries only after it (the kernel refuses them
 * before INIT completes). If registering fails, the kernel falls back to
 * /dev/fuse by itself.
 *
 * A ring entry is a header buffer (the request's fuse_in_header, its
 * per-operation header, and the payload's size) and a payload buffer
 * (names, written data; the reply's arguments on the way back). libfuse
 * wants one contiguous request, so the payload buffer is preceded by
 * HEAD_ROOM bytes of the same mapping: the two headers are copied in
 * front of the payload, which itself is never copied.
 *
 * The pollers (loop.c) still run: the scheduler wakes the program on the
 * ring thread's CPU only when it sees nothing better. A daemonized mount
 * is in a session of its own, so in another scheduler autogroup than the
 * programs, and then the program was woken on the other, idle CPU after
 * nearly every request: 89,000 migrations for 20,000 files created,
 * stat-ed and unlinked, 3.7-4.1 s against 2.0 s with the mount in the
 * program's session. With the idle-priority pollers keeping the other
 * CPU from halting, 1.8-1.9 s either way (/dev/fuse with polling:
 * 2.8-2.9 s).
 *
 * The kernel's ABI for this is in its include/uapi/linux/fuse.h since
 * 6.14; Debian 12's headers predate it, hence the definitions below.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/fuse.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fsmount.h"

/* ---- the kernel's FUSE-over-io_uring ABI ----------------------------------- */

struct ring_ent_in_out {
    uint64_t flags;
    uint64_t commit_id;   /* names the request in COMMIT_AND_FETCH */
    uint32_t payload_sz;  /* bytes used in the payload buffer */
    uint32_t padding;
    uint64_t reserved;
};

struct ring_header {
    char in_out[128];     /* fuse_in_header in, fuse_out_header out */
    char op_in[128];      /* the operation's own header (fuse_write_in...) */
    struct ring_ent_in_out ent;
};

/* In the 80-byte command area of a 128-byte SQE. */
struct ring_cmd {
    uint64_t flags;
    uint64_t commit_id;
    uint16_t qid;
    uint8_t padding[6];
};

enum { RING_REGISTER = 1, RING_COMMIT_AND_FETCH = 2 };

/* FUSE_OVER_IO_URING is bit 41 of INIT's 64-bit flags: bit 9 of flags2,
 * which counts only with FUSE_INIT_EXT in flags. */
#define INIT2_OVER_IO_URING (1u << 9)
#ifndef FUSE_INIT_EXT
#define FUSE_INIT_EXT (1u << 30)
#endif
#ifndef FUSE_MAX_PAGES
#define FUSE_MAX_PAGES (1u << 22)
#endif

_Static_assert(sizeof(struct ring_header) == 288, "fuse_uring_req_header");
_Static_assert(sizeof(struct ring_header) + sizeof(struct fuse_in_header) + 128 <= 4096,
               "the request's headers fit between the ring header and the payload");
_Static_assert(sizeof(struct ring_cmd) <= 80, "fuse_uring_cmd_req");

/* ---- sizes ---------------------------------------------------------------- */

/* A payload buffer holds the biggest request or reply: 1 MiB (op_init's
 * max_write and max_readahead; the kernel asks for max(max_write,
 * max_pages pages, 8 KiB) and refuses a smaller buffer). */
#define PAYLOAD_BYTES ((size_t)1 << 20)
/* In front of the payload, in the same mapping: the ring header at the
 * start, then room for the request's fuse_in_header and per-operation
 * header (at most 40 + 128 bytes, right before the payload). A page, so
 * the payload stays page-aligned. */
#define HEAD_ROOM ((size_t)4096)
/* entries per queue: one is being answered while the next waits */
#define ENTRIES 2

/* ---- one queue: its thread, ring and entries ------------------------------- */

struct ent {
    struct ring_header *hdr; /* at map */
    char *map;            /* HEAD_ROOM + PAYLOAD_BYTES */
    char *payload;        /* map + HEAD_ROOM */
    struct iovec iov[2];  /* what REGISTER hands the kernel */
    uint64_t unique;      /* of the request being answered */
    bool replied;
    bool served;          /* has had a request: registered */
    int refused;          /* commits refused in a row */
};

struct queue {
    struct cfs_ring *r;
    uint16_t qid;
    pthread_t thread;
    bool started;
    int efd;              /* written to stop the thread */
    struct ent ents[ENTRIES];
    /* the io_uring, set up by the thread itself (single issuer) */
    int rfd;
    void *rmap;
    size_t rmap_len;
    void *sqes;
    size_t sqes_len;
    unsigned *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_cqe *cqes;
    unsigned pending;     /* SQEs filled, not yet submitted */
};

struct cfs_ring {
    struct fuse_session *se;
    struct cfs_poller *poller;
    char readahead[PATH_MAX]; /* the mount's read_ahead_kb in sysfs, or "" */
    int fuse_fd;
    uint16_t nq;
    struct queue *q;
    /* INIT, seen by the hooks on the session's thread */
    uint64_t init_unique;
    bool init_seen, offered;
    /* the threads' set-up, then the go-ahead */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int setup_done, setup_failed;
    enum { WAIT, GO, QUIT } go;
    atomic_ullong served; /* requests answered through the rings */
};

/* The entry whose request this thread is answering (a ring thread, inside
 * fuse_session_process_buf). */
static _Thread_local struct ent *answering;

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
    return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned submit, unsigned wait, unsigned flags)
{
    return (int)syscall(__NR_io_uring_enter, fd, submit, wait, flags, NULL, 0);
}

static const unsigned RING_FLAGS =
        IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;

static void ring_unmap(struct queue *q)
{
    if (q->sqes)
        munmap(q->sqes, q->sqes_len);
    if (q->rmap)
        munmap(q->rmap, q->rmap_len);
    if (q->rfd >= 0)
        close(q->rfd);
    q->sqes = q->rmap = NULL;
    q->rfd = -1;
}

/* The calling thread's ring for q: 0, or -errno. */
static int ring_setup(struct queue *q)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = RING_FLAGS;
    q->rfd = sys_setup(2 * ENTRIES + 2, &p);
    if (q->rfd < 0)
        return -errno;
    if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
        ring_unmap(q);
        return -ENOSYS;
    }
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    q->rmap_len = sq_len > cq_len ? sq_len : cq_len;
    q->rmap = mmap(NULL, q->rmap_len, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_POPULATE, q->rfd, IORING_OFF_SQ_RING);
    if (q->rmap == MAP_FAILED) {
        q->rmap = NULL;
        int e = -errno;
        ring_unmap(q);
        return e;
    }
    q->sqes_len = p.sq_entries * 2 * sizeof(struct io_uring_sqe);
    q->sqes = mmap(NULL, q->sqes_len, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_POPULATE, q->rfd, IORING_OFF_SQES);
    if (q->sqes == MAP_FAILED) {
        q->sqes = NULL;
        int e = -errno;
        ring_unmap(q);
        return e;
    }
    char *b = q->rmap;
    q->sq_tail = (unsigned *)(b + p.sq_off.tail);
    q->sq_mask = (unsigned *)(b + p.sq_off.ring_mask);
    q->sq_array = (unsigned *)(b + p.sq_off.array);
    q->cq_head = (unsigned *)(b + p.cq_off.head);
    q->cq_tail = (unsigned *)(b + p.cq_off.tail);
    q->cq_mask = (unsigned *)(b + p.cq_off.ring_mask);
    q->cqes = (struct io_uring_cqe *)(b + p.cq_off.cqes);
    return 0;
}

/* The next free SQE, zeroed (the ring has room for every entry's command
 * and the stop poll, so it never runs out). */
static struct io_uring_sqe *sqe_next(struct queue *q)
{
    unsigned tail = *q->sq_tail; /* this thread is the only producer */
    unsigned idx = tail & *q->sq_mask;
    struct io_uring_sqe *sqe = (struct io_uring_sqe *)((char *)q->sqes + 2 * idx * sizeof *sqe);
    memset(sqe, 0, 2 * sizeof *sqe);
    q->sq_array[idx] = idx;
    __atomic_store_n(q->sq_tail, tail + 1, __ATOMIC_RELEASE);
    q->pending++;
    return sqe;
}

static void sqe_fuse_cmd(struct queue *q, struct ent *e, uint32_t op, uint64_t commit)
{
    struct io_uring_sqe *sqe = sqe_next(q);
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = q->r->fuse_fd;
    sqe->cmd_op = op;
    if (op == RING_REGISTER) {
        sqe->addr = (uint64_t)(uintptr_t)e->iov;
        sqe->len = 2;
    }
    struct ring_cmd c = {.commit_id = commit, .qid = q->qid};
    memcpy(sqe->cmd, &c, sizeof c);
    sqe->user_data = (uint64_t)(uintptr_t)e;
}

/* Answer a request libfuse left unanswered (it answers every request it
 * can parse, so this is a malformed one): EIO, so the caller is not left
 * waiting. */
static void reply_eio(struct ent *e)
{
    struct fuse_out_header oh = {.len = sizeof oh, .error = -EIO, .unique = e->unique};
    memcpy(e->hdr->in_out, &oh, sizeof oh);
    e->hdr->ent.payload_sz = 0;
}

/* Hand the request in entry e to libfuse; its reply lands in e (see
 * hook_writev). */
static void answer(struct queue *q, struct ent *e)
{
    struct fuse_in_header ih;
    memcpy(&ih, e->hdr->in_out, sizeof ih);
    uint32_t psz = e->hdr->ent.payload_sz;
    e->unique = ih.unique;
    e->replied = false;
    if (ih.len >= sizeof ih + (uint64_t)psz && psz <= PAYLOAD_BYTES &&
        ih.len - sizeof ih - psz <= sizeof e->hdr->op_in) {
        size_t oplen = ih.len - sizeof ih - psz;
        char *start = e->payload - oplen - sizeof ih;
        memcpy(start, &ih, sizeof ih);
        memcpy(start + sizeof ih, e->hdr->op_in, oplen);
        struct fuse_buf fb;
        memset(&fb, 0, sizeof fb);
        fb.mem = start;
        fb.size = ih.len;
        answering = e;
        fuse_session_process_buf(q->r->se, &fb);
        answering = NULL;
    }
    if (!e->replied)
        reply_eio(e);
    sqe_fuse_cmd(q, e, RING_COMMIT_AND_FETCH, e->hdr->ent.commit_id);
}

static void keep_on_cpu(int cpu)
{
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || !CPU_ISSET(cpu, &allowed))
        return; /* not ours to run on: the thread runs where it may */
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

/* Wait for the go-ahead; true to go on. */
static bool setup_report(struct queue *q, int rc)
{
    struct cfs_ring *r = q->r;
    pthread_mutex_lock(&r->mu);
    r->setup_done++;
    if (rc)
        r->setup_failed++;
    pthread_cond_broadcast(&r->cv);
    while (r->go == WAIT)
        pthread_cond_wait(&r->cv, &r->mu);
    bool go = r->go == GO && !rc;
    pthread_mutex_unlock(&r->mu);
    return go;
}

/* A queue that cannot go on would leave its CPU's requests waiting
 * forever: end the mount instead (SIGTERM: the session's thread unmounts
 * and commits everything). */
static void queue_fail(struct queue *q, const char *what, int err)
{
    cfs_cli_warn("FUSE over io_uring, queue %u: %s: %s; unmounting", q->qid, what,
                 strerror(err));
    kill(getpid(), SIGTERM);
}

/* What the CQE of entry e's command says, when it failed (res < 0): false
 * once the entry is gone for good. */
static bool ent_failed(struct queue *q, struct ent *e, int res)
{
    if (res == -ENOTCONN || res == -ECONNABORTED || res == -ECANCELED)
        return false; /* the connection is gone: unmounted or aborted */
    if (!e->served) {
        /* REGISTER refused: the kernel stops waiting for the rings and,
         * unless every queue already has an entry, uses /dev/fuse */
        cfs_cli_warn("FUSE over io_uring, queue %u: an entry was refused: %s", q->qid,
                     strerror(-res));
        return false;
    }
    /* a commit refused (its request gone): the kernel dropped the entry,
     * so hand it the buffers again */
    if (++e->refused > 3) {
        queue_fail(q, "replies refused", -res);
        return false;
    }
    sqe_fuse_cmd(q, e, RING_REGISTER, 0);
    return true;
}

static void *queue_main(void *arg)
{
    struct queue *q = arg;
    keep_on_cpu(q->qid);
    int rc = ring_setup(q);
    if (!setup_report(q, rc)) {
        ring_unmap(q);
        return NULL;
    }

    for (int i = 0; i < ENTRIES; i++)
        sqe_fuse_cmd(q, &q->ents[i], RING_REGISTER, 0);
    struct io_uring_sqe *sqe = sqe_next(q);
    sqe->opcode = IORING_OP_POLL_ADD;
    sqe->fd = q->efd;
    sqe->poll32_events = POLLIN;
    sqe->user_data = 0;

    int alive = ENTRIES;
    bool stop = false;
    while (!stop && alive > 0) {
        int n = sys_enter(q->rfd, q->pending, 1, IORING_ENTER_GETEVENTS);
        if (n >= 0) {
            q->pending -= (unsigned)n < q->pending ? (unsigned)n : q->pending;
        } else if (errno == EAGAIN || errno == EBUSY || errno == ENOMEM) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL); /* short of memory: try again */
        } else if (errno != EINTR) {
            queue_fail(q, "io_uring_enter", errno);
            break;
        }
        unsigned head = *q->cq_head;
        unsigned tail = __atomic_load_n(q->cq_tail, __ATOMIC_ACQUIRE);
        for (; head != tail; head++) {
            struct io_uring_cqe *c = &q->cqes[head & *q->cq_mask];
            struct ent *e = (struct ent *)(uintptr_t)c->user_data;
            if (!e) {
                stop = true;
            } else if (c->res < 0) {
                if (!ent_failed(q, e, c->res))
                    alive--;
            } else {
                e->served = true;
                e->refused = 0;
                cfs_fuse_poller_note(q->r->poller);
                atomic_fetch_add_explicit(&q->r->served, 1, memory_order_relaxed);
                answer(q, e);
            }
        }
        __atomic_store_n(q->cq_head, head, __ATOMIC_RELEASE);
    }
    /* the last answers' commits */
    if (q->pending)
        (void)sys_enter(q->rfd, q->pending, 0, 0);
    ring_unmap(q);
    return NULL;
}

/* ---- libfuse's I/O hooks ----------------------------------------------------- */

static struct cfs_ring *ring_of(void *userdata)
{
    return ((struct mnt *)userdata)->ring;
}

static ssize_t hook_read(int fd, void *buf, size_t len, void *userdata)
{
    ssize_t n = read(fd, buf, len);
    struct cfs_ring *r = ring_of(userdata);
    const struct fuse_in_header *ih = buf;
    if (r && n >= (ssize_t)(sizeof *ih + sizeof(struct fuse_init_in)) && ih->opcode == FUSE_INIT) {
        const struct fuse_init_in *in = (const void *)(ih + 1);
        r->init_unique = ih->unique;
        r->init_seen = true;
        r->offered = (in->flags & FUSE_INIT_EXT) && (in->flags2 & INIT2_OVER_IO_URING);
    }
    return n;
}

/* Copy a reply into the entry being answered. */
static ssize_t ring_reply(struct ent *e, const struct iovec *iov, int count)
{
    memcpy(e->hdr->in_out, iov[0].iov_base, sizeof(struct fuse_out_header));
    size_t used = 0;
    for (int i = 1; i < count; i++) {
        if (iov[i].iov_len > PAYLOAD_BYTES - used) {
            e->replied = false; /* cannot happen: the kernel sizes requests to fit */
            errno = EOVERFLOW;
            return -1;
        }
        if (iov[i].iov_base != e->payload + used)
            memmove(e->payload + used, iov[i].iov_base, iov[i].iov_len);
        used += iov[i].iov_len;
    }
    e->hdr->ent.payload_sz = (uint32_t)used;
    e->replied = true;
    return (ssize_t)(sizeof(struct fuse_out_header) + used);
}

/* Everything the threads need is set up: the kernel may use io_uring. */
static bool ring_ready(struct cfs_ring *r)
{
    pthread_mutex_lock(&r->mu);
    while (r->setup_done < r->nq)
        pthread_cond_wait(&r->cv, &r->mu);
    bool ok = !r->setup_failed;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static void ring_go(struct cfs_ring *r, bool go)
{
    pthread_mutex_lock(&r->mu);
    if (r->go == WAIT)
        r->go = go ? GO : QUIT;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Over io_uring a read's request is answered on the reader's own CPU, so
 * the reader no longer copies one window while the mount fills the next:
 * fewer, bigger requests pay. The kernel caps a FUSE mount's readahead at
 * its default (128 KiB) whatever INIT asks; its bdi's read_ahead_kb
 * raises it. Reading back 1 GiB: 0.73-0.84 s at 128 KiB, 0.43 s at 1 MiB
 * (through /dev/fuse the small window is better: 0.26 s against 0.37-0.40
 * s, so it is left alone there). Best effort: without it, reads are only
 * slower. */
static void raise_readahead(struct cfs_ring *r)
{
    if (!r->readahead[0])
        return;
    FILE *f = fopen(r->readahead, "we");
    if (f) {
        fprintf(f, "%zu\n", PAYLOAD_BYTES >> 10);
        fclose(f);
    }
}

/* INIT's reply, with FUSE_OVER_IO_URING added when the kernel offered it
 * and every queue's ring is set up, and the kernel's payload fits the
 * buffers. */
static ssize_t init_reply(struct cfs_ring *r, int fd, const struct iovec *iov, int count)
{
    char msg[sizeof(struct fuse_out_header) + sizeof(struct fuse_init_out)];
    size_t len = 0;
    for (int i = 0; i < count; i++) {
        if (iov[i].iov_len > sizeof msg - len) /* not an INIT reply we know */
            return writev(fd, iov, count);
        memcpy(msg + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    bool use = false;
    struct fuse_init_out out;
    size_t oh = sizeof(struct fuse_out_header);
    if (r->offered && len == sizeof msg) {
        memcpy(&out, msg + oh, sizeof out);
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t pages = (out.flags & FUSE_MAX_PAGES) ? out.max_pages * page : 0;
        use = out.max_write <= PAYLOAD_BYTES && pages <= PAYLOAD_BYTES && ring_ready(r);
        if (use) {
            out.flags |= FUSE_INIT_EXT;
            out.flags2 |= INIT2_OVER_IO_URING;
            memcpy(msg + oh, &out, sizeof out);
        }
    }
    ssize_t n = write(fd, msg, len);
    ring_go(r, use && n == (ssize_t)len);
    if (use && n == (ssize_t)len)
        raise_readahead(r);
    return n;
}

/* A ring thread's reply needs only its thread's entry (not m->ring, which
 * the session's thread owns); the rest is the session's thread's. */
static ssize_t hook_writev(int fd, struct iovec *iov, int count, void *userdata)
{
    struct fuse_out_header oh;
    if (count < 1 || iov[0].iov_len < sizeof oh)
        return writev(fd, iov, count);
    memcpy(&oh, iov[0].iov_base, sizeof oh);
    struct ent *e = answering;
    if (e && oh.unique == e->unique)
        return ring_reply(e, iov, count);
    struct cfs_ring *r = ring_of(userdata);
    if (r && r->init_seen && oh.unique == r->init_unique) {
        r->init_seen = false;
        return init_reply(r, fd, iov, count);
    }
    return writev(fd, iov, count);
}

void *cfs_fuse_ring_reply_buf(size_t size)
{
    struct ent *e = answering;
    return e && size <= PAYLOAD_BYTES ? e->payload : NULL;
}

/* ---- set-up and tear-down ---------------------------------------------------- */

bool cfs_fuse_ring_possible(void)
{
    char v[8] = "";
    FILE *f = fopen(CFS_FUSE_URING_KNOB, "re");
    if (!f)
        return false;
    bool on = fgets(v, sizeof v, f) && v[0] == 'Y';
    fclose(f);
    return on;
}

int cfs_fuse_ring_enable(void)
{
    FILE *f = fopen(CFS_FUSE_URING_KNOB, "we");
    if (!f)
        return errno;
    int ok = fputs("Y\n", f) >= 0;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    return ok ? 0 : e;
}

/* The number of possible CPUs: the kernel makes one queue for each. */
static int possible_cpus(void)
{
    FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
    if (!f)
        return -1;
    int n = 0, a, b;
    char sep;
    while (fscanf(f, "%d", &a) == 1) {
        b = a;
        if (fscanf(f, "%c", &sep) == 1 && sep == '-') {
            if (fscanf(f, "%d", &b) != 1)
                break;
            if (fscanf(f, "%c", &sep) != 1)
                sep = 0;
        }
        n += b - a + 1;
        if (sep != ',')
            break;
    }
    fclose(f);
    return n;
}

static void queue_free(struct queue *q)
{
    for (int i = 0; i < ENTRIES; i++) {
        struct ent *e = &q->ents[i];
        if (e->map)
            munmap(e->map, HEAD_ROOM + PAYLOAD_BYTES);
    }
    if (q->efd >= 0)
        close(q->efd);
}

static int queue_init(struct cfs_ring *r, struct queue *q, uint16_t qid)
{
    memset(q, 0, sizeof *q);
    q->r = r;
    q->qid = qid;
    q->rfd = -1;
    q->efd = eventfd(0, EFD_CLOEXEC);
    if (q->efd < 0)
        return -1;
    for (int i = 0; i < ENTRIES; i++) {
        struct ent *e = &q->ents[i];
        e->map = mmap(NULL, HEAD_ROOM + PAYLOAD_BYTES, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (e->map == MAP_FAILED) {
            e->map = NULL;
            return -1;
        }
        e->hdr = (struct ring_header *)e->map;
        e->payload = e->map + HEAD_ROOM;
        e->iov[0] = (struct iovec){e->hdr, sizeof *e->hdr};
        e->iov[1] = (struct iovec){e->payload, PAYLOAD_BYTES};
    }
    return 0;
}

/* Stop the queues' threads and free them (nq back to 0). */
static void queues_stop(struct cfs_ring *r)
{
    ring_go(r, false); /* threads still waiting for INIT quit */
    for (int i = 0; i < r->nq; i++) {
        struct queue *q = &r->q[i];
        if (!q->started)
            continue;
        uint64_t one = 1;
        if (write(q->efd, &one, sizeof one) < 0)
            perror("chronofs mount: stopping a ring thread");
        pthread_join(q->thread, NULL);
    }
    for (int i = 0; i < r->nq; i++)
        queue_free(&r->q[i]);
    free(r->q);
    r->q = NULL;
    r->nq = 0;
}

void cfs_fuse_ring_stop(struct cfs_ring *r)
{
    if (!r)
        return;
    queues_stop(r);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* mountinfo writes a space, tab, newline or backslash in a path as \ooo:
 * undo it, in place. */
static void unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *o++ = *s;
        }
    }
    *o = 0;
}

bool cfs_fuse_mount_dev(const char *mnt, unsigned *maj, unsigned *min)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return false;
    char line[PATH_MAX * 4 + 256], point[PATH_MAX * 4];
    bool found = false;
    while (fgets(line, sizeof line, f)) {
        unsigned a, b;
        /* ID PARENT MAJ:MIN ROOT POINT ... - FSTYPE ... */
        if (sscanf(line, "%*u %*u %u:%u %*s %16383s", &a, &b, point) != 3 ||
            !strstr(line, " - fuse"))
            continue;
        unescape(point);
        if (!strcmp(point, mnt)) {
            *maj = a;
            *min = b;
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* The sysfs read_ahead_kb of the FUSE mount at `mnt` (its bdi is named
 * after the mount's device, which /proc/self/mountinfo gives without a
 * request to the mount), into path; false if not found. The newest mount
 * on that directory is ours. */
static bool readahead_path(const char *mnt, char *path, size_t cap)
{
    unsigned maj, min;
    return cfs_fuse_mount_dev(mnt, &maj, &min) &&
           snprintf(path, cap, "/sys/class/bdi/%u:%u/read_ahead_kb", maj, min) < (int)cap;
}

/* Queues and their threads, one per possible CPU; false (and none) if
 * they cannot all be made. */
static bool queues_start(struct cfs_ring *r)
{
    int n = possible_cpus();
    if (n < 1 || n > 4096)
        return false;
    r->q = calloc((size_t)n, sizeof *r->q);
    if (!r->q)
        return false;
    bool ok = true;
    for (int i = 0; i < n && ok; i++, r->nq++)
        ok = queue_init(r, &r->q[i], (uint16_t)i) == 0; /* counted: freed below */
    /* every signal blocked in the queue threads: SIGINT/SIGTERM/SIGUSR1
     * go to the session's thread */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int i = 0; i < r->nq && ok; i++) {
        ok = pthread_create(&r->q[i].thread, NULL, queue_main, &r->q[i]) == 0;
        r->q[i].started = ok;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!ok)
        queues_stop(r);
    return ok;
}

struct cfs_ring *cfs_fuse_ring_start(struct fuse_session *se, struct mnt *m,
                                     struct cfs_poller *poller, const char *mnt)
{
    struct cfs_ring *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->se = se;
    r->poller = poller;
    if (!readahead_path(mnt, r->readahead, sizeof r->readahead))
        r->readahead[0] = '\0';
    r->fuse_fd = fuse_session_fd(se);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    static const struct fuse_custom_io io = {.read = hook_read, .writev = hook_writev};
    if (!queues_start(r) || fuse_session_custom_io(se, &io, r->fuse_fd) != 0) {
        cfs_fuse_ring_stop(r);
        return NULL;
    }
    m->ring = r;
    return r;
}

uint64_t cfs_fuse_ring_served(struct cfs_ring *r)
{
    return r ? atomic_load(&r->served) : 0;
}
