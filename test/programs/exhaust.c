/* Adversarial guests for test/e2e/exhaustion.test.ts: each mode tries to
 * exhaust one resource and prints what it got, one "key value" line at a
 * time, so the test can compare with the same program run natively (on a
 * real tmpfs mounted with the same size=) or check the errno.
 *
 *   fill PATH write|fallocate|fallocate-steps|ftruncate-mmap|mmap-extend|pwrite-far
 *   statfs PATH
 *   nodes DIR file|dir|symlink|link|fifo [MAX]
 *                            (until one fails, then removes them; with MAX, stops there and keeps them)
 *   xattr PATH               (one node: value sizes, then many names)
 *   xattr-nodes DIR          (many nodes with big xattrs)
 *   hold-files DIR N SECS    (create N files in DIR and hold them all open SECS seconds)
 *   hold-dirs DIR N SECS     (open and list directory DIR N times, holding the fds SECS seconds)
 *   cycle-dirs DIR N         (open, list and close DIR N times)
 *   cycle-files DIR N        (create, open, write, close and unlink N files)
 *   negative-stat DIR N      (stat N names that do not exist)
 *   fd-pressure K PATH       (K processes at once make the Sentry hold an fd each, then
 *                             open, read and list PATH; the errnos they saw, then one
 *                             more open and read once they are gone)
 *   forkbomb                 (every process forks forever; init reports EAGAIN)
 *   memhog MB                (touch MB MiB of anonymous memory)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

static const char *en(int e) {
  switch (e) {
    case 0: return "OK";
    case ENOSPC: return "ENOSPC";
    case E2BIG: return "E2BIG";
    case ERANGE: return "ERANGE";
    case EAGAIN: return "EAGAIN";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EIO: return "EIO";
    case EFBIG: return "EFBIG";
    case ENOMEM: return "ENOMEM";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EMLINK: return "EMLINK";
    case EDQUOT: return "EDQUOT";
    case ENOBUFS: return "ENOBUFS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: {
      static char b[32];
      snprintf(b, sizeof b, "errno%d", e);
      return b;
    }
  }
}

static void die(const char *what) {
  printf("fatal %s %s\n", what, en(errno));
  exit(2);
}

static sigjmp_buf bus;
static void on_bus(int sig) {
  (void)sig;
  siglongjmp(bus, 1);
}

static void print_statfs(const char *path) {
  struct statfs s;
  if (statfs(path, &s) < 0) die("statfs");
  printf("statfs blocks %llu bfree %llu bavail %llu bsize %ld\n", (unsigned long long)s.f_blocks,
         (unsigned long long)s.f_bfree, (unsigned long long)s.f_bavail, (long)s.f_bsize);
}

/* Touches pages of a shared mapping of fd until SIGBUS; returns the bytes touched. */
static long touch_until_bus(int fd, long len) {
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) die("mmap");
  struct sigaction sa = {0};
  sa.sa_handler = on_bus;
  sigaction(SIGBUS, &sa, NULL);
  volatile long off = 0;
  if (sigsetjmp(bus, 1) == 0) {
    for (; off < len; off += 4096) p[off] = 1;
  }
  munmap(p, len);
  return off;
}

