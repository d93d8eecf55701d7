/*
 * test_perms.c — the mount's POSIX permission and timestamp rules against
 * the kernel's own filesystem, as several users.
 *
 * A fresh journal is mounted read-write (the built `chronofs mount
 * --foreground`, as in test_mount.c) and, side by side, a host directory on
 * tmpfs (/dev/shm) is the oracle. Every operation runs on both, in a
 * forked worker that has switched to one of four identities with
 * setgroups + setresgid + setresuid: root, the owner (uid 1001, also in
 * group 2000), a member of group 2000 (uid 1002) and another user (uid
 * 1003); the operation brings its umask. After each operation:
 *   - the results agree: return value, and errno when it failed;
 *   - both trees agree: the same paths, and for each its type, mode bits
 *     (with suid/sgid/sticky), uid, gid, link count and size (not for
 *     directories: their sizes are the filesystem's business);
 *   - the same timestamps moved: for every path naming the same inode
 *     before and after, whether its mtime and its ctime changed (absolute
 *     values differ between the two by nature; atime is left out, tmpfs
 *     and relatime decide it), and after utimensat with explicit times,
 *     the times themselves.
 * Every step starts in a tick of the kernel's coarse clock of its own
 * (tick_past), so an update is always visible as a change on tmpfs too.
 * One deliberate difference is not compared: the times of a file that
 * truncate(2) leaves at its size (see op_setattr in tools/fuse/ops.c).
 *
 * Two tests: a script covering the rules one by one (create, mkdir, mknod,
 * symlink, link, rename, unlink, rmdir, truncate, ftruncate, write, open
 * O_TRUNC, access, chmod, chown, utimensat with UTIME_NOW/UTIME_OMIT/
 * explicit times, in plain, setgid and sticky directories, by owners and
 * non-owners), then a property test of random operations from a printed
 * seed; a mismatch names the seed, the step, the operation, the user and
 * both results, after the operations that led there.
 *
 * Knobs (environment):
 *   CFS_TEST_SEED=N     run only seed N (printed as "perms seed N")
 *   CFS_TEST_OPS=N      random operations per seed (default 1500)
 *   CFS_TEST_VERBOSE=1  print every operation and both results
 *
 * Needs root (allow_other, and switching users), /dev/fuse and
 * fusermount3; otherwise the tests skip. Every test unmounts, also on
 * failure (.fini, atexit, and PR_SET_PDEATHSIG for the mount process).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfs_test_util.h"

/* ---- the mount and the oracle ------------------------------------------- */

struct fixture {
    char root[64]; /* temp dir holding the journal and the mount point */
    char shm[64];  /* temp dir on tmpfs holding the oracle */
    char j[128], mnt[128];
    char wm[160], wh[160]; /* the work dirs: mount side, host side */
    pid_t pid;             /* the mount process, 0 when not mounted */
};
static struct fixture F;

/* Unmount if mounted and wait for the mount process; its exit status. */
static int unmount_now(void)
{
    if (!F.pid)
        return 0;
    pid_t pid = F.pid;
    F.pid = 0;
    return cfs_test_fuse_unmount(pid, F.mnt);
}

static void workers_stop(void);

static void cleanup(void)
{
    workers_stop();
    unmount_now();
    if (F.root[0]) {
        cfs_test_sh("rm -rf '%s'", F.root);
        F.root[0] = 0;
    }
    if (F.shm[0]) {
        cfs_test_sh("rm -rf '%s'", F.shm);
        F.shm[0] = 0;
    }
}

static void mount_rw(void)
{
    char err[512];
    F.pid = cfs_test_fuse_mount(CHRONOFS_BIN, F.j, F.mnt, NULL, err, sizeof err);
    cr_assert_neq(F.pid, 0, "%s", err);
}

static void setup(void)
{
    if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0 ||
        cfs_test_sh("command -v fusermount3 >/dev/null") != 0)
        cr_skip_test("needs root, /dev/fuse and fusermount3");
    signal(SIGPIPE, SIG_IGN); /* a dead worker is reported, not fatal */
    static int registered;
    if (!registered) {
        atexit(cleanup);
        registered = 1;
    }
    memset(&F, 0, sizeof F);
    strcpy(F.root, "/tmp/cfs-perms-XXXXXX");
    cr_assert_not_null(mkdtemp(F.root));
    strcpy(F.shm, "/dev/shm/cfs-perms-XXXXXX");
    cr_assert_not_null(mkdtemp(F.shm));
    /* other uids must reach both sides */
    cr_assert_eq(chmod(F.root, 0755), 0);
    cr_assert_eq(chmod(F.shm, 0755), 0);
    snprintf(F.j, sizeof F.j, "%s/j", F.root);
    snprintf(F.mnt, sizeof F.mnt, "%s/mnt", F.root);
    snprintf(F.wm, sizeof F.wm, "%s/w", F.mnt);
    snprintf(F.wh, sizeof F.wh, "%s/w", F.shm);
    cr_assert_eq(mkdir(F.mnt, 0755), 0);
    cr_assert_eq(cfs_test_sh("'%s' init '%s' >/dev/null", CHRONOFS_BIN, F.j), 0,
                 "chronofs init");
    mount_rw();
    umask(0);
    cr_assert_eq(mkdir(F.wm, 0755), 0, "mkdir %s: %s", F.wm, strerror(errno));
    cr_assert_eq(mkdir(F.wh, 0755), 0);
}

static void unmount_ok(void)
{
    int rc = unmount_now();
    cr_assert_eq(rc, 0, "chronofs mount exited with %d", rc);
}

TestSuite(perms, .init = setup, .fini = cleanup, .timeout = 300);

/* ---- who runs an operation ------------------------------------------------ */

#define GRP 2000 /* the shared group: the owner and the member are in it */

enum who { ROOT, OWNER, MEMBER, OTHER, N_USERS };

static const struct user {
    const char *name;
    uid_t uid;
    gid_t gid;
    int ngroups;
    gid_t groups[2];
} users[N_USERS] = {
    [ROOT] = {"root", 0, 0, 1, {0}},
    [OWNER] = {"owner", 1001, 1001, 2, {1001, GRP}},
    [MEMBER] = {"member", 1002, 1002, 2, {1002, GRP}},
    [OTHER] = {"other", 1003, 1003, 1, {1003}},
};

/* ---- operations ----------------------------------------------------------- */

enum kind {
    K_CREATE,    /* open(a, O_CREAT|O_WRONLY|flags, mode) + close */
    K_MKDIR,     /* mkdir(a, mode) */
    K_MKNOD,     /* mknod(a, S_IFREG|mode, 0) */
    K_SYMLINK,   /* symlink(b, a) */
    K_LINK,      /* link(a, b) */
    K_RENAME,    /* rename(a, b) */
    K_UNLINK,    /* unlink(a) */
    K_RMDIR,     /* rmdir(a) */
    K_TRUNCATE,  /* truncate(a, n) */
    K_WRITE,     /* open(a, O_WRONLY|flags) + pwrite n bytes at off + close */
    K_OPENTRUNC, /* open(a, O_WRONLY|O_TRUNC) + close */
    K_READ,      /* open(a, O_RDONLY) + read + close */
    K_CHMOD,     /* chmod(a, mode) */
    K_CHOWN,     /* fchownat(a, uid, gid, flags) */
    K_UTIMENS,   /* utimensat(a, times by tkind, flags) */
    K_FTRUNCATE, /* open(a, O_WRONLY) + ftruncate(n) + close */
    K_ACCESS,    /* faccessat(a, mode, AT_EACCESS) */
    K_COUNT_
};

