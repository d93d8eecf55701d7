/*
 * cmd_history.c — questions about a journal's history: diff (what changed
 * between two points), bisect (when did something become true), blame
 * (which events wrote a file's bytes), verify (is it all intact).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cfs_replay.h"
#include "cli.h"

/* A diff side's type; "none" where the path did not exist. */
static const char *ftype(uint8_t t)
{
    return t ? cfs_cli_type_name(t) : "none";
}

/* A path for people: control characters and backslashes escaped. */
static void print_path(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\\')
            fputs("\\\\", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
}

/* ---- diff ---------------------------------------------------------------- */

const char cfs_cli_diff_help[] =
    "usage: chronofs diff J A B [--json]\n\n"
    "What changed in journal J between the state after A and the state after B,\n"
    "each a seq (0 = the empty start) or a snapshot label: paths added (+),\n"
    "removed (-) and changed (M: type, size, content, mode or symlink target),\n"
    "with sizes, sorted by path. --json: one object per path with the keys\n"
    "path, kind (added/removed/changed), changes (list), a and b (each with\n"
    "type, mode, size and target).\n\n"
    "example:\n"
    "  chronofs diff ~/fs.cfs before-upgrade 52000\n";

static void json_side(const char *key, const cfs_diff_side *s)
{
    printf(",\"%s\":", key);
    if (!s->filetype) {
        fputs("null", stdout);
        return;
    }
    printf("{\"type\":\"%s\",\"ino\":%" PRIu64 ",\"mode\":%u,\"size\":%" PRIu64, ftype(s->filetype),
           s->ino, s->mode, s->size);
    if (s->target) {
        fputs(",\"target\":", stdout);
        cfs_cli_json_cstr(stdout, s->target);
    }
    if (s->filetype == CFS_FILETYPE_CHARACTER_DEVICE || s->filetype == CFS_FILETYPE_BLOCK_DEVICE)
        printf(",\"rdev\":%" PRIu64, (uint64_t)s->rdev);
    fputs("}", stdout);
}

int cfs_cli_diff(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {0, 0, 0, 0}};
    int json = 0;
    while (cfs_cli_getopt(argc, argv, opts) != -1)
        json = 1;
    cfs_cli_operands(argc, argv, 3, 3, "J A B");
    const char *dir = argv[optind];
    cfs_journal *j = cfs_cli_open_journal(dir, NULL);
    uint64_t a = cfs_cli_resolve_point(j, dir, argv[optind + 1]);
    uint64_t b = cfs_cli_resolve_point(j, dir, argv[optind + 2]);
    cfs_diff *d = NULL;
    char err[1024] = "";
    int rc = cfs_replay_diff(j, a, b, &d, err, sizeof(err));
    if (rc)
        cfs_cli_die_lib(dir, rc, err);
    static const struct {
        unsigned bit;
        const char *name;
    } bits[] = {{CFS_DIFF_TYPE, "type"}, {CFS_DIFF_SIZE, "size"}, {CFS_DIFF_CONTENT, "content"},
                {CFS_DIFF_MODE, "mode"}, {CFS_DIFF_TARGET, "target"},
                {CFS_DIFF_RDEV, "rdev"}};
    for (size_t i = 0; i < cfs_diff_count(d); i++) {
        const cfs_diff_entry *e = cfs_diff_get(d, i);
        const char *kind = e->kind == CFS_DIFF_ADDED     ? "added"
                           : e->kind == CFS_DIFF_REMOVED ? "removed"
                                                         : "changed";
        if (json) {
            fputs("{\"path\":", stdout);
            cfs_cli_json_cstr(stdout, e->path);
            printf(",\"kind\":\"%s\",\"changes\":[", kind);
            int first = 1;
            for (size_t k = 0; k < sizeof(bits) / sizeof(bits[0]); k++) {
                if (e->kind == CFS_DIFF_CHANGED && (e->changed & bits[k].bit)) {
                    printf("%s\"%s\"", first ? "" : ",", bits[k].name);
                    first = 0;
                }
            }
            fputs("]", stdout);
            json_side("a", &e->a);
            json_side("b", &e->b);
            fputs("}\n", stdout);
            continue;
        }
        const cfs_diff_side *s = e->kind == CFS_DIFF_REMOVED ? &e->a : &e->b;
        printf("%c %-7s ", e->kind == CFS_DIFF_ADDED ? '+' : e->kind == CFS_DIFF_REMOVED ? '-' : 'M',
               ftype(s->filetype));
        print_path(stdout, e->path);
        if (e->kind == CFS_DIFF_CHANGED) {
            fputs("  (", stdout);
            int first = 1;
            for (size_t k = 0; k < sizeof(bits) / sizeof(bits[0]); k++) {
                if (e->changed & bits[k].bit) {
                    printf("%s%s", first ? "" : ", ", bits[k].name);
                    first = 0;
                }
            }
            if (e->changed & CFS_DIFF_SIZE)
                printf(": %" PRIu64 " -> %" PRIu64 " B", e->a.size, e->b.size);
            if (e->changed & CFS_DIFF_MODE)
                printf("; mode %04o -> %04o", e->a.mode, e->b.mode);
            fputs(")", stdout);
        } else if (s->filetype == CFS_FILETYPE_REGULAR_FILE) {
            printf("  %" PRIu64 " B", s->size);
        } else if (s->target) {
            fputs(" -> ", stdout);
            print_path(stdout, s->target);
        }
        putchar('\n');
    }
    cfs_diff_free(d);
    cfs_journal_close(j);
    if (fflush(stdout) == EOF)
        cfs_cli_die_user("writing the diff: %s", strerror(errno));
    return 0;
}

