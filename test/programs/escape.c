/*
 * escape: sandbox escape attempts for tsvisor's e2e suite (test/e2e/escape.test.ts).
 *
 * Build: gcc -O2 -static -pthread -o escape escape.c
 *
 * Usage: escape SUBCOMMAND [key=value ...]
 *
 * Each subcommand runs inside `tsvisor do` and makes a group of attempts. Every
 * named check prints exactly one line:
 *   OK <name> [(note)]        the attempt was prevented the way Linux/runsc would
 *   ESCAPED <name>: <details> the attempt reached something outside the sandbox
 *                             (or an effect the sandbox must refuse happened)
 *   WRONG <name>: <details>   prevented, but not as Linux/runsc would (wrong errno,
 *                             inconsistent view); not an escape, still a failure
 *   ERROR <name>: <details>   the check could not be set up
 * and the subcommand ends with "END <subcommand>" and exit status 0 when it
 * reached the end. Anything but OK lines is a failure for the test suite.
 *
 * A few subcommands run on the host, as helpers of the test (never in the
 * sandbox): canary (a process that logs every signal it receives), server
 * (unix-socket servers that log every connection and datagram), snapshot (a
 * listing of a tree with metadata, xattrs, inode flags and content digests).
 *
 * Keys understood by the sandbox subcommands (all optional):
 *   marker=PATH        a host file (absolute path); its host content is hostcontent=
 *   hostcontent=S      content of the marker on the host: reading it is an escape
 *                      unless the sandbox's own copy has the same content
 *   hosthostname=S     the host's /etc/hostname (trimmed)
 *   hostdir=PATH       the test's host directory (absolute)
 *   hostonly=PATH      a host file that does not exist inside the sandbox
 *   hostf=S            content of hostdir/f on the host (race test)
 *   rootmark=NAME      an entry that only the sandbox's root directory has
 *   prelinks=1         the sandbox root holds the test's escaping symlinks
 *   hostpids=L         "label:pid,label:pid" host pids, or "stdin" to read one
 *                      line "label:pid label:pid ..." from standard input
 *   hostinit=S         the host pid 1's /proc/1/cmdline (NULs as spaces)
 *   hostroot=PATH      the sandbox root's host path (must never be visible)
 *   sock=, dgram=, abstract=, abstractdgram=  host socket servers
 *   victim=, guestowned=, newpath=  files for the overlay write checks
 *                      (guestowned is owned by the host uid the sandbox's root maps to)
 *   execvictim=PATH    a file the forged exec-marker check deletes and tries to run
 *   suidroot=, suidother=  setuid copies of this program
 *   rootdev=MAJ:MIN    the host root file system's device
 *
 * Errno expectations follow what Linux gives an unprivileged process in a
 * user namespace, or tsvisor's documented choice where Linux would allow the
 * call (syscall-tables/syscalls.json): e.g. clone3 is refused whole with
 * ENOSYS because seccomp cannot read its flags, name_to_handle_at may give
 * EOPNOTSUPP (runsc) or EPERM.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/fs.h>
#include <linux/fsverity.h>
#include <linux/filter.h>
#include <linux/kexec.h>
#include <linux/keyctl.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef RENAME_WHITEOUT
#define RENAME_WHITEOUT (1 << 2)
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef KCMP_FILE
#define KCMP_FILE 0
#endif
#define X32_SYSCALL_BIT 0x40000000L
/* The marker tsvisor's Sentry puts in the 6th argument of the execveat it
 * rewrites an execve into (src/abi/linux.ts EXEC_REWRITE_MAGIC): a guest can
 * read the project's source, so it can forge it. */
#define EXEC_REWRITE_MAGIC 0x7473766973L

/* ------------------------------------------------------------------ options */

static const char *g_keys[64], *g_vals[64];
static int g_nopts;
static const char *g_argv0;

static const char *opt(const char *k) {
  for (int i = 0; i < g_nopts; i++)
    if (!strcmp(g_keys[i], k)) return g_vals[i];
  return NULL;
}

/* ---------------------------------------------------------------- reporting */

typedef struct {
  const char *name;
  char det[6000];
  size_t dl;
  int esc, wrong, err;
  char note[400];
} chk;

static int g_nonok;

static void begin(chk *c, const char *name) {
  memset(c, 0, sizeof *c);
  c->name = name;
}

static void vadd(chk *c, const char *fmt, va_list ap) {
  if (c->dl >= sizeof c->det - 8) return;
  if (c->dl) c->dl += (size_t)snprintf(c->det + c->dl, sizeof c->det - c->dl, "; ");
  if (c->dl >= sizeof c->det - 8) return;
  int n = vsnprintf(c->det + c->dl, sizeof c->det - c->dl, fmt, ap);
  if (n > 0) c->dl += (size_t)n;
  if (c->dl > sizeof c->det - 1) c->dl = sizeof c->det - 1;
}

__attribute__((format(printf, 2, 3))) static void escaped(chk *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vadd(c, fmt, ap);
  va_end(ap);
  c->esc++;
}
__attribute__((format(printf, 2, 3))) static void wrong(chk *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vadd(c, fmt, ap);
  va_end(ap);
  c->wrong++;
}
__attribute__((format(printf, 2, 3))) static void error(chk *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vadd(c, fmt, ap);
  va_end(ap);
  c->err++;
}
__attribute__((format(printf, 2, 3))) static void note(chk *c, const char *fmt, ...) {
  size_t l = strlen(c->note);
  if (l >= sizeof c->note - 4) return;
  if (l) l += (size_t)snprintf(c->note + l, sizeof c->note - l, "; ");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->note + l, sizeof c->note - l, fmt, ap);
  va_end(ap);
}

static void end(chk *c) {
  if (c->esc) printf("ESCAPED %s: %s\n", c->name, c->det);
  else if (c->wrong) printf("WRONG %s: %s\n", c->name, c->det);
  else if (c->err) printf("ERROR %s: %s\n", c->name, c->det);
  else if (c->note[0]) printf("OK %s (%s)\n", c->name, c->note);
  else printf("OK %s\n", c->name);
  if (c->esc || c->wrong || c->err) g_nonok++;
  fflush(stdout);
}

static const char *en(int e) {
  if (e == 0) return "success";
  const char *s = strerrorname_np(e);
  static char buf[8][32];
  static int k;
  if (s) return s;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "errno %d", e);
  return buf[k];
}

/* Printable excerpt of data. */
static const char *snip(const char *d, size_t n) {
  static char buf[8][200];
  static int k;
  k = (k + 1) % 8;
  char *o = buf[k];
  size_t j = 0;
  for (size_t i = 0; i < n && j < sizeof buf[k] - 8; i++) {
    unsigned char ch = (unsigned char)d[i];
    if (ch == '\n') o[j++] = '|';
    else if (ch >= 32 && ch < 127) o[j++] = (char)ch;
    else o[j++] = '.';
  }
  if (n > 0 && j >= sizeof buf[k] - 8) {
    memcpy(o + j, "...", 3);
    j += 3;
  }
  o[j] = 0;
  return o;
}

static int in_list(int e, const int *allowed) {
  for (; *allowed; allowed++)
    if (*allowed == e) return 1;
  return 0;
}

static const char *list_names(const int *allowed) {
  static char buf[4][128];
  static int k;
  k = (k + 1) % 4;
  buf[k][0] = 0;
  for (; *allowed; allowed++) {
    if (buf[k][0]) strcat(buf[k], "/");
    strcat(buf[k], en(*allowed));
  }
  return buf[k];
}

/* A call that must fail with one of `allowed` (0-terminated): success is an
 * escape (the operation happened), another errno is a wrong answer. */
static void expect_fail(chk *c, const char *what, long r, int e, const int *allowed) {
  if (r >= 0) escaped(c, "%s succeeded (= %ld), expected %s", what, r, list_names(allowed));
  else if (!in_list(e, allowed)) wrong(c, "%s failed with %s, expected %s", what, en(e), list_names(allowed));
}
#define EXPECT_FAIL(c, what, call, ...)                                                        \
  do {                                                                                         \
    errno = 0;                                                                                 \
    long r_ = (long)(call);                                                                    \
    int e_ = errno;                                                                            \
    static const int allowed_[] = {__VA_ARGS__, 0};                                            \
    expect_fail((c), (what), r_, e_, allowed_);                                                \
  } while (0)

/* -------------------------------------------------------------- file views */

typedef struct {
  int err;
  int isdir;
  char *data;
  size_t len;
  dev_t dev;
  ino_t ino;
} outc;

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names (without . and ..) joined by '\n', read with getdents64. */
static char *list_fd(int fd, size_t *lenp, int *errp) {
  char buf[16384];
  char **names = NULL;
  size_t n = 0, cap = 0;
  *errp = 0;
  for (;;) {
    long r = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (r < 0) {
      *errp = errno;
      break;
    }
    if (r == 0) break;
    for (long off = 0; off < r;) {
      struct {
        uint64_t ino;
        int64_t off;
        unsigned short reclen;
        unsigned char type;
        char name[];
      } *d = (void *)(buf + off);
      if (strcmp(d->name, ".") && strcmp(d->name, "..")) {
        if (n == cap) {
          cap = cap ? cap * 2 : 64;
          names = realloc(names, cap * sizeof *names);
        }
        names[n++] = strdup(d->name);
      }
      if (d->reclen == 0) break;
      off += d->reclen;
    }
  }
  qsort(names, n, sizeof *names, cmpstr);
  size_t total = 1;
  for (size_t i = 0; i < n; i++) total += strlen(names[i]) + 1;
  char *out = malloc(total);
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(names[i]);
    memcpy(out + j, names[i], l);
    j += l;
    out[j++] = '\n';
    free(names[i]);
  }
  out[j] = 0;
  free(names);
  *lenp = j;
  return out;
}

static char *read_fd_all(int fd, size_t *lenp, int *errp) {
  size_t cap = 4096, n = 0;
  char *b = malloc(cap + 1);
  *errp = 0;
  for (;;) {
    if (n == cap) {
      if (cap >= (1 << 20)) break;
      cap *= 2;
      b = realloc(b, cap + 1);
    }
    ssize_t r = read(fd, b + n, cap - n);
    if (r < 0) {
      if (errno == EINTR) continue;
      *errp = errno;
      break;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  b[n] = 0;
  *lenp = n;
  return b;
}

static outc out_fd(int fd, int e) {
  outc o;
  memset(&o, 0, sizeof o);
  if (fd < 0) {
    o.err = e;
    return o;
  }
  struct stat st;
  if (fstat(fd, &st) == 0) {
    o.isdir = S_ISDIR(st.st_mode);
    o.dev = st.st_dev;
    o.ino = st.st_ino;
  }
  int rerr = 0;
  if (o.isdir) o.data = list_fd(fd, &o.len, &rerr);
  else o.data = read_fd_all(fd, &o.len, &rerr);
  if (rerr) o.err = rerr;
  close(fd);
  return o;
}

static outc out_open(int dirfd, const char *p, int flags) {
  int fd = openat(dirfd, p, flags | O_CLOEXEC);
  return out_fd(fd, errno);
}

static outc out_openat2(int dirfd, const char *p, uint64_t flags, uint64_t resolve) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = flags | O_CLOEXEC;
  how.resolve = resolve;
  int fd = (int)syscall(SYS_openat2, dirfd, p, &how, sizeof how);
  return out_fd(fd, errno);
}

static void out_free(outc *o) {
  free(o->data);
  o->data = NULL;
}

static const char *describe(const outc *o) {
  static char buf[4][240];
  static int k;
  k = (k + 1) % 4;
  if (o->err) snprintf(buf[k], sizeof buf[k], "%s", en(o->err));
  else snprintf(buf[k], sizeof buf[k], "%s [%s]", o->isdir ? "dir" : "file", snip(o->data, o->len));
  return buf[k];
}

static int trimmed_eq(const char *d, size_t n, const char *s) {
  while (n && (d[n - 1] == '\n' || d[n - 1] == ' ')) n--;
  return strlen(s) == n && !memcmp(d, s, n);
}

/* Host secrets the sandbox may not show unless its own copy is the same. */
static void host_tokens(chk *c, const char *what, const outc *e, const outc *d) {
  if (e->err || e->isdir) return;
  const char *hc = opt("hostcontent");
  if (hc && *hc && memmem(e->data, e->len, hc, strlen(hc)) &&
      !(d && !d->err && memmem(d->data, d->len, hc, strlen(hc))))
    escaped(c, "%s read the host marker's content [%s]", what, snip(e->data, e->len));
  const char *hh = opt("hosthostname");
  if (hh && *hh && trimmed_eq(e->data, e->len, hh) && !(d && !d->err && trimmed_eq(d->data, d->len, hh)))
    escaped(c, "%s read the host's hostname [%s]", what, snip(e->data, e->len));
  const char *hf = opt("hostf");
  if (hf && *hf && memmem(e->data, e->len, hf, strlen(hf)) &&
      !(d && !d->err && memmem(d->data, d->len, hf, strlen(hf))))
    escaped(c, "%s read the host file f [%s]", what, snip(e->data, e->len));
}

/* The escape path must show exactly what the sandbox path shows. */
static void same_as(chk *c, const char *what, outc e, outc d) {
  host_tokens(c, what, &e, &d);
  if (e.err != d.err) {
    if (!e.err) escaped(c, "%s opened %s where the sandbox path gives %s", what, describe(&e), describe(&d));
    else wrong(c, "%s gives %s where the sandbox path gives %s", what, en(e.err), describe(&d));
  } else if (!e.err && (e.isdir != d.isdir || e.len != d.len || memcmp(e.data, d.data, e.len))) {
    escaped(c, "%s reached %s, the sandbox path is %s", what, describe(&e), describe(&d));
  }
  out_free(&e);
  out_free(&d);
}

static outc g_root;     /* listing of "/" at start-up */
static outc g_hostname; /* /etc/hostname */

static void load_root(void) {
  g_root = out_open(AT_FDCWD, "/", O_RDONLY | O_DIRECTORY);
  g_hostname = out_open(AT_FDCWD, "/etc/hostname", O_RDONLY);
}

static outc copy_out(const outc *o) {
  outc r = *o;
  if (o->data) {
    r.data = malloc(o->len + 1);
    memcpy(r.data, o->data, o->len + 1);
  }
  return r;
}

static int has_line(const char *d, size_t n, const char *s) {
  size_t l = strlen(s);
  for (size_t i = 0; i + l <= n; i++) {
    if ((i == 0 || d[i - 1] == '\n') && !memcmp(d + i, s, l) && (i + l == n || d[i + l] == '\n')) return 1;
  }
  return 0;
}

/* The escape path must be the sandbox's root directory. */
static void is_root(chk *c, const char *what, outc e) {
  const char *rm = opt("rootmark");
  if (!e.err && e.isdir && rm && !has_line(e.data, e.len, rm))
    escaped(c, "%s is a directory without the sandbox root's marker %s: [%s]", what, rm, snip(e.data, e.len));
  same_as(c, what, e, copy_out(&g_root));
}

static void same_as_path(chk *c, const char *what, outc e, const char *direct) {
  same_as(c, what, e, out_open(AT_FDCWD, direct, O_RDONLY));
}

static void mkdir_p(const char *p) {
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", p);
  for (char *s = buf + 1; *s; s++) {
    if (*s == '/') {
      *s = 0;
      mkdir(buf, 0755);
      *s = '/';
    }
  }
  mkdir(buf, 0755);
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *f) {
  (void)st;
  (void)f;
  if (type == FTW_DP) rmdir(p);
  else unlink(p);
  return 0;
}

/* Removes what an earlier run left (the sandbox's /tmp may persist with --no-overlay). */
static void rm_rf(const char *p) { nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static int put_symlink(chk *c, const char *target, const char *path) {
  unlink(path);
  if (symlink(target, path) < 0) {
    error(c, "symlink(%s, %s): %s", target, path, en(errno));
    return -1;
  }
  char got[PATH_MAX];
  ssize_t n = readlink(path, got, sizeof got - 1);
  if (n < 0) wrong(c, "readlink(%s): %s", path, en(errno));
  else {
    got[n] = 0;
    if (strcmp(got, target)) wrong(c, "readlink(%s) = [%s], the link was made to [%s]", path, got, target);
  }
  return 0;
}

static int put_file(const char *p, const char *content) {
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  ssize_t r = write(fd, content, strlen(content));
  close(fd);
  return r < 0 ? -1 : 0;
}

static char *ups(int n, const char *tail) {
  char *s = malloc((size_t)n * 3 + strlen(tail) + 1);
  s[0] = 0;
  for (int i = 0; i < n; i++) strcat(s, "../");
  strcat(s, tail);
  return s;
}

/* ------------------------------------------------------------ (1) dotdot */

static void cmd_dotdot(void) {
  chk c;
  if (chdir("/") < 0) perror("chdir /");

  begin(&c, "dotdot-open-dir");
  is_root(&c, "open(\"../../../..\")", out_open(AT_FDCWD, "../../../..", O_RDONLY | O_DIRECTORY));
  is_root(&c, "open(\"/..\")", out_open(AT_FDCWD, "/..", O_RDONLY | O_DIRECTORY));
  is_root(&c, "open(\"/../../../../..\")", out_open(AT_FDCWD, "/../../../../..", O_RDONLY | O_DIRECTORY));
  is_root(&c, "open(\"..\", O_RDONLY) without O_DIRECTORY", out_open(AT_FDCWD, "..", O_RDONLY));
  end(&c);

  begin(&c, "dotdot-open-file");
  same_as(&c, "open(\"../../../../../../../../etc/hostname\")",
          out_open(AT_FDCWD, "../../../../../../../../etc/hostname", O_RDONLY), copy_out(&g_hostname));
  char *p = ups(200, "etc/hostname");
  same_as(&c, "open(200 x \"../\" + \"etc/hostname\")", out_open(AT_FDCWD, p, O_RDONLY), copy_out(&g_hostname));
  free(p);
  same_as(&c, "open(\"/../../etc/../../etc/hostname\")", out_open(AT_FDCWD, "/../../etc/../../etc/hostname", O_RDONLY),
          copy_out(&g_hostname));
  const char *marker = opt("marker");
  if (marker) {
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "../../../../../../../..%s", marker);
    same_as_path(&c, "open(\"../../..<marker>\")", out_open(AT_FDCWD, buf, O_RDONLY), marker);
  }
  end(&c);

  begin(&c, "dotdot-openat-dirfd");
  int rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int tmpfd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0 || tmpfd < 0) error(&c, "open / or /tmp: %s", en(errno));
  else {
    is_root(&c, "openat(fd of /, \"..\")", out_open(rootfd, "..", O_RDONLY | O_DIRECTORY));
    is_root(&c, "openat(fd of /, \"../../../..\")", out_open(rootfd, "../../../..", O_RDONLY | O_DIRECTORY));
    is_root(&c, "openat(fd of /tmp, \"../../../../..\")", out_open(tmpfd, "../../../../..", O_RDONLY | O_DIRECTORY));
    same_as(&c, "openat(fd of /tmp, \"../../../../etc/hostname\")", out_open(tmpfd, "../../../../etc/hostname", O_RDONLY),
            copy_out(&g_hostname));
    same_as(&c, "openat(fd of /, \"../../etc/hostname\")", out_open(rootfd, "../../etc/hostname", O_RDONLY),
            copy_out(&g_hostname));
  }
  end(&c);

  begin(&c, "dotdot-chdir");
  if (chdir("../../../../..") < 0) wrong(&c, "chdir(\"../../../../..\"): %s", en(errno));
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) wrong(&c, "getcwd: %s", en(errno));
  else if (strcmp(cwd, "/")) escaped(&c, "getcwd after chdir(\"../../../../..\") = %s", cwd);
  is_root(&c, "open(\".\") after chdir(\"../../../../..\")", out_open(AT_FDCWD, ".", O_RDONLY | O_DIRECTORY));
  if (chdir("/tmp") == 0 && chdir("../../../..") == 0) {
    is_root(&c, "open(\".\") after chdir(\"/tmp\"), chdir(\"../../../..\")", out_open(AT_FDCWD, ".", O_RDONLY | O_DIRECTORY));
    if (!getcwd(cwd, sizeof cwd)) wrong(&c, "getcwd: %s", en(errno));
    else if (strcmp(cwd, "/")) escaped(&c, "getcwd after chdir(\"/tmp\"), chdir(\"../../../..\") = %s", cwd);
  } else {
    wrong(&c, "chdir /tmp then ../../../..: %s", en(errno));
  }
  if (tmpfd >= 0 && fchdir(tmpfd) == 0 && chdir("../../..") == 0)
    is_root(&c, "open(\".\") after fchdir(/tmp), chdir(\"../../..\")", out_open(AT_FDCWD, ".", O_RDONLY | O_DIRECTORY));
  else wrong(&c, "fchdir(/tmp) then chdir(../../..): %s", en(errno));
  if (chdir("/") < 0) error(&c, "chdir /: %s", en(errno));
  end(&c);

  begin(&c, "dotdot-deep");
  mkdir_p("/tmp/esc-dd/a/b/c/d");
  if (chdir("/tmp/esc-dd/a/b/c/d") < 0) error(&c, "chdir /tmp/esc-dd/a/b/c/d: %s", en(errno));
  else {
    p = ups(64, "");
    is_root(&c, "open(64 x \"../\") from /tmp/esc-dd/a/b/c/d", out_open(AT_FDCWD, p, O_RDONLY | O_DIRECTORY));
    free(p);
    p = ups(40, "etc/hostname");
    same_as(&c, "open(40 x \"../\" + \"etc/hostname\") from /tmp/esc-dd/a/b/c/d", out_open(AT_FDCWD, p, O_RDONLY),
            copy_out(&g_hostname));
    free(p);
    p = ups(40, "tmp/esc-dd/a/../../../../etc/hostname");
    same_as(&c, "open(40 x \"../\" + \"tmp/esc-dd/a/../../../../etc/hostname\")", out_open(AT_FDCWD, p, O_RDONLY),
            copy_out(&g_hostname));
    free(p);
  }
  if (chdir("/") < 0) error(&c, "chdir /: %s", en(errno));
  end(&c);

  begin(&c, "dotdot-openat2");
  same_as(&c, "openat2(AT_FDCWD, \"../../../../etc/hostname\")",
          out_openat2(AT_FDCWD, "../../../../etc/hostname", O_RDONLY, 0), copy_out(&g_hostname));
  if (rootfd >= 0) {
    same_as(&c, "openat2(fd of /, \"/../../etc/hostname\", RESOLVE_IN_ROOT)",
            out_openat2(rootfd, "/../../etc/hostname", O_RDONLY, RESOLVE_IN_ROOT), copy_out(&g_hostname));
    outc b = out_openat2(rootfd, "..", O_RDONLY | O_DIRECTORY, RESOLVE_BENEATH);
    if (!b.err) is_root(&c, "openat2(fd of /, \"..\", RESOLVE_BENEATH)", b);
    else {
      if (b.err != EXDEV) wrong(&c, "openat2(fd of /, \"..\", RESOLVE_BENEATH) gives %s, Linux gives EXDEV", en(b.err));
      out_free(&b);
    }
  }
  end(&c);

  begin(&c, "dotdot-stat");
  struct stat sr, sd;
  if (stat("/", &sr) < 0) error(&c, "stat /: %s", en(errno));
  else {
    const char *ps[] = {"/..", "/../../..", "/tmp/../..", "/proc/.."};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) {
      if (stat(ps[i], &sd) < 0) wrong(&c, "stat(%s): %s", ps[i], en(errno));
      else if (sd.st_dev != sr.st_dev || sd.st_ino != sr.st_ino)
        escaped(&c, "stat(%s) is %lu:%lu, not the root %lu:%lu", ps[i], (unsigned long)sd.st_dev, (unsigned long)sd.st_ino,
                (unsigned long)sr.st_dev, (unsigned long)sr.st_ino);
    }
  }
  end(&c);

  begin(&c, "dotdot-nondumpable");
  /* A non-dumpable process still has its path calls resolved by the Sentry
   * (which must not fall back to letting the host resolve them). */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) error(&c, "PR_SET_DUMPABLE 0: %s", en(errno));
  else {
    same_as(&c, "open(\"../../../../etc/hostname\") when non-dumpable",
            out_open(AT_FDCWD, "../../../../etc/hostname", O_RDONLY), copy_out(&g_hostname));
    is_root(&c, "open(\"/../..\") when non-dumpable", out_open(AT_FDCWD, "/../..", O_RDONLY | O_DIRECTORY));
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  }
  end(&c);
  if (rootfd >= 0) close(rootfd);
  if (tmpfd >= 0) close(tmpfd);
}

