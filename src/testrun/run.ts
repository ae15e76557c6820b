// runTest(): run a test suite under `tsvisor test`'s defaults in this
// process and return its status with the report (docs/testrun.md). The CLI
// command (src/cli/commands/test.ts) runs it; the API's runSandboxed
// (api.ts) runs that command. Errors are exceptions: a TestRunError for what
// the caller asked wrongly, RuntimeError (status 125) for a sandbox that
// could not run.
import fs from 'node:fs';
import path from 'node:path';
import type { FlagValues } from '../cli/flags.js';
import type { SandboxEnd } from '../cli/commands/do.js';
import type { Report as CoverageReport } from '../coverage/schema.js';
import type { MountSpec } from '../sentry/spec.js';
import { DEFAULT_LIMITS, parseSize } from '../sentry/limits.js';
import { type FailOnKind, applyFailOn, parseFailOn } from './fail-on.js';
import { Recorder } from './recorder.js';
import type { Kernel } from '../sentry/kernel.js';
import { type ExportReport, type NetworkMode, type OverlayChange, type SandboxSettings, type TestRunReport, buildReport, within } from './report.js';
import { collectWrites, exportFormat } from './writes.js';
import { defaultHidden } from './secrets.js';

/** The sandbox path of the per-test marker channel, and the variable that names it to the guest (docs/testrun.md). */
export const TEST_CHANNEL_PATH = '/dev/tsvisor-test';
export const TEST_CHANNEL_ENV = 'TSVISOR_TEST_CHANNEL';

/** The wall-time limit unless one is given: an hour. */
export const DEFAULT_TIMEOUT_MS = 60 * 60 * 1000;

/** The status of a suite stopped by its timeout, as timeout(1)'s. */
export const TIMEOUT_STATUS = 124;

export interface RunOptions {
  /** the command and its arguments */
  command: string[];
  /** the working directory (default: the process's); visible, its writes kept in memory */
  cwd?: string;
  /** variables added to the caller's environment */
  env?: Record<string, string>;
  /** loopback (default): a network of the sandbox's own with only loopback; none: no interface; host: the host's */
  network?: NetworkMode;
  /** more paths to hide (absolute, or relative to cwd) */
  hide?: string[];
  /** default hidden paths to show (docs/testrun.md, "Hidden by default") */
  show?: string[];
  /** host paths written through (read-write bind mounts) */
  allowWrite?: string[];
  /** private (default): an empty tmpfs; host: the host's /tmp seen through the overlay, writes in memory (the default when cwd or an allowWrite path lies in /tmp) */
  tmp?: 'private' | 'host';
  /** wall time in ms (default an hour; 0: none); past it the suite is killed and the status is 124 */
  timeoutMs?: number;
  /** as tsvisor do's flags: sizes such as "2g", counts */
  memory?: string;
  pids?: string;
  overlaySize?: string;
  /** kinds that turn a passing run into status 120 (fail-on.ts) */
  failOn?: string[];
  /** the syscall summary from the coverage layer (default: when it can run: root, eBPF) */
  syscalls?: boolean;
  /** write the overlay's changes below cwd to this file: a patch (.patch, .diff) or a tar (.tar) */
  exportWrites?: string;
}

export interface RunResult {
  status: number;
  report: TestRunReport;
}

/** A mistake in what was asked (a flag's value, a path): the message is for the user. */
export class TestRunError extends Error {}

/** "90", "90s", "1.5m", "2h", "1d" (as timeout(1)) in ms; null if it is none of them. */
export function parseDuration(s: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m) return null;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
}

