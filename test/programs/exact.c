/*
 * Linux-exact behaviour checks (issue 9): each subcommand prints one line per
 * case with what the calls returned (values and errno names), so the same
 * program run natively and under tsvisor can be compared line by line.
 * Nothing here prints pids, addresses or times that differ between runs.
 *
 *   exact DIR SUBCOMMAND     (DIR: a scratch directory the program may use)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exact.h"

extern char **environ;

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

/* ------------------------------------------------ CLONE_CLEAR_SIGHAND */

static void on_signal(int sig) { (void)sig; }

/* the child's view of its handlers: 'd' SIG_DFL, 'i' SIG_IGN, 'h' a handler; then the flags */
static int handlers_seen(char *out) {
  const int sigs[] = {SIGUSR1, SIGUSR2, SIGTERM, SIGCHLD, SIGRTMIN + 3};
  int n = 0;
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
    struct sigaction sa;
    if (sigaction(sigs[i], NULL, &sa) < 0) return -1;
    n += sprintf(out + n, "%c%s ", sa.sa_handler == SIG_DFL ? 'd' : sa.sa_handler == SIG_IGN ? 'i' : 'h',
                 (sa.sa_flags & ~0x04000000 /* SA_RESTORER */) ? "+flags" : "");
  }
  return n;
}

static int vm_child(void *arg) {
  char *out = arg;
  handlers_seen(out);
  return 0;
}

static void cmd_clearsighand(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGUSR1, &sa, 0);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, 0);
  sigaction(SIGRTMIN + 3, &sa, 0);
  sa.sa_handler = SIG_IGN;
  sa.sa_flags = 0;
  sigaction(SIGUSR2, &sa, 0);
  char seen[128];
  handlers_seen(seen);
  printf("parent before: %s\n", seen);
  /* fork style: the child reports through its exit status and a pipe */
  int p[2];
  if (pipe(p) < 0) return;
  struct clone_args ca;
  memset(&ca, 0, sizeof ca);
  ca.flags = CLONE_CLEAR_SIGHAND;
  ca.exit_signal = SIGCHLD;
  fflush(stdout);
  long pid = syscall(SYS_clone3, &ca, sizeof ca);
  if (pid == 0) {
    int n = handlers_seen(seen);
    if (write(p[1], seen, n > 0 ? n : 0) < 0) _exit(2);
    _exit(0);
  }
  close(p[1]);
  int n = pid > 0 ? (int)read(p[0], seen, sizeof seen - 1) : 0;
  seen[n > 0 ? n : 0] = 0;
  close(p[0]);
  int st = 0;
  if (pid > 0) waitpid(pid, &st, 0);
  printf("clone3 CLONE_CLEAR_SIGHAND: %s, child %s, exit %d\n", pid > 0 ? "ok" : strerrorname_np(errno), seen, WEXITSTATUS(st));
  /* CLONE_VM|CLONE_VFORK on a stack of its own, as posix_spawn does */
  static char stack[65536] __attribute__((aligned(16)));
  static char out[128];
  memset(&ca, 0, sizeof ca);
  ca.flags = CLONE_CLEAR_SIGHAND | CLONE_VM | CLONE_VFORK;
  ca.exit_signal = SIGCHLD;
  ca.stack = (uint64_t)(uintptr_t)stack;
  ca.stack_size = sizeof stack;
  fflush(stdout);
  /* the child runs on the new stack: call nothing but the syscall before switching */
  long ret;
  {
    register long rdi asm("rdi") = (long)&ca;
    register long rsi asm("rsi") = sizeof ca;
    asm volatile("syscall" : "=a"(ret) : "a"((long)SYS_clone3), "r"(rdi), "r"(rsi) : "rcx", "r11", "memory");
    if (ret == 0) {
      vm_child(out);
      syscall(SYS_exit, 0);
    }
  }
  if (ret > 0) waitpid(ret, &st, 0);
  printf("clone3 CLONE_CLEAR_SIGHAND|CLONE_VM|CLONE_VFORK: %s, child %s\n", ret > 0 ? "ok" : strerrorname_np(-ret), out);
  handlers_seen(seen);
  printf("parent after: %s\n", seen);
  memset(&ca, 0, sizeof ca);
  ca.flags = CLONE_CLEAR_SIGHAND | CLONE_SIGHAND | CLONE_VM;
  ca.exit_signal = SIGCHLD;
  R("clone3 CLONE_CLEAR_SIGHAND|CLONE_SIGHAND", syscall(SYS_clone3, &ca, sizeof ca));
}

