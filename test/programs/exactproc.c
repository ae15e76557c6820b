/*
 * Linux-exact behaviour of /proc and /sys (issue 9): each subcommand prints
 * one line per case with what the calls returned, for the native and
 * sandboxed runs to be compared line by line.
 *
 *   exactproc DIR SUBCOMMAND     (DIR: a scratch directory the program may use)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/capability.h>
#include <sys/auxv.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
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

/* --------------------------------------------------------------- flags */

/* F_GETFL after opens with each status flag, F_SETFL, and O_DIRECT (refused by /proc's files). */
static void cmd_flags(void) {
  const char *const paths[] = {
      "/proc/cpuinfo", "/proc/self/stat", "/proc/self/cmdline", "/proc/sys/kernel/hostname", "/proc/sys/vm/overcommit_memory",
      "/proc/self/oom_score_adj", "/proc/self/mem", "/proc", "/proc/self", "/proc/self/fd", "/sys/devices",
      "/sys/devices/system/cpu/online", D,
  };
  static const int flags[] = {O_RDONLY, O_RDONLY | O_NONBLOCK, O_RDONLY | O_APPEND, O_RDONLY | O_SYNC, O_RDONLY | O_NOATIME, O_RDONLY | O_DIRECTORY, O_RDONLY | O_DIRECT};
  char what[256];
  for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
    const char *p = i == sizeof paths / sizeof *paths - 1 ? "the scratch directory" : paths[i];
    for (size_t j = 0; j < sizeof flags / sizeof *flags; j++) {
      int fd = open(paths[i], flags[j]);
      snprintf(what, sizeof what, "%s opened %o", p, flags[j]);
      if (fd < 0) {
        report(what, -1, errno);
        continue;
      }
      snprintf(what, sizeof what, "%s opened %o: F_GETFL", p, flags[j]);
      R(what, fcntl(fd, F_GETFL));
      if (j == 0) {
        snprintf(what, sizeof what, "%s: F_GETFL after F_SETFL O_NONBLOCK|O_APPEND", p);
        fcntl(fd, F_SETFL, O_NONBLOCK | O_APPEND);
        R(what, fcntl(fd, F_GETFL));
      }
      close(fd);
    }
  }
}

/* ------------------------------------------------------------- sysstat */

/* Sizes stat shows for sysfs: a page for an attribute, 0 for a directory, no blocks (modes differ: the sandbox's /sys is read-only). */
static void cmd_sysstat(void) {
  static const char *const paths[] = {
      "/sys", "/sys/devices", "/sys/devices/system/cpu", "/sys/devices/system/cpu/online",
      "/sys/devices/system/cpu/possible", "/sys/devices/system/cpu/present",
      "/sys/devices/system/node/node0/cpulist", "/sys/kernel/mm/transparent_hugepage/enabled",
  };
  for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
    struct stat st;
    if (stat(paths[i], &st) < 0) {
      printf("%s: -1 %s\n", paths[i], strerrorname_np(errno));
      continue;
    }
    printf("%s: size %ld blocks %ld\n", paths[i], (long)st.st_size, (long)st.st_blocks);
  }
}

/* ------------------------------------------------------------- dirstat */

/* The entries of /proc/self/fd, the listing's own fd aside. */
static long fd_count(void) {
  DIR *d = opendir("/proc/self/fd");
  long n = -1; /* the listing's own */
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  if (d) closedir(d);
  return n;
}

/* Directory attributes of /proc Linux gives (not /proc/self's or net's nlink: Linux has subdirectories the sandbox lacks). */
static void cmd_dirstat(void) {
  static const char *const paths[] = {
      "/proc/self/fd", "/proc/self/fdinfo", "/proc/self/task", "/proc/self/ns", "/proc/sys", "/proc/sys/kernel", "/proc/sys/vm",
  };
  int extra = open("/dev/null", O_RDONLY);
  for (int round = 0; round < 2; round++) {
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
      struct stat st;
      if (stat(paths[i], &st) < 0) {
        printf("%s: -1 %s\n", paths[i], strerrorname_np(errno));
        continue;
      }
      printf("%s: mode %o nlink %ld", paths[i], st.st_mode, (long)st.st_nlink);
      /* the fd count differs with what the caller passed on */
      if (i == 0) printf(" size is the fd count: %d\n", st.st_size == fd_count());
      else printf(" size %ld\n", (long)st.st_size);
    }
    close(extra);
  }
}

