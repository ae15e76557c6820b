/*
 * tsvisor-launcher: the first process of a sandbox.
 *
 * The Sentry creates it with clone() in new mount/pid/ipc/uts (and usually
 * net) namespaces, as real root (or, --rootless, as root of an outer user
 * namespace owning them). It then:
 *   1. makes every mount private, bind-mounts the container root read-only
 *      (non-recursively) and pivots into it, so natively executed calls can
 *      only ever reach the sandbox's own read-only files. This must happen
 *      before the user namespace exists: inside one, the kernel refuses a
 *      non-recursive bind of a mount with locked submounts (such as /);
 *   2. brings up loopback, sets the hostname and domain name;
 *   3. enters a new user namespace and has the Sentry map its root to an
 *      unprivileged host uid; that namespace owns none of the others, so the
 *      guest's capabilities never reach mounts, networking or the hostname;
 *   4. sets rlimits, identity and umask and the five capability sets as runc
 *      does (bounding; keep-caps across setuid; effective, permitted,
 *      inheritable; ambient);
 *   5. receives the BPF program over the control socket and installs it with
 *      NEW_LISTENER | WAIT_KILLABLE_RECV, passes the listener back. The
 *      kernel installs a filter only for a task with no_new_privs or with
 *      CAP_SYS_ADMIN in its user namespace: by default no_new_privs is set
 *      first; with --keep-privs (OCI noNewPrivileges false) the launcher
 *      holds CAP_SYS_ADMIN for the install instead and drops it after the go
 *      signal if the container's sets lack it. Either way the filter stays
 *      for every descendant, and the guest's view is nosuid (enter_root):
 *      set-id bits take effect only through the Sentry's set-id store
 *      (--setid-store, make_setid_store);
 *   6. waits for the go signal; if the container has a seccomp profile of
 *      its own (OCI linux.seccomp), installs it as a second filter, as late
 *      as runc does (only the exec follows) and without a listener (a task
 *      may have only one); the kernel runs both filters and keeps the stricter
 *      answer. Then it execs the command (with --init, it forks and stays as
 *      pid 1 while the child execs it: see run_init). From step 5 on every
 *      call it makes goes through the filters, so the Sentry (which
 *      ptrace-seized it before sending go) resolves that execve like any
 *      other.
 *
 * Protocol on the control socket (SOCK_SEQPACKET, fd 3 unless --ctl):
 *   launcher -> Sentry  'U' + int             user namespace made: map it;
 *                                             the set-id store's fd or -1
 *   Sentry -> launcher  'M'                   maps written
 *   Sentry -> launcher  'F' + sock_filter[]   the filter
 *   launcher -> Sentry  'L' + int             the listener's fd number
 *   Sentry -> launcher  'S' + u32 flags + sock_filter[]
 *                                             optional: the OCI seccomp profile
 *                                             and its SECCOMP_FILTER_FLAG_*s
 *   Sentry -> launcher  'G'                   go
 *   launcher -> Sentry  'E' + text            a fatal setup error
 * With --join, the launcher first sends 'P' + pid (the process it forked
 * into the container, which goes on from 'F').
 *
 * Every wait here is for the Sentry, without a clock: a slow Sentry is waited
 * for; end-of-file means it went away or gave up (it reports why), and the
 * launcher leaves quietly with status 125. The launcher dies with the Sentry
 * in any case: the parent-death signal is set from the clone on
 * (spawnSandbox) and again after every change of credentials (which clears
 * it), and once the Sentry has seized the launcher, PTRACE_O_EXITKILL. (A
 * process forked with --join is in the container's pid namespace: it dies
 * with the container's init.)
 *
 * --rootless (an ordinary user's sandbox, docs/design.md "Rootless"): the
 * Sentry clones the launcher into an outer user namespace as well, mapping
 * only the caller (0 -> caller); that namespace owns the others, so the
 * launcher can build them as its root. The root view is then a recursive
 * clone (the kernel refuses a non-recursive one of a mount with locked
 * submounts) whose submounts are covered by empty read-only mounts, which
 * shows what the non-recursive clone shows. The launcher maps its inner
 * user namespace itself (the Sentry, two levels up, may not): the guest's
 * uid and gid (--user, the caller's own) -> outer root, the only ids Linux
 * lets an unprivileged namespace map. No 'U'/'M' exchange takes place, and
 * the guest keeps the caller's supplementary groups (setgroups is denied).
 *
 * --stop-at U|L (tests only): wait for SIGCONT right before sending 'U' or
 * 'L', so a test can act on a launcher caught at that step.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

#define MAX_RLIMITS 32
#define MAX_GROUPS 64
#define MAX_SYSCTLS 64

static int ctl = 3;
/* the set-id exec store's root (make_setid_store), or -1 */
static int setid_store = -1;
static char stop_at;

