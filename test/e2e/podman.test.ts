// The real podman (Debian's podman 4.3 with conmon 2.1) with tsvisor as its
// default runtime, registered under the name "runsc" by
// runsc-compat/containers.conf, compared case by case with `--runtime runc`.
// The configuration, storage and state are private (podman-helpers.ts); the
// image is a busybox root imported locally, so no registry is needed.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroupsNamed, privateSetup, processTrees, until, waitUntilGone } from './daemon-helpers.js';
import { REPO, SANDBOX_RELEASE } from './harness.js';
import { CGROUP_PARENT, PODMAN_IMAGE, type Podman, type PodmanResult, isOurs, podman, podmanOk, setupPodman, stateEntries, teardownPodman } from './podman-helpers.js';
import { type ProcInfo, waitGone } from './robust-helpers.js';
import { runOnPty } from '../helpers/pty.js';

type Runtime = 'tsvisor' | 'runc';
const RUNTIMES: Runtime[] = ['tsvisor', 'runc'];

const pm: () => Podman = privateSetup('podman', setupPodman, teardownPodman, { startMs: 300000 });

/** tsvisor is the configured default runtime; runc is chosen by name. */
function runtimeFlags(rt: Runtime): string[] {
  return rt === 'runc' ? ['--runtime', 'runc'] : [];
}

function run(rt: Runtime, flags: string[], argv: string[]): PodmanResult {
  return podman(pm(), ['run', '--rm', ...runtimeFlags(rt), ...flags, PODMAN_IMAGE, ...argv]);
}

function inspect(id: string, format: string): string {
  return podmanOk(pm(), ['inspect', '--format', format, id]).trim();
}

/** The processes of a container: conmon, the runtime's and the guest's, and the cleanup commands (all name the id). */
function containerProcesses(id: string): ProcInfo[] {
  return processTrees((q) => q.cmdline.includes(id));
}

/** `podman run -d --name NAME IMAGE argv...`; waits until `cmd` runs in it. Returns the id and its processes. */
async function runDetached(rt: Runtime, name: string, argv: string[], cmd: string): Promise<{ id: string; procs: ProcInfo[] }> {
  const r = podman(pm(), ['run', '-d', '--name', name, ...runtimeFlags(rt), PODMAN_IMAGE, ...argv]);
  expect(r.status, r.stderr).toBe(0);
  const id = r.stdout.trim();
  expect(id).toMatch(/^[0-9a-f]{64}$/);
  await until(`${cmd} to run in ${name}`, () => containerProcesses(id).some((q) => q.cmdline === cmd), 60000);
  // runc makes the container's cgroups where expectGone checks that they are gone.
  if (rt === 'runc') expect(cgroupsNamed(`${CGROUP_PARENT}/libpod-${id}`).length, `cgroups of ${name}`).toBeGreaterThan(0);
  return { id, procs: containerProcesses(id) };
}

/**
 * After the container is removed: podman no longer knows it, no process of
 * it or of our podman is left (conmon, runtime, cleanup command), and the
 * runtime kept no state.
 */
async function expectGone(rt: Runtime, procs: ProcInfo[], id?: string): Promise<void> {
  expect(podmanOk(pm(), ['ps', '-aq']), rt).toBe('');
  if (id) expect(cgroupsNamed(`${CGROUP_PARENT}/libpod-${id}`), `cgroups of ${id}`).toEqual([]);
  const left = await waitGone(procs, 10000);
  expect(left.map((q) => `${q.pid} ${q.cmdline}`), `processes of the ${rt} container left behind`).toEqual([]);
  const ours = await waitUntilGone((q) => isOurs(pm(), q.cmdline), 15000);
  expect(ours.map((q) => `${q.pid} ${q.cmdline.slice(0, 200)}`), `processes of podman left behind (${rt})`).toEqual([]);
  expect(stateEntries(rt), `${rt} state left behind`).toEqual([]);
}

/** stderr with podman's log prefix (time="...") and the container name taken out. */
function warnings(stderr: string, name: string): string {
  return stderr.replace(/time="[^"]*" /g, '').split(name).join('NAME');
}

