// A private Docker daemon for the Docker end-to-end test: dockerd started by
// hand (no systemd) with its own data root, exec root and socket under a short
// directory in /var/tmp, tsvisor registered as the runtime "tsvisor", and a
// busybox image imported from a local root file system (no registry).
//
// Another dockerd may run on the same machine with the default sockets; this
// one shares nothing with it: dockerd starts its own containerd, whose socket,
// state and root live under our exec and data roots (shim sockets under
// /run/containerd/s are named by a hash that includes that socket's address).
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, rmrf } from './harness.js';
import { type ProcInfo, allProcs, alive, procInfo, waitGone } from './robust-helpers.js';

export const RUNSC = path.join(REPO, 'runsc-compat/runsc');
export const IMAGE = 'local/busybox';

/** dockerd's warning when the host does not forward IPv4; the client prints it on stderr for every run. */
const FORWARDING_WARNING = 'WARNING: IPv4 forwarding is disabled. Networking will not work.\n';

export interface DockerDaemon {
  /** the private directory: data/, exec/, docker.sock, dockerd.log, ... */
  tmp: string;
  sock: string;
  client: string;
  dockerd: ChildProcess;
  dockerdExited: Promise<void>;
  /** the containerd that dockerd started for itself (not our child: dockerd's) */
  containerd?: ProcInfo;
  env: NodeJS.ProcessEnv;
}

export interface DockerResult {
  stdout: string;
  /** stderr without the IPv4 forwarding warning */
  stderr: string;
  status: number | null;
  ms: number;
}

