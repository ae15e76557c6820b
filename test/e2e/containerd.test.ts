// The real containerd (Debian's containerd 1.6) driven by `ctr`, with tsvisor
// as the runc shim's binary (`ctr run --runc-binary`, the value of
// runsc-compat/containerd-config.toml's CRI entry), compared case by case with
// runc, the shim's default binary. A private containerd runs for this file
// only (containerd-helpers.ts); the image is a busybox root imported locally,
// so no registry is needed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CRI_RUNTIMES,
  CTR_IMAGE,
  type Containerd,
  type CtrResult,
  type CtrRuntime,
  NAMESPACE,
  configDump,
  containerProcesses,
  ctr,
  ctrArgv,
  ctrOk,
  importBusybox,
  runtimeFlags,
  runtimeRoot,
  shimSocket,
  startContainerd,
  stopContainerd,
  tomlTable,
} from './containerd-helpers.js';
import { cgroupsNamed, privateSetup, until } from './daemon-helpers.js';
import { REPO, SANDBOX_RELEASE } from './harness.js';
import { type ProcInfo, Running, waitGone } from './robust-helpers.js';
import { runOnPty } from '../helpers/pty.js';

const RUNTIMES: CtrRuntime[] = ['tsvisor', 'runc'];

const daemon: () => Containerd = privateSetup('the private containerd', startContainerd, stopContainerd, { prepare: importBusybox, startMs: 300000 });

/** The flags of `ctr run` for tsvisor's own shim (runtime io.containerd.tsvisor.v2, on containerd's PATH). */
const SHIM_FLAGS = (): string[] => ['--fifo-dir', path.join(daemon().tmp, 'fifo'), '--runtime', 'io.containerd.tsvisor.v2'];

/** A container id of our own per runtime and case (ctr ids are names). */
function cid(rt: CtrRuntime, name: string): string {
  return `${name}-${rt}`;
}

/** `ctr run --rm [flags] IMAGE ID argv...` with the runtime's flags. */
function run(rt: CtrRuntime, id: string, flags: string[], argv: string[]): CtrResult {
  return ctr(daemon(), ['run', '--rm', ...runtimeFlags(daemon(), rt), ...flags, CTR_IMAGE, id, ...argv]);
}

function taskStatus(id: string): string | undefined {
  const rows = ctrOk(daemon(), ['task', 'ls']).split('\n').slice(1);
  const row = rows.map((l) => l.trim().split(/\s+/)).find((f) => f[0] === id);
  return row?.[2];
}

/** `ctr run -d IMAGE ID argv...`; waits until the task runs; returns its processes. */
async function runDetached(rt: CtrRuntime, id: string, argv: string[]): Promise<ProcInfo[]> {
  ctrOk(daemon(), ['run', '-d', ...runtimeFlags(daemon(), rt), CTR_IMAGE, id, ...argv]);
  await until(`task ${id} to run`, () => taskStatus(id) === 'RUNNING', 60000);
  const cmd = argv.join(' ');
  await until(`${cmd} to run in ${id}`, () => containerProcesses(daemon(), id).some((p) => p.cmdline === cmd), 60000);
  expect(fs.existsSync(shimSocket(daemon(), id)), `the shim socket of ${id} is where expectGone looks for it`).toBe(true);
  // runc makes the container's cgroups where expectGone checks that they are gone.
  if (rt === 'runc') expect(cgroupsNamed(`${NAMESPACE}/${id}`).length, `cgroups of ${id}`).toBeGreaterThan(0);
  return containerProcesses(daemon(), id);
}

