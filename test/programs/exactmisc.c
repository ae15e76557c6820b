/*
 * Linux-exact behaviour checks (issue 9) found by gVisor's syscall tests:
 * each subcommand prints one line per case with what the calls returned, so
 * the same program run natively and under tsvisor can be compared line by
 * line. Nothing printed differs between runs (no pids, addresses, times).
 *
 *   exactmisc DIR SUBCOMMAND     (DIR: a scratch directory the program may use)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exact.h"

extern char **environ;

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

/* -------------------------------------------------------------- opath */

/* fcntl and ioctl on O_PATH fds: Linux allows F_DUPFD*, F_GETFD, F_SETFD and
 * F_GETFL (which shows O_PATH's flags) and refuses the rest with EBADF, the
 * generic ioctls (FIONBIO, FIOCLEX, ...) too. (The terminal and socket
 * ioctls of the filter's allow-list run on the host's placeholder, ENOTTY,
 * and are not checked here.) */
static void cmd_opath(void) {
  close(open(at("f"), O_CREAT | O_WRONLY, 0644));
  mkdir(at("d"), 0755);
  int fd = open(at("f"), O_PATH);
  int dfd = open(at("d"), O_RDWR | O_DIRECT | O_SYNC | O_NONBLOCK | O_APPEND | O_PATH | O_NOFOLLOW | O_DIRECTORY);
  R("F_GETFL of O_PATH", fcntl(fd, F_GETFL));
  R("F_GETFL of O_PATH|O_NOFOLLOW|O_DIRECTORY and ignored flags", fcntl(dfd, F_GETFL));
  int nfd = fcntl(fd, F_DUPFD, 0);
  R("F_DUPFD", nfd >= 0 ? 0 : -1);
  R("F_GETFL of the dup", fcntl(nfd, F_GETFL));
  R("F_SETFD", fcntl(fd, F_SETFD, FD_CLOEXEC));
  R("F_GETFD", fcntl(fd, F_GETFD));
  R("F_SETFL", fcntl(fd, F_SETFL, 0));
  R("F_SETOWN", fcntl(fd, F_SETOWN, 0));
  R("F_GETOWN", fcntl(fd, F_GETOWN));
  R("F_SETSIG", fcntl(fd, F_SETSIG, 0));
  R("F_GETSIG", fcntl(fd, F_GETSIG));
  struct f_owner_ex ox = {0};
  R("F_SETOWN_EX", fcntl(fd, F_SETOWN_EX, &ox));
  R("F_GETOWN_EX", fcntl(fd, F_GETOWN_EX, &ox));
  struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
  R("F_GETLK", fcntl(fd, F_GETLK, &fl));
  R("F_OFD_GETLK", fcntl(fd, F_OFD_GETLK, &fl));
  R("F_GETLEASE", fcntl(fd, F_GETLEASE));
  R("F_NOTIFY", fcntl(dfd, F_NOTIFY, 0));
  R("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
  R("F_ADD_SEALS", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
  uint64_t hint = 0;
  R("F_GET_RW_HINT", fcntl(fd, F_GET_RW_HINT, &hint));
  R("F_GETPIPE_SZ", fcntl(fd, F_GETPIPE_SZ));
  R("syncfs of an O_PATH fd", syncfs(fd));
  R("syncfs of fd -1", syncfs(-1));
  int n = 0;
  R("ioctl 0 of an O_PATH fd", ioctl(fd, 0));
  R("ioctl 0 of fd -1", ioctl(-1, 0));
  R("ioctl 0 of a closed fd", ioctl(999, 0));
  R("ioctl FIONREAD of fd -1", ioctl(-1, FIONREAD, &n));
  int set = 1;
  loff_t qsize = 0;
  R("ioctl FIONBIO of an O_PATH fd", ioctl(fd, FIONBIO, &set));
  R("ioctl FIOCLEX of an O_PATH fd", ioctl(fd, FIOCLEX));
  R("ioctl FIONCLEX of an O_PATH fd", ioctl(fd, FIONCLEX));
  R("ioctl FIOASYNC of an O_PATH fd", ioctl(fd, FIOASYNC, &set));
  R("ioctl FIOQSIZE of an O_PATH fd", ioctl(fd, FIOQSIZE, &qsize));
  R("ioctl FIOCLEX of fd -1", ioctl(-1, FIOCLEX));
  int rfd = open(at("f"), O_RDONLY);
  R("ioctl 0 of a file", ioctl(rfd, 0));
  R("ioctl FIOCLEX of a file", ioctl(rfd, FIOCLEX));
  R("F_GETFD after", fcntl(rfd, F_GETFD));
  R("ioctl FIONCLEX of a file", ioctl(rfd, FIONCLEX));
  R("F_GETFD after", fcntl(rfd, F_GETFD));
  R("ioctl FIONBIO of a file", ioctl(rfd, FIONBIO, &set));
  R("F_GETFL after FIONBIO", fcntl(rfd, F_GETFL));
  set = 0;
  R("ioctl FIONBIO 0 of a file", ioctl(rfd, FIONBIO, &set));
  R("ioctl FIOQSIZE of a file", ioctl(rfd, FIOQSIZE, &qsize));
  R("ioctl FIOASYNC 0 of a file", ioctl(rfd, FIOASYNC, &set));
  /* and the same commands on an ordinary fd still run */
  R("F_GETFL of a file", fcntl(rfd, F_GETFL));
  R("F_SETFL O_NONBLOCK of a file", fcntl(rfd, F_SETFL, O_NONBLOCK));
  R("F_GETFL after", fcntl(rfd, F_GETFL));
  R("F_GETOWN of a file", fcntl(rfd, F_GETOWN));
  R("F_GETLK of a file", fcntl(rfd, F_GETLK, &fl));
  printf("  l_type %d\n", fl.l_type);
  R("syncfs of a file", syncfs(rfd));
  R("F_GETFL of fd -1", fcntl(-1, F_GETFL));
  R("F_GETFL of a closed fd", fcntl(999, F_GETFL));
}

/* -------------------------------------------------------------- setns */

/* The errors Linux gives before it looks at privileges (the sandbox then
 * refuses every namespace with EPERM; root natively would join). */
static void cmd_setns(void) {
  int ffd = open(at("f"), O_CREAT | O_RDWR, 0644);
  R("setns of fd -1", setns(-1, 0));
  R("setns of a closed fd", setns(999, CLONE_NEWNET));
  R("setns of a file", setns(ffd, CLONE_NEWNET));
  R("setns of a file, no flags", setns(ffd, 0));
  int go[2];
  if (pipe(go) < 0) return;
  pid_t c = fork();
  if (c == 0) {
    char x;
    _exit(read(go[0], &x, 1) == 1 ? 0 : 1);
  }
  int pfd = syscall(SYS_pidfd_open, c, 0);
  R("pidfd_open", pfd < 0 ? -1 : 0);
  R("setns of a pidfd, no flags", setns(pfd, 0));
  R("setns of a pidfd, flags -1", setns(pfd, -1));
  R("setns of a pidfd, CLONE_VM", setns(pfd, CLONE_VM));
  R("setns of a pidfd, CLONE_NEWNET|CLONE_VM", setns(pfd, CLONE_NEWNET | CLONE_VM));
  if (write(go[1], "x", 1) != 1) return;
  siginfo_t si;
  waitid(P_PID, c, &si, WEXITED | WNOWAIT);
  R("setns of a zombie's pidfd", setns(pfd, CLONE_NEWNET));
  R("setns of a zombie's pidfd, no flags", setns(pfd, 0));
  waitpid(c, 0, 0);
  R("setns of a reaped child's pidfd", setns(pfd, CLONE_NEWUTS));
}

/* --------------------------------------------------------------- comm */

/* The interpreter of comm's scripts: the name the exec gave it. */
static int print_name(void) {
  char name[32] = {0}, buf[64] = {0};
  prctl(PR_GET_NAME, name);
  printf("  PR_GET_NAME: %s\n", name);
  int fd = open("/proc/self/comm", O_RDONLY);
  if (fd >= 0 && read(fd, buf, sizeof buf - 1) > 0) printf("  /proc/self/comm: %s", buf);
  prctl(PR_SET_NAME, "renamed");
  memset(name, 0, sizeof name);
  prctl(PR_GET_NAME, name);
  printf("  PR_GET_NAME after PR_SET_NAME: %s\n", name);
  return 0;
}

/* A script's process is named after the script (Linux names it after the
 * path execve was given), not after its interpreter. */
static void cmd_comm(void) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0) return;
  self[n] = 0;
  const char *names[] = {"s.sh", "a-very-long-script-name.sh"};
  for (int i = 0; i < 2; i++) {
    FILE *f = fopen(at(names[i]), "w");
    if (!f) return;
    fprintf(f, "#!%s printname\n", self);
    fclose(f);
    chmod(at(names[i]), 0755);
    printf("exec %s\n", names[i]);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
      char *av[] = {(char *)names[i], NULL};
      execv(at(names[i]), av);
      _exit(127);
    }
    int st;
    waitpid(c, &st, 0);
    R("status", st);
  }
  char name[32] = {0};
  prctl(PR_GET_NAME, name);
  printf("own PR_GET_NAME: %s\n", name);
  R("PR_GET_NAME into a bad address", prctl(PR_GET_NAME, 8));
}

