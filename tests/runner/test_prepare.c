/*
 * test_prepare.c — cfs_run_prepare / poll / finish as `chronofs run` uses
 * them: the seed runner's mount tests (user mounts override package mounts,
 * conflicts fail when configured, root mounts composed even in fail mode,
 * several root mounts compose, the memory limiter survives preparation,
 * invalid guest mount paths rejected), and the journal side: mapdir imports
 * replayable without the host, layers read from another journal and never
 * written, read-only bases chained, --at on a writable journal, bootstrap,
 * SIGUSR1 with --stop-after-snapshot, exit snapshots.
 *
 * --mapdir is the seed's user mount (a host directory); --layer, a tree
 * from another journal, is its package/container mount.
 */
#include <signal.h>
#include <time.h>

#include "runner_test.h"

static char *tmp;

static void setup(void)
{
    tmp = cfs_test_tmpdir("cfs-runner");
}

static void teardown(void)
{
    cfs_test_rmtree(tmp);
    free(tmp);
}

TestSuite(prepare, .init = setup, .fini = teardown, .timeout = 60);

/* "<tmp>/<name>" (static buffers, a few at a time) */
static const char *T(const char *name)
{
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
    return buf[k];
}

/* A host directory <tmp>/<name> holding one file `file` = `content`. */
static const char *host_tree(const char *name, const char *file, const char *content)
{
    const char *d = T(name);
    cr_assert_eq(mkdir(d, 0755), 0);
    if (file)
        host_write(d, file, content);
    return d;
}

/* A journal <tmp>/<name> whose head holds /<file> = `content`. */
static const char *layer_journal(const char *name, const char *file, const char *content)
{
    const char *d = T(name);
    tjournal t;
    tj_open(&t, d);
    char p[256];
    snprintf(p, sizeof p, "/%s", file);
    guest_put(t.fs, p, content);
    tj_close(&t);
    return d;
}

static int prepare(cfs_run_opts *o, cfs_run_state **st, char *err, size_t cap)
{
    err[0] = 0;
    return cfs_run_prepare(o, st, err, cap);
}

static cfs_run_state *prepare_ok(cfs_run_opts *o)
{
    cfs_run_state *st = NULL;
    char err[1024];
    cr_assert_eq(prepare(o, &st, err, sizeof err), 0, "prepare: %s", err);
    cr_assert_not_null(st);
    return st;
}

static void finish_ok(cfs_run_state *st)
{
    char err[512] = "";
    cr_assert_eq(cfs_run_finish(st, err, sizeof err), 0, "finish: %s", err);
}

/* prepare must fail with a message holding `want`. */
static void prepare_fails(cfs_run_opts *o, const char *want)
{
    cfs_run_state *st = (cfs_run_state *)1;
    char err[1024];
    cr_assert_eq(prepare(o, &st, err, sizeof err), 1, "prepare should fail (%s)", want);
    cr_assert_null(st);
    cr_assert(strstr(err, want), "message '%s' lacks '%s'", err, want);
    cr_assert_null(strchr(err, '\n'), "one line: '%s'", err);
}

/* ---- the seed's tests ----------------------------------------------------- */

