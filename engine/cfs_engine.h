/*
 * cfs_engine.h — the chronofs engine: a deterministic fd/inode state machine
 * with a WASI preview1 shaped filesystem API.
 *
 * This header is the whole contract of engine/. The engine is pure C: no I/O,
 * no clock of its own, no journal. Every state change is described by a
 * cfs_event, handed to a sink (the journal, later) and then applied by the
 * single function that mutates state. Replay feeds recorded events to
 * cfs_fs_apply() and gets the same state, bit for bit (cfs_fs_hash()).
 *
 * Conventions
 *  - Every call returns a cfs_errno: 0 on success, else the WASI preview1
 *    errno a guest would see. A call that fails changes nothing and emits no
 *    event. A call that succeeds but changes nothing (a seek to the current
 *    offset, a zero-length write, set_times with no flags, renaming a file
 *    onto itself, setting flags/rights/cloexec/cwd to what they are) emits
 *    no event either: events are state changes, one per changing call.
 *  - A NULL pointer where the call needs one is EFAULT (WASI's answer to a
 *    bad guest pointer).
 *  - Paths are UTF-8/bytes, NUL-terminated, relative to a directory fd (an
 *    absolute path is taken relative to that fd too, as in WASI). A name is
 *    at most 255 bytes, a path at most 4096 (ENAMETOOLONG).
 *  - Pointers returned by the engine (names, event fields) stay valid until
 *    the next mutating call on the same engine, unless stated otherwise.
 *  - The engine is not thread-safe: one caller at a time per state (a forked
 *    process handle shares its parent's state and lock discipline).
 */
#ifndef CFS_ENGINE_H
#define CFS_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------- */
/* Basic types                                                             */

typedef uint16_t cfs_errno;   /* WASI preview1 errno, 0 = success */
typedef uint32_t cfs_fd;      /* file descriptor number */
typedef uint64_t cfs_ino;     /* stable inode number */
typedef uint64_t cfs_rights;  /* WASI rights bit set */
typedef uint64_t cfs_time;    /* nanoseconds since the Unix epoch */

/* WASI preview1 errno values. */
enum {
    CFS_ESUCCESS = 0, CFS_E2BIG = 1, CFS_EACCES = 2, CFS_EADDRINUSE = 3,
    CFS_EADDRNOTAVAIL = 4, CFS_EAFNOSUPPORT = 5, CFS_EAGAIN = 6,
    CFS_EALREADY = 7, CFS_EBADF = 8, CFS_EBADMSG = 9, CFS_EBUSY = 10,
    CFS_ECANCELED = 11, CFS_ECHILD = 12, CFS_ECONNABORTED = 13,
    CFS_ECONNREFUSED = 14, CFS_ECONNRESET = 15, CFS_EDEADLK = 16,
    CFS_EDESTADDRREQ = 17, CFS_EDOM = 18, CFS_EDQUOT = 19, CFS_EEXIST = 20,
    CFS_EFAULT = 21, CFS_EFBIG = 22, CFS_EHOSTUNREACH = 23, CFS_EIDRM = 24,
    CFS_EILSEQ = 25, CFS_EINPROGRESS = 26, CFS_EINTR = 27, CFS_EINVAL = 28,
    CFS_EIO = 29, CFS_EISCONN = 30, CFS_EISDIR = 31, CFS_ELOOP = 32,
    CFS_EMFILE = 33, CFS_EMLINK = 34, CFS_EMSGSIZE = 35, CFS_EMULTIHOP = 36,
    CFS_ENAMETOOLONG = 37, CFS_ENETDOWN = 38, CFS_ENETRESET = 39,
    CFS_ENETUNREACH = 40, CFS_ENFILE = 41, CFS_ENOBUFS = 42, CFS_ENODEV = 43,
    CFS_ENOENT = 44, CFS_ENOEXEC = 45, CFS_ENOLCK = 46, CFS_ENOLINK = 47,
    CFS_ENOMEM = 48, CFS_ENOMSG = 49, CFS_ENOPROTOOPT = 50, CFS_ENOSPC = 51,
    CFS_ENOSYS = 52, CFS_ENOTCONN = 53, CFS_ENOTDIR = 54, CFS_ENOTEMPTY = 55,
    CFS_ENOTRECOVERABLE = 56, CFS_ENOTSOCK = 57, CFS_ENOTSUP = 58,
    CFS_ENOTTY = 59, CFS_ENXIO = 60, CFS_EOVERFLOW = 61, CFS_EOWNERDEAD = 62,
    CFS_EPERM = 63, CFS_EPIPE = 64, CFS_EPROTO = 65, CFS_EPROTONOSUPPORT = 66,
    CFS_EPROTOTYPE = 67, CFS_ERANGE = 68, CFS_EROFS = 69, CFS_ESPIPE = 70,
    CFS_ESRCH = 71, CFS_ESTALE = 72, CFS_ETIMEDOUT = 73, CFS_ETXTBSY = 74,
    CFS_EXDEV = 75, CFS_ENOTCAPABLE = 76
};

/* Symbolic name of a WASI errno ("ENOENT"); "E?" for unknown values.
 * The string is static. */
const char *cfs_errno_name(cfs_errno e);

/* The Linux errno for a WASI errno (ENOTCAPABLE maps to EPERM, as
 * wasi-libc does not have it; unknown values map to EIO). */
int cfs_errno_to_posix(cfs_errno e);

