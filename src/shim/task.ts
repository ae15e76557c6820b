// The shim's task service (containerd.task.v2.Task): the containers of one
// pod, each a sandbox process of its own (`tsvisor boot` under its anchor's
// keeper, native/anchor.c), which this process starts and then drives
// through the container's control socket (src/oci/control.ts): start, kill,
// exec and ps are requests to a Sentry that runs already, state and wait are
// answered from memory, delete, pause and resume run here. No tsvisor command
// (no Node start-up) runs per call: create starts the sandbox process, and
// mount(8) and umount(8) handle the rootfs. A process with a terminal has
// its pty master sent here (src/shim/console.ts).
//
// The anchor (the pid containerd is told, standing in the container's
// namespaces) is cloned with CLONE_PARENT by its keeper, this process's
// child, so it is this process's child too: its exit status, reaped here,
// is the container's.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { containerCgroups, parseResources } from '../oci/cgroups.js';
import { deleteContainer, updateContainer } from '../oci/container.js';
import { freezeContainer, thawContainer } from '../oci/freezer.js';
import { type ExecProcess, ControlUnreachable, converse, execProcessOf, request } from '../oci/control.js';
import { readAnswer } from '../oci/runtime.js';
import { SpecError, parseProcess } from '../oci/spec.js';
import { StateStore, validateId } from '../oci/state.js';
import { RuntimeError } from '../oci/runtime.js';
import { ANCHOR_PATH, CLI_ENTRY } from '../paths.js';
import { native } from '../platform/native.js';
import { type ConsoleSocket, Terminal, consoleSocket } from './console.js';
import type { Publisher } from './events.js';
import { type Any, type Timestamp, decode, encode, timestamp } from './proto.js';
import { type Mount, mountRootfs, unmountRootfs } from './rootfs.js';
import { type StdioPaths, closeAll, openInput, openOutput, openStdio } from './stdio.js';
import { OPTIONS_FILE, OptionsError, taskOptions } from './options.js';
import { Code, type Method, RpcError } from './ttrpc.js';

/** containerd.v1.types.Status */
const STATUS = { created: 1, running: 2, stopped: 3, paused: 4 } as const;
/** siginfo si_code of a child that exited (otherwise it was killed by si_status). */
const CLD_EXITED = 1;
/** The type of the Any Stats answers with on cgroup v1, as containerd's runc shim's. */
const METRICS_TYPE = 'io.containerd.cgroups.v1.Metrics';
/** The type of the Any Update gets: specs.LinuxResources as JSON (containerd's typeurl registration). */
const RESOURCES_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources';
/** How long delete waits for a container it killed. */
const KILL_WAIT_MS = 10000;

interface Exit {
  status: number;
  at: number;
}

/** A process of a task: its init or an exec. */
class Proc {
  pid = 0;
  state: keyof typeof STATUS = 'created';
  /** What Resume returns to (runc pauses created containers too). */
  pausedFrom: 'created' | 'running' = 'running';
  terminal: Terminal | undefined;
  exit: Exit | undefined;
  readonly exited: Promise<Exit>;
  private onExit!: (e: Exit) => void;

  constructor(
    readonly execId: string,
    readonly stdio: StdioPaths,
  ) {
    this.exited = new Promise((r) => (this.onExit = r));
  }

  finish(status: number): Exit {
    this.state = 'stopped';
    this.exit ??= { status, at: Date.now() };
    this.onExit(this.exit);
    return this.exit;
  }
}

class Exec extends Proc {
  constructor(
    execId: string,
    stdio: StdioPaths,
    readonly spec: ExecProcess,
  ) {
    super(execId, stdio);
  }
}

interface Container {
  id: string;
  bundle: string;
  /** tsvisor's state root of the container (the task's Root option, else the namespace's) */
  root: string;
  init: Proc;
  execs: Map<string, Exec>;
  controlSocket: string;
  rootfsMounted: boolean;
}

interface CreateTaskRequest extends StdioPaths {
  id: string;
  bundle: string;
  rootfs: Mount[];
  terminal: boolean;
  checkpoint: string;
  options: Any | null;
}

