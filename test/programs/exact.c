/*
 * Linux-exact behaviour checks (issue 9): each subcommand prints one line per
 * case with what the calls returned (values and errno names), so the same
 * program run natively and under tsvisor can be compared line by line.
 * Nothing here prints pids, addresses or times that differ between runs.
 *
 *   exact DIR SUBCOMMAND     (DIR: a scratch directory the program may use)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static const char *D;

static void report(const char *what, long r, int e) {
  if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(e));
  else printf("%s: %ld\n", what, r);
  fflush(stdout);
}
#define R(what, call)          \
  do {                         \
    errno = 0;                 \
    long r_ = (long)(call);    \
    report((what), r_, errno); \
  } while (0)

static char *at(const char *name) {
  static char buf[8][512];
  static int k;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", D, name);
  return buf[k];
}

/* ------------------------------------------------------------- errnos */

static void cmd_errnos(void) {
  mkdir(at("d"), 0755);
  close(open(at("f"), O_CREAT | O_WRONLY, 0644));
  R("link to a new name with a trailing slash", link(at("f"), at("g/")));
  R("link from a name with a trailing slash", link(at("f/"), at("h")));
  R("link onto an existing name", link(at("f"), at("d")));
  R("link of a directory", link(at("d"), at("d2")));
  int dfd = open(D, O_RDONLY | O_DIRECTORY);
  R("unlinkat(fd, \"\")", unlinkat(dfd, "", 0));
  char small[2];
  R("getcwd into 2 bytes", syscall(SYS_getcwd, small, 2));
  int p[2];
  if (pipe(p) < 0) return;
  R("fchown of a pipe", fchown(p[0], 1000, 1000));
  R("fchmod of a pipe", fchmod(p[0], 0600));
  int rf = open(at("f"), O_RDWR);
  R("write 5", write(rf, "hello", 5));
  lseek(rf, 0, SEEK_SET);
  R("sendfile to a pipe", sendfile(p[1], rf, 0, 5));
  R("sendfile to a directory fd", sendfile(dfd, rf, 0, 5));
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, 0);
  struct timespec ts = {0, 50000000};
  R("sigtimedwait timing out", sigtimedwait(&set, 0, &ts));
}

/* -------------------------------------------------------------- clone3 */

static void *twice(void *a) { return (void *)((intptr_t)a * 2); }

static void cmd_clone3(void) {
  pthread_t t[8];
  for (intptr_t i = 0; i < 8; i++) pthread_create(&t[i], 0, twice, (void *)i);
  intptr_t sum = 0;
  for (int i = 0; i < 8; i++) {
    void *r;
    pthread_join(t[i], &r);
    sum += (intptr_t)r;
  }
  printf("threads: sum %ld\n", (long)sum);
  struct clone_args ca;
  memset(&ca, 0, sizeof ca);
  ca.exit_signal = SIGCHLD;
  fflush(stdout);
  long pid = syscall(SYS_clone3, &ca, sizeof ca);
  if (pid == 0) _exit(7);
  int st = 0;
  waitpid(pid, &st, 0);
  printf("clone3 fork: child exit %d\n", WEXITSTATUS(st));
  int pidfd = -1;
  ca.flags = CLONE_PIDFD;
  ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
  fflush(stdout);
  pid = syscall(SYS_clone3, &ca, sizeof ca);
  if (pid == 0) _exit(5);
  waitpid(pid, &st, 0);
  printf("clone3 CLONE_PIDFD: pidfd %s, child exit %d\n", pidfd >= 0 ? "set" : "unset", WEXITSTATUS(st));
  R("clone3 with a size below VER0", syscall(SYS_clone3, &ca, 32));
  ca.flags = 0;
  ca.exit_signal = 65;
  R("clone3 with exit_signal 65", syscall(SYS_clone3, &ca, sizeof ca));
  ca.exit_signal = SIGCHLD;
  ca.stack = 4096;
  R("clone3 with a stack and no size", syscall(SYS_clone3, &ca, sizeof ca));
  pid_t sp;
  char *av[] = {"/bin/true", NULL};
  int r = posix_spawn(&sp, "/bin/true", 0, 0, av, environ);
  waitpid(sp, &st, 0);
  printf("posix_spawn: %d, exit %d\n", r, WEXITSTATUS(st));
  /* Registers the caller keeps across the call come back unchanged. */
  memset(&ca, 0, sizeof ca);
  ca.exit_signal = SIGCHLD;
  fflush(stdout);
  long ret;
  /* (no function call between these and the syscall: they are caller-saved) */
  register long r10 asm("r10") = 0x1010;
  register long r8 asm("r8") = 0x888;
  register long r9 asm("r9") = 0x999;
  long rdi = (long)&ca, rsi = sizeof ca, rdx = 0x4242;
  asm volatile("syscall" : "=a"(ret), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r10), "+r"(r8), "+r"(r9) : "a"((long)SYS_clone3) : "rcx", "r11", "memory");
  int same = rdi == (long)&ca && rsi == (long)sizeof ca && rdx == 0x4242 && r10 == 0x1010 && r8 == 0x888 && r9 == 0x999;
  if (ret == 0) _exit(same ? 0 : 1);
  waitpid(ret, &st, 0);
  printf("clone3 keeps the argument registers: parent %s, child %s\n", same ? "yes" : "no", WEXITSTATUS(st) == 0 ? "yes" : "no");
}

/* ------------------------------------------------------- processes */

static void cmd_procs(void) {
  /* A grandchild whose parent exits is not the caller's to wait for. */
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    if (fork() == 0) {
      usleep(200000);
      _exit(9);
    }
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  usleep(400000);
  R("wait4(-1) after the orphaned grandchild exited", wait4(-1, &st, WNOHANG, NULL));
  /* execve of /proc/self/exe */
  fflush(stdout);
  pid_t e = fork();
  if (e == 0) {
    char *av[] = {"exact", (char *)D, "exit3", NULL};
    execv("/proc/self/exe", av);
    _exit(100 + errno);
  }
  waitpid(e, &st, 0);
  printf("execve(/proc/self/exe): exit %d\n", WEXITSTATUS(st));
  /* the state of the caller in its own /proc/self/stat */
  char buf[512] = {0};
  int fd = open("/proc/self/stat", O_RDONLY);
  if (fd >= 0 && read(fd, buf, sizeof buf - 1) > 0) {
    char *rp = strrchr(buf, ')');
    printf("own state: %c\n", rp ? rp[2] : '?');
  }
  if (fd >= 0) close(fd);
  /* a thread's /proc/<tid> */
  pid_t tid = (pid_t)syscall(SYS_gettid);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", tid);
  struct stat sb;
  R("stat /proc/<tid>/status", stat(path, &sb));
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: exact DIR SUBCOMMAND\n");
    return 2;
  }
  D = argv[1];
  const char *cmd = argv[2];
  if (!strcmp(cmd, "exit3")) return 3;
  if (!strcmp(cmd, "errnos")) cmd_errnos();
  else if (!strcmp(cmd, "clone3")) cmd_clone3();
  else if (!strcmp(cmd, "procs")) cmd_procs();
  else {
    fprintf(stderr, "exact: unknown subcommand %s\n", cmd);
    return 2;
  }
  return 0;
}
