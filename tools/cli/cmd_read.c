/*
 * cmd_read.c — commands that look inside a journal's history without
 * changing it: ls, cat (any past state), log, replay (the events).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfs_replay.h"
#include "cli.h"

/* The state of `dir` at --at/--snapshot (default the head), or die. */
static cfs_fs *state_at(cfs_journal *j, const char *dir, uint64_t seq)
{
    cfs_fs *fs = NULL;
    char err[1024] = "";
    int rc = cfs_replay_state_at(j, seq, NULL, &fs, err, sizeof(err));
    if (rc)
        cfs_cli_die_at(dir, seq, rc, err);
    return fs;
}

static void die_path(const char *dir, uint64_t seq, const char *path, cfs_errno e)
{
    int pe = cfs_errno_to_posix(e);
    cfs_cli_die_user("%s: seq %" PRIu64 ": %s: %s", dir, seq, path,
                     pe ? strerror(pe) : cfs_errno_name(e));
}

/* ---- ls ------------------------------------------------------------------ */

const char cfs_cli_ls_help[] =
    "usage: chronofs ls J [PATH] [--at SEQ | --snapshot L] [--json]\n\n"
    "List guest directory PATH (default /) as it was after event SEQ (default:\n"
    "the head) or at snapshot L: type and permissions, links, owner, size,\n"
    "mtime (UTC), name and symlink target. A PATH naming a file lists it alone.\n"
    "--json: one object per entry with the keys name, path, ino, type, mode,\n"
    "nlink, uid, gid, size, mtime_ns, atime_ns, ctime_ns and target (symlinks).\n\n"
    "example:\n"
    "  chronofs ls ~/fs.cfs /etc --at 1200\n";

static void mode_string(char *out, uint8_t type, uint32_t mode)
{
    static const char t[] = "?bcd-sslp"; /* by CFS_FILETYPE_*, FIFO last */
    out[0] = type < sizeof(t) - 1 ? t[type] : '?';
    const char *rwx = "rwxrwxrwx";
    for (int i = 0; i < 9; i++)
        out[1 + i] = (mode & (0400u >> i)) ? rwx[i] : '-';
    if (mode & 04000)
        out[3] = (mode & 0100) ? 's' : 'S';
    if (mode & 02000)
        out[6] = (mode & 0010) ? 's' : 'S';
    if (mode & 01000)
        out[9] = (mode & 0001) ? 't' : 'T';
    out[10] = 0;
}

/* Write name[0..len) for people: control characters and backslashes
 * escaped, so one entry is one line. */
