/*
 * Linux-exact file-system behaviour (issue 9): each subcommand prints one
 * line per case with what the calls returned (values and errno names), so
 * the same program run natively and under tsvisor can be compared line by
 * line, on every file system the sandbox has (overlay, tmpfs, a root written
 * through the Gofer, a bind mount). Nothing printed depends on the file
 * system type (no st_dev, st_ino, directory sizes or block counts), on
 * pids or on the current time.
 *
 *   exactfs DIR setup           make the fixture tree DIR/fix (run natively
 *                               first, it is the overlay's lower layer)
 *   exactfs DIR SUBCOMMAND      run one group of cases in DIR
 *   exactfs DIR random SEED N   N random tree operations on DIR/fix, then
 *                               the resulting tree
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "exact.h"

static size_t DLEN;

static void put(const char *name, const char *content) {
  int fd = open(at(name), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return;
  if (write(fd, content, strlen(content)) < 0) perror("write");
  close(fd);
}

static const char *type(mode_t m) {
  switch (m & S_IFMT) {
    case S_IFREG: return "reg";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "lnk";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "sock";
    case S_IFCHR: return "chr";
    default: return "?";
  }
}

/* The fields that do not depend on the file system: type, mode, links, owner, size of a regular file. */
static void pst(const char *what, int r, const struct stat *s) {
  if (r < 0) {
    printf("%s: -1 %s\n", what, strerrorname_np(errno));
  } else {
    printf("%s: %s %04o nlink %ld uid %d gid %d", what, type(s->st_mode), s->st_mode & 07777, (long)s->st_nlink, s->st_uid, s->st_gid);
    if (S_ISREG(s->st_mode)) printf(" size %ld", (long)s->st_size);
    printf("\n");
  }
  fflush(stdout);
}
#define FST(what, fd)                  \
  do {                                 \
    struct stat s_;                    \
    errno = 0;                         \
    int r_ = fstat((fd), &s_);         \
    pst((what), r_, &s_);              \
  } while (0)
#define LST(what, path)                \
  do {                                 \
    struct stat s_;                    \
    errno = 0;                         \
    int r_ = lstat((path), &s_);       \
    pst((what), r_, &s_);              \
  } while (0)

static void ptimes(const char *what, int r, const struct stat *s) {
  if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
  else printf("%s: atime %ld.%09ld mtime %ld.%09ld\n", what, (long)s->st_atim.tv_sec, s->st_atim.tv_nsec, (long)s->st_mtim.tv_sec, s->st_mtim.tv_nsec);
  fflush(stdout);
}
#define TIMES(what, path)              \
  do {                                 \
    struct stat s_;                    \
    errno = 0;                         \
    int r_ = lstat((path), &s_);       \
    ptimes((what), r_, &s_);           \
  } while (0)
#define FTIMES(what, fd)               \
  do {                                 \
    struct stat s_;                    \
    errno = 0;                         \
    int r_ = fstat((fd), &s_);         \
    ptimes((what), r_, &s_);           \
  } while (0)

/* What /proc/self/fd/N names, with DIR shown as "D". */
static void fdname(const char *what, int fd) {
  char p[64], l[4096];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(p, l, sizeof l - 1);
  if (n < 0) {
    printf("%s: -1 %s\n", what, strerrorname_np(errno));
  } else {
    l[n] = 0;
    printf("%s: %s%s\n", what, strncmp(l, D, DLEN) == 0 ? "D" : "", strncmp(l, D, DLEN) == 0 ? l + DLEN : l);
  }
  fflush(stdout);
}

/* Reopens fd through /proc/self/fd and prints what it reads. */
static void reopen_read(const char *what, int fd) {
  char p[64], b[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  int r = open(p, O_RDONLY);
  if (r < 0) {
    printf("%s: -1 %s\n", what, strerrorname_np(errno));
  } else {
    ssize_t n = read(r, b, sizeof b - 1);
    b[n < 0 ? 0 : n] = 0;
    printf("%s: read \"%s\"\n", what, b);
    close(r);
  }
  fflush(stdout);
}

static void xattrs(const char *what, int fd) {
  char b[256];
  errno = 0;
  R(what, fsetxattr(fd, "user.k", "v1", 2, 0));
  ssize_t n = fgetxattr(fd, "user.k", b, sizeof b);
  printf("  fgetxattr: %s\n", n < 0 ? strerrorname_np(errno) : (b[n] = 0, b));
  n = flistxattr(fd, b, sizeof b);
  printf("  flistxattr: %ld\n", (long)n);
  R("  fremovexattr", fremovexattr(fd, "user.k"));
}

/* Every fd call on fd, which refers to an object whose name is gone or changed. */
static void fdcalls(const char *what, int fd, int isdir) {
  printf("-- %s\n", what);
  FST("fstat", fd);
  struct stat s;
  errno = 0;
  int r = fstatat(fd, "", &s, AT_EMPTY_PATH);
  pst("fstatat AT_EMPTY_PATH", r, &s);
  struct statx sx;
  errno = 0;
  r = statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx);
  if (r < 0) printf("statx: -1 %s\n", strerrorname_np(errno));
  else printf("statx: nlink %u mode %04o\n", sx.stx_nlink, sx.stx_mode & 07777);
  R("fchmod 0640", fchmod(fd, 0640));
  R("fchown 1000:1001", fchown(fd, 1000, 1001));
  FST("after fchmod, fchown", fd);
  struct timespec ts[2] = {{1000, 111}, {2000, 222}};
  R("futimens", futimens(fd, ts));
  FTIMES("after futimens", fd);
  struct statfs sf;
  R("fstatfs", fstatfs(fd, &sf));
  xattrs("fsetxattr", fd);
  if (!isdir) {
    R("ftruncate 3", ftruncate(fd, 3));
    FST("after ftruncate", fd);
  }
  fdname("fd link", fd);
  if (!isdir) reopen_read("reopen", fd);
}

/* ------------------------------------------------------------- setup */

/* mkdir -p of D/rel */
static void mkdirs(const char *rel) {
  char p[4096];
  snprintf(p, sizeof p, "%s", rel);
  for (char *c = p + 1; *c; c++) {
    if (*c != '/') continue;
    *c = 0;
    mkdir(at(p), 0755);
    *c = '/';
  }
  mkdir(at(p), 0755);
}

/*
 * The tree of the walk group, outside fix/ (whose listing other groups
 * print): its own branch for each case, so that each path is walked cold
 * (a sandbox looks every component up for the first time).
 */
static void walk_setup(void) {
  const char *dirs[] = {"walk/a/b/c/d", "walk/la/b/c/d", "walk/l/m", "walk/o/p/q", "walk/n/m", "walk/e/g", "walk/p/q/r/s", "walk/k",
                        "walk/dg/h", "walk/s/t/u", "walk/tr/x", "walk/w/x/y/z", NULL};
  for (int i = 0; dirs[i]; i++) mkdirs(dirs[i]);
  put("walk/a/b/c/d/f", "f\n");
  put("walk/la/b/c/d/f", "via a link\n");
  put("walk/o/p/q/f", "open me\n");
  put("walk/n/m/file", "a file\n");
  put("walk/p/q/r/s/f", "s\n");
  put("walk/s/t/u/v", "v\n");
  put("walk/tr/x/f", "t\n");
  put("walk/w/x/y/z/f", "w\n");
  if (symlink("../../la/b", at("walk/l/m/x")) < 0) perror("symlink");
  if (symlink("loop2", at("walk/k/loop1")) < 0) perror("symlink");
  if (symlink("loop1", at("walk/k/loop2")) < 0) perror("symlink");
  if (symlink("nowhere", at("walk/dg/h/dangling")) < 0) perror("symlink");
  if (symlink("z/f", at("walk/w/x/y/last")) < 0) perror("symlink");
  if (chmod(at("walk/s/t/u"), 0700) < 0) perror("chmod");
}

static void cmd_setup(void) {
  mkdir(at("fix"), 0755);
  put("fix/file", "lower\n");
  put("fix/file2", "second\n");
  mkdir(at("fix/dir"), 0755);
  put("fix/dir/a", "a\n");
  put("fix/dir/b", "b\n");
  mkdir(at("fix/dir/sub"), 0755);
  put("fix/dir/sub/c", "c\n");
  mkdir(at("fix/dir2"), 0755);
  put("fix/dir2/d", "d\n");
  mkdir(at("fix/empty"), 0755);
  mkdir(at("fix/deep"), 0755);
  mkdir(at("fix/deep/x"), 0755);
  mkdir(at("fix/deep/x/y"), 0755);
  put("fix/deep/x/y/z", "z\n");
  if (symlink("file", at("fix/link")) < 0) perror("symlink");
  if (mkfifo(at("fix/fifo"), 0644) < 0) perror("mkfifo");
  walk_setup();
}

/* ------------------------------------------- the fd is the truth: files */

