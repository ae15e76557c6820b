/*
 * Calls on file descriptors that need no path: dup, dup2, dup3, fcntl,
 * close, close_range, memfd_create, ftruncate, the read and write family
 * and lseek on memfds, eventfds, epoll, poll, ppoll, select, pselect6,
 * futex. Case lines as test/programs/calls.h says.
 *
 *   calls-fd DIR   (DIR: a scratch directory; unused here)
 */
#include "calls.h"
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/uio.h>

#define HIGH 200

static const char *cloexec(long fd) { return fcntl((int)fd, F_GETFD) & FD_CLOEXEC ? "cloexec" : "inherit"; }
static const char *isopen(long fd) { return fcntl((int)fd, F_GETFD) >= 0 ? "open" : "closed"; }

static void dups(void) {
  int m = memfd_create("calls-fd", 0);
  long d = TOK(dup, "a memfd", m);
  N(dup, "shares the offset, not close-on-exec", "%s %s", RES(write(m, "abc", 3)) , cloexec(d));
  N(dup, "the offset seen through the copy", "%s", RES(lseek((int)d, 0, SEEK_CUR)));
  T(dup, "a closed fd", 999);
  T(dup, "a negative fd", -1);
  T(dup2, "to a high fd", m, HIGH);
  N(dup2, "the copy is open", "%s %s", isopen(HIGH), cloexec(HIGH));
  T(dup2, "to itself", m, m);
  T(dup2, "a closed fd to itself", 998, 998);
  T(dup2, "a closed fd", 999, HIGH);
  T(dup2, "to a negative fd", m, -1);
  T(dup2, "beyond RLIMIT_NOFILE", m, 1 << 30);
  T(dup3, "O_CLOEXEC to a high fd", m, HIGH + 1, O_CLOEXEC);
  N(dup3, "the copy", "%s", cloexec(HIGH + 1));
  T(dup3, "to itself", m, m, 0);
  T(dup3, "unknown flags", m, HIGH + 2, 0x4);
  T(dup3, "a closed fd", 999, HIGH + 2, 0);
  T(close, "a dup", d);
  T(close, "it again", d);
  T(close, "a negative fd", -1);
  T(close, "HIGH", HIGH);
  T(close, "HIGH + 1", HIGH + 1);
  for (int i = 0; i < 5; i++) dup2(m, HIGH + i);
  T(close_range, "HIGH+1 .. HIGH+2", HIGH + 1, HIGH + 2, 0);
  N(close_range, "what is left", "%s %s %s %s", isopen(HIGH), isopen(HIGH + 1), isopen(HIGH + 2), isopen(HIGH + 3));
  T(close_range, "CLOSE_RANGE_CLOEXEC on HIGH+3 ..", HIGH + 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
  N(close_range, "HIGH+3 and HIGH+4 are open, close-on-exec", "%s %s %s", isopen(HIGH + 3), cloexec(HIGH + 3), cloexec(HIGH + 4));
  T(close_range, "first above last", HIGH + 5, HIGH, 0);
  T(close_range, "unknown flags", HIGH, HIGH, 0x10);
  T(close_range, "a range with nothing open", HIGH + 100, HIGH + 200, 0);
  T(close_range, "HIGH ..", HIGH, ~0U, 0);
  N(close_range, "all closed", "%s %s", isopen(HIGH), isopen(HIGH + 4));
  close(m);
}

static void fcntls(void) {
  int m = memfd_create("calls-fcntl", MFD_ALLOW_SEALING);
  T(fcntl, "F_GETFD", m, F_GETFD);
  T(fcntl, "F_SETFD FD_CLOEXEC", m, F_SETFD, FD_CLOEXEC);
  T(fcntl, "F_GETFD after", m, F_GETFD);
  T(fcntl, "F_GETFL", m, F_GETFL);
  T(fcntl, "F_SETFL O_NONBLOCK|O_APPEND", m, F_SETFL, O_NONBLOCK | O_APPEND);
  T(fcntl, "F_GETFL after", m, F_GETFL);
  T(fcntl, "F_SETFL cannot change the access mode", m, F_SETFL, O_RDONLY);
  T(fcntl, "F_GETFL after that", m, F_GETFL);
  T(fcntl, "F_DUPFD from HIGH", m, F_DUPFD, HIGH);
  N(fcntl, "F_DUPFD's copy", "%s", cloexec(HIGH));
  T(fcntl, "F_DUPFD from HIGH again takes the next", m, F_DUPFD, HIGH);
  T(fcntl, "F_DUPFD_CLOEXEC from HIGH", m, F_DUPFD_CLOEXEC, HIGH);
  N(fcntl, "F_DUPFD_CLOEXEC's copy", "%s", cloexec(HIGH + 2));
  T(fcntl, "F_DUPFD from a negative fd", m, F_DUPFD, -1);
  T(fcntl, "F_DUPFD beyond RLIMIT_NOFILE", m, F_DUPFD, 1 << 30);
  close_range(HIGH, HIGH + 2, 0);
  T(fcntl, "F_GET_SEALS", m, F_GET_SEALS);
  T(fcntl, "F_ADD_SEALS F_SEAL_GROW", m, F_ADD_SEALS, F_SEAL_GROW);
  T(fcntl, "F_GET_SEALS after", m, F_GET_SEALS);
  T(ftruncate, "a sealed memfd cannot grow", m, 4096);
  T(fcntl, "F_ADD_SEALS F_SEAL_SEAL", m, F_ADD_SEALS, F_SEAL_SEAL);
  T(fcntl, "F_ADD_SEALS after F_SEAL_SEAL", m, F_ADD_SEALS, F_SEAL_SHRINK);
  T(fcntl, "F_GETOWN", m, F_GETOWN);
  T(fcntl, "F_GETSIG", m, F_GETSIG);
  T(fcntl, "F_SETSIG an invalid signal", m, F_SETSIG, 99);
  T(fcntl, "an unknown command", m, 9999);
  T(fcntl, "a closed fd", 999, F_GETFD);
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
  T(fcntl, "F_SETLK a write lock", m, F_SETLK, &fl);
  fl.l_type = F_UNLCK;
  T(fcntl, "F_SETLK unlock", m, F_SETLK, &fl);
  T(fcntl, "F_SETLK a bad address", m, F_SETLK, BADPTR);
  T(fcntl, "F_GETLK a bad address", m, F_GETLK, BADPTR);
  close(m);
}

static void rw(void) {
  long m = TOK(memfd_create, "no flags", "calls-rw", 0);
  N(memfd_create, "no flags: not close-on-exec", "%s", cloexec(m));
  long c = TOK(memfd_create, "MFD_CLOEXEC", "x", MFD_CLOEXEC);
  N(memfd_create, "MFD_CLOEXEC", "%s", cloexec(c));
  close(c);
  T(memfd_create, "unknown flags", "x", 0x100);
  char longname[300];
  memset(longname, 'n', sizeof longname);
  longname[299] = 0;
  T(memfd_create, "a name over 249 bytes", longname, 0);
  T(memfd_create, "a bad name address", BADPTR, 0);
  T(memfd_create, "MFD_HUGETLB with MFD_ALLOW_SEALING", "x", 4 | 2);

  T(write, "6 bytes", m, "abcdef", 6);
  T(write, "0 bytes", m, "", 0);
  T(write, "a bad buffer", m, BADPTR, 4);
  T(write, "a closed fd", 999, "x", 1);
  T(lseek, "SEEK_SET 0", m, 0, SEEK_SET);
  char buf[32] = {0};
  T(read, "a bad buffer", m, BADPTR, 4);
  T(read, "4 bytes", m, buf, 4);
  T(read, "more than is left", m, buf + 4, 20);
  N(read, "what was read", "%s", buf);
  T(read, "at the end", m, buf, 8);
  T(read, "a closed fd", 999, buf, 1);
  T(read, "a write-only fd", open("/dev/null", O_WRONLY), buf, 1);
  int dirfd = open("/", O_RDONLY | O_DIRECTORY);
  T(read, "a directory", dirfd, buf, 1);
  T(pread64, "a directory", dirfd, buf, 1, 0);
  struct iovec dv = {buf, 1};
  T(readv, "a directory", dirfd, &dv, 1);
  close(dirfd);
  T(lseek, "SEEK_CUR", m, 0, SEEK_CUR);
  T(lseek, "SEEK_END -2", m, (long)-2, SEEK_END);
  T(lseek, "SEEK_SET before 0", m, (long)-1, SEEK_SET);
  T(lseek, "an unknown whence", m, 0, 9);
  T(lseek, "SEEK_DATA", m, 0, SEEK_DATA);
  T(lseek, "SEEK_HOLE", m, 0, SEEK_HOLE);
  T(lseek, "SEEK_DATA beyond the end", m, 100, SEEK_DATA);
  T(lseek, "a closed fd", 999, 0, SEEK_SET);
  T(lseek, "an eventfd", eventfd(0, 0), 0, SEEK_SET);
  int st = open("/proc/self/status", O_RDONLY);
  T(lseek, "SEEK_END on /proc/self/status", st, 0, SEEK_END);
  close(st);
  T(pwrite64, "at offset 10 (a hole before it)", m, "XY", 2, 10);
  memset(buf, 0, sizeof buf);
  T(pread64, "12 bytes at 0", m, buf, 12, 0);
  N(pread64, "the hole reads as zeros", "%d %d %c", buf[6], buf[9], buf[10]);
  T(lseek, "pread and pwrite leave the offset", m, 0, SEEK_CUR);
  T(pread64, "a negative offset", m, buf, 1, (long)-1);
  T(pwrite64, "a negative offset", m, "x", 1, (long)-1);
  T(pread64, "an eventfd", eventfd(0, 0), buf, 8, 0);
  T(pwrite64, "a bad buffer", m, BADPTR, 1, 0);
  T(pread64, "a bad buffer", m, BADPTR, 1, 0);
  struct iovec v[3] = {{"one ", 4}, {"two ", 4}, {"three", 5}};
  T(ftruncate, "to 0", m, 0);
  T(ftruncate, "a negative length", m, (long)-1);
  T(ftruncate, "an fd opened read-only", open("/proc/self/exe", O_RDONLY), 0);
  T(ftruncate, "a closed fd", 999, 0);
  lseek(m, 0, SEEK_SET);
  T(writev, "three buffers", m, v, 3);
  T(writev, "no buffers", m, v, 0);
  T(writev, "a negative count", m, v, -1);
  T(writev, "over IOV_MAX buffers", m, v, 1025);
  struct iovec badv[2] = {{"ok", 2}, {BADPTR, 4}};
  T(writev, "a bad second buffer (partial)", m, badv, 2);
  T(writev, "a bad iovec array", m, BADPTR, 1);
  lseek(m, 0, SEEK_SET);
  char a[5] = {0}, b[9] = {0};
  struct iovec r[2] = {{a, 4}, {b, 8}};
  T(readv, "into two buffers", m, r, 2);
  N(readv, "what was read", "[%s] [%s]", a, b);
  T(readv, "a negative count", m, r, -1);
  T(readv, "a bad iovec array", m, BADPTR, 1);
  T(readv, "a closed fd", 999, r, 1);
  T(pwritev, "at offset 2", m, v, 1, 2, 0);
  memset(a, 0, sizeof a);
  memset(b, 0, sizeof b);
  T(preadv, "at offset 0", m, r, 2, 0, 0);
  N(preadv, "what was read", "[%s] [%s]", a, b);
  T(preadv, "a negative offset", m, r, 2, (long)-1, (long)-1);
  T(pwritev, "a negative offset", m, v, 1, (long)-1, (long)-1);
  T(preadv2, "offset -1 reads at the file offset", m, r, 1, (long)-1, (long)-1, 0);
  T(preadv2, "RWF_NOWAIT", m, r, 1, 0, 0, 8);
  T(preadv2, "unknown flags", m, r, 1, 0, 0, 0x10000);
  T(pwritev2, "RWF_APPEND", m, v + 2, 1, 0, 0, 0x10);
  T(lseek, "the size after RWF_APPEND", m, 0, SEEK_END);
  T(pwritev2, "unknown flags", m, v, 1, 0, 0, 0x10000);
  T(fsync, "a memfd", m);
  T(fsync, "a closed fd", 999);
  T(fdatasync, "a memfd", m);
  T(fdatasync, "a closed fd", 999);
  T(fsync, "an eventfd", eventfd(0, 0));
  close(m);
}

static void eventfds(void) {
  long e = TOK(eventfd2, "initial 3, EFD_NONBLOCK", 3, EFD_NONBLOCK);
  uint64_t n = 0;
  T(read, "an eventfd with 3", e, &n, 8);
  N(eventfd2, "value read", "%llu", (unsigned long long)n);
  T(read, "an empty non-blocking eventfd", e, &n, 8);
  T(read, "an eventfd into 4 bytes", e, &n, 4);
  n = 5;
  T(write, "5 to an eventfd", e, &n, 8);
  T(write, "4 bytes to an eventfd", e, &n, 4);
  n = ~0ULL;
  T(write, "the maximum value to an eventfd", e, &n, 8);
  n = 0xfffffffffffffffeULL;
  T(write, "an eventfd that would overflow", e, &n, 8);
  close(e);
  e = TOK(eventfd2, "EFD_SEMAPHORE|EFD_NONBLOCK|EFD_CLOEXEC", 2, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
  N(eventfd2, "flags", "%s %s", fcntl(e, F_GETFL) & O_NONBLOCK ? "nonblock" : "block", cloexec(e));
  syscall(SYS_read, e, &n, 8);
  N(eventfd2, "EFD_SEMAPHORE reads 1 at a time", "%llu %s", (unsigned long long)n, RES(read(e, &n, 8)));
  N(eventfd2, "then it is empty", "%s", RES(read(e, &n, 8)));
  close(e);
  T(eventfd2, "unknown flags", 0, 0x10);
  long old = TOK(eventfd, "initial 7", 7);
  N(eventfd, "blocking, inherited", "%s %s", fcntl(old, F_GETFL) & O_NONBLOCK ? "nonblock" : "block", cloexec(old));
  T(read, "the old-style eventfd", old, &n, 8);
  close(old);
  /* a blocking read wakes when another thread writes */
  e = syscall(SYS_eventfd2, 0, 0);
  pid_t c = fork_flushed();
  if (c == 0) {
    msleep(30);
    uint64_t one = 42;
    _exit(write((int)e, &one, 8) == 8 ? 0 : 1);
  }
  T(read, "a blocking eventfd until a child writes", e, &n, 8);
  N(eventfd, "the child's value", "%llu %s", (unsigned long long)n, reap(c));
  close(e);
}

static void epolls(void) {
  long ep = TOK(epoll_create1, "no flags", 0);
  N(epoll_create1, "no flags", "%s", cloexec(ep));
  long ep2 = TOK(epoll_create1, "EPOLL_CLOEXEC", EPOLL_CLOEXEC);
  N(epoll_create1, "EPOLL_CLOEXEC", "%s", cloexec(ep2));
  T(epoll_create1, "unknown flags", 1);
  long ep3 = TOK(epoll_create, "size 1", 1);
  T(epoll_create, "size 0", 0);
  T(epoll_create, "a negative size", -1);
  int e = eventfd(0, EFD_NONBLOCK), e2 = eventfd(1, EFD_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 11};
  T(epoll_ctl, "EPOLL_CTL_ADD an empty eventfd", ep, EPOLL_CTL_ADD, e, &ev);
  ev.data.u64 = 22;
  T(epoll_ctl, "EPOLL_CTL_ADD a readable one", ep, EPOLL_CTL_ADD, e2, &ev);
  T(epoll_ctl, "EPOLL_CTL_ADD it again", ep, EPOLL_CTL_ADD, e2, &ev);
  T(epoll_ctl, "EPOLL_CTL_MOD an fd not added", ep, EPOLL_CTL_MOD, 0, &ev);
  T(epoll_ctl, "EPOLL_CTL_DEL an fd not added", ep, EPOLL_CTL_DEL, 0, &ev);
  T(epoll_ctl, "the epoll fd itself", ep, EPOLL_CTL_ADD, ep, &ev);
  T(epoll_ctl, "a regular file", ep, EPOLL_CTL_ADD, open("/proc/self/exe", O_RDONLY), &ev);
  T(epoll_ctl, "an unknown operation", ep, 9, e, &ev);
  T(epoll_ctl, "not an epoll fd", e, EPOLL_CTL_ADD, e2, &ev);
  T(epoll_ctl, "a closed fd", ep, EPOLL_CTL_ADD, 999, &ev);
  T(epoll_ctl, "a bad event address", ep, EPOLL_CTL_MOD, e2, BADPTR);
  struct epoll_event out[4];
  memset(out, 0, sizeof out);
  T(epoll_wait, "one readable", ep, out, 4, 0);
  N(epoll_wait, "the event", "%llu %#x", (unsigned long long)out[0].data.u64, out[0].events);
  T(epoll_wait, "maxevents 0", ep, out, 0, 0);
  T(epoll_wait, "not an epoll fd", e, out, 4, 0);
  T(epoll_wait, "a bad address", ep, BADPTR, 4, 0);
  ev.events = EPOLLIN | EPOLLET;
  ev.data.u64 = 33;
  T(epoll_ctl, "EPOLL_CTL_MOD edge-triggered", ep, EPOLL_CTL_MOD, e2, &ev);
  T(epoll_wait, "edge-triggered: reported once", ep, out, 4, 0);
  T(epoll_wait, "edge-triggered: not again", ep, out, 4, 0);
  T(epoll_ctl, "EPOLL_CTL_DEL", ep, EPOLL_CTL_DEL, e2, NULL);
  T(epoll_wait, "a 30 ms timeout with nothing ready", ep, out, 4, 30);
  ev.events = EPOLLIN | EPOLLONESHOT;
  uint64_t one = 1;
  if (write(e, &one, 8) < 0) return;
  T(epoll_ctl, "EPOLL_CTL_MOD EPOLLONESHOT", ep, EPOLL_CTL_MOD, e, &ev);
  T(epoll_pwait, "one-shot: reported once", ep, out, 4, 0, NULL, 8);
  T(epoll_pwait, "one-shot: then disabled", ep, out, 4, 0, NULL, 8);
  T(epoll_pwait, "a sigset size of 4", ep, out, 4, 0, NULL, 4);
  T(epoll_pwait, "not an epoll fd", e, out, 4, 0, NULL, 8);
  struct timespec z = {0, 0}, bad = {0, 1000000000};
  T(epoll_pwait2, "a zero timeout", ep, out, 4, &z, NULL, 8);
  T(epoll_pwait2, "an invalid timeout", ep, out, 4, &bad, NULL, 8);
  ev.events = EPOLLIN;
  epoll_ctl((int)ep, EPOLL_CTL_MOD, e, &ev);
  T(epoll_pwait2, "readable again after EPOLL_CTL_MOD", ep, out, 4, &z, NULL, 8);
  T(epoll_pwait2, "a bad timeout address", ep, out, 4, BADPTR, NULL, 8);
  close(e);
  close(e2);
  int idle = eventfd(0, 0);
  ev.events = EPOLLIN;
  epoll_ctl((int)ep3, EPOLL_CTL_ADD, idle, &ev);
  T(epoll_wait, "an epoll_create epoll with nothing ready", ep3, out, 4, 0);
  close(idle);
  close(ep);
  close(ep2);
  close(ep3);
}

static void noop(int s) { (void)s; }

static void polls(void) {
  int e = eventfd(1, EFD_NONBLOCK), z = eventfd(0, EFD_NONBLOCK);
  struct pollfd p[3] = {{e, POLLIN | POLLOUT, 0}, {z, POLLIN, 0}, {999, POLLIN, 0}};
  T(poll, "three fds, one readable, one closed", p, 3, 0);
  N(poll, "revents", "%#x %#x %#x", p[0].revents, p[1].revents, p[2].revents);
  struct pollfd neg = {-1, POLLIN, 7};
  T(poll, "a negative fd is skipped", &neg, 1, 0);
  N(poll, "its revents cleared", "%d", neg.revents);
  T(poll, "nothing, 20 ms", NULL, 0, 20);
  T(poll, "a bad address", BADPTR, 1, 0);
  T(poll, "more fds than RLIMIT_NOFILE", p, 1 << 20, 0);
  struct timespec ts = {0, 0}, bad = {0, -1};
  p[1].revents = 0;
  T(ppoll, "a zero timeout", &p[1], 1, &ts, NULL, 8);
  T(ppoll, "an invalid timeout", &p[1], 1, &bad, NULL, 8);
  T(ppoll, "a sigset size of 4", &p[1], 1, &ts, NULL, 4);
  T(ppoll, "a bad address", BADPTR, 1, &ts, NULL, 8);
  /* ppoll's mask lets a blocked signal interrupt the wait */
  signal(SIGUSR1, noop);
  sigset_t usr;
  sigemptyset(&usr);
  sigaddset(&usr, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr, NULL);
  raise(SIGUSR1);
  uint64_t empty = 0;
  struct timespec sec = {1, 0};
  T(ppoll, "a pending signal its mask unblocks", &p[1], 1, &sec, &empty, 8);
  raise(SIGUSR1);
  fd_set r, w;
  FD_ZERO(&r);
  FD_SET(e, &r);
  FD_SET(z, &r);
  struct timespec tz = {0, 0};
  struct {
    const uint64_t *set;
    size_t size;
  } arg = {&empty, 8};
  T(pselect6, "a pending signal its mask unblocks", z + 1, &r, NULL, NULL, &tz, &arg);
  sigprocmask(SIG_UNBLOCK, &usr, NULL);
  signal(SIGUSR1, SIG_DFL);

  FD_ZERO(&r);
  FD_ZERO(&w);
  FD_SET(e, &r);
  FD_SET(z, &r);
  FD_SET(z, &w);
  struct timeval tv = {0, 0};
  T(select, "read: one of two ready; write: one ready", (e > z ? e : z) + 1, &r, &w, NULL, &tv);
  N(select, "which", "%d %d %d", FD_ISSET(e, &r), FD_ISSET(z, &r), FD_ISSET(z, &w));
  FD_ZERO(&r);
  FD_SET(z, &r);
  struct timeval t20 = {0, 20000};
  T(select, "nothing ready, 20 ms", z + 1, &r, NULL, NULL, &t20);
  N(select, "the timeout is updated", "%ld.%06ld", t20.tv_sec, t20.tv_usec);
  FD_ZERO(&r);
  FD_SET(900, &r);
  T(select, "a closed fd", 901, &r, NULL, NULL, &tv);
  struct timeval negt = {-1, 0};
  T(select, "a negative timeout", 1, NULL, NULL, NULL, &negt);
  T(select, "a negative nfds", -1, NULL, NULL, NULL, &tv);
  T(select, "a bad set address", 1, BADPTR, NULL, NULL, &tv);
  FD_ZERO(&r);
  FD_SET(e, &r);
  T(pselect6, "one ready, no mask", e + 1, &r, NULL, NULL, &tz, NULL);
  struct timespec badts = {0, 1000000000};
  T(pselect6, "an invalid timeout", e + 1, &r, NULL, NULL, &badts, NULL);
  arg.size = 4;
  T(pselect6, "a sigset size of 4", e + 1, &r, NULL, NULL, &tz, &arg);
  close(e);
  close(z);
}

static int fword;

static void *waker(void *a) {
  (void)a;
  msleep(30);
  __atomic_store_n(&fword, 1, __ATOMIC_SEQ_CST);
  syscall(SYS_futex, &fword, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  return NULL;
}

static void futexes(void) {
  int w = 5;
  T(futex, "FUTEX_WAIT with a value that differs", &w, FUTEX_WAIT_PRIVATE, 4, NULL, NULL, 0);
  struct timespec t = {0, 20000000};
  T(futex, "FUTEX_WAIT that times out", &w, FUTEX_WAIT_PRIVATE, 5, &t, NULL, 0);
  T(futex, "FUTEX_WAKE with no waiters", &w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  struct timespec bad = {0, 1000000000};
  T(futex, "FUTEX_WAIT an invalid timeout", &w, FUTEX_WAIT_PRIVATE, 5, &bad, NULL, 0);
  T(futex, "an unaligned address", (char *)&w + 1, FUTEX_WAIT_PRIVATE, 5, &t, NULL, 0);
  T(futex, "a bad address", BADPTR, FUTEX_WAIT_PRIVATE, 0, &t, NULL, 0);
  T(futex, "an unknown operation", &w, 99, 0, NULL, NULL, 0);
  T(futex, "FUTEX_WAIT_BITSET with bitset 0", &w, FUTEX_WAIT_BITSET_PRIVATE, 5, &t, NULL, 0);
  fword = 0;
  pthread_t th;
  pthread_create(&th, NULL, waker, NULL);
  long r;
  do r = syscall(SYS_futex, &fword, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
  while (r == 0 && fword == 0);
  N(futex, "FUTEX_WAIT woken by another thread", "%s word %d", RV(r < 0 && errno == EAGAIN ? 0 : r), fword);
  pthread_join(th, NULL);
  int a = 0, b = 0;
  T(futex, "FUTEX_CMP_REQUEUE with a value that differs", &a, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, &b, 7);
  T(futex, "FUTEX_CMP_REQUEUE with no waiters", &a, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, &b, 0);
  int pi = 0;
  T(futex, "FUTEX_LOCK_PI an unowned word", &pi, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0);
  N(futex, "the word holds the owner's tid", "%s", (pi & FUTEX_TID_MASK) == syscall(SYS_gettid) ? "yes" : "no");
  T(futex, "FUTEX_LOCK_PI again (deadlock)", &pi, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0);
  T(futex, "FUTEX_UNLOCK_PI", &pi, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
  T(futex, "FUTEX_UNLOCK_PI not owned", &pi, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
}

int main(int argc, char **argv) {
  (void)argv;
  if (argc < 2) {
    fprintf(stderr, "usage: calls-fd DIR\n");
    return 2;
  }
  dups();
  fcntls();
  rw();
  eventfds();
  epolls();
  polls();
  futexes();
  return 0;
}
