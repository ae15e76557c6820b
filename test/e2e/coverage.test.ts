// tsvisor coverage (issue 10, "count everything"): for deterministic programs
// the per-syscall counts and error counts equal `strace -f -c`'s for the same
// program run natively, and the split per process and per executable follows
// fork and execve. What the comparison leaves out, and why:
//   - one execve: the first one, which starts the command, is the launcher's
//     in the sandbox (tsvisor's own set-up is not reported) and strace's
//     child's natively (counted);
//   - exit and exit_group: they never return, and strace -c counts a call
//     when it returns; coverage counts them at entry;
// The programs are deterministic: the threaded ones join without a futex
// wait (whether pthread_join waits depends on timing); gcc runs without
// address-space randomization (setarch -R: cc1's brk count follows where the
// randomized heap starts, 31 to 33 natively) and keeps its temporary files
// under fixed names in a new directory (-save-temps=obj: glibc's random
// temporary names draw again when a draw falls in a biased range, one
// getrandom more in about 4 % of runs).
// Argument classes (ioctl requests, socket families...) equal those of a
// native `strace -f -X raw` of the same program; time, the table's rules per
// class, the verdicts, `coverage diff` and the schema validator are checked
// on test/programs/coverage-args.c.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TSVISOR, rmrf } from './harness.js';
import { ENV, PROGRAMS, compile, hostScratch } from './robust-helpers.js';
import { CLASS_SPECS, decodeClass, packClass } from '../../src/coverage/arg-classes.js';
import { type Report, validateReport } from '../../src/coverage/schema.js';
import { NUMBERS, gvisorNote } from '../../src/syscalls/table.js';