/* WASI preview1 rights. */
#define CFS_RIGHT_FD_DATASYNC            (UINT64_C(1) << 0)
#define CFS_RIGHT_FD_READ                (UINT64_C(1) << 1)
#define CFS_RIGHT_FD_SEEK                (UINT64_C(1) << 2)
#define CFS_RIGHT_FD_FDSTAT_SET_FLAGS    (UINT64_C(1) << 3)
#define CFS_RIGHT_FD_SYNC                (UINT64_C(1) << 4)
#define CFS_RIGHT_FD_TELL                (UINT64_C(1) << 5)
#define CFS_RIGHT_FD_WRITE               (UINT64_C(1) << 6)
#define CFS_RIGHT_FD_ADVISE              (UINT64_C(1) << 7)
#define CFS_RIGHT_FD_ALLOCATE            (UINT64_C(1) << 8)
#define CFS_RIGHT_PATH_CREATE_DIRECTORY  (UINT64_C(1) << 9)
#define CFS_RIGHT_PATH_CREATE_FILE       (UINT64_C(1) << 10)
#define CFS_RIGHT_PATH_LINK_SOURCE       (UINT64_C(1) << 11)
#define CFS_RIGHT_PATH_LINK_TARGET       (UINT64_C(1) << 12)
#define CFS_RIGHT_PATH_OPEN              (UINT64_C(1) << 13)
#define CFS_RIGHT_FD_READDIR             (UINT64_C(1) << 14)
#define CFS_RIGHT_PATH_READLINK          (UINT64_C(1) << 15)
#define CFS_RIGHT_PATH_RENAME_SOURCE     (UINT64_C(1) << 16)
#define CFS_RIGHT_PATH_RENAME_TARGET     (UINT64_C(1) << 17)
#define CFS_RIGHT_PATH_FILESTAT_GET      (UINT64_C(1) << 18)
#define CFS_RIGHT_PATH_FILESTAT_SET_SIZE (UINT64_C(1) << 19)
#define CFS_RIGHT_PATH_FILESTAT_SET_TIMES (UINT64_C(1) << 20)
#define CFS_RIGHT_FD_FILESTAT_GET        (UINT64_C(1) << 21)
#define CFS_RIGHT_FD_FILESTAT_SET_SIZE   (UINT64_C(1) << 22)
#define CFS_RIGHT_FD_FILESTAT_SET_TIMES  (UINT64_C(1) << 23)
#define CFS_RIGHT_PATH_SYMLINK           (UINT64_C(1) << 24)
#define CFS_RIGHT_PATH_REMOVE_DIRECTORY  (UINT64_C(1) << 25)
#define CFS_RIGHT_PATH_UNLINK_FILE       (UINT64_C(1) << 26)
#define CFS_RIGHT_POLL_FD_READWRITE      (UINT64_C(1) << 27)
#define CFS_RIGHT_SOCK_SHUTDOWN          (UINT64_C(1) << 28)
#define CFS_RIGHT_SOCK_ACCEPT            (UINT64_C(1) << 29)
#define CFS_RIGHTS_ALL                   ((UINT64_C(1) << 30) - 1)

/* Default rights of the stdio fds, as the seed gives them. */
#define CFS_RIGHTS_STDIN                                                      \
    (CFS_RIGHT_FD_DATASYNC | CFS_RIGHT_FD_READ | CFS_RIGHT_FD_SYNC |          \
     CFS_RIGHT_FD_ADVISE | CFS_RIGHT_FD_FILESTAT_GET |                        \
     CFS_RIGHT_FD_FDSTAT_SET_FLAGS | CFS_RIGHT_POLL_FD_READWRITE)
#define CFS_RIGHTS_STDOUT                                                     \
    (CFS_RIGHT_FD_DATASYNC | CFS_RIGHT_FD_SYNC | CFS_RIGHT_FD_WRITE |         \
     CFS_RIGHT_FD_ADVISE | CFS_RIGHT_FD_FILESTAT_GET |                        \
     CFS_RIGHT_FD_FDSTAT_SET_FLAGS | CFS_RIGHT_POLL_FD_READWRITE)
#define CFS_RIGHTS_STDERR CFS_RIGHTS_STDOUT

/* File types (WASI filetype). CFS_FILETYPE_FIFO is a chronofs extension:
 * WASI preview1 has no filetype for a named pipe, so a WASI host reports
 * it to a guest as UNKNOWN (cfs_fd_readdir does so itself). A socket made
 * by mknod is SOCKET_STREAM (a socket file does not say its kind). */
enum {
    CFS_FILETYPE_UNKNOWN = 0, CFS_FILETYPE_BLOCK_DEVICE = 1,
    CFS_FILETYPE_CHARACTER_DEVICE = 2, CFS_FILETYPE_DIRECTORY = 3,
    CFS_FILETYPE_REGULAR_FILE = 4, CFS_FILETYPE_SOCKET_DGRAM = 5,
    CFS_FILETYPE_SOCKET_STREAM = 6, CFS_FILETYPE_SYMBOLIC_LINK = 7,
    CFS_FILETYPE_FIFO = 8
};

/* fdflags (WASI). APPEND is shared by fds that share a description. */
#define CFS_FDFLAG_APPEND   0x1
#define CFS_FDFLAG_DSYNC    0x2
#define CFS_FDFLAG_NONBLOCK 0x4
#define CFS_FDFLAG_RSYNC    0x8
#define CFS_FDFLAG_SYNC     0x10
#define CFS_FDFLAGS_ALL     0x1f

/* oflags (WASI path_open). */
#define CFS_O_CREAT     0x1
#define CFS_O_DIRECTORY 0x2
#define CFS_O_EXCL      0x4
#define CFS_O_TRUNC     0x8
#define CFS_OFLAGS_ALL  0xf

/* lookupflags (WASI). */
#define CFS_LOOKUP_SYMLINK_FOLLOW 0x1

/* whence (WASI fd_seek). */
#define CFS_WHENCE_SET 0
#define CFS_WHENCE_CUR 1
#define CFS_WHENCE_END 2

/* fstflags (WASI *_set_times). */
#define CFS_FST_ATIM     0x1
#define CFS_FST_ATIM_NOW 0x2
#define CFS_FST_MTIM     0x4
#define CFS_FST_MTIM_NOW 0x8

/* advice (WASI fd_advise). */
#define CFS_ADVICE_NORMAL 0
#define CFS_ADVICE_NOREUSE 5

/* Preopen permission flags (the seed's read/write/create). */
#define CFS_PREOPEN_READ   0x1
#define CFS_PREOPEN_WRITE  0x2
#define CFS_PREOPEN_CREATE 0x4

/* Seed constants. */
#define CFS_INO_STDIN  ((cfs_ino)10)
#define CFS_INO_STDOUT ((cfs_ino)11)
#define CFS_INO_STDERR ((cfs_ino)12)
#define CFS_INO_ROOT   ((cfs_ino)13)
#define CFS_ROOT_FD    ((cfs_fd)3)
#define CFS_MAX_FD     ((cfs_fd)65535)
#define CFS_MAX_SYMLINKS 128
#define CFS_NAME_MAX   255
#define CFS_PATH_MAX   4096
#define CFS_BLOCK_SIZE 65536u
/* Largest file size and offset: 2^63 - 1, as on Linux. */
#define CFS_MAX_FILE_SIZE ((uint64_t)INT64_MAX)

