/*
 * Signals: rt_sigaction, rt_sigprocmask, rt_sigpending, rt_sigsuspend,
 * rt_sigtimedwait, rt_sigqueueinfo, rt_tgsigqueueinfo, rt_sigreturn,
 * sigaltstack, pause, alarm, setitimer, getitimer, signalfd, signalfd4,
 * restart_syscall. Case lines as test/programs/calls.h says.
 *
 *   calls-signal DIR   (DIR: a scratch directory; unused here)
 */
#include "calls.h"
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <sys/ucontext.h>

/* The kernel's struct sigaction on x86_64. */
struct ksigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  uint64_t mask;
};
#define SA_RESTORER 0x04000000
#define KSET(s) (1ULL << ((s) - 1))
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

static const char *exe_path;
static const char *self_exe(void) { return exe_path; }

static void *restorer; /* the C library's, read back from a handler it installed */

static volatile sig_atomic_t hits, last_sig, last_code, nested, on_alt, blocked_in_handler;
static volatile int last_value;

static void count(int s) {
  hits++;
  last_sig = s;
}

static void info_handler(int s, siginfo_t *si, void *uc) {
  (void)uc;
  hits++;
  last_sig = s;
  last_code = si->si_code;
  last_value = si->si_value.sival_int;
}

static sigset_t mask_now(void) {
  sigset_t s;
  sigprocmask(SIG_SETMASK, NULL, &s);
  return s;
}

static void block(int s) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, NULL);
}

static void unblock(int s) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, s);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static void ksa(int sig, void *handler, unsigned long flags, uint64_t mask) {
  struct ksigaction a = {handler, flags | SA_RESTORER, restorer, mask};
  syscall(SYS_rt_sigaction, sig, &a, NULL, 8);
}

/* ---------------------------------------------------------- rt_sigaction */

static void reentrant(int s) {
  (void)s;
  sigset_t m = mask_now();
  blocked_in_handler = sigismember(&m, SIGUSR1) * 1 + sigismember(&m, SIGUSR2) * 2;
  if (hits++ == 0) raise(SIGUSR1);
  else nested = 1;
}

static volatile char *fault_addr;

static void on_segv(int s, siginfo_t *si, void *uc) {
  (void)s;
  ucontext_t *u = uc;
  fault_addr = si->si_addr;
  last_code = si->si_code;
  /* skip the faulting 4-byte store (mov %eax, (%rdx): 89 02, 2 bytes) */
  u->uc_mcontext.gregs[REG_RIP] += 2;
}