/* ---- bisect -------------------------------------------------------------- */

const char cfs_cli_bisect_help[] =
    "usage: chronofs bisect J (--exists P | --missing P | --contains P BYTES)\n"
    "                       [--from A] [--to B]\n\n"
    "Find the first event of journal J after which the condition became true:\n"
    "  --exists P         guest path P names something\n"
    "  --missing P        P names nothing (finds its deletion or rename)\n"
    "  --contains P BYTES the file P names contains the string BYTES\n"
    "Prints the seq and that event, or exits 1 if it never becomes true in\n"
    "A..B (default: the whole journal).\n\n"
    "example:\n"
    "  chronofs bisect ~/fs.cfs --missing /data/report.pdf\n";

int cfs_cli_bisect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"exists", required_argument, NULL, 'e'},
        {"missing", required_argument, NULL, 'm'},
        {"contains", required_argument, NULL, 'c'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {0, 0, 0, 0}};
    cfs_bisect_pred pred = {0};
    const char *from_s = NULL, *to_s = NULL;
    int c, preds = 0;
    while ((c = cfs_cli_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'e': pred.kind = CFS_BISECT_EXISTS; pred.path = optarg; preds++; break;
        case 'm': pred.kind = CFS_BISECT_MISSING; pred.path = optarg; preds++; break;
        case 'c': pred.kind = CFS_BISECT_CONTAINS; pred.path = optarg; preds++; break;
        case 'f': from_s = optarg; break;
        default: to_s = optarg; break;
        }
    }
    if (preds != 1)
        cfs_cli_die_usage("give exactly one of --exists, --missing, --contains");
    if (pred.kind == CFS_BISECT_CONTAINS) {
        cfs_cli_operands(argc, argv, 2, 2, "J and, for --contains, BYTES");
        pred.bytes = argv[optind + 1];
        pred.len = strlen(argv[optind + 1]);
    } else {
        cfs_cli_operands(argc, argv, 1, 1, "J");
    }
    if (pred.path[0] != '/')
        cfs_cli_die_usage("'%s' is not absolute (guest paths start with /)", pred.path);
    if (from_s)
        cfs_cli_opt_u64("--from", from_s);
    if (to_s)
        cfs_cli_opt_u64("--to", to_s);
    const char *dir = argv[optind];
    cfs_journal *j = cfs_cli_open_journal(dir, NULL);
    uint64_t first = cfs_cli_first_seq(j, dir), head = cfs_journal_committed(j);
    uint64_t from = from_s ? cfs_cli_resolve_seq(j, dir, from_s, NULL) : first;
    uint64_t to = to_s ? cfs_cli_resolve_seq(j, dir, to_s, NULL) : head;
    if (from < first)
        cfs_cli_die_user("%s: --from %" PRIu64 ": the journal's events start at seq %" PRIu64
                         " (the history before was compacted, or not received)",
                         dir, from, first);
    if (to && from > to)
        cfs_cli_die_usage("--from %" PRIu64 " is after --to %" PRIu64, from, to);
    if (first > head || to == 0)
        cfs_cli_die_user("%s: no events to search%s", dir,
                         head ? " (the journal holds a snapshot but no events after it)"
                              : "");
    cfs_bisect_result r;
    char err[1024] = "";
    int rc = cfs_replay_bisect(j, &pred, from, to, &r, err, sizeof(err));
    if (rc)
        cfs_cli_die_lib(dir, rc, err);
    if (!r.seq) {
        cfs_journal_close(j);
        cfs_cli_die_user("%s: never became true in the %" PRIu64 " events searched%s", dir,
                         r.events, r.held_before ? " (it already held before them)" : "");
    }
    /* show the event that did it */
    cfs_stepper *s = NULL;
    char line[4096] = "";
    if (!cfs_stepper_open(j, r.seq, r.seq, NULL, &s, err, sizeof(err))) {
        cfs_step st;
        if (cfs_stepper_next(s, &st) == 1)
            cfs_format_text(&st, line, sizeof(line));
        cfs_stepper_close(s);
    }
    printf("%" PRIu64 "\n", r.seq);
    if (line[0])
        printf("%s\n", line);
    cfs_journal_close(j);
    return 0;
}

