// What a `tsvisor test` run observed, as the Sentry reports it (AccessEvents,
// src/sentry/spec.ts): every path call, network attempt, denial, process
// and test marker, folded as they come into bounded tables. The recorder
// lives in the Sentry's process, so nothing here grows with what the guest
// does beyond RECORD_LIMITS; what does not fit is counted in `dropped`.
import type { AccessEvents, Denial, Exit, FileAccess, FileOp, NetworkAttempt, TestMarker } from '../sentry/spec.js';

/** How much one run keeps (the rest is counted, not kept). */
export const RECORD_LIMITS = {
  /** distinct paths */
  paths: 50_000,
  /** tests named for one path */
  testsPerPath: 20,
  network: 5_000,
  denials: 5_000,
  processes: 10_000,
  /** distinct test names */
  tests: 20_000,
};

/** One path: how often each operation succeeded, how often any failed, and which tests touched it. */
export interface PathRecord {
  ops: Partial<Record<FileOp, number>>;
  failed: number;
  /** the errno of the last failure */
  lastErrno: number;
  /** rename's and link's last second path */
  to?: string;
  tests: Set<string>;
}

export interface NetworkRecord extends NetworkAttempt {
  test: string | null;
  time: number;
}

export interface DenialRecord extends Denial {
  test: string | null;
  time: number;
}

export interface ProcessRecord {
  pid: number;
  ppid: number;
  start: number;
  exe: string | null;
  argv: string[] | null;
  exit: Exit | null;
  end: number | null;
  peakRss: number | null;
  /** the test active for it (or its nearest ancestor) when it started */
  test: string | null;
  /** still running when the command ended (a leaked daemon, which the sandbox's end killed) */
  leaked: boolean;
  /** tsvisor's own init (pid 1), which runs none of the user's programs */
  tsvisorInit: boolean;
}

export interface TestRecord {
  name: string;
  pid: number;
  begin: number;
  end: number | null;
  result: string | null;
  reads: number;
  writes: number;
  network: number;
  denials: number;
  processes: number;
}

export class Recorder implements AccessEvents {
  readonly paths = new Map<string, PathRecord>();
  readonly network: NetworkRecord[] = [];
  readonly denials: DenialRecord[] = [];
  readonly processes: ProcessRecord[] = [];
  readonly tests = new Map<string, TestRecord>();
  readonly dropped = { paths: 0, network: 0, denials: 0, processes: 0, tests: 0 };
  /** live processes by sandbox pid (a pid's latest process) */
  private readonly live = new Map<number, ProcessRecord>();
  /** the test a live process's marker opened */
  private readonly active = new Map<number, string>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * The test an event of `pid` belongs to: the one whose marker is active
   * for the process or its nearest live ancestor with one.
   */
  testOf(pid: number): string | null {
    if (this.active.size === 0) return null;
    // Distinct pids on the way are the live ones and one more at most: a longer walk is a cycle (pid reuse) and finds nothing new.
    let steps = this.live.size + 1;
    for (let p: number | undefined = pid; p !== undefined && p > 0 && steps-- > 0; p = this.live.get(p)?.ppid) {
      const t = this.active.get(p);
      if (t !== undefined) return t;
    }
    return null;
  }

  private count(test: string | null, field: 'reads' | 'writes' | 'network' | 'denials' | 'processes'): void {
    const t = test === null ? undefined : this.tests.get(test);
    if (t) t[field]++;
  }

  onProcessStart(pid: number, ppid: number, time: number, tsvisorInit = false): void {
    // Until it executes a program of its own, a forked process runs its parent's (as its /proc/PID/cmdline says).
    const parent = this.live.get(ppid);
    const rec: ProcessRecord = { pid, ppid, start: time, exe: parent?.exe ?? null, argv: parent?.argv ?? null, exit: null, end: null, peakRss: null, test: null, leaked: false, tsvisorInit };
    this.live.set(pid, rec);
    rec.test = this.testOf(pid);
    this.count(rec.test, 'processes');
    if (this.processes.length < RECORD_LIMITS.processes) this.processes.push(rec);
    else this.dropped.processes++;
  }

  onProcessExec(pid: number, exe: string, argv: string[] | null): void {
    const rec = this.live.get(pid);
    if (!rec) return;
    rec.exe = exe;
    rec.argv = argv;
  }

  onProcessExit(pid: number, exit: Exit, peakRss: number | null, time: number): void {
    const rec = this.live.get(pid);
    if (!rec) return;
    rec.exit = exit;
    rec.end = time;
    rec.peakRss = peakRss;
    this.live.delete(pid);
    this.active.delete(pid);
  }

  onFileAccess(a: FileAccess): void {
    const test = this.testOf(a.pid);
    if (a.errno === 0) this.count(test, WRITE_OPS.has(a.op) ? 'writes' : 'reads');
    let rec = this.paths.get(a.path);
    if (!rec) {
      if (this.paths.size >= RECORD_LIMITS.paths) {
        this.dropped.paths++;
        return;
      }
      rec = { ops: {}, failed: 0, lastErrno: 0, tests: new Set() };
      this.paths.set(a.path, rec);
    }
    if (a.errno === 0) rec.ops[a.op] = (rec.ops[a.op] ?? 0) + 1;
    else {
      rec.failed++;
      rec.lastErrno = a.errno;
    }
    if (a.to !== undefined && a.errno === 0) rec.to = a.to;
    if (test !== null && rec.tests.size < RECORD_LIMITS.testsPerPath) rec.tests.add(test);
  }

  onNetwork(a: NetworkAttempt): void {
    const test = this.testOf(a.pid);
    this.count(test, 'network');
    if (this.network.length < RECORD_LIMITS.network) this.network.push({ ...a, test, time: this.now() });
    else this.dropped.network++;
  }

  onDenied(d: Denial): void {
    const test = this.testOf(d.pid);
    this.count(test, 'denials');
    if (this.denials.length < RECORD_LIMITS.denials) this.denials.push({ ...d, test, time: this.now() });
    else this.dropped.denials++;
  }

  onTestMarker(m: TestMarker): void {
    const time = this.now();
    if (m.event === 'begin') {
      // A marker of a process the Sentry does not know (never, from a live guest) opens nothing.
      if (!this.live.has(m.pid)) return;
      this.active.set(m.pid, m.test);
      const t = this.tests.get(m.test);
      if (t) {
        // The same name again (a retry, a repeated test): one record, the latest run's times.
        t.pid = m.pid;
        t.begin = time;
        t.end = null;
        t.result = null;
      } else if (this.tests.size < RECORD_LIMITS.tests) {
        this.tests.set(m.test, { name: m.test, pid: m.pid, begin: time, end: null, result: null, reads: 0, writes: 0, network: 0, denials: 0, processes: 0 });
      } else this.dropped.tests++;
      return;
    }
    if (this.active.get(m.pid) === m.test) this.active.delete(m.pid);
    const t = this.tests.get(m.test);
    if (t) {
      t.end = time;
      t.result = m.result ?? null;
    }
  }

  onCommandExit(leftRunning: number[]): void {
    for (const pid of leftRunning) {
      const rec = this.live.get(pid);
      if (rec) rec.leaked = true;
    }
  }
}

/** The operations that change a file system. */
export const WRITE_OPS: ReadonlySet<FileOp> = new Set<FileOp>(['write', 'create', 'delete', 'rename', 'attr']);
