/*
 * Linux-exact behaviour checks (issue 9) found by gVisor's syscall tests:
 * each subcommand prints one line per case with what the calls returned, so
 * the same program run natively and under tsvisor can be compared line by
 * line. Nothing printed differs between runs (no pids, addresses, times).
 *
 *   exactmisc DIR SUBCOMMAND     (DIR: a scratch directory the program may use)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exact.h"

/* ------------------------------------------------------------- chroot */

/* A path with the scratch directory's name (which differs between runs) as DIR. */
static void print_path(const char *p) {
  const char *d = strstr(p, D);
  if (d) printf("  %.*sDIR%s\n", (int)(d - p), p, d + strlen(D));
  else printf("  %s\n", p);
}

/* getcwd of a cwd the new root leaves outside: "(unreachable)" and its path. */
static void cmd_chroot(void) {
  mkdir(at("root"), 0755);
  mkdir(at("root/sub"), 0755);
  char after[4096];
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    if (chdir(D) < 0) _exit(1);
    R("chroot", chroot(at("root")));
    long n = syscall(SYS_getcwd, after, sizeof after);
    R("getcwd outside the root", n - (long)strlen(D));
    if (n > 0) print_path(after);
    R("chdir /sub", chdir("/sub"));
    R("getcwd inside", syscall(SYS_getcwd, after, sizeof after));
    print_path(after);
    fflush(stdout);
    _exit(0);
  }
  waitpid(c, 0, 0);
}

/* ------------------------------------------------------------- nosys */

static void cmd_nosys(void) {
  R("syscall(-1)", syscall(-1));
  R("syscall(0x3ffffffe)", syscall(0x3ffffffe));
  R("syscall(1000)", syscall(1000));
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: exactmisc DIR SUBCOMMAND\n");
    return 2;
  }
  D = argv[1];
  const char *cmd = argv[2];
  if (!strcmp(cmd, "chroot")) cmd_chroot();
  else if (!strcmp(cmd, "nosys")) cmd_nosys();
  else {
    fprintf(stderr, "exactmisc: unknown subcommand %s\n", cmd);
    return 2;
  }
  return 0;
}