/* ---------------------------------------------------------- bad ELFs */

/* x86_64: exit(7) */
static const unsigned char EXIT7[] = {0xb8, 0x3c, 0, 0, 0, 0xbf, 7, 0, 0, 0, 0x0f, 0x05};

/* Writes D/name: an ELF of one PT_LOAD segment holding EXIT7, as `type` at
 * `vaddr`, with the segment's file offset moved by `skew` and the machine `machine`. */
static const char *write_elf(const char *name, int type, uint64_t vaddr, uint64_t skew, int machine) {
  unsigned char img[256];
  memset(img, 0, sizeof img);
  Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
  Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof *eh);
  memcpy(eh->e_ident, ELFMAG, SELFMAG);
  eh->e_ident[EI_CLASS] = ELFCLASS64;
  eh->e_ident[EI_DATA] = ELFDATA2LSB;
  eh->e_ident[EI_VERSION] = EV_CURRENT;
  eh->e_type = type;
  eh->e_machine = machine;
  eh->e_version = EV_CURRENT;
  eh->e_phoff = sizeof *eh;
  eh->e_ehsize = sizeof *eh;
  eh->e_phentsize = sizeof *ph;
  eh->e_phnum = 1;
  size_t code = sizeof *eh + sizeof *ph;
  memcpy(img + code, EXIT7, sizeof EXIT7);
  ph->p_type = PT_LOAD;
  ph->p_flags = PF_R | PF_X;
  ph->p_offset = skew;
  ph->p_vaddr = vaddr;
  ph->p_filesz = ph->p_memsz = code + sizeof EXIT7;
  ph->p_align = 4096;
  eh->e_entry = vaddr + code;
  const char *path = at(name);
  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0755);
  if (fd < 0 || write(fd, img, code + sizeof EXIT7) < 0) perror(path);
  close(fd);
  return path;
}

/* Runs `path` in a child: how the child ended, and errno if execve returned. */
static void run_elf(const char *what, const char *path) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    char *av[] = {(char *)path, NULL};
    execv(path, av);
    _exit(100 + errno);
  }
  int st = 0;
  waitpid(c, &st, 0);
  if (WIFSIGNALED(st)) printf("%s: killed by %s\n", what, sigabbrev_np(WTERMSIG(st)));
  else if (WEXITSTATUS(st) >= 100) printf("%s: execve %s\n", what, strerrorname_np(WEXITSTATUS(st) - 100));
  else printf("%s: exit %d\n", what, WEXITSTATUS(st));
}