/* ------------------------------------------------------------ (2) symlinks */

static void cmd_symlink(void) {
  chk c;
  rm_rf("/tmp/esc-sl");
  mkdir_p("/tmp/esc-sl/a/b/c");
  const char *marker = opt("marker");

  begin(&c, "symlink-abs-hostname");
  if (!put_symlink(&c, "/etc/hostname", "/tmp/esc-sl/abs"))
    same_as(&c, "open(/tmp/esc-sl/abs -> /etc/hostname)", out_open(AT_FDCWD, "/tmp/esc-sl/abs", O_RDONLY),
            copy_out(&g_hostname));
  end(&c);

  begin(&c, "symlink-abs-marker");
  if (!marker) error(&c, "no marker=");
  else if (!put_symlink(&c, marker, "/tmp/esc-sl/abs-marker"))
    same_as_path(&c, "open(/tmp/esc-sl/abs-marker -> <marker>)", out_open(AT_FDCWD, "/tmp/esc-sl/abs-marker", O_RDONLY),
                 marker);
  end(&c);

  begin(&c, "symlink-rel-many");
  char *t = ups(30, "etc/hostname");
  if (!put_symlink(&c, t, "/tmp/esc-sl/a/b/c/rel"))
    same_as(&c, "open(/tmp/esc-sl/a/b/c/rel -> 30 x \"../\" + \"etc/hostname\")",
            out_open(AT_FDCWD, "/tmp/esc-sl/a/b/c/rel", O_RDONLY), copy_out(&g_hostname));
  free(t);
  if (marker) {
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "../../../../../../../../../../../../..%s", marker);
    if (!put_symlink(&c, buf, "/tmp/esc-sl/a/b/c/rel-marker"))
      same_as_path(&c, "open(/tmp/esc-sl/a/b/c/rel-marker -> ../../..<marker>)",
                   out_open(AT_FDCWD, "/tmp/esc-sl/a/b/c/rel-marker", O_RDONLY), marker);
  }
  end(&c);

  begin(&c, "symlink-to-root");
  if (!put_symlink(&c, "/", "/tmp/esc-sl/root")) {
    is_root(&c, "open(/tmp/esc-sl/root)", out_open(AT_FDCWD, "/tmp/esc-sl/root", O_RDONLY | O_DIRECTORY));
    is_root(&c, "open(/tmp/esc-sl/root/..)", out_open(AT_FDCWD, "/tmp/esc-sl/root/..", O_RDONLY | O_DIRECTORY));
    is_root(&c, "open(/tmp/esc-sl/root/../../..)", out_open(AT_FDCWD, "/tmp/esc-sl/root/../../..", O_RDONLY | O_DIRECTORY));
    same_as(&c, "open(/tmp/esc-sl/root/../../etc/hostname)",
            out_open(AT_FDCWD, "/tmp/esc-sl/root/../../etc/hostname", O_RDONLY), copy_out(&g_hostname));
  }
  end(&c);

  begin(&c, "symlink-rel-dir");
  t = ups(12, "");
  if (!put_symlink(&c, t, "/tmp/esc-sl/a/b/c/up")) {
    is_root(&c, "open(/tmp/esc-sl/a/b/c/up -> 12 x \"../\")", out_open(AT_FDCWD, "/tmp/esc-sl/a/b/c/up", O_RDONLY | O_DIRECTORY));
    is_root(&c, "open(.../up/..)", out_open(AT_FDCWD, "/tmp/esc-sl/a/b/c/up/..", O_RDONLY | O_DIRECTORY));
    same_as(&c, "open(.../up/etc/hostname)", out_open(AT_FDCWD, "/tmp/esc-sl/a/b/c/up/etc/hostname", O_RDONLY),
            copy_out(&g_hostname));
    int dfd = open("/tmp/esc-sl/a/b/c", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) error(&c, "open /tmp/esc-sl/a/b/c: %s", en(errno));
    else {
      same_as(&c, "openat(fd of /tmp/esc-sl/a/b/c, \"up/../../etc/hostname\")",
              out_open(dfd, "up/../../etc/hostname", O_RDONLY), copy_out(&g_hostname));
      close(dfd);
    }
  }
  free(t);
  end(&c);

  begin(&c, "symlink-chain");
  /* l0 -> /tmp/esc-sl/a/b/c/up/.. ; lN -> l(N-1)/../.. : every hop climbs. */
  if (!put_symlink(&c, "/tmp/esc-sl/a/b/c/up/..", "/tmp/esc-sl/l0")) {
    char tgt[64], path[64];
    for (int i = 1; i < 8; i++) {
      snprintf(tgt, sizeof tgt, "/tmp/esc-sl/l%d/../..", i - 1);
      snprintf(path, sizeof path, "/tmp/esc-sl/l%d", i);
      put_symlink(&c, tgt, path);
    }
    is_root(&c, "open(/tmp/esc-sl/l7) (a chain of 8 climbing links)", out_open(AT_FDCWD, "/tmp/esc-sl/l7", O_RDONLY | O_DIRECTORY));
    same_as(&c, "open(/tmp/esc-sl/l7/etc/hostname)", out_open(AT_FDCWD, "/tmp/esc-sl/l7/etc/hostname", O_RDONLY),
            copy_out(&g_hostname));
  }
  end(&c);

  begin(&c, "symlink-openat2");
  int rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  same_as(&c, "openat2(fd of /, \"tmp/esc-sl/abs\", RESOLVE_IN_ROOT)",
          out_openat2(rootfd, "tmp/esc-sl/abs", O_RDONLY, RESOLVE_IN_ROOT), copy_out(&g_hostname));
  same_as(&c, "openat2(AT_FDCWD, \"/tmp/esc-sl/a/b/c/rel\")", out_openat2(AT_FDCWD, "/tmp/esc-sl/a/b/c/rel", O_RDONLY, 0),
          copy_out(&g_hostname));
  close(rootfd);
  end(&c);

  if (opt("prelinks")) {
    /* Symlinks the test planted in the sandbox root on the host: the Gofer
     * must resolve them inside the root. */
    const char *hostonly = opt("hostonly");
    const char *hostdir = opt("hostdir");
    begin(&c, "symlink-prelinks");
    if (!marker || !hostonly || !hostdir) error(&c, "needs marker=, hostonly=, hostdir=");
    else {
      same_as_path(&c, "open(/etc/esc-abs-marker -> <marker>)", out_open(AT_FDCWD, "/etc/esc-abs-marker", O_RDONLY), marker);
      same_as_path(&c, "open(/etc/esc-rel-marker -> ../../..<marker>)", out_open(AT_FDCWD, "/etc/esc-rel-marker", O_RDONLY),
                   marker);
      same_as_path(&c, "open(/etc/esc-abs-hostonly -> <hostonly>)", out_open(AT_FDCWD, "/etc/esc-abs-hostonly", O_RDONLY),
                   hostonly);
      same_as_path(&c, "open(/etc/esc-rel-hostonly -> ../../..<hostonly>)",
                   out_open(AT_FDCWD, "/etc/esc-rel-hostonly", O_RDONLY), hostonly);
      same_as(&c, "open(/etc/esc-dir -> <hostdir>)", out_open(AT_FDCWD, "/etc/esc-dir", O_RDONLY | O_DIRECTORY),
              out_open(AT_FDCWD, hostdir, O_RDONLY | O_DIRECTORY));
      same_as(&c, "open(/etc/esc-rel-dir -> ../../..<hostdir>)", out_open(AT_FDCWD, "/etc/esc-rel-dir", O_RDONLY | O_DIRECTORY),
              out_open(AT_FDCWD, hostdir, O_RDONLY | O_DIRECTORY));
      is_root(&c, "open(/etc/esc-root -> /)", out_open(AT_FDCWD, "/etc/esc-root", O_RDONLY | O_DIRECTORY));
      is_root(&c, "open(/etc/esc-root/../..)", out_open(AT_FDCWD, "/etc/esc-root/../..", O_RDONLY | O_DIRECTORY));
      is_root(&c, "open(/etc/esc-up -> ../../../../..)", out_open(AT_FDCWD, "/etc/esc-up", O_RDONLY | O_DIRECTORY));
      same_as(&c, "open(/etc/esc-up/etc/hostname)", out_open(AT_FDCWD, "/etc/esc-up/etc/hostname", O_RDONLY),
              copy_out(&g_hostname));
      char buf[PATH_MAX];
      snprintf(buf, sizeof buf, "/etc/esc-dir/%s", strrchr(hostonly, '/') + 1);
      same_as_path(&c, "open(/etc/esc-dir/<hostonly's name>)", out_open(AT_FDCWD, buf, O_RDONLY), hostonly);
      struct stat st;
      if (stat("/etc/esc-abs-hostonly", &st) == 0) escaped(&c, "stat(/etc/esc-abs-hostonly) found the host-only file");
      else if (errno != ENOENT) wrong(&c, "stat(/etc/esc-abs-hostonly): %s, expected ENOENT", en(errno));
    }
    end(&c);
  }
}

/* Operations through the planted escaping directory links (root modes): the
 * test checks afterwards that the host directory did not change. */
static void ops_through(chk *c, const char *dir) {
  char p[PATH_MAX], q[PATH_MAX];
  int fails = 0;
#define TRY(what, call)                                                                        \
  do {                                                                                         \
    if ((long)(call) < 0) {                                                                    \
      fails++;                                                                                 \
      note(c, "%s: %s", what, en(errno));                                                      \
    }                                                                                          \
  } while (0)
  snprintf(p, sizeof p, "%s/created-via-link", dir);
  TRY("create", put_file(p, "PWNED\n"));
  snprintf(p, sizeof p, "%s/mkdir-via-link", dir);
  TRY("mkdir", mkdir(p, 0755));
  snprintf(p, sizeof p, "%s/symlink-via-link", dir);
  TRY("symlink", symlink("/", p));
  snprintf(p, sizeof p, "%s/fifo-via-link", dir);
  TRY("mkfifo", mkfifo(p, 0644));
  snprintf(p, sizeof p, "%s/victim", dir);
  TRY("chmod", chmod(p, 0777));
  TRY("truncate", truncate(p, 1));
  struct timespec ts[2] = {{0, 0}, {0, 0}};
  TRY("utimensat", utimensat(AT_FDCWD, p, ts, 0));
  TRY("setxattr", setxattr(p, "user.escape", "x", 1, 0));
  int fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd >= 0) {
    TRY("append", write(fd, "PWNED\n", 6));
    close(fd);
  } else TRY("open O_WRONLY", -1);
  snprintf(p, sizeof p, "%s/victim2", dir);
  snprintf(q, sizeof q, "%s/victim2.renamed", dir);
  TRY("rename", rename(p, q));
  snprintf(p, sizeof p, "%s/victim3", dir);
  snprintf(q, sizeof q, "%s/victim3.link", dir);
  TRY("link", link(p, q));
  snprintf(p, sizeof p, "%s/victim4", dir);
  TRY("unlink", unlink(p));
  snprintf(p, sizeof p, "%s/subdir", dir);
  TRY("rmdir", rmdir(p));
  (void)fails;
#undef TRY
}

static void cmd_symlinkops(void) {
  chk c;
  const char *hostonly = opt("hostonly"), *marker = opt("marker");
  begin(&c, "symlinkops-abs-dir");
  ops_through(&c, "/etc/esc-dir");
  end(&c);
  begin(&c, "symlinkops-rel-dir");
  ops_through(&c, "/etc/esc-rel-dir");
  end(&c);
  begin(&c, "symlinkops-file-links");
  if (!hostonly || !marker) error(&c, "needs hostonly=, marker=");
  else {
    int fd = open("/etc/esc-abs-hostonly", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      if (write(fd, "PWNED\n", 6) < 0) note(&c, "write hostonly: %s", en(errno));
      close(fd);
    } else note(&c, "create through /etc/esc-abs-hostonly: %s", en(errno));
    fd = open("/etc/esc-rel-marker", O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd >= 0) {
      if (write(fd, "PWNED\n", 6) < 0) note(&c, "write marker: %s", en(errno));
      close(fd);
    } else note(&c, "open /etc/esc-rel-marker for writing: %s", en(errno));
    if (truncate("/etc/esc-abs-marker", 0) < 0) note(&c, "truncate /etc/esc-abs-marker: %s", en(errno));
    if (chmod("/etc/esc-abs-marker", 0777) < 0) note(&c, "chmod /etc/esc-abs-marker: %s", en(errno));
    /* linkat with AT_SYMLINK_FOLLOW links the link's target. */
    if (linkat(AT_FDCWD, "/etc/esc-abs-marker", AT_FDCWD, "/tmp/esc-marker-hardlink", AT_SYMLINK_FOLLOW) < 0)
      note(&c, "linkat follow: %s", en(errno));
    /* Consistency: the sandbox's own view shows what was written through the links. */
    outc o = out_open(AT_FDCWD, hostonly, O_RDONLY);
    if (!o.err && !memmem(o.data, o.len, "PWNED", 5)) wrong(&c, "%s inside does not show the write made through /etc/esc-abs-hostonly", hostonly);
    out_free(&o);
  }
  end(&c);
}

/* A thread swaps a directory and an escaping symlink under one name while the
 * main thread opens a file through that name. */
static volatile int g_stop;
static void *swapper(void *arg) {
  (void)arg;
  long n = 0;
  while (!g_stop) {
    rename("/tmp/esc-race/d", "/tmp/esc-race/x");
    rename("/tmp/esc-race/x", "/tmp/esc-race/d");
    rename("/tmp/esc-race/l", "/tmp/esc-race/x");
    rename("/tmp/esc-race/x", "/tmp/esc-race/l");
    n++;
  }
  return (void *)n;
}

static void cmd_race(void) {
  chk c;
  begin(&c, "race-symlink-swap");
  const char *hostdir = opt("hostdir");
  if (!hostdir || !opt("hostf")) {
    error(&c, "needs hostdir=, hostf=");
    end(&c);
    return;
  }
  rm_rf("/tmp/esc-race");
  mkdir_p("/tmp/esc-race/d");
  put_file("/tmp/esc-race/d/f", "INSIDE-DIR\n");
  char tgt[PATH_MAX];
  snprintf(tgt, sizeof tgt, "../../../../../../../../../..%s", hostdir);
  unlink("/tmp/esc-race/l");
  if (symlink(tgt, "/tmp/esc-race/l") < 0) {
    error(&c, "symlink: %s", en(errno));
    end(&c);
    return;
  }
  char fpath[PATH_MAX];
  snprintf(fpath, sizeof fpath, "%s/f", hostdir);
  outc inroot = out_open(AT_FDCWD, fpath, O_RDONLY);
  pthread_t th;
  g_stop = 0;
  if (pthread_create(&th, NULL, swapper, NULL)) {
    error(&c, "pthread_create failed");
    end(&c);
    return;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long reads = 0, dir = 0, linked = 0, missing = 0, other = 0;
  int dirfd_x = -1;
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 > 1500) break;
    outc o = out_open(AT_FDCWD, "/tmp/esc-race/x/f", O_RDONLY);
    reads++;
    if (o.err) missing++;
    else if (trimmed_eq(o.data, o.len, "INSIDE-DIR")) dir++;
    else if (!inroot.err && o.len == inroot.len && !memcmp(o.data, inroot.data, o.len)) linked++;
    else {
      other++;
      host_tokens(&c, "open(/tmp/esc-race/x/f) during the swap", &o, &inroot);
      if (!c.esc) escaped(&c, "open(/tmp/esc-race/x/f) read [%s], neither the directory's nor the in-sandbox target's",
                          snip(o.data, o.len));
    }
    out_free(&o);
    /* Also through a directory fd taken while the name was a link. */
    if (dirfd_x < 0) dirfd_x = open("/tmp/esc-race/x", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd_x >= 0 && (reads & 15) == 0) {
      outc u = out_open(dirfd_x, "../../../../../../../etc/hostname", O_RDONLY);
      host_tokens(&c, "openat(fd taken during the swap, \"../../../../etc/hostname\")", &u, &g_hostname);
      out_free(&u);
    }
    if (other > 5) break;
  }
  g_stop = 1;
  void *swaps;
  pthread_join(th, &swaps);
  if (dirfd_x >= 0) close(dirfd_x);
  rename("/tmp/esc-race/x", "/tmp/esc-race/d");
  note(&c, "%ld opens, %ld swaps: %ld dir, %ld in-sandbox target, %ld ENOENT", reads, (long)swaps, dir, linked, missing);
  if (dir == 0 && linked == 0) wrong(&c, "no open through the swapped name succeeded (%ld tries)", reads);
  out_free(&inroot);
  end(&c);
}

/* ---------------------------------------------------------- (3) /proc/1/root */

static void expect_link(chk *c, const char *path, const char *want) {
  char got[PATH_MAX];
  ssize_t n = readlink(path, got, sizeof got - 1);
  if (n < 0) {
    wrong(c, "readlink(%s): %s", path, en(errno));
    return;
  }
  got[n] = 0;
  if (strcmp(got, want)) {
    const char *hr = opt("hostroot");
    if (hr && strstr(got, hr)) escaped(c, "readlink(%s) = %s shows the host path of the root", path, got);
    else wrong(c, "readlink(%s) = %s, expected %s", path, got, want);
  }
}

static void cmd_procroot(void) {
  chk c;
  const char *marker = opt("marker");
  begin(&c, "procroot-readlink");
  expect_link(&c, "/proc/1/root", "/");
  expect_link(&c, "/proc/self/root", "/");
  expect_link(&c, "/proc/thread-self/root", "/");
  end(&c);

  begin(&c, "procroot-open");
  is_root(&c, "open(/proc/1/root)", out_open(AT_FDCWD, "/proc/1/root", O_RDONLY | O_DIRECTORY));
  is_root(&c, "open(/proc/self/root)", out_open(AT_FDCWD, "/proc/self/root", O_RDONLY | O_DIRECTORY));
  same_as(&c, "open(/proc/1/root/etc/hostname)", out_open(AT_FDCWD, "/proc/1/root/etc/hostname", O_RDONLY),
          copy_out(&g_hostname));
  if (marker) {
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "/proc/1/root%s", marker);
    same_as_path(&c, "open(/proc/1/root<marker>)", out_open(AT_FDCWD, buf, O_RDONLY), marker);
  }
  end(&c);

  begin(&c, "procroot-dotdot");
  is_root(&c, "open(/proc/1/root/..)", out_open(AT_FDCWD, "/proc/1/root/..", O_RDONLY | O_DIRECTORY));
  is_root(&c, "open(/proc/1/root/../../..)", out_open(AT_FDCWD, "/proc/1/root/../../..", O_RDONLY | O_DIRECTORY));
  is_root(&c, "open(/proc/self/root/proc/self/root/..)",
          out_open(AT_FDCWD, "/proc/self/root/proc/self/root/..", O_RDONLY | O_DIRECTORY));
  same_as(&c, "open(/proc/1/root/proc/1/root/../etc/hostname)",
          out_open(AT_FDCWD, "/proc/1/root/proc/1/root/../etc/hostname", O_RDONLY), copy_out(&g_hostname));
  int rfd = open("/proc/1/root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rfd >= 0) {
    is_root(&c, "openat(fd of /proc/1/root, \"../..\")", out_open(rfd, "../..", O_RDONLY | O_DIRECTORY));
    same_as(&c, "openat(fd of /proc/1/root, \"../../etc/hostname\")", out_open(rfd, "../../etc/hostname", O_RDONLY),
            copy_out(&g_hostname));
    close(rfd);
  }
  end(&c);

  begin(&c, "procroot-cwd");
  if (chdir("/tmp") < 0) error(&c, "chdir /tmp: %s", en(errno));
  expect_link(&c, "/proc/self/cwd", "/tmp");
  is_root(&c, "open(/proc/self/cwd/../../..)", out_open(AT_FDCWD, "/proc/self/cwd/../../..", O_RDONLY | O_DIRECTORY));
  is_root(&c, "open(/proc/1/cwd/../../..)", out_open(AT_FDCWD, "/proc/1/cwd/../../..", O_RDONLY | O_DIRECTORY));
  if (chdir("/") < 0) error(&c, "chdir /: %s", en(errno));
  end(&c);

  begin(&c, "procroot-fd");
  int dfd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int ffd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
  if (dfd < 0 || ffd < 0) error(&c, "open /tmp or /etc/hostname: %s", en(errno));
  else {
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", dfd);
    expect_link(&c, p, "/tmp");
    snprintf(p, sizeof p, "/proc/self/fd/%d/../../..", dfd);
    is_root(&c, "open(/proc/self/fd/<fd of /tmp>/../../..)", out_open(AT_FDCWD, p, O_RDONLY | O_DIRECTORY));
    snprintf(p, sizeof p, "/proc/self/fd/%d", ffd);
    expect_link(&c, p, "/etc/hostname");
    same_as(&c, "open(/proc/self/fd/<fd of /etc/hostname>)", out_open(AT_FDCWD, p, O_RDONLY), copy_out(&g_hostname));
    close(dfd);
    close(ffd);
  }
  end(&c);

  begin(&c, "procroot-exe");
  if (g_argv0[0] != '/') error(&c, "run me by absolute path");
  else {
    expect_link(&c, "/proc/self/exe", g_argv0);
    same_as_path(&c, "open(/proc/self/exe)", out_open(AT_FDCWD, "/proc/self/exe", O_RDONLY), g_argv0);
  }
  end(&c);

  begin(&c, "procroot-task");
  char p[96];
  snprintf(p, sizeof p, "/proc/self/task/%ld/root/../..", (long)syscall(SYS_gettid));
  is_root(&c, "open(/proc/self/task/<tid>/root/../..)", out_open(AT_FDCWD, p, O_RDONLY | O_DIRECTORY));
  is_root(&c, "open(/proc/thread-self/root/..)", out_open(AT_FDCWD, "/proc/thread-self/root/..", O_RDONLY | O_DIRECTORY));
  end(&c);
}

/* --------------------------------------------------------- (4) guessed dirfds */