/* POSIX file type bits carried in cfs_filestat.mode (Linux values). */
#define CFS_S_IFMT   0170000
#define CFS_S_IFIFO  0010000
#define CFS_S_IFCHR  0020000
#define CFS_S_IFDIR  0040000
#define CFS_S_IFBLK  0060000
#define CFS_S_IFREG  0100000
#define CFS_S_IFLNK  0120000
#define CFS_S_IFSOCK 0140000

typedef struct cfs_filestat {
    uint64_t dev;      /* always 0: one engine is one device */
    cfs_ino ino;
    uint8_t filetype;  /* CFS_FILETYPE_* */
    uint64_t nlink;
    uint64_t size;     /* bytes; a symlink's is its target length */
    cfs_time atim, mtim, ctim;
    uint32_t mode;     /* S_IF* type bits | permission bits (07777) */
    uint32_t uid, gid;
    uint64_t blocks;   /* 512-byte units of allocated data */
    uint64_t rdev;     /* device number (Linux dev_t encoding) of a block or
                          character device made by mknod; else 0 */
} cfs_filestat;

typedef struct cfs_fdstat {
    uint8_t filetype;
    uint16_t flags;    /* CFS_FDFLAG_* */
    cfs_rights rights_base;
    cfs_rights rights_inheriting;
} cfs_fdstat;

typedef struct cfs_prestat {
    uint8_t tag;       /* 0 = directory (the only kind) */
    uint32_t name_len; /* length of the preopen's name, no NUL */
} cfs_prestat;

typedef struct cfs_statfs {
    uint64_t block_size;   /* CFS_BLOCK_SIZE */
    uint64_t blocks;       /* total, in block_size units (budget or a large value) */
    uint64_t blocks_free;
    uint64_t files;        /* inodes in use */
    uint64_t files_free;
    uint64_t name_max;
    uint64_t bytes_used;   /* bytes charged against the budget */
    uint64_t byte_budget;  /* 0 = unlimited */
} cfs_statfs;

/* One directory entry as cfs_dir_next() reports it. */
typedef struct cfs_dirent {
    uint64_t next;       /* cookie to pass to get the entry after this one */
    cfs_ino ino;
    uint8_t filetype;
    uint32_t name_len;
    const char *name;    /* not NUL-terminated; valid until the next mutation */
} cfs_dirent;

/* The first cookie of a directory listing. Listings begin with "." and "..";
 * cookies are stable: an entry keeps its cookie while it exists, new entries
 * get larger cookies, so a listing resumed from a cookie neither repeats nor
 * skips entries that existed throughout. */
#define CFS_DIRCOOKIE_START 0

typedef struct cfs_hash128 {
    uint64_t lo, hi;
} cfs_hash128;

/* ---------------------------------------------------------------------- */
/* Events                                                                   */

/* Operations. The values are part of the journal format: append only. */
typedef enum cfs_op {
    CFS_OP_OPEN = 1,        /* path_open: maybe creates, truncates; new fd */
    CFS_OP_CLOSE = 2,       /* fd_close */
    CFS_OP_READ = 3,        /* fd_read moved the fd offset to `offset` */
    CFS_OP_SEEK = 4,        /* fd_seek moved the fd offset to `offset` */
    CFS_OP_WRITE = 5,       /* fd_write/fd_pwrite of `length` bytes at `offset` */
    CFS_OP_SET_SIZE = 6,    /* fd/path set_size: size `offset` */
    CFS_OP_ALLOCATE = 7,    /* fd_allocate [offset, offset+length) */
    CFS_OP_SET_TIMES = 8,   /* set atime `offset` / mtime `length` per flags */
    CFS_OP_MKDIR = 9,
    CFS_OP_RMDIR = 10,
    CFS_OP_UNLINK = 11,
    CFS_OP_RENAME = 12,
    CFS_OP_LINK = 13,
    CFS_OP_SYMLINK = 14,
    CFS_OP_MKNOD = 15,      /* mknod: a regular file, FIFO, socket or device */
    CFS_OP_CHMOD = 16,
    CFS_OP_CHOWN = 17,
    CFS_OP_DUP = 18,        /* fd `fd` duplicated to `fd2` */
    CFS_OP_RENUMBER = 19,   /* fd `fd` moved to `fd2` (closing what was there) */
    CFS_OP_SET_FLAGS = 20,  /* fdflags of fd's description := flags */
    CFS_OP_SET_RIGHTS = 21, /* fd rights := rights_base/inheriting */
    CFS_OP_SET_CLOEXEC = 22,/* fd close-on-exec := flags & 1 */
    CFS_OP_CLOSE_CLOEXEC = 23, /* exec: close every close-on-exec fd */
    CFS_OP_CLOSE_ALL = 24,  /* close every fd of the process */
    CFS_OP_FORK = 25,       /* new process `fd2` with a copy of pid's fds */
    CFS_OP_PREOPEN = 26,    /* directory `ino` preopened as fd `fd2`, name `name` */
    CFS_OP_CHDIR = 27,      /* current directory := path (absolute) */
    CFS_OP_EXIT = 28,       /* process `pid` ended: its fds closed, it is gone */
    CFS_OP_SET_BUDGET = 29, /* the byte budget := `offset` (0 = unlimited) */
    CFS_OP_MAX_ = 29
} cfs_op;

/* Name of an op ("open", "rename", ...); "?" for unknown. Static string. */
const char *cfs_op_name(uint16_t op);

/* Bits in cfs_event.flags for OPEN (the rest is the WASI oflags/fdflags). */
#define CFS_EVF_OPEN_CREATED  0x10000u  /* the inode was created by this open */
#define CFS_EVF_OPEN_TRUNCATE 0x20000u  /* the file was truncated to 0 */
/* Bit in cfs_event.flags for WRITE: the fd offset moves to offset+length
 * (fd_write); without it the write is positional (fd_pwrite). */
#define CFS_EVF_WRITE_MOVES   0x1u
/* Bit in cfs_event.flags for DUP/SET_CLOEXEC: the new fd is close-on-exec. */
#define CFS_EVF_CLOEXEC       0x1u