static void sigactions(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = count;
  sigaction(SIGUSR1, &sa, NULL);
  struct ksigaction old;
  memset(&old, 0, sizeof old);
  T(rt_sigaction, "query", SIGUSR1, NULL, &old, 8);
  N(rt_sigaction, "query gives the handler and SA_RESTORER", "%s %s", old.handler == (void *)count ? "handler" : "other",
    old.flags & SA_RESTORER ? "restorer" : "none");
  restorer = old.restorer;
  struct ksigaction a = {(void *)info_handler, SA_SIGINFO | SA_RESTORER, restorer, 0};
  T(rt_sigaction, "install a SA_SIGINFO handler", SIGUSR1, &a, &old, 8);
  T(rt_sigaction, "a sigsetsize of 4", SIGUSR1, &a, NULL, 4);
  T(rt_sigaction, "a sigsetsize of 16", SIGUSR1, &a, NULL, 16);
  T(rt_sigaction, "SIGKILL", SIGKILL, &a, NULL, 8);
  T(rt_sigaction, "SIGSTOP", SIGSTOP, &a, NULL, 8);
  T(rt_sigaction, "query SIGKILL", SIGKILL, NULL, &old, 8);
  T(rt_sigaction, "signal 0", 0, &a, NULL, 8);
  T(rt_sigaction, "signal 65", 65, &a, NULL, 8);
  T(rt_sigaction, "a bad new action", SIGUSR1, BADPTR, NULL, 8);
  T(rt_sigaction, "a bad old action", SIGUSR1, NULL, BADPTR, 8);
  hits = 0;
  raise(SIGUSR1);
  N(rt_sigaction, "SA_SIGINFO handler gets si_code", "%d hits %d", last_code, hits);
  /* SA_RESETHAND: the handler runs once, then the default action applies */
  ksa(SIGUSR2, (void *)count, SA_RESETHAND, 0);
  hits = 0;
  raise(SIGUSR2);
  memset(&old, 0, sizeof old);
  syscall(SYS_rt_sigaction, SIGUSR2, NULL, &old, 8);
  N(rt_sigaction, "SA_RESETHAND resets to SIG_DFL", "hits %d %s", hits, old.handler == SIG_DFL ? "SIG_DFL" : "other");
  /* sa_mask and SA_NODEFER */
  hits = 0;
  nested = 0;
  ksa(SIGUSR1, (void *)reentrant, 0, KSET(SIGUSR2));
  raise(SIGUSR1);
  N(rt_sigaction, "during a handler its signal and sa_mask are blocked", "mask %d nested %d hits %d", blocked_in_handler, nested, hits);
  hits = 0;
  nested = 0;
  ksa(SIGUSR1, (void *)reentrant, SA_NODEFER, 0);
  raise(SIGUSR1);
  N(rt_sigaction, "SA_NODEFER lets the handler be interrupted by its signal", "nested %d hits %d", nested, hits);
  sigset_t m = mask_now();
  N(rt_sigaction, "the mask is restored after the handlers", "%d", sigismember(&m, SIGUSR1));
  /* SA_RESTART: a read interrupted by a handled signal restarts, without it EINTR */
  int p[2];
  if (pipe(p) < 0) return;
  for (int restart = 0; restart < 2; restart++) {
    ksa(SIGALRM, (void *)count, restart ? SA_RESTART : 0, 0);
    pid_t c = fork_flushed();
    if (c == 0) {
      msleep(50);
      kill(getppid(), SIGALRM);
      msleep(50);
      if (write(p[1], "x", 1) < 0) _exit(1);
      _exit(0);
    }
    char x;
    hits = 0;
    const char *r = RES(read(p[0], &x, 1));
    N(rt_sigaction, restart ? "SA_RESTART: an interrupted read restarts" : "no SA_RESTART: an interrupted read fails", "%s hits %d", r, hits);
    reap(c);
    if (!restart) {
      if (read(p[0], &x, 1) < 0) return;
    }
  }
  close(p[0]);
  close(p[1]);
  /* SIGCHLD: SA_SIGINFO details, SA_NOCLDSTOP, SIG_IGN reaps children */
  ksa(SIGCHLD, (void *)info_handler, SA_SIGINFO, 0);
  hits = 0;
  pid_t c = fork_flushed();
  if (c == 0) _exit(5);
  while (!hits) msleep(1);
  N(rt_sigaction, "SIGCHLD with SA_SIGINFO on exit", "code %d", last_code);
  reap(c);
  c = fork_flushed();
  if (c == 0) {
    for (;;) pause();
  }
  hits = 0;
  kill(c, SIGSTOP);
  while (!hits) msleep(1);
  N(rt_sigaction, "SIGCHLD with SA_SIGINFO on stop", "code %d", last_code);
  ksa(SIGCHLD, (void *)info_handler, SA_SIGINFO | SA_NOCLDSTOP, 0);
  hits = 0;
  kill(c, SIGCONT);
  waitpid(c, NULL, WCONTINUED);
  kill(c, SIGSTOP);
  waitpid(c, NULL, WUNTRACED);
  msleep(20);
  N(rt_sigaction, "SA_NOCLDSTOP: no SIGCHLD for stop and continue", "hits %d", hits);
  kill(c, SIGKILL);
  reap(c);
  ksa(SIGCHLD, (void *)SIG_IGN, 0, 0);
  c = fork_flushed();
  if (c == 0) _exit(0);
  N(rt_sigaction, "SIGCHLD ignored: children are reaped by the kernel", "%s", RES(waitpid(c, NULL, 0)));
  ksa(SIGCHLD, (void *)SIG_DFL, SA_NOCLDWAIT, 0);
  c = fork_flushed();
  if (c == 0) _exit(0);
  N(rt_sigaction, "SA_NOCLDWAIT: children are reaped by the kernel", "%s", RES(waitpid(c, NULL, 0)));
  ksa(SIGCHLD, (void *)SIG_DFL, 0, 0);
  /* a fault: the handler sees the address and the code, and may skip the instruction */
  struct ksigaction segv = {(void *)on_segv, SA_SIGINFO | SA_RESTORER, restorer, 0};
  syscall(SYS_rt_sigaction, SIGSEGV, &segv, NULL, 8);
  volatile int *bad = (volatile int *)0x1000;
  asm volatile("mov %0, (%1)" : : "a"(1), "d"(bad) : "memory");
  N(rt_sigaction, "SIGSEGV handler", "addr %s code %d", fault_addr == (volatile char *)bad ? "the faulting one" : "other", last_code);
  signal(SIGSEGV, SIG_DFL);
  /* the default actions */
  static const int sigs[] = {SIGTERM, SIGQUIT, SIGUSR1, SIGALRM, SIGWINCH, SIGURG};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    c = fork_flushed();
    if (c == 0) {
      signal(sigs[i], SIG_DFL);
      raise(sigs[i]);
      _exit(0);
    }
    char what[32];
    snprintf(what, sizeof what, "default action of SIG%s", sigabbrev_np(sigs[i]));
    N(rt_sigaction, what, "%s", reap(c));
  }
  signal(SIGUSR1, SIG_DFL);
}

