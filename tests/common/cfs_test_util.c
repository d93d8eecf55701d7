/*
 * cfs_test_util.c — see cfs_test_util.h.
 */
#define _GNU_SOURCE
#include "cfs_test_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */
/* PRNG                                                                     */

void cfs_rng_seed(cfs_rng *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t cfs_rng_next(cfs_rng *r)
{
    uint64_t z = (r->state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

uint64_t cfs_rng_below(cfs_rng *r, uint64_t n)
{
    /* The modulo bias is irrelevant for the small n tests use. */
    return n ? cfs_rng_next(r) % n : 0;
}

int cfs_rng_chance(cfs_rng *r, unsigned pct)
{
    return cfs_rng_below(r, 100) < pct;
}

void cfs_rng_bytes(cfs_rng *r, void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len >= 8) {
        uint64_t v = cfs_rng_next(r);
        memcpy(p, &v, 8);
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t v = cfs_rng_next(r);
        memcpy(p, &v, len);
    }
}

/* ---------------------------------------------------------------------- */
/* Environment                                                              */

uint64_t cfs_test_env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return dflt;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return dflt;
    return v;
}

size_t cfs_test_seeds(const uint64_t *defaults, size_t n, uint64_t *out)
{
    const char *s = getenv("CFS_TEST_SEED");
    if (s && *s && n > 0) {
        out[0] = cfs_test_env_u64("CFS_TEST_SEED", defaults[0]);
        return 1;
    }
    memcpy(out, defaults, n * sizeof *out);
    return n;
}

/* ---------------------------------------------------------------------- */
/* Events                                                                   */

static char *dup_str(const char *s, int *fail)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *fail = 1;
    return d;
}

int cfs_event_copy(cfs_event *dst, const cfs_event *src)
{
    int fail = 0;
    *dst = *src;
    dst->path = dup_str(src->path, &fail);
    dst->path2 = dup_str(src->path2, &fail);
    dst->name = dup_str(src->name, &fail);
    dst->name2 = dup_str(src->name2, &fail);
    dst->data = NULL;
    if (src->data) {
        /* Even a zero-length write keeps a non-NULL pointer, so a replay
         * sees exactly what the live call built. */
        void *d = malloc(src->length ? src->length : 1);
        if (d)
            memcpy(d, src->data, src->length);
        else
            fail = 1;
        dst->data = d;
    }
    if (fail) {
        cfs_event_release(dst);
        return -1;
    }
    return 0;
}

void cfs_event_release(cfs_event *ev)
{
    if (!ev)
        return;
    free((void *)ev->path);
    free((void *)ev->path2);
    free((void *)ev->name);
    free((void *)ev->name2);
    free((void *)ev->data);
    memset(ev, 0, sizeof *ev);
}

char *cfs_event_format(const cfs_event *ev, char *buf, size_t len)
{
    snprintf(buf, len,
             "seq=%" PRIu64 " %s pid=%" PRIu32 " t=%" PRIu64 " fd=%" PRIu32
             " fd2=%" PRIu32 " path=%s path2=%s dir=%" PRIu64 " name=%s dir2=%"
             PRIu64 " name2=%s ino=%" PRIu64 " ino2=%" PRIu64 " ofd=%" PRIu64
             " off=%" PRIu64 " len=%" PRIu64 " flags=%#" PRIx32 " mode=%#o"
             " uid=%" PRIu32 " gid=%" PRIu32 " rb=%#" PRIx64 " ri=%#" PRIx64,
             ev->seq, cfs_op_name(ev->op), ev->pid, ev->time, ev->fd, ev->fd2,
             ev->path ? ev->path : "-", ev->path2 ? ev->path2 : "-", ev->dir,
             ev->name ? ev->name : "-", ev->dir2, ev->name2 ? ev->name2 : "-",
             ev->ino, ev->ino2, ev->ofd, ev->offset, ev->length, ev->flags,
             (unsigned)ev->mode, ev->uid, ev->gid, ev->rights_base,
             ev->rights_inheriting);
    return buf;
}