/*
 * An event: one state change, complete. It carries what the guest asked
 * (fd + path), what resolution decided (directory inode + entry name,
 * inode), and every non-deterministic outcome (fd number, inode number,
 * description id, time), so applying it never consults anything but the
 * event and the state. Fields an op does not use are zero / NULL.
 *
 * Per op, the fields used (besides seq, op, pid, time):
 *   OPEN       fd=dirfd path  dir name  ino  fd2=new fd  ofd=description id
 *              flags=oflags | fdflags<<8 | CFS_EVF_OPEN_*  rights_*
 *              mode/uid/gid of a created inode
 *   CLOSE      fd
 *   READ,SEEK  fd  offset=new fd offset
 *   WRITE      fd  ino  offset  length  data  flags (CFS_EVF_WRITE_MOVES)
 *   SET_SIZE   fd or (fd=dirfd path)  ino  offset=new size
 *   ALLOCATE   fd  ino  offset  length
 *   SET_TIMES  fd or (fd=dirfd path)  ino  offset=atim length=mtim flags=fst
 *              (the *_NOW bits already resolved into the values)
 *   MKDIR      fd=dirfd path  dir name  ino  mode uid gid
 *   RMDIR      fd=dirfd path  dir name  ino
 *   UNLINK     fd=dirfd path  dir name  ino
 *   RENAME     fd path  fd2 path2  dir name  dir2 name2  ino  ino2=replaced
 *   LINK       fd path  fd2 path2  ino  dir2 name2
 *   SYMLINK    path=target  fd2 path2  dir name  ino  uid gid
 *   MKNOD      fd=dirfd path  dir name  ino  mode uid gid  offset=rdev
 *              mode = permission bits (07777) | the file type bits:
 *              0 for a regular file (S_IFREG is accepted too), CFS_S_IFIFO,
 *              CFS_S_IFSOCK, CFS_S_IFCHR or CFS_S_IFBLK; rdev (a device's
 *              number) only for the last two, else 0
 *   CHMOD      fd path  ino  mode
 *   CHOWN      fd path  ino  uid gid (UINT32_MAX = unchanged)
 *   (cfs_open_ino records OPEN with no dirfd, path, dir or name;
 *   cfs_fd_chmod/chown and cfs_fd_link record CHMOD/CHOWN/LINK with fd =
 *   the file's fd and no path)
 *   DUP        fd  fd2=new fd  flags (CFS_EVF_CLOEXEC)
 *   RENUMBER   fd  fd2
 *   SET_FLAGS  fd  flags=fdflags
 *   SET_RIGHTS fd  rights_*
 *   SET_CLOEXEC fd  flags (CFS_EVF_CLOEXEC)
 *   CLOSE_CLOEXEC, CLOSE_ALL, EXIT   (pid only)
 *   FORK       fd2=child pid
 *   PREOPEN    path=guest path  name=preopen name  ino  fd2=new fd  ofd
 *              rights_* (base = inheriting)  flags=CFS_PREOPEN_*
 *   CHDIR      path=new current directory (absolute, as the guest named it)
 * `ofd` for DUP/FORK is implied (shared); for OPEN and PREOPEN it is the id
 * of the new open-file description.
 */
typedef struct cfs_event {
    uint64_t seq;          /* 1, 2, 3 ... in apply order */
    uint16_t op;           /* cfs_op */
    uint32_t pid;          /* process whose fd table the call used (1 = first) */
    cfs_time time;         /* clock reading for the call */
    uint32_t fd;
    uint32_t fd2;
    const char *path;
    const char *path2;
    cfs_ino ino;
    cfs_ino dir;
    const char *name;
    cfs_ino dir2;
    const char *name2;
    cfs_ino ino2;
    uint64_t ofd;
    uint64_t offset;
    uint64_t length;
    const void *data;      /* WRITE: `length` bytes */
    cfs_rights rights_base;
    cfs_rights rights_inheriting;
    uint32_t flags;
    uint32_t mode, uid, gid;
} cfs_event;

/*
 * The sink: where events go before they are applied.
 * append() is called with each event of a live call before it is applied;
 * the event and everything it points to (paths, names, write data) are
 * valid only during the call, whatever the general rule above says: a sink
 * that keeps an event copies it. It returns 0, or a WASI errno (EIO,
 * ENOSPC...) that makes the call fail with that errno and change nothing.
 * During append() the engine is in the state before the event: the sink
 * may call the engine's read-only functions (cfs_fs_hash, cfs_getattr...)
 * but no mutating one. sync() makes every event appended so far durable
 * (fd_sync, fd_datasync); it returns 0 or a WASI errno. Either callback
 * may be NULL.
 */
typedef struct cfs_sink {
    cfs_errno (*append)(void *ctx, const cfs_event *ev);
    cfs_errno (*sync)(void *ctx);
    void *ctx;
} cfs_sink;

/* The injected clock: returns the current time in ns. The engine never
 * reads a clock of its own; with no clock, time stands still at 0. */
typedef cfs_time (*cfs_clock_fn)(void *ctx);

typedef struct cfs_config {
    cfs_clock_fn clock;    /* may be NULL */
    void *clock_ctx;
    cfs_sink sink;         /* callbacks may be NULL: events are then only applied */
    uint64_t byte_budget;  /* 0 = unlimited; see cfs_fs_statfs() */
} cfs_config;

/* ---------------------------------------------------------------------- */
/* Lifecycle                                                                */

typedef struct cfs_fs cfs_fs;

/*
 * Create an engine in its initial state: stdin/stdout/stderr inodes 10-12
 * and fds 0-2 (stdout and stderr with APPEND), the root directory inode 13
 * (mode 0755, uid/gid 0) preopened as fd 3 with all rights and named "/",
 * current directory "/", process 1. The initial state is not an event: it is
 * the same for every engine. `cfg` may be NULL (no clock, no sink, no
 * budget). Returns NULL only if memory runs out. Free with cfs_fs_free().
 */
cfs_fs *cfs_fs_new(const cfs_config *cfg);

/* Free an engine and everything it owns. Accepts NULL. Child process
 * handles from cfs_fs_fork() must be freed before their root engine. */
void cfs_fs_free(cfs_fs *fs);

/* Replace the sink (e.g. attach a journal after replaying it). */
void cfs_fs_set_sink(cfs_fs *fs, const cfs_sink *sink);

/* Seq of the last applied event (0 in the initial state). */
uint64_t cfs_fs_seq(const cfs_fs *fs);

/*
 * Apply a recorded event (replay, restore). The event must be the next one
 * (ev->seq == cfs_fs_seq() + 1) and must reproduce the outcomes it recorded:
 * the fd it names as allocated is the one the engine would allocate, a
 * created inode number is the next one, the names it removes exist... If
 * not, nothing changes and the errno says why (EINVAL for seq/op/field
 * errors, EBADF, ENOENT, EEXIST... for references that do not hold);
 * cfs_fs_errmsg() then names the seq and the field. The sink is not called.
 */
