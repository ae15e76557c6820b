// Collects a coverage run's calls: the in-kernel counts of the eBPF programs
// (bpf-program.ts) for every call, and the Sentry's events for what the
// counts cannot say: which executable each process ran (exec events) and the
// execs and clone3 calls, which the Sentry rewrites (into execveat, into
// clone) or fails before the kernel sees them (so the tracepoints report them
// under another number, or none). With --strace, the programs' records of
// each call are drained and printed as they come (strace-records.ts).
import fs from 'node:fs';
import { ERRNO } from '../abi/errno.js';
import { CLONE_UNTRACED, MS_NODEV, MS_NOEXEC, MS_NOSUID } from '../abi/linux.js';
import { native } from '../platform/native.js';
import { HAS_CLASS, packClass } from './arg-classes.js';
import { COUNTS_KEY_SIZE, COUNTS_VALUE_SIZE, STARTS_VALUE_SIZE, enterProgram, exitProgram } from './bpf-program.js';
import { CallPrinter, FD_CALLS } from './strace-records.js';
import type { Logger } from '../log.js';
import type { GuestEvents } from '../sentry/spec.js';

const BPF_MAP_TYPE_HASH = 1;
const BPF_MAP_TYPE_LRU_HASH = 9;
const BPF_MAP_TYPE_ARRAY = 2;
const BPF_MAP_TYPE_RINGBUF = 27;
/** --strace: the ring buffer of call records (fixed: a full buffer loses records, counted) and how often it is drained */
const RING_SIZE = 16 << 20;
const DRAIN_MS = 10;
const BPF_PROG_TYPE_TRACEPOINT = 5;
/** Distinct (process, executable, call, errno) rows a run may have; beyond, rows are lost (reported). */
const MAX_ROWS = 65536;
const MAX_PROCESSES = 32768;
/** Threads with a call in progress (an LRU map: an evicted stamp only leaves that call untimed). */
const MAX_THREADS = 32768;
/** Executables remembered per process (a process that execs in a loop); later ones are reported as '?'. */
const MAX_EXECS = 1024;
/** Where tracefs is found: its own place, then under debugfs (older setups). */
const TRACEFS_DIRS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];
const NR_CLONE = 56;
const NR_EXECVE = 59;
const NR_EXECVEAT = 322;
const NR_CLONE3 = 435;

export class CoverageError extends Error {}

/**
 * The perf ids of raw_syscalls:sys_enter and sys_exit, read from tracefs.
 * A host without systemd may have no tracefs mounted: it is then mounted at
 * its usual place, as systemd does at boot and perf does when it needs it.
 */
function tracepointIds(): { sys_enter: number; sys_exit: number } {
  const read = (dir: string) => {
    try {
      const id = (name: string) => Number(fs.readFileSync(`${dir}/events/raw_syscalls/${name}/id`, 'latin1'));
      return { sys_enter: id('sys_enter'), sys_exit: id('sys_exit') };
    } catch {
      return null;
    }
  };
  for (const dir of TRACEFS_DIRS) {
    const ids = read(dir);
    if (ids) return ids;
  }
  const r = native.mount('tracefs', TRACEFS_DIRS[0]!, 'tracefs', MS_NOSUID | MS_NODEV | MS_NOEXEC, '');
  const ids = r === 0 ? read(TRACEFS_DIRS[0]!) : null;
  if (!ids) throw new CoverageError(`cannot find the raw_syscalls tracepoints: tracefs is not mounted at ${TRACEFS_DIRS.join(' or ')}${r < 0 ? ` and mounting it failed (errno ${-r}${r === -ERRNO.EPERM ? ': coverage needs root' : ''})` : ''}`);
  return ids;
}

/** An event row's key: the Sentry's rows are by process, generation, call, errno and class. */
const eventKey = (tgid: number, gen: number, nr: number, errno: number, cls: bigint | null) => `${tgid}/${gen}/${nr}/${errno}/${cls}`;

/** One counted row. */
export interface CallCount {
  tgid: number;
  /** index into the process's executables */
  gen: number;
  nr: number;
  errno: number;
  /** the argument class (arg-classes.ts, without HAS_CLASS), or null */
  cls: bigint | null;
  calls: number;
  /** nanoseconds in the timed calls */
  ns: number;
  timed: number;
}