struct ownfd {
  int fd;
  const char *path;   /* inside path of the directory, NULL for a non-directory */
  const char *parent; /* inside path of its parent */
  const char *shadow; /* what "../../etc/shadow" from it is */
};

static void cmd_dirfds(void) {
  chk c;
  begin(&c, "dirfds-inherited");
  for (int fd = 3; fd < 1024; fd++) {
    if (fcntl(fd, F_GETFD) >= 0) {
      char p[64], t[PATH_MAX];
      snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
      ssize_t n = readlink(p, t, sizeof t - 1);
      t[n < 0 ? 0 : n] = 0;
      wrong(&c, "fd %d is open at start-up (-> %s): tsvisor leaked it into the guest", fd, t);
    }
  }
  end(&c);

  mkdir_p("/tmp/esc-df/a/b");
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0) pfd[0] = pfd[1] = -1;
  struct ownfd own[] = {
      {open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), "/", "/", "/etc/shadow"},
      {open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC), "/tmp", "/", "/etc/shadow"},
      {open("/etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC), "/etc", "/", "/etc/shadow"},
      {open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC), "/proc", "/", "/etc/shadow"},
      {open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC), "/dev", "/", "/etc/shadow"},
      {open("/tmp/esc-df/a/b", O_RDONLY | O_DIRECTORY | O_CLOEXEC), "/tmp/esc-df/a/b", "/tmp/esc-df/a", "/tmp/esc-df/etc/shadow"},
      {open("/etc", O_PATH | O_DIRECTORY | O_CLOEXEC), "/etc", "/", "/etc/shadow"},
      {open("/etc/hostname", O_RDONLY | O_CLOEXEC), NULL, NULL, NULL},
      {open("/dev/null", O_RDONLY | O_CLOEXEC), NULL, NULL, NULL},
      {pfd[0], NULL, NULL, NULL},
      {pfd[1], NULL, NULL, NULL},
      {-1, "/", "/", "/etc/shadow"}, /* a high number: fd 1000 */
  };
  const int nown = (int)(sizeof own / sizeof *own);
  {
    int t = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    own[nown - 1].fd = t < 0 ? -1 : dup3(t, 1000, O_CLOEXEC);
    if (t >= 0) close(t);
  }
  for (int i = 0; i < nown; i++)
    if (own[i].fd < 0) error(&c, "could not open own fd %d (%s)", i, own[i].path ? own[i].path : "file");

  const char *tries[] = {"..", "../../etc/shadow", "../../../../../../etc/hostname"};
  const char *names[] = {"dirfds-dotdot", "dirfds-shadow", "dirfds-hostname"};
  for (int k = 0; k < 3; k++) {
    begin(&c, names[k]);
    int flags = k == 0 ? O_RDONLY | O_DIRECTORY : O_RDONLY;
    int bad = 0;
    int extra[] = {1024, 4095, 65535, INT_MAX, -1, -2, -101};
    for (int j = 0; j < 1024 + (int)(sizeof extra / sizeof *extra); j++) {
      int fd = j < 1024 ? j : extra[j - 1024];
      if (bad > 12) break;
      struct ownfd *o = NULL;
      for (int i = 0; i < nown; i++)
        if (own[i].fd == fd) o = &own[i];
      errno = 0;
      int r = openat(fd, tries[k], flags | O_CLOEXEC);
      int e = errno;
      if (o && o->path) {
        const char *want = k == 0 ? o->parent : k == 1 ? o->shadow : "/etc/hostname";
        char what[160];
        snprintf(what, sizeof what, "openat(fd %d of %s, \"%s\")", fd, o->path, tries[k]);
        chk sub;
        begin(&sub, "");
        same_as(&sub, what, out_fd(r, e), out_open(AT_FDCWD, want, flags));
        if (sub.esc) escaped(&c, "%s", sub.det);
        else if (sub.wrong) wrong(&c, "%s", sub.det);
        if (sub.esc || sub.wrong) bad++;
        continue;
      }
      int want = (o || (fd >= 0 && fd <= 2)) ? ENOTDIR : EBADF;
      if (r >= 0) {
        outc got = out_fd(r, 0);
        escaped(&c, "openat(%d, \"%s\") on a %s fd opened %s", fd, tries[k], o ? "non-directory" : "guessed", describe(&got));
        out_free(&got);
        bad++;
      } else if (fd >= 0 && fd <= 2 && e != ENOTDIR && e != EBADF) {
        wrong(&c, "openat(%d, \"%s\"): %s, expected ENOTDIR", fd, tries[k], en(e));
        bad++;
      } else if (fd > 2 && e != want) {
        wrong(&c, "openat(%d, \"%s\"): %s, expected %s", fd, tries[k], en(e), en(want));
        bad++;
      }
    }
    end(&c);
  }
  for (int i = 0; i < nown; i++)
    if (own[i].fd >= 0) close(own[i].fd);

  begin(&c, "dirfds-moved-dir");
  /* A directory fd whose directory is moved elsewhere: ".." follows the move
   * (as on Linux) and still stops at the sandbox root. */
  rm_rf("/tmp/esc-mv");
  rm_rf("/tmp/esc-mv-b");
  mkdir_p("/tmp/esc-mv/a/b/c");
  int mfd = open("/tmp/esc-mv/a/b/c", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (mfd < 0) error(&c, "open /tmp/esc-mv/a/b/c: %s", en(errno));
  else if (rename("/tmp/esc-mv/a/b", "/tmp/esc-mv-b") < 0) error(&c, "rename: %s", en(errno));
  else {
    same_as(&c, "openat(fd of moved dir, \"..\")", out_open(mfd, "..", O_RDONLY | O_DIRECTORY),
            out_open(AT_FDCWD, "/tmp/esc-mv-b", O_RDONLY | O_DIRECTORY));
    char *p = ups(12, "");
    is_root(&c, "openat(fd of moved dir, 12 x \"../\")", out_open(mfd, p, O_RDONLY | O_DIRECTORY));
    free(p);
    p = ups(12, "etc/hostname");
    same_as(&c, "openat(fd of moved dir, 12 x \"../\" + \"etc/hostname\")", out_open(mfd, p, O_RDONLY), copy_out(&g_hostname));
    free(p);
    if (fchdir(mfd) == 0 && chdir("../../../../../..") == 0)
      is_root(&c, "open(\".\") after fchdir(moved dir) and climbing", out_open(AT_FDCWD, ".", O_RDONLY | O_DIRECTORY));
    else wrong(&c, "fchdir/chdir from the moved dir: %s", en(errno));
    if (chdir("/") < 0) error(&c, "chdir /");
  }
  if (mfd >= 0) close(mfd);
  end(&c);
}

/* ------------------------------------------------------ (5) privileged calls */

static int g_sink;

static void child_exit_now(void) { syscall(SYS_exit_group, 0); }

/* clone() that must fail: if it creates a child, the child exits at once. */
static long try_clone(unsigned long flags) {
  fflush(stdout);
  long r = syscall(SYS_clone, flags, 0, NULL, NULL, 0);
  if (r == 0) child_exit_now();
  if (r > 0) waitpid((pid_t)r, NULL, __WALL);
  return r;
}

static long try_clone3(unsigned long flags) {
  struct clone_args ca;
  memset(&ca, 0, sizeof ca);
  ca.flags = flags;
  ca.exit_signal = SIGCHLD;
  fflush(stdout);
  long r = syscall(SYS_clone3, &ca, sizeof ca);
  if (r == 0) child_exit_now();
  if (r > 0) waitpid((pid_t)r, NULL, __WALL);
  return r;
}

static pid_t spawn_sleeper(void) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    for (;;) pause();
  }
  return p;
}

static void reap(pid_t p) {
  if (p > 0) {
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
  }
}

static void cmd_privileged(void) {
  chk c;

  begin(&c, "mount");
  mkdir_p("/tmp/esc-mnt");
  EXPECT_FAIL(&c, "mount(tmpfs on /tmp/esc-mnt)", mount("none", "/tmp/esc-mnt", "tmpfs", 0, NULL), EPERM);
  EXPECT_FAIL(&c, "mount(\"/\", /tmp/esc-mnt, MS_BIND)", mount("/", "/tmp/esc-mnt", NULL, MS_BIND, NULL), EPERM);
  EXPECT_FAIL(&c, "mount(proc on /tmp/esc-mnt)", mount("proc", "/tmp/esc-mnt", "proc", 0, NULL), EPERM);
  EXPECT_FAIL(&c, "mount(MS_REMOUNT of / read-write)", mount(NULL, "/", NULL, MS_REMOUNT, NULL), EPERM);
  EXPECT_FAIL(&c, "fsopen(tmpfs)", syscall(SYS_fsopen, "tmpfs", 0), EPERM);
  EXPECT_FAIL(&c, "open_tree(/, OPEN_TREE_CLONE)", syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE), EPERM);
  EXPECT_FAIL(&c, "fspick(/)", syscall(SYS_fspick, AT_FDCWD, "/", 0), EPERM);
  EXPECT_FAIL(&c, "move_mount", syscall(SYS_move_mount, AT_FDCWD, "/proc", AT_FDCWD, "/tmp/esc-mnt", 0), EPERM);
  EXPECT_FAIL(&c, "mount_setattr", syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, NULL, 0), EPERM, EINVAL);
  {
    int fd = open("/tmp/esc-mnt", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      size_t n;
      int e;
      char *l = list_fd(fd, &n, &e);
      if (n) escaped(&c, "/tmp/esc-mnt is not empty after the mount attempts: [%s]", snip(l, n));
      free(l);
      close(fd);
    }
  }
  end(&c);

  begin(&c, "umount2");
  EXPECT_FAIL(&c, "umount2(/proc, MNT_DETACH)", umount2("/proc", MNT_DETACH), EPERM);
  EXPECT_FAIL(&c, "umount2(/, MNT_DETACH)", umount2("/", MNT_DETACH), EPERM);
  EXPECT_FAIL(&c, "umount2(/dev, 0)", umount2("/dev", 0), EPERM);
  {
    struct stat st;
    if (stat("/proc/self", &st) < 0) escaped(&c, "/proc/self is gone after umount2: %s", en(errno));
  }
  end(&c);

  begin(&c, "pivot_root");
  mkdir_p("/tmp/esc-pr/old");
  EXPECT_FAIL(&c, "pivot_root(/tmp/esc-pr, /tmp/esc-pr/old)", syscall(SYS_pivot_root, "/tmp/esc-pr", "/tmp/esc-pr/old"), EPERM);
  EXPECT_FAIL(&c, "pivot_root(., .)", syscall(SYS_pivot_root, ".", "."), EPERM);
  end(&c);

  begin(&c, "unshare");
  struct {
    unsigned long f;
    const char *n;
  } ns[] = {{CLONE_NEWUSER, "CLONE_NEWUSER"},     {CLONE_NEWNS, "CLONE_NEWNS"},   {CLONE_NEWPID, "CLONE_NEWPID"},
            {CLONE_NEWNET, "CLONE_NEWNET"},       {CLONE_NEWUTS, "CLONE_NEWUTS"}, {CLONE_NEWIPC, "CLONE_NEWIPC"},
            {CLONE_NEWCGROUP, "CLONE_NEWCGROUP"}, {CLONE_NEWTIME, "CLONE_NEWTIME"}};
  for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
    char w[64];
    snprintf(w, sizeof w, "unshare(%s)", ns[i].n);
    EXPECT_FAIL(&c, w, unshare((int)ns[i].f), EPERM);
  }
  EXPECT_FAIL(&c, "unshare(CLONE_NEWUSER|CLONE_NEWNS)", unshare(CLONE_NEWUSER | CLONE_NEWNS), EPERM);
  end(&c);

  begin(&c, "setns");
  {
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (pidfd < 0) note(&c, "pidfd_open(self): %s", en(errno));
    else {
      EXPECT_FAIL(&c, "setns(pidfd of self, CLONE_NEWNS)", syscall(SYS_setns, pidfd, CLONE_NEWNS), EPERM);
      EXPECT_FAIL(&c, "setns(pidfd of self, CLONE_NEWUSER|CLONE_NEWNS)", syscall(SYS_setns, pidfd, CLONE_NEWUSER | CLONE_NEWNS),
                  EPERM);
      close(pidfd);
    }
    EXPECT_FAIL(&c, "setns(-1, 0)", syscall(SYS_setns, -1, 0), EPERM, EBADF);
    const char *nsf[] = {"/proc/self/ns/mnt", "/proc/self/ns/user", "/proc/1/ns/net"};
    for (int i = 0; i < 3; i++) {
      int fd = open(nsf[i], O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      char w[96];
      snprintf(w, sizeof w, "setns(open(%s), 0)", nsf[i]);
      EXPECT_FAIL(&c, w, syscall(SYS_setns, fd, 0), EPERM, EINVAL);
      close(fd);
    }
  }
  end(&c);

  begin(&c, "clone-namespaces");
  for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
    if (ns[i].f == CLONE_NEWTIME) continue; /* clone() cannot express it (CSIGNAL bits) */
    char w[96];
    snprintf(w, sizeof w, "clone(%s|SIGCHLD)", ns[i].n);
    EXPECT_FAIL(&c, w, try_clone(ns[i].f | SIGCHLD), EPERM);
  }
  /* The kernel only looks at the low 32 bits of clone's flags. */
  EXPECT_FAIL(&c, "clone(1<<32|CLONE_NEWUSER|SIGCHLD)", try_clone((1UL << 32) | CLONE_NEWUSER | SIGCHLD), EPERM);
  EXPECT_FAIL(&c, "clone(1<<63|CLONE_NEWNS|SIGCHLD)", try_clone((1UL << 63) | CLONE_NEWNS | SIGCHLD), EPERM);
  EXPECT_FAIL(&c, "clone(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID|SIGCHLD)",
              try_clone(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | SIGCHLD), EPERM);
  /* clone3 passes flags in memory, which seccomp cannot read: it must be refused whole. */
  EXPECT_FAIL(&c, "clone3(CLONE_NEWUSER)", try_clone3(CLONE_NEWUSER), ENOSYS, EPERM);
  EXPECT_FAIL(&c, "clone3(CLONE_NEWNS)", try_clone3(CLONE_NEWNS), ENOSYS, EPERM);
  EXPECT_FAIL(&c, "clone3(CLONE_NEWTIME)", try_clone3(CLONE_NEWTIME), ENOSYS, EPERM);
  end(&c);

  begin(&c, "ptrace");
  EXPECT_FAIL(&c, "ptrace(PTRACE_TRACEME)", syscall(SYS_ptrace, 0 /*TRACEME*/, 0, 0, 0), EPERM);
  EXPECT_FAIL(&c, "ptrace(PTRACE_ATTACH, 1)", syscall(SYS_ptrace, 16 /*ATTACH*/, 1, 0, 0), EPERM);
  EXPECT_FAIL(&c, "ptrace(PTRACE_SEIZE, 1)", syscall(SYS_ptrace, 0x4206 /*SEIZE*/, 1, 0, 0), EPERM);
  EXPECT_FAIL(&c, "ptrace(PTRACE_PEEKDATA, 1)", syscall(SYS_ptrace, 2 /*PEEKDATA*/, 1, &g_sink, 0), EPERM, ESRCH);
  {
    pid_t ch = spawn_sleeper();
    EXPECT_FAIL(&c, "ptrace(PTRACE_ATTACH, own child)", syscall(SYS_ptrace, 16, ch, 0, 0), EPERM);
    EXPECT_FAIL(&c, "ptrace(PTRACE_SEIZE, own child)", syscall(SYS_ptrace, 0x4206, ch, 0, 0), EPERM);
    reap(ch);
  }
  end(&c);

  begin(&c, "bpf");
  {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = 4;
    a.max_entries = 1;
    EXPECT_FAIL(&c, "bpf(BPF_MAP_CREATE)", syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a), EPERM);
    struct bpf_insn prog[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
        {.code = BPF_JMP | BPF_EXIT},
    };
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    a.insns = (uint64_t)(uintptr_t)prog;
    a.insn_cnt = 2;
    a.license = (uint64_t)(uintptr_t) "GPL";
    EXPECT_FAIL(&c, "bpf(BPF_PROG_LOAD)", syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a), EPERM);
    memset(&a, 0, sizeof a);
    EXPECT_FAIL(&c, "bpf(BPF_BTF_GET_FD_BY_ID)", syscall(SYS_bpf, BPF_BTF_GET_FD_BY_ID, &a, sizeof a), EPERM);
  }
  end(&c);

  begin(&c, "keyctl");
  EXPECT_FAIL(&c, "keyctl(KEYCTL_GET_KEYRING_ID, session)",
              syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0), EPERM);
  EXPECT_FAIL(&c, "keyctl(KEYCTL_JOIN_SESSION_KEYRING)", syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL), EPERM);
  EXPECT_FAIL(&c, "add_key(user)", syscall(SYS_add_key, "user", "tsvisor-escape", "x", 1, KEY_SPEC_PROCESS_KEYRING), EPERM);
  EXPECT_FAIL(&c, "request_key(user)", syscall(SYS_request_key, "user", "tsvisor-escape", NULL, 0), EPERM);
  end(&c);

  begin(&c, "kexec_load");
  EXPECT_FAIL(&c, "kexec_load(0, 0, NULL, 0)", syscall(SYS_kexec_load, 0, 0, NULL, 0), EPERM);
  EXPECT_FAIL(&c, "kexec_file_load(-1, -1, ...)", syscall(SYS_kexec_file_load, -1, -1, 0, NULL, KEXEC_FILE_NO_INITRAMFS), EPERM);
  end(&c);

  begin(&c, "init_module");
  {
    static char junk[64];
    EXPECT_FAIL(&c, "init_module(junk)", syscall(SYS_init_module, junk, sizeof junk, ""), EPERM);
    int fd = open(g_argv0, O_RDONLY | O_CLOEXEC);
    EXPECT_FAIL(&c, "finit_module(fd of this program)", syscall(SYS_finit_module, fd, "", 0), EPERM);
    if (fd >= 0) close(fd);
    EXPECT_FAIL(&c, "delete_module(nonexistent)", syscall(SYS_delete_module, "tsvisor_escape_none", O_NONBLOCK), EPERM);
  }
  end(&c);

  begin(&c, "perf_event_open");
  {
    struct perf_event_attr pa;
    memset(&pa, 0, sizeof pa);
    pa.type = PERF_TYPE_SOFTWARE;
    pa.size = sizeof pa;
    pa.config = PERF_COUNT_SW_CPU_CLOCK;
    pa.exclude_kernel = 1;
    pa.exclude_hv = 1;
    long r = syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0);
    int e = errno;
    if (r >= 0) close((int)r);
    static const int al[] = {EPERM, 0};
    expect_fail(&c, "perf_event_open(sw cpu-clock, self)", r, e, al);
    memset(&pa, 0, sizeof pa);
    pa.type = PERF_TYPE_HARDWARE;
    pa.size = sizeof pa;
    pa.config = PERF_COUNT_HW_CPU_CYCLES;
    r = syscall(SYS_perf_event_open, &pa, -1, 0, -1, 0);
    e = errno;
    if (r >= 0) close((int)r);
    expect_fail(&c, "perf_event_open(hw cycles, all processes on cpu 0)", r, e, al);
  }
  end(&c);

  begin(&c, "iopl");
  EXPECT_FAIL(&c, "iopl(3)", syscall(SYS_iopl, 3), EPERM);
  EXPECT_FAIL(&c, "ioperm(0x80, 1, 1)", syscall(SYS_ioperm, 0x80, 1, 1), EPERM);
  end(&c);

  begin(&c, "open_by_handle_at");
  {
    struct {
      unsigned int bytes;
      int type;
      unsigned char h[8];
    } fh = {8, 1 /* FILEID_INO32_GEN */, {2, 0, 0, 0, 0, 0, 0, 0}};
    int rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    long r = syscall(SYS_open_by_handle_at, rootfd, &fh, O_RDONLY);
    int e = errno;
    if (r >= 0) {
      outc o = out_fd((int)r, 0);
      escaped(&c, "open_by_handle_at(root fd, inode 2) opened %s", describe(&o));
      out_free(&o);
    } else if (e != EPERM) wrong(&c, "open_by_handle_at: %s, expected EPERM", en(e));
    struct {
      unsigned int bytes;
      int type;
      unsigned char h[128];
    } got;
    got.bytes = 128;
    int mnt;
    EXPECT_FAIL(&c, "name_to_handle_at(/etc/hostname)", syscall(SYS_name_to_handle_at, AT_FDCWD, "/etc/hostname", &got, &mnt, 0),
                EPERM, EOPNOTSUPP);
    if (rootfd >= 0) close(rootfd);
  }
  end(&c);

  begin(&c, "io_uring");
  {
    struct io_uring_params par;
    memset(&par, 0, sizeof par);
    long r = syscall(SYS_io_uring_setup, 4, &par);
    int e = errno;
    if (r >= 0) close((int)r);
    static const int al[] = {ENOSYS, EPERM, 0};
    expect_fail(&c, "io_uring_setup (ring ops would bypass the filter)", r, e, al);
  }
  end(&c);

  begin(&c, "userfaultfd");
  EXPECT_FAIL(&c, "userfaultfd(O_CLOEXEC)", syscall(SYS_userfaultfd, O_CLOEXEC), EPERM, ENOSYS);
  end(&c);

  begin(&c, "fanotify");
  EXPECT_FAIL(&c, "fanotify_init(FAN_CLASS_NOTIF)", syscall(SYS_fanotify_init, 0, O_RDONLY), EPERM);
  end(&c);

  begin(&c, "seccomp-listener");
  {
    /* A second listener would receive the guest's trapped calls before the
     * Sentry (the newest filter wins ties); Linux refuses it with EBUSY. */
    struct sock_filter f[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {1, f};
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    int e = errno;
    if (r >= 0) close((int)r);
    static const int al[] = {EBUSY, EPERM, 0};
    expect_fail(&c, "seccomp(SET_MODE_FILTER, NEW_LISTENER)", r, e, al);
  }
  end(&c);

  begin(&c, "reboot");
  /* A wrong second magic: harmless even if the capability check passed (EINVAL). */
  EXPECT_FAIL(&c, "reboot(bad magic2, CAD_OFF)", syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0, LINUX_REBOOT_CMD_CAD_OFF, NULL), EPERM);
  end(&c);

  begin(&c, "clock-set");
  {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    EXPECT_FAIL(&c, "clock_settime(CLOCK_REALTIME, now)", clock_settime(CLOCK_REALTIME, &now), EPERM);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    EXPECT_FAIL(&c, "settimeofday(now)", settimeofday(&tv, NULL), EPERM);
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    tx.modes = ADJ_OFFSET_SINGLESHOT;
    tx.offset = 0;
    EXPECT_FAIL(&c, "adjtimex(ADJ_OFFSET_SINGLESHOT, 0)", adjtimex(&tx), EPERM);
  }
  end(&c);

  begin(&c, "syslog");
  {
    static char kbuf[4096];
    EXPECT_FAIL(&c, "syslog(SYSLOG_ACTION_READ_ALL)", syscall(SYS_syslog, 3, kbuf, sizeof kbuf), EPERM);
    EXPECT_FAIL(&c, "syslog(SYSLOG_ACTION_SIZE_BUFFER)", syscall(SYS_syslog, 10, NULL, 0), EPERM);
  }
  end(&c);

  begin(&c, "misc-admin");
  EXPECT_FAIL(&c, "acct(NULL)", acct(NULL), EPERM);
  EXPECT_FAIL(&c, "swapon(/etc/hostname)", syscall(SYS_swapon, "/etc/hostname", 0), EPERM);
  EXPECT_FAIL(&c, "swapoff(/etc/hostname)", syscall(SYS_swapoff, "/etc/hostname"), EPERM);
  EXPECT_FAIL(&c, "vhangup()", syscall(SYS_vhangup), EPERM);
  EXPECT_FAIL(&c, "prctl(PR_SET_MM, PR_SET_MM_START_BRK)", prctl(PR_SET_MM, PR_SET_MM_START_BRK, 0, 0, 0), EPERM);
  end(&c);

  begin(&c, "sethostname-local");
  /* May succeed (the sandbox's own UTS namespace); the test checks the host's
   * hostname did not change. */
  if (sethostname("tsvisor-escaped", 15) < 0) note(&c, "sethostname: %s", en(errno));
  if (setdomainname("tsvisor-escaped", 15) < 0) note(&c, "setdomainname: %s", en(errno));
  end(&c);
}

