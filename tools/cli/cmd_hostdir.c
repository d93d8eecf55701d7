/*
 * cmd_hostdir.c — commands between a journal and a host directory:
 * import (a host tree into the journal, as events) and restore (a state of
 * the journal onto the host).
 */
#define _GNU_SOURCE /* nftw's FTW_PHYS */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cfs_replay.h"
#include "cli.h"

static cfs_time clock_now(void *ctx)
{
    (void)ctx;
    return cfs_cli_realtime_ns();
}

static void hostdir_progress(void *ctx, const cfs_hostdir_report *r)
{
    cfs_cli_progress_update(ctx, r->bytes);
}

/* ---- import -------------------------------------------------------------- */

/* The journal's sink, wrapped to count the bytes written as they go: the
 * import's own progress callback comes every 1024 entries, which says
 * nothing during one large file. */
struct counting_sink {
    cfs_sink inner;
    cfs_cli_progress *p;
    uint64_t bytes;
};

static cfs_errno count_append(void *ctx, const cfs_event *ev)
{
    struct counting_sink *c = ctx;
    if (ev->op == CFS_OP_WRITE) {
        c->bytes += ev->length;
        cfs_cli_progress_update(c->p, c->bytes);
    }
    return c->inner.append ? c->inner.append(c->inner.ctx, ev) : 0;
}

static cfs_errno count_sync(void *ctx)
{
    struct counting_sink *c = ctx;
    return c->inner.sync ? c->inner.sync(c->inner.ctx) : 0;
}

const char cfs_cli_import_help[] =
    "usage: chronofs import J HOSTDIR [--to P] [--keep-owners] [--skip-special]\n\n"
    "Record host directory HOSTDIR into journal J at guest path P (default /;\n"
    "made if missing): directories, files (holes stay holes), symlinks (never\n"
    "followed), hard links, modes and times become events, then a snapshot\n"
    "with trigger 'bootstrap' is taken. Names that already exist in the guest\n"
    "are refused. FIFOs, sockets and devices are recorded as what they are\n"
    "(with their device numbers; never opened); --skip-special leaves them\n"
    "out. --keep-owners records the host uid/gid.\n"
    "Prints the snapshot's seq. An import that fails halfway (a full disk: it\n"
    "stores the files twice, as events and as the snapshot's chunks) is undone:\n"
    "the journal is left as it was.\n\n"
    "example:\n"
    "  chronofs init ~/fs.cfs && chronofs import ~/fs.cfs ./project --to /src\n";

/* What a walk of the host tree found before anything is recorded: its
 * size (for the progress bar and the free-space check) and the first
 * entry it cannot read. nftw keeps no context: statics. */
static uint64_t tree_bytes, tree_alloc;
static char tree_bad[4096];
static const char *tree_bad_why;

static int count_entry(const char *path, const struct stat *sb, int type, struct FTW *f)
{
    (void)f;
    if (type == FTW_DNR || type == FTW_NS) {
        snprintf(tree_bad, sizeof(tree_bad), "%s", path);
        tree_bad_why = type == FTW_DNR ? "cannot read the directory" : "cannot stat";
        return 1;
    }
    if (S_ISREG(sb->st_mode)) {
        tree_bytes += (uint64_t)sb->st_size;
        tree_alloc += (uint64_t)sb->st_blocks * 512; /* holes stay holes */
    }
    return 0;
}

/* Walk the host tree; die on what the engine would refuse half-way. */
static void scan_host(const char *host)
{
    tree_bytes = tree_alloc = 0;
    tree_bad_why = NULL;
    /* the import follows a symlink HOSTDIR (that one path is the user's);
     * FTW_PHYS would not, so walk what it names */
    char *real = realpath(host, NULL);
    if (!real)
        cfs_cli_die_user("%s: %s", host, strerror(errno));
    int rc = nftw(real, count_entry, 64, FTW_PHYS);
    int saved = errno;
    free(real);
    if (rc < 0)
        cfs_cli_die_user("%s: %s", host, strerror(saved));
    if (tree_bad_why)
        cfs_cli_die_user("%s: %s", tree_bad, tree_bad_why);
}

/* Refuse, before the first event, an import that cannot fit: the files'
 * allocated bytes (before compression; holes cost nothing in the journal
 * either) against the free space of the journal's filesystem. A guess,
 * but on the right side of a half-recorded import; a disk that fills up
 * anyway fails the import with ENOSPC, and what it committed is discarded. */
