/* Execs by tasks sharing one fd table (CLONE_FILES), compared with Linux.
 *   execshare procs N     N rounds: WIDTH CLONE_FILES children of one process
 *                         exec at the same moment; how many execs ran
 *   execshare thread N    N rounds: a thread of a process and a CLONE_FILES
 *                         child of it exec at the same moment
 *   execshare leftover    the fd a new open gets before and after a
 *                         CLONE_FILES child's exec (no fd is left behind),
 *                         the parent waiting in a call, then computing
 * Under tsvisor the two execs of a round could be given one fd slot for
 * their files, and the exec that ran the other's file was killed; and a
 * successful exec left its fd in the table it shared. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *self;
/* a copy of this program: half the execs of a round run it, another file */
static char other[4096];
static int go[2];
#define WIDTH 8
static char stack[WIDTH][64 * 1024];

/** Waits for the round's go byte, then execs this program (or its copy, `arg` set) to exit 0 at once. */
static int execAtGo(void *arg) {
  const char *prog = arg ? other : self;
  char b;
  if (read(go[0], &b, 1) != 1) _exit(120);
  execl(prog, prog, "exit", (char *)NULL);
  _exit(121);
}

static void *threadExec(void *arg) {
  execAtGo(arg);
  return NULL;
}

static pid_t cloneExec(int i, int flags) {
  return clone(execAtGo, stack[i] + sizeof stack[i], CLONE_FILES | flags | SIGCHLD, i % 2 ? other : NULL);
}

/** Makes `other`, a copy of this program. */
static int copySelf(void) {
  snprintf(other, sizeof other, "%s-copy", self);
  int in = open(self, O_RDONLY), out = open(other, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  if (in < 0 || out < 0) return -1;
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, n) != n) return -1;
  close(in);
  return close(out);
}

/** Waits for `n` children; how many exited 0 (the exec ran and its program returned). */
static int reap(int n) {
  int ok = 0;
  for (int i = 0; i < n; i++) {
    int status;
    if (wait(&status) > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) ok++;
  }
  return ok;
}

static int procs(int n) {
  int ok = 0;
  for (int r = 0; r < n; r++) {
    if (pipe(go) < 0) return 1;
    for (int i = 0; i < WIDTH; i++)
      if (cloneExec(i, 0) < 0) return 1;
    if (write(go[1], "abcdefgh", WIDTH) != WIDTH) return 1;
    ok += reap(WIDTH);
    close(go[0]);
    close(go[1]);
  }
  printf("procs: %d of %d execs ran\n", ok, WIDTH * n);
  return 0;
}

static int thread(int n) {
  int ok = 0;
  for (int r = 0; r < n; r++) {
    if (pipe(go) < 0) return 1;
    pid_t w = fork();
    if (w == 0) {
      /* The child is the worker's sibling (CLONE_PARENT), reaped below. */
      if (cloneExec(0, CLONE_PARENT) < 0) _exit(122);
      pthread_t t;
      if (pthread_create(&t, NULL, threadExec, other) != 0) _exit(123);
      if (write(go[1], "ab", 2) != 2) _exit(124);
      pthread_join(t, NULL);
      _exit(125);
    }
    if (w < 0) return 1;
    ok += reap(2);
    close(go[0]);
    close(go[1]);
  }
  printf("thread: %d of %d execs ran\n", ok, 2 * n);
  return 0;
}

static int lowestFree(void) {
  int fd = open("/dev/null", O_RDONLY);
  close(fd);
  return fd;
}

/* `spin`: the parent computes while the child execs, rather than wait in a call. */
static int leftover(int spin) {
  int before = lowestFree();
  if (pipe(go) < 0) return 1;
  int afterPipe = lowestFree();
  pid_t c = cloneExec(0, 0);
  if (c < 0) return 1;
  if (write(go[1], "a", 1) != 1) return 1;
  int ok = 0, status;
  if (spin) {
    while (waitpid(c, &status, WNOHANG) == 0)
      for (volatile int i = 0; i < 1000000; i++) {
      }
    ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  } else {
    ok = reap(1);
  }
  int after = lowestFree();
  close(go[0]);
  close(go[1]);
  printf("leftover%s: exec ran %d, lowest free fd %d, with a pipe %d, after the exec %d\n", spin ? " (spinning)" : "", ok, before, afterPipe, after);
  return 0;
}

int main(int argc, char **argv) {
  self = argv[0];
  if (argc > 1 && strcmp(argv[1], "exit") == 0) return 0;
  setvbuf(stdout, NULL, _IONBF, 0);
  int n = argc > 2 ? atoi(argv[2]) : 100, r = 2;
  if (copySelf() < 0) {
    perror("copy");
    return 1;
  }
  if (argc > 1 && strcmp(argv[1], "procs") == 0) r = procs(n);
  else if (argc > 1 && strcmp(argv[1], "thread") == 0) r = thread(n);
  else if (argc > 1 && strcmp(argv[1], "leftover") == 0) r = leftover(0) || leftover(1);
  else fprintf(stderr, "usage: execshare procs|thread|leftover [N]\n");
  unlink(other);
  return r;
}
