/*
 * test_budget.c — the byte budget for file data: exceeding it is ENOSPC and
 * changes nothing (size, data, offset, state hash, no event); truncation,
 * unlink and O_TRUNC give room back; holes are free; allocate is charged.
 */
#include "unit.h"

#define BS ((uint64_t)CFS_BLOCK_SIZE)
#define BUDGET (4 * BS)

static void budget_setup(void)
{
    unit_open(BUDGET, true);
}

TestSuite(budget, .init = budget_setup, .fini = unit_teardown);

static uint8_t *filled(size_t len, uint8_t c)
{
    uint8_t *p = malloc(len);
    cr_assert_not_null(p);
    memset(p, c, len);
    return p;
}

/* Assert that `call` fails with ENOSPC and changes nothing at all. */
#define T_NOSPC(call)                                                          \
    do {                                                                       \
        cfs_hash128 h_ = cfs_fs_hash(U.fs);                                    \
        uint64_t seq_ = cfs_fs_seq(U.fs);                                      \
        size_t nev_ = U.rec.n;                                                 \
        uint64_t used_ = t_statfs().bytes_used;                                \
        T_ERR(CFS_ENOSPC, call);                                               \
        cr_assert(hash_eq(h_, cfs_fs_hash(U.fs)), "state changed");            \
        cr_assert_eq(cfs_fs_seq(U.fs), seq_);                                  \
        cr_assert_eq(U.rec.n, nev_, "an event was emitted");                   \
        cr_assert_eq(t_statfs().bytes_used, used_);                            \
    } while (0)

Test(budget, statfs_reports_the_budget)
{
    cfs_statfs s = t_statfs();
    cr_assert_eq(s.byte_budget, BUDGET);
    cr_assert_eq(s.block_size, BS);
    cr_assert_eq(s.blocks, 4);
    cr_assert_eq(s.blocks_free, 4);
    cr_assert_eq(s.bytes_used, 0);
    t_put("f", "x");
    s = t_statfs();
    cr_assert_gt(s.bytes_used, 0);
    cr_assert_leq(s.bytes_used, BS);
}

Test(budget, write_past_the_budget_changes_nothing)
{
    cfs_fd fd = t_create("f");
    uint8_t *a = filled(BUDGET, 'a');
    t_write_all(fd, a, BUDGET);
    cr_assert_eq(t_statfs().bytes_used, BUDGET);
    cr_assert_eq(t_statfs().blocks_free, 0);

    size_t n = 12345;
    T_NOSPC(cfs_fd_write(U.fs, fd, "b", 1, &n));
    cr_assert_eq(t_fstat(fd).size, BUDGET);
    cr_assert_eq(t_tell(fd), BUDGET);
    T_NOSPC(cfs_fd_pwrite(U.fs, fd, "b", 1, BUDGET + 5 * BS, &n));
    cr_assert_eq(t_fstat(fd).size, BUDGET);

    /* Another file cannot take data either. */
    cfs_fd g = t_create("g");
    T_NOSPC(cfs_fd_write(U.fs, g, "b", 1, &n));
    cr_assert_eq(t_fstat(g).size, 0);
    cr_assert_eq(t_tell(g), 0);

    /* Metadata is not file data: names still work. */
    t_mkdir("dir");
    T_OK(cfs_path_symlink(U.fs, "f", CFS_ROOT_FD, "l"));
    T_OK(cfs_path_mknod(U.fs, CFS_ROOT_FD, "empty", 0644));

    /* Overwriting data already paid for is fine. */
    t_pwrite_all(fd, "OVER", 4, 100);
    uint8_t buf[4];
    T_OK(cfs_fd_pread(U.fs, fd, buf, 4, 100, &n));
    cr_assert(memcmp(buf, "OVER", 4) == 0);
    free(a);
}

Test(budget, no_partial_writes)
{
    cfs_fd fd = t_create("f");
    uint8_t *a = filled(3 * BS, 'a');
    t_write_all(fd, a, 3 * BS);
    uint8_t *b = filled(2 * BS, 'b');
    size_t n = 777;
    T_NOSPC(cfs_fd_write(U.fs, fd, b, 2 * BS, &n));
    cr_assert_eq(t_fstat(fd).size, 3 * BS, "nothing of the write landed");
    cr_assert_eq(t_tell(fd), 3 * BS);
    uint8_t tail[16];
    T_OK(cfs_fd_pread(U.fs, fd, tail, sizeof tail, 3 * BS - 8, &n));
    cr_assert_eq(n, 8);
    cr_assert(memcmp(tail, a, 8) == 0);

    /* Straddling: half overwrite (free), half new blocks (too many). */
    T_NOSPC(cfs_fd_pwrite(U.fs, fd, b, 2 * BS + 1, 2 * BS, &n));
    T_OK(cfs_fd_pread(U.fs, fd, tail, 8, 2 * BS, &n));
    cr_assert(memcmp(tail, a, 8) == 0, "the free half was not written");
    /* Exactly what is left fits. */
    T_OK(cfs_fd_pwrite(U.fs, fd, b, 2 * BS, 2 * BS, &n));
    cr_assert_eq(n, 2 * BS);
    cr_assert_eq(t_statfs().bytes_used, BUDGET);
    free(a);
    free(b);
}

