/*
 * test_events.c — events are the only way state changes: every mutating
 * call hands the sink exactly one event with the fields the header's table
 * documents; queries emit nothing; a failed call emits nothing and leaves
 * the state hash alone; a sink that refuses makes the call fail with its
 * errno and change nothing; fd_sync/fd_datasync reach the sink's sync; seq
 * counts 1, 2, 3...
 */
#include "unit.h"

TestSuite(events, .init = unit_setup, .fini = unit_teardown);

/* The one event a call just emitted (asserts it was exactly one), with the
 * fields every event carries checked. */
static const cfs_event *one_event(size_t before, uint16_t op)
{
    cr_assert_eq(U.rec.n, before + 1, "%zu events, want exactly 1 (op %s)",
                 U.rec.n - before, cfs_op_name(op));
    const cfs_event *e = &U.rec.evs[before].ev;
    cr_assert_eq(e->op, op, "op %s, want %s", cfs_op_name(e->op),
                 cfs_op_name(op));
    cr_assert_eq(e->seq, cfs_fs_seq(U.fs));
    cr_assert_eq(e->seq, before + 1, "seq %llu, want %zu",
                 (unsigned long long)e->seq, before + 1);
    cr_assert_eq(e->pid, 1);
    cr_assert_eq(e->time, U.clock.now, "the event carries the clock reading");
    return e;
}

/* `call` succeeds and emits exactly one event of `op`, stored in `e`. */
#define EV(e, op, call)                                                        \
    do {                                                                       \
        size_t before_ = U.rec.n;                                              \
        T_OK(call);                                                            \
        (e) = one_event(before_, op);                                          \
    } while (0)

