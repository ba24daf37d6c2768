/* A C node for tests/c.rs: each glibc timed call in turn, printing the
 * virtual time (ns since the test began) after each. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

static long long vnow(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - 1000000LL) * 1000000000LL + t.tv_nsec;
}

static void after(struct timespec *t, clockid_t clock, long long ns) {
    clock_gettime(clock, t);
    ns += t->tv_nsec;
    t->tv_sec += ns / 1000000000LL;
    t->tv_nsec = ns % 1000000000LL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct pollfd in = {0, POLLIN, 0};
    struct timespec zero = {0, 0};
    int polled = poll(&in, 1, 0);
    int slept = nanosleep(&zero, NULL);
    printf("zero %d %d %lld\n", polled, slept, vnow());

    struct timespec d = {0, 100000000};
    nanosleep(&d, NULL);
    printf("nanosleep %lld\n", vnow());

    struct timespec a;
    after(&a, CLOCK_MONOTONIC, 200000000);
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &a, NULL);
    printf("clock_nanosleep %lld\n", vnow());

    polled = poll(&in, 1, 300);
    printf("poll %d %lld\n", polled, vnow());

    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t realtime = PTHREAD_COND_INITIALIZER;
    after(&a, CLOCK_REALTIME, 1000000000);
    pthread_mutex_lock(&m);
    int rc;
    do rc = pthread_cond_timedwait(&realtime, &m, &a); while (rc == 0);
    pthread_mutex_unlock(&m);
    printf("cond_realtime %s %lld\n", rc == ETIMEDOUT ? "ETIMEDOUT" : "other", vnow());

    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_t monotonic;
    pthread_cond_init(&monotonic, &attr);
    after(&a, CLOCK_MONOTONIC, 2000000000);
    pthread_mutex_lock(&m);
    do rc = pthread_cond_timedwait(&monotonic, &m, &a); while (rc == 0);
    pthread_mutex_unlock(&m);
    printf("cond_monotonic %s %lld\n", rc == ETIMEDOUT ? "ETIMEDOUT" : "other", vnow());

    int ready = poll(&in, 1, 5000);
    char buf[16];
    ssize_t n = read(0, buf, sizeof buf);
    printf("poll_input %d %zd %lld\n", ready, n, vnow());

    usleep(1000);
    printf("usleep %lld\n", vnow());
    sleep(1);
    printf("sleep %lld\n", vnow());

    fd_set r;
    FD_ZERO(&r);
    FD_SET(0, &r);
    struct timeval tv = {0, 500000};
    rc = select(1, &r, NULL, NULL, &tv);
    printf("select %d %lld\n", rc, vnow());
    return 0;
}
