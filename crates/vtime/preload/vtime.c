/*
 * lightcone virtual time: an LD_PRELOAD library that puts a node process
 * (anything dynamically linked against glibc) on a clock owned by the
 * workbench.
 *
 * The workbench creates one small file per node process and names it in the
 * environment variable LIGHTCONE_VTIME. Both sides map it MAP_SHARED. The
 * workbench writes `now_ns` (virtual nanoseconds since the test began), bumps
 * the `epoch` futex word and wakes it. This library:
 *   - answers clock reads from `now_ns`, mapped into each clock's domain with
 *     fixed bases (see VT_MONOTONIC_BASE_S and VT_REALTIME_BASE_S);
 *   - turns sleeps into "register a virtual deadline in a slot, wait on the
 *     epoch futex until now_ns >= deadline";
 *   - turns timed waits on real objects (poll, select, epoll, semaphores,
 *     condition variables) into untimed real waits plus a registered virtual
 *     deadline; a helper thread in the process interrupts the waiter once
 *     virtual time passes the deadline (a real-time signal installed without
 *     SA_RESTART for the calls that return EINTR, a broadcast for condition
 *     variables, whose glibc implementation retries on EINTR).
 * Without LIGHTCONE_VTIME every wrapper passes straight through.
 *
 * The layout of the shared file is mirrored in crates/vtime/src/layout.rs;
 * change both together and bump VT_VERSION.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define VT_MAGIC 0x454d49544e54434cULL /* "LCTNTIME" read as little-endian bytes */
#define VT_VERSION 1u
#define VT_SLOT_COUNT 256u
#define VT_HEADER_BYTES 128u

/* Fixed bases: virtual 0 is monotonic 1,000,000 s and realtime
 * 2024-01-01T00:00:00Z. They are far apart on purpose: an absolute deadline
 * whose clock we cannot know (pthread_cond_timedwait uses the clock set on the
 * condvar's attribute, which glibc keeps privately) is realtime when it is past
 * VT_DOMAIN_SPLIT_S seconds, monotonic otherwise. */
#define VT_MONOTONIC_BASE_S 1000000ULL
#define VT_REALTIME_BASE_S 1704067200ULL
#define VT_TAI_OFFSET_S 37ULL
#define VT_DOMAIN_SPLIT_S 1000000000ULL
#define NS_PER_S 1000000000ULL

enum vt_kind { VT_KIND_SLEEP = 1, VT_KIND_SIGNAL = 2, VT_KIND_CONDVAR = 3 };
enum vt_state { VT_FREE = 0, VT_WAITING = 1, VT_BUSY = 2 };

struct vt_slot {
    _Atomic int32_t tid;        /* 0: free; claimed by CAS */
    _Atomic int32_t pid;        /* the process of tid (tgkill needs it) */
    _Atomic uint32_t kind;      /* enum vt_kind */
    _Atomic uint32_t state;     /* enum vt_state; WAITING publishes deadline_ns */
    _Atomic uint64_t deadline_ns; /* virtual */
    _Atomic uint64_t object;    /* the condvar, for VT_KIND_CONDVAR */
    _Atomic uint32_t kicks;     /* interruptions sent to this wait */
    uint32_t reserved0;
    uint64_t reserved1;
};
_Static_assert(sizeof(struct vt_slot) == 48, "slot layout is shared with Rust");

struct vt_shared {
    uint64_t magic;                 /* 0 */
    uint32_t version;               /* 8 */
    uint32_t slot_count;            /* 12 */
    _Atomic uint64_t now_ns;        /* 16, written by the workbench only */
    _Atomic uint32_t epoch;         /* 24, futex word, bumped by the workbench */
    _Atomic int32_t attached_pid;   /* 28, first process that loaded us */
    _Atomic uint64_t clock_reads;   /* 32 */
    _Atomic uint64_t sleeps;        /* 40 */
    _Atomic uint64_t timed_waits;   /* 48 */
    _Atomic uint64_t table_full;    /* 56: waits that fell back to real time */
    _Atomic uint64_t kicks;         /* 64: signals sent to timed waiters */
    _Atomic uint64_t broadcasts;    /* 72: condvar broadcasts at a deadline */
    _Atomic uint64_t kick_retries;  /* 80: helper rescans with an overdue waiter left */
    _Atomic int32_t wake_signal;    /* 88 */
    uint32_t reserved0;             /* 92 */
    uint64_t reserved[4];           /* 96..128 */
    struct vt_slot slots[];         /* 128 */
};
_Static_assert(sizeof(struct vt_shared) == VT_HEADER_BYTES, "header layout is shared with Rust");

static struct vt_shared *vt; /* NULL: pass-through */
static int vt_signal;

/* ---- the real functions ------------------------------------------------ */

#if defined(__x86_64__)
#define VT_COND_VERSION "GLIBC_2.3.2"
#elif defined(__aarch64__)
#define VT_COND_VERSION "GLIBC_2.17"
#else
#define VT_COND_VERSION NULL
#endif

static void *vt_resolve(const char *name, const char *version) {
    void *f = NULL;
    /* dlsym picks the oldest version of a versioned symbol; for the condvar
     * functions that is the pre-2.3.2 layout, which must not be used. */
    if (version) f = dlvsym(RTLD_NEXT, name, version);
    if (!f) f = dlsym(RTLD_NEXT, name);
    return f;
}

