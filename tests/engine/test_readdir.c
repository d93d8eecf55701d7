/*
 * test_readdir.c — fd_readdir in WASI's byte layout (24-byte little-endian
 * header + name), "." and ".." first, inode numbers that match stat, cookies
 * that resume a listing across concurrent changes without repeats or skips
 * of survivors, cut-off records in small buffers, and cfs_dir_next.
 */
#include "unit.h"

TestSuite(readdir, .init = unit_setup, .fini = unit_teardown);

#define HDR 24

typedef struct entry {
    uint64_t next;
    uint64_t ino;
    uint32_t namlen;
    uint8_t type;
    char name[CFS_NAME_MAX + 1];
} entry;

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Parse the whole records in buf[0..used); returns how many. */
static size_t parse(const uint8_t *buf, size_t used, entry *out, size_t max)
{
    size_t n = 0, pos = 0;
    while (pos + HDR <= used) {
        uint32_t namlen = le32(buf + pos + 16);
        if (pos + HDR + namlen > used)
            break;
        cr_assert_lt(n, max);
        cr_assert_leq(namlen, CFS_NAME_MAX);
        entry *e = &out[n++];
        e->next = le64(buf + pos);
        e->ino = le64(buf + pos + 8);
        e->namlen = namlen;
        e->type = buf[pos + 20];
        memcpy(e->name, buf + pos + HDR, namlen);
        e->name[namlen] = '\0';
        pos += HDR + namlen;
    }
    return n;
}

/* The whole listing of dirfd from `cookie`, read `bufsize` bytes at a time
 * and resumed from the last whole record, as wasi-libc's readdir does. */
static size_t list(cfs_fd dirfd, uint64_t cookie, size_t bufsize, entry *out,
                   size_t max)
{
    uint8_t *buf = malloc(bufsize);
    cr_assert_not_null(buf);
    size_t total = 0;
    for (;;) {
        size_t used = 0;
        T_OK(cfs_fd_readdir(U.fs, dirfd, buf, bufsize, cookie, &used));
        cr_assert_leq(used, bufsize);
        size_t n = parse(buf, used, out + total, max - total);
        total += n;
        if (used < bufsize)
            break; /* the end of the listing */
        cr_assert_gt(n, 0, "buffer of %zu bytes holds no whole record",
                     bufsize);
        cookie = out[total - 1].next;
    }
    free(buf);
    return total;
}

static const entry *find(const entry *es, size_t n, const char *name)
{
    const entry *hit = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(es[i].name, name) == 0) {
            cr_assert_null(hit, "\"%s\" listed twice", name);
            hit = &es[i];
        }
    }
    return hit;
}

Test(readdir, wasi_layout_dot_dotdot_first_inos_match_stat)
{
    t_mkdir("d");
    t_put("d/afile", "x");
    t_mkdir("d/bdir");
    T_OK(cfs_path_symlink(U.fs, "afile", CFS_ROOT_FD, "d/clink"));
    cfs_fd fd = t_opendir(CFS_ROOT_FD, "d");

    uint8_t buf[1024];
    memset(buf, 0xee, sizeof buf);
    size_t used = 0;
    T_OK(cfs_fd_readdir(U.fs, fd, buf, sizeof buf, CFS_DIRCOOKIE_START, &used));
    size_t want = (HDR + 1) + (HDR + 2) + (HDR + 5) + (HDR + 4) + (HDR + 5);
    cr_assert_eq(used, want, "used %zu, want %zu", used, want);

    /* The first record, byte by byte. */
    cfs_ino dino = t_stat("d").ino;
    cr_assert_eq(le64(buf + 8), dino);
    cr_assert_eq(buf[16], 1);
    cr_assert_eq(buf[17], 0);
    cr_assert_eq(buf[18], 0);
    cr_assert_eq(buf[19], 0);
    cr_assert_eq(buf[20], CFS_FILETYPE_DIRECTORY);
    cr_assert_eq(buf[24], '.');
    /* No NUL after the name: the next record starts right there. */
    cr_assert_eq(le32(buf + 25 + 16), 2);
    cr_assert_eq(buf[25 + HDR], '.');
    cr_assert_eq(buf[25 + HDR + 1], '.');

    entry es[8];
    size_t n = parse(buf, used, es, 8);
    cr_assert_eq(n, 5);
    cr_assert_str_eq(es[0].name, ".");
    cr_assert_str_eq(es[1].name, "..");
    cr_assert_eq(es[1].ino, CFS_INO_ROOT);
    cr_assert_eq(es[1].type, CFS_FILETYPE_DIRECTORY);
    cr_assert_str_eq(es[2].name, "afile", "entries in creation order");
    cr_assert_str_eq(es[3].name, "bdir");
    cr_assert_str_eq(es[4].name, "clink");
    cr_assert_eq(es[2].type, CFS_FILETYPE_REGULAR_FILE);
    cr_assert_eq(es[3].type, CFS_FILETYPE_DIRECTORY);
    cr_assert_eq(es[4].type, CFS_FILETYPE_SYMBOLIC_LINK);
    cr_assert_eq(es[2].ino, t_stat("d/afile").ino);
    cr_assert_eq(es[3].ino, t_stat("d/bdir").ino);
    cr_assert_eq(es[4].ino, t_lstat("d/clink").ino);

    /* Cookies increase, none is the start cookie, and each resumes right
     * after its entry. */
    for (size_t i = 0; i < n; i++) {
        cr_assert_neq(es[i].next, CFS_DIRCOOKIE_START);
        if (i > 0)
            cr_assert_gt(es[i].next, es[i - 1].next);
        entry rest[8];
        size_t m = list(fd, es[i].next, sizeof buf, rest, 8);
        cr_assert_eq(m, n - i - 1, "from cookie of #%zu: %zu entries", i, m);
        for (size_t j = 0; j < m; j++)
            cr_assert_str_eq(rest[j].name, es[i + 1 + j].name);
    }
    T_OK(cfs_fd_readdir(U.fs, fd, buf, sizeof buf, es[n - 1].next, &used));
    cr_assert_eq(used, 0, "past the last entry: nothing");

    /* The root's ".." is the root. */
    n = list(CFS_ROOT_FD, CFS_DIRCOOKIE_START, sizeof buf, es, 8);
    cr_assert_geq(n, 3);
    cr_assert_eq(es[0].ino, CFS_INO_ROOT);
    cr_assert_eq(es[1].ino, CFS_INO_ROOT);
    cr_assert_str_eq(es[2].name, "d");
}

