/*
 * test_query.c — the queries by inode that need no fd (cfs_file_pread_ino,
 * cfs_file_extents, cfs_readlink_ino, cfs_lookup_path): they answer what
 * reading through an fd answers, and they change nothing: no event, the
 * same seq, the same state hash.
 */
#include "unit.h"

#include "cfs_test_util.h"
#include "cfs_workload.h"

TestSuite(query, .init = unit_setup, .fini = unit_teardown);

#define BS ((uint64_t)CFS_BLOCK_SIZE)

/* What a query must leave as it was. */
typedef struct frozen {
    uint64_t seq;
    cfs_hash128 hash;
    size_t events;
} frozen;

static frozen freeze(void)
{
    return (frozen){cfs_fs_seq(U.fs), cfs_fs_hash(U.fs), U.rec.n};
}

static void expect_frozen(frozen f)
{
    cr_assert_eq(cfs_fs_seq(U.fs), f.seq, "a query moved the seq");
    cr_assert_eq(U.rec.n, f.events, "a query emitted an event");
    cr_assert(hash_eq(cfs_fs_hash(U.fs), f.hash), "a query changed the state");
}

static cfs_ino ino_of(const char *path)
{
    return t_lstat(path).ino;
}

/* The whole file through an fd (opened before freezing by the caller). */
static uint8_t *read_fd_all(cfs_fd fd, uint64_t size)
{
    uint8_t *buf = malloc(size + 1);
    cr_assert_not_null(buf);
    size_t n = 0;
    T_OK(cfs_fd_pread(U.fs, fd, buf, size, 0, &n));
    cr_assert_eq(n, size);
    return buf;
}

/* The file rebuilt from its extents: zeros, then each extent in place. */
struct rebuild {
    uint8_t *buf;
    uint64_t size, last_end;
    size_t count;
    int stop_after; /* return 7 after this many extents; 0: never */
};

static int rebuild_fn(void *ctx, uint64_t off, const void *data, size_t len)
{
    struct rebuild *r = ctx;
    cr_assert_geq(off, r->last_end, "extents out of order or overlapping");
    cr_assert_leq(off + len, r->size, "an extent past the end of the file");
    cr_assert_gt(len, 0);
    cr_assert_leq(len, BS);
    memcpy(r->buf + off, data, len);
    r->last_end = off + len;
    r->count++;
    return r->stop_after && (int)r->count == r->stop_after ? 7 : 0;
}

static struct rebuild extents_of(cfs_ino ino, uint64_t size)
{
    struct rebuild r = {.buf = calloc(1, size + 1), .size = size};
    cr_assert_not_null(r.buf);
    int res = -1;
    T_OK(cfs_file_extents(U.fs, ino, rebuild_fn, &r, &res));
    cr_assert_eq(res, 0);
    return r;
}

/* pread_ino and the extents of `path` against the bytes an fd reads. */
static void check_file(const char *path)
{
    cfs_fd fd = t_open(CFS_ROOT_FD, path, 0, 0);
    cfs_filestat st = t_fstat(fd);
    uint8_t *want = read_fd_all(fd, st.size);
    frozen f = freeze();

    uint8_t *got = malloc(st.size + 1);
    cr_assert_not_null(got);
    size_t n = 0;
    T_OK(cfs_file_pread_ino(U.fs, st.ino, got, st.size + 100, 0, &n));
    cr_assert_eq(n, st.size, "%s: pread_ino read %zu of %llu", path, n,
                 (unsigned long long)st.size);
    cr_assert(memcmp(got, want, st.size) == 0, "%s: pread_ino bytes differ", path);
    /* pieces at odd offsets, across block edges and past the end */
    uint64_t offs[] = {0, 1, BS - 3, BS, 2 * BS + 17, st.size / 2, st.size,
                       st.size + 5};
    for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
        uint8_t piece[300], ref[300];
        size_t a = 0, b = 0;
        T_OK(cfs_file_pread_ino(U.fs, st.ino, piece, sizeof(piece), offs[k], &a));
        T_OK(cfs_fd_pread(U.fs, fd, ref, sizeof(ref), offs[k], &b));
        cr_assert_eq(a, b, "%s at %llu: %zu bytes, fd read %zu", path,
                     (unsigned long long)offs[k], a, b);
        cr_assert(memcmp(piece, ref, a) == 0, "%s at %llu: bytes differ", path,
                  (unsigned long long)offs[k]);
    }

    struct rebuild r = extents_of(st.ino, st.size);
    cr_assert(memcmp(r.buf, want, st.size) == 0, "%s: extents + zeros differ", path);
    expect_frozen(f);
    free(r.buf);
    free(got);
    free(want);
    T_OK(cfs_fd_close(U.fs, fd));
}