static const char *const kind_name[K_COUNT_] = {
    [K_CREATE] = "create",   [K_MKDIR] = "mkdir",     [K_MKNOD] = "mknod",
    [K_SYMLINK] = "symlink", [K_LINK] = "link",       [K_RENAME] = "rename",
    [K_UNLINK] = "unlink",   [K_RMDIR] = "rmdir",     [K_TRUNCATE] = "truncate",
    [K_WRITE] = "write",     [K_OPENTRUNC] = "open_trunc", [K_READ] = "read",
    [K_CHMOD] = "chmod",     [K_CHOWN] = "chown",     [K_UTIMENS] = "utimensat",
    [K_FTRUNCATE] = "ftruncate", [K_ACCESS] = "access",
};

/* utimensat time arguments: atime, then mtime. */
enum tkind {
    T_NULL,       /* times == NULL: both now */
    T_NOW_NOW,
    T_OMIT_NOW,
    T_NOW_OMIT,
    T_OMIT_OMIT,
    T_SET_SET,    /* explicit times */
    T_SET_OMIT,
    T_OMIT_SET,
    T_COUNT_
};
static const char *const tkind_name[T_COUNT_] = {
    "NULL", "NOW,NOW", "OMIT,NOW", "NOW,OMIT", "OMIT,OMIT", "SET,SET",
    "SET,OMIT", "OMIT,SET",
};
#define T_ATIME_SEC 1000000000L
#define T_MTIME_SEC 1200000000L

#define UM(bits) (01000u | (bits))
#define UMASK_OF(o) ((o)->umask ? (o)->umask & 0777u : 022u)

struct op {
    enum kind k;
    enum who u;
    const char *a, *b; /* paths relative to the work dir (b: target) */
    unsigned mode;
    unsigned umask;    /* UM(bits), or 0 for the default 022 */
    int flags;         /* O_EXCL/O_TRUNC/O_APPEND, AT_SYMLINK_NOFOLLOW */
    long n, off;       /* size / bytes / offset */
    const char *own;   /* chown: "uid:gid", "-" keeps one */
    enum tkind t;
    long nsec;         /* explicit times' nanoseconds */
};

static void describe(const struct op *o, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s(%u) %s %s", users[o->u].name,
                     (unsigned)users[o->u].uid, kind_name[o->k], o->a);
    if (n < 0 || (size_t)n >= len)
        return;
    buf += n;
    len -= (size_t)n;
    switch (o->k) {
    case K_CREATE:
        snprintf(buf, len, " 0%o umask 0%o%s%s", o->mode, UMASK_OF(o),
                 (o->flags & O_EXCL) ? " O_EXCL" : "",
                 (o->flags & O_TRUNC) ? " O_TRUNC" : "");
        break;
    case K_MKDIR:
    case K_MKNOD:
        snprintf(buf, len, " 0%o umask 0%o", o->mode, UMASK_OF(o));
        break;
    case K_CHMOD:
        snprintf(buf, len, " 0%o", o->mode);
        break;
    case K_SYMLINK:
        snprintf(buf, len, " -> %s", o->b);
        break;
    case K_LINK:
    case K_RENAME:
        snprintf(buf, len, " %s", o->b);
        break;
    case K_TRUNCATE:
    case K_FTRUNCATE:
        snprintf(buf, len, " %ld", o->n);
        break;
    case K_ACCESS:
        snprintf(buf, len, " %s%s%s%s", o->mode ? "" : "F_OK",
                 (o->mode & R_OK) ? "R" : "", (o->mode & W_OK) ? "W" : "",
                 (o->mode & X_OK) ? "X" : "");
        break;
    case K_WRITE:
        snprintf(buf, len, " %ld bytes at %ld%s", o->n, o->off,
                 (o->flags & O_APPEND) ? " O_APPEND" : "");
        break;
    case K_CHOWN:
        snprintf(buf, len, " %s%s", o->own,
                 (o->flags & AT_SYMLINK_NOFOLLOW) ? " nofollow" : "");
        break;
    case K_UTIMENS:
        snprintf(buf, len, " %s%s", tkind_name[o->t],
                 (o->flags & AT_SYMLINK_NOFOLLOW) ? " nofollow" : "");
        break;
    default:
        break;
    }
}

struct result {
    long ret; /* -1: failed */
    int err;
};

static char zeros[8192];

/* The id at the start of s ("-" is -1: keep). */
static unsigned id_of(const char *s)
{
    return *s == '-' ? (unsigned)-1 : (unsigned)strtoul(s, NULL, 10);
}

/* Run o with base as the work dir, as whoever the process is now. */
static struct result run(const char *base, const struct op *o)
{
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/%s", base, o->a);
    if (o->b)
        snprintf(b, sizeof b, "%s/%s", base, o->b);
    long r = -1;
    int fd;
    errno = 0;
    switch (o->k) {
    case K_CREATE:
        fd = open(a, O_CREAT | O_WRONLY | o->flags, o->mode);
        r = fd < 0 ? -1 : close(fd);
        break;
    case K_MKDIR:
        r = mkdir(a, o->mode);
        break;
    case K_MKNOD:
        r = mknod(a, S_IFREG | o->mode, 0);
        break;
    case K_SYMLINK:
        r = symlink(o->b, a); /* the target as given: relative to a's dir */
        break;
    case K_LINK:
        r = link(a, b);
        break;
    case K_RENAME:
        r = rename(a, b);
        break;
    case K_UNLINK:
        r = unlink(a);
        break;
    case K_RMDIR:
        r = rmdir(a);
        break;
    case K_TRUNCATE:
        r = truncate(a, o->n);
        break;
    case K_WRITE:
        fd = open(a, O_WRONLY | o->flags);
        if (fd >= 0) {
            r = (o->flags & O_APPEND) ? write(fd, zeros, (size_t)o->n)
                                      : pwrite(fd, zeros, (size_t)o->n, o->off);
            int e = errno;
            if (close(fd) && r >= 0)
                r = -1;
            else
                errno = e;
        }
        break;
    case K_OPENTRUNC:
        fd = open(a, O_WRONLY | O_TRUNC);
        r = fd < 0 ? -1 : close(fd);
        break;
    case K_FTRUNCATE:
        fd = open(a, O_WRONLY);
        if (fd >= 0) {
            r = ftruncate(fd, o->n);
            int e = errno;
            close(fd);
            errno = e;
        }
        break;
    case K_ACCESS:
        r = faccessat(AT_FDCWD, a, (int)o->mode, AT_EACCESS);
        break;
    case K_READ:
        fd = open(a, O_RDONLY);
        if (fd >= 0) {
            char buf[256];
            r = read(fd, buf, sizeof buf);
            int e = errno;
            close(fd);
            errno = e;
        }
        break;
    case K_CHMOD:
        r = chmod(a, o->mode);
        break;
    case K_CHOWN:
        r = fchownat(AT_FDCWD, a, id_of(o->own), id_of(strchr(o->own, ':') + 1),
                     o->flags);
        break;
    case K_UTIMENS: {
        struct timespec ts[2];
        ts[0].tv_sec = T_ATIME_SEC;
        ts[1].tv_sec = T_MTIME_SEC;
        ts[0].tv_nsec = ts[1].tv_nsec = o->nsec;
        switch (o->t) {
        case T_NULL: break;
        case T_NOW_NOW: ts[0].tv_nsec = ts[1].tv_nsec = UTIME_NOW; break;
        case T_OMIT_NOW: ts[0].tv_nsec = UTIME_OMIT; ts[1].tv_nsec = UTIME_NOW; break;
        case T_NOW_OMIT: ts[0].tv_nsec = UTIME_NOW; ts[1].tv_nsec = UTIME_OMIT; break;
        case T_OMIT_OMIT: ts[0].tv_nsec = ts[1].tv_nsec = UTIME_OMIT; break;
        case T_SET_SET: break;
        case T_SET_OMIT: ts[1].tv_nsec = UTIME_OMIT; break;
        case T_OMIT_SET: ts[0].tv_nsec = UTIME_OMIT; break;
        default: break;
        }
        r = utimensat(AT_FDCWD, a, o->t == T_NULL ? NULL : ts, o->flags);
        break;
    }
    default:
        break;
    }
    struct result res = {r < 0 ? -1 : r, r < 0 ? errno : 0};
    return res;
}