#define EXPECT_NO_EVENT(call)                                                  \
    do {                                                                       \
        size_t before_ = U.rec.n;                                              \
        uint64_t seq_ = cfs_fs_seq(U.fs);                                      \
        T_OK(call);                                                            \
        cr_assert_eq(U.rec.n, before_, "%s emitted an event", #call);          \
        cr_assert_eq(cfs_fs_seq(U.fs), seq_);                                  \
    } while (0)

/* A failing call: its errno, no event, the same state. */
#define EXPECT_FAIL(want, call)                                                \
    do {                                                                       \
        size_t before_ = U.rec.n;                                              \
        cfs_hash128 h_ = cfs_fs_hash(U.fs);                                    \
        T_ERR(want, call);                                                     \
        cr_assert_eq(U.rec.n, before_, "failed %s emitted an event", #call);   \
        cr_assert(hash_eq(h_, cfs_fs_hash(U.fs)),                              \
                  "failed %s changed the state", #call);                       \
    } while (0)

static void str_is(const char *got, const char *want, const char *field)
{
    cr_assert_not_null(got, "%s is NULL, want \"%s\"", field, want);
    cr_assert_str_eq(got, want, "%s", field);
}

Test(events, open_create)
{
    t_mkdir("d");
    cfs_ino d = t_stat("d").ino;
    cfs_fd fd = UINT32_MAX;
    cfs_rights rb = CFS_RIGHT_FD_READ | CFS_RIGHT_FD_WRITE | CFS_RIGHT_FD_SEEK;
    cfs_rights ri = CFS_RIGHT_FD_READ;
    const cfs_event *e;
    EV(e, CFS_OP_OPEN,
       cfs_path_open(U.fs, CFS_ROOT_FD, CFS_LOOKUP_SYMLINK_FOLLOW, "d/f",
                     CFS_O_CREAT | CFS_O_EXCL, rb, ri, CFS_FDFLAG_APPEND, &fd));
    cr_assert_eq(e->fd, CFS_ROOT_FD);
    str_is(e->path, "d/f", "path");
    cr_assert_eq(e->dir, d);
    str_is(e->name, "f", "name");
    cr_assert_eq(e->ino, t_stat("d/f").ino);
    cr_assert_eq(e->fd2, fd);
    cr_assert_neq(e->ofd, 0);
    cr_assert_eq(e->flags,
                 (uint32_t)(CFS_O_CREAT | CFS_O_EXCL) |
                     ((uint32_t)CFS_FDFLAG_APPEND << 8) | CFS_EVF_OPEN_CREATED,
                 "flags %#x", e->flags);
    cr_assert_eq(e->rights_base, rb);
    cr_assert_eq(e->rights_inheriting, ri);
    cr_assert_eq(e->mode & 07777, 0644);
    cr_assert_eq(e->uid, 0);
    cr_assert_eq(e->gid, 0);
    uint64_t ofd1 = e->ofd;

    /* Creds shape the recorded mode/uid/gid. */
    cfs_fs_set_creds(U.fs, 7, 8, 0600, 0700);
    EV(e, CFS_OP_OPEN,
       cfs_path_open(U.fs, CFS_ROOT_FD, 0, "g", CFS_O_CREAT, R_FILE, 0, 0,
                     &fd));
    cr_assert_eq(e->mode & 07777, 0600);
    cr_assert_eq(e->uid, 7);
    cr_assert_eq(e->gid, 8);
    cr_assert_eq(e->dir, CFS_INO_ROOT);
    cr_assert_neq(e->ofd, ofd1, "each open is a new description");
}

Test(events, open_existing_and_truncate)
{
    t_put("f", "content");
    cfs_fd fd;
    const cfs_event *e;
    EV(e, CFS_OP_OPEN,
       cfs_path_open(U.fs, CFS_ROOT_FD, 0, "f", 0, CFS_RIGHT_FD_READ, 0, 0,
                     &fd));
    cr_assert_eq(e->flags & (CFS_EVF_OPEN_CREATED | CFS_EVF_OPEN_TRUNCATE), 0);
    cr_assert_eq(e->ino, t_stat("f").ino);
    cr_assert_eq(e->fd2, fd);
    EV(e, CFS_OP_OPEN,
       cfs_path_open(U.fs, CFS_ROOT_FD, 0, "f", CFS_O_CREAT | CFS_O_TRUNC,
                     R_FILE, 0, 0, &fd));
    cr_assert_eq(e->flags & CFS_EVF_OPEN_CREATED, 0, "it existed");
    cr_assert_eq(e->flags & CFS_EVF_OPEN_TRUNCATE, CFS_EVF_OPEN_TRUNCATE);
    cr_assert_eq(e->flags & 0xff, CFS_O_CREAT | CFS_O_TRUNC);
    cr_assert_eq(t_stat("f").size, 0);
}

Test(events, fd_io)
{
    cfs_fd fd = t_create("f");
    cfs_ino ino = t_stat("f").ino;
    size_t n;
    const cfs_event *e;
    EV(e, CFS_OP_WRITE, cfs_fd_write(U.fs, fd, "hello", 5, &n));
    cr_assert_eq(e->fd, fd);
    cr_assert_eq(e->ino, ino);
    cr_assert_eq(e->offset, 0);
    cr_assert_eq(e->length, 5);
    cr_assert_not_null(e->data);
    cr_assert(memcmp(e->data, "hello", 5) == 0);
    cr_assert_eq(e->flags & CFS_EVF_WRITE_MOVES, CFS_EVF_WRITE_MOVES);

    EV(e, CFS_OP_WRITE, cfs_fd_pwrite(U.fs, fd, "XY", 2, 100, &n));
    cr_assert_eq(e->offset, 100);
    cr_assert_eq(e->length, 2);
    cr_assert(memcmp(e->data, "XY", 2) == 0);
    cr_assert_eq(e->flags & CFS_EVF_WRITE_MOVES, 0, "pwrite does not move");

    uint64_t off;
    EV(e, CFS_OP_SEEK, cfs_fd_seek(U.fs, fd, 1, CFS_WHENCE_SET, &off));
    cr_assert_eq(e->fd, fd);
    cr_assert_eq(e->offset, 1);

    char buf[8];
    EV(e, CFS_OP_READ, cfs_fd_read(U.fs, fd, buf, 3, &n));
    cr_assert_eq(e->fd, fd);
    cr_assert_eq(e->offset, 4, "READ records the new offset");

    EXPECT_NO_EVENT(cfs_fd_pread(U.fs, fd, buf, 3, 0, &n));
    EXPECT_NO_EVENT(cfs_fd_tell(U.fs, fd, &off));

    /* An APPEND write records where the data went. */
    T_OK(cfs_fd_fdstat_set_flags(U.fs, fd, CFS_FDFLAG_APPEND));
    EV(e, CFS_OP_WRITE, cfs_fd_write(U.fs, fd, "!", 1, &n));
    cr_assert_eq(e->offset, 102);

    EV(e, CFS_OP_SET_SIZE, cfs_fd_filestat_set_size(U.fs, fd, 50));
    cr_assert_eq(e->fd, fd);
    cr_assert_eq(e->ino, ino);
    cr_assert_eq(e->offset, 50);

    EV(e, CFS_OP_ALLOCATE, cfs_fd_allocate(U.fs, fd, 10, 1000));
    cr_assert_eq(e->fd, fd);
    cr_assert_eq(e->ino, ino);
    cr_assert_eq(e->offset, 10);
    cr_assert_eq(e->length, 1000);

    /* stdout: an event, no file data kept. */
    EV(e, CFS_OP_WRITE, cfs_fd_write(U.fs, 1, "out\n", 4, &n));
    cr_assert_eq(e->fd, 1);
    cr_assert_eq(e->ino, CFS_INO_STDOUT);
    cr_assert_eq(e->length, 4);

    EV(e, CFS_OP_CLOSE, cfs_fd_close(U.fs, fd));
    cr_assert_eq(e->fd, fd);
}

Test(events, set_times)
{
    cfs_fd fd = t_create("f");
    cfs_ino ino = t_stat("f").ino;
    const cfs_event *e;
    EV(e, CFS_OP_SET_TIMES,
       cfs_fd_filestat_set_times(U.fs, fd, 11, 22,
                                 CFS_FST_ATIM | CFS_FST_MTIM));
    cr_assert_eq(e->fd, fd);
    cr_assert_eq(e->ino, ino);
    cr_assert_eq(e->offset, 11);
    cr_assert_eq(e->length, 22);
    cr_assert_eq(e->flags & 0xf, CFS_FST_ATIM | CFS_FST_MTIM);

    EV(e, CFS_OP_SET_TIMES,
       cfs_path_filestat_set_times(U.fs, CFS_ROOT_FD, 0, "f", 0, 33,
                                   CFS_FST_ATIM_NOW | CFS_FST_MTIM));
    cr_assert_eq(e->fd, CFS_ROOT_FD);
    str_is(e->path, "f", "path");
    cr_assert_eq(e->ino, ino);
    cr_assert_eq(e->offset, e->time, "ATIM_NOW resolved into the event");
    cr_assert_eq(e->length, 33);
}

Test(events, namespace_ops)
{
    const cfs_event *e;
    t_mkdir("a");
    cfs_ino a = t_stat("a").ino;

    EV(e, CFS_OP_MKDIR, cfs_path_create_directory(U.fs, CFS_ROOT_FD, "a/sub"));
    cr_assert_eq(e->fd, CFS_ROOT_FD);
    str_is(e->path, "a/sub", "path");
    cr_assert_eq(e->dir, a);
    str_is(e->name, "sub", "name");
    cr_assert_eq(e->ino, t_stat("a/sub").ino);
    cr_assert_eq(e->mode & 07777, 0755);
    cr_assert_eq(e->uid, 0);
    cfs_ino sub = e->ino;

    EV(e, CFS_OP_MKNOD,
       cfs_path_mknod(U.fs, CFS_ROOT_FD, "a/n", CFS_S_IFREG | 0640));
    cr_assert_eq(e->dir, a);
    str_is(e->name, "n", "name");
    str_is(e->path, "a/n", "path");
    cr_assert_eq(e->ino, t_stat("a/n").ino);
    cr_assert_eq(e->mode & 07777, 0640);
    cfs_ino n = e->ino;

    EV(e, CFS_OP_SYMLINK, cfs_path_symlink(U.fs, "n", CFS_ROOT_FD, "a/l"));
    str_is(e->path, "n", "path (the target)");
    cr_assert_eq(e->fd2, CFS_ROOT_FD);
    str_is(e->path2, "a/l", "path2");
    cr_assert_eq(e->dir, a);
    str_is(e->name, "l", "name");
    cr_assert_eq(e->ino, t_lstat("a/l").ino);

    EV(e, CFS_OP_LINK,
       cfs_path_link(U.fs, CFS_ROOT_FD, 0, "a/n", CFS_ROOT_FD, "n2"));
    cr_assert_eq(e->fd, CFS_ROOT_FD);
    str_is(e->path, "a/n", "path");
    cr_assert_eq(e->fd2, CFS_ROOT_FD);
    str_is(e->path2, "n2", "path2");
    cr_assert_eq(e->ino, n);
    cr_assert_eq(e->dir2, CFS_INO_ROOT);
    str_is(e->name2, "n2", "name2");

    t_put("victim", "v");
    cfs_ino victim = t_stat("victim").ino;
    EV(e, CFS_OP_RENAME,
       cfs_path_rename(U.fs, CFS_ROOT_FD, "a/n", CFS_ROOT_FD, "victim"));
    cr_assert_eq(e->fd, CFS_ROOT_FD);
    str_is(e->path, "a/n", "path");
    cr_assert_eq(e->fd2, CFS_ROOT_FD);
    str_is(e->path2, "victim", "path2");
    cr_assert_eq(e->dir, a);
    str_is(e->name, "n", "name");
    cr_assert_eq(e->dir2, CFS_INO_ROOT);
    str_is(e->name2, "victim", "name2");
    cr_assert_eq(e->ino, n);
    cr_assert_eq(e->ino2, victim, "ino2 is the replaced inode");
    EV(e, CFS_OP_RENAME,
       cfs_path_rename(U.fs, CFS_ROOT_FD, "victim", CFS_ROOT_FD, "fresh"));
    cr_assert_eq(e->ino2, 0, "nothing replaced");

    EV(e, CFS_OP_UNLINK, cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "fresh"));
    cr_assert_eq(e->fd, CFS_ROOT_FD);
    str_is(e->path, "fresh", "path");
    cr_assert_eq(e->dir, CFS_INO_ROOT);
    str_is(e->name, "fresh", "name");
    cr_assert_eq(e->ino, n);

    EV(e, CFS_OP_RMDIR, cfs_path_remove_directory(U.fs, CFS_ROOT_FD, "a/sub"));
    cr_assert_eq(e->dir, a);
    str_is(e->name, "sub", "name");
    str_is(e->path, "a/sub", "path");
    cr_assert_eq(e->ino, sub);

    EV(e, CFS_OP_CHMOD, cfs_path_chmod(U.fs, CFS_ROOT_FD, 0, "n2", 0600));
    cr_assert_eq(e->fd, CFS_ROOT_FD);
    str_is(e->path, "n2", "path");
    cr_assert_eq(e->ino, n);
    cr_assert_eq(e->mode & 07777, 0600);

    EV(e, CFS_OP_CHOWN,
       cfs_path_chown(U.fs, CFS_ROOT_FD, 0, "n2", UINT32_MAX, 42));
    cr_assert_eq(e->ino, n);
    cr_assert_eq(e->uid, UINT32_MAX);
    cr_assert_eq(e->gid, 42);
}

Test(events, fd_table_ops)
{
    const cfs_event *e;
    cfs_fd fd = t_create("f");
    cfs_fd d;
    EV(e, CFS_OP_DUP, cfs_fd_dup(U.fs, fd, 10, 1, &d));
    cr_assert_eq(e->fd, fd);
    cr_assert_eq(e->fd2, 10);
    cr_assert_eq(e->flags & CFS_EVF_CLOEXEC, CFS_EVF_CLOEXEC);
    EV(e, CFS_OP_DUP, cfs_fd_dup_at(U.fs, fd, 20, 0));
    cr_assert_eq(e->fd2, 20);
    cr_assert_eq(e->flags & CFS_EVF_CLOEXEC, 0);

    EV(e, CFS_OP_RENUMBER, cfs_fd_renumber(U.fs, 20, 10));
    cr_assert_eq(e->fd, 20);
    cr_assert_eq(e->fd2, 10);

    EV(e, CFS_OP_SET_FLAGS,
       cfs_fd_fdstat_set_flags(U.fs, fd, CFS_FDFLAG_APPEND));
    cr_assert_eq(e->fd, fd);
    cr_assert_eq(e->flags, CFS_FDFLAG_APPEND);

    EV(e, CFS_OP_SET_RIGHTS,
       cfs_fd_fdstat_set_rights(U.fs, 10, CFS_RIGHT_FD_READ,
                                CFS_RIGHT_FD_READ));
    cr_assert_eq(e->fd, 10);
    cr_assert_eq(e->rights_base, CFS_RIGHT_FD_READ);
    cr_assert_eq(e->rights_inheriting, CFS_RIGHT_FD_READ);

    EV(e, CFS_OP_SET_CLOEXEC, cfs_fd_set_cloexec(U.fs, fd, 1));
    cr_assert_eq(e->fd, fd);
    cr_assert_eq(e->flags & CFS_EVF_CLOEXEC, CFS_EVF_CLOEXEC);

    EV(e, CFS_OP_CLOSE_CLOEXEC, cfs_fs_close_cloexec(U.fs));

    t_mkdir("p");
    cfs_fd p;
    EV(e, CFS_OP_PREOPEN,
       cfs_fs_preopen(U.fs, "/p", "alias", CFS_PREOPEN_READ, &p));
    str_is(e->path, "/p", "path");
    str_is(e->name, "alias", "name");
    cr_assert_eq(e->ino, t_stat("p").ino);
    cr_assert_eq(e->fd2, p);
    cr_assert_neq(e->ofd, 0);
    cr_assert_eq(e->flags, CFS_PREOPEN_READ);
    cr_assert_eq(e->rights_base, e->rights_inheriting);
    cfs_fdstat st;
    T_OK(cfs_fd_fdstat_get(U.fs, p, &st));
    cr_assert_eq(e->rights_base, st.rights_base);

    EV(e, CFS_OP_CHDIR, cfs_fs_chdir(U.fs, "/p"));
    str_is(e->path, "/p", "path");
    t_mkdir("p/q");
    EV(e, CFS_OP_CHDIR, cfs_fs_chdir(U.fs, "q"));
    cr_assert_not_null(e->path);
    cr_assert_eq(e->path[0], '/', "recorded as absolute: \"%s\"", e->path);

    /* The byte budget is state: an event carries it, and statfs shows it. */
    EV(e, CFS_OP_SET_BUDGET, cfs_fs_set_budget(U.fs, 4096));
    cr_assert_eq(e->offset, 4096);
    cfs_statfs sf;
    T_OK(cfs_fs_statfs(U.fs, &sf));
    cr_assert_eq(sf.byte_budget, 4096);
    EV(e, CFS_OP_SET_BUDGET, cfs_fs_set_budget(U.fs, 0));
    T_OK(cfs_fs_statfs(U.fs, &sf));
    cr_assert_eq(sf.byte_budget, 0, "0 lifts the limit");

    cfs_fs *child = NULL;
    EV(e, CFS_OP_FORK, cfs_fs_fork(U.fs, &child));
    cr_assert_eq(e->fd2, cfs_fs_pid(child));
    uint32_t cpid = cfs_fs_pid(child);

    /* The child's calls carry its pid. */
    size_t before = U.rec.n;
    T_OK(cfs_fd_close(child, fd));
    cr_assert_eq(U.rec.n, before + 1);
    cr_assert_eq(U.rec.evs[before].ev.op, CFS_OP_CLOSE);
    cr_assert_eq(U.rec.evs[before].ev.pid, cpid);
    T_OK(cfs_fs_close_all(child));
    cr_assert_eq(U.rec.evs[U.rec.n - 1].ev.op, CFS_OP_CLOSE_ALL);
    cr_assert_eq(U.rec.evs[U.rec.n - 1].ev.pid, cpid);
    T_OK(cfs_fs_exit(child));
    cr_assert_eq(U.rec.evs[U.rec.n - 1].ev.op, CFS_OP_EXIT);
    cr_assert_eq(U.rec.evs[U.rec.n - 1].ev.pid, cpid);
    cfs_fs_free(child);

    EV(e, CFS_OP_CLOSE_ALL, cfs_fs_close_all(U.fs));
}

Test(events, queries_emit_nothing)
{
    t_mkdir("d");
    t_put("d/f", "data");
    T_OK(cfs_path_symlink(U.fs, "f", CFS_ROOT_FD, "d/l"));
    cfs_fd fd = t_open(CFS_ROOT_FD, "d/f", 0, 0);
    cfs_fd dfd = t_opendir(CFS_ROOT_FD, "d");
    cfs_filestat st;
    cfs_fdstat fst;
    cfs_prestat ps;
    cfs_statfs sfs;
    cfs_dirent de;
    char buf[256];
    size_t n;
    uint64_t off;
    int c;
    cfs_fd pfd;
    const char *rel;

    EXPECT_NO_EVENT(cfs_fd_pread(U.fs, fd, buf, 4, 0, &n));
    EXPECT_NO_EVENT(cfs_fd_tell(U.fs, fd, &off));
    EXPECT_NO_EVENT(cfs_fd_fdstat_get(U.fs, fd, &fst));
    EXPECT_NO_EVENT(cfs_fd_filestat_get(U.fs, fd, &st));
    EXPECT_NO_EVENT(cfs_path_filestat_get(U.fs, CFS_ROOT_FD, 0, "d/f", &st));
    EXPECT_NO_EVENT(cfs_fd_readdir(U.fs, dfd, buf, sizeof buf, 0, &n));
    EXPECT_NO_EVENT(
        cfs_path_readlink(U.fs, CFS_ROOT_FD, "d/l", buf, sizeof buf, &n));
    EXPECT_NO_EVENT(cfs_fd_prestat_get(U.fs, CFS_ROOT_FD, &ps));
    EXPECT_NO_EVENT(cfs_fd_prestat_dir_name(U.fs, CFS_ROOT_FD, buf, 1));
    EXPECT_NO_EVENT(cfs_fs_find_preopen(U.fs, "/d/f", &pfd, &rel));
    EXPECT_NO_EVENT(cfs_fs_abspath(U.fs, "x", buf, sizeof buf));
    EXPECT_NO_EVENT(cfs_fs_statfs(U.fs, &sfs));
    EXPECT_NO_EVENT(cfs_lookup(U.fs, CFS_INO_ROOT, "d", &st));
    EXPECT_NO_EVENT(cfs_getattr(U.fs, CFS_INO_ROOT, &st));
    EXPECT_NO_EVENT(cfs_dir_next(U.fs, CFS_INO_ROOT, 0, &de));
    EXPECT_NO_EVENT(cfs_fd_get_cloexec(U.fs, fd, &c));
    EXPECT_NO_EVENT(cfs_fd_advise(U.fs, fd, 0, 4, CFS_ADVICE_NORMAL));
    EXPECT_NO_EVENT(cfs_fd_sync(U.fs, fd));
    EXPECT_NO_EVENT(cfs_fd_datasync(U.fs, fd));
    (void)cfs_fs_getcwd(U.fs);
}

Test(events, failed_calls_emit_nothing_and_change_nothing)
{
    t_mkdir("d");
    t_put("d/f", "data");
    t_put("g", "g");
    cfs_fd fd = t_open(CFS_ROOT_FD, "d/f", 0, 0);
    cfs_fd ro = UINT32_MAX, out;
    T_OK(cfs_path_open(U.fs, CFS_ROOT_FD, 0, "g", 0, CFS_RIGHT_FD_READ, 0, 0,
                       &ro));
    size_t n;
    uint64_t off;

    EXPECT_FAIL(CFS_ENOENT, cfs_path_open(U.fs, CFS_ROOT_FD, 0, "nope", 0,
                                          R_FILE, 0, 0, &out));
    EXPECT_FAIL(CFS_EEXIST,
                cfs_path_open(U.fs, CFS_ROOT_FD, 0, "g",
                              CFS_O_CREAT | CFS_O_EXCL, R_FILE, 0, 0, &out));
    EXPECT_FAIL(CFS_EEXIST, cfs_path_create_directory(U.fs, CFS_ROOT_FD, "d"));
    EXPECT_FAIL(CFS_ENOTEMPTY,
                cfs_path_remove_directory(U.fs, CFS_ROOT_FD, "d"));
    EXPECT_FAIL(CFS_EISDIR, cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "d"));
    EXPECT_FAIL(CFS_EINVAL,
                cfs_path_rename(U.fs, CFS_ROOT_FD, "d", CFS_ROOT_FD, "d/x"));
    EXPECT_FAIL(CFS_EPERM,
                cfs_path_link(U.fs, CFS_ROOT_FD, 0, "d", CFS_ROOT_FD, "d2"));
    EXPECT_FAIL(CFS_EEXIST, cfs_path_symlink(U.fs, "x", CFS_ROOT_FD, "g"));
    EXPECT_FAIL(CFS_ENOTCAPABLE, cfs_fd_write(U.fs, ro, "x", 1, &n));
    EXPECT_FAIL(CFS_EINVAL, cfs_fd_seek(U.fs, fd, -1, CFS_WHENCE_SET, &off));
    EXPECT_FAIL(CFS_EBADF, cfs_fd_close(U.fs, 99));
    EXPECT_FAIL(CFS_EBADF, cfs_fd_dup(U.fs, 99, 0, -1, &out));
    EXPECT_FAIL(CFS_EEXIST, cfs_fd_dup_at(U.fs, fd, 1, -1));
    EXPECT_FAIL(CFS_EBADF, cfs_fd_renumber(U.fs, fd, 99));
    EXPECT_FAIL(CFS_ENOTCAPABLE, cfs_fd_fdstat_set_rights(U.fs, ro, R_FILE, 0));
    EXPECT_FAIL(CFS_EINVAL,
                cfs_fd_filestat_set_times(U.fs, fd, 1, 1,
                                          CFS_FST_ATIM | CFS_FST_ATIM_NOW));
    EXPECT_FAIL(CFS_ENOENT, cfs_fs_chdir(U.fs, "/nope"));
    EXPECT_FAIL(CFS_EEXIST,
                cfs_fs_preopen(U.fs, "/d", "/", CFS_PREOPEN_READ, &out));
    EXPECT_FAIL(CFS_ENOENT, cfs_path_chmod(U.fs, CFS_ROOT_FD, 0, "nope", 0600));
    EXPECT_FAIL(CFS_EINVAL,
                cfs_path_mknod(U.fs, CFS_ROOT_FD, "c", CFS_S_IFLNK | 0600));
    EXPECT_FAIL(CFS_EFBIG, cfs_fd_pwrite(U.fs, fd, "x", 1, INT64_MAX, &n));
}

Test(events, a_refusing_sink_fails_the_call)
{
    t_put("f", "data");
    cfs_fd fd = t_open(CFS_ROOT_FD, "f", 0, 0);
    size_t n;
    uint64_t off;
    cfs_fd out;
    char buf[8];

#define REFUSED(call)                                                          \
    do {                                                                       \
        U.rec.fail_append = CFS_EIO;                                           \
        size_t before_ = U.rec.n;                                              \
        uint64_t seq_ = cfs_fs_seq(U.fs);                                      \
        cfs_hash128 h_ = cfs_fs_hash(U.fs);                                    \
        T_ERR(CFS_EIO, call);                                                  \
        cr_assert_eq(U.rec.fail_append, 0, "%s: the sink was not asked",       \
                     #call);                                                   \
        cr_assert_eq(U.rec.n, before_);                                        \
        cr_assert_eq(cfs_fs_seq(U.fs), seq_);                                  \
        cr_assert(hash_eq(h_, cfs_fs_hash(U.fs)), "refused %s changed state",  \
                  #call);                                                      \
    } while (0)

    REFUSED(cfs_path_open(U.fs, CFS_ROOT_FD, 0, "new", CFS_O_CREAT, R_FILE, 0,
                          0, &out));
    cr_assert_not(t_exists("new"));
    REFUSED(cfs_fd_write(U.fs, fd, "XXXX", 4, &n));
    t_expect_content("f", "data");
    cr_assert_eq(t_tell(fd), 0);
    REFUSED(cfs_fd_read(U.fs, fd, buf, 2, &n));
    cr_assert_eq(t_tell(fd), 0);
    REFUSED(cfs_fd_seek(U.fs, fd, 2, CFS_WHENCE_SET, &off));
    REFUSED(cfs_fd_close(U.fs, fd));
    cr_assert(t_fd_open(fd));
    REFUSED(cfs_path_create_directory(U.fs, CFS_ROOT_FD, "dir"));
    REFUSED(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "f"));
    cr_assert(t_exists("f"));
    REFUSED(cfs_fd_dup(U.fs, fd, 0, -1, &out));
    REFUSED(cfs_fd_filestat_set_size(U.fs, fd, 0));
    T_OK(cfs_path_create_directory(U.fs, CFS_ROOT_FD, "cd"));
    REFUSED(cfs_fs_chdir(U.fs, "/cd"));
    cr_assert_str_eq(cfs_fs_getcwd(U.fs), "/");
    cfs_fs *child = NULL;
    REFUSED(cfs_fs_fork(U.fs, &child));

    /* A sink that refuses with ENOSPC: that errno reaches the guest. */
    U.rec.fail_append = CFS_ENOSPC;
    T_ERR(CFS_ENOSPC, cfs_fd_write(U.fs, fd, "x", 1, &n));

    /* After refusals, seq continues without gaps. */
    uint64_t seq = cfs_fs_seq(U.fs);
    T_OK(cfs_fd_write(U.fs, fd, "D", 1, &n));
    cr_assert_eq(cfs_fs_seq(U.fs), seq + 1);
    cr_assert_eq(rec_last(&U.rec)->seq, seq + 1);
#undef REFUSED
}

/* A refused call consumes nothing: the inode and fd counters are as if it
 * never happened (compare with an engine that never saw it). */
Test(events, a_refusal_leaves_no_trace_in_counters)
{
    recorder ra = {0}, rb = {0};
    ra.keep = rb.keep = true;
    cfs_config ca = {0}, cb = {0};
    ca.sink.append = rec_append;
    ca.sink.ctx = &ra;
    cb.sink.append = rec_append;
    cb.sink.ctx = &rb;
    cfs_fs *a = cfs_fs_new(&ca), *b = cfs_fs_new(&cb);
    cr_assert(a && b);
    cfs_fd fa, fb;
    size_t n;
    ra.fail_append = CFS_EIO;
    T_ERR(CFS_EIO, cfs_path_open(a, CFS_ROOT_FD, 0, "x", CFS_O_CREAT, R_FILE, 0,
                                 0, &fa));
    ra.fail_append = CFS_EIO;
    T_ERR(CFS_EIO, cfs_path_create_directory(a, CFS_ROOT_FD, "y"));
    T_OK(cfs_path_open(a, CFS_ROOT_FD, 0, "x", CFS_O_CREAT, R_FILE, 0, 0, &fa));
    T_OK(cfs_path_open(b, CFS_ROOT_FD, 0, "x", CFS_O_CREAT, R_FILE, 0, 0, &fb));
    cr_assert_eq(fa, fb);
    T_OK(cfs_fd_write(a, fa, "z", 1, &n));
    T_OK(cfs_fd_write(b, fb, "z", 1, &n));
    T_OK(cfs_path_create_directory(a, CFS_ROOT_FD, "y"));
    T_OK(cfs_path_create_directory(b, CFS_ROOT_FD, "y"));
    cr_assert(hash_eq(cfs_fs_hash(a), cfs_fs_hash(b)));
    cr_assert_eq(cfs_fs_seq(a), cfs_fs_seq(b));
    cr_assert_eq(ra.n, rb.n);
    for (size_t i = 0; i < ra.n; i++) {
        cr_assert_eq(ra.evs[i].ev.ino, rb.evs[i].ev.ino);
        cr_assert_eq(ra.evs[i].ev.ofd, rb.evs[i].ev.ofd);
    }
    cfs_fs_free(a);
    cfs_fs_free(b);
    rec_free(&ra);
    rec_free(&rb);
}

Test(events, sync_reaches_the_sink)
{
    cfs_fd fd = t_create("f");
    T_OK(cfs_fd_sync(U.fs, fd));
    cr_assert_eq(U.rec.syncs, 1);
    T_OK(cfs_fd_datasync(U.fs, fd));
    cr_assert_eq(U.rec.syncs, 2);
    U.rec.fail_sync = CFS_EIO;
    T_ERR(CFS_EIO, cfs_fd_sync(U.fs, fd));
    T_ERR(CFS_EIO, cfs_fd_datasync(U.fs, fd));
    U.rec.fail_sync = 0;
    T_ERR(CFS_EBADF, cfs_fd_sync(U.fs, 99));
    cr_assert_eq(U.rec.syncs, 4, "a bad fd never reaches the sink");

    /* No sink at all: sync is a no-op that succeeds. */
    cfs_fs *bare = cfs_fs_new(NULL);
    cfs_fd bf;
    T_OK(cfs_path_open(bare, CFS_ROOT_FD, 0, "f", CFS_O_CREAT, R_FILE, 0, 0,
                       &bf));
    T_OK(cfs_fd_sync(bare, bf));
    cfs_fs_free(bare);
}

Test(events, seq_counts_up_and_set_sink_redirects)
{
    t_mkdir("a");
    t_put("a/f", "x");
    cfs_fd fd = t_open(CFS_ROOT_FD, "a/f", 0, 0);
    T_OK(cfs_fd_close(U.fs, fd));
    cr_assert_gt(U.rec.n, 3);
    for (size_t i = 0; i < U.rec.n; i++)
        cr_assert_eq(U.rec.evs[i].ev.seq, i + 1);
    cr_assert_eq(cfs_fs_seq(U.fs), U.rec.n);

    recorder other = {0};
    other.keep = true;
    cfs_sink s = {rec_append, rec_sync, &other};
    size_t n0 = U.rec.n;
    cfs_fs_set_sink(U.fs, &s);
    t_mkdir("b");
    cr_assert_eq(U.rec.n, n0);
    cr_assert_eq(other.n, 1);
    cr_assert_eq(other.evs[0].ev.seq, n0 + 1);
    cr_assert_eq(other.evs[0].ev.op, CFS_OP_MKDIR);
    cfs_fs_set_sink(U.fs, &(cfs_sink){0});
    t_mkdir("c");
    cr_assert_eq(other.n, 1);
    cr_assert_eq(cfs_fs_seq(U.fs), n0 + 2, "events are applied without a sink");
    rec_free(&other);
}

/* Every recorded event of a session applied to a fresh engine reproduces
 * the state (the event carries everything apply needs). */
Test(events, recorded_events_replay_to_the_same_state)
{
    t_mkdir("a");
    t_put("a/f", "hello");
    cfs_fd fd = t_open(CFS_ROOT_FD, "a/f", 0, CFS_FDFLAG_APPEND);
    size_t n;
    T_OK(cfs_fd_write(U.fs, fd, " world", 6, &n));
    uint64_t off;
    T_OK(cfs_fd_seek(U.fs, fd, 2, CFS_WHENCE_SET, &off));
    char buf[4];
    T_OK(cfs_fd_read(U.fs, fd, buf, 3, &n));
    T_OK(cfs_fd_allocate(U.fs, fd, 0, 100));
    T_OK(cfs_fd_filestat_set_size(U.fs, fd, 50));
    T_OK(cfs_fd_filestat_set_times(U.fs, fd, 1, 2,
                                   CFS_FST_ATIM_NOW | CFS_FST_MTIM));
    T_OK(cfs_path_link(U.fs, CFS_ROOT_FD, 0, "a/f", CFS_ROOT_FD, "hard"));
    T_OK(cfs_path_symlink(U.fs, "a/f", CFS_ROOT_FD, "soft"));
    T_OK(cfs_path_rename(U.fs, CFS_ROOT_FD, "a", CFS_ROOT_FD, "b"));
    T_OK(cfs_path_mknod(U.fs, CFS_ROOT_FD, "node", 0600));
    T_OK(cfs_path_chmod(U.fs, CFS_ROOT_FD, 0, "node", 0640));
    T_OK(cfs_path_chown(U.fs, CFS_ROOT_FD, 0, "node", 5, UINT32_MAX));
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "hard"));
    cfs_fd d;
    T_OK(cfs_fd_dup(U.fs, fd, 30, 1, &d));
    T_OK(cfs_fd_dup_at(U.fs, fd, 40, 0));
    T_OK(cfs_fd_renumber(U.fs, 40, 30));
    T_OK(cfs_fd_fdstat_set_flags(U.fs, fd, 0));
    T_OK(cfs_fd_fdstat_set_rights(U.fs, 30, CFS_RIGHT_FD_READ, 0));
    T_OK(cfs_fd_set_cloexec(U.fs, fd, 1));
    cfs_fd p;
    T_OK(cfs_fs_preopen(U.fs, "/b", "bee", CFS_PREOPEN_READ | CFS_PREOPEN_WRITE,
                        &p));
    T_OK(cfs_fs_chdir(U.fs, "/b"));
    T_OK(cfs_fs_set_budget(U.fs, (uint64_t)1 << 30));
    cfs_fs *child;
    T_OK(cfs_fs_fork(U.fs, &child));
    T_OK(cfs_fd_write(child, 1, "hi", 2, &n));
    T_OK(cfs_fs_close_cloexec(child));
    T_OK(cfs_fs_exit(child));
    cfs_fs_free(child);
    T_OK(cfs_fs_close_cloexec(U.fs));
    T_OK(cfs_path_create_directory(U.fs, CFS_ROOT_FD, "gone"));
    T_OK(cfs_path_remove_directory(U.fs, CFS_ROOT_FD, "gone"));
    T_OK(cfs_fd_close(U.fs, 30));
    T_OK(cfs_fs_close_all(U.fs));

    /* Every op of the journal format was exercised. */
    bool seen[CFS_OP_MAX_ + 1] = {0};
    for (size_t i = 0; i < U.rec.n; i++)
        seen[U.rec.evs[i].ev.op] = true;
    for (unsigned op = 1; op <= CFS_OP_MAX_; op++)
        cr_assert(seen[op], "op %s not exercised", cfs_op_name((uint16_t)op));

    cfs_fs *r = cfs_fs_new(NULL);
    cr_assert_not_null(r);
    for (size_t i = 0; i < U.rec.n; i++) {
        cfs_errno e = cfs_fs_apply(r, &U.rec.evs[i].ev);
        cr_assert_eq(e, 0, "apply seq %llu (%s): %s: %s",
                     (unsigned long long)U.rec.evs[i].ev.seq,
                     cfs_op_name(U.rec.evs[i].ev.op), cfs_errno_name(e),
                     cfs_fs_errmsg(r));
    }
    cr_assert_eq(cfs_fs_seq(r), cfs_fs_seq(U.fs));
    cr_assert(hash_eq(cfs_fs_hash(r), cfs_fs_hash(U.fs)));
    cfs_fs_free(r);
}