Test(query, file_bytes_equal_fd_reads_and_change_nothing)
{
    uint8_t *data = malloc(3 * BS + 100);
    cr_assert_not_null(data);
    for (size_t i = 0; i < 3 * BS + 100; i++)
        data[i] = (uint8_t)(i * 13 + 1);
    t_put("empty", "");
    t_put("small", "hello, world");
    cfs_fd fd = t_create("multi");
    t_write_all(fd, data, 3 * BS + 100);
    T_OK(cfs_fd_close(U.fs, fd));
    /* holes: a byte at 5 MiB, a block in the middle, grown by set_size */
    fd = t_create("sparse");
    t_pwrite_all(fd, "x", 1, 5 << 20);
    t_pwrite_all(fd, data, 1000, 2 * BS + 10);
    T_OK(cfs_fd_filestat_set_size(U.fs, fd, (7 << 20) + 3));
    T_OK(cfs_fd_close(U.fs, fd));
    fd = t_create("allocated");
    T_OK(cfs_fd_allocate(U.fs, fd, BS / 2, 2 * BS));
    t_pwrite_all(fd, "tail", 4, 3 * BS);
    T_OK(cfs_fd_close(U.fs, fd));
    t_mkdir("d");
    t_put("d/inner", "inner bytes");
    free(data);

    const char *files[] = {"empty", "small", "multi", "sparse", "allocated", "d/inner"};
    for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++)
        check_file(files[k]);

    /* the sparse file's holes are not visited */
    struct rebuild r = extents_of(ino_of("sparse"), t_lstat("sparse").size);
    cr_assert_eq(r.count, 2, "sparse: %zu extents, want 2 (blocks 2 and 80)", r.count);
    free(r.buf);
    r = extents_of(ino_of("empty"), 0);
    cr_assert_eq(r.count, 0);
    free(r.buf);
}

Test(query, extents_stop_when_asked)
{
    uint8_t *data = calloc(1, 4 * BS);
    cr_assert_not_null(data);
    memset(data, 'z', 4 * BS);
    cfs_fd fd = t_create("f");
    t_write_all(fd, data, 4 * BS);
    T_OK(cfs_fd_close(U.fs, fd));
    free(data);
    frozen f = freeze();
    struct rebuild r = {.buf = calloc(1, 4 * BS), .size = 4 * BS, .stop_after = 2};
    int res = 0;
    T_ERR(CFS_ECANCELED, cfs_file_extents(U.fs, ino_of("f"), rebuild_fn, &r, &res));
    cr_assert_eq(res, 7);
    cr_assert_eq(r.count, 2, "the visit went on after a stop");
    r.count = 0;
    r.last_end = 0;
    r.stop_after = 1; /* fn_result may be NULL */
    T_ERR(CFS_ECANCELED, cfs_file_extents(U.fs, ino_of("f"), rebuild_fn, &r, NULL));
    cr_assert_eq(r.count, 1);
    free(r.buf);
    expect_frozen(f);
}

