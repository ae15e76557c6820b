// --strace: calls with decoded arguments and results, in the spirit of
// runsc's strace output. The Sentry's own log (class Strace) shows the calls
// it sees; calls the host runs natively never reach it. `tsvisor coverage
// --strace` shows every call from the kernel's records (src/coverage/
// strace-records.ts) with the same formatting, here.
import util from 'node:util';
import type { Logger } from '../log.js';
import { argValueName } from '../abi/arg-names.js';
import { errnoName } from '../abi/errno.js';
import { AT_FDCWD, O_CREAT, O_TMPFILE } from '../abi/linux.js';
import { native } from '../platform/native.js';
import type { SyscallArgs } from '../platform/notif.js';
import { CONTINUE, REPLIED } from '../platform/notif.js';
import { type SyscallEntry, byName, byNumber } from '../syscalls/table.js';
import type { Task } from './task.js';

const PATH_ARG = /\b(filename|pathname|path|oldname|newname|linkpath|target|specialfile|name)$/;
const FD_ARG = /^(fd|fildes|dfd|dirfd|olddfd|newdfd|oldfd|newfd)$/;
/** Calls whose result is a new fd (shown with its path where known). */
const FD_RESULT = new Set(['open', 'openat', 'openat2', 'creat', 'dup', 'dup2', 'dup3', 'accept', 'accept4', 'socket', 'memfd_create', 'eventfd2', 'epoll_create1', 'pidfd_open', 'signalfd4', 'timerfd_create', 'inotify_init1', 'fanotify_init', 'open_tree', 'fsopen', 'fsmount', 'userfaultfd']);
/** Calls whose result is an address. */
const ADDRESS_RESULT = new Set(['mmap', 'mremap', 'brk', 'shmat']);
/** Strings longer than this are cut, as strace does (-s). */
const STRING_MAX = 256;

const ARG_NAME = (decl: string) => decl.split(/[\s*]+/).pop() ?? '';

const STRING_ARGS = new Map<SyscallEntry, number[]>();

/** The indexes of a call's path arguments (strings a record carries and a line shows quoted). */
export function stringArgs(e: SyscallEntry): number[] {
  let r = STRING_ARGS.get(e);
  if (!r) STRING_ARGS.set(e, (r = e.args.flatMap((decl, i) => (decl.includes('char') && decl.includes('*') && PATH_ARG.test(ARG_NAME(decl)) ? [i] : []))));
  return r;
}

/**
 * A call's arguments as the kernel's registers hold them (SyscallArgs is
 * one), the path strings read for it (null: not readable) and what is known
 * of the caller's fds.
 */
export interface CallView {
  int(i: number): number;
  long(i: number): number;
  /** the whole 64-bit register */
  u64(i: number): bigint;
  string(i: number): string | null;
  /** the first bytes of a data buffer argument (what read or write moved) where known; `cut`: there were more */
  data(i: number): { bytes: Buffer; cut: boolean } | null;
  fdPath(fd: number): string | undefined;
}

/** --strace-syscalls: the numbers of the named calls; an unknown name is an Error naming it. */
export function parseSyscallFilter(names: string): Set<number> {
  const out = new Set<number>();
  for (const n of names.split(',').map((s) => s.trim()).filter(Boolean)) {
    const e = byName.get(n);
    if (!e) throw new Error(`--strace-syscalls: unknown system call "${n}"`);
    out.add(e.nr);
  }
  if (!out.size) throw new Error('--strace-syscalls: no system call named');
  return out;
}

export function callName(nr: number): string {
  return byNumber[nr]?.name ?? `syscall_${nr}`;
}

function quote(s: string, cut: boolean): string {
  return `${JSON.stringify(s)}${cut ? '...' : ''}`;
}

const ESCAPES: Record<number, string> = { 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 34: '\\"', 92: '\\\\' };

/** Bytes quoted as strace quotes them: printable ASCII as is, \n and the like, other bytes in octal. */
function quoteBytes(b: Buffer, cut: boolean): string {
  let out = '"';
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (ESCAPES[c]) out += ESCAPES[c];
    else if (c >= 32 && c < 127) out += String.fromCharCode(c);
    else out += `\\${c.toString(8).padStart(b[i + 1] !== undefined && b[i + 1]! >= 48 && b[i + 1]! <= 55 ? 3 : 1, '0')}`;
  }
  return `${out}"${cut ? '...' : ''}`;
}

const withPath = (fd: number, path: string | undefined) => (path === undefined ? String(fd) : `${fd}<${path}>`);

function formatArg(call: string, decl: string, i: number, v: CallView): string {
  const name = ARG_NAME(decl);
  const lo = v.int(i);
  const full = v.long(i);
  if (decl.includes('char') && decl.includes('*') && PATH_ARG.test(name)) {
    if (full === 0) return 'NULL';
    const s = v.string(i);
    return s === null ? `0x${full.toString(16)}` : quote(s.slice(0, STRING_MAX), s.length > STRING_MAX);
  }
  const symbolic = argValueName(call, name, lo);
  if (symbolic !== null) return symbolic;
  const data = decl.includes('*') ? v.data(i) : null;
  if (data) return quoteBytes(data.bytes, data.cut);
  if (decl.includes('*')) return full === 0 ? 'NULL' : `0x${full.toString(16)}`;
  if (FD_ARG.test(name)) return lo === AT_FDCWD ? 'AT_FDCWD' : withPath(lo, lo >= 0 ? v.fdPath(lo) : undefined);
  if (/umode_t|mode_t/.test(decl)) return lo ? `0${(lo >>> 0).toString(8)}` : '000';
  if (/flags?$/.test(name)) return lo ? `0x${(lo >>> 0).toString(16)}` : '0';
  if (/^(unsigned int|u32)\b/.test(decl)) return String(lo >>> 0);
  if (/^(unsigned|size_t|u64|__u64|loff_t)/.test(decl)) {
    const u = v.u64(i);
    if (/addr|start|brk/.test(name)) return u ? `0x${u.toString(16)}` : 'NULL';
    return (/^p?off$/.test(name) || (call === 'ioctl' && name === 'arg')) && u ? `0x${u.toString(16)}` : String(u);
  }
  return String(lo);
}