#define REAL(name) real_##name
#define DECLARE_REAL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__)
#define ENSURE_REAL(name, version)                                               \
    do {                                                                         \
        if (!real_##name) real_##name = vt_resolve(#name, version);              \
    } while (0)

DECLARE_REAL(int, clock_gettime, clockid_t, struct timespec *);
DECLARE_REAL(int, gettimeofday, struct timeval *, void *);
DECLARE_REAL(time_t, time, time_t *);
DECLARE_REAL(int, timespec_get, struct timespec *, int);
DECLARE_REAL(int, nanosleep, const struct timespec *, struct timespec *);
DECLARE_REAL(int, clock_nanosleep, clockid_t, int, const struct timespec *, struct timespec *);
DECLARE_REAL(int, usleep, useconds_t);
DECLARE_REAL(unsigned int, sleep, unsigned int);
DECLARE_REAL(int, poll, struct pollfd *, nfds_t, int);
DECLARE_REAL(int, ppoll, struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
DECLARE_REAL(int, select, int, fd_set *, fd_set *, fd_set *, struct timeval *);
DECLARE_REAL(int, pselect, int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
DECLARE_REAL(int, epoll_wait, int, struct epoll_event *, int, int);
DECLARE_REAL(int, epoll_pwait, int, struct epoll_event *, int, int, const sigset_t *);
DECLARE_REAL(int, sem_wait, sem_t *);
DECLARE_REAL(int, sem_trywait, sem_t *);
DECLARE_REAL(int, sem_timedwait, sem_t *, const struct timespec *);
DECLARE_REAL(int, sem_clockwait, sem_t *, clockid_t, const struct timespec *);
DECLARE_REAL(int, pthread_cond_wait, pthread_cond_t *, pthread_mutex_t *);
DECLARE_REAL(int, pthread_cond_timedwait, pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
DECLARE_REAL(int, pthread_cond_clockwait, pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *);
DECLARE_REAL(int, pthread_cond_broadcast, pthread_cond_t *);
DECLARE_REAL(long, syscall, long, ...);
/* The library's own system calls: never through its own syscall() wrapper,
 * which would make the helper's real-time backoff virtual. */
#define vt_raw_syscall(...) REAL(syscall)(__VA_ARGS__)

static void vt_resolve_all(void) {
    ENSURE_REAL(clock_gettime, NULL);
    ENSURE_REAL(gettimeofday, NULL);
    ENSURE_REAL(time, NULL);
    ENSURE_REAL(timespec_get, NULL);
    ENSURE_REAL(nanosleep, NULL);
    ENSURE_REAL(clock_nanosleep, NULL);
    ENSURE_REAL(usleep, NULL);
    ENSURE_REAL(sleep, NULL);
    ENSURE_REAL(poll, NULL);
    ENSURE_REAL(ppoll, NULL);
    ENSURE_REAL(select, NULL);
    ENSURE_REAL(pselect, NULL);
    ENSURE_REAL(epoll_wait, NULL);
    ENSURE_REAL(epoll_pwait, NULL);
    ENSURE_REAL(sem_wait, NULL);
    ENSURE_REAL(sem_trywait, NULL);
    ENSURE_REAL(sem_timedwait, NULL);
    ENSURE_REAL(sem_clockwait, NULL);
    ENSURE_REAL(pthread_cond_wait, VT_COND_VERSION);
    ENSURE_REAL(pthread_cond_timedwait, VT_COND_VERSION);
    ENSURE_REAL(pthread_cond_clockwait, NULL);
    ENSURE_REAL(pthread_cond_broadcast, VT_COND_VERSION);
    ENSURE_REAL(syscall, NULL);
}

/* ---- small helpers ----------------------------------------------------- */

static long vt_futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *timeout) {
    return vt_raw_syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}

static inline uint64_t vt_now(void) {
    return atomic_load_explicit(&vt->now_ns, memory_order_acquire);
}

static inline void vt_count(_Atomic uint64_t *counter) {
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

static uint64_t ts_to_ns(const struct timespec *ts) {
    if (ts->tv_sec < 0) return 0;
    uint64_t s = (uint64_t)ts->tv_sec;
    if (s > (UINT64_MAX - NS_PER_S) / NS_PER_S) return UINT64_MAX;
    return s * NS_PER_S + (uint64_t)ts->tv_nsec;
}

static void ns_to_ts(uint64_t ns, struct timespec *ts) {
    ts->tv_sec = (time_t)(ns / NS_PER_S);
    ts->tv_nsec = (long)(ns % NS_PER_S);
}

static uint64_t sat_add(uint64_t a, uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int ts_valid(const struct timespec *ts) {
    return ts->tv_nsec >= 0 && ts->tv_nsec < (long)NS_PER_S;
}

/* The base, in nanoseconds, of the domain of a virtual clock; 0 when the
 * clock is not virtual (CPU-time clocks, unknown ids). */
enum { VT_DOMAIN_NONE = 0, VT_DOMAIN_MONOTONIC, VT_DOMAIN_REALTIME, VT_DOMAIN_TAI };

static int vt_domain(clockid_t clock) {
    switch (clock) {
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_BOOTTIME_ALARM:
        return VT_DOMAIN_MONOTONIC;
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_REALTIME_ALARM:
        return VT_DOMAIN_REALTIME;
    case CLOCK_TAI:
        return VT_DOMAIN_TAI;
    default:
        return VT_DOMAIN_NONE;
    }
}

static uint64_t vt_domain_base_ns(int domain) {
    switch (domain) {
    case VT_DOMAIN_MONOTONIC: return VT_MONOTONIC_BASE_S * NS_PER_S;
    case VT_DOMAIN_REALTIME: return VT_REALTIME_BASE_S * NS_PER_S;
    case VT_DOMAIN_TAI: return (VT_REALTIME_BASE_S + VT_TAI_OFFSET_S) * NS_PER_S;
    default: return 0;
    }
}

/* An absolute time in a clock's domain, as a virtual deadline. Times before
 * the base are in the past: deadline 0. */
static uint64_t vt_abs_to_virtual(int domain, const struct timespec *abs) {
    uint64_t ns = ts_to_ns(abs), base = vt_domain_base_ns(domain);
    return ns > base ? ns - base : 0;
}

/* pthread_cond_timedwait: the clock is the condvar's, which we cannot read. */
static int vt_guess_domain(const struct timespec *abs) {
    return (uint64_t)abs->tv_sec >= VT_DOMAIN_SPLIT_S ? VT_DOMAIN_REALTIME : VT_DOMAIN_MONOTONIC;
}

static pid_t vt_gettid(void) { return (pid_t)vt_raw_syscall(SYS_gettid); }

/* The real-time fallback of an absolute virtual deadline (table full): the
 * same distance ahead on the real clock. Handing the virtual time itself to
 * the kernel would be read as a real one: 10^6 s of uptime is days away. */
static struct timespec vt_real_deadline(clockid_t clock, uint64_t deadline) {
    uint64_t now = vt_now(), left = deadline > now ? deadline - now : 0;
    struct timespec t;
    REAL(clock_gettime)(clock, &t);
    ns_to_ts(sat_add(ts_to_ns(&t), left), &t);
    return t;
}

/* ---- the slot table ---------------------------------------------------- */

/* Claims a slot and publishes the deadline. Returns NULL when every slot is
 * taken: the caller then falls back to a real-time wait and the
 * `table_full` counter says so. */
static struct vt_slot *vt_claim(enum vt_kind kind, uint64_t deadline, const void *object) {
    pid_t tid = vt_gettid();
    uint32_t n = vt->slot_count;
    uint32_t start = (uint32_t)tid % n;
    for (uint32_t i = 0; i < n; i++) {
        struct vt_slot *s = &vt->slots[(start + i) % n];
        int32_t expected = 0;
        if (atomic_load_explicit(&s->tid, memory_order_relaxed) != 0) continue;
        if (!atomic_compare_exchange_strong(&s->tid, &expected, tid)) continue;
        atomic_store_explicit(&s->pid, getpid(), memory_order_relaxed);
        atomic_store_explicit(&s->kind, kind, memory_order_relaxed);
        atomic_store_explicit(&s->object, (uint64_t)(uintptr_t)object, memory_order_relaxed);
        atomic_store_explicit(&s->kicks, 0, memory_order_relaxed);
        atomic_store_explicit(&s->deadline_ns, deadline, memory_order_relaxed);
        atomic_store_explicit(&s->state, VT_WAITING, memory_order_release);
        return s;
    }
    vt_count(&vt->table_full);
    return NULL;
}

static void vt_release(struct vt_slot *s) {
    for (;;) {
        uint32_t expected = VT_WAITING;
        if (atomic_compare_exchange_strong(&s->state, &expected, VT_FREE)) break;
        /* The helper is interrupting this wait right now (VT_BUSY); it holds
         * the slot's object, so we may not return until it is done. */
        sched_yield();
    }
    if (atomic_load_explicit(&s->kicks, memory_order_acquire) != 0) {
        /* A kick may still be pending on this thread; one system call returns
         * to user space and delivers it here, not inside the caller's next
         * read() (where it would be an EINTR the caller never asked for). */
        vt_raw_syscall(SYS_getppid);
    }
    atomic_store_explicit(&s->tid, 0, memory_order_release);
}

/* ---- the helper thread: interrupts waits at their deadline ------------- */

static _Atomic pid_t vt_helper_pid; /* the process whose helper runs */
static pthread_mutex_t vt_helper_lock = PTHREAD_MUTEX_INITIALIZER;

/* Interrupts every wait of this process whose deadline has passed; returns
 * how many it interrupted. */
static unsigned vt_interrupt_overdue(pid_t self) {
    unsigned acted = 0;
    uint64_t now = vt_now();
    for (uint32_t i = 0; i < vt->slot_count; i++) {
        struct vt_slot *s = &vt->slots[i];
        uint32_t kind = atomic_load_explicit(&s->kind, memory_order_relaxed);
        if (kind != VT_KIND_SIGNAL && kind != VT_KIND_CONDVAR) continue;
        uint32_t expected = VT_WAITING;
        if (atomic_load_explicit(&s->state, memory_order_acquire) != VT_WAITING) continue;
        if (!atomic_compare_exchange_strong(&s->state, &expected, VT_BUSY)) continue;
        /* Owned until we store WAITING again: the fields are stable now. */
        int32_t pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
        int32_t tid = atomic_load_explicit(&s->tid, memory_order_relaxed);
        kind = atomic_load_explicit(&s->kind, memory_order_relaxed);
        uint64_t deadline = atomic_load_explicit(&s->deadline_ns, memory_order_relaxed);
        if (pid == self && deadline <= now) {
            atomic_fetch_add_explicit(&s->kicks, 1, memory_order_relaxed);
            if (kind == VT_KIND_CONDVAR) {
                pthread_cond_t *c = (pthread_cond_t *)(uintptr_t)atomic_load_explicit(&s->object, memory_order_relaxed);
                REAL(pthread_cond_broadcast)(c);
                vt_count(&vt->broadcasts);
            } else {
                vt_raw_syscall(SYS_tgkill, pid, tid, vt_signal);
                vt_count(&vt->kicks);
            }
            acted++;
        }
        atomic_store_explicit(&s->state, VT_WAITING, memory_order_release);
    }
    return acted;
}

static void *vt_helper_main(void *arg) {
    (void)arg;
    pid_t self = getpid();
    /* A kick can be lost when it lands between a waiter's last look at
     * now_ns and its entry into the kernel. So while an overdue waiter is
     * left the helper looks again after a real-time backoff; the deadline
     * and the outcome stay virtual, only the wake is late. */
    long backoff_ns = 1000000;
    for (;;) {
        uint32_t epoch = atomic_load_explicit(&vt->epoch, memory_order_acquire);
        if (vt_interrupt_overdue(self) == 0) {
            backoff_ns = 1000000;
            vt_futex(&vt->epoch, FUTEX_WAIT, epoch, NULL);
        } else {
            struct timespec t = {0, backoff_ns};
            if (vt_futex(&vt->epoch, FUTEX_WAIT, epoch, &t) != 0 && errno == ETIMEDOUT) {
                vt_count(&vt->kick_retries);
                if (backoff_ns < 64000000) backoff_ns *= 2;
            }
        }
    }
    return NULL;
}

/* Starts the helper of this process once (again after a fork). */
static void vt_ensure_helper(void) {
    pid_t self = getpid();
    if (atomic_load_explicit(&vt_helper_pid, memory_order_acquire) == self) return;
    pthread_mutex_lock(&vt_helper_lock);
    if (atomic_load_explicit(&vt_helper_pid, memory_order_relaxed) != self) {
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old); /* the helper takes no signals */
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        pthread_t t;
        if (pthread_create(&t, &attr, vt_helper_main, NULL) == 0)
            atomic_store_explicit(&vt_helper_pid, self, memory_order_release);
        pthread_attr_destroy(&attr);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    pthread_mutex_unlock(&vt_helper_lock);
}

static void vt_on_kick(int sig) { (void)sig; /* only to interrupt the wait */ }

/* ---- constructor ------------------------------------------------------- */

__attribute__((constructor)) static void vt_init(void) {
    vt_resolve_all();
    const char *path = getenv("LIGHTCONE_VTIME");
    if (!path || !*path) return;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    size_t size = VT_HEADER_BYTES + VT_SLOT_COUNT * sizeof(struct vt_slot);
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < size) {
        close(fd);
        return;
    }
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return;
    struct vt_shared *shared = m;
    if (shared->magic != VT_MAGIC || shared->version != VT_VERSION || shared->slot_count != VT_SLOT_COUNT) {
        munmap(m, size);
        return;
    }
    /* SIGRTMAX-1, away from the low real-time signals that programs and
     * threading libraries pick first. No SA_RESTART: poll, select, epoll_wait
     * and sem_*wait must return EINTR. */
    vt_signal = SIGRTMAX - 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = vt_on_kick;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    if (sigaction(vt_signal, &sa, NULL) != 0) {
        munmap(m, size);
        return;
    }
    atomic_store(&shared->wake_signal, vt_signal);
    int32_t none = 0;
    atomic_compare_exchange_strong(&shared->attached_pid, &none, (int32_t)getpid());
    vt = shared;
}

/* ---- clock reads --------------------------------------------------------- */

int clock_gettime(clockid_t clock, struct timespec *ts) {
    ENSURE_REAL(clock_gettime, NULL);
    int domain;
    if (!vt || (domain = vt_domain(clock)) == VT_DOMAIN_NONE) return REAL(clock_gettime)(clock, ts);
    vt_count(&vt->clock_reads);
    ns_to_ts(vt_domain_base_ns(domain) + vt_now(), ts);
    return 0;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    ENSURE_REAL(gettimeofday, NULL);
    if (!vt) return REAL(gettimeofday)(tv, tz);
    if (tz) memset(tz, 0, 2 * sizeof(int)); /* struct timezone: UTC */
    vt_count(&vt->clock_reads);
    uint64_t ns = vt_domain_base_ns(VT_DOMAIN_REALTIME) + vt_now();
    tv->tv_sec = (time_t)(ns / NS_PER_S);
    tv->tv_usec = (suseconds_t)((ns % NS_PER_S) / 1000);
    return 0;
}

time_t time(time_t *out) {
    ENSURE_REAL(time, NULL);
    if (!vt) return REAL(time)(out);
    vt_count(&vt->clock_reads);
    time_t t = (time_t)((vt_domain_base_ns(VT_DOMAIN_REALTIME) + vt_now()) / NS_PER_S);
    if (out) *out = t;
    return t;
}

int timespec_get(struct timespec *ts, int base) {
    ENSURE_REAL(timespec_get, NULL);
    if (!vt || base != TIME_UTC) return REAL(timespec_get)(ts, base);
    vt_count(&vt->clock_reads);
    ns_to_ts(vt_domain_base_ns(VT_DOMAIN_REALTIME) + vt_now(), ts);
    return base;
}

/* ---- sleeps ------------------------------------------------------------ */

/* Blocks until virtual time reaches `deadline`. Returns 0, or EINTR when a
 * signal handler of the program ran (the caller reports the remaining time),
 * or -1 when the table is full (the caller then sleeps in real time). */
static int vt_sleep_until(uint64_t deadline) {
    vt_count(&vt->sleeps);
    if (vt_now() >= deadline) return 0;
    struct vt_slot *s = vt_claim(VT_KIND_SLEEP, deadline, NULL);
    if (!s) return -1;
    int rc = 0;
    for (;;) {
        uint32_t epoch = atomic_load_explicit(&vt->epoch, memory_order_acquire);
        if (vt_now() >= deadline) break;
        if (vt_futex(&vt->epoch, FUTEX_WAIT, epoch, NULL) != 0 && errno == EINTR) {
            rc = EINTR;
            break;
        }
    }
    vt_release(s);
    return rc;
}

static void vt_remaining(uint64_t deadline, struct timespec *rem) {
    uint64_t now = vt_now();
    if (rem) ns_to_ts(deadline > now ? deadline - now : 0, rem);
}

int nanosleep(const struct timespec *req, struct timespec *rem) {
    ENSURE_REAL(nanosleep, NULL);
    if (!vt || !req || !ts_valid(req) || req->tv_sec < 0) return REAL(nanosleep)(req, rem);
    uint64_t deadline = sat_add(vt_now(), ts_to_ns(req));
    int rc = vt_sleep_until(deadline);
    if (rc == -1) return REAL(nanosleep)(req, rem);
    if (rc == EINTR) {
        vt_remaining(deadline, rem);
        errno = EINTR;
        return -1;
    }
    return 0;
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem) {
    ENSURE_REAL(clock_nanosleep, NULL);
    int domain;
    if (!vt || !req || !ts_valid(req) || (domain = vt_domain(clock)) == VT_DOMAIN_NONE)
        return REAL(clock_nanosleep)(clock, flags, req, rem);
    uint64_t deadline = (flags & TIMER_ABSTIME) ? vt_abs_to_virtual(domain, req)
                                                : sat_add(vt_now(), req->tv_sec < 0 ? 0 : ts_to_ns(req));
    int rc = vt_sleep_until(deadline);
    if (rc == -1 && (flags & TIMER_ABSTIME)) {
        struct timespec real = vt_real_deadline(clock, deadline);
        return REAL(clock_nanosleep)(clock, flags, &real, rem);
    }
    if (rc == -1) return REAL(clock_nanosleep)(clock, flags, req, rem);
    if (rc == EINTR && !(flags & TIMER_ABSTIME)) vt_remaining(deadline, rem);
    return rc;
}

int usleep(useconds_t usec) {
    ENSURE_REAL(usleep, NULL);
    if (!vt) return REAL(usleep)(usec);
    int rc = vt_sleep_until(sat_add(vt_now(), (uint64_t)usec * 1000));
    if (rc == -1) return REAL(usleep)(usec);
    if (rc == EINTR) {
        errno = EINTR;
        return -1;
    }
    return 0;
}

unsigned int sleep(unsigned int seconds) {
    ENSURE_REAL(sleep, NULL);
    if (!vt) return REAL(sleep)(seconds);
    uint64_t deadline = sat_add(vt_now(), (uint64_t)seconds * NS_PER_S);
    int rc = vt_sleep_until(deadline);
    if (rc == -1) return REAL(sleep)(seconds);
    if (rc == EINTR) {
        uint64_t now = vt_now();
        return deadline > now ? (unsigned)((deadline - now + NS_PER_S - 1) / NS_PER_S) : 0;
    }
    return 0;
}

/* ---- timed waits on real objects --------------------------------------- */

/* The signal mask to wait with: the caller's (or the thread's), with the kick
 * signal let through. */
static void vt_wait_mask(const sigset_t *user, sigset_t *out) {
    if (user)
        *out = *user;
    else
        pthread_sigmask(SIG_BLOCK, NULL, out);
    sigdelset(out, vt_signal);
}

/* The shape shared by poll, select and epoll: `wait` does the real wait with
 * no timeout; it is interrupted by a kick once virtual time passes
 * `deadline`. Returns the real result, or 0 (the calls' "timed out") when
 * the deadline passed. A signal of the program's own that arrives before the
 * deadline is returned as EINTR, as the real call would. */
#define VT_TIMED_WAIT(deadline, fallback, wait_expr)                                      \
    do {                                                                                  \
        vt_count(&vt->timed_waits);                                                       \
        if (vt_now() >= (deadline)) return 0;                                             \
        vt_ensure_helper();                                                               \
        struct vt_slot *slot_ = vt_claim(VT_KIND_SIGNAL, (deadline), NULL);               \
        if (!slot_) return (fallback);                                                    \
        int rc_;                                                                          \
        for (;;) {                                                                        \
            if (vt_now() >= (deadline)) {                                                 \
                rc_ = 0;                                                                  \
                break;                                                                    \
            }                                                                             \
            rc_ = (wait_expr);                                                            \
            if (rc_ >= 0 || errno != EINTR) break;                                        \
            if (vt_now() >= (deadline)) {                                                 \
                rc_ = 0;                                                                  \
                break;                                                                    \
            }                                                                             \
            if (atomic_load_explicit(&slot_->kicks, memory_order_relaxed) == 0) break;    \
            /* our own kick, early: cannot happen (kicks are sent at the deadline);      \
             * wait again rather than report an EINTR nobody sent */                      \
        }                                                                                 \
        int errno_ = errno;                                                               \
        vt_release(slot_);                                                                \
        errno = errno_;                                                                   \
        return rc_;                                                                       \
    } while (0)

int poll(struct pollfd *fds, nfds_t n, int timeout_ms) {
    ENSURE_REAL(poll, NULL);
    ENSURE_REAL(ppoll, NULL);
    if (!vt || timeout_ms <= 0) return REAL(poll)(fds, n, timeout_ms);
    uint64_t deadline = sat_add(vt_now(), (uint64_t)timeout_ms * 1000000);
    sigset_t mask;
    vt_wait_mask(NULL, &mask);
    VT_TIMED_WAIT(deadline, REAL(poll)(fds, n, timeout_ms), REAL(ppoll)(fds, n, NULL, &mask));
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout, const sigset_t *sigmask) {
    ENSURE_REAL(ppoll, NULL);
    if (!vt || !timeout || !ts_valid(timeout) || (timeout->tv_sec == 0 && timeout->tv_nsec == 0))
        return REAL(ppoll)(fds, n, timeout, sigmask);
    uint64_t deadline = sat_add(vt_now(), ts_to_ns(timeout));
    sigset_t mask;
    vt_wait_mask(sigmask, &mask);
    VT_TIMED_WAIT(deadline, REAL(ppoll)(fds, n, timeout, sigmask), REAL(ppoll)(fds, n, NULL, &mask));
}

/* Linux writes the unslept time back into select's timeout; so do we. */
static void vt_select_remaining(struct timeval *tv, uint64_t deadline) {
    uint64_t now = vt_now(), left = deadline > now ? deadline - now : 0;
    tv->tv_sec = (time_t)(left / NS_PER_S);
    tv->tv_usec = (suseconds_t)((left % NS_PER_S) / 1000);
}

static int vt_select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv, uint64_t deadline) {
    sigset_t mask;
    vt_wait_mask(NULL, &mask);
    VT_TIMED_WAIT(deadline, REAL(select)(nfds, r, w, e, tv), REAL(pselect)(nfds, r, w, e, NULL, &mask));
}

int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv) {
    ENSURE_REAL(select, NULL);
    ENSURE_REAL(pselect, NULL);
    if (!vt || !tv || tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000 ||
        (tv->tv_sec == 0 && tv->tv_usec == 0))
        return REAL(select)(nfds, r, w, e, tv);
    uint64_t deadline = sat_add(vt_now(), (uint64_t)tv->tv_sec * NS_PER_S + (uint64_t)tv->tv_usec * 1000);
    /* A timeout leaves the sets empty, as the kernel would. */
    fd_set r0, w0, e0;
    if (r) r0 = *r;
    if (w) w0 = *w;
    if (e) e0 = *e;
    int rc = vt_select(nfds, r, w, e, tv, deadline);
    int saved = errno;
    if (rc == 0) {
        if (r) FD_ZERO(r);
        if (w) FD_ZERO(w);
        if (e) FD_ZERO(e);
    } else if (rc < 0) {
        if (r) *r = r0;
        if (w) *w = w0;
        if (e) *e = e0;
    }
    vt_select_remaining(tv, deadline);
    errno = saved;
    return rc;
}

static int vt_pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts, const sigset_t *sigmask,
                      uint64_t deadline) {
    sigset_t mask;
    vt_wait_mask(sigmask, &mask);
    VT_TIMED_WAIT(deadline, REAL(pselect)(nfds, r, w, e, ts, sigmask), REAL(pselect)(nfds, r, w, e, NULL, &mask));
}

int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts, const sigset_t *sigmask) {
    ENSURE_REAL(pselect, NULL);
    if (!vt || !ts || !ts_valid(ts) || ts->tv_sec < 0 || (ts->tv_sec == 0 && ts->tv_nsec == 0))
        return REAL(pselect)(nfds, r, w, e, ts, sigmask);
    uint64_t deadline = sat_add(vt_now(), ts_to_ns(ts));
    int rc = vt_pselect(nfds, r, w, e, ts, sigmask, deadline);
    if (rc == 0) {
        int saved = errno;
        if (r) FD_ZERO(r);
        if (w) FD_ZERO(w);
        if (e) FD_ZERO(e);
        errno = saved;
    }
    return rc;
}

