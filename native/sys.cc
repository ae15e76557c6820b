// System-call wrappers the Sentry and the Gofer need and Node does not offer:
// guest memory access, pidfds, memfds, statx on fds, SCM_RIGHTS, openat2,
// process creation with namespaces, and a few prctl/seccomp primitives.
#include "common.h"

#include <dirent.h>
#include <functional>
#include <memory>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <linux/seccomp.h>
#include <linux/nsfs.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

namespace tsv {
namespace {

Napi::Number Num(Napi::Env env, double v) { return Napi::Number::New(env, v); }

// ---- guest memory ----------------------------------------------------------

// memRead(pid, addr, buf, off, len) -> bytes read | -errno
Napi::Value MemRead(const Napi::CallbackInfo& info) {
  size_t cap;
  uint8_t* buf = Bytes(info, 2, &cap);
  size_t off = U32(info, 3), len = U32(info, 4);
  if (off > cap || len > cap - off) return Num(info.Env(), -EINVAL);
  struct iovec local = {buf + off, len};
  struct iovec remote = {reinterpret_cast<void*>(Addr(info, 1)), len};
  return Ret(info.Env(), process_vm_readv(I32(info, 0), &local, 1, &remote, 1, 0));
}

// memWrite(pid, addr, buf, off, len) -> bytes written | -errno
Napi::Value MemWrite(const Napi::CallbackInfo& info) {
  size_t cap;
  uint8_t* buf = Bytes(info, 2, &cap);
  size_t off = U32(info, 3), len = U32(info, 4);
  if (off > cap || len > cap - off) return Num(info.Env(), -EINVAL);
  struct iovec local = {buf + off, len};
  struct iovec remote = {reinterpret_cast<void*>(Addr(info, 1)), len};
  return Ret(info.Env(), process_vm_writev(I32(info, 0), &local, 1, &remote, 1, 0));
}

// memReadCString(pid, addr, max) -> latin1 string | -errno
// Reads page by page so a string ending just before an unmapped page works.
Napi::Value MemReadCString(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = I32(info, 0);
  uint64_t addr = Addr(info, 1);
  size_t max = U32(info, 2);
  if (addr == 0) return Num(env, -EFAULT);
  static thread_local std::vector<char> buf;
  buf.resize(max + 4096);
  size_t have = 0;
  while (have <= max) {
    size_t chunk = 4096 - ((addr + have) & 4095);
    struct iovec local = {buf.data() + have, chunk};
    struct iovec remote = {reinterpret_cast<void*>(addr + have), chunk};
    ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n <= 0) return Num(env, n < 0 ? -errno : -EFAULT);
    void* nul = memchr(buf.data() + have, 0, n);
    if (nul) return Latin1Value(env, buf.data(), static_cast<char*>(nul) - buf.data());
    have += n;
  }
  return Num(env, -ENAMETOOLONG);
}

// ---- fds -------------------------------------------------------------------

Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), syscall(SYS_pidfd_open, I32(info, 0), U32(info, 1)));
}
Napi::Value PidfdGetfd(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), syscall(SYS_pidfd_getfd, I32(info, 0), I32(info, 1), 0));
}
Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), syscall(SYS_pidfd_send_signal, I32(info, 0), I32(info, 1), nullptr, 0));
}
Napi::Value Close(const Napi::CallbackInfo& info) { return Ret(info.Env(), close(I32(info, 0))); }
Napi::Value Dup2(const Napi::CallbackInfo& info) { return Ret(info.Env(), dup2(I32(info, 0), I32(info, 1))); }
Napi::Value Dup(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), fcntl(I32(info, 0), F_DUPFD_CLOEXEC, 3));
}
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  std::string name = Latin1(info, 0);
  return Ret(info.Env(), memfd_create(name.c_str(), U32(info, 1)));
}
// reopen(fd, flags): a new open file description for the file behind fd.
// Goes through the /proc/self/fd magic link, so O_NOFOLLOW (which would
// refuse the link itself) and the creation flags never apply.
Napi::Value Reopen(const Napi::CallbackInfo& info) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", I32(info, 0));
  int flags = I32(info, 1) & ~(O_NOFOLLOW | O_CREAT | O_EXCL);
  return Ret(info.Env(), open(path, flags | O_CLOEXEC, 0));
}
// pipe(flags) -> [read fd, write fd] | -errno
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int p[2];
  if (pipe2(p, I32(info, 0)) < 0) return Num(info.Env(), -errno);
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, Num(info.Env(), p[0]));
  a.Set(1u, Num(info.Env(), p[1]));
  return a;
}
// tee(in, out, len, flags) -> bytes | -errno
Napi::Value Tee(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), tee(I32(info, 0), I32(info, 1), static_cast<size_t>(I64(info, 2)), static_cast<unsigned>(U32(info, 3))));
}
Napi::Value Lseek(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), lseek(I32(info, 0), I64(info, 1), I32(info, 2)));
}
Napi::Value Ftruncate(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), ftruncate(I32(info, 0), I64(info, 1)));
}
Napi::Value Fchmod(const Napi::CallbackInfo& info) { return Ret(info.Env(), fchmod(I32(info, 0), U32(info, 1))); }
Napi::Value Getdents(const Napi::CallbackInfo& info) {
  size_t cap;
  uint8_t* buf = Bytes(info, 1, &cap);
  return Ret(info.Env(), syscall(SYS_getdents64, I32(info, 0), buf, cap));
}
// futimens(fd, [atimeSec, atimeNsec, mtimeSec, mtimeNsec]); nsec may be UTIME_NOW/UTIME_OMIT.
Napi::Value Futimens(const Napi::CallbackInfo& info) {
  Napi::Array a = info[1].As<Napi::Array>();
  struct timespec ts[2];
  ts[0].tv_sec = a.Get(0u).As<Napi::Number>().Int64Value();
  ts[0].tv_nsec = a.Get(1u).As<Napi::Number>().Int64Value();
  ts[1].tv_sec = a.Get(2u).As<Napi::Number>().Int64Value();
  ts[1].tv_nsec = a.Get(3u).As<Napi::Number>().Int64Value();
  return Ret(info.Env(), futimens(I32(info, 0), ts));
}
// copyFile(dst, src) -> bytes copied | -errno: whole-file copy from offset 0.
Napi::Value CopyFile(const Napi::CallbackInfo& info) {
  int dst = I32(info, 0), src = I32(info, 1);
  off_t off = 0;
  double total = 0;
  for (;;) {
    ssize_t n = sendfile(dst, src, &off, 1 << 30);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Num(info.Env(), -errno);
    }
    if (n == 0) break;
    total += n;
  }
  return Num(info.Env(), total);
}

