/*
 * tsvisor-anchor: the process an OCI client is told is the container's.
 *
 *   tsvisor-anchor FD PROGRAM ARGS...
 *
 * Container clients take the pid `create` reports as the container itself:
 * containerd's shim and conmon (child subreapers) reap it and take its exit
 * status as the container's, and they enter the container through
 * /proc/PID/ns/... and /proc/PID/root (podman cp and top, Docker's network
 * set-up hook, a pod's containers joining its pause container's network,
 * IPC and UTS namespaces, `--pid container:ID`). The sandbox process (Node:
 * the Sentry) needs the host's namespaces and files and, being
 * multi-threaded, cannot move into others; reported as the pid, it made all
 * of those enter the host. So two small processes stand between:
 *
 *  - the keeper (this process) starts PROGRAM (the sandbox process) as its
 *    child, with PR_SET_PDEATHSIG SIGKILL and a control socket on FD; it
 *    passes on the signals it gets, and exits once its child has, with the
 *    child's status;
 *  - the anchor, which the keeper makes when the sandbox process asks (once
 *    the container's init exists), is the reported pid. It is cloned with
 *    CLONE_PARENT, so the client that adopts the keeper (the orphan of
 *    `create`) adopts it too, and CLONE_NEWPID | CLONE_NEWCGROUP: alone in
 *    a pid namespace of its own, so a container told to share its pid
 *    namespace never reaches the host's. It joins init's network, IPC, UTS
 *    and mount namespaces, takes a private copy of the mount namespace (the
 *    container's read-only root view) with a read-only procfs of the
 *    container's pid namespace on /proc (what podman top reads), drops every
 *    capability, and then only waits: it exits with the status the keeper
 *    hands it (the sandbox process's), or 137 if the keeper is gone without
 *    one, and passes the signals it gets to the keeper. If the anchor dies
 *    (say a client's kill -9), the keeper kills the sandbox process, which
 *    takes the container with it.
 *
 * It stays in the host's user namespace: the container's other namespaces
 * belong to it (the launcher makes them before its user namespace), and
 * psgo (podman top) runs `nsenter -U` from the container's image for a pid
 * in another user namespace.
 *
 * Protocol on FD (SOCK_SEQPACKET), once:
 *   sandbox -> keeper  'J' + SCM_RIGHTS [pidfd of init, fd of init's pid namespace]
 *   keeper -> sandbox  'K' + i32 anchor pid + i32 errno making the procfs
 *                        + i32 errno mounting it on /proc (both 0: mounted)
 *                   or 'E' + text
 * Between keeper and anchor, two pipes: the anchor's set-up result and then
 * the numbers of the signals it got (anchor -> keeper; end of file: the
 * anchor is gone), and the exit status (keeper -> anchor).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The anchor's first word to the keeper: one write, under PIPE_BUF. */
struct setup_result {
  char tag; /* 'K' or 'E' */
  int proc_errno;
  char msg[240];
};

static sigset_t handled; /* the signals passed on, and SIGCHLD */

static int signal_passed_on(int s) {
  switch (s) {
    case SIGKILL:
    case SIGSTOP:
    case SIGCHLD:
    case SIGPIPE:
    /* Faults are the process's own; blocking them would hide a crash. */
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGTRAP:
    case SIGSYS:
      return 0;
  }
  /* glibc's own two real-time signals. */
  return s < 32 || s >= SIGRTMIN;
}

static void init_signals(void) {
  sigemptyset(&handled);
  for (int s = 1; s < _NSIG; s++)
    if (signal_passed_on(s)) sigaddset(&handled, s);
  sigaddset(&handled, SIGCHLD);
}

static ssize_t read_full(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return r < 0 ? -1 : (ssize_t)got;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

/* Closes every fd but 0-2 and those in keep[] (ascending). */
static void close_others(const int *keep, int n) {
  unsigned lo = 3;
  for (int i = 0; i < n; i++) {
    if (keep[i] < 3) continue;
    if ((unsigned)keep[i] > lo) syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0);
    lo = (unsigned)keep[i] + 1;
  }
  syscall(SYS_close_range, lo, ~0U, 0);
}

static void sort_fds(int *fds, int n) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
      int t = fds[j];
      fds[j] = fds[j - 1];
      fds[j - 1] = t;
    }
}

/* ---- the anchor ------------------------------------------------------- */

static int result_fd = -1;

static void anchor_fail(const char *fmt, ...) {
  struct setup_result r;
  memset(&r, 0, sizeof r);
  r.tag = 'E';
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r.msg, sizeof r.msg, fmt, ap);
  va_end(ap);
  if (write(result_fd, &r, sizeof r) < 0) _exit(125);
  _exit(125);
}

/* Nothing the anchor does after set-up needs a privilege. It stays uid 0,
 * so that it may still signal the keeper. */