/** After the container is deleted: ctr no longer knows it, no process of it is left, the runtime kept no state. */
async function expectGone(rt: CtrRuntime, id: string, procs: ProcInfo[]): Promise<void> {
  expect(ctrOk(daemon(), ['container', 'ls', '-q']).split('\n'), rt).not.toContain(id);
  expect(ctrOk(daemon(), ['task', 'ls', '-q']).split('\n'), rt).not.toContain(id);
  const left = await waitGone(procs, 10000);
  expect(left.map((p) => `${p.pid} ${p.cmdline}`), `processes of the ${rt} container left behind`).toEqual([]);
  expect(containerProcesses(daemon(), id), rt).toEqual([]);
  expect(fs.existsSync(path.join(runtimeRoot(daemon(), rt), id)), `${rt} state of ${id}`).toBe(false);
  expect(fs.existsSync(shimSocket(daemon(), id)), `the shim socket of ${id}`).toBe(false);
  expect(cgroupsNamed(`${NAMESPACE}/${id}`), `cgroups of ${id}`).toEqual([]);
}

/** Kills (SIGKILL) and deletes a task and its container; returns `ctr task rm`'s result. */
async function remove(id: string): Promise<CtrResult> {
  if (taskStatus(id) === 'RUNNING') {
    ctrOk(daemon(), ['task', 'kill', '-s', 'SIGKILL', id]);
    await until(`task ${id} to stop`, () => taskStatus(id) === 'STOPPED', 60000);
  }
  const rm = ctr(daemon(), ['task', 'rm', id]);
  ctrOk(daemon(), ['container', 'rm', id]);
  return rm;
}

/** Terminal output with ctr's doubled carriage returns folded: what the command typed at the prompt printed. */
function answer(out: string, typed: string): string {
  const s = out.replace(/\r+\n/g, '\n');
  const at = s.lastIndexOf(typed.replace(/\r$/, ''));
  return at < 0 ? s : s.slice(at);
}