/* ------------------------------------------------------------- fdlinks */

/* The mode of each /proc/self link: fd/N by how the fd was opened (read, write, both, O_PATH, a pipe's ends, a socket), exe, cwd, root, ns. */
static void cmd_fdlinks(void) {
  char file[4096];
  snprintf(file, sizeof file, "%s/f", D);
  close(open(file, O_CREAT | O_WRONLY, 0600));
  int pipefd[2];
  if (pipe(pipefd) < 0) return;
  struct { const char *what; int fd; } fds[] = {
      {"O_RDONLY", open(file, O_RDONLY)},     {"O_WRONLY", open(file, O_WRONLY)},
      {"O_RDWR", open(file, O_RDWR)},         {"O_PATH", open(file, O_PATH)},
      {"directory", open(D, O_RDONLY | O_DIRECTORY)},
      {"pipe read end", pipefd[0]},           {"pipe write end", pipefd[1]},
      {"socket", socket(AF_UNIX, SOCK_STREAM, 0)},
  };
  for (size_t i = 0; i < sizeof fds / sizeof *fds; i++) {
    char link[64];
    struct stat st;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fds[i].fd);
    if (lstat(link, &st) < 0) printf("fd %s: -1 %s\n", fds[i].what, strerrorname_np(errno));
    else printf("fd %s: mode %o\n", fds[i].what, st.st_mode);
  }
  static const char *const links[] = {"/proc/self/exe", "/proc/self/cwd", "/proc/self/root", "/proc/self/ns/pid"};
  for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
    struct stat st;
    if (lstat(links[i], &st) < 0) printf("%s: -1 %s\n", links[i], strerrorname_np(errno));
    else printf("%s: mode %o\n", links[i], st.st_mode);
  }
}

/* ----------------------------------------------------------- accounts */

/* Reads file `path` in one read into buf (size bytes, NUL-terminated): the bytes read, or -1. */
static ssize_t read_text(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n >= 0) buf[n] = 0;
  return n;
}

/* The "name: value" line of /proc file `path`, or -1. */
static long field(const char *path, const char *name) {
  char buf[4096];
  if (read_text(path, buf, sizeof buf) <= 0) return -1;
  size_t len = strlen(name);
  for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
    if (!strncmp(l, name, len) && l[len] == ':') return strtol(l + len + 1, NULL, 10);
  return -1;
}