Test(budget, truncate_gives_room_back)
{
    cfs_fd fd = t_create("f");
    uint8_t *a = filled(BUDGET, 'a');
    t_write_all(fd, a, BUDGET);
    T_OK(cfs_fd_filestat_set_size(U.fs, fd, 2 * BS));
    cr_assert_eq(t_statfs().bytes_used, 2 * BS);
    cfs_fd g = t_create("g");
    t_write_all(g, a, 2 * BS);
    size_t n;
    T_NOSPC(cfs_fd_write(U.fs, g, "x", 1, &n));
    T_OK(cfs_fd_filestat_set_size(U.fs, fd, 0));
    cr_assert_eq(t_statfs().bytes_used, 2 * BS);
    t_write_all(g, a, 2 * BS);
    cr_assert_eq(t_statfs().bytes_used, BUDGET);

    /* Growing by set_size is a hole: free even when full. */
    T_OK(cfs_fd_filestat_set_size(U.fs, fd, UINT64_C(1) << 40));
    cr_assert_eq(t_statfs().bytes_used, BUDGET);
    free(a);
}

Test(budget, unlink_and_o_trunc_give_room_back)
{
    uint8_t *a = filled(BUDGET, 'a');
    cfs_fd fd = t_create("f");
    t_write_all(fd, a, BUDGET);
    T_OK(cfs_fd_close(U.fs, fd));
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "f"));
    cr_assert_eq(t_statfs().bytes_used, 0);

    fd = t_create("g");
    t_write_all(fd, a, BUDGET);
    T_OK(cfs_fd_close(U.fs, fd));
    fd = t_open(CFS_ROOT_FD, "g", CFS_O_TRUNC, 0);
    cr_assert_eq(t_statfs().bytes_used, 0);
    t_write_all(fd, a, BUDGET);

    /* An unlinked file still open keeps its data until the last close. */
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "g"));
    cr_assert_eq(t_statfs().bytes_used, BUDGET);
    cfs_fd h = t_create("h");
    size_t n;
    T_NOSPC(cfs_fd_write(U.fs, h, "x", 1, &n));
    T_OK(cfs_fd_close(U.fs, fd));
    cr_assert_eq(t_statfs().bytes_used, 0);
    t_write_all(h, "x", 1);

    /* A hard link keeps the data; it is charged once. */
    T_OK(cfs_fd_filestat_set_size(U.fs, h, 0));
    t_pwrite_all(h, a, 2 * BS, 0);
    T_OK(cfs_path_link(U.fs, CFS_ROOT_FD, 0, "h", CFS_ROOT_FD, "h2"));
    cr_assert_eq(t_statfs().bytes_used, 2 * BS);
    T_OK(cfs_fd_close(U.fs, h));
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "h"));
    cr_assert_eq(t_statfs().bytes_used, 2 * BS);
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "h2"));
    cr_assert_eq(t_statfs().bytes_used, 0);
    free(a);
}

Test(budget, rename_over_a_file_frees_it)
{
    uint8_t *a = filled(3 * BS, 'a');
    cfs_fd fd = t_create("big");
    t_write_all(fd, a, 3 * BS);
    T_OK(cfs_fd_close(U.fs, fd));
    t_put("small", "s");
    T_OK(cfs_path_rename(U.fs, CFS_ROOT_FD, "small", CFS_ROOT_FD, "big"));
    cr_assert_leq(t_statfs().bytes_used, BS);
    free(a);
}

Test(budget, allocate_is_charged)
{
    cfs_fd fd = t_create("f");
    T_NOSPC(cfs_fd_allocate(U.fs, fd, 0, BUDGET + 1));
    cr_assert_eq(t_fstat(fd).size, 0);
    T_OK(cfs_fd_allocate(U.fs, fd, 0, BUDGET));
    cr_assert_eq(t_fstat(fd).size, BUDGET);
    cr_assert_eq(t_statfs().bytes_used, BUDGET);

    /* The allocated space is ours: writes into it cannot fail for space. */
    uint8_t *b = filled(BUDGET, 'b');
    t_pwrite_all(fd, b, BUDGET, 0);
    cfs_fd g = t_create("g");
    size_t n;
    T_NOSPC(cfs_fd_write(U.fs, g, "x", 1, &n));
    T_NOSPC(cfs_fd_allocate(U.fs, g, 0, 1));
    T_NOSPC(cfs_fd_allocate(U.fs, fd, BUDGET, 1));
    cr_assert_eq(t_fstat(fd).size, BUDGET);
    free(b);
}

Test(budget, holes_are_free)
{
    cfs_fd fd = t_create("f");
    t_pwrite_all(fd, "z", 1, UINT64_C(1) << 40);
    uint64_t used = t_statfs().bytes_used;
    cr_assert_leq(used, BS);
    t_pwrite_all(fd, "z", 1, UINT64_C(1) << 41);
    t_pwrite_all(fd, "z", 1, UINT64_C(1) << 42);
    cr_assert_leq(t_statfs().bytes_used, 3 * BS);
    /* Writes to stdout cost nothing. */
    uint64_t before = t_statfs().bytes_used;
    uint8_t *a = filled(BUDGET, 'o');
    t_write_all(1, a, BUDGET);
    cr_assert_eq(t_statfs().bytes_used, before);
    free(a);
}