cfs_errno cfs_fs_apply(cfs_fs *fs, const cfs_event *ev);

/* A message about the last failed call that had more to say than its errno
 * (e.g. "preopen: duplicate alias `data`", "seq 12: open: recorded fd 5 but
 * the first free fd is 4"), or "" . Valid until the next call. */
const char *cfs_fs_errmsg(const cfs_fs *fs);

/* xxh3-128 of a canonical walk of the whole state (inodes by number with
 * their metadata and data, directory entries with cookies, every process's
 * fd table, descriptions, preopens, cwd, counters, seq). Equal states hash
 * equal; the time is not read. */
cfs_hash128 cfs_fs_hash(const cfs_fs *fs);

/*
 * Set the identity and creation modes used for inodes created from now on
 * by this handle (FUSE passes the caller's). Defaults: uid 0, gid 0, files
 * 0644, directories 0755. Only the permission bits (07777) are kept. Not an
 * event: it is recorded in the events of the inodes it shapes.
 */
void cfs_fs_set_creds(cfs_fs *fs, uint32_t uid, uint32_t gid,
                      uint32_t file_mode, uint32_t dir_mode);

/* ---------------------------------------------------------------------- */
/* Processes, preopens, current directory                                   */

/*
 * fork: a new process whose fd table is a copy of this one's; each copied fd
 * shares its open-file description (offset, append flag) with the parent's.
 * The child handle shares the parent's state; free it with cfs_fs_free()
 * (which does not end the process: cfs_fs_exit() does). *child is set on
 * success.
 */
cfs_errno cfs_fs_fork(cfs_fs *fs, cfs_fs **child);

/* End this handle's process: close all its fds and forget it. The handle
 * must then only be freed. */
cfs_errno cfs_fs_exit(cfs_fs *fs);

/* Set the byte budget (0 = unlimited) as an event, so a replay reaches the
 * same limit: a runner's memory limit is part of the guest's history. A
 * budget below what is in use is allowed: writes that grow the data are
 * ENOSPC until enough is freed. */
cfs_errno cfs_fs_set_budget(cfs_fs *fs, uint64_t bytes);

/* Process id of this handle (1 for the engine from cfs_fs_new). */
uint32_t cfs_fs_pid(const cfs_fs *fs);

/*
 * Preopen an existing directory at absolute guest path `guest_path` as a new
 * fd (first free). Its name for fd_prestat_dir_name is `alias` if not NULL,
 * else `guest_path`. Rights derive from `perm` (CFS_PREOPEN_*) as in the
 * seed; base = inheriting. Errors: EEXIST if another preopen of this process
 * has the same name (cfs_fs_errmsg names it), ENOENT/ENOTDIR if the path is
 * not a directory, EINVAL for a relative path.
 */
cfs_errno cfs_fs_preopen(cfs_fs *fs, const char *guest_path, const char *alias,
                         unsigned perm, cfs_fd *fd_out);

cfs_errno cfs_fd_prestat_get(cfs_fs *fs, cfs_fd fd, cfs_prestat *out);
/* Copy the preopen's name (no NUL) into buf, which must hold name_len
 * bytes (else ENAMETOOLONG, as wasmtime answers). EBADF if fd is not a
 * preopen. */
cfs_errno cfs_fd_prestat_dir_name(cfs_fs *fs, cfs_fd fd, char *buf, size_t len);

/*
 * The seed's longest-prefix match: the preopen whose guest path is the
 * longest component-wise prefix of absolute `path` (ties: the later fd),
 * and the rest of the path after it. *rel points into `path`. EINVAL if
 * none matches.
 */
cfs_errno cfs_fs_find_preopen(cfs_fs *fs, const char *path, cfs_fd *fd,
                              const char **rel);

/* Change the current directory: `path` is resolved from the current one;
 * it must name a directory. Recorded as absolute. */
cfs_errno cfs_fs_chdir(cfs_fs *fs, const char *path);
/* The current directory (absolute). Valid until the next mutation. */
const char *cfs_fs_getcwd(const cfs_fs *fs);

/*
 * The seed's relative_path_to_absolute: an absolute path is returned as is
 * (no normalization); a relative one is cwd (trailing slashes dropped) + "/"
 * + path. Writes a NUL-terminated string; ENAMETOOLONG if it does not fit.
 */
cfs_errno cfs_fs_abspath(const cfs_fs *fs, const char *path, char *buf,
                         size_t len);

/* ---------------------------------------------------------------------- */
/* The fd table                                                             */

cfs_errno cfs_fd_close(cfs_fs *fs, cfs_fd fd);
/* fd_renumber: `to` must be open; it is closed and `from` takes its number. */
cfs_errno cfs_fd_renumber(cfs_fs *fs, cfs_fd from, cfs_fd to);
/*
 * dup: the first free fd >= min_fd shares fd's description. cloexec: -1 keep
 * fd's flag, 0 clear, 1 set. EBADF for a bad fd, EINVAL if min_fd > MAX_FD,
 * EMFILE if no fd is free.
 */
cfs_errno cfs_fd_dup(cfs_fs *fs, cfs_fd fd, cfs_fd min_fd, int cloexec,
                     cfs_fd *out);
/* dup to the exact fd `at`: EEXIST if it is taken, EBADF if at > MAX_FD. */
cfs_errno cfs_fd_dup_at(cfs_fs *fs, cfs_fd fd, cfs_fd at, int cloexec);
cfs_errno cfs_fd_set_cloexec(cfs_fs *fs, cfs_fd fd, int cloexec);
cfs_errno cfs_fd_get_cloexec(cfs_fs *fs, cfs_fd fd, int *cloexec);
/* exec: close every fd marked close-on-exec (stdio and preopens stay). */
cfs_errno cfs_fs_close_cloexec(cfs_fs *fs);
/* Close every fd of this process. */
cfs_errno cfs_fs_close_all(cfs_fs *fs);

cfs_errno cfs_fd_fdstat_get(cfs_fs *fs, cfs_fd fd, cfs_fdstat *out);
/* Set APPEND/DSYNC/NONBLOCK/RSYNC/SYNC on fd's description. */
cfs_errno cfs_fd_fdstat_set_flags(cfs_fs *fs, cfs_fd fd, uint16_t flags);
/* Rights can only be dropped: adding one is ENOTCAPABLE. */
cfs_errno cfs_fd_fdstat_set_rights(cfs_fs *fs, cfs_fd fd, cfs_rights base,
                                   cfs_rights inheriting);

