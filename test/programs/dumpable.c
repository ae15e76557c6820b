/* /proc/PID access of a root process to another root process that is or is
 * not dumpable, run as root:
 *   dumpable          with the caller's capabilities
 *   dumpable noptrace without CAP_SYS_PTRACE (dropped from the permitted and
 *                     effective sets before the targets are forked, so only
 *                     dumpability can refuse)
 * Each target is a child that makes itself (not) dumpable, then waits:
 * plain, PR_SET_DUMPABLE 0, PR_SET_DUMPABLE 0 then 1, and an effective uid
 * changed and changed back (commit_creds makes it not dumpable). Linux
 * refuses a caller without CAP_SYS_PTRACE the memory, environment, exe link
 * and fds of a target that is not dumpable, even of the same uid, and shows
 * its files as root's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *outcome(int r) { return r >= 0 ? "ok" : strerrorname_np(errno); }

static int dropPtrace(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0) return -1;
  d[CAP_SYS_PTRACE / 32].effective &= ~(1u << (CAP_SYS_PTRACE % 32));
  d[CAP_SYS_PTRACE / 32].permitted &= ~(1u << (CAP_SYS_PTRACE % 32));
  d[CAP_SYS_PTRACE / 32].inheritable &= ~(1u << (CAP_SYS_PTRACE % 32));
  return syscall(SYS_capset, &h, d);
}

static void become(const char *how) {
  if (strcmp(how, "prctl0") == 0) prctl(PR_SET_DUMPABLE, 0);
  if (strcmp(how, "prctl01") == 0) {
    prctl(PR_SET_DUMPABLE, 0);
    prctl(PR_SET_DUMPABLE, 1);
  }
  if (strcmp(how, "seteuid") == 0) {
    if (setresuid(-1, 1000, -1) == 0) setresuid(-1, 0, -1);
  }
}

static void probe(const char *how) {
  int ready[2], done[2];
  if (pipe(ready) < 0 || pipe(done) < 0) return;
  pid_t c = fork();
  if (c == 0) {
    become(how);
    char d = (char)('0' + prctl(PR_GET_DUMPABLE)), b;
    if (write(ready[1], &d, 1) != 1) _exit(2);
    if (read(done[0], &b, 1) < 0) _exit(2);
    _exit(0);
  }
  char dumpable = '?';
  if (read(ready[0], &dumpable, 1) != 1) return;
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%d/mem", c);
  int fd = open(path, O_RDONLY);
  printf("%-8s dumpable %c: mem %s", how, dumpable, outcome(fd));
  if (fd >= 0) close(fd);
  snprintf(path, sizeof path, "/proc/%d/environ", c);
  fd = open(path, O_RDONLY);
  int r = fd < 0 ? -1 : (int)read(fd, buf, sizeof buf);
  printf(", environ %s", outcome(r));
  if (fd >= 0) close(fd);
  snprintf(path, sizeof path, "/proc/%d/exe", c);
  printf(", exe %s", outcome((int)readlink(path, buf, sizeof buf)));
  snprintf(path, sizeof path, "/proc/%d/fd/0", c);
  printf(", fd/0 %s", outcome((int)readlink(path, buf, sizeof buf)));
  snprintf(path, sizeof path, "/proc/%d/maps", c);
  fd = open(path, O_RDONLY);
  printf(", maps %s", outcome(fd < 0 ? -1 : (int)read(fd, buf, sizeof buf)));
  if (fd >= 0) close(fd);
  struct stat st;
  snprintf(path, sizeof path, "/proc/%d/status", c);
  if (stat(path, &st) == 0) printf(", status owner %u:%u", st.st_uid, st.st_gid);
  printf("\n");
  if (write(done[1], "x", 1) != 1) return;
  waitpid(c, NULL, 0);
  close(ready[0]);
  close(ready[1]);
  close(done[0]);
  close(done[1]);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "noptrace") == 0 && dropPtrace() < 0) {
    perror("capset");
    return 1;
  }
  const char *cases[] = {"plain", "prctl0", "prctl01", "seteuid"};
  for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) probe(cases[i]);
  return 0;
}