static void fail(const char *fmt, ...) {
  char buf[1024];
  buf[0] = 'E';
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + 1, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
  if (send(ctl, buf, n + 1, MSG_NOSIGNAL) < 0) {
    fprintf(stderr, "tsvisor-launcher: %s\n", buf + 1);
  }
  _exit(125);
}

struct options {
  const char *root;
  const char *hostname;
  const char *domainname;
  const char *netns;
  const char *ipcns;
  const char *utsns;
  pid_t join;
  int lo_up;
  int init;
  int foreground;
  int ctty;
  int rootless;
  int have_caps;
  /* OCI process.capabilities, masks */
  unsigned long long bounding, effective, permitted, inheritable, ambient;
  int keep_privs;
  /* --setid-store SIZE: tmpfs size= of the set-id exec store (make_setid_store) */
  const char *setid_store;
  int have_user;
  uid_t uid;
  gid_t gid;
  gid_t groups[MAX_GROUPS];
  int ngroups;
  int umask_set;
  mode_t umask;
  int oom_adj_set;
  int oom_adj;
  int nrl;
  struct {
    int res;
    struct rlimit lim;
  } rl[MAX_RLIMITS];
  int nsysctl;
  const char *sysctl[MAX_SYSCTLS]; /* "dotted.name=value" */
  char **argv;
};

static unsigned long long num(const char *s, const char *what) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || *end || end == s) fail("bad %s: %s", what, s);
  return v;
}

static void parse(int argc, char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  int i;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
    if (!strcmp(a, "--lo-up")) {
      o->lo_up = 1;
      continue;
    }
    if (!strcmp(a, "--foreground")) {
      o->foreground = 1;
      continue;
    }
    if (!strcmp(a, "--init")) {
      o->init = 1;
      continue;
    }
    if (!strcmp(a, "--ctty")) {
      o->ctty = 1;
      continue;
    }
    if (!strcmp(a, "--rootless")) {
      o->rootless = 1;
      continue;
    }
    if (!strcmp(a, "--keep-privs")) {
      o->keep_privs = 1;
      continue;
    }
    if (!v) fail("option %s needs a value", a);
    i++;
    if (!strcmp(a, "--ctl")) ctl = (int)num(v, "ctl fd");
    else if (!strcmp(a, "--root")) o->root = v;
    else if (!strcmp(a, "--setid-store")) o->setid_store = v;
    else if (!strcmp(a, "--hostname")) o->hostname = v;
    else if (!strcmp(a, "--domainname")) o->domainname = v;
    else if (!strcmp(a, "--netns")) o->netns = v;
    else if (!strcmp(a, "--ipcns")) o->ipcns = v;
    else if (!strcmp(a, "--utsns")) o->utsns = v;
    else if (!strcmp(a, "--join")) o->join = (pid_t)num(v, "pid");
    else if (!strcmp(a, "--stop-at")) stop_at = v[0];
    else if (!strcmp(a, "--caps")) {
      /* bounding:effective:permitted:inheritable:ambient masks */
      char *copy = strdup(v), *save = NULL;
      unsigned long long *set[] = {&o->bounding, &o->effective, &o->permitted, &o->inheritable, &o->ambient};
      for (int k = 0; k < 5; k++) {
        char *t = strtok_r(k ? NULL : copy, ":", &save);
        if (!t) fail("bad --caps %s", v);
        *set[k] = num(t, "capability mask");
      }
      o->have_caps = 1;
      free(copy);
    } else if (!strcmp(a, "--user")) {
      /* uid:gid[:g1,g2,...] */
      char *copy = strdup(v), *save = NULL;
      char *u = strtok_r(copy, ":", &save), *g = strtok_r(NULL, ":", &save), *gs = strtok_r(NULL, ":", &save);
      if (!u || !g) fail("bad --user %s", v);
      o->have_user = 1;
      o->uid = (uid_t)num(u, "uid");
      o->gid = (gid_t)num(g, "gid");
      for (char *t = gs ? strtok_r(gs, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
        if (o->ngroups == MAX_GROUPS) fail("too many groups");
        o->groups[o->ngroups++] = (gid_t)num(t, "gid");
      }
      free(copy);
    } else if (!strcmp(a, "--umask")) {
      o->umask_set = 1;
      o->umask = (mode_t)num(v, "umask");
    } else if (!strcmp(a, "--oom-score-adj")) {
      o->oom_adj_set = 1;
      o->oom_adj = (int)strtol(v, NULL, 10);
    } else if (!strcmp(a, "--rlimit")) {
      /* resource:soft:hard, numbers; "inf" for unlimited */
      if (o->nrl == MAX_RLIMITS) fail("too many rlimits");
      char *copy = strdup(v), *save = NULL;
      char *r = strtok_r(copy, ":", &save), *s = strtok_r(NULL, ":", &save), *h = strtok_r(NULL, ":", &save);
      if (!r || !s || !h) fail("bad --rlimit %s", v);
      o->rl[o->nrl].res = (int)num(r, "rlimit resource");
      o->rl[o->nrl].lim.rlim_cur = strcmp(s, "inf") ? num(s, "rlimit") : RLIM_INFINITY;
      o->rl[o->nrl].lim.rlim_max = strcmp(h, "inf") ? num(h, "rlimit") : RLIM_INFINITY;
      o->nrl++;
      free(copy);
    } else if (!strcmp(a, "--sysctl")) {
      if (o->nsysctl == MAX_SYSCTLS) fail("too many sysctls");
      if (!strchr(v, '=')) fail("bad --sysctl %s", v);
      o->sysctl[o->nsysctl++] = v;
    } else fail("unknown launcher option %s", a);
  }
  if (i >= argc) fail("no command");
  if (!o->root && !o->join) fail("no --root");
  o->argv = argv + i;
}

