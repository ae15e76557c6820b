// Waiting without a clock: the primitives the Sentry uses to wait for its
// launcher and its Gofer by their liveness (a socket becomes readable, or the
// process ends) rather than by a timeout, and to notice a terminating signal
// while its event loop is blocked in such a wait.
//
//   pollFds       blocks until one of a few fds is readable (the Gofer client:
//                 its calls are synchronous by design);
//   watchFd       the same on the event loop (uv_poll), one-shot: the launcher
//                 handshake, so signals keep being handled while it waits;
//   pidfdStatus   how a child ended, without reaping it (the waiter thread
//                 reaps every child);
//   pidfdReap     how a child ended, reaping it (the containerd shim, which
//                 has no waiter, adopts the anchors of its containers);
//   signalWake    an eventfd that becomes readable when one of the given
//                 signals arrives, whatever the event loop is doing.
#include "common.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <time.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cstring>
#include <map>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace tsv {
namespace {

// pollFds(fds: number[], timeoutMs) -> bitmask of the fds that are readable
// (or hung up / in error), 0 on timeout, -errno. -1 waits without a limit.
Napi::Value PollFds(const Napi::CallbackInfo& info) {
  Napi::Array a = info[0].As<Napi::Array>();
  uint32_t n = a.Length();
  if (n == 0 || n > 8) return Napi::Number::New(info.Env(), -EINVAL);
  struct pollfd p[8];
  for (uint32_t i = 0; i < n; i++) p[i] = {a.Get(i).As<Napi::Number>().Int32Value(), POLLIN, 0};
  int timeout = I32(info, 1);
  int r;
  do {
    r = poll(p, n, timeout);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return Napi::Number::New(info.Env(), -errno);
  int mask = 0;
  for (uint32_t i = 0; i < n; i++)
    if (p[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) mask |= 1 << i;
  return Napi::Number::New(info.Env(), mask);
}

struct FdWatch {
  uv_poll_t poll;
  int id;
  napi_env env;
  Napi::FunctionReference cb;
};
std::map<int, FdWatch*> fdWatches;
int nextWatchId = 1;

void FreeFdWatch(uv_handle_t* h) { delete static_cast<FdWatch*>(h->data); }

void EndFdWatch(FdWatch* w) {
  fdWatches.erase(w->id);
  uv_poll_stop(&w->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), FreeFdWatch);
}

void OnFdReadable(uv_poll_t* handle, int status, int) {
  FdWatch* w = static_cast<FdWatch*>(handle->data);
  Napi::Env env(w->env);
  Napi::HandleScope scope(env);
  Napi::FunctionReference cb = std::move(w->cb);
  EndFdWatch(w);
  cb.MakeCallback(env.Global(), {Napi::Number::New(env, status)});
}

// watchFd(fd, cb(status)) -> id | -errno: calls cb once, from the event loop,
// when fd is readable or hung up (status < 0: a libuv error). The pending
// watch keeps the event loop alive.
Napi::Value WatchFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  FdWatch* w = new FdWatch();
  w->id = nextWatchId++;
  w->env = env;
  w->poll.data = w;
  int r = uv_poll_init(loop, &w->poll, I32(info, 0));
  if (r < 0) {
    delete w;
    return Napi::Number::New(env, r);
  }
  w->cb = Napi::Persistent(info[1].As<Napi::Function>());
  r = uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, OnFdReadable);
  if (r < 0) {
    w->cb.Reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), FreeFdWatch);
    return Napi::Number::New(env, r);
  }
  fdWatches[w->id] = w;
  return Napi::Number::New(env, w->id);
}

// unwatchFd(id): cancels a watch whose callback has not run.
Napi::Value UnwatchFd(const Napi::CallbackInfo& info) {
  auto it = fdWatches.find(I32(info, 0));
  if (it != fdWatches.end()) {
    it->second->cb.Reset();
    EndFdWatch(it->second);
  }
  return info.Env().Undefined();
}

// pidfdStatus(pidfd, pid, out: Int32Array(2)) -> 1 (ended: out = [si_code,
// si_status]), 0 (still running), -errno (ECHILD: reaped by someone else).
// Leaves the child unreaped; one the Sentry's waiter reaped is found if it
// was remembered (waiterRemember; `pid` is the pidfd's, which fdinfo no
// longer shows once reaped).
Napi::Value PidfdStatus(const Napi::CallbackInfo& info) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int pidfd = I32(info, 0);
  if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
    int e = errno, status;
    if (e != ECHILD || !ReapedStatus(I32(info, 1), &status)) return Napi::Number::New(info.Env(), -e);
    Napi::Int32Array out = info[2].As<Napi::Int32Array>();
    out[0] = WIFEXITED(status) ? CLD_EXITED : CLD_KILLED;
    out[1] = WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status);
    return Napi::Number::New(info.Env(), 1);
  }
  if (si.si_pid == 0) return Napi::Number::New(info.Env(), 0);
  Napi::Int32Array out = info[2].As<Napi::Int32Array>();
  out[0] = si.si_code;
  out[1] = si.si_status;
  return Napi::Number::New(info.Env(), 1);
}