static void cmd_fd_file(void) {
  /* unlinked */
  put("f", "hello\n");
  int fd = open(at("f"), O_RDWR);
  R("unlink", unlink(at("f")));
  fdcalls("unlinked file", fd, 0);
  /* unlinked and its name reused: the fd is still the old file */
  put("f", "a new file with other contents\n");
  FST("fstat after the name was reused", fd);
  close(fd);
  /* renamed, and its directory renamed */
  mkdir(at("rd"), 0755);
  put("rd/g", "renamed\n");
  fd = open(at("rd/g"), O_RDONLY);
  R("rename", rename(at("rd/g"), at("rd/h")));
  fdname("fd link after rename", fd);
  R("rename the directory", rename(at("rd"), at("rd2")));
  fdcalls("renamed file", fd, 0);
  /* replaced by a rename */
  put("rd2/i", "replacement\n");
  R("rename over it", rename(at("rd2/i"), at("rd2/h")));
  fdcalls("file renamed over", fd, 0);
  close(fd);
  /* hard links: one name goes */
  put("l1", "linked\n");
  R("link", link(at("l1"), at("l2")));
  fd = open(at("l1"), O_RDONLY);
  R("unlink one name", unlink(at("l1")));
  FST("fstat", fd);
  fdname("fd link", fd);
  close(fd);
  /* Python's tempfile.TemporaryFile(), apt's temporary files */
  fd = open(at("tmp"), O_RDWR | O_CREAT | O_EXCL, 0600);
  unlink(at("tmp"));
  R("write to the temporary file", write(fd, "0123456789", 10));
  FST("fstat of the temporary file", fd);
  close(fd);
  /* an overlay's lower file (the fixture), unlinked */
  fd = open(at("fix/file"), O_RDONLY);
  R("unlink a lower file", unlink(at("fix/file")));
  fdcalls("unlinked lower file", fd, 0);
  LST("lstat of its name", at("fix/file"));
  close(fd);
  /* a lower file renamed */
  fd = open(at("fix/file2"), O_RDONLY);
  R("rename a lower file", rename(at("fix/file2"), at("fix/file3")));
  fdcalls("renamed lower file", fd, 0);
  close(fd);
}

/* --------------------------------------- the fd is the truth: directories */

static void count_entries(const char *what, int fd) {
  char buf[4096];
  lseek(fd, 0, SEEK_SET);
  errno = 0;
  long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
  if (n < 0) {
    printf("%s: -1 %s\n", what, strerrorname_np(errno));
  } else {
    int count = 0;
    for (long off = 0; off < n; off += ((struct dirent64 *)(buf + off))->d_reclen) count++;
    printf("%s: %d entries\n", what, count);
  }
  fflush(stdout);
}

static void cmd_fd_dir(void) {
  char cwd[4096];
  R("getcwd", getcwd(cwd, sizeof cwd) ? 0 : -1);
  mkdir(at("d"), 0755);
  int fd = open(at("d"), O_RDONLY | O_DIRECTORY);
  count_entries("getdents", fd);
  R("rmdir", rmdir(at("d")));
  fdcalls("removed directory", fd, 1);
  count_entries("getdents of the removed directory", fd);
  R("mkdir the name again", mkdir(at("d"), 0700));
  FST("fstat after the name was reused", fd);
  R("fchdir into the removed directory", fchdir(fd));
  char b[4096];
  R("getcwd", syscall(SYS_getcwd, b, sizeof b));
  R("create in it", open("x", O_CREAT | O_WRONLY, 0644));
  R("mkdir in it", mkdir("y", 0755));
  R("open . in it", open(".", O_RDONLY | O_DIRECTORY) >= 0 ? 0 : -1);
  struct stat s;
  errno = 0;
  int r = stat(".", &s);
  pst("stat .", r, &s);
  char l[4096];
  ssize_t n = readlink("/proc/self/cwd", l, sizeof l - 1);
  if (n >= 0) l[n] = 0;
  printf("/proc/self/cwd: %s\n", n < 0 ? strerrorname_np(errno) : strncmp(l, D, DLEN) == 0 ? l + DLEN : l);
  R("chdir back", chdir(cwd));
  close(fd);
  /* renamed directories: the fd, a cwd inside, names below */
  mkdir(at("p"), 0755);
  mkdir(at("p/q"), 0755);
  put("p/q/r", "r\n");
  fd = open(at("p/q"), O_RDONLY | O_DIRECTORY);
  R("chdir into p/q", chdir(at("p/q")));
  R("rename p to p2", rename(at("p"), at("p2")));
  n = readlink("/proc/self/cwd", l, sizeof l - 1);
  if (n >= 0) l[n] = 0;
  printf("/proc/self/cwd: %s\n", n < 0 ? strerrorname_np(errno) : strncmp(l, D, DLEN) == 0 ? l + DLEN : l);
  R("getcwd", getcwd(b, sizeof b) ? (printf("  %s\n", strncmp(b, D, DLEN) == 0 ? b + DLEN : b), 0) : -1);
  R("open r relative to the cwd", open("r", O_RDONLY) >= 0 ? 0 : -1);
  R("openat r relative to the fd", openat(fd, "r", O_RDONLY) >= 0 ? 0 : -1);
  fdcalls("directory whose parent was renamed", fd, 1);
  count_entries("getdents", fd);
  R("chdir back", chdir(cwd));
  close(fd);
  /* a directory of the fixture (the overlay's lower layer), removed */
  fd = open(at("fix/empty"), O_RDONLY | O_DIRECTORY);
  R("rmdir a lower directory", rmdir(at("fix/empty")));
  fdcalls("removed lower directory", fd, 1);
  count_entries("getdents", fd);
  close(fd);
  fd = open(at("fix/dir2"), O_RDONLY | O_DIRECTORY);
  R("rename a lower directory", rename(at("fix/dir2"), at("fix/dir3")));
  fdname("fd link", fd);
  count_entries("getdents", fd);
  R("openat d relative to it", openat(fd, "d", O_RDONLY) >= 0 ? 0 : -1);
  close(fd);
}

/* ------------------------------------------------------------- times */

