// A private containerd with its CRI plugin, driven the way kubelet drives it
// (there is no kubelet here): a small gRPC client (@grpc/grpc-js with the
// hand-written test/e2e/cri/runtime-v1.proto), a CNI bridge network from
// Debian's containernetworking-plugins, a pause image that is a static
// program of ours, and tsvisor registered as the runtime handler "tsvisor"
// by runsc-compat/containerd-config.toml (runc is the handler "runc").
//
// containerd, its state, the CNI configuration and the IP allocations live
// under the private directory (containerd-helpers.ts). What lands on the
// host all the same (the bridge, IPv4 forwarding, libcni's cache in
// /var/lib/cni, network namespaces under /run/netns) is taken away by
// stopCri.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { type Containerd, importRoot, startContainerd, stopContainerd } from './containerd-helpers.js';
import { type HostNetwork, cgroupsNamed, hostNetwork, removeCgroups, restoreHostNetwork, writeBusyboxRoot } from './daemon-helpers.js';
import { REPO, rmrf } from './harness.js';
import { compile } from './robust-helpers.js';

/** The image of the pods' containers: busybox and test/programs/sysvq.c. */
export const CRI_IMAGE = 'tsvisor.test/busybox:e2e';
/** The sandbox image, test/programs/pause.c (the CRI plugin's sandbox_image). */
export const PAUSE_IMAGE = 'tsvisor.test/pause:e2e';
/** The pods' cgroup parent (cgroupfs): /CRI_CGROUP/ID in each hierarchy. */
export const CRI_CGROUP = 'tsvisor-cri-e2e';
/** The CNI bridge and its subnet: addresses of 10.88.77.0/24, the host at 10.88.77.1. */
export const CNI_BRIDGE = 'tsvcri0';
export const CNI_SUBNET = '10.88.77.0/24';
const CNI_PLUGINS = '/usr/lib/cni';
/** The state root the handler tsvisor-shim-root gives tsvisor's shim, under containerd's private directory. */
export const SHIM_ROOT = 'runtime-root/tsvisor-shim';
/** Runtime handlers of tsvisor's shim with options (ConfigPath), and their files' contents. */
const SHIM_OPTION_HANDLERS: Record<string, (tmp: string) => string> = {
  'tsvisor-shim-root': (tmp) => `# runc's option names\nRoot = ${JSON.stringify(path.join(tmp, SHIM_ROOT))}\nNoPivotRoot = false\n`,
  'tsvisor-shim-systemd': () => 'SystemdCgroup = true\n',
};
/** libcni's cache, which the CRI plugin gives no setting for. */
const CNI_CACHE = '/var/lib/cni';
const NETNS_DIR = '/run/netns';

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';

export interface NamespaceOption {
  network?: NamespaceMode;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
}

export interface PodSandboxConfig {
  metadata: { name: string; uid: string; namespace: string; attempt?: number };
  hostname?: string;
  log_directory?: string;
  labels?: Record<string, string>;
  linux?: { cgroup_parent?: string; security_context?: { namespace_options?: NamespaceOption } };
}

export interface ContainerConfig {
  metadata: { name: string; attempt?: number };
  image: { image: string };
  command?: string[];
  args?: string[];
  envs?: { key: string; value: string }[];
  log_path?: string;
  linux?: { resources?: LinuxContainerResources; security_context?: { namespace_options?: NamespaceOption } };
}

export interface LinuxContainerResources {
  cpu_period?: number;
  cpu_quota?: number;
  cpu_shares?: number;
  memory_limit_in_bytes?: number;
  cpuset_cpus?: string;
}

export interface ContainerStats {
  attributes: { id: string };
  cpu: { timestamp: number; usage_core_nano_seconds: { value: number } | null } | null;
  memory: { timestamp: number; working_set_bytes: { value: number } | null } | null;
  writable_layer: { timestamp: number; used_bytes: { value: number } | null; inodes_used: { value: number } | null } | null;
}

