// ptrace lifecycle mechanism and the child-status waiter.
//
// All ptrace requests are made from the JS main thread, which is the tracer.
// A helper thread blocks in waitpid(-1, __WALL) (any thread of the tracer's
// group may collect its tracees' stops) and forwards (pid, status) pairs to
// the main loop through a uv_async handle, so the event loop never blocks.
#include "common.h"

#include <pthread.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/user.h>
#include <signal.h>
#include <sys/wait.h>
#include <uv.h>

#include <cstring>
#include <map>
#include <vector>

namespace tsv {
namespace {

long Ptrace(int req, pid_t pid, unsigned long addr, unsigned long data) {
  return syscall(SYS_ptrace, req, pid, addr, data);
}

Napi::Value Seize(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), Ptrace(PTRACE_SEIZE, I32(info, 0), 0, U32(info, 1)));
}
Napi::Value Cont(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), Ptrace(PTRACE_CONT, I32(info, 0), 0, U32(info, 1)));
}
// Resumes a tracee to its next syscall entry or exit stop (PTRACE_SYSCALL).
Napi::Value SyscallCont(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), Ptrace(PTRACE_SYSCALL, I32(info, 0), 0, U32(info, 1)));
}
Napi::Value Listen(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), Ptrace(PTRACE_LISTEN, I32(info, 0), 0, 0));
}
Napi::Value Interrupt(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), Ptrace(PTRACE_INTERRUPT, I32(info, 0), 0, 0));
}
Napi::Value Detach(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), Ptrace(PTRACE_DETACH, I32(info, 0), 0, U32(info, 1)));
}
Napi::Value GetEventMsg(const Napi::CallbackInfo& info) {
  unsigned long msg = 0;
  long r = Ptrace(PTRACE_GETEVENTMSG, I32(info, 0), 0, reinterpret_cast<unsigned long>(&msg));
  if (r < 0) return Napi::Number::New(info.Env(), -errno);
  return Napi::Number::New(info.Env(), static_cast<double>(msg));
}

// ptraceGetSiginfo(pid, out: Int32Array(3)) -> 0 | -errno; out = [signo, errno, code]
Napi::Value GetSiginfo(const Napi::CallbackInfo& info) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (Ptrace(PTRACE_GETSIGINFO, I32(info, 0), 0, reinterpret_cast<unsigned long>(&si)) < 0)
    return Napi::Number::New(info.Env(), -errno);
  Napi::Int32Array out = info[1].As<Napi::Int32Array>();
  out[0] = si.si_signo;
  out[1] = si.si_errno;
  out[2] = si.si_code;
  return Napi::Number::New(info.Env(), 0);
}

// ptraceGetSyscallInfo(pid, out: Float64Array(11)) -> op | -errno
// out = [op, nr, args0..5, ip, sp, ret]
Napi::Value GetSyscallInfo(const Napi::CallbackInfo& info) {
  struct __ptrace_syscall_info si;
  memset(&si, 0, sizeof si);
  long r = Ptrace(PTRACE_GET_SYSCALL_INFO, I32(info, 0), sizeof si, reinterpret_cast<unsigned long>(&si));
  if (r < 0) return Napi::Number::New(info.Env(), -errno);
  Napi::Float64Array out = info[1].As<Napi::Float64Array>();
  out[0] = si.op;
  out[8] = static_cast<double>(si.instruction_pointer);
  out[9] = static_cast<double>(si.stack_pointer);
  if (si.op == PTRACE_SYSCALL_INFO_SECCOMP || si.op == PTRACE_SYSCALL_INFO_ENTRY) {
    out[1] = static_cast<double>(si.entry.nr);
    for (int i = 0; i < 6; i++) out[2 + i] = static_cast<double>(static_cast<int64_t>(si.entry.args[i]));
    if (si.op == PTRACE_SYSCALL_INFO_SECCOMP) out[10] = si.seccomp.ret_data;
  } else if (si.op == PTRACE_SYSCALL_INFO_EXIT) {
    out[10] = static_cast<double>(si.exit.rval);
  }
  return Napi::Number::New(info.Env(), si.op);
}