/* Namespaced sysctls (the Sentry accepts only those a namespace of the
 * sandbox's own isolates): /proc/sys applies them to the writer's network
 * and IPC namespaces, so this runs in ours, before the pivot hides /proc. */
static void apply_sysctls(const struct options *o) {
  for (int i = 0; i < o->nsysctl; i++) {
    const char *eq = strchr(o->sysctl[i], '=');
    char path[256] = "/proc/sys/";
    size_t len = strlen(path), n = (size_t)(eq - o->sysctl[i]);
    if (n == 0 || len + n >= sizeof path) fail("bad sysctl %s", o->sysctl[i]);
    for (size_t j = 0; j < n; j++) {
      char c = o->sysctl[i][j];
      if (c == '/') fail("bad sysctl %s", o->sysctl[i]);
      path[len + j] = c == '.' ? '/' : c;
    }
    path[len + n] = 0;
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) fail("sysctl %.*s: %s", (int)n, o->sysctl[i], strerror(errno));
    size_t vlen = strlen(eq + 1);
    if (write(fd, eq + 1, vlen) != (ssize_t)vlen) fail("sysctl %.*s: %s", (int)n, o->sysctl[i], strerror(errno));
    close(fd);
  }
}

/* A non-recursive clone of the root is made with open_tree() and moved onto
 * a private staging tmpfs (over /proc, which every host has; this mount
 * namespace is ours alone). Binding the root onto itself would not do: a
 * path walk to "/" stays on the original root mount, so pivot_root would
 * see the same mount and refuse. */
#define STAGE "/proc"
#define STAGED_ROOT STAGE "/root"
#define EMPTY_FILE STAGE "/empty"
#define MAX_SUBMOUNTS 4096

/* Rootless: the mount points below `root`, the topmost of each stack and
 * branch (covering one hides everything mounted beneath it), relative to
 * `root`, from /proc/self/mountinfo (octal escapes undone). */
struct submounts {
  int n;
  char *path[MAX_SUBMOUNTS];
};

static void unescape(char *s) {
  char *out = s;
  for (char *in = s; *in; out++) {
    if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' && in[3] <= '7') {
      *out = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
      in += 4;
    } else {
      *out = *in++;
    }
  }
  *out = 0;
}

static int below(const char *path, const char *dir) {
  size_t n = strlen(dir);
  if (n == 1) return path[0] == '/' && path[1] != 0;
  return !strncmp(path, dir, n) && path[n] == '/';
}

static void list_submounts(const char *root, struct submounts *subs) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) fail("read the mount table: %s", strerror(errno));
  char *line = NULL;
  size_t cap = 0;
  subs->n = 0;
  while (getline(&line, &cap, f) > 0) {
    /* id parent major:minor root mount-point ... */
    char *save = NULL, *mp = NULL;
    char *t = strtok_r(line, " ", &save);
    for (int field = 0; t && field < 4; field++) t = strtok_r(NULL, " ", &save);
    mp = t;
    if (!mp) continue;
    unescape(mp);
    if (!below(mp, root)) continue;
    int dup = 0;
    for (int i = 0; i < subs->n && !dup; i++) dup = !strcmp(subs->path[i], mp);
    if (dup) continue;
    if (subs->n == MAX_SUBMOUNTS) fail("more than %d mounts below %s", MAX_SUBMOUNTS, root);
    subs->path[subs->n] = strdup(mp);
    if (!subs->path[subs->n]) fail("out of memory");
    subs->n++;
  }
  free(line);
  fclose(f);
  int kept = 0;
  for (int i = 0; i < subs->n; i++) {
    int inner = 0;
    for (int j = 0; j < subs->n && !inner; j++) inner = j != i && below(subs->path[i], subs->path[j]);
    if (inner) {
      free(subs->path[i]);
      continue;
    }
    size_t skip = strlen(root) == 1 ? 0 : strlen(root);
    memmove(subs->path[i], subs->path[i] + skip, strlen(subs->path[i] + skip) + 1);
    subs->path[kept++] = subs->path[i];
  }
  subs->n = kept;
}

