// eBPF mechanism for syscall coverage: the bpf() map and program commands
// and the perf events that attach a program to a tracepoint. The programs
// themselves are generated in TypeScript (src/coverage/bpf-program.ts).
#include "common.h"

#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
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

// A BPF ring buffer's consumer side, by map fd: the consumer position page
// (read-write) and the producer position page followed by the data, which the
// kernel maps twice in a row so a record that wraps reads as one.
struct Ring {
  std::atomic<uint64_t>* consumer;
  const std::atomic<uint64_t>* producer;
  const uint8_t* data;
  size_t size;
  size_t page;
};
std::map<int, Ring> rings;

// bpfRingbufMap(fd, size) -> 0 | -errno
Napi::Value RingbufMap(const Napi::CallbackInfo& info) {
  int fd = I32(info, 0);
  size_t size = U32(info, 1), page = sysconf(_SC_PAGESIZE);
  void* c = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (c == MAP_FAILED) return Napi::Number::New(info.Env(), -errno);
  void* p = mmap(nullptr, page + 2 * size, PROT_READ, MAP_SHARED, fd, page);
  if (p == MAP_FAILED) {
    int err = errno;
    munmap(c, page);
    return Napi::Number::New(info.Env(), -err);
  }
  rings[fd] = Ring{static_cast<std::atomic<uint64_t>*>(c), static_cast<const std::atomic<uint64_t>*>(p), static_cast<const uint8_t*>(p) + page, size, page};
  return Napi::Number::New(info.Env(), 0);
}

// bpfRingbufDrain(fd) -> Buffer of the committed records, each as
// {u32 length, data padded to 8 bytes}; stops at a record still being written.
Napi::Value RingbufDrain(const Napi::CallbackInfo& info) {
  auto it = rings.find(I32(info, 0));
  if (it == rings.end()) return Napi::Number::New(info.Env(), -EBADF);
  Ring& r = it->second;
  constexpr uint32_t kBusy = 1u << 31, kDiscard = 1u << 30, kHeader = 8;
  std::vector<uint8_t> out;
  uint64_t cons = r.consumer->load(std::memory_order_acquire);
  uint64_t prod = r.producer->load(std::memory_order_acquire);
  while (cons < prod) {
    const uint8_t* rec = r.data + (cons & (r.size - 1));
    uint32_t len = reinterpret_cast<const std::atomic<uint32_t>*>(rec)->load(std::memory_order_acquire);
    if (len & kBusy) break;
    uint32_t n = len & ~(kBusy | kDiscard);
    if (!(len & kDiscard)) {
      uint32_t padded = (n + 7) & ~7u;
      size_t at = out.size();
      out.resize(at + 4 + padded);
      memcpy(out.data() + at, &n, 4);
      memcpy(out.data() + at + 4, rec + kHeader, n);
    }
    cons += (n + kHeader + 7) & ~7ull;
    r.consumer->store(cons, std::memory_order_release);
  }
  return Napi::Buffer<uint8_t>::Copy(info.Env(), out.data(), out.size());
}

// bpfRingbufUnmap(fd): before the map's fd is closed.
Napi::Value RingbufUnmap(const Napi::CallbackInfo& info) {
  auto it = rings.find(I32(info, 0));
  if (it != rings.end()) {
    munmap(it->second.consumer, it->second.page);
    munmap(const_cast<std::atomic<uint64_t>*>(it->second.producer), it->second.page + 2 * it->second.size);
    rings.erase(it);
  }
  return info.Env().Undefined();
}

}  // namespace

void InitBpf(Napi::Env env, Napi::Object exports) {
  exports.Set("bpfMapCreate", Napi::Function::New(env, MapCreate));
  exports.Set("bpfMapEntries", Napi::Function::New(env, MapEntries));
  exports.Set("bpfProgLoad", Napi::Function::New(env, ProgLoad));
  exports.Set("bpfRingbufMap", Napi::Function::New(env, RingbufMap));
  exports.Set("bpfRingbufDrain", Napi::Function::New(env, RingbufDrain));
  exports.Set("bpfRingbufUnmap", Napi::Function::New(env, RingbufUnmap));
  exports.Set("perfTracepointAttach", Napi::Function::New(env, TracepointAttach));
}

}  // namespace tsv
