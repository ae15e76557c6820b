// The sandbox process of an OCI container: the Sentry with its Gofer, the
// container set up with its first process held before exec, the control
// socket serving start, kill, ps and exec, and the container's state kept up
// to date until its init exits. `tsvisor boot` runs it for `create` (as a
// process of its own that outlives the command, the child of its anchor's
// keeper); `tsvisor run` runs it in its own process.
import fs from 'node:fs';
import os from 'node:os';
import { MFD_CLOEXEC, O_RDONLY } from '../abi/linux.js';
import type { FlagValues } from '../cli/flags.js';
import type { StartedGofer } from '../gofer/client.js';
import { native } from '../platform/native.js';
import { signalName } from '../sentry/errors.js';
import type { Kernel } from '../sentry/kernel.js';
import { type CgroupViewSpec, type SandboxSpec, goferDevices, goferExports, sameNamespace } from '../sentry/spec.js';
import { enterSandboxCgroups } from './cgroups.js';
import { makeAnchor } from './anchor.js';
import { containerCoverage } from './coverage.js';
import { type ControlReply, type ExecProcess, serveControl } from './control.js';
import { RuntimeError, stateRoot, waitUntil } from './runtime.js';
import { type ContainerConfig, type Hook, type NamespaceType, toSandboxSpec } from './spec.js';
import { StateStore, ociState, processStartTime, status } from './state.js';
import { allocateTerminal } from './terminal.js';

export interface Sandbox {
  kernel: Kernel;
  /**
   * The container's pid as its clients see it (state, --pid-file, hooks):
   * the anchor for `create`, which stands in the container's namespaces and
   * ends with it; the init's host pid for `run`, whose pid no client waits for.
   */
  pid: number;
  /** Runs the startContainer hooks and lets the container's process exec (what `start` asks for). */
  start(): Promise<void>;
  /** Resolves with the container's exit status once its init has exited and the state says so. */
  exited: Promise<number>;
  /**
   * Ends the container (if it still runs) and the Gofer, and moves this
   * process out of the container's cgroups, so that they can be removed
   * while it lives on (`run` deletes its container; a failed create undoes itself).
   */
  release(): Promise<void>;
}

/**
 * Sets the container up: returns once its process waits for start() and the
 * control socket listens. On failure nothing of it is left running (the
 * state directory is the caller's to remove).
 */
