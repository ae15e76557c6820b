// A deterministic program for tsvisor coverage's counts (test/e2e/coverage.test.ts):
// passthrough, emulated and denied calls, with and without errors, then a
// fork whose child execs busybox, so the split per process and per
// executable can be checked. Each call's count and error count is fixed.
// `coverage threads`: three threads (glibc's clone3), each writing once,
// joined without a futex wait: pthread_join waits on a futex only if the
// thread has not exited yet, which depends on timing (pthread_tryjoin_np
// makes no call while the thread runs).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_usr1(int sig) { (void)sig; }

static void *thread_main(void *arg) {
  syscall(SYS_write, 1, "t\n", 2);
  return arg;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "threads") == 0) {
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], 0, thread_main, 0);
    for (int i = 0; i < 3; i++)
      while (pthread_tryjoin_np(t[i], 0) == EBUSY) {
      }
    return 0;
  }
  struct stat st;
  for (int i = 0; i < 7; i++) syscall(SYS_write, 1, "x\n", 2);          // passthrough
  for (int i = 0; i < 4; i++) syscall(SYS_close, 1000 + i);             // passthrough, EBADF
  for (int i = 0; i < 3; i++) syscall(SYS_openat, AT_FDCWD, "/nonexistent-cov", O_RDONLY);  // emulated, ENOENT
  for (int i = 0; i < 2; i++) syscall(SYS_newfstatat, AT_FDCWD, "/", &st, 0);  // emulated
  syscall(SYS_getppid);                                                   // emulated
  for (int i = 0; i < 5; i++) syscall(SYS_tuxcall);                       // denied (ENOSYS natively too)
  syscall(SYS_delete_module, "tsvisor-no-such-module", 0);               // denied (an error natively too)
  signal(SIGUSR1, on_usr1);
  for (int i = 0; i < 2; i++) syscall(SYS_kill, syscall(SYS_getpid), SIGUSR1);  // each: kill, then the handler's rt_sigreturn
  pid_t p = syscall(SYS_fork);
  if (p == 0) {
    syscall(SYS_execve, "/bin/busybox", (char *[]){"busybox", "true", 0}, (char *[]){0});
    syscall(SYS_exit_group, 127);
  }
  syscall(SYS_wait4, p, 0, 0, 0);
  syscall(SYS_execve, "/nonexistent-cov", (char *[]){"x", 0}, (char *[]){0});  // ENOENT
  return 0;
}
