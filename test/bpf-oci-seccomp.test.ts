// The OCI seccomp profile compiler (src/bpf/oci-seccomp.ts): profiles are
// validated by the config.json loader, compiled, and run through the BPF
// interpreter; the expected answers follow runc and libseccomp.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ERRNO } from '../src/abi/errno.js';
import {
  AUDIT_ARCH_X86_64,
  EXEC_REWRITE_MAGIC,
  SECCOMP_FILTER_FLAG_LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD,
  SECCOMP_RET_LOG,
  SECCOMP_RET_TRAP,
  X32_SYSCALL_BIT,
} from '../src/abi/linux.js';
import { encode } from '../src/bpf/filter.js';
import { compileOciSeccomp, ociSeccompFlags, ociSeccompProgram } from '../src/bpf/oci-seccomp.js';
import { type LinuxSeccomp, SpecError, parseConfig } from '../src/oci/spec.js';
import { SYSCALLS, byName } from '../src/syscalls/table.js';
import { runBpf } from './helpers/bpf-interpreter.js';

type Json = Record<string, any>;

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'oci/fixtures');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-oci-seccomp-'));
fs.mkdirSync(path.join(TMP, 'rootfs'));
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));

const fixture = (name: string): Json => JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as Json;

/** linux.seccomp as the config.json loader validates it. */
function load(seccomp: unknown): LinuxSeccomp | undefined {
  const config = fixture('runc-spec-config.json');
  config.linux.seccomp = seccomp;
  return parseConfig(config, TMP).seccomp;
}

/** The loader's message for a profile it refuses. */
function refusal(seccomp: unknown): string {
  try {
    load(seccomp);
  } catch (e) {
    if (e instanceof SpecError) return e.message;
    throw e;
  }
  throw new Error('the profile was accepted');
}

/** A compiled profile as a function of (syscall name or number, args). */
function filter(seccomp: unknown): (call: string | number, args?: (number | bigint)[], arch?: number) => number {
  const prog = ociSeccompProgram(load(seccomp)!);
  expect(encode(prog).length).toBe(prog.length * 8);
  return (call, args = [], arch = AUDIT_ARCH_X86_64) => runBpf(prog, { nr: typeof call === 'number' ? call : nr(call), arch, args });
}

const nr = (name: string) => byName.get(name)!.nr;
const errno = (e: number) => (SECCOMP_RET_ERRNO | e) >>> 0;
const EPERM = errno(ERRNO.EPERM);
const ENOSYS = errno(ERRNO.ENOSYS);
const ALLOW = SECCOMP_RET_ALLOW;

describe('default actions', () => {
  it('answers every call the profile does not name with the default action', () => {
    const cases: [Json, number][] = [
      [{ defaultAction: 'SCMP_ACT_ALLOW' }, ALLOW],
      [{ defaultAction: 'SCMP_ACT_ERRNO' }, EPERM],
      [{ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: ERRNO.EACCES }, errno(ERRNO.EACCES)],
      [{ defaultAction: 'SCMP_ACT_KILL' }, SECCOMP_RET_KILL_THREAD],
      [{ defaultAction: 'SCMP_ACT_KILL_THREAD' }, SECCOMP_RET_KILL_THREAD],
      [{ defaultAction: 'SCMP_ACT_KILL_PROCESS' }, SECCOMP_RET_KILL_PROCESS],
      [{ defaultAction: 'SCMP_ACT_TRAP' }, SECCOMP_RET_TRAP],
      [{ defaultAction: 'SCMP_ACT_LOG' }, SECCOMP_RET_LOG],
      // Nothing traces a sandboxed process: Linux's answer to an untraced TRACE.
      [{ defaultAction: 'SCMP_ACT_TRACE' }, ENOSYS],
    ];
    for (const [profile, want] of cases) {
      const f = filter({ ...profile, syscalls: [{ names: ['getpid'], action: profile.defaultAction === 'SCMP_ACT_ALLOW' ? 'SCMP_ACT_LOG' : 'SCMP_ACT_ALLOW' }] });
      // (below getpid: numbers above the highest named one may get ENOSYS, see below)
      for (const name of ['read', 'write', 'close', 'mmap']) expect(f(name), `${profile.defaultAction} ${name}`).toBe(want);
    }
  });

  it('kills other architectures and x32 calls, like tsvisor own filter', () => {
    const f = filter({ defaultAction: 'SCMP_ACT_ALLOW' });
    expect(f('getpid', [], 0x40000003 /* AUDIT_ARCH_I386 */)).toBe(SECCOMP_RET_KILL_PROCESS);
    expect(f(X32_SYSCALL_BIT + nr('getpid'))).toBe(SECCOMP_RET_KILL_PROCESS);
  });

  it('gives ENOSYS above the highest syscall the profile names unless the default lets calls through (runc)', () => {
    const named = ['read', 'write', 'openat', 'io_uring_setup'];
    const highest = Math.max(...named.map(nr));
    const unnamed = SYSCALLS.filter((e) => e.nr < highest && !named.includes(e.name)).map((e) => e.nr);
    const strict = filter({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: named, action: 'SCMP_ACT_ALLOW' }] });
    for (const n of unnamed) expect(strict(n), String(n)).toBe(EPERM);
    for (const n of [highest + 1, highest + 10, 1000, X32_SYSCALL_BIT - 1]) expect(strict(n), String(n)).toBe(ENOSYS);
    expect(strict('io_uring_setup')).toBe(ALLOW);
    const killing = filter({ defaultAction: 'SCMP_ACT_KILL_PROCESS', syscalls: [{ names: named, action: 'SCMP_ACT_ALLOW' }] });
    expect(killing(unnamed[0]!)).toBe(SECCOMP_RET_KILL_PROCESS);
    expect(killing(highest + 1)).toBe(ENOSYS);
    const lenient = filter({ defaultAction: 'SCMP_ACT_LOG', syscalls: [{ names: named, action: 'SCMP_ACT_ALLOW' }] });
    expect(lenient(highest + 1)).toBe(SECCOMP_RET_LOG);
  });

  it('reads a profile with no default action and no syscalls as none, as runc does', () => {
    expect(load({})).toBeUndefined();
    expect(load({ defaultAction: '', syscalls: [] })).toBeUndefined();
  });
});