static int fill(const char *path, const char *how) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open");
  long total = 0;
  int err = 0;
  if (!strcmp(how, "write")) {
    static char buf[65536];
    memset(buf, 'x', sizeof buf);
    for (;;) {
      ssize_t n = write(fd, buf, sizeof buf);
      if (n < 0) {
        err = errno;
        break;
      }
      total += n;
      if (n < (ssize_t)sizeof buf) {
        /* a short write at the end, as on a full tmpfs; the next one fails */
        continue;
      }
    }
  } else if (!strcmp(how, "fallocate")) {
    if (fallocate(fd, 0, 0, 1L << 40) < 0) err = errno;
    struct stat st;
    fstat(fd, &st);
    total = st.st_size;
  } else if (!strcmp(how, "fallocate-steps")) {
    for (;;) {
      if (fallocate(fd, 0, total, 1 << 20) < 0) {
        err = errno;
        break;
      }
      total += 1 << 20;
    }
  } else if (!strcmp(how, "ftruncate-mmap")) {
    /* A sparse file far larger than the file system is allowed; its pages are not. */
    if (ftruncate(fd, 1L << 32) < 0) err = errno;
    printf("ftruncate %s\n", en(err));
    total = touch_until_bus(fd, 1L << 32);
    err = total < (1L << 32) ? ENOSPC : 0;
    printf("sigbus %s\n", total < (1L << 32) ? "yes" : "no");
  } else if (!strcmp(how, "mmap-extend")) {
    /* Grow the file 1 MiB at a time and write through a mapping. */
    for (;;) {
      if (ftruncate(fd, total + (1 << 20)) < 0) {
        err = errno;
        break;
      }
      long got = touch_until_bus(fd, total + (1 << 20));
      if (got < total + (1 << 20)) {
        err = ENOSPC;
        printf("sigbus yes\n");
        break;
      }
      total += 1 << 20;
    }
  } else if (!strcmp(how, "pwrite-far")) {
    /* Writes at growing offsets: every one needs a new page. */
    for (long off = 0;; off += 8192) {
      if (pwrite(fd, "y", 1, off) < 0) {
        err = errno;
        break;
      }
      total++;
    }
  } else {
    die("fill mode");
  }
  printf("%s %s\n", how, en(err));
  printf("total %ld\n", total);
  print_statfs(path);
  close(fd);
  if (unlink(path) < 0) die("unlink");
  /* the space comes back: the same write succeeds again */
  fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, "again", 5) != 5) die("write after unlink");
  close(fd);
  unlink(path);
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  print_statfs(slash ? (dir[0] ? dir : "/") : ".");
  return 0;
}

/* Creates nodes of one kind until something fails; prints the errno and whether the count is plausible. */
static int nodes(const char *dir, const char *kind, long max) {
  char p[4096], t[4096];
  long n = 0;
  int err = 0;
  snprintf(t, sizeof t, "%s/target", dir);
  int fd = open(t, O_CREAT | O_WRONLY, 0644);
  if (fd < 0) die("target");
  close(fd);
  for (;; n++) {
    snprintf(p, sizeof p, "%s/n%ld", dir, n);
    int r;
    if (!strcmp(kind, "file")) {
      r = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
      if (r >= 0) close(r);
    } else if (!strcmp(kind, "dir")) {
      r = mkdir(p, 0755);
    } else if (!strcmp(kind, "symlink")) {
      /* long targets: the bytes are charged too */
      static char target[4000];
      memset(target, 'a', sizeof target - 1);
      r = symlink(target, p);
    } else if (!strcmp(kind, "link")) {
      r = link(t, p);
    } else if (!strcmp(kind, "fifo")) {
      r = mkfifo(p, 0644);
    } else {
      die("nodes kind");
    }
    if (r < 0) {
      err = errno;
      break;
    }
    if (n + 1 == max) {
      printf("nodes %s kept %ld\n", kind, max);
      return 0;
    }
  }
  printf("nodes %s %s\n", kind, en(err));
  printf("count %ld\n", n);
  /* removing them gives the space back */
  for (long i = 0; i < n; i++) {
    snprintf(p, sizeof p, "%s/n%ld", dir, i);
    if ((!strcmp(kind, "dir") ? rmdir(p) : unlink(p)) < 0) die("remove");
  }
  snprintf(p, sizeof p, "%s/again", dir);
  if (mkdir(p, 0755) < 0) die("mkdir after remove");
  rmdir(p);
  unlink(t);
  printf("after-remove OK\n");
  return 0;
}

