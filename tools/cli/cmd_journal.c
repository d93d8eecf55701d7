/*
 * cmd_journal.c — commands on the journal as a whole: init, snapshot,
 * snapshots, stat, compact.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* ---- init ---------------------------------------------------------------- */

const char cfs_cli_init_help[] =
    "usage: chronofs init J\n\n"
    "Create an empty journal in directory J (created if missing). An existing\n"
    "journal, or a directory that is not empty, is refused.\n\n"
    "example:\n"
    "  chronofs init ~/fs.cfs\n";

/* Is `dir` missing or an empty directory? Dies on anything else. */
static void check_fresh_dir(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) < 0) {
        if (errno == ENOENT)
            return;
        cfs_cli_die_user("%s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        cfs_cli_die_user("%s: exists and is not a directory", dir);
    DIR *d = opendir(dir);
    if (!d)
        cfs_cli_die_user("%s: %s", dir, strerror(errno));
    struct dirent *e;
    int empty = 1, journal = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        empty = 0;
        if (!strcmp(e->d_name, "data.mdb"))
            journal = 1;
    }
    closedir(d);
    if (journal)
        cfs_cli_die_user("%s: a journal already exists here", dir);
    if (!empty)
        cfs_cli_die_user("%s: directory is not empty (not creating a journal in it)", dir);
}

int cfs_cli_init(int argc, char **argv)
{
    static const struct option opts[] = {{0, 0, 0, 0}};
    while (cfs_cli_getopt(argc, argv, opts) != -1)
        ;
    cfs_cli_operands(argc, argv, 1, 1, "J");
    const char *dir = argv[optind];
    check_fresh_dir(dir);
    struct stat sb;
    int existed = stat(dir, &sb) == 0;
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = 1;
    cfs_journal *j = NULL;
    char err[1024] = "";
    int rc = cfs_journal_open(dir, &o, &j, err, sizeof(err));
    if (!rc && (rc = cfs_journal_close(j)))
        snprintf(err, sizeof(err), "%s", cfs_strerror(rc));
    if (rc) {
        /* nothing half-made stays behind (a full disk); but a journal
         * another process is creating there at the same time is its own */
        if (rc != CFS_JE_LOCKED)
            cfs_cli_unmake_journal(dir, existed);
        cfs_cli_die_lib(dir, rc, err);
    }
    return 0;
}

/* ---- snapshot ------------------------------------------------------------ */

const char cfs_cli_snapshot_help[] =
    "usage: chronofs snapshot J [--label L] [--timeout SECS]\n\n"
    "Snapshot the head state of journal J. If J is mounted (a 'chronofs mount'\n"
    "holds it for writing), the mount is asked (SIGUSR1) to snapshot its live\n"
    "state and this waits until the snapshot is stored (at most --timeout\n"
    "seconds, default 10); a mount's snapshot cannot be labelled. Prints the\n"
    "snapshot's seq. A head that has a snapshot already is an error (exit 1):\n"
    "nothing changed since.\n\n"
    "example:\n"
    "  chronofs snapshot ~/fs.cfs --label before-upgrade\n";

struct newest {
    uint64_t count;
    cfs_snapshot_info last;
};

static int note_snapshot(void *ctx, const cfs_snapshot_info *s)
{
    struct newest *n = ctx;
    n->count++;
    n->last = *s;
    return 0;
}

static void print_hash(FILE *f, cfs_hash128 h)
{
    fprintf(f, "%016" PRIx64 "%016" PRIx64, h.hi, h.lo);
}

/* What a daemonized mount with pid `pid` said in J/mount.log about its
 * journal failing (it cannot take snapshots then): 1 and the message. */
