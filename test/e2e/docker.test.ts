// The real Docker daemon (Debian's docker.io 20.10) with `--runtime=tsvisor`,
// compared with `--runtime=runc` wherever the two should behave alike. A
// private dockerd runs for this file only (docker-helpers.ts), with a normal
// install's networking (the default bridge docker0, iptables); the image is
// a busybox root imported locally, so no registry is needed.
import { SANDBOX_RELEASE } from './harness.js';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  COVERAGE_RUNTIME,
  type DockerDaemon,
  type DockerResult,
  IMAGE,
  buildBusyboxImage,
  containerProcesses,
  coverageDir,
  docker,
  dockerOk,
  startDocker,
  stopDocker,
  until,
} from './docker-helpers.js';
import { privateSetup } from './daemon-helpers.js';
import { type ProcInfo, procInfo, waitGone } from './robust-helpers.js';
import { runOnPty } from '../helpers/pty.js';

type Runtime = 'tsvisor' | 'runc';
/** dockerd's forwarding warning as it reaches a terminal. */
const FORWARDING_WARNING_TTY = 'WARNING: IPv4 forwarding is disabled. Networking will not work.\r\n';
const RUNTIMES: Runtime[] = ['tsvisor', 'runc'];

const daemon: () => DockerDaemon = privateSetup('the private dockerd', startDocker, stopDocker, { prepare: buildBusyboxImage, startMs: 120000 });

/** `docker run --rm --runtime=RT [flags] IMAGE argv...` */
function run(rt: Runtime, flags: string[], argv: string[]): DockerResult {
  return docker(daemon(), ['run', '--rm', `--runtime=${rt}`, ...flags, IMAGE, ...argv]);
}

