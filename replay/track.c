/*
 * track.c — an engine advanced event by event, plus what it takes to show
 * each event the way a person thinks: paths instead of inode numbers.
 *
 * The engine answers "what is in directory D" and "what is inode I", but
 * not "what is the path of inode I" (it would have to search) nor "which
 * inode is fd F of process P open on" (only for the caller's own process,
 * and only with the right rights). So the tracker keeps, beside its engine:
 *
 *   inode records  ino -> the entries naming it (dir, name), in the order
 *                  they were made; a directory has one, so the path of
 *                  anything is a walk up first links to the root. When the
 *                  last entry goes the record keeps the last path (an open
 *                  file lives on unlinked) until the engine forgets the
 *                  inode. Symlink records keep their target (for
 *                  resolving paths without an fd).
 *   fd tables      per process: fd -> inode, flags (stdio, preopen,
 *                  close-on-exec: what CLOSE_CLOEXEC spares), and the entry
 *                  the fd was opened by, shared by dups and forks.
 *
 * Both are updated from the events alone, after the engine accepted each
 * one, mirroring engine/apply.c. They start from the state the engine is
 * in, read from the engine: the names by walking the tree, symlink targets
 * through a clone, process 1's fds by asking for them. That is complete
 * for the initial state (seq 0, the usual start); from a snapshot (a
 * compacted or forked journal) other processes' fds stay unknown, as the engine
 * cannot list them.
 *
 * Memory: one record per inode alive in the engine, one slot per fd.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define FD_STDIO 0x1u
#define FD_PREOPEN 0x2u
#define FD_CLOEXEC 0x4u

struct link {
    cfs_ino dir;
    char *name;
};

struct irec {
    cfs_ino ino;
    uint8_t type;         /* CFS_FILETYPE_* */
    uint32_t nlinks, cap;
    struct link *links;
    char *target;         /* symlinks */
    char *gone;           /* the last path, once nlinks is 0 */
    const char *special;  /* stdio: "<stdout>"... */
};

/* The entry an fd was opened by; shared by dup and fork (refcounted). */
struct hint {
    uint32_t refs;
    cfs_ino dir;
    char name[];
};

struct fdrec {
    cfs_ino ino;          /* 0: the slot is free */
    unsigned flags;       /* FD_* */
    struct hint *hint;
};

struct proc_fds {
    uint32_t pid;
    uint32_t cap;
    struct fdrec *fds;
};

struct track {
    cfs_fs *fs;
    struct irec **itab;   /* open addressing on ino, linear probing */
    size_t icap, icount;
    cfs_ino *orphans;     /* records with no names left */
    size_t norph, corph;
    struct proc_fds *procs;
    size_t nprocs, cprocs;
    const struct irec **chain; /* scratch for path walks */
    size_t cchain;
    struct sbuf tmp;
    bool broken;          /* a record could not be kept: stop */
};

/* ---- inode records ------------------------------------------------------- */

static size_t slot_of(const struct track *t, cfs_ino ino)
{
    return (size_t)((ino * UINT64_C(0x9E3779B97F4A7C15)) >> 17) & (t->icap - 1);
}

static struct irec *iget(const struct track *t, cfs_ino ino)
{
    for (size_t i = slot_of(t, ino);; i = (i + 1) & (t->icap - 1)) {
        struct irec *r = t->itab[i];
        if (!r || r->ino == ino)
            return r;
    }
}

static int iput(struct track *t, struct irec *r)
{
    if (2 * (t->icount + 1) > t->icap) {
        size_t ncap = t->icap * 2;
        struct irec **n = calloc(ncap, sizeof(*n));
        if (!n)
            return -1;
        struct irec **old = t->itab;
        size_t ocap = t->icap;
        t->itab = n;
        t->icap = ncap;
        for (size_t i = 0; i < ocap; i++) {
            if (!old[i])
                continue;
            size_t k = slot_of(t, old[i]->ino);
            while (t->itab[k])
                k = (k + 1) & (t->icap - 1);
            t->itab[k] = old[i];
        }
        free(old);
    }
    size_t k = slot_of(t, r->ino);
    while (t->itab[k])
        k = (k + 1) & (t->icap - 1);
    t->itab[k] = r;
    t->icount++;
    return 0;
}

static void irec_free(struct irec *r)
{
    for (uint32_t i = 0; i < r->nlinks; i++)
        free(r->links[i].name);
    free(r->links);
    free(r->target);
    free(r->gone);
    free(r);
}

/* Remove and free the record of ino (backward-shift deletion). */
static void idel(struct track *t, cfs_ino ino)
{
    size_t i = slot_of(t, ino);
    while (t->itab[i] && t->itab[i]->ino != ino)
        i = (i + 1) & (t->icap - 1);
    if (!t->itab[i])
        return;
    irec_free(t->itab[i]);
    t->itab[i] = NULL;
    t->icount--;
    for (size_t j = (i + 1) & (t->icap - 1); t->itab[j]; j = (j + 1) & (t->icap - 1)) {
        size_t home = slot_of(t, t->itab[j]->ino);
        /* move j back to i unless its home lies cyclically in (i, j] */
        bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            t->itab[i] = t->itab[j];
            t->itab[j] = NULL;
            i = j;
        }
    }
}

