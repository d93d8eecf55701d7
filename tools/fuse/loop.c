/*
 * loop.c — the mount's request loop: libfuse's, polling instead of
 * sleeping while requests flow.
 *
 * A FUSE request is two wakeups: the kernel wakes this thread with the
 * request, and wakes the caller with the reply. Each lands on a CPU that
 * went idle a few microseconds before. On a virtual machine whose idle
 * CPUs halt at once (on these the guest's halt-poll time,
 * /sys/module/haltpoll/parameters/guest_halt_poll_ns, is 0), each wakeup
 * is a trip through the host to restart a halted virtual CPU, and that
 * is most of the round trip: `tar -x` of /usr/include onto a mount took
 * 4.2-5.3 s, and 1.2 s with the guest's halt polling set to 200 us.
 *
 * So the mount polls for itself, for spin_ns after each request:
 *   - this thread reads /dev/fuse without blocking, and goes back to a
 *     blocking poll() only once spin_ns pass without a request: a request
 *     then finds it running, and needs no wakeup at all;
 *   - one thread per CPU, kept to it at SCHED_IDLE priority (anything
 *     else that wants the CPU preempts it at once), spins on the clock
 *     until spin_ns pass, then sleeps until the next request. A CPU with
 *     a spinner never halts, so waking the caller there is a plain
 *     reschedule.
 * With spin_ns = 50 us the same `tar -x` took 1.7-1.9 s, and the mount
 * used about the CPU time it did without (2.2-2.4 s against 1.9-2.3 s:
 * waking is work too). Nothing spins while no requests come. The spin is
 * a clock read in a loop, without PAUSE: a PAUSE loop makes the
 * hypervisor think the CPU waits for a lock (pause-loop exiting). With a
 * single CPU there is nothing to poll for: the caller and this thread
 * share it. Signals are blocked in the spinners, so SIGINT, SIGTERM and
 * SIGUSR1 still interrupt this thread's poll().
 *
 * Only where the kernel does not poll itself: with the guest's halt
 * polling on (200 us), the same `tar -x` took 1.22-1.33 s without our
 * polling and 1.87 s with it (both pollers then compete for the CPUs).
 * So by default the mount polls only on a virtual machine whose idle CPUs
 * halt at once: the haltpoll idle driver with guest_halt_poll_ns 0, or
 * no idle driver (plain HLT); cfs_fuse_default_spin_us.
 *
 * Requests that come through FUSE over io_uring (uring.c) are noted to
 * the pollers too (cfs_fuse_poller_note): there the program's own CPU
 * answers, and the pollers keep the scheduler from moving the program to
 * the other, halted CPU (uring.c says what that cost).
 *
 * Under a CPU quota (a container's --cpus, a cgroup's cpu.max) spinning
 * spends the quota the programs need, and the kernel then stops the
 * whole group until the next period: the mount does not poll when its
 * cgroups allow fewer CPUs than it may run on (cfs_fuse_cpu_quota).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsmount.h"

/* Spinners at most: on a big machine, polling every CPU for one program
 * would be out of proportion; the first SPINNERS_MAX CPUs this process
 * may use get one. */
#define SPINNERS_MAX 8

struct cfs_poller {
    _Atomic uint64_t last_ns; /* when the last request came in */
    atomic_int sleeping;      /* spinners waiting on `wake` */
    atomic_bool stop;
    uint64_t spin_ns;         /* 0: no polling */
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t threads[SPINNERS_MAX];
    int n;
};

