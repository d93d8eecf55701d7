/*
 * test_diff.c — what changed between two seqs, path by path: exact records
 * for a constructed history (added, removed, type, size, content, mode,
 * symlink target; equal bytes rewritten are no change), either order, and
 * a property test against two full tree snapshots on random workloads.
 */
#include "replay_test.h"

static cfs_diff *diff(cfs_journal *j, uint64_t a, uint64_t b)
{
    cfs_diff *d;
    char err[512];
    int rc = cfs_replay_diff(j, a, b, &d, err, sizeof(err));
    cr_assert_eq(rc, 0, "diff %" PRIu64 " %" PRIu64 ": %s: %s", a, b, cfs_strerror(rc), err);
    return d;
}

static const char *type_name(uint8_t t)
{
    switch (t) {
    case 0: return "-";
    case CFS_FILETYPE_DIRECTORY: return "dir";
    case CFS_FILETYPE_REGULAR_FILE: return "file";
    case CFS_FILETYPE_SYMBOLIC_LINK: return "link";
    case CFS_FILETYPE_FIFO: return "fifo";
    case CFS_FILETYPE_SOCKET_STREAM: return "sock";
    case CFS_FILETYPE_CHARACTER_DEVICE: return "chr";
    case CFS_FILETYPE_BLOCK_DEVICE: return "blk";
    default: return "?";
    }
}

/* One line per entry, as a CLI might print it. */
static char *render(const cfs_diff *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    for (size_t i = 0; i < cfs_diff_count(d); i++) {
        const cfs_diff_entry *e = cfs_diff_get(d, i);
        fprintf(f, "%c %s", "?+-M"[e->kind], e->path);
        if (e->kind == CFS_DIFF_CHANGED) {
            static const char *const bits[] = {"type", "size", "content", "mode", "target",
                                               "rdev"};
            const char *sep = " [";
            for (int k = 0; k < 6; k++)
                if (e->changed & (1u << k)) {
                    fprintf(f, "%s%s", sep, bits[k]);
                    sep = ",";
                }
            fprintf(f, "]");
        }
        fprintf(f, " %s:%" PRIu64 ":%04o", type_name(e->a.filetype), e->a.size,
                (unsigned)e->a.mode);
        if (e->a.target)
            fprintf(f, ":%s", e->a.target);
        fprintf(f, " -> %s:%" PRIu64 ":%04o", type_name(e->b.filetype), e->b.size,
                (unsigned)e->b.mode);
        if (e->b.target)
            fprintf(f, ":%s", e->b.target);
        fprintf(f, "\n");
    }
    fclose(f);
    return buf;
}

/* seq 11 is the "before" state, the last seq the "after" one. */
static uint64_t record(rt_world *w)
{
    cfs_fs *fs = w->fs;
    cfs_fd a = rt_open(fs, "a", CFS_O_CREAT);
    rt_write(fs, a, "hello");
    cfs_fd b = rt_open(fs, "b", CFS_O_CREAT);
    rt_write(fs, b, "same");
    RT_OK(cfs_path_create_directory(fs, CFS_ROOT_FD, "d"));
    cfs_fd x = rt_open(fs, "d/x", CFS_O_CREAT);
    rt_write(fs, x, "xx");
    RT_OK(cfs_path_symlink(fs, "a", CFS_ROOT_FD, "l"));
    cfs_fd c = rt_open(fs, "c", CFS_O_CREAT);
    rt_write(fs, c, "ccc");
    RT_OK(cfs_path_create_directory(fs, CFS_ROOT_FD, "e"));
    uint64_t before = cfs_fs_seq(fs);
    cr_assert_eq(before, 11);
    rt_pwrite(fs, a, "J", 1, 0);                                     /* content only */
    RT_OK(cfs_path_chmod(fs, CFS_ROOT_FD, 0, "b", 0600));             /* mode only */
    rt_pwrite(fs, b, "same", 4, 0);                                  /* same bytes */
    RT_OK(cfs_path_unlink_file(fs, CFS_ROOT_FD, "d/x"));              /* removed */
    cfs_fd y = rt_open(fs, "d/y", CFS_O_CREAT);                       /* added, empty */
    RT_OK(cfs_path_unlink_file(fs, CFS_ROOT_FD, "l"));
    RT_OK(cfs_path_symlink(fs, "bb", CFS_ROOT_FD, "l"));              /* target+size */
    RT_OK(cfs_path_remove_directory(fs, CFS_ROOT_FD, "e"));
    cfs_fd e = rt_open(fs, "e", CFS_O_CREAT);                         /* dir -> file */
    rt_write(fs, e, "now a file");
    RT_OK(cfs_path_rename(fs, CFS_ROOT_FD, "c", CFS_ROOT_FD, "c2"));  /* moved */
    RT_OK(cfs_fd_filestat_set_size(fs, c, 5));                        /* and grown */
    (void)y;
    return before;
}