/* Operations run in one worker process per user, forked once per test:
 * it switches to the user for good and then runs what it is sent on both
 * sides, [0] the mount, [1] the host, answering with both results. (A
 * fork per operation costs several times more, under ASan most of all.) */
struct wire {
    struct op o;
    char a[256], b[256], own[32];
};

static struct worker {
    pid_t pid;
    int to, from; /* pipes: ops to it, results from it */
} workers[N_USERS];

static bool io_all(int fd, void *buf, size_t len, bool out)
{
    char *p = buf;
    while (len) {
        ssize_t n = out ? write(fd, p, len) : read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static _Noreturn void worker_main(enum who who, int in, int out)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const struct user *u = &users[who];
    struct result r[2] = {{-2, 0}, {-2, 0}};
    if (setgroups((size_t)u->ngroups, u->groups) != 0 ||
        setresgid(u->gid, u->gid, u->gid) != 0 ||
        setresuid(u->uid, u->uid, u->uid) != 0) {
        (void)io_all(out, r, sizeof r, true); /* say so, once */
        _exit(1);
    }
    struct wire w;
    while (io_all(in, &w, sizeof w, false)) {
        w.o.a = w.a;
        w.o.b = w.b[0] ? w.b : NULL;
        w.o.own = w.own;
        umask(UMASK_OF(&w.o));
        r[0] = run(F.wm, &w.o);
        r[1] = run(F.wh, &w.o);
        if (!io_all(out, r, sizeof r, true))
            break;
    }
    _exit(0);
}

static void workers_stop(void)
{
    for (int u = 0; u < N_USERS; u++) {
        struct worker *w = &workers[u];
        if (!w->pid)
            continue;
        close(w->to);
        close(w->from);
        int status;
        while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
            ;
        w->pid = 0;
    }
}

static void workers_start(void)
{
    for (int u = 0; u < N_USERS; u++) {
        int to[2], from[2];
        cr_assert_eq(pipe(to), 0);
        cr_assert_eq(pipe(from), 0);
        fflush(NULL);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(to[1]);
            close(from[0]);
            for (int k = 0; k < u; k++) { /* the others' pipes are not ours */
                close(workers[k].to);
                close(workers[k].from);
            }
            worker_main((enum who)u, to[0], from[1]);
        }
        close(to[0]);
        close(from[1]);
        workers[u] = (struct worker){pid, to[1], from[0]};
    }
}

/* Run o on both sides as o->u. */
static void run_both(const struct op *o, struct result out[2])
{
    struct wire w;
    memset(&w, 0, sizeof w);
    w.o = *o;
    w.o.a = w.o.b = w.o.own = NULL;
    snprintf(w.a, sizeof w.a, "%s", o->a);
    if (o->b)
        snprintf(w.b, sizeof w.b, "%s", o->b);
    if (o->own)
        snprintf(w.own, sizeof w.own, "%s", o->own);
    struct worker *wk = &workers[o->u];
    cr_assert_neq(wk->pid, 0, "no worker for %s", users[o->u].name);
    bool ok = io_all(wk->to, &w, sizeof w, true) &&
              io_all(wk->from, out, 2 * sizeof *out, false);
    cr_assert(ok, "the worker for %s died", users[o->u].name);
    cr_assert_neq(out[0].ret, -2, "cannot switch to %s", users[o->u].name);
}

/* ---- trees ---------------------------------------------------------------- */

#define MAX_ENTS 512

struct ent {
    char path[256]; /* relative to the work dir; "." is the work dir */
    struct stat st;
};

struct tree {
    size_t n;
    bool overflow;
    struct ent e[MAX_ENTS];
};

static struct tree *walk_into;
static size_t walk_base_len;

static int walk_one(const char *p, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    struct tree *t = walk_into;
    if (t->n == MAX_ENTS) {
        t->overflow = true;
        return 0;
    }
    struct ent *e = &t->e[t->n++];
    const char *rel = p + walk_base_len;
    snprintf(e->path, sizeof e->path, "%s", *rel ? rel + 1 : ".");
    e->st = *sb;
    return 0;
}

static int ent_cmp(const void *x, const void *y)
{
    return strcmp(((const struct ent *)x)->path, ((const struct ent *)y)->path);
}

static void walk(const char *base, struct tree *t)
{
    t->n = 0;
    t->overflow = false;
    walk_into = t;
    walk_base_len = strlen(base);
    cr_assert_eq(nftw(base, walk_one, 16, FTW_PHYS), 0, "walking %s: %s",
                 base, strerror(errno));
    qsort(t->e, t->n, sizeof t->e[0], ent_cmp);
}

static const struct ent *find(const struct tree *t, const char *path)
{
    struct ent key;
    snprintf(key.path, sizeof key.path, "%s", path);
    return bsearch(&key, t->e, t->n, sizeof t->e[0], ent_cmp);
}

static bool ts_eq(const struct timespec *x, const struct timespec *y)
{
    return x->tv_sec == y->tv_sec && x->tv_nsec == y->tv_nsec;
}

/* ---- one step: run, compare ----------------------------------------------- */

struct run_state {
    struct tree before[2], after[2]; /* [0] mount, [1] host */
    char mismatch[4096];
    size_t mlen;
    unsigned long n_ok[K_COUNT_], n_fail[K_COUNT_]; /* agreed outcomes */
    struct timespec coarse; /* CLOCK_REALTIME_COARSE after the last step */
    ino_t no_times;         /* host inode whose times are not compared */
};

__attribute__((format(printf, 2, 3))) static void
report(struct run_state *s, const char *fmt, ...)
{
    if (s->mlen >= sizeof s->mismatch - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->mismatch + s->mlen, sizeof s->mismatch - s->mlen, fmt,
                      ap);
    va_end(ap);
    if (n > 0)
        s->mlen += (size_t)n;
    if (s->mlen > sizeof s->mismatch - 1)
        s->mlen = sizeof s->mismatch - 1;
}

static const char *type_name(mode_t m)
{
    return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "symlink"
                                                               : "other";
}

static void compare_ent(struct run_state *s, const struct ent *m,
                        const struct ent *h)
{
    const struct stat *a = &m->st, *b = &h->st;
    if ((a->st_mode & S_IFMT) != (b->st_mode & S_IFMT)) {
        report(s, "  %s: a %s on the mount, a %s on the host\n", m->path,
               type_name(a->st_mode), type_name(b->st_mode));
        return;
    }
    if ((a->st_mode & 07777) != (b->st_mode & 07777))
        report(s, "  %s: mode 0%04o on the mount, 0%04o on the host\n", m->path,
               a->st_mode & 07777, b->st_mode & 07777);
    if (a->st_uid != b->st_uid || a->st_gid != b->st_gid)
        report(s, "  %s: owner %u:%u on the mount, %u:%u on the host\n",
               m->path, a->st_uid, a->st_gid, b->st_uid, b->st_gid);
    if (a->st_nlink != b->st_nlink)
        report(s, "  %s: nlink %lu on the mount, %lu on the host\n", m->path,
               (unsigned long)a->st_nlink, (unsigned long)b->st_nlink);
    if (!S_ISDIR(a->st_mode) && a->st_size != b->st_size)
        report(s, "  %s: size %lld on the mount, %lld on the host\n", m->path,
               (long long)a->st_size, (long long)b->st_size);
}

