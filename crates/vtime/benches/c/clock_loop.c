/* clock_gettime(CLOCK_MONOTONIC) in a loop: ns per call. Run with and
 * without the preload library; the loop's own time is read with a raw
 * system call, which the library does not intercept. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long raw_ns(void) {
    struct timespec t;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    struct timespec t;
    volatile long long sink = 0;
    long long start = raw_ns();
    for (long i = 0; i < n; i++) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        sink += t.tv_nsec;
    }
    long long end = raw_ns();
    printf("%.2f\n", (double)(end - start) / (double)n);
    return 0;
}