// statxFd(fd, out: Float64Array(STATX_FIELDS)) -> 0 | -errno
// out = [mask, blksize, nlink, uid, gid, mode, ino, size, blocks,
//        atime.s, atime.ns, btime.s, btime.ns, ctime.s, ctime.ns, mtime.s, mtime.ns,
//        rdev.major, rdev.minor, dev.major, dev.minor, attributes]
Napi::Value StatxFd(const Napi::CallbackInfo& info) {
  struct statx sx;
  if (statx(I32(info, 0), "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_BTIME, &sx) < 0)
    return Num(info.Env(), -errno);
  Napi::Float64Array o = info[1].As<Napi::Float64Array>();
  double v[] = {(double)sx.stx_mask,       (double)sx.stx_blksize,         (double)sx.stx_nlink,
                (double)sx.stx_uid,        (double)sx.stx_gid,             (double)sx.stx_mode,
                (double)sx.stx_ino,        (double)sx.stx_size,            (double)sx.stx_blocks,
                (double)sx.stx_atime.tv_sec, (double)sx.stx_atime.tv_nsec, (double)sx.stx_btime.tv_sec,
                (double)sx.stx_btime.tv_nsec, (double)sx.stx_ctime.tv_sec, (double)sx.stx_ctime.tv_nsec,
                (double)sx.stx_mtime.tv_sec, (double)sx.stx_mtime.tv_nsec, (double)sx.stx_rdev_major,
                (double)sx.stx_rdev_minor, (double)sx.stx_dev_major,       (double)sx.stx_dev_minor,
                (double)sx.stx_attributes};
  size_t n = sizeof v / sizeof v[0];
  if (o.ElementLength() < n) return Num(info.Env(), -EINVAL);
  memcpy(o.Data(), v, sizeof v);
  return Num(info.Env(), 0);
}

// openat2(dirfd, path, flags, mode, resolve) -> fd | -errno
Napi::Value Openat2(const Napi::CallbackInfo& info) {
  std::string path = Latin1(info, 1);
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = static_cast<uint64_t>(static_cast<uint32_t>(I32(info, 2)));
  how.mode = U32(info, 3);
  how.resolve = U32(info, 4);
  long r;
  do {
    r = syscall(SYS_openat2, I32(info, 0), path.c_str(), &how, sizeof how);
  } while (r < 0 && errno == EAGAIN);
  return Ret(info.Env(), r);
}

// ---- unix sockets with SCM_RIGHTS -----------------------------------------

Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  int sv[2];
  if (socketpair(AF_UNIX, I32(info, 0) | SOCK_CLOEXEC, 0, sv) < 0) return Num(info.Env(), -errno);
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, sv[0]);
  a.Set(1u, sv[1]);
  return a;
}

// sendMsg(sock, data: Uint8Array, len, fds: number[]) -> bytes | -errno
Napi::Value SendMsg(const Napi::CallbackInfo& info) {
  size_t cap;
  uint8_t* data = Bytes(info, 1, &cap);
  size_t len = U32(info, 2);
  if (len > cap) return Num(info.Env(), -EINVAL);
  Napi::Array fds = info[3].As<Napi::Array>();
  uint32_t nfds = fds.Length();
  if (nfds > 253) return Num(info.Env(), -EINVAL);
  struct iovec iov = {data, len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> cbuf;
  if (nfds) {
    cbuf.assign(CMSG_SPACE(nfds * sizeof(int)), 0);
    msg.msg_control = cbuf.data();
    msg.msg_controllen = cbuf.size();
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    int* p = reinterpret_cast<int*>(CMSG_DATA(c));
    for (uint32_t i = 0; i < nfds; i++) p[i] = fds.Get(i).As<Napi::Number>().Int32Value();
  }
  ssize_t r;
  do {
    r = sendmsg(I32(info, 0), &msg, MSG_NOSIGNAL);
  } while (r < 0 && errno == EINTR);
  return Ret(info.Env(), r);
}

// recvMsg(sock, buf: Uint8Array, fdsOut: Int32Array, timeoutMs[, flagsOut: Int32Array])
//   -> bytes | -errno
// Received fds are written to fdsOut (close-on-exec); unused slots are -1.
// A timeout of -1 waits forever; 0 bytes means the peer closed. flagsOut[0]
// gets msg_flags: MSG_CTRUNC when fds were dropped (the receiver had no free
// fd for them, or no room in fdsOut).
Napi::Value RecvMsg(const Napi::CallbackInfo& info) {
  size_t cap;
  uint8_t* data = Bytes(info, 1, &cap);
  Napi::Int32Array fdsOut = info[2].As<Napi::Int32Array>();
  int timeout = I32(info, 3);
  int sock = I32(info, 0);
  for (size_t i = 0; i < fdsOut.ElementLength(); i++) fdsOut[i] = -1;
  if (timeout >= 0) {
    struct pollfd p = {sock, POLLIN, 0};
    int pr;
    do {
      pr = poll(&p, 1, timeout);
    } while (pr < 0 && errno == EINTR);
    if (pr < 0) return Num(info.Env(), -errno);
    if (pr == 0) return Num(info.Env(), -ETIMEDOUT);
  }
  size_t maxFds = fdsOut.ElementLength();
  std::vector<char> cbuf(CMSG_SPACE((maxFds ? maxFds : 1) * sizeof(int)));
  struct iovec iov = {data, cap};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf.data();
  msg.msg_controllen = cbuf.size();
  ssize_t r;
  do {
    r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return Num(info.Env(), -errno);
  int flags = msg.msg_flags;
  size_t k = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int* p = reinterpret_cast<int*>(CMSG_DATA(c));
    for (size_t i = 0; i < n; i++) {
      if (k < maxFds)
        fdsOut[k++] = p[i];
      else {
        close(p[i]);
        flags |= MSG_CTRUNC;
      }
    }
  }
  if (info.Length() > 4 && info[4].IsTypedArray()) info[4].As<Napi::Int32Array>()[0] = flags;
  if (msg.msg_flags & MSG_TRUNC) return Num(info.Env(), -EMSGSIZE);
  return Num(info.Env(), static_cast<double>(r));
}

// While an Unprivileged is alive its thread has no effective capabilities
// (credentials are per thread; capset without glibc changes only this one).
// The Sentry holds this around the sends, connects and netlink binds it runs
// for a guest: the kernel checks the caller's capabilities there (netlink
// multicast groups, audit, SO_MARK and IPv6 options in control messages),
// and the guest has none over any network namespace. Permitted ones stay,
// so the destructor can raise them again.
struct Unprivileged {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct saved[2] = {};
  bool on;
  explicit Unprivileged(bool want) : on(want) {
    if (!on) return;
    if (syscall(SYS_capget, &hdr, saved) < 0) abort();
    struct __user_cap_data_struct none[2] = {saved[0], saved[1]};
    none[0].effective = none[1].effective = 0;
    if (syscall(SYS_capset, &hdr, none) < 0) abort();
  }
  ~Unprivileged() {
    if (on && syscall(SYS_capset, &hdr, saved) < 0) abort();  // never leave the Sentry without its capabilities
  }
};
// While an AsGroup is alive its thread's effective gid is `gid` (none when
// negative; credentials are per thread, and the raw syscall changes only this
// one). The Sentry connects unix sockets for a guest under a gid that names
// the connection: the kernel keeps the connecting task's credentials as the
// accepting end's SO_PEERCRED, where the Sentry reads it back for as long as
// that socket lives.
struct AsGroup {
  gid_t saved = 0;
  bool on = false;
  explicit AsGroup(int64_t gid) {
    gid_t r, e, s;
    if (gid < 0 || syscall(SYS_getresgid, &r, &e, &s) < 0) return;
    if (syscall(SYS_setresgid, -1, static_cast<gid_t>(gid), -1) < 0) return;
    saved = e;
    on = true;
  }
  ~AsGroup() {
    if (on && syscall(SYS_setresgid, -1, saved, -1) < 0) abort();  // never leave the Sentry under another gid
  }
};
inline int64_t OptGid(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && info[i].IsNumber() ? info[i].As<Napi::Number>().Int64Value() : -1;
}
inline bool Flag(const Napi::CallbackInfo& info, size_t i) { return info.Length() > i && info[i].IsBoolean() && info[i].As<Napi::Boolean>().Value(); }

// sockBind(fd, addr, len, unprivileged?) / sockConnect(fd, addr, len, unprivileged?, gid?) -> 0 | -errno
Napi::Value SockBind(const Napi::CallbackInfo& info) {
  size_t cap;
  uint8_t* a = Bytes(info, 1, &cap);
  size_t len = U32(info, 2);
  if (len > cap) return Num(info.Env(), -EINVAL);
  Unprivileged u(Flag(info, 3));
  return Ret(info.Env(), bind(I32(info, 0), reinterpret_cast<struct sockaddr*>(a), len));
}
// sockListen(fd, backlog) -> 0 | -errno
Napi::Value SockListen(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), listen(I32(info, 0), I32(info, 1)));
}
// sockName(fd, buf) -> address length | -errno (getsockname into buf)
Napi::Value SockName(const Napi::CallbackInfo& info) {
  size_t cap;
  uint8_t* b = Bytes(info, 1, &cap);
  socklen_t len = cap;
  if (getsockname(I32(info, 0), reinterpret_cast<struct sockaddr*>(b), &len) < 0) return Num(info.Env(), -errno);
  return Num(info.Env(), len);
}
// In a child of this multi-threaded process: only async-signal-safe calls.
void ChildResetSignals() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int s = 1; s < 65; s++) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    sigaction(s, &sa, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

// In a child made to act in a user namespace of its own: writes `text` to /proc/self/`file`.
bool ChildWriteSelf(const char* file, const char* text) {
  char path[64] = "/proc/self/";
  strncat(path, file, sizeof path - strlen(path) - 1);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text, strlen(text)) == static_cast<ssize_t>(strlen(text));
  close(fd);
  return ok;
}

