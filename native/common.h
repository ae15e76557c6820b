// Shared helpers for the tsvisor native addon. The addon is a thin mechanism
// layer: every function maps to one or a few system calls and reports
// failures as a negative errno (never as a JS exception), so policy and error
// handling stay in TypeScript.
#pragma once

#include <napi.h>
#include <cerrno>
#include <cstdint>
#include <string>

namespace tsv {

inline int32_t I32(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Int32Value();
}
inline uint32_t U32(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Uint32Value();
}
inline int64_t I64(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Int64Value();
}
// Guest addresses and 64-bit register values travel as JS numbers; user-space
// x86_64 addresses are below 2^47 so they are exact.
inline uint64_t Addr(const Napi::CallbackInfo& info, size_t i) {
  if (info[i].IsBigInt()) {
    bool lossless;
    return info[i].As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return static_cast<uint64_t>(info[i].As<Napi::Number>().Int64Value());
}
// Paths are byte strings: JS holds them as latin1 strings so every byte
// survives the round trip unchanged.
inline std::string Latin1(const Napi::CallbackInfo& info, size_t i) {
  napi_env env = info.Env();
  napi_value v = info[i];
  size_t len = 0;
  napi_get_value_string_latin1(env, v, nullptr, 0, &len);
  std::string s(len, '\0');
  napi_get_value_string_latin1(env, v, s.data(), len + 1, &len);
  return s;
}
inline Napi::Value Latin1Value(Napi::Env env, const char* p, size_t n) {
  napi_value v;
  napi_create_string_latin1(env, p, n, &v);
  return Napi::Value(env, v);
}
// A Uint8Array argument's bytes and length.
inline uint8_t* Bytes(const Napi::CallbackInfo& info, size_t i, size_t* len) {
  Napi::Uint8Array a = info[i].As<Napi::Uint8Array>();
  *len = a.ByteLength();
  return a.Data();
}
inline Napi::Number Ret(Napi::Env env, long r) {
  return Napi::Number::New(env, r < 0 ? -errno : static_cast<double>(r));
}

void InitNotif(Napi::Env env, Napi::Object exports);
void InitPtrace(Napi::Env env, Napi::Object exports);
void InitSys(Napi::Env env, Napi::Object exports);
void InitFsat(Napi::Env env, Napi::Object exports);
void InitWait(Napi::Env env, Napi::Object exports);
void InitBpf(Napi::Env env, Napi::Object exports);

// How a child remembered by the waiter (waiterRemember) ended, once it was reaped.
bool ReapedStatus(pid_t pid, int* status);

}  // namespace tsv