int epoll_wait(int ep, struct epoll_event *events, int max, int timeout_ms) {
    ENSURE_REAL(epoll_wait, NULL);
    ENSURE_REAL(epoll_pwait, NULL);
    if (!vt || timeout_ms <= 0) return REAL(epoll_wait)(ep, events, max, timeout_ms);
    uint64_t deadline = sat_add(vt_now(), (uint64_t)timeout_ms * 1000000);
    sigset_t mask;
    vt_wait_mask(NULL, &mask);
    VT_TIMED_WAIT(deadline, REAL(epoll_wait)(ep, events, max, timeout_ms),
                  REAL(epoll_pwait)(ep, events, max, -1, &mask));
}

int epoll_pwait(int ep, struct epoll_event *events, int max, int timeout_ms, const sigset_t *sigmask) {
    ENSURE_REAL(epoll_pwait, NULL);
    if (!vt || timeout_ms <= 0) return REAL(epoll_pwait)(ep, events, max, timeout_ms, sigmask);
    uint64_t deadline = sat_add(vt_now(), (uint64_t)timeout_ms * 1000000);
    sigset_t mask;
    vt_wait_mask(sigmask, &mask);
    VT_TIMED_WAIT(deadline, REAL(epoll_pwait)(ep, events, max, timeout_ms, sigmask),
                  REAL(epoll_pwait)(ep, events, max, -1, &mask));
}

