// --strace: every call the Sentry sees, with decoded arguments and result,
// in the spirit of runsc's strace output. Calls the host runs natively never
// reach the Sentry and are not shown.
import type { Logger } from '../log.js';
import { errnoName } from '../abi/errno.js';
import { AT_FDCWD, O_ACCMODE } from '../abi/linux.js';
import { native } from '../platform/native.js';
import type { SyscallArgs } from '../platform/notif.js';
import { CONTINUE, REPLIED } from '../platform/notif.js';
import { byNumber } from '../syscalls/table.js';
import type { Task } from './task.js';

const PATH_ARG = /\b(filename|pathname|path|oldname|newname|linkpath|target|specialfile|name)$/;
const OPEN_FLAGS: [number, string][] = [
  [0o100, 'O_CREAT'], [0o200, 'O_EXCL'], [0o400, 'O_NOCTTY'], [0o1000, 'O_TRUNC'], [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'], [0o200000, 'O_DIRECTORY'], [0o400000, 'O_NOFOLLOW'], [0o2000000, 'O_CLOEXEC'],
  [0o10000000, 'O_PATH'],
];

function openFlags(v: number): string {
  const parts = [['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'][v & O_ACCMODE]!];
  let rest = v & ~O_ACCMODE;
  for (const [bit, name] of OPEN_FLAGS) {
    if (rest & bit) {
      parts.push(name);
      rest &= ~bit;
    }
  }
  if (rest) parts.push(`0x${rest.toString(16)}`);
  return parts.join('|');
}

function quote(s: string): string {
  return JSON.stringify(s.length > 256 ? `${s.slice(0, 256)}...` : s);
}

export function formatArg(tid: number, decl: string, lo: number, full: number): string {
  const name = decl.split(/[\s*]+/).pop() ?? '';
  if (decl.includes('char') && decl.includes('*') && PATH_ARG.test(name)) {
    if (full === 0) return 'NULL';
    const s = native.memReadCString(tid, full, 4096);
    return typeof s === 'string' ? quote(s) : `0x${full.toString(16)}`;
  }
  if (decl.includes('*')) return full === 0 ? 'NULL' : `0x${full.toString(16)}`;
  if (/\b(dfd|dirfd|olddfd|newdfd|fd)$/.test(name)) return lo === AT_FDCWD ? 'AT_FDCWD' : String(lo);
  if (name === 'flags') return `0x${(lo >>> 0).toString(16)}`;
  if (/umode_t|mode_t/.test(decl)) return `0o${(lo >>> 0).toString(8)}`;
  return String(decl.startsWith('unsigned') || decl.startsWith('size_t') ? full : lo);
}

export class Strace {
  private readonly started = new Map<number, bigint>();

  constructor(private readonly log: Logger) {}

  private prefix(t: Task): string {
    const comm = t.proc.comm || '?';
    return `[${String(t.proc.pid).padStart(4)}:${String(t.nsTid).padStart(4)}] ${comm}`;
  }

  private args(t: Task, nr: number, a: SyscallArgs): string {
    const e = byNumber[nr];
    if (!e) return '';
    return e.args
      .map((decl, i) => {
        if (/open/.test(e.name) && decl.endsWith(' flags')) return openFlags(a.int(i));
        return formatArg(t.tid, decl, a.int(i), a.long(i));
      })
      .join(', ');
  }

  enter(t: Task, a: SyscallArgs): void {
    const name = byNumber[a.nr]?.name ?? `syscall_${a.nr}`;
    this.started.set(t.tid, process.hrtime.bigint());
    this.log.info(`${this.prefix(t)} E ${name}(${this.args(t, a.nr, a)})`);
  }

  exit(t: Task, a: SyscallArgs, r: number): void {
    const name = byNumber[a.nr]?.name ?? `syscall_${a.nr}`;
    const t0 = this.started.get(t.tid);
    const us = t0 ? Number(process.hrtime.bigint() - t0) / 1000 : 0;
    let ret: string;
    if (r === CONTINUE) ret = 'continued on the host';
    else if (r === REPLIED) ret = 'answered by fd installation';
    else if (r < 0) ret = `-1 ${errnoName(-r)}`;
    else ret = `${r} (0x${r.toString(16)})`;
    this.log.info(`${this.prefix(t)} X ${name}(...) = ${ret} (${us.toFixed(1)}µs)`);
  }

  /** execve/execveat seen at their ptrace stop. */
  traceEnter(t: Task, name: string, info: Float64Array): void {
    const e = byNumber[info[1]!];
    const args = e ? e.args.map((d, i) => formatArg(t.tid, d, info[2 + i]! | 0, info[2 + i]!)).join(', ') : '';
    this.started.set(t.tid, process.hrtime.bigint());
    this.log.info(`${this.prefix(t)} E ${name}(${args})`);
  }

  traceExit(t: Task, name: string, result: string): void {
    this.log.info(`${this.prefix(t)} X ${name}(...) ${result}`);
  }
}