/* -------------------------------------------- rt_sigprocmask, rt_sigpending */

static void *pending_thread(void *a) {
  uint64_t set = 0;
  syscall(SYS_rt_sigpending, &set, 8);
  *(uint64_t *)a = set;
  return NULL;
}

static void masks(void) {
  uint64_t set = KSET(SIGUSR1) | KSET(SIGKILL) | KSET(SIGSTOP), old = 0, now = 0;
  T(rt_sigprocmask, "SIG_BLOCK with SIGKILL and SIGSTOP", SIG_BLOCK, &set, &old, 8);
  T(rt_sigprocmask, "query", SIG_BLOCK, NULL, &now, 8);
  N(rt_sigprocmask, "SIGKILL and SIGSTOP are never blocked", "usr1 %d kill %d stop %d", !!(now & KSET(SIGUSR1)), !!(now & KSET(SIGKILL)),
    !!(now & KSET(SIGSTOP)));
  T(rt_sigprocmask, "an invalid how", 7, &set, NULL, 8);
  T(rt_sigprocmask, "a sigsetsize of 4", SIG_BLOCK, &set, NULL, 4);
  T(rt_sigprocmask, "a bad set", SIG_BLOCK, BADPTR, NULL, 8);
  T(rt_sigprocmask, "a bad old set", SIG_BLOCK, &set, BADPTR, 8);
  signal(SIGUSR1, count);
  hits = 0;
  kill(getpid(), SIGUSR1);
  N(rt_sigprocmask, "a blocked signal waits", "hits %d", hits);
  uint64_t pend = 0;
  T(rt_sigpending, "with SIGUSR1 pending", &pend, 8);
  N(rt_sigpending, "the set", "%#llx", (unsigned long long)pend);
  T(rt_sigpending, "a sigsetsize of 16", &pend, 16);
  T(rt_sigpending, "a sigsetsize of 4", &pend, 4);
  T(rt_sigpending, "a bad address", BADPTR, 8);
  /* a signal sent to the process is pending for every thread; one sent to a thread, for that thread */
  block(SIGUSR2);
  uint64_t tset = 0;
  pthread_t t;
  pthread_create(&t, NULL, pending_thread, &tset);
  pthread_join(t, NULL);
  N(rt_sigpending, "process-wide pending seen from another thread", "%#llx", (unsigned long long)tset);
  syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR2);
  pthread_create(&t, NULL, pending_thread, &tset);
  pthread_join(t, NULL);
  N(rt_sigpending, "a thread-directed signal is not another thread's", "%#llx", (unsigned long long)tset);
  syscall(SYS_rt_sigpending, &pend, 8);
  N(rt_sigpending, "but is the target's", "%#llx", (unsigned long long)pend);
  signal(SIGUSR2, count);
  uint64_t un = KSET(SIGUSR1) | KSET(SIGUSR2);
  T(rt_sigprocmask, "SIG_UNBLOCK delivers the pending signals", SIG_UNBLOCK, &un, NULL, 8);
  N(rt_sigprocmask, "handlers ran", "hits %d", hits);
  T(rt_sigprocmask, "SIG_SETMASK back", SIG_SETMASK, &old, NULL, 8);
  T(rt_sigprocmask, "query after", SIG_SETMASK, NULL, &now, 8);
  N(rt_sigprocmask, "the mask is the old one", "%s", now == old ? "yes" : "no");
  signal(SIGUSR1, SIG_DFL);
  signal(SIGUSR2, SIG_DFL);
  /* the mask is inherited by a child and kept across fork */
  block(SIGUSR1);
  pid_t c = fork_flushed();
  if (c == 0) {
    uint64_t cm = 0;
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &cm, 8);
    _exit(cm & KSET(SIGUSR1) ? 0 : 1);
  }
  N(rt_sigprocmask, "a child inherits the mask", "%s", reap(c));
  unblock(SIGUSR1);
}