// ptraceSetSyscall(pid, nr, [a0..a5]): rewrite the syscall a tracee stopped
// at a seccomp trace stop is about to make. Registers not named stay exact.
Napi::Value SetSyscall(const Napi::CallbackInfo& info) {
  pid_t pid = I32(info, 0);
  struct user_regs_struct regs;
  if (Ptrace(PTRACE_GETREGS, pid, 0, reinterpret_cast<unsigned long>(&regs)) < 0)
    return Napi::Number::New(info.Env(), -errno);
  regs.orig_rax = static_cast<unsigned long long>(I64(info, 1));
  Napi::Array a = info[2].As<Napi::Array>();
  unsigned long long* slots[6] = {&regs.rdi, &regs.rsi, &regs.rdx, &regs.r10, &regs.r8, &regs.r9};
  for (uint32_t i = 0; i < 6 && i < a.Length(); i++) {
    Napi::Value v = a.Get(i);
    if (v.IsBigInt()) {
      bool lossless;
      *slots[i] = v.As<Napi::BigInt>().Uint64Value(&lossless);
    } else {
      *slots[i] = static_cast<unsigned long long>(v.As<Napi::Number>().Int64Value());
    }
  }
  return Ret(info.Env(), Ptrace(PTRACE_SETREGS, pid, 0, reinterpret_cast<unsigned long>(&regs)));
}

// ptraceSkipSyscall(pid, retval): skip the syscall at a seccomp trace stop and
// make it return retval (a negative errno for failure).
Napi::Value SkipSyscall(const Napi::CallbackInfo& info) {
  pid_t pid = I32(info, 0);
  struct user_regs_struct regs;
  if (Ptrace(PTRACE_GETREGS, pid, 0, reinterpret_cast<unsigned long>(&regs)) < 0)
    return Napi::Number::New(info.Env(), -errno);
  regs.orig_rax = static_cast<unsigned long long>(-1LL);
  regs.rax = static_cast<unsigned long long>(I64(info, 1));
  return Ret(info.Env(), Ptrace(PTRACE_SETREGS, pid, 0, reinterpret_cast<unsigned long>(&regs)));
}

// ptraceGetRegs(pid, out: BigUint64Array(27)) -> 0 | -errno (user_regs_struct order)
Napi::Value GetRegs(const Napi::CallbackInfo& info) {
  struct user_regs_struct regs;
  if (Ptrace(PTRACE_GETREGS, I32(info, 0), 0, reinterpret_cast<unsigned long>(&regs)) < 0)
    return Napi::Number::New(info.Env(), -errno);
  Napi::BigUint64Array out = info[1].As<Napi::BigUint64Array>();
  static_assert(sizeof regs == 27 * 8, "user_regs_struct layout");
  memcpy(out.Data(), &regs, sizeof regs);
  return Napi::Number::New(info.Env(), 0);
}

// ptraceSetRegs(pid, regs: BigUint64Array(27)) -> 0 | -errno (user_regs_struct order)
Napi::Value SetRegs(const Napi::CallbackInfo& info) {
  struct user_regs_struct regs;
  Napi::BigUint64Array in = info[1].As<Napi::BigUint64Array>();
  if (in.ElementLength() * 8 != sizeof regs) return Napi::Number::New(info.Env(), -EINVAL);
  memcpy(&regs, in.Data(), sizeof regs);
  return Ret(info.Env(), Ptrace(PTRACE_SETREGS, I32(info, 0), 0, reinterpret_cast<unsigned long>(&regs)));
}

// ---- child status waiter -------------------------------------------------

struct Waiter {
  uv_async_t async;
  pthread_t thread;
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
  std::vector<int32_t> queue;
  bool haveChildren = false;
  napi_env env;
  Napi::FunctionReference cb;
};

Waiter* waiter = nullptr;

// How remembered children ended (waiterRemember): the waiter reaps every
// child, so waitid(WNOWAIT) on a pidfd (pidfdStatus) finds them gone.
pthread_mutex_t rememberMu = PTHREAD_MUTEX_INITIALIZER;
std::map<pid_t, int> remembered;  // pid -> wait status, or -1 while it runs

void* WaiterMain(void*) {
  for (;;) {
    int status = 0;
    pid_t p = waitpid(-1, &status, __WALL);
    if (p > 0 && (WIFEXITED(status) || WIFSIGNALED(status))) {
      pthread_mutex_lock(&rememberMu);
      auto it = remembered.find(p);
      if (it != remembered.end() && it->second == -1) it->second = status;
      pthread_mutex_unlock(&rememberMu);
    }
    if (p > 0) {
      pthread_mutex_lock(&waiter->mu);
      waiter->queue.push_back(p);
      waiter->queue.push_back(status);
      pthread_mutex_unlock(&waiter->mu);
      uv_async_send(&waiter->async);
      continue;
    }
    if (errno == EINTR) continue;
    pthread_mutex_lock(&waiter->mu);
    while (!waiter->haveChildren) pthread_cond_wait(&waiter->cv, &waiter->mu);
    waiter->haveChildren = false;
    pthread_mutex_unlock(&waiter->mu);
  }
  return nullptr;
}

