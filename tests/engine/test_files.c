/*
 * test_files.c — file data and metadata: reads and writes across 64 KiB
 * blocks, sparse holes that read as zeros and cost nothing, truncation,
 * append, positional I/O, seek, offsets near 2^63, allocate, hard links that
 * survive rename, unlinked-but-open files, directory link counts,
 * timestamps from the injected clock, chmod/chown/mknod, creds and statfs.
 */
#include "unit.h"

TestSuite(files, .init = unit_setup, .fini = unit_teardown);

#define BS ((uint64_t)CFS_BLOCK_SIZE)
#define TIB (UINT64_C(1) << 40)

static uint8_t pattern(uint64_t i)
{
    return (uint8_t)(i * 7 + (i >> 16) + 1);
}

static void expect_pread(cfs_fd fd, uint64_t off, const void *want, size_t len)
{
    uint8_t *buf = malloc(len + 1);
    cr_assert_not_null(buf);
    size_t n = 0;
    T_OK(cfs_fd_pread(U.fs, fd, buf, len, off, &n));
    cr_assert_eq(n, len, "pread at %llu: %zu bytes, want %zu",
                 (unsigned long long)off, n, len);
    cr_assert(memcmp(buf, want, len) == 0, "pread at %llu: wrong data",
              (unsigned long long)off);
    free(buf);
}

static void expect_zeros(cfs_fd fd, uint64_t off, size_t len)
{
    uint8_t *z = calloc(1, len);
    cr_assert_not_null(z);
    expect_pread(fd, off, z, len);
    free(z);
}

/* ---- data
 * ----------------------------------------------------------------------- */

Test(files, reads_and_writes_across_block_boundaries)
{
    size_t len = 3 * BS + 100;
    uint8_t *data = malloc(len);
    cr_assert_not_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = pattern(i);
    cfs_fd fd = t_create("f");
    t_write_all(fd, data, len);
    cr_assert_eq(t_tell(fd), len);
    cr_assert_eq(t_fstat(fd).size, len);

    expect_pread(fd, 0, data, len);
    expect_pread(fd, BS - 6, data + BS - 6, 20);
    expect_pread(fd, 2 * BS - 1, data + 2 * BS - 1, 2);
    expect_pread(fd, 3 * BS, data + 3 * BS, 100);

    /* An overwrite straddling a boundary touches only its bytes. */
    t_pwrite_all(fd, "0123456789", 10, 2 * BS - 5);
    memcpy(data + 2 * BS - 5, "0123456789", 10);
    expect_pread(fd, 0, data, len);

    /* Sequential reads in odd-sized pieces see the same bytes. */
    uint64_t off;
    T_OK(cfs_fd_seek(U.fs, fd, 0, CFS_WHENCE_SET, &off));
    uint8_t *back = malloc(len);
    cr_assert_not_null(back);
    size_t got = 0;
    while (got < len) {
        size_t n = 0;
        T_OK(cfs_fd_read(U.fs, fd, back + got, 10007, &n));
        cr_assert_gt(n, 0);
        got += n;
    }
    cr_assert_eq(got, len);
    cr_assert(memcmp(back, data, len) == 0);
    size_t n = 99;
    T_OK(cfs_fd_read(U.fs, fd, back, 10, &n));
    cr_assert_eq(n, 0, "at EOF a read gives 0 bytes");
    T_OK(cfs_fd_pread(U.fs, fd, back, 10, len + 1000, &n));
    cr_assert_eq(n, 0, "pread past EOF gives 0 bytes");
    T_OK(cfs_fd_pread(U.fs, fd, back, 10, len - 3, &n));
    cr_assert_eq(n, 3, "short read at the end");
    free(back);
    free(data);
}

Test(files, sparse_holes_read_as_zeros_and_cost_nothing)
{
    cfs_fd fd = t_create("sparse");
    uint64_t used0 = t_statfs().bytes_used;
    t_pwrite_all(fd, "Z", 1, TIB);
    cfs_filestat st = t_fstat(fd);
    cr_assert_eq(st.size, TIB + 1);
    cr_assert_leq(st.blocks, BS / 512, "1 byte at 1 TiB: %llu blocks",
                  (unsigned long long)st.blocks);
    cr_assert_gt(st.blocks, 0);
    uint64_t used = t_statfs().bytes_used - used0;
    cr_assert_gt(used, 0);
    cr_assert_leq(used, BS, "1 byte at 1 TiB charged %llu bytes",
                  (unsigned long long)used);

    expect_zeros(fd, 0, 1000);
    expect_zeros(fd, TIB / 2, 3 * BS);
    uint8_t buf[20], want[20] = {0};
    want[10] = 'Z';
    size_t n;
    T_OK(cfs_fd_pread(U.fs, fd, buf, 20, TIB - 10, &n));
    cr_assert_eq(n, 11);
    cr_assert(memcmp(buf, want, 11) == 0);

    /* Extending with set_size is a hole too. */
    cfs_fd g = t_create("grown");
    T_OK(cfs_fd_filestat_set_size(U.fs, g, 10 * TIB));
    cr_assert_eq(t_fstat(g).size, 10 * TIB);
    cr_assert_eq(t_fstat(g).blocks, 0);
    cr_assert_eq(t_statfs().bytes_used - used0, used);
    expect_zeros(g, 5 * TIB, 100);

    /* Seeking past the end and writing leaves a hole behind. */
    cfs_fd h = t_create("h");
    uint64_t off;
    T_OK(cfs_fd_seek(U.fs, h, 3 * BS + 7, CFS_WHENCE_SET, &off));
    t_write_all(h, "tail", 4);
    cr_assert_eq(t_fstat(h).size, 3 * BS + 11);
    expect_zeros(h, 0, 3 * BS + 7);
    expect_pread(h, 3 * BS + 7, "tail", 4);
}

Test(files, small_files_cost_little)
{
    uint64_t used0 = t_statfs().bytes_used;
    t_put("tiny", "0123456789");
    uint64_t used = t_statfs().bytes_used - used0;
    cr_assert_geq(used, 10);
    cr_assert_leq(used, BS);
    cr_assert_eq(t_stat("tiny").size, 10);
}

