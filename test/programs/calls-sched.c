/*
 * Scheduling: sched_yield, affinity, policies and parameters, priority
 * ranges, the round-robin interval, sched_getattr/sched_setattr. Case lines
 * as test/programs/calls.h says; CPU sets are printed only as relations.
 *
 *   calls-sched DIR   (DIR: a scratch directory; unused here)
 */
#include "calls.h"
#include <sched.h>
#include <stdint.h>

struct attr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
  uint32_t util_min, util_max;
};

static void yields(void) {
  T(sched_yield, "once");
  T(sched_yield, "again");
}

static void affinity(void) {
  cpu_set_t set, got;
  CPU_ZERO(&set);
  long n = T(sched_getaffinity, "of itself (bytes written)", 0, sizeof set, &set);
  N(sched_getaffinity, "at least one CPU", "%s", n > 0 && CPU_COUNT(&set) > 0 ? "yes" : "no");
  T(sched_getaffinity, "a buffer smaller than the kernel's mask", 0, 1, &set);
  T(sched_getaffinity, "a size that is not a multiple of 8", 0, 12, &set);
  T(sched_getaffinity, "a pid that does not exist", 999999, sizeof set, &set);
  T(sched_getaffinity, "a bad address", 0, sizeof set, BADPTR);
  int first = -1;
  for (int i = 0; i < CPU_SETSIZE; i++)
    if (CPU_ISSET(i, &set)) {
      first = i;
      break;
    }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  T(sched_setaffinity, "to its first CPU", 0, sizeof one, &one);
  CPU_ZERO(&got);
  syscall(SYS_sched_getaffinity, 0, sizeof got, &got);
  N(sched_setaffinity, "read back: one CPU, the first", "%d %s", CPU_COUNT(&got), CPU_ISSET(first, &got) ? "yes" : "no");
  pid_t c = fork_flushed();
  if (c == 0) {
    cpu_set_t k;
    CPU_ZERO(&k);
    syscall(SYS_sched_getaffinity, 0, sizeof k, &k);
    _exit(CPU_COUNT(&k));
  }
  N(sched_setaffinity, "inherited by a child", "%s", reap(c));
  cpu_set_t none;
  CPU_ZERO(&none);
  T(sched_setaffinity, "an empty set", 0, sizeof none, &none);
  cpu_set_t far;
  CPU_ZERO(&far);
  CPU_SET(1000, &far);
  T(sched_setaffinity, "only a CPU that does not exist", 0, sizeof far, &far);
  T(sched_setaffinity, "a pid that does not exist", 999999, sizeof one, &one);
  T(sched_setaffinity, "a bad address", 0, sizeof one, BADPTR);
  T(sched_setaffinity, "back to all", 0, sizeof set, &set);
  c = fork_flushed();
  if (c == 0) {
    if (setresuid(65534, 65534, 65534) < 0) _exit(1);
    T(sched_setaffinity, "of root's process, unprivileged", getppid(), sizeof one, &one);
    T(sched_getaffinity, "of root's process, unprivileged (allowed)", getppid(), sizeof set, &set);
    _exit(0);
  }
  reap(c);
}

