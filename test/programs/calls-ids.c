/*
 * Credentials and process attributes: the uid and gid calls, supplementary
 * groups, capabilities, umask, resource limits and usage, sysinfo, getcpu,
 * getrandom, priorities. Case lines as test/programs/calls.h says. Changes
 * of identity are made in children, which drop to the ids of nobody.
 *
 *   calls-ids DIR   (DIR: a scratch directory; unused here)
 */
#include "calls.h"
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>

#define NOBODY 65534

/* Runs fn in a child and waits for it, so that changed ids do not leak. */
static void in_child(void (*fn)(void)) {
  pid_t c = fork_flushed();
  if (c == 0) {
    fn();
    fflush(stdout);
    _exit(0);
  }
  reap(c);
}

static void getters(void) {
  T(getuid, "as root");
  T(geteuid, "as root");
  T(getgid, "as root");
  T(getegid, "as root");
  uid_t r = 9, e = 9, s = 9;
  T(getresuid, "as root", &r, &e, &s);
  N(getresuid, "values", "%u %u %u", r, e, s);
  T(getresuid, "a bad address", &r, BADPTR, &s);
  gid_t gr = 9, ge = 9, gs = 9;
  T(getresgid, "as root", &gr, &ge, &gs);
  N(getresgid, "values", "%u %u %u", gr, ge, gs);
  T(getresgid, "a bad address", BADPTR, &ge, &gs);
}

static void drop_uid(void) {
  T(setuid, "to nobody as root", NOBODY);
  T(getuid, "after setuid");
  T(geteuid, "after setuid");
  uid_t r, e, s;
  syscall(SYS_getresuid, &r, &e, &s);
  N(setuid, "sets all three", "%u %u %u", r, e, s);
  T(setuid, "back to root unprivileged", 0);
  T(setuid, "to its own uid unprivileged", NOBODY);
  T(setreuid, "unprivileged to root", 0, -1);
  T(setresuid, "unprivileged to root", -1, 0, -1);
  T(setresuid, "unprivileged, no change", -1, -1, -1);
  T(setgid, "unprivileged", 0);
  T(setresgid, "unprivileged", 0, 0, 0);
  T(setregid, "unprivileged", 0, 0);
  gid_t g = 0;
  T(setgroups, "unprivileged", 1, &g);
  T(setfsuid, "unprivileged to root returns the old", 0);
  T(setfsuid, "query", -1);
  T(setfsgid, "unprivileged to root returns the old", 0);
  T(capget, "nothing left", 0, 0);
}

static void swap_uids(void) {
  T(setresuid, "as root: 1000 2000 3000", 1000, 2000, 3000);
  uid_t r, e, s;
  syscall(SYS_getresuid, &r, &e, &s);
  N(setresuid, "values", "%u %u %u", r, e, s);
  T(setresuid, "to the saved uid", -1, 3000, -1);
  T(setresuid, "to an id it does not hold", -1, 4000, -1);
  T(setreuid, "swap real and effective", 3000, 1000);
  syscall(SYS_getresuid, &r, &e, &s);
  N(setreuid, "values", "%u %u %u", r, e, s);
  T(setreuid, "to an id it does not hold", 4000, -1);
  T(setuid, "to an id it does not hold", 4000);
  T(setuid, "to its real uid", 3000);
}

static void gids(void) {
  T(setresgid, "as root: 100 200 300", 100, 200, 300);
  gid_t r, e, s;
  syscall(SYS_getresgid, &r, &e, &s);
  N(setresgid, "values", "%u %u %u", r, e, s);
  T(getgid, "after setresgid");
  T(getegid, "after setresgid");
  T(setregid, "as root", 10, 20);
  syscall(SYS_getresgid, &r, &e, &s);
  N(setregid, "values", "%u %u %u", r, e, s);
  T(setgid, "as root", 5);
  syscall(SYS_getresgid, &r, &e, &s);
  N(setgid, "values", "%u %u %u", r, e, s);
  T(setfsgid, "as root returns the old", 7);
  T(setfsgid, "query", -1);
  T(setfsuid, "as root returns the old", 7);
  T(setfsuid, "query", -1);
  T(setresgid, "as root, an id of -2", -2, -1, -1);
  T(setresgid, "as root, 100000", 100000, 100000, 100000);
  T(setregid, "as root, 200000", 200000, 200000);
  T(setgid, "as root, 300000", 300000);
  T(setfsgid, "as root, 400000", 400000);
  T(setfsgid, "query after", -1);
}

static void high_uids(void) {
  T(setfsuid, "as root, 400000", 400000);
  T(setfsuid, "query after", -1);
  T(setresuid, "as root, an id of -2", -1, -1, -2);
  T(setresuid, "as root, 100000", 100000, -1, -1);
  T(setreuid, "as root, 200000", 200000, -1);
  T(setuid, "as root, 300000", 300000);
}