Test(files, truncate_down_then_up_reads_zeros)
{
    cfs_fd fd = t_create("f");
    uint8_t a[100];
    memset(a, 'A', sizeof a);
    t_write_all(fd, a, sizeof a);
    T_OK(cfs_fd_filestat_set_size(U.fs, fd, 10));
    cr_assert_eq(t_fstat(fd).size, 10);
    cr_assert_eq(t_tell(fd), 100, "truncate does not move the offset");
    T_OK(cfs_fd_filestat_set_size(U.fs, fd, 100));
    expect_pread(fd, 0, a, 10);
    expect_zeros(fd, 10, 90);

    /* Across blocks: the cut block's tail and the dropped blocks. */
    size_t len = 3 * BS;
    uint8_t *big = malloc(len);
    cr_assert_not_null(big);
    memset(big, 'B', len);
    t_pwrite_all(fd, big, len, 0);
    uint64_t used_full = t_statfs().bytes_used;
    T_OK(cfs_fd_filestat_set_size(U.fs, fd, BS + 5));
    cr_assert_lt(t_statfs().bytes_used, used_full, "dropped blocks are freed");
    T_OK(cfs_fd_filestat_set_size(U.fs, fd, len));
    expect_pread(fd, 0, big, BS + 5);
    expect_zeros(fd, BS + 5, len - BS - 5);
    free(big);

    T_OK(cfs_fd_filestat_set_size(U.fs, fd, 0));
    cr_assert_eq(t_fstat(fd).size, 0);
    cr_assert_eq(t_fstat(fd).blocks, 0);
    cr_assert_eq(t_statfs().bytes_used, 0);

    /* Writing at the old offset after a truncate leaves a hole. */
    t_write_all(fd, "x", 1);
    cr_assert_eq(t_fstat(fd).size, 100 + 1);
    expect_zeros(fd, 0, 100);
}

Test(files, open_with_o_trunc)
{
    t_put("f", "some content");
    cfs_fd fd = t_open(CFS_ROOT_FD, "f", CFS_O_TRUNC, 0);
    cr_assert_eq(t_fstat(fd).size, 0);
    t_write_all(fd, "new", 3);
    t_expect_content("f", "new");
}

Test(files, append)
{
    t_put("log", "one,");
    cfs_fd fd = t_open(CFS_ROOT_FD, "log", 0, CFS_FDFLAG_APPEND);
    cfs_fdstat fst;
    T_OK(cfs_fd_fdstat_get(U.fs, fd, &fst));
    cr_assert_eq(fst.flags, CFS_FDFLAG_APPEND);
    cr_assert_eq(t_tell(fd), 0);
    t_write_all(fd, "two,", 4);
    cr_assert_eq(t_tell(fd), 8, "after an append write the offset is the end");
    uint64_t off;
    T_OK(cfs_fd_seek(U.fs, fd, 0, CFS_WHENCE_SET, &off));
    t_write_all(fd, "three", 5);
    t_expect_content("log", "one,two,three");

    /* Another description writes in between: append still goes last. */
    cfs_fd other = t_open(CFS_ROOT_FD, "log", 0, 0);
    t_pwrite_all(other, "!!!!", 4, 13);
    t_write_all(fd, ".", 1);
    t_expect_content("log", "one,two,three!!!!.");

    /* pwrite on an APPEND fd also goes to the end (Linux); no offset move. */
    T_OK(cfs_fd_seek(U.fs, fd, 2, CFS_WHENCE_SET, &off));
    t_pwrite_all(fd, "P", 1, 0);
    t_expect_content("log", "one,two,three!!!!.P");
    cr_assert_eq(t_tell(fd), 2);

    /* Clearing APPEND makes writes positional again. */
    T_OK(cfs_fd_fdstat_set_flags(U.fs, fd, 0));
    t_write_all(fd, "E", 1);
    t_expect_content("log", "onE,two,three!!!!.P");
}

Test(files, pwrite_and_pread_do_not_move_the_offset)
{
    cfs_fd fd = t_create("f");
    t_write_all(fd, "abc", 3);
    t_pwrite_all(fd, "XYZ", 3, 10);
    cr_assert_eq(t_tell(fd), 3);
    char buf[4];
    size_t n;
    T_OK(cfs_fd_pread(U.fs, fd, buf, 3, 10, &n));
    cr_assert_eq(t_tell(fd), 3);
    cr_assert_eq(t_fstat(fd).size, 13);
    t_write_all(fd, "d", 1);
    expect_pread(fd, 0, "abcd\0\0\0\0\0\0XYZ", 13);
}

Test(files, seek)
{
    cfs_fd fd = t_create("f");
    t_write_all(fd, "0123456789", 10);
    uint64_t off = 12345;
    T_OK(cfs_fd_seek(U.fs, fd, 5, CFS_WHENCE_SET, &off));
    cr_assert_eq(off, 5);
    T_OK(cfs_fd_seek(U.fs, fd, -2, CFS_WHENCE_CUR, &off));
    cr_assert_eq(off, 3);
    T_OK(cfs_fd_seek(U.fs, fd, 4, CFS_WHENCE_CUR, &off));
    cr_assert_eq(off, 7);
    T_OK(cfs_fd_seek(U.fs, fd, -1, CFS_WHENCE_END, &off));
    cr_assert_eq(off, 9);
    T_OK(cfs_fd_seek(U.fs, fd, 100, CFS_WHENCE_END, &off));
    cr_assert_eq(off, 110, "past the end is allowed");
    T_OK(cfs_fd_seek(U.fs, fd, 0, CFS_WHENCE_CUR, &off));
    cr_assert_eq(off, 110);
    cr_assert_eq(t_fstat(fd).size, 10, "seeking does not grow the file");

    T_ERR(CFS_EINVAL, cfs_fd_seek(U.fs, fd, 0, 3, &off));
    T_ERR(CFS_EINVAL, cfs_fd_seek(U.fs, fd, 0, 255, &off));
    T_ERR(CFS_EINVAL, cfs_fd_seek(U.fs, fd, -1, CFS_WHENCE_SET, &off));
    T_ERR(CFS_EINVAL, cfs_fd_seek(U.fs, fd, -111, CFS_WHENCE_CUR, &off));
    T_ERR(CFS_EINVAL, cfs_fd_seek(U.fs, fd, -11, CFS_WHENCE_END, &off));
    T_ERR(CFS_EINVAL, cfs_fd_seek(U.fs, fd, INT64_MIN, CFS_WHENCE_END, &off));
    cr_assert_eq(t_tell(fd), 110, "failed seeks leave the offset");
    T_OK(cfs_fd_seek(U.fs, fd, -10, CFS_WHENCE_END, &off));
    cr_assert_eq(off, 0);

    /* stdio cannot seek. */
    T_ERR(CFS_ESPIPE, cfs_fd_seek(U.fs, 1, 0, CFS_WHENCE_SET, &off));
}

