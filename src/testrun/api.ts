// runSandboxed(), tsvisor's programmatic API (docs/testrun.md, "The API"):
// runs `tsvisor test` on the options in a process of its own and resolves
// to its status and report. A process of its own, because a Sentry owns
// its process (it reaps every child, traces the guest, catches terminating
// signals), so the caller's process keeps none of that and may run any
// number of suites; the suite's output goes to the caller's stdout and stderr.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../paths.js';
import { type FailOnKind, FailOnError, parseFailOn } from './fail-on.js';
import type { TestRunReport } from './report.js';
import { type RunOptions, type RunResult, TestRunError } from './run.js';

/** The command line of `tsvisor test` for `o`, with its report written to `dir`. */
export function testArgs(o: RunOptions, dir: string): string[] {
  const args = ['--log', path.join(dir, 'log'), '--log-format', 'json', 'test', '--quiet', '--report', dir];
  const each = (flag: string, values: readonly string[] | undefined) => (values ?? []).forEach((v) => args.push(`--${flag}`, v));
  if (o.network !== undefined) args.push('--network', o.network);
  each('hide', o.hide);
  each('show', o.show);
  each('allow-write', o.allowWrite);
  if (o.tmp !== undefined) args.push('--tmp', o.tmp);
  each('env', Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`));
  if (o.timeoutMs !== undefined) args.push('--timeout', `${o.timeoutMs}ms`);
  if (o.memory !== undefined) args.push('--memory', o.memory);
  if (o.pids !== undefined) args.push('--pids', o.pids);
  if (o.overlaySize !== undefined) args.push('--overlay-size', o.overlaySize);
  if (o.failOn?.length) args.push('--fail-on', o.failOn.join(','));
  if (o.syscalls !== undefined) args.push(o.syscalls ? '--syscalls' : '--no-syscalls');
  if (o.exportWrites !== undefined) args.push('--export-writes', path.resolve(o.cwd ?? process.cwd(), o.exportWrites));
  return [...args, '--', ...o.command];
}

/** The last error tsvisor logged (its message for the user), if any. */
function lastError(log: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(log, 'utf8');
  } catch {
    return undefined;
  }
  let msg: string | undefined;
  for (const line of text.split('\n')) {
    try {
      const rec = JSON.parse(line) as { level?: string | number; msg?: string };
      if ((rec.level === 'error' || rec.level === 50 || rec.level === 60) && rec.msg) msg = rec.msg;
    } catch {
      /* not a JSON line */
    }
  }
  return msg;
}

/**
 * Runs `options.command` sandboxed as `tsvisor test` does and resolves to
 * its status (the suite's, 124 on timeout, 120 for --fail-on) and report.
 * Rejects with a TestRunError for options tsvisor refuses and when the
 * sandbox could not run (the message says why).
 */
export async function runSandboxed(options: RunOptions): Promise<RunResult> {
  if (!Array.isArray(options.command) || options.command.length === 0) throw new TestRunError('a command is needed');
  let kinds: FailOnKind[];
  try {
    kinds = parseFailOn(options.failOn ?? []);
  } catch (e) {
    if (e instanceof FailOnError) throw new TestRunError(e.message);
    throw e;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-test-'));
  try {
    // The child's environment is the guest's: a variable that would change what tsvisor itself does is handed to the guest alone.
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (env.GITHUB_ACTIONS !== undefined) {
      env.TSVISOR_GUEST_GITHUB_ACTIONS = env.GITHUB_ACTIONS;
      delete env.GITHUB_ACTIONS;
    }
    const child = spawn(path.join(PROJECT_ROOT, 'bin/tsvisor'), testArgs({ ...options, failOn: kinds }, dir), { cwd: options.cwd ?? process.cwd(), env, stdio: 'inherit' });
    const status = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
    });
    let json = '';
    try {
      json = fs.readFileSync(path.join(dir, 'report.json'), 'utf8');
    } catch {
      /* not made: the command line was refused */
    }
    // report.json is opened before the run and written after it: empty, the run never ended.
    if (!json) throw new TestRunError(lastError(path.join(dir, 'log')) ?? `tsvisor test ended with status ${status} without a report`);
    return { status, report: JSON.parse(json) as TestRunReport };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