// Runs fn(arg) in a child that shares this process's memory and fd table
// but has credentials, namespaces, root and cwd of its own (CLONE_VM |
// CLONE_VFORK | CLONE_FILES, not CLONE_FS): such a child may make or enter
// a user namespace, which this multi-threaded process may not, and what it
// opens is ours. The calling thread waits until it exits; no page tables
// are copied (a forked child of the Sentry cost 43 ms a call here). fn
// makes raw system calls only and returns an fd, 0 or -errno, returned here.
struct Aside {
  long (*fn)(void*);
  void* arg;
  long result;
};
int AsideMain(void* p) {
  auto* a = static_cast<Aside*>(p);
  ChildResetSignals();
  a->result = a->fn(a->arg);
  _exit(0);
}
long RunAside(long (*fn)(void*), void* arg) {
  Aside a{fn, arg, -EIO};
  constexpr size_t kStack = 64 * 1024;
  void* stack = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return -errno;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pid_t pid = clone(AsideMain, static_cast<char*>(stack) + kStack, CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, &a);
  int e = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  munmap(stack, kStack);
  if (pid < 0) return -e;
  // It exited already (CLONE_VFORK); the Sentry's waiter thread may reap it first: ECHILD then.
  waitpid(pid, nullptr, __WALL);
  return a.result;
}

// The caller's ids as root of a user namespace of its own: the uid_map and
// gid_map lines, made before a RunAside child (which may not allocate).
struct CallerAsRoot {
  char uidMap[32], gidMap[32];
  CallerAsRoot() {
    snprintf(uidMap, sizeof uidMap, "0 %u 1", static_cast<unsigned>(getuid()));
    snprintf(gidMap, sizeof gidMap, "0 %u 1", static_cast<unsigned>(getgid()));
  }
  // In a RunAside child: enters a new user namespace (and `more`
  // namespaces) as its root, the only ids an ordinary user may map.
  long Enter(int more) const {
    if (unshare(CLONE_NEWUSER | more) < 0 || !ChildWriteSelf("setgroups", "deny") || !ChildWriteSelf("uid_map", uidMap) ||
        !ChildWriteSelf("gid_map", gidMap))
      return -errno;
    return 0;
  }
};