/* Replay of the lifecycle corners: orphans kept by an fd, by a child
 * process, renumber closing the last reference, rename over open files. */
Test(events, orphans_and_processes_replay)
{
    size_t n;
    cfs_fd a = t_create("a"), b = t_create("b"), c = t_create("c");
    T_OK(cfs_fd_write(U.fs, a, "AAAA", 4, &n));
    T_OK(cfs_fd_write(U.fs, b, "BBBB", 4, &n));
    T_OK(cfs_fd_write(U.fs, c, "CCCC", 4, &n));
    T_OK(cfs_path_rename(U.fs, CFS_ROOT_FD, "a", CFS_ROOT_FD,
                         "b"));                         /* b orphan */
    T_OK(cfs_path_unlink_file(U.fs, CFS_ROOT_FD, "c")); /* c orphan */
    cfs_fs *child;
    T_OK(cfs_fs_fork(U.fs, &child));
    T_OK(cfs_fd_renumber(U.fs, a, b)); /* parent's last ref to old b gone */
    T_OK(cfs_fd_close(U.fs, c));       /* child still holds c */
    T_OK(cfs_fd_write(child, c, "+", 1, &n));
    t_mkdir("d");
    t_mkdir("d/e");
    cfs_fd e = t_opendir(CFS_ROOT_FD, "d/e");
    T_OK(cfs_path_remove_directory(U.fs, CFS_ROOT_FD, "d/e")); /* dir orphan */
    T_OK(cfs_fs_exit(child));
    cfs_fs_free(child);
    T_OK(cfs_fd_close(U.fs, e));
    T_OK(cfs_fs_close_all(U.fs));

    cfs_fs *r = cfs_fs_new(NULL);
    cr_assert_not_null(r);
    for (size_t i = 0; i < U.rec.n; i++) {
        cfs_errno err = cfs_fs_apply(r, &U.rec.evs[i].ev);
        cr_assert_eq(err, 0, "apply seq %llu (%s): %s: %s",
                     (unsigned long long)U.rec.evs[i].ev.seq,
                     cfs_op_name(U.rec.evs[i].ev.op), cfs_errno_name(err),
                     cfs_fs_errmsg(r));
    }
    cr_assert(hash_eq(cfs_fs_hash(r), cfs_fs_hash(U.fs)));
    cfs_statfs s1, s2;
    T_OK(cfs_fs_statfs(r, &s1));
    T_OK(cfs_fs_statfs(U.fs, &s2));
    cr_assert_eq(s1.files, s2.files);
    cr_assert_eq(s1.bytes_used, s2.bytes_used);
    cfs_fs_free(r);
}

/* Calls that end up changing nothing emit nothing (a no-op is not an
 * event): a zero-length write, to a file or to stdout. */
Test(events, zero_length_writes_emit_nothing)
{
    cfs_fd fd = t_create("f");
    size_t n = 99;
    EXPECT_NO_EVENT(cfs_fd_write(U.fs, fd, "", 0, &n));
    cr_assert_eq(n, 0);
    EXPECT_NO_EVENT(cfs_fd_pwrite(U.fs, fd, "", 0, 10, &n));
    n = 99;
    EXPECT_NO_EVENT(cfs_fd_write(U.fs, 1, "", 0, &n));
    cr_assert_eq(n, 0);
}