/* ---------------------------------------------------------------------- */
/* File I/O                                                                 */

/* Read at the fd offset and advance it. Reading a directory is EISDIR.
 * stdio fds have no data: reads give 0 bytes. */
cfs_errno cfs_fd_read(cfs_fs *fs, cfs_fd fd, void *buf, size_t len,
                      size_t *nread);
cfs_errno cfs_fd_pread(cfs_fs *fs, cfs_fd fd, void *buf, size_t len,
                       uint64_t offset, size_t *nread);
/* Write at the fd offset (at the end with APPEND) and advance it. All or
 * nothing: ENOSPC past the byte budget, EFBIG past CFS_MAX_FILE_SIZE.
 * A write to stdout/stderr changes no file and no offset, but it is still
 * an event (ino 11/12) carrying the bytes in `data`, so a replay can show
 * what the guest printed between two mutations. */
cfs_errno cfs_fd_write(cfs_fs *fs, cfs_fd fd, const void *buf, size_t len,
                       size_t *nwritten);
/* Positional write; the fd offset does not move. (With APPEND, as on Linux,
 * the data goes at the end.) */
cfs_errno cfs_fd_pwrite(cfs_fs *fs, cfs_fd fd, const void *buf, size_t len,
                        uint64_t offset, size_t *nwritten);
/* EINVAL for a bad whence or a resulting offset < 0 or > 2^63-1; ESPIPE on
 * stdio (before the rights check: a character device never seeks). */
cfs_errno cfs_fd_seek(cfs_fs *fs, cfs_fd fd, int64_t offset, uint8_t whence,
                      uint64_t *newoffset);
cfs_errno cfs_fd_tell(cfs_fs *fs, cfs_fd fd, uint64_t *offset);
/* Make everything so far durable through the sink's sync. */
cfs_errno cfs_fd_sync(cfs_fs *fs, cfs_fd fd);
cfs_errno cfs_fd_datasync(cfs_fs *fs, cfs_fd fd);
/* Validated, no state change (advice is a hint). */
cfs_errno cfs_fd_advise(cfs_fs *fs, cfs_fd fd, uint64_t offset, uint64_t len,
                        uint8_t advice);
/* Allocate zeroed blocks for [offset, offset+len), growing the file if
 * needed, so later writes there cannot fail for space. */
cfs_errno cfs_fd_allocate(cfs_fs *fs, cfs_fd fd, uint64_t offset,
                          uint64_t len);

cfs_errno cfs_fd_filestat_get(cfs_fs *fs, cfs_fd fd, cfs_filestat *out);
cfs_errno cfs_fd_filestat_set_size(cfs_fs *fs, cfs_fd fd, uint64_t size);
cfs_errno cfs_fd_filestat_set_times(cfs_fs *fs, cfs_fd fd, cfs_time atim,
                                    cfs_time mtim, uint16_t fstflags);

/*
 * fd_readdir exactly as WASI lays it out: from `cookie`, records of
 * {d_next u64, d_ino u64, d_namlen u32, d_type u8, 3 pad} (24 bytes,
 * little-endian) each followed by the name, packed into buf; the last record
 * may be cut off when buf is full (then *used == len, and the caller
 * retries with a bigger buffer or from the last whole record's d_next).
 * A FIFO's d_type is UNKNOWN (WASI has no FIFO type; cfs_dir_next says
 * CFS_FILETYPE_FIFO).
 */
cfs_errno cfs_fd_readdir(cfs_fs *fs, cfs_fd fd, void *buf, size_t len,
                         uint64_t cookie, size_t *used);

/* ---------------------------------------------------------------------- */
/* Paths                                                                    */

/*
 * path_open. The new fd gets rights_base/inheriting, which must be within
 * dirfd's inheriting rights (else ENOTCAPABLE). dirfd needs PATH_OPEN, plus
 * PATH_CREATE_FILE for O_CREAT and PATH_FILESTAT_SET_SIZE for O_TRUNC.
 * Opening a directory with FD_WRITE in rights_base, or with O_TRUNC, is
 * EISDIR; O_DIRECTORY on a non-directory is ENOTDIR; a symlink as the last
 * component without SYMLINK_FOLLOW is ELOOP (O_CREAT|O_EXCL: EEXIST).
 * A FIFO, socket or device (cfs_path_mknod_dev) is ENXIO, whatever the
 * rights: an in-memory state machine has no pipe or driver behind it
 * (Linux answers ENXIO for a socket, and for a device with no driver).
 * A created file takes the handle's creds (cfs_fs_set_creds).
 */
cfs_errno cfs_path_open(cfs_fs *fs, cfs_fd dirfd, uint32_t lookupflags,
                        const char *path, uint16_t oflags,
                        cfs_rights rights_base, cfs_rights rights_inheriting,
                        uint16_t fdflags, cfs_fd *out);

cfs_errno cfs_path_filestat_get(cfs_fs *fs, cfs_fd dirfd, uint32_t lookupflags,
                                const char *path, cfs_filestat *out);
cfs_errno cfs_path_filestat_set_times(cfs_fs *fs, cfs_fd dirfd,
                                      uint32_t lookupflags, const char *path,
                                      cfs_time atim, cfs_time mtim,
                                      uint16_t fstflags);
cfs_errno cfs_path_create_directory(cfs_fs *fs, cfs_fd dirfd, const char *path);
cfs_errno cfs_path_remove_directory(cfs_fs *fs, cfs_fd dirfd, const char *path);
cfs_errno cfs_path_unlink_file(cfs_fs *fs, cfs_fd dirfd, const char *path);
/* rename(2) semantics: replaces a file, or an empty directory with a
 * directory; a directory cannot move into itself (EINVAL). */
cfs_errno cfs_path_rename(cfs_fs *fs, cfs_fd old_dirfd, const char *old_path,
                          cfs_fd new_dirfd, const char *new_path);
/* Create a symlink at new_path whose target is `target` (stored as is). */
cfs_errno cfs_path_symlink(cfs_fs *fs, const char *target, cfs_fd dirfd,
                           const char *new_path);
/* Copy the target into buf (no NUL), truncated to len; *used = bytes copied. */
cfs_errno cfs_path_readlink(cfs_fs *fs, cfs_fd dirfd, const char *path,
                            char *buf, size_t len, size_t *used);
cfs_errno cfs_path_link(cfs_fs *fs, cfs_fd old_dirfd, uint32_t old_lookupflags,
                        const char *old_path, cfs_fd new_dirfd,
                        const char *new_path);

