/*
 * build.c — from a .wasm module to a cached native guest object.
 *
 * cfs_wasi_build() checks the module itself first (a minimal reader of the
 * binary format: sections, imports, exports, custom sections), so that an
 * import chronofs does not provide is named before wasm2c and the compiler
 * run, then translates with `wasm2c -n guest`, compiles the translation,
 * wabt's runtime and guest_glue.c into one shared object in a temporary
 * directory inside the cache and renames it into place.
 *
 * The cache key is the module's xxh3-128 plus the host ABI: CFS_WASI_ABI
 * and a hash of the glue, wasi_abi.h and the compiler flags, so changing
 * any of them never loads an object built for another host.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxh_x86dispatch.h>

#include "cfs_wasi.h"
#include "host.h"
#include "wasi_abi.h"
#include "wasi_glue_text.h"   /* generated: cfs_wasi_glue_c, cfs_wasi_abi_h */

extern char **environ;

#define WABT_RUNTIME_DIR "/usr/share/wabt/wasm2c"
#define WABT_RUNTIME_C WABT_RUNTIME_DIR "/wasm-rt-impl.c"
#define WABT_RT_HEADER "/usr/include/wasm-rt.h"

#define STR2(x) #x
#define STR(x) STR2(x)
/* Flags every guest is compiled with; part of the cache key. */
static const char *const cc_flags[] = {
    "-shared", "-fPIC", "-O2", "-w", "-fvisibility=hidden",
    "-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0",
    "-DWASM_RT_USE_STACK_DEPTH_COUNT=1",
    ("-DWASM_RT_MAX_CALL_STACK_DEPTH=" STR(CFS_WASI_MAX_CALL_DEPTH)),
};


/* ---------------------------------------------------------------------- */
/* Reading the module                                                       */

struct rd {
    const uint8_t *p, *end;
};

