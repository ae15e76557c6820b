// A private podman for the podman end-to-end test: its configuration
// (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF, CONTAINERS_REGISTRIES_CONF),
// storage, run root, locks, events and network configuration under a
// directory in /var/tmp. The configuration is runsc-compat/containers.conf
// (tsvisor as the default runtime under the name "runsc") with what this
// machine needs added: no systemd (cgroupfs, events in a file), podman's
// default ulimits lowered to what podman may set here, no network namespace
// setup. The image is a busybox root brought in with `podman import`.
//
// podman has no daemon: conmon monitors each container, and podman passes the
// runtime no --root, so runc and tsvisor keep their state in their default
// roots (/run/runc, /var/run/tsvisor).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cgroupsNamed, clientEnv, killStrays, removeCgroups, removePrivateDir, requireExecutable, tarOf, waitUntilGone, writeBusyboxRoot } from './daemon-helpers.js';
import { REPO, rmrf } from './harness.js';

export const PODMAN_IMAGE = 'localhost/local/busybox:latest';
export const PODMAN_CONFIG = path.join(REPO, 'runsc-compat/containers.conf');
/** Where runsc-compat/containers.conf expects tsvisor to be installed. */
const INSTALL_DIR = '/opt/tsvisor';

/**
 * Host-wide paths podman or the runtimes create when missing and that no
 * setting moves: the image copy's blob info cache (/var/lib/containers/cache,
 * `podman import`), short-name aliases (/var/cache/containers, avoided by
 * naming images in full), the runtimes' default state roots. Removed at the
 * end if this suite made them.
 */
const HOST_PATHS = ['/var/lib/containers', '/var/cache/containers', '/run/runc', '/run/tsvisor'];

/** The parent cgroup of podman's containers with the cgroupfs manager. */
export const CGROUP_PARENT = 'libpod_parent';

/** The runtimes' default state roots: podman passes no --root. */
export const STATE_ROOTS = { runc: '/run/runc', tsvisor: '/var/run/tsvisor' } as const;

export interface Podman {
  /** the private directory: containers.conf, storage/, run/, tmp/, events.log, ... */
  tmp: string;
  bin: string;
  env: NodeJS.ProcessEnv;
  /** which HOST_PATHS existed before this suite */
  existed: Set<string>;
  /** whether podman's parent cgroup existed before (with cgroupfs: libpod_parent/libpod-ID, and conmon's libpod_parent/conmon) */
  cgroupExisted: boolean;
}

export interface PodmanResult {
  stdout: string;
  stderr: string;
  status: number | null;
}