static cfs_errno recorder_append(void *ctx, const cfs_event *ev)
{
    cfs_recorder *rec = ctx;
    if (rec->fail_next) {
        cfs_errno e = rec->fail_next;
        rec->fail_next = 0;
        return e;
    }
    if (rec->count == rec->cap) {
        size_t cap = rec->cap ? rec->cap * 2 : 1024;
        cfs_event *n = realloc(rec->events, cap * sizeof *n);
        if (!n) {
            rec->oom = 1;
            return CFS_ENOMEM;
        }
        rec->events = n;
        rec->cap = cap;
    }
    if (cfs_event_copy(&rec->events[rec->count], ev)) {
        rec->oom = 1;
        return CFS_ENOMEM;
    }
    rec->count++;
    return 0;
}

static cfs_errno recorder_sync(void *ctx)
{
    cfs_recorder *rec = ctx;
    rec->syncs++;
    return 0;
}

cfs_sink cfs_recorder_sink(cfs_recorder *rec)
{
    cfs_sink s = { recorder_append, recorder_sync, rec };
    return s;
}

void cfs_recorder_reset(cfs_recorder *rec)
{
    for (size_t i = 0; i < rec->count; i++)
        cfs_event_release(&rec->events[i]);
    free(rec->events);
    memset(rec, 0, sizeof *rec);
}

/* ---------------------------------------------------------------------- */
/* Tree snapshots                                                           */

static void msgf(char *msg, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void msgf(char *msg, size_t len, const char *fmt, ...)
{
    if (!msg || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
}

static cfs_tree_node *tree_push(cfs_tree *t)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        cfs_tree_node *n = realloc(t->nodes, cap * sizeof *n);
        if (!n)
            abort();
        t->nodes = n;
        t->cap = cap;
    }
    cfs_tree_node *n = &t->nodes[t->count++];
    memset(n, 0, sizeof *n);
    return n;
}

static char *join(const char *dir, const char *name, size_t name_len)
{
    size_t dl = strlen(dir);
    char *p = malloc(dl + 1 + name_len + 1);
    if (!p)
        abort();
    size_t o = 0;
    if (dl) {
        memcpy(p, dir, dl);
        p[dl] = '/';
        o = dl + 1;
    }
    memcpy(p + o, name, name_len);
    p[o + name_len] = 0;
    return p;
}

static int node_cmp(const void *a, const void *b)
{
    return strcmp(((const cfs_tree_node *)a)->path,
                  ((const cfs_tree_node *)b)->path);
}

void cfs_tree_free(cfs_tree *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->count; i++) {
        free(t->nodes[i].path);
        free(t->nodes[i].data);
    }
    free(t->nodes);
    memset(t, 0, sizeof *t);
}

/* Work list of directories still to list: inode (engine) and path. */
typedef struct dir_todo {
    cfs_ino ino;
    char *path;
} dir_todo;

static cfs_errno engine_read_file(cfs_fs *fs, cfs_fd dirfd, cfs_tree_node *n,
                                  char *msg, size_t msglen)
{
    cfs_fd fd;
    cfs_errno e = cfs_path_open(fs, dirfd, 0, n->path, 0,
                                CFS_RIGHT_FD_READ | CFS_RIGHT_FD_SEEK, 0, 0,
                                &fd);
    if (e) {
        msgf(msg, msglen, "engine walk: open %s: %s", n->path,
             cfs_errno_name(e));
        return e;
    }
    n->data = malloc(n->size ? n->size : 1);
    if (!n->data)
        abort();
    size_t got = 0;
    while (got < n->size) {
        size_t nr = 0;
        e = cfs_fd_pread(fs, fd, n->data + got, n->size - got, got, &nr);
        if (e || nr == 0)
            break;
        got += nr;
    }
    n->data_len = got;
    cfs_fd_close(fs, fd);
    if (e)
        msgf(msg, msglen, "engine walk: pread %s: %s", n->path,
             cfs_errno_name(e));
    return e;
}