// sockBindIn(fd, rootFd, addr, len) -> 0 | -errno: binds a unix socket to
// the path the guest named, verbatim, so that getsockname, getpeername,
// accept and recvfrom report it exactly, while the name is resolved in a
// directory of the Sentry's own. A thread of its own (unshare CLONE_FS) takes
// rootFd as its root and rootFd/c as its cwd, makes the directories the path
// passes through, and binds; its root and cwd go with it.
struct BindIn {
  int fd;
  int root;
  const struct sockaddr* addr;
  socklen_t len;
  int result;
};
static void* BindInMain(void* p) {
  auto* b = static_cast<BindIn*>(p);
  if (unshare(CLONE_FS) < 0 || fchdir(b->root) < 0 || chroot(".") < 0 || (mkdir("c", 0700) < 0 && errno != EEXIST) ||
      chdir("c") < 0) {
    b->result = -errno;
    return nullptr;
  }
  const size_t off = offsetof(struct sockaddr_un, sun_path);
  std::string path(reinterpret_cast<const char*>(b->addr) + off, b->len > off ? b->len - off : 0);
  path.resize(strnlen(path.data(), path.size()));
  for (size_t i = 1; i < path.size(); i++)
    if (path[i] == '/') mkdir(path.substr(0, i).c_str(), 0700);
  b->result = bind(b->fd, b->addr, b->len) < 0 ? -errno : 0;
  return nullptr;
}
// The same for an ordinary user, who may not chroot (docs/design.md,
// "Rootless"): aside, in a user namespace of its own, where it may. The
// directories are named here (the child may not allocate).
struct BindInAsideArgs {
  const BindIn* b;
  const std::vector<std::string>* dirs;
  CallerAsRoot ids;
};
long BindInAsideMain(void* p) {
  auto* a = static_cast<BindInAsideArgs*>(p);
  long r = a->ids.Enter(0);
  if (r < 0) return r;
  if (fchdir(a->b->root) < 0 || chroot(".") < 0 || (mkdir("c", 0700) < 0 && errno != EEXIST) || chdir("c") < 0) return -errno;
  for (auto& d : *a->dirs) mkdir(d.c_str(), 0700);
  return bind(a->b->fd, a->b->addr, a->b->len) < 0 ? -errno : 0;
}
static int BindInAside(const BindIn& b) {
  const size_t off = offsetof(struct sockaddr_un, sun_path);
  std::string path(reinterpret_cast<const char*>(b.addr) + off, b.len > off ? b.len - off : 0);
  path.resize(strnlen(path.data(), path.size()));
  std::vector<std::string> dirs;
  for (size_t i = 1; i < path.size(); i++)
    if (path[i] == '/') dirs.push_back(path.substr(0, i));
  BindInAsideArgs a{&b, &dirs, CallerAsRoot()};
  return static_cast<int>(RunAside(BindInAsideMain, &a));
}
Napi::Value SockBindIn(const Napi::CallbackInfo& info) {
  size_t cap;
  uint8_t* a = Bytes(info, 2, &cap);
  size_t len = U32(info, 3);
  if (len > cap || len > sizeof(struct sockaddr_un)) return Num(info.Env(), -EINVAL);
  BindIn b{I32(info, 0), I32(info, 1), reinterpret_cast<struct sockaddr*>(a), static_cast<socklen_t>(len), -EINVAL};
  if (geteuid() != 0) return Num(info.Env(), BindInAside(b));
  pthread_t th;
  int e = pthread_create(&th, nullptr, BindInMain, &b);
  if (e != 0) return Num(info.Env(), -e);
  pthread_join(th, nullptr);
  return Num(info.Env(), b.result);
}
// removeTree(dirfd, name) -> 0 | -errno: removes name below dirfd with all it
// holds (the Sentry's own directories; symlinks are removed, not followed).
static int RemoveTreeAt(int parent, const char* name, int depth) {
  if (unlinkat(parent, name, 0) == 0 || errno == ENOENT) return 0;
  if (errno != EISDIR && errno != EPERM) return -errno;
  if (depth > 256) return -ELOOP;
  int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  DIR* d = fdopendir(fd);
  if (!d) {
    close(fd);
    return -ENOMEM;
  }
  std::vector<std::string> names;
  while (struct dirent* e = readdir(d))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names.push_back(e->d_name);
  for (auto& n : names) RemoveTreeAt(dirfd(d), n.c_str(), depth + 1);
  closedir(d);
  return unlinkat(parent, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}
Napi::Value RemoveTree(const Napi::CallbackInfo& info) {
  std::string name = Latin1(info, 1);
  return Num(info.Env(), RemoveTreeAt(I32(info, 0), name.c_str(), 0));
}
// unixPeerIno(diagFd, ino) -> peer inode | -errno: the inode of the socket
// connected to unix socket `ino`, asked of sock_diag on diagFd (a
// NETLINK_SOCK_DIAG socket in the socket's network namespace).
Napi::Value UnixPeerIno(const Napi::CallbackInfo& info) {
  int fd = I32(info, 0);
  struct {
    struct nlmsghdr nh;
    struct unix_diag_req req;
  } q;
  memset(&q, 0, sizeof q);
  q.nh.nlmsg_len = sizeof q;
  q.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  q.nh.nlmsg_flags = NLM_F_REQUEST;
  q.req.sdiag_family = AF_UNIX;
  q.req.udiag_states = ~0u;
  q.req.udiag_ino = U32(info, 1);
  q.req.udiag_show = UDIAG_SHOW_PEER;
  q.req.udiag_cookie[0] = q.req.udiag_cookie[1] = ~0u;
  struct sockaddr_nl nl;
  memset(&nl, 0, sizeof nl);
  nl.nl_family = AF_NETLINK;
  if (sendto(fd, &q, sizeof q, 0, reinterpret_cast<struct sockaddr*>(&nl), sizeof nl) < 0) return Num(info.Env(), -errno);
  alignas(struct nlmsghdr) char buf[8192];
  ssize_t n;
  do {
    n = recv(fd, buf, sizeof buf, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Num(info.Env(), -errno);
  for (auto* h = reinterpret_cast<struct nlmsghdr*>(buf); NLMSG_OK(h, static_cast<unsigned>(n)); h = NLMSG_NEXT(h, n)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      auto* err = static_cast<struct nlmsgerr*>(NLMSG_DATA(h));
      return Num(info.Env(), err->error < 0 ? err->error : -ENOENT);
    }
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
    auto* m = static_cast<struct unix_diag_msg*>(NLMSG_DATA(h));
    int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
    for (auto* a = reinterpret_cast<struct rtattr*>(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len))
      if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= 4) return Num(info.Env(), *static_cast<uint32_t*>(RTA_DATA(a)));
    return Num(info.Env(), -ENOTCONN);
  }
  return Num(info.Env(), -ENOENT);
}
// What InNetnsAside's child makes in the namespace: a socket, or an open.
struct InNetnsOp {
  int family, type, protocol;  // a socket, when path is null
  const char* path;
  int flags;
};

// socketInNetns and openInNetns for an ordinary user (docs/design.md,
// "Rootless"), who may not enter a network namespace from its own user
// namespace: aside, joining the network namespace's owner (the sandbox's
// outer user namespace, which the caller made, so holds every capability
// over) and then the namespace.
struct InNetnsArgs {
  int netns;
  InNetnsOp op;
};
long InNetnsMain(void* p) {
  auto* a = static_cast<InNetnsArgs*>(p);
  int owner = ioctl(a->netns, NS_GET_USERNS);
  if (owner < 0) return -errno;
  int r = setns(owner, CLONE_NEWUSER);
  int e = errno;
  close(owner);
  if (r < 0) return -e;
  if (setns(a->netns, CLONE_NEWNET) < 0) return -errno;
  int fd = a->op.path ? open(a->op.path, a->op.flags | O_CLOEXEC) : socket(a->op.family, a->op.type, a->op.protocol);
  return fd < 0 ? -errno : fd;
}
static long InNetnsAside(int netns, const InNetnsOp& op) {
  InNetnsArgs a{netns, op};
  return RunAside(InNetnsMain, &a);
}

// socketInNetns(netnsFd, family, type, protocol) -> fd | -errno: a socket
// made in another network namespace. setns(CLONE_NEWNET) changes only the
// calling thread's namespace; the thread returns to its own at once.
Napi::Value SocketInNetns(const Napi::CallbackInfo& info) {
  if (geteuid() != 0) return Num(info.Env(), static_cast<double>(InNetnsAside(I32(info, 0), {I32(info, 1), I32(info, 2), I32(info, 3), nullptr, 0})));
  static int own = -1;
  if (own < 0) {
    own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (own < 0) return Num(info.Env(), -errno);
  }
  if (setns(I32(info, 0), CLONE_NEWNET) < 0) return Num(info.Env(), -errno);
  int fd = socket(I32(info, 1), I32(info, 2), I32(info, 3));
  int e = errno;
  if (setns(own, CLONE_NEWNET) < 0) abort();  // never leave the Sentry in a guest's namespace
  return Num(info.Env(), fd < 0 ? -e : fd);
}

// openInNetns(netnsFd, path, flags) -> fd | -errno: an open made in another
// network namespace, for /proc/sys/net, whose files are those of the opener's
// namespace. Like socketInNetns, only the calling thread enters it.
Napi::Value OpenInNetns(const Napi::CallbackInfo& info) {
  static int own = -1;
  if (own < 0) {
    own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (own < 0) return Num(info.Env(), -errno);
  }
  std::string path = info[1].As<Napi::String>().Utf8Value();
  if (geteuid() != 0) return Num(info.Env(), static_cast<double>(InNetnsAside(I32(info, 0), {0, 0, 0, path.c_str(), I32(info, 2)})));
  if (setns(I32(info, 0), CLONE_NEWNET) < 0) return Num(info.Env(), -errno);
  int fd = open(path.c_str(), I32(info, 2) | O_CLOEXEC);
  int e = errno;
  if (setns(own, CLONE_NEWNET) < 0) abort();  // never leave the Sentry in a guest's namespace
  return Num(info.Env(), fd < 0 ? -e : fd);
}

// The calling thread's own UTS namespace, to return to after entering another.
static int OwnUtsns() {
  static int own = -1;
  if (own < 0) own = open("/proc/thread-self/ns/uts", O_RDONLY | O_CLOEXEC);
  return own;
}

// utsNames(utsnsFd) -> [nodename, domainname] | -errno: the names of another
// UTS namespace (one a container joins by path). Like socketInNetns, only
// the calling thread enters it, and returns to its own at once.
Napi::Value UtsNames(const Napi::CallbackInfo& info) {
  int own = OwnUtsns();
  if (own < 0) return Num(info.Env(), -errno);
  if (setns(I32(info, 0), CLONE_NEWUTS) < 0) return Num(info.Env(), -errno);
  struct utsname u;
  int r = uname(&u);
  int e = errno;
  if (setns(own, CLONE_NEWUTS) < 0) abort();  // never leave the Sentry in a guest's namespace
  if (r < 0) return Num(info.Env(), -e);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::String::New(info.Env(), u.nodename));
  out.Set(1u, Napi::String::New(info.Env(), u.domainname));
  return out;
}