static void drop_privileges(void) {
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    anchor_fail("clear ambient capabilities: %s", strerror(errno));
  for (int c = 0; c <= 63; c++)
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      anchor_fail("drop capability %d: %s", c, strerror(errno));
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capset, &hdr, data) < 0) anchor_fail("capset: %s", strerror(errno));
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) anchor_fail("no_new_privs: %s", strerror(errno));
}

/* Runs in the clone; never returns. Only plain system calls here: the
 * clone was made with the raw system call. */
static void anchor_main(int init_pidfd, int proc_mnt, int status_in, int words_out) {
  result_fd = words_out;
  int keep[] = {init_pidfd, proc_mnt, status_in, words_out};
  sort_fds(keep, 4);
  close_others(keep, 4);
  int sfd = signalfd(-1, &handled, SFD_CLOEXEC);
  if (sfd < 0) anchor_fail("signalfd: %s", strerror(errno));
  if (setns(init_pidfd, CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS) < 0)
    anchor_fail("join the container's namespaces: %s", strerror(errno));
  close(init_pidfd);
  /* A copy of the container's mount namespace, so that the /proc added
   * here never reaches the container's own view. */
  if (unshare(CLONE_NEWNS) < 0) anchor_fail("copy the mount namespace: %s", strerror(errno));
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) anchor_fail("make mounts private: %s", strerror(errno));
  struct setup_result r;
  memset(&r, 0, sizeof r);
  r.tag = 'K';
  if (proc_mnt >= 0) {
    if (syscall(SYS_move_mount, proc_mnt, "", AT_FDCWD, "/proc", MOVE_MOUNT_F_EMPTY_PATH) < 0) r.proc_errno = errno;
    close(proc_mnt);
  }
  if (chdir("/") < 0) anchor_fail("chdir /: %s", strerror(errno));
  drop_privileges();
  if (write(words_out, &r, sizeof r) != (ssize_t)sizeof r) _exit(125);

  struct pollfd p[2] = {{sfd, POLLIN, 0}, {status_in, POLLIN, 0}};
  for (;;) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      _exit(125);
    }
    if (p[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
          /* A process that joined this pid namespace and was orphaned in it. */
          while (waitpid(-1, NULL, WNOHANG) > 0) {
          }
        } else {
          int s = (int)si.ssi_signo;
          if (write(words_out, &s, sizeof s) < 0) _exit(137);
        }
      }
    }
    if (p[1].revents & (POLLIN | POLLHUP)) {
      int status;
      if (read_full(status_in, &status, sizeof status) == (ssize_t)sizeof status) _exit(status & 0xff);
      _exit(128 + SIGKILL); /* the keeper died without a word: the sandbox was killed */
    }
  }
}

/* ---- the keeper ------------------------------------------------------- */

static pid_t child = -1;
static int status_out = -1; /* to the anchor, once it exists */
static int words_in = -1;   /* from the anchor */

/* A read-only procfs of the container's pid namespace, made here: the
 * anchor, in a pid namespace of its own, may not name a sibling's. Returns
 * the detached mount, or -errno. */
static int proc_mount(int pidns) {
  int fs = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
  if (fs < 0) return -errno;
  int m = -1;
  if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_FD, "pidns", NULL, pidns) == 0 &&
      syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
    m = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
                     MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  int e = errno;
  close(fs);
  return m >= 0 ? m : -e;
}

static void reply(int ctl, const void *msg, size_t n) {
  send(ctl, msg, n, MSG_NOSIGNAL);
}

static void reply_error(int ctl, const char *fmt, ...) {
  char buf[300];
  buf[0] = 'E';
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + 1, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
  reply(ctl, buf, (size_t)n + 1);
}

static void make_anchor(int ctl, int init_pidfd, int pidns) {
  int proc_mnt = proc_mount(pidns);
  int proc_errno = proc_mnt < 0 ? -proc_mnt : 0;
  close(pidns);
  int down[2], up[2];
  if (pipe2(down, O_CLOEXEC) < 0) {
    reply_error(ctl, "pipe: %s", strerror(errno));
    return;
  }
  if (pipe2(up, O_CLOEXEC) < 0) {
    reply_error(ctl, "pipe: %s", strerror(errno));
    close(down[0]);
    close(down[1]);
    return;
  }
  pid_t a = (pid_t)syscall(SYS_clone, CLONE_PARENT | CLONE_NEWPID | CLONE_NEWCGROUP, NULL, NULL, NULL, 0);
  if (a == 0) anchor_main(init_pidfd, proc_mnt, down[0], up[1]);
  int e = errno;
  close(init_pidfd);
  if (proc_mnt >= 0) close(proc_mnt);
  close(down[0]);
  close(up[1]);
  if (a < 0) {
    reply_error(ctl, "cannot make the anchor process: %s", strerror(e));
    close(down[1]);
    close(up[0]);
    return;
  }
  struct setup_result r;
  if (read_full(up[0], &r, sizeof r) != (ssize_t)sizeof r) {
    reply_error(ctl, "the anchor process exited during set-up");
    close(down[1]);
    close(up[0]);
    return;
  }
  if (r.tag != 'K') {
    r.msg[sizeof r.msg - 1] = 0;
    reply_error(ctl, "%s", r.msg);
    close(down[1]);
    close(up[0]);
    return;
  }
  status_out = down[1];
  words_in = up[0];
  char ok[1 + 3 * sizeof(int)] = {'K'};
  memcpy(ok + 1, &a, sizeof a);
  memcpy(ok + 1 + sizeof(int), &proc_errno, sizeof proc_errno);
  memcpy(ok + 1 + 2 * sizeof(int), &r.proc_errno, sizeof r.proc_errno);
  reply(ctl, ok, sizeof ok);
}