/* ----------------------------------------- rt_sigsuspend, rt_sigtimedwait */

static void waiting(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = count;
  sigaction(SIGUSR1, &sa, NULL);
  block(SIGUSR1);
  uint64_t none = 0, saved = 0;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &saved, 8);
  T(rt_sigsuspend, "a sigsetsize of 4", &none, 4);
  T(rt_sigsuspend, "a bad mask", BADPTR, 8);
  pid_t parent = getpid();
  pid_t c = fork_flushed();
  if (c == 0) {
    msleep(50);
    kill(parent, SIGUSR1);
    _exit(0);
  }
  hits = 0;
  T(rt_sigsuspend, "until a handled signal", &none, 8);
  uint64_t after = 0;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &after, 8);
  N(rt_sigsuspend, "the handler ran and the mask is back", "hits %d %s", hits, after == saved ? "yes" : "no");
  reap(c);
  /* a signal already pending ends it at once */
  raise(SIGUSR1);
  hits = 0;
  T(rt_sigsuspend, "with the signal already pending", &none, 8);
  N(rt_sigsuspend, "handler", "hits %d", hits);

  uint64_t set = KSET(SIGUSR1);
  siginfo_t si;
  struct timespec zero = {0, 0}, short_ = {0, 30000000}, bad = {0, 2000000000};
  T(rt_sigtimedwait, "nothing pending, zero timeout", &set, &si, &zero, 8);
  T(rt_sigtimedwait, "nothing pending, 30 ms", &set, &si, &short_, 8);
  T(rt_sigtimedwait, "an invalid timeout", &set, &si, &bad, 8);
  T(rt_sigtimedwait, "a sigsetsize of 4", &set, &si, &zero, 4);
  T(rt_sigtimedwait, "a bad set", BADPTR, &si, &zero, 8);
  raise(SIGUSR1);
  memset(&si, 0, sizeof si);
  T(rt_sigtimedwait, "a pending signal", &set, &si, &zero, 8);
  N(rt_sigtimedwait, "its siginfo", "signo %d code %d pid %s", si.si_signo, si.si_code, si.si_pid == getpid() ? "self" : "other");
  raise(SIGUSR1);
  T(rt_sigtimedwait, "a pending signal without siginfo and timeout", &set, NULL, NULL, 8);
  c = fork_flushed();
  if (c == 0) {
    msleep(50);
    kill(parent, SIGUSR1);
    _exit(0);
  }
  memset(&si, 0, sizeof si);
  T(rt_sigtimedwait, "a signal from a child, waiting", &set, &si, NULL, 8);
  N(rt_sigtimedwait, "its sender", "code %d pid %s uid %d", si.si_code, si.si_pid == c ? "the child" : "other", si.si_uid);
  reap(c);
  /* interrupted by a handled signal it does not wait for */
  signal(SIGUSR2, count);
  c = fork_flushed();
  if (c == 0) {
    msleep(50);
    kill(parent, SIGUSR2);
    _exit(0);
  }
  struct timespec long_ = {5, 0};
  T(rt_sigtimedwait, "interrupted by another handled signal", &set, &si, &long_, 8);
  reap(c);
  signal(SIGUSR2, SIG_DFL);

  /* rt_sigqueueinfo: a value travels with the signal */
  memset(&si, 0, sizeof si);
  si.si_signo = SIGUSR1;
  si.si_code = SI_QUEUE;
  si.si_pid = getpid();
  si.si_uid = getuid();
  si.si_value.sival_int = 4242;
  T(rt_sigqueueinfo, "SI_QUEUE to itself", getpid(), SIGUSR1, &si);
  siginfo_t got;
  memset(&got, 0, sizeof got);
  syscall(SYS_rt_sigtimedwait, &set, &got, &zero, 8);
  N(rt_sigqueueinfo, "received", "signo %d code %d value %d", got.si_signo, got.si_code, got.si_value.sival_int);
  T(rt_sigqueueinfo, "an invalid signal", getpid(), 99, &si);
  T(rt_sigqueueinfo, "a pid that does not exist", 999999, SIGUSR1, &si);
  T(rt_sigqueueinfo, "a bad siginfo", getpid(), SIGUSR1, BADPTR);
  c = fork_flushed();
  if (c == 0) {
    for (;;) pause();
  }
  si.si_code = SI_USER;
  T(rt_sigqueueinfo, "SI_USER to another process", c, SIGUSR1, &si);
  si.si_code = SI_KERNEL;
  T(rt_sigqueueinfo, "SI_KERNEL to another process", c, SIGUSR1, &si);
  si.si_code = SI_QUEUE;
  T(rt_sigqueueinfo, "SI_QUEUE to another process", c, SIGTERM, &si);
  N(rt_sigqueueinfo, "the child", "%s", reap(c));
  si.si_code = SI_TKILL;
  T(rt_sigqueueinfo, "SI_TKILL to itself", getpid(), SIGUSR1, &si);
  syscall(SYS_rt_sigtimedwait, &set, &got, &zero, 8);
  long tid = syscall(SYS_gettid);
  si.si_code = SI_QUEUE;
  si.si_value.sival_int = 77;
  T(rt_tgsigqueueinfo, "SI_QUEUE to its own thread", getpid(), tid, SIGUSR1, &si);
  memset(&got, 0, sizeof got);
  syscall(SYS_rt_sigtimedwait, &set, &got, &zero, 8);
  N(rt_tgsigqueueinfo, "received", "signo %d code %d value %d", got.si_signo, got.si_code, got.si_value.sival_int);
  T(rt_tgsigqueueinfo, "a tid of another process", 1, tid, SIGUSR1, &si);
  T(rt_tgsigqueueinfo, "tid 0", getpid(), 0, SIGUSR1, &si);
  T(rt_tgsigqueueinfo, "an invalid signal", getpid(), tid, 0x100, &si);
  T(rt_tgsigqueueinfo, "a bad siginfo", getpid(), tid, SIGUSR1, BADPTR);
  unblock(SIGUSR1);
  signal(SIGUSR1, SIG_DFL);
}

