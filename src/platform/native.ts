// Typed view of the native addon (native/*.cc). Every function returns a
// negative errno on failure instead of throwing; paths and names are latin1
// strings so that arbitrary bytes survive.
import { createRequire } from 'node:module';
import { NATIVE_ADDON } from '../paths.js';

export interface Native {
  // seccomp user notification (native/notif.cc)
  notifStart(fd: number, layout: ArrayBuffer, onNotif: () => void, onClose?: () => void): number;
  notifStop(fd: number): void;
  notifSend(fd: number, id: bigint, val: number, errno: number, flags: number): number;
  /** `targetTid`: the notifying thread, briefly kept on the Sentry's CPU so the hand-off is fast */
  notifAddFd(fd: number, id: bigint, srcfd: number, newfdFlags: number, addfdFlags: number, newfd: number, targetTid?: number): number;
  notifIdValid(fd: number, id: bigint): number;
  notifSetSyncWakeup(fd: number): number;

  // ptrace and the child waiter (native/ptrace.cc)
  ptraceSeize(pid: number, options: number): number;
  ptraceCont(pid: number, sig: number): number;
  /** PTRACE_SYSCALL: resume to the next syscall entry or exit stop */
  ptraceSyscall(pid: number, sig: number): number;
  ptraceListen(pid: number): number;
  ptraceInterrupt(pid: number): number;
  ptraceDetach(pid: number, sig: number): number;
  ptraceGetEventMsg(pid: number): number;
  /** out = [signo, errno, code] of the signal a tracee is stopped for */
  ptraceGetSiginfo(pid: number, out: Int32Array): number;
  /** out = [op, nr, a0..a5, ip, sp, ret] */
  ptraceGetSyscallInfo(pid: number, out: Float64Array): number;
  ptraceSetSyscall(pid: number, nr: number, args: (number | bigint)[]): number;
  ptraceSkipSyscall(pid: number, retval: number): number;
  ptraceGetRegs(pid: number, out: BigUint64Array): number;
  ptraceSetRegs(pid: number, regs: BigUint64Array): number;
  waiterStart(cb: (events: Int32Array) => void): number;
  waiterKick(): void;
  waiterRef(ref: boolean): void;
  /** Keep how child `pid` ends, for pidfdStatus once the waiter has reaped it. */
  waiterRemember(pid: number): void;