static int mount_failure(const char *dir, long pid, char *msg, size_t cap)
{
    char path[4096], line[1024], tag[64];
    snprintf(path, sizeof(path), "%s/%s", dir, "mount.log");
    snprintf(tag, sizeof(tag), " [%ld] chronofs mount: ", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int found = 0;
    while (fgets(line, sizeof(line), f)) {
        char *at = strstr(line, tag);
        if (at && strstr(at, "the journal failed")) {
            at += strlen(tag);
            at[strcspn(at, "\n")] = 0;
            snprintf(msg, cap, "%s", at);
            found = 1;
        }
    }
    fclose(f);
    return found;
}

/* Ask the mount with pid `pid` for a snapshot and wait for it. */
static int snapshot_mounted(const char *dir, long pid, uint64_t timeout_s)
{
    cfs_journal *j = cfs_cli_open_journal(dir, NULL);
    struct newest before = {0};
    int rc = cfs_journal_snapshots(j, note_snapshot, &before);
    if (rc)
        cfs_cli_die_journal(dir, j, rc, "listing snapshots");
    if (kill((pid_t)pid, SIGUSR1) < 0)
        cfs_cli_die_user("%s: cannot signal the mount (pid %ld): %s", dir, pid,
                         strerror(errno));
    struct timespec pause = {0, 20000000};
    for (uint64_t waited = 0; waited < timeout_s * 50; waited++) {
        nanosleep(&pause, NULL);
        struct newest now = {0};
        if ((rc = cfs_journal_refresh(j)) ||
            (rc = cfs_journal_snapshots(j, note_snapshot, &now)))
            cfs_cli_die_journal(dir, j, rc, "listing snapshots");
        /* The mount skips a snapshot of a state that has one. After 2 s
         * (a mount commits its batch within a tick) a head that is still
         * the last snapshot's seq is that case. */
        if (waited >= 100 && now.count == before.count && now.count &&
            cfs_journal_committed(j) == now.last.seq)
            cfs_cli_die_user("%s: seq %" PRIu64 " (the mount's head) already has a "
                             "snapshot", dir, now.last.seq);
        if (now.count > before.count ||
            (now.count && (now.last.seq != before.last.seq ||
                           now.last.time_ns != before.last.time_ns))) {
            printf("%" PRIu64 "\n", now.last.seq);
            cfs_journal_close(j);
            return 0;
        }
        if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
            cfs_cli_die_user("%s: the mount (pid %ld) exited before storing the snapshot",
                             dir, pid);
        char why[1024];
        if (waited % 25 == 0 && mount_failure(dir, pid, why, sizeof(why)))
            cfs_cli_die_user("%s: the mount (pid %ld) cannot store a snapshot: %s", dir,
                             pid, why);
    }
    cfs_cli_die_user("%s: no snapshot from the mount (pid %ld) after %" PRIu64
                     " s (nothing changed since the last one? the mount's messages: "
                     "%s/mount.log)", dir, pid, timeout_s, dir);
}

int cfs_cli_snapshot(int argc, char **argv)
{
    static const struct option opts[] = {
        {"label", required_argument, NULL, 'l'},
        {"timeout", required_argument, NULL, 't'},
        {0, 0, 0, 0}};
    const char *label = "";
    uint64_t timeout_s = 10;
    int c;
    while ((c = cfs_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'l')
            label = optarg;
        else
            timeout_s = cfs_cli_opt_u64("--timeout", optarg);
    }
    cfs_cli_operands(argc, argv, 1, 1, "J");
    const char *dir = argv[optind];
    if (strlen(label) >= sizeof(((cfs_snapshot_info *)0)->label))
        cfs_cli_die_usage("--label: at most %zu bytes",
                          sizeof(((cfs_snapshot_info *)0)->label) - 1);
    if (*label && strspn(label, "0123456789") == strlen(label))
        cfs_cli_die_usage("--label: '%s' is all digits, which commands would read as "
                          "a seq", label);

    cfs_cli_settle(dir);
    char note[PATH_MAX + 64];
    long pid = cfs_journal_writer(dir, note, sizeof note);
    if (pid > 0 && pid != (long)getpid()) {
        /* only a mount takes SIGUSR1 as "snapshot": any other writer (a
         * receive, an import) would die of it */
        if (strncmp(note, "mount ", 6))
            cfs_cli_die_user("%s: open for writing by pid %ld, which is not a mount: try "
                             "again once it is done", dir, pid);
        if (!cfs_cli_holds_lock_file(pid, dir))
            cfs_cli_die_user("%s: mounted by pid %ld of another pid namespace: send it "
                             "SIGUSR1 from there", dir, pid);
        if (*label)
            cfs_cli_die_user("%s: mounted by pid %ld: a snapshot asked of a mount "
                             "cannot be labelled (omit --label)", dir, pid);
        return snapshot_mounted(dir, pid, timeout_s);
    }

    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    cfs_journal *j = cfs_cli_open_journal(dir, &o);
    uint64_t head = cfs_journal_committed(j);
    struct newest cur = {0};
    int rc = cfs_journal_snapshots(j, note_snapshot, &cur);
    if (rc)
        cfs_cli_die_journal(dir, j, rc, "listing snapshots");
    if (cur.count && cur.last.seq == head)
        cfs_cli_die_user("%s: seq %" PRIu64 " (the head) already has a snapshot%s%s%s",
                         dir, head, *cur.last.label ? " ('" : "", cur.last.label,
                         *cur.last.label ? "')" : "");
    cfs_fs *fs = NULL;
    if ((rc = cfs_journal_open_at(j, head, NULL, &fs)))
        cfs_cli_die_journal(dir, j, rc, "rebuilding the head state");
    cfs_snapshot_info info;
    rc = cfs_journal_snapshot(j, fs, label, "explicit", cfs_cli_realtime_ns(), &info);
    cfs_fs_free(fs);
    if (rc) {
        /* a big snapshot stores its chunks in several transactions before
         * its record: a failure (a full disk) leaves chunks nothing names,
         * which the discard sweeps, so the space is the journal's again */
        char why[300];
        snprintf(why, sizeof why, "%s", cfs_journal_errmsg(j));
        if (cfs_journal_discard(j) == 0) {
            cfs_journal_close(j);
            if (strstr(why, dir))
                cfs_cli_die_user("snapshot: %s (journal unchanged)", why);
            cfs_cli_die_user("%s: snapshot: %s (journal unchanged)", dir, why);
        }
        cfs_cli_die_user("%s: snapshot: %s", dir, why);
    }
    if ((rc = cfs_journal_close(j)))
        cfs_cli_die_user("%s: closing: %s", dir, cfs_strerror(rc));
    printf("%" PRIu64 "\n", info.seq);
    return 0;
}

/* ---- snapshots ----------------------------------------------------------- */

const char cfs_cli_snapshots_help[] =
    "usage: chronofs snapshots J [--json]\n\n"
    "List the snapshots of journal J, oldest first: seq, time (UTC), trigger,\n"
    "label, state hash and stored image size. With --json, one object per line\n"
    "with the keys seq, time_ns, trigger, label, state_hash and image_bytes.\n\n"
    "example:\n"
    "  chronofs snapshots ~/fs.cfs --json | jq .seq\n";

static void fmt_time(char *buf, size_t cap, uint64_t ns)
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int print_snapshot(void *ctx, const cfs_snapshot_info *s)
{
    int json = *(int *)ctx;
    if (json) {
        printf("{\"seq\":%" PRIu64 ",\"time_ns\":%" PRIu64 ",\"trigger\":", s->seq,
               s->time_ns);
        cfs_cli_json_cstr(stdout, s->trigger);
        fputs(",\"label\":", stdout);
        cfs_cli_json_cstr(stdout, s->label);
        fputs(",\"state_hash\":\"", stdout);
        print_hash(stdout, s->state_hash);
        printf("\",\"image_bytes\":%" PRIu64 "}\n", s->image_bytes);
    } else {
        char when[32];
        fmt_time(when, sizeof(when), s->time_ns);
        printf("%10" PRIu64 "  %s  %-10s %-20s ", s->seq, when, s->trigger,
               *s->label ? s->label : "-");
        print_hash(stdout, s->state_hash);
        printf("  %" PRIu64 " B\n", s->image_bytes);
    }
    return 0;
}

int cfs_cli_snapshots(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {0, 0, 0, 0}};
    int json = 0;
    while (cfs_cli_getopt(argc, argv, opts) != -1)
        json = 1;
    cfs_cli_operands(argc, argv, 1, 1, "J");
    const char *dir = argv[optind];
    cfs_journal *j = cfs_cli_open_journal(dir, NULL);
    if (!json)
        printf("%10s  %-20s  %-10s %-20s %-32s  %s\n", "SEQ", "TIME", "TRIGGER", "LABEL",
               "STATE HASH", "IMAGE");
    int rc = cfs_journal_snapshots(j, print_snapshot, &json);
    if (rc)
        cfs_cli_die_journal(dir, j, rc, "listing snapshots");
    cfs_journal_close(j);
    return 0;
}