static void *writer(void *arg) {
  (void)arg;
  int fd = open(at("w"), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  for (int i = 0; i < 50; i++) write(fd, "a", 1);
  close(fd);
  char path[128];
  snprintf(path, sizeof path, "/proc/self/task/%ld/io", (long)syscall(SYS_gettid));
  printf("a thread's task/<tid>/io syscw after 50 writes: %ld\n", field(path, "syscw"));
  return NULL;
}

static void *idle(void *arg) {
  (void)arg;
  char path[128];
  snprintf(path, sizeof path, "/proc/self/task/%ld/io", (long)syscall(SYS_gettid));
  printf("an idle thread's task/<tid>/io syscw: %ld\n", field(path, "syscw"));
  return NULL;
}

/* The uid field of the row of /proc/net/`table` whose local port is `port`. */
static long socket_uid(const char *table, int port) {
  char path[64], line[512];
  snprintf(path, sizeof path, "/proc/net/%s", table);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long uid = -1;
  while (fgets(line, sizeof line, f)) {
    char local[64];
    unsigned long u;
    if (sscanf(line, " %*s %63s %*s %*s %*s %*s %*s %lu", local, &u) != 2) continue;
    char *colon = strrchr(local, ':');
    if (colon && strtol(colon + 1, NULL, 16) == port) uid = (long)u;
  }
  fclose(f);
  return uid;
}

static void cmd_accounts(void) {
  struct stat st;
  R("stat /proc", stat("/proc", &st));
  printf("/proc inode: %lu\n", (unsigned long)st.st_ino);
  pthread_t t;
  pthread_create(&t, NULL, writer, NULL);
  pthread_join(t, NULL);
  pthread_create(&t, NULL, idle, NULL);
  pthread_join(t, NULL);
  const int types[] = {SOCK_STREAM, SOCK_DGRAM};
  const char *tables[] = {"tcp", "udp"};
  for (int i = 0; i < 2; i++) {
    int s = socket(AF_INET, types[i], 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    if (types[i] == SOCK_STREAM) listen(s, 1);
    getsockname(s, (struct sockaddr *)&a, &len);
    printf("/proc/net/%s: uid of the own socket's row: %ld (getuid %d)\n", tables[i], socket_uid(tables[i], ntohs(a.sin_port)), (int)getuid());
    close(s);
  }
}

/* ---------------------------------------------------------------- oom */

/* A write(2) of `len` bytes of `text` to /proc/self/oom_score_adj, through a fresh fd. */
static long oom_write(const char *text, size_t len) {
  int fd = open("/proc/self/oom_score_adj", O_WRONLY);
  if (fd < 0) return -1;
  long r = write(fd, text, len);
  int e = errno;
  close(fd);
  errno = e;
  return r;
}

static long oom_read(const char *file) {
  char path[64], buf[32] = {0};
  snprintf(path, sizeof path, "/proc/self/%s", file);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -100000;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n > 0 ? strtol(buf, NULL, 10) : -100000;
}

/* As LTP's library sets it (fopen, fprintf, fclose), then reads it back. */
static void oom_set(const char *who, int value) {
  FILE *f = fopen("/proc/self/oom_score_adj", "w");
  int ok = f && fprintf(f, "%d", value) > 0;
  if (f && fclose(f)) ok = 0;
  printf("%s: set %d: %s, reads %ld\n", who, value, ok ? "ok" : strerrorname_np(errno), oom_read("oom_score_adj"));
}

/* The cases of a writer without CAP_SYS_RESOURCE (dropped first, whatever the caller held). */
static void cmd_oom(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  syscall(SYS_capget, &h, d);
  d[0].effective &= ~(1u << CAP_SYS_RESOURCE);
  R("drop CAP_SYS_RESOURCE", syscall(SYS_capset, &h, d));
  printf("oom_score_adj: %ld\n", oom_read("oom_score_adj"));
  long score = oom_read("oom_score");
  printf("oom_score within 0..2000: %d\n", score >= 0 && score <= 2000);
  R("write 7", oom_write("7", 1));
  printf("reads %ld\n", oom_read("oom_score_adj"));
  R("write \"8\\0\"", oom_write("8", 2));
  printf("reads %ld\n", oom_read("oom_score_adj"));
  R("write \" 9\\n\"", oom_write(" 9\n", 3));
  R("write 0x10", oom_write("0x10", 4));
  printf("reads %ld\n", oom_read("oom_score_adj"));
  R("write abc", oom_write("abc", 3));
  R("write 1001", oom_write("1001", 4));
  R("write -1001", oom_write("-1001", 5));
  printf("reads %ld\n", oom_read("oom_score_adj"));
  R("write -5, below the floor", oom_write("-5", 2));
  printf("reads %ld\n", oom_read("oom_score_adj"));
  int fd = open("/proc/self/oom_score_adj", O_RDWR);
  char buf[16] = {0};
  R("O_RDWR read", read(fd, buf, sizeof buf - 1));
  printf("O_RDWR read gives %s", buf);
  close(fd);
  oom_set("parent", 600);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    printf("child inherits %ld\n", oom_read("oom_score_adj"));
    oom_set("child", 900);
    fflush(stdout);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  printf("parent keeps %ld\n", oom_read("oom_score_adj"));
}

/* A writer holding CAP_SYS_RESOURCE: LTP's protection of its library process, then its children's. */
static void cmd_oompriv(void) {
  oom_set("parent", -1000);
  printf("oom_score at -1000: %ld\n", oom_read("oom_score"));
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    printf("child inherits %ld\n", oom_read("oom_score_adj"));
    oom_set("child", 0);
    oom_set("child", -500);
    fflush(stdout);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  printf("parent keeps %ld\n", oom_read("oom_score_adj"));
  oom_set("parent", 300);
  oom_set("parent", -200);
}

/* Sets -1000 and holds it (for the host's value to be looked at), until killed. */
static void cmd_oomhold(void) {
  oom_set("held", -1000);
  fflush(stdout);
  for (;;) pause();
}

/* ----------------------------------------------------------- writeless */

static const char *const WRITELESS[] = {
    "/proc/cpuinfo", "/proc/meminfo", "/proc/version", "/proc/stat", "/proc/self/stat",
    "/proc/self/status", "/proc/self/cmdline", "/proc/self/environ", "/proc/self/maps", "/proc/self/limits",
};

/* Files without a write, opened write-only: by root the open succeeds and each write fails; by others the open fails. */
static void cmd_writeless(void) {
  char what[160];
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      fflush(stdout);
      pid_t c = fork();
      if (c > 0) {
        waitpid(c, NULL, 0);
        return;
      }
      R("setresuid(65534)", setresuid(65534, 65534, 65534));
    }
    for (size_t i = 0; i < sizeof WRITELESS / sizeof *WRITELESS; i++) {
      const char *p = WRITELESS[i];
      int fd = open(p, O_WRONLY);
      snprintf(what, sizeof what, "uid %d: open %s O_WRONLY", (int)getuid(), p);
      report(what, fd, errno);
      if (fd < 0) continue;
      snprintf(what, sizeof what, "uid %d: write to %s", (int)getuid(), p);
      R(what, write(fd, "1", 1));
      close(fd);
    }
  }
  fflush(stdout);
  _exit(0);
}

