// Seccomp user-notification mechanism: a libuv poll on the listener fd, one
// synchronous call into JS per notification, and the reply sent from C.
//
// The notification and the reply travel through one shared ArrayBuffer whose
// layout is mirrored by src/platform/notif-layout.ts:
//   0  u64 id           8  u32 tid        12 i32 nr         16 u32 arch
//   24 f64 ip           32 f64 args[6] (signed 64-bit values as doubles)
//   80 i32 argsLo[6]   104 u32 argsHi[6]
//  128 f64 reply value 136 i32 reply errno (positive) 140 u32 reply flags
//  144 i32 action: 0 = send the reply now, 1 = already answered or deferred
#include "common.h"

#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include <cstring>
#include <map>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

namespace tsv {
namespace {

constexpr size_t kLayoutSize = 160;
// Notifications handled per poll wake-up before yielding back to libuv, so a
// busy guest cannot starve timers and other sockets of the Sentry.
constexpr int kBatch = 64;

struct Watcher {
  uv_poll_t poll;
  int fd;
  napi_env env;
  Napi::FunctionReference onNotif;
  Napi::FunctionReference onClose;
  Napi::Reference<Napi::ArrayBuffer> bufRef;
  uint8_t* buf;
  napi_async_context actx;
  struct seccomp_notif* req;
  struct seccomp_notif_resp* resp;
  size_t reqSize;
  size_t respSize;
};

std::map<int, Watcher*> watchers;

void FillLayout(uint8_t* b, const struct seccomp_notif* n) {
  memcpy(b + 0, &n->id, 8);
  uint32_t pid = n->pid;
  int32_t nr = n->data.nr;
  uint32_t arch = n->data.arch;
  memcpy(b + 8, &pid, 4);
  memcpy(b + 12, &nr, 4);
  memcpy(b + 16, &arch, 4);
  double ip = static_cast<double>(n->data.instruction_pointer);
  memcpy(b + 24, &ip, 8);
  for (int i = 0; i < 6; i++) {
    double d = static_cast<double>(static_cast<int64_t>(n->data.args[i]));
    int32_t lo = static_cast<int32_t>(n->data.args[i] & 0xffffffffu);
    uint32_t hi = static_cast<uint32_t>(n->data.args[i] >> 32);
    memcpy(b + 32 + 8 * i, &d, 8);
    memcpy(b + 80 + 4 * i, &lo, 4);
    memcpy(b + 104 + 4 * i, &hi, 4);
  }
  double zero = 0;
  memcpy(b + 128, &zero, 8);
  memset(b + 136, 0, 12);
}

void SendReply(Watcher* w, uint64_t id) {
  double val;
  int32_t err;
  uint32_t flags;
  memcpy(&val, w->buf + 128, 8);
  memcpy(&err, w->buf + 136, 4);
  memcpy(&flags, w->buf + 140, 4);
  memset(w->resp, 0, w->respSize);
  w->resp->id = id;
  w->resp->val = static_cast<int64_t>(val);
  w->resp->error = err ? -err : 0;
  w->resp->flags = flags;
  // ENOENT: the target died (or was interrupted by a fatal signal) meanwhile.
  while (ioctl(w->fd, SECCOMP_IOCTL_NOTIF_SEND, w->resp) < 0 && errno == EINTR) {
  }
}

void CloseWatcher(Watcher* w, bool notify);

void OnReadable(uv_poll_t* handle, int status, int events) {
  Watcher* w = static_cast<Watcher*>(handle->data);
  Napi::Env env(w->env);
  if (status < 0 || (events & UV_DISCONNECT)) {
    CloseWatcher(w, true);
    return;
  }
  Napi::HandleScope scope(env);
  napi_callback_scope cscope;
  napi_value resource = Napi::Object::New(env);
  napi_open_callback_scope(w->env, resource, w->actx, &cscope);
  for (int i = 0; i < kBatch; i++) {
    memset(w->req, 0, w->reqSize);
    if (ioctl(w->fd, SECCOMP_IOCTL_NOTIF_RECV, w->req) < 0) {
      if (errno == EINTR) continue;
      break;  // ENOENT: the notifying task went away before we read it.
    }
    FillLayout(w->buf, w->req);
    w->onNotif.Call({});
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      // The dispatcher catches everything; reaching here is a Sentry bug.
      // Fail the call rather than leaving the guest thread blocked forever.
      int32_t eio = EIO;
      memcpy(w->buf + 136, &eio, 4);
      int32_t now = 0;
      memcpy(w->buf + 144, &now, 4);
      SendReply(w, w->req->id);
      napi_fatal_exception(w->env, e.Value());
      break;
    }
    int32_t action;
    memcpy(&action, w->buf + 144, 4);
    if (action == 0) SendReply(w, w->req->id);
    struct pollfd pfd = {w->fd, POLLIN, 0};
    if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLIN)) break;
  }
  napi_close_callback_scope(w->env, cscope);
}

