/*
 * Case lines for the syscall conformance programs (test/programs/calls-*.c),
 * which test/e2e/calls.test.ts runs natively and under tsvisor do and
 * compares line by line.
 *
 * Every line a program prints is one case, "NAME WHAT: RESULT", where NAME
 * is the system call the case is about. A syscall-tables/syscalls.json row
 * marked `full` lists the program; test/syscall-table.test.ts checks that
 * the program's source has cases for the call (the macros below, whose
 * first argument must be a syscall name: each uses SYS_<name>, so a wrong
 * name does not compile), and calls.test.ts that every run printed them and
 * that the program really made the call natively (strace).
 *
 *   T(name, what, args...)    makes the call through syscall(2) and prints
 *                             its result: the value, or "-1 ENAME"
 *   TOK(name, what, args...)  the same, but prints "ok" for any value >= 0
 *                             (pids, fds and addresses that differ by run)
 *   N(name, what, fmt, ...)   prints what the program found out about the
 *                             call some other way (a wrapper, a relation
 *                             between results, a side effect)
 *
 * Nothing printed may depend on pids, addresses, times or the host.
 */
#ifndef CALLS_H
#define CALLS_H
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#define UNUSED __attribute__((unused))

static void case_line(const char *name, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void case_line(const char *name, const char *what, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("%s %s: ", name, what);
  vprintf(fmt, ap);
  putchar('\n');
  va_end(ap);
  fflush(stdout);
}

/* The result of a call as printed: "-1 ENAME" or the value (or "ok"). */
static const char *result_of(long r, int e, int ok_only) {
  static char buf[8][64];
  static int k;
  k = (k + 1) % 8;
  if (r < 0) snprintf(buf[k], sizeof buf[k], "-1 %s", strerrorname_np(e) ? strerrorname_np(e) : "E?");
  else if (ok_only) snprintf(buf[k], sizeof buf[k], "ok");
  else snprintf(buf[k], sizeof buf[k], "%ld", r);
  return buf[k];
}

static long case_call(const char *name, const char *what, long r, int ok_only) {
  int e = errno;
  case_line(name, what, "%s", result_of(r, e, ok_only));
  errno = e;
  return r;
}

#define T(name, what, ...) case_call(#name, what, (errno = 0, syscall(SYS_##name, ##__VA_ARGS__)), 0)
#define TOK(name, what, ...) case_call(#name, what, (errno = 0, syscall(SYS_##name, ##__VA_ARGS__)), 1)
#define N(name, what, ...) ((void)SYS_##name, case_line(#name, what, __VA_ARGS__))

/* RES(expr): the result of an expression that sets errno, as printed. */
UNUSED static const char *result_now(long r, int ok_only) { return result_of(r, errno, ok_only); }
#define RES(expr) result_now((errno = 0, (long)(expr)), 0)
#define RESOK(expr) result_now((errno = 0, (long)(expr)), 1)
/* RV(r): a result already in hand, with the errno the call left. */
#define RV(r) result_now((r), 0)

/* A wait status as printed: "exit N", "signal NAME", "stopped NAME", "continued". */
UNUSED static const char *status_of(int st) {
  static char buf[4][48];
  static int k;
  k = (k + 1) % 4;
  if (WIFEXITED(st)) snprintf(buf[k], sizeof buf[k], "exit %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) snprintf(buf[k], sizeof buf[k], "signal %s%s", sigabbrev_np(WTERMSIG(st)), WCOREDUMP(st) ? " core" : "");
  else if (WIFSTOPPED(st)) snprintf(buf[k], sizeof buf[k], "stopped %s", sigabbrev_np(WSTOPSIG(st)));
  else if (WIFCONTINUED(st)) snprintf(buf[k], sizeof buf[k], "continued");
  else snprintf(buf[k], sizeof buf[k], "status %#x", st);
  return buf[k];
}

/* Waits for a child and returns its status as printed. */
UNUSED static const char *reap(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, __WALL) < 0) {
    if (errno != EINTR) return "waitpid failed";
  }
  return status_of(st);
}

/* fork() with stdout flushed first, so a child never repeats buffered lines. */
UNUSED static pid_t fork_flushed(void) {
  fflush(stdout);
  return fork();
}

/* Sleeps ms milliseconds (through EINTR). */
UNUSED static void msleep(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

/* An address no mapping covers. */
#define BADPTR ((void *)8)

#endif