/* ---------------------------------------------------------------- uts */

static void print_file(const char *what, int fd) {
  char buf[128] = {0};
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  printf("%s: %zd %s", what, n, n > 0 ? buf : "\n");
}

/* One of /proc/sys/kernel/{hostname,domainname} while `set` changes its name.
 * (Whether a poller refires is not compared: Linux counts the changes of
 * every UTS namespace of the machine together.) */
static void uts_case(const char *file, int (*set)(const char *, size_t), const char *name) {
  char path[64];
  snprintf(path, sizeof path, "/proc/sys/kernel/%s", file);
  int fd1 = open(path, O_RDONLY), fd2 = open(path, O_RDONLY);
  int ep1 = epoll_create1(0), ep2 = epoll_create1(0);
  struct epoll_event ev = {0};
  R("epoll_ctl ADD, no events", epoll_ctl(ep1, EPOLL_CTL_ADD, fd1, &ev));
  R("epoll_ctl ADD, a second fd", epoll_ctl(ep2, EPOLL_CTL_ADD, fd2, &ev));
  R("epoll_wait before a change", epoll_wait(ep1, &ev, 1, 0));
  R("set the name", set(name, strlen(name)));
  for (int i = 0; i < 2; i++) {
    int ep = i ? ep2 : ep1;
    memset(&ev, 0, sizeof ev);
    R("epoll_wait after the change", epoll_wait(ep, &ev, 1, 5000));
    printf("events: EPOLLERR %d\n", (ev.events & EPOLLERR) != 0);
  }
  print_file("the fd opened before reads", fd1);
  int fd3 = open(path, O_RDONLY);
  print_file("a new fd reads", fd3);
  struct utsname u;
  uname(&u);
  printf("uname: %s %s\n", u.nodename, u.domainname);
  close(fd1), close(fd2), close(fd3), close(ep1), close(ep2);
}

/* Run natively in a UTS namespace of its own (the test starts it under unshare -u). */
static void cmd_uts(void) {
  uts_case("hostname", sethostname, "exactproc-host");
  uts_case("domainname", setdomainname, "exactproc-domain");
}

/* --------------------------------------------------------------- auxv */

/* /proc/self/auxv is the vector the process got: every entry as getauxval
 * reads it from the process's own stack (AT_EXECFN included), in the
 * process and in a child it forks. */
static void auxv_compare(const char *who) {
  unsigned long v[2 * 128];
  int fd = open("/proc/self/auxv", O_RDONLY);
  ssize_t n = fd < 0 ? -1 : read(fd, v, sizeof v);
  if (fd >= 0) close(fd);
  int entries = 0, differ = 0;
  for (ssize_t i = 0; (i + 1) * 16 <= n && v[2 * i] != 0; i++) {
    entries++;
    /* glibc's getauxval(AT_HWCAP) is its own idea of the hardware's capabilities */
    if (v[2 * i] != AT_HWCAP && v[2 * i + 1] != getauxval(v[2 * i])) {
      differ++;
      printf("%s: entry %lu differs from getauxval\n", who, v[2 * i]);
    }
  }
  printf("%s: entries read: %s, differing: %d\n", who, entries > 10 ? "more than 10" : "10 or fewer", differ);
  printf("%s: AT_EXECFN names this program: %d\n", who, strstr((const char *)getauxval(AT_EXECFN), "exactproc") != NULL);
}

