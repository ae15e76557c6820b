/* A process killed at its exec: the parent sees the child's close-on-exec
 * pipe close (the kernel is past the point of no return) and SIGKILLs it at
 * once, before or while the new image is being checked. Every child dies of
 * the SIGKILL and nothing else is said: under tsvisor such a death raced the
 * Sentry's check of the new image, which read the vanishing memory map as
 * "another file ran" and warned so. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000, killed = 0;
  for (int i = 0; i < n; i++) {
    int sync[2];
    if (pipe2(sync, O_CLOEXEC) < 0) return 1;
    pid_t c = fork();
    if (c == 0) {
      execl("/bin/sleep", "sleep", "5", (char *)NULL);
      _exit(127);
    }
    close(sync[1]);
    char b;
    while (read(sync[0], &b, 1) > 0) {
    }
    close(sync[0]);
    kill(c, SIGKILL);
    int status;
    if (waitpid(c, &status, 0) == c && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) killed++;
  }
  printf("%d of %d killed by SIGKILL\n", killed, n);
  return 0;
}
