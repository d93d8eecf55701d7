/*
 * run.c — cfs_wasi_run(): load a guest object, give the guest a clean
 * process on the engine, run it on a thread of its own, report how it
 * ended. Also the non-filesystem imports: args, environ, clocks, random,
 * poll_oneoff, proc_exit/proc_raise, sched_yield and the socket calls.
 *
 * A run, as a state machine:
 *
 *     load (dlopen, entry) --fail--> -1
 *       |
 *     prepare the process (close-all + stdio 0-2 + "/" as fd 3 + cwd,
 *       unless already exactly that) --fail--> -1 (fs consistent)
 *       |
 *     guest thread: instantiate, _start ------------------+
 *       |  returned      | proc_exit / raise  | poll stop | trap
 *       v                v                    v           v
 *     exit 0          exit code          stopped = 1  trapped = 1, 134
 *       \________________|____________________|___________/
 *                        v
 *               close-all (the process's fds), dlclose
 *
 * Unwinding (proc_exit, stop, trap) is a longjmp inside the guest object
 * (guest_glue.c); the host's own frames are never skipped, so no host
 * state is left half-done: an import either completed its engine call or
 * never made it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

/* The guest's native stack: deep enough for CFS_WASI_MAX_CALL_DEPTH
 * frames of translated code (a few hundred bytes each, a few KiB for the
 * largest) plus the host's imports; reserved, touched only as used. */
#define GUEST_STACK_BYTES ((size_t)256 << 20)

static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;

void cfs_wasi_seterr(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || !cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

int host_enter(cfs_wasi_guest_ctx *c)
{
    struct host *h = host_of(c);
    if (c->unwind)
        return 1;
    if (h->cfg->poll && h->cfg->poll(h->cfg->poll_ctx)) {
        h->stopped = 1;
        c->unwind = 1;
        return 1;
    }
    return 0;
}

int host_stdio_fd(struct host *h, cfs_fd fd, cfs_ino *ino)
{
    cfs_fdstat fst;
    if (cfs_fd_fdstat_get(h->fs, fd, &fst) ||
        fst.filetype != CFS_FILETYPE_CHARACTER_DEVICE)
        return -1;
    /* The engine's only character devices are the stdio inodes 10-12. */
    cfs_filestat st;
    if (cfs_fd_filestat_get(h->fs, fd, &st) == 0)
        *ino = st.ino;
    else /* FD_FILESTAT_GET dropped: go by the rights the fd has left */
        *ino = (fst.rights_base & CFS_RIGHT_FD_READ) ? CFS_INO_STDIN
               : fd == 2                             ? CFS_INO_STDERR
                                                     : CFS_INO_STDOUT;
    switch (*ino) {
    case CFS_INO_STDIN: return h->cfg->in_fd;
    case CFS_INO_STDOUT: return h->cfg->out_fd;
    case CFS_INO_STDERR: return h->cfg->err_fd;
    default: return -1;
    }
}

/* ---------------------------------------------------------------------- */
/* args and environ                                                         */

static uint32_t strings_sizes(cfs_wasi_guest_ctx *c, const char *const *v,
                              size_t n, uint32_t count_ptr, uint32_t size_ptr)
{
    uint8_t *a = mem_range(c, count_ptr, 4);
    uint8_t *b = mem_range(c, size_ptr, 4);
    if (!a || !b)
        return CFS_EFAULT;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += strlen(v[i]) + 1;
    if (n > UINT32_MAX || total > UINT32_MAX)
        return CFS_E2BIG;
    put32(a, (uint32_t)n);
    put32(b, (uint32_t)total);
    return 0;
}

static uint32_t strings_get(cfs_wasi_guest_ctx *c, const char *const *v,
                            size_t n, uint32_t ptrs, uint32_t buf)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += strlen(v[i]) + 1;
    uint8_t *p = mem_range(c, ptrs, (uint64_t)n * 4);
    uint8_t *b = mem_range(c, buf, total);
    if (!p || !b)
        return CFS_EFAULT;
    uint32_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]) + 1;
        put32(p + 4 * i, buf + off);
        memcpy(b + off, v[i], l);
        off += (uint32_t)l;
    }
    return 0;
}

static uint32_t args_sizes_get(cfs_wasi_guest_ctx *c, uint32_t a, uint32_t b)
{
    ENTER(c);
    const cfs_wasi_config *cfg = host_of(c)->cfg;
    return strings_sizes(c, cfg->argv, cfg->argc, a, b);
}

