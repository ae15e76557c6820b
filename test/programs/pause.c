// The pod sandbox ("pause") image of the CRI end-to-end test
// (test/e2e/cri.test.ts): the first process of a pod holds its namespaces
// and does nothing else. It waits for signals, reaps what it is given to
// reap (a pod's orphans when the pid namespace is shared), and exits 0 on
// SIGINT or SIGTERM, as Kubernetes' pause does.
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = stop;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = reap;
  sa.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  for (;;) pause();
}
