/*
 * I/O priorities, NUMA memory policies, memory protection keys, rseq,
 * futex_waitv, process_madvise, sync and syncfs, and the pipe calls
 * splice, tee and vmsplice. Case lines as test/programs/calls.h says.
 *
 *   calls-misc DIR   (DIR: a scratch directory; unused here)
 */
#include "calls.h"
#include <fcntl.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/uio.h>

#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO(c, d) (((c) << IOPRIO_CLASS_SHIFT) | (d))

static void ioprio(void) {
  T(ioprio_get, "IOPRIO_WHO_PROCESS of itself", 1, 0);
  T(ioprio_set, "best effort, level 4", 1, 0, IOPRIO(2, 4));
  T(ioprio_get, "after", 1, 0);
  T(ioprio_set, "idle", 1, 0, IOPRIO(3, 0));
  T(ioprio_get, "after idle", 1, 0);
  T(ioprio_set, "best effort, level 9", 1, 0, IOPRIO(2, 9));
  T(ioprio_set, "an unknown class", 1, 0, IOPRIO(5, 0));
  T(ioprio_get, "an unknown who", 9, 0);
  T(ioprio_set, "an unknown who", 9, 0, IOPRIO(2, 4));
  T(ioprio_get, "a pid that does not exist", 1, 999999);
  T(ioprio_set, "a pid that does not exist", 1, 999999, IOPRIO(2, 4));
  T(ioprio_get, "IOPRIO_WHO_PGRP of its own group", 2, 0);
  T(ioprio_set, "back to none", 1, 0, 0);
  pid_t c = fork_flushed();
  if (c == 0) {
    if (setresuid(65534, 65534, 65534) < 0) _exit(1);
    T(ioprio_set, "real-time class, unprivileged", 1, 0, IOPRIO(1, 0));
    T(ioprio_set, "of root's process, unprivileged", 1, getppid(), IOPRIO(2, 4));
    _exit(0);
  }
  reap(c);
}

static void mempolicy(void) {
  int mode = -1;
  unsigned long mask[16] = {0};
  T(get_mempolicy, "of the process", &mode, mask, 1024, NULL, 0);
  N(get_mempolicy, "mode, node 0 in the mask", "%d %lu", mode, mask[0] & 1);
  T(get_mempolicy, "a mask of 1 bit", &mode, mask, 1, NULL, 0);
  T(get_mempolicy, "unknown flags", &mode, NULL, 0, NULL, 0x100);
  T(get_mempolicy, "MPOL_F_ADDR without an address", &mode, NULL, 0, NULL, 2);
  unsigned long one = 1;
  T(set_mempolicy, "MPOL_BIND node 0", 2, &one, 64);
  T(get_mempolicy, "after MPOL_BIND", &mode, mask, 1024, NULL, 0);
  N(get_mempolicy, "mode after MPOL_BIND", "%d", mode);
  T(set_mempolicy, "MPOL_DEFAULT", 0, NULL, 0);
  unsigned long far = 1UL << 63;
  T(set_mempolicy, "MPOL_BIND a node that does not exist", 2, &far, 64);
  T(set_mempolicy, "an unknown mode", 42, &one, 64);
  T(set_mempolicy, "MPOL_BIND with an empty mask", 2, NULL, 0);
  long page = sysconf(_SC_PAGESIZE);
  char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  T(mbind, "MPOL_PREFERRED node 0", p, 2 * page, 1, &one, 64, 0);
  T(get_mempolicy, "MPOL_F_ADDR of the bound range", &mode, NULL, 0, p, 2);
  N(get_mempolicy, "its mode", "%d", mode);
  T(mbind, "an unaligned address", p + 1, page, 1, &one, 64, 0);
  T(mbind, "an unmapped range", p + 64 * page, page, 1, &one, 64, 0);
  T(mbind, "an unknown mode", p, page, 42, &one, 64, 0);
  T(mbind, "unknown flags", p, page, 1, &one, 64, 0x40);
  munmap(p, 2 * page);
}