static int xattr_one(const char *path) {
  int fd = open(path, O_CREAT | O_WRONLY, 0644);
  if (fd < 0) die("open");
  close(fd);
  static char v[65537];
  memset(v, 'v', sizeof v);
  printf("xattr-64k %s\n", en(setxattr(path, "user.big", v, 65536, 0) < 0 ? errno : 0));
  printf("xattr-64k+1 %s\n", en(setxattr(path, "user.big2", v, 65537, 0) < 0 ? errno : 0));
  char name[300];
  memset(name, 'n', sizeof name);
  memcpy(name, "user.", 5);
  name[256] = 0;
  printf("xattr-name-251 %s\n", en(setxattr(path, name, "x", 1, 0) < 0 ? errno : 0));
  removexattr(path, "user.big");
  long n = 0;
  int err = 0;
  for (;; n++) {
    snprintf(name, sizeof name, "user.attr%ld", n);
    if (setxattr(path, name, v, 4096, 0) < 0) {
      err = errno;
      break;
    }
    if (n >= 1000) break;
  }
  printf("xattr-many %s\n", en(err));
  printf("xattr-many-bounded %s\n", n < 100 ? "yes" : "no");
  return 0;
}

static int xattr_nodes(const char *dir) {
  static char v[60000];
  memset(v, 'v', sizeof v);
  char p[4096];
  long n = 0;
  int err = 0;
  for (;; n++) {
    snprintf(p, sizeof p, "%s/x%ld", dir, n);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    if (fd < 0) {
      err = errno;
      break;
    }
    close(fd);
    if (setxattr(p, "user.big", v, sizeof v, 0) < 0) {
      err = errno;
      break;
    }
    if (n > 1000000) break;
  }
  printf("xattr-nodes %s\n", en(err));
  printf("count %ld\n", n);
  return 0;
}

static void hold(int seconds) {
  printf("holding\n");
  fflush(stdout);
  sleep(seconds);
}

static int hold_files(const char *dir, long n, int seconds) {
  char p[4096];
  long ok = 0;
  int err = 0;
  for (long i = 0; i < n; i++) {
    snprintf(p, sizeof p, "%s/h%ld", dir, i);
    int fd = open(p, O_CREAT | O_RDWR, 0644);
    if (fd < 0) {
      err = errno;
      break;
    }
    if (write(fd, "z", 1) != 1) die("write");
    ok++;
  }
  printf("hold-files %s\n", en(err));
  printf("opened %ld\n", ok);
  hold(seconds);
  return 0;
}

static int hold_dirs(const char *dir, long n, int seconds) {
  long ok = 0;
  int err = 0;
  for (long i = 0; i < n; i++) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
      err = errno;
      break;
    }
    /* list it, so that the Sentry makes a listing for each */
    char buf[4096];
    if (syscall(217 /* getdents64 */, fd, buf, sizeof buf) < 0) die("getdents");
    ok++;
  }
  printf("hold-dirs %s\n", en(err));
  printf("opened %ld\n", ok);
  hold(seconds);
  return 0;
}

static int cycle_dirs(const char *dir, long n) {
  long entries = -1;
  for (long i = 0; i < n; i++) {
    DIR *d = opendir(dir);
    if (!d) die("opendir");
    long c = 0;
    while (readdir(d)) c++;
    closedir(d);
    if (entries >= 0 && c != entries) die("listing changed");
    entries = c;
  }
  printf("cycle-dirs OK\n");
  return 0;
}

static int cycle_files(const char *dir, long n) {
  char p[4096];
  for (long i = 0; i < n; i++) {
    snprintf(p, sizeof p, "%s/c%ld", dir, i);
    int fd = open(p, O_CREAT | O_RDWR, 0644);
    if (fd < 0) die("open");
    if (write(fd, "data", 4) != 4) die("write");
    close(fd);
    if (unlink(p) < 0) die("unlink");
  }
  printf("cycle-files OK\n");
  return 0;
}

static int negative_stat(const char *dir, long n) {
  char p[4096];
  struct stat st;
  long found = 0;
  for (long i = 0; i < n; i++) {
    snprintf(p, sizeof p, "%s/no-such-%ld-%ld", dir, i, (long)getpid());
    if (stat(p, &st) == 0) found++;
    else if (errno != ENOENT) die("stat");
  }
  printf("negative-stat found %ld\n", found);
  return 0;
}

/* One attempt of a child of fd_pressure: 0 or the errno of the first failure. */
static int pressure_once(const char *path, char *dir) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return errno;
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf);
  int e = n < 0 ? errno : 0;
  close(fd);
  if (e) return e;
  DIR *d = opendir(dir);
  if (!d) return errno;
  errno = 0;
  while (readdir(d)) {
  }
  e = errno;
  closedir(d);
  return e;
}