/* -------------------------------------------------------- rt_sigreturn */

static void block_usr2_on_return(int s, siginfo_t *si, void *uc) {
  (void)s;
  (void)si;
  ucontext_t *u = uc;
  sigaddset(&u->uc_sigmask, SIGUSR2);
  hits++;
}

static void sigreturns(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = block_usr2_on_return;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  hits = 0;
  raise(SIGUSR1);
  sigset_t m = mask_now();
  N(rt_sigreturn, "restores the mask the handler left in its ucontext", "hits %d usr2 %d usr1 %d", hits, sigismember(&m, SIGUSR2),
    sigismember(&m, SIGUSR1));
  unblock(SIGUSR2);
  signal(SIGUSR1, SIG_DFL);
  /* registers survive a handler that runs between two instructions */
  signal(SIGALRM, count);
  struct itimerval it = {{0, 1000}, {0, 1000}};
  setitimer(ITIMER_REAL, &it, NULL);
  volatile unsigned long acc = 0;
  hits = 0;
  while (hits < 20) acc += 3;
  memset(&it, 0, sizeof it);
  setitimer(ITIMER_REAL, &it, NULL);
  N(rt_sigreturn, "a loop interrupted 20 times keeps its state", "%s", acc % 3 == 0 && acc > 0 ? "yes" : "no");
  signal(SIGALRM, SIG_DFL);
  /* outside a handler there is no frame to return to */
  pid_t c = fork_flushed();
  if (c == 0) {
    syscall(SYS_rt_sigreturn);
    _exit(0);
  }
  N(rt_sigreturn, "called without a signal frame", "%s", reap(c));
}

/* ---------------------------------------------------------- sigaltstack */

static char altstack[65536];
static volatile int alt_flags_in_handler;

static void on_alt_handler(int s) {
  (void)s;
  char here;
  on_alt = &here >= altstack && &here < altstack + sizeof altstack;
  stack_t cur;
  syscall(SYS_sigaltstack, NULL, &cur);
  alt_flags_in_handler = cur.ss_flags;
  stack_t other = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  errno = 0;
  long r = syscall(SYS_sigaltstack, &other, NULL);
  blocked_in_handler = r < 0 ? errno : 0;
}