export interface ProcessInfo {
  tgid: number;
  /** pid in the sandbox */
  pid: number;
  parent: number | null;
  /** executables by generation: [0] is the one inherited from the parent */
  exes: string[];
}

export const LAUNCHER_EXE = '(tsvisor launcher)';

export class Collector implements GuestEvents {
  private readonly fds: number[] = [];
  private counts = -1;
  private gens = -1;
  private starts = -1;
  private nsKey: { dev: bigint; ino: bigint } | null = null;
  readonly processes = new Map<number, ProcessInfo>();
  /** exec and clone3 calls from the Sentry's events: tid -> (name, tgid, gen) until its result */
  private readonly execsPending = new Map<number, { name: string; tgid: number; gen: number }>();
  private readonly clonesPending = new Map<number, { tgid: number; gen: number; flags: bigint }>();
  /** clone3 calls the kernel ran as clone, by tgid/gen/errno/class: rows to move from clone to clone3 */
  private readonly asClone = new Map<string, { tgid: number; gen: number; errno: number; flags: bigint; cls: bigint; calls: number }>();
  private readonly eventRows = new Map<string, CallCount>();
  /** the Sentry's time in the calls it answered, by tgid/gen/nr/class: rows of no calls that add time */
  private readonly sentryTime = new Map<string, CallCount>();
  /** something was not recorded for a bound above: the report says it is incomplete */
  private lost = false;
  /** --strace: the record maps, the drain timer, the printer */
  private records: { ring: number; lost: number; only?: readonly number[] } | null = null;
  private drainTimer: NodeJS.Timeout | null = null;
  private printer: CallPrinter | null = null;
  private readonly strace: { filter: ReadonlySet<number> | null } | undefined;
  private readonly tracepoints = tracepointIds();
  /** Whether calls are printed (--strace): the Sentry's own strace is then off. */
  readonly traces: boolean;

