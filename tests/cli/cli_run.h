/*
 * cli_run.h — running the built `chronofs` (CHRONOFS_BIN) as a user runs
 * it, for the tests in tests/cli/: fork + exec, stdin from a file or
 * /dev/null, stdout and stderr captured (cli_run.c).
 */
#ifndef CFS_CLI_RUN_H
#define CFS_CLI_RUN_H

#include <stddef.h>

struct run {
    int status;   /* exit code, or 128 + signal */
    char *out;    /* stdout, NUL-terminated */
    size_t out_len;
    char *err;    /* stderr */
};

/* All of fd from its start, NUL-terminated (malloc'd); *len (may be NULL)
 * its length. */
char *slurp_fd(int fd, size_t *len);

/* argv = CHRONOFS_BIN then args (NULL-terminated, at most 62). */
void build_argv(char **argv, const char *const *args);

/* Run chronofs with args (NULL-terminated, without the program name),
 * stdin from in_path (NULL: /dev/null), stdout to out_path if not NULL
 * (then r->out is empty) or else captured. */
void run_v(struct run *r, const char *in_path, const char *out_path,
           const char *const *args);
void run_free(struct run *r);

#define RUN(r, ...) run_v((r), NULL, NULL, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_IO(r, in, out, ...) run_v((r), (in), (out), (const char *const[]){__VA_ARGS__, NULL})

#endif