/* ---------------------------------------------------------------------- */
/* POSIX extras for a FUSE front end                                        */

/* chmod: permission bits 07777 (file type bits are ignored). */
cfs_errno cfs_path_chmod(cfs_fs *fs, cfs_fd dirfd, uint32_t lookupflags,
                         const char *path, uint32_t mode);
/* chown: UINT32_MAX leaves that id unchanged. */
cfs_errno cfs_path_chown(cfs_fs *fs, cfs_fd dirfd, uint32_t lookupflags,
                         const char *path, uint32_t uid, uint32_t gid);
/*
 * mknod: a new inode at `path` with permission bits mode & 07777 and the
 * type of mode & CFS_S_IFMT: a regular file (0 or CFS_S_IFREG, empty), or
 * a metadata-only special inode: a FIFO (CFS_S_IFIFO, filetype
 * CFS_FILETYPE_FIFO), a socket (CFS_S_IFSOCK, SOCKET_STREAM), a character
 * or block device (CFS_S_IFCHR/IFBLK) with device number `rdev`. Special
 * inodes hold no data: they can be stat'ed, renamed, linked, unlinked,
 * chmod'ed, chown'ed and have their times set, but not opened
 * (cfs_path_open says ENXIO; the FUSE kernel side serves FIFOs and
 * devices itself). As on Linux, rdev is ignored for a non-device, the
 * directory type is EPERM and a symlink's or an unknown type EINVAL;
 * dirfd needs PATH_CREATE_FILE; EEXIST, ENOENT, ENOTDIR as for any new
 * name. Takes the handle's uid/gid. */
cfs_errno cfs_path_mknod_dev(cfs_fs *fs, cfs_fd dirfd, const char *path,
                             uint32_t mode, uint64_t rdev);
/* cfs_path_mknod_dev with rdev 0. */
cfs_errno cfs_path_mknod(cfs_fs *fs, cfs_fd dirfd, const char *path,
                         uint32_t mode);
cfs_errno cfs_fs_statfs(cfs_fs *fs, cfs_statfs *out);
/* Look up `name` (one component, no '/') in directory inode `dir`. */
cfs_errno cfs_lookup(cfs_fs *fs, cfs_ino dir, const char *name,
                     cfs_filestat *out);
cfs_errno cfs_getattr(cfs_fs *fs, cfs_ino ino, cfs_filestat *out);
/* The entry after `cookie` in directory inode `dir` (CFS_DIRCOOKIE_START for
 * the first: "."); ENOENT at the end of the listing. */
cfs_errno cfs_dir_next(cfs_fs *fs, cfs_ino dir, uint64_t cookie,
                       cfs_dirent *out);

/* ---------------------------------------------------------------------- */
/* Calls by inode or fd, for a FUSE front end                               */
/*
 * The kernel names files by inode; a file may have several paths or none
 * (unlinked while open). These emit the same events as their path forms,
 * with no path (fd and path of the event are 0/NULL for cfs_open_ino). No
 * permission bits are checked (the kernel does, with default_permissions);
 * WASI rights are, on the fds given.
 */

/* Open inode `ino` (a regular file or directory, linked or not) as a new fd
 * (first free) with the given rights, as path_open would have: oflags may
 * hold only CFS_O_DIRECTORY and CFS_O_TRUNC. A symlink opens as O_PATH
 * would: with no rights beyond CFS_RIGHTS_SYMLINK_FD (else ELOOP), for
 * fd_filestat_get/set_times, cfs_fd_chmod/chown and cfs_fd_link on the link
 * itself. A FIFO, socket or device opens the same way, for its metadata
 * only (other rights or O_TRUNC: ENXIO). ENOENT if no such inode, ENOTDIR
 * for O_DIRECTORY on a non-directory, EISDIR for a directory with O_TRUNC
 * or FD_WRITE, EMFILE, EINVAL for other flags. */
#define CFS_RIGHTS_SYMLINK_FD \
    (CFS_RIGHT_FD_FILESTAT_GET | CFS_RIGHT_FD_FILESTAT_SET_TIMES)
cfs_errno cfs_open_ino(cfs_fs *fs, cfs_ino ino, uint16_t oflags,
                       cfs_rights rights_base, cfs_rights rights_inheriting,
                       uint16_t fdflags, cfs_fd *out);
/* fchmod / fchown of what fd refers to (fd needs FD_FILESTAT_SET_TIMES).
 * chmod keeps the permission bits 07777; chown: UINT32_MAX leaves that id
 * unchanged. */
cfs_errno cfs_fd_chmod(cfs_fs *fs, cfs_fd fd, uint32_t mode);
cfs_errno cfs_fd_chown(cfs_fs *fs, cfs_fd fd, uint32_t uid, uint32_t gid);
/* linkat(fd, "", new_dirfd, new_path, AT_EMPTY_PATH): a new entry for the
 * file fd refers to. EPERM for a directory, ENOENT for an unlinked file,
 * EEXIST if new_path exists; new_dirfd needs PATH_LINK_TARGET. */
cfs_errno cfs_fd_link(cfs_fs *fs, cfs_fd fd, cfs_fd new_dirfd,
                      const char *new_path);

/* ---------------------------------------------------------------------- */
/* Queries by inode, without an fd                                          */
/*
 * Reading through an fd changes the state (opening one is an event, a
 * read moves an offset); these read without changing anything: no event,
 * the seq and cfs_fs_hash() stay as they are, cfs_fs_errmsg() too.
 * Inside the engine they change nothing but a lazily loaded block's bytes
 * (filled once, under the block source's lock), so several threads may
 * call them (and cfs_getattr, cfs_lookup, cfs_dir_next) on one engine at
 * once, as long as no thread makes a mutating call meanwhile. No rights
 * are checked: these are for the host (replay, restore, FUSE), not the
 * guest.
 */

/* Read up to len bytes of regular file `ino` at `off` into buf, as
 * fd_pread would (*got < len only at the end of the file; holes read as
 * zeros). ENOENT if no such inode, EISDIR for a directory, EINVAL for
 * another non-file or off > CFS_MAX_FILE_SIZE, EFAULT for NULL pointers,
 * EIO when a lazily loaded block cannot be had. */
cfs_errno cfs_file_pread_ino(const cfs_fs *fs, cfs_ino ino, void *buf,
                             size_t len, uint64_t off, size_t *got);

/* Called with a range [off, off+len) of a file's stored bytes; `data` is
 * the engine's own memory, valid during the call only. Non-zero stops the
 * visit. */
