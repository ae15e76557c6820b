/*
 * Time: clock_gettime, clock_getres, clock_nanosleep, nanosleep,
 * gettimeofday, time, times, the POSIX timers (timer_create, timer_settime,
 * timer_gettime, timer_getoverrun, timer_delete) and timerfds. Case lines
 * as test/programs/calls.h says; times are printed only as relations and
 * bounds that hold on any machine.
 *
 *   calls-time DIR   (DIR: a scratch directory; unused here)
 */
#include "calls.h"
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/times.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

static long ms_between(struct timespec a, struct timespec b) { return (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000; }

static struct timespec mono(void) {
  struct timespec t;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
  return t;
}

static volatile sig_atomic_t hits;
static void count(int s) {
  (void)s;
  hits++;
}

static const struct {
  clockid_t id;
  const char *name;
} clocks[] = {
    {CLOCK_REALTIME, "CLOCK_REALTIME"},
    {CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
    {CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"},
    {CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID"},
    {CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"},
    {CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"},
    {CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE"},
    {CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
    {CLOCK_TAI, "CLOCK_TAI"},
};

static void clocks_(void) {
  char what[64];
  for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
    struct timespec a = {-1, -1}, b = {-1, -1}, res = {-1, -1};
    snprintf(what, sizeof what, "%s", clocks[i].name);
    T(clock_gettime, what, clocks[i].id, &a);
    syscall(SYS_clock_gettime, clocks[i].id, &b);
    snprintf(what, sizeof what, "%s is monotonic here, nsec in range", clocks[i].name);
    N(clock_gettime, what, "%s", (b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec)) && a.tv_nsec >= 0 && a.tv_nsec < 1000000000 ? "yes" : "no");
    snprintf(what, sizeof what, "%s", clocks[i].name);
    T(clock_getres, what, clocks[i].id, &res);
    snprintf(what, sizeof what, "%s resolution", clocks[i].name);
    N(clock_getres, what, "%ld.%09ld", res.tv_sec, res.tv_nsec);
  }
  struct timespec t;
  T(clock_gettime, "an unknown clock", 99, &t);
  T(clock_gettime, "a bad address", CLOCK_MONOTONIC, BADPTR);
  T(clock_getres, "an unknown clock", 99, &t);
  T(clock_getres, "a null result", CLOCK_MONOTONIC, NULL);
  T(clock_getres, "a bad address", CLOCK_MONOTONIC, BADPTR);
  /* the CPU clock of another process: (~pid << 3) | CPUCLOCK_SCHED (2) */
  pid_t c = fork_flushed();
  if (c == 0) {
    for (;;) pause();
  }
  clockid_t cpu = (clockid_t)((~(unsigned)c << 3) | 2);
  T(clock_gettime, "the CPU clock of a child", cpu, &t);
  T(clock_getres, "the CPU clock of a child", cpu, &t);
  kill(c, SIGKILL);
  reap(c);
  T(clock_gettime, "the CPU clock of a reaped child", cpu, &t);
  cpu = (clockid_t)((~(unsigned)999999 << 3) | 2);
  T(clock_gettime, "the CPU clock of a pid that does not exist", cpu, &t);
  /* the clocks agree with each other */
  /* each reading bracketed by CLOCK_REALTIME read just before and after it
   * (a preempted caller sees seconds pass between them) */
  struct timespec rt, rt2;
  struct timeval tv;
  struct timezone tz = {-1, -1};
  syscall(SYS_clock_gettime, CLOCK_REALTIME, &rt);
  T(gettimeofday, "with a timezone", &tv, &tz);
  syscall(SYS_clock_gettime, CLOCK_REALTIME, &rt2);
  N(gettimeofday, "agrees with CLOCK_REALTIME", "%s usec in range %s", tv.tv_sec >= rt.tv_sec && tv.tv_sec <= rt2.tv_sec ? "yes" : "no",
    tv.tv_usec >= 0 && tv.tv_usec < 1000000 ? "yes" : "no");
  N(gettimeofday, "the kernel's timezone", "%d %d", tz.tz_minuteswest, tz.tz_dsttime);
  T(gettimeofday, "both null", NULL, NULL);
  T(gettimeofday, "a bad timeval", BADPTR, NULL);
  T(gettimeofday, "a bad timezone", &tv, BADPTR);
  time_t tt = 0;
  syscall(SYS_clock_gettime, CLOCK_REALTIME, &rt);
  long now = syscall(SYS_time, &tt);
  syscall(SYS_clock_gettime, CLOCK_REALTIME, &rt2);
  /* time() reads the clock as of the last tick: just after a second begins it may still show the one before */
  N(time, "agrees with CLOCK_REALTIME and stores what it returns", "%s %s", now >= rt.tv_sec - 1 && now <= rt2.tv_sec ? "yes" : "no", tt == now ? "yes" : "no");
  N(time, "with a null pointer", "%s", syscall(SYS_time, NULL) >= now ? "yes" : "no");
  T(time, "a bad address", BADPTR);
}

static void sleeps(void) {
  struct timespec d = {0, 20000000}, rem = {9, 9};
  struct timespec a = mono();
  T(nanosleep, "20 ms", &d, &rem);
  N(nanosleep, "slept at least 20 ms", "%s", ms_between(a, mono()) >= 20 ? "yes" : "no");
  struct timespec z = {0, 0};
  T(nanosleep, "zero", &z, NULL);
  struct timespec bad = {0, 1000000000};
  T(nanosleep, "nsec 1000000000", &bad, NULL);
  struct timespec neg = {-1, 0};
  T(nanosleep, "a negative time", &neg, NULL);
  T(nanosleep, "a bad address", BADPTR, NULL);
  signal(SIGALRM, count);
  struct itimerval it = {{0, 0}, {0, 30000}};
  setitimer(ITIMER_REAL, &it, NULL);
  struct timespec longer = {2, 0};
  rem.tv_sec = rem.tv_nsec = 0;
  T(nanosleep, "interrupted by a handled signal", &longer, &rem);
  N(nanosleep, "the time left", "%s", rem.tv_sec == 1 || (rem.tv_sec == 0 && rem.tv_nsec > 0) ? "1-2 s" : "?");
  setitimer(ITIMER_REAL, &it, NULL);
  T(nanosleep, "interrupted, a bad remainder address", &longer, BADPTR);

  a = mono();
  T(clock_nanosleep, "CLOCK_MONOTONIC 20 ms", CLOCK_MONOTONIC, 0, &d, NULL);
  N(clock_nanosleep, "slept at least 20 ms", "%s", ms_between(a, mono()) >= 20 ? "yes" : "no");
  a = mono();
  T(clock_nanosleep, "CLOCK_REALTIME 20 ms", CLOCK_REALTIME, 0, &d, NULL);
  T(clock_nanosleep, "CLOCK_BOOTTIME 20 ms", CLOCK_BOOTTIME, 0, &d, NULL);
  T(clock_nanosleep, "CLOCK_TAI 20 ms", CLOCK_TAI, 0, &d, NULL);
  N(clock_nanosleep, "three sleeps took at least 60 ms", "%s", ms_between(a, mono()) >= 60 ? "yes" : "no");
  struct timespec until = mono();
  until.tv_nsec += 30000000;
  if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
  T(clock_nanosleep, "TIMER_ABSTIME 30 ms ahead", CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
  struct timespec after = mono();
  N(clock_nanosleep, "woke after the deadline", "%s", after.tv_sec > until.tv_sec || (after.tv_sec == until.tv_sec && after.tv_nsec >= until.tv_nsec) ? "yes" : "no");
  T(clock_nanosleep, "TIMER_ABSTIME in the past", CLOCK_MONOTONIC, TIMER_ABSTIME, &z, NULL);
  T(clock_nanosleep, "CLOCK_PROCESS_CPUTIME_ID", CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &z, NULL);
  T(clock_nanosleep, "CLOCK_THREAD_CPUTIME_ID", CLOCK_THREAD_CPUTIME_ID, 0, &d, NULL);
  T(clock_nanosleep, "CLOCK_MONOTONIC_RAW", CLOCK_MONOTONIC_RAW, 0, &d, NULL);
  T(clock_nanosleep, "an unknown clock", 99, 0, &d, NULL);
  T(clock_nanosleep, "nsec 1000000000", CLOCK_MONOTONIC, 0, &bad, NULL);
  T(clock_nanosleep, "a bad address", CLOCK_MONOTONIC, 0, BADPTR, NULL);
  setitimer(ITIMER_REAL, &it, NULL);
  rem.tv_sec = rem.tv_nsec = 0;
  T(clock_nanosleep, "relative, interrupted by a handled signal", CLOCK_MONOTONIC, 0, &longer, &rem);
  N(clock_nanosleep, "the time left", "%s", rem.tv_sec == 1 || (rem.tv_sec == 0 && rem.tv_nsec > 0) ? "1-2 s" : "?");
  until = mono();
  until.tv_sec += 2;
  setitimer(ITIMER_REAL, &it, NULL);
  rem.tv_sec = rem.tv_nsec = 7;
  T(clock_nanosleep, "absolute, interrupted by a handled signal", CLOCK_MONOTONIC, TIMER_ABSTIME, &until, &rem);
  N(clock_nanosleep, "an absolute sleep leaves the remainder alone", "%ld %ld", rem.tv_sec, rem.tv_nsec);
  signal(SIGALRM, SIG_DFL);
}

static void posix_timers(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGALRM);
  sigprocmask(SIG_BLOCK, &set, NULL);
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGUSR1;
  sev.sigev_value.sival_int = 31;
  int id = -1, id2 = -1, id3 = -1;
  T(timer_create, "CLOCK_MONOTONIC, SIGEV_SIGNAL", CLOCK_MONOTONIC, &sev, &id);
  N(timer_create, "the first timer's id", "%d", id);
  T(timer_create, "a null sigevent", CLOCK_REALTIME, NULL, &id2);
  N(timer_create, "the second timer's id", "%d", id2);
  sev.sigev_notify = SIGEV_NONE;
  T(timer_create, "SIGEV_NONE", CLOCK_BOOTTIME, &sev, &id3);
  sev.sigev_notify = SIGEV_SIGNAL;
  int tmp;
  T(timer_create, "an unknown clock", 99, &sev, &tmp);
  sev.sigev_signo = 0;
  T(timer_create, "signal 0", CLOCK_MONOTONIC, &sev, &tmp);
  sev.sigev_signo = 65;
  T(timer_create, "signal 65", CLOCK_MONOTONIC, &sev, &tmp);
  sev.sigev_signo = SIGUSR1;
  sev.sigev_notify = 99;
  T(timer_create, "an unknown notification", CLOCK_MONOTONIC, &sev, &tmp);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_notify_thread_id = 999999;
  T(timer_create, "SIGEV_THREAD_ID of a thread that does not exist", CLOCK_MONOTONIC, &sev, &tmp);
  sev.sigev_notify = SIGEV_SIGNAL;
  T(timer_create, "a bad sigevent", CLOCK_MONOTONIC, BADPTR, &tmp);
  T(timer_create, "a bad id address", CLOCK_MONOTONIC, &sev, BADPTR);

  struct itimerspec its = {{0, 0}, {0, 20000000}}, cur, old;
  T(timer_settime, "20 ms", id, 0, &its, NULL);
  memset(&cur, 0, sizeof cur);
  T(timer_gettime, "while armed", id, &cur);
  N(timer_gettime, "time left", "%s interval %ld", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 20000000 ? "0-20 ms" : "?",
    cur.it_interval.tv_nsec);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  sigset_t u1;
  sigemptyset(&u1);
  sigaddset(&u1, SIGUSR1);
  int sig = sigwaitinfo(&u1, &si);
  N(timer_settime, "the expiry signal", "%s code %d value %d timer %s", sigabbrev_np(sig), si.si_code, si.si_value.sival_int, si.si_timerid == id ? "ours" : "other");
  T(timer_gettime, "after it expired", id, &cur);
  N(timer_gettime, "disarmed", "%ld.%09ld", cur.it_value.tv_sec, cur.it_value.tv_nsec);
  T(timer_gettime, "an unknown timer", 12345, &cur);
  T(timer_gettime, "a bad address", id, BADPTR);
  /* a periodic timer whose signal stays blocked counts overruns */
  struct itimerspec per = {{0, 1000000}, {0, 1000000}};
  T(timer_settime, "periodic 1 ms", id, 0, &per, NULL);
  msleep(60);
  T(timer_getoverrun, "before the signal is taken", id);
  sigwaitinfo(&u1, &si);
  N(timer_getoverrun, "the siginfo counts overruns", "%s", si.si_overrun > 10 ? "over 10" : "10 or fewer");
  N(timer_getoverrun, "after the signal is taken", "%s", syscall(SYS_timer_getoverrun, id) > 10 ? "over 10" : "10 or fewer");
  T(timer_getoverrun, "an unknown timer", 12345);
  memset(&old, 0, sizeof old);
  memset(&its, 0, sizeof its);
  T(timer_settime, "disarm, returning the old value", id, 0, &its, &old);
  N(timer_settime, "the old value", "interval %ld.%09ld", old.it_interval.tv_sec, old.it_interval.tv_nsec);
  struct timespec now;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &now);
  its.it_value = now;
  T(timer_settime, "TIMER_ABSTIME now", id, TIMER_ABSTIME, &its, NULL);
  N(timer_settime, "fires at once", "%s", RES(sigwaitinfo(&u1, &si)));
  its.it_value.tv_nsec = 1000000000;
  T(timer_settime, "nsec 1000000000", id, 0, &its, NULL);
  its.it_value.tv_nsec = 0;
  T(timer_settime, "an unknown timer", 12345, 0, &its, NULL);
  T(timer_settime, "a bad address", id, 0, BADPTR, NULL);
  /* the null sigevent means SIGALRM with the timer id as value */
  struct itimerspec once = {{0, 0}, {0, 1000000}};
  syscall(SYS_timer_settime, id2, 0, &once, NULL);
  sigset_t alrm;
  sigemptyset(&alrm);
  sigaddset(&alrm, SIGALRM);
  memset(&si, 0, sizeof si);
  sig = sigwaitinfo(&alrm, &si);
  N(timer_create, "a null sigevent sends SIGALRM with the id as value", "%s %s", sigabbrev_np(sig), si.si_value.sival_int == id2 ? "yes" : "no");
  /* SIGEV_NONE never signals, but its time still runs */
  syscall(SYS_timer_settime, id3, 0, &once, NULL);
  msleep(5);
  struct timespec zero = {0, 0};
  sigset_t both;
  sigemptyset(&both);
  sigaddset(&both, SIGUSR1);
  sigaddset(&both, SIGALRM);
  N(timer_create, "SIGEV_NONE sends nothing", "%s", RES(sigtimedwait(&both, NULL, &zero)));
  /* SIGEV_THREAD_ID to the caller; CLOCK_PROCESS_CPUTIME_ID counts CPU time */
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
  int cpuid = -1;
  T(timer_create, "CLOCK_PROCESS_CPUTIME_ID, SIGEV_THREAD_ID", CLOCK_PROCESS_CPUTIME_ID, &sev, &cpuid);
  struct itimerspec cpu10 = {{0, 0}, {0, 10000000}};
  syscall(SYS_timer_settime, cpuid, 0, &cpu10, NULL);
  struct timespec w0 = mono();
  sigset_t pend;
  do {
    sigpending(&pend);
  } while (!sigismember(&pend, SIGUSR1) && ms_between(w0, mono()) < 5000);
  N(timer_create, "a CPU-time timer fires after CPU time", "%s", sigismember(&pend, SIGUSR1) ? "yes" : "no");
  sigwaitinfo(&u1, &si);
  T(timer_delete, "one", id);
  T(timer_delete, "it again", id);
  T(timer_delete, "an unknown timer", 12345);
  T(timer_delete, "the others", id2);
  syscall(SYS_timer_delete, id3);
  syscall(SYS_timer_delete, cpuid);
  /* timers are not inherited */
  syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, &id);
  pid_t c = fork_flushed();
  if (c == 0) _exit(syscall(SYS_timer_gettime, id, &cur) < 0 && errno == EINVAL ? 0 : 1);
  N(timer_create, "a child has none of the parent's timers", "%s", reap(c));
  syscall(SYS_timer_delete, id);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static void timerfds(void) {
  long fd = TOK(timerfd_create, "CLOCK_MONOTONIC", CLOCK_MONOTONIC, 0);
  long nb = TOK(timerfd_create, "CLOCK_REALTIME, TFD_NONBLOCK|TFD_CLOEXEC", CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  N(timerfd_create, "flags", "%s %s, %s %s", fcntl(fd, F_GETFL) & O_NONBLOCK ? "nonblock" : "block", fcntl(fd, F_GETFD) & FD_CLOEXEC ? "cloexec" : "inherit",
    fcntl(nb, F_GETFL) & O_NONBLOCK ? "nonblock" : "block", fcntl(nb, F_GETFD) & FD_CLOEXEC ? "cloexec" : "inherit");
  long bt = TOK(timerfd_create, "CLOCK_BOOTTIME", CLOCK_BOOTTIME, 0);
  T(timerfd_create, "an unknown clock", 99, 0);
  T(timerfd_create, "CLOCK_PROCESS_CPUTIME_ID", CLOCK_PROCESS_CPUTIME_ID, 0);
  T(timerfd_create, "unknown flags", CLOCK_MONOTONIC, 0x4);
  uint64_t n = 0;
  T(read, "an unarmed non-blocking timerfd", nb, &n, 8);
  struct itimerspec its = {{0, 0}, {0, 20000000}}, cur, old;
  T(timerfd_settime, "20 ms", fd, 0, &its, NULL);
  T(timerfd_gettime, "while armed", fd, &cur);
  N(timerfd_gettime, "time left", "%s", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 20000000 ? "0-20 ms" : "?");
  T(read, "a buffer of 4 bytes", fd, &n, 4);
  struct timespec a = mono();
  T(read, "blocks until it expires", fd, &n, 8);
  N(timerfd_settime, "one expiry after at least 19 ms", "%llu %s", (unsigned long long)n, ms_between(a, mono()) >= 19 ? "yes" : "no");
  T(timerfd_gettime, "after it expired", fd, &cur);
  N(timerfd_gettime, "disarmed", "%ld.%09ld", cur.it_value.tv_sec, cur.it_value.tv_nsec);
  struct itimerspec per = {{0, 2000000}, {0, 2000000}};
  T(timerfd_settime, "periodic 2 ms", fd, 0, &per, NULL);
  msleep(30);
  struct pollfd pf = {(int)fd, POLLIN, 0};
  int pr = poll(&pf, 1, 0);
  N(timerfd_settime, "poll sees it readable", "%d", pr);
  read(fd, &n, 8);
  N(timerfd_settime, "several expiries are counted", "%s", n >= 5 ? "5 or more" : "fewer");
  memset(&its, 0, sizeof its);
  T(timerfd_settime, "disarm, returning the old value", fd, 0, &its, &old);
  N(timerfd_settime, "the old interval", "%ld.%09ld", old.it_interval.tv_sec, old.it_interval.tv_nsec);
  struct timespec now = mono();
  its.it_value = now;
  T(timerfd_settime, "TFD_TIMER_ABSTIME now", fd, TFD_TIMER_ABSTIME, &its, NULL);
  T(read, "expired at once", fd, &n, 8);
  struct timespec rt;
  syscall(SYS_clock_gettime, CLOCK_REALTIME, &rt);
  its.it_value = rt;
  its.it_value.tv_sec += 100;
  T(timerfd_settime, "TFD_TIMER_ABSTIME|TFD_TIMER_CANCEL_ON_SET on CLOCK_REALTIME", nb, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL);
  T(read, "before it expires", nb, &n, 8);
  T(timerfd_settime, "TFD_TIMER_CANCEL_ON_SET without TFD_TIMER_ABSTIME", nb, TFD_TIMER_CANCEL_ON_SET, &its, NULL);
  T(timerfd_settime, "unknown flags", fd, 0x10, &its, NULL);
  its.it_value.tv_nsec = 1000000000;
  T(timerfd_settime, "nsec 1000000000", fd, 0, &its, NULL);
  its.it_value.tv_nsec = 0;
  T(timerfd_settime, "not a timerfd", 1, 0, &its, NULL);
  T(timerfd_settime, "an fd that is not open", 999, 0, &its, NULL);
  T(timerfd_settime, "a bad address", fd, 0, BADPTR, NULL);
  T(timerfd_gettime, "not a timerfd", 1, &cur);
  T(timerfd_gettime, "a bad address", fd, BADPTR);
  T(timerfd_gettime, "CLOCK_BOOTTIME unarmed", bt, &cur);
  /* a timerfd is shared with a child */
  struct itimerspec ten = {{0, 0}, {0, 10000000}};
  syscall(SYS_timerfd_settime, fd, 0, &ten, NULL);
  pid_t c = fork_flushed();
  if (c == 0) _exit(read(fd, &n, 8) == 8 && n == 1 ? 0 : 1);
  N(timerfd_settime, "a child reads the shared timerfd", "%s", reap(c));
  close(fd);
  close(nb);
  close(bt);
}

static void times_(void) {
  struct tms t;
  memset(&t, 0xff, sizeof t);
  TOK(times, "returns the ticks since an arbitrary point", &t);
  TOK(times, "a null buffer", NULL);
  T(times, "a bad address", BADPTR);
  pid_t c = fork_flushed();
  if (c == 0) {
    struct timespec a = mono();
    while (ms_between(a, mono()) < 150) {
    }
    _exit(0);
  }
  reap(c);
  memset(&t, 0, sizeof t);
  syscall(SYS_times, &t);
  N(times, "a reaped child's CPU time is counted", "%s", t.tms_cutime + t.tms_cstime > 0 ? "yes" : "no");
  long a = syscall(SYS_times, NULL);
  msleep(50);
  long b = syscall(SYS_times, NULL);
  N(times, "the return value advances with time", "%s", b - a >= 4 ? "yes" : "no");
}

int main(int argc, char **argv) {
  (void)argv;
  if (argc < 2) {
    fprintf(stderr, "usage: calls-time DIR\n");
    return 2;
  }
  clocks_();
  sleeps();
  posix_timers();
  timerfds();
  times_();
  return 0;
}