static void print_name(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\')
            fputs("\\\\", stdout);
        else if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

static void ls_entry(cfs_fs *fs, const char *parent, const char *name, size_t len,
                     const cfs_filestat *st, int json)
{
    char target[CFS_PATH_MAX];
    size_t tlen = 0;
    int is_link = st->filetype == CFS_FILETYPE_SYMBOLIC_LINK;
    if (is_link && cfs_readlink_ino(fs, st->ino, target, sizeof(target), &tlen))
        tlen = 0;
    if (tlen > sizeof(target))
        tlen = sizeof(target);
    if (json) {
        /* the entry's path: parent + "/" + name, as bytes */
        size_t plen = strlen(parent);
        int slash = plen && parent[plen - 1] != '/';
        char *path = malloc(plen + (size_t)slash + len + 1);
        if (!path)
            cfs_cli_die_user("out of memory");
        memcpy(path, parent, plen);
        if (slash)
            path[plen] = '/';
        memcpy(path + plen + slash, name, len);
        fputs("{\"name\":", stdout);
        cfs_cli_json_str(stdout, name, len);
        fputs(",\"path\":", stdout);
        cfs_cli_json_str(stdout, path, plen + (size_t)slash + len);
        free(path);
        printf(",\"ino\":%" PRIu64 ",\"type\":\"%s\",\"mode\":%u,\"nlink\":%" PRIu64
               ",\"uid\":%u,\"gid\":%u,\"size\":%" PRIu64 ",\"mtime_ns\":%" PRIu64
               ",\"atime_ns\":%" PRIu64 ",\"ctime_ns\":%" PRIu64,
               st->ino, cfs_cli_type_name(st->filetype), st->mode & 07777, st->nlink, st->uid,
               st->gid, st->size, st->mtim, st->atim, st->ctim);
        if (is_link) {
            fputs(",\"target\":", stdout);
            cfs_cli_json_str(stdout, target, tlen);
        }
        fputs("}\n", stdout);
        return;
    }
    char mode[11], when[32];
    mode_string(mode, st->filetype, st->mode);
    time_t t = (time_t)(st->mtim / 1000000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
    printf("%s %3" PRIu64 " %5u %5u %10" PRIu64 " %s ", mode, st->nlink, st->uid, st->gid,
           st->size, when);
    print_name(name, len);
    if (is_link) {
        fputs(" -> ", stdout);
        print_name(target, tlen);
    }
    putchar('\n');
}

/* Parse the options every "look at a past state" command shares. */
struct at_opts {
    const char *at, *snapshot;
    int json;
};

int cfs_cli_ls(int argc, char **argv)
{
    static const struct option opts[] = {
        {"at", required_argument, NULL, 'a'},
        {"snapshot", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {0, 0, 0, 0}};
    struct at_opts a = {0};
    int c;
    while ((c = cfs_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'a')
            a.at = optarg;
        else if (c == 's')
            a.snapshot = optarg;
        else
            a.json = 1;
    }
    cfs_cli_check_at(a.at, a.snapshot);
    cfs_cli_operands(argc, argv, 1, 2, "J [PATH]");
    const char *dir = argv[optind];
    const char *path = argc - optind > 1 ? argv[optind + 1] : "/";
    if (path[0] != '/')
        cfs_cli_die_usage("PATH '%s' is not absolute (guest paths start with /)", path);
    cfs_journal *j = cfs_cli_open_journal(dir, NULL);
    uint64_t seq = cfs_cli_resolve_seq(j, dir, a.at, a.snapshot);
    cfs_fs *fs = state_at(j, dir, seq);
    cfs_filestat st;
    cfs_errno e = cfs_lookup_path(fs, CFS_INO_ROOT, path, 0, &st);
    if (!e && st.filetype == CFS_FILETYPE_SYMBOLIC_LINK) {
        /* like ls: a symlink to a directory lists the directory */
        cfs_filestat t;
        if (!cfs_lookup_path(fs, CFS_INO_ROOT, path, CFS_LOOKUP_SYMLINK_FOLLOW, &t) &&
            t.filetype == CFS_FILETYPE_DIRECTORY)
            st = t;
    }
    if (e)
        die_path(dir, seq, path, e);
    if (st.filetype != CFS_FILETYPE_DIRECTORY) {
        const char *base = strrchr(path, '/') + 1;
        size_t plen = (size_t)(base - path);
        char *parent = strndup(path, plen > 1 ? plen - 1 : 1);
        ls_entry(fs, parent, base, strlen(base), &st, a.json);
        free(parent);
    } else {
        cfs_dirent d;
        uint64_t cookie = CFS_DIRCOOKIE_START;
        while (!(e = cfs_dir_next(fs, st.ino, cookie, &d))) {
            cookie = d.next;
            if ((d.name_len == 1 && d.name[0] == '.') ||
                (d.name_len == 2 && d.name[0] == '.' && d.name[1] == '.'))
                continue;
            cfs_filestat est;
            if (cfs_getattr(fs, d.ino, &est))
                continue;
            ls_entry(fs, path, d.name, d.name_len, &est, a.json);
        }
        if (e != 0 && cfs_errno_to_posix(e) != ENOENT)
            die_path(dir, seq, path, e);
    }
    cfs_fs_free(fs);
    cfs_journal_close(j);
    if (fflush(stdout) == EOF)
        cfs_cli_die_user("writing the listing: %s", strerror(errno));
    return 0;
}

/* ---- cat ----------------------------------------------------------------- */

const char cfs_cli_cat_help[] =
    "usage: chronofs cat J PATH [--at SEQ | --snapshot L]\n\n"
    "Write the bytes of guest file PATH as it was after event SEQ (default:\n"
    "the head) or at snapshot L to standard output. Symlinks are followed.\n\n"
    "example:\n"
    "  chronofs cat ~/fs.cfs /etc/hosts --snapshot before-upgrade\n";

int cfs_cli_cat(int argc, char **argv)
{
    static const struct option opts[] = {
        {"at", required_argument, NULL, 'a'},
        {"snapshot", required_argument, NULL, 's'},
        {0, 0, 0, 0}};
    struct at_opts a = {0};
    int c;
    while ((c = cfs_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'a')
            a.at = optarg;
        else
            a.snapshot = optarg;
    }
    cfs_cli_check_at(a.at, a.snapshot);
    cfs_cli_operands(argc, argv, 2, 2, "J PATH");
    const char *dir = argv[optind], *path = argv[optind + 1];
    if (path[0] != '/')
        cfs_cli_die_usage("PATH '%s' is not absolute (guest paths start with /)", path);
    cfs_journal *j = cfs_cli_open_journal(dir, NULL);
    uint64_t seq = cfs_cli_resolve_seq(j, dir, a.at, a.snapshot);
    cfs_fs *fs = state_at(j, dir, seq);
    cfs_filestat st;
    cfs_errno e = cfs_lookup_path(fs, CFS_INO_ROOT, path, CFS_LOOKUP_SYMLINK_FOLLOW, &st);
    if (e)
        die_path(dir, seq, path, e);
    if (st.filetype != CFS_FILETYPE_REGULAR_FILE)
        cfs_cli_die_user("%s: seq %" PRIu64 ": %s: not a regular file (%s)", dir, seq, path,
                         cfs_cli_type_name(st.filetype));
    size_t cap = (size_t)1 << 20;
    char *buf = malloc(cap);
    if (!buf)
        cfs_cli_die_user("out of memory");
    for (uint64_t off = 0; off < st.size;) {
        size_t got = 0;
        e = cfs_file_pread_ino(fs, st.ino, buf, cap, off, &got);
        if (e)
            die_path(dir, seq, path, e);
        if (!got)
            break;
        if (fwrite(buf, 1, got, stdout) != got)
            cfs_cli_die_user("writing %s: %s", path, strerror(errno));
        off += got;
    }
    free(buf);
    cfs_fs_free(fs);
    cfs_journal_close(j);
    if (fflush(stdout) == EOF)
        cfs_cli_die_user("writing %s: %s", path, strerror(errno));
    return 0;
}

/* ---- log ----------------------------------------------------------------- */

const char cfs_cli_log_help[] =
    "usage: chronofs log J [--from A] [--to B] [--path P] [--op OPS] [--fd N]\n"
    "                  [--ino N] [--pid N] [--json]\n\n"
    "Print the events of journal J, one line each (or one JSON object per line\n"
    "with --json; paths as bytes: \\u00XX for those that are not UTF-8), with\n"
    "the paths they touched resolved. Filters combine (AND):\n"
    "  --from A, --to B   seq range (default: all)\n"
    "  --path P           the file P names, followed across renames and links\n"
    "  --op OPS           op names, comma-separated (open,write,rename,...)\n"
    "  --fd N, --ino N    events using fd N, touching inode N\n"
    "  --pid N            events of guest process N\n\n"
    "examples:\n"
    "  chronofs log ~/fs.cfs --path /data/db.sqlite --op write,set_size\n"
    "  chronofs log ~/fs.cfs --from 1000 --to 1100 --json\n";

/* --from/--to: a seq whose event the journal holds, first..head (0 is
 * taken as the first for --from, the head for --to). */
static uint64_t range_seq(cfs_journal *j, const char *dir, const char *opt, const char *v,
                          uint64_t first)
{
    uint64_t s = cfs_cli_opt_u64(opt, v), head = cfs_journal_committed(j);
    if (s > head)
        cfs_cli_die_user("%s: %s %" PRIu64 " is past the head (%" PRIu64 ")", dir, opt, s,
                         head);
    if (s && s < first)
        cfs_cli_die_user("%s: %s %" PRIu64 ": the journal's events start at seq %" PRIu64
                         " (the history before was compacted, or not received)",
                         dir, opt, s, first);
    return s;
}

/*
 * One JSON line for a step: cfs_format_json's, except that a path or name
 * holding bytes that are not UTF-8 (which the replay printer turns into
 * U+FFFD) is written with those bytes as \u00XX, so a path can be told
 * from another and recovered. Such strings are rare: the line is rewritten
 * only when one is there.
 */
static void log_json_line(const cfs_step *st, char **line, size_t *cap)
{
    size_t n = cfs_format_json(st, *line, *cap);
    if (n >= *cap) {
        free(*line);
        *cap = n + 1;
        if (!(*line = malloc(*cap)))
            cfs_cli_die_user("out of memory");
        cfs_format_json(st, *line, *cap);
    }
    const struct {
        const char *key; /* with its quotes, colon and the value's quote */
        const char *raw;
    } fields[] = {{"\"path\":\"", st->ev->path},          {"\"path2\":\"", st->ev->path2},
                  {"\"name\":\"", st->ev->name},          {"\"name2\":\"", st->ev->name2},
                  {"\"resolved_path\":\"", st->path}, {"\"resolved_path2\":\"", st->path2}};
    const size_t nf = sizeof(fields) / sizeof(fields[0]);
    size_t i;
    for (i = 0; i < nf; i++)
        if (!cfs_cli_json_plain(fields[i].raw))
            break;
    if (i == nf) {
        fputs(*line, stdout);
        putchar('\n');
        return;
    }
    /* Copy the line, swapping each such value for the exact one. Keys are
     * found with their opening quote, which an escaped quote inside a
     * value cannot supply (it is preceded by a backslash). */
    const char *p = *line;
    for (;;) {
        const char *best = NULL;
        size_t bf = 0;
        for (size_t k = 0; k < nf; k++) {
            if (cfs_cli_json_plain(fields[k].raw))
                continue;
            const char *at = strstr(p, fields[k].key);
            if (at && (!best || at < best)) {
                best = at;
                bf = k;
            }
        }
        if (!best)
            break;
        size_t klen = strlen(fields[bf].key);
        fwrite(p, 1, (size_t)(best - p) + klen - 1, stdout); /* up to the colon */
        const char *v = best + klen; /* after the value's opening quote */
        while (*v && *v != '"')
            v += (*v == '\\' && v[1]) ? 2 : 1;
        cfs_cli_json_cstr(stdout, fields[bf].raw);
        p = *v ? v + 1 : v;
    }
    fputs(p, stdout);
    putchar('\n');
}

/* log --json: the stepper, one line per kept event. */
static int log_json(cfs_journal *j, const char *dir, const cfs_log_opts *lo)
{
    char err[1024] = "";
    cfs_stepper *s = NULL;
    int rc = cfs_stepper_open(j, lo->from, lo->to, lo->filter, &s, err, sizeof(err));
    if (rc)
        cfs_cli_die_lib(dir, rc, err);
    size_t cap = 4096;
    char *line = malloc(cap);
    if (!line)
        cfs_cli_die_user("out of memory");
    cfs_step st;
    while ((rc = cfs_stepper_next(s, &st)) == 1) {
        log_json_line(&st, &line, &cap);
        if (ferror(stdout))
            cfs_cli_die_user("writing the log: %s", strerror(errno));
    }
    if (rc < 0) {
        fflush(stdout);
        cfs_cli_die_lib(dir, rc, cfs_stepper_errmsg(s));
    }
    free(line);
    cfs_stepper_close(s);
    return 0;
}

int cfs_cli_log(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"path", required_argument, NULL, 'p'},
        {"op", required_argument, NULL, 'o'},
        {"fd", required_argument, NULL, 'd'},
        {"ino", required_argument, NULL, 'i'},
        {"pid", required_argument, NULL, 'P'},
        {"json", no_argument, NULL, 'j'},
        {0, 0, 0, 0}};
    const char *from = NULL, *to = NULL, *ops = NULL;
    cfs_filter f = {0};
    int json = 0, c;
    uint64_t v;
    while ((c = cfs_cli_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case 'p': f.path = optarg; break;
        case 'o': ops = optarg; break;
        case 'd':
            v = cfs_cli_opt_u64("--fd", optarg);
            if (v > CFS_MAX_FD)
                cfs_cli_die_usage("--fd: %" PRIu64 " is past the largest fd (%u)", v,
                                  (unsigned)CFS_MAX_FD);
            f.has_fd = 1;
            f.fd = (cfs_fd)v;
            break;
        case 'i': f.ino = cfs_cli_opt_u64("--ino", optarg); break;
        case 'P':
            v = cfs_cli_opt_u64("--pid", optarg);
            if (!v || v > UINT32_MAX)
                cfs_cli_die_usage("--pid: '%s' is not a process number", optarg);
            f.pid = (uint32_t)v;
            break;
        default: json = 1; break;
        }
    }
    if (from)
        cfs_cli_opt_u64("--from", from);
    if (to)
        cfs_cli_opt_u64("--to", to);
    cfs_cli_operands(argc, argv, 1, 1, "J");
    char err[1024] = "";
    if (ops && cfs_filter_parse_ops(ops, &f.ops, err, sizeof(err)))
        cfs_cli_die_usage("--op: %s", err);
    if (f.path && f.path[0] != '/')
        cfs_cli_die_usage("--path: '%s' is not absolute (guest paths start with /)", f.path);
    const char *dir = argv[optind];
    cfs_journal *j = cfs_cli_open_journal(dir, NULL);
    cfs_log_opts lo = {.filter = &f, .json = json};
    uint64_t first = cfs_cli_first_seq(j, dir), head = cfs_journal_committed(j);
    lo.from = from ? range_seq(j, dir, "--from", from, first) : 0;
    if (!lo.from)
        lo.from = first;
    lo.to = to ? range_seq(j, dir, "--to", to, first) : 0;
    if (to && lo.to == 0) {
        cfs_journal_close(j); /* --to 0: the initial state has no events */
        return 0;
    }
    if (lo.to && lo.from > lo.to)
        cfs_cli_die_usage("--from %" PRIu64 " is after --to %" PRIu64, lo.from, lo.to);
    if (lo.from > head) { /* no events (or none after the base snapshot) */
        cfs_journal_close(j);
        return 0;
    }
    if (json) {
        log_json(j, dir, &lo);
    } else {
        int rc = cfs_replay_log(j, &lo, stdout, NULL, err, sizeof(err));
        if (rc)
            cfs_cli_die_lib(dir, rc, err);
    }
    cfs_journal_close(j);
    if (fflush(stdout) == EOF)
        cfs_cli_die_user("writing the log: %s", strerror(errno));
    return 0;
}

/* ---- replay -------------------------------------------------------------- */

const char cfs_cli_replay_help[] =
    "usage: chronofs replay J [--from A] [--to SEQ] [--verify] [--quiet]\n\n"
    "Step through the events of journal J from A (default 1) to SEQ (default:\n"
    "the head), applying each to a rebuilt state and printing it. Every event\n"
    "must reproduce its recorded outcome (fd, inode, entries), or the replay\n"
    "stops naming the seq. --verify also compares the state hash at every\n"
    "snapshot on the way with the one it recorded.\n"
    "--quiet prints only the summary.\n\n"
    "example:\n"
    "  chronofs replay ~/fs.cfs --to 5000 --verify --quiet\n";

struct snaplist {
    cfs_snapshot_info *v;
    size_t n, cap;
};

static int collect_snapshot(void *ctx, const cfs_snapshot_info *s)
{
    struct snaplist *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        cfs_snapshot_info *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return CFS_JE_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *s;
    return 0;
}

static int hash_eq(cfs_hash128 a, cfs_hash128 b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

int cfs_cli_replay(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"verify", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {0, 0, 0, 0}};
    const char *from_s = NULL, *to_s = NULL;
    int verify = 0, quiet = 0, c;
    while ((c = cfs_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'f')
            from_s = optarg;
        else if (c == 't')
            to_s = optarg;
        else if (c == 'v')
            verify = 1;
        else
            quiet = 1;
    }
    if (from_s)
        cfs_cli_opt_u64("--from", from_s);
    if (to_s)
        cfs_cli_opt_u64("--to", to_s);
    cfs_cli_operands(argc, argv, 1, 1, "J");
    const char *dir = argv[optind];
    cfs_journal *j = cfs_cli_open_journal(dir, NULL);
    uint64_t head = cfs_journal_committed(j), first = cfs_cli_first_seq(j, dir);
    uint64_t from = from_s ? range_seq(j, dir, "--from", from_s, first) : first;
    uint64_t to = to_s ? range_seq(j, dir, "--to", to_s, first) : head;
    if (!from)
        from = first;
    if (to < from) {
        if (to_s && from_s)
            cfs_cli_die_usage("--from %" PRIu64 " is after --to %" PRIu64, from, to);
        printf("replayed 0 events\n");
        cfs_journal_close(j);
        return 0;
    }
    struct snaplist snaps = {0};
    int rc;
    if (verify && (rc = cfs_journal_snapshots(j, collect_snapshot, &snaps)))
        cfs_cli_die_journal(dir, j, rc, "listing snapshots");
    char err[1024] = "";
    cfs_stepper *s = NULL;
    if ((rc = cfs_stepper_open(j, from, to, NULL, &s, err, sizeof(err))))
        cfs_cli_die_lib(dir, rc, err);
    cfs_cli_progress p;
    cfs_cli_progress_start(&p, "replay", "events", to - from + 1);
    if (!quiet && isatty(STDOUT_FILENO))
        p.active = 0; /* the events themselves show the progress */
    size_t si = 0, lcap = 4096;
    char *line = malloc(lcap);
    if (!line)
        cfs_cli_die_user("out of memory");
    uint64_t events = 0, hashes = 0;
    cfs_step st;
    while ((rc = cfs_stepper_next(s, &st)) == 1) {
        events++;
        if (!quiet) {
            size_t n = cfs_format_text(&st, line, lcap);
            if (n >= lcap) {
                free(line);
                lcap = n + 1;
                if (!(line = malloc(lcap)))
                    cfs_cli_die_user("out of memory");
                cfs_format_text(&st, line, lcap);
            }
            cfs_cli_progress_end(&p);
            puts(line);
        }
        uint64_t seq = cfs_stepper_seq(s);
        while (verify && si < snaps.n && snaps.v[si].seq < seq)
            si++;
        if (verify && si < snaps.n && snaps.v[si].seq == seq) {
            hashes++;
            if (!hash_eq(cfs_fs_hash(cfs_stepper_fs(s)), snaps.v[si].state_hash))
                cfs_cli_die_user("%s: seq %" PRIu64 ": state hash differs from snapshot's "
                                 "(replay diverged)", dir, seq);
        }
        cfs_cli_progress_update(&p, events);
    }
    cfs_cli_progress_end(&p);
    if (rc < 0) {
        fflush(stdout);
        cfs_cli_die_lib(dir, rc, cfs_stepper_errmsg(s));
    }
    printf("replayed %" PRIu64 " events (seq %" PRIu64 "..%" PRIu64 ")", events, from,
           cfs_stepper_seq(s));
    if (verify)
        printf(", %" PRIu64 " snapshot hashes match", hashes);
    printf("\n");
    free(line);
    free(snaps.v);
    cfs_stepper_close(s);
    cfs_journal_close(j);
    if (fflush(stdout) == EOF)
        cfs_cli_die_user("writing the events: %s", strerror(errno));
    return 0;
}
