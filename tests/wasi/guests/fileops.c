/*
 * fileops — a WASI guest that goes over the whole filesystem surface
 * through wasi-libc and prints a transcript (one line per step: what it
 * did and what came back, errno by name) that test_fileops.c compares
 * with fileops.expected. It leaves a known tree behind for the host to
 * check through the engine: /work/{data.txt, big.bin, hard, link -> data.txt,
 * sub/, renamed.txt}.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <wasi/api.h>

static const char *ename(int e)
{
    switch (e) {
    case 0: return "OK";
    case EACCES: return "EACCES";
    case EBADF: return "EBADF";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case EISDIR: return "EISDIR";
    case ELOOP: return "ELOOP";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ENOTCAPABLE: return "ENOTCAPABLE";
    case EPERM: return "EPERM";
    case ESPIPE: return "ESPIPE";
    case EXDEV: return "EXDEV";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    default: return "E?";
    }
}

/* r: a call's result (-1 = failed, errno says why) */
#define SHOW(what, r)                                                       \
    do {                                                                    \
        long long r_ = (long long)(r);                                      \
        if (r_ < 0)                                                         \
            printf("%-34s -> %s\n", what, ename(errno));                    \
        else                                                                \
            printf("%-34s -> %lld\n", what, r_);                            \
        errno = 0;                                                          \
    } while (0)