static int rd_u32(struct rd *r, uint32_t *out)
{
    uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        if (r->p >= r->end)
            return -1;
        uint8_t b = *r->p++;
        if (shift == 28 && (b & 0x70))
            return -1;
        v |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int rd_bytes(struct rd *r, const uint8_t **p, uint32_t *len)
{
    if (rd_u32(r, len) || (size_t)(r->end - r->p) < *len)
        return -1;
    *p = r->p;
    r->p += *len;
    return 0;
}

static int rd_byte(struct rd *r, uint8_t *b)
{
    if (r->p >= r->end)
        return -1;
    *b = *r->p++;
    return 0;
}

static int read_file(const char *path, uint8_t **data, size_t *len, char *err,
                     size_t errcap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cfs_wasi_seterr(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        cfs_wasi_seterr(err, errcap, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        cfs_wasi_seterr(err, errcap, "%s: out of memory", path);
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            cfs_wasi_seterr(err, errcap, "%s: read failed", path);
            free(buf);
            close(fd);
            return -1;
        }
        got += (size_t)k;
    }
    close(fd);
    *data = buf;
    *len = n;
    return 0;
}

/* Visit the sections: fn(ctx, id, body) for each; non-zero stops. */
typedef int (*section_fn)(void *ctx, uint8_t id, struct rd body);

static int each_section(const uint8_t *mod, size_t len, section_fn fn,
                        void *ctx, char *err, size_t errcap)
{
    static const uint8_t magic[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    if (len < 8 || memcmp(mod, magic, 8) != 0) {
        cfs_wasi_seterr(err, errcap, "not a WebAssembly module (bad magic or version)");
        return -1;
    }
    struct rd r = {mod + 8, mod + len};
    while (r.p < r.end) {
        uint8_t id;
        const uint8_t *body;
        uint32_t blen;
        size_t at = (size_t)(r.p - mod);
        if (rd_byte(&r, &id) || rd_bytes(&r, &body, &blen)) {
            cfs_wasi_seterr(err, errcap, "malformed module: section at byte %zu "
                   "runs past the end", at);
            return -1;
        }
        int rc = fn(ctx, id, (struct rd){body, body + blen});
        if (rc)
            return rc;
    }
    return 0;
}

/* The wasm signature of each wasi_snapshot_preview1 function: parameters
 * ('i' i32, 'I' i64), ':', result. */
static const struct {
    const char *name, *sig;
} wasi_funcs[] = {
    {"args_get", "ii:i"}, {"args_sizes_get", "ii:i"},
    {"environ_get", "ii:i"}, {"environ_sizes_get", "ii:i"},
    {"clock_res_get", "ii:i"}, {"clock_time_get", "iIi:i"},
    {"fd_advise", "iIIi:i"}, {"fd_allocate", "iII:i"},
    {"fd_close", "i:i"}, {"fd_datasync", "i:i"},
    {"fd_fdstat_get", "ii:i"}, {"fd_fdstat_set_flags", "ii:i"},
    {"fd_fdstat_set_rights", "iII:i"}, {"fd_filestat_get", "ii:i"},
    {"fd_filestat_set_size", "iI:i"}, {"fd_filestat_set_times", "iIIi:i"},
    {"fd_pread", "iiiIi:i"}, {"fd_prestat_get", "ii:i"},
    {"fd_prestat_dir_name", "iii:i"}, {"fd_pwrite", "iiiIi:i"},
    {"fd_read", "iiii:i"}, {"fd_readdir", "iiiIi:i"},
    {"fd_renumber", "ii:i"}, {"fd_seek", "iIii:i"}, {"fd_sync", "i:i"},
    {"fd_tell", "ii:i"}, {"fd_write", "iiii:i"},
    {"path_create_directory", "iii:i"}, {"path_filestat_get", "iiiii:i"},
    {"path_filestat_set_times", "iiiiIIi:i"}, {"path_link", "iiiiiii:i"},
    {"path_open", "iiiiiIIii:i"}, {"path_readlink", "iiiiii:i"},
    {"path_remove_directory", "iii:i"}, {"path_rename", "iiiiii:i"},
    {"path_symlink", "iiiii:i"}, {"path_unlink_file", "iii:i"},
    {"poll_oneoff", "iiii:i"}, {"proc_exit", "i:"}, {"proc_raise", "i:i"},
    {"sched_yield", ":i"}, {"random_get", "ii:i"},
    {"sock_accept", "iii:i"}, {"sock_recv", "iiiiii:i"},
    {"sock_send", "iiiii:i"}, {"sock_shutdown", "ii:i"},
};

#define MAX_TYPES 100000
struct modinfo {
    uint32_t ntypes;
    char (*types)[40];    /* signature strings, "" if too long */
    int has_start, has_memory;
    uint32_t nimports;
    char *err;
    size_t errcap;
};

static int valtype_char(uint8_t t)
{
    switch (t) {
    case 0x7f: return 'i';
    case 0x7e: return 'I';
    case 0x7d: return 'f';
    case 0x7c: return 'F';
    default: return '?';
    }
}

static int parse_types(struct modinfo *mi, struct rd r)
{
    uint32_t n;
    if (mi->types || rd_u32(&r, &n) || n > MAX_TYPES)
        return -1; /* a second type section is malformed too */
    mi->types = calloc(n ? n : 1, sizeof(*mi->types));
    if (!mi->types)
        return -1;
    mi->ntypes = n;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t form;
        if (rd_byte(&r, &form) || form != 0x60)
            return -1;
        char *s = mi->types[i];
        size_t k = 0;
        for (int part = 0; part < 2; part++) {
            uint32_t cnt;
            if (rd_u32(&r, &cnt))
                return -1;
            for (uint32_t j = 0; j < cnt; j++) {
                uint8_t t;
                if (rd_byte(&r, &t))
                    return -1;
                if (k < 38)
                    s[k++] = (char)valtype_char(t);
            }
            if (part == 0 && k < 38)
                s[k++] = ':';
        }
        s[k < 39 ? k : 39] = 0;
    }
    return 0;
}

static int bad_import(struct modinfo *mi, const char *fmt, const uint8_t *mod,
                      uint32_t mlen, const uint8_t *name, uint32_t nlen)
{
    char what[256];
    snprintf(what, sizeof(what), "%.*s.%.*s", (int)(mlen > 100 ? 100 : mlen),
             (const char *)mod, (int)(nlen > 100 ? 100 : nlen),
             (const char *)name);
    cfs_wasi_seterr(mi->err, mi->errcap, fmt, what);
    return -2;
}

static int parse_imports(struct modinfo *mi, struct rd r)
{
    uint32_t n;
    if (rd_u32(&r, &n))
        return -1;
    mi->nimports = n;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *mod, *name;
        uint32_t mlen, nlen;
        uint8_t kind;
        if (rd_bytes(&r, &mod, &mlen) || rd_bytes(&r, &name, &nlen) ||
            rd_byte(&r, &kind))
            return -1;
        if (kind != 0)
            return bad_import(mi, "import %s is not a function: chronofs "
                              "provides only wasi_snapshot_preview1 functions",
                              mod, mlen, name, nlen);
        uint32_t ti;
        if (rd_u32(&r, &ti))
            return -1;
        static const char wasi[] = "wasi_snapshot_preview1";
        if (mlen != sizeof(wasi) - 1 || memcmp(mod, wasi, mlen) != 0)
            return bad_import(mi, "import %s is not provided by chronofs "
                              "(only wasi_snapshot_preview1 functions are)",
                              mod, mlen, name, nlen);
        size_t k;
        for (k = 0; k < sizeof(wasi_funcs) / sizeof(wasi_funcs[0]); k++)
            if (strlen(wasi_funcs[k].name) == nlen &&
                memcmp(wasi_funcs[k].name, name, nlen) == 0)
                break;
        if (k == sizeof(wasi_funcs) / sizeof(wasi_funcs[0]))
            return bad_import(mi, "import %s is not provided by chronofs "
                              "(not a wasi_snapshot_preview1 function)",
                              mod, mlen, name, nlen);
        if (ti >= mi->ntypes || strcmp(mi->types[ti], wasi_funcs[k].sig) != 0)
            return bad_import(mi, "import %s has the wrong signature for "
                              "wasi_snapshot_preview1", mod, mlen, name, nlen);
    }
    return 0;
}

