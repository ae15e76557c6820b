// Calls whose support depends on an argument, each class a fixed number of
// times, for tsvisor coverage's argument classes (test/e2e/coverage.test.ts):
// ioctl requests, fcntl/prctl/arch_prctl commands, socket families, socket
// options, open flags, madvise advice and clone flags, including classes the
// sandbox refuses by rule (TIOCSTI, F_SETLEASE, PR_SET_MM: errors natively
// too); a fork (clone) and a thread (glibc's clone3, which the Sentry runs
// as clone). The classes read from memory: openat2's open_how (flags and
// resolve) and clone3's clone_args.flags, among them a CLONE_CLEAR_SIGHAND
// child (a fork whose handlers start at SIG_DFL) and a struct that cannot be read (EFAULT: class
// 0). Then 5 nanosleeps of 20 ms each (a lower bound for their time).
// `coverage-args gvisor`: also 3 calls of sched_rr_get_interval, which gVisor
// does not support (and tsvisor does).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static void *thread_main(void *arg) { return arg; }

static long openat2(const char *path, unsigned long long flags, unsigned long long resolve) {
  struct open_how how = {.flags = flags, .resolve = resolve};
  long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
  if (fd >= 0) close(fd);
  return fd;
}

int main(int argc, char **argv) {
  int one = 1, n;
  char name[16];
  struct termios tio;
  int null = open("/dev/null", O_RDWR);
  int pipefd[2];
  pipe(pipefd);
  for (int i = 0; i < 3; i++) ioctl(null, TCGETS, &tio);     // ENOTTY
  for (int i = 0; i < 2; i++) ioctl(pipefd[0], FIONREAD, &n);
  ioctl(null, TIOCSTI, "x");                                  // refused by rule (EPERM); ENOTTY natively
  ioctl(null, 0x1234, 0);                                     // refused by the allow-list (ENOTTY), as natively
  for (int i = 0; i < 2; i++) fcntl(null, F_GETFL);
  fcntl(null, F_SETFD, FD_CLOEXEC);
  fcntl(null, F_SETLEASE, F_RDLCK);                           // refused by rule (EACCES); an error natively
  prctl(PR_SET_NAME, "cov-args");
  for (int i = 0; i < 2; i++) prctl(PR_GET_NAME, name);
  prctl(PR_SET_MM, 0, 0, 0, 0);                               // refused by rule (EPERM); EINVAL natively
  unsigned long fs;
  for (int i = 0; i < 2; i++) syscall(SYS_arch_prctl, 0x1003 /* ARCH_GET_FS */, &fs);
  int s4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int s6 = socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
  int su = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  for (int i = 0; i < 2; i++) setsockopt(s4, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(s4, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  socklen_t len = sizeof n;
  getsockopt(s6, SOL_SOCKET, SO_TYPE, &n, &len);
  for (int i = 0; i < 2; i++) close(open("/etc/hostname", O_RDONLY));
  close(open("/", O_RDONLY | O_DIRECTORY));
  close(open("/etc", O_PATH));
  open("/nonexistent-cov-args", O_WRONLY | O_APPEND);         // ENOENT
  for (int i = 0; i < 2; i++) openat2("/etc/hostname", O_RDONLY | O_CLOEXEC, RESOLVE_NO_SYMLINKS);
  openat2("/", O_RDONLY | O_DIRECTORY, 0);
  openat2("/etc", O_PATH, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS); // EXDEV: an absolute path beneath the cwd
  syscall(SYS_openat2, AT_FDCWD, "/etc/hostname", (void *)1, sizeof(struct open_how)); // EFAULT
  struct clone_args ca = {.flags = CLONE_CLEAR_SIGHAND, .exit_signal = SIGCHLD};
  long c3 = syscall(SYS_clone3, &ca, sizeof ca);
  if (c3 == 0) _exit(0);
  if (c3 > 0) waitpid(c3, 0, 0);
  syscall(SYS_clone3, (void *)1, sizeof ca);                 // EFAULT
  char *p = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (int i = 0; i < 2; i++) madvise(p, 8192, MADV_DONTNEED);
  madvise(p, 8192, MADV_DONTFORK);
  madvise(p, 8192, 12345);                                    // EINVAL
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, 0, 0);
  pthread_t thread;
  pthread_create(&thread, 0, thread_main, 0);
  while (pthread_tryjoin_np(thread, 0) == EBUSY) { // pthread_join's futex wait depends on timing: no call here
  }
  for (int i = 0; i < 5; i++) nanosleep(&(struct timespec){0, 20000000}, 0);
  if (argc > 1 && strcmp(argv[1], "gvisor") == 0) {
    struct timespec ts;
    for (int i = 0; i < 3; i++) sched_rr_get_interval(0, &ts);
  }
  close(su);
  return 0;
}
