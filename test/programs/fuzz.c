// A system-call fuzzer for test/e2e/fuzz.test.ts. Run it only inside a
// sandbox: it issues random system calls with random arguments.
//
//   fuzz SEED TOTAL [PER_CHILD]
//
// Forks one child per batch. Each child (its own session, stdio on the
// /dev/null the parent opened at start-up and no other inherited fd, so that
// random calls never reach the sandbox's stdio, alarm(3) as a watchdog, a SIGUSR1 handler without SA_RESTART
// that the parent's SIGUSR1 every 2 ms runs, so that calls that would block
// return EINTR, RLIMIT_FSIZE 1 MiB and RLIMIT_AS 1 GiB so that random calls
// cannot fill the memory) issues PER_CHILD (default 2000)
// random system calls: numbers drawn from 0..460 except those that would end
// the experiment early or hang it (see denied()), arguments drawn from a mix
// of small integers, -1, AT_FDCWD, pointers into a buffer of random bytes,
// pointers to path strings ("/tmp/x", "../..", "/proc/self/fd/3", ...), huge
// values, NULL and random words. A child may well die of what it does (a
// random munmap, rt_sigreturn, arch_prctl ...): the parent counts how many
// calls it issued (through a shared page) and starts the next batch, until
// TOTAL calls were issued (or 100 batches or 60 s passed). The parent kills a
// child that is still running after 5 s.
//
// Everything is derived from SEED: the same SEED gives the same calls.
// Prints one line per batch that did not end by itself, then
//   fuzz seed=S batches=B syscalls=N exited=E signaled=K watchdog=W
// and exits 0 if at least TOTAL calls were issued, 1 otherwise.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_NR 460
#define BUFSZ (64 * 1024)
#define PATHSZ (16 * 1024)
#define HISTORY 8

struct call {
  long nr;
  uint64_t a[6];
};

// Shared between the parent and the current child.
struct shared {
  volatile unsigned long calls;
  volatile unsigned long seq;  // index of the next history slot
  struct call history[HISTORY];
};

static struct shared *sh;
static unsigned char *buf;    // random bytes
static char *pathbuf;         // the path strings, refreshed now and then
static char *paths[64];
static int npaths;
static uint64_t state;

static uint64_t rnd(void) {  // xorshift64*
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 2685821657736338717ull;
}

// Paths the follow-up commands of the test depend on (/tmp, /etc, /bin, ...)
// are left out: a random rename or chmod of them would be the program's
// doing, not the Sentry's.
static const char *const PATHS[] = {
    "/tmp/x", "/tmp/fuzz-x/y", "x", "y/z", "fzlink", ".", "..", "../..", "../../..", "/proc/self/fd/3",
    "/proc/self/fd/0", "/proc/self/exe", "/proc/self/maps", "/proc/self/cwd/x", "/proc/self/root/../../..",
    "/proc/1/root", "/proc/sys/kernel/hostname", "/dev/null", "/dev/zero", "/dev/urandom",
    "/dev/ptmx", "/dev/shm/x", "/sys/kernel", "", "//tmp///x/", "a/../b", "/nonexistent/x", "/etc/passwd",
    "/tmp/fuzz-x", "/tmp/x/", "x/.", "/proc/self/fd", "/proc", "/dev/pts/0",
    NULL,  // placeholders for a 300-byte name and a longer-than-PATH_MAX path
};

static void refresh_paths(void) {
  char *p = pathbuf;
  npaths = 0;
  for (int i = 0; PATHS[i]; i++) {
    size_t n = strlen(PATHS[i]) + 1;
    memcpy(p, PATHS[i], n);
    paths[npaths++] = p;
    p += n;
  }
  memset(p, 'a', 300);
  p[300] = 0;
  paths[npaths++] = p;
  p += 301;
  for (int i = 0; i < 5000; i++) p[i] = (i % 8 == 7) ? '/' : 'b';
  p[5000] = 0;
  paths[npaths++] = p;
}

static const uint64_t HUGE_VALUES[] = {
    0xffffffffffffffffull, 0x8000000000000000ull, 0x7fffffffffffffffull, 1ull << 40, 0x100000000ull,
    0xffffffffull,         0x80000000ull,         0x7fffffffull,         0xfffffffffffff000ull,
};

