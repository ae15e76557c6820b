// A private containerd for the ctr end-to-end test: containerd started by hand
// (no systemd) with its own configuration, root, state, sockets and CRI
// network directories under a short directory in /var/tmp; tsvisor's runtime
// entries merged in from runsc-compat/containerd-config.toml; a busybox image
// written as an OCI image layout and imported with `ctr image import` (no
// registry is reachable).
//
// Another containerd (dockerd's own) may run at the same time: this one shares
// nothing with it. Shim sockets live under our state directory (state/s), ctr's
// FIFOs under our fifo/ (--fifo-dir), and each runtime's state under our
// runtime-root/ (--runc-root).
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  type Daemon,
  cgroupsNamed,
  clientEnv,
  killStrays,
  processTrees,
  removeCgroups,
  removePrivateDir,
  requireExecutable,
  spawnDaemon,
  stopDaemon,
  tarOf,
  waitReady,
  waitUntilGone,
  writeBusyboxRoot,
} from './daemon-helpers.js';
import { REPO, rmrf } from './harness.js';
import { type ProcInfo } from './robust-helpers.js';

export const CTR_IMAGE = 'docker.io/local/busybox:latest';
/** Our containerd namespace (the shim appends it to the runtime root). */
export const NAMESPACE = 'tsvisor-e2e';
export const RUNTIME_CONFIG = path.join(REPO, 'runsc-compat/containerd-config.toml');
/** Where runsc-compat/containerd-config.toml expects tsvisor to be installed. */
const INSTALL_DIR = '/opt/tsvisor';
/** The state root runsc-compat/containerd-config.toml gives tsvisor for the CRI plugin (ours is under the private directory). */
const SHIPPED_TSVISOR_ROOT = '/run/containerd/tsvisor';

/** tsvisor's containerd shim (runtime_type io.containerd.tsvisor.v2), found by this name on containerd's PATH. */
export const SHIM_BINARY = 'containerd-shim-tsvisor-v2';

export type CtrRuntime = 'tsvisor' | 'runc';

export interface Containerd {
  /** the private directory: config.toml, root/, state/, containerd.sock, containerd.log, ... */
  tmp: string;
  sock: string;
  config: string;
  containerdBin: string;
  ctrBin: string;
  daemon: Daemon;
  env: NodeJS.ProcessEnv;
  /** BinaryName of the CRI runtime "tsvisor", as containerd read it from runsc-compat/containerd-config.toml */
  tsvisorBinary: string;
  /** whether the cgroup /NAMESPACE existed before (ctr puts containers in /NAMESPACE/ID; runc leaves the parent) */
  cgroupExisted: boolean;
  /** the containerd namespace ctr works in */
  namespace: string;
}

export interface ContainerdOptions {
  /** the containerd namespace ctr works in (default NAMESPACE; the CRI plugin's is k8s.io) */
  namespace?: string;
  /**
   * Called with the private directory before containerd starts: writes what
   * else it needs there (the CRI suite's CNI configuration and plugins under
   * cni/net.d and cni/bin) and returns more lines of configuration.
   */
  setUp?: (tmp: string) => string[];
}

export interface CtrResult {
  stdout: string;
  stderr: string;
  status: number | null;
}

