/*
 * cli.h — shared helpers of the `chronofs` command-line tool (tools/cli/)
 * and of its FUSE front end (tools/fuse/).
 *
 * Every subcommand is a `int run(int argc, char **argv)` with argv[0] the
 * command's name; it handles its own --help. Exit status, which scripts
 * can trust:
 *   0  success
 *   1  a user error: one line on stderr, "chronofs CMD: ..." naming the
 *      journal, seq or path at fault (cfs_cli_die_user)
 *   2  a usage error: "chronofs CMD: ..." then "try 'chronofs CMD --help'"
 *      (cfs_cli_die_usage)
 */
#ifndef CFS_CLI_H
#define CFS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cfs_journal.h"

#define CFS_CLI_EXIT_OK 0
#define CFS_CLI_EXIT_USER 1
#define CFS_CLI_EXIT_USAGE 2

/* ---------------------------------------------------------------------- */
/* Errors                                                                   */

/* The running command's name ("snapshot"), for messages; main sets it. */
void cfs_cli_set_cmd(const char *name);
const char *cfs_cli_cmd(void);

/* Print "chronofs CMD: <message>" (one line) to stderr and exit 1. */
_Noreturn void cfs_cli_die_user(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* Print "chronofs CMD: <message>" and a hint to run --help, exit 2. */
_Noreturn void cfs_cli_die_usage(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* A summary for people ("imported 12 files..."): on stderr, and only when
 * stderr is a terminal, so scripts see nothing extra. */
void cfs_cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "chronofs CMD: <message>" on stderr without exiting (warnings). */
void cfs_cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* If journal dir's writer is a `chronofs mount` whose mount is gone (it
 * was just unmounted and is still committing), wait until it has closed
 * the journal, so what a command reads next includes its last changes.
 * cfs_cli_open_journal does it. */
void cfs_cli_settle(const char *dir);
/* Does process pid (as this pid namespace numbers it) hold journal dir's
 * writer.lock open? (A pid another namespace wrote names someone else.) */
bool cfs_cli_holds_lock_file(long pid, const char *dir);

/* 1 if dir is missing or an empty directory (a command may make what it
 * holds, and take it away again on failure); *existed says which. */
int cfs_cli_fresh_dir(const char *dir, int *existed);

/* Remove what creating a journal in dir made: its files, and dir if it
 * did not exist before (existed 0). For a command that made a journal
 * and then failed (init, receive). */
void cfs_cli_unmake_journal(const char *dir, int existed);

/* From now on, start every message with the local time and the pid
 * ("2026-11-22T23:59:01.042+0000 [4242] chronofs mount: ..."): for a
 * daemon whose stderr is a log file. */
void cfs_cli_stamp_messages(bool on);

/* ---------------------------------------------------------------------- */
/* Arguments                                                                */

/* A file type for people and JSON: dir, file, symlink, chardev, blockdev,
 * socket, fifo, other. */
const char *cfs_cli_type_name(uint8_t filetype);

/* Did the user ask for help (-h / --help anywhere before "--")? */
int cfs_cli_wants_help(int argc, char **argv);

/*
 * getopt_long over a command's argv with long options only (optind starts
 * at 1 on the first call: reset it to 0 before a new parse). Returns the
 * option's val, or -1 at the end (optind is then the first operand). An
 * unknown option or a missing argument is a usage error (exit 2).
 */
struct option;
int cfs_cli_getopt(int argc, char **argv, const struct option *longopts);

/* Parse a decimal u64 (no sign, no junk, no overflow); -1 if malformed. */
int cfs_cli_parse_u64(const char *s, uint64_t *out);
/* The same for an option's value, dying with a usage error naming it. */
uint64_t cfs_cli_opt_u64(const char *opt, const char *val);

/* Check the operand count (argc - optind) is in [min, max], else a usage
 * error ("missing JOURNAL", "unexpected argument 'x'"); `names` lists
 * the operands for the message ("J HOSTDIR"). */
void cfs_cli_operands(int argc, char **argv, int min, int max, const char *names);

/* Realtime clock in ns (the engine's injected clock, snapshot times). */
uint64_t cfs_cli_realtime_ns(void);

/* ---------------------------------------------------------------------- */
/* Journals                                                                 */

/*
 * Open journal `dir` with `opts` (NULL = read-only defaults), or die with
 * one line naming it: "JOURNAL: not a chronofs journal", "JOURNAL: written
 * by a newer format (N) than this build reads (1)", "JOURNAL: locked for
 * writing by pid N (a mount?)", "JOURNAL: no such journal"...
 */
cfs_journal *cfs_cli_open_journal(const char *dir, const cfs_journal_opts *opts);

/* Die (exit 1) with "JOURNAL: <what>: <journal message or strerror>". */
_Noreturn void cfs_cli_die_journal(const char *dir, cfs_journal *j, int rc,
                                   const char *what);

/* Die (exit 1) with a library message `err` (or cfs_strerror(rc) if it is
 * empty), prefixed with "JOURNAL: " unless it names the journal already;
 * the _at form adds "seq N: " unless the message names a seq. */
_Noreturn void cfs_cli_die_lib(const char *dir, int rc, const char *err);
_Noreturn void cfs_cli_die_at(const char *dir, uint64_t seq, int rc, const char *err);

/*
 * The first seq whose event the journal holds: 1, or for a journal whose
 * history starts at a snapshot (compacted, received from a full stream,
 * forked) that snapshot's seq + 1. The commands that walk events from the
 * start (log, replay, bisect) start there.
 */
uint64_t cfs_cli_first_seq(cfs_journal *j, const char *dir);

/*
 * Resolve a point in the journal's history: `at` (a decimal seq, may be
 * NULL) or `snapshot` (a label, may be NULL; at most one of the two is
 * set). Neither: the head (committed seq). A seq past the head, one
 * before the history a compacted or received journal holds, or a missing
 * label dies with one line naming it; a malformed seq is a usage error.
 */
uint64_t cfs_cli_resolve_seq(cfs_journal *j, const char *dir, const char *at,
                             const char *snapshot);

/* Check --at / --snapshot before anything is opened: a malformed seq, or
 * both given, is a usage error (exit 2). */
void cfs_cli_check_at(const char *at, const char *snapshot);

/* Like cfs_cli_resolve_seq for one word that is either a seq or a
 * snapshot label (diff's A and B): digits are a seq, else a label. */
uint64_t cfs_cli_resolve_point(cfs_journal *j, const char *dir,
                               const char *word);

/* ---------------------------------------------------------------------- */
/* Progress on a terminal                                                   */

/*
 * A progress bar on stderr, redrawn at most ~10 times a second, with the
 * done/total count, rate and ETA; silent unless stderr is a terminal, and
 * on one only once the work has taken a quarter second. The environment
 * variable CHRONOFS_PROGRESS=never turns it off, =always draws it even
 * when stderr is not a terminal, from the start.
 * `unit` is "B" (sizes shown as KiB/MiB...) or a word ("events").
 * total 0 = unknown (no bar, no ETA: a counter and a rate).
 */
typedef struct cfs_cli_progress {
    const char *label;
    const char *unit;
    uint64_t total;
    uint64_t done;
    uint64_t start_ns;
    uint64_t last_draw_ns;
    int active; /* stderr is a terminal (or CHRONOFS_PROGRESS=always) */
    int always; /* CHRONOFS_PROGRESS=always: draw from the first update */
    int drawn;  /* a line is on screen (to clear) */
    void *ticker; /* cfs_cli_progress_tick's thread, if running */
} cfs_cli_progress;

void cfs_cli_progress_start(cfs_cli_progress *p, const char *label,
                            const char *unit, uint64_t total);
void cfs_cli_progress_update(cfs_cli_progress *p, uint64_t done);
/* Clear the bar line (before printing anything else, and at the end);
 * stops a ticker. */
void cfs_cli_progress_end(cfs_cli_progress *p);
/* For work done in one library call with no progress callback (verify,
 * compact): a thread redraws the line with the elapsed time until
 * cfs_cli_progress_end(). Do not call _update meanwhile. */
void cfs_cli_progress_tick(cfs_cli_progress *p);

/* ---------------------------------------------------------------------- */
/* JSON output                                                              */

/* Write s[0..len) as a JSON string with its quotes: control characters and
 * bytes that are not valid UTF-8 become \u00XX, so any path round-trips
 * to readable JSON. */
void cfs_cli_json_str(FILE *f, const char *s, size_t len);
/* The same for a NUL-terminated string. */
void cfs_cli_json_cstr(FILE *f, const char *s);
/* Is s (NUL-terminated) valid UTF-8 without control characters, i.e.
 * printed by any JSON encoder as itself? NULL counts as valid. */
int cfs_cli_json_plain(const char *s);

/* ---------------------------------------------------------------------- */
/* Commands (one file per group)                                            */

/* Each runs one subcommand: argv[0] is its name. Returns the exit status
 * on success; errors exit from inside (cfs_cli_die_user /
 * cfs_cli_die_usage). Each may run once per process (getopt state). Its
 * help text, cfs_cli_NAME_help, is what main.c prints for --help/-h. */

/* cmd_journal.c */
int cfs_cli_init(int argc, char **argv);
extern const char cfs_cli_init_help[];
int cfs_cli_snapshot(int argc, char **argv);
extern const char cfs_cli_snapshot_help[];
int cfs_cli_snapshots(int argc, char **argv);
extern const char cfs_cli_snapshots_help[];
int cfs_cli_stat(int argc, char **argv);
extern const char cfs_cli_stat_help[];
int cfs_cli_compact(int argc, char **argv);
extern const char cfs_cli_compact_help[];
/* cmd_hostdir.c */
int cfs_cli_import(int argc, char **argv);
extern const char cfs_cli_import_help[];
int cfs_cli_restore(int argc, char **argv);
extern const char cfs_cli_restore_help[];
/* cmd_read.c */
int cfs_cli_ls(int argc, char **argv);
extern const char cfs_cli_ls_help[];
int cfs_cli_cat(int argc, char **argv);
extern const char cfs_cli_cat_help[];
int cfs_cli_log(int argc, char **argv);
extern const char cfs_cli_log_help[];
int cfs_cli_replay(int argc, char **argv);
extern const char cfs_cli_replay_help[];
/* cmd_history.c */
int cfs_cli_diff(int argc, char **argv);
extern const char cfs_cli_diff_help[];
int cfs_cli_bisect(int argc, char **argv);
extern const char cfs_cli_bisect_help[];
int cfs_cli_blame(int argc, char **argv);
extern const char cfs_cli_blame_help[];
int cfs_cli_verify(int argc, char **argv);
extern const char cfs_cli_verify_help[];
/* cmd_stream.c */
int cfs_cli_send(int argc, char **argv);
extern const char cfs_cli_send_help[];
int cfs_cli_receive(int argc, char **argv);
extern const char cfs_cli_receive_help[];

/* FUSE mount (tools/fuse/mount.c). */
int cfs_cli_mount(int argc, char **argv);
/* cmd_run.c: a WASI guest (tools/wasi/) prepared by the runner
 * (tools/runner/), which also parses its options and --help. */
int cfs_cli_run(int argc, char **argv);
extern const char cfs_cli_mount_help[];

#endif /* CFS_CLI_H */