interface ExecRequest extends StdioPaths {
  id: string;
  exec_id: string;
  terminal: boolean;
  spec: Any | null;
}

/** protobufjs takes 64-bit numbers as strings, not bigints. */
function bigintsAsStrings(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(bigintsAsStrings);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, bigintsAsStrings(x)]));
  return v;
}

function exitedAt(e: Exit | undefined): Timestamp | undefined {
  return e ? timestamp(e.at) : undefined;
}

export class TaskService {
  private readonly containers = new Map<string, Container>();

  /** Where the console sockets of processes with a terminal are made. */
  private readonly consoles: string;

  constructor(
    /** tsvisor's state root for this namespace (--root of the sandbox processes) unless a task's options name another */
    private readonly root: string,
    /** containerd's namespace of the tasks */
    private readonly namespace: string,
    private readonly events: Publisher,
    private readonly log: Logger,
    /** called once Shutdown finds no container left */
    private readonly onShutdown: () => void,
  ) {
    this.consoles = path.join(path.dirname(root), 'consoles');
  }

  /** The methods of containerd.task.v2.Task, each decoding its request and encoding its response. */
  methods(): Record<string, Method> {
    const m = <Req, Res extends object>(reqType: string, resType: string, f: (r: Req) => Promise<Res> | Res): Method => {
      return async (payload) => encode(resType, await f(decode<Req>(reqType, payload)));
    };
    return {
      Create: m('CreateTaskRequest', 'CreateTaskResponse', (r: CreateTaskRequest) => this.create(r)),
      Start: m('StartRequest', 'StartResponse', (r: { id: string; exec_id: string }) => this.start(r.id, r.exec_id)),
      State: m('StateRequest', 'StateResponse', (r: { id: string; exec_id: string }) => this.state(r.id, r.exec_id)),
      Delete: m('DeleteRequest', 'DeleteResponse', (r: { id: string; exec_id: string }) => this.delete(r.id, r.exec_id)),
      Exec: m('ExecProcessRequest', 'Empty', (r: ExecRequest) => this.exec(r)),
      Kill: m('KillRequest', 'Empty', (r: { id: string; exec_id: string; signal: number; all: boolean }) => this.kill(r.id, r.exec_id, r.signal, r.all)),
      Wait: m('WaitRequest', 'WaitResponse', async (r: { id: string; exec_id: string }) => {
        const e = await this.proc(r.id, r.exec_id).exited;
        return { exit_status: e.status, exited_at: exitedAt(e) };
      }),
      Pids: m('PidsRequest', 'PidsResponse', (r: { id: string }) => this.pids(r.id)),
      Stats: m('StatsRequest', 'StatsResponse', (r: { id: string }) => this.stats(r.id)),
      Checkpoint: () => Promise.reject(new RpcError(Code.Unimplemented, 'tsvisor cannot checkpoint containers')),
      Update: m('UpdateTaskRequest', 'Empty', (r: { id: string; resources: Any | null }) => this.update(r.id, r.resources)),
      Pause: m('PauseRequest', 'Empty', (r: { id: string }) => this.pause(r.id)),
      Resume: m('ResumeRequest', 'Empty', (r: { id: string }) => this.resume(r.id)),
      CloseIO: m('CloseIORequest', 'Empty', (r: { id: string; exec_id: string; stdin: boolean }) => {
        // Without a terminal the process holds its stdin itself (given at create or exec): the shim keeps no copy.
        if (r.stdin) this.proc(r.id, r.exec_id).terminal?.closeInput();
        return {};
      }),
      ResizePty: m('ResizePtyRequest', 'Empty', (r: { id: string; exec_id: string; width: number; height: number }) => {
        const t = this.proc(r.id, r.exec_id).terminal;
        if (!t) throw new RpcError(Code.FailedPrecondition, 'the process has no terminal');
        t.resize(r.height, r.width);
        return {};
      }),
      Connect: m('ConnectRequest', 'ConnectResponse', (r: { id: string }) => ({ shim_pid: process.pid, task_pid: this.containers.get(r.id)?.init.pid ?? 0 })),
      Shutdown: m('ShutdownRequest', 'Empty', () => {
        // One shim serves the pod: it stays while any of its containers does.
        if (this.containers.size === 0) setImmediate(this.onShutdown);
        return {};
      }),
    };
  }