/* ------------------------------------------------------------- linkat */

/* CAP_DAC_READ_SEARCH on or off in the effective set. */
static int dac_read_search(int on) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0) return -1;
  if (on) d[0].effective |= 1u << CAP_DAC_READ_SEARCH;
  else d[0].effective &= ~(1u << CAP_DAC_READ_SEARCH);
  return syscall(SYS_capset, &h, d);
}

/* linkat(fd, "", AT_EMPTY_PATH): the opener with unchanged credentials, or
 * CAP_DAC_READ_SEARCH; ENOENT for anyone else (Linux 6.10 on). */
static void cmd_linkat(void) {
  close(open(at("f"), O_CREAT | O_WRONLY, 0644));
  mkdir(at("d"), 0755);
  int fd = open(at("f"), O_RDONLY);
  int dfd = open(at("d"), O_RDONLY | O_DIRECTORY);
  R("by the opener", linkat(fd, "", dfd, "a", AT_EMPTY_PATH));
  R("without AT_EMPTY_PATH", linkat(fd, "", dfd, "b", 0));
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    R("by a child with CAP_DAC_READ_SEARCH", linkat(fd, "", dfd, "c", AT_EMPTY_PATH));
    R("drop CAP_DAC_READ_SEARCH", dac_read_search(0));
    R("by a child without it", linkat(fd, "", dfd, "d", AT_EMPTY_PATH));
    R("the same with a path", linkat(dfd, "../f", dfd, "e", 0));
    _exit(0);
  }
  waitpid(c, 0, 0);
  R("drop CAP_DAC_READ_SEARCH", dac_read_search(0));
  R("by the opener with changed credentials", linkat(fd, "", dfd, "g", AT_EMPTY_PATH));
  R("raise it again", dac_read_search(1));
  R("by the opener with it", linkat(fd, "", dfd, "h", AT_EMPTY_PATH));
  int fd2 = open(at("f"), O_RDONLY);
  R("drop CAP_DAC_READ_SEARCH", dac_read_search(0));
  int fd3 = open(at("f"), O_RDONLY);
  R("of an fd opened since", linkat(fd3, "", dfd, "i", AT_EMPTY_PATH));
  (void)fd2;
}

