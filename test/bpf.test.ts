import { describe, expect, it } from 'vitest';
import { ERRNO } from '../src/abi/errno.js';
import {
  AUDIT_ARCH_X86_64,
  EXEC_REWRITE_MAGIC,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_TRACE,
  SECCOMP_RET_USER_NOTIF,
} from '../src/abi/linux.js';
import { TRACE_DATA, allowListFilter, encode, guestFilter, isWideArg, retFor, ruleMatches } from '../src/bpf/filter.js';
import { SYSCALLS, byName } from '../src/syscalls/table.js';
import { runBpf } from './helpers/bpf-interpreter.js';

const AUDIT_ARCH_I386 = 0x40000003;
const prog = guestFilter(SYSCALLS);
const run = (nr: number, args: (number | bigint)[] = [], arch = AUDIT_ARCH_X86_64) => runBpf(prog, { nr, arch, args });
const nr = (name: string) => byName.get(name)!.nr;

describe('guest seccomp filter', () => {
  it('fits the kernel limit', () => {
    expect(prog.length).toBeLessThan(4096);
    expect(encode(prog).length).toBe(prog.length * 8);
  });

  it('gives every syscall the action of its table entry', () => {
    for (const e of SYSCALLS) {
      const want = rowRet(e);
      // With all arguments zero, a rule applies when it tests for zero.
      const rule = e.rules?.find((r) => (r.notIn ? !r.notIn.includes(0) : r.equals === 0));
      expect(run(e.nr), e.name).toBe(rule ? retFor(rule.action, rule.errno) : want);
    }
  });

  it('denies numbers the table does not know with ENOSYS', () => {
    const known = new Set(SYSCALLS.map((e) => e.nr));
    const enosys = (SECCOMP_RET_ERRNO | ERRNO.ENOSYS) >>> 0;
    for (const n of [335, 400, 451, 452, 1000, 65535, 0x3fffffff]) {
      if (!known.has(n)) expect(run(n), String(n)).toBe(enosys);
    }
    for (let i = 0; i < 5000; i++) {
      const n = Math.floor(Math.random() * 0x40000000);
      if (!known.has(n)) expect(run(n)).toBe(enosys);
    }
  });

  it('kills other architectures and x32 calls', () => {
    expect(run(nr('getpid'), [], AUDIT_ARCH_I386)).toBe(SECCOMP_RET_KILL_PROCESS);
    expect(run(nr('getpid'), [], 0)).toBe(SECCOMP_RET_KILL_PROCESS);
    expect(run(0x40000000 + nr('getpid'))).toBe(SECCOMP_RET_KILL_PROCESS);
    expect(run(0x40000000 + 512)).toBe(SECCOMP_RET_KILL_PROCESS);
    expect(run(0xfffffffe)).toBe(SECCOMP_RET_KILL_PROCESS);
  });

  it('answers syscall(-1) ENOSYS, as Linux (it has the x32 bit but is no call)', () => {
    expect(run(0xffffffff)).toBe((SECCOMP_RET_ERRNO | ERRNO.ENOSYS) >>> 0);
  });

  it('applies argument rules with 64-bit comparisons', () => {
    const eperm = (SECCOMP_RET_ERRNO | ERRNO.EPERM) >>> 0;
    const TIOCSTI = 0x5412;
    expect(run(nr('ioctl'), [0, TIOCSTI])).toBe(eperm);
    // cmd is an unsigned int: the kernel drops the high word, so the rule must too.
    expect(run(nr('ioctl'), [0, 2n ** 32n + BigInt(TIOCSTI)])).toBe(eperm);
    expect(run(nr('prctl'), [2n ** 32n + 35n /* PR_SET_MM */])).toBe(eperm);
    expect(run(nr('ioctl'), [0, 0x5401 /* TCGETS */])).toBe(SECCOMP_RET_ALLOW);
    expect(run(nr('ioctl'), [0, 2n ** 32n + 0x5401n])).toBe(SECCOMP_RET_ALLOW);
    // Commands outside the allow-list (here FS_IOC_SETFLAGS) go to the
    // Sentry, which refuses them (EBADF or ENOTTY) and never lets them run.
    expect(run(nr('ioctl'), [0, 0x40086602])).toBe(SECCOMP_RET_USER_NOTIF);
    expect(run(nr('ioctl'), [0, 0])).toBe(SECCOMP_RET_USER_NOTIF);
    // fcntl: the commands Linux refuses on O_PATH fds go to the Sentry, the others run.
    expect(run(nr('fcntl'), [0, 3 /* F_GETFL */])).toBe(SECCOMP_RET_USER_NOTIF);
    expect(run(nr('fcntl'), [0, 2 /* F_SETFD */])).toBe(SECCOMP_RET_ALLOW);
    expect(run(nr('fcntl'), [0, 6 /* F_SETLK */])).toBe(SECCOMP_RET_ALLOW);
    const CLONE_NEWUSER = 0x10000000;
    expect(run(nr('clone'), [CLONE_NEWUSER | 17])).toBe(eperm);
    expect(run(nr('clone'), [0x3d0f00 /* pthread_create flags */])).toBe(SECCOMP_RET_ALLOW);
    const traced = (SECCOMP_RET_TRACE | TRACE_DATA) >>> 0;
    expect(run(nr('execveat'), [0, 0, 0, 0, 0, 0])).toBe(traced);
    expect(run(nr('execveat'), [3, 0, 0, 0, 0x1000, EXEC_REWRITE_MAGIC])).toBe(SECCOMP_RET_USER_NOTIF);
    // The marker lives in an unused 64-bit register: both halves must match.
    expect(run(nr('execveat'), [3, 0, 0, 0, 0x1000, EXEC_REWRITE_MAGIC % 2 ** 32])).toBe(traced);
  });
});