static void cmd_times(void) {
  put("t", "times\n");
  struct utimbuf ub = {4, 5};
  R("utime (4, 5)", utime(at("t"), &ub));
  TIMES("stat", at("t"));
  struct timeval tv[2] = {{6, 7}, {8, 9}};
  R("utimes", utimes(at("t"), tv));
  TIMES("stat", at("t"));
  int dfd = open(D, O_RDONLY | O_DIRECTORY);
  tv[0].tv_sec = 10;
  tv[1].tv_sec = 11;
  R("futimesat", futimesat(dfd, "t", tv));
  TIMES("stat", at("t"));
  struct timespec ts[2] = {{12, 123456789}, {13, 987654321}};
  R("utimensat", utimensat(dfd, "t", ts, 0));
  TIMES("stat", at("t"));
  ts[0].tv_nsec = UTIME_OMIT;
  ts[1] = (struct timespec){14, 1};
  R("utimensat atime UTIME_OMIT", utimensat(AT_FDCWD, at("t"), ts, 0));
  TIMES("stat", at("t"));
  ts[0] = (struct timespec){15, 2};
  ts[1].tv_nsec = UTIME_OMIT;
  R("utimensat mtime UTIME_OMIT", utimensat(AT_FDCWD, at("t"), ts, 0));
  TIMES("stat", at("t"));
  ts[0].tv_nsec = ts[1].tv_nsec = UTIME_OMIT;
  R("utimensat both UTIME_OMIT", utimensat(AT_FDCWD, at("t"), ts, 0));
  R("utimensat both UTIME_OMIT, missing file", utimensat(AT_FDCWD, at("missing"), ts, 0));
  TIMES("stat", at("t"));
  ts[0].tv_nsec = 1000000000;
  R("utimensat bad nsec", utimensat(AT_FDCWD, at("t"), ts, 0));
  ts[0] = (struct timespec){-5, 0};
  ts[1] = (struct timespec){-6, 500};
  R("utimensat before 1970", utimensat(AT_FDCWD, at("t"), ts, 0));
  TIMES("stat", at("t"));
  /* through an fd, and on what an fd still refers to */
  int fd = open(at("t"), O_RDONLY);
  ts[0] = (struct timespec){16, 3};
  ts[1] = (struct timespec){17, 4};
  R("futimens", futimens(fd, ts));
  TIMES("stat", at("t"));
  ts[0].tv_nsec = UTIME_OMIT;
  ts[1] = (struct timespec){18, 5};
  R("futimens atime UTIME_OMIT", futimens(fd, ts));
  FTIMES("fstat", fd);
  struct stat before, after;
  stat(at("t"), &before);
  ts[0] = (struct timespec){0, UTIME_NOW};
  ts[1] = (struct timespec){0, UTIME_NOW};
  R("futimens UTIME_NOW", futimens(fd, ts));
  stat(at("t"), &after);
  printf("  now: %s\n", after.st_mtime > 1000000000 && after.st_atime > 1000000000 ? "yes" : "no");
  R("futimens NULL", futimens(fd, NULL));
  R("utimensat(fd, NULL)", syscall(SYS_utimensat, fd, NULL, NULL, 0));
  R("utimensat(AT_FDCWD, NULL)", syscall(SYS_utimensat, AT_FDCWD, NULL, NULL, 0));
  close(fd);
  /* a write moves mtime to now */
  ub.actime = 20;
  ub.modtime = 21;
  utime(at("t"), &ub);
  fd = open(at("t"), O_WRONLY | O_APPEND);
  R("write", write(fd, "x", 1));
  stat(at("t"), &after);
  printf("  mtime moved to now: %s, atime kept: %s\n", after.st_mtime > 1000000000 ? "yes" : "no", after.st_atime == 20 ? "yes" : "no");
  close(fd);
  /* directories and symlinks */
  mkdir(at("td"), 0755);
  ts[0] = (struct timespec){22, 6};
  ts[1] = (struct timespec){23, 7};
  R("utimensat a directory", utimensat(AT_FDCWD, at("td"), ts, 0));
  TIMES("stat", at("td"));
  put("td/f", "");
  struct stat sd;
  stat(at("td"), &sd);
  printf("  directory mtime moved by a create: %s\n", sd.st_mtime > 1000000000 ? "yes" : "no");
  R("symlink", symlink("t", at("ts")));
  ts[0] = (struct timespec){24, 8};
  ts[1] = (struct timespec){25, 9};
  R("utimensat AT_SYMLINK_NOFOLLOW", utimensat(AT_FDCWD, at("ts"), ts, AT_SYMLINK_NOFOLLOW));
  TIMES("lstat link", at("ts"));
  ts[0] = (struct timespec){26, 10};
  ts[1] = (struct timespec){27, 11};
  R("utimensat through the link", utimensat(AT_FDCWD, at("ts"), ts, 0));
  TIMES("stat target", at("t"));
  /* a lower file of the overlay (the fixture) */
  ts[0] = (struct timespec){28, 12};
  ts[1] = (struct timespec){29, 13};
  R("utimensat a lower file", utimensat(AT_FDCWD, at("fix/file"), ts, 0));
  TIMES("stat", at("fix/file"));
  R("utimensat a lower directory", utimensat(AT_FDCWD, at("fix/dir"), ts, 0));
  TIMES("stat", at("fix/dir"));
  fd = open(at("fix/file2"), O_RDONLY);
  R("futimens a lower file opened read-only", futimens(fd, ts));
  FTIMES("fstat", fd);
  TIMES("stat", at("fix/file2"));
  close(fd);
  /* an unlinked file */
  put("u", "unlinked\n");
  fd = open(at("u"), O_RDONLY);
  unlink(at("u"));
  ts[0] = (struct timespec){30, 14};
  ts[1] = (struct timespec){31, 15};
  R("futimens an unlinked file", futimens(fd, ts));
  FTIMES("fstat", fd);
  close(fd);
  /* truncate moves mtime */
  utime(at("t"), &ub);
  R("truncate", truncate(at("t"), 2));
  stat(at("t"), &after);
  printf("  mtime moved by truncate: %s\n", after.st_mtime > 1000000000 ? "yes" : "no");
}

/* ------------------------------------------------------- directories */

static void cmd_dirs(void) {
  mkdir(at("d"), 0755);
  put("d/f", "f\n");
  int fd = open(at("d"), O_RDONLY | O_DIRECTORY);
  char b[64];
  R("read", read(fd, b, sizeof b));
  R("pread", pread(fd, b, sizeof b, 0));
  struct iovec iov = {b, sizeof b};
  R("readv", readv(fd, &iov, 1));
  R("write", write(fd, "x", 1));
  R("mmap", (long)mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == -1 ? -1 : 0);
  R("lseek SEEK_SET 0", lseek(fd, 0, SEEK_SET));
  R("lseek SEEK_CUR", lseek(fd, 0, SEEK_CUR));
  R("fsync", fsync(fd));
  R("F_GETFL", fcntl(fd, F_GETFL) & (O_ACCMODE | O_DIRECTORY | O_NONBLOCK | O_APPEND));
  int nb = open(at("d"), O_RDONLY | O_DIRECTORY | O_NONBLOCK);
  R("F_GETFL O_NONBLOCK", fcntl(nb, F_GETFL) & (O_ACCMODE | O_DIRECTORY | O_NONBLOCK | O_APPEND));
  close(nb);
  R("open O_WRONLY", open(at("d"), O_WRONLY));
  R("open O_RDWR", open(at("d"), O_RDWR));
  R("open O_RDONLY|O_TRUNC", open(at("d"), O_RDONLY | O_TRUNC));
  R("open O_WRONLY|O_TRUNC", open(at("d"), O_WRONLY | O_TRUNC));
  R("open O_RDONLY|O_CREAT", open(at("d"), O_RDONLY | O_CREAT, 0644));
  R("open O_CREAT|O_EXCL", open(at("d"), O_RDONLY | O_CREAT | O_EXCL, 0644));
  R("open O_RDONLY|O_APPEND", open(at("d"), O_RDONLY | O_APPEND) >= 0 ? 0 : -1);
  R("open with a trailing slash", open(at("d/"), O_RDONLY) >= 0 ? 0 : -1);
  R("open a file with a trailing slash", open(at("d/f/"), O_RDONLY));
  R("open a file O_DIRECTORY", open(at("d/f"), O_RDONLY | O_DIRECTORY));
  R("truncate a directory", truncate(at("d"), 0));
  R("ftruncate a directory", ftruncate(fd, 0));
  char dbuf[1024];
  for (int sz = 0; sz <= 32; sz += 8) {
    char what[64];
    snprintf(what, sizeof what, "getdents64 into %d bytes", sz);
    lseek(fd, 0, SEEK_SET);
    R(what, syscall(SYS_getdents64, fd, dbuf, sz));
  }
  lseek(fd, 0, SEEK_SET);
  R("getdents64 to an unmapped buffer", syscall(SYS_getdents64, fd, (void *)16, 1024));
  R("getdents64 with a count past INT_MAX", syscall(SYS_getdents64, fd, dbuf, 0x80000000u));
  R("open a directory O_DIRECT", open(at("d"), O_RDONLY | O_DIRECT));
  /* A buffer that ends where the mapping does: entries that fit are written. */
  char *page = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(page + 4096, 4096);
  lseek(fd, 0, SEEK_SET);
  R("getdents64 with a count past the mapping", syscall(SYS_getdents64, fd, page + 4096 - 64, 1024));
  lseek(fd, 0, SEEK_SET);
  long n = syscall(SYS_getdents64, fd, dbuf, sizeof dbuf);
  R("getdents64", n > 0 ? 0 : n);
  R("getdents64 at the end", syscall(SYS_getdents64, fd, dbuf, sizeof dbuf));
  lseek(fd, 0, SEEK_SET);
  R("getdents (legacy) into 8 bytes", syscall(SYS_getdents, fd, dbuf, 8));
  int ffd = open(at("d/f"), O_RDONLY);
  R("getdents64 of a file", syscall(SYS_getdents64, ffd, dbuf, sizeof dbuf));
  close(ffd);
  R("getdents64 of a closed fd", syscall(SYS_getdents64, 999, dbuf, sizeof dbuf));
  close(fd);
  /* a lower directory of the overlay */
  fd = open(at("fix/dir"), O_RDONLY | O_DIRECTORY);
  R("read a lower directory", read(fd, b, sizeof b));
  R("mmap a lower directory", (long)mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == -1 ? -1 : 0);
  R("open a lower directory O_RDONLY|O_TRUNC", open(at("fix/dir"), O_RDONLY | O_TRUNC));
  close(fd);
  /* the root directory */
  fd = open("/", O_RDONLY | O_DIRECTORY);
  R("read /", read(fd, b, sizeof b));
  close(fd);
}

/* ------------------------------------------------------------ O_PATH */