static const char *const expected =
    "M /a [content] file:5:0644 -> file:5:0644\n"
    "M /b [mode] file:4:0644 -> file:4:0600\n"
    "- /c file:3:0644 -> -:0:0000\n"
    "+ /c2 -:0:0000 -> file:5:0644\n"
    "- /d/x file:2:0644 -> -:0:0000\n"
    "+ /d/y -:0:0000 -> file:0:0644\n"
    "M /e [type] dir:0:0755 -> file:10:0644\n"
    "M /l [size,target] link:1:0777:a -> link:2:0777:bb\n";

Test(diff, exact_changes_between_two_seqs)
{
    rt_world w;
    rt_begin(&w, 6);
    uint64_t before = record(&w);
    uint64_t after = cfs_fs_seq(w.fs);
    rt_reopen_ro(&w);
    cfs_diff *d = diff(w.j, before, after);
    char *got = render(d);
    cr_assert_str_eq(got, expected);
    free(got);
    cfs_diff_free(d);
    d = diff(w.j, before, CFS_REPLAY_HEAD);
    got = render(d);
    cr_assert_str_eq(got, expected, "the head is the last seq");
    free(got);
    cfs_diff_free(d);

    /* the other way round: added and removed swap, sides swap */
    d = diff(w.j, after, before);
    got = render(d);
    cr_assert_str_eq(got,
                     "M /a [content] file:5:0644 -> file:5:0644\n"
                     "M /b [mode] file:4:0600 -> file:4:0644\n"
                     "+ /c -:0:0000 -> file:3:0644\n"
                     "- /c2 file:5:0644 -> -:0:0000\n"
                     "+ /d/x -:0:0000 -> file:2:0644\n"
                     "- /d/y file:0:0644 -> -:0:0000\n"
                     "M /e [type] file:10:0644 -> dir:0:0755\n"
                     "M /l [size,target] link:2:0777:bb -> link:1:0777:a\n");
    free(got);
    cfs_diff_free(d);

    /* from the empty start: everything is added, sorted by path */
    d = diff(w.j, 0, 3);
    got = render(d);
    cr_assert_str_eq(got, "+ /a -:0:0000 -> file:5:0644\n"
                          "+ /b -:0:0000 -> file:0:0644\n");
    free(got);
    cfs_diff_free(d);

    d = diff(w.j, 7, 7);
    cr_assert_eq(cfs_diff_count(d), 0);
    cr_assert_null(cfs_diff_get(d, 0));
    cfs_diff_free(d);
    char err[256];
    cr_assert_eq(cfs_replay_diff(w.j, 1, after + 1, &d, err, sizeof(err)), CFS_JE_NOTFOUND);
    cr_assert_null(d);
    rt_end(&w);
}

/* FIFOs, sockets and devices: added, removed, type, mode and device
 * number changes. */