  private container(id: string): Container {
    const c = this.containers.get(id);
    if (!c) throw new RpcError(Code.NotFound, `container ${id} not found`);
    return c;
  }

  private proc(id: string, execId: string): Proc {
    const c = this.container(id);
    if (!execId) return c.init;
    const e = c.execs.get(execId);
    if (!e) throw new RpcError(Code.NotFound, `exec ${execId} not found in container ${id}`);
    return e;
  }

  private async create(r: CreateTaskRequest): Promise<{ pid: number }> {
    try {
      validateId(r.id);
    } catch (e) {
      throw new RpcError(Code.InvalidArgument, (e as Error).message);
    }
    if (this.containers.has(r.id)) throw new RpcError(Code.AlreadyExists, `container ${r.id} exists already`);
    if (r.checkpoint) throw new RpcError(Code.Unimplemented, 'tsvisor cannot restore checkpoints');
    let root = this.root;
    try {
      root = taskOptions(r.options, this.namespace).root ?? root;
    } catch (e) {
      if (!(e instanceof OptionsError)) throw e;
      throw new RpcError(Code.InvalidArgument, `tsvisor: ${e.message}`);
    }
    const bundle = path.resolve(r.bundle);
    // For `delete` after this server is gone (src/shim/main.ts), as runc's shim keeps its options.
    if (root !== this.root) fs.writeFileSync(path.join(bundle, OPTIONS_FILE), JSON.stringify({ root }));
    if (r.rootfs.length > 0) await mountRootfs(bundle, r.rootfs);
    let stdio: [number, number, number] | undefined;
    let console: ConsoleSocket | undefined;
    let terminal: Terminal | undefined;
    try {
      // With a terminal the process's stdio is the pty, whose master the sandbox sends to the console socket.
      stdio = await openStdio(r.terminal ? { stdin: '', stdout: '', stderr: '' } : r);
      if (r.terminal) console = await consoleSocket(this.consoles);
      // What runc's shim runs as `runc create`: the sandbox process under its anchor's keeper, in a session of its own.
      const boot = [CLI_ENTRY, '--root', root, '--log', path.join(bundle, 'log.json'), '--log-format', 'json', 'boot', '--ready-fd', '3', '--anchor-fd', '4', '--bundle', bundle];
      if (console) boot.push('--console-socket', console.path);
      boot.push(r.id);
      const keeper = spawn(ANCHOR_PATH, ['4', process.execPath, ...boot], { cwd: bundle, detached: true, stdio: [...stdio, 'pipe'] });
      keeper.on('error', (e) => this.log.error({ id: r.id, error: e.message }, 'the sandbox process could not be started'));
      const answer = await readAnswer(keeper);
      if (answer !== 'ok') throw new RpcError(Code.FailedPrecondition, answer.replace(/^error /, '') || 'the sandbox process ended before the container was created');
      if (console) terminal = await this.attach(console, r);
    } catch (e) {
      if (r.rootfs.length > 0) await unmountRootfs(bundle);
      throw e;
    } finally {
      if (stdio) closeAll(stdio);
      console?.close();
    }
    const state = new StateStore(root).load(r.id);
    const c: Container = { id: r.id, bundle, root, init: new Proc('', r), execs: new Map(), controlSocket: state.controlSocket, rootfsMounted: r.rootfs.length > 0 };
    c.init.pid = state.pid;
    c.init.terminal = terminal;
    this.containers.set(r.id, c);
    this.watchInit(c);
    this.events.publish('TaskCreate', {
      container_id: r.id,
      bundle,
      rootfs: r.rootfs,
      io: { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal },
      pid: c.init.pid,
    });
    return { pid: c.init.pid };
  }