const RUN_ENV = { ...ENV, PWD: '/' };
/** The same in both runs (programs ask what their stdio is: ls, isatty): stdin and stdout /dev/null, stderr a pipe. */
const STDIO: ('ignore' | 'pipe')[] = ['ignore', 'ignore', 'pipe'];
let dir: string;
let program: string;
let argsProgram: string;
beforeAll(() => {
  dir = hostScratch('coverage');
  program = compile('coverage', dir);
  argsProgram = compile('coverage-args', dir);
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

let reports = 0;
/** A new, empty directory (the same length of name each time): where a run writes its files. */
const newDir = (what: string) => fs.mkdtempSync(path.join(dir, `${what}-`));
function coverage(argv: string[], extra: string[] = []): { report: Report; status: number | null; stderr: string; json: string } {
  const json = path.join(dir, `report-${reports++}.json`);
  const r = spawnSync(TSVISOR, ['coverage', '--json', json, ...extra, '--', ...argv], { env: RUN_ENV, cwd: '/', stdio: STDIO, encoding: 'latin1', timeout: 60000 });
  expect(r.stderr).toMatch(/calls\s+errors\s+usecs\s+usecs\/call\s+syscall\s+disposition/);
  const report: unknown = JSON.parse(fs.readFileSync(json, 'utf8'));
  expect(validateReport(report)).toEqual([]);
  return { report: report as Report, status: r.status, stderr: r.stderr, json };
}

function countsOf(rows: Report['syscalls']): Counts {
  return new Map(rows.map((s) => [s.name, { calls: s.calls, errors: s.errors }]));
}

/** The counts strace -f -c can be compared with (see the header). */
function comparable(c: Counts, native: boolean): Record<string, { calls: number; errors: number }> {
  const out: Record<string, { calls: number; errors: number }> = {};
  for (const [name, v] of c) {
    if (name === 'exit' || name === 'exit_group') continue;
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
    ['gcc -c (gcc, cc1 and as: forks and execs)', () => ['/usr/bin/setarch', '-R', '/usr/bin/gcc', '-c', '-save-temps=obj', '-o', path.join(newDir('gcc'), 'coverage.o'), path.join(PROGRAMS, 'coverage.c')], []],
  ])('%s', (_name, argv, extra) => {
    const native = straceCounts(argv());
    const sandboxed = coverage(argv(), extra);
    expect(sandboxed.status).toBe(native.status);
    expect(comparable(countsOf(sandboxed.report.syscalls), false)).toEqual(comparable(native.counts, true));
    // The splits per executable and per process add up to the totals.
    const r = sandboxed.report;
    expect(r.executables.reduce((n, e) => n + e.calls, 0)).toBe(r.totals.calls);
    expect(r.processes.reduce((n, p) => n + p.calls, 0)).toBe(r.totals.calls);
    // exit_group once per process (none of them is killed)
    expect(sandboxed.report.syscalls.find((s) => s.name === 'exit_group')?.calls).toBe(sandboxed.report.processes.length);
  });

  it('counts clone3 as clone3, though the Sentry runs it as clone (threads)', () => {
    const native = straceCounts([program, 'threads']);
    const { report, status } = coverage([program, 'threads'], ['--no-init']);
    expect(status).toBe(0);
    expect(comparable(countsOf(report.syscalls), false)).toEqual(comparable(native.counts, true));
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

/** The top-level arguments of an strace line's call: strings, arrays and structs kept whole. */
function straceArgs(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '"') {
      const end = /^"(?:[^"\\]|\\.)*"(?:\.\.\.)?/.exec(s.slice(i))![0];
      cur += end;
      i += end.length - 1;
      continue;
    }
    if ('[{('.includes(ch)) depth++;
    if (']})'.includes(ch)) depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** A raw (strace -X raw) argument as a number: "0x80000", "-100", "0x1|0x80000", "flags=0x1200000|17". */
function rawValue(a: string): bigint {
  return a.replace(/^\w+=/, '').split('|').reduce((v, x) => v | BigInt.asUintN(64, BigInt(x.trim())), 0n);
}

/** The u64 fields of the structs classes are read from, by offset: clone3's struct clone_args, openat2's struct open_how. */
const STRUCT_FIELDS: Record<string, Record<number, string>> = { clone3: { 0: 'flags' }, openat2: { 0: 'flags', 8: 'mode', 16: 'resolve' } };

/** The u32 at `offset` of a struct strace printed (`{flags=0x80000, resolve=0x4}`); 0 for one it could not read (an address). */
function structU32(name: string, printed: string, offset: number): number {
  if (!printed.startsWith('{')) return 0;
  const field = STRUCT_FIELDS[name]![offset & ~7]!;
  const m = new RegExp(`[{ ]${field}=([^,}]+)`).exec(printed.replace(/ => .*/, ''));
  return Number(BigInt.asUintN(32, (m ? rawValue(m[1]!) : 0n) >> BigInt(8 * (offset & 7))));
}

/**
 * The argument classes of a native run, from `strace -f -X raw` of the
 * classified calls, packed with the report's masks (arg-classes.ts) and
 * named: "name class" -> calls. strace prints clone's arguments as
 * (child_stack, flags, ...): its flags are found by name; clone3's and
 * openat2's structs field by field.
 */
function straceClasses(argv: string[]): Map<string, number> {
  const out = path.join(dir, `strace-args-${reports++}.txt`);
  const names = [...CLASS_SPECS.keys()].map((nr) => Object.keys(NUMBERS).find((n) => NUMBERS[n] === nr)!);
  spawnSync('strace', ['-f', '-X', 'raw', '-e', `trace=${names.join(',')}`, '-o', out, ...argv], { env: RUN_ENV, cwd: '/', stdio: STDIO, timeout: 60000 });
  const classes = new Map<string, number>();
  for (const line of fs.readFileSync(out, 'latin1').split('\n')) {
    const m = /^\d+\s+(\w+)\((.*?)(?:\)\s+= |\s*<unfinished \.\.\.>$)/.exec(line);
    if (!m || !names.includes(m[1]!)) continue;
    const nr = NUMBERS[m[1]!]!;
    const args = straceArgs(m[2]!);
    const value = (i: number) => rawValue(nr === NUMBERS.clone && i === 0 ? args.find((a) => a.startsWith('flags='))! : args[i]!);
    const packed = packClass(nr, (i) => Number(BigInt.asUintN(32, value(i))), (i, offset) => structU32(m[1]!, args[i]!, offset))!;
    const key = `${m[1]} ${decodeClass(nr, packed)!.name}`;
    classes.set(key, (classes.get(key) ?? 0) + 1);
  }
  return classes;
}

function reportClasses(r: Report): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of r.syscalls) for (const c of s.classes ?? []) m.set(`${s.name} ${c.name}`, c.calls);
  return m;
}