// openInUtsns(utsnsFd, path, flags) -> fd | -errno: an open of
// /proc/sys/kernel/{hostname,domainname} as that UTS namespace has them
// (the file shows, and its poll follows, the opener's namespace).
Napi::Value OpenInUtsns(const Napi::CallbackInfo& info) {
  int own = OwnUtsns();
  if (own < 0) return Num(info.Env(), -errno);
  std::string path = info[1].As<Napi::String>().Utf8Value();
  if (setns(I32(info, 0), CLONE_NEWUTS) < 0) return Num(info.Env(), -errno);
  int fd = open(path.c_str(), I32(info, 2) | O_CLOEXEC);
  int e = errno;
  if (setns(own, CLONE_NEWUTS) < 0) abort();  // never leave the Sentry in a guest's namespace
  return Num(info.Env(), fd < 0 ? -e : fd);
}

// setUtsName(utsnsFd, domain, name) -> 0 | -errno: sethostname (domain
// false) or setdomainname in that UTS namespace, made by the calling thread
// only, which returns to its own at once.
Napi::Value SetUtsName(const Napi::CallbackInfo& info) {
  int own = OwnUtsns();
  if (own < 0) return Num(info.Env(), -errno);
  bool domain = info[1].As<Napi::Boolean>().Value();
  std::string name = info[2].As<Napi::String>().Utf8Value();
  if (setns(I32(info, 0), CLONE_NEWUTS) < 0) return Num(info.Env(), -errno);
  int r = domain ? setdomainname(name.data(), name.size()) : sethostname(name.data(), name.size());
  int e = errno;
  if (setns(own, CLONE_NEWUTS) < 0) abort();  // never leave the Sentry in a guest's namespace
  return Num(info.Env(), r < 0 ? -e : 0);
}

Napi::Value SockConnect(const Napi::CallbackInfo& info) {
  size_t cap;
  uint8_t* a = Bytes(info, 1, &cap);
  size_t len = U32(info, 2);
  if (len > cap) return Num(info.Env(), -EINVAL);
  Unprivileged u(Flag(info, 3));
  AsGroup g(OptGid(info, 4));
  int r;
  do {
    r = connect(I32(info, 0), reinterpret_cast<struct sockaddr*>(a), len);
  } while (r < 0 && errno == EINTR);
  return Ret(info.Env(), r);
}

// A call that may wait as long as the guest likes (a unix connect for room in
// a listener's backlog, a send for a reader) runs on a thread of its own and
// reports through a thread-safe function: on libuv's pool (4 threads) four
// such calls held up every later one, for any socket of any guest process.
// The Sentry bounds how many wait at once (socket.ts, "Bounds"); a thread
// that cannot be made reports ENOBUFS.
struct BlockingCall {
  std::function<double()> run;
  double result;
  Napi::ThreadSafeFunction done;
};
void FinishBlockingCall(Napi::Env env, Napi::Function cb, BlockingCall* b) {
  double r = b->result;
  delete b;
  if (env != nullptr && cb != nullptr) cb.Call({Napi::Number::New(env, r)});
}
void* BlockingThread(void* arg) {
  auto* b = static_cast<BlockingCall*>(arg);
  b->result = b->run();
  Napi::ThreadSafeFunction done = b->done;
  done.BlockingCall(b, FinishBlockingCall);
  done.Release();
  return nullptr;
}
void RunBlocking(Napi::Env env, Napi::Function cb, std::function<double()> run) {
  auto* b = new BlockingCall{std::move(run), 0, Napi::ThreadSafeFunction::New(env, cb, "tsvisor-blocking-call", 0, 1)};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 << 10);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  int e = pthread_create(&t, &attr, BlockingThread, b);
  pthread_attr_destroy(&attr);
  if (e == 0) return;
  b->result = -ENOBUFS;
  Napi::ThreadSafeFunction done = b->done;
  done.NonBlockingCall(b, FinishBlockingCall);
  done.Release();
}

// sockConnectAsync(fd, addr, len, cb(result), unprivileged?, gid?): a connect
// that may block, on a thread of its own (RunBlocking) so the Sentry's loop
// never waits for a network.
Napi::Value SockConnectAsync(const Napi::CallbackInfo& info) {
  size_t cap;
  uint8_t* a = Bytes(info, 1, &cap);
  size_t len = U32(info, 2);
  if (len > cap) return Num(info.Env(), -EINVAL);
  int fd = I32(info, 0);
  std::vector<uint8_t> addr(a, a + len);
  bool unpriv = Flag(info, 4);
  int64_t gid = OptGid(info, 5);
  RunBlocking(info.Env(), info[3].As<Napi::Function>(), [fd, addr, unpriv, gid]() mutable {
    Unprivileged u(unpriv);
    AsGroup g(gid);
    int r;
    do {
      r = connect(fd, reinterpret_cast<struct sockaddr*>(addr.data()), addr.size());
    } while (r < 0 && errno == EINTR);
    return static_cast<double>(r < 0 ? -errno : 0);
  });
  return Num(info.Env(), 0);
}
// sockOptBytes(fd, optname, out) -> length | -errno: a SOL_SOCKET option's bytes
Napi::Value SockOptBytes(const Napi::CallbackInfo& info) {
  size_t cap;
  uint8_t* out = Bytes(info, 2, &cap);
  socklen_t len = static_cast<socklen_t>(cap);
  if (getsockopt(I32(info, 0), SOL_SOCKET, I32(info, 1), out, &len) < 0) return Num(info.Env(), -errno);
  return Num(info.Env(), len);
}
// sockOptInt(fd, optname) -> value | -errno: an int option at SOL_SOCKET
Napi::Value SockOptInt(const Napi::CallbackInfo& info) {
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(I32(info, 0), SOL_SOCKET, I32(info, 1), &v, &len) < 0) return Num(info.Env(), -errno);
  return Num(info.Env(), v);
}
// sockSendmsg(fd, name|null, data, control|null, flags) -> bytes | -errno
// sockSendmsgAsync(fd, name|null, data, control|null, flags, cb(result))
// The Sentry's send of a guest message it copied (sendto/sendmsg with an
// address, or control data to translate). The async form runs a send that
// may block on a thread of its own (RunBlocking).
struct SendWork {
  int fd;
  int flags;
  bool unpriv;
  bool hasName;
  std::vector<uint8_t> name, data, control;
};
ssize_t DoSend(int fd, std::vector<uint8_t>& name, bool hasName, std::vector<uint8_t>& data,
               std::vector<uint8_t>& control, int flags, bool unpriv) {
  Unprivileged u(unpriv);
  struct iovec iov = {data.data(), data.size()};
  struct msghdr m;
  memset(&m, 0, sizeof m);
  if (hasName) {
    m.msg_name = name.data();
    m.msg_namelen = name.size();
  }
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (!control.empty()) {
    m.msg_control = control.data();
    m.msg_controllen = control.size();
  }
  ssize_t r;
  do {
    r = sendmsg(fd, &m, flags | MSG_NOSIGNAL);
  } while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}