/* entries of /proc/self/fd */
static long fd_count(void) {
  long n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

static void cmd_badelf(void) {
  run_elf("a valid ELF", write_elf("ok", ET_EXEC, 0x400000, 0, EM_X86_64));
  /* Refused before the point of no return: execve returns the error. */
  run_elf("another machine's ELF", write_elf("arm", ET_EXEC, 0x400000, 0, EM_AARCH64));
  /* Refused past it (the old image is gone): the kernel ends the process with SIGSEGV. */
  run_elf("a segment offset not aligned with its address", write_elf("unaligned", ET_EXEC, 0x400000, 1, EM_X86_64));
  run_elf("a PIE whose end overflows", write_elf("overflow", ET_DYN, 0xfffffffffffff000ULL - 0x100, 0, EM_X86_64));
  run_elf("a segment far past the end of the file", write_elf("pastend", ET_EXEC, 0x400000, 1 << 20, EM_X86_64));
  /* A refused exec leaves the caller's fds as they were. */
  long before = fd_count();
  char *av[] = {"arm", NULL};
  R("execve of another machine's ELF in the caller", execv(at("arm"), av));
  printf("fds after it: %s\n", fd_count() == before ? "as before" : "changed");
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

/* ------------------------------------------------------------ priority */

/* field 19 of /proc/self/stat (or of /proc/self/task/<tid>/stat), nice */
static long stat_nice(pid_t tid) {
  char path[64], buf[1024] = {0};
  if (tid) snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  else snprintf(path, sizeof path, "/proc/self/stat");
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -100;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  char *p = n > 0 ? strrchr(buf, ')') : NULL;
  if (!p) return -100;
  p += 2;
  for (int field = 3; field < 19 && p; field++) p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
  return p ? strtol(p, NULL, 10) : -100;
}

static void print_nice(const char *what) {
  errno = 0;
  int n = getpriority(PRIO_PROCESS, 0);
  printf("%s: getpriority %d%s, /proc/self/stat %ld\n", what, n, errno ? " (error)" : "", stat_nice(0));
  fflush(stdout);
}

static void *thread_nice(void *arg) {
  pid_t tid = (pid_t)syscall(SYS_gettid);
  printf("thread: inherits %d\n", getpriority(PRIO_PROCESS, tid));
  R("thread: setpriority 2 of itself", setpriority(PRIO_PROCESS, tid, 2));
  printf("thread: now %d, in its task stat %ld\n", getpriority(PRIO_PROCESS, tid), stat_nice(tid));
  return arg;
}

static void cmd_priority(const char *self) {
  int base = getpriority(PRIO_PROCESS, 0);
  printf("starts at the caller's value: %s\n", base == getpriority(PRIO_PROCESS, getpid()) ? "yes" : "no");
  R("setpriority -5 as root (a raise)", setpriority(PRIO_PROCESS, 0, -5));
  print_nice("after -5");
  R("setpriority -40 (clamped to -20)", setpriority(PRIO_PROCESS, 0, -40));
  print_nice("after -40");
  R("raw getpriority (20 - nice)", syscall(SYS_getpriority, PRIO_PROCESS, 0));
  /* a group of its own, so that nothing outside the run is touched */
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    setpgid(0, 0);
    R("setpriority -7 of its own group", setpriority(PRIO_PGRP, 0, -7));
    R("raw getpriority of its own group", syscall(SYS_getpriority, PRIO_PGRP, 0));
    R("raw getpriority of its group by id", syscall(SYS_getpriority, PRIO_PGRP, getpid()));
    _exit(0);
  }
  waitpid(c, 0, 0);
  R("setpriority -3", setpriority(PRIO_PROCESS, 0, -3));
  R("getpriority of a group that does not exist", getpriority(PRIO_PGRP, 999999));
  R("setpriority of a user with no process", setpriority(PRIO_USER, 54321, 0));
  R("getpriority of an unknown which", getpriority(3, 0));
  R("setpriority of a pid that does not exist", setpriority(PRIO_PROCESS, 999999, 0));
  print_nice("before the thread");
  pthread_t th;
  pthread_create(&th, 0, thread_nice, 0);
  pthread_join(th, 0);
  print_nice("the thread's change stays its own");
  fflush(stdout);
  c = fork();
  if (c == 0) {
    print_nice("fork: the child inherits");
    R("fork: setpriority 4 in the child", setpriority(PRIO_PROCESS, 0, 4));
    _exit(0);
  }
  waitpid(c, 0, 0);
  print_nice("the child's change stays its own");
  fflush(stdout);
  c = fork();
  if (c == 0) {
    char *av[] = {"exact", (char *)D, "nice", NULL};
    execv(self, av);
    _exit(127);
  }
  waitpid(c, 0, 0);
  /* I/O priorities: the real-time class needs CAP_SYS_NICE or CAP_SYS_ADMIN. */
#define IOPRIO(class, level) ((class) << 13 | (level))
  fflush(stdout);
  c = fork();
  if (c == 0) {
    setpgid(0, 0);
    R("ioprio_get of itself", syscall(SYS_ioprio_get, 1, 0));
    R("ioprio_set real-time level 4 as root", syscall(SYS_ioprio_set, 1, 0, IOPRIO(1, 4)));
    R("ioprio_get after it", syscall(SYS_ioprio_get, 1, 0));
    R("ioprio_get of itself by pid", syscall(SYS_ioprio_get, 1, getpid()));
    R("ioprio_get of its group", syscall(SYS_ioprio_get, 2, 0));
    fflush(stdout);
    pid_t g = fork();
    if (g == 0) {
      R("ioprio_get in a child", syscall(SYS_ioprio_get, 1, 0));
      if (setresuid(54321, 54321, 54321) < 0) _exit(1);
      R("ioprio_set real-time, unprivileged", syscall(SYS_ioprio_set, 1, 0, IOPRIO(1, 2)));
      R("ioprio_set best effort, unprivileged", syscall(SYS_ioprio_set, 1, 0, IOPRIO(2, 5)));
      R("ioprio_get after it", syscall(SYS_ioprio_get, 1, 0));
      _exit(0);
    }
    waitpid(g, 0, 0);
    R("ioprio_set real-time level 1 of its group", syscall(SYS_ioprio_set, 2, 0, IOPRIO(1, 1)));
    R("ioprio_get after it", syscall(SYS_ioprio_get, 1, 0));
    R("ioprio_set best effort level 3", syscall(SYS_ioprio_set, 1, 0, IOPRIO(2, 3)));
    R("ioprio_get after it", syscall(SYS_ioprio_get, 1, 0));
    R("ioprio_set real-time again", syscall(SYS_ioprio_set, 1, 0, IOPRIO(1, 0)));
    R("ioprio_set back to none", syscall(SYS_ioprio_set, 1, 0, IOPRIO(0, 0)));
    R("ioprio_get after it", syscall(SYS_ioprio_get, 1, 0));
    R("ioprio_set real-time of a pid that does not exist", syscall(SYS_ioprio_set, 1, 999999, IOPRIO(1, 0)));
    R("ioprio_get of an unknown which", syscall(SYS_ioprio_get, 7, 0));
    _exit(0);
  }
  waitpid(c, 0, 0);
  /* A zombie (exited, not reaped yet) is still named. */
  fflush(stdout);
  pid_t z = fork();
  if (z == 0) {
    if (setresuid(54321, 54321, 54321) < 0) _exit(1);
    _exit(0);
  }
  siginfo_t si;
  waitid(P_PID, z, &si, WEXITED | WNOWAIT);
  R("raw getpriority of a zombie", syscall(SYS_getpriority, PRIO_PROCESS, z));
  R("setpriority 1 of another user's zombie as root", setpriority(PRIO_PROCESS, z, 1));
  fflush(stdout);
  c = fork();
  if (c == 0) {
    if (setresuid(54322, 54322, 54322) < 0) _exit(1);
    R("setpriority of another user's zombie, unprivileged", setpriority(PRIO_PROCESS, z, 1));
    _exit(0);
  }
  waitpid(c, 0, 0);
  waitpid(z, 0, 0);
  R("getpriority of it once reaped", getpriority(PRIO_PROCESS, z));
  /* Another user, without CAP_SYS_NICE: Linux's checks. */
  pid_t parent = getpid();
  fflush(stdout);
  c = fork();
  if (c == 0) {
    setpriority(PRIO_PROCESS, 0, 0);
    struct rlimit rl;
    getrlimit(RLIMIT_NICE, &rl);
    printf("RLIMIT_NICE soft %ld\n", (long)rl.rlim_cur);
    if (setresuid(54321, 54321, 54321) < 0) _exit(1);
    R("unprivileged: nicer (5)", setpriority(PRIO_PROCESS, 0, 5));
    R("unprivileged: back to 0, beyond RLIMIT_NICE", setpriority(PRIO_PROCESS, 0, 0));
    R("unprivileged: as far as RLIMIT_NICE allows (20 - its soft limit)", setpriority(PRIO_PROCESS, 0, 20 - (int)rl.rlim_cur));
    print_nice("unprivileged after that");
    R("unprivileged: another user's process", setpriority(PRIO_PROCESS, parent, 0));
    R("unprivileged: raw getpriority of another user's process", syscall(SYS_getpriority, PRIO_PROCESS, parent));
    R("unprivileged: PRIO_USER of itself (7)", setpriority(PRIO_USER, 0, 7));
    R("unprivileged: getpriority PRIO_USER of itself", getpriority(PRIO_USER, 0));
    R("unprivileged: a raise (6)", setpriority(PRIO_PROCESS, 0, 6));
    _exit(0);
  }
  waitpid(c, 0, 0);
}

/* ------------------------------------------------- reaping and /proc */

static pid_t child_exiting(int code) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) _exit(code);
  return c;
}