typedef int (*cfs_extent_fn)(void *ctx, uint64_t off, const void *data,
                             size_t len);

/*
 * Visit the stored bytes of regular file `ino` in offset order without
 * copying them: fn gets each stored range (at most CFS_BLOCK_SIZE bytes,
 * never past the file size). Bytes in no range are zeros (holes), so a
 * copy that writes only the ranges and then sets the size keeps the
 * holes sparse; a range may hold zeros too. If fn returns non-zero the
 * visit stops and the call returns ECANCELED with that value in
 * *fn_result (which may be NULL). Errors as cfs_file_pread_ino(), and
 * EIO when a lazily loaded block cannot be had (cfs_fs_decode_image_lazy).
 */
cfs_errno cfs_file_extents(const cfs_fs *fs, cfs_ino ino, cfs_extent_fn fn,
                           void *ctx, int *fn_result);

/* Copy the target of symlink `ino` into buf (no NUL), at most cap bytes;
 * *len = the whole target's length (so *len > cap means it was cut).
 * ENOENT if no such inode, EINVAL if it is not a symlink. */
cfs_errno cfs_readlink_ino(const cfs_fs *fs, cfs_ino ino, char *buf,
                           size_t cap, size_t *len);

/* Resolve `path` from directory inode `dir` as path_open would from a
 * dirfd on it (CFS_INO_ROOT: absolute guest paths), following the last
 * component if it is a symlink only with CFS_LOOKUP_SYMLINK_FOLLOW, and
 * describe what it names. Errors as path resolution gives them (ENOENT,
 * ENOTDIR, ELOOP, ENAMETOOLONG, ENOTCAPABLE for an escape from a `dir`
 * below the root); ENOENT/ENOTDIR also when `dir` is not a directory. */
cfs_errno cfs_lookup_path(const cfs_fs *fs, cfs_ino dir, const char *path,
                          uint32_t lookupflags, cfs_filestat *out);

/* ---------------------------------------------------------------------- */
/* Clones and images (snapshots)                                            */

/*
 * An independent engine with the same state (same cfs_fs_hash), no sink
 * and no clock: the metadata is copied, the file data shared copy-on-write
 * (either engine copies a shared block before changing it), so the cost
 * is the metadata's. The clone may be used (read, encoded) on another
 * thread while the original goes on. Free it with cfs_fs_free().
 * ENOMEM if memory runs out (nothing else changes).
 */
cfs_errno cfs_fs_clone(const cfs_fs *fs, cfs_fs **out);

/* Called once per distinct block content during an encoding: its
 * xxh3-128, and its bytes (valid during the call). Non-zero stops the
 * encoding (it then returns ECANCELED, *fn_result holds the value).
 * For a block not loaded yet (cfs_fs_decode_image_lazy) data is NULL:
 * returning CFS_IMAGE_WANT_BYTES has it loaded (EIO if it cannot be) and
 * the function called again with them. */
#define CFS_IMAGE_WANT_BYTES 0x7fffffff
typedef int (*cfs_image_block_fn)(void *ctx, cfs_hash128 hash,
                                  const void *data, size_t len);
/* Fill buf[0..len) with the block whose content hash is `hash`; 0 on
 * success, non-zero if it cannot be had. */
typedef int (*cfs_image_fetch_fn)(void *ctx, cfs_hash128 hash, void *buf,
                                  size_t len);

/*
 * The state as an image (journal/FORMAT.md, "Snapshot images"): metadata
 * bytes, in *meta (malloc'd; the caller frees), referring to file blocks by
 * content hash; each distinct block goes to block_fn once. Block hashes are
 * cached until a block changes, so an image after a small change hashes
 * only what changed. Not an event: the state does not change.
 */
cfs_errno cfs_fs_encode_image(cfs_fs *fs, uint8_t **meta, size_t *meta_len,
                              cfs_image_block_fn block_fn, void *ctx,
                              int *fn_result);

/*
 * Lazy loading: an engine decoded with cfs_fs_decode_image_lazy() gets
 * its blocks' sizes and hashes from the image and their bytes from `src`
 * only when something first reads or changes them (each is then checked
 * against its hash), so opening a large state costs its metadata. The
 * fetch function is called with the source's lock held (one fetch at a
 * time), on whatever thread touches the block. A block that cannot be
 * had (fetch fails, wrong hash, source closed) makes that call EIO with
 * a message (cfs_fs_errmsg), and the state is unchanged. The engine and
 * its clones keep the source alive; the owner closes it when it can no
 * longer serve (a journal being closed): later fetches fail.
 */
typedef struct cfs_block_source cfs_block_source;
/* NULL without memory or fetch. */
cfs_block_source *cfs_block_source_new(cfs_image_fetch_fn fetch, void *ctx);
/* The owner is done: no fetch after this returns; drops its reference. */
void cfs_block_source_close(cfs_block_source *src);
/* As cfs_fs_decode_image, the blocks left in src. */
cfs_errno cfs_fs_decode_image_lazy(const uint8_t *meta, size_t len,
                                   cfs_block_source *src, const cfs_config *cfg,
                                   cfs_fs **out, char *err, size_t errcap);

/* The state hash of the state an image from cfs_fs_encode_image() holds,
 * without decoding it: cfs_fs_hash() is the xxh3-128 of the bytes an
 * image holds after its 5-byte header, so a snapshot hashes what it
 * encoded instead of walking the state twice. */
cfs_hash128 cfs_image_hash(const uint8_t *meta, size_t len);

/*
 * An engine rebuilt from an image, its blocks fetched through `fetch`
 * (checked against their hashes; identical contents share one block).
 * `cfg` gives the clock and sink (and may override the byte budget).
 * EINVAL for a malformed image or a missing/mismatched block, with what
 * and where in err.
 */
cfs_errno cfs_fs_decode_image(const uint8_t *meta, size_t len,
                              cfs_image_fetch_fn fetch, void *ctx,
                              const cfs_config *cfg, cfs_fs **out, char *err,
                              size_t errcap);

/* Call fn with the content hash and size of every block an image refers
 * to (a hash may come more than once), without loading it: what
 * compaction marks and a send stream ships. EINVAL for a malformed image;
 * fn returning non-zero stops (ECANCELED). */
cfs_errno cfs_image_refs(const uint8_t *meta, size_t len,
                         int (*fn)(void *ctx, cfs_hash128 hash, size_t size),
                         void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* CFS_ENGINE_H */