static void altstacks(void) {
  stack_t cur;
  memset(&cur, 0xff, sizeof cur);
  T(sigaltstack, "query", NULL, &cur);
  N(sigaltstack, "initially", "flags %d size %zu", cur.ss_flags, cur.ss_size);
  stack_t small = {.ss_sp = altstack, .ss_size = 1024, .ss_flags = 0};
  T(sigaltstack, "smaller than MINSIGSTKSZ", &small, NULL);
  stack_t badf = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0x1234};
  T(sigaltstack, "unknown flags", &badf, NULL);
  T(sigaltstack, "a bad address", BADPTR, NULL);
  stack_t st = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  T(sigaltstack, "set", &st, NULL);
  memset(&cur, 0, sizeof cur);
  syscall(SYS_sigaltstack, NULL, &cur);
  N(sigaltstack, "query after set", "flags %d size %zu sp %s", cur.ss_flags, cur.ss_size, cur.ss_sp == altstack ? "ours" : "other");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alt_handler;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  N(sigaltstack, "a SA_ONSTACK handler runs on it", "on %d flags %d change %s", on_alt, alt_flags_in_handler,
    blocked_in_handler ? strerrorname_np(blocked_in_handler) : "0");
  sa.sa_flags = 0;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  N(sigaltstack, "a handler without SA_ONSTACK does not", "on %d", on_alt);
  stack_t dis = {.ss_flags = SS_DISABLE};
  T(sigaltstack, "SS_DISABLE", &dis, NULL);
  syscall(SYS_sigaltstack, NULL, &cur);
  N(sigaltstack, "query after disable", "flags %d", cur.ss_flags);
  stack_t ad = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = SS_AUTODISARM};
  T(sigaltstack, "SS_AUTODISARM", &ad, NULL);
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  N(sigaltstack, "with SS_AUTODISARM the handler sees it disabled", "on %d flags %d", on_alt, alt_flags_in_handler);
  syscall(SYS_sigaltstack, &dis, NULL);
  /* a fault on an overflowing stack reaches a handler only on the alternate stack */
  signal(SIGUSR1, SIG_DFL);
}

/* ----------------------------------------------- pause, alarm, itimers */

static void timers(void) {
  /* pause returns after a handled signal */
  int p[2];
  if (pipe(p) < 0) return;
  pid_t c = fork_flushed();
  if (c == 0) {
    hits = 0;
    signal(SIGUSR1, count);
    if (write(p[1], "r", 1) < 0) _exit(1);
    long r = syscall(SYS_pause);
    _exit(r == -1 && errno == EINTR && hits == 1 ? 0 : 1);
  }
  char x;
  if (read(p[0], &x, 1) < 0) return;
  msleep(30);
  kill(c, SIGUSR1);
  N(pause, "returns EINTR after a handled signal", "%s", reap(c));
  c = fork_flushed();
  if (c == 0) {
    signal(SIGUSR1, SIG_IGN);
    if (write(p[1], "r", 1) < 0) _exit(1);
    syscall(SYS_pause);
    _exit(1);
  }
  if (read(p[0], &x, 1) < 0) return;
  msleep(30);
  kill(c, SIGUSR1);
  msleep(30);
  kill(c, SIGTERM);
  N(pause, "an ignored signal does not end it; a fatal one does", "%s", reap(c));
  c = fork_flushed();
  if (c == 0) {
    if (write(p[1], "r", 1) < 0) _exit(1);
    syscall(SYS_pause);
    _exit(1);
  }
  if (read(p[0], &x, 1) < 0) return;
  msleep(30);
  kill(c, SIGSTOP);
  int pst = 0;
  N(pause, "a stopped pauser", "%s", waitpid(c, &pst, WUNTRACED) == c ? status_of(pst) : "?");
  kill(c, SIGCONT);
  msleep(30);
  N(pause, "still paused after SIGCONT", "%s", RES(waitpid(c, NULL, WNOHANG)));
  kill(c, SIGKILL);
  reap(c);
  close(p[0]);
  close(p[1]);

  T(alarm, "none set", 0);
  T(alarm, "set 5 s", 5);
  T(alarm, "set 0 returns what was left", 0);
  T(alarm, "set 0 again", 0);
  c = fork_flushed();
  if (c == 0) {
    syscall(SYS_alarm, 1);
    for (;;) pause();
  }
  pid_t c2 = fork_flushed();
  if (c2 == 0) {
    syscall(SYS_alarm, 1);
    execl(self_exe(), "pause", (char *)NULL);
    _exit(127);
  }
  N(alarm, "1 s, default action", "%s", reap(c));
  N(alarm, "is kept across execve", "%s", reap(c2));

  struct itimerval it, old;
  memset(&it, 0, sizeof it);
  T(getitimer, "ITIMER_REAL unset", ITIMER_REAL, &old);
  N(getitimer, "ITIMER_REAL unset value", "%ld.%06ld %ld.%06ld", old.it_value.tv_sec, old.it_value.tv_usec, old.it_interval.tv_sec,
    old.it_interval.tv_usec);
  T(getitimer, "an invalid timer", 5, &old);
  T(getitimer, "a bad address", ITIMER_REAL, BADPTR);
  it.it_value.tv_sec = 10;
  it.it_interval.tv_usec = 250000;
  T(setitimer, "ITIMER_REAL 10 s, interval 0.25 s", ITIMER_REAL, &it, NULL);
  T(getitimer, "ITIMER_REAL set", ITIMER_REAL, &old);
  N(getitimer, "ITIMER_REAL set value", "%s interval %ld.%06ld", old.it_value.tv_sec >= 9 && old.it_value.tv_sec <= 10 ? "9-10 s left" : "?",
    old.it_interval.tv_sec, old.it_interval.tv_usec);
  memset(&it, 0, sizeof it);
  memset(&old, 0, sizeof old);
  T(setitimer, "disarm, returning the old value", ITIMER_REAL, &it, &old);
  N(setitimer, "the old value", "%s", old.it_value.tv_sec >= 9 ? "9-10 s left" : "?");
  it.it_value.tv_usec = 1000000;
  T(setitimer, "usec 1000000", ITIMER_REAL, &it, NULL);
  it.it_value.tv_usec = -1;
  T(setitimer, "usec -1", ITIMER_REAL, &it, NULL);
  it.it_value.tv_usec = 0;
  T(setitimer, "an invalid timer", 7, &it, NULL);
  T(setitimer, "a bad address", ITIMER_REAL, BADPTR, NULL);
  /* each timer delivers its own signal; VIRTUAL and PROF count CPU time */
  static const int which[] = {ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF};
  static const char *names[] = {"ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF"};
  for (int i = 0; i < 3; i++) {
    c = fork_flushed();
    if (c == 0) {
      struct itimerval v = {{0, 0}, {0, 20000}};
      syscall(SYS_setitimer, which[i], &v, NULL);
      for (volatile unsigned long n = 0;; n++) {
      }
    }
    char what[48];
    snprintf(what, sizeof what, "%s 20 ms, default action", names[i]);
    N(setitimer, what, "%s", reap(c));
  }
  /* a periodic timer keeps firing */
  signal(SIGALRM, count);
  hits = 0;
  it.it_value.tv_usec = 10000;
  it.it_interval.tv_usec = 10000;
  syscall(SYS_setitimer, ITIMER_REAL, &it, NULL);
  while (hits < 5) pause();
  memset(&it, 0, sizeof it);
  syscall(SYS_setitimer, ITIMER_REAL, &it, NULL);
  N(setitimer, "a periodic ITIMER_REAL fires again and again", "%s", hits >= 5 ? "yes" : "no");
  signal(SIGALRM, SIG_DFL);
  /* timers are not inherited by a child */
  it.it_value.tv_sec = 10;
  syscall(SYS_setitimer, ITIMER_REAL, &it, NULL);
  c = fork_flushed();
  if (c == 0) {
    struct itimerval v;
    syscall(SYS_getitimer, ITIMER_REAL, &v);
    _exit(v.it_value.tv_sec == 0 && v.it_value.tv_usec == 0 ? 0 : 1);
  }
  N(getitimer, "a child has no timer", "%s", reap(c));
  memset(&it, 0, sizeof it);
  syscall(SYS_setitimer, ITIMER_REAL, &it, NULL);
}