function outcome(r: DockerResult): { status: number | null; stdout: string; stderr: string } {
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function inspect(id: string, format: string): string {
  return dockerOk(daemon(), ['inspect', '--format', format, id]).trim();
}

/** `docker top ID` (ps -ef): the PID and CMD columns of each row. */
function top(id: string): { pid: number; cmd: string }[] {
  const r = docker(daemon(), ['top', id]);
  if (r.status !== 0) return [];
  const [header, ...rows] = r.stdout.split('\n').filter(Boolean);
  const cols = header!.trim().split(/\s+/);
  const pidCol = cols.indexOf('PID');
  const cmdCol = cols.indexOf('CMD');
  expect([pidCol, cmdCol], header).toEqual([1, cols.length - 1]);
  return rows.map((row) => {
    const f = row.trim().split(/\s+/);
    return { pid: Number(f[pidCol]), cmd: f.slice(cmdCol).join(' ') };
  });
}

/** `docker run -d --runtime=RT [flags] IMAGE argv...`; waits until `docker top` shows `cmd`. Returns the id and the processes. */
async function runDetached(rt: Runtime, argv: string[], cmd: string, flags: string[] = []) {
  const r = docker(daemon(), ['run', '-d', `--runtime=${rt}`, ...flags, IMAGE, ...argv]);
  expect(r.status, r.stderr).toBe(0);
  const id = r.stdout.trim();
  expect(id).toMatch(/^[0-9a-f]{64}$/);
  let rows: { pid: number; cmd: string }[] = [];
  await until(`docker top ${id.slice(0, 12)} (${rt}) to list ${cmd}`, () => {
    rows = top(id);
    return rows.length === 1 && rows[0]!.cmd === cmd;
  });
  const topProcs = rows.map((row) => procInfo(row.pid)).filter((p): p is ProcInfo => p !== undefined);
  expect(topProcs.length, `the pids docker top listed exist on the host (${rt})`).toBe(rows.length);
  // The shim and everything below it: for tsvisor the Sentry and the Gofer too.
  const all = containerProcesses(daemon(), id);
  for (const p of topProcs) expect(all.map((q) => q.pid)).toContain(p.pid);
  return { id, rows, procs: all };
}

/** After `docker rm`: the container is unknown and none of its processes is left. */
async function expectGone(id: string, procs: ProcInfo[], rt: Runtime): Promise<void> {
  expect(dockerOk(daemon(), ['ps', '-aq', '--no-trunc', '--filter', `id=${id}`])).toBe('');
  const left = await waitGone(procs, 10000);
  expect(left.map((p) => `${p.pid} ${p.cmdline}`), `processes of the ${rt} container left behind`).toEqual([]);
  expect(containerProcesses(daemon(), id)).toEqual([]);
}

describe('docker run --runtime=tsvisor', () => {
  it('uname -r is the sandbox kernel release; runc shows the host one', () => {
    const t = run('tsvisor', [], ['uname', '-r']);
    expect(outcome(t)).toEqual({ status: 0, stdout: `${SANDBOX_RELEASE}\n`, stderr: '' });
    const r = run('runc', [], ['uname', '-r']);
    expect(outcome(r)).toEqual({ status: 0, stdout: `${os.release()}\n`, stderr: '' });
    expect(r.stdout).not.toBe(t.stdout);
  });

  it('the exit status of the container is docker run\'s, as with runc', () => {
    const t = run('tsvisor', [], ['sh', '-c', 'exit 7']);
    const r = run('runc', [], ['sh', '-c', 'exit 7']);
    expect(outcome(t)).toEqual({ status: 7, stdout: '', stderr: '' });
    expect(outcome(t)).toEqual(outcome(r));
  });

  it('-e, -w and -u reach the process as with runc', () => {
    const flags = ['-e', 'FOO=bar', '-w', '/tmp', '-u', '1000:1000'];
    const script = ['sh', '-c', 'echo $FOO; pwd; id'];
    const t = run('tsvisor', flags, script);
    const r = run('runc', flags, script);
    expect(outcome(t)).toEqual({ status: 0, stdout: 'bar\n/tmp\nuid=1000(user) gid=1000(user) groups=1000(user)\n', stderr: '' });
    expect(outcome(t)).toEqual(outcome(r));
  });

  it('-v HOSTDIR:/data: the container reads host files, and its writes land on the host with the same owners as with runc', () => {
    const trees: Record<string, string[]> = {};
    for (const rt of RUNTIMES) {
      const host = path.join(daemon().tmp, `vol-${rt}`);
      fs.mkdirSync(host);
      fs.chmodSync(host, 0o777);
      fs.writeFileSync(path.join(host, 'existing'), 'from the host\n');
      const asRoot = run(rt, ['-v', `${host}:/data`], ['sh', '-c', 'cat /data/existing; echo from-container > /data/out; mkdir /data/sub; echo nested > /data/sub/file']);
      expect(outcome(asRoot), rt).toEqual({ status: 0, stdout: 'from the host\n', stderr: '' });
      const asUser = run(rt, ['-u', '1000:1000', '-v', `${host}:/data`], ['sh', '-c', 'echo by-user > /data/user-file']);
      expect(outcome(asUser), rt).toEqual({ status: 0, stdout: '', stderr: '' });
      expect(fs.readFileSync(path.join(host, 'out'), 'utf8')).toBe('from-container\n');
      expect(fs.readFileSync(path.join(host, 'sub/file'), 'utf8')).toBe('nested\n');
      expect(fs.readFileSync(path.join(host, 'user-file'), 'utf8')).toBe('by-user\n');
      trees[rt] = ['existing', 'out', 'sub', 'sub/file', 'user-file'].map((f) => {
        const st = fs.lstatSync(path.join(host, f));
        return `${f} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() ? 'dir' : fs.readFileSync(path.join(host, f), 'utf8').trim()}`;
      });
    }
    expect(trees.tsvisor).toEqual([
      'existing 644 0:0 from the host',
      'out 644 0:0 from-container',
      'sub 755 0:0 dir',
      'sub/file 644 0:0 nested',
      'user-file 644 1000:1000 by-user',
    ]);
    expect(trees.tsvisor).toEqual(trees.runc);
  });

  it('--read-only: writing the root fails with "Read-only file system", as with runc', () => {
    const t = run('tsvisor', ['--read-only'], ['touch', '/x']);
    const r = run('runc', ['--read-only'], ['touch', '/x']);
    expect(outcome(t)).toEqual({ status: 1, stdout: '', stderr: 'touch: /x: Read-only file system\n' });
    expect(outcome(t)).toEqual(outcome(r));
  });

  it('--network none: runs, and the hostname is the short container id, as with runc', () => {
    for (const rt of RUNTIMES) {
      const cidfile = path.join(daemon().tmp, `cid-none-${rt}`);
      const res = run(rt, ['--network', 'none', '--cidfile', cidfile], ['sh', '-c', 'cat /etc/hostname; hostname']);
      const short = fs.readFileSync(cidfile, 'utf8').trim().slice(0, 12);
      expect(short).toMatch(/^[0-9a-f]{12}$/);
      expect(outcome(res), rt).toEqual({ status: 0, stdout: `${short}\n${short}\n`, stderr: '' });
    }
  });

  it('--network host: runs, and the hostname is the host\'s, as with runc', () => {
    const script = ['sh', '-c', 'cat /etc/hostname; hostname'];
    const t = run('tsvisor', ['--network', 'host'], script);
    const r = run('runc', ['--network', 'host'], script);
    expect(outcome(t)).toEqual({ status: 0, stdout: `${os.hostname()}\n${os.hostname()}\n`, stderr: '' });
    expect(outcome(t)).toEqual(outcome(r));
  });

  it('run -d, top, logs, stop -t 2, rm: as with runc, and no process is left', async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      // PID 1 is sleep, with no handler: SIGTERM does nothing, stop needs its SIGKILL.
      const c = await runDetached(rt, ['sh', '-c', 'echo hello-from-container; exec sleep 1000'], 'sleep 1000');
      let logs: DockerResult | undefined;
      await until(`docker logs (${rt})`, () => (logs = docker(daemon(), ['logs', c.id])).stdout !== '');
      expect(outcome(logs!), rt).toEqual({ status: 0, stdout: 'hello-from-container\n', stderr: '' });

      const stop = docker(daemon(), ['stop', '-t', '2', c.id]);
      expect(outcome(stop), rt).toEqual({ status: 0, stdout: `${c.id}\n`, stderr: '' });
      expect(stop.ms, `docker stop -t 2 took ${stop.ms} ms (${rt})`).toBeGreaterThanOrEqual(1900);
      expect(stop.ms, `docker stop -t 2 took ${stop.ms} ms (${rt})`).toBeLessThan(4500);
      const state = inspect(c.id, '{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}} {{json .State.Error}}');
      expect(state, rt).toBe('exited 137 false ""');

      const rm = docker(daemon(), ['rm', c.id]);
      expect(outcome(rm), rt).toEqual({ status: 0, stdout: `${c.id}\n`, stderr: '' });
      await expectGone(c.id, c.procs, rt);
      seen[rt] = { top: c.rows.map((row) => row.cmd), logs: logs!.stdout, state };
    }
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 120000);

  // Each stop ends with the runtime's `delete`, which bin/tsvisor answers
  // itself for a container without poststop hooks (Docker's): what it
  // leaves must be what runc leaves, nothing, and a restart must start afresh.
  it('stop, restart -t 1, stop: exit statuses, logs and a fresh start as with runc; no runtime state or cgroup is left after each stop', async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const r = docker(daemon(), ['run', '-d', `--runtime=${rt}`, IMAGE, 'sh', '-c', "trap 'exit 0' TERM; echo started; sleep 1000 & wait"]);
      expect(r.status, r.stderr).toBe(0);
      const c = { id: r.stdout.trim(), procs: [] as ProcInfo[] };
      const stateDirs = () => fs.readdirSync(path.join(daemon().tmp, 'exec')).flatMap((d) => {
        const dir = path.join(daemon().tmp, 'exec', d, 'moby', c.id);
        return d.startsWith('runtime-') && fs.existsSync(dir) ? [dir] : [];
      });
      const cgroupDirs = () => spawnSync('find', ['/sys/fs/cgroup', '-maxdepth', '6', '-type', 'd', '-name', c.id], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      expect(stateDirs().length, rt).toBe(1);
      expect(cgroupDirs().length, rt).toBeGreaterThan(0);
      const steps: unknown[] = [];
      const stopped = async (what: string) => {
        await until(`the ${rt} container to stop (${what})`, () => inspect(c.id, '{{.State.Running}}') === 'false');
        expect({ what, state: stateDirs(), cgroups: cgroupDirs() }, rt).toEqual({ what, state: [], cgroups: [] });
        steps.push(inspect(c.id, `${what} {{.State.Status}} {{.State.ExitCode}} {{json .State.Error}}`));
      };
      // Until the shell has set its trap.
      await until(`docker logs (${rt})`, () => docker(daemon(), ['logs', c.id]).stdout === 'started\n');
      c.procs = containerProcesses(daemon(), c.id);
      expect(outcome(docker(daemon(), ['stop', c.id])), rt).toEqual({ status: 0, stdout: `${c.id}\n`, stderr: '' });
      await stopped('stop');
      const firstPid = inspect(c.id, '{{.State.Pid}}');
      expect(outcome(docker(daemon(), ['restart', '-t', '1', c.id])), rt).toEqual({ status: 0, stdout: `${c.id}\n`, stderr: '' });
      await until(`docker logs after restart (${rt})`, () => docker(daemon(), ['logs', c.id]).stdout === 'started\nstarted\n');
      steps.push(inspect(c.id, 'restart {{.State.Status}} {{.State.Running}} {{.RestartCount}}'));
      expect(inspect(c.id, '{{.State.Pid}}'), rt).not.toBe(firstPid);
      expect(stateDirs().length, rt).toBe(1);
      expect(outcome(docker(daemon(), ['stop', '-t', '1', c.id])), rt).toEqual({ status: 0, stdout: `${c.id}\n`, stderr: '' });
      await stopped('stop again');
      const procs = containerProcesses(daemon(), c.id);
      expect(outcome(docker(daemon(), ['rm', c.id])), rt).toEqual({ status: 0, stdout: `${c.id}\n`, stderr: '' });
      await expectGone(c.id, [...c.procs, ...procs], rt);
      seen[rt] = steps;
    }
    expect(seen.tsvisor).toEqual(['stop exited 0 ""', 'restart running true 0', 'stop again exited 0 ""']);
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 120000);

  it('--tmpfs with size and mode, --shm-size: the mounts, their flags (noexec), df and ENOSPC, as with runc', () => {
    const script = [
      // Mount ids and device numbers differ between runtimes: fields 4 on.
      'grep -E " /(data|dev/shm) " /proc/self/mountinfo | cut -d" " -f4-',
      'df -k /data /dev/shm | tail -2 | tr -s " " | cut -d" " -f1,2,6; stat -c "%a" /data',
      'dd if=/dev/zero of=/data/f bs=1k count=2048 2>&1 | head -1; rm /data/f',
      'cp /bin/busybox /data/bb; /data/bb true; echo "[$?]"',
    ].join('; ');
    const flags = ['--tmpfs', '/data:size=1m,mode=1770', '--shm-size', '2m'];
    const t = run('tsvisor', flags, ['sh', '-c', script]);
    const r = run('runc', flags, ['sh', '-c', script]);
    expect(t.stdout).toContain('/data rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,size=1024k,mode=1770\n');
    expect(t.stdout).toContain('/dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=2048k\n');
    expect(t.stdout).toContain("dd: error writing '/data/f': No space left on device\n");
    expect(outcome(t)).toEqual(outcome(r));
  });

  it('--device: the host\'s /dev/loop-control and /dev/zero at another path, read and written as with runc', () => {
    const script = 'ls -l /dev/loop-control /dev/myzero | tr -s " " | cut -d" " -f1,5,6,10; head -c 3 /dev/myzero | od -An -tx1; echo x > /dev/loop-control; echo "[$?]"';
    const flags = ['--device', '/dev/loop-control', '--device', '/dev/zero:/dev/myzero'];
    const t = run('tsvisor', flags, ['sh', '-c', script]);
    const r = run('runc', flags, ['sh', '-c', script]);
    expect(outcome(t)).toMatchObject({ status: 0, stderr: 'sh: write error: Invalid argument\n' });
    expect(outcome(t)).toEqual(outcome(r));
  });

  it('docker top: the same processes and commands as with runc; the UID column shows the host ids of the sandbox\'s user namespace', async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const c = await runDetached(rt, ['sleep', '1000'], 'sleep 1000', ['-u', '123']);
      // docker top needs the PID column to pick the container's rows from the host's ps.
      const rows = dockerOk(daemon(), ['top', c.id, '-o', 'pid,uid,args']).trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/).slice(1));
      seen[rt] = rows;
      dockerOk(daemon(), ['rm', '-f', c.id]);
    }
    expect(seen.runc).toEqual([['123', 'sleep', '1000']]);
    // docs/design.md, "docker top": without a user namespace in the spec the guest's uid 123 is 1000000123 on the host (with one, the spec's ids: docker-userns.test.ts).
    expect(seen.tsvisor).toEqual([['1000000123', 'sleep', '1000']]);
  }, 120000);

  it('kill on a running container, then rm: as with runc, and no process is left', async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const c = await runDetached(rt, ['sleep', '1000'], 'sleep 1000');
      const kill = docker(daemon(), ['kill', c.id]);
      expect(outcome(kill), rt).toEqual({ status: 0, stdout: `${c.id}\n`, stderr: '' });
      await until(`the ${rt} container to stop after docker kill`, () => inspect(c.id, '{{.State.Running}}') === 'false');
      const state = inspect(c.id, '{{.State.Status}} {{.State.ExitCode}} {{json .State.Error}}');
      expect(state, rt).toBe('exited 137 ""');
      const rm = docker(daemon(), ['rm', c.id]);
      expect(outcome(rm), rt).toEqual({ status: 0, stdout: `${c.id}\n`, stderr: '' });
      await expectGone(c.id, c.procs, rt);
      seen[rt] = state;
    }
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 120000);

  it('a command that does not exist: docker run fails with status 127 and says why', () => {
    const notFound = 'exec: "nonexistent-cmd": executable file not found in $PATH';
    const runOnce = (rt: Runtime) => {
      const name = `nx-${rt}`;
      const res = docker(daemon(), ['run', '--name', name, `--runtime=${rt}`, IMAGE, 'nonexistent-cmd']);
      const state = inspect(name, '{{.State.Status}} {{.State.ExitCode}}');
      const error = inspect(name, '{{.State.Error}}');
      const logs = docker(daemon(), ['logs', name]);
      dockerOk(daemon(), ['rm', name]);
      return { res, state, error, logs };
    };
    const r = runOnce('runc');
    const t = runOnce('tsvisor');

    // runc and tsvisor both refuse at `create`: the daemon reports the OCI
    // error with status 127, the container stays "created" with the error in
    // its state, and it printed nothing.
    for (const [rt, x] of [['runc', r], ['tsvisor', t]] as const) {
      expect(x.res.status, rt).toBe(127);
      expect(x.res.stdout, rt).toBe('');
      expect(x.res.stderr, rt).toContain('docker: Error response from daemon: failed to create shim task: OCI runtime create failed');
      expect(x.res.stderr, rt).toContain(`unable to start container process: ${notFound}`);
      expect(x.state, rt).toBe('created 127');
      expect(x.error, rt).toContain(notFound);
      expect(x.logs.stdout + x.logs.stderr, rt).toBe('');
    }
  });
});