describe('podman with tsvisor as its runtime', () => {
  it('runsc-compat/containers.conf makes tsvisor the default runtime, under the name runsc', () => {
    const info = JSON.parse(podmanOk(pm(), ['info', '--format', 'json'])) as {
      host: { ociRuntime: { name: string; path: string; version: string } | null; cgroupManager: string; eventLogger: string };
      store: { graphRoot: string; runRoot: string };
    };
    // podman info asks `RUNTIME --version`; without an answer it reports no runtime at all.
    const rt = info.host.ociRuntime;
    expect({ runtime: rt?.name, path: rt?.path, version: rt?.version.split('\n')[0] }).toEqual({
      runtime: 'runsc',
      path: path.join(REPO, 'runsc-compat/runsc'),
      version: expect.stringMatching(/^tsvisor version \d+\.\d+\.\d+$/),
    });
    // And the rest of the configuration is this test's, private.
    expect({ cgroups: info.host.cgroupManager, events: info.host.eventLogger, graphRoot: info.store.graphRoot, runRoot: info.store.runRoot }).toEqual({
      cgroups: 'cgroupfs',
      events: 'file',
      graphRoot: path.join(pm().tmp, 'storage'),
      runRoot: path.join(pm().tmp, 'run'),
    });
  }, 240000);

  it('run --rm: output, -e, -w, -u and the exit status as with runc; uname -r is the sandbox\'s', async () => {
    const flags = ['-e', 'FOO=bar', '-w', '/tmp', '-u', '1000:1000'];
    const script = ['sh', '-c', 'echo $FOO; pwd; id; uname -r; echo err >&2; exit 7'];
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const r = run(rt, flags, script);
      const release = rt === 'tsvisor' ? SANDBOX_RELEASE : os.release();
      expect(r, rt).toEqual({ status: 7, stdout: `bar\n/tmp\nuid=1000(user) gid=1000(user) groups=1000(user)\n${release}\n`, stderr: 'err\n' });
      await expectGone(rt, []);
      seen[rt] = { ...r, stdout: r.stdout.replace(release, 'RELEASE') };
    }
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 240000);

  it('run -it: a terminal with the client\'s size, /dev/console, and the exit status, as with runc', async () => {
    const typed = 'tty; stty size; echo $((6*7)); ls -l /dev/console | cut -c1-10; exit 3\r';
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const r = runOnPty([pm().bin, 'run', '-it', '--rm', ...runtimeFlags(rt), PODMAN_IMAGE, 'sh'], [[/# /, typed]], { rows: 33, cols: 101, env: pm().env, timeoutMs: 90000 });
      expect(r.timedOut, r.output).toBe(false);
      expect(r.status, `${rt}: ${r.output}`).toBe(3);
      seen[rt] = r.output.slice(r.output.lastIndexOf(typed.replace(/\r$/, '')));
      expect(seen[rt], rt).toContain('\r\n/dev/pts/0\r\n33 101\r\n42\r\ncrw--w----\r\n');
      await expectGone(rt, []);
    }
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 240000);

  // conmon calls `exec ... --detach --tty --console-socket SOCK ID` for exec -it (runsc 20221219 rejects --tty).
  it('exec and exec -it into a running container, as with runc; conmon passes the runtime --log-format=json', async () => {
    const typed = 'tty; stty size; cat /proc/1/comm /proc/$$/comm; exit 5\r';
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const name = `exec-${rt}`;
      const c = await runDetached(rt, name, ['sleep', '1000'], 'sleep 1000');
      // The runtime's name decides whether conmon asks it for JSON logs (podman reads errors from them).
      const conmon = c.procs.find((q) => /^\S*conmon /.test(q.cmdline));
      expect(conmon?.cmdline, `conmon of ${name}`).toContain(' --runtime-arg --log-format=json ');
      if (rt === 'tsvisor') expect(conmon?.cmdline).toContain(` -r ${path.join(REPO, 'runsc-compat/runsc')} `);

      const plain = podman(pm(), ['exec', '-e', 'X=1', '-w', '/tmp', '-u', '1000', name, 'sh', '-c', 'echo $X; pwd; id -u; echo err >&2; exit 4']);
      expect(plain, rt).toEqual({ status: 4, stdout: '1\n/tmp\n1000\n', stderr: 'err\n' });
      const tty = runOnPty([pm().bin, 'exec', '-it', name, 'sh'], [[/# /, typed]], { rows: 30, cols: 90, env: pm().env, timeoutMs: 90000 });
      expect(tty.timedOut, tty.output).toBe(false);
      expect(tty.status, `${rt}: ${tty.output}`).toBe(5);
      const answer = tty.output.slice(tty.output.lastIndexOf(typed.replace(/\r$/, '')));
      expect(answer, rt).toContain('\r\n/dev/pts/0\r\n30 90\r\nsleep\r\nsh\r\n');

      const rm = podman(pm(), ['rm', '-f', '-t', '0', name]);
      expect(rm, rt).toEqual({ status: 0, stdout: `${name}\n`, stderr: '' });
      await expectGone(rt, c.procs, c.id);
      seen[rt] = { plain, tty: answer };
    }
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 300000);

  it('stop -t 2: SIGTERM is ignored by a handler-less PID 1 as with runc, SIGKILL follows: exited 137; logs; rm leaves nothing', async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const name = `stop-${rt}`;
      const c = await runDetached(rt, name, ['sh', '-c', 'echo hello-from-container; exec sleep 1000'], 'sleep 1000');
      const stop = podman(pm(), ['stop', '-t', '2', name]);
      expect({ status: stop.status, stdout: stop.stdout }, rt).toEqual({ status: 0, stdout: `${name}\n` });
      const warned = warnings(stop.stderr, name);
      expect(warned, rt).toBe('level=warning msg="StopSignal SIGTERM failed to stop container NAME in 2 seconds, resorting to SIGKILL"\n');
      await until(`${name} to be exited`, () => inspect(name, '{{.State.Status}}') === 'exited', 60000);
      const state = inspect(name, '{{.State.Status}} {{.State.ExitCode}} {{json .State.Error}}');
      expect(state, rt).toBe('exited 137 ""');
      const logs = podman(pm(), ['logs', name]);
      expect(logs, rt).toEqual({ status: 0, stdout: 'hello-from-container\n', stderr: '' });
      const rm = podman(pm(), ['rm', name]);
      expect(rm, rt).toEqual({ status: 0, stdout: `${name}\n`, stderr: '' });
      await expectGone(rt, c.procs, c.id);
      seen[rt] = { warned, state, logs };
    }
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 300000);

  it("the pid podman knows stands in the container's namespaces and shows its root, as with runc", async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const name = `pid-${rt}`;
      const c = await runDetached(rt, name, ['sleep', '1000'], 'sleep 1000');
      const pid = Number(inspect(name, '{{.State.Pid}}'));
      const nsId = (file: string) => {
        const st = fs.statSync(file);
        return `${st.dev}:${st.ino}`;
      };
      const hostOnes = ['net', 'ipc', 'uts', 'mnt', 'pid'].filter((ns) => nsId(`/proc/${pid}/ns/${ns}`) === nsId(`/proc/self/ns/${ns}`));
      const passwd = fs.readFileSync(`/proc/${pid}/root/etc/passwd`, 'utf8');
      podmanOk(pm(), ['rm', '-f', '-t', '0', name]);
      await expectGone(rt, c.procs, c.id);
      seen[rt] = { hostOnes, passwd };
    }
    expect(seen.tsvisor).toEqual({ hostOnes: [], passwd: 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n' });
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 240000);

  it("top lists the container's processes, not the host's, as with runc", async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const name = `top-${rt}`;
      const c = await runDetached(rt, name, ['sh', '-c', 'sleep 1000 & wait'], 'sleep 1000');
      const top = podman(pm(), ['top', name, 'pid', 'ppid', 'args']);
      podmanOk(pm(), ['rm', '-f', '-t', '0', name]);
      await expectGone(rt, c.procs, c.id);
      // Pids after 1 differ: runc's own set-up processes took some in the container's namespace.
      const rows = top.stdout.split('\n').map((l) => l.trim().split(/\s+/).map((f, i) => (i === 0 && /^\d+$/.test(f) && f !== '1' ? 'N' : f)).join(' '));
      seen[rt] = { ...top, stdout: rows };
    }
    expect(seen.tsvisor).toEqual({ status: 0, stdout: ['PID PPID COMMAND', '1 0 sh -c sleep 1000 & wait', 'N 1 sleep 1000', ''], stderr: '' });
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 240000);

  it("cp reads the container's files, never the host's; cp into a running container fails with EROFS (runc writes there), never reaching the host", async () => {
    const marker = `tsv-cp-${randomBytes(6).toString('hex')}`;
    const src = path.join(pm().tmp, marker);
    fs.writeFileSync(src, 'copied in\n');
    const outcomes: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const name = `cp-${rt}`;
      const c = await runDetached(rt, name, ['sh', '-c', 'echo made inside > /tmp/made; exec sleep 1000'], 'sleep 1000');
      const made = path.join(pm().tmp, `made-${rt}`);
      const out = {
        made: podman(pm(), ['cp', `${name}:/tmp/made`, made]),
        madeContent: '',
        // In the image and on the host, with other contents.
        passwd: podman(pm(), ['cp', `${name}:/etc/passwd`, '-']).status === 0,
        passwdContent: '',
        // On the host, not in the image.
        osRelease: podman(pm(), ['cp', `${name}:/etc/os-release`, path.join(pm().tmp, `os-release-${rt}`)]).status,
        into: podman(pm(), ['cp', src, `${name}:/tmp/${marker}`]),
        seenInside: podman(pm(), ['exec', name, 'cat', `/tmp/${marker}`]).stdout,
      };
      out.madeContent = fs.existsSync(made) ? fs.readFileSync(made, 'utf8') : '(none)';
      const tarOut = podman(pm(), ['cp', `${name}:/etc/passwd`, path.join(pm().tmp, `passwd-${rt}`)]);
      out.passwdContent = tarOut.status === 0 ? fs.readFileSync(path.join(pm().tmp, `passwd-${rt}`), 'utf8') : tarOut.stderr;
      podmanOk(pm(), ['rm', '-f', '-t', '0', name]);
      await expectGone(rt, c.procs, c.id);
      // The broken version wrote into the host's /tmp and read the host's /etc.
      expect(fs.existsSync(`/tmp/${marker}`), `${rt}: podman cp wrote into the host's /tmp`).toBe(false);
      outcomes[rt] = out;
    }
    const image = 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n';
    expect(outcomes.runc).toMatchObject({ made: { status: 0 }, madeContent: 'made inside\n', passwd: true, passwdContent: image, osRelease: 125, into: { status: 0 }, seenInside: 'copied in\n' });
    expect(outcomes.tsvisor).toMatchObject({ made: { status: 0 }, madeContent: 'made inside\n', passwd: true, passwdContent: image, osRelease: 125, into: { status: 125 }, seenInside: '' });
    expect((outcomes.tsvisor as { into: PodmanResult }).into.stderr).toContain(`open /tmp/${marker}: read-only file system`);
  }, 300000);

  it('kill: SIGKILL by default (exit 137); kill -s TERM reaches a PID 1 that handles it (its exit status); as with runc', async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const name = `kill-${rt}`;
      const c = await runDetached(rt, name, ['sleep', '1000'], 'sleep 1000');
      const kill = podman(pm(), ['kill', name]);
      expect(kill, rt).toEqual({ status: 0, stdout: `${name}\n`, stderr: '' });
      const wait = podman(pm(), ['wait', name]);
      expect(wait, rt).toEqual({ status: 0, stdout: '137\n', stderr: '' });
      await until(`${name} to be exited`, () => inspect(name, '{{.State.Status}}') === 'exited', 60000);
      const state = inspect(name, '{{.State.Status}} {{.State.ExitCode}} {{json .State.Error}}');
      expect(state, rt).toBe('exited 137 ""');
      podmanOk(pm(), ['rm', name]);
      await expectGone(rt, c.procs, c.id);

      const tname = `term-${rt}`;
      const t = await runDetached(rt, tname, ['sh', '-c', 'trap "echo got-term; exit 9" TERM; echo ready; while :; do sleep 0.2; done'], 'sleep 0.2');
      await until(`${tname} to say ready`, () => podman(pm(), ['logs', tname]).stdout === 'ready\n', 60000);
      const term = podman(pm(), ['kill', '-s', 'TERM', tname]);
      expect(term, rt).toEqual({ status: 0, stdout: `${tname}\n`, stderr: '' });
      const twait = podman(pm(), ['wait', tname]);
      expect(twait, rt).toEqual({ status: 0, stdout: '9\n', stderr: '' });
      const tlogs = podman(pm(), ['logs', tname]);
      expect(tlogs, rt).toEqual({ status: 0, stdout: 'ready\ngot-term\n', stderr: '' });
      await until(`${tname} to be exited`, () => inspect(tname, '{{.State.Status}}') === 'exited', 60000);
      podmanOk(pm(), ['rm', tname]);
      await expectGone(rt, t.procs, t.id);
      seen[rt] = { kill: wait.stdout, state, term: twait.stdout, logs: tlogs.stdout };
    }
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 300000);
});
