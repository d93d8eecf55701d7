/*
 * test_hash.c — the state hash: equal states hash equal (two engines doing
 * the same calls, at every step), any single difference in the state (one
 * byte of data, a mode bit, an fd offset, a name, ...) changes it, queries
 * do not change it, and computing it does not read the clock.
 */
#include "unit.h"

TestSuite(hash, .init = unit_setup, .fini = unit_teardown);

typedef struct engine {
    cfs_fs *fs;
    tclock clock;
} engine;

static void engine_new(engine *e)
{
    e->clock.now = 5000;
    e->clock.step = 10;
    e->clock.calls = 0;
    cfs_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.clock = tclock_read;
    cfg.clock_ctx = &e->clock;
    e->fs = cfs_fs_new(&cfg);
    cr_assert_not_null(e->fs);
}

enum variant {
    V_BASE,
    V_DATA_BYTE,
    V_MODE_BIT,
    V_OFFSET,
    V_NAME,
    V_CWD,
    V_CLOEXEC,
    V_RIGHTS,
    V_APPEND,
    V_UID,
    V_MTIME,
    V_SIZE,
    V_SYMLINK_TARGET,
    V_FD_NUMBER,
    V_DIR_NAME,
    V_PREOPEN_ALIAS,
    V_COUNT
};

#define PICK(v, which, a, b) ((v) == (which) ? (b) : (a))

/*
 * The same sequence of calls for every variant; each variant changes one
 * argument, so the states differ in exactly one respect (and the clock is
 * read the same number of times).
 */
static void build(cfs_fs *fs, enum variant v)
{
    cfs_fd fd, d;
    size_t n;
    uint64_t off;
    T_OK(cfs_path_create_directory(fs, CFS_ROOT_FD,
                                   PICK(v, V_DIR_NAME, "dir", "dis")));
    const char *dir = PICK(v, V_DIR_NAME, "dir", "dis");
    char path[64];
    snprintf(path, sizeof path, "%s/%s", dir, PICK(v, V_NAME, "a", "b"));
    T_OK(cfs_path_open(fs, CFS_ROOT_FD, 0, path, CFS_O_CREAT, R_FILE, R_FILE, 0,
                       &fd));
    T_OK(cfs_fd_write(fs, fd, PICK(v, V_DATA_BYTE, "hello", "hellp"), 5, &n));
    T_OK(cfs_fd_seek(fs, fd, PICK(v, V_OFFSET, 1, 2), CFS_WHENCE_SET, &off));
    T_OK(cfs_path_chmod(fs, CFS_ROOT_FD, 0, path,
                        PICK(v, V_MODE_BIT, 0644u, 0645u)));
    T_OK(cfs_path_chown(fs, CFS_ROOT_FD, 0, path, PICK(v, V_UID, 1u, 2u), 3));
    /* (No-op calls may emit no event, so each of these is a change in
     * both choices.) */
    T_OK(cfs_fd_dup_at(fs, fd, 12, PICK(v, V_CLOEXEC, 0, 1)));
    T_OK(cfs_fd_fdstat_set_rights(fs, fd,
                                  PICK(v, V_RIGHTS,
                                       R_FILE & ~CFS_RIGHT_FD_ALLOCATE,
                                       R_FILE & ~CFS_RIGHT_FD_ADVISE),
                                  0));
    T_OK(cfs_fd_fdstat_set_flags(
        fs, fd, PICK(v, V_APPEND, CFS_FDFLAG_SYNC, CFS_FDFLAG_APPEND)));
    T_OK(cfs_fd_filestat_set_times(fs, fd, 100, PICK(v, V_MTIME, 200u, 201u),
                                   CFS_FST_ATIM | CFS_FST_MTIM));
    T_OK(cfs_path_open(fs, CFS_ROOT_FD, 0, "sparse", CFS_O_CREAT, R_FILE, 0, 0,
                       &d));
    T_OK(cfs_fd_filestat_set_size(fs, d, PICK(v, V_SIZE, 1000u, 1001u)));
    T_OK(cfs_path_symlink(fs, PICK(v, V_SYMLINK_TARGET, "x", "y"), CFS_ROOT_FD,
                          "link"));
    T_OK(cfs_fd_dup_at(fs, fd, PICK(v, V_FD_NUMBER, 10u, 11u), -1));
    T_OK(cfs_path_create_directory(fs, CFS_ROOT_FD, "elsewhere"));
    T_OK(cfs_fs_chdir(fs, PICK(v, V_CWD, "/elsewhere", dir)));
    T_OK(cfs_fs_preopen(fs, "/", PICK(v, V_PREOPEN_ALIAS, "rootA", "rootB"),
                        CFS_PREOPEN_READ, &d));
}