static uint32_t args_get(cfs_wasi_guest_ctx *c, uint32_t a, uint32_t b)
{
    ENTER(c);
    const cfs_wasi_config *cfg = host_of(c)->cfg;
    return strings_get(c, cfg->argv, cfg->argc, a, b);
}

static uint32_t environ_sizes_get(cfs_wasi_guest_ctx *c, uint32_t a,
                                  uint32_t b)
{
    ENTER(c);
    const cfs_wasi_config *cfg = host_of(c)->cfg;
    return strings_sizes(c, cfg->envp, cfg->envc, a, b);
}

static uint32_t environ_get(cfs_wasi_guest_ctx *c, uint32_t a, uint32_t b)
{
    ENTER(c);
    const cfs_wasi_config *cfg = host_of(c)->cfg;
    return strings_get(c, cfg->envp, cfg->envc, a, b);
}

/* ---------------------------------------------------------------------- */
/* Clocks, random, scheduling                                               */

static int host_clock(uint32_t id, clockid_t *out)
{
    switch (id) {
    case 0: *out = CLOCK_REALTIME; return 0;
    case 1: *out = CLOCK_MONOTONIC; return 0;
    case 2: *out = CLOCK_PROCESS_CPUTIME_ID; return 0;
    case 3: *out = CLOCK_THREAD_CPUTIME_ID; return 0;
    default: return -1;
    }
}