static uint64_t arg(void) {
  switch (rnd() % 12) {
    case 0: return rnd() % 17;
    case 1: return (uint64_t)-1;
    case 2: return (uint64_t)(int64_t)AT_FDCWD;
    case 3: return (uint64_t)(uintptr_t)(buf + rnd() % BUFSZ);
    case 4: return (uint64_t)(uintptr_t)paths[rnd() % npaths];
    case 5: return HUGE_VALUES[rnd() % (sizeof HUGE_VALUES / sizeof HUGE_VALUES[0])];
    case 6: return 0;
    case 7: return rnd();
    case 8: return rnd() & 0xffffffff;
    case 9: return 1ull << (rnd() % 64);
    case 10: return 3 + rnd() % 12;  // likely an open fd
    default: return (uint64_t)(uintptr_t)buf;
  }
}

// Calls that would end the experiment early (the child's exit, and the two
// that always kill it: rt_sigreturn with a random frame, and uretprobe, 335,
// which raises SIGILL outside a uretprobe trampoline), hang it, or reach
// outside the child (signals and memory writes aimed at the parent or at the
// sandbox's init), and the ones the harness relies on (alarm, setitimer).
static int denied(long nr) {
  switch (nr) {
    case __NR_rt_sigreturn:
    case 335:  // uretprobe
    case __NR_pause:
    case __NR_rt_sigsuspend:
    case __NR_alarm:
    case __NR_setitimer:
    case __NR_clone:
    case __NR_clone3:
    case __NR_fork:
    case __NR_vfork:
    case __NR_exit:
    case __NR_exit_group:
    case __NR_kill:
    case __NR_tkill:
    case __NR_tgkill:
    case __NR_rt_sigqueueinfo:
    case __NR_rt_tgsigqueueinfo:
    case __NR_pidfd_send_signal:
    case __NR_process_vm_writev:
      return 1;
  }
  return 0;
}

static void on_tick(int sig) { (void)sig; }

// The parent's SIGUSR1 runs a handler: blocking calls return EINTR.
static void harness_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_tick;  // no SA_RESTART
  sigaction(SIGUSR1, &sa, NULL);
  sa.sa_handler = SIG_DFL;
  sigaction(SIGALRM, &sa, NULL);  // the watchdog kills
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

static int devnull = -1;  // opened by the parent before any fuzzing (a child may unlink /dev/null)

static void child(uint64_t seed, int batch, long count, const char *work) {
  setsid();
  // Only /dev/null on 0, 1, 2 and no other inherited fd: the random calls
  // must not reach the sandbox's stdio (host files or pipes).
  if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0) _exit(71);
  syscall(__NR_close_range, 3, ~0u, 0);
  char dir[256];
  snprintf(dir, sizeof dir, "%s/b%d/d1/d2/d3", work, batch);
  char tmp[256];
  for (char *p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
    memcpy(tmp, dir, (size_t)(p - dir));
    tmp[p - dir] = 0;
    mkdir(tmp, 0777);
  }
  mkdir(dir, 0777);
  if (chdir(dir) < 0) _exit(70);

  struct rlimit fsize = {1 << 20, 1 << 20}, as = {1ull << 30, 1ull << 30}, core = {0, 0};
  setrlimit(RLIMIT_FSIZE, &fsize);
  setrlimit(RLIMIT_AS, &as);
  setrlimit(RLIMIT_CORE, &core);

  harness_signals();
  alarm(3);

  state = seed * 0x9e3779b97f4a7c15ull + (uint64_t)batch * 0x100000001b3ull + 1;
  for (int i = 0; i < 20; i++) rnd();
  for (int i = 0; i < BUFSZ; i += 8) {
    uint64_t r = rnd();
    memcpy(buf + i, &r, 8);
  }
  refresh_paths();

  for (long i = 0; i < count; i++) {
    long nr;
    do nr = (long)(rnd() % (MAX_NR + 1));
    while (denied(nr));
    uint64_t a[6];
    for (int k = 0; k < 6; k++) a[k] = arg();
    if (nr == __NR_prlimit64) a[0] = 0;  // itself only, never the parent or init
    struct call *c = &sh->history[sh->seq % HISTORY];
    c->nr = nr;
    memcpy(c->a, a, sizeof a);
    sh->seq++;
    sh->calls++;
    syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (nr == __NR_rt_sigaction || nr == __NR_rt_sigprocmask || nr == __NR_sigaltstack) harness_signals();
    if (i % 64 == 63) refresh_paths();
  }
  _exit(0);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_history(void) {
  unsigned long seq = sh->seq;
  unsigned long first = seq > HISTORY ? seq - HISTORY : 0;
  for (unsigned long s = first; s < seq; s++) {
    struct call *c = &sh->history[s % HISTORY];
    printf("  call %lu: syscall(%ld, %#llx, %#llx, %#llx, %#llx, %#llx, %#llx)\n", s, c->nr,
           (unsigned long long)c->a[0], (unsigned long long)c->a[1], (unsigned long long)c->a[2],
           (unsigned long long)c->a[3], (unsigned long long)c->a[4], (unsigned long long)c->a[5]);
  }
}