  /**
   * Creates the maps; the programs are attached once the sandbox's pid
   * namespace exists (onGuestProcess). `strace`: print every call, those
   * of `filter` (numbers) when given.
   */
  constructor(strace?: { filter: ReadonlySet<number> | null }) {
    this.counts = native.bpfMapCreate(BPF_MAP_TYPE_HASH, COUNTS_KEY_SIZE, COUNTS_VALUE_SIZE, MAX_ROWS, 0);
    if (this.counts < 0) throw new CoverageError(`cannot create an eBPF map (errno ${-this.counts}): coverage needs root (CAP_BPF and CAP_PERFMON)`);
    this.fds.push(this.counts);
    this.gens = native.bpfMapCreate(BPF_MAP_TYPE_LRU_HASH, 4, 4, MAX_PROCESSES, 0);
    if (this.gens < 0) throw new CoverageError(`cannot create an eBPF map (errno ${-this.gens})`);
    this.fds.push(this.gens);
    this.starts = native.bpfMapCreate(BPF_MAP_TYPE_LRU_HASH, 4, STARTS_VALUE_SIZE, MAX_THREADS, 0);
    if (this.starts < 0) throw new CoverageError(`cannot create an eBPF map (errno ${-this.starts})`);
    this.fds.push(this.starts);
    this.traces = strace !== undefined;
    if (strace) {
      const ring = native.bpfMapCreate(BPF_MAP_TYPE_RINGBUF, 0, 0, RING_SIZE, 0);
      if (ring < 0) throw new CoverageError(`cannot create an eBPF ring buffer (errno ${-ring}): --strace needs Linux 5.8 or later`);
      this.fds.push(ring);
      const lost = native.bpfMapCreate(BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
      if (lost < 0) throw new CoverageError(`cannot create an eBPF map (errno ${-lost})`);
      this.fds.push(lost);
      const mapped = native.bpfRingbufMap(ring, RING_SIZE);
      if (mapped < 0) throw new CoverageError(`cannot map the eBPF ring buffer (errno ${-mapped})`);
      // With a filter, only the calls shown and those that open, copy or drop fds (their paths are followed).
      this.records = { ring, lost, ...(strace.filter ? { only: [...new Set([...strace.filter, ...FD_CALLS])] } : {}) };
    }
    this.strace = strace;
  }

  private drain(): void {
    if (!this.records || !this.printer) return;
    const buf = native.bpfRingbufDrain(this.records.ring);
    if (typeof buf !== 'number') this.printer.print(buf);
  }

  /** The sandbox's first process (the launcher), before it runs: attach in its pid namespace. `log` gets --strace's lines. */
  onGuestProcess(hostPid: number, log?: Logger): void {
    if (this.nsKey) return;
    // Held open until the counts are read: a pid namespace's inode number is
    // reused once it is freed, and the next sandbox's (its launcher's set-up)
    // would be counted as this one's after the guest ended.
    const nsFd = fs.openSync(`/proc/${hostPid}/ns/pid`, 'r');
    this.fds.push(nsFd);
    const st = fs.fstatSync(nsFd, { bigint: true });
    // The kernel's dev_t (major << 20 | minor) from glibc's encoding.
    const d = st.dev;
    const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
    const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
    this.nsKey = { dev: (major << 20n) | minor, ino: st.ino };
    const maps = { counts: this.counts, gens: this.gens, starts: this.starts, nsDev: this.nsKey.dev, nsIno: this.nsKey.ino, ...(this.records ? { records: this.records } : {}) };
    this.attach('sys_exit', this.tracepoints.sys_exit, exitProgram(maps));
    this.attach('sys_enter', this.tracepoints.sys_enter, enterProgram(maps));
    // Generation 0: Node's child, which execs the launcher once it is let go (native spawnSandbox).
    this.processes.set(hostPid, { tgid: hostPid, pid: 1, parent: null, exes: [LAUNCHER_EXE, LAUNCHER_EXE] });
    if (this.strace && log) {
      this.printer = new CallPrinter((lines) => log.infoLines(lines), this.strace.filter, (tgid, gen) => this.processes.get(tgid)?.exes[gen] === LAUNCHER_EXE);
      this.drainTimer = setInterval(() => this.drain(), DRAIN_MS);
    }
  }

  /**
   * A tracepoint runs its programs on every CPU once one perf event (here
   * CPU 0's) carries them: one attachment counts each call once.
   */
  private attach(tracepoint: string, id: number, insns: Uint8Array): void {
    const prog = native.bpfProgLoad(BPF_PROG_TYPE_TRACEPOINT, insns, 'GPL');
    if (typeof prog !== 'number') throw new CoverageError(`the kernel refused the coverage program (errno ${-prog[0]}): ${prog[1].trim().split('\n').slice(-3).join(' / ')}`);
    if (prog < 0) throw new CoverageError(`the kernel refused the coverage program (errno ${-prog})`);
    this.fds.push(prog);
    const fd = native.perfTracepointAttach(id, prog, 0);
    if (fd < 0) throw new CoverageError(`cannot attach to raw_syscalls:${tracepoint} (errno ${-fd})`);
    this.fds.push(fd);
  }

  onCloneCall(tid: number, tgid: number, _name: 'clone3', flags: bigint | null): void {
    this.clonesPending.set(tid, { tgid, gen: this.genOf(tgid), flags: flags ?? 0n });
  }

  onCloneResult(tid: number, errno: number, asClone: boolean): void {
    const c = this.clonesPending.get(tid);
    if (!c) return;
    this.clonesPending.delete(tid);
    const cls = packClass(NR_CLONE3, () => 0, (_, offset) => Number((c.flags >> BigInt(8 * offset)) & 0xffffffffn))!;
    this.addRow(c.tgid, c.gen, NR_CLONE3, errno, cls);
    if (!asClone) return;
    this.printer?.cloneWasClone3(tid);
    const key = `${c.tgid}/${c.gen}/${errno}/${cls}`;
    const m = this.asClone.get(key);
    if (m) m.calls++;
    else if (this.asClone.size < MAX_ROWS) this.asClone.set(key, { tgid: c.tgid, gen: c.gen, errno, flags: c.flags, cls, calls: 1 });
    else this.lost = true;
  }

  onFork(parentTid: number, childTid: number, pid: number, isThread: boolean): void {
    this.onCloneResult(parentTid, 0, true);
    if (isThread) return;
    const parent = this.processOf(parentTid);
    if (this.processes.size >= MAX_PROCESSES && !this.processes.has(childTid)) {
      this.lost = true;
      return;
    }
    this.processes.set(childTid, { tgid: childTid, pid, parent: parent?.tgid ?? null, exes: [parent ? parent.exes[parent.exes.length - 1]! : '?'] });
  }

  private genOf(tgid: number): number {
    const p = this.processes.get(tgid);
    return p ? p.exes.length - 1 : 0;
  }

  onExecCall(tid: number, tgid: number, name: string, path: string | null): void {
    // The records so far first: this thread's earlier calls are all in the buffer.
    this.drain();
    this.printer?.execCall(tid, name, path, this.processes.get(tgid)?.pid ?? 0);
    this.execsPending.set(tid, { name, tgid, gen: this.genOf(tgid) });
  }

  onExecResult(tid: number, errno: number): void {
    if (errno) {
      this.drain();
      this.printer?.execFailed(tid, errno);
    }
    const e = this.execsPending.get(tid);
    if (!e) return;
    this.execsPending.delete(tid);
    this.addRow(e.tgid, e.gen, e.name === 'execve' ? NR_EXECVE : NR_EXECVEAT, errno, null);
  }

  private addRow(tgid: number, gen: number, nr: number, errno: number, cls: bigint | null): void {
    const key = eventKey(tgid, gen, nr, errno, cls);
    const row = this.eventRows.get(key);
    if (row) row.calls++;
    else if (this.eventRows.size < MAX_ROWS) this.eventRows.set(key, { tgid, gen, nr, errno, cls, calls: 1, ns: 0, timed: 0 });
    else this.lost = true;
  }

  onExec(tid: number, formerTid: number, exePath: string): void {
    this.printer?.execMoved(formerTid, tid);
    this.onExecResult(formerTid, 0);
    const p = this.processes.get(tid);
    if (p && p.exes.length < MAX_EXECS) p.exes.push(exePath);
    else if (p) this.lost = true;
  }

  classOf(nr: number, args: { u32(index: number): number; long(index: number): number }, read: (addr: number, len: number) => Buffer): bigint | null {
    const mem = (index: number, offset: number) => {
      try {
        return read(args.long(index) + offset, 4).readUInt32LE(0);
      } catch {
        return 0; // as the eBPF program's read of a struct it cannot read
      }
    };
    return packClass(nr, (i) => args.u32(i), mem);
  }

  onEmulated(tgid: number, nr: number, ns: number, cls: bigint | null): void {
    const gen = this.genOf(tgid);
    const key = `${tgid}/${gen}/${nr}/${cls}`;
    const row = this.sentryTime.get(key);
    if (row) {
      row.ns += ns;
      row.timed++;
    } else if (this.sentryTime.size < MAX_ROWS) {
      this.sentryTime.set(key, { tgid, gen, nr, errno: 0, cls, calls: 0, ns, timed: 1 });
    } else {
      this.lost = true;
    }
  }

  private processOf(tid: number): ProcessInfo | undefined {
    const p = this.processes.get(tid);
    if (p) return p;
    try {
      const tgid = Number(/\nTgid:\s*(\d+)/.exec(fs.readFileSync(`/proc/${tid}/status`, 'latin1'))?.[1]);
      return this.processes.get(tgid);
    } catch {
      return undefined;
    }
  }

  /**
   * Every call counted, once the guest is gone; detaches and frees the maps.
   * The kernel's rows for execs and for clone3 calls run as clone carry
   * the time of calls the Sentry's events count: it moves to those rows.
   */
  finish(): { rows: CallCount[]; full: boolean; strace?: { lost: number } } {
    const rows: CallCount[] = [];
    let strace: { lost: number } | undefined;
    if (this.records) {
      if (this.drainTimer) clearInterval(this.drainTimer);
      this.drain();
      native.bpfRingbufUnmap(this.records.ring);
      const lost = native.bpfMapEntries(this.records.lost, 4, 8);
      strace = { lost: typeof lost === 'number' || lost.length < 12 ? 0 : Number(lost.readBigUInt64LE(4)) };
      this.records = null;
    }
    let n = 0;
    const execTime = new Map<string, { ns: number; timed: number }>();
    if (this.counts >= 0) {
      const buf = native.bpfMapEntries(this.counts, COUNTS_KEY_SIZE, COUNTS_VALUE_SIZE);
      if (typeof buf === 'number') throw new CoverageError(`cannot read the coverage counts (errno ${-buf})`);
      const step = COUNTS_KEY_SIZE + COUNTS_VALUE_SIZE;
      for (let off = 0; off + step <= buf.length; off += step, n++) {
        const cls = buf.readBigUInt64LE(off + 16);
        const row: CallCount = {
          tgid: buf.readUInt32LE(off), gen: buf.readUInt32LE(off + 4), nr: buf.readInt32LE(off + 8), errno: buf.readUInt32LE(off + 12),
          cls: cls & HAS_CLASS ? cls & ~HAS_CLASS : null,
          calls: Number(buf.readBigUInt64LE(off + 24)), ns: Number(buf.readBigUInt64LE(off + 32)), timed: Number(buf.readBigUInt64LE(off + 40)),
        };
        if (row.nr === NR_EXECVE || row.nr === NR_EXECVEAT) {
          const key = `${row.tgid}/${row.gen}/${row.errno}`;
          const t = execTime.get(key) ?? { ns: 0, timed: 0 };
          execTime.set(key, { ns: t.ns + row.ns, timed: t.timed + row.timed });
          continue;
        }
        rows.push(row);
      }
    }
    // Closing an attached program's perf event waits for an RCU grace period
    // (~90 ms each here): on the thread pool, side by side, while the caller
    // goes on to its report.
    for (const fd of this.fds.splice(0).reverse()) fs.close(fd, () => {});
    // clone3 calls the kernel ran as clone: out of clone's rows (with their share of the time), into
    // clone3's (whose class is the clone3's own flags, from the Sentry). The kernel counted each as the
    // clone the Sentry rewrote it into: clone3's low flags without CLONE_UNTRACED (clone3.ts).
    for (const m of this.asClone.values()) {
      const cloneCls = packClass(NR_CLONE, () => Number(m.flags & 0xffffffffn) & ~CLONE_UNTRACED, () => 0);
      const row = rows.find((r) => r.nr === NR_CLONE && r.tgid === m.tgid && r.gen === m.gen && r.errno === m.errno && r.cls === cloneCls);
      const k = Math.min(m.calls, row?.calls ?? 0);
      if (!row || !k) continue;
      const share = { ns: Math.round((row.ns * k) / row.calls), timed: Math.round((row.timed * k) / row.calls) };
      row.calls -= k;
      row.ns -= share.ns;
      row.timed -= share.timed;
      const to = this.eventRows.get(eventKey(m.tgid, m.gen, NR_CLONE3, m.errno, m.cls));
      if (to) {
        to.ns += share.ns;
        to.timed += share.timed;
      }
    }
    // Execs: the kernel's time by process, generation and result, shared among the events' rows (execve, execveat) alike.
    for (const [key, t] of execTime) {
      const [tgid, gen, errno] = key.split('/').map(Number) as [number, number, number];
      const to = [NR_EXECVE, NR_EXECVEAT].map((nr) => this.eventRows.get(eventKey(tgid, gen, nr, errno, null))).filter((r) => r !== undefined);
      const calls = to.reduce((s, r) => s + r.calls, 0);
      for (const r of to) {
        r.ns += Math.round((t.ns * r.calls) / calls);
        r.timed += Math.min(r.calls, Math.round((t.timed * r.calls) / calls));
      }
    }
    return { rows: rows.filter((r) => r.calls > 0).concat([...this.eventRows.values()], [...this.sentryTime.values()]), full: this.lost || n >= MAX_ROWS, ...(strace ? { strace } : {}) };
  }
}