static void groups(void) {
  gid_t list[4] = {1, 2, 3, 4}, got[8];
  T(setgroups, "four groups", 4, list);
  T(getgroups, "count", 0, NULL);
  T(getgroups, "into 8", 8, got);
  N(getgroups, "values", "%u %u %u %u", got[0], got[1], got[2], got[3]);
  T(getgroups, "into a too small buffer", 2, got);
  T(getgroups, "a negative size", -1, got);
  T(getgroups, "a bad address", 8, BADPTR);
  T(setgroups, "none", 0, NULL);
  T(getgroups, "count after none", 0, NULL);
  T(setgroups, "a negative count", -1, list);
  T(setgroups, "more than NGROUPS_MAX", 65537, list);
  T(setgroups, "a bad address", 2, BADPTR);
  gid_t high[2] = {5, 100000};
  T(setgroups, "a group of 100000", 2, high);
}

static void caps(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  T(capget, "of itself, version 3", &h, d);
  N(capget, "CAP_SETUID effective, CAP_SYS_ADMIN permitted", "%d %d", !!(d[0].effective & (1u << CAP_SETUID)), !!(d[0].permitted & (1u << CAP_SYS_ADMIN)));
  h.version = 0x12345678;
  T(capget, "an unknown version", &h, d);
  N(capget, "the version the kernel wants is written back", "%#x", h.version);
  h.version = _LINUX_CAPABILITY_VERSION_3;
  h.pid = 999999;
  T(capget, "of a pid that does not exist", &h, d);
  h.pid = 0;
  T(capget, "a null header", NULL, d);
  T(capget, "a bad data address", &h, BADPTR);
  T(capget, "a null data pointer (a version probe)", &h, NULL);
  h.pid = 1;
  T(capset, "of another process", &h, d);
  h.pid = 0;
  syscall(SYS_capget, &h, d);
  d[0].effective &= ~(1u << CAP_CHOWN);
  T(capset, "drop CAP_CHOWN from the effective set", &h, d);
  struct __user_cap_data_struct now[2];
  syscall(SYS_capget, &h, now);
  N(capset, "CAP_CHOWN effective after", "%d", !!(now[0].effective & (1u << CAP_CHOWN)));
  d[0].permitted &= ~(1u << CAP_KILL);
  d[0].effective &= ~(1u << CAP_KILL);
  T(capset, "drop CAP_KILL from permitted", &h, d);
  d[0].permitted |= 1u << CAP_KILL;
  T(capset, "raise it again", &h, d);
  d[0].effective = d[0].permitted | (1u << CAP_KILL);
  d[0].permitted &= ~(1u << CAP_KILL);
  T(capset, "effective beyond permitted", &h, d);
  T(capset, "a bad data address", &h, BADPTR);
  h.version = 1;
  T(capset, "an unknown version", &h, d);
}

static void masks(void) {
  T(umask, "set 027 returns the old", 027);
  T(umask, "set 0777 returns 027", 0777);
  T(umask, "only the permission bits are kept", 07777);
  T(umask, "back", 022);
}

static void limits(void) {
  struct rlimit rl, old;
  T(getrlimit, "RLIMIT_CORE", RLIMIT_CORE, &rl);
  T(getrlimit, "an unknown resource", 99, &rl);
  T(getrlimit, "a bad address", RLIMIT_CORE, BADPTR);
  rl.rlim_cur = 4096;
  rl.rlim_max = 8192;
  T(setrlimit, "RLIMIT_CORE 4096/8192", RLIMIT_CORE, &rl);
  memset(&old, 0, sizeof old);
  syscall(SYS_getrlimit, RLIMIT_CORE, &old);
  N(setrlimit, "read back", "%lu %lu", (unsigned long)old.rlim_cur, (unsigned long)old.rlim_max);
  rl.rlim_cur = 9000;
  T(setrlimit, "soft above hard", RLIMIT_CORE, &rl);
  T(setrlimit, "an unknown resource", 99, &rl);
  T(setrlimit, "a bad address", RLIMIT_CORE, BADPTR);
  struct rlimit nl = {64, 128};
  T(prlimit64, "RLIMIT_NOFILE of itself, with the old value", 0, RLIMIT_NOFILE, &nl, &old);
  T(prlimit64, "read back", 0, RLIMIT_NOFILE, NULL, &rl);
  N(prlimit64, "values", "%lu %lu", (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);
  T(prlimit64, "of a pid that does not exist", 999999, RLIMIT_NOFILE, NULL, &rl);
  T(prlimit64, "an unknown resource", 0, 99, NULL, &rl);
  T(prlimit64, "a bad new value", 0, RLIMIT_NOFILE, BADPTR, NULL);
  pid_t c = fork_flushed();
  if (c == 0) {
    struct rlimit l = {100, 100};
    syscall(SYS_setrlimit, RLIMIT_CORE, &l);
    if (setresuid(NOBODY, NOBODY, NOBODY) < 0) _exit(1);
    l.rlim_max = 200;
    T(setrlimit, "raise the hard limit unprivileged", RLIMIT_CORE, &l);
    l.rlim_max = 50;
    l.rlim_cur = 50;
    T(setrlimit, "lower it unprivileged", RLIMIT_CORE, &l);
    T(prlimit64, "of root's process, unprivileged", getppid(), RLIMIT_CORE, NULL, &l);
    _exit(0);
  }
  reap(c);
  /* the limit is inherited and enforced */
  c = fork_flushed();
  if (c == 0) {
    struct rlimit l = {4, 4};
    syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &l, NULL);
    int fd = dup(0);
    N(prlimit64, "RLIMIT_NOFILE 4: a dup beyond it", "%s", RV(dup(0)));
    (void)fd;
    _exit(0);
  }
  reap(c);

  struct rusage ru;
  T(getrusage, "RUSAGE_SELF", RUSAGE_SELF, &ru);
  N(getrusage, "maxrss is set", "%s", ru.ru_maxrss > 0 ? "yes" : "no");
  T(getrusage, "RUSAGE_THREAD", 1, &ru);
  T(getrusage, "RUSAGE_CHILDREN", RUSAGE_CHILDREN, &ru);
  T(getrusage, "an unknown who", 7, &ru);
  T(getrusage, "a bad address", RUSAGE_SELF, BADPTR);
}

