// `tsvisor coverage --strace`: one line per call of every guest thread, from
// the records the eBPF programs write into a ring buffer (bpf-program.ts),
// formatted as the Sentry's strace formats its calls (src/sentry/strace.ts).
//
// fd paths: guest fds are host fds the Sentry keeps no table of (files.ts),
// so the printer learns them from the records themselves: an open's path and
// the fd it returned, dup/fcntl copies, closes, forks (copies) and execs
// (O_CLOEXEC ones dropped). Bounded: past MAX_FD_PATHS remembered fds in all,
// new ones show as bare numbers.
import path from 'node:path';
import { AT_FDCWD, CLONE_THREAD, F_DUPFD, F_DUPFD_CLOEXEC, O_CLOEXEC } from '../abi/linux.js';
import { type CallView, callName, formatCall, formatResult, stringArgs } from '../sentry/strace.js';
import { byName, byNumber } from '../syscalls/table.js';
import { DATA_ARGS, KIND_NO_RETURN, REC, RECORD_SIZE, STRING_SIZE } from './bpf-program.js';

const MAX_FD_PATHS = 65536;
const NR_CLONE = 56;
const NR_CLONE3 = 435;
const NR_EXECVE = 59;
const NR_EXECVEAT = 322;
const NR_BY_NAME = new Map([['execve', NR_EXECVE], ['execveat', NR_EXECVEAT]]);

/** The calls whose records the fd paths are learnt from (follow()): recorded whatever --strace-syscalls shows. */
export const FD_CALLS: readonly number[] = ['open', 'creat', 'openat', 'openat2', 'close', 'dup', 'dup2', 'dup3', 'fcntl', 'fork', 'vfork', 'clone', 'execve', 'execveat', 'exit_group'].map(
  (n) => byName.get(n)!.nr,
);

/** What a run whose ring buffer refused `lost` records says of it. */
export const lostRecords = (lost: number): string => `--strace: ${lost} call records were lost (the ring buffer was full); the counts are complete`;

interface FdPath {
  path: string;
  cloexec: boolean;
}

export class CallPrinter {
  /** by the sandbox tgid: fd -> what was opened */
  private readonly fds = new Map<number, Map<number, FdPath>>();
  private remembered = 0;

  /** the lines of the buffer being printed */
  private lines: string[] = [];

  constructor(
    private readonly write: (lines: readonly string[]) => void,
    private readonly filter: ReadonlySet<number> | null,
    /** the records of the sandbox's own set-up (the launcher's generations), not shown */
    private readonly isLauncher: (hostTgid: number, gen: number) => boolean,
  ) {}

  /**
   * Execs, by host tid, from the Sentry's events: it rewrites them (the
   * kernel's record holds other arguments, or none after a successful exec)
   * or fails them before the kernel sees them (no record). One per thread.
   */
  private readonly execs = new Map<number, { name: string; path: string | null; pid: number }>();

  execCall(hostTid: number, name: string, path: string | null, pid: number): void {
    this.execs.set(hostTid, { name, path, pid });
  }

  /** A successful exec by a thread other than the leader: the record comes under the leader's tid. */
  execMoved(formerTid: number, tid: number): void {
    const e = this.execs.get(formerTid);
    if (!e || formerTid === tid) return;
    this.execs.delete(formerTid);
    this.execs.set(tid, e);
  }

  /** An exec failed; its line, if no record has shown it (the Sentry failed it before the kernel saw it). */
  execFailed(hostTid: number, errno: number): void {
    const e = this.execs.get(hostTid);
    if (!e) return;
    this.execs.delete(hostTid);
    const nr = NR_BY_NAME.get(e.name)!;
    this.line(e.pid, e.pid, nr, this.execText(e), () => formatResult(nr, -errno, () => undefined));
    this.flush();
  }

  private execText(e: { name: string; path: string | null }): string {
    return `${e.name}(${e.path === null ? '?' : JSON.stringify(e.path)}, ...)`;
  }

  private line(tgid: number, tid: number, nr: number, call: string, result: () => string): void {
    if (this.filter && !this.filter.has(nr)) return;
    this.lines.push(`[${String(tgid).padStart(4)}:${String(tid).padStart(4)}] ${call} ${result()}`);
  }

  /** clone3 calls the Sentry ran as clone, by host tid: their records (clone) are shown as clone3. */
  private readonly clone3AsClone = new Map<number, number>();

  /** The Sentry ran a clone3 of thread `hostTid` as clone (collector.onCloneResult); bounded by the guest's threads. */
  cloneWasClone3(hostTid: number): void {
    this.clone3AsClone.set(hostTid, (this.clone3AsClone.get(hostTid) ?? 0) + 1);
  }

  /** Prints a drained buffer: records as {u32 length, data padded to 8}. */
  print(buf: Buffer): void {
    for (let off = 0; off + 4 <= buf.length; ) {
      const len = buf.readUInt32LE(off);
      if (len >= RECORD_SIZE) this.record(buf.subarray(off + 4, off + 4 + RECORD_SIZE));
      off += 4 + ((len + 7) & ~7);
    }
    this.flush();
  }

  private flush(): void {
    if (!this.lines.length) return;
    this.write(this.lines);
    this.lines = [];
  }

