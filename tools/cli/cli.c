/*
 * cli.c — helpers shared by the chronofs subcommands (cli.h): errors and
 * exit codes, argument parsing, opening journals and resolving seqs,
 * the terminal progress bar, JSON string output.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char *cur_cmd = NULL;

void cfs_cli_set_cmd(const char *name)
{
    cur_cmd = name;
}

const char *cfs_cli_cmd(void)
{
    return cur_cmd;
}

static atomic_bool stamped; /* a log file: each line says when and who */

void cfs_cli_stamp_messages(bool on)
{
    atomic_store(&stamped, on);
}

static void vmsg(const char *fmt, va_list ap)
{
    /* One line: a message carrying a newline (a path with one) would
     * break "one line per error" for scripts, so newlines become "\n".
     * Built whole and written at once, so lines from several threads
     * (a mount's) never mix. */
    char buf[4096], line[2 * sizeof(buf) + 128];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = 0;
    if (atomic_load(&stamped)) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        n += strftime(line, 32, "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, 24, ".%03ld", ts.tv_nsec / 1000000);
        n += strftime(line + n, 16, "%z", &tm);
        n += (size_t)snprintf(line + n, 24, " [%ld] ", (long)getpid());
    }
    if (cur_cmd)
        n += (size_t)snprintf(line + n, 64, "chronofs %.40s: ", cur_cmd);
    else
        n += (size_t)snprintf(line + n, 64, "chronofs: ");
    for (const char *p = buf; *p; p++) {
        if (*p == '\n') {
            line[n++] = '\\';
            line[n++] = 'n';
        } else {
            line[n++] = *p;
        }
    }
    line[n++] = '\n';
    fflush(stdout);
    fwrite(line, 1, n, stderr);
}

void cfs_cli_die_user(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
    exit(CFS_CLI_EXIT_USER);
}

void cfs_cli_die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
    fprintf(stderr, "try 'chronofs %s --help'\n", cur_cmd ? cur_cmd : "");
    exit(CFS_CLI_EXIT_USAGE);
}

void cfs_cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
}

void cfs_cli_note(const char *fmt, ...)
{
    if (!isatty(STDERR_FILENO))
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

int cfs_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    }
    return 0;
}

int cfs_cli_getopt(int argc, char **argv, const struct option *longopts)
{
    opterr = 0;
    int c = getopt_long(argc, argv, ":", longopts, NULL);
    if (c == '?') /* unknown, or a value given to an option that takes none */
        cfs_cli_die_usage("unknown option or bad use of '%s'", argv[optind - 1]);
    if (c == ':')
        cfs_cli_die_usage("option '%s' needs a value", argv[optind - 1]);
    return c;
}

uint64_t cfs_cli_opt_u64(const char *opt, const char *val)
{
    uint64_t v;
    if (cfs_cli_parse_u64(val, &v))
        cfs_cli_die_usage("%s: '%s' is not a non-negative decimal number", opt, val);
    return v;
}

void cfs_cli_operands(int argc, char **argv, int min, int max, const char *names)
{
    int n = argc - optind;
    if (n < min)
        cfs_cli_die_usage("missing operand: expected %s", names);
    if (n > max)
        cfs_cli_die_usage("unexpected argument '%s' (expected %s)", argv[optind + max],
                          names);
}

uint64_t cfs_cli_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int cfs_cli_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* ---- journals ------------------------------------------------------------ */

_Noreturn static void die_open(const char *dir, int rc, const char *msg)
{
    /* The journal's messages already name the directory; add it when a
     * bare code is all there is. */
    if (msg && *msg && strstr(msg, dir))
        cfs_cli_die_user("%s", msg);
    switch (rc) {
    case CFS_JE_NOTJOURNAL:
        cfs_cli_die_user("%s: not a chronofs journal", dir);
    case CFS_JE_NOTFOUND:
        cfs_cli_die_user("%s: no such journal", dir);
    default:
        cfs_cli_die_user("%s: %s", dir, msg && *msg ? msg : cfs_strerror(rc));
    }
}

/* Does process pid (as this namespace numbers it) hold journal dir's
 * writer lock file open? A pid from another pid namespace names some
 * other process here, whose mounts say nothing. */