static uint64_t ts_ns(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

/* Answer a clock call: `get` (clock_getres or clock_gettime) of guest
 * clock `id`, in ns at guest address `out`. */
static uint32_t clock_answer(cfs_wasi_guest_ctx *c, uint32_t id, uint32_t out,
                             int (*get)(clockid_t, struct timespec *))
{
    ENTER(c);
    uint8_t *o = mem_range(c, out, 8);
    if (!o)
        return CFS_EFAULT;
    clockid_t hc;
    struct timespec ts;
    if (host_clock(id, &hc) || get(hc, &ts))
        return CFS_EINVAL;
    put64(o, ts_ns(&ts));
    return 0;
}

static uint32_t clock_res_get(cfs_wasi_guest_ctx *c, uint32_t id, uint32_t out)
{
    return clock_answer(c, id, out, clock_getres);
}

static uint32_t clock_time_get(cfs_wasi_guest_ctx *c, uint32_t id,
                               uint64_t precision, uint32_t out)
{
    (void)precision;
    return clock_answer(c, id, out, clock_gettime);
}

static uint32_t random_get(cfs_wasi_guest_ctx *c, uint32_t buf, uint32_t len)
{
    ENTER(c);
    uint8_t *p = mem_range(c, buf, len);
    if (!p)
        return CFS_EFAULT;
    size_t done = 0;
    while (done < len) {
        ssize_t k = getrandom(p + done, len - done, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return CFS_EIO;
        done += (size_t)k;
    }
    return 0;
}

static uint32_t sched_yield_(cfs_wasi_guest_ctx *c)
{
    ENTER(c);
    sched_yield();
    return 0;
}

/* ---------------------------------------------------------------------- */
/* poll_oneoff                                                              */

#define SUB_SIZE 48
#define EVENT_SIZE 32
#define EVENTTYPE_CLOCK 0
#define EVENTTYPE_FD_READ 1
#define EVENTTYPE_FD_WRITE 2
#define SUBCLOCK_ABSTIME 1
#define EVENTRW_HANGUP 1

struct sub {
    uint64_t userdata;
    uint8_t type;
    /* clock */
    int clock_ok;
    clockid_t clock;
    uint64_t deadline;   /* on `clock` */
    /* fd */
    uint32_t fd;
    int hfd;             /* host fd for stdio, else -1 */
    /* outcome */
    int ready, hangup;
    uint16_t error;
    uint64_t nbytes;
};

static uint64_t clock_now(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts_ns(&ts);
}

static void sub_fd(struct host *h, struct sub *s)
{
    cfs_fdstat st;
    cfs_errno rc = cfs_fd_fdstat_get(h->fs, s->fd, &st);
    if (rc) {
        s->ready = 1;
        s->error = rc;
        return;
    }
    cfs_rights need = s->type == EVENTTYPE_FD_READ ? CFS_RIGHT_FD_READ
                                                   : CFS_RIGHT_FD_WRITE;
    if (!(st.rights_base & need)) {
        s->ready = 1;
        s->error = CFS_ENOTCAPABLE;
        return;
    }
    cfs_ino ino;
    s->hfd = host_stdio_fd(h, s->fd, &ino);
    if (s->hfd >= 0)
        return; /* decided by the host's poll */
    /* Files and directories are always ready; a read reports what is left
     * before the end of the file. */
    s->ready = 1;
    if (s->type == EVENTTYPE_FD_READ &&
        st.filetype == CFS_FILETYPE_REGULAR_FILE) {
        cfs_filestat fs;
        uint64_t pos;
        if (cfs_fd_filestat_get(h->fs, s->fd, &fs) == 0 &&
            cfs_fd_tell(h->fs, s->fd, &pos) == 0 && fs.size > pos)
            s->nbytes = fs.size - pos;
    }
}

static uint32_t poll_oneoff(cfs_wasi_guest_ctx *c, uint32_t in, uint32_t out,
                            uint32_t nsubs, uint32_t nevents_ptr)
{
    ENTER(c);
    struct host *h = host_of(c);
    const uint8_t *ip = mem_range(c, in, (uint64_t)nsubs * SUB_SIZE);
    uint8_t *op = mem_range(c, out, (uint64_t)nsubs * EVENT_SIZE);
    uint8_t *np = mem_range(c, nevents_ptr, 4);
    if (!ip || !op || !np)
        return CFS_EFAULT;
    if (nsubs == 0)
        return CFS_EINVAL;
    struct sub *subs = calloc(nsubs, sizeof(*subs));
    if (!subs)
        return CFS_ENOMEM;
    uint32_t rc = 0;
    for (uint32_t i = 0; i < nsubs && !rc; i++) {
        const uint8_t *p = ip + (size_t)i * SUB_SIZE;
        struct sub *s = &subs[i];
        s->userdata = get64(p);
        s->type = p[8];
        s->hfd = -1;
        if (s->type == EVENTTYPE_CLOCK) {
            uint32_t id = get32(p + 16);
            uint64_t timeout = get64(p + 24);
            uint16_t flags = get16(p + 40);
            if (host_clock(id, &s->clock) || id >= 2) {
                /* only realtime and monotonic can be waited on */
                s->ready = 1;
                s->error = CFS_EINVAL;
                continue;
            }
            s->clock_ok = 1;
            if (flags & SUBCLOCK_ABSTIME) {
                s->deadline = timeout;
            } else {
                uint64_t now = clock_now(s->clock);
                s->deadline = now + timeout < now ? UINT64_MAX : now + timeout;
            }
        } else if (s->type == EVENTTYPE_FD_READ ||
                   s->type == EVENTTYPE_FD_WRITE) {
            s->fd = get32(p + 16);
            sub_fd(h, s);
        } else {
            rc = CFS_EINVAL;
        }
    }
    if (rc) {
        free(subs);
        return rc;
    }

    struct pollfd *pfds = calloc(nsubs, sizeof(*pfds));
    if (!pfds) {
        free(subs);
        return CFS_ENOMEM;
    }
    for (;;) {
        int any = 0;
        int64_t wait_ms = -1;
        for (uint32_t i = 0; i < nsubs; i++) {
            struct sub *s = &subs[i];
            if (s->clock_ok && !s->ready) {
                uint64_t now = clock_now(s->clock);
                if (now >= s->deadline) {
                    s->ready = 1;
                } else {
                    uint64_t ms = (s->deadline - now + 999999) / 1000000;
                    if (ms > INT32_MAX)
                        ms = INT32_MAX;
                    if (wait_ms < 0 || (int64_t)ms < wait_ms)
                        wait_ms = (int64_t)ms;
                }
            }
            any |= s->ready;
        }
        nfds_t n = 0;
        for (uint32_t i = 0; i < nsubs; i++)
            if (subs[i].hfd >= 0)
                pfds[n++] = (struct pollfd){
                        .fd = subs[i].hfd,
                        .events = subs[i].type == EVENTTYPE_FD_READ ? POLLIN
                                                                    : POLLOUT};
        int timeout = any ? 0 : (int)wait_ms;
        if (n == 0 && any)
            break;
        if (n == 0 && wait_ms < 0)
            break; /* unreachable: every subscription is a clock, an fd or
                    * already answered */
        if (timeout != 0)
            host_block_begin(h);
        int k = poll(n ? pfds : NULL, n, timeout);
        if (timeout != 0)
            host_block_end(h);
        if (k < 0 && errno != EINTR) {
            rc = CFS_EIO;
            break;
        }
        n = 0;
        for (uint32_t i = 0; i < nsubs; i++) {
            struct sub *s = &subs[i];
            if (s->hfd < 0)
                continue;
            short re = k > 0 ? pfds[n].revents : 0;
            n++;
            if (re & (POLLIN | POLLOUT | POLLHUP | POLLERR)) {
                s->ready = 1;
                if (re & POLLERR)
                    s->error = CFS_EIO;
                s->hangup = (re & POLLHUP) != 0;
                s->nbytes = 0;
            }
        }
        for (uint32_t i = 0; i < nsubs; i++)
            if (subs[i].clock_ok && !subs[i].ready &&
                clock_now(subs[i].clock) >= subs[i].deadline)
                subs[i].ready = 1;
        any = 0;
        for (uint32_t i = 0; i < nsubs; i++)
            any |= subs[i].ready;
        if (any)
            break;
    }
    uint32_t nev = 0;
    if (!rc) {
        for (uint32_t i = 0; i < nsubs; i++) {
            struct sub *s = &subs[i];
            if (!s->ready)
                continue;
            uint8_t *e = op + (size_t)nev * EVENT_SIZE;
            memset(e, 0, EVENT_SIZE);
            put64(e, s->userdata);
            put16(e + 8, s->error);
            put_u8(e + 10, s->type);
            if (s->type != EVENTTYPE_CLOCK) {
                put64(e + 16, s->nbytes);
                put16(e + 24, s->hangup ? EVENTRW_HANGUP : 0);
            }
            nev++;
        }
        put32(np, nev);
    }
    free(pfds);
    free(subs);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Processes and sockets                                                    */

static void proc_exit(cfs_wasi_guest_ctx *c, uint32_t code)
{
    struct host *h = host_of(c);
    h->exited = 1;
    h->exit_code = (int)code;
    c->unwind = 1;
}

/* WASI signal numbers follow Linux's but skip SIGSTKFLT (16). */
static uint32_t proc_raise(cfs_wasi_guest_ctx *c, uint32_t sig)
{
    ENTER(c);
    struct host *h = host_of(c);
    if (sig > 30)
        return CFS_EINVAL;
    /* none, and the signals whose default action is to ignore or stop
     * (chld, cont, stop, tstp, ttin, ttou, urg, winch): nothing happens */
    if (sig == 0 || (sig >= 16 && sig <= 22) || sig == 27)
        return 0;
    int linux_sig = sig >= 16 ? (int)sig + 1 : (int)sig;
    h->exited = 1;
    h->exit_code = 128 + linux_sig;
    snprintf(h->message, sizeof(h->message),
             "guest killed by signal %d (proc_raise)", linux_sig);
    c->unwind = 1;
    return 0;
}

/* No socket fds exist in chronofs: an open fd is not a socket. */
static uint32_t not_a_socket(cfs_wasi_guest_ctx *c, uint32_t fd)
{
    cfs_fdstat st;
    cfs_errno rc = cfs_fd_fdstat_get(host_of(c)->fs, fd, &st);
    return rc ? rc : CFS_ENOTSOCK;
}

static uint32_t sock_accept(cfs_wasi_guest_ctx *c, uint32_t fd, uint32_t flags,
                            uint32_t out)
{
    (void)flags;
    (void)out;
    ENTER(c);
    return not_a_socket(c, fd);
}

static uint32_t sock_recv(cfs_wasi_guest_ctx *c, uint32_t fd, uint32_t a,
                          uint32_t b, uint32_t d, uint32_t e, uint32_t f)
{
    (void)a, (void)b, (void)d, (void)e, (void)f;
    ENTER(c);
    return not_a_socket(c, fd);
}

static uint32_t sock_send(cfs_wasi_guest_ctx *c, uint32_t fd, uint32_t a,
                          uint32_t b, uint32_t d, uint32_t e)
{
    (void)a, (void)b, (void)d, (void)e;
    ENTER(c);
    return not_a_socket(c, fd);
}

static uint32_t sock_shutdown(cfs_wasi_guest_ctx *c, uint32_t fd, uint32_t how)
{
    (void)how;
    ENTER(c);
    return not_a_socket(c, fd);
}

static void call_enter(cfs_wasi_guest_ctx *c)
{
    pthread_mutex_t *m = host_of(c)->cfg->call_lock;
    if (m)
        pthread_mutex_lock(m);
}

static void call_leave(cfs_wasi_guest_ctx *c)
{
    pthread_mutex_t *m = host_of(c)->cfg->call_lock;
    if (m)
        pthread_mutex_unlock(m);
}

void host_block_begin(struct host *h)
{
    if (h->cfg->call_lock)
        pthread_mutex_unlock(h->cfg->call_lock);
}

void host_block_end(struct host *h)
{
    if (h->cfg->call_lock)
        pthread_mutex_lock(h->cfg->call_lock);
}

static cfs_wasi_hostfns host_table(void)
{
    cfs_wasi_hostfns t = {
        .args_get = args_get,
        .args_sizes_get = args_sizes_get,
        .environ_get = environ_get,
        .environ_sizes_get = environ_sizes_get,
        .clock_res_get = clock_res_get,
        .clock_time_get = clock_time_get,
        .poll_oneoff = poll_oneoff,
        .proc_exit = proc_exit,
        .proc_raise = proc_raise,
        .sched_yield = sched_yield_,
        .random_get = random_get,
        .sock_accept = sock_accept,
        .sock_recv = sock_recv,
        .sock_send = sock_send,
        .sock_shutdown = sock_shutdown,
        .enter = call_enter,
        .leave = call_leave,
    };
    fsfns_fill(&t);
    return t;
}

/* ---------------------------------------------------------------------- */
/* The process                                                              */

/* Is the fd table exactly stdio 0-2 plus the "/" preopen as fd 3? */
static int process_is_clean(cfs_fs *fs)
{
    static const cfs_ino std[3] = {CFS_INO_STDIN, CFS_INO_STDOUT,
                                   CFS_INO_STDERR};
    for (cfs_fd fd = 0; fd < 3; fd++) {
        cfs_filestat st;
        if (cfs_fd_filestat_get(fs, fd, &st) || st.ino != std[fd])
            return 0;
    }
    cfs_prestat ps;
    char name[2];
    if (cfs_fd_prestat_get(fs, 3, &ps) || ps.name_len != 1 ||
        cfs_fd_prestat_dir_name(fs, 3, name, 1) || name[0] != '/')
        return 0;
    cfs_fdstat fst;
    for (cfs_fd fd = 4; fd <= CFS_MAX_FD; fd++)
        if (cfs_fd_fdstat_get(fs, fd, &fst) != CFS_EBADF)
            return 0;
    return 1;
}

static cfs_errno prepare_process(cfs_fs *fs, const char *cwd, char *err,
                                 size_t errcap)
{
    cfs_errno rc = 0;
    if (!process_is_clean(fs)) {
        static const struct {
            cfs_ino ino;
            cfs_rights rights;
            uint16_t flags;
        } std[3] = {
            {CFS_INO_STDIN, CFS_RIGHTS_STDIN, 0},
            {CFS_INO_STDOUT, CFS_RIGHTS_STDOUT, CFS_FDFLAG_APPEND},
            {CFS_INO_STDERR, CFS_RIGHTS_STDERR, CFS_FDFLAG_APPEND},
        };
        if ((rc = cfs_fs_close_all(fs))) {
            cfs_wasi_seterr(err, errcap, "preparing the guest process: close-all: %s",
                   cfs_errno_name(rc));
            return rc;
        }
        for (int i = 0; i < 3; i++) {
            cfs_fd fd;
            rc = cfs_open_ino(fs, std[i].ino, 0, std[i].rights, 0,
                              std[i].flags, &fd);
            if (!rc && fd != (cfs_fd)i)
                rc = CFS_EBADF;
            if (rc) {
                cfs_wasi_seterr(err, errcap, "preparing the guest process: stdio fd "
                       "%d: %s", i, cfs_errno_name(rc));
                return rc;
            }
        }
        cfs_fd root;
        rc = cfs_fs_preopen(fs, "/", NULL,
                            CFS_PREOPEN_READ | CFS_PREOPEN_WRITE |
                                    CFS_PREOPEN_CREATE,
                            &root);
        if (!rc && root != CFS_ROOT_FD)
            rc = CFS_EBADF;
        if (rc) {
            cfs_wasi_seterr(err, errcap, "preparing the guest process: preopen /: %s "
                   "%s", cfs_errno_name(rc), cfs_fs_errmsg(fs));
            return rc;
        }
    }
    const char *want = cwd ? cwd : "/";
    if (strcmp(cfs_fs_getcwd(fs), want) != 0 && (rc = cfs_fs_chdir(fs, want))) {
        cfs_wasi_seterr(err, errcap, "guest cwd %s: %s", want, cfs_errno_name(rc));
        return rc;
    }
    return 0;
}

struct guest_thread {
    cfs_wasi_guest_main_fn entry;
    cfs_wasi_guest_ctx *ctx;
    int code;
};

static void *guest_thread_main(void *arg)
{
    struct guest_thread *g = arg;
    g->code = g->entry(g->ctx);
    return NULL;
}

static const char *trap_name(int code)
{
    /* wabt's wasm_rt_trap_t, wasm-rt.h (1.0.32) */
    switch (code) {
    case 1: return "out of bounds memory access";
    case 2: return "integer overflow";
    case 3: return "integer divide by zero";
    case 4: return "invalid conversion to integer";
    case 5: return "unreachable executed";
    case 6: return "indirect call to a null or mistyped function";
    case 7: return "uncaught exception";
    case 8: return "call stack exhausted";
    default: return "unknown trap";
    }
}

int cfs_wasi_run(const char *so_path, const cfs_wasi_config *cfg,
                 cfs_wasi_result *res, char *err, size_t errcap)
{
    if (err && errcap)
        err[0] = 0;
    if (!so_path || !cfg || !cfg->fs || !res || (cfg->argc && !cfg->argv) ||
        (cfg->envc && !cfg->envp)) {
        cfs_wasi_seterr(err, errcap, "wasi run: missing argument");
        return -1;
    }
    memset(res, 0, sizeof(*res));
    /* dlopen searches the library path for a name without '/': a guest
     * object is always a file path. */
    char local[4096];
    const char *load = so_path;
    if (!strchr(so_path, '/')) {
        snprintf(local, sizeof(local), "./%s", so_path);
        load = local;
    }
    void *dl = dlopen(load, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        cfs_wasi_seterr(err, errcap, "%s: cannot load: %s", so_path, e ? e : "?");
        return -1;
    }
    cfs_wasi_guest_main_fn entry;
    *(void **)&entry = dlsym(dl, CFS_WASI_GUEST_ENTRY);
    if (!entry) {
        cfs_wasi_seterr(err, errcap, "%s: not a chronofs guest (no %s)", so_path,
               CFS_WASI_GUEST_ENTRY);
        dlclose(dl);
        return -1;
    }

    pthread_mutex_lock(&run_lock);
    int ret = -1;
    if (cfg->call_lock)
        pthread_mutex_lock(cfg->call_lock);
    int prc = prepare_process(cfg->fs, cfg->cwd, err, errcap);
    if (cfg->call_lock)
        pthread_mutex_unlock(cfg->call_lock);
    if (prc)
        goto out;

    cfs_wasi_hostfns fns = host_table();
    struct host h = {.cfg = cfg, .fs = cfg->fs};
    h.ctx.abi = CFS_WASI_ABI;
    h.ctx.fns = &fns;
    h.ctx.host = &h;
    struct guest_thread g = {.entry = entry, .ctx = &h.ctx};
    pthread_attr_t attr;
    pthread_t th;
    if (pthread_attr_init(&attr) ||
        pthread_attr_setstacksize(&attr, GUEST_STACK_BYTES) ||
        pthread_create(&th, &attr, guest_thread_main, &g)) {
        cfs_wasi_seterr(err, errcap, "cannot start the guest thread");
        pthread_attr_destroy(&attr);
        goto out_close;
    }
    pthread_attr_destroy(&attr);
    pthread_join(th, NULL);

    if (g.code == CFS_WASI_GUEST_BAD_ABI) {
        cfs_wasi_seterr(err, errcap, "%s: built for another chronofs host ABI: "
               "rebuild it (cfs_wasi_build)", so_path);
        goto out_close;
    }
    ret = 0;
    if (g.code == CFS_WASI_GUEST_RETURNED ||
        g.code == CFS_WASI_GUEST_UNWOUND) {
        res->stopped = h.stopped && !h.exited;
        res->exit_code = h.exited ? h.exit_code : 0;
        snprintf(res->message, sizeof(res->message), "%s",
                 res->stopped ? "guest stopped" : h.message);
    } else {
        res->trapped = 1;
        res->exit_code = CFS_WASI_TRAP_EXIT;
        snprintf(res->message, sizeof(res->message), "guest trapped: %s",
                 trap_name(g.code));
    }
out_close:
    /* The process ends: its fds are closed, whatever happened. A sink that
     * has failed refuses this too; the state is consistent either way. */
    if (cfg->call_lock)
        pthread_mutex_lock(cfg->call_lock);
    (void)cfs_fs_close_all(cfg->fs);
    if (cfg->call_lock)
        pthread_mutex_unlock(cfg->call_lock);
out:
    pthread_mutex_unlock(&run_lock);
    dlclose(dl);
    return ret;
}
