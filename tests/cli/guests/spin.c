/*
 * spin.c — a guest for tests/cli/test_run.c: writes /data.txt, prints
 * "written", then computes forever without another WASI call. Whatever
 * commits its write, and snapshots its state, must do so while the guest
 * makes no call (the runner's ticker).
 */
#include <stdio.h>

int main(void)
{
    FILE *f = fopen("/data.txt", "w");
    if (!f || fputs("written before the guest went quiet\n", f) < 0 || fclose(f) != 0) {
        perror("/data.txt");
        return 1;
    }
    printf("written\n");
    fflush(stdout);
    volatile unsigned long n = 0;
    for (;;)
        n++;
}