/* Which of mtime/ctime moved for `path` on one side: bit 0 mtime, bit 1
 * ctime; -1 if path does not name the same inode before and after. */
static int moved(const struct tree *before, const struct ent *after)
{
    const struct ent *b = find(before, after->path);
    if (!b || b->st.st_ino != after->st.st_ino)
        return -1;
    return (!ts_eq(&b->st.st_mtim, &after->st.st_mtim) ? 1 : 0) |
           (!ts_eq(&b->st.st_ctim, &after->st.st_ctim) ? 2 : 0);
}

static const char *moved_name(int v)
{
    static const char *const n[] = {"neither", "mtime", "ctime",
                                    "mtime and ctime"};
    return v < 0 ? "(another inode)" : n[v];
}

/* Compare results and trees after o; the trees `after` become `before`. */
static void compare(struct run_state *s, const struct op *o,
                    const struct result r[2])
{
    s->mlen = 0;
    s->mismatch[0] = 0;
    if (r[0].ret != r[1].ret || r[0].err != r[1].err)
        report(s, "  result: mount %ld (%s), host %ld (%s)\n", r[0].ret,
               r[0].ret < 0 ? strerror(r[0].err) : "ok", r[1].ret,
               r[1].ret < 0 ? strerror(r[1].err) : "ok");
    else if (r[0].ret < 0)
        s->n_fail[o->k]++;
    else
        s->n_ok[o->k]++;

    /* explicit times are kept as given (looked at before the walk, whose
     * readdir moves a directory's atime on the host) */
    if (o->k == K_UTIMENS && r[0].ret == 0 && r[1].ret == 0 &&
        (o->t == T_SET_SET || o->t == T_SET_OMIT || o->t == T_OMIT_SET)) {
        struct stat sm, shost;
        char pm[512], ph[512];
        snprintf(pm, sizeof pm, "%s/%s", F.wm, o->a);
        snprintf(ph, sizeof ph, "%s/%s", F.wh, o->a);
        int (*st)(const char *, struct stat *) =
            (o->flags & AT_SYMLINK_NOFOLLOW) ? lstat : stat;
        if (st(pm, &sm) == 0 && st(ph, &shost) == 0) {
            if (o->t != T_SET_OMIT && !ts_eq(&sm.st_mtim, &shost.st_mtim))
                report(s, "  %s: mtime %lld.%09ld on the mount, %lld.%09ld on the host\n",
                       o->a, (long long)sm.st_mtim.tv_sec, sm.st_mtim.tv_nsec,
                       (long long)shost.st_mtim.tv_sec, shost.st_mtim.tv_nsec);
            if (o->t != T_OMIT_SET && !ts_eq(&sm.st_atim, &shost.st_atim))
                report(s, "  %s: atime %lld.%09ld on the mount, %lld.%09ld on the host\n",
                       o->a, (long long)sm.st_atim.tv_sec, sm.st_atim.tv_nsec,
                       (long long)shost.st_atim.tv_sec, shost.st_atim.tv_nsec);
        }
    }
    walk(F.wm, &s->after[0]);
    walk(F.wh, &s->after[1]);
    const struct tree *tm = &s->after[0], *th = &s->after[1];
    if (tm->overflow || th->overflow)
        report(s, "  more than %d paths: the test's own limit\n", MAX_ENTS);
    size_t i = 0, k = 0;
    while (i < tm->n || k < th->n) {
        int c = i == tm->n ? 1 : k == th->n ? -1
                                            : strcmp(tm->e[i].path, th->e[k].path);
        if (c < 0) {
            report(s, "  %s: only on the mount\n", tm->e[i++].path);
            continue;
        }
        if (c > 0) {
            report(s, "  %s: only on the host\n", th->e[k++].path);
            continue;
        }
        const struct ent *em = &tm->e[i++], *eh = &th->e[k++];
        compare_ent(s, em, eh);
        if (eh->st.st_ino == s->no_times)
            continue;
        int mm = moved(&s->before[0], em), mh = moved(&s->before[1], eh);
        if (mm != mh)
            report(s, "  %s: %s changed on the mount, %s on the host\n",
                   em->path, moved_name(mm), moved_name(mh));
    }
    memcpy(s->before, s->after, sizeof s->before);
}

static struct run_state *state_new(void)
{
    struct run_state *s = calloc(1, sizeof *s);
    cr_assert_not_null(s);
    if (!workers[0].pid)
        workers_start();
    walk(F.wm, &s->before[0]);
    walk(F.wh, &s->before[1]);
    return s;
}

static bool verbose(void)
{
    const char *v = getenv("CFS_TEST_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

/* Wait until the kernel's coarse clock has moved past `last`. tmpfs takes
 * some timestamps from the coarse clock (e.g. a directory's mtime on
 * unlink is the victim's new ctime, which is coarse when the victim's
 * ctime was not looked at): two steps in one tick could leave a
 * timestamp equal that was updated, so every step gets a tick of its own
 * (4 ms at HZ=250, and a step often takes longer anyway). */
static void tick_past(const struct timespec *last)
{
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME_COARSE, &now);
        if (now.tv_sec > last->tv_sec ||
            (now.tv_sec == last->tv_sec && now.tv_nsec > last->tv_nsec))
            return;
        cfs_test_msleep(1);
    }
}

/* Run one step; false (with s->mismatch filled) if the sides disagree. */
static bool step(struct run_state *s, const struct op *o, char *desc,
                 size_t dlen, struct result r[2])
{
    describe(o, desc, dlen);
    /* truncate(2) to the size a file has: Linux leaves its times alone,
     * the mount updates them, as for open(O_TRUNC), which the kernel
     * sends it the same way (see op_setattr in tools/fuse/ops.c) */
    s->no_times = 0;
    if (o->k == K_TRUNCATE) {
        char p[512];
        struct stat hs;
        snprintf(p, sizeof p, "%s/%s", F.wh, o->a);
        if (stat(p, &hs) == 0 && S_ISREG(hs.st_mode) && hs.st_size == o->n)
            s->no_times = hs.st_ino;
    }
    tick_past(&s->coarse);
    run_both(o, r);
    compare(s, o, r);
    clock_gettime(CLOCK_REALTIME_COARSE, &s->coarse);
    if (verbose())
        printf("  %s -> mount %ld/%d host %ld/%d%s\n", desc, r[0].ret,
               r[0].err, r[1].ret, r[1].err, s->mlen ? "  MISMATCH" : "");
    return s->mlen == 0;
}

/* ---- the script ------------------------------------------------------------ */

#define OP(...) ((struct op){__VA_ARGS__})