static int parse_exports(struct modinfo *mi, struct rd r)
{
    uint32_t n;
    if (rd_u32(&r, &n))
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *name;
        uint32_t nlen, idx;
        uint8_t kind;
        if (rd_bytes(&r, &name, &nlen) || rd_byte(&r, &kind) ||
            rd_u32(&r, &idx))
            return -1;
        if (kind == 0 && nlen == 6 && memcmp(name, "_start", 6) == 0)
            mi->has_start = 1;
        if (kind == 2 && nlen == 6 && memcmp(name, "memory", 6) == 0)
            mi->has_memory = 1;
    }
    return 0;
}

static int check_section(void *ctx, uint8_t id, struct rd body)
{
    struct modinfo *mi = ctx;
    int rc = 0;
    if (id == 1)
        rc = parse_types(mi, body);
    else if (id == 2)
        rc = parse_imports(mi, body);
    else if (id == 7)
        rc = parse_exports(mi, body);
    if (rc == -1)
        cfs_wasi_seterr(mi->err, mi->errcap, "malformed module: bad %s section",
               id == 1 ? "type" : id == 2 ? "import" : "export");
    return rc;
}

struct custom_find {
    const char *name;
    const uint8_t *data;
    size_t len;
    int found;
};

static int find_custom(void *ctx, uint8_t id, struct rd body)
{
    struct custom_find *cf = ctx;
    if (id != 0)
        return 0;
    const uint8_t *name;
    uint32_t nlen;
    if (rd_bytes(&body, &name, &nlen))
        return -1;
    if (!cf->found && strlen(cf->name) == nlen &&
        memcmp(cf->name, name, nlen) == 0) {
        cf->found = 1;
        cf->data = body.p;
        cf->len = (size_t)(body.end - body.p);
    }
    return 0;
}

int cfs_wasi_custom_section(const char *wasm_path, const char *name,
                            uint8_t **data, size_t *len, char *err,
                            size_t errcap)
{
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!wasm_path || !name || !data || !len) {
        cfs_wasi_seterr(err, errcap, "custom section: missing argument");
        return -1;
    }
    uint8_t *mod;
    size_t mlen;
    if (read_file(wasm_path, &mod, &mlen, err, errcap))
        return -1;
    struct custom_find cf = {.name = name};
    int rc = each_section(mod, mlen, find_custom, &cf, err, errcap);
    if (rc) {
        if (rc != -1 || (err && !err[0]))
            cfs_wasi_seterr(err, errcap, "malformed module: bad custom section");
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "%s", err ? err : "");
        cfs_wasi_seterr(err, errcap, "%s: %s", wasm_path, tmp);
        free(mod);
        return -1;
    }
    if (!cf.found) {
        free(mod);
        return 1;
    }
    *data = malloc(cf.len ? cf.len : 1);
    if (!*data) {
        free(mod);
        cfs_wasi_seterr(err, errcap, "out of memory");
        return -1;
    }
    memcpy(*data, cf.data, cf.len);
    *len = cf.len;
    free(mod);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* The toolchain                                                            */

