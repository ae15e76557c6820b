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
  AT_BASE,
  AT_EMPTY_PATH,
  AT_ENTRY,
  AT_EXECFN,
  AT_FDCWD,
  AT_NULL,
  AT_SYMLINK_NOFOLLOW,
  BINPRM_BUF_SIZE,
  EXEC_MAX_INTERPRETERS,
  EXEC_REWRITE_MAGIC,
  MFD_CLOEXEC,
  MFD_EXEC,
  O_CLOEXEC,
  O_NOACCESS,
  O_PATH,
  O_RDONLY,
  R_OK,
  REG,
  RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
  SECCOMP_ADDFD_FLAG_SETFD,
  USER_REGS_WORDS,
  X_OK,
} from '../../abi/linux.js';
import { ERRNO } from '../../abi/errno.js';
import { NUMBERS } from '../../syscalls/table.js';
import { isRestart, restartedRegs, startInjection } from '../inject.js';
import { STATX, STATX_FIELDS, native, statxIdentity } from '../../platform/native.js';
import { CONTINUE } from '../../platform/notif.js';
import { dumpCreds, readCreds, requireAccess } from '../creds.js';
import { SysErr, check, fail } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { readPath, readStringArray, writeBytes } from '../memory.js';
import { readElf } from '../elf.js';
import type { FdTable, PendingExec, PendingLoader, Task } from '../task.js';
import { hostKey } from '../files.js';
import { BoundedLru } from '../lru.js';
import type { Location } from '../vfs/node.js';
import { pathOf, resolve } from '../vfs/resolve.js';
import type { Handler } from './dispatch.js';
import { startDir } from './common.js';

const NR_EXECVEAT = NUMBERS['execveat']!;
const NR_CLOSE = NUMBERS['close']!;
const RED_ZONE = 128;

interface ExecPlan {
  hostFd: number;
  /** the file's first bytes (readHead) */
  head: Buffer;
  exe: Location | null;
  exePath: string;
  /** comm, as Linux sets it: the base name of the path execve was given */
  comm: string;
  /** AT_EXECFN, as Linux sets it: the path execve was given (/dev/fd/N[/path] for execveat of an fd) */
  execFn: string;
  /** replacement argv when "#!" rewrote it */
  argv: string[] | null;
}

/** Checks that `loc` may be executed: a regular file, on an exec mount, with execute permission. */
function mayExecute(t: Task, loc: Location): void {
  const node = loc.dentry.node;
  if (!node.isRegular()) fail('EACCES');
  if (loc.mount.opts.noexec) fail('EACCES');
  const st = node.stat();
  requireAccess(t.creds, node, st, X_OK);
}

/**
 * The file the kernel execs for the checked program `loc`, opened as `fd`
 * (ownership taken): a copy from the set-id store when Linux would apply its
 * set-id bits or capabilities (setid.ts), else a file the guest can run.
 */
function execFile(k: Kernel, t: Task, loc: Location, fd: number): number {
  let setid: number | null;
  try {
    setid = k.setidStore?.execFile(t, loc, fd) ?? null;
  } catch (e) {
    native.close(fd);
    throw e;
  }
  if (setid === null) return runnable(fd);
  native.close(fd);
  return setid;
}

/** `fd`, or a copy of it the guest can run (ownership taken). */
function runnable(fd: number): number {
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

/** Bytes read at once from the start of a file: an ELF header, its program headers and PT_INTERP, as linkers lay them out. */
const HEAD_SIZE = 4096;

/** The first HEAD_SIZE bytes of a file and how many there are. */
function readHead(fd: number): [Buffer, number] {
  const head = Buffer.alloc(HEAD_SIZE);
  return [head, fs.readSync(fd, head, 0, HEAD_SIZE, 0)];
}

/** A script's argv: interpreter, [its argument], the script as named, argv[1..]. */
function scriptArgv(bang: Shebang, script: string, argv: string[]): string[] {
  return [bang.interp, ...(bang.arg !== null ? [bang.arg] : []), script, ...argv.slice(1)];
}

/** Parses a "#!" line the way Linux does (within its first BINPRM_BUF_SIZE bytes): interpreter, then at most one argument. */
function parseShebang(head: Buffer, read: number): Shebang | null {
  const n = Math.min(read, BINPRM_BUF_SIZE);
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
      if (!bang) return { hostFd: id.fd, head: head[0].subarray(0, head[1]), exe: null, exePath: execFn, comm: String(dirfd), execFn, argv: null };
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
    mayExecute(t, loc);
    const fd = loc.dentry.node.open(O_RDONLY).fd;
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
      return { hostFd: execFile(k, t, loc, fd), head: bytes.subarray(0, n), exe: loc, exePath: pathOf(t.fs.root, loc) ?? filename, comm, execFn, argv };
    }
    native.close(fd);
    if (depth === 0 && pathInaccessible) fail('ENOENT');
    if (depth >= EXEC_MAX_INTERPRETERS) fail('ELOOP');
    argv = scriptArgv(bang, filename, argv ?? readStringArray(t, argvAddr));
    filename = bang.interp;
    loc = resolve(ctx, t.fs.cwd, bang.interp, true);
  }
}

