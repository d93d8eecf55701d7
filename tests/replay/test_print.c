/*
 * test_print.c — the log as people and programs read it: one line per
 * event with the paths a person would name (resolved in the state before
 * the event, through renames, hard links, deleted-but-open files and other
 * processes' fds), exact text, and JSON Lines that always parse.
 */
#include "replay_test.h"

#include <xxhash.h>

#include "cfs_test_allops.h"

/* ---- exact text ------------------------------------------------------------ */

static const char *const history_text =
    "seq 1  mkdir /data (mode 0755)\n"
    "seq 2  open /data/a.txt -> fd 4 (created)\n"
    "seq 3  write /data/a.txt fd 4: 5 bytes at 0\n"
    "seq 4  rename /data/a.txt -> /data/b.txt\n"
    "seq 5  write /data/b.txt fd 4: 1 byte at 5\n"
    "seq 6  link /data/b.txt -> /data/c.txt\n"
    "seq 7  open /data/c.txt -> fd 5\n"
    "seq 8  write /data/c.txt fd 5: 2 bytes at 1\n"
    "seq 9  unlink /data/b.txt\n"
    "seq 10  write /data/c.txt fd 4: 1 byte at 6\n"
    "seq 11  unlink /data/c.txt\n"
    "seq 12  write /data/c.txt (deleted) fd 5: 1 byte at 7\n"
    "seq 13  close fd 5 (/data/c.txt (deleted))\n"
    "seq 14  close fd 4 (/data/c.txt (deleted))\n"
    "seq 15  write <stdout> fd 1: 3 bytes \"hi\\n\"\n"
    "seq 16  symlink /data/l -> b.txt\n"
    "seq 17  chmod /data 0700\n"
    "seq 18  open /data/b.txt -> fd 4 (created)\n"
    "seq 19  set_size /data/b.txt fd 4 -> 100 bytes\n"
    "seq 20  fork -> pid 2\n"
    "seq 21  [pid 2] close fd 4 (/data/b.txt)\n"
    "seq 22  mkdir /we\\nird (mode 0755)\n"
    "seq 23  rename /data -> /we\\nird/data\n"
    "seq 24  write /we\\nird/data/b.txt fd 4: 1 byte at 0\n"
    "seq 25  [pid 2] exit\n"
    "seq 26  seek /we\\nird/data/b.txt fd 4 -> offset 50\n"
    "seq 27  dup fd 4 -> fd 5 (/we\\nird/data/b.txt)\n"
    "seq 28  set_flags fd 5 (/we\\nird/data/b.txt): append|sync\n"
    "seq 29  allocate /we\\nird/data/b.txt fd 5: 10 bytes at 200\n"
    "seq 30  renumber fd 5 -> fd 4 (/we\\nird/data/b.txt)\n"
    "seq 31  mkdir /we (mode 0755)\n"
    "seq 32  chdir /we\n";