static void *guarded(size_t size, int share) {
  size_t page = 4096, len = (size + page - 1) / page * page;
  char *p = mmap(NULL, len + 2 * page, PROT_READ | PROT_WRITE, share | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED || mprotect(p, page, PROT_NONE) < 0 || mprotect(p + page + len, page, PROT_NONE) < 0) {
    perror("mmap");
    exit(2);
  }
  return p + page;
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: fuzz SEED TOTAL [PER_CHILD]\n");
    return 64;
  }
  uint64_t seed = strtoull(argv[1], NULL, 0);
  unsigned long total = strtoul(argv[2], NULL, 0);
  long per = argc > 3 ? atol(argv[3]) : 2000;
  // Guard pages around each region: a random call writing past the end of
  // the random buffer (read(fd, buf + x, huge)) stops there.
  sh = guarded(sizeof *sh, MAP_SHARED);
  buf = guarded(BUFSZ, MAP_PRIVATE);
  pathbuf = guarded(PATHSZ, MAP_PRIVATE);
  char work[128];
  snprintf(work, sizeof work, "/tmp/fuzz-%llu-%d", (unsigned long long)seed, (int)getpid());
  if (mkdir(work, 0777) < 0 && errno != EEXIST) {
    perror(work);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0 || dup2(devnull, 0) < 0) {
    perror("/dev/null");
    return 2;
  }
  // The handler is in place and SIGUSR1 blocked before fork: a child takes
  // the signal only once it is set up (harness_signals() unblocks it), since
  // without SA_RESTART a trapped call of its set-up may fail with EINTR.
  harness_signals();
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, NULL);

  unsigned long sum = 0;
  int batches = 0, exited = 0, signaled = 0, watchdog = 0;
  double start = now();
  while (sum < total && batches < 100 && now() - start < 60) {
    int b = batches++;
    sh->calls = 0;
    sh->seq = 0;
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 2;
    }
    if (pid == 0) child(seed, b, per, work);
    int status = 0;
    double deadline = now() + 5;
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && now() < deadline) {
      kill(pid, SIGUSR1);  // interrupts a call that would block
      struct timespec ts = {0, 2000000};
      nanosleep(&ts, NULL);
    }
    int killed = 0;
    if (r == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      killed = 1;
    }
    unsigned long calls = sh->calls;
    if (calls > (unsigned long)per) {
      printf("batch %d: the call counter was overwritten (%lu)\n", b, calls);
      calls = 0;
    }
    sum += calls;
    if (killed) {
      watchdog++;
      printf("batch %d: still running after 5 s, killed, after %lu calls; last calls:\n", b, calls);
      print_history();
    } else if (WIFSIGNALED(status)) {
      signaled++;
      if (WTERMSIG(status) == SIGALRM) {
        printf("batch %d: stopped by its alarm after %lu calls; last calls:\n", b, calls);
        print_history();
      } else {
        printf("batch %d: killed by signal %d after %lu calls (last: syscall %ld)\n", b, WTERMSIG(status), calls,
               sh->history[(sh->seq + HISTORY - 1) % HISTORY].nr);
      }
    } else {
      exited++;
      if (WEXITSTATUS(status) != 0)
        printf("batch %d: exit status %d after %lu calls (last: syscall %ld)\n", b, WEXITSTATUS(status), calls,
               sh->history[(sh->seq + HISTORY - 1) % HISTORY].nr);
    }
  }
  printf("fuzz seed=%llu batches=%d syscalls=%lu exited=%d signaled=%d watchdog=%d seconds=%.1f\n",
         (unsigned long long)seed, batches, sum, exited, signaled, watchdog, now() - start);
  return sum >= total ? 0 : 1;
}
