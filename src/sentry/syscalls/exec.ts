// execve and execveat.
//
// Both stop the guest with a seccomp *trace* stop. The Sentry resolves the
// path in its VFS, checks permissions, handles "#!" itself, opens the file,
// and rewrites the registers into
//     execveat(N, "", argv, envp, AT_EMPTY_PATH, EXEC_REWRITE_MAGIC)
// The filter sends that call (and only calls carrying the marker) to the
// Sentry as a notification, where fd N is installed with ADDFD and the call
// continues: the kernel executes exactly the file the Sentry checked, whether
// it lives on the host or only in the Sentry's memory. Nothing the guest can
// race is consulted after the check.
//
// Fd N is opened with access mode 3 (neither read nor write: execveat needs
// only the fd's path, and ADDFD refuses O_PATH fds) and registered as the
// file's VFS object, so while it exists it grants nothing the guest could not
// get by opening the path, not even reading a file it may only execute. The
// thread is resumed to the rewritten call's exit stop: a successful exec
// never reaches it (the exec event comes instead and the fd closed with the
// old image), a failed one does, and there the Sentry withdraws fd N (the
// thread is made to close it, inject.ts) and gives the thread back its own
// registers with the kernel's error.
import fs from 'node:fs';
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  BINPRM_BUF_SIZE,
  EXEC_MAX_INTERPRETERS,
  EXEC_REWRITE_MAGIC,
  MFD_CLOEXEC,
  MFD_EXEC,
  O_CLOEXEC,
  O_NOACCESS,
  O_RDONLY,
  REG,
  SECCOMP_ADDFD_FLAG_SETFD,
  USER_REGS_WORDS,
  X_OK,
} from '../../abi/linux.js';
import { NUMBERS } from '../../syscalls/table.js';
import { startInjection } from '../inject.js';
import { STATX, STATX_FIELDS, native } from '../../platform/native.js';
import { CONTINUE } from '../../platform/notif.js';
import { requireAccess } from '../creds.js';
import { SysErr, check, fail } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { readPath, readStringArray, writeBytes } from '../memory.js';
import type { Task } from '../task.js';
import type { Location } from '../vfs/node.js';
import { pathOf, resolve } from '../vfs/resolve.js';
import type { Handler } from './dispatch.js';
import { startDir } from './common.js';

const NR_EXECVEAT = NUMBERS['execveat']!;
const NR_CLOSE = NUMBERS['close']!;
const RED_ZONE = 128;

interface ExecPlan {
  hostFd: number;
  exe: Location | null;
  exePath: string;
  /** comm, as Linux sets it: the base name of the path execve was given */
  comm: string;
  /** AT_EXECFN, as Linux sets it: the path execve was given (/dev/fd/N[/path] for execveat of an fd) */
  execFn: string;
  /** replacement argv when "#!" rewrote it */
  argv: string[] | null;
}

/** Checks that `loc` may be executed and opens it. */
function openExecutable(t: Task, loc: Location): number {
  const node = loc.dentry.node;
  if (!node.isRegular()) fail('EACCES');
  if (loc.mount.opts.noexec) fail('EACCES');
  const st = node.stat();
  requireAccess(t.creds, st.mode, st.uid, st.gid, X_OK);
  const fd = node.open(O_RDONLY).fd;
  // The kernel checks execute permission again, on the host object and with
  // the guest's host credentials, which own nothing on the host: a file only
  // its owner or group may execute is handed over as a copy the guest can run
  // (a memfd, mode 0777). Only host files from the Gofer can need it: the
  // storage files of in-memory file systems are mode 0777 on the host.
  if (native.statxFd(fd, hostStat) === 0 && (hostStat[STATX.mode]! & 0o001) === 0) {
    const copy = check(native.memfdCreate('tsvisor-exec', MFD_CLOEXEC | MFD_EXEC));
    native.copyFile(copy, fd);
    native.close(fd);
    return copy;
  }
  return fd;
}

const hostStat = new Float64Array(STATX_FIELDS);

interface Shebang {
  interp: string;
  arg: string | null;
}

/** The first BINPRM_BUF_SIZE bytes of a file and how many there are. */
function readHead(fd: number): [Buffer, number] {
  const head = Buffer.alloc(BINPRM_BUF_SIZE);
  return [head, fs.readSync(fd, head, 0, BINPRM_BUF_SIZE, 0)];
}

/** A script's argv: interpreter, [its argument], the script as named, argv[1..]. */
function scriptArgv(bang: Shebang, script: string, argv: string[]): string[] {
  return [bang.interp, ...(bang.arg !== null ? [bang.arg] : []), script, ...argv.slice(1)];
}