describe('containerd (ctr) with tsvisor as the runc shim\'s binary', () => {
  it('runsc-compat/containerd-config.toml: containerd reads its runtime entries and the CRI plugin loads with them', () => {
    const dump = configDump(daemon());
    expect(tomlTable(dump, `${CRI_RUNTIMES}.tsvisor`)?.runtime_type).toBe('io.containerd.runc.v2');
    const options = tomlTable(dump, `${CRI_RUNTIMES}.tsvisor.options`);
    expect({ BinaryName: options?.BinaryName, Root: options?.Root }).toEqual({
      BinaryName: path.join(REPO, 'runsc-compat/runsc'),
      Root: path.join(daemon().tmp, 'runtime-root/tsvisor'),
    });
    expect(tomlTable(dump, `${CRI_RUNTIMES}.tsvisor-shim`)?.runtime_type).toBe('io.containerd.tsvisor.v2');
    // The default runtime must still be there, or the CRI plugin refuses the configuration.
    expect(tomlTable(dump, `${CRI_RUNTIMES}.runc`)?.runtime_type).toBe('io.containerd.runc.v2');
    const cri = ctrOk(daemon(), ['plugins', 'ls'])
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .find((f) => f[0] === 'io.containerd.grpc.v1' && f[1] === 'cri');
    expect(cri?.[3], `the CRI plugin's status (containerd.log: ${daemon().tmp}/containerd.log)`).toBe('ok');
  }, 240000);

  it('ctr run --rm: output, environment, working directory and exit status as with runc; uname -r is the sandbox\'s', async () => {
    const script = ['sh', '-c', 'echo $FOO; pwd; uname -r; echo err >&2; exit 7'];
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const id = cid(rt, 'run-rm');
      const r = run(rt, id, ['--env', 'FOO=bar', '--cwd', '/tmp'], script);
      const release = rt === 'tsvisor' ? SANDBOX_RELEASE : os.release();
      expect(r, rt).toEqual({ status: 7, stdout: `bar\n/tmp\n${release}\n`, stderr: 'err\n' });
      await expectGone(rt, id, []);
      seen[rt] = { ...r, stdout: r.stdout.replace(release, 'RELEASE') };
    }
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 240000);

  it('ctr run --rm --runtime io.containerd.tsvisor.v2 (tsvisor\'s own shim, found on containerd\'s PATH): the same output and exit status; nothing left', async () => {
    const id = 'run-rm-shim';
    const script = ['sh', '-c', 'echo $FOO; pwd; uname -r; echo err >&2; exit 7'];
    const r = ctr(daemon(), ['run', '--rm', ...SHIM_FLAGS(), '--env', 'FOO=bar', '--cwd', '/tmp', CTR_IMAGE, id, ...script]);
    expect(r).toEqual({ status: 7, stdout: `bar\n/tmp\n${SANDBOX_RELEASE}\n`, stderr: 'err\n' });
    expect(ctrOk(daemon(), ['container', 'ls', '-q']).split('\n')).not.toContain(id);
    expect(await waitGone(containerProcesses(daemon(), id), 10000)).toEqual([]);
    expect(fs.existsSync(path.join('/run/containerd/tsvisor-v2', NAMESPACE, id)), 'the shim\'s state of the container').toBe(false);
  }, 240000);

  it('ctr task pause and resume with tsvisor\'s shim: the task is PAUSED and its process stops writing, then RUNNING and writing again; as with runc', async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of ['shim', 'runc'] as const) {
      const id = `pause-${rt}`;
      const flags = rt === 'shim' ? SHIM_FLAGS() : runtimeFlags(daemon(), 'runc');
      ctrOk(daemon(), ['run', '-d', ...flags, CTR_IMAGE, id, 'sh', '-c', 'while :; do date +%s%N >/tmp/tick; sleep 0.05; done']);
      const tick = path.join(daemon().tmp, 'state/io.containerd.runtime.v2.task', NAMESPACE, id, 'rootfs/tmp/tick');
      const mtime = () => (fs.existsSync(tick) ? fs.statSync(tick).mtimeMs : 0);
      await until(`${id} to write`, () => mtime() > 0, 60000);
      ctrOk(daemon(), ['task', 'pause', id]);
      const status = [taskStatus(id)];
      const frozenAt = mtime();
      await new Promise((r) => setTimeout(r, 1000));
      const whilePaused = mtime() === frozenAt ? 'still' : 'written';
      ctrOk(daemon(), ['task', 'resume', id]);
      status.push(taskStatus(id));
      await until(`${id} to write again`, () => mtime() > frozenAt, 10000);
      ctrOk(daemon(), ['task', 'pause', id]);
      // SIGKILL reaches a paused task (it is thawed for it).
      ctrOk(daemon(), ['task', 'kill', '-s', 'SIGKILL', id]);
      await until(`${id} to stop`, () => taskStatus(id) === 'STOPPED', 60000);
      ctrOk(daemon(), ['task', 'rm', id]);
      ctrOk(daemon(), ['container', 'rm', id]);
      seen[rt] = { status, whilePaused };
    }
    expect(seen.shim).toEqual({ status: ['PAUSED', 'RUNNING'], whilePaused: 'still' });
    expect(seen.shim).toEqual(seen.runc);
  }, 240000);

  it('ctr run -t: a terminal with the client\'s size, /dev/console, and the exit status, as with runc', async () => {
    const typed = 'tty; stty size; echo $((6*7)); ls -l /dev/console | cut -c1-10; exit 3\r';
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const id = cid(rt, 'run-t');
      const r = runOnPty(ctrArgv(daemon(), ['run', '-t', '--rm', ...runtimeFlags(daemon(), rt), CTR_IMAGE, id, 'sh']), [[/# /, typed]], {
        rows: 33,
        cols: 101,
        env: daemon().env,
        timeoutMs: 90000,
      });
      expect(r.timedOut, r.output).toBe(false);
      expect(r.status, `${rt}: ${r.output}`).toBe(3);
      seen[rt] = answer(r.output, typed);
      expect(seen[rt], rt).toContain('\n/dev/pts/0\n33 101\n42\ncrw--w----\n');
      await expectGone(rt, id, []);
    }
    expect(seen.tsvisor).toEqual(seen.runc);
    // tsvisor's own shim: the master comes to the shim, which copies it to ctr's fifos and sizes it.
    const r = runOnPty(ctrArgv(daemon(), ['run', '-t', '--rm', ...SHIM_FLAGS(), CTR_IMAGE, 'run-t-shim', 'sh']), [[/# /, typed]], {
      rows: 33,
      cols: 101,
      env: daemon().env,
      timeoutMs: 90000,
    });
    expect(r.timedOut, r.output).toBe(false);
    expect(r.status, `shim: ${r.output}`).toBe(3);
    expect(answer(r.output, typed), 'shim').toEqual(seen.runc);
    // The shim leaves once containerd has shut it down, after ctr returned (CI saw it still running).
    expect(await waitGone(containerProcesses(daemon(), 'run-t-shim'), 10000), 'shim').toEqual([]);
  }, 240000);

  it('ctr task exec, without and with -t, into a running container; ctr task ps; as with runc', async () => {
    const typed = 'tty; stty size; cat /proc/1/comm /proc/$$/comm; exit 5\r';
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const id = cid(rt, 'exec');
      const procs = await runDetached(rt, id, ['sleep', '1000']);
      const fifo = ['--fifo-dir', path.join(daemon().tmp, 'fifo')];
      const plain = ctr(daemon(), ['task', 'exec', ...fifo, '--exec-id', 'plain', '--cwd', '/tmp', '--user', '1000', id, 'sh', '-c', 'pwd; id -u; echo err >&2; exit 4']);
      expect(plain, rt).toEqual({ status: 4, stdout: '/tmp\n1000\n', stderr: 'err\n' });
      const tty = runOnPty(ctrArgv(daemon(), ['task', 'exec', '-t', ...fifo, '--exec-id', 'tty', id, 'sh']), [[/# /, typed]], {
        rows: 30,
        cols: 90,
        env: daemon().env,
        timeoutMs: 90000,
      });
      expect(tty.timedOut, tty.output).toBe(false);
      expect(tty.status, `${rt}: ${tty.output}`).toBe(5);
      expect(answer(tty.output, typed), rt).toContain('\n/dev/pts/0\n30 90\nsleep\nsh\n');
      // `task ps` (the runtime's `ps --format json`): the one process, a host pid of the container.
      const ps = ctrOk(daemon(), ['task', 'ps', id]).trim().split('\n').slice(1);
      expect(ps.length, `${rt}: ${ps.join('; ')}`).toBe(1);
      const pid = Number(ps[0]!.trim().split(/\s+/)[0]);
      expect(containerProcesses(daemon(), id).map((p) => p.pid), rt).toContain(pid);
      await remove(id);
      await expectGone(rt, id, procs);
      seen[rt] = { plain, tty: answer(tty.output, typed) };
    }
    expect(seen.tsvisor).toEqual(seen.runc);
    // tsvisor's own shim: each exec is a request to the running Sentry; the terminal's master comes to the shim.
    const id = 'exec-shim';
    ctrOk(daemon(), ['run', '-d', ...SHIM_FLAGS(), CTR_IMAGE, id, 'sleep', '1000']);
    await until(`task ${id} to run`, () => taskStatus(id) === 'RUNNING', 60000);
    const fifo = ['--fifo-dir', path.join(daemon().tmp, 'fifo')];
    const plain = ctr(daemon(), ['task', 'exec', ...fifo, '--exec-id', 'plain', '--cwd', '/tmp', '--user', '1000', id, 'sh', '-c', 'pwd; id -u; echo err >&2; exit 4']);
    const tty = runOnPty(ctrArgv(daemon(), ['task', 'exec', '-t', ...fifo, '--exec-id', 'tty', id, 'sh']), [[/# /, typed]], { rows: 30, cols: 90, env: daemon().env, timeoutMs: 90000 });
    expect(tty.timedOut, tty.output).toBe(false);
    expect(tty.status, `shim: ${tty.output}`).toBe(5);
    const ps = ctrOk(daemon(), ['task', 'ps', id]).trim().split('\n').slice(1);
    expect(ps.length, `shim: ${ps.join('; ')}`).toBe(1);
    expect(containerProcesses(daemon(), id).map((p) => p.pid), 'shim').toContain(Number(ps[0]!.trim().split(/\s+/)[0]));
    await remove(id);
    expect({ plain, tty: answer(tty.output, typed) }, 'shim').toEqual(seen.runc);
    expect(containerProcesses(daemon(), id), 'shim').toEqual([]);
  }, 300000);

  it('ctr task kill: SIGTERM by default (a handler-less PID 1 ignores it, as with runc), then -s SIGKILL: status 137', async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const id = cid(rt, 'kill');
      const procs = await runDetached(rt, id, ['sleep', '1000']);
      const term = ctr(daemon(), ['task', 'kill', id]);
      expect(term, rt).toEqual({ status: 0, stdout: '', stderr: '' });
      // Nothing to wait for: PID 1 without a handler ignores SIGTERM. Give it time to (wrongly) die.
      await new Promise((r) => setTimeout(r, 2000));
      const afterTerm = taskStatus(id);
      expect(afterTerm, rt).toBe('RUNNING');
      const kill = ctr(daemon(), ['task', 'kill', '-s', 'SIGKILL', id]);
      expect(kill, rt).toEqual({ status: 0, stdout: '', stderr: '' });
      await until(`task ${id} to stop after SIGKILL`, () => taskStatus(id) === 'STOPPED', 60000);
      const rm = ctr(daemon(), ['task', 'rm', id]);
      expect(rm.status, rt).toBe(0);
      // ctr task rm reports the exit status of a task that failed.
      expect(rm.stderr, rt).toMatch(new RegExp(`msg="task ${id} exit with non-zero exit code 137"`));
      ctrOk(daemon(), ['container', 'rm', id]);
      await expectGone(rt, id, procs);
      seen[rt] = { afterTerm, kill, rm: rm.stderr.replace(/^time="[^"]*" /, '').replace(id, 'ID') };
    }
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 300000);

  it('exit status propagation: an attached ctr run ends with its container\'s status when ctr task kill signals it, as with runc', async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      // SIGTERM reaches a PID 1 that handles it; the handler's exit status is ctr run's.
      const id = cid(rt, 'term');
      const trap = new Running(
        ctrArgv(daemon(), ['run', '--rm', ...runtimeFlags(daemon(), rt), CTR_IMAGE, id, 'sh', '-c', 'trap "echo got-term; exit 9" TERM; echo ready; while :; do sleep 0.2; done']),
        { env: daemon().env },
      );
      await trap.waitFor(/ready/, 60000);
      ctrOk(daemon(), ['task', 'kill', id]);
      const t = await trap.finish(90000);
      expect({ status: t.status, stdout: t.stdout, stderr: t.stderr }, rt).toEqual({ status: 9, stdout: 'ready\ngot-term\n', stderr: '' });
      await expectGone(rt, id, []);

      // SIGKILL: 128 + 9.
      const kid = cid(rt, 'sigkill');
      const sleeper = new Running(ctrArgv(daemon(), ['run', '--rm', ...runtimeFlags(daemon(), rt), CTR_IMAGE, kid, 'sleep', '1000']), { env: daemon().env });
      await until(`sleep 1000 to run in ${kid}`, () => containerProcesses(daemon(), kid).some((p) => p.cmdline === 'sleep 1000'), 60000);
      const procs = containerProcesses(daemon(), kid);
      ctrOk(daemon(), ['task', 'kill', '-s', 'SIGKILL', kid]);
      const k = await sleeper.finish(90000);
      expect({ status: k.status, stdout: k.stdout, stderr: k.stderr }, rt).toEqual({ status: 137, stdout: '', stderr: '' });
      await expectGone(rt, kid, procs);
      seen[rt] = { term: t.status, kill: k.status };
    }
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 300000);
});