Test(prepare, user_mounts_override_package_mounts_when_configured)
{
    const char *user = host_tree("user", "user.txt", "u");
    const char *pkg = layer_journal("pkg", "pkg.txt", "p");
    const char *sub = layer_journal("pkgsub", "lib.txt", "l");
    char m[2048], l1[2048], l2[2048];
    snprintf(m, sizeof m, "/python:%s", user);
    snprintf(l1, sizeof l1, "/python:%s", pkg);
    snprintf(l2, sizeof l2, "/python/lib:%s", sub); /* below the skipped one */
    cfs_run_opts o;
    PARSE_OK(&o, "--mapdir", m, "--layer", l2, "--layer", l1, "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    cfs_fs *fs = cfs_run_fs(st);
    ASSERT_FILE(fs, "/python/user.txt", "u");
    cr_assert(!guest_exists(fs, "/python/pkg.txt", NULL), "the package mount was skipped");
    cr_assert(!guest_exists(fs, "/python/lib", NULL), "and so was its subtree");
    finish_ok(st);
    cfs_run_opts_free(&o);
}

Test(prepare, package_mounts_elsewhere_are_copied_and_writable)
{
    const char *pkg = layer_journal("pkg", "pkg.txt", "p");
    char l[2048];
    snprintf(l, sizeof l, "python:%s", pkg); /* relative: under / */
    cfs_run_opts o;
    PARSE_OK(&o, "--layer", l, "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    cfs_fs *fs = cfs_run_fs(st);
    ASSERT_FILE(fs, "/python/pkg.txt", "p");
    cr_assert_eq(cfs_path_create_directory(fs, CFS_ROOT_FD, "/python/custom"), 0);
    guest_put(fs, "/python/custom/sitecustomize.py", "x");
    cr_assert_eq(cfs_path_symlink(fs, "pkg.txt", CFS_ROOT_FD, "/python/link"), 0);
    ASSERT_FILE(fs, "/python/link", "p");
    finish_ok(st);
    cfs_run_opts_free(&o);
}

Test(prepare, conflicting_mounts_fail_when_configured)
{
    const char *user = host_tree("user", "user.txt", "u");
    const char *pkg = layer_journal("pkg", "pkg.txt", "p");
    char m[2048], l[2048];
    snprintf(m, sizeof m, "/python:%s", user);
    snprintf(l, sizeof l, "/python:%s", pkg);
    cfs_run_opts o;
    PARSE_OK(&o, "--mount-conflict", "fail", "--mapdir", m, "--layer", l, "g.wasm");
    prepare_fails(&o, "Unable to merge container mount \"/python\"");
    cfs_run_opts_free(&o);
}

Test(prepare, two_user_mounts_at_one_path_fail_or_the_later_wins)
{
    const char *a = host_tree("a", "a.txt", "a");
    const char *b = host_tree("b", "b.txt", "b");
    char ma[2048], mb[2048];
    snprintf(ma, sizeof ma, "/data:%s", a);
    snprintf(mb, sizeof mb, "/data/:%s", b); /* the same path once normalized */
    cfs_run_opts o;
    PARSE_OK(&o, "--mount-conflict", "fail", "--mapdir", ma, "--mapdir", mb, "g.wasm");
    prepare_fails(&o, "Unable to mount \"/data\"");
    cfs_run_opts_free(&o);

    PARSE_OK(&o, "--mapdir", ma, "--mapdir", mb, "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    ASSERT_FILE(cfs_run_fs(st), "/data/b.txt", "b");
    cr_assert(!guest_exists(cfs_run_fs(st), "/data/a.txt", NULL));
    finish_ok(st);
    cfs_run_opts_free(&o);
}

Test(prepare, root_mounts_are_composed_even_in_fail_mode)
{
    const char *user = host_tree("user", "user.txt", "u");
    const char *pkg = layer_journal("pkg", "pkg.txt", "p");
    char m[2048], l[2048];
    snprintf(m, sizeof m, "/:%s", user);
    snprintf(l, sizeof l, "/:%s", pkg);
    cfs_run_opts o;
    PARSE_OK(&o, "--mount-conflict", "fail", "--mapdir", m, "--layer", l, "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    ASSERT_FILE(cfs_run_fs(st), "/user.txt", "u");
    ASSERT_FILE(cfs_run_fs(st), "/pkg.txt", "p");
    finish_ok(st);
    cfs_run_opts_free(&o);
}

/* Several root mounts compose; where they hold the same name, the
 * precedence is the seed's overlay's: the first --mapdir /, then the
 * next, then the --layer / (lowest). */
Test(prepare, multiple_root_mounts_are_composed)
{
    const char *first = host_tree("first", "first.txt", "1");
    host_write(first, "same.txt", "from first");
    host_mkdir(first, "etc");
    host_write(first, "etc/a.conf", "a");
    const char *second = host_tree("second", "second.txt", "2");
    host_write(second, "same.txt", "from second");
    host_mkdir(second, "etc");
    host_write(second, "etc/b.conf", "b");
    tjournal t;
    const char *pkg = T("pkg");
    tj_open(&t, pkg);
    guest_put(t.fs, "/same.txt", "from the layer");
    guest_put(t.fs, "/pkg.txt", "p");
    tj_close(&t);
    char m1[2048], m2[2048], l[2048];
    snprintf(m1, sizeof m1, "/:%s", first);
    snprintf(m2, sizeof m2, ".:%s", second);
    snprintf(l, sizeof l, "/:%s", pkg);
    cfs_run_opts o;
    PARSE_OK(&o, "--mount-conflict", "fail", "--layer", l, "--mapdir", m1, "--mapdir", m2,
             "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    cfs_fs *fs = cfs_run_fs(st);
    ASSERT_FILE(fs, "/first.txt", "1");
    ASSERT_FILE(fs, "/second.txt", "2");
    ASSERT_FILE(fs, "/pkg.txt", "p");
    ASSERT_FILE(fs, "/etc/a.conf", "a"); /* directories merge */
    ASSERT_FILE(fs, "/etc/b.conf", "b");
    ASSERT_FILE(fs, "/same.txt", "from first");
    finish_ok(st);
    cfs_run_opts_free(&o);
}

Test(prepare, the_memory_limiter_survives_preparation)
{
    const char *pkg = layer_journal("pkg", "pkg.txt", "small");
    char l[2048];
    snprintf(l, sizeof l, "/python:%s", pkg);
    cfs_run_opts o;
    PARSE_OK(&o, "--memory-limit", "64K", "--layer", l, "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    cfs_fs *fs = cfs_run_fs(st);
    cfs_statfs sf;
    cr_assert_eq(cfs_fs_statfs(fs, &sf), 0);
    cr_assert_eq(sf.byte_budget, 65536);
    ASSERT_FILE(fs, "/python/pkg.txt", "small");
    static char big[100 * 1024];
    memset(big, 'x', sizeof big);
    cr_assert_eq(guest_write(fs, "/python/big", big, sizeof big), CFS_ENOSPC);
    cr_assert_eq(guest_write(fs, "/python/ok", big, 1024), 0);
    finish_ok(st);
    cfs_run_opts_free(&o);

    /* a mount that does not fit is a clear error */
    const char *h = host_tree("bighost", NULL, NULL);
    FILE *f = fopen(T("bighost/big"), "w");
    fwrite(big, 1, sizeof big, f);
    fclose(f);
    char m[2048];
    snprintf(m, sizeof m, "/data:%s", h);
    PARSE_OK(&o, "--memory-limit", "64K", "--mapdir", m, "g.wasm");
    prepare_fails(&o, "past --memory-limit");
    cfs_run_opts_free(&o);
}

Test(prepare, invalid_guest_mount_paths_are_rejected)
{
    const char *h = host_tree("h", "f", "x");
    char m[2048];
    snprintf(m, sizeof m, "../../python:%s", h);
    cfs_run_opts o;
    PARSE_OK(&o, "--journal", T("j"), "--mapdir", m, "g.wasm");
    prepare_fails(&o, "Invalid guest mount path \"../../python\": parent traversal escapes "
                      "the virtual root");
    struct stat sb;
    cr_assert_neq(stat(T("j"), &sb), 0, "checked before the journal is created");
    cfs_run_opts_free(&o);
}

/* ---- journals ---------------------------------------------------------------- */

/* A --mapdir import is events in the writable journal: with the host tree
 * gone, replaying the journal gives the very same state. */
Test(prepare, mapdir_import_replays_without_the_host)
{
    const char *h = host_tree("host", "a.txt", "alpha");
    host_mkdir(h, "sub");
    host_write(h, "sub/b.txt", "beta");
    cr_assert_eq(symlink("../a.txt", T("host/sub/link")), 0);
    cr_assert_eq(link(T("host/a.txt"), T("host/sub/hard")), 0);
    cr_assert_eq(chmod(T("host/sub/b.txt"), 0600), 0);
    char m[2048];
    snprintf(m, sizeof m, "/data:%s", h);
    cfs_run_opts o;
    PARSE_OK(&o, "--journal", T("j"), "--mapdir", m, "--cwd", "/data/sub", "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    cfs_fs *fs = cfs_run_fs(st);
    ASSERT_FILE(fs, "/data/sub/b.txt", "beta");
    ASSERT_FILE(fs, "/data/sub/link", "alpha");
    cfs_filestat a = {0}, hard = {0}, b = {0}, lnk = {0};
    cr_assert(guest_exists(fs, "/data/a.txt", &a));
    cr_assert(guest_exists(fs, "/data/sub/hard", &hard));
    cr_assert_eq(a.ino, hard.ino, "a hard link stays one inode");
    cr_assert_eq(a.nlink, 2);
    cr_assert(guest_exists(fs, "/data/sub/b.txt", &b));
    cr_assert_eq(b.mode & 07777, 0600);
    struct stat hs;
    cr_assert_eq(stat(T("host/sub/b.txt"), &hs), 0);
    cr_assert_eq(b.mtim, (uint64_t)hs.st_mtim.tv_sec * 1000000000u + hs.st_mtim.tv_nsec);
    cr_assert(guest_exists(fs, "/data/sub/link", &lnk));
    cr_assert_eq(lnk.filetype, CFS_FILETYPE_SYMBOLIC_LINK);
    cr_assert_str_eq(cfs_run_cwd(st), "/data/sub");
    guest_put(fs, "/data/new.txt", "the guest's");
    cfs_hash128 live = cfs_fs_hash(fs);
    uint64_t seq = cfs_fs_seq(fs);
    finish_ok(st);
    cfs_run_opts_free(&o);

    cfs_test_rmtree(h);
    cfs_journal *j = ro_open(T("j"));
    cr_assert_eq(cfs_journal_committed(j), seq);
    cfs_fs *re = NULL;
    cr_assert_eq(cfs_journal_open_at(j, 0, NULL, &re), 0, "%s", cfs_journal_errmsg(j));
    cfs_hash128 h2 = cfs_fs_hash(re);
    cr_assert(h2.lo == live.lo && h2.hi == live.hi, "replayed state == live state");
    ASSERT_FILE(re, "/data/sub/b.txt", "beta");
    ASSERT_FILE(re, "/data/new.txt", "the guest's");
    cr_assert_str_eq(cfs_fs_getcwd(re), "/data/sub");
    cfs_fs_free(re);
    cfs_journal_close(j);
}

static void read_all(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc(*len + 1);
    cr_assert_eq(fread(*buf, 1, *len, f), *len);
    fclose(f);
}

/* A layer from another journal's snapshot appears at its guest path;
 * writes on top go to the new journal; the layer's journal is unchanged. */
Test(prepare, layer_from_a_snapshot_and_its_journal_untouched)
{
    const char *lj = T("layer");
    tjournal t;
    tj_open(&t, lj);
    cr_assert_eq(cfs_path_create_directory(t.fs, CFS_ROOT_FD, "/lib"), 0);
    guest_put(t.fs, "/lib/a.txt", "v1");
    cr_assert_eq(cfs_path_link(t.fs, CFS_ROOT_FD, 0, "/lib/a.txt", CFS_ROOT_FD, "/lib/a2"), 0);
    cr_assert_eq(cfs_path_chmod(t.fs, CFS_ROOT_FD, 0, "/lib/a.txt", 0751), 0);
    tj_snapshot(&t, "v1");
    guest_put(t.fs, "/lib/a.txt", "v2 (after the snapshot)");
    guest_put(t.fs, "/later.txt", "later");
    uint64_t lhead = cfs_fs_seq(t.fs);
    tj_close(&t);
    struct stat before;
    char *dbuf;
    size_t dlen;
    cr_assert_eq(stat(T("layer/data.mdb"), &before), 0);
    read_all(T("layer/data.mdb"), &dbuf, &dlen);

    char l[2048];
    snprintf(l, sizeof l, "/opt/pkg:%s@v1", lj);
    cfs_run_opts o;
    PARSE_OK(&o, "--journal", T("j"), "--layer", l, "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    cfs_fs *fs = cfs_run_fs(st);
    ASSERT_FILE(fs, "/opt/pkg/lib/a.txt", "v1");
    cr_assert(!guest_exists(fs, "/opt/pkg/later.txt", NULL), "the snapshot, not the head");
    cfs_filestat a = {0}, a2 = {0};
    cr_assert(guest_exists(fs, "/opt/pkg/lib/a.txt", &a));
    cr_assert(guest_exists(fs, "/opt/pkg/lib/a2", &a2));
    cr_assert_eq(a.ino, a2.ino);
    cr_assert_eq(a.mode & 07777, 0751);
    guest_put(fs, "/opt/pkg/lib/a.txt", "changed by the guest");
    guest_put(fs, "/opt/pkg/new.txt", "new");
    finish_ok(st);
    cfs_run_opts_free(&o);

    /* the new journal holds it all */
    cfs_journal *j = ro_open(T("j"));
    cfs_fs *re = NULL;
    cr_assert_eq(cfs_journal_open_at(j, 0, NULL, &re), 0);
    ASSERT_FILE(re, "/opt/pkg/lib/a.txt", "changed by the guest");
    ASSERT_FILE(re, "/opt/pkg/lib/a2", "changed by the guest");
    ASSERT_FILE(re, "/opt/pkg/new.txt", "new");
    cfs_fs_free(re);
    cfs_journal_close(j);

    /* the layer's journal: same bytes, same head, v1 still v1 */
    struct stat after;
    char *abuf;
    size_t alen;
    cr_assert_eq(stat(T("layer/data.mdb"), &after), 0);
    read_all(T("layer/data.mdb"), &abuf, &alen);
    cr_assert_eq(alen, dlen);
    cr_assert(!memcmp(abuf, dbuf, dlen), "data.mdb unchanged");
    cr_assert_eq(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    cr_assert_eq(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    free(abuf);
    free(dbuf);
    cfs_journal *lr = ro_open(lj);
    cr_assert_eq(cfs_journal_committed(lr), lhead);
    cfs_journal_close(lr);
}

Test(prepare, layer_at_a_seq_and_bad_points)
{
    const char *lj = T("layer");
    tjournal t;
    tj_open(&t, lj);
    guest_put(t.fs, "/one", "1");
    uint64_t s1 = cfs_fs_seq(t.fs);
    guest_put(t.fs, "/two", "2");
    tj_close(&t);
    char l[2048];
    snprintf(l, sizeof l, "/l:%s@%llu", lj, (unsigned long long)s1);
    cfs_run_opts o;
    PARSE_OK(&o, "--layer", l, "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    ASSERT_FILE(cfs_run_fs(st), "/l/one", "1");
    cr_assert(!guest_exists(cfs_run_fs(st), "/l/two", NULL));
    finish_ok(st);
    cfs_run_opts_free(&o);

    snprintf(l, sizeof l, "/l:%s@nosuch", lj);
    PARSE_OK(&o, "--layer", l, "g.wasm");
    prepare_fails(&o, "no snapshot labelled 'nosuch'");
    cfs_run_opts_free(&o);
    snprintf(l, sizeof l, "/l:%s", T("missing"));
    PARSE_OK(&o, "--layer", l, "g.wasm");
    prepare_fails(&o, "missing");
    cfs_run_opts_free(&o);
}

/* A run over --journal-readonly bases: each base continues the one
 * before; a new writable journal starts with their state as a "base"
 * snapshot and continues their seqs. */
Test(prepare, readonly_bases_are_replayed_in_order)
{
    /* b1: /x */
    tjournal t;
    tj_open(&t, T("b1"));
    guest_put(t.fs, "/x", "from b1");
    uint64_t b1_mid = cfs_fs_seq(t.fs);
    guest_put(t.fs, "/x2", "later in b1");
    tj_close(&t);

    /* b2: a run over b1, adding /y */
    cfs_run_opts o;
    PARSE_OK(&o, "--journal-readonly", T("b1"), "--journal", T("b2"), "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    uint64_t b1_head = cfs_fs_seq(cfs_run_fs(st));
    guest_put(cfs_run_fs(st), "/y", "from b2");
    finish_ok(st);
    cfs_run_opts_free(&o);
    struct snap_list sl = snapshots_of(T("b2"));
    uint64_t bseq = 0;
    cr_assert_eq(count_trigger(&sl, "base", &bseq), 1);
    cr_assert_eq(bseq, b1_head, "b2 starts from b1's head");

    /* both bases, in order, under a new journal */
    PARSE_OK(&o, "--journal-readonly", T("b1"), "--journal-readonly", T("b2"), "--journal",
             T("n"), "g.wasm");
    st = prepare_ok(&o);
    cfs_fs *fs = cfs_run_fs(st);
    ASSERT_FILE(fs, "/x", "from b1");
    ASSERT_FILE(fs, "/y", "from b2");
    uint64_t seq = cfs_fs_seq(fs);
    cr_assert_gt(seq, b1_head);
    guest_put(fs, "/z", "from n");
    cr_assert_eq(cfs_fs_seq(fs), seq + 3, "seqs continue (open, write, close)");
    finish_ok(st);
    cfs_run_opts_free(&o);
    cfs_journal *j = ro_open(T("n"));
    cr_assert_eq(cfs_journal_committed(j), seq + 3);
    cfs_fs *re = NULL;
    cr_assert_eq(cfs_journal_open_at(j, 0, NULL, &re), 0);
    ASSERT_FILE(re, "/y", "from b2");
    ASSERT_FILE(re, "/z", "from n");
    cfs_fs_free(re);
    cfs_journal_close(j);

    /* --at applies to the last base */
    char at[32];
    snprintf(at, sizeof at, "%llu", (unsigned long long)b1_mid);
    PARSE_OK(&o, "--journal-readonly", T("b1"), "--at", at, "g.wasm");
    st = prepare_ok(&o);
    ASSERT_FILE(cfs_run_fs(st), "/x", "from b1");
    cr_assert(!guest_exists(cfs_run_fs(st), "/x2", NULL));
    cr_assert_null(cfs_run_journal(st));
    finish_ok(st);
    cfs_run_opts_free(&o);

    /* the wrong order does not continue */
    PARSE_OK(&o, "--journal-readonly", T("b2"), "--journal-readonly", T("b1"), "g.wasm");
    prepare_fails(&o, "does not continue");
    cfs_run_opts_free(&o);
}

Test(prepare, unrelated_bases_are_refused)
{
    tjournal t;
    tj_open(&t, T("a"));
    guest_put(t.fs, "/a", "a");
    tj_close(&t);
    tj_open(&t, T("b"));
    guest_put(t.fs, "/b", "b");
    guest_put(t.fs, "/b2", "b");
    tj_close(&t);
    cfs_run_opts o;
    PARSE_OK(&o, "--journal-readonly", T("a"), "--journal-readonly", T("b"), "g.wasm");
    prepare_fails(&o, "does not continue");
    cfs_run_opts_free(&o);
}

Test(prepare, at_on_a_writable_journal_with_a_later_head_is_refused)
{
    tjournal t;
    tj_open(&t, T("j"));
    guest_put(t.fs, "/a", "1");
    guest_put(t.fs, "/b", "2");
    uint64_t head = cfs_fs_seq(t.fs);
    tj_close(&t);
    cfs_run_opts o;
    PARSE_OK(&o, "--journal", T("j"), "--at", "3", "g.wasm");
    char want[2048];
    snprintf(want, sizeof want, "journal %s: --at 3 is before its head (seq %llu)", T("j"),
             (unsigned long long)head);
    prepare_fails(&o, want);
    prepare_fails(&o, "--journal-readonly");
    cfs_run_opts_free(&o);

    /* at the head it resumes */
    char at[32];
    snprintf(at, sizeof at, "%llu", (unsigned long long)head);
    PARSE_OK(&o, "--journal", T("j"), "--at", at, "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    ASSERT_FILE(cfs_run_fs(st), "/b", "2");
    finish_ok(st);
    cfs_run_opts_free(&o);

    /* past the head */
    PARSE_OK(&o, "--journal", T("j"), "--at", "999", "g.wasm");
    prepare_fails(&o, "past its head");
    cfs_run_opts_free(&o);
}

Test(prepare, a_writable_journal_resumes_at_its_head)
{
    cfs_run_opts o;
    PARSE_OK(&o, "--journal", T("j"), "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    guest_put(cfs_run_fs(st), "/kept", "first run");
    finish_ok(st);
    st = prepare_ok(&o);
    ASSERT_FILE(cfs_run_fs(st), "/kept", "first run");
    finish_ok(st);
    cfs_run_opts_free(&o);
}

Test(prepare, bootstrap_snapshot_is_present)
{
    const char *h = host_tree("h", "f.txt", "f");
    char m[2048];
    snprintf(m, sizeof m, "/data:%s", h);
    cfs_run_opts o;
    PARSE_OK(&o, "--journal", T("j"), "--mapdir", m, "--snapshot-on", "bootstrap", "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    uint64_t seq = cfs_fs_seq(cfs_run_fs(st));
    cr_assert_gt(seq, 0);
    guest_put(cfs_run_fs(st), "/after", "x");
    finish_ok(st);
    cfs_run_opts_free(&o);
    struct snap_list sl = snapshots_of(T("j"));
    uint64_t bs = 0;
    cr_assert_eq(count_trigger(&sl, "bootstrap", &bs), 1);
    cr_assert_eq(bs, seq, "taken after preparation, before the guest");
    /* the snapshot holds the prepared tree */
    cfs_journal *j = ro_open(T("j"));
    cfs_fs *re = NULL;
    cr_assert_eq(cfs_journal_open_at(j, bs, NULL, &re), 0);
    ASSERT_FILE(re, "/data/f.txt", "f");
    cr_assert(!guest_exists(re, "/after", NULL));
    cfs_fs_free(re);
    cfs_journal_close(j);
}

Test(prepare, stop_after_snapshot_after_sigusr1)
{
    cfs_run_opts o;
    PARSE_OK(&o, "--journal", T("j"), "--snapshot-on", "sigusr1", "--stop-after-snapshot",
             "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    cfs_fs *fs = cfs_run_fs(st);
    guest_put(fs, "/a", "1");
    cr_assert_eq(cfs_run_poll(st), CFS_RUN_CONTINUE);
    cr_assert_eq(cfs_run_poll(st), CFS_RUN_CONTINUE);
    cr_assert_eq(cfs_journal_writer_pid(T("j")), (long)getpid(),
                 "`chronofs snapshot J` finds this process to signal");
    raise(SIGUSR1);
    cr_assert_eq(cfs_run_poll(st), CFS_RUN_STOP_SNAPSHOT);
    uint64_t seq = cfs_fs_seq(fs);
    finish_ok(st);
    cfs_run_opts_free(&o);
    struct snap_list sl = snapshots_of(T("j"));
    uint64_t s = 0;
    cr_assert_eq(count_trigger(&sl, "sigusr1", &s), 1);
    cr_assert_eq(s, seq);
    /* the handler is gone with the run: SIGUSR1 is back to what it was */
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    cr_assert(sa.sa_handler == SIG_DFL);
}

Test(prepare, sigusr1_without_stop_keeps_running)
{
    cfs_run_opts o;
    PARSE_OK(&o, "--journal", T("j"), "--snapshot-on", "explicit", "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    guest_put(cfs_run_fs(st), "/a", "1");
    raise(SIGUSR1);
    cr_assert_eq(cfs_run_poll(st), CFS_RUN_CONTINUE);
    guest_put(cfs_run_fs(st), "/b", "2");
    cr_assert_eq(cfs_run_poll(st), CFS_RUN_CONTINUE);
    finish_ok(st);
    cfs_run_opts_free(&o);
    struct snap_list sl = snapshots_of(T("j"));
    cr_assert_eq(count_trigger(&sl, "sigusr1", NULL), 1);
}

Test(prepare, events_trigger_stops_after_snapshot)
{
    cfs_run_opts o;
    PARSE_OK(&o, "--journal", T("j"), "--snapshot-on", "events:10", "--stop-after-snapshot",
             "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    int stopped = 0;
    for (int i = 0; i < 20 && !stopped; i++) {
        char p[32];
        snprintf(p, sizeof p, "/f%d", i);
        guest_put(cfs_run_fs(st), p, "x");
        stopped = cfs_run_poll(st) == CFS_RUN_STOP_SNAPSHOT;
    }
    cr_assert(stopped, "an events:10 snapshot stops the guest");
    finish_ok(st);
    cfs_run_opts_free(&o);
    struct snap_list sl = snapshots_of(T("j"));
    cr_assert_geq(count_trigger(&sl, "events", NULL), 1);
}

Test(prepare, exit_snapshot_and_durability)
{
    cfs_run_opts o;
    PARSE_OK(&o, "--journal", T("j"), "--durability", "sync", "--snapshot-on", "exit",
             "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    guest_put(cfs_run_fs(st), "/a", "1");
    uint64_t seq = cfs_fs_seq(cfs_run_fs(st));
    finish_ok(st);
    cfs_run_opts_free(&o);
    struct snap_list sl = snapshots_of(T("j"));
    uint64_t s = 0;
    cr_assert_eq(count_trigger(&sl, "exit", &s), 1);
    cr_assert_eq(s, seq);
}

Test(prepare, user_errors_name_what_is_at_fault)
{
    cfs_run_opts o;
    char m[2048];
    snprintf(m, sizeof m, "/data:%s", T("no-such-dir"));
    PARSE_OK(&o, "--mapdir", m, "g.wasm");
    prepare_fails(&o, "no-such-dir");
    cfs_run_opts_free(&o);

    PARSE_OK(&o, "--cwd", "/nowhere", "g.wasm");
    prepare_fails(&o, "--cwd /nowhere: no such directory");
    cfs_run_opts_free(&o);

    PARSE_OK(&o, "--journal", T("j"), "--snapshot", "nope", "g.wasm");
    prepare_fails(&o, "has no history");
    cfs_run_opts_free(&o);

    PARSE_OK(&o, "--journal", T("j2"), "--journal-readonly", T("j2"), "g.wasm");
    prepare_fails(&o, "cannot also be a read-only base");
    cfs_run_opts_free(&o);

    /* a writer holds the journal */
    tjournal t;
    tj_open(&t, T("held"));
    PARSE_OK(&o, "--journal", T("held"), "g.wasm");
    prepare_fails(&o, "held");
    cfs_run_opts_free(&o);
    tj_close(&t);
}

Test(prepare, interval_and_idle_triggers_fire_on_poll)
{
    cfs_run_opts o;
    PARSE_OK(&o, "--journal", T("j"), "--snapshot-interval", "20ms", "--snapshot-on",
             "idle:20ms", "--stop-after-snapshot", "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    guest_put(cfs_run_fs(st), "/a", "1");
    int stopped = 0;
    struct timespec nap = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 100 && !stopped; i++) { /* at most ~1 s */
        stopped = cfs_run_poll(st) == CFS_RUN_STOP_SNAPSHOT;
        nanosleep(&nap, NULL);
    }
    cr_assert(stopped, "a time trigger took a snapshot from poll's ticks");
    finish_ok(st);
    cfs_run_opts_free(&o);
    struct snap_list sl = snapshots_of(T("j"));
    cr_assert_eq(count_trigger(&sl, "interval", NULL) + count_trigger(&sl, "idle", NULL), 1);
}

/* Package mounts at one path in override mode: the first is kept (the
 * seed's KeepExisting); in fail mode the second is an error. */
Test(prepare, two_layers_at_one_path_keep_the_first)
{
    const char *p1 = layer_journal("p1", "one.txt", "1");
    const char *p2 = layer_journal("p2", "two.txt", "2");
    char l1[2048], l2[2048];
    snprintf(l1, sizeof l1, "/pkg:%s", p1);
    snprintf(l2, sizeof l2, "/pkg:%s", p2);
    cfs_run_opts o;
    PARSE_OK(&o, "--layer", l1, "--layer", l2, "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    ASSERT_FILE(cfs_run_fs(st), "/pkg/one.txt", "1");
    cr_assert(!guest_exists(cfs_run_fs(st), "/pkg/two.txt", NULL));
    finish_ok(st);
    cfs_run_opts_free(&o);
    PARSE_OK(&o, "--mount-conflict", "fail", "--layer", l1, "--layer", l2, "g.wasm");
    prepare_fails(&o, "Unable to merge container mount \"/pkg\"");
    cfs_run_opts_free(&o);
}

/* Resuming a journal, a mount already in its state is not imported
 * again: what the guest wrote there stays (the host's later change does
 * not come in); a mount at a new path is imported. */
Test(prepare, a_resumed_journal_keeps_what_the_guest_made_of_its_mounts)
{
    const char *h = host_tree("h", "conf", "v1");
    const char *h2 = host_tree("h2", "more", "m");
    char m[2048], m2[2048];
    snprintf(m, sizeof m, "/etc/app:%s", h);
    snprintf(m2, sizeof m2, "/opt/more:%s", h2);
    cfs_run_opts o;
    PARSE_OK(&o, "--journal", T("j"), "--mapdir", m, "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    guest_put(cfs_run_fs(st), "/etc/app/scratch", "guest");
    guest_put(cfs_run_fs(st), "/etc/app/conf", "edited by the guest");
    guest_put(cfs_run_fs(st), "/home.txt", "guest");
    finish_ok(st);
    cfs_run_opts_free(&o);
    host_write(h, "conf", "v2");
    PARSE_OK(&o, "--journal", T("j"), "--mapdir", m, "--mapdir", m2, "g.wasm");
    st = prepare_ok(&o);
    ASSERT_FILE(cfs_run_fs(st), "/etc/app/conf", "edited by the guest");
    ASSERT_FILE(cfs_run_fs(st), "/etc/app/scratch", "guest");
    ASSERT_FILE(cfs_run_fs(st), "/home.txt", "guest");
    ASSERT_FILE(cfs_run_fs(st), "/opt/more/more", "m");
    finish_ok(st);
    cfs_run_opts_free(&o);
}

/* Mounts nest: one below another's path shows through it (the seed's
 * longest-prefix lookup), whatever the order given. */
Test(prepare, nested_mounts_show_through)
{
    const char *outer = host_tree("outer", "o.txt", "o");
    host_mkdir(outer, "inner");
    host_write(outer, "inner/hidden.txt", "hidden");
    const char *inner = host_tree("inner", "i.txt", "i");
    char mo[2048], mi[2048];
    snprintf(mo, sizeof mo, "/srv:%s", outer);
    snprintf(mi, sizeof mi, "/srv/inner:%s", inner);
    cfs_run_opts o;
    PARSE_OK(&o, "--mapdir", mi, "--mapdir", mo, "g.wasm");
    cfs_run_state *st = prepare_ok(&o);
    ASSERT_FILE(cfs_run_fs(st), "/srv/o.txt", "o");
    ASSERT_FILE(cfs_run_fs(st), "/srv/inner/i.txt", "i");
    cr_assert(!guest_exists(cfs_run_fs(st), "/srv/inner/hidden.txt", NULL));
    finish_ok(st);
    cfs_run_opts_free(&o);
}
