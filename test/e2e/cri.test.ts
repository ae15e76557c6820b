// A Kubernetes-style pod through containerd's CRI plugin (Debian's
// containerd 1.6), driven as kubelet drives it (cri-helpers.ts), with the
// runtime handlers "tsvisor-shim" (tsvisor's own shim,
// containerd-shim-tsvisor-v2) and "tsvisor" (containerd's runc shim with
// tsvisor as its binary; runsc-compat/containerd-config.toml) and, to
// compare, "runc". A pod's app containers are told to join the namespaces of
// its pause container through /proc/<its pid>/ns/{net,ipc,uts}: with
// tsvisor that pid is the anchor (native/anchor.c), in the pod's namespaces.
// When it was the Sentry, on the host, the app containers ran in the host's
// network, with IPC and hostname of their own. Then the numbers kubelet and
// `ctr task metrics` read (the shims' Stats), resource updates (their
// Update), and tsvisor's shim's runtime options (handlers with a ConfigPath,
// cri-helpers.ts).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type ContainerConfig,
  type ContainerStats,
  CNI_SUBNET,
  CRI_CGROUP,
  CRI_IMAGE,
  type Cri,
  type PodSandboxConfig,
  SHIM_ROOT,
  httpGet,
  startCri,
  stopCri,
} from './cri-helpers.js';
import { ctr, ctrArgv } from './containerd-helpers.js';
import { TSVISOR } from './harness.js';
import { privateSetup, processTrees } from './daemon-helpers.js';
import { type ProcInfo, waitGone } from './robust-helpers.js';

type Handler = 'tsvisor-shim' | 'tsvisor' | 'runc';
const HANDLERS: Handler[] = ['tsvisor-shim', 'tsvisor', 'runc'];

const cri: () => Cri = privateSetup('the private containerd with its CRI plugin', startCri, stopCri, { startMs: 300000 });

/** kubelet's choice for a pod without shareProcessNamespace: network and IPC of the pod, a pid namespace per container. */
const POD_NAMESPACES = { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } as const;
/** The port the pod's listener uses; nothing on the host may listen on it. */
const PORT = 18081;
/** A System V message queue key. */
const QUEUE = '0x7e5701';

function podConfig(h: string, logDir: string): PodSandboxConfig {
  return {
    metadata: { name: `pod-${h}`, uid: `uid-pod-${h}`, namespace: 'tsvisor-e2e', attempt: 0 },
    hostname: `pod-${h}-host`,
    log_directory: logDir,
    linux: { cgroup_parent: `/${CRI_CGROUP}`, security_context: { namespace_options: POD_NAMESPACES } },
  };
}

function containerConfig(name: string, command: string[]): ContainerConfig {
  return {
    metadata: { name, attempt: 0 },
    image: { image: CRI_IMAGE },
    command,
    log_path: `${name}.log`,
    linux: { security_context: { namespace_options: POD_NAMESPACES } },
  };
}

/** ExecSync: stdout, stderr and status as strings and a number. */
async function exec(id: string, cmd: string[]): Promise<{ stdout: string; stderr: string; status: number }> {
  const r = await cri().rt.ExecSync({ container_id: id, cmd, timeout: 60 });
  return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), status: r.exit_code };
}

