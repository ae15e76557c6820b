// tsvisor coverage for containers beyond `docker run --runtime=tsvisor-coverage`
// (docker.test.ts), issue 10 items 4 and 7: the global flag --coverage-dir
// reaches tsvisor through containerd's runc shim (ctr, with a BinaryName
// that adds the flag, as the shim's options take no arguments) and through
// podman (--runtime with --runtime-flag), and each container gets its report;
// and the seccomp profile `tsvisor coverage --seccomp-profile` generates
// runs the same program under Docker's runc (--security-opt seccomp=FILE)
// unchanged, while taking out one call the program used makes it fail.
// Each client runs privately (the *-helpers.ts), one after the other.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Containerd, CTR_IMAGE, ctr, importBusybox, runtimeFlags, startContainerd, stopContainerd } from './containerd-helpers.js';
import { privateSetup, writeBusyboxRoot } from './daemon-helpers.js';
import { type DockerDaemon, IMAGE, RUNSC, buildBusyboxImage, docker, startDocker, stopDocker } from './docker-helpers.js';
import { TSVISOR, rmrf } from './harness.js';
import { PODMAN_IMAGE, type Podman, podman, setupPodman, teardownPodman } from './podman-helpers.js';
import { hostScratch } from './robust-helpers.js';
import { type Report, validateReport } from '../../src/coverage/schema.js';

/** Two fork+execs (echo, ls), each writing one line; ls's stat fails; status 7. */
const SCRIPT = ['sh', '-c', '/bin/echo hello; /bin/ls /nonexistent; exit 7'];
const EXPECTED = { status: 7, stdout: 'hello\n', stderr: 'ls: /nonexistent: No such file or directory\n' };

const outcome = (r: { status: number | null; stdout: string; stderr: string }) => ({ status: r.status, stdout: r.stdout, stderr: r.stderr });

/** The report a container's sandbox wrote into `dir`: valid, for SCRIPT, with its three processes and their calls. */
function checkReport(dir: string, id: string): Report {
  const file = path.join(dir, `${id}.json`);
  expect(fs.readdirSync(dir)).toContain(`${id}.json`);
  const report = JSON.parse(fs.readFileSync(file, 'utf8')) as Report;
  expect(validateReport(report)).toEqual([]);
  expect(report.command).toEqual(SCRIPT);
  expect(report.exitStatus).toBe(7);
  expect(report.truncated).toBe(false);
  const calls = (name: string) => report.syscalls.find((s) => s.name === name);
  // The first exec (sh's) is the launcher's and left out: echo's and ls's remain.
  expect([calls('execve')?.calls, calls('clone')?.calls, calls('write')?.calls, calls('exit_group')?.calls]).toEqual([2, 2, 2, 3]);
  expect(calls('newfstatat')?.errnos).toEqual({ ENOENT: 1 });
  expect(report.processes.map((p) => [p.pid, p.parentPid, p.executables])).toEqual([
    [1, null, ['/bin/busybox']],
    [2, 1, ['/bin/busybox', '/bin/busybox']],
    [3, 1, ['/bin/busybox', '/bin/busybox']],
  ]);
  return report;
}

describe('ctr run through containerd\'s runc shim, BinaryName a tsvisor with --coverage-dir', () => {
  const daemon: () => Containerd = privateSetup('the private containerd', startContainerd, stopContainerd, { prepare: importBusybox, startMs: 300000 });

  it('writes one report per container, and none without the flag', () => {
    const c = daemon();
    const dir = path.join(c.tmp, 'coverage');
    // runc's shim options have a binary, not arguments: the operator's binary adds the flag.
    const wrapper = path.join(c.tmp, 'tsvisor-coverage');
    fs.writeFileSync(wrapper, `#!/bin/sh\nexec ${JSON.stringify(c.tsvisorBinary)} --coverage-dir=${JSON.stringify(dir)} "$@"\n`, { mode: 0o755 });
    const flags = runtimeFlags(c, 'tsvisor');
    flags[flags.indexOf('--runc-binary') + 1] = wrapper;
    const id = `cov-ctr-${process.pid}`;
    expect(outcome(ctr(c, ['run', '--rm', ...flags, CTR_IMAGE, id, ...SCRIPT]))).toEqual(EXPECTED);
    checkReport(dir, id);
    // The plain runtime entry: no report.
    const plain = `cov-ctr-plain-${process.pid}`;
    expect(outcome(ctr(c, ['run', '--rm', ...runtimeFlags(c, 'tsvisor'), CTR_IMAGE, plain, ...SCRIPT]))).toEqual(EXPECTED);
    expect(fs.readdirSync(dir)).toEqual([`${id}.json`]);
  }, 180000);
});

