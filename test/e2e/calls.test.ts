// Syscall conformance programs (test/programs/calls-*.c, case lines as
// test/programs/calls.h describes): each runs natively and under tsvisor do
// and the outputs are compared case by case. These tests are the evidence
// behind `support: full` in syscall-tables/syscalls.json: a row names
// "test/e2e/calls.test.ts > calls-NAME", and the test of that program checks,
// for every row naming it, that
//   - the native run really made the call (strace of a separate native run:
//     a case line or a name in the source proves nothing on its own),
//   - the program printed case lines for it, among them an error case (unless
//     Linux gives the call no way to fail), and
//   - every one of those lines is the same under tsvisor as natively.
// A syscall whose lines differ must be listed in KNOWN_DIFFERENCES, and its
// row must not be full; a listed difference that went away fails too, so the
// table is updated when a behaviour is fixed.
//
// The last test holds tsvisor to the errnos docs/design.md documents for the
// privileges it withholds (test/programs/withheld.c).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { rmrf, runNative, runSandbox } from './harness.js';
import { PROGRAMS, compile, hostScratch } from './robust-helpers.js';
import { SYSCALLS } from '../../src/syscalls/table.js';

const FILE = 'test/e2e/calls.test.ts';

/** The programs, by file name: every test/programs/calls-*.c. */
const programs = fs
  .readdirSync(PROGRAMS)
  .filter((f) => /^calls-[a-z]+\.c$/.test(f))
  .map((f) => f.slice(0, -2))
  .sort();

/**
 * Syscalls whose case lines differ from Linux today, by program, with the
 * case that differs. Their rows stay partial with a note saying so.
 */
const IDS = 'ids outside 0-65535, which the sandbox\'s user namespace does not map, give EINVAL';
const KNOWN_DIFFERENCES: Record<string, Record<string, string>> = {
  'calls-proc': {
    clone: 'CLONE_FS|CLONE_NEWNS gives EPERM (namespace flags are refused before the kernel checks the combination), Linux EINVAL',
    prctl: 'PR_GET_NO_NEW_PRIVS gives 1 and PR_GET_SECCOMP 2: the guest runs under tsvisor\'s filter, installed with no_new_privs',
  },
  'calls-misc': {
    process_madvise: 'MADV_COLD and MADV_PAGEOUT of a child give EPERM to the sandbox\'s root (no CAP_SYS_NICE against the host)',
  },
  'calls-ids': {
    setuid: IDS,
    setgid: IDS,
    setreuid: IDS,
    setregid: IDS,
    setresuid: IDS,
    setresgid: IDS,
    setgroups: IDS,
    setfsuid: IDS,
    setfsgid: IDS,
    sysinfo: 'uptime counts from the sandbox\'s start and disagrees with CLOCK_BOOTTIME',
  },
  'calls-sched': {
    sched_setscheduler: 'SCHED_FIFO gives EPERM to the sandbox\'s root (no CAP_SYS_NICE against the host)',
  },
};

/**
 * Calls Linux gives no failure mode to exercise from an ordinary process, or
 * (brk) no errno: brk reports a refusal by returning the old break.
 */
const CANNOT_FAIL = new Set([
  'brk', 'getpid', 'getppid', 'gettid', 'getpgrp', 'getuid', 'geteuid', 'getgid', 'getegid', 'fork', 'vfork', 'exit', 'exit_group',
  'pause', 'restart_syscall', 'rt_sigreturn', 'sched_yield', 'set_tid_address', 'umask', 'alarm', 'sync', 'personality',
  'setfsuid', 'setfsgid', 'munlockall',
]);

/** A case whose result is an error: "-1 ENAME", or an errno name found some other way. */
const ERROR_CASE = / (-1 )?E[A-Z][A-Z0-9]+$/;

/** "NAME WHAT: RESULT" lines, grouped by NAME, in order. */
function caseLines(stdout: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const name = line.slice(0, line.indexOf(' '));
    if (!m.has(name)) m.set(name, []);
    m.get(name)!.push(line);
  }
  return m;
}

/** The syscalls a native run of argv made, as strace names them. */
function straced(argv: string[], dir: string): Set<string> {
  const log = path.join(dir, 'strace.log');
  execFileSync('strace', ['-f', '-qq', '-o', log, ...argv], { cwd: '/', stdio: 'ignore', timeout: 120000 });
  const seen = new Set<string>();
  for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
    const m = /^\d+ +([a-z0-9_]+)\(/.exec(line);
    if (m) seen.add(m[1]!);
  }
  return seen;
}

let dir: string;
beforeAll(() => {
  dir = hostScratch('calls');
});
afterAll(() => {
  if (dir) rmrf(dir);
});

const build = (name: string): string => compile(name, dir, ['-lpthread']);

function scratch(): string {
  const d = fs.mkdtempSync(path.join(dir, 'run-'));
  fs.chmodSync(d, 0o777);
  return d;
}