/* ---- semaphores -------------------------------------------------------- */

static const struct timespec vt_long_ago = {0, 0};

/* sem_wait with a virtual deadline. sem_*wait return -1/errno. */
static int vt_sem_wait_until(sem_t *sem, uint64_t deadline, clockid_t fallback_clock) {
    vt_count(&vt->timed_waits);
    /* At or past the deadline: one try, as glibc does before looking at the
     * time (an absolute time in 1970 is past on every clock). */
    if (vt_now() >= deadline) return REAL(sem_clockwait)(sem, CLOCK_REALTIME, &vt_long_ago);
    vt_ensure_helper();
    struct vt_slot *s = vt_claim(VT_KIND_SIGNAL, deadline, NULL);
    if (!s) {
        struct timespec real = vt_real_deadline(fallback_clock, deadline);
        return REAL(sem_clockwait)(sem, fallback_clock, &real);
    }
    /* Semaphores have no sigmask variant: let the kick through by hand. */
    sigset_t cur, kick;
    int unblocked = 0;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    if (sigismember(&cur, vt_signal)) {
        sigemptyset(&kick);
        sigaddset(&kick, vt_signal);
        pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
        unblocked = 1;
    }
    int rc;
    for (;;) {
        if (vt_now() >= deadline) {
            rc = REAL(sem_clockwait)(sem, CLOCK_REALTIME, &vt_long_ago);
            break;
        }
        rc = REAL(sem_wait)(sem);
        if (rc == 0 || errno != EINTR) break;
        if (vt_now() >= deadline) {
            rc = REAL(sem_clockwait)(sem, CLOCK_REALTIME, &vt_long_ago);
            break;
        }
        if (atomic_load_explicit(&s->kicks, memory_order_relaxed) == 0) break; /* the program's signal */
    }
    int saved = errno;
    vt_release(s);
    if (unblocked) pthread_sigmask(SIG_SETMASK, &cur, NULL);
    errno = saved;
    return rc;
}