const sorted = (m: Map<string, number>) => [...m].sort((a, b) => a[0].localeCompare(b[0]));

describe('tsvisor coverage: argument classes, time, verdicts', () => {
  it.each([
    ['the argument-class program', () => [argsProgram], ['--no-init']],
    ['python3 -c (dynamically linked; sockets, fcntl, ioctl)', () => ['/usr/bin/python3', '-c', 'import socket, os; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); os.isatty(1)'], []],
  ])('counts each argument class as strace -f -X raw sees it: %s', (_name, argv, extra) => {
    const native = straceClasses(argv());
    const { report, status } = coverage(argv(), extra);
    expect(status).toBe(0);
    expect(sorted(reportClasses(report))).toEqual(sorted(native));
    // A class row's counts sum to its call's.
    for (const s of report.syscalls) if (s.classes) expect(s.classes.reduce((n, c) => n + c.calls, 0)).toBe(s.calls);
  });

  it('names the classes, applies the table\'s rules to them and times the calls', () => {
    const { report, stderr } = coverage([argsProgram], ['--no-init']);
    const cls = (name: string, c: string) => report.syscalls.find((s) => s.name === name)?.classes?.find((x) => x.name === c);
    expect(report.syscalls.find((s) => s.name === 'ioctl')!.classes!.map((c) => [c.name, c.calls, c.disposition, c.tsvisor, c.errnos])).toEqual([
      ['TCGETS', 3, 'passthrough', 'partial', { ENOTTY: 3 }],
      ['FIONREAD', 2, 'emulate', 'partial', {}],
      ['0x1234', 1, 'emulate', 'none', { ENOTTY: 1 }], // outside the allow-list: the Sentry refuses it (EBADF or ENOTTY), never runs it
      ['TIOCSTI', 1, 'deny', 'none', { EPERM: 1 }],
    ]);
    expect(cls('fcntl', 'F_SETLEASE')).toMatchObject({ calls: 1, disposition: 'deny', tsvisor: 'none', errnos: { EACCES: 1 }, args: [{ index: 1, value: 1024, mask: 0xffffffff }] });
    expect(cls('prctl', 'PR_SET_MM')).toMatchObject({ calls: 1, disposition: 'deny', errnos: { EPERM: 1 } });
    expect(cls('socket', 'AF_INET/SOCK_STREAM/0')).toMatchObject({ calls: 1, args: [{ index: 0, value: 2 }, { index: 1, value: 1, mask: 0xf }, { index: 2, value: 0 }] });
    expect(cls('socket', 'AF_INET6/SOCK_DGRAM/IPPROTO_UDP')?.calls).toBe(1);
    expect(cls('setsockopt', 'SOL_SOCKET/SO_REUSEADDR')?.calls).toBe(2);
    expect(cls('setsockopt', 'SOL_TCP/TCP_NODELAY')?.calls).toBe(1);
    expect(cls('openat', 'O_WRONLY|O_APPEND')).toMatchObject({ calls: 1, errnos: { ENOENT: 1 } });
    expect(cls('openat', 'O_RDONLY|O_PATH')?.calls).toBe(1);
    // MADV_DONTNEED: the program's 2, and glibc's on the exiting thread's stack
    expect(cls('madvise', 'MADV_DONTFORK')?.calls).toBe(1);
    expect(cls('madvise', '0x3039')).toMatchObject({ calls: 1, errnos: { EINVAL: 1 } });
    // The fork's clone keeps its class; the thread's clone3, which the kernel ran as clone, is clone3's.
    expect(report.syscalls.find((s) => s.name === 'clone')!.classes!.map((c) => [c.name, c.calls])).toEqual([['CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID', 1]]);
    // clone3's and openat2's classes, read from the structs they point to: no seccomp condition (args []).
    expect(report.syscalls.find((s) => s.name === 'clone3')!.classes!.map((c) => [c.name, c.calls, c.errnos, c.args])).toEqual([
      ['0', 1, { EFAULT: 1 }, []],
      ['CLONE_CLEAR_SIGHAND', 1, {}, []],
      ['CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID', 1, {}, []],
    ]);
    expect(report.syscalls.find((s) => s.name === 'openat2')!.classes!.map((c) => [c.kind, c.name, c.calls, c.errnos, c.args])).toEqual([
      ['flags/resolve', 'O_RDONLY/RESOLVE_NO_SYMLINKS', 2, {}, []],
      ['flags/resolve', 'O_RDONLY/0', 1, { EFAULT: 1 }, []],
      ['flags/resolve', 'O_RDONLY|O_DIRECTORY/0', 1, {}, []],
      ['flags/resolve', 'O_RDONLY|O_PATH/RESOLVE_NO_MAGICLINKS|RESOLVE_BENEATH', 1, { EXDEV: 1 }, []],
    ]);
    expect(cls('arch_prctl', 'ARCH_GET_FS')?.calls).toBe(2);
    // Time: every row's timed calls are among its calls; the kernel times
    // passthrough calls (5 clock_nanosleeps of 20 ms: at least 100 ms), the Sentry
    // the calls it answers; calls the filter denies have no time.
    for (const s of report.syscalls) {
      expect(s.timed).toBeLessThanOrEqual(s.calls);
      for (const c of s.classes ?? []) expect(c.timed).toBeLessThanOrEqual(c.calls);
    }
    const row = (n: string) => report.syscalls.find((s) => s.name === n)!;
    expect(row('clock_nanosleep')).toMatchObject({ calls: 5, timed: 5 });
    expect(row('clock_nanosleep').timeNs).toBeGreaterThanOrEqual(100e6);
    expect(row('madvise').calls).toBeGreaterThanOrEqual(4);
    expect(row('madvise').timed).toBe(row('madvise').calls);
    expect(row('openat').timed).toBe(row('openat').calls);
    expect(row('openat').timeNs).toBeGreaterThan(0);
    // The Sentry's time is per class too (FIONREAD is answered by the Sentry first, then continued on the host).
    for (const c of row('openat').classes!) expect([c.name, c.timed]).toEqual([c.name, c.calls]);
    // ...and openat2's, whose class the Sentry reads before its handler (which answers early: the guest then reuses the struct)
    for (const c of row('openat2').classes!) expect([c.name, c.timed]).toEqual([c.name, c.calls]);
    expect(cls('ioctl', 'FIONREAD')!.timed).toBe(2);
    expect(cls('ioctl', 'TIOCSTI')!.timed).toBe(0);
    expect(stderr).toMatch(/\n\s+5\s+\d+\s+[\d.]+\s+clock_nanosleep\s/);
    // Verdicts: the refused classes lead tsvisor's, each with what happened.
    const t = report.verdicts.tsvisor;
    expect(t.answer).toBe('no');
    const refused = t.items.filter((i) => i.support === 'none').map((i) => `${i.syscall} ${i.class}: ${i.observed}`);
    expect(refused.sort()).toEqual([
      'fcntl F_SETLEASE: 1 call, every one failed (EACCES 1); the program still exited 0',
      'ioctl 0x1234: 1 call, every one failed (ENOTTY 1); the program still exited 0',
      'ioctl TIOCSTI: 1 call, every one failed (EPERM 1); the program still exited 0',
      'prctl PR_SET_MM: 1 call, every one failed (EPERM 1); the program still exited 0',
    ]);
    expect(t.items.slice(0, 4).every((i) => i.support === 'none')).toBe(true);
    expect(stderr).toContain('runs on tsvisor? no: 4 calls or argument classes used are not supported by tsvisor');
    expect(stderr).toMatch(/\n  ioctl +TCGETS 3 \(ENOTTY 3\), FIONREAD 2, 0x1234 1 \(ENOTTY 1\) denied, TIOCSTI 1 \(EPERM 1\) denied\n/);
    expect(stderr).toMatch(/\n  none +ioctl TIOCSTI: 1 call, every one failed \(EPERM 1\); the program still exited 0 \(TIOCSTI injects input into the terminal\)/);
  });

  it('ranks what gVisor does not support first in its verdict', () => {
    const { report, stderr } = coverage([argsProgram, 'gvisor'], ['--no-init']);
    const g = report.verdicts.gvisor;
    expect(g.answer).toBe('no');
    // Not supported first (then by calls): openat2 (not in gVisor's table), sched_rr_get_interval (an error in gVisor).
    expect(g.items[0]).toMatchObject({ syscall: 'openat2', support: 'unimplemented', calls: 5, note: 'gVisor: not implemented (ENOSYS)' });
    expect(g.items[1]).toMatchObject({ syscall: 'sched_rr_get_interval', support: 'unsupported', calls: 3, errors: 0, observed: '3 calls, all succeeded here' });
    expect(g.items[1]!.note).toBe(`gVisor: returns an error: ${gvisorNote('sched_rr_get_interval')}`);
    expect(g.items[1]!.link).toBe('https://gvisor.dev/docs/user_guide/compatibility/linux/amd64/#sched_rr_get_interval');
    expect(g.items.slice(2).every((i) => i.support === 'partial' && i.note === `gVisor: partially supported: ${gvisorNote(i.syscall)}`)).toBe(true);
    // gVisor's partial calls this program used (from syscall-tables/gvisor.json)
    expect(g.items.map((i) => i.syscall)).toEqual(expect.arrayContaining(['madvise', 'prctl', 'clone']));
    expect(stderr).toContain('runs on gVisor? no:');
  });
});