/** The address of eth0 in a container (busybox ip; a terminal-queue ioctl it tries first may complain on stderr). */
async function eth0Address(id: string): Promise<string> {
  const r = await exec(id, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
  const m = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(r.stdout);
  return m ? m[1]! : `none (${r.status}: ${r.stdout}${r.stderr})`;
}

/** The pid containerd's verbose status reports for a container or the pod (what it took from the runtime's pid file). */
function infoPid(info: Record<string, string>): number {
  return (JSON.parse(info.info ?? '{}') as { pid?: number }).pid ?? 0;
}

/** A namespace's identity: the device and inode of its nsfs file (/proc/PID/ns/..., or one bind-mounted under /run/netns). */
function nsId(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${st.dev}:${st.ino}`;
  } catch (e) {
    return `unreadable: ${(e as Error).message}`;
  }
}

/** The lines of a container's CRI log file without their time stamps ("stdout F text"), sorted: stdout and stderr are copied apart. */
function logLines(file: string): string[] {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    /* not written yet */
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.slice(l.indexOf(' ') + 1))
    .sort();
}

/** `ctr events` in the background: the task events containerd passes on, as it decodes them. */
function watchEvents(): { stop(): Promise<string[]> } {
  const c = cri().containerd;
  const argv = ctrArgv(c, ['events']);
  const p = spawn(argv[0]!, argv.slice(1), { env: c.env, stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  p.stdout.setEncoding('utf8');
  p.stdout.on('data', (d: string) => (out += d));
  return {
    stop: () =>
      new Promise((resolve) => {
        p.on('close', () => resolve(out.split('\n').filter((l) => l.includes(' /tasks/'))));
        p.kill('SIGTERM');
      }),
  };
}

/** For each task (by id), the task topics of the events that name it, sorted. */
function taskTopics(lines: string[], ids: Record<string, string>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, id] of Object.entries(ids)) {
    out[name] = [...new Set(lines.filter((l) => l.includes(`"${id}"`)).map((l) => /\s(\/tasks\/[a-z-]+)\s/.exec(l)?.[1] ?? l))].sort();
  }
  return out;
}

/** The processes of a pod: the shims of its sandbox and containers and everything below them. */
function podProcesses(ids: string[]): ProcInfo[] {
  return processTrees((p) => p.cmdline.includes('containerd-shim') && ids.some((id) => p.cmdline.includes(` -id ${id} `)));
}

describe('a CRI pod (containerd, CNI bridge) with the runtime handlers tsvisor-shim and tsvisor', () => {
  it('two containers share the pod IP, hostname and IPC namespace; a listener answers on the pod IP and never on the host; as with runc', async () => {
    const seen: Record<string, unknown> = {};
    for (const h of HANDLERS) {
      const logDir = path.join(cri().containerd.tmp, 'logs', h);
      fs.mkdirSync(logDir, { recursive: true });
      const config = podConfig(h, logDir);
      const events = watchEvents();
      // ctr subscribes asynchronously: give it time before the first event.
      await new Promise((r) => setTimeout(r, 500));
      const { pod_sandbox_id: pod } = await cri().rt.RunPodSandbox({ config, runtime_handler: h });
      const podStatus = await cri().rt.PodSandboxStatus({ pod_sandbox_id: pod, verbose: true });
      expect(podStatus.status.runtime_handler, h).toBe(h);
      const podIp = podStatus.status.network?.ip ?? '';
      expect(podIp, `${h}: the pod IP is in the CNI subnet ${CNI_SUBNET}`).toMatch(/^10\.88\.77\.\d+$/);

      const ids: Record<'server' | 'client', string> = { server: '', client: '' };
      const commands = {
        server: ['sh', '-c', `echo serving on ${PORT}; echo to stderr >&2; mkdir -p /tmp/www && echo served-by-server > /tmp/www/index.html && exec httpd -f -p ${PORT} -h /tmp/www`],
        client: ['sleep', '1000'],
      };
      for (const name of ['server', 'client'] as const) {
        const { container_id } = await cri().rt.CreateContainer({ pod_sandbox_id: pod, config: containerConfig(name, commands[name]), sandbox_config: config });
        await cri().rt.StartContainer({ container_id });
        ids[name] = container_id;
      }
      for (const name of ['server', 'client'] as const) {
        const st = await cri().rt.ContainerStatus({ container_id: ids[name] });
        expect(st.status.state, `${h} ${name}: ${st.status.reason} ${st.status.message}`).toBe('CONTAINER_RUNNING');
      }

      // The pid each container reports stands in the pod's network namespace, not the host's.
      const podNetns = (JSON.parse(podStatus.info.info ?? '{}') as { runtimeSpec?: { linux?: { namespaces?: { type: string; path?: string }[] } } }).runtimeSpec?.linux?.namespaces?.find(
        (n) => n.type === 'network',
      )?.path;
      expect(podNetns, `${h}: the pod's network namespace`).toMatch(/^\/var\/run\/netns\/cni-/);
      const podNet = nsId(podNetns!);
      expect(podNet, h).not.toBe(nsId('/proc/self/ns/net'));
      for (const name of ['server', 'client'] as const) {
        const pid = infoPid((await cri().rt.ContainerStatus({ container_id: ids[name], verbose: true })).info);
        expect(pid, `${h} ${name}: the pid containerd has`).toBeGreaterThan(0);
        expect(nsId(`/proc/${pid}/ns/net`), `${h} ${name}: /proc/<pid>/ns/net`).toBe(podNet);
      }

      const hostnames = { server: (await exec(ids.server, ['hostname'])).stdout, client: (await exec(ids.client, ['hostname'])).stdout };
      const addresses = { server: await eth0Address(ids.server), client: await eth0Address(ids.client) };

      // IPC: a queue made in one container is seen in the other, not on the host.
      const put = await exec(ids.server, ['sysvq', 'put', QUEUE, `queued-in-${h}`]);
      expect(put, h).toEqual({ stdout: '', stderr: '', status: 0 });
      const onHost = spawnSync(path.join(cri().containerd.tmp, 'sysvq'), ['get', QUEUE], { encoding: 'utf8' });
      expect(onHost.status, `${h}: the host has no queue ${QUEUE}`).toBe(2);
      const got = await exec(ids.client, ['sysvq', 'get', QUEUE]);

      // The listener: on the pod IP from the host and from the other container's loopback; not on the host's.
      let fromHost: { body?: string; error?: string } = {};
      for (let i = 0; i < 100 && fromHost.body === undefined; i++) {
        fromHost = await httpGet(podIp, PORT);
        if (fromHost.body === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      const onHostLoopback = await httpGet('127.0.0.1', PORT);
      // The server's output, as the CRI plugin writes it to the log kubelet reads (crictl logs).
      let log: string[] = [];
      for (let i = 0; i < 100 && log.length < 2; i++) {
        log = logLines(path.join(logDir, 'server.log'));
        if (log.length < 2) await new Promise((r) => setTimeout(r, 50));
      }
      const fromClient = await exec(ids.client, ['wget', '-q', '-O', '-', `http://127.0.0.1:${PORT}/`]);

      const outcome = {
        hostnames,
        samePodIp: addresses.server === podIp && addresses.client === podIp ? 'both' : addresses,
        ipc: got,
        fromHost,
        onHostLoopback,
        fromClient: fromClient.stdout,
        log,
      };
      expect(outcome, h).toEqual({
        hostnames: { server: `pod-${h}-host\n`, client: `pod-${h}-host\n` },
        samePodIp: 'both',
        ipc: { stdout: `queued-in-${h}\n`, stderr: '', status: 0 },
        fromHost: { body: 'served-by-server\n' },
        onHostLoopback: { error: 'ECONNREFUSED' },
        fromClient: 'served-by-server\n',
        log: [`stderr F to stderr`, `stdout F serving on ${PORT}`],
      });
      seen[h] = JSON.parse(JSON.stringify(outcome).split(h).join('HANDLER'));

      const procs = podProcesses([pod, ids.server, ids.client]);
      // One shim serves the pod's three tasks (containerd groups them by the pod's id).
      const shims = procs.filter((p) => p.cmdline.includes('containerd-shim') && p.cmdline.includes(' -id ')).map((p) => path.basename(p.cmdline.split(' ')[0]!));
      expect(shims, `${h}: the pod's shims`).toEqual([h === 'tsvisor-shim' ? 'containerd-shim-tsvisor-v2' : 'containerd-shim-runc-v2']);
      for (const name of ['server', 'client'] as const) {
        await cri().rt.StopContainer({ container_id: ids[name], timeout: 2 });
        await cri().rt.RemoveContainer({ container_id: ids[name] });
      }
      await cri().rt.StopPodSandbox({ pod_sandbox_id: pod });
      await cri().rt.RemovePodSandbox({ pod_sandbox_id: pod });
      const left = await waitGone(procs, 15000);
      // The shim's events reach containerd's subscribers, decoded (ctr skips one it cannot decode), as runc's shim's do.
      const topics = taskTopics(await events.stop(), { pod, ...ids });
      const exitAndDelete = ['/tasks/create', '/tasks/delete', '/tasks/exit', '/tasks/start'];
      const withExec = ['/tasks/create', '/tasks/delete', '/tasks/exec-added', '/tasks/exec-started', '/tasks/exit', '/tasks/start'];
      expect(topics, `${h}: task events`).toEqual({ pod: exitAndDelete, server: withExec, client: withExec });
      expect(left.map((p) => `${p.pid} ${p.cmdline.slice(0, 160)}`), `${h}: processes of the pod left behind`).toEqual([]);
      expect(fs.existsSync(podNetns!), `${h}: the pod's network namespace is removed`).toBe(false);
    }
    expect(seen.tsvisor).toEqual(seen.runc);
    expect(seen['tsvisor-shim']).toEqual(seen.runc);
  }, 900000);
});