/* ------------------------------------------------------------- execfn */

/* AT_EXECFN is the path execve was given: as named, relative or not; the
 * script for a script; /dev/fd/N[/path] for execveat of an fd. */
static void exec_and_wait(const char *what, int dirfd, const char *path, int flags) {
  printf("%s\n", what);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    char *av[] = {"self", "printexecfn", (char *)D, NULL};
    syscall(SYS_execveat, dirfd, path, av, environ, flags);
    _exit(127);
  }
  int st;
  waitpid(c, &st, 0);
  R("  status", st);
}

static void cmd_execfn(void) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0) return;
  self[n] = 0;
  if (symlink(self, at("self")) < 0) return;
  FILE *f = fopen(at("s.sh"), "w");
  if (!f) return;
  fprintf(f, "#!%s printexecfn\n", self);
  fclose(f);
  chmod(at("s.sh"), 0755);
  exec_and_wait("absolute", AT_FDCWD, at("self"), 0);
  if (chdir(D) < 0) return;
  exec_and_wait("relative", AT_FDCWD, "./self", 0);
  exec_and_wait("relative script", AT_FDCWD, "s.sh", 0);
  int dfd = open(".", O_RDONLY | O_DIRECTORY);
  exec_and_wait("execveat of a directory fd", dfd, "self", 0);
  int fd = open("self", O_RDONLY | O_CLOEXEC);
  exec_and_wait("fexecve", fd, "", AT_EMPTY_PATH);
  /* a script in a memfd of the program's own: its interpreter reads /dev/fd/N */
  const char script[] = "#!/bin/sh\necho \"  \\$0: $0\"\n";
  for (int cloexec = 0; cloexec < 2; cloexec++) {
    int m = memfd_create("script", cloexec ? MFD_CLOEXEC : 0);
    if (m < 0 || write(m, script, sizeof script - 1) < 0) return;
    exec_and_wait(cloexec ? "fexecve of a close-on-exec memfd script" : "fexecve of a memfd script", m, "", AT_EMPTY_PATH);
    close(m);
  }
}