interface Interpreter {
  /** host fd of the interpreter, a file the guest can run (runnable) */
  hostFd: number;
  loc: Location;
  path: string;
  entry: number;
  /** it takes --argv0 */
  argv0: boolean;
}

/**
 * The option that sets a program's argv[0] (glibc's ld.so since 2.33, and
 * musl's loader) as both spell it in their option parsing: a loader whose
 * file lacks it predates it.
 */
const ARGV0_OPTION = Buffer.from('argv0\0', 'latin1');

/** How much of a loader is searched for ARGV0_OPTION (glibc's ld.so is 200 KiB, musl's libc.so 700 KiB): the Sentry's read stays bounded whatever file the guest names. */
const LOADER_SEARCH_MAX = 8 << 20;

/** How many loaders' answers are kept (a sandbox's programs name one or two). */
const LOADER_ANSWERS_MAX = 16;
/** the host identity (statxIdentity) of each loader searched -> whether it takes --argv0; the least recently used first */
const loaderAnswers = new BoundedLru<string, boolean>(LOADER_ANSWERS_MAX);

/**
 * Whether the loader in `fd` takes --argv0, searched once per version of the
 * file (`key`, the host identity of the file opened, of which `fd` may be a
 * copy): the search reads up to LOADER_SEARCH_MAX bytes.
 */
function takesArgv0(fd: number, key: string | null): boolean {
  if (key === null) return mentions(fd, ARGV0_OPTION);
  let answer = loaderAnswers.get(key);
  if (answer === undefined) {
    answer = mentions(fd, ARGV0_OPTION);
    loaderAnswers.set(key, answer);
  }
  return answer;
}

/** Whether the first LOADER_SEARCH_MAX bytes of the file in `fd` contain `bytes`, read in chunks. */
function mentions(fd: number, bytes: Buffer): boolean {
  const chunk = Buffer.alloc(1 << 16);
  let tail = Buffer.alloc(0);
  for (let pos = 0; pos < LOADER_SEARCH_MAX; ) {
    const n = fs.readSync(fd, chunk, 0, chunk.length, pos);
    if (n <= 0) return false;
    const window = Buffer.concat([tail, chunk.subarray(0, n)]);
    if (window.includes(bytes)) return true;
    tail = window.subarray(Math.max(0, window.length - bytes.length + 1));
    pos += n;
  }
  return false;
}

/**
 * The ELF interpreter (PT_INTERP) of the program in `fd` (`head`: its first
 * bytes), resolved as Linux does (from the task's cwd and root, symlinks
 * followed, execute permission checked): the host object (files.ts hostKey)
 * when the kernel's own lookup reaches that same file (it opens the name in
 * the guest's native root, which holds none of the Sentry's mounts and none
 * of the overlay's writes), else the interpreter to run by fd. Null when
 * the program names no interpreter. Throws the errno Linux gives for an
 * interpreter it cannot use, and ENOENT for one to run by fd where that is
 * not possible (`byFd` false: a program with no path of its own, the
 * guest's memfd, which the loader could not open by name). Clears
 * `note.readable` when the task may not read the interpreter.
 */