/** Parses a "#!" line the way Linux does: interpreter, then at most one argument. */
function parseShebang(head: Buffer, n: number): Shebang | null {
  if (n < 2 || head[0] !== 0x23 || head[1] !== 0x21) return null;
  let end = head.indexOf(0x0a, 2);
  if (end < 0 || end > n) end = n;
  const line = head.toString('latin1', 2, end).replace(/[ \t]+$/, '').replace(/^[ \t]+/, '');
  if (line === '') fail('ENOEXEC');
  const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(line);
  if (!m) fail('ENOEXEC');
  return { interp: m[1]!, arg: m[2] !== undefined && m[2] !== '' ? m[2] : null };
}

function plan(k: Kernel, t: Task, dirfd: number, pathAddr: number, argvAddr: number, flags: number): ExecPlan {
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) fail('EINVAL');
  const path = readPath(t, pathAddr);
  const ctx = t.resolveCtx();
  let loc: Location;
  let filename: string;
  let argv: string[] | null = null;
  let firstDepth = 0;
  if (path === '') {
    if (!(flags & AT_EMPTY_PATH)) fail('ENOENT');
    const id = k.files.identify(t, dirfd);
    if (!id.file) {
      // fexecve of an fd the guest made itself (its own memfd): an ELF runs
      // as is; a script runs its interpreter on /dev/fd/N, as on Linux, which
      // needs the guest's fd to survive the exec.
      const execFn = `/dev/fd/${dirfd}`;
      let head: [Buffer, number] = [Buffer.alloc(0), 0];
      try {
        head = readHead(id.fd);
      } catch {
        // not readable: the kernel decides
      }
      let bang: Shebang | null;
      try {
        bang = parseShebang(...head);
      } catch (e) {
        native.close(id.fd);
        throw e;
      }
      if (!bang) return { hostFd: id.fd, exe: null, exePath: execFn, comm: String(dirfd), execFn, argv: null };
      native.close(id.fd);
      if (fdCloexec(t, dirfd)) fail('ENOENT');
      argv = scriptArgv(bang, execFn, readStringArray(t, argvAddr));
      loc = resolve(ctx, t.fs.cwd, bang.interp, true);
      filename = bang.interp;
      firstDepth = 1;
    } else {
      native.close(id.fd);
      loc = id.file.loc;
      filename = `/dev/fd/${dirfd}`;
    }
  } else {
    loc = resolve(ctx, startDir(k, t, dirfd, path), path, !(flags & AT_SYMLINK_NOFOLLOW));
    if (loc.dentry.node.isSymlink()) fail('ELOOP');
    filename = dirfd === AT_FDCWD || path.startsWith('/') ? path : `/dev/fd/${dirfd}/${path}`;
  }
  // A script named through a close-on-exec fd ("/dev/fd/N..."): its
  // interpreter could not open it once the exec closes the fd.
  const pathInaccessible = filename.startsWith('/dev/fd/') && filename !== path && fdCloexec(t, dirfd);
  const comm = filename.slice(filename.lastIndexOf('/') + 1).slice(0, 15);
  const execFn = firstDepth ? `/dev/fd/${dirfd}` : filename;
  for (let depth = firstDepth; ; depth++) {
    const fd = openExecutable(t, loc);
    let head: [Buffer, number];
    try {
      head = readHead(fd);
    } catch {
      native.close(fd);
      fail('EIO');
    }
    const bang = parseShebang(...head);
    if (!bang) {
      const [bytes, n] = head;
      if (n < 4 || bytes.readUInt32BE(0) !== 0x7f454c46 /* \x7fELF */) {
        native.close(fd);
        fail('ENOEXEC');
      }
      return { hostFd: fd, exe: loc, exePath: pathOf(t.fs.root, loc) ?? filename, comm, execFn, argv };
    }
    native.close(fd);
    if (depth === 0 && pathInaccessible) fail('ENOENT');
    if (depth >= EXEC_MAX_INTERPRETERS) fail('ELOOP');
    argv = scriptArgv(bang, filename, argv ?? readStringArray(t, argvAddr));
    filename = bang.interp;
    loc = resolve(ctx, t.fs.cwd, bang.interp, true);
  }
}