void FillSend(const Napi::CallbackInfo& info, SendWork* w) {
  size_t n;
  w->fd = I32(info, 0);
  w->hasName = info[1].IsTypedArray();
  if (w->hasName) {
    uint8_t* a = Bytes(info, 1, &n);
    w->name.assign(a, a + n);
  }
  uint8_t* d = Bytes(info, 2, &n);
  w->data.assign(d, d + n);
  if (info[3].IsTypedArray()) {
    uint8_t* c = Bytes(info, 3, &n);
    w->control.assign(c, c + n);
  }
  w->flags = I32(info, 4);
}
Napi::Value SockSendmsg(const Napi::CallbackInfo& info) {
  SendWork w;
  FillSend(info, &w);
  w.unpriv = Flag(info, 5);
  return Num(info.Env(), static_cast<double>(DoSend(w.fd, w.name, w.hasName, w.data, w.control, w.flags, w.unpriv)));
}
Napi::Value SockSendmsgAsync(const Napi::CallbackInfo& info) {
  auto w = std::make_shared<SendWork>();
  FillSend(info, w.get());
  w->unpriv = Flag(info, 6);
  RunBlocking(info.Env(), info[5].As<Napi::Function>(), [w]() {
    return static_cast<double>(DoSend(w->fd, w->name, w->hasName, w->data, w->control, w->flags, w->unpriv));
  });
  return Num(info.Env(), 0);
}
// fcntlGetfl(fd) -> flags | -errno; fcntlSetfl(fd, flags) -> 0 | -errno
Napi::Value FcntlGetfl(const Napi::CallbackInfo& info) { return Ret(info.Env(), fcntl(I32(info, 0), F_GETFL)); }
Napi::Value FcntlSetfl(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), fcntl(I32(info, 0), F_SETFL, I32(info, 1)));
}

// flock(fd, op) -> 0 | -errno (LOCK_SH 1, LOCK_EX 2, LOCK_NB 4, LOCK_UN 8); retries EINTR.
Napi::Value Flock(const Napi::CallbackInfo& info) {
  int r;
  do {
    r = flock(I32(info, 0), I32(info, 1));
  } while (r < 0 && errno == EINTR);
  return Ret(info.Env(), r);
}

// ptyUnlock(master) -> pts number | -errno: unlockpt + ptsname's number.
Napi::Value PtyUnlock(const Napi::CallbackInfo& info) {
  int fd = I32(info, 0), unlock = 0, n = 0;
  if (ioctl(fd, TIOCSPTLCK, &unlock) < 0 || ioctl(fd, TIOCGPTN, &n) < 0) return Num(info.Env(), -errno);
  return Num(info.Env(), n);
}

// ttySetSize(fd, rows, cols) -> 0 | -errno
Napi::Value TtySetSize(const Napi::CallbackInfo& info) {
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  ws.ws_row = static_cast<unsigned short>(U32(info, 1));
  ws.ws_col = static_cast<unsigned short>(U32(info, 2));
  return Ret(info.Env(), ioctl(I32(info, 0), TIOCSWINSZ, &ws));
}

// sendFdTo(socketPath, fd, name) -> 0 | -errno: connects to a unix stream
// socket and sends fd with SCM_RIGHTS, `name` as the data (what runc sends
// to a --console-socket).
Napi::Value SendFdTo(const Napi::CallbackInfo& info) {
  std::string path = Latin1(info, 0);
  int fd = I32(info, 1);
  std::string name = Latin1(info, 2);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Num(info.Env(), -ENAMETOOLONG);
  memcpy(addr.sun_path, path.c_str(), path.size());
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return Num(info.Env(), -errno);
  int r;
  do {
    r = connect(s, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    int e = errno;
    close(s);
    return Num(info.Env(), -e);
  }
  struct iovec iov = {const_cast<char*>(name.data()), name.size()};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = u.buf;
  m.msg_controllen = sizeof u.buf;
  struct cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do {
    n = sendmsg(s, &m, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  int e = n < 0 ? errno : 0;
  close(s);
  return Num(info.Env(), -e);
}

// pinSelf() -> cpu | -errno: restricts the calling thread to the CPU it runs on.
Napi::Value PinSelf(const Napi::CallbackInfo& info) {
  int cpu = sched_getcpu();
  if (cpu < 0) return Num(info.Env(), -errno);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) < 0) return Num(info.Env(), -errno);
  return Num(info.Env(), cpu);
}

// keepOnMyCpu(tid) -> cpu | -errno
// Restricts thread `tid` (a peer this thread is about to wake and wait for,
// such as the Gofer) to the CPU the caller runs on, when the caller moved
// since the last call: a same-CPU hand-off costs ~5 us, waking an idle vCPU
// ~40 us each way (measured here).
Napi::Value KeepOnMyCpu(const Napi::CallbackInfo& info) {
  static pid_t lastTid = 0;
  static int lastCpu = -1;
  pid_t tid = I32(info, 0);
  int cpu = sched_getcpu();
  if (cpu < 0) return Num(info.Env(), -errno);
  if (tid == lastTid && cpu == lastCpu) return Num(info.Env(), cpu);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(tid, sizeof set, &set) < 0) return Num(info.Env(), -errno);
  lastTid = tid;
  lastCpu = cpu;
  return Num(info.Env(), cpu);
}

// ---- processes -------------------------------------------------------------