/* The history behind history_text. */
static void record_history(rt_world *w)
{
    cfs_fs *fs = w->fs;
    size_t n;
    RT_OK(cfs_path_create_directory(fs, CFS_ROOT_FD, "data"));
    cfs_fd a = rt_open(fs, "data/a.txt", CFS_O_CREAT);
    cr_assert_eq(a, 4);
    rt_write(fs, a, "hello");
    RT_OK(cfs_path_rename(fs, CFS_ROOT_FD, "data/a.txt", CFS_ROOT_FD, "data/b.txt"));
    rt_write(fs, a, "!");
    RT_OK(cfs_path_link(fs, CFS_ROOT_FD, 0, "data/b.txt", CFS_ROOT_FD, "data/c.txt"));
    cfs_fd c = rt_open(fs, "data/c.txt", 0);
    rt_pwrite(fs, c, "XY", 2, 1);
    RT_OK(cfs_path_unlink_file(fs, CFS_ROOT_FD, "data/b.txt"));
    rt_write(fs, a, "?");
    RT_OK(cfs_path_unlink_file(fs, CFS_ROOT_FD, "data/c.txt"));
    rt_pwrite(fs, c, "z", 1, 7);
    RT_OK(cfs_fd_close(fs, c));
    RT_OK(cfs_fd_close(fs, a));
    RT_OK(cfs_fd_write(fs, 1, "hi\n", 3, &n));
    RT_OK(cfs_path_symlink(fs, "b.txt", CFS_ROOT_FD, "data/l"));
    RT_OK(cfs_path_chmod(fs, CFS_ROOT_FD, 0, "data", 0700));
    cfs_fd b = rt_open(fs, "data/l", CFS_O_CREAT); /* through the symlink */
    RT_OK(cfs_fd_filestat_set_size(fs, b, 100));
    cfs_fs *child;
    RT_OK(cfs_fs_fork(fs, &child));
    RT_OK(cfs_fd_close(child, b));
    RT_OK(cfs_path_create_directory(fs, CFS_ROOT_FD, "we\nird"));
    RT_OK(cfs_path_rename(fs, CFS_ROOT_FD, "data", CFS_ROOT_FD, "we\nird/data"));
    rt_pwrite(fs, b, "x", 1, 0);
    RT_OK(cfs_fs_exit(child));
    cfs_fs_free(child);
    uint64_t off;
    RT_OK(cfs_fd_seek(fs, b, 50, CFS_WHENCE_SET, &off));
    cfs_fd d;
    RT_OK(cfs_fd_dup(fs, b, 0, -1, &d));
    cr_assert_eq(d, 5);
    RT_OK(cfs_fd_fdstat_set_flags(fs, d, CFS_FDFLAG_APPEND | CFS_FDFLAG_SYNC));
    RT_OK(cfs_fd_allocate(fs, d, 200, 10));
    RT_OK(cfs_fd_renumber(fs, d, b));
    RT_OK(cfs_path_create_directory(fs, CFS_ROOT_FD, "we"));
    RT_OK(cfs_fs_chdir(fs, "/we"));
}

Test(print, text_lines_name_what_each_event_touched)
{
    rt_world w;
    rt_begin(&w, 7);
    record_history(&w);
    rt_reopen_ro(&w);
    char *log = rt_log(w.j, 0, 0, NULL, 0);
    cr_assert_str_eq(log, history_text);
    free(log);
    rt_end(&w);
}

Test(print, mknod_lines_say_what_was_made)
{
    rt_world w;
    rt_begin(&w, 7);
    cfs_fs *fs = w.fs;
    RT_OK(cfs_path_mknod(fs, CFS_ROOT_FD, "r", 0600));
    RT_OK(cfs_path_mknod(fs, CFS_ROOT_FD, "p", CFS_S_IFIFO | 0640));
    RT_OK(cfs_path_mknod(fs, CFS_ROOT_FD, "s", CFS_S_IFSOCK | 0755));
    RT_OK(cfs_path_mknod_dev(fs, CFS_ROOT_FD, "c", CFS_S_IFCHR | 0666, 0x103));
    /* makedev(4096, 1048576): bits past the old 8/8 split */
    RT_OK(cfs_path_mknod_dev(fs, CFS_ROOT_FD, "b", CFS_S_IFBLK | 0660,
                             UINT64_C(0x0000100100000000)));
    rt_reopen_ro(&w);
    char *log = rt_log(w.j, 0, 0, NULL, 0);
    cr_assert_str_eq(log, "seq 1  mknod /r (mode 0600)\n"
                          "seq 2  mknod /p (FIFO, mode 0640)\n"
                          "seq 3  mknod /s (socket, mode 0755)\n"
                          "seq 4  mknod /c (character device 1:3, mode 0666)\n"
                          "seq 5  mknod /b (block device 4096:1048576, mode 0660)\n");
    free(log);
    rt_end(&w);
}