static void cat(const char *path)
{
    char buf[256];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("cat %s -> %s\n", path, ename(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    buf[n < 0 ? 0 : n] = 0;
    printf("cat %s -> \"%s\"\n", path, buf);
    close(fd);
}

/* a raw WASI call's result as a libc-style one */
static int wasi_rc(__wasi_errno_t e)
{
    if (e == 0)
        return 0;
    errno = e;
    return -1;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        printf("ls %s -> %s\n", path, ename(errno));
        return;
    }
    char *names[64];
    int n = 0, ino_ok = 1;
    struct dirent *de;
    while ((de = readdir(d)) && n < 64) {
        names[n++] = strdup(de->d_name);
        struct stat st;
        char full[512];
        snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
        if (lstat(full, &st) || st.st_ino != de->d_ino)
            ino_ok = 0;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
    printf("ls %s ->", path);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf(" (d_ino == st_ino: %s)\n", ino_ok ? "yes" : "NO");
}

int main(void)
{
    struct stat st;
    char buf[128];
    ssize_t n;
    int fd, fd2;

    SHOW("mkdir /work", mkdir("/work", 0755));
    SHOW("mkdir /work again", mkdir("/work", 0755));
    SHOW("chdir /work", chdir("/work"));

    /* create, write, read, seek */
    fd = open("data.txt", O_CREAT | O_RDWR | O_EXCL, 0644);
    SHOW("open data.txt O_CREAT|O_EXCL", fd);
    SHOW("open data.txt O_CREAT|O_EXCL again",
         open("data.txt", O_CREAT | O_RDWR | O_EXCL, 0644));
    SHOW("write hello world", write(fd, "hello world", 11));
    SHOW("lseek SEEK_CUR 0", lseek(fd, 0, SEEK_CUR));
    SHOW("lseek SEEK_SET 6", lseek(fd, 6, SEEK_SET));
    n = read(fd, buf, sizeof(buf));
    SHOW("read after seek", n);
    printf("  got \"%.*s\"\n", (int)(n > 0 ? n : 0), buf);
    SHOW("pwrite WORLD at 6", pwrite(fd, "WORLD", 5, 6));
    SHOW("lseek SEEK_CUR after pwrite", lseek(fd, 0, SEEK_CUR));
    n = pread(fd, buf, 5, 0);
    SHOW("pread 5 at 0", n);
    printf("  got \"%.*s\"\n", (int)(n > 0 ? n : 0), buf);
    SHOW("lseek SEEK_END -5", lseek(fd, -5, SEEK_END));
    SHOW("lseek SEEK_SET -1", lseek(fd, -1, SEEK_SET));
    SHOW("fstat", fstat(fd, &st));
    printf("  size %lld regular %d nlink %lld\n", (long long)st.st_size,
           S_ISREG(st.st_mode), (long long)st.st_nlink);
    SHOW("ftruncate 5", ftruncate(fd, 5));
    SHOW("ftruncate 20000 (sparse)", ftruncate(fd, 20000));
    SHOW("pread past a hole", pread(fd, buf, 4, 10000));
    printf("  bytes %d %d %d %d\n", buf[0], buf[1], buf[2], buf[3]);
    SHOW("ftruncate 5 again", ftruncate(fd, 5));
    SHOW("fsync", fsync(fd));
    SHOW("fdatasync", fdatasync(fd));
    SHOW("close", close(fd));
    SHOW("close again", close(fd));
    cat("data.txt");

    /* O_APPEND and fcntl flags */
    fd = open("data.txt", O_WRONLY | O_APPEND);
    SHOW("open O_WRONLY|O_APPEND", fd);
    SHOW("fcntl F_GETFL has O_APPEND", (fcntl(fd, F_GETFL) & O_APPEND) != 0);
    SHOW("lseek SEEK_SET 0", lseek(fd, 0, SEEK_SET));
    SHOW("write !!", write(fd, "!!", 2));
    SHOW("fcntl F_SETFL 0", fcntl(fd, F_SETFL, 0));
    SHOW("fcntl F_GETFL has O_APPEND", (fcntl(fd, F_GETFL) & O_APPEND) != 0);
    SHOW("lseek SEEK_SET 0", lseek(fd, 0, SEEK_SET));
    SHOW("write H", write(fd, "H", 1));
    SHOW("read on O_WRONLY", read(fd, buf, 1));
    SHOW("close", close(fd));
    cat("data.txt");

    /* O_TRUNC, O_DIRECTORY, directories as files */
    fd = open("trunc.txt", O_CREAT | O_WRONLY, 0644);
    SHOW("write 10 bytes", write(fd, "0123456789", 10));
    close(fd);
    fd = open("trunc.txt", O_WRONLY | O_TRUNC);
    SHOW("open O_TRUNC", fd);
    SHOW("fstat size after O_TRUNC", fstat(fd, &st) ? -1 : st.st_size);
    close(fd);
    SHOW("open data.txt O_DIRECTORY", open("data.txt", O_RDONLY | O_DIRECTORY));
    SHOW("open /work O_WRONLY", open("/work", O_WRONLY));
    SHOW("open missing", open("missing.txt", O_RDONLY));
    SHOW("open missing/x O_CREAT", open("missing/x", O_CREAT | O_WRONLY, 0644));

    /* stat family, utimens */
    SHOW("stat data.txt", stat("data.txt", &st));
    printf("  size %lld\n", (long long)st.st_size);
    struct timespec ts[2] = {{1000, 5}, {2000, 7}};
    SHOW("utimensat data.txt", utimensat(AT_FDCWD, "data.txt", ts, 0));
    stat("data.txt", &st);
    printf("  atime %lld.%09ld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec,
           st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec,
           st.st_mtim.tv_nsec);
    fd = open("data.txt", O_RDONLY);
    struct timespec ts2[2] = {{3000, 0}, {4000, 0}};
    SHOW("futimens", futimens(fd, ts2));
    fstat(fd, &st);
    printf("  atime %lld mtime %lld\n", (long long)st.st_atim.tv_sec,
           (long long)st.st_mtim.tv_sec);
    SHOW("fd_filestat_set_times atime only",
         wasi_rc(__wasi_fd_filestat_set_times(fd, 5000000000000ull, 0,
                                              __WASI_FSTFLAGS_ATIM)));
    fstat(fd, &st);
    printf("  atime %lld mtime %lld\n", (long long)st.st_atim.tv_sec,
           (long long)st.st_mtim.tv_sec);
    SHOW("fd_filestat_set_times ATIM_NOW|MTIM_NOW",
         wasi_rc(__wasi_fd_filestat_set_times(fd, 0, 0,
                                              __WASI_FSTFLAGS_ATIM_NOW |
                                                  __WASI_FSTFLAGS_MTIM_NOW)));
    fstat(fd, &st);
    printf("  atime %lld mtime %lld\n", (long long)st.st_atim.tv_sec,
           (long long)st.st_mtim.tv_sec);
    close(fd);

    /* links */
    SHOW("link data.txt hard", link("data.txt", "hard"));
    SHOW("link onto existing", link("data.txt", "hard"));
    SHOW("stat nlink", stat("hard", &st) ? -1 : (long long)st.st_nlink);
    struct stat st2;
    stat("data.txt", &st2);
    SHOW("same inode", st.st_ino == st2.st_ino);
    SHOW("symlink data.txt link", symlink("data.txt", "link"));
    n = readlink("link", buf, sizeof(buf));
    SHOW("readlink link", n);
    printf("  target \"%.*s\"\n", (int)(n > 0 ? n : 0), buf);
    SHOW("readlink on a file", readlink("data.txt", buf, sizeof(buf)));
    SHOW("lstat link is symlink", lstat("link", &st) ? -1 : S_ISLNK(st.st_mode));
    SHOW("stat link is regular", stat("link", &st) ? -1 : S_ISREG(st.st_mode));
    SHOW("open link O_NOFOLLOW", open("link", O_RDONLY | O_NOFOLLOW));
    SHOW("symlink loop a->b", symlink("b", "a"));
    SHOW("symlink loop b->a", symlink("a", "b"));
    SHOW("open loop", open("a", O_RDONLY));
    SHOW("unlink a", unlink("a"));
    SHOW("unlink b", unlink("b"));

    /* directories */
    SHOW("mkdir sub", mkdir("sub", 0755));
    fd = open("sub/f", O_CREAT | O_WRONLY, 0644);
    close(fd);
    SHOW("rmdir non-empty sub", rmdir("sub"));
    SHOW("unlink a directory", unlink("sub"));
    SHOW("rmdir a file", rmdir("data.txt"));
    SHOW("unlink sub/f", unlink("sub/f"));
    SHOW("mkdir sub/inner", mkdir("sub/inner", 0755));
    SHOW("rmdir sub/inner/ (slash)", rmdir("sub/inner/"));
    SHOW("stat data.txt/ (slash)", stat("data.txt/", &st));
    SHOW("stat sub/ (slash)", stat("sub/", &st));
    SHOW("open data.txt/ (slash)", open("data.txt/", O_RDONLY));

    /* rename */
    fd = open("old.txt", O_CREAT | O_WRONLY, 0644);
    write(fd, "renamed", 7);
    close(fd);
    SHOW("rename old.txt renamed.txt", rename("old.txt", "renamed.txt"));
    SHOW("rename missing", rename("old.txt", "x.txt"));
    SHOW("rename dir into itself", rename("sub", "sub/deeper"));
    SHOW("rename file over dir", rename("renamed.txt", "sub"));
    cat("renamed.txt");
    fd = open("tmp.txt", O_CREAT | O_WRONLY, 0644);
    write(fd, "tmp", 3);
    close(fd);
    SHOW("rename tmp.txt over trunc.txt", rename("tmp.txt", "trunc.txt"));
    cat("trunc.txt");
    SHOW("unlink trunc.txt", unlink("trunc.txt"));

    /* an unlinked file stays readable through its fd */
    fd = open("ghost", O_CREAT | O_RDWR, 0644);
    write(fd, "boo", 3);
    SHOW("unlink ghost while open", unlink("ghost"));
    n = pread(fd, buf, 3, 0);
    SHOW("pread unlinked", n);
    SHOW("fstat nlink unlinked", fstat(fd, &st) ? -1 : (long long)st.st_nlink);
    close(fd);

    /* escape from the preopen */
    SHOW("open /../etc/passwd", open("/../etc/passwd", O_RDONLY));
    SHOW("stat ../../.. (clamped at /)", stat("../../..", &st) ? -1 : (long long)st.st_ino);
    fd = open("/work/sub", O_RDONLY | O_DIRECTORY);
    SHOW("openat(sub, ../data.txt)", openat(fd, "../data.txt", O_RDONLY));
    SHOW("openat(sub, ./../x)", openat(fd, "./../x", O_RDONLY));
    SHOW("symlink sub/out -> /work", symlink("/work", "sub/out"));
    SHOW("openat(sub, out/data.txt)", openat(fd, "out/data.txt", O_RDONLY));
    SHOW("unlink sub/out", unlink("sub/out"));
    close(fd);
    char longname[300];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    SHOW("mkdir a 299-byte name", mkdir(longname, 0755));

    /* fd_renumber (wasi-libc has no dup2) */
    fd = open("data.txt", O_RDONLY);
    fd2 = open("renamed.txt", O_RDONLY);
    SHOW("fd_renumber fd2 -> fd", wasi_rc(__wasi_fd_renumber(fd2, fd)));
    n = read(fd, buf, 7);
    printf("  fd now reads \"%.*s\"\n", (int)(n > 0 ? n : 0), buf);
    SHOW("read old fd2 (renumbered away)", read(fd2, buf, 1));
    SHOW("fd_renumber onto a closed fd", wasi_rc(__wasi_fd_renumber(fd, 100)));
    close(fd);

    /* readdir with telldir/seekdir cookies */
    list("/work");
    DIR *d = opendir("/work");
    struct dirent *de;
    long pos = -1;
    char after[64] = "";
    int count = 0;
    while ((de = readdir(d))) {
        if (++count == 3) {
            pos = telldir(d);
        } else if (count == 4) {
            snprintf(after, sizeof(after), "%s", de->d_name);
        }
    }
    seekdir(d, pos);
    de = readdir(d);
    SHOW("seekdir(telldir) resumes", de && strcmp(de->d_name, after) == 0);
    rewinddir(d);
    de = readdir(d);
    SHOW("rewinddir gives .", de && strcmp(de->d_name, ".") == 0);
    closedir(d);
    SHOW("opendir a file", opendir("data.txt") ? 0 : -1);

    /* a bigger file, across blocks */
    fd = open("big.bin", O_CREAT | O_RDWR, 0644);
    static char block[70000];
    for (size_t i = 0; i < sizeof(block); i++)
        block[i] = (char)(i % 251);
    SHOW("write 70000", write(fd, block, sizeof(block)));
    static char back[70000];
    SHOW("pread 70000", pread(fd, back, sizeof(back), 0));
    SHOW("same bytes", memcmp(block, back, sizeof(block)) == 0);
    close(fd);

    /* stdio is a character device, not seekable */
    SHOW("lseek stdout", lseek(1, 0, SEEK_CUR));
    SHOW("isatty-ish fstat stdout chr", fstat(1, &st) ? -1 : S_ISCHR(st.st_mode));
    fflush(stdout);
    return 0;
}