/** runtime.v1.RuntimeService, the calls the suite makes, as promises. Messages use the .proto's field names. */
export interface RuntimeService {
  Version(r: { version: string }): Promise<{ version: string; runtime_name: string; runtime_version: string; runtime_api_version: string }>;
  RunPodSandbox(r: { config: PodSandboxConfig; runtime_handler: string }): Promise<{ pod_sandbox_id: string }>;
  StopPodSandbox(r: { pod_sandbox_id: string }): Promise<object>;
  RemovePodSandbox(r: { pod_sandbox_id: string }): Promise<object>;
  PodSandboxStatus(r: { pod_sandbox_id: string; verbose?: boolean }): Promise<{
    status: { id: string; state: string; network: { ip: string } | null; runtime_handler: string };
    info: Record<string, string>;
  }>;
  ListPodSandbox(r: object): Promise<{ items: { id: string; metadata: { name: string } }[] }>;
  CreateContainer(r: { pod_sandbox_id: string; config: ContainerConfig; sandbox_config: PodSandboxConfig }): Promise<{ container_id: string }>;
  StartContainer(r: { container_id: string }): Promise<object>;
  StopContainer(r: { container_id: string; timeout: number }): Promise<object>;
  RemoveContainer(r: { container_id: string }): Promise<object>;
  ContainerStatus(r: { container_id: string; verbose?: boolean }): Promise<{
    status: { id: string; state: string; exit_code: number; reason: string; message: string };
    info: Record<string, string>;
  }>;
  ExecSync(r: { container_id: string; cmd: string[]; timeout: number }): Promise<{ stdout: Buffer; stderr: Buffer; exit_code: number }>;
  UpdateContainerResources(r: { container_id: string; linux: LinuxContainerResources }): Promise<object>;
  ContainerStats(r: { container_id: string }): Promise<{ stats: ContainerStats }>;
  ListContainerStats(r: { filter: { id?: string; pod_sandbox_id?: string } }): Promise<{ stats: ContainerStats[] }>;
}

export interface Cri {
  containerd: Containerd;
  rt: RuntimeService;
  close(): void;
  /** the host's network before the CNI plugin changed it */
  network: HostNetwork;
  /** which of /var/lib/cni and /run/netns's entries existed before */
  cniCacheExisted: boolean;
  netnsBefore: Set<string>;
  cgroupExisted: boolean;
}

const METHODS = [
  'Version',
  'RunPodSandbox',
  'StopPodSandbox',
  'RemovePodSandbox',
  'PodSandboxStatus',
  'ListPodSandbox',
  'CreateContainer',
  'StartContainer',
  'StopContainer',
  'RemoveContainer',
  'ContainerStatus',
  'ExecSync',
  'UpdateContainerResources',
  'ContainerStats',
  'ListContainerStats',
] as const;

/** A client of the CRI's RuntimeService on a unix socket; each call fails after `timeoutMs`. */
function runtimeClient(sock: string, timeoutMs = 120000): { rt: RuntimeService; close(): void } {
  const def = protoLoader.loadSync(path.join(REPO, 'test/e2e/cri/runtime-v1.proto'), { keepCase: true, longs: Number, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor } } };
  const client = new pkg.runtime.v1.RuntimeService(`unix://${sock}`, grpc.credentials.createInsecure());
  const rt = {} as Record<string, (r: object) => Promise<unknown>>;
  for (const m of METHODS) {
    rt[m] = (req) =>
      new Promise((resolve, reject) => {
        const fn = client[m] as (req: object, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void;
        fn.call(client, req, { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(new Error(`CRI ${m}: ${e.details || e.message}`)) : resolve(r)));
      });
  }
  return { rt: rt as unknown as RuntimeService, close: () => client.close() };
}

function netnsEntries(): Set<string> {
  try {
    return new Set(fs.readdirSync(NETNS_DIR));
  } catch {
    return new Set();
  }
}

/**
 * The CRI plugin's configuration and the CNI network, written into
 * containerd's private directory before it starts.
 */
function criSetUp(tmp: string): string[] {
  const q = JSON.stringify;
  const netDir = path.join(tmp, 'cni/net.d');
  const binDir = path.join(tmp, 'cni/bin');
  fs.mkdirSync(netDir, { recursive: true });
  fs.mkdirSync(binDir, { recursive: true });
  for (const p of ['bridge', 'host-local', 'loopback']) fs.symlinkSync(path.join(CNI_PLUGINS, p), path.join(binDir, p));
  fs.writeFileSync(
    path.join(netDir, '10-tsvisor-e2e.conflist'),
    q({
      cniVersion: '0.4.0',
      name: 'tsvisor-e2e',
      plugins: [
        {
          type: 'bridge',
          bridge: CNI_BRIDGE,
          isGateway: true,
          // No masquerading: nothing here leaves the host, and no iptables rule is needed.
          ipMasq: false,
          ipam: { type: 'host-local', ranges: [[{ subnet: CNI_SUBNET }]], dataDir: path.join(tmp, 'cni/ipam') },
        },
      ],
    }),
  );
  return [
    '[plugins."io.containerd.grpc.v1.cri"]',
    `  sandbox_image = ${q(PAUSE_IMAGE)}`,
    // Without CAP_SYS_RESOURCE (this machine's root lacks it) the plugin's
    // own oom_score_adj for the sandbox cannot be lower than containerd's.
    '  restrict_oom_score_adj = true',
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
    `  Root = ${q(path.join(tmp, 'runtime-root/runc'))}`,
    // tsvisor's shim with runc's options in a file of its own, as runsc-compat/README.md says.
    ...Object.entries(SHIM_OPTION_HANDLERS).flatMap(([handler, toml]) => {
      const file = path.join(tmp, `${handler}.toml`);
      fs.writeFileSync(file, toml(tmp));
      return [
        `[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${handler}]`,
        '  runtime_type = "io.containerd.tsvisor.v2"',
        `[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${handler}.options]`,
        '  TypeUrl = "containerd.runc.v1.Options"',
        `  ConfigPath = ${q(file)}`,
      ];
    }),
  ];
}