/* One request on the control socket; -1 once it is closed. */
static int serve(int ctl) {
  char buf[16];
  char cbuf[CMSG_SPACE(2 * sizeof(int))];
  struct iovec iov = {buf, sizeof buf};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0 && errno == EINTR) return 0;
  if (n <= 0) return -1;
  int fds[2] = {-1, -1}, nfds = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < k; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (nfds < 2) fds[nfds++] = fd;
      else close(fd);
    }
  }
  if (n == 1 && buf[0] == 'J' && nfds == 2 && status_out < 0 && !(msg.msg_flags & MSG_CTRUNC)) {
    make_anchor(ctl, fds[0], fds[1]);
    return 0;
  }
  for (int i = 0; i < nfds; i++) close(fds[i]);
  reply_error(ctl, "anchor: unexpected request");
  return 0;
}

static int exit_status(int wstatus) {
  return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

static void finish(int wstatus) {
  int status = exit_status(wstatus);
  if (status_out >= 0 && write(status_out, &status, sizeof status) < 0) {
    /* the anchor is gone */
  }
  _exit(status);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: tsvisor-anchor FD PROGRAM [ARGS...]\n");
    return 2;
  }
  char *end;
  long target = strtol(argv[1], &end, 10);
  if (*end || target < 3 || target > 1000) {
    fprintf(stderr, "tsvisor-anchor: bad fd %s\n", argv[1]);
    return 2;
  }
  /* 0-2 open, so that nothing below lands there. */
  for (int fd = open("/dev/null", O_RDWR); fd >= 0 && fd <= 2; fd = open("/dev/null", O_RDWR)) {
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    fprintf(stderr, "tsvisor-anchor: socketpair: %s\n", strerror(errno));
    return 1;
  }
  init_signals();
  sigset_t old;
  sigprocmask(SIG_BLOCK, &handled, &old);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &handled, SFD_CLOEXEC);
  if (sfd < 0) {
    fprintf(stderr, "tsvisor-anchor: signalfd: %s\n", strerror(errno));
    return 1;
  }
  pid_t keeper = getpid();
  child = fork();
  if (child < 0) {
    fprintf(stderr, "tsvisor-anchor: fork: %s\n", strerror(errno));
    return 1;
  }
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != keeper) _exit(125);
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (sv[1] == target ? fcntl(sv[1], F_SETFD, 0) < 0 : dup2(sv[1], (int)target) < 0) _exit(125);
    execvp(argv[2], argv + 2);
    fprintf(stderr, "tsvisor-anchor: exec %s: %s\n", argv[2], strerror(errno));
    _exit(127);
  }
  int ctl = sv[0];
  close(sv[1]);
  /* Hold nothing of the caller's (the container's stdio, the pipe its
   * caller reads to its end), so that neither process keeps them open. */
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd <= 2 && devnull >= 0; fd++) dup2(devnull, fd);
  int keep[] = {ctl, sfd};
  sort_fds(keep, 2);
  close_others(keep, 2);

  for (;;) {
    struct pollfd p[3] = {{sfd, POLLIN, 0}, {ctl, POLLIN, 0}, {words_in, POLLIN, 0}};
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      kill(child, SIGKILL);
      int ws;
      while (waitpid(child, &ws, 0) < 0 && errno == EINTR) {
      }
      finish(ws);
    }
    if (p[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
          int ws;
          if (waitpid(child, &ws, WNOHANG) == child) finish(ws);
        } else {
          kill(child, (int)si.ssi_signo);
        }
      }
    }
    if (ctl >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (serve(ctl) < 0) {
        close(ctl);
        ctl = -1;
      }
    }
    if (words_in >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      int s;
      if (read_full(words_in, &s, sizeof s) == (ssize_t)sizeof s) {
        kill(child, s);
      } else {
        /* The anchor is gone (killed: it exits only when told): so is the container. */
        close(words_in);
        words_in = -1;
        kill(child, SIGKILL);
      }
    }
  }
}
