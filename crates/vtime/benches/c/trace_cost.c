/* The per-system-call cost of the ways a supervisor could stop a Go node at
 * each system call (for NOTES-vtime.md's Go section): a getppid() loop run
 *   plain       : no supervision
 *   ptrace      : PTRACE_SYSCALL, two stops per call (entry and exit)
 *   sysemu      : PTRACE_SYSEMU, one stop per call, the tracer emulates it (x86_64)
 *   seccomp     : seccomp RET_TRACE on getppid only, one ptrace stop per call
 *   notify      : seccomp RET_USER_NOTIF on getppid, a supervisor thread answers
 * Prints ns per call. Linux x86_64. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Timed with the vDSO clock, so that the only system calls inside the loop
 * are the getppid() calls being measured. */
static long long vdso_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static double loop(long n) {
    long long start = vdso_ns();
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
    return (double)(vdso_ns() - start) / (double)n;
}

static int install_filter(unsigned int action, unsigned int flags) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, action),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

/* The tracee reports its figure through a pipe. */
static double traced(const char *mode, long n) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t child = fork();
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        if (!strcmp(mode, "seccomp") && install_filter(SECCOMP_RET_TRACE, 0) != 0) _exit(2);
        raise(SIGSTOP);
        double ns = loop(n);
        if (write(fds[1], &ns, sizeof ns) != sizeof ns) _exit(3);
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    long options = PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL;
    if (!strcmp(mode, "seccomp")) options |= PTRACE_O_TRACESECCOMP;
    ptrace(PTRACE_SETOPTIONS, child, 0, options);
    enum __ptrace_request resume = !strcmp(mode, "ptrace") ? PTRACE_SYSCALL
                                 : !strcmp(mode, "sysemu") ? PTRACE_SYSEMU : PTRACE_CONT;
    ptrace(resume, child, 0, 0);
    for (;;) {
        if (waitpid(child, &status, 0) < 0 || WIFEXITED(status) || WIFSIGNALED(status)) break;
        int sig = 0;
        if (WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80) && resume == PTRACE_SYSEMU) {
            /* The call did not run: emulate the ones that matter. */
            struct user_regs_struct regs;
            ptrace(PTRACE_GETREGS, child, 0, &regs);
            if (regs.orig_rax == SYS_getppid) {
                regs.rax = (unsigned long long)getpid();
                ptrace(PTRACE_SETREGS, child, 0, &regs);
            } else {
                /* The loop is over (the first other call is the write of
                 * the figure). Under SYSEMU it would be skipped: rewind to
                 * the syscall instruction and detach, so it runs natively. */
                regs.rip -= 2;
                regs.rax = regs.orig_rax;
                ptrace(PTRACE_SETREGS, child, 0, &regs);
                ptrace(PTRACE_DETACH, child, 0, 0);
                waitpid(child, &status, 0);
                break;
            }
        } else if (WIFSTOPPED(status) && (WSTOPSIG(status) & 0x80) == 0 && status >> 16 == 0) {
            sig = WSTOPSIG(status);
        }
        ptrace(resume, child, 0, sig);
    }
    double ns = -1;
    if (read(fds[0], &ns, sizeof ns) != sizeof ns) ns = -1;
    close(fds[0]);
    close(fds[1]);
    return ns;
}

static int listener = -1;

static void *supervise(void *arg) {
    (void)arg;
    struct seccomp_notif req;
    struct seccomp_notif_resp resp;
    for (;;) {
        memset(&req, 0, sizeof req);
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) {
            if (errno == EINTR) continue;
            return NULL;
        }
        memset(&resp, 0, sizeof resp);
        resp.id = req.id;
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE; /* let the kernel run it */
        ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "plain";
    long n = argc > 2 ? atol(argv[2]) : 100000;
    double ns;
    if (!strcmp(mode, "plain")) {
        ns = loop(n);
    } else if (!strcmp(mode, "notify")) {
        /* The filter is per thread: installed on this thread only, after the
         * supervisor thread exists, so the supervisor is not filtered. */
        pthread_t t;
        listener = install_filter(SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER);
        if (listener < 0) {
            perror("seccomp NEW_LISTENER");
            return 1;
        }
        /* Created after the filter: threads inherit it, but the supervisor
         * never calls getppid, so it is never stopped. */
        pthread_create(&t, NULL, supervise, NULL);
        ns = loop(n);
    } else {
        ns = traced(mode, n);
    }
    if (ns < 0) {
        fprintf(stderr, "%s failed\n", mode);
        return 1;
    }
    printf("%s %.0f ns per getppid()\n", mode, ns);
    return 0;
}