/** The arguments a line shows: open's mode only with O_CREAT or O_TMPFILE, as strace. */
function shownArgs(e: SyscallEntry, v: CallView): string[] {
  const flagsAt = e.name === 'open' ? 1 : e.name === 'openat' ? 2 : -1;
  if (flagsAt >= 0 && !(v.int(flagsAt) & O_CREAT) && (v.int(flagsAt) & O_TMPFILE) !== O_TMPFILE) return e.args.slice(0, flagsAt + 1);
  return e.args;
}

/** "name(arg, arg...)" of a call. */
export function formatCall(nr: number, v: CallView): string {
  const e = byNumber[nr];
  if (!e) return `${callName(nr)}(...)`;
  return `${e.name}(${shownArgs(e, v).map((decl, i) => formatArg(e.name, decl, i, v)).join(', ')})`;
}

/** strerror's text for an errno, as strace prints it. */
function errnoMessage(errno: number): string {
  const m = util.getSystemErrorMap().get(-errno)?.[1];
  return m ? m[0]!.toUpperCase() + m.slice(1) : 'Unknown error';
}

/** "= 3</etc/passwd>", "= -1 ENOENT (No such file or directory)", "= 0x7f..." for a result. */
export function formatResult(nr: number, r: number, fdPath: (fd: number) => string | undefined): string {
  const name = callName(nr);
  if (r < 0 && r >= -4095) return `= -1 ${errnoName(-r)} (${errnoMessage(-r)})`;
  if (ADDRESS_RESULT.has(name)) return `= 0x${r.toString(16)}`;
  if (FD_RESULT.has(name)) return `= ${withPath(r, fdPath(r))}`;
  return `= ${r}`;
}

/** The Sentry's strace: the calls it handles, as E(ntry) and X(it) lines, only those of `filter` when given. */
export class Strace {
  private readonly started = new Map<number, bigint>();

  constructor(
    private readonly log: Logger,
    private readonly filter: ReadonlySet<number> | null,
  ) {}

  private prefix(t: Task): string {
    const comm = t.proc.comm || '?';
    return `[${String(t.proc.pid).padStart(4)}:${String(t.nsTid).padStart(4)}] ${comm}`;
  }

  private shown(nr: number): boolean {
    return !this.filter || this.filter.has(nr);
  }

  private view(t: Task, a: { int(i: number): number; long(i: number): number; u64(i: number): bigint }): CallView {
    return {
      int: (i) => a.int(i),
      long: (i) => a.long(i),
      u64: (i) => a.u64(i),
      string: (i) => {
        const s = native.memReadCString(t.tid, a.long(i), 4096);
        return typeof s === 'string' ? s : null;
      },
      data: () => null,
      fdPath: () => undefined,
    };
  }

  enter(t: Task, a: SyscallArgs): void {
    if (!this.shown(a.nr)) return;
    this.started.set(t.tid, process.hrtime.bigint());
    this.log.info(`${this.prefix(t)} E ${formatCall(a.nr, this.view(t, { int: (i) => a.int(i), long: (i) => a.long(i), u64: (i) => (BigInt(a.hi(i)) << 32n) | BigInt(a.u32(i)) }))}`);
  }

  exit(t: Task, a: SyscallArgs, r: number): void {
    if (!this.shown(a.nr)) return;
    const t0 = this.started.get(t.tid);
    const us = t0 ? Number(process.hrtime.bigint() - t0) / 1000 : 0;
    let ret: string;
    if (r === CONTINUE) ret = 'continued on the host';
    else if (r === REPLIED) ret = 'answered by fd installation';
    else ret = formatResult(a.nr, r, () => undefined);
    this.log.info(`${this.prefix(t)} X ${callName(a.nr)}(...) ${ret} (${us.toFixed(1)}µs)`);
  }

  /** execve/execveat seen at their ptrace stop. */
  traceEnter(t: Task, name: string, info: Float64Array): void {
    const e = byName.get(name);
    if (!e || !this.shown(e.nr)) return;
    this.started.set(t.tid, process.hrtime.bigint());
    const regs = { int: (i: number) => info[2 + i]! | 0, long: (i: number) => info[2 + i]!, u64: (i: number) => BigInt(info[2 + i]!) };
    this.log.info(`${this.prefix(t)} E ${formatCall(info[1]!, this.view(t, regs))}`);
  }

  traceExit(t: Task, name: string, result: string): void {
    const e = byName.get(name);
    if (!e || !this.shown(e.nr)) return;
    this.log.info(`${this.prefix(t)} X ${name}(...) ${result}`);
  }
}