/* --------------------------------------------------- signalfd, signalfd4 */

static void signalfds(void) {
  uint64_t set = KSET(SIGUSR1) | KSET(SIGUSR2);
  block(SIGUSR1);
  block(SIGUSR2);
  long fd = TOK(signalfd4, "SFD_NONBLOCK|SFD_CLOEXEC", -1, &set, 8, SFD_NONBLOCK | SFD_CLOEXEC);
  N(signalfd4, "flags", "%s %s", fcntl(fd, F_GETFL) & O_NONBLOCK ? "nonblock" : "block", fcntl(fd, F_GETFD) & FD_CLOEXEC ? "cloexec" : "inherit");
  struct signalfd_siginfo ssi;
  T(read, "an empty non-blocking signalfd", fd, &ssi, sizeof ssi);
  raise(SIGUSR2);
  struct pollfd pf = {(int)fd, POLLIN, 0};
  int pr = poll(&pf, 1, 0);
  N(signalfd4, "poll with a signal pending", "%d %s", pr, pf.revents & POLLIN ? "POLLIN" : "-");
  T(read, "into a buffer too small for one record", fd, &ssi, sizeof ssi - 1);
  memset(&ssi, 0, sizeof ssi);
  T(read, "one record", fd, &ssi, sizeof ssi);
  N(signalfd4, "the record", "signo %u code %d pid %s", ssi.ssi_signo, ssi.ssi_code, ssi.ssi_pid == (uint32_t)getpid() ? "self" : "other");
  T(signalfd4, "unknown flags", -1, &set, 8, 0x10);
  T(signalfd4, "a sizemask of 4", -1, &set, 4, 0);
  T(signalfd4, "a bad mask", -1, BADPTR, 8, 0);
  T(signalfd4, "an fd that is not a signalfd", 1, &set, 8, 0);
  T(signalfd4, "an fd that is not open", 999, &set, 8, 0);
  uint64_t only1 = KSET(SIGUSR1);
  T(signalfd4, "change the mask of an existing signalfd", fd, &only1, 8, 0);
  raise(SIGUSR2);
  N(signalfd4, "a signal left out of the new mask is not read", "%s", RES(read(fd, &ssi, sizeof ssi)));
  raise(SIGUSR1);
  char two[2 * sizeof ssi];
  N(signalfd4, "the one in it is", "%s", RES(read(fd, two, sizeof two)));
  uint64_t pend = 0;
  syscall(SYS_rt_sigpending, &pend, 8);
  N(signalfd4, "still pending", "%#llx", (unsigned long long)pend);
  close(fd);
  /* a blocking signalfd wakes when a child sends a signal */
  long bfd = TOK(signalfd, "a blocking signalfd", -1, &set, 8);
  N(signalfd, "flags", "%s %s", fcntl(bfd, F_GETFL) & O_NONBLOCK ? "nonblock" : "block", fcntl(bfd, F_GETFD) & FD_CLOEXEC ? "cloexec" : "inherit");
  T(read, "the pending SIGUSR2", bfd, &ssi, sizeof ssi);
  pid_t parent = getpid();
  pid_t c = fork_flushed();
  if (c == 0) {
    msleep(50);
    union sigval v = {.sival_int = 99};
    sigqueue(parent, SIGUSR1, v);
    _exit(0);
  }
  memset(&ssi, 0, sizeof ssi);
  T(read, "blocks until a child queues a signal", bfd, &ssi, sizeof ssi);
  N(signalfd, "the record", "signo %u code %d value %d pid %s", ssi.ssi_signo, ssi.ssi_code, ssi.ssi_int, ssi.ssi_pid == (uint32_t)c ? "child" : "other");
  reap(c);
  T(signalfd, "a sizemask of 16", -1, &set, 16);
  T(signalfd, "an fd that is not a signalfd", 0, &set, 8);
  close(bfd);
  unblock(SIGUSR1);
  unblock(SIGUSR2);
}

