/*
 * userns-limit: runs a command as an ordinary user on a "host" that forbids
 * unprivileged user namespaces, for test/e2e/rootless.test.ts.
 *
 * Usage (as root): userns-limit UID GID CMD ARGS...
 *
 * It makes a user namespace mapping ids 0-65535 to themselves, so inside it
 * looks like the host, lowers user.max_user_namespaces there to 0 (the
 * setting is per user namespace; its root may lower it), becomes UID:GID
 * with no supplementary groups and execs CMD. A user namespace made from
 * there fails as on a host with user.max_user_namespaces=0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int go[2];
static char **cmd;
static uid_t uid;
static gid_t gid;

static void put(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
    fprintf(stderr, "userns-limit: %s: %s\n", path, strerror(errno));
    exit(125);
  }
  close(fd);
}

static int child(void *arg) {
  (void)arg;
  char c;
  close(go[1]);
  if (read(go[0], &c, 1) != 1) return 125;
  put("/proc/sys/user/max_user_namespaces", "0");
  if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
    fprintf(stderr, "userns-limit: become %u:%u: %s\n", (unsigned)uid, (unsigned)gid, strerror(errno));
    return 125;
  }
  execvp(cmd[0], cmd);
  fprintf(stderr, "userns-limit: %s: %s\n", cmd[0], strerror(errno));
  return 127;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: userns-limit UID GID CMD ARGS...\n");
    return 2;
  }
  uid = (uid_t)atoi(argv[1]);
  gid = (gid_t)atoi(argv[2]);
  cmd = argv + 3;
  static char stack[1 << 16];
  if (pipe(go) < 0) return 125;
  pid_t pid = clone(child, stack + sizeof stack, CLONE_NEWUSER | SIGCHLD, NULL);
  if (pid < 0) {
    fprintf(stderr, "userns-limit: clone: %s\n", strerror(errno));
    return 125;
  }
  close(go[0]);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
  put(path, "0 0 65536");
  snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
  put(path, "0 0 65536");
  if (write(go[1], "g", 1) != 1) return 125;
  int status;
  if (waitpid(pid, &status, 0) < 0) return 125;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