cfs_errno cfs_tree_from_engine(cfs_fs *fs, cfs_fd dirfd, cfs_tree *out,
                               char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    size_t todo_n = 0, todo_cap = 16;
    dir_todo *todo = malloc(todo_cap * sizeof *todo);
    if (!todo)
        abort();
    todo[todo_n++] = (dir_todo){ CFS_INO_ROOT, strdup("") };
    cfs_errno err = 0;

    while (todo_n && !err) {
        dir_todo d = todo[--todo_n];
        /* Copy the names first: reading files below is a mutation, which
         * ends the life of the names cfs_dir_next() hands out. */
        size_t nn = 0, ncap = 16;
        char **names = malloc(ncap * sizeof *names);
        if (!names)
            abort();
        uint64_t cookie = CFS_DIRCOOKIE_START;
        for (unsigned guard = 0; guard < 100000; guard++) {
            cfs_dirent de;
            cfs_errno e = cfs_dir_next(fs, d.ino, cookie, &de);
            if (e == CFS_ENOENT)
                break;
            if (e) {
                msgf(msg, msglen, "engine walk: dir_next %s: %s",
                     *d.path ? d.path : ".", cfs_errno_name(e));
                err = e;
                break;
            }
            cookie = de.next;
            if ((de.name_len == 1 && de.name[0] == '.') ||
                (de.name_len == 2 && de.name[0] == '.' && de.name[1] == '.'))
                continue;
            if (nn == ncap) {
                ncap *= 2;
                names = realloc(names, ncap * sizeof *names);
                if (!names)
                    abort();
            }
            names[nn] = strndup(de.name, de.name_len);
            nn++;
        }
        for (size_t i = 0; i < nn; i++) {
            cfs_filestat st;
            char *path = join(d.path, names[i], strlen(names[i]));
            cfs_errno e = err ? err : cfs_lookup(fs, d.ino, names[i], &st);
            if (e) {
                if (!err)
                    msgf(msg, msglen, "engine walk: lookup %s: %s", path,
                         cfs_errno_name(e));
                err = e;
                free(path);
                continue;
            }
            cfs_tree_node *n = tree_push(out);
            n->path = path;
            n->filetype = st.filetype;
            n->size = st.size;
            n->nlink = st.nlink;
            n->perm = st.mode & 07777;
            if (st.filetype == CFS_FILETYPE_DIRECTORY) {
                if (todo_n == todo_cap) {
                    todo_cap *= 2;
                    todo = realloc(todo, todo_cap * sizeof *todo);
                    if (!todo)
                        abort();
                }
                todo[todo_n++] = (dir_todo){ st.ino, strdup(path) };
            } else if (st.filetype == CFS_FILETYPE_REGULAR_FILE) {
                err = engine_read_file(fs, dirfd, n, msg, msglen);
            } else if (st.filetype == CFS_FILETYPE_SYMBOLIC_LINK) {
                size_t cap = st.size + 1, used = 0;
                n->data = malloc(cap);
                if (!n->data)
                    abort();
                e = cfs_path_readlink(fs, dirfd, path, n->data, cap, &used);
                if (e) {
                    msgf(msg, msglen, "engine walk: readlink %s: %s", path,
                         cfs_errno_name(e));
                    err = e;
                }
                n->data_len = used;
            }
        }
        for (size_t i = 0; i < nn; i++)
            free(names[i]);
        free(names);
        free(d.path);
    }
    while (todo_n)
        free(todo[--todo_n].path);
    free(todo);
    if (out->count) /* qsort wants a non-NULL array even for 0 */
        qsort(out->nodes, out->count, sizeof *out->nodes, node_cmp);
    return err;
}

static uint8_t host_type(mode_t m)
{
    switch (m & S_IFMT) {
    case S_IFREG: return CFS_FILETYPE_REGULAR_FILE;
    case S_IFDIR: return CFS_FILETYPE_DIRECTORY;
    case S_IFLNK: return CFS_FILETYPE_SYMBOLIC_LINK;
    case S_IFCHR: return CFS_FILETYPE_CHARACTER_DEVICE;
    case S_IFBLK: return CFS_FILETYPE_BLOCK_DEVICE;
    case S_IFSOCK: return CFS_FILETYPE_SOCKET_STREAM;
    case S_IFIFO: return CFS_FILETYPE_FIFO;
    default: return CFS_FILETYPE_UNKNOWN;
    }
}

