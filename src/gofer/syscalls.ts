// The system calls the Gofer makes once it is serving requests (every thread
// of the Node process: main loop, V8 platform workers, libuv), the input for
// its seccomp filter. Start-up (execve, mounts, unshare, module loading, thread
// creation) happens before the filter would be installed and is not listed.
//
// Measured, not guessed: `strace -f -p <gofer pid>` attached after start-up
// while a driver ran every op 3000 times (success and error paths, FIFOs,
// devices, xattrs, malformed and oversized requests: 123k requests, about a
// minute under strace, with several GCs), then closed the socket so the exit
// path was traced too; the same set came out of the whole test/gofer suite
// run under `strace -f`. Filtered to what follows the main thread's first
// recvmsg on the socket.
//
// Why each is there:
//   request loop        recvmsg, sendmsg, close
//   resolution          openat2, fstatfs, statx
//   reopen via /proc    openat (native.reopen), fcntl (native.dup)
//   ops                 mkdirat, mknodat, symlinkat, linkat, unlinkat, renameat2,
//                       fchownat, fchmod, chmod (chmodFd), truncate (truncateFd),
//                       utimensat, readlinkat, getxattr, setxattr, listxattr,
//                       removexattr (the *xattrFd helpers go through /proc/self/fd)
//   O_NONBLOCK          fcntl (F_GETFL, F_SETFL)
//   error messages      write (stderr)
//   libuv               epoll_ctl, epoll_pwait, read (event-loop teardown)
//   V8 / libuv threads  futex, mmap, munmap, mprotect, madvise, getpid
//   exit                fstat (stdio check), rt_sigprocmask, exit, exit_group
//
// Not observed but listed, as plausible in a long-lived Gofer: brk (glibc heap
// growth) and sched_yield (V8). A thread that V8 or libuv was starting while
// the filter went on (TSYNC) registers with rseq and set_robust_list after it:
// glibc aborts the process when rseq fails (seen: the Gofer died of SIGSEGV,
// abort's last resort, about once in 400 starts under load). rt_sigreturn: a signal the Gofer handles
// (SIGUSR1, so Node never opens its inspector: src/no-inspector.ts) returns
// through it; without it the Gofer died of the signal. A call missing here fails with EPERM, which
// the Gofer reports; ioctl is deliberately absent (terminal ioctls).
export const GOFER_SYSCALLS: readonly string[] = Object.freeze([
  'brk',
  'chmod',
  'close',
  'epoll_ctl',
  'epoll_pwait',
  'exit',
  'exit_group',
  'fchmod',
  'fchownat',
  'fcntl',
  'fstat',
  'fstatfs',
  'futex',
  'getpid',
  'getxattr',
  'linkat',
  'listxattr',
  'madvise',
  'mkdirat',
  'mknodat',
  'mmap',
  'mprotect',
  'munmap',
  'openat',
  'openat2',
  'read',
  'readlinkat',
  'recvmsg',
  'removexattr',
  'renameat2',
  'rseq',
  'rt_sigprocmask',
  'rt_sigreturn',
  'sched_yield',
  'sendmsg',
  'set_robust_list',
  'setxattr',
  'statx',
  'symlinkat',
  'truncate',
  'unlinkat',
  'utimensat',
  'write',
]);