static struct irec *irec_new(struct track *t, cfs_ino ino, uint8_t type)
{
    struct irec *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->ino = ino;
    r->type = type;
    if (iput(t, r)) {
        free(r);
        return NULL;
    }
    return r;
}

static int add_link(struct irec *r, cfs_ino dir, const char *name)
{
    if (r->nlinks == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 1;
        struct link *n = realloc(r->links, cap * sizeof(*n));
        if (!n)
            return -1;
        r->links = n;
        r->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return -1;
    r->links[r->nlinks].dir = dir;
    r->links[r->nlinks].name = copy;
    r->nlinks++;
    return 0;
}

static int find_link(const struct irec *r, cfs_ino dir, const char *name)
{
    for (uint32_t i = 0; i < r->nlinks; i++)
        if (r->links[i].dir == dir && strcmp(r->links[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int push_orphan(struct track *t, cfs_ino ino)
{
    if (t->norph == t->corph) {
        size_t cap = t->corph ? t->corph * 2 : 8;
        cfs_ino *n = realloc(t->orphans, cap * sizeof(*n));
        if (!n)
            return -1;
        t->orphans = n;
        t->corph = cap;
    }
    t->orphans[t->norph++] = ino;
    return 0;
}

/* Forget the records of unnamed inodes the engine no longer has. */
static void sweep(struct track *t)
{
    cfs_filestat st;
    size_t w = 0;
    for (size_t i = 0; i < t->norph; i++) {
        cfs_ino ino = t->orphans[i];
        const struct irec *r = iget(t, ino);
        if (!r || r->nlinks)
            continue; /* gone already, or (cannot happen) named again */
        if (cfs_getattr(t->fs, ino, &st) == CFS_ENOENT)
            idel(t, ino);
        else
            t->orphans[w++] = ino;
    }
    t->norph = w;
}

/* ---- paths ---------------------------------------------------------------- */

/*
 * The path of entry `name` in directory `dir`: the directory's path, by
 * first links up to the root, then the name. Iterative; the walk is
 * bounded by the number of records (parent links form a tree).
 */
static void entry_path(struct track *t, cfs_ino dir, const char *name,
                       struct sbuf *b, int *unlinked)
{
    size_t n = 0;
    cfs_ino cur = dir;
    const char *prefix = NULL; /* the last path of an unnamed ancestor */
    bool unknown = false;
    while (cur != CFS_INO_ROOT) {
        const struct irec *r = iget(t, cur);
        if (r && r->nlinks == 0) {
            *unlinked = 1;
            prefix = r->gone;
        }
        if (!r || r->nlinks == 0 || n > t->icount) {
            unknown = !prefix;
            break;
        }
        if (n == t->cchain) {
            size_t cap = t->cchain ? t->cchain * 2 : 32;
            const struct irec **c = realloc(t->chain, cap * sizeof(*c));
            if (!c) {
                b->oom = true;
                return;
            }
            t->chain = c;
            t->cchain = cap;
        }
        t->chain[n++] = r;
        cur = r->links[0].dir;
    }
    if (unknown)
        sb_printf(b, "<inode %" PRIu64 ">", cur);
    else if (prefix)
        sb_puts(b, prefix);
    while (n--) {
        sb_putc(b, '/');
        sb_puts(b, t->chain[n]->links[0].name);
    }
    sb_putc(b, '/');
    sb_puts(b, name);
}

void track_path_of(struct track *t, cfs_ino ino, struct sbuf *b, int *unlinked)
{
    sb_reset(b);
    const struct irec *r = iget(t, ino);
    if (ino == CFS_INO_ROOT) {
        sb_putc(b, '/');
    } else if (!r) {
        sb_printf(b, "<inode %" PRIu64 ">", ino);
    } else if (r->special) {
        sb_puts(b, r->special);
    } else if (r->nlinks == 0) {
        if (r->gone)
            sb_puts(b, r->gone);
        else
            sb_printf(b, "<inode %" PRIu64 ">", ino);
        *unlinked = 1;
    } else {
        entry_path(t, r->links[0].dir, r->links[0].name, b, unlinked);
    }
}

const char *track_link_target(struct track *t, cfs_ino ino)
{
    const struct irec *r = iget(t, ino);
    return r ? r->target : NULL;
}

/* ---- fd tables ------------------------------------------------------------- */

static struct proc_fds *proc_find(struct track *t, uint32_t pid)
{
    for (size_t i = 0; i < t->nprocs; i++)
        if (t->procs[i].pid == pid)
            return &t->procs[i];
    return NULL;
}

static struct proc_fds *proc_add(struct track *t, uint32_t pid)
{
    if (t->nprocs == t->cprocs) {
        size_t cap = t->cprocs ? t->cprocs * 2 : 4;
        struct proc_fds *n = realloc(t->procs, cap * sizeof(*n));
        if (!n)
            return NULL;
        t->procs = n;
        t->cprocs = cap;
    }
    struct proc_fds *p = &t->procs[t->nprocs++];
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    return p;
}

static struct fdrec *fd_get(struct proc_fds *p, cfs_fd fd)
{
    return p && fd < p->cap && p->fds[fd].ino ? &p->fds[fd] : NULL;
}

static struct fdrec *fd_room(struct proc_fds *p, cfs_fd fd)
{
    if (fd >= p->cap) {
        uint32_t cap = p->cap ? p->cap : 16;
        while (cap <= fd)
            cap *= 2;
        struct fdrec *n = realloc(p->fds, cap * sizeof(*n));
        if (!n)
            return NULL;
        memset(n + p->cap, 0, (cap - p->cap) * sizeof(*n));
        p->fds = n;
        p->cap = cap;
    }
    return &p->fds[fd];
}

static void hint_unref(struct hint *h)
{
    if (h && --h->refs == 0)
        free(h);
}

static void fd_clear(struct proc_fds *p, cfs_fd fd)
{
    if (!p || fd >= p->cap)
        return;
    hint_unref(p->fds[fd].hint);
    memset(&p->fds[fd], 0, sizeof(p->fds[fd]));
}

static void proc_clear(struct proc_fds *p)
{
    for (uint32_t fd = 0; fd < p->cap; fd++)
        fd_clear(p, fd);
}

cfs_ino track_fd_ino(struct track *t, uint32_t pid, cfs_fd fd)
{
    const struct fdrec *r = fd_get(proc_find(t, pid), fd);
    return r ? r->ino : 0;
}

/* ---- life cycle ------------------------------------------------------------- */

cfs_fs *track_fs(struct track *t)
{
    return t->fs;
}

void track_free(struct track *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->icap; i++)
        if (t->itab[i])
            irec_free(t->itab[i]);
    free(t->itab);
    for (size_t i = 0; i < t->nprocs; i++) {
        proc_clear(&t->procs[i]);
        free(t->procs[i].fds);
    }
    free(t->procs);
    free(t->orphans);
    free(t->chain);
    sb_free(&t->tmp);
    cfs_fs_free(t->fs);
    free(t);
}

/* The names of everything reachable from the root, breadth first. */
static int seed_names(struct track *t)
{
    cfs_ino *todo = malloc(16 * sizeof(*todo));
    size_t n = 0, cap = 16;
    char name[CFS_NAME_MAX + 1];
    int rc = todo ? 0 : -1;
    if (todo)
        todo[n++] = CFS_INO_ROOT;
    for (size_t i = 0; !rc && i < n; i++) {
        cfs_dirent de;
        for (uint64_t c = CFS_DIRCOOKIE_START; !rc && cfs_dir_next(t->fs, todo[i], c, &de) == 0;
             c = de.next) {
            if ((de.name_len == 1 && de.name[0] == '.') ||
                (de.name_len == 2 && de.name[0] == '.' && de.name[1] == '.'))
                continue;
            memcpy(name, de.name, de.name_len);
            name[de.name_len] = 0;
            struct irec *r = iget(t, de.ino);
            if (!r && !(r = irec_new(t, de.ino, de.filetype))) {
                rc = -1;
            } else if (add_link(r, todo[i], name)) {
                rc = -1;
            } else if (de.filetype == CFS_FILETYPE_DIRECTORY) {
                if (n == cap) {
                    cfs_ino *g = realloc(todo, 2 * cap * sizeof(*todo));
                    if (!g) {
                        rc = -1;
                        break;
                    }
                    todo = g;
                    cap *= 2;
                }
                todo[n++] = de.ino;
            }
        }
    }
    free(todo);
    return rc;
}

/* Symlink targets, read through a clone (the engine has no readlink by
 * inode). A target that cannot be read stays unknown: paths through that
 * symlink then resolve to nothing. */
static int seed_targets(struct track *t)
{
    struct reader rd;
    bool open = false;
    char *buf = NULL;
    int rc = 0;
    for (size_t i = 0; !rc && i < t->icap; i++) {
        struct irec *r = t->itab[i];
        if (!r || r->type != CFS_FILETYPE_SYMBOLIC_LINK || r->target)
            continue;
        if (!open && (reader_open(&rd, t->fs, NULL, 0) ||
                      !(buf = malloc(CFS_PATH_MAX + 1)))) {
            rc = -1;
            break;
        }
        open = true;
        int unl = 0;
        size_t used = 0;
        track_path_of(t, r->ino, &t->tmp, &unl);
        if (cfs_path_readlink(rd.fs, rd.root, sb_str(&t->tmp), buf, CFS_PATH_MAX, &used) == 0) {
            buf[used] = 0;
            if (!(r->target = strdup(buf)))
                rc = -1;
        }
    }
    if (open)
        reader_close(&rd);
    free(buf);
    return rc;
}

/*
 * Process 1's fds, probed through the calls it may make (an fd whose rights
 * do not allow fd_filestat_get stays unknown). Other processes' fds cannot
 * be asked for: in the initial state there are none.
 */
static int seed_fds(struct track *t)
{
    struct proc_fds *p = proc_add(t, cfs_fs_pid(t->fs));
    if (!p)
        return -1;
    for (cfs_fd fd = 0; fd < 1024; fd++) {
        cfs_fdstat fst;
        cfs_filestat st;
        if (cfs_fd_fdstat_get(t->fs, fd, &fst) || cfs_fd_filestat_get(t->fs, fd, &st))
            continue;
        struct fdrec *r = fd_room(p, fd);
        if (!r)
            return -1;
        r->ino = st.ino;
        cfs_prestat ps;
        int cloexec = 0;
        if (cfs_fd_prestat_get(t->fs, fd, &ps) == 0)
            r->flags |= FD_PREOPEN;
        if (st.filetype == CFS_FILETYPE_CHARACTER_DEVICE)
            r->flags |= FD_STDIO;
        if (cfs_fd_get_cloexec(t->fs, fd, &cloexec) == 0 && cloexec)
            r->flags |= FD_CLOEXEC;
    }
    return 0;
}

/* Records for the state the engine is in, read from the engine itself
 * rather than restated here. */
static int track_seed(struct track *t)
{
    static const char *const stdio_names[] = {"<stdin>", "<stdout>", "<stderr>"};
    cfs_filestat st;
    if (!irec_new(t, CFS_INO_ROOT, CFS_FILETYPE_DIRECTORY))
        return -1;
    for (cfs_ino ino = CFS_INO_STDIN; ino <= CFS_INO_STDERR; ino++) {
        struct irec *r;
        if (cfs_getattr(t->fs, ino, &st) == 0) {
            if (!(r = irec_new(t, ino, st.filetype)))
                return -1;
            r->special = stdio_names[ino - CFS_INO_STDIN];
        }
    }
    return seed_names(t) || seed_targets(t) || seed_fds(t) ? -1 : 0;
}

struct track *track_from(cfs_fs *fs)
{
    struct track *t = fs ? calloc(1, sizeof(*t)) : NULL;
    if (!t) {
        cfs_fs_free(fs);
        return NULL;
    }
    t->fs = fs;
    t->icap = 256;
    t->itab = calloc(t->icap, sizeof(*t->itab));
    if (!t->itab || track_seed(t)) {
        track_free(t);
        return NULL;
    }
    return t;
}

struct track *track_new(void)
{
    return track_from(cfs_fs_new(NULL));
}

static int saw_event(void *ctx, const cfs_event *ev)
{
    (void)ev;
    *(bool *)ctx = true;
    return 1;
}

bool track_history_missing(cfs_journal *j)
{
    /* compacted: seq 1's frame is gone; received from a journal whose
     * head was a snapshot: no events at all, yet a head past 0 */
    bool seen = false;
    int rc = cfs_journal_foreach(j, 1, 1, saw_event, &seen);
    return rc == CFS_JE_NOTFOUND || (!seen && rc >= 0 && cfs_journal_committed(j) > 0);
}

int track_open_at(cfs_journal *j, uint64_t seq, struct track **out, bool *partial,
                  char *err, size_t cap)
{
    *partial = false;
    struct track *t = track_new();
    if (!t)
        return set_err(err, cap, CFS_JE_NOMEM, "replay: out of memory");
    int rc = track_replay(t, j, seq, NULL, NULL, err, cap);
    if (rc == CFS_JE_NOTFOUND && cfs_fs_seq(t->fs) == 0 && track_history_missing(j)) {
        /* start from a snapshot: names from its tree, fds as far as known */
        track_free(t);
        t = NULL;
        cfs_fs *fs;
        rc = cfs_replay_state_at(j, seq, NULL, &fs, err, cap);
        if (!rc && !(t = track_from(fs)))
            rc = set_err(err, cap, CFS_JE_NOMEM, "replay: out of memory");
        *partial = rc == 0;
    }
    if (rc) {
        track_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* ---- applying ---------------------------------------------------------------- */

bool op_changes_names(const cfs_event *ev)
{
    switch (ev->op) {
    case CFS_OP_OPEN:
        return ev->flags & CFS_EVF_OPEN_CREATED;
    case CFS_OP_MKDIR:
    case CFS_OP_RMDIR:
    case CFS_OP_UNLINK:
    case CFS_OP_RENAME:
    case CFS_OP_LINK:
    case CFS_OP_SYMLINK:
    case CFS_OP_MKNOD:
        return true;
    default:
        return false;
    }
}

static int create_rec(struct track *t, const cfs_event *ev, uint8_t type)
{
    struct irec *r = irec_new(t, ev->ino, type);
    if (!r || add_link(r, ev->dir, ev->name))
        return -1;
    if (type == CFS_FILETYPE_SYMBOLIC_LINK && !(r->target = strdup(ev->path)))
        return -1;
    return 0;
}

/* Entry dir/name of inode ino goes away. */
static int drop_link(struct track *t, cfs_ino ino, cfs_ino dir, const char *name)
{
    struct irec *r = iget(t, ino);
    int k = r ? find_link(r, dir, name) : -1;
    if (k < 0)
        return 0; /* the engine accepted it, so this cannot happen */
    if (r->nlinks == 1) {
        int unl = 0;
        sb_reset(&t->tmp);
        entry_path(t, dir, name, &t->tmp, &unl);
        free(r->gone);
        if (t->tmp.oom || !(r->gone = strdup(sb_str(&t->tmp))))
            return -1;
        if (push_orphan(t, ino))
            return -1;
    }
    free(r->links[k].name);
    memmove(&r->links[k], &r->links[k + 1], (r->nlinks - (uint32_t)k - 1) * sizeof(r->links[0]));
    r->nlinks--;
    return 0;
}

static int apply_names(struct track *t, const cfs_event *ev)
{
    struct irec *r;
    int k;
    switch (ev->op) {
    case CFS_OP_OPEN:
        if (ev->flags & CFS_EVF_OPEN_CREATED)
            return create_rec(t, ev, CFS_FILETYPE_REGULAR_FILE);
        return 0;
    case CFS_OP_MKNOD:
        return create_rec(t, ev, CFS_FILETYPE_REGULAR_FILE);
    case CFS_OP_MKDIR:
        return create_rec(t, ev, CFS_FILETYPE_DIRECTORY);
    case CFS_OP_SYMLINK:
        return create_rec(t, ev, CFS_FILETYPE_SYMBOLIC_LINK);
    case CFS_OP_UNLINK:
    case CFS_OP_RMDIR:
        return drop_link(t, ev->ino, ev->dir, ev->name);
    case CFS_OP_RENAME:
        if (ev->ino2 && drop_link(t, ev->ino2, ev->dir2, ev->name2))
            return -1;
        r = iget(t, ev->ino);
        if (!r || (k = find_link(r, ev->dir, ev->name)) < 0)
            return 0;
        {
            char *name = strdup(ev->name2);
            if (!name)
                return -1;
            free(r->links[k].name);
            r->links[k].name = name;
            r->links[k].dir = ev->dir2;
        }
        return 0;
    case CFS_OP_LINK:
        r = iget(t, ev->ino);
        return r ? add_link(r, ev->dir2, ev->name2) : 0;
    default:
        return 0;
    }
}

static int apply_fds(struct track *t, const cfs_event *ev)
{
    struct proc_fds *p = proc_find(t, ev->pid), *c;
    struct fdrec *r, *src;
    switch (ev->op) {
    case CFS_OP_OPEN:
    case CFS_OP_PREOPEN:
        /* a process unknown so far: started before a snapshot we began at */
        if ((!p && !(p = proc_add(t, ev->pid))) || !(r = fd_room(p, ev->fd2)))
            return -1;
        fd_clear(p, ev->fd2);
        r->ino = ev->ino;
        if (ev->op == CFS_OP_PREOPEN) {
            r->flags = FD_PREOPEN;
        } else if (ev->name) {
            size_t len = strlen(ev->name);
            struct hint *h = malloc(sizeof(*h) + len + 1);
            if (!h)
                return -1;
            h->refs = 1;
            h->dir = ev->dir;
            memcpy(h->name, ev->name, len + 1);
            r->hint = h;
        }
        return 0;
    case CFS_OP_CLOSE:
        fd_clear(p, ev->fd);
        return 0;
    case CFS_OP_DUP:
        if (!(src = fd_get(p, ev->fd)))
            return 0;
        {
            struct fdrec copy = *src;
            if (!(r = fd_room(p, ev->fd2)))
                return -1;
            *r = copy;
        }
        r->flags &= FD_STDIO; /* a dup is no preopen; stdio stays stdio */
        if (ev->flags & CFS_EVF_CLOEXEC)
            r->flags |= FD_CLOEXEC;
        if (r->hint)
            r->hint->refs++;
        return 0;
    case CFS_OP_RENUMBER:
        if (ev->fd == ev->fd2 || !(src = fd_get(p, ev->fd)) || !fd_get(p, ev->fd2))
            return 0;
        fd_clear(p, ev->fd2);
        p->fds[ev->fd2] = *src;
        memset(src, 0, sizeof(*src));
        return 0;
    case CFS_OP_SET_CLOEXEC:
        if ((r = fd_get(p, ev->fd)))
            r->flags = (r->flags & ~FD_CLOEXEC) |
                       ((ev->flags & CFS_EVF_CLOEXEC) ? FD_CLOEXEC : 0);
        return 0;
    case CFS_OP_CLOSE_CLOEXEC:
        /* stdio and preopens stay, as in the engine */
        for (uint32_t fd = 0; p && fd < p->cap; fd++) {
            unsigned fl = p->fds[fd].flags & (FD_CLOEXEC | FD_STDIO | FD_PREOPEN);
            if (p->fds[fd].ino && fl == FD_CLOEXEC)
                fd_clear(p, fd);
        }
        return 0;
    case CFS_OP_CLOSE_ALL:
        if (p)
            proc_clear(p);
        return 0;
    case CFS_OP_FORK:
        if (!p) /* its parent's fds are unknown: so are its own */
            return proc_add(t, ev->fd2) ? 0 : -1;
        {
            size_t pi = (size_t)(p - t->procs);
            if (!(c = proc_add(t, ev->fd2)))
                return -1;
            p = &t->procs[pi]; /* proc_add may have moved the array */
            if (p->cap && !(c->fds = malloc(p->cap * sizeof(*c->fds))))
                return -1;
            c->cap = p->cap;
            for (uint32_t fd = 0; fd < p->cap; fd++) {
                c->fds[fd] = p->fds[fd];
                if (c->fds[fd].hint)
                    c->fds[fd].hint->refs++;
            }
        }
        return 0;
    case CFS_OP_EXIT:
        if (p) {
            proc_clear(p);
            free(p->fds);
            *p = t->procs[--t->nprocs];
        }
        return 0;
    default:
        return 0;
    }
}

static bool may_free_inodes(uint16_t op)
{
    switch (op) {
    case CFS_OP_UNLINK:
    case CFS_OP_RMDIR:
    case CFS_OP_RENAME:
    case CFS_OP_CLOSE:
    case CFS_OP_RENUMBER:
    case CFS_OP_CLOSE_CLOEXEC:
    case CFS_OP_CLOSE_ALL:
    case CFS_OP_EXIT:
        return true;
    default:
        return false;
    }
}

#ifndef NDEBUG
/*
 * assert_track: the records agree with the engine, checked after every
 * event in debug builds while the state is small (as the engine's own
 * check): every entry reachable from the root is a link of its inode's
 * record and every record's link is an entry naming it; an unnamed record
 * is an orphan the engine still has; process 1's fds, where it may ask,
 * are open on the inodes recorded.
 */
static void assert_track(struct track *t)
{
    if (t->icount > 256)
        return;
    size_t links = 0, entries = 0;
    for (size_t i = 0; i < t->icap; i++) {
        const struct irec *r = t->itab[i];
        if (!r)
            continue;
        cfs_filestat st;
        assert(cfs_getattr(t->fs, r->ino, &st) == 0 || r->nlinks == 0);
        for (uint32_t k = 0; k < r->nlinks; k++) {
            assert(cfs_lookup(t->fs, r->links[k].dir, r->links[k].name, &st) == 0 &&
                   st.ino == r->ino);
            links++;
        }
        if (r->nlinks == 0 && r->ino != CFS_INO_ROOT && !r->special) {
            bool orphan = false;
            for (size_t o = 0; o < t->norph; o++)
                orphan |= t->orphans[o] == r->ino;
            assert(orphan);
        }
        if (r->type != CFS_FILETYPE_DIRECTORY || cfs_getattr(t->fs, r->ino, &st))
            continue;
        cfs_dirent de;
        for (uint64_t c = CFS_DIRCOOKIE_START; cfs_dir_next(t->fs, r->ino, c, &de) == 0;
             c = de.next)
            entries += !(de.name_len <= 2 && de.name[0] == '.' &&
                         (de.name_len == 1 || de.name[1] == '.'));
    }
    assert(links == entries);
    const struct proc_fds *p = proc_find(t, cfs_fs_pid(t->fs));
    for (cfs_fd fd = 0; p && fd < p->cap && fd < 64; fd++) {
        cfs_filestat st;
        if (cfs_fd_filestat_get(t->fs, fd, &st) == 0)
            assert(p->fds[fd].ino == st.ino);
        else if (cfs_fd_fdstat_get(t->fs, fd, &(cfs_fdstat){0}) == CFS_EBADF)
            assert(p->fds[fd].ino == 0);
    }
}
#else
static void assert_track(struct track *t)
{
    (void)t;
}
#endif

int track_apply(struct track *t, const cfs_event *ev, char *err, size_t cap)
{
    if (t->broken)
        return set_err(err, cap, CFS_JE_NOMEM,
                       "seq %" PRIu64 ": replay: out of memory earlier", ev->seq);
    cfs_errno e = cfs_fs_apply(t->fs, ev);
    if (e)
        return set_err(err, cap, CFS_JE_DIVERGED, "seq %" PRIu64 ": %s: %s (%s)",
                       ev->seq, cfs_op_name(ev->op), cfs_errno_name(e),
                       cfs_fs_errmsg(t->fs));
    if (apply_names(t, ev) || apply_fds(t, ev)) {
        t->broken = true;
        return set_err(err, cap, CFS_JE_NOMEM,
                       "seq %" PRIu64 ": replay: out of memory", ev->seq);
    }
    if (t->norph && may_free_inodes(ev->op))
        sweep(t);
    assert_track(t);
    return 0;
}

struct replay_ctx {
    struct track *t;
    track_hook hook;
    void *hook_ctx;
    char *err;
    size_t cap;
    bool failed;   /* the error is ours (hook or apply), not the journal's */
};

static int replay_one(void *ctx, const cfs_event *ev)
{
    struct replay_ctx *r = ctx;
    int rc = r->hook ? r->hook(r->hook_ctx, r->t, ev) : 0;
    if (!rc)
        rc = track_apply(r->t, ev, r->err, r->cap);
    r->failed = rc != 0;
    return rc;
}

int track_replay(struct track *t, cfs_journal *j, uint64_t to, track_hook hook,
                 void *hook_ctx, char *err, size_t cap)
{
    uint64_t at = cfs_fs_seq(t->fs);
    if (to != CFS_REPLAY_HEAD && to <= at) {
        if (to < at)
            return set_err(err, cap, CFS_JE_INVAL,
                           "replay: at seq %" PRIu64 ", past %" PRIu64, at, to);
        return 0;
    }
    if (to == CFS_REPLAY_HEAD)
        to = 0; /* cfs_journal_foreach's "to the end" */
    struct replay_ctx r = {t, hook, hook_ctx, err, cap, false};
    int rc = cfs_journal_foreach(j, at + 1, to, replay_one, &r);
    if (rc < 0) {
        if (!r.failed)
            set_err(err, cap, rc, "%s", cfs_journal_errmsg(j));
        return rc;
    }
    if (to && cfs_fs_seq(t->fs) < to)
        return set_err(err, cap, CFS_JE_NOTFOUND,
                       "seq %" PRIu64 " is past the journal's end (%" PRIu64 ")",
                       to, cfs_fs_seq(t->fs));
    return 0;
}

/* ---- describing --------------------------------------------------------------- */

/* The path fd was opened by if that entry still names its inode, else a
 * path of the inode. false if the fd is not open. */
static bool fd_path(struct track *t, uint32_t pid, cfs_fd fd, struct sbuf *b,
                    int *unlinked)
{
    const struct fdrec *f = fd_get(proc_find(t, pid), fd);
    if (!f)
        return false;
    const struct irec *r = iget(t, f->ino);
    if (f->hint && r && find_link(r, f->hint->dir, f->hint->name) >= 0) {
        sb_reset(b);
        entry_path(t, f->hint->dir, f->hint->name, b, unlinked);
    } else {
        track_path_of(t, f->ino, b, unlinked);
    }
    return true;
}

/* The entry a path-taking event's `path` (from its dirfd) resolved to,
 * if it names the event's inode; else a path of the inode. */
static void used_path(struct track *t, const cfs_event *ev, cfs_fd dirfd,
                      const char *path, struct sbuf *b, int *unlinked)
{
    cfs_ino base = track_fd_ino(t, ev->pid, dirfd), ino = 0, dir = 0;
    char name[CFS_NAME_MAX + 1];
    for (int follow = 0; base && path && follow < 2; follow++) {
        if (track_resolve(t, base, path, follow, &ino, &dir, name) == 0 &&
            ino == ev->ino && dir) {
            sb_reset(b);
            entry_path(t, dir, name, b, unlinked);
            return;
        }
    }
    track_path_of(t, ev->ino, b, unlinked);
}

void track_describe(struct track *t, const cfs_event *ev, cfs_step *out,
                    struct sbuf *p1, struct sbuf *p2)
{
    memset(out, 0, sizeof(*out));
    out->ev = ev;
    sb_reset(p1);
    sb_reset(p2);
    bool has1 = true, has2 = false;
    int unlinked2 = 0; /* `unlinked` is about path; a new entry's dir is alive */
    switch (ev->op) {
    case CFS_OP_OPEN:
        out->ino = ev->ino;
        if (ev->name && ev->dir)
            entry_path(t, ev->dir, ev->name, p1, &out->unlinked);
        else
            track_path_of(t, ev->ino, p1, &out->unlinked);
        break;
    case CFS_OP_CLOSE:
    case CFS_OP_READ:
    case CFS_OP_SEEK:
    case CFS_OP_DUP:
    case CFS_OP_RENUMBER:
    case CFS_OP_SET_FLAGS:
    case CFS_OP_SET_RIGHTS:
    case CFS_OP_SET_CLOEXEC:
        out->ino = track_fd_ino(t, ev->pid, ev->fd);
        has1 = fd_path(t, ev->pid, ev->fd, p1, &out->unlinked);
        break;
    case CFS_OP_WRITE:
    case CFS_OP_ALLOCATE:
    case CFS_OP_SET_SIZE:
    case CFS_OP_SET_TIMES:
    case CFS_OP_CHMOD:
    case CFS_OP_CHOWN:
        out->ino = ev->ino;
        if (ev->path)
            used_path(t, ev, ev->fd, ev->path, p1, &out->unlinked);
        else if (track_fd_ino(t, ev->pid, ev->fd) != ev->ino ||
                 !fd_path(t, ev->pid, ev->fd, p1, &out->unlinked))
            track_path_of(t, ev->ino, p1, &out->unlinked);
        break;
    case CFS_OP_MKDIR:
    case CFS_OP_RMDIR:
    case CFS_OP_UNLINK:
    case CFS_OP_MKNOD:
    case CFS_OP_SYMLINK:
    case CFS_OP_RENAME:
        out->ino = ev->ino;
        entry_path(t, ev->dir, ev->name ? ev->name : "", p1, &out->unlinked);
        if (ev->op == CFS_OP_RENAME) {
            entry_path(t, ev->dir2, ev->name2 ? ev->name2 : "", p2, &unlinked2);
            has2 = true;
        }
        break;
    case CFS_OP_LINK:
        out->ino = ev->ino;
        used_path(t, ev, ev->fd, ev->path, p1, &out->unlinked);
        entry_path(t, ev->dir2, ev->name2 ? ev->name2 : "", p2, &unlinked2);
        has2 = true;
        break;
    case CFS_OP_PREOPEN:
        out->ino = ev->ino;
        track_path_of(t, ev->ino, p1, &out->unlinked);
        break;
    case CFS_OP_CHDIR:
        sb_puts(p1, ev->path ? ev->path : "");
        break;
    default:
        has1 = false;
        break;
    }
    out->path = has1 ? sb_str(p1) : NULL;
    out->path2 = has2 ? sb_str(p2) : NULL;
}

static void add_touch(cfs_ino *out, int *n, cfs_ino ino)
{
    if (!ino)
        return;
    for (int i = 0; i < *n; i++)
        if (out[i] == ino)
            return;
    out[(*n)++] = ino;
}

int track_touches(struct track *t, const cfs_event *ev, cfs_ino *out)
{
    int n = 0;
    add_touch(out, &n, ev->ino);
    add_touch(out, &n, ev->ino2);
    add_touch(out, &n, ev->dir);
    add_touch(out, &n, ev->dir2);
    switch (ev->op) {
    case CFS_OP_RENUMBER:
        add_touch(out, &n, track_fd_ino(t, ev->pid, ev->fd2));
        /* fall through */
    case CFS_OP_CLOSE:
    case CFS_OP_READ:
    case CFS_OP_SEEK:
    case CFS_OP_DUP:
    case CFS_OP_SET_FLAGS:
    case CFS_OP_SET_RIGHTS:
    case CFS_OP_SET_CLOEXEC:
        add_touch(out, &n, track_fd_ino(t, ev->pid, ev->fd));
        break;
    default:
        break;
    }
    return n;
}

/* ---- resolving ------------------------------------------------------------------ */

cfs_errno track_resolve(struct track *t, cfs_ino base, const char *path,
                        bool follow_last, cfs_ino *ino, cfs_ino *dir,
                        char *name)
{
    if (!path || !*path)
        return CFS_ENOENT;
    if (strnlen(path, CFS_PATH_MAX + 1) > CFS_PATH_MAX)
        return CFS_ENAMETOOLONG;
    cfs_filestat st;
    if (cfs_getattr(t->fs, base, &st))
        return CFS_ENOENT;
    if (st.filetype != CFS_FILETYPE_DIRECTORY)
        return CFS_ENOTDIR;
    cfs_ino cur = base, out_ino = 0, out_dir = 0;
    char comp[CFS_NAME_MAX + 1];
    bool trailing = false;
    unsigned links = 0;
    char *heap = NULL;
    const char *s = path;
    size_t i = 0;
    cfs_errno rc = 0;
    comp[0] = 0;
    for (;;) {
        while (s[i] == '/')
            i++;
        if (!s[i]) { /* the path names `cur` itself */
            out_ino = cur;
            out_dir = 0;
            break;
        }
        size_t start = i;
        while (s[i] && s[i] != '/')
            i++;
        size_t len = i - start, j = i;
        while (s[j] == '/')
            j++;
        bool last = !s[j];
        trailing = last && j > i;
        if (len > CFS_NAME_MAX) {
            rc = CFS_ENAMETOOLONG;
            break;
        }
        memcpy(comp, s + start, len);
        comp[len] = 0;
        if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
            if (comp[1] && cur != CFS_INO_ROOT) {
                if ((rc = cfs_lookup(t->fs, cur, "..", &st)))
                    break;
                cur = st.ino;
            }
            if (last) {
                out_ino = cur;
                out_dir = 0;
                break;
            }
            continue;
        }
        cfs_ino child = 0;
        cfs_errno e = cfs_lookup(t->fs, cur, comp, &st);
        if (e == 0)
            child = st.ino;
        else if (e != CFS_ENOENT) {
            rc = e;
            break;
        }
        bool follow = !last || trailing || follow_last;
        if (child && st.filetype == CFS_FILETYPE_SYMBOLIC_LINK && follow) {
            const char *target = track_link_target(t, child);
            if (++links > CFS_MAX_SYMLINKS) {
                rc = CFS_ELOOP;
                break;
            }
            if (!target) {
                rc = CFS_ENOENT;
                break;
            }
            size_t tl = strlen(target), rl = strlen(s + i);
            char *nb = malloc(tl + rl + 1);
            if (!nb) {
                rc = CFS_ENOMEM;
                break;
            }
            memcpy(nb, target, tl);
            memcpy(nb + tl, s + i, rl + 1);
            free(heap);
            s = heap = nb;
            i = 0;
            if (s[0] == '/')
                cur = CFS_INO_ROOT;
            continue;
        }
        if (last) {
            out_dir = cur;
            out_ino = child;
            break;
        }
        if (!child) {
            rc = CFS_ENOENT;
            break;
        }
        if (st.filetype != CFS_FILETYPE_DIRECTORY) {
            rc = CFS_ENOTDIR;
            break;
        }
        cur = child;
    }
    free(heap);
    if (!rc && trailing && out_ino && cfs_getattr(t->fs, out_ino, &st) == 0 &&
        st.filetype != CFS_FILETYPE_DIRECTORY)
        rc = CFS_ENOTDIR;
    if (rc)
        return rc;
    if (ino)
        *ino = out_ino;
    if (dir)
        *dir = out_dir;
    if (name)
        memcpy(name, comp, strlen(comp) + 1);
    return 0;
}