/* ------------------------------------------------------- restart_syscall */

static void restarts(void) {
  /* a sleep interrupted by a stop and a continue resumes for the time left:
   * nanosleep, poll, clock_nanosleep */
  static const char *const resumed[] = {
      "nanosleep stopped and continued sleeps its full time and returns 0",
      "poll stopped and continued waits its full time",
      "clock_nanosleep stopped and continued sleeps its full time",
  };
  pid_t c;
  for (int k = 0; k < 3; k++) {
    c = fork_flushed();
    if (c == 0) {
      struct timespec a, b, d = {0, 400000000};
      clock_gettime(CLOCK_MONOTONIC, &a);
      long r = k == 0   ? syscall(SYS_nanosleep, &d, NULL)
               : k == 1 ? syscall(SYS_poll, NULL, 0, 400)
                        : syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &d, NULL);
      clock_gettime(CLOCK_MONOTONIC, &b);
      long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
      _exit(r == 0 && ms >= 400 ? 0 : 1);
    }
    msleep(100);
    kill(c, SIGSTOP);
    waitpid(c, NULL, WUNTRACED);
    msleep(50);
    kill(c, SIGCONT);
    N(restart_syscall, resumed[k], "%s", reap(c));
  }
  c = fork_flushed();
  if (c == 0) {
    signal(SIGUSR1, count);
    struct timespec d = {0, 400000000}, rem = {0, 0};
    long r = syscall(SYS_nanosleep, &d, &rem);
    _exit(r == -1 && errno == EINTR && rem.tv_nsec > 0 ? 0 : 1);
  }
  msleep(100);
  kill(c, SIGUSR1);
  N(restart_syscall, "a handled signal makes nanosleep fail with EINTR and the time left", "%s", reap(c));
}

int main(int argc, char **argv) {
  if (argc == 1 && !strcmp(argv[0], "pause")) {
    pause();
    return 0;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: calls-signal DIR\n");
    return 2;
  }
  exe_path = argv[0];
  sigactions();
  masks();
  waiting();
  sigreturns();
  altstacks();
  timers();
  signalfds();
  restarts();
  return 0;
}
