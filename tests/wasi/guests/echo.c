/*
 * echo — prints its arguments and the environment variables named by
 * them to stdout, "to stderr" to stderr, one line of stdin back, then
 * exits with the status given by the first argument ("exit:N": exit(N)
 * from a nested call; "ret:N": return N from main).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void nested_exit(int code)
{
    exit(code);
}

int main(int argc, char **argv)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    const char *v = getenv("CFS_TEST_VAR");
    printf("CFS_TEST_VAR=%s\n", v ? v : "(unset)");
    extern char **environ;
    int n = 0;
    for (char **e = environ; *e; e++)
        n++;
    printf("envc=%d\n", n);
    fflush(stdout);
    fprintf(stderr, "to stderr\n");
    char line[128];
    if (fgets(line, sizeof(line), stdin))
        printf("stdin: %s", line);
    else
        printf("stdin: EOF\n");
    fflush(stdout);
    int code = 0;
    if (argc > 1 && strncmp(argv[1], "exit:", 5) == 0)
        nested_exit(atoi(argv[1] + 5));
    if (argc > 1 && strncmp(argv[1], "ret:", 4) == 0)
        code = atoi(argv[1] + 4);
    return code;
}