describe('podman --runtime runsc --runtime-flag coverage-dir=DIR', () => {
  const pm: () => Podman = privateSetup('podman', setupPodman, teardownPodman, { startMs: 300000 });

  it('writes one report per container, and none without the flag', () => {
    const p = pm();
    const dir = path.join(p.tmp, 'coverage');
    const cidfile = path.join(p.tmp, 'cid-coverage');
    const r = podman(p, ['--runtime', RUNSC, '--runtime-flag', `coverage-dir=${dir}`, 'run', '--rm', '--cidfile', cidfile, PODMAN_IMAGE, ...SCRIPT], 120000);
    expect(outcome(r)).toEqual(EXPECTED);
    const id = fs.readFileSync(cidfile, 'utf8').trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    checkReport(dir, id);
    expect(outcome(podman(p, ['--runtime', RUNSC, 'run', '--rm', PODMAN_IMAGE, ...SCRIPT], 120000))).toEqual(EXPECTED);
    expect(fs.readdirSync(dir)).toEqual([`${id}.json`]);
  }, 180000);
});

describe('docker run --runtime=runc --security-opt seccomp=PROFILE, the profile tsvisor coverage generated', () => {
  const daemon: () => DockerDaemon = privateSetup('the private dockerd', startDocker, stopDocker, { prepare: buildBusyboxImage, startMs: 120000 });
  /** Forks (a pipeline, a command substitution), execs, lists a directory, opens a file, writes. */
  const PROGRAM = ['sh', '-c', 'echo start; ls /etc | wc -l; echo $(cat /etc/group | wc -l)'];
  type Profile = { defaultAction: string; syscalls: { names: string[]; action: string; args?: unknown[]; comment: string }[] };
  let scratch: string;
  let profileFile: string;
  let profile: Profile;
  let report: Report;

  beforeAll(() => {
    // The coverage run: the image's root (the same busybox root docker imported), as Docker runs it (pid 1, cwd /).
    scratch = hostScratch('covctr');
    const root = path.join(scratch, 'rootfs');
    writeBusyboxRoot(root);
    profileFile = path.join(scratch, 'profile.json');
    const json = path.join(scratch, 'report.json');
    const r = spawnSync(TSVISOR, ['coverage', '--quiet', '--no-init', '--root', root, '--cwd', '/', '--json', json, '--seccomp-profile', profileFile, '--seccomp-runtime', 'runc', '--', ...PROGRAM], {
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' }, encoding: 'utf8', timeout: 60000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('start\n2\n2\n');
    profile = JSON.parse(fs.readFileSync(profileFile, 'utf8')) as Profile;
    report = JSON.parse(fs.readFileSync(json, 'utf8')) as Report;
  });
  afterAll(() => {
    if (scratch) rmrf(scratch);
  });

  const run = (flags: string[]) => outcome(docker(daemon(), ['run', '--rm', '--runtime=runc', ...flags, IMAGE, ...PROGRAM]));
  const withProfile = (p: Profile) => {
    const file = path.join(scratch, `profile-${Math.random().toString(36).slice(2)}.json`);
    fs.writeFileSync(file, JSON.stringify(p));
    return run(['--security-opt', `seccomp=${file}`]);
  };

  it('runs the program unchanged under Docker\'s runc, as under Docker\'s default profile', () => {
    const plain = run([]);
    // Docker adds hostname, hosts and resolv.conf to /etc
    expect(plain).toMatchObject({ status: 0, stdout: expect.stringMatching(/^start\n\d+\n2\n$/), stderr: '' });
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    for (let i = 0; i < 2; i++) expect(run(['--security-opt', `seccomp=${profileFile}`])).toEqual(plain);
  }, 120000);

  it('is exact: without one call the program used (the pipeline\'s fork and pipe, ls\'s directory read), the program fails', () => {
    const plain = run([]);
    for (const name of ['clone', 'pipe2', 'getdents64']) {
      expect(report.syscalls.some((s) => s.name === name), name).toBe(true);
      const without = { ...profile, syscalls: profile.syscalls.map((e) => ({ ...e, names: e.names.filter((n) => n !== name) })).filter((e) => e.names.length) };
      const r = withProfile(without);
      expect(r.stdout === plain.stdout && r.status === plain.status, `without ${name}: ${JSON.stringify(r)}`).toBe(false);
    }
  }, 180000);
});
