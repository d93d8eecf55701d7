/*
 * cmd_stream.c — send and receive: a journal's history as a portable
 * stream on stdout / from stdin, like `zfs send | zfs receive`.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

struct io {
    int fd;
    cfs_cli_progress *p;
    uint64_t bytes;
};

static int write_out(void *ctx, const void *buf, size_t len)
{
    struct io *io = ctx;
    const char *b = buf;
    while (len) {
        ssize_t n = write(io->fd, b, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        b += n;
        len -= (size_t)n;
        io->bytes += (uint64_t)n;
    }
    cfs_cli_progress_update(io->p, io->bytes);
    return 0;
}

static int read_in(void *ctx, void *buf, size_t len, size_t *got)
{
    struct io *io = ctx;
    for (;;) {
        ssize_t n = read(io->fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        *got = (size_t)n;
        io->bytes += (uint64_t)n;
        cfs_cli_progress_update(io->p, io->bytes);
        return 0;
    }
}

/* ---- send ---------------------------------------------------------------- */

const char cfs_cli_send_help[] =
    "usage: chronofs send J [--since SNAP] > STREAM\n\n"
    "Write the history of journal J to standard output as a portable,\n"
    "checksummed stream: its oldest snapshot with its chunks, later snapshots\n"
    "and the events after the base. With --since SNAP (a snapshot label or\n"
    "seq the receiver already has), only what came after it. Refuses to write\n"
    "to a terminal. Safe while a mount writes J (the stream ends at the last\n"
    "committed event).\n\n"
    "examples:\n"
    "  chronofs send ~/fs.cfs | ssh otherhost chronofs receive fs.cfs\n"
    "  chronofs send ~/fs.cfs --since nightly > incr.cfss\n";

int cfs_cli_send(int argc, char **argv)
{
    static const struct option opts[] = {{"since", required_argument, NULL, 's'},
                                         {0, 0, 0, 0}};
    const char *since = NULL;
    while (cfs_cli_getopt(argc, argv, opts) != -1)
        since = optarg;
    cfs_cli_operands(argc, argv, 1, 1, "J");
    const char *dir = argv[optind];
    if (isatty(STDOUT_FILENO))
        cfs_cli_die_user("refusing to write a binary stream to a terminal "
                         "(redirect it: chronofs send %s > FILE)", dir);
    cfs_journal *j = cfs_cli_open_journal(dir, NULL);
    uint64_t since_seq = 0;
    if (since) {
        uint64_t seq;
        cfs_snapshot_info si;
        int rc;
        /* a label, or else the seq of a snapshot */
        if (!(rc = cfs_journal_find_snapshot(j, since, &si)))
            since_seq = si.seq;
        else if (!cfs_cli_parse_u64(since, &seq))
            since_seq = seq;
        else
            cfs_cli_die_user("%s: no snapshot labelled '%s'", dir, since);
        if (!since_seq)
            cfs_cli_die_user("%s: --since: a snapshot at seq 0 cannot be a base", dir);
    }
    cfs_journal_stats st;
    uint64_t estimate = 0;
    if (!cfs_journal_stat(j, &st))
        estimate = st.stored_bytes + st.snapshots_db_bytes + st.chunks_db_bytes;
    signal(SIGPIPE, SIG_IGN); /* a closed pipe is EPIPE, one line, exit 1 */
    cfs_cli_progress p;
    cfs_cli_progress_start(&p, "send", "B", since_seq ? 0 : estimate);
    struct io io = {.fd = STDOUT_FILENO, .p = &p};
    cfs_send_report r;
    int rc = cfs_journal_send(j, since_seq, write_out, &io, &r);
    cfs_cli_progress_end(&p);
    if (rc == CFS_JE_NOTFOUND && since_seq)
        cfs_cli_die_user("%s: --since: no snapshot at seq %" PRIu64, dir, since_seq);
    if (rc)
        cfs_cli_die_journal(dir, j, rc, "send");
    cfs_journal_close(j);
    cfs_cli_note("sent %" PRIu64 " B: seq %" PRIu64 "..%" PRIu64 ", %u snapshots, %" PRIu64
                 " chunks, %" PRIu64 " events\n",
                 r.bytes, r.base_seq, r.head_seq, r.snapshots, r.chunks, r.events);
    return 0;
}

/* ---- receive ------------------------------------------------------------- */

const char cfs_cli_receive_help[] =
    "usage: chronofs receive J < STREAM\n\n"
    "Read a stream made by 'chronofs send' from standard input into journal J:\n"
    "a full stream into a new journal (J is created if it is missing or an\n"
    "empty directory), or an incremental one into a journal holding its base\n"
    "snapshot. All or nothing: on any error J is left exactly as it was (a\n"
    "journal created for it is removed). Prints the seq J is now at.\n\n"
    "example:\n"
    "  chronofs send ~/fs.cfs | chronofs receive /backup/fs.cfs\n";

int cfs_cli_receive(int argc, char **argv)
{
    static const struct option opts[] = {{0, 0, 0, 0}};
    while (cfs_cli_getopt(argc, argv, opts) != -1)
        ;
    cfs_cli_operands(argc, argv, 1, 1, "J");
    const char *dir = argv[optind];
    if (isatty(STDIN_FILENO))
        cfs_cli_die_user("refusing to read a stream from a terminal "
                         "(pipe one in: chronofs send J | chronofs receive %s)", dir);
    int existed;
    int create = cfs_cli_fresh_dir(dir, &existed);
    cfs_journal_opts o;
    cfs_journal_opts_default(&o);
    o.create = create;
    cfs_journal *j = NULL;
    if (create) {
        char err[1024] = "";
        int rc = cfs_journal_open(dir, &o, &j, err, sizeof(err));
        if (rc) {
            if (rc != CFS_JE_LOCKED) /* else another process is making it */
                cfs_cli_unmake_journal(dir, existed);
            cfs_cli_die_user("%s", err[0] ? err : cfs_strerror(rc));
        }
    } else {
        j = cfs_cli_open_journal(dir, &o);
    }
    struct stat sb;
    uint64_t total = fstat(STDIN_FILENO, &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
    cfs_cli_progress p;
    cfs_cli_progress_start(&p, "receive", "B", total);
    struct io io = {.fd = STDIN_FILENO, .p = &p};
    cfs_receive_report r;
    int rc = cfs_journal_receive(j, read_in, &io, &r);
    cfs_cli_progress_end(&p);
    if (rc) {
        char msg[1024];
        const char *m = cfs_journal_errmsg(j);
        if (m && !strncmp(m, "receive: ", 9)) /* the command's prefix says it */
            m += 9;
        snprintf(msg, sizeof(msg), "%s", m && *m ? m : cfs_strerror(rc));
        cfs_journal_close(j);
        if (create)
            cfs_cli_unmake_journal(dir, existed);
        if (strstr(msg, dir))
            cfs_cli_die_user("%s (journal unchanged)", msg);
        cfs_cli_die_user("%s: %s (journal unchanged)", dir, msg);
    }
    if ((rc = cfs_journal_close(j)))
        cfs_cli_die_user("%s: closing: %s", dir, cfs_strerror(rc));
    cfs_cli_note("received %" PRIu64 " B from journal %s: %u snapshots (%u new), %" PRIu64
                 " chunks stored, %" PRIu64 " events added\n",
                 r.bytes, r.origin, r.snapshots, r.snapshots_added, r.chunks_added,
                 r.events_added);
    printf("%" PRIu64 "\n", r.head_seq);
    return 0;
}