/* ---------------------------------------------------------------- pts */

/* Whether /dev/pts lists `name`. */
static int pts_listed(const char *name) {
  DIR *d = opendir("/dev/pts");
  if (!d) return -1;
  int found = 0;
  for (struct dirent *e; (e = readdir(d));) found |= !strcmp(e->d_name, name);
  closedir(d);
  return found;
}

/* /dev/pts/N exists, and is listed, while its terminal does. */
static void cmd_pts(void) {
  int m = open("/dev/ptmx", O_RDWR | O_NOCTTY);
  R("open /dev/ptmx", m < 0 ? -1 : 0);
  R("unlockpt", unlockpt(m));
  int n = -1;
  R("TIOCGPTN", ioctl(m, TIOCGPTN, &n));
  char p[64];
  snprintf(p, sizeof p, "/dev/pts/%d", n);
  struct stat st;
  R("stat /dev/pts/N", stat(p, &st));
  int r = open(p, O_RDWR | O_NOCTTY);
  R("open /dev/pts/N", r < 0 ? -1 : 0);
  R("stat again", stat(p, &st));
  char num[16];
  snprintf(num, sizeof num, "%d", n);
  R("listed in /dev/pts", pts_listed(num));
  R("ptmx listed", pts_listed("ptmx"));
  close(r);
  close(m);
  R("stat once the master is closed", stat(p, &st));
  R("listed once the master is closed", pts_listed(num));
  R("open once the master is closed", open(p, O_RDWR | O_NOCTTY));
}

/* --------------------------------------------------------------- ctty */

/* A new pty's slave path (master fd in *m), or NULL. */
static const char *new_pty(int *m) {
  *m = posix_openpt(O_RDWR | O_NOCTTY);
  if (*m < 0 || grantpt(*m) < 0 || unlockpt(*m) < 0) return NULL;
  return ptsname(*m);
}

/* Whether fd's terminal is the caller's controlling terminal (TIOCGSID on
 * it gives the caller's session only then), and whether /dev/tty opens. */
static void show_ctty(const char *what, int fd) {
  pid_t sid = -1;
  char line[256];
  int r = ioctl(fd, TIOCGSID, &sid);
  snprintf(line, sizeof line, "%s: TIOCGSID is our session", what);
  report(line, r < 0 ? r : sid == getsid(0), errno);
  int t = open("/dev/tty", O_RDWR | O_NOCTTY);
  snprintf(line, sizeof line, "%s: open /dev/tty", what);
  report(line, t < 0 ? t : 0, errno);
  if (t >= 0) close(t);
}

/* Bits outside open(2)'s flags that ask ctty_case for the open syscall or openat2 instead of glibc's open (openat). */
#define CTTY_SYS_OPEN (1 << 30)
#define CTTY_SYS_OPENAT2 (1 << 29)