Test(readdir, small_buffers_cut_the_last_record)
{
    t_mkdir("d");
    t_put("d/first", "1");
    t_put("d/second", "2");
    cfs_fd fd = t_opendir(CFS_ROOT_FD, "d");
    uint8_t full[512];
    size_t flen = 0;
    T_OK(cfs_fd_readdir(U.fs, fd, full, sizeof full, CFS_DIRCOOKIE_START,
                        &flen));
    cr_assert_eq(flen, (HDR + 1) + (HDR + 2) + (HDR + 5) + (HDR + 6));

    /* Any buffer gets a prefix of the full listing, filled to the brim. */
    for (size_t len = 0; len <= flen + 3; len++) {
        uint8_t buf[512];
        memset(buf, 0xee, sizeof buf);
        size_t used = 999;
        T_OK(cfs_fd_readdir(U.fs, fd, buf, len, CFS_DIRCOOKIE_START, &used));
        size_t want = len < flen ? len : flen;
        cr_assert_eq(used, want, "len %zu: used %zu, want %zu", len, used,
                     want);
        cr_assert(memcmp(buf, full, used) == 0, "len %zu: not a prefix", len);
        cr_assert_eq(buf[len], 0xee, "len %zu: wrote past the buffer", len);
    }

    /* Resuming from the last whole record of a cut buffer gets the rest. */
    entry es[8];
    size_t n = list(fd, CFS_DIRCOOKIE_START, HDR + 8, es, 8);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(es[3].name, "second");
}

