/*
 * oploop: per-operation cost of a few system calls, measured from inside
 * whatever sandbox runs it.  Built by bench/run.mjs at run time with
 * `gcc -O2 -static` (static so the sandbox's loader and libc cannot differ);
 * never committed as a binary.
 *
 *   oploop MODE [FILE] [BUDGET_MS]
 *
 * MODE is one of
 *   getpid     syscall(SYS_getpid)                (no libc caching)
 *   umask      syscall(SYS_umask, 022)            (trapped by tsvisor with no
 *              guest memory to copy: the cost of a trap answered by a Sentry)
 *   openclose  open(FILE, O_RDONLY) + close       (FILE default /etc/hostname)
 *   stat       stat(FILE)                         (FILE default /etc/hostname)
 *   pread      pread of 4 KiB from FILE           (FILE must hold >= 4 KiB;
 *              offsets cycle over the first 64 KiB or the whole file if smaller)
 *   forkexec   fork, child execve("/bin/true"), parent waitpid
 *   denied     syscall(SYS_syslog, SYSLOG_ACTION_SIZE_BUFFER): a call tsvisor's
 *              filter denies (EPERM) without a trap, unless an access observer
 *              asks for denials to be reported (then it traps); natively it
 *              reads the log buffer's size. Its result is not checked.
 *
 * The loop runs in doubling batches until at least BUDGET_MS (default 300) of
 * wall time has passed and at least MIN_ITERS operations were done, after a
 * short untimed warm-up.  It prints one line:
 *
 *   oploop mode=getpid iters=1048576 ns=201234567 us_per_op=0.192
 *
 * and exits 0; any failing call exits 1 with a message on stderr, so a
 * sandbox that fails the operation is reported, not timed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIN_ITERS 20

static const char *mode;
static const char *file;
static int pread_fd = -1;
static off_t pread_span;
static char buf[4096];

extern char **environ;

static void die(const char *what) {
    fprintf(stderr, "oploop: %s %s: %s\n", mode, what, strerror(errno));
    exit(1);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void op_getpid(uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        if (syscall(SYS_getpid) <= 0) die("getpid");
    }
}

static void op_umask(uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        if (syscall(SYS_umask, 022) < 0) die("umask");
    }
}

static void op_denied(uint64_t n) {
    for (uint64_t i = 0; i < n; i++) syscall(SYS_syslog, 10, NULL, 0);
}

static void op_openclose(uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) die("open");
        if (close(fd) != 0) die("close");
    }
}

static void op_stat(uint64_t n) {
    struct stat st;
    for (uint64_t i = 0; i < n; i++) {
        if (stat(file, &st) != 0) die("stat");
    }
}

static void op_pread(uint64_t n) {
    static uint64_t k;
    for (uint64_t i = 0; i < n; i++, k++) {
        off_t off = (off_t)((k * sizeof buf) % (uint64_t)pread_span);
        ssize_t r = pread(pread_fd, buf, sizeof buf, off);
        if (r != (ssize_t)sizeof buf) {
            if (r >= 0) errno = EIO;
            die("pread");
        }
    }
}

static void op_forkexec(uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) {
            char *argv[] = {"/bin/true", NULL};
            execve("/bin/true", argv, environ);
            _exit(127);
        }
        int status;
        pid_t w;
        do {
            w = waitpid(pid, &status, 0);
        } while (w < 0 && errno == EINTR);
        if (w != pid) die("waitpid");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "oploop: forkexec: child status 0x%x\n", status);
            exit(1);
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: oploop getpid|umask|openclose|stat|pread|forkexec|denied [FILE] [BUDGET_MS]\n");
        return 2;
    }
    mode = argv[1];
    file = argc > 2 && argv[2][0] ? argv[2] : "/etc/hostname";
    long budget_ms = argc > 3 ? atol(argv[3]) : 300;
    if (budget_ms <= 0) budget_ms = 300;

    void (*op)(uint64_t);
    uint64_t batch; /* first timed batch; doubles until the budget is spent */
    if (!strcmp(mode, "getpid")) {
        op = op_getpid; batch = 1024;
    } else if (!strcmp(mode, "umask")) {
        op = op_umask; batch = 64;
    } else if (!strcmp(mode, "openclose")) {
        op = op_openclose; batch = 256;
    } else if (!strcmp(mode, "stat")) {
        op = op_stat; batch = 256;
    } else if (!strcmp(mode, "pread")) {
        op = op_pread; batch = 256;
        pread_fd = open(file, O_RDONLY | O_CLOEXEC);
        if (pread_fd < 0) die("open");
        struct stat st;
        if (fstat(pread_fd, &st) != 0) die("fstat");
        if (st.st_size < (off_t)sizeof buf) {
            errno = EINVAL;
            die("file shorter than 4 KiB");
        }
        pread_span = st.st_size < 65536 ? (st.st_size / (off_t)sizeof buf) * (off_t)sizeof buf : 65536;
    } else if (!strcmp(mode, "forkexec")) {
        op = op_forkexec; batch = 4;
    } else if (!strcmp(mode, "denied")) {
        op = op_denied; batch = 1024;
    } else {
        fprintf(stderr, "oploop: unknown mode %s\n", mode);
        return 2;
    }

    /* Warm-up: page in code and data, let the sandbox fill its caches. */
    op(batch < 16 ? 2 : batch / 4);

    uint64_t budget_ns = (uint64_t)budget_ms * 1000000ull;
    uint64_t iters = 0, t0 = now_ns(), elapsed = 0;
    for (;;) {
        op(batch);
        iters += batch;
        elapsed = now_ns() - t0;
        if (elapsed >= budget_ns && iters >= MIN_ITERS) break;
        /* Grow the batch while far from the budget, so that clock reads stay rare. */
        if (elapsed < budget_ns / 4 && batch < (1ull << 24)) batch *= 2;
    }
    printf("oploop mode=%s iters=%llu ns=%llu us_per_op=%.3f\n", mode,
           (unsigned long long)iters, (unsigned long long)elapsed,
           (double)elapsed / (double)iters / 1000.0);
    return 0;
}