Test(hash, fresh_engines_hash_equal_and_hashing_is_stable)
{
    engine a, b;
    engine_new(&a);
    engine_new(&b);
    cfs_hash128 h = cfs_fs_hash(a.fs);
    cr_assert(hash_eq(h, cfs_fs_hash(b.fs)));
    cr_assert(hash_eq(h, cfs_fs_hash(a.fs)), "hashing twice gives the same");
    cr_assert(h.lo != 0 || h.hi != 0);
    cfs_fs *bare = cfs_fs_new(NULL);
    cr_assert(hash_eq(h, cfs_fs_hash(bare)), "the clock is not state");
    cfs_fs_free(bare);
    cfs_fs_free(a.fs);
    cfs_fs_free(b.fs);
}

Test(hash, same_calls_same_hash_at_every_step)
{
    engine a, b;
    engine_new(&a);
    engine_new(&b);
    /* Step by step: the variants' sequences, on two engines in lockstep. */
    build(a.fs, V_BASE);
    build(b.fs, V_BASE);
    cr_assert(hash_eq(cfs_fs_hash(a.fs), cfs_fs_hash(b.fs)));
    cr_assert_eq(cfs_fs_seq(a.fs), cfs_fs_seq(b.fs));

    cfs_fd fa, fb;
    size_t n;
    for (int i = 0; i < 50; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d", i % 7);
        T_OK(cfs_path_open(a.fs, CFS_ROOT_FD, 0, name, CFS_O_CREAT, R_FILE, 0,
                           0, &fa));
        T_OK(cfs_path_open(b.fs, CFS_ROOT_FD, 0, name, CFS_O_CREAT, R_FILE, 0,
                           0, &fb));
        cr_assert_eq(fa, fb);
        T_OK(cfs_fd_pwrite(a.fs, fa, name, strlen(name), (uint64_t)i * 9973,
                           &n));
        T_OK(cfs_fd_pwrite(b.fs, fb, name, strlen(name), (uint64_t)i * 9973,
                           &n));
        if (i % 3 == 0) {
            T_OK(cfs_fd_close(a.fs, fa));
            T_OK(cfs_fd_close(b.fs, fb));
        }
        if (i % 5 == 0) {
            T_OK(cfs_path_unlink_file(a.fs, CFS_ROOT_FD, name));
            T_OK(cfs_path_unlink_file(b.fs, CFS_ROOT_FD, name));
        }
        cr_assert(hash_eq(cfs_fs_hash(a.fs), cfs_fs_hash(b.fs)), "step %d", i);
    }
    cfs_fs_free(a.fs);
    cfs_fs_free(b.fs);
}

static const char *variant_name[V_COUNT] = {
    "base",           "data byte", "mode bit",       "fd offset",
    "name",           "cwd",       "cloexec",        "rights",
    "append flag",    "uid",       "mtime",          "size",
    "symlink target", "fd number", "directory name", "preopen alias"};

