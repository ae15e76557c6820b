// For `tsvisor coverage --strace` (test/e2e/coverage-strace.test.ts): a
// deterministic sequence of calls, compared with a native `strace -f` of the
// same program: passthrough (read, write, mmap, close...), emulated (openat,
// newfstatat, getppid) and denied (tuxcall) ones, fds opened, duplicated,
// used and closed, errors, a thread and a forked child. The program's own
// calls start at the marker getppid, after the C library's start-up.
// Usage: coverage-strace FILE (a readable file of at least 16 bytes)
//        coverage-strace loop N (N getpid calls, faster than any printer)
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static void *thread_main(void *arg) {
  syscall(SYS_write, 1, "t\n", 2);
  return arg;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  if (argc == 3 && strcmp(argv[1], "loop") == 0) {
    for (long i = atol(argv[2]); i > 0; i--) syscall(SYS_getpid);
    return 0;
  }
  syscall(SYS_getppid);  // the marker
  long fd = syscall(SYS_openat, AT_FDCWD, argv[1], O_RDONLY | O_CLOEXEC);
  char buf[16];
  struct stat st;
  struct termios tio;
  syscall(SYS_read, fd, buf, sizeof buf);
  syscall(SYS_lseek, fd, 4, SEEK_SET);
  syscall(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH);
  syscall(SYS_fcntl, fd, F_GETFD);
  long fd2 = syscall(SYS_dup, fd);
  syscall(SYS_ioctl, fd2, TCGETS, &tio);  // ENOTTY
  long p = syscall(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  syscall(SYS_munmap, p, 4096);
  syscall(SYS_close, fd);
  syscall(SYS_read, fd2, buf, 4);
  syscall(SYS_close, fd2);
  syscall(SYS_close, fd);  // EBADF
  syscall(SYS_openat, AT_FDCWD, "/nonexistent-strace", O_RDONLY);  // ENOENT
  long s = syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  syscall(SYS_close, s);
  syscall(SYS_tuxcall);  // ENOSYS
  syscall(SYS_write, 1, "x\n", 2);
  pthread_t t;
  pthread_create(&t, 0, thread_main, 0);
  pthread_join(t, 0);
  long child = syscall(SYS_fork);
  if (child == 0) {
    syscall(SYS_write, 1, "c\n", 2);
    syscall(SYS_exit_group, 0);
  }
  syscall(SYS_wait4, child, 0, 0, 0);
  return 0;
}