/* /proc/<pid>/stat's state letter, or '-' when the entry is gone */
static char proc_state(pid_t pid) {
  char path[64], buf[512] = {0};
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return '-';
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  char *rp = n > 0 ? strrchr(buf, ')') : NULL;
  return rp ? rp[2] : '?';
}

/* waits until the child is a zombie (exited, not reaped), as seen by waitid(WNOWAIT) */
static void until_zombie(pid_t c) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  waitid(P_PID, c, &si, WEXITED | WNOWAIT);
}

static void cmd_reaping(void) {
  int st;
  siginfo_t si;
  /* a zombie is a /proc entry in state Z until its parent reaps it */
  pid_t c = child_exiting(4);
  until_zombie(c);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d", c);
  int pdir = open(path, O_RDONLY | O_DIRECTORY);
  snprintf(path, sizeof path, "/proc/%d/task", c);
  int tdir = open(path, O_RDONLY | O_DIRECTORY);
  printf("zombie: state %c\n", proc_state(c));
  char lbuf[256];
  R("readlink exe of a zombie", readlinkat(pdir, "exe", lbuf, sizeof lbuf));
  char cmd[8];
  int cfd = openat(pdir, "cmdline", O_RDONLY);
  R("read cmdline of a zombie", read(cfd, cmd, sizeof cmd));
  close(cfd);
  /* WNOWAIT leaves it waitable; WNOHANG finds nothing more afterwards */
  memset(&si, 0, sizeof si);
  R("waitid WNOWAIT", waitid(P_PID, c, &si, WEXITED | WNOWAIT));
  printf("  code %d status %d\n", si.si_code, si.si_status);
  R("wait4 of the zombie", wait4(c, &st, 0, NULL) == c ? WEXITSTATUS(st) : -1);
  printf("reaped: state %c\n", proc_state(c));
  R("readlink exe through a held /proc/<pid> after the reap", readlinkat(pdir, "exe", lbuf, sizeof lbuf));
  char dents[1024];
  R("getdents of a held /proc/<pid>/task after the reap", syscall(SYS_getdents64, tdir, dents, sizeof dents));
  close(pdir);
  close(tdir);
  memset(&si, 0, sizeof si);
  R("waitid WNOHANG with no child", waitid(P_ALL, 0, &si, WEXITED | WNOHANG));
  /* a stopped and continued child, through waitid and wait4; it exits only
   * when told (an exited child is no longer reported as continued) */
  int go[2];
  if (pipe(go) < 0) return;
  fflush(stdout);
  c = fork();
  if (c == 0) {
    raise(SIGSTOP);
    char b;
    _exit(read(go[0], &b, 1) == 1 ? 6 : 1);
  }
  memset(&si, 0, sizeof si);
  R("waitid WSTOPPED", waitid(P_PID, c, &si, WSTOPPED));
  printf("  code %d status %d\n", si.si_code, si.si_status);
  kill(c, SIGCONT);
  memset(&si, 0, sizeof si);
  R("waitid WCONTINUED", waitid(P_PID, c, &si, WCONTINUED));
  printf("  code %d status %d\n", si.si_code, si.si_status);
  if (write(go[1], "x", 1) != 1) return;
  close(go[0]);
  close(go[1]);
  R("wait4 of the continued child", wait4(c, &st, 0, NULL) == c ? WEXITSTATUS(st) : -1);
  /* P_PIDFD */
  c = child_exiting(8);
  int pfd = (int)syscall(SYS_pidfd_open, c, 0);
  memset(&si, 0, sizeof si);
  R("waitid P_PIDFD", waitid((idtype_t)3 /* P_PIDFD */, pfd, &si, WEXITED));
  printf("  code %d status %d\n", si.si_code, si.si_status);
  close(pfd);
  /* kill(0) and kill(-pgrp) reach the caller's group */
  R("kill(0, 0)", kill(0, 0));
  printf("getpgrp() is %s\n", getpgrp() > 0 ? "a pid" : "0");
  R("kill(-pgrp, 0)", kill(-getpgrp(), 0));
  R("kill of a free pid", kill(4000000, 0));
  /* clone3's own argument checks */
  struct clone_args ca;
  memset(&ca, 0, sizeof ca);
  ca.flags = CLONE_PARENT;
  ca.exit_signal = SIGCHLD;
  fflush(stdout);
  errno = 0;
  long r = syscall(SYS_clone3, &ca, sizeof ca);
  if (r == 0) _exit(0);
  report("clone3 CLONE_PARENT with an exit signal", r, errno);
  ca.flags = CLONE_SIGHAND | CLONE_VM | CLONE_CLEAR_SIGHAND;
  ca.exit_signal = 0;
  R("clone3 CLONE_SIGHAND with CLONE_CLEAR_SIGHAND", syscall(SYS_clone3, &ca, sizeof ca));
  /* /proc/self/ns, coredump_filter, uid_map */
  R("access /proc/self/ns/pid", access("/proc/self/ns/pid", F_OK));
  struct stat sb;
  R("stat /proc/self/ns/net is not a link", stat("/proc/self/ns/net", &sb) == 0 && !S_ISLNK(sb.st_mode));
  int cf = open("/proc/self/coredump_filter", O_RDWR);
  R("open coredump_filter", cf >= 0 ? 0 : -1);
  R("write coredump_filter", write(cf, "0x3f\n", 5));
  close(cf);
  char cfb[32] = {0};
  cf = open("/proc/self/coredump_filter", O_RDONLY);
  R("read coredump_filter", read(cf, cfb, sizeof cfb - 1));
  printf("  %s", cfb);
  close(cf);
}