  /** The terminal the sandbox sent to `console`, copied to and from containerd's fifos. */
  private async attach(console: ConsoleSocket, stdio: StdioPaths): Promise<Terminal> {
    const master = await console.master.catch((e: Error) => {
      throw new RpcError(Code.FailedPrecondition, e.message);
    });
    let output: number | undefined;
    try {
      output = stdio.stdout ? await openOutput(stdio.stdout) : fs.openSync('/dev/null', 'w');
      return new Terminal(master, output, stdio.stdin ? openInput(stdio.stdin) : undefined);
    } catch (e) {
      native.close(master);
      if (output !== undefined) fs.closeSync(output);
      throw e;
    }
  }

  /** Reaps the anchor when it exits: its status is the container's. */
  private watchInit(c: Container): void {
    const pidfd = native.pidfdOpen(c.init.pid, 0);
    if (pidfd < 0) {
      this.initExited(c, 137);
      return;
    }
    native.watchFd(pidfd, () => {
      const out = new Int32Array(2);
      const r = native.pidfdReap(pidfd, out);
      native.close(pidfd);
      this.initExited(c, r === 1 ? (out[0] === CLD_EXITED ? out[1]! : 128 + out[1]!) : 137);
    });
  }

  private initExited(c: Container, status: number): void {
    const exit = c.init.finish(status);
    this.events.publish('TaskExit', { container_id: c.id, id: c.id, pid: c.init.pid, exit_status: exit.status, exited_at: exitedAt(exit) });
  }

  private async start(id: string, execId: string): Promise<{ pid: number }> {
    const c = this.container(id);
    if (execId) return { pid: await this.startExec(c, execId) };
    if (c.init.state !== 'created') throw new RpcError(Code.FailedPrecondition, `container ${id} is ${c.init.state}`);
    const reply = await request(c.controlSocket, { op: 'start' }).catch((e: Error) => ({ ok: false as const, error: e.message }));
    if (!reply.ok) throw new RpcError(Code.FailedPrecondition, reply.error);
    if (c.init.state === 'created') c.init.state = 'running';
    this.events.publish('TaskStart', { container_id: id, pid: c.init.pid });
    return { pid: c.init.pid };
  }

  private exec(r: ExecRequest): object {
    const c = this.container(r.id);
    if (c.init.state === 'stopped') throw new RpcError(Code.FailedPrecondition, `container ${r.id} is stopped`);
    if (c.execs.has(r.exec_id)) throw new RpcError(Code.AlreadyExists, `exec ${r.exec_id} exists already`);
    let spec: ExecProcess;
    try {
      spec = { ...execProcessOf(parseProcess(JSON.parse(r.spec?.value.toString('utf8') ?? 'null'), 'exec process')), terminal: r.terminal };
    } catch (e) {
      throw new RpcError(Code.InvalidArgument, (e as Error).message);
    }
    c.execs.set(r.exec_id, new Exec(r.exec_id, r, spec));
    this.events.publish('TaskExecAdded', { container_id: r.id, exec_id: r.exec_id });
    return {};
  }