static void cmd_auxv(void) {
  auxv_compare("process");
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    auxv_compare("forked child");
    fflush(stdout);
    _exit(0);
  }
  waitpid(c, NULL, 0);
}

/* A child that pauses forever, returned once it runs (-1: none). */
static pid_t paused_child(void) {
  int ready[2];
  if (pipe(ready) < 0) return -1;
  pid_t c = fork();
  if (c == 0) {
    if (write(ready[1], "x", 1) != 1) _exit(1);
    for (;;) pause();
  }
  char b;
  ssize_t n = read(ready[0], &b, 1);
  close(ready[0]);
  close(ready[1]);
  return n == 1 ? c : -1;
}

/* ------------------------------------------------------------- states */

/* Process `c`'s state letter and name from /proc/<c>/stat (the name may hold ") "). */
static char stat_state(pid_t c, char *comm, size_t size) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", c);
  if (read_text(path, buf, sizeof buf) <= 0) return '?';
  char *open = strchr(buf, '('), *close = strrchr(buf, ')');
  if (!open || !close || close[1] != ' ') return '?';
  snprintf(comm, size, "%.*s", (int)(close - open - 1), open + 1);
  return close[2];
}

/* The State: line of /proc/<c>/status. */
static void print_status_state(const char *what, pid_t c) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/status", c);
  if (read_text(path, buf, sizeof buf) <= 0) return;
  char *l = strstr(buf, "\nState:");
  printf("%s: %.*s\n", what, l ? (int)strcspn(l + 1, "\n") : 0, l ? l + 1 : "");
}

/* Polls `c` until it sleeps (2 s at most; running and stopped are passing states): the state then. */
static char state_asleep(pid_t c) {
  char comm[64], st = '?';
  for (int i = 0; i < 200 && (st = stat_state(c, comm, sizeof comm)) != 'S'; i++) usleep(10000);
  return st;
}

/* A process's state letter as Linux shows it: stopped by a signal it is 'T',
 * never a tracer's 't' (nothing traces it); right after its exec (its
 * close-on-exec pipe seen closed) it shows the new program's name. */
static void cmd_states(void) {
  char comm[64];
  pid_t c = paused_child();
  if (c < 0) return;
  printf("paused: %c\n", state_asleep(c));
  kill(c, SIGSTOP);
  int status;
  waitpid(c, &status, WUNTRACED);
  printf("stopped: %c\n", stat_state(c, comm, sizeof comm));
  print_status_state("stopped", c);
  kill(c, SIGCONT);
  waitpid(c, &status, WCONTINUED);
  printf("continued: %c\n", state_asleep(c));
  print_status_state("continued", c);
  kill(c, SIGKILL);
  waitpid(c, &status, 0);
  /* a copy made here: in a sandbox, a file of its in-memory overlay */
  const char *copy = at("x) 1 2 (y");
  int in = open("/bin/sleep", O_RDONLY), out = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, n) != n) return;
  close(in);
  close(out);
  const char *const programs[] = {"/bin/sleep", copy};
  for (int k = 0; k < 2; k++) {
    const char *name = strrchr(programs[k], '/') + 1;
    int renamed = 0, traced = 0;
    enum { EXECS = 50 };
    for (int i = 0; i < EXECS; i++) {
      int sync[2];
      if (pipe2(sync, O_CLOEXEC) < 0) return;
      pid_t e = fork();
      if (e == 0) {
        execl(programs[k], name, "5", (char *)NULL);
        _exit(127);
      }
      close(sync[1]);
      char b;
      while (read(sync[0], &b, 1) > 0) {}
      close(sync[0]);
      char st = stat_state(e, comm, sizeof comm);
      renamed += !strcmp(comm, name);
      traced += st == 't';
      kill(e, SIGKILL);
      waitpid(e, &status, 0);
    }
    printf("after exec of %s: named so %d of %d, in a tracing stop %d\n", name, renamed, EXECS, traced);
  }
}

/* ------------------------------------------------------------- zombie */

/* /proc/<pid> files opened while the child runs and read once it is a
 * zombie: those that show its memory (cmdline, environ, maps, smaps) read
 * nothing, the others still read. (A seq_file read on after a first read
 * gives what that read buffered: not compared for maps and smaps.) */