describe('rules', () => {
  it('returns errnoRet, EPERM without one, and the action of each entry', () => {
    const f = filter({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: ERRNO.EACCES },
        { names: ['chmod'], action: 'SCMP_ACT_ERRNO' },
        { names: ['symlink'], action: 'SCMP_ACT_KILL' },
        { names: ['link'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['rename'], action: 'SCMP_ACT_TRAP' },
        { names: ['unlink'], action: 'SCMP_ACT_LOG' },
        { names: ['rmdir'], action: 'SCMP_ACT_TRACE', errnoRet: 5 },
        { names: ['getpid'], action: 'SCMP_ACT_ALLOW', errnoRet: 5 },
      ],
    });
    expect(f('mkdir')).toBe(errno(ERRNO.EACCES));
    expect(f('mkdirat')).toBe(errno(ERRNO.EACCES));
    expect(f('chmod')).toBe(EPERM);
    expect(f('symlink')).toBe(SECCOMP_RET_KILL_THREAD);
    expect(f('link')).toBe(SECCOMP_RET_KILL_PROCESS);
    expect(f('rename')).toBe(SECCOMP_RET_TRAP);
    expect(f('unlink')).toBe(SECCOMP_RET_LOG);
    expect(f('rmdir')).toBe(ENOSYS);
    expect(f('getpid')).toBe(ALLOW);
    expect(f('fchmod')).toBe(ALLOW);
  });

  it('skips names the syscall table does not know, keeping the others of the entry', () => {
    const f = filter({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['socketcall', 'no_such_call', 'getpid', 'mmap2'], action: 'SCMP_ACT_ALLOW' }] });
    expect(f('getpid')).toBe(ALLOW);
    expect(f('read')).toBe(EPERM);
  });

  // A 64-bit value whose halves differ, and arguments around it in each half.
  const V = 0x1_0000_0005n;
  const AROUND = [0n, 5n, 6n, 0xffff_ffffn, 0x1_0000_0000n, 0x1_0000_0004n, V, 0x1_0000_0006n, 0x1_ffff_ffffn, 0x2_0000_0000n, 0x2_0000_0005n, 2n ** 64n - 1n];
  const ops: [string, (a: bigint) => boolean][] = [
    ['SCMP_CMP_EQ', (a) => a === V],
    ['SCMP_CMP_NE', (a) => a !== V],
    ['SCMP_CMP_LT', (a) => a < V],
    ['SCMP_CMP_LE', (a) => a <= V],
    ['SCMP_CMP_GE', (a) => a >= V],
    ['SCMP_CMP_GT', (a) => a > V],
  ];

  it.each(ops)('%s compares the whole 64-bit argument', (op, holds) => {
    const f = filter({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['lseek'], action: 'SCMP_ACT_ERRNO', errnoRet: ERRNO.EINVAL, args: [{ index: 1, value: Number(V), op }] }],
    });
    for (const a of AROUND) expect(f('lseek', [3, a, 0]), `${op} ${a.toString(16)}`).toBe(holds(a) ? errno(ERRNO.EINVAL) : ALLOW);
  });

  it('SCMP_CMP_MASKED_EQ compares (arg & value) with (valueTwo & value), in both halves', () => {
    const mask = 0x3_0000_00f0n;
    const datum = 0x1_0000_0030n;
    const f = filter({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mmap'], action: 'SCMP_ACT_ERRNO', args: [{ index: 3, value: Number(mask), valueTwo: Number(datum), op: 'SCMP_CMP_MASKED_EQ' }] }],
    });
    for (const a of [...AROUND, datum, datum | 0xf00n, datum | 0x4_0000_0000n, datum ^ 0x10n, datum ^ 0x1_0000_0000n, 0x3_0000_0030n]) {
      expect(f('mmap', [0, 0, 0, a]), a.toString(16)).toBe((a & mask) === datum ? EPERM : ALLOW);
    }
    // Bits of valueTwo outside the mask are ignored, as libseccomp masks the datum.
    const g = filter({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['clone'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0xff, valueTwo: 0x111, op: 'SCMP_CMP_MASKED_EQ' }] }],
    });
    expect(g('clone', [0x11])).toBe(EPERM);
    expect(g('clone', [0x12])).toBe(ALLOW);
    // Docker's clone rule: no namespace flags.
    const docker = filter({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] }],
    });
    expect(docker('clone', [0x3d0f00])).toBe(ALLOW);
    expect(docker('clone', [0x3d0f00 | 0x10000000 /* CLONE_NEWUSER */])).toBe(EPERM);
    expect(docker('clone', [0x1_0000_0000n | 0x11n])).toBe(ALLOW);
  });

  it('ANDs the conditions of an entry', () => {
    const f = filter({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        {
          names: ['socket'],
          action: 'SCMP_ACT_ERRNO',
          errnoRet: ERRNO.EINVAL,
          args: [
            { index: 0, value: 16, op: 'SCMP_CMP_EQ' },
            { index: 2, value: 9, op: 'SCMP_CMP_EQ' },
          ],
        },
      ],
    });
    expect(f('socket', [16, 3, 9])).toBe(errno(ERRNO.EINVAL));
    expect(f('socket', [16, 3, 0])).toBe(ALLOW);
    expect(f('socket', [2, 3, 9])).toBe(ALLOW);
  });

  it('ORs conditions on the same argument, each as a rule of its own (runc)', () => {
    const f = filter({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        {
          names: ['kill'],
          action: 'SCMP_ACT_ERRNO',
          args: [
            { index: 1, value: 9, op: 'SCMP_CMP_EQ' },
            { index: 1, value: 15, op: 'SCMP_CMP_EQ' },
          ],
        },
      ],
    });
    expect(f('kill', [1, 9])).toBe(EPERM);
    expect(f('kill', [1, 15])).toBe(EPERM);
    expect(f('kill', [1, 10])).toBe(ALLOW);
  });

  it('ORs several entries for one syscall, the first matching one deciding (Docker personality rules)', () => {
    const personality = (value: number, action = 'SCMP_ACT_ALLOW', errnoRet?: number) => ({
      names: ['personality'],
      action,
      ...(errnoRet === undefined ? {} : { errnoRet }),
      args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }],
    });
    const f = filter({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [0, 8, 0x20000, 0x20008, 0xffffffff].map((v) => personality(v)) });
    for (const v of [0, 8, 0x20000, 0x20008, 0xffffffff]) expect(f('personality', [v]), String(v)).toBe(ALLOW);
    for (const v of [1, 0x40000, 0xfffffffe, 2n ** 64n - 1n]) expect(f('personality', [v]), String(v)).toBe(EPERM);
    const first = filter({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: ERRNO.EINVAL, args: [{ index: 0, value: 8, op: 'SCMP_CMP_LE' }] },
        { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: ERRNO.EACCES, args: [{ index: 0, value: 4, op: 'SCMP_CMP_GE' }] },
      ],
    });
    expect(first('personality', [2])).toBe(errno(ERRNO.EINVAL));
    expect(first('personality', [6])).toBe(errno(ERRNO.EINVAL));
    expect(first('personality', [9])).toBe(errno(ERRNO.EACCES));
  });

  it('lets an unconditional entry override the conditional ones for its syscall, in either order (libseccomp)', () => {
    const conditional = { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: ERRNO.EACCES, args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] };
    const unconditional = { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: ERRNO.EINVAL };
    for (const syscalls of [
      [conditional, unconditional],
      [unconditional, conditional],
    ]) {
      const f = filter({ defaultAction: 'SCMP_ACT_ALLOW', syscalls });
      expect(f('personality', [8])).toBe(errno(ERRNO.EINVAL));
      expect(f('personality', [0])).toBe(errno(ERRNO.EINVAL));
    }
    // The first unconditional entry wins over a later one.
    const f = filter({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [unconditional, { names: ['personality'], action: 'SCMP_ACT_KILL' }] });
    expect(f('personality', [0])).toBe(errno(ERRNO.EINVAL));
    // A MASKED_EQ with a zero mask holds for everything: the entry is unconditional.
    const g = filter({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [conditional, { names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0, valueTwo: 7, op: 'SCMP_CMP_MASKED_EQ' }] }],
    });
    expect(g('personality', [8])).toBe(EPERM);
    // Also when it is one of several conditions on one argument, which runc splits into rules of their own.
    const h = filter({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        conditional,
        {
          names: ['personality'],
          action: 'SCMP_ACT_ERRNO',
          args: [
            { index: 0, value: 0, op: 'SCMP_CMP_MASKED_EQ' },
            { index: 0, value: 9, op: 'SCMP_CMP_EQ' },
          ],
        },
      ],
    });
    expect(h('personality', [8])).toBe(EPERM);
  });

  it('drops entries whose action is the default action, so later ones apply (runc)', () => {
    const f = filter({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO' },
        { names: ['mkdir'], action: 'SCMP_ACT_ALLOW' },
        { names: ['rmdir'], action: 'SCMP_ACT_ERRNO', errnoRet: ERRNO.EPERM },
        { names: ['rmdir'], action: 'SCMP_ACT_ALLOW' },
        { names: ['chdir'], action: 'SCMP_ACT_ERRNO', errnoRet: ERRNO.EACCES },
        { names: ['chdir'], action: 'SCMP_ACT_ALLOW' },
      ],
    });
    expect(f('mkdir')).toBe(ALLOW);
    expect(f('rmdir')).toBe(ALLOW);
    expect(f('chdir')).toBe(errno(ERRNO.EACCES));
  });
});