/* ---- blame --------------------------------------------------------------- */

const char cfs_cli_blame_help[] =
    "usage: chronofs blame J PATH [--at SEQ | --snapshot L] [--json]\n\n"
    "For guest file PATH as it was after SEQ (default: the head), which event\n"
    "last gave each byte range its value: byte range, seq, how (write,\n"
    "set_size, allocate, hole, earlier), pid, fd and the path it wrote through.\n"
    "--json: one object per range with the keys start, end, seq, kind, pid,\n"
    "fd (null if none) and path.\n\n"
    "example:\n"
    "  chronofs blame ~/fs.cfs /etc/passwd\n";

int cfs_cli_blame(int argc, char **argv)
{
    static const struct option opts[] = {
        {"at", required_argument, NULL, 'a'},
        {"snapshot", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {0, 0, 0, 0}};
    const char *at = NULL, *snap = NULL;
    int json = 0, c;
    while ((c = cfs_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'a')
            at = optarg;
        else if (c == 's')
            snap = optarg;
        else
            json = 1;
    }
    cfs_cli_check_at(at, snap);
    cfs_cli_operands(argc, argv, 2, 2, "J PATH");
    const char *dir = argv[optind], *path = argv[optind + 1];
    if (path[0] != '/')
        cfs_cli_die_usage("PATH '%s' is not absolute (guest paths start with /)", path);
    cfs_journal *j = cfs_cli_open_journal(dir, NULL);
    uint64_t seq = cfs_cli_resolve_seq(j, dir, at, snap);
    cfs_blame *b = NULL;
    char err[1024] = "";
    int rc = cfs_replay_blame(j, path, seq, &b, err, sizeof(err));
    if (rc)
        cfs_cli_die_at(dir, seq, rc, err);
    static const char *const kinds[] = {"?", "write", "set_size", "allocate", "hole",
                                        "earlier"};
    for (size_t i = 0; i < cfs_blame_count(b); i++) {
        const cfs_blame_range *r = cfs_blame_get(b, i);
        const char *kind = r->kind >= 1 && r->kind <= 5 ? kinds[r->kind] : "?";
        if (json) {
            printf("{\"start\":%" PRIu64 ",\"end\":%" PRIu64 ",\"seq\":%" PRIu64
                   ",\"kind\":\"%s\",\"pid\":%u,\"fd\":",
                   r->start, r->end, r->seq, kind, r->pid);
            if (r->fd == CFS_BLAME_NO_FD)
                fputs("null", stdout);
            else
                printf("%u", r->fd);
            fputs(",\"path\":", stdout);
            if (r->path)
                cfs_cli_json_cstr(stdout, r->path);
            else
                fputs("null", stdout);
            fputs("}\n", stdout);
        } else {
            printf("%12" PRIu64 "..%-12" PRIu64 " seq %-10" PRIu64 " %-8s", r->start, r->end,
                   r->seq, kind);
            if (r->pid > 1)
                printf(" pid %u", r->pid);
            if (r->fd != CFS_BLAME_NO_FD)
                printf(" fd %u", r->fd);
            if (r->path) {
                putchar(' ');
                print_path(stdout, r->path);
            }
            putchar('\n');
        }
    }
    cfs_blame_free(b);
    cfs_journal_close(j);
    if (fflush(stdout) == EOF)
        cfs_cli_die_user("writing the blame: %s", strerror(errno));
    return 0;
}

/* ---- verify -------------------------------------------------------------- */

const char cfs_cli_verify_help[] =
    "usage: chronofs verify J [--to SEQ] [--no-chunks] [--json]\n\n"
    "Check journal J: every stored chunk's bytes against its hash (skip with\n"
    "--no-chunks), every frame (checksum, decompression, records), every\n"
    "event's recorded outcome by replaying it, and the state hash of every\n"
    "snapshot. Exits 0 if all holds, else 1 naming the first bad seq (or\n"
    "chunk). --json: one object with the keys ok, events, last_seq, hashes,\n"
    "chunks, first_bad, problem and message.\n\n"
    "example:\n"
    "  chronofs verify ~/fs.cfs\n";

int cfs_cli_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"to", required_argument, NULL, 't'},
        {"no-chunks", no_argument, NULL, 'n'},
        {"chunks", no_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {0, 0, 0, 0}};
    const char *to_s = NULL;
    int json = 0, chunks = 1, c;
    while ((c = cfs_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 't')
            to_s = optarg;
        else if (c == 'n')
            chunks = 0;
        else if (c == 'c')
            chunks = 1;
        else
            json = 1;
    }
    if (to_s)
        cfs_cli_opt_u64("--to", to_s);
    cfs_cli_operands(argc, argv, 1, 1, "J");
    const char *dir = argv[optind];
    cfs_journal *j = cfs_cli_open_journal(dir, NULL);
    cfs_verify_opts vo = {.snapshots = 1, .chunks = chunks};
    if (to_s) {
        vo.to = cfs_cli_resolve_seq(j, dir, to_s, NULL);
        if (!vo.to)
            cfs_cli_die_user("%s: --to 0: nothing to verify", dir);
    }
    /* One call with no callback: the line can only show that it works. */
    cfs_cli_progress p;
    cfs_cli_progress_start(&p, "verify", "events", 0);
    cfs_cli_progress_tick(&p);
    cfs_verify_report r;
    char err[1024] = "";
    int rc = cfs_replay_verify(j, &vo, &r, err, sizeof(err));
    cfs_cli_progress_end(&p);
    static const char *const problems[] = {"ok", "frame", "output", "hash", "read", "chunk"};
    const char *problem = r.problem >= 0 && r.problem <= 5 ? problems[r.problem] : "?";
    if (json) {
        printf("{\"ok\":%s,\"from_seq\":%" PRIu64 ",\"events\":%" PRIu64 ",\"last_seq\":%" PRIu64
               ",\"hashes\":%" PRIu64 ",\"chunks\":%" PRIu64 ",\"first_bad\":%" PRIu64
               ",\"problem\":\"%s\",\"message\":",
               rc ? "false" : "true", r.from_seq, r.events, r.last_seq, r.hashes, r.chunks,
               r.first_bad, problem);
        cfs_cli_json_cstr(stdout, rc ? (err[0] ? err : cfs_strerror(rc)) : "");
        fputs("}\n", stdout);
        fflush(stdout);
    }
    if (rc)
        cfs_cli_die_user("%s: verify failed (%s)%s%.0" PRIu64 ": %s", dir, problem,
                         r.first_bad ? " at seq " : "", r.first_bad,
                         err[0] ? err : cfs_strerror(rc));
    if (!json && r.events)
        printf("ok: %" PRIu64 " events (seq %" PRIu64 "..%" PRIu64 "), %" PRIu64
               " snapshot hashes, %" PRIu64 " chunks checked\n",
               r.events, r.from_seq + 1, r.last_seq, r.hashes, r.chunks);
    else if (!json)
        printf("ok: no events, %" PRIu64 " snapshot hashes, %" PRIu64 " chunks checked\n",
               r.hashes, r.chunks);
    cfs_journal_close(j);
    return 0;
}