/* ------------------------------------------------------------ (5) chroot */

static void chroot_child(int which) {
  chk c;
  int rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  mkdir_p("/tmp/esc-jail/sub/inner");
  put_file("/tmp/esc-jail/sub/insidejail", "JAIL\n");
  if (which == 0) {
    begin(&c, "chroot-cwd-outside");
    /* chroot("sub") keeps the cwd (/tmp/esc-jail) outside the new root:
     * Linux lets ".." climb from there, but only up to the sandbox's root. */
    if (chdir("/tmp/esc-jail") < 0) error(&c, "chdir: %s", en(errno));
    else if (chroot("sub") < 0) {
      if (errno != EPERM) wrong(&c, "chroot(\"sub\"): %s", en(errno));
      else note(&c, "chroot refused with EPERM");
    } else {
      if (chdir("../../../../../../..") < 0) wrong(&c, "chdir(\"../../../../../..\"): %s", en(errno));
      is_root(&c, "open(\".\") after chroot(\"sub\") and chdir(\"../../../../../../..\")",
              out_open(AT_FDCWD, ".", O_RDONLY | O_DIRECTORY));
      same_as(&c, "open(\"etc/hostname\") from there", out_open(AT_FDCWD, "etc/hostname", O_RDONLY), copy_out(&g_hostname));
      if (chroot(".") < 0) wrong(&c, "chroot(\".\") back: %s", en(errno));
      else {
        is_root(&c, "open(\"/\") after chroot(\".\")", out_open(AT_FDCWD, "/", O_RDONLY | O_DIRECTORY));
        is_root(&c, "open(\"/../../..\") after chroot(\".\")", out_open(AT_FDCWD, "/../../..", O_RDONLY | O_DIRECTORY));
      }
    }
    end(&c);
  } else if (which == 1) {
    begin(&c, "chroot-fchdir");
    /* The classic: keep a directory fd from outside, chroot, fchdir out and climb. */
    if (rootfd < 0) error(&c, "open /: %s", en(errno));
    else if (chroot("/tmp/esc-jail/sub") < 0) {
      if (errno != EPERM) wrong(&c, "chroot: %s", en(errno));
      else note(&c, "chroot refused with EPERM");
    } else {
      if (fchdir(rootfd) < 0) wrong(&c, "fchdir(fd of old root): %s", en(errno));
      for (int i = 0; i < 20; i++) chdir("..");
      is_root(&c, "open(\".\") after fchdir to the old root and 20 x chdir(\"..\")", out_open(AT_FDCWD, ".", O_RDONLY | O_DIRECTORY));
      if (chroot(".") < 0) wrong(&c, "chroot(\".\"): %s", en(errno));
      else is_root(&c, "open(\"/..\") after chroot(\".\")", out_open(AT_FDCWD, "/..", O_RDONLY | O_DIRECTORY));
      is_root(&c, "openat(old root fd, \"../../..\")", out_open(rootfd, "../../..", O_RDONLY | O_DIRECTORY));
    }
    end(&c);
  } else {
    begin(&c, "chroot-confines");
    /* Inside a chroot, "/.." is the chroot and absolute paths stay in it. */
    if (chroot("/tmp/esc-jail/sub") < 0) {
      if (errno != EPERM) wrong(&c, "chroot: %s", en(errno));
      else note(&c, "chroot refused with EPERM");
    } else {
      if (chdir("/") < 0) wrong(&c, "chdir(/): %s", en(errno));
      outc top = out_open(AT_FDCWD, "/", O_RDONLY | O_DIRECTORY);
      outc up = out_open(AT_FDCWD, "/../../..", O_RDONLY | O_DIRECTORY);
      if (top.err || !memmem(top.data, top.len, "insidejail", 10))
        wrong(&c, "open(\"/\") in the chroot shows %s, expected the jail", describe(&top));
      same_as(&c, "open(\"/../../..\") in the chroot", up, top);
      outc hn = out_open(AT_FDCWD, "/etc/hostname", O_RDONLY);
      if (!hn.err) escaped(&c, "open(\"/etc/hostname\") inside the chroot found %s", describe(&hn));
      else if (hn.err != ENOENT) wrong(&c, "open(/etc/hostname) inside the chroot: %s, expected ENOENT", en(hn.err));
      out_free(&hn);
      char cwd[PATH_MAX];
      if (chdir("inner/../../..") < 0 || !getcwd(cwd, sizeof cwd)) wrong(&c, "chdir/getcwd in the chroot: %s", en(errno));
      else if (strcmp(cwd, "/")) escaped(&c, "getcwd in the chroot after chdir(inner/../../..) = %s", cwd);
    }
    end(&c);
  }
  fflush(stdout);
  _exit(0);
}

static void cmd_chroot(void) {
  for (int which = 0; which < 3; which++) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) chroot_child(which);
    int st;
    waitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) {
      chk c;
      begin(&c, which == 0 ? "chroot-cwd-outside" : which == 1 ? "chroot-fchdir" : "chroot-confines");
      error(&c, "child died (status %#x)", st);
      end(&c);
    }
  }
}

/* --------------------------------------------------- (6) (7) int 0x80, x32 */

/* Runs system call nr in a child, through int $0x80 (mode 0) or syscall
 * with the x32 bit (mode 1). Returns the child's wait status; *out holds
 * what the call returned when the child got that far. */
static int call_in_child(long nr, int mode, char *out, size_t outlen, int *err) {
  int pfd[2];
  *err = 0;
  if (pipe(pfd) < 0) {
    *err = errno;
    return 0;
  }
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    close(pfd[0]);
    long r;
    if (mode == 0) {
      __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr) : "memory", "r8", "r9", "r10", "r11");
    } else {
      r = syscall(nr);
      if (r < 0) r = -errno;
    }
    char b[64];
    int n = snprintf(b, sizeof b, "%ld", r);
    if (write(pfd[1], b, (size_t)n) < 0) _exit(3);
    _exit(0);
  }
  close(pfd[1]);
  int st = 0;
  waitpid(p, &st, 0);
  memset(out, 0, outlen);
  ssize_t n = read(pfd[0], out, outlen - 1);
  if (n <= 0) strcpy(out, "?");
  close(pfd[0]);
  return st;
}

/* The call must never run: the filter's arch check kills the child with
 * SIGSYS. Where the host kernel itself never delivers int $0x80 as a system
 * call (some virtualised kernels fault it with SIGSEGV), the test passes
 * native-signal=N, the signal it saw natively, and that outcome is accepted
 * too: the 32-bit entry does not exist, so nothing reaches any kernel. */
static void killed_by_sigsys(const char *name, long nr, int mode) {
  chk c;
  begin(&c, name);
  const char *ns = opt("native-signal");
  int native_sig = ns ? atoi(ns) : 0;
  char b[64];
  int err;
  int st = call_in_child(nr, mode, b, sizeof b, &err);
  if (err) {
    error(&c, "pipe: %s", en(err));
  } else if (WIFSIGNALED(st) && (WTERMSIG(st) == SIGSYS || (native_sig && WTERMSIG(st) == native_sig))) {
    /* the expected outcome */
  } else if (WIFSIGNALED(st)) {
    wrong(&c, "the child died by signal %d (%s), expected SIGSYS from the filter's arch check", WTERMSIG(st),
          strsignal(WTERMSIG(st)));
  } else {
    escaped(&c, "the call returned %s in the child (exit status %d) instead of the filter killing it", b,
            WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  }
  end(&c);
}

/* Run natively, outside any sandbox: how this kernel treats int $0x80 getpid.
 * Prints "int80 returns N" or "int80 signal N". */
static int cmd_int80probe(void) {
  char b[64];
  int err;
  int st = call_in_child(20, 0, b, sizeof b, &err);
  if (err) return 1;
  if (WIFSIGNALED(st)) printf("int80 signal %d\n", WTERMSIG(st));
  else printf("int80 returns %s\n", b);
  return 0;
}

static void cmd_int80(void) {
  killed_by_sigsys("int80-getpid", 20, 0);   /* i386 getpid */
  killed_by_sigsys("int80-ptrace", 26, 0);   /* i386 ptrace(0...) = TRACEME */
  killed_by_sigsys("int80-unshare", 310, 0); /* i386 unshare(ebx=?) */
}

static void cmd_x32(void) {
  killed_by_sigsys("x32-getpid", X32_SYSCALL_BIT | 39, 1);
  killed_by_sigsys("x32-mount", X32_SYSCALL_BIT | 165, 1);
  killed_by_sigsys("x32-rt_sigaction-512", X32_SYSCALL_BIT | 512, 1);
  killed_by_sigsys("x32-unshare", X32_SYSCALL_BIT | 272, 1);
}

/* ------------------------------------------------------------- (8) signals */

static volatile sig_atomic_t g_got_winch;
static void on_winch(int s) {
  (void)s;
  g_got_winch++;
}

struct hostpid {
  char label[32];
  long pid;
};

static int parse_hostpids(struct hostpid *hp, int max) {
  const char *v = opt("hostpids");
  if (!v) return 0;
  static char line[4096];
  if (!strcmp(v, "stdin")) {
    size_t n = 0;
    while (n < sizeof line - 1) {
      ssize_t r = read(0, line + n, 1);
      if (r <= 0 || line[n] == '\n') break;
      n++;
    }
    line[n] = 0;
  } else snprintf(line, sizeof line, "%s", v);
  int k = 0;
  char *save = NULL;
  for (char *t = strtok_r(line, " ,", &save); t && k < max; t = strtok_r(NULL, " ,", &save)) {
    char *colon = strchr(t, ':');
    if (!colon) continue;
    *colon = 0;
    snprintf(hp[k].label, sizeof hp[k].label, "%s", t);
    hp[k].pid = strtol(colon + 1, NULL, 10);
    if (hp[k].pid > 0) k++;
  }
  return k;
}

static int proc_pids(long *out, int max) {
  int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n;
  int e;
  char *l = list_fd(fd, &n, &e);
  close(fd);
  int k = 0;
  for (char *s = l; *s && k < max;) {
    char *nl = strchr(s, '\n');
    if (nl) *nl = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end) out[k++] = v;
    s = nl ? nl + 1 : s + strlen(s);
  }
  free(l);
  return k;
}

static void cmd_signals(void) {
  chk c;
  struct hostpid hp[32];
  int nhp = parse_hostpids(hp, 32);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_winch;
  sigaction(SIGWINCH, &sa, NULL);

  begin(&c, "signals-pid-namespace");
  if (getpid() > 1000) wrong(&c, "getpid() = %d: not a sandbox pid number", getpid());
  if (getppid() != 0 && getpid() == 1) wrong(&c, "pid 1's getppid() = %d, expected 0", getppid());
  if (kill(1, 0) < 0) wrong(&c, "kill(1, 0): %s (the sandbox's pid 1 must exist)", en(errno));
  {
    int fd = open("/proc/1/cmdline", O_RDONLY | O_CLOEXEC);
    outc o = out_fd(fd, errno);
    if (o.err) wrong(&c, "read /proc/1/cmdline: %s", en(o.err));
    else {
      for (size_t i = 0; i < o.len; i++)
        if (!o.data[i]) o.data[i] = ' ';
      const char *hi = opt("hostinit");
      if (hi && *hi && trimmed_eq(o.data, o.len, hi)) escaped(&c, "/proc/1/cmdline is the host's init: [%s]", snip(o.data, o.len));
      if (getpid() == 1 && !memmem(o.data, o.len, g_argv0, strlen(g_argv0)))
        wrong(&c, "/proc/1/cmdline [%s] is not this program (pid 1)", snip(o.data, o.len));
    }
    out_free(&o);
  }
  end(&c);

  begin(&c, "signals-pgrp-inside");
  /* A process group or session whose leader is outside the pid namespace
   * (getpgrp() = 0) means kill(0, sig) and job control reach host processes. */
  if (getpgrp() == 0) escaped(&c, "getpgrp() = 0: the guest's process group is a host process group");
  if (getsid(0) == 0) escaped(&c, "getsid(0) = 0: the guest's session is a host session");
  end(&c);

  begin(&c, "signals-kill-minus1");
  {
    int pfd[2];
    if (pipe(pfd) < 0) error(&c, "pipe");
    fflush(stdout);
    pid_t ch = fork();
    if (ch == 0) {
      close(pfd[0]);
      sigset_t none;
      sigemptyset(&none);
      while (!g_got_winch) sigsuspend(&none);
      if (write(pfd[1], "W", 1) < 0) _exit(2);
      for (;;) pause();
    }
    close(pfd[1]);
    usleep(100000);
    if (kill(-1, 0) < 0) wrong(&c, "kill(-1, 0) with a child in the sandbox: %s", en(errno));
    if (kill(-1, SIGWINCH) < 0) wrong(&c, "kill(-1, SIGWINCH): %s", en(errno));
    struct pollfd pf = {pfd[0], POLLIN, 0};
    if (poll(&pf, 1, 3000) <= 0) wrong(&c, "the sandbox's child did not receive kill(-1, SIGWINCH)");
    /* Harmless signals for host processes; the test's canaries log them. */
    kill(-1, SIGCONT);
    kill(-1, SIGURG);
    reap(ch);
    close(pfd[0]);
  }
  end(&c);

  begin(&c, "signals-kill-0");
  /* kill(0, ...) signals the caller's process group: the test checks that no
   * host process (its canaries share the group tsvisor was started in) got it. */
  kill(0, SIGWINCH);
  kill(0, SIGCONT);
  kill(0, SIGURG);
  note(&c, "sent SIGWINCH, SIGCONT, SIGURG to the process group; the host side checks the canaries");
  end(&c);

  begin(&c, "signals-proc-lists-sandbox-only");
  {
    long pids[512];
    int n = proc_pids(pids, 512);
    if (n < 0) error(&c, "open /proc: %s", en(errno));
    else if (n == 0) wrong(&c, "/proc lists no pid");
    for (int i = 0; i < n; i++) {
      if (kill((pid_t)pids[i], 0) < 0 && errno == ESRCH)
        escaped(&c, "/proc lists %ld, which is not a process of the sandbox's pid namespace", pids[i]);
      for (int j = 0; j < nhp; j++)
        if (pids[i] == hp[j].pid && hp[j].pid != 1) escaped(&c, "/proc lists the host pid of %s (%ld)", hp[j].label, hp[j].pid);
    }
    if (n > 64) wrong(&c, "/proc lists %d pids for a sandbox of one process", n);
  }
  end(&c);

  if (nhp == 0) {
    begin(&c, "signals-hostpids");
    error(&c, "no hostpids= given");
    end(&c);
  }
  long inside[512];
  int ninside = proc_pids(inside, 512);
  for (int j = 0; j < nhp; j++) {
    char name[96];
    snprintf(name, sizeof name, "signals-hostpid-%.40s", hp[j].label);
    begin(&c, strdup(name));
    long pid = hp[j].pid;
    int visible = 0;
    for (int i = 0; i < ninside; i++)
      if (inside[i] == pid) visible = 1;
    if (pid == 1 || visible) {
      /* The number names a sandbox process here (pid 1 is the sandbox's
       * init): signals-pid-namespace checks that it is not the host's. */
      note(&c, "pid %ld is a sandbox pid number; not a host pid here", pid);
      end(&c);
      continue;
    }
    char w[128];
#define HP(call, ...)                                                                          \
  do {                                                                                         \
    snprintf(w, sizeof w, "%s (host pid %ld)", #call, pid);                                    \
    EXPECT_FAIL(&c, w, call, __VA_ARGS__);                                                     \
  } while (0)
    HP(kill(pid, 0), ESRCH);
    HP(kill(pid, SIGWINCH), ESRCH);
    HP(kill(pid, SIGCONT), ESRCH);
    HP(kill(-pid, 0), ESRCH);
    HP(kill(-pid, SIGCONT), ESRCH);
    HP(syscall(SYS_tkill, pid, 0), ESRCH);
    HP(syscall(SYS_tgkill, pid, pid, 0), ESRCH);
    {
      siginfo_t si;
      memset(&si, 0, sizeof si);
      si.si_code = SI_QUEUE;
      si.si_signo = SIGWINCH;
      si.si_pid = getpid();
      HP(syscall(SYS_rt_sigqueueinfo, pid, SIGWINCH, &si), ESRCH);
      HP(syscall(SYS_rt_tgsigqueueinfo, pid, pid, SIGWINCH, &si), ESRCH);
    }
    HP(syscall(SYS_pidfd_open, pid, 0), ESRCH);
    {
      char buf[16];
      struct iovec l = {buf, sizeof buf}, r = {(void *)0x400000, sizeof buf};
      HP(process_vm_readv((pid_t)pid, &l, 1, &r, 1, 0), ESRCH);
      HP(process_vm_writev((pid_t)pid, &l, 1, &r, 1, 0), ESRCH);
    }
    HP(getpgid((pid_t)pid), ESRCH);
    HP(getsid((pid_t)pid), ESRCH);
    {
      struct rlimit rl;
      HP(prlimit((pid_t)pid, RLIMIT_NOFILE, NULL, &rl), ESRCH);
    }
    HP(setpriority(PRIO_PROCESS, (id_t)pid, 0), ESRCH);
    HP(getpriority(PRIO_PROCESS, (id_t)pid), ESRCH);
    HP(sched_getscheduler((pid_t)pid), ESRCH);
    {
      cpu_set_t cs;
      HP(sched_getaffinity((pid_t)pid, sizeof cs, &cs), ESRCH);
    }
    HP(syscall(SYS_ioprio_get, 1 /*IOPRIO_WHO_PROCESS*/, pid), ESRCH);
    HP(syscall(SYS_kcmp, pid, getpid(), KCMP_FILE, 0, 0), ESRCH);
    {
      void *head;
      size_t len;
      HP(syscall(SYS_get_robust_list, pid, &head, &len), ESRCH);
    }
    HP(syscall(SYS_ptrace, 16 /*ATTACH*/, pid, 0, 0), EPERM, ESRCH);
    {
      char p[64];
      struct stat st;
      snprintf(p, sizeof p, "/proc/%ld", pid);
      snprintf(w, sizeof w, "stat(/proc/%ld)", pid);
      EXPECT_FAIL(&c, w, stat(p, &st), ENOENT);
      snprintf(p, sizeof p, "/proc/%ld/root/etc/hostname", pid);
      outc o = out_open(AT_FDCWD, p, O_RDONLY);
      if (!o.err) escaped(&c, "open(/proc/%ld/root/etc/hostname) read %s", pid, describe(&o));
      out_free(&o);
    }
#undef HP
    end(&c);
  }
}

/* ---------------------------------------------------------- (9) /proc, /sys */

static volatile char g_memmark[32] = "TSVISOR-MEM-MARK-0123456789abc";

/* Opening for write then writing `val` must be refused; returns 1 if written. */
static void refuse_write(chk *c, const char *path, const char *val) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e != EACCES && e != EPERM && e != EROFS && e != ENOENT)
      wrong(c, "open(%s, O_WRONLY): %s, expected EACCES/EPERM/EROFS/ENOENT", path, en(e));
    return;
  }
  ssize_t r = write(fd, val, strlen(val));
  int e = errno;
  close(fd);
  if (r >= 0) escaped(c, "write(\"%s\") to %s succeeded", val, path);
  else if (e != EACCES && e != EPERM && e != EROFS && e != EINVAL && e != EIO)
    wrong(c, "write to %s: %s, expected EACCES/EPERM/EROFS", path, en(e));
}