describe("the Sentry's rewritten exec", () => {
  it('passes an execveat carrying the whole marker, whatever the profile says of execveat', () => {
    const lo = EXEC_REWRITE_MAGIC % 2 ** 32;
    for (const execveat of [{ action: 'SCMP_ACT_ERRNO' }, { action: 'SCMP_ACT_KILL' }, { action: 'SCMP_ACT_ERRNO', args: [{ index: 4, value: 0x1000, valueTwo: 0x1000, op: 'SCMP_CMP_MASKED_EQ' }] }]) {
      const f = filter({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['execveat'], ...execveat }] });
      const denied = execveat.action === 'SCMP_ACT_KILL' ? SECCOMP_RET_KILL_THREAD : EPERM;
      expect(f('execveat', [3, 0, 0, 0, 0x1000, EXEC_REWRITE_MAGIC])).toBe(ALLOW);
      expect(f('execveat', [3, 0, 0, 0, 0x1000, 0])).toBe(denied);
      expect(f('execveat', [3, 0, 0, 0, 0x1000, lo])).toBe(denied);
      expect(f('execveat', [3, 0, 0, 0, 0x1000, 2n ** 32n + BigInt(lo)])).toBe(denied);
    }
    const strict = filter({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['execve', 'io_uring_setup'], action: 'SCMP_ACT_ALLOW' }] });
    expect(strict('execveat', [3, 0, 0, 0, 0x1000, EXEC_REWRITE_MAGIC])).toBe(ALLOW);
    expect(strict('execveat', [3, 0, 0, 0, 0x1000, 0])).toBe(EPERM);
    // execveat above the highest syscall the profile names: ENOSYS unless marked.
    const small = filter({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['execve'], action: 'SCMP_ACT_ALLOW' }] });
    expect(small('execveat', [3, 0, 0, 0, 0x1000, EXEC_REWRITE_MAGIC])).toBe(ALLOW);
    expect(small('execveat', [3, 0, 0, 0, 0x1000, 0])).toBe(ENOSYS);
  });
});

