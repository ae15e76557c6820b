// tsvisor coverage (issue 10, "count everything"): for deterministic programs
// the per-syscall counts and error counts equal `strace -f -c`'s for the same
// program run natively, and the split per process and per executable follows
// fork and execve. What the comparison leaves out, and why:
//   - one execve: the first one, which starts the command, is the launcher's
//     in the sandbox (tsvisor's own set-up is not reported) and strace's
//     child's natively (counted);
//   - exit and exit_group: they never return, and strace -c counts a call
//     when it returns; coverage counts them at entry;
//   - futex, for the threaded program only: whether pthread_join waits
//     depends on timing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TSVISOR, rmrf } from './harness.js';
import { ENV, compile, hostScratch } from './robust-helpers.js';
import { type Report, validateReport } from '../../src/coverage/schema.js';

const RUN_ENV = { ...ENV, PWD: '/' };
/** The same in both runs (programs ask what their stdio is: ls, isatty): stdin and stdout /dev/null, stderr a pipe. */
const STDIO: ('ignore' | 'pipe')[] = ['ignore', 'ignore', 'pipe'];
let dir: string;
let program: string;
beforeAll(() => {
  dir = hostScratch('coverage');
  program = compile('coverage', dir);
});
afterAll(() => {
  if (dir) rmrf(dir);
});

type Counts = Map<string, { calls: number; errors: number }>;

/** `strace -f -c` of a native run: calls and errors by syscall name. */
function straceCounts(argv: string[]): { counts: Counts; status: number | null } {
  const out = path.join(dir, `strace-${Date.now()}.txt`);
  const r = spawnSync('strace', ['-f', '-c', '-o', out, ...argv], { env: RUN_ENV, cwd: '/', stdio: STDIO, encoding: 'latin1', timeout: 60000 });
  const counts: Counts = new Map();
  for (const line of fs.readFileSync(out, 'latin1').split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(\d+)?\s*(\w+)$/.exec(line);
    if (m && m[3] !== 'total') counts.set(m[3]!, { calls: Number(m[1]), errors: Number(m[2] ?? 0) });
  }
  return { counts, status: r.status };
}

function coverage(argv: string[], extra: string[] = []): { report: Report; status: number | null; stderr: string } {
  const json = path.join(dir, `report-${Date.now()}.json`);
  const r = spawnSync(TSVISOR, ['coverage', '--json', json, ...extra, '--', ...argv], { env: RUN_ENV, cwd: '/', stdio: STDIO, encoding: 'latin1', timeout: 60000 });
  expect(r.stderr).toMatch(/calls\s+errors\s+syscall\s+disposition/);
  const report: unknown = JSON.parse(fs.readFileSync(json, 'utf8'));
  expect(validateReport(report)).toEqual([]);
  return { report: report as Report, status: r.status, stderr: r.stderr };
}

function countsOf(rows: Report['syscalls']): Counts {
  return new Map(rows.map((s) => [s.name, { calls: s.calls, errors: s.errors }]));
}

/** The counts strace -f -c can be compared with (see the header). */
function comparable(c: Counts, native: boolean, skip: string[] = []): Record<string, { calls: number; errors: number }> {
  const out: Record<string, { calls: number; errors: number }> = {};
  for (const [name, v] of c) {
    if (name === 'exit' || name === 'exit_group' || skip.includes(name)) continue;
    out[name] = name === 'execve' && native ? { calls: v.calls - 1, errors: v.errors } : v;
  }
  if (out.execve?.calls === 0) delete out.execve;
  return out;
}