Test(files, offsets_near_2_pow_63)
{
    cfs_fd fd = t_create("f");
    uint64_t off;
    size_t n;
    T_OK(cfs_fd_seek(U.fs, fd, INT64_MAX, CFS_WHENCE_SET, &off));
    cr_assert_eq(off, (uint64_t)INT64_MAX);
    T_ERR(CFS_EINVAL, cfs_fd_seek(U.fs, fd, 1, CFS_WHENCE_CUR, &off));
    T_ERR(CFS_EINVAL, cfs_fd_seek(U.fs, fd, INT64_MAX, CFS_WHENCE_CUR, &off));
    cr_assert_eq(t_tell(fd), (uint64_t)INT64_MAX);
    T_ERR(CFS_EFBIG, cfs_fd_write(U.fs, fd, "x", 1, &n));
    cr_assert_eq(t_fstat(fd).size, 0, "a refused write changes nothing");
    cr_assert_eq(t_tell(fd), (uint64_t)INT64_MAX);

    /* The last byte a file can hold is at 2^63 - 2. */
    T_OK(cfs_fd_pwrite(U.fs, fd, "L", 1, INT64_MAX - 1, &n));
    cr_assert_eq(n, 1);
    cr_assert_eq(t_fstat(fd).size, CFS_MAX_FILE_SIZE);
    expect_pread(fd, INT64_MAX - 1, "L", 1);
    T_ERR(CFS_EFBIG, cfs_fd_pwrite(U.fs, fd, "ab", 2, INT64_MAX - 1, &n));
    T_ERR(CFS_EFBIG, cfs_fd_pwrite(U.fs, fd, "a", 1, INT64_MAX, &n));
    expect_pread(fd, INT64_MAX - 1, "L", 1);
    T_OK(cfs_fd_seek(U.fs, fd, 0, CFS_WHENCE_END, &off));
    cr_assert_eq(off, (uint64_t)INT64_MAX);
    T_ERR(CFS_EINVAL, cfs_fd_seek(U.fs, fd, 1, CFS_WHENCE_END, &off));

    /* Size limits: 2^63 - 1 is fine, more is too big. */
    cfs_fd g = t_create("g");
    T_OK(cfs_fd_filestat_set_size(U.fs, g, CFS_MAX_FILE_SIZE));
    cr_assert_eq(t_fstat(g).size, CFS_MAX_FILE_SIZE);
    /* Past 2^63 - 1 Linux says EFBIG for a too-large size (EINVAL for a
     * negative off_t, which is what a u64 above 2^63 - 1 would be). */
    T_ERR2(CFS_EFBIG, CFS_EINVAL,
           cfs_fd_filestat_set_size(U.fs, g, CFS_MAX_FILE_SIZE + 1));
    cr_assert_eq(t_fstat(g).size, CFS_MAX_FILE_SIZE);
    T_ERR2(CFS_EFBIG, CFS_EINVAL, cfs_fd_allocate(U.fs, g, INT64_MAX, 2));
}

Test(files, allocate)
{
    cfs_fd fd = t_create("f");
    uint64_t used0 = t_statfs().bytes_used;
    T_OK(cfs_fd_allocate(U.fs, fd, 0, 100000));
    cr_assert_eq(t_fstat(fd).size, 100000, "allocate grows the file");
    cr_assert_geq(t_statfs().bytes_used - used0, 100000,
                  "allocated space is charged");
    cr_assert_geq(t_fstat(fd).blocks * 512, 100000);
    expect_zeros(fd, 0, 100000);
    cr_assert_eq(t_tell(fd), 0, "allocate does not move the offset");

    /* Inside the file: no change in size or data. */
    t_pwrite_all(fd, "abc", 3, 50);
    T_OK(cfs_fd_allocate(U.fs, fd, 0, 10));
    cr_assert_eq(t_fstat(fd).size, 100000);
    expect_pread(fd, 50, "abc", 3);

    /* Beyond the end of a file with data: data kept, zeros after. */
    cfs_fd g = t_create("g");
    t_write_all(g, "abc", 3);
    T_OK(cfs_fd_allocate(U.fs, g, 5, 5));
    cr_assert_eq(t_fstat(g).size, 10);
    expect_pread(g, 0, "abc\0\0\0\0\0\0\0", 10);
    cfs_fd d = t_opendir(CFS_ROOT_FD, ".");
    cfs_errno e = cfs_fd_allocate(U.fs, d, 0, 10);
    cr_assert_neq(e, 0, "allocate on a directory must fail");
}

/* ---- links, unlinked files, directories
 * ------------------------------------------------ */

Test(files, hard_links_share_data_and_survive_rename)
{
    t_mkdir("dir");
    t_put("dir/a", "shared");
    T_OK(cfs_path_link(U.fs, CFS_ROOT_FD, 0, "dir/a", CFS_ROOT_FD, "b"));
    cfs_filestat sa = t_stat("dir/a"), sb = t_stat("b");
    cr_assert_eq(sa.ino, sb.ino);
    cr_assert_eq(sa.nlink, 2);

    cfs_fd fb = t_open(CFS_ROOT_FD, "b", 0, CFS_FDFLAG_APPEND);
    t_write_all(fb, "!", 1);
    t_expect_content("dir/a", "shared!");

    /* The seed could not do this (inode = hash of the path). */
    T_OK(cfs_path_rename(U.fs, CFS_ROOT_FD, "dir/a", CFS_ROOT_FD, "dir/c"));
    T_OK(cfs_path_rename(U.fs, CFS_ROOT_FD, "dir", CFS_ROOT_FD, "moved"));
    cfs_filestat sc = t_stat("moved/c");
    cr_assert_eq(sc.ino, sb.ino);
    cr_assert_eq(sc.nlink, 2);
    t_write_all(fb, "?", 1);
    t_expect_content("moved/c", "shared!?");
    cr_assert_eq(t_fstat(fb).ino, sb.ino);

    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "b"));
    cr_assert_eq(t_stat("moved/c").nlink, 1);
    t_expect_content("moved/c", "shared!?");

    /* Renaming a link onto another link of the same file does nothing. */
    T_OK(cfs_path_link(U.fs, CFS_ROOT_FD, 0, "moved/c", CFS_ROOT_FD, "x"));
    T_OK(cfs_path_rename(U.fs, CFS_ROOT_FD, "x", CFS_ROOT_FD, "moved/c"));
    cr_assert(t_exists("x"));
    cr_assert(t_exists("moved/c"));
    cr_assert_eq(t_stat("x").nlink, 2);
}