function interpreterFor(k: Kernel, t: Task, fd: number, head: Buffer, byFd: boolean, note: { readable: boolean }): Interpreter | string | null {
  const elf = readElf(fd, head);
  if (!elf?.interp) return null;
  const loc = resolve(t.resolveCtx(), t.fs.cwd, elf.interp, true);
  mayExecute(t, loc);
  note.readable &&= mayRead(t, loc);
  const host = loc.dentry.node.hostObject();
  if (host && elf.interp.startsWith('/') && nativeLookupFinds(k, t, elf.interp, host)) return host.join(':');
  if (!byFd) fail('ENOENT');
  const opened = loc.dentry.node.open(O_RDONLY).fd;
  const key = native.statxFd(opened, hostStat) === 0 ? statxIdentity(hostStat) : null;
  const hostFd = runnable(opened);
  try {
    const image = readElf(hostFd, readHead(hostFd)[0]);
    // Run by fd, the interpreter is the kernel's program: its own PT_INTERP
    // would be followed, where Linux ignores it.
    if (!image || image.interp !== null) fail('ELIBBAD');
    return { hostFd, loc, path: elf.interp, entry: image.entry, argv0: takesArgv0(hostFd, key) };
  } catch (e) {
    native.close(hostFd);
    throw e;
  }
}

/**
 * Whether the kernel's lookup of `path` in the guest's native root reaches
 * the host file `object` (dev major, minor, inode), and the kernel's own
 * execute check there passes: the guest's host ids own nothing, so it needs
 * the file's execute bit for others (runnable).
 */
