// Signals during emulated system calls (test/e2e/signals.test.ts).
//
//   excl restart|norestart DIR [ITERATIONS]
//     Installs a SIGALRM handler (with SA_RESTART, or without it) and an
//     ITIMER_REAL that fires every 50-100 us (re-armed from the handler with a
//     pseudo-random interval), then does ITERATIONS (default 5000)
//     open(DIR/f<i>, O_CREAT|O_EXCL|O_WRONLY) on fresh names. Linux allows each
//     call only to succeed, or, without SA_RESTART, to fail with EINTR; an
//     EEXIST means the call ran twice (the file was created by a first run of
//     the call that the signal interrupted, then the call was run again).
//     After an EINTR the file must not exist either (an interrupted call has
//     no effect). Prints one line of counts:
//       excl mode=M ok=N eintr=N eexist=N other=N eintr_created=N signals=N files=N
//     and exits 0 when every call behaved, 1 on any EEXIST, 2 on any other
//     misbehaviour.
//
//   excl openloop FILE [ITERATIONS]
//     open(FILE, O_RDONLY) / read / close, ITERATIONS (default 100000) times,
//     with the default disposition of every signal (SIGWINCH is ignored). Every
//     open must return the same, lowest free fd (the first one it returned),
//     a read from it must return the file's first bytes, and close must
//     succeed. Prints "openloop ready" first (to stderr), then
//       openloop iterations=N bad_open=N bad_fd=N bad_read=N bad_close=N first_fd=N
//     and exits 0 when every iteration behaved, 3 otherwise. The first few
//     failures are described on stderr.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static volatile unsigned long signals;
static unsigned int rng = 12345;

static void arm(void) {
  rng = rng * 1103515245u + 12345u;
  long us = 50 + (long)((rng >> 16) % 51);  // 50..100 us
  struct itimerval it = {.it_interval = {0, us}, .it_value = {0, us}};
  setitimer(ITIMER_REAL, &it, NULL);
}

static void on_alarm(int sig) {
  (void)sig;
  int saved = errno;
  signals++;
  if ((signals & 7) == 0) arm();  // vary the period now and then
  errno = saved;
}

static int excl(int restart, const char *dir, long n) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = restart ? SA_RESTART : 0;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGALRM, &sa, NULL) < 0) {
    perror("sigaction");
    return 2;
  }
  if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
    perror("mkdir");
    return 2;
  }
  long ok = 0, eintr = 0, eexist = 0, other = 0, eintr_created = 0;
  char name[4096];
  arm();
  for (long i = 0; i < n; i++) {
    snprintf(name, sizeof name, "%s/f%ld", dir, i);
    int fd = open(name, O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd >= 0) {
      ok++;
      while (close(fd) < 0 && errno == EINTR) {
      }
      continue;
    }
    int e = errno;
    if (e == EEXIST) {
      if (eexist < 5) fprintf(stderr, "excl: %s: EEXIST on a fresh name (the call ran twice)\n", name);
      eexist++;
    } else if (e == EINTR && !restart) {
      eintr++;
      // An interrupted call must have had no effect.
      struct stat st;
      int r;
      while ((r = stat(name, &st)) < 0 && errno == EINTR) {
      }
      if (r == 0) {
        if (eintr_created < 5) fprintf(stderr, "excl: %s: open failed with EINTR but created the file\n", name);
        eintr_created++;
      }
    } else {
      if (other < 5) fprintf(stderr, "excl: %s: unexpected error %d (%s)\n", name, e, strerror(e));
      other++;
    }
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  long files = 0;
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
      if (de->d_name[0] == 'f') files++;
    closedir(d);
  }
  printf("excl mode=%s ok=%ld eintr=%ld eexist=%ld other=%ld eintr_created=%ld signals=%lu files=%ld\n",
         restart ? "restart" : "norestart", ok, eintr, eexist, other, eintr_created, signals, files);
  fflush(stdout);
  if (eexist) return 1;
  if (other || eintr_created || files != ok) return 2;
  return 0;
}

static int openloop(const char *file, long n) {
  char expect[64], got[64];
  int fd0 = open(file, O_RDONLY);
  if (fd0 < 0) {
    perror(file);
    return 3;
  }
  ssize_t len = read(fd0, expect, sizeof expect);
  if (len <= 0) {
    fprintf(stderr, "openloop: %s: empty or unreadable\n", file);
    return 3;
  }
  close(fd0);
  fprintf(stderr, "openloop ready\n");
  long bad_open = 0, bad_fd = 0, bad_read = 0, bad_close = 0, reported = 0;
  for (long i = 0; i < n; i++) {
    int fd = open(file, O_RDONLY);
    if (fd < 0) {
      if (reported++ < 5) fprintf(stderr, "openloop: iteration %ld: open: %s\n", i, strerror(errno));
      bad_open++;
      continue;
    }
    if (fd != fd0) {
      if (reported++ < 5) fprintf(stderr, "openloop: iteration %ld: open returned fd %d, expected %d\n", i, fd, fd0);
      bad_fd++;
    }
    ssize_t r = read(fd, got, sizeof got);
    if (r != len || memcmp(got, expect, (size_t)len) != 0) {
      if (reported++ < 5) fprintf(stderr, "openloop: iteration %ld: read from fd %d returned %zd\n", i, fd, r);
      bad_read++;
    }
    if (close(fd) < 0) {
      if (reported++ < 5) fprintf(stderr, "openloop: iteration %ld: close(%d): %s\n", i, fd, strerror(errno));
      bad_close++;
    }
  }
  printf("openloop iterations=%ld bad_open=%ld bad_fd=%ld bad_read=%ld bad_close=%ld first_fd=%d\n", n, bad_open,
         bad_fd, bad_read, bad_close, fd0);
  fflush(stdout);
  return bad_open || bad_fd || bad_read || bad_close ? 3 : 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && (strcmp(argv[1], "restart") == 0 || strcmp(argv[1], "norestart") == 0))
    return excl(strcmp(argv[1], "restart") == 0, argv[2], argc > 3 ? atol(argv[3]) : 5000);
  if (argc >= 3 && strcmp(argv[1], "openloop") == 0) return openloop(argv[2], argc > 3 ? atol(argv[3]) : 100000);
  fprintf(stderr, "usage: excl restart|norestart DIR [N] | excl openloop FILE [N]\n");
  return 64;
}