Test(print, a_range_starts_with_the_names_of_its_first_state)
{
    rt_world w;
    rt_begin(&w, 5);
    record_history(&w);
    rt_reopen_ro(&w);
    /* events 21..24 alone: the names come from the history before them */
    char *log = rt_log(w.j, 21, 24, NULL, 0);
    cr_assert_str_eq(log, "seq 21  [pid 2] close fd 4 (/data/b.txt)\n"
                          "seq 22  mkdir /we\\nird (mode 0755)\n"
                          "seq 23  rename /data -> /we\\nird/data\n"
                          "seq 24  write /we\\nird/data/b.txt fd 4: 1 byte at 0\n");
    free(log);
    rt_end(&w);
}

Test(print, format_is_snprintf_like)
{
    rt_world w;
    rt_begin(&w, 0);
    RT_OK(cfs_path_create_directory(w.fs, CFS_ROOT_FD, "data"));
    rt_reopen_ro(&w);
    cfs_stepper *s;
    char err[256];
    cr_assert_eq(cfs_stepper_open(w.j, 1, 0, NULL, &s, err, sizeof(err)), 0, "%s", err);
    cfs_step st;
    cr_assert_eq(cfs_stepper_next(s, &st), 1);
    char small[8];
    size_t n = cfs_format_text(&st, small, sizeof(small));
    cr_assert_eq(n, strlen("seq 1  mkdir /data (mode 0755)"));
    cr_assert_str_eq(small, "seq 1  ");
    char big[128];
    cr_assert_eq(cfs_format_text(&st, big, sizeof(big)), n);
    cr_assert_str_eq(big, "seq 1  mkdir /data (mode 0755)");
    cr_assert_eq(cfs_format_text(&st, NULL, 0), n, "a size query");
    cr_assert_eq(cfs_stepper_next(s, &st), 0);
    cfs_stepper_close(s);
    rt_end(&w);
}

/* ---- a tiny JSON checker ------------------------------------------------------ */

struct jp {
    const unsigned char *s;
    size_t i, n;
    int depth;
};

static int jp_ws(struct jp *p)
{
    while (p->i < p->n && strchr(" \t\r\n", p->s[p->i]))
        p->i++;
    return 1;
}

static int jp_lit(struct jp *p, const char *lit)
{
    size_t l = strlen(lit);
    if (p->n - p->i < l || memcmp(p->s + p->i, lit, l))
        return 0;
    p->i += l;
    return 1;
}

static int jp_hex4(struct jp *p, unsigned *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++, p->i++) {
        if (p->i >= p->n)
            return 0;
        unsigned char c = p->s[p->i];
        unsigned d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                   : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 99;
        if (d > 15)
            return 0;
        *v = *v * 16 + d;
    }
    return 1;
}

/* Strict: escapes as RFC 8259 lists them, no raw control characters,
 * paired surrogates, and raw bytes that are valid UTF-8. */