static void cmd_opath(const char *self) {
  put("f", "opath\n");
  mkdir(at("d"), 0755);
  put("d/inner", "inner\n");
  R("symlink", symlink("f", at("l")));
  int fd = open(at("f"), O_PATH);
  R("open a file O_PATH", fd >= 0 ? 0 : -1);
  char b[64];
  R("read", read(fd, b, sizeof b));
  R("write", write(fd, "x", 1));
  R("pread", pread(fd, b, sizeof b, 0));
  R("fchmod", fchmod(fd, 0600));
  R("fchown", fchown(fd, 0, 0));
  R("futimens", futimens(fd, NULL));
  R("ftruncate", ftruncate(fd, 0));
  R("fgetxattr", fgetxattr(fd, "user.x", b, sizeof b));
  R("fsetxattr", fsetxattr(fd, "user.x", "1", 1, 0));
  R("flistxattr", flistxattr(fd, b, sizeof b));
  R("getdents64", syscall(SYS_getdents64, fd, b, sizeof b));
  R("mmap", (long)mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == -1 ? -1 : 0);
  R("fchdir", fchdir(fd));
  FST("fstat", fd);
  struct stat s;
  errno = 0;
  int r = fstatat(fd, "", &s, AT_EMPTY_PATH);
  pst("fstatat AT_EMPTY_PATH", r, &s);
  struct statfs sf;
  R("fstatfs", fstatfs(fd, &sf));
  R("fchownat AT_EMPTY_PATH", fchownat(fd, "", 0, 0, AT_EMPTY_PATH));
  R("utimensat AT_EMPTY_PATH", utimensat(fd, "", NULL, AT_EMPTY_PATH));
  R("faccessat AT_EMPTY_PATH", syscall(SYS_faccessat2, fd, "", R_OK, AT_EMPTY_PATH));
  R("linkat AT_EMPTY_PATH", linkat(fd, "", AT_FDCWD, at("f-link"), AT_EMPTY_PATH));
  LST("lstat the new link", at("f-link"));
  int d = dup(fd);
  R("dup", d >= 0 ? 0 : -1);
  R("fcntl F_GETFD", fcntl(fd, F_GETFD));
  FST("fstat of the dup", d);
  close(d);
  fdname("fd link", fd);
  reopen_read("reopen through /proc/self/fd", fd);
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  R("reopen for writing", open(p, O_WRONLY | O_APPEND) >= 0 ? 0 : -1);
  R("unlink", unlink(at("f")));
  FST("fstat after unlink", fd);
  fdname("fd link after unlink", fd);
  close(fd);
  /* directories */
  fd = open(at("d"), O_PATH | O_DIRECTORY);
  R("open a directory O_PATH", fd >= 0 ? 0 : -1);
  R("getdents64", syscall(SYS_getdents64, fd, b, sizeof b));
  R("read", read(fd, b, sizeof b));
  FST("fstat", fd);
  int in = openat(fd, "inner", O_RDONLY);
  R("openat relative to it", in >= 0 ? (int)read(in, b, sizeof b) : -1);
  close(in);
  R("mkdirat relative to it", mkdirat(fd, "made", 0755));
  R("fchmod", fchmod(fd, 0700));
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
  R("fchdir", fchdir(fd));
  R("open inner from the new cwd", open("inner", O_RDONLY) >= 0 ? 0 : -1);
  if (chdir(cwd) < 0) perror("chdir");
  close(fd);
  /* symlinks */
  fd = open(at("l"), O_PATH | O_NOFOLLOW);
  R("open a symlink O_PATH|O_NOFOLLOW", fd >= 0 ? 0 : -1);
  FST("fstat", fd);
  ssize_t n = readlinkat(fd, "", b, sizeof b);
  printf("readlinkat(fd, \"\"): %s\n", n < 0 ? strerrorname_np(errno) : (b[n] = 0, b));
  R("fchownat AT_EMPTY_PATH of the symlink", fchownat(fd, "", 0, 0, AT_EMPTY_PATH));
  close(fd);
  R("open a symlink O_PATH (followed, dangling)", open(at("l"), O_PATH));
  /* a FIFO: O_PATH does not open it */
  mkfifo(at("fifo"), 0644);
  fd = open(at("fifo"), O_PATH);
  R("open a FIFO O_PATH", fd >= 0 ? 0 : -1);
  FST("fstat", fd);
  close(fd);
  /* execveat of an O_PATH fd */
  fd = open(self, O_PATH);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    char *av[] = {"exactfs", (char *)D, "exit3", NULL};
    char *env[] = {NULL};
    syscall(SYS_execveat, fd, "", av, env, AT_EMPTY_PATH);
    _exit(100 + errno);
  }
  int st;
  waitpid(c, &st, 0);
  printf("execveat(O_PATH fd, \"\", AT_EMPTY_PATH): exit %d\n", WEXITSTATUS(st));
  close(fd);
  /* a lower file of the overlay */
  fd = open(at("fix/file"), O_PATH);
  R("open a lower file O_PATH", fd >= 0 ? 0 : -1);
  FST("fstat", fd);
  reopen_read("reopen", fd);
  close(fd);
}

/* ------------------------------------------------------------- FIFOs */

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) {
  (void)sig;
  alarms++;
}

struct opener {
  const char *path;
  int flags;
  int fd;
  int err;
};
static void *open_thread(void *a) {
  struct opener *o = a;
  errno = 0;
  o->fd = open(o->path, o->flags);
  o->err = errno;
  return NULL;
}

static void fifo_cases(const char *label, const char *path) {
  printf("-- %s\n", label);
  LST("lstat", path);
  R("O_WRONLY|O_NONBLOCK without a reader", open(path, O_WRONLY | O_NONBLOCK));
  int r = open(path, O_RDONLY | O_NONBLOCK);
  R("O_RDONLY|O_NONBLOCK without a writer", r >= 0 ? 0 : -1);
  char b[64];
  R("read: no writer yet", read(r, b, sizeof b));
  int w = open(path, O_WRONLY | O_NONBLOCK);
  R("O_WRONLY|O_NONBLOCK with a reader", w >= 0 ? 0 : -1);
  R("read: a writer, no data", read(r, b, sizeof b));
  R("write", write(w, "ping", 4));
  R("read", read(r, b, sizeof b));
  FST("fstat of the read end", r);
  close(w);
  R("read: the writer gone", read(r, b, sizeof b));
  close(r);
  int rw = open(path, O_RDWR);
  R("O_RDWR", rw >= 0 ? 0 : -1);
  R("write and read back", write(rw, "x", 1) == 1 && read(rw, b, 1) == 1 ? 0 : -1);
  close(rw);
  /* Blocking opens wait for the other side: a reader thread, then the writer. */
  struct opener o = {path, O_RDONLY, -1, 0};
  pthread_t th;
  pthread_create(&th, 0, open_thread, &o);
  usleep(100000);
  w = open(path, O_WRONLY);
  pthread_join(th, 0);
  printf("blocking reader, then writer: reader %s, writer %s\n", o.fd >= 0 ? "ok" : strerrorname_np(o.err), w >= 0 ? "ok" : strerrorname_np(errno));
  if (w >= 0 && o.fd >= 0) {
    R("  write", write(w, "pong", 4));
    R("  read", read(o.fd, b, sizeof b));
    R("  F_GETFL of the reader has no O_NONBLOCK", fcntl(o.fd, F_GETFL) & O_NONBLOCK);
  }
  close(w);
  close(o.fd);
  /* a blocking writer first */
  o = (struct opener){path, O_WRONLY, -1, 0};
  pthread_create(&th, 0, open_thread, &o);
  usleep(100000);
  r = open(path, O_RDONLY | O_NONBLOCK);
  pthread_join(th, 0);
  printf("blocking writer, then a non-blocking reader: writer %s, reader %s\n", o.fd >= 0 ? "ok" : strerrorname_np(o.err), r >= 0 ? "ok" : strerrorname_np(errno));
  close(o.fd);
  close(r);
  /* in another process */
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    int fd = open(path, O_WRONLY);
    if (fd < 0) _exit(1);
    if (write(fd, "from the child", 14) != 14) _exit(2);
    _exit(0);
  }
  r = open(path, O_RDONLY);
  ssize_t n = read(r, b, sizeof b - 1);
  b[n < 0 ? 0 : n] = 0;
  int st;
  waitpid(c, &st, 0);
  printf("a child writes: read \"%s\", child exit %d\n", b, WEXITSTATUS(st));
  close(r);
  /* A signal interrupts a blocking open: EINTR without SA_RESTART. */
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, 0);
  alarms = 0;
  struct itimerval it = {{0, 0}, {0, 200000}};
  setitimer(ITIMER_REAL, &it, 0);
  R("blocking open interrupted by a signal", open(path, O_RDONLY));
  printf("  handler ran: %d\n", (int)alarms);
  /* With SA_RESTART the open goes on after the handler. */
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, 0);
  alarms = 0;
  fflush(stdout);
  c = fork();
  if (c == 0) {
    usleep(500000);
    int fd = open(path, O_WRONLY);
    _exit(fd >= 0 ? 0 : 1);
  }
  setitimer(ITIMER_REAL, &it, 0);
  r = open(path, O_RDONLY);
  printf("blocking open with SA_RESTART: %s, handler ran: %d\n", r >= 0 ? "ok" : strerrorname_np(errno), (int)alarms);
  waitpid(c, &st, 0);
  close(r);
  signal(SIGALRM, SIG_DFL);
}

