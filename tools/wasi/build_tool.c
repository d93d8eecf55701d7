/*
 * chronofs-wasi-build GUEST.wasm CACHE_DIR OUT.so — build a guest object
 * with cfs_wasi_build() (into CACHE_DIR, reused when cached) and copy it to
 * OUT.so (temp file + rename). The build system's way to make the tests'
 * guests through exactly the path `chronofs run` uses.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cfs_wasi.h"

static int copy_file(const char *from, const char *to)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp%ld", to, (long)getpid()) >=
        (int)sizeof(tmp))
        return -1;
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n) {
            rc = -1;
            break;
        }
    if (n < 0)
        rc = -1;
    close(in);
    if (close(out))
        rc = -1;
    if (!rc && rename(tmp, to))
        rc = -1;
    if (rc)
        unlink(tmp);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: chronofs-wasi-build GUEST.wasm CACHE_DIR OUT.so\n");
        return 2;
    }
    char so[4096], err[512];
    if (cfs_wasi_build(argv[1], argv[2], so, sizeof(so), err, sizeof(err))) {
        fprintf(stderr, "chronofs-wasi-build: %s\n", err);
        return 1;
    }
    if (copy_file(so, argv[3])) {
        fprintf(stderr, "chronofs-wasi-build: cannot copy %s to %s\n", so,
                argv[3]);
        return 1;
    }
    return 0;
}