  /**
   * Asks the Sentry to run the exec with fds of this process as its stdio
   * (it copies them with pidfd_getfd); the conversation stays open until
   * the process ends, and its last reply is the exit status.
   */
  private async startExec(c: Container, execId: string): Promise<number> {
    const e = this.proc(c.id, execId) as Exec;
    if (e.state !== 'created') throw new RpcError(Code.FailedPrecondition, `exec ${execId} was started already`);
    e.state = 'running';
    const fds = await openStdio(e.spec.terminal ? { stdin: '', stdout: '', stderr: '' } : e.stdio);
    let console: ConsoleSocket | undefined;
    try {
      if (e.spec.terminal) console = await consoleSocket(this.consoles);
    } catch (err) {
      closeAll(fds);
      throw err;
    }
    let onStarted!: (pid: number) => void;
    const started = new Promise<number>((r) => (onStarted = r));
    const ended = converse(
      c.controlSocket,
      { op: 'exec', pid: process.pid, fds, process: e.spec, ...(console ? { consoleSocket: console.path } : {}) },
      (reply) => {
        if (reply.ok && reply.status === undefined && reply.pid !== undefined) {
          onStarted(reply.pid);
          return false;
        }
        return true;
      },
      0,
    );
    let pid: number;
    try {
      pid = await Promise.race([
        started,
        ended.then(
          (r) => Promise.reject(new RpcError(Code.FailedPrecondition, r.ok ? 'the exec ended before it started' : r.error)),
          (err: Error) => Promise.reject(new RpcError(Code.FailedPrecondition, err.message)),
        ),
      ]);
      if (console) e.terminal = await this.attach(console, e.stdio);
    } catch (err) {
      e.finish(255);
      throw err;
    } finally {
      closeAll(fds);
      console?.close();
    }
    e.pid = pid;
    this.events.publish('TaskExecStarted', { container_id: c.id, exec_id: execId, pid });
    void ended
      .then(
        (r) => (r.ok && r.status !== undefined ? r.status : 255),
        // The sandbox went away with the container, and its processes with it.
        (err: Error) => (err instanceof ControlUnreachable ? 137 : 255),
      )
      .then((status) => {
        const exit = e.finish(status);
        this.events.publish('TaskExit', { container_id: c.id, id: execId, pid, exit_status: exit.status, exited_at: exitedAt(exit) });
      });
    return pid;
  }

  private state(id: string, execId: string): object {
    const c = this.container(id);
    const p = this.proc(id, execId);
    return {
      id: execId || id,
      exec_id: execId,
      bundle: c.bundle,
      pid: p.pid,
      status: STATUS[p.state],
      stdin: p.stdio.stdin,
      stdout: p.stdio.stdout,
      stderr: p.stdio.stderr,
      terminal: p.terminal !== undefined,
      exit_status: p.exit?.status ?? 0,
      exited_at: exitedAt(p.exit),
    };
  }

  private async kill(id: string, execId: string, signal: number, all: boolean): Promise<object> {
    const c = this.container(id);
    const p = this.proc(id, execId);
    if (p.state === 'stopped') throw new RpcError(Code.NotFound, 'process already finished');
    if (execId) {
      if (p.state === 'created') throw new RpcError(Code.FailedPrecondition, `exec ${execId} was not started`);
      try {
        process.kill(p.pid, signal);
      } catch {
        // Ended meanwhile (its exit is on its way from the Sentry).
        throw new RpcError(Code.NotFound, 'process already finished');
      }
      return {};
    }
    // A frozen process cannot act on SIGKILL until thawed (tsvisor kill does the same).
    if (signal === 9 && c.init.state === 'paused') this.resume(id);
    const reply = await request(c.controlSocket, { op: 'kill', signal, all }).catch((e: Error) => ({ ok: false as const, error: e.message }));
    if (!reply.ok) {
      if (c.init.state === 'stopped') throw new RpcError(Code.NotFound, 'process already finished');
      // The Sentry does not answer: the anchor passes the signal on to it (native/anchor.c).
      process.kill(c.init.pid, signal);
    }
    return {};
  }

  /** Freezes the container's guest processes (its freezer cgroup); the Sentry keeps serving. */
  private async pause(id: string): Promise<object> {
    const c = this.container(id);
    if (c.init.state !== 'running' && c.init.state !== 'created') throw new RpcError(Code.FailedPrecondition, `container ${id} is ${c.init.state}`);
    try {
      await freezeContainer(new StateStore(c.root), id);
    } catch (e) {
      throw new RpcError(e instanceof RuntimeError ? Code.FailedPrecondition : Code.Internal, (e as Error).message);
    }
    if (!c.init.exit) {
      c.init.pausedFrom = c.init.state as 'created' | 'running';
      c.init.state = 'paused';
    }
    this.events.publish('TaskPaused', { container_id: id });
    return {};
  }