std::vector<std::string> Strings(Napi::Array a) {
  std::vector<std::string> out;
  napi_env env = a.Env();
  for (uint32_t i = 0; i < a.Length(); i++) {
    napi_value v = a.Get(i);
    size_t len = 0;
    napi_get_value_string_latin1(env, v, nullptr, 0, &len);
    std::string s(len, '\0');
    napi_get_value_string_latin1(env, v, s.data(), len + 1, &len);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<char*> Ptrs(std::vector<std::string>& v) {
  std::vector<char*> p;
  for (auto& s : v) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}


// Moves each map[i] to map[i+1] (pairs), then closes every fd above the
// highest target. Runs in a child of this multi-threaded process, so it must
// not allocate: another thread may have held malloc's lock at the fork.
// `tmp` (one slot per pair) is allocated by the parent.
void ChildMapFds(const int* map, size_t len, int* tmp) {
  int maxDst = 2;
  for (size_t i = 1; i < len; i += 2)
    if (map[i] > maxDst) maxDst = map[i];
  for (size_t i = 0; i < len; i += 2) tmp[i / 2] = fcntl(map[i], F_DUPFD_CLOEXEC, maxDst + 1);
  for (size_t i = 0; i < len; i += 2) dup2(tmp[i / 2], map[i + 1]);
  syscall(SYS_close_range, maxDst + 1, ~0U, 0);
}

std::vector<int> FdMap(const Napi::CallbackInfo& info, size_t i) {
  std::vector<int> m;
  Napi::Array a = info[i].As<Napi::Array>();
  for (uint32_t k = 0; k < a.Length(); k++) m.push_back(a.Get(k).As<Napi::Number>().Int32Value());
  return m;
}

// spawnSandbox(path, argv, envp, cloneFlags, fdMap[src,dst,...]) -> [pid, syncFd] | -errno
// The child is created in the requested namespaces and waits until the parent
// writes one byte to syncFd (after writing its uid/gid maps), then execs path.
// It dies with the calling thread (PR_SET_PDEATHSIG, kept across the exec);
// if that thread is gone before the child could ask for it, the sync pipe
// reads end-of-file, since the parent held its only other write end.
Napi::Value SpawnSandbox(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = Latin1(info, 0);
  std::vector<std::string> argv = Strings(info[1].As<Napi::Array>());
  std::vector<std::string> envp = Strings(info[2].As<Napi::Array>());
  unsigned long flags = static_cast<unsigned long>(I64(info, 3));
  std::vector<int> map = FdMap(info, 4);
  std::vector<int> tmp(map.size() / 2 + 1);
  std::vector<char*> av = Ptrs(argv), ev = Ptrs(envp);
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) < 0) return Num(env, -errno);
  // No handler of this process may run in the child before it resets them.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) {
    ChildResetSignals();
    syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    close(sync[1]);
    char go = 0;
    ssize_t n;
    do {
      n = read(sync[0], &go, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) _exit(125);
    // Become root of the new user namespace (host uid 0 is unmapped there, so
    // exec would otherwise drop every capability). Raw syscalls: glibc's
    // set*id would try to broadcast to the parent's threads, absent here.
    // A namespace an ordinary user made denies setgroups (EPERM): the
    // caller's groups stay.
    if (flags & CLONE_NEWUSER) {
      if ((syscall(SYS_setgroups, 0, nullptr) < 0 && errno != EPERM) || syscall(SYS_setresgid, 0, 0, 0) < 0 ||
          syscall(SYS_setresuid, 0, 0, 0) < 0)
        _exit(125);
    }
    ChildMapFds(map.data(), map.size(), tmp.data());
    execve(path.c_str(), av.data(), ev.data());
    static const char msg[] = "tsvisor: cannot execute the launcher\n";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(126);
    _exit(126);
  }
  int e = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(sync[0]);
  if (pid < 0) {
    close(sync[1]);
    return Num(env, -e);
  }
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, static_cast<double>(pid));
  a.Set(1u, sync[1]);
  return a;
}

struct SpawnArgs {
  const char* path;
  char* const* argv;
  char* const* envp;
  const int* map;
  size_t mapLen;
  int* tmp;
  bool setsid;
  pid_t parent;
  int err;  // set by the child when it fails before or at the exec
};

// The child of spawn(): shares the parent's memory until it execs
// (CLONE_VM | CLONE_VFORK, as posix_spawn does), so only raw system calls.
int SpawnChild(void* p) {
  auto* a = static_cast<SpawnArgs*>(p);
  ChildResetSignals();
  // Die with the thread that spawned us; if it is gone already, now.
  syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid() != a->parent) _exit(127);
  if (a->setsid && setsid() < 0) {
    a->err = errno;
    _exit(127);
  }
  ChildMapFds(a->map, a->mapLen, a->tmp);
  execve(a->path, a->argv, a->envp);
  a->err = errno;
  _exit(127);
}

// spawn(path, argv, envp, fdMap[src,dst,...], newSession) -> pid | -errno
// The child gets default signal handling, an empty signal mask, only the
// mapped fds, and dies with the calling thread (PR_SET_PDEATHSIG, SIGKILL):
// nothing this process starts outlives it, even while it boots.
Napi::Value Spawn(const Napi::CallbackInfo& info) {
  std::string path = Latin1(info, 0);
  std::vector<std::string> argv = Strings(info[1].As<Napi::Array>());
  std::vector<std::string> envp = Strings(info[2].As<Napi::Array>());
  std::vector<int> map = FdMap(info, 3);
  std::vector<int> tmp(map.size() / 2 + 1);
  std::vector<char*> av = Ptrs(argv), ev = Ptrs(envp);
  SpawnArgs a = {path.c_str(), av.data(), ev.data(), map.data(), map.size(), tmp.data(), info[4].ToBoolean(), getpid(), 0};
  constexpr size_t kStack = 64 * 1024;
  void* stack = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return Num(info.Env(), -errno);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pid_t pid = clone(SpawnChild, static_cast<char*>(stack) + kStack, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
  int e = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  munmap(stack, kStack);
  if (pid < 0) return Num(info.Env(), -e);
  if (a.err) {
    // It exited already (CLONE_VFORK returns after the exec or the exit).
    // The Sentry's waiter thread may reap it first: ECHILD then.
    waitpid(pid, nullptr, __WALL);
    return Num(info.Env(), -a.err);
  }
  return Num(info.Env(), pid);
}

Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
}
Napi::Value SetPdeathsig(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), prctl(PR_SET_PDEATHSIG, I32(info, 0), 0, 0, 0));
}
Napi::Value SetNoNewPrivs(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
}
// seccompInstall(prog: Uint8Array of sock_filter, flags) -> 0 | listener fd | -errno
Napi::Value SeccompInstall(const Napi::CallbackInfo& info) {
  size_t len;
  uint8_t* p = Bytes(info, 0, &len);
  struct sock_fprog prog = {static_cast<unsigned short>(len / sizeof(struct sock_filter)),
                            reinterpret_cast<struct sock_filter*>(p)};
  return Ret(info.Env(), syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, U32(info, 1), &prog));
}
Napi::Value Unshare(const Napi::CallbackInfo& info) { return Ret(info.Env(), unshare(I32(info, 0))); }
// A file system of `type` mounted nowhere (fsopen, fsconfig of the string
// options `opts`, name and value pairs ending in nullptr, fsmount with
// `attrs`): its mount fd (close-on-exec), or -errno. Raw system calls only,
// so a child of this multi-threaded process may call it.
long DetachedMount(const char* type, const char* const* opts, unsigned attrs) {
  int fsfd = static_cast<int>(syscall(SYS_fsopen, type, FSOPEN_CLOEXEC));
  if (fsfd < 0) return -errno;
  long r = 0;
  for (int i = 0; r == 0 && opts[i]; i += 2) r = syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, opts[i], opts[i + 1], 0);
  if (r == 0) r = syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0);
  if (r == 0) r = syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, attrs);
  int e = errno;
  close(fsfd);
  return r < 0 ? -e : r;
}


// DetachedMount for a process that may not mount (an ordinary user: see
// docs/design.md, "Rootless"): aside, in a user and a mount namespace of
// its own (only the caller's ids mapped); the file system then serves the
// caller from its own namespaces, its files owned by the caller.
struct DetachedMountArgs {
  const char* type;
  const char* const* opts;
  unsigned attrs;
  CallerAsRoot ids;
};
long DetachedMountMain(void* p) {
  auto* a = static_cast<DetachedMountArgs*>(p);
  long r = a->ids.Enter(CLONE_NEWNS);
  return r < 0 ? r : DetachedMount(a->type, a->opts, a->attrs);
}
long DetachedMountAside(const char* type, const char* const* opts, unsigned attrs) {
  DetachedMountArgs a{type, opts, attrs, CallerAsRoot()};
  return RunAside(DetachedMountMain, &a);
}