static void policies(void) {
  struct sched_param p = {0};
  T(sched_getscheduler, "of itself", 0);
  T(sched_getscheduler, "a pid that does not exist", 999999);
  T(sched_getscheduler, "a negative pid", -1);
  T(sched_getparam, "of itself", 0, &p);
  N(sched_getparam, "priority", "%d", p.sched_priority);
  T(sched_getparam, "a pid that does not exist", 999999, &p);
  T(sched_getparam, "a null param", 0, NULL);
  T(sched_getparam, "a bad address", 0, BADPTR);
  T(sched_get_priority_max, "SCHED_OTHER", SCHED_OTHER);
  T(sched_get_priority_max, "SCHED_FIFO", SCHED_FIFO);
  T(sched_get_priority_max, "SCHED_RR", SCHED_RR);
  T(sched_get_priority_max, "SCHED_BATCH", SCHED_BATCH);
  T(sched_get_priority_max, "SCHED_IDLE", SCHED_IDLE);
  T(sched_get_priority_max, "an unknown policy", 42);
  T(sched_get_priority_min, "SCHED_OTHER", SCHED_OTHER);
  T(sched_get_priority_min, "SCHED_FIFO", SCHED_FIFO);
  T(sched_get_priority_min, "SCHED_RR", SCHED_RR);
  T(sched_get_priority_min, "an unknown policy", -3);
  T(sched_setscheduler, "SCHED_FIFO priority 1 as root", 0, SCHED_FIFO, &(struct sched_param){1});
  p.sched_priority = 0;
  T(sched_setscheduler, "SCHED_BATCH", 0, SCHED_BATCH, &p);
  T(sched_getscheduler, "after SCHED_BATCH", 0);
  T(sched_setscheduler, "SCHED_IDLE", 0, SCHED_IDLE, &p);
  T(sched_getscheduler, "after SCHED_IDLE", 0);
  T(sched_setscheduler, "SCHED_OTHER with priority 5", 0, SCHED_OTHER, &(struct sched_param){5});
  T(sched_setscheduler, "an unknown policy", 0, 42, &p);
  T(sched_setscheduler, "a null param", 0, SCHED_OTHER, NULL);
  T(sched_setscheduler, "a pid that does not exist", 999999, SCHED_OTHER, &p);
  T(sched_setscheduler, "SCHED_FIFO priority 0", 0, SCHED_FIFO, &p);
  T(sched_setscheduler, "SCHED_FIFO priority 100", 0, SCHED_FIFO, &(struct sched_param){100});
  T(sched_setparam, "priority 0 under SCHED_IDLE", 0, &p);
  T(sched_setparam, "priority 3 under SCHED_IDLE", 0, &(struct sched_param){3});
  T(sched_setparam, "a null param", 0, NULL);
  T(sched_setparam, "a pid that does not exist", 999999, &p);
  T(sched_setparam, "a bad address", 0, BADPTR);
  struct timespec ts = {-1, -1};
  T(sched_rr_get_interval, "of itself", 0, &ts);
  N(sched_rr_get_interval, "under SCHED_IDLE", "%ld.%09ld", ts.tv_sec, ts.tv_nsec);
  T(sched_rr_get_interval, "a pid that does not exist", 999999, &ts);
  T(sched_rr_get_interval, "a negative pid", -1, &ts);
  T(sched_rr_get_interval, "a bad address", 0, BADPTR);
  pid_t c = fork_flushed();
  if (c == 0) {
    if (setresuid(65534, 65534, 65534) < 0) _exit(1);
    T(sched_setscheduler, "SCHED_OTHER from SCHED_IDLE, unprivileged", 0, SCHED_OTHER, &p);
    T(sched_setscheduler, "SCHED_BATCH unprivileged", 0, SCHED_BATCH, &p);
    T(sched_setscheduler, "of root's process, unprivileged", getppid(), SCHED_BATCH, &p);
    _exit(0);
  }
  reap(c);
}

static void attrs(void) {
  struct attr a;
  memset(&a, 0xff, sizeof a);
  T(sched_getattr, "of itself", 0, &a, sizeof a, 0);
  N(sched_getattr, "values", "size %u policy %u flags %llu nice %d prio %u", a.size, a.sched_policy, (unsigned long long)a.sched_flags, a.sched_nice,
    a.sched_priority);
  T(sched_getattr, "a size below the first version", 0, &a, 8, 0);
  T(sched_getattr, "nonzero flags", 0, &a, sizeof a, 1);
  T(sched_getattr, "a pid that does not exist", 999999, &a, sizeof a, 0);
  T(sched_getattr, "a bad address", 0, BADPTR, sizeof a, 0);
  struct attr s;
  memset(&s, 0, sizeof s);
  s.size = 48;
  s.sched_policy = SCHED_BATCH;
  s.sched_nice = 7;
  T(sched_setattr, "SCHED_BATCH nice 7", 0, &s, 0);
  memset(&a, 0, sizeof a);
  syscall(SYS_sched_getattr, 0, &a, sizeof a, 0);
  N(sched_setattr, "read back", "policy %u nice %d", a.sched_policy, a.sched_nice);
  T(getpriority, "shows the nice value", 0, 0);
  s.sched_policy = 42;
  T(sched_setattr, "an unknown policy", 0, &s, 0);
  s.sched_policy = SCHED_OTHER;
  T(sched_setattr, "nonzero flags argument", 0, &s, 1);
  s.size = 20;
  T(sched_setattr, "a size below the first version", 0, &s, 0);
  N(sched_setattr, "the size the kernel wants is written back", "%u", s.size);
  s.size = 48;
  T(sched_setattr, "a pid that does not exist", 999999, &s, 0);
  T(sched_setattr, "a null attr", 0, NULL, 0);
  s.sched_flags = 0x10000;
  T(sched_setattr, "unknown sched_flags", 0, &s, 0);
}

int main(int argc, char **argv) {
  (void)argv;
  if (argc < 2) {
    fprintf(stderr, "usage: calls-sched DIR\n");
    return 2;
  }
  yields();
  affinity();
  pid_t c = fork_flushed();
  if (c == 0) {
    policies();
    fflush(stdout);
    _exit(0);
  }
  reap(c);
  c = fork_flushed();
  if (c == 0) {
    attrs();
    fflush(stdout);
    _exit(0);
  }
  reap(c);
  return 0;
}