static void cmd_procsys(void) {
  chk c;
  begin(&c, "proc-self-mem");
  {
    /* Linux lets a process read its own memory; what must never happen is
     * reading any other memory (the Sentry's, a host process's). */
    int fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
    if (fd < 0) note(&c, "open /proc/self/mem refused: %s", en(errno));
    else {
      char buf[32];
      ssize_t n = pread(fd, buf, sizeof buf, (off_t)(uintptr_t)g_memmark);
      if (n < 0) note(&c, "pread /proc/self/mem refused: %s", en(errno));
      else if (n != sizeof buf || memcmp(buf, (const void *)g_memmark, sizeof buf))
        escaped(&c, "/proc/self/mem at the marker's address read [%s], not this process's memory", snip(buf, (size_t)(n < 0 ? 0 : n)));
      close(fd);
    }
    fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
      char nb[32];
      memcpy(nb, (const void *)g_memmark, sizeof nb);
      nb[0] = 'X';
      ssize_t n = pwrite(fd, nb, sizeof nb, (off_t)(uintptr_t)g_memmark);
      if (n == sizeof nb && g_memmark[0] != 'X')
        escaped(&c, "a write to /proc/self/mem succeeded but did not change this process's memory (went elsewhere)");
      close(fd);
    }
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/mem", getpid());
    fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char buf[32];
      ssize_t n = pread(fd, buf, sizeof buf, (off_t)(uintptr_t)g_memmark);
      if (n > 0 && memcmp(buf + 1, (const void *)(g_memmark + 1), sizeof buf - 1))
        escaped(&c, "%s read [%s], not this process's memory", p, snip(buf, (size_t)n));
      close(fd);
    }
  }
  end(&c);

  begin(&c, "proc-kcore");
  {
    const char *ps[] = {"/proc/kcore", "/proc/kmsg", "/proc/kallsyms", "/proc/kpageflags", "/proc/self/pagemap"};
    for (int i = 0; i < 5; i++) {
      int fd = open(ps[i], O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        if (errno != ENOENT && errno != EACCES && errno != EPERM) wrong(&c, "open(%s): %s", ps[i], en(errno));
        continue;
      }
      char buf[4096];
      int fl = fcntl(fd, F_GETFL);
      fcntl(fd, F_SETFL, fl | O_NONBLOCK);
      ssize_t n = read(fd, buf, sizeof buf);
      close(fd);
      if (i == 2) {
        /* kallsyms: readable, but addresses must be zeroed */
        if (n > 0 && strncmp(buf, "0000000000000000", 16) && memchr(buf, ' ', (size_t)n))
          escaped(&c, "/proc/kallsyms shows kernel addresses: [%s]", snip(buf, 60));
        continue;
      }
      if (i == 4) {
        /* pagemap: own page map; physical frame numbers must be hidden (zero) */
        uint64_t ent = 0;
        int pf = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        if (pf >= 0) {
          long pg = sysconf(_SC_PAGESIZE);
          if (pread(pf, &ent, 8, (off_t)((uintptr_t)g_memmark / (uintptr_t)pg * 8)) == 8 && (ent & ((1ULL << 55) - 1)) &&
              (ent >> 63))
            escaped(&c, "/proc/self/pagemap shows a physical frame number %#llx", (unsigned long long)(ent & ((1ULL << 55) - 1)));
          close(pf);
        }
        continue;
      }
      if (n > 0) escaped(&c, "read(%s) returned %zd bytes: [%s]", ps[i], n, snip(buf, (size_t)(n > 40 ? 40 : n)));
      else note(&c, "%s opened but read gives %s", ps[i], n < 0 ? en(errno) : "EOF");
    }
  }
  end(&c);

  begin(&c, "proc-sys-write");
  refuse_write(&c, "/proc/sys/kernel/core_pattern", "tsvisor-escape-core");
  refuse_write(&c, "/proc/sys/kernel/modprobe", "/tsvisor-escape-modprobe");
  refuse_write(&c, "/proc/sys/kernel/hostname", "tsvisor-escape-host");
  refuse_write(&c, "/proc/sys/vm/drop_caches", "1");
  refuse_write(&c, "/proc/sys/fs/binfmt_misc/register", ":tsvisor-escape:E::tsvesc::/tsvisor-escape-interp:");
  refuse_write(&c, "/proc/sysrq-trigger", "h");
  refuse_write(&c, "/proc/sys/kernel/randomize_va_space", "2");
  refuse_write(&c, "/proc/self/uid_map", "0 0 4294967295");
  refuse_write(&c, "/proc/self/gid_map", "0 0 4294967295");
  end(&c);

  begin(&c, "sys-write");
  refuse_write(&c, "/sys/kernel/uevent_helper", "/tsvisor-escape-uevent");
  refuse_write(&c, "/sys/kernel/mm/transparent_hugepage/enabled", "madvise");
  refuse_write(&c, "/sys/fs/cgroup/cgroup.procs", "1");
  refuse_write(&c, "/sys/fs/cgroup/release_agent", "/tsvisor-escape-agent");
  {
    int fd = open("/sys/tsvisor-escape", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      escaped(&c, "created /sys/tsvisor-escape");
      close(fd);
    } else if (errno != EROFS && errno != EACCES && errno != EPERM && errno != ENOENT)
      wrong(&c, "open(/sys/tsvisor-escape, O_CREAT): %s", en(errno));
    if (mkdir("/sys/fs/cgroup/tsvisor-escape", 0755) == 0) escaped(&c, "mkdir(/sys/fs/cgroup/tsvisor-escape) succeeded");
    else if (errno != EROFS && errno != EACCES && errno != EPERM && errno != ENOENT)
      wrong(&c, "mkdir(/sys/fs/cgroup/tsvisor-escape): %s", en(errno));
  }
  end(&c);

  begin(&c, "proc-hostpath-leak");
  {
    /* The sandbox root's host path must not show through /proc. */
    const char *hr = opt("hostroot");
    const char *ps[] = {"/proc/self/mountinfo", "/proc/mounts", "/proc/self/maps", "/proc/self/environ", "/proc/self/cgroup"};
    if (!hr) note(&c, "no hostroot=");
    else
      for (int i = 0; i < 5; i++) {
        outc o = out_open(AT_FDCWD, ps[i], O_RDONLY);
        if (!o.err && memmem(o.data, o.len, hr, strlen(hr)))
          escaped(&c, "%s shows the sandbox root's host path %s", ps[i], hr);
        out_free(&o);
      }
  }
  end(&c);
}

/* ------------------------------------------------------------- TIOCSTI */

static void tiocsti_on(chk *c, int fd, const char *what) {
  char ch = 'Z';
  char w[128];
  snprintf(w, sizeof w, "ioctl(%s, TIOCSTI)", what);
  EXPECT_FAIL(c, w, syscall(SYS_ioctl, fd, (unsigned long)TIOCSTI, &ch), EPERM);
  snprintf(w, sizeof w, "ioctl(%s, 1<<32 | TIOCSTI)", what);
  EXPECT_FAIL(c, w, syscall(SYS_ioctl, fd, (1UL << 32) | (unsigned long)TIOCSTI, &ch), EPERM);
  snprintf(w, sizeof w, "ioctl(%s, 0xffffffff00000000 | TIOCSTI)", what);
  EXPECT_FAIL(c, w, syscall(SYS_ioctl, fd, 0xffffffff00000000UL | (unsigned long)TIOCSTI, &ch), EPERM);
  char sub = 0; /* TIOCL_* subcode 0 is invalid, harmless */
  snprintf(w, sizeof w, "ioctl(%s, 1<<32 | TIOCLINUX)", what);
  EXPECT_FAIL(c, w, syscall(SYS_ioctl, fd, (1UL << 32) | (unsigned long)TIOCLINUX, &sub), EPERM);
}

static void cmd_tiocsti(void) {
  chk c;
  begin(&c, "tiocsti-fd0");
  if (!isatty(0)) {
    note(&c, "skipped: fd 0 is not a terminal");
  } else {
    tiocsti_on(&c, 0, "fd 0 (a terminal)");
    /* Nothing may have been injected. */
    struct termios t, raw;
    if (tcgetattr(0, &t) == 0) {
      raw = t;
      raw.c_lflag &= ~(ICANON | ECHO);
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      tcsetattr(0, TCSANOW, &raw);
      usleep(100000);
      char buf[64];
      ssize_t n = read(0, buf, sizeof buf);
      if (n > 0 && memchr(buf, 'Z', (size_t)n)) escaped(&c, "the injected 'Z' arrived on the terminal's input");
      tcsetattr(0, TCSANOW, &t);
    }
  }
  end(&c);

  begin(&c, "tiocsti-own-pty");
  {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0) error(&c, "posix_openpt: %s", en(errno));
    else if (grantpt(m) < 0 || unlockpt(m) < 0) error(&c, "grantpt/unlockpt: %s", en(errno));
    else {
      char *sn = ptsname(m);
      int s = sn ? open(sn, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
      if (s < 0) error(&c, "open %s: %s", sn ? sn : "pts", en(errno));
      else {
        tiocsti_on(&c, s, "a pty slave");
        close(s);
      }
    }
    if (m >= 0) close(m);
  }
  end(&c);
}

/* ------------------------------------------------------------- devices */

static void cmd_devices(void) {
  chk c;
  begin(&c, "dev-open-host-devices");
  const char *devs[] = {"/dev/mem",   "/dev/kmem",  "/dev/port",          "/dev/kmsg",     "/dev/vda", "/dev/sda",
                        "/dev/nvme0n1", "/dev/kvm", "/dev/mapper/control", "/dev/cpu/0/msr", "/dev/loop0", "/dev/tty0",
                        "/dev/fuse",  "/dev/btrfs-control", "/dev/loop-control", "/dev/hwrng", "/dev/autofs", "/dev/vsock"};
  for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) {
    int fd = open(devs[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      escaped(&c, "open(%s) succeeded", devs[i]);
      close(fd);
    } else if (errno != ENOENT && errno != EACCES && errno != EPERM && errno != ENXIO && errno != ENODEV)
      wrong(&c, "open(%s): %s", devs[i], en(errno));
  }
  end(&c);

  begin(&c, "dev-mknod");
  {
    struct {
      const char *path;
      mode_t type;
      dev_t dev;
    } nodes[] = {
        {"/tmp/esc-mem", S_IFCHR, makedev(1, 1)},
        {"/tmp/esc-kmsg", S_IFCHR, makedev(1, 11)},
        {"/tmp/esc-vda", S_IFBLK, makedev(254, 0)},
        {"/tmp/esc-sda", S_IFBLK, makedev(8, 0)},
        {"/tmp/esc-rootdev", S_IFBLK, 0},
    };
    const char *rd = opt("rootdev");
    unsigned maj = 0, min = 0;
    if (rd && sscanf(rd, "%u:%u", &maj, &min) == 2) nodes[4].dev = makedev(maj, min);
    for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
      if (!nodes[i].dev) continue;
      unlink(nodes[i].path);
      int r = mknod(nodes[i].path, nodes[i].type | 0600, nodes[i].dev);
      int e = errno;
      if (r == 0) {
        /* Even if the node exists in the sandbox's memory, it must not open a host device. */
        int fd = open(nodes[i].path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
          char buf[512];
          ssize_t n = read(fd, buf, sizeof buf);
          escaped(&c, "mknod(%s, %u:%u) and open succeeded (read %zd bytes)", nodes[i].path, major(nodes[i].dev),
                  minor(nodes[i].dev), n);
          close(fd);
        } else wrong(&c, "mknod(%s, %u:%u) succeeded (open: %s); Linux refuses it with EPERM in a user namespace", nodes[i].path,
                     major(nodes[i].dev), minor(nodes[i].dev), en(errno));
        unlink(nodes[i].path);
      } else if (e != EPERM) wrong(&c, "mknod(%s): %s, expected EPERM", nodes[i].path, en(e));
    }
  }
  end(&c);
}

/* ------------------------------------------------------- (10) unix sockets */

static int un_addr(struct sockaddr_un *a, const char *path, int abstract) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  size_t l = strlen(path);
  if (abstract) {
    memcpy(a->sun_path + 1, path, l);
    return (int)(offsetof(struct sockaddr_un, sun_path) + 1 + l);
  }
  memcpy(a->sun_path, path, l);
  return (int)(offsetof(struct sockaddr_un, sun_path) + l + 1);
}

static void try_connect(chk *c, const char *what, int type, const char *path, int abstract) {
  struct sockaddr_un a;
  socklen_t al = (socklen_t)un_addr(&a, path, abstract);
  int s = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (s < 0) {
    error(c, "socket: %s", en(errno));
    return;
  }
  int r = connect(s, (struct sockaddr *)&a, al);
  int e = errno;
  if (r == 0) {
    const char *msg = "ESCAPED-CONNECT\n";
    ssize_t n = send(s, msg, strlen(msg), MSG_NOSIGNAL);
    escaped(c, "%s: connect succeeded (send: %s)", what, n < 0 ? en(errno) : "sent");
  } else if (e != ECONNREFUSED && e != ENOENT && e != EACCES && e != EPERM)
    wrong(c, "%s: connect: %s, expected ECONNREFUSED", what, en(e));
  close(s);
}

static void try_sendto(chk *c, const char *what, const char *path, int abstract, int use_sendmsg) {
  struct sockaddr_un a;
  socklen_t al = (socklen_t)un_addr(&a, path, abstract);
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    error(c, "socket: %s", en(errno));
    return;
  }
  const char *msg = use_sendmsg ? "ESCAPED-SENDMSG\n" : "ESCAPED-SENDTO\n";
  ssize_t r;
  if (use_sendmsg) {
    struct iovec iov = {(void *)msg, strlen(msg)};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &a;
    mh.msg_namelen = al;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    r = sendmsg(s, &mh, MSG_NOSIGNAL);
  } else {
    r = sendto(s, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&a, al);
  }
  int e = errno;
  if (r >= 0) escaped(c, "%s: a datagram was delivered to the host socket", what);
  else if (e != ECONNREFUSED && e != ENOENT && e != EACCES && e != EPERM)
    wrong(c, "%s: %s, expected ECONNREFUSED", what, en(e));
  /* Also: connect() on the datagram socket, then send(). */
  int s2 = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s2 >= 0) {
    if (connect(s2, (struct sockaddr *)&a, al) == 0) {
      if (send(s2, "ESCAPED-DGRAM-CONNECT\n", 22, MSG_NOSIGNAL) >= 0)
        escaped(c, "%s: connect()+send() on a datagram socket reached the host socket", what);
      else escaped(c, "%s: datagram connect() to the host socket succeeded", what);
    }
    close(s2);
  }
  close(s);
}

static void cmd_unixsock(void) {
  chk c;
  const char *sock = opt("sock"), *dgram = opt("dgram"), *abs_ = opt("abstract"), *absd = opt("abstractdgram");

  begin(&c, "unix-connect-host-path");
  if (!sock) error(&c, "no sock=");
  else {
    try_connect(&c, "connect(stream, host socket path)", SOCK_STREAM, sock, 0);
    try_connect(&c, "connect(seqpacket, host socket path)", SOCK_SEQPACKET, sock, 0);
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "/../../..%s", sock);
    try_connect(&c, "connect(stream, /../../..<host socket path>)", SOCK_STREAM, buf, 0);
    unlink("/tmp/esc-socklink");
    if (symlink(sock, "/tmp/esc-socklink") == 0)
      try_connect(&c, "connect(stream, symlink to the host socket)", SOCK_STREAM, "/tmp/esc-socklink", 0);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", sock);
    char *slash = strrchr(dir, '/');
    if (slash) {
      *slash = 0;
      if (chdir(dir) == 0) {
        try_connect(&c, "connect(stream, relative name of the host socket)", SOCK_STREAM, slash + 1, 0);
        if (chdir("/") < 0) error(&c, "chdir /");
      }
    }
    /* The socket file may appear in the sandbox (it is in the host root), but
     * it must not be a live host socket. */
  }
  end(&c);

  begin(&c, "unix-sendto-host-path");
  if (!dgram) error(&c, "no dgram=");
  else {
    try_sendto(&c, "sendto(host datagram socket path)", dgram, 0, 0);
    try_sendto(&c, "sendmsg(msg_name = host datagram socket path)", dgram, 0, 1);
  }
  end(&c);

  begin(&c, "unix-abstract");
  if (!abs_ || !absd) error(&c, "no abstract=/abstractdgram=");
  else {
    try_connect(&c, "connect(stream, host abstract socket)", SOCK_STREAM, abs_, 1);
    try_sendto(&c, "sendto(host abstract datagram socket)", absd, 1, 0);
  }
  end(&c);

  begin(&c, "unix-bind-host-path");
  {
    /* Binding a socket at a host path must not create it on the host. */
    const char *hd = opt("hostdir");
    if (!hd) error(&c, "no hostdir=");
    else {
      char p[PATH_MAX];
      snprintf(p, sizeof p, "%s/bound-inside.sock", hd);
      struct sockaddr_un a;
      socklen_t al = (socklen_t)un_addr(&a, p, 0);
      int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (bind(s, (struct sockaddr *)&a, al) < 0) note(&c, "bind %s: %s", p, en(errno));
      else {
        listen(s, 1);
        /* The sandbox can use its own socket. */
        int s2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(s2, (struct sockaddr *)&a, al) < 0) wrong(&c, "connect to the socket bound inside: %s", en(errno));
        close(s2);
      }
      close(s);
    }
  }
  end(&c);
}

/* ---------------------------------------------------- (11) overlay writes */

static void cmd_overlaywrite(void) {
  chk c;
  const char *hd = opt("hostdir"), *victim = opt("victim"), *go = opt("guestowned"), *np = opt("newpath");
  char p[PATH_MAX];
  if (!hd || !victim || !go || !np) {
    begin(&c, "overlay-args");
    error(&c, "needs hostdir=, victim=, guestowned=, newpath=");
    end(&c);
    return;
  }
#define DO(what, call)                                                                         \
  do {                                                                                         \
    errno = 0;                                                                                 \
    if ((long)(call) < 0) wrong(&c, "%s: %s (the overlay should take the write)", what, en(errno)); \
  } while (0)

  begin(&c, "overlay-create");
  DO("create newpath", put_file(np, "CREATED-INSIDE\n"));
  snprintf(p, sizeof p, "%s/created-inside", hd);
  DO("create in hostdir", put_file(p, "CREATED-INSIDE\n"));
  snprintf(p, sizeof p, "%s/mkdir-inside", hd);
  DO("mkdir", mkdir(p, 0755));
  snprintf(p, sizeof p, "%s/symlink-inside", hd);
  DO("symlink", symlink("/etc/shadow", p));
  snprintf(p, sizeof p, "%s/fifo-inside", hd);
  DO("mkfifo", mkfifo(p, 0644));
  {
    outc o = out_open(AT_FDCWD, np, O_RDONLY);
    if (o.err || !trimmed_eq(o.data, o.len, "CREATED-INSIDE")) wrong(&c, "the new file reads back as %s", describe(&o));
    out_free(&o);
  }
  end(&c);

  begin(&c, "overlay-modify-host-file");
  {
    int fd = open(victim, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) wrong(&c, "open victim O_WRONLY|O_TRUNC: %s", en(errno));
    else {
      if (write(fd, "PWNED\n", 6) != 6) wrong(&c, "write victim: %s", en(errno));
      close(fd);
    }
    outc o = out_open(AT_FDCWD, victim, O_RDONLY);
    if (o.err || !trimmed_eq(o.data, o.len, "PWNED")) wrong(&c, "the victim reads back as %s inside", describe(&o));
    out_free(&o);
    DO("truncate", truncate(victim, 2));
    DO("chmod", chmod(victim, 04777));
    DO("chown", chown(victim, 123, 456));
    struct timespec ts[2] = {{1, 0}, {1, 0}};
    DO("utimensat", utimensat(AT_FDCWD, victim, ts, 0));
    if (setxattr(victim, "user.tsvisor-escape", "x", 1, 0) < 0) note(&c, "setxattr: %s", en(errno));
    if (setxattr(victim, "trusted.tsvisor-escape", "x", 1, 0) < 0) note(&c, "setxattr trusted: %s", en(errno));
    if (setxattr(victim, "security.capability", "\x01\x00\x00\x02\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00", 20, 0) < 0)
      note(&c, "setxattr security.capability: %s", en(errno));
  }
  end(&c);

  begin(&c, "overlay-fd-ops-host-file");
  /* Operations on the fd of an unmodified host file (a Gofer fd) instead of a path. */
  {
    int fd = open(go, O_RDONLY | O_CLOEXEC);
    if (fd < 0) error(&c, "open guestowned: %s", en(errno));
    else {
      if (fchmod(fd, 04777) < 0) note(&c, "fchmod: %s", en(errno));
      if (fchown(fd, 0, 0) < 0) note(&c, "fchown: %s", en(errno));
      struct timespec ts[2] = {{1, 0}, {1, 0}};
      if (futimens(fd, ts) < 0) note(&c, "futimens: %s", en(errno));
      if (fsetxattr(fd, "user.tsvisor-escape", "x", 1, 0) < 0) note(&c, "fsetxattr: %s", en(errno));
      if (ftruncate(fd, 0) == 0) escaped(&c, "ftruncate of an O_RDONLY fd succeeded");
      if (fallocate(fd, 0, 0, 1 << 20) == 0) escaped(&c, "fallocate of an O_RDONLY fd succeeded");
      int flags = 0;
      ioctl(fd, FS_IOC_GETFLAGS, &flags);
      flags |= FS_IMMUTABLE_FL | FS_APPEND_FL;
      if (ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0) escaped(&c, "FS_IOC_SETFLAGS (chattr +ia) on a host file succeeded");
      /* Flags the file's owner may set without a capability: the host file is
       * owned by the uid the sandbox's root maps to, so only a read-only
       * mount (or the Sentry) can stop this on an O_RDONLY fd. */
      flags = 0;
      ioctl(fd, FS_IOC_GETFLAGS, &flags);
      flags |= FS_NODUMP_FL | FS_NOATIME_FL;
      if (ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0) escaped(&c, "FS_IOC_SETFLAGS (chattr +dA) through an O_RDONLY fd of a host file succeeded");
      int gen = 12345;
      if (ioctl(fd, FS_IOC_SETVERSION, &gen) == 0) escaped(&c, "FS_IOC_SETVERSION through an O_RDONLY fd of a host file succeeded");
      struct fsxattr fx;
      if (ioctl(fd, FS_IOC_FSGETXATTR, &fx) == 0) {
        fx.fsx_xflags |= FS_XFLAG_NODUMP;
        if (ioctl(fd, FS_IOC_FSSETXATTR, &fx) == 0)
          escaped(&c, "FS_IOC_FSSETXATTR through an O_RDONLY fd of a host file succeeded");
      }
      struct fsverity_enable_arg va;
      memset(&va, 0, sizeof va);
      va.version = 1;
      va.hash_algorithm = FS_VERITY_HASH_ALG_SHA256;
      va.block_size = 4096;
      if (ioctl(fd, FS_IOC_ENABLE_VERITY, &va) == 0)
        escaped(&c, "FS_IOC_ENABLE_VERITY made a host file permanently read-only through an O_RDONLY fd");
      /* A lease on the host inode would stall host processes that open the
       * file for writing (and tell the guest when they do). */
      if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
        escaped(&c, "fcntl(F_SETLEASE, F_RDLCK) took a lease on a host file");
        fcntl(fd, F_SETLEASE, F_UNLCK);
      }
      void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (m != MAP_FAILED) {
        escaped(&c, "mmap(PROT_WRITE, MAP_SHARED) of an O_RDONLY fd succeeded");
        munmap(m, 4096);
      }
      /* Reopen through /proc/self/fd for writing: must be the overlay's copy. */
      char pp[64];
      snprintf(pp, sizeof pp, "/proc/self/fd/%d", fd);
      int w = open(pp, O_WRONLY | O_CLOEXEC);
      if (w >= 0) {
        if (pwrite(w, "PWNED-VIA-PROC-FD\n", 18, 0) < 0) note(&c, "pwrite via /proc/self/fd: %s", en(errno));
        close(w);
      } else note(&c, "reopen via /proc/self/fd for writing: %s", en(errno));
      close(fd);
    }
    fd = open(go, O_RDWR | O_CLOEXEC);
    if (fd < 0) wrong(&c, "open guestowned O_RDWR: %s", en(errno));
    else {
      if (pwrite(fd, "PWNED-RDWR\n", 11, 0) < 0) wrong(&c, "pwrite: %s", en(errno));
      void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (m == MAP_FAILED) note(&c, "mmap shared rw: %s", en(errno));
      else {
        memcpy(m, "PWNED-MMAP", 10);
        msync(m, 4096, MS_SYNC);
        munmap(m, 4096);
      }
      if (fallocate(fd, 0, 0, 1 << 16) < 0) note(&c, "fallocate: %s", en(errno));
      int flags = 0;
      ioctl(fd, FS_IOC_GETFLAGS, &flags);
      flags |= FS_NODUMP_FL;
      /* May succeed on the overlay's copy (tmpfs supports these flags); the
       * test's host snapshot shows whether the host file changed. */
      if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0) note(&c, "FS_IOC_SETFLAGS on the O_RDWR fd: %s", en(errno));
      close(fd);
    }
    /* Copy into a host file's fd with the in-kernel copy helpers. */
    int src = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
    int dst = open(victim, O_RDONLY | O_CLOEXEC);
    if (src >= 0 && dst >= 0) {
      loff_t off = 0;
      if (copy_file_range(src, NULL, dst, &off, 4, 0) > 0) escaped(&c, "copy_file_range into an O_RDONLY fd succeeded");
      if (sendfile(dst, src, NULL, 4) > 0) escaped(&c, "sendfile into an O_RDONLY fd succeeded");
    }
    if (src >= 0) close(src);
    if (dst >= 0) close(dst);
  }
  end(&c);

  begin(&c, "overlay-unix-bind");
  {
    snprintf(p, sizeof p, "%s/bound.sock", hd);
    struct sockaddr_un a;
    socklen_t al = (socklen_t)un_addr(&a, p, 0);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(s, (struct sockaddr *)&a, al) < 0) note(&c, "bind: %s", en(errno));
    close(s);
  }
  end(&c);