static void pkeys(void) {
  long k = T(pkey_alloc, "no flags, no restrictions", 0, 0);
  T(pkey_alloc, "unknown flags", 1, 0);
  T(pkey_alloc, "unknown access rights", 0, 4);
  long page = sysconf(_SC_PAGESIZE);
  char *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (k >= 0) T(pkey_mprotect, "with the allocated key", p, page, PROT_READ, k);
  else N(pkey_mprotect, "with the allocated key", "no key");
  T(pkey_mprotect, "a key never allocated", p, page, PROT_READ, 15);
  T(pkey_mprotect, "key -1 acts as mprotect", p, page, PROT_READ | PROT_WRITE, -1);
  T(pkey_mprotect, "an unaligned address", p + 1, page, PROT_READ, -1);
  if (k >= 0) T(pkey_free, "the allocated key", k);
  else N(pkey_free, "the allocated key", "no key");
  T(pkey_free, "a key never allocated", 15);
  T(pkey_free, "key 0", 0);
  munmap(p, page);
}

static void rseqs(void) {
  static __attribute__((aligned(32))) char area[32];
  T(rseq, "a second registration (the C library holds one)", area, 32, 0, 0x53053053);
  T(rseq, "unregister an area never registered", area, 32, 1, 0x53053053);
  T(rseq, "unknown flags", area, 32, 2, 0x53053053);
  T(rseq, "a wrong length", area, 16, 0, 0x53053053);
}

struct waitv {
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t reserved;
};

static void waitvs(void) {
  uint32_t a = 1, b = 2;
  struct waitv w[2] = {{1, (uintptr_t)&a, 2 /* FUTEX2_SIZE_U32 */ | 128 /* FUTEX2_PRIVATE */, 0}, {2, (uintptr_t)&b, 2 | 128, 0}};
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  t.tv_nsec += 20000000;
  if (t.tv_nsec >= 1000000000) t.tv_sec++, t.tv_nsec -= 1000000000;
  T(futex_waitv, "two words, 20 ms", w, 2, 0, &t, CLOCK_MONOTONIC);
  w[1].val = 3;
  T(futex_waitv, "the second word differs", w, 2, 0, &t, CLOCK_MONOTONIC);
  w[1].val = 2;
  T(futex_waitv, "no words", w, 0, 0, &t, CLOCK_MONOTONIC);
  T(futex_waitv, "unknown flags", w, 2, 1, &t, CLOCK_MONOTONIC);
  T(futex_waitv, "an unknown clock", w, 2, 0, &t, 99);
  w[0].flags = 3;
  T(futex_waitv, "a 64-bit word size", w, 2, 0, &t, CLOCK_MONOTONIC);
  w[0].flags = 2 | 128;
  T(futex_waitv, "a bad array address", BADPTR, 2, 0, &t, CLOCK_MONOTONIC);
}

static void madvises(void) {
  long page = sysconf(_SC_PAGESIZE);
  char *p = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(p, 1, 4 * page);
  pid_t c = fork_flushed();
  if (c == 0) {
    for (;;) pause();
  }
  int pidfd = (int)syscall(SYS_pidfd_open, c, 0);
  struct iovec v = {p, 4 * page};
  T(process_madvise, "MADV_COLD on a child", pidfd, &v, 1, MADV_COLD, 0);
  T(process_madvise, "MADV_PAGEOUT on a child", pidfd, &v, 1, MADV_PAGEOUT, 0);
  T(process_madvise, "MADV_DONTNEED (not allowed remotely)", pidfd, &v, 1, MADV_DONTNEED, 0);
  T(process_madvise, "unknown flags", pidfd, &v, 1, MADV_COLD, 1);
  T(process_madvise, "not a pidfd", 0, &v, 1, MADV_COLD, 0);
  T(process_madvise, "a bad iovec", pidfd, BADPTR, 1, MADV_COLD, 0);
  kill(c, SIGKILL);
  reap(c);
  T(process_madvise, "of a reaped child", pidfd, &v, 1, MADV_COLD, 0);
  close(pidfd);
  munmap(p, 4 * page);
}

