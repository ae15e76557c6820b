/* setid-touchrace FILE SRC TRIES, run as root: up to TRIES times, makes
 * FILE set-user-id and world-writable, then a child of uid 1000 rewrites it
 * once with SRC's bytes through write(2) while a second thread of the child
 * sets FILE's times to now (futimens, which a writer may do). A write by a
 * caller without CAP_FSETID clears the set-id bits on Linux and a change of
 * times never sets them, so FILE must end every try without them. Prints
 * FILE's mode in octal after the last try (the first that kept a bit). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int stop;
static int fd;

static void *toucher(void *arg) {
  (void)arg;
  while (!stop) futimens(fd, NULL);
  return NULL;
}

static void rewrite(const char *file, const char *buf, ssize_t n, unsigned seed) {
  if (setgroups(0, NULL) || setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000)) _exit(3);
  fd = open(file, O_WRONLY);
  if (fd < 0) _exit(4);
  pthread_t th;
  pthread_create(&th, NULL, toucher, NULL);
  /* At a random point of the other thread's calls. */
  srand(seed);
  usleep(100 + rand() % 400);
  if (pwrite(fd, buf, n, 0) != n) _exit(5);
  usleep(1000);
  stop = 1;
  pthread_join(th, NULL);
  _exit(0);
}

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  static char buf[4 << 20];
  int src = open(argv[2], O_RDONLY);
  ssize_t n = src < 0 ? -1 : read(src, buf, sizeof buf);
  if (n <= 0) {
    perror("setid-touchrace: read");
    return 1;
  }
  struct stat st = {0};
  for (int i = 0; i < atoi(argv[3]); i++) {
    if (chmod(argv[1], 04777)) {
      perror("setid-touchrace: chmod");
      return 1;
    }
    pid_t p = fork();
    if (p == 0) rewrite(argv[1], buf, n, i);
    int status;
    if (waitpid(p, &status, 0) != p || !WIFEXITED(status) || WEXITSTATUS(status)) {
      fprintf(stderr, "setid-touchrace: child status %#x\n", status);
      return 1;
    }
    if (stat(argv[1], &st)) return 1;
    if (st.st_mode & (S_ISUID | S_ISGID)) break;
  }
  printf("%o\n", (unsigned)(st.st_mode & 07777));
  return 0;
}