int cfs_tree_from_host(int rootfd, cfs_tree *out, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    size_t todo_n = 0, todo_cap = 16;
    char **todo = malloc(todo_cap * sizeof *todo);
    if (!todo)
        abort();
    todo[todo_n++] = strdup("");
    int err = 0;

    while (todo_n && !err) {
        char *dpath = todo[--todo_n];
        int dfd = openat(rootfd, *dpath ? dpath : ".",
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!dir) {
            err = errno;
            msgf(msg, msglen, "host walk: open %s: %s", dpath, strerror(err));
            if (dfd >= 0)
                close(dfd);
            free(dpath);
            break;
        }
        struct dirent *de;
        while ((de = readdir(dir)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            struct stat st;
            char *path = join(dpath, de->d_name, strlen(de->d_name));
            if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
                err = errno;
                msgf(msg, msglen, "host walk: stat %s: %s", path,
                     strerror(err));
                free(path);
                break;
            }
            cfs_tree_node *n = tree_push(out);
            n->path = path;
            n->filetype = host_type(st.st_mode);
            n->size = (uint64_t)st.st_size;
            n->nlink = st.st_nlink;
            n->perm = st.st_mode & 07777;
            if (S_ISDIR(st.st_mode)) {
                if (todo_n == todo_cap) {
                    todo_cap *= 2;
                    todo = realloc(todo, todo_cap * sizeof *todo);
                    if (!todo)
                        abort();
                }
                todo[todo_n++] = strdup(path);
            } else if (S_ISREG(st.st_mode)) {
                int fd = openat(dfd, de->d_name,
                                O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                n->data = malloc(n->size ? n->size : 1);
                if (fd < 0 || !n->data) {
                    err = fd < 0 ? errno : ENOMEM;
                    msgf(msg, msglen, "host walk: open %s: %s", path,
                         strerror(err));
                    if (fd >= 0)
                        close(fd);
                    break;
                }
                size_t got = 0;
                while (got < n->size) {
                    ssize_t r = pread(fd, n->data + got, n->size - got,
                                      (off_t)got);
                    if (r <= 0)
                        break;
                    got += (size_t)r;
                }
                n->data_len = got;
                close(fd);
            } else if (S_ISLNK(st.st_mode)) {
                n->data = malloc(n->size + 1);
                if (!n->data)
                    abort();
                ssize_t r = readlinkat(dfd, de->d_name, n->data, n->size + 1);
                n->data_len = r > 0 ? (size_t)r : 0;
            }
        }
        closedir(dir);
        free(dpath);
    }
    while (todo_n)
        free(todo[--todo_n]);
    free(todo);
    if (out->count) /* qsort wants a non-NULL array even for 0 */
        qsort(out->nodes, out->count, sizeof *out->nodes, node_cmp);
    return err;
}

static const char *type_name(uint8_t t)
{
    switch (t) {
    case CFS_FILETYPE_REGULAR_FILE: return "file";
    case CFS_FILETYPE_DIRECTORY: return "dir";
    case CFS_FILETYPE_SYMBOLIC_LINK: return "symlink";
    case CFS_FILETYPE_CHARACTER_DEVICE: return "chardev";
    case CFS_FILETYPE_BLOCK_DEVICE: return "blockdev";
    case CFS_FILETYPE_SOCKET_STREAM: return "socket";
    case CFS_FILETYPE_FIFO: return "fifo";
    default: return "other";
    }
}

int cfs_tree_diff(const cfs_tree *a, const char *al, const cfs_tree *b,
                  const char *bl, char *msg, size_t msglen)
{
    size_t i = 0, j = 0;
    while (i < a->count || j < b->count) {
        int c = i == a->count   ? 1
                : j == b->count ? -1
                                : strcmp(a->nodes[i].path, b->nodes[j].path);
        if (c < 0) {
            msgf(msg, msglen, "%s only in %s (%s)", a->nodes[i].path, al,
                 type_name(a->nodes[i].filetype));
            return 1;
        }
        if (c > 0) {
            msgf(msg, msglen, "%s only in %s (%s)", b->nodes[j].path, bl,
                 type_name(b->nodes[j].filetype));
            return 1;
        }
        const cfs_tree_node *x = &a->nodes[i++], *y = &b->nodes[j++];
        if (x->filetype != y->filetype) {
            msgf(msg, msglen, "%s: type %s: %s, %s: %s", x->path, al,
                 type_name(x->filetype), bl, type_name(y->filetype));
            return 1;
        }
        if (x->nlink != y->nlink) {
            msgf(msg, msglen, "%s (%s): nlink %s: %" PRIu64 ", %s: %" PRIu64,
                 x->path, type_name(x->filetype), al, x->nlink, bl, y->nlink);
            return 1;
        }
        if (x->perm != y->perm) {
            msgf(msg, msglen, "%s (%s): mode %s: %04o, %s: %04o", x->path,
                 type_name(x->filetype), al, (unsigned)x->perm, bl,
                 (unsigned)y->perm);
            return 1;
        }
        if (x->filetype == CFS_FILETYPE_DIRECTORY)
            continue;
        if (x->size != y->size) {
            msgf(msg, msglen, "%s (%s): size %s: %" PRIu64 ", %s: %" PRIu64,
                 x->path, type_name(x->filetype), al, x->size, bl, y->size);
            return 1;
        }
        if (x->data_len != y->data_len ||
            (x->data_len && memcmp(x->data, y->data, x->data_len))) {
            size_t k = 0;
            while (k < x->data_len && k < y->data_len && x->data[k] == y->data[k])
                k++;
            msgf(msg, msglen,
                 "%s (%s): contents differ at byte %zu (%s has %zu bytes, %s "
                 "has %zu)",
                 x->path, type_name(x->filetype), k, al, x->data_len, bl,
                 y->data_len);
            return 1;
        }
    }
    return 0;
}

uint64_t cfs_test_flip_frame_byte(const char *dir, size_t num, size_t den,
                                  size_t extra, size_t byte, uint8_t mask)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    int fd = open(path, O_RDWR);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    uint8_t *img = malloc((size_t)sb.st_size);
    uint64_t first = 0;
    if (img && pread(fd, img, (size_t)sb.st_size, 0) == sb.st_size) {
        static off_t frames[4096];
        size_t nf = 0;
        for (off_t o = 0; o + 48 < sb.st_size && nf < 4096; o++)
            if (memcmp(img + o, "CFSF", 4) == 0)
                frames[nf++] = o;
        size_t pick = den ? nf * num / den + extra : nf;
        if (nf >= 10 && pick < nf) {
            off_t at = frames[pick];
            for (int i = 7; i >= 0; i--)
                first = first << 8 | img[at + 8 + i];
            uint8_t b = img[at + (off_t)byte] ^ mask;
            if (pwrite(fd, &b, 1, at + (off_t)byte) != 1)
                first = 0;
        }
    }
    free(img);
    close(fd);
    return first;
}

