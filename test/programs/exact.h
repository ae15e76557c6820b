/* What the Linux-exact programs (exact.c, exactfs.c, unixsock.c) share: each
 * call's result printed as one line ("what: N" or "what: -1 ERRNO"), for the
 * native and sandboxed runs to be compared, and paths in the run's scratch
 * directory D. */
#ifndef TSVISOR_EXACT_H
#define TSVISOR_EXACT_H
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* the run's scratch directory (argv[1]) */
static const char *D;

static void report(const char *what, long r, int e) {
  if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(e));
  else printf("%s: %ld\n", what, r);
  fflush(stdout);
}
#define R(what, call)          \
  do {                         \
    errno = 0;                 \
    long r_ = (long)(call);    \
    report((what), r_, errno); \
  } while (0)

/* D/name, in one of 8 rotating buffers (several may be live in one call) */
static char *at(const char *name) {
  static char buf[8][8192];
  static int k;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", D, name);
  return buf[k];
}
#endif