Test(files, link_follows_only_when_asked)
{
    t_put("f", "data");
    T_OK(cfs_path_symlink(U.fs, "f", CFS_ROOT_FD, "l"));
    T_OK(cfs_path_link(U.fs, CFS_ROOT_FD, 0, "l", CFS_ROOT_FD, "l2"));
    cr_assert_eq(t_lstat("l2").filetype, CFS_FILETYPE_SYMBOLIC_LINK);
    cr_assert_eq(t_lstat("l2").ino, t_lstat("l").ino);
    T_OK(cfs_path_link(U.fs, CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "l",
                       CFS_ROOT_FD, "f2"));
    cr_assert_eq(t_lstat("f2").ino, t_stat("f").ino);
    cr_assert_eq(t_stat("f").nlink, 2);
}

Test(files, unlinked_but_open)
{
    uint64_t files0 = t_statfs().files;
    cfs_fd fd = t_create("tmp");
    cr_assert_eq(t_statfs().files, files0 + 1);
    t_write_all(fd, "still here", 10);
    cfs_fd d;
    T_OK(cfs_fd_dup(U.fs, fd, 0, -1, &d));
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "tmp"));
    cr_assert_not(t_exists("tmp"));
    cfs_filestat st = t_fstat(fd);
    cr_assert_eq(st.nlink, 0);
    cr_assert_eq(st.size, 10);
    cr_assert_eq(t_statfs().files, files0 + 1, "alive while open");

    expect_pread(fd, 0, "still here", 10);
    t_write_all(fd, "!", 1);
    expect_pread(d, 0, "still here!", 11);
    T_OK(cfs_fd_filestat_set_size(U.fs, fd, 5));
    cr_assert_eq(t_fstat(d).size, 5);
    /* FUSE still reaches it by inode number. */
    T_OK(cfs_getattr(U.fs, st.ino, &st));
    cr_assert_eq(st.nlink, 0);

    /* A new file of the same name is a different file. */
    t_put("tmp", "new");
    cr_assert_neq(t_stat("tmp").ino, st.ino);
    expect_pread(fd, 0, "still", 5);

    T_OK(cfs_fd_close(U.fs, fd));
    cr_assert_eq(t_statfs().files, files0 + 2);
    T_OK(cfs_fd_close(U.fs, d));
    cr_assert_eq(t_statfs().files, files0 + 1, "freed on the last close");
    cfs_filestat gone;
    T_ERR2(CFS_ENOENT, CFS_ESTALE, cfs_getattr(U.fs, st.ino, &gone));
}

Test(files, rename_over_an_open_file_orphans_it)
{
    t_put("a", "AAA");
    t_put("b", "BBB");
    cfs_fd fb = t_open(CFS_ROOT_FD, "b", 0, 0);
    cfs_ino old_b = t_stat("b").ino;
    uint64_t files0 = t_statfs().files;
    T_OK(cfs_path_rename(U.fs, CFS_ROOT_FD, "a", CFS_ROOT_FD, "b"));
    t_expect_content("b", "AAA");
    cr_assert_not(t_exists("a"));
    cr_assert_eq(t_fstat(fb).nlink, 0);
    cr_assert_eq(t_fstat(fb).ino, old_b);
    expect_pread(fb, 0, "BBB", 3);
    cr_assert_eq(t_statfs().files, files0);
    T_OK(cfs_fd_close(U.fs, fb));
    cr_assert_eq(t_statfs().files, files0 - 1);
}

Test(files, directory_nlink_counts_subdirectories)
{
    cr_assert_eq(t_stat(".").nlink, 2);
    t_mkdir("d");
    cr_assert_eq(t_stat("d").nlink, 2);
    cr_assert_eq(t_stat(".").nlink, 3);
    t_mkdir("d/x");
    t_mkdir("d/y");
    t_put("d/file", "f");
    T_OK(cfs_path_symlink(U.fs, "x", CFS_ROOT_FD, "d/sl"));
    cr_assert_eq(t_stat("d").nlink, 4, "files and symlinks do not count");
    T_OK(cfs_path_remove_directory(U.fs, CFS_ROOT_FD, "d/x"));
    cr_assert_eq(t_stat("d").nlink, 3);
    t_mkdir("e");
    T_OK(cfs_path_rename(U.fs, CFS_ROOT_FD, "d/y", CFS_ROOT_FD, "e/y"));
    cr_assert_eq(t_stat("d").nlink, 2);
    cr_assert_eq(t_stat("e").nlink, 3);
    cr_assert_eq(t_stat(".").nlink, 4);
    /* Replacing an empty directory by rename keeps the counts right. */
    t_mkdir("e/z");
    cr_assert_eq(t_stat("e").nlink, 4);
    T_OK(cfs_path_rename(U.fs, CFS_ROOT_FD, "e/y", CFS_ROOT_FD, "e/z"));
    cr_assert_eq(t_stat("e").nlink, 3);
    T_OK(cfs_path_rename(U.fs, CFS_ROOT_FD, "e/z", CFS_ROOT_FD, "d/z"));
    cr_assert_eq(t_stat("e").nlink, 2);
    cr_assert_eq(t_stat("d").nlink, 3);
    cr_assert_eq(t_stat("d/z").nlink, 2);
    /* And ".." follows the move. */
    cfs_filestat up;
    T_OK(cfs_path_filestat_get(U.fs, CFS_ROOT_FD, 0, "d/z/..", &up));
    cr_assert_eq(up.ino, t_stat("d").ino);
}

Test(files, removed_directory_still_open)
{
    t_mkdir("d");
    cfs_fd dfd = t_opendir(CFS_ROOT_FD, "d");
    T_OK(cfs_path_remove_directory(U.fs, CFS_ROOT_FD, "d"));
    cfs_filestat st = t_fstat(dfd);
    cr_assert_eq(st.filetype, CFS_FILETYPE_DIRECTORY);
    cr_assert_eq(st.nlink, 0, "a removed directory has no links (Linux)");
    /* Nothing can be created in it (Linux: ENOENT). */
    cfs_fd fd;
    T_ERR(CFS_ENOENT,
          cfs_path_open(U.fs, dfd, 0, "x", CFS_O_CREAT, R_FILE, 0, 0, &fd));
    T_ERR(CFS_ENOENT, cfs_path_create_directory(U.fs, dfd, "x"));
    T_OK(cfs_fd_close(U.fs, dfd));
}