Test(hash, any_single_difference_changes_the_hash)
{
    cfs_hash128 h[V_COUNT];
    uint64_t seq[V_COUNT];
    for (int v = 0; v < V_COUNT; v++) {
        engine e;
        engine_new(&e);
        build(e.fs, (enum variant)v);
        h[v] = cfs_fs_hash(e.fs);
        seq[v] = cfs_fs_seq(e.fs);
        cfs_fs_free(e.fs);
    }
    for (int v = 1; v < V_COUNT; v++) {
        cr_assert_eq(seq[v], seq[0], "%s: not the same number of events",
                     variant_name[v]);
        for (int w = 0; w < v; w++)
            cr_assert_not(hash_eq(h[v], h[w]), "%s and %s hash equal",
                          variant_name[v], variant_name[w]);
    }
}

Test(hash, every_state_change_changes_it_and_queries_do_not)
{
    cfs_hash128 h = cfs_fs_hash(U.fs);
#define CHANGES(call)                                                          \
    do {                                                                       \
        T_OK(call);                                                            \
        cfs_hash128 h2_ = cfs_fs_hash(U.fs);                                   \
        cr_assert_not(hash_eq(h, h2_), "%s left the hash", #call);             \
        h = h2_;                                                               \
    } while (0)
#define KEEPS(call)                                                            \
    do {                                                                       \
        T_OK(call);                                                            \
        cr_assert(hash_eq(h, cfs_fs_hash(U.fs)), "%s changed the hash",        \
                  #call);                                                      \
    } while (0)
    cfs_fd fd;
    size_t n;
    uint64_t off;
    char buf[16];
    cfs_filestat st;
    cfs_fdstat fst;
    CHANGES(cfs_path_open(U.fs, CFS_ROOT_FD, 0, "f", CFS_O_CREAT, R_FILE, 0, 0,
                          &fd));
    CHANGES(cfs_fd_write(U.fs, fd, "abc", 3, &n));
    KEEPS(cfs_fd_pread(U.fs, fd, buf, 3, 0, &n));
    KEEPS(cfs_fd_tell(U.fs, fd, &off));
    KEEPS(cfs_fd_filestat_get(U.fs, fd, &st));
    KEEPS(cfs_fd_fdstat_get(U.fs, fd, &fst));
    KEEPS(cfs_path_filestat_get(U.fs, CFS_ROOT_FD, 0, "f", &st));
    KEEPS(cfs_fd_readdir(U.fs, CFS_ROOT_FD, buf, sizeof buf, 0, &n));
    KEEPS(cfs_fd_sync(U.fs, fd));
    KEEPS(cfs_fd_advise(U.fs, fd, 0, 1, CFS_ADVICE_NORMAL));
    CHANGES(cfs_fd_seek(U.fs, fd, 1, CFS_WHENCE_SET, &off));
    CHANGES(cfs_fd_read(U.fs, fd, buf, 1, &n));
    CHANGES(cfs_fd_pwrite(U.fs, fd, "Z", 1, 0, &n));
    CHANGES(cfs_fd_filestat_set_size(U.fs, fd, 2));
    CHANGES(cfs_path_rename(U.fs, CFS_ROOT_FD, "f", CFS_ROOT_FD, "g"));
    CHANGES(cfs_fd_close(U.fs, fd));
#undef CHANGES
#undef KEEPS
}

Test(hash, hashing_does_not_read_the_clock)
{
    t_put("f", "data");
    uint64_t calls = U.clock.calls;
    (void)cfs_fs_hash(U.fs);
    (void)cfs_fs_hash(U.fs);
    cr_assert_eq(U.clock.calls, calls);
}

/* A forked process's fd table is part of the state. */
Test(hash, processes_are_state)
{
    cfs_hash128 h = cfs_fs_hash(U.fs);
    cfs_fs *child;
    T_OK(cfs_fs_fork(U.fs, &child));
    cfs_hash128 h1 = cfs_fs_hash(U.fs);
    cr_assert_not(hash_eq(h, h1));
    cr_assert(hash_eq(h1, cfs_fs_hash(child)), "one state, one hash");
    T_OK(cfs_fd_close(child, 0));
    cfs_hash128 h2 = cfs_fs_hash(U.fs);
    cr_assert_not(hash_eq(h1, h2), "the child's table counts");
    T_OK(cfs_fs_exit(child));
    cfs_fs_free(child);
}