  private resume(id: string): object {
    const c = this.container(id);
    if (c.init.state !== 'paused') throw new RpcError(Code.FailedPrecondition, `container ${id} is not paused`);
    thawContainer(new StateStore(c.root), id);
    c.init.state = c.init.pausedFrom;
    this.events.publish('TaskResumed', { container_id: id });
    return {};
  }

  private async pids(id: string): Promise<object> {
    const c = this.container(id);
    const reply = await request(c.controlSocket, { op: 'ps' }).catch((e: Error) => ({ ok: false as const, error: e.message }));
    if (!reply.ok) {
      if (c.init.state === 'stopped') return { processes: [] };
      throw new RpcError(Code.FailedPrecondition, reply.error);
    }
    return { processes: (reply.pids ?? []).map((pid) => ({ pid })) };
  }

  /** The container's cgroup metrics, as containerd's runc shim answers Stats on cgroup v1. */
  private stats(id: string): object {
    const c = this.container(id);
    let metrics: Record<string, unknown>;
    try {
      metrics = containerCgroups(new StateStore(c.root).load(id)).metrics();
    } catch (e) {
      if (!(e instanceof RuntimeError)) throw e;
      throw new RpcError(Code.FailedPrecondition, e.message);
    }
    return { stats: { type_url: METRICS_TYPE, value: Buffer.from(encode('Metrics', bigintsAsStrings(metrics) as object)) } };
  }

  /** New limits for the container's cgroups, as runc's shim applies them with `runc update`. */
  private update(id: string, resources: Any | null): object {
    const c = this.container(id);
    if (!resources || resources.type_url !== RESOURCES_TYPE) throw new RpcError(Code.InvalidArgument, `resources of type ${JSON.stringify(resources?.type_url ?? '')}: ${RESOURCES_TYPE} expected`);
    try {
      const parsed = parseResources(JSON.parse(resources.value.toString('utf8')), 'resources', true);
      const warnings = [...parsed.ignored.map((what) => `${what} is not applied by tsvisor`), ...updateContainer(c.root, id, parsed.limits)];
      for (const w of warnings) this.log.warn({ id }, w);
    } catch (e) {
      if (e instanceof SyntaxError || e instanceof SpecError) throw new RpcError(Code.InvalidArgument, e.message);
      if (e instanceof RuntimeError) throw new RpcError(Code.FailedPrecondition, e.message);
      throw e;
    }
    return {};
  }

  private async delete(id: string, execId: string): Promise<object> {
    const c = this.container(id);
    if (execId) {
      const e = this.proc(id, execId);
      if (e.state === 'running') throw new RpcError(Code.FailedPrecondition, `exec ${execId} is running`);
      c.execs.delete(execId);
      return { pid: e.pid, exit_status: e.exit?.status ?? 0, exited_at: exitedAt(e.exit) };
    }
    if (c.init.state !== 'stopped') {
      // containerd kills a task before deleting it; a created one that never started ends here.
      await request(c.controlSocket, { op: 'kill', signal: 9, all: true }).catch(() => process.kill(c.init.pid, 'SIGKILL'));
      const timer = new Promise((r) => setTimeout(r, KILL_WAIT_MS));
      await Promise.race([c.init.exited, timer]);
      if (!c.init.exit) throw new RpcError(Code.FailedPrecondition, `container ${id} did not end`);
    }
    try {
      for (const w of await deleteContainer(c.root, id, true)) this.log.warn({ id }, w);
    } catch (e) {
      throw new RpcError(Code.Internal, (e as Error).message);
    }
    if (c.rootfsMounted) await unmountRootfs(c.bundle);
    // Nothing is left for a `delete` to clean up: the wrapper answers it without Node.
    fs.rmSync(path.join(c.bundle, OPTIONS_FILE), { force: true });
    this.containers.delete(id);
    const exit = c.init.exit!;
    this.events.publish('TaskDelete', { container_id: id, id, pid: c.init.pid, exit_status: exit.status, exited_at: exitedAt(exit) });
    return { pid: c.init.pid, exit_status: exit.status, exited_at: exitedAt(exit) };
  }
}