// pidfdReap(pidfd, out: Int32Array(2)) -> 1 (ended and reaped: out =
// [si_code, si_status]), 0 (still running), -errno.
Napi::Value PidfdReap(const Napi::CallbackInfo& info) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(I32(info, 0)), &si, WEXITED | WNOHANG) < 0) return Napi::Number::New(info.Env(), -errno);
  if (si.si_pid == 0) return Napi::Number::New(info.Env(), 0);
  Napi::Int32Array out = info[1].As<Napi::Int32Array>();
  out[0] = si.si_code;
  out[1] = si.si_status;
  return Napi::Number::New(info.Env(), 1);
}

// ---- terminating signals during a blocking wait ----------------------------
//
// Node's handlers (libuv's) only queue a signal for the event loop, which does
// not run while the Sentry waits synchronously for its Gofer. signalWake puts
// a handler in front of libuv's: it counts the signal, makes an eventfd
// readable (a blocking wait includes it) and calls libuv's handler, so Node's
// listeners still run once the loop does.
//
// One request can arrive as two deliveries: `timeout` (and `kill` scripts
// alike) send the signal to the command and then to its process group, so
// tsvisor gets it twice from the same process, microseconds or, on a loaded
// machine, longer apart. A repeat of a signal from the same sending process
// (SI_USER, same si_pid) within sameSenderNs of the last one counted is not
// counted again: a second signal then means a second request.

std::atomic<uint32_t> sigCounts[65];
struct sigaction chained[65];
bool wrapped[65];
int wakeFd = -1;
int64_t sameSenderNs = 0;
pid_t lastSender[65];
int64_t lastSenderAt[65];

int64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void OnWakeSignal(int sig, siginfo_t* si, void* ctx) {
  int saved = errno;
  bool repeat = false;
  if (si && si->si_code == SI_USER && si->si_pid > 0) {
    int64_t now = MonotonicNs();
    repeat = lastSender[sig] == si->si_pid && now - lastSenderAt[sig] < sameSenderNs;
    if (!repeat) {
      lastSender[sig] = si->si_pid;
      lastSenderAt[sig] = now;
    }
  }
  if (!repeat) {
    sigCounts[sig].fetch_add(1, std::memory_order_relaxed);
    uint64_t one = 1;
    if (write(wakeFd, &one, sizeof one) < 0) {
      // EAGAIN: the counter is already readable.
    }
  }
  const struct sigaction& prev = chained[sig];
  errno = saved;
  if (prev.sa_flags & SA_SIGINFO)
    prev.sa_sigaction(sig, si, ctx);
  else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN)
    prev.sa_handler(sig);
}

// signalWake(sigs: number[], sameSenderMs: number) -> eventfd | -errno. Each
// signal must already have a handler (a process.on listener): it is chained,
// never replaced.
Napi::Value SignalWake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sameSenderNs = int64_t(info[1].As<Napi::Number>().Int64Value()) * 1000000;
  if (wakeFd < 0) {
    wakeFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wakeFd < 0) return Napi::Number::New(env, -errno);
  }
  Napi::Array a = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    int sig = a.Get(i).As<Napi::Number>().Int32Value();
    if (sig <= 0 || sig >= 65) return Napi::Number::New(env, -EINVAL);
    if (wrapped[sig]) continue;
    struct sigaction prev;
    if (sigaction(sig, nullptr, &prev) < 0) return Napi::Number::New(env, -errno);
    bool hasHandler = (prev.sa_flags & SA_SIGINFO) ? prev.sa_sigaction != nullptr
                                                   : prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN;
    if (!hasHandler) return Napi::Number::New(env, -EINVAL);
    chained[sig] = prev;
    struct sigaction sa = prev;
    sa.sa_sigaction = OnWakeSignal;
    sa.sa_flags = (prev.sa_flags | SA_SIGINFO) & ~SA_RESETHAND;
    if (sigaction(sig, &sa, nullptr) < 0) return Napi::Number::New(env, -errno);
    wrapped[sig] = true;
  }
  return Napi::Number::New(env, wakeFd);
}

// signalTake() -> the signals counted since the last call, one entry per
// delivery (at most 8 of each: a storm need not be replayed), and clears the
// eventfd.
Napi::Value SignalTake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t v;
  if (wakeFd >= 0 && read(wakeFd, &v, sizeof v) < 0) {
    // EAGAIN: nothing was counted since.
  }
  Napi::Array out = Napi::Array::New(env);
  uint32_t k = 0;
  for (int sig = 1; sig < 65; sig++) {
    uint32_t n = sigCounts[sig].exchange(0, std::memory_order_relaxed);
    for (uint32_t i = 0; i < n && i < 8; i++) out.Set(k++, sig);
  }
  return out;
}

}  // namespace

void InitWait(Napi::Env env, Napi::Object exports) {
  exports.Set("pollFds", Napi::Function::New(env, PollFds));
  exports.Set("watchFd", Napi::Function::New(env, WatchFd));
  exports.Set("unwatchFd", Napi::Function::New(env, UnwatchFd));
  exports.Set("pidfdStatus", Napi::Function::New(env, PidfdStatus));
  exports.Set("pidfdReap", Napi::Function::New(env, PidfdReap));
  exports.Set("signalWake", Napi::Function::New(env, SignalWake));
  exports.Set("signalTake", Napi::Function::New(env, SignalTake));
}

}  // namespace tsv