static void check_space(const char *dir, const char *host)
{
    struct statvfs vf;
    if (statvfs(dir, &vf) < 0)
        return;
    uint64_t avail = (uint64_t)vf.f_bavail * vf.f_frsize;
    uint64_t need = tree_alloc + tree_alloc / 16 + (64u << 10);
    if (vf.f_flag & ST_RDONLY)
        cfs_cli_die_user("%s: read-only filesystem", dir);
    if (avail < need)
        cfs_cli_die_user("%s: not enough free space for %s (%" PRIu64 " B of files, %" PRIu64
                         " B free)", dir, host, tree_alloc, avail);
}

/* An import that failed halfway changes nothing: what it committed is
 * discarded (a full disk included: deleting takes no new space), and the
 * message says what failed and that the journal is as it was. */
static _Noreturn void undo_import(cfs_journal *j, const char *dir, const char *why)
{
    char msg[1400];
    snprintf(msg, sizeof msg, "%s", why);
    int rc = cfs_journal_discard(j);
    if (rc) {
        char derr[300];
        snprintf(derr, sizeof derr, "%s", cfs_journal_errmsg(j));
        cfs_journal_close(j);
        cfs_cli_die_user("%s (and undoing the import failed: %s; journal %s keeps what "
                         "was recorded before it)", msg, derr, dir);
    }
    cfs_journal_close(j);
    if (strstr(msg, dir))
        cfs_cli_die_user("%s (journal unchanged)", msg);
    cfs_cli_die_user("%s: %s (journal unchanged)", dir, msg);
}

/* Names the import would make at the top of an existing guest directory
 * must not exist there (deeper ones are inside directories it makes). */
static void check_top_names(cfs_fs *fs, const char *dir, const char *host, const char *to)
{
    DIR *d = opendir(host);
    if (!d)
        cfs_cli_die_user("%s: %s", host, strerror(errno));
    struct dirent *e;
    char path[CFS_PATH_MAX + 1];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int n = snprintf(path, sizeof(path), "%s%s%s", to, to[strlen(to) - 1] == '/' ? "" : "/",
                         e->d_name);
        if (n < 0 || (size_t)n >= sizeof(path))
            continue; /* too long: the import reports it */
        cfs_filestat st;
        if (!cfs_lookup_path(fs, CFS_INO_ROOT, path, 0, &st)) {
            closedir(d);
            cfs_cli_die_user("%s: guest path %s exists already (import into an empty "
                             "place: --to)", dir, path);
        }
    }
    closedir(d);
}