  private record(rec: Buffer): void {
    let nr = Number(rec.readBigInt64LE(REC.nr));
    const hostTid = rec.readUInt32LE(REC.hostTid);
    if (this.isLauncher(rec.readUInt32LE(REC.hostTgid), rec.readUInt32LE(REC.gen))) {
      if (nr === NR_EXECVE || nr === NR_EXECVEAT) this.execs.delete(hostTid);
      return;
    }
    const tid = rec.readUInt32LE(REC.tid);
    const tgid = rec.readUInt32LE(REC.tgid);
    const asClone3 = nr === NR_CLONE ? (this.clone3AsClone.get(hostTid) ?? 0) : 0;
    if (asClone3) {
      nr = NR_CLONE3;
      if (asClone3 > 1) this.clone3AsClone.set(hostTid, asClone3 - 1);
      else this.clone3AsClone.delete(hostTid);
    }
    const ret = Number(rec.readBigInt64LE(REC.ret));
    const args = [0, 1, 2, 3, 4, 5].map((i) => rec.readBigUInt64LE(REC.args + 8 * i));
    const e = byNumber[nr];
    const slots = e ? stringArgs(e).slice(0, 2) : [];
    const table = this.fds.get(tgid);
    const view: CallView = {
      int: (i) => Number(BigInt.asIntN(32, args[i]!)),
      long: (i) => Number(args[i]!),
      u64: (i) => args[i]!,
      string: (i) => {
        const slot = slots.indexOf(i);
        const n = slot < 0 ? -1 : rec.readInt32LE(REC.strlen + 4 * slot);
        if (n <= 0) return null;
        const at = REC.strings + STRING_SIZE * slot;
        return rec.toString('latin1', at, at + n - 1) + (n >= STRING_SIZE ? '...' : '');
      },
      data: (i) => {
        if (DATA_ARGS.get(nr) !== i || ret < 0) return null;
        const n = ret === 0 ? 0 : rec.readInt32LE(REC.strlen);
        return n >= 0 ? { bytes: rec.subarray(REC.strings, REC.strings + n), cut: ret > n } : null;
      },
      fdPath: (fd) => table?.get(fd)?.path,
    };
    const noReturn = rec.readUInt32LE(REC.kind) === KIND_NO_RETURN;
    const exec = nr === NR_EXECVE || nr === NR_EXECVEAT ? this.execs.get(hostTid) : undefined;
    if (exec) {
      this.execs.delete(hostTid);
      nr = NR_BY_NAME.get(exec.name)!;
    }
    // The arguments with the fds as they were, the result as the call left them (an open's new fd and its path).
    const call = this.filter && !this.filter.has(nr) ? '' : exec ? this.execText(exec) : formatCall(nr, view);
    if (!noReturn) this.follow(tgid, callName(nr), ret, view);
    else if (callName(nr) === 'exit_group') this.drop(tgid);
    this.line(tgid, tid, nr, call, () => (noReturn ? '= ?' : formatResult(nr, ret, (fd) => this.fds.get(tgid)?.get(fd)?.path)));
  }

  /** What the call did to the caller's fds. */
  private follow(tgid: number, name: string, ret: number, v: CallView): void {
    if (ret < 0 && ret >= -4095) {
      if (name === 'close') this.forget(tgid, v.int(0));
      return;
    }
    switch (name) {
      case 'open':
      case 'creat':
        return this.opened(tgid, ret, v.string(0), null, name === 'open' ? v.int(1) : 0, v);
      case 'openat':
      case 'openat2':
        return this.opened(tgid, ret, v.string(1), v.int(0), name === 'openat' ? v.int(2) : 0, v);
      case 'close':
        return this.forget(tgid, v.int(0));
      case 'dup':
      case 'dup2':
      case 'dup3':
        return this.copy(tgid, v.int(0), ret, name === 'dup3' && (v.int(2) & O_CLOEXEC) !== 0);
      case 'fcntl':
        if (v.int(1) === F_DUPFD || v.int(1) === F_DUPFD_CLOEXEC) this.copy(tgid, v.int(0), ret, v.int(1) === F_DUPFD_CLOEXEC);
        return;
      case 'fork':
      case 'vfork':
      case 'clone':
        if (ret > 0 && !(v.int(0) & CLONE_THREAD)) this.forked(tgid, ret);
        return;
      case 'execve':
      case 'execveat':
        for (const [fd, f] of this.fds.get(tgid) ?? []) if (f.cloexec) this.forget(tgid, fd);
        return;
    }
  }

  private opened(tgid: number, fd: number, name: string | null, dirfd: number | null, flags: number, v: CallView): void {
    this.forget(tgid, fd);
    if (name === null) return;
    const dir = dirfd === null || dirfd === AT_FDCWD ? undefined : v.fdPath(dirfd);
    this.set(tgid, fd, { path: name.startsWith('/') || dir === undefined ? name : path.posix.join(dir, name), cloexec: (flags & O_CLOEXEC) !== 0 });
  }

  private copy(tgid: number, from: number, to: number, cloexec: boolean): void {
    const f = this.fds.get(tgid)?.get(from);
    this.forget(tgid, to);
    if (f) this.set(tgid, to, { path: f.path, cloexec });
  }

  private forked(parent: number, child: number): void {
    for (const [fd, f] of this.fds.get(parent) ?? []) this.set(child, fd, f);
  }

  private set(tgid: number, fd: number, f: FdPath): void {
    let t = this.fds.get(tgid);
    if (!t?.has(fd)) {
      if (this.remembered >= MAX_FD_PATHS) return;
      this.remembered++;
    }
    if (!t) this.fds.set(tgid, (t = new Map()));
    t.set(fd, f);
  }

  private forget(tgid: number, fd: number): void {
    const t = this.fds.get(tgid);
    if (t?.delete(fd)) this.remembered--;
  }

  private drop(tgid: number): void {
    this.remembered -= this.fds.get(tgid)?.size ?? 0;
    this.fds.delete(tgid);
  }
}