/* ---- time
 * -------------------------------------------------------------------------------
 */

Test(files, timestamps_come_from_the_injected_clock)
{
    t_mkdir("d");
    cfs_fd fd = t_open(CFS_ROOT_FD, "d/f", CFS_O_CREAT, 0);
    cfs_time t_create_ = U.clock.now;
    cfs_filestat st = t_fstat(fd);
    cr_assert_eq(st.mtim, t_create_, "mtim %llu, clock %llu",
                 (unsigned long long)st.mtim, (unsigned long long)t_create_);
    cr_assert_eq(st.atim, t_create_);
    cr_assert_eq(st.ctim, t_create_);
    cfs_filestat dst = t_stat("d");
    cr_assert_eq(dst.mtim, t_create_, "creating a file touches its directory");
    cr_assert_eq(dst.ctim, t_create_);

    t_write_all(fd, "x", 1);
    cfs_time t_write = U.clock.now;
    cr_assert_gt(t_write, t_create_);
    st = t_fstat(fd);
    cr_assert_eq(st.mtim, t_write);
    cr_assert_eq(st.ctim, t_write);
    cr_assert_eq(st.atim, t_create_, "writing does not touch atime");
    cr_assert_eq(t_stat("d").mtim, t_create_, "writing does not touch the dir");

    t_pwrite_all(fd, "y", 1, 5);
    cfs_time now = U.clock.now;
    cr_assert_eq(t_fstat(fd).mtim, now);
    T_OK(cfs_fd_filestat_set_size(U.fs, fd, 2));
    now = U.clock.now;
    cr_assert_eq(t_fstat(fd).mtim, now, "truncate is a modification");

    /* Stat and other queries are not modifications. */
    cfs_time before = t_fstat(fd).mtim;
    char buf[4];
    size_t n;
    T_OK(cfs_fd_pread(U.fs, fd, buf, 2, 0, &n));
    cr_assert_eq(t_fstat(fd).mtim, before);

    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "d/f"));
    cfs_time t_unlink = U.clock.now;
    cr_assert_eq(t_stat("d").mtim, t_unlink, "unlink touches the directory");
    cr_assert_eq(t_fstat(fd).ctim, t_unlink, "unlink changes the file's ctime");

    t_put("d/g", "g");
    t_mkdir("e");
    T_OK(cfs_path_rename(U.fs, CFS_ROOT_FD, "d/g", CFS_ROOT_FD, "e/g"));
    cfs_time t_rename = U.clock.now;
    cr_assert_eq(t_stat("d").mtim, t_rename, "rename touches the old dir");
    cr_assert_eq(t_stat("e").mtim, t_rename, "rename touches the new dir");
    cr_assert_eq(t_stat("e/g").ctim, t_rename, "rename changes the ctime");

    t_mkdir("d/sub");
    now = U.clock.now;
    cr_assert_eq(t_stat("d").mtim, now);
    cr_assert_eq(t_stat("d/sub").mtim, now);
    T_OK(cfs_path_remove_directory(U.fs, CFS_ROOT_FD, "d/sub"));
    now = U.clock.now;
    cr_assert_eq(t_stat("d").mtim, now);

    T_OK(cfs_path_link(U.fs, CFS_ROOT_FD, 0, "e/g", CFS_ROOT_FD, "d/g2"));
    now = U.clock.now;
    cr_assert_eq(t_stat("d").mtim, now);
    cr_assert_eq(t_stat("e/g").ctim, now, "link changes the ctime");
    T_OK(cfs_path_symlink(U.fs, "g2", CFS_ROOT_FD, "d/sl"));
    now = U.clock.now;
    cr_assert_eq(t_stat("d").mtim, now);
    cr_assert_eq(t_lstat("d/sl").mtim, now);
}

Test(files, no_clock_means_time_zero)
{
    cfs_fs *fs = cfs_fs_new(NULL);
    cr_assert_not_null(fs);
    cfs_fd fd;
    T_OK(
        cfs_path_open(fs, CFS_ROOT_FD, 0, "f", CFS_O_CREAT, R_FILE, 0, 0, &fd));
    cfs_filestat st;
    T_OK(cfs_fd_filestat_get(fs, fd, &st));
    cr_assert_eq(st.mtim, 0);
    cr_assert_eq(st.ctim, 0);
    T_OK(cfs_fd_filestat_set_times(fs, fd, 0, 0,
                                   CFS_FST_ATIM_NOW | CFS_FST_MTIM_NOW));
    T_OK(cfs_fd_filestat_get(fs, fd, &st));
    cr_assert_eq(st.atim, 0);
    cfs_fs_free(fs);
}

