// A private Docker daemon for the Docker end-to-end test: dockerd started by
// hand (no systemd) with its own data root, exec root and socket under a short
// directory in /var/tmp, tsvisor registered as the runtime "tsvisor" (and,
// with --coverage-dir, as "tsvisor-coverage"), and a
// busybox image imported from a local root file system (no registry).
// Networking is a normal install's: the default bridge docker0, iptables
// rules, IPv4 forwarding; stopDocker takes them away again.
//
// Another dockerd may run on the same machine with the default sockets; this
// one shares nothing with it: dockerd starts its own containerd, whose socket,
// state and root live under our exec and data roots (shim sockets under
// /run/containerd/s are named by a hash that includes that socket's address).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  type Daemon,
  type HostNetwork,
  SYSTEM_PATH,
  clientEnv,
  findExecutable,
  hostNetwork,
  killStrays,
  processTrees,
  removePrivateDir,
  restoreHostNetwork,
  spawnDaemon,
  stopDaemon,
  tarOf,
  waitReady,
  writeBusyboxRoot,
} from './daemon-helpers.js';
import { REPO, rmrf } from './harness.js';
import { type ProcInfo, procInfo, waitGone } from './robust-helpers.js';

// docker.test.ts imports it from here.
export { until } from './daemon-helpers.js';

export const RUNSC = path.join(REPO, 'runsc-compat/runsc');
export const IMAGE = 'local/busybox';
/** tsvisor with `--coverage-dir`, registered as runsc-compat/daemon.json does: one report per container in coverageDir(). */
export const COVERAGE_RUNTIME = 'tsvisor-coverage';
export const coverageDir = (d: DockerDaemon) => path.join(d.tmp, 'coverage');

/**
 * dockerd's warning when the host does not forward IPv4 (dockerd turns it on,
 * but the CRI suite, running alongside, may turn it off again when it ends);
 * the client prints it on stderr for every run.
 */
const FORWARDING_WARNING = 'WARNING: IPv4 forwarding is disabled. Networking will not work.\n';

export interface DockerDaemon {
  /** the private directory: data/, exec/, docker.sock, dockerd.log, ... */
  tmp: string;
  sock: string;
  client: string;
  dockerd: Daemon;
  /** the containerd that dockerd started for itself (not our child: dockerd's) */
  containerd?: ProcInfo;
  env: NodeJS.ProcessEnv;
  /** the host's network before dockerd changed it; none for a daemon without networking of its own */
  network?: HostNetwork;
}