static void cmd_zombie(void) {
  static const char *const names[] = {"cmdline", "environ", "maps", "smaps", "comm", "stat", "status", "statm"};
  enum { N = sizeof names / sizeof *names };
  pid_t c = paused_child();
  if (c < 0) return;
  int fds[2][N];
  char path[64], buf[64], what[128];
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < N; i++) {
      snprintf(path, sizeof path, "/proc/%d/%s", c, names[i]);
      fds[k][i] = open(path, O_RDONLY);
    }
  /* one of each read while it runs, from the start */
  for (int i = 0; i < N; i++) {
    snprintf(what, sizeof what, "%s while running: read more than 0", names[i]);
    ssize_t n = read(fds[0][i], buf, sizeof buf);
    report(what, n < 0 ? n : n > 0, errno);
  }
  kill(c, SIGKILL);
  siginfo_t si;
  waitid(P_PID, c, &si, WEXITED | WNOWAIT);
  for (int i = 0; i < N; i++) {
    snprintf(what, sizeof what, "%s of the zombie, fd opened before: read more than 0", names[i]);
    ssize_t n = read(fds[1][i], buf, sizeof buf);
    report(what, n < 0 ? n : n > 0, errno);
    if (!strcmp(names[i], "maps") || !strcmp(names[i], "smaps")) continue;
    snprintf(what, sizeof what, "%s of the zombie, read on: read more than 0", names[i]);
    n = read(fds[0][i], buf, sizeof buf);
    report(what, n < 0 ? n : n > 0, errno);
  }
  waitpid(c, NULL, 0);
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < N; i++) close(fds[k][i]);
}

/* ----------------------------------------------------------- boottime */

static double proc_uptime(void) {
  double up = -1;
  FILE *f = fopen("/proc/uptime", "r");
  if (f) {
    if (fscanf(f, "%lf", &up) != 1) up = -1;
    fclose(f);
  }
  return up;
}

static long long proc_btime(void) {
  long long b = -1;
  char line[256];
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "btime %lld", &b) == 1) break;
  fclose(f);
  return b;
}

/* Field 22 of /proc/PID/stat: the start time in ticks after boot. */
static long long start_ticks(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  if (read_text(path, buf, sizeof buf) <= 0) return -1;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  p += 2;
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return -1;
    p++;
  }
  return atoll(p);
}

static const char *yes(int c) { return c ? "yes" : "no"; }

/* The clock a process's start time counts on is the one /proc/uptime,
 * sysinfo and /proc/stat's btime count on (USER_HZ is 100): a child started
 * now started at the uptime, btime plus its start time is the wall-clock
 * time, start times do not change between reads and a child's is not
 * before its parent's. */
static void cmd_boottime(void) {
  pid_t c = paused_child();
  if (c < 0) return;
  double up = proc_uptime();
  long long btime = proc_btime();
  time_t now = time(NULL);
  struct sysinfo si;
  R("sysinfo", sysinfo(&si));
  long long self = start_ticks(getpid()), child = start_ticks(c);
  printf("uptime read: %s\n", yes(up > 0));
  printf("sysinfo uptime within 1 s of /proc/uptime: %s\n", yes(si.uptime >= (long)up - 1 && si.uptime <= (long)up + 1));
  printf("start times read: %s\n", yes(self >= 0 && child >= 0));
  printf("child's start time not before its parent's: %s\n", yes(child >= self));
  printf("child started within 1 s before the uptime: %s\n", yes(child <= up * 100 + 1 && child >= up * 100 - 100));
  printf("btime plus the child's start time within 2 s of the time: %s\n", yes(btime > 0 && llabs(btime + child / 100 - (long long)now) <= 2));
  printf("start time the same when read again: %s\n", yes(start_ticks(c) == child && start_ticks(getpid()) == self));
  kill(c, SIGKILL);
  waitpid(c, NULL, 0);
}

/* ------------------------------------------------------------- sysctl */

/* Runs f as root of a new user namespace whose root is host uid 100000, not
 * the host's root: as the sandbox's root, it holds no capability over the
 * host's network namespace and is not its owner. In the sandbox, which
 * refuses new user namespaces (EPERM), f runs as it is. */