/** Whether the guest's fd is close-on-exec (its fdinfo flags, in octal). */
function fdCloexec(t: Task, fd: number): boolean {
  try {
    const m = /^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/${t.tid}/fdinfo/${fd}`, 'latin1'));
    return m !== null && (parseInt(m[1]!, 8) & O_CLOEXEC) !== 0;
  } catch {
    return false;
  }
}

/** The lowest fd number free in the guest, for the executable. */
function freeFd(t: Task): number {
  const used = new Set(fs.readdirSync(`/proc/${t.tid}/fd`).map(Number));
  let fd = 0;
  while (used.has(fd)) fd++;
  return fd;
}

/**
 * Writes strings and a NULL-terminated pointer array below the guest's stack
 * pointer (past the red zone); the exec replaces that memory, and if it fails
 * the area is free stack the guest's next call overwrites anyway.
 * Returns [argvPointer, emptyStringPointer].
 */
function writeArgv(t: Task, sp: number, argv: string[]): [number, number] {
  const strings = Buffer.concat(argv.map((s) => Buffer.from(`${s}\0`, 'latin1')).concat([Buffer.from([0])]));
  const ptrBytes = 8 * (argv.length + 1);
  const size = ((strings.length + 15) & ~15) + ptrBytes;
  const base = Math.floor((sp - RED_ZONE - size) / 16) * 16;
  const region = Buffer.alloc(size);
  strings.copy(region, 0);
  const ptrOff = size - ptrBytes;
  let off = 0;
  argv.forEach((s, i) => {
    const addr = base + off;
    region.writeUInt32LE(addr % 2 ** 32, ptrOff + 8 * i);
    region.writeUInt32LE(Math.floor(addr / 2 ** 32), ptrOff + 8 * i + 4);
    off += Buffer.byteLength(s, 'latin1') + 1;
  });
  writeBytes(t, base, region);
  return [base + ptrOff, base + strings.length - 1];
}

/**
 * At the seccomp trace stop of execve/execveat: plan the exec and rewrite the
 * call. Returns true when the thread must be resumed to the call's exit stop
 * (PTRACE_SYSCALL, see onExecExitStop), false for a plain PTRACE_CONT.
 */
export function onExecTraceStop(k: Kernel, t: Task, info: Float64Array): boolean {
  const isAt = info[1] === NR_EXECVEAT;
  const arg = (i: number) => info[2 + i]!;
  const dirfd = isAt ? arg(0) | 0 : AT_FDCWD;
  const pathAddr = isAt ? arg(1) : arg(0);
  const argvAddr = isAt ? arg(2) : arg(1);
  const envpAddr = isAt ? arg(3) : arg(2);
  const flags = isAt ? arg(4) | 0 : 0;
  dropPendingExec(t);
  const st = k.strace;
  st?.traceEnter(t, isAt ? 'execveat' : 'execve', info);
  const ev = k.spec.events;
  if (ev) {
    let path: string | null = null;
    try {
      path = readPath(t, pathAddr);
    } catch {
      // an unreadable path: the exec fails below, and the event says so
    }
    ev.onExecCall(t.tid, t.proc.tgid, isAt ? 'execveat' : 'execve', path);
  }
  const call = isAt ? 'execveat' : 'execve';
  k.access?.begin('exec');
  let hostFd = -1;
  try {
    const regs = new BigUint64Array(USER_REGS_WORDS);
    check(native.ptraceGetRegs(t.tid, regs));
    const p = plan(k, t, dirfd, pathAddr, argvAddr, flags);
    hostFd = p.exe ? noAccessFd(p.hostFd) : p.hostFd;
    if (p.exe) k.files.register(hostFd, { loc: p.exe, flags: O_RDONLY, direct: true });
    const guestFd = freeFd(t);
    let argvPtr = argvAddr;
    let empty: number;
    if (p.argv) {
      [argvPtr, empty] = writeArgv(t, info[9]!, p.argv);
    } else {
      // The path's own terminating NUL is an empty string in guest memory.
      empty = pathAddr + Buffer.byteLength(readPath(t, pathAddr), 'latin1');
    }
    check(native.ptraceSetSyscall(t.tid, NR_EXECVEAT, [guestFd, empty, argvPtr, envpAddr, AT_EMPTY_PATH, EXEC_REWRITE_MAGIC]));
    // The call has not ended: its FileAccess is reported at the exec event, or with the kernel's refusal (onExecExitStop).
    const access = k.access?.held(t, call);
    t.pendingExec = { hostFd, guestFd, installed: false, regs, exe: p.exe!, exePath: p.exePath, comm: p.comm, execFn: p.execFn, access };
    st?.traceExit(t, isAt ? 'execveat' : 'execve', `rewritten to execveat(${guestFd}) of ${p.exePath}`);
    return true;
  } catch (e) {
    if (hostFd >= 0) native.close(hostFd);
    const errno = e instanceof SysErr ? e.errno : 5;
    if (!(e instanceof SysErr)) k.log.error({ err: e }, 'exec planning failed');
    native.ptraceSkipSyscall(t.tid, -errno);
    k.spec.events?.onExecResult(t.tid, errno);
    k.access?.end(t, call, errno);
    st?.traceExit(t, isAt ? 'execveat' : 'execve', `= -${errno}`);
    return false;
  }
}

/**
 * An fd for the same file as `fd` that can neither read nor write (access
 * mode 3), or `fd` itself where the host refuses that (the mode asks for
 * write permission, so a file on a read-only host file system gets its
 * read-only fd). Takes ownership of `fd`.
 */
function noAccessFd(fd: number): number {
  const r = native.reopen(fd, O_NOACCESS | O_CLOEXEC);
  if (r < 0) return fd;
  native.close(fd);
  return r;
}

const AT_NULL = 0;
const AT_EXECFN = 31;

/**
 * At the exec event of a rewritten exec: the kernel set AT_EXECFN to the
 * fd it executed ("/dev/fd/N"), where Linux gives the path execve was given.
 * The string sits at the top of the stack with no room to grow, so the
 * start-up block below it (argc, argv and envp pointers, auxv) moves down by
 * the new string's length, rounded to keep the stack's 16-byte alignment,
 * the string goes between the block and the old strings, and the stack
 * pointer follows. The pointers in the block name strings that stay put.
 * Nothing is changed if the block cannot be read as expected. The new
 * string's address is the process's (/proc/[pid]/auxv shows it, as the
 * process's own vector does).
 */
export function fixExecFn(t: Task, execFn: string): void {
  const regs = new BigUint64Array(USER_REGS_WORDS);
  if (native.ptraceGetRegs(t.tid, regs) < 0) return;
  const sp = Number(regs[REG.rsp]!);
  const word = Buffer.alloc(8);
  const at = (addr: number): number | null => (native.memRead(t.tid, addr, word, 0, 8) === 8 ? Number(word.readBigUInt64LE(0)) : null);
  const argc = at(sp);
  if (argc === null || argc > 1 << 20) return;
  let off = 8 + 8 * (argc + 1);
  for (;;) {
    const p = at(sp + off);
    if (p === null) return;
    off += 8;
    if (p === 0) break;
  }
  let execFnSlot = -1;
  for (;;) {
    const type = at(sp + off);
    if (type === null) return;
    if (type === AT_EXECFN) execFnSlot = off + 8;
    off += 16;
    if (type === AT_NULL) break;
  }
  if (execFnSlot < 0) return;
  const block = Buffer.alloc(off);
  if (native.memRead(t.tid, sp, block, 0, off) !== off) return;
  const name = Buffer.from(`${execFn}\0`, 'latin1');
  const newSp = sp - Math.ceil(name.length / 16) * 16;
  block.writeBigUInt64LE(BigInt(newSp + off), execFnSlot);
  const moved = Buffer.concat([block, name]);
  if (native.memWrite(t.tid, newSp, moved, 0, moved.length) !== moved.length) return;
  regs[REG.rsp] = BigInt(newSp);
  native.ptraceSetRegs(t.tid, regs);
  t.proc.execFnAddr = BigInt(newSp + off);
}

/** Forgets an exec that will not happen, closing the Sentry's copy of its file. */
export function dropPendingExec(t: Task): void {
  const pe = t.pendingExec;
  if (!pe) return;
  if (pe.hostFd >= 0) native.close(pe.hostFd);
  t.pendingExec = undefined;
}

/**
 * The exit stop of a rewritten exec: the kernel refused it (a successful exec
 * never stops here). Withdraws the installed fd and restores the thread's own
 * argument registers with the kernel's error; the thread is resumed.
 */
export function onExecExitStop(k: Kernel, t: Task, result: number): void {
  const pe = t.pendingExec!;
  dropPendingExec(t);
  const restore = pe.regs;
  restore[REG.rax] = BigInt.asUintN(64, BigInt(result));
  k.strace?.traceExit(t, 'execve', `= ${result} (the kernel refused the image)`);
  k.spec.events?.onExecResult(t.tid, -result);
  if (pe.access) k.access?.file({ ...pe.access, errno: -result });
  if (pe.installed) {
    t.injection = startInjection(t.tid, [{ nr: NR_CLOSE, args: [pe.guestFd] }], restore) ?? undefined;
    if (t.injection) return;
    // Nothing to run the close with: an exec that failed past its point of
    // no return closed the fd (close-on-exec) with the old image, and the
    // kernel ends the thread with SIGSEGV once it runs.
  }
  native.ptraceSetRegs(t.tid, restore);
  native.ptraceCont(t.tid, 0);
}

export const execHandlers: Record<string, Handler> = {
  /** The second stop of a rewritten exec: install the file and let the kernel run it. */
  execveat: (k, t, a) => {
    const pe = t.pendingExec;
    if (!pe || pe.hostFd < 0 || a.int(0) !== pe.guestFd || !(a.int(4) & AT_EMPTY_PATH)) {
      // The marker without a rewrite behind it: a guest forging it.
      fail('EPERM');
    }
    const r = native.notifAddFd(k.channel.fd, a.id, pe.hostFd, O_CLOEXEC, SECCOMP_ADDFD_FLAG_SETFD, pe.guestFd, a.tid);
    native.close(pe.hostFd);
    pe.hostFd = -1;
    if (r < 0) return r;
    pe.installed = true;
    return CONTINUE;
  },
};