bool cfs_cli_holds_lock_file(long pid, const char *dir)
{
    char path[4200];
    struct stat want, st;
    snprintf(path, sizeof path, "%s/writer.lock", dir);
    if (stat(path, &want) != 0)
        return false;
    snprintf(path, sizeof path, "/proc/%ld/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        snprintf(path, sizeof path, "/proc/%ld/fd/%s", pid, e->d_name);
        found = stat(path, &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino;
    }
    closedir(d);
    return found;
}

/* Is the mount the note names ("MAJ:MIN SOURCE") in process pid's mount
 * namespace? Both must match: the kernel gives a freed device number to
 * the next mount of anything. (true when it cannot tell: nothing waits) */
static bool mounted_for(long pid, unsigned maj, unsigned min, const char *source)
{
    char path[64], want_dev[32], want_src[3 * PATH_MAX + 32];
    snprintf(path, sizeof path, "/proc/%ld/mountinfo", pid);
    snprintf(want_dev, sizeof want_dev, " %u:%u ", maj, min);
    /* as mountinfo writes the source: space, tab, newline, backslash octal */
    size_t w = (size_t)snprintf(want_src, sizeof want_src, " - fuse.chronofs ");
    for (const char *c = source; *c && w + 5 < sizeof want_src; c++) {
        if (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\\')
            w += (size_t)snprintf(want_src + w, 5, "\\%03o", (unsigned char)*c);
        else
            want_src[w++] = *c;
    }
    want_src[w++] = ' ';
    want_src[w] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    char *line = NULL;
    size_t cap = 0;
    bool found = false;
    while (!found && getline(&line, &cap, f) > 0) {
        /* ID PARENT MAJ:MIN ...: the third field; the source after " - " */
        char *sp = strchr(line, ' ');
        sp = sp ? strchr(sp + 1, ' ') : NULL;
        found = sp && !strncmp(sp, want_dev, strlen(want_dev)) && strstr(line, want_src);
    }
    free(line);
    fclose(f);
    return found;
}

void cfs_cli_settle(const char *dir)
{
    /* `fusermount3 -u` returns once the kernel has let go, before the
     * mount process has committed its last changes and closed the
     * journal (25 ms or so later). A command run right after, reading
     * the committed state, would see the state from before them. The
     * mount leaves its device and source beside its pid in the writer
     * lock: while that mount is gone from the mount process's own
     * mounts, wait for it to let go of the journal (60 s at most). */
    char note[PATH_MAX + 64], source[PATH_MAX + 1];
    unsigned maj, min;
    long pid = cfs_journal_writer(dir, note, sizeof note);
    if (pid <= 0 || pid == (long)getpid() ||
        sscanf(note, "mount %u:%u %4096[^\n]", &maj, &min, source) != 3 ||
        !cfs_cli_holds_lock_file(pid, dir))
        return;
    for (int i = 0; i < 6000 && !mounted_for(pid, maj, min, source); i++) {
        if (cfs_journal_writer_pid(dir) != pid)
            return;
        if (i == 50)
            cfs_cli_note("%s: waiting for the unmounted mount (pid %ld) to finish "
                         "committing\n", dir, pid);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

cfs_journal *cfs_cli_open_journal(const char *dir, const cfs_journal_opts *opts)
{
    cfs_cli_settle(dir);
    cfs_journal_opts ro;
    if (!opts) {
        cfs_journal_opts_default(&ro);
        ro.read_only = 1;
        opts = &ro;
    }
    cfs_journal *j = NULL;
    char err[1024] = "";
    int rc = cfs_journal_open(dir, opts, &j, err, sizeof(err));
    if (rc) {
        if (rc == CFS_JE_LOCKED)
            cfs_cli_die_user("%s (a running 'chronofs mount'? unmount it first)", err);
        die_open(dir, rc, err);
    }
    return j;
}

void cfs_cli_die_journal(const char *dir, cfs_journal *j, int rc, const char *what)
{
    const char *msg = j ? cfs_journal_errmsg(j) : NULL;
    if (!msg || !*msg)
        msg = cfs_strerror(rc);
    size_t wl = strlen(what);
    if (!strncmp(msg, what, wl) && msg[wl] == ':')
        what = ""; /* the message says it already ("send: ...") */
    if (strstr(msg, dir))
        cfs_cli_die_user("%s%s%s", what, *what ? ": " : "", msg);
    cfs_cli_die_user("%s: %s%s%s", dir, what, *what ? ": " : "", msg);
}

void cfs_cli_die_lib(const char *dir, int rc, const char *err)
{
    const char *m = err && *err ? err : cfs_strerror(rc);
    if (strstr(m, dir))
        cfs_cli_die_user("%s", m);
    cfs_cli_die_user("%s: %s", dir, m);
}

void cfs_cli_die_at(const char *dir, uint64_t seq, int rc, const char *err)
{
    const char *m = err && *err ? err : cfs_strerror(rc);
    if (strstr(m, "seq "))
        cfs_cli_die_lib(dir, rc, m);
    if (strstr(m, dir))
        cfs_cli_die_user("seq %llu: %s", (unsigned long long)seq, m);
    cfs_cli_die_user("%s: seq %llu: %s", dir, (unsigned long long)seq, m);
}

static int oldest_snapshot(void *ctx, const cfs_snapshot_info *s)
{
    *(uint64_t *)ctx = s->seq;
    return 1;
}

static int seen_event(void *ctx, const cfs_event *ev)
{
    (void)ev;
    *(int *)ctx = 1;
    return 1;
}

uint64_t cfs_cli_first_seq(cfs_journal *j, const char *dir)
{
    /* one frame at most: is event 1 there? */
    int seen = 0;
    int rc = cfs_journal_foreach(j, 1, 1, seen_event, &seen);
    if (seen || cfs_journal_committed(j) == 0)
        return 1;
    if (rc < 0 && rc != CFS_JE_NOTFOUND)
        return 1; /* damage: the command's own walk reports it, in context */
    uint64_t base = 0;
    rc = cfs_journal_snapshots(j, oldest_snapshot, &base);
    if (rc < 0)
        cfs_cli_die_journal(dir, j, rc, "listing snapshots");
    return base + 1;
}

uint64_t cfs_cli_resolve_seq(cfs_journal *j, const char *dir, const char *at,
                             const char *snapshot)
{
    uint64_t head = cfs_journal_committed(j);
    if (at && snapshot)
        cfs_cli_die_usage("--at and --snapshot exclude each other");
    if (snapshot) {
        cfs_snapshot_info si;
        int rc = cfs_journal_find_snapshot(j, snapshot, &si);
        if (rc == CFS_JE_NOTFOUND)
            cfs_cli_die_user("%s: no snapshot labelled '%s'", dir, snapshot);
        if (rc)
            cfs_cli_die_journal(dir, j, rc, "finding the snapshot");
        return si.seq;
    }
    if (at) {
        uint64_t seq;
        if (cfs_cli_parse_u64(at, &seq))
            cfs_cli_die_usage("--at: '%s' is not a seq (a decimal number)", at);
        if (seq > head)
            cfs_cli_die_user("%s: seq %llu is past the head (%llu)", dir,
                             (unsigned long long)seq, (unsigned long long)head);
        uint64_t first = cfs_cli_first_seq(j, dir);
        if (seq + 1 < first)
            cfs_cli_die_user("%s: seq %llu is before the journal's history, which starts "
                             "at the snapshot at seq %llu (earlier events were compacted "
                             "away, or not received)", dir, (unsigned long long)seq,
                             (unsigned long long)(first - 1));
        return seq;
    }
    return head;
}

void cfs_cli_check_at(const char *at, const char *snapshot)
{
    if (at && snapshot)
        cfs_cli_die_usage("--at and --snapshot exclude each other");
    if (at)
        cfs_cli_opt_u64("--at", at);
}

uint64_t cfs_cli_resolve_point(cfs_journal *j, const char *dir, const char *word)
{
    uint64_t seq;
    if (!cfs_cli_parse_u64(word, &seq))
        return cfs_cli_resolve_seq(j, dir, word, NULL);
    return cfs_cli_resolve_seq(j, dir, NULL, word);
}

/* ---- progress ------------------------------------------------------------ */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cfs_cli_progress_start(cfs_cli_progress *p, const char *label,
                            const char *unit, uint64_t total)
{
    memset(p, 0, sizeof(*p));
    p->label = label;
    p->unit = unit;
    p->total = total;
    p->start_ns = now_ns();
    /* CHRONOFS_PROGRESS: "never", "always" (even when stderr is not a
     * terminal, from the first update), else a terminal decides */
    const char *env = getenv("CHRONOFS_PROGRESS");
    if (env && !strcmp(env, "never"))
        p->active = 0;
    else if (env && !strcmp(env, "always"))
        p->active = p->always = 1;
    else
        p->active = isatty(STDERR_FILENO);
}

/* "12.3 MiB" or "1234" (+ unit) into buf. */
static void amount(char *buf, size_t cap, double v, const char *unit)
{
    if (!strcmp(unit, "B")) {
        static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        int i = 0;
        while (v >= 1024 && i < 4) {
            v /= 1024;
            i++;
        }
        snprintf(buf, cap, i ? "%.1f %s" : "%.0f %s", v, u[i]);
    } else {
        snprintf(buf, cap, "%.0f %s", v, unit);
    }
}

static void draw(cfs_cli_progress *p, uint64_t t)
{
    double secs = (double)(t - p->start_ns) / 1e9;
    if (p->ticker) {
        fprintf(stderr, "\r\033[K%s: working... %.0f s", p->label, secs);
        fflush(stderr);
        p->drawn = 1;
        p->last_draw_ns = t;
        return;
    }
    double rate = secs > 0 ? (double)p->done / secs : 0;
    char done[32], rt[40], line[200];
    amount(done, sizeof(done), (double)p->done, p->unit);
    amount(rt, sizeof(rt), rate, p->unit);
    if (p->total) {
        double frac = (double)p->done / (double)p->total;
        if (frac > 1)
            frac = 1;
        char bar[31];
        int fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        char tot[32], eta[32] = "--:--";
        amount(tot, sizeof(tot), (double)p->total, p->unit);
        if (rate > 0 && p->done <= p->total) {
            uint64_t s = (uint64_t)((double)(p->total - p->done) / rate);
            snprintf(eta, sizeof(eta), "%02llu:%02llu", (unsigned long long)(s / 60),
                     (unsigned long long)(s % 60));
        }
        snprintf(line, sizeof(line), "%s [%s] %3d%% %s / %s  %s/s  ETA %s", p->label,
                 bar, (int)(frac * 100), done, tot, rt, eta);
    } else {
        snprintf(line, sizeof(line), "%s %s  %s/s", p->label, done, rt);
    }
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    p->drawn = 1;
    p->last_draw_ns = t;
}

void cfs_cli_progress_update(cfs_cli_progress *p, uint64_t done)
{
    p->done = done;
    if (!p->active)
        return;
    uint64_t t = now_ns();
    if (p->drawn && t - p->last_draw_ns < 100000000u)
        return;
    /* nothing for the first quarter second: quick work stays quiet */
    if (!p->drawn && !p->always && t - p->start_ns < 250000000u)
        return;
    draw(p, t);
}

struct ticker {
    pthread_t thread;
    atomic_int stop;
    cfs_cli_progress *p;
};

static void *tick_main(void *arg)
{
    struct ticker *tk = arg;
    struct timespec pause = {0, 100000000};
    while (!atomic_load(&tk->stop)) {
        nanosleep(&pause, NULL);
        uint64_t t = now_ns();
        if (!atomic_load(&tk->stop) && (tk->p->always || t - tk->p->start_ns >= 250000000u))
            draw(tk->p, t);
    }
    return NULL;
}

void cfs_cli_progress_tick(cfs_cli_progress *p)
{
    if (!p->active || p->ticker)
        return;
    struct ticker *tk = calloc(1, sizeof(*tk));
    if (!tk)
        return; /* no ticker is no loss */
    tk->p = p;
    p->ticker = tk;
    if (pthread_create(&tk->thread, NULL, tick_main, tk)) {
        p->ticker = NULL;
        free(tk);
    }
}

void cfs_cli_progress_end(cfs_cli_progress *p)
{
    if (p->ticker) {
        struct ticker *tk = p->ticker;
        atomic_store(&tk->stop, 1);
        pthread_join(tk->thread, NULL);
        free(tk);
        p->ticker = NULL;
    }
    if (p->active && p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->drawn = 0;
}

/* ---- JSON ---------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    unsigned cp = c & (0xff >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void cfs_cli_json_str(FILE *f, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    fputc('"', f);
    for (size_t i = 0; i < len;) {
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
            i++;
        } else if (c == '\n') {
            fputs("\\n", f);
            i++;
        } else if (c == '\t') {
            fputs("\\t", f);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            fputc((int)c, f);
            i++;
        } else {
            size_t n = utf8_len(u + i, len - i);
            if (!n) {
                fprintf(f, "\\u%04x", c); /* a lone byte, as in Latin-1 */
                i++;
            } else {
                fwrite(u + i, 1, n, f);
                i += n;
            }
        }
    }
    fputc('"', f);
}

void cfs_cli_json_cstr(FILE *f, const char *s)
{
    cfs_cli_json_str(f, s, strlen(s));
}

int cfs_cli_json_plain(const char *s)
{
    if (!s)
        return 1;
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        if (u[i] < 0x20 || u[i] == 0x7f)
            return 0;
        size_t n = utf8_len(u + i, len - i);
        if (!n)
            return 0;
        i += n;
    }
    return 1;
}

const char *cfs_cli_type_name(uint8_t t)
{
    switch (t) {
    case CFS_FILETYPE_DIRECTORY: return "dir";
    case CFS_FILETYPE_REGULAR_FILE: return "file";
    case CFS_FILETYPE_SYMBOLIC_LINK: return "symlink";
    case CFS_FILETYPE_CHARACTER_DEVICE: return "chardev";
    case CFS_FILETYPE_BLOCK_DEVICE: return "blockdev";
    case CFS_FILETYPE_SOCKET_DGRAM:
    case CFS_FILETYPE_SOCKET_STREAM: return "socket";
    case CFS_FILETYPE_FIFO: return "fifo";
    default: return "other";
    }
}

void cfs_cli_unmake_journal(const char *dir, int existed)
{
    static const char *const files[] = {"data.mdb", "lock.mdb", "writer.lock", "sync.log",
                                        "frames.dat"};
    char path[4096];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    if (!existed)
        rmdir(dir);
}

int cfs_cli_fresh_dir(const char *dir, int *existed)
{
    struct stat sb;
    *existed = stat(dir, &sb) == 0;
    if (!*existed)
        return 1;
    if (!S_ISDIR(sb.st_mode))
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)))
        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(d);
    return empty;
}