/** The first executable `name` in `dirs`. */
function findExecutable(name: string, dirs: string[]): string | undefined {
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export async function until(what: string, ok: () => boolean, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function logTail(d: DockerDaemon, lines = 30): string {
  try {
    return fs.readFileSync(path.join(d.tmp, 'dockerd.log'), 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no dockerd.log)';
  }
}

/** `docker -H unix://SOCK args...`, synchronously. */
export function docker(d: DockerDaemon, args: string[], timeoutMs = 60000): DockerResult {
  const t0 = Date.now();
  const r = spawnSync(d.client, ['-H', `unix://${d.sock}`, ...args], {
    env: d.env,
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 64 << 20,
  });
  const ms = Date.now() - t0;
  if (r.error) throw new Error(`docker ${args.join(' ')}: ${r.error.message}`);
  return { stdout: r.stdout, stderr: r.stderr.split(FORWARDING_WARNING).join(''), status: r.status, ms };
}

/** Like docker(), but the command must succeed; returns its stdout. */
export function dockerOk(d: DockerDaemon, args: string[], timeoutMs = 60000): string {
  const r = docker(d, args, timeoutMs);
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Starts the private dockerd and waits (60 s at most) until `docker info`
 * answers. Throws, with the reason and the end of dockerd's log, if Docker is
 * not installed or does not come up: the suite must fail then, not skip.
 */
export async function startDocker(): Promise<DockerDaemon> {
  if (process.getuid?.() !== 0) throw new Error('the Docker end-to-end test must run as root (it starts dockerd)');
  const pathDirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  const dockerdBin = findExecutable('dockerd', [...SYSTEM_PATH, ...pathDirs]);
  if (!dockerdBin) {
    throw new Error('dockerd is not installed: the Docker end-to-end test needs Debian\'s docker.io package (apt-get install docker.io; .ci/run installs it)');
  }
  // The client of the same package when there is one (Debian: /usr/bin/docker next to /usr/sbin/dockerd).
  const client = findExecutable('docker', ['/usr/bin', path.dirname(dockerdBin), ...SYSTEM_PATH, ...pathDirs]);
  if (!client) throw new Error('the docker client is not installed (Debian package docker.io)');
  for (const b of ['containerd', 'runc']) {
    if (!findExecutable(b, [...SYSTEM_PATH, ...pathDirs])) throw new Error(`${b} is not installed (it comes with Debian's docker.io)`);
  }
  if (!fs.existsSync('/bin/busybox')) throw new Error('/bin/busybox is missing (Debian package busybox-static)');

  // Short: unix socket paths (ours, containerd's) must stay under 108 bytes.
  const tmp = fs.mkdtempSync('/var/tmp/tsv-dk-');
  fs.mkdirSync(path.join(tmp, 'client'));
  // An empty configuration, so that /etc/docker/daemon.json (possibly another
  // daemon's, with its own "runtimes") is not read.
  fs.writeFileSync(path.join(tmp, 'daemon.json'), '{}\n');
  const sock = path.join(tmp, 'docker.sock');
  // node first: bin/tsvisor runs `node`, and the runtime inherits dockerd's PATH
  // (through containerd and the shim).
  const env: NodeJS.ProcessEnv = {
    PATH: [path.dirname(process.execPath), ...SYSTEM_PATH].join(':'),
    HOME: path.join(tmp, 'client'),
    DOCKER_CONFIG: path.join(tmp, 'client'),
    LANG: 'C',
    LC_ALL: 'C',
  };
  const log = fs.openSync(path.join(tmp, 'dockerd.log'), 'w');
  const child = spawn(
    dockerdBin,
    [
      '--config-file', path.join(tmp, 'daemon.json'),
      '--data-root', path.join(tmp, 'data'),
      '--exec-root', path.join(tmp, 'exec'),
      '--pidfile', path.join(tmp, 'docker.pid'),
      '-H', `unix://${sock}`,
      '--bridge', 'none',
      '--iptables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      '--storage-driver', 'overlay2',
      '--add-runtime', `tsvisor=${RUNSC}`,
    ],
    { stdio: ['ignore', log, log], env, detached: true },
  );
  fs.closeSync(log);
  let exited = false;
  const dockerdExited = new Promise<void>((resolve) => {
    child.on('exit', () => {
      exited = true;
      resolve();
    });
    child.on('error', () => {
      exited = true;
      resolve();
    });
  });
  const d: DockerDaemon = { tmp, sock, client, dockerd: child, dockerdExited, env };
  try {
    const deadline = Date.now() + 60000;
    for (;;) {
      if (exited) throw new Error(`dockerd exited during start-up (code ${child.exitCode}):\n${logTail(d)}`);
      if (fs.existsSync(sock) && docker(d, ['info', '--format', '{{.ServerVersion}}'], 10000).status === 0) break;
      if (Date.now() > deadline) throw new Error(`dockerd did not answer within 60 s:\n${logTail(d)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const runtimes = dockerOk(d, ['info', '--format', '{{json .Runtimes}}']);
    if (!('tsvisor' in JSON.parse(runtimes))) throw new Error(`dockerd does not list the runtime tsvisor: ${runtimes}`);
    // dockerd's own containerd: its pid file is under our exec root, its
    // command line names our configuration.
    const cpid = Number(fs.readFileSync(path.join(tmp, 'exec/containerd/containerd.pid'), 'utf8'));
    const c = procInfo(cpid);
    if (!c || !c.cmdline.includes(tmp)) throw new Error(`containerd pid ${cpid} is not this daemon's: ${c?.cmdline}`);
    d.containerd = c;
    return d;
  } catch (e) {
    await stopDocker(d).catch((e2) => console.error(`cleaning up after a failed start: ${e2}`));
    throw e;
  }
}

/** The mount points at or under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => unescape(l.split(' ')[4]!))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * The processes a container runs in: its containerd shim (found by the
 * container id and our containerd's socket) and everything below it (for
 * tsvisor: the Sentry, the Gofer and the guest processes).
 */
export function containerProcesses(d: DockerDaemon, id: string): ProcInfo[] {
  const procs = allProcs();
  const address = path.join(d.tmp, 'exec/containerd/containerd.sock');
  const shims = procs.filter((p) => p.cmdline.includes('containerd-shim') && p.cmdline.includes(` -id ${id} `) && p.cmdline.includes(address));
  const out = [...shims];
  const todo = shims.map((p) => p.pid);
  while (todo.length > 0) {
    const parent = todo.pop()!;
    for (const q of procs) {
      if (q.ppid === parent) {
        out.push(q);
        todo.push(q.pid);
      }
    }
  }
  return out;
}

/** Every shim of our containerd, with its descendants. */
function ourShimTrees(d: DockerDaemon): ProcInfo[] {
  const address = path.join(d.tmp, 'exec/containerd/containerd.sock');
  const procs = allProcs();
  const roots = procs.filter((p) => p.cmdline.includes('containerd-shim') && p.cmdline.includes(address));
  const out = [...roots];
  const todo = roots.map((p) => p.pid);
  while (todo.length > 0) {
    const parent = todo.pop()!;
    for (const q of procs) {
      if (q.ppid === parent) {
        out.push(q);
        todo.push(q.pid);
      }
    }
  }
  return out;
}

/**
 * Removes every container, stops dockerd (SIGTERM; SIGKILL after 20 s), waits
 * for its containerd, unmounts what is left under the private directory and
 * removes it. Never removes the directory while something is mounted in it.
 */
export async function stopDocker(d: DockerDaemon): Promise<void> {
  const problems: string[] = [];
  if (d.dockerd.exitCode === null && d.dockerd.signalCode === null && fs.existsSync(d.sock)) {
    const ps = docker(d, ['ps', '-aq']);
    const ids = ps.stdout.split('\n').filter(Boolean);
    if (ids.length > 0) {
      const rm = docker(d, ['rm', '-f', ...ids], 120000);
      if (rm.status !== 0) problems.push(`docker rm -f: ${rm.stderr}`);
    }
  }
  if (d.dockerd.exitCode === null && d.dockerd.signalCode === null) {
    d.dockerd.kill('SIGTERM');
    const timedOut = await Promise.race([d.dockerdExited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 20000))]);
    if (timedOut) {
      problems.push('dockerd did not stop within 20 s of SIGTERM; killed');
      d.dockerd.kill('SIGKILL');
      await d.dockerdExited;
    }
  }
  if (d.containerd) {
    if ((await waitGone([d.containerd], 20000)).length > 0) {
      problems.push(`containerd ${d.containerd.pid} outlived dockerd by 20 s; killed`);
      process.kill(d.containerd.pid, 'SIGKILL');
      if ((await waitGone([d.containerd], 5000)).length > 0) problems.push(`containerd ${d.containerd.pid} survived SIGKILL`);
    }
  }
  // Shims of our containerd (and their children) must not outlive it.
  const strays = ourShimTrees(d);
  if (strays.length > 0) {
    problems.push(`processes left behind: ${strays.map((p) => `${p.pid} ${p.cmdline.slice(0, 120)}`).join('; ')}`);
    for (const p of strays) {
      if (alive(p)) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* gone meanwhile */
        }
      }
    }
    await waitGone(strays, 5000);
  }
  for (let round = 0; round < 5 && mountsUnder(d.tmp).length > 0; round++) {
    for (const m of mountsUnder(d.tmp)) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  }
  const mounted = mountsUnder(d.tmp);
  if (mounted.length > 0) {
    throw new Error(`still mounted, ${d.tmp} left in place: ${mounted.join(', ')}`);
  }
  rmrf(d.tmp);
  if (problems.length > 0) throw new Error(`Docker clean-up: ${problems.join('\n')}`);
}

/**
 * `docker import` of a busybox root: /bin/busybox (Debian's busybox-static)
 * and a symlink per applet, /etc/passwd with root and user (1000), /etc/group.
 */
export function buildBusyboxImage(d: DockerDaemon, tag = IMAGE): void {
  const root = path.join(d.tmp, 'rootfs');
  for (const dir of ['bin', 'etc', 'tmp', 'root', 'home/user', 'proc', 'sys', 'dev']) fs.mkdirSync(path.join(root, dir), { recursive: true });
  fs.chmodSync(path.join(root, 'tmp'), 0o1777);
  fs.chownSync(path.join(root, 'home/user'), 1000, 1000);
  fs.copyFileSync('/bin/busybox', path.join(root, 'bin/busybox'));
  fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
  for (const a of execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
    if (a !== 'busybox') fs.symlinkSync('busybox', path.join(root, 'bin', a));
  }
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n');
  fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nuser:x:1000:\n');
  const tar = execFileSync('tar', ['-C', root, '--numeric-owner', '-c', '.'], { maxBuffer: 256 << 20 });
  const r = spawnSync(d.client, ['-H', `unix://${d.sock}`, 'import', '-', tag], { env: d.env, input: tar, encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) throw new Error(`docker import failed (${r.status}): ${r.stderr}`);
  rmrf(root);
}
