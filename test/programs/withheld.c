/*
 * The privileges tsvisor deliberately withholds (docs/design.md, "Deliberate
 * differences from Linux"): one line per case, "WHAT: RESULT" with RESULT
 * "ok" or the errno. test/e2e/calls.test.ts expects the documented errnos
 * under tsvisor and checks that Linux (as root) gives something else.
 *
 *   withheld DIR SETID   (DIR: a scratch directory; SETID: a set-user-ID and
 *                         set-group-ID copy of this program owned by 1000:1000)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void line(const char *what, long r) {
  printf("%s: %s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
  fflush(stdout);
}
#define L(what, expr) (errno = 0, line(what, (long)(expr)))

/* Runs a case in a child, so that what it changes stays there. */
#define IN_CHILD(...)            \
  do {                           \
    fflush(stdout);              \
    pid_t c_ = fork();           \
    if (c_ == 0) {               \
      __VA_ARGS__;               \
      fflush(stdout);            \
      _exit(0);                  \
    }                            \
    waitpid(c_, NULL, 0);        \
  } while (0)

/* The nice value the host runs the calling thread at: sched_getattr's
 * (struct sched_attr: size, policy, flags, then the nice value at 16). */
static long host_nice(void) {
  unsigned char attr[56] = {0};
  if (syscall(SYS_sched_getattr, 0, attr, sizeof attr, 0) < 0) return -100;
  int nice;
  memcpy(&nice, attr + 16, sizeof nice);
  return nice;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "ids")) {
    printf("set-id exec: euid %u egid %u\n", geteuid(), getegid());
    return 0;
  }
  if (argc < 3) {
    fprintf(stderr, "usage: withheld DIR SETID\n");
    return 2;
  }
  IN_CHILD(L("ptrace PTRACE_TRACEME", ptrace(PTRACE_TRACEME, 0, 0, 0)));
  IN_CHILD(L("unshare CLONE_NEWUSER", unshare(CLONE_NEWUSER)));
  /* through a pidfd: the sandbox refuses to open namespace files (EACCES) */
  IN_CHILD(L("setns of its own network namespace", setns((int)syscall(SYS_pidfd_open, getpid(), 0), CLONE_NEWNET)));
  long params[15] = {0};
  L("io_uring_setup", syscall(SYS_io_uring_setup, 4, params));
  IN_CHILD(L("keyctl KEYCTL_GET_KEYRING_ID of a new process keyring", syscall(SYS_keyctl, 0, -2, 1)));
  IN_CHILD(L("add_key to the process keyring", syscall(SYS_add_key, "user", "tsvisor-withheld", "v", 1, -2)));
  L("landlock_create_ruleset version query", syscall(SYS_landlock_create_ruleset, NULL, 0, 1));
  IN_CHILD({
    char *m = mmap(0, 10 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct rlimit rl = {8 << 20, 8 << 20};
    setrlimit(RLIMIT_MEMLOCK, &rl);
    L("mlock 10 MB as root, RLIMIT_MEMLOCK 8 MB", mlock(m, 10 << 20));
    L("mlockall as root, RLIMIT_MEMLOCK 8 MB", mlockall(MCL_CURRENT));
  });
  IN_CHILD({
    if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) _exit(1);
    execl(argv[2], argv[2], "ids", (char *)NULL);
    _exit(127);
  });
  char f[4096];
  snprintf(f, sizeof f, "%s/owned", argv[1]);
  int fd = open(f, O_CREAT | O_WRONLY, 0644);
  L("chown to uid 70000", chown(f, 70000, -1));
  L("fchown to gid 70000", fchown(fd, -1, 70000));
  IN_CHILD(L("setresuid to 70000", setresuid(70000, 70000, 70000)));
  IN_CHILD(L("setgroups with 70000", setgroups(1, (gid_t[]){70000})));
  IN_CHILD({
    setpriority(PRIO_PROCESS, 0, -1);
    printf("setpriority nice -1 as root, then the host's value (sched_getattr): %ld\n", host_nice());
  });
  IN_CHILD(L("sched_setscheduler SCHED_FIFO as root", sched_setscheduler(0, SCHED_FIFO, &(struct sched_param){1})));
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  ioctl(s, SIOCGIFFLAGS, &ifr);
  L("ioctl SIOCSIFFLAGS on lo (unchanged flags)", ioctl(s, SIOCSIFFLAGS, &ifr));
  int mark = 1;
  L("setsockopt SO_MARK", setsockopt(s, SOL_SOCKET, SO_MARK, &mark, sizeof mark));
  return 0;
}