/* Hides each submount of the staged clone under an empty read-only mount
 * (a tmpfs on a directory, an empty file on a file), so the guest's view is
 * the root file system alone, as a non-recursive clone gives it. */
static void cover_submounts(const struct submounts *subs) {
  int empty = open(EMPTY_FILE, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (empty < 0) fail("staging file: %s", strerror(errno));
  close(empty);
  for (int i = 0; i < subs->n; i++) {
    char target[4096];
    if (snprintf(target, sizeof target, "%s%s", STAGED_ROOT, subs->path[i]) >= (int)sizeof target) fail("mount point too long: %s", subs->path[i]);
    struct stat st;
    /* One the launcher cannot reach, its root holding no capability over the
     * host's files, the guest (the same user, without capabilities) cannot
     * reach either; one hidden by a mount above it is gone already. */
    if (lstat(target, &st) < 0) {
      if (errno == EACCES || errno == ENOENT) continue;
      fail("mount point %s: %s", subs->path[i], strerror(errno));
    }
    int r;
    if (S_ISDIR(st.st_mode)) {
      r = mount("tsvisor-cover", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,nr_inodes=1,mode=0755");
    } else {
      r = mount(EMPTY_FILE, target, NULL, MS_BIND, NULL);
      if (r == 0) r = mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    }
    if (r < 0) fail("cover the mount on %s: %s", subs->path[i], strerror(errno));
  }
}

static void enter_root(const char *root, int rootless) {
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail("make mounts private: %s", strerror(errno));
  static struct submounts subs;
  if (rootless) list_submounts(root, &subs);
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, root, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (rootless ? AT_RECURSIVE : 0));
  if (tree < 0) fail("clone root %s: %s", root, strerror(errno));
  struct statvfs sv;
  if (fstatvfs(tree, &sv) < 0) fail("statvfs %s: %s", root, strerror(errno));
  if (mount("tsvisor-stage", STAGE, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0700") < 0)
    fail("staging tmpfs: %s", strerror(errno));
  if (mkdir(STAGED_ROOT, 0700) < 0) fail("staging dir: %s", strerror(errno));
  if (syscall(SYS_move_mount, tree, "", AT_FDCWD, STAGED_ROOT, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    fail("move root: %s", strerror(errno));
  close(tree);
  if (rootless) cover_submounts(&subs);
  /* Flags locked by the parent mount namespace must be kept on remount. */
  unsigned long f = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  if (mount(NULL, STAGED_ROOT, NULL, f, NULL) < 0) fail("remount %s read-only: %s", root, strerror(errno));
  if (chdir(STAGED_ROOT) < 0) fail("enter root: %s", strerror(errno));
  if (syscall(SYS_pivot_root, ".", ".") < 0) fail("pivot_root: %s", strerror(errno));
  if (umount2(".", MNT_DETACH) < 0) fail("detach old root: %s", strerror(errno));
  if (chdir("/") < 0) fail("chdir /: %s", strerror(errno));
}

/* The set-id exec store (docs/design.md, "Set-user-id and set-group-id
 * files"): a tmpfs that is not nosuid, in the guest's mount namespace (the
 * kernel applies set-id bits only from a mount of the exec'ing task's own
 * namespace, and only when not nosuid), that no path reaches: it is stacked
 * on the root and covered by a second clone of the root, which becomes the
 * root (a lookup of ".." stays there). Made as real root, so its superblock belongs to the
 * initial user namespace, an ancestor of the guest's. Returns its root's fd,
 * which the Sentry takes (pidfd_getfd) and the launcher closes before the
 * guest runs. */
static int make_setid_store(const char *size) {
  int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
  if (fs < 0) fail("set-id store: fsopen: %s", strerror(errno));
  if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", size, 0) < 0 ||
      syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "0700", 0) < 0 ||
      syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    fail("set-id store: tmpfs size=%s: %s", size, strerror(errno));
  int store = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
  if (store < 0) fail("set-id store: fsmount: %s", strerror(errno));
  close(fs);
  int cover = (int)syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (cover < 0) fail("set-id store: clone the root: %s", strerror(errno));
  if (syscall(SYS_move_mount, store, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0 ||
      syscall(SYS_move_mount, cover, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0)
    fail("set-id store: mount: %s", strerror(errno));
  /* The cover becomes the root: Linux lets only a task whose root is the
   * topmost mount on its namespace's root make a user namespace. */
  if (fchdir(cover) < 0 || chroot(".") < 0 || chdir("/") < 0) fail("set-id store: enter the cover: %s", strerror(errno));
  close(cover);
  return store;
}

static void loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail("socket: %s", strerror(errno));
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) fail("get lo flags: %s", strerror(errno));
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) fail("bring lo up: %s", strerror(errno));
  close(s);
}

/* One message from the Sentry into buf; returns its length. */
static size_t receive(void *buf, size_t size, const char *what) {
  ssize_t n;
  do {
    n = recv(ctl, buf, size, MSG_TRUNC);
  } while (n < 0 && errno == EINTR);
  if (n == 0) _exit(125); /* the Sentry went away or gave up */
  if (n < 0) fail("waiting for %s: %s", what, strerror(errno));
  if ((size_t)n > size) fail("%s: a message of %zd bytes", what, n);
  return (size_t)n;
}

static void send_msg(const void *msg, size_t len) {
  ssize_t n;
  do {
    n = send(ctl, msg, len, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) _exit(125); /* the Sentry went away */
  if (n != (ssize_t)len) fail("sending '%c' to the Sentry: %s", *(const char *)msg, n < 0 ? strerror(errno) : "short write");
}

static void expect(char tag, const char *what) {
  char got[2];
  if (receive(got, sizeof got, what) != 1 || got[0] != tag) fail("expected %s ('%c'), got '%c'", what, tag, got[0]);
}

static void on_sigcont(int sig) { (void)sig; }

/* The test hook: says so on stderr and waits for SIGCONT. (It cannot stop
 * itself: as its pid namespace's init it ignores its own SIGSTOP.) SIGCONT
 * stays blocked until the wait: one sent (with a SIGSTOP) right after the
 * message, before the wait began, ends it all the same. */
static void stop_here(char step) {
  if (stop_at != step) return;
  sigset_t cont, old;
  sigemptyset(&cont);
  sigaddset(&cont, SIGCONT);
  signal(SIGCONT, on_sigcont);
  sigprocmask(SIG_BLOCK, &cont, &old);
  fprintf(stderr, "tsvisor-launcher: held at %c\n", step);
  sigset_t wait = old;
  sigdelset(&wait, SIGCONT);
  sigsuspend(&wait);
  sigprocmask(SIG_SETMASK, &old, NULL);
  signal(SIGCONT, SIG_DFL);
}

/* The parent-death signal is cleared by every change of credentials; set it
 * again, and leave if the Sentry is gone already (the control socket hung up). */
static void die_with_sentry(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  struct pollfd p = {ctl, POLLRDHUP, 0};
  if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP))) _exit(125);
}

/* Rootless: one line "ID 0 1" in the new user namespace's map `file`. */
static void map_self(int procself, const char *file, const char *line) {
  int fd = openat(procself, file, O_WRONLY | O_CLOEXEC);
  ssize_t len = (ssize_t)strlen(line);
  if (fd < 0 || write(fd, line, (size_t)len) != len) fail("write the guest's %s: %s", file, strerror(errno));
  close(fd);
}

static void enter_userns(const struct options *o, int procself) {
  if (unshare(CLONE_NEWUSER) < 0) fail("new user namespace: %s", strerror(errno));
  if (o->rootless) {
    char line[64];
    map_self(procself, "setgroups", "deny");
    snprintf(line, sizeof line, "%u 0 1\n", (unsigned)o->uid);
    map_self(procself, "uid_map", line);
    snprintf(line, sizeof line, "%u 0 1\n", (unsigned)o->gid);
    map_self(procself, "gid_map", line);
    close(procself);
    return;
  }
  stop_here('U');
  unsigned char msg[1 + sizeof setid_store] = {'U'};
  memcpy(msg + 1, &setid_store, sizeof setid_store);
  send_msg(msg, sizeof msg);
  expect('M', "the uid/gid maps");
  if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) fail("become namespace root: %s", strerror(errno));
}