/**
 * Starts the private containerd with its CRI plugin, imports the pods'
 * image and the pause image into the plugin's namespace (k8s.io), and
 * connects the CRI client. `runtimes` gives more configuration lines (more
 * runtime handlers: bench/cri.mjs's runsc) from the private directory.
 * Throws with the reason if anything is missing: the suite must fail then,
 * not skip.
 */
export async function startCri(o: { runtimes?: (tmp: string) => string[] } = {}): Promise<Cri> {
  for (const p of ['bridge', 'host-local', 'loopback']) {
    if (!fs.existsSync(path.join(CNI_PLUGINS, p))) throw new Error(`${CNI_PLUGINS}/${p} is missing (Debian package containernetworking-plugins; .ci/run installs it)`);
  }
  const network = hostNetwork();
  const cniCacheExisted = fs.existsSync(CNI_CACHE);
  const netnsBefore = netnsEntries();
  const cgroupExisted = cgroupsNamed(CRI_CGROUP).length > 0;
  const containerd = await startContainerd({ namespace: 'k8s.io', setUp: (tmp) => [...criSetUp(tmp), ...(o.runtimes?.(tmp) ?? [])] });
  const client = runtimeClient(containerd.sock);
  const cri: Cri = { containerd, rt: client.rt, close: client.close, network, cniCacheExisted, netnsBefore, cgroupExisted };
  try {
    const root = path.join(containerd.tmp, 'rootfs');
    writeBusyboxRoot(root);
    fs.copyFileSync(compile('sysvq', containerd.tmp), path.join(root, 'bin/sysvq'));
    importRoot(containerd, CRI_IMAGE, root, { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] });
    rmrf(root);
    const pauseRoot = path.join(containerd.tmp, 'pause-root');
    fs.mkdirSync(pauseRoot);
    fs.copyFileSync(compile('pause', containerd.tmp), path.join(pauseRoot, 'pause'));
    importRoot(containerd, PAUSE_IMAGE, pauseRoot, { Entrypoint: ['/pause'] });
    rmrf(pauseRoot);
    await cri.rt.Version({ version: 'v1' });
    return cri;
  } catch (e) {
    await stopCri(cri).catch((e2) => console.error(`cleaning up after a failed start: ${e2}`));
    throw e;
  }
}

/**
 * Removes every pod (its containers with it), stops containerd, and takes
 * away what the CNI plugins left on the host: the bridge, IPv4 forwarding,
 * libcni's cache, network namespaces, the pods' parent cgroup.
 */
export async function stopCri(cri: Cri): Promise<void> {
  const problems: string[] = [];
  try {
    for (const pod of (await cri.rt.ListPodSandbox({})).items) {
      await cri.rt.StopPodSandbox({ pod_sandbox_id: pod.id }).catch((e: Error) => problems.push(e.message));
      await cri.rt.RemovePodSandbox({ pod_sandbox_id: pod.id }).catch((e: Error) => problems.push(e.message));
    }
  } catch (e) {
    if (!cri.containerd.daemon.hasExited()) problems.push((e as Error).message);
  }
  cri.close();
  await stopContainerd(cri.containerd).catch((e: Error) => problems.push(e.message));
  problems.push(...restoreHostNetwork(cri.network, (link) => link === CNI_BRIDGE));
  if (!cri.cniCacheExisted) rmrf(CNI_CACHE);
  const netns = [...netnsEntries()].filter((n) => !cri.netnsBefore.has(n) && n.startsWith('cni-'));
  if (netns.length > 0) problems.push(`network namespaces left behind in ${NETNS_DIR}: ${netns.join(' ')}`);
  if (!cri.cgroupExisted) problems.push(...removeCgroups(CRI_CGROUP).map((f) => `cgroup left behind: ${f}`));
  if (problems.length > 0) throw new Error(`CRI clean-up: ${problems.join('\n')}`);
}

/** `GET http://HOST:PORT/` from the host: the body, or the error's code (ECONNREFUSED, ...). */
export function httpGet(host: string, port: number, timeoutMs = 5000): Promise<{ body?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/', timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ body }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
  });
}