int sem_timedwait(sem_t *sem, const struct timespec *abs) {
    ENSURE_REAL(sem_timedwait, NULL);
    ENSURE_REAL(sem_clockwait, NULL);
    ENSURE_REAL(sem_wait, NULL);
    if (!vt || !ts_valid(abs)) return REAL(sem_timedwait)(sem, abs);
    return vt_sem_wait_until(sem, vt_abs_to_virtual(VT_DOMAIN_REALTIME, abs), CLOCK_REALTIME);
}

int sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *abs) {
    ENSURE_REAL(sem_clockwait, NULL);
    ENSURE_REAL(sem_wait, NULL);
    int domain;
    if (!REAL(sem_clockwait)) {
        errno = ENOSYS;
        return -1;
    }
    if (!vt || !ts_valid(abs) || (domain = vt_domain(clock)) == VT_DOMAIN_NONE)
        return REAL(sem_clockwait)(sem, clock, abs);
    return vt_sem_wait_until(sem, vt_abs_to_virtual(domain, abs), clock);
}

/* ---- condition variables ----------------------------------------------- */

/* glibc's condvar wait retries on EINTR, so the helper broadcasts the condvar
 * at the deadline instead (a spurious wakeup, which callers must tolerate).
 * The waiter holds the mutex from registering until the real wait releases
 * it; a broadcast that lands before the waiter is queued is lost, and the
 * helper's backoff rescan sends another. */