#undef DO
}

/* -------------------------------------------------- (12) link and rename */

static void cmd_linkrename(void) {
  chk c;
  const char *hd = opt("hostdir");
  if (!hd) {
    begin(&c, "link-args");
    error(&c, "needs hostdir=");
    end(&c);
    return;
  }
  char a[PATH_MAX], b[PATH_MAX];
#define P(buf, name) snprintf(buf, sizeof buf, "%s/%s", hd, name)

  begin(&c, "link-host-file");
  P(a, "lr-file");
  P(b, "lr-file.hardlink");
  if (link(a, b) < 0) note(&c, "link: %s", en(errno));
  else {
    /* Writing through the new link must not reach the host inode. */
    int fd = open(b, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0) {
      if (write(fd, "PWNED-VIA-LINK\n", 15) < 0) note(&c, "write via link: %s", en(errno));
      close(fd);
    }
    struct stat st;
    if (stat(a, &st) == 0 && st.st_nlink < 2) wrong(&c, "after link(), st_nlink of the original is %lu", (unsigned long)st.st_nlink);
  }
  if (linkat(AT_FDCWD, a, AT_FDCWD, "/tmp/esc-lr-hardlink", 0) < 0) note(&c, "link to /tmp: %s", en(errno));
  else {
    int fd = open("/tmp/esc-lr-hardlink", O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0) {
      if (write(fd, "PWNED-VIA-TMP-LINK\n", 19) < 0) note(&c, "write: %s", en(errno));
      close(fd);
    }
  }
  {
    int fd = open(a, O_RDONLY | O_CLOEXEC);
    char pp[64];
    snprintf(pp, sizeof pp, "/proc/self/fd/%d", fd);
    P(b, "lr-file.proc-link");
    if (fd >= 0 && linkat(AT_FDCWD, pp, AT_FDCWD, b, AT_SYMLINK_FOLLOW) < 0) note(&c, "linkat(/proc/self/fd): %s", en(errno));
    P(b, "lr-file.empty-path-link");
    if (fd >= 0 && linkat(fd, "", AT_FDCWD, b, AT_EMPTY_PATH) < 0) note(&c, "linkat(AT_EMPTY_PATH): %s", en(errno));
    if (fd >= 0) close(fd);
  }
  end(&c);

  begin(&c, "rename-host-file");
  P(a, "lr-rename");
  P(b, "lr-rename.renamed");
  if (rename(a, b) < 0) note(&c, "rename: %s", en(errno));
  P(a, "lr-dir");
  P(b, "lr-dir.renamed");
  if (rename(a, b) < 0) note(&c, "rename dir: %s", en(errno));
  P(a, "lr-x1");
  P(b, "lr-x2");
  if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) < 0) note(&c, "RENAME_EXCHANGE: %s", en(errno));
  P(a, "lr-x1");
  P(b, "lr-whiteout-target");
  if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_WHITEOUT) == 0) note(&c, "RENAME_WHITEOUT succeeded");
  P(a, "lr-unlink");
  if (unlink(a) < 0) note(&c, "unlink: %s", en(errno));
  P(a, "lr-emptydir");
  if (rmdir(a) < 0) note(&c, "rmdir: %s", en(errno));
  /* A new file renamed over a host file. */
  P(a, "lr-new");
  P(b, "lr-over");
  put_file(a, "NEW-INSIDE\n");
  if (rename(a, b) < 0) note(&c, "rename over: %s", en(errno));
  /* Rename a host file out to /tmp and back. */
  P(a, "lr-out");
  if (rename(a, "/tmp/esc-lr-out") < 0) note(&c, "rename to /tmp: %s", en(errno));
  struct stat st;
  P(a, "lr-rename");
  if (stat(a, &st) == 0) wrong(&c, "lr-rename still exists inside after rename()");
  end(&c);
#undef P
}

/* ---------------------------------------------- forged exec-rewrite marker */

static void cmd_forgedexec(void) {
  chk c;
  begin(&c, "forged-exec-marker");
  const char *v = opt("execvictim");
  if (!v) {
    error(&c, "needs execvictim=");
    end(&c);
    return;
  }
  /* Hide the victim in the sandbox (under the overlay the host file stays),
   * then ask the kernel to run it with the Sentry's marker: the Sentry must
   * not let a guest-made marker call through. */
  if (unlink(v) < 0) error(&c, "unlink %s: %s", v, en(errno));
  struct stat st;
  if (stat(v, &st) == 0) error(&c, "%s still exists after unlink", v);
  int pfd[2];
  if (pipe(pfd) < 0) error(&c, "pipe");
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    close(pfd[0]);
    char *argv[] = {(char *)v, "exit42", NULL};
    char *envp[] = {NULL};
    int dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    syscall(SYS_execveat, AT_FDCWD, v, argv, envp, 0, EXEC_REWRITE_MAGIC);
    int e1 = errno;
    syscall(SYS_execveat, dfd, v + 1, argv, envp, 0, EXEC_REWRITE_MAGIC);
    int e2 = errno;
    syscall(SYS_execveat, 0, v, argv, envp, AT_EMPTY_PATH, EXEC_REWRITE_MAGIC);
    int e3 = errno;
    int e[3] = {e1, e2, e3};
    if (write(pfd[1], e, sizeof e) < 0) _exit(3);
    _exit(0);
  }
  close(pfd[1]);
  int e[3] = {0, 0, 0};
  ssize_t n = read(pfd[0], e, sizeof e);
  close(pfd[0]);
  int status;
  waitpid(p, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 42)
    escaped(&c, "execveat with a forged marker ran %s, a file deleted in the sandbox", v);
  else if (n == sizeof e) {
    for (int i = 0; i < 3; i++)
      if (e[i] != EPERM && e[i] != ENOENT) wrong(&c, "forged execveat #%d: %s, expected EPERM or ENOENT", i + 1, en(e[i]));
  } else error(&c, "child status %#x", status);
  end(&c);
}

/* ------------------------- fds an exec leaves, and reopening foreign fds */

/* Which of fds 0..FDMAX-1 are open (fcntl runs natively: no Sentry view). */
#define FDMAX 1024
static void fd_set_now(unsigned char *set) {
  for (int i = 0; i < FDMAX; i++) set[i] = fcntl(i, F_GETFD) >= 0;
}

static int put_bytes(const char *p, const void *d, size_t n, mode_t mode) {
  unlink(p);
  int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return -1;
  ssize_t w = write(fd, d, n);
  close(fd);
  return w == (ssize_t)n ? 0 : -1;
}

/* A minimal x86-64 ELF header with one program header of `type`, which it
 * returns for the caller to fill. */
static unsigned char *elf_one_phdr(unsigned char *b, size_t size, uint32_t type, uint64_t entry) {
  memset(b, 0, size);
  memcpy(b, "\x7f" "ELF", 4);
  b[4] = 2; /* 64-bit */
  b[5] = 1; /* little endian */
  b[6] = 1; /* version */
  uint16_t u16;
  uint32_t u32;
  u16 = 2; memcpy(b + 16, &u16, 2);      /* ET_EXEC */
  u16 = 62; memcpy(b + 18, &u16, 2);     /* EM_X86_64 */
  u32 = 1; memcpy(b + 20, &u32, 4);      /* e_version */
  memcpy(b + 24, &entry, 8);             /* e_entry */
  uint64_t u64 = 64; memcpy(b + 32, &u64, 8); /* e_phoff */
  u16 = 64; memcpy(b + 52, &u16, 2);     /* e_ehsize */
  u16 = 56; memcpy(b + 54, &u16, 2);     /* e_phentsize */
  u16 = 1; memcpy(b + 56, &u16, 2);      /* e_phnum */
  memcpy(b + 64, &type, 4);
  return b + 64;
}

/* A minimal ELF executable whose only program header names an interpreter
 * that does not exist: the Sentry sees a valid ELF magic, the kernel fails
 * the exec with ENOENT when it looks for the interpreter. */
static int put_missing_interp_elf(const char *p) {
  unsigned char b[64 + 56 + 32];
  unsigned char *ph = elf_one_phdr(b, sizeof b, 3 /* PT_INTERP */, 0x400000);
  uint64_t u64;
  u64 = 120; memcpy(ph + 8, &u64, 8);    /* p_offset */
  u64 = 24; memcpy(ph + 32, &u64, 8);    /* p_filesz */
  memcpy(b + 120, "/nonexistent/esc-ld.so", 23);
  return put_bytes(p, b, sizeof b, 0755);
}

/* A static ELF executable that only calls exit(status). A second program
 * header of type `interp_type` names `interp` (PT_INTERP, or PT_NULL for a
 * header a writer turns into one: it is at offset ELF_SECOND_PHDR). */
#define ELF_SECOND_PHDR (64 + 56)
static int put_exit_elf(const char *p, unsigned char status, const char *interp, uint32_t interp_type) {
  unsigned char b[64 + 2 * 56 + 12 + PATH_MAX];
  const uint64_t base = 0x400000, code = 64 + 2 * 56, str = code + 12;
  size_t size = str + (interp ? strlen(interp) + 1 : 0);
  unsigned char *ph = elf_one_phdr(b, sizeof b, 1 /* PT_LOAD */, base + code);
  uint16_t phnum = 2;
  memcpy(b + 56, &phnum, 2);
  uint32_t u32 = 5; memcpy(ph + 4, &u32, 4); /* PF_R | PF_X */
  memcpy(ph + 16, &base, 8);             /* p_vaddr */
  uint64_t u64 = size;
  memcpy(ph + 32, &u64, 8);              /* p_filesz */
  memcpy(ph + 40, &u64, 8);              /* p_memsz */
  u64 = 0x1000; memcpy(ph + 48, &u64, 8); /* p_align */
  if (interp) {
    ph = b + ELF_SECOND_PHDR;
    memcpy(ph, &interp_type, 4);
    memcpy(ph + 8, &str, 8);             /* p_offset */
    u64 = strlen(interp) + 1;
    memcpy(ph + 32, &u64, 8);            /* p_filesz */
    memcpy(b + str, interp, u64);
  }
  /* mov $status, %edi; mov $60, %eax; syscall */
  const unsigned char insns[] = {0xbf, status, 0, 0, 0, 0xb8, 60, 0, 0, 0, 0x0f, 0x05};
  memcpy(b + code, insns, sizeof insns);
  return put_bytes(p, b, size, 0755);
}

/* execve as a raw syscall, checking that every argument register comes back
 * as it went in (glibc's inline syscalls rely on that). */
static long raw_execve(const char *path, char **argv, char **envp, int *regs_ok) {
  long r;
  long rdi = (long)path, rsi = (long)argv, rdx = (long)envp;
  register long r10 asm("r10") = 0x10101010;
  register long r8 asm("r8") = 0x88888888;
  register long r9 asm("r9") = 0x99999999;
  asm volatile("syscall" : "=a"(r), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r10), "+r"(r8), "+r"(r9) : "a"((long)SYS_execve) : "rcx", "r11", "memory");
  *regs_ok = rdi == (long)path && rsi == (long)argv && rdx == (long)envp && r10 == 0x10101010 && r8 == 0x88888888 && r9 == 0x99999999;
  return r;
}

/* ---------------------- racing a rewritten exec's path, fd and interpreter */

/* The Sentry turns execve(P) into execveat(N, "", AT_EMPTY_PATH) of the file
 * it checked, N a slot of the guest's fd table and "" the NUL ending P in the
 * guest's memory, and the kernel loads an ELF interpreter it checked from
 * the guest's native root. A sibling thread can write into each before the
 * kernel reads it: end P with an absolute path (the kernel resolves it in
 * the native root), dup2 another fd into slot N, or turn a program header
 * of a file the guest may write into a PT_INTERP. The kernel must never run
 * a file the Sentry did not check: here the victims, deleted in the sandbox
 * (their host files stay under the overlay), in place of a program that
 * exits 7. A memfd's PT_INTERP needs no race. */
static char *g_swap_byte;
static int g_swap_fd, g_swap_slot;
static const char *g_swap_file;

static void *swap_path(void *arg) {
  (void)arg;
  volatile char *c = g_swap_byte;
  for (;;) {
    *c = '/';
    *c = 0;
  }
  return NULL;
}

static void *swap_fd(void *arg) {
  (void)arg;
  for (;;) {
    dup2(g_swap_fd, g_swap_slot);
    close(g_swap_slot);
  }
  return NULL;
}

static void *swap_interp(void *arg) {
  (void)arg;
  const uint32_t types[2] = {3 /* PT_INTERP */, 0 /* PT_NULL */};
  for (int i = 0;; i ^= 1) {
    int fd = open(g_swap_file, O_WRONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (pwrite(fd, &types[i], 4, ELF_SECOND_PHDR) < 0) break;
    close(fd);
  }
  return NULL;
}

static void cmd_execswap(void) {
  const char *v = opt("execvictim"), *iv = opt("interpvictim");
  char legit[PATH_MAX], withinterp[PATH_MAX];
  snprintf(legit, sizeof legit, "%s-exit7", v ? v : "/tmp/esc");
  snprintf(withinterp, sizeof withinterp, "%s-interp7", v ? v : "/tmp/esc");
  int vfd = v ? open(v, O_RDONLY | O_CLOEXEC) : -1;
  errno = 0;
  int ok = v && iv && vfd >= 0 && unlink(v) == 0 && unlink(iv) == 0 && put_exit_elf(legit, 7, NULL, 0) == 0 &&
           put_exit_elf(withinterp, 7, iv, 0 /* PT_NULL */) == 0;
  int setup = ok ? 0 : errno ? errno : EINVAL;
  static const struct {
    const char *name;
    void *(*thread)(void *);
  } kinds[] = {{"exec-path-swap", swap_path}, {"exec-fd-swap", swap_fd}, {"exec-interp-swap", swap_interp}};
  for (size_t kind = 0; kind < sizeof kinds / sizeof *kinds; kind++) {
    chk c;
    begin(&c, kinds[kind].name);
    if (setup) error(&c, "setup (open and unlink %s and %s, write %s and %s): %s", v, iv, legit, withinterp, en(setup));
    const char *prog = kinds[kind].thread == swap_interp ? withinterp : legit;
    int ran[3] = {0, 0, 0}; /* the checked program, a victim, killed */
    for (int i = 0; i < 300 && !c.err && !ran[1]; i++) {
      fflush(stdout);
      pid_t p = fork();
      if (p == 0) {
        size_t n = strlen(prog);
        char *path = malloc(n + 1 + strlen(v));
        strcpy(path, prog);
        strcpy(path + n + 1, v + 1);
        g_swap_byte = path + n;
        g_swap_fd = vfd;
        g_swap_file = prog;
        for (g_swap_slot = 0; fcntl(g_swap_slot, F_GETFD) >= 0; g_swap_slot++) {
        }
        pthread_t th;
        pthread_create(&th, NULL, kinds[kind].thread, NULL);
        char *argv[] = {"esc", "exit42", NULL};
        char *envp[] = {NULL};
        for (int j = 0; j < 50; j++) execve(path, argv, envp);
        _exit(99);
      }
      int status;
      if (waitpid(p, &status, 0) != p) {
        error(&c, "waitpid: %s", en(errno));
        break;
      }
      if (WIFEXITED(status) && WEXITSTATUS(status) == 7) ran[0]++;
      else if (WIFEXITED(status) && WEXITSTATUS(status) == 42) ran[1]++;
      else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ran[2]++;
    }
    if (ran[1]) escaped(&c, "the kernel ran a victim deleted in the sandbox for an execve of %s (%d runs of it, %d killed)", prog, ran[0], ran[2]);
    end(&c);
  }
  if (vfd >= 0) close(vfd);

  chk c;
  begin(&c, "exec-memfd-interp");
  char memprog[PATH_MAX];
  snprintf(memprog, sizeof memprog, "/tmp/esc-memfd-interp");
  int m = memfd_create("esc-interp", MFD_CLOEXEC), src = -1;
  if (setup || m < 0 || put_exit_elf(memprog, 7, iv, 3 /* PT_INTERP */) < 0 || (src = open(memprog, O_RDONLY)) < 0) {
    error(&c, "setup: %s", en(setup ? setup : errno));
  } else {
    char buf[4096];
    ssize_t n = read(src, buf, sizeof buf);
    if (n <= 0 || write(m, buf, n) != n) error(&c, "copy into the memfd: %s", en(errno));
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
      char *argv[] = {"esc", "exit42", NULL};
      char *envp[] = {NULL};
      fexecve(m, argv, envp);
      _exit(errno == ENOENT ? 99 : 98);
    }
    int status;
    waitpid(p, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 42) escaped(&c, "fexecve of a memfd naming %s as its interpreter ran it, deleted in the sandbox", iv);
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 99) wrong(&c, "fexecve: status %#x, expected ENOENT (the interpreter is gone)", status);
  }
  if (src >= 0) close(src);
  if (m >= 0) close(m);
  end(&c);
}

static volatile int g_scan_stop;
static volatile int g_scan_hits;
static unsigned char g_scan_base[FDMAX];
/* A sibling thread that, during a failed exec, looks for an fd it did not
 * have and tries to use it: read it, and reopen it for writing. */
static void *fd_scanner(void *arg) {
  chk *c = arg;
  while (!g_scan_stop) {
    for (int i = 3; i < FDMAX; i++) {
      if (g_scan_base[i] || fcntl(i, F_GETFD) < 0) continue;
      char buf[16];
      if (read(i, buf, sizeof buf) > 0) {
        g_scan_hits++;
        note(c, "a sibling thread read the exec's fd %d", i);
      }
      /* Reopened, it is the file the sandbox sees at that path, with the
       * sandbox's permissions: a write lands where the guest could write
       * anyway (the host side checks that no host file changed). */
      char path[64];
      snprintf(path, sizeof path, "/proc/self/fd/%d", i);
      int w = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
      if (w >= 0) {
        if (write(w, "", 0) < 0) g_sink++;
        close(w);
      }
    }
  }
  return NULL;
}

static void cmd_magiclink(void) {
  chk c;
  begin(&c, "magic-failed-exec-fds");
  const char *v = opt("execvictim");
  if (!v) error(&c, "needs execvictim=");
  char *big = malloc(200000);
  memset(big, 'a', 199999);
  big[199999] = 0;
  if (put_bytes("/tmp/esc-badelf", "\x7f" "ELF not an image, just bytes after the magic", 45, 0755) < 0) error(&c, "write /tmp/esc-badelf: %s", en(errno));
  if (put_missing_interp_elf("/tmp/esc-nointerp") < 0) error(&c, "write /tmp/esc-nointerp: %s", en(errno));
  /* A file open for writing cannot be executed (the kernel's ETXTBSY). */
  int busy = -1;
  if (v) {
    int src = open(v, O_RDONLY | O_CLOEXEC);
    busy = open("/tmp/esc-busy", O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0755);
    if (src < 0 || busy < 0) error(&c, "copy %s: %s", v, en(errno));
    else {
      char b[65536];
      ssize_t n;
      while ((n = read(src, b, sizeof b)) > 0)
        if (write(busy, b, (size_t)n) != n) break;
    }
    if (src >= 0) close(src);
  }
  struct {
    const char *what;
    const char *path;
    int big;
    int want;
  } cases[] = {
      {"E2BIG (one 200000-byte argument)", v, 1, E2BIG},
      {"ENOEXEC (garbage after the ELF magic)", "/tmp/esc-badelf", 0, ENOEXEC},
      {"ENOENT (a missing ELF interpreter)", "/tmp/esc-nointerp", 0, ENOENT},
      {"ETXTBSY (open for writing)", "/tmp/esc-busy", 0, ETXTBSY},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases && v; i++) {
    for (int threaded = 0; threaded < 2; threaded++) {
      unsigned char before[FDMAX], after[FDMAX];
      fd_set_now(before);
      memcpy(g_scan_base, before, sizeof before);
      pthread_t th;
      g_scan_stop = 0;
      if (threaded) pthread_create(&th, NULL, fd_scanner, &c);
      char *argv[] = {(char *)cases[i].path, cases[i].big ? big : "exit42", NULL};
      char *envp[] = {NULL};
      int regs_ok = 0;
      long r = 0;
      for (int k = 0; k < (threaded ? 200 : 1); k++) r = raw_execve(cases[i].path, argv, envp, &regs_ok);
      g_scan_stop = 1;
      if (threaded) pthread_join(th, NULL);
      fd_set_now(after);
      /* With the sibling thread, a writable reopen it holds at that moment
       * makes the exec fail with ETXTBSY, as a writer would natively. */
      if (r != -cases[i].want && !(threaded && r == -ETXTBSY))
        wrong(&c, "%s%s: execve returned %ld, expected -%s", cases[i].what, threaded ? " (threaded)" : "", r, en(cases[i].want));
      if (!regs_ok) wrong(&c, "%s: the argument registers changed across the failed execve", cases[i].what);
      for (int f = 0; f < FDMAX; f++)
        if (after[f] && !before[f]) escaped(&c, "%s: fd %d left behind by the failed execve", cases[i].what, f);
    }
  }
  if (g_scan_hits) escaped(&c, "a sibling thread used the fd of a failed exec %d times", g_scan_hits);
  if (busy >= 0) close(busy);
  free(big);
  end(&c);
}

/* stdin: a host file the caller redirected (read-only); stdout: a host file
 * opened for appending. Reopening them through magic links must never give
 * more than the fds hold, and their names must not show host paths. */
static void try_reopen(chk *c, const char *path, int flags, const char *how) {
  errno = 0;
  int fd = open(path, flags | O_CLOEXEC);
  int e = errno;
  if (fd >= 0) {
    escaped(c, "open(%s, %s) succeeded", path, how);
    close(fd);
  } else if (e != EACCES && e != EROFS && e != EPERM) {
    wrong(c, "open(%s, %s): %s, expected EACCES", path, how, en(e));
  }
}

static void reopen_all_ways(chk *c, const char *path) {
  try_reopen(c, path, O_WRONLY, "O_WRONLY");
  try_reopen(c, path, O_RDWR, "O_RDWR");
  try_reopen(c, path, O_RDONLY | O_TRUNC, "O_RDONLY|O_TRUNC");
  try_reopen(c, path, O_WRONLY | O_APPEND, "O_WRONLY|O_APPEND");
  try_reopen(c, path, O_WRONLY | O_TRUNC | O_CREAT, "O_WRONLY|O_TRUNC|O_CREAT");
}

/* blockedcalls: connects and sends the Sentry performs for the guest wait
 * for room (a listener's backlog, a peer's receive buffer) as Linux's do, for
 * as long as the guest likes. Eight threads wait so; another process's
 * connect to a listener with room, and its send that waits for a reader
 * that comes, must still go through. */