static int jp_string(struct jp *p)
{
    if (p->i >= p->n || p->s[p->i] != '"')
        return 0;
    p->i++;
    while (p->i < p->n) {
        unsigned char c = p->s[p->i];
        if (c == '"') {
            p->i++;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            p->i++;
            if (p->i >= p->n)
                return 0;
            c = p->s[p->i++];
            if (c == 'u') {
                unsigned v, w;
                if (!jp_hex4(p, &v))
                    return 0;
                if (v >= 0xdc00 && v <= 0xdfff)
                    return 0;
                if (v >= 0xd800 && v <= 0xdbff &&
                    (!jp_lit(p, "\\u") || !jp_hex4(p, &w) || w < 0xdc00 || w > 0xdfff))
                    return 0;
            } else if (!strchr("\"\\/bfnrt", c)) {
                return 0;
            }
            continue;
        }
        if (c < 0x80) {
            p->i++;
            continue;
        }
        int len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (!len || p->n - p->i < (size_t)len)
            return 0;
        unsigned cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
        for (int k = 1; k < len; k++) {
            unsigned char cc = p->s[p->i + (size_t)k];
            if ((cc & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (cc & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p->i += (size_t)len;
    }
    return 0;
}

static int jp_number(struct jp *p)
{
    size_t start = p->i;
    if (p->i < p->n && p->s[p->i] == '-')
        p->i++;
    if (p->i >= p->n)
        return 0;
    if (p->s[p->i] == '0') {
        p->i++;
    } else if (p->s[p->i] >= '1' && p->s[p->i] <= '9') {
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
    } else {
        return 0;
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        size_t d = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
        if (p->i == d)
            return 0;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        size_t d = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
        if (p->i == d)
            return 0;
    }
    return p->i > start;
}

static int jp_value(struct jp *p);

static int jp_members(struct jp *p, char close, int object)
{
    p->i++;
    jp_ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        return 1;
    }
    for (;;) {
        if (object) {
            if (!jp_string(p))
                return 0;
            jp_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':')
                return 0;
            p->i++;
        }
        if (!jp_value(p))
            return 0;
        jp_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            jp_ws(p);
            continue;
        }
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            return 1;
        }
        return 0;
    }
}

static int jp_value(struct jp *p)
{
    jp_ws(p);
    if (p->i >= p->n || ++p->depth > 64)
        return 0;
    int ok;
    switch (p->s[p->i]) {
    case '{': ok = jp_members(p, '}', 1); break;
    case '[': ok = jp_members(p, ']', 0); break;
    case '"': ok = jp_string(p); break;
    case 't': ok = jp_lit(p, "true"); break;
    case 'f': ok = jp_lit(p, "false"); break;
    case 'n': ok = jp_lit(p, "null"); break;
    default: ok = jp_number(p); break;
    }
    p->depth--;
    return ok;
}

/* One JSON object and nothing else. */
static int json_object_ok(const char *line, size_t len)
{
    struct jp p = {(const unsigned char *)line, 0, len, 0};
    if (!jp_ws(&p) || p.i >= p.n || p.s[p.i] != '{' || !jp_value(&p))
        return 0;
    jp_ws(&p);
    return p.i == p.n;
}

