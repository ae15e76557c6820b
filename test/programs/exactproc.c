/*
 * Linux-exact behaviour of /proc and /sys (issue 9): each subcommand prints
 * one line per case with what the calls returned, for the native and
 * sandboxed runs to be compared line by line.
 *
 *   exactproc DIR SUBCOMMAND     (DIR: a scratch directory the program may use)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exact.h"

/* ---------------------------------------------------------------- seek */

/* Files of each kind Linux has: seq_file (SEEK_END is EINVAL), files and
 * directories that seek as empty, sysfs attributes (a page). */
static const char *const SEEK_PATHS[] = {
    "/proc", "/proc/self", "/proc/self/task", "/proc/self/fd", "/proc/self/ns", "/proc/self/net",
    "/proc/sys", "/proc/sys/kernel", "/sys", "/sys/devices", "/sys/devices/system/cpu",
    "/proc/meminfo", "/proc/stat", "/proc/cpuinfo", "/proc/version", "/proc/uptime", "/proc/filesystems",
    "/proc/self/stat", "/proc/self/status", "/proc/self/statm", "/proc/self/comm", "/proc/self/maps",
    "/proc/self/mounts", "/proc/self/mountinfo", "/proc/self/limits", "/proc/self/uid_map",
    "/proc/self/cgroup", "/proc/self/oom_score", "/proc/self/io", "/proc/self/mem", "/proc/self/fdinfo/0",
    "/proc/self/net/dev", "/proc/self/cmdline", "/proc/self/environ", "/proc/self/auxv",
    "/proc/self/oom_score_adj", "/proc/self/coredump_filter", "/proc/self/loginuid", "/proc/self/sessionid",
    "/proc/sys/kernel/hostname", "/proc/sys/kernel/pid_max", "/proc/sys/net/ipv4/ip_forward",
    "/sys/devices/system/cpu/online", "/sys/kernel/mm/transparent_hugepage/enabled",
};

static void cmd_seek(void) {
  char what[256];
  for (size_t i = 0; i < sizeof SEEK_PATHS / sizeof *SEEK_PATHS; i++) {
    const char *p = SEEK_PATHS[i];
    int fd = open(p, O_RDONLY);
    if (fd < 0) {
      printf("%s: open -1 %s\n", p, strerrorname_np(errno));
      continue;
    }
    snprintf(what, sizeof what, "%s SEEK_END 0", p);
    R(what, lseek(fd, 0, SEEK_END));
    snprintf(what, sizeof what, "%s SEEK_END 10", p);
    R(what, lseek(fd, 10, SEEK_END));
    snprintf(what, sizeof what, "%s SEEK_END -1", p);
    R(what, lseek(fd, -1, SEEK_END));
    snprintf(what, sizeof what, "%s SEEK_CUR after", p);
    R(what, lseek(fd, 0, SEEK_CUR));
    snprintf(what, sizeof what, "%s SEEK_DATA 0", p);
    R(what, lseek(fd, 0, SEEK_DATA));
    snprintf(what, sizeof what, "%s SEEK_HOLE 1", p);
    R(what, lseek(fd, 1, SEEK_HOLE));
    snprintf(what, sizeof what, "%s whence 7", p);
    R(what, lseek(fd, 0, 7));
    close(fd);
  }
  /* the offset SEEK_END set is the one read from: at the end, nothing */
  int fd = open("/proc/self/cmdline", O_RDONLY);
  char buf[64];
  R("cmdline read after SEEK_END 1", (lseek(fd, 1, SEEK_END), read(fd, buf, sizeof buf)));
  R("cmdline read after SEEK_SET 0", (lseek(fd, 0, SEEK_SET), read(fd, buf, 1)));
  close(fd);
  fd = open("/proc/self", O_PATH);
  R("SEEK_END on an O_PATH fd of /proc/self", lseek(fd, 0, SEEK_END));
  close(fd);
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  D = argv[1];
  const char *cmd = argv[2];
  if (!strcmp(cmd, "seek")) cmd_seek();
  else return 2;
  return 0;
}