static void info(void) {
  struct sysinfo si;
  memset(&si, 0, sizeof si);
  T(sysinfo, "of the system", &si);
  struct timespec boot;
  clock_gettime(CLOCK_BOOTTIME, &boot);
  N(sysinfo, "plausible", "totalram %s procs %s unit %u", si.totalram > 0 ? "yes" : "no", si.procs > 0 ? "yes" : "no", si.mem_unit);
  N(sysinfo, "uptime agrees with CLOCK_BOOTTIME", "%s", si.uptime >= boot.tv_sec - 1 && si.uptime <= boot.tv_sec + 1 ? "yes" : "no");
  T(sysinfo, "a bad address", BADPTR);
  unsigned cpu = 999, node = 999;
  T(getcpu, "cpu and node", &cpu, &node, NULL);
  N(getcpu, "in range", "%s node %u", cpu < 1024 ? "yes" : "no", node);
  T(getcpu, "null pointers", NULL, NULL, NULL);
  T(getcpu, "a bad address", BADPTR, NULL, NULL);
  char buf[64];
  T(getrandom, "64 bytes", buf, 64, 0);
  T(getrandom, "GRND_NONBLOCK", buf, 16, GRND_NONBLOCK);
  T(getrandom, "GRND_RANDOM", buf, 16, GRND_RANDOM);
  T(getrandom, "GRND_INSECURE", buf, 16, 0x4);
  T(getrandom, "GRND_INSECURE|GRND_RANDOM", buf, 16, 0x4 | GRND_RANDOM);
  T(getrandom, "unknown flags", buf, 16, 0x80);
  T(getrandom, "a bad address", BADPTR, 16, 0);
  T(getrandom, "zero bytes", buf, 0, 0);
  char a[32], b[32];
  syscall(SYS_getrandom, a, 32, 0);
  syscall(SYS_getrandom, b, 32, 0);
  N(getrandom, "two reads differ", "%s", memcmp(a, b, 32) ? "yes" : "no");
}

static void priorities(void) {
  T(getpriority, "PRIO_PROCESS of itself (20 - nice)", PRIO_PROCESS, 0);
  T(setpriority, "nice 5", PRIO_PROCESS, 0, 5);
  T(getpriority, "after", PRIO_PROCESS, 0);
  T(setpriority, "nice 0 as root", PRIO_PROCESS, 0, 0);
  T(setpriority, "nice 40 is clamped", PRIO_PROCESS, 0, 40);
  T(getpriority, "after the clamp", PRIO_PROCESS, 0);
  T(setpriority, "back to 0", PRIO_PROCESS, 0, 0);
  T(getpriority, "an unknown which", 7, 0);
  T(setpriority, "an unknown which", 7, 0, 0);
  T(getpriority, "a pid that does not exist", PRIO_PROCESS, 999999);
  T(setpriority, "a pid that does not exist", PRIO_PROCESS, 999999, 0);
  T(getpriority, "PRIO_PGRP of its own group", PRIO_PGRP, 0);
  pid_t c = fork_flushed();
  if (c == 0) {
    if (setresuid(NOBODY, NOBODY, NOBODY) < 0) _exit(1);
    T(setpriority, "nicer unprivileged", PRIO_PROCESS, 0, 3);
    T(setpriority, "less nice unprivileged", PRIO_PROCESS, 0, 1);
    T(setpriority, "another user's process, unprivileged", PRIO_PROCESS, getppid(), 1);
    _exit(0);
  }
  reap(c);
}

int main(int argc, char **argv) {
  (void)argv;
  if (argc < 2) {
    fprintf(stderr, "usage: calls-ids DIR\n");
    return 2;
  }
  getters();
  in_child(swap_uids);
  in_child(gids);
  in_child(high_uids);
  in_child(groups);
  in_child(caps);
  pid_t c = fork_flushed();
  if (c == 0) {
    if (syscall(SYS_setgroups, 0, NULL) < 0 || syscall(SYS_setresgid, NOBODY, NOBODY, NOBODY) < 0) _exit(1);
    drop_uid();
    fflush(stdout);
    _exit(0);
  }
  reap(c);
  masks();
  in_child(limits);
  info();
  in_child(priorities);
  return 0;
}