Test(print, the_json_checker_itself)
{
    static const char *const good[] = {
        "{}", "{\"a\":1}", "{\"a\":[1,2.5,-3e2,true,false,null,{}]}",
        "{\"s\":\"\\u00e9\\ud83d\\ude00 \\\" \\\\ \\n\"}", "{\"u\":\"\xc3\xa9\"}"};
    static const char *const bad[] = {
        "", "{", "{\"a\":}", "{\"a\":1,}", "{\"a\":01}", "{\"s\":\"\x01\"}",
        "{\"s\":\"\\ud800\"}", "{\"s\":\"\xff\"}", "{\"s\":\"\xc0\xaf\"}",
        "{\"a\":1} x", "{\"s\":\"\\x\"}", "[1]"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert(json_object_ok(good[i], strlen(good[i])), "%s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(!json_object_ok(bad[i], strlen(bad[i])), "%s", bad[i]);
}

/* ---- JSON ------------------------------------------------------------------------ */

Test(print, json_has_every_nonzero_field_and_the_resolved_paths)
{
    rt_world w;
    rt_begin(&w, 0);
    record_history(&w);
    rt_reopen_ro(&w);
    char *log = rt_log(w.j, 4, 5, NULL, 1);
    const cfs_event *r = rt_event(&w, 4), *wr = rt_event(&w, 5);
    char want[2048];
    snprintf(want, sizeof(want),
             "{\"seq\":4,\"op\":\"rename\",\"pid\":1,\"time\":%" PRIu64 ",\"fd\":3,\"fd2\":3,"
             "\"path\":\"data/a.txt\",\"path2\":\"data/b.txt\",\"ino\":%" PRIu64
             ",\"dir\":%" PRIu64 ",\"name\":\"a.txt\",\"dir2\":%" PRIu64
             ",\"name2\":\"b.txt\",\"resolved_ino\":%" PRIu64
             ",\"resolved_path\":\"/data/a.txt\",\"resolved_path2\":\"/data/b.txt\"}\n"
             "{\"seq\":5,\"op\":\"write\",\"pid\":1,\"time\":%" PRIu64 ",\"fd\":4,\"ino\":%" PRIu64
             ",\"offset\":5,\"length\":1,\"data_xxh3\":\"%016" PRIx64 "\",\"flags\":1"
             ",\"resolved_ino\":%" PRIu64 ",\"resolved_path\":\"/data/b.txt\"}\n",
             r->time, r->ino, r->dir, r->dir2, r->ino, wr->time, wr->ino,
             (uint64_t)XXH3_64bits("!", 1), wr->ino);
    cr_assert_str_eq(log, want);
    free(log);

    /* escapes: a newline in a name, the deleted flag */
    log = rt_log(w.j, 12, 12, NULL, 1);
    cr_assert(strstr(log, "\"resolved_path\":\"/data/c.txt\",\"unlinked\":true}"), "%s", log);
    free(log);
    log = rt_log(w.j, 22, 22, NULL, 1);
    cr_assert(strstr(log, "\"path\":\"we\\nird\""), "%s", log);
    cr_assert(strstr(log, "\"resolved_path\":\"/we\\nird\""), "%s", log);
    free(log);
    rt_end(&w);
}

Test(print, json_escapes_quotes_controls_and_bad_utf8)
{
    rt_world w;
    rt_begin(&w, 0);
    RT_OK(cfs_path_create_directory(w.fs, CFS_ROOT_FD, "q\"b\\s\x01\xc3\xa9\xff"));
    rt_reopen_ro(&w);
    char *log = rt_log(w.j, 0, 0, NULL, 1);
    cr_assert(strstr(log, "\"name\":\"q\\\"b\\\\s\\u0001\xc3\xa9\\ufffd\""), "%s", log);
    cr_assert(json_object_ok(log, strlen(log) - 1), "%s", log);
    free(log);
    log = rt_log(w.j, 0, 0, NULL, 0);
    cr_assert_str_eq(log, "seq 1  mkdir /q\"b\\\\s\\x01\xc3\xa9\\xff (mode 0755)\n");
    free(log);
    rt_end(&w);
}

/* ---- every op, every process ------------------------------------------------------ */

/*
 * An allops workload (every op, forked processes) whose sink, besides
 * journaling, notes for each event the inode of the fd it uses, asked of
 * the live engine in the state before the event through the handle of the
 * event's process (0 when that process's fd lacks the right to ask).
 */
struct every {
    cfs_allops a;
    rt_world w;
    cfs_ino *fd_ino;
    size_t cap;
};

static cfs_errno every_append(void *ctx, const cfs_event *ev)
{
    struct every *e = ctx;
    if (ev->seq >= e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 1024;
        e->fd_ino = realloc(e->fd_ino, cap * sizeof(cfs_ino));
        memset(e->fd_ino + e->cap, 0, (cap - e->cap) * sizeof(cfs_ino));
        e->cap = cap;
    }
    for (int i = 0; i < CFS_ALLOPS_PROCS; i++) {
        cfs_filestat st;
        if (e->a.procs[i] && cfs_fs_pid(e->a.procs[i]) == ev->pid &&
            cfs_fd_filestat_get(e->a.procs[i], ev->fd, &st) == 0)
            e->fd_ino[ev->seq] = st.ino;
    }
    return rt_tee_append(&e->w, ev);
}

static bool names_only_an_fd(uint16_t op)
{
    return op == CFS_OP_CLOSE || op == CFS_OP_READ || op == CFS_OP_SEEK ||
           op == CFS_OP_DUP || op == CFS_OP_RENUMBER || op == CFS_OP_SET_FLAGS ||
           op == CFS_OP_SET_RIGHTS || op == CFS_OP_SET_CLOEXEC;
}

Test(print, every_op_of_every_process_prints_and_parses)
{
    static const uint64_t defaults[] = {1, 2, 3};
    uint64_t seeds[3];
    size_t ns = cfs_test_seeds(defaults, 3, seeds);
    for (size_t si = 0; si < ns; si++) {
        printf("print every-op seed %" PRIu64 "\n", seeds[si]);
        struct every *e = calloc(1, sizeof(*e));
        rt_begin(&e->w, 50);
        cfs_fs_free(e->w.fs); /* the workload makes its own engine */
        cfs_sink sink = {every_append, rt_tee_sync, e};
        cr_assert_eq(cfs_allops_init(&e->a, seeds[si], &sink, 3000), 0);
        e->w.fs = NULL;
        while (cfs_fs_seq(e->a.fs) < 3000)
            cfs_allops_step(&e->a);
        uint64_t last = cfs_fs_seq(e->a.fs);
        cr_assert_eq(cfs_journal_close(e->w.j), 0);
        e->w.j = rt_jopen(e->w.dir, 0, 1, 0);

        /* every op appeared, and each line is a JSON object of its event */
        char *log = rt_log(e->w.j, 0, 0, NULL, 1);
        uint64_t ops = 0, seq = 0;
        for (char *line = log, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            cr_assert(nl, "every line ends");
            cr_assert(json_object_ok(line, (size_t)(nl - line)), "seed %" PRIu64 ": %.*s",
                      seeds[si], (int)(nl - line), line);
            seq++;
            char head[64];
            snprintf(head, sizeof(head), "{\"seq\":%" PRIu64 ",\"op\":\"", seq);
            cr_assert(strncmp(line, head, strlen(head)) == 0, "%.*s", (int)(nl - line), line);
            const cfs_event *ev = rt_event(&e->w, seq);
            ops |= UINT64_C(1) << ev->op;
            if (ev->data) {
                char h[64];
                snprintf(h, sizeof(h), "\"data_xxh3\":\"%016" PRIx64 "\"",
                         (uint64_t)XXH3_64bits(ev->data, (size_t)ev->length));
                char *at = strstr(line, h);
                cr_assert(at && at < nl, "seq %" PRIu64 ": %s", seq, h);
            }
        }
        cr_assert_eq(seq, last);
        for (uint16_t op = 1; op <= CFS_OP_MAX_; op++)
            cr_assert(ops & (UINT64_C(1) << op), "seed %" PRIu64 ": no %s event", seeds[si],
                      cfs_op_name(op));
        free(log);

        /* text: one line per event; fd-only ops name the fd's inode */
        log = rt_log(e->w.j, 0, 0, NULL, 0);
        size_t lines = 0;
        for (const char *c = log; *c; c++)
            lines += *c == '\n';
        cr_assert_eq(lines, last);
        free(log);
        cfs_stepper *s;
        char err[512];
        cr_assert_eq(cfs_stepper_open(e->w.j, 0, 0, NULL, &s, err, sizeof(err)), 0);
        cfs_step st;
        uint64_t checked = 0;
        while (cfs_stepper_next(s, &st) == 1) {
            const cfs_event *ev = st.ev;
            if (!names_only_an_fd(ev->op) || !e->fd_ino[ev->seq])
                continue;
            cr_assert_eq(st.ino, e->fd_ino[ev->seq], "seed %" PRIu64 " seq %" PRIu64
                         ": %s of pid %u fd %u is inode %" PRIu64 ", the stepper says %"
                         PRIu64, seeds[si], ev->seq, cfs_op_name(ev->op), ev->pid, ev->fd,
                         e->fd_ino[ev->seq], st.ino);
            checked++;
        }
        cr_assert_gt(checked, 100, "checked %" PRIu64, checked);
        cfs_stepper_close(s);
        cfs_allops_free(&e->a);
        free(e->fd_ino);
        rt_end(&e->w);
        free(e);
    }
}