/** The hidden paths: the defaults less --show, plus --hide; each with whether it exists on the host. */
export function hiddenPaths(cwd: string, hide: readonly string[], show: readonly string[]): SandboxSettings['hidden'] {
  let defaults = defaultHidden();
  for (const raw of show) {
    const p = path.resolve(cwd, raw);
    const inside = defaults.find((d) => within(p, d) && p !== d);
    if (inside) throw new TestRunError(`--show ${raw}: it is inside ${inside}, which is hidden as a whole: --show ${inside}, then --hide what should stay hidden`);
    const kept = defaults.filter((d) => !within(d, p));
    if (kept.length === defaults.length) throw new TestRunError(`--show ${raw}: not hidden by default (the list: tsvisor test --help, docs/testrun.md)`);
    defaults = kept;
  }
  const out = new Map<string, SandboxSettings['hidden'][number]>();
  const present = (p: string) => {
    try {
      fs.lstatSync(p);
      return true;
    } catch {
      return false;
    }
  };
  for (const d of defaults) out.set(d, { path: d, default: true, present: present(d) });
  for (const raw of hide) {
    const p = path.resolve(cwd, raw);
    if (p === '/') throw new TestRunError('--hide /: the whole root cannot be hidden');
    out.set(p, { path: p, default: false, present: present(p) });
  }
  return [...out.values()];
}

function writablePaths(cwd: string, allow: readonly string[]): string[] {
  return allow.map((raw) => {
    try {
      return fs.realpathSync(path.resolve(cwd, raw));
    } catch {
      throw new TestRunError(`--allow-write ${raw}: no such file or directory on the host (make it first)`);
    }
  });
}


/**
 * Runs `options.command` as `tsvisor test` does, in this process, and
 * resolves to its status and report; `globals`: the CLI's global flags
 * (logging, strace). One sandbox per process: the Sentry's child waiter and
 * signal handling are the process's.
 */