/** `ctr task metrics --format json`: the Metrics message the task's shim answered Stats with, as containerd decoded it. */
function taskMetrics(id: string): Metrics {
  const r = ctr(cri().containerd, ['task', 'metrics', '--format', 'json', id]);
  if (r.status !== 0) throw new Error(`ctr task metrics ${id}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Metrics;
}

interface Metrics {
  pids?: { current?: number; limit?: number };
  cpu?: { usage?: { total?: number; kernel?: number; user?: number; per_cpu?: number[] }; throttling?: Record<string, number> };
  memory?: Record<string, unknown> & { usage?: { limit?: number; usage?: number; max?: number } };
  blkio?: Record<string, unknown>;
  [k: string]: unknown;
}

/** The container's cgroup v1 directory for a controller (the spec's cgroupsPath, as both runtimes resolve it). */
async function cgroupDir(id: string, controller: string): Promise<string> {
  const info = (await cri().rt.ContainerStatus({ container_id: id, verbose: true })).info;
  const cgroupsPath = (JSON.parse(info.info ?? '{}') as { runtimeSpec?: { linux?: { cgroupsPath?: string } } }).runtimeSpec?.linux?.cgroupsPath ?? '';
  expect(cgroupsPath, `${id}: cgroupsPath`).toMatch(/^\//);
  return path.join('/sys/fs/cgroup', controller, cgroupsPath);
}

/** What CRI's stats give, as shapes: which fields are there, and whether the usage numbers are positive. */
function criStatsShape(s: ContainerStats): Record<string, unknown> {
  return {
    cpu: s.cpu ? { timestamp: s.cpu.timestamp > 0, usage: (s.cpu.usage_core_nano_seconds?.value ?? 0) > 0 } : null,
    memory: s.memory ? { timestamp: s.memory.timestamp > 0, workingSet: (s.memory.working_set_bytes?.value ?? 0) > 0 } : null,
    // The CRI plugin's snapshot collector fills it in its own time, whatever the runtime.
    writableLayer: s.writable_layer !== null,
  };
}

/** A Metrics message's shape: its fields (the nonzero ones: ctr's JSON leaves zeros out), and memory's and cpu's. */
function metricsShape(m: Metrics): Record<string, unknown> {
  return {
    fields: Object.keys(m).sort(),
    memory: Object.keys(m.memory ?? {})
      .filter((k) => ['usage', 'swap', 'kernel', 'kernel_tcp'].includes(k))
      .sort(),
    // (Its usage's kernel and user count clock ticks: a short run may have none.)
    cpu: Object.keys(m.cpu ?? {}).sort(),
  };
}

describe('stats, resource updates and runtime options through CRI: tsvisor-shim and tsvisor as runc', () => {
  const MiB = 1024 * 1024;
  const created = { cpu_period: 100000, cpu_quota: 50000, cpu_shares: 512, memory_limit_in_bytes: 768 * MiB };
  const updated = { cpu_period: 100000, cpu_quota: 20000, cpu_shares: 256, memory_limit_in_bytes: 640 * MiB, cpuset_cpus: '0' };
  /** The files runc's update writes for `updated`, and their values. */
  const files = {
    'cpu/cpu.cfs_period_us': '100000',
    'cpu/cpu.cfs_quota_us': '20000',
    'cpu/cpu.shares': '256',
    'memory/memory.limit_in_bytes': String(640 * MiB),
    'cpuset/cpuset.cpus': '0',
  };

  // The handler "tsvisor" (runc's shim, which reads the cgroups of the pid tsvisor reports and runs `tsvisor update`) as well.
  it('ctr task metrics, ContainerStats, ListContainerStats and UpdateContainerResources give what they give with runc', async () => {
    const seen: Record<string, unknown> = {};
    for (const h of ['runc', 'tsvisor-shim', 'tsvisor'] as const) {
      const logDir = path.join(cri().containerd.tmp, 'logs', `stats-${h}`);
      fs.mkdirSync(logDir, { recursive: true });
      const config = podConfig(`stats-${h}`, logDir);
      const { pod_sandbox_id: pod } = await cri().rt.RunPodSandbox({ config, runtime_handler: h });
      // Three processes: a shell that waits for two sleeps.
      const c = containerConfig('load', ['sh', '-c', 'sleep 1000 & sleep 1000 & wait']);
      c.linux = { ...c.linux, resources: created };
      const { container_id: id } = await cri().rt.CreateContainer({ pod_sandbox_id: pod, config: c, sandbox_config: config });
      await cri().rt.StartContainer({ container_id: id });
      let before = taskMetrics(id);
      for (let i = 0; i < 100 && before.pids?.current !== 3; i++) {
        await new Promise((r) => setTimeout(r, 100));
        before = taskMetrics(id);
      }
      const stats = (await cri().rt.ContainerStats({ container_id: id })).stats;
      const listed = (await cri().rt.ListContainerStats({ filter: { pod_sandbox_id: pod } })).stats;

      await cri().rt.UpdateContainerResources({ container_id: id, linux: updated });
      const after = taskMetrics(id);
      const written: Record<string, string> = {};
      for (const f of Object.keys(files)) {
        const [controller, file] = f.split('/') as [string, string];
        written[f] = fs.readFileSync(path.join(await cgroupDir(id, controller), file), 'utf8').trim();
      }
      console.log(
        `${h}: pids ${before.pids?.current}, memory usage ${before.memory?.usage?.usage} of ${before.memory?.usage?.limit}, cpu ${before.cpu?.usage?.total} ns, CRI working set ${stats.memory?.working_set_bytes?.value}`,
      );
      seen[h] = {
        pids: before.pids,
        limitBefore: before.memory?.usage?.limit,
        limitAfter: after.memory?.usage?.limit,
        usage: { memory: (before.memory?.usage?.usage ?? 0) > 0, cpu: (before.cpu?.usage?.total ?? 0) > 0 },
        shape: metricsShape(before),
        cri: criStatsShape(stats),
        listed: listed.map((s) => (s.attributes.id === id ? 'the container' : s.attributes.id)),
        written,
      };
      expect(seen[h], h).toEqual({
        pids: { current: 3 },
        limitBefore: 768 * MiB,
        limitAfter: 640 * MiB,
        usage: { memory: true, cpu: true },
        shape: expect.anything() as unknown,
        cri: { cpu: { timestamp: true, usage: true }, memory: { timestamp: true, workingSet: true }, writableLayer: true },
        listed: ['the container'],
        written: files,
      });
      await cri().rt.StopContainer({ container_id: id, timeout: 2 });
      await cri().rt.RemoveContainer({ container_id: id });
      await cri().rt.StopPodSandbox({ pod_sandbox_id: pod });
      await cri().rt.RemovePodSandbox({ pod_sandbox_id: pod });
    }
    expect(seen['tsvisor-shim']).toEqual(seen.runc);
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 300000);

  it('runtime options from the handler\'s ConfigPath: Root is where the pod\'s state goes; SystemdCgroup is refused with a clear error', async () => {
    const logDir = path.join(cri().containerd.tmp, 'logs', 'options');
    fs.mkdirSync(logDir, { recursive: true });
    const config = podConfig('tsvisor-shim-root', logDir);
    const { pod_sandbox_id: pod } = await cri().rt.RunPodSandbox({ config, runtime_handler: 'tsvisor-shim-root' });
    const root = path.join(cri().containerd.tmp, SHIM_ROOT, 'k8s.io');
    const state = spawnSync(TSVISOR, ['--root', root, 'state', pod], { encoding: 'utf8' });
    const where = {
      status: state.status === 0 ? (JSON.parse(state.stdout) as { status: string }).status : state.stderr,
      inDefaultRoot: fs.existsSync(path.join('/run/containerd/tsvisor-v2/k8s.io', pod)),
    };
    await cri().rt.StopPodSandbox({ pod_sandbox_id: pod });
    await cri().rt.RemovePodSandbox({ pod_sandbox_id: pod });
    expect({ ...where, left: fs.existsSync(path.join(root, pod)) }).toEqual({ status: 'running', inDefaultRoot: false, left: false });

    const refused = await cri()
      .rt.RunPodSandbox({ config: podConfig('tsvisor-shim-systemd', logDir), runtime_handler: 'tsvisor-shim-systemd' })
      .then(
        () => 'started',
        (e: Error) => e.message,
      );
    expect(refused).toContain('tsvisor: SystemdCgroup: tsvisor has no systemd cgroup manager (cgroupfs only)');

    // ctr sends a runtime other than runc's its --runtime-config-path (runtimeoptions.v1.Options).
    const ctrRoot = path.join(cri().containerd.tmp, 'runtime-root/ctr-tsvisor-shim');
    const ctrConfig = path.join(cri().containerd.tmp, 'ctr-tsvisor-shim.toml');
    fs.writeFileSync(ctrConfig, `Root = ${JSON.stringify(ctrRoot)}\n`);
    const run = ctr(cri().containerd, ['run', '-d', '--runtime', 'io.containerd.tsvisor.v2', '--runtime-config-path', ctrConfig, CRI_IMAGE, 'ctr-root', 'sleep', '1000']);
    const ctrState = spawnSync(TSVISOR, ['--root', path.join(ctrRoot, 'k8s.io'), 'state', 'ctr-root'], { encoding: 'utf8' });
    ctr(cri().containerd, ['task', 'kill', '-s', 'KILL', 'ctr-root']);
    for (let i = 0; i < 100 && ctr(cri().containerd, ['task', 'delete', 'ctr-root']).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    ctr(cri().containerd, ['container', 'delete', 'ctr-root']);
    expect({ run: run.status === 0 ? 'ok' : run.stderr, state: ctrState.status === 0 ? (JSON.parse(ctrState.stdout) as { status: string }).status : ctrState.stderr }).toEqual({
      run: 'ok',
      state: 'running',
    });
    expect(fs.existsSync(path.join(ctrRoot, 'k8s.io', 'ctr-root')), 'the state of the ctr container after its delete').toBe(false);
  }, 300000);
});
