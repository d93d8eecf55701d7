/*
 * demo_guest.c — the WASI guest of scripts/demo.sh: appends "step N" lines
 * to /steps.txt up to a total (argv[1], default 10), printing each step.
 * It is restartable: it counts the lines already there and goes on from
 * the next one, so a run resumed on a snapshot's filesystem ends as an
 * uninterrupted run would (a snapshot holds the filesystem, not memory).
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int total = argc > 1 ? atoi(argv[1]) : 10;
    int done = 0;
    char line[64];
    FILE *f = fopen("/steps.txt", "r");
    if (f) {
        while (fgets(line, sizeof line, f))
            done++;
        fclose(f);
        printf("resuming after step %d\n", done);
    }
    for (int i = done + 1; i <= total; i++) {
        f = fopen("/steps.txt", "a");
        if (!f || fprintf(f, "step %d\n", i) < 0 || fclose(f) != 0) {
            perror("/steps.txt");
            return 1;
        }
        printf("step %d of %d\n", i, total);
    }
    return 0;
}
