/*
 * allimports — declares and calls every wasi_snapshot_preview1 function
 * (all 46, sock_accept included) as a raw import, so the host's glue is
 * compiled against every signature wasm2c can declare, and checks the
 * answers of the ones the other guests do not reach: rights dropped with
 * fd_fdstat_set_rights stay dropped, fd_advise/fd_allocate, path_link,
 * path_filestat_set_times, fdflags, readdir cookies, sockets. Prints
 * "ok"/"FAIL" lines; the exit status is the number of failures.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define W(name) \
    __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))
typedef int32_t i32;
typedef int64_t i64;
W(args_get) i32 w_args_get(i32, i32);
W(args_sizes_get) i32 w_args_sizes_get(i32, i32);
W(environ_get) i32 w_environ_get(i32, i32);
W(environ_sizes_get) i32 w_environ_sizes_get(i32, i32);
W(clock_res_get) i32 w_clock_res_get(i32, i32);
W(clock_time_get) i32 w_clock_time_get(i32, i64, i32);
W(fd_advise) i32 w_fd_advise(i32, i64, i64, i32);
W(fd_allocate) i32 w_fd_allocate(i32, i64, i64);
W(fd_close) i32 w_fd_close(i32);
W(fd_datasync) i32 w_fd_datasync(i32);
W(fd_fdstat_get) i32 w_fd_fdstat_get(i32, i32);
W(fd_fdstat_set_flags) i32 w_fd_fdstat_set_flags(i32, i32);
W(fd_fdstat_set_rights) i32 w_fd_fdstat_set_rights(i32, i64, i64);
W(fd_filestat_get) i32 w_fd_filestat_get(i32, i32);
W(fd_filestat_set_size) i32 w_fd_filestat_set_size(i32, i64);
W(fd_filestat_set_times) i32 w_fd_filestat_set_times(i32, i64, i64, i32);
W(fd_pread) i32 w_fd_pread(i32, i32, i32, i64, i32);
W(fd_prestat_get) i32 w_fd_prestat_get(i32, i32);
W(fd_prestat_dir_name) i32 w_fd_prestat_dir_name(i32, i32, i32);
W(fd_pwrite) i32 w_fd_pwrite(i32, i32, i32, i64, i32);
W(fd_read) i32 w_fd_read(i32, i32, i32, i32);
W(fd_readdir) i32 w_fd_readdir(i32, i32, i32, i64, i32);
W(fd_renumber) i32 w_fd_renumber(i32, i32);
W(fd_seek) i32 w_fd_seek(i32, i64, i32, i32);
W(fd_sync) i32 w_fd_sync(i32);
W(fd_tell) i32 w_fd_tell(i32, i32);
W(fd_write) i32 w_fd_write(i32, i32, i32, i32);
W(path_create_directory) i32 w_path_create_directory(i32, i32, i32);
W(path_filestat_get) i32 w_path_filestat_get(i32, i32, i32, i32, i32);
W(path_filestat_set_times) i32 w_path_filestat_set_times(i32, i32, i32, i32, i64, i64, i32);
W(path_link) i32 w_path_link(i32, i32, i32, i32, i32, i32, i32);
W(path_open) i32 w_path_open(i32, i32, i32, i32, i32, i64, i64, i32, i32);
W(path_readlink) i32 w_path_readlink(i32, i32, i32, i32, i32, i32);
W(path_remove_directory) i32 w_path_remove_directory(i32, i32, i32);
W(path_rename) i32 w_path_rename(i32, i32, i32, i32, i32, i32);
W(path_symlink) i32 w_path_symlink(i32, i32, i32, i32, i32);
W(path_unlink_file) i32 w_path_unlink_file(i32, i32, i32);
W(poll_oneoff) i32 w_poll_oneoff(i32, i32, i32, i32);
W(proc_exit) void w_proc_exit(i32);
W(proc_raise) i32 w_proc_raise(i32);
W(sched_yield) i32 w_sched_yield(void);
W(random_get) i32 w_random_get(i32, i32);
W(sock_accept) i32 w_sock_accept(i32, i32, i32);
W(sock_recv) i32 w_sock_recv(i32, i32, i32, i32, i32, i32);
W(sock_send) i32 w_sock_send(i32, i32, i32, i32, i32);
W(sock_shutdown) i32 w_sock_shutdown(i32, i32);

#define A(p) ((i32)(uintptr_t)(p))
#define S(s) A(s), (i32)strlen(s)

/* WASI errno values */
enum { E_BADF = 8, E_INVAL = 28, E_NOTSOCK = 57, E_NOTCAPABLE = 76,
       E_EXIST = 20, E_NOENT = 44 };
#define RIGHT_FD_READ (1ll << 1)
#define RIGHT_FD_SEEK (1ll << 2)
#define RIGHT_FD_TELL (1ll << 5)
#define RIGHT_FD_WRITE (1ll << 6)
#define RIGHT_FD_FILESTAT_GET (1ll << 21)

static int failures;

static void expect(const char *label, long long got, long long want)
{
    if (got == want) {
        printf("ok %s\n", label);
    } else {
        printf("FAIL %s: got %lld want %lld\n", label, got, want);
        failures++;
    }
}