export function podman(p: Podman, args: string[], timeoutMs = 60000, input?: Buffer): PodmanResult {
  const r = spawnSync(p.bin, args, { env: p.env, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20, input });
  if (r.error) throw new Error(`podman ${args.join(' ')}: ${r.error.message}`);
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

export function podmanOk(p: Podman, args: string[], timeoutMs = 60000, input?: Buffer): string {
  const r = podman(p, args, timeoutMs, input);
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** The hard limit of a resource of this process, from /proc/self/limits ("Max open files", ...). */
function hardLimit(name: string): number {
  const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(name));
  const hard = line?.slice(name.length).trim().split(/\s+/)[1];
  return hard === undefined || hard === 'unlimited' ? Infinity : Number(hard);
}

/** `toml` with `lines` added at the top of each [section] (appended as new sections where missing). */
export function withSettings(toml: string, settings: Record<string, string[]>): string {
  const lines = toml.split('\n');
  const extra: string[] = [];
  for (const [section, add] of Object.entries(settings)) {
    const at = lines.findIndex((l) => l.trim() === `[${section}]`);
    if (at < 0) extra.push('', `[${section}]`, ...add);
    else lines.splice(at + 1, 0, ...add);
  }
  return [...lines, ...extra, ''].join('\n');
}

/**
 * Writes the private configuration and imports the busybox image. Throws
 * with the reason if podman is not installed or cannot import: the suite must
 * fail then, not skip.
 */
export async function setupPodman(): Promise<Podman> {
  if (process.getuid?.() !== 0) throw new Error('the podman end-to-end test must run as root');
  const bin = requireExecutable('podman', 'podman');
  requireExecutable('conmon', 'conmon (podman depends on it)');
  requireExecutable('runc', 'runc');
  requireExecutable('tar', 'tar');
  const existed = new Set(HOST_PATHS.filter((h) => fs.existsSync(h)));
  const cgroupExisted = cgroupsNamed(CGROUP_PARENT).length > 0;

  const tmp = fs.mkdtempSync('/var/tmp/tsv-pm-');
  const q = JSON.stringify;
  // podman asks for nofile and nproc limits of 1048576 unless told, more than
  // the hard limits here. nofile: this process's hard limit, which podman
  // keeps. nproc: podman lowers its own hard limit below ours (to 32768 on
  // the reference machine), so a modest fixed value.
  const nofile = Math.min(1048576, hardLimit('Max open files'));
  const ulimits = [`nofile=${nofile}:${nofile}`, 'nproc=4096:4096'];
  const conf = withSettings(fs.readFileSync(PODMAN_CONFIG, 'utf8').split(INSTALL_DIR).join(REPO), {
    containers: [`default_ulimits = [${ulimits.map((u) => q(u)).join(', ')}]`, 'netns = "none"'],
    engine: [
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = ${q(path.join(tmp, 'events.log'))}`,
      `tmp_dir = ${q(path.join(tmp, 'tmp'))}`,
      `static_dir = ${q(path.join(tmp, 'storage/libpod'))}`,
      `volume_path = ${q(path.join(tmp, 'storage/volumes'))}`,
      // File locks under tmp_dir instead of the host-wide shared memory segment /dev/shm/libpod_lock.
      'lock_type = "file"',
    ],
    network: [`network_config_dir = ${q(path.join(tmp, 'networks'))}`],
  });
  fs.writeFileSync(path.join(tmp, 'containers.conf'), conf);
  fs.writeFileSync(
    path.join(tmp, 'storage.conf'),
    ['[storage]', 'driver = "overlay"', `graphroot = ${q(path.join(tmp, 'storage'))}`, `runroot = ${q(path.join(tmp, 'run'))}`, ''].join('\n'),
  );
  fs.writeFileSync(path.join(tmp, 'registries.conf'), 'unqualified-search-registries = []\n');
  fs.mkdirSync(path.join(tmp, 'home'));
  const env = clientEnv(path.join(tmp, 'home'), {
    CONTAINERS_CONF: path.join(tmp, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: path.join(tmp, 'storage.conf'),
    CONTAINERS_REGISTRIES_CONF: path.join(tmp, 'registries.conf'),
  });
  const p: Podman = { tmp, bin, env, existed, cgroupExisted };

  const root = path.join(tmp, 'rootfs');
  writeBusyboxRoot(root);
  const imported = podman(p, ['import', '-', PODMAN_IMAGE], 120000, tarOf(root));
  rmrf(root);
  if (imported.status !== 0) {
    await teardownPodman(p).catch((e2) => console.error(`cleaning up after a failed set-up: ${e2}`));
    throw new Error(`podman import failed (${imported.status}): ${imported.stderr}`);
  }
  return p;
}

/** The entries of a runtime's state root (one directory per container), without its lock file. */
export function stateEntries(rt: keyof typeof STATE_ROOTS): string[] {
  try {
    return fs.readdirSync(STATE_ROOTS[rt]).filter((n) => n !== '.lock');
  } catch {
    return [];
  }
}

/** Whether a process belongs to our podman: conmon, runtimes and cleanup commands all name our directory. */
export function isOurs(p: Podman, cmdline: string): boolean {
  return cmdline.includes(p.tmp);
}

/**
 * Removes every container (SIGKILL), waits for conmon and the cleanup
 * commands, kills whatever still names our directory, unmounts what is left
 * under it (the storage driver's own mount too) and removes it, and the host
 * paths and cgroups this suite made.
 */
export async function teardownPodman(p: Podman): Promise<void> {
  const problems: string[] = [];
  const ids = podman(p, ['ps', '-aq']).stdout.split('\n').filter(Boolean);
  if (ids.length > 0) {
    // Left by a failed test (which says why); they must go all the same.
    const rm = podman(p, ['rm', '-f', '-t', '0', ...ids], 120000);
    if (rm.status !== 0) problems.push(`podman rm -f: ${rm.stderr}`);
  }
  const left = await waitUntilGone((q) => isOurs(p, q.cmdline), 20000);
  const strays = await killStrays(left);
  if (strays.length > 0) problems.push(`processes left behind: ${strays.join('; ')}`);
  removePrivateDir(p.tmp);
  for (const h of HOST_PATHS) {
    if (p.existed.has(h) || !fs.existsSync(h)) continue;
    // The state roots: only once no container is left in them.
    if (h.startsWith('/run/') && fs.readdirSync(h).some((n) => n !== '.lock')) {
      problems.push(`${h} still holds ${fs.readdirSync(h).join(' ')}`);
      continue;
    }
    rmrf(h);
  }
  if (!p.cgroupExisted) problems.push(...removeCgroups(CGROUP_PARENT).map((f) => `cgroup left behind: ${f}`));
  if (problems.length > 0) throw new Error(`podman clean-up: ${problems.join('\n')}`);
}