Test(files, set_times)
{
    cfs_fd fd = t_create("f");
    cfs_filestat st0 = t_fstat(fd);

    T_OK(cfs_fd_filestat_set_times(U.fs, fd, 111, 222,
                                   CFS_FST_ATIM | CFS_FST_MTIM));
    cfs_time now = U.clock.now;
    cfs_filestat st = t_fstat(fd);
    cr_assert_eq(st.atim, 111);
    cr_assert_eq(st.mtim, 222);
    cr_assert_eq(st.ctim, now, "changing times changes the ctime");
    cr_assert_gt(st.ctim, st0.ctim);

    T_OK(cfs_fd_filestat_set_times(U.fs, fd, 333, 999, CFS_FST_ATIM));
    st = t_fstat(fd);
    cr_assert_eq(st.atim, 333);
    cr_assert_eq(st.mtim, 222, "MTIM not set: mtime kept");

    T_OK(cfs_fd_filestat_set_times(U.fs, fd, 5, 5, CFS_FST_MTIM_NOW));
    now = U.clock.now;
    st = t_fstat(fd);
    cr_assert_eq(st.mtim, now);
    cr_assert_eq(st.atim, 333);

    T_OK(cfs_fd_filestat_set_times(U.fs, fd, 5, 444,
                                   CFS_FST_ATIM_NOW | CFS_FST_MTIM));
    now = U.clock.now;
    st = t_fstat(fd);
    cr_assert_eq(st.atim, now);
    cr_assert_eq(st.mtim, 444);

    cfs_filestat keep = t_fstat(fd);
    T_ERR(CFS_EINVAL, cfs_fd_filestat_set_times(
                          U.fs, fd, 1, 2, CFS_FST_ATIM | CFS_FST_ATIM_NOW));
    T_ERR(CFS_EINVAL, cfs_fd_filestat_set_times(
                          U.fs, fd, 1, 2, CFS_FST_MTIM | CFS_FST_MTIM_NOW));
    T_ERR(CFS_EINVAL, cfs_fd_filestat_set_times(U.fs, fd, 1, 2, 0x10));
    st = t_fstat(fd);
    cr_assert_eq(st.atim, keep.atim);
    cr_assert_eq(st.mtim, keep.mtim);
    cr_assert_eq(st.ctim, keep.ctim);

    /* By path, with and without following a symlink. */
    T_OK(cfs_path_symlink(U.fs, "f", CFS_ROOT_FD, "l"));
    T_OK(cfs_path_filestat_set_times(U.fs, CFS_ROOT_FD,
                                     CFS_LOOKUP_SYMLINK_FOLLOW, "l", 7, 8,
                                     CFS_FST_ATIM | CFS_FST_MTIM));
    cr_assert_eq(t_stat("f").mtim, 8);
    cr_assert_neq(t_lstat("l").mtim, 8);
    T_OK(cfs_path_filestat_set_times(U.fs, CFS_ROOT_FD, 0, "l", 70, 80,
                                     CFS_FST_ATIM | CFS_FST_MTIM));
    cr_assert_eq(t_lstat("l").mtim, 80);
    cr_assert_eq(t_stat("f").mtim, 8);
    T_ERR(CFS_EINVAL,
          cfs_path_filestat_set_times(U.fs, CFS_ROOT_FD, 0, "f", 1, 2,
                                      CFS_FST_ATIM | CFS_FST_ATIM_NOW));
    T_ERR(CFS_ENOENT, cfs_path_filestat_set_times(U.fs, CFS_ROOT_FD, 0, "nope",
                                                  1, 2, CFS_FST_ATIM));
    /* Directories have times too. */
    T_OK(cfs_fd_filestat_set_times(U.fs, CFS_ROOT_FD, 1, 2,
                                   CFS_FST_ATIM | CFS_FST_MTIM));
    cr_assert_eq(t_stat(".").mtim, 2);
}

/* ---- ownership and modes
 * ------------------------------------------------------------------ */

Test(files, default_modes_and_creds)
{
    t_put("f", "x");
    t_mkdir("d");
    T_OK(cfs_path_symlink(U.fs, "f", CFS_ROOT_FD, "l"));
    cfs_filestat f = t_stat("f"), d = t_stat("d"), l = t_lstat("l");
    cr_assert_eq(f.mode, CFS_S_IFREG | 0644, "file mode %o", f.mode);
    cr_assert_eq(d.mode, CFS_S_IFDIR | 0755, "dir mode %o", d.mode);
    cr_assert_eq(l.mode & CFS_S_IFMT, CFS_S_IFLNK);
    cr_assert_eq(f.uid, 0);
    cr_assert_eq(f.gid, 0);
    cr_assert_eq(f.filetype, CFS_FILETYPE_REGULAR_FILE);
    cr_assert_eq(f.dev, 0);

    cfs_fs_set_creds(U.fs, 1000, 100, 0100600, 040700);
    t_put("g", "y");
    t_mkdir("e");
    T_OK(cfs_path_symlink(U.fs, "g", CFS_ROOT_FD, "m"));
    T_OK(cfs_path_mknod(U.fs, CFS_ROOT_FD, "n", CFS_S_IFREG | 0640));
    cfs_filestat g = t_stat("g"), e = t_stat("e"), m = t_lstat("m"),
                 nn = t_stat("n");
    cr_assert_eq(g.mode, CFS_S_IFREG | 0600, "file mode %o", g.mode);
    cr_assert_eq(e.mode, CFS_S_IFDIR | 0700, "dir mode %o", e.mode);
    cr_assert_eq(g.uid, 1000);
    cr_assert_eq(g.gid, 100);
    cr_assert_eq(e.uid, 1000);
    cr_assert_eq(m.uid, 1000);
    cr_assert_eq(m.gid, 100);
    cr_assert_eq(nn.uid, 1000);
    cr_assert_eq(nn.mode, CFS_S_IFREG | 0640, "mknod takes its own mode");
    /* Existing inodes keep theirs. */
    cr_assert_eq(t_stat("f").uid, 0);
    cr_assert_eq(t_stat("f").mode, CFS_S_IFREG | 0644);
}

Test(files, chmod)
{
    t_put("f", "x");
    t_mkdir("d");
    cfs_time t0 = t_stat("f").ctim;
    T_OK(cfs_path_chmod(U.fs, CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "f",
                        0600));
    cr_assert_eq(t_stat("f").mode, CFS_S_IFREG | 0600);
    cr_assert_gt(t_stat("f").ctim, t0, "chmod changes the ctime");
    T_OK(cfs_path_chmod(U.fs, CFS_ROOT_FD, 0, "f", CFS_S_IFDIR | 07777));
    cr_assert_eq(t_stat("f").mode, CFS_S_IFREG | 07777,
                 "type bits are ignored, setuid/setgid/sticky kept: %o",
                 t_stat("f").mode);
    T_OK(cfs_path_chmod(U.fs, CFS_ROOT_FD, 0, "d", 0711));
    cr_assert_eq(t_stat("d").mode, CFS_S_IFDIR | 0711);
    T_OK(cfs_path_symlink(U.fs, "f", CFS_ROOT_FD, "l"));
    T_OK(cfs_path_chmod(U.fs, CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "l",
                        0400));
    cr_assert_eq(t_stat("f").mode, CFS_S_IFREG | 0400);
    T_ERR(CFS_ENOENT, cfs_path_chmod(U.fs, CFS_ROOT_FD, 0, "nope", 0600));
    /* The engine keeps modes; it does not enforce them (the guest is the
     * only user). Writing a 0400 file through an fd with FD_WRITE works. */
    cfs_fd fd = t_open(CFS_ROOT_FD, "f", 0, 0);
    t_write_all(fd, "y", 1);
}