/* ---- stat ---------------------------------------------------------------- */

const char cfs_cli_stat_help[] =
    "usage: chronofs stat J [--json]\n\n"
    "What journal J holds and costs: its id, events and frames (first and last\n"
    "seq), encoded and stored bytes and the compression ratio, snapshots and\n"
    "chunks, bytes on disk per database and in all, and the pid of a writer\n"
    "(a mount) if one has it open. Reads only what is committed; safe while a\n"
    "mount writes.\n\n"
    "example:\n"
    "  chronofs stat ~/fs.cfs --json\n";

int cfs_cli_stat(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {0, 0, 0, 0}};
    int json = 0;
    while (cfs_cli_getopt(argc, argv, opts) != -1)
        json = 1;
    cfs_cli_operands(argc, argv, 1, 1, "J");
    const char *dir = argv[optind];
    cfs_journal *j = cfs_cli_open_journal(dir, NULL);
    cfs_journal_stats st;
    int rc = cfs_journal_stat(j, &st);
    if (rc)
        cfs_cli_die_journal(dir, j, rc, "stat");
    struct newest snaps = {0};
    if ((rc = cfs_journal_snapshots(j, note_snapshot, &snaps)))
        cfs_cli_die_journal(dir, j, rc, "listing snapshots");
    uint64_t head = cfs_journal_committed(j);
    long writer = cfs_journal_writer_pid(dir);
    double ratio = st.stored_bytes ? (double)st.raw_bytes / (double)st.stored_bytes : 0;
    uint64_t db = st.events_db_bytes + st.snapshots_db_bytes + st.chunks_db_bytes;
    if (json) {
        printf("{\"journal\":");
        cfs_cli_json_cstr(stdout, dir);
        printf(",\"id\":\"%s\",\"format\":%u,\"head_seq\":%" PRIu64
               ",\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64 ",\"events\":%" PRIu64
               ",\"frames\":%" PRIu64 ",\"raw_bytes\":%" PRIu64 ",\"stored_bytes\":%" PRIu64
               ",\"compression_ratio\":%.3f,\"snapshots\":%" PRIu64
               ",\"last_snapshot_seq\":%" PRIu64 ",\"chunks\":%" PRIu64
               ",\"events_db_bytes\":%" PRIu64 ",\"snapshots_db_bytes\":%" PRIu64
               ",\"chunks_db_bytes\":%" PRIu64 ",\"db_bytes\":%" PRIu64
               ",\"big_frames\":%" PRIu64 ",\"big_frames_bytes\":%" PRIu64
               ",\"disk_bytes\":%" PRIu64 ",\"writer_pid\":%ld}\n",
               cfs_journal_id(j), cfs_journal_format(j), head, st.first_seq, st.last_seq,
               st.events, st.frames, st.raw_bytes, st.stored_bytes, ratio, snaps.count,
               snaps.count ? snaps.last.seq : 0, st.chunks, st.events_db_bytes,
               st.snapshots_db_bytes, st.chunks_db_bytes, db, st.big_frames,
               st.big_frames_bytes, st.file_bytes,
               writer > 0 ? writer : 0);
    } else {
        printf("journal      %s\nid           %s\nformat       %u\n", dir,
               cfs_journal_id(j), cfs_journal_format(j));
        printf("head seq     %" PRIu64 "\n", head);
        if (st.events)
            printf("events       %" PRIu64 " (seq %" PRIu64 "..%" PRIu64 ") in %" PRIu64
                   " frames\n",
                   st.events, st.first_seq, st.last_seq, st.frames);
        else
            printf("events       0\n");
        if (st.events)
            printf("encoded      %" PRIu64 " B, stored %" PRIu64 " B (ratio %.2fx)\n",
                   st.raw_bytes, st.stored_bytes, ratio);
        printf("snapshots    %" PRIu64, snaps.count);
        if (snaps.count)
            printf(" (last at seq %" PRIu64 "%s%s%s)", snaps.last.seq,
                   *snaps.last.label ? ", '" : "", snaps.last.label,
                   *snaps.last.label ? "'" : "");
        printf("\nchunks       %" PRIu64 "\n", st.chunks);
        printf("database     %" PRIu64 " B (events %" PRIu64 ", snapshots %" PRIu64
               ", chunks %" PRIu64 ")\n",
               db, st.events_db_bytes, st.snapshots_db_bytes, st.chunks_db_bytes);
        if (st.big_frames || st.big_frames_bytes)
            printf("big frames   %" PRIu64 " in frames.dat (%" PRIu64 " B on disk)\n",
                   st.big_frames, st.big_frames_bytes);
        printf("on disk      %" PRIu64 " B\n", st.file_bytes);
        if (writer > 0)
            printf("writer       pid %ld (mounted or open for writing)\n", writer);
    }
    cfs_journal_close(j);
    return 0;
}