describe("Docker's default profile", () => {
  const docker = fixture('docker-config.json').linux.seccomp as Json;

  it('compiles within the kernel limit and answers as Docker means it', () => {
    const f = filter(docker);
    expect(ociSeccompProgram(load(docker)!).length).toBeLessThan(4096);
    for (const name of ['read', 'write', 'openat', 'execve', 'execveat', 'getpid', 'clone', 'seccomp', 'prctl', 'wait4']) expect(f(name), name).toBe(ALLOW);
    expect(f('clone', [0x01200011 /* fork */])).toBe(ALLOW);
    expect(f('clone', [0x01200011 | 0x20000000 /* CLONE_NEWPID */])).toBe(EPERM);
    expect(f('personality', [8])).toBe(ALLOW);
    expect(f('personality', [0xffffffff])).toBe(ALLOW);
    expect(f('personality', [0x40000])).toBe(EPERM);
    expect(f('clone3')).toBe(ENOSYS);
    for (const name of ['mount', 'unshare', 'setns', 'kexec_load', 'bpf', 'init_module', 'open_by_handle_at']) expect(f(name), name).toBe(EPERM);
    const highest = Math.max(...(docker.syscalls as Json[]).flatMap((s) => s.names as string[]).filter((n) => byName.has(n)).map(nr));
    expect(f(highest + 1)).toBe(ENOSYS);
    expect(compileOciSeccomp(load(docker)!)).toEqual({ filter: encode(ociSeccompProgram(load(docker)!)), flags: 0 });
  });
});