void FreeWatcher(uv_handle_t* h) {
  Watcher* w = static_cast<Watcher*>(h->data);
  free(w->req);
  free(w->resp);
  delete w;
}

void CloseWatcher(Watcher* w, bool notify) {
  if (watchers.erase(w->fd) == 0) return;
  uv_poll_stop(&w->poll);
  if (notify && !w->onClose.IsEmpty()) {
    Napi::Env env(w->env);
    Napi::HandleScope scope(env);
    w->onClose.Call({});
  }
  napi_async_destroy(w->env, w->actx);
  w->onNotif.Reset();
  w->onClose.Reset();
  w->bufRef.Reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), FreeWatcher);
}

// notifStart(fd, layout: ArrayBuffer, onNotif(), onClose()) -> 0 | -errno
Napi::Value NotifStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = I32(info, 0);
  Napi::ArrayBuffer ab = info[1].As<Napi::ArrayBuffer>();
  if (ab.ByteLength() < kLayoutSize) return Napi::Number::New(env, -EINVAL);
  if (watchers.count(fd)) return Napi::Number::New(env, -EBUSY);
  struct seccomp_notif_sizes sizes;
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0) return Napi::Number::New(env, -errno);
  Watcher* w = new Watcher();
  w->fd = fd;
  w->env = env;
  w->buf = static_cast<uint8_t*>(ab.Data());
  w->bufRef = Napi::Persistent(ab);
  w->onNotif = Napi::Persistent(info[2].As<Napi::Function>());
  if (info.Length() > 3 && info[3].IsFunction()) w->onClose = Napi::Persistent(info[3].As<Napi::Function>());
  w->reqSize = sizes.seccomp_notif > sizeof(struct seccomp_notif) ? sizes.seccomp_notif : sizeof(struct seccomp_notif);
  w->respSize = sizes.seccomp_notif_resp > sizeof(struct seccomp_notif_resp) ? sizes.seccomp_notif_resp
                                                                               : sizeof(struct seccomp_notif_resp);
  w->req = static_cast<struct seccomp_notif*>(calloc(1, w->reqSize));
  w->resp = static_cast<struct seccomp_notif_resp*>(calloc(1, w->respSize));
  napi_value name = Napi::String::New(env, "tsvisor:seccomp-notif");
  napi_async_init(env, nullptr, name, &w->actx);
  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &w->poll, fd);
  w->poll.data = w;
  uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, OnReadable);
  watchers[fd] = w;
  return Napi::Number::New(env, 0);
}

Napi::Value NotifStop(const Napi::CallbackInfo& info) {
  auto it = watchers.find(I32(info, 0));
  if (it != watchers.end()) CloseWatcher(it->second, false);
  return info.Env().Undefined();
}

uint64_t Id(const Napi::CallbackInfo& info, size_t i) {
  bool lossless;
  return info[i].As<Napi::BigInt>().Uint64Value(&lossless);
}

// notifSend(fd, id, val, errno, flags): answer a deferred notification.
Napi::Value NotifSend(const Napi::CallbackInfo& info) {
  struct seccomp_notif_resp resp;
  memset(&resp, 0, sizeof resp);
  resp.id = Id(info, 1);
  resp.val = I64(info, 2);
  int32_t err = I32(info, 3);
  resp.error = err ? -err : 0;
  resp.flags = U32(info, 4);
  int r;
  while ((r = ioctl(I32(info, 0), SECCOMP_IOCTL_NOTIF_SEND, &resp)) < 0 && errno == EINTR) {
  }
  return Ret(info.Env(), r);
}