static int vt_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, uint64_t deadline, clockid_t clock) {
    vt_count(&vt->timed_waits);
    if (vt_now() >= deadline) return REAL(pthread_cond_clockwait)(c, m, CLOCK_MONOTONIC, &vt_long_ago);
    vt_ensure_helper();
    struct vt_slot *s = vt_claim(VT_KIND_CONDVAR, deadline, c);
    if (!s) {
        struct timespec real = vt_real_deadline(clock, deadline);
        return REAL(pthread_cond_clockwait)(c, m, clock, &real);
    }
    int rc = REAL(pthread_cond_wait)(c, m);
    vt_release(s);
    if (rc == 0 && vt_now() >= deadline) rc = ETIMEDOUT;
    return rc;
}

int pthread_cond_timedwait(pthread_cond_t *restrict c, pthread_mutex_t *restrict m, const struct timespec *restrict abs) {
    ENSURE_REAL(pthread_cond_timedwait, VT_COND_VERSION);
    ENSURE_REAL(pthread_cond_clockwait, NULL);
    ENSURE_REAL(pthread_cond_wait, VT_COND_VERSION);
    ENSURE_REAL(pthread_cond_broadcast, VT_COND_VERSION);
    if (!vt || !ts_valid(abs) || !REAL(pthread_cond_clockwait))
        return REAL(pthread_cond_timedwait)(c, m, abs);
    int domain = vt_guess_domain(abs);
    clockid_t clock = domain == VT_DOMAIN_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC;
    return vt_cond_wait_until(c, m, vt_abs_to_virtual(domain, abs), clock);
}