describe('syscall conformance programs: native and tsvisor give the same case lines', () => {
  it('every row naming one of these tests names a program that exists', () => {
    for (const e of SYSCALLS) {
      for (const t of e.tests) {
        if (!t.startsWith(`${FILE} > `)) continue;
        expect(programs, `${e.name}: ${t}`).toContain(t.slice(FILE.length + 3));
      }
    }
  });

  it.each(programs)('%s', (name) => {
    const bin = build(name);
    const native = runNative([bin, scratch()], { timeoutMs: 120000 });
    const sandbox = runSandbox([bin, scratch()], { timeoutMs: 180000 });
    expect(native.status, native.stderr).toBe(0);
    expect(native.stderr).toBe('');
    expect({ status: sandbox.status, stderr: sandbox.stderr }).toEqual({ status: 0, stderr: '' });
    const want = caseLines(native.stdout);
    const got = caseLines(sandbox.stdout);
    const known = KNOWN_DIFFERENCES[name] ?? {};

    // The same cases, in the same order, for every call but the known differences.
    const keep = (out: string): string[] => out.split('\n').filter((l) => l && !(l.slice(0, l.indexOf(' ')) in known));
    expect(keep(sandbox.stdout)).toEqual(keep(native.stdout));
    for (const call of Object.keys(known)) {
      expect(got.get(call), `${call}: a known difference that is gone; update the table and KNOWN_DIFFERENCES`).not.toEqual(want.get(call));
    }

    // The evidence for every row that names this test.
    const id = `${FILE} > ${name}`;
    const rows = SYSCALLS.filter((e) => e.tests.includes(id));
    const made = straced([bin, scratch()], dir);
    for (const e of rows) {
      const lines = want.get(e.name) ?? [];
      expect(made.has(e.name), `${e.name}: the native run made no ${e.name} call`).toBe(true);
      expect(lines.length, `${e.name}: ${name} prints no case for it`).toBeGreaterThan(0);
      if (!CANNOT_FAIL.has(e.name)) expect(lines.some((l) => ERROR_CASE.test(l)), `${e.name}: no error case`).toBe(true);
      if (e.support === 'full') expect(known, `${e.name} differs from Linux but is marked full`).not.toHaveProperty(e.name);
    }
  });
});

/** What a program sees for each privilege tsvisor withholds (docs/design.md). */
const WITHHELD = [
  'ptrace PTRACE_TRACEME: EPERM',
  'unshare CLONE_NEWUSER: EPERM',
  'setns of its own network namespace: EPERM',
  'io_uring_setup: ENOSYS',
  'keyctl KEYCTL_GET_KEYRING_ID of a new process keyring: EPERM',
  'add_key to the process keyring: EPERM',
  'landlock_create_ruleset version query: ENOSYS',
  'mlock 10 MB as root, RLIMIT_MEMLOCK 8 MB: ENOMEM',
  'mlockall as root, RLIMIT_MEMLOCK 8 MB: ENOMEM',
  'set-id exec: euid 65534 egid 65534',
  'chown to uid 70000: EINVAL',
  'fchown to gid 70000: EINVAL',
  'setresuid to 70000: EINVAL',
  'setgroups with 70000: EINVAL',
  'setpriority nice -1 as root, then the host\'s value (sched_getattr): 0',
  'sched_setscheduler SCHED_FIFO as root: EPERM',
  'ioctl SIOCSIFFLAGS on lo (unchanged flags): ENOTTY',
  'setsockopt SO_MARK: EPERM',
];

/** Cases the host itself may refuse natively, and how to tell it does. */
function hostRefuses(what: string): boolean {
  const read = (f: string): string => {
    try {
      return fs.readFileSync(f, 'utf8').trim();
    } catch {
      return '';
    }
  };
  if (what.startsWith('ptrace')) return read('/proc/sys/kernel/yama/ptrace_scope') === '3';
  if (what.startsWith('io_uring')) return !['', '0'].includes(read('/proc/sys/kernel/io_uring_disabled'));
  if (what.startsWith('landlock')) return !read('/sys/kernel/security/lsm').split(',').includes('landlock');
  return false;
}

describe('deliberate differences: what a program sees for each privilege tsvisor withholds', () => {
  it('gives the documented errno, where Linux (as root) lets the call through', () => {
    const bin = build('withheld');
    const setid = path.join(dir, 'withheld-setid');
    fs.copyFileSync(bin, setid);
    fs.chownSync(setid, 1000, 1000);
    fs.chmodSync(setid, 0o6755);
    const sandbox = runSandbox([bin, scratch(), setid]);
    expect({ stdout: sandbox.stdout.split('\n').filter(Boolean), stderr: sandbox.stderr, status: sandbox.status }).toEqual({
      stdout: WITHHELD,
      stderr: '',
      status: 0,
    });
    const native = runNative([bin, scratch(), setid]);
    expect(native.status, native.stderr).toBe(0);
    const lines = native.stdout.split('\n').filter(Boolean);
    expect(lines.length).toBe(WITHHELD.length);
    lines.forEach((l, i) => {
      const what = WITHHELD[i]!.slice(0, WITHHELD[i]!.lastIndexOf(': '));
      expect(l.startsWith(`${what}: `), l).toBe(true);
      if (!hostRefuses(what)) expect(l, `${what}: Linux differs`).not.toBe(WITHHELD[i]);
    });
  });
});