/* In a child made a session leader (or not), opens a new pty's slave with
 * `flags` and shows whether it became the controlling terminal. */
static void ctty_case(const char *what, int leader, int flags) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    if (leader) setsid();
    int m;
    const char *p = new_pty(&m);
    if (!p) _exit(1);
    errno = 0;
    int s;
    struct open_how how = {.flags = flags & ~(CTTY_SYS_OPEN | CTTY_SYS_OPENAT2)};
    if (flags & CTTY_SYS_OPEN) s = syscall(SYS_open, p, how.flags, 0);
    else if (flags & CTTY_SYS_OPENAT2) s = syscall(SYS_openat2, AT_FDCWD, p, &how, sizeof how);
    else s = open(p, flags);
    char line[256];
    snprintf(line, sizeof line, "%s: open's errno", what);
    report(line, s < 0 ? -1 : errno, errno);
    show_ctty(what, s >= 0 ? s : m);
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
}

/* tty_open's rule: a session leader without a controlling terminal that
 * opens a terminal (not a master) without O_NOCTTY, for reading, makes it
 * its controlling terminal if no session has it. */
static void cmd_ctty(void) {
  ctty_case("leader, O_RDWR", 1, O_RDWR);
  ctty_case("leader, O_RDONLY", 1, O_RDONLY);
  ctty_case("leader, O_WRONLY", 1, O_WRONLY);
  ctty_case("leader, O_RDWR|O_NOCTTY", 1, O_RDWR | O_NOCTTY);
  ctty_case("leader, O_RDWR|O_NONBLOCK|O_CLOEXEC", 1, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  ctty_case("not a leader, O_RDWR", 0, O_RDWR);
  ctty_case("leader, O_RDWR, by the open syscall", 1, O_RDWR | CTTY_SYS_OPEN);
  ctty_case("leader, O_RDWR, by openat2", 1, O_RDWR | CTTY_SYS_OPENAT2);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    setsid();
    /* TIOCNOTTY by a session leader hangs up its foreground group: itself. */
    signal(SIGHUP, SIG_IGN);
    int m = posix_openpt(O_RDWR);
    show_ctty("master opened without O_NOCTTY", m);
    int m1, m2;
    char p1[64] = "", p2[64] = "";
    if (new_pty(&m1)) snprintf(p1, sizeof p1, "%s", ptsname(m1));
    int s1 = open(p1, O_RDWR);
    show_ctty("first terminal", s1);
    if (new_pty(&m2)) snprintf(p2, sizeof p2, "%s", ptsname(m2));
    int s2 = open(p2, O_RDWR);
    show_ctty("second terminal while the first is ours", s2);
    /* A terminal another session holds stays that session's. */
    fflush(stdout);
    pid_t g = fork();
    if (g == 0) {
      setsid();
      int s = open(p1, O_RDWR);
      report("other session's terminal: opens", s < 0 ? s : 0, errno);
      show_ctty("other session's terminal", s);
      fflush(stdout);
      _exit(0);
    }
    waitpid(g, NULL, 0);
    R("TIOCNOTTY", ioctl(s1, TIOCNOTTY));
    show_ctty("after TIOCNOTTY", s1);
    int again = open(p1, O_RDWR);
    show_ctty("reopened after TIOCNOTTY", again);
    fflush(stdout);
    _exit(0);
  }
  waitpid(c, NULL, 0);
}

/* The command itself, started without a terminal, leads a session of its
 * own (the test starts it under setsid natively): setsid() is EPERM, and a
 * terminal it opens becomes its controlling terminal. */
static void cmd_session(void) {
  R("getsid(0) is our pid", getsid(0) == getpid());
  R("getpgrp() is our pid", getpgrp() == getpid());
  R("setsid()", setsid());
  signal(SIGHUP, SIG_IGN);
  int m;
  const char *p = new_pty(&m);
  int s = p ? open(p, O_RDWR) : -1;
  show_ctty("a terminal the command opens", s);
  R("TIOCNOTTY", ioctl(s, TIOCNOTTY));
  show_ctty("after TIOCNOTTY", s);
}