Test(files, chown)
{
    t_put("f", "x");
    T_OK(cfs_path_chown(U.fs, CFS_ROOT_FD, 0, "f", 1000, 2000));
    cr_assert_eq(t_stat("f").uid, 1000);
    cr_assert_eq(t_stat("f").gid, 2000);
    T_OK(cfs_path_chown(U.fs, CFS_ROOT_FD, 0, "f", UINT32_MAX, 3000));
    cr_assert_eq(t_stat("f").uid, 1000);
    cr_assert_eq(t_stat("f").gid, 3000);
    T_OK(cfs_path_chown(U.fs, CFS_ROOT_FD, 0, "f", 7, UINT32_MAX));
    cr_assert_eq(t_stat("f").uid, 7);
    cr_assert_eq(t_stat("f").gid, 3000);
    cfs_time c = t_stat("f").ctim;
    T_OK(cfs_path_chown(U.fs, CFS_ROOT_FD, 0, "f", UINT32_MAX, UINT32_MAX));
    cr_assert_eq(t_stat("f").uid, 7);
    cr_assert_geq(t_stat("f").ctim, c);

    /* Without follow, a symlink's own owner changes (lchown). */
    T_OK(cfs_path_symlink(U.fs, "f", CFS_ROOT_FD, "l"));
    T_OK(cfs_path_chown(U.fs, CFS_ROOT_FD, 0, "l", 55, 66));
    cr_assert_eq(t_lstat("l").uid, 55);
    cr_assert_eq(t_stat("f").uid, 7);
    T_OK(cfs_path_chown(U.fs, CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "l", 77,
                        88));
    cr_assert_eq(t_stat("f").uid, 77);
    cr_assert_eq(t_lstat("l").uid, 55);
}

Test(files, mknod)
{
    uint64_t files0 = t_statfs().files;
    T_OK(cfs_path_mknod(U.fs, CFS_ROOT_FD, "reg", CFS_S_IFREG | 0640));
    cfs_filestat st = t_stat("reg");
    cr_assert_eq(st.filetype, CFS_FILETYPE_REGULAR_FILE);
    cr_assert_eq(st.mode, CFS_S_IFREG | 0640);
    cr_assert_eq(st.size, 0);
    cr_assert_eq(st.nlink, 1);
    cr_assert_eq(t_statfs().files, files0 + 1);
    T_OK(cfs_path_mknod(U.fs, CFS_ROOT_FD, "plain", 0600));
    cr_assert_eq(t_stat("plain").mode, CFS_S_IFREG | 0600, "type 0 is regular");

    T_ERR(CFS_EEXIST,
          cfs_path_mknod(U.fs, CFS_ROOT_FD, "reg", CFS_S_IFREG | 0600));
    T_ERR(CFS_EPERM,
          cfs_path_mknod(U.fs, CFS_ROOT_FD, "dir", CFS_S_IFDIR | 0700));
    T_ERR(CFS_EINVAL,
          cfs_path_mknod(U.fs, CFS_ROOT_FD, "lnk", CFS_S_IFLNK | 0777));
    T_ERR(CFS_ENOENT, cfs_path_mknod(U.fs, CFS_ROOT_FD, "no/x", 0600));
    cr_assert_not(t_exists("dir"));
    cr_assert_not(t_exists("lnk"));
    cr_assert_eq(t_statfs().files, files0 + 2);
}

Test(files, statfs)
{
    cfs_statfs s = t_statfs();
    cr_assert_eq(s.block_size, CFS_BLOCK_SIZE);
    cr_assert_eq(s.name_max, CFS_NAME_MAX);
    cr_assert_eq(s.byte_budget, 0);
    cr_assert_eq(s.bytes_used, 0);
    cr_assert_geq(s.blocks, s.blocks_free);
    cr_assert_gt(s.blocks_free, 0);
    cr_assert_gt(s.files_free, 0);
    cr_assert_lt(s.files + s.files_free, UINT64_C(1) << 63, "a count that reads as negative");
    uint64_t files0 = s.files;
    cr_assert_geq(files0, 1, "the root at least");

    t_put("f", "x");
    t_mkdir("d");
    T_OK(cfs_path_symlink(U.fs, "f", CFS_ROOT_FD, "l"));
    cr_assert_eq(t_statfs().files, files0 + 3);
    T_OK(cfs_path_link(U.fs, CFS_ROOT_FD, 0, "f", CFS_ROOT_FD, "f2"));
    cr_assert_eq(t_statfs().files, files0 + 3, "a link is not an inode");
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "f"));
    cr_assert_eq(t_statfs().files, files0 + 3);
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "f2"));
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "l"));
    T_OK(cfs_path_remove_directory(U.fs, CFS_ROOT_FD, "d"));
    cr_assert_eq(t_statfs().files, files0);
    cr_assert_eq(t_statfs().bytes_used, 0);
}

Test(files, stdout_writes_keep_no_data)
{
    size_t n;
    uint64_t used = t_statfs().bytes_used;
    T_OK(cfs_fd_write(U.fs, 1, "hello\n", 6, &n));
    cr_assert_eq(n, 6);
    T_OK(cfs_fd_write(U.fs, 2, "oops\n", 5, &n));
    cr_assert_eq(n, 5);
    cr_assert_eq(t_fstat(1).size, 0);
    cr_assert_eq(t_statfs().bytes_used, used);
    cr_assert_eq(t_fstat(1).ino, CFS_INO_STDOUT);
}

Test(files, lookup_and_getattr_by_inode)
{
    t_mkdir("d");
    t_put("d/f", "12345");
    cfs_filestat d = t_stat("d"), f;
    T_OK(cfs_lookup(U.fs, d.ino, "f", &f));
    cr_assert_eq(f.ino, t_stat("d/f").ino);
    cr_assert_eq(f.size, 5);
    T_OK(cfs_lookup(U.fs, d.ino, ".", &f));
    cr_assert_eq(f.ino, d.ino);
    T_OK(cfs_lookup(U.fs, d.ino, "..", &f));
    cr_assert_eq(f.ino, CFS_INO_ROOT);
    T_ERR(CFS_ENOENT, cfs_lookup(U.fs, d.ino, "nope", &f));
    T_ERR(CFS_ENOTDIR, cfs_lookup(U.fs, t_stat("d/f").ino, "x", &f));
    T_OK(cfs_getattr(U.fs, d.ino, &f));
    cr_assert_eq(f.filetype, CFS_FILETYPE_DIRECTORY);
    cr_assert_eq(f.mode, CFS_S_IFDIR | 0755);
    T_OK(cfs_getattr(U.fs, CFS_INO_STDERR, &f));
    cr_assert_eq(f.filetype, CFS_FILETYPE_CHARACTER_DEVICE);
    /* Symlinks are not followed by lookup (FUSE resolves them). */
    T_OK(cfs_path_symlink(U.fs, "f", CFS_ROOT_FD, "d/l"));
    T_OK(cfs_lookup(U.fs, d.ino, "l", &f));
    cr_assert_eq(f.filetype, CFS_FILETYPE_SYMBOLIC_LINK);
}