/* ------------------------------------------------- execveat of scripts */

static void cmd_scripts(void) {
  int f = open(at("s.sh"), O_CREAT | O_WRONLY | O_TRUNC, 0755);
  if (write(f, "#!/bin/sh\nexit 5\n", 17) != 17) return;
  close(f);
  int cases[4][2] = {{1, 0}, {1, 1}, {0, 1}, {0, 0}}; /* {empty path, cloexec} */
  for (int i = 0; i < 4; i++) {
    int empty = cases[i][0], cloexec = cases[i][1];
    int fd = empty ? open(at("s.sh"), O_RDONLY | (cloexec ? O_CLOEXEC : 0)) : open(D, O_RDONLY | O_DIRECTORY | (cloexec ? O_CLOEXEC : 0));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
      char *av[] = {"s.sh", NULL};
      syscall(SYS_execveat, fd, empty ? "" : "s.sh", av, environ, empty ? AT_EMPTY_PATH : 0);
      _exit(100 + errno);
    }
    int st;
    waitpid(c, &st, 0);
    printf("execveat of a script (%s, %s fd): exit %d\n", empty ? "AT_EMPTY_PATH" : "relative to a directory", cloexec ? "close-on-exec" : "inherited", WEXITSTATUS(st));
    close(fd);
  }
  /* Scripts whose interpreter is a script: chain<N> runs chain<N-1>, ..., chain1 runs /bin/sh (exit 5). */
  char prev[4096], name[32];
  snprintf(prev, sizeof prev, "/bin/sh");
  for (int n = 1; n <= 7; n++) {
    snprintf(name, sizeof name, "chain%d", n);
    int fd = open(at(name), O_CREAT | O_WRONLY | O_TRUNC, 0755);
    if (dprintf(fd, "#!%s\nexit 5\n", prev) < 0) return;
    close(fd);
    snprintf(prev, sizeof prev, "%s", at(name));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
      char *av[] = {name, NULL};
      execv(prev, av);
      _exit(100 + errno);
    }
    int st;
    waitpid(c, &st, 0);
    if (WEXITSTATUS(st) >= 100) printf("a chain of %d scripts: execve %s\n", n, strerrorname_np(WEXITSTATUS(st) - 100));
    else printf("a chain of %d scripts: exit %d\n", n, WEXITSTATUS(st));
  }
}