static void syncs(const char *dir) {
  T(sync, "everything");
  int d = open(dir, O_RDONLY | O_DIRECTORY);
  T(syncfs, "the scratch directory's file system", d);
  T(syncfs, "a closed fd", 999);
  close(d);
  int m = memfd_create("calls-syncfs", 0);
  T(syncfs, "a memfd", m);
  close(m);
}

static void splices(void) {
  int a[2], b[2];
  if (pipe(a) < 0 || pipe(b) < 0) return;
  if (write(a[1], "splice me", 9) != 9) return;
  T(tee, "4 bytes between two pipes", a[0], b[1], 4, 0);
  char buf[16] = {0};
  N(tee, "the copy and the original", "%s %s", RES(read(b[0], buf, sizeof buf)), buf);
  T(tee, "a pipe to itself", a[0], a[1], 4, 0);
  T(tee, "a non-pipe", 0, b[1], 4, 0);
  T(tee, "unknown flags", a[0], b[1], 4, 0x100);
  T(tee, "an empty pipe, SPLICE_F_NONBLOCK", b[0], a[1], 4, 2);
  T(splice, "9 bytes between two pipes", a[0], NULL, b[1], NULL, 9, 0);
  memset(buf, 0, sizeof buf);
  N(splice, "what arrived", "%s %s", RES(read(b[0], buf, sizeof buf)), buf);
  int m = memfd_create("calls-splice", 0);
  if (write(m, "from a file", 11) != 11) return;
  loff_t off = 5;
  T(splice, "a file at offset 5 into a pipe", m, &off, b[1], NULL, 32, 0);
  N(splice, "the offset advanced", "%lld", (long long)off);
  T(splice, "an offset with a pipe", b[0], &off, m, NULL, 4, 0);
  T(splice, "neither end a pipe", m, NULL, m, NULL, 4, 0);
  T(splice, "a closed fd", 999, NULL, b[1], NULL, 4, 0);
  T(splice, "unknown flags", a[0], NULL, b[1], NULL, 4, 0x100);
  T(splice, "an empty pipe, SPLICE_F_NONBLOCK", a[0], NULL, b[1], NULL, 4, 2);
  memset(buf, 0, sizeof buf);
  if (read(b[0], buf, sizeof buf) < 0) return;
  struct iovec v[2] = {{"vm", 2}, {"splice", 6}};
  T(vmsplice, "two buffers into a pipe", a[1], v, 2, 0);
  memset(buf, 0, sizeof buf);
  N(vmsplice, "what arrived", "%s %s", RES(read(a[0], buf, sizeof buf)), buf);
  T(vmsplice, "a non-pipe", m, v, 2, 0);
  T(vmsplice, "unknown flags", a[1], v, 2, 0x100);
  T(vmsplice, "a bad iovec", a[1], BADPTR, 1, 0);
  T(vmsplice, "the empty read end of a pipe, SPLICE_F_NONBLOCK", a[0], v, 1, 2);
  close(m);
  close(a[0]);
  close(a[1]);
  close(b[0]);
  close(b[1]);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: calls-misc DIR\n");
    return 2;
  }
  pid_t c = fork_flushed();
  if (c == 0) {
    ioprio();
    fflush(stdout);
    _exit(0);
  }
  reap(c);
  c = fork_flushed();
  if (c == 0) {
    mempolicy();
    fflush(stdout);
    _exit(0);
  }
  reap(c);
  pkeys();
  rseqs();
  waitvs();
  madvises();
  syncs(argv[1]);
  splices();
  return 0;
}
