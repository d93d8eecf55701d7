/*
 * filter.c — which events a stepper shows (cfs_filter in cfs_replay.h).
 *
 * The op, pid, fd and inode criteria look at one event. The path criterion
 * has state: the inode it follows. It is bound in the state the walk starts
 * from, and looked for again only while it follows nothing or after the
 * followed inode ceased to exist; otherwise the names do not matter, which
 * is what makes it follow a file across renames and hard links.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int cfs_filter_parse_ops(const char *names, uint64_t *ops, char *err,
                         size_t errcap)
{
    if (!names || !ops)
        return set_err(err, errcap, CFS_JE_INVAL, "filter: no op names");
    uint64_t mask = 0;
    const char *s = names;
    for (;;) {
        s += strspn(s, ", \t");
        if (!*s)
            break;
        size_t len = strcspn(s, ", \t");
        int found = 0;
        for (uint16_t op = 1; op <= CFS_OP_MAX_ && op < 64; op++) {
            const char *n = cfs_op_name(op);
            if (strlen(n) == len && memcmp(n, s, len) == 0) {
                mask |= UINT64_C(1) << op;
                found = 1;
                break;
            }
        }
        if (!found)
            return set_err(err, errcap, CFS_JE_INVAL,
                           "filter: unknown op `%.*s` (ops are named as in the log: "
                           "open, write, rename...)", (int)len, s);
        s += len;
    }
    if (!mask)
        return set_err(err, errcap, CFS_JE_INVAL, "filter: no op names in `%s`", names);
    *ops = mask;
    return 0;
}

/* Does the op use `fd` as an fd number? (Some leave it 0.) */
static bool op_uses_fd(uint16_t op)
{
    switch (op) {
    case CFS_OP_SYMLINK:
    case CFS_OP_PREOPEN:
    case CFS_OP_CLOSE_CLOEXEC:
    case CFS_OP_CLOSE_ALL:
    case CFS_OP_FORK:
    case CFS_OP_EXIT:
    case CFS_OP_CHDIR:
    case CFS_OP_SET_BUDGET:
        return false;
    default:
        return true;
    }
}

/* Is `fd2` an fd number? (FORK's is a pid.) */
static bool op_fd2_is_fd(uint16_t op)
{
    switch (op) {
    case CFS_OP_OPEN:
    case CFS_OP_RENAME:
    case CFS_OP_LINK:
    case CFS_OP_SYMLINK:
    case CFS_OP_DUP:
    case CFS_OP_RENUMBER:
    case CFS_OP_PREOPEN:
        return true;
    default:
        return false;
    }
}

static bool touches(const cfs_ino *touch, int n, cfs_ino ino)
{
    for (int i = 0; i < n; i++)
        if (touch[i] == ino)
            return true;
    return false;
}

int filter_init(struct filter *f, const cfs_filter *spec, char *err,
                size_t cap)
{
    memset(f, 0, sizeof(*f));
    if (!spec)
        return 0;
    f->spec = *spec;
    f->spec.path = NULL;
    if (spec->path) {
        if (spec->path[0] != '/')
            return set_err(err, cap, CFS_JE_INVAL,
                           "filter: path `%s` is not absolute", spec->path);
        if (!(f->path = strdup(spec->path)))
            return set_err(err, cap, CFS_JE_NOMEM, "filter: out of memory");
        f->spec.path = f->path;
    }
    return 0;
}

void filter_free(struct filter *f)
{
    free(f->path);
    f->path = NULL;
}

static cfs_ino path_names(struct track *t, const char *path)
{
    cfs_ino ino = 0;
    if (track_resolve(t, CFS_INO_ROOT, path, false, &ino, NULL, NULL))
        return 0;
    return ino;
}

void filter_start(struct filter *f, struct track *t)
{
    f->followed = f->path ? path_names(t, f->path) : 0;
}

bool filter_basic(const struct filter *f, const cfs_event *ev,
                  const cfs_ino *touch, int ntouch)
{
    const cfs_filter *s = &f->spec;
    if (s->ops && (ev->op >= 64 || !(s->ops & (UINT64_C(1) << ev->op))))
        return false;
    if (s->pid && ev->pid != s->pid)
        return false;
    if (s->has_fd && !((op_uses_fd(ev->op) && ev->fd == s->fd) ||
                       (op_fd2_is_fd(ev->op) && ev->fd2 == s->fd)))
        return false;
    if (s->ino && !touches(touch, ntouch, s->ino))
        return false;
    return true;
}

bool filter_before(const struct filter *f, const cfs_event *ev,
                   const cfs_ino *touch, int ntouch)
{
    if (!filter_basic(f, ev, touch, ntouch))
        return false;
    return !f->path || (f->followed && touches(touch, ntouch, f->followed));
}

bool filter_after(struct filter *f, struct track *t, const cfs_event *ev,
                  const cfs_ino *touch, int ntouch)
{
    if (!f->path)
        return false;
    cfs_filestat st;
    bool dead = f->followed && cfs_getattr(track_fs(t), f->followed, &st) != 0;
    if (f->followed && !dead)
        return false;
    /* following nothing: only a change of names can make the path name
     * something (resolution reads names and symlink targets only) */
    if (!dead && !op_changes_names(ev))
        return false;
    cfs_ino before = f->followed;
    f->followed = path_names(t, f->path);
    return f->followed && f->followed != before &&
           touches(touch, ntouch, f->followed);
}