const char *cfs_wasi_default_cache(char *buf, size_t cap)
{
    const char *v;
    int n;
    if ((v = getenv("CHRONOFS_CACHE")) && *v)
        n = snprintf(buf, cap, "%s", v);
    else if ((v = getenv("XDG_CACHE_HOME")) && *v)
        n = snprintf(buf, cap, "%s/chronofs/wasm", v);
    else if ((v = getenv("HOME")) && *v)
        n = snprintf(buf, cap, "%s/.cache/chronofs/wasm", v);
    else
        return NULL;
    return (n < 0 || (size_t)n >= cap) ? NULL : buf;
}

static int in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char buf[4096];
    while (*path) {
        const char *c = strchr(path, ':');
        size_t n = c ? (size_t)(c - path) : strlen(path);
        if (n && snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog) <
                         (int)sizeof(buf) &&
            access(buf, X_OK) == 0)
            return 1;
        path += n + (c ? 1 : 0);
    }
    return 0;
}

/* Run argv with stderr into `log`; 0 if it exited 0. */
static int run_tool(char *const argv[], const char *log)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ? 0 : -1;
}

/* The first meaningful line of a tool's stderr, for a one-line message. */
static void first_line(const char *log, char *out, size_t cap)
{
    out[0] = 0;
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0]) {
            /* prefer the compiler's "error:" line over context lines */
            if (!out[0] || (strstr(line, "error") && !strstr(out, "error"))) {
                size_t n = strlen(line);
                if (n >= cap)
                    n = cap - 1;
                memcpy(out, line, n);
                out[n] = 0;
            }
            if (strstr(out, "error"))
                break;
        }
    }
    fclose(f);
}

static int mkdir_p(const char *dir)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) && errno != EEXIST)
        return -1;
    return 0;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static void fsync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static const char *const work_files[] = {"guest.c", "guest.h", "glue.c",
                                         "wasi_abi.h", "wasm2c.log", "cc.log",
                                         "guest.so"};

