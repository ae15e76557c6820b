// Directory-relative file operations (the *at family) with byte-string names.
// The Gofer performs every host operation relative to a directory fd it
// opened with openat2(RESOLVE_BENEATH...), and the Sentry reads attributes of
// fds the Gofer handed it; neither ever resolves a multi-component host path
// with these calls.
#include "common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

namespace tsv {
namespace {

Napi::Number Num(Napi::Env env, double v) { return Napi::Number::New(env, v); }

Napi::Value Mkdirat(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), mkdirat(I32(info, 0), Latin1(info, 1).c_str(), U32(info, 2)));
}
Napi::Value Mknodat(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), mknodat(I32(info, 0), Latin1(info, 1).c_str(), U32(info, 2), U32(info, 3)));
}
Napi::Value Symlinkat(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), symlinkat(Latin1(info, 0).c_str(), I32(info, 1), Latin1(info, 2).c_str()));
}
// linkat(olddirfd, oldname, newdirfd, newname, flags)
Napi::Value Linkat(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), linkat(I32(info, 0), Latin1(info, 1).c_str(), I32(info, 2), Latin1(info, 3).c_str(), I32(info, 4)));
}
Napi::Value Unlinkat(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), unlinkat(I32(info, 0), Latin1(info, 1).c_str(), I32(info, 2)));
}
// renameat2(olddirfd, oldname, newdirfd, newname, flags)
Napi::Value Renameat2(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), syscall(SYS_renameat2, I32(info, 0), Latin1(info, 1).c_str(), I32(info, 2),
                                 Latin1(info, 3).c_str(), U32(info, 4)));
}
// fchownat(dirfd, name, uid, gid, flags); name "" with AT_EMPTY_PATH acts on dirfd itself.
Napi::Value Fchownat(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), fchownat(I32(info, 0), Latin1(info, 1).c_str(), I32(info, 2), I32(info, 3), I32(info, 4)));
}
// chmodFd(opathFd, mode): chmod the inode behind an O_PATH fd (never a symlink's target).
Napi::Value ChmodFd(const Napi::CallbackInfo& info) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", I32(info, 0));
  return Ret(info.Env(), chmod(path, U32(info, 1)));
}
// truncateFd(opathFd, length)
Napi::Value TruncateFd(const Napi::CallbackInfo& info) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", I32(info, 0));
  return Ret(info.Env(), truncate(path, I64(info, 1)));
}
// utimensat(dirfd, name, [aSec, aNsec, mSec, mNsec], flags)
Napi::Value Utimensat(const Napi::CallbackInfo& info) {
  Napi::Array a = info[2].As<Napi::Array>();
  struct timespec ts[2];
  ts[0].tv_sec = a.Get(0u).As<Napi::Number>().Int64Value();
  ts[0].tv_nsec = a.Get(1u).As<Napi::Number>().Int64Value();
  ts[1].tv_sec = a.Get(2u).As<Napi::Number>().Int64Value();
  ts[1].tv_nsec = a.Get(3u).As<Napi::Number>().Int64Value();
  return Ret(info.Env(), utimensat(I32(info, 0), Latin1(info, 1).c_str(), ts, I32(info, 3)));
}
// readlinkat(dirfd, name) -> latin1 target | -errno; name "" reads an O_PATH symlink fd.
Napi::Value Readlinkat(const Napi::CallbackInfo& info) {
  std::vector<char> buf(4096);
  ssize_t n = readlinkat(I32(info, 0), Latin1(info, 1).c_str(), buf.data(), buf.size());
  if (n < 0) return Num(info.Env(), -errno);
  return Latin1Value(info.Env(), buf.data(), static_cast<size_t>(n));
}
// statxAt(dirfd, name, flags, out: Float64Array) -> 0 | -errno; same layout as statxFd.
Napi::Value StatxAt(const Napi::CallbackInfo& info) {
  struct statx sx;
  if (statx(I32(info, 0), Latin1(info, 1).c_str(), I32(info, 2) | AT_STATX_SYNC_AS_STAT,
            STATX_BASIC_STATS | STATX_BTIME, &sx) < 0)
    return Num(info.Env(), -errno);
  Napi::Float64Array o = info[3].As<Napi::Float64Array>();
  double v[] = {(double)sx.stx_mask,         (double)sx.stx_blksize,         (double)sx.stx_nlink,
                (double)sx.stx_uid,          (double)sx.stx_gid,             (double)sx.stx_mode,
                (double)sx.stx_ino,          (double)sx.stx_size,            (double)sx.stx_blocks,
                (double)sx.stx_atime.tv_sec, (double)sx.stx_atime.tv_nsec,   (double)sx.stx_btime.tv_sec,
                (double)sx.stx_btime.tv_nsec, (double)sx.stx_ctime.tv_sec,   (double)sx.stx_ctime.tv_nsec,
                (double)sx.stx_mtime.tv_sec, (double)sx.stx_mtime.tv_nsec,   (double)sx.stx_rdev_major,
                (double)sx.stx_rdev_minor,   (double)sx.stx_dev_major,       (double)sx.stx_dev_minor,
                (double)sx.stx_attributes};
  if (o.ElementLength() < sizeof v / sizeof v[0]) return Num(info.Env(), -EINVAL);
  memcpy(o.Data(), v, sizeof v);
  return Num(info.Env(), 0);
}
// fstatfsFd(fd, out: Float64Array(11)) -> 0 | -errno
// out = [type, bsize, blocks, bfree, bavail, files, ffree, fsid0, fsid1, namelen, frsize, flags]
Napi::Value FstatfsFd(const Napi::CallbackInfo& info) {
  struct statfs s;
  if (fstatfs(I32(info, 0), &s) < 0) return Num(info.Env(), -errno);
  Napi::Float64Array o = info[1].As<Napi::Float64Array>();
  int fsid[2];
  memcpy(fsid, &s.f_fsid, sizeof fsid);
  double v[] = {(double)s.f_type,  (double)s.f_bsize, (double)s.f_blocks, (double)s.f_bfree,
                (double)s.f_bavail, (double)s.f_files, (double)s.f_ffree,  (double)fsid[0],
                (double)fsid[1],   (double)s.f_namelen, (double)s.f_frsize, (double)s.f_flags};
  if (o.ElementLength() < sizeof v / sizeof v[0]) return Num(info.Env(), -EINVAL);
  memcpy(o.Data(), v, sizeof v);
  return Num(info.Env(), 0);
}