static const struct op script[] = {
    /* the fixture: directories of every flavour, owned by the owner and
     * the shared group */
    OP(.k = K_MKDIR, .u = ROOT, .a = "plain", .mode = 0777, .umask = UM(0)),
    OP(.k = K_CHOWN, .u = ROOT, .a = "plain", .own = "1001:2000"),
    OP(.k = K_MKDIR, .u = ROOT, .a = "sgid", .mode = 0777, .umask = UM(0)),
    OP(.k = K_CHOWN, .u = ROOT, .a = "sgid", .own = "1001:2000"),
    OP(.k = K_CHMOD, .u = OWNER, .a = "sgid", .mode = 02777),
    OP(.k = K_MKDIR, .u = ROOT, .a = "sticky", .mode = 01777, .umask = UM(0)),
    OP(.k = K_MKDIR, .u = OWNER, .a = "plain/priv", .mode = 0755),
    OP(.k = K_MKDIR, .u = ROOT, .a = "grp", .mode = 0770),
    OP(.k = K_CHOWN, .u = ROOT, .a = "grp", .own = "-:2000"),

    /* new inodes take the caller's ids; in a setgid directory its group,
     * and a new directory its setgid bit */
    OP(.k = K_CREATE, .u = OWNER, .a = "plain/f", .mode = 0644),
    OP(.k = K_CREATE, .u = MEMBER, .a = "plain/m", .mode = 0666, .umask = UM(002)),
    OP(.k = K_CREATE, .u = OTHER, .a = "sgid/o", .mode = 02755),
    OP(.k = K_MKDIR, .u = OTHER, .a = "sgid/od", .mode = 0755),
    OP(.k = K_MKNOD, .u = MEMBER, .a = "sgid/node", .mode = 0640),
    OP(.k = K_SYMLINK, .u = MEMBER, .a = "sgid/ln", .b = "o"),
    OP(.k = K_MKDIR, .u = MEMBER, .a = "sgid/od/deeper", .mode = 0777),
    OP(.k = K_CREATE, .u = OTHER, .a = "sgid/od/f", .mode = 0600),
    OP(.k = K_CREATE, .u = MEMBER, .a = "grp/g", .mode = 0664, .umask = UM(0)),
    OP(.k = K_CREATE, .u = OTHER, .a = "grp/x", .mode = 0644),
    OP(.k = K_CREATE, .u = OWNER, .a = "plain/priv/p", .mode = 0600),
    OP(.k = K_CREATE, .u = MEMBER, .a = "plain/priv/q", .mode = 0600),
    OP(.k = K_CREATE, .u = OWNER, .a = "plain/f", .mode = 0600, .flags = O_EXCL),

    /* permission checks */
    OP(.k = K_READ, .u = OTHER, .a = "plain/priv/p"),
    OP(.k = K_READ, .u = OWNER, .a = "plain/priv/p"),
    OP(.k = K_WRITE, .u = MEMBER, .a = "plain/f", .n = 5),
    OP(.k = K_WRITE, .u = OWNER, .a = "plain/f", .n = 5),
    OP(.k = K_WRITE, .u = OTHER, .a = "plain/m", .n = 3, .flags = O_APPEND),
    OP(.k = K_WRITE, .u = MEMBER, .a = "plain/m", .n = 3, .off = 10),
    OP(.k = K_TRUNCATE, .u = OTHER, .a = "plain/f", .n = 2),
    OP(.k = K_TRUNCATE, .u = OWNER, .a = "plain/f", .n = 2),
    OP(.k = K_TRUNCATE, .u = OWNER, .a = "plain/f", .n = 2),
    OP(.k = K_TRUNCATE, .u = OWNER, .a = "plain/f", .n = 9000),
    OP(.k = K_OPENTRUNC, .u = MEMBER, .a = "plain/f"),
    OP(.k = K_OPENTRUNC, .u = OWNER, .a = "plain/f"),
    OP(.k = K_OPENTRUNC, .u = OWNER, .a = "plain/f"),
    OP(.k = K_CREATE, .u = MEMBER, .a = "plain/m", .mode = 0600, .flags = O_TRUNC),

    OP(.k = K_FTRUNCATE, .u = OWNER, .a = "plain/f", .n = 0),
    OP(.k = K_FTRUNCATE, .u = OWNER, .a = "plain/f", .n = 0),
    OP(.k = K_FTRUNCATE, .u = OTHER, .a = "plain/f", .n = 0),
    OP(.k = K_ACCESS, .u = OTHER, .a = "plain/priv/p", .mode = R_OK),
    OP(.k = K_ACCESS, .u = OTHER, .a = "plain/priv", .mode = X_OK),
    OP(.k = K_ACCESS, .u = MEMBER, .a = "grp", .mode = W_OK | X_OK),
    OP(.k = K_ACCESS, .u = OTHER, .a = "grp", .mode = X_OK),
    OP(.k = K_ACCESS, .u = ROOT, .a = "plain/priv/p", .mode = X_OK),

    /* only the owner or root chmods; a non-member's chmod drops sgid */
    OP(.k = K_CHMOD, .u = MEMBER, .a = "plain/f", .mode = 0666),
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 06755),
    OP(.k = K_CHMOD, .u = OTHER, .a = "sgid/o", .mode = 02755),
    OP(.k = K_CHMOD, .u = ROOT, .a = "plain/m", .mode = 0666),
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 06755),

    /* suid/sgid cleared by a write or a truncate from a non-owner */
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 06777),
    OP(.k = K_WRITE, .u = MEMBER, .a = "plain/f", .n = 4),
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 06777),
    OP(.k = K_WRITE, .u = OWNER, .a = "plain/f", .n = 4, .off = 4),
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 02767),
    OP(.k = K_WRITE, .u = OTHER, .a = "plain/f", .n = 1, .flags = O_APPEND),
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 02666),
    OP(.k = K_WRITE, .u = OTHER, .a = "plain/f", .n = 1, .flags = O_APPEND),
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 06777),
    OP(.k = K_TRUNCATE, .u = MEMBER, .a = "plain/f", .n = 1),
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 06777),
    OP(.k = K_OPENTRUNC, .u = OTHER, .a = "plain/f"),
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 06777),
    OP(.k = K_WRITE, .u = ROOT, .a = "plain/f", .n = 2),

    /* chown: root to anyone, the owner only to a group it is in; both
     * clear suid, and sgid when group-executable */
    OP(.k = K_CHOWN, .u = OWNER, .a = "plain/f", .own = "1002:-"),
    OP(.k = K_CHOWN, .u = OWNER, .a = "plain/f", .own = "-:1003"),
    OP(.k = K_CHOWN, .u = OWNER, .a = "plain/f", .own = "-:2000"),
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 06755),
    OP(.k = K_CHOWN, .u = OWNER, .a = "plain/f", .own = "1001:1001"),
    OP(.k = K_CHOWN, .u = MEMBER, .a = "plain/f", .own = "-:1002"),
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 06755),
    OP(.k = K_CHOWN, .u = ROOT, .a = "plain/f", .own = "1002:2000"),
    OP(.k = K_CHMOD, .u = ROOT, .a = "plain/f", .mode = 06745),
    OP(.k = K_CHOWN, .u = ROOT, .a = "plain/f", .own = "1001:-"),
    OP(.k = K_CHMOD, .u = ROOT, .a = "plain/f", .mode = 06755),
    OP(.k = K_CHOWN, .u = ROOT, .a = "plain/f", .own = "-:-"),
    OP(.k = K_CHMOD, .u = ROOT, .a = "sgid/od", .mode = 06775),
    OP(.k = K_CHOWN, .u = ROOT, .a = "sgid/od", .own = "1002:-"),
    OP(.k = K_CHOWN, .u = ROOT, .a = "sgid/ln",
       .flags = AT_SYMLINK_NOFOLLOW, .own = "1002:1002"),
    OP(.k = K_CHOWN, .u = MEMBER, .a = "sgid/ln",
       .flags = AT_SYMLINK_NOFOLLOW, .own = "-:2000"),

    /* the sgid of a file that is not group-executable: kept by writers in
     * its group and by root, dropped by anyone else's write, truncate,
     * open(O_TRUNC) or chown (the VFS's rule, which the kernel's FUSE
     * module leaves to the mount: sgid_to_drop in tools/fuse/ops.c) */
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 02666),
    OP(.k = K_WRITE, .u = MEMBER, .a = "plain/f", .n = 1, .flags = O_APPEND),
    OP(.k = K_WRITE, .u = OTHER, .a = "plain/f", .n = 0, .flags = O_APPEND),
    OP(.k = K_WRITE, .u = OTHER, .a = "plain/f", .n = 1, .flags = O_APPEND),
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 02666),
    OP(.k = K_TRUNCATE, .u = OTHER, .a = "plain/f", .n = 3),
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 02666),
    OP(.k = K_OPENTRUNC, .u = OTHER, .a = "plain/f"),
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 02666),
    OP(.k = K_TRUNCATE, .u = ROOT, .a = "plain/f", .n = 1),
    OP(.k = K_WRITE, .u = ROOT, .a = "plain/f", .n = 2),
    OP(.k = K_CHOWN, .u = ROOT, .a = "plain/f", .own = "-:1003"),
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 02644),
    OP(.k = K_CHMOD, .u = ROOT, .a = "plain/f", .mode = 02644),
    OP(.k = K_CHOWN, .u = OWNER, .a = "plain/f", .own = "-:1001"),
    /* chown to nothing: ctime, and suid goes */
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 04666),
    OP(.k = K_CHOWN, .u = OWNER, .a = "plain/f", .own = "-:-"),
    OP(.k = K_CHOWN, .u = OWNER, .a = "plain/f", .own = "-:-"),
    OP(.k = K_CHOWN, .u = OWNER, .a = "sgid", .own = "-:-"),
    OP(.k = K_CHOWN, .u = MEMBER, .a = "sgid", .own = "-:-"),
    OP(.k = K_CHOWN, .u = ROOT, .a = "plain/f", .own = "1001:2000"),

    /* utimensat: any writer may set "now"; only the owner or root may set
     * explicit times or one of them only */
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 0664),
    OP(.k = K_UTIMENS, .u = MEMBER, .a = "plain/f", .t = T_NULL),
    OP(.k = K_UTIMENS, .u = MEMBER, .a = "plain/f", .t = T_NOW_NOW),
    OP(.k = K_UTIMENS, .u = MEMBER, .a = "plain/f", .t = T_OMIT_NOW),
    OP(.k = K_UTIMENS, .u = MEMBER, .a = "plain/f", .t = T_NOW_OMIT),
    OP(.k = K_UTIMENS, .u = MEMBER, .a = "plain/f", .t = T_SET_SET),
    OP(.k = K_UTIMENS, .u = MEMBER, .a = "plain/f", .t = T_OMIT_OMIT),
    OP(.k = K_UTIMENS, .u = OTHER, .a = "plain/f", .t = T_NULL),
    OP(.k = K_UTIMENS, .u = OTHER, .a = "plain/f", .t = T_NOW_NOW),
    OP(.k = K_UTIMENS, .u = OTHER, .a = "plain/f", .t = T_SET_OMIT),
    OP(.k = K_UTIMENS, .u = OWNER, .a = "plain/f", .t = T_SET_SET, .nsec = 123456789),
    OP(.k = K_UTIMENS, .u = OWNER, .a = "plain/f", .t = T_OMIT_SET, .nsec = 5),
    OP(.k = K_UTIMENS, .u = OWNER, .a = "plain/f", .t = T_SET_OMIT, .nsec = 7),
    OP(.k = K_UTIMENS, .u = OWNER, .a = "plain/f", .t = T_OMIT_NOW),
    OP(.k = K_UTIMENS, .u = OWNER, .a = "plain/f", .t = T_NOW_OMIT),
    OP(.k = K_UTIMENS, .u = OWNER, .a = "plain/f", .t = T_OMIT_OMIT),
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 0444),
    OP(.k = K_UTIMENS, .u = OWNER, .a = "plain/f", .t = T_NULL),
    OP(.k = K_UTIMENS, .u = MEMBER, .a = "plain/f", .t = T_NULL),
    OP(.k = K_UTIMENS, .u = ROOT, .a = "plain/f", .t = T_SET_SET, .nsec = 999999999),
    OP(.k = K_UTIMENS, .u = ROOT, .a = "plain/f", .t = T_NOW_NOW),
    OP(.k = K_UTIMENS, .u = MEMBER, .a = "sgid/ln", .t = T_SET_SET,
       .flags = AT_SYMLINK_NOFOLLOW),
    OP(.k = K_UTIMENS, .u = OWNER, .a = "sgid/ln", .t = T_NOW_NOW,
       .flags = AT_SYMLINK_NOFOLLOW),
    OP(.k = K_UTIMENS, .u = ROOT, .a = "sgid/ln", .t = T_SET_SET, .nsec = 1,
       .flags = AT_SYMLINK_NOFOLLOW),
    OP(.k = K_UTIMENS, .u = OWNER, .a = "sgid", .t = T_SET_SET),
    OP(.k = K_CHMOD, .u = OWNER, .a = "plain/f", .mode = 0644),

    /* links: counts, ctime of the file and of the directories */
    OP(.k = K_LINK, .u = OWNER, .a = "plain/f", .b = "sgid/f2"),
    OP(.k = K_LINK, .u = OTHER, .a = "plain/f", .b = "sgid/f3"),
    OP(.k = K_LINK, .u = OWNER, .a = "plain/priv", .b = "plain/dl"),
    OP(.k = K_LINK, .u = OWNER, .a = "plain/f", .b = "grp/f4"),
    OP(.k = K_LINK, .u = MEMBER, .a = "plain/f", .b = "grp/f4"),
    OP(.k = K_UNLINK, .u = OTHER, .a = "sgid/f2"),
    OP(.k = K_UNLINK, .u = OWNER, .a = "grp/f4"),

    /* sticky directories: only the file's owner, the directory's owner or
     * root may remove or rename an entry */
    OP(.k = K_CREATE, .u = OWNER, .a = "sticky/own", .mode = 0666, .umask = UM(0)),
    OP(.k = K_CREATE, .u = MEMBER, .a = "sticky/mem", .mode = 0666, .umask = UM(0)),
    OP(.k = K_MKDIR, .u = MEMBER, .a = "sticky/memd", .mode = 0777, .umask = UM(0)),
    OP(.k = K_UNLINK, .u = MEMBER, .a = "sticky/own"),
    OP(.k = K_RENAME, .u = MEMBER, .a = "sticky/own", .b = "sticky/x"),
    OP(.k = K_RENAME, .u = MEMBER, .a = "sticky/mem", .b = "sticky/own"),
    OP(.k = K_RENAME, .u = OTHER, .a = "sticky/memd", .b = "sticky/od"),
    OP(.k = K_RMDIR, .u = OTHER, .a = "sticky/memd"),
    OP(.k = K_WRITE, .u = OTHER, .a = "sticky/own", .n = 10),
    OP(.k = K_RENAME, .u = OWNER, .a = "sticky/own", .b = "sticky/own2"),
    OP(.k = K_UNLINK, .u = ROOT, .a = "sticky/mem"),
    OP(.k = K_RENAME, .u = MEMBER, .a = "sticky/memd", .b = "sgid/memd"),
    OP(.k = K_UNLINK, .u = OWNER, .a = "sticky/own2"),

    /* directory link counts and times under mkdir, rmdir and moves of a
     * subdirectory across parents */
    OP(.k = K_MKDIR, .u = OWNER, .a = "plain/d1", .mode = 0777, .umask = UM(0)),
    OP(.k = K_MKDIR, .u = OWNER, .a = "plain/d1/sub", .mode = 0755),
    OP(.k = K_MKDIR, .u = OWNER, .a = "plain/d1/sub/s2", .mode = 0755),
    OP(.k = K_RENAME, .u = OWNER, .a = "plain/d1/sub", .b = "sgid/sub"),
    OP(.k = K_RENAME, .u = MEMBER, .a = "sgid/sub", .b = "plain/d1/sub"),
    OP(.k = K_RENAME, .u = OWNER, .a = "sgid/sub", .b = "plain/d1/sub"),
    OP(.k = K_RENAME, .u = OWNER, .a = "plain/d1/sub", .b = "plain/d1/sub2"),
    OP(.k = K_MKDIR, .u = OWNER, .a = "plain/d1/empty", .mode = 0755),
    OP(.k = K_RENAME, .u = OWNER, .a = "plain/d1/sub2", .b = "plain/d1/empty"),
    OP(.k = K_RENAME, .u = OWNER, .a = "plain/d1", .b = "plain/d1/empty/x"),
    OP(.k = K_RENAME, .u = OWNER, .a = "plain/d1/empty", .b = "plain/d1"),
    OP(.k = K_RENAME, .u = OWNER, .a = "plain/f", .b = "plain/d1"),
    OP(.k = K_RENAME, .u = OWNER, .a = "plain/d1", .b = "plain/f"),
    OP(.k = K_RENAME, .u = OWNER, .a = "plain/f", .b = "sgid/f3"),
    OP(.k = K_RENAME, .u = OWNER, .a = "sgid/f3", .b = "sgid/f3"),
    OP(.k = K_RMDIR, .u = OWNER, .a = "plain/d1"),
    OP(.k = K_RMDIR, .u = OWNER, .a = "plain/d1/empty/s2"),
    OP(.k = K_RMDIR, .u = OWNER, .a = "plain/d1/empty"),
    OP(.k = K_RMDIR, .u = OWNER, .a = "plain/d1"),
    OP(.k = K_RMDIR, .u = MEMBER, .a = "sgid/od/deeper"),
    OP(.k = K_RENAME, .u = OWNER, .a = "plain/priv", .b = "grp/priv"),
    OP(.k = K_RENAME, .u = MEMBER, .a = "plain/priv", .b = "grp/priv"),
    OP(.k = K_RENAME, .u = ROOT, .a = "plain/priv", .b = "grp/priv"),
    OP(.k = K_UNLINK, .u = MEMBER, .a = "grp/priv/q"),
    OP(.k = K_RMDIR, .u = ROOT, .a = "grp/priv"),
    OP(.k = K_UNLINK, .u = ROOT, .a = "grp/priv/p"),
    OP(.k = K_UNLINK, .u = ROOT, .a = "grp/priv/q"),
    OP(.k = K_RMDIR, .u = ROOT, .a = "grp/priv"),
    OP(.k = K_SYMLINK, .u = OTHER, .a = "sticky/l", .b = "../plain/m"),
    OP(.k = K_WRITE, .u = OTHER, .a = "sticky/l", .n = 1, .flags = O_APPEND),
    OP(.k = K_CHMOD, .u = MEMBER, .a = "sticky/l", .mode = 0600),
    OP(.k = K_UNLINK, .u = MEMBER, .a = "sticky/l"),
    OP(.k = K_UNLINK, .u = OTHER, .a = "sticky/l"),
};