describe('tsvisor coverage diff', () => {
  const diff = (...args: string[]) => spawnSync(TSVISOR, ['coverage', 'diff', ...args], { encoding: 'utf8' });

  it('passes identical runs and flags a new call gVisor does not support', () => {
    const a = coverage([argsProgram], ['--no-init']).json;
    const b = coverage([argsProgram], ['--no-init']).json;
    const c = coverage([argsProgram, 'gvisor'], ['--no-init']).json;
    const same = diff(a, b);
    expect(same.stderr).toBe('');
    expect(same.stdout).toContain('no difference beyond noise');
    expect(same.status).toBe(0);
    const added = diff(a, c);
    expect(added.stdout).toContain('+ sched_rr_get_interval: 3 calls (tsvisor full, gVisor unsupported)');
    expect(added.stdout).toContain('new calls gVisor does not fully support:\n  ! sched_rr_get_interval (gVisor unsupported)');
    expect(added.stdout).toMatch(/FAIL: .*: sched_rr_get_interval\n$/);
    expect(added.status).toBe(1);
    // The other way round the call is gone: nothing new, the gate passes.
    const gone = diff(c, a);
    expect(gone.stdout).toContain('- sched_rr_get_interval: 3 calls before');
    expect(gone.status).toBe(0);
    const json = JSON.parse(diff('--json', a, c).stdout) as { gate: { syscall: string }[] };
    expect(json.gate.map((g) => g.syscall)).toEqual(['sched_rr_get_interval']);
  });

  it('reports new argument classes and changed counts', () => {
    const a = coverage([argsProgram], ['--no-init']);
    // NEW: one more ioctl class (refused by tsvisor) and 40 more madvise calls of a known class.
    const b = structuredClone(a.report);
    const was = { all: b.syscalls.find((s) => s.name === 'madvise')!.calls, dontneed: b.syscalls.find((s) => s.name === 'madvise')!.classes!.find((c) => c.name === 'MADV_DONTNEED')!.calls };
    const ioctl = b.syscalls.find((s) => s.name === 'ioctl')!;
    ioctl.classes!.push({ ...ioctl.classes![0]!, name: 'TIOCLINUX', calls: 1, errors: 1, errnos: { EPERM: 1 }, disposition: 'deny', tsvisor: 'none', args: [{ index: 1, value: 0x541c, mask: 0xffffffff }] });
    const madvise = b.syscalls.find((s) => s.name === 'madvise')!;
    madvise.calls += 40;
    madvise.classes!.find((c) => c.name === 'MADV_DONTNEED')!.calls += 40;
    const newFile = path.join(dir, 'edited.json');
    fs.writeFileSync(newFile, JSON.stringify(b));
    const r = diff(a.json, newFile);
    expect(r.stdout).toContain('+ ioctl TIOCLINUX: 1 call; errors EPERM 1 (tsvisor none, gVisor full)');
    expect(r.stdout).toContain(`~ madvise: calls ${was.all} -> ${was.all + 40}`);
    expect(r.stdout).toContain(`~ madvise MADV_DONTNEED: calls ${was.dontneed} -> ${was.dontneed + 40}`);
    expect(r.stdout).toMatch(/FAIL: .*: ioctl TIOCLINUX\n$/);
    expect(r.status).toBe(1);
    // Within the noise: 2 more calls is not a change (--min-calls 3)
    madvise.classes!.find((c) => c.name === 'MADV_DONTNEED')!.calls = was.dontneed + 2;
    madvise.calls = was.all + 2;
    ioctl.classes!.pop();
    fs.writeFileSync(newFile, JSON.stringify(b));
    expect(diff(a.json, newFile).stdout).toContain('no difference beyond noise');
    expect(diff('--min-calls', '1', a.json, newFile).stdout).toContain(`~ madvise MADV_DONTNEED: calls ${was.dontneed} -> ${was.dontneed + 2}`);
  });

  it('answers --help; usage errors and files that are not reports exit 2 in one line', () => {
    const help = diff('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('usage: tsvisor [global flags] coverage diff [flags] OLD.json NEW.json');
    expect(help.stdout).toContain('--allow-partial');
    expect(spawnSync(TSVISOR, ['help', 'coverage', 'diff'], { encoding: 'utf8' }).stdout).toBe(help.stdout);
    const report = coverage(['/bin/true']).json;
    const broken = path.join(dir, 'broken.json');
    const r = JSON.parse(fs.readFileSync(report, 'utf8')) as Record<string, unknown>;
    delete r.verdicts;
    r.extra = 1;
    fs.writeFileSync(broken, JSON.stringify(r));
    const notJson = path.join(dir, 'not.json');
    fs.writeFileSync(notJson, '{');
    for (const [args, msg] of [
      [[report], 'tsvisor: wrong number of arguments'],
      [['--bogus', report, report], 'tsvisor: unknown flag: --bogus'],
      [['--threshold', 'x', report, report], 'tsvisor: --threshold "x": a non-negative number'],
      [['/nonexistent.json', report], 'tsvisor: /nonexistent.json: ENOENT'],
      [[notJson, report], `tsvisor: ${notJson}: not JSON`],
      [[report, broken], `tsvisor: ${broken}: not a coverage report (docs/coverage-schema.md): report.verdicts: not an object; report.extra: not in the schema`],
    ] as const) {
      const x = diff(...args);
      expect(x.status, args.join(' ')).toBe(2);
      expect(x.stderr.split('\n')[0]).toBe(msg);
      expect(x.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe('the report schema validator', () => {
  it('accepts a real report and names every departure from the schema', () => {
    const { report } = coverage(['/bin/true']);
    expect(validateReport(report)).toEqual([]);
    const bad = structuredClone(report) as unknown as Record<string, unknown> & Report;
    bad.syscalls[0]!.calls = -1;
    (bad.syscalls[0] as unknown as Record<string, unknown>).timeNs = 'slow';
    bad.verdicts.gvisor.answer = 'maybe' as 'yes';
    expect(validateReport(bad)).toEqual([
      'report.syscalls[0].calls: not a count',
      'report.syscalls[0].timeNs: not a count',
      'report.verdicts.gvisor.answer: not one of yes, partial, no',
    ]);
    expect(validateReport({ ...report, schema: 1 })).toEqual(['schema version 1: this tsvisor reads version 3']);
  });
});
