// Helpers for the robustness suites (signals, fuzz, lifecycle): compiling the
// C programs of test/programs/, running `tsvisor do` asynchronously (so a test
// can signal it or its Gofer while it runs), and inspecting host processes.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, TSVISOR } from './harness.js';
import { GOFER_ENTRY } from '../../src/paths.js';

export const PROGRAMS = path.join(REPO, 'test/programs');
export const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: '/root', LANG: 'C', LC_ALL: 'C' };

/**
 * A fresh directory on the host root file system, outside /tmp (the sandbox
 * sees the host root, so a binary here is visible inside it). World-readable
 * so every sandbox user may execute what is in it.
 */
export function hostScratch(prefix: string): string {
  const d = fs.mkdtempSync(path.join('/var/tmp', `tsvisor-${prefix}-`));
  fs.chmodSync(d, 0o755);
  return d;
}

/** `gcc -O2 -static test/programs/NAME.c -o DIR/NAME [LIBS]`; returns the binary's path. */
export function compile(name: string, dir: string, libs: string[] = []): string {
  const out = path.join(dir, name);
  execFileSync('gcc', ['-O2', '-static', '-Wall', '-o', out, path.join(PROGRAMS, `${name}.c`), ...libs], { stdio: 'pipe' });
  return out;
}

export interface Finished {
  stdout: string;
  stderr: string;
  status: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
}

/** A process started asynchronously, with its output collected as it comes. */
export class Running {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  /** Settles when the process exited and its stdout and stderr were closed. */
  readonly done: Promise<Finished>;
  /** Settles when the process exited (its pipes may still be open in processes it left behind). */
  readonly exit: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
  readonly started = Date.now();
  /** stdout and stderr closed after the exit */
  exited = false;
  /** the process exited (it can no longer be signalled: its pid may be reused) */
  gone = false;
  private waiters: (() => void)[] = [];

  constructor(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd ?? '/',
      env: opts.env ?? ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('latin1');
    this.child.stderr!.setEncoding('latin1');
    this.child.stdout!.on('data', (s: string) => {
      this.stdout += s;
      this.wake();
    });
    this.child.stderr!.on('data', (s: string) => {
      this.stderr += s;
      this.wake();
    });
    this.exit = new Promise((resolve) => {
      this.child.on('exit', (status, signal) => {
        this.gone = true;
        resolve({ status, signal });
      });
    });
    this.done = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('close', (status, signal) => {
        this.exited = true;
        this.wake();
        resolve({ stdout: this.stdout, stderr: this.stderr, status, signal, ms: Date.now() - this.started });
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves once stdout or stderr matches `re`; rejects after `ms` or if the process exits first. */
  async waitFor(re: RegExp, ms = 15000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (re.test(this.stdout) || re.test(this.stderr)) return;
      if (this.exited) {
        throw new Error(`exited before ${re}: stdout=${JSON.stringify(this.stdout)} stderr=${JSON.stringify(this.stderr)}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${re}: stdout=${JSON.stringify(this.stdout)} stderr=${JSON.stringify(this.stderr)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The exit, or a SIGKILL (and a rejection) after `ms`. */
  async finish(ms = 30000): Promise<Finished> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.kill('SIGKILL');
        reject(new Error(`still running after ${ms} ms: stdout=${JSON.stringify(this.stdout.slice(-2000))} stderr=${JSON.stringify(this.stderr.slice(-2000))}`));
      }, ms);
    });
    try {
      return await Promise.race([this.done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(sig: NodeJS.Signals): void {
    if (!this.gone) {
      try {
        process.kill(this.pid, sig);
      } catch {
        /* gone */
      }
    }
  }
}

/** `tsvisor do [doFlags] -- argv`, started asynchronously. */
export function startSandbox(argv: string[], doFlags: string[] = []): Running {
  const flags = [...doFlags];
  if (!flags.some((f) => f.startsWith('--cwd'))) flags.push('--cwd', '/');
  return new Running([TSVISOR, 'do', ...flags, '--', ...argv]);
}

/**
 * Sends `sig` to the process in bursts of kill(2), one burst per timer tick
 * (about a millisecond), until stop() is called or the process exited.
 * stop() resolves to how many signals were sent. Paced rather than as fast as
 * the loop allows: an unpaced storm interrupts nearly every trapped call, so
 * the guest's progress then depends on the machine's load, not on tsvisor.
 */
export function signalStorm(run: Running, sig: NodeJS.Signals, burst = 20): { stop: () => Promise<number> } {
  let sent = 0;
  let running = true;
  let finished: (n: number) => void;
  const end = new Promise<number>((resolve) => (finished = resolve));
  const tick = () => {
    if (!running || run.gone) return finished(sent);
    try {
      for (let i = 0; i < burst; i++) {
        process.kill(run.pid, sig);
        sent++;
      }
    } catch {
      return finished(sent);
    }
    setTimeout(tick, 1);
  };
  setTimeout(tick, 1);
  return {
    stop: () => {
      running = false;
      return end;
    },
  };
}

export interface ProcInfo {
  pid: number;
  ppid: number;
  state: string;
  /** start time in clock ticks since boot: with the pid, identifies the process */
  start: string;
  cmdline: string;
}

/** /proc/PID/stat and cmdline, or undefined if there is no such process. */
export function procInfo(pid: number): ProcInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    let cmdline = '';
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').trim();
    } catch {
      /* exited meanwhile */
    }
    return { pid, ppid: Number(f[1]), state: f[0]!, start: f[19]!, cmdline };
  } catch {
    return undefined;
  }
}

/** Every process on the host. */
export function allProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const n of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    const p = procInfo(Number(n));
    if (p) out.push(p);
  }
  return out;
}

/** The descendants of `pid` (children, their children, ...). */
export function descendants(pid: number): ProcInfo[] {
  const procs = allProcs();
  const out: ProcInfo[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    for (const q of procs) {
      if (q.ppid === p) {
        out.push(q);
        todo.push(q.pid);
      }
    }
  }
  return out;
}

/** The Gofer process of the sandbox whose tsvisor (Sentry) process is `pid`. */
export function goferOf(pid: number): ProcInfo | undefined {
  return descendants(pid).find((p) => p.cmdline.includes(GOFER_ENTRY));
}

/** Whether this exact process (pid and start time) still exists and is not a zombie. */
export function alive(p: ProcInfo): boolean {
  const now = procInfo(p.pid);
  return now !== undefined && now.start === p.start && now.state !== 'Z' && now.state !== 'X';
}

/** Polls until none of `procs` is alive or `ms` passed; returns the survivors. */
export async function waitGone(procs: ProcInfo[], ms: number): Promise<ProcInfo[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = procs.filter(alive);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** 128 + signal number for a process killed by a signal, else its exit status: what a shell reports. */
export function shellStatus(r: { status: number | null; signal: NodeJS.Signals | null }): number | null {
  if (r.signal) return 128 + os.constants.signals[r.signal];
  return r.status;
}

/** Polls until `f` returns something, or throws after `ms`. */
export async function poll<T>(what: string, ms: number, f: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