/* The guest gets a process group of its own, so kill(0, sig) and killpg
 * from inside reach only sandbox processes (sharing tsvisor's group, they
 * reached tsvisor, the Gofer and the caller's other processes). Without a
 * terminal it is a session of its own too, as runc makes it. With one it
 * becomes the terminal's foreground group, so keyboard signals reach the
 * guest and not tsvisor (which forwards what it receives). */
/* Joins a namespace given by path (OCI linux.namespaces path: Docker's
 * --network host and container:ID, a pod's network, IPC and UTS
 * namespaces), as real root and before the host paths disappear with the
 * pivot. */
static void join_ns(const char *path, int type, const char *what) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("%s namespace %s: %s", what, path, strerror(errno));
  if (setns(fd, type) < 0) fail("join %s namespace %s: %s", what, path, strerror(errno));
  close(fd);
}

/* stdin, a terminal the Sentry allocated (OCI process.terminal), becomes
 * the controlling terminal of the session just made. */
static void take_ctty(void) {
  if (ioctl(0, TIOCSCTTY, 0) < 0) fail("make the terminal controlling: %s", strerror(errno));
}

static void own_process_group(int foreground, int ctty) {
  if (!foreground) {
    if (setsid() < 0) fail("setsid: %s", strerror(errno));
    if (ctty) take_ctty();
    return;
  }
  if (setpgid(0, 0) < 0) fail("setpgid: %s", strerror(errno));
  sigset_t ttou, old;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  sigprocmask(SIG_BLOCK, &ttou, &old);
  if (tcsetpgrp(0, getpid()) < 0) fail("tcsetpgrp: %s", strerror(errno));
  sigprocmask(SIG_SETMASK, &old, NULL);
}