Test(query, readlink_ino_equals_path_readlink)
{
    T_OK(cfs_path_symlink(U.fs, "some/where/else", CFS_ROOT_FD, "l"));
    T_OK(cfs_path_symlink(U.fs, "/abs", CFS_ROOT_FD, "a"));
    frozen f = freeze();
    const char *links[] = {"l", "a"};
    for (size_t k = 0; k < 2; k++) {
        char want[64], got[64];
        size_t wn = 0, gn = 0;
        T_OK(cfs_path_readlink(U.fs, CFS_ROOT_FD, links[k], want, sizeof(want), &wn));
        T_OK(cfs_readlink_ino(U.fs, ino_of(links[k]), got, sizeof(got), &gn));
        cr_assert_eq(gn, wn);
        cr_assert(memcmp(got, want, wn) == 0);
    }
    /* a short buffer: cut, and *len says how long the whole target is */
    char small[4] = "####";
    size_t n = 0;
    T_OK(cfs_readlink_ino(U.fs, ino_of("l"), small, 4, &n));
    cr_assert_eq(n, strlen("some/where/else"));
    cr_assert(memcmp(small, "some", 4) == 0);
    T_OK(cfs_readlink_ino(U.fs, ino_of("l"), NULL, 0, &n));
    cr_assert_eq(n, strlen("some/where/else"));
    expect_frozen(f);
}

Test(query, errors)
{
    t_put("f", "data");
    t_mkdir("d");
    T_OK(cfs_path_symlink(U.fs, "f", CFS_ROOT_FD, "l"));
    frozen f = freeze();
    char buf[16];
    size_t n;
    T_ERR(CFS_ENOENT, cfs_file_pread_ino(U.fs, 99999, buf, sizeof(buf), 0, &n));
    T_ERR(CFS_EISDIR, cfs_file_pread_ino(U.fs, ino_of("d"), buf, sizeof(buf), 0, &n));
    T_ERR(CFS_EINVAL, cfs_file_pread_ino(U.fs, ino_of("l"), buf, sizeof(buf), 0, &n));
    T_ERR(CFS_EINVAL, cfs_file_pread_ino(U.fs, CFS_INO_STDIN, buf, sizeof(buf), 0, &n));
    T_ERR(CFS_EINVAL, cfs_file_pread_ino(U.fs, ino_of("f"), buf, sizeof(buf),
                                         CFS_MAX_FILE_SIZE + 1, &n));
    T_ERR(CFS_EFAULT, cfs_file_pread_ino(U.fs, ino_of("f"), NULL, 4, 0, &n));
    T_ERR(CFS_EFAULT, cfs_file_pread_ino(U.fs, ino_of("f"), buf, 4, 0, NULL));
    T_ERR(CFS_EISDIR, cfs_file_extents(U.fs, ino_of("d"), rebuild_fn, NULL, NULL));
    T_ERR(CFS_EFAULT, cfs_file_extents(U.fs, ino_of("f"), NULL, NULL, NULL));
    T_ERR(CFS_ENOENT, cfs_readlink_ino(U.fs, 99999, buf, sizeof(buf), &n));
    T_ERR(CFS_EINVAL, cfs_readlink_ino(U.fs, ino_of("f"), buf, sizeof(buf), &n));
    T_ERR(CFS_EFAULT, cfs_readlink_ino(U.fs, ino_of("l"), buf, sizeof(buf), NULL));
    expect_frozen(f);
}