/** A TCP port nothing on the host listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '0.0.0.0', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** `GET http://HOST:PORT/` with busybox-like results: the body, or the error's code. */
function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port, timeout: 5000 }, () => sock.end(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`));
    let data = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (data += d));
    sock.on('end', () => resolve(data.slice(data.indexOf('\r\n\r\n') + 4)));
    sock.on('timeout', () => sock.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    sock.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
  });
}

/** A namespace's identity: the device and inode of its nsfs file. */
function nsId(file: string): string {
  const st = fs.statSync(file);
  return `${st.dev}:${st.ino}`;
}

/** A web server in the container: busybox httpd on port 80, serving "served by HOSTNAME". */
const WEB_SERVER = ['sh', '-c', 'mkdir -p /tmp/www && echo "served by $(hostname)" > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www'];

describe('bridge networking (docker0, the default)', () => {
  it('docker run: eth0 has an address on docker0\'s network, and the pid Docker knows stands in the container\'s network namespace, as with runc', async () => {
    const seen: Record<string, unknown> = {};
    const docker0 = fs.readFileSync('/sys/class/net/docker0/address', 'utf8').trim();
    expect(docker0, 'docker0 exists').toMatch(/^[0-9a-f:]+$/);
    for (const rt of RUNTIMES) {
      const r = run(rt, [], ['sh', '-c', 'ip -4 -o addr show dev eth0 | grep -o "inet [0-9.]*/[0-9]*"; ip route | grep ^default | cut -d" " -f1-3']);
      expect(r.status, `${rt}: ${r.stderr}`).toBe(0);
      expect(r.stdout, rt).toMatch(/^inet 172\.17\.\d+\.\d+\/16\ndefault via 172\.17\.0\.1\n$/);
      const c = await runDetached(rt, ['sleep', '1000'], 'sleep 1000');
      const pid = Number(inspect(c.id, '{{.State.Pid}}'));
      const sandboxKey = inspect(c.id, '{{.NetworkSettings.SandboxKey}}');
      expect(nsId(`/proc/${pid}/ns/net`), `${rt}: the network namespace of pid ${pid}`).toBe(nsId(sandboxKey));
      expect(nsId(`/proc/${pid}/ns/net`), rt).not.toBe(nsId('/proc/self/ns/net'));
      dockerOk(daemon(), ['rm', '-f', c.id]);
      await expectGone(c.id, c.procs, rt);
      seen[rt] = r.stdout.replace(/172\.17\.\d+\.\d+/, 'ADDRESS');
    }
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 120000);

  it('run -p PORT:80: a server in the container answers on the host\'s port, as with runc', async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const port = await freePort();
      const c = await runDetached(rt, WEB_SERVER, 'httpd -f -p 80 -h /tmp/www', ['-p', `${port}:80`]);
      const short = c.id.slice(0, 12);
      let body = '';
      for (let i = 0; i < 100 && !body.startsWith('served'); i++) {
        body = await httpGet('127.0.0.1', port);
        if (!body.startsWith('served')) await new Promise((r) => setTimeout(r, 100));
      }
      expect(body, rt).toBe(`served by ${short}\n`);
      dockerOk(daemon(), ['rm', '-f', c.id]);
      await expectGone(c.id, c.procs, rt);
      seen[rt] = body.replace(short, 'ID');
    }
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 120000);

  it('a user-defined network: one container reaches another by name, as with runc', async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const network = `tsv-net-${rt}`;
      dockerOk(daemon(), ['network', 'create', network]);
      const server = await runDetached(rt, WEB_SERVER, 'httpd -f -p 80 -h /tmp/www', ['--network', network, '--name', `web-${rt}`]);
      let r: DockerResult | undefined;
      for (let i = 0; i < 50 && r?.status !== 0; i++) {
        r = run(rt, ['--network', network], ['wget', '-q', '-O', '-', `http://web-${rt}/`]);
        if (r.status !== 0) await new Promise((res) => setTimeout(res, 200));
      }
      expect(outcome(r!), rt).toEqual({ status: 0, stdout: `served by ${server.id.slice(0, 12)}\n`, stderr: '' });
      dockerOk(daemon(), ['rm', '-f', server.id]);
      await expectGone(server.id, server.procs, rt);
      dockerOk(daemon(), ['network', 'rm', network]);
      seen[rt] = r!.stdout.replace(server.id.slice(0, 12), 'ID');
    }
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 180000);
});