static int fd_pressure(long k, const char *path) {
  int go[2], rep[2];
  if (pipe(go) < 0 || pipe(rep) < 0) die("pipe");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  long started = 0;
  for (long i = 0; i < k; i++) {
    pid_t p = fork();
    if (p < 0) break;
    if (p == 0) {
      close(go[1]);
      close(rep[0]);
      struct stat st;
      fstat(go[0], &st); /* the Sentry takes a pidfd of this process to identify the fd */
      char c;
      if (read(go[0], &c, 1) < 0) _exit(3); /* EOF once every child exists */
      unsigned char seen[200] = {0};
      for (int j = 0; j < 20; j++) {
        int e = pressure_once(path, dir);
        seen[e < 200 ? e : 0] = 1;
      }
      for (int e = 1; e < 200; e++)
        if (seen[e] && write(rep[1], &e, sizeof e) != sizeof e) _exit(4);
      _exit(0);
    }
    started++;
  }
  close(go[0]);
  close(rep[1]);
  usleep(500000);
  close(go[1]);
  unsigned char seen[200] = {0};
  int e;
  while (read(rep[0], &e, sizeof e) == sizeof e) seen[e] = 1;
  while (wait(NULL) > 0) {
  }
  printf("started %s\n", started == k ? "all" : "some");
  for (e = 1; e < 200; e++)
    if (seen[e]) printf("seen %s\n", en(e));
  int fd = open(path, O_RDONLY);
  char buf[256];
  printf("final %s\n", fd >= 0 && read(fd, buf, sizeof buf) > 0 ? "OK" : en(errno));
  return 0;
}

static int forkbomb(void) {
  pid_t init = getpid();
  time_t start = time(NULL);
  int eagain = 0;
  for (;;) {
    pid_t p = fork();
    if (p < 0) {
      if (errno == EAGAIN) eagain = 1;
      if (getpid() != init) pause();
      if (time(NULL) - start >= 3) break;
      usleep(1000);
    }
  }
  printf("fork %s\n", eagain ? "EAGAIN" : "never-failed");
  return 0;
}

static int memhog(long mb) {
  for (long i = 0; i < mb; i++) {
    char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("mmap");
    memset(p, 1, 1 << 20);
  }
  printf("memhog survived\n");
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) return 2;
  const char *m = argv[1];
  if (!strcmp(m, "fill") && argc == 4) return fill(argv[2], argv[3]);
  if (!strcmp(m, "statfs") && argc == 3) {
    print_statfs(argv[2]);
    return 0;
  }
  if (!strcmp(m, "nodes") && (argc == 4 || argc == 5)) return nodes(argv[2], argv[3], argc == 5 ? atol(argv[4]) : -1);
  if (!strcmp(m, "xattr") && argc == 3) return xattr_one(argv[2]);
  if (!strcmp(m, "xattr-nodes") && argc == 3) return xattr_nodes(argv[2]);
  if (!strcmp(m, "hold-files") && argc == 5) return hold_files(argv[2], atol(argv[3]), atoi(argv[4]));
  if (!strcmp(m, "hold-dirs") && argc == 5) return hold_dirs(argv[2], atol(argv[3]), atoi(argv[4]));
  if (!strcmp(m, "cycle-dirs") && argc == 4) return cycle_dirs(argv[2], atol(argv[3]));
  if (!strcmp(m, "cycle-files") && argc == 4) return cycle_files(argv[2], atol(argv[3]));
  if (!strcmp(m, "negative-stat") && argc == 4) return negative_stat(argv[2], atol(argv[3]));
  if (!strcmp(m, "fd-pressure") && argc == 4) return fd_pressure(atol(argv[2]), argv[3]);
  if (!strcmp(m, "forkbomb")) return forkbomb();
  if (!strcmp(m, "memhog") && argc == 3) return memhog(atol(argv[2]));
  fprintf(stderr, "usage: see the comment at the top of exhaust.c\n");
  return 2;
}