  // system calls (native/sys.cc)
  memRead(pid: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  memWrite(pid: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  memReadCString(pid: number, addr: number, max: number): string | number;
  pidfdOpen(pid: number, flags: number): number;
  pidfdGetfd(pidfd: number, fd: number): number;
  pidfdSendSignal(pidfd: number, sig: number): number;
  close(fd: number): number;
  dup(fd: number): number;
  memfdCreate(name: string, flags: number): number;
  reopen(fd: number, flags: number): number;
  lseek(fd: number, offset: number, whence: number): number;
  ftruncate(fd: number, length: number): number;
  fchmod(fd: number, mode: number): number;
  getdents(fd: number, buf: Uint8Array): number;
  futimens(fd: number, times: [number, number, number, number]): number;
  copyFile(dst: number, src: number): number;
  statxFd(fd: number, out: Float64Array): number;
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  socketpair(type: number): [number, number] | number;
  sendMsg(sock: number, data: Uint8Array, len: number, fds: number[]): number;
  /** flagsOut[0] gets msg_flags (MSG_CTRUNC: fds were dropped) */
  recvMsg(sock: number, buf: Uint8Array, fdsOut: Int32Array, timeoutMs: number, flagsOut?: Int32Array): number;
  /**
   * `unprivileged`: the calling thread holds no effective capability during
   * the call (for operations the Sentry runs for a guest, which must get
   * what an unprivileged process would).
   */
  sockBind(fd: number, addr: Uint8Array, len: number, unprivileged?: boolean): number;
  /** getsockname into `buf`: the address's length, or -errno. */
  sockName(fd: number, buf: Uint8Array): number;
  /** listen(2) on the Sentry's copy of a guest socket: 0 | -errno */
  sockListen(fd: number, backlog: number): number;
  dup2(oldFd: number, newFd: number): number;
  /** socket(2) in the network namespace `netnsFd` (the calling thread returns to its own). */
  socketInNetns(netnsFd: number, family: number, type: number, protocol: number): number;
  /** open(2) in the network namespace `netnsFd` (for /proc/sys/net); the calling thread returns to its own. */
  openInNetns(netnsFd: number, path: string, flags: number): number;
  sockBindIn(fd: number, rootFd: number, addr: Uint8Array, len: number): number;
  removeTree(dirfd: number, name: string): number;
  unixPeerIno(diagFd: number, ino: number): number;
  /** The host and domain names of the UTS namespace `utsnsFd` (the calling thread returns to its own). */
  utsNames(utsnsFd: number): [string, string] | number;
  openInUtsns(utsnsFd: number, path: string, flags: number): number;
  setUtsName(utsnsFd: number, domain: boolean, name: string): number;
  /** connect(2); with `gid`, from the calling thread under that effective gid (the accepting end's SO_PEERCRED keeps it) */
  sockConnect(fd: number, addr: Uint8Array, len: number, unprivileged?: boolean, gid?: number): number;
  sockConnectAsync(fd: number, addr: Uint8Array, len: number, cb: (result: number) => void, unprivileged?: boolean, gid?: number): number;
  /** getsockopt(SOL_SOCKET) of an int option */
  sockOptInt(fd: number, optname: number): number;
  sockOptBytes(fd: number, optname: number, out: Uint8Array): number;
  /** sendmsg with one data buffer; MSG_NOSIGNAL always (the Sentry must not get SIGPIPE). */
  sockSendmsg(fd: number, name: Uint8Array | null, data: Uint8Array, control: Uint8Array | null, flags: number, unprivileged?: boolean): number;
  sockSendmsgAsync(
    fd: number,
    name: Uint8Array | null,
    data: Uint8Array,
    control: Uint8Array | null,
    flags: number,
    cb: (result: number) => void,
    unprivileged?: boolean,
  ): number;
  /** pipe2(flags): [read end, write end] */
  pipe(flags: number): [number, number] | number;
  /** tee(2): bytes duplicated from pipe `fdIn` to pipe `fdOut` */
  tee(fdIn: number, fdOut: number, len: number, flags: number): number;
  fcntlGetfl(fd: number): number;
  fcntlSetfl(fd: number, flags: number): number;
  /** Keeps thread `tid` on the caller's current CPU (re-pinned only when the caller moved). */
  keepOnMyCpu(tid: number): number;
  /** flock(2): LOCK_SH 1, LOCK_EX 2, LOCK_NB 4, LOCK_UN 8. Blocks the calling thread unless LOCK_NB. */
  flock(fd: number, op: number): number;
  /** Unlocks a pty master; returns its pts number. */
  ptyUnlock(master: number): number;
  ttySetSize(fd: number, rows: number, cols: number): number;
  /** Connects to unix stream socket `path` and sends `fd` (SCM_RIGHTS) with `name` as data. */
  sendFdTo(path: string, fd: number, name: string): number;
  /** Restricts the calling thread to its current CPU; returns the CPU. */
  pinSelf(): number;
  spawnSandbox(path: string, argv: string[], envp: string[], cloneFlags: number, fdMap: number[]): [number, number] | number;
  /** The child dies with the calling thread (PR_SET_PDEATHSIG, SIGKILL). */
  spawn(path: string, argv: string[], envp: string[], fdMap: number[], newSession: boolean): number;
  setChildSubreaper(): number;
  setPdeathsig(sig: number): number;
  setNoNewPrivs(): number;
  seccompInstall(prog: Uint8Array, flags: number): number;
  unshare(flags: number): number;
  mount(source: string, target: string, fstype: string, flags: number, data: string): number;
  /** A new devpts instance (ptmx 0666) mounted nowhere, made in a user namespace of its own: its mount fd, or -errno. */
  devptsInstance(): number;
  /** A tmpfs (size in bytes, nr_inodes) mounted nowhere, nosuid and nodev (and noexec if asked): its root directory's fd. */
  tmpfsMount(size: number, nrInodes: number, noexec?: boolean): number;
  setAffinity(tid: number, cpuMask: number): number;
  /** -1 for RLIM_INFINITY */
  setRlimit(resource: number, soft: number, hard: number): number;
  /** [soft, hard], -1 for RLIM_INFINITY */
  getRlimit(resource: number): [number, number] | number;
  gettid(): number;
  /** CLOCK_REALTIME into out[0] (seconds) and out[1] (nanoseconds) */
  realtime(out: Float64Array): void;
  umask(mask: number): number;

  // waiting by liveness (native/wait.cc)
  /** Blocks until one of `fds` (at most 8) is readable or hung up: a bitmask of those; 0 on timeout (-1: none). */
  pollFds(fds: number[], timeoutMs: number): number;
  /** Calls `cb` once, from the event loop, when `fd` is readable or hung up; returns an id for unwatchFd. */
  watchFd(fd: number, cb: (status: number) => void): number;
  unwatchFd(id: number): void;
  /** 1 once child `pid` (behind `pidfd`) ended (out = [si_code, si_status]), 0 while it runs; never reaps it. */
  pidfdStatus(pidfd: number, pid: number, out: Int32Array): number;
  /** 1 once the child behind `pidfd` ended, reaping it (out = [si_code, si_status]); 0 while it runs. */
  pidfdReap(pidfd: number, out: Int32Array): number;
  /**
   * An eventfd made readable by any of `sigs` (each must have a Node listener already), even while the loop is blocked.
   * A repeat from the same sending process within `sameSenderMs` is not counted.
   */
  signalWake(sigs: number[], sameSenderMs: number): number;
  /** The signals counted by signalWake's handler since the last call, one entry per counted delivery (at most 8 each). */
  signalTake(): number[];

  // directory-relative operations (native/fsat.cc)
  mkdirat(dirfd: number, name: string, mode: number): number;
  mknodat(dirfd: number, name: string, mode: number, dev: number): number;
  symlinkat(target: string, dirfd: number, name: string): number;
  linkat(olddirfd: number, oldname: string, newdirfd: number, newname: string, flags: number): number;
  unlinkat(dirfd: number, name: string, flags: number): number;
  renameat2(olddirfd: number, oldname: string, newdirfd: number, newname: string, flags: number): number;
  fchownat(dirfd: number, name: string, uid: number, gid: number, flags: number): number;
  chmodFd(opathFd: number, mode: number): number;
  truncateFd(opathFd: number, length: number): number;
  utimensat(dirfd: number, name: string, times: [number, number, number, number], flags: number): number;
  readlinkat(dirfd: number, name: string): string | number;
  statxAt(dirfd: number, name: string, flags: number, out: Float64Array): number;
  inotifyInit1(flags: number): number;
  /** Returns the watch descriptor or -errno. */
  inotifyAddWatch(fd: number, path: string, mask: number): number;
  inotifyRmWatch(fd: number, wd: number): number;
  /** 1 when the Sentry's fd `fd1` and process `pid2`'s fd `fd2` are one open file description (kcmp KCMP_FILE), 0 if not, -errno. */
  kcmpFile(fd1: number, pid2: number, fd2: number): number;
  /** out = [type, bsize, blocks, bfree, bavail, files, ffree, fsid0, fsid1, namelen, frsize, flags] */
  fstatfsFd(fd: number, out: Float64Array): number;
  getxattrFd(fd: number, name: string, buf: Uint8Array): number;
  setxattrFd(fd: number, name: string, value: Uint8Array, flags: number): number;
  listxattrFd(fd: number, buf: Uint8Array): number;
  removexattrFd(fd: number, name: string): number;

  // eBPF maps, programs and tracepoint attachment (native/bpf.cc)
  bpfMapCreate(type: number, keySize: number, valueSize: number, maxEntries: number, flags: number): number;
  /** Every (key, value) pair, concatenated. */
  bpfMapEntries(fd: number, keySize: number, valueSize: number): Buffer | number;
  /** A program fd, or [-errno, the verifier's log]. */
  bpfProgLoad(type: number, insns: Uint8Array, license: string): number | [number, string];
  /** Maps a BPF ring buffer of `size` bytes (map fd `fd`) for draining: 0 or -errno. */
  bpfRingbufMap(fd: number, size: number): number;
  /** The committed records of a mapped ring buffer, each {u32 length, data padded to 8 bytes}, consumed; or -errno. */
  bpfRingbufDrain(fd: number): Buffer | number;
  bpfRingbufUnmap(fd: number): void;
  /** Attaches program `progFd` to tracepoint `id` through a perf event on `cpu` (the program then runs on every CPU), until the returned fd is closed. */
  perfTracepointAttach(id: number, progFd: number, cpu: number): number;
}

/** Indexes into the Float64Array filled by statxFd/statxAt. */
export const STATX = {
  mask: 0, blksize: 1, nlink: 2, uid: 3, gid: 4, mode: 5, ino: 6, size: 7, blocks: 8,
  atimeSec: 9, atimeNsec: 10, btimeSec: 11, btimeNsec: 12, ctimeSec: 13, ctimeNsec: 14,
  mtimeSec: 15, mtimeNsec: 16, rdevMajor: 17, rdevMinor: 18, devMajor: 19, devMinor: 20,
  attributes: 21,
} as const;
export const STATX_FIELDS = 22;

/** The fields of a host statx that change when the file's content, mode or owner does, as one string. */
export function statxIdentity(st: Float64Array): string {
  const f = STATX;
  return [f.devMajor, f.devMinor, f.ino, f.mode, f.uid, f.gid, f.size, f.mtimeSec, f.mtimeNsec, f.ctimeSec, f.ctimeNsec].map((i) => st[i]).join(':');
}

const require = createRequire(import.meta.url);
export const native: Native = require(NATIVE_ADDON);