static void cmd_fifo(void) {
  R("mkfifo", mkfifo(at("p"), 0644));
  R("mkfifo over an existing name", mkfifo(at("p"), 0644));
  R("mknod S_IFIFO", mknod(at("q"), S_IFIFO | 0600, 0));
  fifo_cases("mkfifo", at("p"));
  fifo_cases("mknod", at("q"));
  fifo_cases("a FIFO of the fixture", at("fix/fifo"));
  /* unlinked while open */
  int r = open(at("p"), O_RDONLY | O_NONBLOCK);
  int w = open(at("p"), O_WRONLY | O_NONBLOCK);
  R("unlink the FIFO", unlink(at("p")));
  R("write after unlink", write(w, "still", 5));
  char b[16];
  R("read after unlink", read(r, b, sizeof b));
  FST("fstat after unlink", r);
  close(r);
  close(w);
  /* renamed */
  R("rename", rename(at("q"), at("q2")));
  r = open(at("q2"), O_RDONLY | O_NONBLOCK);
  R("open after rename", r >= 0 ? 0 : -1);
  close(r);
  /* A reader killed while its open waits: its end goes with it (no writer can open then). */
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    open(at("q2"), O_RDONLY);
    _exit(0);
  }
  usleep(200000);
  kill(c, SIGKILL);
  int st;
  waitpid(c, &st, 0);
  usleep(200000);
  R("O_WRONLY|O_NONBLOCK after a waiting reader was killed", open(at("q2"), O_WRONLY | O_NONBLOCK));
  /* many writers waiting at once, then one reader lets them all go */
  pid_t kids[20];
  for (int i = 0; i < 20; i++) {
    kids[i] = fork();
    if (kids[i] == 0) {
      int fd = open(at("q2"), O_WRONLY);
      _exit(fd >= 0 && write(fd, "w", 1) == 1 ? 0 : 1);
    }
  }
  usleep(300000);
  r = open(at("q2"), O_RDONLY);
  int ok = 0;
  for (int i = 0; i < 20; i++) {
    waitpid(kids[i], &st, 0);
    ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  R("20 waiting writers went on", ok);
  R("read what they wrote", read(r, b, sizeof b));
  close(r);
}

/* Pipes reopened through /proc/self/fd (not FIFOs of a file system: pipes are another engineer's area). */
static void cmd_pipes(void) {
  int r;
  char b[16];
  int p[2];
  if (pipe(p) < 0) return;
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
  r = open(path, O_RDONLY | O_NONBLOCK);
  R("reopen a pipe's read end", r >= 0 ? 0 : -1);
  R("write", write(p[1], "pipe", 4));
  R("read from the reopened end", read(r, b, sizeof b));
  close(r);
  close(p[1]);
  r = open(path, O_RDONLY | O_NONBLOCK);
  R("reopen a pipe without writers, O_NONBLOCK", r >= 0 ? 0 : -1);
  R("read", read(r, b, sizeof b));
  close(r);
  snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
  R("reopen the read end for writing, O_NONBLOCK", open(path, O_WRONLY | O_NONBLOCK) >= 0 ? 0 : -1);
  close(p[0]);
}

/* ------------------------------------------------------------ xattrs */

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The names, sorted: their order is the file system's (insertion order on ext4, another on tmpfs). */
static void listx(const char *what, const char *path) {
  char b[1024], *names[64];
  int count = 0;
  errno = 0;
  ssize_t n = llistxattr(path, b, sizeof b);
  printf("%s:", what);
  if (n < 0) printf(" -1 %s", strerrorname_np(errno));
  for (ssize_t i = 0; i < n && count < 64; i += strlen(b + i) + 1) names[count++] = b + i;
  qsort(names, count, sizeof *names, cmpstr);
  for (int i = 0; i < count; i++) printf(" %s", names[i]);
  printf("\n");
  fflush(stdout);
}

static void xattr_cases(const char *label, const char *path) {
  char b[70000];
  printf("-- %s\n", label);
  R("setxattr user.a", lsetxattr(path, "user.a", "1", 1, 0));
  R("setxattr user.b", lsetxattr(path, "user.b", "22", 2, 0));
  R("setxattr user.a XATTR_CREATE", lsetxattr(path, "user.a", "x", 1, XATTR_CREATE));
  R("setxattr user.c XATTR_REPLACE", lsetxattr(path, "user.c", "x", 1, XATTR_REPLACE));
  R("setxattr user.a XATTR_REPLACE", lsetxattr(path, "user.a", "333", 3, XATTR_REPLACE));
  R("setxattr bad flags", lsetxattr(path, "user.a", "3", 1, 4));
  R("getxattr user.a size 0", lgetxattr(path, "user.a", NULL, 0));
  R("getxattr user.a into 1 byte", lgetxattr(path, "user.a", b, 1));
  R("getxattr user.a", lgetxattr(path, "user.a", b, sizeof b));
  R("getxattr user.missing", lgetxattr(path, "user.missing", b, sizeof b));
  R("setxattr an empty value", lsetxattr(path, "user.empty", "", 0, 0));
  R("getxattr the empty value", lgetxattr(path, "user.empty", b, sizeof b));
  R("listxattr size 0", llistxattr(path, NULL, 0));
  R("listxattr into 3 bytes", llistxattr(path, b, 3));
  listx("listxattr", path);
  R("trusted.t (root)", lsetxattr(path, "trusted.t", "t", 1, 0));
  R("getxattr trusted.t", lgetxattr(path, "trusted.t", b, sizeof b));
  R("security.s (root)", lsetxattr(path, "security.s", "s", 1, 0));
  R("getxattr security.s", lgetxattr(path, "security.s", b, sizeof b));
  listx("listxattr", path);
  R("unknown namespace", lsetxattr(path, "other.x", "1", 1, 0));
  R("no namespace", lsetxattr(path, "plain", "1", 1, 0));
  R("user. alone", lsetxattr(path, "user.", "1", 1, 0));
  R("empty name", lsetxattr(path, "", "1", 1, 0));
  char name[300];
  memset(name, 'n', sizeof name);
  memcpy(name, "user.", 5);
  name[255] = 0;
  R("a 255-byte name", lsetxattr(path, name, "1", 1, 0));
  R("getxattr a 255-byte name", lgetxattr(path, name, b, sizeof b));
  name[255] = 'n';
  name[256] = 0;
  R("a 256-byte name", lsetxattr(path, name, "1", 1, 0));
  R("getxattr a 256-byte name", lgetxattr(path, name, b, sizeof b));
  R("removexattr a 256-byte name", lremovexattr(path, name));
  memset(b, 'v', sizeof b);
  R("a 4096-byte value", lsetxattr(path, "user.v4k", b, 4096, 0));
  R("a 65536-byte value", lsetxattr(path, "user.v64k", b, 65536, 0));
  R("getxattr it", lgetxattr(path, "user.v64k", b, sizeof b));
  R("a 65537-byte value", lsetxattr(path, "user.big", b, 65537, 0));
  R("removexattr user.v64k", lremovexattr(path, "user.v64k"));
  R("removexattr user.v4k", lremovexattr(path, "user.v4k"));
  R("removexattr user.a", lremovexattr(path, "user.a"));
  R("removexattr user.a again", lremovexattr(path, "user.a"));
  R("removexattr trusted.t", lremovexattr(path, "trusted.t"));
  R("removexattr security.s", lremovexattr(path, "security.s"));
  R("removexattr the 255-byte name", lremovexattr(path, (name[255] = 0, name)));
  listx("listxattr", path);
}

static void cmd_xattr(void) {
  put("f", "x\n");
  mkdir(at("d"), 0755);
  R("symlink", symlink("f", at("l")));
  xattr_cases("file", at("f"));
  xattr_cases("directory", at("d"));
  printf("-- symlink\n");
  R("user.a on a symlink", lsetxattr(at("l"), "user.a", "1", 1, 0));
  R("trusted.a on a symlink", lsetxattr(at("l"), "trusted.a", "1", 1, 0));
  R("getxattr trusted.a", lgetxattr(at("l"), "trusted.a", NULL, 0));
  listx("llistxattr", at("l"));
  R("setxattr through the symlink", setxattr(at("l"), "user.via", "1", 1, 0));
  listx("listxattr of the target", at("f"));
  mkfifo(at("p"), 0644);
  R("user.a on a FIFO", lsetxattr(at("p"), "user.a", "1", 1, 0));
  R("trusted.a on a FIFO", lsetxattr(at("p"), "trusted.a", "1", 1, 0));
  /* through fds */
  int fd = open(at("f"), O_RDONLY);
  R("fsetxattr", fsetxattr(fd, "user.fd", "fd", 2, 0));
  char b[64];
  R("fgetxattr", fgetxattr(fd, "user.fd", b, sizeof b));
  R("flistxattr size 0", flistxattr(fd, NULL, 0));
  R("fremovexattr", fremovexattr(fd, "user.fd"));
  close(fd);
  /* many values on one file */
  memset(b, 'm', sizeof b);
  int i;
  char name[32];
  for (i = 0; i < 200; i++) {
    snprintf(name, sizeof name, "user.many%03d", i);
    if (lsetxattr(at("f"), name, b, 60, 0) < 0) break;
  }
  printf("200 attributes of 60 bytes: %d set%s%s\n", i, i < 200 ? ", then " : "", i < 200 ? strerrorname_np(errno) : "");
  R("listxattr size", llistxattr(at("f"), NULL, 0));
  /* A chown drops file capabilities (a directory keeps them). */
  put("capf", "");
  uint32_t cap[5] = {0x02000000, 1, 0, 0, 0};
  R("set security.capability", lsetxattr(at("capf"), "security.capability", cap, sizeof cap, 0));
  R("chown", chown(at("capf"), 1000, -1));
  R("getxattr security.capability after the chown", lgetxattr(at("capf"), "security.capability", b, sizeof b));
  /* the fixture (a lower file of the overlay): a copy-up keeps what it had */
  R("setxattr a lower file", lsetxattr(at("fix/file"), "user.low", "l", 1, 0));
  listx("listxattr", at("fix/file"));
  R("setxattr a lower directory", lsetxattr(at("fix/dir"), "user.low", "l", 1, 0));
  listx("listxattr", at("fix/dir"));
}