export async function runTest(options: RunOptions, globals: FlagValues): Promise<RunResult> {
  if (!Array.isArray(options.command) || options.command.length === 0) throw new TestRunError('a command is needed');
  const cwd = path.resolve(options.cwd ?? process.cwd());
  if (!fs.existsSync(cwd)) throw new TestRunError(`${cwd}: no such directory`);
  let failOn: FailOnKind[];
  try {
    failOn = parseFailOn(options.failOn ?? []);
  } catch (e) {
    throw new TestRunError((e as Error).message);
  }
  if (options.exportWrites !== undefined && !exportFormat(options.exportWrites)) throw new TestRunError(`--export-writes ${options.exportWrites}: expected a name ending in .patch, .diff or .tar`);
  const network = options.network ?? 'loopback';
  if (!['none', 'loopback', 'host'].includes(network)) throw new TestRunError(`network "${network}": expected none, loopback or host`);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new TestRunError(`timeout ${timeoutMs}: expected a number of ms, 0 for none`);
  const allowWrite = writablePaths(cwd, options.allowWrite ?? []);
  const hidden = hiddenPaths(cwd, options.hide ?? [], options.show ?? []);
  if (options.tmp !== undefined && !['private', 'host'].includes(options.tmp)) throw new TestRunError(`tmp "${options.tmp}": expected private or host`);
  // A private /tmp would hide a project (or a written-through path) that lies in the host's /tmp.
  const inTmp = [cwd, ...allowWrite].find((p) => within(p, '/tmp'));
  if (inTmp !== undefined && options.tmp === 'private') throw new TestRunError(`--tmp private: ${inTmp} lies in /tmp, which a private /tmp would hide`);
  const tmp = inTmp !== undefined || options.tmp === 'host' ? 'overlay' : 'tmpfs';
  const overlaySize = options.overlaySize === undefined ? DEFAULT_LIMITS.overlaySize : parseSize(options.overlaySize);
  if (!overlaySize) throw new TestRunError(`overlay size ${options.overlaySize}: expected a size such as 512m or 2g`);
  const mounts: MountSpec[] = [
    ...(tmp === 'tmpfs' ? [{ destination: '/tmp', type: 'tmpfs' as const, mode: 0o1777, size: overlaySize }] : []),
    ...allowWrite.map((p): MountSpec => ({ destination: p, type: 'bind', source: p })),
  ];
  const flags: FlagValues = {
    cwd,
    network: network === 'host' ? 'host' : 'none',
    env: [...Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`), `${TEST_CHANNEL_ENV}=${TEST_CHANNEL_PATH}`],
    ...(options.memory !== undefined ? { memory: options.memory } : {}),
    ...(options.pids !== undefined ? { pids: options.pids } : {}),
    'overlay-size': String(overlaySize),
  };
  const size = (v: string | undefined, d: number) => (v === undefined ? d : parseSize(v) ?? NaN);
  const sandbox: SandboxSettings = {
    network,
    tmp,
    allowWrite,
    hidden,
    limits: { memory: size(options.memory, DEFAULT_LIMITS.memory), pids: options.pids === undefined ? DEFAULT_LIMITS.pids : Number(options.pids), overlaySize, timeoutMs },
    rootless: process.getuid?.() !== 0,
  };

  const [{ runInSandbox }, { version }] = await Promise.all([import('../cli/commands/do.js'), import('../cli/main.js')]);
  const collector = options.syscalls === false ? { why: 'turned off (--no-syscalls)' } : await startCollector();
  const recorder = new Recorder();
  const stop = new AbortController();
  let timedOut = false;
  const timer = timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        stop.abort();
      }, timeoutMs)
    : undefined;
  let end: SandboxEnd | undefined;
  // The overlay's changes (and their export) are read once the guest is
  // gone, while the Gofer behind the overlay's lower layer is still up.
  let changes: OverlayChange[] | null = null;
  let exported: ExportReport | undefined;
  const afterRun = (kernel: Kernel) => {
    const writes = collectWrites(kernel);
    changes = writes?.changes ?? null;
    if (writes && options.exportWrites !== undefined) exported = { file: options.exportWrites, ...writes.export(options.exportWrites, cwd) };
  };
  const startedAt = Date.now();
  let status: number;
  try {
    status = await runInSandbox(globals, flags, options.command, 'collector' in collector ? collector.collector : undefined, {
      access: recorder,
      hidden: hidden.map((h) => h.path),
      testChannel: TEST_CHANNEL_PATH,
      mounts,
      stop: stop.signal,
      afterRun,
      ...(network === 'none' ? { loopback: false } : {}),
      onEnd(e) {
        end = e;
      },
    });
  } finally {
    clearTimeout(timer);
  }
  const endedAt = Date.now();
  let coverage: CoverageReport | null = null;
  if ('collector' in collector) {
    const { rows, full } = collector.collector.finish();
    coverage = (await import('../coverage/report.js')).buildReport(options.command, status, rows, collector.collector.processes, full, await version());
  }
  const exit = end?.exit ?? { status };
  const report = buildReport(recorder, {
    version: await version(),
    command: options.command,
    cwd,
    startedAt,
    endedAt,
    exit,
    status: timedOut ? TIMEOUT_STATUS : status,
    timedOut,
    sandbox,
    peakMemory: end?.peakMemory ?? null,
    changes,
    ...(exported ? { exported } : {}),
    coverage,
    ...('why' in collector ? { coverageWhy: collector.why } : {}),
    failOn,
  });
  return { status: applyFailOn(report, failOn), report };
}

type StartedCollector = { collector: import('../coverage/collector.js').Collector } | { why: string };

/** The coverage layer's collector, or why it cannot run here (it needs root for eBPF). */
async function startCollector(): Promise<StartedCollector> {
  if (process.getuid?.() !== 0) return { why: 'absent: the syscall summary needs root (the coverage layer uses eBPF); this run was rootless' };
  const { Collector, CoverageError } = await import('../coverage/collector.js');
  try {
    return { collector: new Collector() };
  } catch (e) {
    if (e instanceof CoverageError) return { why: `absent: ${e.message}` };
    throw e;
  }
}