describe('flags', () => {
  it('passes LOG and SPEC_ALLOW to seccomp(2); TSYNC has nothing to do', () => {
    expect(ociSeccompFlags(load({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_TSYNC'] })!)).toBe(0);
    expect(ociSeccompFlags(load({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'] })!)).toBe(
      SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW,
    );
  });
});

describe('what the loader refuses', () => {
  const rule = (r: Json) => ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', ...r }] });
  it.each([
    [
      'a NOTIFY default',
      { defaultAction: 'SCMP_ACT_NOTIFY' },
      'config.json: linux.seccomp.defaultAction "SCMP_ACT_NOTIFY" is not supported: a process may have one seccomp listener, and tsvisor\'s own filter holds it',
    ],
    [
      'a NOTIFY rule',
      rule({ action: 'SCMP_ACT_NOTIFY' }),
      'config.json: linux.seccomp.syscalls[0].action "SCMP_ACT_NOTIFY" is not supported: a process may have one seccomp listener, and tsvisor\'s own filter holds it',
    ],
    [
      'a listener path',
      { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock' },
      'config.json: linux.seccomp.listenerPath is not supported: it serves SCMP_ACT_NOTIFY, which tsvisor does not support',
    ],
    [
      'WAIT_KILLABLE_RECV',
      { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] },
      'config.json: linux.seccomp.flags[0] "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" is not supported: it applies to SCMP_ACT_NOTIFY, which tsvisor does not support',
    ],
    [
      'an unknown flag',
      { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_FAST'] },
      'config.json: linux.seccomp.flags[1] "SECCOMP_FILTER_FLAG_FAST" is not a seccomp flag (SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW)',
    ],
    ['an unknown action', rule({ action: 'SCMP_ACT_IGNORE' }), expect.stringMatching(/^config\.json: linux\.seccomp\.syscalls\[0\]\.action "SCMP_ACT_IGNORE" is not a seccomp action \(SCMP_ACT_KILL, /)],
    ['an unknown architecture', { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_VAX'] }, 'config.json: linux.seccomp.architectures[0] "SCMP_ARCH_VAX" is not a seccomp architecture (SCMP_ARCH_X86_64, SCMP_ARCH_X86, ...)'],
    [
      'an unknown operator',
      rule({ args: [{ index: 0, value: 1, op: 'SCMP_CMP_IN' }] }),
      'config.json: linux.seccomp.syscalls[0].args[0].op "SCMP_CMP_IN" is not a seccomp comparison (SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ)',
    ],
    ['a seventh argument', rule({ args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }), 'config.json: linux.seccomp.syscalls[0].args[0].index 6 is out of range 0..5'],
    [
      'a value JSON cannot carry exactly',
      rule({ args: [{ index: 0, value: 2 ** 60, op: 'SCMP_CMP_EQ' }] }),
      `config.json: linux.seccomp.syscalls[0].args[0].value ${2 ** 60} is out of range 0..9007199254740991 (JSON numbers beyond 2^53 are not exact)`,
    ],
    ['a negative value', rule({ args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }), 'config.json: linux.seccomp.syscalls[0].args[0].value -1 is out of range 0..9007199254740991 (JSON numbers beyond 2^53 are not exact)'],
    ['an errnoRet out of range', rule({ errnoRet: 70000 }), 'config.json: linux.seccomp.syscalls[0].errnoRet 70000 is out of range 0..65535'],
  ])('%s', (_name, seccomp, message) => {
    expect(refusal(seccomp)).toEqual(message);
  });
});