static struct sockaddr_un g_bc_full;
static int g_bc_pairs[8][2];
static void *blocked_connect(void *arg) {
  (void)arg;
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  connect(s, (struct sockaddr *)&g_bc_full, sizeof g_bc_full);
  return NULL;
}
static void *blocked_send(void *arg) {
  int *pair = arg;
  static char big[1 << 20];
  struct iovec iov = {big, sizeof big};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  sendmsg(pair[0], &m, 0);
  return NULL;
}
static int bc_listener(struct sockaddr_un *a, const char *name) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  snprintf(a->sun_path, sizeof a->sun_path, "/tmp/%s-%d", name, getpid());
  unlink(a->sun_path);
  int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  return l >= 0 && bind(l, (struct sockaddr *)a, sizeof *a) == 0 && listen(l, 0) == 0 ? l : -1;
}
/* Runs `what` in a child; 1 if it ended with status 0 within 3 s. */
static int bc_within(int (*what)(void *), void *arg) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) _exit(what(arg));
  for (int i = 0; i < 30; i++) {
    int st;
    if (waitpid(c, &st, WNOHANG) == c) return WIFEXITED(st) && WEXITSTATUS(st) == 0;
    usleep(100000);
  }
  kill(c, SIGKILL);
  waitpid(c, NULL, 0);
  return 0;
}
static int bc_connect(void *arg) {
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  return connect(s, (struct sockaddr *)arg, sizeof(struct sockaddr_un)) == 0 ? 0 : 1;
}
/* A send that waits for a reader that comes 0.2 s later. */
static int bc_send(void *arg) {
  (void)arg;
  int p[2];
  static char buf[1 << 16];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0) return 1;
  while (send(p[0], buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
  if (fork() == 0) {
    close(p[0]);
    usleep(200000);
    while (read(p[1], buf, sizeof buf) > 0) {
    }
    _exit(0);
  }
  struct iovec iov = {buf, 4096};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  return sendmsg(p[0], &m, 0) == 4096 ? 0 : 1;
}

static void cmd_blockedcalls(void) {
  chk c;
  begin(&c, "blocked-connects");
  struct sockaddr_un free_addr;
  int full = bc_listener(&g_bc_full, "bc-full"), room = bc_listener(&free_addr, "bc-room");
  if (full < 0 || room < 0) error(&c, "listen: %s", en(errno));
  /* The full listener's backlog takes one connection, then connects wait. */
  for (int i = 0; i < 4 && !c.err; i++) {
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (connect(s, (struct sockaddr *)&g_bc_full, sizeof g_bc_full) < 0) break;
  }
  pthread_t th[8];
  for (int i = 0; i < 8 && !c.err; i++) pthread_create(&th[i], NULL, blocked_connect, NULL);
  usleep(300000);
  if (!c.err && !bc_within(bc_connect, &free_addr)) wrong(&c, "a connect to a listener with room waited behind 8 connects to a full one");
  end(&c);

  begin(&c, "blocked-sends");
  for (int i = 0; i < 8; i++) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g_bc_pairs[i]) < 0) {
      error(&c, "socketpair: %s", en(errno));
      break;
    }
    pthread_create(&th[i], NULL, blocked_send, g_bc_pairs[i]);
  }
  usleep(300000);
  if (!c.err && !bc_within(bc_send, NULL)) wrong(&c, "a send whose reader came 0.2 s later waited behind 8 sends to peers that do not read");
  end(&c);
  /* The waiting threads end with the process. */
  unlink(g_bc_full.sun_path);
  unlink(free_addr.sun_path);
}

/* stdiofifo: stdin is the read end of a host FIFO without a writer, stderr
 * the write end of one without a reader (the test makes them). Linux blocks
 * a reopen of either through /proc/self/fd until the other side comes;
 * tsvisor's never blocks the Sentry: the sandbox's other processes go on. */
static void cmd_stdiofifo(void) {
  chk c;
  begin(&c, "stdio-fifo-reopen");
  struct stat st0, st2;
  if (fstat(0, &st0) < 0 || fstat(2, &st2) < 0 || !S_ISFIFO(st0.st_mode) || !S_ISFIFO(st2.st_mode)) {
    error(&c, "setup: stdin and stderr must be FIFOs");
    end(&c);
    return;
  }
  pid_t kids[2];
  for (int i = 0; i < 2; i++) {
    fflush(stdout);
    kids[i] = fork();
    if (kids[i] == 0) {
      open(i ? "/proc/self/fd/2" : "/proc/self/fd/0", (i ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
      pause();
      _exit(0);
    }
  }
  usleep(300000);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < 5; i++) {
    int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) error(&c, "open /: %s", en(errno));
    else close(fd);
    usleep(50000);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  if (s > 5) escaped(&c, "five opens took %.1f s while two processes reopened host FIFOs", s);
  for (int i = 0; i < 2; i++) {
    kill(kids[i], SIGKILL);
    waitpid(kids[i], NULL, 0);
  }
  end(&c);
}

/* Host paths outside the sandbox's view must not show (the caller passes
 * the stdio files' paths only when they lie outside the sandbox's root). */
static void no_launcher(chk *c, const char *what, const char *text, size_t n) {
  if (memmem(text, n, "tsvisor-launcher", 16) || memmem(text, n, "build/Release", 13)) escaped(c, "%s shows tsvisor's launcher", what);
}

static void no_host_path(chk *c, const char *what, const char *text, size_t n) {
  const char *hp[] = {opt("outsidein"), opt("outsideout"), opt("hostroot")};
  for (size_t i = 0; i < 3; i++)
    if (hp[i] && hp[i][0] && memmem(text, n, hp[i], strlen(hp[i]))) escaped(c, "%s shows the host path %s", what, hp[i]);
  if (memmem(text, n, "tsvisor-launcher", 16) || memmem(text, n, "build/Release", 13)) escaped(c, "%s shows tsvisor's launcher", what);
}

static void cmd_names(void);

static void cmd_stdio(void) {
  chk c;
  const char *content = opt("stdincontent");
  begin(&c, "stdio-stdin-reopen");
  if (!content) error(&c, "needs stdincontent=");
  char self[64], thread[64];
  snprintf(self, sizeof self, "/proc/%d/fd/0", getpid());
  snprintf(thread, sizeof thread, "/proc/thread-self/fd/0");
  const char *paths[] = {"/proc/self/fd/0", "/dev/stdin", "/dev/fd/0", self, thread};
  for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) reopen_all_ways(&c, paths[i]);
  /* a copy of the fd, and the fd seen from another process */
  int d = fcntl(0, F_DUPFD, 100);
  reopen_all_ways(&c, "/proc/self/fd/100");
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    chk cc;
    begin(&cc, "stdio-stdin-reopen-child");
    char parent[64];
    snprintf(parent, sizeof parent, "/proc/%d/fd/0", getppid());
    reopen_all_ways(&cc, parent);
    /* the child's own report goes through the same line protocol */
    end(&cc);
    _exit(g_nonok ? 1 : 0);
  }
  int st;
  waitpid(p, &st, 0);
  /* passed over a unix socket and reopened by the receiver */
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0) {
    char byte = 'x';
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {&byte, 1};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &d, sizeof d);
    if (sendmsg(sp[0], &m, 0) < 0) error(&c, "sendmsg: %s", en(errno));
    m.msg_controllen = sizeof cbuf;
    if (recvmsg(sp[1], &m, 0) < 0) error(&c, "recvmsg: %s", en(errno));
    else {
      int got;
      memcpy(&got, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof got);
      char path[64];
      snprintf(path, sizeof path, "/proc/self/fd/%d", got);
      reopen_all_ways(&c, path);
      close(got);
    }
    close(sp[0]);
    close(sp[1]);
  }
  /* reading through the magic link works, as on Linux */
  int r = open("/proc/self/fd/0", O_RDONLY | O_CLOEXEC);
  if (r < 0) wrong(&c, "open(/proc/self/fd/0, O_RDONLY): %s", en(errno));
  else {
    char buf[256] = {0};
    ssize_t n = pread(r, buf, sizeof buf - 1, 0);
    if (content && (n < 0 || strncmp(buf, content, strlen(content)))) wrong(&c, "reading the reopened stdin gave [%s]", snip(buf, n > 0 ? (size_t)n : 0));
    close(r);
  }
  if (d >= 0) close(d);
  end(&c);

  begin(&c, "stdio-stdout-append");
  try_reopen(&c, "/proc/self/fd/1", O_RDONLY, "O_RDONLY");
  try_reopen(&c, "/proc/self/fd/1", O_RDWR, "O_RDWR");
  /* a write-only reopen keeps the fd's O_APPEND: it cannot overwrite */
  int w = open("/proc/self/fd/1", O_WRONLY | O_CLOEXEC);
  if (w < 0) wrong(&c, "open(/proc/self/fd/1, O_WRONLY): %s", en(errno));
  else {
    int fl = fcntl(w, F_GETFL);
    if ((fcntl(1, F_GETFL) & O_APPEND) && !(fl & O_APPEND)) escaped(&c, "the reopened stdout lost O_APPEND");
    close(w);
  }
  end(&c);

  cmd_names();
}

/* The names the sandbox gives fds, mapped files and its init never show a
 * host path outside its view (the caller names those: outsidein=,
 * outsideout=, hostroot=), nor tsvisor's launcher. */
static void cmd_names(void) {
  chk c;
  begin(&c, "stdio-names");
  char link[512];
  for (int f = 0; f < 3; f++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", f);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n < 0) wrong(&c, "readlink %s: %s", path, en(errno));
    else no_host_path(&c, path, link, (size_t)n);
  }
  /* a host file given as stdin, mapped: its maps line */
  struct stat st0;
  void *map = MAP_FAILED;
  if (fstat(0, &st0) == 0 && S_ISREG(st0.st_mode)) {
    map = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 0, 0);
    if (map == MAP_FAILED) error(&c, "mmap stdin: %s", en(errno));
  }
  int mfd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  size_t ml = 0;
  int me = 0;
  char *maps = mfd >= 0 ? read_fd_all(mfd, &ml, &me) : NULL;
  if (mfd >= 0) close(mfd);
  if (!maps) error(&c, "read /proc/self/maps: %s", en(me ? me : errno));
  else {
    no_host_path(&c, "/proc/self/maps", maps, ml);
    free(maps);
  }
  int cfd = open("/proc/1/cmdline", O_RDONLY | O_CLOEXEC);
  size_t cl = 0;
  int ce = 0;
  char *cmd = cfd >= 0 ? read_fd_all(cfd, &cl, &ce) : NULL;
  if (cfd >= 0) close(cfd);
  if (!cmd) error(&c, "read /proc/1/cmdline: %s", en(ce ? ce : errno));
  else {
    /* (pid 1 may be this program, whose own arguments name host paths) */
    no_launcher(&c, "/proc/1/cmdline", cmd, cl);
    free(cmd);
  }
  if (map != MAP_FAILED) munmap(map, 4096);
  end(&c);
}

/* ---------------------------------------------- clone(CLONE_UNTRACED) */

struct ut_report {
  char cwd[256];
  int inside;   /* errno of access("/inside"), 0 if there */
  int outside;  /* errno of access(outside path) */
  int opened;   /* errno of open(outside path) */
};
static int g_ut_pipe;
static const char *g_ut_outside;

static int ut_child(void *arg) {
  (void)arg;
  struct ut_report r;
  memset(&r, 0, sizeof r);
  if (!getcwd(r.cwd, sizeof r.cwd)) snprintf(r.cwd, sizeof r.cwd, "(getcwd: %s)", en(errno));
  r.inside = access("/inside", F_OK) == 0 ? 0 : errno;
  r.outside = access(g_ut_outside, F_OK) == 0 ? 0 : errno;
  int fd = open(g_ut_outside, O_RDONLY | O_CLOEXEC);
  r.opened = fd >= 0 ? 0 : errno;
  if (write(g_ut_pipe, &r, sizeof r) != sizeof r) syscall(SYS_exit, 3);
  return 0;
}

static void cmd_untraced(void) {
  chk c;
  begin(&c, "untraced-clone");
  g_ut_outside = opt("outside") ? opt("outside") : "/etc/hostname";
  static const struct {
    const char *what;
    unsigned long flags;
    int thread;
  } cases[] = {
      {"fork-like", CLONE_UNTRACED | SIGCHLD, 0},
      {"vfork-like", CLONE_UNTRACED | CLONE_VM | CLONE_VFORK | SIGCHLD, 0},
      {"with CLONE_PTRACE", CLONE_UNTRACED | CLONE_PTRACE | SIGCHLD, 0},
      {"sharing fs", CLONE_UNTRACED | CLONE_FS | SIGCHLD, 0},
      {"thread", CLONE_UNTRACED | CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    int pfd[2];
    if (pipe(pfd) < 0) {
      error(&c, "pipe: %s", en(errno));
      break;
    }
    fflush(stdout);
    /* Each case in a process of its own: it chroots. */
    pid_t helper = fork();
    if (helper == 0) {
      close(pfd[0]);
      g_ut_pipe = pfd[1];
      char jail[64];
      snprintf(jail, sizeof jail, "/tmp/esc-ut-%zu", i);
      mkdir(jail, 0755);
      char sub[96];
      snprintf(sub, sizeof sub, "%s/sub", jail);
      mkdir(sub, 0755);
      char inside[96];
      snprintf(inside, sizeof inside, "%s/inside", jail);
      put_file(inside, "inside\n");
      if (chroot(jail) < 0 || chdir("/sub") < 0) _exit(4);
      size_t stack_size = 1 << 16;
      char *stack = malloc(stack_size);
      int tid = clone(ut_child, stack + stack_size, (int)cases[i].flags, NULL);
      if (tid < 0) _exit(5);
      if (cases[i].thread) {
        sleep(1); /* the thread reports, then exits by itself */
        _exit(0);
      }
      int st;
      waitpid(tid, &st, __WALL);
      _exit(0);
    }
    close(pfd[1]);
    struct ut_report r;
    ssize_t n = read(pfd[0], &r, sizeof r);
    close(pfd[0]);
    int st;
    waitpid(helper, &st, 0);
    if (n != sizeof r) {
      error(&c, "%s: no report (helper status %#x)", cases[i].what, st);
      continue;
    }
    if (strcmp(r.cwd, "/sub")) escaped(&c, "%s: the child's cwd is %s, not its parent's (/sub)", cases[i].what, r.cwd);
    if (r.inside) escaped(&c, "%s: the child does not see its parent's chroot (/inside: %s)", cases[i].what, en(r.inside));
    if (r.outside != ENOENT || r.opened != ENOENT)
      escaped(&c, "%s: the child reached %s outside its parent's chroot (access: %s, open: %s)", cases[i].what, g_ut_outside, en(r.outside), en(r.opened));
  }
  end(&c);
  /* Last: an untraced-clone child that never exits. The sandbox must still
   * end when its init does (the test measures how long tsvisor takes). */
  fflush(stdout);
  syscall(SYS_clone, CLONE_UNTRACED | SIGCHLD, 0, 0, 0, 0) == 0 ? (void)(pause(), _exit(0)) : (void)0;
}

/* ------------------------------------------- reopens of files whose name is gone */

/* heldswap: the Sentry reopens an in-memory file whose last name is gone
 * (open of /proc/self/fd/N) through a reference a guest process holds, an fd
 * or a mapping, opening it as host root. A guest thread swaps that reference
 * (dup2 over the fd slot, mmap MAP_FIXED over the mapping) for a read-only fd
 * or mapping of a host file of the lower layer between the Sentry's look at
 * it and its open: the open must never be of the swapped-in file (a writable
 * fd of the host file), nor open what was swapped in at all (the read end of
 * a pipe). */
static volatile int g_hs_stop;
static int g_hs_slot, g_hs_keep, g_hs_ro;
static void *g_hs_addr;
static void *heldswap_fds(void *arg) {
  (void)arg;
  while (!g_hs_stop) {
    dup2(g_hs_keep, g_hs_slot);
    dup2(g_hs_ro, g_hs_slot);
  }
  return NULL;
}
static void *heldswap_maps(void *arg) {
  (void)arg;
  while (!g_hs_stop) {
    mmap(g_hs_addr, 4096, PROT_READ, MAP_SHARED | MAP_FIXED, g_hs_keep, 0);
    mmap(g_hs_addr, 4096, PROT_READ, MAP_SHARED | MAP_FIXED, g_hs_ro, 0);
  }
  return NULL;
}

enum { HS_FD, HS_MAP, HS_PIPE };
static void heldswap_one(const char *name, const char *victim, int how) {
  int maps = how == HS_MAP;
  chk c;
  begin(&c, name);
  static const char mine[] = "heldswap-in-memory-file\n";
  int ro = open(victim, O_RDONLY | O_CLOEXEC);
  char orig[256] = {0};
  ssize_t ol = ro >= 0 ? pread(ro, orig, sizeof orig - 1, 0) : -1;
  int pp[2] = {-1, -1};
  if (how == HS_PIPE && ro >= 0) {
    if (pipe(pp) < 0) ol = -1;
    close(pp[1]);
    close(ro);
    ro = pp[0];
  }
  char tmp[64];
  snprintf(tmp, sizeof tmp, "/tmp/heldswap-%d", getpid());
  int x = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (ro < 0 || ol <= 0 || x < 0 || write(x, mine, sizeof mine - 1) != (ssize_t)sizeof mine - 1 || unlink(tmp) < 0) {
    error(&c, "setup (victim=, a file in /tmp): %s", en(errno));
    end(&c);
    return;
  }
  /* The reference the thread swaps comes first in the Sentry's scan: a
   * lower fd slot, or (maps) a lower address with the held fd in a child. */
  g_hs_ro = ro;
  g_hs_keep = x;
  g_hs_slot = 150;
  int held = 200;
  if (dup2(x, held) < 0 || dup2(x, g_hs_slot) < 0) error(&c, "dup2: %s", en(errno));
  pid_t child = -1;
  int pfd[2] = {-1, -1};
  if (maps) {
    g_hs_addr = mmap(NULL, 4096, PROT_READ, MAP_SHARED, x, 0);
    if (g_hs_addr == MAP_FAILED || pipe(pfd) < 0) error(&c, "mmap: %s", en(errno));
    /* The opener: a child holding the file by fd; this process holds it
     * only by the mapping the thread swaps (scanned before the child). */
    fflush(stdout);
    child = c.err ? -1 : fork();
    if (child == 0) {
      close(pfd[0]);
      close(g_hs_slot);
      char ok = 'o';
      for (int i = 0; i < 3000; i++) {
        int r = open("/proc/self/fd/200", O_RDWR | O_CLOEXEC);
        if (r < 0) continue;
        char buf[256] = {0};
        ssize_t n = pread(r, buf, sizeof buf - 1, 0);
        close(r);
        if (n == ol && !memcmp(buf, orig, (size_t)n)) {
          ok = 'E';
          break;
        }
      }
      _exit(write(pfd[1], &ok, 1) == 1 ? 0 : 1);
    }
    close(pfd[1]);
    close(g_hs_slot);
  }
  pthread_t th;
  if (!c.err && pthread_create(&th, NULL, maps ? heldswap_maps : heldswap_fds, NULL) != 0) error(&c, "pthread_create");
  if (c.err) {
    end(&c);
    return;
  }
  int got = 0, tries = 0, fails = 0;
  if (maps) {
    char r = 0;
    if (read(pfd[0], &r, 1) != 1) error(&c, "the opener child said nothing");
    got = r == 'E';
    waitpid(child, NULL, 0);
    close(pfd[0]);
  } else {
    for (tries = 0; tries < 3000 && !got; tries++) {
      int r = open("/proc/self/fd/200", (how == HS_PIPE ? O_RDONLY : O_RDWR) | O_CLOEXEC);
      if (r < 0) {
        fails++;
        continue;
      }
      char buf[256] = {0};
      ssize_t n = pread(r, buf, sizeof buf - 1, 0);
      if (how == HS_PIPE ? n != (ssize_t)sizeof mine - 1 : n == ol && !memcmp(buf, orig, (size_t)n)) got = 1;
      close(r);
    }
  }
  g_hs_stop = 1;
  pthread_join(th, NULL);
  g_hs_stop = 0;
  if (got && how == HS_PIPE) escaped(&c, "opening /proc/self/fd/%d gave the pipe swapped into another slot", held);
  else if (got) escaped(&c, "opening /proc/self/fd/%d O_RDWR gave a writable fd of the read-only host file %s", held, victim);
  else if (!maps && fails == tries) error(&c, "every reopen failed: %s", en(errno));
  if (maps) munmap(g_hs_addr, 4096);
  close(held);
  if (!maps) close(g_hs_slot);
  close(x);
  close(ro);
  end(&c);
}

static void cmd_heldswap(void) {
  const char *victim = opt("victim");
  if (!victim) {
    printf("ERROR heldswap: needs victim=\n");
    return;
  }
  heldswap_one("heldswap-fd", victim, HS_FD);
  heldswap_one("heldswap-map", victim, HS_MAP);
  heldswap_one("heldswap-pipe", victim, HS_PIPE);
}

/* hostfdswap: /proc/self/fd/N of an fd the Sentry did not make (a memfd of
 * the guest's) is looked up, checked (a regular file: executable), then
 * opened and read by the Sentry. A sibling thread dup2s the read end of a
 * pipe (its write end held open, nothing written) into slot N meanwhile:
 * whatever the Sentry opens and reads then, it must not wait on the pipe (a
 * read of it waits for data that never comes), so the sandbox's other
 * processes' calls go on. */
static void cmd_hostfdswap(void) {
  chk c;
  begin(&c, "hostfd-swap-exec");
  int p[2];
  g_hs_keep = (int)syscall(SYS_memfd_create, "hostfdswap", 0);
  if (g_hs_keep < 0 || pipe(p) < 0 || write(g_hs_keep, "\177ELF-not-really", 15) != 15 || fchmod(g_hs_keep, 0755) < 0) {
    error(&c, "setup: %s", en(errno));
    end(&c);
    return;
  }
  g_hs_ro = p[0];
  g_hs_slot = 100;
  int *alive = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  fflush(stdout);
  pid_t ticker = fork();
  if (ticker == 0) {
    /* Another process's trapped calls, timed: a Sentry stopped in a read stops them. */
    for (;;) {
      int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd >= 0) close(fd);
      alive[0]++;
      usleep(20000);
    }
  }
  pthread_t th;
  if (pthread_create(&th, NULL, heldswap_fds, NULL) != 0) error(&c, "pthread_create");
  char *argv[] = {"hostfdswap", NULL};
  char *envp[] = {NULL};
  int noexec = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < 3000 && !c.err; i++) {
    execve("/proc/self/fd/100", argv, envp);
    if (errno == ENOEXEC || errno == EACCES || errno == EIO) noexec++;
  }
  g_hs_stop = 1;
  pthread_join(th, NULL);
  g_hs_stop = 0;
  int before = alive[0];
  usleep(200000);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (alive[0] == before) escaped(&c, "another process's calls stopped during execs of a swapped fd");
  if (!noexec && !c.err) error(&c, "no exec of the memfd failed as it should (ENOEXEC): %s", en(errno));
  note(&c, "%d execs failed as expected in %.1f s", noexec, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  kill(ticker, SIGKILL);
  waitpid(ticker, NULL, 0);
  close(g_hs_slot);
  close(g_hs_keep);
  close(p[0]);
  close(p[1]);
  munmap(alive, 4096);
  end(&c);
}

/* fdnameswap: readlink of /proc/self/fd/N for an fd the Sentry did not
 * make (a pipe) names what the kernel says; for one it made, the sandbox
 * path it keeps. A sibling thread swaps a pipe and an fd of the Sentry's
 * (a file of /tmp, a directory, an O_PATH fd of a /proc file) in slot N:
 * the name shown must be one of theirs, never the host's name of the
 * Sentry's object (its storage or placeholder) that a link read after the
 * Sentry's look at the fd shows. */