static void set_identity(const struct options *o) {
  if (!o->have_user) return;
  if (!o->rootless && setgroups(o->ngroups, o->groups) < 0) fail("setgroups: %s", strerror(errno));
  if (setresgid(o->gid, o->gid, o->gid) < 0) fail("setgid %u: %s", o->gid, strerror(errno));
  if (setresuid(o->uid, o->uid, o->uid) < 0) fail("setuid %u: %s", o->uid, strerror(errno));
}

/* The bounding set first, while CAP_SETPCAP is still held (a non-root
 * user loses it at setuid); the other sets after set_identity. */
static void set_bounding_caps(const struct options *o) {
  if (!o->have_caps) return;
  int last = CAP_LAST_CAP;
  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
  if (f) {
    if (fscanf(f, "%d", &last) != 1) last = CAP_LAST_CAP;
    fclose(f);
  }
  for (int c = 0; c <= last; c++) {
    if (c < 64 && (o->bounding & (1ULL << c))) continue;
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) fail("drop capability %d: %s", c, strerror(errno));
  }
}

#define SYS_ADMIN_BIT (1ULL << CAP_SYS_ADMIN)

/* Whether the launcher holds CAP_SYS_ADMIN beyond the container's sets for
 * installing the filters without no_new_privs. */
static int holds_extra_admin(const struct options *o) {
  return o->keep_privs && o->have_caps && !(o->effective & o->permitted & SYS_ADMIN_BIT);
}

/* Effective, permitted and inheritable as given (each only lowered: the
 * launcher is root of the user namespace, or kept its capabilities across
 * set_identity), plus `extra` in effective and permitted. */
static void capset_sets(const struct options *o, unsigned long long extra) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  for (int k = 0; k < 2; k++) {
    data[k].effective = (unsigned)((o->effective | extra) >> (32 * k));
    data[k].permitted = (unsigned)((o->permitted | extra) >> (32 * k));
    data[k].inheritable = (unsigned)(o->inheritable >> (32 * k));
  }
  if (syscall(SYS_capset, &hdr, data) < 0) fail("capset: %s", strerror(errno));
}

/* Sets identity and capabilities in runc's order: the capabilities survive
 * the change of uid (PR_SET_KEEPCAPS), so a non-root user keeps the sets
 * the config gives; the ambient ones carry them across its exec. An ambient
 * capability outside permitted and inheritable cannot be raised (runc warns
 * and goes on): it is left out. */
static void set_identity_and_caps(const struct options *o) {
  if (!o->have_caps) {
    set_identity(o);
    return;
  }
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) fail("keep capabilities: %s", strerror(errno));
  set_identity(o);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) fail("keep capabilities: %s", strerror(errno));
  capset_sets(o, holds_extra_admin(o) ? SYS_ADMIN_BIT : 0);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) fail("clear ambient capabilities: %s", strerror(errno));
  for (int c = 0; c < 64; c++) {
    if (!(o->ambient & o->permitted & o->inheritable & (1ULL << c))) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EINVAL)
      fail("raise ambient capability %d: %s", c, strerror(errno));
  }
}