Test(diff, special_inodes)
{
    rt_world w;
    rt_begin(&w, 4);
    cfs_fs *fs = w.fs;
    RT_OK(cfs_path_mknod(fs, CFS_ROOT_FD, "p", CFS_S_IFIFO | 0644));
    RT_OK(cfs_path_mknod_dev(fs, CFS_ROOT_FD, "dev", CFS_S_IFCHR | 0666, 0x103));
    RT_OK(cfs_path_mknod_dev(fs, CFS_ROOT_FD, "same", CFS_S_IFBLK | 0660, 0x700));
    RT_OK(cfs_path_mknod(fs, CFS_ROOT_FD, "f", 0644));
    uint64_t before = cfs_fs_seq(fs);
    RT_OK(cfs_path_chmod(fs, CFS_ROOT_FD, 0, "p", 0600));
    RT_OK(cfs_path_unlink_file(fs, CFS_ROOT_FD, "dev"));
    RT_OK(cfs_path_mknod_dev(fs, CFS_ROOT_FD, "dev", CFS_S_IFCHR | 0666, 0x105));
    RT_OK(cfs_path_unlink_file(fs, CFS_ROOT_FD, "same"));
    RT_OK(cfs_path_mknod_dev(fs, CFS_ROOT_FD, "same", CFS_S_IFBLK | 0660, 0x700));
    RT_OK(cfs_path_unlink_file(fs, CFS_ROOT_FD, "f"));
    RT_OK(cfs_path_mknod(fs, CFS_ROOT_FD, "f", CFS_S_IFIFO | 0644));
    RT_OK(cfs_path_mknod(fs, CFS_ROOT_FD, "s", CFS_S_IFSOCK | 0755));
    uint64_t after = cfs_fs_seq(fs);
    rt_reopen_ro(&w);
    cfs_diff *d = diff(w.j, before, after);
    char *got = render(d);
    cr_assert_str_eq(got, "M /dev [rdev] chr:0:0666 -> chr:0:0666\n"
                          "M /f [type] file:0:0644 -> fifo:0:0644\n"
                          "M /p [mode] fifo:0:0644 -> fifo:0:0600\n"
                          "+ /s -:0:0000 -> sock:0:0755\n");
    const cfs_diff_entry *e = cfs_diff_get(d, 0);
    cr_assert_eq(e->a.rdev, 0x103);
    cr_assert_eq(e->b.rdev, 0x105);
    free(got);
    cfs_diff_free(d);
    rt_end(&w);
}

/* ---- property: diff == comparing two full tree snapshots ------------------------- */

