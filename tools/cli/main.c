/*
 * main.c — the `chronofs` dispatcher: finds the subcommand, hands it
 * argv with argv[0] = its name, and prints the overall help.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct cfs_cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    const char *help; /* printed for --help or -h anywhere before "--";
                         NULL: the command parses its own (run: the guest's
                         arguments may hold --help) */
};

static const struct cfs_cli_cmd cmds[] = {
    {"init", "create an empty journal", cfs_cli_init,
     cfs_cli_init_help},
    {"import", "record a host directory tree into a journal", cfs_cli_import,
     cfs_cli_import_help},
    {"snapshot", "snapshot the head state (of a mount too)", cfs_cli_snapshot,
     cfs_cli_snapshot_help},
    {"snapshots", "list snapshots", cfs_cli_snapshots,
     cfs_cli_snapshots_help},
    {"log", "print events, filtered by seq, path, op, fd, inode", cfs_cli_log,
     cfs_cli_log_help},
    {"stat", "events, frames, bytes, compression ratio, snapshots", cfs_cli_stat,
     cfs_cli_stat_help},
    {"ls", "list a directory in any past state", cfs_cli_ls,
     cfs_cli_ls_help},
    {"cat", "print a file in any past state", cfs_cli_cat,
     cfs_cli_cat_help},
    {"restore", "materialize a past state to a host directory", cfs_cli_restore,
     cfs_cli_restore_help},
    {"replay", "step through events, checking each", cfs_cli_replay,
     cfs_cli_replay_help},
    {"diff", "what changed between two seqs or snapshots", cfs_cli_diff,
     cfs_cli_diff_help},
    {"bisect", "the first seq where a path appears, vanishes or holds bytes", cfs_cli_bisect,
     cfs_cli_bisect_help},
    {"blame", "which events wrote each byte range of a file", cfs_cli_blame,
     cfs_cli_blame_help},
    {"verify", "check checksums, replay, state hashes, chunks", cfs_cli_verify,
     cfs_cli_verify_help},
    {"compact", "drop history before the newest N snapshots", cfs_cli_compact,
     cfs_cli_compact_help},
    {"send", "write a journal's history as a portable stream", cfs_cli_send,
     cfs_cli_send_help},
    {"receive", "read a stream into a journal", cfs_cli_receive,
     cfs_cli_receive_help},
    {"mount", "mount a journal's filesystem with FUSE", cfs_cli_mount,
     cfs_cli_mount_help},
    {"run", "run a WASI guest on a journaled filesystem", cfs_cli_run, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: chronofs COMMAND [ARGS...]\n\n"
               "chronofs keeps a filesystem as a journal of events: any past "
               "state can be\nlisted, restored, diffed, bisected and sent to "
               "another host.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f, "\n'chronofs COMMAND --help' explains a command, with an "
               "example.\nexit status: 0 success, 1 error (one line on "
               "stderr), 2 usage error\n"
               "Long work shows a progress bar on a terminal "
               "(CHRONOFS_PROGRESS=never|always to choose).\n");
}

/*
 * The journal allocates and frees buffers of a megabyte and more per
 * commit (LMDB's dirty overflow pages, frames). glibc would serve each
 * from a fresh mmap, or trim its heap after each, so every commit writes
 * into fresh memory: page faults, zeroing, and on a virtual machine pages
 * the host must back anew. Keeping them in the heap makes a 1 GiB write
 * through the mount 1.1 s instead of 2.6-2.9 s (side by side). The memory
 * kept is at most what a bulk write had in use at once, tens of MiB.
 */
static void cfs_malloc_tune(void)
{
    /* 32 MiB: older glibcs refuse more than HEAP_MAX_SIZE / 2 here, and
     * the trim threshold alone would pin the mmap threshold at 128 KiB */
    if (mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1)
        mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

/* What a command printed must have reached its stdout: a failed write
 * (a full disk, /dev/full) is an error, not a success with nothing said. */
static int output_done(int rc)
{
    errno = 0;
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc == CFS_CLI_EXIT_OK) {
        const char *cmd = cfs_cli_cmd();
        fprintf(stderr, "chronofs%s%s: writing the output: %s\n", cmd ? " " : "",
                cmd ? cmd : "", strerror(errno ? errno : EIO));
        return CFS_CLI_EXIT_USER;
    }
    return rc;
}

static const struct cfs_cli_cmd *find_cmd(const char *name)
{
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(name, cmds[i].name))
            return &cmds[i];
    return NULL;
}

/* A command started with stdin, stdout or stderr closed would hand those
 * numbers to the first files it opens (a journal's lock files), and its
 * output, or a guest's, would go into them: give them /dev/null. */
static void stdio_open(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        int n = open("/dev/null", fd ? O_WRONLY : O_RDONLY);
        if (n >= 0 && n != fd) { /* a lower one was closed too: it got it */
            dup2(n, fd);
            close(n);
        }
    }
}

int main(int argc, char **argv)
{
    stdio_open();
    cfs_malloc_tune();
    if (argc < 2) {
        usage(stderr);
        return CFS_CLI_EXIT_USAGE;
    }
    bool help = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
                !strcmp(argv[1], "help");
    const struct cfs_cli_cmd *c = find_cmd(help && argc > 2 ? argv[2] : argv[1]);
    if (help && (argc == 2 || (c && c->help))) { /* chronofs help [COMMAND] */
        if (argc == 2)
            usage(stdout);
        else
            fputs(c->help, stdout);
        return output_done(CFS_CLI_EXIT_OK);
    }
    if (help && c) { /* a command that prints its own (run) */
        cfs_cli_set_cmd(c->name);
        char *hargv[] = {(char *)c->name, (char *)"--help", NULL};
        return output_done(c->run(2, hargv));
    }
    if (!c) {
        fprintf(stderr, "chronofs: unknown command '%s' (try 'chronofs --help')\n",
                help ? argv[2] : argv[1]);
        return CFS_CLI_EXIT_USAGE;
    }
    cfs_cli_set_cmd(c->name);
    if (c->help && cfs_cli_wants_help(argc - 1, argv + 1)) {
        fputs(c->help, stdout);
        return output_done(CFS_CLI_EXIT_OK);
    }
    return output_done(c->run(argc - 1, argv + 1));
}
