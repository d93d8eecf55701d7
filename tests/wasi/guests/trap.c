/*
 * trap GUEST-KIND — write a file (and leave an fd open on it), then trap:
 * unreachable | oob | recurse | stack | div0 | indirect. "loop N" writes N lines
 * instead (for the stop test), "raise" raises SIGTERM.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#pragma clang diagnostic ignored "-Winfinite-recursion"

__attribute__((import_module("wasi_snapshot_preview1"),
               import_name("proc_raise"))) int raw_proc_raise(int sig);

static volatile int sink;

/* Recursion on the native (wasm value) stack only: wasm2c's depth count
 * traps it, "call stack exhausted". The store after the call keeps clang
 * from turning it into a loop. */
__attribute__((noinline)) static int recurse(int n)
{
    int r = recurse(n + 1);
    sink = r;
    return r + n;
}

/* Recursion with a frame in linear memory (an array whose address is
 * taken): the shadow stack runs off the bottom of memory first, an out of
 * bounds access. */
__attribute__((noinline)) static int recurse_mem(int n)
{
    volatile char pad[64];
    pad[n % 64] = (char)n;
    return recurse_mem(n + 1) + pad[(n + 1) % 64];
}

typedef int (*fn_t)(int);

int main(int argc, char **argv)
{
    const char *kind = argc > 1 ? argv[1] : "unreachable";
    mkdir("/t", 0755);
    int fd = open("/t/file", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "before the trap\n", 16) != 16)
        return 2;
    if (strcmp(kind, "loop") == 0) {
        int n = argc > 2 ? atoi(argv[2]) : 1000;
        for (int i = 0; i < n; i++)
            if (write(fd, "line\n", 5) != 5)
                return 3;
        close(fd);
        return 0;
    }
    printf("about to %s\n", kind);
    fflush(stdout);
    if (strcmp(kind, "unreachable") == 0)
        __builtin_trap();
    if (strcmp(kind, "oob") == 0)
        sink = *(volatile int *)(uintptr_t)0xfffffff0u;
    if (strcmp(kind, "recurse") == 0)
        sink = recurse(0);
    if (strcmp(kind, "stack") == 0)
        sink = recurse_mem(0);
    if (strcmp(kind, "div0") == 0) {
        volatile int zero = 0;
        sink = 10 / zero;
    }
    if (strcmp(kind, "indirect") == 0) {
        volatile uintptr_t bogus = 12345;
        sink = ((fn_t)bogus)(1);
    }
    if (strcmp(kind, "raise") == 0)
        raw_proc_raise(15); /* SIGTERM */
    return 1;
}