static const cfs_tree_node *find(const cfs_tree *t, const char *rel)
{
    size_t lo = 0, hi = t->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(t->nodes[mid].path, rel);
        if (!c)
            return &t->nodes[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void tree_at(cfs_journal *j, uint64_t seq, cfs_tree *t)
{
    cfs_fs *fs;
    char err[512];
    cr_assert_eq(cfs_replay_state_at(j, seq, NULL, &fs, err, sizeof(err)), 0, "%s", err);
    char msg[256];
    cr_assert_eq(cfs_tree_from_engine(fs, CFS_ROOT_FD, t, msg, sizeof(msg)), 0, "%s", msg);
    cfs_fs_free(fs);
}

static unsigned expect_bits(const cfs_tree_node *x, const cfs_tree_node *y)
{
    if (x->filetype != y->filetype)
        return CFS_DIFF_TYPE;
    unsigned bits = x->perm != y->perm ? CFS_DIFF_MODE : 0;
    bool data = x->data_len != y->data_len ||
                (x->data_len && memcmp(x->data, y->data, x->data_len) != 0);
    if (x->filetype == CFS_FILETYPE_REGULAR_FILE) {
        if (x->size != y->size)
            bits |= CFS_DIFF_SIZE;
        if (data)
            bits |= CFS_DIFF_CONTENT;
    } else if (x->filetype == CFS_FILETYPE_SYMBOLIC_LINK) {
        if (x->size != y->size)
            bits |= CFS_DIFF_SIZE;
        if (data)
            bits |= CFS_DIFF_TARGET;
    }
    return bits;
}

static void check_against_trees(cfs_journal *j, uint64_t a, uint64_t b, uint64_t seed)
{
    cfs_tree ta, tb;
    tree_at(j, a, &ta);
    tree_at(j, b, &tb);
    cfs_diff *d = diff(j, a, b);
    size_t k = 0; /* walks the diff's entries along the merged trees */
    size_t i = 0, m = 0;
    while (i < ta.count || m < tb.count) {
        int c = i == ta.count ? 1 : m == tb.count ? -1 : strcmp(ta.nodes[i].path, tb.nodes[m].path);
        const char *rel = c <= 0 ? ta.nodes[i].path : tb.nodes[m].path;
        int kind = c < 0 ? CFS_DIFF_REMOVED : c > 0 ? CFS_DIFF_ADDED : CFS_DIFF_CHANGED;
        unsigned bits = c == 0 ? expect_bits(&ta.nodes[i], &tb.nodes[m]) : 0;
        i += c <= 0;
        m += c >= 0;
        if (kind == CFS_DIFF_CHANGED && !bits)
            continue;
        const cfs_diff_entry *e = cfs_diff_get(d, k++);
        cr_assert(e, "seed %" PRIu64 " %" PRIu64 "..%" PRIu64 ": missing /%s", seed, a, b, rel);
        cr_assert_str_eq(e->path + 1, rel, "seed %" PRIu64 " %" PRIu64 "..%" PRIu64, seed, a, b);
        cr_assert_eq(e->kind, kind, "seed %" PRIu64 ": /%s", seed, rel);
        cr_assert_eq(e->changed, bits, "seed %" PRIu64 " %" PRIu64 "..%" PRIu64
                     ": /%s: bits %#x, want %#x", seed, a, b, rel, e->changed, bits);
        const cfs_tree_node *na = find(&ta, rel), *nb = find(&tb, rel);
        if (na)
            cr_assert_eq(e->a.size, na->filetype == CFS_FILETYPE_DIRECTORY ? e->a.size
                                                                           : na->size);
        if (nb)
            cr_assert_eq(e->b.size, nb->filetype == CFS_FILETYPE_DIRECTORY ? e->b.size
                                                                           : nb->size);
    }
    /* the diff also lists the root only if it changed; the trees do not hold it */
    for (; k < cfs_diff_count(d); k++)
        cr_assert_str_eq(cfs_diff_get(d, k)->path, "/", "seed %" PRIu64 ": extra %s", seed,
                         cfs_diff_get(d, k)->path);
    cfs_diff_free(d);
    cfs_tree_free(&ta);
    cfs_tree_free(&tb);
}

Test(diff, matches_full_tree_snapshots_on_random_workloads)
{
    static const uint64_t defaults[] = {51, 52, 53};
    uint64_t seeds[3];
    size_t ns = cfs_test_seeds(defaults, 3, seeds);
    for (size_t si = 0; si < ns; si++) {
        printf("diff seed %" PRIu64 "\n", seeds[si]);
        rt_world w;
        rt_begin(&w, 33);
        cfs_rng r;
        cfs_rng_seed(&r, seeds[si]);
        rt_workload(&w, &r, 800, 3000);
        uint64_t last = cfs_fs_seq(w.fs);
        rt_reopen_ro(&w);
        for (int k = 0; k < 25; k++) {
            uint64_t a = cfs_rng_below(&r, last + 1), b = cfs_rng_below(&r, last + 1);
            if (k < 5) { /* short spans: few changes, most comparisons skipped */
                b = a + cfs_rng_below(&r, 4);
                if (b > last)
                    b = last;
            }
            check_against_trees(w.j, a, b, seeds[si]);
        }
        rt_end(&w);
    }
}