int pthread_cond_clockwait(pthread_cond_t *restrict c, pthread_mutex_t *restrict m, clockid_t clock,
                           const struct timespec *restrict abs) {
    ENSURE_REAL(pthread_cond_clockwait, NULL);
    ENSURE_REAL(pthread_cond_wait, VT_COND_VERSION);
    ENSURE_REAL(pthread_cond_broadcast, VT_COND_VERSION);
    int domain;
    if (!REAL(pthread_cond_clockwait)) return ENOSYS;
    if (!vt || !ts_valid(abs) || (domain = vt_domain(clock)) == VT_DOMAIN_NONE)
        return REAL(pthread_cond_clockwait)(c, m, clock, abs);
    return vt_cond_wait_until(c, m, vt_abs_to_virtual(domain, abs), clock);
}

/* ---- futex through syscall() --------------------------------------------- */

/* Rust's std (Condvar::wait_timeout, mpsc recv_timeout, park_timeout) waits
 * with syscall(SYS_futex, ...) and a timeout computed from the (virtual)
 * monotonic clock: handed to the kernel as it is, an absolute virtual time
 * would be read as a real one. A futex wait with a timeout becomes an
 * untimed futex wait with a registered virtual deadline, interrupted by a
 * kick like poll. */
static long vt_futex_timed(_Atomic uint32_t *word, int op, uint32_t val, uint64_t deadline, uint32_t bitset) {
    vt_count(&vt->timed_waits);
    int cmd = op & FUTEX_CMD_MASK;
    int untimed_op = (op & FUTEX_PRIVATE_FLAG) | FUTEX_WAIT_BITSET;
    if (vt_now() >= deadline) {
        /* Past the deadline: the value check alone, as the kernel would. */
        if (atomic_load(word) != val) {
            errno = EAGAIN;
            return -1;
        }
        errno = ETIMEDOUT;
        return -1;
    }
    vt_ensure_helper();
    struct vt_slot *s = vt_claim(VT_KIND_SIGNAL, deadline, NULL);
    if (!s) return -2; /* table full: the caller makes the real call */
    long rc;
    for (;;) {
        if (vt_now() >= deadline) {
            errno = ETIMEDOUT;
            rc = -1;
            break;
        }
        rc = REAL(syscall)(SYS_futex, word, untimed_op, val, NULL, NULL, cmd == FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY : bitset);
        if (rc >= 0 || errno != EINTR) break;
        if (vt_now() >= deadline) {
            errno = ETIMEDOUT;
            rc = -1;
            break;
        }
        if (atomic_load_explicit(&s->kicks, memory_order_relaxed) == 0) break; /* the program's signal */
    }
    int saved = errno;
    vt_release(s);
    errno = saved;
    return rc;
}