static void as_unmapped_root(void (*f)(void)) {
  int ready[2], mapped[2];
  if (pipe(ready) < 0 || pipe(mapped) < 0) return;
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    char made = unshare(CLONE_NEWUSER) == 0, b;
    if (write(ready[1], &made, 1) != 1) _exit(1);
    if (made && (read(mapped[0], &b, 1) != 1 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) _exit(1);
    f();
    fflush(stdout);
    _exit(0);
  }
  char made = 0;
  if (read(ready[0], &made, 1) == 1 && made) {
    static const char *const maps[] = {"uid_map", "gid_map"};
    for (int i = 0; i < 2; i++) {
      char path[64];
      snprintf(path, sizeof path, "/proc/%d/%s", c, maps[i]);
      int fd = open(path, O_WRONLY);
      if (fd < 0 || write(fd, "0 100000 1\n", 11) != 11) fprintf(stderr, "exactproc: cannot write %s\n", path);
      close(fd);
    }
    if (write(mapped[1], "x", 1) != 1) return;
  }
  waitpid(c, NULL, 0);
}

/* /proc/sys is accessed by its mode bits alone (sysctl_perm), with no
 * capability overriding them; a net sysctl's are the others' for a process
 * that neither holds CAP_NET_ADMIN over the network namespace nor is its
 * root (net_ctl_permissions). */
static void sysctl_access(void) {
  static const char *const paths[] = {
      "/proc/sys", "/proc/sys/kernel", "/proc/sys/net", "/proc/sys/net/ipv4", "/proc/sys/net/core",
      "/proc/sys/kernel/ngroups_max", "/proc/sys/kernel/osrelease", "/proc/sys/net/ipv4/ip_local_port_range",
      "/proc/sys/net/ipv4/tcp_sack", "/proc/sys/net/core/somaxconn",
  };
  static const struct { const char *name; int mode; } modes[] = {
      {"R_OK", R_OK}, {"W_OK", W_OK}, {"X_OK", X_OK}, {"R_OK|W_OK", R_OK | W_OK}, {"F_OK", F_OK},
  };
  char what[256];
  for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
      snprintf(what, sizeof what, "access(%s, %s)", paths[i], modes[m].name);
      R(what, access(paths[i], modes[m].mode));
      snprintf(what, sizeof what, "faccessat2(%s, %s, AT_EACCESS)", paths[i], modes[m].name);
      R(what, faccessat(AT_FDCWD, paths[i], modes[m].mode, AT_EACCESS));
      snprintf(what, sizeof what, "faccessat(%s, %s)", paths[i], modes[m].name);
      R(what, syscall(SYS_faccessat, AT_FDCWD, paths[i], modes[m].mode));
    }
    static const struct { const char *name; int flags; } opens[] = {{"O_RDONLY", O_RDONLY}, {"O_WRONLY", O_WRONLY}, {"O_RDWR", O_RDWR}};
    for (size_t o = 0; o < sizeof opens / sizeof *opens; o++) {
      int fd = open(paths[i], opens[o].flags);
      snprintf(what, sizeof what, "open(%s, %s)", paths[i], opens[o].name);
      report(what, fd < 0 ? fd : 0, errno);
      if (fd >= 0) close(fd);
    }
  }
}

static void cmd_sysctl(void) {
  as_unmapped_root(sysctl_access);
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  D = argv[1];
  const char *cmd = argv[2];
  if (!strcmp(cmd, "seek")) cmd_seek();
  else if (!strcmp(cmd, "accounts")) cmd_accounts();
  else if (!strcmp(cmd, "oom")) cmd_oom();
  else if (!strcmp(cmd, "oompriv")) cmd_oompriv();
  else if (!strcmp(cmd, "oomhold")) cmd_oomhold();
  else if (!strcmp(cmd, "uts")) cmd_uts();
  else if (!strcmp(cmd, "sysctl")) cmd_sysctl();
  else if (!strcmp(cmd, "auxv")) cmd_auxv();
  else if (!strcmp(cmd, "zombie")) cmd_zombie();
  else if (!strcmp(cmd, "states")) cmd_states();
  else if (!strcmp(cmd, "boottime")) cmd_boottime();
  else if (!strcmp(cmd, "writeless")) cmd_writeless();
  else if (!strcmp(cmd, "sysstat")) cmd_sysstat();
  else if (!strcmp(cmd, "dirstat")) cmd_dirstat();
  else if (!strcmp(cmd, "flags")) cmd_flags();
  else if (!strcmp(cmd, "fdlinks")) cmd_fdlinks();
  else return 2;
  return 0;
}