/* lookup_path answers as path_filestat_get from the root does. */
Test(query, lookup_path_equals_path_filestat_get)
{
    t_mkdir("d");
    t_mkdir("d/e");
    t_put("d/e/f", "x");
    T_OK(cfs_path_symlink(U.fs, "d/e", CFS_ROOT_FD, "le"));
    T_OK(cfs_path_symlink(U.fs, "/d/e/f", CFS_ROOT_FD, "lf"));
    T_OK(cfs_path_symlink(U.fs, "loop", CFS_ROOT_FD, "loop"));
    T_OK(cfs_path_symlink(U.fs, "nowhere", CFS_ROOT_FD, "dangling"));
    frozen f = freeze();
    const char *paths[] = {"/", "/d", "d/e/f", "/le", "/le/f", "le/", "/lf",
                           "/d/../le/./f", "/../../d", "/loop", "/dangling",
                           "/missing", "/d/e/f/x", "/lf/", "//d//e"};
    for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++) {
        for (uint32_t lf = 0; lf <= CFS_LOOKUP_SYMLINK_FOLLOW; lf++) {
            cfs_filestat a, b;
            memset(&a, 0, sizeof a);
            memset(&b, 0, sizeof b);
            cfs_errno ea = cfs_path_filestat_get(U.fs, CFS_ROOT_FD, lf, paths[k], &a);
            cfs_errno eb = cfs_lookup_path(U.fs, CFS_INO_ROOT, paths[k], lf, &b);
            cr_assert_eq(eb, ea, "%s (follow %u): %s, path_filestat_get says %s",
                         paths[k], lf, cfs_errno_name(eb), cfs_errno_name(ea));
            if (!ea)
                cr_assert(memcmp(&a, &b, sizeof a) == 0, "%s: stats differ", paths[k]);
        }
    }
    /* from a directory below the root, ".." cannot leave it */
    cfs_filestat st;
    T_OK(cfs_lookup_path(U.fs, ino_of("d"), "e/f", 0, &st));
    cr_assert_eq(st.ino, ino_of("d/e/f"));
    T_ERR(CFS_ENOTCAPABLE, cfs_lookup_path(U.fs, ino_of("d"), "../d", 0, &st));
    T_ERR(CFS_ENOTDIR, cfs_lookup_path(U.fs, ino_of("d/e/f"), "x", 0, &st));
    T_ERR(CFS_ENOENT, cfs_lookup_path(U.fs, 99999, "x", 0, &st));
    T_ERR(CFS_EINVAL, cfs_lookup_path(U.fs, CFS_INO_ROOT, "d", 2, &st));
    expect_frozen(f);
}

/* Every file of random workloads: the queries equal fd reads. */
Test(query, random_workloads)
{
    static const uint64_t defaults[] = {0x51, 0x5eed2, 0xc0ffee3};
    uint64_t seeds[3];
    size_t ns = cfs_test_seeds(defaults, 3, seeds);
    for (size_t s = 0; s < ns; s++) {
        cfs_rng rng;
        cfs_rng_seed(&rng, seeds[s]);
        fprintf(stderr, "query.random_workloads: seed 0x%llx\n",
                (unsigned long long)seeds[s]);
        unit_teardown();
        unit_open(0, false);
        cfs_workload_run(U.fs, &rng, 600, 150000);
        /* walk the tree by inode; check each file and symlink */
        cfs_ino todo[256];
        size_t nt = 0;
        todo[nt++] = CFS_INO_ROOT;
        frozen f = freeze();
        while (nt) {
            cfs_ino dir = todo[--nt];
            cfs_dirent de;
            for (uint64_t c = CFS_DIRCOOKIE_START;
                 cfs_dir_next(U.fs, dir, c, &de) == 0; c = de.next) {
                if (de.name[0] == '.' && (de.name_len == 1 ||
                                          (de.name_len == 2 && de.name[1] == '.')))
                    continue;
                cfs_filestat st;
                T_OK(cfs_getattr(U.fs, de.ino, &st));
                if (st.filetype == CFS_FILETYPE_DIRECTORY) {
                    cr_assert_lt(nt, 256);
                    todo[nt++] = de.ino;
                } else if (st.filetype == CFS_FILETYPE_REGULAR_FILE) {
                    uint8_t *a = malloc(st.size + 1);
                    cr_assert_not_null(a);
                    size_t n = 0;
                    T_OK(cfs_file_pread_ino(U.fs, de.ino, a, st.size, 0, &n));
                    cr_assert_eq(n, st.size);
                    struct rebuild r = extents_of(de.ino, st.size);
                    cr_assert(memcmp(a, r.buf, st.size) == 0,
                              "seed 0x%llx ino %llu: extents differ from pread_ino",
                              (unsigned long long)seeds[s], (unsigned long long)de.ino);
                    free(r.buf);
                    free(a);
                }
            }
        }
        expect_frozen(f);
        /* and pread_ino against an fd read, through the paths */
        const char *names[] = {"a", "b", "c", "d/a", "d/b", "d/e/a", "d/e/f"};
        for (size_t k = 0; k < 7; k++) {
            cfs_filestat st;
            if (cfs_path_filestat_get(U.fs, CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW,
                                      names[k], &st) == 0 &&
                st.filetype == CFS_FILETYPE_REGULAR_FILE)
                check_file(names[k]);
        }
    }
}