export interface DockerResult {
  stdout: string;
  /** stderr without the IPv4 forwarding warning */
  stderr: string;
  status: number | null;
  ms: number;
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
 * With `usernsRemap`, dockerd runs with `--userns-remap=default` (it makes the
 * dockremap user; its containers' roots then belong to the remapped ids) and
 * without networking of its own (no bridge, iptables rules or forwarding), so that it
 * may run alongside the other tests' daemons.
 */
export async function startDocker(o: { usernsRemap?: boolean } = {}): Promise<DockerDaemon> {
  if (process.getuid?.() !== 0) throw new Error('the Docker end-to-end test must run as root (it starts dockerd)');
  const dockerdBin = findExecutable('dockerd');
  if (!dockerdBin) {
    throw new Error('dockerd is not installed: the Docker end-to-end test needs Debian\'s docker.io package (apt-get install docker.io; .ci/run installs it)');
  }
  // The client of the same package when there is one (Debian: /usr/bin/docker next to /usr/sbin/dockerd).
  const pathDirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  const client = findExecutable('docker', ['/usr/bin', path.dirname(dockerdBin), ...SYSTEM_PATH, ...pathDirs]);
  if (!client) throw new Error('the docker client is not installed (Debian package docker.io)');
  for (const b of ['containerd', 'runc']) {
    if (!findExecutable(b)) throw new Error(`${b} is not installed (it comes with Debian's docker.io)`);
  }
  if (!fs.existsSync('/bin/busybox')) throw new Error('/bin/busybox is missing (Debian package busybox-static)');

  // Short: unix socket paths (ours, containerd's) must stay under 108 bytes.
  const tmp = fs.mkdtempSync('/var/tmp/tsv-dk-');
  // The remapped root reaches its image layers below the data root.
  if (o.usernsRemap) fs.chmodSync(tmp, 0o711);
  fs.mkdirSync(path.join(tmp, 'client'));
  // Our own configuration, so that /etc/docker/daemon.json (possibly another
  // daemon's, with its own "runtimes") is not read. The coverage runtime
  // takes its flag through runtimeArgs, which only daemon.json can give.
  const coverageRuntime = { path: RUNSC, runtimeArgs: [`--coverage-dir=${path.join(tmp, 'coverage')}`] };
  fs.writeFileSync(path.join(tmp, 'daemon.json'), `${JSON.stringify({ runtimes: { [COVERAGE_RUNTIME]: coverageRuntime } })}\n`);
  const sock = path.join(tmp, 'docker.sock');
  const env = clientEnv(path.join(tmp, 'client'), { DOCKER_CONFIG: path.join(tmp, 'client') });
  const network = o.usernsRemap ? undefined : hostNetwork();
  const dockerd = spawnDaemon(
    'dockerd',
    dockerdBin,
    [
      '--config-file', path.join(tmp, 'daemon.json'),
      '--data-root', path.join(tmp, 'data'),
      '--exec-root', path.join(tmp, 'exec'),
      '--pidfile', path.join(tmp, 'docker.pid'),
      '-H', `unix://${sock}`,
      '--storage-driver', 'overlay2',
      '--add-runtime', `tsvisor=${RUNSC}`,
      ...(o.usernsRemap ? ['--userns-remap=default', '--bridge=none', '--iptables=false', '--ip-forward=false'] : []),
    ],
    env,
    path.join(tmp, 'dockerd.log'),
  );
  const d: DockerDaemon = { tmp, sock, client, dockerd, env, ...(network ? { network } : {}) };
  try {
    await waitReady(dockerd, () => fs.existsSync(sock) && docker(d, ['info', '--format', '{{.ServerVersion}}'], 10000).status === 0);
    const runtimes = dockerOk(d, ['info', '--format', '{{json .Runtimes}}']);
    for (const rt of ['tsvisor', COVERAGE_RUNTIME]) {
      if (!(rt in JSON.parse(runtimes))) throw new Error(`dockerd does not list the runtime ${rt}: ${runtimes}`);
    }
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

/** Whether `p` is a shim of our containerd (for the container `id` if given). */
function isOurShim(d: DockerDaemon, p: ProcInfo, id?: string): boolean {
  const address = path.join(d.tmp, 'exec/containerd/containerd.sock');
  return p.cmdline.includes('containerd-shim') && p.cmdline.includes(address) && (id === undefined || p.cmdline.includes(` -id ${id} `));
}

/**
 * The processes a container runs in: its containerd shim (found by the
 * container id and our containerd's socket) and everything below it (for
 * tsvisor: the Sentry, the Gofer and the guest processes).
 */
export function containerProcesses(d: DockerDaemon, id: string): ProcInfo[] {
  return processTrees((p) => isOurShim(d, p, id));
}

/** Links dockerd makes: the default bridge and those of user-defined networks (br-ID). */
function dockerLink(name: string): boolean {
  return name === 'docker0' || /^br-[0-9a-f]{12}$/.test(name);
}

/**
 * Removes every container and user-defined network, stops dockerd (SIGTERM;
 * SIGKILL after 20 s), waits for its containerd, takes its bridges, iptables
 * rules and IPv4 forwarding away, unmounts what is left under the private
 * directory and removes it. Never removes the directory while something is
 * mounted in it.
 */
export async function stopDocker(d: DockerDaemon): Promise<void> {
  const problems: string[] = [];
  if (!d.dockerd.hasExited() && fs.existsSync(d.sock)) {
    const ps = docker(d, ['ps', '-aq']);
    const ids = ps.stdout.split('\n').filter(Boolean);
    if (ids.length > 0) {
      const rm = docker(d, ['rm', '-f', ...ids], 120000);
      if (rm.status !== 0) problems.push(`docker rm -f: ${rm.stderr}`);
    }
    const prune = docker(d, ['network', 'prune', '-f']);
    if (prune.status !== 0) problems.push(`docker network prune: ${prune.stderr}`);
  }
  problems.push(...(await stopDaemon(d.dockerd)));
  if (d.containerd) {
    if ((await waitGone([d.containerd], 20000)).length > 0) {
      problems.push(`containerd ${d.containerd.pid} outlived dockerd by 20 s; killed`);
      process.kill(d.containerd.pid, 'SIGKILL');
      if ((await waitGone([d.containerd], 5000)).length > 0) problems.push(`containerd ${d.containerd.pid} survived SIGKILL`);
    }
  }
  // Shims of our containerd (and their children) must not outlive it.
  const strays = await killStrays(processTrees((p) => isOurShim(d, p)));
  if (strays.length > 0) problems.push(`processes left behind: ${strays.join('; ')}`);
  // Only a daemon that made them: another test's daemon may own the bridge and rules meanwhile.
  if (d.network) problems.push(...restoreHostNetwork(d.network, dockerLink));
  removePrivateDir(d.tmp);
  if (problems.length > 0) throw new Error(`Docker clean-up: ${problems.join('\n')}`);
}

/**
 * `docker import` of a busybox root: /bin/busybox (Debian's busybox-static)
 * and a symlink per applet, /etc/passwd with root and user (1000), /etc/group.
 */
export function buildBusyboxImage(d: DockerDaemon, tag = IMAGE): void {
  const root = path.join(d.tmp, 'rootfs');
  writeBusyboxRoot(root);
  const r = spawnSync(d.client, ['-H', `unix://${d.sock}`, 'import', '-', tag], { env: d.env, input: tarOf(root), encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) throw new Error(`docker import failed (${r.status}): ${r.stderr}`);
  rmrf(root);
}