/* -------------------------------------------------------------- empty */

/* An empty name is refused (ENOENT) before the directory fd is looked at. */
static void cmd_empty(void) {
  close(open(at("f"), O_CREAT | O_WRONLY, 0644));
  mkdir(at("d"), 0755);
  int ffd = open(at("f"), O_RDWR);
  int dfd = open(at("d"), O_RDONLY | O_DIRECTORY);
  R("unlinkat(file fd, \"\")", unlinkat(ffd, "", 0));
  R("unlinkat(dir fd, \"\", AT_REMOVEDIR)", unlinkat(dfd, "", AT_REMOVEDIR));
  R("unlinkat(-1, \"\")", unlinkat(-1, "", 0));
  R("mkdirat(file fd, \"\")", mkdirat(ffd, "", 0755));
  R("mkdir(\"\")", mkdir("", 0755));
  R("mknodat(file fd, \"\")", mknodat(ffd, "", S_IFREG | 0644, 0));
  R("symlinkat(x, file fd, \"\")", symlinkat("x", ffd, ""));
  R("renameat(dir fd, f, file fd, \"\")", renameat(dfd, "../f", ffd, ""));
  R("renameat(file fd, \"\", dir fd, g)", renameat(ffd, "", dfd, "g"));
  R("linkat(dir fd, ../f, file fd, \"\")", linkat(dfd, "../f", ffd, "", 0));
}

/* ----------------------------------------------------------- affinity */

/* A process's CPU mask stays its own across opens (the Sentry pins the
 * opener to its CPU while it installs the fd), and so does a child forked
 * right after one. */
static void cmd_affinity(void) {
  close(open(at("f"), O_CREAT | O_WRONLY, 0644));
  cpu_set_t own;
  if (sched_getaffinity(0, sizeof own, &own) < 0) return;
  int narrower = 0, children = 0;
  for (int i = 0; i < 100; i++) {
    int fd = open(at("f"), O_RDONLY);
    cpu_set_t m;
    sched_getaffinity(0, sizeof m, &m);
    narrower += !CPU_EQUAL(&m, &own);
    close(fd);
  }
  for (int i = 0; i < 20; i++) {
    int fd = open(at("f"), O_RDONLY);
    pid_t c = fork();
    if (c == 0) {
      cpu_set_t m;
      sched_getaffinity(0, sizeof m, &m);
      _exit(!CPU_EQUAL(&m, &own));
    }
    int st;
    waitpid(c, &st, 0);
    children += WEXITSTATUS(st);
    close(fd);
  }
  printf("masks other than the process's own right after an open: %d of 100\n", narrower);
  printf("children forked right after an open with another mask: %d of 20\n", children);
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "printname")) return print_name();
  if (argc >= 3 && !strcmp(argv[1], "printexecfn")) {
    D = argv[argc - 1];
    print_path((const char *)getauxval(AT_EXECFN));
    return 0;
  }
  if (argc < 3) {
    fprintf(stderr, "usage: exactmisc DIR SUBCOMMAND\n");
    return 2;
  }
  D = argv[1];
  const char *cmd = argv[2];
  if (!strcmp(cmd, "chroot")) cmd_chroot();
  else if (!strcmp(cmd, "nosys")) cmd_nosys();
  else if (!strcmp(cmd, "opath")) cmd_opath();
  else if (!strcmp(cmd, "setns")) cmd_setns();
  else if (!strcmp(cmd, "comm")) cmd_comm();
  else if (!strcmp(cmd, "linkat")) cmd_linkat();
  else if (!strcmp(cmd, "execfn")) cmd_execfn();
  else if (!strcmp(cmd, "pts")) cmd_pts();
  else if (!strcmp(cmd, "empty")) cmd_empty();
  else if (!strcmp(cmd, "ctty")) cmd_ctty();
  else if (!strcmp(cmd, "session")) cmd_session();
  else if (!strcmp(cmd, "affinity")) cmd_affinity();
  else {
    fprintf(stderr, "exactmisc: unknown subcommand %s\n", cmd);
    return 2;
  }
  return 0;
}
