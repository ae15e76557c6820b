/*
 * Processes and threads: fork, vfork, clone, exit, exit_group, wait4,
 * waitid, the process ids, sessions and groups, prctl, arch_prctl,
 * set_tid_address, robust lists, kill, tkill, tgkill, pidfds, personality,
 * kcmp, process_vm_readv/writev. Case lines as test/programs/calls.h says.
 *
 *   calls-proc DIR   (DIR: a scratch directory; unused here)
 */
#include "calls.h"
#include <fcntl.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <asm/prctl.h>
#include <linux/futex.h>

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static volatile int shared_flag;
static const char *self_path;

/* ---------------------------------------------------------------- ids */

static void *tid_thread(void *arg) {
  long *out = arg;
  out[0] = syscall(SYS_gettid);
  out[1] = syscall(SYS_getpid);
  return NULL;
}

static void ids(void) {
  long pid = syscall(SYS_getpid);
  N(getpid, "is positive", "%s", pid > 0 ? "yes" : "no");
  N(gettid, "of the main thread is the pid", "%s", syscall(SYS_gettid) == pid ? "yes" : "no");
  long th[2];
  pthread_t t;
  pthread_create(&t, NULL, tid_thread, th);
  pthread_join(t, NULL);
  N(gettid, "of another thread differs from the pid", "%s", th[0] != pid ? "yes" : "no");
  N(getpid, "of another thread is the process's", "%s", th[1] == pid ? "yes" : "no");
  int p[2];
  if (pipe(p) < 0) return;
  pid_t c = fork_flushed();
  if (c == 0) {
    long v[3] = {syscall(SYS_getpid), syscall(SYS_getppid), syscall(SYS_gettid)};
    if (write(p[1], v, sizeof v) < 0) _exit(1);
    _exit(0);
  }
  long v[3] = {0, 0, 0};
  if (read(p[0], v, sizeof v) < 0) return;
  reap(c);
  N(getpid, "in a child is what fork returned", "%s", v[0] == c ? "yes" : "no");
  N(getppid, "in a child is the parent's pid", "%s", v[1] == pid ? "yes" : "no");
  N(gettid, "in a child is its pid", "%s", v[2] == c ? "yes" : "no");
  close(p[0]);
  close(p[1]);
}

/* ------------------------------------------------- fork, vfork, exit */

/* vfork in assembly: the child must not touch the stack it shares with its
 * parent. It sets shared_flag, then exits with status 7. */
static long vfork_set_exit(void) {
  long r;
  asm volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "movl $1, %1\n\t"
      "mov $60, %%eax\n\t"
      "mov $7, %%edi\n\t"
      "syscall\n\t"
      "1:"
      : "=a"(r), "=m"(shared_flag)
      : "0"((long)SYS_vfork)
      : "rcx", "r11", "rdi", "memory");
  return r;
}

static void *sleeper(void *a) {
  (void)a;
  for (;;) pause();
  return NULL;
}

static void forks(void) {
  static int cow = 1;
  fflush(stdout);
  long c = syscall(SYS_fork);
  if (c == 0) {
    cow = 2;
    _exit(cow == 2 ? 3 : 4);
  }
  N(fork, "returns the child's pid to the parent", "%s", c > 0 ? "yes" : "no");
  N(fork, "child exits with its status", "%s", reap(c));
  N(fork, "child's writes stay in the child", "%d", cow);
  /* fork in a process with another thread: only the caller is copied */
  pthread_t t;
  pthread_create(&t, NULL, sleeper, NULL);
  fflush(stdout);
  c = syscall(SYS_fork);
  if (c == 0) _exit(0);
  N(fork, "from a multi-threaded process", "%s", reap(c));
  shared_flag = 0;
  fflush(stdout);
  c = vfork_set_exit();
  N(vfork, "returns the child's pid", "%s", c > 0 ? "yes" : RV(c));
  N(vfork, "the parent resumes after the child exited, memory shared", "flag %d", shared_flag);
  N(vfork, "child's exit status", "%s", reap(c));
  /* exit ends the calling thread only; exit_group the whole process */
  c = fork_flushed();
  if (c == 0) syscall(SYS_exit, 5);
  N(exit, "of a single-threaded process", "%s", reap(c));
  c = fork_flushed();
  if (c == 0) {
    pthread_t t2;
    pthread_create(&t2, NULL, sleeper, NULL);
    syscall(SYS_exit_group, 6);
  }
  N(exit_group, "ends every thread", "%s", reap(c));
  c = fork_flushed();
  if (c == 0) syscall(SYS_exit_group, 256 + 9);
  N(exit_group, "keeps the low 8 bits", "%s", reap(c));
  c = fork_flushed();
  if (c == 0) {
    /* the main thread exits; the process lives on in its other thread */
    pthread_t t2;
    pthread_create(&t2, NULL, sleeper, NULL);
    syscall(SYS_exit, 0);
  }
  /* the process is still there while its other thread sleeps */
  msleep(100);
  N(exit, "of the main thread leaves the others running", "%s", RES(waitpid(c, NULL, WNOHANG)));
  kill(c, SIGKILL);
  N(exit, "process killed afterwards", "%s", reap(c));
}

/* ---------------------------------------------------------------- clone */

static char stacks[4][65536] __attribute__((aligned(16)));
static volatile int ctid_word;

static int clone_child(void *arg) {
  shared_flag = (int)(intptr_t)arg;
  return 3;
}

static int clone_child_fd(void *arg) {
  (void)arg;
  return open("/", O_RDONLY) >= 0 ? 0 : 1;
}

static int clone_child_sleep(void *arg) {
  (void)arg;
  msleep(50);
  return 0;
}

