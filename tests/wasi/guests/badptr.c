/*
 * badptr — raw wasi_snapshot_preview1 calls with pointers and lengths
 * outside linear memory, overflowing ptr+len, huge iovec counts and bad
 * fds. Each check prints "ok LABEL" or "FAIL LABEL: got E want W"; the exit
 * status is the number of failures. A call that fails with EFAULT must
 * change nothing: test_badptr.c checks that the files named here do not
 * exist afterwards.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

static int failures;

/* Not in every wasi-libc's api.h: declared here as the raw import. */
__attribute__((import_module("wasi_snapshot_preview1"),
               import_name("proc_raise"))) int32_t raw_proc_raise(int32_t sig);

/* The path calls, raw: wasi-libc's wrappers take C strings (and strlen
 * them in the guest), these take (pointer, length) as the host sees them. */
#define RAW(name) \
    __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))
RAW(path_open) int32_t raw_path_open(int32_t fd, int32_t dirflags, int32_t path,
                                     int32_t len, int32_t oflags, int64_t base,
                                     int64_t inh, int32_t fdflags, int32_t out);
RAW(path_create_directory) int32_t raw_mkdir(int32_t fd, int32_t path, int32_t len);
RAW(path_filestat_get) int32_t raw_stat(int32_t fd, int32_t flags, int32_t path,
                                        int32_t len, int32_t out);
RAW(path_readlink) int32_t raw_readlink(int32_t fd, int32_t path, int32_t len,
                                        int32_t buf, int32_t buflen, int32_t out);
RAW(path_symlink) int32_t raw_symlink(int32_t t, int32_t tlen, int32_t fd,
                                      int32_t path, int32_t len);
RAW(path_rename) int32_t raw_rename(int32_t fd, int32_t p, int32_t plen,
                                    int32_t fd2, int32_t p2, int32_t p2len);
#define I(p) ((int32_t)(uintptr_t)(p))
#define S(str) I(str), (int32_t)strlen(str)

static void expect(const char *label, int got, int want)
{
    if (got == want) {
        printf("ok %s\n", label);
    } else {
        printf("FAIL %s: got %d want %d\n", label, got, want);
        failures++;
    }
}

#define OOB ((uintptr_t)0xfffffff0u)   /* far past any memory we have */
#define P(x) ((void *)(uintptr_t)(x))