function nativeLookupFinds(k: Kernel, t: Task, path: string, object: [number, number, number]): boolean {
  if (k.nativeRoot < 0) k.nativeRoot = native.openat2(AT_FDCWD, `/proc/${t.tid}/root`, O_PATH | O_CLOEXEC, 0, 0);
  if (k.nativeRoot < 0) return false;
  const found = native.openat2(k.nativeRoot, path, O_PATH | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  if (found < 0) return false;
  const ok = native.statxFd(found, hostStat) === 0;
  native.close(found);
  return ok && hostStat[STATX.devMajor] === object[0] && hostStat[STATX.devMinor] === object[1] && hostStat[STATX.ino] === object[2] && (hostStat[STATX.mode]! & 0o001) !== 0;
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

/**
 * The lowest fd number free in the guest's fd table, for the executable, and
 * not given to another pending exec of a task sharing the table (a thread,
 * a CLONE_FILES process): two execs given one slot ran each other's files,
 * and the exec event killed them for it.
 */
function freeFd(t: Task): number {
  const used = new Set(fs.readdirSync(`/proc/${t.tid}/fd`).map(Number));
  let fd = 0;
  while (used.has(fd) || t.files.execSlots.has(fd)) fd++;
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
  let loader: PendingLoader | undefined;
  try {
    const regs = new BigUint64Array(USER_REGS_WORDS);
    check(native.ptraceGetRegs(t.tid, regs));
    const p = plan(k, t, dirfd, pathAddr, argvAddr, flags);
    // Linux's would_dump: a program or interpreter the task may not read leaves the new image not dumpable.
    const note = { readable: p.exe === null || mayRead(t, p.exe) };
    let found: Interpreter | string | null;
    try {
      found = interpreterFor(k, t, p.hostFd, p.head, p.exe !== null, note);
    } catch (e) {
      native.close(p.hostFd);
      throw e;
    }
    const interp = typeof found === 'object' ? found : null;
    // What the kernel loads as interpreter itself, checked at the exec event.
    const nativeInterp = typeof found === 'string' ? found : null;
    if (interp) {
      native.close(p.hostFd);
      // The kernel runs the interpreter, which opens the program by name:
      // its first open, answered with the checked file (loaderOpen).
      // Its name is the program's resolved path, /proc/self/exe's: loaders
      // take $ORIGIN from the name they opened.
      loader = { interp: interp.path, entry: interp.entry, argv0: interp.argv0, program: p.exePath };
    }
    const exeFd = interp ? interp.hostFd : p.hostFd;
    const exeLoc = interp ? interp.loc : p.exe;
    hostFd = exeLoc ? noAccessFd(t, exeLoc, exeFd) : exeFd;
    if (exeLoc) k.files.register(hostFd, { loc: exeLoc, flags: O_RDONLY, direct: true });
    check(native.statxFd(hostFd, hostStat));
    const object = hostKey(hostStat);
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
    t.files.execSlots.add(guestFd);
    t.pendingExec = { hostFd, guestFd, table: t.files, object, nativeInterp, installed: false, regs, exe: p.exe!, exePath: p.exePath, comm: p.comm, execFn: p.execFn, access, loader, before: dumpCreds(t.creds) ?? dumpCreds(readCreds(t.tid)), readable: note.readable };
    st?.traceExit(t, isAt ? 'execveat' : 'execve', `rewritten to execveat(${guestFd}) of ${loader ? `${loader.interp} for ` : ''}${p.exePath}`);
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
 * An fd for the same file as `fd` (the checked file `loc`) that can neither
 * read nor write (access mode 3). Where the host refuses that mode (it asks
 * for write permission: a read-only host file system, a rootless owner the
 * namespace does not map), `fd` itself if `t` may read the file, else a
 * copy in a memfd (mode 0111, as unreadable to the guest as the file is),
 * opened with mode 3: every process sharing the guest's fd table can use
 * the fd until the exec ends, and a read-only one let them read a program
 * they may only execute. Takes ownership of `fd`.
 */
function noAccessFd(t: Task, loc: Location, fd: number): number {
  const r = native.reopen(fd, O_NOACCESS | O_CLOEXEC);
  if (r >= 0) {
    native.close(fd);
    return r;
  }
  try {
    if (mayRead(t, loc)) return fd;
    return noAccessCopy(fd);
  } catch (e) {
    native.close(fd);
    throw e;
  }
}

/** A mode-3 fd for a memfd copy (mode 0111) of the file in `fd`, which is closed when that succeeds. */
function noAccessCopy(fd: number): number {
  const copy = check(native.memfdCreate('tsvisor-exec', MFD_CLOEXEC | MFD_EXEC));
  try {
    check(native.copyFile(copy, fd));
    const r = check(native.reopen(copy, O_NOACCESS | O_CLOEXEC));
    if (native.fchmod(copy, 0o111) < 0) {
      native.close(r);
      fail('EIO');
    }
    native.close(fd);
    return r;
  } finally {
    native.close(copy);
  }
}

/** Whether `t` may read the file `loc` (its VFS attributes, as open's check). */
function mayRead(t: Task, loc: Location): boolean {
  const st = loc.dentry.node.stat();
  return loc.dentry.node.permits(t.creds, st, R_OK);
}

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
 *
 * When the interpreter was executed by fd (`loader`), its own arguments go
 * in front of the program's: `INTERP --argv0 ARGV0 NAME ARGV1...` (or
 * `INTERP NAME ARGV1...` for a loader without --argv0), the new strings
 * beside AT_EXECFN's, ARGV0 and the rest the ones the kernel copied. The
 * kernel's argument area (/proc/[pid]/cmdline, what setproctitle
 * overwrites) therefore holds the program's arguments alone, as on Linux.
 * AT_BASE, 0 for a program without an interpreter, becomes the
 * interpreter's load address, as Linux gives it.
 */
export function fixStartBlock(t: Task, execFn: string, loader?: PendingLoader): void {
  const regs = new BigUint64Array(USER_REGS_WORDS);
  if (native.ptraceGetRegs(t.tid, regs) < 0) return;
  const sp = Number(regs[REG.rsp]!);
  const word = Buffer.alloc(8);
  const at = (addr: number): number | null => (native.memRead(t.tid, addr, word, 0, 8) === 8 ? Number(word.readBigUInt64LE(0)) : null);
  const argc = at(sp);
  // Linux (since 5.18) gives a program run without arguments an empty argv[0].
  if (argc === null || argc > 1 << 20 || (loader && argc === 0)) return;
  let off = 8 + 8 * (argc + 1);
  for (;;) {
    const p = at(sp + off);
    if (p === null) return;
    off += 8;
    if (p === 0) break;
  }
  const slots = new Map<number, number>();
  for (;;) {
    const type = at(sp + off);
    if (type === null) return;
    slots.set(type, off + 8);
    off += 16;
    if (type === AT_NULL) break;
  }
  const execFnSlot = slots.get(AT_EXECFN);
  if (execFnSlot === undefined) return;
  const old = Buffer.alloc(off);
  if (native.memRead(t.tid, sp, old, 0, off) !== off) return;
  // The loader's own arguments, in front of the program's argv[1...]: the
  // kernel's argv[0] stays its value for --argv0, or gives way to the name.
  const own = loader ? (loader.argv0 ? [loader.interp, '--argv0', null, loader.program] : [loader.interp, loader.program]) : [null];
  const extra = own.filter((x): x is string => x !== null);
  // glibc's loader points AT_EXECFN at the program's name it was given: the
  // same string serves, when it is execve's path.
  const ownExecFn = loader?.program !== execFn;
  const strings = [...extra, ...(ownExecFn ? [execFn] : [])].map((x) => Buffer.from(`${x}\0`, 'latin1'));
  const grow = 8 * (own.length - 1);
  const size = grow + strings.reduce((n, b) => n + b.length, 0);
  const newSp = sp - Math.ceil(size / 16) * 16;
  const addrs: number[] = [];
  let next = newSp + off + grow;
  for (const b of strings) {
    addrs.push(next);
    next += b.length;
  }
  const execFnAddr = addrs[ownExecFn ? extra.length : extra.length - 1]!;
  const block = Buffer.alloc(off + grow);
  block.writeBigUInt64LE(BigInt(argc + own.length - 1), 0);
  let str = 0;
  own.forEach((x, i) => {
    if (x === null) old.copy(block, 8 + 8 * i, 8, 16);
    else block.writeBigUInt64LE(BigInt(addrs[str++]!), 8 + 8 * i);
  });
  old.copy(block, 8 + 8 * own.length, 16);
  let base: number | undefined;
  const entrySlot = slots.get(AT_ENTRY);
  const baseSlot = slots.get(AT_BASE);
  if (loader && entrySlot !== undefined && baseSlot !== undefined) {
    // AT_BASE, 0 for a program without an interpreter: the interpreter's load address.
    base = Number(old.readBigUInt64LE(entrySlot)) - loader.entry;
    block.writeBigUInt64LE(BigInt(base), baseSlot + grow);
  }
  block.writeBigUInt64LE(BigInt(execFnAddr), execFnSlot + grow);
  const moved = Buffer.concat([block, ...strings]);
  if (native.memWrite(t.tid, newSp, moved, 0, moved.length) !== moved.length) return;
  regs[REG.rsp] = BigInt(newSp);
  native.ptraceSetRegs(t.tid, regs);
  t.proc.execFnAddr = BigInt(execFnAddr);
  if (base !== undefined) t.proc.baseAddr = BigInt(base);
  if (loader && ownExecFn) {
    const name = addrs[extra.length - 1]!;
    t.proc.execFnFix = { from: BigInt(name), to: BigInt(execFnAddr), lo: newSp, hi: newSp + off + grow, calls: EXECFN_FIX_CALLS };
  }
}

/** Trapped calls of a process after an exec by its loader within which glibc's loader has pointed AT_EXECFN at the program's name (it does before its first `access`). */
const EXECFN_FIX_CALLS = 32;
/** How far from where the Sentry left it the auxiliary vector is looked for (glibc since 2.37 moves it down by the arguments it consumed). */
const EXECFN_FIX_SLACK = 256;

/**
 * A trapped call of a process whose loader was run by fd: glibc's loader,
 * after mapping the program, points AT_EXECFN at the name it was given (the
 * program's resolved path); Linux gives the path execve was given, which
 * the Sentry wrote beside it. Puts that back once the loader has done so,
 * before the program's first instruction; gives up after EXECFN_FIX_CALLS
 * calls (musl's loader leaves AT_EXECFN alone).
 */
export function fixLoaderExecFn(t: Task): void {
  const fix = t.proc.execFnFix!;
  if (t.proc.loaderOpen) return;
  if (--fix.calls <= 0) t.proc.execFnFix = undefined;
  const lo = Math.max(0, fix.lo - EXECFN_FIX_SLACK);
  const area = Buffer.alloc(fix.hi + EXECFN_FIX_SLACK - lo);
  // The stack may end within the slack: what could be read.
  const n = native.memRead(t.tid, lo, area, 0, area.length);
  for (let off = 0; off + 16 <= n; off += 8) {
    if (area.readBigUInt64LE(off) !== BigInt(AT_EXECFN) || area.readBigUInt64LE(off + 8) !== fix.from) continue;
    const value = Buffer.alloc(8);
    value.writeBigUInt64LE(fix.to);
    native.memWrite(t.tid, lo + off + 8, value, 0, 8);
    t.proc.execFnFix = undefined;
    return;
  }
}

/**
 * At the exec event: whether the kernel ran the file the Sentry installed,
 * with the ELF interpreter the Sentry checked (or none), and mapped no other
 * file. The rewritten call names the file by a fd slot and an empty path,
 * both the guest's: between the install and the kernel's reads another
 * thread can end the path with an absolute one (which the kernel resolves
 * in the guest's native root) or dup2 another fd into the slot; and a file
 * the guest may write can name another interpreter by the time the kernel
 * reads it, which the kernel then looks up in the native root. The new
 * image has not run an instruction yet. Null when the process's files
 * could not be read (a SIGKILL is ending it).
 */
export function ranInstalled(tid: number, pe: PendingExec): boolean | null {
  if (native.statxAt(AT_FDCWD, `/proc/${tid}/exe`, 0, hostStat) !== 0) return null;
  const exe = hostKey(hostStat);
  const mapped = mappedFiles(tid);
  if (!mapped) return null;
  if (exe !== pe.object || mapped.some((key) => key !== pe.object && key !== pe.nativeInterp)) return false;
  if (pe.nativeInterp === null || mapped.includes(pe.nativeInterp)) return true;
  // A process a SIGKILL ends while stopped here loses its memory map between
  // the reads (map_files then lists nothing); its exe link goes with it.
  return native.statxAt(AT_FDCWD, `/proc/${tid}/exe`, 0, hostStat) === 0 ? false : null;
}

/**
 * The host objects (hostKey) of the files `tid` maps, through map_files; or,
 * where the Sentry may not follow those (it needs CAP_SYS_ADMIN: rootless),
 * as maps names them (the device of the inode's file system: statx's, but
 * on btrfs). Null if unreadable.
 */
function mappedFiles(tid: number): string[] | null {
  let ranges: string[];
  try {
    ranges = fs.readdirSync(`/proc/${tid}/map_files`);
  } catch {
    return null;
  }
  const keys: string[] = [];
  for (const r of ranges) {
    const e = native.statxAt(AT_FDCWD, `/proc/${tid}/map_files/${r}`, 0, hostStat);
    if (e === -ERRNO.EPERM) return mapsFiles(tid);
    if (e !== 0) return null;
    keys.push(hostKey(hostStat));
  }
  return keys;
}

function mapsFiles(tid: number): string[] | null {
  let maps: string;
  try {
    maps = fs.readFileSync(`/proc/${tid}/maps`, 'latin1');
  } catch {
    return null;
  }
  const keys: string[] = [];
  for (const m of maps.matchAll(/^\S+ \S+ \S+ ([0-9a-f]+):([0-9a-f]+) (\d+)/gm)) {
    if (m[3] !== '0') keys.push(`${parseInt(m[1]!, 16)}:${parseInt(m[2]!, 16)}:${m[3]}`);
  }
  return keys;
}

/** Forgets an exec that is done, failed or will not happen: closes the Sentry's copy of its file (unless kept, leaveStale), frees its slot. */
export function dropPendingExec(t: Task): void {
  const pe = t.pendingExec;
  if (!pe) return;
  if (pe.hostFd >= 0) native.close(pe.hostFd);
  pe.table.execSlots.delete(pe.guestFd);
  t.pendingExec = undefined;
}

/**
 * The exit stop of a rewritten exec: the kernel refused it (a successful exec
 * never stops here). Withdraws the installed fd and restores the thread's own
 * argument registers with the kernel's error; the thread is resumed.
 */
export function onExecExitStop(k: Kernel, t: Task, result: number): void {
  const pe = t.pendingExec!;
  // The slot is the table's, shared with other threads and CLONE_FILES
  // processes: one may have closed the Sentry's fd and put its own there.
  const ours = pe.installed && native.kcmpFile(pe.hostFd, t.tid, pe.guestFd) === 1;
  dropPendingExec(t);
  const restore = pe.regs;
  restore[REG.rax] = BigInt.asUintN(64, BigInt(result));
  // A stop (an interrupt, closeStale) ended the wait for the install: the
  // kernel runs the guest's own call again, which stops here anew.
  if (!pe.installed && isRestart(BigInt(result))) {
    native.ptraceSetRegs(t.tid, restore);
    native.ptraceCont(t.tid, 0);
    return;
  }
  k.strace?.traceExit(t, 'execve', `= ${result} (the kernel refused the image)`);
  k.spec.events?.onExecResult(t.tid, -result);
  if (pe.access) k.access?.file({ ...pe.access, errno: -result });
  if (ours) {
    t.injection = startInjection(t.tid, [{ nr: NR_CLOSE, args: [pe.guestFd] }], restore) ?? undefined;
    if (t.injection) return;
    // Nothing to run the close with: an exec that failed past its point of
    // no return closed the fd (close-on-exec) with the old image, and the
    // kernel ends the thread with SIGSEGV once it runs.
  }
  native.ptraceSetRegs(t.tid, restore);
  native.ptraceCont(t.tid, 0);
}

/** Stale fds kept per table (FdTable.stale): past it the oldest is left to the guest. */
const STALE_MAX = 16;

/**
 * At the exec event of `pe`, whose fd was installed in `shared`, the table
 * the process used: the kernel gave the process a copy (closing the fd
 * there, close-on-exec) if other tasks still use `shared`, which then
 * holds the fd, where Linux leaves none. One of them is made to close it
 * (closeStale); the Sentry keeps its copy of the file until then, to tell
 * that the slot still holds that fd.
 */
export function leaveStale(shared: FdTable, pe: PendingExec): void {
  if (!pe.installed || shared.tasks.size === 0) return;
  if (shared.stale.length >= STALE_MAX) native.close(shared.stale.shift()!.fd);
  shared.stale.push({ slot: pe.guestFd, fd: pe.hostFd });
  pe.hostFd = -1;
  requestCleaner(shared);
}

/**
 * Whether the Sentry may run calls in `u` at an interrupt stop: no stop of
 * its own is due, and its process has no other thread, whose exec would
 * end it in the middle (the registers put back then landed on the exec'd
 * image, which died of SIGSEGV).
 */
function mayClean(u: Task): boolean {
  return u.proc.threads.size === 1 && !u.injection && !u.takesTerminal && !u.groupStopped && !u.pendingExec && !u.clone3Regs && !u.credsBefore;
}

/**
 * Interrupts a task of `table` to close its stale fds at the stop that
 * follows (closeStale). With none that may (mayClean) the fds stay until
 * the table's last task leaves it.
 */
export function requestCleaner(table: FdTable): void {
  if (table.cleaner || table.stale.length === 0) return;
  for (const u of table.tasks) {
    if (!mayClean(u)) continue;
    if (native.ptraceInterrupt(u.tid) < 0) continue;
    table.cleaner = u;
    return;
  }
}

/**
 * The interrupt stop (PTRACE_EVENT_STOP) of a table's cleaner: makes it
 * close each stale fd its table still holds (the slot still holds the
 * Sentry's file: not a fd the guest put there since), then resume what it
 * was doing (a call it was in is restarted, as after any stop). False when
 * there is nothing to run: the caller resumes the thread.
 */
export function closeStale(t: Task): boolean {
  const table = t.files;
  if (table.cleaner !== t) return false;
  table.cleaner = undefined;
  if (!mayClean(t)) {
    requestCleaner(table);
    return false;
  }
  const calls = table.stale.filter((s) => native.kcmpFile(s.fd, t.tid, s.slot) === 1).map((s) => ({ nr: NR_CLOSE, args: [s.slot] }));
  table.dropStale();
  const regs = new BigUint64Array(USER_REGS_WORDS);
  if (calls.length === 0 || native.ptraceGetRegs(t.tid, regs) < 0) return false;
  t.injection = startInjection(t.tid, calls, restartedRegs(regs), true) ?? undefined;
  return t.injection !== undefined;
}

export const execHandlers: Record<string, Handler> = {
  /** The second stop of a rewritten exec: install the file and let the kernel run it. */
  execveat: (k, t, a) => {
    const pe = t.pendingExec;
    if (!pe || pe.installed || a.int(0) !== pe.guestFd || !(a.int(4) & AT_EMPTY_PATH)) {
      // The marker without a rewrite behind it: a guest forging it.
      fail('EPERM');
    }
    const r = native.notifAddFd(k.channel.fd, a.id, pe.hostFd, O_CLOEXEC, SECCOMP_ADDFD_FLAG_SETFD, pe.guestFd, a.tid);
    if (r < 0) return r;
    pe.installed = true;
    return CONTINUE;
  },
};