export async function startSandbox(
  globals: FlagValues,
  id: string,
  config: ContainerConfig,
  o: { consoleSocket?: string; gofer: StartedGofer; anchorFd?: number; signals: StartupSignals },
): Promise<Sandbox> {
  const store = new StateStore(stateRoot(globals));
  let kernel: Kernel | undefined;
  // Left on failure: this process is in them, and they cannot be removed while it is.
  let entered: ReturnType<typeof enterSandboxCgroups> | undefined;
  try {
    // No network namespace in the spec means the host's, as with runc;
    // --network=host (a runsc flag) forces it.
    const ownNetwork = config.namespaces.some((n) => n.type === 'network') && globals.network !== 'host';
    refuseHostNamespacePaths(config, ownNetwork && globals.network !== 'none');
    const netSysctls = Object.keys(config.sysctl).filter((k) => k.startsWith('net.'));
    const specNetns = config.namespaces.find((n) => n.type === 'network');
    if (netSysctls.length && (!specNetns || (specNetns.path && sameNamespace(specNetns.path, '/proc/self/ns/net')))) {
      throw new RuntimeError(`linux.sysctl: sysctl "${netSysctls[0]}" not allowed in the host network namespace`);
    }
    // Before the cgroups are entered: a bad directory costs nothing to undo.
    const coverage = await containerCoverage(globals, id, config.process.args);
    const spec = toSandboxSpec(config, {
      overlay: Boolean(globals.overlay),
      network: ownNetwork ? 'none' : 'host',
      stdio: [0, 1, 2],
      strace: Boolean(globals.strace) && !coverage?.traces,
      ...(globals['strace-syscalls'] === undefined ? {} : { straceSyscalls: globals['strace-syscalls'] as string }),
    });
    // --network=none: a namespace of the sandbox's own with loopback only, whatever the spec names.
    if (ownNetwork && globals.network !== 'none') spec.netnsPath = config.netnsPath;
    joinNamespacePaths(config, spec);
    spec.oomScoreAdj = config.process.oomScoreAdj;
    // The Gofer (started already) and the anchor's keeper (this process's
    // parent, whose clone the anchor will be) join them with this process;
    // the guests, not started yet, inherit the cgroups.
    const helpers = o.anchorFd === undefined ? [o.gofer.pid] : [o.gofer.pid, process.ppid];
    const sandboxCgroups = (entered = enterSandboxCgroups(store.load(id).cgroups, config.resources, config.devices.map((d) => d.path), config.process.oomScoreAdj, helpers));
    if (sandboxCgroups.guestOomScoreAdj !== undefined) spec.oomScoreAdj = sandboxCgroups.guestOomScoreAdj;
    if (sandboxCgroups.cgroups?.usable) showOwnCgroups(spec, sandboxCgroups.cgroups.v1Views());
    const gofer = o.gofer.serve(goferExports(spec), goferDevices(spec));
    if (config.process.terminal) {
      if (!o.consoleSocket) throw new RuntimeError('process.terminal is set: --console-socket is needed');
      const slave = allocateTerminal(gofer.client, o.consoleSocket, config.process.consoleSize);
      spec.stdio = [slave.fd, slave.fd, slave.fd];
      spec.ctty = true;
      spec.console = slave.pts;
    }
    const [{ Kernel, SandboxError }, { createLogger }, { compileOciSeccomp }] = await Promise.all([
      import('../sentry/kernel.js'),
      import('../log.js'),
      import('../bpf/oci-seccomp.js'),
    ]);
    // Compiled here, not in toSandboxSpec: the syscall table it needs loads with the Sentry.
    if (config.seccomp) spec.seccompProfile = compileOciSeccomp(config.seccomp);
    const debugLog = globals['debug-log'] as string | undefined;
    const log = createLogger({
      file: (globals.log as string | undefined) ?? debugLog ?? '/dev/null',
      format: (globals['log-format'] as 'text' | 'json' | undefined) ?? 'text',
      debug: Boolean(globals.debug) || debugLog !== undefined,
      strace: spec.strace || Boolean(coverage?.traces),
    });
    for (const w of sandboxCgroups.warnings) log.warn(w);
    for (const n of config.namespaces) {
      if (n.path && !JOINED_BY_PATH.has(n.type)) log.warn({ namespace: n.type, path: n.path }, `joining a ${n.type} namespace by path is not supported: the container has one of its own`);
    }
    spec.events = coverage?.events;
    spec.onGuestProcess = (pid) => {
      for (const w of sandboxCgroups.addGuest(pid)) log.warn({ pid }, w);
      coverage?.onGuestProcess(pid, log);
    };
    if (!ownNetwork && netSysctls.length) {
      // --network=host overrides the spec's network: its net.* sysctls would change the host's.
      log.warn({ sysctls: netSysctls }, 'network sysctls ignored: --network=host shares the host network namespace');
      for (const k of netSysctls) delete spec.sysctl![k];
    }
    // Now, not before the modules load: the launcher's addGuest then falls in the same burst of moves (SandboxCgroups.join).
    for (const w of sandboxCgroups.join()) log.warn(w);
    kernel = new Kernel(spec, log);
    o.signals.attach(kernel);
    try {
      await kernel.start(gofer, { deferExec: true });
    } catch (e) {
      if (e instanceof SandboxError) throw new RuntimeError(e.message);
      throw e;
    }
    const k = kernel;
    let pid = k.initPid;
    if (o.anchorFd !== undefined) {
      const anchor = makeAnchor(o.anchorFd, k.initPid);
      pid = anchor.pid;
      for (const w of sandboxCgroups.joinAnchor(pid)) log.warn({ pid }, w);
      const { make, mount } = anchor.procErrno;
      if (make) log.warn({ errno: make }, "no procfs of the container's pid namespace under its pid's /proc (podman top lists no process): making one needs Linux 6.15's pidns option");
      else if (mount) log.warn({ errno: mount }, "no procfs of the container's pid namespace under its pid's /proc (podman top lists no process): the root has no /proc directory");
    }
    const controlSocket = `${store.dir(id)}/control.sock`;
    update(store, id, (state) => {
      state.status = 'created';
      state.sentryPid = process.pid;
      state.sentryStartTime = processStartTime(process.pid) ?? 0;
      state.pid = pid;
      state.initPid = k.initPid;
      state.controlSocket = controlSocket;
      state.cgroups = sandboxCgroups.cgroups?.paths;
    });
    // One start only, whoever asks: a start request that comes after
    // another (from `start` racing `start`, or the Node command retrying
    // what bin/tsvisor's direct request did not settle) gets the first one's
    // error, or is refused, and never runs the hooks twice.
    let started: Promise<void> | undefined;
    const start = (): Promise<void> =>
      (started ??= (async () => {
        await runHooksIn(k, 'container', 'startContainer', config.hooks.startContainer, ociState(store.load(id)));
        for (const w of sandboxCgroups.anchorStarted()) log.warn(w);
        k.go();
        update(store, id, (state) => (state.status = 'running'));
      })());
    await serveControl(controlSocket, (req, send) => {
      switch (req.op) {
        case 'start': {
          if (started) return started.then((): ControlReply => ({ ok: false, error: 'the container was started already' }));
          // bin/tsvisor asks without checking the state first, and a paused
          // container's Sentry still answers (only the guests are frozen).
          const st = status(store.load(id));
          if (st !== 'created') return { ok: false, error: `cannot start a container that is ${st}` };
          return start().then((): ControlReply => ({ ok: true }));
        }
        case 'kill': {
          const st = req.direct ? status(store.load(id)) : undefined;
          if (st && st !== 'created' && st !== 'running') return { ok: false, error: `cannot signal a container that is ${st} here` };
          if (req.all) k.signalAll(req.signal);
          else k.signal(req.signal);
          return { ok: true };
        }
        case 'ps':
          return { ok: true, pids: k.hostPids() };
        case 'exec':
          return execIn(k, req, send);
      }
      return { ok: false, error: 'unknown request' };
    });
    const exited = k.done.then((exit) => {
      // Before the state says stopped (and so before `run` or the anchor
      // ends): whoever waits for the container finds its report.
      if (coverage) {
        try {
          log.info({ file: coverage.write(exit.status) }, 'coverage report written');
        } catch (e) {
          log.error((e as Error).message);
        }
      }
      try {
        update(store, id, (state) => {
          state.status = 'stopped';
          state.exitStatus = exit.status;
          // Under the lock with the state, so no pause can come between.
          if (!state.paused && state.poststop?.length === 0) store.allowDirectDelete(id, sandboxCgroups.cgroups?.removableDirs() ?? []);
        });
      } catch {
        /* deleted meanwhile (delete --force) */
      }
      return exit.status;
    });
    const release = async (): Promise<void> => {
      k.kill();
      await Promise.race([k.done, new Promise((r) => setTimeout(r, 5000))]);
      const pid = k.goferPid;
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* it left on its own: the Sentry closed its socket */
        }
        await waitUntil(() => !runs(pid), 5000);
      }
      for (const w of sandboxCgroups.leave()) log.warn(w);
    };
    return { kernel: k, pid, start, exited, release };
  } catch (e) {
    kernel?.kill();
    o.gofer.kill();
    entered?.leave();
    // The anchor's keeper too: it waits for this process, and while it is
    // in the cgroups they cannot be removed (4 × 5 s of retries, then left behind).
    if (o.anchorFd !== undefined) entered?.leave(process.ppid);
    throw e;
  }
}