/* ---- small blocks grow; truncated bytes never come back
 * --------------------------------- */

Test(files, small_blocks_grow_without_losing_or_inventing_data)
{
    cfs_fd fd = t_create("f");
    t_write_all(fd, "0123456789", 10);
    t_pwrite_all(fd, "A", 1, 100);   /* grows the first block */
    t_pwrite_all(fd, "B", 1, 60000); /* and again, near the block end */
    t_pwrite_all(fd, "C", 1, 65535); /* last byte of block 0 */
    t_pwrite_all(fd, "D", 1, 65536); /* first byte of block 1 */
    cr_assert_eq(t_fstat(fd).size, 65537);
    expect_pread(fd, 0, "0123456789", 10);
    expect_zeros(fd, 10, 90);
    expect_pread(fd, 100, "A", 1);
    expect_zeros(fd, 101, 60000 - 101);
    expect_pread(fd, 60000, "B", 1);
    expect_zeros(fd, 60001, 65535 - 60001);
    expect_pread(fd, 65535, "CD", 2);
}

Test(files, truncated_bytes_do_not_reappear)
{
    /* The classic: bytes cut by a truncate must read as zeros when the
     * file grows again, even inside the same (already allocated) block. */
    cfs_fd fd = t_create("f");
    uint8_t x[100];
    memset(x, 'x', sizeof x);
    t_pwrite_all(fd, x, sizeof x, 0);
    T_OK(cfs_fd_filestat_set_size(U.fs, fd, 50));
    t_pwrite_all(fd, "!", 1, 120);
    expect_pread(fd, 0, x, 50);
    expect_zeros(fd, 50, 70);
    expect_pread(fd, 120, "!", 1);

    /* Same with a full block and an extend by set_size. */
    size_t len = 2 * BS;
    uint8_t *y = malloc(len);
    cr_assert_not_null(y);
    memset(y, 'y', len);
    t_pwrite_all(fd, y, len, 0);
    T_OK(cfs_fd_filestat_set_size(U.fs, fd, 1000));
    T_OK(cfs_fd_filestat_set_size(U.fs, fd, len));
    expect_pread(fd, 0, y, 1000);
    expect_zeros(fd, 1000, len - 1000);

    /* ...and through O_TRUNC, and after allocate. */
    t_pwrite_all(fd, y, 300, 0);
    cfs_fd g = t_open(CFS_ROOT_FD, "f", CFS_O_TRUNC, 0);
    T_OK(cfs_fd_allocate(U.fs, g, 0, 300));
    expect_zeros(g, 0, 300);
    T_OK(cfs_fd_filestat_set_size(U.fs, g, 10));
    T_OK(cfs_fd_allocate(U.fs, g, 0, 300));
    expect_zeros(g, 0, 300);
    free(y);
}

Test(files, o_excl_without_o_creat_is_ignored)
{
    /* Linux ignores O_EXCL without O_CREAT. */
    t_put("f", "x");
    cfs_fd fd;
    T_OK(cfs_path_open(U.fs, CFS_ROOT_FD, 0, "f", CFS_O_EXCL, CFS_RIGHT_FD_READ,
                       0, 0, &fd));
    T_ERR(CFS_ENOENT, cfs_path_open(U.fs, CFS_ROOT_FD, 0, "g", CFS_O_EXCL,
                                    CFS_RIGHT_FD_READ, 0, 0, &fd));
}

Test(files, o_trunc_and_set_size_stamp_times)
{
    t_put("f", "content");
    cfs_fd fd = t_open(CFS_ROOT_FD, "f", CFS_O_TRUNC, 0);
    cfs_time now = U.clock.now;
    cfs_filestat st = t_fstat(fd);
    cr_assert_eq(st.mtim, now, "O_TRUNC of a non-empty file is a modification");
    cr_assert_eq(st.ctim, now);
    T_OK(cfs_fd_filestat_set_size(U.fs, fd, 10));
    now = U.clock.now;
    st = t_fstat(fd);
    cr_assert_eq(st.mtim, now);
    cr_assert_eq(st.ctim, now);
}

Test(files, set_size_on_a_directory_fails)
{
    t_mkdir("d");
    cfs_fd d = t_opendir(CFS_ROOT_FD, "d");
    cfs_hash128 h = cfs_fs_hash(U.fs);
    cfs_errno e = cfs_fd_filestat_set_size(U.fs, d, 0);
    cr_assert(e == CFS_EISDIR || e == CFS_EINVAL || e == CFS_EBADF,
              "ftruncate of a directory: %s", cfs_errno_name(e));
    cr_assert(hash_eq(h, cfs_fs_hash(U.fs)));
}

Test(files, creds_belong_to_the_handle)
{
    cfs_fs *child = NULL;
    T_OK(cfs_fs_fork(U.fs, &child));
    cfs_fs_set_creds(child, 5, 6, 0600, 0700);
    cfs_fd fd;
    T_OK(cfs_path_open(child, CFS_ROOT_FD, 0, "by_child", CFS_O_CREAT, R_FILE,
                       0, 0, &fd));
    t_put("by_parent", "x");
    cr_assert_eq(t_stat("by_child").uid, 5);
    cr_assert_eq(t_stat("by_child").mode, CFS_S_IFREG | 0600);
    cr_assert_eq(t_stat("by_parent").uid, 0);
    cr_assert_eq(t_stat("by_parent").mode, CFS_S_IFREG | 0644);
    T_OK(cfs_fs_exit(child));
    cfs_fs_free(child);
}

Test(files, set_times_with_no_flags_changes_nothing)
{
    /* Linux: utimensat with both times UTIME_OMIT returns at once; not even
     * the ctime moves. */
    cfs_fd fd = t_create("f");
    cfs_filestat before = t_fstat(fd);
    uint64_t seq = cfs_fs_seq(U.fs);
    T_OK(cfs_fd_filestat_set_times(U.fs, fd, 1, 2, 0));
    T_OK(cfs_path_filestat_set_times(U.fs, CFS_ROOT_FD, 0, "f", 1, 2, 0));
    cfs_filestat after = t_fstat(fd);
    cr_assert_eq(after.atim, before.atim);
    cr_assert_eq(after.mtim, before.mtim);
    cr_assert_eq(after.ctim, before.ctim, "ctime moved");
    cr_assert_eq(cfs_fs_seq(U.fs), seq, "a no-op emitted an event");
}