static void clones(void) {
  /* clone as fork: no stack, SIGCHLD */
  fflush(stdout);
  long c = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (c == 0) _exit(2);
  N(clone, "SIGCHLD without a stack acts as fork", "%s %s", c > 0 ? "ok" : RV(c), reap(c));
  shared_flag = 0;
  pid_t p = clone(clone_child, stacks[0] + sizeof stacks[0], CLONE_VM | SIGCHLD, (void *)5);
  const char *st = reap(p);
  N(clone, "CLONE_VM: the child's write is seen", "%s flag %d", st, shared_flag);
  pid_t ptid = 0;
  p = clone(clone_child, stacks[0] + sizeof stacks[0], CLONE_VM | CLONE_PARENT_SETTID | SIGCHLD, (void *)6, &ptid);
  N(clone, "CLONE_PARENT_SETTID stores the child's tid", "%s", ptid == p ? "yes" : "no");
  reap(p);
  ctid_word = -1;
  p = clone(clone_child_sleep, stacks[0] + sizeof stacks[0], CLONE_VM | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | SIGCHLD, NULL, NULL, NULL,
            &ctid_word);
  int seen = ctid_word;
  while (ctid_word != 0) syscall(SYS_futex, &ctid_word, FUTEX_WAIT, seen, NULL, NULL, 0), seen = ctid_word;
  N(clone, "CLONE_CHILD_SETTID then CLONE_CHILD_CLEARTID wakes the futex at exit", "%s", ctid_word == 0 ? "cleared" : "set");
  reap(p);
  int before = open("/", O_RDONLY);
  close(before);
  p = clone(clone_child_fd, stacks[0] + sizeof stacks[0], CLONE_VM | CLONE_FILES | SIGCHLD, NULL);
  reap(p);
  int now = fcntl(before, F_GETFD);
  N(clone, "CLONE_FILES: an fd the child opened is the parent's", "%s", now >= 0 ? "yes" : "no");
  close(before);
  p = clone(clone_child_fd, stacks[0] + sizeof stacks[0], CLONE_VM | SIGCHLD, NULL);
  reap(p);
  N(clone, "without CLONE_FILES it is not", "%s", fcntl(before, F_GETFD) >= 0 ? "yes" : "no");
  T(clone, "CLONE_SIGHAND without CLONE_VM", CLONE_SIGHAND | SIGCHLD, 0, 0, 0, 0);
  T(clone, "CLONE_THREAD without CLONE_SIGHAND", CLONE_THREAD | CLONE_VM | SIGCHLD, 0, 0, 0, 0);
  T(clone, "CLONE_FS with CLONE_NEWNS", CLONE_FS | CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
  int pidfd = -1;
  T(clone, "CLONE_PIDFD with CLONE_PARENT_SETTID", CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &pidfd, 0, 0);
  fflush(stdout);
  c = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pidfd, 0, 0);
  if (c == 0) _exit(4);
  struct pollfd pf = {pidfd, POLLIN, 0};
  int pr = poll(&pf, 1, 5000);
  N(clone, "CLONE_PIDFD: the pidfd is readable when the child exits", "%d %s", pr, pf.revents & POLLIN ? "POLLIN" : "-");
  siginfo_t si;
  memset(&si, 0, sizeof si);
  const char *wr = RES(waitid(P_PIDFD, pidfd, &si, WEXITED));
  N(clone, "CLONE_PIDFD: waitid(P_PIDFD)", "%s code %d status %d", wr, si.si_code, si.si_status);
  close(pidfd);
  /* CLONE_PARENT: the child is the caller's parent's child, not the caller's */
  int pipefd[2];
  if (pipe(pipefd) < 0) return;
  c = fork_flushed();
  if (c == 0) {
    long g = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
    if (g == 0) {
      msleep(100);
      _exit(0);
    }
    int st;
    long r = waitpid(g, &st, 0);
    char verdict = r < 0 && errno == ECHILD ? 'y' : 'n';
    if (write(pipefd[1], &g, sizeof g) < 0 || write(pipefd[1], &verdict, 1) < 0) _exit(1);
    _exit(0);
  }
  long g = 0;
  char verdict = '?';
  if (read(pipefd[0], &g, sizeof g) < 0 || read(pipefd[0], &verdict, 1) < 0) return;
  reap(c);
  N(clone, "CLONE_PARENT: the caller cannot wait for the child", "%c", verdict);
  N(clone, "CLONE_PARENT: the caller's parent reaps it", "%s", g > 0 ? reap(g) : "no child");
  close(pipefd[0]);
  close(pipefd[1]);
  /* creating namespaces without privilege */
  c = fork_flushed();
  if (c == 0) {
    if (setresuid(65534, 65534, 65534) < 0) _exit(9);
    T(clone, "CLONE_NEWNS as an unprivileged user", CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
    T(clone, "CLONE_NEWPID as an unprivileged user", CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
    T(clone, "CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWNET as an unprivileged user", CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
    _exit(0);
  }
  reap(c);
}

/* ------------------------------------------------------- wait4, waitid */

static pid_t child_exiting(int code, long ms) {
  pid_t c = fork_flushed();
  if (c == 0) {
    msleep(ms);
    _exit(code);
  }
  return c;
}

/* A child in a process group of its own (set on both sides of the fork, so
 * it is in place whichever runs first) that exits with code after ms. */
static pid_t child_in_group(int code, long ms) {
  pid_t c = fork_flushed();
  if (c == 0) {
    setpgid(0, 0);
    msleep(ms);
    _exit(code);
  }
  setpgid(c, c);
  return c;
}

static pid_t child_pausing(void) {
  pid_t c = fork_flushed();
  if (c == 0) {
    for (;;) pause();
  }
  return c;
}

static void waits(void) {
  int st = 0;
  struct rusage ru;
  T(wait4, "with no children", -1, &st, 0, 0);
  pid_t c = child_pausing();
  T(wait4, "WNOHANG while the child runs", c, &st, WNOHANG, 0);
  T(wait4, "an unknown option", c, &st, 0x10000000, 0);
  T(wait4, "a pid that is not a child", 1, &st, WNOHANG, 0);
  kill(c, SIGSTOP);
  st = 0;
  long r = syscall(SYS_wait4, c, &st, WUNTRACED, 0);
  N(wait4, "WUNTRACED sees the stop", "%s %s", r == c ? "pid" : RV(r), status_of(st));
  r = syscall(SYS_wait4, c, &st, WUNTRACED | WNOHANG, 0);
  N(wait4, "a stop is reported once", "%s", RV(r));
  kill(c, SIGCONT);
  st = 0;
  r = syscall(SYS_wait4, c, &st, WCONTINUED, 0);
  N(wait4, "WCONTINUED sees the continue", "%s %s", r == c ? "pid" : RV(r), status_of(st));
  kill(c, SIGTERM);
  memset(&ru, 0xff, sizeof ru);
  r = syscall(SYS_wait4, c, &st, 0, &ru);
  /* the whole struct is written (its maxrss may be 0 for a child that barely ran) */
  N(wait4, "a child killed by a signal, with rusage", "%s %s rusage %s", r == c ? "pid" : RV(r), status_of(st),
    ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000 && ru.ru_maxrss >= 0 ? "written" : "not written");
  c = child_exiting(0, 0);
  T(wait4, "a bad status address", c, BADPTR, 0, 0);
  T(wait4, "the child is gone after a failed copy", c, &st, WNOHANG, 0);
  c = child_exiting(3, 0);
  T(wait4, "a bad rusage address", c, NULL, 0, BADPTR);
  /* by process group */
  pid_t a = child_in_group(11, 50), b = child_in_group(12, 0);
  r = syscall(SYS_wait4, -a, &st, 0, 0);
  N(wait4, "-pgid waits for that group only", "%s %s", r == a ? "a" : r == b ? "b" : RV(r), status_of(st));
  T(wait4, "0 waits for the caller's group only", 0, &st, 0, 0);
  r = syscall(SYS_wait4, -1, &st, 0, 0);
  N(wait4, "-1 then takes any child", "%s %s", r == b ? "b" : RV(r), status_of(st));
  /* __WCLONE: only children that report no signal or not SIGCHLD */
  signal(SIGUSR2, SIG_IGN);
  pid_t cl = clone(clone_child, stacks[2] + sizeof stacks[2], SIGUSR2, (void *)0);
  T(wait4, "without __WCLONE a non-SIGCHLD child is not waited for", cl, &st, 0, 0);
  r = syscall(SYS_wait4, cl, &st, __WCLONE, 0);
  N(wait4, "__WCLONE", "%s %s", r == cl ? "pid" : RV(r), status_of(st));
  signal(SIGUSR2, SIG_DFL);

  siginfo_t si;
  T(waitid, "with no children", P_ALL, 0, &si, WEXITED, 0);
  c = child_pausing();
  T(waitid, "no state option", P_PID, c, &si, 0, 0);
  T(waitid, "an unknown idtype", 42, c, &si, WEXITED, 0);
  memset(&si, 0xff, sizeof si);
  r = syscall(SYS_waitid, P_PID, c, &si, WEXITED | WNOHANG, 0);
  N(waitid, "WNOHANG while the child runs", "%s si_pid %d", RV(r), si.si_pid);
  kill(c, SIGSTOP);
  memset(&si, 0, sizeof si);
  r = syscall(SYS_waitid, P_PID, c, &si, WSTOPPED, 0);
  N(waitid, "WSTOPPED", "%s code %d status %s pid %s", RV(r), si.si_code, sigabbrev_np(si.si_status), si.si_pid == c ? "yes" : "no");
  kill(c, SIGCONT);
  memset(&si, 0, sizeof si);
  r = syscall(SYS_waitid, P_PID, c, &si, WCONTINUED, 0);
  N(waitid, "WCONTINUED", "%s code %d status %s", RV(r), si.si_code, sigabbrev_np(si.si_status));
  kill(c, SIGKILL);
  memset(&si, 0, sizeof si);
  r = syscall(SYS_waitid, P_PID, c, &si, WEXITED | WNOWAIT, 0);
  N(waitid, "WNOWAIT leaves the child waitable", "%s code %d status %s", RV(r), si.si_code, sigabbrev_np(si.si_status));
  memset(&si, 0, sizeof si);
  r = syscall(SYS_waitid, P_ALL, 0, &si, WEXITED, 0);
  N(waitid, "P_ALL then reaps it", "%s code %d pid %s", RV(r), si.si_code, si.si_pid == c ? "yes" : "no");
  c = child_in_group(42, 0);
  memset(&si, 0, sizeof si);
  r = syscall(SYS_waitid, P_PGID, c, &si, WEXITED, 0);
  N(waitid, "P_PGID", "%s code %d status %d uid %d", RV(r), si.si_code, si.si_status, si.si_uid);
  c = child_exiting(1, 0);
  T(waitid, "a bad siginfo address", P_PID, c, BADPTR, WEXITED, 0);
  T(waitid, "P_PIDFD with a bad fd", P_PIDFD, 999, &si, WEXITED, 0);
  c = child_exiting(2, 0);
  T(waitid, "a null siginfo with rusage", P_PID, c, NULL, WEXITED, &ru);
}

/* ------------------------------------------- sessions and process groups */

static void sessions(void) {
  int p[2];
  if (pipe(p) < 0) return;
  pid_t c = fork_flushed();
  if (c == 0) {
    long pid = getpid();
    long r[6];
    r[0] = syscall(SYS_setsid) == pid;
    r[1] = syscall(SYS_getsid, 0) == pid;
    r[2] = syscall(SYS_getpgrp) == pid;
    errno = 0;
    r[3] = syscall(SYS_setsid) < 0 ? errno : 0;
    errno = 0;
    r[4] = syscall(SYS_setpgid, 0, 0) < 0 ? errno : 0;
    r[5] = syscall(SYS_getpgid, 0) == pid;
    if (write(p[1], r, sizeof r) < 0) _exit(1);
    _exit(0);
  }
  long r[6] = {0};
  if (read(p[0], r, sizeof r) < 0) return;
  reap(c);
  N(setsid, "in a child returns its pid", "%s", r[0] ? "yes" : "no");
  N(getsid, "0 after setsid is the caller's pid", "%s", r[1] ? "yes" : "no");
  N(getpgrp, "after setsid is the caller's pid", "%s", r[2] ? "yes" : "no");
  N(setsid, "by a session leader", "%s", r[3] ? strerrorname_np((int)r[3]) : "0");
  N(setpgid, "by a session leader", "%s", r[4] ? strerrorname_np((int)r[4]) : "0");
  N(getpgid, "0 after setsid", "%s", r[5] ? "the pid" : "other");

  c = fork_flushed();
  if (c == 0) {
    long pid = getpid();
    if (syscall(SYS_setpgid, 0, 0) < 0) _exit(1);
    if (syscall(SYS_getpgid, 0) != pid) _exit(2);
    if (syscall(SYS_setsid) >= 0 || errno != EPERM) _exit(3);
    _exit(0);
  }
  N(setpgid, "0, 0 makes a group; setsid then fails with EPERM", "%s", reap(c));

  long mysid = syscall(SYS_getsid, 0);
  c = child_pausing();
  N(getsid, "of the caller's child is the caller's", "%s", syscall(SYS_getsid, c) == mysid ? "yes" : "no");
  T(setpgid, "the child into a group of its own", c, 0);
  N(getpgid, "of that child", "%s", syscall(SYS_getpgid, c) == c ? "its pid" : "other");
  pid_t c2 = child_pausing();
  T(setpgid, "another child into that group", c2, c);
  N(getpgid, "of the second child", "%s", syscall(SYS_getpgid, c2) == c ? "the group" : "other");
  T(setpgid, "into a group that does not exist", c2, 999999);
  T(setpgid, "a negative pgid", c2, -1);
  T(setpgid, "a pid that is no child", 999999, 0);
  T(getpgid, "of a pid that does not exist", 999999);
  T(getsid, "of a pid that does not exist", 999999);
  T(getpgid, "a negative pid", -5);
  kill(c, SIGKILL);
  kill(c2, SIGKILL);
  reap(c);
  reap(c2);
  /* a child in another session: setpgid into its group is EPERM; it cannot be moved */
  if (pipe(p) < 0) return;
  c = fork_flushed();
  if (c == 0) {
    setsid();
    char x = 0;
    if (write(p[1], &x, 1) < 0) _exit(1);
    for (;;) pause();
  }
  char x;
  if (read(p[0], &x, 1) < 0) return;
  c2 = child_pausing();
  T(setpgid, "into a group of another session", c2, c);
  T(setpgid, "a child that is a session leader", c, c);
  N(getsid, "of a child in another session", "%s", syscall(SYS_getsid, c) == c ? "the child's pid" : "other");
  kill(c, SIGKILL);
  kill(c2, SIGKILL);
  reap(c);
  reap(c2);
  /* a child that has exec'd can no longer be moved */
  c = fork_flushed();
  if (c == 0) {
    char *av[] = {"sleep", "5", NULL};
    execv(self_path, av); /* the program itself: main() sleeps on this argv */
    _exit(127);
  }
  msleep(100);
  T(setpgid, "a child after execve", c, 0);
  kill(c, SIGKILL);
  reap(c);
  close(p[0]);
  close(p[1]);
}

/* -------------------------------------------------------------- prctl */

static void prctls(void) {
  char name[32] = {0};
  T(prctl, "PR_SET_NAME", PR_SET_NAME, "calls-proc-name", 0, 0, 0);
  T(prctl, "PR_GET_NAME", PR_GET_NAME, name, 0, 0, 0);
  N(prctl, "PR_GET_NAME gives the name, 15 bytes at most", "%s", name);
  T(prctl, "PR_GET_NAME to a bad address", PR_GET_NAME, BADPTR, 0, 0, 0);
  int sig = -1;
  T(prctl, "PR_GET_PDEATHSIG", PR_GET_PDEATHSIG, &sig, 0, 0, 0);
  N(prctl, "PR_GET_PDEATHSIG value", "%d", sig);
  T(prctl, "PR_SET_PDEATHSIG to an invalid signal", PR_SET_PDEATHSIG, 99, 0, 0, 0);
  /* the parent-death signal reaches a grandchild whose parent exits */
  int p[2];
  if (pipe(p) < 0) return;
  T(prctl, "PR_SET_CHILD_SUBREAPER", PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  int sub = -1;
  T(prctl, "PR_GET_CHILD_SUBREAPER", PR_GET_CHILD_SUBREAPER, &sub, 0, 0, 0);
  N(prctl, "PR_GET_CHILD_SUBREAPER value", "%d", sub);
  pid_t c = fork_flushed();
  if (c == 0) {
    pid_t g = fork();
    if (g == 0) {
      prctl(PR_SET_PDEATHSIG, SIGUSR1);
      if (write(p[1], "r", 1) < 0) _exit(1);
      for (;;) pause();
    }
    char x;
    if (read(p[0], &x, 1) < 0) _exit(1);
    if (write(p[1], &g, sizeof g) < 0) _exit(1);
    _exit(0);
  }
  N(prctl, "the middle child exits", "%s", reap(c));
  pid_t g = 0;
  if (read(p[0], &g, sizeof g) < 0) return;
  N(prctl, "PR_SET_PDEATHSIG: the orphan gets its signal; PR_SET_CHILD_SUBREAPER: the subreaper reaps it", "%s", reap(g));
  T(prctl, "PR_SET_CHILD_SUBREAPER off", PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
  close(p[0]);
  close(p[1]);
  T(prctl, "PR_GET_DUMPABLE", PR_GET_DUMPABLE, 0, 0, 0, 0);
  T(prctl, "PR_SET_DUMPABLE 0", PR_SET_DUMPABLE, 0, 0, 0, 0);
  T(prctl, "PR_GET_DUMPABLE after", PR_GET_DUMPABLE, 0, 0, 0, 0);
  T(prctl, "PR_SET_DUMPABLE 2", PR_SET_DUMPABLE, 2, 0, 0, 0);
  T(prctl, "PR_SET_DUMPABLE 1", PR_SET_DUMPABLE, 1, 0, 0, 0);
  T(prctl, "PR_SET_NO_NEW_PRIVS with a bad argument", PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0);
  T(prctl, "PR_GET_NO_NEW_PRIVS", PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  T(prctl, "PR_GET_SECCOMP", PR_GET_SECCOMP, 0, 0, 0, 0);
  T(prctl, "PR_SET_NO_NEW_PRIVS", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  T(prctl, "PR_GET_NO_NEW_PRIVS after setting it", PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  T(prctl, "PR_SET_TIMERSLACK", PR_SET_TIMERSLACK, 123456, 0, 0, 0);
  T(prctl, "PR_GET_TIMERSLACK", PR_GET_TIMERSLACK, 0, 0, 0, 0);
  T(prctl, "PR_GET_KEEPCAPS", PR_GET_KEEPCAPS, 0, 0, 0, 0);
  T(prctl, "PR_SET_KEEPCAPS 1", PR_SET_KEEPCAPS, 1, 0, 0, 0);
  T(prctl, "PR_GET_KEEPCAPS after", PR_GET_KEEPCAPS, 0, 0, 0, 0);
  T(prctl, "PR_SET_KEEPCAPS 2", PR_SET_KEEPCAPS, 2, 0, 0, 0);
  T(prctl, "PR_SET_KEEPCAPS 0", PR_SET_KEEPCAPS, 0, 0, 0, 0);
  T(prctl, "PR_CAPBSET_READ CAP_CHOWN", PR_CAPBSET_READ, 0, 0, 0, 0);
  T(prctl, "PR_CAPBSET_READ an unknown capability", PR_CAPBSET_READ, 200, 0, 0, 0);
  T(prctl, "PR_CAP_AMBIENT PR_CAP_AMBIENT_IS_SET", PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 0, 0, 0);
  T(prctl, "PR_CAP_AMBIENT with a bad operation", PR_CAP_AMBIENT, 9, 0, 0, 0);
  c = fork_flushed();
  if (c == 0) {
    T(prctl, "PR_CAPBSET_DROP CAP_SYS_BOOT in a child", PR_CAPBSET_DROP, 22, 0, 0, 0);
    T(prctl, "PR_CAPBSET_READ CAP_SYS_BOOT after the drop", PR_CAPBSET_READ, 22, 0, 0, 0);
    T(prctl, "PR_CAP_AMBIENT_RAISE of a capability not inheritable", PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 0, 0, 0);
    T(prctl, "PR_CAP_AMBIENT_CLEAR_ALL", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    T(prctl, "PR_SET_SECUREBITS SECBIT_KEEP_CAPS", PR_SET_SECUREBITS, 1 << 4, 0, 0, 0);
    T(prctl, "PR_GET_SECUREBITS", PR_GET_SECUREBITS, 0, 0, 0, 0);
    if (setresuid(65534, 65534, 65534) < 0) _exit(1);
    T(prctl, "PR_CAPBSET_DROP unprivileged", PR_CAPBSET_DROP, 21, 0, 0, 0);
    T(prctl, "PR_SET_SECUREBITS unprivileged", PR_SET_SECUREBITS, 0, 0, 0, 0);
    _exit(0);
  }
  reap(c);
  T(prctl, "PR_GET_THP_DISABLE", PR_GET_THP_DISABLE, 0, 0, 0, 0);
  T(prctl, "PR_SET_THP_DISABLE", PR_SET_THP_DISABLE, 1, 0, 0, 0);
  T(prctl, "PR_GET_THP_DISABLE after", PR_GET_THP_DISABLE, 0, 0, 0, 0);
  T(prctl, "PR_SET_THP_DISABLE off", PR_SET_THP_DISABLE, 0, 0, 0, 0);
  int *tidaddr = NULL;
  T(prctl, "PR_GET_TID_ADDRESS", PR_GET_TID_ADDRESS, &tidaddr, 0, 0, 0);
  N(prctl, "PR_GET_TID_ADDRESS is set (by the C library)", "%s", tidaddr ? "yes" : "no");
  int tsc = -1;
  T(prctl, "PR_GET_TSC", PR_GET_TSC, &tsc, 0, 0, 0);
  N(prctl, "PR_GET_TSC value", "%d", tsc);
  void *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  T(prctl, "PR_SET_VMA_ANON_NAME", PR_SET_VMA, PR_SET_VMA_ANON_NAME, m, 8192, "calls");
  T(prctl, "PR_SET_VMA_ANON_NAME with a bad character", PR_SET_VMA, PR_SET_VMA_ANON_NAME, m, 8192, "a$b\n");
  munmap(m, 8192);
  T(prctl, "PR_MCE_KILL_GET", PR_MCE_KILL_GET, 0, 0, 0, 0);
  T(prctl, "an unknown option", 0x7fff1234, 0, 0, 0, 0);
  T(prctl, "PR_GET_SPECULATION_CTRL of an unknown kind", PR_GET_SPECULATION_CTRL, 99, 0, 0, 0);
}

/* ---------------------------------------------------------- arch_prctl */

static void arch_prctls(void) {
  unsigned long fs = 0, gs = 1;
  T(arch_prctl, "ARCH_GET_FS", ARCH_GET_FS, &fs);
  N(arch_prctl, "ARCH_GET_FS is the thread pointer", "%s", fs == (unsigned long)__builtin_thread_pointer() ? "yes" : "no");
  T(arch_prctl, "ARCH_GET_GS", ARCH_GET_GS, &gs);
  N(arch_prctl, "ARCH_GET_GS value", "%lu", gs);
  T(arch_prctl, "ARCH_SET_GS", ARCH_SET_GS, 0x12345000UL);
  gs = 0;
  syscall(SYS_arch_prctl, ARCH_GET_GS, &gs);
  N(arch_prctl, "ARCH_GET_GS after ARCH_SET_GS", "%#lx", gs);
  T(arch_prctl, "ARCH_SET_GS a non-canonical address", ARCH_SET_GS, 0x8000000000000000UL);
  T(arch_prctl, "ARCH_SET_GS 0", ARCH_SET_GS, 0UL);
  T(arch_prctl, "ARCH_GET_FS to a bad address", ARCH_GET_FS, BADPTR);
  T(arch_prctl, "ARCH_GET_CPUID", ARCH_GET_CPUID, 0);
  T(arch_prctl, "an unknown code", 0x1999, 0);
  /* ARCH_SET_FS in a child, which then only makes raw calls */
  pid_t c = fork_flushed();
  if (c == 0) {
    unsigned long got = 0;
    long r = syscall(SYS_arch_prctl, ARCH_SET_FS, 0x23456000UL);
    syscall(SYS_arch_prctl, ARCH_GET_FS, &got);
    syscall(SYS_exit_group, r == 0 && got == 0x23456000UL ? 0 : 1);
  }
  N(arch_prctl, "ARCH_SET_FS then ARCH_GET_FS in a child", "%s", reap(c));
}

/* --------------------------------------------- set_tid_address, robust lists */

static volatile int tidword;

static int set_tid_child(void *arg) {
  (void)arg;
  tidword = 77;
  long r = syscall(SYS_set_tid_address, &tidword);
  return r == syscall(SYS_gettid) ? 0 : 1;
}

static pthread_mutex_t robust;

static void *robust_holder(void *a) {
  (void)a;
  pthread_mutex_lock(&robust);
  return NULL; /* exits holding it */
}

static void tids(void) {
  int *lib = NULL, *now = NULL;
  prctl(PR_GET_TID_ADDRESS, &lib);
  N(set_tid_address, "returns the caller's tid", "%s", syscall(SYS_set_tid_address, &tidword) == syscall(SYS_gettid) ? "yes" : "no");
  prctl(PR_GET_TID_ADDRESS, &now);
  N(set_tid_address, "PR_GET_TID_ADDRESS shows it", "%s", now == (int *)&tidword ? "yes" : "no");
  syscall(SYS_set_tid_address, lib); /* the C library's again */
  pid_t c = clone(set_tid_child, stacks[3] + sizeof stacks[3], CLONE_VM | SIGCHLD, NULL);
  N(set_tid_address, "in a CLONE_VM child", "%s", reap(c));
  N(set_tid_address, "the word is cleared when the child exits", "%d", tidword);

  struct robust_list_head *head = NULL;
  size_t len = 0;
  T(get_robust_list, "of the caller", 0, &head, &len);
  N(get_robust_list, "the C library registered a head", "%s len %zu", head ? "yes" : "no", len);
  T(set_robust_list, "a wrong length", head, len + 1);
  T(set_robust_list, "the same head again", head, len);
  T(get_robust_list, "of a pid that does not exist", 999999, &head, &len);
  T(get_robust_list, "to a bad address", 0, BADPTR, &len);
  c = child_pausing();
  T(get_robust_list, "of a child", c, &head, &len);
  kill(c, SIGKILL);
  reap(c);
  /* the kernel walks the list when a holder dies: the next locker gets EOWNERDEAD */
  pthread_mutexattr_t at;
  pthread_mutexattr_init(&at);
  pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&robust, &at);
  pthread_t t;
  pthread_create(&t, NULL, robust_holder, NULL);
  pthread_join(t, NULL);
  int r = pthread_mutex_lock(&robust);
  N(set_robust_list, "a holder thread dies: the next lock gets", "%s", r ? strerrorname_np(r) : "0");
  pthread_mutex_consistent(&robust);
  pthread_mutex_unlock(&robust);
}

/* ----------------------------------------------------- kill, tkill, tgkill */

static volatile sig_atomic_t got_sig, got_tid;

static void on_usr1(int s) {
  got_sig = s;
  got_tid = (int)syscall(SYS_gettid);
}

static void *waiter_thread(void *a) {
  *(volatile long *)a = syscall(SYS_gettid);
  while (!got_sig) msleep(5);
  return NULL;
}

static void kills(void) {
  pid_t c = child_pausing();
  T(kill, "signal 0 to a child", c, 0);
  T(kill, "an invalid signal", c, 65);
  T(kill, "a negative signal", c, -1);
  T(kill, "a pid that does not exist", 999999, 0);
  T(kill, "SIGTERM to a child", c, SIGTERM);
  N(kill, "the child dies of it", "%s", reap(c));
  c = child_pausing();
  setpgid(c, c);
  pid_t c2 = child_pausing();
  setpgid(c2, c);
  T(kill, "a process group", -c, SIGUSR2);
  N(kill, "both members get it", "%s, %s", reap(c), reap(c2));
  T(kill, "a group that does not exist", -999999, SIGUSR2);
  /* kill(0): the caller's own group, here a child's group of two */
  c = fork_flushed();
  if (c == 0) {
    int ready[2];
    char x;
    setpgid(0, 0);
    signal(SIGUSR1, SIG_IGN);
    if (pipe(ready) < 0) _exit(1);
    pid_t g = fork();
    if (g == 0) {
      signal(SIGUSR1, SIG_DFL);
      if (write(ready[1], "r", 1) < 0) _exit(1);
      for (;;) pause();
    }
    if (read(ready[0], &x, 1) < 0) _exit(1);
    syscall(SYS_kill, 0, SIGUSR1);
    int st;
    waitpid(g, &st, 0);
    _exit(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1 ? 0 : 1);
  }
  N(kill, "0 signals the caller's group", "%s", reap(c));
  /* an unprivileged process cannot signal another user's */
  long parent = getpid();
  c = fork_flushed();
  if (c == 0) {
    if (setresuid(65534, 65534, 65534) < 0) _exit(1);
    T(kill, "another user's process, unprivileged", parent, 0);
    T(kill, "itself, unprivileged", getpid(), 0);
    _exit(0);
  }
  reap(c);
  /* tkill and tgkill reach the thread they name */
  signal(SIGUSR1, on_usr1);
  volatile long tid = 0;
  pthread_t t;
  pthread_create(&t, NULL, waiter_thread, (void *)&tid);
  while (!tid) msleep(1);
  long pid = getpid();
  T(tgkill, "signal 0 to a thread", pid, tid, 0);
  T(tgkill, "a thread of another process", 1, tid, 0);
  T(tgkill, "tid 0", pid, 0, 0);
  T(tgkill, "tgid -1", -1, tid, 0);
  T(tgkill, "an invalid signal", pid, tid, 65);
  T(tgkill, "SIGUSR1 to the thread", pid, tid, SIGUSR1);
  pthread_join(t, NULL);
  N(tgkill, "the handler ran in that thread", "%s %s", sigabbrev_np(got_sig), got_tid == tid ? "yes" : "no");
  got_sig = 0;
  tid = 0;
  pthread_create(&t, NULL, waiter_thread, (void *)&tid);
  while (!tid) msleep(1);
  T(tkill, "signal 0 to a thread", tid, 0);
  T(tkill, "tid 0", 0, SIGUSR1);
  T(tkill, "a negative tid", -3, SIGUSR1);
  T(tkill, "an invalid signal", tid, 65);
  T(tkill, "a tid that does not exist", 999999, SIGUSR1);
  T(tkill, "SIGUSR1 to the thread", tid, SIGUSR1);
  pthread_join(t, NULL);
  N(tkill, "the handler ran in that thread", "%s %s", sigabbrev_np(got_sig), got_tid == tid ? "yes" : "no");
  signal(SIGUSR1, SIG_DFL);
}

/* ----------------------------------------------------------- pidfds */

static void pidfds(void) {
  pid_t c = child_pausing();
  long fd = TOK(pidfd_open, "of a child", c, 0);
  T(pidfd_open, "with unknown flags", c, 1);
  T(pidfd_open, "of a pid that does not exist", 999999, 0);
  T(pidfd_open, "of pid 0", 0, 0);
  long nb = TOK(pidfd_open, "PIDFD_NONBLOCK", c, PIDFD_NONBLOCK);
  N(pidfd_open, "PIDFD_NONBLOCK sets O_NONBLOCK; the fd is close-on-exec", "%s %s", fcntl(nb, F_GETFL) & O_NONBLOCK ? "nonblock" : "block",
    fcntl(fd, F_GETFD) & FD_CLOEXEC ? "cloexec" : "inherit");
  siginfo_t si;
  memset(&si, 0, sizeof si);
  N(pidfd_open, "waitid(P_PIDFD, WNOHANG) on a non-blocking pidfd of a running child", "%s", RES(waitid(P_PIDFD, nb, &si, WEXITED | WNOHANG)));
  struct pollfd pf = {fd, POLLIN, 0};
  N(pidfd_open, "poll while the child runs", "%d", poll(&pf, 1, 0));
  T(pidfd_send_signal, "signal 0", fd, 0, NULL, 0);
  T(pidfd_send_signal, "unknown flags", fd, SIGTERM, NULL, 1 << 20);
  T(pidfd_send_signal, "an invalid signal", fd, 65, NULL, 0);
  T(pidfd_send_signal, "not a pidfd", 1, SIGTERM, NULL, 0);
  T(pidfd_send_signal, "a bad siginfo address", fd, SIGTERM, BADPTR, 0);
  T(pidfd_send_signal, "SIGTERM", fd, SIGTERM, NULL, 0);
  int polled = poll(&pf, 1, 5000);
  N(pidfd_open, "poll after the child died", "%d %s", polled, pf.revents & POLLIN ? "POLLIN" : "-");
  N(pidfd_send_signal, "the child died of it", "%s", reap(c));
  T(pidfd_send_signal, "to a reaped child", fd, SIGTERM, NULL, 0);
  close(fd);
  close(nb);
  /* pidfd_getfd copies an fd from a child */
  int p[2];
  if (pipe(p) < 0) return;
  c = fork_flushed();
  if (c == 0) {
    int m = memfd_create("calls-getfd", 0);
    if (write(m, "payload", 7) < 0 || dup2(m, 40) < 0 || write(p[1], "r", 1) < 0) _exit(1);
    for (;;) pause();
  }
  char x;
  if (read(p[0], &x, 1) < 0) return;
  fd = syscall(SYS_pidfd_open, c, 0);
  long got = TOK(pidfd_getfd, "fd 40 of a child", fd, 40, 0);
  char buf[16] = {0};
  const char *pr = RES(pread(got, buf, 7, 0));
  N(pidfd_getfd, "the copy shares the file", "%s %s", pr, buf);
  N(pidfd_getfd, "the copy is close-on-exec", "%s", fcntl(got, F_GETFD) & FD_CLOEXEC ? "yes" : "no");
  T(pidfd_getfd, "an fd the child does not have", fd, 41, 0);
  T(pidfd_getfd, "unknown flags", fd, 40, 1);
  T(pidfd_getfd, "not a pidfd", 0, 40, 0);
  kill(c, SIGKILL);
  reap(c);
  T(pidfd_getfd, "of a dead child", fd, 40, 0);
  close(got);
  close(fd);
  close(p[0]);
  close(p[1]);
}

/* ----------------------------------------------- personality, kcmp, vm io */

static char vm_buf[64] = "the child's data";

static void misc(void) {
  long cur = T(personality, "query", 0xffffffffUL);
  T(personality, "ADDR_NO_RANDOMIZE", cur | ADDR_NO_RANDOMIZE);
  T(personality, "query after", 0xffffffffUL);
  T(personality, "back", cur);
  T(personality, "PER_LINUX32", PER_LINUX32);
  T(personality, "query after PER_LINUX32", 0xffffffffUL);
  T(personality, "back again", cur);

  int a = open("/", O_RDONLY), b = dup(a), other = open("/", O_RDONLY);
  long me = getpid();
  T(kcmp, "KCMP_FILE of an fd and its dup", me, me, KCMP_FILE, a, b);
  N(kcmp, "KCMP_FILE of two opens of the same file", "%s", syscall(SYS_kcmp, me, me, KCMP_FILE, a, other) > 0 ? "differ" : "same or error");
  T(kcmp, "KCMP_FILE of a closed fd", me, me, KCMP_FILE, a, 999);
  T(kcmp, "KCMP_VM of the caller", me, me, KCMP_VM, 0, 0);
  T(kcmp, "KCMP_FILES of the caller", me, me, KCMP_FILES, 0, 0);
  T(kcmp, "an unknown type", me, me, 99, 0, 0);
  T(kcmp, "a pid that does not exist", me, 999999, KCMP_VM, 0, 0);
  pid_t c = child_pausing();
  N(kcmp, "KCMP_VM of the caller and a forked child", "%s", syscall(SYS_kcmp, me, c, KCMP_VM, 0, 0) > 0 ? "differ" : "same or error");
  N(kcmp, "KCMP_FILE of an inherited fd", "%s", RES(syscall(SYS_kcmp, me, c, KCMP_FILE, a, a)));

  char buf[64] = {0};
  struct iovec local = {buf, sizeof buf}, remote = {vm_buf, 17};
  T(process_vm_readv, "a child's memory", c, &local, 1, &remote, 1, 0);
  N(process_vm_readv, "reads", "%s", buf);
  T(process_vm_readv, "unknown flags", c, &local, 1, &remote, 1, 1);
  struct iovec bad = {BADPTR, 16};
  T(process_vm_readv, "a bad remote address", c, &local, 1, &bad, 1, 0);
  T(process_vm_readv, "a pid that does not exist", 999999, &local, 1, &remote, 1, 0);
  struct iovec two[2] = {{vm_buf, 4}, {BADPTR, 4}};
  T(process_vm_readv, "a partial read stops at the bad element", c, &local, 1, two, 2, 0);
  char msg[] = "written";
  struct iovec src = {msg, 8}, dst = {vm_buf, 8};
  T(process_vm_writev, "into a child", c, &src, 1, &dst, 1, 0);
  memset(buf, 0, sizeof buf);
  syscall(SYS_process_vm_readv, c, &local, 1, &remote, 1, 0);
  N(process_vm_writev, "the child's memory after", "%s", buf);
  T(process_vm_writev, "a bad remote address", c, &src, 1, &bad, 1, 0);
  T(process_vm_writev, "unknown flags", c, &src, 1, &dst, 1, 1);
  kill(c, SIGKILL);
  reap(c);
  /* an unprivileged process may not read another user's memory */
  pid_t priv = child_pausing();
  pid_t unpriv = fork_flushed();
  if (unpriv == 0) {
    if (setresuid(65534, 65534, 65534) < 0) _exit(1);
    T(process_vm_readv, "another user's process, unprivileged", priv, &local, 1, &remote, 1, 0);
    T(kcmp, "another user's process, unprivileged", getpid(), priv, KCMP_VM, 0, 0);
    _exit(0);
  }
  reap(unpriv);
  kill(priv, SIGKILL);
  reap(priv);
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  close(a);
  close(b);
  close(other);
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[0], "sleep")) {
    msleep(atoi(argv[1]) * 1000L);
    return 0;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: calls-proc DIR\n");
    return 2;
  }
  self_path = argv[0];
  ids();
  forks();
  clones();
  waits();
  sessions();
  prctls();
  arch_prctls();
  tids();
  kills();
  pidfds();
  misc();
  return 0;
}