describe('terminals and exec', () => {
  /** What the command typed at the prompt printed (after its echo), without dockerd's forwarding warning. */
  const answer = (out: string, typed: string) => {
    const s = out.split(FORWARDING_WARNING_TTY).join('');
    const at = s.lastIndexOf(typed.replace(/\r$/, ''));
    return at < 0 ? s : s.slice(at);
  };

  it('run -it: a terminal with the client\'s size, /dev/console, and the exit status, as with runc', () => {
    const typed = 'tty; stty size; echo $((6*7)); ls -l /dev/console | cut -c1-10; exit 3\r';
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const r = runOnPty([daemon().client, '-H', `unix://${daemon().sock}`, 'run', '-it', '--rm', `--runtime=${rt}`, IMAGE, 'sh'], [[/# /, typed]], {
        rows: 33,
        cols: 101,
        env: daemon().env,
      });
      expect(r.timedOut, r.output).toBe(false);
      expect(r.status, rt).toBe(3);
      seen[rt] = answer(r.output, typed);
      expect(seen[rt], rt).toContain('\r\n/dev/pts/0\r\n33 101\r\n42\r\ncrw--w----\r\n');
    }
    expect(seen.tsvisor).toEqual(seen.runc);
  });

  it('exec and exec -it into a running container, as with runc', async () => {
    const typed = 'tty; stty size; cat /proc/1/comm /proc/$$/comm; exit 5\r';
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const c = await runDetached(rt, ['sleep', '1000'], 'sleep 1000');
      const plain = docker(daemon(), ['exec', '-e', 'X=1', '-w', '/tmp', '-u', '1000', c.id, 'sh', '-c', 'echo $X; pwd; id -u; echo err >&2; exit 4']);
      expect(outcome(plain), rt).toEqual({ status: 4, stdout: '1\n/tmp\n1000\n', stderr: 'err\n' });
      const missing = docker(daemon(), ['exec', c.id, 'nonexistent-cmd']);
      expect(missing.status, rt).toBe(126);
      // docker exec prints the runtime's error on stdout.
      expect(missing.stdout, rt).toContain('unable to start container process: exec: "nonexistent-cmd": executable file not found in $PATH');
      const tty = runOnPty([daemon().client, '-H', `unix://${daemon().sock}`, 'exec', '-it', c.id, 'sh'], [[/# /, typed]], {
        rows: 30,
        cols: 90,
        env: daemon().env,
      });
      expect(tty.timedOut, tty.output).toBe(false);
      expect(tty.status, rt).toBe(5);
      expect(answer(tty.output, typed), rt).toContain('\r\n/dev/pts/0\r\n30 90\r\nsleep\r\nsh\r\n');
      const rm = docker(daemon(), ['rm', '-f', c.id]);
      expect(rm.status, rm.stderr).toBe(0);
      await expectGone(c.id, c.procs, rt);
      seen[rt] = { plain: outcome(plain), tty: answer(tty.output, typed) };
    }
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 120000);
});

describe('cgroups: pause, update and resource limits', () => {
  /** The container's file in a cgroup v1 hierarchy (dockerd's cgroupfs driver puts containers at /docker/ID). */
  const cgroupFile = (id: string, controller: string, file: string) => fs.readFileSync(path.join('/sys/fs/cgroup', controller, 'docker', id, file), 'utf8').trim();
  const logLines = (id: string) => docker(daemon(), ['logs', id]).stdout.split('\n').filter(Boolean).length;
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('pause stops a counting container and unpause lets it go on, as with runc', async () => {
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const id = dockerOk(daemon(), ['run', '-d', `--runtime=${rt}`, IMAGE, 'sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done']).trim();
      await until(`the ${rt} container to count`, () => logLines(id) >= 3);
      const steps: unknown[] = [outcome(docker(daemon(), ['pause', id])), inspect(id, '{{.State.Status}} {{.State.Paused}}')];
      const frozenAt = logLines(id);
      await pause(1000);
      expect(logLines(id), `the ${rt} container counted while paused`).toBe(frozenAt);
      steps.push(outcome(docker(daemon(), ['unpause', id])), inspect(id, '{{.State.Status}} {{.State.Paused}}'));
      await until(`the ${rt} container to count again`, () => logLines(id) > frozenAt + 3);
      dockerOk(daemon(), ['rm', '-f', id]);
      seen[rt] = steps.map((s) => (typeof s === 'string' ? s : { ...(s as object), stdout: (s as { stdout: string }).stdout.replace(id, 'ID') }));
    }
    expect(seen.tsvisor).toEqual([{ status: 0, stdout: 'ID\n', stderr: '' }, 'paused true', { status: 0, stdout: 'ID\n', stderr: '' }, 'running false']);
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 120000);

  it('update --memory changes the container\'s cgroup files, as with runc', () => {
    const files = (id: string) => [cgroupFile(id, 'memory', 'memory.limit_in_bytes'), cgroupFile(id, 'memory', 'memory.memsw.limit_in_bytes'), cgroupFile(id, 'pids', 'pids.max')];
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const id = dockerOk(daemon(), ['run', '-d', `--runtime=${rt}`, '--memory', '64m', '--pids-limit', '20', IMAGE, 'sleep', '1000']).trim();
      const before = files(id);
      const update = docker(daemon(), ['update', '--memory', '128m', '--memory-swap', '256m', '--pids-limit', '30', id]);
      seen[rt] = { before, update: outcome(update).status, after: files(id) };
      dockerOk(daemon(), ['rm', '-f', id]);
    }
    expect(seen.tsvisor).toEqual({ before: [String(64 << 20), String(128 << 20), '20'], update: 0, after: [String(128 << 20), String(256 << 20), '30'] });
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 120000);

  it('run --memory 64m: a guest that allocates more is OOM-killed, exit status 137, as with runc', () => {
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const name = `oom-${rt}`;
      const r = docker(daemon(), ['run', '--name', name, `--runtime=${rt}`, '--memory', '64m', '--memory-swap', '64m', IMAGE, 'sh', '-c', 'echo start; x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived']);
      seen[rt] = { run: outcome(r), state: inspect(name, '{{.State.ExitCode}} {{.State.OOMKilled}}') };
      dockerOk(daemon(), ['rm', name]);
    }
    // Docker learns of the OOM kill from the memory cgroup of the pid-file process: tsvisor's sandbox process is in it.
    expect(seen.tsvisor).toMatchObject({ run: { status: 137, stdout: 'start\n' }, state: '137 true' });
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 120000);

  it('run --pids-limit: forks past the limit fail at the same count as with runc', () => {
    const script = 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo $i; sleep 5 & done; echo finished';
    const t = run('tsvisor', ['--pids-limit', '6'], ['sh', '-c', script]);
    const r = run('runc', ['--pids-limit', '6'], ['sh', '-c', script]);
    expect(outcome(t)).toEqual({ status: 2, stdout: '1\n2\n3\n4\n5\n6\n', stderr: "sh: can't fork: Resource temporarily unavailable\n" });
    expect(outcome(t)).toEqual(outcome(r));
  }, 120000);

  it('/sys/fs/cgroup shows the container\'s own limits, read-only, as with runc', () => {
    const flags = ['--memory', '64m', '--pids-limit', '50', '--cpus', '0.5'];
    const script = [
      'cd /sys/fs/cgroup',
      'cat memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes cpu/cpu.cfs_quota_us pids/pids.max',
      'u=$(cat memory/memory.usage_in_bytes); [ "$u" -gt 0 ] && [ "$u" -le 67108864 ] && echo usage-in-range',
      'echo 1 > memory/memory.limit_in_bytes || echo refused',
    ].join('; ');
    const t = run('tsvisor', flags, ['sh', '-c', script]);
    const r = run('runc', flags, ['sh', '-c', script]);
    expect(outcome(t)).toEqual({
      status: 0,
      stdout: `${64 << 20}\n${128 << 20}\n50000\n50\nusage-in-range\nrefused\n`,
      stderr: "sh: can't create memory/memory.limit_in_bytes: Read-only file system\n",
    });
    expect(outcome(t)).toEqual(outcome(r));
  }, 120000);

  it('docker stats counts the container\'s processes, as with runc', async () => {
    const pids: Record<string, string> = {};
    for (const rt of RUNTIMES) {
      const started = docker(daemon(), ['run', '-d', `--runtime=${rt}`, IMAGE, 'sh', '-c', 'sleep 1000 & sleep 1000 & exec sleep 1001']);
      expect(started.status, started.stderr).toBe(0);
      const id = started.stdout.trim();
      const procs = containerProcesses(daemon(), id);
      // Three processes: the two sleeps in the background and the shell, which became the third.
      await until(`docker stats ${id.slice(0, 12)} (${rt}) to count 3`, () => {
        pids[rt] = dockerOk(daemon(), ['stats', '--no-stream', '--format', '{{.PIDs}}', id]).trim();
        return pids[rt] === '3';
      });
      dockerOk(daemon(), ['rm', '-f', id]);
      await expectGone(id, procs, rt);
    }
    expect(pids).toEqual({ tsvisor: '3', runc: '3' });
  }, 120000);
});

/** The coverage report the coverage runtime wrote for container `id` (src/coverage/report.ts's Report). */
interface CoverageReport {
  command: string[];
  exitStatus: number;
  truncated: boolean;
  totals: { calls: number; errors: number };
  syscalls: { name: string; calls: number; errors: number; errnos: Record<string, number> }[];
  executables: { path: string; processes: number; calls: number }[];
  processes: { pid: number; parentPid: number | null; executables: string[]; calls: number; syscalls: { name: string; calls: number; errors: number }[] }[];
}

function coverageReport(id: string): CoverageReport {
  return JSON.parse(fs.readFileSync(path.join(coverageDir(daemon()), `${id}.json`), 'utf8')) as CoverageReport;
}

/** name -> [calls, errors] */
function callsOf(rows: { name: string; calls: number; errors: number }[]): Record<string, [number, number]> {
  return Object.fromEntries(rows.map((s) => [s.name, [s.calls, s.errors]]));
}

describe(`docker run --runtime=${COVERAGE_RUNTIME} (runtimeArgs --coverage-dir): one coverage report per container`, () => {
  it('a container that forks and execs: its report names the command, its exit status, every process and the calls each made', () => {
    const cidfile = path.join(daemon().tmp, 'cid-coverage');
    // Two fork+execs (echo, ls), each writing one line; ls's stat fails.
    const script = ['sh', '-c', '/bin/echo hello; /bin/ls /nonexistent; exit 7'];
    const t = docker(daemon(), ['run', '--rm', `--runtime=${COVERAGE_RUNTIME}`, '--cidfile', cidfile, IMAGE, ...script]);
    const r = run('runc', [], script);
    expect(outcome(t)).toEqual({ status: 7, stdout: 'hello\n', stderr: 'ls: /nonexistent: No such file or directory\n' });
    expect(outcome(t)).toEqual(outcome(r));

    const id = fs.readFileSync(cidfile, 'utf8').trim();
    const report = coverageReport(id);
    expect(report.command).toEqual(script);
    expect(report.exitStatus).toBe(7);
    expect(report.truncated).toBe(false);
    const all = callsOf(report.syscalls);
    // The first exec (sh's) is the launcher's and left out: echo's and ls's remain.
    expect(all.execve).toEqual([2, 0]);
    expect(all.clone).toEqual([2, 0]);
    expect(all.write).toEqual([2, 0]);
    expect(all.exit_group).toEqual([3, 0]);
    expect(report.syscalls.find((s) => s.name === 'newfstatat')?.errnos).toEqual({ ENOENT: 1 });
    expect(report.totals.calls).toBe(report.syscalls.reduce((n, s) => n + s.calls, 0));
    // busybox is every process's executable: sh, then echo and ls after their exec.
    expect(report.executables.map((e) => [e.path, e.processes])).toEqual([['/bin/busybox', 3]]);
    expect(report.processes.map((p) => [p.pid, p.parentPid, p.executables])).toEqual([
      [1, null, ['/bin/busybox']],
      [2, 1, ['/bin/busybox', '/bin/busybox']],
      [3, 1, ['/bin/busybox', '/bin/busybox']],
    ]);
    const [sh, echo, ls] = report.processes.map((p) => callsOf(p.syscalls));
    expect([sh!.write, echo!.write, ls!.write]).toEqual([undefined, [1, 0], [1, 0]]);
    expect([sh!.clone, sh!.wait4?.[0]! >= 2]).toEqual([[2, 0], true]);
    expect(ls!.newfstatat).toEqual([1, 1]);
  });

  it('docker exec, then docker kill: the report has the exec\'d process and status 137', async () => {
    const r = docker(daemon(), ['run', '-d', `--runtime=${COVERAGE_RUNTIME}`, IMAGE, 'sleep', '1000']);
    expect(r.status, r.stderr).toBe(0);
    const id = r.stdout.trim();
    await until('docker top to list sleep 1000', () => top(id).some((row) => row.cmd === 'sleep 1000'));
    const exec = docker(daemon(), ['exec', id, 'cat', '/etc/hostname']);
    expect(outcome(exec)).toEqual({ status: 0, stdout: `${id.slice(0, 12)}\n`, stderr: '' });
    expect(outcome(docker(daemon(), ['kill', id]))).toEqual({ status: 0, stdout: `${id}\n`, stderr: '' });
    await until('the container to stop after docker kill', () => inspect(id, '{{.State.Running}}') === 'false');
    const report = coverageReport(id);
    expect(report.command).toEqual(['sleep', '1000']);
    expect(report.exitStatus).toBe(137);
    const sleep = report.processes.find((p) => p.pid === 1);
    const cat = report.processes.find((p) => p.pid !== 1);
    expect(report.processes.length).toBe(2);
    expect(sleep!.executables).toEqual(['/bin/busybox']);
    expect(cat!.executables).toEqual(['/bin/busybox']);
    expect(cat!.parentPid).toBe(null);
    const sleepCalls = callsOf(sleep!.syscalls);
    // Killed in its sleep: the call never returned, so it counts at no exit.
    expect(sleepCalls.exit_group).toBeUndefined();
    const catCalls = callsOf(cat!.syscalls);
    // busybox cat: open, then sendfile until it returns 0.
    expect(catCalls.openat).toEqual([1, 0]);
    expect(catCalls.sendfile).toEqual([2, 0]);
    expect(catCalls.exit_group).toEqual([1, 0]);
    dockerOk(daemon(), ['rm', id]);
  }, 120000);

  it('the plain runtime writes no report; the directory holds one file per coverage container', () => {
    const reports = () => (fs.existsSync(coverageDir(daemon())) ? fs.readdirSync(coverageDir(daemon())).sort() : []);
    const before = reports();
    const cidfile = path.join(daemon().tmp, 'cid-plain');
    expect(outcome(docker(daemon(), ['run', '--rm', '--runtime=tsvisor', '--cidfile', cidfile, IMAGE, 'true']))).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(reports()).toEqual(before);
    expect(before.every((f) => /^[0-9a-f]{64}\.json$/.test(f))).toBe(true);
  });
});