/** A row's own action, when no rule applies. */
const rowRet = (e: (typeof SYSCALLS)[number]): number =>
  e.disposition === 'deny'
    ? retFor('deny', e.errno)
    : e.trap === 'trace'
      ? (SECCOMP_RET_TRACE | TRACE_DATA) >>> 0
      : e.trap === 'notify'
        ? SECCOMP_RET_USER_NOTIF
        : SECCOMP_RET_ALLOW;

describe('guest filter for an access observer', () => {
  const observed = guestFilter(SYSCALLS, true);
  const runObserved = (n: number, args: (number | bigint)[] = []) => runBpf(observed, { nr: n, arch: AUDIT_ARCH_X86_64, args });
  const isDeny = (ret: number) => (ret & 0xffff0000) >>> 0 === SECCOMP_RET_ERRNO;
  // Argument values that hit the table's rules: each rule's own value, its
  // upper half set, and values that miss.
  const samples = (e: (typeof SYSCALLS)[number]): (number | bigint)[][] => {
    const out: (number | bigint)[][] = [[]];
    for (const r of e.rules ?? []) {
      const v = r.notIn ? r.notIn[0]! : (r.equals ?? r.mask)!;
      for (const x of [v, v + 1, 2 ** 32 + v, 0, 0xffffffff]) {
        const args: (number | bigint)[] = [0, 0, 0, 0, 0, 0];
        args[r.arg] = x;
        out.push(args);
      }
    }
    return out;
  };

  it('traps to the Sentry exactly what the plain filter denies, and nothing else changes', () => {
    for (const e of SYSCALLS) {
      for (const args of samples(e)) {
        const plain = run(e.nr, args);
        expect(runObserved(e.nr, args), `${e.name} ${args.join(',')}`).toBe(isDeny(plain) ? SECCOMP_RET_USER_NOTIF : plain);
      }
    }
    expect(runObserved(451)).toBe(SECCOMP_RET_USER_NOTIF);
    expect(runObserved(0xffffffff)).toBe((SECCOMP_RET_ERRNO | ERRNO.ENOSYS) >>> 0);
    expect(observed.length).toBeLessThan(4096);
  });

  it('decides rules in the Sentry (ruleMatches) as the program does', () => {
    for (const e of SYSCALLS) {
      for (const args of samples(e)) {
        const plain = run(e.nr, args);
        const words = (i: number) => {
          const v = BigInt.asUintN(64, BigInt(args[i] ?? 0));
          return [Number(v & 0xffffffffn), Number(v >> 32n)] as const;
        };
        const rule = e.rules?.find((r) => ruleMatches(r, isWideArg(e.args[r.arg]), ...words(r.arg)));
        if (rule) expect(plain, `${e.name} ${args.join(',')}`).toBe(retFor(rule.action, rule.errno));
        else expect(plain, `${e.name} ${args.join(',')}`).toBe(rowRet(e));
      }
    }
  });
});

describe('allow-list filter', () => {
  it('allows the listed numbers only', () => {
    const p = allowListFilter([0, 1, 60, 231], 'EPERM');
    const eperm = (SECCOMP_RET_ERRNO | ERRNO.EPERM) >>> 0;
    for (const n of [0, 1, 60, 231]) expect(runBpf(p, { nr: n, arch: AUDIT_ARCH_X86_64 })).toBe(SECCOMP_RET_ALLOW);
    for (const n of [2, 59, 61, 230, 232, 500]) expect(runBpf(p, { nr: n, arch: AUDIT_ARCH_X86_64 })).toBe(eperm);
  });
});
