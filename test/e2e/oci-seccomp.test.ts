// linux.seccomp, the container's own seccomp profile, enforced as runc
// enforces it: each case runs the same bundle under runc and tsvisor and
// compares what the container printed and its exit status.
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TSVISOR, busyboxRoot, rmrf, specBundle } from './harness.js';

type Runtime = 'runc' | 'tsvisor';
const RUNTIMES: Runtime[] = ['runc', 'tsvisor'];
type Outcome = { status: number | null; stdout: string; stderr: string };

const DOCKER_CONFIG = path.join(path.dirname(fileURLToPath(import.meta.url)), '../oci/fixtures/docker-config.json');

let base: string;
let rootfs: string;
let counter = 0;

function runtimeArgv(rt: Runtime): string[] {
  return rt === 'runc' ? ['runc', '--root', path.join(base, 'state-runc')] : [TSVISOR, '--root', path.join(base, 'state-tsvisor')];
}

/** A bundle with `tsvisor spec`'s config.json, the test root, a tmpfs on /tmp, `args` and `seccomp`. */
function bundle(args: string[], seccomp: unknown): string {
  return specBundle(path.join(base, `b${counter++}`), rootfs, args, (config) => {
    config.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] });
    config.linux.seccomp = seccomp;
  });
}

function cli(rt: Runtime, args: string[], stdio: 'pipe' | 'ignore' = 'pipe'): Outcome {
  const r: SpawnSyncReturns<string> = spawnSync(runtimeArgv(rt)[0]!, [...runtimeArgv(rt).slice(1), ...args], {
    encoding: 'utf8',
    timeout: 60000,
    killSignal: 'SIGKILL',
    stdio: ['ignore', stdio, stdio],
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Runs `args` under both runtimes with the profile; returns tsvisor's outcome after checking it equals runc's. */
function same(args: string[], seccomp: unknown): Outcome {
  const out: Record<string, Outcome> = {};
  for (const rt of RUNTIMES) out[rt] = cli(rt, ['run', '--bundle', bundle(args, seccomp), `c${counter++}`]);
  expect(out.tsvisor).toEqual(out.runc);
  return out.tsvisor!;
}

const sh = (script: string) => ['/bin/sh', '-c', script];
const errno = (names: string[], errnoRet?: number) => ({ names, action: 'SCMP_ACT_ERRNO', ...(errnoRet === undefined ? {} : { errnoRet }) });
const ENOSYS = 38;
const EINVAL = 22;
const EACCES = 13;

beforeAll(() => {
  base = fs.mkdtempSync('/var/tmp/tsvisor-seccomp-');
  rootfs = busyboxRoot();
});

afterAll(() => {
  rmrf(base);
  rmrf(rootfs);
});

describe('linux.seccomp', () => {
  it('denies what the profile denies, with its errno; an unconditional entry overrides conditional ones (libseccomp)', () => {
    const script = ['mkdir /tmp/d; echo "[$?]"', 'touch /tmp/f; echo "[$?]"', 'chmod 600 /tmp/f; echo "[$?]"', 'linux32 true; echo "[$?]"', 'ls /tmp'].join('; ');
    const r = same(sh(script), {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        errno(['mkdir', 'mkdirat']),
        errno(['chmod', 'fchmodat'], ENOSYS),
        { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: EINVAL, args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
        errno(['personality']),
      ],
    });
    expect(r.stdout).toBe('[1]\n[0]\n[1]\n[1]\nf\n');
    expect(r.stderr).toMatch(/^mkdir: can't create directory '\/tmp\/d': Operation not permitted\nchmod: \/tmp\/f: Function not implemented\nlinux32: .*Operation not permitted\n$/);
    expect(r.status).toBe(0);
  });

  it('checks arguments: MASKED_EQ on open flags, GE on a mode, LT and GT on a personality', () => {
    const O_TRUNC = 0o1000;
    const script = [
      'echo a > /tmp/f; echo "[$?]"',
      'echo b >> /tmp/f; echo "[$?]"',
      'cat /tmp/f',
      'chmod 4755 /tmp/f; echo "[$?]"',
      'chmod 755 /tmp/f; echo "[$?]"',
      'linux32 true; echo "[$?]"',
      'linux64 true; echo "[$?]"',
    ].join('; ');
    const r = same(sh(script), {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['open', 'openat'], action: 'SCMP_ACT_ERRNO', errnoRet: EACCES, args: [{ index: 2, value: O_TRUNC, valueTwo: O_TRUNC, op: 'SCMP_CMP_MASKED_EQ' }] },
        { names: ['chmod'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 0o4000, op: 'SCMP_CMP_GE' }] },
        { names: ['fchmodat'], action: 'SCMP_ACT_ERRNO', args: [{ index: 2, value: 0o4000, op: 'SCMP_CMP_GE' }] },
        // linux32 asks for PER_LINUX32 (8), linux64 for PER_LINUX (0)
        { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: EINVAL, args: [{ index: 0, value: 8, op: 'SCMP_CMP_LT' }] },
        { names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 8, op: 'SCMP_CMP_GT' }] },
      ],
    });
    expect(r.stdout).toBe('[1]\n[0]\nb\n[1]\n[0]\n[0]\n[1]\n');
    expect(r.stderr).toMatch(/^\/bin\/sh: can't create \/tmp\/f: Permission denied\nchmod: \/tmp\/f: Operation not permitted\nlinux64: .*Invalid argument\n$/);
  });

  it('kills with SIGSYS: KILL, KILL_PROCESS and TRAP', () => {
    const script = ['touch /tmp/f', 'ln -s f /tmp/s; echo "[$?]"', 'ln /tmp/f /tmp/h; echo "[$?]"', 'rm /tmp/f; echo "[$?]"', 'ls /tmp'].join('; ');
    const r = same(sh(script), {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['symlink', 'symlinkat'], action: 'SCMP_ACT_KILL' },
        { names: ['link', 'linkat'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['unlink', 'unlinkat'], action: 'SCMP_ACT_TRAP' },
      ],
    });
    expect(r.stdout).toBe('[159]\n[159]\n[159]\nf\n');
    expect(r.status).toBe(0);
  });

  it("Docker's default profile lets a busybox script do ordinary things and refuses the rest", () => {
    const docker = JSON.parse(fs.readFileSync(DOCKER_CONFIG, 'utf8')).linux.seccomp;
    const script = [
      'echo hello > /tmp/a; cat /tmp/a',
      'mkdir -p /tmp/x/y && cp /etc/passwd /tmp/x/y/p && wc -l < /tmp/x/y/p',
      'ls -R /tmp | sort | tr "\\n" " "; echo',
      'sort /etc/group | head -1; id -u; uname -s; echo $((6 * 7))',
      'sleep 0.1 & wait $!; echo "[$?]"',
      'ln -s a /tmp/l && readlink /tmp/l; chmod 600 /tmp/a; stat -c %a /tmp/a',
      'linux32 true; echo "[$?]"; linux64 true; echo "[$?]"',
      'echo abc | (read v; echo "$v")',
      'unshare -U true; echo "[$?]"',
      'hostname other; echo "[$?]"',
    ].join('\n');
    const r = same(sh(script), docker);
    expect(r.stdout).toBe('hello\n2\n  /tmp/x/y: /tmp/x: /tmp: a p x y \nnogroup:x:65534:\n0\nLinux\n42\n[0]\na\n600\n[0]\n[0]\nabc\n[1]\n[1]\n');
    expect(r.stderr).toContain('Operation not permitted');
    expect(r.status).toBe(0);
  });

  it('binds processes started with exec as well', () => {
    const profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [errno(['mkdir', 'mkdirat'], EACCES)] };
    const out: Record<string, Outcome> = {};
    for (const rt of RUNTIMES) {
      const id = `x${counter++}`;
      const created = cli(rt, ['create', '--bundle', bundle(['sleep', '60'], profile), id], 'ignore');
      expect(created.status, rt).toBe(0);
      expect(cli(rt, ['start', id]).status, rt).toBe(0);
      out[rt] = cli(rt, ['exec', id, '/bin/sh', '-c', 'mkdir /tmp/d; echo "[$?]"; touch /tmp/f; ls /tmp']);
      expect(cli(rt, ['delete', '--force', id]).status, rt).toBe(0);
    }
    expect(out.tsvisor).toEqual(out.runc);
    expect(out.tsvisor).toEqual({ status: 0, stdout: '[1]\nf\n', stderr: "mkdir: can't create directory '/tmp/d': Permission denied\n" });
  });
});