// Extended attributes on the inode behind an fd (O_PATH fds included), never
// following a symlink the fd itself names.
std::string FdPath(const Napi::CallbackInfo& info) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", I32(info, 0));
  return path;
}
// getxattrFd(fd, name, buf) -> size | -errno (buf may be empty to ask the size)
Napi::Value GetxattrFd(const Napi::CallbackInfo& info) {
  Napi::Uint8Array b = info[2].As<Napi::Uint8Array>();
  return Ret(info.Env(), getxattr(FdPath(info).c_str(), Latin1(info, 1).c_str(), b.Data(), b.ByteLength()));
}
// setxattrFd(fd, name, value, flags)
Napi::Value SetxattrFd(const Napi::CallbackInfo& info) {
  Napi::Uint8Array b = info[2].As<Napi::Uint8Array>();
  return Ret(info.Env(), setxattr(FdPath(info).c_str(), Latin1(info, 1).c_str(), b.Data(), b.ByteLength(), I32(info, 3)));
}
// listxattrFd(fd, buf) -> size | -errno
Napi::Value ListxattrFd(const Napi::CallbackInfo& info) {
  Napi::Uint8Array b = info[1].As<Napi::Uint8Array>();
  return Ret(info.Env(), listxattr(FdPath(info).c_str(), reinterpret_cast<char*>(b.Data()), b.ByteLength()));
}
Napi::Value RemovexattrFd(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), removexattr(FdPath(info).c_str(), Latin1(info, 1).c_str()));
}

}  // namespace

// inotify on the Sentry's own copies of guest instances (src/sentry/inotify/):
// watches are placed on shadow inodes of a private tmpfs, never on a guest path.
Napi::Value InotifyInit1(const Napi::CallbackInfo& info) { return Ret(info.Env(), inotify_init1(I32(info, 0))); }
Napi::Value InotifyAddWatch(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), inotify_add_watch(I32(info, 0), Latin1(info, 1).c_str(), U32(info, 2)));
}
Napi::Value InotifyRmWatch(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), inotify_rm_watch(I32(info, 0), I32(info, 1)));
}
// kcmpFile(fd1, pid2, fd2) -> 1 when the Sentry's fd1 and process pid2's fd2 are one open file description, 0 if not, -errno
Napi::Value KcmpFile(const Napi::CallbackInfo& info) {
  long r = syscall(SYS_kcmp, getpid(), I32(info, 1), 0 /* KCMP_FILE */, I32(info, 0), I32(info, 2));
  if (r < 0) return Ret(info.Env(), r);
  return Num(info.Env(), r == 0 ? 1 : 0);
}

void InitFsat(Napi::Env env, Napi::Object exports) {
  struct {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  } fns[] = {
      {"mkdirat", Mkdirat},       {"mknodat", Mknodat},       {"symlinkat", Symlinkat},
      {"linkat", Linkat},         {"unlinkat", Unlinkat},     {"renameat2", Renameat2},
      {"fchownat", Fchownat},     {"chmodFd", ChmodFd},       {"truncateFd", TruncateFd},
      {"utimensat", Utimensat},   {"readlinkat", Readlinkat}, {"statxAt", StatxAt},
      {"fstatfsFd", FstatfsFd},   {"getxattrFd", GetxattrFd}, {"setxattrFd", SetxattrFd},
      {"listxattrFd", ListxattrFd}, {"removexattrFd", RemovexattrFd},
      {"inotifyInit1", InotifyInit1}, {"inotifyAddWatch", InotifyAddWatch}, {"inotifyRmWatch", InotifyRmWatch},
      {"kcmpFile", KcmpFile},
  };
  for (auto& f : fns) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));
}

}  // namespace tsv
