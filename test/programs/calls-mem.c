/*
 * Memory: mmap, munmap, mprotect, mremap, madvise, msync, mincore, brk,
 * the mlock family within RLIMIT_MEMLOCK, membarrier. Case lines as
 * test/programs/calls.h says; addresses are printed only as relations.
 *
 *   calls-mem DIR   (DIR: a scratch directory; unused here)
 */
#include "calls.h"
#include <fcntl.h>
#include <linux/membarrier.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/mman.h>

static long page;
static sigjmp_buf jb;
static void on_fault(int s) { siglongjmp(jb, s); }

/* What touching p does: "ok", or the signal it raises. */
static const char *touch(volatile char *p, int write) {
  signal(SIGSEGV, on_fault);
  signal(SIGBUS, on_fault);
  int s = sigsetjmp(jb, 1);
  if (s == 0) {
    if (write) *p = 1;
    else (void)*p;
  }
  signal(SIGSEGV, SIG_DFL);
  signal(SIGBUS, SIG_DFL);
  return s == 0 ? "ok" : s == SIGSEGV ? "SIGSEGV" : "SIGBUS";
}

static char *map(long n, int prot) { return (char *)syscall(SYS_mmap, NULL, n, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); }

static void mmaps(void) {
  char *p = (char *)TOK(mmap, "anonymous, 4 pages", NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  N(mmap, "page aligned, zero filled, writable", "%s %d %s", ((uintptr_t)p & (page - 1)) == 0 ? "yes" : "no", p[page + 7], touch(p, 1));
  T(mmap, "length 0", NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  T(mmap, "neither MAP_PRIVATE nor MAP_SHARED", NULL, page, PROT_READ, MAP_ANONYMOUS, -1, 0);
  T(mmap, "an unaligned offset", NULL, page, PROT_READ, MAP_PRIVATE, 0, 3);
  T(mmap, "a bad fd", NULL, page, PROT_READ, MAP_PRIVATE, 999, 0);
  T(mmap, "MAP_FIXED at an unaligned address", (void *)0x10001, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  char *hint = map(page, PROT_READ);
  syscall(SYS_munmap, hint, page);
  long r = syscall(SYS_mmap, p + page, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  N(mmap, "MAP_FIXED over a mapping replaces it", "%s %s %s", r == (long)(p + page) ? "same address" : RV(r), touch(p + page, 0), touch(p + page, 1));
  T(mmap, "MAP_FIXED_NOREPLACE over a mapping", p, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  r = syscall(SYS_mmap, hint, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  N(mmap, "MAP_FIXED_NOREPLACE at a free address", "%s", r == (long)hint ? "that address" : RV(r));
  syscall(SYS_munmap, hint, page);
  T(mmap, "a length that overflows", NULL, -page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  T(mmap, "PROT_WRITE of a read-only fd, MAP_SHARED", NULL, page, PROT_WRITE, MAP_SHARED, open("/proc/self/exe", O_RDONLY), 0);
  int dir = open("/", O_RDONLY | O_DIRECTORY);
  TOK(mmap, "a directory", NULL, page, PROT_READ, MAP_PRIVATE, dir, 0);
  close(dir);
  char *none = map(page, PROT_NONE);
  N(mmap, "PROT_NONE faults on read", "%s", touch(none, 0));
  syscall(SYS_munmap, none, page);
  /* a shared anonymous mapping is shared with a child; a private one is not */
  char *sh = (char *)syscall(SYS_mmap, NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  char *pr = map(page, PROT_READ | PROT_WRITE);
  pid_t c = fork_flushed();
  if (c == 0) {
    sh[0] = 'S';
    pr[0] = 'P';
    _exit(0);
  }
  reap(c);
  N(mmap, "MAP_SHARED and MAP_PRIVATE across fork", "%d %d", sh[0], pr[0]);
  /* a file mapping beyond the end of the file gives SIGBUS */
  int m = memfd_create("calls-mem", 0);
  if (ftruncate(m, 100) < 0) return;
  char *f = (char *)syscall(SYS_mmap, NULL, 2 * page, PROT_READ, MAP_SHARED, m, 0);
  N(mmap, "a file mapping: inside the file, beyond its last page", "%s %s", touch(f + 50, 0), touch(f + page + 1, 0));
  syscall(SYS_munmap, f, 2 * page);
  close(m);
  syscall(SYS_munmap, sh, page);
  syscall(SYS_munmap, pr, page);

  T(munmap, "the middle page of 4", p + page, page);
  N(munmap, "the pages around it stay", "%s %s %s", touch(p, 0), touch(p + page, 0), touch(p + 2 * page, 0));
  T(munmap, "an unmapped range", p + page, page);
  T(munmap, "an unaligned address", p + 1, page);
  T(munmap, "length 0", p, 0);
  T(munmap, "the rest", p, 4 * page);
}

static void protects(void) {
  char *p = map(3 * page, PROT_READ | PROT_WRITE);
  T(mprotect, "read-only", p, page, PROT_READ);
  N(mprotect, "read-only: read, write", "%s %s", touch(p, 0), touch(p, 1));
  T(mprotect, "PROT_NONE", p + page, page, PROT_NONE);
  N(mprotect, "PROT_NONE: read", "%s", touch(p + page, 0));
  T(mprotect, "back to read-write", p, 2 * page, PROT_READ | PROT_WRITE);
  N(mprotect, "read-write again", "%s %s", touch(p, 1), touch(p + page, 1));
  T(mprotect, "an unaligned address", p + 1, page, PROT_READ);
  T(mprotect, "unknown prot bits", p, page, 0x100);
  syscall(SYS_munmap, p + 2 * page, page);
  T(mprotect, "a range with an unmapped page", p, 3 * page, PROT_READ);
  T(mprotect, "length 0", p, 0, PROT_READ);
  int fd = open("/proc/self/exe", O_RDONLY);
  char *ro = (char *)syscall(SYS_mmap, NULL, page, PROT_READ, MAP_SHARED, fd, 0);
  T(mprotect, "PROT_WRITE on a shared mapping of a read-only fd", ro, page, PROT_READ | PROT_WRITE);
  syscall(SYS_munmap, ro, page);
  close(fd);
  syscall(SYS_munmap, p, 2 * page);
}

static void remaps(void) {
  char *p = map(2 * page, PROT_READ | PROT_WRITE);
  p[0] = 'a';
  p[page] = 'b';
  char *q = (char *)TOK(mremap, "grow with MREMAP_MAYMOVE", p, 2 * page, 8 * page, MREMAP_MAYMOVE);
  N(mremap, "contents kept, the new pages zero", "%c %c %d", q[0], q[page], q[5 * page]);
  TOK(mremap, "shrink in place", q, 8 * page, page, 0);
  N(mremap, "the cut pages are gone", "%s %s", touch(q, 0), touch(q + page, 0));
  T(mremap, "unknown flags", q, page, 2 * page, 0x40);
  T(mremap, "MREMAP_FIXED without MREMAP_MAYMOVE", q, page, page, MREMAP_FIXED, q + 16 * page);
  T(mremap, "an unaligned address", q + 1, page, page, 0);
  T(mremap, "new length 0", q, page, 0, MREMAP_MAYMOVE);
  T(mremap, "an unmapped address", q + 64 * page, page, 2 * page, MREMAP_MAYMOVE);
  char *target = map(page, PROT_READ);
  syscall(SYS_munmap, target, page);
  long r = syscall(SYS_mremap, q, page, page, MREMAP_MAYMOVE | MREMAP_FIXED, target);
  N(mremap, "MREMAP_FIXED to a chosen address", "%s %c %s", r == (long)target ? "that address" : RV(r), target[0], touch(q, 0));
  syscall(SYS_munmap, target, page);
}

static void advice(void) {
  char *p = map(4 * page, PROT_READ | PROT_WRITE);
  memset(p, 'x', 4 * page);
  T(madvise, "MADV_DONTNEED", p, page, MADV_DONTNEED);
  N(madvise, "a private anonymous page reads zero after MADV_DONTNEED", "%d %c", p[0], p[page]);
  T(madvise, "MADV_WILLNEED", p, 4 * page, MADV_WILLNEED);
  T(madvise, "MADV_SEQUENTIAL", p, 4 * page, MADV_SEQUENTIAL);
  T(madvise, "MADV_NORMAL", p, 4 * page, MADV_NORMAL);
  T(madvise, "MADV_DONTFORK", p, page, MADV_DONTFORK);
  pid_t c = fork_flushed();
  if (c == 0) {
    _exit(strcmp(touch(p, 0), "SIGSEGV") == 0 ? 0 : 1);
  }
  N(madvise, "a MADV_DONTFORK page is absent in a child", "%s", reap(c));
  T(madvise, "MADV_DOFORK", p, page, MADV_DOFORK);
  T(madvise, "MADV_FREE", p + page, page, MADV_FREE);
  T(madvise, "an unknown advice", p, page, 999);
  T(madvise, "an unaligned address", p + 1, page, MADV_NORMAL);
  T(madvise, "an unmapped range", p + 64 * page, page, MADV_NORMAL);
  T(madvise, "length 0", p, 0, MADV_NORMAL);
  syscall(SYS_munmap, p, 4 * page);

  p = map(4 * page, PROT_READ | PROT_WRITE);
  p[0] = 1;
  p[2 * page] = 1;
  syscall(SYS_madvise, p + page, page, MADV_DONTNEED);
  unsigned char vec[4] = {9, 9, 9, 9};
  T(mincore, "4 pages", p, 4 * page, vec);
  N(mincore, "resident pages (touched, untouched, touched, untouched)", "%d %d %d %d", vec[0] & 1, vec[1] & 1, vec[2] & 1, vec[3] & 1);
  T(mincore, "an unaligned address", p + 1, page, vec);
  T(mincore, "an unmapped range", p + 64 * page, page, vec);
  T(mincore, "a bad vector", p, page, BADPTR);
  int m = memfd_create("calls-msync", 0);
  if (ftruncate(m, page) < 0) return;
  char *f = (char *)syscall(SYS_mmap, NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
  memcpy(f, "synced", 6);
  T(msync, "MS_SYNC", f, page, MS_SYNC);
  char buf[8] = {0};
  N(msync, "the file has the bytes", "%s %s", RES(pread(m, buf, 6, 0)), buf);
  T(msync, "MS_ASYNC", f, page, MS_ASYNC);
  T(msync, "MS_INVALIDATE", f, page, MS_INVALIDATE);
  T(msync, "MS_SYNC|MS_ASYNC", f, page, MS_SYNC | MS_ASYNC);
  T(msync, "unknown flags", f, page, 0x100);
  T(msync, "an unaligned address", f + 1, page, MS_SYNC);
  T(msync, "an unmapped range", p + 64 * page, page, MS_SYNC);
  syscall(SYS_munmap, f, page);
  close(m);
  syscall(SYS_munmap, p, 4 * page);
}

static void brks(void) {
  long cur = syscall(SYS_brk, 0);
  N(brk, "0 returns the current break", "%s", cur > 0 ? "yes" : "no");
  long up = syscall(SYS_brk, cur + 4 * page);
  N(brk, "grow by 4 pages", "%s %s", up == cur + 4 * page ? "moved" : "same", touch((char *)cur + page, 1));
  long down = syscall(SYS_brk, cur);
  N(brk, "shrink back", "%s %s", down == cur ? "moved" : "same", touch((char *)cur + page, 0));
  long low = syscall(SYS_brk, 4096);
  N(brk, "below the data segment is refused (returns the old break)", "%s", low == cur ? "yes" : "no");
  long huge = syscall(SYS_brk, cur + (1L << 46));
  N(brk, "beyond the address space is refused", "%s", huge == cur ? "yes" : "no");
}

static void locks(void) {
  char *p = map(4 * page, PROT_READ | PROT_WRITE);
  T(mlock, "2 pages", p, 2 * page);
  T(munlock, "them", p, 2 * page);
  T(mlock, "an unmapped range", p + 64 * page, page);
  T(munlock, "an unmapped range", p + 64 * page, page);
  T(mlock2, "MLOCK_ONFAULT", p, page, MLOCK_ONFAULT);
  T(mlock2, "unknown flags", p, page, 2);
  T(munlock, "it", p, page);
  T(mlockall, "MCL_CURRENT|MCL_FUTURE", MCL_CURRENT | MCL_FUTURE);
  T(mlockall, "no flags", 0);
  T(mlockall, "MCL_ONFAULT alone", MCL_ONFAULT);
  T(mlockall, "unknown flags", 0x100);
  T(munlockall, "all");
  syscall(SYS_munmap, p, 4 * page);
  /* unprivileged, within and beyond RLIMIT_MEMLOCK */
  pid_t c = fork_flushed();
  if (c == 0) {
    struct rlimit { unsigned long cur, max; } l = {2 * (unsigned long)page, 2 * (unsigned long)page};
    syscall(SYS_setrlimit, 8 /* RLIMIT_MEMLOCK */, &l);
    if (setresuid(65534, 65534, 65534) < 0) _exit(1);
    char *q = map(4 * page, PROT_READ | PROT_WRITE);
    T(mlock, "within RLIMIT_MEMLOCK, unprivileged", q, page);
    T(mlock, "beyond RLIMIT_MEMLOCK, unprivileged", q + page, 3 * page);
    T(mlockall, "MCL_CURRENT beyond it, unprivileged", MCL_CURRENT);
    l.cur = l.max = 0;
    syscall(SYS_setrlimit, 8, &l);
    T(mlock, "RLIMIT_MEMLOCK 0, unprivileged", q + 2 * page, page);
    _exit(0);
  }
  reap(c);
}

static void barriers(void) {
  long q = T(membarrier, "MEMBARRIER_CMD_QUERY", MEMBARRIER_CMD_QUERY, 0, 0);
  N(membarrier, "supports the global and private expedited commands", "%s %s", q > 0 && (q & MEMBARRIER_CMD_GLOBAL) ? "yes" : "no",
    q > 0 && (q & MEMBARRIER_CMD_PRIVATE_EXPEDITED) ? "yes" : "no");
  T(membarrier, "MEMBARRIER_CMD_PRIVATE_EXPEDITED before registering", MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
  T(membarrier, "MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED", MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
  T(membarrier, "MEMBARRIER_CMD_PRIVATE_EXPEDITED", MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
  T(membarrier, "MEMBARRIER_CMD_GLOBAL", MEMBARRIER_CMD_GLOBAL, 0, 0);
  T(membarrier, "an unknown command", 1 << 20, 0, 0);
  T(membarrier, "flags on QUERY", MEMBARRIER_CMD_QUERY, 1, 0);
}

int main(int argc, char **argv) {
  (void)argv;
  if (argc < 2) {
    fprintf(stderr, "usage: calls-mem DIR\n");
    return 2;
  }
  page = sysconf(_SC_PAGESIZE);
  mmaps();
  protects();
  remaps();
  advice();
  brks();
  locks();
  barriers();
  return 0;
}