static uint64_t u64at(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

int main(void)
{
    uint32_t n = 0, fd = 0, fd2 = 0;
    uint8_t st[64], fst[24], buf[512];
    uint64_t pos;

    uint32_t argc, argsz;
    expect("args_sizes_get", w_args_sizes_get(A(&argc), A(&argsz)), 0);
    expect("argc", argc, 1);
    expect("clock_time_get realtime", w_clock_time_get(0, 1, A(&pos)), 0);
    expect("realtime is after 2020", pos > 1577836800ull * 1000000000ull, 1);

    /* a file with all rights, then with fewer */
    expect("path_open f",
           w_path_open(3, 0, S("f"), 1 /*creat*/, -1ll & ((1ll << 30) - 1), 0, 0, A(&fd)), 0);
    expect("fd_allocate 0..100", w_fd_allocate((i32)fd, 0, 100), 0);
    expect("fd_filestat_get", w_fd_filestat_get((i32)fd, A(st)), 0);
    expect("size after allocate", (long long)u64at(st + 32), 100);
    expect("fd_advise", w_fd_advise((i32)fd, 0, 100, 1), 0);
    expect("fd_sync", w_fd_sync((i32)fd), 0);
    expect("fd_datasync", w_fd_datasync((i32)fd), 0);
    expect("fd_advise bad advice", w_fd_advise((i32)fd, 0, 100, 9), E_INVAL);
    expect("fd_filestat_set_size 10", w_fd_filestat_set_size((i32)fd, 10), 0);
    expect("fd_fdstat_set_flags append", w_fd_fdstat_set_flags((i32)fd, 1), 0);
    expect("fd_fdstat_get", w_fd_fdstat_get((i32)fd, A(fst)), 0);
    expect("fdflags has append", fst[2] & 1, 1);
    expect("fd_fdstat_set_rights drop write",
           w_fd_fdstat_set_rights((i32)fd, RIGHT_FD_READ | RIGHT_FD_SEEK |
                                                    RIGHT_FD_TELL |
                                                    RIGHT_FD_FILESTAT_GET, 0), 0);
    uint8_t iov[8];
    uint32_t p = A("data"), l = 4;
    memcpy(iov, &p, 4);
    memcpy(iov + 4, &l, 4);
    expect("fd_write without FD_WRITE", w_fd_write((i32)fd, A(iov), 1, A(&n)),
           E_NOTCAPABLE);
    expect("fd_fdstat_set_rights add back",
           w_fd_fdstat_set_rights((i32)fd, RIGHT_FD_READ | RIGHT_FD_WRITE, 0),
           E_NOTCAPABLE);
    expect("fd_pwrite without FD_WRITE",
           w_fd_pwrite((i32)fd, A(iov), 1, 0, A(&n)), E_NOTCAPABLE);
    expect("fd_tell", w_fd_tell((i32)fd, A(&pos)), 0);
    expect("fd_seek", w_fd_seek((i32)fd, 2, 0, A(&pos)), 0);
    expect("fd_read at 2", w_fd_read((i32)fd, A(iov), 1, A(&n)), 0);
    expect("fd_pread at 0", w_fd_pread((i32)fd, A(iov), 1, 0, A(&n)), 0);
    expect("fd_sync without FD_SYNC", w_fd_sync((i32)fd), E_NOTCAPABLE);
    expect("fd_datasync without FD_DATASYNC", w_fd_datasync((i32)fd), E_NOTCAPABLE);
    expect("fd_filestat_set_times", w_fd_filestat_set_times((i32)fd, 5, 6, 1 | 4),
           E_NOTCAPABLE); /* FD_FILESTAT_SET_TIMES was dropped */
    expect("fd_close", w_fd_close((i32)fd), 0);

    /* fdflags given at open: append and sync */
    expect("path_open sync|append",
           w_path_open(3, 0, S("log"), 1, RIGHT_FD_WRITE | RIGHT_FD_SEEK, 0,
                       1 | 16, A(&fd)), 0);
    expect("fd_fdstat_get", w_fd_fdstat_get((i32)fd, A(fst)), 0);
    expect("fdflags append|sync", fst[2], 1 | 16);
    expect("fd_write", w_fd_write((i32)fd, A(iov), 1, A(&n)), 0);
    expect("fd_seek 0", w_fd_seek((i32)fd, 0, 0, A(&pos)), 0);
    expect("fd_write appends", w_fd_write((i32)fd, A(iov), 1, A(&n)), 0);
    expect("fd_pwrite appends too", w_fd_pwrite((i32)fd, A(iov), 1, 0, A(&n)), 0);
    expect("path_filestat_get log", w_path_filestat_get(3, 0, S("log"), A(st)), 0);
    expect("log size", (long long)u64at(st + 32), 12);
    expect("fd_close log", w_fd_close((i32)fd), 0);

    /* paths */
    expect("path_filestat_set_times",
           w_path_filestat_set_times(3, 0, S("f"), 7000000000ll, 8000000000ll, 1 | 4), 0);
    expect("path_filestat_get", w_path_filestat_get(3, 0, S("f"), A(st)), 0);
    expect("atim", (long long)u64at(st + 40), 7000000000ll);
    expect("mtim", (long long)u64at(st + 48), 8000000000ll);
    expect("path_link f g", w_path_link(3, 0, S("f"), 3, S("g")), 0);
    expect("path_link onto g", w_path_link(3, 0, S("f"), 3, S("g")), E_EXIST);
    expect("path_filestat_get g", w_path_filestat_get(3, 0, S("g"), A(st)), 0);
    expect("nlink 2", (long long)u64at(st + 24), 2);
    expect("path_symlink", w_path_symlink(S("f"), 3, S("s")), 0);
    expect("path_readlink", w_path_readlink(3, S("s"), A(buf), 8, A(&n)), 0);
    expect("readlink length", n, 1);
    expect("path_rename g h", w_path_rename(3, S("g"), 3, S("h")), 0);
    expect("path_unlink_file h", w_path_unlink_file(3, S("h")), 0);
    expect("path_unlink_file h again", w_path_unlink_file(3, S("h")), E_NOENT);
    expect("path_create_directory d", w_path_create_directory(3, S("d")), 0);

    /* readdir: cookies resume; every d_ino is an inode the fs knows */
    expect("path_open d", w_path_open(3, 0, S("d"), 2, (1ll << 14) | (1ll << 13) | (1ll << 10), 0, 0, A(&fd2)), 0);
    expect("path_open d/x", w_path_open((i32)fd2, 0, S("x"), 1, 0, 0, 0, A(&fd)), 0);
    expect("fd_readdir", w_fd_readdir((i32)fd2, A(buf), sizeof(buf), 0, A(&n)), 0);
    expect("three entries (. .. x)", n, 3 * 24 + 1 + 2 + 1);
    uint64_t cookie = u64at(buf); /* after "." */
    expect("fd_readdir from cookie", w_fd_readdir((i32)fd2, A(buf), sizeof(buf), (i64)cookie, A(&n)), 0);
    expect("two entries (.. x)", n, 2 * 24 + 2 + 1);
    expect("fd_readdir tiny buffer", w_fd_readdir((i32)fd2, A(buf), 10, 0, A(&n)), 0);
    expect("tiny buffer filled", n, 10);
    expect("fd_renumber", w_fd_renumber((i32)fd, (i32)fd2), 0);
    expect("fd_close renumbered-away", w_fd_close((i32)fd), E_BADF);
    expect("fd_close", w_fd_close((i32)fd2), 0);
    expect("path_unlink_file d/x", w_path_unlink_file(3, S("d/x")), 0);
    expect("path_remove_directory d", w_path_remove_directory(3, S("d")), 0);

    /* prestat, environ, clocks, poll, random */
    expect("fd_prestat_get", w_fd_prestat_get(3, A(buf)), 0);
    expect("fd_prestat_dir_name", w_fd_prestat_dir_name(3, A(buf + 8), 1), 0);
    expect("fd_prestat_dir_name too small", w_fd_prestat_dir_name(3, A(buf + 8), 0), 37);
    uint32_t envc, envsz;
    expect("environ_sizes_get", w_environ_sizes_get(A(&envc), A(&envsz)), 0);
    expect("environ_get", w_environ_get(A(buf), A(buf + 256)), 0);
    expect("args_get", w_args_get(A(buf), A(buf + 256)), 0);
    expect("clock_res_get monotonic", w_clock_res_get(1, A(&pos)), 0);
    expect("clock_time_get process cputime", w_clock_time_get(2, 0, A(&pos)), 0);
    expect("clock_time_get thread cputime", w_clock_time_get(3, 0, A(&pos)), 0);
    expect("random_get", w_random_get(A(buf), 16), 0);
    expect("sched_yield", w_sched_yield(), 0);
    uint8_t sub[48] = {0}, ev[32];
    sub[8] = 1; /* fd_read */
    sub[16] = 3; /* the "/" preopen: a directory is always ready */
    expect("poll_oneoff fd_read on a directory",
           w_poll_oneoff(A(sub), A(ev), 1, A(&n)), 0);
    expect("one event", n, 1);
    expect("poll_oneoff bad tag", (sub[8] = 9, w_poll_oneoff(A(sub), A(ev), 1, A(&n))),
           E_INVAL);

    /* sockets */
    expect("sock_accept on a dir", w_sock_accept(3, 0, A(&fd)), E_NOTSOCK);
    expect("sock_accept bad fd", w_sock_accept(77, 0, A(&fd)), E_BADF);
    expect("sock_recv", w_sock_recv(3, A(iov), 1, 0, A(&n), A(&fd)), E_NOTSOCK);
    expect("sock_send", w_sock_send(3, A(iov), 1, 0, A(&n)), E_NOTSOCK);
    expect("sock_shutdown", w_sock_shutdown(3, 1), E_NOTSOCK);
    expect("proc_raise bad signal", w_proc_raise(99), E_INVAL);

    printf("failures %d\n", failures);
    fflush(stdout);
    w_proc_exit(failures ? 100 + failures : 42);
    return 1; /* not reached */
}
