/* Prints what an exec gave the process: its tag (the test patches it in a
 * copy to tell two files apart), real/effective/saved uids and gids,
 * AT_SECURE, dumpability and the capability sets; then sleeps argv[1]
 * seconds if given. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <unistd.h>

static const char tag[] = "TAG:good";

int main(int argc, char **argv) {
  uid_t r, e, s;
  gid_t gr, ge, gs;
  getresuid(&r, &e, &s);
  getresgid(&gr, &ge, &gs);
  printf("%s uid %u %u %u gid %u %u %u secure %lu dumpable %d\n", tag, r, e, s, gr, ge, gs, getauxval(AT_SECURE), prctl(PR_GET_DUMPABLE));
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "CapPrm", 6) || !strncmp(line, "CapEff", 6)) fputs(line, stdout);
  fflush(stdout);
  if (argc > 1) sleep(atoi(argv[1]));
  return 0;
}