describe('tsvisor coverage counts every call as strace -f -c does', () => {
  it.each([
    ['the coverage program (passthrough, emulated, denied calls; signals; fork and execve)', () => [program], ['--no-init']],
    ['the coverage program under tsvisor\'s init', () => [program], []],
    ['a busybox sh script', () => ['/bin/busybox', 'sh', '-c', 'echo a; /bin/busybox true; /bin/busybox cat /dev/null; x=$(/bin/busybox echo b); exit 3'], []],
    ['coreutils ls -l (dynamically linked: the loader\'s calls too)', () => ['/bin/ls', '-l', '/etc/hostname'], []],
    ['python3 -c', () => ['/usr/bin/python3', '-c', 'import os; print(os.getpid() > 0)'], []],
  ])('%s', (_name, argv, extra) => {
    const native = straceCounts(argv());
    const sandboxed = coverage(argv(), extra);
    expect(sandboxed.status).toBe(native.status);
    expect(comparable(countsOf(sandboxed.report.syscalls), false)).toEqual(comparable(native.counts, true));
    // exit_group once per process (none of them is killed)
    expect(sandboxed.report.syscalls.find((s) => s.name === 'exit_group')?.calls).toBe(sandboxed.report.processes.length);
  });

  it('counts clone3 as clone3, though the Sentry runs it as clone (threads)', () => {
    const native = straceCounts([program, 'threads']);
    const { report, status } = coverage([program, 'threads'], ['--no-init']);
    expect(status).toBe(0);
    expect(comparable(countsOf(report.syscalls), false, ['futex'])).toEqual(comparable(native.counts, true, ['futex']));
    expect(report.syscalls.find((s) => s.name === 'clone3')?.calls).toBe(3);
    expect(report.syscalls.find((s) => s.name === 'exit')?.calls).toBe(3);
    expect(report.processes).toHaveLength(1);
  });

  it('splits the calls per process and per executable across fork and execve', () => {
    const { report, stderr } = coverage([program], ['--no-init']);
    const busybox = fs.realpathSync('/bin/busybox');
    expect(stderr).toContain(`pid 2 (parent 1)  ${program} -> ${busybox}`);
    expect(report.processes.map((p) => [p.pid, p.parentPid, p.executables])).toEqual([
      [1, null, [program]],
      [2, 1, [program, busybox]],
    ]);
    expect(report.executables.map((e) => [e.path, e.processes]).sort()).toEqual([[busybox, 1], [program, 2]].sort());
    // busybox's share is exactly what `busybox true` makes natively (its execve is the caller's).
    const alone = straceCounts(['/bin/busybox', 'true']);
    const exe = report.executables.find((e) => e.path === busybox)!;
    expect(comparable(countsOf(exe.syscalls), false)).toEqual(comparable(alone.counts, true));
    // The parent's rows: what the program itself asked for, failures included.
    const parent = countsOf(report.processes[0]!.syscalls);
    expect(parent.get('write')).toEqual({ calls: 7, errors: 0 });
    expect(parent.get('close')).toEqual({ calls: 4, errors: 4 });
    expect(parent.get('openat')).toEqual({ calls: 3, errors: 3 });
    expect(parent.get('tuxcall')).toEqual({ calls: 5, errors: 5 });
    expect(parent.get('kill')).toEqual({ calls: 2, errors: 0 });
    expect(parent.get('rt_sigreturn')).toEqual({ calls: 2, errors: 0 });
    expect(parent.get('execve')).toEqual({ calls: 1, errors: 1 });
    const child = countsOf(report.processes[1]!.syscalls);
    expect(child.get('execve')).toEqual({ calls: 1, errors: 0 });
    // Each row carries its disposition and support from syscall-tables/.
    const row = (n: string) => report.syscalls.find((s) => s.name === n)!;
    expect([row('write').disposition, row('openat').disposition, row('tuxcall').disposition]).toEqual(['passthrough', 'emulate', 'deny']);
    expect(row('tuxcall').errnos).toEqual({ ENOSYS: 5 });
  });

  it('answers --help and refuses a bad flag with a usage error', () => {
    const help = spawnSync(TSVISOR, ['coverage', '--help'], { encoding: 'latin1' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--json');
    const bad = spawnSync(TSVISOR, ['coverage', '--no-such-flag', '--', '/bin/true'], { encoding: 'latin1' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    // A --json that cannot be written is said before the run, in one line.
    const nowhere = spawnSync(TSVISOR, ['coverage', '--json', '/nonexistent-dir/r.json', '--', '/bin/sh', '-c', 'echo ran'], { encoding: 'latin1' });
    expect(nowhere.status).not.toBe(0);
    expect(nowhere.stdout).toBe('');
    expect(nowhere.stderr.trim()).toBe('tsvisor: --json /nonexistent-dir/r.json: ENOENT');
  });
});