// Root mounts here; an ordinary user has it made aside.
long DetachedMountAsCaller(const char* type, const char* const* opts, unsigned attrs) {
  return geteuid() == 0 ? DetachedMount(type, opts, attrs) : DetachedMountAside(type, opts, attrs);
}

// tmpfsMount(sizeBytes, nrInodes, noexec = false) -> mount fd | -errno: a new
// tmpfs (root directory 0700) mounted nowhere, nosuid and nodev (and noexec
// if asked: the kernel then refuses PROT_EXEC mappings of its files). Files
// are reached only relative to the returned fd; the mount goes away with the
// last fd referring to it or to a file in it.
Napi::Value TmpfsMount(const Napi::CallbackInfo& info) {
  std::string size = std::to_string(I64(info, 0));
  std::string inodes = std::to_string(I64(info, 1));
  bool noexec = info.Length() > 2 && info[2].ToBoolean().Value();
  const char* opts[] = {"size", size.c_str(), "nr_inodes", inodes.c_str(), "mode", "0700", nullptr};
  unsigned attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (noexec ? MOUNT_ATTR_NOEXEC : 0);
  return Num(info.Env(), static_cast<double>(DetachedMountAsCaller("tmpfs", opts, attrs)));
}

// devptsInstance() -> mount fd | -errno: a new devpts instance (ptmx 0666,
// ptys 0620) mounted nowhere, nosuid and noexec, for a Gofer that may not
// mount (an ordinary user's).
Napi::Value DevptsInstance(const Napi::CallbackInfo& info) {
  const char* opts[] = {"ptmxmode", "0666", "mode", "0620", nullptr};
  return Num(info.Env(), static_cast<double>(DetachedMountAsCaller("devpts", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC)));
}

// mount(source, target, fstype, flags, data)
Napi::Value Mount(const Napi::CallbackInfo& info) {
  std::string src = Latin1(info, 0), dst = Latin1(info, 1), type = Latin1(info, 2), data = Latin1(info, 4);
  return Ret(info.Env(), mount(src.empty() ? nullptr : src.c_str(), dst.c_str(), type.empty() ? nullptr : type.c_str(),
                               static_cast<unsigned long>(I64(info, 3)), data.empty() ? nullptr : data.c_str()));
}
// setAffinity(tid, cpuMask) -> 0 | -errno; tid 0 is the calling thread.
Napi::Value SetAffinity(const Napi::CallbackInfo& info) {
  cpu_set_t set;
  CPU_ZERO(&set);
  uint32_t mask = U32(info, 1);
  for (int c = 0; c < 32; c++)
    if (mask & (1u << c)) CPU_SET(c, &set);
  return Ret(info.Env(), sched_setaffinity(I32(info, 0), sizeof set, &set));
}
// setRlimit(resource, soft, hard) with -1 for RLIM_INFINITY
Napi::Value SetRlimit(const Napi::CallbackInfo& info) {
  struct rlimit r;
  int64_t soft = I64(info, 1), hard = I64(info, 2);
  r.rlim_cur = soft < 0 ? RLIM_INFINITY : static_cast<rlim_t>(soft);
  r.rlim_max = hard < 0 ? RLIM_INFINITY : static_cast<rlim_t>(hard);
  return Ret(info.Env(), setrlimit(I32(info, 0), &r));
}
// getRlimit(resource) -> [soft, hard] (-1 for RLIM_INFINITY) | -errno
Napi::Value GetRlimit(const Napi::CallbackInfo& info) {
  struct rlimit r;
  if (getrlimit(I32(info, 0), &r) < 0) return Num(info.Env(), -errno);
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, r.rlim_cur == RLIM_INFINITY ? -1.0 : static_cast<double>(r.rlim_cur));
  a.Set(1u, r.rlim_max == RLIM_INFINITY ? -1.0 : static_cast<double>(r.rlim_max));
  return a;
}
Napi::Value Gettid(const Napi::CallbackInfo& info) { return Num(info.Env(), syscall(SYS_gettid)); }
// realtime(out): out[0] seconds, out[1] nanoseconds of CLOCK_REALTIME (file times the Sentry sets itself)
Napi::Value Realtime(const Napi::CallbackInfo& info) {
  Napi::Float64Array out = info[0].As<Napi::Float64Array>();
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  out[0] = static_cast<double>(ts.tv_sec);
  out[1] = static_cast<double>(ts.tv_nsec);
  return info.Env().Undefined();
}
Napi::Value Umask(const Napi::CallbackInfo& info) { return Num(info.Env(), umask(U32(info, 0))); }

}  // namespace

void InitSys(Napi::Env env, Napi::Object exports) {
  struct {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  } fns[] = {
      {"memRead", MemRead},
      {"memWrite", MemWrite},
      {"memReadCString", MemReadCString},
      {"pidfdOpen", PidfdOpen},
      {"pidfdGetfd", PidfdGetfd},
      {"pidfdSendSignal", PidfdSendSignal},
      {"close", Close},
      {"dup", Dup},
      {"memfdCreate", MemfdCreate},
      {"reopen", Reopen},
      {"pipe", Pipe},
      {"tee", Tee},
      {"lseek", Lseek},
      {"ftruncate", Ftruncate},
      {"fchmod", Fchmod},
      {"getdents", Getdents},
      {"futimens", Futimens},
      {"copyFile", CopyFile},
      {"statxFd", StatxFd},
      {"openat2", Openat2},
      {"socketpair", Socketpair},
      {"sendMsg", SendMsg},
      {"recvMsg", RecvMsg},
      {"sockBind", SockBind},
      {"sockName", SockName},
      {"sockListen", SockListen},
      {"sockConnect", SockConnect},
      {"sockConnectAsync", SockConnectAsync},
      {"sockOptInt", SockOptInt},
      {"sockOptBytes", SockOptBytes},
      {"sockSendmsg", SockSendmsg},
      {"sockSendmsgAsync", SockSendmsgAsync},
      {"fcntlGetfl", FcntlGetfl},
      {"fcntlSetfl", FcntlSetfl},
      {"keepOnMyCpu", KeepOnMyCpu},
      {"pinSelf", PinSelf},
      {"dup2", Dup2},
      {"socketInNetns", SocketInNetns},
      {"openInNetns", OpenInNetns},
      {"sockBindIn", SockBindIn},
      {"unixPeerIno", UnixPeerIno},
      {"removeTree", RemoveTree},
      {"utsNames", UtsNames},
      {"openInUtsns", OpenInUtsns},
      {"setUtsName", SetUtsName},
      {"ptyUnlock", PtyUnlock},
      {"ttySetSize", TtySetSize},
      {"sendFdTo", SendFdTo},
      {"flock", Flock},
      {"spawnSandbox", SpawnSandbox},
      {"spawn", Spawn},
      {"setChildSubreaper", SetChildSubreaper},
      {"setPdeathsig", SetPdeathsig},
      {"setNoNewPrivs", SetNoNewPrivs},
      {"seccompInstall", SeccompInstall},
      {"unshare", Unshare},
      {"tmpfsMount", TmpfsMount},
      {"devptsInstance", DevptsInstance},
      {"mount", Mount},
      {"setAffinity", SetAffinity},
      {"setRlimit", SetRlimit},
      {"getRlimit", GetRlimit},
      {"gettid", Gettid},
      {"realtime", Realtime},
      {"umask", Umask},
  };
  for (auto& f : fns) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));
}

}  // namespace tsv