struct spinner_arg {
    struct cfs_poller *p;
    int cpu;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* last_ns is read before the clock, so the difference cannot wrap. The
 * atomics are sequentially consistent on purpose: the sleep handshake in
 * spinner() relies on it. */
static bool quiet(struct cfs_poller *p)
{
    uint64_t last = atomic_load(&p->last_ns);
    return mono_ns() - last >= p->spin_ns;
}

static void *spinner(void *arg)
{
    struct spinner_arg a = *(struct spinner_arg *)arg;
    free(arg);
    struct cfs_poller *p = a.p;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(a.cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    struct sched_param sp = {.sched_priority = 0};
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);

    while (!atomic_load(&p->stop)) {
        while (!quiet(p) && !atomic_load(&p->stop))
            ; /* spin: see the top of the file */
        pthread_mutex_lock(&p->mu);
        atomic_fetch_add(&p->sleeping, 1);
        /* the loop stores last_ns before it reads `sleeping`, and this
         * reads last_ns after raising it: one of the two sees the other */
        while (quiet(p) && !atomic_load(&p->stop))
            pthread_cond_wait(&p->wake, &p->mu);
        atomic_fetch_sub(&p->sleeping, 1);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

struct cfs_poller *cfs_fuse_poller_start(uint64_t spin_ns)
{
    cpu_set_t all;
    if (!spin_ns || sched_getaffinity(0, sizeof all, &all) != 0 || CPU_COUNT(&all) < 2)
        return NULL;
    struct cfs_poller *p = calloc(1, sizeof *p);
    if (!p)
        return NULL; /* no polling: slower, not wrong */
    p->spin_ns = spin_ns;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    /* every signal blocked, so SIGINT/SIGTERM/SIGUSR1 reach the session's
     * thread and interrupt its poll */
    sigset_t block, old;
    sigfillset(&block);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (int cpu = 0; cpu < CPU_SETSIZE && p->n < SPINNERS_MAX; cpu++) {
        if (!CPU_ISSET(cpu, &all))
            continue;
        struct spinner_arg *a = malloc(sizeof *a);
        if (!a)
            break;
        *a = (struct spinner_arg){p, cpu};
        if (pthread_create(&p->threads[p->n], NULL, spinner, a) != 0) {
            free(a);
            break; /* fewer spinners: slower, not wrong */
        }
        p->n++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return p;
}

static void poller_request(struct cfs_poller *p, uint64_t now)
{
    atomic_store(&p->last_ns, now);
    if (atomic_load(&p->sleeping)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
}

void cfs_fuse_poller_note(struct cfs_poller *p)
{
    if (p)
        poller_request(p, mono_ns());
}

void cfs_fuse_poller_stop(struct cfs_poller *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, true);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* The first two numbers in file `dir`/`name`, as doubles; how many were
 * read (a word such as "max" stops it). */
static int read_numbers(const char *dir, const char *name, double v[2])
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    int n = fscanf(f, "%lf %lf", &v[0], &v[1]);
    fclose(f);
    return n < 0 ? 0 : n;
}

/* The quota, in CPUs, of the cgroup at `root` + `path` and its ancestors
 * up to `root`: the smallest; 0 when none has one. v2 keeps it in cpu.max
 * ("QUOTA PERIOD" or "max PERIOD"), v1's cpu controller in
 * cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us. */
static double quota_up(const char *root, const char *path, bool v2)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s%s", root, path) >= (int)sizeof dir)
        return 0;
    size_t rootlen = strlen(root);
    double best = 0;
    for (;;) {
        double v[2], period[2];
        double q = 0;
        if (v2) {
            if (read_numbers(dir, "cpu.max", v) == 2 && v[1] > 0)
                q = v[0] / v[1];
        } else if (read_numbers(dir, "cpu.cfs_quota_us", v) == 1 && v[0] > 0 &&
                   read_numbers(dir, "cpu.cfs_period_us", period) == 1 && period[0] > 0) {
            q = v[0] / period[0];
        }
        if (q > 0 && (best == 0 || q < best))
            best = q;
        char *slash = strrchr(dir + rootlen, '/');
        if (!slash)
            break;
        *slash = '\0'; /* the parent; the root itself ends as "" past rootlen */
    }
    return best;
}

/* The first line of file `path` into buf (cap bytes), newline dropped;
 * false if it cannot be read. */
static bool read_line(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\n")] = '\0';
    return ok;
}

uint64_t cfs_fuse_default_spin_us(void)
{
    char line[4096];
    bool vm = false;
    FILE *f = fopen("/proc/cpuinfo", "re");
    while (f && !vm && fgets(line, sizeof line, f))
        vm = !strncmp(line, "flags", 5) && strstr(line, " hypervisor");
    if (f)
        fclose(f);
    if (!vm)
        return 0;
    char driver[64] = "none";
    read_line("/sys/devices/system/cpu/cpuidle/current_driver", driver, sizeof driver);
    if (!strcmp(driver, "none"))
        return 50; /* idle is HLT: a trip through the host */
    char ns[32];
    if (!strcmp(driver, "haltpoll") &&
        read_line("/sys/module/haltpoll/parameters/guest_halt_poll_ns", ns, sizeof ns) &&
        strtoull(ns, NULL, 10) == 0)
        return 50;
    return 0; /* the kernel polls before it halts, or knows better */
}

double cfs_fuse_cpu_quota(void)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return 0;
    char line[PATH_MAX + 256];
    double best = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *ctl = strchr(line, ':');
        char *path = ctl ? strchr(ctl + 1, ':') : NULL;
        if (!path)
            continue;
        *path++ = '\0';
        ctl++;
        double q = 0;
        if (!strcmp(line, "0") && !*ctl) { /* v2 */
            q = quota_up("/sys/fs/cgroup", path, true);
            if (!q)
                q = quota_up("/sys/fs/cgroup/unified", path, true);
        } else {
            /* v1: a hierarchy whose controllers include cpu */
            bool cpu = false;
            for (char *c = strtok(ctl, ","); c; c = strtok(NULL, ","))
                cpu |= !strcmp(c, "cpu");
            if (cpu) {
                q = quota_up("/sys/fs/cgroup/cpu", path, false);
                if (!q)
                    q = quota_up("/sys/fs/cgroup/cpu,cpuacct", path, false);
            }
        }
        if (q > 0 && (best == 0 || q < best))
            best = q;
    }
    fclose(f);
    return best;
}

int cfs_fuse_loop(struct fuse_session *se, struct cfs_poller *p)
{
    int fd = fuse_session_fd(se), fl = fcntl(fd, F_GETFL);
    bool polling = p && fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
    uint64_t spin_ns = polling ? p->spin_ns : 0;
    struct fuse_buf buf;
    memset(&buf, 0, sizeof buf);
    uint64_t last = 0;
    int rc = 0;
    while (!fuse_session_exited(se)) {
        int n = fuse_session_receive_buf(se, &buf);
        if (n == -EINTR)
            continue;
        if (n == -EAGAIN && polling) {
            if (mono_ns() - last >= spin_ns) { /* quiet: sleep until one comes */
                /* A signal handled between the exit check and poll() would
                 * not interrupt it: the timeout bounds that to a second. */
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                poll(&pfd, 1, 1000);
            }
            continue;
        }
        if (n <= 0) {
            rc = n;
            break;
        }
        if (polling)
            last = mono_ns();
        cfs_fuse_poller_note(p);
        fuse_session_process_buf(se, &buf);
    }
    free(buf.mem);
    if (polling)
        fcntl(fd, F_SETFL, fl);
    fuse_session_reset(se);
    return rc;
}