/* ------------------------------------------ /proc access of another uid */

static pid_t access_target;

static void *as_nobody(void *unused) {
  (void)unused;
  /* the raw call changes this thread's ids only */
  if (syscall(SYS_setuid, 65534) < 0) return NULL;
  const char *names[] = {"auxv", "environ", "maps", "smaps", "mem", "stat", "cmdline"};
  for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
    char path[64], what[96];
    snprintf(path, sizeof path, "/proc/%d/%s", access_target, names[i]);
    snprintf(what, sizeof what, "open /proc/<pid>/%s of root as nobody", names[i]);
    int fd = open(path, O_RDONLY);
    report(what, fd < 0 ? -1 : 0, errno);
    if (fd >= 0) close(fd);
  }
  return NULL;
}

static void cmd_procaccess(void) {
  int go[2];
  if (pipe(go) < 0) return;
  fflush(stdout);
  access_target = fork();
  if (access_target == 0) {
    char b;
    _exit(read(go[0], &b, 1) == 1 ? 0 : 1);
  }
  pthread_t t;
  pthread_create(&t, 0, as_nobody, 0);
  pthread_join(t, 0);
  if (write(go[1], "x", 1) != 1) return;
  waitpid(access_target, 0, 0);
  /* the IPC limits of the sandbox's own IPC namespace are the kernel's defaults */
  const char *ipc[] = {"shmmax", "shmall", "shmmni", "sem", "msgmni", "msgmax", "msgmnb"};
  for (unsigned i = 0; i < sizeof ipc / sizeof ipc[0]; i++) {
    char path[64], buf[128] = {0};
    snprintf(path, sizeof path, "/proc/sys/kernel/%s", ipc[i]);
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    printf("%s: %s", path, n > 0 ? buf : "unreadable\n");
    if (fd >= 0) close(fd);
  }
}