/* ---- compact ------------------------------------------------------------- */

const char cfs_cli_compact_help[] =
    "usage: chronofs compact J [--keep N]\n\n"
    "Keep the newest N snapshots (default 1) of journal J and drop older\n"
    "snapshots, the events before the oldest kept one, and chunks no kept\n"
    "snapshot uses. Every seq from the oldest kept snapshot on restores exactly\n"
    "as before; earlier seqs can no longer be opened. Frames stored uncompressed\n"
    "during fast bulk writes (mount and run without --compression always) are\n"
    "compressed. Reports the bytes before and after.\n\n"
    "example:\n"
    "  chronofs compact ~/fs.cfs --keep 3\n";

int cfs_cli_compact(int argc, char **argv)
{
    static const struct option opts[] = {{"keep", required_argument, NULL, 'k'},
                                         {0, 0, 0, 0}};
    uint64_t keep = 1;
    while (cfs_cli_getopt(argc, argv, opts) != -1)
        keep = cfs_cli_opt_u64("--keep", optarg);
    if (keep < 1 || keep > UINT32_MAX)
        cfs_cli_die_usage("--keep: at least 1");
    cfs_cli_operands(argc, argv, 1, 1, "J");
    const char *dir = argv[optind];
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    cfs_journal *j = cfs_cli_open_journal(dir, &o);
    /* No callback: the line can only show that it works. */
    cfs_cli_progress p;
    cfs_cli_progress_start(&p, "compact", "B", 0);
    cfs_cli_progress_tick(&p);
    cfs_compact_report r;
    int rc = cfs_journal_compact(j, (unsigned)keep, &r);
    cfs_cli_progress_end(&p);
    if (rc)
        cfs_cli_die_journal(dir, j, rc, "compact");
    if ((rc = cfs_journal_close(j)))
        cfs_cli_die_user("%s: closing: %s", dir, cfs_strerror(rc));
    printf("%" PRIu64 " B -> %" PRIu64 " B: dropped %" PRIu64 " events in %" PRIu64
           " frames, %u snapshots, %u chunks; seqs from %" PRIu64 " on can be opened\n",
           r.bytes_before, r.bytes_after, r.events_dropped, r.frames_dropped,
           r.snapshots_dropped, r.chunks_dropped, r.first_seq);
    if (r.frames_recompressed)
        printf("compressed %" PRIu64 " frames stored uncompressed: %" PRIu64 " B -> %" PRIu64
               " B\n", r.frames_recompressed, r.recompressed_from, r.recompressed_to);
    return 0;
}