/* ------------------------------------------------------------ tmpfile */

/* One fd's file: its link count, permission bits, size, and whether
 * /proc/self/fd shows it as Linux shows an unnamed file ("DIR/#INO (deleted)"). */
static void tmp_show(const char *what, int fd) {
  struct stat st;
  char line[256], link[4096], want[4200], fdp[64];
  snprintf(line, sizeof line, "%s: fstat", what);
  int r = fstat(fd, &st);
  report(line, r, errno);
  if (r < 0) return;
  printf("%s: %s nlink %lu mode %o size %lld\n", what, type(st.st_mode), (unsigned long)st.st_nlink, st.st_mode & 07777, (long long)st.st_size);
  snprintf(fdp, sizeof fdp, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(fdp, link, sizeof link - 1);
  link[n < 0 ? 0 : n] = 0;
  snprintf(want, sizeof want, "%s/#%llu (deleted)", D, (unsigned long long)st.st_ino);
  printf("%s: /proc/self/fd names it DIR/#INO (deleted): %d\n", what, !strcmp(link, want));
}

static void tmp_content(const char *what, const char *path) {
  char buf[64] = "";
  int fd = open(path, O_RDONLY);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0) close(fd);
  buf[n < 0 ? 0 : n] = 0;
  printf("%s: \"%s\"\n", what, buf);
}

/* open(dir, O_TMPFILE): an unnamed file, named later by linkat (AT_EMPTY_PATH
 * or /proc/self/fd/N) unless made with O_EXCL. */
static void cmd_tmpfile(void) {
  umask(022);
  int fd = open(D, O_TMPFILE | O_RDWR, 0777);
  report("O_TMPFILE|O_RDWR", fd < 0 ? fd : 0, errno);
  if (fd < 0) return;
  R("write", write(fd, "hello", 5));
  tmp_show("unnamed", fd);
  R("F_GETFL & O_ACCMODE", fcntl(fd, F_GETFL) & O_ACCMODE);
  R("linkat(fd, \"\", a, AT_EMPTY_PATH)", linkat(fd, "", AT_FDCWD, at("a"), AT_EMPTY_PATH));
  tmp_show("after linkat", fd);
  tmp_content("a reads", at("a"));
  R("linkat again to an existing name", linkat(fd, "", AT_FDCWD, at("a"), AT_EMPTY_PATH));
  R("linkat again to b", linkat(fd, "", AT_FDCWD, at("b"), AT_EMPTY_PATH));
  R("unlink a", unlink(at("a")));
  R("unlink b", unlink(at("b")));
  R("linkat once its names are gone", linkat(fd, "", AT_FDCWD, at("c"), AT_EMPTY_PATH));
  close(fd);

  char fdp[64];
  fd = open(D, O_TMPFILE | O_WRONLY, 0640);
  report("O_TMPFILE|O_WRONLY", fd < 0 ? fd : 0, errno);
  R("F_GETFL & O_ACCMODE", fcntl(fd, F_GETFL) & O_ACCMODE);
  R("write", write(fd, "via proc", 8));
  snprintf(fdp, sizeof fdp, "/proc/self/fd/%d", fd);
  R("linkat(/proc/self/fd/N, d, AT_SYMLINK_FOLLOW)", linkat(AT_FDCWD, fdp, AT_FDCWD, at("d"), AT_SYMLINK_FOLLOW));
  tmp_show("linked through /proc", fd);
  tmp_content("d reads", at("d"));
  close(fd);

  fd = open(D, O_TMPFILE | O_RDWR | O_EXCL, 0600);
  report("O_TMPFILE|O_RDWR|O_EXCL", fd < 0 ? fd : 0, errno);
  tmp_show("exclusive", fd);
  R("linkat(fd, \"\", e, AT_EMPTY_PATH) of an O_EXCL one", linkat(fd, "", AT_FDCWD, at("e"), AT_EMPTY_PATH));
  snprintf(fdp, sizeof fdp, "/proc/self/fd/%d", fd);
  R("linkat(/proc/self/fd/N) of an O_EXCL one", linkat(AT_FDCWD, fdp, AT_FDCWD, at("e"), AT_SYMLINK_FOLLOW));
  close(fd);

  int u = open(at("u"), O_CREAT | O_RDWR, 0644);
  unlink(at("u"));
  R("linkat of an unlinked (not O_TMPFILE) file", linkat(u, "", AT_FDCWD, at("u2"), AT_EMPTY_PATH));
  close(u);

  mkdir(at("sub"), 0755);
  int in = open(at("sub"), O_TMPFILE | O_RDWR, 0600);
  report("O_TMPFILE in a subdirectory", in < 0 ? in : 0, errno);
  R("linkat it into the parent", linkat(in, "", AT_FDCWD, at("f"), AT_EMPTY_PATH));
  close(in);
  R("rmdir the subdirectory (the file never was in it)", rmdir(at("sub")));

  R("O_TMPFILE|O_RDONLY", open(D, O_TMPFILE | O_RDONLY, 0600));
  R("O_TMPFILE|O_CREAT|O_RDWR", open(D, O_TMPFILE | O_CREAT | O_RDWR, 0600));
  R("__O_TMPFILE without O_DIRECTORY", open(D, (O_TMPFILE & ~O_DIRECTORY) | O_RDWR, 0600));
  R("O_TMPFILE on a file", open(at("d"), O_TMPFILE | O_RDWR, 0600));
  R("O_TMPFILE on a missing path", open(at("missing"), O_TMPFILE | O_RDWR, 0600));
  R("O_TMPFILE|O_PATH (O_PATH keeps O_DIRECTORY only)", ({ int p = open(D, O_TMPFILE | O_PATH | O_RDWR, 0600); int ok = p >= 0; if (p >= 0) close(p); p < 0 ? p : ok; }));
  int sys = syscall(SYS_open, D, O_TMPFILE | O_RDWR, 0600);
  report("the open syscall with O_TMPFILE", sys < 0 ? sys : 0, errno);
  close(sys);
  struct open_how how = {.flags = O_TMPFILE | O_RDWR, .mode = 0600};
  sys = syscall(SYS_openat2, AT_FDCWD, D, &how, sizeof how);
  report("openat2 with O_TMPFILE", sys < 0 ? sys : 0, errno);
  R("linkat it", linkat(sys, "", AT_FDCWD, at("g"), AT_EMPTY_PATH));
  close(sys);
  how.flags = O_TMPFILE | O_RDONLY;
  R("openat2 with O_TMPFILE|O_RDONLY", syscall(SYS_openat2, AT_FDCWD, D, &how, sizeof how));
  int dfd = open(D, O_RDONLY | O_DIRECTORY);
  int rel = openat(dfd, ".", O_TMPFILE | O_RDWR, 0600);
  report("openat(dirfd, \".\", O_TMPFILE)", rel < 0 ? rel : 0, errno);
  close(rel);
  close(dfd);
  struct stat st;
  R("names left: a", stat(at("a"), &st));
  R("names left: d", stat(at("d"), &st));
  R("names left: e", stat(at("e"), &st));
  R("names left: f", stat(at("f"), &st));
  R("names left: g", stat(at("g"), &st));
}

/* ----------------------------------------------- F_GETFL after open */