char *cfs_test_tmpdir(const char *prefix)
{
    char tmpl[256];
    snprintf(tmpl, sizeof(tmpl), "/tmp/%s-XXXXXX", prefix);
    /* no Criterion here: the fuzzers link this file too */
    char *d = mkdtemp(tmpl);
    char *copy = d ? strdup(d) : NULL;
    if (!copy) {
        fprintf(stderr, "mkdtemp %s: %s\n", tmpl, strerror(errno));
        abort();
    }
    return copy;
}

void cfs_test_rmtree(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

int cfs_test_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    fflush(NULL);
    int st = system(cmd);
    if (st == -1)
        return 127;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void cfs_test_msleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void cfs_test_fill_text(char *buf, size_t len, uint64_t seed)
{
    static const char *const words[] = {"the", "journal", "keeps", "every", "event",
                                        "of", "a", "guest", "and", "its", "files,",
                                        "snapshots", "replay", "them.", "Nothing", "is",
                                        "lost", "when", "disks", "fill", "up."};
    uint64_t x = seed;
    for (size_t at = 0; at < len;) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        const char *w = words[(x >> 33) % (sizeof(words) / sizeof(words[0]))];
        for (; *w && at < len; w++)
            buf[at++] = *w;
        if (at < len)
            buf[at++] = (x >> 20) % 9 ? ' ' : '\n';
    }
}

