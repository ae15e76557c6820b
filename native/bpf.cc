// eBPF mechanism for syscall coverage: the bpf() map and program commands
// and the perf events that attach a program to a tracepoint. The programs
// themselves are generated in TypeScript (src/coverage/bpf-program.ts).
#include "common.h"

#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace tsv {
namespace {

long Bpf(int cmd, union bpf_attr* attr) { return syscall(SYS_bpf, cmd, attr, sizeof *attr); }

// bpfMapCreate(type, keySize, valueSize, maxEntries, flags) -> fd | -errno
Napi::Value MapCreate(const Napi::CallbackInfo& info) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_type = U32(info, 0);
  a.key_size = U32(info, 1);
  a.value_size = U32(info, 2);
  a.max_entries = U32(info, 3);
  a.map_flags = U32(info, 4);
  return Ret(info.Env(), Bpf(BPF_MAP_CREATE, &a));
}

// bpfMapEntries(fd, keySize, valueSize) -> Buffer of (key, value) pairs | -errno.
// Walks the map with GET_NEXT_KEY; an entry deleted meanwhile is skipped.
Napi::Value MapEntries(const Napi::CallbackInfo& info) {
  int fd = I32(info, 0);
  size_t ks = U32(info, 1), vs = U32(info, 2);
  std::vector<uint8_t> out, key(ks), next(ks), value(vs);
  bool first = true;
  for (;;) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = fd;
    a.key = first ? 0 : reinterpret_cast<uint64_t>(key.data());
    a.next_key = reinterpret_cast<uint64_t>(next.data());
    if (Bpf(BPF_MAP_GET_NEXT_KEY, &a) < 0) {
      if (errno == ENOENT) break;
      return Napi::Number::New(info.Env(), -errno);
    }
    first = false;
    key = next;
    memset(&a, 0, sizeof a);
    a.map_fd = fd;
    a.key = reinterpret_cast<uint64_t>(key.data());
    a.value = reinterpret_cast<uint64_t>(value.data());
    if (Bpf(BPF_MAP_LOOKUP_ELEM, &a) < 0) continue;
    out.insert(out.end(), key.begin(), key.end());
    out.insert(out.end(), value.begin(), value.end());
  }
  return Napi::Buffer<uint8_t>::Copy(info.Env(), out.data(), out.size());
}

// bpfProgLoad(type, insns, license) -> fd | [-errno, verifier log]
Napi::Value ProgLoad(const Napi::CallbackInfo& info) {
  size_t len;
  uint8_t* insns = Bytes(info, 1, &len);
  std::string license = Latin1(info, 2);
  std::vector<char> log(1 << 16);
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = U32(info, 0);
  a.insns = reinterpret_cast<uint64_t>(insns);
  a.insn_cnt = len / sizeof(struct bpf_insn);
  a.license = reinterpret_cast<uint64_t>(license.c_str());
  long fd = Bpf(BPF_PROG_LOAD, &a);
  if (fd >= 0) return Napi::Number::New(info.Env(), fd);
  int err = errno;
  // Again with the verifier's log, to say why.
  a.log_buf = reinterpret_cast<uint64_t>(log.data());
  a.log_size = log.size();
  a.log_level = 1;
  fd = Bpf(BPF_PROG_LOAD, &a);
  if (fd >= 0) return Napi::Number::New(info.Env(), fd);
  Napi::Array r = Napi::Array::New(info.Env(), 2);
  r.Set(0u, Napi::Number::New(info.Env(), -err));
  r.Set(1u, Napi::String::New(info.Env(), log.data()));
  return r;
}

// perfTracepointAttach(tracepointId, progFd, cpu) -> perf event fd | -errno:
// the program runs on every hit of the tracepoint on that CPU, for every
// process, until the fd is closed.
Napi::Value TracepointAttach(const Napi::CallbackInfo& info) {
  struct perf_event_attr pa;
  memset(&pa, 0, sizeof pa);
  pa.type = PERF_TYPE_TRACEPOINT;
  pa.size = sizeof pa;
  pa.config = U32(info, 0);
  pa.sample_period = 1;
  pa.sample_type = PERF_SAMPLE_RAW;
  pa.wakeup_events = 1;
  long fd = syscall(SYS_perf_event_open, &pa, -1, I32(info, 2), -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) return Napi::Number::New(info.Env(), -errno);
  if (ioctl(fd, PERF_EVENT_IOC_SET_BPF, I32(info, 1)) < 0 || ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
    int err = errno;
    close(fd);
    return Napi::Number::New(info.Env(), -err);
  }
  return Napi::Number::New(info.Env(), fd);
}

}  // namespace

void InitBpf(Napi::Env env, Napi::Object exports) {
  exports.Set("bpfMapCreate", Napi::Function::New(env, MapCreate));
  exports.Set("bpfMapEntries", Napi::Function::New(env, MapEntries));
  exports.Set("bpfProgLoad", Napi::Function::New(env, ProgLoad));
  exports.Set("perfTracepointAttach", Napi::Function::New(env, TracepointAttach));
}

}  // namespace tsv