void OnAsync(uv_async_t*) {
  std::vector<int32_t> batch;
  pthread_mutex_lock(&waiter->mu);
  batch.swap(waiter->queue);
  pthread_mutex_unlock(&waiter->mu);
  if (batch.empty()) return;
  Napi::Env env(waiter->env);
  Napi::HandleScope scope(env);
  Napi::Int32Array arr = Napi::Int32Array::New(env, batch.size());
  memcpy(arr.Data(), batch.data(), batch.size() * sizeof(int32_t));
  waiter->cb.MakeCallback(env.Global(), {arr});
}

// waiterStart(cb(events: Int32Array of [pid, status]...)): start collecting
// every child and tracee status change of this process.
Napi::Value WaiterStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (waiter) return Napi::Number::New(env, -EBUSY);
  waiter = new Waiter();
  waiter->env = env;
  waiter->cb = Napi::Persistent(info[0].As<Napi::Function>());
  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  uv_async_init(loop, &waiter->async, OnAsync);
  pthread_create(&waiter->thread, nullptr, WaiterMain, nullptr);
  pthread_detach(waiter->thread);
  return Napi::Number::New(env, 0);
}

// waiterKick(): a child was created; wake the waiter if it found none before.
Napi::Value WaiterKick(const Napi::CallbackInfo& info) {
  if (waiter) {
    pthread_mutex_lock(&waiter->mu);
    waiter->haveChildren = true;
    pthread_cond_signal(&waiter->cv);
    pthread_mutex_unlock(&waiter->mu);
  }
  return info.Env().Undefined();
}

// waiterUnref(): let the event loop exit even while the waiter is armed.
Napi::Value WaiterRef(const Napi::CallbackInfo& info) {
  if (waiter) {
    if (info[0].ToBoolean())
      uv_ref(reinterpret_cast<uv_handle_t*>(&waiter->async));
    else
      uv_unref(reinterpret_cast<uv_handle_t*>(&waiter->async));
  }
  return info.Env().Undefined();
}

// waiterRemember(pid): keep how child `pid` ends, for pidfdStatus (at most a
// few: the Gofer of each sandbox).
Napi::Value WaiterRemember(const Napi::CallbackInfo& info) {
  pthread_mutex_lock(&rememberMu);
  remembered[I32(info, 0)] = -1;
  pthread_mutex_unlock(&rememberMu);
  return info.Env().Undefined();
}

}  // namespace

bool ReapedStatus(pid_t pid, int* status) {
  pthread_mutex_lock(&rememberMu);
  auto it = remembered.find(pid);
  bool found = it != remembered.end() && it->second != -1;
  if (found) *status = it->second;
  pthread_mutex_unlock(&rememberMu);
  return found;
}

void InitPtrace(Napi::Env env, Napi::Object exports) {
  exports.Set("ptraceSeize", Napi::Function::New(env, Seize));
  exports.Set("ptraceCont", Napi::Function::New(env, Cont));
  exports.Set("ptraceSyscall", Napi::Function::New(env, SyscallCont));
  exports.Set("ptraceListen", Napi::Function::New(env, Listen));
  exports.Set("ptraceInterrupt", Napi::Function::New(env, Interrupt));
  exports.Set("ptraceDetach", Napi::Function::New(env, Detach));
  exports.Set("ptraceGetEventMsg", Napi::Function::New(env, GetEventMsg));
  exports.Set("ptraceGetSiginfo", Napi::Function::New(env, GetSiginfo));
  exports.Set("ptraceGetSyscallInfo", Napi::Function::New(env, GetSyscallInfo));
  exports.Set("ptraceSetSyscall", Napi::Function::New(env, SetSyscall));
  exports.Set("ptraceSkipSyscall", Napi::Function::New(env, SkipSyscall));
  exports.Set("ptraceGetRegs", Napi::Function::New(env, GetRegs));
  exports.Set("ptraceSetRegs", Napi::Function::New(env, SetRegs));
  exports.Set("waiterStart", Napi::Function::New(env, WaiterStart));
  exports.Set("waiterKick", Napi::Function::New(env, WaiterKick));
  exports.Set("waiterRef", Napi::Function::New(env, WaiterRef));
  exports.Set("waiterRemember", Napi::Function::New(env, WaiterRemember));
}

}  // namespace tsv