/** `ctr --address SOCK --namespace NS args...`, synchronously. */
export function ctr(c: Containerd, args: string[], timeoutMs = 60000): CtrResult {
  const r = spawnSync(c.ctrBin, ctrArgv(c, args).slice(1), { env: c.env, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`ctr ${args.join(' ')}: ${r.error.message}`);
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** Like ctr(), but the command must succeed; returns its stdout. */
export function ctrOk(c: Containerd, args: string[], timeoutMs = 60000): string {
  const r = ctr(c, args, timeoutMs);
  if (r.status !== 0) throw new Error(`ctr ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** The full command line of `ctr args...` against our containerd (for runOnPty and Running). */
export function ctrArgv(c: Containerd, args: string[]): string[] {
  return [c.ctrBin, '--address', c.sock, '--namespace', c.namespace, ...args];
}

/** The runtime state directory of a runtime in our namespace (what the shim passes as --root). */
export function runtimeRoot(c: Containerd, rt: CtrRuntime): string {
  return path.join(c.tmp, 'runtime-root', rt, NAMESPACE);
}

/**
 * The flags of `ctr run` that choose the runtime: tsvisor through the runc
 * shim with the binary of the CRI entry; runc is the shim's default binary.
 * Each runtime keeps its state in its own private root; FIFOs stay private.
 */
export function runtimeFlags(c: Containerd, rt: CtrRuntime): string[] {
  const flags = ['--fifo-dir', path.join(c.tmp, 'fifo'), '--runc-root', path.join(c.tmp, 'runtime-root', rt)];
  if (rt === 'tsvisor') flags.push('--runc-binary', c.tsvisorBinary);
  return flags;
}

/** The value of each `key = value` line of a TOML table in `containerd config dump` output (strings unquoted). */
export function tomlTable(text: string, header: string): Record<string, string> | undefined {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.trim() === `[${header}]`);
  if (at < 0) return undefined;
  const out: Record<string, string> = {};
  for (const l of lines.slice(at + 1)) {
    const t = l.trim();
    if (t.startsWith('[')) break;
    const m = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(t);
    if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  }
  return out;
}

/** `containerd --config OURS config dump`: the configuration as containerd understood it. */
export function configDump(c: Containerd): string {
  const r = spawnSync(c.containerdBin, ['--config', c.config, 'config', 'dump'], { env: c.env, encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) throw new Error(`containerd config dump exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

export const CRI_RUNTIMES = 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes';

/**
 * Starts the private containerd and waits (60 s at most) until ctr reaches it.
 * Throws, with the reason, if containerd is not installed, does not come up,
 * or does not read tsvisor's runtime entry: the suite must fail then, not skip.
 */
export async function startContainerd(o: ContainerdOptions = {}): Promise<Containerd> {
  if (process.getuid?.() !== 0) throw new Error('the containerd end-to-end test must run as root (it starts containerd)');
  const containerdBin = requireExecutable('containerd', 'containerd (docker.io depends on it)');
  const ctrBin = requireExecutable('ctr', 'containerd');
  requireExecutable('containerd-shim-runc-v2', 'containerd');
  requireExecutable('runc', 'runc');
  requireExecutable('tar', 'tar');

  // Short: unix socket paths (ours, the shims' under state/s) must stay under 108 bytes.
  const tmp = fs.mkdtempSync('/var/tmp/tsv-ct-');
  fs.mkdirSync(path.join(tmp, 'home'));
  const sock = path.join(tmp, 'containerd.sock');
  // tsvisor's entries as shipped, pointed at this checkout instead of
  // /opt/tsvisor, and its state (for the CRI plugin) kept in our directory.
  // Merged into our configuration rather than imported: containerd 1.6 lets
  // an imported file's CRI table replace the whole CRI table of the main one.
  const shipped = fs.readFileSync(RUNTIME_CONFIG, 'utf8');
  if (!shipped.includes(SHIPPED_TSVISOR_ROOT)) throw new Error(`${RUNTIME_CONFIG} no longer sets Root = "${SHIPPED_TSVISOR_ROOT}"`);
  const runtimeTables = shipped
    .split(INSTALL_DIR)
    .join(REPO)
    .split(SHIPPED_TSVISOR_ROOT)
    .join(path.join(tmp, 'runtime-root/tsvisor'))
    .split('\n')
    .filter((l) => l.trim() !== 'version = 2');
  const config = path.join(tmp, 'config.toml');
  const q = JSON.stringify;
  fs.writeFileSync(
    config,
    [
      'version = 2',
      `root = ${q(path.join(tmp, 'root'))}`,
      `state = ${q(path.join(tmp, 'state'))}`,
      '[grpc]',
      `  address = ${q(sock)}`,
      '[ttrpc]',
      `  address = ${q(`${sock}.ttrpc`)}`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      // Plugins that would otherwise use host-wide directories (/opt/containerd, /etc/cni/net.d).
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = ${q(path.join(tmp, 'opt'))}`,
      '[plugins."io.containerd.grpc.v1.cri".cni]',
      `  conf_dir = ${q(path.join(tmp, 'cni/net.d'))}`,
      `  bin_dir = ${q(path.join(tmp, 'cni/bin'))}`,
      ...runtimeTables,
      ...(o.setUp?.(tmp) ?? []),
      '',
    ].join('\n'),
  );
  const env = clientEnv(path.join(tmp, 'home'));
  // tsvisor's shim installed as runsc-compat/README.md says: a link on containerd's PATH
  // (containerd 1.6.20 drops the CRI plugin's runtime_path before it reaches the shim manager).
  const shimDir = path.join(tmp, 'shim-bin');
  fs.mkdirSync(shimDir);
  fs.symlinkSync(path.join(REPO, 'bin', SHIM_BINARY), path.join(shimDir, SHIM_BINARY));
  const daemonEnv = { ...env, PATH: `${shimDir}:${env.PATH}` };
  const daemon = spawnDaemon('containerd', containerdBin, ['--config', config, '--log-level', 'info'], daemonEnv, path.join(tmp, 'containerd.log'));
  const c: Containerd = {
    tmp,
    sock,
    config,
    containerdBin,
    ctrBin,
    daemon,
    env,
    tsvisorBinary: '',
    cgroupExisted: cgroupsNamed(NAMESPACE).length > 0,
    namespace: o.namespace ?? NAMESPACE,
  };
  try {
    // `ctr version` waits 10 s for a daemon that is not there: only ask once the socket exists.
    await waitReady(daemon, () => fs.existsSync(sock) && ctr(c, ['version'], 15000).status === 0);
    const options = tomlTable(configDump(c), `${CRI_RUNTIMES}.tsvisor.options`);
    if (!options?.BinaryName) throw new Error(`containerd did not read a BinaryName for the runtime "tsvisor" from ${RUNTIME_CONFIG}`);
    c.tsvisorBinary = options.BinaryName;
    return c;
  } catch (e) {
    await stopContainerd(c).catch((e2) => console.error(`cleaning up after a failed start: ${e2}`));
    throw e;
  }
}

function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * Writes the busybox root as a single-layer OCI image layout and imports it
 * with `ctr image import`.
 */
export function importBusybox(c: Containerd, name = CTR_IMAGE): void {
  const root = path.join(c.tmp, 'rootfs');
  writeBusyboxRoot(root);
  importRoot(c, name, root, { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] });
  rmrf(root);
}

/**
 * Writes the root file system `root` as a single-layer OCI image layout
 * (oci-layout, index.json, blobs/sha256/...) with the image configuration
 * `config` (Env, Cmd, Entrypoint, ...) and imports its tar with
 * `ctr image import` into our namespace.
 */
export function importRoot(c: Containerd, name: string, root: string, config: Record<string, unknown>): void {
  const layout = path.join(c.tmp, 'image');
  const blobs = path.join(layout, 'blobs/sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const blob = (mediaType: string, data: Buffer | string) => {
    const digest = sha256(data);
    fs.writeFileSync(path.join(blobs, digest), data);
    return { mediaType, digest: `sha256:${digest}`, size: Buffer.byteLength(data) };
  };
  const layerTar = tarOf(root);
  const layer = blob('application/vnd.oci.image.layer.v1.tar', layerTar);
  const platform = { architecture: 'amd64', os: 'linux' };
  const imageConfig = blob(
    'application/vnd.oci.image.config.v1+json',
    JSON.stringify({
      ...platform,
      config,
      // Uncompressed layer: its diff id is its digest.
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    }),
  );
  const manifest = blob(
    'application/vnd.oci.image.manifest.v1+json',
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: imageConfig, layers: [layer] }),
  );
  const tag = name.slice(name.lastIndexOf(':') + 1);
  fs.writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      // ctr names the image after io.containerd.image.name.
      manifests: [{ ...manifest, platform, annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  fs.writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const archive = path.join(c.tmp, 'image.tar');
  fs.writeFileSync(archive, tarOf(layout));
  ctrOk(c, ['image', 'import', archive], 120000);
  const listed = ctrOk(c, ['image', 'ls', '-q']).split('\n');
  if (!listed.includes(name)) throw new Error(`ctr image import did not make ${name}: ${listed.join(' ')}`);
  rmrf(layout);
  rmrf(archive);
}

/**
 * The socket of a container's shim: containerd 1.6 puts every shim's socket in
 * /run/containerd/s (shared with any other containerd), named by the hash of
 * our address, namespace and the container id.
 */
export function shimSocket(c: Containerd, id: string): string {
  return path.join('/run/containerd/s', sha256(path.join(c.sock, NAMESPACE, id)));
}

/** Whether `p` is a shim of our containerd (for the container `id` if given). */
function isOurShim(c: Containerd, p: ProcInfo, id?: string): boolean {
  return p.cmdline.includes('containerd-shim') && p.cmdline.includes(` -address ${c.sock}`) && (id === undefined || p.cmdline.includes(` -id ${id} `));
}

/**
 * The processes a container runs in: its shim (found by the container id and
 * our containerd's socket) and everything below it (for tsvisor: the Sentry,
 * the Gofer, the guest processes, and the copies of `exec --detach`).
 */
export function containerProcesses(c: Containerd, id: string): ProcInfo[] {
  return processTrees((p) => isOurShim(c, p, id));
}

/**
 * Deletes every task and container left in our namespace, stops containerd
 * (SIGTERM; SIGKILL after 20 s), kills whatever still names our directory,
 * unmounts what is left under it and removes it, and the parent cgroup the
 * containers were in if it is ours.
 */
export async function stopContainerd(c: Containerd): Promise<void> {
  const problems: string[] = [];
  if (!c.daemon.hasExited() && fs.existsSync(c.sock)) {
    // Left by a failed test (which says why). Shims outlive containerd by
    // design: their tasks go first.
    for (const id of ctr(c, ['task', 'ls', '-q']).stdout.split('\n').filter(Boolean)) {
      ctr(c, ['task', 'kill', '-s', 'SIGKILL', id]);
      const rm = ctr(c, ['task', 'rm', '-f', id], 60000);
      if (rm.status !== 0) problems.push(`ctr task rm -f ${id}: ${rm.stderr}`);
    }
    for (const id of ctr(c, ['container', 'ls', '-q']).stdout.split('\n').filter(Boolean)) {
      const rm = ctr(c, ['container', 'rm', id]);
      if (rm.status !== 0) problems.push(`ctr container rm ${id}: ${rm.stderr}`);
    }
  }
  problems.push(...(await stopDaemon(c.daemon)));
  // Shims and runtimes all name our directory (socket, bundle, root).
  const left = await waitUntilGone((p) => isOurShim(c, p) || p.cmdline.includes(c.tmp), 10000);
  const strays = await killStrays(left);
  if (strays.length > 0) problems.push(`processes left behind: ${strays.join('; ')}`);
  removePrivateDir(c.tmp);
  if (!c.cgroupExisted) problems.push(...removeCgroups(NAMESPACE).map((f) => `cgroup left behind: ${f}`));
  if (problems.length > 0) throw new Error(`containerd clean-up: ${problems.join('\n')}`);
}