static void fdnameswap_one(const char *name, int keep, const char *want) {
  chk c;
  begin(&c, name);
  int p[2];
  if (keep < 0 || pipe(p) < 0) {
    error(&c, "setup: %s", en(errno));
    end(&c);
    return;
  }
  char pipename[64], link[256];
  struct stat st;
  fstat(p[0], &st);
  snprintf(pipename, sizeof pipename, "pipe:[%lu]", (unsigned long)st.st_ino);
  g_hs_keep = keep;
  g_hs_ro = p[0];
  g_hs_slot = 150;
  dup2(keep, g_hs_slot);
  pthread_t th;
  if (pthread_create(&th, NULL, heldswap_fds, NULL) != 0) error(&c, "pthread_create");
  int seen = 0;
  for (int i = 0; i < 10000 && !c.err && !c.esc; i++) {
    ssize_t n = readlink("/proc/self/fd/150", link, sizeof link - 1);
    if (n < 0) continue;
    link[n] = 0;
    seen++;
    if (strcmp(link, pipename) && strcmp(link, want)) escaped(&c, "/proc/self/fd/150 read \"%s\": neither the pipe nor %s", link, want);
  }
  g_hs_stop = 1;
  pthread_join(th, NULL);
  g_hs_stop = 0;
  if (!seen && !c.err) error(&c, "no readlink succeeded: %s", en(errno));
  close(g_hs_slot);
  close(keep);
  close(p[0]);
  close(p[1]);
  end(&c);
}

static void cmd_fdnameswap(void) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "/tmp/fdnameswap-%d", getpid());
  fdnameswap_one("fdnameswap-tmpfile", open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), tmp);
  unlink(tmp);
  fdnameswap_one("fdnameswap-dir", open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC), "/tmp");
  snprintf(tmp, sizeof tmp, "/proc/%d/status", (int)getpid());
  fdnameswap_one("fdnameswap-opath", open(tmp, O_PATH | O_CLOEXEC), tmp);
}

/* pidreuse: /proc/PID files of a child held (O_PATH) while it lives, and
 * /proc/self/task/TID/mem of a thread while it runs, reopened through
 * /proc/self/fd after the child was reaped and the thread ended, once the
 * test (the adversary's patience: host forks that land on the freed pids)
 * has put processes of the host uid the sandbox's root maps to, with
 * secret= in their environment, at their host pids. The Sentry must see that
 * what it checked is gone, not open the host's /proc/PID of whatever holds
 * the number now. The test drives it through stdin: a line to end the child
 * and the thread, a line once the other processes are there. */
static int g_pr_pipe[2];
static volatile pid_t g_pr_tid;
static void *pidreuse_thread(void *arg) {
  (void)arg;
  char b;
  g_pr_tid = (pid_t)syscall(SYS_gettid);
  return read(g_pr_pipe[0], &b, 1) == 1 ? NULL : arg;
}

static void cmd_pidreuse(void) {
  const char *secret = opt("secret");
  chk mem, env, tmem;
  begin(&mem, "pidreuse-mem");
  begin(&env, "pidreuse-environ");
  begin(&tmem, "pidreuse-thread-mem");
  pthread_t th;
  if (pipe(g_pr_pipe) < 0 || pthread_create(&th, NULL, pidreuse_thread, NULL) != 0) error(&mem, "thread: %s", en(errno));
  while (!mem.err && !g_pr_tid) usleep(1000);
  if (!secret) error(&mem, "needs secret=");
  fflush(stdout);
  pid_t child = mem.err ? -1 : fork();
  if (child == 0) {
    for (;;) pause();
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/mem", (int)child);
  int hm = child > 0 ? open(path, O_PATH | O_CLOEXEC) : -1;
  snprintf(path, sizeof path, "/proc/%d/environ", (int)child);
  int he = child > 0 ? open(path, O_PATH | O_CLOEXEC) : -1;
  snprintf(path, sizeof path, "/proc/self/task/%d/mem", (int)g_pr_tid);
  int ht = open(path, O_PATH | O_CLOEXEC);
  char line[64];
  if (ht < 0) error(&tmem, "O_PATH open of %s: %s", path, en(errno));
  if (hm < 0 || he < 0) error(&mem, "setup (fork, O_PATH opens of /proc/%d): %s", (int)child, en(errno));
  fprintf(stderr, "PIDREUSE-HELD\n");
  if (!mem.err && !fgets(line, sizeof line, stdin)) error(&mem, "no line from the test on stdin");
  if (child > 0) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
  }
  if (g_pr_tid && (write(g_pr_pipe[1], "x", 1) != 1 || pthread_join(th, NULL) != 0)) error(&tmem, "ending the thread: %s", en(errno));
  fprintf(stderr, "PIDREUSE-REAPED\n");
  if (!mem.err && !fgets(line, sizeof line, stdin)) error(&mem, "no second line from the test on stdin");
  if (!mem.err) {
    snprintf(path, sizeof path, "/proc/self/fd/%d", hm);
    int r = open(path, O_RDWR | O_CLOEXEC);
    if (r >= 0) escaped(&mem, "reopening /proc/%d/mem after the process was reaped opened the process now at its pid, read-write", (int)child);
    if (r >= 0) close(r);
    snprintf(path, sizeof path, "/proc/self/fd/%d", he);
    r = open(path, O_RDONLY | O_CLOEXEC);
    char buf[8192];
    ssize_t n = r >= 0 ? read(r, buf, sizeof buf - 1) : -1;
    if (n > 0) {
      buf[n] = 0;
      for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
        if (strstr(buf + i, secret)) escaped(&env, "reopening /proc/%d/environ after the process was reaped read another process's environment", (int)child);
    }
    if (r >= 0) close(r);
    snprintf(path, sizeof path, "/proc/self/fd/%d", ht);
    r = tmem.err ? -1 : open(path, O_RDWR | O_CLOEXEC);
    if (r >= 0) escaped(&tmem, "reopening /proc/self/task/%d/mem after the thread ended opened the process now at its tid, read-write", (int)g_pr_tid);
    if (r >= 0) close(r);
  }
  close(hm);
  close(he);
  close(ht);
  close(g_pr_pipe[0]);
  close(g_pr_pipe[1]);
  end(&mem);
  end(&env);
  end(&tmem);
}

/* sendreuse: a thread's blocking sendmsg on a unix stream socket, whose
 * second iovec the Sentry copies only once the first went out. An exec by
 * the main thread ends the sending thread meanwhile; the test puts a host
 * process (`escape holdsecret`, the same static binary: the same address
 * holds its secret) at the thread's host tid; then the new image drains the
 * socket. What comes out must never be that process's memory. */
static char g_sr_secret[64];
static char g_sr_fill[8 << 20];
static int g_sr_sock;
/* sendmmsg's vector: the Sentry writes the count sent at offset 56 (msg_len) */
static struct mmsghdr g_sr_mm;
static void *sendreuse_thread(void *arg) {
  struct iovec iov[2] = {{g_sr_fill, sizeof g_sr_fill}, {g_sr_secret, sizeof g_sr_secret}};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = iov;
  mh.msg_iovlen = 2;
  if (arg) {
    g_sr_mm.msg_hdr = mh;
    return sendmmsg(g_sr_sock, &g_sr_mm, 1, 0) < 0 ? arg : NULL;
  }
  return sendmsg(g_sr_sock, &mh, 0) < 0 ? &g_sr_sock : NULL;
}

/* The host process at the ended thread's tid: its secret where the guest's
 * iovec points, and a watch on its own sendmmsg vector's count. */
static void cmd_holdsecret(void) {
  const char *secret = opt("secret");
  snprintf(g_sr_secret, sizeof g_sr_secret, "%s", secret ? secret : "");
  memset(&g_sr_mm, 0x5a, sizeof g_sr_mm);
  printf("READY\n");
  fflush(stdout);
  for (int i = 0; i < 6000; i++) {
    if (g_sr_mm.msg_len != 0x5a5a5a5au) {
      printf("CHANGED msg_len %u\n", g_sr_mm.msg_len);
      fflush(stdout);
      break;
    }
    usleep(10000);
  }
}

static void cmd_sendreuse(void) {
  const char *secret = opt("secret"), *rfd = opt("rfd"), *how = opt("how");
  int mmsg = how && !strcmp(how, "mmsg");
  chk c;
  begin(&c, mmsg ? "sendreuse-mmsg" : "sendreuse-memory");
  char line[64];
  if (!secret) error(&c, "needs secret=");
  if (!c.err && !rfd) {
    int sv[2];
    pthread_t th;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) error(&c, "socketpair: %s", en(errno));
    g_sr_sock = sv[0];
    if (!c.err && pthread_create(&th, NULL, sendreuse_thread, mmsg ? &g_sr_mm : NULL) != 0) error(&c, "pthread_create");
    if (c.err) {
      end(&c);
      return;
    }
    usleep(300000);
    fprintf(stderr, "SENDREUSE-BLOCKED\n");
    if (!fgets(line, sizeof line, stdin)) error(&c, "no line from the test on stdin");
    char a1[300], a2[32];
    snprintf(a1, sizeof a1, "secret=%s", secret);
    snprintf(a2, sizeof a2, "rfd=%d", sv[1]);
    char *argv[] = {"escape", "sendreuse", a1, a2, mmsg ? "how=mmsg" : NULL, NULL};
    fflush(stdout);
    if (!c.err) execv("/proc/self/exe", argv);
    error(&c, "exec: %s", en(errno));
    end(&c);
    return;
  }
  if (!c.err) {
    fprintf(stderr, "SENDREUSE-EXECED\n");
    if (!fgets(line, sizeof line, stdin)) error(&c, "no second line from the test on stdin");
  }
  int fd = rfd ? atoi(rfd) : -1;
  static char buf[1 << 16];
  size_t keep = 0, total = 0;
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    if (c.err || poll(&pfd, 1, 2000) <= 0) break;
    ssize_t n = read(fd, buf + keep, sizeof buf - 1 - keep);
    if (n <= 0) break;
    total += (size_t)n;
    buf[keep + (size_t)n] = 0;
    for (size_t i = 0; i < keep + (size_t)n; i++)
      if (buf[i] == secret[0] && !strncmp(buf + i, secret, strlen(secret))) escaped(&c, "the socket carried another process's memory, read at the ended thread's tid");
    if (c.esc) break;
    keep = 0;
  }
  note(&c, "%zu bytes received", total);
  end(&c);
}

/* ------------------------------------------------------- setuid binaries */

/* execonly: the fd the Sentry installs for an exec lives in the guest's fd
 * table until the kernel closes it with the old image, and a process sharing
 * that table (CLONE_FILES) keeps it past the exec. Running as uid 1000, it
 * must not read through it a program 0711 owned by root. */
static volatile int *g_execonly; /* [0] bytes of the secret read, [1] fds seen */
static int execonly_sharer(void *arg) {
  const char *secret = arg;
  static char buf[1 << 20];
  for (int it = 0; it < 20000 && !g_execonly[0]; it++) {
    for (int fd = 3; fd < 64; fd++) {
      if (fcntl(fd, F_GETFD) < 0) continue;
      g_execonly[1]++;
      ssize_t n = pread(fd, buf, sizeof buf, 0);
      if (n > 0 && memmem(buf, n, secret, strlen(secret))) g_execonly[0] = (int)n;
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
      int r = open(link, O_RDONLY);
      if (r < 0) continue;
      n = pread(r, buf, sizeof buf, 0);
      if (n > 0 && memmem(buf, n, secret, strlen(secret))) g_execonly[0] = (int)n;
      close(r);
    }
  }
  return 0;
}

static void cmd_execonly(void) {
  const char *prog = opt("prog"), *secret = opt("secret");
  chk c;
  begin(&c, "exec-only-fd");
  g_execonly = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (!prog || !secret || g_execonly == MAP_FAILED || setgroups(0, NULL) || setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000)) {
    error(&c, "setup (prog=, secret=, become uid 1000): %s", en(errno));
    end(&c);
    return;
  }
  int fd = open(prog, O_RDONLY);
  if (fd >= 0 || errno != EACCES) error(&c, "setup: uid 1000 opening %s for reading: %s, not EACCES", prog, fd >= 0 ? "allowed" : en(errno));
  int ran = 0;
  for (int i = 0; i < 100 && !c.err && !g_execonly[0]; i++) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
      static char stack[1 << 16];
      if (clone(execonly_sharer, stack + sizeof stack, CLONE_FILES | SIGCHLD, (void *)secret) < 0) _exit(98);
      usleep(1000);
      char *argv[] = {(char *)prog, NULL};
      char *envp[] = {NULL};
      execve(prog, argv, envp);
      _exit(99);
    }
    int status;
    if (waitpid(p, &status, 0) != p) error(&c, "waitpid: %s", en(errno));
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 7) ran++;
    while (waitpid(-1, NULL, __WALL) > 0) {
    }
  }
  if (!ran && !c.err) error(&c, "%s never ran (exit 7)", prog);
  if (g_execonly[0]) escaped(&c, "read %d bytes of the execute-only %s through the exec's fd (%d fds seen)", g_execonly[0], prog, g_execonly[1]);
  end(&c);
}

static int cmd_ids(void) {
  uid_t r, e, sv;
  gid_t gr, ge, gs;
  getresuid(&r, &e, &sv);
  getresgid(&gr, &ge, &gs);
  printf("IDS %u %u %u %u %u %u\n", r, e, sv, gr, ge, gs);
  return 0;
}

static void cmd_suid(void) {
  chk c;
  begin(&c, "setuid-host-binary");
  /* A setuid-root (and a setuid-12345) host binary run from the sandbox must
   * not change the caller's ids: no_new_privs, and host uid 0 is not mapped. */
  const char *ps[] = {opt("suidroot"), opt("suidother")};
  if (!ps[0] || !ps[1]) error(&c, "needs suidroot=, suidother=");
  for (int i = 0; i < 2 && ps[0] && ps[1]; i++) {
    int pfd[2];
    if (pipe(pfd) < 0) break;
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
      dup2(pfd[1], 1);
      char *argv[] = {(char *)ps[i], "ids", NULL};
      execv(ps[i], argv);
      _exit(127);
    }
    close(pfd[1]);
    char buf[256] = {0};
    ssize_t n = 0, k;
    while (n < (ssize_t)sizeof buf - 1 && (k = read(pfd[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0) n += k;
    close(pfd[0]);
    int st;
    waitpid(p, &st, 0);
    unsigned v[6];
    uid_t r, e, sv;
    getresuid(&r, &e, &sv);
    if (sscanf(buf, "IDS %u %u %u %u %u %u", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
      error(&c, "%s printed [%s] (status %#x)", ps[i], snip(buf, (size_t)n), st);
    else if (v[0] != r || v[1] != e || v[2] != sv)
      escaped(&c, "running setuid %s changed the ids from %u/%u/%u to %u/%u/%u", ps[i], r, e, sv, v[0], v[1], v[2]);
  }
  end(&c);
}

/* ================================================================= host side */

static int g_canary_out = 1;
static void canary_handler(int sig, siginfo_t *si, void *u) {
  (void)u;
  char b[96];
  int n = snprintf(b, sizeof b, "SIG %d from %d code %d\n", sig, si->si_pid, si->si_code);
  if (write(g_canary_out, b, (size_t)n) < 0) _exit(4);
}

static int host_canary(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = canary_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  int sigs[] = {SIGWINCH, SIGCONT, SIGURG, SIGUSR1, SIGUSR2, SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGPIPE, SIGALRM};
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaction(sigs[i], &sa, NULL);
  printf("READY %d uid %d pgrp %d sid %d\n", getpid(), getuid(), getpgrp(), getsid(0));
  fflush(stdout);
  for (;;) pause();
  return 0;
}

static int host_server(void) {
  const char *sock = opt("sock"), *dgram = opt("dgram"), *abs_ = opt("abstract"), *absd = opt("abstractdgram");
  int fds[4] = {-1, -1, -1, -1};
  struct sockaddr_un a;
  socklen_t al;
  if (sock) {
    unlink(sock);
    fds[0] = socket(AF_UNIX, SOCK_STREAM, 0);
    al = (socklen_t)un_addr(&a, sock, 0);
    if (bind(fds[0], (struct sockaddr *)&a, al) < 0 || listen(fds[0], 16) < 0) perror("stream");
    chmod(sock, 0777);
  }
  if (dgram) {
    unlink(dgram);
    fds[1] = socket(AF_UNIX, SOCK_DGRAM, 0);
    al = (socklen_t)un_addr(&a, dgram, 0);
    if (bind(fds[1], (struct sockaddr *)&a, al) < 0) perror("dgram");
    chmod(dgram, 0777);
  }
  if (abs_) {
    fds[2] = socket(AF_UNIX, SOCK_STREAM, 0);
    al = (socklen_t)un_addr(&a, abs_, 1);
    if (bind(fds[2], (struct sockaddr *)&a, al) < 0 || listen(fds[2], 16) < 0) perror("abstract");
  }
  if (absd) {
    fds[3] = socket(AF_UNIX, SOCK_DGRAM, 0);
    al = (socklen_t)un_addr(&a, absd, 1);
    if (bind(fds[3], (struct sockaddr *)&a, al) < 0) perror("abstract dgram");
  }
  printf("READY %d\n", getpid());
  fflush(stdout);
  const char *names[] = {"stream", "dgram", "abstract", "abstract-dgram"};
  for (;;) {
    struct pollfd pf[4];
    for (int i = 0; i < 4; i++) pf[i] = (struct pollfd){fds[i], POLLIN, 0};
    if (poll(pf, 4, -1) < 0) continue;
    for (int i = 0; i < 4; i++) {
      if (!(pf[i].revents & POLLIN)) continue;
      char buf[256];
      if (i == 0 || i == 2) {
        int s = accept(fds[i], NULL, NULL);
        if (s < 0) continue;
        struct pollfd q = {s, POLLIN, 0};
        ssize_t n = poll(&q, 1, 500) > 0 ? read(s, buf, sizeof buf - 1) : 0;
        if (n < 0) n = 0;
        buf[n] = 0;
        printf("CONNECTION %s [%s]\n", names[i], snip(buf, (size_t)n));
        close(s);
      } else {
        ssize_t n = recv(fds[i], buf, sizeof buf - 1, 0);
        if (n < 0) n = 0;
        buf[n] = 0;
        printf("DATAGRAM %s [%s]\n", names[i], snip(buf, (size_t)n));
      }
      fflush(stdout);
    }
  }
  return 0;
}

static uint64_t fnv(const char *d, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)d[i];
    h *= 1099511628211ULL;
  }
  return h;
}

static void snap(const char *root, const char *rel) {
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s%s%s", root, *rel ? "/" : "", rel);
  DIR *d = opendir(p);
  if (!d) return;
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    names = realloc(names, (n + 1) * sizeof *names);
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmpstr);
  for (size_t i = 0; i < n; i++) {
    char r[PATH_MAX], full[PATH_MAX * 2 + 2];
    snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", names[i]);
    snprintf(full, sizeof full, "%s/%s", root, r);
    struct stat st;
    if (lstat(full, &st) < 0) continue;
    printf("%s mode=%o uid=%u gid=%u nlink=%lu size=%lld ino=%lu mtime=%ld.%09ld ctime=%ld.%09ld", r, st.st_mode, st.st_uid,
           st.st_gid, (unsigned long)st.st_nlink, (long long)st.st_size, (unsigned long)st.st_ino, st.st_mtim.tv_sec,
           st.st_mtim.tv_nsec, st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
    if (S_ISLNK(st.st_mode)) {
      char t[PATH_MAX];
      ssize_t k = readlink(full, t, sizeof t - 1);
      t[k < 0 ? 0 : k] = 0;
      printf(" -> %s", t);
    }
    char xl[4096];
    ssize_t xn = llistxattr(full, xl, sizeof xl);
    for (ssize_t o = 0; xn > 0 && o < xn; o += (ssize_t)strlen(xl + o) + 1) printf(" xattr=%s", xl + o);
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
      int fd = open(full, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) {
        int fl = 0;
        if (ioctl(fd, FS_IOC_GETFLAGS, &fl) == 0) printf(" flags=%x", fl);
        if (S_ISREG(st.st_mode)) {
          size_t len;
          int err;
          char *data = read_fd_all(fd, &len, &err);
          printf(" fnv=%016llx", (unsigned long long)fnv(data, len));
          free(data);
        }
        close(fd);
      }
    }
    printf("\n");
    if (S_ISDIR(st.st_mode)) snap(root, r);
    free(names[i]);
  }
  free(names);
}

/* ====================================================================== main */

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  g_argv0 = argv[0];
  if (argc < 2) {
    fprintf(stderr, "usage: escape SUBCOMMAND [key=value...]\n");
    return 2;
  }
  const char *cmd = argv[1];
  for (int i = 2; i < argc && g_nopts < 64; i++) {
    char *eq = strchr(argv[i], '=');
    if (!eq) continue;
    *eq = 0;
    g_keys[g_nopts] = argv[i];
    g_vals[g_nopts++] = eq + 1;
  }
  if (!strcmp(cmd, "exit42")) return 42;
  if (!strcmp(cmd, "exitelf") && argc == 4) return put_exit_elf(argv[2], (unsigned char)atoi(argv[3]), NULL, 0) ? 1 : 0;
  if (!strcmp(cmd, "int80probe")) return cmd_int80probe();
  if (!strcmp(cmd, "ids")) return cmd_ids();
  if (!strcmp(cmd, "canary")) return host_canary();
  if (!strcmp(cmd, "server")) return host_server();
  if (!strcmp(cmd, "snapshot")) {
    snap(argc > 2 ? argv[2] : ".", "");
    return 0;
  }

  load_root();
  if (g_root.err) printf("ERROR setup: cannot list / (%s)\n", en(g_root.err));

  static const struct {
    const char *name;
    void (*fn)(void);
  } cmds[] = {
      {"dotdot", cmd_dotdot},         {"symlink", cmd_symlink},     {"symlinkops", cmd_symlinkops},
      {"race", cmd_race},             {"procroot", cmd_procroot},   {"dirfds", cmd_dirfds},
      {"privileged", cmd_privileged}, {"chroot", cmd_chroot},       {"int80", cmd_int80},
      {"x32", cmd_x32},               {"signals", cmd_signals},     {"procsys", cmd_procsys},
      {"tiocsti", cmd_tiocsti},       {"devices", cmd_devices},     {"unixsock", cmd_unixsock},
      {"overlaywrite", cmd_overlaywrite}, {"linkrename", cmd_linkrename}, {"forgedexec", cmd_forgedexec},
      {"execswap", cmd_execswap},     {"execonly", cmd_execonly},   {"heldswap", cmd_heldswap},
      {"suid", cmd_suid},             {"magiclink", cmd_magiclink}, {"stdio", cmd_stdio},     {"stdiofifo", cmd_stdiofifo},   {"hostfdswap", cmd_hostfdswap}, {"blockedcalls", cmd_blockedcalls},
      {"untraced", cmd_untraced},     {"names", cmd_names},         {"pidreuse", cmd_pidreuse},     {"fdnameswap", cmd_fdnameswap}, {"sendreuse", cmd_sendreuse}, {"holdsecret", cmd_holdsecret},
  };
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
    if (!strcmp(cmd, cmds[i].name)) {
      cmds[i].fn();
      printf("END %s\n", cmd);
      fflush(stdout);
      return 0;
    }
  }
  fprintf(stderr, "escape: unknown subcommand %s\n", cmd);
  return 2;
}