/**
 * A cgroup mount in the spec shows the container's own v1 cgroups, read-only
 * (the Sentry's CgroupView), as runc's bind mounts of them under a tmpfs;
 * /proc/PID/cgroup names each hierarchy's root, as in a cgroup namespace of
 * the container's, so that a program finds its limits below the mount
 * (docs/design.md, "Cgroups").
 */
function showOwnCgroups(spec: SandboxSpec, views: CgroupViewSpec[]): void {
  if (!views.length) return;
  for (const m of spec.mounts) if (m.type === 'cgroup') m.cgroupViews = views;
  spec.cgroupLines = fs
    .readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^(\d+:[^:]*:).*$/, '$1/'))
    .join('\n') + '\n';
}

/** The namespaces tsvisor joins when the spec gives a path; it makes its own of the others. */
const JOINED_BY_PATH = new Set<NamespaceType>(['network', 'ipc', 'uts']);

/** /proc/PID/ns/ file names. */
const NS_FILES: Record<NamespaceType, string> = { network: 'net', mount: 'mnt', pid: 'pid', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup', time: 'time' };

/**
 * A process's namespace (/proc/PID/ns/TYPE) that turns out to be the
 * host's own is refused. Clients name a container's namespace that way
 * (`--network container:ID`, a pod's containers joining its pause
 * container) and mean that container's, never the host's: if it is the
 * host's, the pid they took for the container's is a runtime's process that
 * stayed on the host, and joining it would put this container on the host
 * unseen. A spec asks for the host's by leaving the type out, or by naming
 * a namespace file bound elsewhere (Docker's --network host names its
 * "default" sandbox, the host's network namespace bound under its exec
 * root). `networkByPath`: false when the runtime's --network flag overrides
 * the spec's network.
 */
function refuseHostNamespacePaths(config: ContainerConfig, networkByPath: boolean): void {
  for (const n of config.namespaces) {
    if (!n.path || (n.type === 'network' && !networkByPath) || !PROCESS_NS_PATH.test(n.path)) continue;
    if (sameNamespace(n.path, `/proc/self/ns/${NS_FILES[n.type]}`)) {
      throw new RuntimeError(
        `linux.namespaces: ${n.path} is the host's own ${n.type} namespace, not a container's: the process it names is not in a container. ` +
          `A container shares the host's ${n.type} namespace when linux.namespaces leaves "${n.type}" out`,
      );
    }
  }
}

/** A process's (or thread's) namespace file. */
const PROCESS_NS_PATH = /^\/proc\/\d+\/(task\/\d+\/)?ns\/[a-z_]+$/;

/**
 * The IPC and UTS namespaces named by path (a pod's): the launcher joins
 * them. The Sentry answers uname itself, so it takes the host and domain
 * names from the joined namespace unless the spec sets them (then the
 * launcher sets them there, as runc does).
 */
function joinNamespacePaths(config: ContainerConfig, spec: SandboxSpec): void {
  const pathOf = (t: NamespaceType) => config.namespaces.find((n) => n.type === t)?.path;
  const ipc = pathOf('ipc');
  if (ipc) spec.ipcnsPath = ipc;
  const uts = pathOf('uts');
  if (!uts) return;
  spec.utsnsPath = uts;
  let fd: number;
  try {
    fd = fs.openSync(uts, 'r');
  } catch (e) {
    throw new RuntimeError(`UTS namespace ${uts}: ${(e as Error).message}`);
  }
  try {
    const names = native.utsNames(fd);
    if (typeof names === 'number') throw new RuntimeError(`UTS namespace ${uts}: cannot read its names (errno ${-names})`);
    // What the launcher writes back is what it read: the same names.
    if (!config.hostname && config.sysctl['kernel.hostname'] === undefined) spec.hostname = names[0];
    if (!spec.domainname && names[1] !== '(none)') spec.domainname = names[1];
  } finally {
    fs.closeSync(fd);
  }
}

/** Signals the sandbox process passes on to the container's init, as runc does for its init (runc run forwards what it can catch). */
const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'];

export function forwardSignals(k: Kernel): void {
  for (const sig of FORWARDED) process.on(sig, () => k.signal(os.constants.signals[sig]));
}

const TERMINATING: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'];

/**
 * The terminating signals that reach the sandbox process while it sets the
 * container up. Without listeners Node would die of them and leave the
 * state directory, the cgroups and the launcher behind; instead the first
 * one aborts the Kernel's start (or keeps it from starting) and the caller,
 * seeing `received`, undoes what was done. stop() and forwardSignals() are
 * called in the same tick, so no signal falls between the two.
 */
export class StartupSignals {
  received: number | undefined;
  private kernel: Kernel | undefined;
  private readonly listeners = TERMINATING.map((name) => {
    const listener = () => this.take(os.constants.signals[name]);
    process.on(name, listener);
    return { name, listener };
  });

  private take(sig: number): void {
    this.received ??= sig;
    this.kernel?.terminate(sig, 0);
  }

  /** From now on a signal aborts `k`'s start; one that came already stops the start before it begins. */
  attach(k: Kernel): void {
    if (this.received !== undefined) throw new RuntimeError(this.message);
    this.kernel = k;
  }

  /** What to tell the user once start-up was given up for a signal. */
  get message(): string {
    return `stopped by ${signalName(this.received ?? 0)} while the container was starting`;
  }

  stop(): void {
    for (const { name, listener } of this.listeners) process.removeListener(name, listener);
  }
}

/** Whether process `pid` is alive (not gone, not a zombie). */
function runs(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Changes the container's state under its lock. */
function update(store: StateStore, id: string, change: (state: ReturnType<StateStore['load']>) => void): void {
  const lock = store.lock(id);
  try {
    const state = store.load(id);
    change(state);
    store.save(state);
  } finally {
    lock.release();
  }
}

/**
 * exec: the new process gets the stdio of the `tsvisor exec` process that
 * asked, or the fds the containerd shim names in itself (copied with
 * pidfd_getfd: the fifos, pipes or files their client gave them). Replies
 * when it started, and resolves when it ended.
 */
async function execIn(k: Kernel, req: { pid: number; fds?: number[]; process: ExecProcess; consoleSocket?: string }, send: (r: ControlReply) => void): Promise<ControlReply> {
  const p = req.process;
  let stdio: number[];
  if (p.terminal) {
    if (!req.consoleSocket) throw new RuntimeError('a terminal needs --console-socket');
    const { fd } = allocateTerminal(k.gofer, req.consoleSocket, p.consoleSize);
    stdio = [fd, native.dup(fd), native.dup(fd)];
  } else {
    const pidfd = native.pidfdOpen(req.pid, 0);
    if (pidfd < 0) throw new RuntimeError(`the exec command (pid ${req.pid}) went away`);
    stdio = (req.fds ?? [0, 1, 2]).slice(0, 3).map((n) => native.pidfdGetfd(pidfd, n));
    native.close(pidfd);
  }
  let started;
  try {
    if (stdio.length !== 3 || stdio.some((fd) => fd < 0)) throw new RuntimeError('the exec command has no stdin, stdout or stderr');
    started = await k.execProcess({
      args: p.args,
      env: p.env,
      cwd: p.cwd,
      uid: p.uid,
      gid: p.gid,
      groups: p.additionalGids,
      umask: p.umask ?? 0o022,
      caps: p.capabilities,
      noNewPrivs: p.noNewPrivileges,
      stdio: stdio as [number, number, number],
      ctty: p.terminal,
      seccompProfile: k.spec.seccompProfile,
    });
  } finally {
    for (const fd of stdio) if (fd >= 0) native.close(fd);
  }
  send({ ok: true, pid: started.pid });
  const exit = await started.done;
  return { ok: true, status: exit.status };
}

/**
 * Runs OCI hooks in order, the state on stdin; the first failure stops the
 * sequence. startContainer hooks run in the container, where runc runs them
 * (its namespaces, after the pivot, so the path is the container's): as
 * sandbox processes, root with the container's capabilities. The others run
 * on the host as children of the Sentry (runc 1.1 runs createContainer hooks
 * before its pivot, where paths are the host's). Not through child_process:
 * the Sentry's waiter reaps every child of this process.
 */
export async function runHooksIn(k: Kernel, where: 'container' | 'host', kind: string, hooks: readonly Hook[], state: object): Promise<void> {
  for (const h of hooks) {
    const input = native.memfdCreate(`${kind}-hook-state`, MFD_CLOEXEC);
    const output = native.memfdCreate(`${kind}-hook-output`, MFD_CLOEXEC);
    if (input < 0 || output < 0) throw new RuntimeError(`${kind} hook ${h.path}: cannot make its stdio`);
    let stdin = -1;
    try {
      fs.writeSync(input, JSON.stringify(state));
      stdin = native.reopen(input, O_RDONLY);
      if (stdin < 0) throw new RuntimeError(`${kind} hook ${h.path}: cannot make its stdin`);
      const started =
        where === 'host'
          ? k.spawnHost(h.path, h.args ?? [h.path], h.env ?? [], [stdin, output, output])
          : await k.execProcess({
              // The launcher execs argv[0]: the hook's own argv[0] gives way to its path.
              args: [h.path, ...(h.args ?? [h.path]).slice(1)],
              env: h.env ?? [],
              cwd: '/',
              uid: 0,
              gid: 0,
              groups: [],
              umask: 0o022,
              caps: k.spec.caps,
              noNewPrivs: k.spec.noNewPrivs,
              stdio: [stdin, output, output],
            });
      const timer = h.timeout ? setTimeout(() => process.kill(started.pid, 'SIGKILL'), h.timeout * 1000) : undefined;
      const exit = await started.done;
      clearTimeout(timer);
      if (exit.status !== 0) {
        const text = fs.readFileSync(`/proc/self/fd/${output}`, 'utf8').trim();
        const why = exit.signal ? `killed by signal ${exit.signal}` : `exit status ${exit.status}`;
        throw new RuntimeError(`${kind} hook ${h.path} failed: ${why}${text ? `: ${text}` : ''}`);
      }
    } catch (e) {
      if (e instanceof RuntimeError) throw e;
      throw new RuntimeError(`${kind} hook ${h.path}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      for (const fd of [input, output, stdin]) if (fd >= 0) native.close(fd);
    }
  }
}