static void cmd_flags(void) {
  const int sets[] = {O_RDONLY, O_WRONLY, O_RDWR, O_RDWR | O_APPEND | O_NONBLOCK, O_RDWR | O_SYNC, O_RDWR | O_DSYNC,
                      O_RDONLY | O_NOFOLLOW, O_RDWR | O_NOATIME, O_WRONLY | O_TRUNC | O_APPEND, O_RDONLY | O_NOCTTY};
  put("f", "flags\n");
  for (unsigned i = 0; i < sizeof sets / sizeof *sets; i++) {
    char w[64];
    int fd = open(at("f"), sets[i]);
    snprintf(w, sizeof w, "F_GETFL after open(%#o)", sets[i]);
    R(w, fd < 0 ? -1 : fcntl(fd, F_GETFL));
    close(fd);
  }
  int fd = open(at("new"), O_RDWR | O_CREAT | O_EXCL | O_APPEND, 0644);
  R("F_GETFL after a create", fcntl(fd, F_GETFL));
  R("F_SETFL O_NONBLOCK|O_APPEND", fcntl(fd, F_SETFL, O_NONBLOCK));
  R("F_GETFL", fcntl(fd, F_GETFL));
  close(fd);
  fd = open(at("fix/file"), O_RDWR | O_APPEND);
  R("F_GETFL of a lower file opened for writing", fcntl(fd, F_GETFL));
  close(fd);
  put("t", "to truncate\n");
  fd = open(at("t"), O_RDONLY | O_TRUNC);
  struct stat st;
  fstat(fd, &st);
  printf("O_RDONLY|O_TRUNC truncates: size %ld\n", (long)st.st_size);
  close(fd);
  fd = open(at("fix/dir"), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  R("F_GETFL of a directory", fcntl(fd, F_GETFL));
  /* statx's mount id: the same for two objects of one mount */
  struct statx a, b;
  R("statx STATX_MNT_ID", statx(AT_FDCWD, at("t"), 0, STATX_MNT_ID, &a));
  R("statx STATX_MNT_ID of a directory fd", statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &b));
  printf("mount ids: %s, %s\n", (a.stx_mask & STATX_MNT_ID) && a.stx_mnt_id ? "set" : "unset", a.stx_mnt_id == b.stx_mnt_id ? "equal" : "different");
  close(fd);
}

/* ----------------------------------------------------- RLIMIT_FSIZE */

