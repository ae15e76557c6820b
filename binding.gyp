{
  "targets": [
    {
      "target_name": "tsvisor_native",
      "sources": ["native/addon.cc", "native/notif.cc", "native/ptrace.cc", "native/sys.cc", "native/fsat.cc", "native/wait.cc", "native/bpf.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags_cc": ["-std=c++17", "-fno-exceptions", "-O2"]
    },
    {
      "target_name": "tsvisor-launcher",
      "type": "executable",
      "sources": ["native/launcher.c"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-std=gnu11"]
    },
    {
      "target_name": "tsvisor-anchor",
      "type": "executable",
      "sources": ["native/anchor.c"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-std=gnu11"]
    },
    {
      "target_name": "tsvisor-control",
      "type": "executable",
      "sources": ["native/control-client.c"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-std=gnu11"]
    }
  ]
}
