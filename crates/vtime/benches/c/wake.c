/* Sleeps 1 ms of virtual time N times; after each wake prints the real
 * CLOCK_MONOTONIC (raw system call, not intercepted) so the bench can
 * subtract the moment it called advance_to. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (long i = 0; i < n; i++) {
        struct timespec d = {0, 1000000}, t;
        nanosleep(&d, NULL);
        syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
        printf("%lld\n", t.tv_sec * 1000000000LL + t.tv_nsec);
    }
    return 0;
}
