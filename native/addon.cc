#include "common.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tsv::InitNotif(env, exports);
  tsv::InitPtrace(env, exports);
  tsv::InitSys(env, exports);
  tsv::InitFsat(env, exports);
  tsv::InitWait(env, exports);
  tsv::InitBpf(env, exports);
  return exports;
}

NODE_API_MODULE(tsvisor_native, Init)