int cfs_cli_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"to", required_argument, NULL, 't'},
        {"keep-owners", no_argument, NULL, 'o'},
        {"skip-special", no_argument, NULL, 's'},
        {0, 0, 0, 0}};
    const char *to = "/";
    cfs_import_opts io = {0};
    int c;
    while ((c = cfs_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 't')
            to = optarg;
        else if (c == 'o')
            io.owners = CFS_OWNERS_KEEP;
        else
            io.skip_special = 1;
    }
    cfs_cli_operands(argc, argv, 2, 2, "J HOSTDIR");
    const char *dir = argv[optind], *host = argv[optind + 1];
    if (to[0] != '/')
        cfs_cli_die_usage("--to: '%s' is not an absolute guest path", to);
    /* Check what can be checked before the journal is touched. */
    struct stat sb;
    if (stat(host, &sb) < 0)
        cfs_cli_die_user("%s: %s", host, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        cfs_cli_die_user("%s: not a directory", host);
    scan_host(host);

    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    cfs_journal *j = cfs_cli_open_journal(dir, &o);
    cfs_cli_progress p;
    struct counting_sink cs = {.inner = cfs_journal_sink(j), .p = &p};
    cfs_config cfg = {.clock = clock_now,
                      .sink = {.append = count_append, .sync = count_sync, .ctx = &cs}};
    cfs_fs *fs = NULL;
    int rc;
    if (cfs_journal_committed(j) == 0) {
        fs = cfs_fs_new(&cfg);
        if (!fs)
            cfs_cli_die_user("%s: out of memory", dir);
    } else if ((rc = cfs_journal_open_at(j, 0, &cfg, &fs))) {
        cfs_cli_die_journal(dir, j, rc, "rebuilding the head state");
    }
    /* The guest path must be a directory (or missing, to be made): refuse
     * anything else before the first event. */
    cfs_filestat gst;
    cfs_errno e = cfs_lookup_path(fs, CFS_INO_ROOT, to, CFS_LOOKUP_SYMLINK_FOLLOW, &gst);
    if (!e && gst.filetype != CFS_FILETYPE_DIRECTORY)
        cfs_cli_die_user("%s: guest path %s is not a directory", dir, to);
    if (!e)
        check_top_names(fs, dir, host, to);
    check_space(dir, host);

    cfs_cli_progress_start(&p, "import", "B", tree_alloc);
    cfs_import_report r;
    char err[1024] = "";
    rc = cfs_import_dir(fs, host, to, &io, &r, err, sizeof(err));
    cfs_cli_progress_end(&p);
    if (rc) {
        cfs_fs_free(fs);
        undo_import(j, dir, err[0] ? err : cfs_strerror(rc));
    }
    cfs_snapshot_info info;
    rc = cfs_journal_snapshot(j, fs, "", "bootstrap", cfs_cli_realtime_ns(), &info);
    cfs_fs_free(fs);
    if (rc == CFS_JE_INVAL && r.files + r.dirs + r.symlinks + r.links == 0) {
        rc = 0; /* an empty tree into a snapshotted head: nothing new to snapshot */
        info.seq = cfs_journal_committed(j);
    }
    if (!rc)
        rc = cfs_journal_sync(j);
    if (rc) {
        snprintf(err, sizeof err, "bootstrap snapshot: %s", cfs_journal_errmsg(j));
        undo_import(j, dir, err);
    }
    if ((rc = cfs_journal_close(j)))
        cfs_cli_die_user("%s: closing: %s", dir, cfs_strerror(rc));
    cfs_cli_note("imported %" PRIu64 " files (%" PRIu64 " B), %" PRIu64
            " directories, %" PRIu64 " symlinks, %" PRIu64 " hard links%s\n",
            r.files, r.bytes, r.dirs, r.symlinks, r.links,
            r.skipped ? " (some special files skipped)" : "");
    printf("%" PRIu64 "\n", info.seq);
    return 0;
}

/* ---- restore ------------------------------------------------------------- */

const char cfs_cli_restore_help[] =
    "usage: chronofs restore J OUTDIR [--at SEQ | --snapshot L] [--owners auto|keep|none]\n"
    "                        [--sync]\n\n"
    "Materialize the state of journal J after event SEQ (default: the head) or\n"
    "at snapshot L as host directory OUTDIR, which must not exist or be empty:\n"
    "files (sparse), directories, symlinks, hard links, modes and times.\n"
    "--owners: chown to the guest's uid/gid (auto: when running as root).\n"
    "--sync: make it durable (syncfs) before exiting.\n"
    "A restore that fails (a full disk) removes what it wrote: OUTDIR is left\n"
    "as it was, missing or empty.\n\n"
    "example:\n"
    "  chronofs restore ~/fs.cfs /tmp/yesterday --snapshot nightly\n";

/* A restore that fails leaves nothing: OUTDIR was missing or empty (the
 * restore refuses anything else), so whatever lies below it now is what
 * the restore made. Removed relative to directory fds, as it was made (a
 * tree may be deeper than PATH_MAX), never through a symlink or onto
 * another filesystem; directories it made read-only are opened up first,
 * for a caller that is not root. Best effort: what cannot go stays. */
static void remove_below(int dfd, dev_t dev)
{
    /* again while a pass both removed something and left something: a
     * listing may skip entries as others are removed; one that cannot go
     * (EROFS, a mount) stops it at once */
    for (int pass = 0; pass < 4; pass++) {
        int lfd = dup(dfd);
        DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
        if (!d) {
            if (lfd >= 0)
                close(lfd);
            return;
        }
        rewinddir(d); /* a dup shares the offset the last pass left at the end */
        bool left = false, removed = false;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            struct stat st;
            if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            if (S_ISDIR(st.st_mode)) {
                if (st.st_dev != dev)
                    continue; /* something mounted there meanwhile: not ours */
                if ((st.st_mode & 0700) != 0700)
                    (void)fchmodat(dfd, e->d_name, (st.st_mode & 07777) | 0700, 0);
                int sub = openat(dfd, e->d_name,
                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0) {
                    remove_below(sub, dev);
                    close(sub);
                }
                bool gone = unlinkat(dfd, e->d_name, AT_REMOVEDIR) == 0;
                left |= !gone;
                removed |= gone;
            } else {
                bool gone = unlinkat(dfd, e->d_name, 0) == 0;
                left |= !gone;
                removed |= gone;
            }
        }
        closedir(d);
        if (!left || !removed)
            return;
    }
}

