/*
 * test_build.c — cfs_wasi_build(): a cached object is reused without the
 * toolchain, a module chronofs cannot run is refused with a message naming
 * why (an import it does not provide, a wrong signature, not a module, a
 * truncated one), a missing toolchain names its package; the default cache
 * directory; custom sections.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasi_test.h"

static void rm_cache(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "/bin/rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(build, builds_once_then_reuses_the_cached_object)
{
    char dir[] = "/tmp/cfs-wasi-cache-XXXXXX";
    cr_assert(mkdtemp(dir));
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/a/b", dir); /* created with its parents */
    char so[4096], err[512];
    cr_assert_eq(cfs_wasi_build(CFS_GUEST_ECHO_WASM, sub, so, sizeof(so), err,
                                sizeof(err)), 0, "%s", err);
    cr_assert(strncmp(so, sub, strlen(sub)) == 0, "%s", so);
    struct stat st1, st2;
    cr_assert_eq(stat(so, &st1), 0);
    /* No toolchain now: a cached object must not need it. */
    setenv("PATH", "/nonexistent", 1);
    char so2[4096];
    cr_assert_eq(cfs_wasi_build(CFS_GUEST_ECHO_WASM, sub, so2, sizeof(so2), err,
                                sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(so, so2);
    cr_assert_eq(stat(so2, &st2), 0);
    cr_assert_eq(st1.st_ino, st2.st_ino, "rebuilt");
    cr_assert_eq(st1.st_mtim.tv_nsec, st2.st_mtim.tv_nsec, "rebuilt");
    /* no temporary build directories left behind */
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s' | grep -v '\\.so$')\"",
             sub);
    setenv("PATH", "/usr/bin:/bin", 1);
    cr_assert_eq(system(cmd), 0, "leftovers in the cache");
    /* and it runs */
    cfs_fs *fs = wt_fs_new(NULL);
    const char *argv[] = {"echo", "ret:5", NULL};
    wt_run r;
    wt_run_guest(so, fs, argv, NULL, 0, NULL, &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_assert_eq(r.res.exit_code, 5);
    wt_run_free(&r);
    cfs_fs_free(fs);
    rm_cache(dir);
}

static void refused(const char *wasm, const char *needle)
{
    char dir[] = "/tmp/cfs-wasi-cache-XXXXXX";
    cr_assert(mkdtemp(dir));
    char so[4096], err[512] = "";
    cr_assert_eq(cfs_wasi_build(wasm, dir, so, sizeof(so), err, sizeof(err)),
                 -1);
    cr_assert(strstr(err, needle), "message: %s", err);
    cr_assert(!strchr(err, '\n'), "one line: %s", err);
    rm_cache(dir);
}

Test(build, refuses_an_import_chronofs_does_not_provide)
{
    refused(CFS_MODULE_BADIMPORT_WASM, "import env.host_magic is not provided");
}

Test(build, refuses_a_wasi_import_with_the_wrong_signature)
{
    refused(CFS_MODULE_BADSIG_WASM,
            "wasi_snapshot_preview1.fd_close has the wrong signature");
}

Test(build, refuses_what_is_not_a_module)
{
    char path[] = "/tmp/cfs-wasi-junk-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(write(fd, "#!/bin/sh\necho hi\n", 18) == 18);
    close(fd);
    refused(path, "not a WebAssembly module");
    unlink(path);
}

Test(build, refuses_a_truncated_module)
{
    size_t len;
    char *mod = wt_read_file(CFS_GUEST_ECHO_WASM, &len);
    cr_assert(mod && len > 200);
    char path[] = "/tmp/cfs-wasi-trunc-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(write(fd, mod, len / 2) == (ssize_t)(len / 2));
    close(fd);
    free(mod);
    refused(path, "malformed module");
    unlink(path);
}

Test(build, a_missing_toolchain_names_the_package)
{
    setenv("PATH", "/nonexistent", 1);
    refused(CFS_GUEST_TRAP_WASM, "install the Debian package wabt");
}

Test(build, default_cache_dir)
{
    char buf[256];
    setenv("CHRONOFS_CACHE", "/x/cache", 1);
    cr_assert_str_eq(cfs_wasi_default_cache(buf, sizeof(buf)), "/x/cache");
    unsetenv("CHRONOFS_CACHE");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    cr_assert_str_eq(cfs_wasi_default_cache(buf, sizeof(buf)),
                     "/xdg/chronofs/wasm");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    cr_assert_str_eq(cfs_wasi_default_cache(buf, sizeof(buf)),
                     "/home/u/.cache/chronofs/wasm");
    cr_assert_null(cfs_wasi_default_cache(buf, 8), "too long for the buffer");
}

Test(build, custom_sections)
{
    uint8_t *data;
    size_t len;
    char err[256];
    /* clang records its producers in a custom section */
    cr_assert_eq(cfs_wasi_custom_section(CFS_GUEST_ECHO_WASM, "producers",
                                         &data, &len, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert(len > 0 && data);
    cr_assert(memmem(data, len, "clang", 5), "producers names clang");
    free(data);
    cr_assert_eq(cfs_wasi_custom_section(CFS_GUEST_ECHO_WASM, "chronofs.none",
                                         &data, &len, err, sizeof(err)), 1);
    cr_assert_null(data);
    cr_assert_eq(cfs_wasi_custom_section("/nonexistent.wasm", "x", &data, &len,
                                         err, sizeof(err)), -1);
    cr_assert(strstr(err, "/nonexistent.wasm"), "%s", err);
}

/* A minimal module by hand: no imports, an exported memory, a _start whose
 * body is `body` (locals vector included). */
static void write_module(const char *path, const uint8_t *body, uint8_t blen)
{
    uint8_t m[128];
    size_t k = 0;
    static const uint8_t head[] = {
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, /* magic, version */
        0x01, 0x04, 0x01, 0x60, 0x00, 0x00,             /* type () -> () */
        0x03, 0x02, 0x01, 0x00,                         /* func 0: type 0 */
        0x05, 0x03, 0x01, 0x00, 0x01,                   /* memory min 1 */
        0x07, 0x13, 0x02,                               /* exports: */
        0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00, /*  _start func 0 */
        0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00, /*  memory mem 0 */
    };
    memcpy(m, head, sizeof(head));
    k = sizeof(head);
    m[k++] = 0x0a;              /* code section */
    m[k++] = (uint8_t)(blen + 2);
    m[k++] = 0x01;              /* one body */
    m[k++] = blen;
    memcpy(m + k, body, blen);
    k += blen;
    FILE *f = fopen(path, "wb");
    cr_assert(f && fwrite(m, 1, k, f) == k);
    fclose(f);
}

Test(build, a_module_wasm2c_rejects_gets_wasm2c_s_reason)
{
    static const uint8_t body[] = {0x00, 0xff, 0x0b}; /* no locals, bad opcode */
    char path[] = "/tmp/cfs-wasi-badcode-XXXXXX";
    close(mkstemp(path));
    write_module(path, body, sizeof(body));
    refused(path, "wasm2c: ");
    unlink(path);
}

Test(build, a_module_without_imports_runs)
{
    static const uint8_t body[] = {0x00, 0x01, 0x0b}; /* nop, end */
    char path[] = "/tmp/cfs-wasi-nop-XXXXXX";
    close(mkstemp(path));
    write_module(path, body, sizeof(body));
    char dir[] = "/tmp/cfs-wasi-cache-XXXXXX";
    cr_assert(mkdtemp(dir));
    char so[4096], err[512];
    cr_assert_eq(cfs_wasi_build(path, dir, so, sizeof(so), err, sizeof(err)), 0,
                 "%s", err);
    cfs_fs *fs = wt_fs_new(NULL);
    const char *argv[] = {"nop", NULL};
    wt_run r;
    wt_run_guest(so, fs, argv, NULL, 0, NULL, &r);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_assert_eq(r.res.exit_code, 0);
    cr_assert_eq(r.res.trapped, 0);
    wt_run_free(&r);
    cfs_fs_free(fs);
    unlink(path);
    rm_cache(dir);
}

Test(build, a_module_without_start_is_refused)
{
    char path[] = "/tmp/cfs-wasi-nostart-XXXXXX";
    close(mkstemp(path));
    static const uint8_t body[] = {0x00, 0x0b};
    write_module(path, body, sizeof(body));
    /* rename the export: "_start" -> "_stert" */
    size_t len;
    char *m = wt_read_file(path, &len);
    char *s = memmem(m, len, "_start", 6);
    cr_assert(s);
    s[3] = 'e';
    FILE *f = fopen(path, "wb");
    fwrite(m, 1, len, f);
    fclose(f);
    free(m);
    refused(path, "no _start export");
    unlink(path);
}

Test(build, run_refuses_what_is_not_a_guest_object)
{
    cfs_fs *fs = wt_fs_new(NULL);
    cfs_wasi_config cfg = {.fs = fs};
    cfs_wasi_result res;
    char err[512];
    cr_assert_eq(cfs_wasi_run("/nonexistent/guest.so", &cfg, &res, err,
                              sizeof(err)), -1);
    cr_assert(strstr(err, "cannot load"), "%s", err);
    /* a shared object that is not a guest */
    cr_assert_eq(cfs_wasi_run("libm.so.6", &cfg, &res, err, sizeof(err)), -1);
    cfs_fs_free(fs);
}