Test(readdir, resume_across_changes)
{
    t_mkdir("d");
    char name[16];
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "d/e%d", i);
        t_put(name, "x");
    }
    cfs_fd fd = t_opendir(CFS_ROOT_FD, "d");

    /* Read ".", "..", e0, e1, e2. */
    entry seen[32];
    size_t ns = 0;
    uint64_t cookie = CFS_DIRCOOKIE_START;
    cfs_dirent de;
    cfs_ino dino = t_stat("d").ino;
    while (ns < 5) {
        uint8_t buf[64];
        size_t used;
        T_OK(cfs_fd_readdir(U.fs, fd, buf, sizeof buf, cookie, &used));
        entry tmp[4];
        cr_assert_geq(parse(buf, used, tmp, 4), 1);
        seen[ns] = tmp[0];
        cookie = seen[ns].next;
        ns++;
    }
    cr_assert_str_eq(seen[4].name, "e2");

    /* Meanwhile: remove a seen entry and an unseen one, add two, rename
     * an unseen one. */
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "d/e1"));
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "d/e5"));
    t_put("d/n1", "x");
    t_mkdir("d/n2");
    T_OK(cfs_path_rename(U.fs, CFS_ROOT_FD, "d/e7", CFS_ROOT_FD, "d/e7r"));
    /* Removing and re-adding a seen name makes a new entry. */
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "d/e0"));
    t_put("d/e0", "again");

    entry rest[32];
    size_t nr = list(fd, cookie, 128, rest, 32);
    for (size_t i = 0; i < nr; i++) {
        cr_assert_str_neq(rest[i].name, ".");
        cr_assert_str_neq(rest[i].name, "..");
        cr_assert_str_neq(rest[i].name, "e1", "removed before it was reached");
        cr_assert_str_neq(rest[i].name, "e2", "already seen");
        cr_assert_str_neq(rest[i].name, "e5", "removed");
        cr_assert_str_neq(rest[i].name, "e7", "renamed away");
    }
    const char *survivors[] = {"e3", "e4", "e6", "e8", "e9", "n1", "n2", "e0"};
    for (size_t i = 0; i < sizeof survivors / sizeof *survivors; i++)
        cr_assert_not_null(find(rest, nr, survivors[i]), "%s missing",
                           survivors[i]);
    const entry *again = find(rest, nr, "e0");
    cr_assert_eq(again->ino, t_stat("d/e0").ino);
    /* e7r is a new name: it may come or not, but at most once. */
    (void)find(rest, nr, "e7r");

    /* cfs_dir_next agrees with a fresh full listing. */
    entry all[32];
    size_t na = list(fd, CFS_DIRCOOKIE_START, 4096, all, 32);
    uint64_t c = CFS_DIRCOOKIE_START;
    for (size_t i = 0; i < na; i++) {
        T_OK(cfs_dir_next(U.fs, dino, c, &de));
        cr_assert_eq(de.name_len, all[i].namlen);
        cr_assert(memcmp(de.name, all[i].name, de.name_len) == 0,
                  "dir_next #%zu differs from fd_readdir (%s)", i, all[i].name);
        cr_assert_eq(de.ino, all[i].ino);
        cr_assert_eq(de.filetype, all[i].type);
        cr_assert_eq(de.next, all[i].next);
        c = de.next;
    }
    T_ERR(CFS_ENOENT, cfs_dir_next(U.fs, dino, c, &de));
}

Test(readdir, cookies_are_never_reused)
{
    t_mkdir("d");
    t_put("d/x", "1");
    cfs_ino dino = t_stat("d").ino;
    cfs_dirent de;
    T_OK(cfs_dir_next(U.fs, dino, CFS_DIRCOOKIE_START, &de)); /* . */
    T_OK(cfs_dir_next(U.fs, dino, de.next, &de));             /* .. */
    uint64_t before_x = de.next;
    T_OK(cfs_dir_next(U.fs, dino, before_x, &de));
    cr_assert_eq(de.name_len, 1);
    cr_assert_eq(de.name[0], 'x');
    uint64_t after_x = de.next;

    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "d/x"));
    t_put("d/x", "2");
    /* The new x comes after where the old one was: a cursor that already
     * passed the old x sees the new one. */
    T_OK(cfs_dir_next(U.fs, dino, after_x, &de));
    cr_assert_eq(de.name_len, 1);
    cr_assert_eq(de.name[0], 'x');
    uint64_t new_x = de.next;
    cr_assert_gt(new_x, after_x, "a new entry gets a larger cookie");
    T_OK(cfs_dir_next(U.fs, dino, before_x, &de));
    cr_assert_eq(de.next, new_x);
    T_ERR(CFS_ENOENT, cfs_dir_next(U.fs, dino, new_x, &de));
}

Test(readdir, dir_next_basics)
{
    t_mkdir("d");
    t_mkdir("d/s");
    cfs_ino dino = t_stat("d").ino;
    cfs_dirent de;
    T_OK(cfs_dir_next(U.fs, dino, CFS_DIRCOOKIE_START, &de));
    cr_assert_eq(de.name_len, 1);
    cr_assert_eq(de.name[0], '.');
    cr_assert_eq(de.ino, dino);
    cr_assert_eq(de.filetype, CFS_FILETYPE_DIRECTORY);
    T_OK(cfs_dir_next(U.fs, dino, de.next, &de));
    cr_assert_eq(de.name_len, 2);
    cr_assert(memcmp(de.name, "..", 2) == 0);
    cr_assert_eq(de.ino, CFS_INO_ROOT);
    T_OK(cfs_dir_next(U.fs, dino, de.next, &de));
    cr_assert_eq(de.name_len, 1);
    cr_assert_eq(de.name[0], 's');
    cr_assert_eq(de.ino, t_stat("d/s").ino);
    T_ERR(CFS_ENOENT, cfs_dir_next(U.fs, dino, de.next, &de));

    /* ".." of a subdirectory follows a rename of it. */
    t_mkdir("e");
    T_OK(cfs_path_rename(U.fs, CFS_ROOT_FD, "d/s", CFS_ROOT_FD, "e/s"));
    cfs_ino sino = t_stat("e/s").ino;
    T_OK(cfs_dir_next(U.fs, sino, CFS_DIRCOOKIE_START, &de));
    T_OK(cfs_dir_next(U.fs, sino, de.next, &de));
    cr_assert_eq(de.ino, t_stat("e").ino);

    t_put("f", "x");
    T_ERR(CFS_ENOTDIR,
          cfs_dir_next(U.fs, t_stat("f").ino, CFS_DIRCOOKIE_START, &de));
}