static void cmd_fsize(void) {
  put("f", "0123456789");
  struct rlimit rl = {1000, 1000};
  signal(SIGXFSZ, SIG_IGN);
  R("setrlimit RLIMIT_FSIZE 1000", setrlimit(RLIMIT_FSIZE, &rl));
  R("truncate to 1000", truncate(at("f"), 1000));
  R("truncate to 1001", truncate(at("f"), 1001));
  int fd = open(at("f"), O_RDWR);
  R("ftruncate to 2000", ftruncate(fd, 2000));
  R("pwrite at 995, 10 bytes", pwrite(fd, "abcdefghij", 10, 995));
  R("pwrite at 1000", pwrite(fd, "x", 1, 1000));
  R("fallocate past the limit", fallocate(fd, 0, 0, 5000));
  R("truncate shorter", truncate(at("f"), 10));
  close(fd);
  R("O_TRUNC", open(at("f"), O_WRONLY | O_TRUNC) >= 0 ? 0 : -1);
  R("a lower file (copy-up), truncate to 2000", truncate(at("fix/file"), 2000));
  R("a lower file, truncate to 500", truncate(at("fix/file"), 500));
  /* The default action of SIGXFSZ ends the process. */
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    signal(SIGXFSZ, SIG_DFL);
    truncate(at("f"), 5000);
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  printf("truncate past the limit with SIGXFSZ's default: %s %d\n", WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  fflush(stdout);
  c = fork();
  if (c == 0) {
    signal(SIGXFSZ, SIG_DFL);
    int f = open(at("f"), O_WRONLY);
    if (pwrite(f, "x", 1, 4000) < 0) _exit(9);
    _exit(0);
  }
  waitpid(c, &st, 0);
  printf("write past the limit with SIGXFSZ's default: %s %d\n", WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

/* ----------------------------------------------------------- /proc */

static void cmd_proc(void) {
  const char *files[] = {"/proc/self/stat", "/proc/self/status", "/proc/meminfo", "/proc/self/maps", "/proc/self/mounts", "/proc/self/cmdline", "/proc/uptime", NULL};
  for (int i = 0; files[i]; i++) {
    int fd = open(files[i], O_RDONLY);
    char w[128];
    snprintf(w, sizeof w, "lseek SEEK_END %s", files[i]);
    R(w, lseek(fd, 0, SEEK_END));
    snprintf(w, sizeof w, "lseek SEEK_SET 1 %s", files[i]);
    R(w, lseek(fd, 1, SEEK_SET));
    close(fd);
  }
}

/* ------------------------------------------------------- deep paths */

static void cmd_deep(int levels) {
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return;
  if (chdir(D) < 0) return;
  int depth = 0;
  for (; depth < levels; depth++) {
    if (mkdir("d", 0755) < 0 || chdir("d") < 0) break;
  }
  printf("depth reached: %d\n", depth);
  int fd = open("leaf", O_CREAT | O_WRONLY, 0644);
  R("create a file at the bottom", fd >= 0 ? 0 : -1);
  R("write", write(fd, "deep", 4));
  close(fd);
  struct stat s;
  R("stat it", stat("leaf", &s));
  char b[8192];
  R("getcwd", syscall(SYS_getcwd, b, sizeof b));
  R("readlink /proc/self/cwd", readlink("/proc/self/cwd", b, sizeof b));
  R("unlink it", unlink("leaf"));
  int up = 0;
  for (; up < depth; up++) {
    if (chdir("..") < 0 || rmdir("d") < 0) break;
  }
  printf("removed on the way up: %d\n", up);
  if (chdir(cwd) < 0) perror("chdir");
}

/* -------------------------------------------------- overlay whiteouts */

/* stat of D/rel (following links unless `nofollow`): the result, and the type (and size, but of a directory) of what it found */
static void walkstat(const char *rel, int nofollow) {
  struct stat st;
  errno = 0;
  int r = nofollow ? lstat(at(rel), &st) : stat(at(rel), &st);
  if (r < 0) printf("%s %s: -1 %s\n", nofollow ? "lstat" : "stat", rel, strerrorname_np(errno));
  else printf("%s %s: %s %lld\n", nofollow ? "lstat" : "stat", rel, type(st.st_mode), S_ISDIR(st.st_mode) ? 0LL : (long long)st.st_size);
}

/*
 * Paths of several components no lookup met before (a sandbox walks them
 * cold, several components a Gofer request): a symlink, a file, a missing
 * name, "..", "." and a trailing slash in the middle or at the end, a loop,
 * a directory only its owner may search; then the same paths again (cached).
 */
static void cmd_walk(void) {
  const char *paths[] = {"walk/a/b/c/d/f", "walk/l/m/x/c/d/f", "walk/n/m/file/more", "walk/e/g/missing/h", "walk/e/g/missing",
                         "walk/p/q/../q/r/./s/f", "walk/k/loop1/x", "walk/dg/h/dangling/x", "walk/tr/x/f/", "walk/w/x/y/last",
                         "walk/a/b/c/d/f/../f", NULL};
  for (int pass = 0; pass < 2; pass++) {
    printf("-- pass %d\n", pass);
    for (int i = 0; paths[i]; i++) walkstat(paths[i], 0);
    walkstat("walk/w/x/y/last", 1);
  }
  int fd = open(at("walk/o/p/q/f"), O_RDONLY);
  char buf[64] = {0};
  R("open walk/o/p/q/f", fd < 0 ? -1 : 0);
  R("read it", fd < 0 ? -1 : read(fd, buf, sizeof buf - 1));
  printf("contents: %s", buf);
  if (fd >= 0) close(fd);
  /* a directory only root may search, walked by another user */
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(65534) < 0 || setuid(65534) < 0) _exit(1);
    walkstat("walk/s/t/u/v", 0);
    walkstat("walk/s/t/u", 0);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  R("child exit status", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  walkstat("walk/s/t/u/v", 0);
}

static void tree(const char *rel, int depth);

static void cmd_whiteout(void) {
  /* delete, recreate, delete again: gone, at every depth, files and directories */
  const char *dirs[] = {"fix/dir", "fix/dir/sub", "fix/deep/x/y", NULL};
  for (int i = 0; dirs[i]; i++) {
    char cmd[8192];
    printf("-- %s\n", dirs[i]);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", at(dirs[i]));
    R("rm -rf", system(cmd));
    LST("lstat", at(dirs[i]));
    R("mkdir", mkdir(at(dirs[i]), 0755));
    char inner[4096];
    snprintf(inner, sizeof inner, "%s/new", dirs[i]);
    put(inner, "new\n");
    R("rm -rf again", system(cmd));
    LST("lstat", at(dirs[i]));
    R("mkdir", mkdir(at(dirs[i]), 0755));
    R("rmdir", rmdir(at(dirs[i])));
    LST("lstat", at(dirs[i]));
    R("mkdir once more", mkdir(at(dirs[i]), 0755));
  }
  printf("-- files\n");
  R("unlink", unlink(at("fix/file")));
  put("fix/file", "again\n");
  R("unlink again", unlink(at("fix/file")));
  LST("lstat", at("fix/file"));
  R("mkdir where the file was", mkdir(at("fix/file"), 0755));
  R("rmdir it", rmdir(at("fix/file")));
  LST("lstat", at("fix/file"));
  R("symlink where the file was", symlink("x", at("fix/file")));
  R("unlink", unlink(at("fix/file")));
  LST("lstat", at("fix/file"));
  printf("-- renames\n");
  R("rename a file over a recreated-and-deleted name", (put("fix/r1", "r1\n"), rename(at("fix/r1"), at("fix/file"))));
  LST("lstat", at("fix/file"));
  R("rename a lower directory into a deleted one's place", rename(at("fix/dir2"), at("fix/dir")));
  tree("fix", 0);
  R("rename it back", rename(at("fix/dir"), at("fix/dir2")));
  LST("lstat the old name", at("fix/dir"));
  R("mkdir the old name", mkdir(at("fix/dir"), 0755));
  tree("fix", 0);
  R("rename a lower file into a new directory", rename(at("fix/file2"), at("fix/dir/file2")));
  R("rename the directory over an empty lower one", rename(at("fix/dir"), at("fix/empty")));
  LST("lstat the old name", at("fix/dir"));
  tree("fix", 0);
  printf("-- RENAME_EXCHANGE\n");
  R("exchange two lower directories with content", renameat2(AT_FDCWD, at("fix/dir2"), AT_FDCWD, at("fix/deep"), RENAME_EXCHANGE));
  tree("fix", 0);
  R("exchange a directory and a file", renameat2(AT_FDCWD, at("fix/dir2"), AT_FDCWD, at("fix/link"), RENAME_EXCHANGE));
  tree("fix", 0);
  R("exchange with a missing name", renameat2(AT_FDCWD, at("fix/dir2"), AT_FDCWD, at("fix/nothing"), RENAME_EXCHANGE));
  R("RENAME_NOREPLACE onto an existing name", renameat2(AT_FDCWD, at("fix/deep"), AT_FDCWD, at("fix/empty"), RENAME_NOREPLACE));
  R("exchange a directory with its own child", renameat2(AT_FDCWD, at("fix/deep"), AT_FDCWD, at("fix/deep/d"), RENAME_EXCHANGE));
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", at("fix"));
  R("rm -rf the whole fixture", system(cmd));
  LST("lstat", at("fix"));
  R("mkdir it", mkdir(at("fix"), 0755));
  tree("fix", 0);
}

/* ------------------------------------------------- random operations */

/* Prints the tree below DIR/rel: names, types, modes, sizes and contents of small files. */
static void tree(const char *rel, int depth) {
  DIR *d = opendir(at(rel));
  if (!d) {
    printf("%*s%s: %s\n", depth * 2, "", rel, strerrorname_np(errno));
    return;
  }
  char *names[512];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 512) {
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
  }
  closedir(d);
  for (int i = 0; i < n; i++) {
    for (int j = i + 1; j < n; j++) {
      if (strcmp(names[i], names[j]) > 0) {
        char *t = names[i];
        names[i] = names[j];
        names[j] = t;
      }
    }
  }
  printf("%*s%s/ (%d)\n", depth * 2, "", rel, n);
  for (int i = 0; i < n; i++) {
    char child[4096];
    snprintf(child, sizeof child, "%s/%s", rel, names[i]);
    struct stat s;
    if (lstat(at(child), &s) < 0) {
      printf("%*s  %s: %s\n", depth * 2, "", names[i], strerrorname_np(errno));
    } else if (S_ISDIR(s.st_mode)) {
      tree(child, depth + 1);
    } else if (S_ISREG(s.st_mode)) {
      char b[64] = {0};
      int fd = open(at(child), O_RDONLY);
      ssize_t k = fd >= 0 ? read(fd, b, sizeof b - 1) : -1;
      if (fd >= 0) close(fd);
      if (k > 0 && b[k - 1] == '\n') b[k - 1] = 0;
      printf("%*s  %s %04o \"%s\"\n", depth * 2, "", names[i], s.st_mode & 07777, b);
    } else {
      printf("%*s  %s %s\n", depth * 2, "", names[i], type(s.st_mode));
    }
    free(names[i]);
  }
  fflush(stdout);
}

static uint64_t rng;
static unsigned rnd(unsigned n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng % n);
}

/* A path in the tree: up to three levels of names from a small alphabet, so operations meet. */
static const char *rpath(void) {
  static const char *names[] = {"dir", "dir2", "empty", "deep", "file", "a", "sub", "x", "y", "n1", "n2"};
  static char buf[4][256];
  static int k;
  k = (k + 1) % 4;
  int levels = 1 + rnd(3);
  strcpy(buf[k], "fix");
  for (int i = 0; i < levels; i++) {
    strcat(buf[k], "/");
    strcat(buf[k], names[rnd(sizeof names / sizeof *names)]);
  }
  return buf[k];
}

static void cmd_random(unsigned seed, int ops) {
  rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed * 0x100000001b3ull);
  if (!rng) rng = 1;
  char w[1024];
  for (int i = 0; i < ops; i++) {
    const char *p = rpath(), *q = rpath();
    switch (rnd(10)) {
      case 0:
        snprintf(w, sizeof w, "mkdir %s", p);
        R(w, mkdir(at(p), 0755));
        break;
      case 1:
        snprintf(w, sizeof w, "rmdir %s", p);
        R(w, rmdir(at(p)));
        break;
      case 2:
        snprintf(w, sizeof w, "create %s", p);
        {
          int fd = open(at(p), O_CREAT | O_WRONLY | O_TRUNC, 0644);
          if (fd >= 0) {
            dprintf(fd, "%d\n", i);
            close(fd);
          }
          R(w, fd >= 0 ? 0 : -1);
        }
        break;
      case 3:
        snprintf(w, sizeof w, "unlink %s", p);
        R(w, unlink(at(p)));
        break;
      case 4:
      case 5:
        snprintf(w, sizeof w, "rename %s %s", p, q);
        R(w, rename(at(p), at(q)));
        break;
      case 6:
        snprintf(w, sizeof w, "exchange %s %s", p, q);
        R(w, renameat2(AT_FDCWD, at(p), AT_FDCWD, at(q), RENAME_EXCHANGE));
        break;
      case 7:
        snprintf(w, sizeof w, "rm -rf %s", p);
        {
          char cmd[4096];
          snprintf(cmd, sizeof cmd, "rm -rf '%s'", at(p));
          R(w, system(cmd));
        }
        break;
      case 8:
        snprintf(w, sizeof w, "symlink %s", p);
        R(w, symlink("target", at(p)));
        break;
      case 9:
        snprintf(w, sizeof w, "noreplace %s %s", p, q);
        R(w, renameat2(AT_FDCWD, at(p), AT_FDCWD, at(q), RENAME_NOREPLACE));
        break;
    }
  }
  tree("fix", 0);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: exactfs DIR SUBCOMMAND [ARGS]\n");
    return 2;
  }
  D = argv[1];
  DLEN = strlen(D);
  const char *cmd = argv[2];
  setvbuf(stdout, NULL, _IOLBF, 0);
  umask(022);
  if (!strcmp(cmd, "exit3")) return 3;
  if (!strcmp(cmd, "setup")) cmd_setup();
  else if (!strcmp(cmd, "fd-file")) cmd_fd_file();
  else if (!strcmp(cmd, "fd-dir")) cmd_fd_dir();
  else if (!strcmp(cmd, "times")) cmd_times();
  else if (!strcmp(cmd, "dirs")) cmd_dirs();
  else if (!strcmp(cmd, "opath")) cmd_opath(argv[0]);
  else if (!strcmp(cmd, "fifo")) cmd_fifo();
  else if (!strcmp(cmd, "pipes")) cmd_pipes();
  else if (!strcmp(cmd, "xattr")) cmd_xattr();
  else if (!strcmp(cmd, "fsize")) cmd_fsize();
  else if (!strcmp(cmd, "flags")) cmd_flags();
  else if (!strcmp(cmd, "tmpfile")) cmd_tmpfile();
  else if (!strcmp(cmd, "proc")) cmd_proc();
  else if (!strcmp(cmd, "deep")) cmd_deep(argc > 3 ? atoi(argv[3]) : 4095);
  else if (!strcmp(cmd, "whiteout")) cmd_whiteout();
  else if (!strcmp(cmd, "walk")) cmd_walk();
  else if (!strcmp(cmd, "random") && argc > 4) cmd_random((unsigned)strtoul(argv[3], 0, 10), atoi(argv[4]));
  else {
    fprintf(stderr, "exactfs: unknown subcommand %s\n", cmd);
    return 2;
  }
  return 0;
}