long syscall(long number, ...) {
    ENSURE_REAL(syscall, NULL);
    va_list ap;
    va_start(ap, number);
    /* As glibc's own syscall(): six register-sized arguments, whether or not
     * the caller passed them all. */
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    if (vt && number == SYS_futex && a4 != 0) {
        int op = (int)a2, cmd = op & FUTEX_CMD_MASK;
        const struct timespec *t = (const struct timespec *)a4;
        if ((cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET) && ts_valid(t) && t->tv_sec >= 0) {
            uint64_t deadline;
            if (cmd == FUTEX_WAIT) /* relative */
                deadline = sat_add(vt_now(), ts_to_ns(t));
            else
                deadline = vt_abs_to_virtual((op & FUTEX_CLOCK_REALTIME) ? VT_DOMAIN_REALTIME : VT_DOMAIN_MONOTONIC, t);
            long rc = vt_futex_timed((_Atomic uint32_t *)a1, op, (uint32_t)a3, deadline, (uint32_t)a6);
            if (rc != -2) return rc;
            if (cmd == FUTEX_WAIT_BITSET) {
                struct timespec real =
                    vt_real_deadline((op & FUTEX_CLOCK_REALTIME) ? CLOCK_REALTIME : CLOCK_MONOTONIC, deadline);
                return REAL(syscall)(number, a1, a2, a3, (long)&real, a5, a6);
            }
        }
    }
    return REAL(syscall)(number, a1, a2, a3, a4, a5, a6);
}