// notifAddFd(fd, id, srcfd, newfdFlags, addfdFlags, newfd, targetTid) -> guest fd | -errno
//
// The target installs the fd itself, woken with a plain completion: the
// scheduler would place it on an idle CPU (the Sentry occupies the target's
// own), and waking an idle vCPU costs ~30 us each way here. For the duration
// of the ioctl the target may run only on the Sentry's CPU, so the hand-off
// is a context switch (open+close: 13 us instead of 75-95 us, measured).
//
// With SECCOMP_ADDFD_FLAG_SEND the ioctl also answers the call, and the
// target would return to the guest still restricted to that CPU, before the
// Sentry restores its mask: the guest saw one CPU in sched_getaffinity right
// after an open, and a child it forked then kept that mask for good. So when
// the target is pinned, the fd is added without SEND and the call answered
// (SECCOMP_IOCTL_NOTIF_SEND, a same-CPU wake-up with SYNC_WAKE_UP) once the
// mask is back. Nothing can run in the guest in between: the target waits
// for the answer with signals held back (WAIT_KILLABLE_RECV), and only a
// fatal signal ends that wait, taking the fd with it.
//
// Signals are blocked around the ioctl. With SECCOMP_ADDFD_FLAG_SEND the
// kernel marks the notification answered before it waits for the target to
// take the fd; a signal interrupting that wait withdraws the fd but leaves
// the answer in place, so the guest's call would return 0 (seen here under
// the CPU profiler's SIGPROF, and possible with any handled signal).
Napi::Value NotifAddFd(const Napi::CallbackInfo& info) {
  struct seccomp_notif_addfd a;
  memset(&a, 0, sizeof a);
  a.id = Id(info, 1);
  a.srcfd = U32(info, 2);
  a.newfd_flags = U32(info, 3);
  a.flags = U32(info, 4);
  a.newfd = U32(info, 5);
  pid_t target = info.Length() > 6 ? I32(info, 6) : 0;
  cpu_set_t saved, here;
  bool pinned = false;
  int cpu = sched_getcpu();
  if (target > 0 && cpu >= 0 && sched_getaffinity(target, sizeof saved, &saved) == 0 && CPU_ISSET(cpu, &saved)) {
    CPU_ZERO(&here);
    CPU_SET(cpu, &here);
    pinned = sched_setaffinity(target, sizeof here, &here) == 0;
  }
  bool send = (a.flags & SECCOMP_ADDFD_FLAG_SEND) != 0;
  if (pinned) a.flags &= ~SECCOMP_ADDFD_FLAG_SEND;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int r;
  while ((r = ioctl(I32(info, 0), SECCOMP_IOCTL_NOTIF_ADDFD, &a)) < 0 && errno == EINTR) {
  }
  int e = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pinned) {
    sched_setaffinity(target, sizeof saved, &saved);
    if (send && r >= 0) {
      struct seccomp_notif_resp resp;
      memset(&resp, 0, sizeof resp);
      resp.id = a.id;
      resp.val = r;
      int s;
      while ((s = ioctl(I32(info, 0), SECCOMP_IOCTL_NOTIF_SEND, &resp)) < 0 && errno == EINTR) {
      }
      if (s < 0) {
        e = errno;
        r = -1;
      }
    }
  }
  errno = e;
  return Ret(info.Env(), r);
}

Napi::Value NotifIdValid(const Napi::CallbackInfo& info) {
  uint64_t id = Id(info, 1);
  return Ret(info.Env(), ioctl(I32(info, 0), SECCOMP_IOCTL_NOTIF_ID_VALID, &id));
}

// Ask the kernel to wake the Sentry and the guest on the waker's CPU, so a
// trap is a same-CPU hand-off instead of an idle-CPU wake-up (kernel >= 6.6).
Napi::Value NotifSetSyncWakeup(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), ioctl(I32(info, 0), SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP));
}

}  // namespace

void InitNotif(Napi::Env env, Napi::Object exports) {
  exports.Set("notifStart", Napi::Function::New(env, NotifStart));
  exports.Set("notifStop", Napi::Function::New(env, NotifStop));
  exports.Set("notifSend", Napi::Function::New(env, NotifSend));
  exports.Set("notifAddFd", Napi::Function::New(env, NotifAddFd));
  exports.Set("notifIdValid", Napi::Function::New(env, NotifIdValid));
  exports.Set("notifSetSyncWakeup", Napi::Function::New(env, NotifSetSyncWakeup));
}

}  // namespace tsv