Test(perms, scripted)
{
    struct run_state *s = state_new();
    char desc[256];
    struct result r[2];
    int bad = 0;
    for (size_t i = 0; i < sizeof script / sizeof script[0]; i++) {
        if (!step(s, &script[i], desc, sizeof desc, r)) {
            /* go on: one report with every disagreement */
            printf("perms.scripted: step %zu: %s (mount %ld %s, host %ld %s)\n%s",
                   i, desc, r[0].ret, r[0].ret < 0 ? strerror(r[0].err) : "ok",
                   r[1].ret, r[1].ret < 0 ? strerror(r[1].err) : "ok",
                   s->mismatch);
            bad++;
        }
    }
    fflush(stdout);
    free(s);
    cr_expect_eq(bad, 0, "%d scripted steps disagree with the kernel (above)",
                 bad);
    unmount_ok();
}

/* ---- the property test --------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    return strtoull(v, NULL, 0);
}

/* splitmix64: small, and the same on every machine */
static uint64_t rng_next(uint64_t *st)
{
    uint64_t z = (*st += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static unsigned below(uint64_t *st, unsigned n)
{
    return (unsigned)(rng_next(st) % n);
}

#define PICK(st, arr) ((arr)[below(st, sizeof(arr) / sizeof((arr)[0]))])

static const unsigned modes[] = {
    0644, 0600, 0755, 0777, 0700, 0640, 0664, 0444, 0000, 0750, 0770, 0666,
    04755, 02755, 06755, 02644, 04644, 06777, 01777, 02775, 03777, 01770,
    02770, 0711,
};
static const unsigned umasks[] = {022, 0, 077, 002, 027};
static const char *const uids[] = {"-", "0", "1001", "1002", "1003"};
static const char *const gids[] = {"-", "0", "1001", "1002", "1003", "2000",
                                   "2000"};
static const char *const names[] = {"a", "b", "c", "d", "e"};

/* Strings the ops of one step point at. */
struct gen {
    char a[256], b[256], own[32];
};

/* A random existing path of the host tree (the trees agree), or "." */
static const char *any_path(uint64_t *st, const struct tree *t)
{
    return t->e[below(st, (unsigned)t->n)].path;
}

static const char *any_dir(uint64_t *st, const struct tree *t)
{
    for (int tries = 0; tries < 16; tries++) {
        const struct ent *e = &t->e[below(st, (unsigned)t->n)];
        if (S_ISDIR(e->st.st_mode))
            return e->path;
    }
    return ".";
}

/* A random path of a directory (want_dir) or of anything else, or any
 * path when there is none such after a few tries. */
static const char *path_of_type(uint64_t *st, const struct tree *t,
                                bool want_dir)
{
    for (int tries = 0; tries < 24; tries++) {
        const struct ent *e = &t->e[below(st, (unsigned)t->n)];
        if (S_ISDIR(e->st.st_mode) == want_dir)
            return e->path;
    }
    return any_path(st, t);
}

/* A random empty directory (not the work dir), or NULL. */
static const char *empty_dir(uint64_t *st, const struct tree *t)
{
    for (int tries = 0; tries < 24; tries++) {
        const struct ent *e = &t->e[below(st, (unsigned)t->n)];
        if (!S_ISDIR(e->st.st_mode) || !strcmp(e->path, "."))
            continue;
        size_t len = strlen(e->path);
        bool empty = true;
        for (size_t i = 0; i < t->n && empty; i++)
            empty = !(strncmp(t->e[i].path, e->path, len) == 0 &&
                      t->e[i].path[len] == '/');
        if (empty)
            return e->path;
    }
    return NULL;
}

/* The user owning `path` in t (its directory's owner if `parent`), when it
 * is one of ours. */
static enum who owner_of(const struct tree *t, const char *path, bool parent)
{
    char p[256];
    snprintf(p, sizeof p, "%s", path);
    if (parent) {
        char *slash = strrchr(p, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(p, sizeof p, ".");
    }
    const struct ent *e = find(t, p);
    for (int u = 0; e && u < N_USERS; u++)
        if (users[u].uid == e->st.st_uid)
            return (enum who)u;
    return ROOT;
}

/* A name in a random directory: new, or maybe taken. */
static void new_path(uint64_t *st, const struct tree *t, char *out, size_t len)
{
    const char *d = any_dir(st, t);
    const char *n = PICK(st, names);
    if (!strcmp(d, "."))
        snprintf(out, len, "%s", n);
    else
        snprintf(out, len, "%s/%s", d, n);
}

static void gen_op(uint64_t *st, const struct tree *t, struct op *o,
                   struct gen *g)
{
    static const struct {
        enum kind k;
        unsigned w;
    } weights[] = {
        {K_CREATE, 12}, {K_MKDIR, 8}, {K_MKNOD, 3},    {K_SYMLINK, 4},
        {K_LINK, 5},    {K_RENAME, 9}, {K_UNLINK, 5},  {K_RMDIR, 4},
        {K_TRUNCATE, 5}, {K_WRITE, 9}, {K_OPENTRUNC, 4}, {K_READ, 3},
        {K_CHMOD, 10},  {K_CHOWN, 8},  {K_UTIMENS, 9},
        {K_FTRUNCATE, 3}, {K_ACCESS, 4},
    };
    unsigned total = 0;
    for (size_t i = 0; i < sizeof weights / sizeof weights[0]; i++)
        total += weights[i].w;
    unsigned x = below(st, total);
    size_t i = 0;
    while (x >= weights[i].w)
        x -= weights[i++].w;
    memset(o, 0, sizeof *o);
    o->k = weights[i].k;
    static const enum who who_w[] = {ROOT, ROOT, OWNER, OWNER, OWNER,
                                     MEMBER, MEMBER, OTHER, OTHER};
    o->u = PICK(st, who_w);
    o->umask = UM(PICK(st, umasks));
    o->mode = PICK(st, modes);
    bool crowded = t->n > 80;
    /* the path operated on: mostly an existing one */
    bool fresh = (o->k == K_CREATE || o->k == K_MKDIR || o->k == K_MKNOD ||
                  o->k == K_SYMLINK) ? below(st, 5) != 0 : below(st, 8) == 0;
    if (crowded && (o->k == K_CREATE || o->k == K_MKDIR || o->k == K_MKNOD ||
                    o->k == K_SYMLINK)) {
        o->k = below(st, 2) ? K_UNLINK : K_RMDIR;
        fresh = false;
    }
    if (fresh)
        new_path(st, t, g->a, sizeof g->a);
    else if (o->k == K_RMDIR && below(st, 2) && empty_dir(st, t))
        snprintf(g->a, sizeof g->a, "%s", empty_dir(st, t));
    else if (o->k == K_RMDIR)
        snprintf(g->a, sizeof g->a, "%s", path_of_type(st, t, true));
    else if (o->k == K_UNLINK || o->k == K_LINK || o->k == K_TRUNCATE ||
             o->k == K_FTRUNCATE ||
             o->k == K_WRITE || o->k == K_OPENTRUNC || o->k == K_READ)
        snprintf(g->a, sizeof g->a, "%s",
                 path_of_type(st, t, below(st, 10) == 0));
    else
        snprintf(g->a, sizeof g->a, "%s", any_path(st, t));
    o->a = g->a;
    /* Half the time the one who may: the owner of the directory for
     * changes to names, of the file for changes to it. */
    if (below(st, 2)) {
        bool of_dir = o->k == K_CREATE || o->k == K_MKDIR || o->k == K_MKNOD ||
                     o->k == K_SYMLINK || o->k == K_RENAME ||
                     o->k == K_UNLINK || o->k == K_RMDIR;
        o->u = owner_of(t, o->a, of_dir);
    }
    switch (o->k) {
    case K_CREATE:
        o->flags = PICK(st, ((const int[]){0, 0, O_EXCL, O_TRUNC}));
        break;
    case K_SYMLINK:
        o->b = PICK(st, ((const char *const[]){"a", "b", "../c", "nowhere"}));
        break;
    case K_LINK:
    case K_RENAME:
        if (below(st, 3))
            new_path(st, t, g->b, sizeof g->b);
        else
            snprintf(g->b, sizeof g->b, "%s", any_path(st, t));
        o->b = g->b;
        break;
    case K_TRUNCATE:
    case K_FTRUNCATE:
        o->n = PICK(st, ((const long[]){0, 0, 1, 100, 5000}));
        break;
    case K_ACCESS:
        o->mode = below(st, 8);
        break;
    case K_WRITE:
        o->n = PICK(st, ((const long[]){0, 1, 10, 4096}));
        o->off = PICK(st, ((const long[]){0, 0, 7, 3000}));
        o->flags = below(st, 3) ? 0 : O_APPEND;
        break;
    case K_CHOWN:
    {
        const char *u = PICK(st, uids), *gr = PICK(st, gids);
        char mine[16];
        /* non-root callers mostly try what they may */
        if (o->u != ROOT && below(st, 2)) {
            snprintf(mine, sizeof mine, "%u", (unsigned)users[o->u].uid);
            u = below(st, 2) ? "-" : mine;
        }
        snprintf(g->own, sizeof g->own, "%s:%s", u, gr);
        o->own = g->own;
        o->flags = below(st, 4) ? 0 : AT_SYMLINK_NOFOLLOW;
        break;
    }
    case K_UTIMENS:
        o->t = (enum tkind)below(st, T_COUNT_);
        o->nsec = (long)below(st, 1000000000u);
        o->flags = below(st, 4) ? 0 : AT_SYMLINK_NOFOLLOW;
        break;
    default:
        break;
    }
}

#define HIST 12

static void random_run(uint64_t seed, uint64_t nops)
{
    printf("perms seed %" PRIu64 " (%" PRIu64 " ops; CFS_TEST_SEED=%" PRIu64
           " replays it)\n", seed, nops, seed);
    fflush(stdout);
    struct run_state *s = state_new();
    char desc[256], hist[HIST][256 + 64];
    struct result r[2];
    uint64_t st = seed;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* a start with every flavour of directory */
    for (size_t i = 0; i < 9; i++) {
        bool ok = step(s, &script[i], desc, sizeof desc, r);
        cr_assert(ok, "seed %" PRIu64 ": fixture step %zu (%s) disagrees:\n%s",
                  seed, i, desc, s->mismatch);
    }
    for (uint64_t n = 0; n < nops; n++) {
        struct op o;
        struct gen g;
        gen_op(&st, &s->before[1], &o, &g);
        bool ok = step(s, &o, desc, sizeof desc, r);
        snprintf(hist[n % HIST], sizeof hist[0], "%" PRIu64 ": %s -> %ld/%s",
                 n, desc, r[1].ret, r[1].ret < 0 ? strerror(r[1].err) : "ok");
        if (!ok) {
            printf("perms seed %" PRIu64 ": mismatch at step %" PRIu64
                   ", last operations (host results):\n", seed, n);
            for (uint64_t h = n >= HIST ? n - HIST + 1 : 0; h <= n; h++)
                printf("    %s\n", hist[h % HIST]);
            fflush(stdout);
            char msg[4096 + 512];
            snprintf(msg, sizeof msg,
                     "seed %" PRIu64 " (CFS_TEST_SEED=%" PRIu64 "), step %" PRIu64
                     ": %s: mount %ld (%s), host %ld (%s)\n%s",
                     seed, seed, n, desc, r[0].ret,
                     r[0].ret < 0 ? strerror(r[0].err) : "ok", r[1].ret,
                     r[1].ret < 0 ? strerror(r[1].err) : "ok", s->mismatch);
            free(s);
            cr_assert_fail("%s", msg);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("perms seed %" PRIu64 ": %" PRIu64 " ops agree (%.2f s); ok/failed:",
           seed, nops,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    for (int k = 0; k < K_COUNT_; k++)
        printf(" %s %lu/%lu", kind_name[k], s->n_ok[k], s->n_fail[k]);
    printf("\n");
    fflush(stdout);
    free(s);
}

Test(perms, random_ops)
{
    uint64_t nops = env_u64("CFS_TEST_OPS", 1500);
    const char *one = getenv("CFS_TEST_SEED");
    if (one && *one) {
        random_run(env_u64("CFS_TEST_SEED", 0), nops);
    } else {
        /* Fixed seeds, one work dir: each run starts where the last left. */
        static const uint64_t seeds[] = {1, 2};
        for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
            char dm[200], dh[200];
            snprintf(dm, sizeof dm, "%s/w", F.mnt);
            snprintf(dh, sizeof dh, "%s/w", F.shm);
            if (i) { /* a fresh work dir per seed */
                cr_assert_eq(cfs_test_sh("rm -rf '%s' '%s'", dm, dh), 0);
                cr_assert_eq(mkdir(dm, 0755), 0);
                cr_assert_eq(mkdir(dh, 0755), 0);
            }
            random_run(seeds[i], nops);
        }
    }
    unmount_ok();
}