Test(readdir, large_directory_in_small_pieces)
{
    t_mkdir("big");
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "big/file-%04d", i);
        T_OK(cfs_path_mknod(U.fs, CFS_ROOT_FD, name, 0644));
    }
    cfs_fd fd = t_opendir(CFS_ROOT_FD, "big");
    static entry es[1100];
    size_t n = list(fd, CFS_DIRCOOKIE_START, 200, es, 1100);
    cr_assert_eq(n, 1002);
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "file-%04d", i);
        cr_assert_str_eq(es[i + 2].name, name);
    }
    /* Every other one removed: the rest still lists in order. */
    for (int i = 0; i < 1000; i += 2) {
        snprintf(name, sizeof name, "big/file-%04d", i);
        T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, name));
    }
    n = list(fd, CFS_DIRCOOKIE_START, 200, es, 1100);
    cr_assert_eq(n, 502);
    for (int i = 1, k = 2; i < 1000; i += 2, k++) {
        snprintf(name, sizeof name, "file-%04d", i);
        cr_assert_str_eq(es[k].name, name);
    }
}

Test(readdir, readdir_errors)
{
    t_put("f", "x");
    cfs_fd f = t_open(CFS_ROOT_FD, "f", 0, 0);
    uint8_t buf[64];
    size_t used;
    T_ERR(CFS_ENOTDIR,
          cfs_fd_readdir(U.fs, f, buf, sizeof buf, CFS_DIRCOOKIE_START, &used));
    T_ERR(CFS_EBADF, cfs_fd_readdir(U.fs, 77, buf, sizeof buf,
                                    CFS_DIRCOOKIE_START, &used));
    /* A cookie past every entry is just the end. */
    T_OK(cfs_fd_readdir(U.fs, CFS_ROOT_FD, buf, sizeof buf, UINT64_MAX / 2,
                        &used));
    cr_assert_eq(used, 0);
    /* Listing is not a state change. */
    cr_assert_eq(cfs_fs_seq(U.fs), U.rec.n);
}

Test(readdir, resume_across_heavy_churn)
{
    /* Enough removals to make any internal compaction happen mid-listing. */
    t_mkdir("d");
    char name[32];
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof name, "d/old%03d", i);
        T_OK(cfs_path_mknod(U.fs, CFS_ROOT_FD, name, 0644));
    }
    cfs_ino dino = t_stat("d").ino;
    static bool seen_old[500];
    memset(seen_old, 0, sizeof seen_old);
    cfs_dirent de;
    uint64_t cookie = CFS_DIRCOOKIE_START;
    int got = 0;
    while (got < 102) { /* ".", "..", old000..old099 */
        T_OK(cfs_dir_next(U.fs, dino, cookie, &de));
        if (de.name_len == 6 && memcmp(de.name, "old", 3) == 0) {
            int k = atoi((char[4]){de.name[3], de.name[4], de.name[5], 0});
            cr_assert_not(seen_old[k]);
            seen_old[k] = true;
        }
        cookie = de.next;
        got++;
    }
    /* Remove 400 (some seen, most not), add 300. */
    for (int i = 0; i < 500; i++) {
        if (i % 5 == 0)
            continue;
        snprintf(name, sizeof name, "d/old%03d", i);
        T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, name));
    }
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "d/new%03d", i);
        T_OK(cfs_path_mknod(U.fs, CFS_ROOT_FD, name, 0644));
    }
    static bool seen_new[300];
    memset(seen_new, 0, sizeof seen_new);
    for (;;) {
        cfs_errno e = cfs_dir_next(U.fs, dino, cookie, &de);
        if (e == CFS_ENOENT)
            break;
        cr_assert_eq(e, 0);
        cr_assert_eq(de.name_len, 6);
        char num[4] = {de.name[3], de.name[4], de.name[5], 0};
        int k = atoi(num);
        if (memcmp(de.name, "old", 3) == 0) {
            cr_assert_eq(k % 5, 0, "old%03d was removed", k);
            cr_assert_not(seen_old[k], "old%03d listed twice", k);
            seen_old[k] = true;
        } else {
            cr_assert(memcmp(de.name, "new", 3) == 0);
            cr_assert_not(seen_new[k], "new%03d listed twice", k);
            seen_new[k] = true;
        }
        cookie = de.next;
    }
    for (int i = 0; i < 500; i += 5)
        cr_assert(seen_old[i], "survivor old%03d skipped", i);
    for (int i = 0; i < 300; i++)
        cr_assert(seen_new[i], "new%03d missing", i);
}