static void remove_workdir(const char *dir)
{
    char p[4200];
    for (size_t i = 0; i < sizeof(work_files) / sizeof(work_files[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, work_files[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* The part of the cache key that is the host's, not the module's. */
static uint64_t host_abi_hash(void)
{
    XXH3_state_t *s = XXH3_createState();
    uint64_t h = 0;
    if (!s)
        return 0;
    XXH3_64bits_reset(s);
    XXH3_64bits_update(s, cfs_wasi_glue_c, strlen(cfs_wasi_glue_c));
    XXH3_64bits_update(s, cfs_wasi_abi_h, strlen(cfs_wasi_abi_h));
    for (size_t i = 0; i < sizeof(cc_flags) / sizeof(cc_flags[0]); i++)
        XXH3_64bits_update(s, cc_flags[i], strlen(cc_flags[i]) + 1);
    h = XXH3_64bits_digest(s);
    XXH3_freeState(s);
    return h;
}

int cfs_wasi_build(const char *wasm_path, const char *cache_dir, char *so_path,
                   size_t so_cap, char *err, size_t errcap)
{
    if (err && errcap)
        err[0] = 0;
    if (!wasm_path || !cache_dir || !so_path || !so_cap) {
        cfs_wasi_seterr(err, errcap, "wasi build: missing argument");
        return -1;
    }
    uint8_t *mod;
    size_t mlen;
    if (read_file(wasm_path, &mod, &mlen, err, errcap))
        return -1;

    /* Check what the host must provide before spending time on a build. */
    struct modinfo mi = {.err = err, .errcap = errcap};
    int rc = each_section(mod, mlen, check_section, &mi, err, errcap);
    free(mi.types);
    if (rc == 0 && !mi.has_start) {
        cfs_wasi_seterr(err, errcap, "no _start export: not a WASI command "
               "(build it with clang --target=wasm32-wasi)");
        rc = -1;
    } else if (rc == 0 && !mi.has_memory) {
        cfs_wasi_seterr(err, errcap, "no exported memory");
        rc = -1;
    }
    XXH128_hash_t h = XXH3_128bits_dispatch(mod, mlen);
    free(mod);
    if (rc) {
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "%s", err ? err : "");
        cfs_wasi_seterr(err, errcap, "%s: %s", wasm_path, tmp);
        return -1;
    }

    int n = snprintf(so_path, so_cap, "%s/%016llx%016llx-abi%d-%016llx.so",
                     cache_dir, (unsigned long long)h.high64,
                     (unsigned long long)h.low64, CFS_WASI_ABI,
                     (unsigned long long)host_abi_hash());
    if (n < 0 || (size_t)n >= so_cap) {
        cfs_wasi_seterr(err, errcap, "cache path too long");
        return -1;
    }
    if (access(so_path, R_OK) == 0)
        return 0;

    if (!in_path("wasm2c")) {
        cfs_wasi_seterr(err, errcap, "wasm2c not found in PATH: install the Debian "
               "package wabt");
        return -1;
    }
    if (access(WABT_RUNTIME_C, R_OK) || access(WABT_RT_HEADER, R_OK)) {
        cfs_wasi_seterr(err, errcap, "wabt's wasm2c runtime (%s, %s) is missing: "
               "install the Debian package wabt", WABT_RUNTIME_C,
               WABT_RT_HEADER);
        return -1;
    }
    if (!in_path("cc")) {
        cfs_wasi_seterr(err, errcap, "cc not found in PATH: install the Debian "
               "package gcc (or build-essential)");
        return -1;
    }
    if (mkdir_p(cache_dir)) {
        cfs_wasi_seterr(err, errcap, "cache %s: %s", cache_dir, strerror(errno));
        return -1;
    }
    char dir[4096];
    if (snprintf(dir, sizeof(dir), "%s/.build-XXXXXX", cache_dir) >=
            (int)sizeof(dir) ||
        !mkdtemp(dir)) {
        cfs_wasi_seterr(err, errcap, "cache %s: cannot make a build directory: %s",
               cache_dir, strerror(errno));
        return -1;
    }
    char p_c[4200], p_glue[4200], p_abi[4200], p_log[4200], p_cclog[4200],
            p_so[4200], line[400];
    snprintf(p_c, sizeof(p_c), "%s/guest.c", dir);
    snprintf(p_glue, sizeof(p_glue), "%s/glue.c", dir);
    snprintf(p_abi, sizeof(p_abi), "%s/wasi_abi.h", dir);
    snprintf(p_log, sizeof(p_log), "%s/wasm2c.log", dir);
    snprintf(p_cclog, sizeof(p_cclog), "%s/cc.log", dir);
    snprintf(p_so, sizeof(p_so), "%s/guest.so", dir);

    char *w2c[] = {"wasm2c", (char *)wasm_path, "-n", "guest", "-o", p_c, NULL};
    if (run_tool(w2c, p_log)) {
        first_line(p_log, line, sizeof(line));
        cfs_wasi_seterr(err, errcap, "%s: wasm2c: %s", wasm_path,
               line[0] ? line : "failed");
        goto fail;
    }
    if (write_text(p_glue, cfs_wasi_glue_c) ||
        write_text(p_abi, cfs_wasi_abi_h)) {
        cfs_wasi_seterr(err, errcap, "cache %s: cannot write: %s", dir, strerror(errno));
        goto fail;
    }
    char inc[4200];
    snprintf(inc, sizeof(inc), "-I%s", dir);
    char *cc[32];
    size_t k = 0;
    cc[k++] = "cc";
    for (size_t i = 0; i < sizeof(cc_flags) / sizeof(cc_flags[0]); i++)
        cc[k++] = (char *)cc_flags[i];
    if (mi.nimports == 0) /* wasm2c's instantiate then takes no imports */
        cc[k++] = "-DCFS_GUEST_NO_IMPORTS=1";
    cc[k++] = inc;
    cc[k++] = "-I" WABT_RUNTIME_DIR;
    cc[k++] = p_c;
    cc[k++] = p_glue;
    cc[k++] = WABT_RUNTIME_C;
    cc[k++] = "-o";
    cc[k++] = p_so;
    cc[k++] = "-lm";
    cc[k] = NULL;
    if (run_tool(cc, p_cclog)) {
        first_line(p_cclog, line, sizeof(line));
        cfs_wasi_seterr(err, errcap, "%s: compiling the translation failed: %s",
               wasm_path, line[0] ? line : "cc failed");
        goto fail;
    }
    fsync_path(p_so, 0);
    if (rename(p_so, so_path)) {
        cfs_wasi_seterr(err, errcap, "cache %s: %s", so_path, strerror(errno));
        goto fail;
    }
    fsync_path(cache_dir, 1);
    remove_workdir(dir);
    return 0;
fail:
    remove_workdir(dir);
    return -1;
}