static int install_filter(const struct options *o) {
  static unsigned char buf[1 + 65536 * sizeof(struct sock_filter)];
  size_t n = receive(buf, sizeof buf, "the seccomp filter");
  if (buf[0] != 'F') fail("expected the seccomp filter ('F'), got '%c'", buf[0]);
  size_t len = n - 1;
  if (len == 0 || len % sizeof(struct sock_filter)) fail("malformed filter");
  struct sock_filter *insns = malloc(len);
  if (!insns) fail("out of memory");
  memcpy(insns, buf + 1, len);
  struct sock_fprog prog = {(unsigned short)(len / sizeof(struct sock_filter)), insns};
  if (!o->keep_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail("no_new_privs: %s", strerror(errno));
  int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                        SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
  if (fd < 0) fail("install seccomp filter: %s", strerror(errno));
  free(insns);
  return fd;
}

/* Tells the Sentry the listener's fd number; it takes its own copy with
 * pidfd_getfd. (sendmsg is trapped to the Sentry from here on, so passing
 * the fd with SCM_RIGHTS would wait for the Sentry that waits for it.) */
static void announce_listener(int fd) {
  unsigned char msg[1 + sizeof fd] = {'L'};
  memcpy(msg + 1, &fd, sizeof fd);
  stop_here('L');
  ssize_t n;
  do {
    n = write(ctl, msg, sizeof msg);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) _exit(125);
  if (n != (ssize_t)sizeof msg) fail("sending the listener: %s", n < 0 ? strerror(errno) : "short write");
}

/* The container's own seccomp profile (OCI linux.seccomp). */
struct profile {
  unsigned int flags;
  struct sock_fprog prog;
};

/* Waits for the go signal; the profile may come first. */
static struct profile *await_go(void) {
  static unsigned char buf[1 + sizeof(uint32_t) + BPF_MAXINSNS * sizeof(struct sock_filter)];
  static struct profile profile;
  size_t n = receive(buf, sizeof buf, "the go signal");
  if (n == 1 && buf[0] == 'G') return NULL;
  if (buf[0] != 'S') fail("expected the go signal ('G') or a seccomp profile ('S'), got '%c'", buf[0]);
  size_t len = n > 1 + sizeof(uint32_t) ? n - 1 - sizeof(uint32_t) : 0;
  if (len == 0 || len % sizeof(struct sock_filter)) fail("malformed seccomp profile");
  memcpy(&profile.flags, buf + 1, sizeof(uint32_t));
  profile.prog.len = (unsigned short)(len / sizeof(struct sock_filter));
  profile.prog.filter = malloc(len);
  if (!profile.prog.filter) fail("out of memory");
  memcpy(profile.prog.filter, buf + 1 + sizeof(uint32_t), len);
  expect('G', "the go signal");
  return &profile;
}

/* Called with the control socket closed: an error goes to the container's
 * stderr (fail() falls back to it), as runc reports one. */
static void install_profile(const struct profile *p) {
  if (p && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->flags, &p->prog) < 0)
    fail("install the container's seccomp profile: %s", strerror(errno));
}

static void exec_command(const struct options *o) {
  execvp(o->argv[0], o->argv);
  int e = errno;
  if (e == ENOENT && !strchr(o->argv[0], '/')) {
    fprintf(stderr, "tsvisor: exec: \"%s\": executable file not found in $PATH\n", o->argv[0]);
  } else {
    fprintf(stderr, "tsvisor: exec: \"%s\": %s\n", o->argv[0], strerror(e));
  }
  _exit(e == ENOENT ? 127 : 126);
}

/* --init: stay as the sandbox's pid 1 and run the command as its child, as
 * `docker run --init` (tini) does, so the command keeps a normal process's
 * signal semantics (a namespace init ignores signals it has no handler for:
 * Ctrl-C would not stop `cat`, `kill -TERM $$` would not end a shell, abort()
 * would not end the process with SIGABRT). Init reaps every orphan, passes
 * on the signals sent to it from outside the sandbox (tsvisor forwarding
 * its own signals: si_pid is 0 for a sender outside the pid namespace and
 * si_code says a process sent it; a terminal's signals already reach the
 * whole foreground group, and a signal sent to pid 1 from inside would reach
 * no init of the host either), and exits with the command's status, 128 + N
 * for a death by signal N. */
static void run_init(const struct options *o) {
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "tsvisor: fork: %s\n", strerror(errno));
    _exit(126);
  }
  if (child == 0) {
    /* A process group of its own, foreground on the terminal if there is
     * one (as tini does): kill(0, ...) and kill(-getpgrp(), ...) reach the
     * command's group as natively, not init's (pid 1, where -1 would mean
     * every process). tcsetpgrp from a background group is allowed while
     * SIGTTOU is blocked, as it still is here. Without a terminal the
     * command leads a session of its own, as runc makes a container's
     * process and as a command a parent started apart (setsid) is: a
     * terminal it opens becomes its controlling terminal, as natively. */
    if (!o->foreground && !o->ctty) {
      if (setsid() < 0) {
        fprintf(stderr, "tsvisor: setsid: %s\n", strerror(errno));
        _exit(126);
      }
    } else if (setpgid(0, 0) < 0) {
      fprintf(stderr, "tsvisor: setpgid: %s\n", strerror(errno));
      _exit(126);
    }
    if (tcsetpgrp(0, getpid()) < 0 && errno != ENOTTY && errno != ENXIO && errno != EBADF) {
      fprintf(stderr, "tsvisor: tcsetpgrp: %s\n", strerror(errno));
      _exit(126);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    exec_command(o);
  }
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0) continue;
    if (sig == SIGCHLD) {
      int status;
      pid_t p;
      while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
        if (p != child) continue;
        if (WIFSIGNALED(status)) _exit(128 + WTERMSIG(status));
        _exit(WEXITSTATUS(status));
      }
      continue;
    }
    if (si.si_pid == 0 && si.si_code <= 0) kill(child, sig);
  }
}

