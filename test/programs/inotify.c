// inotify: the same sequence of operations natively and under tsvisor; prints
// every call's result and every event (cookies as C1, C2... in order of first
// appearance), so the two event streams can be compared line by line.
// usage: inotify <scratch dir> <case>
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *dir;
static unsigned cookies[64];
static int ncookies;

static void p(const char *what, long r) {
  if (r < 0) printf("%s = -1 %s\n", what, strerrorname_np(errno));
  else printf("%s = %ld\n", what, r);
}

static char *at(const char *name) {
  static char buf[8][4096];
  static int i;
  i = (i + 1) % 8;
  snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
  return buf[i];
}

static const char *cookie(unsigned c) {
  static char buf[16];
  if (!c) return "0";
  int i;
  for (i = 0; i < ncookies && cookies[i] != c; i++) {}
  if (i == ncookies && ncookies < 64) cookies[ncookies++] = c;
  snprintf(buf, sizeof buf, "C%d", i + 1);
  return buf;
}

// Reads every queued event; checks that FIONREAD announced what one read returns.
static void drain(int fd, const char *label) {
  printf("-- %s\n", label);
  for (;;) {
    int avail = -1;
    if (ioctl(fd, FIONREAD, &avail) < 0) { p("FIONREAD", -1); return; }
    char buf[1 << 16] __attribute__((aligned(8)));
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno != EAGAIN) p("read", -1);
      printf("FIONREAD at EAGAIN = %d\n", avail);
      return;
    }
    if (n != avail) printf("read %zd bytes, FIONREAD said %d\n", n, avail);
    for (char *q = buf; q < buf + n;) {
      struct inotify_event *e = (struct inotify_event *)q;
      printf("wd=%d mask=%#x cookie=%s name=%s\n", e->wd, e->mask, cookie(e->cookie), e->len ? e->name : "");
      q += sizeof *e + e->len;
    }
  }
}

static int touch(const char *name) {
  int fd = open(at(name), O_CREAT | O_WRONLY, 0644);
  if (fd >= 0) close(fd);
  return fd < 0 ? -1 : 0;
}

static void case_basic(void) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  p("inotify_init1", fd >= 0 ? 0 : -1);
  p("cloexec", fcntl(fd, F_GETFD) & FD_CLOEXEC);
  p("nonblock", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  char small[8];
  p("read empty", read(fd, small, sizeof small));
  p("mkdir d", mkdir(at("d"), 0755));
  int wd = inotify_add_watch(fd, at("d"), IN_ALL_EVENTS);
  p("add_watch d", wd);
  p("create d/f", touch("d/f"));
  drain(fd, "create");
  int f = open(at("d/f"), O_WRONLY | O_TRUNC);
  p("open d/f O_TRUNC", f >= 0 ? 0 : -1);
  drain(fd, "open O_TRUNC");
  close(f);
  p("chmod d/f", chmod(at("d/f"), 0600));
  p("read too small", read(fd, small, sizeof small));
  p("truncate d/f", truncate(at("d/f"), 10));
  struct timespec ts[2] = {{1, 0}, {2, 0}};
  p("utimensat both", utimensat(AT_FDCWD, at("d/f"), ts, 0));
  ts[1].tv_nsec = UTIME_OMIT;
  p("utimensat atime", utimensat(AT_FDCWD, at("d/f"), ts, 0));
  ts[0].tv_nsec = UTIME_OMIT;
  ts[1].tv_nsec = 0;
  p("utimensat mtime", utimensat(AT_FDCWD, at("d/f"), ts, 0));
  struct pollfd pf = {fd, POLLIN, 0};
  p("poll", poll(&pf, 1, 0));
  printf("revents %#x\n", pf.revents);
  fd_set rs;
  FD_ZERO(&rs);
  FD_SET(fd, &rs);
  struct timeval tv = {0, 0};
  p("select", select(fd + 1, &rs, NULL, NULL, &tv));
  int ep = epoll_create1(0);
  struct epoll_event ee = {.events = EPOLLIN, .data.u32 = 7};
  p("epoll_ctl", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ee));
  struct epoll_event out;
  p("epoll_wait", epoll_wait(ep, &out, 1, 0));
  drain(fd, "attributes");
  p("epoll_wait empty", epoll_wait(ep, &out, 1, 0));
  p("mkdir d/sub", mkdir(at("d/sub"), 0755));
  p("rename d/f d/g", rename(at("d/f"), at("d/g")));
  p("symlink d/l", symlink("g", at("d/l")));
  p("link d/h", link(at("d/g"), at("d/h")));
  p("unlink d/h", unlink(at("d/h")));
  p("unlink d/l", unlink(at("d/l")));
  p("rmdir d/sub", rmdir(at("d/sub")));
  int dfd = open(at("d"), O_RDONLY | O_DIRECTORY);
  char dents[4096];
  p("getdents", syscall(SYS_getdents64, dfd, dents, sizeof dents) > 0);
  close(dfd);
  drain(fd, "names");
  p("unlink d/g", unlink(at("d/g")));
  p("rmdir d", rmdir(at("d")));
  drain(fd, "removal");
  p("rm_watch after removal", inotify_rm_watch(fd, wd));
}