static void undo_restore(const char *out, int existed)
{
    /* OUTDIR itself as the restore took it: a symlink to an empty
     * directory is followed (that one path is the caller's); below it,
     * nothing is */
    int fd = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        if ((st.st_mode & 0700) != 0700)
            (void)fchmod(fd, (st.st_mode & 07777) | 0700);
        remove_below(fd, st.st_dev);
    }
    if (fd >= 0)
        close(fd);
    if (!existed)
        (void)rmdir(out);
}

int cfs_cli_restore(int argc, char **argv)
{
    static const struct option opts[] = {
        {"at", required_argument, NULL, 'a'},
        {"snapshot", required_argument, NULL, 's'},
        {"owners", required_argument, NULL, 'o'},
        {"sync", no_argument, NULL, 'y'},
        {0, 0, 0, 0}};
    const char *at = NULL, *snap = NULL;
    cfs_restore_opts ro = {0};
    int c;
    while ((c = cfs_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'a')
            at = optarg;
        else if (c == 's')
            snap = optarg;
        else if (c == 'y')
            ro.sync = 1;
        else if (!strcmp(optarg, "auto"))
            ro.owners = CFS_OWNERS_AUTO;
        else if (!strcmp(optarg, "keep"))
            ro.owners = CFS_OWNERS_KEEP;
        else if (!strcmp(optarg, "none"))
            ro.owners = CFS_OWNERS_NONE;
        else
            cfs_cli_die_usage("--owners: '%s' is not auto, keep or none", optarg);
    }
    cfs_cli_check_at(at, snap);
    cfs_cli_operands(argc, argv, 2, 2, "J OUTDIR");
    const char *dir = argv[optind], *out = argv[optind + 1];
    cfs_journal *j = cfs_cli_open_journal(dir, NULL);
    uint64_t seq = cfs_cli_resolve_seq(j, dir, at, snap);
    char err[1024] = "";
    cfs_fs *fs = NULL;
    int rc = cfs_replay_state_at(j, seq, NULL, &fs, err, sizeof(err));
    if (rc)
        cfs_cli_die_at(dir, seq, rc, err);
    cfs_statfs sf;
    cfs_cli_progress p;
    cfs_cli_progress_start(&p, "restore", "B", cfs_fs_statfs(fs, &sf) ? 0 : sf.bytes_used);
    ro.progress = hostdir_progress;
    ro.progress_ctx = &p;
    cfs_restore_report r;
    int existed;
    bool ours = cfs_cli_fresh_dir(out, &existed);
    rc = cfs_restore_dir(fs, "/", out, &ro, &r, err, sizeof(err));
    cfs_cli_progress_end(&p);
    cfs_fs_free(fs);
    cfs_journal_close(j);
    /* the library says "restore: ..."; so does the command's own prefix */
    const char *msg = strncmp(err, "restore: ", 9) ? err : err + 9;
    if (rc && ours) {
        undo_restore(out, existed);
        if (msg[0] && strstr(msg, out))
            cfs_cli_die_user("%s (nothing restored)", msg);
        cfs_cli_die_user("%s: %s (nothing restored)", out, msg[0] ? msg : cfs_strerror(rc));
    }
    if (rc && msg[0] && strstr(msg, out))
        cfs_cli_die_user("%s", msg);
    if (rc)
        cfs_cli_die_user("%s: %s", out, msg[0] ? msg : cfs_strerror(rc));
    cfs_cli_note("restored seq %" PRIu64 ": %" PRIu64 " files (%" PRIu64 " B), %" PRIu64
            " directories, %" PRIu64 " symlinks, %" PRIu64 " hard links\n",
            seq, r.files, r.bytes, r.dirs, r.symlinks, r.links);
    return 0;
}