/* Step 6, for a first process and an exec'd one alike. */
static void go_and_exec(int listener, const struct options *o) {
  struct profile *profile = await_go();
  /* Seized by now (PTRACE_O_EXITKILL): the guest need not keep the death signal. */
  prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  close(listener);
  close(ctl);
  if (setid_store >= 0) close(setid_store);
  install_profile(profile);
  /* Seized and past the filters' installs: the extra CAP_SYS_ADMIN goes
   * (capset stops for the Sentry, which refreshes its view of the creds). */
  if (holds_extra_admin(o)) capset_sets(o, 0);
  if (o->init) run_init(o);
  exec_command(o);
}

/* exec into a running container (--join PID, the container's init): join
 * its namespaces through a pidfd, fork so the child is in its pid
 * namespace, report the child's host pid ('P') and leave it to the Sentry
 * (the subreaper) to adopt. The child enters the user namespace and goes on
 * like a first process. */
static void join_container(pid_t init) {
  int pidfd = (int)syscall(SYS_pidfd_open, init, 0);
  if (pidfd < 0) fail("the container's init %d: %s", (int)init, strerror(errno));
  if (setns(pidfd, CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWNS) < 0)
    fail("join the container's namespaces: %s", strerror(errno));
  pid_t child = fork();
  if (child < 0) fail("fork: %s", strerror(errno));
  if (child > 0) {
    unsigned char msg[1 + sizeof child] = {'P'};
    memcpy(msg + 1, &child, sizeof child);
    _exit(write(ctl, msg, sizeof msg) == (ssize_t)sizeof msg ? 0 : 125);
  }
  if (setsid() < 0) fail("setsid: %s", strerror(errno));
  if (setns(pidfd, CLONE_NEWUSER) < 0) fail("join the container's user namespace: %s", strerror(errno));
  close(pidfd);
  if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) fail("become namespace root: %s", strerror(errno));
}

int main(int argc, char **argv) {
  struct options o;
  parse(argc, argv, &o);
  if (o.join) {
    join_container(o.join);
    /* Only lowering is left to do here (the Sentry's limits are raised): the container's own. */
    for (int i = 0; i < o.nrl; i++)
      if (setrlimit(o.rl[i].res, &o.rl[i].lim) < 0) fail("setrlimit %d: %s", o.rl[i].res, strerror(errno));
    if (o.ctty) take_ctty();
    set_bounding_caps(&o);
    set_identity_and_caps(&o);
    if (o.umask_set) umask(o.umask);
    int listener = install_filter(&o);
    announce_listener(listener);
    go_and_exec(listener, &o);
  }
  /* Still real root here: raising rlimits and oom_score_adj needs it, and
   * /proc disappears with the pivot. */
  if (o.oom_adj_set) {
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || dprintf(fd, "%d", o.oom_adj) < 0) fail("oom_score_adj: %s", strerror(errno));
    close(fd);
  }
  for (int i = 0; i < o.nrl; i++)
    if (setrlimit(o.rl[i].res, &o.rl[i].lim) < 0) fail("setrlimit %d: %s", o.rl[i].res, strerror(errno));
  own_process_group(o.foreground, o.ctty);
  if (o.netns) join_ns(o.netns, CLONE_NEWNET, "network");
  if (o.ipcns) join_ns(o.ipcns, CLONE_NEWIPC, "IPC");
  if (o.utsns) join_ns(o.utsns, CLONE_NEWUTS, "UTS");
  apply_sysctls(&o);
  /* Rootless: the inner user namespace's maps are written through this, /proc being gone by then. */
  int procself = -1;
  if (o.rootless) {
    if (!o.have_user || o.ngroups) fail("--rootless needs --user UID:GID without groups");
    procself = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (procself < 0) fail("open /proc/self: %s", strerror(errno));
  }
  enter_root(o.root, o.rootless);
  if (o.setid_store && !o.rootless) setid_store = make_setid_store(o.setid_store);
  if (o.lo_up) loopback_up();
  if (o.hostname && sethostname(o.hostname, strlen(o.hostname)) < 0) fail("sethostname: %s", strerror(errno));
  if (o.domainname && setdomainname(o.domainname, strlen(o.domainname)) < 0)
    fail("setdomainname: %s", strerror(errno));
  enter_userns(&o, procself);
  set_bounding_caps(&o);
  set_identity_and_caps(&o);
  if (o.umask_set) umask(o.umask);
  die_with_sentry();

  int listener = install_filter(&o);
  announce_listener(listener);
  go_and_exec(listener, &o);
}