int main(void)
{
    __wasi_size_t n = 0;
    __wasi_fd_t fd = 0;
    char buf[64];
    __wasi_filestat_t stat;
    __wasi_ciovec_t iov = {(const uint8_t *)"x", 1};
    __wasi_ciovec_t bad_iov = {P(OOB), 16};
    __wasi_ciovec_t huge_iov = {(const uint8_t *)buf, 0xffffffffu};
    __wasi_ciovec_t wrap_iov = {P(0xfffffff0u), 0x20};

    /* writes */
    expect("fd_write iovs array out of memory",
           __wasi_fd_write(1, P(OOB), 1, &n), __WASI_ERRNO_FAULT);
    expect("fd_write buffer out of memory",
           __wasi_fd_write(1, &bad_iov, 1, &n), __WASI_ERRNO_FAULT);
    expect("fd_write huge length", __wasi_fd_write(1, &huge_iov, 1, &n),
           __WASI_ERRNO_FAULT);
    expect("fd_write ptr+len wraps", __wasi_fd_write(1, &wrap_iov, 1, &n),
           __WASI_ERRNO_FAULT);
    expect("fd_write huge iovec count",
           __wasi_fd_write(1, &iov, 0x7fffffffu, &n), __WASI_ERRNO_FAULT);
    expect("fd_write nwritten out of memory",
           __wasi_fd_write(1, &iov, 1, P(OOB)), __WASI_ERRNO_FAULT);
    expect("fd_write bad fd", __wasi_fd_write(77, &iov, 1, &n),
           __WASI_ERRNO_BADF);
    expect("fd_write fd 2^31", __wasi_fd_write(0x80000000u, &iov, 1, &n),
           __WASI_ERRNO_BADF);
    expect("fd_write to stdin", __wasi_fd_write(0, &iov, 1, &n),
           __WASI_ERRNO_NOTCAPABLE);

    /* reads */
    __wasi_iovec_t riov = {P(OOB), 8};
    expect("fd_read buffer out of memory", __wasi_fd_read(0, &riov, 1, &n),
           __WASI_ERRNO_FAULT);
    expect("fd_pread on stdin", __wasi_fd_pread(0, (__wasi_iovec_t *)&iov, 1, 0, &n),
           __WASI_ERRNO_SPIPE);
    expect("fd_read bad fd", __wasi_fd_read(99, (__wasi_iovec_t *)&iov, 1, &n),
           __WASI_ERRNO_BADF);

    /* paths */
    expect("path_open path out of memory",
           raw_path_open(3, 0, I(OOB), 4, __WASI_OFLAGS_CREAT, -1, -1, 0, I(&fd)),
           __WASI_ERRNO_FAULT);
    expect("path_open fd out ptr out of memory (no file made)",
           raw_path_open(3, 0, S("never-created"), __WASI_OFLAGS_CREAT,
                         __WASI_RIGHTS_FD_READ, 0, 0, I(OOB)),
           __WASI_ERRNO_FAULT);
    expect("path_open bad dirfd",
           __wasi_path_open(42, 0, "x", __WASI_OFLAGS_CREAT, 0, 0, 0, &fd),
           __WASI_ERRNO_BADF);
    expect("path_open on stdout (not a dir)",
           __wasi_path_open(1, 0, "x", 0, 0, 0, 0, &fd), __WASI_ERRNO_NOTDIR);
    expect("path_open ../ escape from preopen /",
           __wasi_path_open(3, 0, "../etc", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd),
           __WASI_ERRNO_NOENT);
    expect("path_open rights beyond inheriting",
           __wasi_path_open(3, 0, "never-2", __WASI_OFLAGS_CREAT,
                            (uint64_t)1 << 40, 0, 0, &fd),
           __WASI_ERRNO_NOTCAPABLE);
    expect("path_create_directory path ptr+len wraps",
           raw_mkdir(3, I(0xfffffff0u), 0x20), __WASI_ERRNO_FAULT);
    expect("path_filestat_get stat out of memory",
           raw_stat(3, 0, S("/"), I(OOB)), __WASI_ERRNO_FAULT);
    expect("path_filestat_get ok", __wasi_path_filestat_get(3, 0, ".", &stat), 0);
    expect("path_readlink buffer out of memory",
           raw_readlink(3, S("x"), I(OOB), 100, I(&n)), __WASI_ERRNO_FAULT);
    expect("path_symlink target out of memory",
           raw_symlink(I(OOB), 5, 3, S("never-3")), __WASI_ERRNO_FAULT);
    expect("path_open path with a NUL byte",
           raw_path_open(3, 0, I("ab\0cd"), 5, 0, 0, 0, 0, I(&fd)), __WASI_ERRNO_INVAL);
    expect("path_open path not UTF-8",
           raw_path_open(3, 0, I("\xff\xfe"), 2, 0, 0, 0, 0, I(&fd)), __WASI_ERRNO_ILSEQ);
    expect("path_open path longer than PATH_MAX",
           raw_path_open(3, 0, 0, 5000, 0, 0, 0, 0, I(&fd)), __WASI_ERRNO_NAMETOOLONG);
    expect("path_rename new path out of memory",
           raw_rename(3, S("x"), 3, I(OOB), 8), __WASI_ERRNO_FAULT);
    expect("path_rename bad new dirfd",
           __wasi_path_rename(3, "x", 55, "y"), __WASI_ERRNO_BADF);

    /* fd metadata */
    expect("fd_fdstat_get out of memory", __wasi_fd_fdstat_get(1, P(OOB)),
           __WASI_ERRNO_FAULT);
    expect("fd_filestat_get out of memory", __wasi_fd_filestat_get(3, P(OOB)),
           __WASI_ERRNO_FAULT);
    expect("fd_prestat_get out of memory", __wasi_fd_prestat_get(3, P(OOB)),
           __WASI_ERRNO_FAULT);
    expect("fd_prestat_get not a preopen",
           __wasi_fd_prestat_get(1, (__wasi_prestat_t *)&stat), __WASI_ERRNO_BADF);
    expect("fd_prestat_dir_name name out of memory",
           __wasi_fd_prestat_dir_name(3, P(OOB), 1), __WASI_ERRNO_FAULT);
    expect("fd_prestat_dir_name ok", __wasi_fd_prestat_dir_name(3, (uint8_t *)buf, 1), 0);
    expect("fd_prestat_dir_name is /", buf[0], '/');
    __wasi_filesize_t off;
    expect("fd_seek out ptr out of memory", __wasi_fd_seek(3, 0, 0, P(OOB)),
           __WASI_ERRNO_FAULT);
    expect("fd_seek bad whence", __wasi_fd_seek(0, 0, 7, &off), __WASI_ERRNO_SPIPE);
    expect("fd_tell out of memory", __wasi_fd_tell(3, P(OOB)), __WASI_ERRNO_FAULT);
    expect("fd_readdir buffer wraps",
           __wasi_fd_readdir(3, P(0xfffffff0u), 0x100, 0, &n), __WASI_ERRNO_FAULT);
    expect("fd_readdir on a file", __wasi_fd_readdir(1, (uint8_t *)buf, 64, 0, &n),
           __WASI_ERRNO_NOTCAPABLE);
    expect("fd_renumber bad from", __wasi_fd_renumber(88, 1), __WASI_ERRNO_BADF);
    expect("fd_close bad fd", __wasi_fd_close(1234), __WASI_ERRNO_BADF);

    /* args, environ, clocks, random */
    expect("args_sizes_get out of memory", __wasi_args_sizes_get(P(OOB), &n),
           __WASI_ERRNO_FAULT);
    expect("args_get out of memory", __wasi_args_get(P(OOB), P(OOB)),
           __WASI_ERRNO_FAULT);
    expect("environ_get out of memory", __wasi_environ_get(P(OOB), P(OOB)),
           __WASI_ERRNO_FAULT);
    __wasi_timestamp_t t;
    expect("clock_time_get out of memory",
           __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 0, P(OOB)),
           __WASI_ERRNO_FAULT);
    expect("clock_time_get bad clock", __wasi_clock_time_get(9, 0, &t),
           __WASI_ERRNO_INVAL);
    expect("clock_res_get ok", __wasi_clock_res_get(__WASI_CLOCKID_REALTIME, &t), 0);
    expect("random_get out of memory", __wasi_random_get(P(OOB), 32),
           __WASI_ERRNO_FAULT);
    expect("random_get huge", __wasi_random_get((uint8_t *)buf, 0xffffffffu),
           __WASI_ERRNO_FAULT);
    expect("random_get ok", __wasi_random_get((uint8_t *)buf, sizeof(buf)), 0);

    /* poll_oneoff */
    __wasi_subscription_t sub;
    __wasi_event_t ev;
    memset(&sub, 0, sizeof(sub));
    sub.u.tag = __WASI_EVENTTYPE_CLOCK;
    sub.u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    sub.u.u.clock.timeout = 1000000; /* 1 ms */
    expect("poll_oneoff subs out of memory", __wasi_poll_oneoff(P(OOB), &ev, 1, &n),
           __WASI_ERRNO_FAULT);
    expect("poll_oneoff huge count", __wasi_poll_oneoff(&sub, &ev, 0x10000000u, &n),
           __WASI_ERRNO_FAULT);
    expect("poll_oneoff no subscriptions", __wasi_poll_oneoff(&sub, &ev, 0, &n),
           __WASI_ERRNO_INVAL);
    sub.userdata = 42;
    expect("poll_oneoff sleep 1ms", __wasi_poll_oneoff(&sub, &ev, 1, &n), 0);
    expect("poll_oneoff one event", (int)n, 1);
    expect("poll_oneoff userdata", (int)ev.userdata, 42);
    expect("poll_oneoff clock type", ev.type, __WASI_EVENTTYPE_CLOCK);
    __wasi_subscription_t subs[2];
    memset(subs, 0, sizeof(subs));
    subs[0] = sub;
    subs[0].u.u.clock.timeout = 10000000000ull; /* 10 s: must not wait */
    subs[1].userdata = 7;
    subs[1].u.tag = __WASI_EVENTTYPE_FD_WRITE;
    subs[1].u.u.fd_write.file_descriptor = 1;
    __wasi_event_t evs[2];
    expect("poll_oneoff stdout writable", __wasi_poll_oneoff(subs, evs, 2, &n), 0);
    expect("poll_oneoff stdout event", (int)(n == 1 && evs[0].userdata == 7), 1);
    subs[1].u.tag = __WASI_EVENTTYPE_FD_READ;
    subs[1].u.u.fd_read.file_descriptor = 0; /* stdin: the host fd decides */
    expect("poll_oneoff stdin readable", __wasi_poll_oneoff(subs, evs, 2, &n), 0);
    expect("poll_oneoff stdin event",
           (int)(n == 1 && evs[0].userdata == 7 &&
                 evs[0].type == __WASI_EVENTTYPE_FD_READ), 1);
    subs[1].u.tag = __WASI_EVENTTYPE_FD_WRITE;
    subs[1].u.u.fd_write.file_descriptor = 333;
    expect("poll_oneoff bad fd", __wasi_poll_oneoff(subs, evs, 2, &n), 0);
    expect("poll_oneoff bad fd event", (int)(n == 1 && evs[0].error == __WASI_ERRNO_BADF), 1);

    /* sockets: no fd is a socket */
    expect("sock_shutdown on a file", __wasi_sock_shutdown(3, __WASI_SDFLAGS_RD),
           __WASI_ERRNO_NOTSOCK);
    expect("sock_shutdown bad fd", __wasi_sock_shutdown(99, __WASI_SDFLAGS_RD),
           __WASI_ERRNO_BADF);
    __wasi_size_t ro;
    __wasi_roflags_t rf;
    expect("sock_recv on stdin",
           __wasi_sock_recv(0, (__wasi_iovec_t *)&iov, 1, 0, &ro, &rf),
           __WASI_ERRNO_NOTSOCK);
    expect("sock_send on stdout", __wasi_sock_send(1, &iov, 1, 0, &ro),
           __WASI_ERRNO_NOTSOCK);
    expect("sched_yield", __wasi_sched_yield(), 0);
    expect("proc_raise 0", raw_proc_raise(0), 0);

    printf("failures %d\n", failures);
    return failures;
}