static void case_watches(void) {
  int fd = inotify_init();
  p("inotify_init", fd >= 0 ? 0 : -1);
  p("nonblock", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  p("init1 bad flags", inotify_init1(1));
  p("mkdir a", mkdir(at("a"), 0755));
  p("mkdir b", mkdir(at("b"), 0755));
  p("touch a/f", touch("a/f"));
  p("symlink s", symlink("a/f", at("s")));
  p("add no events", inotify_add_watch(fd, at("a"), 0));
  p("add ADD|CREATE", inotify_add_watch(fd, at("a"), IN_CREATE | IN_MASK_ADD | IN_MASK_CREATE));
  p("add bad fd", inotify_add_watch(-1, at("a"), IN_CREATE));
  p("add closed fd", inotify_add_watch(999, at("a"), IN_CREATE));
  int pipefd[2];
  if (pipe(pipefd) == 0) p("add on pipe", inotify_add_watch(pipefd[0], at("a"), IN_CREATE));
  p("add missing", inotify_add_watch(fd, at("nope"), IN_CREATE));
  p("add a", inotify_add_watch(fd, at("a"), IN_CREATE));
  p("add b", inotify_add_watch(fd, at("b"), IN_DELETE));
  p("add a again", inotify_add_watch(fd, at("a/../a"), IN_DELETE));
  p("add a MASK_CREATE", inotify_add_watch(fd, at("a"), IN_DELETE | IN_MASK_CREATE));
  p("add a MASK_ADD", inotify_add_watch(fd, at("a"), IN_CREATE | IN_MASK_ADD));
  p("add a/f ONLYDIR", inotify_add_watch(fd, at("a/f"), IN_ATTRIB | IN_ONLYDIR));
  p("add s (follows)", inotify_add_watch(fd, at("s"), IN_ATTRIB));
  p("add s DONT_FOLLOW", inotify_add_watch(fd, at("s"), IN_ATTRIB | IN_DONT_FOLLOW));
  p("add a/f again", inotify_add_watch(fd, at("a/f"), IN_ATTRIB | IN_ONESHOT));
  p("touch a/g", touch("a/g"));
  p("unlink a/g", unlink(at("a/g")));
  p("chmod a/f", chmod(at("a/f"), 0600));
  p("chmod a/f again", chmod(at("a/f"), 0644));
  p("touch b/x", touch("b/x"));
  p("unlink b/x", unlink(at("b/x")));
  drain(fd, "watches");
  p("rm_watch 1", inotify_rm_watch(fd, 1));
  p("rm_watch 1 again", inotify_rm_watch(fd, 1));
  p("rm_watch 99", inotify_rm_watch(fd, 99));
  p("rm_watch pipe", inotify_rm_watch(pipefd[0], 1));
  p("rm_watch bad fd", inotify_rm_watch(-1, 1));
  p("touch a/h", touch("a/h"));
  drain(fd, "after rm_watch");
  p("add a after rm", inotify_add_watch(fd, at("a"), IN_CREATE));
  close(fd);
  fd = inotify_init1(IN_NONBLOCK);
  p("new instance add a", inotify_add_watch(fd, at("a"), IN_CREATE));
  // A forked child shares the instance.
  pid_t pid = fork();
  if (pid == 0) {
    touch("a/child");
    _exit(inotify_add_watch(fd, at("b"), IN_CREATE));
  }
  int st;
  waitpid(pid, &st, 0);
  p("child's wd for b", WEXITSTATUS(st));
  drain(fd, "fork");
}

static void case_moves(void) {
  int fd = inotify_init1(IN_NONBLOCK);
  mkdir(at("a"), 0755);
  mkdir(at("b"), 0755);
  touch("a/f");
  touch("a/victim");
  touch("b/victim");
  mkdir(at("a/sub"), 0755);
  p("watch a", inotify_add_watch(fd, at("a"), IN_ALL_EVENTS));
  p("watch b", inotify_add_watch(fd, at("b"), IN_ALL_EVENTS));
  p("watch a/f", inotify_add_watch(fd, at("a/f"), IN_ALL_EVENTS));
  p("watch b/victim", inotify_add_watch(fd, at("b/victim"), IN_ALL_EVENTS));
  p("watch a/sub", inotify_add_watch(fd, at("a/sub"), IN_ALL_EVENTS));
  p("rename a/f b/f", rename(at("a/f"), at("b/f")));
  p("rename within b", rename(at("b/f"), at("b/f2")));
  p("rename over b/victim", rename(at("b/f2"), at("b/victim")));
  p("rename a/sub b/sub", rename(at("a/sub"), at("b/sub")));
  p("rename out of watched", rename(at("a/victim"), at("out")));
  p("rename into watched", rename(at("out"), at("a/in")));
  drain(fd, "moves");
  int other = inotify_init1(IN_NONBLOCK);
  p("other watch b", inotify_add_watch(other, at("b"), IN_DELETE | IN_ONESHOT));
  p("unlink b/victim", unlink(at("b/victim")));
  p("rmdir b/sub", rmdir(at("b/sub")));
  drain(fd, "deletes");
  drain(other, "other instance");
}

static void case_overflow(void) {
  int fd = inotify_init1(IN_NONBLOCK);
  touch("f");
  p("watch f", inotify_add_watch(fd, at("f"), IN_ATTRIB | IN_ACCESS));
  struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  // Identical consecutive events are merged.
  for (int i = 0; i < 3; i++) chmod(at("f"), 0600);
  drain(fd, "coalesced");
  // Alternating events are not: past max_queued_events (16384) one IN_Q_OVERFLOW ends the queue.
  for (int i = 0; i < 8300; i++) {
    chmod(at("f"), 0600);
    utimensat(AT_FDCWD, at("f"), ts, 0);
  }
  int avail = 0;
  ioctl(fd, FIONREAD, &avail);
  printf("FIONREAD = %d\n", avail);
  static char buf[1 << 20] __attribute__((aligned(8)));
  ssize_t n = read(fd, buf, sizeof buf);
  int events = 0;
  struct inotify_event *last = NULL;
  for (char *q = buf; n > 0 && q < buf + n; q += sizeof *last + last->len, events++) last = (struct inotify_event *)q;
  printf("events %d, last wd=%d mask=%#x\n", events, last ? last->wd : 0, last ? last->mask : 0);
}

static void case_data(void) {
  int fd = inotify_init1(IN_NONBLOCK);
  mkdir(at("d"), 0755);
  touch("d/f");
  touch("d/gone");
  p("watch d", inotify_add_watch(fd, at("d"), IN_ALL_EVENTS));
  p("watch d/f", inotify_add_watch(fd, at("d/f"), IN_MODIFY | IN_ACCESS | IN_CLOSE));
  int f = open(at("d/f"), O_RDWR);
  p("write", write(f, "hello", 5));
  p("zero-length write", write(f, "", 0));
  p("pread", pread(f, (char[8]){0}, 8, 0));
  p("close", close(f));
  drain(fd, "write, read, close");
  f = open(at("d/f"), O_RDONLY);
  p("read", read(f, (char[8]){0}, 8));
  p("read at end", read(f, (char[8]){0}, 8));
  close(f);
  drain(fd, "read-only");
  int excl = inotify_init1(IN_NONBLOCK);
  p("excl watch d", inotify_add_watch(excl, at("d"), IN_MODIFY | IN_DELETE | IN_EXCL_UNLINK));
  f = open(at("d/gone"), O_RDWR);
  p("unlink open file", unlink(at("d/gone")));
  p("write unlinked", write(f, "x", 1));
  close(f);
  drain(fd, "unlinked child");
  drain(excl, "IN_EXCL_UNLINK");
  // IN_DELETE_SELF of a watched file comes when its last fd is closed.
  touch("d/held");
  int held = open(at("d/held"), O_RDWR);
  int self = inotify_init1(IN_NONBLOCK);
  p("watch d/held", inotify_add_watch(self, at("d/held"), IN_ALL_EVENTS));
  p("unlink d/held", unlink(at("d/held")));
  drain(self, "unlinked, still open");
  p("close d/held", close(held));
  drain(self, "last close");
  // And of a directory when its last open fd is closed.
  mkdir(at("d/sub"), 0755);
  int subfd = open(at("d/sub"), O_RDONLY | O_DIRECTORY);
  int subdup = dup(subfd);
  p("watch d/sub", inotify_add_watch(self, at("d/sub"), IN_ALL_EVENTS));
  p("rmdir d/sub", rmdir(at("d/sub")));
  drain(self, "removed directory, still open");
  p("close one", close(subfd));
  drain(self, "one fd left");
  p("close the other", close(subdup));
  drain(self, "directory's last close");
  // A blocking read wakes up for an event another process causes.
  int blocking = inotify_init();
  p("blocking watch d/f", inotify_add_watch(blocking, at("d/f"), IN_MODIFY));
  pid_t pid = fork();
  if (pid == 0) {
    usleep(200 * 1000);
    int w = open(at("d/f"), O_WRONLY | O_APPEND);
    write(w, "!", 1);
    _exit(0);
  }
  char buf[4096] __attribute__((aligned(8)));
  ssize_t n = read(blocking, buf, sizeof buf);
  struct inotify_event *e = (struct inotify_event *)buf;
  printf("blocking read %zd: wd=%d mask=%#x\n", n, n > 0 ? e->wd : 0, n > 0 ? e->mask : 0);
  waitpid(pid, NULL, 0);
}

// Instances made and closed in a loop never run out (the Sentry's copies of
// closed ones are swept); held ones end at a limit with EMFILE.
static void case_limits(int hold) {
  touch("f");
  int ok = 0;
  for (int i = 0; i < 1000; i++) {
    int fd = inotify_init1(0);
    if (fd < 0) break;
    if (inotify_add_watch(fd, at("f"), IN_MODIFY) == 1) ok++;
    close(fd);
  }
  printf("made, watched and closed: %d\n", ok);
  if (!hold) return;
  int fds[300], n = 0;
  for (; n < 300; n++) {
    fds[n] = inotify_init1(0);
    if (fds[n] < 0) break;
  }
  printf("held: %d, then %s\n", n, n < 300 ? strerrorname_np(errno) : "no limit");
  for (int i = 0; i < n; i++) close(fds[i]);
  int fd = inotify_init1(0);
  p("after closing them", fd >= 0 ? 0 : -1);
}

/* A close of a file opened for writing is reported before the next call's
 * events, however fast the close follows the open: 300 rounds of open,
 * close and chmod of a watched file, each round's events in order. (Under
 * tsvisor the Gofer that opened the file closes its copy after sending it:
 * a guest's close could come first, leaving the last close to the Gofer.) */
static void case_closes(void) {
  int fd = inotify_init1(IN_NONBLOCK);
  mkdir(at("d"), 0755);
  touch("d/f");
  p("watch d", inotify_add_watch(fd, at("d"), IN_CLOSE_WRITE | IN_ATTRIB));
  int in_order = 0, rounds = 300;
  for (int i = 0; i < rounds; i++) {
    int f = open(at("d/f"), O_WRONLY);
    close(f);
    chmod(at("d/f"), i & 1 ? 0600 : 0644);
    char buf[4096] __attribute__((aligned(8)));
    ssize_t n = read(fd, buf, sizeof buf);
    struct inotify_event *a = (struct inotify_event *)buf;
    struct inotify_event *b = (struct inotify_event *)(buf + sizeof *a + a->len);
    in_order += n == (ssize_t)(2 * sizeof *a + a->len + b->len) && a->mask == IN_CLOSE_WRITE && b->mask == IN_ATTRIB;
  }
  printf("IN_CLOSE_WRITE then IN_ATTRIB, alone: %d of %d rounds\n", in_order, rounds);
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  dir = argv[1];
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (!strcmp(argv[2], "basic")) case_basic();
  else if (!strcmp(argv[2], "watches")) case_watches();
  else if (!strcmp(argv[2], "moves")) case_moves();
  else if (!strcmp(argv[2], "overflow")) case_overflow();
  else if (!strcmp(argv[2], "data")) case_data();
  else if (!strcmp(argv[2], "closes")) case_closes();
  else if (!strcmp(argv[2], "churn")) case_limits(0);
  else if (!strcmp(argv[2], "limits")) case_limits(1);
  else return 2;
  return 0;
}