int cfs_test_fuse_unmount(pid_t pid, const char *mnt)
{
    int ok = 0;
    for (int i = 0; i < 100 && !ok; i++) {
        if (cfs_test_sh("fusermount3 -u '%s' 2>/dev/null", mnt) == 0)
            ok = 1;
        else
            cfs_test_msleep(100);
    }
    if (!ok)
        cfs_test_sh("fusermount3 -u -z '%s' 2>/dev/null", mnt);
    int status = 0;
    for (int i = 0; i < 1200; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (r < 0)
            return 126;
        cfs_test_msleep(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return 125;
}

const char *cfs_test_fuse_transport(void)
{
    const char *t = getenv("CFS_TEST_FUSE_TRANSPORT");
    return t ? t : "";
}

/* Turn the kernel's FUSE over io_uring on; false with a message in err if
 * it cannot be. */
static bool enable_fuse_uring(char *err, size_t cap)
{
    const char *knob = "/sys/module/fuse/parameters/enable_uring";
    FILE *f = fopen(knob, "r+");
    char v[8] = "";
    if (f && fgets(v, sizeof v, f) && v[0] == 'Y') {
        fclose(f);
        return true;
    }
    if (f) {
        rewind(f);
        bool ok = fputs("Y\n", f) >= 0;
        ok = fclose(f) == 0 && ok;
        if (ok)
            return true;
    }
    snprintf(err, cap, "cannot turn FUSE over io_uring on (%s): %s", knob, strerror(errno));
    return false;
}

int cfs_test_io_urings(pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char link[320], target[128];
        snprintf(link, sizeof link, "%s/%s", dir, de->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len > 0) {
            target[len] = '\0';
            n += strcmp(target, "anon_inode:[io_uring]") == 0;
        }
    }
    closedir(d);
    return n;
}

int cfs_test_possible_cpus(void)
{
    FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
    int n = 0, a, b;
    char sep = ',';
    while (f && sep == ',' && fscanf(f, "%d", &a) == 1) {
        b = a;
        if (fscanf(f, "%c", &sep) == 1 && sep == '-' && fscanf(f, "%d%c", &b, &sep) < 1)
            break;
        n += b - a + 1;
    }
    if (f)
        fclose(f);
    return n;
}

pid_t cfs_test_fuse_mount(const char *bin, const char *j, const char *mnt,
                          const char *const *extra, char *err, size_t cap)
{
    const char *transport = cfs_test_fuse_transport();
    if (!strcmp(transport, "io_uring") && !enable_fuse_uring(err, cap))
        return 0;
    struct stat before;
    if (stat(mnt, &before) != 0) {
        snprintf(err, cap, "%s: %s", mnt, strerror(errno));
        return 0;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, cap, "fork: %s", strerror(errno));
        return 0;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        /* as from a terminal: a shell without job control would have left
         * SIGINT ignored, and libfuse then leaves it so */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        const char *argv[16] = {"chronofs", "mount", j, mnt, "--foreground"};
        int n = 5;
        for (; extra && extra[n - 5] && n < 13; n++)
            argv[n] = extra[n - 5];
        if (!strcmp(transport, "dev")) {
            argv[n++] = "--io-uring";
            argv[n++] = "off";
        }
        argv[n] = NULL;
        execv(bin, (char **)argv);
        _exit(127);
    }
    for (int i = 0; i < 1200; i++) { /* 60 s, for slow sanitizer builds */
        struct stat st;
        if (stat(mnt, &st) == 0 && st.st_dev != before.st_dev)
            return pid;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            snprintf(err, cap, "chronofs mount exited (status %d) before mounting", status);
            return 0;
        }
        cfs_test_msleep(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    snprintf(err, cap, "%s did not get mounted", mnt);
    return 0;
}