/* ---------------------------------------------- /proc/<pid>/task */

static int release_thread[2];

static void *parked(void *unused) {
  (void)unused;
  char b;
  return (void *)(intptr_t)read(release_thread[0], &b, 1);
}

static nlink_t links_of(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 ? sb.st_nlink : 0;
}

static void cmd_proctask(void) {
  if (pipe(release_thread) < 0) return;
  nlink_t before = links_of("/proc/self/task");
  pthread_t t;
  pthread_create(&t, 0, parked, 0);
  printf("a thread adds %ld link(s) to /proc/self/task\n", (long)(links_of("/proc/self/task") - before));
  if (write(release_thread[1], "x", 1) != 1) return;
  pthread_join(t, 0);
  /* children of the calling thread, zombies included, in pid order */
  pid_t a = child_exiting(0), b = child_exiting(0);
  until_zombie(a);
  until_zombie(b);
  char path[96], buf[128] = {0}, want[64];
  snprintf(path, sizeof path, "/proc/self/task/%ld/children", (long)syscall(SYS_gettid));
  int fd = open(path, O_RDONLY);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  snprintf(want, sizeof want, "%d %d ", a < b ? a : b, a < b ? b : a);
  printf("task/<tid>/children lists both children: %s\n", n > 0 && !strcmp(buf, want) ? "yes" : "no");
  waitpid(a, 0, 0);
  waitpid(b, 0, 0);
  /* a thread may rename itself through comm (at most 15 bytes), not another process */
  snprintf(path, sizeof path, "/proc/self/task/%ld/comm", (long)syscall(SYS_gettid));
  fd = open(path, O_WRONLY);
  R("write a long name to the own comm", write(fd, "0123456789abcdefghij", 20));
  close(fd);
  char name[32] = {0};
  prctl(PR_GET_NAME, name);
  printf("name seen by PR_GET_NAME: %s\n", name);
  fd = open(path, O_RDONLY);
  memset(buf, 0, sizeof buf);
  R("read the own comm", read(fd, buf, sizeof buf - 1));
  printf("  %s", buf);
  close(fd);
  int go[2];
  if (pipe(go) < 0) return;
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    char x;
    _exit(read(go[0], &x, 1) == 1 ? 0 : 1);
  }
  snprintf(path, sizeof path, "/proc/%d/comm", c);
  fd = open(path, O_WRONLY);
  R("open another process's comm for writing", fd < 0 ? -1 : 0);
  R("write another process's comm", write(fd, "x", 1));
  close(fd);
  if (write(go[1], "x", 1) != 1) return;
  waitpid(c, 0, 0);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: exact DIR SUBCOMMAND\n");
    return 2;
  }
  D = argv[1];
  const char *cmd = argv[2];
  if (!strcmp(cmd, "exit3")) return 3;
  if (!strcmp(cmd, "nice")) {
    print_nice("after exec");
    return 0;
  }
  if (!strcmp(cmd, "errnos")) cmd_errnos();
  else if (!strcmp(cmd, "clone3")) cmd_clone3();
  else if (!strcmp(cmd, "procs")) cmd_procs();
  else if (!strcmp(cmd, "reaping")) cmd_reaping();
  else if (!strcmp(cmd, "scripts")) cmd_scripts();
  else if (!strcmp(cmd, "procaccess")) cmd_procaccess();
  else if (!strcmp(cmd, "proctask")) cmd_proctask();
  else if (!strcmp(cmd, "priority")) cmd_priority(argv[0]);
  else if (!strcmp(cmd, "clearsighand")) cmd_clearsighand();
  else if (!strcmp(cmd, "badelf")) cmd_badelf();
  else {
    fprintf(stderr, "exact: unknown subcommand %s\n", cmd);
    return 2;
  }
  return 0;
}
