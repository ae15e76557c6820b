// containerd-shim-tsvisor-v2 without containerd: the wrapper's `start` and
// `delete` as containerd runs them (in a bundle directory, with its flags),
// and the server they start spoken to over ttrpc as containerd speaks to
// it. The CRI end-to-end test (test/e2e/cri.test.ts, handler tsvisor-shim)
// drives real tasks through containerd.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../e2e/harness.js';
import { decode, encode } from '../../src/shim/proto.js';
import { Client, Code, RpcError } from '../../src/shim/ttrpc.js';

const SHIM = path.join(REPO, 'bin/containerd-shim-tsvisor-v2');
const TASK = 'containerd.task.v2.Task';
/** A namespace and an address of this test's own: no containerd has them. */
const NS = `tsvisor-unit-${process.pid}`;
let bundle: string;

function shim(args: string[], input = ''): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync(SHIM, args, { cwd: bundle, input, env: { PATH: process.env.PATH } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

function flags(id: string): string[] {
  return ['-namespace', NS, '-address', path.join(bundle, 'containerd.sock'), '-publish-binary', '/bin/false', '-id', id];
}

async function call(c: Client, method: string, reqType: string, req: object): Promise<Buffer> {
  return c.call(TASK, method, encode(reqType, req), 10000);
}

beforeAll(() => {
  bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-shim-'));
});
afterAll(() => fs.rmSync(bundle, { recursive: true, force: true }));

describe('containerd-shim-tsvisor-v2', () => {
  it('start: a server for the group, its address printed and written; the same server for the pod\'s next task; Shutdown ends it', async () => {
    // The pod's sandbox (its own group) and a container of that pod (grouped by the annotation).
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify({ annotations: { 'io.kubernetes.cri.sandbox-id': 'podid' } }));
    const first = shim([...flags('podid'), 'start'], 'options');
    expect({ status: first.status, stderr: first.stderr }).toEqual({ status: 0, stderr: '' });
    const address = first.stdout.toString();
    expect(address).toMatch(/^unix:\/\/\/run\/containerd\/s\/[0-9a-f]{64}$/);
    expect(fs.readFileSync(path.join(bundle, 'address'), 'utf8')).toBe(address);
    const sock = address.slice('unix://'.length);
    const second = shim([...flags('containerid'), 'start']);
    expect({ status: second.status, address: second.stdout.toString() }).toEqual({ status: 0, address });

    const c = new Client(sock);
    let serverPid = 0;
    try {
      const connected = decode<{ shim_pid: number }>('ConnectResponse', await call(c, 'Connect', 'ConnectRequest', { id: 'podid' }));
      serverPid = connected.shim_pid;
      const cmdline = fs.readFileSync(`/proc/${connected.shim_pid}/cmdline`, 'utf8');
      expect(cmdline).toContain(`containerd-shim-tsvisor-v2 -namespace ${NS} -id podid -address `);
      // No such task: NotFound, which containerd maps to errdefs.ErrNotFound.
      await expect(call(c, 'State', 'StateRequest', { id: 'nosuch' })).rejects.toMatchObject({ code: Code.NotFound });
      await expect(call(c, 'Checkpoint', 'PauseRequest', { id: 'podid' })).rejects.toMatchObject({ code: Code.Unimplemented, message: 'tsvisor cannot checkpoint containers' });
      await expect(call(c, 'Stats', 'StatsRequest', { id: 'nosuch' })).rejects.toMatchObject({ code: Code.NotFound });
      await expect(call(c, 'Update', 'UpdateTaskRequest', { id: 'nosuch' })).rejects.toMatchObject({ code: Code.NotFound });
      const bad = await call(c, 'Exec', 'ExecProcessRequest', { id: 'nosuch', exec_id: 'e' }).catch((e: unknown) => e);
      expect(bad instanceof RpcError ? { code: bad.code, message: bad.message } : bad).toEqual({ code: Code.NotFound, message: 'container nosuch not found' });
      // No task left: the server ends, its socket with it.
      await call(c, 'Shutdown', 'ShutdownRequest', { id: 'podid' });
      const deadline = Date.now() + 10000;
      while (fs.existsSync(sock) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(fs.existsSync(sock), 'the socket after Shutdown').toBe(false);
    } finally {
      c.close();
      // A failed check above leaves the server running: it is this test's.
      if (serverPid > 0 && fs.existsSync(sock)) process.kill(serverPid, 'SIGKILL');
    }
  });

  it('Create refuses runtime options tsvisor cannot follow, each with a one-line reason, before it makes anything', async () => {
    const started = shim([...flags('opts'), 'start']);
    expect({ status: started.status, stderr: started.stderr }).toEqual({ status: 0, stderr: '' });
    const sock = started.stdout.toString().slice('unix://'.length);
    const c = new Client(sock);
    const runc = (o: object) => ({ type_url: 'containerd.runc.v1.Options', value: encode('RuncOptions', o) });
    const cri = (o: object) => ({ type_url: 'runtimeoptions.v1.Options', value: encode('RuntimeOptions', o) });
    const cases: [string, { type_url: string; value: Uint8Array }][] = [
      ['systemd', runc({ systemd_cgroup: true })],
      ['binary', runc({ binary_name: '/usr/sbin/runc' })],
      ['criu', runc({ criu_path: '/usr/sbin/criu' })],
      ['relative', runc({ root: 'state' })],
      ['missing', cri({ config_path: path.join(bundle, 'nosuch.toml') })],
      ['typeurl', cri({ type_url: 'io.containerd.runsc.v1.options', config_path: '/dev/null' })],
      ['unknown', cri({ config_body: Buffer.from('Root = "/run/x"\nDebug = true\n') })],
      ['table', cri({ config_body: Buffer.from('[runsc_config]\n') })],
      ['type', cri({ config_body: Buffer.from('SystemdCgroup = "yes"\n') })],
      ['proto', cri({ config_body: Buffer.from('__proto__ = 1\n') })],
      ['ctor', cri({ config_body: Buffer.from('constructor = "x"\n') })],
      ['other', { type_url: 'io.containerd.runhcs.v1.Options', value: new Uint8Array() }],
    ];
    const answers: Record<string, unknown> = {};
    try {
      for (const [name, options] of cases) {
        answers[name] = await call(c, 'Create', 'CreateTaskRequest', { id: `opts-${name}`, bundle, options }).then(
          () => 'created',
          (e: RpcError) => `${e.code} ${e.message}`,
        );
      }
    } finally {
      await call(c, 'Shutdown', 'ShutdownRequest', { id: 'opts' }).catch(() => undefined);
      c.close();
    }
    const bad = Code.InvalidArgument;
    expect(answers).toEqual({
      systemd: `${bad} tsvisor: SystemdCgroup: tsvisor has no systemd cgroup manager (cgroupfs only)`,
      binary: expect.stringMatching(new RegExp(`^${bad} tsvisor: BinaryName "/usr/sbin/runc": tsvisor's shim runs tsvisor only \\(.*/bin/tsvisor or .*/runsc-compat/runsc\\)$`)) as unknown,
      criu: `${bad} tsvisor: CriuPath: tsvisor cannot checkpoint or restore containers`,
      relative: `${bad} tsvisor: Root "state": an absolute path is needed`,
      missing: expect.stringMatching(new RegExp(`^${bad} tsvisor: ConfigPath ${bundle}/nosuch.toml: ENOENT`)) as unknown,
      typeurl: `${bad} tsvisor: TypeUrl "io.containerd.runsc.v1.options": tsvisor's shim reads containerd.runc.v1.Options only`,
      unknown: expect.stringMatching(new RegExp(`^${bad} tsvisor: the runtime options: unknown option Debug \\(runc's options: `)) as unknown,
      table: `${bad} tsvisor: the runtime options:1: expected Key = value, got "[runsc_config]"`,
      type: `${bad} tsvisor: the runtime options: SystemdCgroup must be a boolean`,
      proto: expect.stringMatching(new RegExp(`^${bad} tsvisor: the runtime options: unknown option __proto__ \\(runc's options: `)) as unknown,
      ctor: expect.stringMatching(new RegExp(`^${bad} tsvisor: the runtime options: unknown option constructor \\(runc's options: `)) as unknown,
      other: `${bad} tsvisor: runtime options of type "io.containerd.runhcs.v1.Options": tsvisor's shim reads containerd.runc.v1.Options and runtimeoptions.v1.Options`,
    });
    expect(fs.existsSync(path.join(bundle, 'options.json')), 'a refused task leaves no options.json').toBe(false);
  });

  it('delete of a task with nothing left: a DeleteResponse of exit status 137', () => {
    const r = shim([...flags('gone'), '-bundle', bundle, 'delete']);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(decode('DeleteResponse', r.stdout)).toMatchObject({ pid: 0, exit_status: 137 });
  });

  it('delete of a task whose shim died: what is left of it removed, a DeleteResponse of exit status 137', () => {
    // A container directory without a state file: a create that crashed.
    const left = path.join('/run/containerd/tsvisor-v2', NS, 'crashed');
    fs.mkdirSync(left, { recursive: true });
    try {
      const r = shim([...flags('crashed'), '-bundle', bundle, 'delete']);
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      const response = decode<{ pid: number; exit_status: number; exited_at: { seconds: number } }>('DeleteResponse', r.stdout);
      expect({ pid: response.pid, exit_status: response.exit_status }).toEqual({ pid: 0, exit_status: 137 });
      expect(Math.abs(response.exited_at.seconds - Date.now() / 1000)).toBeLessThan(60);
      expect(fs.existsSync(left), 'the container directory').toBe(false);
    } finally {
      fs.rmSync(path.join('/run/containerd/tsvisor-v2', NS), { recursive: true, force: true });
    }
  });

  it('delete of a task whose options chose a state root: the root Create noted in the bundle is cleaned', () => {
    const root = path.join(bundle, 'chosen-root');
    const left = path.join(root, 'crashed');
    fs.mkdirSync(left, { recursive: true });
    fs.writeFileSync(path.join(bundle, 'options.json'), JSON.stringify({ root }));
    try {
      const r = shim([...flags('crashed'), '-bundle', bundle, 'delete']);
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      expect(decode('DeleteResponse', r.stdout)).toMatchObject({ pid: 0, exit_status: 137 });
      expect(fs.existsSync(left), 'the container directory in the chosen root').toBe(false);
    } finally {
      fs.rmSync(path.join(bundle, 'options.json'), { force: true });
    }
  });

  it('a wrong command line: one line on stderr, exit status 2', () => {
    const r = shim(['-namespace', NS, '-nonsense', 'delete']);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 2, stderr: 'containerd-shim-tsvisor-v2: unknown flag -nonsense\n' });
    const action = shim([...flags('x'), 'frobnicate']);
    expect(action.status).toBe(2);
    expect(action.stderr).toMatch(/^containerd-shim-tsvisor-v2: unknown action frobnicate .*\n$/);
  });
});
